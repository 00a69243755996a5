// The rendered gateway, running: real nginx / HAProxy in a private network namespace with a stub for Docker's DNS
// (127.0.0.11) and echoing backends (fixtures/upstream-stub.ts). Shared by gateway-lab.test.ts and
// gateway-behaviour.test.ts.
import * as assert from "node:assert/strict";
import { ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import type { TestContext } from "node:test";
import { type Plan } from "../../model";
import { renderGatewayFiles } from "../../model/gateway";
import { reachableBackends, servingBackends } from "../../model/releases";
import { createNetns, deleteNetns, hasTool, needNetns, needTools, removeDir, run, tempDir, withLocalPaths, writeFile } from "./helpers";

const STUB = path.join(__dirname, "fixtures", "upstream-stub.ts");
const RAW_CLIENT = path.join(__dirname, "fixtures", "raw-client.ts");
const TOOLS = ["curl", "openssl"];

// ---- processes in the namespace -----------------------------------------------------------------------

const started: ChildProcess[] = [];

/** Starts `cmd` inside the namespace; resolves once `ready` appears on stdout (or at once without `ready`).
 *  `onStdout` gets each chunk of its stdout as read. */
export function startIn(netns: string, cmd: string[], opts: { ready?: string; onStdout?: (chunk: Buffer) => void } = {}): Promise<ChildProcess> {
    const child = spawn("ip", ["netns", "exec", netns, ...cmd], { stdio: ["ignore", opts.ready || opts.onStdout ? "pipe" : "ignore", "pipe"] });
    started.push(child);
    if (opts.onStdout) child.stdout?.on("data", opts.onStdout);
    let stderr = "";
    child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
    if (!opts.ready) return Promise.resolve(child);
    return new Promise((resolve, reject) => {
        let out = "";
        child.stdout?.on("data", (d: Buffer) => {
            out += d.toString();
            if (out.includes(opts.ready as string)) resolve(child);
        });
        child.on("exit", (code) => reject(new Error(`${cmd.join(" ")} exited ${code} before it was ready: ${stderr}`)));
    });
}

export function exited(child: ChildProcess, timeoutMs: number): Promise<number | null> {
    if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
    return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`process ${child.pid} still running after ${timeoutMs} ms`)), timeoutMs);
        child.once("exit", (code) => {
            clearTimeout(timer);
            resolve(code);
        });
    });
}

export async function stop(child: ChildProcess | undefined): Promise<void> {
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    await exited(child, 10_000).catch(() => child.kill("SIGKILL"));
}

/** Stops every process this module started (call from the test file's `after`). */
export async function stopAll(): Promise<void> {
    for (const c of started) await stop(c);
}

// ---- HTTP from inside the namespace ----------------------------------------------------------------------

export interface Reply {
    readonly exit: number | null;
    readonly code: number;
    readonly body: string;
    /** Answer header lines (with -i / --include only). */
    readonly headers: string;
    readonly stderr: string;
}

/** curl inside the namespace; `include` also returns the answer's header lines. */
export function curl(netns: string, args: string[], opts: { include?: boolean } = {}): Reply {
    const r = run("ip", ["netns", "exec", netns, "curl", "-sS", "--max-time", "5", ...(opts.include ? ["-i"] : []), "-o", "-", "-w", "\n%{http_code}", ...args]);
    const cut = r.stdout.lastIndexOf("\n");
    let body = r.stdout.slice(0, cut);
    let headers = "";
    if (opts.include) {
        const end = body.indexOf("\r\n\r\n");
        headers = end >= 0 ? body.slice(0, end) : body;
        body = end >= 0 ? body.slice(end + 4) : "";
    }
    return { exit: r.status, code: Number(r.stdout.slice(cut + 1)), body, headers, stderr: r.stderr };
}

export function get(netns: string, port: number, host: string, pathAndQuery = "/", extra: string[] = []): Reply {
    return curl(netns, ["-H", `Host: ${host}`, ...extra, `http://127.0.0.1:${port}${pathAndQuery}`]);
}

/** The gateway's health socket (a file in the lab dir: reachable without entering the namespace). */
export function health(lab: Lab, pathAndQuery = lab.plan.gateway.healthPath): Reply {
    const r = run("curl", ["-sS", "--max-time", "5", "--unix-socket", lab.plan.gateway.healthSocket, "-o", "-", "-w", "\n%{http_code}", `http://localhost${pathAndQuery}`]);
    const cut = r.stdout.lastIndexOf("\n");
    return { exit: r.status, code: Number(r.stdout.slice(cut + 1)), body: r.stdout.slice(0, cut), headers: "", stderr: r.stderr };
}

