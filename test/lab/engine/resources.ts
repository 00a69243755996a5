// What each resource type does for real, and how a change is applied (the provider's rules, see
// ../shared/notes/pulumi-packages-facts.md): replace (which fields force it) or update in place.
import { spawn } from "node:child_process";
import * as crypto from "node:crypto";
import { dockerApi, DockerApiError } from "./docker-api";

export type Props = Record<string, unknown>;

export interface Ctx {
    /** The docker engine a resource's provider points at (host engine when no explicit provider). */
    readonly engine: string;
    readonly log: (msg: string) => void;
}

export interface Created {
    readonly id: string;
    readonly outputs: Props;
}

export interface Handler {
    create(name: string, inputs: Props, ctx: Ctx): Promise<Created>;
    /** Absent: every change replaces. */
    update?(name: string, id: string, olds: Props, news: Props, oldOutputs: Props, ctx: Ctx): Promise<Props>;
    /** True when the change from olds to news cannot be applied in place. */
    replaces(olds: Props, news: Props): boolean;
    delete(name: string, id: string, inputs: Props, outputs: Props, ctx: Ctx): Promise<void>;
    /** For `--refresh`: false when the resource is gone from the engine (it is then created again). */
    exists?(id: string, ctx: Ctx): Promise<boolean>;
}

async function apiExists(ctx: Ctx, p: string): Promise<boolean> {
    try {
        await dockerApi(ctx.engine, "GET", p);
        return true;
    } catch (e) {
        if (e instanceof DockerApiError && e.status === 404) return false;
        throw e;
    }
}

// ---- helpers ---------------------------------------------------------------------------------

export interface RunResult {
    readonly code: number;
    readonly stdout: string;
    readonly stderr: string;
}

