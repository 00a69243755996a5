// The convergence gate: after a service create or update, `up` waits on the bootstrap manager until the swarm runs
// that spec (templates/releases/release-converge.sh). Its input carries the spec hash, so it runs again exactly when
// the spec changes; a failed run keeps its old state, so the next `up` runs it again (docs/operations.md).
import type * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { SPEC_LABEL, specHash } from "../model/converge";
import type { NodeRunner } from "./nodes";

/** The hash of a service's planned spec (its args without the spec label itself; secrets left out). */
export function serviceSpecHash(spec: pulumi.Input<object>): pulumi.Output<string> {
    return pulumi.output(spec).apply((resolved) => specHash(resolved));
}

/** The service's top-level labels plus the spec label (top-level labels update in place; container labels would replace it). */
export function withSpecLabel(labels: readonly { label: string; value: string }[], hash: pulumi.Output<string>): pulumi.Output<docker.types.input.ServiceLabel[]> {
    return hash.apply((h) => [...labels, { label: SPEC_LABEL, value: h }]);
}

export interface ConvergeGateArgs {
    /** The bootstrap manager: it asks the swarm. */
    readonly manager: NodeRunner;
    /** The service to wait for. */
    readonly service: docker.Service;
    /** What it is, for messages: "release shop 2.0", "the gateway". */
    readonly subject: string;
    /** The hash carried by the service's spec label. */
    readonly specHash: pulumi.Output<string>;
    /** Seconds to wait at most. */
    readonly timeout: number;
    /** What its polling of the swarm waits for besides the service (on a first up: the gateway's gate). */
    readonly after?: Promise<pulumi.Resource[]>;
}

/** Runs release-converge for one service after it; later steps depend on the returned resource. */
export function convergeGate(name: string, args: ConvergeGateArgs, opts: pulumi.CustomResourceOptions): pulumi.CustomResource {
    const after: pulumi.Input<pulumi.Resource[]> = args.after ? args.after.then((a): pulumi.Resource[] => [args.service, ...a]) : [args.service];
    return args.manager.run(name, {
        script: "release-converge",
        env: {
            SERVICE: args.service.name,
            // A replaced service (new id) is waited for again even when its spec is the same.
            SERVICE_ID: args.service.id,
            SUBJECT: args.subject,
            SPEC_LABEL,
            SPEC_HASH: args.specHash,
            TIMEOUT: String(args.timeout),
        },
    }, { ...opts, dependsOn: after }).resource;
}
