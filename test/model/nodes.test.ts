// Nodes and drivers: which nodes are valid, and how they appear in the plan (sorted by name, labels, availability,
// the bootstrap manager, gateway ports, SSH connections, the driver and the local engine).
import * as assert from "node:assert/strict";
import { describe, test } from "node:test";
import { BASE, type Draft, diffPaths, invalidConfigs, json, mutate, partial, planOf, stackConfig, unset, validConfigs, validOrThrow } from "./fixtures";

const DEV = stackConfig("dev");
const PROD = stackConfig("prod");
const dev = planOf(DEV);
const prod = planOf(PROD);

/** 100 gateway workers besides gw-1 and gw-2 would be 102: `n` more gateway nodes in the dmz. */
function addGateways(d: Draft, n: number): void {
    for (let i = 0; i < n; i++) d.nodes.push(partial({ name: `gw-x${i}`, role: "worker", zone: "dmz", address: `172.28.40.${110 + i}`, gateway: true }));
}

invalidConfigs(
    "nodes",
    [
        {
            name: "a node label value spanning two lines",
            change: (d) => (d.nodes[3].labels = { rack: "a\nzone=intra" }),
            path: "nodes[3].labels.rack",
            words: ["one line"],
        },
        {
            name: "an even number of managers",
            change: (d) => (d.nodes[2].role = "worker"),
            path: "nodes",
            words: ["odd number of managers", "have 2", "manager-1, manager-2"],
        },
        {
            name: "no manager at all",
            change: (d) => d.nodes.forEach((n) => (n.role = "worker")),
            path: "nodes",
            words: ["at least one node with role: manager"],
        },
        {
            name: "two nodes with one name",
            change: (d) => (d.nodes[5].name = "gw-1"),
            path: "nodes[5].name",
            words: ['duplicate node name "gw-1"', "nodes[3]"],
        },
        {
            name: "two nodes with one address",
            change: (d) => (d.nodes[5].address = "172.28.40.22"),
            path: "nodes[5].address",
            words: ["duplicate address 172.28.40.22", "nodes[4] gw-2"],
        },
        {
            name: "a node in an undeclared zone",
            change: (d) => (d.nodes[3].zone = "dmx"),
            path: "nodes[3].zone",
            words: ['unknown zone "dmx"', "dmz, intra", "networks.zones"],
        },
        {
            name: "a zone name that is not DNS-safe",
            change: (d) => (d.nodes[3].zone = "DMZ"),
            path: "nodes[3].zone",
            words: ["zone must be lower-case letters, digits and '-'"],
        },
        {
            name: "an address that is not IPv4",
            change: (d) => (d.nodes[5].address = "172.28.40.310"),
            path: "nodes[5].address",
            words: ["must be an IPv4 address"],
        },
        {
            name: "the reserved label key zone",
            change: (d) => (d.nodes[5].labels = { zone: "dmz", rack: "a" }),
            path: "nodes[5].labels.zone",
            words: ['"zone" is set from the node\'s zone field'],
        },
        {
            name: "the reserved label key gateway",
            change: (d) => (d.nodes[5].labels = { gateway: "true" }),
            path: "nodes[5].labels.gateway",
            words: ['"gateway" is set from the node\'s gateway field'],
        },
        {
            name: "a drained gateway node",
            change: (d) => (d.nodes[3].availability = "drain"),
            path: "nodes[3].availability",
            words: ['gateway node "gw-1" must be active', "is drain"],
        },
        {
            name: "an ssh block on a docker node",
            change: (d) => (d.nodes[5].ssh = partial({ user: "deploy" })),
            path: "nodes[5].ssh",
            words: ['only for driver "ssh"', 'uses driver "docker"'],
        },
        {
            name: "mixed drivers",
            change: (d) => (d.nodes[5].driver = "ssh"),
            path: "nodes[5].driver",
            words: ["one driver", 'stack driver is "docker"', 'this node "ssh"'],
        },
        {
            name: "every node overriding the stack driver",
            change: (d) => d.nodes.forEach((n) => (n.driver = "ssh")),
            path: "nodes[0].driver",
            words: ["one driver", 'stack driver is "docker"'],
        },
        {
            name: "a docker node outside the bridge subnet",
            change: (d) => (d.nodes[5].address = "172.28.41.31"),
            path: "nodes[5].address",
            words: ["172.28.41.31 is outside the docker driver network 172.28.40.0/24", "drivers.docker.network.subnet"],
        },
        {
            name: "a docker node on the bridge gateway address",
            change: (d) => (d.nodes[5].address = "172.28.40.1"),
            path: "nodes[5].address",
            words: ["172.28.40.1 is reserved in 172.28.40.0/24", "bridge gateway"],
        },
        {
            name: "a docker node on the bridge's broadcast address",
            change: (d) => (d.nodes[5].address = "172.28.40.255"),
            path: "nodes[5].address",
            words: ["172.28.40.255 is reserved", "broadcast"],
        },
        {
            name: "an ssh node inside an overlay address pool",
            change: (d) => {
                d.driver = "ssh";
                d.nodes[5].address = "10.208.3.7";
            },
            path: "nodes[5].address",
            words: ["10.208.3.7 lies inside 10.208.0.0/16", "swarm.defaultAddrPool[0]"],
        },

        {
            name: "bootstrap on a worker",
            change: (d) => (d.nodes[5].bootstrap = true),
            path: "nodes[5].bootstrap",
            words: ["only a manager can create the swarm", '"worker-1" is a worker'],
        },
        {
            name: "two bootstrap managers",
            change: (d) => {
                d.nodes[0].bootstrap = true;
                d.nodes[2].bootstrap = true;
            },
            path: "nodes[2].bootstrap",
            words: ["only one node creates the swarm", "also nodes[0] manager-1"],
        },
        {
            name: "three bootstrap managers: each one after the first is an error",
            change: (d) => d.nodes.slice(0, 3).forEach((n) => (n.bootstrap = true)),
            path: "nodes[2].bootstrap",
            words: ["only one node creates the swarm", "also nodes[0] manager-1"],
            count: 2,
        },
        {
            name: "bootstrap that is not a boolean",
            change: (d) => Object.assign(d.nodes[0], { bootstrap: "yes" }),
            path: "nodes[0].bootstrap",
            words: ["must be a boolean (got a string)"],
        },
        {
            name: "a priority on a node that is not a gateway",
            change: (d) => (d.nodes[5].priority = 5),
            path: "nodes[5].priority",
            words: ["only gateway nodes hold the virtual IP", '"worker-1" has gateway: false'],
        },
        {
            name: "a priority on some gateway nodes but not all",
            change: (d) => (d.nodes[3].priority = 10),
            path: "nodes[4].priority",
            words: ["set priority on every gateway node or on none", '"gw-2" has none'],
        },
        {
            name: "two gateway nodes with one priority",
            change: (d) => {
                d.nodes[3].priority = 10;
                d.nodes[4].priority = 10;
            },
            path: "nodes[4].priority",
            words: ["priority 10 is also nodes[3] gw-1's", "distinct"],
        },
        {
            name: "a priority of 0",
            change: (d) => {
                d.nodes[3].priority = 0;
                d.nodes[4].priority = 1;
            },
            path: "nodes[3].priority",
            words: [">=1"],
        },
        {
            name: "a priority above 100",
            change: (d) => {
                d.nodes[3].priority = 101;
                d.nodes[4].priority = 1;
            },
            path: "nodes[3].priority",
            words: ["<=100"],
        },
        {
            name: "a fractional priority",
            change: (d) => {
                d.nodes[3].priority = 1.5;
                d.nodes[4].priority = 1;
            },
            path: "nodes[3].priority",
            words: ["must be a whole number (got 1.5)"],
        },
        {
            name: "more than 100 gateway nodes",
            change: (d) => addGateways(d, 99),
            path: "nodes",
            words: ["at most 100 gateway nodes (have 101)", "distinct"],
        },
        {
            name: "a local engine that is not an engine address",
            change: (d) => (d.localEngine = "tcp//127.0.0.1:2375"),
            path: "localEngine",
            words: ["an engine address like unix:///var/run/docker.sock or ssh://user@host"],
        },
        {
            name: "a local engine address with a blank",
            change: (d) => (d.localEngine = "ssh://deploy@build host"),
            path: "localEngine",
            words: ["an engine address like"],
        },
        {
            name: "a local engine with an unsupported scheme",
            change: (d) => (d.localEngine = "http://127.0.0.1:2375"),
            path: "localEngine",
            words: ["an engine address like"],
        },
        {
            name: "no nodes at all",
            change: (d) => (d.nodes = []),
            path: "nodes",
            words: ["at least one node is needed"],
        },
        {
            name: "a per-node availability that is not one of active, pause, drain",
            change: (d) => Object.assign(d.nodes[5], { availability: "paused" }),
            path: "nodes[5].availability",
            words: ['must be one of "active", "pause", "drain"'],
        },
        {
            name: "a paused gateway node",
            change: (d) => (d.nodes[4].availability = "pause"),
            path: "nodes[4].availability",
            words: ['gateway node "gw-2" must be active', "is pause"],
        },
        {
            name: "a gateway manager drained by swarm.managerAvailability",
            change: (d) => {
                d.swarm.managerAvailability = "drain";
                d.nodes[0].gateway = true;
            },
            path: "nodes[0].availability",
            words: ['gateway node "manager-1" must be active', "is drain"],
        },
        {
            name: "an ssh node on the address of a zone's overlay subnet",
            change: (d) => {
                d.driver = "ssh";
                d.nodes[5].address = "10.209.2.7";
            },
            path: "nodes[5].address",
            words: ["10.209.2.7 lies inside 10.209.2.0/24 (networks.zones.intra.subnet)", "must not overlap"],
        },
        {
            name: "a docker node on the bridge's network address",
            change: (d) => (d.nodes[5].address = "172.28.40.0"),
            path: "nodes[5].address",
            words: ["172.28.40.0 is reserved in 172.28.40.0/24"],
        },
        {
            name: "a docker node on an explicit bridge gateway address",
            change: (d) => {
                d.drivers.docker.network.gateway = "172.28.40.254";
                d.nodes[5].address = "172.28.40.254";
            },
            path: "nodes[5].address",
            words: ["172.28.40.254 is reserved in 172.28.40.0/24"],
        },
        {
            name: "an upper-case ssh user override on a node",
            change: (d) => {
                d.driver = "ssh";
                d.nodes[5].ssh = partial({ user: "Deploy" });
            },
            path: "nodes[5].ssh.user",
            words: ["a user name like deploy"],
        },
        {
            name: "a docker network name that is not DNS-safe",
            change: (d) => (d.drivers.docker.network.name = "Swarm_Lab"),
            path: "drivers.docker.network.name",
            words: ["network name must be lower-case letters"],
        },
        {
            name: "a docker node inside the address pool is only outside the bridge (not also inside an overlay)",
            change: (d) => (d.nodes[5].address = "10.208.3.7"),
            path: "nodes[5].address",
            words: ["10.208.3.7 is outside the docker driver network 172.28.40.0/24"],
        },
        {
            name: "mixed drivers with a zone overlay on the bridge subnet: the overlap is still reported",
            change: (d) => {
                d.nodes[5].driver = "ssh";
                d.networks.zones.intra = partial({ subnet: "172.28.40.128/25" });
            },
            path: "nodes[5].driver",
            words: ["one driver"],
            count: 2,
        },
    ],
    43,
);

