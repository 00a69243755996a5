// Nodes and their drivers: the machines of the swarm, reached as docker-in-docker containers (`docker`) or over
// SSH (`ssh`). Schema fragment, cross-key rules and plan slice.
import { z } from "zod";
import { overlaySubnets } from "./networks";
import { contains, intToIp, parseCidr, reservedAddresses } from "./net";
import { compare, sortedRecord } from "./order";
import { cidr, image, ipv4, labels, name, port, secretRef, UNIX_USER } from "./fields";
import type { StackConfig } from "./schema";
import type { PlanVirtualIp } from "./virtual-ip";
import { firstDuplicates, listOrNone, type Report } from "./validation";

const capability = () => z.string().regex(/^[A-Z_]+$/, "capability names are upper-case, like NET_ADMIN");

// ---- SSH host keys ------------------------------------------------------------------------------------------

/** Declared key types, and the type name inside the key body (rsa-sha2-* are signature names of an ssh-rsa key). */
const HOST_KEY_TYPES: Readonly<Record<string, string>> = {
    "ssh-ed25519": "ssh-ed25519",
    "ecdsa-sha2-nistp256": "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384": "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521": "ecdsa-sha2-nistp521",
    "ssh-rsa": "ssh-rsa",
    "rsa-sha2-256": "ssh-rsa",
    "rsa-sha2-512": "ssh-rsa",
};
/** The strings an SSH public key body holds after its type name (RFC 4253 6.6, RFC 5656 3.1, RFC 8709 4). */
const KEY_FIELDS: Readonly<Record<string, number>> = {
    "ssh-ed25519": 1,
    "ecdsa-sha2-nistp256": 2,
    "ecdsa-sha2-nistp384": 2,
    "ecdsa-sha2-nistp521": 2,
    "ssh-rsa": 2,
};
const HOST_KEY_PATTERN = `^(${Object.keys(HOST_KEY_TYPES).join("|")}) [A-Za-z0-9+/]+={0,2}$`;

/** The SSH strings (uint32 length + bytes) a key body is made of; undefined when it is not exactly that. */
function sshStrings(body: Buffer): Buffer[] | undefined {
    const out: Buffer[] = [];
    let at = 0;
    while (at < body.length) {
        if (at + 4 > body.length) return undefined;
        const length = body.readUInt32BE(at);
        if (at + 4 + length > body.length) return undefined;
        out.push(body.subarray(at + 4, at + 4 + length));
        at += 4 + length;
    }
    return out;
}

/**
 * Parses a pinned host key: exactly `<type> <base64>` (no host name, no comment, one line), a known type, a body
 * that decodes and holds that type's fields. Returns the key as ssh and known_hosts expect it (`ssh-rsa` for
 * rsa-sha2-*: the key is the same), or why it is not one.
 */
export function parseSshHostKey(text: string): { key: string } | { error: string } {
    const fields = text.split(" ");
    if (/[\r\n\t]/.test(text) || fields.length !== 2) {
        return { error: "must be one line `<type> <base64>`: copy the key type and the base64 body from ssh-keyscan's output, without the host name or a comment" };
    }
    const [type, base64] = fields;
    const inner = HOST_KEY_TYPES[type];
    if (!inner) return { error: `unknown key type "${type}" (one of ${Object.keys(HOST_KEY_TYPES).join(", ")})` };
    const body = Buffer.from(base64, "base64");
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(base64) || body.length === 0 || body.toString("base64") !== base64) {
        return { error: `the key body after "${type}" is not base64` };
    }
    const strings = sshStrings(body);
    const embedded = strings?.[0]?.toString("latin1");
    if (!strings || embedded === undefined) return { error: `the key body after "${type}" is not an SSH public key` };
    if (embedded !== inner) return { error: `declared as ${type}, but the key inside is ${JSON.stringify(embedded.slice(0, 40))}` };
    if (strings.length !== 1 + KEY_FIELDS[inner]) return { error: `the ${type} key body is malformed (${strings.length - 1} fields, expected ${KEY_FIELDS[inner]})` };
    if (inner === "ssh-ed25519" && strings[1].length !== 32) return { error: `the ssh-ed25519 key is ${strings[1].length} bytes, not 32` };
    if (inner.startsWith("ecdsa-") && strings[1].toString("latin1") !== inner.slice("ecdsa-sha2-".length)) {
        return { error: `declared as ${type}, but the key's curve is ${JSON.stringify(strings[1].toString("latin1").slice(0, 20))}` };
    }
    return { key: `${inner} ${base64}` };
}

