// Plan → text artifacts, through the mustache templates under templates/. Pure: reads templates, writes nothing.
// TypeScript only builds view objects; every line of config or script text comes from a template file.
import * as fs from "node:fs";
import * as path from "node:path";
import Mustache from "mustache";
import type { Plan, PlanRoute, PlanVrrp, PlanVrrpGroup, PlanVrrpMember } from "./plan";

/** Node scripts under templates/scripts/<name>.sh; their env contract is documented at the top of each file. */
export type NodeScript =
    | "node-bootstrap"
    | "node-ready"
    | "swarm-init"
    | "swarm-join"
    | "swarm-leave"
    | "node-membership"
    | "node-remove"
    | "ingress-remove"
    | "keepalived-apply"
    | "keepalived-stop"
    | "gateway-routes-apply";

export const NODE_SCRIPTS: readonly NodeScript[] = [
    "node-bootstrap",
    "node-ready",
    "swarm-init",
    "swarm-join",
    "swarm-leave",
    "node-membership",
    "node-remove",
    "ingress-remove",
    "keepalived-apply",
    "keepalived-stop",
    "gateway-routes-apply",
];

export interface Artifact {
    /** Relative path in the render output dir, e.g. `nodes/gw-1/keepalived.conf`. */
    readonly path: string;
    readonly content: string;
    /** File mode, e.g. 0o755 for scripts. */
    readonly mode?: number;
}

export interface GatewayFiles {
    /** Static engine config baked into the image: `nginx.conf` or `haproxy.cfg`. */
    readonly main: { readonly name: string; readonly content: string };
    /** Routes file written to `plan.gateway.routesDir` on every gateway node and reloaded in place. */
    readonly routes: { readonly name: string; readonly content: string };
    /** The entrypoint wrapper baked into the image (drain on stop). */
    readonly entrypoint: { readonly name: string; readonly content: string };
    readonly dockerfile: string;
}

export const TEMPLATES_DIR = path.resolve(__dirname, "..", "templates");

/** Where keepalived-apply installs the rendered files on a gateway node. */
export const KEEPALIVED_PATHS = {
    conf: "/etc/keepalived/keepalived.conf",
    check: "/etc/keepalived/check_gateway.sh",
    notify: "/etc/keepalived/notify.sh",
    /** notify.sh records each instance's state in `<stateDir>/<instance>.state`. */
    stateDir: "/run/keepalived",
} as const;

/** Per engine: file names, where the main config goes in the image, and the signals the entrypoint uses. */
export const GATEWAY_ENGINES = {
    nginx: { main: "nginx.conf", mainPath: "/etc/nginx/nginx.conf", routes: "routes.conf", reloadSignal: "HUP", stopSignal: "QUIT" },
    haproxy: {
        main: "haproxy.cfg",
        mainPath: "/usr/local/etc/haproxy/haproxy.cfg",
        routes: "routes.cfg",
        reloadSignal: "USR2",
        stopSignal: "USR1",
    },
} as const;

/** Stands in for the VRRP password in `npm run render` output (8 characters, like a real one). */
export const AUTH_PASS_PLACEHOLDER = "RENDERED";

