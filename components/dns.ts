// Dns: the planned A records and a zone file snippet, as outputs a DNS stack reads (StackReference). It creates no
// resource of its own: DNS providers differ per operator, the records are what they need.
import * as pulumi from "@pulumi/pulumi";
import type { PlanDns, PlanDnsRecord } from "../model";
import { renderZoneFile } from "../model/dns";

/** The DNS slice of the plan. */
export interface DnsArgs {
    /** The records and their TTL. */
    readonly dns: PlanDns;
}

/** The platform's DNS records. */
export class Dns extends pulumi.ComponentResource {
    /** One A record per hostname and VIP (or gateway node without a VIP). */
    public readonly records: readonly PlanDnsRecord[];
    /** The records as a BIND zone file snippet. */
    public readonly zoneFile: string;

    constructor(name: string, args: DnsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("swarm:dns:Dns", name, {}, opts);
        this.records = args.dns.records;
        this.zoneFile = renderZoneFile(args.dns);
        this.registerOutputs({ records: this.records, zoneFile: this.zoneFile });
    }
}
