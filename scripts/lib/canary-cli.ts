// npm run promote -- <stack> --canary <app>:<release> [--hostname <h>] --steps 10,50,100 --interval 60s
//   --max-error-rate 1% --max-p99 500ms [--min-requests 50] [--no-commit] [--dir <project dir>]
// The command line of the canary (scripts/promote.ts hands it every argv that has --canary) and the real deps of
// its steps: `up` through the Pulumi wrapper, metrics from every gateway node, git in --dir.
// SWARM_PLATFORM_ENGINE=lab: `up` is the lab engine's (test/lab/engine/cli.ts) on the stack file just written,
// because the lab cannot run the Pulumi CLI (docs/lab.md). Nothing else differs between the lab and a real stack.
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { formatErrors, planStack, validateConfig } from "../../model";
import { parseDuration, parsePercent, parseSteps } from "../../model/canary";
import { parseStackFile, PROJECT } from "../../model/config";
import { commandsFor, PROJECT_DIR, runPulumi } from "../pulumi";
import { DEFAULT_METRICS_PORT, readGatewayMetrics } from "./canary-metrics";
import { CanaryFailure, type CanaryDeps, type CanaryOptions, runCanary, type UpOutcome } from "./canary-run";

export const CANARY_USAGE =
    "usage: npm run promote -- <stack> --canary <app>:<release> [--hostname <h>] --steps 10,50,100 --interval 60s --max-error-rate 1% --max-p99 500ms [--min-requests 50] [--no-commit] [--dir <project dir>]";

/** A usage error: exit status 2. */
export class CanaryUsageError extends Error {}

export function parseCanaryCommandLine(argv: readonly string[]): CanaryOptions {
    let parsed;
    try {
        parsed = parseArgs({
            args: [...argv],
            options: {
                canary: { type: "string" },
                hostname: { type: "string" },
                steps: { type: "string" },
                interval: { type: "string" },
                "max-error-rate": { type: "string" },
                "max-p99": { type: "string" },
                "min-requests": { type: "string", default: "50" },
                "no-commit": { type: "boolean", default: false },
                dir: { type: "string" },
            },
            strict: true,
            allowPositionals: true,
        });
    } catch (err) {
        throw new CanaryUsageError(`${(err as Error).message}\n${CANARY_USAGE}`);
    }
    const { values, positionals } = parsed;
    if (positionals.length !== 1) throw new CanaryUsageError(`${positionals.length ? `one stack at a time (got ${positionals.join(", ")})` : "the stack is missing"}\n${CANARY_USAGE}`);
    const stack = positionals[0];
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(stack)) throw new CanaryUsageError(`"${stack}" is not a stack name\n${CANARY_USAGE}`);
    const missing = (["steps", "interval", "max-error-rate", "max-p99"] as const).filter((k) => values[k] === undefined);
    if (missing.length) throw new CanaryUsageError(`missing ${missing.map((k) => `--${k}`).join(", ")}\n${CANARY_USAGE}`);
    const m = /^([^:]+):(.+)$/.exec(values.canary ?? "");
    if (!m) throw new CanaryUsageError(`--canary ${values.canary ?? ""}: expected <app>:<release>, e.g. shop:2.1\n${CANARY_USAGE}`);
    const minRequests = values["min-requests"] ?? "50";
    if (!/^\d+$/.test(minRequests)) throw new CanaryUsageError(`--min-requests ${minRequests}: not a whole number`);
    try {
        return {
            stack,
            dir: path.resolve(values.dir ?? PROJECT_DIR),
            app: m[1],
            release: m[2],
            ...(values.hostname !== undefined ? { hostname: values.hostname } : {}),
            steps: parseSteps(values.steps as string),
            intervalSeconds: parseDuration(values.interval as string, "--interval"),
            bounds: {
                maxErrorRate: parsePercent(values["max-error-rate"] as string, "--max-error-rate"),
                maxP99Seconds: parseDuration(values["max-p99"] as string, "--max-p99"),
                minRequests: Number(minRequests),
            },
            commit: !values["no-commit"],
        };
    } catch (err) {
        throw new CanaryUsageError((err as Error).message);
    }
}

/** Every error of a step's stack file, as `key: message` lines (the file's own, then validateConfig's). */
function checkStackText(text: string): string[] {
    const file = parseStackFile(text);
    const result = validateConfig(file.config, { sourceText: file.sourceText });
    const errors = [...file.errors, ...(result.ok ? [] : result.errors)];
    return errors.length ? formatErrors(errors).split("\n").map((l) => l.replace(/^\s*-\s*/, "")) : [];
}

