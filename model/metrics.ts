// Metrics: per-hostname, per-release request counts of the gateway, in the Prometheus text format (docs/metrics.md).
// Schema fragment, cross-key rule, plan slice, and what the gateway's files carry for it: the exporter script baked
// into the image (templates/metrics/gateway-metrics.pl) and the backend/hostname lines it reads from the routes file.
import * as path from "node:path";
import { z } from "zod";
import { port } from "./fields";
import { compare } from "./order";
import type { PlanRoute } from "./releases";
import type { StackConfig } from "./schema";
import { readTemplate } from "./templates";
import type { Report } from "./validation";

export const MetricsSchema = z
    .strictObject({
        enabled: z
            .boolean()
            .default(true)
            .describe("Count every request per route hostname, app and release in the gateway and serve the counts on `port` (docs/metrics.md); `false` runs no exporter."),
        port: port()
            .default(9145)
            .describe("Port of `/metrics` inside the gateway container: reachable on the gateway overlay network and in the container, never published on a node."),
    })
    .prefault({})
    .describe("The gateway's metrics endpoint (Prometheus text format): requests, status classes, upstream errors and a latency histogram per hostname and release.");

export type MetricsConfig = StackConfig["metrics"];

/** Where the exporter script goes in the gateway image. */
export const METRICS_EXPORTER_PATH = "/usr/local/lib/swarm-gateway/gateway-metrics.pl";
/** The FIFO the engine writes one line per request into (under /run: tmpfs under the read-only root). */
export const METRICS_FIFO = "/run/gateway-metrics/access.fifo";
/** Seconds the entrypoint waits before it restarts an exporter that exited. */
const RESTART_SECONDS = 1;

/** The histogram's upper bounds in seconds (the exporter's @BUCKETS; docs/metrics.md and the interfaces name them). */
export const METRICS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

export interface PlanMetrics {
    readonly enabled: boolean;
    readonly port: number;
    /** The exporter script's path in the image. */
    readonly exporterPath: string;
    /** The engine's per-request line goes into this FIFO. */
    readonly fifo: string;
    readonly restartSeconds: number;
}

export function checkMetrics(c: StackConfig, report: Report): void {
    const m = c.metrics;
    if (!m.enabled) return;
    for (const [key, value] of Object.entries(c.gateway.ports)) {
        if (value === m.port) report("metrics.port", `${m.port} is also gateway.ports.${key}: the exporter listens in the gateway container beside the engine`);
    }
}

export function planMetrics(c: StackConfig): PlanMetrics {
    return { enabled: c.metrics.enabled, port: c.metrics.port, exporterPath: METRICS_EXPORTER_PATH, fifo: METRICS_FIFO, restartSeconds: RESTART_SECONDS };
}

/** The exporter script (the same file for both engines). */
export function metricsExporterScript(): { readonly name: string; readonly content: string } {
    return { name: path.posix.basename(METRICS_EXPORTER_PATH), content: readTemplate("metrics/gateway-metrics.pl") };
}

/**
 * Lines appended to the engine's routes file (comments for the engine) that the exporter reads: which app and release
 * each backend (`svc.<service>`) is, and the routed hostnames (HAProxy logs the Host; the exporter finds its route
 * like the engine does: exact names, then the longest wildcard). They are written before the engine reloads, so a
 * request to a new backend is never counted before its release is known.
 */
export function metricsRoutesLines(metrics: PlanMetrics, routes: readonly PlanRoute[], backendName: (service: string) => string): string {
    if (!metrics.enabled) return "";
    const backends = new Map<string, string>();
    // every release a route can send to (weighted, pinned): the backend the engine logs names it
    for (const r of routes) for (const b of r.backends) backends.set(backendName(b.service), `${r.app} ${b.release}`);
    const hostnames = [...new Set(routes.map((r) => r.hostname))].sort(compare);
    return [
        "",
        "# The gateway's metrics exporter reads these lines (docs/metrics.md): each backend's app and release, and the route hostnames.",
        ...[...backends.entries()].sort((a, b) => compare(a[0], b[0])).map(([backend, release]) => `# gateway-metrics backend ${backend} ${release}`),
        ...hostnames.map((h) => `# gateway-metrics hostname ${h}`),
        "",
    ].join("\n");
}
