// Gateway overhead on loopback: requests/s, p50/p99 and CPU per request with wrk at a fixed concurrency, straight
// to the backends, through the gateway as the program renders it (the image's entrypoint around the rendered
// configs), and through a hand-tuned config of the same engine (static upstream with keepalive, buffered or
// sampled log), for nginx and HAProxy, against a trivial backend (nginx, a static answer) and one that waits 1 ms
// per request without using CPU (HAProxy + Lua core.msleep). The rendered gateway runs twice, side by side in the
// same run: metrics off (`gateway`) and on (`gateway+metrics`: the exporter's CPU counts as the gateway's).
// Everything runs in a private network namespace (loopback only) with the DNS stub standing in for Docker's
// 127.0.0.11 (test/render/fixtures/upstream-stub.ts). CPU is read from /proc (schedstat of every thread of the
// process tree, plus its reaped children) before and after each run, and divided by the requests of the run.
// The engine's stdout goes through a pipe to `cat` (standing in for Docker's log copier); cat's CPU counts as the
// gateway's. A figure script, not a test. Needs root, nginx, haproxy (with Lua) and wrk (Debian package `wrk`).
// Takes the lab's machine-wide lock (it loads the machine) unless the caller holds it (LAB_LOCK_HELD=1).
// Usage: npx tsx bench/gateway.ts    env: GW_BENCH_RUNS (5), GW_BENCH_SECONDS (3), GW_BENCH_CONNECTIONS (16),
//        GW_BENCH_ENGINES (nginx,haproxy: one alone for a quick look; `npm run bench` runs both)
// Last stdout line: BENCH {"gateway":[{engine, backend, path, rps, p50ms, p99ms, cpuUsPerReq}]} (medians).
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { type Plan } from "../model";
import { renderGatewayFiles } from "../model/gateway";
import { useDockerDns } from "../test/render/gateway-harness";
import { createNetns, deleteNetns, planOf, rawConfig, removeDir, tempDir, withLocalPaths, writeFile } from "../test/render/helpers";

// Five runs per figure: a 3 s p99 on this 2-core machine (wrk, the gateway and the backend share it) swings by 1 ms
// or more from one run to the next; the median of five is steadier than that of three.
const RUNS = Number(process.env.GW_BENCH_RUNS ?? 5);
const SECONDS = Number(process.env.GW_BENCH_SECONDS ?? 3);
const CONNECTIONS = Number(process.env.GW_BENCH_CONNECTIONS ?? 16);
const ENGINES = (process.env.GW_BENCH_ENGINES ?? "nginx,haproxy").split(",").filter((e): e is Engine => e === "nginx" || e === "haproxy");
const LOCK = process.env.LAB_LOCK ?? "/tmp/swarm-platform-lab.lock";

type Engine = "nginx" | "haproxy";
type Backend = "trivial" | "1ms";
type Way = "direct" | "gateway" | "gateway+metrics" | "hand-tuned";

/** Each backend kind: the hostname routed to it, its service in the dev stack, and the loopback address it listens on. */
const BACKENDS: Record<Backend, { host: string; address: string }> = {
    trivial: { host: "sklep.localhost", address: "127.0.0.2" },
    "1ms": { host: "stary.sklep.localhost", address: "127.0.0.3" },
};
const HAND_TUNED_PORT = 8081;
/** The rendered gateway with metrics on listens here (the one with metrics off on the dev stack's port 80). */
const METRICS_GATEWAY_PORT = 8082;
const STUB = path.join(__dirname, "..", "test", "render", "fixtures", "upstream-stub.ts");

// ---- processes: each in its own process group, all killed on exit ---------------------------------------------

const groups: ChildProcess[] = [];
let netns: string | undefined;
let dir: string | undefined;

function cleanup(): void {
    for (const c of groups) {
        try {
            if (c.pid) process.kill(-c.pid, "SIGKILL");
        } catch {
            /* already gone */
        }
    }
    groups.length = 0;
    if (netns) {
        deleteNetns(netns);
        fs.rmSync(`/etc/netns/${netns}`, { recursive: true, force: true });
        netns = undefined;
    }
    removeDir(dir);
    dir = undefined;
}

