// Swarm: the swarm-wide settings, and the bootstrap order (init on one manager, managers join one at a time, then
// the workers).
import * as assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseConfig } from "../../model";
import { checkManagerQuorum, type LiveManager, liveSwarmOf, majority, type ManagerAnswer, planSwarm } from "../../model/swarm";
import { BASE, invalidConfigs, mutate, planOf, stackConfig, unset, validConfigs } from "./fixtures";

const DEV = stackConfig("dev");
const PROD = stackConfig("prod");
const dev = planOf(DEV);
const prod = planOf(PROD);

invalidConfigs(
    "swarm",
    [
        {
            name: "a pool mask length shorter than the pool's prefix",
            change: (d) => {
                d.swarm.defaultAddrPool = ["10.208.0.0/20"];
                d.swarm.defaultAddrPoolMaskLength = 16;
            },
            path: "swarm.defaultAddrPoolMaskLength",
            words: ["/16 is larger than pool swarm.defaultAddrPool[0] (10.208.0.0/20)"],
        },
        {
            name: "two pools larger than the mask length: one error per pool",
            change: (d) => {
                d.swarm.defaultAddrPool = ["10.208.0.0/20", "10.210.0.0/16", "10.212.0.0/22"];
                d.swarm.defaultAddrPoolMaskLength = 18;
            },
            path: "swarm.defaultAddrPoolMaskLength",
            words: ["/18 is larger than pool swarm.defaultAddrPool[2] (10.212.0.0/22)"],
            count: 2,
        },
        {
            name: "a mask length above 28",
            change: (d) => (d.swarm.defaultAddrPoolMaskLength = 29),
            path: "swarm.defaultAddrPoolMaskLength",
            words: ["<=28"],
        },
        {
            name: "a mask length below 16",
            change: (d) => (d.swarm.defaultAddrPoolMaskLength = 15),
            path: "swarm.defaultAddrPoolMaskLength",
            words: [">=16"],
        },
        {
            name: "managers paused by swarm.managerAvailability (only active or drain)",
            change: (d) => Object.assign(d.swarm, { managerAvailability: "pause" }),
            path: "swarm.managerAvailability",
            words: ['must be one of "active", "drain"'],
        },
        {
            name: "a data path port of 0",
            change: (d) => (d.swarm.dataPathPort = 0),
            path: "swarm.dataPathPort",
            words: ["must be a port 1-65535"],
        },
        {
            name: "an address pool that is not a network",
            change: (d) => (d.swarm.defaultAddrPool = ["10.208.0.0"]),
            path: "swarm.defaultAddrPool[0]",
            words: ["must be an IPv4 network"],
        },
        {
            name: "two overlapping address pools",
            change: (d) => (d.swarm.defaultAddrPool = ["10.208.0.0/16", "10.208.128.0/17"]),
            path: "swarm.defaultAddrPool[1]",
            words: ["10.208.128.0/17 overlaps 10.208.0.0/16 (swarm.defaultAddrPool[0])"],
        },
        { name: "an advertise interface with a colon", change: (d) => (d.swarm.advertiseInterface = "eth0:1"), path: "swarm.advertiseInterface", words: ["interface name"] },
    ],
    9,
);

validConfigs("swarm", [
    {
        name: "a mask length equal to the pool's prefix",
        change: (d) => {
            d.swarm.defaultAddrPool = ["10.208.0.0/20"];
            d.swarm.defaultAddrPoolMaskLength = 20;
        },
    },
    { name: "the widest mask length, 16, with a /16 pool", change: (d) => (d.swarm.defaultAddrPoolMaskLength = 16) },
    { name: "the narrowest mask length, 28", change: (d) => (d.swarm.defaultAddrPoolMaskLength = 28) },
    { name: "two adjacent pools", change: (d) => (d.swarm.defaultAddrPool = ["10.208.0.0/16", "10.210.0.0/16"]) },
]);

