// command:remote:Command (pulumi-command 1.2.1), performed over REAL ssh with the OpenSSH client. The same steps as
// command:local:Command (only `triggers` force a replacement, whose OLD state's `delete` runs against the OLD
// connection; other changes run `update`, or `create` again) — see command.ts — plus what the provider's ssh
// session does: the connection's user/host/port, its private key (written to a 0600 file for this one ssh, removed
// after), its `hostKey` as the ONLY known host key (StrictHostKeyChecking yes, only that key's algorithm offered,
// as ssh.FixedHostKey does), no ssh config or known_hosts file of the machine, no pty, `stdin` on the session's
// stdin, dials retried up to `dialErrorLimit` times. Rules: docs/provider-rules.md.
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { knownHostsLine, parseSshHostKey } from "../../../../model/nodes";
import { changedKeys, Handler, Props, run, sleep } from "./common";

interface Connection {
    host: string;
    port?: number;
    user?: string;
    privateKey?: string;
    password?: string;
    hostKey?: string;
    dialErrorLimit?: number;
    perDialTimeout?: number;
    proxy?: unknown;
    agentSocketPath?: string;
    privateKeyPassword?: string;
}

/** The environment a Debian sshd accepts by default (AcceptEnv LANG LC_*): the provider's Setenv of anything else fails. */
const ACCEPTED_ENV = /^(LANG|LC_[A-Z_]+)$/;

/**
 * An ssh failure before the remote command ran — the provider's dial (connect, handshake, host key, authentication),
 * which it retries whatever the cause — as opposed to the command's own exit status.
 */
