// The rendered gateway, running: real nginx / HAProxy in a private network namespace, with a stub for Docker's
// DNS (127.0.0.11) and echoing backends. Proves routing by Host, URI pass-through, forwarded headers, health on its
// socket only, unknown hosts, a missing service, TLS/SNI, and the entrypoint's reload forwarding and drain on SIGTERM.
// (The same requests against both engines, header by header: gateway-behaviour.test.ts.)
import * as assert from "node:assert/strict";
import { ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { type Plan } from "../../model";
import { RELEASE_HEADER, renderGatewayFiles } from "../../model/gateway";
import { servingBackends } from "../../model/releases";
import {
    canRunLab, curl, echo, eventually, exited, get, health, type Lab, labPossible, rawRequest, serviceOf, startEngine, startEntrypoint, startLab, stop, stopAll, stopLab,
    webSocketHandshake,
} from "./gateway-harness";
import { planOf, rawConfig, run, variants } from "./helpers";

const ALL = variants();
const planNamed = (name: string): Plan => {
    const v = ALL.find((x) => x.name === name);
    assert.ok(v, name);
    return v.plan;
};

after(stopAll);

/** A process's command line (none once it is gone). */
function cmdOf(pid: string): string[] {
    try {
        return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
    } catch {
        return [];
    }
}

/** One answer header's value (names compared case-insensitively: HAProxy lower-cases them). */
function headerOf(reply: { headers: string }, name: string): string | undefined {
    const line = reply.headers.split(/\r?\n/).find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
    return line?.slice(line.indexOf(":") + 1).trim();
}

for (const engine of ["nginx", "haproxy"] as const) {
    const suffix = engine === "nginx" ? "" : "-haproxy";

    describe(`${engine} gateway, running (dev: unknown hosts rejected, one service missing)`, () => {
        let lab: Lab | undefined;
        let gateway: ChildProcess | undefined;
        const plan = planNamed(`dev${suffix}`);
        const missing = serviceOf(plan, "stary.sklep.localhost");
        before(async () => {
            if (!labPossible(engine)) return;
            lab = await startLab(plan, [missing]);
            gateway = await startEngine(lab);
            // HAProxy fills its server slots from DNS and health checks: wait until a route answers.
            await eventually("first route", () => get(lab!.netns, 80, "sklep.localhost").code, (c) => c === 200);
        });
        after(async () => {
            await stop(gateway);
            stopLab(lab);
        });

        test("the health path answers 200 on the health socket only; on the public port it is an ordinary path", (t) => {
            if (!canRunLab(t, engine) || !lab) return;
            const h = health(lab);
            assert.equal(h.code, 200);
            assert.equal(h.body.trim(), "ok");
            assert.equal(health(lab, "/other").code, 404);
            assert.equal(get(lab.netns, 80, "unknown.example", "/healthz").exit, 52, "an unknown Host asking /healthz gets no answer");
            const e = echo(get(lab.netns, 80, "sklep.localhost", "/healthz"));
            assert.equal(e.url, "/healthz", "a routed Host's /healthz goes to its backend");
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

        test("a WebSocket handshake gets the backend's 101 and frames flow both ways", (t) => {
            if (!canRunLab(t, engine) || !lab) return;
            const handshake = webSocketHandshake("sklep.localhost");
            const r = rawRequest(lab.netns, { port: 80, pieces: [{ data: handshake, delayMs: 0 }], waitMs: 3000, webSocketText: "hello" });
            assert.match(r.response, /^HTTP\/1\.1 101 /);
            assert.equal(r.webSocketEcho, "hello");
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
                const r = curl(lab.netns, ["-H", `Host: ${route.hostname}`, "http://127.0.0.1:80/"], { include: true });
                assert.equal(headerOf(r, RELEASE_HEADER), `${route.app}/${servingBackends(route)[0].release}`, `${route.hostname} (status ${r.code})`);
                assert.equal(r.code, route.hostname === "stary.sklep.localhost" ? (engine === "nginx" ? 502 : 503) : 200, route.hostname);
            }
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
            if (!labPossible(engine)) return;
            lab = await startLab(plan);
            gateway = await startEngine(lab);
            await eventually("first route", () => https(lab!, "sklep.localhost").code, (c) => c === 200);
            await eventually("second route", () => https(lab!, "stary.sklep.localhost").code, (c) => c === 200);
        });
        after(async () => {
            await stop(gateway);
            stopLab(lab);
        });

        function https(lab: Lab, host: string, sni = host, pathAndQuery = "/tls?q=1") {
            return curl(lab.netns, ["-k", "--resolve", `${sni}:443:127.0.0.1`, "-H", `Host: ${host}`, `https://${sni}:443${pathAndQuery}`]);
        }

        test("a TLS hostname is served over https with its certificate and X-Forwarded-Proto https", (t) => {
            if (!canRunLab(t, engine) || !lab) return;
            for (const host of ["sklep.localhost", "stary.sklep.localhost"]) {
                const e = echo(https(lab, host));
                assert.equal(e.url, "/tls?q=1");
                assert.deepEqual([e.local], lab.names[serviceOf(lab.plan, host)]);
                assert.equal(e.headers["x-forwarded-proto"], "https");
            }
        });

        test("a TLS answer names its app and release in X-Served-By-Release and carries HSTS", (t) => {
            if (!canRunLab(t, engine) || !lab) return;
            const tlsRoutes = lab.plan.routes.filter((r) => r.tls && !r.hostname.startsWith("*."));
            assert.ok(tlsRoutes.length >= 2, "the TLS variant has TLS hostnames");
            for (const route of tlsRoutes) {
                const r = curl(lab.netns, ["-k", "--resolve", `${route.hostname}:443:127.0.0.1`, `https://${route.hostname}:443/`], { include: true });
                assert.equal(r.code, 200, route.hostname);
                assert.equal(headerOf(r, RELEASE_HEADER), `${route.app}/${servingBackends(route)[0].release}`, route.hostname);
                assert.match(headerOf(r, "Strict-Transport-Security") ?? "", /^max-age=\d+/, `${route.hostname}: HSTS next to the release header`);
            }
        });

        test("an unknown SNI gets no certificate: the TLS handshake fails", (t) => {
            if (!canRunLab(t, engine) || !lab) return;
            const r = https(lab, "unknown.example");
            assert.notEqual(r.exit, 0);
            assert.equal(r.code, 0);
        });

        test("a wildcard TLS hostname routes any name below it over https, and redirects it on http", (t) => {
            if (!canRunLab(t, engine) || !lab) return;
            const e = echo(https(lab, "anything.sklep.localhost", "anything.sklep.localhost", "/w"));
            assert.deepEqual([e.local], lab.names[serviceOf(lab.plan, "*.sklep.localhost")]);
            assert.equal(get(lab.netns, 80, "anything.sklep.localhost", "/w").code, 308);
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

        const startEntrypointOf = (l: Lab) => startEntrypoint(l, DRAIN);

        before(async () => {
            if (!labPossible(engine)) return;
            lab = await startLab(planNamed(`dev${suffix}`));
        });
        after(() => stopLab(lab));

        test(`a reload signal to the entrypoint reloads ${engine} in place with the new routes`, async (t) => {
            if (!canRunLab(t, engine) || !lab) return;
            const l = lab;
            const child = await startEntrypointOf(l);
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
            const child = await startEntrypointOf(l);
            const flag = path.join(l.dir, "state", "draining");
            assert.ok(!fs.existsSync(flag), "a fresh start clears the draining flag");
            const t0 = Date.now();
            child.kill("SIGTERM");
            await eventually("draining flag", () => fs.existsSync(flag), (x) => x, 1_000);
            await new Promise((r) => setTimeout(r, 500));
            assert.equal(health(l).code, 200, "still serving while draining");
            const code = await exited(child, (DRAIN + 8) * 1000);
            assert.equal(code, 0);
            assert.ok(Date.now() - t0 >= DRAIN * 1000, `stopped after ${Date.now() - t0} ms, before the ${DRAIN} s drain`);
            assert.notEqual(health(l).code, 200, "nothing listens after the stop");
            assert.notEqual(get(l.netns, 80, "sklep.localhost", "/").code, 200, "nothing listens on the public port after the stop");
        });

        // HAProxy cannot buffer a stdout log (nginx's access_log does): the entrypoint's relay batches it.
        if (engine === "haproxy") {
            test("HAProxy's access log reaches stdout through the relay: batched, every line whole and once, none lost while the relay restarts or at the stop", async (t) => {
                if (!canRunLab(t, engine)) return;
                // With metrics on, the exporter reads HAProxy's log (metrics.test.ts); off, the relay does.
                const raw = rawConfig("dev");
                raw.gateway = { ...raw.gateway, engine };
                raw.metrics = { enabled: false };
                const l = await startLab(planOf(raw));
                const relay = l.plan.gateway.logRelay;
                assert.ok(relay, "HAProxy with metrics off has a log relay");
                let out = "";
                const child = await startEntrypoint(l, 0, { onStdout: (d) => (out += d.toString()) });
                const routes = path.join(l.dir, l.plan.gateway.routesFile.name);
                const pidsOf = (match: (cmd: string[]) => boolean) =>
                    fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p) && cmdOf(p).length > 0 && match(cmdOf(p)));
                const relayPids = () => pidsOf((cmd) => cmd.includes(relay.path) && cmd.includes(relay.fifo));
                // The lines whose request path starts with /<prefix>- (httplog: "GET /path HTTP/1.1"), by path.
                const logged = (prefix: string) => {
                    const counts = new Map<string, number>();
                    for (const m of out.matchAll(new RegExp(`"GET (/${prefix}-\\d+) HTTP/1\\.1"\n`, "g"))) counts.set(m[1], (counts.get(m[1]) ?? 0) + 1);
                    return counts;
                };
                // n requests in one curl, at most 100 a second.
                const paced = (prefix: string, n: number) => {
                    const r = run("ip", ["netns", "exec", l.netns, "curl", "-s", "--rate", "100/s", "-H", "Host: sklep.localhost", "-w", "CODE %{http_code}\n", `http://127.0.0.1:80/${prefix}-[1-${n}]`]);
                    assert.equal(r.stdout.split("CODE 200\n").length - 1, n, `${prefix}: ${n} answers: ${r.stderr}`);
                };
                const allOnce = async (prefix: string, n: number) => {
                    const counts = await eventually(`${prefix}: ${n} log lines`, () => logged(prefix), (c) => c.size === n, 10_000);
                    assert.deepEqual([...counts.values()].filter((k) => k !== 1), [], `${prefix}: every line once`);
                };
                try {
                    // HAProxy's stdout is the relay's FIFO.
                    const haproxy = pidsOf((cmd) => cmd[0] === "haproxy" && cmd.includes(routes));
                    assert.ok(haproxy.length >= 1, "HAProxy runs");
                    for (const p of haproxy) assert.equal(fs.readlinkSync(`/proc/${p}/fd/1`), relay.fifo, `HAProxy ${p}'s stdout`);
                    const [first] = relayPids();
                    assert.ok(first, "the relay runs");
                    const writes = () => Number(/^syscw: (\d+)$/m.exec(fs.readFileSync(`/proc/${first}/io`, "utf8"))?.[1]);

                    // 60 requests over about 0.6 s: one line each, written by the relay in a few batches, not 60 writes.
                    const before = writes();
                    paced("paced", 60);
                    await allOnce("paced", 60);
                    const batches = writes() - before;
                    assert.ok(batches >= 1 && batches <= 20, `the relay wrote 60 lines in ${batches} writes`);

                    // A killed relay: the lines written meanwhile wait in the FIFO for the next one.
                    process.kill(Number(first), "SIGKILL");
                    paced("while-restarting", 20);
                    await allOnce("while-restarting", 20);
                    const [second] = await eventually("a restarted relay", relayPids, (p) => p.length === 1 && p[0] !== first);
                    assert.ok(second);

                    // The stop: HAProxy stops first, then the relay copies what is left.
                    paced("at-stop", 10);
                    child.kill("SIGTERM");
                    assert.equal(await exited(child, 10_000), 0);
                    const counts = logged("at-stop");
                    assert.equal(counts.size, 10, `the last lines reached stdout before the entrypoint exited: ${[...counts.keys()].join(" ")}`);
                    assert.deepEqual(relayPids(), [], "no relay left");
                } finally {
                    await stop(child);
                    stopLab(l);
                }
            });
        }

        // nginx's upstreams are files the entrypoint writes from DNS (HAProxy resolves in the engine, with retries).
        if (engine === "nginx") {
            test("a reload that routes a service new to the gateway asks DNS again when its first answers are lost: it answers without waiting for the next DNS round", async (t) => {
                if (!canRunLab(t, engine)) return;
                const host = "stary.sklep.localhost";
                const base = planNamed(`dev${suffix}`);
                const service = serviceOf(base, host);
                // DNS rounds 60 s apart: within the test only the reload's own lookups can fill the new upstream.
                const plan: Plan = { ...base, gateway: { ...base.gateway, resolverValid: 60 } };
                const silent = await startLab(plan, [], { dnsSilentMs: { [`tasks.${service}`]: 1_500 } });
                let child: ChildProcess | undefined;
                try {
                    child = await startEntrypointOf({ ...silent, plan: { ...silent.plan, routes: silent.plan.routes.filter((r) => r.hostname !== host) } });
                    assert.notEqual(get(silent.netns, 80, host, "/").code, 200, `${host} is not routed before the reload`);
                    const files = renderGatewayFiles(silent.plan.gateway, silent.plan.routes);
                    fs.writeFileSync(path.join(silent.dir, files.routes.name), files.routes.content);
                    child.kill("SIGHUP");
                    const r = await eventually(`${host} after the reload`, () => get(silent.netns, 80, host, "/"), (x) => x.code === 200, 10_000);
                    assert.deepEqual([echo(r).local], silent.names[service]);
                    assert.equal(child.exitCode, null, "the entrypoint must keep running");
                } finally {
                    if (child) await stop(child);
                    stopLab(silent);
                }
            });
        }
    });
}
