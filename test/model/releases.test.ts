// Releases and routes: which apps and releases are valid, and the planned services (one per release, by service
// name) and routes (one per hostname, by hostname).
import * as assert from "node:assert/strict";
import { describe, test } from "node:test";
import { BASE, diffPaths, errorsOf, invalidConfigs, json, mutate, partial, planOf, stackConfig, validConfigs } from "./fixtures";
import type { Plan, PlanRelease } from "../../model";
import { firstAnswerNodes, routedServices, serviceNameOf, updateSurge } from "../../model/releases";

const DEV = stackConfig("dev");
const PROD = stackConfig("prod");
const dev = planOf(DEV);
const prod = planOf(PROD);

const byService = (plan: Plan, service: string): PlanRelease => {
    const r = plan.releases.find((x) => x.service === service);
    assert.ok(r, `no release with service ${service}`);
    return r;
};

invalidConfigs(
    "releases",
    [
        {
            name: "a wildcard that is not a leading *. label",
            change: (d) => (d.apps[0].releases[0].hostnames = ["*sklep.example"]),
            path: "apps[shop].releases[1.9].hostnames[0]",
            words: ["lower-case DNS name"],
        },
        {
            name: "an app in an undeclared zone",
            change: (d) => (d.apps[1].zone = "intr"),
            path: "apps[stock].zone",
            words: ['unknown zone "intr"', "dmz, intra"],
        },
        {
            name: "an app whose zone has no active node (all drained)",
            change: (d) => {
                d.swarm.managerAvailability = "drain";
                d.nodes[5].availability = "drain";
            },
            path: "apps[stock].zone",
            words: ['no active node in zone "intra" can run stock', "manager-1 (drain)", "worker-1 (drain)", "(nodes in zone: manager-1 (drain), manager-2 (drain), manager-3 (drain), worker-1 (drain))"],
        },
        {
            name: "one hostname on two releases of one app",
            change: (d) => d.apps[0].releases[1].hostnames.push("stary.sklep.example"),
            path: "apps[shop].releases[2.0].hostnames[2]",
            words: ['"stary.sklep.example" is already served by apps[shop].releases[1.9]', "exactly one release"],
        },
        {
            name: "one hostname on releases of two apps",
            change: (d) => (d.apps[1].releases[0].hostnames = ["sklep.example"]),
            path: "apps[stock].releases[1.0].hostnames[0]",
            words: ['"sklep.example" is already served by apps[shop].releases[2.0]'],
        },
        {
            name: "an upper-case hostname",
            change: (d) => (d.apps[1].releases[0].hostnames = ["Stock.example"]),
            path: "apps[stock].releases[1.0].hostnames[0]",
            words: ["lower-case DNS name"],
        },
        {
            name: "a derived service name longer than 63 characters",
            change: (d) => {
                d.apps[1].name = "a-very-long-application-name-that-is-ok";
                d.apps[1].releases[0].name = "2024.06.01-build.123456789-hotfix.1.0.0";
            },
            path: "apps[a-very-long-application-name-that-is-ok].releases[2024.06.01-build.123456789-hotfix.1.0.0].name",
            words: ["must be a DNS label", "at most 63 characters", "set service:"],
        },
        {
            name: "an explicit service name longer than 63 characters",
            change: (d) => (d.apps[1].releases[0].service = "s".repeat(64)),
            path: "apps[stock].releases[1.0].service",
            words: ["at most 63 characters"],
        },
        {
            name: "an explicit service name that clashes with another release's",
            change: (d) => (d.apps[1].releases[0].service = "shop-2-0"),
            path: "apps[stock].releases[1.0].service",
            words: ['service name "shop-2-0" is also shop release 2.0'],
        },
        {
            name: "two release names of one app that make one service name",
            change: (d) => d.apps[0].releases.push(partial({ name: "1-9" })),
            path: "apps[shop].releases[1-9].name",
            words: ['service name "shop-1-9" is also shop release 1.9'],
        },
        {
            name: "a service named like the gateway",
            change: (d) => (d.apps[1].releases[0].service = "gateway"),
            path: "apps[stock].releases[1.0].service",
            words: ['service name "gateway" is also the gateway service'],
        },
        {
            name: "two releases of one app with one name",
            change: (d) => (d.apps[0].releases[1].name = "1.9"),
            path: "apps[shop].releases[1].name",
            words: ['duplicate release "1.9" of shop', "releases[0]"],
        },
        {
            name: "two apps with one name",
            change: (d) => (d.apps[1].name = "shop"),
            path: "apps[1].name",
            words: ['duplicate app name "shop"', "apps[0]"],
        },
        {
            name: "an app without releases",
            change: (d) => (d.apps[1].releases = []),
            path: "apps[stock].releases",
            words: ["at least one release"],
        },
        {
            name: "an app port out of range",
            change: (d) => (d.apps[0].port = 0),
            path: "apps[shop].port",
            words: ["must be a port 1-65535"],
        },
        {
            name: "a gateway port out of range",
            change: (d) => (d.gateway.ports.http = 70000),
            path: "gateway.ports.http",
            words: ["must be a port 1-65535"],
        },
        {
            name: "a fractional replica count",
            change: (d) => (d.apps[0].releases[0].replicas = 1.5),
            path: "apps[shop].releases[1.9].replicas",
            words: ["must be a whole number", "got 1.5"],
        },
        {
            name: "a release env name that is not a shell identifier",
            change: (d) => (d.apps[0].releases[0].env = { "1BAD": "x" }),
            path: "apps[shop].releases[1.9].env.1BAD",
            words: ["shell identifiers"],
        },
        {
            name: "a published port without allowPublishedPorts",
            change: (d) => (d.apps[0].publish = partial([{ target: 8000, published: 8080 }])),
            path: "apps[shop].publish[0]",
            words: ["bypass the gateway", "apps[shop].allowPublishedPorts: true"],
        },
        {
            name: "an ingress-published port with dnsrr",
            change: (d) => {
                d.apps[0].allowPublishedPorts = true;
                d.apps[0].endpointMode = "dnsrr";
                d.apps[0].publish = partial([{ target: 8000, published: 8080, mode: "ingress" }]);
            },
            path: "apps[shop].publish[0].mode",
            words: ["endpointMode: vip", "dnsrr"],
        },
        {
            name: "an app publishing the gateway's port",
            change: (d) => {
                d.apps[1].allowPublishedPorts = true;
                d.apps[1].publish = partial([{ target: 8000, published: 443 }]);
            },
            path: "apps[stock].publish[0].published",
            words: ["port 443/tcp is already published by gateway.ports.https"],
        },
        {
            name: "two apps publishing one port",
            change: (d) => {
                d.apps[0].allowPublishedPorts = true;
                d.apps[0].publish = partial([{ target: 8000, published: 9000 }]);
                d.apps[1].allowPublishedPorts = true;
                d.apps[1].publish = partial([{ target: 8000, published: 9000 }]);
            },
            path: "apps[stock].publish[0].published",
            words: ["port 9000/tcp is already published by apps[shop].publish[0]"],
        },
        {
            name: "an update monitor shorter than the healthcheck window",
            change: (d) => (d.apps[0].update.monitor = 10),
            path: "apps[shop].update.monitor",
            words: ["10s is shorter than healthcheck startPeriod + interval × retries = 25s"],
        },
        {
            name: "a convergence timeout shorter than a healthy update",
            change: (d) => (d.apps[0].update.convergeTimeout = 20),
            path: "apps[shop].update.convergeTimeout",
            words: ["20s is shorter than a healthy update takes at least: update monitor 30s + healthcheck interval 5s = 35s", "`up` would fail on every change"],
        },
        {
            name: "a convergence timeout over an hour",
            change: (d) => (d.apps[0].update.convergeTimeout = 3601),
            path: "apps[shop].update.convergeTimeout",
            words: ["3600"],
        },
        {
            name: "an update monitor of zero",
            change: (d) => (d.apps[0].update.monitor = 0),
            path: "apps[shop].update.monitor",
            words: ["0s is shorter than", "25s"],
        },
        {
            name: "a rollback monitor of zero",
            change: (d) => (d.apps[0].rollback = partial({ monitor: 0 })),
            path: "apps[shop].rollback.monitor",
            words: ["0s is shorter than", "25s"],
        },
        {
            name: "a typo in a release key",
            change: (d) => Object.assign(d.apps[0].releases[0], { hostname: ["x.example"] }),
            path: "apps[shop].releases[1.9].hostname",
            words: ['unknown key: did you mean "hostnames"?', "(apps[shop].releases[1.9] keys: name, tag, image, replicas, hostnames, env, service, pinnable)"],
        },

        {
            name: "a failure ratio with two decimals",
            change: (d) => (d.apps[0].update.maxFailureRatio = 0.15),
            path: "apps[shop].update.maxFailureRatio",
            words: ["one decimal at most"],
        },
        {
            name: "a failure ratio above 1",
            change: (d) => (d.apps[0].update.maxFailureRatio = 1.5),
            path: "apps[shop].update.maxFailureRatio",
            words: ["<=1"],
        },
        {
            name: "a rollback that would roll back on failure",
            change: (d) => (d.apps[0].rollback = partial({ failureAction: "rollback" } as never)),
            path: "apps[shop].rollback.failureAction",
            words: ['must be one of "pause", "continue"'],
        },
        {
            name: "an empty healthcheck test",
            change: (d) => (d.apps[0].healthcheck = partial({ test: [] })),
            path: "apps[shop].healthcheck.test",
            words: [">=1"],
        },
        {
            name: "a healthcheck path with a blank",
            change: (d) => (d.apps[0].healthcheck = partial({ path: "/health check" })),
            path: "apps[shop].healthcheck.path",
            words: ["a URL path like /healthz"],
        },
        {
            name: "a tag with a colon",
            change: (d) => (d.apps[0].releases[0].tag = "1.9:latest"),
            path: "apps[shop].releases[1.9].tag",
            words: ["must be a Docker tag"],
        },
        {
            name: "a release name longer than 40 characters",
            change: (d) => (d.apps[0].releases[0].name = "r".repeat(41)),
            path: "apps[shop].releases[rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr].name",
            words: ["<=40"],
        },
        {
            name: "a release name with a slash",
            change: (d) => (d.apps[0].releases[0].name = "feature/x"),
            path: 'apps[shop].releases["feature/x"].name',
            words: ["release names are letters, digits, '.', '_' and '-'"],
        },
        {
            name: "a published UDP port with an unknown protocol",
            change: (d) => {
                d.apps[1].allowPublishedPorts = true;
                d.apps[1].publish = partial([{ target: 53, published: 53, protocol: "sctp" } as never]);
            },
            path: "apps[stock].publish[0].protocol",
            words: ['must be one of "tcp", "udp"'],
        },
        {
            name: "an upper-case image",
            change: (d) => (d.apps[0].image = "Registry.example.com/shop"),
            path: "apps[shop].image",
            words: ["image name without tag"],
        },
        {
            name: "a release env name starting with a digit in the second release",
            change: (d) => (d.apps[0].releases[1].env = { OK: "1", "2BAD": "x" }),
            path: "apps[shop].releases[2.0].env.2BAD",
            words: ["shell identifiers"],
        },
        {
            name: "an app with no active node because its only node is paused",
            change: (d) => {
                d.swarm.managerAvailability = "drain";
                d.nodes[5].availability = "pause";
            },
            path: "apps[stock].zone",
            words: ["worker-1 (pause)"],
        },
        {
            name: "a rollback monitor shorter than a tuned healthcheck window",
            change: (d) => {
                d.apps[1].healthcheck = partial({ startPeriod: 0, interval: 2, retries: 4 });
                d.apps[1].rollback = partial({ monitor: 7 });
            },
            path: "apps[stock].rollback.monitor",
            words: ["7s is shorter than healthcheck startPeriod + interval × retries = 8s"],
        },
        {
            name: "a release with replicas in an app of replicas 0 whose zone has no active node",
            change: (d) => {
                d.swarm.managerAvailability = "drain";
                d.nodes[5].availability = "drain";
                d.apps[1].replicas = 0;
                d.apps[1].releases[0].replicas = 1;
            },
            path: "apps[stock].zone",
            words: ['no active node in zone "intra" can run stock'],
        },
        {
            name: "a duplicate release whose explicit service also clashes: both are reported",
            change: (d) => d.apps[0].releases.push(partial({ name: "1.9", service: "shop-2-0" })),
            path: "apps[shop].releases[2].service",
            words: ['service name "shop-2-0" is also shop release 2.0'],
            count: 2,
        },
        {
            name: "a hostname served twice within one release",
            change: (d) => d.apps[1].releases[0].hostnames.push("stock.example"),
            path: "apps[stock].releases[1.0].hostnames[1]",
            words: ['"stock.example" is already served by apps[stock].releases[1.0];'],
        },
        {
            name: "an app publishing the gateway's http port",
            change: (d) => {
                d.apps[1].allowPublishedPorts = true;
                d.apps[1].publish = partial([{ target: 8000, published: 80 }]);
            },
            path: "apps[stock].publish[0].published",
            words: ["port 80/tcp is already published by gateway.ports.http"],
        },
        {
            name: "one app publishing one port twice",
            change: (d) => {
                d.apps[1].allowPublishedPorts = true;
                d.apps[1].publish = partial([{ target: 8000, published: 9000 }, { target: 8001, published: 9000 }]);
            },
            path: "apps[stock].publish[1].published",
            words: ["port 9000/tcp is already published by apps[stock].publish[0]"],
        },
        {
            name: "a zone without active nodes for an app whose second release has replicas",
            change: (d) => {
                d.swarm.managerAvailability = "drain";
                d.nodes[5].availability = "drain";
                d.apps[1].releases = partial([
                    { name: "1.0", replicas: 0 },
                    { name: "1.1", hostnames: ["stock.example"] },
                ]);
            },
            path: "apps[stock].zone",
            words: ['no active node in zone "intra" can run stock'],
        },
        {
            name: "an explicit service name starting with a hyphen",
            change: (d) => (d.apps[1].releases[0].service = "-stock"),
            path: "apps[stock].releases[1.0].service",
            words: ['service name "-stock" must be a DNS label'],
        },
        {
            name: "an explicit service name ending with a hyphen",
            change: (d) => (d.apps[1].releases[0].service = "stock-"),
            path: "apps[stock].releases[1.0].service",
            words: ['service name "stock-" must be a DNS label'],
        },
        {
            name: "an app name that is not DNS-safe",
            change: (d) => (d.apps[1].name = "Stock"),
            path: "apps[Stock].name",
            words: ["app name must be lower-case letters, digits and '-' (DNS-safe)"],
        },
        {
            name: "an app zone that is not DNS-safe",
            change: (d) => (d.apps[1].zone = "Intra"),
            path: "apps[stock].zone",
            words: ["zone must be lower-case letters, digits and '-' (DNS-safe)"],
        },
        { name: "an app image with a tag", change: (d) => (d.apps[0].image = "registry.example.com/shop:1.9"), path: "apps[shop].image", words: ["without tag"] },
        { name: "a release image with an empty tag", change: (d) => (d.apps[0].releases[0].image = "registry.example.com/shop:"), path: "apps[shop].releases[1.9].image", words: ["image reference"] },
        { name: "a release image with two colons", change: (d) => (d.apps[0].releases[0].image = "shop::1"), path: "apps[shop].releases[1.9].image", words: ["image reference"] },
        {
            name: "a release with more hostnames than the gateway routes per release",
            change: (d) => (d.apps[0].releases[0].hostnames = Array.from({ length: 201 }, (_, i) => `h${i}.sklep.example`)),
            path: "apps[shop].releases[1.9].hostnames",
            words: ["at most 200"],
        },
        {
            name: "more hostnames in all than the gateway routes",
            change: (d) => {
                d.apps[0].releases[0].hostnames = Array.from({ length: 200 }, (_, i) => `a${i}.sklep.example`);
                d.apps[0].releases[1].hostnames = Array.from({ length: 200 }, (_, i) => `b${i}.sklep.example`);
                d.apps[1].releases[0].hostnames = Array.from({ length: 101 }, (_, i) => `c${i}.stock.example`);
            },
            path: "apps",
            words: ["501 hostnames", "at most 500"],
        },
        { name: "a build arg name starting with a digit", change: (d) => (d.apps[0].build = partial({ context: "app", args: { "1X": "y" } })), path: "apps[shop].build.args.1X", words: ["shell identifiers"] },
        { name: "a build context on two lines", change: (d) => (d.apps[0].build = partial({ context: "app\nrm" })), path: "apps[shop].build.context", words: ["one line"] },
        { name: "a healthcheck test that is not Docker's exec form", change: (d) => (d.apps[0].healthcheck = partial({ test: ["curl", "-f", "http://x"] })), path: "apps[shop].healthcheck.test", words: ["CMD-SHELL"] },
        { name: "a memory limit of 7 digits", change: (d) => (d.apps[0].resources = partial({ memory: "1000000m" })), path: "apps[shop].resources.memory", words: ["6 digits"] },
    ],
    58,
);

