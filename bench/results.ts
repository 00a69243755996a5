// bench/results.md from the bench's figures: every figure next to its target (issue 11's list) with met/missed,
// min/median/max where it varies. A part that did not run says so; nothing is filled in.
export interface Stat {
    readonly n: number;
    readonly min: number;
    readonly median: number;
    readonly max: number;
}

export function stat(xs: readonly number[]): Stat | undefined {
    if (!xs.length) return undefined;
    const s = [...xs].sort((a, b) => a - b);
    const mid = s.length >> 1;
    return { n: s.length, min: s[0], median: s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2, max: s[s.length - 1] };
}

/** A part's outcome: figures, or why there are none. */
export type Part<T> = { readonly status: "ok"; readonly data: T; readonly errors?: string[] } | { readonly status: "not run" | "failed"; readonly reason: string };

export interface ColdUpData {
    program: number[];
    programEngine: number[];
    baseline: number[];
    /** bench/baseline.sh's first-answer mode: only what the first answer needs, by hand (absent in older results). */
    floor?: number[];
    /** Busy core-seconds of the whole machine from the start to the first 200, per run (absent in older results). */
    programCpu?: number[];
    baselineCpu?: number[];
    floorCpu?: number[];
    destroy: number[];
    teardown: number[];
    noopEngine: number[];
    noopChanges: number[];
    addApply: number[];
    addFirst: number[];
}
export interface GrowthData {
    /** baseline: bench/baseline.sh's cold up of the same nodes (the by-hand way's own growth), when run. */
    rows: { nodes: number; managers: number; seconds: number[]; engine: number[]; baseline?: number[] }[];
}
export interface FailoverRow {
    profile: string;
    kind: "hard" | "graceful";
    outage: number[];
    /** Requests with no 200 within 2 s. */
    failed: number[];
    /** Requests not answered in 250 ms (the failed ones included); absent in results from before the open-loop probe. */
    late?: number[];
    rps: number[];
    floor: number;
    advertInt: number;
    version: number;
}
export interface FailoverData {
    rows: FailoverRow[];
    /** Profiles not measured, with the reason. */
    skipped: { profile: string; reason: string }[];
}
export interface ReactionRow {
    apply: number[];
    afterApply: number[];
    afterHealthy?: number[];
    failed?: number[];
    /**
     * Promotion: its floor in the same run (bench/lab-bench.ts promotionFloor): a no-op apply under the same probe, one
     * round trip into a gateway node, and that round trip with the gate's probe, the check and a reload through the
     * gateway's agent (absent in older results: their floor is noop + exec).
     */
    floor?: { noop: number[]; exec: number[]; gate?: number[] };
}
export interface ReactionData {
    promotion: ReactionRow;
    replicas: ReactionRow;
    backend: ReactionRow;
    release: ReactionRow;
}
export interface GatewayRow {
    engine: string;
    backend: string;
    path: string;
    rps: number;
    p50ms: number;
    p99ms: number;
    cpuUsPerReq: number;
}
export interface GatewayData {
    gateway: GatewayRow[];
}
export interface ScaleData {
    /** The program's run; floorSeconds/floorPeakMiB: the SDK alone registering the same resources (bench/scale.ts). */
    scale: { seconds: number; peakMiB: number; resources: number; floorSeconds?: number; floorPeakMiB?: number };
}

export interface Results {
    started: string;
    finished: string;
    machine: { cores: number; memoryGiB: number; versions: Record<string, string> };
    settings: Record<string, string>;
    coldup: Part<ColdUpData>;
    growth: Part<GrowthData>;
    failover: Part<FailoverData>;
    reaction: Part<ReactionData>;
    gateway: Part<GatewayData>;
    scale: Part<ScaleData>;
}

const f = (x: number, unit = "s", digits = 2) => `${x.toFixed(digits)}${unit ? ` ${unit}` : ""}`;
function range(s: Stat | undefined, unit = "s", digits = 2): string {
    if (!s) return "no figure";
    if (s.n === 1) return f(s.median, unit, digits);
    return `${f(s.median, unit, digits)} (min ${s.min.toFixed(digits)}, max ${s.max.toFixed(digits)}, n=${s.n})`;
}
const verdict = (ok: boolean | undefined, floor?: string) => (ok === undefined ? "—" : ok ? "met" : floor ? `**missed**; out of reach here: ${floor}` : "**missed**");

