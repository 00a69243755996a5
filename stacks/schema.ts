// The stack config schema: the one source of the config's shape, its defaults and its types.
// Shape errors come from here; rules that span several keys live in validate.ts.
import { z } from "zod";
import { isCidr, isIpv4 } from "./net";

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const HOSTNAME = /^(?=.{1,253}$)([a-z0-9*]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
const NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
const LABEL_KEY = /^[a-zA-Z0-9]([a-zA-Z0-9._-]*[a-zA-Z0-9])?$/;
const SIZE = /^\d+[kmg]?$/;
const IMAGE = /^[a-z0-9][a-z0-9._/:@-]*$/;
const RELEASE = /^[a-zA-Z0-9][a-zA-Z0-9._-]*$/;

const ipv4 = () => z.string().refine(isIpv4, { message: "must be an IPv4 address like 10.0.0.1" });
const cidr = () =>
    z.string().refine(isCidr, { message: "must be an IPv4 network like 10.0.0.0/24 (no host bits set)" });
const port = () => z.number().int().min(1, "must be a port 1-65535").max(65535, "must be a port 1-65535");
const seconds = (min = 0) => z.number().min(min).max(86400);
const name = (what: string) =>
    z.string().max(63, `${what} must be at most 63 characters`).regex(NAME, `${what} must be lower-case letters, digits and '-' (DNS-safe)`);
/** The name of another config key that holds a secret (`pulumi config set --secret <name> …`). */
const secretRef = () => z.string().regex(/^[a-zA-Z][a-zA-Z0-9_-]*$/, "must name a secret config key");
const labels = () =>
    z.record(z.string().regex(LABEL_KEY, "label keys are letters, digits, '.', '_' and '-'"), z.string()).default({});

// ---- nodes and their drivers ------------------------------------------------------------

export const DockerDriverSchema = z.strictObject({
    /** Node image (docker-in-docker + keepalived). Built from templates/node/Dockerfile when `build` is true. */
    image: z.string().regex(IMAGE).default("swarm-platform/node:latest"),
    build: z.boolean().default(true),
    /** The bridge network the node containers live on (the "LAN" of the lab). */
    network: z
        .strictObject({
            name: name("network name").default("swarm-lab"),
            subnet: cidr().default("172.28.40.0/24"),
            gateway: ipv4().optional(),
        })
        .prefault({}),
    /** `--privileged`; when false, `capabilities` and `securityOpts` are used instead. */
    privileged: z.boolean().default(true),
    capabilities: z
        .strictObject({
            add: z.array(z.string().regex(/^[A-Z_]+$/)).default(["ALL"]),
            drop: z.array(z.string().regex(/^[A-Z_]+$/)).default([]),
        })
        .prefault({}),
    securityOpts: z.array(z.string()).default([]),
    /** Mount the host's cgroup tree read-write (needed by docker-in-docker without --privileged). */
    mountCgroup: z.boolean().default(false),
    /** Loopback port on the host where the first manager's engine API is published (never on another interface). */
    managerApiPort: port().default(23750),
    /** Storage driver of the inner engines. */
    storageDriver: z.enum(["overlay2", "vfs", "fuse-overlayfs"]).default("overlay2"),
});

export const SshDriverSchema = z.strictObject({
    user: z.string().min(1).default("root"),
    port: port().default(22),
    /** Config key of the secret holding the private key (PEM/OpenSSH). */
    privateKeySecret: secretRef().default("sshPrivateKey"),
    /** Extra ssh options for the docker provider (`ssh://…` shells out to ssh; the key must be in the agent). */
    sshOpts: z.array(z.string()).default([]),
    /** Run node scripts through sudo (when `user` is not root). */
    sudo: z.boolean().default(false),
});

const NodeSshOverride = z.strictObject({
    host: z.string().min(1).optional(),
    user: z.string().min(1).optional(),
    port: port().optional(),
});

export const NodeSchema = z.strictObject({
    name: name("node name"),
    role: z.enum(["manager", "worker"]),
    zone: name("zone"),
    address: ipv4(),
    gateway: z.boolean().default(false),
    labels: labels(),
    /** Overrides swarm.managerAvailability for this node. */
    availability: z.enum(["active", "pause", "drain"]).optional(),
    driver: z.enum(["docker", "ssh"]).optional(),
    ssh: NodeSshOverride.optional(),
});

// ---- swarm and networks -------------------------------------------------------------------

export const SwarmSchema = z
    .strictObject({
        /** Interface used for --advertise-addr/--data-path-addr; defaults to each node's `address`. */
        advertiseInterface: z.string().min(1).optional(),
        defaultAddrPool: z.array(cidr()).default(["10.20.0.0/16"]),
        defaultAddrPoolMaskLength: z.number().int().min(16).max(28).default(24),
        managerAvailability: z.enum(["active", "drain"]).default("active"),
        autolock: z.boolean().default(false),
        dataPathPort: port().default(4789),
    })
    .prefault({});

const OverlaySchema = z.strictObject({
    name: name("network name").optional(),
    subnet: cidr().optional(),
    encrypted: z.boolean().default(false),
    attachable: z.boolean().default(false),
    mtu: z.number().int().min(576).max(9000).optional(),
});

export const NetworksSchema = z
    .strictObject({
        /** One overlay per zone; the zone list of the whole config is the keys of this map. */
        zones: z.record(name("zone"), OverlaySchema.prefault({})).default({}),
        gateway: OverlaySchema.extend({ name: name("network name").default("gateway") }).prefault({}),
        ingress: z
            .strictObject({
                subnet: cidr(),
                gateway: ipv4().optional(),
                encrypted: z.boolean().default(false),
                mtu: z.number().int().min(576).max(9000).optional(),
            })
            .optional(),
    })
    .prefault({});

// ---- virtual IP -----------------------------------------------------------------------------

const VipGroupSchema = z.strictObject({
    name: name("VRRP group name").optional(),
    address: ipv4(),
    virtualRouterId: z.number().int().min(1, "must be 1-255").max(255, "must be 1-255"),
});

export const VirtualIpSchema = z.strictObject({
    /** Shorthand for a single group: `address` + `virtualRouterId`. */
    address: ipv4().optional(),
    virtualRouterId: z.number().int().min(1, "must be 1-255").max(255, "must be 1-255").optional(),
    groups: z.array(VipGroupSchema).optional(),
    prefix: z.number().int().min(8).max(32).default(24),
    interface: z.string().min(1).default("eth0"),
    vrrpVersion: z.union([z.literal(2), z.literal(3)]).default(2),
    /** Seconds between adverts; whole seconds with VRRPv2. */
    advertInt: z.number().min(0.01).max(255).default(1),
    transport: z.enum(["unicast", "multicast"]).default("unicast"),
    /** false = `state BACKUP` + `nopreempt` everywhere: a recovered node does not take the VIP back. */
    preempt: z.boolean().default(false),
    preemptDelay: z.number().int().min(0).max(1000).optional(),
    /** VRRPv2 PASS authentication with a generated 8-character password. Not available with VRRPv3. */
    authentication: z.boolean().optional(),
    /** Fixed password instead of a generated one (VRRPv2 PASS: at most 8 characters count). */
    passwordSecret: secretRef().optional(),
    healthCheck: z
        .strictObject({
            path: z.string().startsWith("/").default("/healthz"),
            interval: seconds(1).default(1),
            timeout: seconds(1).default(1),
            fall: z.number().int().min(1).max(10).default(2),
            rise: z.number().int().min(1).max(10).default(2),
        })
        .prefault({}),
    /** The keepalived script user (enable_script_security). */
    scriptUser: z.string().min(1).default("keepalived_script"),
    garpMasterDelay: z.number().int().min(0).max(255).default(1),
});

// ---- gateway --------------------------------------------------------------------------------

export const GatewaySchema = z
    .strictObject({
        engine: z.enum(["nginx", "haproxy"]).default("nginx"),
        /** Base image; defaults per engine. */
        baseImage: z.string().regex(IMAGE).optional(),
        /** Name (without tag) of the gateway image this program builds. */
        image: z.string().regex(IMAGE).default("swarm-platform/gateway"),
        /** How the image reaches the nodes: `load` (docker save | docker load, air-gapped) or `registry` (push/pull). */
        delivery: z.enum(["load", "registry"]).default("load"),
        registry: z
            .strictObject({
                server: z.string().min(1),
                username: z.string().min(1),
                passwordSecret: secretRef(),
            })
            .optional(),
        ports: z.strictObject({ http: port().default(80), https: port().default(443) }).prefault({}),
        tls: z
            .array(
                z.strictObject({
                    hostnames: z.array(z.string().regex(HOSTNAME, "must be a lower-case DNS name")).min(1),
                    certificateSecret: secretRef(),
                    keySecret: secretRef(),
                }),
            )
            .default([]),
        /** What an unknown or missing Host gets: `reject` closes the connection (nginx 444), or a hostname to serve instead. */
        defaultHost: z.union([z.literal("reject"), z.string().regex(HOSTNAME)]).default("reject"),
        clientMaxBodySize: z.string().regex(SIZE, "a size like 10m").default("10m"),
        timeouts: z
            .strictObject({
                connect: seconds(1).default(5),
                read: seconds(1).default(60),
                send: seconds(1).default(60),
            })
            .prefault({}),
        /** Seconds nginx caches Docker DNS answers (Docker answers with TTL 600). */
        resolverValid: z.number().int().min(1).max(600).default(10),
        /** HAProxy server-template slots per release; must exceed replicas + update surge. */
        serverSlots: z.number().int().min(1).max(1000).optional(),
        stopGracePeriod: seconds(0).default(30),
    })
    .prefault({});

// ---- apps and releases ----------------------------------------------------------------------

const HealthcheckSchema = z.strictObject({
    /** Exec form (["CMD", "curl", "-fsS", "http://127.0.0.1:8000/healthz"]) or ["NONE"] to disable the image's. */
    test: z.array(z.string()).min(1).optional(),
    /** HTTP path probed with curl when `test` is not given. */
    path: z.string().startsWith("/").default("/healthz"),
    interval: seconds(1).default(5),
    timeout: seconds(1).default(3),
    retries: z.number().int().min(1).max(100).default(3),
    startPeriod: seconds(0).default(10),
});

const UpdatePolicySchema = z.strictObject({
    parallelism: z.number().int().min(0).default(1),
    delay: seconds(0).default(0),
    order: z.enum(["start-first", "stop-first"]).default("start-first"),
    failureAction: z.enum(["rollback", "pause", "continue"]).default("rollback"),
    /** Seconds each task is watched after an update; default start_period + interval × retries + 5. */
    monitor: seconds(0).optional(),
    maxFailureRatio: z.number().min(0).max(1).default(0),
});

const PublishSchema = z.strictObject({
    target: port(),
    published: port(),
    protocol: z.enum(["tcp", "udp"]).default("tcp"),
    mode: z.enum(["ingress", "host"]).default("host"),
});

export const ReleaseSchema = z.strictObject({
    name: z.string().max(40).regex(RELEASE, "release names are letters, digits, '.', '_' and '-'"),
    /** Image tag; defaults to the release name. */
    tag: z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/).optional(),
    /** Full image reference overriding app.image:tag. */
    image: z.string().regex(IMAGE).optional(),
    replicas: z.number().int().min(0).max(1000).optional(),
    hostnames: z.array(z.string().regex(HOSTNAME, "must be a lower-case DNS name")).default([]),
    env: z.record(z.string(), z.string()).default({}),
    /** Explicit swarm service name; defaults to `<app>-<release>` made DNS-safe. */
    service: z.string().optional(),
});

