// Lab helpers: engine runs (one child process each, bounded), docker/shell probes, HTTP through the VIP and
// bounded load loops. Everything talks only to containers the lab created and to loopback.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import { stringify } from "yaml";
import type { StatusReport } from "../../model/status";
import { gatewayEngine, LAB_DIR, labConfig, LabOverrides, PROJECT_DIR, releaseTags } from "./lab-config";
import type { EngineResult } from "./engine/engine";

export const VIP = "172.28.40.100";
/** The swarm provider's host: the bootstrap manager's engine API (TLS, client certificate required), on loopback. */
export const MANAGER = "tcp://127.0.0.1:23750";
/** The client certificate, CA and key the lab engine wrote from the provider's material (docker-api.ts useEngineTls). */
export const MANAGER_TLS_DIR = path.join(LAB_DIR, "engine-tls", MANAGER.replace(/[^A-Za-z0-9.-]+/g, "_"));
/** The docker CLI on the swarm's bootstrap manager, authenticated as the provider is. */
export const MANAGER_DOCKER = `docker --tlsverify --tlscacert=${MANAGER_TLS_DIR}/ca.pem --tlscert=${MANAGER_TLS_DIR}/cert.pem --tlskey=${MANAGER_TLS_DIR}/key.pem -H ${MANAGER}`;
export const PREFIX = "swarm-platform-dev";
export const NODES = ["manager-1", "gw-1", "gw-2", "worker-1"] as const;
export const GATEWAYS = ["gw-1", "gw-2"] as const;
export const containerOf = (node: string) => `${PREFIX}-${node}`;

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const now = () => Date.now() / 1000;

// ---- figures ----------------------------------------------------------------------------------

const FIGURES = path.join(LAB_DIR, "figures.txt");
/** Prints `LAB name=value` and keeps it in .lab/figures.txt (run.sh prints them all at the end). */
export function figure(name: string, value: string | number): void {
    // The HAProxy pass's figures carry the engine in their names (both passes share figures.txt).
    const line = `LAB ${gatewayEngine() === "haproxy" ? "haproxy_" : ""}${name}=${typeof value === "number" ? Number(value.toFixed(2)) : value}`;
    fs.mkdirSync(LAB_DIR, { recursive: true });
    fs.appendFileSync(FIGURES, `${line}\n`);
    console.log(line);
}

// ---- shell --------------------------------------------------------------------------------------

export interface Sh {
    readonly code: number;
    readonly stdout: string;
    readonly stderr: string;
}

/** bash -c, bounded (SIGKILL of the process group after timeoutMs). */
export function sh(cmd: string, timeoutMs = 60_000, stdin?: string): Promise<Sh> {
    return new Promise((resolve) => {
        const child = spawn("bash", ["-c", cmd], { stdio: ["pipe", "pipe", "pipe"], detached: true });
        let out = "";
        let err = "";
        child.stdout.on("data", (c: Buffer) => (out += c.toString()));
        child.stderr.on("data", (c: Buffer) => (err += c.toString()));
        const timer = setTimeout(() => {
            try {
                process.kill(-(child.pid as number), "SIGKILL");
            } catch {
                /* gone */
            }
            err += `\n(timed out after ${timeoutMs} ms)`;
        }, timeoutMs);
        child.on("close", (code) => {
            clearTimeout(timer);
            resolve({ code: code ?? 137, stdout: out.trim(), stderr: err.trim() });
        });
        child.stdin.on("error", () => undefined);
        child.stdin.end(stdin ?? "");
    });
}

/** sh that must succeed. */
export async function must(cmd: string, timeoutMs = 60_000): Promise<string> {
    const r = await sh(cmd, timeoutMs);
    if (r.code !== 0) throw new Error(`${cmd}: exit ${r.code}: ${r.stderr}`);
    return r.stdout;
}

/** docker on the swarm's first manager. */
export const onManager = (args: string, timeoutMs = 30_000) => must(`${MANAGER_DOCKER} ${args}`, timeoutMs);
/** A command inside a node container (its own engine is `docker` there). */
export const onNode = (node: string, cmd: string, timeoutMs = 30_000) => sh(`docker exec ${containerOf(node)} sh -c ${shQuote(cmd)}`, timeoutMs);

