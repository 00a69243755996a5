// Releases and routes: each app release is one swarm service placed by its app's zone; each hostname is served by one
// release (its `hostnames`) or by several with weights (the app's `routes`). Schema fragment, cross-key rules and plan
// slices.
import { z } from "zod";
import { envName, hostname, image, imageRepository, labels, name, oneLine, port, seconds, urlPath } from "./fields";
import { GATEWAY_SERVICE, type PlanTlsCertificate } from "./gateway";
import { overlayNameOf, zonesOf } from "./networks";
import { effectiveAvailability } from "./nodes";
import { type ConvergeTimings, convergeTimeoutFloor, defaultConvergeTimeout, MAX_CONVERGE_TIMEOUT } from "./converge";
import { compare, sortedRecord } from "./order";
import { type PlanResources, planResources, resourcesSchema } from "./resources";
import type { StackConfig } from "./schema";
import { firstDuplicates, listOrNone, type Report } from "./validation";

const RELEASE = /^[a-zA-Z0-9][a-zA-Z0-9._-]*$/;
const SERVICE_NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

const HealthcheckSchema = z.strictObject({
    test: z
        .array(oneLine("a healthcheck word"))
        .min(1)
        .refine((t) => t.length === 0 || ["NONE", "CMD", "CMD-SHELL"].includes(t[0]), { message: 'starts with "CMD", "CMD-SHELL" or "NONE" (Docker\'s forms)' })
        .optional()
        .describe('Exec form (["CMD", "curl", "-fsS", "http://127.0.0.1:8000/healthz"]) or ["NONE"] to disable the image\'s.'),
    path: urlPath().default("/healthz").describe("HTTP path probed with curl (or wget) when `test` is not given."),
    interval: seconds(1).default(5).describe("Seconds between probes."),
    timeout: seconds(1).default(3).describe("Seconds before a probe fails."),
    retries: z.number().int().min(1).max(100).default(3).describe("Failed probes before the task is unhealthy."),
    startPeriod: seconds(0).default(10).describe("Seconds after start in which failed probes do not count."),
});

const UpdatePolicySchema = z.strictObject({
    parallelism: z.number().int().min(0).default(1).describe("Tasks replaced at once (0 = all)."),
    delay: seconds(0).default(0).describe("Seconds between batches."),
    order: z.enum(["start-first", "stop-first"]).default("start-first").describe("Start the new task before stopping the old one, or after."),
    failureAction: z.enum(["rollback", "pause", "continue"]).default("rollback").describe("What swarm does when an updated task fails."),
    monitor: seconds(0)
        .optional()
        .describe("Seconds each task is watched after an update; default start_period + interval × retries + 5."),
    maxFailureRatio: z
        .number()
        .min(0)
        .max(1)
        // The docker provider reads the ratio back with one decimal: more would show a diff on every run.
        .refine((r) => Number.isInteger(Math.round(r * 1e6) / 1e5), { message: "one decimal at most (0.1 steps)" })
        .default(0)
        .describe("Fraction of tasks that may fail before `failureAction` applies (0.1 steps)."),
});

const PublishSchema = z.strictObject({
    target: port().describe("Container port."),
    published: port().describe("Port opened on the nodes."),
    protocol: z.enum(["tcp", "udp"]).default("tcp").describe("`tcp` or `udp`."),
    mode: z.enum(["ingress", "host"]).default("host").describe("`host`: only on nodes running a task; `ingress`: on every node (routing mesh)."),
});

export const ReleaseSchema = z.strictObject({
    name: z
        .string()
        .max(40)
        .regex(RELEASE, "release names are letters, digits, '.', '_' and '-'")
        .describe("Release name, like `2.0`; the service is `<app>-<release>` made DNS-safe."),
    tag: z
        .string()
        .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/, "must be a Docker tag: letters, digits, '_', '.' and '-', at most 128")
        .optional()
        .describe("Image tag; defaults to the release name."),
    image: image().optional().describe("Full image reference overriding app.image:tag."),
    replicas: z.number().int().min(0).max(1000).optional().describe("Replicas of this release; default: the app's `replicas`."),
    hostnames: z.array(hostname()).default([]).describe("Hostnames the gateway routes to this release; a hostname belongs to exactly one release."),
    env: z.record(envName(), z.string()).default({}).describe("Environment of this release, over the app's `env`."),
    service: z.string().optional().describe("Explicit swarm service name; defaults to `<app>-<release>` made DNS-safe."),
    pinnable: z
        .boolean()
        .default(false)
        .describe("A tester may pin this release (gateway.pinning's header or cookie) on every hostname of the app; it needs replicas."),
});

