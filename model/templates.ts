// Reading and rendering the mustache templates under templates/<concept>/. TypeScript only builds view objects;
// every line of config or script text comes from a template file.
import * as fs from "node:fs";
import * as path from "node:path";
import Mustache from "mustache";

export const TEMPLATES_DIR = path.resolve(__dirname, "..", "templates");

/** A rendered file, as `npm run render` writes it. */
export interface Artifact {
    /** Relative path in the render output dir, e.g. `nodes/gw-1/keepalived.conf`. */
    readonly path: string;
    readonly content: string;
    /** File mode, e.g. 0o755 for scripts. */
    readonly mode?: number;
}

// Values interpolated inside single-quoted shell strings in the rendered scripts.
const SHELL_SAFE = /^[A-Za-z0-9._~:/?=&%+@,-]*$/;

const templateCache = new Map<string, string>();

/** The text of `templates/<rel>`. */
export function readTemplate(rel: string): string {
    let text = templateCache.get(rel);
    if (text === undefined) {
        text = fs.readFileSync(path.join(TEMPLATES_DIR, rel), "utf8");
        templateCache.set(rel, text);
    }
    return text;
}

/** `{{x}}` inserts the value as is (no HTML escaping) but refuses a line break, so one value cannot add config lines. */
function singleLine(value: unknown): string {
    const text = String(value);
    if (/[\r\n\0]/.test(text)) throw new Error(`template value ${JSON.stringify(text)} contains a line break or NUL`);
    return text;
}

export function renderTemplate(rel: string, view: object): string {
    return Mustache.render(readTemplate(rel), view, {}, { escape: singleLine });
}

/** `value`, checked to be safe inside a single-quoted string of a generated script. */
export function shellSafe(what: string, value: string): string {
    if (!SHELL_SAFE.test(value)) throw new Error(`${what} ${JSON.stringify(value)} has characters that are not safe in a generated script`);
    return value;
}
