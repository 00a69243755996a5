// Every rendered gateway and keepalived config passes the real tool's own check: `nginx -t`,
// `haproxy -c -dW` (warnings fail) and `keepalived -t` inside a network namespace that has the interface.
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import { after, describe, test } from "node:test";
import { renderKeepalivedConf, renderKeepalivedScripts } from "../../model/virtual-ip";
import { type Plan } from "../../model";
import {
    assertRunOk, haproxyCheck, keepalivedSandbox, keepalivedTest as keepalivedIn, lowPortPrefix, needNetns, needTools, NGINX_BINDS,
    nginxTest, removeDir, tempDir, variants, virtualIpOf, writeGateway as writeGatewayIn,
} from "./helpers";

const VARIANTS = variants();
const dirs: string[] = [];
after(() => dirs.forEach(removeDir));

function workDir(prefix: string): string {
    const dir = tempDir(prefix);
    dirs.push(dir);
    return dir;
}

function writeGateway(plan: Plan, prefix: string, opts = { certificates: true }) {
    return writeGatewayIn(plan, workDir(prefix), opts);
}

function keepalivedTest(netns: string, files: { conf: string; check: string; notify: string }, scriptUser: string) {
    return keepalivedIn(netns, workDir("keepalived"), files, scriptUser);
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

describe("keepalived -t accepts every rendered keepalived.conf (in a netns with the interface)", () => {
    const cases = keepalivedCases();
    const sandbox = keepalivedSandbox(() => [...new Set(cases.map((c) => c.plan.virtualIp?.interface ?? "eth0"))]);

    for (const c of cases) {
        test(`${c.name}: ${c.node}'s keepalived.conf passes keepalived -t`, (t) => {
            if (!needTools(t, "keepalived") || !needNetns(t, "keepalived -t checks that the interface exists, in a network namespace that has it")) return;
            const netns = sandbox.netns();
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
        const netns = sandbox.netns();
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
