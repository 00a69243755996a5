// command:local:Command (pulumi-command 1.2.1) — only `triggers` force a replacement (the OLD state's `delete`
// runs); any other change runs `update`, or `create` again when there is no `update`.
import * as crypto from "node:crypto";
import { changedKeys, Handler, Props, run } from "./common";

async function runCommand(name: string, what: "create" | "update" | "delete", script: string, i: Props, extraEnv: Record<string, string> = {}): Promise<{ stdout: string; stderr: string }> {
    const interpreter = ((i.interpreter as string[]) ?? ["/bin/sh", "-c"]).map(String);
    const env = Object.fromEntries(Object.entries((i.environment as Props) ?? {}).map(([k, v]) => [k, String(v)]));
    const r = await run([...interpreter, script], {
        stdin: what === "delete" ? undefined : (i.stdin as string | undefined),
        env: { ...env, ...extraEnv },
        cwd: i.dir as string | undefined,
        timeoutMs: 600_000,
    });
    // The provider trims the trailing newline of stdout/stderr.
    const stdout = r.stdout.replace(/\n$/, "");
    const stderr = r.stderr.replace(/\n$/, "");
    if (r.code !== 0) {
        throw new Error(`command ${name} (${what}) failed: exit status ${r.code}\nstderr: ${stderr.trim().split("\n").slice(-15).join("\n")}`);
    }
    return { stdout, stderr };
}

/** PULUMI_COMMAND_STDOUT/STDERR of the previous run, unless `addPreviousOutputInEnv: false`. */
const previous = (i: Props, state: Props): Record<string, string> =>
    i.addPreviousOutputInEnv === false ? {} : { PULUMI_COMMAND_STDOUT: String(state.stdout ?? ""), PULUMI_COMMAND_STDERR: String(state.stderr ?? "") };

const newId = (name: string) => `${name}-${crypto.randomBytes(4).toString("hex")}`;

export const command: Handler = {
    async create(name, i) {
        const out = i.create ? await runCommand(name, "create", String(i.create), i) : { stdout: "", stderr: "" };
        return { id: newId(name), outputs: { ...i, ...out } };
    },
    async update(name, _id, state, news) {
        const script = news.update ?? news.create;
        if (!script) return { ...news, stdout: state.stdout, stderr: state.stderr };
        return { ...news, ...(await runCommand(name, "update", String(script), news, previous(news, state))) };
    },
    // the state holds the inputs: diff them
    diff(state, olds, news) {
        const changed = changedKeys(state, olds, news);
        return { changed, replaces: changed.filter((k) => k === "triggers") };
    },
    async delete(name, _id, i, state) {
        if (i.delete) await runCommand(name, "delete", String(i.delete), i, previous(i, state));
    },
};
