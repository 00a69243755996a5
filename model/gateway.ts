// Gateway: nginx or HAProxy on every gateway node, routing by Host to releases through Docker DNS. Schema fragment,
// cross-key rules, plan slice (engine facts, drain and stop timings, update policy) and the image/routes renderers.
import * as path from "node:path";
import { z } from "zod";
import { cidr, HOSTNAME, hostname, image, imageRepository, name, port, registryServer, secretRef, seconds } from "./fields";
import type { PlanNode } from "./nodes";
import { type PlanResources, planResources, resourcesSchema } from "./resources";
import { type ConvergeTimings, convergeTimeoutFloor, defaultConvergeTimeout, MAX_CONVERGE_TIMEOUT } from "./converge";
import { compare } from "./order";
import { type PlanRoute, type PlanRouteBackend, type PlanUpdatePolicy, reachableBackends, servingBackends, stickyCookieOf, updateSurge } from "./releases";
import type { StackConfig } from "./schema";
import { type Artifact, readTemplate, renderTemplate, shellSafe } from "./templates";
import { drainSecondsOf, type PlanVirtualIp } from "./virtual-ip";
import { firstDuplicates, type Report } from "./validation";
import { metricsExporterScript, metricsRoutesLines, type PlanMetrics, planMetrics } from "./metrics";

// 1 byte to 999999g: nginx's client_max_body_size and HAProxy's byte count both read it (0, which nginx takes
// as "no limit" and HAProxy as "no body", is refused: the engines would differ).
const SIZE = /^[1-9][0-9]{0,5}[kmg]?$/;
// A pin header and cookie land in nginx variable names and regexes and in HAProxy sample fetches: plain tokens only.
const PIN_HEADER = /^[A-Za-z0-9][A-Za-z0-9-]{0,63}$/;
const COOKIE_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

const TlsCertificateSchema = z.strictObject({
    name: name("TLS certificate name").describe("Names the certificate's swarm secrets and files (`/run/secrets/<name>.crt`); keep it stable (`tls-<index>` were the names before names were required)."),
    hostnames: z.array(hostname()).min(1).describe("Hostnames this certificate serves; each must be served by a release."),
    certificateSecret: secretRef().describe("Config key of the secret holding the PEM certificate chain."),
    keySecret: secretRef().describe("Config key of the secret holding the PEM private key."),
});

export const GatewaySchema = z
    .strictObject({
        engine: z.enum(["nginx", "haproxy"]).default("nginx").describe("The reverse proxy: `nginx`, or `haproxy` (per-task health checks)."),
        baseImage: image().optional().describe("Base image; defaults per engine."),
        image: imageRepository().default("swarm-platform/gateway").describe("Name (without tag) of the gateway image this program builds."),
        delivery: z
            .enum(["load", "registry"])
            .default("load")
            .describe("How the image reaches the nodes: `load` (docker save | docker load, air-gapped) or `registry` (push/pull)."),
        registry: z
            .strictObject({
                server: registryServer().describe("Registry host[:port]."),
                username: z.string().regex(/^\S{1,255}$/, "a registry user name: no blanks, at most 255 characters").describe("Registry user."),
                passwordSecret: secretRef().describe("Config key of the secret holding the registry password."),
            })
            .optional()
            .describe("The registry for `delivery: registry`."),
        ports: z
            .strictObject({
                http: port().default(80).describe("HTTP port published in host mode on the gateway nodes."),
                https: port().default(443).describe("HTTPS port published in host mode on the gateway nodes."),
            })
            .prefault({})
            .describe("Ports of the gateway."),
        tls: z.array(TlsCertificateSchema).default([]).describe("TLS certificates; a hostname has at most one."),
        defaultHost: z
            .string()
            .regex(HOSTNAME, 'must be "reject" or a lower-case DNS name')
            .default("reject")
            .describe("What an unknown or missing Host gets: `reject` closes the connection (nginx 444), or a hostname to serve instead."),
        clientMaxBodySize: z
            .string()
            .regex(SIZE, "a size like 10m: 1 to 999999 bytes, k, m or g")
            .default("10m")
            .describe("Largest request body, like `10m` (413 above it; HAProxy checks Content-Length only, see docs/gateway.md)."),
        clientTimeouts: z
            .strictObject({
                header: seconds(1).default(10).describe("Seconds a client has to send the whole request header (slow clients are cut off)."),
                idle: seconds(1).default(60).describe("Seconds a client may stay silent while sending the body or receiving the answer."),
                keepAlive: seconds(1).default(15).describe("Seconds an idle keep-alive connection stays open for the next request."),
            })
            .prefault({})
            .describe("Client-side timeouts, the same on both engines."),
        httpsRedirect: z
            .boolean()
            .default(true)
            .describe("TLS hostnames answer plain HTTP with a 308 redirect to HTTPS; false serves them on both ports."),
        hsts: z
            .union([
                z.literal(false),
                z.strictObject({
                    maxAge: z.number().int().min(0).max(63072000).default(31536000).describe("Seconds browsers remember to use HTTPS only."),
                    includeSubDomains: z.boolean().default(false).describe("Also every subdomain of the hostname."),
                    preload: z.boolean().default(false).describe("Ask to be put on the browsers' preload list (needs includeSubDomains and maxAge ≥ 31536000)."),
                }),
            ])
            .prefault({})
            .describe("Strict-Transport-Security on HTTPS answers of TLS hostnames (replaces a backend's); `false` sends none."),
        trustedProxies: z
            .array(cidr())
            .default([])
            .describe("Networks of proxies in front of the gateway whose forwarding headers are kept (X-Forwarded-For appended to); from anyone else they are replaced."),
        timeouts: z
            .strictObject({
                connect: seconds(0.05)
                    .default(0.2)
                    .describe(
                        "Seconds to connect to a backend (from 0.05; rendered in milliseconds); then the request is retried on another task. A task on a lost node black-holes its connections until swarm drops it from DNS, and a request sent to it waits this long before its retry: on an overlay a connection is accepted in well under a millisecond, so the default 0.2 s is a lost SYN, not a slow task (the kernel's own resend comes only after 1 s).",
                    ),
                read: seconds(1).default(60).describe("Seconds between two reads from a backend."),
                send: seconds(1).default(60).describe("Seconds between two writes to a backend."),
            })
            .prefault({})
            .describe("Backend timeouts."),
        resolverValid: z
            .number()
            .int()
            .min(1)
            .max(600)
            .default(1)
            .describe(
                "Seconds the gateway keeps a Docker DNS answer (nginx's cache; HAProxy's interval between resolutions). Keep it under the time a release's tasks keep serving after SIGTERM: a stopping task leaves DNS first, and the gateway must stop sending to it before it stops.",
            ),
        pinning: z
            .strictObject({
                header: z
                    .string()
                    .regex(PIN_HEADER, "a header name: letters, digits and '-' (no '_': nginx drops such headers), at most 64")
                    .default("X-Release")
                    .describe("Request header naming the release a tester pins (its value: a release name, like 2.1)."),
                cookie: z
                    .string()
                    .regex(COOKIE_NAME, "a cookie name: letters, digits, '_' and '-', at most 64")
                    .default("gw-release-pin")
                    .describe("Cookie naming the pinned release when the header is absent."),
                trustedNetworks: z
                    .array(cidr())
                    .default([])
                    .describe("Source networks a pin is accepted from; empty: from anywhere."),
            })
            .prefault({})
            .describe("Testers pin a release declared `pinnable` (header, else cookie) on every hostname of its app; any other pin is ignored."),
        releaseHeader: z
            .boolean()
            .default(true)
            .describe("Every routed answer carries `X-Served-By-Release: <app>/<release>`; false hides which release served (`npm run status` then checks answers only)."),
        stickySeconds: z
            .number()
            .int()
            .min(1)
            .max(31536000)
            .default(86400)
            .describe("Max-Age of the sticky cookie that keeps a client on the release a weighted hostname sent it to."),
        serverSlots: z
            .number()
            .int()
            .min(1)
            .max(1000)
            .optional()
            .describe("HAProxy server-template slots per release; must hold replicas + update surge. Default: max(10, 2 × that)."),
        resources: resourcesSchema({ cpus: 1, memory: "256m" }),
        readOnlyRootFilesystem: z
            .boolean()
            .default(true)
            .describe("Run the gateway with a read-only root filesystem; the engine's run, temp and cache dirs are tmpfs."),
        stopGracePeriod: seconds(0)
            .default(30)
            .describe("Seconds a stopping gateway may finish requests; raised to the VIP drain time + 10 when shorter."),
        update: z
            .strictObject({
                convergeTimeout: seconds(1)
                    .max(MAX_CONVERGE_TIMEOUT)
                    .optional()
                    .describe(
                        "Seconds `up` waits for the gateway service to converge (its spec applied, a healthy task on every gateway node) before it fails; default: gateway nodes × (stop grace period + the image's healthcheck time + update delay) + monitor + 60.",
                    ),
            })
            .prefault({})
            .describe("How long `up` waits for the gateway's rolling update (the policy itself is derived: stop-first, one node at a time)."),
    })
    .prefault({})
    .describe("The gateway: reverse proxy on the gateway nodes, routing hostnames to releases.");