export const AppSchema = z.strictObject({
    name: name("app name"),
    zone: name("zone"),
    image: z.string().regex(IMAGE),
    port: port().default(8000),
    env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "env names are shell identifiers"), z.string()).default({}),
    healthcheck: HealthcheckSchema.prefault({}),
    replicas: z.number().int().min(0).max(1000).default(2),
    endpointMode: z.enum(["vip", "dnsrr"]).default("vip"),
    publish: z.array(PublishSchema).default([]),
    /** Published ports bypass the gateway (and, in ingress mode, open on every node): opt in per app. */
    allowPublishedPorts: z.boolean().default(false),
    update: UpdatePolicySchema.prefault({}),
    rollback: UpdatePolicySchema.extend({ order: z.enum(["start-first", "stop-first"]).default("stop-first") }).prefault({}),
    stopGracePeriod: seconds(0).default(30),
    labels: labels(),
    /** Build `image:<tag>` for each release on the engine running Pulumi (build arg RELEASE=<release name>). */
    build: z
        .strictObject({
            context: z.string().min(1),
            dockerfile: z.string().min(1).optional(),
            args: z.record(z.string(), z.string()).default({}),
        })
        .optional(),
    /** Copy each release image from the engine running Pulumi into the zone's nodes (docker save | docker load), for built or air-gapped images. Default: true when `build` is set. */
    load: z.boolean().optional(),
    releases: z.array(ReleaseSchema).min(1, "an app needs at least one release"),
});