/** Starts `cmd` in the namespace in a new process group; stderr to `<dir>/<name>.err`. */
function startIn(name: string, cmd: string[], opts: { ready?: string } = {}): Promise<ChildProcess> {
    const errFile = path.join(dir as string, `${name}.err`);
    const err = fs.openSync(errFile, "a");
    const child = spawn("ip", ["netns", "exec", netns as string, ...cmd], { detached: true, stdio: ["ignore", opts.ready ? "pipe" : "ignore", err] });
    fs.closeSync(err);
    groups.push(child);
    return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${name} not ready within 15 s`)), 15_000);
        child.on("exit", (code) => reject(new Error(`${name} exited ${code}: ${fs.existsSync(errFile) ? fs.readFileSync(errFile, "utf8") : ""}`)));
        if (!opts.ready) {
            clearTimeout(timer);
            resolve(child);
            return;
        }
        let out = "";
        child.stdout?.on("data", (d: Buffer) => {
            out += d.toString();
            if (out.includes(opts.ready as string)) {
                clearTimeout(timer);
                resolve(child);
            }
        });
    });
}

function stopGroup(child: ChildProcess): void {
    try {
        if (child.pid) process.kill(-child.pid, "SIGKILL");
    } catch {
        /* gone */
    }
    groups.splice(groups.indexOf(child), 1);
}

function inNs(cmd: string[], timeoutMs: number): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync("ip", ["netns", "exec", netns as string, ...cmd], { encoding: "utf8", timeout: timeoutMs });
    return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

async function answers(url: string, host: string, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const r = inNs(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "2", "-H", `Host: ${host}`, url], 5000);
        if (r.stdout === "200") return;
        if (Date.now() > deadline) throw new Error(`no 200 from ${url} for ${host} within ${timeoutMs} ms (last: ${r.stdout} ${r.stderr})`);
        await new Promise((res) => setTimeout(res, 200));
    }
}

// ---- CPU of a process tree from /proc ----------------------------------------------------------------------------

const TICK_NS = 1e9 / 100; // USER_HZ

function children(): Map<number, number[]> {
    const byParent = new Map<number, number[]>();
    for (const entry of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(entry)) continue;
        try {
            const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
            const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
            byParent.set(ppid, [...(byParent.get(ppid) ?? []), Number(entry)]);
        } catch {
            /* exited meanwhile */
        }
    }
    return byParent;
}

/** Nanoseconds of CPU used by the trees under `roots` so far: every live thread, plus reaped children. */
function cpuNs(roots: readonly number[]): number {
    const byParent = children();
    const pids: number[] = [];
    const walk = (pid: number) => {
        pids.push(pid);
        for (const c of byParent.get(pid) ?? []) walk(c);
    };
    roots.forEach(walk);
    let ns = 0;
    for (const pid of pids) {
        try {
            for (const task of fs.readdirSync(`/proc/${pid}/task`)) ns += Number(fs.readFileSync(`/proc/${pid}/task/${task}/schedstat`, "utf8").split(" ")[0]);
            const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
            ns += (Number(fields[14]) + Number(fields[15])) * TICK_NS; // cutime + cstime
        } catch {
            /* exited meanwhile */
        }
    }
    return ns;
}

// ---- wrk --------------------------------------------------------------------------------------------------------

interface Sample {
    rps: number;
    p50ms: number;
    p99ms: number;
    requests: number;
    errors: string;
    gatewayCpuUsPerReq: number;
    backendCpuUsPerReq: number;
}

function ms(value: string): number {
    const m = /^([\d.]+)(us|ms|s)$/.exec(value);
    if (!m) throw new Error(`wrk latency "${value}"`);
    return Number(m[1]) * (m[2] === "us" ? 0.001 : m[2] === "s" ? 1000 : 1);
}

function wrk(url: string, host: string, seconds: number, gatewayPids: number[], backendPids: number[]): Sample {
    const g0 = cpuNs(gatewayPids);
    const b0 = cpuNs(backendPids);
    const r = inNs(["wrk", "-t1", `-c${CONNECTIONS}`, `-d${seconds}s`, "--latency", "-H", `Host: ${host}`, url], (seconds + 20) * 1000);
    const g1 = cpuNs(gatewayPids);
    const b1 = cpuNs(backendPids);
    if (r.status !== 0) throw new Error(`wrk failed (${r.status}): ${r.stderr}`);
    const out = r.stdout;
    const requests = Number(/(\d+) requests in/.exec(out)?.[1]);
    const errors = [/Socket errors:.*$/m.exec(out)?.[0], /Non-2xx or 3xx responses: \d+/.exec(out)?.[0]].filter(Boolean).join("; ");
    return {
        rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]),
        p50ms: ms(/^\s+50%\s+(\S+)$/m.exec(out)?.[1] ?? "?"),
        p99ms: ms(/^\s+99%\s+(\S+)$/m.exec(out)?.[1] ?? "?"),
        requests,
        errors,
        gatewayCpuUsPerReq: gatewayPids.length ? (g1 - g0) / 1000 / requests : 0,
        backendCpuUsPerReq: (b1 - b0) / 1000 / requests,
    };
}

// ---- the configs ------------------------------------------------------------------------------------------------

function backendConfigs(): { nginx: string; haproxy: string } {
    const d = dir as string;
    const nginx = writeFile(
        path.join(d, "backend-nginx.conf"),
        `worker_processes auto;
pid ${d}/backend-nginx.pid;
error_log stderr warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    server {
        listen ${BACKENDS.trivial.address}:8000;
        location / { default_type text/plain; return 200 "ok\\n"; }
    }
}
`,
    );
    const lua = writeFile(path.join(d, "wait.lua"), `core.register_action("wait_1ms", { "http-req" }, function(txn) core.msleep(1) end)\n`);
    const haproxy = writeFile(
        path.join(d, "backend-haproxy.cfg"),
        `global
    lua-load ${lua}
defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
frontend wait_1ms
    bind ${BACKENDS["1ms"].address}:8000
    http-request lua.wait_1ms
    http-request return status 200 content-type text/plain string "ok"
`,
    );
    return { nginx, haproxy };
}

/** The same engine configured by hand for speed: static upstreams with keepalive, the log buffered (nginx) or sampled (HAProxy). */
function handTuned(engine: Engine): string {
    const d = dir as string;
    if (engine === "nginx") {
        const proxy = (upstream: string) =>
            `location / { proxy_pass http://${upstream}; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_set_header Host $host; proxy_set_header X-Forwarded-For $remote_addr; }`;
        return writeFile(
            path.join(d, "hand-nginx.conf"),
            `worker_processes auto;
pid ${d}/hand-nginx.pid;
error_log stderr warn;
events { worker_connections 4096; }
http {
    log_format gateway '$remote_addr "$host" "$request" $status $body_bytes_sent $request_time "$upstream_addr" "$http_user_agent"';
    access_log /dev/stdout gateway buffer=64k flush=1s;
    upstream trivial { server ${BACKENDS.trivial.address}:8000; keepalive 64; }
    upstream wait_1ms { server ${BACKENDS["1ms"].address}:8000; keepalive 64; }
    server { listen ${HAND_TUNED_PORT}; server_name ${BACKENDS.trivial.host}; ${proxy("trivial")} }
    server { listen ${HAND_TUNED_PORT}; server_name ${BACKENDS["1ms"].host}; ${proxy("wait_1ms")} }
}
`,
        );
    }
    return writeFile(
        path.join(d, "hand-haproxy.cfg"),
        `global
    log stdout format raw sample 1:100 local0 info
defaults
    mode http
    log global
    option httplog
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    http-reuse always
frontend http
    bind :${HAND_TUNED_PORT}
    option forwardfor
    use_backend trivial if { hdr(host) -m str ${BACKENDS.trivial.host} }
    use_backend wait_1ms if { hdr(host) -m str ${BACKENDS["1ms"].host} }
backend trivial
    server t ${BACKENDS.trivial.address}:8000
backend wait_1ms
    server w ${BACKENDS["1ms"].address}:8000
`,
    );
}