const sshHostKey = () =>
    z
        .string()
        .superRefine((value, ctx) => {
            const parsed = parseSshHostKey(value);
            if ("error" in parsed) ctx.addIssue({ code: "custom", message: parsed.error });
        })
        .meta({ title: "SSH host public key", pattern: HOST_KEY_PATTERN });

/** ssh options (in `-o Option=value` form) that change which host keys are trusted: refused in `drivers.ssh.sshOpts`. */
const HOST_KEY_OPTIONS = [
    "stricthostkeychecking",
    "userknownhostsfile",
    "globalknownhostsfile",
    "knownhostscommand",
    "updatehostkeys",
    "hostkeyalias",
    "verifyhostkeydns",
    "nohostauthenticationforlocalhost",
];
/**
 * What a docker-in-docker node needs beyond Docker's default capability set when it is not privileged: SYS_ADMIN
 * (mount, overlay2, namespaces and cgroups for the inner containers) and NET_ADMIN (bridges, VXLAN, iptables,
 * keepalived's address). Docker's defaults stay: inner containers get them, and a process cannot hand out what
 * it does not hold. Measured on the lab (swarm, overlay across nodes, keepalived VIP, the node firewall).
 */
export const NODE_CAPABILITIES = ["SYS_ADMIN", "NET_ADMIN"] as const;

/** The port of the authenticated engine API (dockerd --tlsverify) inside the node that serves it. */
export const ENGINE_API_PORT = 2376;
/** Where the node container receives the engine API's CA, server certificate and key (read by the node images' entrypoints). */
export const ENGINE_TLS_DIR = "/etc/swarm-platform/engine-tls";

export const DockerDriverSchema = z.strictObject({
    image: image()
        .default("swarm-platform/node:latest")
        .describe("Node image (docker-in-docker + keepalived). Built from templates/nodes/Dockerfile when `build` is true."),
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
            add: z
                .array(capability())
                .default([...NODE_CAPABILITIES])
                .describe(
                    "`--cap-add` for the node containers, on top of Docker's default set (which the inner containers need): SYS_ADMIN (mounts, namespaces, cgroups, overlay2) and NET_ADMIN (bridges, VXLAN, iptables, the VIP).",
                ),
            drop: z.array(capability()).default([]).describe("`--cap-drop` for the node containers."),
        })
        .prefault({})
        .describe("Capabilities of the node containers when `privileged` is false. A docker-in-docker node is not a security boundary either way."),
    securityOpts: z.array(z.string().regex(/^[a-z][a-z-]*([=:]\S+)?$/, "a --security-opt value like no-new-privileges or seccomp=unconfined")).default([]).describe("`--security-opt` values when `privileged` is false."),
    mountCgroup: z.boolean().default(false).describe("Mount the host's cgroup tree read-write (needed by docker-in-docker without --privileged)."),
    managerApiPort: port()
        .default(23750)
        .describe("Loopback port on the host where the bootstrap manager's engine API (TLS, client certificate required) is published; never on another interface."),
    storageDriver: z.enum(["overlay2", "vfs", "fuse-overlayfs"]).default("overlay2").describe("Storage driver of the inner engines."),
    engineApiTls: z
        .strictObject({
            days: z.number().int().min(1).max(3650).default(365).describe("Validity of the engine API's CA, server and client certificates."),
            generation: z
                .number()
                .int()
                .min(1)
                .default(1)
                .describe("Bump to rotate the engine API's certificates (new CA, server and client certificates; the bootstrap manager's container is replaced)."),
        })
        .prefault({})
        .describe("The bootstrap manager's engine API is TLS with client certificates (`dockerd --tlsverify`), generated by the program as secrets."),
});

export const SshDriverSchema = z.strictObject({
    user: z.string().regex(UNIX_USER, "a user name like deploy").default("root").describe("SSH user on every node (override per node with `nodes[].ssh.user`)."),
    port: port().default(22).describe("SSH port on every node."),
    privateKeySecret: secretRef().default("sshPrivateKey").describe("Config key of the secret holding the private key (PEM/OpenSSH)."),
    sshOpts: z
        // Passed to ssh as separate arguments (docker provider, image loads): plain option words only, no spaces or quotes.
        .array(z.string().regex(/^[A-Za-z0-9_.,=/@:+-]+$/, "one ssh argument without spaces or quotes, e.g. -o or ConnectTimeout=10"))
        .default([])
        .describe("Extra ssh arguments for the docker provider and image loads (both use the local ssh client; the key must be in the agent), e.g. [-o, ConnectTimeout=10]. Host keys are pinned by `nodes[].hostKey`; options that would change host key checking are refused."),
    sudo: z.boolean().default(false).describe("Run node scripts through sudo (when `user` is not root)."),
});

