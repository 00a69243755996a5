// Virtual IP: keepalived (VRRP) on the gateway nodes, one instance per VIP group, following the gateway's health.
// Schema fragment, cross-key rules, plan slice (with the failover timings derived from it) and keepalived renderers.
import { z } from "zod";
import { interfaceName, ipv4, name, secretRef, seconds, unixUser, urlPath } from "./fields";
import { GATEWAY_HEALTH_SOCKET, GATEWAY_STATE_DIR } from "./gateway";
import { cidrOf, cidrToString, contains, ipToInt, reservedAddresses } from "./net";
import { bridgeGateway, gatewayNodesOf, type PlanNode, usesDockerDriver } from "./nodes";
import { overlaySubnets } from "./networks";
import { sortedBy } from "./order";
import type { StackConfig } from "./schema";
import { type Artifact, renderTemplate, shellSafe } from "./templates";
import { firstDuplicates, type Report } from "./validation";

const KEEPALIVED_SCRIPT_SECONDS = 4294;

/**
 * The VRRP timing presets (`virtualIp.profile`); a key set explicitly wins over its profile's value.
 * - default: VRRPv2 with PASS authentication, 1 s adverts: Master_Down 3.26 s for the second node (priority 190).
 * - fast: VRRPv3 (no authentication), 0.2 s adverts: Master_Down 0.65 s, so a hard failover stays under 1 s with
 *   room for the gratuitous ARP and the clients' reconnect. The check cannot follow below 1 s (keepalived 2.2.7 reads
 *   a vrrp_script's interval and timeout as whole seconds): rise 1 lets a node stand for election one check after its
 *   gateway answers (the first election); fall stays 2 (one slow check must not move the VIP).
 */
export const VRRP_PROFILES = {
    default: { vrrpVersion: 2, advertInt: 1, healthCheck: { interval: 1, timeout: 1, fall: 2, rise: 2 } },
    fast: { vrrpVersion: 3, advertInt: 0.2, healthCheck: { interval: 1, timeout: 1, fall: 2, rise: 1 } },
} as const satisfies Record<string, VrrpTimings>;

export type VrrpProfile = keyof typeof VRRP_PROFILES;

/** The timings keepalived runs with: the profile's, with the explicitly set keys over them. */
export interface VrrpTimings {
    readonly vrrpVersion: 2 | 3;
    readonly advertInt: number;
    readonly healthCheck: { readonly interval: number; readonly timeout: number; readonly fall: number; readonly rise: number };
}

const fromProfile = (key: string) =>
    `Default: from \`profile\` (default: ${JSON.stringify(valueIn(VRRP_PROFILES.default, key))}, fast: ${JSON.stringify(valueIn(VRRP_PROFILES.fast, key))}).`;

function valueIn(timings: VrrpTimings, key: string): unknown {
    return key.split(".").reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], timings);
}
/** VRRPv3 carries the advert interval in centiseconds in 12 bits: 0.01-40.95 s. */
const VRRP3_MAX_ADVERT = 40.95;

const scriptSeconds = () =>
    seconds(1)
        .int("must be whole seconds (keepalived's vrrp_script takes no fractions)")
        .max(KEEPALIVED_SCRIPT_SECONDS, `at most ${KEEPALIVED_SCRIPT_SECONDS} (keepalived's limit)`);

const vrid = () => z.number().int().min(1, "must be 1-255").max(255, "must be 1-255");

const VirtualIpGroupSchema = z.strictObject({
    name: name("VRRP group name").describe("Group name: names its keepalived instance and state file, so it must stay the same (`vip1` was the default for the first group)."),
    address: ipv4().describe("The virtual IP of this group."),
    virtualRouterId: vrid().describe("VRRP virtual_router_id, 1-255: the same on every member, unique per group on the L2 segment."),
});

