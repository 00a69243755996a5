// One behavioural suite for both gateway engines: nginx and HAProxy run for real, side by side (each in its own
// network namespace with the DNS stub and echoing backends), from one stack config. Every case sends the same
// requests to both, asserts the expected answer on each, and asserts that both engines gave the same observation.
// A case marked `differs` is an intended difference (docs/gateway.md lists each, with its reason): its expectation
// is then per engine.
import * as assert from "node:assert/strict";
import { ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { type Plan } from "../../model";
import {
    canRunLab, curl, echo, type Echo, eventually, exited, health, type Lab, labPossible, rawRequest, type Reply, serviceOf, startEngine, startEntrypoint, startLab, stop, stopAll, stopLab,
    webSocketHandshake,
} from "./gateway-harness";
import type { Outcome } from "./fixtures/load-client";
import { needTools, planOf, rawConfig, run } from "./helpers";
import { renderGatewayFiles } from "../../model/gateway";

type Engine = "nginx" | "haproxy";
const ENGINES: readonly Engine[] = ["nginx", "haproxy"];

const PLAIN = "sklep.localhost";
const TLS_HOST = "nowy.sklep.localhost";
const TRUSTED_PROXY = "127.0.0.200";
const HEADER_TIMEOUT = 2;
const MAX_BODY = 64 * 1024;
const HSTS = "max-age=600; includeSubDomains";

/** dev, with one TLS hostname, HSTS, a trusted proxy, a small body limit and short client timeouts. */
function behaviourPlan(engine: Engine): Plan {
    const raw = rawConfig("dev");
    raw.gateway = {
        ...raw.gateway,
        engine,
        tls: [{ name: "nowy", hostnames: [TLS_HOST], certificateSecret: "tlsNowyCert", keySecret: "tlsNowyKey" }],
        hsts: { maxAge: 600, includeSubDomains: true },
        trustedProxies: [`${TRUSTED_PROXY}/32`],
        clientMaxBodySize: "64k",
        clientTimeouts: { header: HEADER_TIMEOUT, idle: 5, keepAlive: 3 },
    };
    return planOf(raw);
}

// ---- requests --------------------------------------------------------------------------------------------

function http(lab: Lab, host: string, pathAndQuery: string, extra: string[] = []): Reply {
    return curl(lab.netns, ["-H", `Host: ${host}`, ...extra, `http://127.0.0.1:80${pathAndQuery}`], { include: true });
}

function https(lab: Lab, host: string, pathAndQuery: string, extra: string[] = []): Reply {
    return curl(lab.netns, ["-k", "--resolve", `${host}:443:127.0.0.1`, ...extra, `https://${host}:443${pathAndQuery}`], { include: true });
}

/** Values of one answer header (case-insensitive name), in order. */
/**
 * An oversized upload asks first, as browsers and curl do for large bodies: the 413 then comes before the body.
 * Without it the gateway answers 413 and closes while the client is still sending, and the client may read a
 * reset instead of the answer (seen once in a few hundred runs, over TLS).
 */
const EXPECT_CONTINUE = ["-H", "Expect: 100-continue"];

function answerHeader(reply: Reply, name: string): string[] {
    return reply.headers
        .split("\r\n")
        .filter((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`))
        .map((l) => l.slice(name.length + 1).trim());
}

/** The forwarding headers as the backend received them (raw lines, names lower-cased: HAProxy sends them so). */
function forwarding(reply: Reply): Record<string, string[]> {
    const e = echo(reply);
    const out: Record<string, string[]> = {};
    for (let i = 0; i < e.rawHeaders.length; i += 2) {
        const name = e.rawHeaders[i].toLowerCase();
        if (/^(x-forwarded-|x-real-ip$|forwarded$)/.test(name)) (out[name] ??= []).push(e.rawHeaders[i + 1]);
    }
    return out;
}

const SPOOFED = ["X-Forwarded-For: 6.6.6.6", "X-Real-IP: 6.6.6.6", "X-Forwarded-Proto: https", "X-Forwarded-Host: evil.example", "X-Forwarded-Port: 8443", "Forwarded: for=6.6.6.6"];
const asCurlHeaders = (lines: readonly string[]) => lines.flatMap((l) => ["-H", l]);

function bodyFile(lab: Lab, bytes: number): string {
    const file = path.join(lab.dir, `body-${bytes}.bin`);
    if (!fs.existsSync(file)) fs.writeFileSync(file, Buffer.alloc(bytes, 0x61));
    return file;
}

/** openssl s_client against the HTTPS port: the protocol it got, or null when the handshake failed. */
function tlsHandshake(lab: Lab, args: string[]): { protocol: string | null; output: string } {
    const r = run("ip", ["netns", "exec", lab.netns, "openssl", "s_client", "-connect", "127.0.0.1:443", "-servername", TLS_HOST, ...args], {
        input: "",
        timeout: 10_000,
    });
    const output = r.stdout + r.stderr;
    const protocol = /^\s*Protocol\s*:\s*(\S+)$/m.exec(output)?.[1] ?? /^New, (TLSv[\d.]+), Cipher/m.exec(output)?.[1] ?? null;
    return { protocol: r.status === 0 && !/Cipher is \(NONE\)/.test(output) ? protocol : null, output };
}

// ---- the cases --------------------------------------------------------------------------------------------

interface Case {
    readonly name: string;
    /** What the engine did, as plain data: compared between the engines unless `differs`. */
    readonly observe: (lab: Lab) => unknown;
    /** The expected observation (the same for both engines unless `differs`). */
    readonly expect: (seen: never, lab: Lab, engine: Engine) => void;
    /** An intended difference: why (docs/gateway.md lists it). */
    readonly differs?: string;
}

const CASES: Case[] = [
    {
        name: "a hostname reaches its release's service with the URI and query intact",
        observe: (lab) => {
            const e = echo(http(lab, PLAIN, "/a/b%20c?x=1&y=%2F"));
            return { url: e.url, local: e.local, host: e.headers.host };
        },
        expect: (seen: { url: string; local: string; host: string }, lab) => {
            assert.deepEqual(seen, { url: "/a/b%20c?x=1&y=%2F", local: lab.names[serviceOf(lab.plan, PLAIN)][0], host: PLAIN });
        },
    },
    {
        name: "an unknown Host gets the connection closed without an answer",
        observe: (lab) => http(lab, "unknown.example", "/").exit,
        expect: (exit: number) => assert.equal(exit, 52, "curl exit 52: empty reply"),
    },
    {
        name: "/healthz on the public port is an ordinary path: no answer for an unknown Host, the backend's for a routed one",
        observe: (lab) => ({ unknown: http(lab, "unknown.example", "/healthz").exit, routed: echo(http(lab, PLAIN, "/healthz")).url }),
        expect: (seen: { unknown: number; routed: string }) => assert.deepEqual(seen, { unknown: 52, routed: "/healthz" }),
    },
    {
        name: "the health socket answers the health path with 200 and anything else with 404",
        observe: (lab) => ({ health: health(lab).code, body: health(lab).body.trim(), other: health(lab, "/").code }),
        expect: (seen: object) => assert.deepEqual(seen, { health: 200, body: "ok", other: 404 }),
    },
    {
        name: "plain HTTP for a TLS hostname is redirected with 308 to the same URI over HTTPS, without HSTS",
        observe: (lab) => {
            const r = http(lab, TLS_HOST, "/p/q?x=1&y=2");
            return { code: r.code, location: answerHeader(r, "location"), hsts: answerHeader(r, "strict-transport-security") };
        },
        expect: (seen: object) => assert.deepEqual(seen, { code: 308, location: [`https://${TLS_HOST}/p/q?x=1&y=2`], hsts: [] }),
    },
    {
        name: "a plain hostname is served over HTTP, without HSTS",
        observe: (lab) => {
            const r = http(lab, PLAIN, "/");
            return { code: r.code, hsts: answerHeader(r, "strict-transport-security") };
        },
        expect: (seen: object) => assert.deepEqual(seen, { code: 200, hsts: [] }),
    },
    {
        name: "HTTPS answers of a TLS hostname carry the gateway's HSTS, replacing the backend's",
        observe: (lab) => {
            const r = https(lab, TLS_HOST, "/", ["-H", "x-echo-set-header: Strict-Transport-Security: max-age=1"]);
            return { code: r.code, hsts: answerHeader(r, "strict-transport-security") };
        },
        expect: (seen: object) => assert.deepEqual(seen, { code: 200, hsts: [HSTS] }),
    },
    {
        name: "HTTPS error answers carry HSTS too (413 for a body over the limit)",
        observe: (lab) => {
            const r = https(lab, TLS_HOST, "/upload", [...EXPECT_CONTINUE, "--data-binary", `@${bodyFile(lab, MAX_BODY + 1)}`]);
            return { code: r.code, hsts: answerHeader(r, "strict-transport-security") };
        },
        expect: (seen: object) => assert.deepEqual(seen, { code: 413, hsts: [HSTS] }),
    },
    {
        name: "forwarding headers spoofed by an untrusted client are replaced by the gateway's (HTTP)",
        observe: (lab) => forwarding(http(lab, PLAIN, "/", asCurlHeaders(SPOOFED))),
        expect: (seen: object) =>
            assert.deepEqual(seen, {
                "x-forwarded-for": ["127.0.0.1"],
                "x-real-ip": ["127.0.0.1"],
                "x-forwarded-proto": ["http"],
                "x-forwarded-host": [PLAIN],
                "x-forwarded-port": ["80"],
            }),
    },
    {
        name: "forwarding headers spoofed by an untrusted client are replaced by the gateway's (HTTPS)",
        observe: (lab) => forwarding(https(lab, TLS_HOST, "/", asCurlHeaders(SPOOFED))),
        expect: (seen: object) =>
            assert.deepEqual(seen, {
                "x-forwarded-for": ["127.0.0.1"],
                "x-real-ip": ["127.0.0.1"],
                "x-forwarded-proto": ["https"],
                "x-forwarded-host": [TLS_HOST],
                "x-forwarded-port": ["443"],
            }),
    },
    {
        name: "a trusted proxy's forwarding headers are kept and X-Forwarded-For is appended to",
        observe: (lab) => forwarding(http(lab, PLAIN, "/", ["--interface", TRUSTED_PROXY, ...asCurlHeaders(SPOOFED)])),
        expect: (seen: object) =>
            assert.deepEqual(seen, {
                "x-forwarded-for": [`6.6.6.6, ${TRUSTED_PROXY}`],
                "x-real-ip": ["6.6.6.6"],
                "x-forwarded-proto": ["https"],
                "x-forwarded-host": ["evil.example"],
                "x-forwarded-port": ["8443"],
                forwarded: ["for=6.6.6.6"],
            }),
    },
    {
        name: "a trusted proxy that sends no forwarding headers gets the gateway's own",
        observe: (lab) => forwarding(http(lab, PLAIN, "/", ["--interface", TRUSTED_PROXY])),
        expect: (seen: object) =>
            assert.deepEqual(seen, {
                "x-forwarded-for": [TRUSTED_PROXY],
                "x-real-ip": [TRUSTED_PROXY],
                "x-forwarded-proto": ["http"],
                "x-forwarded-host": [PLAIN],
                "x-forwarded-port": ["80"],
            }),
    },
    {
        name: "hop-by-hop and proxy-only request headers (httpoxy's Proxy included) do not reach the backend; others do",
        observe: (lab) => {
            const sent = [
                "Proxy: http://evil.example:3128",
                "Proxy-Authorization: Basic dXNlcjpwYXNz",
                "Proxy-Connection: keep-alive",
                "Keep-Alive: timeout=5",
                "TE: trailers",
                "Trailer: X-Checksum",
                "HTTP2-Settings: AAMAAABkAAQAAP__",
                "Upgrade: h2c",
                "Connection: keep-alive, Upgrade, HTTP2-Settings, TE, X-Listed",
                "X-Custom: kept",
                // Named in Connection but not on the list: neither engine can strip a header named by the request.
                "X-Listed: named-in-connection",
            ];
            const e = echo(http(lab, PLAIN, "/", asCurlHeaders(sent)));
            const names = ["proxy", "proxy-authorization", "proxy-connection", "keep-alive", "te", "trailer", "http2-settings", "upgrade", "x-custom", "x-listed"];
            return Object.fromEntries(names.filter((n) => n in e.headers).map((n) => [n, e.headers[n]]));
        },
        expect: (seen: object) => assert.deepEqual(seen, { "x-custom": "kept", "x-listed": "named-in-connection" }),
    },
    {
        name: "an ordinary request reaches the backend without a Connection header: the backend connection is kept for the next request",
        observe: (lab) => {
            const e = echo(http(lab, PLAIN, "/", ["-H", "Connection: close"]));
            return { connection: e.headers.connection ?? null, httpVersion: (e as Echo & { httpVersion: string }).httpVersion };
        },
        expect: (seen: object) => assert.deepEqual(seen, { connection: null, httpVersion: "1.1" }),
    },
    {
        name: "requests on one client connection share backend connections (kept alive, reused)",
        observe: (lab) => {
            const url = `http://127.0.0.1:80/`;
            const r = run("ip", ["netns", "exec", lab.netns, "curl", "-sS", "--max-time", "5", "-w", "\\n", "-H", `Host: ${PLAIN}`, url, url, url, url]);
            const ports = r.stdout.split("\n").filter(Boolean).map((line) => (JSON.parse(line) as { remotePort: number }).remotePort);
            return { answers: ports.length, reused: new Set(ports).size < ports.length };
        },
        expect: (seen: object) => assert.deepEqual(seen, { answers: 4, reused: true }),
    },
    {
        name: "a WebSocket handshake passes: the backend gets Upgrade: websocket and Connection: upgrade, answers 101, frames flow",
        observe: (lab) => {
            const r = rawRequest(lab.netns, { port: 80, pieces: [{ data: webSocketHandshake(PLAIN), delayMs: 0 }], waitMs: 3000, webSocketText: "ping" });
            const seenBase64 = /^x-echo-headers: (\S+)$/im.exec(r.response)?.[1] ?? "";
            const backend = seenBase64 ? (JSON.parse(Buffer.from(seenBase64, "base64").toString()) as { headers: Record<string, string> }).headers : {};
            return { status: r.response.split("\r\n")[0], echo: r.webSocketEcho, upgrade: backend.upgrade, connection: backend.connection?.toLowerCase() };
        },
        expect: (seen: object) => assert.deepEqual(seen, { status: "HTTP/1.1 101 Switching Protocols", echo: "ping", upgrade: "websocket", connection: "upgrade" }),
    },
    {
        name: `a client sending its header slowly (slowloris) is cut off after the ${HEADER_TIMEOUT} s header timeout, without an answer`,
        observe: (lab) => {
            const pieces = [{ data: `GET / HTTP/1.1\r\nHost: ${PLAIN}\r\n`, delayMs: 0 }];
            for (let i = 0; i < 15; i++) pieces.push({ data: `X-Slow-${i}: 1\r\n`, delayMs: 400 });
            const r = rawRequest(lab.netns, { port: 80, pieces, waitMs: 3000 });
            // Rounded to the second, so that both engines' timers compare equal.
            return { response: r.response, closedAfterSeconds: r.closedAfterMs === null ? null : Math.round(r.closedAfterMs / 1000) };
        },
        expect: (seen: { response: string; closedAfterSeconds: number | null }) => {
            assert.equal(seen.response, "", "no answer to a request whose header never completed");
            assert.equal(seen.closedAfterSeconds, HEADER_TIMEOUT, "closed after the header timeout although the client kept sending");
        },
    },
    {
        name: "a body over the limit with Content-Length is refused with 413",
        observe: (lab) => http(lab, PLAIN, "/upload", [...EXPECT_CONTINUE, "--data-binary", `@${bodyFile(lab, MAX_BODY + 1)}`]).code,
        expect: (code: number) => assert.equal(code, 413),
    },
    {
        name: "a chunked body within the limit reaches the backend whole",
        observe: (lab) => echo(http(lab, PLAIN, "/upload", ["-H", "Transfer-Encoding: chunked", "--data-binary", `@${bodyFile(lab, 1000)}`])).bodyBytes,
        expect: (bytes: number) => assert.equal(bytes, 1000),
    },
    {
        name: "a chunked body over the limit",
        observe: (lab) => {
            const r = http(lab, PLAIN, "/upload", ["-H", "Transfer-Encoding: chunked", "--data-binary", `@${bodyFile(lab, 4 * MAX_BODY)}`]);
            return { code: r.code, bodyBytes: r.code === 200 ? echo(r).bodyBytes : null };
        },
        expect: (seen: object, _lab, engine) => assert.deepEqual(seen, engine === "nginx" ? { code: 413, bodyBytes: null } : { code: 200, bodyBytes: 4 * MAX_BODY }),
        differs: "HAProxy (2.6, 2.8) counts a body only within its buffer (16 kB): it refuses by Content-Length but cannot count a chunked body beyond that",
    },
    {
        name: "TLS 1.1 is refused; TLS 1.2 and 1.3 are accepted",
        observe: (lab) => ({
            "1.1": tlsHandshake(lab, ["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"]).protocol,
            "1.2": tlsHandshake(lab, ["-tls1_2"]).protocol,
            "1.3": tlsHandshake(lab, ["-tls1_3"]).protocol,
        }),
        expect: (seen: object) => assert.deepEqual(seen, { "1.1": null, "1.2": "TLSv1.2", "1.3": "TLSv1.3" }),
    },
    {
        name: "TLS 1.2 issues no session ticket, and the client's choice among the profile's suites wins",
        observe: (lab) => {
            const { output } = tlsHandshake(lab, ["-tls1_2", "-cipher", "ECDHE-RSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-GCM-SHA256"]);
            return { cipher: /^\s*Cipher\s*:\s*(\S+)$/m.exec(output)?.[1] ?? null, ticket: /TLS session ticket:/.test(output) };
        },
        expect: (seen: object) => assert.deepEqual(seen, { cipher: "ECDHE-RSA-CHACHA20-POLY1305", ticket: false }),
    },
    {
        name: "TLS 1.3 issues only stateful tickets (a session-cache key, no encrypted session state), valid one day",
        observe: (lab) => {
            // Tickets arrive after the handshake: send a request and read until the gateway closes.
            const r = run("ip", ["netns", "exec", lab.netns, "openssl", "s_client", "-connect", "127.0.0.1:443", "-servername", TLS_HOST, "-tls1_3", "-ign_eof"], {
                input: `GET / HTTP/1.1\r\nHost: ${TLS_HOST}\r\nConnection: close\r\n\r\n`,
                timeout: 10_000,
            });
            return (r.stdout + r.stderr).split("Post-Handshake New Session Ticket arrived:").slice(1).map((ticket) => ({
                lifetime: Number(/lifetime hint: (\d+)/.exec(ticket)?.[1]),
                bytes: [...ticket.matchAll(/^\s+[0-9a-f]{4} - ((?:[0-9a-f]{2}[ -]){1,16})/gm)].reduce((n, m) => n + m[1].trim().split(/[ -]/).length, 0),
            }));
        },
        expect: (tickets: { lifetime: number; bytes: number }[]) => {
            assert.ok(tickets.length >= 1, "a TLS 1.3 server sends at least one (stateful) ticket");
            for (const t of tickets) assert.deepEqual(t, { lifetime: 86400, bytes: 32 }, "a stateless ticket carries the encrypted session (well over 100 bytes)");
        },
    },
    {
        name: "a CBC suite outside the profile is refused",
        observe: (lab) => tlsHandshake(lab, ["-tls1_2", "-cipher", "ECDHE-RSA-AES128-SHA"]).protocol,
        expect: (protocol: string | null) => assert.equal(protocol, null),
    },
    {
        name: "an unknown SNI gets no certificate: the handshake fails",
        observe: (lab) => {
            const r = curl(lab.netns, ["-k", "--resolve", "unknown.example:443:127.0.0.1", "https://unknown.example:443/"]);
            return { failed: r.exit !== 0, code: r.code };
        },
        expect: (seen: object) => assert.deepEqual(seen, { failed: true, code: 0 }),
    },
];

// ---- both engines, every case ------------------------------------------------------------------------------

/** One case on every engine: each observation must meet the case's expectation (a failure names the engine). */
function observeOnEngines(c: { observe(lab: Lab): unknown; expect(observation: never, lab: Lab, engine: Engine): void }, byEngine: Map<Engine, Lab>): Map<Engine, unknown> {
    const seen = new Map<Engine, unknown>();
    for (const engine of ENGINES) {
        const lab = byEngine.get(engine) as Lab;
        const observation = c.observe(lab);
        seen.set(engine, observation);
        try {
            c.expect(observation as never, lab, engine);
        } catch (err) {
            (err as Error).message = `${engine}: ${(err as Error).message}`;
            throw err;
        }
    }
    return seen;
}

describe("the gateway behaves the same on nginx and HAProxy", () => {
    const labs = new Map<Engine, Lab>();
    const engines: ChildProcess[] = [];

    before(async () => {
        if (!ENGINES.every(labPossible)) return;
        for (const engine of ENGINES) {
            const lab = await startLab(behaviourPlan(engine));
            labs.set(engine, lab);
            engines.push(await startEngine(lab));
            // HAProxy fills its server slots from DNS and health checks: wait until a route answers.
            await eventually(`${engine}: first route`, () => http(lab, PLAIN, "/").code, (c) => c === 200);
        }
    });
    after(async () => {
        for (const e of engines) await stop(e);
        for (const lab of labs.values()) stopLab(lab);
        await stopAll();
    });

    test("both engines render from the same config and differ only in the engine", () => {
        const [nginx, haproxy] = ENGINES.map(behaviourPlan);
        // Engine facts: the files, signals and the directories each engine writes to (tmpfs under a read-only root).
        const engineFacts = (g: Plan["gateway"]) => ({ ...g, container: { ...g.container, tmpfs: null }, serverState: null });
        assert.deepEqual({ ...engineFacts(nginx.gateway), engine: "x", baseImage: "x", mainFile: null, routesFile: null, reloadSignal: null, stopSignal: null }, {
            ...engineFacts(haproxy.gateway),
            engine: "x",
            baseImage: "x",
            mainFile: null,
            routesFile: null,
            reloadSignal: null,
            stopSignal: null,
        });
    });

    for (const c of CASES) {
        test(c.differs ? `${c.name} (intended difference)` : c.name, (t) => {
            if (!ENGINES.every((e) => canRunLab(t, e)) || labs.size < ENGINES.length) return;
            const seen = observeOnEngines(c, labs);
            if (!c.differs) assert.deepEqual(seen.get("haproxy"), seen.get("nginx"), "nginx and HAProxy answered differently");
            else assert.notDeepEqual(seen.get("haproxy"), seen.get("nginx"), "no longer different: drop `differs` and the entry in docs/gateway.md");
        });
    }
});

// ---- retries and reloads -------------------------------------------------------------------------------------

const TASK_OK = "127.0.1.2";
const TASK_REFUSING = "127.0.1.1";
const TASK_DROPPING = "127.0.1.3";
const REFUSED_HOST = "stary.sklep.localhost";
const RELOADS = 5;

/** A service's tasks in DNS: its name (nginx) and tasks.<name> (HAProxy); the faulty task first, where nginx starts. */
function tasksOf(plan: Plan, hostname: string, addresses: string[]): Record<string, string[]> {
    const service = serviceOf(plan, hostname);
    return { [service]: addresses, [`tasks.${service}`]: addresses };
}

/** Requests sent one after another from inside the namespace while `during` runs; every status code (000: none in 2 s). */
async function codesWhile(lab: Lab, host: string, count: number, during: () => Promise<void>): Promise<number[]> {
    const loop = `i=0; while [ $i -lt ${count} ]; do curl -s -o /dev/null -w '%{http_code}\\n' --max-time 2 -H 'Host: ${host}' http://127.0.0.1:80/; i=$((i+1)); done`;
    const client = spawn("ip", ["netns", "exec", lab.netns, "sh", "-c", loop], { stdio: ["ignore", "pipe", "ignore"] });
    let out = "";
    client.stdout.on("data", (d: Buffer) => (out += d.toString()));
    await during();
    await exited(client, 60_000);
    return out.split("\n").filter(Boolean).map(Number);
}

function droppedRequests(lab: Lab, method: string): number {
    const log = path.join(lab.dir, "dropped.log");
    return fs.existsSync(log) ? fs.readFileSync(log, "utf8").split("\n").filter((l) => l.startsWith(`${method} `)).length : 0;
}

const RETRY_CASES: Case[] = [
    {
        name: "a task that refuses connections: every GET is retried on the service's other task and answered 200",
        observe: (lab) => {
            const replies = Array.from({ length: 20 }, () => http(lab, REFUSED_HOST, "/"));
            return { codes: [...new Set(replies.map((r) => r.code))], tasks: [...new Set(replies.map((r) => (r.code === 200 ? echo(r).local : null)))] };
        },
        expect: (seen: object) => assert.deepEqual(seen, { codes: [200], tasks: [TASK_OK] }),
    },
    {
        name: "a task that closes the connection without an answer: a GET that reached it is retried on another task, 200",
        observe: (lab) => {
            const before = droppedRequests(lab, "GET");
            const codes = Array.from({ length: 10 }, () => http(lab, PLAIN, "/").code);
            return { codes: [...new Set(codes)], reachedTheDroppingTask: droppedRequests(lab, "GET") > before };
        },
        expect: (seen: object) => assert.deepEqual(seen, { codes: [200], reachedTheDroppingTask: true }),
    },
    {
        name: "a POST that reached a task which closed without an answer is not sent again: 502, seen once by that task",
        observe: (lab) => {
            const before = droppedRequests(lab, "POST");
            const codes = Array.from({ length: 10 }, () => http(lab, PLAIN, "/order", ["--data-binary", "item=1"]).code);
            const dropped = droppedRequests(lab, "POST") - before;
            return {
                codes: [...new Set(codes)].sort(),
                badGatewayPerDroppedPost: codes.filter((c) => c === 502).length === dropped,
                reachedTheDroppingTask: dropped > 0,
            };
        },
        expect: (seen: { codes: number[] }) => {
            assert.ok(seen.codes.every((c) => c === 200 || c === 502), `only the other task's 200 or a 502: ${seen.codes.join()}`);
            assert.deepEqual({ ...seen, codes: null }, { codes: null, badGatewayPerDroppedPost: true, reachedTheDroppingTask: true });
        },
    },
];

describe("both engines retry an idempotent request on another task, never resend a POST, and keep every request through reloads", () => {
    const retryLabs = new Map<Engine, Lab>();
    const reloadLabs = new Map<Engine, Lab>();
    const engines: ChildProcess[] = [];
    const entrypoints = new Map<Engine, ChildProcess>();

    before(async () => {
        if (!ENGINES.every(labPossible)) return;
        for (const engine of ENGINES) {
            const plan = behaviourPlan(engine);
            // stary: a refusing task and a good one; sklep: a task dropping requests and a good one.
            const names = { ...tasksOf(plan, REFUSED_HOST, [TASK_REFUSING, TASK_OK]), ...tasksOf(plan, PLAIN, [TASK_DROPPING, TASK_OK]) };
            const lab = await startLab(plan, [], { names, listen: [TASK_OK], drop: [TASK_DROPPING] });
            retryLabs.set(engine, lab);
            engines.push(await startEngine(lab));
            await eventually(`${engine}: first route`, () => http(lab, REFUSED_HOST, "/").code, (c) => c === 200);
            // Reloads through the image's entrypoint, with a slow resolver: a new worker that had to wait for its
            // first DNS answer would have nowhere to send the requests meanwhile.
            const reloadLab = await startLab(plan, [], { dnsDelayMs: 300 });
            reloadLabs.set(engine, reloadLab);
            entrypoints.set(engine, await startEntrypoint(reloadLab, 1));
            await eventually(`${engine}: first route (reload lab)`, () => http(reloadLab, PLAIN, "/").code, (c) => c === 200);
        }
    });
    after(async () => {
        for (const e of [...engines, ...entrypoints.values()]) await stop(e);
        for (const lab of [...retryLabs.values(), ...reloadLabs.values()]) stopLab(lab);
        await stopAll();
    });

    for (const c of RETRY_CASES) {
        test(c.name, (t) => {
            if (!ENGINES.every((e) => canRunLab(t, e)) || retryLabs.size < ENGINES.length) return;
            observeOnEngines(c, retryLabs);
        });
    }

    test(`${RELOADS} reloads under load, DNS answering 300 ms late: every request answered 200`, async (t) => {
        if (!ENGINES.every((e) => canRunLab(t, e)) || reloadLabs.size < ENGINES.length) return;
        for (const engine of ENGINES) {
            const lab = reloadLabs.get(engine) as Lab;
            const entrypoint = entrypoints.get(engine) as ChildProcess;
            const codes = await codesWhile(lab, PLAIN, 300, async () => {
                for (let i = 0; i < RELOADS; i++) {
                    await new Promise((r) => setTimeout(r, 400));
                    entrypoint.kill(engine === "nginx" ? "SIGHUP" : "SIGUSR2");
                }
            });
            const failures = codes.filter((c) => c !== 200);
            assert.equal(entrypoint.exitCode, null, `${engine}: the entrypoint must keep running`);
            assert.equal(codes.length, 300, `${engine}: every request got an answer line`);
            assert.deepEqual(failures, [], `${engine}: ${failures.length} of ${codes.length} requests failed through ${RELOADS} reloads`);
        }
    });
});

// ---- the routes step's agent in a running gateway ---------------------------------------------------------------

/** The routes step's agent (templates/gateway/gateway-agent.sh), as the step sends it through `docker exec`. */
function routesAgent(): string {
    return fs.readFileSync(path.join(__dirname, "..", "..", "templates", "gateway", "gateway-agent.sh"), "utf8");
}

/** One session with the agent the entrypoint serves on the FIFO pair `fifo`.in/.out, as the routes step opens it: each
 *  request line, then its answer line (30 s at most). */
function servedAgent(fifo: string, requests: string[]): string[] {
    const session = 'exec {to}<>"$1.in" {from}<>"$1.out"; shift; for r in "$@"; do printf "%s\\n" "$r" >&"$to"; IFS= read -r -t 30 -u "$from" a || a="(no answer)"; printf "%s\\n" "$a"; done';
    const r = run("bash", ["-c", session, "session", fifo, ...requests], { encoding: "utf8", timeout: 120_000 });
    return r.stdout.trim().split("\n");
}

/** The engine's workers under the entrypoint `init`: children of its engine child, from /proc. */
function workersUnder(init: number, engine: string): number[] {
    const status = (pid: string) => {
        try {
            const text = fs.readFileSync(`/proc/${pid}/status`, "utf8");
            return { name: /^Name:\s*(\S+)/m.exec(text)?.[1], ppid: Number(/^PPid:\s*(\d+)/m.exec(text)?.[1]) };
        } catch {
            return undefined;
        }
    };
    const all = fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d)).map((pid) => ({ pid: Number(pid), ...status(pid) }));
    const masters = new Set(all.filter((p) => p.name === engine && p.ppid === init).map((p) => p.pid));
    return all.filter((p) => p.name === engine && masters.has(p.ppid as number)).map((p) => p.pid);
}

