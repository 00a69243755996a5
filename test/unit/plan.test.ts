// The plan of the real stack files, and how plans change when the config changes.
import * as assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Plan, PlanRelease } from "../../stacks/plan";
import type { StackConfigInput } from "../../stacks/schema";
import { diffPaths, json, mutate, partial, planOf, stackConfig, unset } from "./fixtures";

const DEV = stackConfig("dev") as StackConfigInput;
const PROD = stackConfig("prod") as StackConfigInput;
const dev = planOf(DEV);
const prod = planOf(PROD);

const byService = (plan: Plan, service: string): PlanRelease => {
    const r = plan.releases.find((x) => x.service === service);
    assert.ok(r, `no release with service ${service}`);
    return r;
};

/** A copy of a stack config with two (or more) VRRP groups instead of the single address. */
function withGroups(base: StackConfigInput, groups: { address: string; virtualRouterId: number }[]): StackConfigInput {
    return mutate(base, (d) => {
        unset(d.virtualIp, "address");
        unset(d.virtualIp, "virtualRouterId");
        d.virtualIp.groups = partial(groups);
    });
}

describe("nodes", () => {
    test("every node carries its zone label, gateway nodes also gateway=true (dev)", () => {
        assert.deepEqual(
            dev.nodes.map((n) => [n.name, n.labels]),
            [
                ["manager-1", { zone: "intra" }],
                ["gw-1", { gateway: "true", zone: "dmz" }],
                ["gw-2", { gateway: "true", zone: "dmz" }],
                ["worker-1", { zone: "intra" }],
            ],
        );
    });

    test("user labels are kept and label keys are sorted (prod)", () => {
        const gw1 = prod.nodes.find((n) => n.name === "gw-1");
        assert.deepEqual(gw1?.labels, { gateway: "true", rack: "a", zone: "dmz" });
        for (const n of prod.nodes) assert.deepEqual(Object.keys(n.labels), Object.keys(n.labels).sort(), n.name);
    });

    test("managers take swarm.managerAvailability, workers are active (prod drains managers)", () => {
        assert.deepEqual(
            prod.nodes.map((n) => [n.name, n.availability]),
            [
                ["manager-1", "drain"],
                ["manager-2", "drain"],
                ["manager-3", "drain"],
                ["gw-1", "active"],
                ["gw-2", "active"],
                ["web-1", "active"],
                ["app-1", "active"],
                ["app-2", "active"],
            ],
        );
        assert.ok(dev.nodes.every((n) => n.availability === "active"));
    });

    test("ssh nodes connect to their address as the driver's user (prod); docker nodes have no ssh", () => {
        assert.ok(prod.nodes.every((n) => n.driver === "ssh" && n.ssh?.host === n.address && n.ssh.user === "deploy" && n.ssh.port === 22));
        assert.ok(dev.nodes.every((n) => n.driver === "docker" && n.ssh === undefined));
    });
});

describe("bootstrap order", () => {
    test("dev: init on the only manager, then every worker", () => {
        assert.deepEqual(dev.bootstrap, { firstManager: "manager-1", managers: [], workers: ["gw-1", "gw-2", "worker-1"] });
    });

    test("prod: init on the first manager, join the remaining managers, then the workers", () => {
        assert.deepEqual(prod.bootstrap, {
            firstManager: "manager-1",
            managers: ["manager-2", "manager-3"],
            workers: ["gw-1", "gw-2", "web-1", "app-1", "app-2"],
        });
    });

    test("the first manager is the first manager in config order, wherever it is listed", () => {
        const plan = planOf(mutate(PROD, (d) => d.nodes.reverse()));
        assert.equal(plan.bootstrap.firstManager, "manager-3");
        assert.deepEqual(plan.bootstrap.managers, ["manager-2", "manager-1"]);
        assert.deepEqual(plan.bootstrap.workers, ["app-2", "app-1", "web-1", "gw-2", "gw-1"]);
    });
});

describe("networks", () => {
    test("dev: the gateway overlay first, then one overlay per zone with its subnet", () => {
        assert.deepEqual(json(dev.networks), [
            { key: "gateway", name: "gateway", subnet: "10.209.0.0/24", encrypted: false, attachable: true },
            { key: "zone:dmz", name: "zone-dmz", subnet: "10.209.1.0/24", encrypted: false, attachable: false, zone: "dmz" },
            { key: "zone:intra", name: "zone-intra", subnet: "10.209.2.0/24", encrypted: false, attachable: false, zone: "intra" },
        ]);
        assert.equal(dev.ingress, undefined);
    });

    test("prod: encrypted overlays without fixed subnets and a custom encrypted ingress", () => {
        assert.deepEqual(
            prod.networks.map((n) => [n.key, n.name, n.subnet, n.encrypted]),
            [
                ["gateway", "gateway", undefined, true],
                ["zone:dmz", "zone-dmz", undefined, true],
                ["zone:intra", "zone-intra", undefined, true],
            ],
        );
        assert.deepEqual(prod.ingress, { name: "ingress", subnet: "10.127.0.0/24", encrypted: true });
    });
});