export const VirtualIpSchema = z.strictObject({
    profile: z
        .enum(["default", "fast"])
        .default("default")
        .describe(
            "VRRP timing preset. `default`: VRRPv2 with PASS authentication, adverts every 1 s (a hard failover takes about 3.3 s). " +
                "`fast`: VRRPv3, adverts every 0.2 s (hard failover in about 0.7 s, graceful under 0.3 s, the first holder about 3 s sooner); VRRPv3 has no authentication, " +
                "so only the node firewall (VRRP from the other members only) keeps forged adverts out. Keys set explicitly override the profile.",
        ),
    address: ipv4().optional().describe("Shorthand for a single group named `vip1`: the virtual IP (with `virtualRouterId`)."),
    virtualRouterId: vrid().optional().describe("Shorthand for a single group: its VRID, 1-255, unique on the L2 segment."),
    groups: z
        .array(VirtualIpGroupSchema)
        .min(1, "needs at least one group (or use address + virtualRouterId)")
        .optional()
        .describe("Several virtual IPs, each preferring a different gateway node; DNS lists all of them."),
    prefix: z.number().int().min(8).max(32).default(24).describe("Prefix length of the VIP; it must share this subnet with every gateway node."),
    interface: interfaceName().default("eth0").describe("Interface keepalived puts the VIP on."),
    vrrpVersion: z
        .literal([2, 3])
        .optional()
        .describe(`VRRP version: 2 (whole-second adverts, PASS authentication) or 3 (sub-second adverts, no authentication). ${fromProfile("vrrpVersion")}`),
    advertInt: z
        .number()
        .min(0.01)
        .max(255)
        .optional()
        .describe(`Seconds between adverts: whole seconds 1-255 with VRRPv2, 0.01-40.95 (whole centiseconds) with VRRPv3. ${fromProfile("advertInt")}`),
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
            path: urlPath()
                .default("/healthz")
                .describe("HTTP path keepalived asks the local gateway on its health socket (not on the public ports)."),
            // keepalived 2.2.7 reads a vrrp_script's interval and timeout as whole seconds 1-4294 (`keepalived -t`
            // rejects 0.5 and 1.5 alike, and ignores the line beyond 4294).
            interval: scriptSeconds().optional().describe(`Whole seconds between checks (keepalived's vrrp_script takes no fractions). ${fromProfile("healthCheck.interval")}`),
            timeout: scriptSeconds().optional().describe(`Whole seconds before a check fails; at most \`interval\`. ${fromProfile("healthCheck.timeout")}`),
            fall: z.number().int().min(1).max(10).optional().describe(`Failed checks before the node gives up the VIP. ${fromProfile("healthCheck.fall")}`),
            rise: z.number().int().min(1).max(10).optional().describe(`Passed checks before the node may hold the VIP again. ${fromProfile("healthCheck.rise")}`),
        })
        .prefault({})
        .describe("keepalived's check of the gateway on its own node (vrrp_script)."),
    scriptUser: unixUser().default("keepalived_script").describe("The keepalived script user (enable_script_security)."),
    garpMasterDelay: z.number().int().min(0).max(255).default(1).describe("Seconds after becoming master before the second gratuitous ARP burst."),
});

export type VirtualIpConfig = NonNullable<StackConfig["virtualIp"]>;

/** A gateway node's place in one VRRP group. */
export interface PlanVirtualIpMember {
    /** The node's name. */
    readonly node: string;
    /** unicast_src_ip: the node's address. */
    readonly address: string;
    /** Distinct within the group; the highest is the preferred master. */
    readonly priority: number;
    /** unicast_peer: every other member's address, in address order. */
    readonly peers: readonly string[];
}

/** One VIP and the gateway nodes that may hold it. */
export interface PlanVirtualIpGroup {
    /** keepalived instance name, from config. */
    readonly name: string;
    /** The virtual IP. */
    readonly address: string;
    /** The same on every member. */
    readonly virtualRouterId: number;
    /** Sorted by priority, highest first. */
    readonly members: readonly PlanVirtualIpMember[];
}

/** Where keepalived-apply installs the rendered files on a gateway node. */
export const KEEPALIVED_PATHS = {
    conf: "/etc/keepalived/keepalived.conf",
    check: "/etc/keepalived/check_gateway.sh",
    /** keepalived's notify FIFO reader: records each instance's state in `<stateDir>/<instance>.state`. */
    notify: "/etc/keepalived/notify.sh",
    /** keepalived makes it (owned by the script user) and writes each VRRP transition to it. */
    notifyFifo: "/run/keepalived/notify.fifo",
    stateDir: "/run/keepalived",
} as const;

