// The automated canary's plan (releases-and-routes concept): from the stack file as it is, the stack file of each
// step. Step p < 100 splits the hostname between the stable release (100 - p) and the canary (p) as a weighted
// route; step 100 gives the hostname to the canary as a plain hostname again; the rollback is the file as it was.
// Pure: text in, text out; only the app's changed release entries and its `routes` key are rewritten.
import * as YAML from "yaml";
import { PROJECT } from "./config";
import { flowStyleOf, flowText, writeAppReleases } from "./promote";

export interface CanaryRequest {
    readonly app: string;
    /** The new release, already in the stack file with replicas. */
    readonly release: string;
    /** Default: the only hostname served by the app's other releases. */
    readonly hostname?: string;
}

export interface CanaryStart {
    readonly app: string;
    readonly canary: string;
    /** The release that serves the hostname before the canary. */
    readonly stable: string;
    readonly hostname: string;
    /** The stack file before the canary: what a rollback writes back. */
    readonly text: string;
}

interface ReleaseEntry {
    name: string;
    hostnames?: string[];
    replicas?: number;
    [key: string]: unknown;
}

interface AppEntry {
    name: string;
    replicas?: number;
    releases?: ReleaseEntry[];
    routes?: { hostname: string; releases: Record<string, number>; [key: string]: unknown }[];
}

function appsOf(text: string, project = PROJECT): AppEntry[] {
    const doc = YAML.parseDocument(text);
    if (doc.errors.length) throw new Error(`the stack file is not valid YAML: ${doc.errors[0].message.split("\n")[0]}`);
    const config = (doc.toJSON() as { config?: Record<string, unknown> } | null)?.config ?? {};
    const apps = config[`${project}:apps`];
    if (!Array.isArray(apps)) throw new Error(`${project}:apps is ${apps === undefined ? "missing" : "not a list"}`);
    return apps as AppEntry[];
}

const list = (names: readonly string[]) => names.join(", ") || "none";

/** Checks the request against the stack file and finds the stable release and the hostname. Changes nothing. */
export function canaryStart(text: string, req: CanaryRequest): CanaryStart {
    const apps = appsOf(text);
    const app = apps.find((a) => a.name === req.app);
    if (!app) throw new Error(`--canary ${req.app}:${req.release}: apps: no app "${req.app}" (apps: ${list(apps.map((a) => a.name))})`);
    const releases = app.releases ?? [];
    const canary = releases.find((r) => String(r.name) === req.release);
    if (!canary) {
        throw new Error(`--canary ${req.app}:${req.release}: apps[${app.name}].releases: no release "${req.release}" in app ${app.name} (releases: ${list(releases.map((r) => String(r.name)))}); add it first`);
    }
    const replicas = canary.replicas ?? app.replicas ?? 2;
    if (replicas < 1) throw new Error(`apps[${app.name}].releases[${req.release}].replicas: 0: the canary release needs at least one replica`);

    const routed = (app.routes ?? []).map((r) => r.hostname);
    const served = releases.filter((r) => String(r.name) !== req.release).flatMap((r) => (r.hostnames ?? []).map((h) => ({ hostname: h, release: String(r.name) })));
    let hostname = req.hostname;
    if (hostname === undefined) {
        const candidates = [...new Set(served.map((s) => s.hostname))];
        if (candidates.length !== 1) {
            const which = candidates.length
                ? `the other releases of ${app.name} serve ${candidates.length} hostnames (${served.map((s) => `${s.hostname} on ${s.release}`).join(", ")})`
                : `no other release of ${app.name} serves a hostname`;
            throw new Error(`--hostname is required: ${which}`);
        }
        hostname = candidates[0];
    }
    const routeIndex = routed.indexOf(hostname);
    if (routeIndex >= 0) {
        throw new Error(`apps[${app.name}].routes[${routeIndex}].hostname: ${hostname} is already a weighted route; finish or roll back that split first (a canary starts from a hostname one release serves)`);
    }
    const stable = served.find((s) => s.hostname === hostname)?.release;
    if ((canary.hostnames ?? []).includes(hostname)) {
        throw new Error(`--canary ${req.app}:${req.release}: apps[${app.name}].releases[${req.release}].hostnames: ${req.release} already serves ${hostname}; the canary is a release that does not serve it yet`);
    }
    if (!stable) {
        throw new Error(`--hostname ${hostname}: no release of ${app.name} serves it (hostnames: ${list([...new Set(served.map((s) => s.hostname))])})`);
    }
    return { app: app.name, canary: req.release, stable, hostname, text };
}

