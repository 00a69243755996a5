// The bench's measurements against the lab (test/lab): the program driven by the lab engine, the hand-written
// baseline (bench/baseline.sh), and the VIP and gateway probed from the host. Every wait is bounded; nothing here
// asserts: each function returns figures (seconds) for bench/run.ts to put next to the targets.
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { planStack, renderAll, validateConfig } from "../model";
import type { Plan } from "../model";
import { renderKeepalivedConf } from "../model/virtual-ip";
import { devApps, LAB_DIR, LabApp, labConfig, LabOverrides, PROJECT, PROJECT_DIR } from "../test/lab/lab-config";
import { Answer, changed, containerOf, engine, EngineRun, failed, GATEWAYS, get, load, Load, must, now, onManager, onNode, sh, shQuote, sleep, tagReleases, until, vipHolders } from "../test/lab/helpers";

export const BENCH_DIR = path.join(LAB_DIR, "bench");
const log = (m: string) => console.log(`bench ${new Date().toISOString().slice(11, 19)} ${m}`);

// ---- config, plan, the baseline's render -------------------------------------------------------------------------

/** The lab's config with short keys (what validateConfig reads). */
function shortConfig(o: LabOverrides): Record<string, unknown> {
    return Object.fromEntries(Object.entries(labConfig(o)).map(([k, v]) => [k.replace(new RegExp(`^${PROJECT}:`), ""), v]));
}

/** The plan of the lab's stack with these overrides, or the validation errors. */
export function labPlan(o: LabOverrides = {}): { ok: true; plan: Plan } | { ok: false; errors: string } {
    const r = validateConfig(shortConfig(o));
    return r.ok ? { ok: true, plan: planStack(r.config) } : { ok: false, errors: r.errors.map((e) => `${e.path}: ${e.message}`).join("; ") };
}

/** The dev stack's virtualIp with `profile` set (the key the VRRP preset adds), for overrides' `extra`. */
export function vipWithProfile(profile: string): Record<string, unknown> {
    return { ...(shortConfig({}).virtualIp as Record<string, unknown>), profile };
}

/**
 * Renders the lab's dev stack for bench/baseline.sh (before its clock starts): plan.json, the gateway image's files,
 * the keepalived scripts, and each gateway node's keepalived.conf with a fresh VRRP password (written to a file only).
 */
export function prepareBaseline(dir = path.join(BENCH_DIR, "baseline-render"), o: LabOverrides = {}): string {
    const p = labPlan(o);
    if (!p.ok) throw new Error(`the lab config does not validate: ${p.errors}`);
    fs.rmSync(dir, { recursive: true, force: true });
    for (const a of renderAll(p.plan)) {
        const file = path.join(dir, a.path);
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, a.content, { mode: a.mode });
    }
    const authPass = crypto.randomBytes(6).toString("base64").replace(/[^A-Za-z0-9]/g, "x").slice(0, 8);
    const vip = p.plan.virtualIp;
    if (!vip) throw new Error("the lab config has no virtual IP");
    for (const node of p.plan.gateway.nodes) fs.writeFileSync(path.join(dir, "nodes", node, "keepalived.conf"), renderKeepalivedConf(vip, node, { authPass }), { mode: 0o600 });
    return dir;
}

// ---- platform runs ------------------------------------------------------------------------------------------------

/** The host the cold ups wait for (scenario a's first answer): nowy.sklep.localhost from 2.0. */
const FIRST_HOST = "nowy.sklep.localhost";
const FIRST_RELEASE = "2.0";

/** Polls (bounded) until `host` answers 200 from `release` through the VIP; the time of that answer, or undefined. */
export async function firstOk(host: string, release: string, seconds: number): Promise<number | undefined> {
    const a = await until(seconds, async () => {
        const x = await get(host, "/", 1000);
        return x.status === 200 && x.release === release ? x : undefined;
    }, 50);
    return a ? now() : undefined;
}