validConfigs("releases", [
    { name: "a one-character explicit service name", change: (d) => (d.apps[1].releases[0].service = "s") },
    {
        name: "a host-published port with endpointMode dnsrr",
        change: (d) => {
            d.apps[0].allowPublishedPorts = true;
            d.apps[0].endpointMode = "dnsrr";
            d.apps[0].publish = partial([{ target: 8000, published: 8080, mode: "host" }]);
        },
    },
    {
        name: "an explicit service name on one release of an app",
        change: (d) => {
            d.apps[0].releases[1].service = "shop-next";
        },
    },
    {
        name: "a rollback monitor equal to the healthcheck window",
        change: (d) => (d.apps[0].rollback = partial({ monitor: 25 })),
    },
    {
        name: "53/tcp and 53/udp published by one app are two ports",
        change: (d) => {
            d.apps[1].allowPublishedPorts = true;
            d.apps[1].publish = partial([
                { target: 53, published: 53, protocol: "tcp" },
                { target: 53, published: 53, protocol: "udp" },
            ]);
        },
    },
    {
        name: "80/udp next to the gateway's 80/tcp",
        change: (d) => {
            d.apps[1].allowPublishedPorts = true;
            d.apps[1].publish = partial([{ target: 80, published: 80, protocol: "udp" }]);
        },
    },
    {
        name: "a zone whose apps have no replicas needs no active node",
        change: (d) => {
            d.nodes[5].availability = "drain";
            d.swarm.managerAvailability = "drain";
            d.apps[1].replicas = 0;
        },
    },
    {
        name: "a zone whose only release has replicas 0 needs no active node",
        change: (d) => {
            d.nodes[5].availability = "drain";
            d.swarm.managerAvailability = "drain";
            d.apps[1].releases[0].replicas = 0;
        },
    },
    { name: "an update monitor equal to the healthcheck window", change: (d) => (d.apps[0].update.monitor = 25) },
    { name: "a failure ratio of 0.3", change: (d) => (d.apps[0].update.maxFailureRatio = 0.3) },
    { name: "an explicit service name resolving a clash", change: (d) => d.apps[0].releases.push(partial({ name: "1-9", service: "shop-legacy" })) },
    { name: "a wildcard hostname", change: (d) => (d.apps[1].releases[0].hostnames = ["*.stock.example"]) },
    {
        name: "a derived service name of exactly 63 characters",
        change: (d) => {
            d.apps[1].name = "s".repeat(22);
            d.apps[1].releases[0].name = "r".repeat(40);
        },
    },
    {
        name: "an ingress-published port with endpointMode vip",
        change: (d) => {
            d.apps[0].allowPublishedPorts = true;
            d.apps[0].publish = partial([{ target: 8000, published: 8080, mode: "ingress" }]);
        },
    },
]);

