// Swarm: init on the bootstrap manager, join managers one at a time and workers in parallel, then labels, role and
// availability per node from the bootstrap manager. Deleting a node removes it and makes it leave.
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { PlanNode, PlanSwarm } from "../model";
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
    /** ssh arguments for the docker provider's ssh:// connection. */
    readonly sshOpts?: readonly string[];
    /** Client TLS material for a tcp:// managerHost (an engine with --tlsverify); a secret. */
    readonly managerTls?: pulumi.Output<EngineClientTls>;
}

/** The swarm's join tokens and unlock key (a secret). */
export interface JoinTokens {
    /** Joins a worker. */
    readonly worker: string;
    /** Joins a manager. */
    readonly manager: string;
    /** Unlocks a restarted manager under autolock ("" without). */
    readonly unlockKey: string;
}

/** The one JSON line swarm-init prints. */
interface InitOutput {
    readonly nodeId: string;
    readonly managerAddr: string;
    readonly workerToken: string;
    readonly managerToken: string;
    readonly unlockKey: string;
}

/** The swarm and its membership: every node joined, labelled and given its role and availability. */
export class Swarm extends pulumi.ComponentResource {
    /** Secret. */
    public readonly joinTokens: pulumi.Output<JoinTokens>;
    /** Swarm node IDs by node name. */
    public readonly nodeIds: Record<string, pulumi.Output<string>> = {};
    /** The label/role/availability step of each node: swarm resources placed on a node wait for it. */
    public readonly memberships: Record<string, pulumi.Resource> = {};
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

        const init = runner(first.name).run(`${name}-init`, {
            script: "swarm-init",
            env: {
                ADVERTISE_ADDR: first.address,
                DATA_PATH_PORT: String(swarm.dataPathPort),
                DEFAULT_ADDR_POOL: swarm.defaultAddrPool.join(" "),
                DEFAULT_ADDR_POOL_MASK_LENGTH: String(swarm.defaultAddrPoolMaskLength),
                AUTOLOCK: String(swarm.autolock),
            },
            onDelete: { script: "swarm-leave" },
            secretStdout: true,
        }, { parent: this });
        const initOut = this.parseJson<InitOutput>(init, `swarm init on ${first.name}`);
        this.joinTokens = pulumi.secret(initOut.apply((o): JoinTokens => ({ worker: o.workerToken, manager: o.managerToken, unlockKey: o.unlockKey })));
        this.nodeIds[first.name] = pulumi.unsecret(initOut.apply((o) => o.nodeId));

        // Managers join one at a time (each changes the Raft membership); workers in parallel after the managers.
        let previous: pulumi.Resource = init.resource;
        const joins: pulumi.Resource[] = [];
        const join = (node: PlanNode, after: pulumi.Resource) => {
            const tokens = this.joinTokens;
            const run = runner(node.name).run(`${name}-join-${node.name}`, {
                script: "swarm-join",
                env: {
                    JOIN_TOKEN: tokens.apply((t) => (node.role === "manager" ? t.manager : t.worker)),
                    MANAGER_ADDR: swarm.managerAddr,
                    ADVERTISE_ADDR: node.address,
                },
                onDelete: { script: "swarm-leave" },
            }, { parent: this, dependsOn: [after] });
            this.nodeIds[node.name] = pulumi.unsecret(this.parseJson<{ nodeId: string }>(run, `swarm join on ${node.name}`).apply((o) => o.nodeId));
            return run.resource;
        };
        for (const m of swarm.bootstrap.managers) {
            previous = join(nodeOf(m), previous);
            joins.push(previous);
        }
        for (const w of swarm.bootstrap.workers) joins.push(join(nodeOf(w), previous));

        for (const node of args.nodes) {
            const labels = Object.entries(node.labels).map(([k, v]) => `${k}=${v}`).join("\n");
            const membership = runner(first.name).run(`${name}-member-${node.name}`, {
                script: "node-membership",
                env: { NODE_ID: this.nodeIds[node.name], MEMBER_NAME: node.name, ROLE: node.role, AVAILABILITY: node.availability, LABELS: labels },
                // The bootstrap manager is not removed from its own swarm: its init step's delete makes it leave.
                ...(node.name === first.name ? {} : { onDelete: { script: "node-remove" as const, env: { MEMBER_NAME: node.name, MEMBER_ADDR: node.address } } }),
            }, { parent: this, dependsOn: node.name === first.name ? [init.resource] : joins });
            this.memberships[node.name] = membership.resource;
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

        this.registerOutputs({ joinTokens: this.joinTokens, nodeIds: this.nodeIds, managerHost: args.managerHost });
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
