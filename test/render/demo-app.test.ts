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
});