/** The program's gateway: the image's entrypoint around the rendered files, main config at its image path (private mount). */
function gatewayCommand(plan: Plan, d: string): string[] {
    const files = renderGatewayFiles(plan.gateway, plan.routes);
    writeFile(path.join(d, files.routes.name), files.routes.content);
    const main = writeFile(path.join(d, `rendered-${files.main.name}`), files.main.content);
    const entrypoint = writeFile(path.join(d, "entrypoint.sh"), files.entrypoint.content, 0o755);
    const mainPath = plan.gateway.mainFile.path;
    const placeMain =
        plan.gateway.engine === "nginx" ? `mount --bind "$1" ${mainPath}` : `mount -t tmpfs tmpfs /usr/local/etc && mkdir -p ${path.dirname(mainPath)} && cp "$1" ${mainPath}`;
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", `mount -t tmpfs tmpfs /run && ${placeMain} && sh "$2" | cat >/dev/null`, "_", main, entrypoint];
}

function handTunedCommand(engine: Engine): string[] {
    const conf = handTuned(engine);
    const run = engine === "nginx" ? `nginx -c ${conf} -g 'daemon off;'` : `haproxy -db -f ${conf}`;
    return ["sh", "-c", `${run} | cat >/dev/null`];
}

function benchPlan(engine: Engine, d: string, metrics = false): Plan {
    const raw = rawConfig("dev");
    raw.gateway = { ...raw.gateway, engine, ...(metrics ? { ports: { http: METRICS_GATEWAY_PORT } } : {}) };
    raw.metrics = { enabled: metrics };
    const local = withLocalPaths(planOf(raw), d, { certificates: true });
    const stateDir = path.join(d, `state-${engine}`);
    fs.mkdirSync(stateDir, { recursive: true });
    return { ...local, gateway: { ...local.gateway, stateDir, healthSocket: path.join(stateDir, "health.sock") } };
}

// ---- the run ----------------------------------------------------------------------------------------------------

