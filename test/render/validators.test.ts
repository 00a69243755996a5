// Every rendered gateway and keepalived config passes the real tool's own check: `nginx -t`,
// `haproxy -c -dW` (warnings fail) and `keepalived -t` inside a network namespace that has the interface.
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { renderGatewayFiles } from "../../model/gateway";
import { renderKeepalivedConf, renderKeepalivedScripts } from "../../model/virtual-ip";
import { type Plan } from "../../model";
import { assertRunOk, createNetns, deleteNetns, hasTool, lowPortPrefix, needNetns, needTools, removeDir, run, tempDir, variants, withLocalPaths, writeFile, virtualIpOf } from "./helpers";

const VARIANTS = variants();
const dirs: string[] = [];
after(() => dirs.forEach(removeDir));

function workDir(prefix: string): string {
    const dir = tempDir(prefix);
    dirs.push(dir);
    return dir;
}

/**
 * Writes main + routes of a plan whose routes dir and certificates live in a temp dir. nginx's pid file moves
 * there too: `nginx -t` opens it, and /run is root's (and may hold the host's own nginx.pid).
 */
function writeGateway(plan: Plan, prefix: string, opts = { certificates: true }): { dir: string; main: string; routes: string } {
    const dir = workDir(prefix);
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

const NGINX_BINDS = "nginx -t binds the listen ports 80 and 443";

// stdout goes to /dev/null: the harness's stdout is a socket, which `access_log /dev/stdout` cannot open
// (in a container it is a pipe, as in the official image's /var/log/nginx/access.log -> /dev/stdout).
// The open-file soft limit is raised to the hard one, as root's is: below worker_connections nginx warns.
function nginxTest(main: string, prefix: readonly string[]): ReturnType<typeof run> {
    return run("sh", ["-c", 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"', "sh", ...prefix, "nginx", "-t", "-c", main], { stdio: ["ignore", "ignore", "pipe"] });
}

function haproxyCheck(main: string, routes: string): ReturnType<typeof run> {
    return run("haproxy", ["-c", "-dW", "-f", main, "-f", routes]);
}

describe("nginx -t accepts every rendered nginx config", () => {
    for (const v of VARIANTS.filter((x) => x.plan.gateway.engine === "nginx")) {
        test(`${v.name}: nginx.conf + routes.conf pass nginx -t without warnings`, (t) => {
            const prefix = needTools(t, "nginx", "openssl") ? lowPortPrefix(t, NGINX_BINDS) : undefined;
            if (!prefix) return;
            const { main } = writeGateway(v.plan, `nginx-${v.name}`);
            const r = nginxTest(main, prefix);
            assertRunOk(r, "nginx -t");
            assert.doesNotMatch(r.stderr, /\[(warn|emerg|crit|alert)\]/, r.stderr);
        });
    }

    test("the nginx harness catches a broken routes file (negative control)", (t) => {
        const prefix = needTools(t, "nginx", "openssl") ? lowPortPrefix(t, NGINX_BINDS) : undefined;
        if (!prefix) return;
        const { main, routes } = writeGateway(VARIANTS[0].plan, "nginx-broken");
        assertRunOk(nginxTest(main, prefix), "nginx -t before the change");
        fs.appendFileSync(routes, "server { listen 80; server_name broken.example; proxy_pass }\n");
        const broken = nginxTest(main, prefix);
        assert.notEqual(broken.status, 0);
        assert.match(broken.stderr, /routes\.conf/, "it fails on the broken routes file");
    });
});

describe("haproxy -c -dW accepts every rendered HAProxy config (warnings fail)", () => {
    for (const v of VARIANTS.filter((x) => x.plan.gateway.engine === "haproxy")) {
        test(`${v.name}: haproxy.cfg + routes.cfg pass haproxy -c -dW`, (t) => {
            if (!needTools(t, "haproxy", "openssl")) return;
            const { main, routes } = writeGateway(v.plan, `haproxy-${v.name}`);
            assertRunOk(haproxyCheck(main, routes), "haproxy -c -dW");
        });
    }

    test("-dW turns a warning into a failure (negative control)", (t) => {
        if (!needTools(t, "haproxy", "openssl")) return;
        const plan = VARIANTS.find((v) => v.plan.gateway.engine === "haproxy")?.plan;
        assert.ok(plan);
        const { main, routes } = writeGateway(plan, "haproxy-warn");
        assertRunOk(haproxyCheck(main, routes), "haproxy -c -dW before the change");
        fs.appendFileSync(routes, "\nbackend warn-only\n    mode tcp\n    option httplog\n");
        assert.notEqual(haproxyCheck(main, routes).status, 0);
    });
});

// ---- keepalived -t in a network namespace -------------------------------------------------------------

const KEEPALIVED_DIR = "/etc/keepalived";

interface KeepalivedCase {
    readonly name: string;
    readonly plan: Plan;
    readonly node: string;
}

function keepalivedCases(): KeepalivedCase[] {
    return VARIANTS.flatMap((v) => {
        const vrrp = v.plan.virtualIp;
        if (!vrrp) return [];
        const nodes = [...new Set(vrrp.groups.flatMap((g) => g.members.map((m) => m.node)))];
        return nodes.map((node) => ({ name: v.name, plan: v.plan, node }));
    });
}

/**
 * `keepalived -t` as the node sees it: the rendered files at /etc/keepalived (a bind mount of a root-owned,
 * non-world-writable temp dir), the script user in /etc/passwd (a bind-mounted copy), the interface present,
 * and a fresh PID namespace (keepalived 2.2.7 otherwise kills itself while checking scripts: fixed in 2.2.8).
 */
function keepalivedTest(netns: string, files: { conf: string; check: string; notify: string }, scriptUser: string): ReturnType<typeof run> {
    const dir = workDir("keepalived");
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

describe("keepalived -t accepts every rendered keepalived.conf (in a netns with the interface)", () => {
    const cases = keepalivedCases();
    let netns: string | undefined;
    let createdMountPoint = false;
    before(() => {
        if (!hasTool("keepalived") || !hasTool("ip") || process.getuid?.() !== 0) return;
        if (!fs.existsSync(KEEPALIVED_DIR)) {
            fs.mkdirSync(KEEPALIVED_DIR, { mode: 0o755 });
            createdMountPoint = true;
        }
        const ifaces = [...new Set(cases.map((c) => c.plan.virtualIp?.interface ?? "eth0"))];
        netns = createNetns(ifaces);
    });
    after(() => {
        deleteNetns(netns);
        if (createdMountPoint) fs.rmdirSync(KEEPALIVED_DIR);
    });

    for (const c of cases) {
        test(`${c.name}: ${c.node}'s keepalived.conf passes keepalived -t`, (t) => {
            if (!needTools(t, "keepalived") || !needNetns(t, "keepalived -t checks that the interface exists, in a network namespace that has it")) return;
            assert.ok(netns);
            const vrrp = c.plan.virtualIp;
            assert.ok(vrrp);
            const scripts = renderKeepalivedScripts(virtualIpOf(c.plan));
            const conf = renderKeepalivedConf(virtualIpOf(c.plan), c.node, { authPass: "pa55-w0r" });
            assertRunOk(keepalivedTest(netns, { conf, ...scripts }, vrrp.scriptUser), "keepalived -t");
        });
    }

    test("the keepalived harness sees a missing interface and a missing enable_script_security (negative controls)", (t) => {
        if (!needTools(t, "keepalived") || !needNetns(t, "keepalived -t checks that the interface exists, in a network namespace that has it")) return;
        assert.ok(netns);
        const c = cases[0];
        const scripts = renderKeepalivedScripts(virtualIpOf(c.plan));
        const conf = renderKeepalivedConf(virtualIpOf(c.plan), c.node, { authPass: "pa55-w0r" });
        const user = c.plan.virtualIp?.scriptUser ?? "keepalived_script";
        assertRunOk(keepalivedTest(netns, { conf, ...scripts }, user), "keepalived -t (control)");
        const iface = c.plan.virtualIp?.interface ?? "eth0";
        const wrongInterface = conf.replaceAll(` ${iface}\n`, " swrmissing0\n");
        assert.notEqual(keepalivedTest(netns, { conf: wrongInterface, ...scripts }, user).status, 0, "a missing interface must fail");
        const insecure = conf.replace(/^\s*enable_script_security\n/m, "");
        assert.notEqual(keepalivedTest(netns, { conf: insecure, ...scripts }, user).status, 0, "scripts without script security must fail");
    });
});