/** The most weight one release may get in a route (weights are relative: 90/10, 9/1 and 1/0 all work). */
export const MAX_ROUTE_WEIGHT = 10000;

export const RouteSchema = z.strictObject({
    hostname: hostname().describe("The hostname these releases share; it is in no release's `hostnames`."),
    releases: z
        .record(z.string(), z.number().int().min(0).max(MAX_ROUTE_WEIGHT))
        .describe('Release name → integer weight ≥ 0, like { "2.0": 90, "2.1": 10 }; at least one above 0. Each request picks a release in proportion.'),
    sticky: z
        .boolean()
        .default(true)
        .describe("The gateway's cookie keeps a client on the release it was sent to while that release has weight above 0."),
});

export const AppSchema = z.strictObject({
    name: name("app name").describe("App name, unique in the stack."),
    zone: name("zone").describe("Zone whose nodes run the app's releases (a key of `networks.zones`)."),
    image: imageRepository().describe("Image repository (no tag); a release runs `image:<tag>`."),
    port: port().default(8000).describe("Port the app listens on in the container; the gateway proxies to it."),
    env: z
        .record(envName(), z.string())
        .default({})
        .describe("Environment of every release."),
    healthcheck: HealthcheckSchema.prefault({}).describe("Container healthcheck: a task gets traffic only when healthy."),
    replicas: z.number().int().min(0).max(1000).default(2).describe("Replicas of each release."),
    endpointMode: z
        .enum(["vip", "dnsrr"])
        .default("vip")
        .describe("`vip` (service VIP, needs IPVS) or `dnsrr` (DNS round robin over the tasks)."),
    publish: z.array(PublishSchema).default([]).describe("Ports published outside the gateway; needs `allowPublishedPorts`."),
    allowPublishedPorts: z
        .boolean()
        .default(false)
        .describe("Published ports bypass the gateway (and, in ingress mode, open on every node): opt in per app."),
    update: UpdatePolicySchema.extend({
        convergeTimeout: seconds(1)
            .max(MAX_CONVERGE_TIMEOUT)
            .optional()
            .describe(
                "Seconds `up` waits for each release's service to converge (its spec applied, every task running and healthy) before it fails; default: batches × (startPeriod + interval × retries + delay) + monitor + 60.",
            ),
    })
        .prefault({})
        .describe("How a release's service is updated, and how long `up` waits for it."),
    rollback: UpdatePolicySchema.extend({
        order: z.enum(["start-first", "stop-first"]).default("stop-first").describe("Start the new task before stopping the old one, or after."),
        // A failing rollback can only pause or continue (Docker and the provider reject "rollback" here).
        failureAction: z.enum(["pause", "continue"]).default("pause").describe("What a failing rollback does: pause or continue."),
    })
        .prefault({})
        .describe("How a failed update is rolled back."),
    stopGracePeriod: seconds(0).default(30).describe("Seconds a stopping task may finish requests; longer than the longest request."),
    resources: resourcesSchema({ cpus: 1, memory: "512m" }),
    readOnlyRootFilesystem: z
        .boolean()
        .default(false)
        .describe("Run the tasks with a read-only root filesystem (the image must not write outside its volumes; the demo app does not)."),
    labels: labels().describe("Extra service labels."),
    build: z
        .strictObject({
            context: oneLine("a build context").min(1).describe("Build context directory."),
            dockerfile: oneLine("a Dockerfile path").min(1).optional().describe("Dockerfile, relative to the context."),
            args: z.record(envName(), z.string()).default({}).describe("Build args; `RELEASE` is set to the release name."),
        })
        .optional()
        .describe("Build `image:<tag>` for each release on the engine running Pulumi (build arg RELEASE=<release name>)."),
    load: z
        .boolean()
        .optional()
        .describe(
            "Copy each release image from the engine running Pulumi into the zone's nodes (docker save | docker load), for built or air-gapped images. Default: true when `build` is set.",
        ),
    releases: z.array(ReleaseSchema).min(1, "an app needs at least one release").describe("The app's releases: one swarm service each."),
    routes: z.array(RouteSchema).default([]).describe("Weighted hostnames of this app: each served by several of its releases in proportion to their weights."),
});

