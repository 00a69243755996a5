// `npm run preview|up|destroy`: which Pulumi CLI runs, with which environment, and what an offline failure says.
// A fake `pulumi` (a shell script recording its argv and environment) stands in for the real CLI.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import { pluginFailure, requiredPlugins, stackEnvironment } from "../../scripts/pulumi";

const ROOT = path.resolve(__dirname, "..", "..");
const WRAPPER = path.join(ROOT, "scripts", "pulumi.ts");
const dirs: string[] = [];
after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function scratch(): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "swarm-cli-"));
    dirs.push(dir);
    return dir;
}

/** An executable shell script named `pulumi` in `dir`. */
function fakePulumi(dir: string, body: string): string {
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, "pulumi");
    fs.writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
    return file;
}

/** Records one line per call: who was called, argv, the backend URL, the passphrase (or <unset>), the directory. */
const RECORDER = (who: string) => `{
  printf '${who}:'; for a in "$@"; do printf ' [%s]' "$a"; done
  printf ' backend=%s passphrase=%s passphrase_file=%s cwd=%s\\n' "$PULUMI_BACKEND_URL" "\${PULUMI_CONFIG_PASSPHRASE-<unset>}" "\${PULUMI_CONFIG_PASSPHRASE_FILE-<unset>}" "$PWD"
} >> "$FAKE_PULUMI_LOG"`;

// What the npm package's launcher prints offline, and what the CLI prints when a provider plugin cannot be fetched.
const PACKAGE_OFFLINE = `printf 'Downloading pulumi v3.265.0...\\n' >&2; printf 'pulumi: fetch failed\\n' >&2; exit 1`;
const PLUGIN_OFFLINE =
    `printf 'Previewing update (dev):\\n'; ` +
    `printf "error: Could not automatically download and install resource plugin 'pulumi-resource-docker' at version v5.2.0, install the plugin using \\\`pulumi plugin install resource docker v5.2.0\\\`: error downloading provider docker to file: failed to download plugin: docker-5.2.0: Get: dial tcp: lookup get.pulumi.com: no such host\\n" >&2; exit 255`;

interface Sandbox {
    readonly dir: string;
    readonly log: string;
    /** A PATH holding only the fake `pulumi` (when there is one). */
    readonly path: string;
    readonly env: NodeJS.ProcessEnv;
}

/** A fake CLI on PATH (or none), a fake npm package launcher, a PULUMI_HOME without a cached CLI. */
function sandbox(opts: { onPath?: string; packageBin?: string } = {}): Sandbox {
    const dir = scratch();
    const log = path.join(dir, "calls.log");
    const bin = path.join(dir, "bin");
    fs.mkdirSync(bin);
    if (opts.onPath !== undefined) fakePulumi(bin, opts.onPath);
    const packageBin = fakePulumi(path.join(dir, "package"), opts.packageBin ?? RECORDER("package"));
    const env: NodeJS.ProcessEnv = {
        PATH: bin,
        HOME: dir,
        PULUMI_HOME: path.join(dir, "pulumi-home"),
        FAKE_PULUMI_LOG: log,
        SWARM_PLATFORM_TEST_PULUMI_PACKAGE_BIN: packageBin,
    };
    return { dir, log, path: bin, env };
}

function wrapper(box: Sandbox, args: string[], env: NodeJS.ProcessEnv = {}) {
    const r = spawnSync(process.execPath, ["--import", "tsx", WRAPPER, ...args], { cwd: ROOT, env: { ...box.env, ...env }, encoding: "utf8", timeout: 60_000 });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr, calls: fs.existsSync(box.log) ? fs.readFileSync(box.log, "utf8").trim().split("\n") : [] };
}

const DEFAULT_BACKEND = `file://${path.join(ROOT, ".pulumi-state")}`;

