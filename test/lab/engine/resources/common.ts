// What every resource type shares: the handler interface, the generic diff against the state read back, and the
// small process/docker helpers. The provider rules themselves: docs/provider-rules.md.
import { spawn } from "node:child_process";
import { dockerApi, DockerApiError, dockerHostArgs } from "../docker-api";

export type Props = Record<string, unknown>;

export interface Ctx {
    /** The docker engine a resource's provider points at (host engine when no explicit provider). */
    readonly engine: string;
    readonly log: (msg: string) => void;
}

export interface Created {
    readonly id: string;
    /** The state as the provider reads it back after the create (what the next run diffs against). */
    readonly outputs: Props;
}

/** A provider's answer to "what does this change do": the changed top-level inputs and those forcing a new resource. */
export interface Diff {
    readonly changed: string[];
    readonly replaces: string[];
}

export interface Handler {
    create(name: string, inputs: Props, ctx: Ctx): Promise<Created>;
    /** Absent: every change replaces. `state` is the stored (read-back) state. Returns the new state. */
    update?(name: string, id: string, state: Props, news: Props, ctx: Ctx): Promise<Props>;
    /** The provider's diff of the stored state against the new inputs (`olds`: the previous inputs). */
    diff(state: Props, olds: Props, news: Props): Diff;
    /** The provider asks for delete-before-replace (an explicit name on an auto-named resource; Container always). */
    deleteBeforeReplace?(news: Props): boolean;
    delete(name: string, id: string, inputs: Props, state: Props, ctx: Ctx): Promise<void>;
    /** For `--refresh`: false when the resource is gone from the engine (it is then created again). */
    exists?(id: string, ctx: Ctx): Promise<boolean>;
}

/** An input the engine does not know yet (a dependency being replaced): equal to nothing. */
export const UNKNOWN = "\u0000<unknown>";

// ---- comparing ----------------------------------------------------------------------------------

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
export const same = (a: unknown, b: unknown) => canonical(a) === canonical(b);

function hasUnknown(v: unknown): boolean {
    if (v === UNKNOWN) return true;
    if (Array.isArray(v)) return v.some(hasUnknown);
    if (v && typeof v === "object") return Object.values(v).some(hasUnknown);
    return false;
}

/**
 * Does the state read back match what the program asks for? Fields the program leaves out are the provider's
 * (computed or defaulted): no diff. Arrays compare element-wise and must have the same length. An unknown never matches.
 */
export function matches(state: unknown, want: unknown): boolean {
    if (want === undefined || want === null) return true;
    if (hasUnknown(want)) return false;
    if (Array.isArray(want)) {
        if (!Array.isArray(state) || state.length !== want.length) return false;
        return want.every((w, i) => matches(state[i], w));
    }
    if (typeof want === "object") {
        if (!state || typeof state !== "object") return Object.keys(want as Props).length === 0 && (state === undefined || state === null);
        return Object.entries(want as Props).every(([k, w]) => matches((state as Props)[k], w));
    }
    if (typeof want === "number" || typeof want === "boolean") return String(state) === String(want);
    return state === want;
}

/** The top-level inputs whose state does not match the new inputs, plus those the program dropped since last time. */
export function changedKeys(state: Props, olds: Props, news: Props, compare: (k: string, s: unknown, n: unknown) => boolean = (_k, s, n) => matches(s, n)): string[] {
    const keys = new Set([...Object.keys(news), ...Object.keys(olds)]);
    return [...keys].filter((k) => (news[k] === undefined ? olds[k] !== undefined : !compare(k, state[k], news[k])));
}

/** Diff where every change forces a new resource (Network, Volume, Secret, RandomPassword). */
export function diffAllReplace(state: Props, olds: Props, news: Props): Diff {
    const changed = changedKeys(state, olds, news);
    return { changed, replaces: changed };
}

/** Labels as the docker provider keeps them: a set of {label, value}; sorted so that order never matters. */
export function labelSet(l: unknown): { label: string; value: string }[] | undefined {
    if (l === undefined || l === null) return undefined;
    if (l === UNKNOWN) return l as never;
    return [...(l as { label: string; value: string }[])].sort((a, b) => (a.label < b.label ? -1 : a.label > b.label ? 1 : 0));
}
export const labelsOf = (l: unknown) => Object.fromEntries(((l as { label: string; value: string }[]) ?? []).map((x) => [x.label, x.value]));
export const labelsFrom = (m: Record<string, string> | null | undefined) => labelSet(Object.entries(m ?? {}).map(([label, value]) => ({ label, value }))) ?? [];

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

/** Nanoseconds → Go's time.Duration.String(). */
export function goDuration(ns: number): string {
    if (ns === 0) return "0s";
    const neg = ns < 0;
    let n = Math.abs(ns);
    let out: string;
    if (n < 1e9) {
        const [unit, div] = n < 1e3 ? ["ns", 1] : n < 1e6 ? ["µs", 1e3] : ["ms", 1e6];
        out = `${trimFrac(n / (div as number))}${unit}`;
    } else {
        const h = Math.floor(n / 3600e9);
        n -= h * 3600e9;
        const m = Math.floor(n / 60e9);
        n -= m * 60e9;
        const s = trimFrac(n / 1e9);
        out = h ? `${h}h${m}m${s}s` : m ? `${m}m${s}s` : `${s}s`;
    }
    return neg ? `-${out}` : out;
}
function trimFrac(x: number): string {
    return String(Math.round(x * 1e9) / 1e9);
}

/** The docker provider's shortDur: Go's duration text without a trailing "0s" after minutes or "0m" after hours. */
export function shortDur(ns: number | undefined): string | undefined {
    if (ns === undefined) return undefined;
    let s = goDuration(ns);
    if (s.endsWith("m0s")) s = s.slice(0, -2);
    if (s.endsWith("h0m")) s = s.slice(0, -2);
    return s;
}

// ---- running things -----------------------------------------------------------------------------

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

export async function docker(engine: string, args: string[], timeoutMs = 300_000): Promise<string> {
    const r = await run(["docker", ...dockerHostArgs(engine), ...args], { timeoutMs });
    if (r.code !== 0) throw new Error(`docker ${args.slice(0, 3).join(" ")} … failed (exit ${r.code}): ${r.stderr.trim()}`);
    return r.stdout.trim();
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Retries fn while it throws an engine-side error (not an unreachable engine), up to `seconds`; rethrows the last error. */
export async function retry<T>(seconds: number, fn: () => Promise<T>): Promise<T> {
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

/** GET that answers false on 404. */
export async function apiExists(ctx: Ctx, p: string): Promise<boolean> {
    try {
        await dockerApi(ctx.engine, "GET", p);
        return true;
    } catch (e) {
        if (e instanceof DockerApiError && e.status === 404) return false;
        throw e;
    }
}

/** DELETE that treats 404 as done. */
export async function apiDelete(ctx: Ctx, p: string): Promise<void> {
    try {
        await dockerApi(ctx.engine, "DELETE", p);
    } catch (e) {
        if (!(e instanceof DockerApiError && e.status === 404)) throw e;
    }
}

/** The bridged provider's rule (auto-naming on): an explicit `name` input means the new one cannot coexist with the old. */
export const explicitName = (news: Props) => news.name !== undefined && news.name !== null && news.name !== "";
