// Gateway: which gateway configs are valid, and the planned gateway: engine facts, nodes, TLS certificates, and the
// drain, stop and update timings derived once from the virtual IP's failover time.
import * as assert from "node:assert/strict";
import { describe, test } from "node:test";
import { BASE, invalidConfigs, json, mutate, partial, planOf, stackConfig, unset, validConfigs } from "./fixtures";
import type { Plan, StackConfigInput } from "../../model";
import { gatewayArtifacts, renderGatewayFiles } from "../../model/gateway";
import { readTemplate } from "../../model/templates";

const DEV = stackConfig("dev");
const PROD = stackConfig("prod");
const dev = planOf(DEV);
const prod = planOf(PROD);

const TLS = { certificateSecret: "tlsCert", keySecret: "tlsKey" };

invalidConfigs(
    "gateway",
    [
        {
            name: "gateway http and https on one port",
            change: (d) => (d.gateway.ports.https = 80),
            path: "gateway.ports.https",
            words: ["must differ from gateway.ports.http (80)"],
        },
        {
            name: "a gateway convergence timeout shorter than a healthy gateway update",
            change: (d) => (d.gateway.update = partial({ convergeTimeout: 10 })),
            path: "gateway.update.convergeTimeout",
            words: ["10s is shorter than a healthy gateway update takes at least: update monitor 20s + healthcheck interval 1s = 21s"],
        },
        {
            name: "registry delivery without a registry",
            change: (d) => (d.gateway.delivery = "registry"),
            path: "gateway.registry",
            words: ["is required when gateway.delivery is registry"],
        },
        {
            name: "a registry with load delivery",
            change: (d) => (d.gateway.registry = { server: "registry.example.com", username: "ci", passwordSecret: "registryPassword" }),
            path: "gateway.registry",
            words: ["only used with gateway.delivery: registry"],
        },
        {
            name: "a TLS hostname no release serves",
            change: (d) => (d.gateway.tls = [{ name: "sklep", hostnames: ["sklep.example", "other.example"], ...TLS }]),
            path: "gateway.tls[sklep].hostnames[1]",
            words: ['"other.example" is not served by any release'],
        },
        {
            name: "a hostname with two certificates",
            change: (d) =>
                (d.gateway.tls = [
                    { name: "sklep", hostnames: ["sklep.example"], ...TLS },
                    { name: "stock", hostnames: ["stock.example", "sklep.example"], ...TLS },
                ]),
            path: "gateway.tls[stock].hostnames[1]",
            words: ['hostname "sklep.example" has two certificates', "gateway.tls[sklep].hostnames[0]"],
        },
        {
            name: "a default host no release serves",
            change: (d) => (d.gateway.defaultHost = "www.example"),
            path: "gateway.defaultHost",
            words: ['"www.example" is not served by any release', '"reject"'],
        },
        {
            name: "too few HAProxy server slots",
            change: (d) => {
                d.gateway.engine = "haproxy";
                d.gateway.serverSlots = 2;
            },
            path: "gateway.serverSlots",
            words: ["2 slots cannot hold apps[shop].releases[1.9] (3 tasks during an update)"],
            count: 2, // both shop releases: 2 replicas + 1 surge
        },
        {
            name: "too few HAProxy server slots for an update of all tasks at once",
            change: (d) => {
                d.gateway.engine = "haproxy";
                d.gateway.serverSlots = 5;
                d.apps[0].releases = partial([{ name: "2.0", hostnames: ["sklep.example"], replicas: 3 }]);
                d.apps[0].update.parallelism = 0;
            },
            path: "gateway.serverSlots",
            words: ["5 slots cannot hold apps[shop].releases[2.0] (6 tasks during an update)"],
        },
        {
            name: "server slots with nginx",
            change: (d) => (d.gateway.serverSlots = 10),
            path: "gateway.serverSlots",
            words: ["only applies to engine haproxy"],
        },
        {
            name: "hostnames but no gateway node and no VIP",
            change: (d) => {
                unset(d, "virtualIp");
                d.nodes.forEach((n) => (n.gateway = false));
            },
            path: "nodes",
            words: ["no gateway node", "gateway: true"],
        },
        {
            name: "a TLS certificate without a name",
            change: (d) => (d.gateway.tls = partial([{ hostnames: ["sklep.example"], ...TLS }])),
            path: "gateway.tls[0].name",
            words: ["is required"],
        },
        {
            name: "two TLS certificates with one name",
            change: (d) =>
                (d.gateway.tls = [
                    { name: "sklep", hostnames: ["sklep.example"], ...TLS },
                    { name: "sklep", hostnames: ["stock.example"], ...TLS },
                ]),
            path: "gateway.tls[1].name",
            words: ['certificate name "sklep" is also gateway.tls[0]'],
        },
        {
            name: "a TLS certificate name that is not DNS-safe",
            change: (d) => (d.gateway.tls = [{ name: "Sklep_Cert", hostnames: ["sklep.example"], ...TLS }]),
            path: "gateway.tls[Sklep_Cert].name",
            words: ["TLS certificate name must be lower-case letters"],
        },
        {
            name: "a TLS certificate without hostnames",
            change: (d) => (d.gateway.tls = [{ name: "sklep", hostnames: [], ...TLS }]),
            path: "gateway.tls[sklep].hostnames",
            words: [">=1"],
        },
        {
            name: "a body size with a blank",
            change: (d) => (d.gateway.clientMaxBodySize = "10 m"),
            path: "gateway.clientMaxBodySize",
            words: ["a size like 10m"],
        },
        {
            name: "an engine that is neither nginx nor haproxy",
            change: (d) => Object.assign(d.gateway, { engine: "traefik" }),
            path: "gateway.engine",
            words: ['must be one of "nginx", "haproxy"'],
        },
        {
            name: "too few HAProxy server slots for a start-first rollback",
            change: (d) => {
                d.gateway.engine = "haproxy";
                d.gateway.serverSlots = 4;
                d.apps[1].releases[0].replicas = 2;
                d.apps[1].rollback = partial({ order: "start-first", parallelism: 3 });
            },
            path: "gateway.serverSlots",
            words: ["4 slots cannot hold apps[stock].releases[1.0] (5 tasks during an update)"],
        },
        {
            name: "a default host that is not a hostname",
            change: (d) => (d.gateway.defaultHost = "Reject"),
            path: "gateway.defaultHost",
            words: ['must be "reject" or a lower-case DNS name'],
        },
        {
            name: "a negative stop grace period",
            change: (d) => (d.gateway.stopGracePeriod = -1),
            path: "gateway.stopGracePeriod",
            words: [">=0"],
        },
        {
            name: "a backend connect timeout of 0",
            change: (d) => (d.gateway.timeouts = partial({ connect: 0 })),
            path: "gateway.timeouts.connect",
            words: [">=0.05"],
        },
        {
            name: "a TLS hostname of a release without hostnames (served by none)",
            change: (d) => {
                d.apps[1].releases[0].hostnames = [];
                d.gateway.tls = [{ name: "stock", hostnames: ["stock.example"], ...TLS }];
            },
            path: "gateway.tls[stock].hostnames[0]",
            words: ['"stock.example" is not served by any release'],
        },
        {
            name: "too few server slots with nginx: only the engine is wrong",
            change: (d) => (d.gateway.serverSlots = 2),
            path: "gateway.serverSlots",
            words: ["only applies to engine haproxy"],
        },
        {
            name: "HSTS preload without includeSubDomains",
            change: (d) => Object.assign(d.gateway, { hsts: { maxAge: 31536000, preload: true } }),
            path: "gateway.hsts.preload",
            words: ["needs includeSubDomains: true and maxAge of at least 31536000"],
        },
        {
            name: "HSTS preload with a short max-age",
            change: (d) => Object.assign(d.gateway, { hsts: { maxAge: 600, includeSubDomains: true, preload: true } }),
            path: "gateway.hsts.preload",
            words: ["maxAge of at least 31536000"],
        },
        {
            name: "HSTS true instead of settings or false",
            change: (d) => Object.assign(d.gateway, { hsts: true }),
            path: "gateway.hsts",
            words: [],
        },
        {
            name: "a trusted proxy that is not a network",
            change: (d) => Object.assign(d.gateway, { trustedProxies: ["10.0.0.1"] }),
            path: "gateway.trustedProxies[0]",
            words: ["must be an IPv4 network like 10.0.0.0/24"],
        },
        {
            name: "a trusted proxy network listed twice",
            change: (d) => Object.assign(d.gateway, { trustedProxies: ["10.0.0.0/8", "192.168.0.0/16", "10.0.0.0/8"] }),
            path: "gateway.trustedProxies[2]",
            words: ['"10.0.0.0/8" is also gateway.trustedProxies[0]'],
        },
        {
            name: "a client header timeout of 0",
            change: (d) => Object.assign(d.gateway, { clientTimeouts: { header: 0 } }),
            path: "gateway.clientTimeouts.header",
            words: [">=1"],
        },
        { name: "a trusted proxy of 0.0.0.0/0", change: (d) => (d.gateway.trustedProxies = ["0.0.0.0/0"]), path: "gateway.trustedProxies[0]", words: ["every client"] },
        { name: "a body size of 0", change: (d) => (d.gateway.clientMaxBodySize = "0"), path: "gateway.clientMaxBodySize", words: ["1 to 999999"] },
        { name: "a body size of 7 digits", change: (d) => (d.gateway.clientMaxBodySize = "1000000m"), path: "gateway.clientMaxBodySize", words: ["1 to 999999"] },
        { name: "a gateway image with a tag", change: (d) => (d.gateway.image = "swarm-platform/gateway:1"), path: "gateway.image", words: ["without tag"] },
        {
            name: "a registry server with a scheme",
            change: (d) => Object.assign(d.gateway, { delivery: "registry", registry: { server: "https://registry.example.com", username: "ci", passwordSecret: "registryPassword" } }),
            path: "gateway.registry.server",
            words: ["host[:port]"],
        },
        {
            name: "a registry user with a blank",
            change: (d) => Object.assign(d.gateway, { delivery: "registry", registry: { server: "registry.example.com:5000", username: "c i", passwordSecret: "registryPassword" } }),
            path: "gateway.registry.username",
            words: ["no blanks"],
        },
        {
            name: "HAProxy with more certificates than its bind line holds",
            change: (d) => {
                const hosts = Array.from({ length: 31 }, (_, i) => `h${i}.sklep.example`);
                d.gateway.engine = "haproxy";
                d.apps[0].releases[1].hostnames = [...d.apps[0].releases[1].hostnames, ...hosts];
                d.gateway.tls = hosts.map((h, i) => ({ name: `c${i}`, hostnames: [h], certificateSecret: `cert${i}`, keySecret: `key${i}` }));
            },
            path: "gateway.tls",
            words: ["66 words", "at most 2048 and 64"],
        },
    ],
    35,
);