const DIAL_FAILURE = /ssh: connect to host|Connection refused|Connection timed out|No route to host|Network is unreachable|Connection closed by .* port|Connection reset by|kex_exchange_identification|Permission denied \(|Host key verification failed|no matching host key type/;

function connectionOf(i: Props): Connection {
    const c = i.connection as Connection | undefined;
    if (!c || typeof c.host !== "string" || !c.host) throw new Error("command:remote:Command: connection.host is required");
    if (c.password !== undefined || c.proxy !== undefined || c.agentSocketPath !== undefined || c.privateKeyPassword !== undefined) {
        throw new Error("lab engine: only key-based connections are modelled (no password, proxy, agent socket or key passphrase)");
    }
    if (c.privateKey === undefined) throw new Error("lab engine: a remote command needs connection.privateKey");
    return c;
}

/** ssh's argv for one session running `command` on the connection's host. */
function sshArgv(c: Connection, dir: string, command: string, env: Record<string, string>): string[] {
    const port = Number(c.port ?? 22);
    const keyFile = path.join(dir, "id");
    fs.writeFileSync(keyFile, c.privateKey!.endsWith("\n") ? c.privateKey! : `${c.privateKey}\n`, { mode: 0o600 });
    // the provider authenticates with privateKey, then with the agent's keys when SSH_AUTH_SOCK is set (ssh does the same)
    const opts = ["-F", "/dev/null", "-i", keyFile, "-o", "BatchMode=yes", "-o", "PasswordAuthentication=no"];
    if (c.hostKey !== undefined) {
        const parsed = parseSshHostKey(c.hostKey.trim());
        if ("error" in parsed) throw new Error(`connection.hostKey for ${c.host}: ${parsed.error}`);
        const knownHosts = path.join(dir, "known_hosts");
        fs.writeFileSync(knownHosts, `${knownHostsLine(c.host, port, parsed.key)}\n`, { mode: 0o600 });
        opts.push("-o", "StrictHostKeyChecking=yes", "-o", `UserKnownHostsFile=${knownHosts}`, "-o", "GlobalKnownHostsFile=/dev/null", "-o", "UpdateHostKeys=no", "-o", `HostKeyAlgorithms=${parsed.key.split(" ")[0]}`);
    } else {
        // the provider without a hostKey accepts any key (ssh.InsecureIgnoreHostKey)
        opts.push("-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "GlobalKnownHostsFile=/dev/null");
    }
    opts.push("-o", `ConnectTimeout=${Number(c.perDialTimeout ?? 15)}`);
    for (const [k, v] of Object.entries(env)) opts.push("-o", `SetEnv=${k}=${v}`);
    return ["ssh", ...opts, "-T", "-p", String(port), "-l", c.user ?? "root", "--", c.host, command];
}

async function runRemote(name: string, what: "create" | "update" | "delete", command: string, c: Connection, i: Props, extraEnv: Record<string, string> = {}): Promise<{ stdout: string; stderr: string }> {
    const env = { ...Object.fromEntries(Object.entries((i.environment as Props) ?? {}).map(([k, v]) => [k, String(v)])), ...extraEnv };
    for (const k of Object.keys(env)) {
        if (!ACCEPTED_ENV.test(k)) {
            throw new Error(`command ${name} (${what}): Unable to set '${k}'. This only works if your SSH server is configured to accept these variables via AcceptEnv.`);
        }
    }
    const limit = Math.max(1, Number(c.dialErrorLimit ?? 10));
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `swarm-lab-remote-${crypto.randomBytes(3).toString("hex")}-`));
    fs.chmodSync(dir, 0o700);
    try {
        for (let attempt = 1; ; attempt++) {
            const r = await run(sshArgv(c, dir, command, env), { stdin: what === "delete" ? undefined : (i.stdin as string | undefined), timeoutMs: 600_000 });
            const stdout = r.stdout.replace(/\n$/, "");
            const stderr = r.stderr.replace(/\n$/, "");
            if (r.code === 255 && stdout === "" && DIAL_FAILURE.test(stderr)) {
                if (attempt < limit) {
                    await sleep(1000);
                    continue;
                }
                throw new Error(`command ${name} (${what}): unable to connect to ${c.user ?? "root"}@${c.host}:${c.port ?? 22} after ${attempt} tries: ${stderr.trim().split("\n").slice(-3).join(" / ")}`);
            }
            if (r.code !== 0) {
                throw new Error(`command ${name} (${what}) on ${c.host} failed: exit status ${r.code}\nstderr: ${stderr.trim().split("\n").slice(-15).join("\n")}`);
            }
            return { stdout, stderr };
        }
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

/** PULUMI_COMMAND_STDOUT/STDERR of the previous run (set on the session, like any environment), unless `addPreviousOutputInEnv: false`. */
const previous = (i: Props, state: Props): Record<string, string> =>
    i.addPreviousOutputInEnv === false ? {} : { PULUMI_COMMAND_STDOUT: String(state.stdout ?? ""), PULUMI_COMMAND_STDERR: String(state.stderr ?? "") };

const newId = (name: string) => `${name}-${crypto.randomBytes(4).toString("hex")}`;

export const remoteCommand: Handler = {
    async create(name, i) {
        const c = connectionOf(i);
        const out = i.create ? await runRemote(name, "create", String(i.create), c, i) : { stdout: "", stderr: "" };
        return { id: newId(name), outputs: { ...i, ...out } };
    },
    async update(name, _id, state, news) {
        const script = news.update ?? news.create;
        if (!script) return { ...news, stdout: state.stdout, stderr: state.stderr };
        return { ...news, ...(await runRemote(name, "update", String(script), connectionOf(news), news, previous(news, state))) };
    },
    // the state holds the inputs: diff them
    diff(state, olds, news) {
        const changed = changedKeys(state, olds, news);
        return { changed, replaces: changed.filter((k) => k === "triggers") };
    },
    // with the connection kept in the state: a moved host does not get the delete (the old one does)
    async delete(name, _id, i, state) {
        if (i.delete) await runRemote(name, "delete", String(i.delete), connectionOf(i), i, previous(i, state));
    },
};
