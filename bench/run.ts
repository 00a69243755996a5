// npm run bench: measures the platform against the lab and writes bench/results.md (see bench/README.md).
// Env: BENCH_ONLY=coldup,growth,failover,reaction,gateway,scale (default all), BENCH_RUNS (cold-up pairs, default 5),
// BENCH_GROWTH_RUNS (default 1), BENCH_FAILOVER_RUNS (default 1), BENCH_TIMEOUT (s, default 10800),
// BENCH_SKIP_BUILD=1 (use the swarm-lab images as they are), LAB_LOCK_WAIT (s, default 0), BENCH_OUT (results file).
// Takes the lab's machine-wide lock for the whole run and tears everything down at the end, on failure and on Ctrl-C.
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { devApps, LAB_DIR, PROJECT_DIR } from "../test/lab/lab-config";
import { engine, sh } from "../test/lab/helpers";
import {
    addRelease,
    BENCH_DIR,
    baselineDown,
    baselineUp,
    cleanup,
    gracefulFailover,
    hardFailover,
    labPlan,
    newReplicas,
    nodeList,
    prepareBaseline,
    programColdUp,
    programDestroy,
    programNoop,
    promotion,
    promotionFloor,
    returningBackend,
    vipWithProfile,
    vrrpFloors,
} from "./lab-bench";
import { ColdUpData, FailoverData, GatewayData, GrowthData, Part, ReactionData, renderResults, Results, ScaleData } from "./results";

const PARTS = ["coldup", "growth", "failover", "reaction", "gateway", "scale"] as const;
type PartName = (typeof PARTS)[number];
const LOCK = process.env.LAB_LOCK ?? "/tmp/swarm-platform-lab.lock";
const OUT = process.env.BENCH_OUT ?? path.join(PROJECT_DIR, "bench", "results.md");
const int = (name: string, dflt: number) => {
    const v = Number(process.env[name] ?? dflt);
    if (!Number.isInteger(v) || v < 0) throw new Error(`${name} must be a whole number (got "${process.env[name]}")`);
    return v;
};
const log = (m: string) => console.log(`bench ${new Date().toISOString().slice(11, 19)} ${m}`);

/** Re-runs this script holding the lab's lock on fd 8, exactly as test/lab/run.sh takes it (flock -w LAB_LOCK_WAIT). */
function underLock(): void {
    const child = spawn(
        "bash",
        ["-c", 'exec 8>"$1"; flock -w "$2" 8 || { echo "bench: another lab run holds $1" >&2; exit 75; }; BENCH_LOCKED=1 exec node --import tsx "$3"', "_", LOCK, process.env.LAB_LOCK_WAIT ?? "0", __filename],
        { stdio: "inherit" },
    );
    // Ctrl-C reaches the child too: it tears down and exits; this process only waits for it.
    for (const s of ["SIGINT", "SIGTERM"] as const) process.on(s, () => undefined);
    child.on("exit", (code, signal) => process.exit(code ?? (signal ? 130 : 1)));
}

function selected(): PartName[] {
    const only = process.env.BENCH_ONLY?.split(",").map((s) => s.trim()).filter(Boolean);
    if (!only) return [...PARTS];
    const unknown = only.filter((p) => !PARTS.includes(p as PartName));
    if (unknown.length) throw new Error(`BENCH_ONLY names unknown parts: ${unknown.join(", ")} (known: ${PARTS.join(", ")})`);
    return only as PartName[];
}

/** An error in one line: its start (what failed) and its end (the last lines of the tool's output). */
const msg = (e: unknown) => {
    const text = (e instanceof Error ? e.message : String(e)).replace(/\s*\n\s*/g, " ⏎ ");
    return text.length > 700 ? `${text.slice(0, 250)} … ${text.slice(-450)}` : text;
};

// ---- lab setup and teardown -------------------------------------------------------------------------------------------