validConfigs("gateway", [
    {
        name: "registry delivery with a registry",
        change: (d) => {
            d.gateway.delivery = "registry";
            d.gateway.registry = { server: "registry.example.com", username: "ci", passwordSecret: "registryPassword" };
        },
    },
    { name: "a default host that a release serves", change: (d) => (d.gateway.defaultHost = "stock.example") },
    { name: "one certificate for several served hostnames", change: (d) => (d.gateway.tls = [{ name: "sklep", hostnames: ["sklep.example", "nowy.sklep.example"], ...TLS }]) },
    {
        name: "no gateway node when no release has a hostname and there is no VIP",
        change: (d) => {
            unset(d, "virtualIp");
            d.nodes.forEach((n) => (n.gateway = false));
            d.apps.forEach((a) => a.releases.forEach((r) => (r.hostnames = [])));
        },
    },
    {
        name: "exactly enough HAProxy server slots for an update of all tasks at once",
        change: (d) => {
            d.gateway.engine = "haproxy";
            d.gateway.serverSlots = 6;
            d.apps[0].releases = partial([{ name: "2.0", hostnames: ["sklep.example"], replicas: 3 }]);
            d.apps[0].update.parallelism = 0;
        },
    },
    { name: "enough HAProxy server slots", change: (d) => Object.assign(d.gateway, { engine: "haproxy", serverSlots: 3 }) },
    { name: "a stop grace period of 0 (raised by the plan)", change: (d) => (d.gateway.stopGracePeriod = 0) },
    { name: "HAProxy without server slots (the plan sizes them)", change: (d) => (d.gateway.engine = "haproxy") },
    {
        name: "HAProxy server slots enough for a start-first rollback",
        change: (d) => {
            d.gateway.engine = "haproxy";
            d.gateway.serverSlots = 5;
            d.apps[1].releases[0].replicas = 2;
            d.apps[1].rollback = partial({ order: "start-first", parallelism: 3 });
        },
    },
    { name: "https on a port other than 443", change: (d) => Object.assign(d.gateway, { ports: { http: 80, https: 8443 } }) },
    { name: "no HSTS and no redirect", change: (d) => Object.assign(d.gateway, { hsts: false, httpsRedirect: false }) },
    { name: "HSTS ready for the preload list", change: (d) => Object.assign(d.gateway, { hsts: { maxAge: 63072000, includeSubDomains: true, preload: true } }) },
    { name: "trusted proxies", change: (d) => Object.assign(d.gateway, { trustedProxies: ["10.0.0.0/8", "192.0.2.10/32"] }) },
]);

