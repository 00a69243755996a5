// StackConfig → Plan: every decision that needs no machine. Pure and deterministic.
import { effectiveAvailability, GATEWAY_SERVICE, monitorSeconds, overlayNameOf, serviceNameOf, updateSurge, vipGroupsOf } from "./naming";
import type { AppConfig, StackConfig } from "./schema";

export type DriverName = "docker" | "ssh";
export type NodeRole = "manager" | "worker";
export type Availability = "active" | "pause" | "drain";

export interface PlanNode {
    readonly name: string;
    readonly role: NodeRole;
    readonly zone: string;
    readonly address: string;
    readonly gateway: boolean;
    /** Swarm node labels, `zone` and `gateway` included; keys sorted. */
    readonly labels: Readonly<Record<string, string>>;
    readonly availability: Availability;
    readonly driver: DriverName;
    /** SSH connection for driver ssh. */
    readonly ssh?: { readonly host: string; readonly user: string; readonly port: number };
}

export interface PlanNetwork {
    /** `gateway` or `zone:<zone>`: how releases refer to it. */
    readonly key: string;
    readonly name: string;
    readonly zone?: string;
    readonly subnet?: string;
    readonly encrypted: boolean;
    readonly attachable: boolean;
    readonly mtu?: number;
}

export interface PlanIngress {
    readonly name: "ingress";
    readonly subnet: string;
    readonly gateway?: string;
    readonly encrypted: boolean;
    readonly mtu?: number;
}

export interface PlanVrrpMember {
    readonly node: string;
    readonly address: string;
    /** Distinct within the group; the highest is the preferred master. */
    readonly priority: number;
    /** unicast_peer: every other member's address. */
    readonly peers: readonly string[];
}

export interface PlanVrrpGroup {
    readonly name: string;
    readonly address: string;
    /** The same on every member. */
    readonly virtualRouterId: number;
    /** Sorted by priority, highest first. */
    readonly members: readonly PlanVrrpMember[];
}

export interface PlanVrrp {
    readonly interface: string;
    readonly prefix: number;
    readonly version: 2 | 3;
    readonly advertInt: number;
    readonly transport: "unicast" | "multicast";
    readonly preempt: boolean;
    readonly preemptDelay?: number;
    readonly authentication: boolean;
    readonly passwordSecret?: string;
    readonly healthCheck: {
        readonly url: string;
        readonly interval: number;
        readonly timeout: number;
        readonly fall: number;
        readonly rise: number;
    };
    readonly scriptUser: string;
    readonly garpMasterDelay: number;
    readonly groups: readonly PlanVrrpGroup[];
}

export interface PlanTlsCertificate {
    /** Swarm secret / file name stem, e.g. `tls-0`. */
    readonly name: string;
    readonly hostnames: readonly string[];
    readonly certificateSecret: string;
    readonly keySecret: string;
    readonly certificatePath: string;
    readonly keyPath: string;
}

export interface PlanRoute {
    readonly hostname: string;
    readonly app: string;
    readonly release: string;
    readonly service: string;
    readonly port: number;
    /** Name of the TLS certificate serving this hostname, if any. */
    readonly tls?: string;
    /** HAProxy server-template slots for this route's service. */
    readonly slots: number;
}

export interface PlanGateway {
    readonly engine: "nginx" | "haproxy";
    readonly baseImage: string;
    readonly image: string;
    readonly service: string;
    readonly network: string;
    readonly nodes: readonly string[];
    readonly ports: { readonly http: number; readonly https: number };
    readonly healthPath: string;
    readonly tls: readonly PlanTlsCertificate[];
    readonly defaultHost: string;
    readonly clientMaxBodySize: string;
    readonly timeouts: { readonly connect: number; readonly read: number; readonly send: number };
    readonly resolverValid: number;
    readonly stopGracePeriod: number;
    readonly delivery: "load" | "registry";
    readonly registry?: { readonly server: string; readonly username: string; readonly passwordSecret: string };
    /** Where the routes file lives on each gateway node (bind-mounted into the gateway so routes reload in place). */
    readonly routesDir: string;
    /** Host dir shared by the gateway and keepalived's check: a `draining` file there moves the VIP away. */
    readonly stateDir: string;
    /** Seconds a stopping gateway keeps serving after flagging itself as draining, so the VIP leaves first. */
    readonly drainSeconds: number;
}

