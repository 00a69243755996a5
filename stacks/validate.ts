// Turns raw stack config into a StackConfig, or into every error at once, each naming its key path.
import { z } from "zod";
import { Cidr, cidrOf, cidrToString, contains, intToIp, overlaps, parseCidr, reservedAddresses } from "./net";
import { AppConfig, StackConfig, StackConfigSchema } from "./schema";
import { effectiveAvailability, GATEWAY_SERVICE, overlayNameOf, serviceNameOf, updateSurge, vipGroupsOf } from "./naming";

export interface ConfigError {
    /** Key path like `nodes[3].zone`. */
    readonly path: string;
    readonly message: string;
}

export type ValidationResult = { ok: true; config: StackConfig } | { ok: false; errors: ConfigError[] };

export class ConfigValidationError extends Error {
    constructor(readonly errors: ConfigError[], source = "stack config") {
        super(`${source} is invalid (${errors.length} error${errors.length === 1 ? "" : "s"}):\n` + formatErrors(errors));
        this.name = "ConfigValidationError";
    }
}

export function formatErrors(errors: readonly ConfigError[]): string {
    return errors.map((e) => `  - ${e.path}: ${e.message}`).join("\n");
}

export function formatPath(path: readonly PropertyKey[]): string {
    let out = "";
    for (const part of path) {
        if (typeof part === "number") out += `[${part}]`;
        else out += out === "" ? String(part) : `.${String(part)}`;
    }
    return out || "(root)";
}

/** Validates shape first (all shape errors), then the cross-key rules (all of them). */
export function validateConfig(raw: unknown): ValidationResult {
    // reportInput: without it zod leaves issue.input undefined and every wrong type would read as "is required".
    const parsed = StackConfigSchema.safeParse(raw ?? {}, { reportInput: true });
    if (!parsed.success) {
        return { ok: false, errors: parsed.error.issues.map(issueToError) };
    }
    const errors = crossKeyErrors(parsed.data);
    return errors.length ? { ok: false, errors } : { ok: true, config: parsed.data };
}

/** Like validateConfig, but throws a ConfigValidationError listing every problem. */
export function parseConfig(raw: unknown, source?: string): StackConfig {
    const result = validateConfig(raw);
    if (!result.ok) throw new ConfigValidationError(result.errors, source);
    return result.config;
}

function issueToError(issue: z.core.$ZodIssue): ConfigError {
    const path = formatPath(issue.path);
    if (issue.code === "unrecognized_keys") {
        return { path, message: `unknown key${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `"${k}"`).join(", ")}` };
    }
    if (issue.code === "invalid_value") {
        const values = issue.values.map((v) => JSON.stringify(v)).join(", ");
        return { path, message: issue.input === undefined ? `is required (one of ${values})` : `must be one of ${values}` };
    }
    if (issue.code === "invalid_type") {
        if (issue.input === undefined) return { path, message: `is required (${issue.expected})` };
        const expected = issue.expected === "int" ? "a whole number" : `${/^[aeiou]/.test(issue.expected) ? "an" : "a"} ${issue.expected}`;
        return { path, message: `must be ${expected} (got ${kindOf(issue.input)})` };
    }
    return { path, message: issue.message };
}

function kindOf(value: unknown): string {
    if (value === null) return "null";
    if (Array.isArray(value)) return "a list";
    if (typeof value === "number") return String(value);
    return typeof value === "object" ? "a map" : `a ${typeof value}`;
}

// ---- cross-key rules ----------------------------------------------------------------------

type Report = (path: string, message: string) => void;

function crossKeyErrors(c: StackConfig): ConfigError[] {
    const errors: ConfigError[] = [];
    const report: Report = (path, message) => errors.push({ path, message });
    checkNodes(c, report);
    checkSwarm(c, report);
    checkNetworks(c, report);
    checkVirtualIp(c, report);
    checkApps(c, report);
    checkGateway(c, report);
    return errors;
}