async function labSetup(): Promise<void> {
    // as test/lab/run.sh: a dockerd it starts must not inherit the lock
    const steps = [`bash test/lab/dockerd.sh 8>&-`, ...(process.env.BENCH_SKIP_BUILD === "1" ? [] : [`bash test/lab/images/build.sh 8>&-`]), `bash test/lab/cleanup.sh`];
    for (const s of steps) {
        log(s);
        const r = await sh(`cd ${PROJECT_DIR} && ${s}`, 1_800_000);
        if (r.code !== 0) throw new Error(`${s}: exit ${r.code}: ${r.stderr.slice(-1500)}`);
    }
}

/** Whatever a part left: the program's stack (engine destroy), the baseline's containers, then the lab's sweep. */
async function teardown(): Promise<void> {
    if (fs.existsSync(path.join(LAB_DIR, "state-dev.json"))) await engine("destroy", {}, 300_000).catch((e) => log(`destroy: ${msg(e)}`));
    await sh(`cd ${PROJECT_DIR} && bash bench/baseline.sh down`, 300_000);
    await cleanup().catch((e) => log(`cleanup: ${msg(e)}`));
}

// ---- parts ----------------------------------------------------------------------------------------------------------

async function coldup(): Promise<Part<ColdUpData>> {
    const runs = int("BENCH_RUNS", 5);
    const d: ColdUpData = {
        program: [], programEngine: [], baseline: [], floor: [], programCpu: [], baselineCpu: [], floorCpu: [],
        destroy: [], teardown: [], noopEngine: [], noopChanges: [], addApply: [], addFirst: [],
    };
    const errors: string[] = [];
    const render = prepareBaseline(); // before any clock
    for (let i = 1; i <= runs; i++) {
        log(`cold up ${i}/${runs}: program`);
        try {
            const c = await programColdUp({}, `program ${i}`);
            d.program.push(c.seconds);
            if (c.engineSeconds !== undefined) d.programEngine.push(c.engineSeconds);
            if (c.cpu !== undefined) (d.programCpu ??= []).push(c.cpu);
            const noop = await programNoop({});
            d.noopEngine.push(noop.engineSeconds);
            d.noopChanges.push(noop.changes);
            const add = await addRelease(devApps());
            d.addApply.push(add.applySeconds);
            d.addFirst.push(add.afterApply);
            d.destroy.push(await programDestroy());
        } catch (e) {
            errors.push(`program run ${i}: ${msg(e)}`);
            log(`program run ${i} failed: ${msg(e)}`);
        }
        await teardown();
        log(`cold up ${i}/${runs}: baseline`);
        try {
            const b = await baselineUp(render);
            d.baseline.push(b.seconds);
            if (b.cpu !== undefined) (d.baselineCpu ??= []).push(b.cpu);
            d.teardown.push(await baselineDown());
        } catch (e) {
            errors.push(`baseline run ${i}: ${msg(e)}`);
            log(`baseline run ${i} failed: ${msg(e)}`);
        }
        await teardown();
        log(`cold up ${i}/${runs}: floor (the first answer only, by hand)`);
        try {
            const b = await baselineUp(render, {}, true);
            (d.floor ??= []).push(b.seconds);
            if (b.cpu !== undefined) (d.floorCpu ??= []).push(b.cpu);
        } catch (e) {
            errors.push(`floor run ${i}: ${msg(e)}`);
            log(`floor run ${i} failed: ${msg(e)}`);
        }
        await teardown();
    }
    return { status: "ok", data: d, errors };
}

async function growth(): Promise<Part<GrowthData>> {
    const runs = int("BENCH_GROWTH_RUNS", 1);
    const d: GrowthData = { rows: [] };
    const errors: string[] = [];
    for (const count of [4, 8, 12]) {
        const nodes = nodeList(count);
        const row = { nodes: count, managers: nodes.filter((n) => n.role === "manager").length, seconds: [] as number[], engine: [] as number[], baseline: [] as number[] };
        d.rows.push(row);
        // The by-hand way's own growth on this machine, alternated with the program's (4 and 12 nodes only).
        const render = count === 8 ? undefined : prepareBaseline(path.join(BENCH_DIR, `baseline-render-${count}`), { extra: { nodes } });
        for (let i = 1; i <= runs; i++) {
            log(`growth: ${count} nodes, run ${i}/${runs}`);
            try {
                const c = await programColdUp({ extra: { nodes } }, `${count} nodes`);
                row.seconds.push(c.seconds);
                if (c.engineSeconds !== undefined) row.engine.push(c.engineSeconds);
            } catch (e) {
                errors.push(`${count} nodes, run ${i}: ${msg(e)}`);
            }
            await teardown();
            if (!render) continue;
            try {
                row.baseline.push((await baselineUp(render, { extra: { nodes } })).seconds);
            } catch (e) {
                errors.push(`${count} nodes, baseline run ${i}: ${msg(e)}`);
            }
            await teardown();
        }
    }
    return { status: "ok", data: d, errors };
}