export interface ColdUp {
    /** From the start of the run to the first 200 through the VIP. */
    readonly seconds: number;
    /** The lab engine's own time for the apply. */
    readonly engineSeconds?: number;
    /** The machine's busy CPU time (core-seconds, every process) from the start of the run to that first 200. */
    readonly cpu?: number;
}

/** /proc/stat counts in USER_HZ, which Linux fixes at 100 whatever the kernel's own HZ (as bench/gateway.ts). */
const USER_HZ = 100;

/**
 * The machine's busy CPU time so far, in core-seconds: user, nice, system, irq, softirq and steal of every core
 * (/proc/stat); idle and iowait are not busy. The difference of two readings is the CPU work done in between.
 */
export function busyCoreSeconds(): number {
    const f = fs.readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
    const [user, nice, system, , , irq, softirq, steal] = f;
    return (user + nice + system + irq + softirq + (steal ?? 0)) / USER_HZ;
}

/** Sweeps everything the lab or the baseline can have left (test/lab/cleanup.sh), bounded. */
export async function cleanup(): Promise<void> {
    const r = await sh(`cd ${PROJECT_DIR} && bash test/lab/cleanup.sh`, 300_000);
    if (r.code !== 0) throw new Error(`cleanup: ${r.stderr}`);
}

/** The program's cold up (the lab engine's `up`), until the first 200 through the VIP. */
export async function programColdUp(o: LabOverrides = {}, label = "program"): Promise<ColdUp> {
    await tagReleases(o); // before the clock (the engine helper tags again: a no-op then)
    const t0 = now();
    const cpu0 = busyCoreSeconds();
    // The probe runs from the start of the apply, beside it: the first 200 can come before `up` ends (`up` still
    // waits for every convergence gate, and loads the images no route needs last). The CPU is read at that answer.
    const first = firstOk(FIRST_HOST, FIRST_RELEASE, 300).then((t) => (t === undefined ? undefined : { t, cpu: busyCoreSeconds() }));
    const r = await engine("up", o, 1_200_000);
    if (!r.ok) throw new Error(`${label} up failed: ${r.errors.join(" | ").slice(0, 1500)}`);
    const ok = await first;
    if (ok === undefined) throw new Error(`${label}: no 200 from ${FIRST_HOST} within 300 s of the start of the apply`);
    log(`${label} cold up: first 200 after ${(ok.t - t0).toFixed(1)} s, ${(ok.cpu - cpu0).toFixed(1)} busy core-seconds (engine ${r.seconds} s)`);
    return { seconds: ok.t - t0, engineSeconds: r.seconds, cpu: ok.cpu - cpu0 };
}

/** The program's destroy: its wall time (the whole engine run). */
export async function programDestroy(): Promise<number> {
    const t0 = now();
    const r = await engine("destroy", {}, 600_000);
    if (!r.ok) throw new Error(`destroy failed: ${r.errors.join(" | ").slice(0, 1500)}`);
    return now() - t0;
}

/** A re-apply with nothing changed: the lab engine's time, and whether it really changed nothing. */
export async function programNoop(o: LabOverrides = {}): Promise<{ seconds: number; engineSeconds: number; changes: number }> {
    const t0 = now();
    const r = await engine("up", o, 600_000);
    if (!r.ok) throw new Error(`no-op up failed: ${r.errors.join(" | ").slice(0, 1500)}`);
    return { seconds: now() - t0, engineSeconds: r.seconds, changes: changed(r) };
}

/**
 * The baseline's cold up: bench/baseline.sh up (it ends on a 200 through the VIP), checked once more from here.
 * `firstAnswer`: the floor, only what that first answer needs, by hand (bench/baseline.sh's first-answer mode).
 */