describe("service name errors", () => {
    test("an explicit service is not told to set service:, a derived one is", () => {
        const explicit = errorsOf(mutate(BASE, (d) => (d.apps[1].releases[0].service = "s".repeat(64))));
        assert.deepEqual(explicit.map((e) => e.message), [`service name "${"s".repeat(64)}" must be a DNS label: lower-case letters, digits and '-', at most 63 characters`]);
        const derived = errorsOf(
            mutate(BASE, (d) => {
                d.apps[1].name = "s".repeat(23);
                d.apps[1].releases[0].name = "r".repeat(40);
            }),
        );
        assert.deepEqual(derived.map((e) => e.message), [`service name "${"s".repeat(23)}-${"r".repeat(40)}" must be a DNS label: lower-case letters, digits and '-', at most 63 characters (set service: to choose one)`]);
    });
});

describe("planned releases", () => {
    test("one service per release, constrained to its app's zone, sorted by service", () => {
        for (const plan of [dev, prod]) {
            assert.deepEqual(
                plan.releases.map((r) => [r.app, r.name, r.service, r.zone, r.constraints]),
                [
                    ["shop", "1.9", "shop-1-9", "dmz", ["node.labels.zone==dmz"]],
                    ["shop", "2.0", "shop-2-0", "dmz", ["node.labels.zone==dmz"]],
                    ["stock", "1.0", "stock-1-0", "intra", ["node.labels.zone==intra"]],
                ],
            );
        }
        const reordered = planOf(mutate(PROD, (d) => d.apps.reverse().forEach((a) => a.releases.reverse())));
        assert.deepEqual(reordered.releases, prod.releases);
    });

    test("service names: <app>-<release> made DNS-safe, or the explicit service", () => {
        assert.equal(serviceNameOf({ name: "shop" }, { name: "2.0" }), "shop-2-0");
        assert.equal(serviceNameOf({ name: "shop" }, { name: "RC_1..final-" }), "shop-rc-1-final");
        assert.equal(serviceNameOf({ name: "shop" }, { name: "-x-" }), "shop-x");
        assert.equal(serviceNameOf({ name: "shop" }, { name: "2.0", service: "web" }), "web");
    });

    test("every release of an app with hostnames joins the gateway network, even a release without hostnames", () => {
        assert.deepEqual(byService(dev, "shop-2-0").networks, ["zone-dmz", "gateway"]);
        assert.deepEqual(byService(dev, "stock-1-0").networks, ["zone-intra"]);
        const unrouted = planOf(mutate(DEV, (d) => (d.apps[0].releases[0].hostnames = [])));
        assert.deepEqual(byService(unrouted, "shop-1-9").networks, ["zone-dmz", "gateway"]);
    });

    test("images, replicas, env and labels: release over app", () => {
        const r = byService(prod, "shop-1-9");
        assert.equal(r.image, "registry.example.com/sklep/shop:1.9");
        assert.equal(r.replicas, 3);
        assert.deepEqual(r.env, { RELEASE: "1.9" });
        assert.deepEqual(r.labels, { "swarm-platform.app": "shop", "swarm-platform.release": "1.9" });
        const tuned = planOf(
            mutate(BASE, (d) => {
                d.apps[0].env = { Z: "app", A: "app" };
                d.apps[0].labels = { team: "web", "swarm-platform.app": "spoofed" };
                d.apps[0].releases[0].env = { A: "release" };
                d.apps[0].releases[0].tag = "1.9.3";
                d.apps[0].releases[0].replicas = 5;
                d.apps[0].releases[1].image = "registry.example.com/shop-next:rc1";
            }),
        );
        const old = byService(tuned, "shop-1-9");
        assert.equal(old.image, "registry.example.com/shop:1.9.3");
        assert.equal(old.replicas, 5);
        assert.deepEqual(Object.entries(old.env), [
            ["A", "release"],
            ["Z", "app"],
        ]);
        assert.deepEqual(Object.entries(old.labels), [
            ["swarm-platform.app", "shop"],
            ["swarm-platform.release", "1.9"],
            ["team", "web"],
        ]);
        const next = byService(tuned, "shop-2-0");
        assert.equal(next.image, "registry.example.com/shop-next:rc1");
        assert.equal(next.replicas, 2);
        assert.deepEqual(next.env, { A: "app", Z: "app" });
    });

    test("build: context, optional dockerfile, args with RELEASE; built images are loaded into the nodes by default", () => {
        assert.deepEqual(byService(dev, "shop-1-9").build, { context: "templates/demo-app", args: { RELEASE: "1.9" } });
        assert.equal(byService(dev, "shop-1-9").load, true, "dev builds its images and loads them into the nodes");
        assert.equal(byService(prod, "shop-1-9").load, false);
        assert.equal("build" in byService(prod, "shop-1-9"), false);
        const custom = planOf(
            mutate(BASE, (d) => {
                d.apps[0].build = partial({ context: "apps/shop", dockerfile: "Dockerfile.prod", args: { RELEASE: "spoofed", NODE: "20" } });
                d.apps[0].load = false;
                d.apps[1].load = true;
            }),
        );
        assert.deepEqual(byService(custom, "shop-2-0").build, { context: "apps/shop", dockerfile: "Dockerfile.prod", args: { NODE: "20", RELEASE: "2.0" } });
        assert.equal(byService(custom, "shop-2-0").load, false);
        assert.equal(byService(custom, "stock-1-0").load, true);
    });

    test("healthcheck default: curl, or wget where the image has none, on the app's port and path", () => {
        const r = byService(dev, "shop-1-9");
        assert.deepEqual(r.healthcheck, {
            test: ["CMD-SHELL", "curl -fsS -o /dev/null http://127.0.0.1:8000/healthz || wget -q -O /dev/null http://127.0.0.1:8000/healthz"],
            interval: 5,
            timeout: 3,
            retries: 3,
            startPeriod: 10,
        });
        const tuned = planOf(
            mutate(BASE, (d) => {
                d.apps[0].port = 3000;
                d.apps[0].healthcheck = partial({ path: "/ready", interval: 2, timeout: 1, retries: 5, startPeriod: 0 });
                d.apps[1].healthcheck = partial({ test: ["NONE"] });
            }),
        );
        assert.deepEqual(byService(tuned, "shop-2-0").healthcheck, {
            test: ["CMD-SHELL", "curl -fsS -o /dev/null http://127.0.0.1:3000/ready || wget -q -O /dev/null http://127.0.0.1:3000/ready"],
            interval: 2,
            timeout: 1,
            retries: 5,
            startPeriod: 0,
        });
        assert.equal(byService(tuned, "shop-2-0").port, 3000);
        assert.deepEqual(byService(tuned, "stock-1-0").healthcheck.test, ["NONE"]);
    });

    test("update policy: start-first with automatic rollback; monitor defaults to startPeriod + interval × retries + 5", () => {
        const r = byService(prod, "shop-2-0");
        assert.deepEqual(r.update, { parallelism: 1, delay: 0, order: "start-first", failureAction: "rollback", monitor: 10 + 5 * 3 + 5, maxFailureRatio: 0 });
        assert.deepEqual(r.rollback, { parallelism: 1, delay: 0, order: "stop-first", failureAction: "pause", monitor: 30, maxFailureRatio: 0 });

        const tuned = planOf(mutate(PROD, (d) => (d.apps[0].healthcheck = partial({ startPeriod: 20, interval: 2, retries: 4 }))));
        assert.equal(byService(tuned, "shop-2-0").update.monitor, 20 + 2 * 4 + 5);
        assert.equal(byService(tuned, "shop-2-0").rollback.monitor, 20 + 2 * 4 + 5);
        const explicit = planOf(
            mutate(PROD, (d) => {
                d.apps[0].update = partial({ monitor: 120, delay: 3, parallelism: 2, order: "stop-first", failureAction: "continue", maxFailureRatio: 0.2 });
                d.apps[0].rollback = partial({ monitor: 90, failureAction: "continue" });
            }),
        );
        assert.deepEqual(byService(explicit, "shop-2-0").update, { parallelism: 2, delay: 3, order: "stop-first", failureAction: "continue", monitor: 120, maxFailureRatio: 0.2 });
        assert.deepEqual(byService(explicit, "shop-2-0").rollback, { parallelism: 1, delay: 0, order: "stop-first", failureAction: "continue", monitor: 90, maxFailureRatio: 0 });
    });

    test("publish defaults to tcp in host mode; endpoint mode and stop grace period pass through", () => {
        const plan = planOf(
            mutate(BASE, (d) => {
                d.apps[1].allowPublishedPorts = true;
                d.apps[1].publish = partial([{ target: 53, published: 5353 }, { target: 53, published: 53, protocol: "udp", mode: "ingress" }]);
                d.apps[1].endpointMode = "vip";
                d.apps[1].stopGracePeriod = 45;
            }),
        );
        const r = byService(plan, "stock-1-0");
        assert.deepEqual(r.publish, [
            { target: 53, published: 5353, protocol: "tcp", mode: "host" },
            { target: 53, published: 53, protocol: "udp", mode: "ingress" },
        ]);
        assert.equal(r.endpointMode, "vip");
        assert.equal(r.stopGracePeriod, 45);
        assert.deepEqual(byService(dev, "stock-1-0").publish, []);
        assert.equal(byService(dev, "stock-1-0").endpointMode, "dnsrr");
        assert.equal(byService(planOf(BASE), "stock-1-0").endpointMode, "vip");
        assert.equal(byService(planOf(BASE), "stock-1-0").stopGracePeriod, 30);
    });

    test("update surge: start-first starts parallelism extra tasks (all with 0), stop-first none", () => {
        assert.equal(updateSurge({ order: "start-first", parallelism: 2 }, 5), 2);
        assert.equal(updateSurge({ order: "start-first", parallelism: 0 }, 5), 5);
        assert.equal(updateSurge({ order: "start-first", parallelism: 0 }, 0), 1);
        assert.equal(updateSurge({ order: "stop-first", parallelism: 0 }, 5), 0);
        assert.equal(updateSurge({ order: "stop-first", parallelism: 3 }, 5), 0);
    });
});

