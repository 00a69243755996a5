// The docker provider takes durations as Go duration strings and reads them back shortened ("1m0s" → "1m"):
// write them in that very form, or every preview shows a diff.
import type * as docker from "@pulumi/docker";
export function seconds(s: number): string {
    if (s === 0) return "0s";
    if (s < 1) return `${Math.round(s * 1000)}ms`;
    const whole = Math.floor(s);
    const frac = Math.round((s - whole) * 1000) / 1000;
    const h = Math.floor(whole / 3600);
    const m = Math.floor((whole % 3600) / 60);
    const sec = (whole % 60) + frac;
    let text = `${h ? `${h}h` : ""}${h || m ? `${m}m` : ""}${sec}s`;
    if (text.endsWith("m0s")) text = text.slice(0, -2);
    if (text.endsWith("h0m")) text = text.slice(0, -2);
    return text;
}

/** The provider reads max_failure_ratio back with one decimal. */
export function ratio(r: number): string {
    return r.toFixed(1);
}

/** A swarm update or rollback policy as the provider takes it (the failure ratio only when the plan has one). */
export function updateConfig(p: {
    readonly parallelism: number;
    readonly delay: number;
    readonly order: string;
    readonly failureAction: string;
    readonly monitor: number;
    readonly maxFailureRatio?: number;
}): docker.types.input.ServiceUpdateConfig {
    return {
        parallelism: p.parallelism,
        delay: seconds(p.delay),
        order: p.order,
        failureAction: p.failureAction,
        monitor: seconds(p.monitor),
        ...(p.maxFailureRatio !== undefined ? { maxFailureRatio: ratio(p.maxFailureRatio) } : {}),
    };
}
