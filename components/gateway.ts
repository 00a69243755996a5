// Gateway: the nginx/HAProxy image built from the rendered templates, the routes file on every gateway node
// (reloaded in place, so promotion never replaces gateway tasks), and a global service with host-mode ports.
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { Plan } from "../stacks/plan";
import { GatewayFiles, renderGatewayFiles } from "../stacks/render";
import { DeliveredImage } from "./images";
import type { NodeRunner } from "./nodes";
import { seconds } from "./durations";

export interface GatewayArgs {
    readonly plan: Plan;
    readonly provider: docker.Provider;
    readonly runners: Readonly<Record<string, NodeRunner>>;
    readonly gatewayNetworkId: pulumi.Input<string>;
    /** Where the image build context is written (one folder per stack). */
    readonly buildDir: string;
    /** Certificate and key per plan TLS entry name (secrets). */
    readonly tls?: Readonly<Record<string, { readonly certificate: pulumi.Input<string>; readonly key: pulumi.Input<string> }>>;
    readonly registryPassword?: pulumi.Input<string>;
    /** Per gateway node: what the gateway waits for there (membership labels, keepalived). */
    readonly after?: Readonly<Record<string, pulumi.Input<pulumi.Resource>[]>>;
    /** Services whose tasks must exist before the gateway (none needed: routes resolve per request). */
    readonly dependsOn?: pulumi.Input<pulumi.Resource>[];
}

export class Gateway extends pulumi.ComponentResource {
    public readonly service: docker.Service;
    public readonly image: pulumi.Output<string>;
    /** The routes step per gateway node. */
    public readonly routes: Record<string, pulumi.Resource> = {};

    constructor(name: string, args: GatewayArgs, opts?: pulumi.ComponentResourceOptions) {
        super("swarm:gateway:Gateway", name, {}, opts);
        const { plan } = args;
        const gw = plan.gateway;
        const files = renderGatewayFiles(plan);
        const context = writeBuildContext(args.buildDir, files);
        const targets = gw.nodes.map((n) => requireRunner(args.runners, n));

        const image = new DeliveredImage(`${name}-image`, {
            // Tagged by content: a changed static config or entrypoint is a new image, an unchanged one is no diff.
            imageName: `${gw.image}:${contentTag(files)}`,
            build: { context, dockerfile: path.join(context, "Dockerfile") },
            delivery: gw.delivery,
            ...(gw.registry && args.registryPassword !== undefined
                ? { registry: { server: gw.registry.server, username: gw.registry.username, password: args.registryPassword } }
                : {}),
            targets,
            after: args.after,
        }, { parent: this });
        this.image = image.ref;

        for (const runner of targets) {
            const node = runner.node.name;
            this.routes[node] = runner.run(`${name}-routes-${node}`, {
                script: "gateway-routes-apply",
                env: {
                    ROUTES_DIR: gw.routesDir,
                    ROUTES_FILE: files.routes.name,
                    ROUTES: files.routes.content,
                    ENGINE: gw.engine,
                    SERVICE: gw.service,
                    STATE_DIR: gw.stateDir,
                },
            }, { parent: this, dependsOn: args.after?.[node] ?? [] }).resource;
        }

        const secrets = gw.tls.flatMap((cert) => {
            const material = args.tls?.[cert.name];
            if (!material) throw new Error(`gateway.tls: no certificate material for ${cert.name} (${cert.hostnames.join(", ")})`);
            const secret = (suffix: "crt" | "key", value: pulumi.Input<string>) => ({
                secretId: new docker.Secret(`${name}-${cert.name}-${suffix}`, {
                    // No explicit name: swarm secrets are immutable, auto-naming gives create-before-delete on rotation.
                    data: pulumi.secret(pulumi.output(value).apply((v) => Buffer.from(v).toString("base64"))),
                    labels: [{ label: "swarm-platform.tls", value: cert.name }],
                }, { parent: this, provider: args.provider }).id,
                fileName: suffix === "crt" ? cert.certificatePath : cert.keyPath,
            });
            return [secret("crt", material.certificate), secret("key", material.key)];
        });

        const ports = [
            { targetPort: gw.ports.http, publishedPort: gw.ports.http, publishMode: "host", protocol: "tcp" },
            ...(gw.tls.length ? [{ targetPort: gw.ports.https, publishedPort: gw.ports.https, publishMode: "host", protocol: "tcp" }] : []),
        ];
        // stop-first with parallelism 1: host ports cannot be held by two tasks; the delay lets the VIP settle
        // (a stopping gateway flags itself draining, keepalived moves the VIP, then it stops).
        const update = {
            parallelism: 1,
            order: "stop-first",
            failureAction: "rollback",
            delay: seconds(gw.drainSeconds + 5),
            monitor: seconds(gw.drainSeconds + 15),
        };
        this.service = new docker.Service(`${name}-service`, {
            name: gw.service,
            mode: { global: true },
            // Nodes pull a pushed image with these credentials (secret); a loaded image needs none.
            ...(gw.delivery === "registry" && gw.registry && args.registryPassword !== undefined
                ? { auth: { serverAddress: gw.registry.server, username: gw.registry.username, password: pulumi.secret(args.registryPassword) } }
                : {}),
            labels: [{ label: "swarm-platform.role", value: "gateway" }],
            taskSpec: {
                containerSpec: {
                    image: image.ref,
                    mounts: [
                        { type: "bind", source: gw.routesDir, target: gw.routesDir, readOnly: true },
                        { type: "bind", source: gw.stateDir, target: gw.stateDir },
                    ],
                    secrets,
                    stopGracePeriod: seconds(gw.stopGracePeriod),
                    stopSignal: "SIGTERM",
                },
                placement: { constraints: ["node.labels.gateway==true"] },
                networksAdvanceds: [{ id: args.gatewayNetworkId }],
                restartPolicy: { condition: "any", delay: "2s" },
            },
            endpointSpec: { mode: "dnsrr", ports },
            updateConfig: update,
            rollbackConfig: { ...update, failureAction: "pause" },
        }, {
            parent: this,
            provider: args.provider,
            deleteBeforeReplace: true,
            dependsOn: [
                ...Object.values(this.routes),
                ...Object.values(image.deliveries),
                ...Object.values(args.after ?? {}).flat(),
                ...(args.dependsOn ?? []),
            ],
        });
        this.registerOutputs({ image: this.image, service: this.service.name });
    }
}

function requireRunner(runners: Readonly<Record<string, NodeRunner>>, node: string): NodeRunner {
    const r = runners[node];
    if (!r) throw new Error(`gateway node ${node}: no runner`);
    return r;
}

function contentTag(files: GatewayFiles): string {
    const h = crypto.createHash("sha256");
    for (const f of [files.main, files.entrypoint]) h.update(f.name).update("\0").update(f.content).update("\0");
    h.update(files.dockerfile);
    return h.digest("hex").slice(0, 12);
}

/** The image's build context: Dockerfile, static engine config and entrypoint (routes are NOT baked in). */
function writeBuildContext(dir: string, files: GatewayFiles): string {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, "Dockerfile"), files.dockerfile);
    fs.writeFileSync(path.join(dir, files.main.name), files.main.content);
    fs.writeFileSync(path.join(dir, files.entrypoint.name), files.entrypoint.content, { mode: 0o755 });
    return dir;
}
