// The demo app (templates/demo-app) the dev stack builds per release: its answers and its health check.
import * as assert from "node:assert/strict";
import { ChildProcess, spawn } from "node:child_process";
import * as net from "node:net";
import * as path from "node:path";
import { after, describe, test } from "node:test";
import { needTools, run } from "./helpers";

const SERVER = path.join(__dirname, "..", "..", "templates", "demo-app", "server.py");

function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const srv = net.createServer().listen(0, "127.0.0.1", () => {
            const addr = srv.address();
            srv.close(() => (typeof addr === "object" && addr ? resolve(addr.port) : reject(new Error("no port"))));
        });
    });
}

async function waitForHttp(url: string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        try {
            if ((await fetch(url)).ok) return;
        } catch {
            // not listening yet
        }
        if (Date.now() > deadline) assert.fail(`${url} did not answer within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 100));
    }
}

describe("demo app", () => {
    let server: ChildProcess | undefined;
    after(() => server?.kill("SIGTERM"));

    test("answers release=<RELEASE> host=<hostname> on any path, ok on /healthz, and its health check passes", async (t) => {
        if (!needTools(t, "python3")) return;
        const port = await freePort();
        const env = { ...process.env, PORT: String(port), RELEASE: "2.0-test" };
        server = spawn("python3", [SERVER], { env, stdio: "ignore" });
        await waitForHttp(`http://127.0.0.1:${port}/healthz`);
        const body = await (await fetch(`http://127.0.0.1:${port}/any/path?x=1`)).text();
        assert.match(body, /^release=2\.0-test host=\S+\n$/);
        assert.equal(await (await fetch(`http://127.0.0.1:${port}/healthz`)).text(), "ok\n");
        assert.equal(run("python3", [SERVER, "--healthcheck"], { env }).status, 0);
        server.kill("SIGTERM");
        await new Promise((r) => server?.once("exit", r));
        assert.notEqual(run("python3", [SERVER, "--healthcheck"], { env }).status, 0, "unhealthy once stopped");
    });

    test("on SIGTERM it keeps serving DRAIN_SECONDS with Connection: close, finishes a request in flight, then exits 0", async (t) => {
        if (!needTools(t, "python3")) return;
        const port = await freePort();
        const app = spawn("python3", [SERVER], { env: { ...process.env, PORT: String(port), DRAIN_SECONDS: "1.5" }, stdio: "ignore" });
        const exited = new Promise<number | null>((r) => app.once("exit", (code) => r(code)));
        try {
            await waitForHttp(`http://127.0.0.1:${port}/healthz`);
            const t0 = Date.now();
            app.kill("SIGTERM");
            await new Promise((r) => setTimeout(r, 500));
            const during = await fetch(`http://127.0.0.1:${port}/`);
            assert.equal(during.status, 200, "still serving while draining");
            assert.equal(during.headers.get("connection"), "close");
            assert.equal(await exited, 0);
            assert.ok(Date.now() - t0 >= 1400, `exited after ${Date.now() - t0} ms, before the drain ended`);
            await assert.rejects(fetch(`http://127.0.0.1:${port}/`), "not listening after the drain");
        } finally {
            app.kill("SIGKILL");
        }
    });

    test("knobs: EXIT_AT_START exits at once with its status; FAIL_RATE=1 answers 500 but /healthz stays ok", async (t) => {
        if (!needTools(t, "python3")) return;
        assert.equal(run("python3", [SERVER], { env: { ...process.env, EXIT_AT_START: "3" } }).status, 3);
        const port = await freePort();
        const app = spawn("python3", [SERVER], { env: { ...process.env, PORT: String(port), FAIL_RATE: "1", DRAIN_SECONDS: "0" }, stdio: "ignore" });
        try {
            await waitForHttp(`http://127.0.0.1:${port}/healthz`);
            const answer = await fetch(`http://127.0.0.1:${port}/`);
            assert.equal(answer.status, 500);
            assert.match(await answer.text(), /failed on purpose/);
        } finally {
            app.kill("SIGKILL");
        }
    });

    test("FAIL_RATE=0.3 answers 500 to about 30% of 400 requests and never to /healthz; a rate outside 0..1 fails at start naming it", async (t) => {
        if (!needTools(t, "python3")) return;
        const bad = run("python3", [SERVER], { env: { ...process.env, FAIL_RATE: "30" } });
        assert.notEqual(bad.status, 0);
        assert.match(bad.stderr, /FAIL_RATE='30': must be a share from 0 to 1/);
        const port = await freePort();
        const app = spawn("python3", [SERVER], { env: { ...process.env, PORT: String(port), FAIL_RATE: "0.3", DRAIN_SECONDS: "0" }, stdio: "ignore" });
        try {
            await waitForHttp(`http://127.0.0.1:${port}/healthz`);
            const statuses: number[] = [];
            for (let i = 0; i < 400; i++) {
                const answer = await fetch(`http://127.0.0.1:${port}/`);
                await answer.arrayBuffer();
                statuses.push(answer.status);
            }
            const failed = statuses.filter((s) => s === 500).length;
            assert.equal(failed + statuses.filter((s) => s === 200).length, 400, "only 200 and 500");
            // 30% of 400 is 120; ±40 is more than 4 standard deviations (9.2) either way.
            assert.ok(failed >= 80 && failed <= 160, `${failed} of 400 answered 500`);
            for (let i = 0; i < 50; i++) assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200, "/healthz never fails");
        } finally {
            app.kill("SIGKILL");
        }
    });

    test("START_DELAY: not listening before the delay, listening after it", async (t) => {
        if (!needTools(t, "python3")) return;
        const port = await freePort();
        const app = spawn("python3", [SERVER], { env: { ...process.env, PORT: String(port), START_DELAY: "1.5", DRAIN_SECONDS: "0" }, stdio: "ignore" });
        try {
            await new Promise((r) => setTimeout(r, 600));
            await assert.rejects(fetch(`http://127.0.0.1:${port}/healthz`), "listening before START_DELAY");
            await waitForHttp(`http://127.0.0.1:${port}/healthz`, 5000);
        } finally {
            app.kill("SIGKILL");
        }
    });
});
