// Virtual IP: keepalived (VRRP) groups on the gateway nodes. Which configs are valid, how members are ranked
// (priority, else list order), rotated per group, and the failover timing the gateway drains for.
import * as assert from "node:assert/strict";
import { describe, test } from "node:test";
import { BASE, diffPaths, type Draft, errorsOf, invalidConfigs, json, mutate, partial, planOf, showErrors, stackConfig, unset, useGroups, validConfigs, validOrThrow, useSsh, withGroups } from "./fixtures";
import type { Plan, PlanVirtualIp } from "../../model";
import { masterDownSeconds, renderKeepalivedConf, renderKeepalivedScripts, VRRP_PROFILES, virtualIpArtifacts, virtualIpGroupsOf, virtualIpMembersOf } from "../../model/virtual-ip";

const DEV = stackConfig("dev");
const PROD = stackConfig("prod");
/** The dev stack on the default profile (VRRPv2 with authentication), which most tests below read; dev itself runs fast. */
const dev = planOf(mutate(DEV, (d) => (d.virtualIp.profile = "default")));
const devFast = planOf(DEV);
const prod = planOf(PROD);

function vipOf(plan: Plan): PlanVirtualIp {
    assert.ok(plan.virtualIp, "the plan has a virtual IP");
    return plan.virtualIp;
}

/** `n` more gateway workers in the dmz of BASE (addresses .110 and up). */
function addGateways(d: Draft, n: number): void {
    for (let i = 0; i < n; i++) d.nodes.push(partial({ name: `gw-x${String(i).padStart(2, "0")}`, role: "worker", zone: "dmz", address: `172.28.40.${110 + i}`, gateway: true }));
}

const TWO_GROUPS = [
    { name: "vip1", address: "10.0.10.100", virtualRouterId: 51 },
    { name: "vip2", address: "10.0.10.101", virtualRouterId: 52 },
];

