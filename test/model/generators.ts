// Generated valid stack configs (fast-check), shared by the model's properties and the real-tool render test.
// Every key reaches the edges of its allowed range with a fair probability (explicit edge values in `fc.oneof` /
// `fc.constantFrom`), not only in theory: the longest names and hostnames, the most hostnames, one gateway node,
// the VRRP limits of both versions, ports 1 and 65535, empty optional lists.
import fc from "fast-check";
import type { StackConfigInput } from "../../model";
import { MAX_HOSTNAMES, MAX_HOSTNAMES_PER_RELEASE } from "../../model/releases";
import { TEST_HOST_KEY } from "./fixtures";

export const LAN = "192.168.50"; // the gateway/bridge subnet: nodes .10-.29, VIPs .200-.254

/** The most hostnames a generated config has in all, and in one release (a large but bounded count). */
export { MAX_HOSTNAMES, MAX_HOSTNAMES_PER_RELEASE } from "../../model/releases";

/** The most certificates (one hostname each) a generated nginx config has. */
export const MAX_CERTIFICATES = 40;

/**
 * The most certificates HAProxy's one bind line holds with names of `nameLength` (2048 characters, 64 words:
 * `    bind :65535 ssl strict-sni` then ` crt /run/secrets/<name>.crt` each), as the gateway's validation counts them.
 */
export function haproxyCertificates(nameLength: number): number {
    const head = "    bind :65535 ssl strict-sni".length + 1;
    return Math.min(MAX_CERTIFICATES, (64 - 4) / 2, Math.floor((2048 - head) / (" crt /run/secrets/".length + nameLength + ".crt".length)));
}

/** `base` padded to `length` characters with `fill` (names stay distinct: the bases are). */
export function padded(base: string, length: number, fill = "x"): string {
    return base.length >= length ? base : base + fill.repeat(length - base.length);
}

/** A DNS name of exactly 253 characters (four labels, the first three of 63) whose first label starts with `first`. */
export function longHostname(first: string): string {
    const label63 = (c: string) => c.repeat(63);
    const head = padded(first, 63, "a");
    return `${head}.${label63("b")}.${label63("c")}.${"d".repeat(253 - 3 * 64)}`;
}

/** The interface names the generator uses: the shortest, the longest (15) and the allowed punctuation. */
export const INTERFACES = ["eth0", "e", "abcdefghijklmno", "br-lan.10", "wg_0-x"] as const;

const labelArb = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?$/);
const hostnameArb = fc.tuple(labelArb, fc.constantFrom("example", "example.com", "shop.example.org")).map(([l, d]) => `${l}.${d}`);

/** A width: the shortest, the usual or the longest allowed. */
const widthArb = fc.constantFrom("short" as const, "usual" as const, "long" as const);
type Width = "short" | "usual" | "long";

const appArb = fc.record({
    zone: fc.nat({ max: 3 }),
    replicas: fc.integer({ min: 0, max: 4 }),
    // "major.minor" release names; distinct pairs give distinct service names (`app3-1-12` ≠ `app3-11-2`).
    releases: fc.uniqueArray(fc.tuple(fc.nat({ max: 9 }), fc.nat({ max: 20 })), {
        minLength: 1,
        maxLength: 4,
        selector: ([a, b]) => `${a}.${b}`,
    }),
    hostsPerRelease: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 4, maxLength: 4 }),
    endpointMode: fc.constantFrom("vip" as const, "dnsrr" as const),
    port: fc.oneof(fc.constantFrom(1, 8000, 65535), fc.integer({ min: 1, max: 65535 })),
    healthcheck: fc.record({
        interval: fc.integer({ min: 1, max: 10 }),
        retries: fc.integer({ min: 1, max: 5 }),
        startPeriod: fc.integer({ min: 0, max: 30 }),
        path: fc.constantFrom("/", "/healthz", "/a/b.c/~d_e-f/"),
    }),
    update: fc.record({ parallelism: fc.integer({ min: 0, max: 3 }), order: fc.constantFrom("start-first" as const, "stop-first" as const) }),
    env: fc.constantFrom<Record<string, string>[]>({}, { A: "" }, { _X9: "a value with spaces, 'quotes' and $(dollars)", LONG_NAME_1: "x".repeat(200) }),
});

