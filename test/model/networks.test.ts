// Networks: overlay subnets that must not overlap anything, unique network names, and the planned overlays (the
// gateway overlay, one per zone) and the optional custom ingress.
import * as assert from "node:assert/strict";
import { describe, test } from "node:test";
import { firstHost, type LiveNetwork, liveNetworksOf, networksAsPlanned } from "../../model/networks";
import { BASE, invalidConfigs, json, mutate, partial, planOf, stackConfig, useSsh, validConfigs } from "./fixtures";

const DEV = stackConfig("dev");
const dev = planOf(DEV);
const prod = planOf(stackConfig("prod"));

invalidConfigs(
    "networks",
    [
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

        {
            name: "two zone subnets overlapping each other",
            change: (d) => (d.networks.zones.intra = partial({ subnet: "10.209.1.128/25" })),
            path: "networks.zones.intra.subnet",
            words: ["10.209.1.128/25 overlaps 10.209.1.0/24 (networks.zones.dmz.subnet)"],
        },
        {
            name: 'a zone overlay named "ingress"',
            change: (d) => (d.networks.zones.intra = partial({ subnet: "10.209.2.0/24", name: "ingress" })),
            path: "networks.zones.intra.name",
            words: ['"ingress" is reserved for the swarm\'s ingress network'],
        },
        {
            name: "a zone overlay named like another zone's default name",
            change: (d) => (d.networks.zones.intra = partial({ subnet: "10.209.2.0/24", name: "zone-dmz" })),
            path: "networks.zones.intra.name",
            words: ['network name "zone-dmz" is also used by networks.zones.dmz.name'],
        },
        {
            name: "an overlay MTU below 576",
            change: (d) => (d.networks.gateway.mtu = 500),
            path: "networks.gateway.mtu",
            words: [">=576"],
        },
        {
            name: "an ingress MTU above 9000",
            change: (d) => (d.networks.ingress = partial({ subnet: "10.210.0.0/24", mtu: 9001 })),
            path: "networks.ingress.mtu",
            words: ["<=9000"],
        },
        {
            name: "an ingress without a subnet",
            change: (d) => (d.networks.ingress = partial({ encrypted: true })),
            path: "networks.ingress.subnet",
            words: ["is required"],
        },
        {
            name: "a gateway subnet overlapping the address pool",
            change: (d) => (d.networks.gateway.subnet = "10.208.255.0/24"),
            path: "networks.gateway.subnet",
            words: ["10.208.255.0/24 overlaps 10.208.0.0/16 (swarm.defaultAddrPool[0])"],
        },
        {
            name: "a zone overlay name that is not DNS-safe",
            change: (d) => (d.networks.zones.intra = partial({ subnet: "10.209.2.0/24", name: "Zone_Intra" })),
            path: "networks.zones.intra.name",
            words: ["network name must be lower-case letters"],
        },
        {
            name: "a gateway overlay name that is not DNS-safe",
            change: (d) => (d.networks.gateway.name = "Gateway"),
            path: "networks.gateway.name",
            words: ["network name must be lower-case letters"],
        },
        {
            name: "an ssh node inside the gateway overlay's subnet",
            change: (d) => {
                useSsh(d);
                d.nodes[5].address = "10.209.0.7";
            },
            path: "nodes[worker-1].address",
            words: ["10.209.0.7 lies inside 10.209.0.0/24 (networks.gateway.subnet)"],
        },
        {
            name: "an ssh node inside the ingress subnet",
            change: (d) => {
                useSsh(d);
                d.networks.ingress = partial({ subnet: "10.210.0.0/24" });
                d.nodes[5].address = "10.210.0.7";
            },
            path: "nodes[worker-1].address",
            words: ["10.210.0.7 lies inside 10.210.0.0/24 (networks.ingress.subnet)"],
        },
    ],
    19,
);

validConfigs("networks", [
    { name: "an ingress gateway inside the ingress subnet", change: (d) => (d.networks.ingress = partial({ subnet: "10.210.0.0/24", gateway: "10.210.0.1" })) },
    { name: "a bridge gateway inside the bridge subnet", change: (d) => (d.drivers.docker.network.gateway = "172.28.40.254") },
    { name: "adjacent zone subnets", change: (d) => (d.networks.zones.intra = partial({ subnet: "10.209.3.0/24" })) },
    {
        name: "an overlay on the docker bridge's subnet when no node uses the docker driver",
        change: (d) => {
            useSsh(d);
            d.networks.zones.intra = partial({ subnet: "172.28.40.128/25" });
        },
    },
    { name: "overlays without subnets", change: (d) => (d.networks.zones = partial({ dmz: {}, intra: {} })) },
    { name: "an MTU of 576 and of 9000", change: (d) => Object.assign(d.networks, { gateway: { ...d.networks.gateway, mtu: 576 }, zones: { dmz: { mtu: 9000 }, intra: {} } }) },
]);

