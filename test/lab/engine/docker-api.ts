// A minimal Docker Engine API client (what the docker provider does through the Go client): JSON over
// HTTP on a unix socket or tcp://host:port, over TLS with a client certificate when the provider that points at
// that host carries ca/cert/key material (as the provider does). Only what the lab engine needs.
import * as fs from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
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

/** The docker CLI's global flags for `host`: -H, plus --tlsverify and the client files when it has TLS. */
export function dockerHostArgs(host: string): string[] {
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
    const target = host.startsWith("unix://")
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
        req.on("error", reject);
        if (payload) req.write(payload);
        req.end();
    });
}