describe("bootstrap order", () => {
    test("dev: init on the only manager, then every worker", () => {
        assert.deepEqual(dev.swarm.bootstrap, { firstManager: "manager-1", managers: [], workers: ["gw-1", "gw-2", "worker-1"] });
    });

    test("prod: init on the bootstrap manager, join the other managers, then the workers, each list by name", () => {
        assert.deepEqual(prod.swarm.bootstrap, {
            firstManager: "manager-1",
            managers: ["manager-2", "manager-3"],
            workers: ["app-1", "app-2", "gw-1", "gw-2", "web-1"],
        });
    });

    test("bootstrap: true picks the first manager wherever it is listed", () => {
        assert.deepEqual(planOf(mutate(PROD, (d) => d.nodes.reverse())).swarm, prod.swarm);
        const third = planOf(
            mutate(PROD, (d) => {
                unset(d.nodes[0], "bootstrap");
                d.nodes[2].bootstrap = true;
            }),
        );
        assert.deepEqual(third.swarm.bootstrap, {
            firstManager: "manager-3",
            managers: ["manager-1", "manager-2"],
            workers: ["app-1", "app-2", "gw-1", "gw-2", "web-1"],
        });
        assert.equal(third.swarm.managerAddr, "10.0.10.13:2377");
    });

    test("without bootstrap: the first manager in the list, skipping workers listed before it", () => {
        const unmarked = mutate(PROD, (d) => unset(d.nodes[0], "bootstrap"));
        assert.equal(planOf(unmarked).swarm.bootstrap.firstManager, "manager-1");
        const reversed = planOf(mutate(unmarked, (d) => d.nodes.reverse()));
        assert.deepEqual(reversed.swarm.bootstrap, {
            firstManager: "manager-3",
            managers: ["manager-1", "manager-2"],
            workers: ["app-1", "app-2", "gw-1", "gw-2", "web-1"],
        });
        assert.equal(reversed.swarm.managerAddr, "10.0.10.13:2377");
    });
});

describe("swarm settings", () => {
    test("nodes join at the bootstrap manager's address on port 2377", () => {
        assert.equal(dev.swarm.managerAddr, "172.28.40.11:2377");
        assert.equal(prod.swarm.managerAddr, "10.0.10.11:2377");
    });

    test("defaults: data path port 4789, /24 overlay subnets, no autolock", () => {
        const plan = planOf(mutate(BASE, (d) => unset(d, "swarm")));
        assert.deepEqual(plan.swarm, {
            bootstrap: { firstManager: "manager-1", managers: ["manager-2", "manager-3"], workers: ["gw-1", "gw-2", "worker-1"] },
            managerAddr: "172.28.40.11:2377",
            dataPathPort: 4789,
            defaultAddrPool: ["10.20.0.0/16"],
            defaultAddrPoolMaskLength: 24,
            autolock: false,
        });
    });

    test("settings pass through; address pools are sorted", () => {
        const plan = planOf(
            mutate(PROD, (d) => {
                d.swarm.defaultAddrPool = ["10.200.0.0/16", "10.128.0.0/14"];
                d.swarm.defaultAddrPoolMaskLength = 26;
                d.swarm.dataPathPort = 7789;
            }),
        );
        assert.deepEqual(plan.swarm.defaultAddrPool, ["10.128.0.0/14", "10.200.0.0/16"]);
        assert.equal(plan.swarm.defaultAddrPoolMaskLength, 26);
        assert.equal(plan.swarm.dataPathPort, 7789);
        assert.equal(prod.swarm.autolock, true);
    });
});

describe("planSwarm", () => {
    test("refuses planned nodes without a bootstrap manager", () => {
        const nodes = prod.nodes.map((n) => ({ ...n, bootstrap: false }));
        assert.throws(() => planSwarm(parseConfig(PROD), nodes), /^Error: the plan has no bootstrap manager \(validation requires one manager\)$/);
    });
});

