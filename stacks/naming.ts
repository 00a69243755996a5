// One name for one thing: how config entries become swarm service, network and VRRP group names.
import type { AppConfig, NodeConfig, ReleaseConfig, StackConfig, VirtualIpConfig } from "./schema";

export const GATEWAY_SERVICE = "gateway";

/** `shop` + `1.9` → `shop-1-9`: a DNS label Docker's resolver answers for. */
export function serviceNameOf(app: Pick<AppConfig, "name">, release: Pick<ReleaseConfig, "name" | "service">): string {
    if (release.service) return release.service;
    const slug = release.name.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "");
    return `${app.name}-${slug}`;
}

export function effectiveAvailability(c: Pick<StackConfig, "swarm">, node: NodeConfig): "active" | "pause" | "drain" {
    return node.availability ?? (node.role === "manager" ? c.swarm.managerAvailability : "active");
}

export interface VipGroupRef {
    readonly name: string;
    readonly address: string;
    readonly virtualRouterId: number;
}

export function vipGroupsOf(vip: VirtualIpConfig): VipGroupRef[] {
    const groups = vip.groups ?? (vip.address && vip.virtualRouterId !== undefined ? [{ address: vip.address, virtualRouterId: vip.virtualRouterId }] : []);
    return groups.map((g, i) => ({ name: ("name" in g && g.name) || `vip${i + 1}`, address: g.address, virtualRouterId: g.virtualRouterId }));
}

/** Seconds swarm watches a task after an update: long enough for the healthcheck to fail. */
export function monitorSeconds(app: AppConfig, policy: "update" | "rollback"): number {
    const hc = app.healthcheck;
    return app[policy].monitor ?? hc.startPeriod + hc.interval * hc.retries + 5;
}

/**
 * Extra tasks that exist at once while swarm applies an update or rollback policy: start-first starts
 * `parallelism` new tasks before stopping old ones, and parallelism 0 means all tasks at once.
 */
export function updateSurge(policy: { readonly order: "start-first" | "stop-first"; readonly parallelism: number }, replicas: number): number {
    if (policy.order !== "start-first") return 0;
    return policy.parallelism === 0 ? Math.max(replicas, 1) : policy.parallelism;
}

export function overlayNameOf(c: Pick<StackConfig, "networks">, zone: string): string {
    return c.networks.zones[zone]?.name ?? `zone-${zone}`;
}
