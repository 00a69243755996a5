// The stack config schema: the one source of the config's shape, its defaults and its types.
// Shape errors come from here; rules that span several keys live in validate.ts.
// Each key's `.describe()` text goes into schema/stack-config.schema.json (editor hovers) and the README reference
// table (`npm run schema -- --markdown`).
import { z } from "zod";
import { isCidr, isIpv4 } from "./net";

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
// A DNS name, optionally a leading `*.` wildcard (what nginx and HAProxy accept as a server name).
const HOSTNAME = /^(?=.{1,253}$)(\*\.)?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
// Goes into nginx, HAProxy, a Dockerfile and a shell script: keep it to URL path characters.
const UNIX_USER = /^[a-z_][a-z0-9_-]{0,31}$/;
const URL_PATH = /^\/[A-Za-z0-9._~/-]*$/;
const NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
const LABEL_KEY = /^[a-zA-Z0-9]([a-zA-Z0-9._-]*[a-zA-Z0-9])?$/;
const SIZE = /^\d+[kmg]?$/;
const IMAGE = /^[a-z0-9][a-z0-9._/:@-]*$/;
const RELEASE = /^[a-zA-Z0-9][a-zA-Z0-9._-]*$/;

// The checks are net.ts's; the meta only tells the JSON Schema (editors) what the strings are.
const OCTET = "(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)";
const ipv4 = () =>
    z.string().refine(isIpv4, { message: "must be an IPv4 address like 10.0.0.1" }).meta({ title: "IPv4 address", format: "ipv4" });
const cidr = () =>
    z
        .string()
        .refine(isCidr, { message: "must be an IPv4 network like 10.0.0.0/24 (no host bits set)" })
        .meta({ title: "IPv4 network (CIDR)", pattern: `^(${OCTET}\\.){3}${OCTET}/(3[0-2]|[12]?\\d)$` });
const port = () => z.number().int().min(1, "must be a port 1-65535").max(65535, "must be a port 1-65535");
const seconds = (min = 0) => z.number().min(min).max(86400);
const name = (what: string) =>
    z.string().max(63, `${what} must be at most 63 characters`).regex(NAME, `${what} must be lower-case letters, digits and '-' (DNS-safe)`);
/** The name of another config key that holds a secret (`pulumi config set --secret <name> …`). */
const secretRef = () => z.string().regex(/^[a-zA-Z][a-zA-Z0-9_-]*$/, "must name a secret config key");
const labels = () =>
    z
        .record(
            z.string().regex(LABEL_KEY, "label keys are letters, digits, '.', '_' and '-'"),
            z.string().regex(/^[^\r\n]*$/, "label values are one line"),
        )
        .default({});
const image = () => z.string().regex(IMAGE, "must be a lower-case image reference like registry.example.com/team/app");
const hostname = () => z.string().regex(HOSTNAME, "must be a lower-case DNS name");
const capability = () => z.string().regex(/^[A-Z_]+$/, "capability names are upper-case, like NET_ADMIN");
const vrid = () => z.number().int().min(1, "must be 1-255").max(255, "must be 1-255");

// ---- nodes and their drivers ------------------------------------------------------------

