// Shared by the render tests: stack plans and variants, real-tool helpers (skip when missing, fail in CI), temp dirs.
import * as assert from "node:assert/strict";
import { spawnSync, SpawnSyncOptions } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, type TestContext } from "node:test";
import { readStackFile } from "../../model/config";
import { formatErrors, type Plan, planStack, type PlanVirtualIp, validateConfig } from "../../model";
import { renderGatewayFiles } from "../../model/gateway";
import { TEMPLATES_DIR } from "../../model/templates";

export const ROOT = path.resolve(__dirname, "..", "..");

// ---- plans ---------------------------------------------------------------------------------------

type Raw = Record<string, unknown> & {
    nodes: Record<string, unknown>[];
    virtualIp?: Record<string, unknown>;
    gateway?: Record<string, unknown>;
    apps: { releases: { hostnames?: string[] }[] }[];
};

export function rawConfig(stack: "dev" | "prod"): Raw {
    const file = readStackFile(path.join(ROOT, `Pulumi.${stack}.yaml`));
    assert.deepEqual(file.errors, [], `Pulumi.${stack}.yaml has unknown keys`);
    return structuredClone(file.config) as Raw;
}

/** The plan's virtual IP slice, which the stacks and variants under test have. */
export function virtualIpOf(plan: Plan): PlanVirtualIp {
    assert.ok(plan.virtualIp, "this plan has no virtual IP");
    return plan.virtualIp;
}

export function planOf(raw: unknown): Plan {
    const result = validateConfig(raw);
    if (!result.ok) assert.fail(`invalid test config:\n${formatErrors(result.errors)}`);
    return planStack(result.config);
}

function withChanges(stack: "dev" | "prod", change: (raw: Raw) => void): Plan {
    const raw = rawConfig(stack);
    change(raw);
    return planOf(raw);
}

/** A third gateway node and two VIP groups, so priorities rotate and peers have two entries. */
function threeGatewaysTwoGroups(raw: Raw, extra: Record<string, unknown>): void {
    // Preference gw-1, gw-2, gw-3 (the stack file ranks its two gateway nodes by priority).
    const priority: Record<string, number> = { "gw-1": 3, "gw-2": 2 };
    for (const n of raw.nodes) if (n.gateway) n.priority = priority[String(n.name)];
    raw.nodes.push({ name: "gw-3", role: "worker", zone: "dmz", address: "172.28.40.15", gateway: true, priority: 1 });
    const vip = raw.virtualIp ?? {};
    delete vip.address;
    delete vip.virtualRouterId;
    raw.virtualIp = {
        ...vip,
        groups: [
            { name: "web", address: "172.28.40.100", virtualRouterId: 51 },
            { name: "api", address: "172.28.40.101", virtualRouterId: 52 },
        ],
        ...extra,
    };
}

/** dev with TLS for its hostnames, a wildcard hostname and a default host instead of rejecting unknown hosts. */
function tlsVariant(raw: Raw): void {
    raw.apps[0].releases[1].hostnames = [...(raw.apps[0].releases[1].hostnames ?? []), "*.sklep.localhost"];
    raw.gateway = {
        ...(raw.gateway ?? {}),
        defaultHost: "sklep.localhost",
        tls: [
            { name: "sklep", hostnames: ["sklep.localhost", "*.sklep.localhost"], certificateSecret: "tlsCert", keySecret: "tlsKey" },
            { name: "stary", hostnames: ["stary.sklep.localhost"], certificateSecret: "tlsOldCert", keySecret: "tlsOldKey" },
        ],
    };
}

/**
 * dev with weighted routes: shop 2.1 (pinnable) beside 1.9 and 2.0; sklep.localhost moves from 2.0's hostnames to a
 * 90/10 route, beta.sklep.localhost shares three releases without the sticky cookie; pins only from loopback.
 */
export function weightedVariant(raw: Raw): void {
    const shop = raw.apps[0] as Raw["apps"][number] & { routes?: unknown[]; releases: Record<string, unknown>[] };
    shop.releases[1].hostnames = (shop.releases[1].hostnames as string[]).filter((h) => h !== "sklep.localhost");
    shop.releases.push({ name: "2.1", pinnable: true, env: { RELEASE: "2.1" } });
    shop.routes = [
        { hostname: "sklep.localhost", releases: { "2.0": 90, "2.1": 10 } },
        { hostname: "beta.sklep.localhost", releases: { "1.9": 1, "2.0": 1, "2.1": 1 }, sticky: false },
    ];
    raw.gateway = { ...(raw.gateway ?? {}), pinning: { trustedNetworks: ["127.0.0.0/8", "10.0.0.0/8"] } };
}

