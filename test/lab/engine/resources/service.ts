// docker:index/service:Service — `name`, `auth`, `task_spec.networks_advanced` and `task_spec.container_spec.labels`
// force a new service, and `mode` when the block is added or removed; the rest is a service update with the full
// spec. An explicit name (always: it is required) means delete first. Diffs run against the spec read back.
import { dockerApi } from "../docker-api";
import { apiDelete, apiExists, changedKeys, Ctx, Diff, durationNs, Handler, labelSet, labelsFrom, labelsOf, matches, Props, same, shortDur, UNKNOWN } from "./common";

function policySpec(p: Props | undefined): Props | undefined {
    if (!p) return undefined;
    return {
        Parallelism: p.parallelism ?? 1,
        Delay: durationNs(p.delay) ?? 0,
        FailureAction: p.failureAction ?? "pause",
        Monitor: durationNs(p.monitor) ?? 5e9,
        MaxFailureRatio: Number(p.maxFailureRatio ?? 0),
        Order: p.order ?? "stop-first",
    };
}

async function serviceSpec(i: Props, ctx: Ctx): Promise<Props> {
    const ts = (i.taskSpec ?? {}) as Props;
    const cs = (ts.containerSpec ?? {}) as Props;
    const hc = cs.healthcheck as Props | undefined;
    const secrets = [];
    for (const s of (cs.secrets as Props[]) ?? []) {
        const info = (await dockerApi(ctx.engine, "GET", `/secrets/${String(s.secretId)}`)) as { Spec: { Name: string } };
        secrets.push({ SecretID: s.secretId, SecretName: s.secretName ?? info.Spec.Name, File: { Name: s.fileName, UID: s.fileUid ?? "0", GID: s.fileGid ?? "0", Mode: s.fileMode ?? 0o444 } });
    }
    const mode = (i.mode ?? {}) as { global?: boolean; replicated?: { replicas?: number } };
    const endpoint = (i.endpointSpec ?? {}) as Props;
    const restart = ts.restartPolicy as Props | undefined;
    const limits = (ts.resources as Props | undefined)?.limits as Props | undefined;
    return {
        Name: i.name,
        Labels: labelsOf(i.labels),
        TaskTemplate: {
            ContainerSpec: {
                Image: cs.image,
                ...(cs.commands ? { Command: cs.commands } : {}),
                ...(cs.args ? { Args: cs.args } : {}),
                Env: Object.entries((cs.env as Props) ?? {}).map(([k, v]) => `${k}=${String(v)}`),
                Labels: labelsOf(cs.labels),
                Mounts: ((cs.mounts as Props[]) ?? []).map((m) => ({ Type: m.type, Source: m.source, Target: m.target, ReadOnly: Boolean(m.readOnly) })),
                Secrets: secrets,
                ...(cs.readOnly !== undefined ? { ReadOnly: Boolean(cs.readOnly) } : {}),
                ...(cs.capAdds ? { CapabilityAdd: cs.capAdds } : {}),
                ...(cs.capDrops ? { CapabilityDrop: cs.capDrops } : {}),
                ...(cs.stopGracePeriod ? { StopGracePeriod: durationNs(cs.stopGracePeriod) } : {}),
                ...(cs.stopSignal ? { StopSignal: cs.stopSignal } : {}),
                ...(hc
                    ? {
                          Healthcheck: {
                              Test: hc.tests,
                              Interval: durationNs(hc.interval) ?? 0,
                              Timeout: durationNs(hc.timeout) ?? 0,
                              Retries: hc.retries ?? 0,
                              StartPeriod: durationNs(hc.startPeriod) ?? 0,
                          },
                      }
                    : {}),
            },
            ...(limits ? { Resources: { Limits: { ...(limits.nanoCpus !== undefined ? { NanoCPUs: limits.nanoCpus } : {}), ...(limits.memoryBytes !== undefined ? { MemoryBytes: limits.memoryBytes } : {}) } } } : {}),
            Placement: { Constraints: ((ts.placement as Props)?.constraints as string[]) ?? [] },
            // `id` (the provider's current field) or the deprecated `name` (a name or an id)
            Networks: ((ts.networksAdvanceds as Props[]) ?? []).map((n) => ({
                Target: n.id ?? n.name,
                Aliases: n.aliases ?? [],
                ...(n.driverOpts ? { DriverOpts: Object.fromEntries((n.driverOpts as string[]).map((o) => o.split("=", 2) as [string, string])) } : {}),
            })),
            ...(restart
                ? { RestartPolicy: { Condition: restart.condition ?? "any", ...(restart.delay ? { Delay: durationNs(restart.delay) } : {}), ...(restart.maxAttempts ? { MaxAttempts: restart.maxAttempts } : {}) } }
                : {}),
            ForceUpdate: ts.forceUpdate ?? 0,
        },
        Mode: mode.global ? { Global: {} } : { Replicated: { Replicas: mode.replicated?.replicas ?? 1 } },
        ...(i.updateConfig ? { UpdateConfig: policySpec(i.updateConfig as Props) } : {}),
        ...(i.rollbackConfig ? { RollbackConfig: policySpec(i.rollbackConfig as Props) } : {}),
        EndpointSpec: {
            Mode: endpoint.mode ?? "vip",
            Ports: ((endpoint.ports as Props[]) ?? []).map((p) => ({
                Protocol: p.protocol ?? "tcp",
                TargetPort: p.targetPort,
                PublishedPort: p.publishedPort,
                PublishMode: p.publishMode ?? "ingress",
            })),
        },
    };
}