export type GatewayConfig = StackConfig["gateway"];

/** The gateway's swarm service name. */
export const GATEWAY_SERVICE = "gateway";
/** Where the routes file lives on each gateway node (bind-mounted into the gateway, so routes reload in place). */
export const GATEWAY_ROUTES_DIR = "/etc/swarm-gateway";
/** Host dir shared by the gateway and keepalived's check: a `draining` file there moves the VIP away.
 *  Not under /run: swarm bind mounts need the source to exist, and /run is emptied by a reboot. */
export const GATEWAY_STATE_DIR = "/var/lib/swarm-gateway";
/** The routes file's sidecar next to it: `hostname service port probe-path app/release` per served route, so
 *  the routes step knows which releases gain a hostname on the node (and probes them first). */
export const GATEWAY_SERVED_FILE = "routes.served";
/**
 * The gateway image's HEALTHCHECK (Dockerfile.mustache): seconds, and failed probes before unhealthy. Docker 20.10
 * has no start_interval and probes first one interval after the start: a 1 s interval makes a new gateway task
 * healthy (and `up` done) about 4 s sooner than 5 s did. The probe is one curl on the health socket, what keepalived's
 * check already runs there every second; 15 retries keep 15 s of failed probes before the task counts as unhealthy.
 */
export const GATEWAY_HEALTHCHECK = { interval: 1, timeout: 3, startPeriod: 10, retries: 15 } as const;
/** nginx: where the entrypoint writes each routed service's task addresses (`<service>@<port>.conf`, included by its
 *  upstream): under /run, a tmpfs under the read-only root. */
export const NGINX_UPSTREAMS_DIR = "/run/gateway-upstreams";
/** nginx: idle backend connections each worker keeps per upstream, and how long (under the 5 s idle timeout of
 *  many app servers, so nginx closes first). */
const NGINX_UPSTREAM_KEEPALIVE = { connections: 32, idleSeconds: 4 } as const;
/** Seconds the routes step keeps probing a release that gains a hostname before it gives up. */
export const ROUTE_PROBE_SECONDS = 10;
/**
 * The routes step's agent in a gateway container (templates/gateway/gateway-agent.sh): baked into the image at `path`,
 * where the entrypoint serves it on the FIFO pair `<fifo>.in` and `<fifo>.out`. The routes step keeps that pair in
 * the routes dir, read-only in the container (nothing there can put a link in place of a FIFO the node opens).
 */
export const GATEWAY_AGENT = { name: "gateway-agent.sh", path: "/usr/local/bin/gateway-agent", fifo: `${GATEWAY_ROUTES_DIR}/agent` } as const;

/** Response header the gateway adds to every routed answer: `<app>/<release>` of the route that served it. */
export const RELEASE_HEADER = "X-Served-By-Release";

const DEFAULT_BASE_IMAGE = { nginx: "nginx:1.27-bookworm", haproxy: "haproxy:2.8-bookworm" } as const;

/** Where each engine writes at run time (pid, temp files, sockets): tmpfs under a read-only root (official and Debian images). */
const ENGINE_WRITABLE = { nginx: ["/run", "/tmp", "/var/cache/nginx", "/var/lib/nginx"], haproxy: ["/run", "/tmp", "/var/lib/haproxy"] } as const;
/**
 * The gateway's capabilities: all dropped but what the engine's master needs to bind ports below 1024, chown its
 * temp dirs, switch its workers to an unprivileged user and signal them. The master runs as root (it binds 80/443
 * and reads the 0400 keys); the workers that handle requests do not. Measured with both engines (reload included).
 */
const GATEWAY_CAPABILITIES = ["CHOWN", "KILL", "NET_BIND_SERVICE", "SETGID", "SETUID"] as const;
/** Swarm secret file modes: the key readable by root (the engine's master) only. */
const TLS_FILE_MODE = { certificate: 0o444, key: 0o400 } as const;

