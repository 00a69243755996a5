// Swarm: the swarm-wide settings, and the bootstrap order (init on one manager, managers join one at a time, then
// the workers).
import * as assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseConfig } from "../../model";
import { planSwarm } from "../../model/swarm";
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
