// Generated valid configs (test/model/generators.ts, fixed seed) and the explicit edge configs, rendered and given to
// the real tools: `nginx -t` (no [warn]), `haproxy -c -dW` (warnings fail), `keepalived -t` in a network namespace that
// has the configured interface (no warning, unknown keyword or truncation), shellcheck on the rendered scripts.
// A config that validation accepts and a tool rejects is a bug in the validation (or the template).
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, describe, test } from "node:test";
import fc from "fast-check";
import { type Plan, planStack, renderAll, type StackConfigInput, validateConfig } from "../../model";
import { renderGatewayFiles } from "../../model/gateway";
import { renderKeepalivedConf, renderKeepalivedScripts, virtualIpMembersOf } from "../../model/virtual-ip";
import { showErrors } from "../model/fixtures";
import { configArb, configOf, INTERFACES, MAX_HOSTNAMES, MAX_HOSTNAMES_PER_RELEASE, padded, type Shape } from "../model/generators";
import {
    assertRunOk, haproxyCheck, keepalivedSandbox, keepalivedTest, lowPortPrefix, needNetns, needTools, NGINX_BINDS, nginxTest,
    removeDir, run, tempDir, writeGateway,
} from "./helpers";

const SEED = 20261129;
const RUNS = 25;

/** Every key at the top of its range at once, and every key at the bottom. */
const EDGE_SHAPES: Record<string, Shape> = {
    "edges-max": {
        managers: 5,
        gateways: 6,
        zones: 4,
        extraWorkers: 4,
        zoneOf: Array.from({ length: 15 }, (_, i) => i % 4),
        driver: "ssh",
        sshUser: padded("deploy_", 32, "y"),
        managerAvailability: "active",
        names: "long",
        hostnames: "long",
        manyHostnames: true,
        gateway: {
            engine: "nginx",
            ports: { http: 65535, https: 1 },
            tls: "each",
            defaultHost: true,
            httpsRedirect: true,
            hsts: { maxAge: 63072000, includeSubDomains: true, preload: true },
            clientMaxBodySize: "999999g",
            timeouts: { connect: 86400, read: 86400, send: 86400 },
            clientTimeouts: { header: 86400, idle: 86400, keepAlive: 86400 },
            trustedProxies: ["10.0.0.0/8", "192.168.1.7/32"],
            resolverValid: 600,
            serverSlots: undefined,
            stopGracePeriod: 86400,
        },
        zoneSubnets: true,
        vip: {
            vrids: [255, 1, 128],
            hosts: [254, 200, 201],
            shorthand: false,
            timing: { version: 2, advertInt: 255 },
            preempt: true,
            preemptDelay: 1000,
            transport: "unicast",
            authentication: true,
            interface: "abcdefghijklmno",
            scriptUser: padded("keepalived_", 32, "z"),
            healthCheck: { path: "/a/b.c/~d_e-f/", interval: 3600, fall: 10, rise: 10 },
            garpMasterDelay: 255,
            prefix: 8,
        },
        apps: Array.from({ length: 8 }, (_, i) => ({
            zone: i % 4,
            replicas: 4,
            releases: [[9, 20], [9, 19], [0, 0], [1, 10]] as [number, number][],
            hostsPerRelease: [3, 3, 3, 3],
            endpointMode: "dnsrr" as const,
            port: 65535,
            healthcheck: { interval: 10, retries: 5, startPeriod: 30, path: "/a/b.c/~d_e-f/" },
            update: { parallelism: 3, order: "start-first" as const },
            env: { LONG_NAME_1: "x".repeat(200) },
        })),
        hostPool: [],
        labelOrder: true,
        ranked: { bootstrap: 4, priorities: [100, 1, 50, 2, 99, 3] },
    },
    "edges-min": {
        managers: 1,
        gateways: 1,
        zones: 1,
        extraWorkers: 0,
        zoneOf: Array.from({ length: 15 }, () => 0),
        driver: "docker",
        sshUser: undefined,
        managerAvailability: "drain",
        names: "short",
        hostnames: "short",
        manyHostnames: false,
        gateway: {
            engine: "haproxy",
            ports: { http: 1, https: 65535 },
            tls: "one",
            defaultHost: false,
            httpsRedirect: false,
            hsts: { maxAge: 0 },
            clientMaxBodySize: "1",
            timeouts: { connect: 1, read: 1, send: 1 },
            clientTimeouts: { header: 1, idle: 1, keepAlive: 1 },
            trustedProxies: [],
            resolverValid: 1,
            serverSlots: 1000,
            stopGracePeriod: 0,
        },
        zoneSubnets: false,
        vip: {
            vrids: [1],
            hosts: [200, 201, 202],
            shorthand: true,
            timing: { version: 3, advertInt: 0.01 },
            preempt: false,
            preemptDelay: undefined,
            transport: "multicast",
            authentication: undefined,
            interface: "e",
            scriptUser: "k",
            healthCheck: { path: "/", interval: 1, fall: 1, rise: 1 },
            garpMasterDelay: 0,
            prefix: 24,
        },
        apps: [
            {
                zone: 0,
                replicas: 0,
                releases: [[0, 0]],
                hostsPerRelease: [1, 0, 0, 0],
                endpointMode: "vip",
                port: 1,
                healthcheck: { interval: 1, retries: 1, startPeriod: 0, path: "/" },
                update: { parallelism: 0, order: "stop-first" },
                env: {},
            },
        ],
        hostPool: ["x.example"],
        labelOrder: false,
        ranked: undefined,
    },
};