function zonesOf(c: StackConfig): string[] {
    return Object.keys(c.networks.zones);
}

function listOrNone(items: readonly string[]): string {
    return items.length ? items.join(", ") : "none";
}

function checkNodes(c: StackConfig, report: Report): void {
    const managers = c.nodes.filter((n) => n.role === "manager");
    if (managers.length === 0) report("nodes", "needs at least one node with role: manager");
    else if (managers.length % 2 === 0) {
        report("nodes", `needs an odd number of managers for a Raft quorum (have ${managers.length}: ${managers.map((m) => m.name).join(", ")})`);
    }
    firstDuplicates(c.nodes.map((n) => n.name), (i, j) => report(`nodes[${i}].name`, `duplicate node name "${c.nodes[i].name}" (also nodes[${j}])`));
    firstDuplicates(c.nodes.map((n) => n.address), (i, j) =>
        report(`nodes[${i}].address`, `duplicate address ${c.nodes[i].address} (also nodes[${j}] ${c.nodes[j].name})`),
    );

    const zones = zonesOf(c);
    const dockerNet = parseCidr(c.drivers.docker.network.subnet);
    const overlays = overlaySubnets(c);
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
        if (driver !== "docker") {
            const overlay = overlays.find((s) => contains(s.cidr, node.address));
            if (overlay) report(`${at}.address`, `${node.address} lies inside ${overlay.text} (${overlay.path}); overlay subnets must not overlap the nodes' network`);
        }
        if (node.gateway && effectiveAvailability(c, node) !== "active") {
            report(`${at}.availability`, `gateway node "${node.name}" must be active to run the gateway (is ${effectiveAvailability(c, node)})`);
        }
    });
    // Compared with the stack driver, not among nodes: nodes that all override it would leave plan.driver wrong.
    const otherDriver = c.nodes.findIndex((n) => (n.driver ?? c.driver) !== c.driver);
    if (otherDriver >= 0) {
        report(`nodes[${otherDriver}].driver`, `all nodes of one swarm use one driver (stack driver is "${c.driver}", this node "${c.nodes[otherDriver].driver}")`);
    }
    const gateways = c.nodes.filter((n) => n.gateway);
    if (gateways.length > 100) report("nodes", `at most 100 gateway nodes (have ${gateways.length}); VRRP priorities must stay distinct`);
}

function bridgeGateway(c: StackConfig): string {
    const net = parseCidr(c.drivers.docker.network.subnet);
    return c.drivers.docker.network.gateway ?? (net ? intToIp(net.network + 1) : "");
}

function checkSwarm(c: StackConfig, report: Report): void {
    c.swarm.defaultAddrPool.forEach((pool, i) => {
        const p = parseCidr(pool);
        if (p && p.prefix > c.swarm.defaultAddrPoolMaskLength) {
            report(`swarm.defaultAddrPoolMaskLength`, `/${c.swarm.defaultAddrPoolMaskLength} is larger than pool swarm.defaultAddrPool[${i}] (${pool})`);
        }
    });
}

interface NamedSubnet {
    path: string;
    cidr: Cidr;
    text: string;
}

