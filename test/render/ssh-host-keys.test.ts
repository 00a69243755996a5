// Pinned SSH host keys against a real sshd on loopback: the exact ssh command lines the program produces (the docker
// provider's ssh:// connection, as docker's connection helper builds it, and an image delivery's script) connect when
// the pinned key is the server's, and fail with a host key error before any remote command runs when it is not.
// The remote side is a ForceCommand that records the command it was asked to run: a marker it never writes proves
// nothing ran. Needs root (sshd) and OpenSSH's sshd, ssh, ssh-keygen and ssh-keyscan.
import * as assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { type PlanNodeSsh, parseSshHostKey, sshDeliveryArgs, sshRemoteDocker } from "../../model/nodes";
import { renderNodeScript } from "../../model/scripts";
import { needTools, planOf, rawConfig, removeDir, run, RunResult, tempDir, writeFile } from "./helpers";

const TOOLS = ["sshd", "ssh", "ssh-keygen", "ssh-keyscan", "bash"];
const IMAGE = "registry.example.com/sklep/gateway:1a2b3c";
/** The image ID the stand-in local engine gives every reference. */
const IMAGE_ID = `sha256:${"c".repeat(64)}`;

/** A free loopback port (the kernel picks one; sshd binds it right after). */
function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => {
            const port = (server.address() as net.AddressInfo).port;
            server.close(() => resolve(port));
        });
    });
}

async function waitForPort(port: number, ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
        const open = await new Promise<boolean>((resolve) => {
            const s = net.connect(port, "127.0.0.1", () => s.end(() => resolve(true)));
            s.once("error", () => resolve(false));
        });
        if (open) return;
        await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`sshd did not listen on 127.0.0.1:${port} within ${ms} ms`);
}

/** The prod stack with gw-1 reached at the test sshd, pinned to `hostKey`, with the test's client key in sshOpts. */
function gatewaySsh(port: number, hostKey: string, clientKey: string): PlanNodeSsh {
    const config = rawConfig("prod");
    const drivers = config.drivers as { ssh: Record<string, unknown> };
    drivers.ssh = { ...drivers.ssh, user: "root", sudo: false, sshOpts: ["-i", clientKey, "-o", "IdentitiesOnly=yes"] };
    const gw1 = config.nodes.find((n) => n.name === "gw-1");
    assert.ok(gw1);
    gw1.ssh = { host: "127.0.0.1", port };
    gw1.hostKey = hostKey;
    const ssh = planOf(config).nodes.find((n) => n.name === "gw-1")?.ssh;
    assert.ok(ssh);
    return ssh;
}

/**
 * The argv the docker provider runs for `ssh://user@host:port` with `sshOpts` (docker/cli cli/connhelper, which the
 * provider calls with its ssh_opts): -l, -p, the options, a connect timeout, -T, then `--`, the host and the command.
 */
function dockerProviderArgv(ssh: PlanNodeSsh): string[] {
    return ["-l", ssh.user, "-p", String(ssh.port), ...ssh.clientOptions, "-o ConnectTimeout=30", "-T", "--", ssh.host, "docker system dial-stdio"];
}

