// Firewall: each node's rules (model/firewall.ts) installed and applied through the node's runner, before any other
// script runs there: the swarm joins, the VIP and the gateway come up behind the firewall, never before it. Image
// loads (bytes into the node's engine, no port) go beside it.
import * as pulumi from "@pulumi/pulumi";
import { type PlanFirewall, renderFirewallApply, renderFirewallRules, renderFirewallUnit } from "../model/firewall";
import type { NodeRunner, RunScriptArgs, ScriptRun } from "./nodes";

/** The firewall slice of the plan and the nodes it goes on. */
export interface FirewallArgs {
    /** Every node's rules. */
    readonly firewall: PlanFirewall;
    /** A runner per node name. */
    readonly runners: Readonly<Record<string, NodeRunner>>;
    /** What every node's firewall waits for (the departed nodes drained: their traffic is still accepted until then). */
    readonly after?: pulumi.Input<pulumi.Resource>[];
}

/** The node firewall on every node. */
export class Firewall extends pulumi.ComponentResource {
    /** The apply step per node name. */
    public readonly applied: Record<string, pulumi.Resource> = {};

    constructor(name: string, args: FirewallArgs, opts?: pulumi.ComponentResourceOptions) {
        super("swarm:firewall:Firewall", name, {}, opts);
        const fw = args.firewall;
        const paths = { RULES_PATH: fw.paths.rules, APPLY_PATH: fw.paths.apply, UNIT_PATH: fw.paths.unit };
        for (const { node } of fw.nodes) {
            const runner = args.runners[node];
            if (!runner) throw new Error(`firewall: node ${node} has no runner`);
            const env = fw.enabled
                ? { FIREWALL_ENABLED: "true", RULES: renderFirewallRules(fw, node), APPLY: renderFirewallApply(fw), UNIT: renderFirewallUnit(fw), ...paths }
                : { FIREWALL_ENABLED: "false", ...paths };
            this.applied[node] = runner.run(`${name}-${node}`, { script: "node-firewall", env }, { parent: this, dependsOn: args.after ?? [] }).resource;
        }
        this.registerOutputs({ nodes: Object.keys(this.applied) });
    }

    /**
     * The same runners, each of whose scripts waits for its node's firewall. Image loads do not: a load puts bytes
     * into the node's engine through the driver's own path (docker exec, ssh) and opens nothing, and it is the longest
     * step of a first `up`.
     */
    guard(runners: Readonly<Record<string, NodeRunner>>): Record<string, NodeRunner> {
        return Object.fromEntries(Object.entries(runners).map(([node, runner]) => [node, guarded(runner, this.applied[node])]));
    }
}

function guarded(runner: NodeRunner, firewall: pulumi.Resource | undefined): NodeRunner {
    if (!firewall) return runner;
    const after = (opts: pulumi.CustomResourceOptions): pulumi.CustomResourceOptions => {
        const extra = opts.dependsOn;
        const list = extra === undefined ? [] : Array.isArray(extra) ? extra : [extra as pulumi.Input<pulumi.Resource>];
        return { ...opts, dependsOn: [firewall, ...list] };
    };
    return {
        node: runner.node,
        ready: [...runner.ready, firewall],
        imageCacheDir: runner.imageCacheDir,
        run: (name: string, args: RunScriptArgs, opts: pulumi.CustomResourceOptions): ScriptRun => runner.run(name, args, after(opts)),
        loadImage: (name: string, image: pulumi.Input<string>, opts: pulumi.CustomResourceOptions): ScriptRun => runner.loadImage(name, image, opts),
    };
}