describe("VRRP", () => {
    test("one group: the same VRID on every member, distinct priorities, peers are all the other gateways", () => {
        for (const plan of [dev, prod]) {
            assert.ok(plan.vrrp);
            assert.equal(plan.vrrp.groups.length, 1);
            const [g] = plan.vrrp.groups;
            assert.equal(g.virtualRouterId, 51);
            const gateways = plan.nodes.filter((n) => n.gateway);
            assert.deepEqual(g.members.map((m) => m.node), gateways.map((n) => n.name));
            assert.equal(new Set(g.members.map((m) => m.priority)).size, g.members.length);
            for (const m of g.members) {
                assert.ok(m.priority >= 1 && m.priority <= 254);
                assert.deepEqual(m.peers, gateways.filter((n) => n.name !== m.node).map((n) => n.address));
            }
        }
        assert.deepEqual(
            dev.vrrp?.groups[0].members.map((m) => [m.node, m.address, m.priority]),
            [
                ["gw-1", "172.28.40.12", 200],
                ["gw-2", "172.28.40.13", 190],
            ],
        );
    });

    test("VRRPv2 authenticates by default; nopreempt by default", () => {
        assert.equal(dev.vrrp?.version, 2);
        assert.equal(dev.vrrp?.authentication, true);
        assert.equal(dev.vrrp?.preempt, false);
        assert.equal(dev.vrrp?.healthCheck.url, "http://127.0.0.1:80/healthz");
    });

    test("two groups prefer different gateway nodes (rotated preference)", () => {
        const plan = planOf(
            withGroups(PROD, [
                { address: "10.0.10.100", virtualRouterId: 51 },
                { address: "10.0.10.101", virtualRouterId: 52 },
            ]),
        );
        const groups = plan.vrrp?.groups ?? [];
        assert.deepEqual(
            groups.map((g) => [g.name, g.virtualRouterId, g.members.map((m) => `${m.node}:${m.priority}`)]),
            [
                ["vip1", 51, ["gw-1:200", "gw-2:190"]],
                ["vip2", 52, ["gw-2:200", "gw-1:190"]],
            ],
        );
    });

    test("three groups on three gateways: each gateway is preferred by exactly one group", () => {
        const config = mutate(
            withGroups(PROD, [
                { address: "10.0.10.100", virtualRouterId: 51 },
                { address: "10.0.10.101", virtualRouterId: 52 },
                { address: "10.0.10.102", virtualRouterId: 53 },
            ]),
            (d) => (d.nodes[5].gateway = true),
        );
        const groups = planOf(config).vrrp?.groups ?? [];
        assert.deepEqual(groups.map((g) => g.members[0].node).sort(), ["gw-1", "gw-2", "web-1"]);
        for (const g of groups) {
            assert.equal(new Set(g.members.map((m) => m.priority)).size, 3);
            for (const m of g.members) assert.equal(m.peers.length, 2);
        }
    });

    test("no virtualIp, no VRRP", () => {
        assert.equal(planOf(mutate(DEV, (d) => unset(d, "virtualIp"))).vrrp, undefined);
    });
});

