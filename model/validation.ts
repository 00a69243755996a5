// Config errors: every problem at once, each naming its key path. Shared by every concept's rules.
import { z } from "zod";

export interface ConfigError {
    /** Key path like `nodes[gw-1].zone`: list items by their name where it is unique, else by position (`nodes[3]`). */
    readonly path: string;
    /** What is wrong and, where it helps, what to write instead. */
    readonly message: string;
}

/** How a concept's cross-key rules report a problem. */
export type Report = (path: string, message: string) => void;

/** Thrown when a config is invalid; its message lists every error. */
export class ConfigValidationError extends Error {
    constructor(
        readonly errors: ConfigError[],
        source = "stack config",
    ) {
        super(`${source} is invalid (${errors.length} error${errors.length === 1 ? "" : "s"}):\n` + formatErrors(errors));
        this.name = "ConfigValidationError";
    }
}

export function formatErrors(errors: readonly ConfigError[]): string {
    return errors.map((e) => `  - ${e.path}: ${e.message}`).join("\n");
}

// ---- key paths that name entities ----------------------------------------------------------------

/**
 * A key path as people read it. With `root` (the config the path points into), a list item that has a `name` unique
 * in its list is written by that name (`nodes[gw-1].address`, `apps[shop].releases[2.0]`); an item without one, or
 * whose name is shared (a duplicate), by its position (`nodes[3]`).
 */
export function formatPath(path: readonly PropertyKey[], root?: unknown): string {
    let out = "";
    let at: unknown = root;
    for (const part of path) {
        if (typeof part === "number") out += `[${itemLabel(at, part)}]`;
        else out += out === "" ? String(part) : `.${String(part)}`;
        at = childOf(at, part);
    }
    return out || "(root)";
}

/** A path written with positions (`nodes[3].zone`, as the concepts' rules report them) rewritten by formatPath's rule. */
export function namePath(path: string, root: unknown): string {
    return path.replace(/\[(\d+)\]/g, (_match, index: string, offset: number) => {
        const list = resolve(root, parsePositions(path.slice(0, offset)));
        return `[${itemLabel(list, Number(index))}]`;
    });
}

/** Every key path inside a message (`also nodes[4]`) rewritten like the error's own path. */
export function namePathsIn(message: string, root: unknown, topKeys: readonly string[]): string {
    if (!topKeys.length) return message;
    const token = new RegExp(`\\b(?:${topKeys.join("|")})(?:\\.[A-Za-z_][\\w-]*|\\[\\d+\\])*`, "g");
    return message.replace(token, (found) => (found.includes("[") ? namePath(found, root) : found));
}

/** The error with its path and the paths in its message naming entities. */
export function namedError(error: ConfigError, root: unknown, topKeys: readonly string[]): ConfigError {
    return { path: namePath(error.path, root), message: namePathsIn(error.message, root, topKeys) };
}

/** Names that read as positions, or have brackets, blanks or quotes, are written quoted: `releases["2"]`. */
const PLAIN_NAME = /^(?!\d+$)[A-Za-z0-9][A-Za-z0-9._-]*$/;

function itemLabel(list: unknown, index: number): string {
    if (!Array.isArray(list)) return String(index);
    const name = nameOf(list[index]);
    if (name === undefined || list.filter((item) => nameOf(item) === name).length !== 1) return String(index);
    return PLAIN_NAME.test(name) ? name : JSON.stringify(name);
}

function nameOf(item: unknown): string | undefined {
    if (typeof item !== "object" || item === null || !("name" in item)) return undefined;
    const name = (item as { name: unknown }).name;
    return typeof name === "string" && name !== "" ? name : undefined;
}

function childOf(value: unknown, key: PropertyKey): unknown {
    if (typeof value !== "object" || value === null) return undefined;
    return (value as Record<PropertyKey, unknown>)[key];
}

function resolve(root: unknown, path: readonly PropertyKey[]): unknown {
    return path.reduce<unknown>((at, part) => childOf(at, part), root);
}

/** `apps[0].releases` → ["apps", 0, "releases"]. Only the part before a list index is ever parsed. */
function parsePositions(text: string): PropertyKey[] {
    const parts: PropertyKey[] = [];
    for (const m of text.matchAll(/\[(\d+)\]|([^.[\]]+)/g)) parts.push(m[1] !== undefined ? Number(m[1]) : m[2]);
    return parts;
}

// ---- "did you mean" ------------------------------------------------------------------------------

/** Edit distance counting a swap of two neighbours as one edit (`platfrom` → `platform` is 1). */
export function editDistance(a: string, b: string): number {
    const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
    for (let j = 1; j <= b.length; j++) d[0][j] = j;
    for (let i = 1; i <= a.length; i++) {
        for (let j = 1; j <= b.length; j++) {
            const cost = a[i - 1] === b[j - 1] ? 0 : 1;
            d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
            if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
        }
    }
    return d[a.length][b.length];
}

/** The candidate closest to `word`, when it is close: at most one edit per three characters (at least one). */
export function closest(word: string, candidates: readonly string[]): string | undefined {
    let best: string | undefined;
    let bestDistance = Infinity;
    for (const c of candidates) {
        const distance = editDistance(word.toLowerCase(), c.toLowerCase());
        if (distance < bestDistance && distance <= Math.max(1, Math.floor(c.length / 3))) {
            best = c;
            bestDistance = distance;
        }
    }
    return best;
}