interface Row {
    figure: string;
    target: string;
    measured: string;
    ok?: boolean;
    /**
     * A floor measured in the same run that misses the target by itself (so no program can meet it here), in words.
     * Set only when it does; a missed figure without one is plainly missed.
     */
    floor?: string;
}

function notRun(part: Part<unknown>): string {
    return part.status === "ok" ? "" : `${part.status}: ${part.reason}`;
}

function coldupRows(p: Part<ColdUpData>): Row[] {
    if (p.status !== "ok") {
        const m = notRun(p);
        return ["Cold up, program ÷ baseline", "Destroy ÷ baseline teardown", "No-op re-apply (lab engine)"].map((figure) => ({ figure, target: "", measured: m }));
    }
    const d = p.data;
    const [prog, base, des, tear, noop] = [stat(d.program), stat(d.baseline), stat(d.destroy), stat(d.teardown), stat(d.noopEngine)];
    const ratio = prog && base ? prog.median / base.median : undefined;
    const floor = stat(d.floor ?? []);
    const fratio = floor && base ? floor.median / base.median : undefined;
    const dratio = des && tear ? des.median / tear.median : undefined;
    return [
        { figure: "Cold up to the first 200 through the VIP, program", target: "", measured: range(prog) },
        { figure: "Cold up, program: the whole apply (lab engine; every convergence gate)", target: "", measured: range(stat(d.programEngine)) },
        { figure: "Cold up, baseline (bench/baseline.sh)", target: "", measured: range(base) },
        { figure: "Cold up, floor: the first answer only, by hand (bench/baseline.sh first-answer)", target: "", measured: range(floor) },
        ...cpuRow(d),
        {
            figure: "Cold up, program ÷ baseline (medians)",
            target: "≤ 0.75",
            measured: `${ratio === undefined ? "no figure" : ratio.toFixed(2)}${fratio === undefined ? "" : `; floor ÷ baseline ${fratio.toFixed(2)}`}`,
            ok: ratio === undefined ? undefined : ratio <= 0.75,
            ...(fratio !== undefined && fratio > 0.75
                ? { floor: `by hand, only the first answer's work (no other node, release or load) takes ${fratio.toFixed(2)} × the whole by-hand cold up in the same run` }
                : {}),
        },
        { figure: "Destroy, program", target: "", measured: range(des) },
        { figure: "Teardown, baseline", target: "", measured: range(tear) },
        { figure: "Destroy ÷ baseline teardown (medians)", target: "≤ 2", measured: dratio === undefined ? "no figure" : dratio.toFixed(2), ok: dratio === undefined ? undefined : dratio <= 2 },
        {
            figure: "No-op re-apply (lab engine)",
            target: "≤ 2 s",
            measured: `${range(noop)}; resources changed: ${d.noopChanges.join(", ") || "—"}`,
            ok: noop ? noop.median <= 2 && d.noopChanges.every((c) => c === 0) : undefined,
        },
        { figure: "Adding one release: apply (lab engine)", target: "", measured: range(stat(d.addApply)) },
        { figure: "Adding one release: first 200 after the apply", target: "", measured: range(stat(d.addFirst)) },
    ];
}

/**
 * The CPU work each way did before its first 200 (busy core-seconds of the whole machine), with the cores it kept
 * busy on average: on this 2-core machine it says whether a way waited on the CPU or on something else.
 */
function cpuRow(d: ColdUpData): Row[] {
    const ways = [
        ["program", d.program, d.programCpu],
        ["baseline", d.baseline, d.baselineCpu],
        ["floor", d.floor ?? [], d.floorCpu],
    ] as const;
    const measured = ways.filter(([, secs, cpu]) => cpu?.length && cpu.length === secs.length);
    if (!measured.length) return [];
    const cpuOf = measured.map(([, , cpu]) => stat(cpu ?? [])?.median ?? 0);
    const coresOf = measured.map(([, secs, cpu]) => stat((cpu ?? []).map((c, i) => c / secs[i]))?.median ?? 0);
    return [{
        figure: `Cold up, CPU work to the first 200 (busy core-seconds of the whole machine, medians): ${measured.map(([w]) => w).join(" / ")}`,
        target: "",
        measured: `${cpuOf.map((c) => c.toFixed(1)).join(" / ")} core-s; on average ${coresOf.map((c) => c.toFixed(2)).join(" / ")} cores busy`,
    }];
}