/** A host name or IPv4 address ssh connects to: no leading '-' (an ssh option), nothing a shell or known_hosts would read. */
const SSH_HOST = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/;

const NodeSshOverride = z.strictObject({
    host: z
        .string()
        .regex(SSH_HOST, "a host name or IPv4 address like gw-1.lan or 10.0.10.21")
        .optional()
        .describe("Host ssh connects to; default: the node's `address`."),
    user: z.string().regex(UNIX_USER, "a user name like deploy").optional().describe("Overrides `drivers.ssh.user` for this node."),
    port: port().optional().describe("Overrides `drivers.ssh.port` for this node."),
});

export const NodeSchema = z.strictObject({
    name: name("node name").describe("Node name, unique in the stack."),
    role: z.enum(["manager", "worker"]).describe("Swarm role; use an odd number of managers (1, 3, 5) for a Raft quorum."),
    zone: name("zone").describe("The node's zone, a key of `networks.zones`: it runs the releases of that zone's apps."),
    address: ipv4().describe("The node's IPv4 address on the LAN (advertise and data-path address)."),
    gateway: z.boolean().default(false).describe("Runs the gateway and is a VRRP member for the virtual IP."),
    bootstrap: z
        .boolean()
        .optional()
        .describe("This manager creates the swarm (`docker swarm init`). Default: the first manager in `nodes`; set it so that the order of `nodes` does not matter."),
    priority: z
        .number()
        .int()
        .min(1)
        .max(100)
        .optional()
        .describe("Gateway nodes: preference for holding the virtual IP, higher first, distinct; set on every gateway node or on none. Default: the order of the gateway nodes in `nodes`."),
    labels: labels().describe("Extra swarm node labels; `zone` and `gateway` are set from the fields of the same name."),
    availability: z.enum(["active", "pause", "drain"]).optional().describe("Overrides `swarm.managerAvailability` for this node."),
    driver: z.enum(["docker", "ssh"]).optional().describe("The node's driver; must equal the stack `driver` (one driver per swarm)."),
    ssh: NodeSshOverride.optional().describe("SSH connection overrides for this node (driver ssh only)."),
    generation: z
        .number()
        .int()
        .min(1)
        .max(9999)
        .default(1)
        .describe(
            "Bump to rebuild this node in place (driver docker): a new container and a new data volume under the same name. The node is drained and leaves the swarm before its container is deleted; nodes are rebuilt one at a time. Not for the bootstrap manager (it holds the swarm's state).",
        ),
    hostKey: sshHostKey()
        .optional()
        .describe("Driver ssh, required: the node's SSH host public key, `<type> <base64>` as `ssh-keyscan -t ed25519 <host>` prints it after the host name, verified out of band. Every ssh connection the program makes trusts this key and no other."),
});

/** The nodes concept's top-level config keys. */
export const NodesConfigShape = {
    localEngine: z
        .string()
        .regex(/^(unix|tcp|ssh):\/\/[A-Za-z0-9._~:/@%+-]+$/, "an engine address like unix:///var/run/docker.sock or ssh://user@host")
        .default("unix:///var/run/docker.sock")
        .describe("The Docker engine on the machine running Pulumi: it builds the images and (driver docker) runs the node containers. `DOCKER_HOST` is not read."),
    driver: z.enum(["docker", "ssh"]).default("docker").describe("How nodes are reached: `docker` (docker-in-docker lab) or `ssh` (existing machines)."),
    drivers: z
        .strictObject({
            docker: DockerDriverSchema.prefault({}).describe("Settings of the docker-in-docker driver."),
            ssh: SshDriverSchema.prefault({}).describe("Settings of the ssh driver."),
        })
        .prefault({})
        .describe("Driver settings."),
    nodes: z.array(NodeSchema).min(1, "at least one node is needed").describe("The machines of the swarm."),
};

