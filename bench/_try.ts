import { benchConfig, BENCH_SECRETS } from "./scale-config";
import { runProgram } from "../scripts/lib/mock-run";
(async () => {
  const t0 = performance.now();
  const r = await runProgram({ stack: "bench", config: benchConfig() as unknown as Record<string, unknown>, secrets: { ...BENCH_SECRETS } }).catch((e) => { console.error(String(e).slice(0, 2000)); process.exit(1); });
  const m = process.memoryUsage();
  console.log("resources", r.resources.length, "ms", performance.now() - t0, "rss", process.resourceUsage().maxRSS / 1024, "heap", m.heapUsed/1048576, "ext", m.external/1048576, "arr", m.arrayBuffers/1048576);
  const by: Record<string, number> = {}; for (const x of r.resources) { const k = x.type + " " + x.name.replace(/[0-9.]+/g, "#"); by[k] = (by[k] ?? 0) + 1; } console.log(Object.entries(by).sort((a, b) => b[1] - a[1]).slice(0, 25)); const s = r.resources.reduce((a, x) => a + JSON.stringify(x.inputs).length, 0); console.log("inputs MB", s/1048576);
})();
