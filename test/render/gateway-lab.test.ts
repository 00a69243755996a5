// The rendered gateway, running: real nginx / HAProxy in a private network namespace, with a stub for Docker's
// DNS (127.0.0.11) and echoing backends. Proves routing by Host, URI pass-through, forwarded headers, health for
// any Host, unknown hosts, a missing service, TLS/SNI, and the entrypoint's reload forwarding and drain on SIGTERM.
import * as assert from "node:assert/strict";
import { ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { type Plan } from "../../model";
import { RELEASE_HEADER, renderGatewayFiles } from "../../model/gateway";
import { createNetns, deleteNetns, hasTool, needNetns, needTools, removeDir, run, tempDir, variants, withLocalPaths, writeFile } from "./helpers";

const STUB = path.join(__dirname, "fixtures", "upstream-stub.ts");
const TOOLS = ["curl", "openssl"];
const ALL = variants();
const planNamed = (name: string): Plan => {
    const v = ALL.find((x) => x.name === name);
    assert.ok(v, name);
    return v.plan;
};

// ---- processes in the namespace -----------------------------------------------------------------------

const started: ChildProcess[] = [];

/** Starts `cmd` inside the namespace; resolves once `ready` appears on stdout (or at once without `ready`). */
function startIn(netns: string, cmd: string[], opts: { ready?: string } = {}): Promise<ChildProcess> {
    const child = spawn("ip", ["netns", "exec", netns, ...cmd], { stdio: ["ignore", opts.ready ? "pipe" : "ignore", "pipe"] });
    started.push(child);
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

function exited(child: ChildProcess, timeoutMs: number): Promise<number | null> {
    if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
    return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`process ${child.pid} still running after ${timeoutMs} ms`)), timeoutMs);
        child.once("exit", (code) => {
            clearTimeout(timer);
            resolve(code);
        });
    });
}

async function stop(child: ChildProcess | undefined): Promise<void> {
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    await exited(child, 10_000).catch(() => child.kill("SIGKILL"));
}

after(async () => {
    for (const c of started) await stop(c);
});

// ---- HTTP from inside the namespace ----------------------------------------------------------------------

interface Reply {
    readonly exit: number | null;
    readonly code: number;
    readonly body: string;
}

function curl(netns: string, args: string[]): Reply {
    const r = run("ip", ["netns", "exec", netns, "curl", "-sS", "--max-time", "5", "-o", "-", "-w", "\n%{http_code}", ...args]);
    const cut = r.stdout.lastIndexOf("\n");
    return { exit: r.status, code: Number(r.stdout.slice(cut + 1)), body: r.stdout.slice(0, cut) };
}

/** The status code and the release header (lower-cased name) of one answer; the body is discarded. */
function servedBy(netns: string, args: string[]): { code: number; release?: string } {
    const r = run("ip", ["netns", "exec", netns, "curl", "-sS", "--max-time", "5", "-o", "/dev/null", "-D", "-", ...args]);
    const lines = r.stdout.split(/\r?\n/);
    const code = Number(/^HTTP\/\S+ (\d+)/.exec(lines[0] ?? "")?.[1] ?? 0);
    const header = lines.find((l) => l.toLowerCase().startsWith(`${RELEASE_HEADER.toLowerCase()}:`));
    return { code, ...(header ? { release: header.slice(header.indexOf(":") + 1).trim() } : {}) };
}

function get(netns: string, port: number, host: string, pathAndQuery = "/", extra: string[] = []): Reply {
    return curl(netns, ["-H", `Host: ${host}`, ...extra, `http://127.0.0.1:${port}${pathAndQuery}`]);
}

interface Echo {
    url: string;
    local: string;
    headers: Record<string, string>;
}

function echo(reply: Reply): Echo {
    assert.equal(reply.code, 200, `expected 200, got ${reply.code} (curl exit ${reply.exit}): ${reply.body}`);
    return JSON.parse(reply.body) as Echo;
}

async function eventually<T>(what: string, probe: () => T, ok: (v: T) => boolean, timeoutMs = 15_000): Promise<T> {
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
    const services = [...new Set(plan.routes.map((r) => r.service))].sort().filter((s) => !missing.includes(s));
    const names: Record<string, string[]> = {};
    services.forEach((s, i) => {
        names[s] = [`127.0.0.${i + 2}`];
        names[`tasks.${s}`] = [`127.0.0.${i + 2}`];
    });
    return names;
}

interface Lab {
    readonly netns: string;
    readonly dir: string;
    readonly plan: Plan;
    readonly names: Record<string, string[]>;
}

