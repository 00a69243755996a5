// Properties of validation and planning over generated valid configs (fast-check).
import * as assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { type Plan, planStack, type StackConfig, type StackConfigInput, validateConfig } from "../../model";
import { json, showErrors } from "./fixtures";
import { configArb, configOf, shapeArb } from "./generators";

// STRYKER=1 (mutation testing runs the whole suite once per mutant): fewer generated configs per property.
const RUNS = { numRuns: process.env.STRYKER ? 10 : 100 };

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
                    assert.deepEqual(route.backends.map((b) => b.service), [owners[0].service]);
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
                assert.equal(g.stopGracePeriod, Math.max(raw.gateway?.stopGracePeriod ?? 30, drain + 10));
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