export type NodeConfig = StackConfig["nodes"][number];
export type DriverName = "docker" | "ssh";
export type NodeRole = "manager" | "worker";
export type Availability = "active" | "pause" | "drain";

/** A node as the components see it. */
export interface PlanNode {
    /** Unique in the stack; names the node's resources and its container or host. */
    readonly name: string;
    /** Swarm role. */
    readonly role: NodeRole;
    /** The zone whose releases it runs. */
    readonly zone: string;
    /** IPv4 address on the LAN: advertise and data-path address. */
    readonly address: string;
    /** Runs the gateway and is a member of every virtual IP group. */
    readonly gateway: boolean;
    /** The manager that creates the swarm. */
    readonly bootstrap: boolean;
    /** Swarm node labels, `zone` and `gateway` included; keys sorted. */
    readonly labels: Readonly<Record<string, string>>;
    /** Swarm availability. */
    readonly availability: Availability;
    /** TCP ports the node's firewall opens for the gateway (none on other nodes). */
    readonly gatewayPorts: readonly number[];
    /** Bumped to rebuild the node in place (a new container and data volume, driver docker). */
    readonly generation: number;
    /** SSH connection, for driver ssh. */
    readonly ssh?: PlanNodeSsh;
}

/** How the program reaches an ssh node: the remote commands (@pulumi/command) and the local ssh client alike. */
export interface PlanNodeSsh {
    readonly host: string;
    readonly user: string;
    readonly port: number;
    /** The pinned host key, `<type> <base64>`: @pulumi/command's `connection.hostKey`. */
    readonly hostKey: string;
    /** Arguments of every local ssh to this node (docker provider, image loads): the pinned key only, then `drivers.ssh.sshOpts`. */
    readonly clientOptions: readonly string[];
}

/**
 * The docker driver's one TCP engine API: on the bootstrap manager, TLS with client certificates, published on the
 * host's loopback. Every other node's engine listens on its unix socket only.
 */
export interface PlanEngineApi {
    /** The node serving it (the bootstrap manager: the swarm-level docker provider talks to it). */
    readonly node: string;
    /** Port inside the node (dockerd --tlsverify). */
    readonly port: number;
    /** Port on the host's 127.0.0.1 it is published on. */
    readonly hostPort: number;
    /** The only source the node's firewall accepts it from: the bridge gateway, where the host's published port arrives from. */
    readonly clientAddress: string;
    /** Where the node container receives ca.pem, server-cert.pem and server-key.pem. */
    readonly tlsDir: string;
    /** Names in the server certificate: 127.0.0.1 (the provider dials the published port), the node's address and name. */
    readonly serverNames: readonly string[];
    /** Certificate validity. */
    readonly days: number;
    /** Bumped to rotate the material. */
    readonly generation: number;
}

/** How the program reaches the nodes: one driver per swarm, with its settings, and the local engine. */
export type PlanDriver = { readonly localEngine: string } & (
    | { readonly name: "docker"; readonly docker: StackConfig["drivers"]["docker"]; readonly engineApi: PlanEngineApi }
    | { readonly name: "ssh"; readonly ssh: StackConfig["drivers"]["ssh"] }
);

export function effectiveAvailability(c: Pick<StackConfig, "swarm">, node: NodeConfig): Availability {
    return node.availability ?? (node.role === "manager" ? c.swarm.managerAvailability : "active");
}

/** The manager that creates the swarm: the one marked `bootstrap`, else the first manager in the list. */
export function bootstrapNodeOf(c: Pick<StackConfig, "nodes">): NodeConfig | undefined {
    return c.nodes.find((n) => n.role === "manager" && n.bootstrap) ?? c.nodes.find((n) => n.role === "manager");
}

/** Gateway nodes, most preferred VIP holder first: by `priority` when set, else in stack-file order. */
export function gatewayNodesOf(c: Pick<StackConfig, "nodes">): NodeConfig[] {
    const gateways = c.nodes.filter((n) => n.gateway);
    return gateways.every((n) => n.priority !== undefined) ? [...gateways].sort((a, b) => (b.priority ?? 0) - (a.priority ?? 0)) : gateways;
}

export function bridgeGateway(c: StackConfig): string {
    const net = parseCidr(c.drivers.docker.network.subnet);
    return c.drivers.docker.network.gateway ?? (net ? intToIp(net.network + 1) : "");
}

export function usesDockerDriver(c: StackConfig): boolean {
    return c.nodes.some((n) => (n.driver ?? c.driver) === "docker");
}