export type AppConfig = StackConfig["apps"][number];
export type ReleaseConfig = AppConfig["releases"][number];

const APP_LABEL = "swarm-platform.app";
const RELEASE_LABEL = "swarm-platform.release";
// Seconds swarm watches a task beyond its healthcheck's own failure time.
const MONITOR_MARGIN = 5;

/** A swarm update or rollback policy. */
export interface PlanUpdatePolicy {
    /** Tasks at once (0 = all). */
    readonly parallelism: number;
    /** Seconds between batches. */
    readonly delay: number;
    readonly order: "start-first" | "stop-first";
    readonly failureAction: "rollback" | "pause" | "continue";
    /** Seconds each new task is watched. */
    readonly monitor: number;
    /** Fraction of tasks that may fail. */
    readonly maxFailureRatio: number;
}

/** One app release: one replicated swarm service. */
export interface PlanRelease {
    /** The app it belongs to. */
    readonly app: string;
    /** The release's name, like `2.0`. */
    readonly name: string;
    /** Swarm service name (a DNS label). */
    readonly service: string;
    /** Zone whose nodes run it. */
    readonly zone: string;
    /** Image reference (tag included). */
    readonly image: string;
    /** Port the app listens on. */
    readonly port: number;
    readonly replicas: number;
    /** App env overlaid with the release's; keys sorted. */
    readonly env: Readonly<Record<string, string>>;
    /** Routed hostnames, sorted. */
    readonly hostnames: readonly string[];
    readonly healthcheck: {
        readonly test: readonly string[];
        readonly interval: number;
        readonly timeout: number;
        readonly retries: number;
        readonly startPeriod: number;
    };
    /** Network names: the zone's overlay, then the gateway network when any release of the app has hostnames. */
    readonly networks: readonly string[];
    readonly constraints: readonly string[];
    readonly endpointMode: "vip" | "dnsrr";
    readonly publish: readonly { target: number; published: number; protocol: "tcp" | "udp"; mode: "ingress" | "host" }[];
    readonly update: PlanUpdatePolicy;
    readonly rollback: PlanUpdatePolicy;
    /** Seconds `up` waits for the service to converge (release-converge) before it fails. */
    readonly convergeTimeout: number;
    /** The health path the gateway probes before the release gains a hostname (the app's healthcheck path). */
    readonly probePath: string;
    /** Seconds a stopping task may finish requests. */
    readonly stopGracePeriod: number;
    /** Limits per task. */
    readonly resources: PlanResources;
    /** The tasks' root filesystem is read-only. */
    readonly readOnlyRootFilesystem: boolean;
    /** Service labels (app and release included); keys sorted. */
    readonly labels: Readonly<Record<string, string>>;
    /** Build the image on the engine running Pulumi before deploying. */
    readonly build?: { readonly context: string; readonly dockerfile?: string; readonly args: Readonly<Record<string, string>> };
    /** Deliver the image into the zone's nodes with docker save | docker load instead of a registry pull. */
    readonly load: boolean;
}

/** One release behind a route: chosen by weight, or only by a tester's pin (weight 0, pinnable). */
export interface PlanRouteBackend {
    /** The release's name. */
    readonly release: string;
    /** The release's service. */
    readonly service: string;
    readonly port: number;
    /** Relative weight as configured (a plain hostname's one release: 100). */
    readonly weight: number;
    /** The weight's share of the route, in percent with one decimal (0 for a pin-only backend). */
    readonly percent: number;
    /** HAProxy server-template slots for this release's service. */
    readonly slots: number;
    /** The release's health path, probed through the gateway before the route gains it. */
    readonly probePath: string;
    /** A tester's pin may send requests of this hostname to it. */
    readonly pinnable: boolean;
}

