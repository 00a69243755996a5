// npm run promote -- --from dev --to prod --app shop [--domain sklep.localhost=sklep.pl] [--prune] [--dry-run] [--dir <project>]
// Copies one app's releases from one stack file to another: shows the change, checks the whole target config,
// rewrites only the changed release entries of Pulumi.<to>.yaml (comments and layout stay), then runs
// `pulumi preview` of the target stack when a Pulumi CLI can be had. --dry-run shows the change and writes nothing.
// npm run promote -- <stack> --canary <app>:<release> …: the automated canary within one stack (scripts/lib/canary-cli.ts).
import * as fs from "node:fs";
import * as path from "node:path";
import { isDeepStrictEqual, parseArgs } from "node:util";
import { type ConfigError, formatErrors, type StackConfig, validateConfig } from "../model";
import { domainDiff, formatDomainDiff } from "../model/diff";
import { parseStackFile, PROJECT } from "../model/config";
import { promoteReleases, type PromoteResult, writeAppReleases } from "../model/promote";
import { CANARY_USAGE, canaryMain } from "./lib/canary-cli";
import { PROJECT_DIR, runPulumi } from "./pulumi";

const USAGE =
    "usage: npm run promote -- --from <stack> --to <stack> --app <app> [--domain <from>=<to>]… [--prune] [--dry-run] [--dir <project dir>]";
const USAGES = `${USAGE}\n   or: ${CANARY_USAGE.replace(/^usage: /, "")}`;

/** A problem the operator can fix: printed as it is, exit status 1 (2 for usage). */
class PromoteError extends Error {
    constructor(
        message: string,
        readonly status = 1,
    ) {
        super(message);
    }
}

interface Options {
    readonly from: string;
    readonly to: string;
    readonly app: string;
    readonly domainMap?: Record<string, string>;
    readonly prune: boolean;
    readonly dryRun: boolean;
    readonly dir: string;
}

function parseCommandLine(argv: readonly string[]): Options {
    let values: { from?: string; to?: string; app?: string; domain?: string[]; prune?: boolean; "dry-run"?: boolean; dir?: string; help?: boolean };
    try {
        ({ values } = parseArgs({
            args: [...argv],
            options: {
                from: { type: "string" },
                to: { type: "string" },
                app: { type: "string" },
                domain: { type: "string", multiple: true },
                prune: { type: "boolean", default: false },
                "dry-run": { type: "boolean", default: false },
                dir: { type: "string" },
                help: { type: "boolean", short: "h" },
            },
            strict: true,
            allowPositionals: false,
        }));
    } catch (err) {
        throw new PromoteError(`${(err as Error).message}\n${USAGE}`, 2);
    }
    if (values.help) throw new PromoteError(USAGES, 2);
    const missing = (["from", "to", "app"] as const).filter((k) => !values[k]);
    if (missing.length) throw new PromoteError(`missing ${missing.map((k) => `--${k}`).join(", ")}\n${USAGE}`, 2);
    if (values.from === values.to) throw new PromoteError(`--from and --to are both "${values.from}": promote between two stacks`, 2);
    const domainMap = values.domain?.length
        ? Object.fromEntries(
              values.domain.map((d) => {
                  const [from, to, ...more] = d.split("=");
                  if (!from || !to || more.length) throw new PromoteError(`--domain ${d}: expected <from>=<to>, e.g. sklep.localhost=sklep.pl`, 2);
                  return [from, to];
              }),
          )
        : undefined;
    return {
        from: values.from as string,
        to: values.to as string,
        app: values.app as string,
        domainMap,
        prune: values.prune ?? false,
        dryRun: values["dry-run"] ?? false,
        dir: path.resolve(values.dir ?? PROJECT_DIR),
    };
}

type Apps = Parameters<typeof promoteReleases>[0];

function readStack(dir: string, stack: string): { file: string; text: string; apps: Apps; config: Record<string, unknown>; errors: readonly ConfigError[] } {
    const file = path.join(dir, `Pulumi.${stack}.yaml`);
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(stack) || !fs.existsSync(file)) {
        const stacks = fs.existsSync(dir) ? fs.readdirSync(dir).flatMap((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1] ?? []) : [];
        throw new PromoteError(`no stack file for stack "${stack}": ${file} does not exist (stacks in ${dir}: ${stacks.join(", ") || "none"})`);
    }
    const text = fs.readFileSync(file, "utf8");
    let parsed: ReturnType<typeof parseStackFile>;
    try {
        parsed = parseStackFile(text);
    } catch (err) {
        throw new PromoteError(`${file} is not valid YAML: ${(err as Error).message.split("\n")[0]}`);
    }
    const apps = parsed.config.apps;
    if (!Array.isArray(apps)) throw new PromoteError(`${file}: ${PROJECT}:apps is ${apps === undefined ? "missing" : "not a list"}`);
    return { file, text, apps: apps as Apps, config: parsed.config, errors: parsed.errors };
}

