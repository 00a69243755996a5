// Networks: one overlay per zone and one for the gateway; optionally the swarm's ingress replaced by a custom one.
// Created through the swarm's docker provider, which comes in `opts.providers`.
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { LATE_NETWORK_FIELDS, type LiveNetwork, networksAsPlanned, type PlanIngress, type PlanNetwork, type PlanNetworks } from "../model";
import type { NodeRunner } from "./nodes";

/** The networks slice of the plan and where it is created. */
export interface NetworksArgs {
    /** The overlays and the optional custom ingress. */
    readonly networks: PlanNetworks;
    /** The bootstrap manager: replaces the default ingress before anything publishes ports. */
    readonly manager: NodeRunner;
    /** The swarm must exist (init done) before networks are created. */
    readonly swarmReady: pulumi.Input<pulumi.Resource>[];
    /**
     * The swarm's networks as read before this run. Where one is live exactly as planned, the fields the provider may
     * have read back before swarm allocated it are ignored (model/networks.ts networksAsPlanned); absent, none are.
     */
    readonly live?: readonly LiveNetwork[];
}

/** The swarm's overlay networks (and its custom ingress). */
export class Networks extends pulumi.ComponentResource {
    /** Overlay networks by plan name. Services reference them by `id` (by name would replace them on every run). */
    public readonly byName: Record<string, docker.Network> = {};
    /** The custom ingress network, when planned. */
    public readonly ingress?: docker.Network;

    constructor(name: string, args: NetworksArgs, opts?: pulumi.ComponentResourceOptions) {
        super("swarm:networks:Networks", name, {}, opts);
        const { networks } = args;
        // The engine reads overlay options back with an extra vxlanid key: ignore that diff; the options label
        // (overlayArgs) carries the real options, so changing them still replaces the network. A network live as
        // planned also ignores what a read before its allocation left empty: else the next up replaces it.
        const asPlanned = new Set(networksAsPlanned(networks, args.live));
        const ignoreChanges = (network: string) => ["options", ...(asPlanned.has(network) ? LATE_NETWORK_FIELDS : [])];
        for (const net of networks.overlays) {
            this.byName[net.name] = new docker.Network(`${name}-${net.name}`, overlayArgs(net), {
                parent: this,
                dependsOn: args.swarmReady,
                ignoreChanges: ignoreChanges(net.name),
                // Names are fixed and unique in a swarm; a network still used by tasks refuses deletion (clear error).
                deleteBeforeReplace: true,
            });
        }
        if (networks.ingress) {
            // The default ingress must go first; the script refuses while any service still publishes ports.
            const removal = args.manager.run(`${name}-default-ingress-removed`, {
                script: "ingress-remove",
                env: { SUBNET: networks.ingress.subnet },
            }, { parent: this, dependsOn: args.swarmReady });
            this.ingress = new docker.Network(`${name}-ingress`, ingressArgs(networks.ingress), {
                parent: this,
                dependsOn: [removal.resource],
                ignoreChanges: ignoreChanges(networks.ingress.name),
                deleteBeforeReplace: true,
            });
        }
        this.registerOutputs({ networks: Object.fromEntries(Object.entries(this.byName).map(([k, n]) => [k, n.id])) });
    }

    /** The id of a planned overlay. */
    idOf(name: string): pulumi.Output<string> {
        const net = this.byName[name];
        if (!net) throw new Error(`networks: no overlay network named ${name} in the plan`);
        return net.id;
    }
}

export function overlayArgs(net: PlanNetwork): docker.NetworkArgs {
    return {
        name: net.name,
        driver: "overlay",
        attachable: net.attachable,
        ...(net.subnet ? { ipamConfigs: [{ subnet: net.subnet, gateway: net.gateway }] } : {}),
        options: driverOptions(net.encrypted, net.mtu),
        labels: [
            { label: "swarm-platform.network", value: net.key },
            { label: "swarm-platform.options", value: JSON.stringify(driverOptions(net.encrypted, net.mtu)) },
        ],
    };
}

function ingressArgs(ingress: PlanIngress): docker.NetworkArgs {
    return {
        name: ingress.name,
        driver: "overlay",
        ingress: true,
        ipamConfigs: [{ subnet: ingress.subnet, gateway: ingress.gateway }],
        options: driverOptions(ingress.encrypted, ingress.mtu),
        labels: [{ label: "swarm-platform.options", value: JSON.stringify(driverOptions(ingress.encrypted, ingress.mtu)) }],
    };
}

function driverOptions(encrypted: boolean, mtu?: number): Record<string, string> {
    return {
        ...(encrypted ? { encrypted: "true" } : {}),
        ...(mtu ? { "com.docker.network.driver.mtu": String(mtu) } : {}),
    };
}