/** Does a TCP connection to address:port succeed within `seconds` (bash's /dev/tcp, run where `where` says)? */
export async function tcpOpen(where: { node?: string; container?: string }, address: string, port: number, seconds = 3): Promise<boolean> {
    const probe = `timeout ${seconds} bash -c '</dev/tcp/${address}/${port}' 2>/dev/null`;
    const inside = where.node ? containerOf(where.node) : where.container;
    const r = await sh(inside ? `docker exec ${inside} bash -c ${shQuote(probe)}` : `bash -c ${shQuote(probe)}`, (seconds + 10) * 1000);
    return r.code === 0;
}

/** Single-quotes a string for bash (so `$…` is expanded inside the node, not on the host). */
export const shQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Polls fn until it returns a truthy value or `seconds` pass; returns the last value. */
export async function until<T>(seconds: number, fn: () => Promise<T>, everyMs = 500): Promise<T> {
    const end = Date.now() + seconds * 1000;
    let last: T;
    for (;;) {
        try {
            last = await fn();
        } catch {
            last = undefined as T;
        }
        if (last || Date.now() > end) return last;
        await sleep(everyMs);
    }
}

// ---- engine runs -----------------------------------------------------------------------------

/** What one engine run reports (the engine prints it as JSON; the type is the engine's own). */
export type EngineRun = EngineResult;

let runNo = 0;
/** One engine run (`up`/`destroy`) in a child process with a fresh Pulumi SDK; bounded by timeoutMs. */
export async function engine(cmd: "up" | "destroy", overrides: LabOverrides = {}, timeoutMs = 600_000, env: Record<string, string> = {}): Promise<EngineRun> {
    fs.mkdirSync(LAB_DIR, { recursive: true });
    const n = ++runNo;
    const file = path.join(LAB_DIR, `overrides-${n}.json`);
    fs.writeFileSync(file, JSON.stringify(overrides, null, 1));
    if (cmd === "up") await tagReleases(overrides);
    const log = path.join(LAB_DIR, "engine.log");
    fs.appendFileSync(log, `\n===== run ${n}: ${cmd} ${file}\n`);
    const envs = Object.entries(env).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(" ");
    // tsx's CommonJS hook only: the program is CommonJS, and its ESM loader (a hooks thread) costs each run ~0.5 s
    const r = await sh(
        `cd ${PROJECT_DIR} && ${envs} node --require ./test/lab/engine/ts-loader.cjs test/lab/engine/cli.ts ${cmd} ${file} 2>>${log}`,
        timeoutMs,
    );
    const line = r.stdout.split("\n").reverse().find((l) => l.startsWith("LAB-RESULT "));
    if (!line) throw new Error(`engine ${cmd} produced no result (exit ${r.code}): ${r.stderr.slice(-2000)}; see ${log}`);
    return JSON.parse(line.slice("LAB-RESULT ".length)) as EngineRun;
}

export const changed = (r: EngineRun) => r.counts.created + r.counts.updated + r.counts.replaced + r.counts.deleted;

/** `docker tag swarm-lab/demo-app:latest swarm-lab/demo-app:<release>` for every release the overrides name. */
export async function tagReleases(overrides: LabOverrides): Promise<void> {
    const { devApps } = await import("./lab-config");
    for (const tag of releaseTags(overrides.apps ?? devApps())) await must(`docker tag swarm-lab/demo-app:latest ${tag}`);
}

// ---- swarm probes ----------------------------------------------------------------------------

/** name → "running/desired" for every service. */
export async function serviceReplicas(): Promise<Record<string, string>> {
    const out = await onManager(`service ls --format '{{.Name}} {{.Replicas}}'`);
    return Object.fromEntries(out.split("\n").filter(Boolean).map((l) => l.split(" ") as [string, string]));
}

/** Waits until every service runs all its tasks (bounded). */
export async function converged(seconds = 90, expect?: Record<string, number>): Promise<boolean> {
    return until(seconds, async () => {
        const reps = await serviceReplicas();
        const all = Object.entries(reps).every(([, r]) => {
            const [a, b] = r.split("/");
            return a === b && b !== "0";
        });
        const want = Object.entries(expect ?? {}).every(([s, n]) => reps[s] === `${n}/${n}`);
        return all && want;
    }, 1000);
}