invalidConfigs(
    "virtual IP",
    [
        {
            name: "a health check path with characters that would break the configs",
            change: (d) => (d.virtualIp.healthCheck.path = "/health z;"),
            path: "virtualIp.healthCheck.path",
            words: ["URL path"],
        },
        {
            name: "a VIP without gateway nodes",
            change: (d) => d.nodes.forEach((n) => (n.gateway = false)),
            path: "virtualIp",
            words: ["at least one node with gateway: true"],
            count: 2, // and `nodes`: the apps' hostnames need a gateway node
        },
        {
            name: "a VIP outside the gateway nodes' subnet",
            change: (d) => (d.virtualIp.address = "172.28.41.100"),
            path: "virtualIp.address",
            words: ["172.28.41.100/24 is not in the subnet of gateway nodes", "gw-1 (172.28.40.21)", "gw-2 (172.28.40.22)", "nodes gw-1 (172.28.40.21), gw-2 (172.28.40.22)"],
        },
        {
            name: "a VIP equal to a node's address",
            change: (d) => (d.virtualIp.address = "172.28.40.31"),
            path: "virtualIp.address",
            words: ["172.28.40.31 is the address of node worker-1", "free address"],
        },
        {
            name: "a VIP on the network address",
            change: (d) => (d.virtualIp.address = "172.28.40.0"),
            path: "virtualIp.address",
            words: ["network or broadcast address of 172.28.40.0/24"],
        },
        {
            name: "a VIP on the broadcast address",
            change: (d) => (d.virtualIp.address = "172.28.40.255"),
            path: "virtualIp.address",
            words: ["network or broadcast address of 172.28.40.0/24"],
        },
        {
            name: "a VIP on the docker bridge gateway",
            change: (d) => (d.virtualIp.address = "172.28.40.1"),
            path: "virtualIp.address",
            words: ["docker driver bridge gateway"],
        },
        {
            name: "a VIP inside an overlay subnet",
            change: (d) => (d.virtualIp.address = "10.209.1.50"),
            path: "virtualIp.address",
            words: ["10.209.1.50 lies inside 10.209.1.0/24", "networks.zones.dmz.subnet"],
            count: 2, // and outside the gateway nodes' subnet
        },
        {
            name: "VRID 0",
            change: (d) => (d.virtualIp.virtualRouterId = 0),
            path: "virtualIp.virtualRouterId",
            words: ["1-255"],
        },
        {
            name: "VRID 256",
            change: (d) => (d.virtualIp.virtualRouterId = 256),
            path: "virtualIp.virtualRouterId",
            words: ["1-255"],
        },
        {
            name: "a VRID 0 in a group",
            change: (d) => {
                useGroups(d, [{ name: "a", address: "172.28.40.100", virtualRouterId: 0 }]);
            },
            path: "virtualIp.groups[a].virtualRouterId",
            words: ["1-255"],
        },
        {
            name: "a VIP without a VRID",
            change: (d) => unset(d.virtualIp, "virtualRouterId"),
            path: "virtualIp.virtualRouterId",
            words: ["is required", "1-255", "unique on the L2 segment"],
        },
        {
            name: "two VRRP groups with one VRID",
            change: (d) => {
                useGroups(d, [
                    { name: "a", address: "172.28.40.100", virtualRouterId: 51 },
                    { name: "b", address: "172.28.40.101", virtualRouterId: 51 },
                ]);
            },
            path: "virtualIp.groups[b].virtualRouterId",
            words: ["VRID 51 is already used by virtualIp.groups[a]"],
        },
        {
            name: "two VRRP groups with one address",
            change: (d) => {
                useGroups(d, [
                    { name: "a", address: "172.28.40.100", virtualRouterId: 51 },
                    { name: "b", address: "172.28.40.100", virtualRouterId: 52 },
                ]);
            },
            path: "virtualIp.groups[b].address",
            words: ["address 172.28.40.100 is also virtualIp.groups[a]"],
        },
        {
            name: "an empty list of VRRP groups",
            change: (d) => {
                unset(d.virtualIp, "address");
                unset(d.virtualIp, "virtualRouterId");
                d.virtualIp.groups = [];
            },
            path: "virtualIp.groups",
            words: ["at least one group"],
        },
        {
            name: "address and groups both given",
            change: (d) => (d.virtualIp.groups = [{ name: "b", address: "172.28.40.101", virtualRouterId: 52 }]),
            path: "virtualIp",
            words: ["either address + virtualRouterId or groups, not both"],
        },
        {
            name: "a sub-second advert with VRRPv2",
            change: (d) => (d.virtualIp.advertInt = 0.5),
            path: "virtualIp.advertInt",
            words: ["VRRPv2 adverts are whole seconds", "got 0.5", "vrrpVersion: 3"],
        },
        {
            name: "authentication with VRRPv3",
            change: (d) => {
                d.virtualIp.vrrpVersion = 3;
                d.virtualIp.authentication = true;
            },
            path: "virtualIp.authentication",
            words: ["VRRPv3 has no authentication"],
        },
        {
            name: "a password secret with VRRPv3",
            change: (d) => {
                d.virtualIp.vrrpVersion = 3;
                d.virtualIp.passwordSecret = "vrrpPassword";
            },
            path: "virtualIp.passwordSecret",
            words: ["VRRPv3 has no authentication"],
        },
        {
            name: "a password secret with authentication off",
            change: (d) => {
                d.virtualIp.authentication = false;
                d.virtualIp.passwordSecret = "vrrpPassword";
            },
            path: "virtualIp.passwordSecret",
            words: ["authentication is false"],
        },
        {
            name: "VRRP version 4",
            change: (d) => Object.assign(d.virtualIp, { vrrpVersion: 4 }),
            path: "virtualIp.vrrpVersion",
            words: ["must be one of 2, 3"],
        },
        {
            name: "a preempt delay without preempt",
            change: (d) => (d.virtualIp.preemptDelay = 30),
            path: "virtualIp.preemptDelay",
            words: ["only applies with preempt: true"],
        },
        {
            name: "a health check timeout longer than its interval",
            change: (d) => {
                d.virtualIp.healthCheck.interval = 2;
                d.virtualIp.healthCheck.timeout = 3;
            },
            path: "virtualIp.healthCheck.timeout",
            words: ["3s exceeds the interval 2s"],
        },
        {
            name: "a typo in a nested key",
            change: (d) => Object.assign(d.virtualIp.healthCheck, { intervall: 2 }),
            path: "virtualIp.healthCheck.intervall",
            words: ['unknown key: did you mean "interval"?', "(virtualIp.healthCheck keys: path, interval, timeout, fall, rise)"],
        },

        {
            name: "a VRRP group without a name",
            change: (d) => useGroups(d, partial([{ address: "172.28.40.100", virtualRouterId: 51 }])),
            path: "virtualIp.groups[0].name",
            words: ["is required"],
        },
        {
            name: "two VRRP groups with one name",
            change: (d) =>
                useGroups(d, [
                    { name: "vip1", address: "172.28.40.100", virtualRouterId: 51 },
                    { name: "vip1", address: "172.28.40.101", virtualRouterId: 52 },
                ]),
            path: "virtualIp.groups[1].name",
            words: ['group name "vip1" is also virtualIp.groups[0]'],
        },
        {
            name: "a VRRP group name that is not DNS-safe",
            change: (d) => useGroups(d, [{ name: "VIP 1", address: "172.28.40.100", virtualRouterId: 51 }]),
            path: 'virtualIp.groups["VIP 1"].name',
            words: ["VRRP group name must be lower-case letters"],
        },
        {
            name: "a shorthand VRID without an address",
            change: (d) => unset(d.virtualIp, "address"),
            path: "virtualIp.address",
            words: ["is required (or give virtualIp.groups)"],
        },
        {
            name: "a virtual IP with neither address nor VRID nor groups",
            change: (d) => {
                unset(d.virtualIp, "address");
                unset(d.virtualIp, "virtualRouterId");
            },
            path: "virtualIp.virtualRouterId",
            words: ["is required"],
            count: 2,
        },
        {
            name: "groups and a shorthand VRID both given",
            change: (d) => {
                unset(d.virtualIp, "address");
                d.virtualIp.groups = [{ name: "b", address: "172.28.40.101", virtualRouterId: 52 }];
            },
            path: "virtualIp",
            words: ["not both"],
        },
        {
            name: "a VIP outside the subnet of one gateway node",
            change: (d) => {
                d.virtualIp.prefix = 28;
                d.nodes[4].address = "172.28.40.101";
            },
            path: "virtualIp.address",
            words: ["172.28.40.100/28 is not in the subnet of gateway node gw-1 (172.28.40.21)"],
        },
        {
            name: "the second group's VIP on a node's address",
            change: (d) =>
                useGroups(d, [
                    { name: "vip1", address: "172.28.40.100", virtualRouterId: 51 },
                    { name: "vip2", address: "172.28.40.11", virtualRouterId: 52 },
                ]),
            path: "virtualIp.groups[vip2].address",
            words: ["172.28.40.11 is the address of node manager-1"],
        },
        {
            name: "a VIP on an explicit bridge gateway",
            change: (d) => {
                d.drivers.docker.network.gateway = "172.28.40.254";
                d.virtualIp.address = "172.28.40.254";
            },
            path: "virtualIp.address",
            words: ["docker driver bridge gateway"],
        },
        {
            name: "a VIP inside the address pool (ssh nodes)",
            change: (d) => {
                useSsh(d);
                d.nodes.forEach((n, i) => (n.address = `10.208.7.${10 + i}`));
                d.virtualIp.address = "10.208.7.100";
            },
            path: "virtualIp.address",
            words: ["10.208.7.100 lies inside 10.208.0.0/16 (swarm.defaultAddrPool[0])"],
            count: 7, // and each node inside the pool
        },
        {
            name: "a sub-second advert with VRRPv3 below 0.01",
            change: (d) => {
                d.virtualIp.vrrpVersion = 3;
                d.virtualIp.advertInt = 0.001;
            },
            path: "virtualIp.advertInt",
            words: [">=0.01"],
        },
        {
            name: "eleven failed checks before giving up the VIP",
            change: (d) => (d.virtualIp.healthCheck.fall = 11),
            path: "virtualIp.healthCheck.fall",
            words: ["<=10"],
        },
        {
            name: "a VIP prefix of 33",
            change: (d) => (d.virtualIp.prefix = 33),
            path: "virtualIp.prefix",
            words: ["<=32"],
        },
        {
            name: "a transport that is neither unicast nor multicast",
            change: (d) => Object.assign(d.virtualIp, { transport: "broadcast" }),
            path: "virtualIp.transport",
            words: ['must be one of "unicast", "multicast"'],
        },
        // What keepalived and Linux accept (issue 9: config that cannot break what it feeds).
        { name: "an interface name of 16 characters", change: (d) => (d.virtualIp.interface = "abcdefghijklmnop"), path: "virtualIp.interface", words: ["1-15"] },
        { name: "the interface name ..", change: (d) => (d.virtualIp.interface = ".."), path: "virtualIp.interface", words: ["interface name"] },
        { name: "an interface name with a blank", change: (d) => (d.virtualIp.interface = "eth 0"), path: "virtualIp.interface", words: ["interface name"] },
        { name: "an upper-case script user", change: (d) => (d.virtualIp.scriptUser = "Keepalived"), path: "virtualIp.scriptUser", words: ["user name"] },
        {
            name: "a VRRPv3 advert interval above 40.95 s",
            change: (d) => Object.assign(d.virtualIp, { vrrpVersion: 3, advertInt: 41, authentication: false }),
            path: "virtualIp.advertInt",
            words: ["40.95"],
        },
        {
            name: "a VRRPv3 advert interval finer than a centisecond",
            change: (d) => Object.assign(d.virtualIp, { vrrpVersion: 3, advertInt: 0.015, authentication: false }),
            path: "virtualIp.advertInt",
            words: ["centiseconds"],
        },
        { name: "a check interval beyond keepalived's 4294 s", change: (d) => (d.virtualIp.healthCheck = partial({ interval: 4295 })), path: "virtualIp.healthCheck.interval", words: ["4294"] },
        // keepalived 2.2.7's `-t`: "invalid number '0.5'" / "'1.5' must be between 1 and 4294".
        { name: "a fractional check interval", change: (d) => (d.virtualIp.healthCheck = partial({ interval: 1.5 })), path: "virtualIp.healthCheck.interval", words: ["whole number", "1.5"] },
        { name: "a sub-second check timeout", change: (d) => (d.virtualIp.healthCheck = partial({ timeout: 0.5 })), path: "virtualIp.healthCheck.timeout", words: ["whole number", "0.5"], count: 2 },
        { name: "an unknown profile", change: (d) => Object.assign(d.virtualIp, { profile: "turbo" }), path: "virtualIp.profile", words: ['"default"', '"fast"'] },
        {
            name: "profile fast with VRRPv2",
            change: (d) => Object.assign(d.virtualIp, { profile: "fast", vrrpVersion: 2 }),
            path: "virtualIp.vrrpVersion",
            words: ["profile fast is VRRPv3", "profile: default"],
        },
        {
            name: "profile fast with authentication",
            change: (d) => Object.assign(d.virtualIp, { profile: "fast", authentication: true }),
            path: "virtualIp.authentication",
            words: ["VRRPv3 (profile fast) has no authentication", "profile: default"],
        },
        {
            name: "profile fast with a VRRP password",
            change: (d) => Object.assign(d.virtualIp, { profile: "fast", passwordSecret: "vrrpPassword" }),
            path: "virtualIp.passwordSecret",
            words: ["VRRPv3 (profile fast) has no authentication"],
        },
    ],
    45,
);

