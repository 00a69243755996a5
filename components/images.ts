// DeliveredImage: an image built on the engine running Pulumi (optional) and delivered to the nodes that run it,
// by loading (air-gapped, dev: templates/images/image-deliver.sh, each image's bytes once per node) or by a registry
// push the nodes pull from. The build uses the
// local engine's docker provider from `opts.providers`.
import * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { NodeRunner } from "./nodes";
import { scriptPayload } from "./nodes/runner";

/** An image and the nodes that need it. */
export interface DeliveredImageArgs {
    /** Full reference, tag included. */
    readonly imageName: string;
    /** Build it first, from this context. */
    readonly build?: { readonly context: string; readonly dockerfile?: string; readonly args?: Readonly<Record<string, string>> };
    /** How it reaches the nodes. */
    readonly delivery: "load" | "registry";
    /** Push target and credentials, for registry delivery. */
    readonly registry?: { readonly server: pulumi.Input<string>; readonly username: pulumi.Input<string>; readonly password: pulumi.Input<string> };
    /** Nodes that must hold the image (load delivery); a load waits only for what its runner needs (engine, firewall). */
    readonly targets: readonly NodeRunner[];
    /** Per node name: what its load waits for besides the node (loads the first answer waits for longest go first). */
    readonly loadAfter?: (node: string) => pulumi.Resource[] | Promise<pulumi.Resource[]>;
}

/** An image built locally (optional) and delivered to the nodes that run it. */
export class DeliveredImage extends pulumi.ComponentResource {
    /** The reference services use. */
    public readonly ref: pulumi.Output<string>;
    /** The delivery step per node name; services wait for these. */
    public readonly deliveries: Record<string, pulumi.Resource> = {};

    constructor(name: string, args: DeliveredImageArgs, opts?: pulumi.ComponentResourceOptions) {
        super("swarm:images:DeliveredImage", name, {}, opts);
        let ref: pulumi.Output<string> = pulumi.output(args.imageName);
        if (args.build) {
            const image = new docker.Image(`${name}-build`, {
                imageName: args.imageName,
                build: {
                    context: args.build.context,
                    ...(args.build.dockerfile ? { dockerfile: args.build.dockerfile } : {}),
                    ...(args.build.args ? { args: { ...args.build.args } } : {}),
                },
                skipPush: args.delivery === "load",
                ...(args.delivery === "registry" && args.registry ? { registry: args.registry } : {}),
            }, { parent: this });
            // A pushed image is pinned by digest, so every node runs the very same bytes.
            ref = args.delivery === "registry" ? image.repoDigest.apply((d) => d || args.imageName) : image.imageName;
        }
        if (args.delivery === "load" && args.targets.length) {
            // Saved once as soon as it is built, while the nodes still start: no load waits for the save.
            const save = new command.local.Command(`${name}-save`, {
                create: "bash -s",
                stdin: scriptPayload("pulumi-host", "image-deliver", { IMAGE: ref, CACHE_DIR: args.targets[0].imageCacheDir, SAVE_ONLY: "true" }),
                interpreter: ["/bin/bash", "-c"],
                triggers: [ref],
                addPreviousOutputInEnv: false,
            }, { parent: this });
            for (const runner of args.targets) {
                const node = runner.node.name;
                const more = args.loadAfter?.(node);
                const after: pulumi.Input<pulumi.Resource[]> = more ? Promise.resolve(more).then((m): pulumi.Resource[] => [save, ...m]) : [save];
                this.deliveries[node] = runner.loadImage(`${name}-load-${node}`, ref, { parent: this, dependsOn: after }).resource;
            }
        }
        this.ref = ref;
        this.registerOutputs({ ref });
    }
}

/** A short hash of every file in a build context: tagging by it makes a changed build a new image everywhere. */
export function contextHash(dir: string): string {
    const h = crypto.createHash("sha256");
    const walk = (rel: string): void => {
        for (const entry of fs.readdirSync(path.join(dir, rel), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
            const child = path.join(rel, entry.name);
            if (entry.isDirectory()) walk(child);
            else if (entry.isFile()) h.update(child).update("\0").update(fs.readFileSync(path.join(dir, child))).update("\0");
        }
    };
    walk(".");
    return h.digest("hex").slice(0, 12);
}