interface Case {
    readonly name: string;
    readonly raw: StackConfigInput;
}

const CASES: Case[] = [
    ...Object.entries(EDGE_SHAPES).map(([name, shape]) => ({ name, raw: configOf(shape) })),
    ...fc.sample(configArb, { seed: SEED, numRuns: RUNS }).map((raw, i) => ({ name: `generated #${i + 1}`, raw })),
];

const dirs: string[] = [];
after(() => dirs.forEach(removeDir));
function workDir(prefix: string): string {
    const dir = tempDir(prefix);
    dirs.push(dir);
    return dir;
}

function planOf(c: Case): Plan {
    const result = validateConfig(c.raw);
    if (!result.ok) assert.fail(`${c.name}: the generated config is invalid:\n${showErrors(result.errors)}`);
    return planStack(result.config);
}

/** What a case is about, for the test name: engine, gateway count, VRRP version and the widths. */
function summary(plan: Plan): string {
    const vip = plan.virtualIp;
    const gateways = plan.nodes.filter((n) => n.gateway).length;
    const longest = Math.max(...plan.routes.map((r) => r.hostname.length), 0);
    return [
        plan.gateway.engine,
        `${gateways} gateway${gateways > 1 ? "s" : ""}`,
        vip ? `VRRPv${vip.version} advert ${vip.advertInt} on ${vip.interface}` : "no VIP",
        `${plan.routes.length} hostnames (longest ${longest})`,
        `${plan.gateway.tls.length} certificates`,
    ].join(", ");
}

/**
 * A temp dir whose path is as long as /run/secrets/ (where the gateway reads its certificates), so that HAProxy's
 * bind line, which lists every certificate path, is exactly as long here as on a node.
 */
function secretsLikeDir(): string {
    const dir = fs.mkdtempSync("/tmp/c");
    dirs.push(dir);
    assert.equal(`${dir}/`.length, "/run/secrets/".length, dir);
    return dir;
}

let sharedCertificate: { certificatePath: string; keyPath: string } | undefined;

/** One EC certificate (fast to make) copied under every certificate name of every case. */
function certificate(): { certificatePath: string; keyPath: string } {
    if (sharedCertificate) return sharedCertificate;
    const dir = workDir("generated-cert");
    const certificatePath = path.join(dir, "shared.crt");
    const keyPath = path.join(dir, "shared.key");
    assertRunOk(
        run("openssl", [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", "/CN=generated.example",
            "-keyout", keyPath, "-out", certificatePath,
        ]),
        "openssl req",
    );
    sharedCertificate = { certificatePath, keyPath };
    return sharedCertificate;
}

const PLANS = CASES.map((c) => ({ ...c, plan: planOf(c) }));

