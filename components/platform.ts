// Platform: the whole stack from one plan. Wires the components in dependency order; decides nothing itself.
import * as pulumi from "@pulumi/pulumi";
import * as path from "node:path";
import type { Plan, PlanVrrp } from "../stacks/plan";
import { renderZoneFile } from "../stacks/render";
import { Gateway } from "./gateway";
import { SwarmNetworks } from "./networks";
import { createNodes } from "./nodes";
import { Release } from "./releases";
import { SwarmCluster } from "./swarm";
import { VirtualIp } from "./virtual-ip";

export interface PlatformArgs {
    readonly plan: Plan;
    /** Names on the local engine and in the swarm are prefixed with this (project-stack). */
    readonly namePrefix: string;
    /** The project folder: templates/ and relative build contexts are resolved from here. */
    readonly projectDir: string;
    /** Where generated build contexts are written. */
    readonly buildDir: string;
    /** Secret config values by key (ssh key, TLS material, VRRP/registry passwords). */
    readonly secrets: Readonly<Record<string, pulumi.Output<string>>>;
}

export class Platform extends pulumi.ComponentResource {
    public readonly swarm: SwarmCluster;
    public readonly networks: SwarmNetworks;
    public readonly virtualIp?: VirtualIp;
    public readonly gateway: Gateway;
    public readonly releases: Record<string, Release> = {};
    public readonly managerHost: string;
    public readonly zoneFile: string;

    constructor(name: string, args: PlatformArgs, opts?: pulumi.ComponentResourceOptions) {
        super("swarm:index:Platform", name, {}, opts);
        const { plan, secrets } = args;
        const secret = (key: string | undefined) => (key === undefined ? undefined : secrets[key]);

        const nodes = createNodes("nodes", {
            plan,
            namePrefix: args.namePrefix,
            nodeImageContext: path.join(args.projectDir, "templates", "node"),
            sshPrivateKey: secret(plan.drivers.ssh.privateKeySecret),
        }, { parent: this });
        this.managerHost = nodes.managerHost;

        this.swarm = new SwarmCluster("swarm", {
            plan,
            runners: nodes.runners,
            managerHost: nodes.managerHost,
            sshOpts: plan.driver === "ssh" ? plan.drivers.ssh.sshOpts : [],
        }, { parent: this });
        const provider = this.swarm.provider;
        const membership = (node: string) => [this.swarm.memberships[node]];
        const firstManager = nodes.runners[plan.bootstrap.firstManager];

        this.networks = new SwarmNetworks("networks", {
            plan,
            provider,
            manager: firstManager,
            swarmReady: [this.swarm.memberships[plan.bootstrap.firstManager]],
        }, { parent: this });

        if (plan.vrrp) {
            this.virtualIp = new VirtualIp("vip", {
                plan: plan as Plan & { vrrp: PlanVrrp },
                runners: nodes.runners,
                password: secret(plan.vrrp.passwordSecret),
                after: Object.fromEntries(plan.gateway.nodes.map((n) => [n, membership(n)])),
            }, { parent: this });
        }
        const vip = this.virtualIp;
        const gatewayAfter = Object.fromEntries(
            plan.gateway.nodes.map((n) => [n, [...membership(n), ...(vip?.keepalived[n] ? [vip.keepalived[n]] : [])]]),
        );
        const tls = Object.fromEntries(plan.gateway.tls.map((t) => [t.name, { certificate: secrets[t.certificateSecret], key: secrets[t.keySecret] }]));
        this.gateway = new Gateway("gateway", {
            plan,
            provider,
            runners: nodes.runners,
            gatewayNetworkId: this.networks.idOf(plan.gateway.network),
            buildDir: path.join(args.buildDir, "gateway"),
            tls,
            registryPassword: secret(plan.gateway.registry?.passwordSecret),
            after: gatewayAfter,
            dependsOn: this.networks.ingress ? [this.networks.ingress] : [],
        }, { parent: this });

        const networkIds = Object.fromEntries(plan.networks.map((n) => [n.name, this.networks.idOf(n.name)]));
        for (const release of plan.releases) {
            const zoneNodes = plan.nodes.filter((n) => n.zone === release.zone);
            this.releases[release.service] = new Release(release.service, {
                release: release.build ? { ...release, build: { ...release.build, context: path.resolve(args.projectDir, release.build.context) } } : release,
                provider,
                networkIds,
                zoneNodes: zoneNodes.map((n) => nodes.runners[n.name]),
                dependsOn: [
                    ...zoneNodes.map((n) => this.swarm.memberships[n.name]),
                    ...Object.values(this.networks.byName),
                    ...(this.networks.ingress ? [this.networks.ingress] : []),
                ],
            }, { parent: this });
        }
        this.zoneFile = renderZoneFile(plan);
        this.registerOutputs({ managerHost: this.managerHost, zoneFile: this.zoneFile });
    }
}