export const DockerDriverSchema = z.strictObject({
    image: image()
        .default("swarm-platform/node:latest")
        .describe("Node image (docker-in-docker + keepalived). Built from templates/node/Dockerfile when `build` is true."),
    build: z.boolean().default(true).describe("Build the node image on the engine running Pulumi."),
    network: z
        .strictObject({
            name: name("network name").default("swarm-lab").describe("Name of the bridge network."),
            subnet: cidr().default("172.28.40.0/24").describe("Subnet of the bridge; node addresses and the VIP are taken from it."),
            gateway: ipv4().optional().describe("Bridge gateway address; default: the subnet's first address."),
        })
        .prefault({})
        .describe('The bridge network the node containers live on (the "LAN" of the lab).'),
    privileged: z.boolean().default(true).describe("`--privileged`; when false, `capabilities` and `securityOpts` are used instead."),
    capabilities: z
        .strictObject({
            add: z.array(capability()).default(["ALL"]).describe("`--cap-add` for the node containers."),
            drop: z.array(capability()).default([]).describe("`--cap-drop` for the node containers."),
        })
        .prefault({})
        .describe("Capabilities of the node containers when `privileged` is false."),
    securityOpts: z.array(z.string()).default([]).describe("`--security-opt` values when `privileged` is false."),
    mountCgroup: z.boolean().default(false).describe("Mount the host's cgroup tree read-write (needed by docker-in-docker without --privileged)."),
    managerApiPort: port()
        .default(23750)
        .describe("Loopback port on the host where the first manager's engine API is published (never on another interface)."),
    storageDriver: z.enum(["overlay2", "vfs", "fuse-overlayfs"]).default("overlay2").describe("Storage driver of the inner engines."),
});

export const SshDriverSchema = z.strictObject({
    user: z.string().regex(UNIX_USER, "a user name like deploy").default("root").describe("SSH user on every node (override per node with `nodes[].ssh.user`)."),
    port: port().default(22).describe("SSH port on every node."),
    privateKeySecret: secretRef().default("sshPrivateKey").describe("Config key of the secret holding the private key (PEM/OpenSSH)."),
    sshOpts: z
        // Passed to ssh on a command line (image loads): plain option words only, no spaces or quotes.
        .array(z.string().regex(/^[A-Za-z0-9_.,=/@:+-]+$/, "one ssh argument without spaces or quotes, e.g. -o or StrictHostKeyChecking=yes"))
        .default([])
        .describe("Extra ssh arguments for the docker provider and image loads (both use the local ssh client; the key must be in the agent), e.g. [-o, UserKnownHostsFile=/etc/swarm/known_hosts]."),
    sudo: z.boolean().default(false).describe("Run node scripts through sudo (when `user` is not root)."),
});

const NodeSshOverride = z.strictObject({
    host: z.string().min(1).optional().describe("Host ssh connects to; default: the node's `address`."),
    user: z.string().regex(UNIX_USER, "a user name like deploy").optional().describe("Overrides `drivers.ssh.user` for this node."),
    port: port().optional().describe("Overrides `drivers.ssh.port` for this node."),
});

export const NodeSchema = z.strictObject({
    name: name("node name").describe("Node name, unique in the stack."),
    role: z.enum(["manager", "worker"]).describe("Swarm role; use an odd number of managers (1, 3, 5) for a Raft quorum."),
    zone: name("zone").describe("The node's zone, a key of `networks.zones`: it runs the releases of that zone's apps."),
    address: ipv4().describe("The node's IPv4 address on the LAN (advertise and data-path address)."),
    gateway: z.boolean().default(false).describe("Runs the gateway and is a VRRP member for the virtual IP."),
    labels: labels().describe("Extra swarm node labels; `zone` and `gateway` are set from the fields of the same name."),
    availability: z.enum(["active", "pause", "drain"]).optional().describe("Overrides `swarm.managerAvailability` for this node."),
    driver: z.enum(["docker", "ssh"]).optional().describe("The node's driver; must equal the stack `driver` (one driver per swarm)."),
    ssh: NodeSshOverride.optional().describe("SSH connection overrides for this node (driver ssh only)."),
});

// ---- swarm and networks -------------------------------------------------------------------