const vipArb = fc.record({
    vrids: fc.uniqueArray(fc.oneof(fc.constantFrom(1, 255), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 3 }),
    hosts: fc.uniqueArray(fc.integer({ min: 200, max: 254 }), { minLength: 3, maxLength: 3 }),
    shorthand: fc.boolean(),
    /** VRRPv2: whole seconds 1-255; VRRPv3: 0.01 up to the most the schema allows. */
    timing: fc.oneof(
        fc.record({ version: fc.constant(2 as const), advertInt: fc.oneof(fc.constantFrom(1, 255), fc.integer({ min: 1, max: 3 })) }),
        fc.record({ version: fc.constant(3 as const), advertInt: fc.oneof(fc.constantFrom(0.01, 0.5, 40.95), fc.integer({ min: 1, max: 3 })) }),
    ),
    preempt: fc.boolean(),
    preemptDelay: fc.option(fc.constantFrom(0, 1000, 5), { nil: undefined }),
    transport: fc.constantFrom("unicast" as const, "multicast" as const),
    authentication: fc.option(fc.boolean(), { nil: undefined }),
    interface: fc.constantFrom(...INTERFACES),
    scriptUser: fc.constantFrom(undefined, "k", padded("keepalived_", 32, "z")),
    healthCheck: fc.oneof(
        fc.constant({}),
        fc.record({
            path: fc.constantFrom("/", "/healthz", "/a/b.c/~d_e-f/"),
            interval: fc.constantFrom(1, 4294),
            fall: fc.constantFrom(1, 10),
            rise: fc.constantFrom(1, 10),
        }),
    ),
    garpMasterDelay: fc.constantFrom(undefined, 0, 255),
    prefix: fc.constantFrom(undefined, 24, 8),
});

const gatewayArb = fc.record({
    engine: fc.constantFrom("nginx" as const, "haproxy" as const),
    ports: fc.constantFrom(undefined, { http: 1, https: 65535 }, { http: 65535, https: 1 }, { http: 8080, https: 8443 }),
    tls: fc.constantFrom("none" as const, "one" as const, "each" as const),
    defaultHost: fc.boolean(),
    httpsRedirect: fc.boolean(),
    hsts: fc.constantFrom(undefined, false as const, { maxAge: 0 }, { maxAge: 63072000, includeSubDomains: true, preload: true }),
    clientMaxBodySize: fc.constantFrom(undefined, "1", "1k", "999999g", "1024m"),
    timeouts: fc.constantFrom(undefined, { connect: 1, read: 1, send: 1 }, { connect: 86400, read: 86400, send: 86400 }),
    clientTimeouts: fc.constantFrom(undefined, { header: 1, idle: 1, keepAlive: 1 }, { header: 86400, idle: 86400, keepAlive: 86400 }),
    trustedProxies: fc.constantFrom<string[][]>([], ["0.0.0.0/1", "128.0.0.0/1"], ["10.0.0.0/8", "192.168.1.7/32"]),
    resolverValid: fc.constantFrom(undefined, 1, 600),
    serverSlots: fc.constantFrom(undefined, 1000),
    stopGracePeriod: fc.constantFrom(undefined, 0, 86400),
});