/** A hostname and the releases serving it. */
export interface PlanRoute {
    readonly hostname: string;
    readonly app: string;
    /** Name of the TLS certificate serving this hostname, if any. */
    readonly tls?: string;
    /** From the app's `routes` (weights), not a release's `hostnames`. */
    readonly weighted: boolean;
    /** Weighted releases (weight 0 included), then the app's other pinnable releases with replicas; by release name. */
    readonly backends: readonly PlanRouteBackend[];
    /** The gateway's cookie keeps a client on its release (only matters with two releases above weight 0). */
    readonly sticky: boolean;
    /** The sticky cookie's name: `gw-release-<app>` (cookies are per hostname in the browser). */
    readonly stickyCookie: string;
}

/** The releases that get requests by weight (weight > 0), by release name. */
export function servingBackends(route: PlanRoute): PlanRouteBackend[] {
    return route.backends.filter((b) => b.weight > 0);
}

/** Every release the gateway may send this hostname's requests to: by weight, or by a pin. */
export function reachableBackends(route: PlanRoute): PlanRouteBackend[] {
    return route.backends.filter((b) => b.weight > 0 || b.pinnable);
}

/** The services some route can send requests to (a weight above 0, or pinnable), sorted. */
export function routedServices(routes: readonly PlanRoute[]): string[] {
    return [...new Set(routes.flatMap((r) => reachableBackends(r).map((b) => b.service)))].sort();
}

/**
 * The nodes the first answer through the gateway needs, sorted: the bootstrap manager, the gateway nodes and every
 * node of a zone a routed release runs in (its service waits for its image on each of them).
 */
export function firstAnswerNodes(
    nodes: readonly { readonly name: string; readonly zone: string; readonly bootstrap: boolean; readonly gateway: boolean }[],
    releases: readonly Pick<PlanRelease, "service" | "zone">[],
    routes: readonly PlanRoute[],
): string[] {
    const routed = new Set(routedServices(routes));
    const zones = new Set(releases.filter((r) => routed.has(r.service)).map((r) => r.zone));
    return nodes.filter((n) => n.bootstrap || n.gateway || zones.has(n.zone)).map((n) => n.name).sort(compare);
}

/** `shop 2.0` or `shop 2.0 90%, 2.1 10%`: a route's releases as the diff and the docs write them. */
export function describeRouteReleases(route: PlanRoute): string {
    const serving = servingBackends(route);
    if (!route.weighted && serving.length === 1) return `${route.app} ${serving[0].release}`;
    return `${route.app} ${route.backends.filter((b) => b.weight > 0 || !b.pinnable).map((b) => `${b.release} ${formatPercent(b.percent)}`).join(", ")}`;
}

export function formatPercent(percent: number): string {
    return `${Number.isInteger(percent) ? percent : percent.toFixed(1)}%`;
}

/** The sticky cookie of an app's weighted hostnames. */
export function stickyCookieOf(app: string): string {
    return `gw-release-${app}`;
}

/** `shop` + `1.9` → `shop-1-9`: a DNS label Docker's resolver answers for. */
export function serviceNameOf(app: Pick<AppConfig, "name">, release: Pick<ReleaseConfig, "name" | "service">): string {
    if (release.service) return release.service;
    const slug = release.name.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "");
    return `${app.name}-${slug}`;
}

/** Seconds swarm watches a task after an update: long enough for the healthcheck to fail. */
export function monitorSeconds(app: AppConfig, policy: "update" | "rollback"): number {
    const hc = app.healthcheck;
    return app[policy].monitor ?? hc.startPeriod + hc.interval * hc.retries + MONITOR_MARGIN;
}

/**
 * Extra tasks that exist at once while swarm applies an update or rollback policy: start-first starts
 * `parallelism` new tasks before stopping old ones, and parallelism 0 means all tasks at once.
 */
export function updateSurge(policy: { readonly order: "start-first" | "stop-first"; readonly parallelism: number }, replicas: number): number {
    if (policy.order !== "start-first") return 0;
    return policy.parallelism === 0 ? Math.max(replicas, 1) : policy.parallelism;
}