export interface Echo {
    url: string;
    local: string;
    headers: Record<string, string>;
    rawHeaders: string[];
    bodyBytes: number;
}

export function echo(reply: Reply): Echo {
    assert.equal(reply.code, 200, `expected 200, got ${reply.code} (curl exit ${reply.exit}): ${reply.body}`);
    return JSON.parse(reply.body) as Echo;
}

export interface RawOutcome {
    readonly response: string;
    readonly closedAfterMs: number | null;
    readonly writeError?: string;
    readonly webSocketEcho?: string;
}

/** fixtures/raw-client.ts inside the namespace: timed request pieces, or a WebSocket handshake and one frame. */
export function rawRequest(
    netns: string,
    opts: { port: number; pieces: { data: string; delayMs: number }[]; waitMs: number; webSocketText?: string; localAddress?: string },
): RawOutcome {
    const total = opts.pieces.reduce((s, p) => s + p.delayMs, 0) + opts.waitMs + 15_000;
    const r = run("ip", ["netns", "exec", netns, process.execPath, "--import", "tsx", RAW_CLIENT, JSON.stringify(opts)], { timeout: total });
    assert.equal(r.status, 0, `raw client failed: ${r.stderr}`);
    return JSON.parse(r.stdout) as RawOutcome;
}

/** A WebSocket handshake request for `host` (RFC 6455's sample key). */
export function webSocketHandshake(host: string, pathAndQuery = "/ws", extraLines: readonly string[] = []): string {
    return [
        `GET ${pathAndQuery} HTTP/1.1`,
        `Host: ${host}`,
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Version: 13",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        ...extraLines,
        "",
        "",
    ].join("\r\n");
}

