// Platform: the whole stack from one plan. Wires the concepts' components in dependency order; decides nothing.
// Providers: the local engine's docker provider comes in `opts.providers` (images, docker-driver nodes); the
// swarm's provider is made by the Swarm component and handed to the networks in `opts.providers`, but to releases and
// the gateway as an argument they pass to their swarm resources only: a component waits for its `providers` before
// any child registers, and their image builds and loads need no swarm.
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as path from "node:path";
import { firstAnswerNodes, type LiveNetwork, type Plan, routedServices } from "../model";
import { gatewaySettleSeconds, rolloutOrder } from "../model/nodes";
import { Dns } from "./dns";
import { Firewall } from "./firewall";
import { Gateway } from "./gateway";
import { Networks } from "./networks";
import { createNodes, type NodeSet } from "./nodes";
import { Release } from "./releases";
import { readyIds, Swarm } from "./swarm";
import { VirtualIp } from "./virtual-ip";

/** A promise resolved later in the constructor: a dependency on a resource created further down. */
function deferred<T>(): { promise: Promise<T>; resolve(value: T): void } {
    let resolve: (value: T) => void = () => undefined;
    const promise = new Promise<T>((r) => (resolve = r));
    return { promise, resolve };
}

/** The plan and what the components need besides it. */
export interface PlatformArgs {
    /** The whole plan (model/index.ts `planStack`); each component gets its own slice. */
    readonly plan: Plan;
    /** Names on the local engine and in the swarm are prefixed with this (project-stack). */
    readonly namePrefix: string;
    /** The project folder: templates/ and relative build contexts are resolved from here. */
    readonly projectDir: string;
    /** Where generated build contexts are written. */
    readonly buildDir: string;
    /** Secret config values by key (ssh key, TLS material, VRRP/registry passwords). */
    readonly secrets: Readonly<Record<string, pulumi.Output<string>>>;
    /**
     * Whether a swarm answered on the planned managers before this run (the manager quorum read). Only then can a
     * node (re)build disturb running work, so only then do node builds roll out one at a time; on a first `up` every
     * node comes up at once. Default true (the safe order).
     */
    readonly swarmExists?: boolean;
    /** The swarm's networks as read before this run (the manager quorum read); absent: not known. */
    readonly liveNetworks?: readonly LiveNetwork[];
}

// Before concepts had one name each, the program's one platform was named `platform` and its components were named
// without that prefix, with other type tokens: these aliases carry a stack deployed then over without replacement.
const LEGACY_PLATFORM = "platform";
const LEGACY_NAMES = {
    nodes: { name: "nodes" },
    swarm: { name: "swarm", type: "swarm:swarm:SwarmCluster" },
    networks: { name: "networks", type: "swarm:networks:SwarmNetworks" },
    virtualIp: { name: "vip", type: "swarm:vip:VirtualIp" },
    gateway: { name: "gateway" },
} as const;

/** A whole Docker Swarm platform: nodes, swarm, networks, virtual IP, gateway, releases and DNS records. */
export class Platform extends pulumi.ComponentResource {
    /** The nodes, whatever their driver. */
    public readonly nodes: NodeSet;
    /** The node firewall on every node. */
    public readonly firewall: Firewall;
    /** The swarm: init, joins, memberships, and its docker provider. */
    public readonly swarm: Swarm;
    /** The overlays (and the custom ingress). */
    public readonly networks: Networks;
    /** Absent when the plan has no virtual IP. */
    public readonly virtualIp?: VirtualIp;
    /** The gateway: image, routes per node, global service. */
    public readonly gateway: Gateway;
    /** Releases by service name. */
    public readonly releases: Record<string, Release> = {};
    /** The DNS records and zone file. */
    public readonly dns: Dns;
    /** How Pulumi reaches the bootstrap manager's engine. */
    public readonly managerHost: string;
    /** A command line that lists the swarm's nodes (no secret in it). */
    public readonly managerCli: string;

