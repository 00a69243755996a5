// Status: the live platform compared with its plan. Pure: what `npm run status` gathered (scripts/lib/status-gather.ts)
// goes in as an ObservedPlatform; a StatusReport (every row marked ok or not, with its problems in words) comes out,
// as JSON for scripts or as aligned tables for people. The parsers for what the nodes and the docker CLI print live
// here too, so recorded outputs can be tested without a machine.
import type { Plan, PlanNode } from "./index";
import { compare } from "./order";
import { servingBackends } from "./releases";

// ---- what was observed ------------------------------------------------------------------------------

/** A swarm node as the manager's engine reports it (`docker node inspect`). */
export interface ObservedNode {
    /** `Description.Hostname`: the node's name with the docker driver. */
    readonly hostname: string;
    /** `Status.Addr`: matches a planned node when the hostname differs from its name (ssh machines). */
    readonly address: string;
    readonly role: string;
    readonly availability: string;
    /** `Status.State`: ready, down, unknown, disconnected. */
    readonly state: string;
    readonly labels: Readonly<Record<string, string>>;
    /** Managers only: `ManagerStatus.Reachability` (reachable, unreachable), `leader` for the leader. */
    readonly manager?: string;
}

/** A swarm service (`docker service ls`). */
export interface ObservedService {
    readonly name: string;
    /** Image reference as the CLI shows it (digest stripped). */
    readonly image: string;
    readonly running: number;
    readonly desired: number;
}

/** A gateway task the swarm wants running (`docker service ps <gateway> --filter desired-state=running`). */
export interface ObservedTask {
    readonly node: string;
    /** Current state, first word lower-cased: running, starting, preparing, rejected, failed… */
    readonly state: string;
    /** The task's error, when any. */
    readonly error?: string;
}

/** What the probe script (templates/status/gateway-node-status.sh) read on one gateway node. */
export interface ObservedGatewayNode {
    readonly node: string;
    /** Set when the node could not be probed (the rest is then empty). */
    readonly error?: string;
    readonly keepalived?: "running" | "stopped";
    /** VRRP instance → state recorded by keepalived's notify script (MASTER, BACKUP, FAULT, STOP). */
    readonly vrrp: Readonly<Record<string, string>>;
    /** Every IPv4 address on the node's interfaces, without prefix. */
    readonly addresses: readonly string[];
    /** The gateway containers on the node. */
    readonly containers: readonly { readonly name: string; readonly status: string; readonly health: string }[];
    /** The gateway flagged itself draining (it is stopping). */
    readonly draining?: boolean;
    /** HTTP status of the gateway's health URL on the node (0: no answer). */
    readonly health?: number;
}

/** One request for a hostname through a VIP (or a gateway node when there is no VIP). */
export interface ObservedProbe {
    readonly hostname: string;
    /** The hostname actually sent (a wildcard's `*` replaced by a label). */
    readonly sent: string;
    /** Address the request went to. */
    readonly via: string;
    readonly scheme: "http" | "https";
    /** HTTP status; 0 when there was no answer. */
    readonly status: number;
    /** The gateway's release header (`<app>/<release>`), when present. */
    readonly servedBy?: string;
    /** Why there was no answer (timeout, refused, reset…). */
    readonly error?: string;
    readonly ms: number;
}

/** Everything one status run read from the platform. A section whose source failed carries its error. */
export interface ObservedPlatform {
    /** How the manager's engine was reached (`tcp://127.0.0.1:23750`, `ssh://deploy@10.0.10.11:22`). */
    readonly manager: string;
    readonly nodes: readonly ObservedNode[] | { readonly error: string };
    readonly services: readonly ObservedService[] | { readonly error: string };
    readonly gatewayTasks: readonly ObservedTask[] | { readonly error: string };
    readonly gatewayNodes: readonly ObservedGatewayNode[];
    readonly probes: readonly ObservedProbe[];
}

// ---- the report ---------------------------------------------------------------------------------------

/** Every row says whether it is healthy and, if not, why. */
interface Row {
    readonly ok: boolean;
    readonly problems: readonly string[];
}

export interface StatusNodeRow extends Row {
    readonly name: string;
    readonly role: string;
    readonly availability: string;
    readonly state: string;
    /** `leader`, `reachable`, `unreachable` for managers. */
    readonly manager?: string;
    readonly labels: Readonly<Record<string, string>>;
    /** false for a swarm node the plan does not know. */
    readonly planned: boolean;
}

