// Fingerprints of what a program registers, for the upgrade test: per resource URN, its type and a hash of each
// input that decides between same, update and replace. Checkout- and process-specific paths are placeholders, so
// two checkouts of one program give the same fingerprints.
import * as crypto from "node:crypto";
import * as os from "node:os";
import { SERVICE_REPLACING_PATHS, valueAt } from "../../scripts/lib/provider-rules";
import type { RunResult } from "./harness";

export interface Fingerprint {
    readonly type: string;
    /** Top-level input name (and, for services, the replacing nested paths) → hash of its JSON. */
    readonly inputs: Readonly<Record<string, string>>;
}

export function hash(value: unknown): string {
    return crypto.createHash("sha256").update(JSON.stringify(value ?? null)).digest("hex").slice(0, 16);
}

/**
 * `oldNames` maps a resource's logical name to the one it had in the program the fingerprints are compared with:
 * mock ids are `<logical name>-id`, while the engine keeps a resource's physical id across an alias.
 */
export function fingerprints(run: RunResult, root: string, oldNames: ReadonlyMap<string, string> = new Map()): Record<string, Fingerprint> {
    const tmpBuild = new RegExp(`${os.tmpdir().replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}/swarm-platform-mocks-\\d+`, "g");
    const ids = (text: string) => text.replace(/"([^"]+)-id"/g, (m, name: string) => (oldNames.has(name) ? `"${oldNames.get(name)}-id"` : m));
    const normalize = (v: unknown): unknown => JSON.parse(ids(JSON.stringify(v ?? null).split(root).join("<root>").replace(tmpBuild, "<build>")));
    const registered = new Map(run.resources.map((r) => [r.name, r]));
    const out: Record<string, Fingerprint> = {};
    for (const d of run.declared.values()) {
        const inputs = normalize(registered.get(d.name)?.inputs ?? {}) as Record<string, unknown>;
        const fields: Record<string, string> = {};
        for (const [k, v] of Object.entries(inputs)) fields[k] = hash(v);
        if (d.type === "docker:index/service:Service") for (const p of SERVICE_REPLACING_PATHS) fields[`@${p}`] = hash(valueAt(inputs, p));
        out[d.urn] = { type: d.type, inputs: Object.fromEntries(Object.entries(fields).sort(([a], [b]) => (a < b ? -1 : 1))) };
    }
    return out;
}