async function startLab(plan: Plan, missing: readonly string[] = []): Promise<Lab> {
    const netns = createNetns();
    const dir = tempDir("lab");
    const lab = { netns, dir, plan, names: serviceAddresses(plan, missing) };
    try {
        fs.chmodSync(dir, 0o755);
        const ports = [...new Set(plan.routes.map((r) => r.port))];
        await startIn(netns, [process.execPath, "--import", "tsx", STUB, JSON.stringify({ names: lab.names, ports })], { ready: "ready" });
        return { ...lab, plan: withLocalPaths(plan, dir, { certificates: true }) };
    } catch (err) {
        stopLab(lab);
        throw err;
    }
}

function stopLab(lab: Lab | undefined): void {
    if (!lab) return;
    deleteNetns(lab.netns);
    removeDir(lab.dir);
}

/** The engine in the foreground, on the rendered files (nginx's pid file moved into the lab dir). */
async function startEngine(lab: Lab): Promise<ChildProcess> {
    const files = renderGatewayFiles(lab.plan.gateway, lab.plan.routes);
    const routes = writeFile(path.join(lab.dir, files.routes.name), files.routes.content);
    const mainText = files.main.content.replace("pid /run/nginx.pid;", `pid ${lab.dir}/nginx.pid;`);
    const main = writeFile(path.join(lab.dir, files.main.name), mainText);
    const cmd = lab.plan.gateway.engine === "nginx" ? ["nginx", "-c", main, "-g", "daemon off;"] : ["haproxy", "-db", "-f", main, "-f", routes];
    const child = await startIn(lab.netns, cmd);
    const port = lab.plan.gateway.ports.http;
    await eventually("gateway health", () => get(lab.netns, port, "127.0.0.1", lab.plan.gateway.healthPath).code, (c) => c === 200);
    return child;
}

function serviceOf(plan: Plan, hostname: string): string {
    const r = plan.routes.find((x) => x.hostname === hostname);
    assert.ok(r, hostname);
    return r.service;
}

function canRunLab(t: Parameters<typeof needTools>[0], engine: string): boolean {
    return needTools(t, engine, ...TOOLS) && needNetns(t, `the ${engine} gateway runs with its backends in a network namespace`);
}