interface Row {
    engine: Engine;
    backend: Backend;
    path: Way;
    samples: Sample[];
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const round = (x: number, digits = 2) => Number(x.toFixed(digits));

function spread(xs: number[], digits = 2): string {
    const s = [...xs].sort((a, b) => a - b);
    return `${round(s[0], digits)}/${round(median(s), digits)}/${round(s[s.length - 1], digits)}`;
}

async function main(): Promise<void> {
    for (const tool of ["nginx", "haproxy", "wrk", "curl", "unshare"]) {
        if (spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0) throw new Error(`${tool} is missing (wrk: apt-get install wrk)`);
    }
    if (process.getuid?.() !== 0) throw new Error("needs root (a network namespace, a private mount for the entrypoint)");
    dir = tempDir("gwbench");
    fs.chmodSync(dir, 0o755);
    netns = createNetns();
    useDockerDns(netns);
    const plan0 = benchPlan("nginx", dir);
    const service = (host: string) => plan0.routes.find((r) => r.hostname === host)?.backends[0]?.service as string;
    const names: Record<string, string[]> = {};
    for (const b of Object.values(BACKENDS)) {
        names[service(b.host)] = [b.address];
        names[`tasks.${service(b.host)}`] = [b.address];
    }
    await startIn("dns", [process.execPath, "--import", "tsx", STUB, JSON.stringify({ names, ports: [], listen: [] })], { ready: "ready" });
    const configs = backendConfigs();
    const backendPids = [
        (await startIn("backend-nginx", ["nginx", "-c", configs.nginx, "-g", "daemon off;"])).pid as number,
        (await startIn("backend-haproxy", ["haproxy", "-db", "-f", configs.haproxy])).pid as number,
    ];
    for (const b of Object.values(BACKENDS)) await answers(`http://${b.address}:8000/`, b.host);
    console.log(`# gateway overhead: wrk -t1 -c${CONNECTIONS}, ${RUNS} runs of ${SECONDS} s per figure (min/median/max), loopback in a network namespace`);
    console.log(`# nginx ${spawnSync("nginx", ["-v"], { encoding: "utf8" }).stderr.trim().replace(/^nginx version: /, "")}, ${spawnSync("haproxy", ["-v"], { encoding: "utf8" }).stdout.split("\n")[0]}`);

    const rows: Row[] = [];
    for (const engine of ENGINES) {
        const plan = benchPlan(engine, dir);
        const gateway = await startIn(`gateway-${engine}`, gatewayCommand(plan, dir));
        const metricsDir = path.join(dir, `metrics-${engine}`);
        fs.mkdirSync(metricsDir, { mode: 0o755 });
        const metricsPlan = benchPlan(engine, metricsDir, true);
        const metricsGateway = await startIn(`gateway-metrics-${engine}`, gatewayCommand(metricsPlan, metricsDir));
        const hand = await startIn(`hand-${engine}`, handTunedCommand(engine));
        const ports: Record<Way, { port: number; pids: number[] }> = {
            direct: { port: 8000, pids: [] },
            gateway: { port: plan.gateway.ports.http, pids: [gateway.pid as number] },
            "gateway+metrics": { port: metricsPlan.gateway.ports.http, pids: [metricsGateway.pid as number] },
            "hand-tuned": { port: HAND_TUNED_PORT, pids: [hand.pid as number] },
        };
        for (const b of Object.values(BACKENDS)) {
            await answers(`http://127.0.0.1:${ports.gateway.port}/`, b.host);
            await answers(`http://127.0.0.1:${ports["gateway+metrics"].port}/`, b.host);
            await answers(`http://127.0.0.1:${ports["hand-tuned"].port}/`, b.host);
        }
        for (const backend of ["trivial", "1ms"] as const) {
            const host = BACKENDS[backend].host;
            const ways: Way[] = ["direct", "gateway", "gateway+metrics", "hand-tuned"];
            const url = (way: Way) => (way === "direct" ? `http://${BACKENDS[backend].address}:8000/` : `http://127.0.0.1:${ports[way].port}/`);
            for (const way of ways) wrk(url(way), host, 1, [], []); // warm-up
            const byWay = new Map<Way, Sample[]>(ways.map((w) => [w, []]));
            for (let i = 0; i < RUNS; i++) {
                for (const way of ways) byWay.get(way)?.push(wrk(url(way), host, SECONDS, ports[way].pids, backendPids));
            }
            for (const way of ways) {
                const samples = byWay.get(way) as Sample[];
                rows.push({ engine, backend, path: way, samples });
                const errors = samples.map((s) => s.errors).filter(Boolean);
                console.log(
                    `${engine.padEnd(7)} ${backend.padEnd(7)} ${way.padEnd(10)} rps ${spread(samples.map((s) => s.rps), 0).padEnd(20)} p50 ms ${spread(samples.map((s) => s.p50ms)).padEnd(16)} p99 ms ${spread(samples.map((s) => s.p99ms)).padEnd(16)} CPU µs/req gateway ${spread(samples.map((s) => s.gatewayCpuUsPerReq), 1).padEnd(16)} backend ${spread(samples.map((s) => s.backendCpuUsPerReq), 1)}${errors.length ? `  ERRORS: ${errors.join(" | ")}` : ""}`,
                );
            }
        }
        // Every request through the metrics gateway was counted: its exporter's total equals wrk's requests.
        const sent = rows.filter((r) => r.engine === engine && r.path === "gateway+metrics").reduce((n, r) => n + r.samples.reduce((k, s) => k + s.requests, 0), 0);
        const scrape = inNs(["curl", "-s", "--max-time", "5", `http://127.0.0.1:${metricsPlan.gateway.metrics.port}/metrics`], 10_000).stdout;
        const counted = scrape
            .split("\n")
            .filter((l) => l.startsWith("gateway_requests_total{"))
            .reduce((n, l) => n + Number(l.split(" ").pop()), 0);
        const dropped = Number(/^gateway_metrics_lines_dropped_total (\d+)$/m.exec(scrape)?.[1] ?? NaN);
        console.log(`# ${engine} gateway+metrics: the exporter counted ${counted} requests (wrk's measured runs sent ${sent}, plus its warm-ups), ${dropped} lines dropped`);
        stopGroup(gateway);
        stopGroup(metricsGateway);
        stopGroup(hand);
    }

    console.log("# against the targets (medians): 1ms backend: gateway ≥ 0.8 × direct rps and ≤ 2 ms added p99; trivial backend: CPU/request ≤ 1.5 × hand-tuned");
    const med = (engine: Engine, backend: Backend, way: Way, f: (s: Sample) => number) =>
        median((rows.find((r) => r.engine === engine && r.backend === backend && r.path === way) as Row).samples.map(f));
    for (const engine of ENGINES) {
        for (const backend of ["trivial", "1ms"] as const) {
            const ratio = med(engine, backend, "gateway", (s) => s.rps) / med(engine, backend, "direct", (s) => s.rps);
            const addedP99 = med(engine, backend, "gateway", (s) => s.p99ms) - med(engine, backend, "direct", (s) => s.p99ms);
            const cpu = med(engine, backend, "gateway", (s) => s.gatewayCpuUsPerReq) / med(engine, backend, "hand-tuned", (s) => s.gatewayCpuUsPerReq);
            const handRatio = med(engine, backend, "hand-tuned", (s) => s.rps) / med(engine, backend, "direct", (s) => s.rps);
            console.log(
                `${engine.padEnd(7)} ${backend.padEnd(7)} gateway/direct rps ${ratio.toFixed(2)} (hand-tuned ${handRatio.toFixed(2)})  added p99 ${addedP99.toFixed(2)} ms  CPU/req gateway/hand-tuned ${cpu.toFixed(2)}`,
            );
            const metricsRps = med(engine, backend, "gateway+metrics", (s) => s.rps) / med(engine, backend, "gateway", (s) => s.rps);
            const metricsP99 = med(engine, backend, "gateway+metrics", (s) => s.p99ms) - med(engine, backend, "gateway", (s) => s.p99ms);
            const metricsCpu = med(engine, backend, "gateway+metrics", (s) => s.gatewayCpuUsPerReq) / med(engine, backend, "gateway", (s) => s.gatewayCpuUsPerReq);
            console.log(`${engine.padEnd(7)} ${backend.padEnd(7)} metrics on/off: rps ${metricsRps.toFixed(2)}  p99 ${metricsP99 >= 0 ? "+" : ""}${metricsP99.toFixed(2)} ms  CPU/req ${metricsCpu.toFixed(2)}`);
        }
    }
    const json = rows.map((r) => ({
        engine: r.engine,
        backend: r.backend,
        path: r.path,
        rps: round(median(r.samples.map((s) => s.rps)), 0),
        p50ms: round(median(r.samples.map((s) => s.p50ms)), 3),
        p99ms: round(median(r.samples.map((s) => s.p99ms)), 3),
        cpuUsPerReq: round(median(r.samples.map((s) => (r.path === "direct" ? s.backendCpuUsPerReq : s.gatewayCpuUsPerReq))), 1),
    }));
    console.log(`BENCH ${JSON.stringify({ gateway: json })}`);
}

/** Runs main under the lab's machine-wide lock (re-executing itself under flock unless the caller holds it). */
function underLock(): void {
    if (process.env.LAB_LOCK_HELD === "1") {
        for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
            process.on(signal, () => {
                cleanup();
                process.exit(1);
            });
        }
        process.on("exit", cleanup);
        main().then(
            () => cleanup(),
            (err: Error) => {
                console.error(`bench/gateway: ${err.stack ?? err.message}`);
                cleanup();
                process.exit(1);
            },
        );
        return;
    }
    const wait = process.env.LAB_LOCK_WAIT ?? "0";
    const r = spawnSync("flock", ["-w", wait, LOCK, process.execPath, ...process.execArgv, ...process.argv.slice(1)], {
        stdio: "inherit",
        env: { ...process.env, LAB_LOCK_HELD: "1" },
    });
    if (r.status === 1 && r.signal === null) console.error(`bench/gateway: exit 1 (or the lab lock ${LOCK} was not free within LAB_LOCK_WAIT=${wait} s)`);
    process.exit(r.status ?? 1);
}

underLock();