export async function baselineUp(renderDir: string, o: LabOverrides = {}, firstAnswer = false): Promise<ColdUp> {
    await tagReleases(o); // the release tags, as the program's runs get them, before the clock
    const t0 = now();
    const cpu0 = busyCoreSeconds();
    const r = await sh(`cd ${PROJECT_DIR} && BASELINE_TIMEOUT=300 bash bench/baseline.sh up ${renderDir}${firstAnswer ? " first-answer" : ""}`, 420_000);
    const t1 = now();
    const cpu = busyCoreSeconds() - cpu0;
    if (r.code !== 0) throw new Error(`baseline up failed (exit ${r.code}): ${r.stderr.slice(-1500)}`);
    const a = await get(FIRST_HOST);
    if (a.status !== 200 || a.release !== FIRST_RELEASE) throw new Error(`baseline up ended but ${FIRST_HOST} answers ${a.status} ${a.body.slice(0, 200)}`);
    log(`baseline cold up${firstAnswer ? " (first answer only)" : ""}: ${(t1 - t0).toFixed(1)} s, ${cpu.toFixed(1)} busy core-seconds`);
    return { seconds: t1 - t0, cpu };
}

export async function baselineDown(): Promise<number> {
    const t0 = now();
    const r = await sh(`cd ${PROJECT_DIR} && bash bench/baseline.sh down`, 300_000);
    if (r.code !== 0) throw new Error(`baseline down failed: ${r.stderr.slice(-1500)}`);
    return now() - t0;
}

/** The dev stack's apps plus shop 2.1 on a hostname of its own. */
export function appsWith21(base: LabApp[] = devApps()): LabApp[] {
    const apps = structuredClone(base);
    apps[0].releases.push({ name: "2.1", hostnames: ["najnowszy.sklep.localhost"], env: { RELEASE: "2.1" } });
    return apps;
}

export interface Reaction {
    /** The lab engine's apply time. */
    readonly applySeconds: number;
    /** From the end of the apply to the reaction (negative: it happened before the apply ended). */
    readonly afterApply: number;
    /** From the moment the new tasks passed their health check (swarm: running) to the reaction, where it applies. */
    readonly afterHealthy?: number;
}

async function up(o: LabOverrides, label: string, env: Record<string, string> = {}): Promise<{ r: EngineRun; end: number; start: number }> {
    const start = now();
    const r = await engine("up", o, 600_000, env);
    const end = now();
    if (!r.ok) throw new Error(`${label}: up failed: ${r.errors.join(" | ").slice(0, 1500)}`);
    return { r, end, start };
}

/** Adding one release: its apply, then its first 200 through the VIP. */
export async function addRelease(base: LabApp[] = devApps()): Promise<Reaction> {
    const apps = appsWith21(base);
    await tagReleases({ apps });
    const { r, end } = await up({ apps }, "add 2.1");
    const ok = await firstOk("najnowszy.sklep.localhost", "2.1", 120);
    if (ok === undefined) throw new Error("2.1 never answered");
    const healthy = await runningSince("shop-2-1");
    return { applySeconds: r.seconds, afterApply: ok - end, afterHealthy: ok - Math.min(...Object.values(healthy)) };
}

// ---- growth ------------------------------------------------------------------------------------------------------

/** The dev node list grown to `count` nodes: managers 1 (4 nodes) or 3, always gw-1 and gw-2, the rest workers. */
export function nodeList(count: number): Record<string, unknown>[] {
    const managers = count <= 4 ? 1 : 3;
    const nodes: Record<string, unknown>[] = [];
    let ip = 11;
    for (let i = 1; i <= managers; i++) nodes.push({ name: `manager-${i}`, role: "manager", zone: "intra", address: `172.28.40.${ip++}`, ...(i === 1 ? { bootstrap: true } : {}) });
    nodes.push({ name: "gw-1", role: "worker", zone: "dmz", address: `172.28.40.${ip++}`, gateway: true, priority: 2 });
    nodes.push({ name: "gw-2", role: "worker", zone: "dmz", address: `172.28.40.${ip++}`, gateway: true, priority: 1 });
    for (let i = 1; nodes.length < count; i++) nodes.push({ name: `worker-${i}`, role: "worker", zone: i % 2 ? "intra" : "dmz", address: `172.28.40.${ip++}` });
    return nodes;
}

// ---- VIP failover ---------------------------------------------------------------------------------------------------

export interface Failover {
    readonly outage: number;
    /** Requests with no 200 within 2 s. */
    readonly failed: number;
    /** Requests not answered in time (IN_TIME_SECONDS), the failed ones included. */
    readonly late: number;
    readonly rps: number;
}

