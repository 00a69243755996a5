// The lab's stack: Pulumi.dev.yaml unchanged, plus overrides that make it run offline on this machine
// (prebuilt swarm-lab/* images, no builds, no pulls, dind nodes without --privileged, with the program's narrow
// default capability set).
// LAB_STACK_DIR: read Pulumi.dev.yaml from that directory instead, its apps included (their releases, hostnames,
// routes; the lab's image and health check over them): the canary CLI's lab `up` runs the file it just wrote.
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";

export const PROJECT_DIR = path.resolve(__dirname, "..", "..");
export const PROJECT = "swarm-platform";
export const STACK = "dev";
export const LAB_DIR = path.join(PROJECT_DIR, ".lab");
export const DEMO_IMAGE = "swarm-lab/demo-app";

export interface LabRelease {
    name: string;
    hostnames?: string[];
    replicas?: number;
    env?: Record<string, string>;
    pinnable?: boolean;
}

/** A weighted hostname of an app (`apps[].routes[]`). */
export interface LabRoute {
    hostname: string;
    releases: Record<string, number>;
    sticky?: boolean;
}

export interface LabApp {
    name: string;
    zone: string;
    releases: LabRelease[];
    replicas?: number;
    /** `apps[].update` keys over the program's defaults (the failure scenarios shorten `convergeTimeout`). */
    update?: { convergeTimeout?: number };
    /** `apps[].routes`: weighted hostnames. */
    routes?: LabRoute[];
}

/** The directory whose Pulumi.dev.yaml the lab runs: LAB_STACK_DIR, else the project's. */
export function stackDir(): string {
    return process.env.LAB_STACK_DIR || PROJECT_DIR;
}

/** A stack file's apps as lab apps: what the file says of releases and routes; image and runtime are the lab's. */
export function appsOfStackFile(apps: unknown): LabApp[] {
    if (!Array.isArray(apps)) throw new Error(`${stackDir()}/Pulumi.${STACK}.yaml: ${PROJECT}:apps is not a list`);
    return (apps as (LabApp & { releases: (LabRelease & { name: unknown })[] })[]).map((a) => ({
        name: a.name,
        zone: a.zone,
        ...(a.replicas !== undefined ? { replicas: a.replicas } : {}),
        ...(a.update?.convergeTimeout !== undefined ? { update: { convergeTimeout: a.update.convergeTimeout } } : {}),
        ...(a.routes !== undefined ? { routes: a.routes } : {}),
        releases: a.releases.map((r) => ({
            name: String(r.name),
            ...(r.hostnames !== undefined ? { hostnames: r.hostnames } : {}),
            ...(r.replicas !== undefined ? { replicas: r.replicas } : {}),
            ...(r.env !== undefined ? { env: r.env } : {}),
            ...(r.pinnable !== undefined ? { pinnable: r.pinnable } : {}),
        })),
    }));
}

/** The dev stack's apps, as the lab runs them: the prebuilt demo image, loaded into the nodes, dnsrr. */
export function devApps(): LabApp[] {
    return [
        {
            name: "shop",
            zone: "dmz",
            replicas: 2,
            releases: [
                { name: "1.9", hostnames: ["stary.sklep.localhost"], env: { RELEASE: "1.9" } },
                { name: "2.0", hostnames: ["nowy.sklep.localhost", "sklep.localhost"], env: { RELEASE: "2.0" } },
            ],
        },
        { name: "stock", zone: "intra", replicas: 1, releases: [{ name: "1.0", env: { RELEASE: "stock-1.0" } }] },
    ];
}

export interface LabOverrides {
    apps?: LabApp[];
    /** Gateway keys merged over the lab's gateway (engine and base image). */
    gateway?: Record<string, unknown>;
    /** Per node name: keys merged over that node of Pulumi.dev.yaml (e.g. `availability: drain`). */
    nodes?: Record<string, Record<string, unknown>>;
    /** Raw extra config keys (short names), merged last: used to feed invalid input on purpose. */
    extra?: Record<string, unknown>;
}

/** The gateway engine of this lab run: LAB_GATEWAY_ENGINE (nginx, the dev stack's, or haproxy). */
export function gatewayEngine(): "nginx" | "haproxy" {
    const engine = process.env.LAB_GATEWAY_ENGINE ?? "nginx";
    if (engine !== "nginx" && engine !== "haproxy") throw new Error(`LAB_GATEWAY_ENGINE must be nginx or haproxy (got "${engine}")`);
    return engine;
}

