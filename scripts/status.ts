// npm run status -- [<stack>] [--stack-file <file>] [--json]
// The live platform at a glance: nodes, the virtual IP and every keepalived, gateway tasks, releases, and every
// hostname probed through the VIP, each compared with the stack's plan. Exit 0 healthy, 1 unhealthy, 2 when it
// could not start (usage, an invalid stack file). docs/status.md describes the output and the JSON shape.
import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { PROJECT, readStackFile } from "../model/config";
import { type ConfigError, formatErrors, type Plan, planStack, validateConfig } from "../model";
import { evaluateStatus, formatStatusTable, statusExitCode } from "../model/status";
import { gatherStatus } from "./lib/status-gather";

const USAGE = "usage: npm run status -- [<stack>] [--stack-file <Pulumi.<stack>.yaml>] [--json]   (stack: dev when omitted)";
const PROJECT_DIR = path.resolve(__dirname, "..");

interface Args {
    readonly stack: string;
    readonly stackFile: string;
    readonly json: boolean;
}

class UsageError extends Error {}

function parseCommandLine(argv: readonly string[]): Args {
    let parsed: { values: { "stack-file"?: string; json?: boolean; help?: boolean }; positionals: string[] };
    try {
        parsed = parseArgs({
            args: [...argv],
            options: { "stack-file": { type: "string" }, json: { type: "boolean" }, help: { type: "boolean", short: "h" } },
            strict: true,
            allowPositionals: true,
        });
    } catch (err) {
        throw new UsageError(`${(err as Error).message}\n${USAGE}`);
    }
    const { values, positionals } = parsed;
    if (values.help) throw new UsageError(USAGE);
    if (positionals.length > 1) throw new UsageError(`one stack at a time (got ${positionals.join(", ")})\n${USAGE}`);
    const stack = positionals[0] ?? "dev";
    if (!/^[A-Za-z0-9._-]+$/.test(stack)) throw new UsageError(`"${stack}" is not a stack name\n${USAGE}`);
    return { stack, stackFile: values["stack-file"] ?? path.join(PROJECT_DIR, `Pulumi.${stack}.yaml`), json: values.json ?? false };
}

/** The stack file's plan, or every config error at once. */
function planOf(stackFile: string): { ok: true; plan: Plan } | { ok: false; errors: string } {
    if (!fs.existsSync(stackFile)) return { ok: false, errors: `stack file ${stackFile} does not exist` };
    const file = readStackFile(stackFile);
    const result = validateConfig(file.config);
    const errors: ConfigError[] = [...file.errors, ...(result.ok ? [] : result.errors)];
    if (!result.ok || errors.length) {
        return { ok: false, errors: `${stackFile} is invalid (${errors.length} error${errors.length === 1 ? "" : "s"}):\n${formatErrors(errors)}` };
    }
    return { ok: true, plan: planStack(result.config) };
}

export async function main(argv: readonly string[]): Promise<number> {
    let args: Args;
    try {
        args = parseCommandLine(argv);
    } catch (err) {
        if (!(err instanceof UsageError)) throw err;
        console.error(err.message);
        return 2;
    }
    const planned = planOf(args.stackFile);
    if (!planned.ok) {
        console.error(planned.errors);
        return 2;
    }
    const observed = await gatherStatus(planned.plan, { namePrefix: `${PROJECT}-${args.stack}` });
    const report = evaluateStatus(planned.plan, args.stack, observed);
    process.stdout.write(args.json ? `${JSON.stringify(report, null, 2)}\n` : formatStatusTable(report));
    return statusExitCode(report);
}

if (require.main === module) {
    main(process.argv.slice(2)).then(
        (code) => (process.exitCode = code),
        (err: unknown) => {
            console.error(`status failed: ${(err as Error).message}`);
            process.exitCode = 2;
        },
    );
}
