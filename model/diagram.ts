// The platform as a Mermaid flowchart (`diagram.mmd`, and `diagram.md` for GitHub): nodes grouped by zone with
// their roles and labels, each VIP with its failover order, the gateway, the releases in their zones and the
// hostname → release routes. `changed` marks the parts a diff touches. The text comes from
// templates/diagram/; this file only builds the view: ids, escaped labels, shapes and classes.
import type { Plan } from "./index";
import type { PlanNode } from "./nodes";
import { compare, sortedBy } from "./order";
import { formatPercent, type PlanRelease, type PlanRoute, reachableBackends } from "./releases";
import { type Artifact, renderTemplate } from "./templates";
import type { PlanVirtualIpGroup } from "./virtual-ip";

/** Keys of the diagram's elements, as a diff names what it changes. */
export const diagramKey = {
    node: (name: string) => `node:${name}`,
    release: (app: string, release: string) => `release:${app}:${release}`,
    hostname: (hostname: string) => `hostname:${hostname}`,
    virtualIp: "virtualIp",
    gateway: "gateway",
} as const;

export interface DiagramOptions {
    /** Keys (see diagramKey) of the elements to mark with the `changed` class; unknown keys are ignored. */
    readonly changed?: ReadonlySet<string>;
}

// Characters that stand for themselves inside a quoted Mermaid label. Everything else becomes an entity code
// (`#34;`), which Mermaid decodes: a quote, bracket, '#', '<', '`' or '|' in a name cannot end the label or start
// markup. Control characters (a line break, a tab) become a space: they cannot add a line to the diagram, and
// most of them are not allowed in the SVG's XML.
const LABEL_SAFE = /[A-Za-z0-9 .,_:/=+@*()-]/;
const CONTROL = /\p{Cc}/u;

/** `text` as it may appear between the quotes of a Mermaid label. */
export function mermaidText(text: string): string {
    return Array.from(text, (ch) => (LABEL_SAFE.test(ch) ? ch : CONTROL.test(ch) ? " " : `#${ch.codePointAt(0)};`)).join("");
}

const LINE = "<br/>";

/** Mermaid ids derived from the element keys: readable, [A-Za-z0-9_] only, unique (a suffix when two keys clash). */
class Ids {
    private readonly byKey = new Map<string, string>();
    private readonly taken = new Set<string>();

    constructor(private readonly prefix: Readonly<Record<string, string>>) {}

    of(key: string): string {
        const known = this.byKey.get(key);
        if (known) return known;
        const kind = key.split(":", 1)[0];
        const rest = key.slice(kind.length + 1);
        const base = `${this.prefix[kind] ?? kind}${rest ? `_${rest.replace(/[^A-Za-z0-9]+/g, "_")}` : ""}`;
        let id = base;
        for (let n = 2; this.taken.has(id); n++) id = `${base}_${n}`;
        this.byKey.set(key, id);
        this.taken.add(id);
        return id;
    }
}

interface Shape {
    readonly open: string;
    readonly close: string;
}
const BOX: Shape = { open: "[", close: "]" };
const ROUNDED: Shape = { open: "(", close: ")" };
const STADIUM: Shape = { open: "([", close: "])" };
const HEXAGON: Shape = { open: "{{", close: "}}" };
const SUBROUTINE: Shape = { open: "[[", close: "]]" };

interface Element extends Shape {
    readonly key: string;
    readonly id: string;
    readonly label: string;
    readonly cls: string;
}

interface Edge {
    readonly from: string;
    readonly to: string;
    readonly arrow: "-->" | "-.->" | "-.-";
    readonly label?: string;
    /** The key whose change highlights this edge. */
    readonly key: string;
}

const ORDINAL = ["master", "backup 1", "backup 2", "backup 3"];

function nodeElement(ids: Ids, node: PlanNode): Element {
    const roles = [node.role, ...(node.bootstrap ? ["bootstrap"] : []), ...(node.gateway ? ["gateway"] : [])];
    // zone and gateway are labels set from the fields shown above them.
    const extra = Object.entries(node.labels).filter(([k]) => k !== "zone" && k !== "gateway");
    const lines = [
        mermaidText(node.name),
        roles.join(" · "),
        mermaidText(node.address) + (node.availability === "active" ? "" : ` · ${node.availability}`),
        ...(extra.length ? [extra.map(([k, v]) => mermaidText(`${k}=${v}`)).join(", ")] : []),
    ];
    const key = diagramKey.node(node.name);
    return { key, id: ids.of(key), ...BOX, label: lines.join(LINE), cls: node.gateway ? "gatewayNode" : node.role };
}

function releaseElement(ids: Ids, release: PlanRelease): Element {
    const lines = [
        `${mermaidText(release.app)} ${mermaidText(release.name)}`,
        `${release.replicas} ${release.replicas === 1 ? "replica" : "replicas"}`,
        mermaidText(release.image),
    ];
    const key = diagramKey.release(release.app, release.name);
    return { key, id: ids.of(key), ...ROUNDED, label: lines.join(LINE), cls: "release" };
}

function hostnameElement(ids: Ids, route: PlanRoute): Element {
    const key = diagramKey.hostname(route.hostname);
    const label = mermaidText(route.hostname) + (route.tls ? `${LINE}TLS ${mermaidText(route.tls)}` : "");
    return { key, id: ids.of(key), ...STADIUM, label, cls: route.tls ? "tls" : "hostname" };
}

