// Shared fixtures for the model's unit tests: a small valid config, a way to derive variants from it, the stack
// files, and the one runner every concept's table of invalid configs goes through.
import * as assert from "node:assert/strict";
import * as path from "node:path";
import { describe, test } from "node:test";
import { type ConfigError, parseConfig, type Plan, planStack, type StackConfig, type StackConfigInput, validateConfig } from "../../model";
import { readStackFile } from "../../model/config";

export const ROOT = path.resolve(__dirname, "../..");

/** Every key present and writable, so a mutation reads like the YAML it stands for. */
export type Draft = DeepRequired<StackConfigInput>;
type DeepRequired<T> = T extends readonly (infer U)[]
    ? DeepRequired<U>[]
    : T extends object
      ? { -readonly [K in keyof T]-?: DeepRequired<T[K]> }
      : T;

/**
 * A valid config, written the way a user would (defaults left out where they do not matter):
 * three managers and a worker in `intra`, two gateway workers in `dmz`, one VIP, two apps.
 *   nodes[0..2] manager-1..3 (intra)   nodes[3] gw-1 (dmz)   nodes[4] gw-2 (dmz)   nodes[5] worker-1 (intra)
 *   apps[0] shop (dmz): releases[0] 1.9 → stary.sklep.example; releases[1] 2.0 → nowy.sklep.example, sklep.example
 *   apps[1] stock (intra): releases[0] 1.0 → stock.example
 */
export const BASE: StackConfigInput = {
    driver: "docker",
    drivers: { docker: { network: { name: "swarm-lab", subnet: "172.28.40.0/24" } }, ssh: {} },
    nodes: [
        { name: "manager-1", role: "manager", zone: "intra", address: "172.28.40.11" },
        { name: "manager-2", role: "manager", zone: "intra", address: "172.28.40.12" },
        { name: "manager-3", role: "manager", zone: "intra", address: "172.28.40.13" },
        { name: "gw-1", role: "worker", zone: "dmz", address: "172.28.40.21", gateway: true },
        { name: "gw-2", role: "worker", zone: "dmz", address: "172.28.40.22", gateway: true },
        { name: "worker-1", role: "worker", zone: "intra", address: "172.28.40.31" },
    ],
    swarm: { defaultAddrPool: ["10.208.0.0/16"] },
    networks: {
        zones: { dmz: { subnet: "10.209.1.0/24" }, intra: { subnet: "10.209.2.0/24" } },
        gateway: { name: "gateway", subnet: "10.209.0.0/24" },
    },
    virtualIp: { address: "172.28.40.100", virtualRouterId: 51, healthCheck: {} },
    gateway: { engine: "nginx", ports: {}, tls: [] },
    apps: [
        {
            name: "shop",
            zone: "dmz",
            image: "registry.example.com/shop",
            update: {},
            releases: [
                { name: "1.9", hostnames: ["stary.sklep.example"] },
                { name: "2.0", hostnames: ["nowy.sklep.example", "sklep.example"] },
            ],
        },
        {
            name: "stock",
            zone: "intra",
            image: "registry.example.com/stock",
            replicas: 1,
            update: {},
            releases: [{ name: "1.0", hostnames: ["stock.example"] }],
        },
    ],
    dns: {},
};

/** A deep copy of `base` changed by `change`: the way every variant in these tests is made. */
export function mutate(base: StackConfigInput, change: (draft: Draft) => void): StackConfigInput {
    const draft = structuredClone(base) as Draft;
    change(draft);
    return draft as StackConfigInput;
}

type DeepPartial<T> = T extends readonly (infer U)[] ? DeepPartial<U>[] : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;

/**
 * Types a value written into a draft as the config a user writes: `d.apps[0].publish = partial([{ target: 80, published: 8080 }])`.
 * The Draft type makes every key present for reading; values written into it may leave keys out, as YAML does.
 */
export function partial<T>(value: NoInfer<DeepPartial<T>>): T {
    return value as T;
}

/** Removes a key (for keys the Draft type marks as present). */
export function unset<T extends object>(obj: T, key: keyof T): void {
    Reflect.deleteProperty(obj, key);
}

/** Replaces the shorthand VIP (address + virtualRouterId) of a draft by `groups`. */
export function useGroups(d: Draft, groups: { name: string; address: string; virtualRouterId: number }[]): void {
    unset(d.virtualIp, "address");
    unset(d.virtualIp, "virtualRouterId");
    d.virtualIp.groups = groups;
}

/** A copy of a config with VRRP groups instead of the single address. */
export function withGroups(base: StackConfigInput, groups: { name: string; address: string; virtualRouterId: number }[]): StackConfigInput {
    return mutate(base, (d) => useGroups(d, groups));
}

export function errorsOf(raw: unknown): ConfigError[] {
    const result = validateConfig(raw);
    return result.ok ? [] : result.errors;
}

export function showErrors(errors: readonly ConfigError[]): string {
    return errors.length ? errors.map((e) => `${e.path}: ${e.message}`).join("\n") : "(no errors)";
}