/** A probe request is answered in time when a 200 came within this (a healthy answer takes a few ms here). */
export const IN_TIME_SECONDS = 0.25;

/** Not answered in time: no 200, or a 200 later than IN_TIME_SECONDS (a request that waited on a dead task). */
export const late = (a: Answer): boolean => failed(a) || (a.took ?? 0) > IN_TIME_SECONDS;

/**
 * The outage a fault caused: from the last request answered in time before its first late one to the first answered
 * in time after its last late one (request start times, from `from` on). Without a late request: the longest gap
 * between two in-time answers from `from` on.
 */
export function outageOf(answers: readonly Answer[], from: number): number {
    const sorted = [...answers].filter((a) => a.t >= from - 1).sort((a, b) => a.t - b.t);
    const fails = sorted.filter((a) => a.t >= from && late(a));
    const ok = sorted.filter((a) => !late(a)).map((a) => a.t);
    if (!fails.length) {
        let worst = 0;
        for (let i = 1; i < ok.length; i++) if (ok[i] >= from) worst = Math.max(worst, ok[i] - ok[i - 1]);
        return worst;
    }
    const before = ok.filter((t) => t < fails[0].t).pop() ?? from;
    const after = ok.find((t) => t > fails[fails.length - 1].t);
    // nothing in time after the last late request: the outage did not end while probed, and no figure is honest
    if (after === undefined) throw new Error(`the outage had not ended when the probe stopped (${fails.length} late requests, the last ${(fails[fails.length - 1].t - from).toFixed(2)} s after the fault)`);
    return after - before;
}

/**
 * Whether the probe has seen the fault end: more than `count` requests answered in time, started after the fault and
 * after its last late request. Answers from before the fault do not count: they once made the hard failover's probe
 * stop 1.3 s after the kill, whatever the VIP did, so both profiles measured about 1.2 s.
 */
export function recovered(answers: readonly Answer[], from: number, count = 20): boolean {
    const lastLate = answers.reduce((m, a) => (a.t >= from && late(a) ? Math.max(m, a.t) : m), from);
    return answers.filter((a) => a.t > lastLate && !late(a)).length > count;
}

/**
 * The failover probe, open loop: a request through the VIP every 20 ms on a new connection, whatever the ones before
 * it do, each given 2 s (the lab's failure: no 200 within 2 s). A client that gives up sooner than the gateway's
 * connect timeout hides a dead task from the gateway (nginx marks a server failed only when its own timeout fires),
 * which no real client does; a closed loop stops sending while its workers hang. The outage counts a request as
 * late from 250 ms (IN_TIME_SECONDS); failed requests (the 2 s definition) are counted apart.
 */
function probe(): Load {
    const answers: Answer[] = [];
    const inFlight = new Set<Promise<void>>();
    const end = Date.now() + 120_000;
    let stopped = false;
    const loop = (async () => {
        for (let i = 0; !stopped && i < 6000 && Date.now() < end; i++) {
            if (inFlight.size < 200) {
                const p: Promise<void> = get(FIRST_HOST, "/", 2000).then((a) => {
                    answers.push(a);
                    inFlight.delete(p);
                });
                inFlight.add(p);
            }
            await sleep(20);
        }
    })();
    return {
        answers,
        async stop() {
            stopped = true;
            await loop;
            await Promise.all(inFlight);
            return answers;
        },
    };
}

async function holder(): Promise<string | undefined> {
    const h = await until(60, async () => {
        const x = await vipHolders(GATEWAYS);
        return x.length === 1 ? x : undefined;
    }, 500);
    return h?.[0];
}

/** Waits (bounded) until the probe has seen the fault end, and 1 s more, then stops it. */
async function settle(l: Load, t0: number): Promise<Answer[]> {
    await until(30, async () => (recovered(l.answers, t0) ? true : undefined), 200);
    await sleep(1000);
    return l.stop();
}