/** The metrics port the stack file sets (`swarm-platform:metrics`), or why the canary cannot read metrics. */
function metricsPortOf(text: string): number {
    const entry = parseStackFile(text).entries.find((e) => e.key === `${PROJECT}:metrics`)?.value as { enabled?: unknown; port?: unknown } | undefined;
    if (entry?.enabled === false) throw new CanaryFailure(`${PROJECT}:metrics.enabled is false: the canary judges each step by the gateway metrics; enable them first`);
    return typeof entry?.port === "number" ? entry.port : DEFAULT_METRICS_PORT;
}

/** The lab's stand-in for `pulumi up`: one lab engine run on the stack file in `dir` (test/lab/engine/cli.ts). */
function labUp(dir: string): Promise<UpOutcome> {
    return new Promise((resolve) => {
        const child = spawn(process.execPath, ["--require", "./test/lab/engine/ts-loader.cjs", "test/lab/engine/cli.ts", "up"], {
            cwd: PROJECT_DIR,
            env: { ...process.env, LAB_STACK_DIR: dir },
            stdio: ["ignore", "pipe", "inherit"],
        });
        let out = "";
        child.stdout.on("data", (c: Buffer) => (out += c.toString()));
        child.on("error", (e) => resolve({ ok: false, message: `lab engine: ${e.message}` }));
        child.on("close", (code) => {
            const line = out.split("\n").reverse().find((l) => l.startsWith("LAB-RESULT "));
            const result = line ? (JSON.parse(line.slice("LAB-RESULT ".length)) as { ok: boolean; errors: string[] }) : undefined;
            if (code === 0 && result?.ok) resolve({ ok: true });
            else resolve({ ok: false, message: `lab engine up: ${result?.errors.join(" | ").slice(0, 2000) ?? `exit ${code}, no result`}` });
        });
    });
}

async function pulumiUp(stack: string, dir: string): Promise<UpOutcome> {
    const outcome = await runPulumi(stack, commandsFor("up", stack, []) ?? [], { projectDir: dir });
    switch (outcome.kind) {
        case "ok":
            return { ok: true };
        case "failed":
            return { ok: false, message: `pulumi up of ${stack} exited ${outcome.status} (its output is above)` };
        case "refused":
            return { ok: false, message: outcome.message };
        case "unavailable":
            return { ok: false, message: outcome.oneLine };
    }
}

export async function canaryMain(argv: readonly string[]): Promise<number> {
    let opts: CanaryOptions;
    try {
        opts = parseCanaryCommandLine(argv);
    } catch (err) {
        if (!(err instanceof CanaryUsageError)) throw err;
        console.error(err.message);
        return 2;
    }
    const file = path.join(opts.dir, `Pulumi.${opts.stack}.yaml`);
    const lab = process.env.SWARM_PLATFORM_ENGINE === "lab";
    if (process.env.SWARM_PLATFORM_ENGINE !== undefined && !lab) {
        console.error(`SWARM_PLATFORM_ENGINE=${process.env.SWARM_PLATFORM_ENGINE}: only "lab" is known (unset: the Pulumi CLI)`);
        return 2;
    }
    try {
        if (!fs.existsSync(file)) throw new CanaryFailure(`no stack file for stack "${opts.stack}": ${file} does not exist`);
        // The platform as deployed before the canary: where its gateways are and how they are reached.
        const before = fs.readFileSync(file, "utf8");
        const port = metricsPortOf(before);
        const errors = checkStackText(before);
        if (errors.length) throw new CanaryFailure(`${file} is invalid before the canary; nothing changed:\n${errors.map((e) => `  - ${e}`).join("\n")}`);
        const parsed = parseStackFile(before);
        const result = validateConfig(parsed.config, { sourceText: parsed.sourceText });
        if (!result.ok) throw new CanaryFailure(`${file} is invalid`);
        const plan = planStack(result.config);
        const deps: CanaryDeps = {
            check: checkStackText,
            up: () => (lab ? labUp(opts.dir) : pulumiUp(opts.stack, opts.dir)),
            readMetrics: () => readGatewayMetrics(plan, { namePrefix: `${PROJECT}-${opts.stack}`, port }),
            sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
            log: (line) => console.log(line),
        };
        return await runCanary(opts, deps);
    } catch (err) {
        if (!(err instanceof CanaryFailure)) throw err;
        console.error(err.message);
        return 1;
    }
}