describe("the Pulumi CLI wrapper", () => {
    it("npm run preview with no stack previews dev with PATH's pulumi (not node_modules/.bin's), the project's file backend and an empty passphrase", () => {
        const box = sandbox({ onPath: RECORDER("path") });
        // Through npm itself: npm puts node_modules/.bin (the npm package's launcher) first on PATH.
        const r = spawnSync("npm", ["run", "--silent", "preview"], {
            cwd: ROOT,
            env: { ...box.env, PATH: [box.path, path.dirname(process.execPath), "/usr/bin", "/bin"].join(path.delimiter) },
            encoding: "utf8",
            timeout: 60_000,
        });
        assert.equal(r.status, 0, r.stderr);
        const calls = fs.readFileSync(box.log, "utf8").trim().split("\n");
        assert.deepEqual(calls, [`path: [preview] [--stack] [dev] backend=${DEFAULT_BACKEND} passphrase= passphrase_file=<unset> cwd=${ROOT}`]);
        assert.ok(fs.statSync(path.join(ROOT, ".pulumi-state")).isDirectory(), "the default file backend's directory is created");
    });

    it("up selects or creates the stack, then applies it; it never logs in", () => {
        const box = sandbox({ onPath: RECORDER("path") });
        const r = wrapper(box, ["up"]);
        assert.equal(r.status, 0, r.stderr);
        assert.deepEqual(
            r.calls.map((c) => c.replace(/ backend=.*/, "")),
            ["path: [stack] [select] [--create] [dev]", "path: [up] [--yes] [--stack] [dev]"],
        );
        assert.ok(r.calls.every((c) => !c.includes("[login]")));
        assert.ok(r.calls.every((c) => c.includes(`backend=${DEFAULT_BACKEND} passphrase= `)), "both commands get the same environment");
    });

    it("a stack name and pulumi flags pass through; a backend URL and passphrase file the user set are kept, and no passphrase is invented for prod", () => {
        const box = sandbox({ onPath: RECORDER("path") });
        const r = wrapper(box, ["destroy", "prod", "--target-dependents"], { PULUMI_BACKEND_URL: "s3://state/swarm", PULUMI_CONFIG_PASSPHRASE_FILE: "/run/secrets/prod-pass" });
        assert.equal(r.status, 0, r.stderr);
        assert.deepEqual(r.calls, [
            `path: [destroy] [--yes] [--stack] [prod] [--target-dependents] backend=s3://state/swarm passphrase=<unset> passphrase_file=/run/secrets/prod-pass cwd=${ROOT}`,
        ]);
    });

    it("prod without a passphrase stops before any pulumi command, naming the variable", () => {
        const box = sandbox({ onPath: RECORDER("path") });
        const r = wrapper(box, ["preview", "prod"]);
        assert.equal(r.status, 1);
        assert.equal(
            r.stderr.trim(),
            "stack prod: set PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE, a file holding it) to the passphrase that encrypts its secrets; the empty default is for the dev stack only.",
        );
        assert.deepEqual(r.calls, [], "pulumi never ran");
        const given = wrapper(box, ["preview", "prod"], { PULUMI_CONFIG_PASSPHRASE: "from-the-user" });
        assert.equal(given.status, 0, given.stderr);
        assert.match(given.calls[0], / passphrase=from-the-user /);
    });

    it("without pulumi on PATH the npm package's CLI runs, after its first-use download (`pulumi version`)", () => {
        const box = sandbox();
        const r = wrapper(box, ["preview"]);
        assert.equal(r.status, 0, r.stderr);
        assert.deepEqual(
            r.calls.map((c) => c.replace(/ backend=.*/, "")),
            ["package: [version]", "package: [preview] [--stack] [dev]"],
        );
    });

    it("a pulumi in some node_modules/.bin on PATH is the npm launcher, not a user's CLI: the package path is taken", () => {
        const box = sandbox();
        const launcherDir = path.join(box.dir, "elsewhere", "node_modules", ".bin");
        fakePulumi(launcherDir, RECORDER("launcher"));
        const r = wrapper(box, ["preview"], { PATH: [launcherDir, box.path].join(path.delimiter) });
        assert.equal(r.status, 0, r.stderr);
        assert.ok(r.calls.every((c) => c.startsWith("package:")), r.calls.join("\n"));
    });

    it("offline, when the npm package cannot download the CLI: one message saying what failed, what to do and what works offline", () => {
        const box = sandbox({ packageBin: PACKAGE_OFFLINE });
        const r = wrapper(box, ["up"]);
        assert.equal(r.status, 1);
        assert.equal(r.stdout, "");
        assert.match(r.stderr, /^Pulumi CLI not available: no `pulumi` on PATH, and the npm package `pulumi` could not download the CLI \(fetch failed\)\.\n/);
        assert.match(r.stderr, /put `pulumi` on\nPATH/);
        assert.match(r.stderr, /set PULUMI_HOME/);
        assert.match(r.stderr, /Offline, these work without Pulumi: npm run render, npm run diff, npm test\.\n$/);
        assert.equal(r.stderr.match(/not available/g)?.length, 1, "one message");
        assert.doesNotMatch(r.stderr, /Downloading pulumi|^\s+at |Error:|\{/m, "no raw launcher output, error object or stack");
    });

    it("no CLI anywhere (no PATH pulumi, no npm package) is the same one message", () => {
        const box = sandbox();
        const r = wrapper(box, ["preview"], { SWARM_PLATFORM_TEST_PULUMI_PACKAGE_BIN: path.join(box.dir, "missing", "pulumi") });
        assert.equal(r.status, 1);
        assert.match(r.stderr, /^Pulumi CLI not available: no `pulumi` on PATH, and the npm package `pulumi` is not installed \(npm ci installs it\)\./);
    });

    it("a provider plugin that cannot be downloaded: the CLI's output, then one message with the install command and what works offline", () => {
        const box = sandbox({ onPath: PLUGIN_OFFLINE });
        const r = wrapper(box, ["preview"]);
        assert.equal(r.status, 1);
        assert.match(r.stdout, /Previewing update \(dev\)/, "the CLI's own output is shown as it comes");
        const message = r.stderr.slice(r.stderr.indexOf("Pulumi provider plugin not available"));
        assert.equal(
            message,
            [
                "Pulumi provider plugin not available: the CLI could not download docker.",
                "What to do: on a machine with network access run",
                "  pulumi plugin install resource docker 5.2.0",
                "then copy its PULUMI_HOME (~/.pulumi; the plugins are under plugins/) here and set PULUMI_HOME to it.",
                "Offline, these work without Pulumi: npm run render, npm run diff, npm test.",
                "",
            ].join("\n"),
        );
    });

    it("a command that fails for another reason keeps its exit status and gets no download message", () => {
        const box = sandbox({ onPath: `printf 'error: no stack named dev found\\n' >&2; exit 3` });
        const r = wrapper(box, ["preview"]);
        assert.equal(r.status, 3);
        assert.equal(r.stderr, "error: no stack named dev found\n");
    });

    it("an unknown action or stack name is a usage error", () => {
        const box = sandbox({ onPath: RECORDER("path") });
        const unknown = wrapper(box, ["apply"]);
        assert.equal(unknown.status, 2);
        assert.match(unknown.stderr, /usage: npm run preview\|up\|destroy \[-- <stack> \[pulumi flags…\]\]/);
        const badStack = wrapper(box, ["preview", "../etc"]);
        assert.equal(badStack.status, 1);
        assert.match(badStack.stderr, /"\.\.\/etc" is not a stack name/);
        assert.deepEqual(badStack.calls, []);
    });
});

describe("stackEnvironment and the plugin failure reader", () => {
    it("a stack whose file names a non-passphrase secrets provider needs no passphrase; one without a file does", () => {
        const project = scratch();
        fs.writeFileSync(path.join(project, "Pulumi.staging.yaml"), "secretsprovider: awskms://alias/swarm\nconfig: {}\n");
        const staging = stackEnvironment("staging", { PULUMI_BACKEND_URL: "file:///state" }, project);
        assert.ok(staging.ok);
        assert.equal(staging.env.PULUMI_CONFIG_PASSPHRASE, undefined);
        const qa = stackEnvironment("qa", { PULUMI_BACKEND_URL: "file:///state" }, project);
        assert.equal(qa.ok, false);
    });

    it("the default backend is the project's .pulumi-state, created; the caller's environment is not changed", () => {
        const project = scratch();
        const base = { PATH: "/usr/bin" };
        const dev = stackEnvironment("dev", base, project);
        assert.ok(dev.ok);
        assert.equal(dev.backendUrl, `file://${path.join(project, ".pulumi-state")}`);
        assert.ok(fs.statSync(path.join(project, ".pulumi-state")).isDirectory());
        assert.deepEqual(base, { PATH: "/usr/bin" });
    });

    it("reads the plugins a failure names, and lists this program's plugins from its dependencies", () => {
        assert.deepEqual(pluginFailure("error: failed to download plugin: random-4.21.2: 403\n`pulumi plugin install resource random v4.21.2 --server https://x`"), {
            named: ["resource random 4.21.2"],
        });
        assert.equal(pluginFailure("error: no stack named dev found"), undefined);
        assert.deepEqual(
            requiredPlugins().map((p) => p.name).sort(),
            ["command", "docker", "random"],
        );
    });
});
