// The environment model: stack config in; a plan and its rendered artifacts out. Pure TypeScript: no Pulumi
// resources, no machine touched, same input → byte-identical output. One pipeline, one concept per file:
//
//   read (config.ts: a stack file; runtime-config.ts: the Pulumi runtime)
//     → validate: the schema's shape rules, then each concept's cross-key rules, every error with its key path
//     → plan:     each concept's slice, computed once (derived timings and paths included)
//     → render:   each concept's artifacts from its templates under templates/<concept>/, and the diagram of the whole (diagram.ts)
import { diagramArtifacts } from "./diagram";
import { dnsArtifacts, planDns, type PlanDns } from "./dns";
import { checkFirewall, firewallArtifacts, planFirewall, type PlanFirewall } from "./firewall";
import { checkMetrics } from "./metrics";
import { checkGateway, gatewayArtifacts, planGateway, planTls, type PlanGateway } from "./gateway";
import { checkNetworks, planNetworks, type PlanNetworks } from "./networks";
import { checkNodes, planNodes, type PlanDriver, type PlanNode } from "./nodes";
import { checkApps, planReleases, planRoutes, type PlanRelease, type PlanRoute } from "./releases";
import { CONFIG_KEYS, type StackConfig, StackConfigSchema } from "./schema";
import { NODE_SCRIPTS, nodeScriptBody, nodeScriptLibFiles } from "./scripts";
import { checkSwarm, planSwarm, type PlanSwarm } from "./swarm";
import { type Artifact, readTemplate } from "./templates";
import { type ConfigError, ConfigValidationError, issueToErrors, namedError, objectKeysAt, type Report } from "./validation";
import { checkVirtualIp, planVirtualIp, type PlanVirtualIp, virtualIpArtifacts } from "./virtual-ip";

export type ValidationResult = { ok: true; config: StackConfig } | { ok: false; errors: ConfigError[] };

/** Every cross-key rule, concept by concept. */
const RULES: readonly ((c: StackConfig, report: Report) => void)[] = [checkNodes, checkSwarm, checkNetworks, checkVirtualIp, checkApps, checkGateway, checkMetrics, checkFirewall];

export interface ValidateOptions {
    /** How a scalar was written in the stack file (see parseStackFile), for hints like quoting a YAML `2.0`. */
    readonly sourceText?: (path: readonly PropertyKey[]) => string | undefined;
}

/**
 * Validates shape first (all shape errors), then every concept's cross-key rules (all of them). Every error's path
 * (and every path in its message) names list items by their name where it is unique: `nodes[gw-1].address`.
 */
export function validateConfig(raw: unknown, options: ValidateOptions = {}): ValidationResult {
    // reportInput: without it zod leaves issue.input undefined and every wrong type would read as "is required".
    const parsed = StackConfigSchema.safeParse(raw ?? {}, { reportInput: true });
    if (!parsed.success) {
        const context = { root: raw, keysAt: (path: readonly PropertyKey[]) => objectKeysAt(StackConfigSchema, path), sourceText: options.sourceText };
        return { ok: false, errors: parsed.error.issues.flatMap((issue) => issueToErrors(issue, context)) };
    }
    const errors: ConfigError[] = [];
    const report: Report = (path, message) => errors.push(namedError({ path, message }, parsed.data, CONFIG_KEYS));
    for (const rule of RULES) rule(parsed.data, report);
    return errors.length ? { ok: false, errors } : { ok: true, config: parsed.data };
}

/** Like validateConfig, but throws a ConfigValidationError listing every problem. */
export function parseConfig(raw: unknown, source?: string): StackConfig {
    const result = validateConfig(raw);
    if (!result.ok) throw new ConfigValidationError(result.errors, source);
    return result.config;
}

/** Every decision that needs no machine, one slice per concept. */
export interface Plan {
    /** Nodes, sorted by name. */
    readonly nodes: readonly PlanNode[];
    /** How the nodes are reached. */
    readonly driver: PlanDriver;
    readonly swarm: PlanSwarm;
    readonly networks: PlanNetworks;
    /** Absent when the config has no virtual IP. */
    readonly virtualIp?: PlanVirtualIp;
    readonly gateway: PlanGateway;
    /** Sorted by service name. */
    readonly releases: readonly PlanRelease[];
    /** Sorted by hostname. */
    readonly routes: readonly PlanRoute[];
    readonly dns: PlanDns;
    /** Every node's firewall rules. */
    readonly firewall: PlanFirewall;
}

/** Plans a validated config. Same input, byte-identical output (no clocks, no randomness, sorted lists and maps). */
export function planStack(c: StackConfig): Plan {
    const { nodes, driver } = planNodes(c);
    const virtualIp = planVirtualIp(c, nodes);
    const tls = planTls(c);
    const releases = planReleases(c);
    const routes = planRoutes(c, releases, tls);
    const swarm = planSwarm(c, nodes);
    return {
        nodes,
        driver,
        swarm,
        networks: planNetworks(c),
        ...(virtualIp ? { virtualIp } : {}),
        gateway: planGateway(c, nodes, tls, virtualIp),
        releases,
        routes,
        dns: planDns(c, nodes, routes, virtualIp),
        firewall: planFirewall(c, nodes, swarm, driver, virtualIp),
    };
}

/** The node scripts and their libraries, as sent to the nodes (without the envelope). */
function scriptArtifacts(): Artifact[] {
    const libs = [...new Set(NODE_SCRIPTS.flatMap((name) => nodeScriptLibFiles(name)))];
    return [
        ...NODE_SCRIPTS.map((name) => ({ path: `scripts/${name}.sh`, content: nodeScriptBody(name), mode: 0o755 })),
        ...libs.map((file) => ({ path: `scripts/${file.split("/").pop() as string}`, content: readTemplate(file), mode: 0o644 })),
    ];
}

/** Everything `npm run render` writes, sorted by path. Secrets are replaced by placeholders. */
export function renderAll(plan: Plan): Artifact[] {
    const artifacts: Artifact[] = [
        { path: "plan.json", content: `${JSON.stringify(plan, null, 2)}\n`, mode: 0o644 },
        ...diagramArtifacts(plan),
        ...dnsArtifacts(plan.dns),
        ...firewallArtifacts(plan.firewall),
        ...gatewayArtifacts(plan.gateway, plan.routes),
        ...virtualIpArtifacts(plan.virtualIp),
        ...scriptArtifacts(),
    ];
    return artifacts.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

export type { Artifact } from "./templates";
export { diagramKey, diagramOf, type DiagramOptions } from "./diagram";
export type { StackConfig, StackConfigInput } from "./schema";
export type { ConfigError } from "./validation";
export { ConfigValidationError, formatErrors } from "./validation";
export type { PlanDns, PlanDnsRecord } from "./dns";
export type { PlanFirewall, PlanFirewallNode, PlanFirewallRule } from "./firewall";
export type { PlanGateway, PlanTlsCertificate } from "./gateway";
export type { PlanMetrics } from "./metrics";
export type { LiveNetwork, PlanIngress, PlanNetwork, PlanNetworks } from "./networks";
export { LATE_NETWORK_FIELDS, networksAsPlanned } from "./networks";
export type { PlanDriver, PlanEngineApi, PlanNode } from "./nodes";
export type { PlanRelease, PlanRoute, PlanUpdatePolicy } from "./releases";
export { firstAnswerNodes, routedServices } from "./releases";
export type { PlanSwarm } from "./swarm";
export type { PlanVirtualIp, PlanVirtualIpGroup, PlanVirtualIpMember } from "./virtual-ip";