describe("convergence timeouts", () => {
    const shop = (change: Parameters<typeof mutate>[1] = () => {}) => byService(planOf(mutate(DEV, change)), "shop-2-0");

    test("default: batches × (startPeriod + interval × retries + delay) + monitor + 60", () => {
        // 2 replicas one at a time, healthcheck 10 + 5 × 3 = 25 s, monitor 25 + 5 = 30 s
        assert.equal(shop().convergeTimeout, 2 * 25 + 30 + 60);
        assert.equal(shop((d) => (d.apps[0].releases[1].replicas = 5)).convergeTimeout, 5 * 25 + 30 + 60);
        assert.equal(shop((d) => (d.apps[0].update = partial({ parallelism: 0 }))).convergeTimeout, 25 + 30 + 60, "parallelism 0: one batch");
        assert.equal(shop((d) => (d.apps[0].update = partial({ delay: 7 }))).convergeTimeout, 2 * (25 + 7) + 30 + 60);
        assert.equal(shop((d) => (d.apps[0].update = partial({ order: "stop-first" }))).convergeTimeout, 2 * (25 + 30) + 30 + 60, "stop-first waits for the old task's grace period");
    });

    test("an explicit timeout is kept, at its floor too; the probe path is the app's health path", () => {
        assert.equal(shop((d) => (d.apps[0].update = partial({ convergeTimeout: 35 }))).convergeTimeout, 35);
        assert.equal(shop().probePath, "/healthz");
        assert.equal(shop((d) => (d.apps[0].healthcheck = partial({ path: "/ready" }))).probePath, "/ready");
    });

    test("a timeout is not part of the service spec: the rollback policy has none", () => {
        const r = shop((d) => (d.apps[0].update = partial({ convergeTimeout: 500 })));
        assert.ok(!("convergeTimeout" in r.update) && !("convergeTimeout" in r.rollback));
    });
});

