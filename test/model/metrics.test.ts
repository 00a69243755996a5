// Metrics: which metrics configs are valid, the planned slice, and what the gateway's rendered files carry for it
// (the exporter in the image, the engine's per-request line into the FIFO, the lines the exporter reads from the
// routes file), with metrics on and off, on both engines.
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, test } from "node:test";
import { BASE, invalidConfigs, mutate, planOf, stackConfig, validConfigs } from "./fixtures";
import { gatewayArtifacts, renderGatewayFiles } from "../../model/gateway";
import { METRICS_BUCKETS, METRICS_EXPORTER_PATH, METRICS_FIFO, metricsExporterScript } from "../../model/metrics";
import { TEMPLATES_DIR } from "../../model/templates";
import type { StackConfigInput } from "../../model";

invalidConfigs(
    "metrics",
    [
        {
            name: "the metrics port is the gateway's HTTP port",
            change: (d) => (d.metrics = { enabled: true, port: 80 }),
            path: "metrics.port",
            words: ["80 is also gateway.ports.http", "beside the engine"],
        },
        {
            name: "the metrics port is the gateway's HTTPS port",
            change: (d) => (d.metrics = { enabled: true, port: 443 }),
            path: "metrics.port",
            words: ["443 is also gateway.ports.https"],
        },
        {
            name: "a metrics port out of range",
            change: (d) => (d.metrics = { enabled: true, port: 70000 }),
            path: "metrics.port",
            words: ["65535"],
        },
        {
            name: "an unknown metrics key",
            change: (d) => ((d as unknown as { metrics: Record<string, unknown> }).metrics = { enabled: true, port: 9145, path: "/m" }),
            path: "metrics.path",
            words: ["unknown key", "enabled, port"],
        },
        {
            name: "metrics enabled is not a boolean",
            change: (d) => ((d as unknown as { metrics: Record<string, unknown> }).metrics = { enabled: "yes", port: 9145 }),
            path: "metrics.enabled",
            words: ["boolean"],
        },
    ],
    5,
);

validConfigs("metrics", [
    { name: "metrics off on the gateway's HTTP port (nothing listens)", change: (d) => (d.metrics = { enabled: false, port: 80 }) },
    { name: "another metrics port", change: (d) => (d.metrics = { enabled: true, port: 9100 }) },
]);

function withMetrics(base: StackConfigInput, engine: "nginx" | "haproxy", metrics: { enabled: boolean; port?: number }): StackConfigInput {
    return mutate(base, (d) => {
        d.gateway.engine = engine;
        d.metrics = { port: 9145, ...metrics };
    });
}

describe("the metrics plan", () => {
    test("on by default, on port 9145, in both stack files", () => {
        for (const stack of ["dev", "prod"] as const) {
            const m = planOf(stackConfig(stack)).gateway.metrics;
            assert.deepEqual(m, { enabled: true, port: 9145, exporterPath: METRICS_EXPORTER_PATH, fifo: METRICS_FIFO, restartSeconds: 1 }, stack);
        }
        assert.deepEqual(planOf(BASE).gateway.metrics.port, 9145);
    });

    test("the histogram's buckets are the ones the exporter uses", () => {
        const script = metricsExporterScript().content;
        const m = /my @BUCKETS = \(([^)]*)\);/.exec(script);
        assert.ok(m, "the exporter declares @BUCKETS");
        assert.deepEqual(m[1].split(",").map(Number), [...METRICS_BUCKETS]);
    });
});