/** A release's rolling-update timings, for its convergence timeout (model/converge.ts). */
export function releaseConvergeTimings(app: AppConfig, replicas: number): ConvergeTimings {
    const hc = app.healthcheck;
    const p = app.update.parallelism;
    return {
        batches: p === 0 ? 1 : Math.max(1, Math.ceil(replicas / p)),
        taskReady: hc.startPeriod + hc.interval * hc.retries,
        perBatchExtra: app.update.delay + (app.update.order === "stop-first" ? app.stopGracePeriod : 0),
        monitor: monitorSeconds(app, "update"),
        interval: hc.interval,
    };
}

/** The most hostnames one release, and the whole stack, may route (nginx's server_name hash is sized for them). */
export const MAX_HOSTNAMES_PER_RELEASE = 200;
export const MAX_HOSTNAMES = 500;

export function checkApps(c: StackConfig, report: Report): void {
    const zones = zonesOf(c);
    firstDuplicates(c.apps.map((a) => a.name), (i, j) => report(`apps[${i}].name`, `duplicate app name "${c.apps[i].name}" (also apps[${j}])`));

    const services = new Map<string, string>([[GATEWAY_SERVICE, "the gateway service"]]);
    const hostOwners = new Map<string, string>();
    // Keyed by `<port>/<protocol>`: 53/tcp and 53/udp are two different ports.
    const publishedBy = new Map<string, string>([
        [`${c.gateway.ports.http}/tcp`, "gateway.ports.http"],
        [`${c.gateway.ports.https}/tcp`, "gateway.ports.https"],
    ]);

    c.apps.forEach((app, i) => {
        const at = `apps[${i}]`;
        if (!zones.includes(app.zone)) {
            report(`${at}.zone`, `unknown zone "${app.zone}" (zones: ${listOrNone(zones)})`);
        } else if (app.releases.some((r) => (r.replicas ?? app.replicas) > 0)) {
            const eligible = c.nodes.filter((n) => n.zone === app.zone && effectiveAvailability(c, n) === "active");
            if (eligible.length === 0) {
                const inZone = c.nodes.filter((n) => n.zone === app.zone).map((n) => `${n.name} (${effectiveAvailability(c, n)})`);
                report(`${at}.zone`, `no active node in zone "${app.zone}" can run ${app.name} (nodes in zone: ${listOrNone(inZone)})`);
            }
        }
        const duplicateReleases = new Set<number>();
        firstDuplicates(app.releases.map((r) => r.name), (j, k) => {
            duplicateReleases.add(j);
            report(`${at}.releases[${j}].name`, `duplicate release "${app.releases[j].name}" of ${app.name} (also releases[${k}])`);
        });
        app.releases.forEach((rel, j) => {
            const rat = `${at}.releases[${j}]`;
            const svc = serviceNameOf(app, rel);
            // A duplicate release (already reported) clashes with its twin's derived service name by construction.
            const reportedAsDuplicate = duplicateReleases.has(j) && !rel.service;
            if (svc.length > 63 || !SERVICE_NAME.test(svc)) {
                report(rel.service ? `${rat}.service` : `${rat}.name`, `service name "${svc}" must be a DNS label: lower-case letters, digits and '-', at most 63 characters${rel.service ? "" : " (set service: to choose one)"}`);
            } else if (services.has(svc)) {
                if (!reportedAsDuplicate) report(rel.service ? `${rat}.service` : `${rat}.name`, `service name "${svc}" is also ${services.get(svc)}`);
            } else services.set(svc, `${app.name} release ${rel.name}`);
            if (rel.hostnames.length > MAX_HOSTNAMES_PER_RELEASE) {
                report(`${rat}.hostnames`, `${rel.hostnames.length} hostnames; a release routes at most ${MAX_HOSTNAMES_PER_RELEASE} (use a wildcard like *.example.com)`);
            }
            rel.hostnames.forEach((host, k) => {
                const owner = hostOwners.get(host);
                if (owner) report(`${rat}.hostnames[${k}]`, `"${host}" is already served by ${owner}; a hostname belongs to exactly one release`);
                else hostOwners.set(host, rat);
            });
        });
        checkRoutes(app, at, hostOwners, report);
        checkPublish(app, at, publishedBy, report);
        checkUpdatePolicy(app, at, report);
    });
    const total = c.apps.reduce((n, a) => n + a.routes.length + a.releases.reduce((m, r) => m + r.hostnames.length, 0), 0);
    if (total > MAX_HOSTNAMES) report("apps", `${total} hostnames in all; the gateway routes at most ${MAX_HOSTNAMES} (use wildcards like *.example.com)`);
}