/** The weighted variant over TLS: a weighted wildcard, the weighted hostname as default host, no release header. */
function weightedTlsVariant(raw: Raw): void {
    weightedVariant(raw);
    const shop = raw.apps[0] as Raw["apps"][number] & { routes: unknown[] };
    shop.routes.push({ hostname: "*.sklep.localhost", releases: { "2.0": 3, "2.1": 1 } });
    raw.gateway = {
        ...(raw.gateway ?? {}),
        defaultHost: "sklep.localhost",
        releaseHeader: false,
        pinning: {},
        tls: [{ name: "sklep", hostnames: ["sklep.localhost", "*.sklep.localhost", "stary.sklep.localhost"], certificateSecret: "tlsCert", keySecret: "tlsKey" }],
    };
}

/** No apps and no virtual IP: a gateway with nothing to route, no keepalived, an empty zone. */
function bare(raw: Raw): void {
    raw.apps = [];
    delete raw.virtualIp;
}

export interface Variant {
    readonly name: string;
    readonly plan: Plan;
}

/** The stacks and variants every real validator runs on. */
export function variants(): Variant[] {
    return [
        { name: "dev", plan: withChanges("dev", () => undefined) },
        { name: "prod", plan: withChanges("prod", () => undefined) },
        { name: "dev-haproxy", plan: withChanges("dev", (r) => (r.gateway = { ...r.gateway, engine: "haproxy" })) },
        { name: "prod-haproxy", plan: withChanges("prod", (r) => (r.gateway = { ...r.gateway, engine: "haproxy" })) },
        { name: "tls", plan: withChanges("dev", tlsVariant) },
        {
            name: "tls-haproxy",
            plan: withChanges("dev", (r) => {
                tlsVariant(r);
                r.gateway = { ...r.gateway, engine: "haproxy" };
            }),
        },
        { name: "bare", plan: withChanges("dev", bare) },
        {
            name: "bare-haproxy",
            plan: withChanges("dev", (r) => {
                bare(r);
                r.gateway = { ...r.gateway, engine: "haproxy" };
            }),
        },
        { name: "weighted", plan: withChanges("dev", weightedVariant) },
        { name: "weighted-haproxy", plan: withChanges("dev", (r) => (weightedVariant(r), (r.gateway = { ...r.gateway, engine: "haproxy" }))) },
        { name: "weighted-tls", plan: withChanges("dev", weightedTlsVariant) },
        { name: "weighted-tls-haproxy", plan: withChanges("dev", (r) => (weightedTlsVariant(r), (r.gateway = { ...r.gateway, engine: "haproxy" }))) },
        // dev runs the fast profile (VRRPv3): the default profile (VRRPv2 with PASS authentication) on dev's nodes too.
        { name: "dev-default-profile", plan: withChanges("dev", (r) => (r.virtualIp = { ...r.virtualIp, profile: "default" })) },
        { name: "groups-unicast", plan: withChanges("dev", (r) => threeGatewaysTwoGroups(r, {})) },
        {
            name: "groups-v3-multicast-preempt",
            plan: withChanges("dev", (r) =>
                threeGatewaysTwoGroups(r, { vrrpVersion: 3, advertInt: 0.5, transport: "multicast", preempt: true, preemptDelay: 5 }),
            ),
        },
    ];
}

export function stackPlan(stack: "dev" | "prod"): Plan {
    return withChanges(stack, () => undefined);
}

// ---- real tools --------------------------------------------------------------------------------------

// nginx, haproxy, keepalived and ip live in sbin directories, which a non-root user's PATH lacks on Debian: look
// there too, so an installed tool is found (and run) rather than reported missing.
for (const dir of ["/usr/local/sbin", "/usr/sbin", "/sbin"]) {
    const dirs = (process.env.PATH ?? "").split(path.delimiter);
    if (!dirs.includes(dir)) process.env.PATH = [...dirs.filter(Boolean), dir].join(path.delimiter);
}

