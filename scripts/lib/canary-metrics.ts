// The canary's metrics read (impure): the gateway-metrics-read script on every gateway node, reached as
// `npm run status` reaches nodes (status-gather's reachOf: `docker exec` into the node container for driver docker,
// ssh with the pinned host key for driver ssh), all nodes at once and bounded. A node that does not answer fails the
// whole read, naming it: a step is never judged on part of the gateways.
import type { Plan, PlanNode } from "../../model";
import { parsePrometheusText, type SourceRead } from "../../model/metrics-read";
import { renderNodeScript } from "../../model/scripts";
import { reachOf, run } from "./status-gather";

/** The metrics port when the stack file does not set `swarm-platform:metrics.port` (the metrics concept's default). */
export const DEFAULT_METRICS_PORT = 9145;

/** The script's output split per container: one source per gateway container (`gw-1/<container name>`). */
export function splitContainers(node: string, stdout: string): SourceRead[] {
    const parts = stdout.split(/^### container (\S+)\n/m);
    const reads: SourceRead[] = [];
    for (let i = 1; i < parts.length; i += 2) {
        const source = `${node}/${parts[i]}`;
        reads.push({ source, samples: parsePrometheusText(parts[i + 1] ?? "", source) });
    }
    if (!reads.length) throw new Error(`gateway node ${node}: no metrics read (no gateway container answered)`);
    return reads;
}

/** Reads every gateway node's metrics; throws naming each node that did not answer. */
export async function readGatewayMetrics(plan: Plan, opts: { namePrefix: string; port: number; timeoutMs?: number }): Promise<SourceRead[]> {
    const reach = reachOf(plan, opts.namePrefix);
    const byName = new Map(plan.nodes.map((n) => [n.name, n]));
    const nodes = plan.gateway.nodes.map((name) => byName.get(name) as PlanNode);
    const results = await Promise.all(
        nodes.map(async (node) => {
            const script = renderNodeScript("gateway-metrics-read", { node: node.name, env: { GATEWAY_SERVICE: plan.gateway.service, METRICS_PORT: String(opts.port) } });
            const { program, args } = reach.nodeShell(node);
            const r = await run(program, args, opts.timeoutMs ?? 15_000, script);
            if (r.code !== 0) {
                const why = r.stderr.trim().split("\n").filter(Boolean).pop() ?? `exit ${r.code}`;
                return { node: node.name, error: `gateway node ${node.name} did not answer the metrics read: ${why}` };
            }
            try {
                return { node: node.name, reads: splitContainers(node.name, r.stdout) };
            } catch (err) {
                return { node: node.name, error: (err as Error).message };
            }
        }),
    );
    const errors = results.flatMap((r) => ("error" in r && r.error ? [r.error] : []));
    if (errors.length) throw new Error(errors.join("; "));
    return results.flatMap((r) => ("reads" in r && r.reads ? r.reads : []));
}