export interface StatusVirtualIpRow extends Row {
    /** The VRRP group (keepalived instance). */
    readonly group: string;
    readonly address: string;
    /** Gateway nodes that have the address on an interface. */
    readonly holders: readonly string[];
    readonly members: readonly {
        readonly node: string;
        readonly keepalived: "running" | "stopped" | "unknown";
        /** MASTER, BACKUP, FAULT, STOP, or `unknown` (no state recorded, node not probed). */
        readonly state: string;
        readonly hasAddress: boolean;
        readonly ok: boolean;
    }[];
}

export interface StatusGatewayRow extends Row {
    readonly node: string;
    /** The task's state, or `missing`. */
    readonly task: string;
    /** The container's health: healthy, unhealthy, starting, none (no healthcheck), unknown. */
    readonly container: string;
    /** HTTP status of the health URL on the node (0: no answer), undefined when the node was not probed. */
    readonly health?: number;
    readonly draining: boolean;
}

export interface StatusReleaseRow extends Row {
    readonly app: string;
    readonly release: string;
    readonly service: string;
    /** The running service's image, or undefined when the service is missing. */
    readonly image?: string;
    readonly plannedImage: string;
    readonly running: number;
    /** Tasks the swarm wants. */
    readonly desired: number;
    /** Tasks the plan wants. */
    readonly planned: number;
}

export interface StatusHostnameRow extends Row {
    readonly hostname: string;
    readonly via: string;
    readonly scheme: "http" | "https";
    /** 0: no answer. */
    readonly status: number;
    readonly servedBy?: string;
    /** `<app>/<release>` of the route in the plan; a weighted hostname lists every release with weight above 0 (`, `). */
    readonly expected: string;
    readonly ms: number;
}

/** What `npm run status -- --json` prints (docs/status.md). */
export interface StatusReport {
    /** Version of this shape. */
    readonly format: 1;
    readonly stack: string;
    readonly manager: string;
    /** true when no row has a problem: the command exits 0. */
    readonly healthy: boolean;
    /** Sources that could not be read: `<what>: <error>` (the manager's engine, a section of it). */
    readonly errors: readonly string[];
    /** Every problem, `<section> <row>: <what>`, in table order, after the errors. */
    readonly problems: readonly string[];
    readonly nodes: readonly StatusNodeRow[];
    readonly virtualIp: readonly StatusVirtualIpRow[];
    readonly gateway: readonly StatusGatewayRow[];
    readonly releases: readonly StatusReleaseRow[];
    readonly hostnames: readonly StatusHostnameRow[];
}

/** What a hostname probe sends for a wildcard route: `*.example.com` → `status-probe.example.com`. */
export function probeHostname(hostname: string): string {
    return hostname.startsWith("*.") ? `status-probe${hostname.slice(1)}` : hostname;
}

/** Where hostnames are probed: every VIP, else every gateway node's address. */
export function probeAddresses(plan: Plan): string[] {
    const vips = plan.virtualIp?.groups.map((g) => g.address) ?? [];
    if (vips.length) return vips;
    return plan.nodes.filter((n) => n.gateway).map((n) => n.address);
}

/** The nodes the probe script runs on: gateway nodes and VRRP members, sorted. */
export function probedNodes(plan: Plan): string[] {
    const members = plan.virtualIp?.groups.flatMap((g) => g.members.map((m) => m.node)) ?? [];
    return [...new Set([...plan.gateway.nodes, ...members])].sort(compare);
}

/** An answer counts when it is not a gateway or server error (2xx–4xx: the app answered). */
export function answered(status: number): boolean {
    return status >= 200 && status < 500;
}

/** A row whose source failed (the source's error is in the report's `errors`, once). */
const NOT_READ = "not read (see errors)";
const NOT_PROBED = "not probed (see errors)";

const imageWithoutDigest = (image: string) => image.replace(/@sha256:[0-9a-f]+$/, "");

function failed<T>(section: readonly T[] | { readonly error: string }): string | undefined {
    return Array.isArray(section) ? undefined : (section as { error: string }).error;
}

function rowsOf<T>(section: readonly T[] | { readonly error: string }): readonly T[] {
    return Array.isArray(section) ? section : [];
}

