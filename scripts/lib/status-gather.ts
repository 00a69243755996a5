// What `npm run status` reads from the live platform (impure; model/status.ts judges it). Everything is bounded in
// time and runs in parallel: the manager's engine through the docker CLI, one read-only probe script per gateway
// node, one request per hostname and VIP.
//   driver docker: the manager's and the nodes' engines through `docker exec` into the node containers on the
//                  local engine.
//   driver ssh:    `ssh … docker` on the bootstrap manager and `ssh … bash -s` per node, with the node's pinned host
//                  key first (the local ssh client and agent). Not yet run against real hosts.
import { spawn } from "node:child_process";
import * as http from "node:http";
import * as https from "node:https";
import type { Plan, PlanNode } from "../../model";
import { renderNodeScript } from "../../model/scripts";
import {
    type ObservedGatewayNode,
    type ObservedPlatform,
    type ObservedProbe,
    parseGatewayNodeProbe,
    parseNodeInspect,
    parseServiceLs,
    parseServicePs,
    probeAddresses,
    probedNodes,
    probeHostname,
} from "../../model/status";
import { KEEPALIVED_PATHS } from "../../model/virtual-ip";

export interface GatherOptions {
    /** `<project>-<stack>`: the docker driver's node containers are `<prefix>-<node>`. */
    readonly namePrefix: string;
    /** Bound of each docker/ssh command. */
    readonly commandTimeoutMs?: number;
    /** Bound of each HTTP probe. */
    readonly probeTimeoutMs?: number;
}

export interface Ran {
    readonly code: number;
    readonly stdout: string;
    readonly stderr: string;
}

