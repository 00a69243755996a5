// Swarm: init on the bootstrap manager, managers joining one at a time, workers in parallel, swarm-wide settings.
import { z } from "zod";
import { cidr, interfaceName, port } from "./fields";
import { type LiveNetwork, liveNetworksOf, type LiveNetworkReport } from "./networks";
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

// ---- manager quorum ----------------------------------------------------------------------------------------

/** A manager of the live swarm, as the read before every `up`/`preview` found it. */
export interface LiveManager {
    /** The node name of the stack (by its address), else the swarm's hostname. */
    readonly name: string;
    /** Raft member the leader reaches (Leader or Reachable); false when down, unreachable or locked. */
    readonly reachable: boolean;
}

export type QuorumVerdict =
    | { readonly ok: true; readonly leaving: readonly string[] }
    | {
          readonly ok: false;
          readonly problem: "quorum-lost" | "unsafe-change";
          /** What to tell the user: which managers, why, what to do. */
          readonly message: string;
          readonly unreachable: readonly string[];
          readonly leaving: readonly string[];
      };

/** More than half: the Raft majority of `n` managers. */
export const majority = (n: number) => Math.floor(n / 2) + 1;

/**
 * Would the plan keep the swarm's manager quorum? `live` is the swarm's managers now (empty: no swarm yet),
 * `plannedManagers` the node names the plan makes managers. Every live manager the plan does not keep as a manager
 * (demoted to worker, or removed) leaves the Raft set one at a time; the program does not control their order, so
 * every order must be safe: after each step the reachable managers must still be a majority of the remaining set.
 * The worst order takes the reachable leavers first (each lowers the reachable count, none lowers the set's
 * unreachable part), so checking that order checks them all. Refused: a quorum already lost, or a step without one.
 */
export function checkManagerQuorum(live: readonly LiveManager[], plannedManagers: readonly string[]): QuorumVerdict {
    if (live.length === 0) return { ok: true, leaving: [] };
    const names = (list: readonly LiveManager[]) => list.map((m) => m.name).sort(compare);
    const unreachable = names(live.filter((m) => !m.reachable));
    const reachableCount = live.length - unreachable.length;
    const planned = new Set(plannedManagers);
    const leavingManagers = live.filter((m) => !planned.has(m.name));
    const leaving = names(leavingManagers);
    if (reachableCount < majority(live.length)) {
        return {
            ok: false,
            problem: "quorum-lost",
            unreachable,
            leaving,
            message:
                `manager quorum is lost: ${reachableCount} of ${live.length} managers reachable, a majority needs ${majority(live.length)} ` +
                `(unreachable: ${unreachable.join(", ")}). The swarm cannot accept any change, so nothing was changed. ` +
                `Bring the unreachable managers back (start the machine, the Docker engine) and run up again.`,
        };
    }
    // worst order: reachable leavers first, then the unreachable ones (by name within each)
    const order = [...leavingManagers].sort((a, b) => (a.reachable === b.reachable ? compare(a.name, b.name) : a.reachable ? -1 : 1));
    let remaining = [...live];
    for (const [step, m] of order.entries()) {
        remaining = remaining.filter((r) => r !== m);
        const reachable = remaining.filter((r) => r.reachable).length;
        if (remaining.length === 0 || reachable < majority(remaining.length)) {
            const done = order.slice(0, step + 1).map((x) => x.name);
            return {
                ok: false,
                problem: "unsafe-change",
                unreachable,
                leaving,
                message:
                    remaining.length === 0
                        ? `refusing a change that demotes or removes every manager of the swarm (${leaving.join(", ")}); nothing was changed. Keep at least one of them a manager.`
                        : `refusing a change that demotes or removes managers ${leaving.join(", ")} while ${unreachable.length ? `${unreachable.join(", ")} ${unreachable.length === 1 ? "is" : "are"} unreachable` : "no manager is unreachable"}: ` +
                          `once ${done.join(", ")} ${done.length === 1 ? "has" : "have"} left, ${reachable} of the ${remaining.length} remaining managers (${names(remaining).join(", ")}) would be reachable, ` +
                          `fewer than a majority (${majority(remaining.length)}); the order of the steps is not controlled, so every order must keep a majority. ` +
                          `Nothing was changed. Bring the unreachable managers back, or demote or remove them first in a change of their own.`,
            };
        }
    }
    return { ok: true, leaving };
}

