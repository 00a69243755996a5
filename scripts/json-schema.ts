// npm run schema               writes schema/stack-config.schema.json: the JSON Schema of a whole Pulumi.<stack>.yaml
//                              (the stack files point at it on their first line, for editors; defaults optional)
// npm run schema -- --markdown  also writes docs/config-reference.md and prints that table
// npm run schema -- --check     exits 1 when the committed files differ from what the model (model/schema.ts and the concepts' fragments) generates
//
// Descriptions come from the `.describe()` calls in the model (model/schema.ts and the concepts' fragments); keys without one are listed on stderr.
import * as fs from "node:fs";
import * as path from "node:path";
import { z } from "zod";
import { FOREIGN_NAMESPACES, PROJECT } from "../model/config";
import { CONFIG_KEYS, StackConfigSchema } from "../model/schema";

const ROOT = path.resolve(__dirname, "..");
export const JSON_SCHEMA_FILE = path.join(ROOT, "schema", "stack-config.schema.json");
export const REFERENCE_FILE = path.join(ROOT, "docs", "config-reference.md");

/** The subset of JSON Schema that z.toJSONSchema emits for this config. */
export interface JsonSchema {
    type?: string | string[];
    title?: string;
    description?: string;
    default?: unknown;
    enum?: unknown[];
    const?: unknown;
    properties?: Record<string, JsonSchema>;
    required?: string[];
    additionalProperties?: JsonSchema | boolean;
    propertyNames?: JsonSchema;
    patternProperties?: Record<string, JsonSchema>;
    items?: JsonSchema;
    anyOf?: JsonSchema[];
    oneOf?: JsonSchema[];
    minimum?: number;
    maximum?: number;
    exclusiveMinimum?: number;
    minItems?: number;
    maxLength?: number;
    pattern?: string;
    [key: string]: unknown;
}

/** The platform config as one object: the value of each `<project>:<key>`, keyed by `<key>` (the reference's source). */
export function buildConfigSchema(): JsonSchema {
    const generated = z.toJSONSchema(StackConfigSchema, { io: "input" }) as JsonSchema;
    return {
        $schema: generated.$schema,
        title: `${PROJECT} platform config`,
        description: `The value of each \`${PROJECT}:<key>\` in Pulumi.<stack>.yaml, as one object.`,
        ...Object.fromEntries(Object.entries(generated).filter(([k]) => k !== "$schema")),
    };
}

/** A `secure:` value: what `pulumi config set --secret` writes. */
const SECURE: JsonSchema = {
    type: "object",
    description: "A secret, encrypted by Pulumi. Set it with `pulumi config set --secret <key> < <file>`; plain text is rejected.",
    properties: { secure: { type: "string", description: "The ciphertext Pulumi wrote." } },
    required: ["secure"],
    additionalProperties: false,
};

/**
 * The JSON Schema of a whole Pulumi.<stack>.yaml, as the file is: Pulumi's top-level keys, under `config:` each
 * `<project>:<key>` with its schema, any other `<project>:<name>` only as a `secure:` secret, the keys of Pulumi and
 * the providers in use left open, anything else rejected (a misspelled prefix, extra colons, a key without namespace).
 */
export function buildJsonSchema(): JsonSchema {
    const inner = buildConfigSchema();
    const platform = Object.fromEntries(CONFIG_KEYS.map((key) => [`${PROJECT}:${key}`, (inner.properties ?? {})[key]]));
    // A `\-` outside a class is invalid in a Unicode regex (JSON Schema patterns are): `-` stays as it is.
    const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    const project = escape(PROJECT);
    return {
        $schema: inner.$schema,
        title: `Pulumi.<stack>.yaml of ${PROJECT}`,
        description: `A stack file of ${PROJECT}. Generated from the model (model/schema.ts and the concepts' fragments) by \`npm run schema\`; do not edit. docs/config.md explains the rules.`,
        type: "object",
        properties: {
            config: {
                type: "object",
                description: `Config keys as <namespace>:<name>: ${PROJECT}:<key> for the platform and its secrets, ${FOREIGN_NAMESPACES.join(":, ")}: for Pulumi and the providers in use.`,
                properties: platform,
                ...(inner.required?.length ? { required: inner.required.map((key) => `${PROJECT}:${key}`) } : {}),
                patternProperties: {
                    [`^(${FOREIGN_NAMESPACES.join("|")}):[^:]+$`]: { description: "A key of Pulumi or of a provider in use: not checked here." },
                    [`^${project}:(?!(${CONFIG_KEYS.join("|")})$)[a-zA-Z][a-zA-Z0-9_-]*$`]: {
                        ...SECURE,
                        description: `Any other ${PROJECT}: key is a secret that a …Secret key names. ${SECURE.description}`,
                    },
                },
                additionalProperties: false,
            },
            secretsprovider: { type: "string", description: "Pulumi: the secrets provider of this stack." },
            encryptedkey: { type: "string", description: "Pulumi: the encrypted data key (cloud secrets providers)." },
            encryptionsalt: { type: "string", description: "Pulumi: the encryption salt (passphrase secrets provider)." },
            environment: {
                description: "Pulumi ESC: the environments this stack imports.",
                anyOf: [{ type: "array", items: { type: "string" } }, { type: "object" }],
            },
        },
        additionalProperties: false,
    };
}

