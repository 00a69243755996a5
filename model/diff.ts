// The change between two stack configs in the platform's own words: hostnames moving between releases, releases
// added or removed, replicas, images, env, nodes, the virtual IP, the gateway, networks, DNS records, secrets.
// Both sides are planned (planStack), so defaults and derived values count exactly as they would be deployed.
// Pure: no files, no git, no Pulumi. `npm run diff` (scripts/diff.ts) and `npm run promote` print it.
import { type Plan, planStack, type StackConfig } from "./index";
import { secretRefsOf } from "./secrets";
import { describeRouteReleases, formatPercent, type PlanRoute, servingBackends } from "./releases";

/** What a change is about; `changedKeys` turns these into the diagram's keys. */
export type DomainSubject =
    | { readonly concept: "hostname"; readonly hostname: string }
    | { readonly concept: "release"; readonly app: string; readonly release: string }
    | { readonly concept: "node"; readonly node: string }
    | { readonly concept: "virtualIp"; readonly group?: string; readonly member?: string }
    | { readonly concept: "gateway"; readonly tls?: string }
    | { readonly concept: "network"; readonly network: string }
    | { readonly concept: "dns"; readonly record: string }
    | { readonly concept: "swarm" }
    | { readonly concept: "driver" }
    /** A `secure:` config key; `usedBy`: the config key paths that reference it (`gateway.tls[0].keySecret`). */
    | { readonly concept: "secret"; readonly key: string; readonly usedBy: readonly string[] };

export type DomainConcept = DomainSubject["concept"];

/** One setting that differs. Values are display text; a secret's value is never here (see SECRET_PLACEHOLDER). */
export interface FieldChange {
    /** Dotted path inside the subject, like `replicas`, `env.RELEASE`, `labels.rack`. */
    readonly field: string;
    /** Absent: the setting is new. */
    readonly before?: string;
    /** Absent: the setting is gone. */
    readonly after?: string;
}

export interface DomainChange {
    readonly subject: DomainSubject;
    readonly change: "added" | "removed" | "changed";
    /** Changed: what differs. Added or removed: a short description of the thing (before or after only). */
    readonly fields: readonly FieldChange[];
}

/** What a secret's value is shown as, wherever it would appear. */
export const SECRET_PLACEHOLDER = "‹secret›";

/**
 * Secret config keys → something that changes exactly when the secret does: the `secure:` ciphertext as the stack
 * file holds it (or a hash of it). Never the plain value.
 */
export type SecretVersions = Readonly<Record<string, string>>;

export interface DomainDiffOptions {
    /** The `secure:` entries of each side, to report a secret as added, removed or changed (by ciphertext). */
    readonly secrets?: { readonly before?: SecretVersions; readonly after: SecretVersions };
}

/**
 * The platform-level change from `before` to `after`, both validated configs (`undefined`: nothing deployed yet,
 * every entity is added). Sorted by concept (hostnames, releases, nodes, virtual IP, gateway, networks, DNS, swarm,
 * driver, secrets), then by name. Empty when the two would deploy the same platform.
 */
export function domainDiff(before: StackConfig | undefined, after: StackConfig, options: DomainDiffOptions = {}): DomainChange[] {
    const a = planStack(after);
    const b = before ? planStack(before) : undefined;
    return [
        ...hostnameChanges(b, a),
        ...releaseChanges(b, a),
        ...keyed(b?.nodes ?? [], a.nodes, (n) => n.name, (node) => ({ concept: "node", node }), NODE_SKIP, describeNode),
        ...virtualIpChanges(b, a),
        ...gatewayChanges(b, a),
        ...keyed(
            [...(b?.networks.overlays ?? []), ...(b?.networks.ingress ? [b.networks.ingress] : [])],
            [...a.networks.overlays, ...(a.networks.ingress ? [a.networks.ingress] : [])],
            (n) => n.name,
            (network) => ({ concept: "network", network }),
            ["key"],
            (n) => [{ field: "subnet", value: n.subnet ?? "(assigned by the swarm)" }, { field: "encrypted", value: n.encrypted }],
        ),
        ...keyed(b?.dns.records ?? [], a.dns.records, (r) => `${r.name} ${r.type} ${r.value}`, (record) => ({ concept: "dns", record }), ["name", "type", "value"], (r) => [
            { field: "ttl", value: r.ttl },
        ]),
        ...single({ concept: "swarm" }, b?.swarm, a.swarm, SWARM_SKIP),
        ...single({ concept: "driver" }, b?.driver, a.driver, []),
        ...secretChanges(before, after, options.secrets),
    ];
}

