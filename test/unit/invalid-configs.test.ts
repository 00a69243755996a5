// Every invalid config is a small mutation of one valid base; each must fail with an error at the exact key path
// whose message names the problem, and (unless `count` says otherwise) with that error only.
import * as assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseStackFile } from "../../stacks/config";
import { ConfigValidationError, parseConfig, validateConfig } from "../../stacks/validate";
import { BASE, type Draft, errorsOf, mutate, partial, showErrors, unset, validOrThrow } from "./fixtures";

interface InvalidCase {
    /** What is wrong, as a person would say it. */
    readonly name: string;
    readonly change: (d: Draft) => void;
    /** The exact key path of the error. */
    readonly path: string;
    /** Words the message must contain. */
    readonly words: readonly string[];
    /** How many errors the whole config yields (default 1: the mutation breaks exactly one rule). */
    readonly count?: number;
}

const TLS = { certificateSecret: "tlsCert", keySecret: "tlsKey" };

const CASES: readonly InvalidCase[] = [
    {
        name: "a wildcard that is not a leading *. label",
        change: (d) => (d.apps[0].releases[0].hostnames = ["*sklep.example"]),
        path: "apps[0].releases[0].hostnames[0]",
        words: ["lower-case DNS name"],
    },
    {
        name: "a health check path with characters that would break the configs",
        change: (d) => (d.virtualIp.healthCheck.path = "/health z;"),
        path: "virtualIp.healthCheck.path",
        words: ["URL path"],
    },
    {
        name: "a node label value spanning two lines",
        change: (d) => (d.nodes[3].labels = { rack: "a\nzone=intra" }),
        path: "nodes[3].labels.rack",
        words: ["one line"],
    },
    // ---- nodes
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

    // ---- virtual IP
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
        words: ["172.28.41.100/24 is not in the subnet of gateway nodes", "gw-1 (172.28.40.21)", "gw-2 (172.28.40.22)"],
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
            unset(d.virtualIp, "address");
            unset(d.virtualIp, "virtualRouterId");
            d.virtualIp.groups = [{ name: "a", address: "172.28.40.100", virtualRouterId: 0 }];
        },
        path: "virtualIp.groups[0].virtualRouterId",
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
            unset(d.virtualIp, "address");
            unset(d.virtualIp, "virtualRouterId");
            d.virtualIp.groups = [
                { name: "a", address: "172.28.40.100", virtualRouterId: 51 },
                { name: "b", address: "172.28.40.101", virtualRouterId: 51 },
            ];
        },
        path: "virtualIp.groups[1].virtualRouterId",
        words: ["VRID 51 is already used by virtualIp.groups[0]"],
    },
    {
        name: "two VRRP groups with one address",
        change: (d) => {
            unset(d.virtualIp, "address");
            unset(d.virtualIp, "virtualRouterId");
            d.virtualIp.groups = partial([
                { address: "172.28.40.100", virtualRouterId: 51 },
                { address: "172.28.40.100", virtualRouterId: 52 },
            ]);
        },
        path: "virtualIp.groups[1].address",
        words: ["address 172.28.40.100 is also virtualIp.groups[0]"],
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
        path: "virtualIp.healthCheck",
        words: ['unknown key "intervall"'],
    },

    // ---- apps and releases
    {
        name: "an app in an undeclared zone",
        change: (d) => (d.apps[1].zone = "intr"),
        path: "apps[1].zone",
        words: ['unknown zone "intr"', "dmz, intra"],
    },
    {
        name: "an app whose zone has no active node (all drained)",
        change: (d) => {
            d.swarm.managerAvailability = "drain";
            d.nodes[5].availability = "drain";
        },
        path: "apps[1].zone",
        words: ['no active node in zone "intra" can run stock', "manager-1 (drain)", "worker-1 (drain)"],
    },
    {
        name: "one hostname on two releases of one app",
        change: (d) => d.apps[0].releases[1].hostnames.push("stary.sklep.example"),
        path: "apps[0].releases[1].hostnames[2]",
        words: ['"stary.sklep.example" is already served by shop release 1.9', "exactly one release"],
    },
    {
        name: "one hostname on releases of two apps",
        change: (d) => (d.apps[1].releases[0].hostnames = ["sklep.example"]),
        path: "apps[1].releases[0].hostnames[0]",
        words: ['"sklep.example" is already served by shop release 2.0'],
    },
    {
        name: "an upper-case hostname",
        change: (d) => (d.apps[1].releases[0].hostnames = ["Stock.example"]),
        path: "apps[1].releases[0].hostnames[0]",
        words: ["lower-case DNS name"],
    },
    {
        name: "a derived service name longer than 63 characters",
        change: (d) => {
            d.apps[1].name = "a-very-long-application-name-that-is-ok";
            d.apps[1].releases[0].name = "2024.06.01-build.123456789-hotfix.1.0.0";
        },
        path: "apps[1].releases[0].name",
        words: ["must be a DNS label", "at most 63 characters", "set service:"],
    },
    {
        name: "an explicit service name longer than 63 characters",
        change: (d) => (d.apps[1].releases[0].service = "s".repeat(64)),
        path: "apps[1].releases[0].service",
        words: ["at most 63 characters"],
    },
    {
        name: "an explicit service name that clashes with another release's",
        change: (d) => (d.apps[1].releases[0].service = "shop-2-0"),
        path: "apps[1].releases[0].service",
        words: ['service name "shop-2-0" is also shop release 2.0'],
    },
    {
        name: "two release names of one app that make one service name",
        change: (d) => d.apps[0].releases.push(partial({ name: "1-9" })),
        path: "apps[0].releases[2].name",
        words: ['service name "shop-1-9" is also shop release 1.9'],
    },
    {
        name: "a service named like the gateway",
        change: (d) => (d.apps[1].releases[0].service = "gateway"),
        path: "apps[1].releases[0].service",
        words: ['service name "gateway" is also the gateway service'],
    },
    {
        name: "two releases of one app with one name",
        change: (d) => (d.apps[0].releases[1].name = "1.9"),
        path: "apps[0].releases[1].name",
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
        path: "apps[1].releases",
        words: ["at least one release"],
    },
    {
        name: "an app port out of range",
        change: (d) => (d.apps[0].port = 0),
        path: "apps[0].port",
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
        path: "apps[0].releases[0].replicas",
        words: ["must be a whole number", "got 1.5"],
    },
    {
        name: "a release env name that is not a shell identifier",
        change: (d) => (d.apps[0].releases[0].env = { "1BAD": "x" }),
        path: "apps[0].releases[0].env.1BAD",
        words: ["shell identifiers"],
    },
    {
        name: "a published port without allowPublishedPorts",
        change: (d) => (d.apps[0].publish = partial([{ target: 8000, published: 8080 }])),
        path: "apps[0].publish[0]",
        words: ["bypass the gateway", "apps[0].allowPublishedPorts: true"],
    },
    {
        name: "an ingress-published port with dnsrr",
        change: (d) => {
            d.apps[0].allowPublishedPorts = true;
            d.apps[0].endpointMode = "dnsrr";
            d.apps[0].publish = partial([{ target: 8000, published: 8080, mode: "ingress" }]);
        },
        path: "apps[0].publish[0].mode",
        words: ["endpointMode: vip", "dnsrr"],
    },
    {
        name: "an app publishing the gateway's port",
        change: (d) => {
            d.apps[1].allowPublishedPorts = true;
            d.apps[1].publish = partial([{ target: 8000, published: 443 }]);
        },
        path: "apps[1].publish[0].published",
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
        path: "apps[1].publish[0].published",
        words: ["port 9000/tcp is already published by apps[0].publish[0]"],
    },
    {
        name: "an update monitor shorter than the healthcheck window",
        change: (d) => (d.apps[0].update.monitor = 10),
        path: "apps[0].update.monitor",
        words: ["10s is shorter than healthcheck startPeriod + interval × retries = 25s"],
    },
    {
        name: "an update monitor of zero",
        change: (d) => (d.apps[0].update.monitor = 0),
        path: "apps[0].update.monitor",
        words: ["0s is shorter than", "25s"],
    },
    {
        name: "a rollback monitor of zero",
        change: (d) => (d.apps[0].rollback = partial({ monitor: 0 })),
        path: "apps[0].rollback.monitor",
        words: ["0s is shorter than", "25s"],
    },
    {
        name: "a typo in a release key",
        change: (d) => Object.assign(d.apps[0].releases[0], { hostname: ["x.example"] }),
        path: "apps[0].releases[0]",
        words: ['unknown key "hostname"'],
    },

    // ---- networks and the swarm
    {
        name: "a zone subnet overlapping the gateway subnet",
        change: (d) => (d.networks.gateway.subnet = "10.209.1.0/25"),
        path: "networks.gateway.subnet",
        words: ["10.209.1.0/25 overlaps 10.209.1.0/24 (networks.zones.dmz.subnet)"],
    },
    {
        name: "an ingress subnet inside the address pool",
        change: (d) => (d.networks.ingress = partial({ subnet: "10.208.5.0/24" })),
        path: "networks.ingress.subnet",
        words: ["10.208.5.0/24 overlaps 10.208.0.0/16 (swarm.defaultAddrPool[0])"],
    },
    {
        name: "a zone subnet overlapping the docker bridge",
        change: (d) => (d.networks.zones.intra = partial({ subnet: "172.28.40.128/25" })),
        path: "networks.zones.intra.subnet",
        words: ["172.28.40.128/25 overlaps 172.28.40.0/24 (drivers.docker.network.subnet)"],
    },
    {
        name: "an ingress gateway outside the ingress subnet",
        change: (d) => (d.networks.ingress = partial({ subnet: "10.210.0.0/24", gateway: "10.211.0.1" })),
        path: "networks.ingress.gateway",
        words: ["10.211.0.1 is outside networks.ingress.subnet 10.210.0.0/24"],
    },
    {
        name: "a bridge gateway outside the bridge subnet",
        change: (d) => (d.drivers.docker.network.gateway = "172.28.41.1"),
        path: "drivers.docker.network.gateway",
        words: ["172.28.41.1 is outside drivers.docker.network.subnet 172.28.40.0/24"],
    },
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
        name: "a CIDR with host bits set",
        change: (d) => (d.networks.zones.dmz = partial({ subnet: "10.209.1.1/24" })),
        path: "networks.zones.dmz.subnet",
        words: ["must be an IPv4 network", "no host bits set"],
    },
    {
        name: 'a network named "ingress"',
        change: (d) => (d.networks.gateway.name = "ingress"),
        path: "networks.gateway.name",
        words: ['"ingress" is reserved'],
    },
    {
        name: "two networks with one name",
        change: (d) => (d.networks.zones.intra = partial({ subnet: "10.209.2.0/24", name: "gateway" })),
        path: "networks.zones.intra.name",
        words: ['network name "gateway" is also used by networks.gateway.name'],
    },

    // ---- gateway
    {
        name: "gateway http and https on one port",
        change: (d) => (d.gateway.ports.https = 80),
        path: "gateway.ports.https",
        words: ["must differ from gateway.ports.http (80)"],
    },
    {
        name: "registry delivery without a registry",
        change: (d) => (d.gateway.delivery = "registry"),
        path: "gateway.registry",
        words: ["is required when gateway.delivery is registry"],
    },
    {
        name: "a registry with load delivery",
        change: (d) => (d.gateway.registry = { server: "registry.example.com", username: "ci", passwordSecret: "registryPassword" }),
        path: "gateway.registry",
        words: ["only used with gateway.delivery: registry"],
    },
    {
        name: "a TLS hostname no release serves",
        change: (d) => (d.gateway.tls = [{ hostnames: ["sklep.example", "other.example"], ...TLS }]),
        path: "gateway.tls[0].hostnames[1]",
        words: ['"other.example" is not served by any release'],
    },
    {
        name: "a hostname with two certificates",
        change: (d) =>
            (d.gateway.tls = [
                { hostnames: ["sklep.example"], ...TLS },
                { hostnames: ["stock.example", "sklep.example"], ...TLS },
            ]),
        path: "gateway.tls[1].hostnames[1]",
        words: ['hostname "sklep.example" has two certificates', "gateway.tls[0].hostnames[0]"],
    },
    {
        name: "a default host no release serves",
        change: (d) => (d.gateway.defaultHost = "www.example"),
        path: "gateway.defaultHost",
        words: ['"www.example" is not served by any release', '"reject"'],
    },
    {
        name: "too few HAProxy server slots",
        change: (d) => {
            d.gateway.engine = "haproxy";
            d.gateway.serverSlots = 2;
        },
        path: "gateway.serverSlots",
        words: ["2 slots cannot hold apps[0].releases[0] (3 tasks during an update)"],
        count: 2, // both shop releases: 2 replicas + 1 surge
    },
    {
        name: "too few HAProxy server slots for an update of all tasks at once",
        change: (d) => {
            d.gateway.engine = "haproxy";
            d.gateway.serverSlots = 5;
            d.apps[0].releases = partial([{ name: "2.0", hostnames: ["sklep.example"], replicas: 3 }]);
            d.apps[0].update.parallelism = 0;
        },
        path: "gateway.serverSlots",
        words: ["5 slots cannot hold apps[0].releases[0] (6 tasks during an update)"],
    },
    {
        name: "server slots with nginx",
        change: (d) => (d.gateway.serverSlots = 10),
        path: "gateway.serverSlots",
        words: ["only applies to engine haproxy"],
    },
    {
        name: "hostnames but no gateway node and no VIP",
        change: (d) => {
            unset(d, "virtualIp");
            d.nodes.forEach((n) => (n.gateway = false));
        },
        path: "nodes",
        words: ["no gateway node", "gateway: true"],
    },
    {
        name: "an unknown top-level key",
        change: (d) => Object.assign(d, { gatway: {} }),
        path: "(root)",
        words: ['unknown key "gatway"'],
    },
];

