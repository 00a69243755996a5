// Where stack config comes from: a Pulumi.<stack>.yaml file (render, tests, promote) or the Pulumi runtime (index.ts).
import * as fs from "node:fs";
import * as YAML from "yaml";
import { CONFIG_KEYS } from "./schema";
import type { ConfigError } from "./validation";

export interface StackFile {
    /** The platform keys, without the `<project>:` prefix, as the schema expects them. */
    readonly config: Record<string, unknown>;
    /** Names of `secure:` keys (their values stay encrypted; only the names are known here). */
    readonly secretKeys: readonly string[];
    /** Keys of this project that are neither platform keys nor secrets: almost always typos. */
    readonly errors: readonly ConfigError[];
}

export const PROJECT = "swarm-platform";

/** Reads `config:` of a stack file, keeping this project's keys. Other namespaces (`docker:`, `command:`) are ignored. */
export function parseStackFile(text: string, project = PROJECT): StackFile {
    const doc = (YAML.parse(text) ?? {}) as { config?: Record<string, unknown> };
    const config: Record<string, unknown> = {};
    const secretKeys: string[] = [];
    const errors: ConfigError[] = [];
    for (const [fullKey, value] of Object.entries(doc.config ?? {})) {
        const [ns, key] = fullKey.includes(":") ? fullKey.split(":", 2) : [project, fullKey];
        if (ns !== project) continue;
        if (isSecure(value)) secretKeys.push(key);
        else if ((CONFIG_KEYS as string[]).includes(key)) config[key] = value;
        else errors.push({ path: key, message: `unknown config key "${project}:${key}" (keys: ${CONFIG_KEYS.join(", ")}; secrets are set with --secret)` });
    }
    return { config, secretKeys, errors };
}

export function readStackFile(path: string, project = PROJECT): StackFile {
    return parseStackFile(fs.readFileSync(path, "utf8"), project);
}

function isSecure(value: unknown): boolean {
    return typeof value === "object" && value !== null && "secure" in value;
}