/** The stack file of one step: p < 100 a weighted route stable (100 - p) / canary (p); 100 the canary owns the hostname. */
export function canaryStepText(start: CanaryStart, percent: number): string {
    if (!Number.isInteger(percent) || percent < 1 || percent > 100) throw new Error(`a canary step is an integer percent in 1..100 (got ${percent})`);
    const app = appsOf(start.text).find((a) => a.name === start.app)!;
    const releases = (app.releases ?? []).map((r) => {
        const name = String(r.name);
        if (name === start.stable) return { ...r, hostnames: (r.hostnames ?? []).filter((h) => h !== start.hostname) };
        if (name === start.canary && percent === 100) return { ...r, hostnames: [...(r.hostnames ?? []), start.hostname] };
        return r;
    });
    const withReleases = writeAppReleases(start.text, start.app, releases);
    const routes = [...(app.routes ?? [])];
    if (percent < 100) routes.push({ hostname: start.hostname, releases: { [start.stable]: 100 - percent, [start.canary]: percent } });
    return writeAppRoutes(withReleases, start.app, routes, (app.routes ?? []).length > 0 || percent < 100);
}

/**
 * The app's `routes` key set to `routes` (removed when empty), written as a block list of flow entries in the
 * style of the app's release entries. Nothing else in the file changes. `changed: false` leaves the text as it is.
 */
export function writeAppRoutes(text: string, app: string, routes: readonly Record<string, unknown>[], changed = true, project = PROJECT): string {
    if (!changed) return text;
    const doc = YAML.parseDocument(text);
    const config = doc.get("config", true);
    const appsNode = YAML.isMap(config) ? config.get(`${project}:apps`, true) : undefined;
    const appNode = YAML.isSeq(appsNode) ? appsNode.items.find((item) => YAML.isMap(item) && item.get("name") === app) : undefined;
    if (!YAML.isMap(appNode) || !appNode.range) throw new Error(`${project}:apps has no app "${app}"`);
    if (appNode.flow) throw new Error(`${project}:apps[${app}] is written as a flow map ({ … }); write it as a block map to run a canary on it`);
    const releasesPair = appNode.items.find((p) => YAML.isScalar(p.key) && p.key.value === "releases");
    const routesPair = appNode.items.find((p) => YAML.isScalar(p.key) && p.key.value === "routes");
    const lineStart = (offset: number) => text.lastIndexOf("\n", offset - 1) + 1;
    const lineEnd = (offset: number) => {
        const end = text.indexOf("\n", offset);
        return end < 0 ? text.length : end + 1;
    };
    const keyIndentOf = (pair: YAML.Pair) => {
        const key = pair.key as YAML.Scalar;
        return text.slice(lineStart(key.range![0]), key.range![0]).replace(/-/g, " ");
    };
    const valueEndOf = (pair: YAML.Pair) => {
        const value = pair.value as YAML.Node | null;
        const end = value?.range ? value.range[1] : (pair.key as YAML.Scalar).range![1];
        return text.slice(0, end).trimEnd().length;
    };
    const anchor = releasesPair ?? appNode.items[appNode.items.length - 1];
    const keyIndent = keyIndentOf(routesPair ?? anchor);
    // Entries as the release entries stand: their `- ` column and their flow style.
    const releaseItems = YAML.isSeq(releasesPair?.value) && !releasesPair.value.flow ? releasesPair.value.items.filter((i): i is YAML.YAMLMap => YAML.isMap(i) && !!i.range) : [];
    const first = releaseItems[0];
    const indicator = first ? text.slice(lineStart(first.range![0]), first.range![0]) : `${keyIndent}  - `;
    const style = flowStyleOf(first ? text.slice(first.range![0], first.range![1]) : undefined);
    const block = routes.length ? `${keyIndent}routes:\n${routes.map((r) => `${indicator}${flowText(r, style, ["hostname", "releases", "sticky"])}\n`).join("")}` : "";

    if (routesPair) {
        const from = lineStart((routesPair.key as YAML.Scalar).range![0]);
        const to = lineEnd(valueEndOf(routesPair) - 1);
        const ending = text.slice(from, to).endsWith("\n") ? "" : "\n";
        return text.slice(0, from) + (ending ? block.replace(/\n$/, "") : block) + text.slice(to);
    }
    if (!routes.length) return text;
    const at = lineEnd(valueEndOf(anchor) - 1);
    const before = text.slice(0, at);
    return before + (before.endsWith("\n") ? "" : "\n") + block + text.slice(at);
}