describe("the base config", () => {
    test("is valid", () => {
        validOrThrow(BASE);
    });
});

describe("each invalid config fails at its key path", () => {
    test(`there are at least 45 distinct cases`, () => {
        assert.ok(CASES.length >= 45, `${CASES.length} cases`);
        assert.equal(new Set(CASES.map((c) => c.name)).size, CASES.length, "case names are unique");
        const configs = CASES.map((c) => JSON.stringify(mutate(BASE, c.change)));
        assert.equal(new Set(configs).size, CASES.length, "no two cases are the same config");
    });

    for (const c of CASES) {
        test(`${c.name} → ${c.path}`, () => {
            const errors = errorsOf(mutate(BASE, c.change));
            const at = errors.filter((e) => e.path === c.path);
            assert.ok(at.length > 0, `no error at ${c.path}; got:\n${showErrors(errors)}`);
            const match = at.find((e) => c.words.every((w) => e.message.includes(w)));
            assert.ok(match, `no error at ${c.path} says ${c.words.map((w) => JSON.stringify(w)).join(" + ")}; got:\n${showErrors(errors)}`);
            assert.equal(errors.length, c.count ?? 1, `expected ${c.count ?? 1} error(s), got:\n${showErrors(errors)}`);
        });
    }
});

describe("near misses stay valid", () => {
    test("53/tcp and 53/udp published by one app are two ports", () => {
        validOrThrow(
            mutate(BASE, (d) => {
                d.apps[1].allowPublishedPorts = true;
                d.apps[1].publish = partial([
                    { target: 53, published: 53, protocol: "tcp" },
                    { target: 53, published: 53, protocol: "udp" },
                ]);
            }),
        );
    });
    test("a zone whose apps have no replicas needs no active node", () => {
        validOrThrow(
            mutate(BASE, (d) => {
                d.nodes[5].availability = "drain";
                d.swarm.managerAvailability = "drain";
                d.apps[1].replicas = 0;
            }),
        );
    });
    test("a node driver equal to the stack driver is fine", () => {
        validOrThrow(mutate(BASE, (d) => d.nodes.forEach((n) => (n.driver = "docker"))));
    });
    test("enough HAProxy server slots", () => {
        validOrThrow(
            mutate(BASE, (d) => {
                d.gateway.engine = "haproxy";
                d.gateway.serverSlots = 3;
            }),
        );
    });
    test("two VRRP groups with distinct VRIDs and addresses", () => {
        validOrThrow(
            mutate(BASE, (d) => {
                unset(d.virtualIp, "address");
                unset(d.virtualIp, "virtualRouterId");
                d.virtualIp.groups = partial([
                    { address: "172.28.40.100", virtualRouterId: 51 },
                    { address: "172.28.40.101", virtualRouterId: 52 },
                ]);
            }),
        );
    });
});