describe("pinned host keys against a real sshd", () => {
    let work: string | undefined;
    let sshd: ChildProcess | undefined;
    let port = 0;
    let rightKey = "";
    let wrongKey = "";
    const marker = () => path.join(work as string, "ran");
    /** The remote commands ssh was asked to run, in order (undefined: none). */
    const ranCommand = () => (fs.existsSync(marker()) ? fs.readFileSync(marker(), "utf8").trim() : undefined);
    const ranCommands = () => ranCommand()?.split("\n").map((c) => c.trim()) ?? [];
    /** The docker calls those commands made on the node, in order. */
    const dockerCalls = () => (fs.existsSync(`${marker()}.docker`) ? fs.readFileSync(`${marker()}.docker`, "utf8").trim().split("\n") : []);
    const clientKey = () => path.join(work as string, "client");

    /** Runs ssh (or the image load) with nothing from the user's environment: no agent, a scratch HOME. */
    const env = () => ({ PATH: `${path.join(work as string, "bin")}:${process.env.PATH}`, HOME: work as string });
    const ssh = (argv: string[]): RunResult => run("ssh", argv, { env: env(), input: "", timeout: 30_000 });
    /** The image load's `bash -s` payload for gw-1 reached at `target`. */
    const imageLoadScript = (target: PlanNodeSsh, image = IMAGE): string =>
        renderNodeScript("image-deliver", {
            node: "gw-1",
            env: { IMAGE: image, CACHE_DIR: path.join(work as string, "cache"), NODE_KEY: "gw-1", SSH_ARGS: sshDeliveryArgs(target).join("\n"), REMOTE_DOCKER: sshRemoteDocker(false) },
        });
    const imageLoad = (target: PlanNodeSsh, image = IMAGE): RunResult => run("bash", ["-s"], { env: env(), input: imageLoadScript(target, image), timeout: 30_000 });

    const imageLoadAsync = (target: PlanNodeSsh): Promise<{ status: number | null; stderr: string }> =>
        new Promise((resolve) => {
            const child = spawn("bash", ["-s"], { env: env() });
            let stderr = "";
            child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
            child.stdout.resume();
            const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
            child.on("close", (status) => {
                clearTimeout(timer);
                resolve({ status, stderr });
            });
            child.stdin.end(imageLoadScript(target));
        });

    before(async () => {
        if (!TOOLS.every((tool) => run("bash", ["-c", `command -v ${tool}`]).status === 0) || process.getuid?.() !== 0) return;
        work = tempDir("sshd");
        fs.chmodSync(work, 0o755);
        const w = work;
        const keygen = (file: string) => {
            const r = run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "", "-f", path.join(w, file)]);
            assert.equal(r.status, 0, r.stderr);
            return fs.readFileSync(path.join(w, `${file}.pub`), "utf8").trim();
        };
        rightKey = keygen("host");
        wrongKey = keygen("impostor");
        writeFile(path.join(w, "authorized_keys"), `${keygen("client")}\n`, 0o600);
        // The "remote command": records what ssh asked to run, then runs it as the node's shell would, with a stand-in
        // node docker that records each call (its words quoted) and what came on stdin (an image load's bytes). It has
        // the image only once a `docker load` came (image inspect fails before).
        writeFile(path.join(w, "record.sh"), `#!/bin/sh\nprintf '%s\\n' "$SSH_ORIGINAL_COMMAND" >>${marker()}\nPATH=${path.join(w, "node-bin")}:$PATH exec sh -c "$SSH_ORIGINAL_COMMAND"\n`, 0o755);
        writeFile(
            path.join(w, "node-bin", "docker"),
            `#!/bin/bash\n{ printf docker; printf ' %q' "$@"; echo; } >>${marker()}.docker\ncase "$1" in\nload) cat >${marker()}.stdin; : >${marker()}.loaded ;;\nimage) [ -f ${marker()}.loaded ] || exit 1 ;;\nesac\n`,
            0o755,
        );
        // The image the load sends: a stand-in for `docker save` on the machine running Pulumi.
        writeFile(path.join(w, "bin", "docker"), `#!/bin/sh\ncase "$1" in\nimage) echo ${IMAGE_ID} ;;\nsave) [ "$3" = -o ] && printf "image-bytes:%s" "$2" >"$4" ;;\n*) exit 2 ;;\nesac\n`, 0o755);
        port = await freePort();
        writeFile(
            path.join(w, "sshd_config"),
            [
                `ListenAddress 127.0.0.1:${port}`,
                `HostKey ${path.join(w, "host")}`,
                `AuthorizedKeysFile ${path.join(w, "authorized_keys")}`,
                `PidFile ${path.join(w, "sshd.pid")}`,
                `ForceCommand ${path.join(w, "record.sh")}`,
                "StrictModes no",
                "UsePAM no",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "PermitRootLogin prohibit-password",
                "",
            ].join("\n"),
            0o600,
        );
        fs.mkdirSync("/run/sshd", { recursive: true, mode: 0o755 }); // sshd's privilege separation directory
        const binary = run("bash", ["-c", "command -v sshd"]).stdout.trim();
        const check = run(binary, ["-t", "-f", path.join(w, "sshd_config")]);
        assert.equal(check.status, 0, `sshd -t: ${check.stderr}`);
        sshd = spawn(binary, ["-D", "-e", "-f", path.join(w, "sshd_config")], { stdio: "ignore" });
        await waitForPort(port, 10_000);
    });
    after(() => {
        sshd?.kill("SIGTERM");
        removeDir(work);
    });
    const ready = (t: Parameters<typeof needTools>[0]): boolean => {
        if (!needTools(t, ...TOOLS)) return false;
        if (process.getuid?.() !== 0) {
            if (process.env.CI) assert.fail("the sshd test needs root (required when CI is set)");
            t.skip("not root: cannot run sshd");
            return false;
        }
        assert.ok(work !== undefined, "sshd was not set up");
        return true;
    };
    const clean = () => {
        ["", ".tmp", ".stdin", ".loaded", ".docker"].forEach((s) => fs.rmSync(`${marker()}${s}`, { force: true }));
        fs.rmSync(path.join(work as string, "cache"), { recursive: true, force: true });
    };

    test("ssh-keyscan's `<type> <base64>` is exactly what nodes[].hostKey takes and what the program pins", (t) => {
        if (!ready(t)) return;
        const scan = run("ssh-keyscan", ["-t", "ed25519", "-p", String(port), "127.0.0.1"]);
        assert.equal(scan.status, 0, scan.stderr);
        const line = scan.stdout.split("\n").find((l) => l.startsWith(`[127.0.0.1]:${port} `));
        assert.ok(line, scan.stdout);
        const scanned = line.split(" ").slice(1).join(" ");
        assert.deepEqual(parseSshHostKey(scanned), { key: rightKey });
        assert.equal(gatewaySsh(port, scanned, clientKey()).hostKey, rightKey);
    });

    test("with the server's key pinned, the docker provider's ssh command line connects and runs its command", (t) => {
        if (!ready(t)) return;
        clean();
        const r = ssh(dockerProviderArgv(gatewaySsh(port, rightKey, clientKey())));
        assert.equal(r.status, 0, r.stderr);
        assert.equal(ranCommand(), "docker system dial-stdio");
    });

    test("with the server's key pinned, an image delivery streams the saved image into `docker load` on the node, then tags it", (t) => {
        if (!ready(t)) return;
        clean();
        const r = imageLoad(gatewaySsh(port, rightKey, clientKey()));
        assert.equal(r.status, 0, r.stderr);
        const calls = dockerCalls();
        assert.match(calls[0], /^docker image inspect /, "first: does the node have the image already");
        assert.ok(calls.includes("docker load -q"), calls.join("\n"));
        assert.equal(calls.at(-1), `docker tag ${IMAGE_ID} ${IMAGE}`);
        assert.equal(fs.readFileSync(`${marker()}.stdin`, "utf8"), `image-bytes:${IMAGE_ID}`);
        assert.equal(ranCommands().length, 2, `two ssh sessions: look (and tag), then load, check and tag\n${ranCommands().join("\n")}`);
        // again: the node has it, nothing is sent, only the tag, in one session
        clean();
        fs.writeFileSync(`${marker()}.loaded`, "");
        const again = imageLoad(gatewaySsh(port, rightKey, clientKey()));
        assert.equal(again.status, 0, again.stderr);
        assert.deepEqual(dockerCalls(), [`docker image inspect ${IMAGE_ID}`, `docker tag ${IMAGE_ID} ${IMAGE}`]);
        assert.equal(ranCommands().length, 1);
        assert.ok(!fs.existsSync(`${marker()}.stdin`));
        assert.match(again.stdout, /image-deliver: present /);
    });

    test("with another key pinned, the docker provider's connection fails on the host key and runs nothing", (t) => {
        if (!ready(t)) return;
        clean();
        const r = ssh(dockerProviderArgv(gatewaySsh(port, wrongKey, clientKey())));
        assert.equal(r.status, 255);
        assert.match(r.stderr, /REMOTE HOST IDENTIFICATION HAS CHANGED/);
        assert.match(r.stderr, /Host key verification failed/);
        assert.equal(ranCommand(), undefined, "no remote command ran");
        assert.ok(!fs.existsSync(`${marker()}.stdin`));
    });

    test("with another key pinned, an image load fails on the host key and sends nothing", (t) => {
        if (!ready(t)) return;
        clean();
        const r = imageLoad(gatewaySsh(port, wrongKey, clientKey()));
        assert.notEqual(r.status, 0);
        assert.match(r.stderr, /Host key verification failed/);
        assert.doesNotMatch(r.stderr, /trying again/, "a refused host key is not tried again");
        assert.equal(ranCommand(), undefined, "no remote command ran");
    });

    test("an image load whose ssh the node's sshd drops (MaxStartups reached) tries again and delivers", async (t) => {
        if (!ready(t)) return;
        clean();
        const w = work as string;
        // A second sshd like the first, but one unauthenticated connection is all it takes in (MaxStartups 1:100:1:
        // every other new connection is dropped, as sshd's default 10:30:100 drops some beyond 10).
        const busyPort = await freePort();
        const config = fs
            .readFileSync(path.join(w, "sshd_config"), "utf8")
            .replace(/^ListenAddress .*$/m, `ListenAddress 127.0.0.1:${busyPort}`)
            .replace(/^PidFile .*$/m, `PidFile ${path.join(w, "sshd-busy.pid")}`);
        writeFile(path.join(w, "sshd_busy_config"), `${config}MaxStartups 1:100:1\n`, 0o600);
        const busy = spawn(run("bash", ["-c", "command -v sshd"]).stdout.trim(), ["-D", "-e", "-f", path.join(w, "sshd_busy_config")], { stdio: "ignore" });
        let holder: net.Socket | undefined;
        try {
            await waitForPort(busyPort, 10_000);
            await new Promise((r) => setTimeout(r, 200)); // the probe's connection gone from sshd's count
            // A connection that never authenticates holds that one place for 0.8 s: the load's first ssh is dropped.
            const held = net.connect(busyPort, "127.0.0.1");
            holder = held;
            await new Promise<void>((resolve, reject) => held.once("connect", resolve).once("error", reject));
            await new Promise((r) => setTimeout(r, 200)); // accepted by sshd: its count is 1
            setTimeout(() => held.destroy(), 800);
            const started = Date.now();
            const r = await imageLoadAsync(gatewaySsh(busyPort, rightKey, clientKey()));
            assert.equal(r.status, 0, r.stderr);
            assert.match(r.stderr, /image-deliver \(gw-1\): ssh did not get in \(.*(kex_exchange_identification|Connection (reset|closed) by).*\), trying again/);
            assert.ok(Date.now() - started >= 1000, "the first try was dropped, the next came a second later");
            const calls = dockerCalls();
            assert.ok(calls.includes("docker load -q"), calls.join("\n"));
            assert.equal(calls.at(-1), `docker tag ${IMAGE_ID} ${IMAGE}`);
            assert.equal(fs.readFileSync(`${marker()}.stdin`, "utf8"), `image-bytes:${IMAGE_ID}`, "the image went whole");
        } finally {
            holder?.destroy();
            busy.kill("SIGTERM");
        }
    });

    test("an image load whose ssh gets no banner in time (a busy sshd accepted and stayed silent) tries again and delivers", async (t) => {
        if (!ready(t)) return;
        clean();
        // In front of the node's sshd: the first connection is accepted and never answered; the next ones reach sshd.
        let connections = 0;
        const silent: net.Socket[] = [];
        const front = net.createServer((client) => {
            if (++connections === 1) {
                silent.push(client);
                return;
            }
            const upstream = net.connect(port, "127.0.0.1");
            client.pipe(upstream).pipe(client);
            client.on("error", () => upstream.destroy());
            upstream.on("error", () => client.destroy());
        });
        await new Promise<void>((resolve) => front.listen(0, "127.0.0.1", resolve));
        try {
            const target = gatewaySsh((front.address() as net.AddressInfo).port, rightKey, clientKey());
            const r = await imageLoadAsync({ ...target, clientOptions: [...target.clientOptions, "-o", "ConnectTimeout=1"] });
            assert.equal(r.status, 0, r.stderr);
            assert.match(r.stderr, /image-deliver \(gw-1\): ssh did not get in \(.*timed out during banner exchange.*\), trying again/);
            assert.ok(connections >= 2, `${connections} connection(s)`);
            assert.equal(fs.readFileSync(`${marker()}.stdin`, "utf8"), `image-bytes:${IMAGE_ID}`, "the image went whole");
        } finally {
            silent.forEach((s) => s.destroy());
            await new Promise((resolve) => front.close(resolve));
        }
    });

    test("options added after the pinned ones cannot relax them (ssh keeps the first value), even past validation", (t) => {
        if (!ready(t)) return;
        clean();
        const target = gatewaySsh(port, wrongKey, clientKey());
        const relaxed = { ...target, clientOptions: [...target.clientOptions, "-o", "StrictHostKeyChecking=no", "-o", `UserKnownHostsFile=${path.join(work as string, "known_hosts")}`] };
        const r = ssh(dockerProviderArgv(relaxed));
        assert.equal(r.status, 255);
        assert.match(r.stderr, /Host key verification failed/);
        assert.equal(ranCommand(), undefined);
    });

    test("an image reference is data to the delivery script and a quoted word to the node's shell, never code", (t) => {
        if (!ready(t)) return;
        clean();
        const pwned = path.join(work as string, "pwned");
        const image = `x$(touch ${pwned})\`touch ${pwned}\` 'q' "d"`;
        const r = imageLoad(gatewaySsh(port, rightKey, clientKey()), image);
        assert.equal(r.status, 0, r.stderr);
        assert.ok(!fs.existsSync(pwned));
        // the node's shell would split the tag command into exactly these words, running nothing
        const words = run("bash", ["-c", 'eval "set -- $CMD"; printf "%s\\n" "$@"'], { env: { PATH: process.env.PATH, CMD: dockerCalls().at(-1) ?? "" } });
        assert.equal(words.status, 0, words.stderr);
        assert.deepEqual(words.stdout.split("\n").slice(0, -1), ["docker", "tag", IMAGE_ID, image]);
        assert.ok(!fs.existsSync(pwned));
    });
});