// ---- per concept --------------------------------------------------------------------------------

type Plain = Record<string, unknown>;

/** A routed hostname: which release serves it (release name only when the app stays the same), or its releases'
 *  shares (`weights`, as percentages), and its settings. */
function hostnameChanges(b: Plan | undefined, a: Plan): DomainChange[] {
    const out: DomainChange[] = [];
    const before = new Map((b?.routes ?? []).map((r) => [r.hostname, r]));
    const after = new Map(a.routes.map((r) => [r.hostname, r]));
    for (const hostname of sortedUnion(before.keys(), after.keys())) {
        const was = before.get(hostname);
        const now = after.get(hostname);
        const subject: DomainSubject = { concept: "hostname", hostname };
        if (!was && now) out.push({ subject, change: "added", fields: [{ field: "release", after: describeRouteReleases(now) }] });
        else if (was && !now) out.push({ subject, change: "removed", fields: [{ field: "release", before: describeRouteReleases(was) }] });
        else if (was && now) {
            const fields: FieldChange[] = [];
            const plain = (r: PlanRoute) => !r.weighted && servingBackends(r).length === 1;
            if (was.app !== now.app) {
                fields.push({ field: "release", before: describeRouteReleases(was), after: describeRouteReleases(now) });
            } else if (plain(was) && plain(now)) {
                const [from, to] = [servingBackends(was)[0].release, servingBackends(now)[0].release];
                if (from !== to) fields.push({ field: "release", before: from, after: to });
            } else if (routeShares(was) !== routeShares(now)) {
                fields.push({ field: "weights", before: routeShares(was), after: routeShares(now) });
            }
            const settings = (r: PlanRoute) => ({ tls: r.tls, sticky: servingBackends(r).length > 1 ? r.sticky : undefined, pinnable: pinnableOf(r) });
            fields.push(...fieldChanges(settings(was), settings(now)));
            if (fields.length) out.push({ subject, change: "changed", fields });
        }
    }
    return out;
}

/** `shop 2.0 90%, 2.1 10%`: the releases a hostname's requests are shared between (a pin-only release left out). */
function routeShares(r: PlanRoute): string {
    return `${r.app} ${r.backends.filter((x) => x.weight > 0 || !x.pinnable).map((x) => `${x.release} ${formatPercent(x.percent)}`).join(", ")}`;
}

function pinnableOf(r: PlanRoute): string | undefined {
    const pins = r.backends.filter((x) => x.pinnable).map((x) => x.release);
    return pins.length ? pins.join(", ") : undefined;
}

/** `shop 2.0 90% → 50%, 2.1 10% → 50%` from two routeShares texts (a release missing on one side had 0%). */
function sharesLine(before: string, after: string): string {
    const parse = (text: string) => {
        const [app, ...rest] = text.split(" ");
        const shares = new Map(rest.join(" ").split(", ").map((pair) => pair.split(" ") as [string, string]));
        return { app, shares };
    };
    const b = parse(before);
    const a = parse(after);
    const releases = [...new Set([...b.shares.keys(), ...a.shares.keys()])].sort(compare);
    return `${a.app} ${releases.map((r) => `${r} ${b.shares.get(r) ?? "0%"} → ${a.shares.get(r) ?? "0%"}`).join(", ")}`;
}

function releaseChanges(b: Plan | undefined, a: Plan): DomainChange[] {
    const key = (r: { app: string; name: string }) => `${r.app}\u0000${r.name}`;
    const before = new Map((b?.releases ?? []).map((r) => [key(r), r]));
    const after = new Map(a.releases.map((r) => [key(r), r]));
    const out: DomainChange[] = [];
    for (const k of sortedUnion(before.keys(), after.keys())) {
        const was = before.get(k);
        const now = after.get(k);
        const either = (now ?? was) as NonNullable<typeof now>;
        const subject: DomainSubject = { concept: "release", app: either.app, release: either.name };
        const describe = (r: typeof either) => [
            { field: "image", value: r.image },
            { field: "replicas", value: r.replicas },
            { field: "zone", value: r.zone },
            { field: "hostnames", value: r.hostnames.length ? r.hostnames : "(none: internal)" },
        ];
        const change = entityChange(subject, was, now, RELEASE_SKIP, describe);
        if (change) out.push(change);
    }
    return out;
}