/** Per engine: its files, where the main config goes in the image, and the signals the entrypoint uses. */
const ENGINES = {
    nginx: { main: "nginx.conf", mainPath: "/etc/nginx/nginx.conf", routes: "routes.conf", reloadSignal: "HUP", stopSignal: "QUIT", serverState: null },
    haproxy: {
        main: "haproxy.cfg",
        mainPath: "/usr/local/etc/haproxy/haproxy.cfg",
        routes: "routes.cfg",
        reloadSignal: "USR2",
        stopSignal: "USR1",
        // Under /run (tmpfs): the admin socket the entrypoint asks for `show servers state` before a reload, and the
        // file it writes that into for the new worker.
        serverState: { socket: "/run/haproxy-admin.sock", file: "/run/haproxy-server-state" },
    },
} as const;

/** HAProxy's access log without metrics: the FIFO it writes into and the relay that copies it on in batches
 *  (templates/gateway/haproxy/log-relay.pl; nginx buffers its own log). With metrics on, the exporter reads it. */
const HAPROXY_LOG_RELAY = {
    path: "/usr/local/lib/swarm-gateway/log-relay.pl",
    fifo: "/run/gateway-log/access.fifo",
    // Lines gather this long before one write to stdout: one wakeup of Docker's log reader per pause, not per request.
    pauseSeconds: 0.1,
    restartSeconds: 1,
} as const;

/** Attempts per request (the first included): an idempotent request that cannot reach a task tries another. */
const BACKEND_TRIES = 3;

// Seconds added to the drain time: a stopping gateway's grace period keeps this much after draining; the update
// waits this long between nodes (the VIP settles) and watches each new task this long.
const GRACE_AFTER_DRAIN = 10;
const UPDATE_DELAY_AFTER_DRAIN = 5;
const UPDATE_MONITOR_AFTER_DRAIN = 15;
// A graceful engine stop ends this long before swarm's SIGKILL.
const STOP_MARGIN = 2;

/** The TLS settings of both engines: Mozilla's "intermediate" profile with its ECDHE suites (no DHE, so no dhparam
 *  file) and session tickets off (a long-lived ticket key would undo forward secrecy). Rendered into both engines. */
export const TLS_PROFILE = {
    name: "Mozilla intermediate",
    protocols: ["TLSv1.2", "TLSv1.3"],
    /** TLS 1.2 suites, in preference order (OpenSSL names). */
    ciphers: [
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "ECDHE-RSA-CHACHA20-POLY1305",
    ],
    /** TLS 1.3 suites. */
    ciphersuites: ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"],
    /** Key exchange groups (ECDHE curves). */
    curves: ["X25519", "prime256v1", "secp384r1"],
    /** The client's cipher preference wins (all suites are strong; clients know what their hardware does fast). */
    preferServerCiphers: false,
    sessionTickets: false,
    /** Seconds a session stays resumable from the server-side cache. */
    sessionTimeout: 86400,
} as const;

/** Request headers never sent to a backend: proxy-only (httpoxy's `Proxy`, proxy credentials), hop-by-hop, and
 *  the h2c upgrade's settings (only WebSocket upgrades pass). `Connection` and `Upgrade` are set by the gateway. */
export const STRIPPED_REQUEST_HEADERS = ["Proxy", "Proxy-Connection", "Proxy-Authorization", "Keep-Alive", "TE", "Trailer", "HTTP2-Settings"] as const;

/** Where the gateway answers its health path: a unix socket in the state dir, which keepalived's check (on the
 *  node) and the image's HEALTHCHECK (in the container) both see; no network port, so nobody else reaches it. */
export const GATEWAY_HEALTH_SOCKET = path.posix.join(GATEWAY_STATE_DIR, "health.sock");

/** A TLS certificate of the gateway. */
export interface PlanTlsCertificate {
    /** From config: names its swarm secrets and files. */
    readonly name: string;
    /** Sorted. */
    readonly hostnames: readonly string[];
    /** Config key of the certificate chain secret. */
    readonly certificateSecret: string;
    /** Config key of the private key secret. */
    readonly keySecret: string;
    /** Where the gateway reads the chain. */
    readonly certificatePath: string;
    /** Where the gateway reads the key. */
    readonly keyPath: string;
}

/** The gateway's update or rollback policy (no failure ratio: one global task per node). */
export type PlanGatewayUpdatePolicy = Omit<PlanUpdatePolicy, "maxFailureRatio">;