export function checkNodes(c: StackConfig, report: Report): void {
    const managers = c.nodes.filter((n) => n.role === "manager");
    if (managers.length === 0) report("nodes", "needs at least one node with role: manager");
    else if (managers.length % 2 === 0) {
        report("nodes", `needs an odd number of managers for a Raft quorum (have ${managers.length}: ${managers.map((m) => m.name).join(", ")})`);
    }
    firstDuplicates(c.nodes.map((n) => n.name), (i, j) => report(`nodes[${i}].name`, `duplicate node name "${c.nodes[i].name}" (also nodes[${j}])`));
    firstDuplicates(c.nodes.map((n) => n.address), (i, j) =>
        report(`nodes[${i}].address`, `duplicate address ${c.nodes[i].address} (also nodes[${j}])`),
    );

    const zones = Object.keys(c.networks.zones);
    const dockerNet = parseCidr(c.drivers.docker.network.subnet);
    const overlays = overlaySubnets(c);
    let bootstrap: number | undefined;
    c.nodes.forEach((node, i) => {
        const at = `nodes[${i}]`;
        if (!zones.includes(node.zone)) report(`${at}.zone`, `unknown zone "${node.zone}" (zones: ${listOrNone(zones)}; declare zones under networks.zones)`);
        for (const reserved of ["zone", "gateway"]) {
            if (reserved in node.labels) report(`${at}.labels.${reserved}`, `"${reserved}" is set from the node's ${reserved} field; remove it from labels`);
        }
        const driver = node.driver ?? c.driver;
        if (driver === "docker") {
            if (node.ssh) report(`${at}.ssh`, `only for driver "ssh" (this node uses driver "docker")`);
            if (dockerNet && !contains(dockerNet, node.address)) {
                report(`${at}.address`, `${node.address} is outside the docker driver network ${c.drivers.docker.network.subnet} (drivers.docker.network.subnet)`);
            } else if (dockerNet && [...reservedAddresses(dockerNet), bridgeGateway(c)].includes(node.address)) {
                report(`${at}.address`, `${node.address} is reserved in ${c.drivers.docker.network.subnet} (network, broadcast or bridge gateway)`);
            }
        }
        if (driver === "docker" && node.hostKey !== undefined) report(`${at}.hostKey`, `only for driver "ssh" (this node uses driver "docker")`);
        if (driver === "ssh" && node.hostKey === undefined) {
            report(`${at}.hostKey`, `node "${node.name}" uses driver ssh and needs its pinned host key: the \`<type> <base64>\` part of \`ssh-keyscan -t ed25519 ${node.ssh?.host ?? node.address}\`, verified out of band`);
        }
        if (driver !== "docker") {
            const overlay = overlays.find((s) => contains(s.cidr, node.address));
            if (overlay) report(`${at}.address`, `${node.address} lies inside ${overlay.text} (${overlay.path}); overlay subnets must not overlap the nodes' network`);
        }
        if (node.bootstrap && node.role !== "manager") report(`${at}.bootstrap`, `only a manager can create the swarm ("${node.name}" is a ${node.role})`);
        else if (node.bootstrap && bootstrap !== undefined) {
            report(`${at}.bootstrap`, `only one node creates the swarm (also nodes[${bootstrap}])`);
        } else if (node.bootstrap) bootstrap = i;
        if (node.generation > 1 && node.name === bootstrapNodeOf(c)?.name) {
            report(`${at}.generation`, `"${node.name}" is the bootstrap manager: it holds the swarm's state and cannot be rebuilt in place (rebuild the other nodes; its container is replaced, keeping its data volume, when the node image changes)`);
        }
        if (node.generation > 1 && driver === "ssh") {
            report(`${at}.generation`, `only for driver "docker": an ssh node is rebuilt by removing it from nodes, rebuilding the host, then adding it again`);
        }
        if (node.priority !== undefined && !node.gateway) report(`${at}.priority`, `only gateway nodes hold the virtual IP ("${node.name}" has gateway: false)`);
    });
    // A gateway node may be drained or paused for maintenance (its gateway drains and the VIP moves first), but
    // not all of them at once: nothing would serve the hostnames.
    const gatewayNodes = c.nodes.map((node, i) => ({ node, i })).filter(({ node }) => node.gateway);
    if (gatewayNodes.length > 0 && gatewayNodes.every(({ node }) => effectiveAvailability(c, node) !== "active")) {
        const { node, i } = gatewayNodes[0];
        report(
            `nodes[${i}].availability`,
            `every gateway node is drained or paused ("${node.name}" is ${effectiveAvailability(c, node)}): keep at least one active to run the gateway`,
        );
    }
    if (c.nodes.some((n) => (n.driver ?? c.driver) === "ssh")) {
        c.drivers.ssh.sshOpts.forEach((opt, i) => {
            const option = opt.replace(/^-o/, "").split("=")[0].toLowerCase();
            if (HOST_KEY_OPTIONS.includes(option)) {
                report(`drivers.ssh.sshOpts[${i}]`, `"${opt}" would change host key checking; host keys are pinned by nodes[].hostKey`);
            }
        });
    }
    // Compared with the stack driver, not among nodes: nodes that all override it would leave the plan's driver wrong.
    const otherDriver = c.nodes.findIndex((n) => (n.driver ?? c.driver) !== c.driver);
    if (otherDriver >= 0) {
        report(`nodes[${otherDriver}].driver`, `all nodes of one swarm use one driver (stack driver is "${c.driver}", this node "${c.nodes[otherDriver].driver}")`);
    }
    const gateways = c.nodes.map((n, i) => ({ n, i })).filter(({ n }) => n.gateway);
    if (gateways.length > 100) report("nodes", `at most 100 gateway nodes (have ${gateways.length}); VRRP priorities must stay distinct`);
    const ranked = gateways.filter(({ n }) => n.priority !== undefined);
    if (ranked.length > 0 && ranked.length < gateways.length) {
        const missing = gateways.filter(({ n }) => n.priority === undefined);
        for (const { n, i } of missing) report(`nodes[${i}].priority`, `set priority on every gateway node or on none ("${n.name}" has none)`);
    }
    firstDuplicates(ranked.map(({ n }) => n.priority), (a, b) =>
        report(`nodes[${ranked[a].i}].priority`, `priority ${ranked[a].n.priority} is also nodes[${ranked[b].i}]'s; gateway priorities are distinct`),
    );
}