describe("the routes step's agent, in the namespaces of the image's entrypoint (as docker exec puts it)", () => {
    const labs = new Map<Engine, Lab>();
    const entrypoints = new Map<Engine, ChildProcess>();
    before(async () => {
        if (!ENGINES.every(labPossible)) return;
        for (const engine of ENGINES) {
            const lab = await startLab(behaviourPlan(engine));
            labs.set(engine, lab);
            entrypoints.set(engine, await startEntrypoint(lab, 0));
            await eventually(`${engine}: first route`, () => http(lab, PLAIN, "/").code, (c) => c === 200);
        }
    });
    after(async () => {
        for (const e of entrypoints.values()) await stop(e);
        for (const lab of labs.values()) stopLab(lab);
        await stopAll();
    });

    test("probes a release through the gateway's DNS, checks the routes with the engine, reloads: a new worker serves, the old ones retired", (t) => {
        if (!ENGINES.every((e) => canRunLab(t, e)) || labs.size < ENGINES.length || !needTools(t, "nsenter")) return;
        for (const engine of ENGINES) {
            const lab = labs.get(engine) as Lab;
            const init = (entrypoints.get(engine) as ChildProcess).pid as number;
            const gw = lab.plan.gateway;
            const route = lab.plan.routes.find((r) => r.hostname === PLAIN) ?? assert.fail(`no route for ${PLAIN}`);
            const backend = route.backends[0];
            const before = workersUnder(init, engine);
            assert.ok(before.length > 0, `${engine}: workers under the entrypoint (pid ${init}) before the reload`);
            const agent = (requests: string[]) =>
                run("nsenter", ["-t", String(init), "-m", "-n", "sh", "-c", routesAgent(), "gateway-agent", engine, gw.reloadSignal, gw.mainFile.path, gw.routesFile.path], {
                    input: `${requests.join("\n")}\n`,
                    env: { ...process.env, GATEWAY_AGENT_INIT: String(init) },
                    encoding: "utf8",
                    timeout: 60_000,
                });
            const r = agent([`probe ${backend.service} ${backend.port} /healthz ${PLAIN}`, "probe no-such-service 8000 /healthz x.example", "check", "reload 5 5"]);
            const answers = r.stdout.trim().split("\n");
            assert.equal(answers.length, 4, `${engine}: one answer per request: ${JSON.stringify(r.stdout)} ${r.stderr}`);
            assert.equal(answers[0], "probe 200", `${engine}: the release answers through the gateway's resolver`);
            assert.match(answers[1], /^probe (000|curl: \(6\))/, `${engine}: a service Docker's DNS does not know fails the probe`);
            assert.equal(answers[2], "check ok", `${engine}: the engine accepts its routes`);
            assert.equal(answers[3], "reload ok 0", `${engine}: a new worker serves and the old ones retired`);
            const after = workersUnder(init, engine);
            assert.ok(after.length > 0 && after.every((p) => !before.includes(p)), `${engine}: only new workers now (before ${before.join(",")}, after ${after.join(",")})`);
            assert.equal(http(lab, PLAIN, "/").code, 200, `${engine}: still serving after the reload`);
            // A routes file the engine refuses: the check names it, and the agent reloads nothing.
            const routesFile = gw.routesFile.path;
            const good = fs.readFileSync(routesFile, "utf8");
            fs.writeFileSync(routesFile, `${good}\nthis is not ${engine} configuration\n`);
            try {
                const bad = agent(["check"]);
                assert.match(bad.stdout, /^check failed \S/, `${engine}: ${bad.stdout}`);
            } finally {
                fs.writeFileSync(routesFile, good);
            }
        }
    });

    test("the entrypoint serves the same agent on the routes step's FIFO pair, session after session: hello with its hostname, probe, check, reload", (t) => {
        if (!ENGINES.every((e) => canRunLab(t, e)) || labs.size < ENGINES.length) return;
        const hostname = fs.readFileSync("/proc/sys/kernel/hostname", "utf8").trim();
        for (const engine of ENGINES) {
            const lab = labs.get(engine) as Lab;
            const init = (entrypoints.get(engine) as ChildProcess).pid as number;
            const gw = lab.plan.gateway;
            assert.ok(fs.existsSync(path.join(gw.stateDir, `agent.${hostname}`)), `${engine}: the entrypoint's hint that it serves`);
            const route = lab.plan.routes.find((r) => r.hostname === PLAIN) ?? assert.fail(`no route for ${PLAIN}`);
            const backend = route.backends[0];
            const before = workersUnder(init, engine);
            const answers = servedAgent(gw.agent.fifo, ["hello", `probe ${backend.service} ${backend.port} /healthz ${PLAIN}`, "check", "reload 5 5"]);
            assert.deepEqual(answers, [`hello ${hostname}`, "probe 200", "check ok", "reload ok 0"], `${engine}: the served agent's answers`);
            const after = workersUnder(init, engine);
            assert.ok(after.length > 0 && after.every((p) => !before.includes(p)), `${engine}: the reload signalled this entrypoint: only new workers (before ${before.join(",")}, after ${after.join(",")})`);
            assert.equal(http(lab, PLAIN, "/").code, 200, `${engine}: still serving after the reload`);
            assert.deepEqual(servedAgent(gw.agent.fifo, ["hello"]), [`hello ${hostname}`], `${engine}: a second session on the same pair`);
        }
    });
});

