// VirtualIp: keepalived on every gateway node, one VRRP instance per VIP group; config rendered from templates,
// the VRRP password generated (secret), reloaded gracefully only when the rendered config changes.
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import type { Plan, PlanVrrp } from "../stacks/plan";
import { renderKeepalivedConf, renderKeepalivedScripts } from "../stacks/render";
import type { NodeRunner } from "./nodes";

export interface VirtualIpArgs {
    readonly plan: Plan & { readonly vrrp: PlanVrrp };
    readonly runners: Readonly<Record<string, NodeRunner>>;
    /** A fixed password from config (virtualIp.passwordSecret) instead of a generated one. */
    readonly password?: pulumi.Input<string>;
    /** Per gateway node, what keepalived waits for (the node's swarm membership). */
    readonly after?: Readonly<Record<string, pulumi.Input<pulumi.Resource>[]>>;
}

/** VRRPv2 PASS authentication compares only the first 8 characters. */
export const VRRP_PASSWORD_LENGTH = 8;

export class VirtualIp extends pulumi.ComponentResource {
    public readonly addresses: string[];
    /** Secret. */
    public readonly password?: pulumi.Output<string>;
    /** The keepalived step per gateway node; the gateway's task replacement waits for these. */
    public readonly keepalived: Record<string, pulumi.Resource> = {};

    constructor(name: string, args: VirtualIpArgs, opts?: pulumi.ComponentResourceOptions) {
        super("swarm:vip:VirtualIp", name, {}, opts);
        const { plan } = args;
        const vrrp = plan.vrrp;
        this.addresses = vrrp.groups.map((g) => g.address);

        if (vrrp.authentication) {
            this.password = pulumi.secret(
                args.password !== undefined
                    ? pulumi.output(args.password).apply((p) => checkPassword(p))
                    : new random.RandomPassword(`${name}-password`, { length: VRRP_PASSWORD_LENGTH, special: false }, { parent: this }).result,
            );
        }
        const scripts = renderKeepalivedScripts(plan);
        const members = [...new Set(vrrp.groups.flatMap((g) => g.members.map((m) => m.node)))];
        for (const node of members) {
            const conf = this.password
                ? pulumi.secret(this.password.apply((authPass) => renderKeepalivedConf(plan, node, { authPass })))
                : pulumi.output(renderKeepalivedConf(plan, node, {}));
            const runner = args.runners[node];
            if (!runner) throw new Error(`node ${node}: no runner for the VRRP member`);
            this.keepalived[node] = runner.run(`${name}-keepalived-${node}`, {
                script: "keepalived-apply",
                env: { KEEPALIVED_CONF: conf, CHECK_SCRIPT: scripts.check, NOTIFY_SCRIPT: scripts.notify, SCRIPT_USER: vrrp.scriptUser },
                onDelete: { script: "keepalived-stop" },
            }, { parent: this, dependsOn: args.after?.[node] ?? [] }).resource;
        }
        this.registerOutputs({ addresses: this.addresses });
    }
}

function checkPassword(p: string): string {
    if (p.length === 0 || p.length > VRRP_PASSWORD_LENGTH) {
        throw new Error(`virtualIp.passwordSecret: VRRPv2 PASS uses 1-${VRRP_PASSWORD_LENGTH} characters (got ${p.length}); longer passwords are silently cut and mismatch`);
    }
    return p;
}