    constructor(name: string, args: PlatformArgs, opts?: pulumi.ComponentResourceOptions) {
        super("swarm:index:Platform", name, {}, opts);
        const { plan, secrets } = args;
        const secret = (key: string | undefined) => (key === undefined ? undefined : secrets[key]);
        const legacy = name === LEGACY_PLATFORM;
        const child = (concept: keyof typeof LEGACY_NAMES) => ({ parent: this, ...(legacy ? { aliases: [LEGACY_NAMES[concept]] } : {}) });
        const localEngine = this.getProvider("docker:index/image:Image") as docker.Provider | undefined;
        if (!localEngine) throw new Error(`platform ${name}: pass the local engine's docker provider in opts.providers`);

        // Node lifecycle: each node's (re)build waits for the previous node of the rollout to be back at work (its
        // settle step, below), so a change that replaces every node container goes one node at a time. Without a
        // swarm yet nothing runs on any node: the nodes are built in parallel.
        const rollout = rolloutOrder(plan.nodes);
        const settled = Object.fromEntries(rollout.map((n) => [n, deferred<pulumi.Resource>()]));
        const firstUp = !(args.swarmExists ?? true);
        // Driver docker, first up: every node is a container of the one local engine, so all share its machine's CPU
        // and disk. The nodes the first answer needs are built first; the others once the images that answer waits
        // for are in their nodes (a 12-node dev stack answered about 5 s sooner, and its whole `up` ended about 3 s
        // sooner). Over ssh each node is a machine of its own: nothing waits.
        const firstAnswer = new Set(firstAnswerNodes(plan.nodes, plan.releases, plan.routes));
        const firstAnswerLoads = deferred<pulumi.Resource[]>();
        const builtAfterFirstLoads = firstUp && plan.driver.name === "docker" ? plan.nodes.filter((n) => !firstAnswer.has(n.name)).map((n) => n.name) : [];
        this.nodes = createNodes(`${name}-nodes`, {
            nodes: plan.nodes,
            driver: plan.driver,
            namePrefix: args.namePrefix,
            nodeImageContext: path.join(args.projectDir, "templates", "nodes"),
            imageCacheDir: path.join(args.buildDir, "images"),
            gatewayDirs: { routes: plan.gateway.routesDir, state: plan.gateway.stateDir },
            sshPrivateKey: plan.driver.name === "ssh" ? secret(plan.driver.ssh.privateKeySecret) : undefined,
            ...(args.swarmExists ?? true
                ? { rolloutAfter: Object.fromEntries(rollout.slice(1).map((n, i) => [n, [settled[rollout[i]].promise]])) }
                : builtAfterFirstLoads.length
                  ? { rolloutAfter: Object.fromEntries(builtAfterFirstLoads.map((n) => [n, firstAnswerLoads.promise])) }
                  : {}),
        }, child("nodes"));
        const bootstrap = plan.swarm.bootstrap.firstManager;
        // Nodes the stack no longer has are drained (and managers demoted, one at a time) before any firewall stops
        // accepting their swarm traffic; it needs only the bootstrap manager's engine, not its firewall.
        const departures = this.nodes.runners[bootstrap].run(`${name}-departures`, {
            script: "swarm-departures",
            env: { MEMBER_ADDRS: plan.nodes.map((n) => n.address).sort().join("\n") },
            keepWhenNodeReplaced: true,
        }, { parent: this });
        // Every node's firewall first: later steps on a node (joins, VIP, gateway) wait for it; image loads need only
        // the node's engine (Firewall.guard). On a first up no planned manager is in a swarm, so there is nothing to
        // drain, and the firewalls (and the swarm init after them) do not wait for the departures' empty look.
        this.firewall = new Firewall(`${name}-firewall`, { firewall: plan.firewall, runners: this.nodes.runners, after: firstUp ? [] : [departures.resource] }, { parent: this });
        const runners = this.firewall.guard(this.nodes.runners);
        this.managerHost = this.nodes.managerHost;
        this.managerCli = this.nodes.managerCli;

        this.swarm = new Swarm(`${name}-swarm`, {
            swarm: plan.swarm,
            nodes: plan.nodes,
            runners,
            managerHost: this.nodes.managerHost,
            // The bootstrap manager's ssh client options: its pinned host key, then drivers.ssh.sshOpts.
            sshOpts: plan.nodes.find((n) => n.bootstrap)?.ssh?.clientOptions ?? [],
            ...(this.nodes.managerTls ? { managerTls: this.nodes.managerTls } : {}),
            ...(args.swarmExists === undefined ? {} : { swarmExists: args.swarmExists }),
        }, child("swarm"));
        const onSwarm = (concept: keyof typeof LEGACY_NAMES) => ({ ...child(concept), providers: { docker: this.swarm.provider } });
        const membership = (node: string) => [this.swarm.memberships[node]];

        this.networks = new Networks(`${name}-networks`, {
            networks: plan.networks,
            manager: runners[bootstrap],
            // Init, not the bootstrap's membership: the chain of membership steps is no reason to wait. Over ssh not
            // beside the token reads either: a burst of sessions at the bootstrap manager's sshd (see Swarm). The
            // docker driver reaches the engine API over TLS, and the token reads of nodes built later (above) must not
            // hold the overlays, so the releases, back.
            swarmReady: [this.swarm.initialized, ...(plan.driver.name === "ssh" ? this.swarm.tokenReads : [])],
            ...(args.liveNetworks ? { live: args.liveNetworks } : {}),
        }, onSwarm("networks"));

        if (plan.virtualIp) {
            this.virtualIp = new VirtualIp(`${name}-virtualIp`, {
                virtualIp: plan.virtualIp,
                runners,
                password: secret(plan.virtualIp.passwordSecret),
                after: Object.fromEntries(plan.gateway.nodes.map((n) => [n, membership(n)])),
            }, child("virtualIp"));
        }
        // Releases before the gateway: its routes wait for the convergence gates of the releases they route to.
        // Image loads the first answer needs go first: those of the releases a route reaches, then (on a node with
        // both) the gateway's, which is served sooner after it starts. The images of releases no route reaches load
        // after them, so they do not share the machine's CPU (docker driver) or uplink (ssh) with the loads the first
        // answer waits for.
        const routed = new Set(routedServices(plan.routes));
        const firstLoads = deferred<pulumi.Resource[]>();
        // On a first up the releases' gates poll the swarm only once the gateway runs: nothing waits for them before
        // (routes do not, below), and their polling (two docker calls a second each) would share the CPU (docker
        // driver) with the first answer's work. Their tasks have usually started by then: one poll each.
        const gatewayConverged = deferred<pulumi.Resource[]>();
        const networkIds = Object.fromEntries(plan.networks.overlays.map((n) => [n.name, this.networks.idOf(n.name)]));
        for (const release of plan.releases) {
            const zoneNodes = plan.nodes.filter((n) => n.zone === release.zone);
            this.releases[release.service] = new Release(`${name}-${release.service}`, {
                release: release.build ? { ...release, build: { ...release.build, context: path.resolve(args.projectDir, release.build.context) } } : release,
                localEngine,
                swarmProvider: this.swarm.provider,
                networkIds,
                zoneNodes: zoneNodes.map((n) => runners[n.name]),
                manager: runners[bootstrap],
                ...(routed.has(release.service) ? {} : { loadAfter: () => firstLoads.promise }),
                ...(firstUp ? { gateAfter: gatewayConverged.promise } : {}),
                dependsOn: [
                    ...zoneNodes.map((n) => this.swarm.memberships[n.name]),
                    ...Object.values(this.networks.byName),
                    ...(this.networks.ingress ? [this.networks.ingress] : []),
                ],
            }, {
                parent: this,
                ...(legacy ? { aliases: [{ name: release.service }] } : {}),
            });
        }
        const keepalived = this.virtualIp?.keepalived ?? {};
        const tls = Object.fromEntries(plan.gateway.tls.map((t) => [t.name, { certificate: secrets[t.certificateSecret], key: secrets[t.keySecret] }]));
        this.gateway = new Gateway(`${name}-gateway`, {
            gateway: plan.gateway,
            routes: plan.routes,
            runners,
            localEngine,
            swarmProvider: this.swarm.provider,
            networkId: this.networks.idOf(plan.gateway.network),
            buildDir: path.join(args.buildDir, "gateway"),
            tls,
            registryPassword: secret(plan.gateway.registry?.passwordSecret),
            imageLoadAfter: Object.fromEntries(plan.gateway.nodes.map((n) => [n, [...routed].flatMap((service) => this.releases[service]?.deliveries[n] ?? [])])),
            // keepalived before the gateway: an update brings a node keepalived's check before the gateway it checks.
            // On a first up nothing runs to protect: keepalived starts beside the gateway (its check holds the VIP
            // back until the gateway answers), so the first answer does not wait for it.
            after: Object.fromEntries(plan.gateway.nodes.map((n) => [n, [...membership(n), ...(keepalived[n] && !firstUp ? [keepalived[n]] : [])]])),
            dependsOn: this.networks.ingress ? [this.networks.ingress] : [],
            releaseGates: Object.fromEntries(Object.entries(this.releases).map(([service, release]) => [service, release.converged])),
            // Health-gated routes protect live traffic; on a first up there is none yet.
            routesAfterGates: args.swarmExists ?? true,
            manager: runners[bootstrap],
        }, child("gateway"));
        // On a first up (no swarm before this run) nothing waits for them: they also wait for the gateway to run, so
        // their CPU (docker driver) or uplink (ssh) goes to the first answer first.
        gatewayConverged.resolve([this.gateway.converged]);
        const loadsFirstAnswerNeeds = [
            ...Object.values(this.gateway.imageDeliveries),
            ...[...routed].flatMap((service) => Object.values(this.releases[service]?.deliveries ?? {})),
        ];
        firstAnswerLoads.resolve(loadsFirstAnswerNeeds);
        firstLoads.resolve([...loadsFirstAnswerNeeds, ...(firstUp ? [this.gateway.converged] : [])]);

        // Each node back at work: Ready, and the tasks the swarm placed on it (a gateway node's gateway) running and
        // healthy. The next node of the rollout waits for it.
        for (const node of plan.nodes) {
            // Not the node's routes step: routes wait for the release gates, releases for their zone's nodes, and those
            // for this settle step (a cycle that never resolves). Its gateway task, yes, once the node has routes
            // (templates/swarm/node-settle.sh): a rebuilt gateway node keeps them.
            const onNode = [...membership(node.name), ...(keepalived[node.name] ? [keepalived[node.name]] : [])];
            const settle = runners[bootstrap].run(`${name}-settle-${node.name}`, {
                script: "node-settle",
                env: {
                    NODE_ID: this.swarm.nodeIds[node.name],
                    MEMBER_NAME: node.name,
                    SETTLE_SECONDS: String(node.gateway ? gatewaySettleSeconds(plan.virtualIp) : 0),
                    ...(node.gateway ? { GATEWAY_SERVICE: plan.gateway.service } : {}),
                },
                triggers: readyIds(runners[node.name]),
                keepWhenNodeReplaced: node.name !== bootstrap,
                // On a first up no rollout waits for it: it waits for the gateway to run, so its polling of the swarm
                // does not compete with the first answer.
            }, { parent: this, dependsOn: [...onNode, ...(firstUp ? [this.gateway.converged] : [])] });
            settled[node.name].resolve(settle.resource);
        }
        this.dns = new Dns(`${name}-dns`, { dns: plan.dns }, { parent: this });
        this.registerOutputs({ managerHost: this.managerHost, zoneFile: this.dns.zoneFile });
    }
}
