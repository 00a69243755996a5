// Properties of validation and planning over generated valid configs (fast-check).
import * as assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { type Plan, planStack, type StackConfig, type StackConfigInput, validateConfig } from "../../model";
import { json, showErrors, TEST_HOST_KEY } from "./fixtures";

// STRYKER=1 (mutation testing runs the whole suite once per mutant): fewer generated configs per property.
const RUNS = { numRuns: process.env.STRYKER ? 10 : 100 };
const LAN = "192.168.50"; // the gateway/bridge subnet: nodes .10-.29, VIPs .200-.254

const labelArb = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?$/);
const hostnameArb = fc.tuple(labelArb, fc.constantFrom("example", "example.com", "shop.example.org")).map(([l, d]) => `${l}.${d}`);

const appArb = fc.record({
    zone: fc.nat({ max: 3 }),
    replicas: fc.integer({ min: 0, max: 4 }),
    // "major.minor" release names; distinct pairs give distinct service names (`app3-1-12` ≠ `app3-11-2`).
    releases: fc.uniqueArray(fc.tuple(fc.nat({ max: 9 }), fc.nat({ max: 20 })), {
        minLength: 1,
        maxLength: 4,
        selector: ([a, b]) => `${a}.${b}`,
    }),
    hostsPerRelease: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 4, maxLength: 4 }),
    endpointMode: fc.constantFrom("vip" as const, "dnsrr" as const),
    healthcheck: fc.record({
        interval: fc.integer({ min: 1, max: 10 }),
        retries: fc.integer({ min: 1, max: 5 }),
        startPeriod: fc.integer({ min: 0, max: 30 }),
    }),
    update: fc.record({ parallelism: fc.integer({ min: 0, max: 3 }), order: fc.constantFrom("start-first" as const, "stop-first" as const) }),
});

const vipArb = fc.record({
    vrids: fc.uniqueArray(fc.integer({ min: 1, max: 255 }), { minLength: 1, maxLength: 3 }),
    hosts: fc.uniqueArray(fc.integer({ min: 200, max: 254 }), { minLength: 3, maxLength: 3 }),
    shorthand: fc.boolean(),
    version: fc.constantFrom(2 as const, 3 as const),
    advertInt: fc.integer({ min: 1, max: 3 }),
    preempt: fc.boolean(),
});

const shapeArb = fc.record({
    managers: fc.constantFrom(1, 3, 5),
    gateways: fc.integer({ min: 1, max: 6 }),
    zones: fc.integer({ min: 1, max: 4 }),
    extraWorkers: fc.integer({ min: 0, max: 4 }),
    /** Zone index per manager / gateway / extra worker (taken modulo the zone count). */
    zoneOf: fc.array(fc.nat({ max: 3 }), { minLength: 15, maxLength: 15 }),
    driver: fc.constantFrom("docker" as const, "ssh" as const),
    managerAvailability: fc.constantFrom("active" as const, "drain" as const),
    engine: fc.constantFrom("nginx" as const, "haproxy" as const),
    zoneSubnets: fc.boolean(),
    vip: fc.option(vipArb, { nil: undefined }),
    apps: fc.array(appArb, { minLength: 1, maxLength: 8 }),
    hostPool: fc.uniqueArray(hostnameArb, { minLength: 0, maxLength: 40 }),
    labelOrder: fc.boolean(),
    /** Mark a bootstrap manager (by index) and rank the gateway nodes by distinct priorities. */
    ranked: fc.option(fc.record({ bootstrap: fc.nat({ max: 4 }), priorities: fc.shuffledSubarray(Array.from({ length: 100 }, (_, i) => i + 1), { minLength: 6, maxLength: 6 }) }), {
        nil: undefined,
    }),
});

type Shape = typeof shapeArb extends fc.Arbitrary<infer T> ? T : never;

