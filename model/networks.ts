// Networks: one overlay per zone, the gateway overlay, optionally a custom ingress replacing swarm's default.
import { z } from "zod";
import { cidr, ipv4, name } from "./fields";
import { type Cidr, contains, intToIp, overlaps, parseCidr } from "./net";
import { compare } from "./order";
import type { StackConfig } from "./schema";
import type { Report } from "./validation";
import { usesDockerDriver } from "./nodes";

const OverlaySchema = z.strictObject({
    name: name("network name").optional().describe("Overlay network name; default `zone-<zone>`."),
    subnet: cidr().optional().describe("Overlay subnet; default: allocated from `swarm.defaultAddrPool`."),
    encrypted: z.boolean().default(false).describe("Encrypt the overlay's data traffic with IPsec (ESP must pass between nodes)."),
    attachable: z.boolean().default(false).describe("Allow `docker run --network <name>` (debugging)."),
    mtu: z.number().int().min(576).max(9000).optional().describe("MTU of the overlay."),
});

export const NetworksSchema = z
    .strictObject({
        zones: z
            .record(name("zone"), OverlaySchema.prefault({}))
            .default({})
            .describe("One overlay per zone; the zone list of the whole config is the keys of this map."),
        gateway: OverlaySchema.extend({ name: name("network name").default("gateway").describe("Name of the gateway network.") })
            .prefault({})
            .describe("The overlay joining the gateway and every release that has hostnames."),
        ingress: z
            .strictObject({
                subnet: cidr().describe("Subnet of the ingress network."),
                gateway: ipv4().optional().describe("Gateway address of the ingress network, inside `subnet`."),
                encrypted: z.boolean().default(false).describe("Encrypt the ingress network's data traffic."),
                mtu: z.number().int().min(576).max(9000).optional().describe("MTU of the ingress network."),
            })
            .optional()
            .describe("Replaces swarm's default ingress network (routing mesh for ingress-published ports)."),
    })
    .prefault({})
    .describe("Overlay networks: one per zone, the gateway network, optionally a custom ingress.");

/** An overlay network. */
export interface PlanNetwork {
    /** `gateway` or `zone:<zone>`: how releases refer to it. */
    readonly key: string;
    /** The swarm network name. */
    readonly name: string;
    /** The zone it serves (zone overlays only). */
    readonly zone?: string;
    /** Fixed subnet; else allocated from the swarm's pools. */
    readonly subnet?: string;
    /** With a fixed subnet: its gateway, the address docker assigns (the subnet's first host). Sent explicitly:
     *  the provider reads it back and a changed IPAM entry replaces the network. */
    readonly gateway?: string;
    /** IPsec for data traffic. */
    readonly encrypted: boolean;
    /** `docker run --network` allowed. */
    readonly attachable: boolean;
    /** MTU, when not the default. */
    readonly mtu?: number;
}

/** The custom ingress network replacing swarm's default one. */
export interface PlanIngress {
    /** Always `ingress`: swarm has one ingress network. */
    readonly name: "ingress";
    readonly subnet: string;
    /** From config, else the subnet's first host (what docker assigns; see PlanNetwork.gateway). */
    readonly gateway: string;
    readonly encrypted: boolean;
    readonly mtu?: number;
}

/** The networks as the Networks component creates them. */
export interface PlanNetworks {
    /** The gateway overlay first, then one per zone, by zone name. */
    readonly overlays: readonly PlanNetwork[];
    /** The gateway overlay's name. */
    readonly gateway: string;
    readonly ingress?: PlanIngress;
}

export interface NamedSubnet {
    readonly path: string;
    readonly cidr: Cidr;
    readonly text: string;
}

export function zonesOf(c: Pick<StackConfig, "networks">): string[] {
    return Object.keys(c.networks.zones);
}

export function overlayNameOf(c: Pick<StackConfig, "networks">, zone: string): string {
    return c.networks.zones[zone]?.name ?? `zone-${zone}`;
}

