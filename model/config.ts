// Where stack config comes from: a Pulumi.<stack>.yaml file (render, tests, promote) or the Pulumi runtime (index.ts).
// Both go through the same checks: every config key (namespace, name, secret or not), then the platform config itself.
import * as fs from "node:fs";
import type * as YAMLModule from "yaml";
import { CONFIG_KEYS, type StackConfig } from "./schema";
import { type SecretRef, secretRefsOf } from "./secrets";
import { type ValidateOptions, validateConfig } from "./index";
import { closest, type ConfigError, formatPath, namePath } from "./validation";

export const PROJECT = "swarm-platform";

/** yaml, loaded when a stack file is read: `pulumi up` and `preview` get their config from the engine and skip its load (about 40 ms). */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const yaml = (): typeof YAMLModule => require("yaml") as typeof YAMLModule;

/** Namespaces whose keys belong to someone else: Pulumi's own and the providers this program uses (package.json). */
export const FOREIGN_NAMESPACES = ["pulumi", "docker", "command", "random"] as const;

/** The top-level keys of a Pulumi.<stack>.yaml (Pulumi's stack settings file). */
export const STACK_FILE_KEYS = ["config", "secretsprovider", "encryptedkey", "encryptionsalt", "environment"] as const;

/** One config entry as Pulumi holds it: the full key (`swarm-platform:nodes`), its value and whether it is a secret. */
export interface ConfigEntry {
    readonly key: string;
    readonly value: unknown;
    readonly secret: boolean;
}

export interface KeyCheck {
    /** The platform keys, without the `<project>:` prefix, as the schema expects them. */
    readonly config: Record<string, unknown>;
    /** The project's secret keys (names only). */
    readonly secretKeys: readonly string[];
    /** The project's plain keys that are not platform keys: a typo, or a secret written in clear (told once the secrets are known). */
    readonly otherKeys: readonly string[];
    /** Keys in the wrong namespace or of the wrong form. */
    readonly errors: readonly ConfigError[];
}

/**
 * Sorts a stack's config keys, all namespaces together: `<project>:<key>` is this program's, `pulumi:`, `docker:`,
 * `command:` and `random:` keys are left to their owners, anything else is an error (with "did you mean" where a key
 * is close to one that would be right).
 */
export function checkConfigKeys(entries: readonly ConfigEntry[], project = PROJECT): KeyCheck {
    const config: Record<string, unknown> = {};
    const secretKeys: string[] = [];
    const otherKeys: string[] = [];
    const errors: ConfigError[] = [];
    const namespaces = [project, ...FOREIGN_NAMESPACES];
    const suggest = (ns: string, name: string) => {
        const key = closest(name, CONFIG_KEYS) ?? name;
        return ns === project ? `${project}:${key}` : `${ns}:${name}`;
    };
    for (const { key: fullKey, value, secret } of entries) {
        const parts = fullKey.split(":");
        if (parts.length === 1) {
            errors.push({ path: fullKey, message: `a config key needs its namespace: did you mean ${suggest(project, fullKey)}?` });
            continue;
        }
        const [ns, name] = parts;
        if (parts.length > 2) {
            const hint =
                parts.length === 3 && parts[1] === "config"
                    ? `: write ${parts[0]}:${parts[2]} (the <namespace>:config:<name> form is legacy)`
                    : ns === project
                      ? `: nested values go inside the value of ${suggest(project, name)}`
                      : "";
            errors.push({ path: fullKey, message: `a config key has exactly one ':' (<namespace>:<name>)${hint}` });
            continue;
        }
        if (ns !== project) {
            if ((FOREIGN_NAMESPACES as readonly string[]).includes(ns)) continue;
            const guess = closest(ns, namespaces);
            errors.push({
                path: fullKey,
                message: guess
                    ? `unknown namespace "${ns}": did you mean ${suggest(guess, name)}?`
                    : `unknown namespace "${ns}": keys are ${project}:<key>, or pulumi:, docker:, command:, random: for Pulumi and the providers in use`,
            });
            continue;
        }
        if ((CONFIG_KEYS as string[]).includes(name)) {
            if (secret) errors.push({ path: fullKey, message: "is platform config, not a secret: write it as plain YAML (pulumi config set, without --secret)" });
            else config[name] = value;
        } else if (secret) secretKeys.push(name);
        else otherKeys.push(name);
    }
    return { config, secretKeys, otherKeys, errors };
}