describe("generated configs: validation accepts them, and rendering never throws", () => {
    test(`${CASES.length} configs (${RUNS} drawn with seed ${SEED} + ${Object.keys(EDGE_SHAPES).length} edge configs) validate and render`, () => {
        for (const c of PLANS) assert.doesNotThrow(() => renderAll(c.plan), c.name);
    });

    test("the draws reach the edges: long and short names, the most hostnames, one gateway, both VRRP versions, both engines", () => {
        const drawn = PLANS.filter((c) => c.name.startsWith("generated"));
        const reached = (what: string, ok: (p: Plan) => boolean) => assert.ok(drawn.some((c) => ok(c.plan)), `no draw has ${what}`);
        reached("a 63-character node name", (p) => p.nodes.some((n) => n.name.length === 63));
        reached("a 253-character hostname", (p) => p.routes.some((r) => r.hostname.length === 253));
        reached(`a release with ${MAX_HOSTNAMES_PER_RELEASE} hostnames`, (p) => p.releases.some((r) => r.hostnames.length === MAX_HOSTNAMES_PER_RELEASE));
        assert.equal(PLANS[0].plan.routes.length, MAX_HOSTNAMES, "edges-max routes the most hostnames");
        reached("a single gateway node", (p) => p.nodes.filter((n) => n.gateway).length === 1);
        reached("VRRPv2", (p) => p.virtualIp?.version === 2);
        reached("VRRPv3", (p) => p.virtualIp?.version === 3);
        reached("a 15-character interface", (p) => p.virtualIp?.interface.length === 15);
        reached("nginx", (p) => p.gateway.engine === "nginx");
        reached("haproxy", (p) => p.gateway.engine === "haproxy");
        reached("TLS", (p) => p.gateway.tls.length > 0);
    });
});

describe("generated configs pass the gateway engine's own check without a warning", () => {
    for (const c of PLANS) {
        const engine = c.plan.gateway.engine;
        test(`${c.name} (${summary(c.plan)}): ${engine === "nginx" ? "nginx -t" : "haproxy -c -dW"}`, (t) => {
            if (!needTools(t, engine, "openssl")) return;
            const prefix = engine === "nginx" ? lowPortPrefix(t, NGINX_BINDS) : [];
            if (!prefix) return;
            const { main, routes } = writeGateway(c.plan, secretsLikeDir(), { certificates: true, shared: certificate() });
            if (engine === "nginx") {
                const r = nginxTest(main, prefix);
                assertRunOk(r, "nginx -t");
                assert.doesNotMatch(r.stderr, /\[(warn|emerg|crit|alert)\]/, r.stderr);
            } else {
                const r = haproxyCheck(main, routes);
                assertRunOk(r, "haproxy -c -dW");
                assert.doesNotMatch(`${r.stdout}${r.stderr}`, /\[(WARNING|ALERT)\]/, r.stdout + r.stderr);
            }
        });
    }
});

// keepalived -t exits non-zero on a warning; these catch what it only reports (a cut value, a clamped range).
const KEEPALIVED_COMPLAINTS = /warning|unknown keyword|truncat|invalid|out of range|too long|ignor|exceed|error/i;

describe("generated configs pass keepalived -t without a warning (in a netns with the interface)", () => {
    const withVip = PLANS.filter((c) => c.plan.virtualIp);
    const sandbox = keepalivedSandbox(() => INTERFACES);

    for (const c of withVip) {
        test(`${c.name} (${summary(c.plan)}): the first and the last member's keepalived.conf`, (t) => {
            if (!needTools(t, "keepalived") || !needNetns(t, "keepalived -t checks that the interface exists, in a network namespace that has it")) return;
            const netns = sandbox.netns();
            assert.ok(netns);
            const vip = c.plan.virtualIp;
            assert.ok(vip);
            const members = virtualIpMembersOf(vip);
            const scripts = renderKeepalivedScripts(vip);
            for (const node of new Set([members[0], members[members.length - 1]])) {
                const conf = renderKeepalivedConf(vip, node, { authPass: "pa55-w0r" });
                const r = keepalivedTest(netns, workDir("generated-keepalived"), { conf, ...scripts }, vip.scriptUser);
                assertRunOk(r, `keepalived -t (${node})`);
                assert.doesNotMatch(`${r.stdout}${r.stderr}`, KEEPALIVED_COMPLAINTS, `keepalived -t (${node}):\n${r.stdout}${r.stderr}`);
            }
        });
    }
});

describe("generated configs' rendered scripts pass shellcheck", () => {
    for (const c of PLANS) {
        test(`${c.name}: gateway entrypoint.sh${c.plan.virtualIp ? ", check_gateway.sh and notify.sh" : ""}`, (t) => {
            if (!needTools(t, "shellcheck")) return;
            const scripts: Record<string, string> = { "entrypoint.sh": renderGatewayFiles(c.plan.gateway, c.plan.routes).entrypoint.content };
            if (c.plan.virtualIp) Object.assign(scripts, renderKeepalivedScripts(c.plan.virtualIp));
            for (const [name, text] of Object.entries(scripts)) {
                assertRunOk(run("shellcheck", ["-S", "warning", "-s", "sh", "-"], { input: text }), `shellcheck ${name}`);
            }
        });
    }
});