validConfigs("virtual IP", [
    {
        name: "two VRRP groups with distinct names, VRIDs and addresses",
        change: (d) =>
            useGroups(d, [
                { name: "vip1", address: "172.28.40.100", virtualRouterId: 51 },
                { name: "vip2", address: "172.28.40.101", virtualRouterId: 52 },
            ]),
    },
    { name: "a health check timeout equal to its interval", change: (d) => (d.virtualIp.healthCheck = partial({ interval: 3, timeout: 3 })) },
    {
        name: "sub-second adverts with VRRPv3",
        change: (d) => {
            d.virtualIp.vrrpVersion = 3;
            d.virtualIp.advertInt = 0.5;
        },
    },
    {
        name: "VRRPv3 with authentication explicitly off",
        change: (d) => {
            d.virtualIp.vrrpVersion = 3;
            d.virtualIp.authentication = false;
        },
    },
    {
        name: "a preempt delay with preempt",
        change: (d) => {
            d.virtualIp.preempt = true;
            d.virtualIp.preemptDelay = 0;
        },
    },
    {
        name: "a password secret with VRRPv2 authentication",
        change: (d) => {
            d.virtualIp.authentication = true;
            d.virtualIp.passwordSecret = "vrrpPassword";
        },
    },
    {
        name: "a VIP on the bridge gateway address when no node uses the docker driver",
        change: (d) => {
            useSsh(d);
            d.virtualIp.address = "172.28.40.1";
        },
    },
    {
        name: "a /31 VIP prefix (no network or broadcast address)",
        change: (d) => {
            d.virtualIp.prefix = 31;
            d.virtualIp.address = "172.28.40.20";
            d.nodes.splice(4, 1);
        },
    },
    {
        name: "VRID 1 and VRID 255",
        change: (d) =>
            useGroups(d, [
                { name: "vip1", address: "172.28.40.100", virtualRouterId: 1 },
                { name: "vip2", address: "172.28.40.101", virtualRouterId: 255 },
            ]),
    },
]);

