// Reads this stack's config from the Pulumi runtime and checks it completely before any resource is declared:
// every key of every namespace (pulumi.runtime.allConfig), the platform config, and its secrets.
import * as pulumi from "@pulumi/pulumi";
import { checkStackConfig, type ConfigEntry } from "./config";
import { CONFIG_KEYS, type StackConfig } from "./schema";
import { ConfigValidationError } from "./validation";

export interface RuntimeConfig {
    readonly config: StackConfig;
    /** Secret values by config key (only those the config references). */
    readonly secrets: Record<string, pulumi.Output<string>>;
}

export function readRuntimeConfig(project: string): RuntimeConfig {
    const result = checkStackConfig(runtimeEntries(project), { project, requireSecrets: true });
    if (!result.ok) throw new ConfigValidationError([...result.errors], `stack ${pulumi.getStack()} config`);
    const cfg = new pulumi.Config(project);
    const secrets = Object.fromEntries(result.secretRefs.map((r) => [r.key, cfg.requireSecret(r.key)]));
    return { config: result.config, secrets };
}

/** Every config key the CLI handed over, all namespaces, with its value and whether it is a secret. */
export function runtimeEntries(project: string): ConfigEntry[] {
    const isSecret = configSecretTest(project);
    return Object.entries(pulumi.runtime.allConfig()).map(([key, text]) => ({ key, value: configValue(text), secret: isSecret(key) }));
}

/**
 * Which keys were set with --secret. The SDK exports `runtime.isConfigSecret` without typings (it is marked internal);
 * without it, every key but the platform's counts as a secret: the plain-text check is then left to the stack file's.
 */
function configSecretTest(project: string): (key: string) => boolean {
    const test = (pulumi.runtime as unknown as { isConfigSecret?: (key: string) => boolean }).isConfigSecret;
    if (typeof test === "function") return test;
    return (key) => !(CONFIG_KEYS as string[]).some((k) => key === `${project}:${k}`);
}

/** Pulumi hands structured values over as JSON and plain ones (`driver: docker`) as the bare string. */
export function configValue(text: string): unknown {
    try {
        return JSON.parse(text);
    } catch {
        return text;
    }
}