function summarise(answers: Answer[], t0: number): Failover {
    fs.mkdirSync(BENCH_DIR, { recursive: true });
    fs.writeFileSync(path.join(BENCH_DIR, `failover-${Math.round(t0)}.json`), JSON.stringify({ t0, answers }));
    const span = answers.length > 1 ? Math.max(...answers.map((a) => a.t)) - Math.min(...answers.map((a) => a.t)) : 1;
    return {
        outage: outageOf(answers, t0),
        failed: answers.filter((a) => a.t >= t0 && failed(a)).length,
        late: answers.filter((a) => a.t >= t0 && late(a)).length,
        rps: answers.length / span,
    };
}

/** Graceful: keepalived on the holder stops with SIGTERM (it sends priority 0); then it starts again (nopreempt). */
export async function gracefulFailover(): Promise<Failover> {
    const h = await holder();
    if (!h) throw new Error("no single VIP holder");
    const l = probe();
    await sleep(1500);
    const t0 = now();
    const term = await onNode(h, 'pid=$(cat /run/keepalived.pid 2>/dev/null); [ "$(cat /proc/$pid/comm 2>/dev/null)" = keepalived ] || pid=$(pgrep -o -x keepalived); kill -TERM "$pid"');
    if (term.code !== 0) {
        await l.stop();
        throw new Error(`SIGTERM to keepalived on ${h}: ${term.stderr}`);
    }
    const answers = await settle(l, t0);
    // The stopped keepalived may still be shutting down: started before it exits, the start below would find it
    // running and start none (seen: the next hard failover then had no backup, and no figure).
    const gone = await until(30, async () => ((await onNode(h, "pgrep -x keepalived")).code === 1 ? true : undefined), 200);
    if (!gone) throw new Error(`keepalived on ${h} still runs 30 s after its SIGTERM`);
    log(`keepalived on ${h} exited ${(now() - t0).toFixed(2)} s after its SIGTERM; starting it again`);
    await startKeepalived(h);
    await sleep(3000);
    return summarise(answers, t0);
}

/** Starts keepalived on a node where none runs; fails when none runs after that (bounded). */
async function startKeepalived(node: string): Promise<void> {
    await onNode(node, "pgrep -x keepalived >/dev/null || (rm -f /run/keepalived.pid; keepalived -D -p /run/keepalived.pid -f /etc/keepalived/keepalived.conf </dev/null >/dev/null 2>&1)");
    const running = await until(10, async () => ((await onNode(node, "pgrep -x keepalived")).code === 0 ? true : undefined), 200);
    if (!running) throw new Error(`keepalived did not start again on ${node}`);
}

/** Hard: the holder's node container is killed; afterwards it is started again and the platform converges (bounded). */
export async function hardFailover(): Promise<Failover> {
    const h = await holder();
    if (!h) throw new Error("no single VIP holder");
    const l = probe();
    await sleep(1500);
    const t0 = now();
    await must(`docker kill ${containerOf(h)}`);
    const answers = await settle(l, t0);
    // back: the node, its keepalived, the gateway task on it (so a next run starts from two healthy gateways)
    await must(`docker start ${containerOf(h)}`);
    await until(120, async () => (await onManager(`node inspect ${h} --format '{{.Status.State}}'`)) === "ready", 1000);
    await startKeepalived(h);
    await until(120, async () => (await onNode(h, "curl -fsS --max-time 1 --unix-socket /var/lib/swarm-gateway/health.sock http://localhost/healthz")).code === 0, 1000);
    await sleep(3000);
    return summarise(answers, t0);
}

/** VRRP floors from the plan: hard = 3 × advert_int + skew (of the backup taking over), graceful = skew. */
export function vrrpFloors(plan: Plan): { hard: number; graceful: number; advertInt: number; version: number } {
    const vip = plan.virtualIp;
    if (!vip) throw new Error("no virtual IP in the plan");
    const lowest = Math.min(...vip.groups[0].members.map((m) => m.priority));
    const skew = ((256 - lowest) * vip.advertInt) / 256;
    return { hard: 3 * vip.advertInt + skew, graceful: skew, advertInt: vip.advertInt, version: vip.version };
}