export interface ReferenceRow {
    /** `nodes[].zone`, `networks.zones.<zone>.subnet`. */
    readonly key: string;
    readonly type: string;
    /** JSON of the default, `required`, or empty. */
    readonly default: string;
    readonly description: string;
}

/** Placeholders for the keys of maps whose values are objects (`networks.zones.<zone>`). */
const MAP_KEY_NAMES: Record<string, string> = { "networks.zones": "<zone>" };

/** One row per key, depth first in schema order. */
export function referenceRows(schema: JsonSchema): ReferenceRow[] {
    const rows: ReferenceRow[] = [];
    const visit = (s: JsonSchema, key: string, required: boolean) => {
        rows.push({ key, type: typeOf(s), default: defaultOf(s, required), description: s.description ?? "" });
        descend(s, key);
    };
    const descend = (s: JsonSchema, key: string) => {
        for (const [name, child] of Object.entries(s.properties ?? {})) {
            visit(child, key ? `${key}.${name}` : name, (s.required ?? []).includes(name));
        }
        if (isObjectSchema(s.additionalProperties)) descend(s.additionalProperties, `${key}.${MAP_KEY_NAMES[key] ?? "<key>"}`);
        if (s.items && s.items.properties) descend(s.items, `${key}[]`);
    };
    descend(schema, "");
    return rows;
}

function isObjectSchema(s: JsonSchema | boolean | undefined): s is JsonSchema {
    return typeof s === "object" && s.properties !== undefined;
}

function typeOf(s: JsonSchema): string {
    if (s.enum) return s.enum.map((v) => JSON.stringify(v)).join(" | ");
    if (s.const !== undefined) return JSON.stringify(s.const);
    const options = s.anyOf ?? s.oneOf;
    if (options) return options.map(typeOf).join(" | ");
    const type = Array.isArray(s.type) ? s.type.join(" | ") : s.type ?? "any";
    if (type === "array") return `${s.items ? typeOf(s.items) : "any"}[]`;
    if (type === "object") {
        if (s.properties) return "object";
        const value = s.additionalProperties;
        return `map of ${typeof value === "object" ? typeOf(value) : "any"}`;
    }
    if (type === "integer" || type === "number") {
        const min = s.minimum ?? s.exclusiveMinimum;
        // z.number().int() adds ±MAX_SAFE_INTEGER bounds: no real limit.
        const max = s.maximum !== undefined && s.maximum < Number.MAX_SAFE_INTEGER ? s.maximum : undefined;
        if (min !== undefined && max !== undefined) return `${type} ${min}–${max}`;
        if (min !== undefined) return `${type} ≥ ${min}`;
    }
    // IPv4 addresses and networks carry a title in the model (model/schema.ts and the concepts' fragments).
    if (type === "string" && typeof s.title === "string") return s.title;
    return type;
}

function defaultOf(s: JsonSchema, required: boolean): string {
    if (s.default !== undefined) {
        // `{}` on an object only says "may be left out": its keys carry the real defaults.
        if (isEmptyObject(s.default)) return "";
        return `\`${JSON.stringify(s.default)}\``;
    }
    return required ? "**required**" : "";
}

function isEmptyObject(v: unknown): boolean {
    return typeof v === "object" && v !== null && !Array.isArray(v) && Object.keys(v).length === 0;
}

export function renderMarkdown(rows: readonly ReferenceRow[]): string {
    const cell = (text: string) => text.replace(/\|/g, "\\|").replace(/\n/g, " ");
    const lines = [
        "<!-- Generated from the model (model/schema.ts and the concepts' fragments) by `npm run schema -- --markdown`; do not edit. -->",
        "",
        `Each top-level key is a Pulumi config key: \`${PROJECT}:<key>\` in Pulumi.<stack>.yaml. ` +
            "`[]` marks the items of a list, `<zone>` the keys of a map. Secrets are named by `…Secret` keys and set with `pulumi config set --secret`. " +
            "How keys, namespaces and errors work: [config.md](config.md).",
        "",
        "| Key | Type | Default | Description |",
        "| --- | --- | --- | --- |",
        ...rows.map((r) => `| \`${r.key}\` | ${cell(r.type)} | ${cell(r.default)} | ${cell(r.description)} |`),
    ];
    return lines.join("\n") + "\n";
}

function main(argv: readonly string[]): number {
    const markdown = argv.includes("--markdown");
    const check = argv.includes("--check");
    const rows = referenceRows(buildConfigSchema());
    const outputs: [string, string][] = [[JSON_SCHEMA_FILE, JSON.stringify(buildJsonSchema(), null, 2) + "\n"]];
    if (markdown || check) outputs.push([REFERENCE_FILE, renderMarkdown(rows)]);

    const undocumented = rows.filter((r) => !r.description).map((r) => r.key);
    if (undocumented.length) console.error(`keys without a .describe() in the model (model/schema.ts and the concepts' fragments): ${undocumented.join(", ")}`);

    if (check) {
        const stale = outputs.filter(([file, text]) => !fs.existsSync(file) || fs.readFileSync(file, "utf8") !== text);
        for (const [file] of stale) console.error(`${path.relative(ROOT, file)} is out of date: run npm run schema -- --markdown`);
        return stale.length ? 1 : 0;
    }
    for (const [file, text] of outputs) {
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, text);
        console.error(`wrote ${path.relative(ROOT, file)}`);
    }
    if (markdown) process.stdout.write(renderMarkdown(rows));
    return 0;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