/** The gateway as the Gateway component builds and runs it; every timing is derived here. */
export interface PlanGateway {
    readonly engine: "nginx" | "haproxy";
    readonly baseImage: string;
    /** Image name without tag; the tag is the content hash of the rendered image files. */
    readonly image: string;
    /** Swarm service name. */
    readonly service: string;
    /** The gateway overlay's name. */
    readonly network: string;
    /** Gateway node names, sorted. */
    readonly nodes: readonly string[];
    readonly ports: { readonly http: number; readonly https: number };
    /** The gateway's own health endpoint, answered only on the health socket. */
    readonly healthPath: string;
    /** Header naming `<app>/<release>` on every routed answer (read by `npm run status`). */
    readonly releaseHeader: string;
    /** Whether the gateway sends that header (gateway.releaseHeader; prod turns it off). */
    readonly sendReleaseHeader: boolean;
    /** Testers' pins: header, else cookie, accepted from these networks (sorted; empty: from anywhere). */
    readonly pinning: { readonly header: string; readonly cookie: string; readonly trustedNetworks: readonly string[] };
    /** Max-Age of the sticky cookie. */
    readonly stickySeconds: number;
    /** The unix socket answering the health path (in the state dir, shared with keepalived's check). */
    readonly healthSocket: string;
    readonly tls: readonly PlanTlsCertificate[];
    /** `reject` or a routed hostname. */
    readonly defaultHost: string;
    readonly clientMaxBodySize: string;
    readonly timeouts: { readonly connect: number; readonly read: number; readonly send: number };
    readonly clientTimeouts: { readonly header: number; readonly idle: number; readonly keepAlive: number };
    /** TLS hostnames redirect plain HTTP to HTTPS (308). */
    readonly httpsRedirect: boolean;
    /** The Strict-Transport-Security value for TLS hostnames, or none. */
    readonly hsts: string | false;
    /** Networks whose forwarding headers are kept, sorted. */
    readonly trustedProxies: readonly string[];
    /** Seconds a Docker DNS answer is kept (nginx's cache, HAProxy's re-resolution interval). */
    readonly resolverValid: number;
    /** Retrying a request on another task after a connection error or connect timeout (idempotent methods only once
     *  the request was sent): at most `tries` attempts, none started after `withinSeconds`. */
    readonly retry: { readonly tries: number; readonly withinSeconds: number };
    /** HAProxy: where the entrypoint saves the servers' state before a reload and the admin socket it reads it
     *  from; the new worker starts with every task's address instead of empty slots. None for nginx. */
    readonly serverState: { readonly socket: string; readonly file: string } | null;
    /** The metrics exporter beside the engine (model/metrics.ts). */
    readonly metrics: PlanMetrics;
    /** HAProxy with metrics off: its log lines go through a FIFO and a relay that copies them to stdout in batches,
     *  `pauseSeconds` apart. None for nginx (its log is buffered) and with metrics on (the exporter copies them). */
    readonly logRelay: { readonly path: string; readonly fifo: string; readonly pauseSeconds: number; readonly restartSeconds: number } | null;
    readonly delivery: "load" | "registry";
    readonly registry?: { readonly server: string; readonly username: string; readonly passwordSecret: string };
    /** Where the routes file lives on each gateway node. */
    readonly routesDir: string;
    /** The draining flag's dir, shared with keepalived's check. */
    readonly stateDir: string;
    /** The routes step's agent: where the image has it, and the FIFO pair the entrypoint serves it on (GATEWAY_AGENT). */
    readonly agent: { readonly path: string; readonly fifo: string };
    /** The static engine config baked into the image: file name and path inside the image. */
    readonly mainFile: { readonly name: string; readonly path: string };
    /** The routes file: name, and path on the node and in the container. */
    readonly routesFile: { readonly name: string; readonly path: string };
    /** Signal the entrypoint forwards to the engine for a reload. */
    readonly reloadSignal: string;
    /** Signal for the engine's graceful stop. */
    readonly stopSignal: string;
    /** Seconds a stopping gateway keeps serving after flagging itself draining, so the VIP leaves first. */
    readonly drainSeconds: number;
    /** Swarm's stop grace period: at least the drain time plus a margin. */
    readonly stopGracePeriod: number;
    /** Seconds the engine gets for its graceful stop after draining. */
    readonly stopTimeout: number;
    /** stop-first, one node at a time: host ports cannot be held by two tasks. */
    readonly update: PlanGatewayUpdatePolicy;
    /** Seconds `up` waits for the gateway service to converge (release-converge) before it fails. */
    readonly convergeTimeout: number;
    /** The image's HEALTHCHECK timings. */
    readonly healthcheck: { readonly interval: number; readonly timeout: number; readonly startPeriod: number; readonly retries: number };
    /** The served-routes sidecar: file name in the routes dir. */
    readonly servedFile: string;
    /** Seconds the routes step probes a release gaining a hostname. */
    readonly probeSeconds: number;
    readonly rollback: PlanGatewayUpdatePolicy;
    /** Least privilege for the gateway's tasks. */
    readonly container: {
        readonly resources: PlanResources;
        readonly readOnlyRootFilesystem: boolean;
        /** tmpfs mounts (empty with a writable root). */
        readonly tmpfs: readonly string[];
        readonly capabilities: { readonly drop: readonly string[]; readonly add: readonly string[] };
        /** Modes of the TLS secret files. */
        readonly tlsFileMode: { readonly certificate: number; readonly key: number };
    };
}

/** The gateway's rolling-update timings, for its convergence timeout (model/converge.ts). */
function gatewayConvergeTimings(nodes: number, update: PlanGatewayUpdatePolicy, stopGracePeriod: number): ConvergeTimings {
    const hc = GATEWAY_HEALTHCHECK;
    return {
        batches: Math.max(1, nodes),
        taskReady: hc.startPeriod + hc.interval * hc.retries,
        perBatchExtra: update.delay + stopGracePeriod,
        monitor: update.monitor,
        interval: hc.interval,
    };
}

/** The gateway's update policy and grace period, from the VIP's drain time. */
function gatewayTimings(g: GatewayConfig, drainSeconds: number) {
    const stopGracePeriod = Math.max(g.stopGracePeriod, drainSeconds + GRACE_AFTER_DRAIN);
    const update: PlanGatewayUpdatePolicy = {
        parallelism: 1,
        delay: drainSeconds + UPDATE_DELAY_AFTER_DRAIN,
        order: "stop-first",
        failureAction: "rollback",
        monitor: drainSeconds + UPDATE_MONITOR_AFTER_DRAIN,
    };
    return { stopGracePeriod, update };
}