// ---- reaction times ---------------------------------------------------------------------------------------------------

/** Running tasks of a service: container hostname (12 hex) → when swarm marked it running (after its health check). */
export async function runningSince(service: string): Promise<Record<string, number>> {
    const ids = (await onManager(`service ps ${service} -q --filter desired-state=running`)).split("\n").filter(Boolean);
    if (!ids.length) return {};
    const out = await onManager(`inspect --format '{{.Status.State}} {{json .Status.Timestamp}} {{.Status.ContainerStatus.ContainerID}}' ${ids.join(" ")}`);
    const tasks: Record<string, number> = {};
    for (const line of out.split("\n").filter(Boolean)) {
        const [state, ts, cid] = line.split(" ");
        if (state === "running" && cid) tasks[cid.slice(0, 12)] = Date.parse(JSON.parse(ts) as string) / 1000;
    }
    return tasks;
}

/** Moves sklep.localhost to `to` under a continuous probe: the apply, and when every answer comes from `to`. */
export async function promotion(apps: LabApp[], to: string, label: string): Promise<Reaction & { failed: number }> {
    const l = load(["sklep.localhost"], { workers: 4, pauseMs: 10, timeoutMs: 2000, maxRequests: 60_000, maxSeconds: 180 });
    await sleep(1000);
    const { r, end, start } = await up({ apps }, label);
    await until(30, async () => {
        const recent = l.answers.filter((a) => a.t > now() - 3);
        return recent.length > 5 && recent.every((a) => a.release === to);
    }, 200);
    const answers = await l.stop();
    const lastOther = Math.max(start, ...answers.filter((a) => a.release !== to).map((a) => a.t));
    return { applySeconds: r.seconds, afterApply: lastOther - end, failed: answers.filter(failed).length };
}

/** One session with the agent a gateway container serves on its FIFO pair (`$1`.in/.out on the node), as the routes
 *  step opens it: each request line in, its answer line out. */
const SERVED_SESSION = 'exec {to}<>"$1.in" {from}<>"$1.out"; shift; for r in "$@"; do printf "%s\\n" "$r" >&"$to"; IFS= read -r -t 30 -u "$from" a || a="(no answer)"; printf "%s\\n" "$a"; done';

/**
 * What any promotion's apply needs at least, on this platform and under the promotion's probe:
 * - noop: a no-op apply of the same config (engine, SDK, program, diff; no step runs);
 * - exec: one round trip from the host into a gateway node, the path every routes step takes (`docker exec` into
 *   the node; there the step talks to the agent its gateway container serves on a FIFO pair);
 * - gate: that round trip carrying what a routes change cannot skip, through that agent: the health gate's probe of
 *   the release that would gain sklep.localhost, the engine's check, and a reload until a new worker serves (the
 *   old ones not waited for). Same config, so nothing changes for the probe's traffic.
 * The floor is noop + gate: a promotion's routes steps on the two gateway nodes run beside each other. Measured now,
 * beside the promotions.
 */