describe("VRRP groups", () => {
    test("one group: the same VRID on every member, distinct priorities, peers are the other gateways in address order", () => {
        for (const plan of [dev, prod]) {
            const vip = vipOf(plan);
            assert.equal(vip.groups.length, 1);
            const [g] = vip.groups;
            assert.equal(g.virtualRouterId, 51);
            const gateways = plan.nodes.filter((n) => n.gateway);
            assert.deepEqual(g.members.map((m) => m.node), gateways.map((n) => n.name));
            assert.equal(new Set(g.members.map((m) => m.priority)).size, g.members.length);
            for (const m of g.members) {
                assert.ok(m.priority >= 1 && m.priority <= 254);
                assert.deepEqual(m.peers, gateways.filter((n) => n.name !== m.node).map((n) => n.address));
            }
        }
        assert.deepEqual(json(vipOf(dev).groups), [
            {
                name: "vip1",
                address: "172.28.40.100",
                virtualRouterId: 51,
                members: [
                    { node: "gw-1", address: "172.28.40.12", priority: 200, peers: ["172.28.40.13"] },
                    { node: "gw-2", address: "172.28.40.13", priority: 190, peers: ["172.28.40.12"] },
                ],
            },
        ]);
    });

    test("the shorthand without both address and virtualRouterId is no group", () => {
        assert.deepEqual(virtualIpGroupsOf(partial<VipConfig>({ virtualRouterId: 51 })), []);
        assert.deepEqual(virtualIpGroupsOf(partial<VipConfig>({ address: "172.28.40.100" })), []);
        assert.deepEqual(virtualIpGroupsOf(partial<VipConfig>({ address: "172.28.40.100", virtualRouterId: 0 })), [{ name: "vip1", address: "172.28.40.100", virtualRouterId: 0 }]);
    });

    test("the shorthand address + virtualRouterId is the group vip1", () => {
        assert.deepEqual(virtualIpGroupsOf(vipConfig(BASE)), [{ name: "vip1", address: "172.28.40.100", virtualRouterId: 51 }]);
        const named = mutate(BASE, (d) => useGroups(d, [{ name: "front", address: "172.28.40.100", virtualRouterId: 51 }]));
        assert.deepEqual(virtualIpGroupsOf(vipConfig(named)), [{ name: "front", address: "172.28.40.100", virtualRouterId: 51 }]);
        assert.deepEqual(vipOf(planOf(named)).groups.map((g) => g.name), ["front"]);
    });

    test("peers are in address order, not name or list order", () => {
        const plan = planOf(
            mutate(BASE, (d) => {
                d.nodes[3].address = "172.28.40.30";
                d.nodes[4].address = "172.28.40.9";
                d.nodes[5].gateway = true;
                d.nodes[5].zone = "dmz";
            }),
        );
        const members = vipOf(plan).groups[0].members;
        assert.deepEqual(members.find((m) => m.node === "worker-1")?.peers, ["172.28.40.9", "172.28.40.30"]);
        assert.deepEqual(members.find((m) => m.node === "gw-1")?.peers, ["172.28.40.9", "172.28.40.31"]);
    });

    test("two groups prefer different gateway nodes (rotated preference)", () => {
        const groups = vipOf(planOf(withGroups(PROD, TWO_GROUPS))).groups;
        assert.deepEqual(
            groups.map((g) => [g.name, g.virtualRouterId, g.members.map((m) => `${m.node}:${m.priority}`)]),
            [
                ["vip1", 51, ["gw-1:200", "gw-2:190"]],
                ["vip2", 52, ["gw-2:200", "gw-1:190"]],
            ],
        );
    });

    test("groups are planned by name, and the rotation follows the name order, not the list order", () => {
        const listed = vipOf(planOf(withGroups(PROD, [...TWO_GROUPS].reverse()))).groups;
        assert.deepEqual(
            listed.map((g) => [g.name, g.members[0].node]),
            [
                ["vip1", "gw-1"],
                ["vip2", "gw-2"],
            ],
        );
        const renamed = vipOf(
            planOf(
                withGroups(PROD, [
                    { name: "b-front", address: "10.0.10.100", virtualRouterId: 51 },
                    { name: "a-back", address: "10.0.10.101", virtualRouterId: 52 },
                ]),
            ),
        ).groups;
        assert.deepEqual(
            renamed.map((g) => [g.name, g.address, g.members[0].node]),
            [
                ["a-back", "10.0.10.101", "gw-1"],
                ["b-front", "10.0.10.100", "gw-2"],
            ],
        );
    });

    test("three groups on three gateways: each gateway is preferred by exactly one group", () => {
        const config = mutate(withGroups(PROD, [...TWO_GROUPS, { name: "vip3", address: "10.0.10.102", virtualRouterId: 53 }]), (d) => {
            d.nodes[5].gateway = true;
            d.nodes[5].priority = 3;
        });
        const groups = vipOf(planOf(config)).groups;
        assert.deepEqual(groups.map((g) => g.members.map((m) => m.node)), [
            ["web-1", "gw-1", "gw-2"],
            ["gw-1", "gw-2", "web-1"],
            ["gw-2", "web-1", "gw-1"],
        ]);
        for (const g of groups) {
            assert.deepEqual(g.members.map((m) => m.priority), [200, 190, 180]);
            for (const m of g.members) assert.equal(m.peers.length, 2);
        }
    });

    test("more groups than gateways: the rotation wraps around", () => {
        const groups = vipOf(planOf(withGroups(PROD, [...TWO_GROUPS, { name: "vip3", address: "10.0.10.102", virtualRouterId: 53 }]))).groups;
        assert.deepEqual(groups.map((g) => g.members[0].node), ["gw-1", "gw-2", "gw-1"]);
    });

    test("priority orders members, highest first, whatever the list order", () => {
        const flipped = mutate(PROD, (d) => {
            d.nodes[3].priority = 1;
            d.nodes[4].priority = 2;
        });
        const expected = [
            ["gw-2", 200],
            ["gw-1", 190],
        ];
        for (const config of [flipped, mutate(flipped, (d) => d.nodes.reverse())]) {
            assert.deepEqual(vipOf(planOf(config)).groups[0].members.map((m) => [m.node, m.priority]), expected);
        }
        const far = mutate(PROD, (d) => {
            d.nodes[3].priority = 7;
            d.nodes[4].priority = 93;
            d.nodes[5].gateway = true;
            d.nodes[5].priority = 50;
        });
        assert.deepEqual(vipOf(planOf(far)).groups[0].members.map((m) => m.node), ["gw-2", "web-1", "gw-1"]);
    });

    test("without priorities, the gateway nodes' list order ranks them", () => {
        const unranked = mutate(PROD, (d) => d.nodes.forEach((n) => unset(n, "priority")));
        assert.deepEqual(vipOf(planOf(unranked)).groups[0].members.map((m) => m.node), ["gw-1", "gw-2"]);
        const swapped = mutate(unranked, (d) => d.nodes.splice(3, 2, d.nodes[4], d.nodes[3]));
        assert.deepEqual(vipOf(planOf(swapped)).groups[0].members.map((m) => m.node), ["gw-2", "gw-1"]);
    });

    test("priorities step by 10 for up to 19 gateway nodes, by 1 from 20 on", () => {
        const nineteen = vipOf(planOf(mutate(BASE, (d) => addGateways(d, 17)))).groups[0].members.map((m) => m.priority);
        assert.equal(nineteen.length, 19);
        assert.deepEqual(nineteen.slice(0, 2), [200, 190]);
        assert.equal(nineteen[18], 20);
        const twenty = vipOf(planOf(mutate(BASE, (d) => addGateways(d, 18)))).groups[0].members.map((m) => m.priority);
        assert.equal(twenty.length, 20);
        assert.deepEqual(twenty.slice(0, 2), [200, 199]);
        assert.equal(twenty[19], 181);
        const hundred = vipOf(planOf(mutate(BASE, (d) => addGateways(d, 98)))).groups[0].members.map((m) => m.priority);
        assert.equal(hundred[99], 101);
    });

    test("the nodes running keepalived are every member of any group", () => {
        assert.deepEqual(virtualIpMembersOf(vipOf(dev)), ["gw-1", "gw-2"]);
        const grouped = vipOf(planOf(withGroups(PROD, TWO_GROUPS)));
        assert.deepEqual(virtualIpMembersOf(grouped), ["gw-1", "gw-2"]);
    });

    test("no virtualIp, no VRRP", () => {
        assert.equal(planOf(mutate(DEV, (d) => unset(d, "virtualIp"))).virtualIp, undefined);
    });

    test("adding a second VIP group adds a VRRP group and one DNS record per hostname, and nothing else", () => {
        const two = planOf(
            withGroups(DEV, [
                { name: "vip1", address: "172.28.40.100", virtualRouterId: 51 },
                { name: "vip2", address: "172.28.40.101", virtualRouterId: 52 },
            ]),
        );
        assert.deepEqual(diffPaths(json(devFast), json(two)), ["dns.records", "virtualIp.groups"]);
        assert.deepEqual(json(two.virtualIp?.groups[0]), json(devFast.virtualIp?.groups[0]));
    });
});