function checkNetworks(c: StackConfig, report: Report): void {
    const subnets: NamedSubnet[] = [];
    const add = (path: string, text: string | undefined) => {
        const cidr = text ? parseCidr(text) : undefined;
        if (!cidr || !text) return;
        const clash = subnets.find((s) => overlaps(s.cidr, cidr));
        if (clash) report(path, `${text} overlaps ${clash.text} (${clash.path})`);
        subnets.push({ path, cidr, text });
    };
    if (c.nodes.some((n) => (n.driver ?? c.driver) === "docker")) add("drivers.docker.network.subnet", c.drivers.docker.network.subnet);
    c.swarm.defaultAddrPool.forEach((p, i) => add(`swarm.defaultAddrPool[${i}]`, p));
    for (const [zone, net] of Object.entries(c.networks.zones)) add(`networks.zones.${zone}.subnet`, net.subnet);
    add("networks.gateway.subnet", c.networks.gateway.subnet);
    add("networks.ingress.subnet", c.networks.ingress?.subnet);

    const ingress = c.networks.ingress;
    if (ingress?.gateway) {
        const sub = parseCidr(ingress.subnet);
        if (sub && !contains(sub, ingress.gateway)) report("networks.ingress.gateway", `${ingress.gateway} is outside networks.ingress.subnet ${ingress.subnet}`);
    }
    const dockerGw = c.drivers.docker.network.gateway;
    const dockerNet = parseCidr(c.drivers.docker.network.subnet);
    if (dockerGw && dockerNet && !contains(dockerNet, dockerGw)) {
        report("drivers.docker.network.gateway", `${dockerGw} is outside drivers.docker.network.subnet ${c.drivers.docker.network.subnet}`);
    }

    const names = new Map<string, string>();
    const claim = (path: string, name: string) => {
        const other = names.get(name);
        if (other) report(path, `network name "${name}" is also used by ${other}`);
        else names.set(name, path);
    };
    claim("networks.gateway.name", c.networks.gateway.name);
    for (const zone of zonesOf(c)) claim(`networks.zones.${zone}.name`, overlayNameOf(c, zone));
    if (names.has("ingress")) report(names.get("ingress") ?? "networks", `"ingress" is reserved for the swarm's ingress network`);
}

function checkVirtualIp(c: StackConfig, report: Report): void {
    const vip = c.virtualIp;
    const gateways = c.nodes.filter((n) => n.gateway);
    if (!vip) return;
    if (vip.groups && (vip.address || vip.virtualRouterId !== undefined)) {
        report("virtualIp", "give either address + virtualRouterId or groups, not both");
        return;
    }
    if (!vip.groups) {
        if (!vip.address) report("virtualIp.address", "is required (or give virtualIp.groups)");
        if (vip.virtualRouterId === undefined) report("virtualIp.virtualRouterId", "is required: 1-255, the same on every node of the group and unique on the L2 segment");
        if (!vip.address || vip.virtualRouterId === undefined) return;
    }
    if (gateways.length === 0) report("virtualIp", "needs at least one node with gateway: true to hold the address");
    const groups = vipGroupsOf(vip);
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
        if ((c.nodes.some((n) => (n.driver ?? c.driver) === "docker")) && g.address === bridgeGateway(c)) {
            report(path, `${g.address} is the docker driver bridge gateway`);
        }
        const overlay = overlaySubnets(c).find((s) => contains(s.cidr, g.address));
        if (overlay) report(path, `${g.address} lies inside ${overlay.text} (${overlay.path})`);
    });

    if (vip.vrrpVersion === 2 && !Number.isInteger(vip.advertInt)) {
        report("virtualIp.advertInt", `VRRPv2 adverts are whole seconds (got ${vip.advertInt}); use vrrpVersion: 3 for sub-second adverts`);
    }
    if (vip.vrrpVersion === 3 && vip.authentication) report("virtualIp.authentication", "VRRPv3 has no authentication; remove it or use vrrpVersion: 2");
    if (vip.vrrpVersion === 3 && vip.passwordSecret) report("virtualIp.passwordSecret", "VRRPv3 has no authentication; remove it or use vrrpVersion: 2");
    if (vip.authentication === false && vip.passwordSecret) report("virtualIp.passwordSecret", "is set but authentication is false");
    if (vip.preemptDelay !== undefined && !vip.preempt) {
        report("virtualIp.preemptDelay", "only applies with preempt: true (with preempt: false a recovered node never takes the VIP back)");
    }
    if (vip.healthCheck.timeout > vip.healthCheck.interval) {
        report("virtualIp.healthCheck.timeout", `${vip.healthCheck.timeout}s exceeds the interval ${vip.healthCheck.interval}s`);
    }
}