describe("planned routes", () => {
    test("each hostname routes to its release's service, sorted by hostname", () => {
        assert.deepEqual(json(dev.routes), [
            ...[
                ["nowy.sklep.localhost", "2.0", "shop-2-0"],
                ["sklep.localhost", "2.0", "shop-2-0"],
                ["stary.sklep.localhost", "1.9", "shop-1-9"],
            ].map(([hostname, release, service]) => ({
                hostname,
                app: "shop",
                weighted: false,
                backends: [{ release, service, port: 8000, weight: 100, percent: 100, slots: 10, probePath: "/healthz", pinnable: false }],
                sticky: true,
                stickyCookie: "gw-release-shop",
            })),
        ]);
        assert.deepEqual(byService(dev, "shop-2-0").hostnames, ["nowy.sklep.localhost", "sklep.localhost"]);
    });

    test("prod routes name the certificate serving them", () => {
        assert.deepEqual(prod.routes.map((r) => [r.hostname, r.tls]), [
            ["nowy.sklep.pl", "tls-0"],
            ["sklep.pl", "tls-0"],
            ["stary.sklep.pl", "tls-0"],
        ]);
        assert.ok(dev.routes.every((r) => !("tls" in r)));
    });

    test("HAProxy slots hold twice replicas + surge (at least 10), also when parallelism 0 updates every task at once", () => {
        const scaled = (parallelism: number, rollback?: { order: "start-first"; parallelism: number }) =>
            planOf(
                mutate(PROD, (d) => {
                    d.gateway.engine = "haproxy";
                    d.apps[0].replicas = 8;
                    d.apps[0].update = partial({ parallelism });
                    if (rollback) d.apps[0].rollback = partial(rollback);
                }),
            );
        assert.equal(scaled(1).routes[0].backends[0].slots, 2 * (8 + 1));
        assert.equal(scaled(0).routes[0].backends[0].slots, 2 * (8 + 8));
        assert.equal(scaled(1, { order: "start-first", parallelism: 3 }).routes[0].backends[0].slots, 2 * (8 + 3), "the larger of update and rollback surge");
        assert.equal(prod.routes[0].backends[0].slots, 10, "small releases get the floor of 10");
        const five = planOf(mutate(PROD, (d) => (d.apps[0].replicas = 4)));
        assert.equal(five.routes[0].backends[0].slots, 10, "2 × (4 + 1) is exactly the floor");
        const six = planOf(mutate(PROD, (d) => (d.apps[0].replicas = 5)));
        assert.equal(six.routes[0].backends[0].slots, 12);
        const fixed = planOf(mutate(PROD, (d) => Object.assign(d.gateway, { engine: "haproxy", serverSlots: 40 })));
        assert.ok(fixed.routes.every((r) => r.backends.every((b) => b.slots === 40)));
    });
});