validConfigs("nodes", [
    { name: "bootstrap on a manager that is not the first", change: (d) => (d.nodes[2].bootstrap = true) },
    { name: "bootstrap: false on a worker", change: (d) => (d.nodes[5].bootstrap = false) },
    { name: "bootstrap: false on every node but one manager", change: (d) => d.nodes.forEach((n, i) => (n.bootstrap = i === 1)) },
    {
        name: "distinct priorities on every gateway node",
        change: (d) => {
            d.nodes[3].priority = 1;
            d.nodes[4].priority = 100;
        },
    },
    { name: "exactly 100 gateway nodes", change: (d) => addGateways(d, 98) },
    { name: "one manager", change: (d) => d.nodes.forEach((n, i) => (n.role = i === 0 ? "manager" : "worker")) },
    { name: "five managers", change: (d) => [3, 5].forEach((i) => (d.nodes[i].role = "manager")) },
    { name: "a node driver equal to the stack driver", change: (d) => d.nodes.forEach((n) => (n.driver = "docker")) },
    { name: "a local engine over TCP", change: (d) => (d.localEngine = "tcp://127.0.0.1:2375") },
    { name: "a local engine over SSH", change: (d) => (d.localEngine = "ssh://deploy@build-1.example:22") },
    { name: "a local engine socket elsewhere", change: (d) => (d.localEngine = "unix:///run/user/1000/docker.sock") },
    { name: "a drained worker that is not a gateway", change: (d) => (d.nodes[5].availability = "drain") },
    { name: "labels that are not reserved", change: (d) => (d.nodes[5].labels = { rack: "a", "zone.old": "x", gateways: "no" }) },
    {
        name: "ssh nodes on the LAN next to the overlay pools",
        change: (d) => {
            d.driver = "ssh";
            d.nodes[5].address = "10.207.255.255";
        },
    },
    {
        name: "a docker node just inside the bridge subnet",
        change: (d) => (d.nodes[5].address = "172.28.40.254"),
    },
]);

