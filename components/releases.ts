// Release: one app version as one replicated swarm service, placed by zone, on the zone's overlay (and the gateway
// network when it has hostnames), healthchecked, updated start-first with automatic rollback.
// The service uses `swarmProvider`, passed to it alone: a component whose `providers` named the swarm's provider would
// register only once that provider exists, holding the image build and loads back until the swarm is up.
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { PlanRelease } from "../model";
import { convergeGate, serviceSpecHash, withSpecLabel } from "./converge";
import { seconds, updateConfig } from "./durations";
import { contextHash, DeliveredImage } from "./images";
import type { NodeRunner } from "./nodes";

/** One release of the plan and what it runs on. */
export interface ReleaseArgs {
    /** The release: image, replicas, placement, policies. */
    readonly release: PlanRelease;
    /** The local engine that builds the image (when the app has `build`). */
    readonly localEngine: docker.Provider;
    /** The swarm's docker provider (the bootstrap manager's engine): the service is created through it. */
    readonly swarmProvider: docker.Provider;
    /** Network ids by plan network name. */
    readonly networkIds: Readonly<Record<string, pulumi.Input<string>>>;
    /** Nodes of the release's zone: where a loaded image must be. */
    readonly zoneNodes: readonly NodeRunner[];
    /** What the service waits for: the zone nodes' labels and the networks. */
    readonly dependsOn: pulumi.Input<pulumi.Resource>[];
    /** The bootstrap manager: the convergence gate asks the swarm there. */
    readonly manager: NodeRunner;
    /** What its convergence gate waits for besides the service (see ConvergeGateArgs.after). */
    readonly gateAfter?: Promise<pulumi.Resource[]>;
    /** What its image loads wait for besides their node, per node (see DeliveredImageArgs.loadAfter). */
    readonly loadAfter?: (node: string) => pulumi.Resource[] | Promise<pulumi.Resource[]>;
}

/** One app release as one swarm service. */
export class Release extends pulumi.ComponentResource {
    /** The release's swarm service. */
    public readonly service: docker.Service;
    /** Its name in the swarm. */
    public readonly serviceName: string;
    /** The hash of the service's planned spec (its `swarm-platform.spec` label). */
    public readonly specHash: pulumi.Output<string>;
    /** Done once the swarm runs this spec with every task healthy (routes to the release wait for it). */
    public readonly converged: pulumi.CustomResource;
    /** Its image's delivery step per zone node name (load delivery). */
    public readonly deliveries: Readonly<Record<string, pulumi.Resource>>;

    constructor(name: string, args: ReleaseArgs, opts?: pulumi.ComponentResourceOptions) {
        super("swarm:releases:Release", name, {}, opts);
        const r = args.release;
        let image: pulumi.Input<string> = r.image;
        let deliveries: Readonly<Record<string, pulumi.Resource>> = {};
        if (r.build || r.load) {
            const delivered = new DeliveredImage(`${name}-image`, {
                // A built image is tagged by its context's content: rebuilt code reaches the nodes and the service.
                imageName: r.build ? `${r.image}-${contextHash(r.build.context)}` : r.image,
                ...(r.build ? { build: r.build } : {}),
                delivery: r.load ? "load" : "registry",
                targets: args.zoneNodes,
                ...(args.loadAfter ? { loadAfter: args.loadAfter } : {}),
            }, { parent: this, providers: { docker: args.localEngine } });
            image = delivered.ref;
            deliveries = delivered.deliveries;
        }
        this.deliveries = deliveries;
        const networks = r.networks.map((n) => {
            const id = args.networkIds[n];
            if (id === undefined) throw new Error(`release ${r.app} ${r.name}: network ${n} is not planned`);
            // By id: the provider reads networks back as ids, a name would replace the service on every run.
            return { id };
        });
        this.serviceName = r.service;
        const spec = {
            name: r.service,
            mode: { replicated: { replicas: r.replicas } },
            labels: Object.entries(r.labels).map(([label, value]) => ({ label, value })),
            taskSpec: {
                containerSpec: {
                    image,
                    env: { ...r.env },
                    healthcheck: {
                        tests: [...r.healthcheck.test],
                        interval: seconds(r.healthcheck.interval),
                        timeout: seconds(r.healthcheck.timeout),
                        retries: r.healthcheck.retries,
                        startPeriod: seconds(r.healthcheck.startPeriod),
                    },
                    stopGracePeriod: seconds(r.stopGracePeriod),
                    labels: Object.entries(r.labels).map(([label, value]) => ({ label, value })),
                    readOnly: r.readOnlyRootFilesystem,
                },
                resources: { limits: { ...r.resources } },
                placement: { constraints: [...r.constraints] },
                networksAdvanceds: networks,
                restartPolicy: { condition: "any", delay: "2s" },
            },
            endpointSpec: {
                mode: r.endpointMode,
                ports: r.publish.map((p) => ({ targetPort: p.target, publishedPort: p.published, protocol: p.protocol, publishMode: p.mode })),
            },
            updateConfig: updateConfig(r.update),
            rollbackConfig: updateConfig(r.rollback),
        };
        this.specHash = serviceSpecHash(spec);
        // A fixed service name cannot exist twice: a replacement (new networks, new name) must delete first.
        this.service = new docker.Service(`${name}-service`, { ...spec, labels: withSpecLabel(spec.labels, this.specHash) }, {
            parent: this,
            provider: args.swarmProvider,
            dependsOn: [...args.dependsOn, ...Object.values(deliveries)],
            deleteBeforeReplace: true,
        });
        this.converged = convergeGate(`${name}-converge`, {
            manager: args.manager,
            service: this.service,
            subject: `release ${r.app} ${r.name}`,
            specHash: this.specHash,
            timeout: r.convergeTimeout,
            ...(args.gateAfter ? { after: args.gateAfter } : {}),
        }, { parent: this });
        this.registerOutputs({ service: this.serviceName, specHash: this.specHash });
    }
}