type ApiPolicy = { Parallelism?: number; Delay?: number; FailureAction?: string; Monitor?: number; MaxFailureRatio?: number; Order?: string };
const readPolicy = (p: ApiPolicy | undefined) =>
    p && {
        parallelism: p.Parallelism ?? 0,
        delay: shortDur(p.Delay ?? 0),
        failureAction: p.FailureAction,
        monitor: shortDur(p.Monitor ?? 0),
        maxFailureRatio: (p.MaxFailureRatio ?? 0).toFixed(1),
        order: p.Order,
    };

/** The spec as the provider flattens it (durations via shortDur, ratios with one decimal, networks by id, the image as docker holds it). */
async function read(id: string, ctx: Ctx, inputs: Props): Promise<Props> {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const s = (await dockerApi(ctx.engine, "GET", `/services/${id}`)) as { Spec: any };
    const spec = s.Spec;
    const t = spec.TaskTemplate ?? {};
    const c = t.ContainerSpec ?? {};
    const hc = c.Healthcheck;
    const r = t.RestartPolicy;
    return {
        name: spec.Name,
        labels: labelsFrom(spec.Labels),
        // the provider keeps the auth it was given (the engine does not return it)
        ...(inputs.auth !== undefined ? { auth: inputs.auth } : {}),
        mode: spec.Mode?.Global ? { global: true } : { replicated: { replicas: spec.Mode?.Replicated?.Replicas ?? 1 } },
        taskSpec: {
            containerSpec: {
                image: c.Image,
                ...(c.Command ? { commands: c.Command } : {}),
                ...(c.Args ? { args: c.Args } : {}),
                env: Object.fromEntries(((c.Env as string[]) ?? []).map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)])),
                labels: labelsFrom(c.Labels),
                mounts: ((c.Mounts as Props[]) ?? []).map((m) => ({ type: m.Type, source: m.Source, target: m.Target, readOnly: Boolean(m.ReadOnly) })),
                secrets: ((c.Secrets as { SecretID: string; SecretName: string; File: Props }[]) ?? []).map((x) => ({
                    secretId: x.SecretID,
                    secretName: x.SecretName,
                    fileName: x.File?.Name,
                    fileUid: x.File?.UID,
                    fileGid: x.File?.GID,
                    fileMode: x.File?.Mode,
                })),
                readOnly: Boolean(c.ReadOnly),
                ...(c.CapabilityAdd ? { capAdds: c.CapabilityAdd } : {}),
                ...(c.CapabilityDrop ? { capDrops: c.CapabilityDrop } : {}),
                ...(c.StopGracePeriod !== undefined ? { stopGracePeriod: shortDur(c.StopGracePeriod) } : {}),
                ...(c.StopSignal ? { stopSignal: c.StopSignal } : {}),
                ...(hc
                    ? { healthcheck: { tests: hc.Test, interval: shortDur(hc.Interval ?? 0), timeout: shortDur(hc.Timeout ?? 0), retries: hc.Retries ?? 0, startPeriod: shortDur(hc.StartPeriod ?? 0) } }
                    : {}),
            },
            ...(t.Resources?.Limits ? { resources: { limits: { nanoCpus: t.Resources.Limits.NanoCPUs ?? 0, memoryBytes: t.Resources.Limits.MemoryBytes ?? 0 } } } : {}),
            placement: { constraints: t.Placement?.Constraints ?? [] },
            networksAdvanceds: ((t.Networks as Props[]) ?? []).map((n) => ({ id: n.Target, aliases: n.Aliases ?? [], ...(n.DriverOpts ? { driverOpts: Object.entries(n.DriverOpts).map(([k, v]) => `${k}=${String(v)}`) } : {}) })),
            ...(r ? { restartPolicy: { condition: r.Condition, ...(r.Delay !== undefined ? { delay: shortDur(r.Delay) } : {}), maxAttempts: r.MaxAttempts ?? 0, ...(r.Window !== undefined ? { window: shortDur(r.Window) } : {}) } } : {}),
            forceUpdate: t.ForceUpdate ?? 0,
        },
        ...(spec.UpdateConfig ? { updateConfig: readPolicy(spec.UpdateConfig) } : {}),
        ...(spec.RollbackConfig ? { rollbackConfig: readPolicy(spec.RollbackConfig) } : {}),
        endpointSpec: {
            mode: spec.EndpointSpec?.Mode ?? "vip",
            ports: ((spec.EndpointSpec?.Ports as Props[]) ?? []).map((p) => ({ protocol: p.Protocol, targetPort: p.TargetPort, publishedPort: p.PublishedPort, publishMode: p.PublishMode })),
        },
    };
}