// ---- zod issues ----------------------------------------------------------------------------------

/** What issueToError may know beyond the issue itself. */
export interface IssueContext {
    /** The config as given (to name list items). */
    readonly root?: unknown;
    /** The keys an object at `path` allows (for unknown keys). */
    readonly keysAt?: (path: readonly PropertyKey[]) => readonly string[];
    /** How a scalar was written in the source file (a YAML `2.0` is the number 2 once parsed). */
    readonly sourceText?: (path: readonly PropertyKey[]) => string | undefined;
}

/** A zod issue in the words of this project's errors: one error per unknown key, every other issue one error. */
export function issueToErrors(issue: z.core.$ZodIssue, context: IssueContext = {}): ConfigError[] {
    const at = (path: readonly PropertyKey[]) => formatPath(path, context.root);
    if (issue.code === "unrecognized_keys") {
        const allowed = context.keysAt?.(issue.path) ?? [];
        const where = issue.path.length ? `${at(issue.path)} keys` : "keys";
        return issue.keys.map((key) => {
            const guess = closest(key, allowed);
            const hint = guess ? `: did you mean "${guess}"?` : "";
            return { path: at([...issue.path, key]), message: `unknown key${hint} (${where}: ${allowed.join(", ") || "none"})` };
        });
    }
    const path = at(issue.path);
    if (issue.code === "invalid_value") {
        const values = issue.values.map((v) => JSON.stringify(v)).join(", ");
        return [{ path, message: issue.input === undefined ? `is required (one of ${values})` : `must be one of ${values}` }];
    }
    if (issue.code === "invalid_key") {
        // A record key that breaks the key's own rule: say that rule (the inner issue), not "Invalid key in record".
        return [{ path, message: issue.issues[0]?.message ?? issue.message }];
    }
    if (issue.code === "invalid_type") {
        if (issue.input === undefined) return [{ path, message: `is required (${issue.expected})` }];
        if (issue.expected === "string" && typeof issue.input === "number") {
            return [{ path, message: quoteHint(issue.path, issue.input, context.sourceText?.(issue.path)) }];
        }
        const expected = issue.expected === "int" ? "a whole number" : `${/^[aeiou]/.test(issue.expected) ? "an" : "a"} ${issue.expected}`;
        return [{ path, message: `must be ${expected} (got ${kindOf(issue.input)})` }];
    }
    return [{ path, message: issue.message }];
}

/** YAML reads an unquoted `2.0` as the number 2: say so, and how the value is written as a string. */
function quoteHint(path: readonly PropertyKey[], value: number, written: string | undefined): string {
    const last = path[path.length - 1];
    const line = (text: string) => (typeof last === "string" ? `${last}: "${text}"` : `- "${text}"`);
    if (written !== undefined) return `must be a string, got the number ${value} — quote it: ${line(written)}`;
    const yaml = Number.isInteger(value) ? ` (YAML reads an unquoted ${value}.0 as ${value} too)` : "";
    return `must be a string, got the number ${value} — quote it as written, e.g. ${line(String(value))}${yaml}`;
}

function kindOf(value: unknown): string {
    if (value === null) return "null";
    if (Array.isArray(value)) return "a list";
    if (typeof value === "number") return String(value);
    return typeof value === "object" ? "a map" : `a ${typeof value}`;
}

/** The keys of the object schema at `path` inside `schema` (through defaults, optionals, lists and maps). */
export function objectKeysAt(schema: z.core.$ZodType, path: readonly PropertyKey[]): string[] {
    let at: z.core.$ZodType | undefined = schema;
    for (const part of path) {
        const def = unwrap(at)?._zod.def as AnyDef | undefined;
        if (!def) return [];
        if (def.type === "object") at = def.shape?.[String(part)];
        else if (def.type === "array") at = def.element;
        else if (def.type === "record") at = def.valueType;
        else return [];
    }
    const def = unwrap(at)?._zod.def as AnyDef | undefined;
    return def?.type === "object" && def.shape ? Object.keys(def.shape) : [];
}

interface AnyDef {
    readonly type: string;
    readonly innerType?: z.core.$ZodType;
    readonly in?: z.core.$ZodType;
    readonly shape?: Record<string, z.core.$ZodType>;
    readonly element?: z.core.$ZodType;
    readonly valueType?: z.core.$ZodType;
}

function unwrap(schema: z.core.$ZodType | undefined): z.core.$ZodType | undefined {
    let at = schema;
    for (let def = at?._zod.def as AnyDef | undefined; def; def = at?._zod.def as AnyDef | undefined) {
        if (def.innerType) at = def.innerType;
        else if (def.type === "pipe" && def.in) at = def.in;
        else break;
    }
    return at;
}

/** Calls `found(i, j)` for each later index i whose value equals the one at an earlier index j. */
export function firstDuplicates<T>(values: readonly T[], found: (i: number, j: number) => void): void {
    const seen = new Map<T, number>();
    values.forEach((v, i) => {
        const j = seen.get(v);
        if (j === undefined) seen.set(v, i);
        else found(i, j);
    });
}

export function listOrNone(items: readonly string[]): string {
    return items.length ? items.join(", ") : "none";
}
