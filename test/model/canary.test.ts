// The automated canary's pure parts: the plan (each step's stack file, only the app's changed entries and its
// routes rewritten), its checks, the command line's values, and the metrics reader (Prometheus text, deltas that
// survive resets, error rate and p99 as histogram_quantile computes it, the verdict of a step).
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import * as YAML from "yaml";
import { formatErrors, validateConfig } from "../../model";
import { canaryStart, canaryStepText, parseDuration, parsePercent, parseSteps, planCanary, writeAppRoutes } from "../../model/canary";
import { parseStackFile } from "../../model/config";
import { counterDeltas, histogramQuantile, judgeStep, parsePrometheusText, releaseFigures, type SourceRead } from "../../model/metrics-read";
import { AppSchema } from "../../model/releases";

const ROOT = path.resolve(__dirname, "..", "..");
const DEV = fs.readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8");
/** dev with a third shop release, deployed and unrouted: the canary's starting point. */
const DEV21 = DEV.replace(
    `env: { RELEASE: "2.0" } }\n`,
    `env: { RELEASE: "2.0" } }\n        - { name: "2.1", env: { RELEASE: "2.1" } }   # the canary\n`,
);
const SHOP21 = { app: "shop", release: "2.1", hostname: "sklep.localhost" };
/** The schema knows weighted routes once the releases-and-routes change is in (another branch of issue 12). */
const ROUTES_IN_SCHEMA = "routes" in AppSchema.shape;

const shopOf = (text: string) =>
    ((YAML.parse(text) as { config: Record<string, unknown> }).config["swarm-platform:apps"] as { name: string; releases: { name: string; hostnames?: string[] }[]; routes?: unknown[] }[]).find(
        (a) => a.name === "shop",
    )!;
const changedLines = (a: string, b: string) => {
    const [x, y] = [a.split("\n"), b.split("\n")];
    return { removed: x.filter((l) => !y.includes(l)), added: y.filter((l) => !x.includes(l)) };
};

