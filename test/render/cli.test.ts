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
        // dev's fast profile (VRRPv3) has no password; the default profile's is a placeholder (prod's golden files show it)
        assert.doesNotMatch(fs.readFileSync(path.join(out, "nodes", "gw-1", "keepalived.conf"), "utf8"), /auth_pass/);
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

describe("npm run render --out: a clean directory, cleaned only where render wrote", () => {
    const MARKER = ".rendered-by-swarm-platform";
    const listFiles = (dir: string): string[] =>
        fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath, e.name))).sort();

    test("rendering again after a change leaves exactly what a fresh render writes, and says what it removed", () => {
        const dir = scratch();
        const stack = writeFile(path.join(dir, "Pulumi.dev.yaml"), fs.readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8"));
        const out = path.join(dir, "out");
        const first = render("--stack-file", stack, "--out", out);
        assert.equal(first.status, 0, first.stderr);
        const before = listFiles(out);
        assert.ok(before.includes(MARKER), "render marks its directory");
        assert.ok(before.includes(path.join("gateway", "nginx.conf")), before.join(", "));

        // Another gateway engine: nginx's files are no longer produced.
        fs.writeFileSync(stack, fs.readFileSync(stack, "utf8").replace(/^ {4}engine: nginx$/m, "    engine: haproxy"));
        const second = render("--stack-file", stack, "--out", out);
        assert.equal(second.status, 0, second.stderr);
        const fresh = path.join(dir, "fresh");
        assert.equal(render("--stack-file", stack, "--out", fresh).status, 0);
        assert.deepEqual(listFiles(out), listFiles(fresh), "the re-rendered directory holds what a fresh render holds");
        const stale = before.filter((f) => !listFiles(fresh).includes(f));
        assert.ok(stale.includes(path.join("gateway", "nginx.conf")), `stale: ${stale.join(", ")}`);
        for (const f of stale) assert.ok(second.stdout.includes(`removed ${path.join(out, f)} (not produced by this render)`), `no line for ${f}`);
    });

    test("a directory an earlier render left empty is removed", () => {
        const out = path.join(scratch(), "out");
        assert.equal(render("--stack-file", path.join(ROOT, "Pulumi.dev.yaml"), "--out", out).status, 0);
        writeFile(path.join(out, "nodes", "gone-1", "keepalived.conf"), "from an earlier render\n");
        const r = render("--stack-file", path.join(ROOT, "Pulumi.dev.yaml"), "--out", out);
        assert.equal(r.status, 0, r.stderr);
        assert.ok(!fs.existsSync(path.join(out, "nodes", "gone-1")));
        assert.ok(fs.existsSync(path.join(out, "nodes", "gw-1", "keepalived.conf")));
    });

    test("a non-empty directory render did not write is refused and left as it was", () => {
        const out = scratch();
        writeFile(path.join(out, "notes.txt"), "mine\n");
        const r = render("--stack-file", path.join(ROOT, "Pulumi.dev.yaml"), "--out", out);
        assert.equal(r.status, 1);
        assert.match(r.stderr, /refusing to render into .*: it is not empty and was not written by render \(no \.rendered-by-swarm-platform in it\)/);
        assert.deepEqual(fs.readdirSync(out), ["notes.txt"]);
        assert.equal(r.stdout, "");
    });

    test("an empty existing directory is written", () => {
        const out = scratch();
        const r = render("--stack-file", path.join(ROOT, "Pulumi.dev.yaml"), "--out", out);
        assert.equal(r.status, 0, r.stderr);
        assert.ok(fs.existsSync(path.join(out, MARKER)));
    });

    test("the repository root, its parents, the home directory and / are refused even with a marker", () => {
        const home = scratch();
        writeFile(path.join(home, MARKER), "planted\n");
        const asHome = run(process.execPath, ["--import", "tsx", path.join(ROOT, "scripts", "render.ts"), "--stack-file", path.join(ROOT, "Pulumi.dev.yaml"), "--out", home], {
            cwd: ROOT,
            env: { ...process.env, HOME: home },
        });
        assert.equal(asHome.status, 1);
        assert.match(asHome.stderr, /it is your home directory/);
        assert.deepEqual(fs.readdirSync(home), [MARKER], "nothing written or removed");

        const root = render("--stack-file", path.join(ROOT, "Pulumi.dev.yaml"), "--out", ROOT);
        assert.equal(root.status, 1);
        assert.match(root.stderr, /it is the repository root/);
        const parent = render("--stack-file", path.join(ROOT, "Pulumi.dev.yaml"), "--out", path.dirname(ROOT));
        assert.equal(parent.status, 1);
        assert.match(parent.stderr, /it is a parent of the repository root/);
        const slash = render("--stack-file", path.join(ROOT, "Pulumi.dev.yaml"), "--out", "/");
        assert.equal(slash.status, 1);
        assert.match(slash.stderr, /refusing to render into \/: it is /);
    });
});
