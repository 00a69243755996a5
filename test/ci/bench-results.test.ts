// bench/results.md's renderer and the bench's pure helpers: figures against targets, parts that did not run, the
// outage measure, the growth node lists and the VRRP floors. No lab needed.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Answer } from "../../test/lab/helpers";
import { labPlan, nodeList, outageOf, recovered, vipWithProfile, vrrpFloors } from "../../bench/lab-bench";
import { renderResults, Results, stat } from "../../bench/results";

const notRun = { status: "not run" as const, reason: "not selected (BENCH_ONLY)" };
function results(over: Partial<Results>): Results {
    return {
        started: "2025-01-01T00:00:00Z",
        finished: "2025-01-01T01:00:00Z",
        machine: { cores: 2, memoryGiB: 8, versions: { node: "v20" } },
        settings: {},
        coldup: notRun,
        growth: notRun,
        failover: notRun,
        reaction: notRun,
        gateway: notRun,
        scale: notRun,
        ...over,
    };
}
const rowOf = (md: string, figure: string) => md.split("\n").find((l) => l.startsWith(`| ${figure}`)) ?? "";

describe("bench results", () => {
    it("stat: min, median (even and odd counts), max", () => {
        assert.deepEqual(stat([3, 1, 2]), { n: 3, min: 1, median: 2, max: 3 });
        assert.equal(stat([4, 1, 2, 3])?.median, 2.5);
        assert.equal(stat([]), undefined);
    });

    it("a part that did not run says so and gets no verdict", () => {
        const md = renderResults(results({}));
        assert.match(rowOf(md, "Program scale (bench/scale.ts)"), /not run: not selected/);
        assert.doesNotMatch(md, /\| met \||\*\*missed\*\*/);
        assert.match(md, /Targets met: 0 of 0 with a figure; of the missed, 0 out of reach here/);
    });

    it("cold up against the baseline: the ratio of medians decides met or missed", () => {
        const data = { program: [30, 40, 50], programEngine: [25], baseline: [40, 60], destroy: [10], teardown: [4], noopEngine: [1.5], noopChanges: [0], addApply: [5], addFirst: [1] };
        const md = renderResults(results({ coldup: { status: "ok", data } }));
        assert.match(rowOf(md, "Cold up, program ÷ baseline"), /\| 0\.80 \| \*\*missed\*\* \|/); // 40 / 50
        assert.match(rowOf(md, "Destroy ÷ baseline teardown"), /\| 2\.50 \| \*\*missed\*\* \|/);
        assert.match(rowOf(md, "No-op re-apply"), /\| met \|$/);
        assert.match(rowOf(md, "Cold up to the first 200"), /40\.00 s \(min 30\.00, max 50\.00, n=3\)/);
    });

    it("a failover row whose every run failed says so, with no verdict, and the failure is listed", () => {
        const row = (kind: "hard" | "graceful", outage: number[]) => ({ profile: "default" as const, kind, outage, failed: outage.map(() => 0), late: outage.map(() => 1), rps: outage.map(() => 48), floor: kind === "hard" ? 3.26 : 0.26, advertInt: 1, version: 2 });
        const failover = { status: "ok" as const, data: { rows: [row("hard", []), row("graceful", [0.04])], skipped: [] }, errors: ["default: the outage had not ended when the probe stopped"] };
        const md = renderResults(results({ failover }));
        assert.match(rowOf(md, "Failover hard, default profile"), /\| no figure: no run ended \(see the runs that failed\); floor 3\.26 s \| — \|$/);
        assert.doesNotMatch(md, /Infinity/);
        assert.match(rowOf(md, "Failover graceful, default profile"), /0\.04 s; floor 0\.26 s; late requests 1, of them failed 0; probe 48 req\/s/);
        assert.match(md, /- failover: default: the outage had not ended when the probe stopped/);
    });

    it("gateway and scale rows from the documented BENCH JSON shapes", () => {
        const row = (engine: string, backend: string, path: string, rps: number, p99ms: number, cpuUsPerReq: number) => ({ engine, backend, path, rps, p50ms: 1, p99ms, cpuUsPerReq });
        const gateway = [row("nginx", "1ms", "direct", 1000, 3, 50), row("nginx", "1ms", "gateway", 900, 4, 80), row("nginx", "trivial", "gateway", 5000, 2, 90), row("nginx", "trivial", "hand-tuned", 6000, 1, 50)];
        const md = renderResults(results({ gateway: { status: "ok", data: { gateway } }, scale: { status: "ok", data: { scale: { seconds: 6, peakMiB: 300, resources: 1200 } } } }));
        assert.match(rowOf(md, "nginx, 1 ms backend: throughput"), /\| 0\.90 \| met \|/);
        assert.match(rowOf(md, "nginx, 1 ms backend: added p99"), /\| 1\.00 ms \| met \|/);
        assert.match(rowOf(md, "nginx, trivial backend: CPU per request"), /\| 1\.80 \| \*\*missed\*\* \|/);
        const withMetrics = renderResults(results({ gateway: { status: "ok", data: { gateway: [...gateway, row("nginx", "trivial", "gateway+metrics", 4000, 3, 117)] } } }));
        assert.match(rowOf(withMetrics, "nginx, trivial backend, metrics on ÷ off"), /\| 0\.80; \+1\.00 ms; 1\.30 \|/);
        assert.doesNotMatch(withMetrics, /1 ms backend, metrics on/, "no row without both variants");
        assert.match(rowOf(md, "Program scale: plan"), /\*\*missed\*\*/);
        assert.match(rowOf(md, "Program scale: peak memory"), /\| met \|/);
    });

    it("a missed figure is out of reach here only when a floor measured in the same run misses the target by itself", () => {
        const row = (engine: string, backend: string, path: string, p99ms: number) => ({ engine, backend, path, rps: 1000, p50ms: 1, p99ms, cpuUsPerReq: 10 });
        const over = (tuned: number) =>
            renderResults(results({ gateway: { status: "ok", data: { gateway: [row("haproxy", "1ms", "direct", 3), row("haproxy", "1ms", "gateway", 6), row("haproxy", "1ms", "hand-tuned", tuned)] } } }));
        assert.match(rowOf(over(5.5), "haproxy, 1 ms backend: added p99"), /3\.00 ms; hand-tuned 2\.50 ms \| \*\*missed\*\*; out of reach here: the hand-tuned haproxy config adds 2\.50 ms/);
        assert.match(rowOf(over(4), "haproxy, 1 ms backend: added p99"), /\| \*\*missed\*\* \|$/, "the hand-tuned config meets 2 ms: no excuse");
        assert.match(over(5.5), /of the missed, 1 out of reach here/);
        const scale = (floorSeconds: number) => renderResults(results({ scale: { status: "ok", data: { scale: { seconds: 9, peakMiB: 300, resources: 1200, floorSeconds, floorPeakMiB: 200 } } } }));
        assert.match(rowOf(scale(6), "Program scale: plan"), /the SDK alone 6\.00 s \| \*\*missed\*\*; out of reach here: the SDK alone/);
        assert.match(rowOf(scale(3), "Program scale: plan"), /\| \*\*missed\*\* \|$/);
        const growth = (base12: number) => renderResults(results({ growth: { status: "ok", data: { rows: [
            { nodes: 4, managers: 1, seconds: [30], engine: [28], baseline: [20] },
            { nodes: 12, managers: 3, seconds: [60], engine: [58], baseline: [base12] },
        ] } } }));
        assert.match(rowOf(growth(40), "12 nodes ÷ 4 nodes"), /2\.00; baseline 2\.00 \| \*\*missed\*\*; out of reach here: bench\/baseline\.sh, the by-hand way, grows 2\.00 ×/);
        assert.match(rowOf(growth(25), "12 nodes ÷ 4 nodes"), /\| \*\*missed\*\* \|$/);
        const coldup = (floor: number[]) => renderResults(results({ coldup: { status: "ok", data: {
            program: [45], programEngine: [60], baseline: [50], floor, destroy: [5], teardown: [4], noopEngine: [1], noopChanges: [0], addApply: [5], addFirst: [0],
        } } }));
        assert.match(rowOf(coldup([42]), "Cold up, program ÷ baseline"), /\| 0\.90; floor ÷ baseline 0\.84 \| \*\*missed\*\*; out of reach here: by hand, only the first answer's work .* takes 0\.84 ×/);
        assert.match(rowOf(coldup([42]), "Cold up, floor"), /\| 42\.00 s \|/);
        assert.match(rowOf(coldup([35]), "Cold up, program ÷ baseline"), /\| 0\.90; floor ÷ baseline 0\.70 \| \*\*missed\*\* \|$/, "a floor under 0.75: no excuse");
        assert.match(rowOf(coldup([]), "Cold up, program ÷ baseline"), /\| 0\.90 \| \*\*missed\*\* \|$/, "no floor measured (older results): plainly missed");
    });

    it("cold up: each way's CPU work to its first 200 and the cores it kept busy, only for ways whose every run has it", () => {
        const coldup = (extra: Record<string, number[]>) => renderResults(results({ coldup: { status: "ok", data: {
            program: [20, 24, 22], programEngine: [30, 30, 30], baseline: [30, 32], floor: [25, 25], destroy: [5], teardown: [4], noopEngine: [1], noopChanges: [0], addApply: [5], addFirst: [0],
            ...extra,
        } } }));
        const all = rowOf(coldup({ programCpu: [36, 48, 33], baselineCpu: [48, 48], floorCpu: [35, 40] }), "Cold up, CPU work");
        // program: core-s 33/36/48 → 36; cores 1.5/1.8/2.0 → 1.8. baseline 48 → 1.6/1.5 → 1.55. floor 35/40 → 37.5; 1.4/1.6 → 1.5.
        assert.match(all, /medians\): program \/ baseline \/ floor \| — \| 36\.0 \/ 48\.0 \/ 37\.5 core-s; on average 1\.80 \/ 1\.55 \/ 1\.50 cores busy \|/);
        const partial = rowOf(coldup({ programCpu: [36, 48, 33], baselineCpu: [48] }), "Cold up, CPU work");
        assert.match(partial, /medians\): program \| — \| 36\.0 core-s; on average 1\.80 cores busy \|/, "a way with a run lacking its CPU figure is left out");
        assert.ok(!coldup({}).includes("Cold up, CPU work"), "older results without CPU figures: no row");
    });

    it("promotion apply: out of reach only when its floor (a no-op apply and the routes step's least work) misses 2 s itself", () => {
        const none = { apply: [], afterApply: [], afterHealthy: [] };
        const reaction = (apply: number[], noop: number[], exec: number[], gate?: number[]) => ({
            status: "ok" as const,
            data: { promotion: { apply, afterApply: [0], failed: [0], floor: { noop, exec, ...(gate ? { gate } : {}) } }, replicas: none, backend: none, release: none },
        });
        const figure = "Promotion to a running release: apply";
        // the floor's routes step: the round trip that probes, checks and reloads (gate), not the bare round trip
        const gated = rowOf(renderResults(results({ reaction: reaction([2.5, 2.7], [1.7, 1.8], [0.2], [0.35]) })), figure);
        assert.match(gated, /2\.60 s \(min 2\.50, max 2\.70, n=2\); floor 2\.10 s \(a no-op apply under the same probe 1\.75 s, then one round trip into a gateway node that asks its gateway.s agent to probe the release, check the routes and reload until a new worker serves 0\.35 s \(the round trip alone 0\.20 s\)\) \| \*\*missed\*\*; out of reach here: its floor takes 2\.10 s in the same run: a no-op apply/);
        const gatedLow = rowOf(renderResults(results({ reaction: reaction([2.5], [1.5], [0.2], [0.35]) })), figure);
        assert.match(gatedLow, /floor 1\.85 s .* \| \*\*missed\*\* \|$/);
        // older results (no gate): noop + the bare round trip, as they were rendered
        const high = renderResults(results({ reaction: reaction([2.5, 2.7], [1.9, 2.0], [0.2]) }));
        assert.match(rowOf(high, figure), /2\.60 s \(min 2\.50, max 2\.70, n=2\); floor 2\.15 s \(a no-op apply under the same probe 1\.95 s, one round trip into a gateway container 0\.20 s\) \| \*\*missed\*\*; out of reach here: its floor takes 2\.15 s/);
        const low = renderResults(results({ reaction: reaction([2.5], [1.5], [0.2]) }));
        assert.match(rowOf(low, figure), /floor 1\.70 s .* \| \*\*missed\*\* \|$/);
        const met = renderResults(results({ reaction: reaction([1.9], [1.5], [0.2], [0.3]) }));
        assert.match(rowOf(met, figure), /\| met \|$/);
    });

    it("outage: the longest gap between 200s from the fault on, across the failed requests", () => {
        const a = (t: number, status: number): Answer => ({ t, host: "h", status, body: "" });
        const answers = [a(8, 200), a(9.9, 200), a(10.1, 0), a(11, 0), a(13.2, 200), a(13.3, 200)];
        assert.ok(Math.abs(outageOf(answers, 10) - 3.3) < 1e-9);
        assert.ok(Math.abs(outageOf([a(10, 200), a(10.02, 200)], 10) - 0.02) < 1e-9);
        // a 200 between failures (another worker's request) does not shorten the outage
        assert.ok(Math.abs(outageOf([a(9.5, 200), a(10.2, 504), a(10.3, 200), a(11.5, 0), a(12, 200)], 10) - 2.5) < 1e-9);
        // failures and no 200 after them: the probe stopped before the outage ended, so no figure
        assert.throws(() => outageOf([a(9.5, 200), a(10.1, 0), a(10.4, 0)], 10), /had not ended when the probe stopped \(2 late requests, the last 0\.40 s/);
    });

    it("outage: a 200 slower than 250 ms is late, and late requests bound the outage", () => {
        const a = (t: number, status: number, took = 0.005): Answer => ({ t, host: "h", status, body: "", took });
        // a 200 after 1.1 s (a connect timeout on a dead task, then a retry) is inside the outage
        const answers = [a(9.9, 200), a(10.1, 0, 2), a(10.8, 200, 1.1), a(10.9, 200), a(11, 200)];
        assert.ok(Math.abs(outageOf(answers, 10) - 1.0) < 1e-9);
        assert.equal(recovered([a(10.1, 200, 0.3), ...Array.from({ length: 21 }, (_, i) => a(10.2 + i * 0.02, 200))], 10), true);
        assert.equal(recovered([...Array.from({ length: 21 }, (_, i) => a(10.2 + i * 0.02, 200)), a(10.7, 200, 0.3)], 10), false);
    });

    it("recovered: only 200s after the fault and after its last failure count", () => {
        const a = (t: number, status: number): Answer => ({ t, host: "h", status, body: "" });
        const before = Array.from({ length: 40 }, (_, i) => a(8 + i * 0.05, 200));
        // 40 answers from before the kill and none after: not recovered (the probe used to stop here)
        assert.equal(recovered([...before, a(10.1, 0), a(10.4, 0)], 10), false);
        const after = (from: number, n: number) => Array.from({ length: n }, (_, i) => a(from + i * 0.03, 200));
        assert.equal(recovered([...before, a(10.1, 0), ...after(10.2, 30), a(11.5, 0), ...after(11.6, 20)], 10), false);
        assert.equal(recovered([...before, a(10.1, 0), ...after(10.2, 30), a(11.5, 0), ...after(11.6, 21)], 10), true);
        // no failure at all: 200s after the fault count
        assert.equal(recovered([...before, ...after(10.1, 21)], 10), true);
    });

    it("growth node lists: managers 1, 3, 3; two gateway nodes; distinct addresses; valid configs", () => {
        for (const [count, managers] of [[4, 1], [8, 3], [12, 3]]) {
            const nodes = nodeList(count);
            assert.equal(nodes.length, count);
            assert.equal(nodes.filter((n) => n.role === "manager").length, managers);
            assert.equal(nodes.filter((n) => n.gateway).length, 2);
            assert.equal(new Set(nodes.map((n) => n.address)).size, count);
            const p = labPlan({ extra: { nodes } });
            assert.ok(p.ok, p.ok ? "" : p.errors);
        }
    });

    it("VRRP floors of the dev stack on both profiles: 3 × advert_int + skew of the lowest priority, graceful = skew", () => {
        for (const [profile, advertInt] of [["fast", 0.2], ["default", 1]] as const) {
            const p = labPlan({ extra: { virtualIp: vipWithProfile(profile) } });
            assert.ok(p.ok, profile);
            const f = vrrpFloors(p.plan);
            assert.equal(f.advertInt, advertInt, profile);
            assert.ok(Math.abs(f.graceful - ((256 - 190) * advertInt) / 256) < 1e-9, profile);
            assert.ok(Math.abs(f.hard - (3 * advertInt + ((256 - 190) * advertInt) / 256)) < 1e-9, profile);
        }
        const dev = labPlan({});
        assert.ok(dev.ok);
        assert.equal(vrrpFloors(dev.plan).advertInt, 0.2, "the dev stack runs the fast profile");
    });
});
