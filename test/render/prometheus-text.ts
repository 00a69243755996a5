// A strict reader of the Prometheus text format 0.0.4, for the metrics tests (render and lab): every line is a
// HELP, a TYPE or a sample; every sample's family has a TYPE before it; no series twice; a histogram's buckets
// ascend, never decrease, and end with +Inf equal to its _count. Anything else throws, naming the line.
import * as assert from "node:assert/strict";

export interface Sample {
    readonly name: string;
    readonly labels: Readonly<Record<string, string>>;
    readonly value: number;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\["\\n])*)"\s*(,|$)/y;
const VALUE = /^(?:[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|[+-]Inf|NaN)$/;

function unescape(v: string): string {
    return v.replace(/\\(["\\n])/g, (_, c: string) => (c === "n" ? "\n" : c));
}

function parseLabels(text: string, where: string): Record<string, string> {
    const labels: Record<string, string> = {};
    LABEL.lastIndex = 0;
    while (LABEL.lastIndex < text.length) {
        const m = LABEL.exec(text);
        assert.ok(m, `${where}: bad label list {${text}}`);
        assert.ok(!(m[1] in labels), `${where}: label ${m[1]} twice`);
        labels[m[1]] = unescape(m[2]);
        if (m[3] === "") break;
    }
    return labels;
}

export function parseExposition(text: string): Sample[] {
    assert.ok(text.endsWith("\n"), "the exposition must end with a line break");
    const types = new Map<string, string>();
    const seen = new Set<string>();
    const samples: Sample[] = [];
    text.slice(0, -1)
        .split("\n")
        .forEach((line, i) => {
            const where = `line ${i + 1} (${line})`;
            if (line.startsWith("#")) {
                const m = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
                assert.ok(m, `${where}: a comment must be HELP or TYPE`);
                assert.match(m[2], NAME, where);
                if (m[1] === "TYPE") {
                    assert.match(m[3], /^(counter|gauge|histogram|summary|untyped)$/, where);
                    assert.ok(!types.has(m[2]), `${where}: TYPE twice`);
                    types.set(m[2], m[3]);
                }
                return;
            }
            const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
            assert.ok(m, `${where}: not a sample`);
            const [, name, labelText, valueText] = m;
            assert.match(valueText, VALUE, `${where}: bad value`);
            const family = [name, name.replace(/_(bucket|sum|count)$/, "")].find((f) => types.has(f));
            assert.ok(family, `${where}: no TYPE before this sample`);
            if (family !== name) assert.equal(types.get(family), "histogram", `${where}: _bucket/_sum/_count of a non-histogram`);
            const labels = labelText === undefined ? {} : parseLabels(labelText, where);
            const key = `${name}{${Object.keys(labels).sort().map((k) => `${k}=${labels[k]}`).join(",")}}`;
            assert.ok(!seen.has(key), `${where}: series twice`);
            seen.add(key);
            samples.push({ name, labels, value: Number(valueText) });
        });
    checkHistograms(samples, types);
    return samples;
}

function checkHistograms(samples: readonly Sample[], types: ReadonlyMap<string, string>): void {
    for (const [family, type] of types) {
        if (type !== "histogram") continue;
        const series = new Map<string, { le: number; value: number }[]>();
        for (const s of samples.filter((x) => x.name === `${family}_bucket`)) {
            const { le, ...rest } = s.labels;
            assert.ok(le !== undefined, `${family}_bucket without le`);
            const key = JSON.stringify(rest);
            const list = series.get(key) ?? [];
            list.push({ le: le === "+Inf" ? Infinity : Number(le), value: s.value });
            series.set(key, list);
        }
        for (const [key, buckets] of series) {
            for (let i = 1; i < buckets.length; i++) {
                assert.ok(buckets[i].le > buckets[i - 1].le, `${family}${key}: le not ascending`);
                assert.ok(buckets[i].value >= buckets[i - 1].value, `${family}${key}: a bucket below the one before`);
            }
            const last = buckets[buckets.length - 1];
            assert.equal(last.le, Infinity, `${family}${key}: no +Inf bucket`);
            const count = samples.find((s) => s.name === `${family}_count` && JSON.stringify(s.labels) === key);
            assert.ok(count, `${family}${key}: no _count`);
            assert.equal(count.value, last.value, `${family}${key}: +Inf bucket differs from _count`);
            assert.ok(samples.some((s) => s.name === `${family}_sum` && JSON.stringify(s.labels) === key), `${family}${key}: no _sum`);
        }
    }
}

/** The sum of a family's samples whose labels include `match`. */
export function total(samples: readonly Sample[], name: string, match: Readonly<Record<string, string>> = {}): number {
    return samples.filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v)).reduce((sum, s) => sum + s.value, 0);
}