export interface PlanUpdatePolicy {
    readonly parallelism: number;
    readonly delay: number;
    readonly order: "start-first" | "stop-first";
    readonly failureAction: "rollback" | "pause" | "continue";
    readonly monitor: number;
    readonly maxFailureRatio: number;
}

export interface PlanRelease {
    readonly app: string;
    readonly release: string;
    readonly service: string;
    readonly zone: string;
    readonly image: string;
    readonly port: number;
    readonly replicas: number;
    readonly env: Readonly<Record<string, string>>;
    readonly hostnames: readonly string[];
    readonly healthcheck: {
        readonly test: readonly string[];
        readonly interval: number;
        readonly timeout: number;
        readonly retries: number;
        readonly startPeriod: number;
    };
    /** Network names: the zone's overlay, then the gateway network when any release of the app has hostnames. */
    readonly networks: readonly string[];
    readonly constraints: readonly string[];
    readonly endpointMode: "vip" | "dnsrr";
    readonly publish: readonly { target: number; published: number; protocol: "tcp" | "udp"; mode: "ingress" | "host" }[];
    readonly update: PlanUpdatePolicy;
    readonly rollback: PlanUpdatePolicy;
    readonly stopGracePeriod: number;
    readonly labels: Readonly<Record<string, string>>;
    /** Build the image on the engine running Pulumi before deploying. */
    readonly build?: { readonly context: string; readonly dockerfile?: string; readonly args: Readonly<Record<string, string>> };
    /** Deliver the image into the zone's nodes with docker save | docker load instead of a registry pull. */
    readonly load: boolean;
}

export interface PlanDnsRecord {
    readonly name: string;
    readonly type: "A";
    readonly value: string;
    readonly ttl: number;
}

export interface Plan {
    readonly driver: DriverName;
    readonly drivers: StackConfig["drivers"];
    readonly nodes: readonly PlanNode[];
    /** Init on `firstManager`, join `managers` one at a time, then `workers` in parallel. */
    readonly bootstrap: { readonly firstManager: string; readonly managers: readonly string[]; readonly workers: readonly string[] };
    readonly swarm: StackConfig["swarm"];
    readonly networks: readonly PlanNetwork[];
    readonly ingress?: PlanIngress;
    readonly vrrp?: PlanVrrp;
    readonly gateway: PlanGateway;
    readonly releases: readonly PlanRelease[];
    readonly routes: readonly PlanRoute[];
    readonly dns: readonly PlanDnsRecord[];
    /** TTL of the zone file and of every record. */
    readonly dnsTtl: number;
}

const DEFAULT_BASE_IMAGE = { nginx: "nginx:1.27-bookworm", haproxy: "haproxy:2.8-bookworm" } as const;
export const ROUTES_DIR = "/etc/swarm-gateway";
// Not under /run: swarm bind mounts need the source to exist, and /run is emptied by a reboot.
export const STATE_DIR = "/var/lib/swarm-gateway";
const APP_LABEL = "swarm-platform.app";
const RELEASE_LABEL = "swarm-platform.release";

