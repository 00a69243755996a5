// One engine run per process (fresh SDK state): `node --require ./test/lab/engine/ts-loader.cjs test/lab/engine/cli.ts up|destroy [overrides.json]`.
// Progress goes to stderr; the last stdout line is `LAB-RESULT <json>`. LAB_PROFILE=prod runs the prod-like
// profile (stack prod, ssh driver, the machines prod-machines.ts started) instead of the dev stack.
import * as fs from "node:fs";
import * as path from "node:path";
import { LAB_DIR, labConfig, LabOverrides, PROJECT, PROJECT_DIR, STACK } from "../lab-config";
import { PROD_STACK, prodLabConfig } from "../prod-config";
import { destroy, up } from "./engine";

async function main(): Promise<void> {
    const [cmd, overridesFile] = process.argv.slice(2);
    const overrides = (overridesFile ? JSON.parse(fs.readFileSync(overridesFile, "utf8")) : {}) as LabOverrides;
    process.env.SWARM_PLATFORM_BUILD_DIR ??= path.join(LAB_DIR, "build");
    const prod = process.env.LAB_PROFILE === "prod";
    const stack = prod ? PROD_STACK : STACK;
    const { config, secretKeys } = prod ? prodLabConfig(overrides) : { config: labConfig(overrides), secretKeys: [] };
    const opts = {
        // LAB_PROJECT_DIR: run another copy of the program (development of the lab only; the suite runs the real one).
        projectDir: process.env.LAB_PROJECT_DIR ?? PROJECT_DIR,
        project: PROJECT,
        stack,
        statePath: process.env.LAB_STATE ?? path.join(LAB_DIR, `state-${stack}.json`),
        config,
        secretKeys,
        refresh: process.env.LAB_REFRESH === "1",
        log: (m: string) => process.stderr.write(`${new Date().toISOString().slice(11, 23)} ${m}\n`),
    };
    opts.log(`${cmd}: engine process ready ${process.uptime().toFixed(2)} s after its start`);
    let result;
    if (cmd === "up") result = await up(opts);
    else if (cmd === "destroy") result = await destroy(opts);
    else throw new Error(`usage: cli.ts up|destroy [overrides.json]`);
    process.stdout.write(`LAB-RESULT ${JSON.stringify(result)}\n`);
    process.exit(result.ok ? 0 : 1);
}

main().catch((e) => {
    process.stdout.write(`LAB-RESULT ${JSON.stringify({ ok: false, errors: [String(e?.stack ?? e)], counts: {}, changes: [], seconds: 0, outputs: {} })}\n`);
    process.exit(1);
});