function overlaySubnets(c: StackConfig): NamedSubnet[] {
    const out: NamedSubnet[] = [];
    const add = (path: string, text?: string) => {
        const cidr = text ? parseCidr(text) : undefined;
        if (cidr && text) out.push({ path, cidr, text });
    };
    c.swarm.defaultAddrPool.forEach((p, i) => add(`swarm.defaultAddrPool[${i}]`, p));
    for (const [zone, net] of Object.entries(c.networks.zones)) add(`networks.zones.${zone}.subnet`, net.subnet);
    add("networks.gateway.subnet", c.networks.gateway.subnet);
    add("networks.ingress.subnet", c.networks.ingress?.subnet);
    return out;
}

function checkApps(c: StackConfig, report: Report): void {
    const zones = zonesOf(c);
    firstDuplicates(c.apps.map((a) => a.name), (i, j) => report(`apps[${i}].name`, `duplicate app name "${c.apps[i].name}" (also apps[${j}])`));

    const services = new Map<string, string>([[GATEWAY_SERVICE, "the gateway service"]]);
    const hostOwners = new Map<string, string>();
    // Keyed by `<port>/<protocol>`: 53/tcp and 53/udp are two different ports.
    const publishedBy = new Map<string, string>([
        [`${c.gateway.ports.http}/tcp`, "gateway.ports.http"],
        [`${c.gateway.ports.https}/tcp`, "gateway.ports.https"],
    ]);

    c.apps.forEach((app, i) => {
        const at = `apps[${i}]`;
        if (!zones.includes(app.zone)) {
            report(`${at}.zone`, `unknown zone "${app.zone}" (zones: ${listOrNone(zones)})`);
        } else if (app.releases.some((r) => (r.replicas ?? app.replicas) > 0)) {
            const eligible = c.nodes.filter((n) => n.zone === app.zone && effectiveAvailability(c, n) === "active");
            if (eligible.length === 0) {
                const inZone = c.nodes.filter((n) => n.zone === app.zone).map((n) => `${n.name} (${effectiveAvailability(c, n)})`);
                report(`${at}.zone`, `no active node in zone "${app.zone}" can run ${app.name} (nodes in zone: ${listOrNone(inZone)})`);
            }
        }
        const duplicateReleases = new Set<number>();
        firstDuplicates(app.releases.map((r) => r.name), (j, k) => {
            duplicateReleases.add(j);
            report(`${at}.releases[${j}].name`, `duplicate release "${app.releases[j].name}" of ${app.name} (also releases[${k}])`);
        });
        app.releases.forEach((rel, j) => {
            const rat = `${at}.releases[${j}]`;
            const svc = serviceNameOf(app, rel);
            // A duplicate release (already reported) clashes with its twin's derived service name by construction.
            const reportedAsDuplicate = duplicateReleases.has(j) && !rel.service;
            if (svc.length > 63 || !/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(svc)) {
                report(rel.service ? `${rat}.service` : `${rat}.name`, `service name "${svc}" must be a DNS label: lower-case letters, digits and '-', at most 63 characters${rel.service ? "" : " (set service: to choose one)"}`);
            } else if (services.has(svc)) {
                if (!reportedAsDuplicate) report(rel.service ? `${rat}.service` : `${rat}.name`, `service name "${svc}" is also ${services.get(svc)}`);
            } else services.set(svc, `${app.name} release ${rel.name}`);
            rel.hostnames.forEach((host, k) => {
                const owner = hostOwners.get(host);
                if (owner) report(`${rat}.hostnames[${k}]`, `"${host}" is already served by ${owner}; a hostname belongs to exactly one release`);
                else hostOwners.set(host, `${app.name} release ${rel.name} (${rat})`);
            });
            for (const key of Object.keys(rel.env)) {
                if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) report(`${rat}.env.${key}`, "env names are shell identifiers");
            }
        });
        checkPublish(app, at, publishedBy, report);
        checkUpdatePolicy(app, at, report);
    });
}

