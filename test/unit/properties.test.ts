// Properties of validation and planning over generated valid configs (fast-check).
import * as assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { planStack, type Plan } from "../../stacks/plan";
import type { StackConfig, StackConfigInput } from "../../stacks/schema";
import { validateConfig } from "../../stacks/validate";
import { showErrors } from "./fixtures";

const RUNS = { numRuns: 100 };
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
});

type Shape = typeof shapeArb extends fc.Arbitrary<infer T> ? T : never;

/** A valid config by construction: every zone has an active worker, names and addresses are unique. */
function configOf(s: Shape): StackConfigInput {
    const zones = Array.from({ length: s.zones }, (_, i) => `z${i}`);
    let next = 10;
    let pick = 0;
    const zoneFor = () => zones[s.zoneOf[pick++ % s.zoneOf.length] % zones.length];
    const node = (name: string, role: "manager" | "worker", zone: string, gateway = false) => ({
        name,
        role,
        zone,
        address: `${LAN}.${next++}`,
        ...(gateway ? { gateway } : {}),
        labels: s.labelOrder ? { rack: `r${next % 3}`, "a.b": "x" } : { "a.b": "x", rack: `r${next % 3}` },
    });
    const nodes = [
        ...Array.from({ length: s.managers }, (_, i) => node(`manager-${i + 1}`, "manager", zoneFor())),
        ...Array.from({ length: s.gateways }, (_, i) => node(`gw-${i + 1}`, "worker", zoneFor(), true)),
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
    const groups = vip ? vip.vrids.map((vrid, i) => ({ address: `${LAN}.${vip.hosts[i]}`, virtualRouterId: vrid })) : [];
    return {
        driver: s.driver,
        drivers: { docker: { network: { subnet: `${LAN}.0/24` } } },
        nodes,
        swarm: { managerAvailability: s.managerAvailability, defaultAddrPool: ["10.20.0.0/16"] },
        networks: { zones: Object.fromEntries(zones.map((z, i) => [z, s.zoneSubnets ? { subnet: `10.30.${i}.0/24` } : {}])) },
        ...(vip
            ? {
                  virtualIp: {
                      ...(vip.shorthand && groups.length === 1 ? groups[0] : { groups }),
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

    test("VRRP groups: one VRID each, every gateway a member, distinct priorities 1-254, peers = the other members", () => {
        fc.assert(
            fc.property(configArb, (raw) => {
                const plan = planStack(validate(raw));
                if (!plan.vrrp) return;
                const gateways = plan.nodes.filter((n) => n.gateway);
                const vrids = plan.vrrp.groups.map((g) => g.virtualRouterId);
                assert.equal(new Set(vrids).size, vrids.length, "VRIDs are distinct across groups");
                for (const g of plan.vrrp.groups) {
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
                const preferred = plan.vrrp.groups.map((g) => g.members[0].node);
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
                const targets = plan.vrrp ? plan.vrrp.groups.length : plan.nodes.filter((n) => n.gateway).length;
                assert.equal(plan.dns.length, hostnamesOf(config).length * targets);
            }),
            RUNS,
        );
    });
});
