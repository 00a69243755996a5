// Swarm: init on the bootstrap manager, join managers one at a time and workers in parallel beside them, then
// labels, role and availability per node from the bootstrap manager. Deleting a node removes it and makes it leave.
// Join tokens: each join reads the current token from the bootstrap manager just before it runs, and both tokens
// are rotated once the joins are done; so a token kept in the state is void, and a node added later still joins.
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { PlanNode, PlanSwarm } from "../model";
import { rolloutOrder } from "../model/nodes";
import type { EngineClientTls, NodeRunner, ScriptRun } from "./nodes";

/** The swarm slice of the plan and the nodes it is made of. */
export interface SwarmArgs {
    /** How the swarm is created. */
    readonly swarm: PlanSwarm;
    /** The planned nodes: each joins and gets its labels, role and availability. */
    readonly nodes: readonly PlanNode[];
    /** A runner per node name. */
    readonly runners: Readonly<Record<string, NodeRunner>>;
    /** How Pulumi reaches the bootstrap manager's engine (tcp://127.0.0.1:… or ssh://…). */
    readonly managerHost: string;
    /** ssh arguments for the docker provider's ssh:// connection (the pinned host key first). */
    readonly sshOpts?: readonly string[];
    /** Client TLS material for a tcp:// managerHost (an engine with --tlsverify); a secret. */
    readonly managerTls?: pulumi.Output<EngineClientTls>;
    /**
     * Whether a swarm answered before this run (see PlatformArgs.swarmExists). Only then can a membership step change
     * a node's role, so only then do they run one node at a time; on a first `up` every node joins with its planned
     * role and its membership (labels, availability) runs as soon as it joined. Default true (the safe order).
     */
    readonly swarmExists?: boolean;
}

/** The one JSON line swarm-init prints. */
interface InitOutput {
    readonly nodeId: string;
    readonly managerAddr: string;
    readonly unlockKey: string;
}

/** The swarm and its membership: every node joined, labelled and given its role and availability. */
export class Swarm extends pulumi.ComponentResource {
    /** Unlocks a restarted manager under autolock ("" without); a secret, kept in the state and not exported. */
    public readonly unlockKey: pulumi.Output<string>;
    /** The join-token rotation after the joins (absent when no node joins). */
    public readonly tokenRotation?: pulumi.Resource;
    /** Swarm node IDs by node name. */
    public readonly nodeIds: Record<string, pulumi.Output<string>> = {};
    /**
     * The last membership step of each node (its drain step, after labels, role and availability): whatever is
     * placed on a node waits for it, so Pulumi deletes those before the drain step's delete takes the node out.
     */
    public readonly memberships: Record<string, pulumi.Resource> = {};
    /** The swarm init step: once done the swarm exists. */
    public readonly initialized: pulumi.Resource;
    /** The join-token reads, sessions on the bootstrap manager: the overlays' docker connections come after them. */
    public readonly tokenReads: pulumi.Resource[] = [];
    /** A docker provider talking to the bootstrap manager, for networks, secrets and services. */
    public readonly provider: docker.Provider;

