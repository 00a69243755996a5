// Swarm: init on the bootstrap manager, managers joining one at a time, workers in parallel, swarm-wide settings.
import { z } from "zod";
import { cidr, interfaceName, port } from "./fields";
import type { PlanNode } from "./nodes";
import { compare } from "./order";
import { parseCidr } from "./net";
import type { StackConfig } from "./schema";
import type { Report } from "./validation";

export const SwarmSchema = z
    .strictObject({
        advertiseInterface: interfaceName()
            .optional()
            .describe("Interface used for --advertise-addr/--data-path-addr; defaults to each node's `address`."),
        defaultAddrPool: z
            .array(cidr())
            .default(["10.20.0.0/16"])
            .describe("Pools overlay subnets are allocated from (`--default-addr-pool`); must not overlap the LAN."),
        defaultAddrPoolMaskLength: z
            .number()
            .int()
            .min(16)
            .max(28)
            .default(24)
            .describe("Prefix length of each overlay subnet allocated from the pools; at least each pool's own prefix."),
        managerAvailability: z.enum(["active", "drain"]).default("active").describe("Availability of managers: `drain` keeps releases off them."),
        autolock: z.boolean().default(false).describe("`--autolock`: a restarted manager needs the unlock key."),
        dataPathPort: port().default(4789).describe("UDP port of the overlay (VXLAN) data path."),
    })
    .prefault({})
    .describe("Swarm-wide settings.");

/** The port managers listen on for joins and Raft. */
export const MANAGER_PORT = 2377;

/** The swarm as the Swarm component creates it. */
export interface PlanSwarm {
    /** Init on `firstManager`, join `managers` one at a time (by name), then `workers` in parallel. */
    readonly bootstrap: { readonly firstManager: string; readonly managers: readonly string[]; readonly workers: readonly string[] };
    /** Where nodes join: the bootstrap manager's address and the manager port. */
    readonly managerAddr: string;
    /** UDP port of the VXLAN data path (fixed at init). */
    readonly dataPathPort: number;
    /** Overlay address pools, sorted (fixed at init). */
    readonly defaultAddrPool: readonly string[];
    /** Prefix length of each overlay subnet (fixed at init). */
    readonly defaultAddrPoolMaskLength: number;
    /** `--autolock`, converged on every run. */
    readonly autolock: boolean;
}

export function checkSwarm(c: StackConfig, report: Report): void {
    c.swarm.defaultAddrPool.forEach((pool, i) => {
        const p = parseCidr(pool);
        if (p && p.prefix > c.swarm.defaultAddrPoolMaskLength) {
            report(`swarm.defaultAddrPoolMaskLength`, `/${c.swarm.defaultAddrPoolMaskLength} is larger than pool swarm.defaultAddrPool[${i}] (${pool})`);
        }
    });
}

export function planSwarm(c: StackConfig, nodes: readonly PlanNode[]): PlanSwarm {
    const first = nodes.find((n) => n.bootstrap);
    if (!first) throw new Error("the plan has no bootstrap manager (validation requires one manager)");
    const names = (role: PlanNode["role"]) => nodes.filter((n) => n.role === role && n !== first).map((n) => n.name).sort(compare);
    return {
        bootstrap: { firstManager: first.name, managers: names("manager"), workers: names("worker") },
        managerAddr: `${first.address}:${MANAGER_PORT}`,
        dataPathPort: c.swarm.dataPathPort,
        defaultAddrPool: [...c.swarm.defaultAddrPool].sort(compare),
        defaultAddrPoolMaskLength: c.swarm.defaultAddrPoolMaskLength,
        autolock: c.swarm.autolock,
    };
}