/** The nodes (sorted by name) and the driver that reaches them. */
export function planNodes(c: StackConfig): { nodes: PlanNode[]; driver: PlanDriver } {
    const bootstrap = bootstrapNodeOf(c)?.name;
    const gatewayPorts = [c.gateway.ports.http, c.gateway.ports.https];
    const nodes = c.nodes.map((n): PlanNode => {
        const driver = n.driver ?? c.driver;
        return {
            name: n.name,
            role: n.role,
            zone: n.zone,
            address: n.address,
            gateway: n.gateway,
            bootstrap: n.name === bootstrap,
            labels: sortedRecord({ ...n.labels, zone: n.zone, ...(n.gateway ? { gateway: "true" } : {}) }),
            availability: effectiveAvailability(c, n),
            generation: n.generation,
            gatewayPorts: n.gateway ? gatewayPorts : [],
            ...(driver === "ssh" ? { ssh: planSsh(c, n) } : {}),
        };
    });
    const driver: PlanDriver =
        c.driver === "docker"
            ? { name: "docker", localEngine: c.localEngine, docker: c.drivers.docker, engineApi: planEngineApi(c, nodes) }
            : { name: "ssh", localEngine: c.localEngine, ssh: c.drivers.ssh };
    return { nodes: nodes.sort((a, b) => compare(a.name, b.name)), driver };
}

/**
 * The order in which nodes are (re)built: the bootstrap manager, the other managers, then the workers, each group
 * by name — the order the swarm joins them. A node's container waits for the previous node to be back (joined,
 * labelled, its gateway task running), so a changed node image reaches the nodes one at a time.
 */
export function rolloutOrder(nodes: readonly PlanNode[]): string[] {
    const rank = (n: PlanNode) => (n.bootstrap ? 0 : n.role === "manager" ? 1 : 2);
    return [...nodes].sort((a, b) => rank(a) - rank(b) || compare(a.name, b.name)).map((n) => n.name);
}

/**
 * Seconds a rebuilt gateway node needs after its gateway task runs before it can take the VIP: keepalived's check
 * passes `rise` times (rise × interval), then one advert. 0 without a virtual IP.
 */