export type CheckedConfig =
    | { readonly ok: true; readonly config: StackConfig; readonly secretRefs: readonly SecretRef[] }
    | { readonly ok: false; readonly errors: readonly ConfigError[] };

export interface CheckOptions extends ValidateOptions {
    readonly project?: string;
    /** Every secret the config references must be set (the runtime: it reads them; a stack file in git may lack them). */
    readonly requireSecrets?: boolean;
}

/**
 * A stack's whole config checked: its keys (checkConfigKeys), the platform config (validateConfig), then its secrets.
 * A secret the config references (`keySecret: tlsSklepKey`) must be a secret (`secure:`), never plain text; a
 * secret nothing references, and a plain key that is neither platform config nor a secret, are errors too.
 */
export function checkStackConfig(entries: readonly ConfigEntry[], options: CheckOptions = {}): CheckedConfig {
    const project = options.project ?? PROJECT;
    const keys = checkConfigKeys(entries, project);
    const result = validateConfig(keys.config, options);
    const plainKeys = (refs: readonly SecretRef[]) =>
        keys.otherKeys.map((key): ConfigError => {
            const ref = refs.find((r) => r.key === key);
            if (!ref) return unknownKey(project, key, refs.map((r) => r.key));
            return {
                path: `${project}:${key}`,
                message: `is a secret (${ref.path}) but written in plain text: remove it and set it with pulumi config set --secret ${key} < <file>`,
            };
        });
    // An invalid config has no secretRefsOf: the …Secret values written in it stand in, so all errors come at once.
    if (!result.ok) return { ok: false, errors: [...keys.errors, ...result.errors, ...plainKeys(writtenSecretRefs(keys.config))] };

    const refs = secretRefsOf(result.config).map((r) => ({ ...r, path: namePath(r.path, result.config) }));
    const referenced = [...new Set(refs.map((r) => r.key))];
    const errors: ConfigError[] = [...keys.errors, ...plainKeys(refs)];
    for (const key of keys.secretKeys) {
        if (referenced.includes(key)) continue;
        const guess = closest(key, referenced);
        errors.push({
            path: `${project}:${key}`,
            message: `secret not used by this config${guess ? `: did you mean ${project}:${guess}?` : ""} (a …Secret key names each secret; remove a stale one with pulumi config rm ${key})`,
        });
    }
    if (options.requireSecrets) {
        for (const ref of refs) {
            if (!keys.secretKeys.includes(ref.key) && !keys.otherKeys.includes(ref.key)) {
                errors.push({ path: ref.path, message: `secret "${ref.key}" is not set (pulumi config set --secret ${ref.key} < <file>)` });
            }
        }
    }
    return errors.length ? { ok: false, errors } : { ok: true, config: result.config, secretRefs: refs };
}

/** Every `…Secret: <key>` written in a config, wherever it is: the secrets an invalid config references. */
function writtenSecretRefs(value: unknown, path: readonly PropertyKey[] = [], root: unknown = value): SecretRef[] {
    if (Array.isArray(value)) return value.flatMap((item, i) => writtenSecretRefs(item, [...path, i], root));
    if (typeof value !== "object" || value === null) return [];
    return Object.entries(value).flatMap(([k, v]) =>
        /Secret$/.test(k) && typeof v === "string" ? [{ path: formatPath([...path, k], root), key: v }] : writtenSecretRefs(v, [...path, k], root),
    );
}

function unknownKey(project: string, key: string, secrets: readonly string[]): ConfigError {
    const guess = closest(key, [...CONFIG_KEYS, ...secrets]);
    return {
        path: `${project}:${key}`,
        message: guess
            ? `unknown config key: did you mean ${project}:${guess}?`
            : `unknown config key (keys: ${CONFIG_KEYS.join(", ")}; secrets are set with pulumi config set --secret)`,
    };
}

// ---- stack files ---------------------------------------------------------------------------------

