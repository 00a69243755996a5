// npm run bench:plan [-- --runs 21]
// Times validate → plan → render on a generated large stack: 100 nodes (3 managers, 4 gateway nodes, 4 zones),
// 50 apps × 3 releases with hostnames, one VIP. Prints the median (and min/max) of N runs in ms. No assertions.
import { performance } from "node:perf_hooks";
import { APPS, benchConfig, GATEWAYS, MANAGERS, RELEASES, ZONES } from "../bench/scale-config";
import { parseConfig, planStack, renderAll } from "../model";

function median(xs: readonly number[]): number {
    const s = [...xs].sort((a, b) => a - b);
    const mid = Math.floor(s.length / 2);
    return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

function time<T>(fn: () => T): [T, number] {
    const start = performance.now();
    const value = fn();
    return [value, performance.now() - start];
}

function main(argv: readonly string[]): void {
    const runsArg = argv.indexOf("--runs");
    const runs = runsArg >= 0 ? Math.max(1, Number(argv[runsArg + 1]) || 21) : 21;
    const raw = benchConfig();

    // Warm-up (JIT, template loading) outside the measured runs.
    const warm = planStack(parseConfig(raw));
    renderAll(warm);

    const figures = { validate: [] as number[], plan: [] as number[], render: [] as number[], total: [] as number[] };
    let artifacts = 0;
    for (let i = 0; i < runs; i++) {
        const [config, tValidate] = time(() => parseConfig(raw));
        const [plan, tPlan] = time(() => planStack(config));
        const [out, tRender] = time(() => renderAll(plan));
        artifacts = out.length;
        figures.validate.push(tValidate);
        figures.plan.push(tPlan);
        figures.render.push(tRender);
        figures.total.push(tValidate + tPlan + tRender);
    }

    const nodes = raw.nodes?.length ?? 0;
    const releases = warm.releases.length;
    console.log(`bench:plan  ${nodes} nodes (${MANAGERS} managers, ${GATEWAYS} gateways, ${ZONES.length} zones), ${APPS} apps × ${RELEASES} releases = ${releases} services, ${warm.routes.length} routes, ${warm.dns.records.length} DNS records`);
    console.log(`            node ${process.version}, ${runs} runs after one warm-up; ms`);
    console.log("");
    console.log("step        median      min      max");
    const row = (label: string, xs: readonly number[]) =>
        console.log(`${label.padEnd(10)} ${median(xs).toFixed(2).padStart(7)} ${Math.min(...xs).toFixed(2).padStart(8)} ${Math.max(...xs).toFixed(2).padStart(8)}`);
    row("validate", figures.validate);
    row("plan", figures.plan);
    row("render", figures.render);
    row("total", figures.total);
    console.log(`\nrender produced ${artifacts} artifacts`);
}

if (require.main === module) main(process.argv.slice(2));