/** The virtual IP as the VirtualIp component and the gateway see it. */
export interface PlanVirtualIp {
    /** The timing preset the timings below come from (explicit keys over it). */
    readonly profile: VrrpProfile;
    /** Interface keepalived puts the VIPs on. */
    readonly interface: string;
    /** Prefix length of every VIP. */
    readonly prefix: number;
    /** VRRP version 2 or 3. */
    readonly version: 2 | 3;
    /** Seconds between adverts. */
    readonly advertInt: number;
    /** unicast (peers listed) or multicast. */
    readonly transport: "unicast" | "multicast";
    /** false: `state BACKUP` + `nopreempt` on every node. */
    readonly preempt: boolean;
    /** Seconds before a recovered node takes the VIP back (preempt only). */
    readonly preemptDelay?: number;
    /** VRRPv2 PASS authentication. */
    readonly authentication: boolean;
    /** Config key of a fixed password; else a generated one. */
    readonly passwordSecret?: string;
    /** keepalived's check of the local gateway. */
    readonly healthCheck: {
        /** The gateway's health URL, asked through `socket`. */
        readonly url: string;
        /** The gateway's health socket on this node (in its state dir; no network port). */
        readonly socket: string;
        /** Asked only while no socket exists: a gateway still on an image from before the health socket (upgrades). */
        readonly legacyUrl: string;
        /** The gateway's state dir: a `draining` file there fails the check. */
        readonly gatewayStateDir: string;
        readonly interval: number;
        readonly timeout: number;
        readonly fall: number;
        readonly rise: number;
    };
    /** Runs the check and notify scripts. */
    readonly scriptUser: string;
    /** Seconds before the second gratuitous ARP burst. */
    readonly garpMasterDelay: number;
    /** One VRRP instance each. */
    readonly groups: readonly PlanVirtualIpGroup[];
    /** Seconds from a gateway flagging itself draining until a backup holds the VIP: the check fails after
     *  fall × interval, the holder steps down, a backup takes over within two adverts; one second of margin. */
    readonly drainSeconds: number;
    /** Files on each gateway node. */
    readonly paths: typeof KEEPALIVED_PATHS;
}

/** The VRRP groups of a config: `groups`, or the shorthand's single group `vip1`. */
export function virtualIpGroupsOf(vip: VirtualIpConfig): { name: string; address: string; virtualRouterId: number }[] {
    if (vip.groups) return vip.groups.map((g) => ({ name: g.name, address: g.address, virtualRouterId: g.virtualRouterId }));
    return vip.address && vip.virtualRouterId !== undefined ? [{ name: "vip1", address: vip.address, virtualRouterId: vip.virtualRouterId }] : [];
}

/** The timings of a config: its profile's, with every key set explicitly over them. */
export function vrrpTimingsOf(vip: VirtualIpConfig): VrrpTimings {
    const p: VrrpTimings = VRRP_PROFILES[vip.profile];
    const hc = vip.healthCheck;
    return {
        vrrpVersion: vip.vrrpVersion ?? p.vrrpVersion,
        advertInt: vip.advertInt ?? p.advertInt,
        healthCheck: {
            interval: hc.interval ?? p.healthCheck.interval,
            timeout: hc.timeout ?? p.healthCheck.timeout,
            fall: hc.fall ?? p.healthCheck.fall,
            rise: hc.rise ?? p.healthCheck.rise,
        },
    };
}

/**
 * Seconds a backup of `priority` waits without adverts before it takes over (RFC 5798 Master_Down_Interval):
 * 3 × advert_int + skew, skew = (256 − priority) / 256 × advert_int. The floor of a hard failover and, after a
 * node's check passes, of the first election (nopreempt: every node starts as BACKUP and waits it out).
 */
export function masterDownSeconds(advertInt: number, priority: number): number {
    return 3 * advertInt + ((256 - priority) / 256) * advertInt;
}