/** A valid config by construction: every zone has an active worker, names and addresses are unique. */
function configOf(s: Shape): StackConfigInput {
    const zones = Array.from({ length: s.zones }, (_, i) => `z${i}`);
    let next = 10;
    let pick = 0;
    const zoneFor = () => zones[s.zoneOf[pick++ % s.zoneOf.length] % zones.length];
    const ranked = s.ranked;
    const node = (name: string, role: "manager" | "worker", zone: string, gateway = false, rank = 0) => ({
        name,
        role,
        zone,
        address: `${LAN}.${next++}`,
        ...(gateway ? { gateway } : {}),
        ...(ranked && role === "manager" && rank === ranked.bootstrap % s.managers ? { bootstrap: true } : {}),
        ...(ranked && gateway ? { priority: ranked.priorities[rank] } : {}),
        labels: s.labelOrder ? { rack: `r${next % 3}`, "a.b": "x" } : { "a.b": "x", rack: `r${next % 3}` },
        ...(s.driver === "ssh" ? { hostKey: TEST_HOST_KEY } : {}),
    });
    const nodes = [
        ...Array.from({ length: s.managers }, (_, i) => node(`manager-${i + 1}`, "manager", zoneFor(), false, i)),
        ...Array.from({ length: s.gateways }, (_, i) => node(`gw-${i + 1}`, "worker", zoneFor(), true, i)),
        ...zones.map((z) => node(`worker-${z}`, "worker", z)),
        ...Array.from({ length: s.extraWorkers }, (_, i) => node(`extra-${i + 1}`, "worker", zoneFor())),
    ];
    let host = 0;
    const apps = s.apps.map((a, i) => ({
        name: `app${i}`,
        zone: zones[a.zone % zones.length],
        image: `registry.example.com/app${i}`,
        replicas: a.replicas,
        endpointMode: a.endpointMode,
        healthcheck: a.healthcheck,
        update: a.update,
        releases: a.releases.map(([major, minor], j) => ({
            name: `${major}.${minor}`,
            hostnames: s.hostPool.slice(host, (host += a.hostsPerRelease[j])),
        })),
    }));
    const vip = s.vip;
    const groups = vip ? vip.vrids.map((vrid, i) => ({ name: `vip${i + 1}`, address: `${LAN}.${vip.hosts[i]}`, virtualRouterId: vrid })) : [];
    return {
        driver: s.driver,
        drivers: { docker: { network: { subnet: `${LAN}.0/24` } } },
        nodes,
        swarm: { managerAvailability: s.managerAvailability, defaultAddrPool: ["10.20.0.0/16"] },
        networks: { zones: Object.fromEntries(zones.map((z, i) => [z, s.zoneSubnets ? { subnet: `10.30.${i}.0/24` } : {}])) },
        ...(vip
            ? {
                  virtualIp: {
                      ...(vip.shorthand && groups.length === 1 ? { address: groups[0].address, virtualRouterId: groups[0].virtualRouterId } : { groups }),
                      vrrpVersion: vip.version,
                      advertInt: vip.advertInt,
                      preempt: vip.preempt,
                  },
              }
            : {}),
        gateway: { engine: s.engine },
        apps,
    };
}

const configArb = shapeArb.map(configOf);

function validate(raw: StackConfigInput): StackConfig {
    const result = validateConfig(raw);
    if (!result.ok) assert.fail(`generated config is invalid:\n${showErrors(result.errors)}\n${JSON.stringify(raw)}`);
    return result.config;
}

const hostnamesOf = (c: StackConfig) => c.apps.flatMap((a) => a.releases.flatMap((r) => r.hostnames));