const ENTRYPOINT_NAME = "entrypoint.sh";
const STOP_MARGIN_SECONDS = 2;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const RESERVED_ENV = new Set(["NODE_NAME", "SP_BODY_OFFSET"]);
// keepalived's parser ends a word at blanks, starts a comment at an unquoted '#' or '!', and treats '"' and '\'
// specially: a password with any of them would be cut silently (a split brain between nodes that differ).
const AUTH_PASS = /^[\x21-\x7e]{1,8}$/;
const AUTH_PASS_FORBIDDEN = /["#!\\]/;
// Values interpolated inside single-quoted shell strings in the rendered scripts.
const SHELL_SAFE = /^[A-Za-z0-9._~:/?=&%+@,-]*$/;

// ---- templates ------------------------------------------------------------------------------

const templateCache = new Map<string, string>();

function readTemplate(rel: string): string {
    let text = templateCache.get(rel);
    if (text === undefined) {
        text = fs.readFileSync(path.join(TEMPLATES_DIR, rel), "utf8");
        templateCache.set(rel, text);
    }
    return text;
}

/** `{{x}}` inserts the value as is (no HTML escaping) but refuses a line break, so one value cannot add config lines. */
function singleLine(value: unknown): string {
    const text = String(value);
    if (/[\r\n\0]/.test(text)) throw new Error(`template value ${JSON.stringify(text)} contains a line break or NUL`);
    return text;
}

function renderTemplate(rel: string, view: object): string {
    return Mustache.render(readTemplate(rel), view, {}, { escape: singleLine });
}

// ---- keepalived -------------------------------------------------------------------------------

function requireVrrp(plan: Plan): PlanVrrp {
    if (!plan.vrrp) throw new Error("the plan has no virtual IP (virtualIp is not configured): there is no keepalived config to render");
    return plan.vrrp;
}

function checkedAuthPass(authPass: string | undefined): string {
    if (authPass === undefined || authPass === "") throw new Error("VRRP authentication is on but no password was given (secrets.authPass)");
    if (!AUTH_PASS.test(authPass) || AUTH_PASS_FORBIDDEN.test(authPass)) {
        throw new Error(
            `the VRRP password must be 1-8 printable ASCII characters without blanks, '"', '#', '!' or '\\' (got ${authPass.length} characters); ` +
                "keepalived would cut it silently",
        );
    }
    return authPass;
}

interface Membership {
    readonly group: PlanVrrpGroup;
    readonly member: PlanVrrpMember;
}

function membershipsOf(vrrp: PlanVrrp, node: string): Membership[] {
    const found = vrrp.groups.flatMap((group) => group.members.filter((m) => m.node === node).map((member) => ({ group, member })));
    if (found.length === 0) {
        const members = [...new Set(vrrp.groups.flatMap((g) => g.members.map((m) => m.node)))];
        throw new Error(`node "${node}" is in no VRRP group (members: ${members.join(", ") || "none"})`);
    }
    return found;
}

function instanceView(vrrp: PlanVrrp, { group, member }: Membership, authPass: string | undefined) {
    return {
        name: group.name,
        interface: vrrp.interface,
        virtualRouterId: group.virtualRouterId,
        priority: member.priority,
        advertInt: vrrp.advertInt,
        nopreempt: !vrrp.preempt,
        preemptDelay: vrrp.preempt && vrrp.preemptDelay ? { seconds: vrrp.preemptDelay } : false,
        unicast: vrrp.transport === "unicast" ? { src: member.address, hasPeers: member.peers.length > 0, peers: member.peers } : false,
        auth: authPass !== undefined ? { pass: authPass } : false,
        vip: { address: group.address, prefix: vrrp.prefix },
        garpMasterDelay: vrrp.garpMasterDelay,
        notifyPath: KEEPALIVED_PATHS.notify,
    };
}

export function renderKeepalivedConf(plan: Plan, node: string, secrets: { authPass?: string }): string {
    const vrrp = requireVrrp(plan);
    const memberships = membershipsOf(vrrp, node);
    const authPass = vrrp.authentication ? checkedAuthPass(secrets.authPass) : undefined;
    const hc = vrrp.healthCheck;
    return renderTemplate("keepalived/keepalived.conf.mustache", {
        node,
        scriptUser: vrrp.scriptUser,
        version3: vrrp.version === 3,
        check: { path: KEEPALIVED_PATHS.check, interval: hc.interval, timeout: hc.timeout, fall: hc.fall, rise: hc.rise },
        instances: memberships.map((m) => instanceView(vrrp, m, authPass)),
    });
}

function shellSafe(what: string, value: string): string {
    if (!SHELL_SAFE.test(value)) throw new Error(`${what} ${JSON.stringify(value)} has characters that are not safe in a generated script`);
    return value;
}

export function renderKeepalivedScripts(plan: Plan): { check: string; notify: string } {
    const vrrp = requireVrrp(plan);
    return {
        check: renderTemplate("keepalived/check_gateway.sh.mustache", {
            stateDir: shellSafe("gateway.stateDir", plan.gateway.stateDir),
            url: shellSafe("the health check URL", vrrp.healthCheck.url),
            timeout: vrrp.healthCheck.timeout,
        }),
        notify: renderTemplate("keepalived/notify.sh.mustache", { stateDir: KEEPALIVED_PATHS.stateDir }),
    };
}

// ---- gateway ------------------------------------------------------------------------------------

const SIZE_UNITS: Readonly<Record<string, number>> = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** nginx size (`10m`) → bytes, for HAProxy's body-size rule. */
function sizeInBytes(size: string): number {
    const m = /^(\d+)([kmg]?)$/.exec(size.toLowerCase());
    if (!m) throw new Error(`gateway.clientMaxBodySize "${size}" is not a size like 10m`);
    return Number(m[1]) * SIZE_UNITS[m[2]];
}

function routeFor(plan: Plan, hostname: string): PlanRoute {
    const route = plan.routes.find((r) => r.hostname === hostname);
    if (!route) throw new Error(`gateway.defaultHost "${hostname}" is not a routed hostname`);
    return route;
}

/** HAProxy matches exact hostnames before wildcards (`*.example.com`), longer suffixes first, like nginx. */
function hostRule(route: PlanRoute) {
    const wildcard = route.hostname.startsWith("*.");
    return {
        backend: backendName(route.service),
        match: wildcard ? "end" : "str",
        pattern: wildcard ? route.hostname.slice(1) : route.hostname,
        wildcard,
    };
}

function hostRules(routes: readonly PlanRoute[]) {
    const rules = routes.map(hostRule);
    const exact = rules.filter((r) => !r.wildcard);
    const wildcards = rules.filter((r) => r.wildcard).sort((a, b) => b.pattern.length - a.pattern.length);
    return [...exact, ...wildcards];
}

function backendName(service: string): string {
    return `svc.${service}`;
}

/** One HAProxy backend per routed service (several hostnames may share it). */
function backends(routes: readonly PlanRoute[]) {
    const byService = new Map<string, PlanRoute>();
    for (const r of routes) if (!byService.has(r.service)) byService.set(r.service, r);
    return [...byService.values()]
        .sort((a, b) => (a.service < b.service ? -1 : a.service > b.service ? 1 : 0))
        .map((r) => ({ name: backendName(r.service), service: r.service, port: r.port, slots: r.slots, app: r.app, release: r.release }));
}

function tlsServers(plan: Plan) {
    return plan.routes
        .filter((r) => r.tls !== undefined)
        .map((r) => {
            const cert = plan.gateway.tls.find((t) => t.name === r.tls);
            if (!cert) throw new Error(`route ${r.hostname}: unknown TLS certificate "${r.tls}"`);
            return { ...r, certificate: cert.name, certificatePath: cert.certificatePath, keyPath: cert.keyPath };
        });
}

function gatewayView(plan: Plan) {
    const gw = plan.gateway;
    const engine = GATEWAY_ENGINES[gw.engine];
    const tlsRoutes = plan.routes.filter((r) => r.tls !== undefined);
    const defaultRoute = gw.defaultHost === "reject" ? false : routeFor(plan, gw.defaultHost);
    return {
        engine: gw.engine,
        nginx: gw.engine === "nginx",
        haproxy: gw.engine === "haproxy",
        baseImage: gw.baseImage,
        mainName: engine.main,
        mainPath: engine.mainPath,
        routesDir: gw.routesDir,
        routesPath: path.posix.join(gw.routesDir, engine.routes),
        stateDir: shellSafe("gateway.stateDir", gw.stateDir),
        drainSeconds: gw.drainSeconds,
        reloadSignal: engine.reloadSignal,
        stopSignal: engine.stopSignal,
        // A graceful stop gets what is left of the grace period after draining, less a margin before SIGKILL.
        stopTimeout: Math.max(1, gw.stopGracePeriod - gw.drainSeconds - STOP_MARGIN_SECONDS),
        http: gw.ports.http,
        https: gw.ports.https,
        healthPath: gw.healthPath,
        resolverValid: gw.resolverValid,
        clientMaxBodySize: gw.clientMaxBodySize,
        maxBodyBytes: sizeInBytes(gw.clientMaxBodySize),
        timeouts: { ...gw.timeouts, idle: Math.max(gw.timeouts.read, gw.timeouts.send) },
        hasTls: gw.tls.length > 0,
        defaultRoute,
        defaultBackend: defaultRoute ? backendName(defaultRoute.service) : "reject",
        servers: plan.routes,
        tlsServers: tlsServers(plan),
        certificates: gw.tls.map((t) => t.certificatePath),
        hostRules: hostRules(plan.routes),
        tlsHostRules: hostRules(tlsRoutes),
        backends: backends(plan.routes),
    };
}

export function renderGatewayFiles(plan: Plan): GatewayFiles {
    const view = gatewayView(plan);
    const engine = GATEWAY_ENGINES[plan.gateway.engine];
    const dir = plan.gateway.engine;
    return {
        main: { name: engine.main, content: renderTemplate(`${dir}/${engine.main}.mustache`, view) },
        routes: { name: engine.routes, content: renderTemplate(`${dir}/${engine.routes}.mustache`, view) },
        entrypoint: { name: ENTRYPOINT_NAME, content: renderTemplate("gateway/entrypoint.sh.mustache", view) },
        dockerfile: renderTemplate("gateway/Dockerfile.mustache", view),
    };
}

// ---- DNS ------------------------------------------------------------------------------------------


export function renderZoneFile(plan: Plan): string {
    return renderTemplate("zone.mustache", {
        ttl: plan.dnsTtl,
        records: plan.dns,
    });
}

// ---- node scripts ----------------------------------------------------------------------------------

function base64(value: string): string {
    return Buffer.from(value, "utf8").toString("base64");
}

function envEntries(env: Readonly<Record<string, string>>) {
    return Object.keys(env)
        .sort()
        .map((name) => {
            if (!ENV_NAME.test(name)) throw new Error(`env name "${name}" is not a shell identifier`);
            if (RESERVED_ENV.has(name)) throw new Error(`env name "${name}" is set by the envelope itself`);
            const value = env[name];
            if (typeof value !== "string") throw new Error(`env ${name} must be a string (got ${typeof value})`);
            return { name, base64: base64(value) };
        });
}

/**
 * A `bash -s` payload: the envelope (NODE_NAME and env exported from base64, an ERR trap naming the node and
 * the script) around `body`. `script` is only used in messages.
 */
export function renderEnvelope(
    script: string,
    body: string,
    ctx: { node: string; env?: Readonly<Record<string, string>> },
    libs: readonly string[] = [],
): string {
    return renderTemplate("scripts/envelope.sh.mustache", {
        script,
        node: ctx.node,
        nodeBase64: base64(ctx.node),
        env: envEntries(ctx.env ?? {}),
        // Before the body's line offset, so error line numbers still count from the script's first line.
        libs: libs.map((l) => l.replace(/\n$/, "")),
        body: body.replace(/\n$/, ""),
    });
}

/** Shared function libraries (templates/scripts/lib/<name>.sh) a node script needs, sent ahead of it. */
const SCRIPT_LIBS: Partial<Record<NodeScript, readonly string[]>> = {
    "keepalived-apply": ["keepalived"],
    "keepalived-stop": ["keepalived"],
};

export function nodeScriptLibs(name: NodeScript): string[] {
    return (SCRIPT_LIBS[name] ?? []).map((lib) => readTemplate(`scripts/lib/${lib}.sh`));
}

/** The script body (templates/scripts/<name>.sh) without the envelope. */
export function nodeScriptBody(name: NodeScript): string {
    if (!NODE_SCRIPTS.includes(name)) throw new Error(`unknown node script "${name}" (known: ${NODE_SCRIPTS.join(", ")})`);
    return readTemplate(`scripts/${name}.sh`);
}

/** The full stdin payload for `bash -s` on a node: envelope (node name, env decoded from base64, ERR trap) + the script. */
export function renderNodeScript(name: NodeScript, ctx: { node: string; env?: Readonly<Record<string, string>> }): string {
    return renderEnvelope(name, nodeScriptBody(name), ctx, nodeScriptLibs(name));
}

// ---- everything, for `npm run render` ----------------------------------------------------------------

function keepalivedArtifacts(plan: Plan): Artifact[] {
    if (!plan.vrrp) return [];
    const scripts = renderKeepalivedScripts(plan);
    const members = [...new Set(plan.vrrp.groups.flatMap((g) => g.members.map((m) => m.node)))];
    const secrets = plan.vrrp.authentication ? { authPass: AUTH_PASS_PLACEHOLDER } : {};
    // keepalived.conf differs per node (priority, peers); the check and notify scripts are the same everywhere.
    return [
        ...members.map((node) => ({ path: `nodes/${node}/keepalived.conf`, content: renderKeepalivedConf(plan, node, secrets), mode: 0o600 })),
        { path: "keepalived/check_gateway.sh", content: scripts.check, mode: 0o755 },
        { path: "keepalived/notify.sh", content: scripts.notify, mode: 0o755 },
    ];
}

function gatewayArtifacts(plan: Plan): Artifact[] {
    const files = renderGatewayFiles(plan);
    return [
        { path: "gateway/Dockerfile", content: files.dockerfile, mode: 0o644 },
        { path: `gateway/${files.main.name}`, content: files.main.content, mode: 0o644 },
        { path: `gateway/${files.entrypoint.name}`, content: files.entrypoint.content, mode: 0o755 },
        { path: `gateway/${files.routes.name}`, content: files.routes.content, mode: 0o644 },
    ];
}

/** Everything `npm run render` writes, sorted by path. Secrets are replaced by placeholders. */
export function renderAll(plan: Plan): Artifact[] {
    const artifacts: Artifact[] = [
        { path: "plan.json", content: `${JSON.stringify(plan, null, 2)}\n`, mode: 0o644 },
        { path: "dns/records.json", content: `${JSON.stringify(plan.dns, null, 2)}\n`, mode: 0o644 },
        { path: "dns/zone.db", content: renderZoneFile(plan), mode: 0o644 },
        ...gatewayArtifacts(plan),
        ...keepalivedArtifacts(plan),
        ...NODE_SCRIPTS.map((name) => ({ path: `scripts/${name}.sh`, content: nodeScriptBody(name), mode: 0o755 })),
        ...[...new Set(Object.values(SCRIPT_LIBS).flat())].map((lib) => ({
            path: `scripts/lib/${lib}.sh`,
            content: readTemplate(`scripts/lib/${lib}.sh`),
            mode: 0o644,
        })),
    ];
    return artifacts.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