function checkPublish(app: AppConfig, at: string, publishedBy: Map<string, string>, report: Report): void {
    app.publish.forEach((p, k) => {
        const path = `${at}.publish[${k}]`;
        if (!app.allowPublishedPorts) {
            report(path, `published ports bypass the gateway and its zone isolation; set ${at}.allowPublishedPorts: true to allow`);
        }
        if (p.mode === "ingress" && app.endpointMode === "dnsrr") report(`${path}.mode`, "ingress-published ports need endpointMode: vip (dnsrr has no routing mesh)");
        const key = `${p.published}/${p.protocol}`;
        const other = publishedBy.get(key);
        if (other) report(`${path}.published`, `port ${key} is already published by ${other}`);
        else publishedBy.set(key, path);
    });
}

function checkUpdatePolicy(app: AppConfig, at: string, report: Report): void {
    const floor = app.healthcheck.startPeriod + app.healthcheck.interval * app.healthcheck.retries;
    for (const key of ["update", "rollback"] as const) {
        const monitor = app[key].monitor;
        if (monitor !== undefined && monitor < floor) {
            report(`${at}.${key}.monitor`, `${monitor}s is shorter than healthcheck startPeriod + interval × retries = ${floor}s; failures would go unnoticed`);
        }
    }
}

function checkGateway(c: StackConfig, report: Report): void {
    const g = c.gateway;
    if (g.ports.http === g.ports.https) report("gateway.ports.https", `must differ from gateway.ports.http (${g.ports.http})`);
    if (g.delivery === "registry" && !g.registry) report("gateway.registry", "is required when gateway.delivery is registry");
    if (g.delivery === "load" && g.registry) report("gateway.registry", "is only used with gateway.delivery: registry");
    const served = new Set(c.apps.flatMap((a) => a.releases.flatMap((r) => r.hostnames)));
    g.tls.forEach((t, i) =>
        t.hostnames.forEach((h, k) => {
            if (!served.has(h)) report(`gateway.tls[${i}].hostnames[${k}]`, `"${h}" is not served by any release`);
        }),
    );
    const tlsHosts = g.tls.flatMap((t, i) => t.hostnames.map((h, k) => ({ h, path: `gateway.tls[${i}].hostnames[${k}]` })));
    firstDuplicates(tlsHosts.map((t) => t.h), (i, j) => report(tlsHosts[i].path, `hostname "${tlsHosts[i].h}" has two certificates (also ${tlsHosts[j].path})`));
    if (g.defaultHost !== "reject" && !served.has(g.defaultHost)) {
        report("gateway.defaultHost", `"${g.defaultHost}" is not served by any release (use "reject" or a served hostname)`);
    }
    if (served.size > 0 && !c.nodes.some((n) => n.gateway)) report("nodes", "no gateway node: set gateway: true on at least one node to serve the apps' hostnames");
    if (g.engine === "haproxy") {
        const slots = g.serverSlots;
        c.apps.forEach((app, i) =>
            app.releases.forEach((r, j) => {
                const replicas = r.replicas ?? app.replicas;
                const need = replicas + Math.max(updateSurge(app.update, replicas), updateSurge(app.rollback, replicas));
                if (slots !== undefined && slots < need) {
                    report("gateway.serverSlots", `${slots} slots cannot hold apps[${i}].releases[${j}] (${need} tasks during an update)`);
                }
            }),
        );
    }
    if (g.engine === "nginx" && g.serverSlots !== undefined) report("gateway.serverSlots", "only applies to engine haproxy");
}

/** Calls `found(i, j)` for each later index i whose value equals the one at an earlier index j. */
function firstDuplicates<T>(values: readonly T[], found: (i: number, j: number) => void): void {
    const seen = new Map<T, number>();
    values.forEach((v, i) => {
        const j = seen.get(v);
        if (j === undefined) seen.set(v, i);
        else found(i, j);
    });
}