export function checkGateway(c: StackConfig, report: Report): void {
    const g = c.gateway;
    if (g.update.convergeTimeout !== undefined) {
        const { stopGracePeriod, update } = gatewayTimings(g, drainSecondsOf(c.virtualIp));
        const t = gatewayConvergeTimings(1, update, stopGracePeriod);
        const least = convergeTimeoutFloor(t);
        if (g.update.convergeTimeout < least) {
            report(
                "gateway.update.convergeTimeout",
                `${g.update.convergeTimeout}s is shorter than a healthy gateway update takes at least: update monitor ${t.monitor}s + healthcheck interval ${t.interval}s = ${least}s; \`up\` would fail on every gateway change`,
            );
        }
    }
    if (g.ports.http === g.ports.https) report("gateway.ports.https", `must differ from gateway.ports.http (${g.ports.http})`);
    if (g.delivery === "registry" && !g.registry) report("gateway.registry", "is required when gateway.delivery is registry");
    if (g.delivery === "load" && g.registry) report("gateway.registry", "is only used with gateway.delivery: registry");
    const served = new Set(c.apps.flatMap((a) => [...a.releases.flatMap((r) => r.hostnames), ...a.routes.map((r) => r.hostname)]));
    g.tls.forEach((t, i) =>
        t.hostnames.forEach((h, k) => {
            if (!served.has(h)) report(`gateway.tls[${i}].hostnames[${k}]`, `"${h}" is not served by any release`);
        }),
    );
    firstDuplicates(g.tls.map((t) => t.name), (i, j) => report(`gateway.tls[${i}].name`, `certificate name "${g.tls[i].name}" is also gateway.tls[${j}]`));
    const tlsHosts = g.tls.flatMap((t, i) => t.hostnames.map((h, k) => ({ h, path: `gateway.tls[${i}].hostnames[${k}]` })));
    firstDuplicates(tlsHosts.map((t) => t.h), (i, j) => report(tlsHosts[i].path, `hostname "${tlsHosts[i].h}" has two certificates (also ${tlsHosts[j].path})`));
    if (g.defaultHost !== "reject" && !served.has(g.defaultHost)) {
        report("gateway.defaultHost", `"${g.defaultHost}" is not served by any release (use "reject" or a served hostname)`);
    }
    if (served.size > 0 && !c.nodes.some((n) => n.gateway)) report("nodes", "no gateway node: set gateway: true on at least one node to serve the apps' hostnames");
    if (g.engine === "haproxy") {
        const slots = g.serverSlots;
        c.apps.forEach((app, i) =>
            app.releases.forEach((r, j) => {
                const replicas = r.replicas ?? app.replicas;
                const need = replicas + Math.max(updateSurge(app.update, replicas), updateSurge(app.rollback, replicas));
                if (slots !== undefined && slots < need) {
                    report("gateway.serverSlots", `${slots} slots cannot hold apps[${i}].releases[${j}] (${need} tasks during an update)`);
                }
            }),
        );
    }
    if (g.engine === "haproxy" && g.tls.length > 0) {
        const line = `    bind ${haproxyHttpsBind(g.ports.https, planTls(c).map((t) => t.certificatePath))}\n`;
        const words = line.trim().split(/\s+/).length;
        if (line.length > HAPROXY_LINE_CHARS || words > HAPROXY_LINE_WORDS) {
            report(
                "gateway.tls",
                `${g.tls.length} certificates make HAProxy's bind line ${line.length} characters and ${words} words (at most ${HAPROXY_LINE_CHARS} and ${HAPROXY_LINE_WORDS}): use fewer certificates (one can hold several hostnames) or shorter names`,
            );
        }
    }
    if (g.engine === "nginx" && g.serverSlots !== undefined) report("gateway.serverSlots", "only applies to engine haproxy");
    if (g.hsts && g.hsts.preload && !(g.hsts.includeSubDomains && g.hsts.maxAge >= 31536000)) {
        report("gateway.hsts.preload", "needs includeSubDomains: true and maxAge of at least 31536000 (what the preload list accepts)");
    }
    g.trustedProxies.forEach((p, i) => {
        // nginx's geo already maps 0.0.0.0/0 (its default), and trusting everyone's forwarding headers is no trust.
        if (p.endsWith("/0")) report(`gateway.trustedProxies[${i}]`, `"${p}" would trust every client's forwarding headers: list the proxies' own networks`);
    });
    firstDuplicates(g.trustedProxies, (i, j) => report(`gateway.trustedProxies[${i}]`, `"${g.trustedProxies[i]}" is also gateway.trustedProxies[${j}]`));
    const pinning = g.pinning;
    firstDuplicates(pinning.trustedNetworks, (i, j) =>
        report(`gateway.pinning.trustedNetworks[${i}]`, `"${pinning.trustedNetworks[i]}" is also gateway.pinning.trustedNetworks[${j}]`),
    );
    const clash = c.apps.find((a) => stickyCookieOf(a.name) === pinning.cookie);
    if (clash) report("gateway.pinning.cookie", `"${pinning.cookie}" is also the sticky cookie of app ${clash.name}'s weighted hostnames: choose another name`);
    if (pinning.header.toLowerCase() === "cookie" || pinning.header.toLowerCase() === "host") {
        report("gateway.pinning.header", `"${pinning.header}" is a header the gateway routes by: choose another, like X-Release`);
    }
}

/** The Strict-Transport-Security header value. */
function hstsValue(hsts: GatewayConfig["hsts"]): string | false {
    if (!hsts) return false;
    return [`max-age=${hsts.maxAge}`, ...(hsts.includeSubDomains ? ["includeSubDomains"] : []), ...(hsts.preload ? ["preload"] : [])].join("; ");
}

/** The gateway's TLS certificates, by config name. */
export function planTls(c: StackConfig): PlanTlsCertificate[] {
    return c.gateway.tls
        .map((t) => ({
            name: t.name,
            hostnames: [...t.hostnames].sort(compare),
            certificateSecret: t.certificateSecret,
            keySecret: t.keySecret,
            certificatePath: `/run/secrets/${t.name}.crt`,
            keyPath: `/run/secrets/${t.name}.key`,
        }))
        .sort((a, b) => compare(a.name, b.name));
}

export function planGateway(c: StackConfig, nodes: readonly PlanNode[], tls: readonly PlanTlsCertificate[], virtualIp?: PlanVirtualIp): PlanGateway {
    const g = c.gateway;
    const engine = ENGINES[g.engine];
    const drainSeconds = virtualIp?.drainSeconds ?? 0;
    const { stopGracePeriod, update } = gatewayTimings(g, drainSeconds);
    const gatewayNodes = nodes.filter((n) => n.gateway).map((n) => n.name);
    return {
        engine: g.engine,
        baseImage: g.baseImage ?? DEFAULT_BASE_IMAGE[g.engine],
        image: g.image,
        service: GATEWAY_SERVICE,
        network: c.networks.gateway.name,
        nodes: gatewayNodes,
        ports: { ...g.ports },
        healthPath: c.virtualIp?.healthCheck.path ?? "/healthz",
        releaseHeader: RELEASE_HEADER,
        sendReleaseHeader: g.releaseHeader,
        pinning: { header: g.pinning.header, cookie: g.pinning.cookie, trustedNetworks: [...g.pinning.trustedNetworks].sort(compare) },
        stickySeconds: g.stickySeconds,
        healthSocket: GATEWAY_HEALTH_SOCKET,
        tls,
        defaultHost: g.defaultHost,
        clientMaxBodySize: g.clientMaxBodySize,
        timeouts: { ...g.timeouts },
        clientTimeouts: { ...g.clientTimeouts },
        httpsRedirect: g.httpsRedirect,
        hsts: hstsValue(g.hsts),
        trustedProxies: [...g.trustedProxies].sort(compare),
        resolverValid: g.resolverValid,
        retry: { tries: BACKEND_TRIES, withinSeconds: Math.round(BACKEND_TRIES * g.timeouts.connect * 1000) / 1000 },
        serverState: engine.serverState ? { ...engine.serverState } : null,
        metrics: planMetrics(c),
        logRelay: g.engine === "haproxy" && !c.metrics.enabled ? { ...HAPROXY_LOG_RELAY } : null,
        delivery: g.delivery,
        ...(g.registry ? { registry: { ...g.registry } } : {}),
        routesDir: GATEWAY_ROUTES_DIR,
        stateDir: GATEWAY_STATE_DIR,
        agent: { path: GATEWAY_AGENT.path, fifo: GATEWAY_AGENT.fifo },
        mainFile: { name: engine.main, path: engine.mainPath },
        routesFile: { name: engine.routes, path: path.posix.join(GATEWAY_ROUTES_DIR, engine.routes) },
        reloadSignal: engine.reloadSignal,
        stopSignal: engine.stopSignal,
        drainSeconds,
        stopGracePeriod,
        stopTimeout: Math.max(1, stopGracePeriod - drainSeconds - STOP_MARGIN),
        update,
        rollback: { ...update, failureAction: "pause" },
        convergeTimeout: g.update.convergeTimeout ?? defaultConvergeTimeout(gatewayConvergeTimings(gatewayNodes.length, update, stopGracePeriod)),
        healthcheck: { ...GATEWAY_HEALTHCHECK },
        servedFile: GATEWAY_SERVED_FILE,
        probeSeconds: ROUTE_PROBE_SECONDS,
        container: {
            resources: planResources(g.resources),
            readOnlyRootFilesystem: g.readOnlyRootFilesystem,
            tmpfs: g.readOnlyRootFilesystem ? [...ENGINE_WRITABLE[g.engine]] : [],
            capabilities: { drop: ["ALL"], add: [...GATEWAY_CAPABILITIES] },
            tlsFileMode: { ...TLS_FILE_MODE },
        },
    };
}