function nodeRows(plan: Plan, observed: ObservedPlatform): StatusNodeRow[] {
    const error = failed(observed.nodes);
    const swarm = rowsOf(observed.nodes);
    const matched = new Set<ObservedNode>();
    const find = (n: PlanNode) => swarm.find((o) => o.hostname === n.name) ?? swarm.find((o) => o.address === n.address);
    const rows = plan.nodes.map((n): StatusNodeRow => {
        const o = find(n);
        if (o) matched.add(o);
        if (!o) {
            const why = error ? NOT_READ : "not in the swarm";
            return { name: n.name, role: n.role, availability: "-", state: "missing", labels: {}, planned: true, ok: false, problems: [why] };
        }
        const problems: string[] = [];
        if (o.state !== "ready") problems.push(`is ${o.state}`);
        if (o.role !== n.role) problems.push(`role ${o.role}, planned ${n.role}`);
        if (o.availability !== n.availability) problems.push(`availability ${o.availability}, planned ${n.availability}`);
        for (const [k, v] of Object.entries(n.labels)) {
            if (o.labels[k] !== v) problems.push(o.labels[k] === undefined ? `label ${k} missing (planned ${v})` : `label ${k}=${o.labels[k]}, planned ${v}`);
        }
        if (o.manager === "unreachable") problems.push("manager unreachable");
        return {
            name: n.name,
            role: o.role,
            availability: o.availability,
            state: o.state,
            ...(o.manager ? { manager: o.manager } : {}),
            labels: o.labels,
            planned: true,
            ok: problems.length === 0,
            problems,
        };
    });
    const extra = swarm
        .filter((o) => !matched.has(o))
        .map((o): StatusNodeRow => ({
            name: o.hostname,
            role: o.role,
            availability: o.availability,
            state: o.state,
            ...(o.manager ? { manager: o.manager } : {}),
            labels: o.labels,
            planned: false,
            ok: false,
            problems: ["not in the plan"],
        }));
    return [...rows, ...extra.sort((a, b) => compare(a.name, b.name))];
}

function virtualIpRows(plan: Plan, observed: ObservedPlatform): StatusVirtualIpRow[] {
    const probes = new Map(observed.gatewayNodes.map((g) => [g.node, g]));
    return (plan.virtualIp?.groups ?? []).map((group): StatusVirtualIpRow => {
        const problems: string[] = [];
        const members = group.members.map((m): StatusVirtualIpRow["members"][number] => {
            const p = probes.get(m.node);
            const hasAddress = p?.addresses.includes(group.address) ?? false;
            const keepalived = p?.keepalived ?? "unknown";
            const state = p?.vrrp[group.name] ?? "unknown";
            const mine: string[] = [];
            if (!p || p.error) mine.push(`${m.node} ${NOT_PROBED}`);
            else if (keepalived !== "running") mine.push(`keepalived stopped on ${m.node}`);
            else if (state === "FAULT") mine.push(`${m.node} is FAULT (its gateway check fails)`);
            else if (state === "unknown") mine.push(`${m.node} recorded no VRRP state`);
            else if (state === "MASTER" && !hasAddress) mine.push(`${m.node} is MASTER without the address`);
            if (p && !p.error && hasAddress && state !== "MASTER") mine.push(`${m.node} has the address but is ${keepalived === "running" ? state : "not running keepalived"}`);
            problems.push(...mine);
            return { node: m.node, keepalived, state, hasAddress, ok: mine.length === 0 };
        });
        const holders = members.filter((m) => m.hasAddress).map((m) => m.node);
        if (holders.length === 0) problems.unshift("no node holds the address");
        if (holders.length > 1) problems.unshift(`${holders.length} nodes hold the address (${holders.join(", ")})`);
        return { group: group.name, address: group.address, holders, members, ok: problems.length === 0, problems };
    });
}

