// The program's own scale: validate + plan + render, then the real index.ts and its components registering every
// resource under Pulumi mocks, for the generated stack of bench/scale-config.ts (100 nodes, 50 apps × 3 releases).
// Each run is a fresh process (`node --require ./test/lab/engine/ts-loader.cjs`, as the lab engine runs the program): its time and its peak
// memory (maxRSS). Next to it, the floor: the same SDK registering the same resources (types, names, inputs; no
// components, no dependencies) with none of the program's code. A script that prints figures, not a test.
//   tsx bench/scale.ts [--runs 5]
// Last stdout line: BENCH {"scale":{"seconds":n,"peakMiB":n,"resources":n,"floorSeconds":n,"floorPeakMiB":n}} (medians).
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const ROOT = path.resolve(__dirname, "..");
const SELF = path.join(__dirname, "scale.ts");

/** What one child run reports (its last stdout line). */
interface RunFigures {
    /** Loading the SDK, the program's modules and the model (before any work). */
    readonly loadSeconds: number;
    /** validate + plan + render (model), then the program's registrations under mocks, all answered. */
    readonly seconds: number;
    /** CPU time (user + system) of that work: less at the mercy of other load on the machine than the wall clock. */
    readonly cpuSeconds: number;
    readonly peakMiB: number;
    readonly resources: number;
}

const peakMiB = () => process.resourceUsage().maxRSS / 1024;
const cpuSince = (c: NodeJS.CpuUsage) => {
    const d = process.cpuUsage(c);
    return (d.user + d.system) / 1e6;
};

/**
 * Child: the program's run. `sourceMaps` false turns off the source-mapped stack traces tsx turns on: the SDK takes a
 * stack trace for every input of every resource (runtime/debuggable.js), and mapping each costs more than the rest.
 */
async function programRun(resourcesFile: string | undefined, sourceMaps: boolean): Promise<RunFigures> {
    if (!sourceMaps) process.setSourceMapsEnabled(false);
    const t0 = performance.now();
    // required here, not imported at the top: the parent process never loads them (the loader handles require only)
    /* eslint-disable @typescript-eslint/no-require-imports */
    const { APPS, benchConfig, BENCH_SECRETS, NODES, RELEASES } = require("./scale-config") as typeof import("./scale-config");
    const { parseConfig, planStack, renderAll } = require("../model") as typeof import("../model");
    const { runProgram } = require("../scripts/lib/mock-run") as typeof import("../scripts/lib/mock-run");
    /* eslint-enable @typescript-eslint/no-require-imports */
    const loaded = performance.now();
    const cpu = process.cpuUsage();
    const raw = benchConfig();
    const plan = planStack(parseConfig(raw));
    const artifacts = renderAll(plan).length;
    // Only the run that writes the floor's resource list records inputs and declarations (the mock tests' bookkeeping).
    const r = await runProgram({ stack: "bench", config: raw as unknown as Record<string, unknown>, secrets: { ...BENCH_SECRETS }, record: resourcesFile !== undefined });
    const done = performance.now();
    if (resourcesFile) fs.writeFileSync(resourcesFile, JSON.stringify(r.resources.map((x) => ({ type: x.type, name: x.name, inputs: x.inputs }))));
    process.stderr.write(`program: ${NODES} nodes, ${APPS} apps × ${RELEASES} releases, ${artifacts} rendered files, ${r.resources.length} resources\n`);
    return { loadSeconds: (loaded - t0) / 1000, seconds: (done - loaded) / 1000, cpuSeconds: cpuSince(cpu), peakMiB: peakMiB(), resources: r.resources.length };
}

/** Child: the floor, the SDK alone registering the resources a program run recorded. */
async function floorRun(resourcesFile: string): Promise<RunFigures> {
    const t0 = performance.now();
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const pulumi = require("@pulumi/pulumi") as typeof import("@pulumi/pulumi");
    const loaded = performance.now();
    const cpu = process.cpuUsage();
    const list = JSON.parse(fs.readFileSync(resourcesFile, "utf8")) as { type: string; name: string; inputs: Record<string, unknown> }[];
    await pulumi.runtime.setMocks({ newResource: (a) => ({ id: `${a.name}-id`, state: a.inputs }), call: (a) => a.inputs }, "swarm-platform", "bench", false);
    // CustomResource is abstract in the SDK's typings: a bare subclass registers exactly as a provider's class does.
    class FloorResource extends pulumi.CustomResource {}
    let n = 0;
    for (const r of list) {
        if (r.type.startsWith("pulumi:")) continue; // the stack and providers: the SDK makes its own
        const custom = r.type.includes(":index/") || /^command:(local|remote):/.test(r.type);
        if (custom) new FloorResource(r.type, r.name, r.inputs);
        else new pulumi.ComponentResource(r.type, r.name, {});
        n++;
    }
    await pulumi.runtime.disconnect();
    return { loadSeconds: (loaded - t0) / 1000, seconds: (performance.now() - loaded) / 1000, cpuSeconds: cpuSince(cpu), peakMiB: peakMiB(), resources: n };
}

