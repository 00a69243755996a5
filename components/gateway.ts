// Gateway: the nginx/HAProxy image built from the rendered templates, the routes file on every gateway node
// (reloaded in place, so promotion never replaces gateway tasks), and a global service with host-mode ports.
// The service and its secrets use `swarmProvider` (passed to them, not to the component: see releases.ts); the image
// is built on `localEngine`.
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { PlanGateway, PlanRoute } from "../model";
import { type GatewayFiles, gatewayImageScripts, renderGatewayFiles } from "../model/gateway";
import { routedServices } from "../model/releases";
import { convergeGate, serviceSpecHash, withSpecLabel } from "./converge";
import { seconds, updateConfig } from "./durations";
import { DeliveredImage } from "./images";
import type { NodeRunner } from "./nodes";

/** The gateway slice of the plan, the routes it serves and what it runs on. */
export interface GatewayArgs {
    /** The gateway: engine, nodes, ports, TLS, timings. */
    readonly gateway: PlanGateway;
    /** The routes the gateway serves (rendered into the routes file). */
    readonly routes: readonly PlanRoute[];
    /** A runner per node name (at least every gateway node). */
    readonly runners: Readonly<Record<string, NodeRunner>>;
    /** The local engine that builds the image. */
    readonly localEngine: docker.Provider;
    /** The swarm's docker provider: the service and its secrets are created through it (see platform.ts). */
    readonly swarmProvider: docker.Provider;
    /** The id of the gateway overlay. */
    readonly networkId: pulumi.Input<string>;
    /** Where the image build context is written (one folder per stack). */
    readonly buildDir: string;
    /** Certificate and key per plan TLS entry name (secrets). */
    readonly tls?: Readonly<Record<string, { readonly certificate: pulumi.Input<string>; readonly key: pulumi.Input<string> }>>;
    /** The registry password (secret) for `delivery: registry`. */
    readonly registryPassword?: pulumi.Input<string>;
    /**
     * Per gateway node: the image loads that go before the gateway image's there (the routed releases' images). A
     * release's task is served only once healthy, one healthcheck interval after it starts (5 s by default); the
     * gateway answers as soon as it starts. A node loads one image at a time, so this order gives a first answer sooner.
     */
    readonly imageLoadAfter?: Readonly<Record<string, readonly pulumi.Resource[]>>;
    /** Per gateway node: what the gateway waits for there (membership labels, keepalived). */
    readonly after?: Readonly<Record<string, pulumi.Input<pulumi.Resource>[]>>;
    /** Services whose tasks must exist before the gateway (none needed: routes resolve per request). */
    readonly dependsOn?: pulumi.Input<pulumi.Resource>[];
    /** Per routed release service: its convergence gate. The routes switch only after the releases they route to converged. */
    readonly releaseGates: Readonly<Record<string, pulumi.Resource>>;
    /**
     * Whether the routes wait for those gates (default true). False only on a first `up` (no swarm answered before the
     * run): no traffic is live to protect, so the gateway starts beside the releases and answers as soon as their first
     * task is healthy; `up` still waits for every gate.
     */
    readonly routesAfterGates?: boolean;
    /** The bootstrap manager: the gateway's convergence gate asks the swarm there. */
    readonly manager: NodeRunner;
}

/** The gateway: its image, its routes on each gateway node and its global service. */
export class Gateway extends pulumi.ComponentResource {
    /** The global gateway service. */
    public readonly service: docker.Service;
    /** The image reference the service runs. */
    public readonly image: pulumi.Output<string>;
    /** The routes step per gateway node. */
    public readonly routes: Record<string, pulumi.Resource> = {};
    /** The image's delivery step per gateway node (load delivery). */
    public readonly imageDeliveries: Readonly<Record<string, pulumi.Resource>>;
    /** The hash of the gateway service's planned spec (its `swarm-platform.spec` label). */
    public readonly specHash: pulumi.Output<string>;
    /** Done once every gateway node runs a healthy task of this spec. */
    public readonly converged: pulumi.CustomResource;

