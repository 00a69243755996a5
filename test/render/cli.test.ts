// `npm run render -- --stack-file <file> --out <dir>`: writes every artifact, or nothing and every error.
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, describe, test } from "node:test";
import { renderAll } from "../../model";
import { removeDir, ROOT, run, stackPlan, tempDir, writeFile } from "./helpers";

const dirs: string[] = [];
after(() => dirs.forEach(removeDir));

function scratch(): string {
    const dir = tempDir("cli");
    dirs.push(dir);
    return dir;
}

// No SVG renderer here (diagram-svg.test.ts covers the SVG): the run stays fast and says why it skipped the SVG.
const NO_BROWSER = "/nonexistent/chromium";

function render(...args: string[]) {
    return run(process.execPath, ["--import", "tsx", path.join(ROOT, "scripts", "render.ts"), ...args], {
        cwd: ROOT,
        env: { ...process.env, CHROMIUM_PATH: NO_BROWSER },
    });
}

const INVALID_STACK = `config:
  swarm-platform:driver: docker
  swarm-platform:nodes:
    - { name: manager-1, role: manager, zone: nowhere, address: 172.28.40.11 }
  swarm-platform:gatway: { engine: nginx }
  swarm-platform:virtualIp: { address: 172.28.40.100, virtualRouterId: 300 }
`;

describe("npm run render", () => {
    test("writes every artifact of the stack with its mode and prints one line per file", () => {
        const out = path.join(scratch(), "dev");
        const r = render("--stack-file", path.join(ROOT, "Pulumi.dev.yaml"), "--out", out);
        assert.equal(r.status, 0, r.stderr);
        const expected = renderAll(stackPlan("dev"));
        const lines = r.stdout.trim().split("\n");
        assert.equal(lines.pop(), `skipped ${path.join(out, "diagram.svg")}: CHROMIUM_PATH=${NO_BROWSER} is not an executable file`);
        assert.ok(!fs.existsSync(path.join(out, "diagram.svg")));
        assert.equal(lines.length, expected.length);
        for (const a of expected) {
            const file = path.join(out, a.path);
            assert.equal(fs.readFileSync(file, "utf8"), a.content, a.path);
            assert.equal(fs.statSync(file).mode & 0o777, a.mode ?? 0o644, `${a.path} mode`);
            assert.ok(lines.some((l) => l.startsWith(`wrote ${file} `)), `no summary line for ${a.path}`);
        }
        assert.equal(fs.statSync(path.join(out, "nodes", "gw-1", "keepalived.conf")).mode & 0o777, 0o600);
        assert.match(fs.readFileSync(path.join(out, "nodes", "gw-1", "keepalived.conf"), "utf8"), /^\s*auth_pass RENDERED$/m);
    });

    test("an invalid stack file prints every error with its key path, exits 1 and writes nothing", () => {
        const dir = scratch();
        const stack = writeFile(path.join(dir, "Pulumi.bad.yaml"), INVALID_STACK);
        const out = path.join(dir, "out");
        const r = render("--stack-file", stack, "--out", out);
        assert.equal(r.status, 1);
        assert.equal(r.stdout, "");
        assert.match(r.stderr, /swarm-platform:gatway: unknown config key: did you mean swarm-platform:gateway\?/, "a stack-file key error counts");
        assert.match(r.stderr, /virtualIp\.virtualRouterId: must be 1-255/);
        assert.ok(!fs.existsSync(out), "nothing may be written");
    });

    test("cross-key errors are reported together, nothing written", () => {
        const dir = scratch();
        const stack = writeFile(path.join(dir, "Pulumi.bad.yaml"), INVALID_STACK.replace("virtualRouterId: 300", "virtualRouterId: 30").replace(/\n {2}swarm-platform:gatway.*\n/, "\n"));
        const r = render("--stack-file", stack, "--out", path.join(dir, "out"));
        assert.equal(r.status, 1);
        assert.match(r.stderr, /nodes\[manager-1\]\.zone: unknown zone "nowhere"/);
        assert.match(r.stderr, /virtualIp: needs at least one node with gateway: true/);
        assert.ok(!fs.existsSync(path.join(dir, "out")));
    });

    test("usage errors say what is missing and how to call it", () => {
        const missing = render("--out", scratch());
        assert.equal(missing.status, 2);
        assert.match(missing.stderr, /missing --stack-file/);
        assert.match(missing.stderr, /usage: npm run render -- --stack-file <Pulumi\.<stack>\.yaml> --out <dir>/);
        const unknown = render("--stack-file", "x.yaml", "--out", "o", "--bogus");
        assert.equal(unknown.status, 2);
        assert.match(unknown.stderr, /--bogus/);
        const absent = render("--stack-file", path.join(scratch(), "nope.yaml"), "--out", "o");
        assert.equal(absent.status, 1);
        assert.match(absent.stderr, /nope\.yaml does not exist/);
    });
});