export interface StackFile {
    /** Every entry under `config:`, all namespaces. */
    readonly entries: readonly ConfigEntry[];
    /** The platform keys, without the `<project>:` prefix, as the schema expects them. */
    readonly config: Record<string, unknown>;
    /** Names of the project's `secure:` keys (their values stay encrypted; only the names are known here). */
    readonly secretKeys: readonly string[];
    /** The file's own shape and its keys (namespaces, forms), before the platform config is validated. */
    readonly errors: readonly ConfigError[];
    /** How a platform value was written in the file, by path inside the platform config: `2.0` for the number 2. */
    readonly sourceText: (path: readonly PropertyKey[]) => string | undefined;
}

/** Reads a stack file's `config:` and checks its top-level keys and config keys (not yet the platform config). */
export function parseStackFile(text: string, project = PROJECT): StackFile {
    const doc = yaml().parseDocument(text);
    if (doc.errors.length) throw doc.errors[0];
    const top: unknown = doc.toJS() ?? {};
    const errors: ConfigError[] = [];
    if (typeof top !== "object" || Array.isArray(top)) {
        errors.push({ path: "(root)", message: "a stack file is a map with config: (and Pulumi's secretsprovider, encryptionsalt, …)" });
    }
    const file = (typeof top === "object" && top !== null && !Array.isArray(top) ? top : {}) as Record<string, unknown>;
    for (const key of Object.keys(file)) {
        if ((STACK_FILE_KEYS as readonly string[]).includes(key)) continue;
        const guess = closest(key, STACK_FILE_KEYS);
        errors.push({ path: key, message: `unknown stack file key${guess ? `: did you mean ${guess}?` : ""} (keys: ${STACK_FILE_KEYS.join(", ")})` });
    }
    const config = file.config ?? {};
    if (typeof config !== "object" || Array.isArray(config)) errors.push({ path: "config", message: "must be a map of <namespace>:<key> entries" });
    const entries: ConfigEntry[] = Object.entries(typeof config === "object" && config !== null && !Array.isArray(config) ? config : {}).map(
        ([key, value]) => ({ key, value, secret: isSecure(value) }),
    );
    const keys = checkConfigKeys(entries, project);
    const written = numberSources(doc, project);
    return {
        entries,
        config: keys.config,
        secretKeys: keys.secretKeys,
        errors: [...errors, ...keys.errors],
        sourceText: (path) => written.get(JSON.stringify(path)),
    };
}

export function readStackFile(path: string, project = PROJECT): StackFile {
    return parseStackFile(fs.readFileSync(path, "utf8"), project);
}

/** A stack file checked completely (checkStackConfig), with the file's own errors first. Secrets need not be set. */
export function checkStackFile(file: StackFile, project = PROJECT): CheckedConfig {
    const result = checkStackConfig(file.entries, { project, sourceText: file.sourceText });
    if (!file.errors.length) return result;
    // The key errors of checkConfigKeys are in both: keep the file's copy once.
    const own = new Set(file.errors.map((e) => `${e.path}\0${e.message}`));
    return { ok: false, errors: [...file.errors, ...(result.ok ? [] : result.errors.filter((e) => !own.has(`${e.path}\0${e.message}`)))] };
}

function isSecure(value: unknown): boolean {
    return typeof value === "object" && value !== null && "secure" in value;
}

/** Every number scalar of the project's config values, as written: path (JSON of [key, ...]) → source text. */
function numberSources(doc: YAMLModule.Document, project: string): Map<string, string> {
    const YAML = yaml();
    const out = new Map<string, string>();
    const visit = (node: unknown, path: PropertyKey[]) => {
        if (YAML.isScalar(node)) {
            if (typeof node.value === "number" && node.source) out.set(JSON.stringify(path), node.source);
            return;
        }
        if (YAML.isMap(node)) for (const pair of node.items) visit(pair.value, [...path, String(YAML.isScalar(pair.key) ? pair.key.value : pair.key)]);
        if (YAML.isSeq(node)) node.items.forEach((item, i) => visit(item, [...path, i]));
    };
    const config = doc.get("config", true);
    if (YAML.isMap(config)) {
        for (const pair of config.items) {
            const key = String(YAML.isScalar(pair.key) ? pair.key.value : pair.key);
            if (key.startsWith(`${project}:`) && key.split(":").length === 2) visit(pair.value, [key.slice(project.length + 1)]);
        }
    }
    return out;
}