describe("planned nodes", () => {
    test("are sorted by name, whatever the order of the stack file", () => {
        assert.deepEqual(
            dev.nodes.map((n) => n.name),
            ["gw-1", "gw-2", "manager-1", "worker-1"],
        );
        const reversed = planOf(mutate(PROD, (d) => d.nodes.reverse()));
        assert.deepEqual(reversed.nodes, prod.nodes);
    });

    test("every node carries its zone label, gateway nodes also gateway=true (dev)", () => {
        assert.deepEqual(
            dev.nodes.map((n) => [n.name, n.labels]),
            [
                ["gw-1", { gateway: "true", zone: "dmz" }],
                ["gw-2", { gateway: "true", zone: "dmz" }],
                ["manager-1", { zone: "intra" }],
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
                ["app-1", "active"],
                ["app-2", "active"],
                ["gw-1", "active"],
                ["gw-2", "active"],
                ["manager-1", "drain"],
                ["manager-2", "drain"],
                ["manager-3", "drain"],
                ["web-1", "active"],
            ],
        );
        assert.ok(dev.nodes.every((n) => n.availability === "active"));
    });

    test("a node's own availability overrides swarm.managerAvailability, for managers and workers", () => {
        const plan = planOf(
            mutate(PROD, (d) => {
                d.nodes[1].availability = "active";
                d.nodes[6].availability = "pause";
            }),
        );
        const availability = (name: string) => plan.nodes.find((n) => n.name === name)?.availability;
        assert.equal(availability("manager-1"), "drain");
        assert.equal(availability("manager-2"), "active");
        assert.equal(availability("app-1"), "pause");
    });

    test("gateway nodes open the gateway's http and https ports, other nodes none", () => {
        const plan = planOf(mutate(BASE, (d) => (d.gateway.ports = { http: 8080, https: 8443 })));
        assert.deepEqual(
            plan.nodes.map((n) => [n.name, n.gateway, n.gatewayPorts]),
            [
                ["gw-1", true, [8080, 8443]],
                ["gw-2", true, [8080, 8443]],
                ["manager-1", false, []],
                ["manager-2", false, []],
                ["manager-3", false, []],
                ["worker-1", false, []],
            ],
        );
        assert.deepEqual(dev.nodes.find((n) => n.name === "gw-1")?.gatewayPorts, [80, 443]);
    });

    test("exactly one node is the bootstrap manager: the one marked bootstrap", () => {
        for (const plan of [dev, prod]) assert.deepEqual(plan.nodes.filter((n) => n.bootstrap).map((n) => n.name), ["manager-1"]);
        const marked = planOf(mutate(BASE, (d) => (d.nodes[2].bootstrap = true)));
        assert.deepEqual(marked.nodes.filter((n) => n.bootstrap).map((n) => [n.name, n.role]), [["manager-3", "manager"]]);
    });

    test("without a bootstrap mark, the first manager in the list bootstraps, even when a worker is listed first", () => {
        const plan = planOf(mutate(BASE, (d) => d.nodes.push(...d.nodes.splice(0, 1))));
        assert.deepEqual(plan.nodes.filter((n) => n.bootstrap).map((n) => n.name), ["manager-2"]);
    });

    test("ssh nodes connect to their address as the driver's user and port (prod); docker nodes have no ssh", () => {
        assert.equal(prod.driver.name, "ssh");
        assert.ok(prod.nodes.every((n) => n.ssh?.host === n.address && n.ssh.user === "deploy" && n.ssh.port === 22));
        assert.equal(dev.driver.name, "docker");
        assert.ok(dev.nodes.every((n) => n.ssh === undefined));
    });

    test("a node's ssh block overrides host, user and port one by one", () => {
        const plan = planOf(
            mutate(PROD, (d) => {
                d.drivers.ssh.port = 2222;
                d.nodes[5].ssh = partial({ host: "web-1.lan" });
                d.nodes[6].ssh = partial({ user: "ops", port: 22022 });
            }),
        );
        const ssh = (name: string) => plan.nodes.find((n) => n.name === name)?.ssh;
        assert.deepEqual(ssh("web-1"), { host: "web-1.lan", user: "deploy", port: 2222 });
        assert.deepEqual(ssh("app-1"), { host: "10.0.10.41", user: "ops", port: 22022 });
        assert.deepEqual(ssh("app-2"), { host: "10.0.10.42", user: "deploy", port: 2222 });
    });
});

