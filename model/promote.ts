// Promotion across stacks: the target stack gets the source stack's releases of one app. Pure: config in, config out,
// and stack file text in, text out (only the promoted app's changed release entries are rewritten).
import { isDeepStrictEqual } from "node:util";
import * as YAML from "yaml";
import { PROJECT } from "./config";
import type { StackConfigInput } from "./schema";

type AppInput = NonNullable<StackConfigInput["apps"]>[number];
type ReleaseInput = AppInput["releases"][number];

export interface PromoteOptions {
    readonly app: string;
    /** Hostname suffix rewrites, e.g. { "sklep.localhost": "sklep.pl" }: with it, hostnames are promoted too. */
    readonly domainMap?: Readonly<Record<string, string>>;
    /** Drop target releases the source no longer has (default: keep them, so a rollback target stays deployed). */
    readonly prune?: boolean;
}

export interface PromoteResult {
    readonly apps: AppInput[];
    /** Human-readable changes, one per line, for the PR / terminal. */
    readonly changes: string[];
}

/**
 * Copies release definitions (name, tag, image, env, replicas) of `app` from source to target. Hostnames are
 * environment-specific: they move only through `domainMap`; otherwise the target keeps its own assignment and a
 * new release arrives unrouted (deployed, no hostname) until someone assigns it one.
 */
export function promoteReleases(sourceApps: readonly AppInput[], targetApps: readonly AppInput[], opts: PromoteOptions): PromoteResult {
    const source = sourceApps.find((a) => a.name === opts.app);
    if (!source) throw new Error(`apps: the source stack has no app "${opts.app}" (apps: ${sourceApps.map((a) => a.name).join(", ") || "none"})`);
    const targetIndex = targetApps.findIndex((a) => a.name === opts.app);
    if (targetIndex < 0) throw new Error(`apps: the target stack has no app "${opts.app}"; add it there first (zone, image, port are per environment)`);
    const target = targetApps[targetIndex];
    const changes: string[] = [];

    const mapHost = (host: string): string | undefined => {
        for (const [from, to] of Object.entries(opts.domainMap ?? {})) {
            if (host === from || host.endsWith(`.${from}`)) return host.slice(0, host.length - from.length) + to;
        }
        return undefined;
    };
    const promoted: ReleaseInput[] = source.releases.map((rel) => {
        const existing = target.releases.find((t) => t.name === rel.name);
        const mapped = opts.domainMap ? rel.hostnames?.map((h) => mapHost(h)).filter((h): h is string => h !== undefined) : undefined;
        const hostnames = mapped ?? existing?.hostnames ?? [];
        const next: ReleaseInput = {
            ...(existing ?? {}),
            name: rel.name,
            ...(rel.tag !== undefined ? { tag: rel.tag } : {}),
            ...(rel.env !== undefined ? { env: { ...rel.env } } : {}),
            hostnames,
        };
        if (!existing) changes.push(`+ release ${rel.name}${hostnames.length ? ` on ${hostnames.join(", ")}` : " (no hostname yet)"}`);
        else if (JSON.stringify(existing) !== JSON.stringify(next)) changes.push(`~ release ${rel.name}`);
        return next;
    });
    // A hostname promoted onto one release is taken off any release kept from the target.
    const claimed = new Set(promoted.flatMap((r) => r.hostnames ?? []));
    const kept = opts.prune
        ? []
        : target.releases
              .filter((t) => !source.releases.some((s) => s.name === t.name))
              .map((t) => {
                  const hostnames = (t.hostnames ?? []).filter((h) => !claimed.has(h));
                  const lost = (t.hostnames ?? []).filter((h) => claimed.has(h));
                  if (lost.length) changes.push(`~ release ${t.name} (hands ${lost.join(", ")} to the promoted releases)`);
                  return { ...t, hostnames };
              });
    for (const t of target.releases) {
        if (opts.prune && !source.releases.some((s) => s.name === t.name)) changes.push(`- release ${t.name}`);
    }
    const apps = targetApps.map((a, i) => (i === targetIndex ? { ...a, releases: [...promoted, ...kept] } : a));
    return { apps, changes };
}

// ---- the target stack file ---------------------------------------------------------------------------------------