export const SwarmSchema = z
    .strictObject({
        advertiseInterface: z
            .string()
            .min(1)
            .optional()
            .describe("Interface used for --advertise-addr/--data-path-addr; defaults to each node's `address`."),
        defaultAddrPool: z
            .array(cidr())
            .default(["10.20.0.0/16"])
            .describe("Pools overlay subnets are allocated from (`--default-addr-pool`); must not overlap the LAN."),
        defaultAddrPoolMaskLength: z
            .number()
            .int()
            .min(16)
            .max(28)
            .default(24)
            .describe("Prefix length of each overlay subnet allocated from the pools; at least each pool's own prefix."),
        managerAvailability: z.enum(["active", "drain"]).default("active").describe("Availability of managers: `drain` keeps releases off them."),
        autolock: z.boolean().default(false).describe("`--autolock`: a restarted manager needs the unlock key."),
        dataPathPort: port().default(4789).describe("UDP port of the overlay (VXLAN) data path."),
    })
    .prefault({})
    .describe("Swarm-wide settings.");

const OverlaySchema = z.strictObject({
    name: name("network name").optional().describe("Overlay network name; default `zone-<zone>`."),
    subnet: cidr().optional().describe("Overlay subnet; default: allocated from `swarm.defaultAddrPool`."),
    encrypted: z.boolean().default(false).describe("Encrypt the overlay's data traffic with IPsec (ESP must pass between nodes)."),
    attachable: z.boolean().default(false).describe("Allow `docker run --network <name>` (debugging)."),
    mtu: z.number().int().min(576).max(9000).optional().describe("MTU of the overlay."),
});

export const NetworksSchema = z
    .strictObject({
        zones: z
            .record(name("zone"), OverlaySchema.prefault({}))
            .default({})
            .describe("One overlay per zone; the zone list of the whole config is the keys of this map."),
        gateway: OverlaySchema.extend({ name: name("network name").default("gateway").describe("Name of the gateway network.") })
            .prefault({})
            .describe("The overlay joining the gateway and every release that has hostnames."),
        ingress: z
            .strictObject({
                subnet: cidr().describe("Subnet of the ingress network."),
                gateway: ipv4().optional().describe("Gateway address of the ingress network, inside `subnet`."),
                encrypted: z.boolean().default(false).describe("Encrypt the ingress network's data traffic."),
                mtu: z.number().int().min(576).max(9000).optional().describe("MTU of the ingress network."),
            })
            .optional()
            .describe("Replaces swarm's default ingress network (routing mesh for ingress-published ports)."),
    })
    .prefault({})
    .describe("Overlay networks: one per zone, the gateway network, optionally a custom ingress.");

// ---- virtual IP -----------------------------------------------------------------------------

const VipGroupSchema = z.strictObject({
    name: name("VRRP group name").optional().describe("Group name; default `vip<N>`."),
    address: ipv4().describe("The virtual IP of this group."),
    virtualRouterId: vrid().describe("VRRP virtual_router_id, 1-255: the same on every member, unique per group on the L2 segment."),
});