/** Running task ids of a service. */
export async function taskIds(service: string): Promise<string[]> {
    const out = await onManager(`service ps ${service} -q --filter desired-state=running`);
    return out.split("\n").filter(Boolean).sort();
}

/** Which gateway nodes hold the VIP on their interface. */
export async function vipHolders(nodes: readonly string[] = NODES): Promise<string[]> {
    const held: string[] = [];
    for (const n of nodes) {
        const r = await onNode(n, "ip -4 -o addr show", 10_000);
        if (r.code === 0 && r.stdout.includes(` ${VIP}/`)) held.push(n);
    }
    return held;
}

// ---- HTTP through the VIP ----------------------------------------------------------------------

export interface Answer {
    readonly t: number;
    readonly host: string;
    /** HTTP status, or 0 when the connection failed / was closed without a response. */
    readonly status: number;
    readonly body: string;
    readonly error?: string;
    readonly release?: string;
    readonly task?: string;
    /** Seconds from the request's start to its answer or failure. */
    readonly took?: number;
}

/** One GET to http://VIP<path> with the Host header; a fresh connection each time (follows the VIP at once). */
export function get(host: string, urlPath = "/", timeoutMs = 2000, address = VIP): Promise<Answer> {
    const t = now();
    return new Promise((resolve) => {
        const req = http.request({ host: address, port: 80, path: urlPath, method: "GET", headers: { Host: host }, agent: false, timeout: timeoutMs }, (res) => {
            let body = "";
            res.on("data", (c: Buffer) => (body += c.toString()));
            res.on("end", () => {
                const m = /release=(\S+) host=(\S+)/.exec(body);
                resolve({ t, host, status: res.statusCode ?? 0, body: body.trim(), ...(m ? { release: m[1], task: m[2] } : {}), took: now() - t });
            });
            res.on("error", (e) => resolve({ t, host, status: 0, body: "", error: e.message, took: now() - t }));
        });
        req.on("timeout", () => req.destroy(new Error("timeout")));
        req.on("error", (e) => resolve({ t, host, status: 0, body: "", error: (e as NodeJS.ErrnoException).code ?? e.message, took: now() - t }));
        req.end();
    });
}

export interface Load {
    /** Stops the loop and returns every answer. */
    stop(): Promise<Answer[]>;
    readonly answers: Answer[];
}

/**
 * A bounded background load: requests round-robin over `hosts`, one at a time per worker, until stop(),
 * `maxRequests` or `maxSeconds` — whichever comes first. Each worker waits `pauseMs` after an answer, or, with
 * `periodMs`, starts a request at most every `periodMs` (no pause once answers take that long).
 */
export function load(hosts: string[], opts: { maxRequests?: number; maxSeconds?: number; workers?: number; pauseMs?: number; periodMs?: number; timeoutMs?: number; address?: string } = {}): Load {
    const maxRequests = opts.maxRequests ?? 5000;
    const end = Date.now() + (opts.maxSeconds ?? 120) * 1000;
    const answers: Answer[] = [];
    let stopped = false;
    let i = 0;
    const worker = async () => {
        while (!stopped && answers.length < maxRequests && Date.now() < end) {
            const host = hosts[i++ % hosts.length];
            const started = Date.now();
            answers.push(await get(host, "/", opts.timeoutMs ?? 1000, opts.address ?? VIP));
            await sleep(opts.periodMs !== undefined ? Math.max(0, opts.periodMs - (Date.now() - started)) : (opts.pauseMs ?? 20));
        }
    };
    const done = Promise.all(Array.from({ length: opts.workers ?? 2 }, worker));
    return {
        answers,
        async stop() {
            stopped = true;
            await done;
            return answers;
        },
    };
}

export const failed = (a: Answer) => a.status !== 200;

/**
 * The steady load of the zero-failure scenarios (issue: ≥ 100 requests/s through the VIP, a request failing when it
 * gets no 200, a reset, or no answer within 2 s; no retry). 8 workers, fresh connections, bounded in time and count;
 * `address`: another profile's virtual IP. Each worker starts a request every 50 ms (160 requests/s in all) and
 * does not pause when answers are slower: with a fixed pause after each answer (30 ms), answers slowed to 52 ms by
 * an `up` loading images on this 2-core machine brought the rate to 98/s, under the floor, with 0 failed.
 */