describe("planned gateway", () => {
    test("nginx: its files, signals and default base image", () => {
        const g = dev.gateway;
        assert.deepEqual(
            [g.engine, g.baseImage, g.image, g.service, g.mainFile, g.routesFile, g.reloadSignal, g.stopSignal],
            [
                "nginx",
                "nginx:1.27-bookworm",
                "swarm-platform/gateway",
                "gateway",
                { name: "nginx.conf", path: "/etc/nginx/nginx.conf" },
                { name: "routes.conf", path: "/etc/swarm-gateway/routes.conf" },
                "HUP",
                "QUIT",
            ],
        );
    });

    test("haproxy: its files, signals and default base image; a base image can be chosen", () => {
        const g = planOf(mutate(BASE, (d) => (d.gateway.engine = "haproxy"))).gateway;
        assert.deepEqual(
            [g.engine, g.baseImage, g.mainFile, g.routesFile, g.reloadSignal, g.stopSignal],
            [
                "haproxy",
                "haproxy:2.8-bookworm",
                { name: "haproxy.cfg", path: "/usr/local/etc/haproxy/haproxy.cfg" },
                { name: "routes.cfg", path: "/etc/swarm-gateway/routes.cfg" },
                "USR2",
                "USR1",
            ],
        );
        const custom = planOf(mutate(BASE, (d) => (d.gateway.baseImage = "registry.example.com/nginx:1.27"))).gateway;
        assert.equal(custom.baseImage, "registry.example.com/nginx:1.27");
    });

    test("runs on the gateway nodes, by name, on the gateway network", () => {
        assert.deepEqual(dev.gateway.nodes, ["gw-1", "gw-2"]);
        assert.equal(dev.gateway.network, "gateway");
        const plan = planOf(
            mutate(PROD, (d) => {
                d.nodes[5].gateway = true;
                d.nodes[5].priority = 3;
                d.nodes.reverse();
            }),
        );
        assert.deepEqual(plan.gateway.nodes, ["gw-1", "gw-2", "web-1"]);
        const none = planOf(
            mutate(BASE, (d) => {
                unset(d, "virtualIp");
                d.nodes.forEach((n) => (n.gateway = false));
                d.apps.forEach((a) => a.releases.forEach((r) => (r.hostnames = [])));
            }),
        );
        assert.deepEqual(none.gateway.nodes, []);
    });

    test("settings pass through: ports, default host, body size, timeouts, resolver, delivery, registry", () => {
        const g = planOf(
            mutate(BASE, (d) => {
                d.gateway.ports = { http: 8080, https: 8443 };
                d.gateway.defaultHost = "stock.example";
                d.gateway.clientMaxBodySize = "1g";
                d.gateway.timeouts = { connect: 2, read: 30, send: 20 };
                d.gateway.resolverValid = 30;
                d.gateway.delivery = "registry";
                d.gateway.registry = { server: "registry.example.com", username: "ci", passwordSecret: "registryPassword" };
            }),
        ).gateway;
        assert.deepEqual(
            json({ ports: g.ports, defaultHost: g.defaultHost, size: g.clientMaxBodySize, timeouts: g.timeouts, rv: g.resolverValid, delivery: g.delivery, registry: g.registry }),
            {
                ports: { http: 8080, https: 8443 },
                defaultHost: "stock.example",
                size: "1g",
                timeouts: { connect: 2, read: 30, send: 20 },
                rv: 30,
                delivery: "registry",
                registry: { server: "registry.example.com", username: "ci", passwordSecret: "registryPassword" },
            },
        );
        assert.equal("registry" in dev.gateway, false);
        assert.deepEqual(
            [dev.gateway.defaultHost, dev.gateway.clientMaxBodySize, dev.gateway.resolverValid, dev.gateway.delivery],
            ["reject", "10m", 1, "load"],
        );
        // A 1 s DNS cache: a stopping task leaves the gateway within its drain. A 0.2 s connect timeout: a task on a lost
        // node black-holes the connection, and each request sent to it waits this long before its retry.
        assert.deepEqual(dev.gateway.timeouts, { connect: 0.2, read: 60, send: 60 });
        assert.deepEqual(dev.gateway.retry, { tries: 3, withinSeconds: 0.6 });
    });

    test("HTTPS redirect, HSTS, trusted proxies and client timeouts: defaults and settings", () => {
        assert.deepEqual(json({ r: dev.gateway.httpsRedirect, h: dev.gateway.hsts, t: dev.gateway.trustedProxies, c: dev.gateway.clientTimeouts }), {
            r: true,
            h: "max-age=31536000",
            t: [],
            c: { header: 10, idle: 60, keepAlive: 15 },
        });
        const g = planOf(
            mutate(BASE, (d) =>
                Object.assign(d.gateway, {
                    httpsRedirect: false,
                    hsts: { maxAge: 63072000, includeSubDomains: true, preload: true },
                    trustedProxies: ["192.168.0.0/16", "10.0.0.0/8"],
                    clientTimeouts: { header: 5, idle: 30, keepAlive: 2 },
                }),
            ),
        ).gateway;
        assert.deepEqual(json({ r: g.httpsRedirect, h: g.hsts, t: g.trustedProxies, c: g.clientTimeouts }), {
            r: false,
            h: "max-age=63072000; includeSubDomains; preload",
            t: ["10.0.0.0/8", "192.168.0.0/16"],
            c: { header: 5, idle: 30, keepAlive: 2 },
        });
        assert.equal(planOf(mutate(BASE, (d) => Object.assign(d.gateway, { hsts: false }))).gateway.hsts, false);
        assert.equal(planOf(mutate(BASE, (d) => Object.assign(d.gateway, { hsts: { includeSubDomains: true } }))).gateway.hsts, "max-age=31536000; includeSubDomains");
    });

    test("the health socket lives in the state dir that keepalived's check shares", () => {
        assert.equal(dev.gateway.healthSocket, "/var/lib/swarm-gateway/health.sock");
        assert.equal(dev.virtualIp?.healthCheck.socket, dev.gateway.healthSocket);
    });

    test("the routes dir and the draining flag's dir shared with keepalived", () => {
        assert.equal(dev.gateway.routesDir, "/etc/swarm-gateway");
        assert.equal(dev.gateway.stateDir, "/var/lib/swarm-gateway");
        assert.equal(dev.virtualIp?.healthCheck.gatewayStateDir, dev.gateway.stateDir);
    });

    test("the health path is the virtual IP's health check path, else /healthz", () => {
        assert.equal(dev.gateway.healthPath, "/healthz");
        assert.equal(planOf(mutate(BASE, (d) => (d.virtualIp.healthCheck.path = "/ready"))).gateway.healthPath, "/ready");
        assert.equal(planOf(mutate(DEV, (d) => unset(d, "virtualIp"))).gateway.healthPath, "/healthz");
    });

    test("TLS certificates: by name, hostnames sorted, read from /run/secrets/<name>.crt and .key", () => {
        assert.deepEqual(prod.gateway.tls, [
            {
                name: "tls-0",
                hostnames: ["nowy.sklep.pl", "sklep.pl", "stary.sklep.pl"],
                certificateSecret: "tlsSklepCert",
                keySecret: "tlsSklepKey",
                certificatePath: "/run/secrets/tls-0.crt",
                keyPath: "/run/secrets/tls-0.key",
            },
        ]);
        const two = planOf(
            mutate(BASE, (d) => {
                d.gateway.tls = [
                    { name: "stock", hostnames: ["stock.example"], ...TLS },
                    { name: "shop", hostnames: ["sklep.example", "nowy.sklep.example"], ...TLS },
                ];
            }),
        );
        assert.deepEqual(two.gateway.tls.map((t) => [t.name, t.hostnames]), [
            ["shop", ["nowy.sklep.example", "sklep.example"]],
            ["stock", ["stock.example"]],
        ]);
        assert.deepEqual(two.routes.map((r) => [r.hostname, r.tls]), [
            ["nowy.sklep.example", "shop"],
            ["sklep.example", "shop"],
            ["stary.sklep.example", undefined],
            ["stock.example", "stock"],
        ]);
    });
});