export const shapeArb = fc.record({
    managers: fc.constantFrom(1, 3, 5),
    gateways: fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 6 })),
    zones: fc.integer({ min: 1, max: 4 }),
    extraWorkers: fc.integer({ min: 0, max: 4 }),
    /** Zone index per manager / gateway / extra worker (taken modulo the zone count). */
    zoneOf: fc.array(fc.nat({ max: 3 }), { minLength: 15, maxLength: 15 }),
    driver: fc.constantFrom("docker" as const, "ssh" as const),
    sshUser: fc.constantFrom(undefined, "a", padded("deploy_", 32, "y")),
    managerAvailability: fc.constantFrom("active" as const, "drain" as const),
    /** Names (nodes, zones, apps, groups, certificates) and hostnames: shortest, usual or longest. */
    names: widthArb,
    hostnames: widthArb,
    /** One release with the most hostnames it may have (and the config then at its total). */
    manyHostnames: fc.boolean(),
    gateway: gatewayArb,
    zoneSubnets: fc.boolean(),
    vip: fc.option(vipArb, { nil: undefined }),
    apps: fc.array(appArb, { minLength: 1, maxLength: 8 }),
    hostPool: fc.uniqueArray(hostnameArb, { minLength: 0, maxLength: 40 }),
    labelOrder: fc.boolean(),
    /** Mark a bootstrap manager (by index) and rank the gateway nodes by distinct priorities (1 and 100 often among them). */
    ranked: fc.option(
        fc.record({
            bootstrap: fc.nat({ max: 4 }),
            priorities: fc.oneof(
                fc.constant([100, 1, 50, 2, 99, 3]),
                fc.shuffledSubarray(Array.from({ length: 100 }, (_, i) => i + 1), { minLength: 6, maxLength: 6 }),
            ),
        }),
        { nil: undefined },
    ),
});

export type Shape = typeof shapeArb extends fc.Arbitrary<infer T> ? T : never;

function nameOf(base: string, width: Width, max = 63): string {
    if (width === "long") return padded(base, max);
    return base;
}

function hostnamesOf(s: Shape): string[] {
    if (s.manyHostnames) {
        return Array.from({ length: MAX_HOSTNAMES }, (_, i) => (s.hostnames === "long" ? longHostname(`h${i}`) : s.hostnames === "short" ? `h${i}` : `h${i}.example.com`));
    }
    if (s.hostnames === "long") return s.hostPool.map((_, i) => longHostname(`h${i}`));
    if (s.hostnames === "short") return s.hostPool.map((_, i) => `h${i}`);
    return s.hostPool;
}