export function steadyLoad(hosts: string[], maxSeconds = 300, address = VIP): Load {
    return load(hosts, { workers: 8, periodMs: 50, timeoutMs: 2000, maxRequests: 100_000, maxSeconds, address });
}

/** Requests per second over the load's span. */
export function rate(answers: readonly Answer[]): number {
    if (answers.length < 2) return 0;
    const ts = answers.map((a) => a.t);
    return answers.length / Math.max(Math.max(...ts) - Math.min(...ts), 1e-3);
}

/**
 * The zero-failure check: records `<label>_requests`, `_failed`, `_seconds` and `_rps` as figures, keeps the answers,
 * and fails on any failed request or a rate under `minRate`.
 */
export function assertZeroFailures(label: string, answers: Answer[], minRate = 100): void {
    assertFailuresAtMost(label, answers, 0, minRate);
}

/** As assertZeroFailures, allowing at most `max` failed requests (the figures count every one). */
export function assertFailuresAtMost(label: string, answers: Answer[], max: number, minRate = 100): void {
    const ts = answers.map((a) => a.t);
    const seconds = answers.length ? Math.max(...ts) - Math.min(...ts) : 0;
    const bad = answers.filter(failed);
    figure(`${label}_requests`, answers.length);
    figure(`${label}_failed`, bad.length);
    figure(`${label}_seconds`, seconds.toFixed(1));
    figure(`${label}_rps`, rate(answers).toFixed(0));
    keep(label, answers);
    assert.ok(bad.length <= max, `${label}: ${bad.length} failed of ${answers.length}${max ? ` (at most ${max} allowed)` : ""}: ${summary(bad)}`);
    assert.ok(rate(answers) >= minRate, `${label}: ${rate(answers).toFixed(0)} requests/s, under ${minRate}`);
}

/** The longest stretch without a successful answer that overlaps [from, to] (seconds), measured between successes. */
export function outage(answers: Answer[], from: number): number {
    const sorted = [...answers].sort((a, b) => a.t - b.t);
    let lastOk = from;
    let worst = 0;
    let sawFailure = false;
    for (const a of sorted) {
        if (a.t < from) continue;
        if (failed(a)) sawFailure = true;
        else {
            if (sawFailure) worst = Math.max(worst, a.t - lastOk);
            lastOk = a.t;
            sawFailure = false;
        }
    }
    return worst;
}

/** Counts by host and outcome, with the first/last time (s, relative to the first answer) of each. */
export function summary(answers: Answer[]): string {
    const t0 = Math.min(...answers.map((a) => a.t));
    const by: Record<string, { n: number; from: number; to: number }> = {};
    for (const a of answers) {
        const k = `${a.host} ${a.status === 200 ? `200:${a.release ?? "?"}` : `${a.status}${a.error ? `:${a.error}` : ""}`}`;
        const e = (by[k] ??= { n: 0, from: a.t - t0, to: a.t - t0 });
        e.n++;
        e.to = a.t - t0;
    }
    return Object.entries(by)
        .map(([k, e]) => `${k} ×${e.n} [${e.from.toFixed(1)}–${e.to.toFixed(1)} s]`)
        .join("; ");
}

/** Keeps a load's answers in .lab/load-<label>.json for later analysis. */
export function keep(label: string, answers: Answer[]): void {
    fs.writeFileSync(path.join(LAB_DIR, `load-${label}.json`), JSON.stringify(answers));
}

// ---- npm run status against the lab ----------------------------------------------------------------------

export interface StatusRun {
    readonly code: number;
    readonly report: StatusReport;
    readonly seconds: number;
}

/** `npm run status -- dev --json` on the lab's stack (Pulumi.dev.yaml + these overrides, written as a stack file). */
export async function status(overrides: LabOverrides = {}): Promise<StatusRun> {
    const file = path.join(LAB_DIR, "status-stack.yaml");
    fs.writeFileSync(file, stringify({ config: labConfig(overrides) }));
    const t0 = now();
    const r = await sh(`cd ${PROJECT_DIR} && node --import tsx scripts/status.ts dev --stack-file ${file} --json`, 60_000);
    const seconds = now() - t0;
    let report: StatusReport;
    try {
        report = JSON.parse(r.stdout) as StatusReport;
    } catch {
        throw new Error(`status printed no report (exit ${r.code}): ${r.stderr.slice(-2000)}`);
    }
    return { code: r.code, report, seconds };
}