export const DnsSchema = z
    .strictObject({
        ttl: z.number().int().min(1).max(604800).default(300),
    })
    .prefault({});

// ---- the whole stack ------------------------------------------------------------------------

export const StackConfigSchema = z.strictObject({
    /** Default driver for nodes that do not name one. */
    driver: z.enum(["docker", "ssh"]).default("docker"),
    drivers: z
        .strictObject({
            docker: DockerDriverSchema.prefault({}),
            ssh: SshDriverSchema.prefault({}),
        })
        .prefault({}),
    nodes: z.array(NodeSchema).min(1, "at least one node is needed"),
    swarm: SwarmSchema,
    networks: NetworksSchema,
    virtualIp: VirtualIpSchema.optional(),
    gateway: GatewaySchema,
    apps: z.array(AppSchema).default([]),
    dns: DnsSchema,
});

/** What a user writes (defaults optional). */
export type StackConfigInput = z.input<typeof StackConfigSchema>;
/** What the rest of the program sees (defaults filled). */
export type StackConfig = z.output<typeof StackConfigSchema>;
export type NodeConfig = StackConfig["nodes"][number];
export type AppConfig = StackConfig["apps"][number];
export type ReleaseConfig = AppConfig["releases"][number];
export type VirtualIpConfig = NonNullable<StackConfig["virtualIp"]>;
export type GatewayConfig = StackConfig["gateway"];

/** Top-level config keys, i.e. the `<project>:<key>` names in Pulumi.<stack>.yaml. */
export const CONFIG_KEYS = Object.keys(StackConfigSchema.shape) as (keyof StackConfig)[];

export { DNS_LABEL, HOSTNAME };
