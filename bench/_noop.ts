const t00 = performance.now();
import { labConfig } from "../test/lab/lab-config";
import { runProgram } from "../scripts/lib/mock-run";
(async () => {
  const t0 = performance.now();
  console.log("imports ms", t0 - t00, "uptime", process.uptime());
  const cfg = Object.fromEntries(Object.entries(labConfig({})).map(([k, v]) => [k.replace(/^swarm-platform:/, ""), v]));
  const r = await runProgram({ stack: "dev", config: cfg }).catch((e) => { console.error(String(e).slice(0, 2000)); process.exit(1); });
  console.log("resources", r.resources.length, "program ms", performance.now() - t0);
})();