describe("VRRP settings", () => {
    test("defaults: VRRPv2 with authentication, unicast, nopreempt, the gateway's health URL", () => {
        const vip = vipOf(dev);
        assert.deepEqual(
            { ...json(vip), groups: undefined },
            {
                profile: "default",
                interface: "eth0",
                prefix: 24,
                version: 2,
                advertInt: 1,
                transport: "unicast",
                preempt: false,
                authentication: true,
                healthCheck: { url: "http://localhost/healthz", socket: "/var/lib/swarm-gateway/health.sock", legacyUrl: "http://127.0.0.1:80/healthz", gatewayStateDir: "/var/lib/swarm-gateway", interval: 1, timeout: 1, fall: 2, rise: 2 },
                scriptUser: "keepalived_script",
                garpMasterDelay: 1,
                groups: undefined,
                drainSeconds: 5,
                paths: { conf: "/etc/keepalived/keepalived.conf", check: "/etc/keepalived/check_gateway.sh", notify: "/etc/keepalived/notify.sh", notifyFifo: "/run/keepalived/notify.fifo", stateDir: "/run/keepalived" },
            },
        );
    });

    test("profile fast: VRRPv3, 0.2 s adverts, no authentication, the check at keepalived's 1 s minimum with rise 1", () => {
        const vip = vipOf(devFast);
        assert.equal(DEV.virtualIp?.profile, "fast", "the dev stack runs the fast profile");
        assert.deepEqual(
            [vip.profile, vip.version, vip.advertInt, vip.authentication, vip.healthCheck.interval, vip.healthCheck.timeout, vip.healthCheck.fall, vip.healthCheck.rise],
            ["fast", 3, 0.2, false, 1, 1, 2, 1],
        );
        assert.equal(vipOf(prod).profile, "default", "prod stays on the default profile");
        assert.deepEqual([vipOf(prod).version, vipOf(prod).advertInt, vipOf(prod).authentication], [2, 1, true]);
    });

    test("keys set explicitly win over the profile's; the rest stays the profile's", () => {
        const vip = vipOf(
            planOf(
                mutate(DEV, (d) => {
                    d.virtualIp.advertInt = 0.5;
                    d.virtualIp.healthCheck = partial({ rise: 3 });
                }),
            ),
        );
        assert.deepEqual([vip.profile, vip.version, vip.advertInt, vip.healthCheck.rise, vip.healthCheck.fall, vip.healthCheck.interval], ["fast", 3, 0.5, 3, 2, 1]);
        const v3 = vipOf(planOf(mutate(BASE, (d) => Object.assign(d.virtualIp, { vrrpVersion: 3, advertInt: 0.1 }))));
        assert.deepEqual([v3.profile, v3.version, v3.advertInt, v3.authentication, v3.healthCheck.rise], ["default", 3, 0.1, false, 2]);
    });

    test("Master_Down = 3 × advert_int + (256 − priority)/256 × advert_int: the profiles' hard-failover floors", () => {
        // The second node (priority 190) is the one that takes over from the preferred node.
        assert.equal(vipOf(dev).groups[0].members[1].priority, 190);
        assert.equal(masterDownSeconds(1, 190), 3 + 66 / 256);
        assert.equal(masterDownSeconds(VRRP_PROFILES.default.advertInt, 190).toFixed(2), "3.26");
        assert.equal(masterDownSeconds(VRRP_PROFILES.fast.advertInt, 190).toFixed(2), "0.65");
        assert.ok(masterDownSeconds(VRRP_PROFILES.fast.advertInt, 190) + 0.3 <= 1, "fast leaves 0.3 s of the 1 s target for the ARP update and the clients");
    });

    test("VRRPv3 has no authentication by default; VRRPv2 can turn it off", () => {
        const v3 = vipOf(planOf(mutate(BASE, (d) => (d.virtualIp.vrrpVersion = 3))));
        assert.equal(v3.version, 3);
        assert.equal(v3.authentication, false);
        assert.equal(vipOf(planOf(mutate(BASE, (d) => (d.virtualIp.authentication = false)))).authentication, false);
    });

    test("a password secret is planned only with authentication; preemptDelay only when given", () => {
        const fixed = vipOf(planOf(mutate(BASE, (d) => (d.virtualIp.passwordSecret = "vrrpPassword"))));
        assert.equal(fixed.passwordSecret, "vrrpPassword");
        assert.equal("passwordSecret" in vipOf(planOf(BASE)), false);
        assert.equal("preemptDelay" in vipOf(planOf(BASE)), false);
        const preempt = vipOf(
            planOf(
                mutate(BASE, (d) => {
                    d.virtualIp.preempt = true;
                    d.virtualIp.preemptDelay = 0;
                }),
            ),
        );
        assert.equal(preempt.preempt, true);
        assert.equal(preempt.preemptDelay, 0);
    });

    test("settings pass through: interface, prefix, transport, script user, GARP delay, health check", () => {
        const vip = vipOf(
            planOf(
                mutate(BASE, (d) => {
                    d.gateway.ports.http = 8080;
                    Object.assign(d.virtualIp, {
                        interface: "ens3",
                        prefix: 25,
                        transport: "multicast",
                        scriptUser: "vrrp",
                        garpMasterDelay: 3,
                        healthCheck: { path: "/ready", interval: 3, timeout: 2, fall: 4, rise: 5 },
                    });
                }),
            ),
        );
        assert.deepEqual(
            [vip.interface, vip.prefix, vip.transport, vip.scriptUser, vip.garpMasterDelay],
            ["ens3", 25, "multicast", "vrrp", 3],
        );
        assert.deepEqual(vip.healthCheck, { url: "http://localhost/ready", socket: "/var/lib/swarm-gateway/health.sock", legacyUrl: "http://127.0.0.1:8080/ready", gatewayStateDir: "/var/lib/swarm-gateway", interval: 3, timeout: 2, fall: 4, rise: 5 });
    });
});