// ---- rendering --------------------------------------------------------------------------------------

/** The gateway's rendered files. */
export interface GatewayFiles {
    /** Static engine config baked into the image: `nginx.conf` or `haproxy.cfg`. */
    readonly main: { readonly name: string; readonly content: string };
    /** Routes file written to the routes dir on every gateway node and reloaded in place. */
    readonly routes: { readonly name: string; readonly content: string };
    /** The served-routes sidecar written next to the routes file: what a node serves, for the next routes step. */
    readonly served: { readonly name: string; readonly content: string };
    /** The entrypoint wrapper baked into the image (drain on stop). */
    readonly entrypoint: { readonly name: string; readonly content: string };
    /** The metrics exporter baked into the image; none when metrics are off. */
    readonly metricsExporter: { readonly name: string; readonly content: string } | null;
    /** HAProxy's log relay baked into the image (PlanGateway.logRelay); none without one. */
    readonly logRelay: { readonly name: string; readonly content: string } | null;
    /** The routes step's agent, baked into the image and sent by the step to a gateway that does not serve it. */
    readonly agent: { readonly name: string; readonly content: string };
    readonly dockerfile: string;
}

const ENTRYPOINT_NAME = "entrypoint.sh";
const SIZE_UNITS: Readonly<Record<string, number>> = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** nginx size (`10m`) → bytes, for HAProxy's body-size rule. */
function sizeInBytes(size: string): number {
    const m = /^(\d+)([kmg]?)$/.exec(size.toLowerCase());
    if (!m) throw new Error(`gateway.clientMaxBodySize "${size}" is not a size like 10m`);
    return Number(m[1]) * SIZE_UNITS[m[2]];
}

/** HAProxy's HTTPS bind arguments: every certificate on the one line (strict-sni: an unknown SNI gets none). */
function haproxyHttpsBind(port: number, certificatePaths: readonly string[]): string {
    return `:${port} ssl strict-sni${certificatePaths.map((p) => ` crt ${p}`).join("")}`;
}

// HAProxy 2.6 reads a config line of at most 2048 characters (LINESIZE) and 64 words (MAX_LINE_ARGS); beyond
// them it cuts the line, and the certificates past the cut would be lost.
const HAPROXY_LINE_CHARS = 2048;
const HAPROXY_LINE_WORDS = 64;

function backendName(service: string): string {
    return `svc.${service}`;
}

/** Where plain HTTP for a TLS hostname goes when HTTPS redirects are on (HAProxy backend). */
const HTTPS_REDIRECT_BACKEND = "https-redirect";

/** `my-app` → `my_app`: part of an nginx variable name (app names have no `_`, so no two apps meet). */
function variablePart(name: string): string {
    return name.replace(/-/g, "_");
}

/**
 * A route as both engines' templates read it. `dynamic` when more than one release can serve the hostname (weights
 * above 0, or a pinnable release): then the release is chosen per request (pin > sticky cookie > weighted choice);
 * otherwise the route is a plain hostname → service route.
 */
function routeView(gateway: PlanGateway, route: PlanRoute, index: number) {
    const serving = servingBackends(route);
    const reachable = reachableBackends(route);
    const pinnable = route.backends.filter((b) => b.pinnable);
    const first = serving[0] ?? reachable[0];
    if (!first) throw new Error(`route ${route.hostname}: no release serves it`);
    const total = serving.reduce((n, b) => n + b.weight, 0);
    // nginx split_clients shares in hundredths of a percent (cumulative, so they add up to 100%); HAProxy draws
    // rand(total) and each release owns a range of it.
    let cumulative = 0;
    const shares = serving.map((b, k) => {
        const from = cumulative;
        cumulative += b.weight;
        const hundredths = Math.round((cumulative * 10000) / total) - Math.round((from * 10000) / total);
        return { release: b.release, share: k === serving.length - 1 ? "*" : `${(hundredths / 100).toFixed(2)}%`, skip: hundredths === 0 && k !== serving.length - 1, from, to: cumulative - 1 };
    });
    const stickyOn = route.sticky && serving.length > 1;
    const dynamic = reachable.length > 1;
    const appVar = variablePart(route.app);
    return {
        hostname: route.hostname,
        app: route.app,
        tls: route.tls,
        index,
        key: `r${index}`,
        dynamic,
        release: first.release,
        upstream: backendName(first.service),
        summary: [
            serving.map((b) => `${b.release} ${b.percent}%`).join(", "),
            ...(stickyOn ? ["sticky"] : []),
            ...(pinnable.length ? [`pinnable ${pinnable.map((b) => b.release).join(", ")}`] : []),
        ].join("; "),
        hasSplit: serving.length > 1,
        split: shares.filter((x) => !x.skip),
        // The nginx variable holding the request's release: pin over sticky over the weights.
        releaseVar: pinnable.length ? `gw_r${index}_release` : stickyOn ? `gw_r${index}_chosen` : `gw_r${index}_weighted`,
        picks: serving.length > 1 ? { total, ranges: shares } : (false as const),
        sticky: stickyOn
            ? {
                  cookie: route.stickyCookie,
                  appVar,
                  releases: serving.map((b) => b.release),
                  list: serving.map((b) => b.release).join(" "),
                  attributes: `Path=/; Max-Age=${gateway.stickySeconds}; HttpOnly; SameSite=Lax`,
              }
            : (false as const),
        pin: pinnable.length ? { appVar, releases: pinnable.map((b) => b.release), list: pinnable.map((b) => b.release).join(" ") } : (false as const),
        upstreams: reachable.map((b) => ({ release: b.release, upstream: backendName(b.service) })),
    };
}

type RouteView = ReturnType<typeof routeView>;

/** HAProxy matches exact hostnames before wildcards (`*.example.com`), longer suffixes first, like nginx.
 *  `redirect`: the rule sends the hostname to the HTTPS redirect instead of its service. */