// ---- the command line's values ------------------------------------------------------------------------------

/** `10,50,100`: strictly increasing integers in 1..100, the last 100. */
export function parseSteps(value: string): number[] {
    const parts = value.split(",").map((s) => s.trim());
    const steps = parts.map((s) => (/^\d+$/.test(s) ? Number(s) : NaN));
    const bad = parts.find((_, i) => Number.isNaN(steps[i]) || steps[i] < 1 || steps[i] > 100);
    if (bad !== undefined) throw new Error(`--steps ${value}: "${bad}" is not an integer percent in 1..100`);
    const down = steps.findIndex((s, i) => i > 0 && s <= steps[i - 1]);
    if (down > 0) throw new Error(`--steps ${value}: steps must increase (${steps[down - 1]} then ${steps[down]})`);
    if (steps[steps.length - 1] !== 100) throw new Error(`--steps ${value}: the last step must be 100 (the canary ends owning the hostname)`);
    return steps;
}

/** `60s`, `2m`, `1m30s`, `500ms` → seconds. */
export function parseDuration(value: string, key: string): number {
    const m = /^(?:(\d+(?:\.\d+)?)m(?!s))?(?:(\d+(?:\.\d+)?)s)?(?:(\d+(?:\.\d+)?)ms)?$/.exec(value.trim());
    if (!value.trim() || !m || (m[1] === undefined && m[2] === undefined && m[3] === undefined)) {
        throw new Error(`${key} ${value}: not a duration (e.g. 60s, 2m, 1m30s, 500ms)`);
    }
    const seconds = Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0) + Number(m[3] ?? 0) / 1000;
    if (!(seconds > 0)) throw new Error(`${key} ${value}: must be more than 0`);
    return seconds;
}

/** `1%`, `0.5%` → a share 0..1. */
export function parsePercent(value: string, key: string): number {
    const m = /^(\d+(?:\.\d+)?)%$/.exec(value.trim());
    if (!m || Number(m[1]) > 100) throw new Error(`${key} ${value}: not a percentage in 0%..100% (e.g. 1%, 0.5%)`);
    return Number(m[1]) / 100;
}

export interface CanaryStep {
    readonly percent: number;
    readonly text: string;
}

export interface CanaryPlan {
    readonly start: CanaryStart;
    readonly steps: readonly CanaryStep[];
}

/** Every step's stack file, each checked by `check` (the whole config: validateConfig) before anything changes. */
export function planCanary(text: string, req: CanaryRequest, steps: readonly number[], check: (stepText: string) => readonly string[]): CanaryPlan {
    const start = canaryStart(text, req);
    const planned = steps.map((percent) => ({ percent, text: canaryStepText(start, percent) }));
    const problems = planned.flatMap((s, i) => check(s.text).map((e) => `step ${i + 1} (${s.percent}%): ${e}`));
    if (problems.length) {
        throw new Error(`the canary of ${start.app} ${start.canary} on ${start.hostname} would make the stack file invalid; nothing changed:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    }
    return { start, steps: planned };
}

/** The commit message of a step (`canary shop 2.1 on sklep.localhost: 10%`). */
export function canaryCommitMessage(start: CanaryStart, what: string): string {
    return `canary ${start.app} ${start.canary} on ${start.hostname}: ${what}`;
}