/** Runs argv with optional stdin/env; bounded by timeoutMs (SIGKILL of the process group on expiry). */
export function run(argv: string[], opts: { stdin?: string; env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {}): Promise<RunResult> {
    return new Promise((resolve, reject) => {
        const child = spawn(argv[0], argv.slice(1), {
            cwd: opts.cwd,
            env: { ...process.env, ...(opts.env ?? {}) },
            stdio: ["pipe", "pipe", "pipe"],
            detached: true,
        });
        const out: Buffer[] = [];
        const err: Buffer[] = [];
        child.stdout.on("data", (c: Buffer) => out.push(c));
        child.stderr.on("data", (c: Buffer) => err.push(c));
        const timeoutMs = opts.timeoutMs ?? 300_000;
        const timer = setTimeout(() => {
            try {
                process.kill(-(child.pid as number), "SIGKILL");
            } catch {
                /* gone */
            }
        }, timeoutMs);
        child.on("error", (e) => {
            clearTimeout(timer);
            reject(e);
        });
        child.on("close", (code, signal) => {
            clearTimeout(timer);
            const stderr = Buffer.concat(err).toString("utf8") + (signal ? `\n(killed by ${signal}${signal === "SIGKILL" ? `, timeout ${timeoutMs} ms?` : ""})` : "");
            resolve({ code: code ?? 128, stdout: Buffer.concat(out).toString("utf8"), stderr });
        });
        child.stdin.on("error", () => undefined); // EPIPE when the command does not read stdin
        child.stdin.end(opts.stdin ?? "");
    });
}

async function docker(engine: string, args: string[], timeoutMs = 300_000): Promise<string> {
    const r = await run(["docker", "-H", engine, ...args], { timeoutMs });
    if (r.code !== 0) throw new Error(`docker ${args.slice(0, 3).join(" ")} … failed (exit ${r.code}): ${r.stderr.trim()}`);
    return r.stdout.trim();
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Retries fn while it throws an engine-side error (not an unreachable engine), up to `seconds`; rethrows the last error. */
async function retry<T>(seconds: number, fn: () => Promise<T>): Promise<T> {
    const end = Date.now() + seconds * 1000;
    for (;;) {
        try {
            return await fn();
        } catch (e) {
            const unreachable = /ECONNREFUSED|ENOENT|EHOSTUNREACH|Cannot connect to the Docker daemon|No such container/i.test(String(e));
            if (unreachable || Date.now() > end) throw e;
            await sleep(1000);
        }
    }
}

export function canonical(v: unknown): string {
    return JSON.stringify(sortDeep(v));
}
function sortDeep(v: unknown): unknown {
    if (Array.isArray(v)) return v.map(sortDeep);
    if (v && typeof v === "object") {
        return Object.fromEntries(
            Object.entries(v as Props)
                .filter(([, x]) => x !== undefined)
                .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
                .map(([k, x]) => [k, sortDeep(x)]),
        );
    }
    return v;
}
const same = (a: unknown, b: unknown) => canonical(a) === canonical(b);
const anyChanged = (olds: Props, news: Props, keys: string[]) => keys.some((k) => !same(olds[k], news[k]));
const allChange = () => true;

/** Go duration ("1m30s", "500ms", "10s") → nanoseconds. */
export function durationNs(d: unknown): number | undefined {
    if (d === undefined || d === null || d === "") return undefined;
    if (typeof d === "number") return d;
    const units: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
    let total = 0;
    const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g;
    let m: RegExpExecArray | null;
    let matched = "";
    while ((m = re.exec(String(d)))) {
        total += Number(m[1]) * units[m[2]];
        matched += m[0];
    }
    if (matched !== String(d)) throw new Error(`not a Go duration: ${String(d)}`);
    return Math.round(total);
}

const labelsOf = (l: unknown) => Object.fromEntries(((l as { label: string; value: string }[]) ?? []).map((x) => [x.label, x.value]));

// ---- pulumi:providers:docker ----------------------------------------------------------------

const provider: Handler = {
    async create(_name, inputs) {
        return { id: `provider-${crypto.createHash("sha256").update(String(inputs.host ?? "")).digest("hex").slice(0, 12)}`, outputs: inputs };
    },
    async update(_n, _id, _o, news) {
        return news;
    },
    replaces: () => false,
    async delete() {},
};

// ---- docker:index/network:Network (every argument replaces) ----------------------------------

const network: Handler = {
    exists: (id, ctx) => apiExists(ctx, `/networks/${id}`),
    async create(_name, i, ctx) {
        const ipam = ((i.ipamConfigs as Props[]) ?? []).map((c) => ({ Subnet: c.subnet, ...(c.gateway ? { Gateway: c.gateway } : {}), ...(c.ipRange ? { IPRange: c.ipRange } : {}) }));
        const res = (await dockerApi(ctx.engine, "POST", "/networks/create", {
            Name: i.name,
            Driver: i.driver ?? "bridge",
            CheckDuplicate: true,
            Attachable: Boolean(i.attachable),
            Ingress: Boolean(i.ingress),
            Internal: Boolean(i.internal),
            IPAM: { Driver: "default", Config: ipam },
            Options: i.options ?? {},
            Labels: labelsOf(i.labels),
        })) as { Id: string };
        return { id: res.Id, outputs: { ...i, scope: i.driver === "overlay" ? "swarm" : "local" } };
    },
    replaces: allChange,
    async delete(_name, id, _i, _o, ctx) {
        // A network still used by (stopping) tasks cannot be deleted yet: retry for a while.
        await retry(60, async () => {
            try {
                await dockerApi(ctx.engine, "DELETE", `/networks/${id}`);
            } catch (e) {
                if (e instanceof DockerApiError && e.status === 404) return;
                throw e;
            }
        });
    },
};

// ---- docker:index/volume:Volume (replace) ------------------------------------------------------

const volume: Handler = {
    async create(_name, i, ctx) {
        const args = ["volume", "create", ...Object.entries(labelsOf(i.labels)).flatMap(([k, v]) => ["--label", `${k}=${v}`]), String(i.name)];
        const name = await docker(ctx.engine, args);
        return { id: name, outputs: { ...i, name, driver: i.driver ?? "local" } };
    },
    replaces: allChange,
    async delete(_name, id, _i, _o, ctx) {
        await retry(30, async () => {
            const r = await run(["docker", "-H", ctx.engine, "volume", "rm", "-f", id]);
            if (r.code !== 0 && !/no such volume/i.test(r.stderr)) throw new Error(`docker volume rm ${id}: ${r.stderr.trim()}`);
        });
    },
};

// ---- docker:index/image:Image (docker build; replace) -----------------------------------------

const image: Handler = {
    async create(_name, i, ctx) {
        const b = (i.build ?? {}) as Props;
        const args = ["build", "-q", "-t", String(i.imageName)];
        if (b.dockerfile) args.push("-f", String(b.dockerfile));
        for (const [k, v] of Object.entries((b.args as Props) ?? {})) args.push("--build-arg", `${k}=${String(v)}`);
        args.push(String(b.context ?? "."));
        const id = await docker(ctx.engine, args, 600_000);
        return { id, outputs: { ...i, repoDigest: "", baseImageName: i.imageName } };
    },
    replaces: allChange,
    async delete(_name, _id, i, _o, ctx) {
        await run(["docker", "-H", ctx.engine, "image", "rm", String(i.imageName)]);
    },
};

// ---- docker:index/container:Container (replace) ------------------------------------------------

const container: Handler = {
    exists: (id, ctx) => apiExists(ctx, `/containers/${id}/json`),
    async create(_name, i, ctx) {
        const args = ["run", "-d", "--name", String(i.name)];
        if (i.hostname) args.push("--hostname", String(i.hostname));
        if (i.restart) args.push("--restart", String(i.restart));
        if (i.privileged) args.push("--privileged");
        const caps = (i.capabilities ?? {}) as { adds?: string[]; drops?: string[] };
        for (const c of caps.adds ?? []) args.push("--cap-add", c);
        for (const c of caps.drops ?? []) args.push("--cap-drop", c);
        for (const s of (i.securityOpts as string[]) ?? []) args.push("--security-opt", s);
        const nets = (i.networksAdvanced as Props[]) ?? [];
        if (nets[0]) {
            args.push("--network", String(nets[0].name));
            if (nets[0].ipv4Address) args.push("--ip", String(nets[0].ipv4Address));
            for (const a of (nets[0].aliases as string[]) ?? []) args.push("--network-alias", a);
        }
        for (const v of (i.volumes as Props[]) ?? []) {
            const src = v.volumeName ?? v.hostPath;
            args.push("-v", `${String(src)}:${String(v.containerPath)}${v.readOnly ? ":ro" : ""}`);
        }
        for (const e of (i.envs as string[]) ?? []) args.push("-e", e);
        for (const p of (i.ports as Props[]) ?? []) {
            args.push("-p", `${p.ip ? `${String(p.ip)}:` : ""}${p.external ?? ""}:${String(p.internal)}${p.protocol && p.protocol !== "tcp" ? `/${String(p.protocol)}` : ""}`);
        }
        for (const [k, v] of Object.entries(labelsOf(i.labels))) args.push("--label", `${k}=${v}`);
        args.push(String(i.image), ...((i.commands as string[]) ?? []));
        const id = await docker(ctx.engine, args, 120_000);
        for (const n of nets.slice(1)) {
            await docker(ctx.engine, ["network", "connect", ...(n.ipv4Address ? ["--ip", String(n.ipv4Address)] : []), String(n.name), id]);
        }
        return { id, outputs: { ...i } };
    },
    replaces: allChange,
    async delete(_name, id, _i, _o, ctx) {
        const r = await run(["docker", "-H", ctx.engine, "rm", "-f", "-v", id], { timeoutMs: 120_000 });
        if (r.code !== 0 && !/no such container/i.test(r.stderr)) throw new Error(`docker rm ${id}: ${r.stderr.trim()}`);
    },
};

// ---- docker:index/service:Service (name/networks/auth replace; the rest: service update) -------

function policySpec(p: Props | undefined): Props | undefined {
    if (!p) return undefined;
    return {
        Parallelism: p.parallelism ?? 1,
        Delay: durationNs(p.delay) ?? 0,
        FailureAction: p.failureAction ?? "pause",
        Monitor: durationNs(p.monitor) ?? 5e9,
        MaxFailureRatio: Number(p.maxFailureRatio ?? 0),
        Order: p.order ?? "stop-first",
    };
}

async function serviceSpec(i: Props, ctx: Ctx): Promise<Props> {
    const ts = (i.taskSpec ?? {}) as Props;
    const cs = (ts.containerSpec ?? {}) as Props;
    const hc = cs.healthcheck as Props | undefined;
    const secrets = [];
    for (const s of (cs.secrets as Props[]) ?? []) {
        const info = (await dockerApi(ctx.engine, "GET", `/secrets/${String(s.secretId)}`)) as { Spec: { Name: string } };
        secrets.push({ SecretID: s.secretId, SecretName: s.secretName ?? info.Spec.Name, File: { Name: s.fileName, UID: s.fileUid ?? "0", GID: s.fileGid ?? "0", Mode: s.fileMode ?? 0o444 } });
    }
    const mode = (i.mode ?? {}) as { global?: boolean; replicated?: { replicas?: number } };
    const endpoint = (i.endpointSpec ?? {}) as Props;
    const restart = ts.restartPolicy as Props | undefined;
    return {
        Name: i.name,
        Labels: labelsOf(i.labels),
        TaskTemplate: {
            ContainerSpec: {
                Image: cs.image,
                ...(cs.commands ? { Command: cs.commands } : {}),
                ...(cs.args ? { Args: cs.args } : {}),
                Env: Object.entries((cs.env as Props) ?? {}).map(([k, v]) => `${k}=${String(v)}`),
                Labels: labelsOf(cs.labels),
                Mounts: ((cs.mounts as Props[]) ?? []).map((m) => ({ Type: m.type, Source: m.source, Target: m.target, ReadOnly: Boolean(m.readOnly) })),
                Secrets: secrets,
                ...(cs.stopGracePeriod ? { StopGracePeriod: durationNs(cs.stopGracePeriod) } : {}),
                ...(cs.stopSignal ? { StopSignal: cs.stopSignal } : {}),
                ...(hc
                    ? {
                          Healthcheck: {
                              Test: hc.tests,
                              Interval: durationNs(hc.interval) ?? 0,
                              Timeout: durationNs(hc.timeout) ?? 0,
                              Retries: hc.retries ?? 0,
                              StartPeriod: durationNs(hc.startPeriod) ?? 0,
                          },
                      }
                    : {}),
            },
            Placement: { Constraints: ((ts.placement as Props)?.constraints as string[]) ?? [] },
            // `id` (the provider's current field) or the deprecated `name` (a name or an id)
            Networks: ((ts.networksAdvanceds as Props[]) ?? []).map((n) => ({
                Target: n.id ?? n.name,
                Aliases: n.aliases ?? [],
                ...(n.driverOpts ? { DriverOpts: Object.fromEntries((n.driverOpts as string[]).map((o) => o.split("=", 2) as [string, string])) } : {}),
            })),
            ...(restart
                ? { RestartPolicy: { Condition: restart.condition ?? "any", ...(restart.delay ? { Delay: durationNs(restart.delay) } : {}), ...(restart.maxAttempts ? { MaxAttempts: restart.maxAttempts } : {}) } }
                : {}),
            ForceUpdate: ts.forceUpdate ?? 0,
        },
        Mode: mode.global ? { Global: {} } : { Replicated: { Replicas: mode.replicated?.replicas ?? 1 } },
        ...(i.updateConfig ? { UpdateConfig: policySpec(i.updateConfig as Props) } : {}),
        ...(i.rollbackConfig ? { RollbackConfig: policySpec(i.rollbackConfig as Props) } : {}),
        EndpointSpec: {
            Mode: endpoint.mode ?? "vip",
            Ports: ((endpoint.ports as Props[]) ?? []).map((p) => ({
                Protocol: p.protocol ?? "tcp",
                TargetPort: p.targetPort,
                PublishedPort: p.publishedPort,
                PublishMode: p.publishMode ?? "ingress",
            })),
        },
    };
}

const service: Handler = {
    exists: (id, ctx) => apiExists(ctx, `/services/${id}`),
    async create(_name, i, ctx) {
        const res = (await dockerApi(ctx.engine, "POST", "/services/create", await serviceSpec(i, ctx))) as { ID: string };
        return { id: res.ID, outputs: { ...i } };
    },
    async update(_name, id, _olds, news, _o, ctx) {
        const cur = (await dockerApi(ctx.engine, "GET", `/services/${id}`)) as { Version: { Index: number } };
        await dockerApi(ctx.engine, "POST", `/services/${id}/update?version=${cur.Version.Index}`, await serviceSpec(news, ctx));
        return { ...news };
    },
    replaces: (olds, news) =>
        anyChanged(olds, news, ["name", "auth"]) ||
        !same(((olds.taskSpec ?? {}) as Props).networksAdvanceds, ((news.taskSpec ?? {}) as Props).networksAdvanceds),
    async delete(_name, id, _i, _o, ctx) {
        try {
            await dockerApi(ctx.engine, "DELETE", `/services/${id}`);
        } catch (e) {
            if (!(e instanceof DockerApiError && e.status === 404)) throw e;
        }
        // The service's tasks stop asynchronously: whoever deletes a network next retries while it is still in use.
    },
};

// ---- docker:index/secret:Secret (immutable: replace) -------------------------------------------

const secret: Handler = {
    async create(name, i, ctx) {
        const secretName = i.name ?? `${name}-${crypto.randomBytes(4).toString("hex")}`;
        const res = (await dockerApi(ctx.engine, "POST", "/secrets/create", { Name: secretName, Data: i.data, Labels: labelsOf(i.labels) })) as { ID: string };
        return { id: res.ID, outputs: { ...i, name: secretName } };
    },
    replaces: allChange,
    async delete(_name, id, _i, _o, ctx) {
        await retry(30, async () => {
            try {
                await dockerApi(ctx.engine, "DELETE", `/secrets/${id}`);
            } catch (e) {
                if (!(e instanceof DockerApiError && e.status === 404)) throw e;
            }
        });
    },
};

// ---- command:local:Command (triggers replace; other changes run update, or create again) ------

async function runCommand(name: string, what: "create" | "update" | "delete", script: string, i: Props, extraEnv: Record<string, string> = {}): Promise<{ stdout: string; stderr: string }> {
    const interpreter = ((i.interpreter as string[]) ?? ["/bin/sh", "-c"]).map(String);
    const env = Object.fromEntries(Object.entries((i.environment as Props) ?? {}).map(([k, v]) => [k, String(v)]));
    const r = await run([...interpreter, script], {
        stdin: what === "delete" ? undefined : (i.stdin as string | undefined),
        env: { ...env, ...extraEnv },
        cwd: i.dir as string | undefined,
        timeoutMs: 600_000,
    });
    // The provider trims the trailing newline of stdout/stderr.
    const stdout = r.stdout.replace(/\n$/, "");
    const stderr = r.stderr.replace(/\n$/, "");
    if (r.code !== 0) {
        throw new Error(`command ${name} (${what}) failed: exit status ${r.code}\nstderr: ${stderr.trim().split("\n").slice(-15).join("\n")}`);
    }
    return { stdout, stderr };
}

const command: Handler = {
    async create(name, i) {
        if (!i.create) return { id: `${name}-${crypto.randomBytes(4).toString("hex")}`, outputs: { ...i, stdout: "", stderr: "" } };
        const out = await runCommand(name, "create", String(i.create), i);
        return { id: `${name}-${crypto.randomBytes(4).toString("hex")}`, outputs: { ...i, ...out } };
    },
    async update(name, _id, _olds, news, oldOutputs) {
        const script = news.update ?? news.create;
        if (!script) return { ...news, stdout: oldOutputs.stdout, stderr: oldOutputs.stderr };
        const prev: Record<string, string> = news.addPreviousOutputInEnv === false ? {} : { PULUMI_COMMAND_STDOUT: String(oldOutputs.stdout ?? ""), PULUMI_COMMAND_STDERR: String(oldOutputs.stderr ?? "") };
        const out = await runCommand(name, "update", String(script), news, prev);
        return { ...news, ...out };
    },
    replaces: (olds, news) => !same(olds.triggers, news.triggers),
    async delete(name, _id, i, outputs) {
        if (!i.delete) return;
        const prev: Record<string, string> = i.addPreviousOutputInEnv === false ? {} : { PULUMI_COMMAND_STDOUT: String(outputs.stdout ?? ""), PULUMI_COMMAND_STDERR: String(outputs.stderr ?? "") };
        await runCommand(name, "delete", String(i.delete), i, prev);
    },
};

// ---- random:index/randomPassword:RandomPassword (keepers/any arg change replaces) --------------

const randomPassword: Handler = {
    async create(_name, i) {
        const length = Number(i.length ?? 16);
        const lower = "abcdefghijklmnopqrstuvwxyz";
        const upper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
        const digits = "0123456789";
        const special = String(i.overrideSpecial ?? "!@#$%&*()-_=+[]{}<>:?");
        const alphabet = (i.lower === false ? "" : lower) + (i.upper === false ? "" : upper) + (i.numeric === false ? "" : digits) + (i.special === false ? "" : special);
        let result = "";
        for (let k = 0; k < length; k++) result += alphabet[crypto.randomInt(alphabet.length)];
        return { id: "none", outputs: { ...i, result } };
    },
    replaces: allChange,
    async delete() {},
};

export const HANDLERS: Record<string, Handler> = {
    "pulumi:providers:docker": provider,
    "docker:index/network:Network": network,
    "docker:index/volume:Volume": volume,
    "docker:index/image:Image": image,
    "docker:index/container:Container": container,
    "docker:index/service:Service": service,
    "docker:index/secret:Secret": secret,
    "command:local:Command": command,
    "random:index/randomPassword:RandomPassword": randomPassword,
};
