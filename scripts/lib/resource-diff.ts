// The resources a stack-file change creates, updates, replaces or deletes, predicted the way the mock tests do it:
// run the real index.ts under Pulumi mocks once per stack file (mock-run.ts), then compare URN → inputs and apply
// the provider rules (provider-rules.ts). No CLI, no state, no machine. Input values are never reported, only
// the names of the inputs that changed.
import { comparedInputs, isComponent, replacingChanges } from "./provider-rules";
import { ROOT, runProgram } from "./mock-run";

export interface ResourceSnapshot {
    readonly urn: string;
    readonly type: string;
    readonly name: string;
    /** Inputs as registered, checkout paths replaced by `<root>` and `<build>`. */
    readonly inputs: Record<string, unknown>;
    /** Inputs whose value is a secret. */
    readonly secretInputs: readonly string[];
}

export type ResourceOp = "create" | "update" | "replace" | "delete";

export interface ResourceChange {
    readonly op: ResourceOp;
    readonly urn: string;
    readonly type: string;
    readonly name: string;
    /** Update or replace: the changed inputs (replace: those forcing it first). */
    readonly inputs: readonly string[];
    /** Replace or update because a resource it takes a value from is replaced (its new id is not known yet). */
    readonly follows?: readonly string[];
}

export interface MockRunInput {
    readonly stack: string;
    /** Platform config keys without the project prefix, as the stack file holds them. */
    readonly config: Record<string, unknown>;
    /** Secret config keys → a stand-in value (never the real one: the diff cannot decrypt). */
    readonly secrets: Record<string, string>;
}

/**
 * Every resource the program declares for one config (components left out: they hold no state). Runs in this
 * process: the harness resets the mocks, the config and the program module on each run, so runs can follow each
 * other (the mock tests run many per process).
 */
export async function snapshotOf(input: MockRunInput): Promise<Map<string, ResourceSnapshot>> {
    const run = await runProgram({ stack: input.stack, config: input.config, secrets: input.secrets });
    const buildDir = run.buildDir;
    const normalize = (v: unknown): Record<string, unknown> =>
        JSON.parse(JSON.stringify(v ?? {}).split(buildDir).join("<build>").split(ROOT).join("<root>")) as Record<string, unknown>;
    const registered = new Map(run.resources.map((r) => [r.name, r]));
    const out = new Map<string, ResourceSnapshot>();
    for (const d of run.declared.values()) {
        if (isComponent(d.type)) continue;
        out.set(d.urn, { urn: d.urn, type: d.type, name: d.name, inputs: normalize(registered.get(d.name)?.inputs), secretInputs: d.secretInputs });
    }
    return out;
}

const same = (x: unknown, y: unknown) => JSON.stringify(x ?? null) === JSON.stringify(y ?? null);

/** Does a value hold the mock id of one of `names` (mock ids are `<name>-id`)? */
function idsIn(value: unknown, names: readonly string[]): string[] {
    const text = JSON.stringify(value ?? null);
    return names.filter((n) => new RegExp(`(?<![\\w.-])${n.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}-id(?![\\w.-])`).test(text));
}

/**
 * URN by URN: new → create, gone → delete, changed inputs → update, or replace when the provider rules say so.
 * A resource that takes a value from a replaced one (its id in `triggers`, a network id in a service's
 * `networksAdvanceds`) sees that value change too, as the engine would once the new id is known: it follows.
 */
export function resourceChanges(before: ReadonlyMap<string, ResourceSnapshot>, after: ReadonlyMap<string, ResourceSnapshot>): ResourceChange[] {
    const changedInputs = new Map<string, string[]>();
    for (const [urn, now] of after) {
        const was = before.get(urn);
        if (!was) continue;
        const b = comparedInputs(was.type, was.inputs);
        const a = comparedInputs(now.type, now.inputs);
        changedInputs.set(urn, [...new Set([...Object.keys(b), ...Object.keys(a)])].filter((k) => !same(b[k], a[k])).sort());
    }
    // Replacements spread to the resources that take their ids, until nothing new is replaced.
    const replaced = new Set<string>();
    const follows = new Map<string, Set<string>>();
    for (;;) {
        const replacedNames = [...replaced].map((u) => (after.get(u) as ResourceSnapshot).name);
        let grew = false;
        for (const [urn, now] of after) {
            if (!before.has(urn) || replaced.has(urn)) continue;
            const a = comparedInputs(now.type, now.inputs);
            const following = Object.entries(a).filter(([, v]) => idsIn(v, replacedNames).length > 0);
            for (const [k, v] of following) {
                const changed = changedInputs.get(urn) as string[];
                if (!changed.includes(k)) changed.push(k);
                for (const n of idsIn(v, replacedNames)) follows.set(urn, (follows.get(urn) ?? new Set()).add(n));
            }
            if (replacingChanges(now.type, changedInputs.get(urn) as string[]).length) {
                replaced.add(urn);
                grew = true;
            }
        }
        if (!grew) break;
    }
    const out: ResourceChange[] = [];
    for (const [urn, now] of after) {
        const base = { urn, type: now.type, name: now.name };
        if (!before.has(urn)) {
            out.push({ op: "create", ...base, inputs: [] });
            continue;
        }
        const changed = (changedInputs.get(urn) as string[]).sort();
        if (!changed.length) continue;
        const forcing = replacingChanges(now.type, changed);
        const followed = follows.has(urn) ? { follows: [...(follows.get(urn) as Set<string>)].sort() } : {};
        const ordered = [...forcing, ...changed.filter((k) => !forcing.includes(k))];
        out.push({ op: forcing.length ? "replace" : "update", ...base, inputs: ordered, ...followed });
    }
    for (const [urn, was] of before) {
        if (!after.has(urn)) out.push({ op: "delete", urn, type: was.type, name: was.name, inputs: [] });
    }
    const order: Record<ResourceOp, number> = { replace: 0, create: 1, update: 2, delete: 3 };
    return out.sort((x, y) => order[x.op] - order[y.op] || (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
}

/** `docker:index/service:Service` → `docker Service`; `command:remote:Command` → `command remote Command`. */
export function typeLabel(type: string): string {
    const [pkg, mod, kind] = type.split(":");
    if (pkg === "pulumi" && mod === "providers") return `${kind} provider`;
    return mod === "index" || mod?.startsWith("index/") ? `${pkg} ${kind}` : `${pkg} ${mod} ${kind}`;
}

const VERB: Record<ResourceOp, string> = { replace: "replace", create: "create", update: "update", delete: "delete" };

/** The resource changes as Markdown: counts, then one line per resource (input names only, `@` paths inside services). */
export function formatResourceChanges(changes: readonly ResourceChange[]): string {
    if (!changes.length) return "No resource changes.\n";
    const count = (op: ResourceOp) => changes.filter((c) => c.op === op).length;
    const counts = (["create", "update", "replace", "delete"] as const).map((op) => `${count(op)} to ${VERB[op]}`).join(", ");
    const lines = changes.map((c) => {
        const what = c.inputs.length ? `: ${c.inputs.map((k) => `\`${k.replace(/^@/, "")}\``).join(", ")}` : "";
        const follows = c.follows?.length ? ` (follows ${c.follows.map((n) => `\`${n}\``).join(", ")}, replaced)` : "";
        return `- **${VERB[c.op]}** \`${c.name}\` (${typeLabel(c.type)})${what}${follows}`;
    });
    return `${counts}.\n\n${lines.join("\n")}\n`;
}