for (const engine of ["nginx", "haproxy"] as const) {
    const suffix = engine === "nginx" ? "" : "-haproxy";

    describe(`${engine} gateway, running (dev: unknown hosts rejected, one service missing)`, () => {
        let lab: Lab | undefined;
        let gateway: ChildProcess | undefined;
        const plan = planNamed(`dev${suffix}`);
        const missing = serviceOf(plan, "stary.sklep.localhost");
        before(async () => {
            if (!hasTool(engine) || process.getuid?.() !== 0 || !TOOLS.every(hasTool)) return;
            lab = await startLab(plan, [missing]);
            gateway = await startEngine(lab);
            // HAProxy fills its server slots from DNS and health checks: wait until a route answers.
            await eventually("first route", () => get(lab!.netns, 80, "sklep.localhost").code, (c) => c === 200);
        });
        after(async () => {
            await stop(gateway);
            stopLab(lab);
        });

        test("the health path answers 200 for any Host, also a routed one, and without a Host", (t) => {
            if (!canRunLab(t, engine) || !lab) return;
            for (const host of ["127.0.0.1", "sklep.localhost", "unknown.example"]) assert.equal(get(lab.netns, 80, host, "/healthz").code, 200, host);
            // HTTP/1.1 requires a Host (nginx answers 400 without one); HTTP/1.0 may omit it.
            assert.equal(curl(lab.netns, ["--http1.0", "-H", "Host:", "http://127.0.0.1:80/healthz"]).code, 200);
        });

        test("a hostname reaches its release's service with the URI, query and forwarded headers intact", (t) => {
            if (!canRunLab(t, engine) || !lab) return;
            for (const host of ["sklep.localhost", "nowy.sklep.localhost"]) {
                const e = echo(get(lab.netns, 80, host, "/a/b%20c?x=1&y=%2F"));
                assert.equal(e.url, "/a/b%20c?x=1&y=%2F");
                assert.deepEqual([e.local], lab.names[serviceOf(lab.plan, host)]);
                assert.equal(e.headers.host, host);
                assert.equal(e.headers["x-forwarded-for"], "127.0.0.1");
                assert.equal(e.headers["x-forwarded-proto"], "http");
                assert.equal(e.headers["x-forwarded-host"], host);
            }
        });

        test("WebSocket upgrade headers reach the backend", (t) => {
            if (!canRunLab(t, engine) || !lab) return;
            const e = echo(get(lab.netns, 80, "sklep.localhost", "/ws", [
                "-H", "Upgrade: websocket", "-H", "Connection: Upgrade", "-H", "Sec-WebSocket-Version: 13", "-H", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
            ]));
            assert.equal(e.headers.upgrade, "websocket");
            assert.match(e.headers.connection, /upgrade/i);
        });

        test("an unknown Host gets the connection closed without an answer", (t) => {
            if (!canRunLab(t, engine) || !lab) return;
            const r = get(lab.netns, 80, "unknown.example", "/");
            assert.equal(r.exit, 52, `curl exit ${r.exit} (52 = empty reply), code ${r.code}`);
        });

        test("a routed service missing from DNS is an error answer for its hostname only; the gateway keeps serving", (t) => {
            if (!canRunLab(t, engine) || !lab) return;
            const r = get(lab.netns, 80, "stary.sklep.localhost", "/");
            assert.equal(r.code, engine === "nginx" ? 502 : 503);
            assert.equal(get(lab.netns, 80, "sklep.localhost", "/").code, 200);
        });

        test("every routed answer names its app and release in X-Served-By-Release, the missing service's error answer too", (t) => {
            if (!canRunLab(t, engine) || !lab) return;
            for (const route of lab.plan.routes) {
                const r = servedBy(lab.netns, ["-H", `Host: ${route.hostname}`, "http://127.0.0.1:80/"]);
                assert.equal(r.release, `${route.app}/${route.release}`, `${route.hostname} (status ${r.code})`);
                assert.equal(r.code, route.hostname === "stary.sklep.localhost" ? (engine === "nginx" ? 502 : 503) : 200, route.hostname);
            }
            assert.equal(servedBy(lab.netns, ["-H", "Host: x.example", "http://127.0.0.1:80/healthz"]).release, undefined, "the gateway's own health answer names no release");
        });

        test("a body over client_max_body_size is refused with 413", (t) => {
            if (!canRunLab(t, engine) || !lab) return;
            const big = path.join(lab.dir, "big.bin");
            fs.writeFileSync(big, Buffer.alloc(11 * 1024 * 1024));
            const r = get(lab.netns, 80, "sklep.localhost", "/upload", ["--data-binary", `@${big}`]);
            assert.equal(r.code, 413);
        });
    });

    describe(`${engine} gateway, running (TLS, wildcard and a default host)`, () => {
        let lab: Lab | undefined;
        let gateway: ChildProcess | undefined;
        const plan = planNamed(`tls${suffix}`);
        before(async () => {
            if (!hasTool(engine) || process.getuid?.() !== 0 || !TOOLS.every(hasTool)) return;
            lab = await startLab(plan);
            gateway = await startEngine(lab);
            await eventually("first route", () => get(lab!.netns, 80, "sklep.localhost").code, (c) => c === 200);
            await eventually("second route", () => get(lab!.netns, 80, "stary.sklep.localhost").code, (c) => c === 200);
        });
        after(async () => {
            await stop(gateway);
            stopLab(lab);
        });

        const https = (lab: Lab, host: string, sni = host) =>
            curl(lab.netns, ["-k", "--resolve", `${sni}:443:127.0.0.1`, "-H", `Host: ${host}`, `https://${sni}:443/tls?q=1`]);

        test("a TLS hostname is served over https with its certificate and X-Forwarded-Proto https", (t) => {
            if (!canRunLab(t, engine) || !lab) return;
            for (const host of ["sklep.localhost", "stary.sklep.localhost"]) {
                const e = echo(https(lab, host));
                assert.equal(e.url, "/tls?q=1");
                assert.deepEqual([e.local], lab.names[serviceOf(lab.plan, host)]);
                assert.equal(e.headers["x-forwarded-proto"], "https");
            }
        });

        test("a TLS answer names its app and release in X-Served-By-Release", (t) => {
            if (!canRunLab(t, engine) || !lab) return;
            const tlsRoutes = lab.plan.routes.filter((r) => r.tls && !r.hostname.startsWith("*."));
            assert.ok(tlsRoutes.length >= 2, "the TLS variant has TLS hostnames");
            for (const route of tlsRoutes) {
                const r = servedBy(lab.netns, ["-k", "--resolve", `${route.hostname}:443:127.0.0.1`, `https://${route.hostname}:443/`]);
                assert.deepEqual(r, { code: 200, release: `${route.app}/${route.release}` }, route.hostname);
            }
        });

        test("an unknown SNI gets no certificate: the TLS handshake fails", (t) => {
            if (!canRunLab(t, engine) || !lab) return;
            const r = https(lab, "unknown.example");
            assert.notEqual(r.exit, 0);
            assert.equal(r.code, 0);
        });

        test("a wildcard hostname routes any name below it", (t) => {
            if (!canRunLab(t, engine) || !lab) return;
            const e = echo(get(lab.netns, 80, "anything.sklep.localhost", "/w"));
            assert.deepEqual([e.local], lab.names[serviceOf(lab.plan, "*.sklep.localhost")]);
        });

        test("an unknown Host goes to the default host's service", (t) => {
            if (!canRunLab(t, engine) || !lab) return;
            const e = echo(get(lab.netns, 80, "unknown.example", "/d"));
            assert.deepEqual([e.local], lab.names[serviceOf(lab.plan, "sklep.localhost")]);
            assert.equal(e.url, "/d");
        });
    });

    describe(`${engine} gateway entrypoint, running`, () => {
        let lab: Lab | undefined;
        const DRAIN = 2;

        /** The entrypoint as in the image: main config at its image path (a private mount), routes and state in the lab dir. */
        async function startEntrypoint(l: Lab): Promise<ChildProcess> {
            const gwPlan: Plan = { ...l.plan, gateway: { ...l.plan.gateway, stateDir: path.join(l.dir, "state"), drainSeconds: DRAIN } };
            const files = renderGatewayFiles(gwPlan.gateway, gwPlan.routes);
            const mainPath = gwPlan.gateway.mainFile.path;
            writeFile(path.join(l.dir, files.routes.name), files.routes.content);
            const main = writeFile(path.join(l.dir, files.main.name), files.main.content);
            const entrypoint = writeFile(path.join(l.dir, "entrypoint.sh"), files.entrypoint.content, 0o755);
            // A fresh /run keeps the pid files private; the main config goes where the Dockerfile copies it.
            const placeMain =
                engine === "nginx"
                    ? `mount --bind "$1" ${mainPath}`
                    : `mount -t tmpfs tmpfs /usr/local/etc && mkdir -p ${path.dirname(mainPath)} && cp "$1" ${mainPath}`;
            const script = `mount -t tmpfs tmpfs /run && ${placeMain} && exec sh "$2"`;
            const child = await startIn(l.netns, ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "_", main, entrypoint]);
            await eventually("entrypoint health", () => get(l.netns, 80, "127.0.0.1", "/healthz").code, (c) => c === 200);
            return child;
        }

        before(async () => {
            if (!hasTool(engine) || process.getuid?.() !== 0 || !TOOLS.every(hasTool)) return;
            lab = await startLab(planNamed(`dev${suffix}`));
        });
        after(() => stopLab(lab));

        test(`a reload signal to the entrypoint reloads ${engine} in place with the new routes`, async (t) => {
            if (!canRunLab(t, engine) || !lab) return;
            const l = lab;
            const child = await startEntrypoint(l);
            try {
                const routes = path.join(l.dir, l.plan.gateway.routesFile.name);
                const probe =
                    engine === "nginx"
                        ? '\nserver {\n    listen 8081;\n    location / {\n        return 200 "v2";\n    }\n}\n'
                        : "\nfrontend probe\n    bind :8081\n    http-request return status 200 content-type text/plain string v2\n";
                assert.notEqual(get(l.netns, 8081, "x").code, 200);
                fs.appendFileSync(routes, probe);
                child.kill(engine === "nginx" ? "SIGHUP" : "SIGUSR2");
                const r = await eventually("reloaded routes", () => get(l.netns, 8081, "x"), (x) => x.code === 200);
                assert.equal(r.body, "v2");
                assert.equal(child.exitCode, null, "the entrypoint must keep running");
            } finally {
                await stop(child);
            }
        });

        test("SIGTERM flags draining at once, keeps serving during the drain, then stops gracefully", async (t) => {
            if (!canRunLab(t, engine) || !lab) return;
            const l = lab;
            const child = await startEntrypoint(l);
            const flag = path.join(l.dir, "state", "draining");
            assert.ok(!fs.existsSync(flag), "a fresh start clears the draining flag");
            const t0 = Date.now();
            child.kill("SIGTERM");
            await eventually("draining flag", () => fs.existsSync(flag), (x) => x, 1_000);
            await new Promise((r) => setTimeout(r, 500));
            assert.equal(get(l.netns, 80, "127.0.0.1", "/healthz").code, 200, "still serving while draining");
            const code = await exited(child, (DRAIN + 8) * 1000);
            assert.equal(code, 0);
            assert.ok(Date.now() - t0 >= DRAIN * 1000, `stopped after ${Date.now() - t0} ms, before the ${DRAIN} s drain`);
            assert.notEqual(get(l.netns, 80, "127.0.0.1", "/healthz").code, 200, "nothing listens after the stop");
        });
    });
}