const toolCache = new Map<string, boolean>();

export function hasTool(tool: string): boolean {
    let found = toolCache.get(tool);
    if (found === undefined) {
        found = spawnSync("sh", ["-c", 'command -v "$1" >/dev/null 2>&1', "_", tool]).status === 0;
        toolCache.set(tool, found);
    }
    return found;
}

/** True when every tool is there; otherwise skips the test loudly, or fails it when CI is set. */
export function needTools(t: TestContext, ...tools: string[]): boolean {
    const missing = tools.filter((tool) => !hasTool(tool));
    if (missing.length === 0) return true;
    const why = `${missing.join(", ")} not installed`;
    if (process.env.CI) assert.fail(`${why} (required when CI is set)`);
    t.skip(why);
    return false;
}

/** Root, which `ip netns add` needs (keepalived's interface check, the gateway lab); otherwise a skip saying why. */
export function needNetns(t: TestContext, why: string): boolean {
    if (!needTools(t, "ip", "unshare")) return false;
    const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
    if (isRoot) return true;
    if (process.env.CI) assert.fail(`network namespace tests need root (required when CI is set): ${why}`);
    t.skip(`needs root: ${why} (ip netns add)`);
    return false;
}

let userNamespaces: boolean | undefined;

/**
 * The command prefix for a tool that binds ports below 1024 (`nginx -t` opens its listen sockets): none as root;
 * otherwise a user and network namespace of its own (`unshare -rn`), where it may bind them; otherwise a skip.
 */
export function lowPortPrefix(t: TestContext, why: string): string[] | undefined {
    if (typeof process.getuid === "function" && process.getuid() === 0) return [];
    userNamespaces ??= hasTool("unshare") && spawnSync("unshare", ["-rn", "true"]).status === 0;
    if (userNamespaces) return ["unshare", "-rn"];
    if (process.env.CI) assert.fail(`${why}: needs root or unprivileged user namespaces (required when CI is set)`);
    t.skip(`needs root or unprivileged user namespaces (unshare -rn): ${why}`);
    return undefined;
}

export interface RunResult {
    readonly status: number | null;
    readonly stdout: string;
    readonly stderr: string;
}

export function run(cmd: string, args: readonly string[], opts: SpawnSyncOptions = {}): RunResult {
    const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 60_000, ...opts });
    if (r.error) throw r.error;
    return { status: r.status, stdout: String(r.stdout ?? ""), stderr: String(r.stderr ?? "") };
}

export function assertRunOk(r: RunResult, what: string): void {
    assert.equal(r.status, 0, `${what} failed (exit ${r.status}):\n${r.stdout}${r.stderr}`);
}

// ---- temp dirs and namespaces --------------------------------------------------------------------------

export function tempDir(prefix: string): string {
    return fs.mkdtempSync(path.join(os.tmpdir(), `swarm-render-${prefix}-`));
}

export function removeDir(dir: string | undefined): void {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
}

export function writeFile(file: string, content: string, mode = 0o644): string {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, content, { mode });
    fs.chmodSync(file, mode);
    return file;
}

let netnsCounter = 0;

/** A fresh network namespace with `lo` up; `ifaces` get a link of that name (dummy, or veth when dummy is missing). */
export function createNetns(ifaces: readonly string[] = []): string {
    const name = `swr-${process.pid}-${++netnsCounter}`;
    assertRunOk(run("ip", ["netns", "add", name]), `ip netns add ${name}`);
    try {
        assertRunOk(run("ip", ["-n", name, "link", "set", "lo", "up"]), "lo up");
        ifaces.forEach((iface, i) => {
            const dummy = run("ip", ["-n", name, "link", "add", iface, "type", "dummy"]);
            if (dummy.status !== 0) {
                // No dummy module: a veth pair, both ends up, so the link has carrier (keepalived FAULTs without it).
                assertRunOk(run("ip", ["-n", name, "link", "add", iface, "type", "veth", "peer", "name", `swrpeer${i}`]), `veth ${iface}`);
                assertRunOk(run("ip", ["-n", name, "link", "set", `swrpeer${i}`, "up"]), `swrpeer${i} up`);
            }
            assertRunOk(run("ip", ["-n", name, "link", "set", iface, "up"]), `${iface} up`);
        });
    } catch (err) {
        deleteNetns(name);
        throw err;
    }
    return name;
}