export const VirtualIpSchema = z.strictObject({
    address: ipv4().optional().describe("Shorthand for a single group: the virtual IP (with `virtualRouterId`)."),
    virtualRouterId: vrid().optional().describe("Shorthand for a single group: its VRID, 1-255, unique on the L2 segment."),
    groups: z
        .array(VipGroupSchema)
        .min(1, "needs at least one group (or use address + virtualRouterId)")
        .optional()
        .describe("Several virtual IPs, each preferring a different gateway node; DNS lists all of them."),
    prefix: z.number().int().min(8).max(32).default(24).describe("Prefix length of the VIP; it must share this subnet with every gateway node."),
    interface: z.string().min(1).default("eth0").describe("Interface keepalived puts the VIP on."),
    vrrpVersion: z
        .literal([2, 3])
        .default(2)
        .describe("VRRP version: 2 (whole-second adverts, PASS authentication) or 3 (sub-second adverts, no authentication)."),
    advertInt: z.number().min(0.01).max(255).default(1).describe("Seconds between adverts; whole seconds with VRRPv2."),
    transport: z
        .enum(["unicast", "multicast"])
        .default("unicast")
        .describe("`unicast` (unicast_peer: every other gateway node; for networks without multicast) or `multicast`."),
    preempt: z
        .boolean()
        .default(false)
        .describe("false = `state BACKUP` + `nopreempt` everywhere: a recovered node does not take the VIP back."),
    preemptDelay: z
        .number()
        .int()
        .min(0)
        .max(1000)
        .optional()
        .describe("Seconds a recovered node waits before taking the VIP back (only with `preempt: true`)."),
    authentication: z
        .boolean()
        .optional()
        .describe("VRRPv2 PASS authentication with a generated 8-character password. Not available with VRRPv3. Default: true with VRRPv2."),
    passwordSecret: secretRef()
        .optional()
        .describe("Config key of a fixed password instead of a generated one (VRRPv2 PASS: at most 8 characters count)."),
    healthCheck: z
        .strictObject({
            path: z.string().regex(URL_PATH, "a URL path like /healthz").default("/healthz").describe("HTTP path of the local gateway that keepalived checks."),
            interval: seconds(1).default(1).describe("Seconds between checks."),
            timeout: seconds(1).default(1).describe("Seconds before a check fails; at most `interval`."),
            fall: z.number().int().min(1).max(10).default(2).describe("Failed checks before the node gives up the VIP."),
            rise: z.number().int().min(1).max(10).default(2).describe("Passed checks before the node may hold the VIP again."),
        })
        .prefault({})
        .describe("keepalived's check of the gateway on its own node (vrrp_script)."),
    scriptUser: z.string().min(1).default("keepalived_script").describe("The keepalived script user (enable_script_security)."),
    garpMasterDelay: z.number().int().min(0).max(255).default(1).describe("Seconds after becoming master before the second gratuitous ARP burst."),
});

// ---- gateway --------------------------------------------------------------------------------

export const GatewaySchema = z
    .strictObject({
        engine: z.enum(["nginx", "haproxy"]).default("nginx").describe("The reverse proxy: `nginx`, or `haproxy` (per-task health checks)."),
        baseImage: image().optional().describe("Base image; defaults per engine."),
        image: image().default("swarm-platform/gateway").describe("Name (without tag) of the gateway image this program builds."),
        delivery: z
            .enum(["load", "registry"])
            .default("load")
            .describe("How the image reaches the nodes: `load` (docker save | docker load, air-gapped) or `registry` (push/pull)."),
        registry: z
            .strictObject({
                server: z.string().min(1).describe("Registry host[:port]."),
                username: z.string().min(1).describe("Registry user."),
                passwordSecret: secretRef().describe("Config key of the secret holding the registry password."),
            })
            .optional()
            .describe("The registry for `delivery: registry`."),
        ports: z
            .strictObject({
                http: port().default(80).describe("HTTP port published in host mode on the gateway nodes."),
                https: port().default(443).describe("HTTPS port published in host mode on the gateway nodes."),
            })
            .prefault({})
            .describe("Ports of the gateway."),
        tls: z
            .array(
                z.strictObject({
                    hostnames: z.array(hostname()).min(1).describe("Hostnames this certificate serves; each must be served by a release."),
                    certificateSecret: secretRef().describe("Config key of the secret holding the PEM certificate chain."),
                    keySecret: secretRef().describe("Config key of the secret holding the PEM private key."),
                }),
            )
            .default([])
            .describe("TLS certificates; a hostname has at most one."),
        defaultHost: z
            .string()
            .regex(HOSTNAME, 'must be "reject" or a lower-case DNS name')
            .default("reject")
            .describe("What an unknown or missing Host gets: `reject` closes the connection (nginx 444), or a hostname to serve instead."),
        clientMaxBodySize: z.string().regex(SIZE, "a size like 10m").default("10m").describe("Largest request body, like `10m`."),
        timeouts: z
            .strictObject({
                connect: seconds(1).default(5).describe("Seconds to connect to a backend."),
                read: seconds(1).default(60).describe("Seconds between two reads from a backend."),
                send: seconds(1).default(60).describe("Seconds between two writes to a backend."),
            })
            .prefault({})
            .describe("Backend timeouts."),
        resolverValid: z.number().int().min(1).max(600).default(10).describe("Seconds nginx caches Docker DNS answers (Docker answers with TTL 600)."),
        serverSlots: z
            .number()
            .int()
            .min(1)
            .max(1000)
            .optional()
            .describe("HAProxy server-template slots per release; must hold replicas + update surge. Default: max(10, 2 × that)."),
        stopGracePeriod: seconds(0)
            .default(30)
            .describe("Seconds a stopping gateway may finish requests; raised to the VIP drain time + 10 when shorter."),
    })
    .prefault({})
    .describe("The gateway: reverse proxy on the gateway nodes, routing hostnames to releases.");