describe("all errors at once", () => {
    const FIVE_MISTAKES = mutate(BASE, (d) => {
        d.nodes[3].zone = "dmx"; // unknown zone
        d.nodes[5].name = "gw-2"; // duplicate node name
        d.virtualIp.advertInt = 0.5; // VRRPv2 whole seconds
        d.apps[1].zone = "intr"; // unknown app zone
        d.gateway.ports.https = 80; // http == https
    });
    const PATHS = ["nodes[3].zone", "nodes[5].name", "virtualIp.advertInt", "apps[1].zone", "gateway.ports.https"];

    test("five independent mistakes yield five errors", () => {
        const errors = errorsOf(FIVE_MISTAKES);
        assert.deepEqual(errors.map((e) => e.path).sort(), [...PATHS].sort(), showErrors(errors));
    });

    test("five shape mistakes yield five errors", () => {
        const errors = errorsOf(
            mutate(BASE, (d) => {
                d.nodes[0].address = "10.0.0";
                Object.assign(d.nodes[1], { role: "leader" });
                d.virtualIp.virtualRouterId = 300;
                d.apps[0].port = 0;
                Object.assign(d.dns, { tll: 60 });
            }),
        );
        assert.deepEqual(
            errors.map((e) => e.path).sort(),
            ["apps[0].port", "dns", "nodes[0].address", "nodes[1].role", "virtualIp.virtualRouterId"],
            showErrors(errors),
        );
    });

    test("parseConfig throws a ConfigValidationError listing every path", () => {
        assert.throws(
            () => parseConfig(FIVE_MISTAKES, "Pulumi.test.yaml"),
            (err: unknown) => {
                assert.ok(err instanceof ConfigValidationError);
                assert.equal(err.errors.length, 5);
                assert.match(err.message, /^Pulumi\.test\.yaml is invalid \(5 errors\)/);
                for (const p of PATHS) assert.ok(err.message.includes(`  - ${p}: `), `message lists ${p}:\n${err.message}`);
                return true;
            },
        );
    });

    test("a missing required key and a wrong type are told apart", () => {
        const errors = errorsOf(
            mutate(BASE, (d) => {
                unset(d.nodes[0], "role");
                Object.assign(d, { apps: "shop" });
            }),
        );
        assert.deepEqual(
            errors.map((e) => `${e.path}: ${e.message}`),
            ["nodes[0].role: is required (one of \"manager\", \"worker\")", "apps: must be an array (got a string)"],
        );
    });

    test("validateConfig of nothing asks for nodes", () => {
        const result = validateConfig(undefined);
        assert.equal(result.ok, false);
        assert.deepEqual(result.ok ? [] : result.errors.map((e) => e.path), ["nodes"]);
    });
});

