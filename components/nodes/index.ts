// Node drivers behind one interface: pick the driver the plan names; everything after this is driver-agnostic.
import * as pulumi from "@pulumi/pulumi";
import type { Plan } from "../../stacks/plan";
import { DockerNodes } from "./docker";
import type { NodeRunner } from "./runner";
import { SshNodes } from "./ssh";

export { DockerNodes } from "./docker";
export { SshNodes } from "./ssh";
export type { NodeRunner, RunScriptArgs, ScriptRun } from "./runner";

export interface NodesArgs {
    readonly plan: Plan;
    readonly namePrefix: string;
    readonly nodeImageContext: string;
    /** Required by driver ssh. */
    readonly sshPrivateKey?: pulumi.Input<string>;
}

export interface NodeSet {
    readonly component: pulumi.ComponentResource;
    readonly runners: Readonly<Record<string, NodeRunner>>;
    readonly managerHost: string;
}

export function createNodes(name: string, args: NodesArgs, opts?: pulumi.ComponentResourceOptions): NodeSet {
    if (args.plan.driver === "docker") {
        const nodes = new DockerNodes(name, args, opts);
        return { component: nodes, runners: nodes.runners, managerHost: nodes.managerHost };
    }
    if (args.sshPrivateKey === undefined) {
        throw new Error(`driver ssh needs the private key: pulumi config set --secret ${args.plan.drivers.ssh.privateKeySecret} < key`);
    }
    const nodes = new SshNodes(name, { plan: args.plan, privateKey: args.sshPrivateKey }, opts);
    return { component: nodes, runners: nodes.runners, managerHost: nodes.managerHost };
}