describe("planned overlays", () => {
    test("dev: the gateway overlay first, then one overlay per zone with its subnet", () => {
        assert.deepEqual(json(dev.networks), {
            overlays: [
                { key: "gateway", name: "gateway", subnet: "10.209.0.0/24", gateway: "10.209.0.1", encrypted: false, attachable: true },
                { key: "zone:dmz", name: "zone-dmz", subnet: "10.209.1.0/24", gateway: "10.209.1.1", encrypted: false, attachable: false, zone: "dmz" },
                { key: "zone:intra", name: "zone-intra", subnet: "10.209.2.0/24", gateway: "10.209.2.1", encrypted: false, attachable: false, zone: "intra" },
            ],
            gateway: "gateway",
        });
        assert.equal(dev.networks.ingress, undefined);
    });

    test("prod: encrypted overlays without fixed subnets and a custom encrypted ingress", () => {
        assert.deepEqual(
            prod.networks.overlays.map((n) => [n.key, n.name, n.subnet, n.encrypted]),
            [
                ["gateway", "gateway", undefined, true],
                ["zone:dmz", "zone-dmz", undefined, true],
                ["zone:intra", "zone-intra", undefined, true],
            ],
        );
        assert.deepEqual(prod.networks.ingress, { name: "ingress", subnet: "10.127.0.0/24", gateway: "10.127.0.1", encrypted: true });
    });

    test("zone overlays are ordered by zone, whatever the order of networks.zones", () => {
        const reordered = planOf(mutate(DEV, (d) => (d.networks.zones = Object.fromEntries(Object.entries(d.networks.zones).reverse()))));
        assert.deepEqual(reordered.networks, dev.networks);
    });

    test("custom names, MTUs and ingress gateway pass through; the gateway overlay's name is the gateway network", () => {
        const plan = planOf(
            mutate(BASE, (d) => {
                d.networks.gateway = partial({ name: "edge", mtu: 1400 });
                d.networks.zones.dmz = partial({ name: "dmz-net", attachable: true, encrypted: true });
                d.networks.ingress = partial({ subnet: "10.210.0.0/24", gateway: "10.210.0.1", mtu: 1450 });
            }),
        );
        assert.deepEqual(json(plan.networks), {
            overlays: [
                { key: "gateway", name: "edge", encrypted: false, attachable: false, mtu: 1400 },
                { key: "zone:dmz", name: "dmz-net", encrypted: true, attachable: true, zone: "dmz" },
                { key: "zone:intra", name: "zone-intra", subnet: "10.209.2.0/24", gateway: "10.209.2.1", encrypted: false, attachable: false, zone: "intra" },
            ],
            gateway: "edge",
            ingress: { name: "ingress", subnet: "10.210.0.0/24", gateway: "10.210.0.1", encrypted: false, mtu: 1450 },
        });
        assert.equal(plan.gateway.network, "edge");
        assert.deepEqual(plan.releases.find((r) => r.service === "shop-2-0")?.networks, ["dmz-net", "edge"]);
    });
});

describe("firstHost", () => {
    test("is the subnet's first address; a non-subnet is refused", () => {
        assert.equal(firstHost("10.209.1.0/24"), "10.209.1.1");
        assert.throws(() => firstHost("10.209.1.1/24"), /^Error: not a subnet: 10.209.1.1\/24$/);
    });
});