export function checkVirtualIp(c: StackConfig, report: Report): void {
    const vip = c.virtualIp;
    const gateways = c.nodes.filter((n) => n.gateway);
    if (!vip) return;
    const t = vrrpTimingsOf(vip);
    if (vip.groups && (vip.address || vip.virtualRouterId !== undefined)) {
        report("virtualIp", "give either address + virtualRouterId or groups, not both");
        return;
    }
    if (!vip.groups) {
        if (!vip.address) report("virtualIp.address", "is required (or give virtualIp.groups)");
        if (vip.virtualRouterId === undefined) report("virtualIp.virtualRouterId", "is required: 1-255, the same on every node of the group and unique on the L2 segment");
        // An incomplete shorthand has no group to check; the rules below still run, so every error shows at once.
    }
    if (gateways.length === 0) report("virtualIp", "needs at least one node with gateway: true to hold the address");
    const groups = virtualIpGroupsOf(vip);
    const groupPath = (i: number, key: string) => (vip.groups ? `virtualIp.groups[${i}].${key}` : `virtualIp.${key}`);
    firstDuplicates(groups.map((g) => g.virtualRouterId), (i, j) =>
        report(groupPath(i, "virtualRouterId"), `VRID ${groups[i].virtualRouterId} is already used by virtualIp.groups[${j}]; each VRRP group on a segment needs its own`),
    );
    firstDuplicates(groups.map((g) => g.address), (i, j) => report(groupPath(i, "address"), `address ${groups[i].address} is also virtualIp.groups[${j}]`));
    firstDuplicates(groups.map((g) => g.name), (i, j) => report(groupPath(i, "name"), `group name "${groups[i].name}" is also virtualIp.groups[${j}]`));

    groups.forEach((g, i) => {
        const path = groupPath(i, "address");
        const subnet = cidrOf(g.address, vip.prefix);
        const outside = gateways.filter((n) => !contains(subnet, n.address));
        if (outside.length) {
            report(path, `${g.address}/${vip.prefix} is not in the subnet of gateway node${outside.length > 1 ? "s" : ""} ${outside.map((n) => `${n.name} (${n.address})`).join(", ")}`);
        }
        const owner = c.nodes.find((n) => n.address === g.address);
        if (owner) report(path, `${g.address} is the address of node ${owner.name}; the VIP must be a free address`);
        if (reservedAddresses(subnet).includes(g.address)) report(path, `${g.address} is the network or broadcast address of ${cidrToString(subnet)}`);
        if (usesDockerDriver(c) && g.address === bridgeGateway(c)) report(path, `${g.address} is the docker driver bridge gateway`);
        const overlay = overlaySubnets(c).find((s) => contains(s.cidr, g.address));
        if (overlay) report(path, `${g.address} lies inside ${overlay.text} (${overlay.path})`);
    });

    const fastAsV2 = vip.profile === "fast" && vip.vrrpVersion === 2;
    if (fastAsV2) report("virtualIp.vrrpVersion", "profile fast is VRRPv3 (sub-second adverts); remove vrrpVersion, or use profile: default for VRRPv2");
    const version3 = vip.profile === "fast" ? "VRRPv3 (profile fast)" : "VRRPv3";
    // The profile's own sub-second advert is not the user's error when the version contradicts the profile.
    if (t.vrrpVersion === 2 && !Number.isInteger(t.advertInt) && !(fastAsV2 && vip.advertInt === undefined)) {
        report("virtualIp.advertInt", `VRRPv2 adverts are whole seconds (got ${t.advertInt}); use vrrpVersion: 3 (or profile: fast) for sub-second adverts`);
    }
    if (t.vrrpVersion === 3 && t.advertInt > VRRP3_MAX_ADVERT) {
        report("virtualIp.advertInt", `VRRPv3 adverts are at most ${VRRP3_MAX_ADVERT} s (a 12-bit count of centiseconds; got ${t.advertInt}); keepalived would cut it`);
    }
    if (t.vrrpVersion === 3 && Math.abs(t.advertInt * 100 - Math.round(t.advertInt * 100)) > 1e-6) {
        report("virtualIp.advertInt", `VRRPv3 adverts are whole centiseconds (got ${t.advertInt})`);
    }
    if (t.vrrpVersion === 3 && vip.authentication) report("virtualIp.authentication", `${version3} has no authentication; remove it or use ${vip.profile === "fast" ? "profile: default" : "vrrpVersion: 2"}`);
    if (t.vrrpVersion === 3 && vip.passwordSecret) report("virtualIp.passwordSecret", `${version3} has no authentication; remove it or use ${vip.profile === "fast" ? "profile: default" : "vrrpVersion: 2"}`);
    if (vip.authentication === false && vip.passwordSecret) report("virtualIp.passwordSecret", "is set but authentication is false");
    if (vip.preemptDelay !== undefined && !vip.preempt) {
        report("virtualIp.preemptDelay", "only applies with preempt: true (with preempt: false a recovered node never takes the VIP back)");
    }
    if (t.healthCheck.timeout > t.healthCheck.interval) {
        report("virtualIp.healthCheck.timeout", `${t.healthCheck.timeout}s exceeds the interval ${t.healthCheck.interval}s`);
    }
}