function vipElement(ids: Ids, group: PlanVirtualIpGroup): Element {
    const order = group.members.map((m) => `${mermaidText(m.node)} (prio ${m.priority})`).join(" → ");
    const lines = [`VIP ${mermaidText(group.address)}`, `${mermaidText(group.name)} · VRID ${group.virtualRouterId}`, order];
    return { key: diagramKey.virtualIp, id: ids.of(`vip:${group.name}`), ...HEXAGON, label: lines.join(LINE), cls: "vip" };
}

function gatewayElement(ids: Ids, plan: Plan): Element {
    const g = plan.gateway;
    const lines = [`gateway: ${mermaidText(g.engine)}`, `service ${mermaidText(g.service)}`, `:${g.ports.http} :${g.ports.https}`];
    return { key: diagramKey.gateway, id: ids.of("gateway:"), ...SUBROUTINE, label: lines.join(LINE), cls: "engine" };
}

/** The Mermaid flowchart of a plan. Same plan and options, same text. */
export function diagramOf(plan: Plan, options: DiagramOptions = {}): string {
    const changed = options.changed ?? new Set<string>();
    const ids = new Ids({ node: "node", release: "release", hostname: "host", vip: "vip", gateway: "gateway_service", zone: "zone" });
    const nodes = sortedBy(plan.nodes, (n) => n.name).map((n) => ({ zone: n.zone, element: nodeElement(ids, n) }));
    const releases = [...plan.releases]
        .sort((a, b) => compare(a.app, b.app) || compare(a.name, b.name))
        .map((r) => ({ zone: r.zone, element: releaseElement(ids, r) }));
    const routes = sortedBy(plan.routes, (r) => r.hostname);
    const hostnames = routes.map((r) => hostnameElement(ids, r));
    const groups = sortedBy(plan.virtualIp?.groups ?? [], (g) => g.name);
    const vips = groups.map((g) => vipElement(ids, g));
    const gateway = gatewayElement(ids, plan);

    // The gateway sits in its nodes' zone when they share one.
    const gatewayZones = new Set(plan.nodes.filter((n) => plan.gateway.nodes.includes(n.name)).map((n) => n.zone));
    const gatewayZone = gatewayZones.size === 1 ? [...gatewayZones][0] : undefined;
    const placed = [...nodes, ...(gatewayZone !== undefined ? [{ zone: gatewayZone, element: gateway }] : []), ...releases];
    const zones = [...new Set(placed.map((p) => p.zone))].sort(compare).map((zone) => ({
        id: ids.of(`zone:${zone}`),
        label: `zone ${mermaidText(zone)}`,
        members: placed.filter((p) => p.zone === zone).map((p) => p.element),
    }));

    const nodeId = (name: string) => ids.of(diagramKey.node(name));
    const edges: Edge[] = [
        // A weighted hostname's edges carry each release's share; a release reached only by a tester's pin is dotted.
        ...routes.flatMap((r) => {
            const key = diagramKey.hostname(r.hostname);
            return reachableBackends(r).map((b): Edge => ({
                from: ids.of(key),
                to: ids.of(diagramKey.release(r.app, b.release)),
                arrow: b.weight > 0 ? "-->" : "-.->",
                ...(b.weight === 0 ? { label: "pin" } : r.weighted ? { label: formatPercent(b.percent) } : {}),
                key,
            }));
        }),
        ...groups.flatMap((g) =>
            g.members.map((m, rank): Edge => ({
                from: ids.of(`vip:${g.name}`),
                to: nodeId(m.node),
                arrow: rank === 0 ? "-->" : "-.->",
                label: `${ORDINAL[rank] ?? `backup ${rank}`} · prio ${m.priority}`,
                key: diagramKey.virtualIp,
            })),
        ),
        ...[...plan.gateway.nodes].sort(compare).map((n): Edge => ({ from: gateway.id, to: nodeId(n), arrow: "-.-", key: diagramKey.gateway })),
    ];

    const elements = [...hostnames, ...vips, ...nodes.map((n) => n.element), gateway, ...releases.map((r) => r.element)];
    const byClass = new Map<string, string[]>();
    for (const e of elements) byClass.set(e.cls, [...(byClass.get(e.cls) ?? []), e.id]);
    const changedIds = elements.filter((e) => changed.has(e.key)).map((e) => e.id);
    if (changedIds.length) byClass.set("changed", changedIds);
    const changedEdges = edges.flatMap((e, i) => (changed.has(e.key) ? [i] : []));

    return renderTemplate("diagram/diagram.mmd.mustache", {
        hasHostnames: hostnames.length > 0,
        hostnames,
        vips,
        outsideZones: gatewayZone === undefined ? [gateway] : [],
        zones,
        edges,
        classes: [...byClass].map(([name, members]) => ({ name, ids: members.join(",") })),
        changedEdges: changedEdges.length ? changedEdges.join(",") : undefined,
    });
}

/** What `npm run render` writes: the flowchart, and a Markdown page that shows it on GitHub. */
export function diagramArtifacts(plan: Plan): Artifact[] {
    const mermaid = diagramOf(plan);
    return [
        { path: "diagram.md", content: renderTemplate("diagram/diagram.md.mustache", { mermaid }), mode: 0o644 },
        { path: "diagram.mmd", content: mermaid, mode: 0o644 },
    ];
}
