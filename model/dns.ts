// DNS: the A records the platform needs, one per hostname and VIP (or gateway node without a VIP), and a zone
// file snippet. Stack outputs feed them to a DNS stack.
import { z } from "zod";
import type { PlanNode } from "./nodes";
import { compare } from "./order";
import type { PlanRoute } from "./releases";
import type { StackConfig } from "./schema";
import { type Artifact, renderTemplate } from "./templates";
import type { PlanVirtualIp } from "./virtual-ip";
import { ipToInt } from "./net";

export const DnsSchema = z
    .strictObject({
        ttl: z.number().int().min(1).max(604800).default(300).describe("TTL of the planned A records, in seconds."),
    })
    .prefault({})
    .describe("The planned DNS records: one A record per hostname and VIP (or gateway node without a VIP).");

/** One A record. */
export interface PlanDnsRecord {
    readonly name: string;
    readonly type: "A";
    readonly value: string;
    readonly ttl: number;
}

/** The records and the zone's TTL. */
export interface PlanDns {
    /** TTL of the zone file and of every record. */
    readonly ttl: number;
    /** By hostname, then address. */
    readonly records: readonly PlanDnsRecord[];
}

export function planDns(c: StackConfig, nodes: readonly PlanNode[], routes: readonly PlanRoute[], virtualIp?: PlanVirtualIp): PlanDns {
    const targets = (virtualIp ? virtualIp.groups.map((g) => g.address) : nodes.filter((n) => n.gateway).map((n) => n.address)).sort(
        (a, b) => ipToInt(a) - ipToInt(b),
    );
    const records = [...routes]
        .sort((a, b) => compare(a.hostname, b.hostname))
        .flatMap((r) => targets.map((value) => ({ name: r.hostname, type: "A" as const, value, ttl: c.dns.ttl })));
    return { ttl: c.dns.ttl, records };
}

export function renderZoneFile(dns: PlanDns): string {
    return renderTemplate("dns/zone.db.mustache", { ttl: dns.ttl, records: dns.records });
}

/** What `npm run render` writes for DNS. */
export function dnsArtifacts(dns: PlanDns): Artifact[] {
    return [
        { path: "dns/records.json", content: `${JSON.stringify(dns.records, null, 2)}\n`, mode: 0o644 },
        { path: "dns/zone.db", content: renderZoneFile(dns), mode: 0o644 },
    ];
}