export async function eventually<T>(what: string, probe: () => T, ok: (v: T) => boolean, timeoutMs = 15_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let last = probe();
    while (!ok(last)) {
        if (Date.now() > deadline) assert.fail(`${what}: still ${JSON.stringify(last)} after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 200));
        last = probe();
    }
    return last;
}

// ---- the lab -------------------------------------------------------------------------------------------

/** Each service resolves to its own loopback address, so the backend's local address says which one was reached. */
function serviceAddresses(plan: Plan, missing: readonly string[]): Record<string, string[]> {
    const services = [...new Set(plan.routes.flatMap((r) => reachableBackends(r).map((b) => b.service)))].sort().filter((s) => !missing.includes(s));
    const names: Record<string, string[]> = {};
    services.forEach((s, i) => {
        names[s] = [`127.0.0.${i + 2}`];
        names[`tasks.${s}`] = [`127.0.0.${i + 2}`];
    });
    return names;
}

/** The namespace's resolver is 127.0.0.11, as in a Docker container: `ip netns exec` mounts this file over
 *  /etc/resolv.conf, so libc lookups (the nginx gateway's upstream watcher) ask the DNS stub. */
export function useDockerDns(netns: string): void {
    writeFile(`/etc/netns/${netns}/resolv.conf`, "nameserver 127.0.0.11\noptions ndots:0\n");
}

/** Removes the namespace and its resolver file. */
function removeNetns(netns: string): void {
    deleteNetns(netns);
    fs.rmSync(`/etc/netns/${netns}`, { recursive: true, force: true });
}

export interface Lab {
    readonly netns: string;
    readonly dir: string;
    /** The plan with certificates, routes, state dir and health socket moved into `dir`. */
    readonly plan: Plan;
    readonly names: Record<string, string[]>;
}

/** How the stub deviates from "every service on its own address, answering at once" (fixtures/upstream-stub.ts). */
export interface StubOptions {
    /** DNS names merged over the default ones (a service's name and `tasks.<service>`). */
    readonly names?: Record<string, string[]>;
    /** Addresses the echoing backends listen on (default: all); other addresses in DNS refuse connections. */
    readonly listen?: readonly string[];
    /** Addresses whose backends read a request and close without an answer; logged to `<dir>/dropped.log`. */
    readonly drop?: readonly string[];
    readonly dnsDelayMs?: number;
    /** Names that get no answer for this many milliseconds from their first query. */
    readonly dnsSilentMs?: Readonly<Record<string, number>>;
}

/** A namespace with the DNS and backend stub running; `missing` services are not in DNS. */
export async function startLab(plan: Plan, missing: readonly string[] = [], stub: StubOptions = {}): Promise<Lab> {
    const netns = createNetns();
    useDockerDns(netns);
    const dir = tempDir("lab");
    const lab = { netns, dir, plan, names: { ...serviceAddresses(plan, missing), ...stub.names } };
    try {
        fs.chmodSync(dir, 0o755);
        const ports = [...new Set(plan.routes.flatMap((r) => r.backends.map((b) => b.port)))];
        const config = { names: lab.names, ports, listen: stub.listen, drop: stub.drop, dropLog: path.join(dir, "dropped.log"), dnsDelayMs: stub.dnsDelayMs, dnsSilentMs: stub.dnsSilentMs };
        await startIn(netns, [process.execPath, "--import", "tsx", STUB, JSON.stringify(config)], { ready: "ready" });
        const local = withLocalPaths(plan, dir, { certificates: true });
        const stateDir = path.join(dir, "state");
        fs.mkdirSync(stateDir, { mode: 0o755 });
        // The routes step's FIFO pair (gateway-routes-apply makes it on a node): the entrypoint serves the agent on it.
        for (const end of ["in", "out"]) {
            const made = run("mkfifo", ["-m", "0600", `${local.gateway.agent.fifo}.${end}`]);
            if (made.status !== 0) throw new Error(`mkfifo: ${made.stderr}`);
        }
        return { ...lab, plan: { ...local, gateway: { ...local.gateway, stateDir, healthSocket: path.join(stateDir, "health.sock") } } };
    } catch (err) {
        stopLab(lab);
        throw err;
    }
}

export function stopLab(lab: Lab | undefined): void {
    if (!lab) return;
    removeNetns(lab.netns);
    removeDir(lab.dir);
}

/**
 * The engine in the foreground, on the rendered files; resolves once healthy. nginx runs under the image's
 * entrypoint (no drain): its upstreams' task addresses come from the entrypoint's DNS lookups. HAProxy runs alone.
 */
export async function startEngine(lab: Lab): Promise<ChildProcess> {
    if (lab.plan.gateway.engine === "nginx") return startEntrypoint(lab, 0);
    const files = renderGatewayFiles(lab.plan.gateway, lab.plan.routes);
    const routes = writeFile(path.join(lab.dir, files.routes.name), files.routes.content);
    const main = writeFile(path.join(lab.dir, files.main.name), files.main.content);
    const cmd = ["haproxy", "-db", "-f", main, "-f", routes];
    const child = await startIn(lab.netns, cmd);
    await eventually("gateway health", () => health(lab).code, (c) => c === 200);
    return child;
}

/**
 * The image's entrypoint (drain on SIGTERM, reload forwarding, HAProxy's server state) around the engine: main
 * config at its image path (a private mount), routes and state in the lab dir; resolves once healthy.
 */
export async function startEntrypoint(lab: Lab, drainSeconds: number, opts: { onStdout?: (chunk: Buffer) => void } = {}): Promise<ChildProcess> {
    const gwPlan: Plan = { ...lab.plan, gateway: { ...lab.plan.gateway, drainSeconds } };
    const files = renderGatewayFiles(gwPlan.gateway, gwPlan.routes);
    const mainPath = gwPlan.gateway.mainFile.path;
    writeFile(path.join(lab.dir, files.routes.name), files.routes.content);
    const main = writeFile(path.join(lab.dir, files.main.name), files.main.content);
    const entrypoint = writeFile(path.join(lab.dir, "entrypoint.sh"), files.entrypoint.content, 0o755);
    // A fresh /run keeps the pid files private; the main config goes where the Dockerfile copies it.
    const placeMain =
        gwPlan.gateway.engine === "nginx"
            ? `mount --bind "$1" ${mainPath}`
            : `mount -t tmpfs tmpfs /usr/local/etc && mkdir -p ${path.dirname(mainPath)} && cp "$1" ${mainPath}`;
    const script = `mount -t tmpfs tmpfs /run && ${placeMain} && exec sh "$2"`;
    const child = await startIn(lab.netns, ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "_", main, entrypoint], opts);
    await eventually("entrypoint health", () => health({ ...lab, plan: gwPlan }).code, (c) => c === 200);
    return child;
}

/** The service serving a plain hostname (its one release with weight). */
export function serviceOf(plan: Plan, hostname: string): string {
    const r = plan.routes.find((x) => x.hostname === hostname);
    assert.ok(r, hostname);
    const serving = servingBackends(r);
    assert.equal(serving.length, 1, `${hostname} is served by ${serving.length} releases`);
    return serving[0].service;
}

/** Whether this machine can run the gateway lab for `engine` (skips loudly, or fails in CI, when it cannot). */
export function canRunLab(t: TestContext, engine: string): boolean {
    return needTools(t, engine, ...TOOLS) && needNetns(t, `the ${engine} gateway runs with its backends in a network namespace`);
}

/** The same check without a test context (for `before` hooks). */
export function labPossible(engine: string): boolean {
    return hasTool(engine) && process.getuid?.() === 0 && TOOLS.every(hasTool);
}
