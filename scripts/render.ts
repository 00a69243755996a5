// npm run render -- --stack-file Pulumi.dev.yaml --out out/dev
// Renders every artifact of a stack (plan, diagram, DNS, gateway image files, keepalived configs, node scripts) into
// a directory, without Pulumi and without touching any machine. Invalid config: every error, nothing written.
// The diagram also becomes diagram.svg where mermaid-cli and a Chromium are installed; else one line says why not.
import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { checkStackFile, readStackFile } from "../model/config";
import { type Artifact, formatErrors, planStack, renderAll } from "../model";
import { writeSvg } from "./lib/mermaid-svg";

const USAGE = "usage: npm run render -- --stack-file <Pulumi.<stack>.yaml> --out <dir>";

export type RenderResult = { ok: true; artifacts: Artifact[] } | { ok: false; errors: string };

class UsageError extends Error {}

function parseCommandLine(argv: readonly string[]): { stackFile: string; out: string } {
    let values: { "stack-file"?: string; out?: string; help?: boolean };
    try {
        ({ values } = parseArgs({
            args: [...argv],
            options: { "stack-file": { type: "string" }, out: { type: "string" }, help: { type: "boolean", short: "h" } },
            strict: true,
            allowPositionals: false,
        }));
    } catch (err) {
        throw new UsageError(`${(err as Error).message}\n${USAGE}`);
    }
    if (values.help) throw new UsageError(USAGE);
    const missing = (["stack-file", "out"] as const).filter((k) => !values[k]);
    if (missing.length) throw new UsageError(`missing ${missing.map((k) => `--${k}`).join(" and ")}\n${USAGE}`);
    return { stackFile: values["stack-file"] as string, out: values.out as string };
}

/** Stack file → artifacts, or every config error (the file's keys, the schema, cross-key rules, secrets) at once. */
export function renderStackFile(stackFile: string): RenderResult {
    if (!fs.existsSync(stackFile)) return { ok: false, errors: `stack file ${stackFile} does not exist` };
    const result = checkStackFile(readStackFile(stackFile));
    if (!result.ok) {
        const { errors } = result;
        return { ok: false, errors: `${stackFile} is invalid (${errors.length} error${errors.length === 1 ? "" : "s"}):\n${formatErrors(errors)}` };
    }
    return { ok: true, artifacts: renderAll(planStack(result.config)) };
}

function writeArtifacts(out: string, artifacts: readonly Artifact[]): string[] {
    return artifacts.map((a) => {
        const file = path.join(out, a.path);
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, a.content, { mode: a.mode ?? 0o644 });
        fs.chmodSync(file, a.mode ?? 0o644); // an existing file keeps its old mode otherwise
        const mode = (a.mode ?? 0o644).toString(8).padStart(4, "0");
        return `wrote ${file} (${Buffer.byteLength(a.content)} bytes, mode ${mode})`;
    });
}

/** diagram.mmd → diagram.svg: a picture is a bonus, so a missing renderer or a failed run only says so. */
function diagramSvgLine(out: string): string {
    const svg = path.join(out, "diagram.svg");
    fs.rmSync(svg, { force: true }); // an earlier render's picture would no longer match
    const written = writeSvg(path.join(out, "diagram.mmd"), svg);
    if (!written.ok) return `skipped ${svg}: ${written.reason}`;
    const stat = fs.statSync(svg);
    return `wrote ${svg} (${stat.size} bytes, mode ${(stat.mode & 0o777).toString(8).padStart(4, "0")})`;
}

export function main(argv: readonly string[]): number {
    let args: { stackFile: string; out: string };
    try {
        args = parseCommandLine(argv);
    } catch (err) {
        if (!(err instanceof UsageError)) throw err;
        console.error(err.message);
        return 2;
    }
    let result: RenderResult;
    try {
        result = renderStackFile(args.stackFile);
    } catch (err) {
        result = { ok: false, errors: `cannot render ${args.stackFile}: ${(err as Error).message}` };
    }
    if (!result.ok) {
        console.error(result.errors);
        return 1;
    }
    for (const line of writeArtifacts(args.out, result.artifacts)) console.log(line);
    console.log(diagramSvgLine(args.out));
    return 0;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