// ---- apps and releases ----------------------------------------------------------------------

const HealthcheckSchema = z.strictObject({
    test: z
        .array(z.string())
        .min(1)
        .optional()
        .describe('Exec form (["CMD", "curl", "-fsS", "http://127.0.0.1:8000/healthz"]) or ["NONE"] to disable the image\'s.'),
    path: z.string().regex(URL_PATH, "a URL path like /healthz").default("/healthz").describe("HTTP path probed with curl (or wget) when `test` is not given."),
    interval: seconds(1).default(5).describe("Seconds between probes."),
    timeout: seconds(1).default(3).describe("Seconds before a probe fails."),
    retries: z.number().int().min(1).max(100).default(3).describe("Failed probes before the task is unhealthy."),
    startPeriod: seconds(0).default(10).describe("Seconds after start in which failed probes do not count."),
});

const UpdatePolicySchema = z.strictObject({
    parallelism: z.number().int().min(0).default(1).describe("Tasks replaced at once (0 = all)."),
    delay: seconds(0).default(0).describe("Seconds between batches."),
    order: z.enum(["start-first", "stop-first"]).default("start-first").describe("Start the new task before stopping the old one, or after."),
    failureAction: z.enum(["rollback", "pause", "continue"]).default("rollback").describe("What swarm does when an updated task fails."),
    monitor: seconds(0)
        .optional()
        .describe("Seconds each task is watched after an update; default start_period + interval × retries + 5."),
    maxFailureRatio: z
        .number()
        .min(0)
        .max(1)
        // The docker provider reads the ratio back with one decimal: more would show a diff on every run.
        .refine((r) => Number.isInteger(Math.round(r * 1e6) / 1e5), { message: "one decimal at most (0.1 steps)" })
        .default(0)
        .describe("Fraction of tasks that may fail before `failureAction` applies (0.1 steps)."),
});

const PublishSchema = z.strictObject({
    target: port().describe("Container port."),
    published: port().describe("Port opened on the nodes."),
    protocol: z.enum(["tcp", "udp"]).default("tcp").describe("`tcp` or `udp`."),
    mode: z.enum(["ingress", "host"]).default("host").describe("`host`: only on nodes running a task; `ingress`: on every node (routing mesh)."),
});

export const ReleaseSchema = z.strictObject({
    name: z
        .string()
        .max(40)
        .regex(RELEASE, "release names are letters, digits, '.', '_' and '-'")
        .describe("Release name, like `2.0`; the service is `<app>-<release>` made DNS-safe."),
    tag: z
        .string()
        .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/, "must be a Docker tag: letters, digits, '_', '.' and '-', at most 128")
        .optional()
        .describe("Image tag; defaults to the release name."),
    image: image().optional().describe("Full image reference overriding app.image:tag."),
    replicas: z.number().int().min(0).max(1000).optional().describe("Replicas of this release; default: the app's `replicas`."),
    hostnames: z.array(hostname()).default([]).describe("Hostnames the gateway routes to this release; a hostname belongs to exactly one release."),
    env: z.record(z.string(), z.string()).default({}).describe("Environment of this release, over the app's `env`."),
    service: z.string().optional().describe("Explicit swarm service name; defaults to `<app>-<release>` made DNS-safe."),
});