async function failover(): Promise<Part<FailoverData>> {
    const runs = int("BENCH_FAILOVER_RUNS", 1);
    const d: FailoverData = { rows: [], skipped: [] };
    const errors: string[] = [];
    for (const profile of ["default", "fast"]) {
        // The preset key `virtualIp.profile` may not be in this checkout's schema yet: measure only what validates.
        const overrides = { extra: { virtualIp: vipWithProfile(profile) } };
        let plan = labPlan(overrides);
        if (!plan.ok && profile === "default") plan = labPlan({});
        if (!plan.ok) {
            d.skipped.push({ profile, reason: `the config schema does not accept virtualIp.profile: ${profile} (${plan.errors.slice(0, 200)})` });
            continue;
        }
        const floors = vrrpFloors(plan.plan);
        const used = labPlan(overrides).ok ? overrides : {};
        const hard = { profile, kind: "hard" as const, outage: [] as number[], failed: [] as number[], late: [] as number[], rps: [] as number[], floor: floors.hard, advertInt: floors.advertInt, version: floors.version };
        const graceful = { ...hard, kind: "graceful" as const, outage: [] as number[], failed: [] as number[], late: [] as number[], rps: [] as number[], floor: floors.graceful };
        d.rows.push(hard, graceful);
        try {
            log(`failover (${profile}): cold up`);
            await programColdUp(used, `failover ${profile}`);
            for (let i = 1; i <= runs; i++) {
                log(`failover (${profile}) ${i}/${runs}: graceful`);
                const g = await gracefulFailover();
                graceful.outage.push(g.outage);
                graceful.failed.push(g.failed);
                graceful.late.push(g.late);
                graceful.rps.push(g.rps);
                log(`failover (${profile}) ${i}/${runs}: hard`);
                const h = await hardFailover();
                hard.outage.push(h.outage);
                hard.failed.push(h.failed);
                hard.late.push(h.late);
                hard.rps.push(h.rps);
            }
        } catch (e) {
            errors.push(`${profile}: ${msg(e)}`);
        }
        await teardown();
    }
    return { status: "ok", data: d, errors };
}

