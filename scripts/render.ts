// npm run render -- --stack-file Pulumi.dev.yaml --out out/dev
// Renders every artifact of a stack (plan, diagram, DNS, gateway image files, keepalived configs, node scripts) into a
// directory, without Pulumi and without touching any machine. Invalid config: every error, nothing written.
// The directory ends up holding exactly this render: files of an earlier render that are no longer produced are
// removed. It only does that in a directory render made (its marker file), so it never empties someone's folder.
// The diagram also becomes diagram.svg where mermaid-cli and a Chromium are installed; else one line says why not.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { checkStackFile, readStackFile } from "../model/config";
import { type Artifact, formatErrors, planStack, renderAll } from "../model";
import { writeSvg } from "./lib/mermaid-svg";

const SVG = "diagram.svg";
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

/** Marks a directory as render's output, which the next render may clean. */
export const MARKER = ".rendered-by-swarm-platform";
const MARKER_TEXT = "Written by `npm run render` (swarm-platform). The next render into this directory removes files it no longer produces.\n";
const REPO_ROOT = path.resolve(__dirname, "..");

function realPath(p: string): string {
    try {
        return fs.realpathSync(p);
    } catch {
        return path.resolve(p);
    }
}

const isWithin = (inner: string, outer: string) => inner === outer || inner.startsWith(outer.endsWith(path.sep) ? outer : outer + path.sep);

/** Why render must not write (and clean) `out`, or undefined when it may. */
export function refusalToWrite(out: string): string | undefined {
    const dir = realPath(out);
    for (const [name, guarded] of [["the repository root", realPath(REPO_ROOT)], ["your home directory", realPath(os.homedir())], ["/", "/"]] as const) {
        if (isWithin(guarded, dir)) return `refusing to render into ${out}: it is ${dir === guarded ? name : `a parent of ${name}`}; give a directory of its own, e.g. out/dev`;
    }
    if (!fs.existsSync(dir)) return undefined;
    if (!fs.statSync(dir).isDirectory()) return `refusing to render into ${out}: it is not a directory`;
    if (fs.readdirSync(dir).length === 0 || fs.existsSync(path.join(dir, MARKER))) return undefined;
    return `refusing to render into ${out}: it is not empty and was not written by render (no ${MARKER} in it); give a new or empty directory, or remove it first`;
}

function writeArtifacts(out: string, artifacts: readonly Artifact[]): string[] {
    fs.mkdirSync(out, { recursive: true });
    fs.writeFileSync(path.join(out, MARKER), MARKER_TEXT);
    const lines = artifacts.map((a) => {
        const file = path.join(out, a.path);
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, a.content, { mode: a.mode ?? 0o644 });
        fs.chmodSync(file, a.mode ?? 0o644); // an existing file keeps its old mode otherwise
        const mode = (a.mode ?? 0o644).toString(8).padStart(4, "0");
        return `wrote ${file} (${Buffer.byteLength(a.content)} bytes, mode ${mode})`;
    });
    // diagram.svg is written (or removed) right after, by diagramSvgLine.
    const produced = new Set([MARKER, SVG, ...artifacts.map((a) => path.normalize(a.path))]);
    return [...lines, ...removeStale(out, "", produced)];
}

/** Removes what an earlier render left that this one did not produce; directories left empty go too. */
function removeStale(out: string, rel: string, produced: ReadonlySet<string>): string[] {
    const lines: string[] = [];
    for (const entry of fs.readdirSync(path.join(out, rel), { withFileTypes: true })) {
        const entryRel = path.join(rel, entry.name);
        const full = path.join(out, entryRel);
        if (entry.isDirectory()) {
            lines.push(...removeStale(out, entryRel, produced));
            if (fs.readdirSync(full).length === 0) fs.rmdirSync(full);
        } else if (!produced.has(entryRel)) {
            fs.rmSync(full, { force: true });
            lines.push(`removed ${full} (not produced by this render)`);
        }
    }
    return lines;
}

/** diagram.mmd → diagram.svg: a picture is a bonus, so a missing renderer or a failed run only says so. */
function diagramSvgLine(out: string): string {
    const svg = path.join(out, SVG);
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
    const refusal = refusalToWrite(args.out);
    if (refusal) {
        console.error(refusal);
        return 1;
    }
    for (const line of writeArtifacts(args.out, result.artifacts)) console.log(line);
    console.log(diagramSvgLine(args.out));
    return 0;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