function gatewayRows(plan: Plan, observed: ObservedPlatform): StatusGatewayRow[] {
    const tasksError = failed(observed.gatewayTasks);
    const tasks = rowsOf(observed.gatewayTasks);
    const probes = new Map(observed.gatewayNodes.map((g) => [g.node, g]));
    return plan.gateway.nodes.map((node): StatusGatewayRow => {
        const problems: string[] = [];
        const task = tasks.find((t) => t.node === node && t.state === "running") ?? tasks.find((t) => t.node === node);
        if (!task) problems.push(tasksError ? `task ${NOT_READ}` : "no gateway task");
        else if (task.state !== "running") problems.push(`task ${task.state}${task.error ? `: ${task.error}` : ""}`);
        const p = probes.get(node);
        let container = "unknown";
        if (!p || p.error) problems.push(NOT_PROBED);
        else {
            const running = p.containers.filter((c) => c.status === "running");
            container = running.length ? running.map((c) => c.health).join(",") : "missing";
            if (!running.length) problems.push("no gateway container running");
            else if (running.some((c) => c.health !== "healthy" && c.health !== "none")) problems.push(`container ${container}`);
            if (p.health !== 200) problems.push(`health URL answers ${p.health ? p.health : "nothing"}`);
            if (p.draining) problems.push("draining (stopping)");
        }
        return {
            node,
            task: task?.state ?? "missing",
            container,
            ...(p && !p.error && p.health !== undefined ? { health: p.health } : {}),
            draining: p?.draining ?? false,
            ok: problems.length === 0,
            problems,
        };
    });
}

function releaseRows(plan: Plan, observed: ObservedPlatform): StatusReleaseRow[] {
    const error = failed(observed.services);
    const services = rowsOf(observed.services);
    return plan.releases.map((r): StatusReleaseRow => {
        const s = services.find((x) => x.name === r.service);
        const base = { app: r.app, release: r.name, service: r.service, plannedImage: r.image, planned: r.replicas };
        if (!s) return { ...base, running: 0, desired: 0, ok: false, problems: [error ? NOT_READ : "service missing"] };
        const problems: string[] = [];
        const image = imageWithoutDigest(s.image);
        if (s.running < s.desired) problems.push(`${s.running} of ${s.desired} tasks running`);
        if (s.desired !== r.replicas) problems.push(`swarm wants ${s.desired} tasks, the plan ${r.replicas}`);
        if (image !== r.image) problems.push(`runs ${image}, planned ${r.image}`);
        return { ...base, image, running: s.running, desired: s.desired, ok: problems.length === 0, problems };
    });
}

function hostnameRows(plan: Plan, observed: ObservedPlatform): StatusHostnameRow[] {
    return plan.routes.flatMap((route) => {
        // A weighted hostname may answer from any release with weight above 0.
        const serving = servingBackends(route).map((b) => `${route.app}/${b.release}`);
        const expected = serving.join(", ");
        const probes = observed.probes.filter((p) => p.hostname === route.hostname);
        if (!probes.length) {
            return [{ hostname: route.hostname, via: "-", scheme: route.tls ? "https" : "http", status: 0, expected, ms: 0, ok: false, problems: ["not probed"] } as StatusHostnameRow];
        }
        return probes.map((p): StatusHostnameRow => {
            const problems: string[] = [];
            if (p.status === 0) problems.push(`no answer${p.error ? ` (${p.error})` : ""}`);
            else if (!answered(p.status)) problems.push(`answers ${p.status}`);
            // With gateway.releaseHeader off the answer does not say which release served it: only answering counts.
            const checked = plan.gateway.sendReleaseHeader;
            if (checked && p.status !== 0 && !serving.includes(p.servedBy ?? "")) {
                problems.push(p.servedBy ? `served by ${p.servedBy}, planned ${expected}` : "no release header in the answer");
            }
            return {
                hostname: route.hostname,
                via: p.via,
                scheme: p.scheme,
                status: p.status,
                ...(p.servedBy ? { servedBy: p.servedBy } : {}),
                expected,
                ms: p.ms,
                ok: problems.length === 0,
                problems,
            };
        });
    });
}

/** What could not be read, each error once: the manager's sections sharing an error are named together. */
function sourceErrors(observed: ObservedPlatform): string[] {
    const bySection: [string, string | undefined][] = [
        ["nodes", failed(observed.nodes)],
        ["services", failed(observed.services)],
        ["gateway tasks", failed(observed.gatewayTasks)],
    ];
    const byError = new Map<string, string[]>();
    for (const [what, error] of bySection) if (error !== undefined) byError.set(error, [...(byError.get(error) ?? []), what]);
    return [
        ...[...byError].map(([error, what]) => `${what.join(", ")} from ${observed.manager}: ${error}`),
        ...observed.gatewayNodes.filter((g) => g.error !== undefined).map((g) => `probe on ${g.node}: ${g.error}`),
    ];
}

