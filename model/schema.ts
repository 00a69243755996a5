// The stack config schema, composed from the concepts' fragments: the one source of the config's shape, its
// defaults and its types. Each key's `.describe()` text goes into schema/stack-config.schema.json (editor hovers)
// and the config reference (`npm run schema -- --markdown`).
import { z } from "zod";
import { DnsSchema } from "./dns";
import { FirewallSchema } from "./firewall";
import { GatewaySchema } from "./gateway";
import { MetricsSchema } from "./metrics";
import { NetworksSchema } from "./networks";
import { NodesConfigShape } from "./nodes";
import { AppSchema } from "./releases";
import { SwarmSchema } from "./swarm";
import { VirtualIpSchema } from "./virtual-ip";

export const StackConfigSchema = z.strictObject({
    ...NodesConfigShape,
    swarm: SwarmSchema,
    networks: NetworksSchema,
    virtualIp: VirtualIpSchema.optional().describe(
        "Virtual IP(s) held by the gateway nodes with keepalived (VRRP). Without it, DNS lists every gateway node.",
    ),
    gateway: GatewaySchema,
    metrics: MetricsSchema,
    apps: z.array(AppSchema).default([]).describe("Apps, each with one or more releases."),
    dns: DnsSchema,
    firewall: FirewallSchema,
});

/** What a user writes (defaults optional). */
export type StackConfigInput = z.input<typeof StackConfigSchema>;
/** What the rest of the program sees (defaults filled). */
export type StackConfig = z.output<typeof StackConfigSchema>;

/** Top-level config keys, i.e. the `<project>:<key>` names in Pulumi.<stack>.yaml. */
export const CONFIG_KEYS = Object.keys(StackConfigSchema.shape) as (keyof StackConfig)[];
