// A minimal Docker Engine API client (what the docker provider does through the Go client): JSON over
// HTTP on a unix socket or tcp://host:port, over TLS with a client certificate when the provider that points at
// that host carries ca/cert/key material (as the provider does), or over ssh://user@host:port through the local
// OpenSSH client running `docker system dial-stdio` on the host (the provider's connection helper), with the
// provider's sshOpts. Only what the lab engine needs.
import { spawn } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";

export const HOST_ENGINE = "unix:///var/run/docker.sock";

/** A provider's caMaterial / certMaterial / keyMaterial (PEM). */
export interface EngineTls {
    readonly ca: string;
    readonly cert: string;
    readonly key: string;
}

const tlsByHost = new Map<string, EngineTls & { readonly dir: string }>();
let tlsRoot = path.resolve(".lab", "engine-tls");

/** Where the client files for the docker CLI are written (one folder per engine, files 0600). */
export function setEngineTlsRoot(dir: string): void {
    tlsRoot = dir;
}

/** From now on, `host` is reached with this client TLS (API calls and the docker CLI). */
export function useEngineTls(host: string, tls: EngineTls): void {
    const dir = path.join(tlsRoot, host.replace(/[^A-Za-z0-9.-]+/g, "_"));
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    // the docker CLI's DOCKER_CERT_PATH names
    for (const [file, pem] of [["ca.pem", tls.ca], ["cert.pem", tls.cert], ["key.pem", tls.key]] as const) {
        fs.writeFileSync(path.join(dir, file), pem, { mode: 0o600 });
    }
    tlsByHost.set(host, { ...tls, dir });
}

// ---- ssh:// engines ------------------------------------------------------------------------------

interface SshEngine {
    /** The local unix socket whose every connection is one `ssh … docker system dial-stdio`. */
    readonly socket: string;
    /** The last lines ssh printed on stderr (why a connection failed). */
    lastError: string;
}
const sshByHost = new Map<string, SshEngine>();

/**
 * The argv of the provider's connection helper for `ssh://user@host:port` (docker/cli connhelper
 * GetConnectionHelperWithSSHOpts): the provider's sshOpts first, then `-l user -p port -- host docker system dial-stdio`.
 */
export function sshDialArgv(host: string, sshOpts: readonly string[]): string[] {
    const u = new URL(host);
    if (u.protocol !== "ssh:" || !u.hostname) throw new Error(`not an ssh:// engine address: ${host}`);
    return [...sshOpts, ...(u.username ? ["-l", decodeURIComponent(u.username)] : []), ...(u.port ? ["-p", u.port] : []), "--", u.hostname, "docker", "system", "dial-stdio"];
}

/**
 * From now on, `host` (ssh://…) is reached as the docker provider reaches it: each connection runs the local `ssh`
 * with the provider's sshOpts and `docker system dial-stdio` on the node, its stdio carrying the engine API. The
 * lab's API calls and its docker CLI calls both go through one local relay socket (the CLI cannot take sshOpts).
 */
export function useEngineSsh(host: string, sshOpts: readonly string[]): void {
    const argv = sshDialArgv(host, sshOpts);
    const key = `${host}\n${argv.join("\n")}`;
    const prior = sshByHost.get(host) as (SshEngine & { key?: string; server?: net.Server }) | undefined;
    if (prior?.key === key) return;
    prior?.server?.close();
    const socket = path.join(os.tmpdir(), `swarm-lab-ssh-${process.pid}-${crypto.createHash("sha256").update(key).digest("hex").slice(0, 12)}.sock`);
    fs.rmSync(socket, { force: true });
    const engine: SshEngine & { key: string; server?: net.Server } = { socket, lastError: "", key };
    const server = net.createServer((conn) => {
        const ssh = spawn("ssh", argv, { stdio: ["pipe", "pipe", "pipe"] });
        let stderr = "";
        ssh.stderr.on("data", (c: Buffer) => (stderr = (stderr + c.toString()).slice(-2000)));
        conn.pipe(ssh.stdin);
        ssh.stdout.pipe(conn, { end: false }); // closed below, once ssh's reason is known
        ssh.stdin.on("error", () => undefined);
        conn.on("error", () => ssh.kill());
        conn.on("close", () => ssh.kill());
        ssh.on("close", (code) => {
            if (code && code !== 0 && stderr.trim()) engine.lastError = stderr.trim().split("\n").slice(-3).join(" / ");
            conn.end();
        });
    });
    server.listen(socket);
    server.unref(); // the relay never keeps the engine's process alive
    process.once("exit", () => fs.rmSync(socket, { force: true }));
    engine.server = server;
    sshByHost.set(host, engine);
}