function hostRules(routes: readonly RouteView[], redirect: (r: RouteView) => boolean) {
    const rules = routes.map((route) => {
        const wildcard = route.hostname.startsWith("*.");
        const toRedirect = redirect(route);
        return {
            backend: toRedirect ? HTTPS_REDIRECT_BACKEND : route.upstream,
            match: wildcard ? "end" : "str",
            pattern: wildcard ? route.hostname.slice(1) : route.hostname,
            wildcard,
            // HAProxy's txn.gw_route: the route whose release rules apply (-1: this hostname's answer is fixed here).
            index: !toRedirect && route.dynamic ? route.index : -1,
            route: !toRedirect && route.dynamic ? route : (false as const),
        };
    });
    const exact = rules.filter((r) => !r.wildcard);
    const wildcards = rules.filter((r) => r.wildcard).sort((a, b) => b.pattern.length - a.pattern.length);
    return [...exact, ...wildcards];
}

/** One upstream (nginx) or backend (HAProxy) per service a route can reach (several hostnames may share it). */
function backends(routes: readonly PlanRoute[]) {
    const byService = new Map<string, { route: PlanRoute; backend: PlanRouteBackend }>();
    for (const route of routes) for (const backend of reachableBackends(route)) if (!byService.has(backend.service)) byService.set(backend.service, { route, backend });
    return [...byService.values()]
        .sort((a, b) => compare(a.backend.service, b.backend.service))
        .map(({ route, backend: b }) => ({ name: backendName(b.service), service: b.service, port: b.port, slots: b.slots, app: route.app, release: b.release }));
}

function tlsServers(gateway: PlanGateway, routes: readonly RouteView[]) {
    return routes
        .filter((r) => r.tls !== undefined)
        .map((r) => {
            const cert = gateway.tls.find((t) => t.name === r.tls);
            if (!cert) throw new Error(`route ${r.hostname}: unknown TLS certificate "${r.tls}"`);
            return { ...r, certificate: cert.name, certificatePath: cert.certificatePath, keyPath: cert.keyPath };
        });
}

/** One entry per app: its pinnable releases (nginx's per-app pin map) or its sticky cookie (per-app cookie map). */
function perApp<T extends { appVar: string }>(items: readonly (T | false)[]): T[] {
    const byApp = new Map<string, T>();
    for (const item of items) if (item && !byApp.has(item.appVar)) byApp.set(item.appVar, item);
    return [...byApp.values()];
}

/** The TLS profile as the engines spell it. */
function tlsProfileView() {
    const p = TLS_PROFILE;
    return {
        name: p.name,
        protocols: p.protocols.join(" "),
        minVersion: p.protocols[0],
        ciphers: p.ciphers.join(":"),
        ciphersuites: p.ciphersuites.join(":"),
        curves: p.curves.join(":"),
        preferServerCiphers: p.preferServerCiphers,
        sessionTickets: p.sessionTickets,
        sessionTimeout: p.sessionTimeout,
    };
}

function gatewayView(gateway: PlanGateway, planRoutes: readonly PlanRoute[]) {
    const routes = planRoutes.map((r, i) => routeView(gateway, r, i));
    const tlsRoutes = routes.filter((r) => r.tls !== undefined);
    const defaultRoute = gateway.defaultHost === "reject" ? false : routes.find((r) => r.hostname === gateway.defaultHost);
    if (defaultRoute === undefined) throw new Error(`gateway.defaultHost "${gateway.defaultHost}" is not a routed hostname`);
    const redirects = (r: RouteView) => gateway.httpsRedirect && r.tls !== undefined;
    const maxBodyBytes = sizeInBytes(gateway.clientMaxBodySize);
    const hsts = gateway.hsts;
    // The entrypoint's restart loop for the reader of the engine's FIFO: the exporter or the log relay (never both).
    const readerRestartSeconds = gateway.metrics.enabled ? gateway.metrics.restartSeconds : gateway.logRelay?.restartSeconds;
    const frontendView = (name: string, bind: string, proto: "http" | "https", routesHere: readonly RouteView[], redirect: (r: RouteView) => boolean, defaultsTo: RouteView | false) => {
        const rules = hostRules(routesHere, redirect);
        const dynamicRoutes = rules.flatMap((r) => (r.route ? [r.route] : []));
        const defaultDynamic = defaultsTo && defaultsTo.dynamic ? defaultsTo : (false as const);
        if (defaultDynamic && !dynamicRoutes.includes(defaultDynamic)) dynamicRoutes.push(defaultDynamic);
        return {
            name,
            bind,
            proto,
            secure: proto === "https" ? "; Secure" : "",
            hsts: proto === "https" ? hsts : false,
            hostRules: rules,
            dynamic: dynamicRoutes.length > 0,
            dynamicRoutes,
            defaultDynamic,
            // The default route's own rules, when no host rule of this frontend already chooses its backend.
            defaultExtra: defaultDynamic && !rules.some((r) => r.route === defaultDynamic) ? defaultDynamic : (false as const),
            pins: dynamicRoutes.some((r) => r.pin),
            defaultBackend: defaultsTo ? defaultsTo.upstream : "reject",
        };
    };
    // Both HAProxy frontends share every header rule; only the bind, the scheme and the routes differ.
    const frontends = [
        frontendView("http", `:${gateway.ports.http}`, "http", routes, redirects, defaultRoute),
        // strict-sni: an unknown SNI gets no certificate (the handshake fails).
        ...(gateway.tls.length
            ? [frontendView("https", haproxyHttpsBind(gateway.ports.https, gateway.tls.map((t) => t.certificatePath)), "https", tlsRoutes, () => false, false)]
            : []),
    ];
    const dynamicRoutes = routes.filter((r) => r.dynamic);
    const pinning = gateway.pinning;
    return {
        engine: gateway.engine,
        nginx: gateway.engine === "nginx",
        haproxy: gateway.engine === "haproxy",
        baseImage: gateway.baseImage,
        mainName: gateway.mainFile.name,
        mainPath: gateway.mainFile.path,
        routesDir: gateway.routesDir,
        routesPath: gateway.routesFile.path,
        stateDir: shellSafe("gateway.stateDir", gateway.stateDir),
        agent: { name: GATEWAY_AGENT.name, path: shellSafe("gateway.agent.path", gateway.agent.path), fifo: shellSafe("gateway.agent.fifo", gateway.agent.fifo) },
        healthSocket: shellSafe("gateway.healthSocket", gateway.healthSocket),
        drainSeconds: gateway.drainSeconds,
        reloadSignal: gateway.reloadSignal,
        stopSignal: gateway.stopSignal,
        stopTimeout: gateway.stopTimeout,
        http: gateway.ports.http,
        https: gateway.ports.https,
        // A redirect names the HTTPS port only when it is not the default one.
        httpsPortSuffix: gateway.ports.https === 443 ? "" : `:${gateway.ports.https}`,
        healthPath: gateway.healthPath,
        healthcheck: gateway.healthcheck,
        releaseHeader: gateway.releaseHeader,
        resolverValid: gateway.resolverValid,
        retry: { ...gateway.retry, retries: gateway.retry.tries - 1, withinMs: Math.round(gateway.retry.withinSeconds * 1000) },
        serverState: gateway.serverState ? { socket: shellSafe("gateway.serverState.socket", gateway.serverState.socket), file: shellSafe("gateway.serverState.file", gateway.serverState.file) } : false,
        clientMaxBodySize: gateway.clientMaxBodySize,
        maxBodyBytes,
        // milliseconds: nginx and HAProxy read "0.2s" as neither
        timeouts: { ...gateway.timeouts, connectMs: Math.round(gateway.timeouts.connect * 1000), idle: Math.max(gateway.timeouts.read, gateway.timeouts.send) },
        clientTimeouts: gateway.clientTimeouts,
        hsts,
        trustedProxies: gateway.trustedProxies,
        hasTrustedProxies: gateway.trustedProxies.length > 0,
        strippedHeaders: STRIPPED_REQUEST_HEADERS,
        tlsProfile: tlsProfileView(),
        hasTls: gateway.tls.length > 0,
        defaultRoute,
        servers: routes.map((r) => ({ ...r, redirect: redirects(r) })),
        tlsServers: tlsServers(gateway, routes),
        sendReleaseHeader: gateway.sendReleaseHeader,
        dynamicRoutes,
        hasDynamic: dynamicRoutes.length > 0,
        pinning: dynamicRoutes.some((r) => r.pin)
            ? {
                  header: pinning.header,
                  // nginx's variable for a request header: lower case, '-' as '_'.
                  headerVariable: `http_${pinning.header.toLowerCase().replace(/-/g, "_")}`,
                  cookie: pinning.cookie,
                  trustedNetworks: pinning.trustedNetworks,
                  fromAnywhere: pinning.trustedNetworks.length === 0,
              }
            : false,
        pinApps: perApp(dynamicRoutes.map((r) => r.pin)),
        stickyApps: perApp(dynamicRoutes.map((r) => r.sticky)),
        hasSticky: dynamicRoutes.some((r) => r.sticky),
        upstreamsDir: NGINX_UPSTREAMS_DIR,
        upstreamKeepalive: NGINX_UPSTREAM_KEEPALIVE,
        frontends,
        hasRedirects: routes.some(redirects),
        backends: backends(planRoutes),
        metrics: gateway.metrics.enabled
            ? {
                  port: gateway.metrics.port,
                  exporterPath: shellSafe("gateway.metrics.exporterPath", gateway.metrics.exporterPath),
                  exporterName: metricsExporterScript().name,
                  fifo: shellSafe("gateway.metrics.fifo", gateway.metrics.fifo),
                  fifoDir: shellSafe("gateway.metrics.fifo", path.posix.dirname(gateway.metrics.fifo)),
              }
            : false,
        supervisor: readerRestartSeconds === undefined ? false : { restartSeconds: readerRestartSeconds },
        logRelay: gateway.logRelay
            ? {
                  path: shellSafe("gateway.logRelay.path", gateway.logRelay.path),
                  name: LOG_RELAY_NAME,
                  fifo: shellSafe("gateway.logRelay.fifo", gateway.logRelay.fifo),
                  fifoDir: shellSafe("gateway.logRelay.fifo", path.posix.dirname(gateway.logRelay.fifo)),
                  pauseSeconds: gateway.logRelay.pauseSeconds,
              }
            : false,
    };
}

