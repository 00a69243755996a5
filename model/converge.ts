// Convergence: `up` waits, per service, until the swarm runs the spec it applied (templates/releases/release-converge.sh
// on the bootstrap manager). The spec hash names that spec: a top-level service label (it updates in place) and the
// gate's input, so the gate runs again exactly when the spec changes, and fails while the swarm runs another spec
// (after a rollback, the previous one). Why not the provider's convergeConfig: docs/operations.md.
import * as crypto from "node:crypto";

/** The service label carrying the spec hash. */
export const SPEC_LABEL = "swarm-platform.spec";
/** Seconds added to a default convergence timeout: image pulls and scheduling. */
export const CONVERGE_MARGIN = 60;
/** Longest convergence timeout accepted (an hour). */
export const MAX_CONVERGE_TIMEOUT = 3600;

/** Canonical JSON: object keys sorted at every level, so equal specs give equal text. */
function canonical(value: unknown): string {
    if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
    if (value !== null && typeof value === "object") {
        const entries = Object.entries(value as Record<string, unknown>)
            .filter(([, v]) => v !== undefined)
            .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
        return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
    }
    return JSON.stringify(value) ?? "null";
}

/** The hash of a planned service spec (16 hex digits): changes exactly when the spec's content changes. */
export function specHash(spec: unknown): string {
    return crypto.createHash("sha256").update(canonical(spec)).digest("hex").slice(0, 16);
}

/** What a rolling update takes per batch and in all (seconds); the timeout's default and floor derive from it. */
export interface ConvergeTimings {
    /** Batches of tasks swarm replaces one after another. */
    readonly batches: number;
    /** Seconds until a new task is healthy or declared unhealthy: start period + interval × retries. */
    readonly taskReady: number;
    /** Seconds swarm waits before starting a batch's tasks (the old task's stop with stop-first) and between batches. */
    readonly perBatchExtra: number;
    /** Seconds swarm watches the last batch before it reports the update completed. */
    readonly monitor: number;
    /** Seconds between healthcheck probes: the soonest a new task can be healthy. */
    readonly interval: number;
}

/** The default convergence timeout: every batch ready, the final monitor, and a margin. */
export function defaultConvergeTimeout(t: ConvergeTimings): number {
    return Math.min(MAX_CONVERGE_TIMEOUT, Math.ceil(t.batches * (t.taskReady + t.perBatchExtra) + t.monitor + CONVERGE_MARGIN));
}

/** The least a healthy update needs: one healthcheck interval, then swarm's final monitor period. */
export function convergeTimeoutFloor(t: ConvergeTimings): number {
    return Math.ceil(t.monitor + t.interval);
}