/** How the file writes flow collections: `{ a: 1 }` or `{a: 1}`, `[a, b]` or `[ a, b ]` (the repo's files: the first and the third). */
export interface FlowStyle {
    readonly mapPadding: boolean;
    readonly seqPadding: boolean;
}

export function flowStyleOf(text: string | undefined): FlowStyle {
    if (text === undefined) return { mapPadding: true, seqPadding: false };
    return { mapPadding: !/\{[^ }]/.test(text), seqPadding: /\[ /.test(text) };
}

/** One scalar as it may stand inside a flow collection (quoted where plain would change its type or meaning). */
function flowScalar(value: unknown): string {
    const doc = new YAML.Document([value]);
    (doc.contents as YAML.YAMLSeq).flow = true;
    return doc.toString({ flowCollectionPadding: false, lineWidth: 0 }).trim().slice(1, -1);
}

/**
 * `value` as a flow collection. Where `original` (the entry's node in `source`) holds the same scalar, its text is
 * kept as written (`"stock-1.0"` stays quoted).
 */
export function flowText(value: unknown, style: FlowStyle, keyOrder: readonly string[] = [], original?: unknown, source = ""): string {
    if (Array.isArray(value)) {
        const items = value.map((v, i) => flowText(v, style, [], YAML.isSeq(original) ? original.items[i] : undefined, source));
        return items.length === 0 ? "[]" : style.seqPadding ? `[ ${items.join(", ")} ]` : `[${items.join(", ")}]`;
    }
    if (typeof value === "object" && value !== null) {
        const entries = orderedEntries(value as Record<string, unknown>, keyOrder).map(
            ([k, v]) => `${flowScalar(k)}: ${flowText(v, style, [], YAML.isMap(original) ? original.get(k, true) : undefined, source)}`,
        );
        return entries.length === 0 ? "{}" : style.mapPadding ? `{ ${entries.join(", ")} }` : `{${entries.join(", ")}}`;
    }
    if (YAML.isScalar(original) && original.range && original.value === value) return source.slice(original.range[0], original.range[1]);
    return flowScalar(value);
}

/** Keys in the order the file already uses for this entry (then the rest as they come). */
function orderedEntries(value: Record<string, unknown>, keyOrder: readonly string[]): [string, unknown][] {
    const known = keyOrder.filter((k) => k in value);
    return [...known, ...Object.keys(value).filter((k) => !known.includes(k))].map((k) => [k, value[k]]);
}

/** A release entry in block style, its continuation lines indented to `column`. */
function blockText(value: Record<string, unknown>, column: number, keyOrder: readonly string[]): string {
    const ordered = Object.fromEntries(orderedEntries(value, keyOrder));
    const lines = YAML.stringify(ordered, { lineWidth: 0 }).trimEnd().split("\n");
    return lines.map((line, i) => (i === 0 ? line : " ".repeat(column) + line)).join("\n");
}


/**
 * The target stack file with the promoted app's releases set to `releases`. Only entries that change are rewritten:
 * unchanged releases, their comments, the other apps and every other key keep their exact text. New releases take
 * their siblings' style and indentation; key order follows the entry being replaced, else `keyOrderFrom`'s entry
 * of the same name (the source stack's), else the first sibling.
 */
export function writeAppReleases(
    text: string,
    app: string,
    releases: readonly ReleaseInput[],
    keyOrderFrom: readonly ReleaseInput[] = [],
    project = PROJECT,
): string {
    const doc = YAML.parseDocument(text);
    if (doc.errors.length) throw new Error(`the stack file is not valid YAML: ${doc.errors[0].message.split("\n")[0]}`);
    const config = doc.get("config", true);
    if (!YAML.isMap(config)) throw new Error("the stack file has no config: section");
    const appsPair = config.items.find((p) => YAML.isScalar(p.key) && (p.key.value === `${project}:apps` || p.key.value === "apps"));
    if (!appsPair || !YAML.isSeq(appsPair.value)) throw new Error(`the stack file has no ${project}:apps list`);
    const appNode = appsPair.value.items.find((item) => YAML.isMap(item) && item.get("name") === app);
    if (!YAML.isMap(appNode)) throw new Error(`${project}:apps has no app "${app}"`);
    const releasesNode = appNode.get("releases", true);
    if (!YAML.isSeq(releasesNode) || !releasesNode.range) throw new Error(`${project}:apps[${app}].releases is not a list`);

    const nodes = releasesNode.items.filter((item): item is YAML.YAMLMap => YAML.isMap(item) && !!item.range);
    const nameOf = (node: YAML.YAMLMap) => String(node.get("name"));
    const keysOf = (node: YAML.YAMLMap) => node.items.map((p) => String(YAML.isScalar(p.key) ? p.key.value : p.key));
    const firstText = nodes[0]?.range ? text.slice(nodes[0].range[0], nodes[0].range[1]) : undefined;
    const style = flowStyleOf(firstText);
    const keyOrderFor = (rel: ReleaseInput): readonly string[] => {
        const existing = nodes.find((n) => nameOf(n) === rel.name);
        if (existing) return keysOf(existing);
        const fromSource = keyOrderFrom.find((r) => r.name === rel.name);
        return fromSource ? Object.keys(fromSource) : nodes[0] ? keysOf(nodes[0]) : ["name", "hostnames", "env"];
    };

    // A flow list (`releases: [ … ]`) or an empty one: the list is written again as one flow value.
    if (releasesNode.flow || nodes.length === 0 || nodes.length !== releasesNode.items.length) {
        const list = releases.map((r) => flowText(r, style, keyOrderFor(r)));
        const value = list.length === 0 ? "[]" : style.seqPadding ? `[ ${list.join(", ")} ]` : `[${list.join(", ")}]`;
        if (releasesNode.flow || nodes.length === 0) return text.slice(0, releasesNode.range[0]) + value + text.slice(releasesNode.range[1]);
        throw new Error(`${project}:apps[${app}].releases has an entry that is not a map`);
    }

    // A block list: each entry owns whole lines (its comment lines above, its `- ` line(s), a trailing comment).
    const lineStart = (offset: number) => text.lastIndexOf("\n", offset - 1) + 1;
    const lineEnd = (offset: number) => {
        const end = text.indexOf("\n", offset);
        return end < 0 ? text.length : end + 1;
    };
    const valueEnd = (node: YAML.YAMLMap) => text.slice(0, node.range![1]).trimEnd().length;
    const chunks: { node: YAML.YAMLMap; start: number; end: number }[] = [];
    // Comment lines right above the first entry, at its indentation, belong to it (as they do to the others).
    let firstStart = lineStart(nodes[0].range![0]);
    const indent = text.slice(firstStart, nodes[0].range![0]).match(/^ */)![0];
    while (firstStart > 0) {
        const previous = lineStart(firstStart - 1);
        if (!text.slice(previous, firstStart).startsWith(`${indent}#`)) break;
        firstStart = previous;
    }
    for (const node of nodes) {
        const start = chunks.length ? chunks[chunks.length - 1].end : firstStart;
        chunks.push({ node, start, end: lineEnd(valueEnd(node) - 1) });
    }
    const indicatorLine = text.slice(lineStart(nodes[0].range![0]), nodes[0].range![0]); // e.g. "        - "
    const column = indicatorLine.length;

    const entryText = (rel: ReleaseInput, node: YAML.YAMLMap | undefined): string => {
        const flow = node ? !!node.flow : !!nodes[0].flow;
        const order = keyOrderFor(rel);
        if (!flow) return blockText(rel as Record<string, unknown>, column, order);
        return flowText(rel, flowStyleOf(node ? text.slice(node.range![0], node.range![1]) : firstText), order, node, text);
    };
    const out = releases.map((rel) => {
        const chunk = chunks.find((c) => nameOf(c.node) === rel.name);
        if (!chunk) return `${indicatorLine}${entryText(rel, undefined)}\n`;
        if (isDeepStrictEqual(chunk.node.toJSON(), rel)) return text.slice(chunk.start, chunk.end);
        const [from, to] = [chunk.node.range![0], valueEnd(chunk.node)];
        return text.slice(chunk.start, from) + entryText(rel, chunk.node) + text.slice(to, chunk.end);
    });
    const regionEnd = chunks[chunks.length - 1].end;
    // An entry ending the file without a newline: the rewritten region keeps it that way.
    let region = out.join("");
    if (!text.slice(chunks[0].start, regionEnd).endsWith("\n") && region.endsWith("\n")) region = region.slice(0, -1);
    return text.slice(0, chunks[0].start) + region + text.slice(regionEnd);
}
