// A minimal Docker Engine API client (what the docker provider does through the Go client): JSON over
// HTTP on a unix socket or tcp://host:port. Only what the lab engine needs.
import * as http from "node:http";

export const HOST_ENGINE = "unix:///var/run/docker.sock";

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
    const target = host.startsWith("unix://")
        ? { socketPath: host.slice("unix://".length) }
        : (() => {
              const u = new URL(host.replace(/^tcp:/, "http:"));
              return { host: u.hostname, port: Number(u.port || 2375) };
          })();
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
        const req = http.request(
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