// Priorities: 200 for the preferred node, then down in steps (1 when there are many gateway nodes).
const TOP_PRIORITY = 200;

/** `nodes` are the planned nodes; the preference order comes from the config (priority, else stack-file order). */
export function planVirtualIp(c: StackConfig, nodes: readonly PlanNode[]): PlanVirtualIp | undefined {
    const vip = c.virtualIp;
    if (!vip) return undefined;
    const planned = new Map(nodes.map((n) => [n.name, n]));
    const gateways = gatewayNodesOf(c).map((n) => planned.get(n.name) as PlanNode);
    const step = gateways.length <= 19 ? 10 : 1;
    // Each group prefers a different node (the ranking rotated by the group's rank among the groups' names), so
    // several VIPs spread out; the groups' order in the stack file changes nothing.
    const groups = sortedBy(virtualIpGroupsOf(vip), (g) => g.name).map((g, gi): PlanVirtualIpGroup => {
        const rotated = gateways.map((_, i) => gateways[(i + gi) % gateways.length]);
        const members = rotated.map((n, rank) => ({
            node: n.name,
            address: n.address,
            priority: TOP_PRIORITY - rank * step,
            peers: gateways
                .filter((o) => o.name !== n.name)
                .map((o) => o.address)
                .sort((a, b) => ipToInt(a) - ipToInt(b)),
        }));
        return { name: g.name, address: g.address, virtualRouterId: g.virtualRouterId, members };
    });
    const t = vrrpTimingsOf(vip);
    const authentication = vip.authentication ?? t.vrrpVersion === 2;
    const hc = { ...t.healthCheck, path: vip.healthCheck.path };
    return {
        profile: vip.profile,
        interface: vip.interface,
        prefix: vip.prefix,
        version: t.vrrpVersion,
        advertInt: t.advertInt,
        transport: vip.transport,
        preempt: vip.preempt,
        ...(vip.preemptDelay !== undefined ? { preemptDelay: vip.preemptDelay } : {}),
        authentication,
        ...(authentication && vip.passwordSecret ? { passwordSecret: vip.passwordSecret } : {}),
        healthCheck: {
            url: `http://localhost${hc.path}`,
            socket: GATEWAY_HEALTH_SOCKET,
            legacyUrl: `http://127.0.0.1:${c.gateway.ports.http}${hc.path}`,
            gatewayStateDir: GATEWAY_STATE_DIR,
            interval: hc.interval,
            timeout: hc.timeout,
            fall: hc.fall,
            rise: hc.rise,
        },
        scriptUser: vip.scriptUser,
        garpMasterDelay: vip.garpMasterDelay,
        groups,
        drainSeconds: drainSecondsOf(vip),
        paths: KEEPALIVED_PATHS,
    };
}

/** Seconds a draining gateway keeps serving so the VIP leaves first: keepalived's failure detection (fall ×
 *  interval) plus two adverts and a second; 0 without a virtual IP. */
export function drainSecondsOf(vip: StackConfig["virtualIp"]): number {
    if (!vip) return 0;
    const t = vrrpTimingsOf(vip);
    return Math.ceil(t.healthCheck.fall * t.healthCheck.interval + 2 * t.advertInt + 1);
}

/** The nodes that run keepalived: every member of any group. */
export function virtualIpMembersOf(virtualIp: PlanVirtualIp): string[] {
    return [...new Set(virtualIp.groups.flatMap((g) => g.members.map((m) => m.node)))];
}

// ---- keepalived ----------------------------------------------------------------------------------

/** Stands in for the VRRP password in `npm run render` output (8 characters, like a real one). */
export const AUTH_PASS_PLACEHOLDER = "RENDERED";