/** Every overlay subnet the config fixes or lets swarm allocate from, with its key path. */
export function overlaySubnets(c: StackConfig): NamedSubnet[] {
    const out: NamedSubnet[] = [];
    const add = (path: string, text?: string) => {
        const cidr = text ? parseCidr(text) : undefined;
        if (cidr && text) out.push({ path, cidr, text });
    };
    c.swarm.defaultAddrPool.forEach((p, i) => add(`swarm.defaultAddrPool[${i}]`, p));
    for (const [zone, net] of Object.entries(c.networks.zones)) add(`networks.zones.${zone}.subnet`, net.subnet);
    add("networks.gateway.subnet", c.networks.gateway.subnet);
    add("networks.ingress.subnet", c.networks.ingress?.subnet);
    return out;
}

export function checkNetworks(c: StackConfig, report: Report): void {
    const subnets: NamedSubnet[] = [];
    const add = (path: string, text: string | undefined) => {
        const cidr = text ? parseCidr(text) : undefined;
        if (!cidr || !text) return;
        const clash = subnets.find((s) => overlaps(s.cidr, cidr));
        if (clash) report(path, `${text} overlaps ${clash.text} (${clash.path})`);
        subnets.push({ path, cidr, text });
    };
    if (usesDockerDriver(c)) add("drivers.docker.network.subnet", c.drivers.docker.network.subnet);
    c.swarm.defaultAddrPool.forEach((p, i) => add(`swarm.defaultAddrPool[${i}]`, p));
    for (const [zone, net] of Object.entries(c.networks.zones)) add(`networks.zones.${zone}.subnet`, net.subnet);
    add("networks.gateway.subnet", c.networks.gateway.subnet);
    add("networks.ingress.subnet", c.networks.ingress?.subnet);

    const ingress = c.networks.ingress;
    if (ingress?.gateway) {
        const sub = parseCidr(ingress.subnet);
        if (sub && !contains(sub, ingress.gateway)) report("networks.ingress.gateway", `${ingress.gateway} is outside networks.ingress.subnet ${ingress.subnet}`);
    }
    const dockerGw = c.drivers.docker.network.gateway;
    const dockerNet = parseCidr(c.drivers.docker.network.subnet);
    if (dockerGw && dockerNet && !contains(dockerNet, dockerGw)) {
        report("drivers.docker.network.gateway", `${dockerGw} is outside drivers.docker.network.subnet ${c.drivers.docker.network.subnet}`);
    }

    const names = new Map<string, string>();
    const claim = (path: string, name: string) => {
        const other = names.get(name);
        if (other) report(path, `network name "${name}" is also used by ${other}`);
        else names.set(name, path);
    };
    claim("networks.gateway.name", c.networks.gateway.name);
    for (const zone of zonesOf(c)) claim(`networks.zones.${zone}.name`, overlayNameOf(c, zone));
    if (names.has("ingress")) report(names.get("ingress") ?? "networks", `"ingress" is reserved for the swarm's ingress network`);
}

/** The address docker gives a network's gateway when none is set: the subnet's first host. */
export function firstHost(subnet: string): string {
    const net = parseCidr(subnet);
    if (!net) throw new Error(`not a subnet: ${subnet}`);
    return intToIp(net.network + 1);
}

function overlay(key: string, name: string, net: Omit<StackConfig["networks"]["gateway"], "name">): PlanNetwork {
    return {
        key,
        name,
        ...(net.subnet ? { subnet: net.subnet, gateway: firstHost(net.subnet) } : {}),
        encrypted: net.encrypted,
        attachable: net.attachable,
        ...(net.mtu ? { mtu: net.mtu } : {}),
    };
}