function growthRows(p: Part<GrowthData>): Row[] {
    if (p.status !== "ok") return [{ figure: "12 nodes ÷ 4 nodes, cold up", target: "≤ 1.5", measured: notRun(p) }];
    const rows: Row[] = p.data.rows.map((r) => ({
        figure: `Cold up, ${r.nodes} nodes (${r.managers} manager${r.managers > 1 ? "s" : ""}, 2 gateway nodes)`,
        target: "",
        measured: `${range(stat(r.seconds))}; engine ${range(stat(r.engine))}${r.baseline?.length ? `; baseline ${range(stat(r.baseline))}` : ""}`,
    }));
    const median = (nodes: number, key: "seconds" | "baseline") => stat(p.data.rows.find((r) => r.nodes === nodes)?.[key] ?? []);
    const [four, twelve] = [median(4, "seconds"), median(12, "seconds")];
    const ratio = four && twelve ? twelve.median / four.median : undefined;
    const [base4, base12] = [median(4, "baseline"), median(12, "baseline")];
    const baseRatio = base4 && base12 ? base12.median / base4.median : undefined;
    rows.push({
        figure: "12 nodes ÷ 4 nodes, cold up (medians)",
        target: "≤ 1.5",
        measured: `${ratio === undefined ? "no figure" : ratio.toFixed(2)}${baseRatio === undefined ? "" : `; baseline ${baseRatio.toFixed(2)}`}`,
        ok: ratio === undefined ? undefined : ratio <= 1.5,
        ...(baseRatio !== undefined && baseRatio > 1.5 ? { floor: `bench/baseline.sh, the by-hand way, grows ${baseRatio.toFixed(2)} × from 4 to 12 nodes in the same run` } : {}),
    });
    return rows;
}

function failoverRows(p: Part<FailoverData>): Row[] {
    if (p.status !== "ok") return [{ figure: "VIP failover", target: "", measured: notRun(p) }];
    const rows: Row[] = p.data.rows.map((r) => {
        const s = stat(r.outage);
        const target =
            r.kind === "hard" && r.profile === "default" ? { text: `≤ floor + 0.5 s = ${(r.floor + 0.5).toFixed(2)} s`, limit: r.floor + 0.5 }
            : r.kind === "hard" && r.profile === "fast" ? { text: "≤ 1 s", limit: 1 }
            : r.kind === "graceful" && r.profile === "fast" ? { text: "≤ 0.3 s", limit: 0.3 }
            : { text: "", limit: undefined };
        return {
            figure: `Failover ${r.kind}, ${r.profile} profile (VRRPv${r.version}, advert ${r.advertInt} s): outage`,
            target: target.text,
            measured: !s
                ? `no figure: no run ended (see the runs that failed); floor ${r.floor.toFixed(2)} s`
                : `${range(s)}; floor ${r.floor.toFixed(2)} s; ${r.late ? `late requests ${r.late.join(", ")}, of them ` : ""}failed ${r.failed.join(", ")}; probe ${Math.min(...r.rps).toFixed(0)} req/s`,
            ok: target.limit === undefined || !s ? undefined : s.median <= target.limit,
        };
    });
    for (const s of p.data.skipped) rows.push({ figure: `Failover, ${s.profile} profile`, target: s.profile === "fast" ? "hard ≤ 1 s, graceful ≤ 0.3 s" : "", measured: `not run: ${s.reason}` });
    return rows;
}