describe("releases and routes", () => {
    test("one service per release, constrained to its app's zone", () => {
        for (const plan of [dev, prod]) {
            assert.deepEqual(
                plan.releases.map((r) => [r.service, r.zone, r.constraints]),
                [
                    ["shop-1-9", "dmz", ["node.labels.zone==dmz"]],
                    ["shop-2-0", "dmz", ["node.labels.zone==dmz"]],
                    ["stock-1-0", "intra", ["node.labels.zone==intra"]],
                ],
            );
        }
    });

    test("a release joins its zone's overlay, and the gateway network only when it has hostnames", () => {
        assert.deepEqual(byService(dev, "shop-2-0").networks, ["zone-dmz", "gateway"]);
        assert.deepEqual(byService(dev, "stock-1-0").networks, ["zone-intra"]);
    });

    test("images, replicas and env: release over app", () => {
        const r = byService(prod, "shop-1-9");
        assert.equal(r.image, "registry.example.com/sklep/shop:1.9");
        assert.equal(r.replicas, 3);
        assert.deepEqual(r.env, { RELEASE: "1.9" });
        assert.deepEqual(r.labels, { "swarm-platform.app": "shop", "swarm-platform.release": "1.9" });
        assert.equal(byService(dev, "shop-1-9").load, true, "dev builds its images and loads them into the nodes");
        assert.equal(r.load, false);
    });

    test("routes map each hostname to its release's service, sorted by hostname", () => {
        assert.deepEqual(
            dev.routes.map((r) => [r.hostname, r.service, r.port]),
            [
                ["nowy.sklep.localhost", "shop-2-0", 8000],
                ["sklep.localhost", "shop-2-0", 8000],
                ["stary.sklep.localhost", "shop-1-9", 8000],
            ],
        );
        assert.ok(dev.routes.every((r) => r.tls === undefined));
    });

    test("prod routes name the certificate serving them", () => {
        assert.deepEqual(prod.routes.map((r) => [r.hostname, r.tls]), [
            ["nowy.sklep.pl", "tls-0"],
            ["sklep.pl", "tls-0"],
            ["stary.sklep.pl", "tls-0"],
        ]);
        assert.deepEqual(prod.gateway.tls[0].hostnames, ["nowy.sklep.pl", "sklep.pl", "stary.sklep.pl"]);
    });

    test("update policy: start-first with automatic rollback; monitor defaults to startPeriod + interval × retries + 5", () => {
        const r = byService(prod, "shop-2-0");
        assert.deepEqual(r.update, { parallelism: 1, delay: 0, order: "start-first", failureAction: "rollback", monitor: 10 + 5 * 3 + 5, maxFailureRatio: 0 });
        assert.equal(r.rollback.order, "stop-first");
        assert.equal(r.rollback.monitor, 30);

        const tuned = planOf(
            mutate(PROD, (d) => {
                d.apps[0].healthcheck = partial({ startPeriod: 20, interval: 2, retries: 4 });
            }),
        );
        assert.equal(byService(tuned, "shop-2-0").update.monitor, 20 + 2 * 4 + 5);
        const explicit = planOf(mutate(PROD, (d) => (d.apps[0].update = partial({ monitor: 120 }))));
        assert.equal(byService(explicit, "shop-2-0").update.monitor, 120);
    });

    test("HAProxy slots hold replicas + surge, also when parallelism 0 updates every task at once", () => {
        const scaled = (parallelism: number) =>
            planOf(
                mutate(PROD, (d) => {
                    d.gateway.engine = "haproxy";
                    d.apps[0].replicas = 8;
                    d.apps[0].update = partial({ parallelism });
                }),
            );
        assert.equal(scaled(1).routes[0].slots, 2 * (8 + 1));
        assert.equal(scaled(0).routes[0].slots, 2 * (8 + 8));
        assert.equal(prod.routes[0].slots, 10, "small releases get the floor of 10");
    });
});

describe("DNS", () => {
    test("one A record per hostname for the VIP", () => {
        assert.deepEqual(json(prod.dns), [
            { name: "nowy.sklep.pl", type: "A", value: "10.0.10.100", ttl: 60 },
            { name: "sklep.pl", type: "A", value: "10.0.10.100", ttl: 60 },
            { name: "stary.sklep.pl", type: "A", value: "10.0.10.100", ttl: 60 },
        ]);
        assert.ok(dev.dns.every((r) => r.value === "172.28.40.100" && r.ttl === 300));
        assert.equal(dev.dns.length, 3);
    });

    test("one A record per hostname per VIP with two groups", () => {
        const plan = planOf(
            withGroups(PROD, [
                { address: "10.0.10.100", virtualRouterId: 51 },
                { address: "10.0.10.101", virtualRouterId: 52 },
            ]),
        );
        assert.deepEqual(
            plan.dns.map((r) => `${r.name} ${r.value}`),
            [
                "nowy.sklep.pl 10.0.10.100",
                "nowy.sklep.pl 10.0.10.101",
                "sklep.pl 10.0.10.100",
                "sklep.pl 10.0.10.101",
                "stary.sklep.pl 10.0.10.100",
                "stary.sklep.pl 10.0.10.101",
            ],
        );
    });

    test("without a VIP: one A record per hostname per gateway node", () => {
        const plan = planOf(mutate(PROD, (d) => unset(d, "virtualIp")));
        assert.deepEqual(
            plan.dns.map((r) => `${r.name} ${r.value}`),
            [
                "nowy.sklep.pl 10.0.10.21",
                "nowy.sklep.pl 10.0.10.22",
                "sklep.pl 10.0.10.21",
                "sklep.pl 10.0.10.22",
                "stary.sklep.pl 10.0.10.21",
                "stary.sklep.pl 10.0.10.22",
            ],
        );
    });
});