describe("parseStackFile", () => {
    const FILE = [
        "config:",
        "  swarm-platform:driver: ssh",
        "  swarm-platform:node:",
        "    - { name: m1 }",
        "  swarm-platform:sshPrivateKey:",
        "    secure: AAABAKx0c2VjcmV0",
        "  swarm-platform:tlsSklepCert:",
        "    secure: AAABAGNlcnQ=",
        "  docker:host: unix:///var/run/docker.sock",
        "  aws:region: eu-central-1",
    ].join("\n");

    test("an unknown swarm-platform: key is an error at that key", () => {
        const file = parseStackFile(FILE);
        assert.deepEqual(
            file.errors.map((e) => e.path),
            ["node"],
        );
        assert.match(file.errors[0].message, /unknown config key "swarm-platform:node"/);
        assert.match(file.errors[0].message, /nodes/);
    });

    test("secure: keys are collected as secretKeys, not config", () => {
        const file = parseStackFile(FILE);
        assert.deepEqual([...file.secretKeys], ["sshPrivateKey", "tlsSklepCert"]);
        assert.deepEqual(file.config, { driver: "ssh" });
    });

    test("other namespaces are ignored", () => {
        const file = parseStackFile(FILE);
        assert.ok(!("host" in file.config) && !("region" in file.config));
    });

    test("an empty file is an empty config", () => {
        assert.deepEqual(parseStackFile(""), { config: {}, secretKeys: [], errors: [] });
    });
});