// ---- weighted routes, sticky cookie, pins, release header ------------------------------------------------------

const WEIGHTED = "sklep.localhost";
const PINNABLE_PLAIN = "nowy.sklep.localhost";
const ZERO_WEIGHT = "zero.sklep.localhost";
const TRUSTED_PIN_SOURCE = "127.0.0.1";
const UNTRUSTED_PIN_SOURCE = "127.0.0.77";
const LOAD_CLIENT = path.join(__dirname, "fixtures", "load-client.ts");
const SPLIT_REQUESTS = 5000;
const SPLIT_TOLERANCE_PP = 2;
const WEIGHT_CHANGE_REQUESTS = 2500;

/**
 * dev with shop 2.1 (pinnable) beside 1.9 and 2.0: sklep.localhost split 2.0/2.1 by `weights` (sticky), nowy on 2.0
 * alone (2.1 reachable by pin), zero.sklep.localhost 2.0/2.1 with 1.9 at weight 0; pins only from 127.0.0.1.
 */
function weightedPlan(engine: Engine, opts: { weights?: Record<string, number>; releaseHeader?: boolean } = {}): Plan {
    const raw = rawConfig("dev");
    const shop = raw.apps[0] as (typeof raw.apps)[number] & { routes?: unknown[]; releases: Record<string, unknown>[] };
    shop.releases[1].hostnames = [PINNABLE_PLAIN];
    shop.releases.push({ name: "2.1", pinnable: true, env: { RELEASE: "2.1" } });
    shop.routes = [
        { hostname: WEIGHTED, releases: opts.weights ?? { "2.0": 90, "2.1": 10 } },
        { hostname: ZERO_WEIGHT, releases: { "1.9": 0, "2.0": 1, "2.1": 1 } },
    ];
    raw.gateway = { ...raw.gateway, engine, releaseHeader: opts.releaseHeader ?? true, pinning: { trustedNetworks: [`${TRUSTED_PIN_SOURCE}/32`] } };
    return planOf(raw);
}