function reactionRows(p: Part<ReactionData>): Row[] {
    if (p.status !== "ok") return [{ figure: "Reaction times", target: "", measured: notRun(p) }];
    const d = p.data;
    const apply = stat(d.promotion.apply);
    const allNew = stat(d.promotion.afterApply);
    const noop = stat(d.promotion.floor?.noop ?? []);
    const exec = stat(d.promotion.floor?.exec ?? []);
    const gate = stat(d.promotion.floor?.gate ?? []);
    // the floor's routes step: the round trip with the probe, check and reload; older results have the bare round trip
    const step = gate ?? exec;
    const floor = noop && step ? noop.median + step.median : undefined;
    const floorWords =
        noop && exec
            ? gate
                ? `a no-op apply under the same probe ${f(noop.median)}, then one round trip into a gateway node that asks its gateway's agent to probe the release, check the routes and reload until a new worker serves ${f(gate.median)} (the round trip alone ${f(exec.median)})`
                : `a no-op apply under the same probe ${f(noop.median)}, one round trip into a gateway container ${f(exec.median)}`
            : "";
    const rep = stat(d.replicas.afterHealthy ?? []);
    const back = stat(d.backend.afterHealthy ?? []);
    return [
        {
            figure: "Promotion to a running release: apply (lab engine, health gate included)",
            target: "≤ 2 s",
            measured: `${range(apply)}${floor !== undefined ? `; floor ${f(floor)} (${floorWords})` : ""}`,
            ok: apply ? apply.median <= 2 : undefined,
            ...(floor !== undefined && floor > 2 ? { floor: `its floor takes ${f(floor)} in the same run: ${floorWords}` } : {}),
        },
        { figure: "Promotion: all answers new, after the apply", target: "≤ 0.5 s", measured: `${range(allNew)}; failed requests ${d.promotion.failed?.join(", ")}`, ok: allNew ? allNew.median <= 0.5 : undefined },
        { figure: "New replicas: apply (lab engine)", target: "", measured: range(stat(d.replicas.apply)) },
        { figure: "New replicas: served, after their health check passed", target: "≤ 2 s", measured: `${range(rep)}; after the apply ${range(stat(d.replicas.afterApply))}`, ok: rep ? rep.median <= 2 : undefined },
        { figure: "Returning backend: apply (lab engine, refresh)", target: "", measured: range(stat(d.backend.apply)) },
        { figure: "Returning backend: answers, after its health check passed", target: "≤ 2 s", measured: `${range(back)}; after the apply ${range(stat(d.backend.afterApply))}`, ok: back ? back.median <= 2 : undefined },
        { figure: "New release: apply (lab engine)", target: "", measured: range(stat(d.release.apply)) },
        { figure: "New release: first 200, after the apply", target: "", measured: `${range(stat(d.release.afterApply))}; after its health check ${range(stat(d.release.afterHealthy ?? []))}` },
    ];
}

function gatewayRows(p: Part<GatewayData>): Row[] {
    if (p.status !== "ok") return [{ figure: "Gateway overhead (bench/gateway.ts)", target: "", measured: notRun(p) }];
    const rows: Row[] = [];
    const find = (engine: string, backend: string, path: string) => p.data.gateway.find((r) => r.engine === engine && r.backend === backend && r.path === path);
    for (const engine of [...new Set(p.data.gateway.map((r) => r.engine))]) {
        const direct = find(engine, "1ms", "direct");
        const gw = find(engine, "1ms", "gateway");
        if (direct && gw) {
            const ratio = gw.rps / direct.rps;
            const added = gw.p99ms - direct.p99ms;
            rows.push({ figure: `${engine}, 1 ms backend: throughput gateway ÷ direct (${gw.rps.toFixed(0)} ÷ ${direct.rps.toFixed(0)} req/s)`, target: "≥ 0.8", measured: ratio.toFixed(2), ok: ratio >= 0.8 });
            const tuned1ms = find(engine, "1ms", "hand-tuned");
            const tunedAdded = tuned1ms ? tuned1ms.p99ms - direct.p99ms : undefined;
            rows.push({
                figure: `${engine}, 1 ms backend: added p99 (${gw.p99ms.toFixed(2)} − ${direct.p99ms.toFixed(2)} ms)`,
                target: "≤ 2 ms",
                measured: `${f(added, "ms")}${tunedAdded === undefined ? "" : `; hand-tuned ${f(tunedAdded, "ms")}`}`,
                ok: added <= 2,
                ...(tunedAdded !== undefined && tunedAdded > 2 ? { floor: `the hand-tuned ${engine} config adds ${f(tunedAdded, "ms")} to the p99 in the same run` } : {}),
            });
        } else rows.push({ figure: `${engine}, 1 ms backend`, target: "≥ 0.8 × direct, ≤ 2 ms added p99", measured: "no direct/gateway pair in bench/gateway.ts's output" });
        const trivial = find(engine, "trivial", "gateway");
        const tuned = find(engine, "trivial", "hand-tuned");
        if (trivial && tuned) {
            const ratio = trivial.cpuUsPerReq / tuned.cpuUsPerReq;
            rows.push({ figure: `${engine}, trivial backend: CPU per request, gateway ÷ hand-tuned (${trivial.cpuUsPerReq.toFixed(1)} ÷ ${tuned.cpuUsPerReq.toFixed(1)} µs)`, target: "≤ 1.5", measured: ratio.toFixed(2), ok: ratio <= 1.5 });
        } else rows.push({ figure: `${engine}, trivial backend: CPU per request`, target: "≤ 1.5 × hand-tuned", measured: "no gateway/hand-tuned pair in bench/gateway.ts's output" });
        // The metrics' cost (docs/metrics.md): the same rendered gateway with metrics on, in the same run. No target.
        for (const backend of ["trivial", "1ms"]) {
            const off = find(engine, backend, "gateway");
            const on = find(engine, backend, "gateway+metrics");
            if (!off || !on) continue;
            const added = on.p99ms - off.p99ms;
            rows.push({
                figure: `${engine}, ${backend === "1ms" ? "1 ms" : "trivial"} backend, metrics on ÷ off: throughput (${on.rps.toFixed(0)} ÷ ${off.rps.toFixed(0)} req/s), p99, CPU per request (${on.cpuUsPerReq.toFixed(1)} ÷ ${off.cpuUsPerReq.toFixed(1)} µs)`,
                target: "",
                measured: `${(on.rps / off.rps).toFixed(2)}; ${added >= 0 ? "+" : "−"}${f(Math.abs(added), "ms")}; ${(on.cpuUsPerReq / off.cpuUsPerReq).toFixed(2)}`,
            });
        }
    }
    return rows;
}

