// The one way to run a rendered node script on any node, whatever its driver.
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { PlanNode } from "../../model";
import { type NodeScript, renderNodeScript } from "../../model/scripts";

export type Env = Record<string, pulumi.Input<string>>;

/** One node script to run on a node, with its variables. */
export interface RunScriptArgs {
    /** The script (templates/<concept>/<script>.sh). */
    readonly script: NodeScript;
    /** Variables the script reads; secret inputs stay secret (they travel base64-encoded on stdin, never on a command line). */
    readonly env?: Env;
    /** Run on delete; no secrets allowed (delete commands are plain command lines). */
    readonly onDelete?: { readonly script: NodeScript; readonly env?: Record<string, pulumi.Input<string>> };
    /**
     * The step's effect lives in the swarm, not on the node it runs on (a drain step on the bootstrap manager): a
     * replaced container of that node neither runs it again nor runs its delete. Driver docker; ssh steps never follow.
     */
    readonly keepWhenNodeReplaced?: boolean;
    /** stdout carries secrets (join tokens): mark it secret and keep it out of the logs. */
    readonly secretStdout?: boolean;
    /** Values whose change replaces the command (runs create again from scratch). */
    readonly triggers?: pulumi.Input<unknown[]>;
}

/** What every driver's command resource offers. */
export interface ScriptRun {
    /** The command resource: later steps depend on it. */
    readonly resource: pulumi.CustomResource;
    /** What the script printed (secret when `secretStdout`). */
    readonly stdout: pulumi.Output<string>;
}

/** Runs node scripts and loads images on one node, whatever its driver. */
export interface NodeRunner {
    /** The node it runs on. */
    readonly node: PlanNode;
    /** Resources a script on this node must wait for (the container, the bootstrap). */
    readonly ready: pulumi.Input<pulumi.Resource>[];
    /** Where saved images wait for their loads, on the machine running Pulumi (shared by every node's runner). */
    readonly imageCacheDir: string;
    run(name: string, args: RunScriptArgs, opts: pulumi.CustomResourceOptions): ScriptRun;
    /**
     * Puts an image from the engine running Pulumi into this node's engine (templates/images/image-deliver.sh): its
     * bytes go at most once per node (by image ID), from one saved copy shared by every node.
     */
    loadImage(name: string, image: pulumi.Input<string>, opts: pulumi.CustomResourceOptions): ScriptRun;
}

/** The stdin payload: envelope + script, with env values resolved (and secret if any value is). */
export function scriptPayload(node: string, script: NodeScript, env: Env = {}): pulumi.Output<string> {
    return pulumi.all(env).apply((resolved) => renderNodeScript(script, { node, env: resolved }));
}

/** A delete command line that feeds a rendered script to `shell` without any quoting: base64 is quote-safe. */
export function deleteCommandLine(node: string, onDelete: NonNullable<RunScriptArgs["onDelete"]>, shell: pulumi.Input<string>): pulumi.Output<string> {
    return pulumi.all([shell, pulumi.all(onDelete.env ?? {})]).apply(([sh, env]) => {
        const payload = Buffer.from(renderNodeScript(onDelete.script, { node, env })).toString("base64");
        return `printf %s '${payload}' | base64 -d | ${sh}`;
    });
}

export function commandOptions(args: RunScriptArgs, opts: pulumi.CustomResourceOptions): pulumi.CustomResourceOptions {
    return args.secretStdout ? { ...opts, additionalSecretOutputs: ["stdout", "stderr"] } : opts;
}

export function logging(args: RunScriptArgs): "none" | "stdoutAndStderr" {
    return args.secretStdout ? "none" : "stdoutAndStderr";
}

export function toScriptRun(cmd: command.local.Command | command.remote.Command): ScriptRun {
    return { resource: cmd, stdout: cmd.stdout };
}
