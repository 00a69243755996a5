// The lab engine: runs the REAL program (index.ts) under pulumi.runtime.setMocks, with a mock whose newResource
// performs each resource for real (resources/, one file per type) and a state file keyed by URN, so that a second
// run does what `pulumi up` would. This file holds only the generic step logic: the provider's diff of the stored
// (read-back) state against the new inputs → same / update / replace (create-first, or delete-first together with
// the dependents that would be replaced), gone → deleted (dependents before their dependencies, newest first, after
// the program's registrations drained); `destroy` deletes everything in that order. The rules: docs/provider-rules.md.
import * as fs from "node:fs";
import * as path from "node:path";
import { HOST_ENGINE, setEngineTlsRoot } from "./docker-api";
import { canonical, Ctx, Handler, HANDLERS, Props, UNKNOWN } from "./resources";
import { registerProviderTls } from "./resources/provider";
import { deletionLayers } from "./schedule";

export interface StoredResource {
    readonly urn: string;
    readonly type: string;
    readonly name: string;
    readonly id: string;
    readonly inputs: Props;
    /** The state as the provider read it back after create/update: what the next diff runs against. */
    readonly outputs: Props;
    /** The docker engine the resource lives on (kept so it can be deleted after its provider is gone). */
    readonly engine: string;
    /** Creation sequence number: deletion runs in reverse. */
    readonly seq: number;
    readonly dependencies: readonly string[];
    /** Per input: the resources its value came from (the engine's property dependencies). */
    readonly propertyDependencies?: Readonly<Record<string, readonly string[]>>;
    /** Its explicit provider's URN (a resource is deleted before its provider). */
    readonly provider?: string;
    /** Its parent's URN (a component, deleted after its children). */
    readonly parent?: string;
    /** The `deletedWith` option's URN: its provider delete is skipped when that resource is deleted in the same run. */
    readonly deletedWith?: string;
}

/** A component resource: nothing to create or delete, but the engine deletes it after its children. */
export interface StoredComponent {
    readonly urn: string;
    readonly type: string;
    readonly parent?: string;
    readonly dependencies: readonly string[];
}

export interface LabState {
    version: 1;
    seq: number;
    resources: Record<string, StoredResource>;
    /** The program's component resources (they shape the order of deletes). */
    components?: Record<string, StoredComponent>;
}

export type Op = "create" | "update" | "replace" | "delete" | "same";

export interface EngineResult {
    readonly ok: boolean;
    readonly errors: string[];
    readonly counts: { created: number; updated: number; replaced: number; deleted: number; unchanged: number };
    readonly changes: { urn: string; op: Op }[];
    readonly seconds: number;
    /** Stack outputs (plain values), when the program ran. */
    readonly outputs: Record<string, unknown>;
}

export interface EngineOptions {
    /** Folder with index.ts and Pulumi.yaml. */
    readonly projectDir: string;
    readonly project: string;
    readonly stack: string;
    readonly statePath: string;
    /** Full config: `<project>:<key>` → value (objects are JSON-encoded for the runtime). */
    readonly config: Record<string, unknown>;
    readonly secretKeys?: string[];
    readonly log?: (msg: string) => void;
    /** `pulumi up --refresh`, reduced to existence: resources the engine no longer has are dropped from state (and created again). */
    readonly refresh?: boolean;
}

/** The state file; the engines its providers point at get their client TLS back (a resource outlives its provider run). */
export function loadState(statePath: string): LabState {
    setEngineTlsRoot(path.join(path.dirname(statePath), "engine-tls"));
    if (!fs.existsSync(statePath)) return { version: 1, seq: 0, resources: {} };
    const state = JSON.parse(fs.readFileSync(statePath, "utf8")) as LabState;
    for (const r of Object.values(state.resources)) if (r.type === "pulumi:providers:docker") registerProviderTls(r.outputs);
    return state;
}