export function deleteNetns(name: string | undefined): void {
    if (name) run("ip", ["netns", "del", name]);
}

/** A self-signed certificate and key (openssl) for `hostnames` (all of them as subject alternative names). */
export function selfSignedCertificate(dir: string, stem: string, hostnames: readonly string[]): { certificatePath: string; keyPath: string } {
    const certificatePath = path.join(dir, `${stem}.crt`);
    const keyPath = path.join(dir, `${stem}.key`);
    const cn = hostnames[0].replace(/^\*\./, "wildcard.");
    assertRunOk(
        run("openssl", [
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", `/CN=${cn}`,
            "-addext", `subjectAltName=${hostnames.map((h) => `DNS:${h}`).join(",")}`, "-keyout", keyPath, "-out", certificatePath,
        ]),
        "openssl req",
    );
    return { certificatePath, keyPath };
}

/** The plan with TLS certificate paths and the routes dir moved into `dir` (the files exist there). */
export function withLocalPaths(plan: Plan, dir: string, opts: { certificates: boolean; shared?: { certificatePath: string; keyPath: string } }): Plan {
    const tls = plan.gateway.tls.map((t) => {
        const local = { certificatePath: path.join(dir, `${t.name}.crt`), keyPath: path.join(dir, `${t.name}.key`) };
        if (!opts.certificates) return { ...t, ...local };
        if (opts.shared) {
            // One certificate copied under every name: the tools check that each file holds a certificate and its key.
            fs.copyFileSync(opts.shared.certificatePath, local.certificatePath);
            fs.copyFileSync(opts.shared.keyPath, local.keyPath);
            return { ...t, ...local };
        }
        return { ...t, ...selfSignedCertificate(dir, t.name, t.hostnames) };
    });
    const routesFile = { ...plan.gateway.routesFile, path: path.join(dir, plan.gateway.routesFile.name) };
    // nginx -t binds the health socket: in the test dir, never the host's /var/lib/swarm-gateway.
    const healthSocket = path.join(dir, "health.sock");
    // HAProxy's admin socket and servers' state file too (the entrypoint seeds the file with an empty state of
    // version 1; a missing one is a warning, which `haproxy -c -dW` fails).
    const serverState = plan.gateway.serverState && { socket: path.join(dir, "admin.sock"), file: path.join(dir, "server-state") };
    if (serverState) fs.writeFileSync(serverState.file, "1\n");
    // The metrics FIFO in the test dir (nginx -t creates a plain file there); the exporter from the templates dir.
    const metrics = { ...plan.gateway.metrics, fifo: path.join(dir, "metrics.fifo"), exporterPath: path.join(TEMPLATES_DIR, "metrics", "gateway-metrics.pl") };
    // HAProxy's log relay likewise (its FIFO beside the metrics one).
    const logRelay = plan.gateway.logRelay && { ...plan.gateway.logRelay, fifo: path.join(dir, "log.fifo"), path: path.join(TEMPLATES_DIR, "gateway", "haproxy", "log-relay.pl") };
    // The routes step's agent from the templates dir (run with sh), served on a FIFO pair in the test dir.
    const agent = { path: path.join(TEMPLATES_DIR, "gateway", "gateway-agent.sh"), fifo: path.join(dir, "agent") };
    return { ...plan, gateway: { ...plan.gateway, tls, routesDir: dir, routesFile, healthSocket, serverState, metrics, logRelay, agent } };
}

// ---- the real tools on rendered files ------------------------------------------------------------------

/**
 * Writes main + routes of a plan into `dir`, with its routes dir and certificates there too. nginx's pid file moves
 * there as well: `nginx -t` opens it, and /run is root's (and may hold the host's own nginx.pid).
 */