describe("gateway timings", () => {
    const gatewayOf = (config: StackConfigInput) => planOf(config).gateway;
    const UPDATE = { parallelism: 1, order: "stop-first" };

    test("with the default VIP: drain 5 s, grace 30 s, stop 23 s, update every drain + 5 s, watched drain + 15 s", () => {
        const g = planOf(mutate(DEV, (d) => (d.virtualIp.profile = "default"))).gateway;
        assert.deepEqual(
            [g.drainSeconds, g.stopGracePeriod, g.stopTimeout],
            [5, 30, 30 - 5 - 2],
        );
        // dev's fast profile (0.2 s adverts): 1 s less
        assert.equal(dev.gateway.drainSeconds, dev.virtualIp?.drainSeconds);
        assert.equal(dev.gateway.drainSeconds, 4);
        assert.deepEqual(g.update, { ...UPDATE, delay: 5 + 5, failureAction: "rollback", monitor: 5 + 15 });
        assert.deepEqual(g.rollback, { ...UPDATE, delay: 5 + 5, failureAction: "pause", monitor: 5 + 15 });
    });

    test("a short grace period is raised to drain + 10; the engine then gets grace − drain − 2", () => {
        const g = gatewayOf(mutate(BASE, (d) => (d.gateway.stopGracePeriod = 3)));
        assert.deepEqual([g.drainSeconds, g.stopGracePeriod, g.stopTimeout], [5, 15, 8]);
        const exact = gatewayOf(mutate(BASE, (d) => (d.gateway.stopGracePeriod = 15)));
        assert.deepEqual([exact.stopGracePeriod, exact.stopTimeout], [15, 8]);
        const longer = gatewayOf(mutate(BASE, (d) => (d.gateway.stopGracePeriod = 16)));
        assert.deepEqual([longer.stopGracePeriod, longer.stopTimeout], [16, 9]);
    });

    test("a slow failover (fall 10 × interval 5) stretches drain, grace and the update policy", () => {
        const g = gatewayOf(mutate(BASE, (d) => (d.virtualIp.healthCheck = partial({ fall: 10, interval: 5 }))));
        const drain = 10 * 5 + 2 * 1 + 1;
        assert.deepEqual([g.drainSeconds, g.stopGracePeriod, g.stopTimeout], [drain, drain + 10, 8]);
        assert.deepEqual([g.update.delay, g.update.monitor, g.rollback.delay, g.rollback.monitor], [drain + 5, drain + 15, drain + 5, drain + 15]);
    });

    test("the convergence timeout: gateway nodes × (grace + the image's healthcheck time + update delay) + monitor + 60, or as configured", () => {
        const g = gatewayOf(BASE);
        // drain 5: grace 30, delay 10, monitor 20; healthcheck 10 + 5 × 3 = 25
        assert.equal(g.nodes.length, 2);
        assert.equal(g.convergeTimeout, 2 * (30 + 25 + 10) + 20 + 60);
        assert.equal(gatewayOf(mutate(BASE, (d) => (d.gateway.update = partial({ convergeTimeout: 25 })))).convergeTimeout, 25);
    });

    test("without a virtual IP there is nothing to drain: drain 0, grace as configured (at least 10)", () => {
        const g = gatewayOf(mutate(BASE, (d) => unset(d, "virtualIp")));
        assert.deepEqual([g.drainSeconds, g.stopGracePeriod, g.stopTimeout], [0, 30, 28]);
        assert.deepEqual(g.update, { ...UPDATE, delay: 5, failureAction: "rollback", monitor: 15 });
        assert.deepEqual(g.rollback, { ...UPDATE, delay: 5, failureAction: "pause", monitor: 15 });
        const zero = gatewayOf(
            mutate(BASE, (d) => {
                unset(d, "virtualIp");
                d.gateway.stopGracePeriod = 0;
            }),
        );
        assert.deepEqual([zero.drainSeconds, zero.stopGracePeriod, zero.stopTimeout], [0, 10, 8]);
    });

    test("the update policy has no failure ratio: one task per gateway node", () => {
        assert.equal("maxFailureRatio" in dev.gateway.update, false);
        assert.equal("maxFailureRatio" in dev.gateway.rollback, false);
    });
});