async function reaction(): Promise<Part<ReactionData>> {
    const d: ReactionData = { promotion: { apply: [], afterApply: [], failed: [] }, replicas: { apply: [], afterApply: [], afterHealthy: [] }, backend: { apply: [], afterApply: [], afterHealthy: [] }, release: { apply: [], afterApply: [], afterHealthy: [] } };
    const errors: string[] = [];
    const step = async (label: string, fn: () => Promise<void>) => {
        log(`reaction: ${label}`);
        try {
            await fn();
        } catch (e) {
            errors.push(`${label}: ${msg(e)}`);
        }
    };
    try {
        await programColdUp({}, "reaction");
        let apps = devApps();
        const to19 = structuredClone(apps);
        to19[0].releases[1].hostnames = ["nowy.sklep.localhost"];
        to19[0].releases[0].hostnames = ["stary.sklep.localhost", "sklep.localhost"];
        await step("promotion floor", async () => {
            const f = await promotionFloor(apps);
            d.promotion.floor = { noop: [...(d.promotion.floor?.noop ?? []), f.noop], exec: [...(d.promotion.floor?.exec ?? []), f.exec], gate: [...(d.promotion.floor?.gate ?? []), f.gate] };
        });
        for (const [label, target, to] of [["promotion 2.0 → 1.9", to19, "1.9"], ["promotion back 1.9 → 2.0", apps, "2.0"]] as const) {
            await step(label, async () => {
                const p = await promotion(structuredClone(target), to, label);
                d.promotion.apply.push(p.applySeconds);
                d.promotion.afterApply.push(p.afterApply);
                d.promotion.failed?.push(p.failed);
            });
        }
        await step("new replicas", async () => {
            const r = await newReplicas(apps);
            apps = r.apps;
            d.replicas.apply.push(r.reaction.applySeconds);
            d.replicas.afterApply.push(r.reaction.afterApply);
            d.replicas.afterHealthy?.push(r.reaction.afterHealthy ?? NaN);
        });
        await step("returning backend", async () => {
            const r = await returningBackend(apps);
            d.backend.apply.push(r.applySeconds);
            d.backend.afterApply.push(r.afterApply);
            d.backend.afterHealthy?.push(r.afterHealthy ?? NaN);
        });
        await step("new release", async () => {
            const r = await addRelease(apps);
            d.release.apply.push(r.applySeconds);
            d.release.afterApply.push(r.afterApply);
            d.release.afterHealthy?.push(r.afterHealthy ?? NaN);
        });
    } catch (e) {
        errors.push(msg(e));
    }
    await teardown();
    return { status: "ok", data: d, errors };
}

/** A part owned elsewhere (bench/gateway.ts, bench/scale.ts): a child process whose last stdout line is `BENCH {json}`. */
async function childPart<T>(file: string, key: string): Promise<Part<T>> {
    const script = path.join(PROJECT_DIR, "bench", file);
    if (!fs.existsSync(script)) return { status: "not run", reason: `bench/${file} is not in this checkout` };
    log(`${file}`);
    const r = await new Promise<{ code: number; out: string }>((resolve) => {
        const child = spawn("node", ["--import", "tsx", script], { cwd: PROJECT_DIR, stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, BENCH_LOCKED: "1", LAB_LOCK_HELD: "1" }, detached: true });
        let out = "";
        child.stdout.on("data", (c: Buffer) => {
            out += c.toString();
            process.stdout.write(c);
        });
        const timer = setTimeout(() => {
            try {
                process.kill(-(child.pid as number), "SIGKILL");
            } catch {
                /* gone */
            }
        }, int("BENCH_PART_TIMEOUT", 1800) * 1000);
        child.on("close", (code) => {
            clearTimeout(timer);
            resolve({ code: code ?? 137, out });
        });
    });
    const last = r.out.trim().split("\n").pop() ?? "";
    if (!last.startsWith("BENCH ")) return { status: "failed", reason: `bench/${file} exited ${r.code} without a \`BENCH {json}\` last line` };
    try {
        const data = JSON.parse(last.slice("BENCH ".length)) as T;
        if (!(data && typeof data === "object" && key in data)) return { status: "failed", reason: `bench/${file}'s BENCH line has no "${key}"` };
        return { status: "ok", data, ...(r.code !== 0 ? { errors: [`exited ${r.code}`] } : {}) };
    } catch (e) {
        return { status: "failed", reason: `bench/${file}'s BENCH line is not JSON: ${msg(e)}` };
    }
}

// ---- machine ----------------------------------------------------------------------------------------------------------

function version(cmd: string): string {
    const r = spawnSync("bash", ["-c", cmd], { encoding: "utf8", timeout: 60_000 });
    const text = `${r.stdout ?? ""}${r.stderr ?? ""}`.trim().split("\n")[0] ?? "";
    return r.status === 0 && text ? text : "unknown";
}