describe("checkManagerQuorum", () => {
    const m = (name: string, reachable = true): LiveManager => ({ name, reachable });

    /** Every order of `items`. */
    function permutations<T>(items: readonly T[]): T[][] {
        if (items.length <= 1) return [[...items]];
        return items.flatMap((x, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [x, ...rest]));
    }

    /** The rule by brute force: quorum now, then every order of the leavers one at a time keeps a majority reachable. */
    function oracle(live: LiveManager[], planned: string[]): "ok" | "quorum-lost" | "unsafe-change" {
        const okSet = (set: LiveManager[]) => set.length > 0 && set.filter((x) => x.reachable).length * 2 > set.length;
        if (live.length === 0) return "ok";
        if (!okSet(live)) return "quorum-lost";
        const leavers = live.filter((x) => !planned.includes(x.name));
        for (const order of permutations(leavers)) {
            let remaining = [...live];
            for (const l of order) {
                remaining = remaining.filter((x) => x !== l);
                if (!okSet(remaining)) return "unsafe-change";
            }
        }
        return "ok";
    }

    test("no swarm yet (first up): passes whatever the plan", () => {
        assert.deepEqual(checkManagerQuorum([], ["manager-1"]), { ok: true, leaving: [] });
        assert.deepEqual(checkManagerQuorum([], []), { ok: true, leaving: [] });
    });

    test("majority of 1, 2, 3, 4, 5 managers is 1, 2, 2, 3, 3", () => {
        assert.deepEqual([1, 2, 3, 4, 5].map(majority), [1, 2, 2, 3, 3]);
    });

    for (const size of [1, 3, 5]) {
        test(`${size} managers: every reachability, every set of demotions/removals, with and without new managers, agrees with every order applied one at a time`, () => {
            const names = Array.from({ length: size }, (_, i) => `manager-${i + 1}`);
            let cases = 0;
            const seen = { ok: 0, "quorum-lost": 0, "unsafe-change": 0 };
            for (let down = 0; down < 1 << size; down++) {
                const live = names.map((n, i) => m(n, !(down & (1 << i))));
                for (let gone = 0; gone < 1 << size; gone++) {
                    const kept = names.filter((_, i) => !(gone & (1 << i)));
                    for (const added of [[], ["manager-new"]]) {
                        const planned = [...kept, ...added];
                        const expected = oracle(live, planned);
                        const verdict = checkManagerQuorum(live, planned);
                        const label = `down=${names.filter((_, i) => down & (1 << i)).join("+") || "-"} leaving=${names.filter((_, i) => gone & (1 << i)).join("+") || "-"} added=${added.join() || "-"}`;
                        assert.equal(verdict.ok ? "ok" : verdict.problem, expected, label);
                        assert.deepEqual(verdict.leaving, names.filter((_, i) => gone & (1 << i)), label);
                        if (!verdict.ok) {
                            for (const u of verdict.unreachable) assert.ok(verdict.message.includes(u), `${label}: message names ${u}: ${verdict.message}`);
                            if (verdict.problem === "unsafe-change") for (const l of verdict.leaving) assert.ok(verdict.message.includes(l), `${label}: message names ${l}`);
                            assert.match(verdict.message, /nothing was changed/i, label);
                        }
                        seen[expected]++;
                        cases++;
                    }
                }
            }
            assert.equal(cases, (1 << size) * (1 << size) * 2);
            // every outcome occurs (the exhaustive set is not trivially "ok")
            if (size > 1) assert.ok(seen.ok > 0 && seen["quorum-lost"] > 0 && seen["unsafe-change"] > 0, JSON.stringify(seen));
        });
    }

    test("3 managers, one down: a small change (no manager leaves) passes", () => {
        assert.deepEqual(checkManagerQuorum([m("manager-1"), m("manager-2"), m("manager-3", false)], ["manager-1", "manager-2", "manager-3"]), { ok: true, leaving: [] });
    });

    test("3 managers, two down: quorum lost, naming both, whatever the plan", () => {
        const v = checkManagerQuorum([m("manager-1"), m("manager-2", false), m("manager-3", false)], ["manager-1", "manager-2", "manager-3"]);
        assert.equal(v.ok, false);
        assert.ok(!v.ok && v.problem === "quorum-lost");
        assert.equal(
            !v.ok && v.message,
            "manager quorum is lost: 1 of 3 managers reachable, a majority needs 2 (unreachable: manager-2, manager-3). The swarm cannot accept any change, so nothing was changed. Bring the unreachable managers back (start the machine, the Docker engine) and run up again.",
        );
    });

    test("3 managers, manager-3 down, manager-2 and manager-3 demoted: refused (demoting manager-2 first leaves 1 of 2 reachable)", () => {
        const v = checkManagerQuorum([m("manager-1"), m("manager-2"), m("manager-3", false)], ["manager-1"]);
        assert.ok(!v.ok && v.problem === "unsafe-change");
        assert.match(!v.ok ? v.message : "", /^refusing a change that demotes or removes managers manager-2, manager-3 while manager-3 is unreachable: once manager-2 has left, 1 of the 2 remaining managers \(manager-1, manager-3\) would be reachable, fewer than a majority \(2\)/);
    });

    test("3 managers, all up, two demoted: allowed (1 of 1 left), in any order", () => {
        assert.deepEqual(checkManagerQuorum([m("manager-1"), m("manager-2"), m("manager-3")], ["manager-1"]), { ok: true, leaving: ["manager-2", "manager-3"] });
    });

    test("5 managers, two down, the two down removed: allowed (3 of 3 left)", () => {
        const live = [m("a"), m("b"), m("c"), m("d", false), m("e", false)];
        assert.deepEqual(checkManagerQuorum(live, ["a", "b", "c"]), { ok: true, leaving: ["d", "e"] });
    });

    test("5 managers, one down: removing 1 or 2 reachable ones keeps a majority; removing 3 leaves 1 of 2 reachable, refused", () => {
        const live = [m("a"), m("b"), m("c"), m("d"), m("e", false)];
        assert.equal(checkManagerQuorum(live, ["a", "b", "c", "e"]).ok, true);
        // d and c leave (reachable): a, b, e remain, 2 of 3 reachable: still a majority
        assert.equal(checkManagerQuorum(live, ["a", "b", "e"]).ok, true);
        // d, c and b leave: a and e remain, 1 of 2: refused
        const v = checkManagerQuorum(live, ["a", "e"]);
        assert.ok(!v.ok && v.problem === "unsafe-change" && v.message.includes("1 of the 2 remaining managers (a, e)"));
    });

    test("every manager of the swarm leaves (new ones planned instead): refused", () => {
        const v = checkManagerQuorum([m("old-1")], ["new-1"]);
        assert.ok(!v.ok && v.problem === "unsafe-change" && v.message.includes("every manager of the swarm (old-1)"));
    });
});

