// Mermaid → SVG offline: mermaid-cli (mmdc) driving a locally installed Chromium through puppeteer, whose own
// browser download is off (.puppeteerrc.cjs). Where either is missing, callers get the reason instead of an SVG.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const ROOT = path.resolve(__dirname, "..", "..");
const MMDC = path.join(ROOT, "node_modules", ".bin", "mmdc");
/** Debian's and Ubuntu's chromium, then Google Chrome; the environment variables come first. */
const BROWSER_ENV = ["CHROMIUM_PATH", "PUPPETEER_EXECUTABLE_PATH"] as const;
const BROWSER_PATHS = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome", "/usr/bin/google-chrome-stable"];
/** One mmdc run starts a browser and renders every chart given to it; a few seconds each on a busy machine. */
export const DEFAULT_TIMEOUT_MS = 60_000;

export interface SvgRenderer {
    readonly mmdc: string;
    readonly browser: string;
}

export type Found<T> = { ok: true; value: T } | { ok: false; reason: string };

function isExecutable(file: string): boolean {
    try {
        fs.accessSync(file, fs.constants.X_OK);
        return fs.statSync(file).isFile();
    } catch {
        return false;
    }
}

/** mmdc and a browser, or why there is none. */
export function findSvgRenderer(env: NodeJS.ProcessEnv = process.env): Found<SvgRenderer> {
    if (!isExecutable(MMDC)) return { ok: false, reason: `mermaid-cli is not installed (${path.relative(ROOT, MMDC)}; npm ci installs it)` };
    for (const name of BROWSER_ENV) {
        const value = env[name];
        if (!value) continue;
        if (!isExecutable(value)) return { ok: false, reason: `${name}=${value} is not an executable file` };
        return { ok: true, value: { mmdc: MMDC, browser: value } };
    }
    const browser = BROWSER_PATHS.find(isExecutable);
    if (!browser) return { ok: false, reason: `no Chromium found (looked at ${BROWSER_PATHS.join(", ")}; install chromium or set CHROMIUM_PATH)` };
    return { ok: true, value: { mmdc: MMDC, browser } };
}

export interface Chart {
    readonly mermaid: string;
    /** Where the SVG goes. */
    readonly svg: string;
}

/**
 * Renders every chart in one mmdc run (one browser start): a Markdown file with one ```mermaid block per chart,
 * which mmdc turns into <name>-1.svg, <name>-2.svg, … A chart Mermaid cannot parse fails the whole run (mmdc
 * exits non-zero and writes no SVG for it); the reason is mmdc's first error line.
 */
export function renderSvgs(renderer: SvgRenderer, charts: readonly Chart[], timeoutMs = DEFAULT_TIMEOUT_MS): { ok: true } | { ok: false; reason: string } {
    if (charts.length === 0) return { ok: true };
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "swarm-mermaid-"));
    try {
        const puppeteerConfig = path.join(work, "puppeteer.json");
        // Chromium refuses to start as root with its sandbox on; it only ever loads our own generated chart.
        const asRoot = typeof process.getuid === "function" && process.getuid() === 0;
        fs.writeFileSync(puppeteerConfig, JSON.stringify({ executablePath: renderer.browser, args: asRoot ? ["--no-sandbox"] : [] }));
        const input = path.join(work, "charts.md");
        fs.writeFileSync(input, charts.map((c) => `\`\`\`mermaid\n${c.mermaid.trimEnd()}\n\`\`\`\n`).join("\n"));
        const r = spawnSync(renderer.mmdc, ["--quiet", "-p", puppeteerConfig, "-i", input, "-o", path.join(work, "out.md")], {
            encoding: "utf8",
            timeout: timeoutMs,
        });
        if (r.error) {
            const timedOut = (r.error as NodeJS.ErrnoException).code === "ETIMEDOUT";
            return { ok: false, reason: timedOut ? `mmdc took longer than ${timeoutMs / 1000}s` : `mmdc could not run: ${r.error.message}` };
        }
        if (r.status !== 0) {
            const first = `${r.stderr}${r.stdout}`.split("\n").find((l) => l.trim() !== "") ?? "";
            return { ok: false, reason: `mmdc exited ${r.status ?? `on ${r.signal}`}: ${first.trim()}` };
        }
        for (const [i, chart] of charts.entries()) {
            const produced = path.join(work, `out-${i + 1}.svg`);
            if (!fs.existsSync(produced)) return { ok: false, reason: `mmdc wrote no SVG for chart ${i + 1}` };
            fs.mkdirSync(path.dirname(chart.svg), { recursive: true });
            fs.copyFileSync(produced, chart.svg);
        }
        return { ok: true };
    } finally {
        fs.rmSync(work, { recursive: true, force: true });
    }
}

/** `mmd` → `svg` where a renderer is available: the SVG's path, or why it was skipped. */
export function writeSvg(mmd: string, svg: string, env: NodeJS.ProcessEnv = process.env): Found<string> {
    const renderer = findSvgRenderer(env);
    if (!renderer.ok) return renderer;
    const result = renderSvgs(renderer.value, [{ mermaid: fs.readFileSync(mmd, "utf8"), svg }]);
    return result.ok ? { ok: true, value: svg } : result;
}