// ---- rendered files -------------------------------------------------------------------------------

/** BASE with wildcards, two certificates, a default host and tuned settings: every branch of the routes files. */
const EDGE = mutate(BASE, (d) => {
    d.apps[0].releases[0].hostnames = ["*.sklep.example", "*.shop.sklep.example", "stary.sklep.example"];
    d.gateway.tls = [
        { name: "shop", hostnames: ["sklep.example", "*.shop.sklep.example"], ...TLS },
        { name: "stock", hostnames: ["stock.example"], ...TLS },
    ];
    d.gateway.defaultHost = "stock.example";
    d.gateway.clientMaxBodySize = "2m";
    d.gateway.timeouts = { connect: 4, read: 30, send: 90 };
    d.gateway.resolverValid = 20;
    d.gateway.ports = { http: 8080, https: 8443 };
});
const filesOf = (plan: Plan) => renderGatewayFiles(plan.gateway, plan.routes);
const linesOf = (text: string) => text.split("\n").map((l) => l.trim());
const haproxy = planOf(mutate(EDGE, (d) => (d.gateway.engine = "haproxy")));
const nginx = planOf(EDGE);

describe("HAProxy files", () => {
    const routes = filesOf(haproxy).routes.content;

    test("host rules: exact hostnames first, then wildcards by longest suffix", () => {
        const rules = linesOf(routes).filter((l) => l.startsWith("use_backend"));
        assert.deepEqual(rules, [
            // the http frontend: hostnames with a certificate are redirected to HTTPS
            "use_backend svc.shop-2-0 if { var(txn.host) -m str nowy.sklep.example }",
            "use_backend https-redirect if { var(txn.host) -m str sklep.example }",
            "use_backend svc.shop-1-9 if { var(txn.host) -m str stary.sklep.example }",
            "use_backend https-redirect if { var(txn.host) -m str stock.example }",
            "use_backend https-redirect if { var(txn.host) -m end .shop.sklep.example }",
            "use_backend svc.shop-1-9 if { var(txn.host) -m end .sklep.example }",
            // the https frontend: only the hostnames with a certificate
            "use_backend svc.shop-2-0 if { var(txn.host) -m str sklep.example }",
            "use_backend svc.stock-1-0 if { var(txn.host) -m str stock.example }",
            "use_backend svc.shop-1-9 if { var(txn.host) -m end .shop.sklep.example }",
        ]);
    });

    test("frontends: ports, body limit in bytes, idle timeout, certificates, default backend", () => {
        const lines = linesOf(routes);
        for (const line of [
            "bind :8080",
            "bind :8443 ssl strict-sni crt /run/secrets/shop.crt crt /run/secrets/stock.crt",
            "http-request deny deny_status 413 if { req.hdr_val(content-length) gt 2097152 }",
            "bind unix@/var/lib/swarm-gateway/health.sock mode 666",
            "http-request return status 200 content-type text/plain string ok if { path /healthz }",
            "http-after-response set-header Strict-Transport-Security \"max-age=31536000\"",
            "default_backend svc.stock-1-0",
            "default_backend reject",
        ]) {
            assert.ok(lines.includes(line), `routes.cfg has ${JSON.stringify(line)}`);
        }
    });

    test("one backend per routed service, by service, with its slots", () => {
        const backends = [...routes.matchAll(/^backend (svc\.\S+)\n(?:.*\n)*?\s+server-template (.*)$/gm)].map((m) => [m[1], m[2]]);
        assert.deepEqual(backends, [
            ["svc.shop-1-9", "shop-1-9 10 tasks.shop-1-9:8000 check inter 1s fastinter 500ms downinter 1s fall 2 rise 1 observe layer4 error-limit 1 on-error mark-down resolvers docker resolve-prefer ipv4 init-addr last,none"],
            ["svc.shop-2-0", "shop-2-0 10 tasks.shop-2-0:8000 check inter 1s fastinter 500ms downinter 1s fall 2 rise 1 observe layer4 error-limit 1 on-error mark-down resolvers docker resolve-prefer ipv4 init-addr last,none"],
            ["svc.stock-1-0", "stock-1-0 10 tasks.stock-1-0:8000 check inter 1s fastinter 500ms downinter 1s fall 2 rise 1 observe layer4 error-limit 1 on-error mark-down resolvers docker resolve-prefer ipv4 init-addr last,none"],
        ]);
        assert.equal(linesOf(routes).filter((l) => l.startsWith("backend ")).length, 5, "reject, the HTTPS redirect and one per service");
        assert.ok(routes.includes("# shop release 1.9: 10 slots for the tasks behind tasks.shop-1-9\nbackend svc.shop-1-9\n    timeout connect 4000ms\n    timeout server 90s\n"));
    });

    test("without certificates there is no https frontend; without a default host, unknown hosts are rejected", () => {
        const plain = filesOf(planOf(mutate(BASE, (d) => (d.gateway.engine = "haproxy"))));
        assert.ok(!plain.routes.content.includes("frontend https"));
        assert.ok(linesOf(plain.routes.content).includes("default_backend reject"));
        assert.ok(!plain.main.content.includes("ssl-load-extra-del-ext"));
        assert.ok(filesOf(haproxy).main.content.includes("ssl-load-extra-del-ext"));
    });

    test("haproxy.cfg: the hard stop after the stop timeout, names resolved again every resolverValid seconds, a task gone from DNS dropped at once", () => {
        const main = linesOf(filesOf(haproxy).main.content);
        assert.ok(main.includes(`hard-stop-after ${haproxy.gateway.stopTimeout}s`));
        assert.ok(main.includes("hold valid 20s"));
        assert.ok(main.includes("hold obsolete 0s"));
        assert.ok(main.includes("timeout connect 4000ms"));
        assert.ok(main.includes("timeout server 90s"));
    });

    test("haproxy.cfg: a refused, reset or unanswered connection is retried on another task, twice; the servers' state survives a reload", () => {
        const main = linesOf(filesOf(haproxy).main.content);
        for (const line of ["retries 2", "option redispatch 1", "retry-on conn-failure empty-response", "load-server-state-from-file global"]) {
            assert.ok(main.includes(line), `haproxy.cfg has ${JSON.stringify(line)}`);
        }
        assert.deepEqual(haproxy.gateway.serverState, { socket: "/run/haproxy-admin.sock", file: "/run/haproxy-server-state" });
        assert.ok(main.includes("stats socket /run/haproxy-admin.sock mode 600 level admin"));
        assert.ok(main.includes("server-state-file /run/haproxy-server-state"));
        const entrypoint = filesOf(haproxy).entrypoint.content;
        assert.match(entrypoint, /reload\(\) \{\n\s+interrupted=1\n\s+save_server_state\n\s+kill -USR2 "\$engine"/, "the state is saved before the reload signal");
        assert.match(entrypoint, /^printf '1\\n' >'\/run\/haproxy-server-state'$/m, "a fresh gateway starts with an empty state of version 1");
    });

    test("wildcards by suffix length whatever their hostname order; backends by service whatever the hostname order", () => {
        const plan = planOf(
            mutate(BASE, (d) => {
                d.gateway.engine = "haproxy";
                d.apps[1].releases[0].hostnames = ["a.example", "*.a.example", "*.bbbb.example", "*.cc.example"];
            }),
        );
        const lines = linesOf(filesOf(plan).routes.content);
        assert.deepEqual(
            lines.filter((l) => l.includes("-m end")).map((l) => /-m end (\S+)/.exec(l)?.[1]),
            [".bbbb.example", ".cc.example", ".a.example"],
        );
        assert.deepEqual(
            lines.filter((l) => l.startsWith("backend svc.")),
            ["backend svc.shop-1-9", "backend svc.shop-2-0", "backend svc.stock-1-0"],
        );
    });

    test("body sizes: bare bytes, k, m and g", () => {
        const bytes = (size: string) => {
            const plan = planOf(mutate(BASE, (d) => Object.assign(d.gateway, { engine: "haproxy", clientMaxBodySize: size })));
            return /gt (\d+) \}/.exec(filesOf(plan).routes.content)?.[1];
        };
        assert.deepEqual(["512", "3k", "10m", "1g"].map(bytes), ["512", String(3 * 1024), String(10 * 1024 ** 2), String(1024 ** 3)]);
    });
});