function virtualIpChanges(b: Plan | undefined, a: Plan): DomainChange[] {
    const was = b?.virtualIp;
    const now = a.virtualIp;
    const out: DomainChange[] = [];
    const describe = (v: NonNullable<Plan["virtualIp"]>) => [{ field: "addresses", value: v.groups.map((g) => g.address) }, { field: "interface", value: v.interface }];
    const top = entityChange({ concept: "virtualIp" }, was, now, ["groups", "paths"], describe);
    if (top) out.push(top);
    if (!was || !now) return out;
    const groupsBefore = new Map(was.groups.map((g) => [g.name, g]));
    const groupsAfter = new Map(now.groups.map((g) => [g.name, g]));
    for (const group of sortedUnion(groupsBefore.keys(), groupsAfter.keys())) {
        const gb = groupsBefore.get(group);
        const ga = groupsAfter.get(group);
        const describeGroup = (g: NonNullable<typeof ga>) => [
            { field: "address", value: g.address },
            { field: "virtualRouterId", value: g.virtualRouterId },
            { field: "failover order", value: failoverOrder(g.members) },
        ];
        const groupChange = entityChange({ concept: "virtualIp", group }, gb, ga, ["name", "members"], describeGroup);
        const members: FieldChange[] = [];
        if (gb && ga && failoverOrder(gb.members) !== failoverOrder(ga.members)) {
            members.push({ field: "failover order", before: failoverOrder(gb.members), after: failoverOrder(ga.members) });
        }
        if (groupChange?.change === "changed" || (gb && ga && members.length)) {
            out.push({ subject: { concept: "virtualIp", group }, change: "changed", fields: [...(groupChange?.fields ?? []), ...members] });
        } else if (groupChange) out.push(groupChange);
    }
    return out;
}

/** Members by descending priority, with their priorities: `gw-1 (200), gw-2 (190)`. */
function failoverOrder(members: readonly { node: string; priority: number }[]): string {
    return [...members].sort((x, y) => y.priority - x.priority || compare(x.node, y.node)).map((m) => `${m.node} (${m.priority})`).join(", ");
}

function gatewayChanges(b: Plan | undefined, a: Plan): DomainChange[] {
    const out: DomainChange[] = [];
    const describe = (g: Plan["gateway"]) => [
        { field: "engine", value: g.engine },
        { field: "nodes", value: g.nodes },
    ];
    const top = entityChange({ concept: "gateway" }, b?.gateway, a.gateway, ["tls"], describe);
    if (top) out.push(top);
    // TLS entries by name: hostnames and which secrets hold them (names of config keys, never their content).
    out.push(
        ...keyed(b?.gateway.tls ?? [], a.gateway.tls, (t) => t.name, (tls) => ({ concept: "gateway", tls }), ["name"], (t) => [
            { field: "hostnames", value: t.hostnames },
        ]),
    );
    return out;
}

function secretChanges(before: StackConfig | undefined, after: StackConfig, secrets: DomainDiffOptions["secrets"]): DomainChange[] {
    if (!secrets) return [];
    const usedBy = new Map<string, string[]>();
    for (const ref of [...(before ? secretRefsOf(before) : []), ...secretRefsOf(after)]) {
        const paths = usedBy.get(ref.key) ?? [];
        if (!paths.includes(ref.path)) paths.push(ref.path);
        usedBy.set(ref.key, paths);
    }
    const was = secrets.before ?? {};
    const now = secrets.after;
    const out: DomainChange[] = [];
    for (const key of sortedUnion(Object.keys(was), Object.keys(now))) {
        const subject: DomainSubject = { concept: "secret", key, usedBy: usedBy.get(key) ?? [] };
        const inBefore = Object.hasOwn(was, key);
        const inAfter = Object.hasOwn(now, key);
        if (inAfter && !inBefore) out.push({ subject, change: "added", fields: [{ field: "value", after: SECRET_PLACEHOLDER }] });
        else if (inBefore && !inAfter) out.push({ subject, change: "removed", fields: [{ field: "value", before: SECRET_PLACEHOLDER }] });
        else if (was[key] !== now[key]) out.push({ subject, change: "changed", fields: [{ field: "value", before: SECRET_PLACEHOLDER, after: SECRET_PLACEHOLDER }] });
    }
    return out;
}

