// The diagram through a real Mermaid renderer: mermaid-cli (mmdc) with a local Chromium parses each chart and
// draws it. A chart it cannot parse makes mmdc exit non-zero and write no SVG; a drawn chart must carry every
// label of the .mmd, decoded, so an escaping slip that Mermaid swallows silently fails here too.
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, describe, test, type TestContext } from "node:test";
import fc from "fast-check";
import { diagramOf } from "../../model";
import { findSvgRenderer, renderSvgs, type SvgRenderer } from "../../scripts/lib/mermaid-svg";
import { read } from "../model/diagram-reader";
import { planOf, rawConfig, removeDir, ROOT, run, stackPlan, tempDir } from "./helpers";

const dirs: string[] = [];
after(() => dirs.forEach(removeDir));

function scratch(): string {
    const dir = tempDir("diagram");
    dirs.push(dir);
    return dir;
}

/** mmdc and a Chromium, or a skip that names what is missing (a failure when CI is set: CI installs both). */
function needRenderer(t: TestContext): SvgRenderer | undefined {
    const found = findSvgRenderer();
    if (found.ok) return found.value;
    if (process.env.CI) assert.fail(`${found.reason} (required when CI is set)`);
    t.skip(found.reason);
    return undefined;
}

function unescapeHtml(text: string): string {
    const named: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", nbsp: "\u00a0" };
    return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, ref: string) => {
        if (ref[0] !== "#") return named[ref] ?? whole;
        return String.fromCodePoint(ref[1] === "x" || ref[1] === "X" ? parseInt(ref.slice(2), 16) : Number(ref.slice(1)));
    });
}

/** Each label the SVG shows (node, subgraph and edge labels), its lines joined by "\n". */
function svgLabels(svg: string): string[] {
    return [...svg.matchAll(/class="(?:nodeLabel|edgeLabel)"[^>]*><p>(.*?)<\/p>/gs)].map((m) => m[1].split(/<br\s*\/?>/).map(unescapeHtml).join("\n"));
}

/** Each label of the .mmd, decoded, its lines joined by "\n". */
function chartLabels(mermaid: string): string[] {
    const d = read(mermaid);
    return [
        ...[...d.elements.values()].map((e) => e.lines.join("\n")),
        ...d.subgraphs.values(),
        ...d.edges.flatMap((e) => (e.label === undefined ? [] : [e.label])),
    ];
}