describe("nginx files", () => {
    const { routes, main } = filesOf(nginx);

    test("routes.conf: body size, backend timeouts; the entrypoint follows DNS every resolverValid s", () => {
        const lines = linesOf(routes.content);
        assert.ok(linesOf(filesOf(nginx).entrypoint.content).some((l) => l.startsWith("while sleep 20 && ")), "the upstream watcher's period is resolverValid");
        for (const line of ["client_max_body_size 2m;", "proxy_connect_timeout 4000ms;", "proxy_read_timeout 30s;", "proxy_send_timeout 90s;"]) {
            assert.ok(lines.includes(line), `routes.conf has ${JSON.stringify(line)}`);
        }
    });

    test("one server per hostname, one TLS server per certified hostname, the default host served for unknown hosts", () => {
        const servers = [...routes.content.matchAll(/^# (\S+) (?:over TLS \((\S+)\) )?-> (\S+) release (\S+)$/gm)].map((m) => [m[1], m[2] ?? "", m[3], m[4]]);
        const redirected = [...routes.content.matchAll(/^# (\S+) -> HTTPS$/gm)].map((m) => m[1]);
        assert.deepEqual(redirected, ["*.shop.sklep.example", "sklep.example", "stock.example"]);
        assert.equal(routes.content.split("return 308 https://$host:8443$request_uri;").length, 4, "each redirect names the non-default HTTPS port");
        assert.ok(filesOf(haproxy).routes.content.includes("http-request redirect location https://%[var(txn.host)]:8443%[capture.req.uri] code 308\n"));
        const noRedirect = filesOf(planOf(mutate(BASE, (d) => Object.assign(d.gateway, { httpsRedirect: false, hsts: false })))).routes.content;
        assert.ok(!noRedirect.includes("return 308") && !noRedirect.includes("Strict-Transport-Security"), "httpsRedirect: false serves TLS hostnames on HTTP too; hsts: false sends none");
        assert.deepEqual(servers, [
            ["*.sklep.example", "", "shop", "1.9"],
            ["nowy.sklep.example", "", "shop", "2.0"],
            ["stary.sklep.example", "", "shop", "1.9"],
            ["*.shop.sklep.example", "shop", "shop", "1.9"],
            ["sklep.example", "shop", "shop", "2.0"],
            ["stock.example", "stock", "stock", "1.0"],
        ]);
        assert.ok(routes.content.includes("    listen 8443 ssl;\n    server_name stock.example;\n    ssl_certificate /run/secrets/stock.crt;\n    ssl_certificate_key /run/secrets/stock.key;\n"));
        assert.ok(routes.content.includes("        # defaultHost: stock.example\n        proxy_pass http://svc.stock-1-0;\n"));
        assert.ok(routes.content.includes("upstream svc.stock-1-0 {\n    server 127.0.0.1:8000 down;\n    include /run/gateway-upstreams/stock-1-0@8000.conf*;\n"));
        assert.ok(routes.content.includes("    listen 8443 ssl default_server;"));
        assert.ok(!routes.content.includes("return 444;"));
    });

    test("without certificates and a default host: no TLS servers, unknown hosts get 444", () => {
        const plain = filesOf(planOf(BASE)).routes.content;
        assert.ok(plain.includes("        return 444;\n"));
        assert.ok(!plain.includes("ssl"));
    });

    test("nginx.conf stops workers after the stop timeout and includes the routes file", () => {
        assert.ok(main.content.includes(`worker_shutdown_timeout ${nginx.gateway.stopTimeout}s;`));
        assert.ok(main.content.includes("include /etc/swarm-gateway/routes.conf;"));
    });
});

describe("gateway image files", () => {
    test("the entrypoint drains for the plan's drain time and uses the engine's signals", () => {
        const nginxEntry = filesOf(nginx).entrypoint;
        assert.equal(nginxEntry.name, "entrypoint.sh");
        assert.ok(nginxEntry.content.includes("drain_seconds=5\n"));
        assert.ok(nginxEntry.content.includes("state_dir='/var/lib/swarm-gateway'\n"));
        assert.ok(nginxEntry.content.includes('kill -QUIT "$engine"'));
        assert.ok(nginxEntry.content.includes('kill -HUP "$engine"'));
        assert.ok(nginxEntry.content.includes("nginx -g 'daemon off;' &\n") && !nginxEntry.content.includes("haproxy -W"));
        const haproxyEntry = filesOf(haproxy).entrypoint.content;
        assert.ok(!haproxyEntry.includes("nginx -g"));
        // With metrics on (the default) HAProxy's log goes into the metrics FIFO (model/metrics.ts).
        assert.ok(haproxyEntry.includes(`exec 4>"$metrics_fifo"\nhaproxy -W -db -f '/usr/local/etc/haproxy/haproxy.cfg' -f '/etc/swarm-gateway/routes.cfg' >&4 3>&- 4>&- &`));
        assert.ok(haproxyEntry.includes('kill -USR1 "$engine"') && haproxyEntry.includes('kill -USR2 "$engine"'));
        const noVip = filesOf(planOf(mutate(EDGE, (d) => unset(d, "virtualIp")))).entrypoint.content;
        assert.ok(noVip.includes("drain_seconds=0\n"));
    });

    test("the Dockerfile builds on the base image, copies the main config and checks the health URL", () => {
        const dockerfile = filesOf(nginx).dockerfile;
        assert.ok(dockerfile.includes("FROM nginx:1.27-bookworm\n"));
        assert.ok(dockerfile.includes("COPY nginx.conf /etc/nginx/nginx.conf\n"));
        assert.ok(dockerfile.includes("mkdir -p /etc/swarm-gateway /var/lib/swarm-gateway"));
        assert.ok(dockerfile.includes('"--unix-socket", "/var/lib/swarm-gateway/health.sock", "http://localhost/healthz"'));
        assert.ok(filesOf(haproxy).dockerfile.includes("COPY haproxy.cfg /usr/local/etc/haproxy/haproxy.cfg\n"));
    });

    test("render writes the Dockerfile, the main config, the entrypoint (executable), the routes file, its served-routes sidecar, the routes step's agent and the metrics exporter", () => {
        const files = filesOf(haproxy);
        assert.deepEqual(gatewayArtifacts(haproxy.gateway, haproxy.routes), [
            { path: "gateway/Dockerfile", content: files.dockerfile, mode: 0o644 },
            { path: "gateway/haproxy.cfg", content: files.main.content, mode: 0o644 },
            { path: "gateway/entrypoint.sh", content: files.entrypoint.content, mode: 0o755 },
            { path: "gateway/routes.cfg", content: files.routes.content, mode: 0o644 },
            { path: "gateway/routes.served", content: files.served.content, mode: 0o644 },
            { path: "gateway/gateway-agent.sh", content: readTemplate("gateway/gateway-agent.sh"), mode: 0o755 },
            { path: "gateway/gateway-metrics.pl", content: files.metricsExporter?.content, mode: 0o755 },
        ]);
        assert.ok(files.dockerfile.includes("COPY gateway-agent.sh /usr/local/bin/gateway-agent\n"), "the agent is baked into the image");
    });

    test("the served-routes sidecar lists each route as `hostname service port probe-path app/release`, the app's health path included", () => {
        const custom = planOf(mutate(DEV, (d) => (d.apps[0].healthcheck = partial({ path: "/ready" }))));
        const lines = renderGatewayFiles(custom.gateway, custom.routes).served.content.split("\n").filter(Boolean);
        assert.deepEqual(lines, custom.routes.map((r) => `${r.hostname} ${r.backends[0].service} ${r.backends[0].port} ${r.app === "shop" ? "/ready" : "/healthz"} ${r.app}/${r.backends[0].release}`));
        assert.ok(lines.some((l) => l.includes(" /ready ")), lines.join("; "));
    });

    test("the served sidecar lists every release a weighted hostname can reach: weight above 0 or pinnable; a weight change keeps it", () => {
        const split = (weights: Record<string, number>, pinnable = true) =>
            planOf(
                mutate(DEV, (d) => {
                    d.apps[0].releases[1].hostnames = ["nowy.sklep.localhost"];
                    d.apps[0].releases.push(partial({ name: "2.1", pinnable }));
                    d.apps[0].routes = partial([{ hostname: "sklep.localhost", releases: weights }]);
                }),
            );
        const served = (plan: Plan) => renderGatewayFiles(plan.gateway, plan.routes).served.content.split("\n").filter(Boolean);
        assert.deepEqual(served(split({ "2.0": 90, "2.1": 10 })), [
            "nowy.sklep.localhost shop-2-0 8000 /healthz shop/2.0",
            "nowy.sklep.localhost shop-2-1 8000 /healthz shop/2.1",
            "sklep.localhost shop-2-0 8000 /healthz shop/2.0",
            "sklep.localhost shop-2-1 8000 /healthz shop/2.1",
            "stary.sklep.localhost shop-1-9 8000 /healthz shop/1.9",
            "stary.sklep.localhost shop-2-1 8000 /healthz shop/2.1",
        ]);
        // The routes step probes a release whose (hostname, service) line is new: a weight change adds none.
        assert.deepEqual(served(split({ "2.0": 50, "2.1": 50 })), served(split({ "2.0": 90, "2.1": 10 })));
        // Not pinnable: 2.1 is reachable only where it has weight, and gains sklep.localhost when its weight leaves 0.
        assert.ok(!served(split({ "2.0": 1, "2.1": 0 }, false)).some((l) => l.includes("shop-2-1")));
        assert.deepEqual(served(split({ "2.0": 1, "2.1": 1 }, false)).filter((l) => l.includes("shop-2-1")), ["sklep.localhost shop-2-1 8000 /healthz shop/2.1"]);
    });

    test("the image's HEALTHCHECK is the plan's (the convergence timeout counts on it)", () => {
        const hc = nginx.gateway.healthcheck;
        assert.match(filesOf(nginx).dockerfile, new RegExp(`HEALTHCHECK --interval=${hc.interval}s --timeout=${hc.timeout}s --start-period=${hc.startPeriod}s --retries=${hc.retries} `));
    });

    test("a routes list without the default host or a certificate the gateway lacks is refused", () => {
        assert.throws(() => renderGatewayFiles(nginx.gateway, nginx.routes.filter((r) => r.hostname !== "stock.example")), /gateway.defaultHost "stock.example" is not a routed hostname/);
        const unknownCert = nginx.routes.map((r) => (r.tls === "stock" ? { ...r, tls: "gone" } : r));
        assert.throws(() => renderGatewayFiles(nginx.gateway, unknownCert), /route stock.example: unknown TLS certificate "gone"/);
        assert.throws(() => renderGatewayFiles({ ...nginx.gateway, clientMaxBodySize: "10 m" }, nginx.routes), /gateway.clientMaxBodySize "10 m" is not a size like 10m/);
        assert.throws(() => renderGatewayFiles({ ...nginx.gateway, clientMaxBodySize: "x10m" }, nginx.routes), /is not a size like 10m/);
        assert.throws(() => renderGatewayFiles({ ...nginx.gateway, stateDir: "/var/lib/a b" }, nginx.routes), /^Error: gateway.stateDir "\/var\/lib\/a b" has characters/);
    });
});