export async function promotionFloor(apps: LabApp[]): Promise<{ noop: number; exec: number; gate: number }> {
    const p = labPlan({ apps });
    if (!p.ok) throw new Error(`the lab config does not validate: ${p.errors}`);
    const gw = p.plan.gateway;
    // the release a promotion moves sklep.localhost to: the first app's release without it, as routed elsewhere
    const gaining = apps[0].releases.find((r) => !(r.hostnames ?? []).includes("sklep.localhost"));
    const backend = p.plan.routes.filter((r) => r.app === apps[0].name).flatMap((r) => r.backends).find((b) => b.release === gaining?.name);
    if (!backend) throw new Error("no release of the first app to probe (one without sklep.localhost)");
    const l = load(["sklep.localhost"], { workers: 4, pauseMs: 10, timeoutMs: 2000, maxRequests: 60_000, maxSeconds: 180 });
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    try {
        await sleep(1000);
        const { r } = await up({ apps }, "no-op (promotion floor)");
        if (changed(r) !== 0) throw new Error(`the promotion floor's no-op apply changed ${changed(r)} resources`);
        const trips: number[] = [];
        const gates: number[] = [];
        const requests = [`probe ${backend.service} ${backend.port} ${backend.probePath} sklep.localhost`, "check", "reload 15 0"];
        const session = `bash -c ${shQuote(SERVED_SESSION)} session ${shQuote(gw.agent.fifo)} ${requests.map(shQuote).join(" ")}`;
        for (let i = 0; i < 5; i++) {
            let t = now();
            const x = await sh(`docker exec ${containerOf(GATEWAYS[0])} true`, 60_000);
            if (x.code !== 0) throw new Error(`a round trip into ${GATEWAYS[0]}: ${x.stderr}`);
            trips.push(now() - t);
            t = now();
            const g = await sh(`docker exec ${containerOf(GATEWAYS[0])} ${session}`, 60_000);
            const answers = g.stdout.split("\n");
            if (g.code !== 0 || !/^probe [23][0-9][0-9]$/.test(answers[0] ?? "") || answers[1] !== "check ok" || !answers[2]?.startsWith("reload ok")) {
                throw new Error(`probe, check and reload in the gateway on ${GATEWAYS[0]}: exit ${g.code}, answers ${JSON.stringify(answers)}: ${g.stderr}`);
            }
            gates.push(now() - t);
            await sleep(500);
        }
        return { noop: r.seconds, exec: median(trips), gate: median(gates) };
    } finally {
        await l.stop();
    }
}

/** shop 2.0 from 2 to 4 tasks: when the gateway has sent a request to each new task. */
export async function newReplicas(base: LabApp[]): Promise<{ reaction: Reaction; apps: LabApp[] }> {
    const apps = structuredClone(base);
    const rel = apps[0].releases.find((x) => x.name === "2.0");
    if (!rel) throw new Error("no shop 2.0");
    rel.replicas = 4;
    const before = new Set(Object.keys(await runningSince("shop-2-0")));
    const firstSeen: Record<string, number> = {};
    const l = load([FIRST_HOST], { workers: 4, pauseMs: 10, timeoutMs: 2000, maxRequests: 60_000, maxSeconds: 180 });
    const { r, end } = await up({ apps }, "2.0 x4");
    let healthy: Record<string, number> = {};
    await until(90, async () => {
        for (const a of l.answers) if (a.status === 200 && a.task && !(a.task in firstSeen)) firstSeen[a.task] = a.t;
        healthy = await runningSince("shop-2-0");
        const fresh = Object.keys(healthy).filter((t) => !before.has(t));
        return fresh.length >= 2 && fresh.every((t) => t in firstSeen);
    }, 500);
    await l.stop();
    const fresh = Object.keys(healthy).filter((t) => !before.has(t) && t in firstSeen);
    if (fresh.length < 2) throw new Error(`new 2.0 tasks served: ${fresh.length} of 2`);
    return {
        apps,
        reaction: {
            applySeconds: r.seconds,
            afterApply: Math.max(...fresh.map((t) => firstSeen[t])) - end,
            afterHealthy: Math.max(...fresh.map((t) => firstSeen[t] - healthy[t])),
        },
    };
}

/** shop 1.9's service removed behind the program's back, then `up --refresh` makes it again: when it answers. */
export async function returningBackend(apps: LabApp[]): Promise<Reaction> {
    await onManager("service rm shop-1-9");
    await until(40, async () => {
        const a = await get("stary.sklep.localhost", "/", 8000);
        return a.status === 502 || a.status === 504 ? a : undefined;
    }, 500);
    const { r, end } = await up({ apps }, "refresh: shop 1.9 back", { LAB_REFRESH: "1" });
    const ok = await firstOk("stary.sklep.localhost", "1.9", 120);
    if (ok === undefined) throw new Error("1.9 never answered again");
    const healthy = await runningSince("shop-1-9");
    return { applySeconds: r.seconds, afterApply: ok - end, afterHealthy: ok - Math.min(...Object.values(healthy)) };
}