/** The VRRP profile of this lab run: LAB_VIP_PROFILE (default or fast) over the dev stack's (fast); unset: the stack's. */
export function vipProfile(): "default" | "fast" | undefined {
    const profile = process.env.LAB_VIP_PROFILE;
    if (profile === undefined || profile === "") return undefined;
    if (profile !== "default" && profile !== "fast") throw new Error(`LAB_VIP_PROFILE must be default or fast (got "${profile}")`);
    return profile;
}

export function storageDriver(): string {
    return process.env.LAB_NODE_STORAGE_DRIVER ?? "overlay2";
}

/** Every release tag the apps reference (the lab tags swarm-lab/demo-app:latest with each). */
export function releaseTags(apps: LabApp[]): string[] {
    return [...new Set(apps.flatMap((a) => a.releases.map((r) => `${DEMO_IMAGE}:${r.name}`)))];
}

function deepMerge(base: unknown, over: unknown): unknown {
    if (over && typeof over === "object" && !Array.isArray(over) && base && typeof base === "object" && !Array.isArray(base)) {
        const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
        for (const [k, v] of Object.entries(over as Record<string, unknown>)) out[k] = deepMerge(out[k], v);
        return out;
    }
    return over;
}

/** Full runtime config (`swarm-platform:<key>` → value) = Pulumi.dev.yaml + lab overrides. */
export function labConfig(o: LabOverrides = {}): Record<string, unknown> {
    const doc = parse(fs.readFileSync(path.join(stackDir(), `Pulumi.${STACK}.yaml`), "utf8")) as { config: Record<string, unknown> };
    const cfg: Record<string, unknown> = { ...doc.config };
    const set = (key: string, value: unknown) => {
        const k = `${PROJECT}:${key}`;
        cfg[k] = deepMerge(cfg[k], value);
    };
    set("drivers", {
        docker: {
            image: "swarm-lab/node:latest",
            build: false,
            // not privileged: the program's default capability set (Docker's defaults + SYS_ADMIN + NET_ADMIN)
            privileged: false,
            securityOpts: ["seccomp=unconfined", "apparmor=unconfined", "systempaths=unconfined"],
            mountCgroup: true,
            storageDriver: storageDriver(),
        },
    });
    const profile = vipProfile();
    if (profile) set("virtualIp", { profile });
    const engine = gatewayEngine();
    set("gateway", { engine, baseImage: `swarm-lab/${engine}:latest`, ...o.gateway });
    if (o.nodes) {
        const nodes = cfg[`${PROJECT}:nodes`] as { name: string }[];
        const unknown = Object.keys(o.nodes).filter((n) => !nodes.some((x) => x.name === n));
        if (unknown.length) throw new Error(`lab overrides name unknown nodes: ${unknown.join(", ")}`);
        cfg[`${PROJECT}:nodes`] = nodes.map((n) => (o.nodes?.[n.name] ? { ...n, ...o.nodes[n.name] } : n));
    }
    const fromFile = process.env.LAB_STACK_DIR ? appsOfStackFile(cfg[`${PROJECT}:apps`]) : undefined;
    const apps = (o.apps ?? fromFile ?? devApps()).map((a) => ({
        name: a.name,
        zone: a.zone,
        image: DEMO_IMAGE,
        port: 8000,
        replicas: a.replicas ?? 2,
        endpointMode: "dnsrr",
        readOnlyRootFilesystem: true,
        load: true,
        // The image has no curl (the app's default check). A bare TCP connect: every task runs it every 5 s, and on
        // this 2-CPU machine heavier checks (python + http.client every 2 s) starved the tasks into being killed.
        healthcheck: {
            test: ["CMD", "python3", "-S", "-c", "import socket; socket.create_connection(('127.0.0.1', 8000), 3).close()"],
            interval: 5,
            timeout: 5,
            retries: 3,
            startPeriod: 5,
        },
        ...(a.update ? { update: { ...a.update } } : {}),
        releases: a.releases.map((r) => ({
            name: r.name,
            hostnames: r.hostnames ?? [],
            env: r.env ?? { RELEASE: r.name },
            ...(r.replicas !== undefined ? { replicas: r.replicas } : {}),
            ...(r.pinnable !== undefined ? { pinnable: r.pinnable } : {}),
        })),
        ...(a.routes ? { routes: a.routes.map((r) => ({ ...r, releases: { ...r.releases } })) } : {}),
    }));
    cfg[`${PROJECT}:apps`] = apps;
    for (const [k, v] of Object.entries(o.extra ?? {})) cfg[`${PROJECT}:${k}`] = v;
    return cfg;
}
