// Promotion across stacks: the target stack gets the source stack's releases of one app. Pure: config in, config out.
import type { StackConfigInput } from "./schema";

type AppInput = NonNullable<StackConfigInput["apps"]>[number];
type ReleaseInput = AppInput["releases"][number];

export interface PromoteOptions {
    readonly app: string;
    /** Hostname suffix rewrites, e.g. { "sklep.localhost": "sklep.pl" }: with it, hostnames are promoted too. */
    readonly domainMap?: Readonly<Record<string, string>>;
    /** Drop target releases the source no longer has (default: keep them, so a rollback target stays deployed). */
    readonly prune?: boolean;
}

export interface PromoteResult {
    readonly apps: AppInput[];
    /** Human-readable changes, one per line, for the PR / terminal. */
    readonly changes: string[];
}

/**
 * Copies release definitions (name, tag, image, env, replicas) of `app` from source to target. Hostnames are
 * environment-specific: they move only through `domainMap`; otherwise the target keeps its own assignment and a
 * new release arrives unrouted (deployed, no hostname) until someone assigns it one.
 */
export function promoteReleases(sourceApps: readonly AppInput[], targetApps: readonly AppInput[], opts: PromoteOptions): PromoteResult {
    const source = sourceApps.find((a) => a.name === opts.app);
    if (!source) throw new Error(`apps: the source stack has no app "${opts.app}" (apps: ${sourceApps.map((a) => a.name).join(", ") || "none"})`);
    const targetIndex = targetApps.findIndex((a) => a.name === opts.app);
    if (targetIndex < 0) throw new Error(`apps: the target stack has no app "${opts.app}"; add it there first (zone, image, port are per environment)`);
    const target = targetApps[targetIndex];
    const changes: string[] = [];

    const mapHost = (host: string): string | undefined => {
        for (const [from, to] of Object.entries(opts.domainMap ?? {})) {
            if (host === from || host.endsWith(`.${from}`)) return host.slice(0, host.length - from.length) + to;
        }
        return undefined;
    };
    const promoted: ReleaseInput[] = source.releases.map((rel) => {
        const existing = target.releases.find((t) => t.name === rel.name);
        const mapped = opts.domainMap ? rel.hostnames?.map((h) => mapHost(h)).filter((h): h is string => h !== undefined) : undefined;
        const hostnames = mapped ?? existing?.hostnames ?? [];
        const next: ReleaseInput = {
            ...(existing ?? {}),
            name: rel.name,
            ...(rel.tag !== undefined ? { tag: rel.tag } : {}),
            ...(rel.env !== undefined ? { env: { ...rel.env } } : {}),
            hostnames,
        };
        if (!existing) changes.push(`+ release ${rel.name}${hostnames.length ? ` on ${hostnames.join(", ")}` : " (no hostname yet)"}`);
        else if (JSON.stringify(existing) !== JSON.stringify(next)) changes.push(`~ release ${rel.name}`);
        return next;
    });
    // A hostname promoted onto one release is taken off any release kept from the target.
    const claimed = new Set(promoted.flatMap((r) => r.hostnames ?? []));
    const kept = opts.prune
        ? []
        : target.releases
              .filter((t) => !source.releases.some((s) => s.name === t.name))
              .map((t) => ({ ...t, hostnames: (t.hostnames ?? []).filter((h) => !claimed.has(h)) }));
    for (const t of target.releases) {
        if (opts.prune && !source.releases.some((s) => s.name === t.name)) changes.push(`- release ${t.name}`);
    }
    const apps = targetApps.map((a, i) => (i === targetIndex ? { ...a, releases: [...promoted, ...kept] } : a));
    return { apps, changes };
}