export function planNetworks(c: StackConfig): PlanNetworks {
    const overlays: PlanNetwork[] = [
        overlay("gateway", c.networks.gateway.name, c.networks.gateway),
        ...zonesOf(c)
            .sort(compare)
            .map((zone) => ({ ...overlay(`zone:${zone}`, overlayNameOf(c, zone), c.networks.zones[zone]), zone })),
    ];
    return {
        overlays,
        gateway: c.networks.gateway.name,
        ...(c.networks.ingress
            ? { ingress: { name: "ingress" as const, ...c.networks.ingress, gateway: c.networks.ingress.gateway ?? firstHost(c.networks.ingress.subnet) } }
            : {}),
    };
}

/** One swarm-scoped network as a manager's engine reports it (swarm-managers.sh: `docker network inspect`). */
export interface LiveNetworkReport {
    readonly name: string;
    readonly driver: string;
    readonly ingress: boolean;
    readonly ipamDriver: string;
    readonly ipam: readonly { readonly Subnet?: string; readonly Gateway?: string }[] | null;
}

/** A live swarm network, read before `up`: the fields the docker provider reads back late on a slow manager. */
export interface LiveNetwork {
    readonly name: string;
    /** "" while swarm has not allocated the network yet. */
    readonly driver: string;
    readonly ingress: boolean;
    /** "" while not allocated, else "default" (the program never sets another). */
    readonly ipamDriver: string;
    readonly ipam: readonly { readonly subnet: string; readonly gateway: string }[];
}

export function liveNetworksOf(reports: readonly LiveNetworkReport[]): LiveNetwork[] {
    return reports
        .map((n) => ({
            name: n.name,
            driver: n.driver ?? "",
            ingress: n.ingress === true,
            ipamDriver: n.ipamDriver ?? "",
            ipam: (n.ipam ?? []).map((c) => ({ subnet: c.Subnet ?? "", gateway: c.Gateway ?? "" })),
        }))
        .sort((a, b) => compare(a.name, b.name));
}

/** The state fields a network created on a slow manager may hold empty (see networksAsPlanned). */
export const LATE_NETWORK_FIELDS = ["driver", "ipamDriver", "ipamConfigs"] as const;

/**
 * The planned networks (overlays, custom ingress) that the live swarm already has exactly as planned: an allocated
 * overlay, IPAM by the default driver with the planned subnet and gateway (any one, when swarm picks the subnet),
 * ingress or not as planned.
 *
 * Why: the docker provider reads a network back once, 2 s after creating it. On a slow or loaded manager swarm has
 * not allocated it yet, and the state keeps driver "", IPAM driver "" and no IPAM config (moby's
 * BasicNetworkFromGRPC fills them from the allocation only). Every later `up` would then replace the network,
 * delete first, with its services. For the networks named here the Networks component ignores those fields
 * (LATE_NETWORK_FIELDS): the live network proves they hold what the plan asks. A planned change of subnet, gateway
 * or kind makes the live network differ, so it is not named and still replaces.
 */
export function networksAsPlanned(networks: PlanNetworks, live: readonly LiveNetwork[] | undefined): string[] {
    if (!live) return [];
    const planned: { name: string; subnet?: string; gateway?: string; ingress: boolean }[] = [
        ...networks.overlays.map((n) => ({ name: n.name, subnet: n.subnet, gateway: n.gateway, ingress: false })),
        ...(networks.ingress ? [{ name: networks.ingress.name, subnet: networks.ingress.subnet, gateway: networks.ingress.gateway, ingress: true }] : []),
    ];
    return planned
        .filter((p) => {
            const l = live.find((n) => n.name === p.name);
            if (!l || l.driver !== "overlay" || l.ipamDriver !== "default" || l.ingress !== p.ingress || l.ipam.length === 0) return false;
            if (!p.subnet) return true;
            return l.ipam.length === 1 && l.ipam[0].subnet === p.subnet && (!p.gateway || l.ipam[0].gateway === p.gateway);
        })
        .map((p) => p.name);
}