/** The live platform judged against its plan. Same input, same report. */
export function evaluateStatus(plan: Plan, stack: string, observed: ObservedPlatform): StatusReport {
    const nodes = nodeRows(plan, observed);
    const virtualIp = virtualIpRows(plan, observed);
    const gateway = gatewayRows(plan, observed);
    const releases = releaseRows(plan, observed);
    const hostnames = hostnameRows(plan, observed);
    const errors = sourceErrors(observed);
    const problems = [
        ...errors,
        ...nodes.flatMap((r) => r.problems.map((p) => `node ${r.name}: ${p}`)),
        ...virtualIp.flatMap((r) => r.problems.map((p) => `virtual IP ${r.group} ${r.address}: ${p}`)),
        ...gateway.flatMap((r) => r.problems.map((p) => `gateway on ${r.node}: ${p}`)),
        ...releases.flatMap((r) => r.problems.map((p) => `release ${r.app} ${r.release}: ${p}`)),
        ...hostnames.flatMap((r) => r.problems.map((p) => `hostname ${r.hostname} via ${r.via}: ${p}`)),
    ];
    return { format: 1, stack, manager: observed.manager, healthy: problems.length === 0, errors, problems, nodes, virtualIp, gateway, releases, hostnames };
}

// ---- the table for people ------------------------------------------------------------------------------

const MARK_BAD = "✗";
const MARK_OK = " ";

/** Aligned columns; the first column marks unhealthy rows, the last says why. */
function table(title: string, header: readonly string[], rows: readonly { ok: boolean; cells: readonly string[]; problems: readonly string[] }[]): string {
    const all = [header, ...rows.map((r) => r.cells)];
    const widths = header.map((_, i) => Math.max(...all.map((cells) => cells[i].length)));
    const line = (mark: string, cells: readonly string[], tail: string) =>
        `${mark} ${cells.map((c, i) => c.padEnd(widths[i])).join("  ")}${tail ? `  ${tail}` : ""}`.trimEnd();
    return [
        `${title}`,
        line(MARK_OK, header, ""),
        ...(rows.length ? rows.map((r) => line(r.ok ? MARK_OK : MARK_BAD, r.cells, r.problems.join("; "))) : ["  (none)"]),
    ].join("\n");
}

/** Labels for people: the program's own bookkeeping labels (`swarm-platform.*`) are left to the JSON. */
const labelsText = (labels: Readonly<Record<string, string>>) =>
    Object.entries(labels)
        .filter(([k]) => !k.startsWith("swarm-platform."))
        .sort(([a], [b]) => compare(a, b))
        .map(([k, v]) => `${k}=${v}`)
        .join(",") || "-";

/** The report as aligned tables, one section per topic, unhealthy rows marked with ✗, then a verdict. */
export function formatStatusTable(report: StatusReport): string {
    const sections = [
        `stack ${report.stack}, manager ${report.manager}`,
        table(
            "Nodes",
            ["NODE", "ROLE", "AVAILABILITY", "STATE", "MANAGER", "LABELS"],
            report.nodes.map((r) => ({ ok: r.ok, problems: r.problems, cells: [r.name, r.role, r.availability, r.state, r.manager ?? "-", labelsText(r.labels)] })),
        ),
        table(
            "Virtual IP",
            ["GROUP", "ADDRESS", "HOLDER", "KEEPALIVED"],
            report.virtualIp.map((r) => ({
                ok: r.ok,
                problems: r.problems,
                cells: [
                    r.group,
                    r.address,
                    r.holders.join(",") || "none",
                    r.members.map((m) => `${m.node} ${m.keepalived === "running" ? m.state : m.keepalived}${m.hasAddress ? "+vip" : ""}`).join(", "),
                ],
            })),
        ),
        table(
            "Gateway",
            ["NODE", "TASK", "CONTAINER", "HEALTH", "DRAINING"],
            report.gateway.map((r) => ({
                ok: r.ok,
                problems: r.problems,
                cells: [r.node, r.task, r.container, r.health === undefined ? "-" : String(r.health || "none"), r.draining ? "yes" : "no"],
            })),
        ),
        table(
            "Releases",
            ["APP", "RELEASE", "SERVICE", "RUNNING", "IMAGE"],
            report.releases.map((r) => ({
                ok: r.ok,
                problems: r.problems,
                cells: [r.app, r.release, r.service, `${r.running}/${r.desired}`, r.image ?? "-"],
            })),
        ),
        table(
            "Hostnames",
            ["HOSTNAME", "VIA", "STATUS", "SERVED BY", "MS"],
            report.hostnames.map((r) => ({
                ok: r.ok,
                problems: r.problems,
                cells: [`${r.scheme === "https" ? "https://" : ""}${r.hostname}`, r.via, r.status ? String(r.status) : "-", r.servedBy ?? "-", String(r.ms)],
            })),
        ),
        report.healthy ? "healthy" : `UNHEALTHY (${report.problems.length} problem${report.problems.length === 1 ? "" : "s"}):\n${report.problems.map((p) => `  - ${p}`).join("\n")}`,
    ];
    return `${sections.join("\n\n")}\n`;
}