describe("liveSwarmOf (the read's answers)", () => {
    const nodes = [
        { name: "manager-1", address: "10.0.10.11" },
        { name: "manager-2", address: "10.0.10.12" },
        { name: "manager-3", address: "10.0.10.13" },
    ];
    const up = (node: string, report: object): ManagerAnswer => ({ node, reached: true, report: { engine: "up", ...report } });
    const down = (node: string, reason = "ssh: connect to host 10.0.10.12 port 22: No route to host"): ManagerAnswer => ({ node, reached: false, reason });

    test("first up: no docker, or docker outside any swarm, on the managers that answer: no swarm", () => {
        assert.deepEqual(liveSwarmOf([{ node: "manager-1", reached: true, report: { engine: "absent" } }], nodes), { kind: "none" });
        assert.deepEqual(liveSwarmOf([up("manager-1", { state: "inactive", controlAvailable: false, leader: false }), down("manager-2")], nodes), { kind: "none" });
    });

    test("a manager listing the managers decides: named by the stack's node at their address, else by hostname", () => {
        const live = liveSwarmOf(
            [
                up("manager-1", {
                    state: "active",
                    controlAvailable: true,
                    leader: true,
                    managers: [
                        { hostname: "m1", addr: "10.0.10.11:2377", reachability: "reachable", leader: true },
                        { hostname: "m3", addr: "10.0.10.13:2377", reachability: "unreachable", leader: false },
                        { hostname: "old-manager", addr: "10.0.10.99:2377", reachability: "reachable", leader: false },
                    ],
                }),
            ],
            nodes,
        );
        assert.deepEqual(live, {
            kind: "managers",
            managers: [
                { name: "manager-1", reachable: true },
                { name: "manager-3", reachable: false },
                { name: "old-manager", reachable: true },
            ],
        });
    });

    test("the deciding manager's networks come with the managers; a failed networks read (null) gives none", () => {
        const leader = { state: "active", controlAvailable: true, leader: true, managers: [{ hostname: "m1", addr: "10.0.10.11:2377", reachability: "reachable", leader: true }] };
        const report = { name: "gateway", driver: "overlay", ingress: false, ipamDriver: "default", ipam: [{ Subnet: "10.229.0.0/24", Gateway: "10.229.0.1" }] };
        assert.deepEqual(liveSwarmOf([up("manager-1", { ...leader, networks: [report] })], nodes), {
            kind: "managers",
            managers: [{ name: "manager-1", reachable: true }],
            networks: [{ name: "gateway", driver: "overlay", ingress: false, ipamDriver: "default", ipam: [{ subnet: "10.229.0.0/24", gateway: "10.229.0.1" }] }],
        });
        assert.deepEqual(liveSwarmOf([up("manager-1", { ...leader, networks: null })], nodes), { kind: "managers", managers: [{ name: "manager-1", reachable: true }] });
    });

    test("no leader: the managers any answering manager knows, reachable only when it answered; quorum lost names the others", () => {
        const live = liveSwarmOf(
            [up("manager-1", { state: "active", controlAvailable: true, leader: false, remoteManagers: ["10.0.10.11:2377", "10.0.10.12:2377", "10.0.10.13:2377"], managers: [] }), down("manager-2"), down("manager-3")],
            nodes,
        );
        assert.deepEqual(live, {
            kind: "no-leader",
            managers: [
                { name: "manager-1", reachable: true },
                { name: "manager-2", reachable: false },
                { name: "manager-3", reachable: false },
            ],
        });
        const verdict = checkManagerQuorum(live.kind === "no-leader" ? live.managers : [], ["manager-1", "manager-2", "manager-3"]);
        assert.ok(!verdict.ok && verdict.problem === "quorum-lost" && verdict.unreachable.join() === "manager-2,manager-3");
    });

    test("nothing answers as a manager: unknown, with each manager's reason", () => {
        const live = liveSwarmOf([down("manager-1", "Connection timed out"), up("manager-2", { state: "locked", controlAvailable: false }), { node: "manager-3", reached: true, report: { engine: "down" } }], nodes);
        assert.equal(live.kind, "unknown");
        assert.equal(
            live.kind === "unknown" && live.message,
            "cannot read the swarm's managers: no planned manager answered as a manager (manager-1: Connection timed out; manager-2: swarm locked, not a manager; manager-3: engine down). Nothing was changed; check that the managers run and are reachable, then run up again.",
        );
    });
});