export function validOrThrow(raw: unknown): StackConfig {
    const result = validateConfig(raw);
    assert.ok(result.ok, `expected a valid config, got:\n${result.ok ? "" : showErrors(result.errors)}`);
    return result.config;
}

export function planOf(raw: unknown): Plan {
    return planStack(parseConfig(raw));
}

/** The platform config of Pulumi.<stack>.yaml at the repository root. */
export function stackConfig(stack: "dev" | "prod"): StackConfigInput {
    const file = readStackFile(path.join(ROOT, `Pulumi.${stack}.yaml`));
    assert.deepEqual(file.errors, [], `Pulumi.${stack}.yaml has unknown keys`);
    return file.config as StackConfigInput;
}

/** JSON round trip: what the plan looks like once serialized (undefined keys dropped). */
export function json<T>(value: T): T {
    return JSON.parse(JSON.stringify(value)) as T;
}

/**
 * Paths (like `routes[0].service`) where two JSON values differ. Arrays are compared index by index;
 * an array of different length is one difference at the array's path.
 */
export function diffPaths(a: unknown, b: unknown, at = ""): string[] {
    if (Object.is(a, b)) return [];
    if (Array.isArray(a) && Array.isArray(b)) {
        if (a.length !== b.length) return [at || "(root)"];
        return a.flatMap((v, i) => diffPaths(v, b[i], `${at}[${i}]`));
    }
    if (isRecord(a) && isRecord(b)) {
        const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
        return keys.flatMap((k) => diffPaths(a[k], b[k], at ? `${at}.${k}` : k));
    }
    return [at || "(root)"];
}

function isRecord(v: unknown): v is Record<string, unknown> {
    return typeof v === "object" && v !== null && !Array.isArray(v);
}

// ---- invalid configs ------------------------------------------------------------------------------

/** One invalid config: a small mutation of BASE that breaks one rule. */
export interface InvalidCase {
    /** What is wrong, as a person would say it. */
    readonly name: string;
    readonly change: (d: Draft) => void;
    /** The exact key path of the error. */
    readonly path: string;
    /** Words the message must contain. */
    readonly words: readonly string[];
    /** How many errors the whole config yields (default 1: the mutation breaks exactly one rule). */
    readonly count?: number;
}

/**
 * Runs one concept's table: every case must fail with an error at its exact key path whose message has all its
 * words, and with exactly `count` (default 1) errors in all. `atLeast` guards the table against losing cases:
 * it is the number of cases the concept had when the table was last grown.
 */
export function invalidConfigs(concept: string, cases: readonly InvalidCase[], atLeast: number): void {
    describe(`invalid ${concept} configs fail at their key path`, () => {
        test(`there are at least ${atLeast} distinct ${concept} cases`, () => {
            assert.ok(cases.length >= atLeast, `${cases.length} cases`);
            assert.equal(new Set(cases.map((c) => c.name)).size, cases.length, "case names are unique");
            const configs = cases.map((c) => JSON.stringify(mutate(BASE, c.change)));
            assert.ok(!configs.includes(JSON.stringify(BASE)), "every case changes the base config");
            assert.equal(new Set(configs).size, cases.length, "no two cases are the same config");
        });

        for (const c of cases) {
            test(`${c.name} → ${c.path}`, () => {
                const errors = errorsOf(mutate(BASE, c.change));
                const at = errors.filter((e) => e.path === c.path);
                assert.ok(at.length > 0, `no error at ${c.path}; got:\n${showErrors(errors)}`);
                const match = at.find((e) => c.words.every((w) => e.message.includes(w)));
                assert.ok(match, `no error at ${c.path} says ${c.words.map((w) => JSON.stringify(w)).join(" + ")}; got:\n${showErrors(errors)}`);
                assert.equal(errors.length, c.count ?? 1, `expected ${c.count ?? 1} error(s), got:\n${showErrors(errors)}`);
            });
        }
    });
}

/** Near misses: variants of BASE that look wrong but must stay valid. */
export function validConfigs(concept: string, cases: readonly { readonly name: string; readonly change: (d: Draft) => void }[]): void {
    describe(`${concept} near misses stay valid`, () => {
        for (const c of cases) test(c.name, () => void validOrThrow(mutate(BASE, c.change)));
    });
}

/** A real ed25519 public key made with ssh-keygen for the tests (no machine has it): a valid `nodes[].hostKey`. */
export const TEST_HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPbi47WTyoqAagl/EUlRMqNT4IqCun4PnEBkLrHODoFm";

/** The stack on driver ssh (or, with `only`, that one node), each ssh node with a pinned host key, as the driver requires. */
export function useSsh(d: Draft, only?: number): void {
    if (only === undefined) d.driver = "ssh";
    d.nodes.forEach((n, i) => {
        if (only === undefined || i === only) n.hostKey = TEST_HOST_KEY;
        if (i === only) n.driver = "ssh";
    });
}
