// VirtualIp: keepalived on every gateway node, one VRRP instance per VIP group; config rendered from templates,
// the VRRP password generated (secret), reloaded gracefully only when the rendered config changes.
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import type { PlanVirtualIp } from "../model";
import { renderKeepalivedConf, renderKeepalivedScripts, virtualIpMembersOf } from "../model/virtual-ip";
import type { NodeRunner } from "./nodes";

/** The virtual IP slice of the plan and the nodes that hold it. */
export interface VirtualIpArgs {
    /** The VRRP groups, members and timings. */
    readonly virtualIp: PlanVirtualIp;
    /** A runner per node name (at least every member). */
    readonly runners: Readonly<Record<string, NodeRunner>>;
    /** A fixed password from config (virtualIp.passwordSecret) instead of a generated one. */
    readonly password?: pulumi.Input<string>;
    /** Per gateway node, what keepalived waits for (the node's swarm membership). */
    readonly after?: Readonly<Record<string, pulumi.Input<pulumi.Resource>[]>>;
}

/** VRRPv2 PASS authentication compares only the first 8 characters. */
export const VRRP_PASSWORD_LENGTH = 8;

/** keepalived on the gateway nodes, holding the virtual IPs. */
export class VirtualIp extends pulumi.ComponentResource {
    /** The virtual IPs, one per group. */
    public readonly addresses: string[];
    /** The VRRP password (secret), when authentication is on. */
    public readonly password?: pulumi.Output<string>;
    /** The keepalived step per gateway node; the gateway's task replacement waits for these. */
    public readonly keepalived: Record<string, pulumi.Resource> = {};

    constructor(name: string, args: VirtualIpArgs, opts?: pulumi.ComponentResourceOptions) {
        super("swarm:virtualIp:VirtualIp", name, {}, opts);
        const { virtualIp } = args;
        this.addresses = virtualIp.groups.map((g) => g.address);

        if (virtualIp.authentication) {
            this.password = pulumi.secret(
                args.password !== undefined
                    ? pulumi.output(args.password).apply((p) => this.checkPassword(p))
                    : new random.RandomPassword(`${name}-password`, { length: VRRP_PASSWORD_LENGTH, special: false }, { parent: this }).result,
            );
        }
        const scripts = renderKeepalivedScripts(virtualIp);
        for (const node of virtualIpMembersOf(virtualIp)) {
            const conf = this.password
                ? pulumi.secret(this.password.apply((authPass) => renderKeepalivedConf(virtualIp, node, { authPass })))
                : pulumi.output(renderKeepalivedConf(virtualIp, node, {}));
            const runner = args.runners[node];
            if (!runner) throw new Error(`virtualIp: node ${node} has no runner for the VRRP member`);
            this.keepalived[node] = runner.run(`${name}-keepalived-${node}`, {
                script: "keepalived-apply",
                env: { KEEPALIVED_CONF: conf, CHECK_SCRIPT: scripts.check, NOTIFY_SCRIPT: scripts.notify, SCRIPT_USER: virtualIp.scriptUser },
                onDelete: { script: "keepalived-stop" },
            }, { parent: this, dependsOn: args.after?.[node] ?? [] }).resource;
        }
        this.registerOutputs({ addresses: this.addresses });
    }

    private checkPassword(p: string): string {
        if (p.length === 0 || p.length > VRRP_PASSWORD_LENGTH) {
            throw new pulumi.ResourceError(
                `virtualIp.passwordSecret: VRRPv2 PASS uses 1-${VRRP_PASSWORD_LENGTH} characters (got ${p.length}); longer passwords are silently cut and mismatch`,
                this,
            );
        }
        return p;
    }
}