    constructor(name: string, args: GatewayArgs, opts?: pulumi.ComponentResourceOptions) {
        super("swarm:gateway:Gateway", name, {}, opts);
        const gw = args.gateway;
        const files = renderGatewayFiles(gw, args.routes);
        const context = writeBuildContext(args.buildDir, files);
        const targets = gw.nodes.map((n) => {
            const runner = args.runners[n];
            if (!runner) throw new Error(`gateway: node ${n} has no runner`);
            return runner;
        });

        const image = new DeliveredImage(`${name}-image`, {
            // Tagged by content: a changed static config or entrypoint is a new image, an unchanged one is no diff.
            imageName: `${gw.image}:${contentTag(files)}`,
            build: { context, dockerfile: path.join(context, "Dockerfile") },
            delivery: gw.delivery,
            ...(gw.registry && args.registryPassword !== undefined
                ? { registry: { server: gw.registry.server, username: gw.registry.username, password: args.registryPassword } }
                : {}),
            // Only the node's engine and firewall (the guarded runners): not its membership nor keepalived, which
            // neither the bytes nor the node need; the service waits for those.
            targets,
            ...(args.imageLoadAfter ? { loadAfter: (node: string) => [...(args.imageLoadAfter?.[node] ?? [])] } : {}),
        }, { parent: this, providers: { docker: args.localEngine } });
        this.image = image.ref;
        this.imageDeliveries = image.deliveries;

        // Every release a route can send requests to (weight above 0, or pinnable): the routes wait for its gate, exactly
        // like for a release that gains a hostname.
        const gates = routedServices(args.routes).map((service) => {
            const gate = args.releaseGates[service];
            if (!gate) throw new Error(`gateway: route to ${service}, which has no convergence gate`);
            return gate;
        });
        for (const runner of targets) {
            const node = runner.node.name;
            this.routes[node] = runner.run(`${name}-routes-${node}`, {
                script: "gateway-routes-apply",
                env: {
                    ROUTES_DIR: gw.routesDir,
                    ROUTES_FILE: gw.routesFile.name,
                    ROUTES: files.routes.content,
                    ENGINE: gw.engine,
                    MAIN_CONFIG: gw.mainFile.path,
                    RELOAD_SIGNAL: gw.reloadSignal,
                    SERVICE: gw.service,
                    STATE_DIR: gw.stateDir,
                    SERVED: files.served.content,
                    SERVED_FILE: files.served.name,
                    PROBE_SECONDS: String(gw.probeSeconds),
                    GATEWAY_AGENT: files.agent.content,
                    AGENT_FIFO: gw.agent.fifo,
                },
            }, { parent: this, dependsOn: [...(args.after?.[node] ?? []), ...(args.routesAfterGates === false ? [] : gates)] }).resource;
        }

        const secrets = gw.tls.flatMap((cert) => {
            const material = args.tls?.[cert.name];
            if (!material) throw new Error(`gateway.tls[${cert.name}]: no certificate material (${cert.hostnames.join(", ")})`);
            const secret = (suffix: "crt" | "key", value: pulumi.Input<string>) => ({
                secretId: new docker.Secret(`${name}-${cert.name}-${suffix}`, {
                    // No explicit name: swarm secrets are immutable, auto-naming gives create-before-delete on rotation.
                    data: pulumi.secret(pulumi.output(value).apply((v) => Buffer.from(v).toString("base64"))),
                    labels: [{ label: "swarm-platform.tls", value: cert.name }],
                }, { parent: this, provider: args.swarmProvider }).id,
                fileName: suffix === "crt" ? cert.certificatePath : cert.keyPath,
                fileMode: suffix === "crt" ? gw.container.tlsFileMode.certificate : gw.container.tlsFileMode.key,
            });
            return [secret("crt", material.certificate), secret("key", material.key)];
        });

        const ports = [
            { targetPort: gw.ports.http, publishedPort: gw.ports.http, publishMode: "host", protocol: "tcp" },
            ...(gw.tls.length ? [{ targetPort: gw.ports.https, publishedPort: gw.ports.https, publishMode: "host", protocol: "tcp" }] : []),
        ];
        const spec = {
            name: gw.service,
            mode: { global: true },
            labels: [{ label: "swarm-platform.role", value: "gateway" }],
            taskSpec: {
                containerSpec: {
                    image: image.ref,
                    mounts: [
                        { type: "bind", source: gw.routesDir, target: gw.routesDir, readOnly: true },
                        { type: "bind", source: gw.stateDir, target: gw.stateDir },
                        ...gw.container.tmpfs.map((target) => ({ type: "tmpfs", target })),
                    ],
                    secrets,
                    stopGracePeriod: seconds(gw.stopGracePeriod),
                    stopSignal: "SIGTERM",
                    readOnly: gw.container.readOnlyRootFilesystem,
                    capDrops: [...gw.container.capabilities.drop],
                    capAdds: [...gw.container.capabilities.add],
                },
                resources: { limits: { ...gw.container.resources } },
                placement: { constraints: ["node.labels.gateway==true"] },
                networksAdvanceds: [{ id: args.networkId }],
                restartPolicy: { condition: "any", delay: "2s" },
            },
            endpointSpec: { mode: "dnsrr", ports },
            // stop-first, one node at a time (host ports cannot be held by two tasks); the delay lets the VIP settle.
            updateConfig: updateConfig(gw.update),
            rollbackConfig: updateConfig(gw.rollback),
        };
        // The registry credentials are no part of the hash: a secret, and not what the tasks run.
        this.specHash = serviceSpecHash(spec);
        this.service = new docker.Service(`${name}-service`, {
            ...spec,
            labels: withSpecLabel(spec.labels, this.specHash),
            // Nodes pull a pushed image with these credentials (secret); a loaded image needs none.
            ...(gw.delivery === "registry" && gw.registry && args.registryPassword !== undefined
                ? { auth: { serverAddress: gw.registry.server, username: gw.registry.username, password: pulumi.secret(args.registryPassword) } }
                : {}),
        }, {
            parent: this,
            provider: args.swarmProvider,
            deleteBeforeReplace: true,
            dependsOn: [
                ...Object.values(this.routes),
                ...Object.values(image.deliveries),
                ...Object.values(args.after ?? {}).flat(),
                ...(args.dependsOn ?? []),
            ],
        });
        this.converged = convergeGate(`${name}-converge`, {
            manager: args.manager,
            service: this.service,
            subject: "the gateway",
            specHash: this.specHash,
            timeout: gw.convergeTimeout,
        }, { parent: this });
        this.registerOutputs({ image: this.image, service: this.service.name, specHash: this.specHash });
    }
}

function contentTag(files: GatewayFiles): string {
    const h = crypto.createHash("sha256");
    for (const f of [files.main, files.entrypoint, ...gatewayImageScripts(files)]) h.update(f.name).update("\0").update(f.content).update("\0");
    h.update(files.dockerfile);
    return h.digest("hex").slice(0, 12);
}

/** The image's build context: Dockerfile, static engine config and entrypoint (routes are NOT baked in). */
function writeBuildContext(dir: string, files: GatewayFiles): string {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, "Dockerfile"), files.dockerfile);
    fs.writeFileSync(path.join(dir, files.main.name), files.main.content);
    fs.writeFileSync(path.join(dir, files.entrypoint.name), files.entrypoint.content, { mode: 0o755 });
    for (const f of gatewayImageScripts(files)) fs.writeFileSync(path.join(dir, f.name), f.content, { mode: 0o755 });
    return dir;
}