describe("how plans change", () => {
    test("a hostname moved to another release changes only its route and the two releases' hostname lists; DNS stays", () => {
        const moved = planOf(
            mutate(DEV, (d) => {
                d.apps[0].releases[1].hostnames = ["nowy.sklep.localhost"];
                d.apps[0].releases[0].hostnames.push("sklep.localhost");
            }),
        );
        assert.deepEqual(diffPaths(json(dev), json(moved)), ["releases[0].hostnames", "releases[1].hostnames", "routes[1].backends[0].release", "routes[1].backends[0].service"]);
        assert.deepEqual(moved.routes[1], { ...dev.routes[1], backends: [{ ...dev.routes[1].backends[0], release: "1.9", service: "shop-1-9" }] });
        assert.deepEqual(moved.dns, dev.dns);
    });

    test("adding a release adds one service, its routes and their DNS records, and nothing else", () => {
        const added = planOf(
            mutate(DEV, (d) => {
                d.apps[0].releases.push(partial({ name: "2.1", hostnames: ["beta.sklep.localhost"], env: { RELEASE: "2.1" } }));
            }),
        );
        assert.deepEqual(diffPaths(json(dev), json(added)), ["dns.records", "releases", "routes"]);
        const newReleases = added.releases.filter((r) => !dev.releases.some((o) => o.service === r.service));
        assert.deepEqual(newReleases.map((r) => [r.service, r.image, r.hostnames]), [["shop-2-1", "swarm-platform/demo-app:2.1", ["beta.sklep.localhost"]]]);
        assert.deepEqual(json(added.releases.filter((r) => r.service !== "shop-2-1")), json(dev.releases));
        assert.deepEqual(json(added.routes.filter((r) => r.hostname !== "beta.sklep.localhost")), json(dev.routes));
        assert.deepEqual(added.routes.filter((r) => r.hostname === "beta.sklep.localhost").map((r) => r.backends[0].service), ["shop-2-1"]);
        assert.deepEqual(added.dns.records.filter((r) => r.name === "beta.sklep.localhost").map((r) => r.value), ["172.28.40.100"]);
    });

    test("removing a release removes its service, routes and DNS records, and nothing else", () => {
        const removed = planOf(mutate(DEV, (d) => d.apps[0].releases.splice(0, 1)));
        assert.deepEqual(diffPaths(json(dev), json(removed)), ["dns.records", "releases", "routes"]);
        assert.deepEqual(removed.releases.map((r) => r.service), ["shop-2-0", "stock-1-0"]);
        assert.ok(!removed.routes.some((r) => r.hostname === "stary.sklep.localhost"));
        assert.ok(!removed.dns.records.some((r) => r.name === "stary.sklep.localhost"));
    });

    test("scaling a release changes only that release's replicas (and the time `up` waits for its rolling update)", () => {
        const scaled = planOf(mutate(DEV, (d) => (d.apps[0].releases[1].replicas = 4)));
        assert.deepEqual(diffPaths(json(dev), json(scaled)), ["releases[1].convergeTimeout", "releases[1].replicas"]);
        assert.ok(scaled.releases[1].convergeTimeout > dev.releases[1].convergeTimeout, "4 tasks replaced one by one take longer than 2");
    });
});