describe("drain time", () => {
    const drainOf = (hc: { fall?: number; interval?: number }, advert: { vrrpVersion?: 2 | 3; advertInt?: number }) =>
        vipOf(
            planOf(
                mutate(BASE, (d) => {
                    d.virtualIp.healthCheck = partial({ ...hc, timeout: 1 });
                    Object.assign(d.virtualIp, advert);
                }),
            ),
        ).drainSeconds;

    test("drainSeconds = ceil(fall × interval + 2 × advertInt + 1)", () => {
        assert.equal(vipOf(dev).drainSeconds, 2 * 1 + 2 * 1 + 1);
        assert.equal(drainOf({ fall: 3, interval: 2 }, { advertInt: 1 }), 3 * 2 + 2 + 1);
        assert.equal(drainOf({ fall: 1, interval: 1 }, { advertInt: 4 }), 1 + 8 + 1);
        assert.equal(drainOf({ fall: 10, interval: 5 }, { advertInt: 2 }), 50 + 4 + 1);
    });

    test("sub-second VRRPv3 adverts round the drain time up to whole seconds", () => {
        assert.equal(drainOf({ fall: 2, interval: 1 }, { vrrpVersion: 3, advertInt: 0.3 }), Math.ceil(2 + 0.6 + 1));
        assert.equal(drainOf({ fall: 2, interval: 1 }, { vrrpVersion: 3, advertInt: 0.3 }), 4);
        assert.equal(drainOf({ fall: 1, interval: 1 }, { vrrpVersion: 3, advertInt: 0.25 }), 3);
        assert.equal(vipOf(devFast).drainSeconds, Math.ceil(2 * 1 + 2 * 0.2 + 1));
    });
});