describe("planned driver", () => {
    test("docker: the driver settings with their defaults, and the local engine", () => {
        assert.deepEqual(dev.driver, {
            name: "docker",
            localEngine: "unix:///var/run/docker.sock",
            docker: {
                image: "swarm-platform/node:latest",
                build: true,
                network: { name: "swarm-lab", subnet: "172.28.40.0/24" },
                privileged: true,
                capabilities: { add: ["SYS_ADMIN", "NET_ADMIN"], drop: [] },
                securityOpts: [],
                mountCgroup: false,
                managerApiPort: 23750,
                storageDriver: "overlay2",
                engineApiTls: { days: 365, generation: 1 },
            },
            engineApi: {
                node: "manager-1",
                port: 2376,
                hostPort: 23750,
                clientAddress: "172.28.40.1",
                tlsDir: "/etc/swarm-platform/engine-tls",
                serverNames: ["127.0.0.1", "172.28.40.11", "manager-1"],
                days: 365,
                generation: 1,
            },
        });
    });

    test("ssh: the ssh settings only, with their defaults", () => {
        assert.deepEqual(prod.driver, {
            name: "ssh",
            localEngine: "unix:///var/run/docker.sock",
            ssh: { user: "deploy", port: 22, privateKeySecret: "sshPrivateKey", sshOpts: [], sudo: true },
        });
        const defaults = planOf(mutate(PROD, (d) => unset(d, "drivers")));
        assert.deepEqual(defaults.driver, {
            name: "ssh",
            localEngine: "unix:///var/run/docker.sock",
            ssh: { user: "root", port: 22, privateKeySecret: "sshPrivateKey", sshOpts: [], sudo: false },
        });
    });

    test("localEngine defaults to the local socket and is passed through as written", () => {
        assert.equal(validOrThrow(BASE).localEngine, "unix:///var/run/docker.sock");
        const plan = planOf(mutate(BASE, (d) => (d.localEngine = "ssh://builder@10.0.0.5")));
        assert.equal(plan.driver.localEngine, "ssh://builder@10.0.0.5");
    });

    test("draining a worker changes only its availability", () => {
        const drained = planOf(mutate(DEV, (d) => (d.nodes[3].availability = "drain")));
        assert.deepEqual(diffPaths(json(dev), json(drained)), ["nodes[3].availability"]);
    });
});