type LoadOutcome = Outcome;

interface LoadOptions {
    host: string;
    count: number;
    concurrency?: number;
    headers?: Record<string, string>;
    sticky?: boolean;
    localAddress?: string;
    fresh?: boolean;
    pauseMs?: number;
}

/** fixtures/load-client.ts inside the namespace (bounded: `count` requests, 60 s at most). */
function load(lab: Lab, opts: LoadOptions): Promise<LoadOutcome> {
    const client = spawn("ip", ["netns", "exec", lab.netns, process.execPath, "--import", "tsx", LOAD_CLIENT, JSON.stringify({ port: 80, ...opts })], {
        stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    client.stdout.on("data", (d: Buffer) => (out += d.toString()));
    client.stderr.on("data", (d: Buffer) => (err += d.toString()));
    return exited(client, 60_000).then((code) => {
        assert.equal(code, 0, `load client failed: ${err}`);
        return JSON.parse(out) as LoadOutcome;
    });
}

/** Requests per release, by the backend address that answered (each service has its own address). */
function releasesOf(lab: Lab, outcome: LoadOutcome): Record<string, number> {
    const byAddress = new Map<string, string>();
    for (const route of lab.plan.routes) for (const b of route.backends) for (const a of lab.names[b.service] ?? []) byAddress.set(a, b.release);
    const out: Record<string, number> = {};
    for (const [address, n] of Object.entries(outcome.byLocal)) {
        const release = byAddress.get(address) ?? address;
        out[release] = (out[release] ?? 0) + n;
    }
    return out;
}

/** The routes file of `plan` written where the running gateway reads it, then the engine's reload (through its entrypoint). */
function reloadWith(lab: Lab, entrypoint: ChildProcess, plan: Plan): void {
    const files = renderGatewayFiles(lab.plan.gateway, plan.routes);
    fs.writeFileSync(lab.plan.gateway.routesFile.path, files.routes.content);
    entrypoint.kill(lab.plan.gateway.engine === "nginx" ? "SIGHUP" : "SIGUSR2");
}

describe("weighted routes, the sticky cookie and pins behave the same on nginx and HAProxy", () => {
    const labs = new Map<Engine, Lab>();
    const headerless = new Map<Engine, Lab>();
    const entrypoints = new Map<Engine, ChildProcess>();
    const headerlessEntrypoints: ChildProcess[] = [];

    before(async () => {
        if (!ENGINES.every(labPossible)) return;
        for (const engine of ENGINES) {
            const lab = await startLab(weightedPlan(engine));
            labs.set(engine, lab);
            entrypoints.set(engine, await startEntrypoint(lab, 0));
            await eventually(`${engine}: weighted route`, () => http(lab, WEIGHTED, "/").code, (c) => c === 200);
            await eventually(`${engine}: pinned release`, () => http(lab, PINNABLE_PLAIN, "/", ["-H", "X-Release: 2.1"]).code, (c) => c === 200);
            const off = await startLab(weightedPlan(engine, { releaseHeader: false }));
            headerless.set(engine, off);
            headerlessEntrypoints.push(await startEntrypoint(off, 0));
            await eventually(`${engine}: headerless route`, () => http(off, WEIGHTED, "/").code, (c) => c === 200);
        }
    });
    after(async () => {
        for (const e of [...entrypoints.values(), ...headerlessEntrypoints]) await stop(e);
        for (const lab of [...labs.values(), ...headerless.values()]) stopLab(lab);
        await stopAll();
    });

    test(`a 90/10 split is within ±${SPLIT_TOLERANCE_PP} percentage points over ${SPLIT_REQUESTS} requests without cookies`, async (t) => {
        if (!ENGINES.every((e) => canRunLab(t, e)) || labs.size < ENGINES.length) return;
        for (const engine of ENGINES) {
            const lab = labs.get(engine) as Lab;
            const outcome = await load(lab, { host: WEIGHTED, count: SPLIT_REQUESTS, concurrency: 16 });
            const releases = releasesOf(lab, outcome);
            assert.equal(outcome.failed, 0, `${engine}: ${JSON.stringify(outcome.statuses)} ${outcome.errors.join("; ")}`);
            assert.deepEqual(Object.keys(releases).sort(), ["2.0", "2.1"], `${engine}: ${JSON.stringify(releases)}`);
            const canary = (100 * releases["2.1"]) / outcome.total;
            t.diagnostic(`${engine}: 2.0 ${releases["2.0"]}, 2.1 ${releases["2.1"]} of ${outcome.total} (${canary.toFixed(2)}% to 2.1)`);
            assert.ok(Math.abs(canary - 10) <= SPLIT_TOLERANCE_PP, `${engine}: ${canary.toFixed(2)}% reached 2.1, planned 10%`);
            // Every answer names the release that served it.
            assert.deepEqual(outcome.byReleaseHeader, { "shop/2.0": releases["2.0"], "shop/2.1": releases["2.1"] }, engine);
        }
    });

    test("the first answer sets the sticky cookie (Path=/, Max-Age, HttpOnly, SameSite=Lax); with it, 100 requests from one client reach one release", async (t) => {
        if (!ENGINES.every((e) => canRunLab(t, e)) || labs.size < ENGINES.length) return;
        const seen = new Map<Engine, unknown>();
        for (const engine of ENGINES) {
            const lab = labs.get(engine) as Lab;
            const outcome = await load(lab, { host: WEIGHTED, count: 100, sticky: true });
            const releases = releasesOf(lab, outcome);
            assert.equal(outcome.failed, 0, engine);
            assert.equal(Object.keys(releases).length, 1, `${engine}: one client reached ${JSON.stringify(releases)}`);
            assert.equal(outcome.setCookies.length, 1, `${engine}: the cookie is set once, then honoured: ${outcome.setCookies.join(" | ")}`);
            const release = Object.keys(releases)[0];
            assert.equal(outcome.setCookies[0], `gw-release-shop=${release}; Path=/; Max-Age=86400; HttpOnly; SameSite=Lax`, engine);
            seen.set(engine, { requests: outcome.total, releases: 1, cookies: 1 });
        }
        assert.deepEqual(seen.get("haproxy"), seen.get("nginx"));
    });

    test("a pin (header, else cookie) reaches its pinnable release on a weighted and on a plain hostname, and sets no sticky cookie", (t) => {
        if (!ENGINES.every((e) => canRunLab(t, e)) || labs.size < ENGINES.length) return;
        const observe = (lab: Lab) =>
            [WEIGHTED, PINNABLE_PLAIN].flatMap((host) =>
                [["-H", "X-Release: 2.1"], ["-H", "Cookie: gw-release-pin=2.1"], ["-H", "Cookie: gw-release-shop=2.0; gw-release-pin=2.1"]].map((extra) => {
                    const replies = Array.from({ length: 10 }, () => http(lab, host, "/", extra));
                    return { host, extra: extra[1], local: [...new Set(replies.map((r) => echo(r).local))], cookies: replies.flatMap((r) => answerHeader(r, "Set-Cookie")) };
                }),
            );
        const seen = new Map(ENGINES.map((e) => [e, observe(labs.get(e) as Lab)]));
        for (const engine of ENGINES) {
            const lab = labs.get(engine) as Lab;
            for (const o of seen.get(engine) ?? []) assert.deepEqual({ ...o, local: o.local.map((a) => lab.names["shop-2-1"].includes(a)) }, { ...o, local: [true], cookies: [] }, `${engine}: ${o.host} ${o.extra}`);
        }
        const portable = (e: Engine) => (seen.get(e) ?? []).map((o) => ({ ...o, local: o.local.length }));
        assert.deepEqual(portable("haproxy"), portable("nginx"));
    });

    test("a pin to a release not declared pinnable is ignored, and so is a pin from outside gateway.pinning.trustedNetworks", async (t) => {
        if (!ENGINES.every((e) => canRunLab(t, e)) || labs.size < ENGINES.length) return;
        const seen = new Map<Engine, unknown>();
        for (const engine of ENGINES) {
            const lab = labs.get(engine) as Lab;
            const notPinnable = releasesOf(lab, await load(lab, { host: PINNABLE_PLAIN, count: 50, headers: { "X-Release": "1.9" } }));
            const untrusted = releasesOf(lab, await load(lab, { host: PINNABLE_PLAIN, count: 50, headers: { "X-Release": "2.1" }, localAddress: UNTRUSTED_PIN_SOURCE }));
            const trusted = releasesOf(lab, await load(lab, { host: PINNABLE_PLAIN, count: 50, headers: { "X-Release": "2.1" }, localAddress: TRUSTED_PIN_SOURCE }));
            const observed = { notPinnable, untrusted, trusted };
            assert.deepEqual(observed, { notPinnable: { "2.0": 50 }, untrusted: { "2.0": 50 }, trusted: { "2.1": 50 } }, engine);
            seen.set(engine, observed);
        }
        assert.deepEqual(seen.get("haproxy"), seen.get("nginx"));
    });

    test("a sticky cookie naming a release at weight 0 (or one not in the route) is ignored and replaced", async (t) => {
        if (!ENGINES.every((e) => canRunLab(t, e)) || labs.size < ENGINES.length) return;
        const seen = new Map<Engine, unknown>();
        for (const engine of ENGINES) {
            const lab = labs.get(engine) as Lab;
            const observed: Record<string, unknown> = {};
            for (const stale of ["1.9", "0.1"]) {
                const outcome = await load(lab, { host: ZERO_WEIGHT, count: 40, concurrency: 4, headers: { Cookie: `gw-release-shop=${stale}` } });
                const releases = releasesOf(lab, outcome);
                assert.equal(outcome.failed, 0, engine);
                assert.equal(releases[stale], undefined, `${engine}: the cookie's ${stale} still got requests`);
                assert.ok(outcome.setCookies.length > 0 && outcome.setCookies.every((c) => /^gw-release-shop=2\.[01]; /.test(c)), `${engine}: ${outcome.setCookies.join(" | ")}`);
                observed[stale] = { releases: Object.keys(releases).sort(), replaced: true };
            }
            seen.set(engine, observed);
        }
        assert.deepEqual(seen.get("haproxy"), seen.get("nginx"));
    });

    test("X-Served-By-Release is on every answer with gateway.releaseHeader, and on none without", async (t) => {
        if (!ENGINES.every((e) => canRunLab(t, e)) || headerless.size < ENGINES.length) return;
        for (const engine of ENGINES) {
            for (const [lab, on] of [[labs.get(engine) as Lab, true], [headerless.get(engine) as Lab, false]] as const) {
                for (const host of [WEIGHTED, PINNABLE_PLAIN, "stary.sklep.localhost"]) {
                    const outcome = await load(lab, { host, count: 20, concurrency: 2 });
                    assert.equal(outcome.failed, 0, engine);
                    const headers = Object.keys(outcome.byReleaseHeader);
                    if (on) assert.ok(headers.every((h) => h.startsWith("shop/")), `${engine} ${host}: ${headers.join(", ")}`);
                    else assert.deepEqual(headers, ["(none)"], `${engine} ${host}: releaseHeader false`);
                }
            }
        }
    });

    test("weight changes (routes file rewritten, engine reloaded) under load: 0 failed requests, and each new split applies", async (t) => {
        if (!ENGINES.every((e) => canRunLab(t, e)) || labs.size < ENGINES.length) return;
        // Each change waits until its split is seen, as the routes step waits for the reload's new workers before
        // it returns (a second reload signal while HAProxy's master re-executes itself can be lost).
        const changes: { weights: Record<string, number>; seen: (releases: string[]) => boolean }[] = [
            { weights: { "2.0": 50, "2.1": 50 }, seen: (r) => r.includes("2.0") && r.includes("2.1") && r.filter((x) => x === "2.1").length >= 10 },
            { weights: { "2.0": 0, "2.1": 100 }, seen: (r) => r.every((x) => x === "2.1") },
            { weights: { "2.0": 100, "2.1": 0 }, seen: (r) => r.every((x) => x === "2.0") },
            { weights: { "2.0": 0, "2.1": 1 }, seen: (r) => r.every((x) => x === "2.1") },
        ];
        for (const engine of ENGINES) {
            const lab = labs.get(engine) as Lab;
            const entrypoint = entrypoints.get(engine) as ChildProcess;
            const releaseOf = (local: string) => (lab.names["shop-2-1"].includes(local) ? "2.1" : lab.names["shop-2-0"].includes(local) ? "2.0" : local);
            const sample = async () => {
                const r = releasesOf(lab, await load(lab, { host: WEIGHTED, count: 40, concurrency: 4 }));
                return Object.entries(r).flatMap(([release, n]) => Array<string>(n).fill(release));
            };
            // The lab's zero-failure load: 8 workers, a new connection per request, a short pause, no retry.
            const running = load(lab, { host: WEIGHTED, count: WEIGHT_CHANGE_REQUESTS, concurrency: 8, fresh: true, pauseMs: 20 });
            for (const change of changes) {
                reloadWith(lab, entrypoint, weightedPlan(engine, { weights: change.weights }));
                const deadline = Date.now() + 15_000;
                let last = await sample();
                while (!change.seen(last)) {
                    assert.ok(Date.now() < deadline, `${engine}: ${JSON.stringify(change.weights)} not applied: ${last.join(",")}`);
                    await new Promise((r) => setTimeout(r, 200));
                    last = await sample();
                }
            }
            const outcome = await running;
            assert.equal(entrypoint.exitCode, null, `${engine}: the entrypoint keeps running`);
            assert.equal(outcome.total, WEIGHT_CHANGE_REQUESTS, engine);
            assert.equal(outcome.failed, 0, `${engine}: ${JSON.stringify(outcome.statuses)} ${outcome.errors.join("; ")}`);
            t.diagnostic(`${engine}: ${outcome.total} requests through ${changes.length} weight changes, 0 failed`);
            assert.deepEqual(releasesOf(lab, await load(lab, { host: WEIGHTED, count: 200 })), { "2.1": 200 }, `${engine}: the last split (2.1 alone) holds`);
            assert.equal(releaseOf(echo(http(lab, WEIGHTED, "/")).local), "2.1");
            // No reload after this one: a stop signal while HAProxy's master re-executes itself is lost, and the
            // engine would outlive its entrypoint here (in a container it dies with PID 1).
        }
    });
});