describe("keepalived.conf", () => {
    test("dev gw-1: one BACKUP instance with its priority, its unicast peer, the password and the VIP", () => {
        assert.equal(
            renderKeepalivedConf(vipOf(dev), "gw-1", { authPass: "s3cret" }),
            [
                "# Generated by swarm-platform for gateway node gw-1: do not edit, it is rewritten on every apply.",
                "# Every node starts as BACKUP; the highest priority wins the election. With nopreempt a recovered node",
                "# does not take the address back (a second interruption), and weight 0 on the check puts the instance in",
                "# FAULT so that the address moves away from a node whose gateway is down or draining.",
                "global_defs {",
                "    router_id gw-1",
                "    enable_script_security",
                "    script_user keepalived_script",
                "    # One reader process records the transitions in their order (a notify script per transition can finish late).",
                "    vrrp_notify_fifo /run/keepalived/notify.fifo",
                '    vrrp_notify_fifo_script "/etc/keepalived/notify.sh"',
                "}",
                "",
                "vrrp_script chk_gateway {",
                '    script "/etc/keepalived/check_gateway.sh"',
                "    interval 1",
                "    timeout 1",
                "    fall 2",
                "    rise 2",
                "    weight 0",
                "}",
                "",
                "vrrp_instance vip1 {",
                "    state BACKUP",
                "    interface eth0",
                "    virtual_router_id 51",
                "    priority 200",
                "    advert_int 1",
                "    nopreempt",
                "    unicast_src_ip 172.28.40.12",
                "    check_unicast_src",
                "    unicast_peer {",
                "        172.28.40.13",
                "    }",
                "    authentication {",
                "        auth_type PASS",
                "        auth_pass s3cret",
                "    }",
                "    virtual_ipaddress {",
                "        172.28.40.100/24 dev eth0",
                "    }",
                "    garp_master_delay 1",
                "    track_script {",
                "        chk_gateway",
                "    }",
                "}",
                "",
            ].join("\n"),
        );
    });

    test("VRRPv3, preempt with a delay, multicast, no authentication: the matching lines only", () => {
        const vip = vipOf(
            planOf(
                mutate(BASE, (d) => {
                    Object.assign(d.virtualIp, { vrrpVersion: 3, advertInt: 0.5, preempt: true, preemptDelay: 30, transport: "multicast", garpMasterDelay: 5 });
                    d.virtualIp.healthCheck = partial({ interval: 2, timeout: 2, fall: 3, rise: 4 });
                }),
            ),
        );
        const conf = renderKeepalivedConf(vip, "gw-2", {});
        for (const line of ["    vrrp_version 3", "    preempt_delay 30", "    advert_int 0.5", "    priority 190", "    garp_master_delay 5", "    interval 2", "    fall 3", "    rise 4"]) {
            assert.ok(conf.split("\n").includes(line), `has ${JSON.stringify(line)}:\n${conf}`);
        }
        const settings = (text: string) => text.split("\n").filter((l) => !l.startsWith("#")).map((l) => l.trim().split(" ")[0]);
        for (const word of ["nopreempt", "unicast_src_ip", "unicast_peer", "authentication", "auth_pass"]) assert.ok(!settings(conf).includes(word), `no ${word}`);
        const noDelay = renderKeepalivedConf(vipOf(planOf(mutate(BASE, (d) => (d.virtualIp.preempt = true)))), "gw-1", { authPass: "x" });
        assert.ok(!settings(noDelay).includes("preempt_delay") && !settings(noDelay).includes("nopreempt"));
        assert.ok(settings(noDelay).includes("unicast_src_ip") && settings(noDelay).includes("auth_pass"));
    });

    test("a single gateway node has no unicast keyword (keepalived -t warns about unicast without a peer)", () => {
        const conf = renderKeepalivedConf(vipOf(planOf(mutate(BASE, (d) => (d.nodes[4].gateway = false)))), "gw-1", { authPass: "x" });
        assert.match(conf, /vrrp_instance vip1 \{/);
        assert.doesNotMatch(conf, /unicast/);
    });

    test("a node in two groups gets one instance per group, each with its own priority", () => {
        const vip = vipOf(planOf(withGroups(PROD, TWO_GROUPS)));
        const conf = renderKeepalivedConf(vip, "gw-2", { authPass: "x" });
        const instances = [...conf.matchAll(/vrrp_instance (\S+) \{[^]*?priority (\d+)[^]*?virtual_ipaddress \{\n\s+(\S+)/g)].map((m) => [m[1], m[2], m[3]]);
        assert.deepEqual(instances, [
            ["vip1", "190", "10.0.10.100/24"],
            ["vip2", "200", "10.0.10.101/24"],
        ]);
    });

    test("refuses a missing, long or keepalived-unsafe password, and a node outside every group", () => {
        const vip = vipOf(dev);
        assert.throws(() => renderKeepalivedConf(vip, "gw-1", {}), /no password was given/);
        assert.throws(() => renderKeepalivedConf(vip, "gw-1", { authPass: "" }), /no password was given/);
        for (const bad of ["123456789", "pass word", 'a"b', "a#b", "a!b", "a\\b", "zażółć"]) {
            assert.throws(() => renderKeepalivedConf(vip, "gw-1", { authPass: bad }), /1-8 printable ASCII characters.*; keepalived would cut it silently$/, bad);
        }
        assert.ok(renderKeepalivedConf(vip, "gw-1", { authPass: "12345678" }).includes("auth_pass 12345678"));
        assert.ok(renderKeepalivedConf(vip, "gw-1", { authPass: "~" }).includes("auth_pass ~"));
        assert.throws(() => renderKeepalivedConf(vip, "worker-1", { authPass: "x" }), /node "worker-1" is in no VRRP group \(members: gw-1, gw-2\)/);
        assert.throws(() => renderKeepalivedConf({ ...vip, groups: [] }, "gw-1", { authPass: "x" }), /is in no VRRP group \(members: none\)/);
        const noAuth = vipOf(planOf(mutate(BASE, (d) => (d.virtualIp.authentication = false))));
        assert.ok(!renderKeepalivedConf(noAuth, "gw-1", { authPass: "ignored" }).includes("auth_pass"));
    });

    test("the check script fails while draining, else asks the gateway's health URL; notify records the state", () => {
        const { check, notify } = renderKeepalivedScripts(vipOf(planOf(mutate(BASE, (d) => (d.virtualIp.healthCheck = partial({ path: "/ready", interval: 3, timeout: 2 }))))));
        assert.ok(check.includes("if [ -e '/var/lib/swarm-gateway/draining' ]; then\n    exit 1\nfi\n"), check);
        assert.ok(check.includes("if [ -S '/var/lib/swarm-gateway/health.sock' ]; then\n    exec curl -fsS --max-time 2 -o /dev/null --unix-socket '/var/lib/swarm-gateway/health.sock' 'http://localhost/ready'\nfi\n"), check);
        // Without the socket (a gateway image from before it, during an upgrade): its HTTP port.
        assert.ok(check.endsWith("exec curl -fsS --max-time 2 -o /dev/null 'http://127.0.0.1:80/ready'\n"), check);
        assert.ok(notify.includes("dir='/run/keepalived'\n"), notify);
        const vip = vipOf(dev);
        assert.throws(() => renderKeepalivedScripts({ ...vip, healthCheck: { ...vip.healthCheck, url: "http://127.0.0.1/'x" } }), /^Error: the health check URL "http:\/\/127.0.0.1\/'x" has characters/);
        assert.throws(() => renderKeepalivedScripts({ ...vip, healthCheck: { ...vip.healthCheck, gatewayStateDir: "/var/lib/a b" } }), /^Error: gateway.stateDir "\/var\/lib\/a b" has characters/);
    });

    test("render writes one keepalived.conf per member (mode 600, placeholder password) and the two scripts", () => {
        const artifacts = virtualIpArtifacts(vipOf(dev));
        assert.deepEqual(
            artifacts.map((a) => [a.path, a.mode]),
            [
                ["nodes/gw-1/keepalived.conf", 0o600],
                ["nodes/gw-2/keepalived.conf", 0o600],
                ["keepalived/check_gateway.sh", 0o755],
                ["keepalived/notify.sh", 0o755],
            ],
        );
        assert.equal(artifacts[0].content, renderKeepalivedConf(vipOf(dev), "gw-1", { authPass: "RENDERED" }));
        assert.equal(artifacts[2].content, renderKeepalivedScripts(vipOf(dev)).check);
        assert.equal(artifacts[3].content, renderKeepalivedScripts(vipOf(dev)).notify);
        assert.deepEqual(virtualIpArtifacts(undefined), []);
        const noAuth = virtualIpArtifacts(vipOf(planOf(mutate(BASE, (d) => (d.virtualIp.authentication = false)))));
        assert.ok(!noAuth[0].content.includes("auth_pass"));
    });
});

type VipConfig = Parameters<typeof virtualIpGroupsOf>[0];

function vipConfig(raw: unknown) {
    const config = validOrThrow(raw);
    assert.ok(config.virtualIp);
    return config.virtualIp;
}

describe("an incomplete virtual IP shorthand", () => {
    test("does not hide the other virtual IP mistakes: every error at once", () => {
        const errors = errorsOf(
            mutate(BASE, (d) => {
                unset(d.virtualIp, "address");
                d.virtualIp.advertInt = 0.5;
            }),
        );
        assert.deepEqual(errors.map((e) => e.path).sort(), ["virtualIp.address", "virtualIp.advertInt"], showErrors(errors));
    });
});