export function writeGateway(
    plan: Plan,
    dir: string,
    opts: { certificates: boolean; shared?: { certificatePath: string; keyPath: string } } = { certificates: true },
): { dir: string; main: string; routes: string } {
    const local = withLocalPaths(plan, dir, opts);
    const files = renderGatewayFiles(local.gateway, local.routes);
    let mainText = files.main.content;
    if (plan.gateway.engine === "nginx") {
        assert.match(mainText, /^pid \/run\/nginx\.pid;$/m, "the nginx template's pid directive moved: update this test");
        mainText = mainText.replace("pid /run/nginx.pid;", `pid ${dir}/nginx.pid;`);
    }
    return {
        dir,
        main: writeFile(path.join(dir, files.main.name), mainText),
        routes: writeFile(path.join(dir, files.routes.name), files.routes.content),
    };
}

export const NGINX_BINDS = "nginx -t binds the listen ports";

// stdout goes to /dev/null: the harness's stdout is a socket, which `access_log /dev/stdout` cannot open
// (in a container it is a pipe, as in the official image's /var/log/nginx/access.log -> /dev/stdout).
// The open-file soft limit is raised to the hard one, as root's is: below worker_connections nginx warns.
export function nginxTest(main: string, prefix: readonly string[]): RunResult {
    return run("sh", ["-c", 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"', "sh", ...prefix, "nginx", "-t", "-c", main], { stdio: ["ignore", "ignore", "pipe"] });
}

/** `haproxy -c -dW`: warnings fail. */
export function haproxyCheck(main: string, routes: string): RunResult {
    return run("haproxy", ["-c", "-dW", "-f", main, "-f", routes]);
}

/**
 * For one describe block: a network namespace holding `interfaces`, and the /etc/keepalived mount point that
 * keepalivedTest needs (created, and removed after, only when missing). Root only: `netns()` stays undefined otherwise.
 */
export function keepalivedSandbox(interfaces: () => readonly string[]): { netns: () => string | undefined } {
    let netns: string | undefined;
    let createdMountPoint = false;
    before(() => {
        if (!hasTool("keepalived") || !hasTool("ip") || process.getuid?.() !== 0) return;
        if (!fs.existsSync(KEEPALIVED_DIR)) {
            fs.mkdirSync(KEEPALIVED_DIR, { mode: 0o755 });
            createdMountPoint = true;
        }
        netns = createNetns([...interfaces()]);
    });
    after(() => {
        deleteNetns(netns);
        if (createdMountPoint) fs.rmdirSync(KEEPALIVED_DIR);
    });
    return { netns: () => netns };
}

/** Where keepalivedTest bind-mounts the rendered files; it must exist (the caller creates it, and removes it if it did). */
export const KEEPALIVED_DIR = "/etc/keepalived";

/**
 * `keepalived -t` as the node sees it: the rendered files at /etc/keepalived (a bind mount of a root-owned,
 * non-world-writable dir under `dir`), the script user in /etc/passwd (a bind-mounted copy), the interface present
 * (the netns), and a fresh PID namespace (keepalived 2.2.7 otherwise kills itself while checking scripts: fixed in 2.2.8).
 */
export function keepalivedTest(netns: string, dir: string, files: { conf: string; check: string; notify: string }, scriptUser: string): RunResult {
    fs.chmodSync(dir, 0o755);
    const etc = path.join(dir, "etc-keepalived");
    fs.mkdirSync(etc, { mode: 0o755 });
    fs.chmodSync(etc, 0o755);
    writeFile(path.join(etc, "keepalived.conf"), files.conf, 0o600);
    writeFile(path.join(etc, "check_gateway.sh"), files.check, 0o755);
    writeFile(path.join(etc, "notify.sh"), files.notify, 0o755);
    const passwd = writeFile(path.join(dir, "passwd"), `${fs.readFileSync("/etc/passwd", "utf8")}${scriptUser}:x:64990:64990::/nonexistent:/usr/sbin/nologin\n`);
    const group = writeFile(path.join(dir, "group"), `${fs.readFileSync("/etc/group", "utf8")}${scriptUser}:x:64990:\n`);
    const script = [
        'mount --bind "$1" /etc/keepalived',
        'mount --bind "$2" /etc/passwd',
        'mount --bind "$3" /etc/group',
        "exec keepalived -t -f /etc/keepalived/keepalived.conf",
    ].join(" && ");
    return run("ip", ["netns", "exec", netns, "unshare", "--mount", "--propagation", "private", "--pid", "--fork", "sh", "-c", script, "_", etc, passwd, group]);
}
