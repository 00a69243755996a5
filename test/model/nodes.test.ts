// Nodes and drivers: which nodes are valid, and how they appear in the plan (sorted by name, labels, availability,
// the bootstrap manager, gateway ports, SSH connections, the driver and the local engine).
import * as assert from "node:assert/strict";
import { describe, test } from "node:test";
import { BASE, type Draft, diffPaths, errorsOf, invalidConfigs, json, mutate, partial, planOf, stackConfig, TEST_HOST_KEY, unset, useSsh, validConfigs, validOrThrow } from "./fixtures";
import { nodeScriptBody } from "../../model/scripts";
import { gatewaySettleSeconds, gatewayVolumeName, nodeVolumeName, parseSshHostKey, pinnedHostKeyOptions, rolloutOrder, sshDeliveryArgs, sshRemoteDocker } from "../../model/nodes";

const DEV = stackConfig("dev");
const PROD = stackConfig("prod");
const dev = planOf(DEV);
const prod = planOf(PROD);

/** Real public keys made with ssh-keygen for these tests (no machine has them), one per accepted key type. */
const KEYS = {
    ed25519: TEST_HOST_KEY,
    nistp256:
        "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBCGMRrP8J1kmsqxhVC7IqBrVjYBEQU4QsFod8XrlOznAtD/sepRza4sCNDwhiGcNeEoGsfd9w9jPHSskUWVkPQw=",
    nistp384:
        "ecdsa-sha2-nistp384 AAAAE2VjZHNhLXNoYTItbmlzdHAzODQAAAAIbmlzdHAzODQAAABhBCCMRgqZdO9v5rSZ+MPizKzHqK5liMraBT1IghqTXpG+mzpiywbzZRPYpGfe2yn0TB2maoI1dVZl0B5dxl8hYK0qZufuvasaeQ+0g8z1J6/k4x0lWpSSFTB+1MNPY2UEQw==",
    nistp521:
        "ecdsa-sha2-nistp521 AAAAE2VjZHNhLXNoYTItbmlzdHA1MjEAAAAIbmlzdHA1MjEAAACFBACTwav0KMBPeELyjEE9Wr1LKMdduDcNwo8ZuV+qXaDS9QW9rEyTop9zkjHUillcwe9iuKjGVGbbVtpInO389+vlYwE7gmlfGdyYs14+9Xt/n1ZRbeMTkEjsqfPDkvVom35AbMB1QOYgl1usAj/vV4p2JGSYhyStxHzX52N4JobgGruqag==",
    rsa: "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDvdcSsyhi/AtfVqmsMrCXOqQoX4Jt4B4R9OmTnTHDhUDnp2fEDJPu6A70a8i7xE1sdvAho9I1v9G7dxRvHct3iIlYnd+RPhtGHY16lGX9o1ZKJkDpqISrUikhgjCL5xAo4SFzUWvlwoV9OO9GImUTgRy48+XdR5orafHR4Ix/DbUdnBH4WNHEnDyLIxiYp/qSvJ06oZ0jR1mTSuy2HVeq1rvgB7CfV85gcI6nIw9ycpMw5ec7reT3QqCS84vUe+pBxLVYB/3jK+i15YTlSylUNU+9vom+Lmo3uETZ4xyGSMED3D5LfYUM2ndfF7nqmrRmEUE9+IGbY90fr6Pv8MMSx",
} as const;
const ED25519_BODY = KEYS.ed25519.split(" ")[1];

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
            path: "nodes[gw-1].labels.rack",
            words: ["one line"],
        },
        {
            name: "an even number of managers",
            change: (d) => (d.nodes[2].role = "worker"),
            path: "nodes",
            words: ["odd number of managers", "have 2", "manager-1, manager-2"],
        },
        {
            name: "a rebuild of the bootstrap manager",
            change: (d) => ((d.nodes[0] as { generation?: number }).generation = 2),
            path: "nodes[manager-1].generation",
            words: ["bootstrap manager", "holds the swarm's state", "cannot be rebuilt in place"],
        },
        {
            name: "a rebuild of an ssh node",
            change: (d) => {
                useSsh(d);
                (d.nodes[3] as { generation?: number }).generation = 2;
            },
            path: "nodes[gw-1].generation",
            words: ['only for driver "docker"', "removing it from nodes"],
        },
        {
            name: "a generation of 0",
            change: (d) => ((d.nodes[3] as { generation?: number }).generation = 0),
            path: "nodes[gw-1].generation",
            words: [">=1"],
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
            path: "nodes[worker-1].address",
            words: ["duplicate address 172.28.40.22", "(also nodes[gw-2])"],
        },
        {
            name: "a node in an undeclared zone",
            change: (d) => (d.nodes[3].zone = "dmx"),
            path: "nodes[gw-1].zone",
            words: ['unknown zone "dmx"', "dmz, intra", "networks.zones"],
        },
        {
            name: "a zone name that is not DNS-safe",
            change: (d) => (d.nodes[3].zone = "DMZ"),
            path: "nodes[gw-1].zone",
            words: ["zone must be lower-case letters, digits and '-'"],
        },
        {
            name: "an address that is not IPv4",
            change: (d) => (d.nodes[5].address = "172.28.40.310"),
            path: "nodes[worker-1].address",
            words: ["must be an IPv4 address"],
        },
        {
            name: "the reserved label key zone",
            change: (d) => (d.nodes[5].labels = { zone: "dmz", rack: "a" }),
            path: "nodes[worker-1].labels.zone",
            words: ['"zone" is set from the node\'s zone field'],
        },
        {
            name: "the reserved label key gateway",
            change: (d) => (d.nodes[5].labels = { gateway: "true" }),
            path: "nodes[worker-1].labels.gateway",
            words: ['"gateway" is set from the node\'s gateway field'],
        },
        {
            name: "every gateway node drained or paused",
            change: (d) => {
                d.nodes[3].availability = "drain";
                d.nodes[4].availability = "pause";
            },
            path: "nodes[gw-1].availability",
            words: ["every gateway node is drained or paused", '"gw-1" is drain', "keep at least one active"],
            // and shop's zone (dmz) has no active node left
            count: 2,
        },
        {
            name: "an ssh block on a docker node",
            change: (d) => (d.nodes[5].ssh = partial({ user: "deploy" })),
            path: "nodes[worker-1].ssh",
            words: ['only for driver "ssh"', 'uses driver "docker"'],
        },
        {
            name: "mixed drivers",
            change: (d) => useSsh(d, 5),
            path: "nodes[worker-1].driver",
            words: ["one driver", 'stack driver is "docker"', 'this node "ssh"'],
        },
        {
            name: "every node overriding the stack driver",
            change: (d) => d.nodes.forEach((_, i) => useSsh(d, i)),
            path: "nodes[manager-1].driver",
            words: ["one driver", 'stack driver is "docker"'],
        },
        {
            name: "a docker node outside the bridge subnet",
            change: (d) => (d.nodes[5].address = "172.28.41.31"),
            path: "nodes[worker-1].address",
            words: ["172.28.41.31 is outside the docker driver network 172.28.40.0/24", "drivers.docker.network.subnet"],
        },
        {
            name: "a docker node on the bridge gateway address",
            change: (d) => (d.nodes[5].address = "172.28.40.1"),
            path: "nodes[worker-1].address",
            words: ["172.28.40.1 is reserved in 172.28.40.0/24", "bridge gateway"],
        },
        {
            name: "a docker node on the bridge's broadcast address",
            change: (d) => (d.nodes[5].address = "172.28.40.255"),
            path: "nodes[worker-1].address",
            words: ["172.28.40.255 is reserved", "broadcast"],
        },
        {
            name: "an ssh node inside an overlay address pool",
            change: (d) => {
                useSsh(d);
                d.nodes[5].address = "10.208.3.7";
            },
            path: "nodes[worker-1].address",
            words: ["10.208.3.7 lies inside 10.208.0.0/16", "swarm.defaultAddrPool[0]"],
        },

        {
            name: "bootstrap on a worker",
            change: (d) => (d.nodes[5].bootstrap = true),
            path: "nodes[worker-1].bootstrap",
            words: ["only a manager can create the swarm", '"worker-1" is a worker'],
        },
        {
            name: "two bootstrap managers",
            change: (d) => {
                d.nodes[0].bootstrap = true;
                d.nodes[2].bootstrap = true;
            },
            path: "nodes[manager-3].bootstrap",
            words: ["only one node creates the swarm", "also nodes[manager-1]"],
        },
        {
            name: "three bootstrap managers: each one after the first is an error",
            change: (d) => d.nodes.slice(0, 3).forEach((n) => (n.bootstrap = true)),
            path: "nodes[manager-3].bootstrap",
            words: ["only one node creates the swarm", "also nodes[manager-1]"],
            count: 2,
        },
        {
            name: "bootstrap that is not a boolean",
            change: (d) => Object.assign(d.nodes[0], { bootstrap: "yes" }),
            path: "nodes[manager-1].bootstrap",
            words: ["must be a boolean (got a string)"],
        },
        {
            name: "a priority on a node that is not a gateway",
            change: (d) => (d.nodes[5].priority = 5),
            path: "nodes[worker-1].priority",
            words: ["only gateway nodes hold the virtual IP", '"worker-1" has gateway: false'],
        },
        {
            name: "a priority on some gateway nodes but not all",
            change: (d) => (d.nodes[3].priority = 10),
            path: "nodes[gw-2].priority",
            words: ["set priority on every gateway node or on none", '"gw-2" has none'],
        },
        {
            name: "two gateway nodes with one priority",
            change: (d) => {
                d.nodes[3].priority = 10;
                d.nodes[4].priority = 10;
            },
            path: "nodes[gw-2].priority",
            words: ["priority 10 is also nodes[gw-1]'s", "distinct"],
        },
        {
            name: "a priority of 0",
            change: (d) => {
                d.nodes[3].priority = 0;
                d.nodes[4].priority = 1;
            },
            path: "nodes[gw-1].priority",
            words: [">=1"],
        },
        {
            name: "a priority above 100",
            change: (d) => {
                d.nodes[3].priority = 101;
                d.nodes[4].priority = 1;
            },
            path: "nodes[gw-1].priority",
            words: ["<=100"],
        },
        {
            name: "a fractional priority",
            change: (d) => {
                d.nodes[3].priority = 1.5;
                d.nodes[4].priority = 1;
            },
            path: "nodes[gw-1].priority",
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
            path: "nodes[worker-1].availability",
            words: ['must be one of "active", "pause", "drain"'],
        },
        {
            name: "a gateway manager drained by swarm.managerAvailability, the other gateway nodes drained",
            change: (d) => {
                d.swarm.managerAvailability = "drain";
                d.nodes[0].gateway = true;
                d.nodes[3].availability = "drain";
                d.nodes[4].availability = "drain";
            },
            path: "nodes[manager-1].availability",
            words: ["every gateway node is drained or paused", '"manager-1" is drain'],
            count: 2,
        },
        {
            name: "an ssh node on the address of a zone's overlay subnet",
            change: (d) => {
                useSsh(d);
                d.nodes[5].address = "10.209.2.7";
            },
            path: "nodes[worker-1].address",
            words: ["10.209.2.7 lies inside 10.209.2.0/24 (networks.zones.intra.subnet)", "must not overlap"],
        },
        {
            name: "a docker node on the bridge's network address",
            change: (d) => (d.nodes[5].address = "172.28.40.0"),
            path: "nodes[worker-1].address",
            words: ["172.28.40.0 is reserved in 172.28.40.0/24"],
        },
        {
            name: "a docker node on an explicit bridge gateway address",
            change: (d) => {
                d.drivers.docker.network.gateway = "172.28.40.254";
                d.nodes[5].address = "172.28.40.254";
            },
            path: "nodes[worker-1].address",
            words: ["172.28.40.254 is reserved in 172.28.40.0/24"],
        },
        {
            name: "an upper-case ssh user override on a node",
            change: (d) => {
                useSsh(d);
                d.nodes[5].ssh = partial({ user: "Deploy" });
            },
            path: "nodes[worker-1].ssh.user",
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
            path: "nodes[worker-1].address",
            words: ["10.208.3.7 is outside the docker driver network 172.28.40.0/24"],
        },
        {
            name: "mixed drivers with a zone overlay on the bridge subnet: the overlap is still reported",
            change: (d) => {
                useSsh(d, 5);
                d.networks.zones.intra = partial({ subnet: "172.28.40.128/25" });
            },
            path: "nodes[worker-1].driver",
            words: ["one driver"],
            count: 2,
        },
        {
            name: "an ssh node without a pinned host key",
            change: (d) => {
                useSsh(d);
                unset(d.nodes[3], "hostKey");
            },
            path: "nodes[gw-1].hostKey",
            words: ['node "gw-1" uses driver ssh and needs its pinned host key', "ssh-keyscan -t ed25519 172.28.40.21", "verified out of band"],
        },
        {
            name: "an ssh node without a host key, reached through an ssh host override",
            change: (d) => {
                useSsh(d);
                unset(d.nodes[5], "hostKey");
                d.nodes[5].ssh = partial({ host: "worker-1.lan" });
            },
            path: "nodes[worker-1].hostKey",
            words: ["ssh-keyscan -t ed25519 worker-1.lan"],
        },
        {
            name: "a host key on a docker node",
            change: (d) => (d.nodes[5].hostKey = KEYS.ed25519),
            path: "nodes[worker-1].hostKey",
            words: ['only for driver "ssh"'],
        },
        {
            name: "a host key pasted with ssh-keyscan's host name in front",
            change: (d) => {
                useSsh(d);
                d.nodes[3].hostKey = `172.28.40.21 ${KEYS.ed25519}`;
            },
            path: "nodes[gw-1].hostKey",
            words: ["one line `<type> <base64>`", "without the host name or a comment"],
        },
        {
            name: "a host key with a comment after it",
            change: (d) => {
                useSsh(d);
                d.nodes[3].hostKey = `${KEYS.ed25519} root@gw-1`;
            },
            path: "nodes[gw-1].hostKey",
            words: ["one line `<type> <base64>`"],
        },
        {
            name: "a host key with a second line (a known_hosts line smuggled in)",
            change: (d) => {
                useSsh(d);
                d.nodes[3].hostKey = `${KEYS.ed25519}\n* ${KEYS.rsa}`;
            },
            path: "nodes[gw-1].hostKey",
            words: ["one line"],
        },
        {
            name: "a host key of an unknown type",
            change: (d) => {
                useSsh(d);
                d.nodes[3].hostKey = `ssh-dss ${ED25519_BODY}`;
            },
            path: "nodes[gw-1].hostKey",
            words: ['unknown key type "ssh-dss"', "ssh-ed25519, ecdsa-sha2-nistp256"],
        },
        {
            name: "a host key whose body is not base64",
            change: (d) => {
                useSsh(d);
                d.nodes[3].hostKey = "ssh-ed25519 AAAA$(id)";
            },
            path: "nodes[gw-1].hostKey",
            words: ["is not base64"],
        },
        {
            name: "a host key declared ssh-rsa with an ed25519 body",
            change: (d) => {
                useSsh(d);
                d.nodes[3].hostKey = `ssh-rsa ${ED25519_BODY}`;
            },
            path: "nodes[gw-1].hostKey",
            words: ['declared as ssh-rsa, but the key inside is "ssh-ed25519"'],
        },
        {
            name: "a truncated host key",
            change: (d) => {
                useSsh(d);
                d.nodes[3].hostKey = `ssh-ed25519 ${Buffer.from(ED25519_BODY, "base64").subarray(0, 40).toString("base64")}`;
            },
            path: "nodes[gw-1].hostKey",
            words: ["is not an SSH public key"],
        },
        {
            name: "an ssh host override that starts with a dash (an ssh option)",
            change: (d) => {
                useSsh(d);
                d.nodes[3].ssh = partial({ host: "-oProxyCommand=touch" });
            },
            path: "nodes[gw-1].ssh.host",
            words: ["a host name or IPv4 address"],
        },
        {
            name: "an ssh host override with shell syntax",
            change: (d) => {
                useSsh(d);
                d.nodes[3].ssh = partial({ host: "gw-1;touch /tmp/pwned" });
            },
            path: "nodes[gw-1].ssh.host",
            words: ["a host name or IPv4 address"],
        },
        {
            name: "an ssh option that would turn host key checking off",
            change: (d) => {
                useSsh(d);
                d.drivers.ssh.sshOpts = ["-o", "StrictHostKeyChecking=no"];
            },
            path: "drivers.ssh.sshOpts[1]",
            words: ['"StrictHostKeyChecking=no" would change host key checking', "nodes[].hostKey"],
        },
        {
            name: "an ssh option naming another known_hosts file",
            change: (d) => {
                useSsh(d);
                d.drivers.ssh.sshOpts = ["-oUserKnownHostsFile=/tmp/known_hosts"];
            },
            path: "drivers.ssh.sshOpts[0]",
            words: ["would change host key checking"],
        },
        { name: "a security option with a blank", change: (d) => (d.drivers.docker.securityOpts = ["no new privileges"]), path: "drivers.docker.securityOpts[0]", words: ["--security-opt"] },
    ],
    44,
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
            useSsh(d);
            d.nodes[5].address = "10.207.255.255";
        },
    },
    {
        name: "ssh nodes pinned with every accepted key type",
        change: (d) => {
            useSsh(d);
            [KEYS.ed25519, KEYS.nistp256, KEYS.nistp384, KEYS.nistp521, KEYS.rsa, KEYS.rsa.replace("ssh-rsa", "rsa-sha2-512")].forEach((k, i) => (d.nodes[i].hostKey = k));
        },
    },
    {
        name: "ssh options that do not touch host key checking",
        change: (d) => {
            useSsh(d);
            d.drivers.ssh.sshOpts = ["-o", "ConnectTimeout=10", "-o", "ServerAliveInterval=5"];
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

    test("a gateway node drained for maintenance is planned drained while another gateway node stays active", () => {
        const plan = planOf(mutate(PROD, (d) => (d.nodes[3].availability = "drain")));
        const gateways = plan.nodes.filter((n) => n.gateway).map((n) => `${n.name} ${n.availability}`);
        assert.deepEqual(gateways, ["gw-1 drain", "gw-2 active"]);
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
        const ssh = (name: string) => {
            const s = plan.nodes.find((n) => n.name === name)?.ssh;
            return s && { host: s.host, user: s.user, port: s.port };
        };
        assert.deepEqual(ssh("web-1"), { host: "web-1.lan", user: "deploy", port: 2222 });
        assert.deepEqual(ssh("app-1"), { host: "10.0.10.41", user: "ops", port: 22022 });
        assert.deepEqual(ssh("app-2"), { host: "10.0.10.42", user: "deploy", port: 2222 });
    });
});