/** A valid config by construction: every zone has an active worker, names and addresses are unique. */
export function configOf(s: Shape): StackConfigInput {
    const w = s.names;
    const zones = Array.from({ length: s.zones }, (_, i) => nameOf(w === "short" ? `${"abcd"[i]}` : `z${i}`, w));
    let next = 10;
    let pick = 0;
    const zoneFor = () => zones[s.zoneOf[pick++ % s.zoneOf.length] % zones.length];
    const ranked = s.ranked;
    const node = (base: string, role: "manager" | "worker", zone: string, gateway = false, rank = 0) => ({
        name: nameOf(base, w),
        role,
        zone,
        address: `${LAN}.${next++}`,
        ...(gateway ? { gateway } : {}),
        ...(ranked && role === "manager" && rank === ranked.bootstrap % s.managers ? { bootstrap: true } : {}),
        ...(ranked && gateway ? { priority: ranked.priorities[rank] } : {}),
        labels: s.labelOrder ? { rack: `r${next % 3}`, "a.b": "x" } : { "a.b": "x", rack: `r${next % 3}` },
        ...(s.driver === "ssh" ? { hostKey: TEST_HOST_KEY } : {}),
    });
    const short = w === "short";
    const nodes = [
        ...Array.from({ length: s.managers }, (_, i) => node(short ? `m${i + 1}` : `manager-${i + 1}`, "manager", zoneFor(), false, i)),
        ...Array.from({ length: s.gateways }, (_, i) => node(short ? `g${i + 1}` : `gw-${i + 1}`, "worker", zoneFor(), true, i)),
        ...zones.map((_, i) => node(short ? `w${i}` : `worker-z${i}`, "worker", zones[i])),
        ...Array.from({ length: s.extraWorkers }, (_, i) => node(short ? `e${i + 1}` : `extra-${i + 1}`, "worker", zoneFor())),
    ];
    const pool = hostnamesOf(s);
    let host = 0;
    const apps = s.apps.map((a, i) => {
        const releases = a.releases.map(([major, minor]) => `${major}.${minor}`);
        // The service `<app>-<release slug>` is a DNS label of at most 63: a long app name leaves room for the longest slug.
        const appName = nameOf(short ? `a${i}` : `app${i}`, w, 63 - 1 - Math.max(...releases.map((r) => r.length)));
        return {
            name: appName,
            zone: zones[a.zone % zones.length],
            image: i % 2 ? `registry.example.com:5000/team/app${i}` : `app${i}`,
            port: a.port,
            replicas: a.replicas,
            endpointMode: a.endpointMode,
            healthcheck: a.healthcheck,
            update: a.update,
            env: a.env,
            releases: releases.map((name, j) => {
                // Many: each release takes the most it may until the pool (the most in all) is used up.
                const count = s.manyHostnames ? MAX_HOSTNAMES_PER_RELEASE : a.hostsPerRelease[j];
                return { name, hostnames: pool.slice(host, (host += count)) };
            }),
        };
    });
    const routed = apps.flatMap((a) => a.releases.flatMap((r) => r.hostnames));
    const vip = s.vip;
    const groups = vip
        ? vip.vrids.map((vrid, i) => ({ name: nameOf(short ? `v${i + 1}` : `vip${i + 1}`, w), address: `${LAN}.${vip.hosts[i]}`, virtualRouterId: vrid }))
        : [];
    const g = s.gateway;
    const certName = (i: number) => nameOf(short ? `t${i}` : `cert-${i}`, w);
    const most = g.engine === "haproxy" ? haproxyCertificates(certName(0).length) : MAX_CERTIFICATES;
    const tlsHosts = g.tls === "none" ? [] : g.tls === "one" ? routed.slice(0, 1) : routed.slice(0, most);
    const tls = tlsHosts.map((h, i) => ({ name: certName(i), hostnames: [h], certificateSecret: `tlsCert${i}`, keySecret: `tlsKey${i}` }));
    return {
        driver: s.driver,
        drivers: {
            docker: { network: { subnet: `${LAN}.0/24` } },
            ...(s.sshUser ? { ssh: { user: s.sshUser } } : {}),
        },
        nodes,
        swarm: { managerAvailability: s.managerAvailability, defaultAddrPool: ["10.20.0.0/16"] },
        networks: { zones: Object.fromEntries(zones.map((z, i) => [z, s.zoneSubnets ? { subnet: `10.30.${i}.0/24` } : {}])) },
        ...(vip
            ? {
                  virtualIp: {
                      ...(vip.shorthand && groups.length === 1 ? { address: groups[0].address, virtualRouterId: groups[0].virtualRouterId } : { groups }),
                      vrrpVersion: vip.timing.version,
                      advertInt: vip.timing.advertInt,
                      preempt: vip.preempt,
                      ...(vip.preempt && vip.preemptDelay !== undefined ? { preemptDelay: vip.preemptDelay } : {}),
                      transport: vip.transport,
                      ...(vip.timing.version === 2 && vip.authentication !== undefined ? { authentication: vip.authentication } : {}),
                      interface: vip.interface,
                      ...(vip.scriptUser ? { scriptUser: vip.scriptUser } : {}),
                      healthCheck: vip.healthCheck,
                      ...(vip.garpMasterDelay !== undefined ? { garpMasterDelay: vip.garpMasterDelay } : {}),
                      ...(vip.prefix !== undefined ? { prefix: vip.prefix } : {}),
                  },
              }
            : {}),
        gateway: {
            engine: g.engine,
            ...(g.ports ? { ports: g.ports } : {}),
            tls,
            ...(g.defaultHost && routed.length ? { defaultHost: routed[routed.length - 1] } : {}),
            httpsRedirect: g.httpsRedirect,
            ...(g.hsts !== undefined ? { hsts: g.hsts } : {}),
            ...(g.clientMaxBodySize ? { clientMaxBodySize: g.clientMaxBodySize } : {}),
            ...(g.timeouts ? { timeouts: g.timeouts } : {}),
            ...(g.clientTimeouts ? { clientTimeouts: g.clientTimeouts } : {}),
            trustedProxies: g.trustedProxies,
            ...(g.resolverValid ? { resolverValid: g.resolverValid } : {}),
            ...(g.engine === "haproxy" && g.serverSlots ? { serverSlots: g.serverSlots } : {}),
            ...(g.stopGracePeriod !== undefined ? { stopGracePeriod: g.stopGracePeriod } : {}),
        },
        apps,
    };
}

export const configArb = shapeArb.map(configOf);