function scaleRows(p: Part<ScaleData>): Row[] {
    if (p.status !== "ok") return [{ figure: "Program scale (bench/scale.ts)", target: "≤ 5 s, ≤ 500 MB", measured: notRun(p) }];
    const s = p.data.scale;
    return [
        {
            figure: `Program scale: plan, render, mock registration (${s.resources} resources): time`,
            target: "≤ 5 s",
            measured: `${f(s.seconds)}${s.floorSeconds === undefined ? "" : `; the SDK alone ${f(s.floorSeconds)}`}`,
            ok: s.seconds <= 5,
            ...(s.floorSeconds !== undefined && s.floorSeconds > 5 ? { floor: `the SDK alone registering the same resources takes ${f(s.floorSeconds)}` } : {}),
        },
        {
            figure: "Program scale: peak memory",
            target: "≤ 500 MB",
            measured: `${f(s.peakMiB, "MiB", 0)}${s.floorPeakMiB === undefined ? "" : `; the SDK alone ${f(s.floorPeakMiB, "MiB", 0)}`}`,
            ok: s.peakMiB <= 500,
            ...(s.floorPeakMiB !== undefined && s.floorPeakMiB > 500 ? { floor: `the SDK alone registering the same resources peaks at ${f(s.floorPeakMiB, "MiB", 0)}` } : {}),
        },
    ];
}

function gatewayTable(p: Part<GatewayData>): string[] {
    if (p.status !== "ok") return [];
    return [
        "",
        "### Gateway runs (bench/gateway.ts)",
        "",
        "| engine | backend | path | req/s | p50 ms | p99 ms | CPU µs/req |",
        "|---|---|---|---:|---:|---:|---:|",
        ...p.data.gateway.map((r) => `| ${r.engine} | ${r.backend} | ${r.path} | ${r.rps.toFixed(0)} | ${r.p50ms.toFixed(2)} | ${r.p99ms.toFixed(2)} | ${r.cpuUsPerReq.toFixed(1)} |`),
    ];
}

