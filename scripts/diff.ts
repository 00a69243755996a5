// npm run diff -- <stack> [--base <git ref>]
// What a change to Pulumi.<stack>.yaml does to the platform, as Markdown: first in the platform's words (model/diff.ts),
// then the resources to create, update, replace or delete (this checkout's program under Pulumi mocks, run with
// the base stack file and with the working tree's). Predicted from config: nothing live is read, no CLI needed.
// Exit 0 whether or not something changes; 1 when the working tree's stack file is invalid; 2 on a usage error.
import { execFileSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import * as YAML from "yaml";
import { type ConfigError, formatErrors, planStack, type StackConfig, validateConfig } from "../model";
import { parseStackFile, PROJECT } from "../model/config";
import { changedKeys, domainDiff, formatDomainDiff, NO_CHANGE, type SecretVersions } from "../model/diff";
import { diagramOf } from "../model/diagram";
import { secretRefsOf } from "../model/secrets";
import { formatResourceChanges, resourceChanges, type ResourceSnapshot, snapshotOf } from "./lib/resource-diff";

const USAGE = "usage: npm run diff -- <stack> [--base <git ref>]   (e.g. npm run diff -- prod --base origin/main)";

export interface DiffRun {
    readonly code: number;
    readonly stdout: string;
    readonly stderr: string;
}

class UsageError extends Error {}

function parseCommandLine(argv: readonly string[]): { stack: string; base?: string } {
    let parsed: { values: { base?: string; help?: boolean }; positionals: string[] };
    try {
        parsed = parseArgs({ args: [...argv], options: { base: { type: "string" }, help: { type: "boolean", short: "h" } }, allowPositionals: true, strict: true });
    } catch (err) {
        throw new UsageError(`${(err as Error).message}\n${USAGE}`);
    }
    const { values, positionals } = parsed;
    if (values.help) throw new UsageError(USAGE);
    if (positionals.length !== 1) throw new UsageError(`${positionals.length ? `one stack name expected, got ${positionals.join(" ")}` : "missing the stack name"}\n${USAGE}`);
    const stack = positionals[0];
    if (!/^[A-Za-z0-9_.-]+$/.test(stack)) throw new UsageError(`"${stack}" is not a stack name (letters, digits, '.', '_', '-')\n${USAGE}`);
    if (values.base !== undefined && (values.base === "" || values.base.startsWith("-"))) throw new UsageError(`--base needs a git ref\n${USAGE}`);
    return { stack, ...(values.base !== undefined ? { base: values.base } : {}) };
}

// ---- git ----------------------------------------------------------------------------------------

function git(cwd: string, args: string[]): string | undefined {
    try {
        return execFileSync("git", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
    } catch {
        return undefined;
    }
}

interface Base {
    /** The commit compared with; undefined when the repository has no commit yet. */
    readonly commit?: string;
    /** How it was chosen, for the header. */
    readonly description: string;
}

/** The merge-base with the default branch (origin/main, else main), else HEAD; or the ref given. */
function resolveBase(repo: string, ref: string | undefined): Base {
    const short = (c: string) => c.slice(0, 12);
    if (ref !== undefined) {
        const commit = git(repo, ["rev-parse", "--verify", "--quiet", `${ref}^{commit}`]);
        if (!commit) throw new UsageError(`--base ${ref}: not a commit in ${repo}\n${USAGE}`);
        return { commit, description: `\`${ref}\` (${short(commit)})` };
    }
    for (const branch of ["origin/main", "main"]) {
        const commit = git(repo, ["merge-base", "HEAD", branch]);
        if (commit) return { commit, description: `the merge-base with \`${branch}\` (${short(commit)})` };
    }
    const head = git(repo, ["rev-parse", "--verify", "--quiet", "HEAD"]);
    return head ? { commit: head, description: `\`HEAD\` (${short(head)}; no \`main\` branch to compare with)` } : { description: "nothing (no commit yet)" };
}

/** The file at a commit, or undefined when it does not exist there. */
function fileAt(repo: string, commit: string | undefined, file: string): string | undefined {
    if (!commit) return undefined;
    return git(repo, ["cat-file", "-e", `${commit}:${file}`]) === undefined ? undefined : (git(repo, ["show", `${commit}:${file}`]) ?? "");
}

// ---- stack files --------------------------------------------------------------------------------

interface Side {
    readonly config: StackConfig;
    /** The stack file's platform keys as written (what the program reads). */
    readonly raw: Record<string, unknown>;
    /** `secure:` keys → a hash of their ciphertext. */
    readonly secrets: SecretVersions;
}

type Loaded = { ok: true; side: Side } | { ok: false; errors: ConfigError[] };

/** `secure:` entries of this project → a hash of the ciphertext (changes exactly when the ciphertext does). */
function secureVersionsOf(text: string): SecretVersions {
    const doc = (YAML.parse(text) ?? {}) as { config?: Record<string, unknown> };
    const out: Record<string, string> = {};
    for (const [fullKey, value] of Object.entries(doc.config ?? {})) {
        const [ns, key] = fullKey.includes(":") ? fullKey.split(":", 2) : [PROJECT, fullKey];
        if (ns === PROJECT && value && typeof value === "object" && "secure" in value) {
            out[key] = crypto.createHash("sha256").update(String((value as { secure: unknown }).secure)).digest("hex").slice(0, 16);
        }
    }
    return out;
}

function load(text: string): Loaded {
    let file: ReturnType<typeof parseStackFile>;
    try {
        file = parseStackFile(text);
    } catch (err) {
        return { ok: false, errors: [{ path: "(file)", message: `not YAML: ${(err as Error).message.split("\n")[0]}` }] };
    }
    const result = validateConfig(file.config);
    const errors = [...file.errors, ...(result.ok ? [] : result.errors)];
    if (!result.ok || errors.length) return { ok: false, errors };
    return { ok: true, side: { config: result.config, raw: file.config, secrets: secureVersionsOf(text) } };
}

/** Secret stand-ins for the mock run: derived from the ciphertext's hash, never a value. */
function standIns(side: Side): { secrets: Record<string, string>; missing: string[] } {
    const secrets: Record<string, string> = {};
    const missing: string[] = [];
    for (const ref of secretRefsOf(side.config)) {
        const version = side.secrets[ref.key];
        if (version === undefined) missing.push(`\`${ref.path}\`: secret \`${ref.key}\` is not set in the stack file (\`pulumi up\` would stop here)`);
        secrets[ref.key] = `secret-stand-in-${ref.key}-${version ?? "unset"}`;
    }
    return { secrets, missing };
}

// ---- the report ---------------------------------------------------------------------------------

/** Runs the diff for `argv` in the git repository around `cwd`; prints nothing itself. */
export async function runDiff(argv: readonly string[], cwd = process.cwd()): Promise<DiffRun> {
    let args: { stack: string; base?: string };
    let repo: string;
    let base: Base;
    try {
        args = parseCommandLine(argv);
        const top = git(cwd, ["rev-parse", "--show-toplevel"]);
        if (!top) throw new UsageError(`${cwd} is not inside a git repository: the diff compares with a git ref\n${USAGE}`);
        repo = top;
        base = resolveBase(repo, args.base);
    } catch (err) {
        if (err instanceof UsageError) return { code: 2, stdout: "", stderr: `${err.message}\n` };
        throw err;
    }
    const fileName = `Pulumi.${args.stack}.yaml`;
    const headPath = path.join(repo, fileName);
    if (!fs.existsSync(headPath)) return { code: 2, stdout: "", stderr: `${fileName} does not exist in ${repo}: no stack "${args.stack}"\n${USAGE}\n` };

    const head = load(fs.readFileSync(headPath, "utf8"));
    if (!head.ok) {
        return { code: 1, stdout: "", stderr: `${fileName} is invalid (${head.errors.length} error${head.errors.length === 1 ? "" : "s"}):\n${formatErrors(head.errors)}\n` };
    }
    const baseText = fileAt(repo, base.commit, fileName);
    const before = baseText === undefined ? undefined : load(baseText);

    const out: string[] = [];
    out.push(`### Platform change: stack \`${args.stack}\``);
    out.push("");
    out.push(
        `> Predicted from the stack config, not read from the live platform: \`${fileName}\` at ${base.description}` +
            `${baseText === undefined ? ", where it does not exist (everything is added)," : ""} → the working tree.`,
    );
    out.push("");
    const headRun = standIns(head.side);
    if (headRun.missing.length) {
        out.push(...headRun.missing.map((m) => `> - ⚠ ${m}`));
        out.push("");
    }
    if (before && !before.ok) {
        out.push(`**The base's \`${fileName}\` is invalid** (${before.errors.length} error${before.errors.length === 1 ? "" : "s"}), so everything is shown as added:`);
        out.push("");
        out.push(...before.errors.map((e) => `- \`${e.path}\`: ${e.message}`));
        out.push("");
    }
    const was = before?.ok ? before.side : undefined;
    const changes = domainDiff(was?.config, head.side.config, { secrets: { ...(was ? { before: was.secrets } : {}), after: head.side.secrets } });
    out.push(formatDomainDiff(changes).trimEnd());
    out.push("");
    if (changes.length) {
        // The platform after the change, changed parts marked: GitHub draws the fence in the comment.
        out.push("#### Diagram (changed parts marked)");
        out.push("");
        out.push("```mermaid", diagramOf(planStack(head.side.config), { changed: changedKeys(changes) }).trimEnd(), "```");
        out.push("");
    }

    out.push("#### Resources");
    out.push("");
    out.push("_This checkout's program run under Pulumi mocks with each stack file; changes to the program itself (templates, components) are not in this list: `pulumi preview` shows them._");
    out.push("");
    let resources: string;
    try {
        const beforeSnapshot = was ? await snapshotOf({ stack: args.stack, config: was.raw, secrets: standIns(was).secrets }) : new Map<string, ResourceSnapshot>();
        const afterSnapshot = await snapshotOf({ stack: args.stack, config: head.side.raw, secrets: headRun.secrets });
        resources = formatResourceChanges(resourceChanges(beforeSnapshot, afterSnapshot));
    } catch (err) {
        return { code: 1, stdout: "", stderr: `${fileName}: the program fails under mocks, so no resource changes can be predicted:\n${(err as Error).message}\n` };
    }
    out.push(resources.trimEnd());
    return { code: 0, stdout: `${out.join("\n")}\n`, stderr: "" };
}

export { NO_CHANGE };

if (require.main === module) {
    runDiff(process.argv.slice(2)).then(
        (r) => {
            process.stdout.write(r.stdout);
            process.stderr.write(r.stderr);
            process.exitCode = r.code;
        },
        (err: Error) => {
            console.error(err.stack ?? err.message);
            process.exitCode = 1;
        },
    );
}
