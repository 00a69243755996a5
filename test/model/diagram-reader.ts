// Reads the Mermaid text diagramOf writes back into elements, subgraphs, edges and classes, for the diagram's tests.
// It knows exactly the line forms diagramOf uses: any other line fails, so a malformed line cannot go unnoticed.
import * as assert from "node:assert/strict";

export interface Element {
    readonly id: string;
    readonly shape: string;
    /** Label lines (split at Mermaid's <br/>, then decoded: a `<br/>` in a name stays text). */
    readonly lines: string[];
    /** The subgraph it is declared in, if any. */
    readonly parent?: string;
}
export interface Edge {
    readonly from: string;
    readonly arrow: string;
    readonly label?: string;
    readonly to: string;
}
export interface Diagram {
    readonly elements: Map<string, Element>;
    readonly subgraphs: Map<string, string>;
    readonly edges: Edge[];
    /** class name → ids. */
    readonly classes: Map<string, string[]>;
    readonly linkStyles: number[];
}

const ID = "[A-Za-z0-9_]+";
const SHAPES = "\\(\\[|\\[\\[|\\{\\{|\\[|\\(";
const ENDS = "\\]\\)|\\]\\]|\\}\\}|\\]|\\)";
const ELEMENT = new RegExp(`^ *(${ID})(${SHAPES})"([^"]*)"(${ENDS})$`);
const SUBGRAPH = new RegExp(`^ *subgraph (${ID})\\["([^"]*)"\\]$`);
const EDGE = new RegExp(`^ *(${ID}) (-->|-\\.->|-\\.-)(?:\\|"([^"]*)"\\|)? (${ID})$`);
const CLASS = new RegExp(`^ *class (${ID}(?:,${ID})*) (${ID})$`);
const LINK_STYLE = /^ *linkStyle (\d+(?:,\d+)*) [a-z-]+:[^;]+$/;
const CLASS_DEF = new RegExp(`^ *classDef ${ID} [a-z-]+:[^;]+$`);

/** Mermaid's entity codes (`#34;`) back to text. */
export function decode(text: string): string {
    return text.replace(/#(\d+);/g, (_, code: string) => String.fromCodePoint(Number(code)));
}

/** Parses the line forms diagramOf writes; any other line fails the test, so a broken line cannot hide. */
export function read(text: string): Diagram {
    const d: Diagram = { elements: new Map(), subgraphs: new Map(), edges: [], classes: new Map(), linkStyles: [] };
    let parent: string | undefined;
    text.split("\n").forEach((line, i) => {
        let m: RegExpMatchArray | null;
        if (line === "" || line.startsWith("%% ") || line === "flowchart LR" || CLASS_DEF.test(line)) return;
        if ((m = line.match(SUBGRAPH))) {
            assert.equal(parent, undefined, `line ${i + 1}: nested subgraph`);
            parent = m[1];
            d.subgraphs.set(m[1], decode(m[2]));
        } else if (/^ *end$/.test(line)) {
            assert.ok(parent, `line ${i + 1}: end outside a subgraph`);
            parent = undefined;
        } else if ((m = line.match(ELEMENT))) {
            assert.ok(!d.elements.has(m[1]), `line ${i + 1}: ${m[1]} declared twice`);
            d.elements.set(m[1], { id: m[1], shape: m[2], lines: m[3].split("<br/>").map(decode), ...(parent ? { parent } : {}) });
        } else if ((m = line.match(EDGE))) {
            d.edges.push({ from: m[1], arrow: m[2], to: m[4], ...(m[3] !== undefined ? { label: decode(m[3]) } : {}) });
        } else if ((m = line.match(CLASS))) {
            d.classes.set(m[2], [...(d.classes.get(m[2]) ?? []), ...m[1].split(",")]);
        } else if ((m = line.match(LINK_STYLE))) {
            d.linkStyles.push(...m[1].split(",").map(Number));
        } else {
            assert.fail(`line ${i + 1} is not one of the forms the diagram uses: ${JSON.stringify(line)}`);
        }
    });
    assert.equal(parent, undefined, "a subgraph is not closed");
    for (const e of d.edges) for (const end of [e.from, e.to]) assert.ok(d.elements.has(end), `edge to undeclared ${end}`);
    for (const ids of d.classes.values()) for (const id of ids) assert.ok(d.elements.has(id), `class on undeclared ${id}`);
    return d;
}

/** The element whose first label line is `title`. */
export function titled(d: Diagram, title: string): Element {
    const found = [...d.elements.values()].filter((e) => e.lines[0] === title);
    assert.equal(found.length, 1, `one element titled ${JSON.stringify(title)}, found ${found.length}`);
    return found[0];
}

export function zoneOf(d: Diagram, e: Element): string | undefined {
    return e.parent === undefined ? undefined : d.subgraphs.get(e.parent);
}

export function classesOf(d: Diagram, id: string): string[] {
    return [...d.classes].filter(([, ids]) => ids.includes(id)).map(([name]) => name);
}