/** What the read got from one planned manager (templates/swarm/swarm-managers.sh's JSON line, or why there is none). */
export type ManagerAnswer =
    | { readonly node: string; readonly reached: false; readonly reason: string }
    | { readonly node: string; readonly reached: true; readonly report: SwarmManagersReport };

/** swarm-managers.sh's stdout. */
export interface SwarmManagersReport {
    readonly engine: "absent" | "down" | "up";
    readonly state?: string;
    readonly controlAvailable?: boolean;
    readonly leader?: boolean;
    readonly remoteManagers?: readonly string[];
    readonly managers?: readonly { readonly hostname: string; readonly addr: string; readonly reachability: string; readonly leader: boolean }[];
    /** With a leader: the swarm's networks (null: that read failed). */
    readonly networks?: readonly LiveNetworkReport[] | null;
}

/** The live swarm as far as the read can tell. */
export type LiveSwarm =
    | { readonly kind: "none" }
    /** `networks`: the swarm's networks, when the manager that answered could list them. */
    | { readonly kind: "managers"; readonly managers: readonly LiveManager[]; readonly networks?: readonly LiveNetwork[] }
    /** Managers answer but none lists the members: no leader (quorum lost, or an election under way). */
    | { readonly kind: "no-leader"; readonly managers: readonly LiveManager[] }
    | { readonly kind: "unknown"; readonly message: string };

/**
 * The live managers from the answers of the planned managers (bootstrap first). A manager's address (`addr:2377`)
 * names it by the stack's node at that address, else by its hostname. The first answer listing the managers (a
 * swarm with a leader) decides. Without one: managers that answer as managers of a swarm without a leader make a
 * `no-leader` swarm, whose members are every manager they know of, reachable when it answered as such; answers
 * without a swarm (no engine installed, not in a swarm, no machine yet) mean no swarm (the first `up`); nothing
 * answering at all is `unknown`.
 */
export function liveSwarmOf(answers: readonly ManagerAnswer[], nodes: readonly { readonly name: string; readonly address: string }[]): LiveSwarm {
    const nameAt = (addr: string, hostname?: string) => {
        const ip = addr.replace(/:\d+$/, "");
        return nodes.find((n) => n.address === ip)?.name ?? hostname ?? ip;
    };
    const byName = (list: LiveManager[]) => [...list].sort((a, b) => compare(a.name, b.name));
    for (const a of answers) {
        if (a.reached && a.report.engine === "up" && a.report.leader && a.report.managers?.length) {
            const managers = byName(a.report.managers.map((m) => ({ name: nameAt(m.addr, m.hostname), reachable: m.reachability === "reachable" })));
            return { kind: "managers", managers, ...(a.report.networks ? { networks: liveNetworksOf(a.report.networks) } : {}) };
        }
    }
    const asManager = answers.filter((a) => a.reached && a.report.engine === "up" && a.report.state === "active" && a.report.controlAvailable);
    if (asManager.length) {
        const answered = new Set(asManager.map((a) => a.node));
        const known = new Set<string>(answered);
        for (const a of asManager) if (a.reached) for (const addr of a.report.remoteManagers ?? []) known.add(nameAt(addr));
        return { kind: "no-leader", managers: byName([...known].map((name) => ({ name, reachable: answered.has(name) }))) };
    }
    const noSwarm = answers.filter((a) => a.reached && (a.report.engine === "absent" || (a.report.engine === "up" && a.report.state === "inactive")));
    const inSwarm = answers.filter((a) => a.reached && a.report.engine === "up" && a.report.state !== "inactive");
    if (noSwarm.length && !inSwarm.length) return { kind: "none" };
    const why = answers.map((a) => `${a.node}: ${a.reached ? (a.report.engine === "up" ? `swarm ${a.report.state ?? "?"}${a.report.controlAvailable ? "" : ", not a manager"}` : `engine ${a.report.engine}`) : a.reason}`);
    return {
        kind: "unknown",
        message: `cannot read the swarm's managers: no planned manager answered as a manager (${why.join("; ")}). Nothing was changed; check that the managers run and are reachable, then run up again.`,
    };
}