function versions(): Record<string, string> {
    return {
        node: process.version,
        docker: version("docker version --format '{{.Server.Version}}'"),
        nginx: version("docker run --rm swarm-lab/nginx:latest nginx -v 2>&1 | sed 's#.*nginx/##'"),
        haproxy: version("docker run --rm swarm-lab/haproxy:latest haproxy -v | head -1 | awk '{print $3}'"),
        keepalived: version("docker run --rm --entrypoint keepalived swarm-lab/node:latest --version 2>&1 | head -1 | awk '{print $2}'"),
        kernel: os.release(),
        // Image untars dominate a cold up: a journal-less ext4 makes them several times slower (docs/lab.md).
        "engine data root": version(
            `d=$(docker info -f '{{.DockerRootDir}}') && s=$(findmnt -no SOURCE -T "$d") && t=$(findmnt -no FSTYPE -T "$d") && ` +
                `j=without; if compgen -G "/proc/fs/jbd2/$(basename "$(readlink -f "$s")")-*" >/dev/null; then j=with; fi; echo "$d on $t $j a journal"`,
        ),
    };
}

// ---- main -------------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
    const parts = selected();
    const started = new Date().toISOString();
    const notRun = (why: string) => ({ status: "not run" as const, reason: why });
    const results: Results = {
        started,
        finished: "",
        machine: { cores: os.cpus().length, memoryGiB: os.totalmem() / 2 ** 30, versions: {} },
        settings: {
            BENCH_RUNS: String(int("BENCH_RUNS", 5)),
            BENCH_GROWTH_RUNS: String(int("BENCH_GROWTH_RUNS", 1)),
            BENCH_FAILOVER_RUNS: String(int("BENCH_FAILOVER_RUNS", 1)),
            BENCH_ONLY: parts.join(","),
        },
        coldup: notRun("not selected (BENCH_ONLY)"),
        growth: notRun("not selected (BENCH_ONLY)"),
        failover: notRun("not selected (BENCH_ONLY)"),
        reaction: notRun("not selected (BENCH_ONLY)"),
        gateway: notRun("not selected (BENCH_ONLY)"),
        scale: notRun("not selected (BENCH_ONLY)"),
    };
    const write = () => {
        results.finished = new Date().toISOString();
        fs.writeFileSync(OUT, renderResults(results));
        fs.mkdirSync(LAB_DIR, { recursive: true });
        fs.writeFileSync(path.join(LAB_DIR, "bench-results.json"), JSON.stringify(results, null, 1));
        log(`wrote ${path.relative(PROJECT_DIR, OUT)}`);
    };
    const lab = parts.some((p) => ["coldup", "growth", "failover", "reaction"].includes(p));
    let stopping = false;
    const abort = async (why: string, code: number) => {
        if (stopping) return;
        stopping = true;
        log(`${why}: tearing down`);
        if (lab) await teardown();
        write();
        process.exit(code);
    };
    process.on("SIGINT", () => void abort("interrupted", 130));
    process.on("SIGTERM", () => void abort("terminated", 143));
    const limit = setTimeout(() => void abort(`BENCH_TIMEOUT (${int("BENCH_TIMEOUT", 10800)} s) reached`, 124), int("BENCH_TIMEOUT", 10800) * 1000);

    try {
        if (lab) await labSetup();
        results.machine.versions = versions();
        const table: Record<PartName, () => Promise<Part<never>>> = {
            coldup: coldup as () => Promise<Part<never>>,
            growth: growth as () => Promise<Part<never>>,
            failover: failover as () => Promise<Part<never>>,
            reaction: reaction as () => Promise<Part<never>>,
            gateway: () => childPart<GatewayData>("gateway.ts", "gateway") as Promise<Part<never>>,
            scale: () => childPart<ScaleData>("scale.ts", "scale") as Promise<Part<never>>,
        };
        for (const p of parts) {
            try {
                (results as unknown as Record<string, Part<unknown>>)[p] = await table[p]();
            } catch (e) {
                (results as unknown as Record<string, Part<unknown>>)[p] = { status: "failed", reason: msg(e) };
            }
        }
    } finally {
        if (!stopping) {
            if (lab) await teardown();
            clearTimeout(limit);
            write();
        }
    }
}

if (process.env.BENCH_LOCKED !== "1") underLock();
else
    main().then(
        () => process.exit(0),
        (e) => {
            console.error(`bench: ${e instanceof Error ? e.stack : e}`);
            process.exit(1);
        },
    );
