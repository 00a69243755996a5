// Reads this stack's config from the Pulumi runtime and checks it completely before any resource is declared.
import * as pulumi from "@pulumi/pulumi";
import { CONFIG_KEYS, StackConfig } from "./schema";
import { secretRefsOf } from "./secrets";
import { validateConfig } from "./index";
import { type ConfigError, ConfigValidationError } from "./validation";

export interface RuntimeConfig {
    readonly config: StackConfig;
    /** Secret values by config key (only those the config references). */
    readonly secrets: Record<string, pulumi.Output<string>>;
}

export function readRuntimeConfig(project: string): RuntimeConfig {
    const cfg = new pulumi.Config(project);
    const raw: Record<string, unknown> = {};
    for (const key of CONFIG_KEYS) {
        const text = cfg.get(key);
        if (text !== undefined) raw[key] = configValue(text);
    }
    const result = validateConfig(raw);
    const source = `stack ${pulumi.getStack()} config`;
    if (!result.ok) throw new ConfigValidationError(result.errors, source);

    const present = new Set(Object.keys(pulumi.runtime.allConfig()).filter((k) => k.startsWith(`${project}:`)).map((k) => k.slice(project.length + 1)));
    const refs = secretRefsOf(result.config);
    const errors: ConfigError[] = refs
        .filter((r) => !present.has(r.key))
        .map((r) => ({ path: r.path, message: `secret "${r.key}" is not set (pulumi config set --secret ${r.key} …)` }));
    const known = new Set<string>([...CONFIG_KEYS, ...refs.map((r) => r.key)]);
    for (const key of present) {
        if (!known.has(key)) errors.push({ path: key, message: `unknown config key "${project}:${key}" (keys: ${CONFIG_KEYS.join(", ")})` });
    }
    if (errors.length) throw new ConfigValidationError(errors, source);

    const secrets = Object.fromEntries(refs.map((r) => [r.key, cfg.requireSecret(r.key)]));
    return { config: result.config, secrets };
}

/** Pulumi hands structured values over as JSON and plain ones (`driver: docker`) as the bare string. */
export function configValue(text: string): unknown {
    try {
        return JSON.parse(text);
    } catch {
        return text;
    }
}