/** The docker CLI's global flags for `host`: -H, plus --tlsverify and the client files when it has TLS. */
export function dockerHostArgs(host: string): string[] {
    const ssh = sshByHost.get(host);
    if (ssh) return ["-H", `unix://${ssh.socket}`];
    if (host.startsWith("ssh://")) throw new Error(`${host}: no docker provider with this ssh:// host was seen (its sshOpts are unknown)`);
    const tls = tlsByHost.get(host);
    if (!tls) return ["-H", host];
    return ["--tlsverify", `--tlscacert=${tls.dir}/ca.pem`, `--tlscert=${tls.dir}/cert.pem`, `--tlskey=${tls.dir}/key.pem`, "-H", host];
}

export class DockerApiError extends Error {
    constructor(public readonly status: number, message: string) {
        super(message);
    }
}

export interface ApiOptions {
    /** Per-request timeout in ms (default 60 s). */
    readonly timeoutMs?: number;
}

/** One HTTP request to the engine at `host` (unix:///path or tcp://h:p). Resolves with the parsed JSON body (or text). */
export function dockerApi(host: string, method: string, path: string, body?: unknown, opts: ApiOptions = {}): Promise<unknown> {
    const tls = tlsByHost.get(host);
    const ssh = sshByHost.get(host);
    if (!ssh && host.startsWith("ssh://")) return Promise.reject(new Error(`${host}: no docker provider with this ssh:// host was seen (its sshOpts are unknown)`));
    const target = ssh
        ? { socketPath: ssh.socket }
        : host.startsWith("unix://")
        ? { socketPath: host.slice("unix://".length) }
        : (() => {
              const u = new URL(host.replace(/^tcp:/, "http:"));
              // with TLS: the server certificate is checked against the CA (and the host name), and ours is sent
              return { host: u.hostname, port: Number(u.port || (tls ? 2376 : 2375)), ...(tls ? { ca: tls.ca, cert: tls.cert, key: tls.key } : {}) };
          })();
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
        const req = (tls ? https : http).request(
            {
                ...target,
                method,
                path: `/v1.41${path}`,
                headers: payload ? { "Content-Type": "application/json", "Content-Length": payload.length } : {},
                timeout: opts.timeoutMs ?? 60_000,
            },
            (res) => {
                const chunks: Buffer[] = [];
                res.on("data", (c: Buffer) => chunks.push(c));
                res.on("end", () => {
                    const text = Buffer.concat(chunks).toString("utf8");
                    let parsed: unknown = text;
                    try {
                        parsed = text ? JSON.parse(text) : undefined;
                    } catch {
                        /* plain text */
                    }
                    const status = res.statusCode ?? 0;
                    if (status >= 400) {
                        const msg = (parsed as { message?: string })?.message ?? text;
                        reject(new DockerApiError(status, `${method} ${path} on ${host}: ${status} ${msg}`));
                    } else resolve(parsed);
                });
            },
        );
        req.on("timeout", () => req.destroy(new Error(`${method} ${path} on ${host}: timed out`)));
        req.on("error", (e) => reject(ssh?.lastError ? new Error(`${e.message} (ssh: ${ssh.lastError})`) : e));
        if (payload) req.write(payload);
        req.end();
    });
}