/** Weighted routes: a hostname in one place only, every weighted release of this app and running, one weight above 0. */
function checkRoutes(app: AppConfig, at: string, hostOwners: Map<string, string>, report: Report): void {
    const releaseNames = app.releases.map((r) => r.name);
    app.routes.forEach((route, k) => {
        const rat = `${at}.routes[${k}]`;
        const owner = hostOwners.get(route.hostname);
        if (owner) {
            report(`${rat}.hostname`, `"${route.hostname}" is already served by ${owner}; a hostname is in one place only: one release's hostnames or one app's routes`);
        } else hostOwners.set(route.hostname, rat);
        const weights = Object.entries(route.releases);
        if (!weights.some(([, w]) => w > 0)) {
            report(`${rat}.releases`, weights.length ? "every weight is 0: at least one release needs a weight above 0" : "names no release: give at least one release a weight above 0");
        }
        for (const [release] of weights) {
            const rel = app.releases.find((r) => r.name === release);
            if (!rel) report(`${rat}.releases[${release}]`, `no release "${release}" in app ${app.name} (releases: ${listOrNone(releaseNames)})`);
            else if ((rel.replicas ?? app.replicas) === 0) report(`${rat}.releases[${release}]`, `release "${release}" of ${app.name} has 0 replicas: a weighted release needs replicas > 0`);
        }
    });
}

function checkPublish(app: AppConfig, at: string, publishedBy: Map<string, string>, report: Report): void {
    app.publish.forEach((p, k) => {
        const path = `${at}.publish[${k}]`;
        if (!app.allowPublishedPorts) {
            report(path, `published ports bypass the gateway and its zone isolation; set ${at}.allowPublishedPorts: true to allow`);
        }
        if (p.mode === "ingress" && app.endpointMode === "dnsrr") report(`${path}.mode`, "ingress-published ports need endpointMode: vip (dnsrr has no routing mesh)");
        const key = `${p.published}/${p.protocol}`;
        const other = publishedBy.get(key);
        if (other) report(`${path}.published`, `port ${key} is already published by ${other}`);
        else publishedBy.set(key, path);
    });
}

function checkUpdatePolicy(app: AppConfig, at: string, report: Report): void {
    const timeout = app.update.convergeTimeout;
    if (timeout !== undefined) {
        const t = releaseConvergeTimings(app, 1);
        const least = convergeTimeoutFloor(t);
        if (timeout < least) {
            report(
                `${at}.update.convergeTimeout`,
                `${timeout}s is shorter than a healthy update takes at least: update monitor ${t.monitor}s + healthcheck interval ${t.interval}s = ${least}s; \`up\` would fail on every change`,
            );
        }
    }
    const floor = app.healthcheck.startPeriod + app.healthcheck.interval * app.healthcheck.retries;
    for (const key of ["update", "rollback"] as const) {
        const monitor = app[key].monitor;
        if (monitor !== undefined && monitor < floor) {
            report(`${at}.${key}.monitor`, `${monitor}s is shorter than healthcheck startPeriod + interval × retries = ${floor}s; failures would go unnoticed`);
        }
    }
}

function updatePolicy(app: AppConfig, which: "update" | "rollback"): PlanUpdatePolicy {
    const p = app[which];
    return {
        parallelism: p.parallelism,
        delay: p.delay,
        order: p.order,
        failureAction: p.failureAction,
        monitor: monitorSeconds(app, which),
        maxFailureRatio: p.maxFailureRatio,
    };
}