describe("pinned SSH host keys", () => {
    test("each ssh node carries its own key from the stack file (prod), as `<type> <base64>`", () => {
        const keys = new Map(PROD.nodes.map((n) => [n.name, n.hostKey]));
        for (const n of prod.nodes) assert.equal(n.ssh?.hostKey, keys.get(n.name), n.name);
        assert.equal(new Set(prod.nodes.map((n) => n.ssh?.hostKey)).size, prod.nodes.length, "one key per machine");
    });

    test("every accepted type parses; rsa-sha2-* is the same ssh-rsa key and is pinned as ssh-rsa", () => {
        for (const key of Object.values(KEYS)) assert.deepEqual(parseSshHostKey(key), { key });
        const body = KEYS.rsa.split(" ")[1];
        assert.deepEqual(parseSshHostKey(`rsa-sha2-256 ${body}`), { key: KEYS.rsa });
        assert.deepEqual(parseSshHostKey(`rsa-sha2-512 ${body}`), { key: KEYS.rsa });
    });

    test("a key whose body does not match its declared type or curve is refused", () => {
        const p384 = KEYS.nistp384.split(" ")[1];
        assert.match(String((parseSshHostKey(`ecdsa-sha2-nistp256 ${p384}`) as { error: string }).error), /declared as ecdsa-sha2-nistp256, but the key inside is "ecdsa-sha2-nistp384"/);
        // An ecdsa-sha2-nistp256 body naming another curve inside: type string, then curve "nistp384", then the point.
        const strings = (...parts: Buffer[]) => Buffer.concat(parts.flatMap((b) => [Buffer.from([0, 0, 0, b.length]), b]));
        const forged = strings(Buffer.from("ecdsa-sha2-nistp256"), Buffer.from("nistp384"), Buffer.alloc(65, 4)).toString("base64");
        assert.match(String((parseSshHostKey(`ecdsa-sha2-nistp256 ${forged}`) as { error: string }).error), /curve is "nistp384"/);
        const shortEd = strings(Buffer.from("ssh-ed25519"), Buffer.alloc(31, 1)).toString("base64");
        assert.match(String((parseSshHostKey(`ssh-ed25519 ${shortEd}`) as { error: string }).error), /31 bytes, not 32/);
        const extra = strings(Buffer.from("ssh-ed25519"), Buffer.alloc(32, 1), Buffer.from("x")).toString("base64");
        assert.match(String((parseSshHostKey(`ssh-ed25519 ${extra}`) as { error: string }).error), /malformed \(2 fields, expected 1\)/);
        assert.match(String((parseSshHostKey(`${KEYS.ed25519}\r`) as { error: string }).error), /one line/);
        assert.match(String((parseSshHostKey(`ssh-ed25519  ${ED25519_BODY}`) as { error: string }).error), /one line/);
    });

    test("every error names the node's key path, and one error per node", () => {
        const errors = errorsOf(mutate(BASE, (d) => (d.driver = "ssh")));
        assert.deepEqual(errors.map((e) => e.path), BASE.nodes.map((n) => `nodes[${n.name}].hostKey`));
    });

    test("the local ssh trusts only the pinned key, and those options come before drivers.ssh.sshOpts (ssh keeps the first value)", () => {
        const plan = planOf(mutate(PROD, (d) => (d.drivers.ssh.sshOpts = ["-o", "ConnectTimeout=10"])));
        const gw1 = plan.nodes.find((n) => n.name === "gw-1")?.ssh;
        assert.ok(gw1);
        assert.deepEqual(gw1.clientOptions, [...pinnedHostKeyOptions("10.0.10.21", 22, gw1.hostKey), "-o", "BatchMode=yes", "-o", "ConnectTimeout=10"]);
        assert.deepEqual(pinnedHostKeyOptions("10.0.10.21", 22, KEYS.ed25519), [
            "-o", "StrictHostKeyChecking=yes",
            "-o", "UserKnownHostsFile=/dev/null",
            "-o", "GlobalKnownHostsFile=/dev/null",
            "-o", "UpdateHostKeys=no",
            "-o", `KnownHostsCommand=/bin/echo 10.0.10.21 ${KEYS.ed25519}`,
        ]);
        assert.equal(pinnedHostKeyOptions("gw-1.lan", 2222, KEYS.ed25519)[9], `KnownHostsCommand=/bin/echo [gw-1.lan]:2222 ${KEYS.ed25519}`, "known_hosts form for another port");
    });

    test("an image delivery puts no stack value into the bash script: host, user, port and key travel as separate ssh arguments", () => {
        const plan = planOf(mutate(PROD, (d) => (d.nodes[3].ssh = partial({ host: "gw-1.lan", port: 2222, user: "ops" }))));
        const gw1 = plan.nodes.find((n) => n.name === "gw-1")?.ssh;
        assert.ok(gw1);
        const script = nodeScriptBody("image-deliver");
        for (const value of ["gw-1.lan", "2222", "ops", ED25519_BODY, "10.0.10"]) assert.ok(!script.includes(value), value);
        const args = sshDeliveryArgs(gw1);
        assert.deepEqual(args.slice(0, gw1.clientOptions.length), [...gw1.clientOptions]);
        assert.deepEqual(args.slice(gw1.clientOptions.length), ["-p", "2222", "-l", "ops", "--", "gw-1.lan"]);
        assert.equal(sshRemoteDocker(true), "sudo -n docker");
        assert.equal(sshRemoteDocker(false), "docker");
        assert.ok(args.every((a) => !a.includes("\n")), "one argument per line in SSH_ARGS");
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

    test("a node's generation is 1 by default; bumping one changes only that node's generation", () => {
        assert.deepEqual([...new Set(dev.nodes.map((n) => n.generation))], [1]);
        const rebuilt = planOf(mutate(DEV, (d) => ((d.nodes[3] as { generation?: number }).generation = 3)));
        assert.deepEqual(diffPaths(json(dev), json(rebuilt)), ["nodes[3].generation"]);
    });

    test("a rebuilt node gets a new data volume; a first-generation node keeps the name it always had", () => {
        const gw2 = dev.nodes.find((n) => n.name === "gw-2")!;
        assert.equal(nodeVolumeName("swarm-platform-dev", gw2), "swarm-platform-dev-gw-2-docker");
        assert.equal(nodeVolumeName("swarm-platform-dev", { ...gw2, generation: 2 }), "swarm-platform-dev-gw-2-docker-g2");
        assert.equal(gatewayVolumeName("swarm-platform-dev", gw2, "routes"), "swarm-platform-dev-gw-2-gateway-routes");
        assert.equal(gatewayVolumeName("swarm-platform-dev", { ...gw2, generation: 3 }, "state"), "swarm-platform-dev-gw-2-gateway-state-g3");
    });

    test("the rollout order is the bootstrap manager, the other managers, then the workers, each by name: the order the swarm joins them", () => {
        assert.deepEqual(rolloutOrder(dev.nodes), ["manager-1", "gw-1", "gw-2", "worker-1"]);
        assert.deepEqual(rolloutOrder(prod.nodes).slice(0, 3), ["manager-1", "manager-2", "manager-3"]);
        assert.deepEqual(rolloutOrder(planOf(mutate(PROD, (d) => d.nodes.reverse())).nodes), rolloutOrder(prod.nodes));
    });

    test("a rebuilt gateway node waits for keepalived's check to pass rise times, then one advert", () => {
        assert.equal(gatewaySettleSeconds(planOf(mutate(DEV, (d) => (d.virtualIp.profile = "default"))).virtualIp), 3); // rise 2 × interval 1 s + advert 1 s
        assert.equal(gatewaySettleSeconds(dev.virtualIp), 2); // dev's fast profile: rise 1 × interval 1 s + advert 0.2 s
        assert.equal(gatewaySettleSeconds({ advertInt: 0.5, healthCheck: { ...dev.virtualIp!.healthCheck, rise: 3, interval: 2 } }), 7);
        assert.equal(gatewaySettleSeconds(undefined), 0);
    });

    test("draining a worker changes only its availability", () => {
        const drained = planOf(mutate(DEV, (d) => (d.nodes[3].availability = "drain")));
        assert.deepEqual(diffPaths(json(dev), json(drained)), ["nodes[3].availability"]);
    });
});