describe("the gateway's files with metrics on and off", () => {
    for (const engine of ["nginx", "haproxy"] as const) {
        test(`${engine}: on: the exporter in the image, the entrypoint supervises it, the engine logs into the FIFO`, () => {
            const plan = planOf(withMetrics(stackConfig("dev"), engine, { enabled: true, port: 9200 }));
            const files = renderGatewayFiles(plan.gateway, plan.routes);
            assert.deepEqual(files.metricsExporter, metricsExporterScript());
            assert.equal(files.logRelay, null, "the exporter copies HAProxy's log on: no relay");
            assert.match(files.dockerfile, new RegExp(`^COPY gateway-metrics\\.pl ${METRICS_EXPORTER_PATH}$`, "m"));
            assert.match(files.entrypoint.content, new RegExp(`^supervise 'metrics exporter' perl '${METRICS_EXPORTER_PATH}' --engine ${engine} --fifo "\\$metrics_fifo" --routes '${plan.gateway.routesFile.path}' --port 9200`, "m"));
            assert.match(files.entrypoint.content, /^mkfifo -m 600 "\$metrics_fifo"$/m);
            assert.match(files.entrypoint.content, /^exec 3<>"\$metrics_fifo"$/m);
            // Stopped after the engine: the kill comes after the wait loop.
            const content = files.entrypoint.content;
            assert.ok(content.indexOf('kill "$metrics_exporter"') > content.indexOf('if wait "$engine"'));
            if (engine === "nginx") {
                assert.match(files.main.content, new RegExp(`access_log ${METRICS_FIFO} gateway_metrics buffer=4k flush=1s;`));
                assert.match(files.main.content, /log_format gateway_metrics '\$server_name "\$proxy_host" \$status \$request_time "\$upstream_status" "\$upstream_header_time"';/);
            } else {
                assert.doesNotMatch(files.main.content, /^ *option httplog$/m);
                assert.match(files.main.content, /^ {4}nbthread 1$/m);
                assert.match(files.main.content, /log-format ".* %tsc .* %\[var\(txn\.host\)\]"/);
                assert.match(content, /^exec 4>"\$metrics_fifo"\nhaproxy -W -db .* >&4 3>&- 4>&- &$/m);
                assert.match(content, /--haproxy-socket '\/run\/haproxy-admin\.sock' --forward/);
            }
            // Every routed backend and hostname is named for the exporter, after the engine's own config.
            const lines = files.routes.content.split("\n").filter((l) => l.startsWith("# gateway-metrics "));
            const targets = plan.routes.flatMap((r) => r.backends.map((b) => ({ app: r.app, release: b.release, service: b.service })));
            const services = [...new Set(targets.map((t) => t.service))].sort();
            assert.deepEqual(
                lines.filter((l) => l.includes(" backend ")),
                services.map((s) => {
                    const t = targets.find((x) => x.service === s);
                    return `# gateway-metrics backend svc.${s} ${t?.app} ${t?.release}`;
                }),
            );
            assert.deepEqual(
                lines.filter((l) => l.includes(" hostname ")),
                [...new Set(plan.routes.map((r) => r.hostname))].sort().map((h) => `# gateway-metrics hostname ${h}`),
            );
            assert.ok(gatewayArtifacts(plan.gateway, plan.routes).some((a) => a.path === "gateway/gateway-metrics.pl" && a.mode === 0o755));
        });

        test(`${engine}: off: no exporter, no FIFO, no metrics lines, the engine's log as before`, () => {
            const plan = planOf(withMetrics(stackConfig("dev"), engine, { enabled: false }));
            const files = renderGatewayFiles(plan.gateway, plan.routes);
            assert.equal(files.metricsExporter, null);
            for (const text of [files.dockerfile, files.entrypoint.content, files.main.content, files.routes.content]) {
                assert.doesNotMatch(text, /metrics/);
            }
            if (engine === "haproxy") assert.match(files.main.content, /^ {4}option httplog$/m);
            assert.ok(!gatewayArtifacts(plan.gateway, plan.routes).some((a) => a.path.includes("metrics")));
            // HAProxy's log goes through the log relay instead (batched to stdout); nginx buffers its own.
            if (engine === "haproxy") {
                assert.ok(plan.gateway.logRelay && files.logRelay);
                assert.equal(files.logRelay.content, fs.readFileSync(path.join(TEMPLATES_DIR, "gateway", "haproxy", "log-relay.pl"), "utf8"));
                assert.match(files.dockerfile, new RegExp(`^COPY log-relay\\.pl ${plan.gateway.logRelay.path}$`, "m"));
                assert.match(files.entrypoint.content, new RegExp(`^ {4}supervise 'log relay' perl '${plan.gateway.logRelay.path}' "\\$log_fifo" 0\\.1 &$`, "m"));
                // The supervised reader does not hold the FIFO's extra descriptor (fd 3) open.
                assert.match(files.entrypoint.content, /^supervise\(\) \{\n(?: {4}.*\n)* {8}"\$@" 3>&- &$/m);
                assert.match(files.entrypoint.content, /^\[ -z "\$log_fifo" \] \|\| exec 4>"\$log_fifo"\nhaproxy -W -db .* >&4 3>&- 4>&- &$/m);
                assert.ok(gatewayArtifacts(plan.gateway, plan.routes).some((a) => a.path === "gateway/log-relay.pl" && a.mode === 0o755));
            } else {
                assert.equal(plan.gateway.logRelay, null);
                assert.equal(files.logRelay, null);
                assert.doesNotMatch(files.entrypoint.content + files.dockerfile, /log_fifo|log-relay|supervise/);
            }
        });
    }
});