    constructor(name: string, args: SwarmArgs, opts?: pulumi.ComponentResourceOptions) {
        super("swarm:swarm:Swarm", name, {}, opts);
        const { swarm, runners } = args;
        const nodeOf = (node: string): PlanNode => {
            const found = args.nodes.find((n) => n.name === node);
            if (!found) throw new Error(`swarm: the plan has no node ${node}`);
            return found;
        };
        const runner = (node: string) => {
            const r = runners[node];
            if (!r) throw new Error(`swarm: node ${node} has no runner (driver not created)`);
            return r;
        };
        const first = nodeOf(swarm.bootstrap.firstManager);
        const overSsh = first.ssh !== undefined;

        const init = runner(first.name).run(`${name}-init`, {
            script: "swarm-init",
            env: {
                ADVERTISE_ADDR: first.address,
                DATA_PATH_PORT: String(swarm.dataPathPort),
                DEFAULT_ADDR_POOL: swarm.defaultAddrPool.join(" "),
                DEFAULT_ADDR_POOL_MASK_LENGTH: String(swarm.defaultAddrPoolMaskLength),
                AUTOLOCK: String(swarm.autolock),
            },
            // Leaves only once it is alone: while other nodes are members, its container is being replaced (keeping
            // its data, so it comes back as the same manager), not the swarm destroyed.
            onDelete: { script: "swarm-leave", env: { BOOTSTRAP: "true" } },
            secretStdout: true,
        }, { parent: this });
        this.initialized = init.resource;
        const initOut = this.parseJson<InitOutput>(init, `swarm init on ${first.name}`);
        this.unlockKey = pulumi.secret(initOut.apply((o) => o.unlockKey));
        this.nodeIds[first.name] = pulumi.unsecret(initOut.apply((o) => o.nodeId));

        // Managers join one at a time (each changes the Raft membership); workers all at once as soon as the swarm
        // exists, beside the managers' joins (a worker's join changes no Raft membership; waiting for the managers cost
        // a 12-node first up their joins' time before any worker, and so any release, could be placed).
        // Each join's token is read by a session on the bootstrap manager, whose sshd drops new connections at random
        // once 10 are unauthenticated (MaxStartups 10:30:100): the managers' tokens are read one at a time, in join
        // order (their joins come one at a time anyway); over ssh the workers' together once those are read, and the
        // overlays' first docker connections, which the provider does not dial again, only after all of them (fewer
        // sessions at once at the bootstrap manager's sshd). With the docker driver (docker exec, no sshd) the
        // workers' as soon as the swarm exists: a manager's token read waits for its node, which on a first up may be
        // built later (Platform).
        let previous: pulumi.Resource = init.resource;
        let previousToken: pulumi.Resource | undefined;
        const joins: pulumi.Resource[] = [];
        const joinOf: Record<string, pulumi.Resource> = { [first.name]: init.resource };
        const join = (node: PlanNode, after: pulumi.Resource) => {
            const joiner = runner(node.name);
            // Read again whenever the join would run again: the node moved (MEMBER_AT) or was replaced (its ready
            // steps' ids change with its container); a token kept from an earlier run was rotated since.
            const token = runner(first.name).run(`${name}-join-token-${node.name}`, {
                script: "swarm-join-token",
                env: {
                    ROLE: node.role,
                    MEMBER_NAME: node.name,
                    MEMBER_AT: node.ssh ? `${node.ssh.user}@${node.ssh.host}:${node.ssh.port}` : node.address,
                },
                triggers: readyIds(joiner),
                secretStdout: true,
            }, { parent: this, dependsOn: [init.resource, ...((node.role === "manager" || overSsh) && previousToken ? [previousToken] : [])] });
            this.tokenReads.push(token.resource);
            if (node.role === "manager") previousToken = token.resource;
            const run = joiner.run(`${name}-join-${node.name}`, {
                script: "swarm-join",
                env: {
                    // Secret here too, not only through the step's additionalSecretOutputs (which the engine applies).
                    JOIN_TOKEN: pulumi.secret(this.parseJson<{ token: string }>(token, `reading the ${node.role} join token for ${node.name}`).apply((t) => t.token)),
                    MANAGER_ADDR: swarm.managerAddr,
                    ADVERTISE_ADDR: node.address,
                },
                onDelete: { script: "swarm-leave" },
            }, { parent: this, dependsOn: [after, token.resource] });
            this.nodeIds[node.name] = pulumi.unsecret(this.parseJson<{ nodeId: string }>(run, `swarm join on ${node.name}`).apply((o) => o.nodeId));
            joinOf[node.name] = run.resource;
            return run.resource;
        };
        for (const m of swarm.bootstrap.managers) {
            previous = join(nodeOf(m), previous);
            joins.push(previous);
        }
        for (const w of swarm.bootstrap.workers) joins.push(join(nodeOf(w), init.resource));

        // Once every join is done, and again whenever a node joined (a new node id), both tokens are replaced.
        const joined = [...swarm.bootstrap.managers, ...swarm.bootstrap.workers];
        if (joined.length > 0) {
            this.tokenRotation = runner(first.name).run(`${name}-rotate-tokens`, {
                script: "swarm-rotate-tokens",
                env: { JOINED: pulumi.all(joined.map((n) => this.nodeIds[n])).apply((ids) => [...ids].sort().join("\n")) },
            }, { parent: this, dependsOn: joins }).resource;
        }

        // Per node: its membership (labels, role, availability), then its drain step. Role changes run one node at a
        // time (a demotion changes the Raft membership): each membership waits for the previous one, unless no swarm
        // existed before this run (no role to change).
        const oneAtATime = args.swarmExists ?? true;
        let previousMembership: pulumi.Resource | undefined;
        let previousManagerDrain: pulumi.Resource | undefined;
        for (const node of rolloutOrder(args.nodes).map(nodeOf)) {
            const labels = Object.entries(node.labels).map(([k, v]) => `${k}=${v}`).join("\n");
            const membership = runner(first.name).run(`${name}-member-${node.name}`, {
                script: "node-membership",
                env: { NODE_ID: this.nodeIds[node.name], MEMBER_NAME: node.name, ROLE: node.role, AVAILABILITY: node.availability, LABELS: labels },
            }, { parent: this, dependsOn: [joinOf[node.name], ...(oneAtATime && previousMembership ? [previousMembership] : [])] });
            previousMembership = membership.resource;
            // The drain step's delete takes the node out before anything of it goes: it follows a replaced node
            // (its ready steps' ids), and everything placed on the node (VIP, gateway routes, images) depends on it,
            // so Pulumi deletes those first (keepalived stops: the VIP moves), then drains (its tasks run, healthy,
            // elsewhere), demotes and removes it, and only then the node leaves and its container goes. Managers'
            // drain steps are chained: removed managers are demoted and removed one at a time.
            const isFirst = node.name === first.name;
            const drain = runner(first.name).run(`${name}-drain-${node.name}`, {
                script: "node-settle",
                env: { NODE_ID: this.nodeIds[node.name], MEMBER_NAME: node.name, WAIT_TASKS: "false" },
                onDelete: {
                    script: "node-remove",
                    env: { NODE_ID: this.nodeIds[node.name], MEMBER_NAME: node.name, MEMBER_ADDR: node.address, ...(isFirst ? { KEEP_IN_SWARM: "true" } : {}) },
                },
                triggers: readyIds(runner(node.name)),
                // On the bootstrap manager, but about another node: a replaced bootstrap manager does not drain it.
                keepWhenNodeReplaced: !isFirst,
            }, { parent: this, dependsOn: [membership.resource, ...(node.role === "manager" && previousManagerDrain ? [previousManagerDrain] : [])] });
            if (node.role === "manager") previousManagerDrain = drain.resource;
            this.memberships[node.name] = drain.resource;
        }

        this.provider = new docker.Provider(`${name}-manager`, {
            // Unknown until init has run, so a first preview never dials a manager that does not exist yet.
            host: pulumi.unsecret(initOut.apply(() => args.managerHost)),
            ...(args.sshOpts?.length ? { sshOpts: [...args.sshOpts] } : {}),
            ...(args.managerTls
                ? {
                      caMaterial: args.managerTls.apply((t) => t.ca),
                      certMaterial: args.managerTls.apply((t) => t.cert),
                      keyMaterial: pulumi.secret(args.managerTls.apply((t) => t.key)),
                  }
                : {}),
        }, { parent: this });

        this.registerOutputs({ nodeIds: this.nodeIds, managerHost: args.managerHost });
    }

    /** Parses the script's single JSON line of stdout, failing with the step's name when it is not JSON. */
    private parseJson<T>(run: ScriptRun, step: string): pulumi.Output<T> {
        return run.stdout.apply((out) => {
            const line = out.trim().split("\n").pop() ?? "";
            try {
                return JSON.parse(line) as T;
            } catch {
                throw new pulumi.ResourceError(`${step}: expected one JSON line on stdout, got ${line.length} characters that are not JSON`, run.resource);
            }
        });
    }
}

/** The ids of a node's ready steps: they change when the node is replaced (a new container), not when it is updated. */
export function readyIds(runner: NodeRunner): pulumi.Output<string[]> {
    const ready = runner.ready.filter((r): r is pulumi.CustomResource => pulumi.CustomResource.isInstance(r));
    return pulumi.all(ready.map((r) => r.id));
}
