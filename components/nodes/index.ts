// Nodes: pick the driver the plan names; everything after this is driver-agnostic.
import * as pulumi from "@pulumi/pulumi";
import type { PlanDriver, PlanNode } from "../../model";
import { DockerNodes, type EngineClientTls } from "./docker";
import type { NodeRunner } from "./runner";
import { SshNodes } from "./ssh";

export { DockerNodes, type EngineClientTls } from "./docker";
export { SshNodes } from "./ssh";
export type { NodeRunner, RunScriptArgs, ScriptRun } from "./runner";

/** The nodes slice of the plan and what a driver needs besides. */
export interface NodesArgs {
    /** The planned nodes. */
    readonly nodes: readonly PlanNode[];
    /** How they are reached. */
    readonly driver: PlanDriver;
    /** Prefix for names on the local engine (docker driver; unique per stack). */
    readonly namePrefix: string;
    /** Folder holding the node image's Dockerfile (docker driver, when it builds the image). */
    readonly nodeImageContext: string;
    /** Where image deliveries keep their saved images and locks (on the machine running Pulumi). */
    readonly imageCacheDir: string;
    /** The gateway's routes and state dirs (docker driver: each kept on a volume of its own on gateway nodes). */
    readonly gatewayDirs: { readonly routes: string; readonly state: string };
    /** The deploy user's private key (ssh driver; a secret). */
    readonly sshPrivateKey?: pulumi.Input<string>;
    /** Per node, what its (re)build waits for (docker driver): the previous node of the rollout back at work, or on a first up the loads the first answer needs. */
    readonly rolloutAfter?: Readonly<Record<string, pulumi.Input<pulumi.Input<pulumi.Resource>[]>>>;
}

/** The nodes, whatever their driver. */
export interface NodeSet {
    /** The driver's component. */
    readonly component: pulumi.ComponentResource;
    /** A runner per node name. */
    readonly runners: Readonly<Record<string, NodeRunner>>;
    /** How Pulumi reaches the bootstrap manager's engine (tcp://127.0.0.1:… or ssh://…). */
    readonly managerHost: string;
    /** The client TLS material for a tcp:// managerHost (secret); absent for ssh://. */
    readonly managerTls?: pulumi.Output<EngineClientTls>;
    /** A command line that lists the swarm's nodes from the machine running Pulumi (no secret in it). */
    readonly managerCli: string;
}

export function createNodes(name: string, args: NodesArgs, opts?: pulumi.ComponentResourceOptions): NodeSet {
    const driver = args.driver;
    if (driver.name === "docker") {
        const nodes = new DockerNodes(name, {
            nodes: args.nodes,
            docker: driver.docker,
            engineApi: driver.engineApi,
            namePrefix: args.namePrefix,
            nodeImageContext: args.nodeImageContext,
            imageCacheDir: args.imageCacheDir,
            gatewayDirs: args.gatewayDirs,
            ...(args.rolloutAfter ? { rolloutAfter: args.rolloutAfter } : {}),
        }, opts);
        return { component: nodes, runners: nodes.runners, managerHost: nodes.managerHost, managerTls: nodes.managerTls, managerCli: nodes.managerCli };
    }
    if (args.sshPrivateKey === undefined) {
        throw new Error(`driver ssh needs the private key: pulumi config set --secret ${driver.ssh.privateKeySecret} < key`);
    }
    const nodes = new SshNodes(name, { nodes: args.nodes, ssh: driver.ssh, privateKey: args.sshPrivateKey, imageCacheDir: args.imageCacheDir }, opts);
    return { component: nodes, runners: nodes.runners, managerHost: nodes.managerHost, managerCli: `DOCKER_HOST=${nodes.managerHost} docker node ls` };
}