function assertDrawn(name: string, mermaid: string, svgFile: string): void {
    assert.ok(fs.existsSync(svgFile), `${name}: no SVG`);
    const svg = fs.readFileSync(svgFile, "utf8");
    assert.match(svg, /^<svg [^>]*aria-roledescription="flowchart-v2"/, `${name}: not a drawn flowchart`);
    assert.doesNotMatch(svg, /Syntax error in text/i, `${name}: Mermaid's error picture`);
    const drawn = svgLabels(svg);
    const missing = chartLabels(mermaid).filter((label) => !drawn.includes(label));
    assert.deepEqual(missing, [], `${name}: labels of the chart the SVG does not show (it shows ${JSON.stringify(drawn)})`);
    const nodes = svg.match(/<g class="node /g)?.length ?? 0;
    assert.equal(nodes, read(mermaid).elements.size, `${name}: one drawn node per element`);
}

/** dev, made to hold what Mermaid's syntax uses, in every kind of name a config allows to hold it. */
function trickyChart(): string {
    const raw = rawConfig("dev") as ReturnType<typeof rawConfig> & { networks: { zones: Record<string, unknown> } };
    // Label values are the config's only free text: quotes, brackets, pipes, arrows, entity codes, Markdown,
    // HTML, `end`, and random text (fixed seed, so a failure reproduces).
    const random = fc.sample(fc.string({ unit: "grapheme", minLength: 1, maxLength: 24 }), { seed: 20240610, numRuns: 6 });
    const values = ['say "hi" ]) }} |x| --> -.- ==> ;', "#35; #quot; &amp; %% comment", "<b>bold</b> <br/> `code` *em* _u_ end", ...random];
    raw.nodes.forEach((n, i) => (n.labels = { [`k.${i}`]: values[i % values.length], ...(i === 0 ? Object.fromEntries(values.map((v, j) => [`v${j}`, v])) : {}) }));
    // `end` closes a subgraph and `o`/`x` after an arrow change its head: as a zone, an app and a release name.
    raw.networks.zones = { end: raw.networks.zones.intra, o: raw.networks.zones.dmz };
    for (const n of raw.nodes) n.zone = n.zone === "intra" ? "end" : "o";
    const apps = raw.apps as { name: string; zone: string; releases: { name: string; hostnames?: string[] }[] }[];
    for (const a of apps) a.zone = a.zone === "intra" ? "end" : "o";
    apps[1].name = "end";
    apps[1].releases[0].name = "End.2_0-x";
    apps[1].releases[0].hostnames = ["*.end.localhost", "x.o.localhost"];
    return diagramOf(planOf(raw), { changed: new Set(["node:gw-1", "release:end:End.2_0-x", "hostname:*.end.localhost", "virtualIp", "gateway"]) });
}

describe("the diagram through mermaid-cli and Chromium", () => {
    test("prod, a chart with marked changes, and names full of Mermaid syntax are drawn with every label", (t) => {
        const renderer = needRenderer(t);
        if (!renderer) return;
        const dir = scratch();
        const charts = [
            { name: "prod", mermaid: diagramOf(stackPlan("prod")) },
            {
                name: "dev-changed",
                mermaid: diagramOf(stackPlan("dev"), { changed: new Set(["node:gw-2", "release:shop:2.0", "hostname:sklep.localhost", "virtualIp", "gateway"]) }),
            },
            { name: "tricky", mermaid: trickyChart() },
        ].map((c) => ({ ...c, svg: path.join(dir, `${c.name}.svg`) }));
        const result = renderSvgs(renderer, charts);
        assert.ok(result.ok, result.ok ? "" : result.reason);
        for (const c of charts) assertDrawn(c.name, c.mermaid, c.svg);
        assert.match(fs.readFileSync(charts[1].svg, "utf8"), /class="node default [^"]*changed/, "the changed class reaches the SVG");
    });

    test("a chart Mermaid cannot parse fails the run with mmdc's parse error, and no SVG is written", (t) => {
        const renderer = needRenderer(t);
        if (!renderer) return;
        const dir = scratch();
        const good = diagramOf(stackPlan("dev"));
        // What an unescaped quote in a name would do.
        const broken = good.replace('["gw-1<br/>', '["gw-"1<br/>');
        assert.notEqual(broken, good);
        const charts = [
            { mermaid: good, svg: path.join(dir, "good.svg") },
            { mermaid: broken, svg: path.join(dir, "broken.svg") },
        ];
        const result = renderSvgs(renderer, charts);
        assert.equal(result.ok, false);
        assert.match(result.ok ? "" : result.reason, /^mmdc exited 1: Error: Parse error on line \d+/);
        assert.deepEqual(fs.readdirSync(dir), [], "nothing is written when any chart fails");
    });

    test("npm run render writes diagram.svg next to diagram.mmd", (t) => {
        if (!needRenderer(t)) return;
        const out = path.join(scratch(), "dev");
        const script = path.join(ROOT, "scripts", "render.ts");
        const r = run(process.execPath, ["--import", "tsx", script, "--stack-file", path.join(ROOT, "Pulumi.dev.yaml"), "--out", out], { cwd: ROOT });
        assert.equal(r.status, 0, r.stderr);
        const svg = path.join(out, "diagram.svg");
        const last = r.stdout.trim().split("\n").at(-1) ?? "";
        assert.ok(last.startsWith(`wrote ${svg} (`) && last.endsWith(" bytes, mode 0644)"), last);
        assertDrawn("dev", fs.readFileSync(path.join(out, "diagram.mmd"), "utf8"), svg);
    });
});