/** Runs a program (no shell), stdin given, killed after timeoutMs. */
export function run(program: string, args: readonly string[], timeoutMs: number, stdin = ""): Promise<Ran> {
    return new Promise((resolve) => {
        const child = spawn(program, [...args], { stdio: ["pipe", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
        child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
        const timer = setTimeout(() => {
            stderr += `timed out after ${timeoutMs} ms`;
            child.kill("SIGKILL");
        }, timeoutMs);
        child.on("error", (e) => {
            clearTimeout(timer);
            resolve({ code: 127, stdout, stderr: `${program}: ${e.message}` });
        });
        child.on("close", (code) => {
            clearTimeout(timer);
            resolve({ code: code ?? 137, stdout, stderr });
        });
        child.stdin.on("error", () => undefined);
        child.stdin.end(stdin);
    });
}

/** The last non-empty line of stderr: the part of an error worth a table cell. */
function why(r: Ran): string {
    const last = r.stderr.trim().split("\n").filter(Boolean).pop();
    return last ?? `exit ${r.code}`;
}

/** How the manager's engine and every node are reached, from the plan's driver. */
export interface Reach {
    /** Says where the manager's engine was read (the report's `manager` line). */
    readonly manager: string;
    /** Program and leading arguments of a `docker` CLI that talks to the bootstrap manager's engine. */
    readonly managerDocker: { program: string; args: string[] };
    /** Program and arguments that run `bash -s` on a node (the script on stdin). */
    nodeShell(node: PlanNode): { program: string; args: string[] };
}

export function reachOf(plan: Plan, namePrefix: string): Reach {
    const driver = plan.driver;
    const bootstrap = plan.nodes.find((n) => n.bootstrap) ?? plan.nodes[0];
    if (driver.name === "docker") {
        // The manager's own unix socket, through docker exec: its TCP API takes only the client certificate
        // that lives in the Pulumi state, which status does not read.
        const container = `${namePrefix}-${bootstrap.name}`;
        return {
            manager: `docker exec ${container}`,
            managerDocker: { program: "docker", args: ["-H", driver.localEngine, "exec", container, "docker"] },
            nodeShell: (node) => ({ program: "docker", args: ["-H", driver.localEngine, "exec", "-i", `${namePrefix}-${node.name}`, "bash", "-s"] }),
        };
    }
    const sshOf = (node: PlanNode) => {
        if (!node.ssh) throw new Error(`node ${node.name}: driver ssh needs an ssh host`);
        return node.ssh;
    };
    // The same ssh options as every other ssh the program runs: the node's pinned host key first.
    const sshTo = (node: PlanNode, command: string[]) => {
        const ssh = sshOf(node);
        const sudo = driver.ssh.sudo ? ["sudo", "-n"] : [];
        return { program: "ssh", args: [...ssh.clientOptions, "-o", "ConnectTimeout=5", "-p", String(ssh.port), "-l", ssh.user, "--", ssh.host, ...sudo, ...command] };
    };
    const first = sshOf(bootstrap);
    return {
        manager: `ssh ${first.user}@${first.host}:${first.port}`,
        managerDocker: sshTo(bootstrap, ["docker"]),
        nodeShell: (node) => sshTo(node, ["bash", "-s"]),
    };
}

async function readNodes(docker: (args: string[]) => Promise<Ran>): Promise<ObservedPlatform["nodes"]> {
    const ids = await docker(["node", "ls", "-q"]);
    if (ids.code !== 0) return { error: why(ids) };
    const inspected = await docker(["node", "inspect", ...ids.stdout.split("\n").filter(Boolean)]);
    return inspected.code === 0 ? parseNodeInspect(inspected.stdout) : { error: why(inspected) };
}

async function readServices(docker: (args: string[]) => Promise<Ran>): Promise<ObservedPlatform["services"]> {
    const r = await docker(["service", "ls", "--format", "{{json .}}"]);
    return r.code === 0 ? parseServiceLs(r.stdout) : { error: why(r) };
}

async function readGatewayTasks(plan: Plan, docker: (args: string[]) => Promise<Ran>): Promise<ObservedPlatform["gatewayTasks"]> {
    const r = await docker(["service", "ps", plan.gateway.service, "--filter", "desired-state=running", "--no-trunc", "--format", "{{json .}}"]);
    return r.code === 0 ? parseServicePs(r.stdout) : { error: why(r) };
}

async function probeGatewayNode(plan: Plan, reach: Reach, node: PlanNode, timeoutMs: number): Promise<ObservedGatewayNode> {
    const script = renderNodeScript("gateway-node-status", {
        node: node.name,
        env: {
            KEEPALIVED_STATE_DIR: KEEPALIVED_PATHS.stateDir,
            GATEWAY_STATE_DIR: plan.gateway.stateDir,
            GATEWAY_SERVICE: plan.gateway.service,
            // The same question keepalived's check asks: the health socket, not a port.
            HEALTH_SOCKET: plan.gateway.healthSocket,
            HEALTH_URL: `http://localhost${plan.gateway.healthPath}`,
        },
    });
    const { program, args } = reach.nodeShell(node);
    const r = await run(program, args, timeoutMs, script);
    if (r.code !== 0) return { node: node.name, error: why(r), vrrp: {}, addresses: [], containers: [] };
    return parseGatewayNodeProbe(node.name, r.stdout);
}

/** One GET / for a hostname through `via`, bounded; the release header is read, the body discarded. */
function probeHostnameVia(plan: Plan, hostname: string, tls: boolean, via: string, timeoutMs: number): Promise<ObservedProbe> {
    const sent = probeHostname(hostname);
    const scheme = tls ? "https" : "http";
    const started = Date.now();
    const header = plan.gateway.releaseHeader.toLowerCase();
    return new Promise((resolve) => {
        let settled = false;
        const done = (p: Omit<ObservedProbe, "hostname" | "sent" | "via" | "scheme" | "ms">) => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            resolve({ hostname, sent, via, scheme, ms: Date.now() - started, ...p });
        };
        const options = { host: via, path: "/", method: "GET", headers: { Host: sent }, agent: false as const };
        // TLS: SNI is the hostname; the certificate is not verified (status checks routing, not certificates).
        const req = tls
            ? https.request({ ...options, port: plan.gateway.ports.https, servername: sent, rejectUnauthorized: false })
            : http.request({ ...options, port: plan.gateway.ports.http });
        const timer = setTimeout(() => {
            done({ status: 0, error: `timeout ${timeoutMs} ms` });
            req.destroy();
        }, timeoutMs);
        req.on("response", (res) => {
            const value = res.headers[header];
            done({ status: res.statusCode ?? 0, ...(value ? { servedBy: Array.isArray(value) ? value.join(",") : value } : {}) });
            res.resume();
            req.destroy();
        });
        req.on("error", (e) => done({ status: 0, error: (e as NodeJS.ErrnoException).code ?? e.message }));
        req.end();
    });
}

/** Reads the live platform: the swarm, every gateway node, every hostname through every VIP, all at once. */
export async function gatherStatus(plan: Plan, options: GatherOptions): Promise<ObservedPlatform> {
    const commandTimeoutMs = options.commandTimeoutMs ?? 10_000;
    const probeTimeoutMs = options.probeTimeoutMs ?? 2_000;
    const reach = reachOf(plan, options.namePrefix);
    const docker = (args: string[]) => run(reach.managerDocker.program, [...reach.managerDocker.args, ...args], commandTimeoutMs);
    const byName = new Map(plan.nodes.map((n) => [n.name, n]));
    const addresses = probeAddresses(plan);
    const [nodes, services, gatewayTasks, gatewayNodes, probes] = await Promise.all([
        readNodes(docker),
        readServices(docker),
        readGatewayTasks(plan, docker),
        Promise.all(probedNodes(plan).map((name) => probeGatewayNode(plan, reach, byName.get(name) as PlanNode, commandTimeoutMs))),
        Promise.all(plan.routes.flatMap((route) => addresses.map((via) => probeHostnameVia(plan, route.hostname, route.tls !== undefined, via, probeTimeoutMs)))),
    ]);
    return { manager: reach.manager, nodes, services, gatewayTasks, gatewayNodes, probes };
}
