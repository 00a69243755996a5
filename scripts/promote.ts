// npm run promote -- --from dev --to prod --app shop [--domain sklep.localhost=sklep.pl] [--prune]
// Copies the app's release definitions from one stack to the next (Pulumi Automation API) and runs a preview.
import { LocalWorkspace } from "@pulumi/pulumi/automation";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { PROJECT } from "../model/config";
import { promoteReleases } from "../model/promote";
import { formatErrors, validateConfig } from "../model";
import { CONFIG_KEYS } from "../model/schema";

async function main(): Promise<void> {
    const { values } = parseArgs({
        options: {
            from: { type: "string" },
            to: { type: "string" },
            app: { type: "string" },
            domain: { type: "string", multiple: true },
            prune: { type: "boolean", default: false },
        },
    });
    if (!values.from || !values.to || !values.app) {
        throw new Error("usage: npm run promote -- --from <stack> --to <stack> --app <app> [--domain from=to] [--prune]");
    }
    const domainMap = Object.fromEntries((values.domain ?? []).map((d) => {
        const [from, to] = d.split("=");
        if (!from || !to) throw new Error(`--domain ${d}: expected from=to, e.g. sklep.localhost=sklep.pl`);
        return [from, to];
    }));
    const workDir = path.resolve(__dirname, "..");
    const source = await LocalWorkspace.selectStack({ stackName: values.from, workDir });
    const target = await LocalWorkspace.selectStack({ stackName: values.to, workDir });
    const appsOf = async (stack: typeof source) => JSON.parse((await stack.getConfig(`${PROJECT}:apps`)).value);
    const result = promoteReleases(await appsOf(source), await appsOf(target), { app: values.app, domainMap, prune: values.prune });

    // The whole target config must stay valid before anything is written.
    const targetConfig: Record<string, unknown> = {};
    const all = await target.getAllConfig();
    for (const key of CONFIG_KEYS) {
        const entry = all[`${PROJECT}:${key}`];
        if (entry && !entry.secret) targetConfig[key] = JSON.parse(entry.value);
    }
    const check = validateConfig({ ...targetConfig, apps: result.apps });
    if (!check.ok) throw new Error(`promotion would make ${values.to} invalid:\n${formatErrors(check.errors)}`);

    await target.setConfig(`${PROJECT}:apps`, { value: JSON.stringify(result.apps) });
    console.log(result.changes.length ? result.changes.join("\n") : "no release changes");
    const preview = await target.preview({ onOutput: (line) => process.stdout.write(line) });
    console.log(`\npreview of ${values.to}: ${JSON.stringify(preview.changeSummary)}`);
}

main().catch((err: Error) => {
    console.error(err.message);
    process.exit(1);
});