// keepalived's parser ends a word at blanks, starts a comment at an unquoted '#' or '!', and treats '"' and '\'
// specially: a password with any of them would be cut silently (a split brain between nodes that differ).
const AUTH_PASS = /^[\x21-\x7e]{1,8}$/;
const AUTH_PASS_FORBIDDEN = /["#!\\]/;

function checkedAuthPass(authPass: string | undefined): string {
    if (authPass === undefined || authPass === "") throw new Error("VRRP authentication is on but no password was given (secrets.authPass)");
    if (!AUTH_PASS.test(authPass) || AUTH_PASS_FORBIDDEN.test(authPass)) {
        throw new Error(
            `the VRRP password must be 1-8 printable ASCII characters without blanks, '"', '#', '!' or '\\' (got ${authPass.length} characters); ` +
                "keepalived would cut it silently",
        );
    }
    return authPass;
}

interface Membership {
    readonly group: PlanVirtualIpGroup;
    readonly member: PlanVirtualIpMember;
}

function membershipsOf(virtualIp: PlanVirtualIp, node: string): Membership[] {
    const found = virtualIp.groups.flatMap((group) => group.members.filter((m) => m.node === node).map((member) => ({ group, member })));
    if (found.length === 0) {
        throw new Error(`node "${node}" is in no VRRP group (members: ${virtualIpMembersOf(virtualIp).join(", ") || "none"})`);
    }
    return found;
}

function instanceView(virtualIp: PlanVirtualIp, { group, member }: Membership, authPass: string | undefined) {
    return {
        name: group.name,
        interface: virtualIp.interface,
        virtualRouterId: group.virtualRouterId,
        priority: member.priority,
        advertInt: virtualIp.advertInt,
        nopreempt: !virtualIp.preempt,
        preemptDelay: virtualIp.preempt && virtualIp.preemptDelay ? { seconds: virtualIp.preemptDelay } : false,
        // A lone member has no peer, and any unicast keyword without a peer makes keepalived warn (and use multicast).
        unicast: virtualIp.transport === "unicast" && member.peers.length > 0 ? { src: member.address, peers: member.peers } : false,
        auth: authPass !== undefined ? { pass: authPass } : false,
        vip: { address: group.address, prefix: virtualIp.prefix },
        garpMasterDelay: virtualIp.garpMasterDelay,
    };
}

/** keepalived.conf of one gateway node. */
export function renderKeepalivedConf(virtualIp: PlanVirtualIp, node: string, secrets: { authPass?: string }): string {
    const memberships = membershipsOf(virtualIp, node);
    const authPass = virtualIp.authentication ? checkedAuthPass(secrets.authPass) : undefined;
    const hc = virtualIp.healthCheck;
    return renderTemplate("virtual-ip/keepalived.conf.mustache", {
        node,
        scriptUser: virtualIp.scriptUser,
        notify: { path: virtualIp.paths.notify, fifo: virtualIp.paths.notifyFifo },
        version3: virtualIp.version === 3,
        check: { path: virtualIp.paths.check, interval: hc.interval, timeout: hc.timeout, fall: hc.fall, rise: hc.rise },
        instances: memberships.map((m) => instanceView(virtualIp, m, authPass)),
    });
}

/** The check and notify scripts, the same on every gateway node. */
export function renderKeepalivedScripts(virtualIp: PlanVirtualIp): { check: string; notify: string } {
    return {
        check: renderTemplate("virtual-ip/check_gateway.sh.mustache", {
            stateDir: shellSafe("gateway.stateDir", virtualIp.healthCheck.gatewayStateDir),
            url: shellSafe("the health check URL", virtualIp.healthCheck.url),
            socket: shellSafe("the gateway health socket", virtualIp.healthCheck.socket),
            legacyUrl: shellSafe("the health check URL", virtualIp.healthCheck.legacyUrl),
            timeout: virtualIp.healthCheck.timeout,
        }),
        notify: renderTemplate("virtual-ip/notify.sh.mustache", { stateDir: virtualIp.paths.stateDir }),
    };
}

/** What `npm run render` writes for the virtual IP; the password is a placeholder. */
export function virtualIpArtifacts(virtualIp: PlanVirtualIp | undefined): Artifact[] {
    if (!virtualIp) return [];
    const scripts = renderKeepalivedScripts(virtualIp);
    const secrets = virtualIp.authentication ? { authPass: AUTH_PASS_PLACEHOLDER } : {};
    // keepalived.conf differs per node (priority, peers); the check and notify scripts are the same everywhere.
    return [
        ...virtualIpMembersOf(virtualIp).map((node) => ({
            path: `nodes/${node}/keepalived.conf`,
            content: renderKeepalivedConf(virtualIp, node, secrets),
            mode: 0o600,
        })),
        { path: "keepalived/check_gateway.sh", content: scripts.check, mode: 0o755 },
        { path: "keepalived/notify.sh", content: scripts.notify, mode: 0o755 },
    ];
}