// ---- weighted routes, pinnable releases ----------------------------------------------------------------------

/** BASE with shop 2.1 (pinnable) and sklep.example moved from 2.0's hostnames to a 90/10 route of 2.0 and 2.1. */
function weighted(d: Parameters<Parameters<typeof mutate>[1]>[0], weights: Record<string, number> = { "2.0": 90, "2.1": 10 }): void {
    d.apps[0].releases[1].hostnames = ["nowy.sklep.example"];
    d.apps[0].releases.push(partial({ name: "2.1", pinnable: true }));
    d.apps[0].routes = partial([{ hostname: "sklep.example", releases: weights }]);
}

invalidConfigs(
    "weighted routes",
    [
        {
            name: "a route naming a release the app does not have",
            change: (d) => weighted(d, { "2.0": 90, "2.2": 10 }),
            path: "apps[shop].routes[0].releases[2.2]",
            words: ['no release "2.2" in app shop (releases: 1.9, 2.0, 2.1)'],
        },
        {
            name: "a route whose weights are all 0",
            change: (d) => weighted(d, { "2.0": 0, "2.1": 0 }),
            path: "apps[shop].routes[0].releases",
            words: ["every weight is 0", "at least one release needs a weight above 0"],
        },
        {
            name: "a route naming no release",
            change: (d) => weighted(d, {}),
            path: "apps[shop].routes[0].releases",
            words: ["names no release"],
        },
        {
            name: "a weighted release with 0 replicas",
            change: (d) => {
                weighted(d);
                d.apps[0].releases[2].replicas = 0;
            },
            path: "apps[shop].routes[0].releases[2.1]",
            words: ['release "2.1" of shop has 0 replicas', "needs replicas > 0"],
        },
        {
            name: "a negative weight",
            change: (d) => weighted(d, { "2.0": 90, "2.1": -1 }),
            path: "apps[shop].routes[0].releases.2.1",
            words: [">=0"],
        },
        {
            name: "a fractional weight",
            change: (d) => weighted(d, { "2.0": 90, "2.1": 0.5 }),
            path: "apps[shop].routes[0].releases.2.1",
            words: ["whole number"],
        },
        {
            name: "a route hostname that a release also serves",
            change: (d) => {
                weighted(d);
                d.apps[0].releases[0].hostnames.push("sklep.example");
            },
            path: "apps[shop].routes[0].hostname",
            words: ['"sklep.example" is already served by apps[shop].releases[1.9]', "one release's hostnames or one app's routes"],
        },
        {
            name: "one hostname in two apps' routes",
            change: (d) => {
                weighted(d);
                d.apps[1].routes = partial([{ hostname: "sklep.example", releases: { "1.0": 1 } }]);
            },
            path: "apps[stock].routes[0].hostname",
            words: ['"sklep.example" is already served by apps[shop].routes[0]'],
        },
        {
            name: "a pin cookie named like an app's sticky cookie",
            change: (d) => {
                weighted(d);
                d.gateway.pinning = partial({ cookie: "gw-release-shop" });
            },
            path: "gateway.pinning.cookie",
            words: ["is also the sticky cookie of app shop"],
        },
        {
            name: "a pin header with an underscore",
            change: (d) => (d.gateway.pinning = partial({ header: "X_Release" })),
            path: "gateway.pinning.header",
            words: ["no '_'"],
        },
        {
            name: "a pin header the gateway routes by",
            change: (d) => (d.gateway.pinning = partial({ header: "Host" })),
            path: "gateway.pinning.header",
            words: ["a header the gateway routes by"],
        },
        {
            name: "a trusted pin network listed twice",
            change: (d) => (d.gateway.pinning = partial({ trustedNetworks: ["10.0.0.0/8", "10.0.0.0/8"] })),
            path: "gateway.pinning.trustedNetworks[1]",
            words: ['"10.0.0.0/8" is also gateway.pinning.trustedNetworks[0]'],
        },
        {
            name: "a sticky cookie lifetime of 0",
            change: (d) => (d.gateway.stickySeconds = 0),
            path: "gateway.stickySeconds",
            words: [">=1"],
        },
    ],
    13,
);

validConfigs("weighted routes", [
    { name: "a 90/10 route of two releases", change: (d) => weighted(d) },
    { name: "weights 1/0: the canary rolled back to 0", change: (d) => weighted(d, { "2.0": 1, "2.1": 0 }) },
    { name: "a TLS certificate and the default host on a weighted hostname", change: (d) => {
        weighted(d);
        d.gateway.tls = partial([{ name: "sklep", hostnames: ["sklep.example"], certificateSecret: "c", keySecret: "k" }]);
        d.gateway.defaultHost = "sklep.example";
    } },
    { name: "a pinnable release without hostnames or weights", change: (d) => d.apps[0].releases.push(partial({ name: "2.1", pinnable: true })) },
]);

