// Firewall: what may reach each node's own services, from where. Its own concept because its rules are drawn from
// four others (the nodes and their driver, the swarm's ports, the VRRP peers, the gateway's ports): it reads their
// plans, none of them reads it. One iptables chain per node, hooked first in INPUT; traffic Docker forwards to
// containers (published ports) does not pass INPUT and is not filtered here.
import { z } from "zod";
import { cidr, name, port } from "./fields";
import type { PlanDriver, PlanNode } from "./nodes";
import { ipToInt } from "./net";
import type { StackConfig } from "./schema";
import { MANAGER_PORT, type PlanSwarm } from "./swarm";
import { type Artifact, renderTemplate } from "./templates";
import type { Report } from "./validation";
import type { PlanVirtualIp } from "./virtual-ip";

export const FirewallSchema = z
    .strictObject({
        enabled: z
            .boolean()
            .default(true)
            .describe("Apply the node firewall: swarm ports from the nodes only, VRRP from the peers only, the gateway's ports open, the rest of INPUT dropped."),
        sshSources: z
            .array(cidr())
            .default(["0.0.0.0/0"])
            .describe("Driver ssh: networks allowed to reach each node's SSH port (the program's own connection must be among them)."),
        allow: z
            .array(
                z.strictObject({
                    name: name("rule name").describe("What the rule is for (a comment in the rules file)."),
                    protocol: z.enum(["tcp", "udp"]).describe("Protocol."),
                    port: port().describe("Destination port on the node."),
                    sources: z.array(cidr()).min(1, "at least one source network").default(["0.0.0.0/0"]).describe("Networks allowed."),
                }),
            )
            .default([])
            .describe("Further services of the nodes themselves to let in (every node), e.g. a monitoring agent."),
    })
    .prefault({})
    .describe("The node firewall (iptables chain SWARM-PLATFORM-INPUT, hooked first in INPUT on every node).");

/** The chain every node's rules live in. */
export const FIREWALL_CHAIN = "SWARM-PLATFORM-INPUT";

/** Where node-firewall installs the rules and the helper that loads them (the node images' entrypoints call it at start). */
export const FIREWALL_PATHS = {
    rules: "/etc/swarm-platform/firewall.rules",
    apply: "/usr/local/sbin/swarm-platform-firewall",
    unit: "/etc/systemd/system/swarm-platform-firewall.service",
} as const;

/** IP protocol numbers iptables takes without /etc/protocols. */
const PROTOCOL = { tcp: "tcp", udp: "udp", esp: "50", vrrp: "112" } as const;

/** Accepted traffic: one protocol (and port) from a list of sources; "any" when `sources` is empty. */
export interface PlanFirewallRule {
    /** Why it is open (a comment in the rules file). */
    readonly why: string;
    readonly protocol: keyof typeof PROTOCOL;
    readonly port?: number;
    /** Source addresses or networks (CIDR); empty: from anywhere. */
    readonly sources: readonly string[];
}

/** One node's rules: everything not accepted here is dropped. */
export interface PlanFirewallNode {
    readonly node: string;
    readonly rules: readonly PlanFirewallRule[];
}

export interface PlanFirewall {
    readonly enabled: boolean;
    readonly chain: string;
    /** Where the rules, the helper and the systemd unit go on a node. */
    readonly paths: { readonly rules: string; readonly apply: string; readonly unit: string };
    /** Sorted by node name. */
    readonly nodes: readonly PlanFirewallNode[];
}

export function checkFirewall(c: StackConfig, report: Report): void {
    if (!c.firewall.enabled) return;
    const sshNodes = c.nodes.some((n) => (n.driver ?? c.driver) === "ssh");
    if (sshNodes && c.firewall.sshSources.length === 0) {
        report("firewall.sshSources", "is empty: the firewall would lock the program out of every ssh node (list at least the network it connects from)");
    }
}

const hostCidr = (address: string) => `${address}/32`;
const byAddress = (a: string, b: string) => ipToInt(a) - ipToInt(b);