// Derived or shown elsewhere: a node's gateway ports follow its `gateway` flag; a release's hostnames are the
// hostname section's; the swarm's join order follows the nodes.
const NODE_SKIP = ["name", "gatewayPorts"];
// convergeTimeout follows replicas and the update policy by default (a change there is already a line of its own);
// probePath follows healthcheck.path. Neither is the service's: the resource list shows the gate's change.
const RELEASE_SKIP = ["app", "name", "hostnames", "convergeTimeout", "probePath"];
const SWARM_SKIP = ["bootstrap.managers", "bootstrap.workers"];

function describeNode(n: Plan["nodes"][number]) {
    return [
        { field: "role", value: n.role },
        { field: "zone", value: n.zone },
        { field: "address", value: n.address },
        ...(n.gateway ? [{ field: "gateway", value: true }] : []),
        ...(n.availability !== "active" ? [{ field: "availability", value: n.availability }] : []),
    ];
}

// ---- generic comparison -------------------------------------------------------------------------

type Described = readonly { field: string; value: unknown }[];

/** Entities of one kind matched by a key: added, removed, or changed field by field. */
function keyed<T extends object>(
    before: readonly T[],
    after: readonly T[],
    keyOf: (x: T) => string,
    subjectOf: (key: string) => DomainSubject,
    skip: readonly string[],
    describe: (x: T) => Described,
): DomainChange[] {
    const b = new Map(before.map((x) => [keyOf(x), x]));
    const a = new Map(after.map((x) => [keyOf(x), x]));
    return sortedUnion(b.keys(), a.keys()).flatMap((key) => {
        const change = entityChange(subjectOf(key), b.get(key), a.get(key), skip, describe);
        return change ? [change] : [];
    });
}

function single<T extends object>(subject: DomainSubject, before: T | undefined, after: T, skip: readonly string[]): DomainChange[] {
    // Swarm and driver always exist: with nothing deployed, they are part of what every added node shows.
    if (!before) return [];
    const fields = fieldChanges(before, after, skip);
    return fields.length ? [{ subject, change: "changed", fields }] : [];
}

function entityChange<T extends object>(subject: DomainSubject, was: T | undefined, now: T | undefined, skip: readonly string[], describe: (x: T) => Described): DomainChange | undefined {
    if (!was && now) return { subject, change: "added", fields: describe(now).map(({ field, value }) => ({ field, after: display(value) })) };
    if (was && !now) return { subject, change: "removed", fields: describe(was).map(({ field, value }) => ({ field, before: display(value) })) };
    if (!was || !now) return undefined;
    const fields = fieldChanges(was, now, skip);
    return fields.length ? { subject, change: "changed", fields } : undefined;
}

/**
 * Every leaf setting that differs, by dotted path (`env.RELEASE`, `healthcheck.interval`); a list counts as one
 * setting. `skip` holds paths (and their subtrees) left out.
 */
export function fieldChanges(before: object, after: object, skip: readonly string[] = []): FieldChange[] {
    const b = leaves(before);
    const a = leaves(after);
    const skipped = (path: string) => skip.some((s) => path === s || path.startsWith(`${s}.`));
    return sortedUnion(b.keys(), a.keys())
        .filter((path) => !skipped(path) && b.get(path) !== a.get(path))
        .map((field) => ({ field, ...(b.has(field) ? { before: b.get(field) } : {}), ...(a.has(field) ? { after: a.get(field) } : {}) }));
}

function leaves(value: object, prefix = "", out = new Map<string, string>()): Map<string, string> {
    for (const [k, v] of Object.entries(value)) {
        const path = prefix ? `${prefix}.${k}` : k;
        if (v === undefined) continue;
        if (v !== null && typeof v === "object" && !Array.isArray(v)) leaves(v as Plain, path, out);
        else out.set(path, display(v));
    }
    return out;
}

/** Display text of a setting: strings bare, lists of plain values joined, anything else as JSON. */
function display(v: unknown): string {
    if (typeof v === "string") return v;
    if (Array.isArray(v) && v.every((x) => typeof x !== "object" || x === null)) return `[${v.map(String).join(", ")}]`;
    return JSON.stringify(v);
}

function compare(x: string, y: string): number {
    return x < y ? -1 : x > y ? 1 : 0;
}

function sortedUnion(x: Iterable<string>, y: Iterable<string>): string[] {
    return [...new Set([...x, ...y])].sort(compare);
}

// ---- keys for the diagram -----------------------------------------------------------------------

/**
 * The diagram's change keys (model/diagram.ts): `node:<name>`, `release:<app>:<release>`, `hostname:<hostname>`,
 * `virtualIp`, `gateway`. A secret counts for the part that uses it (a TLS key: the gateway; the VRRP password:
 * the virtual IP). Networks, DNS records, the swarm settings and the driver have no key of their own.
 */