describe("planned weighted routes", () => {
    const plan = planOf(mutate(BASE, (d) => weighted(d)));
    const route = (hostname: string) => {
        const r = plan.routes.find((x) => x.hostname === hostname);
        assert.ok(r, hostname);
        return r;
    };

    test("routed services: every release a route can send to (a weight above 0, or pinnable), not the others", () => {
        assert.deepEqual(routedServices(dev.routes), ["shop-1-9", "shop-2-0"], "stock has no hostname");
        assert.deepEqual(routedServices(plan.routes), ["shop-1-9", "shop-2-0", "shop-2-1", "stock-1-0"], "BASE routes stock too");
        const pinOnly = planOf(mutate(BASE, (d) => {
            weighted(d, { "2.0": 100, "2.1": 0 });
        }));
        assert.ok(routedServices(pinOnly.routes).includes("shop-2-1"), "weight 0 but pinnable");
        const unpinnable = planOf(mutate(BASE, (d) => {
            weighted(d, { "2.0": 100, "2.1": 0 });
            d.apps[0].releases[2].pinnable = false;
        }));
        assert.ok(!routedServices(unpinnable.routes).includes("shop-2-1"), "weight 0 and not pinnable");
    });

    test("first-answer nodes: the bootstrap manager, the gateway nodes and the zones of routed releases", () => {
        // dev: stock (zone intra) has no hostname, so worker-1 (intra) is not needed; manager-1 is, as the bootstrap
        assert.deepEqual(firstAnswerNodes(dev.nodes, dev.releases, dev.routes), ["gw-1", "gw-2", "manager-1"]);
        // BASE routes stock (intra) too: every node, the managers of intra included
        assert.deepEqual(firstAnswerNodes(plan.nodes, plan.releases, plan.routes), ["gw-1", "gw-2", "manager-1", "manager-2", "manager-3", "worker-1"]);
        assert.deepEqual(firstAnswerNodes(plan.nodes, plan.releases.filter((r) => r.zone === "dmz"), plan.routes), ["gw-1", "gw-2", "manager-1"], "only dmz releases: intra's other nodes are not needed");
        assert.deepEqual(firstAnswerNodes(dev.nodes, dev.releases, []), ["gw-1", "gw-2", "manager-1"], "no route: the gateway's nodes and the bootstrap");
        const everyZone = dev.releases.map((r) => ({ ...r, service: "shop-2-0" }));
        assert.deepEqual(firstAnswerNodes(dev.nodes, everyZone, dev.routes), dev.nodes.map((n) => n.name).sort(), "a routed release in every zone: every node");
    });

    test("a weighted hostname carries each release's weight and its percentage, plus sticky and the app's cookie", () => {
        const r = route("sklep.example");
        assert.equal(r.weighted, true);
        assert.equal(r.sticky, true);
        assert.equal(r.stickyCookie, "gw-release-shop");
        assert.deepEqual(r.backends.map((b) => [b.release, b.service, b.weight, b.percent, b.pinnable]), [
            ["2.0", "shop-2-0", 90, 90, false],
            ["2.1", "shop-2-1", 10, 10, true],
        ]);
    });

    test("weights are relative: 2/1 is 66.7% and 33.3%, 1/0 is 100% and 0%", () => {
        const thirds = planOf(mutate(BASE, (d) => weighted(d, { "2.0": 2, "2.1": 1 }))).routes.find((r) => r.hostname === "sklep.example");
        assert.deepEqual(thirds?.backends.map((b) => b.percent), [66.7, 33.3]);
        const rolledBack = planOf(mutate(BASE, (d) => weighted(d, { "2.0": 1, "2.1": 0 }))).routes.find((r) => r.hostname === "sklep.example");
        assert.deepEqual(rolledBack?.backends.map((b) => [b.release, b.weight, b.percent]), [["2.0", 1, 100], ["2.1", 0, 0]]);
    });

    test("a pinnable release with replicas is reachable by pin on every hostname of its app at weight 0; other apps' are not", () => {
        for (const hostname of ["nowy.sklep.example", "stary.sklep.example"]) {
            const r = route(hostname);
            assert.equal(r.weighted, false);
            assert.deepEqual(r.backends.filter((b) => b.pinnable).map((b) => [b.release, b.weight, b.percent]), [["2.1", 0, 0]], hostname);
            assert.deepEqual(r.backends.filter((b) => b.weight > 0).map((b) => b.percent), [100], hostname);
        }
        assert.deepEqual(route("stock.example").backends.map((b) => b.release), ["1.0"]);
        const scaledDown = planOf(mutate(BASE, (d) => {
            weighted(d, { "2.0": 1 });
            d.apps[0].releases[2].replicas = 0;
        }));
        assert.ok(scaledDown.routes.every((r) => r.backends.every((b) => b.release !== "2.1")), "a pinnable release without replicas is reachable nowhere");
    });

    test("every release of an app with routes joins the gateway network; the hostname gets DNS records like any other", () => {
        const routesOnly = planOf(mutate(BASE, (d) => {
            d.apps[1].releases[0].hostnames = [];
            d.apps[1].routes = partial([{ hostname: "stock.example", releases: { "1.0": 1 } }]);
        }));
        assert.ok(byService(routesOnly, "stock-1-0").networks.includes("gateway"));
        assert.deepEqual(routesOnly.dns.records.filter((r) => r.name === "stock.example").map((r) => r.value), ["172.28.40.100"]);
    });

    test("a weight change changes only the route's weights and percentages", () => {
        const half = planOf(mutate(BASE, (d) => weighted(d, { "2.0": 50, "2.1": 50 })));
        assert.deepEqual(diffPaths(json(plan), json(half)).sort(), [
            "routes[1].backends[0].percent",
            "routes[1].backends[0].weight",
            "routes[1].backends[1].percent",
            "routes[1].backends[1].weight",
        ]);
    });
});