function planAppReleases(c: StackConfig, app: AppConfig): PlanRelease[] {
    const hc = app.healthcheck;
    // curl, or wget where the image has no curl (busybox/alpine); the path is URL characters only (schema).
    const url = `http://127.0.0.1:${app.port}${hc.path}`;
    const test = hc.test ?? ["CMD-SHELL", `curl -fsS -o /dev/null ${url} || wget -q -O /dev/null ${url}`];
    // Every release of a routed app joins the gateway network, so moving its last hostname away (or back) changes
    // only routes: networks of a swarm service cannot change in place (the service would be replaced).
    const routed = app.routes.length > 0 || app.releases.some((r) => r.hostnames.length > 0);
    return app.releases.map((rel) => ({
        app: app.name,
        name: rel.name,
        service: serviceNameOf(app, rel),
        zone: app.zone,
        image: rel.image ?? `${app.image}:${rel.tag ?? rel.name}`,
        port: app.port,
        replicas: rel.replicas ?? app.replicas,
        env: sortedRecord({ ...app.env, ...rel.env }),
        hostnames: [...rel.hostnames].sort(compare),
        healthcheck: { test, interval: hc.interval, timeout: hc.timeout, retries: hc.retries, startPeriod: hc.startPeriod },
        networks: [overlayNameOf(c, app.zone), ...(routed ? [c.networks.gateway.name] : [])],
        constraints: [`node.labels.zone==${app.zone}`],
        endpointMode: app.endpointMode,
        publish: app.publish.map((p) => ({ ...p })),
        update: updatePolicy(app, "update"),
        rollback: updatePolicy(app, "rollback"),
        convergeTimeout: app.update.convergeTimeout ?? defaultConvergeTimeout(releaseConvergeTimings(app, rel.replicas ?? app.replicas)),
        probePath: hc.path,
        stopGracePeriod: app.stopGracePeriod,
        resources: planResources(app.resources),
        readOnlyRootFilesystem: app.readOnlyRootFilesystem,
        labels: sortedRecord({ ...app.labels, [APP_LABEL]: app.name, [RELEASE_LABEL]: rel.name }),
        ...(app.build
            ? {
                  build: {
                      context: app.build.context,
                      ...(app.build.dockerfile ? { dockerfile: app.build.dockerfile } : {}),
                      args: sortedRecord({ ...app.build.args, RELEASE: rel.name }),
                  },
              }
            : {}),
        load: app.load ?? app.build !== undefined,
    }));
}

/** Every release of every app, by service name. */
export function planReleases(c: StackConfig): PlanRelease[] {
    return c.apps.flatMap((app) => planAppReleases(c, app)).sort((a, b) => compare(a.service, b.service));
}

/** One route per hostname, by hostname: a release's hostnames (that release at 100%) and the apps' weighted routes. */
export function planRoutes(c: StackConfig, releases: readonly PlanRelease[], tls: readonly PlanTlsCertificate[]): PlanRoute[] {
    const routes = c.apps.flatMap((app) => {
        const ofApp = releases.filter((r) => r.app === app.name);
        const pinnable = new Set(app.releases.filter((r) => r.pinnable).map((r) => r.name));
        const backend = (r: PlanRelease, weight: number, total: number): PlanRouteBackend => {
            const surge = Math.max(updateSurge(r.update, r.replicas), updateSurge(r.rollback, r.replicas));
            return {
                release: r.name,
                service: r.service,
                port: r.port,
                weight,
                percent: total > 0 ? Math.round((weight * 1000) / total) / 10 : 0,
                slots: c.gateway.serverSlots ?? Math.max(10, 2 * (r.replicas + surge)),
                probePath: r.probePath,
                pinnable: pinnable.has(r.name),
            };
        };
        // Pinnable releases with replicas are reachable on every hostname of the app (weight 0 where not weighted).
        const route = (hostname: string, weighted: boolean, weights: ReadonlyMap<string, number>, sticky: boolean): PlanRoute => {
            const total = [...weights.values()].reduce((n, w) => n + w, 0);
            const backends = ofApp
                .filter((r) => weights.has(r.name) || (pinnable.has(r.name) && r.replicas > 0))
                .map((r) => backend(r, weights.get(r.name) ?? 0, total))
                .sort((a, b) => compare(a.release, b.release));
            const cert = tls.find((t) => t.hostnames.includes(hostname));
            return { hostname, app: app.name, ...(cert ? { tls: cert.name } : {}), weighted, backends, sticky, stickyCookie: stickyCookieOf(app.name) };
        };
        return [
            ...ofApp.flatMap((r) => r.hostnames.map((hostname) => route(hostname, false, new Map([[r.name, 100]]), true))),
            ...app.routes.map((r) => route(r.hostname, true, new Map(Object.entries(r.releases)), r.sticky)),
        ];
    });
    return routes.sort((a, b) => compare(a.hostname, b.hostname));
}