export function changedKeys(changes: readonly DomainChange[]): Set<string> {
    const keys = new Set<string>();
    for (const { subject } of changes) {
        switch (subject.concept) {
            case "node":
                keys.add(`node:${subject.node}`);
                break;
            case "release":
                keys.add(`release:${subject.app}:${subject.release}`);
                break;
            case "hostname":
                keys.add(`hostname:${subject.hostname}`);
                break;
            case "virtualIp":
                keys.add("virtualIp");
                break;
            case "gateway":
                keys.add("gateway");
                break;
            case "secret":
                if (subject.usedBy.some((p) => p.startsWith("gateway."))) keys.add("gateway");
                if (subject.usedBy.some((p) => p.startsWith("virtualIp."))) keys.add("virtualIp");
                break;
            default:
                break;
        }
    }
    return keys;
}

// ---- Markdown -----------------------------------------------------------------------------------

const SECTIONS: readonly { concept: DomainConcept; title: string }[] = [
    { concept: "hostname", title: "Hostnames" },
    { concept: "release", title: "Releases" },
    { concept: "node", title: "Nodes" },
    { concept: "virtualIp", title: "Virtual IP" },
    { concept: "gateway", title: "Gateway" },
    { concept: "network", title: "Networks" },
    { concept: "dns", title: "DNS records" },
    { concept: "swarm", title: "Swarm" },
    { concept: "driver", title: "Driver" },
    { concept: "secret", title: "Secrets" },
];

export const NO_CHANGE = "No change to the platform.";

/** The name a change is listed under: `sklep.localhost`, `shop 2.0`, `gw-1`, `vip1`, `TLS tls-0`. */
export function subjectName(s: DomainSubject): string {
    switch (s.concept) {
        case "hostname":
            return s.hostname;
        case "release":
            return `${s.app} ${s.release}`;
        case "node":
            return s.node;
        case "virtualIp":
            return s.group ? `${s.group}` : "virtual IP";
        case "gateway":
            return s.tls ? `TLS ${s.tls}` : "gateway";
        case "network":
            return s.network;
        case "dns":
            return s.record;
        case "swarm":
            return "swarm";
        case "driver":
            return "driver";
        case "secret":
            return `${s.key} ${SECRET_PLACEHOLDER}`;
    }
}

const code = (text: string) => `\`${text.replace(/`/g, "'")}\``;
const value = (text: string | undefined) => (text === undefined ? "(unset)" : code(text));

function line(c: DomainChange): string[] {
    const name = code(subjectName(c.subject));
    const desc = (side: "before" | "after") => c.fields.map((f) => `${f.field} ${value(f[side])}`).join(", ");
    if (c.subject.concept === "hostname" && c.change !== "changed") {
        const f = c.fields[0];
        return [c.change === "added" ? `- ${name}: added → ${value(f.after)}` : `- ${name}: removed (was ${value(f.before)})`];
    }
    if (c.subject.concept === "hostname") {
        return c.fields.map((f) => {
            if (f.field === "weights") return `- ${name}: ${code(sharesLine(f.before ?? "", f.after ?? ""))}`;
            return f.field === "release" ? `- ${name}: ${value(f.before)} → ${value(f.after)}` : `- ${name} ${f.field}: ${value(f.before)} → ${value(f.after)}`;
        });
    }
    if (c.subject.concept === "secret") {
        const used = c.subject.usedBy.length ? ` (used by ${c.subject.usedBy.map(code).join(", ")})` : "";
        const what = c.change === "changed" ? "changed (new ciphertext)" : c.change;
        return [`- ${name}: ${what}${used}`];
    }
    if (c.change === "added") return [`- ${name}: **added** (${desc("after")})`];
    if (c.change === "removed") return [`- ${name}: **removed** (was ${desc("before")})`];
    return c.fields.map((f) => `- ${name} ${f.field}: ${value(f.before)} → ${value(f.after)}`);
}

/** The domain change as Markdown: one section per concept with something in it, or NO_CHANGE. */
export function formatDomainDiff(changes: readonly DomainChange[]): string {
    if (changes.length === 0) return `${NO_CHANGE}\n`;
    const parts: string[] = [];
    for (const { concept, title } of SECTIONS) {
        const of = changes.filter((c) => c.subject.concept === concept);
        if (of.length) parts.push(`#### ${title}\n\n${of.flatMap(line).join("\n")}\n`);
    }
    return parts.join("\n");
}