export function renderResults(r: Results): string {
    const sections: [string, Row[]][] = [
        ["Cold up, destroy, no-op, one release (against bench/baseline.sh)", coldupRows(r.coldup)],
        ["Growth", growthRows(r.growth)],
        ["VIP failover", failoverRows(r.failover)],
        ["Reaction times (from the end of the apply)", reactionRows(r.reaction)],
        ["Gateway overhead", gatewayRows(r.gateway)],
        ["Program scale", scaleRows(r.scale)],
    ];
    const all = sections.flatMap(([, rows]) => rows).filter((x) => x.ok !== undefined);
    const explained = all.filter((x) => x.ok === false && x.floor).length;
    const errors = (["coldup", "growth", "failover", "reaction", "gateway", "scale"] as const).flatMap((k) => {
        const part = r[k];
        return part.status === "ok" && part.errors?.length ? part.errors.map((e) => `- ${k}: ${e}`) : [];
    });
    const lines = [
        "# Benchmark results",
        "",
        `Generated by \`npm run bench\` from ${r.started} to ${r.finished}. Regenerate it; do not edit it.`,
        "",
        `Machine: ${r.machine.cores} cores, ${r.machine.memoryGiB.toFixed(1)} GiB memory. ` + Object.entries(r.machine.versions).map(([k, v]) => `${k} ${v}`).join(", ") + ".",
        "",
        `Settings: ${Object.entries(r.settings).map(([k, v]) => `${k}=${v}`).join(", ")}.`,
        "",
        `Targets met: ${all.filter((x) => x.ok).length} of ${all.length} with a figure; of the missed, ${explained} out of reach here by a floor measured in the same run.`,
    ];
    for (const [title, rows] of sections) {
        lines.push("", `## ${title}`, "", "| figure | target | measured | |", "|---|---|---|---|");
        for (const row of rows) lines.push(`| ${row.figure} | ${row.target || "—"} | ${row.measured} | ${row.target ? verdict(row.ok, row.floor) : ""} |`);
        if (title === "Gateway overhead") lines.push(...gatewayTable(r.gateway));
    }
    if (errors.length) lines.push("", "## Runs that failed (not in the figures)", "", ...errors);
    lines.push("", HOW_MEASURED);
    return `${lines.join("\n")}\n`;
}

const HOW_MEASURED = `## How measured

- Everything runs against the lab (test/lab): the real program (index.ts) applied by the lab engine to
  docker-in-docker nodes on the local Docker engine, under the lab's machine-wide lock. Images are built on the host
  engine before any clock starts and no node holds them; every run starts from a swept engine (test/lab/cleanup.sh).
- Cold up: from the start of the apply to the first 200 from shop 2.0 on nowy.sklep.localhost through the VIP (a
  fresh connection every 50 ms, 1 s timeout, probing beside the apply from its start; the apply itself goes on to
  every convergence gate, its time in its own row). The baseline, bench/baseline.sh, makes the same platform with the docker CLI
  (parallel steps, each image saved once and loaded from that file, the program's rendered keepalived config, made
  before its clock) and ends on the same 200. Program and baseline runs alternate (BENCH_RUNS each). CPU work: the
  machine's busy time (/proc/stat: user, nice, system, irq, softirq, steal of both cores) from the start to that
  200, every process counted (the engines, the nodes, the lab engine, the bench's own probe).
- Destroy: the engine's destroy; teardown: \`bench/baseline.sh down\`. No-op: a second apply of the same config, the
  lab engine's own time. "Lab engine" figures are the lab engine's, not the Pulumi CLI's.
- Growth: cold up of the dev apps on 4, 8 and 12 nodes (1, 3, 3 managers, 2 gateway nodes, the rest workers).
- Failover: an open-loop probe through the VIP (a request every 20 ms on a new connection, whatever the earlier ones
  do, each given 2 s; its rate is in the row). A request is late without a 200 within 250 ms, failed without one
  within 2 s. Outage = from the last request answered in time before the fault's first late one to the first answered
  in time after its last (request start times; without a late request, the longest gap between two in-time answers). Hard: \`docker kill\` of the holder's node container; graceful: SIGTERM to keepalived on the holder (it
  sends priority 0). Floor: hard 3 × advert_int + skew, graceful skew, skew = (256 − priority) × advert_int / 256 with
  the lower of the two gateway nodes' priorities (the larger skew).
- Reactions, from the end of the apply (the engine's exit; a negative figure happened before the apply ended, e.g.
  while the engine still waited for its convergence gate): a promotion moves sklep.localhost between two running
  releases under a continuous probe (the time of the last answer from the old one); new replicas and a returning
  backend are timed from the moment swarm marked each new task running (its health check passed) to the first
  request the gateway sent to it; a new release to its first 200. The promotion's floor: a no-op apply under the
  same probe, plus one round trip from the host into a gateway node (the routes step's path) that does what no routes
  change can skip, through the agent the node's gateway container serves on its FIFO pair (the routes step's own):
  the health gate's probe of the release, the engine's check and a reload until a new worker serves (same routes,
  not waiting for the old workers).
- Gateway overhead and program scale come from bench/gateway.ts and bench/scale.ts (their last stdout line,
  \`BENCH {json}\`); scale's counted runs register without the mock tests' bookkeeping.
`;