/** Every node's rules, from the nodes, the swarm's ports, the VRRP groups and the driver's engine API. */
export function planFirewall(c: StackConfig, nodes: readonly PlanNode[], swarm: PlanSwarm, driver: PlanDriver, virtualIp?: PlanVirtualIp): PlanFirewall {
    // The swarm's own traffic comes from its nodes' addresses and nowhere else (not the whole subnet: the bridge
    // gateway, other containers and hosts on the same network are outside).
    const swarmSources = nodes.map((n) => n.address).sort(byAddress).map(hostCidr);
    const planned = nodes.map((node): PlanFirewallNode => {
        const rules: PlanFirewallRule[] = [];
        const swarmRule = (why: string, protocol: PlanFirewallRule["protocol"], p?: number) =>
            rules.push({ why, protocol, ...(p !== undefined ? { port: p } : {}), sources: swarmSources });
        if (node.role === "manager") swarmRule("swarm: joins and Raft (managers only)", "tcp", MANAGER_PORT);
        swarmRule("swarm: gossip", "tcp", 7946);
        swarmRule("swarm: gossip", "udp", 7946);
        swarmRule("swarm: overlay data path (VXLAN)", "udp", swarm.dataPathPort);
        swarmRule("swarm: encrypted overlays (IPsec ESP)", "esp");
        const peers = [...new Set((virtualIp?.groups ?? []).flatMap((g) => g.members.filter((m) => m.node === node.name).flatMap((m) => m.peers)))];
        if (peers.length) rules.push({ why: "VRRP from the other members of its groups only", protocol: "vrrp", sources: peers.sort(byAddress).map(hostCidr) });
        for (const p of node.gatewayPorts) rules.push({ why: "gateway", protocol: "tcp", port: p, sources: [] });
        if (driver.name === "docker" && driver.engineApi.node === node.name) {
            rules.push({
                why: "engine API (TLS, client certificate required) from the host's published port only",
                protocol: "tcp",
                port: driver.engineApi.port,
                sources: [hostCidr(driver.engineApi.clientAddress)],
            });
        }
        if (node.ssh) rules.push({ why: "ssh (the program's own connection)", protocol: "tcp", port: node.ssh.port, sources: sourcesOf(c.firewall.sshSources) });
        for (const a of c.firewall.allow) rules.push({ why: `allow: ${a.name}`, protocol: a.protocol, port: a.port, sources: sourcesOf(a.sources) });
        return { node: node.name, rules };
    });
    return {
        enabled: c.firewall.enabled,
        chain: FIREWALL_CHAIN,
        paths: FIREWALL_PATHS,
        nodes: planned.sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0)),
    };
}

/** 0.0.0.0/0 is "anywhere": no -s at all. */
function sourcesOf(list: readonly string[]): string[] {
    return list.includes("0.0.0.0/0") ? [] : [...list];
}

function firewallNodeOf(firewall: PlanFirewall, node: string): PlanFirewallNode {
    const found = firewall.nodes.find((n) => n.node === node);
    if (!found) throw new Error(`firewall: the plan has no node ${node}`);
    return found;
}

/** The node's rules as `iptables-restore --noflush` input: the chain is flushed and refilled in one transaction. */
export function renderFirewallRules(firewall: PlanFirewall, node: string): string {
    const n = firewallNodeOf(firewall, node);
    return renderTemplate("firewall/firewall.rules.mustache", {
        node,
        chain: firewall.chain,
        rules: n.rules.map((r) => ({
            why: r.why,
            lines: (r.sources.length ? r.sources : [undefined]).map((source) => ({
                protocol: PROTOCOL[r.protocol],
                ...(source ? { source } : {}),
                ...(r.port !== undefined ? { port: r.port } : {}),
            })),
        })),
    });
}

/** The helper installed on every node: loads the rules file and hooks the chain first in INPUT (node start and apply). */
export function renderFirewallApply(firewall: PlanFirewall): string {
    return renderTemplate("firewall/swarm-platform-firewall.sh.mustache", { chain: firewall.chain, paths: firewall.paths });
}

/** The systemd unit that re-applies the rules at boot on ssh-driven hosts (node containers use their entrypoint). */
export function renderFirewallUnit(firewall: PlanFirewall): string {
    return renderTemplate("firewall/swarm-platform-firewall.service.mustache", { paths: firewall.paths });
}

/** `npm run render`: every node's rules, the helper and the unit. */
export function firewallArtifacts(firewall: PlanFirewall): Artifact[] {
    if (!firewall.enabled) return [];
    return [
        ...firewall.nodes.map((n) => ({ path: `firewall/${n.node}.rules`, content: renderFirewallRules(firewall, n.node), mode: 0o644 })),
        { path: "firewall/swarm-platform-firewall", content: renderFirewallApply(firewall), mode: 0o755 },
        { path: "firewall/swarm-platform-firewall.service", content: renderFirewallUnit(firewall), mode: 0o644 },
    ];
}