/** 0 healthy, 1 unhealthy. */
export function statusExitCode(report: StatusReport): number {
    return report.healthy ? 0 : 1;
}

// ---- parsers for what the CLI and the probe script print -------------------------------------------------

/** `docker node inspect <ids…>` (a JSON array) → nodes. */
export function parseNodeInspect(json: string): ObservedNode[] {
    const nodes = JSON.parse(json) as {
        Description?: { Hostname?: string };
        Spec?: { Role?: string; Availability?: string; Labels?: Record<string, string> };
        Status?: { State?: string; Addr?: string };
        ManagerStatus?: { Leader?: boolean; Reachability?: string };
    }[];
    return nodes
        .map((n): ObservedNode => ({
            hostname: n.Description?.Hostname ?? "",
            address: n.Status?.Addr ?? "",
            role: n.Spec?.Role ?? "unknown",
            availability: n.Spec?.Availability ?? "unknown",
            state: n.Status?.State ?? "unknown",
            labels: n.Spec?.Labels ?? {},
            ...(n.ManagerStatus ? { manager: n.ManagerStatus.Leader ? "leader" : (n.ManagerStatus.Reachability ?? "unknown") } : {}),
        }))
        .sort((a, b) => compare(a.hostname, b.hostname));
}

/** `docker service ls --format '{{json .}}'` (one JSON object a line) → services. */
export function parseServiceLs(text: string): ObservedService[] {
    return jsonLines<{ Name: string; Image: string; Replicas: string }>(text).map((s) => {
        const m = /^(\d+)\/(\d+)/.exec(s.Replicas ?? "");
        return { name: s.Name, image: s.Image, running: m ? Number(m[1]) : 0, desired: m ? Number(m[2]) : 0 };
    });
}

/** `docker service ps <service> --filter desired-state=running --format '{{json .}}'` → tasks. */
export function parseServicePs(text: string): ObservedTask[] {
    return jsonLines<{ Node: string; CurrentState: string; Error?: string }>(text).map((t) => ({
        node: t.Node,
        state: (t.CurrentState ?? "").split(" ")[0].toLowerCase(),
        ...(t.Error ? { error: t.Error } : {}),
    }));
}

function jsonLines<T>(text: string): T[] {
    return text
        .split("\n")
        .map((l) => l.trim())
        .filter(Boolean)
        .map((l) => JSON.parse(l) as T);
}

/** The probe script's stdout (one fact a line, see templates/status/gateway-node-status.sh) → one gateway node. */
export function parseGatewayNodeProbe(node: string, stdout: string): ObservedGatewayNode {
    const vrrp: Record<string, string> = {};
    const addresses: string[] = [];
    const containers: { name: string; status: string; health: string }[] = [];
    let keepalived: "running" | "stopped" | undefined;
    let draining: boolean | undefined;
    let health: number | undefined;
    for (const line of stdout.split("\n")) {
        const [key, ...rest] = line.trim().split(/\s+/);
        if (key === "keepalived") keepalived = rest[0] === "running" ? "running" : "stopped";
        else if (key === "vrrp" && rest.length >= 2) vrrp[rest[0]] = rest[1].toUpperCase();
        else if (key === "address" && rest[0]) addresses.push(rest[0].split("/")[0]);
        else if (key === "container" && rest.length >= 3) containers.push({ name: rest[0], status: rest[1], health: rest[2] });
        else if (key === "draining") draining = rest[0] === "yes";
        else if (key === "health") health = Number(rest[0]) || 0;
    }
    return {
        node,
        ...(keepalived ? { keepalived } : {}),
        vrrp,
        addresses,
        containers,
        ...(draining !== undefined ? { draining } : {}),
        ...(health !== undefined ? { health } : {}),
    };
}