const LOG_RELAY_NAME = "log-relay.pl";

/** The scripts baked into the image beside the entrypoint: the routes step's agent, the metrics exporter, HAProxy's log relay. */
export function gatewayImageScripts(files: GatewayFiles): { readonly name: string; readonly content: string }[] {
    return [files.agent, files.metricsExporter, files.logRelay].filter((f): f is { name: string; content: string } => f !== null);
}

export function renderGatewayFiles(gateway: PlanGateway, routes: readonly PlanRoute[]): GatewayFiles {
    const view = gatewayView(gateway, routes);
    const dir = `gateway/${gateway.engine}`;
    return {
        main: { name: gateway.mainFile.name, content: renderTemplate(`${dir}/${gateway.mainFile.name}.mustache`, view) },
        routes: { name: gateway.routesFile.name, content: renderTemplate(`${dir}/${gateway.routesFile.name}.mustache`, view) + metricsRoutesLines(gateway.metrics, routes, backendName) },
        served: { name: gateway.servedFile, content: renderTemplate("gateway/routes.served.mustache", { routes: servedLines(routes) }) },
        entrypoint: { name: ENTRYPOINT_NAME, content: renderTemplate("gateway/entrypoint.sh.mustache", view) },
        metricsExporter: gateway.metrics.enabled ? metricsExporterScript() : null,
        logRelay: gateway.logRelay ? { name: LOG_RELAY_NAME, content: readTemplate(`gateway/haproxy/${LOG_RELAY_NAME}`) } : null,
        agent: { name: GATEWAY_AGENT.name, content: readTemplate(`gateway/${GATEWAY_AGENT.name}`) },
        dockerfile: renderTemplate("gateway/Dockerfile.mustache", view),
    };
}

/** The served-routes sidecar's lines: one per hostname and release the gateway may send it to (by weight or by a
 *  pin), so a release that gains weight on a hostname, or becomes pinnable, is probed before the routes change. */
function servedLines(routes: readonly PlanRoute[]) {
    return routes.flatMap((r) =>
        reachableBackends(r).map((b) => ({ hostname: r.hostname, app: r.app, release: b.release, service: b.service, port: b.port, path: shellSafe(`route ${r.hostname} probe path`, b.probePath) })),
    );
}

/** What `npm run render` writes for the gateway. */
export function gatewayArtifacts(gateway: PlanGateway, routes: readonly PlanRoute[]): Artifact[] {
    const files = renderGatewayFiles(gateway, routes);
    return [
        { path: "gateway/Dockerfile", content: files.dockerfile, mode: 0o644 },
        { path: `gateway/${files.main.name}`, content: files.main.content, mode: 0o644 },
        { path: `gateway/${files.entrypoint.name}`, content: files.entrypoint.content, mode: 0o755 },
        { path: `gateway/${files.routes.name}`, content: files.routes.content, mode: 0o644 },
        { path: `gateway/${files.served.name}`, content: files.served.content, mode: 0o644 },
        ...gatewayImageScripts(files).map((f) => ({ path: `gateway/${f.name}`, content: f.content, mode: 0o755 })),
    ];
}
