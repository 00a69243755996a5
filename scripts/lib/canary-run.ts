// The canary's steps (`npm run promote -- <stack> --canary <app>:<release> …`): each step writes the stack file,
// runs `up`, commits the file, reads the gateway metrics right after the up and again after the interval, and
// judges the canary release's answers in between. A bound exceeded, a failed `up` or a failed read writes the
// stack file back as it was before the canary, runs `up` and commits that: the hostname is the stable release's
// again. What runs `up`, reads metrics, waits and commits is passed in (deps), so the steps are tested with fakes.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { type CanaryPlan, canaryCommitMessage, planCanary } from "../../model/canary";
import { counterDeltas, formatPercent, judgeStep, releaseFigures, type SourceRead, type StepBounds } from "../../model/metrics-read";

export interface CanaryOptions {
    readonly stack: string;
    readonly dir: string;
    readonly app: string;
    readonly release: string;
    readonly hostname?: string;
    readonly steps: readonly number[];
    readonly intervalSeconds: number;
    readonly bounds: StepBounds;
    /** false (--no-commit): git is not used at all. */
    readonly commit: boolean;
}

export type UpOutcome = { readonly ok: true } | { readonly ok: false; readonly message: string };

export interface CanaryDeps {
    /** The whole config of a step's stack file checked (parse + validateConfig): the errors, each naming its key. */
    check(text: string): readonly string[];
    /** `up` of the stack with the stack file as just written. */
    up(): Promise<UpOutcome>;
    /** Every gateway's metrics now; throws naming a gateway that did not answer. */
    readMetrics(): Promise<SourceRead[]>;
    sleep(ms: number): Promise<void>;
    log(line: string): void;
}

/** A canary that stopped: the message names the step and the figures; the process exits 1. */
export class CanaryFailure extends Error {}

function git(dir: string, args: readonly string[]): { status: number; out: string } {
    const r = spawnSync("git", ["-C", dir, ...args], { encoding: "utf8" });
    return { status: r.status ?? 1, out: `${r.stdout ?? ""}${r.stderr ?? ""}`.trim() };
}

/** Refuses a stack file git does not hold as committed: the canary's commits must be the canary's changes only. */
export function assertCommitted(dir: string, file: string): void {
    const name = path.relative(dir, file);
    const r = git(dir, ["status", "--porcelain", "--", name]);
    if (r.status !== 0) throw new CanaryFailure(`${file}: not in a git repository (${r.out.split("\n")[0]}); the canary commits each step: run it in the project's clone, or pass --no-commit`);
    if (r.out) throw new CanaryFailure(`${file} has uncommitted changes (${r.out.split("\n")[0].trim()}); commit or discard them first, so the canary's commits hold only its own steps (or pass --no-commit)`);
}

function commitFile(dir: string, file: string, message: string): string | undefined {
    const name = path.relative(dir, file);
    if (git(dir, ["diff", "--quiet", "HEAD", "--", name]).status === 0) return undefined; // the file is as committed
    const r = git(dir, ["commit", "-q", "-m", message, "--", name]);
    if (r.status !== 0) throw new Error(`git commit of ${name} failed: ${r.out}`);
    return git(dir, ["rev-parse", "--short", "HEAD"]).out;
}

function writeAtomically(file: string, text: string): void {
    const temp = path.join(path.dirname(file), `.${path.basename(file)}.canary-${process.pid}`);
    fs.writeFileSync(temp, text, { mode: fs.statSync(file).mode & 0o777 });
    fs.renameSync(temp, file);
}

/** Plans every step (all checks before anything changes), then runs them. 0: promoted; throws CanaryFailure otherwise. */
export async function runCanary(opts: CanaryOptions, deps: CanaryDeps): Promise<number> {
    const file = path.join(opts.dir, `Pulumi.${opts.stack}.yaml`);
    if (!fs.existsSync(file)) throw new CanaryFailure(`no stack file for stack "${opts.stack}": ${file} does not exist`);
    if (opts.commit) assertCommitted(opts.dir, file);
    const original = fs.readFileSync(file, "utf8");
    let plan: CanaryPlan;
    try {
        plan = planCanary(original, { app: opts.app, release: opts.release, hostname: opts.hostname }, opts.steps, deps.check);
    } catch (err) {
        throw new CanaryFailure((err as Error).message);
    }
    const { start } = plan;
    const b = opts.bounds;
    deps.log(
        `canary ${start.app} ${start.canary} on ${start.hostname} (from ${start.stable}): steps ${opts.steps.map((s) => `${s}%`).join(", ")}, ` +
            `${opts.intervalSeconds} s each; bounds: error rate ≤ ${formatPercent(b.maxErrorRate)}, p99 ≤ ${Math.round(b.maxP99Seconds * 1000)} ms, ≥ ${b.minRequests} requests`,
    );
    const commit = (message: string) => {
        if (!opts.commit) return;
        const id = commitFile(opts.dir, file, message);
        if (id) deps.log(`  committed ${id}: ${message}`);
    };
    const selector = { hostname: start.hostname, app: start.app, release: start.canary };

    let failure: string | undefined;
    for (const [i, step] of plan.steps.entries()) {
        const label = `step ${i + 1} (${step.percent}%)`;
        writeAtomically(file, step.text);
        const up = await deps.up();
        if (!up.ok) {
            failure = `${label}: up failed: ${up.message}`;
            break;
        }
        commit(canaryCommitMessage(start, `${step.percent}%`));
        let figures;
        try {
            const baseline = await deps.readMetrics();
            await deps.sleep(opts.intervalSeconds * 1000);
            figures = releaseFigures(counterDeltas(baseline, await deps.readMetrics()), selector);
        } catch (err) {
            failure = `${label}: no metrics: ${(err as Error).message}`;
            break;
        }
        const verdict = judgeStep(figures, b);
        deps.log(`step ${i + 1}/${plan.steps.length} (${step.percent}%): ${start.canary} ${verdict.summary}: ${verdict.ok ? "ok" : "stop"}`);
        if (!verdict.ok) {
            failure = `${label}: ${verdict.reason}`;
            break;
        }
    }
    if (failure === undefined) {
        deps.log(`canary ${start.app} ${start.canary} on ${start.hostname}: every step passed; ${start.canary} serves ${start.hostname}`);
        return 0;
    }

    // Back to the file as it was: the stable release serves the hostname alone again.
    deps.log(`${failure}; rolling back to ${start.stable} on ${start.hostname}`);
    writeAtomically(file, original);
    const back = await deps.up();
    if (!back.ok) {
        throw new CanaryFailure(
            `canary ${start.app} ${start.canary} stopped at ${failure}\nthe rollback's up failed too: ${back.message}\n` +
                `${path.basename(file)} holds the config from before the canary; run \`npm run up -- ${opts.stack}\` once the cause is fixed`,
        );
    }
    commit(canaryCommitMessage(start, `rolled back to ${start.stable} (${failure.split(":")[0]})`));
    throw new CanaryFailure(`canary ${start.app} ${start.canary} on ${start.hostname} rolled back to ${start.stable}: ${failure}`);
}