export const AppSchema = z.strictObject({
    name: name("app name").describe("App name, unique in the stack."),
    zone: name("zone").describe("Zone whose nodes run the app's releases (a key of `networks.zones`)."),
    image: image().describe("Image repository; a release runs `image:<tag>`."),
    port: port().default(8000).describe("Port the app listens on in the container; the gateway proxies to it."),
    env: z
        .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "env names are shell identifiers"), z.string())
        .default({})
        .describe("Environment of every release."),
    healthcheck: HealthcheckSchema.prefault({}).describe("Container healthcheck: a task gets traffic only when healthy."),
    replicas: z.number().int().min(0).max(1000).default(2).describe("Replicas of each release."),
    endpointMode: z
        .enum(["vip", "dnsrr"])
        .default("vip")
        .describe("`vip` (service VIP, needs IPVS) or `dnsrr` (DNS round robin over the tasks)."),
    publish: z.array(PublishSchema).default([]).describe("Ports published outside the gateway; needs `allowPublishedPorts`."),
    allowPublishedPorts: z
        .boolean()
        .default(false)
        .describe("Published ports bypass the gateway (and, in ingress mode, open on every node): opt in per app."),
    update: UpdatePolicySchema.prefault({}).describe("How a release's service is updated."),
    rollback: UpdatePolicySchema.extend({
        order: z.enum(["start-first", "stop-first"]).default("stop-first").describe("Start the new task before stopping the old one, or after."),
        // A failing rollback can only pause or continue (Docker and the provider reject "rollback" here).
        failureAction: z.enum(["pause", "continue"]).default("pause").describe("What a failing rollback does: pause or continue."),
    })
        .prefault({})
        .describe("How a failed update is rolled back."),
    stopGracePeriod: seconds(0).default(30).describe("Seconds a stopping task may finish requests; longer than the longest request."),
    labels: labels().describe("Extra service labels."),
    build: z
        .strictObject({
            context: z.string().min(1).describe("Build context directory."),
            dockerfile: z.string().min(1).optional().describe("Dockerfile, relative to the context."),
            args: z.record(z.string(), z.string()).default({}).describe("Build args; `RELEASE` is set to the release name."),
        })
        .optional()
        .describe("Build `image:<tag>` for each release on the engine running Pulumi (build arg RELEASE=<release name>)."),
    load: z
        .boolean()
        .optional()
        .describe(
            "Copy each release image from the engine running Pulumi into the zone's nodes (docker save | docker load), for built or air-gapped images. Default: true when `build` is set.",
        ),
    releases: z.array(ReleaseSchema).min(1, "an app needs at least one release").describe("The app's releases: one swarm service each."),
});

export const DnsSchema = z
    .strictObject({
        ttl: z.number().int().min(1).max(604800).default(300).describe("TTL of the planned A records, in seconds."),
    })
    .prefault({})
    .describe("The planned DNS records: one A record per hostname and VIP (or gateway node without a VIP).");

// ---- the whole stack ------------------------------------------------------------------------

export const StackConfigSchema = z.strictObject({
    driver: z.enum(["docker", "ssh"]).default("docker").describe("How nodes are reached: `docker` (docker-in-docker lab) or `ssh` (existing machines)."),
    drivers: z
        .strictObject({
            docker: DockerDriverSchema.prefault({}).describe("Settings of the docker-in-docker driver."),
            ssh: SshDriverSchema.prefault({}).describe("Settings of the ssh driver."),
        })
        .prefault({})
        .describe("Driver settings."),
    nodes: z.array(NodeSchema).min(1, "at least one node is needed").describe("The machines of the swarm."),
    swarm: SwarmSchema,
    networks: NetworksSchema,
    virtualIp: VirtualIpSchema.optional().describe(
        "Virtual IP(s) held by the gateway nodes with keepalived (VRRP). Without it, DNS lists every gateway node.",
    ),
    gateway: GatewaySchema,
    apps: z.array(AppSchema).default([]).describe("Apps, each with one or more releases."),
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