export function gatewaySettleSeconds(vip: Pick<PlanVirtualIp, "healthCheck" | "advertInt"> | undefined): number {
    return vip ? Math.ceil(vip.healthCheck.rise * vip.healthCheck.interval + vip.advertInt) : 0;
}

/** The docker driver's data volume of a node: a bumped generation gets a new one (a rebuilt node starts empty). */
export function nodeVolumeName(namePrefix: string, node: Pick<PlanNode, "name" | "generation">): string {
    return `${namePrefix}-${node.name}-docker${node.generation > 1 ? `-g${node.generation}` : ""}`;
}

/**
 * Driver docker: the volumes a gateway node keeps its routes dir and the gateway's state dir on, so a rebuilt
 * container has them at once, as a host keeps them on its disk: its gateway starts (a bind mount needs its source)
 * with the routes it served, before the next node goes. Each follows the generation like the data volume (a new
 * generation is a new, empty node).
 */
export function gatewayVolumeName(namePrefix: string, node: Pick<PlanNode, "name" | "generation">, dir: "routes" | "state"): string {
    return `${namePrefix}-${node.name}-gateway-${dir}${node.generation > 1 ? `-g${node.generation}` : ""}`;
}

function planSsh(c: StackConfig, n: NodeConfig): PlanNodeSsh {
    const host = n.ssh?.host ?? n.address;
    const port = n.ssh?.port ?? c.drivers.ssh.port;
    const parsed = parseSshHostKey(n.hostKey ?? "");
    if ("error" in parsed) throw new Error(`nodes[${n.name}].hostKey: ${parsed.error}`); // validated before planning
    const hostKey = parsed.key;
    return { host, user: n.ssh?.user ?? c.drivers.ssh.user, port, hostKey, clientOptions: [...pinnedHostKeyOptions(host, port, hostKey), "-o", "BatchMode=yes", ...c.drivers.ssh.sshOpts] };
}

/** The known_hosts line for a node: `host` on port 22, `[host]:port` elsewhere, as ssh looks it up. */
export function knownHostsLine(host: string, port: number, hostKey: string): string {
    return `${port === 22 ? host : `[${host}]:${port}`} ${hostKey}`;
}

/**
 * ssh options that trust exactly the pinned key and fail on any other: no known_hosts file is read or written;
 * the one trusted line comes from KnownHostsCommand (OpenSSH 8.5 or later). Nothing needs to exist on the machine
 * running Pulumi, so a `pulumi destroy` or `refresh` (which do not run this program) verifies the same key from the
 * provider's stored options. They come first: ssh keeps the first value it gets for an option.
 */
export function pinnedHostKeyOptions(host: string, port: number, hostKey: string): string[] {
    // Run without a shell; ssh expands %-tokens and ${VAR} in it, which a validated host and a base64 key never contain.
    return [
        "-o", "StrictHostKeyChecking=yes",
        "-o", "UserKnownHostsFile=/dev/null",
        "-o", "GlobalKnownHostsFile=/dev/null",
        "-o", "UpdateHostKeys=no",
        "-o", `KnownHostsCommand=/bin/echo ${knownHostsLine(host, port, hostKey)}`,
    ];
}

/**
 * ssh's arguments for an image delivery to a node (templates/images/image-deliver.sh, one per line in SSH_ARGS):
 * the pinned host key and the stack's options, then port, user, `--` and the host; the remote command follows.
 * Stack values travel as separate arguments in the script's environment, never in its text.
 */
export function sshDeliveryArgs(ssh: PlanNodeSsh): string[] {
    return [...ssh.clientOptions, "-p", String(ssh.port), "-l", ssh.user, "--", ssh.host];
}

/** The docker command an image delivery runs on an ssh node. */
export function sshRemoteDocker(sudo: boolean): string {
    return sudo ? "sudo -n docker" : "docker";
}

function planEngineApi(c: StackConfig, nodes: readonly PlanNode[]): PlanEngineApi {
    const api = nodes.find((n) => n.bootstrap);
    if (!api) throw new Error("the plan has no bootstrap manager (validation requires one manager)");
    return {
        node: api.name,
        port: ENGINE_API_PORT,
        hostPort: c.drivers.docker.managerApiPort,
        clientAddress: bridgeGateway(c),
        tlsDir: ENGINE_TLS_DIR,
        serverNames: ["127.0.0.1", api.address, api.name],
        days: c.drivers.docker.engineApiTls.days,
        generation: c.drivers.docker.engineApiTls.generation,
    };
}