describe("generated valid configs", () => {
    test("always validate and plan", () => {
        fc.assert(
            fc.property(configArb, (raw) => {
                const plan = planStack(validate(raw));
                assert.equal(plan.nodes.length, (raw.nodes ?? []).length);
                assert.equal(plan.releases.length, (raw.apps ?? []).reduce((n, a) => n + a.releases.length, 0));
            }),
            RUNS,
        );
    });

    test("plan deterministically (twice → deepStrictEqual and JSON-identical, also after a re-parse)", () => {
        fc.assert(
            fc.property(configArb, (raw) => {
                const a = planStack(validate(raw));
                const b = planStack(validate(raw));
                assert.deepStrictEqual(a, b);
                assert.equal(JSON.stringify(a), JSON.stringify(b));
                const c = planStack(validate(JSON.parse(JSON.stringify(raw)) as StackConfigInput));
                assert.equal(JSON.stringify(a), JSON.stringify(c));
            }),
            RUNS,
        );
    });

    test("every hostname maps to exactly one route, to the service of the release that lists it", () => {
        fc.assert(
            fc.property(configArb, (raw) => {
                const config = validate(raw);
                const plan = planStack(config);
                const hostnames = hostnamesOf(config);
                assert.deepEqual(plan.routes.map((r) => r.hostname), [...hostnames].sort());
                for (const route of plan.routes) {
                    const owners = plan.releases.filter((r) => r.hostnames.includes(route.hostname));
                    assert.equal(owners.length, 1, route.hostname);
                    assert.equal(route.service, owners[0].service);
                }
                const services = plan.releases.map((r) => r.service);
                assert.equal(new Set(services).size, services.length, "service names are unique");
            }),
            RUNS,
        );
    });

    test("the bootstrap manager is the marked one, else the first manager; it is the only one not in the join lists", () => {
        fc.assert(
            fc.property(shapeArb, (shape) => {
                const raw = configOf(shape);
                const plan = planStack(validate(raw));
                const managers = (raw.nodes ?? []).filter((n) => n.role === "manager");
                const expected = (managers.find((n) => n.bootstrap) ?? managers[0]).name;
                assert.equal(plan.swarm.bootstrap.firstManager, expected);
                assert.deepEqual(plan.nodes.filter((n) => n.bootstrap).map((n) => n.name), [expected]);
                const joined = [...plan.swarm.bootstrap.managers, ...plan.swarm.bootstrap.workers, expected].sort();
                assert.deepEqual(joined, plan.nodes.map((n) => n.name).sort());
            }),
            RUNS,
        );
    });

    test("with bootstrap and priorities set, reversing nodes, apps, releases and hostnames changes nothing", () => {
        fc.assert(
            fc.property(shapeArb.filter((s) => s.ranked !== undefined), (shape) => {
                const raw = configOf(shape);
                const reversed = structuredClone(raw);
                reversed.nodes?.reverse();
                reversed.apps?.reverse();
                for (const app of reversed.apps ?? []) {
                    app.releases.reverse();
                    for (const r of app.releases) r.hostnames?.reverse();
                }
                assert.deepEqual(json(planStack(validate(reversed))), json(planStack(validate(raw))));
            }),
            RUNS,
        );
    });

    test("gateway timings follow the VIP's drain time", () => {
        fc.assert(
            fc.property(configArb, (raw) => {
                const plan = planStack(validate(raw));
                const vip = plan.virtualIp;
                const drain = vip ? Math.ceil(vip.healthCheck.fall * vip.healthCheck.interval + 2 * vip.advertInt + 1) : 0;
                const g = plan.gateway;
                assert.equal(vip?.drainSeconds ?? 0, drain);
                assert.equal(g.drainSeconds, drain);
                assert.equal(g.stopGracePeriod, Math.max(30, drain + 10));
                assert.equal(g.stopTimeout, Math.max(1, g.stopGracePeriod - drain - 2));
                assert.deepEqual([g.update.delay, g.update.monitor, g.update.failureAction], [drain + 5, drain + 15, "rollback"]);
                assert.deepEqual([g.rollback.delay, g.rollback.monitor, g.rollback.failureAction], [drain + 5, drain + 15, "pause"]);
                assert.deepEqual(g.nodes, plan.nodes.filter((n) => n.gateway).map((n) => n.name));
            }),
            RUNS,
        );
    });

    test("VRRP groups: one VRID each, every gateway a member, distinct priorities 1-254, peers = the other members", () => {
        fc.assert(
            fc.property(configArb, (raw) => {
                const plan = planStack(validate(raw));
                if (!plan.virtualIp) return;
                const gateways = plan.nodes.filter((n) => n.gateway);
                const vrids = plan.virtualIp.groups.map((g) => g.virtualRouterId);
                assert.equal(new Set(vrids).size, vrids.length, "VRIDs are distinct across groups");
                for (const g of plan.virtualIp.groups) {
                    assert.deepEqual(g.members.map((m) => m.node).sort(), gateways.map((n) => n.name).sort());
                    const priorities = g.members.map((m) => m.priority);
                    assert.equal(new Set(priorities).size, priorities.length, `priorities in ${g.name}: ${priorities.join(", ")}`);
                    assert.ok(priorities.every((p) => Number.isInteger(p) && p >= 1 && p <= 254), priorities.join(", "));
                    assert.deepEqual(priorities, [...priorities].sort((x, y) => y - x), "members sorted by priority, highest first");
                    for (const m of g.members) {
                        assert.deepEqual([...m.peers].sort(), g.members.filter((o) => o.node !== m.node).map((o) => o.address).sort());
                    }
                }
                // As many groups as gateways (up to the group count) each prefer a different node.
                const preferred = plan.virtualIp.groups.map((g) => g.members[0].node);
                assert.equal(new Set(preferred).size, Math.min(preferred.length, gateways.length));
            }),
            RUNS,
        );
    });

    test("every release's zone has an active node", () => {
        fc.assert(
            fc.property(configArb, (raw) => {
                const plan = planStack(validate(raw));
                for (const r of plan.releases) {
                    assert.ok(
                        plan.nodes.some((n) => n.zone === r.zone && n.availability === "active"),
                        `${r.service} in ${r.zone}`,
                    );
                    assert.deepEqual(r.constraints, [`node.labels.zone==${r.zone}`]);
                }
            }),
            RUNS,
        );
    });

    test("DNS: one A record per hostname per VIP, or per gateway node without a VIP", () => {
        fc.assert(
            fc.property(configArb, (raw) => {
                const config = validate(raw);
                const plan: Plan = planStack(config);
                const targets = plan.virtualIp ? plan.virtualIp.groups.length : plan.nodes.filter((n) => n.gateway).length;
                assert.equal(plan.dns.records.length, hostnamesOf(config).length * targets);
            }),
            RUNS,
        );
    });
});