describe("canary plan: each step's stack file", () => {
    it("starts from the release serving the hostname; step 10 is a 90/10 route with the hostname off the stable release, only those lines changed", () => {
        assert.notEqual(DEV21, DEV);
        const start = canaryStart(DEV21, SHOP21);
        assert.deepEqual({ stable: start.stable, canary: start.canary, hostname: start.hostname }, { stable: "2.0", canary: "2.1", hostname: "sklep.localhost" });
        const step10 = canaryStepText(start, 10);
        assert.deepEqual(changedLines(DEV21, step10), {
            removed: [`        - { name: "2.0", hostnames: [nowy.sklep.localhost, sklep.localhost], env: { RELEASE: "2.0" } }`],
            added: [
                `        - { name: "2.0", hostnames: [nowy.sklep.localhost], env: { RELEASE: "2.0" } }`,
                `      routes:`,
                `        - { hostname: sklep.localhost, releases: { "2.0": 90, "2.1": 10 } }`,
            ],
        });
        assert.match(step10, /# the canary\n {6}routes:\n/, "the routes key follows the releases, the comment kept");
        assert.deepEqual(shopOf(step10).routes, [{ hostname: "sklep.localhost", releases: { "2.0": 90, "2.1": 10 } }]);
    });

    it("step 50 only moves the weights; step 100 gives the hostname to the canary and removes the route", () => {
        const start = canaryStart(DEV21, SHOP21);
        assert.deepEqual(shopOf(canaryStepText(start, 50)).routes, [{ hostname: "sklep.localhost", releases: { "2.0": 50, "2.1": 50 } }]);
        const step100 = canaryStepText(start, 100);
        const shop = shopOf(step100);
        assert.equal(shop.routes, undefined, "no routes key left");
        assert.deepEqual(shop.releases.map((r) => [r.name, r.hostnames ?? []]), [
            ["1.9", ["stary.sklep.localhost"]],
            ["2.0", ["nowy.sklep.localhost"]],
            ["2.1", ["sklep.localhost"]],
        ]);
        assert.deepEqual(changedLines(DEV21, step100).added, [
            `        - { name: "2.0", hostnames: [nowy.sklep.localhost], env: { RELEASE: "2.0" } }`,
            `        - { name: "2.1", env: { RELEASE: "2.1" }, hostnames: [sklep.localhost] }   # the canary`,
        ]);
    });

    it("an app with a route of its own keeps it at every step (block list entries), and loses only the canary's at 100", () => {
        const text = DEV21.replace(`# the canary\n`, `# the canary\n      routes:\n        - { hostname: split.localhost, releases: { "1.9": 1, "2.0": 1 } }\n`);
        const start = canaryStart(text, SHOP21);
        assert.deepEqual(shopOf(canaryStepText(start, 10)).routes, [
            { hostname: "split.localhost", releases: { "1.9": 1, "2.0": 1 } },
            { hostname: "sklep.localhost", releases: { "2.0": 90, "2.1": 10 } },
        ]);
        const step100 = canaryStepText(start, 100);
        assert.ok(step100.includes(`      routes:\n        - { hostname: split.localhost, releases: { "1.9": 1, "2.0": 1 } }\n    - name: stock`), step100);
    });

    it("writeAppRoutes on a file without a trailing newline and with an empty list removes the key", () => {
        const withRoutes = writeAppRoutes(DEV21.trimEnd(), "shop", [{ hostname: "a.localhost", releases: { "2.0": 1 } }]);
        assert.match(withRoutes, /routes:\n {8}- \{ hostname: a\.localhost, releases: \{ "2\.0": 1 \} \}\n {4}- name: stock/);
        assert.equal(writeAppRoutes(withRoutes, "shop", []), DEV21.trimEnd());
    });

    it("the hostname defaults to the only one the other releases serve; otherwise --hostname is required and the error lists them", () => {
        const single = DEV21.replace("[stary.sklep.localhost]", "[]").replace("[nowy.sklep.localhost, sklep.localhost]", "[sklep.localhost]");
        assert.equal(canaryStart(single, { app: "shop", release: "2.1" }).hostname, "sklep.localhost");
        assert.throws(
            () => canaryStart(DEV21, { app: "shop", release: "2.1" }),
            /^Error: --hostname is required: the other releases of shop serve 3 hostnames \(stary\.sklep\.localhost on 1\.9, nowy\.sklep\.localhost on 2\.0, sklep\.localhost on 2\.0\)$/,
        );
    });

    it("refuses, naming the key: an unknown app or release, a release without replicas, the stable release itself, an unserved or already split hostname", () => {
        assert.throws(() => canaryStart(DEV21, { ...SHOP21, app: "cart" }), /apps: no app "cart" \(apps: shop, stock\)/);
        assert.throws(() => canaryStart(DEV21, { ...SHOP21, release: "2.2" }), /apps\[shop\]\.releases: no release "2\.2" in app shop \(releases: 1\.9, 2\.0, 2\.1\)/);
        const noReplicas = DEV21.replace(`{ name: "2.1", env`, `{ name: "2.1", replicas: 0, env`);
        assert.throws(() => canaryStart(noReplicas, SHOP21), /^Error: apps\[shop\]\.releases\[2\.1\]\.replicas: 0: the canary release needs at least one replica$/);
        assert.throws(() => canaryStart(DEV21, { ...SHOP21, release: "2.0" }), /apps\[shop\]\.releases\[2\.0\]\.hostnames: 2\.0 already serves sklep\.localhost/);
        assert.throws(() => canaryStart(DEV21, { ...SHOP21, hostname: "elsewhere.localhost" }), /--hostname elsewhere\.localhost: no release of shop serves it/);
        const split = canaryStepText(canaryStart(DEV21, SHOP21), 10);
        assert.throws(() => canaryStart(split, SHOP21), /apps\[shop\]\.routes\[0\]\.hostname: sklep\.localhost is already a weighted route/);
    });

    it("planCanary checks every step's whole file before anything, naming the step and the key", () => {
        const seen: string[] = [];
        const plan = planCanary(DEV21, SHOP21, [10, 50, 100], (text) => (seen.push(text), []));
        assert.deepEqual(plan.steps.map((s) => s.percent), [10, 50, 100]);
        assert.deepEqual(seen, plan.steps.map((s) => s.text), "every step checked");
        assert.throws(
            () => planCanary(DEV21, SHOP21, [10, 100], (text) => (text.includes("routes:") ? ["apps[shop].routes[0].releases[2.1]: bad"] : [])),
            /would make the stack file invalid; nothing changed:\n {2}- step 1 \(10%\): apps\[shop\]\.routes\[0\]\.releases\[2\.1\]: bad$/,
        );
    });

    it("with the real validateConfig every step's file is a valid stack (once the schema has routes)", { skip: !ROUTES_IN_SCHEMA && "apps[].routes is not in the schema on this branch yet" }, () => {
        const check = (text: string) => {
            const file = parseStackFile(text);
            const r = validateConfig(file.config);
            return r.ok ? [] : formatErrors(r.errors).split("\n");
        };
        const plan = planCanary(DEV21, SHOP21, [10, 50, 100], check);
        assert.equal(plan.steps.length, 3);
    });

    it("step 100 alone is valid with today's validateConfig (no routes involved)", () => {
        const file = parseStackFile(canaryStepText(canaryStart(DEV21, SHOP21), 100));
        const r = validateConfig(file.config);
        assert.ok(r.ok, r.ok ? "" : formatErrors(r.errors));
    });
});

describe("canary command line values", () => {
    it("steps: strictly increasing integer percents ending at 100", () => {
        assert.deepEqual(parseSteps("10,50,100"), [10, 50, 100]);
        assert.deepEqual(parseSteps("100"), [100]);
        assert.throws(() => parseSteps("10,50,90"), /--steps 10,50,90: the last step must be 100/);
        assert.throws(() => parseSteps("50,10,100"), /steps must increase \(50 then 10\)/);
        assert.throws(() => parseSteps("10,10,100"), /steps must increase \(10 then 10\)/);
        assert.throws(() => parseSteps("0,100"), /"0" is not an integer percent in 1\.\.100/);
        assert.throws(() => parseSteps("12.5,100"), /"12\.5" is not an integer percent/);
        assert.throws(() => parseSteps("10,,100"), /"" is not an integer percent/);
    });

    it("durations and percentages", () => {
        assert.equal(parseDuration("60s", "--interval"), 60);
        assert.equal(parseDuration("2m", "--interval"), 120);
        assert.equal(parseDuration("1m30s", "--interval"), 90);
        assert.equal(parseDuration("500ms", "--max-p99"), 0.5);
        for (const bad of ["60", "s", "", "1h", "-5s", "0s"]) assert.throws(() => parseDuration(bad, "--interval"), new RegExp(`^Error: --interval ${bad}: `), bad);
        assert.equal(parsePercent("1%", "--max-error-rate"), 0.01);
        assert.equal(parsePercent("0.5%", "--max-error-rate"), 0.005);
        for (const bad of ["1", "0.01", "101%", "-1%"]) assert.throws(() => parsePercent(bad, "--max-error-rate"), /--max-error-rate .*: not a percentage/, bad);
    });
});

// ---- the metrics reader ------------------------------------------------------------------------------------------

const LABELS = `hostname="sklep.localhost",app="shop",release="2.1"`;
/** One gateway's exposition for the canary release: requests by class, upstream errors, a histogram. */
function exposition(o: { start?: number; ok: number; fail: number; upstream?: number; buckets: number[]; other?: number }): string {
    const les = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"];
    return [
        "# HELP gateway_requests_total Answers by status class.",
        "# TYPE gateway_requests_total counter",
        `gateway_requests_total{${LABELS},code="2xx"} ${o.ok}`,
        `gateway_requests_total{${LABELS},code="5xx"} ${o.fail}`,
        `gateway_requests_total{hostname="sklep.localhost",app="shop",release="2.0",code="5xx"} ${o.other ?? 0}`,
        `gateway_upstream_errors_total{${LABELS},kind="timeout"} ${o.upstream ?? 0}`,
        ...les.map((le, i) => `gateway_request_duration_seconds_bucket{${LABELS},le="${le}"} ${o.buckets[i] ?? o.buckets[o.buckets.length - 1]}`),
        `gateway_request_duration_seconds_count{${LABELS}} ${o.ok + o.fail}`,
        `gateway_metrics_start_time_seconds ${o.start ?? 1000}`,
        "gateway_metrics_lines_dropped_total 0",
        "",
    ].join("\n");
}
const read = (source: string, text: string): SourceRead => ({ source, samples: parsePrometheusText(text, source) });
const SHOP21_SEL = { hostname: "sklep.localhost", app: "shop", release: "2.1" };

describe("metrics reader", () => {
    it("parses samples with escaped label values, +Inf and timestamps; a bad line fails with its source and number", () => {
        const samples = parsePrometheusText(`# c\nm{a="x\\"y",b="1\\\\2"} 3 1700000000000\nn +Inf\n`, "gw-1");
        assert.deepEqual(samples, [
            { name: "m", labels: { a: 'x"y', b: "1\\2" }, value: 3 },
            { name: "n", labels: {}, value: Infinity },
        ]);
        assert.throws(() => parsePrometheusText("ok 1\nbroken{a=1} 2\n", "gw-2"), /^Error: gw-2: metrics line 2 \(broken\{a=1\} 2\): bad label set/);
        assert.throws(() => parsePrometheusText("x one\n", "gw-2"), /gw-2: metrics line 1 .*"one" is not a number/);
    });

    it("sums deltas over gateways; a reset (counter down, or a new start time, or a new container) counts from zero", () => {
        const before = [read("gw-1/a", exposition({ ok: 100, fail: 5, buckets: [100] })), read("gw-2/b", exposition({ ok: 50, fail: 0, buckets: [50] }))];
        const after = [
            read("gw-1/a", exposition({ ok: 190, fail: 15, buckets: [200] })), // +90 ok, +10 failed
            read("gw-2/b", exposition({ ok: 20, fail: 1, buckets: [21] })), // went down: a reload reset it, 20 ok + 1 failed since
            read("gw-2/c", exposition({ ok: 7, fail: 0, buckets: [7] })), // a new gateway container: all of it is new
        ];
        const f = releaseFigures(counterDeltas(before, after), SHOP21_SEL);
        assert.deepEqual({ requests: f.requests, serverErrors: f.serverErrors }, { requests: 90 + 10 + 21 + 7, serverErrors: 11 });
        // the same values with a changed start time and counters that happen to be higher: still a reset
        const restarted = [read("gw-1/a", exposition({ start: 2000, ok: 120, fail: 6, buckets: [126] })), read("gw-2/b", exposition({ ok: 50, fail: 0, buckets: [50] }))];
        assert.equal(releaseFigures(counterDeltas(before, restarted), SHOP21_SEL).requests, 126);
    });

    it("upstream errors are 5xx answers already: shown, not added; other releases are not counted", () => {
        const before = [read("gw-1/a", exposition({ ok: 0, fail: 0, buckets: [0] }))];
        const after = [read("gw-1/a", exposition({ ok: 90, fail: 10, upstream: 4, other: 50, buckets: [100] }))];
        const f = releaseFigures(counterDeltas(before, after), SHOP21_SEL);
        assert.deepEqual({ requests: f.requests, serverErrors: f.serverErrors, upstreamErrors: f.upstreamErrors }, { requests: 100, serverErrors: 10, upstreamErrors: 4 });
    });

    it("p99 interpolates linearly inside the bucket, as histogram_quantile; the +Inf bucket gives the last finite bound", () => {
        // 1,000 answers: 900 under 10 ms, 90 more under 25 ms, the last 10 under 50 ms. Rank 990 is the 25 ms bound.
        const b = (counts: [number, number][]) => counts.map(([le, count]) => ({ le, count }));
        assert.deepEqual(histogramQuantile(0.99, b([[0.01, 900], [0.025, 990], [0.05, 1000], [Infinity, 1000]])), { seconds: 0.025, beyond: false });
        // rank 990 in (0.1, 0.25] holding 980 → 1000: 0.1 + 0.15 × 10/20 = 0.175
        const mid = histogramQuantile(0.99, b([[0.1, 980], [0.25, 1000], [Infinity, 1000]]))!;
        assert.ok(Math.abs(mid.seconds - 0.175) < 1e-12, String(mid.seconds));
        // the first bucket interpolates from 0
        assert.ok(Math.abs(histogramQuantile(0.5, b([[0.01, 100], [Infinity, 100]]))!.seconds - 0.005) < 1e-12);
        assert.deepEqual(histogramQuantile(0.99, b([[5, 10], [10, 50], [Infinity, 100]])), { seconds: 10, beyond: true });
        assert.equal(histogramQuantile(0.99, b([[0.01, 0], [Infinity, 0]])), undefined);
    });

    it("judges a step: bounds, the not-enough-traffic rule, and the figures in the message", () => {
        const bounds = { maxErrorRate: 0.01, maxP99Seconds: 0.5, minRequests: 50 };
        const p99 = { seconds: 0.012, beyond: false };
        assert.deepEqual(judgeStep({ requests: 1000, serverErrors: 312, upstreamErrors: 0, p99 }, bounds), {
            ok: false,
            summary: "error rate 31.2% (312 of 1,000 requests), p99 12 ms",
            reason: "error rate 31.2% > 1% (312 of 1,000 requests), p99 12 ms",
        });
        assert.deepEqual(judgeStep({ requests: 1000, serverErrors: 10, upstreamErrors: 0, p99 }, bounds), { ok: true, summary: "error rate 1% (10 of 1,000 requests), p99 12 ms" });
        const slow = judgeStep({ requests: 400, serverErrors: 0, upstreamErrors: 0, p99: { seconds: 0.75, beyond: false } }, bounds);
        assert.equal(slow.ok ? "" : slow.reason, "p99 750 ms > 500 ms (error rate 0%, 400 requests)");
        const beyond = judgeStep({ requests: 400, serverErrors: 0, upstreamErrors: 0, p99: { seconds: 10, beyond: true } }, { ...bounds, maxP99Seconds: 10 });
        assert.equal(beyond.ok, false, "past the last finite bucket is over a bound equal to it");
        const quiet = judgeStep({ requests: 12, serverErrors: 0, upstreamErrors: 0, p99 }, bounds);
        assert.equal(quiet.ok ? "" : quiet.reason, "not enough traffic: 12 requests reached the release (at least 50 needed to judge)");
    });
});