function saveState(statePath: string, state: LabState): void {
    fs.mkdirSync(path.dirname(statePath), { recursive: true });
    const tmp = `${statePath}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(state, null, 1));
    fs.renameSync(tmp, statePath);
}

/** Secret wrappers from the mock monitor's deserializer → plain values. */
function plain(v: unknown, sigKey: string, secretSig: string): unknown {
    if (Array.isArray(v)) return v.map((x) => plain(x, sigKey, secretSig));
    if (v && typeof v === "object") {
        const o = v as Props;
        if (o[sigKey] === secretSig) return plain(o.value, sigKey, secretSig);
        return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, plain(x, sigKey, secretSig)]));
    }
    return v;
}

interface Meta {
    parent: string;
    deps: string[];
    propertyDeps: Record<string, string[]>;
    deleteBeforeReplace: boolean;
    ignoreChanges: string[];
    deletedWith: string;
}

/** The differing keys, each with where a string differs (so a surprising diff can be explained). */
function diffKeys(olds: Props, news: Props, keys: string[]): string {
    return keys
        .map((k) => {
            const a = typeof olds[k] === "string" ? olds[k] : canonical(olds[k]);
            const b = typeof news[k] === "string" ? news[k] : canonical(news[k]);
            if (typeof a !== "string" || typeof b !== "string") return k;
            let i = 0;
            while (i < a.length && a[i] === b[i]) i++;
            return `${k}@${i}: ${JSON.stringify(a.slice(Math.max(0, i - 40), i + 40))} -> ${JSON.stringify(b.slice(Math.max(0, i - 40), i + 40))}`;
        })
        .join(", ");
}

function emptyCounts() {
    return { created: 0, updated: 0, replaced: 0, deleted: 0, unchanged: 0 };
}

/** One resource to delete: the resource's state, and whether it leaves the state (the old half of a replacement does not). */
interface Doomed {
    readonly r: StoredResource;
    readonly fromState: boolean;
}

/**
 * Deletes resources as the engine schedules them (schedule.ts: antichains, each in parallel, one after the other;
 * the components in state shape them). When an antichain has a failure and not `keepGoing`, the deletes in flight
 * finish and nothing further starts; with `keepGoing` (destroy) the rest is still deleted.
 */
async function deleteAll(items: Doomed[], state: LabState, opts: EngineOptions, result: { errors: string[]; counts: ReturnType<typeof emptyCounts>; changes: { urn: string; op: Op }[] }, keepGoing: boolean, components: readonly StoredComponent[] = [], deleted: Set<string> = new Set()): Promise<void> {
    const log = opts.log ?? (() => undefined);
    // The engine's sg.deletes: every URN of the batch is marked before any delete runs (docs/provider-rules.md rule 10).
    for (const d of items) deleted.add(d.r.urn);
    type Node = { urn: string; seq?: number; dependencies: readonly string[]; propertyDependencies?: Readonly<Record<string, readonly string[]>>; provider?: string; parent?: string; doomed?: Doomed };
    const nodes: Node[] = [...items.map((d) => ({ ...d.r, doomed: d })), ...components.map((c) => ({ ...c }))];
    for (const layer of deletionLayers(nodes, (n) => n.doomed !== undefined)) {
        let failed = false;
        await Promise.all(layer.map(async (n) => {
            const { r, fromState } = n.doomed as Doomed;
            const handler = HANDLERS[r.type];
            const t0 = Date.now();
            try {
                log(`- delete ${r.type} ${r.name}`);
                if (isDeletedWith(r, deleted)) log(`  deleted ${r.type} ${r.name} (no provider delete: deleted with ${r.deletedWith})`);
                else {
                    if (handler) await handler.delete(r.name, r.id, r.inputs, r.outputs, { engine: r.engine, log });
                    log(`  deleted ${r.type} ${r.name} (${((Date.now() - t0) / 1000).toFixed(2)} s)`);
                }
                if (fromState && state.resources[r.urn]?.seq === r.seq) delete state.resources[r.urn];
                saveState(opts.statePath, state);
                // the old half of a replacement is part of that replace, not a separate delete
                if (fromState) {
                    result.counts.deleted++;
                    result.changes.push({ urn: r.urn, op: "delete" });
                }
            } catch (e) {
                failed = true;
                result.errors.push(`delete ${r.urn}: ${e instanceof Error ? e.message : String(e)}`);
            }
        }));
        if (failed && !keepGoing) return;
    }
    for (const c of components) delete state.components?.[c.urn];
    saveState(opts.statePath, state);
}

/** The engine's isDeletedWith: a resource whose `deletedWith` resource is being deleted too needs no delete of its own. */
function isDeletedWith(r: StoredResource, deleted: ReadonlySet<string>): boolean {
    return r.deletedWith !== undefined && deleted.has(r.deletedWith);
}

/** Runs the program once (`pulumi up`). */
export async function up(opts: EngineOptions): Promise<EngineResult> {
    const t0 = Date.now();
    const log = opts.log ?? (() => undefined);
    /** Where the run's time went, logged at the end. */
    const phases: string[] = [];
    let phaseStart = t0;
    const phase = (what: string) => {
        phases.push(`${what} ${((Date.now() - phaseStart) / 1000).toFixed(2)} s`);
        phaseStart = Date.now();
    };
    const pulumi = await import("@pulumi/pulumi");
    phase("SDK loaded");
    // The SDK's internals the mock monitor needs (not in the public typings).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const settings = require("@pulumi/pulumi/runtime/settings");
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const rpc = require("@pulumi/pulumi/runtime/rpc");
    const state = loadState(opts.statePath);
    if (opts.refresh) {
        for (const r of Object.values(state.resources)) {
            const h = HANDLERS[r.type];
            if (h?.exists && !(await h.exists(r.id, { engine: r.engine, log }))) {
                log(`refresh: ${r.type} ${r.name} is gone`);
                delete state.resources[r.urn];
            }
        }
    }
    const before = JSON.stringify(state);
    const result = { errors: [] as string[], counts: emptyCounts(), changes: [] as { urn: string; op: Op }[] };
    const seen = new Set<string>();
    const seenComponents = new Set<string>();
    const pendingDeletes: StoredResource[] = [];
    let inflight = 0;
    let lastActivity = Date.now();
    // assigned after setMocks (the mock closure below reads it later, when the program registers resources)
    // eslint-disable-next-line prefer-const
    let mon: { registerResource(req: unknown, cb: unknown): unknown; newUrn(p: string, t: string, n: string): string };
    const meta = new Map<string, Meta>();
    /** Dependents deleted ahead of a delete-first replacement: created again (a replace) when the program registers them. */
    const deletedAsDependent = new Set<string>();
    /** The engine's sg.deletes for this run: what delete-first replacements and the final delete batch condemned. */
    const deletedUrns = new Set<string>();

    const engineOf = (providerRef: string | undefined): string => {
        if (!providerRef) return HOST_ENGINE;
        const id = providerRef.slice(providerRef.lastIndexOf("::") + 2);
        const p = Object.values(state.resources).find((r) => r.type.startsWith("pulumi:providers:") && r.id === id);
        if (!p) return HOST_ENGINE; // a default provider: the engine running the program
        return String(p.outputs.host ?? HOST_ENGINE);
    };

    /** Runs f after every f queued before it has finished. */
    let queue: Promise<unknown> = Promise.resolve();
    const serially = (f: () => Promise<void>): Promise<void> => {
        const next = queue.then(f);
        queue = next.catch(() => undefined);
        return next;
    };
    /**
     * The engine's calculateDependentReplacements: every resource that (transitively) depends on `root` and whose
     * own provider diff forces a replacement once the inputs it takes from a resource being replaced are unknown.
     * In dependency (creation) order.
     */
    const dependentReplacements = (root: StoredResource): StoredResource[] => {
        const replaceSet = new Set([root.urn]);
        const dependents = new Set([root.urn]);
        const out: StoredResource[] = [];
        for (const d of Object.values(state.resources).sort((a, b) => a.seq - b.seq)) {
            const deps = [...d.dependencies, ...Object.values(d.propertyDependencies ?? {}).flat()];
            if (d.urn === root.urn || !deps.some((u) => dependents.has(u))) continue;
            dependents.add(d.urn);
            const h: Handler | undefined = HANDLERS[d.type];
            const unknownKeys = Object.entries(d.propertyDependencies ?? {}).filter(([, urns]) => urns.some((u) => replaceSet.has(u))).map(([k]) => k);
            if (!h || !unknownKeys.length) continue;
            const inputsForDiff = { ...d.inputs, ...Object.fromEntries(unknownKeys.map((k) => [k, UNKNOWN])) };
            if (h.diff(d.outputs, d.inputs, inputsForDiff).replaces.length) {
                replaceSet.add(d.urn);
                out.push(d);
            }
        }
        return out;
    };

    const mocks = {
        async newResource(args: { type: string; name: string; inputs: Props; provider?: string; custom?: boolean; id?: string }) {
            if (args.custom === false) return { id: undefined, state: {} };
            inflight++;
            lastActivity = Date.now();
            try {
                return await perform(args);
            } finally {
                inflight--;
                lastActivity = Date.now();
            }
        },
        call(args: { token: string; inputs: Props }) {
            throw new Error(`lab engine: no invoke support (${args.token})`);
        },
    };

    async function perform(args: { type: string; name: string; inputs: Props; provider?: string; custom?: boolean; id?: string }) {
        {
            const key = `${args.type}::${args.name}`;
            const m = meta.get(key) ?? { parent: "", deps: [], propertyDeps: {}, deleteBeforeReplace: false, ignoreChanges: [], deletedWith: "" };
            const urn = mon.newUrn(m.parent, args.type, args.name);
            seen.add(urn);
            try {
                const handler = HANDLERS[args.type];
                if (!handler) throw new Error(`lab engine: unsupported resource type ${args.type} (${args.name})`);
                let inputs = plain(args.inputs, rpc.specialSigKey, rpc.specialSecretSig) as Props;
                const engine = args.type.startsWith("pulumi:providers:") ? HOST_ENGINE : engineOf(args.provider);
                const ctx: Ctx = { engine, log };
                const prior = state.resources[urn];
                if (prior && m.ignoreChanges.length) {
                    inputs = { ...inputs };
                    for (const k of m.ignoreChanges) if (k in prior.inputs) inputs[k] = prior.inputs[k];
                }
                const store = (id: string, outputs: Props, seq: number) => {
                    state.resources[urn] = {
                        urn, type: args.type, name: args.name, id, inputs, outputs, engine, seq, dependencies: m.deps, propertyDependencies: m.propertyDeps,
                        ...(args.provider ? { provider: args.provider.slice(0, args.provider.lastIndexOf("::")) } : {}),
                        ...(m.parent ? { parent: m.parent } : {}),
                        ...(m.deletedWith ? { deletedWith: m.deletedWith } : {}),
                    };
                    saveState(opts.statePath, state);
                    return { id, state: outputs };
                };
                if (!prior) {
                    const again = deletedAsDependent.has(urn);
                    log(`+ create ${args.type} ${args.name}${again ? " (its dependency was replaced delete-first)" : ""}`);
                    const started = Date.now();
                    const c = await handler.create(args.name, inputs, ctx);
                    log(`  created ${args.name} in ${((Date.now() - started) / 1000).toFixed(2)} s`);
                    result.counts[again ? "replaced" : "created"]++;
                    result.changes.push({ urn, op: again ? "replace" : "create" });
                    return store(c.id, c.outputs, ++state.seq);
                }
                const diff = handler.diff(prior.outputs, prior.inputs, inputs);
                // ignoreChanges: the engine keeps the old inputs there (above) and the bridge drops those paths from its diff
                const ignored = (k: string) => m.ignoreChanges.some((p) => p === k || p.startsWith(`${k}.`) || p.startsWith(`${k}[`));
                const changed = diff.changed.filter((k) => !ignored(k));
                const replaces = diff.replaces.filter((k) => !ignored(k.split(".")[0]));
                if (!changed.length) {
                    result.counts.unchanged++;
                    // a "same" step still records the new inputs (the state read back stays)
                    if (canonical(prior.inputs) !== canonical(inputs)) store(prior.id, prior.outputs, prior.seq);
                    return { id: prior.id, state: prior.outputs };
                }
                if (!handler.update || replaces.length) {
                    const deleteFirst = m.deleteBeforeReplace || (handler.deleteBeforeReplace?.(inputs) ?? false);
                    log(`+- replace ${args.type} ${args.name} (${replaces.join(", ") || changed.join(", ")}: ${diffKeys(prior.outputs, inputs, replaces.length ? replaces : changed)})${deleteFirst ? " delete first" : ""}`);
                    if (deleteFirst) {
                        // One delete-first replacement at a time (the engine plans them one after the other): a
                        // dependent of two replaced resources is deleted once.
                        await serially(async () => {
                            // like the engine: first the dependents that the unknown new id/name would replace, newest first;
                            // the chain is marked deleted before its steps run (a dependent deleted with it skips its delete)
                            const dependents = dependentReplacements(prior).reverse();
                            for (const d of [...dependents, prior]) deletedUrns.add(d.urn);
                            for (const d of dependents) {
                                log(`- delete ${d.type} ${d.name} (depends on ${args.name}, replaced delete-first)`);
                                if (isDeletedWith(d, deletedUrns)) log(`  no provider delete: deleted with ${d.deletedWith}`);
                                else await HANDLERS[d.type].delete(d.name, d.id, d.inputs, d.outputs, { engine: d.engine, log });
                                delete state.resources[d.urn];
                                deletedAsDependent.add(d.urn);
                                saveState(opts.statePath, state);
                            }
                            log(`- delete ${args.type} ${args.name} (replaced delete-first)`);
                            if (isDeletedWith(prior, deletedUrns)) log(`  no provider delete: deleted with ${prior.deletedWith}`);
                            else await handler.delete(prior.name, prior.id, prior.inputs, prior.outputs, { engine: prior.engine, log });
                            delete state.resources[urn];
                            saveState(opts.statePath, state);
                        });
                    } else pendingDeletes.push(prior);
                    const c = await handler.create(args.name, inputs, ctx);
                    result.counts.replaced++;
                    result.changes.push({ urn, op: "replace" });
                    return store(c.id, c.outputs, ++state.seq);
                }
                log(`~ update ${args.type} ${args.name} (${diffKeys(prior.outputs, inputs, changed)})`);
                const updateStarted = Date.now();
                const outputs = await handler.update(args.name, prior.id, prior.outputs, inputs, ctx);
                log(`  updated ${args.name} in ${((Date.now() - updateStarted) / 1000).toFixed(2)} s`);
                result.counts.updated++;
                result.changes.push({ urn, op: "update" });
                return store(prior.id, outputs, prior.seq);
            } catch (e) {
                const msg = e instanceof Error ? e.message : String(e);
                result.errors.push(`${urn}: ${msg}`);
                throw e;
            }
        }
    }

    // Fresh SDK state for this run, then the program's config.
    await pulumi.runtime.setMocks(mocks, opts.project, opts.stack, false);
    mon = settings.getMonitor() as typeof mon;
    const orig = mon.registerResource.bind(mon);
    // The mock monitor drops the parent, dependencies and options: read them off the request here.
    mon.registerResource = (req: unknown, cb: unknown) => {
        const r = req as {
            getType(): string;
            getName(): string;
            getParent(): string;
            getDependenciesList(): string[];
            getDeletebeforereplace(): boolean;
            getIgnorechangesList(): string[];
            getDeletedwith(): string;
            getPropertydependenciesMap(): { forEach(f: (v: { getUrnsList(): string[] }, k: string) => void): void };
            getCustom(): boolean;
        };
        const propertyDeps: Record<string, string[]> = {};
        r.getPropertydependenciesMap().forEach((v, k) => (propertyDeps[k] = v.getUrnsList()));
        meta.set(`${r.getType()}::${r.getName()}`, {
            parent: r.getParent(),
            deps: r.getDependenciesList(),
            propertyDeps,
            deleteBeforeReplace: r.getDeletebeforereplace(),
            ignoreChanges: r.getIgnorechangesList(),
            deletedWith: r.getDeletedwith(),
        });
        if (!r.getCustom()) {
            // a component: kept in the state with its parent, as the engine keeps it (it orders the deletes)
            const urn = mon.newUrn(r.getParent(), r.getType(), r.getName());
            seenComponents.add(urn);
            const c: StoredComponent = { urn, type: r.getType(), ...(r.getParent() ? { parent: r.getParent() } : {}), dependencies: r.getDependenciesList() };
            state.components ??= {};
            if (canonical(state.components[urn]) !== canonical(c)) state.components[urn] = c;
        }
        return orig(req, cb);
    };
    // As the CLI hands config over: structured values as JSON, strings bare (a secret read with requireSecret is the text itself).
    const configMap = Object.fromEntries(Object.entries(opts.config).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]));
    pulumi.runtime.setAllConfig(configMap, opts.secretKeys ?? []);

    // Unhandled rejections of the program's outputs (a failed resource) must not kill the run.
    const onRejection = (e: unknown) => {
        const msg = e instanceof Error ? e.message : String(e);
        if (!result.errors.some((x) => x.includes(msg.slice(0, 200)))) result.errors.push(`program: ${msg}`);
    };
    process.on("unhandledRejection", onRejection);
    const outputs: Record<string, unknown> = {};
    try {
        const entry = path.join(opts.projectDir, "index.ts");
        purgeProgram(opts.projectDir);
        let mod: Record<string, unknown> = {};
        try {
            // eslint-disable-next-line @typescript-eslint/no-require-imports
            mod = require(entry) as Record<string, unknown>;
        } catch (e) {
            result.errors.push(`program: ${e instanceof Error ? e.message : String(e)}`);
        }
        phase("program evaluated (its modules, its reads, its registrations started)");
        // After a failure the SDK never settles the registrations that depend on the failed resource: like the
        // engine, stop once nothing is in flight any more (and keep the event loop alive while waiting).
        let drained = false;
        const settled = async () => {
            while (!drained) {
                await new Promise((r) => setTimeout(r, 250));
                if (result.errors.length && inflight === 0 && Date.now() - lastActivity > 3000) return;
            }
        };
        await Promise.race([settings.waitForRPCs(), settled()]);
        drained = true;
        phase("registrations drained (diffs and steps)");
        // Resolve the stack outputs (plain values).
        for (const [k, v] of result.errors.length ? [] : Object.entries(mod)) {
            try {
                outputs[k] = pulumi.Output.isInstance(v)
                    ? await Promise.race([new Promise((res) => (v as { apply(f: (x: unknown) => unknown): unknown }).apply((x) => { res(x); return x; })), new Promise((res) => setTimeout(() => res(undefined), 5000))])
                    : v;
            } catch {
                /* unresolvable output */
            }
        }
        if (!result.errors.length) await settings.waitForRPCs();
        // Let the unhandled-rejection hook see failed outputs before deciding: Node reports a rejection nobody handled
        // once the microtasks of its turn have run, so one more turn of the event loop is enough (it was a 50 ms
        // sleep, 50 ms of every run that the Pulumi CLI does not spend).
        await new Promise((r) => setImmediate(r));
        await new Promise((r) => setImmediate(r));
        phase("stack outputs");
        if (result.errors.length === 0) {
            const gone = Object.values(state.resources).filter((r) => !seen.has(r.urn));
            // resources gone from the program and the old halves of create-first replacements: one schedule, as the engine's
            const goneComponents = Object.values(state.components ?? {}).filter((c) => !seenComponents.has(c.urn));
            await deleteAll([...gone.map((r) => ({ r, fromState: true })), ...pendingDeletes.map((r) => ({ r, fromState: false }))], state, opts, result, false, goneComponents, deletedUrns);
        } else if (pendingDeletes.length) {
            log(`not deleting ${pendingDeletes.length} replaced resources: the update failed`);
        }
    } finally {
        process.off("unhandledRejection", onRejection);
    }
    if (JSON.stringify(state) !== before) saveState(opts.statePath, state);
    phase("deletes");
    // The engine process's own CPU (the SDK, the program, the engine; not the commands it runs): on a machine whose
    // cores are all busy in a cold up, CPU time is what the cold up costs.
    const cpu = process.cpuUsage();
    log(`up: ${phases.join("; ")}; engine process CPU ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s`);
    return { ok: result.errors.length === 0, errors: result.errors, counts: result.counts, changes: result.changes, seconds: (Date.now() - t0) / 1000, outputs };
}

/**
 * `pulumi destroy`: every resource in state, dependents first, independent ones in parallel (deleteAll); keeps going
 * past errors (like `--continue-on-error`, and further: a failed delete's dependencies still go) and reports them.
 */
export async function destroy(opts: EngineOptions): Promise<EngineResult> {
    const t0 = Date.now();
    const state = loadState(opts.statePath);
    const result = { errors: [] as string[], counts: emptyCounts(), changes: [] as { urn: string; op: Op }[] };
    await deleteAll(Object.values(state.resources).map((r) => ({ r, fromState: true })), state, opts, result, true, Object.values(state.components ?? {}));
    return { ok: result.errors.length === 0, errors: result.errors, counts: result.counts, changes: result.changes, seconds: (Date.now() - t0) / 1000, outputs: {} };
}

/** Drops the program's own modules (not node_modules) from require.cache, so index.ts is evaluated afresh. */
function purgeProgram(projectDir: string): void {
    const root = path.resolve(projectDir) + path.sep;
    for (const k of Object.keys(require.cache)) {
        if (k.startsWith(root) && !k.includes(`${path.sep}node_modules${path.sep}`) && !k.includes(`${path.sep}test${path.sep}lab${path.sep}`)) delete require.cache[k];
    }
}
