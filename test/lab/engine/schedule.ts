// When the engine deletes what: the Pulumi engine's ScheduleDeletes (pkg/resource/deploy/step_generator.go). The
// resources to delete are split into antichains: repeatedly, every condemned resource none of whose dependencies is
// still condemned forms one antichain; the list is then reversed. Each antichain runs in parallel (`--parallel`
// defaults to unbounded) and completes before the next starts. A resource's dependencies here are the engine's
// DependenciesOf: its explicit dependencies, its property dependencies, its provider and its parent (component
// resources take part with their own parent, and are deleted as a no-op). Rules: docs/provider-rules.md.

/** What the schedule needs to know of a resource in the state. */
export interface Condemned {
    readonly urn: string;
    /** Creation sequence number (components: none). Newest first inside an antichain (the order the log shows). */
    readonly seq?: number;
    readonly dependencies: readonly string[];
    readonly propertyDependencies?: Readonly<Record<string, readonly string[]>>;
    /** The URN of its explicit provider, if any. */
    readonly provider?: string;
    /** The URN of its parent (a component, or the stack). */
    readonly parent?: string;
}

function dependenciesOf(r: Condemned): Set<string> {
    const deps = new Set([...r.dependencies, ...Object.values(r.propertyDependencies ?? {}).flat()]);
    if (r.provider) deps.add(r.provider);
    if (r.parent) deps.add(r.parent);
    deps.delete(r.urn);
    return deps;
}

/**
 * The antichains, in the order they run: every resource comes in an antichain before the antichains of everything
 * it depends on (dependencies are by URN). Entries `keep` refuses (component resources: their delete does nothing)
 * shape the antichains but are left out of them.
 */
export function deletionLayers<T extends Condemned>(items: readonly T[], keep: (r: T) => boolean = () => true): T[][] {
    const condemned = new Map<T, Set<string>>(items.map((r) => [r, dependenciesOf(r)]));
    const layers: T[][] = [];
    while (condemned.size) {
        const urns = new Set([...condemned.keys()].map((r) => r.urn));
        // a resource whose dependencies are all gone from the condemned set (the engine's "no outgoing edges")
        let free = [...condemned.keys()].filter((r) => ![...(condemned.get(r) as Set<string>)].some((u) => urns.has(u)));
        // a cycle never occurs in a valid state; should it, the oldest is taken out here (so deleted last: the
        // antichains are built from the end) rather than nothing ever
        if (!free.length) free = [[...condemned.keys()].sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0))[0]];
        for (const r of free) condemned.delete(r);
        layers.push(free);
    }
    return layers
        .reverse()
        .map((layer) => layer.filter(keep).sort((a, b) => (b.seq ?? 0) - (a.seq ?? 0)))
        .filter((layer) => layer.length > 0);
}
