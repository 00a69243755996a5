// Config errors: every problem at once, each naming its key path. Shared by every concept's rules.
import { z } from "zod";

export interface ConfigError {
    /** Key path like `nodes[3].zone`. */
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

export function formatPath(path: readonly PropertyKey[]): string {
    let out = "";
    for (const part of path) {
        if (typeof part === "number") out += `[${part}]`;
        else out += out === "" ? String(part) : `.${String(part)}`;
    }
    return out || "(root)";
}

/** A zod issue in the words of this project's errors. */
export function issueToError(issue: z.core.$ZodIssue): ConfigError {
    const path = formatPath(issue.path);
    if (issue.code === "unrecognized_keys") {
        return { path, message: `unknown key${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `"${k}"`).join(", ")}` };
    }
    if (issue.code === "invalid_value") {
        const values = issue.values.map((v) => JSON.stringify(v)).join(", ");
        return { path, message: issue.input === undefined ? `is required (one of ${values})` : `must be one of ${values}` };
    }
    if (issue.code === "invalid_key") {
        // A record key that breaks the key's own rule: say that rule (the inner issue), not "Invalid key in record".
        return { path, message: issue.issues[0]?.message ?? issue.message };
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