/** Plans a validated config. Same input, byte-identical output (no clocks, no randomness, sorted maps). */
export function planStack(c: StackConfig): Plan {
    const nodes = c.nodes.map((n): PlanNode => {
        const driver = n.driver ?? c.driver;
        const labels = sortedRecord({ ...n.labels, zone: n.zone, ...(n.gateway ? { gateway: "true" } : {}) });
        return {
            name: n.name,
            role: n.role,
            zone: n.zone,
            address: n.address,
            gateway: n.gateway,
            labels,
            availability: effectiveAvailability(c, n),
            driver,
            ...(driver === "ssh"
                ? { ssh: { host: n.ssh?.host ?? n.address, user: n.ssh?.user ?? c.drivers.ssh.user, port: n.ssh?.port ?? c.drivers.ssh.port } }
                : {}),
        };
    });
    const managers = nodes.filter((n) => n.role === "manager").map((n) => n.name);
    const gatewayNetwork = c.networks.gateway.name;
    const networks: PlanNetwork[] = [
        overlay("gateway", gatewayNetwork, c.networks.gateway),
        ...Object.keys(c.networks.zones)
            .sort()
            .map((zone) => ({ ...overlay(`zone:${zone}`, overlayNameOf(c, zone), c.networks.zones[zone]), zone })),
    ];
    const releases = c.apps.flatMap((app) => planReleases(c, app, gatewayNetwork));
    const tls = c.gateway.tls.map((t, i): PlanTlsCertificate => ({
        name: `tls-${i}`,
        hostnames: [...t.hostnames].sort(),
        certificateSecret: t.certificateSecret,
        keySecret: t.keySecret,
        certificatePath: `/run/secrets/tls-${i}.crt`,
        keyPath: `/run/secrets/tls-${i}.key`,
    }));
    const routes = planRoutes(c, releases, tls);
    const vrrp = planVrrp(c, nodes);
    // The VIP holder notices the flag after fall × interval, then a backup takes over within ~1 advert.
    const drainSeconds = vrrp ? Math.ceil(vrrp.healthCheck.fall * vrrp.healthCheck.interval + 2 * vrrp.advertInt + 1) : 0;
    const gateway: PlanGateway = {
        engine: c.gateway.engine,
        baseImage: c.gateway.baseImage ?? DEFAULT_BASE_IMAGE[c.gateway.engine],
        image: c.gateway.image,
        service: GATEWAY_SERVICE,
        network: gatewayNetwork,
        nodes: nodes.filter((n) => n.gateway).map((n) => n.name),
        ports: { ...c.gateway.ports },
        healthPath: c.virtualIp?.healthCheck.path ?? "/healthz",
        tls,
        defaultHost: c.gateway.defaultHost,
        clientMaxBodySize: c.gateway.clientMaxBodySize,
        timeouts: { ...c.gateway.timeouts },
        resolverValid: c.gateway.resolverValid,
        stopGracePeriod: Math.max(c.gateway.stopGracePeriod, drainSeconds + 10),
        delivery: c.gateway.delivery,
        ...(c.gateway.registry ? { registry: { ...c.gateway.registry } } : {}),
        routesDir: ROUTES_DIR,
        stateDir: STATE_DIR,
        drainSeconds,
    };
    return {
        driver: c.driver,
        drivers: c.drivers,
        nodes,
        bootstrap: {
            firstManager: managers[0],
            managers: managers.slice(1),
            workers: nodes.filter((n) => n.role === "worker").map((n) => n.name),
        },
        swarm: c.swarm,
        networks,
        ...(c.networks.ingress ? { ingress: { name: "ingress" as const, ...c.networks.ingress } } : {}),
        ...(vrrp ? { vrrp } : {}),
        gateway,
        releases,
        routes,
        dns: planDns(c, nodes, routes, vrrp),
        dnsTtl: c.dns.ttl,
    };
}

function overlay(key: string, name: string, net: Omit<StackConfig["networks"]["gateway"], "name">): PlanNetwork {
    return {
        key,
        name,
        ...(net.subnet ? { subnet: net.subnet } : {}),
        encrypted: net.encrypted,
        // The gateway network is attachable so operators can debug with `docker run --network gateway`.
        attachable: net.attachable,
        ...(net.mtu ? { mtu: net.mtu } : {}),
    };
}

function planReleases(c: StackConfig, app: AppConfig, gatewayNetwork: string): PlanRelease[] {
    const hc = app.healthcheck;
    // curl, or wget where the image has no curl (busybox/alpine); the path is URL characters only (schema).
    const url = `http://127.0.0.1:${app.port}${hc.path}`;
    const test = hc.test ?? ["CMD-SHELL", `curl -fsS -o /dev/null ${url} || wget -q -O /dev/null ${url}`];
    // Every release of a routed app joins the gateway network, so moving its last hostname away (or back) changes
    // only routes: networks of a swarm service cannot change in place (the service would be replaced).
    const routed = app.releases.some((r) => r.hostnames.length > 0);
    return app.releases.map((rel) => {
        const service = serviceNameOf(app, rel);
        return {
            app: app.name,
            release: rel.name,
            service,
            zone: app.zone,
            image: rel.image ?? `${app.image}:${rel.tag ?? rel.name}`,
            port: app.port,
            replicas: rel.replicas ?? app.replicas,
            env: sortedRecord({ ...app.env, ...rel.env }),
            hostnames: [...rel.hostnames].sort(),
            healthcheck: { test, interval: hc.interval, timeout: hc.timeout, retries: hc.retries, startPeriod: hc.startPeriod },
            networks: [overlayNameOf(c, app.zone), ...(routed ? [gatewayNetwork] : [])],
            constraints: [`node.labels.zone==${app.zone}`],
            endpointMode: app.endpointMode,
            publish: app.publish.map((p) => ({ ...p })),
            update: updatePolicy(app, "update"),
            rollback: updatePolicy(app, "rollback"),
            stopGracePeriod: app.stopGracePeriod,
            labels: sortedRecord({ ...app.labels, [APP_LABEL]: app.name, [RELEASE_LABEL]: rel.name }),
            ...(app.build
                ? {
                      build: {
                          context: app.build.context,
                          ...(app.build.dockerfile ? { dockerfile: app.build.dockerfile } : {}),
                          args: sortedRecord({ ...app.build.args, RELEASE: rel.name }),
                      },
                  }
                : {}),
            load: app.load ?? app.build !== undefined,
        };
    });
}