/** What promote would write: the new target text, checked to be a valid stack file that holds exactly `result`. */
function promotedTargetText(
    opts: Options,
    source: ReturnType<typeof readStack>,
    target: ReturnType<typeof readStack>,
    result: PromoteResult,
): { text: string; config: StackConfig } {
    const check = validateConfig({ ...target.config, apps: result.apps });
    const errors = [...target.errors, ...(check.ok ? [] : check.errors)];
    if (errors.length) {
        throw new PromoteError(
            `promoting ${opts.app} would make ${target.file} invalid (${errors.length} error${errors.length === 1 ? "" : "s"}); nothing written:\n${formatErrors(errors)}`,
        );
    }
    const promoted = result.apps.find((a) => a.name === opts.app)!;
    let text: string;
    try {
        text = writeAppReleases(target.text, opts.app, promoted.releases, source.apps.find((a) => a.name === opts.app)?.releases);
    } catch (err) {
        throw new PromoteError(`cannot update ${target.file}: ${(err as Error).message}; nothing written`);
    }
    // The text about to be written must read back as the config just validated.
    const reread = parseStackFile(text);
    if (!isDeepStrictEqual(reread.config.apps, result.apps) || reread.errors.length) {
        throw new PromoteError(`cannot update ${target.file}: the rewritten file does not read back as the promoted apps; nothing written`);
    }
    return { text, config: (check as { config: StackConfig }).config };
}

/** The target's platform-level change, or why it cannot be shown (a target that is invalid before the promotion). */
function platformChange(target: ReturnType<typeof readStack>, promoted: StackConfig): string {
    const before = validateConfig(target.config);
    if (!before.ok) return "(the target is invalid before the promotion, so no platform-level change is shown)";
    return formatDomainDiff(domainDiff(before.config, promoted)).trimEnd();
}

function writeAtomically(file: string, text: string): void {
    const temp = path.join(path.dirname(file), `.${path.basename(file)}.promote-${process.pid}`);
    fs.writeFileSync(temp, text, { mode: fs.statSync(file).mode & 0o777 });
    fs.renameSync(temp, file);
}

export async function main(argv: readonly string[]): Promise<number> {
    if (argv.some((a) => a === "--canary" || a.startsWith("--canary="))) return canaryMain(argv);
    const opts = parseCommandLine(argv);
    const source = readStack(opts.dir, opts.from);
    const target = readStack(opts.dir, opts.to);
    let result: PromoteResult;
    try {
        result = promoteReleases(source.apps, target.apps, { app: opts.app, domainMap: opts.domainMap, prune: opts.prune });
    } catch (err) {
        throw new PromoteError(`cannot promote ${opts.app} from ${opts.from} to ${opts.to}: ${(err as Error).message}`);
    }
    const { text: newText, config: promoted } = promotedTargetText(opts, source, target, result);

    // The change, before anything is written: the releases copied, then what it does to the target platform.
    const shownFile = path.relative(process.cwd(), target.file).startsWith("..") ? target.file : path.relative(process.cwd(), target.file);
    console.log(`promote ${opts.app}: ${opts.from} → ${opts.to} (${shownFile})`);
    console.log(result.changes.length ? result.changes.map((c) => `  ${c}`).join("\n") : "  no release changes");
    console.log(platformChange(target, promoted));
    if (newText === target.text) {
        console.log(`${path.basename(target.file)} already holds these releases; nothing written.`);
        return 0;
    }
    if (opts.dryRun) {
        console.log(`dry run: ${path.basename(target.file)} not written.`);
        return 0;
    }
    writeAtomically(target.file, newText);
    console.log(`wrote ${target.file}`);

    const preview = await runPulumi(opts.to, [["preview", "--stack", opts.to]], { projectDir: opts.dir });
    switch (preview.kind) {
        case "ok":
            return 0;
        case "failed":
            console.error(`pulumi preview of ${opts.to} failed (above); ${path.basename(target.file)} was written.`);
            return preview.status;
        case "refused":
            console.log(`preview skipped: ${preview.message}`);
            return 0;
        case "unavailable":
            console.log(`preview skipped: ${preview.oneLine}; \`npm run preview -- ${opts.to}\` shows it where Pulumi can run.`);
            return 0;
    }
}

if (require.main === module) {
    main(process.argv.slice(2)).then(
        (code) => (process.exitCode = code),
        (err: Error) => {
            console.error(err instanceof PromoteError ? err.message : `promote failed: ${err.message}`);
            process.exitCode = err instanceof PromoteError ? err.status : 1;
        },
    );
}
