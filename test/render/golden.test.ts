// Golden files: `npm run render` output for the real stack files, committed under test/render/golden/<stack>/.
// A template or plan change shows up as a reviewable diff. Rewrite them with UPDATE_GOLDEN=1.
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, test } from "node:test";
import { diagramOf, renderAll } from "../../model";
import { stackPlan } from "./helpers";

const GOLDEN_DIR = path.join(__dirname, "golden");

/** Node scripts and the metrics exporter are their template files verbatim (no per-stack content): a golden copy
 *  would only duplicate them. */
function stackSpecific(artifacts: ReturnType<typeof renderAll>): ReturnType<typeof renderAll> {
    return artifacts.filter((a) => !a.path.startsWith("scripts/") && a.path !== "gateway/gateway-metrics.pl");
}

function listFiles(dir: string, prefix = ""): string[] {
    if (!fs.existsSync(dir)) return [];
    return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
        const rel = prefix ? `${prefix}/${e.name}` : e.name;
        return e.isDirectory() ? listFiles(path.join(dir, e.name), rel) : [rel];
    });
}

function updateGolden(dir: string, artifacts: ReturnType<typeof renderAll>): void {
    fs.rmSync(dir, { recursive: true, force: true });
    for (const a of artifacts) {
        const file = path.join(dir, a.path);
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, a.content);
    }
}

for (const stack of ["dev", "prod"] as const) {
    describe(`golden render of Pulumi.${stack}.yaml`, () => {
        const all = renderAll(stackPlan(stack));
        const artifacts = stackSpecific(all);
        const dir = path.join(GOLDEN_DIR, stack);
        if (process.env.UPDATE_GOLDEN === "1") updateGolden(dir, artifacts);

        test("renders exactly the committed set of files", () => {
            assert.deepEqual(artifacts.map((a) => a.path).sort(), listFiles(dir).sort(), "run with UPDATE_GOLDEN=1 and review the diff");
        });

        for (const a of artifacts) {
            test(`${a.path} matches the golden file`, () => {
                const file = path.join(dir, a.path);
                assert.ok(fs.existsSync(file), `${file} is missing: run with UPDATE_GOLDEN=1 and review the diff`);
                assert.equal(a.content, fs.readFileSync(file, "utf8"), `${a.path} differs from ${file} (UPDATE_GOLDEN=1 rewrites it)`);
            });
        }

        test("rendering twice gives byte-identical artifacts", () => {
            assert.deepEqual(renderAll(stackPlan(stack)), all);
        });
    });
}

// docs/diagram.md shows the dev diagram; it must be the one render writes.
describe("docs/diagram.md", () => {
    const doc = path.join(__dirname, "..", "..", "docs", "diagram.md");
    const block = /(<!-- BEGIN generated: the dev diagram[^\n]*-->\n```mermaid\n)([\s\S]*?)(```\n<!-- END generated -->)/;
    const expected = diagramOf(stackPlan("dev"));
    if (process.env.UPDATE_GOLDEN === "1") {
        fs.writeFileSync(doc, fs.readFileSync(doc, "utf8").replace(block, (_, begin: string, _old: string, end: string) => `${begin}${expected}${end}`));
    }

    test("shows the dev diagram as npm run render draws it", () => {
        const found = fs.readFileSync(doc, "utf8").match(block);
        assert.ok(found, "docs/diagram.md has no generated dev diagram block");
        assert.equal(found[2], expected, "docs/diagram.md is out of date (UPDATE_GOLDEN=1 rewrites it)");
    });
});