function updatePolicy(app: AppConfig, which: "update" | "rollback"): PlanUpdatePolicy {
    const p = app[which];
    return {
        parallelism: p.parallelism,
        delay: p.delay,
        order: p.order,
        failureAction: p.failureAction,
        monitor: monitorSeconds(app, which),
        maxFailureRatio: p.maxFailureRatio,
    };
}

function planRoutes(c: StackConfig, releases: readonly PlanRelease[], tls: readonly PlanTlsCertificate[]): PlanRoute[] {
    const routes = releases.flatMap((r) =>
        r.hostnames.map((hostname): PlanRoute => {
            const cert = tls.find((t) => t.hostnames.includes(hostname));
            const surge = Math.max(updateSurge(r.update, r.replicas), updateSurge(r.rollback, r.replicas));
            return {
                hostname,
                app: r.app,
                release: r.release,
                service: r.service,
                port: r.port,
                ...(cert ? { tls: cert.name } : {}),
                slots: c.gateway.serverSlots ?? Math.max(10, 2 * (r.replicas + surge)),
            };
        }),
    );
    return routes.sort((a, b) => compare(a.hostname, b.hostname));
}

function planVrrp(c: StackConfig, nodes: readonly PlanNode[]): PlanVrrp | undefined {
    const vip = c.virtualIp;
    if (!vip) return undefined;
    const gateways = nodes.filter((n) => n.gateway);
    // Distinct priorities, highest first; each group prefers a different node so several VIPs spread out.
    const step = gateways.length <= 19 ? 10 : 1;
    const groups = vipGroupsOf(vip).map((g, gi): PlanVrrpGroup => {
        const rotated = gateways.map((_, i) => gateways[(i + gi) % gateways.length]);
        const members = rotated.map((n, rank) => ({
            node: n.name,
            address: n.address,
            priority: 200 - rank * step,
            peers: gateways.filter((o) => o.name !== n.name).map((o) => o.address),
        }));
        return { name: g.name, address: g.address, virtualRouterId: g.virtualRouterId, members };
    });
    const authentication = vip.authentication ?? vip.vrrpVersion === 2;
    return {
        interface: vip.interface,
        prefix: vip.prefix,
        version: vip.vrrpVersion,
        advertInt: vip.advertInt,
        transport: vip.transport,
        preempt: vip.preempt,
        ...(vip.preemptDelay !== undefined ? { preemptDelay: vip.preemptDelay } : {}),
        authentication,
        ...(authentication && vip.passwordSecret ? { passwordSecret: vip.passwordSecret } : {}),
        healthCheck: {
            url: `http://127.0.0.1:${c.gateway.ports.http}${vip.healthCheck.path}`,
            interval: vip.healthCheck.interval,
            timeout: vip.healthCheck.timeout,
            fall: vip.healthCheck.fall,
            rise: vip.healthCheck.rise,
        },
        scriptUser: vip.scriptUser,
        garpMasterDelay: vip.garpMasterDelay,
        groups,
    };
}

/** One A record per hostname and VIP; without a VIP, one per gateway node (DNS round robin). */
function planDns(c: StackConfig, nodes: readonly PlanNode[], routes: readonly PlanRoute[], vrrp?: PlanVrrp): PlanDnsRecord[] {
    const targets = vrrp ? vrrp.groups.map((g) => g.address) : nodes.filter((n) => n.gateway).map((n) => n.address);
    return routes.flatMap((r) => targets.map((value) => ({ name: r.hostname, type: "A" as const, value, ttl: c.dns.ttl })));
}

function sortedRecord(rec: Readonly<Record<string, string>>): Record<string, string> {
    return Object.fromEntries(Object.entries(rec).sort(([a], [b]) => compare(a, b)));
}

function compare(a: string, b: string): number {
    return a < b ? -1 : a > b ? 1 : 0;
}
