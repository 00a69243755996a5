// Node scripts: each lives in its concept's template folder and runs on a node as `bash -s`, inside an envelope
// that carries its variables base64-encoded on stdin (no shell quoting anywhere, no secret on a command line).
import { readTemplate, renderTemplate } from "./templates";

/** Each node script, by name, with its file under templates/ and the function libraries sent ahead of it. */
const NODE_SCRIPT_FILES = {
    "node-bootstrap": { file: "nodes/node-bootstrap.sh" },
    "node-ready": { file: "nodes/node-ready.sh" },
    // Runs on the machine running Pulumi, not on a node: the same envelope carries its variables.
    "engine-tls": { file: "nodes/engine-tls.sh" },
    // Also on the machine running Pulumi: one image into one node's engine, its bytes shipped once per node.
    "image-deliver": { file: "images/image-deliver.sh" },
    "node-firewall": { file: "firewall/node-firewall.sh" },
    "swarm-init": { file: "swarm/swarm-init.sh" },
    "swarm-join-token": { file: "swarm/swarm-join-token.sh" },
    "swarm-join": { file: "swarm/swarm-join.sh" },
    "swarm-rotate-tokens": { file: "swarm/swarm-rotate-tokens.sh" },
    "swarm-leave": { file: "swarm/swarm-leave.sh" },
    "node-membership": { file: "swarm/node-membership.sh", libs: ["swarm/node-drain-lib.sh"] },
    "node-remove": { file: "swarm/node-remove.sh", libs: ["swarm/node-drain-lib.sh"] },
    "swarm-departures": { file: "swarm/swarm-departures.sh", libs: ["swarm/node-drain-lib.sh"] },
    "node-settle": { file: "swarm/node-settle.sh" },
    // Runs on a manager through the read before every up/preview (not a resource).
    "swarm-managers": { file: "swarm/swarm-managers.sh" },
    "ingress-remove": { file: "networks/ingress-remove.sh" },
    "keepalived-apply": { file: "virtual-ip/keepalived-apply.sh", libs: ["virtual-ip/keepalived-lib.sh"] },
    "keepalived-stop": { file: "virtual-ip/keepalived-stop.sh", libs: ["virtual-ip/keepalived-lib.sh"] },
    "gateway-routes-apply": { file: "gateway/gateway-routes-apply.sh" },
    // Runs on the bootstrap manager after a service create or update: `up` waits for the swarm (see docs/operations.md).
    "release-converge": { file: "releases/release-converge.sh" },
    "gateway-node-status": { file: "status/gateway-node-status.sh", libs: ["virtual-ip/keepalived-lib.sh"] },
    // Read by the canary on every gateway node (scripts/lib/canary-metrics.ts).
    "gateway-metrics-read": { file: "status/gateway-metrics-read.sh" },
} as const satisfies Record<string, { readonly file: string; readonly libs?: readonly string[] }>;

/** The name of a node script; its env contract is documented at the top of its file. */
export type NodeScript = keyof typeof NODE_SCRIPT_FILES;

export const NODE_SCRIPTS = Object.keys(NODE_SCRIPT_FILES) as NodeScript[];

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const RESERVED_ENV = new Set(["NODE_NAME", "SP_BODY_OFFSET", "SP_LIBS"]);
const LIB_FILE = /^[A-Za-z0-9._/-]+$/;

/** A shared function library sent ahead of a script: its file (relative to templates/, for error messages) and text. */
export interface NodeScriptLib {
    readonly file: string;
    readonly text: string;
}

function entryOf(name: NodeScript): { readonly file: string; readonly libs?: readonly string[] } {
    const entry: { readonly file: string; readonly libs?: readonly string[] } | undefined = NODE_SCRIPT_FILES[name];
    if (!entry) throw new Error(`unknown node script "${name}" (known: ${NODE_SCRIPTS.join(", ")})`);
    return entry;
}

/** The template file (relative to templates/) of a node script. */
export function nodeScriptFile(name: NodeScript): string {
    return entryOf(name).file;
}

/** The script body without the envelope. */
export function nodeScriptBody(name: NodeScript): string {
    return readTemplate(entryOf(name).file);
}

/** The library files (relative to templates/) a node script needs. */
export function nodeScriptLibFiles(name: NodeScript): readonly string[] {
    return entryOf(name).libs ?? [];
}

/** Shared function libraries a node script needs, sent ahead of it. */
export function nodeScriptLibs(name: NodeScript): NodeScriptLib[] {
    return nodeScriptLibFiles(name).map((file) => ({ file, text: readTemplate(file) }));
}

function base64(value: string): string {
    return Buffer.from(value, "utf8").toString("base64");
}

function envEntries(env: Readonly<Record<string, string>>) {
    return Object.keys(env)
        .sort()
        .map((name) => {
            if (!ENV_NAME.test(name)) throw new Error(`env name "${name}" is not a shell identifier`);
            if (RESERVED_ENV.has(name)) throw new Error(`env name "${name}" is set by the envelope itself`);
            const value = env[name];
            if (typeof value !== "string") throw new Error(`env ${name} must be a string (got ${typeof value})`);
            return { name, base64: base64(value) };
        });
}

/**
 * A `bash -s` payload: the envelope (NODE_NAME and env exported from base64, an ERR trap naming the node and
 * the script) around `body`. `script` is only used in messages.
 */
export function renderEnvelope(
    script: string,
    body: string,
    ctx: { node: string; env?: Readonly<Record<string, string>> },
    libs: readonly NodeScriptLib[] = [],
): string {
    return renderTemplate("scripts/envelope.sh.mustache", {
        script,
        node: ctx.node,
        nodeBase64: base64(ctx.node),
        env: envEntries(ctx.env ?? {}),
        hasLibs: libs.length > 0,
        // Before the body's line offset, so error line numbers still count from the script's first line.
        libs: libs.map((l) => {
            if (!LIB_FILE.test(l.file)) throw new Error(`library file "${l.file}" is not a plain relative path`);
            return { file: l.file, text: l.text.replace(/\n$/, "") };
        }),
        body: body.replace(/\n$/, ""),
    });
}

/** The full stdin payload for `bash -s` on a node: envelope (node name, env decoded from base64, ERR trap) + the script. */
export function renderNodeScript(name: NodeScript, ctx: { node: string; env?: Readonly<Record<string, string>> }): string {
    return renderEnvelope(name, nodeScriptBody(name), ctx, nodeScriptLibs(name));
}