describe("determinism", () => {
    test("planning a stack twice gives JSON-identical plans", () => {
        for (const config of [DEV, PROD]) {
            assert.equal(JSON.stringify(planOf(config)), JSON.stringify(planOf(config)));
        }
    });

    test("node label keys in another order give the same plan", () => {
        const reordered = mutate(PROD, (d) => {
            d.nodes[3].labels = { rack: "a", "z.extra": "1", "a.extra": "2" };
        });
        const reversed = mutate(reordered, (d) => {
            d.nodes[3].labels = Object.fromEntries(Object.entries(d.nodes[3].labels).reverse());
        });
        assert.equal(JSON.stringify(planOf(reordered)), JSON.stringify(planOf(reversed)));
    });

    test("zones, env and app labels in another order give the same plan", () => {
        const a = mutate(DEV, (d) => {
            d.apps[0].env = { B: "2", A: "1" };
            d.apps[0].labels = { "team.b": "x", "team.a": "y" };
        });
        const b = mutate(DEV, (d) => {
            d.networks.zones = Object.fromEntries(Object.entries(d.networks.zones).reverse());
            d.apps[0].env = { A: "1", B: "2" };
            d.apps[0].labels = { "team.a": "y", "team.b": "x" };
        });
        assert.equal(JSON.stringify(planOf(a)), JSON.stringify(planOf(b)));
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
        assert.deepEqual(diffPaths(json(dev), json(moved)), [
            "releases[0].hostnames",
            "releases[1].hostnames",
            "routes[1].release",
            "routes[1].service",
        ]);
        assert.deepEqual(moved.routes[1], { ...dev.routes[1], release: "1.9", service: "shop-1-9" });
        assert.deepEqual(moved.dns, dev.dns);
    });

    test("adding a release adds one service, its routes and their DNS records, and nothing else", () => {
        const added = planOf(
            mutate(DEV, (d) => {
                d.apps[0].releases.push(partial({ name: "2.1", hostnames: ["beta.sklep.localhost"], env: { RELEASE: "2.1" } }));
            }),
        );
        assert.deepEqual(diffPaths(json(dev), json(added)), ["dns", "releases", "routes"]);
        const newReleases = added.releases.filter((r) => !dev.releases.some((o) => o.service === r.service));
        assert.deepEqual(newReleases.map((r) => [r.service, r.image, r.hostnames]), [["shop-2-1", "swarm-platform/demo-app:2.1", ["beta.sklep.localhost"]]]);
        assert.deepEqual(json(added.releases.filter((r) => r.service !== "shop-2-1")), json(dev.releases));
        assert.deepEqual(json(added.routes.filter((r) => r.hostname !== "beta.sklep.localhost")), json(dev.routes));
        assert.deepEqual(added.routes.filter((r) => r.hostname === "beta.sklep.localhost").map((r) => r.service), ["shop-2-1"]);
        assert.deepEqual(added.dns.filter((r) => r.name === "beta.sklep.localhost").map((r) => r.value), ["172.28.40.100"]);
    });

    test("removing a release removes its service, routes and DNS records, and nothing else", () => {
        const removed = planOf(mutate(DEV, (d) => d.apps[0].releases.splice(0, 1)));
        assert.deepEqual(diffPaths(json(dev), json(removed)), ["dns", "releases", "routes"]);
        assert.deepEqual(removed.releases.map((r) => r.service), ["shop-2-0", "stock-1-0"]);
        assert.ok(!removed.routes.some((r) => r.hostname === "stary.sklep.localhost"));
        assert.ok(!removed.dns.some((r) => r.name === "stary.sklep.localhost"));
    });

    test("scaling a release changes only that release's replicas", () => {
        const scaled = planOf(mutate(DEV, (d) => (d.apps[0].releases[1].replicas = 4)));
        assert.deepEqual(diffPaths(json(dev), json(scaled)), ["releases[1].replicas"]);
    });

    test("draining a worker changes only its availability", () => {
        const drained = planOf(mutate(DEV, (d) => (d.nodes[3].availability = "drain")));
        assert.deepEqual(diffPaths(json(dev), json(drained)), ["nodes[3].availability"]);
    });

    test("adding a second VIP group adds a VRRP group and one DNS record per hostname", () => {
        const two = planOf(
            withGroups(DEV, [
                { address: "172.28.40.100", virtualRouterId: 51 },
                { address: "172.28.40.101", virtualRouterId: 52 },
            ]),
        );
        assert.deepEqual(diffPaths(json(dev), json(two)), ["dns", "vrrp.groups"]);
        assert.deepEqual(json(two.vrrp?.groups[0]), json(dev.vrrp?.groups[0]));
    });
});