// A task_spec that is unknown (it takes a value from a resource being replaced) may change any of its fields.
const taskPart = (v: Props, part: string) => (v.taskSpec === UNKNOWN ? UNKNOWN : ((v.taskSpec ?? {}) as Props)[part]);
const containerLabels = (v: Props) => {
    const cs = taskPart(v, "containerSpec");
    return cs === UNKNOWN ? UNKNOWN : ((cs ?? {}) as Props).labels;
};

function sameEnv(state: unknown, want: unknown): boolean {
    if (want === UNKNOWN || state === UNKNOWN) return false;
    const env = (v: unknown) => ((((v ?? {}) as Props).containerSpec ?? {}) as Props).env;
    const w = env(want);
    if (w === undefined || w === UNKNOWN) return w === undefined;
    return same(env(state) ?? {}, w);
}

export const service: Handler = {
    exists: (id, ctx) => apiExists(ctx, `/services/${id}`),
    async create(_name, i, ctx) {
        const res = (await dockerApi(ctx.engine, "POST", "/services/create", await serviceSpec(i, ctx))) as { ID: string };
        return { id: res.ID, outputs: await read(res.ID, ctx, i) };
    },
    async update(_name, id, _state, news, ctx) {
        const cur = (await dockerApi(ctx.engine, "GET", `/services/${id}`)) as { Version: { Index: number } };
        await dockerApi(ctx.engine, "POST", `/services/${id}/update?version=${cur.Version.Index}`, await serviceSpec(news, ctx));
        return read(id, ctx, news);
    },
    diff(state, olds, news): Diff {
        const sortLabels = (v: Props): Props => {
            if (v.taskSpec === UNKNOWN) return { ...v, labels: labelSet(v.labels) };
            const ts = (v.taskSpec ?? {}) as Props;
            const cs = (ts.containerSpec ?? {}) as Props;
            return { ...v, labels: labelSet(v.labels), taskSpec: v.taskSpec === undefined ? undefined : { ...ts, containerSpec: ts.containerSpec === undefined ? undefined : { ...cs, labels: labelSet(cs.labels) } } };
        };
        const s = sortLabels(state);
        const n = sortLabels(news);
        // `env` is a set in the provider's schema: a key the program dropped is a change (matches() alone would call
        // it a provider default and see nothing).
        const changed = changedKeys(s, olds, n, (k, sv, nv) => matches(sv, nv) && (k !== "taskSpec" || sameEnv(sv, nv)));
        const replaces = changed.filter((k) => ["name", "auth"].includes(k));
        // `mode` is a computed block: only adding or removing it forces new (what is inside updates)
        if (n.mode === UNKNOWN || (n.mode !== undefined && (s.mode === undefined || s.mode === null))) replaces.push("mode");
        if (changed.includes("taskSpec")) {
            if (!matches(taskPart(s, "networksAdvanceds"), taskPart(n, "networksAdvanceds"))) replaces.push("taskSpec.networksAdvanceds");
            if (!matches(containerLabels(s), containerLabels(n))) replaces.push("taskSpec.containerSpec.labels");
        }
        return { changed, replaces };
    },
    deleteBeforeReplace: () => true, // `name` is required: never auto-named
    async delete(_name, id, _i, _s, ctx) {
        await apiDelete(ctx, `/services/${id}`);
        // The service's tasks stop asynchronously: whoever deletes a network next retries while it is still in use.
    },
};