function child(mode: "program" | "program-no-source-maps" | "floor", file?: string): RunFigures {
    const r = spawnSync(process.execPath, ["--require", "./test/lab/engine/ts-loader.cjs", SELF, `--${mode}`, ...(file ? [file] : [])], { cwd: ROOT, encoding: "utf8", maxBuffer: 64 << 20 });
    const line = r.stdout.trim().split("\n").pop() ?? "";
    if (r.status !== 0 || !line.startsWith("{")) throw new Error(`bench/scale ${mode} run failed (exit ${r.status}): ${r.stderr.slice(-2000)}`);
    return JSON.parse(line) as RunFigures;
}

function stats(xs: readonly number[]): { min: number; median: number; max: number } {
    const s = [...xs].sort((a, b) => a - b);
    const mid = Math.floor(s.length / 2);
    return { min: s[0], median: s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2, max: s[s.length - 1] };
}

const fmt = (xs: readonly number[], digits = 2) => {
    const { min, median, max } = stats(xs);
    return `median ${median.toFixed(digits)}  (min ${min.toFixed(digits)}, max ${max.toFixed(digits)})`;
};

function main(argv: readonly string[]): void {
    const at = argv.indexOf("--runs");
    const runs = at >= 0 ? Math.max(1, Number(argv[at + 1]) || 5) : 5;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-scale-"));
    try {
        const file = path.join(dir, "resources.json");
        const program: RunFigures[] = [];
        const floor: RunFigures[] = [];
        const unmapped: RunFigures[] = [];
        // first, not counted: the run that records every resource's inputs for the floor
        const recorded = child("program", file);
        for (let i = 0; i < runs; i++) {
            program.push(child("program"));
            unmapped.push(child("program-no-source-maps"));
            floor.push(child("floor", file));
        }
        const resources = recorded.resources;
        console.log(`bench/scale: the generated stack (bench/scale-config.ts), ${resources} resources; ${runs} runs, each a fresh process (node ${process.version}, ${os.cpus().length} cores)`);
        console.log(`program (validate + plan + render + registration under mocks) seconds: ${fmt(program.map((r) => r.seconds))}`);
        console.log(`program CPU seconds (user + system) of that work: ${fmt(program.map((r) => r.cpuSeconds))}`);
        console.log(`program peak memory (maxRSS, whole process) MiB: ${fmt(program.map((r) => r.peakMiB), 0)}`);
        console.log(`program load (SDK, modules) seconds: ${fmt(program.map((r) => r.loadSeconds))}`);
        console.log(`program without source-mapped stack traces, seconds: ${fmt(unmapped.map((r) => r.seconds))}; CPU seconds: ${fmt(unmapped.map((r) => r.cpuSeconds))}; peak MiB: ${fmt(unmapped.map((r) => r.peakMiB), 0)}`);
        console.log(`floor: the SDK alone registering the same ${floor[0].resources} resources, seconds: ${fmt(floor.map((r) => r.seconds))}`);
        console.log(`floor CPU seconds: ${fmt(floor.map((r) => r.cpuSeconds))}; peak MiB: ${fmt(floor.map((r) => r.peakMiB), 0)}`);
        const med = (xs: RunFigures[], key: "seconds" | "peakMiB") => stats(xs.map((r) => r[key])).median;
        console.log(`BENCH ${JSON.stringify({
            scale: {
                seconds: Number(med(program, "seconds").toFixed(2)),
                peakMiB: Math.round(med(program, "peakMiB")),
                resources,
                floorSeconds: Number(med(floor, "seconds").toFixed(2)),
                floorPeakMiB: Math.round(med(floor, "peakMiB")),
            },
        })}`);
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

const mode = process.argv[2];
if (mode === "--program" || mode === "--program-no-source-maps" || mode === "--floor") {
    (mode === "--floor" ? floorRun(process.argv[3] as string) : programRun(process.argv[3], mode === "--program"))
        .then((f) => {
            process.stdout.write(`${JSON.stringify(f)}\n`);
            process.exit(0);
        })
        .catch((e) => {
            process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
            process.exit(1);
        });
} else if (require.main === module) main(process.argv.slice(2));