describe("networksAsPlanned", () => {
    // dev: gateway 10.209.0.0/24, zone-dmz 10.209.1.0/24, zone-intra 10.209.2.0/24 (fixed subnets)
    const allocated = (name: string, subnet: string, gateway: string, extra: Partial<LiveNetwork> = {}): LiveNetwork => ({ name, driver: "overlay", ingress: false, ipamDriver: "default", ipam: [{ subnet, gateway }], ...extra });
    const asPlannedLive = [allocated("gateway", "10.209.0.0/24", "10.209.0.1"), allocated("zone-dmz", "10.209.1.0/24", "10.209.1.1"), allocated("zone-intra", "10.209.2.0/24", "10.209.2.1")];

    test("names every planned overlay the live swarm has allocated with the planned subnet and gateway", () => {
        assert.deepEqual(networksAsPlanned(dev.networks, asPlannedLive).sort(), ["gateway", "zone-dmz", "zone-intra"]);
        // other live networks (swarm's default ingress) change nothing
        assert.deepEqual(networksAsPlanned(dev.networks, [...asPlannedLive, allocated("ingress", "10.0.0.0/24", "10.0.0.1", { ingress: true })]).sort(), ["gateway", "zone-dmz", "zone-intra"]);
    });

    test("names none that differ from the plan, are not allocated yet, or are unknown: those diff as before", () => {
        const without = (name: string, live: LiveNetwork) => networksAsPlanned(dev.networks, asPlannedLive.map((n) => (n.name === name ? live : n)));
        const others = (name: string) => ["gateway", "zone-dmz", "zone-intra"].filter((n) => n !== name);
        // a planned change of subnet or gateway: the live network is the old one, so it still replaces
        assert.deepEqual(without("zone-intra", allocated("zone-intra", "10.209.9.0/24", "10.209.9.1")), others("zone-intra"));
        assert.deepEqual(without("zone-dmz", allocated("zone-dmz", "10.209.1.0/24", "10.209.1.254")), others("zone-dmz"));
        // not allocated yet (as the provider's early read sees it), another driver or IPAM driver, an ingress
        assert.deepEqual(without("gateway", { name: "gateway", driver: "", ingress: false, ipamDriver: "", ipam: [] }), others("gateway"));
        assert.deepEqual(without("gateway", allocated("gateway", "10.209.0.0/24", "10.209.0.1", { driver: "bridge" })), others("gateway"));
        assert.deepEqual(without("gateway", allocated("gateway", "10.209.0.0/24", "10.209.0.1", { ipamDriver: "other" })), others("gateway"));
        assert.deepEqual(without("gateway", allocated("gateway", "10.209.0.0/24", "10.209.0.1", { ingress: true })), others("gateway"));
        // a second IPAM config
        assert.deepEqual(without("gateway", { ...allocated("gateway", "10.209.0.0/24", "10.209.0.1"), ipam: [{ subnet: "10.209.0.0/24", gateway: "10.209.0.1" }, { subnet: "10.209.8.0/24", gateway: "10.209.8.1" }] }), others("gateway"));
        // missing live, or no live read at all
        assert.deepEqual(networksAsPlanned(dev.networks, asPlannedLive.slice(1)).sort(), ["zone-dmz", "zone-intra"]);
        assert.deepEqual(networksAsPlanned(dev.networks, undefined), []);
        assert.deepEqual(networksAsPlanned(dev.networks, []), []);
    });

    test("a subnet swarm picks matches any allocation; the custom ingress must be live as an ingress with its subnet", () => {
        const plan = planOf(mutate(BASE, (d) => {
            d.networks.zones.dmz = partial({});
            d.networks.ingress = partial({ subnet: "10.210.0.0/24" });
        }));
        const dmz = plan.networks.overlays.find((n) => n.zone === "dmz")!;
        assert.equal(dmz.subnet, undefined);
        const live = [allocated(dmz.name, "10.208.3.0/24", "10.208.3.1"), allocated("ingress", "10.210.0.0/24", "10.210.0.1", { ingress: true })];
        assert.deepEqual(networksAsPlanned(plan.networks, live), [dmz.name, "ingress"]);
        // swarm's default ingress still there (the custom one not created yet): not as planned
        assert.deepEqual(networksAsPlanned(plan.networks, [live[0], allocated("ingress", "10.0.0.0/24", "10.0.0.1", { ingress: true })]), [dmz.name]);
        // a swarm-picked subnet not allocated yet
        assert.deepEqual(networksAsPlanned(plan.networks, [{ name: dmz.name, driver: "overlay", ingress: false, ipamDriver: "default", ipam: [] }]), []);
    });

    test("liveNetworksOf reads docker's inspect shape: no IPAM config (null) and missing fields are empty, sorted by name", () => {
        assert.deepEqual(liveNetworksOf([
            { name: "zone-dmz", driver: "overlay", ingress: false, ipamDriver: "default", ipam: [{ Subnet: "10.209.1.0/24", Gateway: "10.209.1.1" }] },
            { name: "gateway", driver: "", ingress: false, ipamDriver: "", ipam: null },
        ]), [
            { name: "gateway", driver: "", ingress: false, ipamDriver: "", ipam: [] },
            { name: "zone-dmz", driver: "overlay", ingress: false, ipamDriver: "default", ipam: [{ subnet: "10.209.1.0/24", gateway: "10.209.1.1" }] },
        ]);
    });
});
