// Reading the gateway's metrics (Prometheus text format 0.0.4) for one release on one hostname: parse, take the
// change between two reads of every gateway, summed over the gateways, and judge it. Pure: text in, figures out.
// The families are the metrics concept's (docs/metrics.md): gateway_requests_total{hostname,app,release,code},
// gateway_upstream_errors_total{…,kind}, gateway_request_duration_seconds histogram, gateway_metrics_start_time_seconds.

export const METRIC = {
    requests: "gateway_requests_total",
    upstreamErrors: "gateway_upstream_errors_total",
    durationBucket: "gateway_request_duration_seconds_bucket",
    startTime: "gateway_metrics_start_time_seconds",
} as const;

export interface Sample {
    readonly name: string;
    readonly labels: Readonly<Record<string, string>>;
    readonly value: number;
}

/** One gateway's metrics at one moment; `source` names it (`gw-1`, `gw-1/<container>`) in messages and deltas. */
export interface SourceRead {
    readonly source: string;
    readonly samples: readonly Sample[];
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?\s*$/;
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(,|$)/y;

function parseValue(text: string): number {
    if (text === "+Inf") return Infinity;
    if (text === "-Inf") return -Infinity;
    if (text === "NaN") return NaN;
    const n = Number(text);
    if (text === "" || Number.isNaN(n)) throw new Error(`"${text}" is not a number`);
    return n;
}

function parseLabels(text: string): Record<string, string> {
    const labels: Record<string, string> = {};
    LABEL.lastIndex = 0;
    while (LABEL.lastIndex < text.length) {
        const start = LABEL.lastIndex;
        const m = LABEL.exec(text);
        if (!m) throw new Error(`bad label set at "${text.slice(start)}"`);
        labels[m[1]] = m[2].replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
        if (m[3] === "") break;
    }
    return labels;
}

/** Every sample of a Prometheus text exposition; a line that is not one fails with its number and `source`. */
export function parsePrometheusText(text: string, source: string): Sample[] {
    const samples: Sample[] = [];
    text.split("\n").forEach((raw, i) => {
        const line = raw.trim();
        if (line === "" || line.startsWith("#")) return;
        const m = LINE.exec(line);
        try {
            if (!m) throw new Error("not a sample line");
            samples.push({ name: m[1], labels: m[2] ? parseLabels(m[2]) : {}, value: parseValue(m[3]) });
        } catch (err) {
            throw new Error(`${source}: metrics line ${i + 1} (${line.slice(0, 80)}): ${(err as Error).message}`);
        }
    });
    return samples;
}

function seriesKey(s: Sample): string {
    return `${s.name}{${Object.keys(s.labels)
        .sort()
        .map((k) => `${k}=${JSON.stringify(s.labels[k])}`)
        .join(",")}}`;
}

function startTimeOf(read: SourceRead | undefined): number | undefined {
    return read?.samples.find((s) => s.name === METRIC.startTime)?.value;
}

/**
 * The change of every counter series between two reads, summed over the gateways. Per gateway and series: a
 * gateway seen for the first time, a changed start time or a counter that went down is a reset, and the change is
 * then the new value (the counts since the reset); otherwise it is the difference.
 */
export function counterDeltas(before: readonly SourceRead[], after: readonly SourceRead[]): Sample[] {
    const summed = new Map<string, Sample>();
    for (const now of after) {
        const then = before.find((b) => b.source === now.source);
        const restarted = !then || startTimeOf(then) !== startTimeOf(now);
        const previous = new Map((then?.samples ?? []).map((s) => [seriesKey(s), s.value]));
        for (const s of now.samples) {
            if (s.name === METRIC.startTime) continue;
            const key = seriesKey(s);
            const old = previous.get(key);
            const delta = restarted || old === undefined || s.value < old ? s.value : s.value - old;
            const sum = summed.get(key);
            summed.set(key, { ...s, value: (sum?.value ?? 0) + delta });
        }
    }
    return [...summed.values()];
}

/**
 * The q-quantile of a cumulative histogram as Prometheus' histogram_quantile computes it: linear interpolation
 * inside the bucket holding the rank; a rank in the +Inf bucket gives the highest finite bound (`beyond` set).
 */
export function histogramQuantile(q: number, buckets: readonly { le: number; count: number }[]): { seconds: number; beyond: boolean } | undefined {
    const sorted = [...buckets].sort((a, b) => a.le - b.le);
    const total = sorted.find((b) => b.le === Infinity)?.count ?? sorted[sorted.length - 1]?.count ?? 0;
    if (!(total > 0)) return undefined;
    const rank = q * total;
    let lowerBound = 0;
    let lowerCount = 0;
    for (const b of sorted) {
        if (b.count >= rank) {
            if (b.le === Infinity) return { seconds: lowerBound, beyond: true };
            if (b.le <= 0 || b.count === lowerCount) return { seconds: b.le, beyond: false };
            return { seconds: lowerBound + (b.le - lowerBound) * ((rank - lowerCount) / (b.count - lowerCount)), beyond: false };
        }
        lowerBound = b.le;
        lowerCount = b.count;
    }
    return { seconds: lowerBound, beyond: true };
}

export interface ReleaseSelector {
    readonly hostname: string;
    readonly app: string;
    readonly release: string;
}

export interface ReleaseFigures {
    /** Answers, every status class. */
    readonly requests: number;
    /** 5xx answers: upstream errors and timeouts are 5xx answers too, so they are in here once. */
    readonly serverErrors: number;
    /** Of those, the gateway's own upstream errors and timeouts (shown, not added). */
    readonly upstreamErrors: number;
    /** p99 latency in seconds; undefined without a histogram count. */
    readonly p99?: { seconds: number; beyond: boolean };
}

/** One release's figures on one hostname from summed deltas (counterDeltas). */
export function releaseFigures(deltas: readonly Sample[], of: ReleaseSelector): ReleaseFigures {
    const mine = deltas.filter((s) => s.labels.hostname === of.hostname && s.labels.app === of.app && s.labels.release === of.release);
    const sum = (name: string, pick: (s: Sample) => boolean = () => true) => mine.filter((s) => s.name === name && pick(s)).reduce((t, s) => t + s.value, 0);
    const buckets = new Map<number, number>();
    for (const s of mine.filter((x) => x.name === METRIC.durationBucket)) {
        const le = s.labels.le === "+Inf" ? Infinity : Number(s.labels.le);
        if (!Number.isNaN(le)) buckets.set(le, (buckets.get(le) ?? 0) + s.value);
    }
    const p99 = histogramQuantile(0.99, [...buckets].map(([le, count]) => ({ le, count })));
    return {
        requests: sum(METRIC.requests),
        serverErrors: sum(METRIC.requests, (s) => s.labels.code === "5xx"),
        upstreamErrors: sum(METRIC.upstreamErrors),
        ...(p99 ? { p99 } : {}),
    };
}

// ---- judging a step ---------------------------------------------------------------------------------------------

export interface StepBounds {
    /** A share, 0..1 (`1%` is 0.01). */
    readonly maxErrorRate: number;
    readonly maxP99Seconds: number;
    /** Fewer canary answers than this cannot be judged: the step fails as "not enough traffic". */
    readonly minRequests: number;
}

const count = (n: number) => Math.round(n).toLocaleString("en-US");
export const formatPercent = (share: number) => `${Number((share * 100).toFixed(share * 100 >= 10 ? 1 : 2))}%`;
const formatMs = (p99: { seconds: number; beyond: boolean } | undefined) =>
    p99 === undefined ? "p99 -" : p99.beyond ? `p99 > ${count(p99.seconds * 1000)} ms` : `p99 ${count(p99.seconds * 1000)} ms`;

export type StepVerdict = { readonly ok: true; readonly summary: string } | { readonly ok: false; readonly summary: string; readonly reason: string };

/** Whether a step's figures are within the bounds, in one line either way (`error rate 31.2% > 1% (312 of 1,000 requests), p99 12 ms`). */
export function judgeStep(f: ReleaseFigures, bounds: StepBounds): StepVerdict {
    const rate = f.requests > 0 ? f.serverErrors / f.requests : 0;
    const errors = `${f.serverErrors > 0 ? `${count(f.serverErrors)} of ` : ""}${count(f.requests)} request${f.requests === 1 ? "" : "s"}${f.upstreamErrors > 0 ? `, ${count(f.upstreamErrors)} upstream errors or timeouts` : ""}`;
    const summary = `error rate ${formatPercent(rate)} (${errors}), ${formatMs(f.p99)}`;
    if (f.requests < bounds.minRequests) {
        return { ok: false, summary, reason: `not enough traffic: ${count(f.requests)} request${f.requests === 1 ? "" : "s"} reached the release (at least ${count(bounds.minRequests)} needed to judge)` };
    }
    if (rate > bounds.maxErrorRate) {
        return { ok: false, summary, reason: `error rate ${formatPercent(rate)} > ${formatPercent(bounds.maxErrorRate)} (${errors}), ${formatMs(f.p99)}` };
    }
    const p99 = f.p99;
    if (p99 && (p99.beyond ? p99.seconds >= bounds.maxP99Seconds : p99.seconds > bounds.maxP99Seconds)) {
        return { ok: false, summary, reason: `${formatMs(p99)} > ${count(bounds.maxP99Seconds * 1000)} ms (error rate ${formatPercent(rate)}, ${errors})` };
    }
    return { ok: true, summary };
}
