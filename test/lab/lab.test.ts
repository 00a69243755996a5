// The real-swarm lab: the REAL program (index.ts) driven by the lab engine against docker-in-docker nodes.
// Scenarios run in order on one platform; each asserts what it proves and prints its figures (`LAB name=value`).
// Needs root and a local Docker engine with the swarm-lab/* images (test/lab/run.sh does both).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { devApps, LAB_DIR, LabApp, labConfig, LabOverrides, PROJECT_DIR, vipProfile } from "./lab-config";
import { masterDownSeconds, VRRP_PROFILES } from "../../model/virtual-ip";
import {
    Answer,
    assertZeroFailures,
    changed,
    containerOf,
    converged,
    engine,
    EngineRun,
    failed,
    figure,
    keep,
    GATEWAYS,
    get,
    load,
    MANAGER,
    MANAGER_DOCKER,
    MANAGER_TLS_DIR,
    must,
    NODES,
    now,
    onManager,
    onNode,
    outage,
    PREFIX,
    serviceReplicas,
    sh,
    type Sh,
    sleep,
    status,
    StatusRun,
    steadyLoad,
    summary,
    taskIds,
    tcpOpen,
    until,
    VIP,
    vipHolders,
} from "./helpers";
import { parseExposition, type Sample, total } from "../render/prometheus-text";

const STATE = `${LAB_DIR}/state-dev.json`;
let platformUp = false;
const need = (t: { skip(msg: string): void }) => {
    if (!platformUp) t.skip("the platform is not up (scenario a failed)");
    return platformUp;
};

/** apps with one release changed. */
function withRelease(apps: LabApp[], app: string, release: string, change: (r: LabApp["releases"][number]) => void): LabApp[] {
    const copy = structuredClone(apps);
    const r = copy.find((a) => a.name === app)?.releases.find((x) => x.name === release);
    assert.ok(r, `no release ${app} ${release}`);
    change(r);
    return copy;
}

async function up(overrides: LabOverrides, label: string): Promise<EngineRun> {
    const r = await engine("up", overrides);
    console.log(`# up (${label}): ${r.seconds}s ${JSON.stringify(r.counts)}${r.errors.length ? ` errors: ${r.errors.join(" | ").slice(0, 1500)}` : ""}`);
    return r;
}

/** The answer for a Host header, retried (bounded) until it is a 200 from `release`. */
async function answersFrom(host: string, release: string, seconds = 30) {
    return until(seconds, async () => {
        const a = await get(host);
        return a.status === 200 && a.release === release ? a : undefined;
    });
}

/** Task containers' ids + start times on every node, plus the node containers themselves and the files the program writes. */
async function snapshot(): Promise<string> {
    const parts: string[] = [];
    parts.push(await must(`docker inspect --format '{{.Name}} {{.Id}} {{.State.StartedAt}}' ${NODES.map(containerOf).join(" ")}`));
    for (const n of NODES) {
        const r = await onNode(n, "docker ps -aq | xargs -r docker inspect --format '{{.Name}} {{.Id}} {{.State.StartedAt}}' | sort");
        parts.push(`${n}: ${r.stdout}`);
    }
    for (const n of GATEWAYS) {
        // Regular files only: the routes dir also holds the gateway agent's FIFO pair, which a reader would wait on.
        const r = await onNode(n, "{ md5sum /etc/keepalived/*.conf /etc/keepalived/*.sh; find /etc/swarm-gateway -maxdepth 1 -type f -exec md5sum {} + | sort; } 2>/dev/null; cat /run/keepalived.pid");
        assert.equal(r.code, 0, `${n}: the files' snapshot: ${r.stderr}`);
        parts.push(`${n} files: ${r.stdout}`);
    }
    parts.push(await onManager(`service ls --format '{{.ID}} {{.Name}} {{.Image}}'`));
    parts.push(await onManager(`service ps -q --filter desired-state=running $(${MANAGER_DOCKER} service ls -q)`));
    return parts.join("\n");
}

before(() => {
    fs.mkdirSync(LAB_DIR, { recursive: true });
});

after(async () => {
    // Teardown also when a scenario failed (run.sh destroys again and sweeps whatever is left).
    if (process.env.LAB_KEEP === "1") return;
    const r = await engine("destroy", {}, 300_000).catch((e) => ({ ok: false, errors: [String(e)] }) as unknown as EngineRun);
    if (!r.ok) console.log(`# destroy in after(): ${r.errors.join(" | ")}`);
});

// ---- a. up ---------------------------------------------------------------------------------------
test("a. up: planned nodes and labels, one VIP holder, routing by Host through the VIP", { timeout: 900_000 }, async () => {
    const t0 = now();
    const r = await up({}, "first");
    assert.equal(r.ok, true, `up failed: ${r.errors.join("\n")}`);
    figure("up_engine_seconds", r.seconds);
    figure("up_resources_created", r.counts.created);
    assert.ok(await converged(120), `services did not converge: ${JSON.stringify(await serviceReplicas())}`);

    const nodes = (await onManager(`node ls --format '{{.Hostname}} {{.ManagerStatus}} {{.Status}}'`)).split("\n").sort();
    assert.deepEqual(nodes, ["gw-1  Ready", "gw-2  Ready", "manager-1 Leader Ready", "worker-1  Ready"]);
    const expected: Record<string, Record<string, string>> = {
        "manager-1": { zone: "intra" },
        "gw-1": { gateway: "true", zone: "dmz" },
        "gw-2": { gateway: "true", zone: "dmz" },
        "worker-1": { zone: "intra" },
    };
    for (const n of NODES) {
        const labels = JSON.parse(await onManager(`node inspect ${n} --format '{{json .Spec.Labels}}'`)) as Record<string, string>;
        for (const [k, v] of Object.entries(expected[n])) assert.equal(labels[k], v, `${n} label ${k}`);
        if (!expected[n].gateway) assert.equal(labels.gateway, undefined, `${n} must not be a gateway`);
        const role = await onManager(`node inspect ${n} --format '{{.Spec.Role}}'`);
        assert.equal(role, n === "manager-1" ? "manager" : "worker");
    }

    const holders = await until(30, async () => ((await vipHolders()).length === 1 ? await vipHolders() : undefined));
    assert.ok(holders && holders.length === 1 && GATEWAYS.includes(holders[0] as never), `VIP holders: ${JSON.stringify(await vipHolders())}`);

    assert.ok(await answersFrom("nowy.sklep.localhost", "2.0", 60), "nowy.sklep.localhost does not answer 2.0");
    figure("up_seconds_to_first_answer", now() - t0);
    assert.ok(await answersFrom("stary.sklep.localhost", "1.9"), "stary.sklep.localhost does not answer 1.9");
    assert.ok(await answersFrom("sklep.localhost", "2.0"), "sklep.localhost does not answer 2.0");
    const unknown = await get("unknown.example");
    assert.equal(unknown.status, 0, `unknown Host must be refused (444, empty reply), got ${unknown.status} ${unknown.body}`);
    // The gateway's health answers only on its socket on the node (keepalived's check asks it there); on the public
    // port /healthz is an ordinary path, refused for an unknown Host.
    const publicHealth = await get("anything.example", "/healthz");
    assert.equal(publicHealth.status, 0, `/healthz on the public port for an unknown Host must be refused, got ${publicHealth.status}`);
    for (const gw of GATEWAYS) {
        const socketHealth = await onNode(gw, "curl -fsS --max-time 2 --unix-socket /var/lib/swarm-gateway/health.sock http://localhost/healthz");
        assert.equal(socketHealth.stdout.trim(), "ok", `${gw}: the gateway's health socket`);
    }
    platformUp = true;

    // npm run status agrees: healthy (once the gateway containers' first healthchecks have run), and says so in detail
    let s: StatusRun | undefined;
    await until(30, async () => (s = await status()).code === 0, 1000);
    assert.ok(s, "status never ran");
    console.log(`# status after up (${s.seconds.toFixed(1)} s): exit ${s.code}${s.report.problems.length ? ` problems: ${s.report.problems.join(" | ")}` : ""}`);
    figure("status_seconds", s.seconds);
    assert.equal(s.code, 0, `status exit ${s.code}: ${s.report.problems.join("; ")}`);
    assert.equal(s.report.healthy, true);
    assert.deepEqual(s.report.nodes.map((n) => `${n.name} ${n.state} ${n.ok}`), ["gw-1 ready true", "gw-2 ready true", "manager-1 ready true", "worker-1 ready true"]);
    assert.equal(s.report.virtualIp.length, 1);
    assert.equal(s.report.virtualIp[0].holders.length, 1, `VIP holders: ${s.report.virtualIp[0].holders.join()}`);
    assert.deepEqual(s.report.virtualIp[0].holders, await vipHolders(GATEWAYS), "status names the holder ip(8) shows");
    assert.deepEqual(s.report.gateway.map((g) => `${g.node} ${g.task} ${g.container} ${g.health}`), ["gw-1 running healthy 200", "gw-2 running healthy 200"]);
    assert.deepEqual(s.report.releases.map((r) => `${r.service} ${r.running}/${r.desired} ${r.image}`), [
        "shop-1-9 2/2 swarm-lab/demo-app:1.9",
        "shop-2-0 2/2 swarm-lab/demo-app:2.0",
        "stock-1-0 1/1 swarm-lab/demo-app:1.0",
    ]);
    assert.deepEqual(s.report.hostnames.map((h) => `${h.hostname} ${h.status} ${h.servedBy}`), [
        "nowy.sklep.localhost 200 shop/2.0",
        "sklep.localhost 200 shop/2.0",
        "stary.sklep.localhost 200 shop/1.9",
    ]);
    assert.ok(s.seconds < 8, `status took ${s.seconds.toFixed(1)} s`);
});

// ---- b. idempotency ----------------------------------------------------------------------------
test("b. idempotency: re-applying an unchanged config changes nothing anywhere", { timeout: 300_000 }, async (t) => {
    if (!need(t)) return;
    const before = await snapshot();
    const t0 = now();
    const r = await up({}, "no change");
    const wall = now() - t0;
    assert.equal(r.ok, true, r.errors.join("\n"));
    assert.equal(changed(r), 0, `changes: ${JSON.stringify(r.changes)}`);
    figure("noop_up_seconds", r.seconds);
    // the lab engine's figures: inside the engine's run; and the whole call (release tags, process start, the run)
    figure("noop_engine_seconds", r.seconds);
    figure("noop_wall_seconds", wall);
    assert.equal(await snapshot(), before, "containers, tasks or files on the nodes changed");
});

// ---- b2. a network read back before swarm allocated it --------------------------------------------
test("b2. overlays read back before swarm allocated them (driver, IPAM driver, IPAM config empty in state, as on a slow manager): the next up keeps them and their services", { timeout: 300_000 }, async (t) => {
    if (!need(t)) return;
    // The docker provider reads a network once, 2 s after creating it; a loaded manager had not allocated it by then
    // (CI), and the next up replaced it with its services. Here the state is given that early read directly.
    const state = JSON.parse(fs.readFileSync(STATE, "utf8")) as { resources: Record<string, { type: string; name: string; id: string; outputs: Record<string, unknown> }> };
    const overlays = Object.values(state.resources).filter((r) => r.type === "docker:index/network:Network" && r.outputs.scope === "swarm");
    assert.deepEqual(overlays.map((r) => r.name).sort(), ["platform-networks-gateway", "platform-networks-zone-dmz", "platform-networks-zone-intra"]);
    for (const r of overlays) r.outputs = { ...r.outputs, driver: "", ipamDriver: "", ipamConfigs: [], options: {} };
    fs.writeFileSync(STATE, JSON.stringify(state, null, 1));
    const ids = await onManager("network ls -q --filter scope=swarm --no-trunc");
    const before = await snapshot();
    const r = await up({}, "overlays read early");
    assert.equal(r.ok, true, r.errors.join("\n"));
    assert.equal(changed(r), 0, `changes: ${JSON.stringify(r.changes)}`);
    assert.equal(await onManager("network ls -q --filter scope=swarm --no-trunc"), ids, "the overlays were not replaced");
    assert.equal(await snapshot(), before, "containers, tasks or files on the nodes changed");
    figure("early_read_overlays_up_seconds", r.seconds);
});

// ---- c. new replicas followed --------------------------------------------------------------------
test("c. new replicas followed: 2.0 from 2 to 4 tasks, the gateway spreads over all 4 within 15 s, untouched", { timeout: 300_000 }, async (t) => {
    if (!need(t)) return;
    const gwTasks = await taskIds("gateway");
    const apps = withRelease(devApps(), "shop", "2.0", (r) => (r.replicas = 4));
    const r = await up({ apps }, "2.0 x4");
    assert.equal(r.ok, true, r.errors.join("\n"));
    // the service, then its convergence gate (a new spec to wait for)
    assert.deepEqual(r.changes.map((c) => `${c.op} ${c.urn.split("::").pop()}`), ["update platform-shop-2-0-service", "update platform-shop-2-0-converge"]);
    const tUp = now();
    assert.ok(await converged(60, { "shop-2-0": 4 }), `2.0 did not reach 4 tasks: ${JSON.stringify(await serviceReplicas())}`);
    const tRunning = now();
    const seen = new Set<string>();
    let n = 0;
    while (seen.size < 4 && now() - tRunning < 25 && n < 2000) {
        const a = await get("nowy.sklep.localhost");
        n++;
        if (a.status === 200 && a.release === "2.0" && a.task) seen.add(a.task);
        await sleep(20);
    }
    const spread = now() - tRunning;
    figure("replicas_seconds_from_tasks_running_to_4_hosts", spread);
    figure("replicas_seconds_from_apply_to_4_hosts", now() - tUp);
    assert.equal(seen.size, 4, `distinct 2.0 tasks seen: ${seen.size} after ${n} requests`);
    assert.ok(spread <= 15, `4 tasks seen only after ${spread.toFixed(1)} s`);
    assert.deepEqual(await taskIds("gateway"), gwTasks, "gateway tasks changed");
});

// ---- d. side by side -------------------------------------------------------------------------------
const apps21 = () => {
    const apps = withRelease(devApps(), "shop", "2.0", (r) => (r.replicas = 4));
    apps[0].releases.push({ name: "2.1", hostnames: ["najnowszy.sklep.localhost"], env: { RELEASE: "2.1" } });
    return apps;
};
test("d. side by side: 2.1 on a new hostname, 1.9 and 2.0 never interrupted", { timeout: 300_000 }, async (t) => {
    if (!need(t)) return;
    const l = load(["stary.sklep.localhost", "nowy.sklep.localhost", "sklep.localhost"], { maxRequests: 20000, maxSeconds: 240, timeoutMs: 5000 });
    const r = await up({ apps: apps21() }, "add 2.1");
    const ok21 = await answersFrom("najnowszy.sklep.localhost", "2.1", 60);
    await sleep(2000);
    const answers = await l.stop();
    keep("side-by-side", answers);
    assert.equal(r.ok, true, r.errors.join("\n"));
    assert.ok(ok21, "2.1 does not answer on najnowszy.sklep.localhost");
    const bad = answers.filter((a) => failed(a) || a.release !== (a.host === "stary.sklep.localhost" ? "1.9" : "2.0"));
    figure("side_by_side_requests", answers.length);
    figure("side_by_side_failed", bad.length);
    assert.equal(bad.length, 0, `failed/wrong answers during the 2.1 rollout: ${summary(bad)}`);
    assert.ok(answers.length > 50, `too few requests: ${answers.length}`);
});

// ---- e. promotion / rollback -------------------------------------------------------------------------
async function move(label: string, apps: LabApp[], to: string): Promise<void> {
    const l = load(["sklep.localhost"], { maxRequests: 20000, maxSeconds: 240, timeoutMs: 5000 });
    await sleep(500);
    const t0 = now();
    const r = await up({ apps }, label);
    // keep the load running until 3 s of answers only from the new release (bounded)
    await until(30, async () => {
        const recent = l.answers.filter((a) => a.t > now() - 3);
        return recent.length > 5 && recent.every((a) => a.release === to);
    });
    const answers = await l.stop();
    keep(label, answers);
    assert.equal(r.ok, true, r.errors.join("\n"));
    const lastOther = Math.max(t0, ...answers.filter((a) => a.release !== to).map((a) => a.t));
    const fails = answers.filter(failed);
    figure(`${label}_requests`, answers.length);
    figure(`${label}_failed`, fails.length);
    figure(`${label}_seconds_until_all_new`, lastOther - t0);
    figure(`${label}_apply_seconds`, r.seconds);
    assert.equal(fails.length, 0, `failed requests: ${summary(fails)}`);
    assert.ok(answers.filter((a) => a.t > lastOther).every((a) => a.release === to));
    assert.ok(r.changes.every((c) => /gateway-routes-gw-\d$/.test(c.urn)), `only the routes may change: ${JSON.stringify(r.changes)}`);
}
test("e. promotion and rollback: sklep.localhost 2.0 → 1.9 → 2.0 under load, 0 failed requests", { timeout: 600_000 }, async (t) => {
    if (!need(t)) return;
    const gwTasks = await taskIds("gateway");
    const to19 = apps21();
    to19[0].releases[1].hostnames = ["nowy.sklep.localhost"];
    to19[0].releases[0].hostnames = ["stary.sklep.localhost", "sklep.localhost"];
    // the rollback runs even when the promotion's assertions fail: later scenarios expect 2.0 on sklep.localhost
    const failures: unknown[] = [];
    await move("promotion", to19, "1.9").catch((e) => failures.push(e));
    await move("rollback", apps21(), "2.0").catch((e) => failures.push(e));
    if (failures.length) throw failures[0];
    assert.deepEqual(await taskIds("gateway"), gwTasks, "gateway tasks changed");
});

// ---- f. missing backend ------------------------------------------------------------------------------
test("f. missing backend: 1.9's service gone → its hostname 502/504, the rest fine, gateway untouched; back → answers", { timeout: 300_000 }, async (t) => {
    if (!need(t)) return;
    const gwTasks = await taskIds("gateway");
    await onManager("service rm shop-1-9");
    try {
        await missingBackend(gwTasks);
    } finally {
        // `pulumi up --refresh`: the engine notices the service is gone and creates it again
        const r = await engine("up", { apps: apps21() }, 600_000, { LAB_REFRESH: "1" });
        assert.equal(r.ok, true, r.errors.join("\n"));
        // the new service has a new id: its convergence gate waits for it again
        assert.deepEqual(r.changes.map((c) => `${c.op} ${c.urn.split("::").pop()}`), ["create platform-shop-1-9-service", "update platform-shop-1-9-converge"]);
    }
    const t1 = now();
    assert.ok(await answersFrom("stary.sklep.localhost", "1.9", 60), "1.9 does not answer again");
    figure("missing_backend_seconds_to_answer_again", now() - t1);
    assert.deepEqual(await taskIds("gateway"), gwTasks, "gateway tasks changed");
});

async function missingBackend(gwTasks: string[]): Promise<void> {
    // nginx keeps resolved answers for resolverValid (10 s): wait for the gateway error (bounded)
    const t0 = now();
    const err = await until(40, async () => {
        const a = await get("stary.sklep.localhost", "/", 8000);
        return a.status === 502 || a.status === 504 ? a : undefined;
    });
    figure("missing_backend_seconds_to_gateway_error", now() - t0);
    assert.ok(err, "stary.sklep.localhost did not fail with 502/504");
    for (const [h, rel] of [["nowy.sklep.localhost", "2.0"], ["sklep.localhost", "2.0"], ["najnowszy.sklep.localhost", "2.1"]]) {
        const a = await get(h);
        assert.equal(a.release, rel, `${h}: ${a.status} ${a.body}`);
    }
    assert.deepEqual(await taskIds("gateway"), gwTasks, "gateway tasks changed");

    // npm run status fails and names the missing release and the hostname it leaves without an answer, nothing else
    const s = await status({ apps: apps21() });
    console.log(`# status with shop-1-9 removed (${s.seconds.toFixed(1)} s): exit ${s.code}: ${s.report.problems.join(" | ")}`);
    assert.equal(s.code, 1);
    assert.deepEqual(s.report.releases.filter((r) => !r.ok).map((r) => `${r.service}: ${r.problems.join("; ")}`), ["shop-1-9: service missing"]);
    const stary = s.report.hostnames.filter((h) => !h.ok);
    assert.deepEqual(stary.map((h) => h.hostname), ["stary.sklep.localhost"]);
    assert.ok([502, 504].includes(stary[0].status), `stary.sklep.localhost answered ${stary[0].status}`);
    assert.equal(stary[0].servedBy, "shop/1.9", "the gateway's error answer still names the route's release");
    assert.ok(s.report.nodes.every((n) => n.ok) && s.report.virtualIp.every((v) => v.ok) && s.report.gateway.every((g) => g.ok), s.report.problems.join("; "));
}

// ---- i. zone isolation -------------------------------------------------------------------------------
test("i. zone isolation: tasks only on their zone's nodes; on dmz nodes only the gateway publishes ports", { timeout: 120_000 }, async (t) => {
    if (!need(t)) return;
    const zoneOf: Record<string, string> = { "manager-1": "intra", "worker-1": "intra", "gw-1": "dmz", "gw-2": "dmz" };
    for (const [service, zone] of [["shop-1-9", "dmz"], ["shop-2-0", "dmz"], ["shop-2-1", "dmz"], ["stock-1-0", "intra"]]) {
        const nodes = (await onManager(`service ps ${service} --filter desired-state=running --format '{{.Node}}'`)).split("\n").filter(Boolean);
        assert.ok(nodes.length > 0, `${service} has no running task`);
        for (const n of nodes) assert.equal(zoneOf[n], zone, `${service} task on ${n}`);
    }
    // (`service ls` shows ingress ports only: read every service's endpoint spec)
    const specs = await onManager(`service inspect --format '{{.Spec.Name}} {{range .Spec.EndpointSpec.Ports}}{{.PublishedPort}}/{{.PublishMode}} {{end}}' $(${MANAGER_DOCKER} service ls -q)`);
    const published = specs.split("\n").filter((l) => l.trim().split(" ").length > 1);
    assert.deepEqual(published.map((l) => l.split(" ")[0]), ["gateway"], `services publishing ports: ${published.join("; ")}`);
    assert.match(published[0], /^gateway 80\/host\s*$/, published[0]);
    for (const n of GATEWAYS) {
        const r = await onNode(n, "docker ps --format '{{.Label \"com.docker.swarm.service.name\"}} {{.Ports}}'");
        for (const line of r.stdout.split("\n").filter(Boolean)) {
            const [svc, ...ports] = line.split(" ");
            if (ports.join("").includes("->")) assert.equal(svc, "gateway", `${n}: ${line}`);
        }
    }
});

// ---- m. reachability: engine API and node firewall ------------------------------------------------------
const OUTSIDE_NET = "swarm-platform-dev-lab-outside";
const OUTSIDE_PROBE = "swarm-platform-dev-lab-probe";
const OUTSIDE = { subnet: "172.28.41.0/24", probe: "172.28.41.50", "manager-1": "172.28.41.11", "gw-1": "172.28.41.12" } as const;
const NODE_ADDR: Record<string, string> = { "manager-1": "172.28.40.11", "gw-1": "172.28.40.12", "gw-2": "172.28.40.13", "worker-1": "172.28.40.14" };

/** Packets the node firewall's final DROP has taken on a node. */
async function firewallDrops(node: string): Promise<number> {
    const r = await onNode(node, "iptables -L SWARM-PLATFORM-INPUT -v -n -x | awk '$3 == \"DROP\" {print $1}' | tail -1");
    return Number(r.stdout || "NaN");
}

test("m. reachability: the engine API needs the client certificate; swarm ports answer nodes only; an outside network reaches only the gateway", { timeout: 300_000 }, async (t) => {
    if (!need(t)) return;
    // The node containers run with the narrow capability set, not --privileged.
    const caps = await must(`docker inspect --format '{{.HostConfig.Privileged}} {{json .HostConfig.CapAdd}}' ${containerOf("manager-1")}`);
    figure("node_container_privileged_capadd", caps.replace(/\s+/g, ""));
    const [privileged, added] = [caps.split(" ")[0], (JSON.parse(caps.slice(caps.indexOf(" ") + 1)) as string[]).map((c) => c.replace(/^CAP_/, "")).sort()];
    assert.equal(privileged, "false", caps);
    assert.deepEqual(added, ["NET_ADMIN", "SYS_ADMIN"], caps);

    // 1. The published engine API from the host: TLS with a client certificate, nothing less.
    const plain = await sh(`curl -sS -m 5 http://127.0.0.1:23750/version`);
    figure("api_plain_http_answer", JSON.stringify(plain.stdout.slice(0, 60)));
    assert.doesNotMatch(plain.stdout, /ApiVersion/, "plain HTTP must not reach the API");
    assert.match(plain.stdout, /HTTP request to an HTTPS server/);
    const noCert = await sh(`curl -sS -m 5 --cacert ${MANAGER_TLS_DIR}/ca.pem https://127.0.0.1:23750/version`);
    figure("api_tls_without_client_cert_exit", noCert.code);
    assert.notEqual(noCert.code, 0, `TLS without a client certificate must be refused: ${noCert.stdout}`);
    assert.doesNotMatch(noCert.stdout, /ApiVersion/);
    const cli = await sh(`docker -H ${MANAGER} version --format '{{.Server.Version}}'`);
    assert.notEqual(cli.code, 0, "docker -H without the client certificate must fail");
    assert.match(await onManager("version --format '{{.Server.Version}}'"), /^\d+\./, "with the client certificate the API answers");

    // 2. No plain-TCP API anywhere; only the bootstrap manager listens on 2376 (TLS).
    for (const n of NODES) {
        const listening = (await onNode(n, "ss -ltnH | awk '{print $4}'")).stdout;
        assert.doesNotMatch(listening, /:2375$/m, `${n} listens on 2375: ${listening}`);
        if (n === "manager-1") assert.match(listening, /:2376$/m, `${n}: ${listening}`);
        else assert.doesNotMatch(listening, /:2376$/m, `${n} listens on 2376: ${listening}`);
        assert.equal((await onNode(n, "iptables -S INPUT | sed -n 2p")).stdout, "-A INPUT -j SWARM-PLATFORM-INPUT", `${n}: the firewall chain is not first in INPUT`);
    }

    // 3. Inside the node network: nodes reach the swarm ports, not the engine API; the host (bridge gateway,
    //    in the subnet but not a node) reaches no swarm port.
    const inside = await Promise.all([
        tcpOpen({ node: "gw-1" }, NODE_ADDR["manager-1"], 2377),
        tcpOpen({ node: "gw-1" }, NODE_ADDR["manager-1"], 7946),
        tcpOpen({ node: "gw-1" }, NODE_ADDR["manager-1"], 2376),
        tcpOpen({ node: "gw-1" }, NODE_ADDR["manager-1"], 2375),
        tcpOpen({}, NODE_ADDR["manager-1"], 2377),
        tcpOpen({}, NODE_ADDR["manager-1"], 7946),
        tcpOpen({}, NODE_ADDR["gw-2"], 7946),
    ]);
    figure("probe_node_to_manager_2377_7946_2376_2375", inside.slice(0, 4).map((o) => (o ? "open" : "closed")).join("/"));
    figure("probe_host_to_manager_2377_7946_gw2_7946", inside.slice(4).map((o) => (o ? "open" : "closed")).join("/"));
    assert.deepEqual(inside, [true, true, false, false, false, false, false]);

    // 4. From outside the node network: a container on another bridge, attached to manager-1 and gw-1's second
    //    interfaces. Only the gateway's port answers; the DROP counter shows the firewall (not routing) refused.
    await sh(`docker rm -f ${OUTSIDE_PROBE}; docker network rm ${OUTSIDE_NET}`);
    await must(`docker network create --subnet ${OUTSIDE.subnet} ${OUTSIDE_NET}`);
    try {
        await must(`docker network connect --ip ${OUTSIDE["manager-1"]} ${OUTSIDE_NET} ${containerOf("manager-1")}`);
        await must(`docker network connect --ip ${OUTSIDE["gw-1"]} ${OUTSIDE_NET} ${containerOf("gw-1")}`);
        await must(`docker run -d --name ${OUTSIDE_PROBE} --network ${OUTSIDE_NET} --ip ${OUTSIDE.probe} --entrypoint sleep swarm-lab/node:latest 300`);
        const dropsBefore = await firewallDrops("manager-1");
        const outside = await Promise.all([
            tcpOpen({ container: OUTSIDE_PROBE }, OUTSIDE["manager-1"], 2377),
            tcpOpen({ container: OUTSIDE_PROBE }, OUTSIDE["manager-1"], 7946),
            tcpOpen({ container: OUTSIDE_PROBE }, OUTSIDE["manager-1"], 2376),
            tcpOpen({ container: OUTSIDE_PROBE }, OUTSIDE["manager-1"], 2375),
            tcpOpen({ container: OUTSIDE_PROBE }, OUTSIDE["gw-1"], 7946),
        ]);
        const dropped = (await firewallDrops("manager-1")) - dropsBefore;
        figure("probe_outside_to_manager_2377_7946_2376_2375_gw1_7946", outside.map((o) => (o ? "open" : "closed")).join("/"));
        figure("probe_outside_manager_firewall_drops", dropped);
        assert.deepEqual(outside, [false, false, false, false, false], "outside the node network every swarm and engine port is closed");
        assert.ok(dropped >= 4, `the manager's firewall dropped ${dropped} packets from the outside probes`);
        const gateway = await sh(`docker exec ${OUTSIDE_PROBE} curl -sS -m 5 -H 'Host: nowy.sklep.localhost' http://${OUTSIDE["gw-1"]}/`);
        figure("probe_outside_to_gateway_port_80", JSON.stringify(gateway.stdout.split(" ")[0]));
        assert.match(gateway.stdout, /release=2\.0/, `the gateway's port is open from outside: ${gateway.stdout} ${gateway.stderr}`);
    } finally {
        await sh(`docker rm -f ${OUTSIDE_PROBE}`);
        await sh(`docker network disconnect -f ${OUTSIDE_NET} ${containerOf("manager-1")}; docker network disconnect -f ${OUTSIDE_NET} ${containerOf("gw-1")}`);
        await sh(`docker network rm ${OUTSIDE_NET}`);
    }
    // the swarm is whole behind the firewall
    const nodes = (await onManager(`node ls --format '{{.Hostname}} {{.Status}}'`)).split("\n").sort();
    assert.deepEqual(nodes, ["gw-1 Ready", "gw-2 Ready", "manager-1 Ready", "worker-1 Ready"]);
});

// ---- j. bad input changes nothing --------------------------------------------------------------------
test("j. bad input: invalid config → validation error, state unchanged; a script failing on one node names it, platform keeps serving", { timeout: 600_000 }, async (t) => {
    if (!need(t)) return;
    const stateBefore = fs.readFileSync(STATE, "utf8");
    const snap = await onManager(`service ls --format '{{.ID}} {{.Name}}'`);
    const bad = await engine("up", { apps: apps21(), extra: { virtualIp: { address: "172.28.40.100", virtualRouterId: 300 } } });
    assert.equal(bad.ok, false, "an invalid config must fail");
    assert.match(bad.errors.join("\n"), /virtualRouterId/, `error must name the key: ${bad.errors.join("\n")}`);
    assert.equal(changed(bad), 0);
    assert.equal(fs.readFileSync(STATE, "utf8"), stateBefore, "state file changed");
    assert.equal(await onManager(`service ls --format '{{.ID}} {{.Name}}'`), snap);

    // A node whose script fails: on gw-2 a read-only tmpfs covers the routes folder (its volume's mount point; the
    // gateway container keeps its own bind mount of the volume and goes on serving the old routes).
    const sabotage = "mount -t tmpfs -o ro,size=64k lab-j /etc/swarm-gateway";
    const restore = "umount /etc/swarm-gateway";
    assert.equal((await onNode("gw-2", sabotage)).code, 0);
    try {
        const apps = apps21();
        apps[0].releases[0].hostnames = ["stary.sklep.localhost", "lab-j.sklep.localhost"];
        const l = load(["nowy.sklep.localhost", "stary.sklep.localhost"], { maxRequests: 10000, maxSeconds: 180, timeoutMs: 5000 });
        const r = await up({ apps }, "failing script on gw-2");
        const answers = await l.stop();
        assert.equal(r.ok, false, "the failing script must fail the run");
        const msg = r.errors.join("\n");
        assert.match(msg, /gateway-routes-gw-2/, msg);
        assert.match(msg, /node gw-2/, `the error names the node: ${msg}`);
        assert.match(msg, /Read-only file system/, `the error carries the script's stderr: ${msg}`);
        figure("failing_script_requests", answers.length);
        figure("failing_script_failed", answers.filter(failed).length);
        assert.equal(answers.filter(failed).length, 0, `platform stopped serving: ${summary(answers.filter(failed))}`);
    } finally {
        await onNode("gw-2", restore);
    }
    // back to the scenario's config: converges again (the failed step is retried)
    const r2 = await up({ apps: apps21() }, "after the failure");
    assert.equal(r2.ok, true, r2.errors.join("\n"));
    assert.ok(await answersFrom("stary.sklep.localhost", "1.9"));
    // Refused again once the gateway's reload has taken effect: a connection accepted by an old nginx worker in the
    // moment between the reload signal and its retirement is still served by the old routes (seen once in ~10 runs).
    const withdrawnAt = now();
    const lab = await until(10, async () => ((await get("lab-j.sklep.localhost")).status === 0 ? true : undefined), 250);
    assert.ok(lab, "the withdrawn hostname must be refused again within 10 s");
    figure("failing_script_withdrawn_refused_after_seconds", Number((now() - withdrawnAt).toFixed(2)));
});

// ---- h. gateway health drives the VIP ----------------------------------------------------------------
/** The one gateway node holding the VIP, once there is exactly one (bounded). */
async function holder(): Promise<string | undefined> {
    const h = await until(30, async () => {
        const held = await vipHolders(GATEWAYS);
        return held.length === 1 ? held : undefined;
    });
    return h?.[0];
}

test("h. gateway health drives the VIP: stopping the holder's gateway task moves the VIP", { timeout: 300_000 }, async (t) => {
    if (!need(t)) return;
    const vipNode = await holder();
    assert.ok(vipNode, "no VIP holder");
    const other = GATEWAYS.find((g) => g !== vipNode) as string;
    const task = await onNode(vipNode, "docker ps -q --filter label=com.docker.swarm.service.name=gateway");
    assert.ok(task.stdout, `no gateway task on ${vipNode}`);
    const l = load(["nowy.sklep.localhost"], { maxRequests: 20000, maxSeconds: 120, timeoutMs: 1000 });
    await sleep(1000);
    const t0 = now();
    const stop = onNode(vipNode, `docker stop -t 60 ${task.stdout.split("\n")[0]}`, 90_000);
    const moved = await until(30, async () => ((await vipHolders(GATEWAYS)).join() === other ? true : undefined), 200);
    const moveSeconds = now() - t0;
    await stop;
    await sleep(3000);
    const answers = await l.stop();
    figure("gateway_stop_vip_move_seconds", moveSeconds);
    figure("gateway_stop_outage_seconds", outage(answers, t0));
    figure("gateway_stop_failed_requests", answers.filter(failed).length);
    assert.ok(moved, `VIP still on ${(await vipHolders(GATEWAYS)).join()}`);
    // fall × interval (2 × 1 s) + advert/garp + a few seconds
    assert.ok(moveSeconds <= 6, `VIP moved only after ${moveSeconds.toFixed(1)} s (fall 2 × interval 1 s + 4 s)`);
    assert.ok(await converged(60), "gateway task did not come back");
});

// ---- g. VIP failover -----------------------------------------------------------------------------------
async function startKeepalived(node: string): Promise<void> {
    // As keepalived-apply starts it (the node's entrypoint does the same at a container start), stale pid files first.
    await onNode(node, "pgrep -x keepalived >/dev/null || (rm -f /run/keepalived.pid /run/vrrp.pid /run/checkers.pid /run/bfd.pid; keepalived -D -p /run/keepalived.pid -f /etc/keepalived/keepalived.conf)");
}
/**
 * The moment (s, host clock) `node` holds the VIP, seen from inside the node every 10 ms: the VRRP move itself, without
 * the clients' reconnect or the 200 ms poll of vipHolders. Start it before the event and wait until `ready`.
 */
function vipArrival(node: string): { ready: Promise<unknown>; at: Promise<number | undefined> } {
    const watch = onNode(node, `for i in $(seq 3000); do ip -4 -o addr show | grep -q ' ${VIP}/' && { date +%s.%N; exit 0; }; sleep 0.01; done; exit 1`, 60_000);
    return { ready: sleep(700), at: watch.then((r) => (r.code === 0 ? Number(r.stdout.trim()) : undefined)) };
}

/** The failover load: 4 workers, 0.5 s per request, so an outage is resolved to a few tenths of a second (the fast profile's target is 1 s). */
const failoverLoad = (maxRequests: number, maxSeconds: number, timeoutMs = 500) => load(["nowy.sklep.localhost"], { maxRequests, maxSeconds, timeoutMs, workers: 4 });

test("g. VIP failover: graceful stop and hard kill of the holder, no second interruption on return", { timeout: 600_000 }, async (t) => {
    if (!need(t)) return;
    const h1 = await holder();
    assert.ok(h1, `not exactly one VIP holder: ${JSON.stringify(await vipHolders(GATEWAYS))}`);
    const h2 = GATEWAYS.find((g) => g !== h1) as string;
    // The releases status expects: 2.1 when scenario d ran before (a subset run such as ^(a|g|h)\. has only dev's).
    const deployed = "shop-2-1" in (await serviceReplicas()) ? apps21() : devApps();
    // The floor of a hard failover: Master_Down of the second node (priority 190) at the profile's advert interval.
    const profile = vipProfile() ?? "fast"; // the dev stack's
    const floor = masterDownSeconds(VRRP_PROFILES[profile].advertInt, 190);
    figure("failover_vip_profile", profile);
    figure("failover_hard_floor_seconds", floor);

    // graceful: keepalived on the holder stops with SIGTERM (it sends priority 0 first)
    let l = failoverLoad(20000, 120);
    let arrival = vipArrival(h2);
    await arrival.ready;
    await sleep(300);
    let t0 = now();
    // the main keepalived process: from keepalived-apply's pidfile, else the oldest keepalived process
    const pids = await onNode(h1, "echo pidfile=$(cat /run/keepalived.pid 2>&1); pgrep -a keepalived");
    console.log(`# ${h1} keepalived before SIGTERM: ${pids.stdout.replace(/\n/g, " | ")}`);
    const term = await onNode(
        h1,
        'pid=$(cat /run/keepalived.pid 2>/dev/null); [ "$(cat /proc/$pid/comm 2>/dev/null)" = keepalived ] || pid=$(pgrep -o -x keepalived); kill -TERM "$pid"',
    );
    assert.equal(term.code, 0, `SIGTERM to keepalived on ${h1}: ${term.stderr}`);
    let moved = await until(30, async () => ((await vipHolders(GATEWAYS)).join() === h2 ? true : undefined), 200);
    const gracefulMove = now() - t0;
    const gracefulArrival = await arrival.at;
    await sleep(3000);
    let answers = await l.stop();
    keep("failover-graceful", answers);
    figure("failover_graceful_vip_move_seconds", gracefulMove);
    if (gracefulArrival) figure("failover_graceful_vip_arrival_seconds", gracefulArrival - t0);
    figure("failover_graceful_outage_seconds", outage(answers, t0));
    figure("failover_graceful_failed_requests", answers.filter((a) => a.t >= t0 && failed(a)).length);
    assert.ok(moved, `VIP did not move to ${h2}: holders ${JSON.stringify(await vipHolders(GATEWAYS))}`);

    // keepalived back on h1: the VIP stays on h2 (nopreempt), no interruption
    l = load(["nowy.sklep.localhost"], { maxRequests: 10000, maxSeconds: 60, timeoutMs: 5000 });
    await startKeepalived(h1);
    await sleep(8000);
    answers = await l.stop();
    figure("failover_keepalived_return_failed_requests", answers.filter(failed).length);
    assert.deepEqual(await vipHolders(GATEWAYS), [h2], "the VIP went back (preempted)");
    assert.equal(answers.filter(failed).length, 0, `interruption when keepalived came back on ${h1}: ${summary(answers.filter(failed))}`);

    // hard: the whole holder node dies
    l = failoverLoad(20000, 120);
    arrival = vipArrival(h1);
    await arrival.ready;
    await sleep(300);
    t0 = now();
    await must(`docker kill ${containerOf(h2)}`);
    try {
        const killed = now();
        moved = await until(30, async () => ((await vipHolders([h1])).length ? true : undefined), 200);
        const hardArrival = await arrival.at;
        // answers again: 5 requests answered that started after the kill returned and after the last failed one.
        // Requests started while `docker kill` ran can still succeed: counting those (any answer after t0) let CI stop
        // the load with 27 failed requests and not one answer after them, an outage of 0.
        await until(20, async () => {
            const since = Math.max(killed, ...l.answers.filter((a) => a.t > t0 && failed(a)).map((a) => a.t));
            return l.answers.filter((a) => a.t > since && !failed(a)).length > 5;
        });
        answers = await l.stop();
        keep("failover-hard", answers);
        const hard = outage(answers, t0);
        if (hardArrival) figure("failover_hard_vip_arrival_seconds", hardArrival - t0);
        figure("failover_hard_outage_seconds", hard);
        figure("failover_hard_failed_requests", answers.filter((a) => a.t >= t0 && failed(a)).length);
        assert.ok(moved, `VIP did not move to ${h1}`);
        assert.ok(hard > 0 && hard < 10, `hard failover outage ${hard}`);
    } catch (e) {
        // The later scenarios need every node: the killed one comes back before the failure is reported.
        await l.stop();
        await must(`docker start ${containerOf(h2)}`);
        await until(90, async () => (await onManager(`node inspect ${h2} --format '{{.Status.State}}'`)) === "ready", 1000);
        await startKeepalived(h2);
        await converged(90);
        throw e;
    }

    // steady state first: the swarm has marked the node down and the gateway's DNS cache (resolverValid 10 s) no
    // longer names the dead node's tasks (until then some requests wait for nginx's connect timeout on them)
    await until(60, async () => (await onManager(`node inspect ${h2} --format '{{.Status.State}}'`)) === "down", 1000);
    await sleep(12_000);
    // npm run status fails and names the dead node, its gateway and its keepalived; the VIP is on h1 alone
    const dead = await status({ apps: deployed });
    console.log(`# status with ${h2} dead (${dead.seconds.toFixed(1)} s): exit ${dead.code}: ${dead.report.problems.join(" | ")}`);
    assert.equal(dead.code, 1);
    assert.deepEqual(dead.report.nodes.filter((n) => !n.ok).map((n) => `${n.name} ${n.state}`), [`${h2} down`]);
    assert.deepEqual(dead.report.virtualIp[0].holders, [h1]);
    assert.ok(dead.report.virtualIp[0].problems.some((p) => p.includes(h2)), dead.report.virtualIp[0].problems.join("; "));
    assert.deepEqual(dead.report.gateway.filter((g) => !g.ok).map((g) => g.node), [h2]);
    assert.ok(dead.report.hostnames.every((h) => h.ok), `every hostname still answers through the VIP: ${dead.report.problems.join("; ")}`);

    // the node comes back: no second interruption (nopreempt)
    l = load(["nowy.sklep.localhost"], { maxRequests: 20000, maxSeconds: 180, timeoutMs: 5000 });
    t0 = now();
    await must(`docker start ${containerOf(h2)}`);
    const ready = await until(90, async () => (await onManager(`node inspect ${h2} --format '{{.Status.State}}'`)) === "ready", 1000);
    if (ready) {
        await startKeepalived(h2);
        await converged(90);
        await sleep(8000); // a preempting keepalived would take the VIP back within a few adverts
    }
    answers = await l.stop();
    figure("failover_node_return_failed_requests", answers.filter(failed).length);
    // a restarted node container has a new network namespace: its entrypoint put the firewall back before the engine
    assert.equal((await onNode(h2, "iptables -S INPUT | sed -n 2p")).stdout, "-A INPUT -j SWARM-PLATFORM-INPUT", `${h2}: firewall not re-applied after its restart`);
    assert.match((await onNode(h2, "iptables -S SWARM-PLATFORM-INPUT | tail -1")).stdout, /-j DROP$/);
    assert.deepEqual(await vipHolders(GATEWAYS), [h1], "the VIP went back (preempted)");
    assert.equal(answers.filter(failed).length, 0, `interruption when ${h2} came back: ${summary(answers.filter(failed))}`);
    assert.ok(ready, `${h2} stayed Down in the swarm after docker start (see the report: stale netns in the node container)`);
    // and npm run status is healthy again (bounded: the returned gateway's first healthcheck)
    let back: StatusRun | undefined;
    await until(30, async () => (back = await status({ apps: deployed })).code === 0, 1000);
    assert.equal(back?.code, 0, `status after ${h2} came back: ${back?.report.problems.join("; ")}`);
});

// ---- p2. metrics ---------------------------------------------------------------------------------------------
// The gateway's metrics endpoint (docs/metrics.md), read like the canary reads it: `docker exec` into the gateway
// container on each gateway node, curl http://127.0.0.1:<port>/metrics, the families summed over the nodes.

interface GatewayScrape {
    readonly node: string;
    readonly samples: Sample[];
}

async function scrapeGateways(): Promise<GatewayScrape[]> {
    const scrapes: GatewayScrape[] = [];
    for (const node of GATEWAYS) {
        const cmd = `docker exec "$(docker ps -q --filter label=com.docker.swarm.service.name=gateway | head -n 1)" curl -sS --max-time 5 http://127.0.0.1:9145/metrics`;
        const r = await onNode(node, cmd, 20_000);
        assert.equal(r.code, 0, `${node}: scraping the gateway's metrics failed: ${r.stderr}`);
        // sh() trims its output: the exposition's final line break is put back.
        scrapes.push({ node, samples: parseExposition(`${r.stdout}\n`) });
    }
    return scrapes;
}

/** A family's growth between two scrapes, summed over the gateway nodes; a node whose exporter restarted (another
 *  start time) counts from 0, as the canary reads it. */
function growth(before: readonly GatewayScrape[], after: readonly GatewayScrape[], name: string, match: Record<string, string>): number {
    return after.reduce((sum, a) => {
        const b = before.find((x) => x.node === a.node);
        const restarted = !b || total(b.samples, "gateway_metrics_start_time_seconds") !== total(a.samples, "gateway_metrics_start_time_seconds");
        return sum + total(a.samples, name, match) - (restarted ? 0 : total(b.samples, name, match));
    }, 0);
}

test("p2. metrics: per-release counts on the gateway metrics endpoint agree with the load tool's within 1%, across a routes reload", { timeout: 600_000 }, async (t) => {
    if (!need(t)) return;
    await backToDev("p2");
    const routes = [
        { hostname: "stary.sklep.localhost", release: "1.9" },
        { hostname: "sklep.localhost", release: "2.0" },
    ];
    // The routes reload in the middle moves nowy.sklep.localhost (not in the load) from 2.0 to 1.9: every gateway
    // reloads its engine in place while the load runs.
    const moved = withRelease(
        withRelease(devApps(), "shop", "2.0", (r) => (r.hostnames = (r.hostnames ?? []).filter((h) => h !== "nowy.sklep.localhost"))),
        "shop",
        "1.9",
        (r) => (r.hostnames = [...(r.hostnames ?? []), "nowy.sklep.localhost"]),
    );
    const before = await scrapeGateways();
    const l = load(
        routes.map((r) => r.hostname),
        { workers: 8, pauseMs: 0, maxRequests: 12000, maxSeconds: 40, timeoutMs: 5000 },
    );
    let reload: EngineRun | undefined;
    let reloaded = 0;
    let answers: Answer[] = [];
    let after: GatewayScrape[] = [];
    try {
        await sleep(1500);
        reload = await up({ apps: moved }, "p2: a routes change under load");
        reloaded = now();
        await sleep(1000);
        answers = await l.stop();
        // nginx writes the exporter's lines in blocks at least every second.
        await sleep(2500);
        after = await scrapeGateways();
    } finally {
        await l.stop();
        await backToDev("p2: back");
    }
    assert.equal(reload?.ok, true, reload?.errors.join("\n"));
    assert.ok(reload?.changes.length && reload.changes.every((c) => /gateway-routes-gw-\d$/.test(c.urn)), `only the routes change: ${JSON.stringify(reload?.changes)}`);
    assert.ok(answers.some((a) => a.t > reloaded), `the load ended before the reload did (${answers.length} requests)`);
    figure("metrics_requests", answers.length);
    figure("metrics_lines_dropped", growth(before, after, "gateway_metrics_lines_dropped_total", {}));
    for (const r of routes) {
        // The client's count: requests that got an HTTP answer (a connection that failed never reached a gateway's log).
        const client = answers.filter((a) => a.host === r.hostname && a.status > 0).length;
        const gateway = growth(before, after, "gateway_requests_total", { hostname: r.hostname, app: "shop", release: r.release });
        const perNode = after.map((a) => `${a.node} ${total(a.samples, "gateway_requests_total", { hostname: r.hostname })}`).join(", ");
        figure(`metrics_${r.release}_client`, client);
        figure(`metrics_${r.release}_gateway`, gateway);
        assert.ok(client > 500, `too few requests to ${r.hostname}: ${client}`);
        assert.ok(Math.abs(gateway - client) <= client * 0.01, `${r.hostname} (shop ${r.release}): the gateways counted ${gateway}, the client ${client} (now per node: ${perNode})`);
    }
});

// ---- q–t. zero failed requests through routine changes ----------------------------------------------------
// Each runs a steady load (≥ 100 requests/s, 2 s per request, no retry) through the VIP on the routed hostnames,
// makes its change and undoes it under that load, and ends on the dev config (also when it fails).
const ROUTED = ["stary.sklep.localhost", "nowy.sklep.localhost", "sklep.localhost"];

/** The platform on the dev config (releases shop 1.9/2.0, stock 1.0), every service converged. */
async function backToDev(label: string): Promise<void> {
    const r = await up({}, `${label}: dev config`);
    assert.equal(r.ok, true, `${label}: back to the dev config: ${r.errors.join("\n")}`);
    assert.ok(await converged(120), `${label}: not converged on the dev config: ${JSON.stringify(await serviceReplicas())}`);
}

/** Waits (bounded) until a rolling update of `service` that started after `since` (s) has completed. */
async function rolledOut(service: string, since: number, seconds: number): Promise<void> {
    let last = "";
    const done = await until(seconds, async () => {
        last = await onManager(`service inspect ${service} --format '{{if .UpdateStatus}}{{.UpdateStatus.State}} {{.UpdateStatus.StartedAt.Unix}}{{end}}'`);
        const [state, startedAt] = last.split(" ");
        if (/rollback|paused/.test(state)) throw new Error(`${service}: update ${state}`);
        return state === "completed" && Number(startedAt) >= Math.floor(since) - 1;
    }, 1000);
    assert.ok(done, `${service}: the update did not complete within ${seconds} s (update status: ${last || "none"})`);
    assert.ok(await converged(60), `${service}: not converged after its update: ${JSON.stringify(await serviceReplicas())}`);
}

/**
 * Runs `change` under the steady load, then `settle` seconds more, and asserts zero failed requests. The platform
 * goes back to the dev config afterwards when `change` did not get there itself.
 */
async function zeroFailures(label: string, change: () => Promise<void>, settle = 3): Promise<void> {
    const l = steadyLoad(ROUTED);
    let answers: Answer[] = [];
    let failure: unknown;
    try {
        await sleep(1000);
        await change();
        await sleep(settle * 1000);
    } catch (e) {
        failure = e;
    } finally {
        answers = await l.stop();
        if (failure) await backToDev(`${label} (restore)`);
    }
    if (failure) throw failure;
    assertZeroFailures(label, answers);
}

test("q. zero failures: a new env for a live release (2.0, start-first, healthcheck-gated) and back", { timeout: 600_000 }, async (t) => {
    if (!need(t)) return;
    await backToDev("q");
    await zeroFailures("release_update", async () => {
        // An added key, so that the way back is a removed key (an update too: env is a set in the provider).
        const apps = withRelease(devApps(), "shop", "2.0", (r) => (r.env = { ...r.env, RELEASE_NOTE: "q" }));
        let t0 = now();
        const r = await up({ apps }, "2.0 new env");
        assert.equal(r.ok, true, r.errors.join("\n"));
        // the service, and its convergence gate (the spec hash changed), which `up` waits for
        assert.deepEqual(r.changes.map((c) => `${c.op} ${c.urn.split("::").pop()}`).sort(), ["update platform-shop-2-0-converge", "update platform-shop-2-0-service"]);
        await rolledOut("shop-2-0", t0, 240);
        const env = await onManager(`service inspect shop-2-0 --format '{{json .Spec.TaskTemplate.ContainerSpec.Env}}'`);
        assert.match(env, /RELEASE_NOTE=q/, `the new env is not live: ${env}`);
        figure("release_update_seconds_to_rolled_out", now() - t0);
        t0 = now();
        const back = await up({}, "2.0 env back");
        assert.equal(back.ok, true, back.errors.join("\n"));
        assert.ok(back.changes.some((c) => c.op === "update" && c.urn.endsWith("::platform-shop-2-0-service")), "the dropped key is an update");
        await rolledOut("shop-2-0", t0, 240);
        const envBack = await onManager(`service inspect shop-2-0 --format '{{json .Spec.TaskTemplate.ContainerSpec.Env}}'`);
        assert.doesNotMatch(envBack, /RELEASE_NOTE/, `the dropped key is still live: ${envBack}`);
    });
});

test("r. zero failures: scaling a release down (2.0 from 4 tasks to 2)", { timeout: 600_000 }, async (t) => {
    if (!need(t)) return;
    await backToDev("r");
    const r4 = await up({ apps: withRelease(devApps(), "shop", "2.0", (r) => (r.replicas = 4)) }, "2.0 x4");
    assert.equal(r4.ok, true, r4.errors.join("\n"));
    assert.ok(await converged(90, { "shop-2-0": 4 }), `2.0 did not reach 4 tasks: ${JSON.stringify(await serviceReplicas())}`);
    await sleep(3000); // the gateway knows the new tasks (DNS kept 1 s)
    await zeroFailures(
        "scale_down",
        async () => {
            const r = await up({}, "2.0 x2");
            assert.equal(r.ok, true, r.errors.join("\n"));
            assert.ok(await converged(60, { "shop-2-0": 2 }), `2.0 did not go down to 2 tasks: ${JSON.stringify(await serviceReplicas())}`);
        },
        // the removed tasks drain 2 s (the demo app's DRAIN_SECONDS), then exit: the load runs past that
        5,
    );
});

test("s. zero failures: a new gateway image (a config change baked into it) and back, one gateway node at a time", { timeout: 900_000 }, async (t) => {
    if (!need(t)) return;
    await backToDev("s");
    const imageBefore = await onManager(`service inspect gateway --format '{{.Spec.TaskTemplate.ContainerSpec.Image}}'`);
    await zeroFailures("gateway_update", async () => {
        let t0 = now();
        const r = await up({ gateway: { clientTimeouts: { keepAlive: 14 } } }, "gateway keep-alive 14 s");
        assert.equal(r.ok, true, r.errors.join("\n"));
        await rolledOut("gateway", t0, 300);
        const imageNew = await onManager(`service inspect gateway --format '{{.Spec.TaskTemplate.ContainerSpec.Image}}'`);
        assert.notEqual(imageNew, imageBefore, "the gateway image did not change");
        figure("gateway_update_seconds_to_rolled_out", now() - t0);
        t0 = now();
        const back = await up({}, "gateway image back");
        assert.equal(back.ok, true, back.errors.join("\n"));
        await rolledOut("gateway", t0, 300);
        assert.equal(await onManager(`service inspect gateway --format '{{.Spec.TaskTemplate.ContainerSpec.Image}}'`), imageBefore);
    });
    assert.equal((await vipHolders(GATEWAYS)).length, 1, `VIP holders after the update: ${JSON.stringify(await vipHolders(GATEWAYS))}`);
});

test("t. zero failures: draining the VIP holder (a gateway node running release tasks) for maintenance, then back to active", { timeout: 600_000 }, async (t) => {
    if (!need(t)) return;
    await backToDev("t");
    const drained = await holder();
    assert.ok(drained, "no VIP holder");
    const other = GATEWAYS.find((g) => g !== drained) as string;
    const tasksOn = async (node: string) => (await onNode(node, "docker ps --format '{{.Label \"com.docker.swarm.service.name\"}}' | sort | tr '\\n' ' '")).stdout.trim();
    // The hard case CI met: both replicas of shop 1.9 on the drained node (a plain drain stops both at once). The
    // other gateway node is paused while swarm reschedules 1.9 (start-first: no gap), then made active again.
    await onManager(`node update --availability pause ${other}`);
    try {
        await onManager("service update --detach --force shop-1-9");
        // Two tasks on the node and n/n replicas is also the middle of the update: wait for its end.
        const updated = async () => (await onManager(`service inspect shop-1-9 --format '{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}'`)) === "completed";
        const both = await until(120, async () => ((await tasksOn(drained)).split(" ").filter((s) => s === "shop-1-9").length === 2 && (await updated()) && (await converged(1)) ? true : undefined), 1000);
        assert.ok(both, `shop 1.9 did not move both its tasks to ${drained}: ${await tasksOn(drained)}`);
    } finally {
        await onManager(`node update --availability active ${other}`);
    }
    // The move is the setup, not the drain under test: the load starts once the VIP holder's gateway serves 1.9 from
    // the moved tasks, 20 answers in a row. (CI saw up to 6.4 s of 502s for 1.9 right after the move, before the
    // drain's up began: the gateway still listed the stopped tasks. Noted in the resolved note, not hidden.)
    const steady = await until(60, async () => {
        for (let i = 0; i < 20; i++) {
            const a = await get("stary.sklep.localhost");
            if (a.status !== 200 || a.release !== "1.9") return undefined;
        }
        return true;
    }, 1000);
    assert.ok(steady, "stary.sklep.localhost did not answer 20 times in a row from 1.9 after its tasks moved");
    figure("node_drain_tasks_before", `${drained}:[${await tasksOn(drained)}]`);
    await zeroFailures("node_drain", async () => {
        const r = await up({ nodes: { [drained]: { availability: "drain" } } }, `drain ${drained}`);
        assert.equal(r.ok, true, r.errors.join("\n"));
        const empty = await until(90, async () => ((await tasksOn(drained)) === "" ? true : undefined), 1000);
        assert.ok(empty, `${drained} still runs tasks: ${await tasksOn(drained)}`);
        assert.ok(await converged(90), `not converged with ${drained} drained: ${JSON.stringify(await serviceReplicas())}`);
        assert.deepEqual(await vipHolders(GATEWAYS), [other], "the VIP did not move off the drained node");
        const back = await up({}, `${drained} active`);
        assert.equal(back.ok, true, back.errors.join("\n"));
        const gatewayBack = await until(90, async () => ((await tasksOn(drained)).includes("gateway") ? true : undefined), 1000);
        assert.ok(gatewayBack, `no gateway task on ${drained} after it came back`);
        assert.ok(await converged(90), `not converged after ${drained} came back: ${JSON.stringify(await serviceReplicas())}`);
    });
    assert.equal((await onManager(`node inspect ${drained} --format '{{.Spec.Availability}}'`)), "active");
});

// ---- n, o. a failed `up` is safe: health-gated routes, a rollback `up` reports ----------------------------
/**
 * The dev config with a short convergence timeout for shop: by default its floor, update monitor 25 s + healthcheck
 * interval 5 s.
 */
function shortGates(apps: LabApp[], convergeTimeout = 30): LabApp[] {
    return apps.map((a) => (a.name === "shop" ? { ...a, update: { convergeTimeout } } : a));
}

/** The spec hash the swarm runs for a service (its swarm-platform.spec label). */
async function runningSpec(service: string): Promise<string> {
    return onManager(`service inspect ${service} --format '{{index .Spec.Labels "swarm-platform.spec"}}'`);
}

test("n. zero failures: a never-healthy release given a live hostname fails `up`, naming it and its tasks; the hostname stays on 2.0", { timeout: 600_000 }, async (t) => {
    if (!need(t)) return;
    await backToDev("n: the dev config first");
    try {
        // 2.2 never listens (START_DELAY), so its healthcheck never passes; it is to take sklep.localhost from 2.0.
        const broken = shortGates(devApps());
        broken[0].releases[1].hostnames = ["nowy.sklep.localhost"];
        broken[0].releases.push({ name: "2.2", hostnames: ["sklep.localhost"], env: { RELEASE: "2.2", START_DELAY: "100000" } });
        const l = steadyLoad(["sklep.localhost", "nowy.sklep.localhost"], 240);
        await sleep(1000);
        const r = await up({ apps: broken }, "n: never-healthy 2.2 on sklep.localhost");
        await sleep(2000);
        const answers = await l.stop();
        figure("broken_release_up_seconds", r.seconds);
        assert.equal(r.ok, false, "up must fail");
        const msg = r.errors.join("\n");
        assert.match(msg, /release shop 2\.2 \(service shop-2-2\): did not converge within 30s: 0\/2 tasks running and healthy/, msg);
        assert.match(msg, /shop-2-2\.\d on gw-\d: (Starting|Complete|Ready|Preparing)/, `the task states: ${msg}`);
        assert.ok(!/gateway-routes-gw/.test(r.changes.map((c) => c.urn).join()), `the routes must not change: ${JSON.stringify(r.changes)}`);
        for (const gw of GATEWAYS) {
            const routes = await onNode(gw, "cat /etc/swarm-gateway/routes.conf /etc/swarm-gateway/routes.served");
            assert.doesNotMatch(routes.stdout, /shop-2-2/, `${gw}: the live routes do not know 2.2`);
        }
        assertZeroFailures("broken_release", answers);
        const wrong = answers.filter((a) => a.release !== "2.0");
        assert.equal(wrong.length, 0, `answers not from 2.0: ${summary(wrong)}`);
    } finally {
        await backToDev("n: restored");
    }
    assert.ok(await answersFrom("sklep.localhost", "2.0"), "sklep.localhost answers 2.0 after the restore");
    assert.equal((await onManager("service ls -q --filter name=shop-2-2")).trim(), "", "the broken release is gone");
});

test("o. zero failures: a crash-looping change on 2.0 is rolled back by swarm; `up` fails, fails again without a fix, converges with it", { timeout: 600_000 }, async (t) => {
    if (!need(t)) return;
    await backToDev("o: the dev config first");
    const specBefore = await runningSpec("shop-2-0");
    try {
        // 60 s, not the floor: the gate must see swarm's rollback, which comes only after the new task started and
        // crashed, and CI once saw the new task held Preparing past 30 s on its loaded machine. (Not the registry try
        // each task start makes: in a node here that lookup fails in milliseconds, and a service by image ID, which
        // skips it, started no faster.)
        const crash = shortGates(withRelease(devApps(), "shop", "2.0", (r) => (r.env = { RELEASE: "2.0", EXIT_AT_START: "3" })), 60);
        const l = steadyLoad(["sklep.localhost", "nowy.sklep.localhost"], 240);
        await sleep(1000);
        const first = await up({ apps: crash }, "o: 2.0 crash-looping");
        const again = await up({ apps: crash }, "o: again, no fix");
        await sleep(1000);
        const answers = await l.stop();
        figure("crash_rollback_first_up_seconds", first.seconds);
        figure("crash_rollback_again_up_seconds", again.seconds);
        for (const [label, r] of [["first", first], ["again", again]] as const) {
            assert.equal(r.ok, false, `${label}: up must fail`);
            const msg = r.errors.join("\n");
            assert.match(msg, /release shop 2\.0 \(service shop-2-0\): swarm rolled the update back/, `${label}: ${msg}`);
        }
        assert.match(first.errors.join("\n"), /non-zero exit \(3\)/, "the first failure names the task error");
        assert.ok(!again.changes.some((c) => /shop-2-0-service/.test(c.urn)), `the second up has no new spec to apply: ${JSON.stringify(again.changes)}`);
        assert.equal(await runningSpec("shop-2-0"), specBefore, "swarm runs the previous spec");
        assertZeroFailures("crash_rollback", answers);
    } finally {
        // the fix: the previous spec again, which `up` applies and waits for
        await backToDev("o: fixed");
    }
    assert.equal(await runningSpec("shop-2-0"), specBefore);
    assert.ok(await answersFrom("sklep.localhost", "2.0"));
});

// ---- p1. weighted routes -------------------------------------------------------------------------------------
const WEIGHTED_HOST = "weighted.sklep.localhost";
const SPLIT_REQUESTS = 5000;

/** dev plus a weighted hostname of shop (2.0 and 1.9 by `weights`) and 1.9 pinnable: no new image, only routes change. */
function weightedApps(weights: Record<string, number>): LabApp[] {
    const apps = withRelease(devApps(), "shop", "1.9", (r) => (r.pinnable = true));
    const shop = apps.find((a) => a.name === "shop");
    assert.ok(shop);
    shop.routes = [{ hostname: WEIGHTED_HOST, releases: weights }];
    return apps;
}

interface SplitCount {
    total: number;
    failed: number;
    /** Why requests failed, by kind ("502", "ECONNRESET", "timeout"), and when, in seconds from the start of the load. */
    failures: Record<string, number>;
    failedAt: number[];
    /**
     * Requests sent again once: their kept-alive connection was closed by the gateway as they were sent on it (the
     * race every HTTP/1.1 client meets; RFC 9112 9.3.1: an idempotent request is retried, as browsers and curl do).
     */
    keepAliveRetries: number;
    byRelease: Record<string, number>;
    setCookies: string[];
}

/**
 * `count` GETs through the VIP for `host` over `concurrency` keep-alive connections (bounded: 60 s), counted by the
 * release the demo app names in its answer. `sticky`: one client, one request at a time, sending back its cookies.
 */
async function splitCount(host: string, count: number, opts: { concurrency?: number; headers?: Record<string, string>; sticky?: boolean } = {}): Promise<SplitCount> {
    const concurrency = opts.sticky ? 1 : (opts.concurrency ?? 16);
    const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
    const out: SplitCount = { total: 0, failed: 0, failures: {}, failedAt: [], keepAliveRetries: 0, byRelease: {}, setCookies: [] };
    const jar = new Map<string, string>();
    const started = Date.now();
    const deadline = started + 60_000;
    const fail = (kind: string) => {
        out.failed++;
        out.failures[kind] = (out.failures[kind] ?? 0) + 1;
        out.failedAt.push(Number(((Date.now() - started) / 1000).toFixed(2)));
    };
    const once = (retry = false): Promise<void> =>
        new Promise<void>((resolve) => {
            const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join("; ");
            const headers = { Host: host, ...opts.headers, ...(cookie ? { Cookie: cookie } : {}) };
            let answered = false;
            const req = http.get({ host: VIP, port: 80, path: "/", agent, headers, timeout: 5000 }, (res) => {
                answered = true;
                let body = "";
                res.on("data", (c: Buffer) => (body += c.toString()));
                res.on("end", () => {
                    out.total++;
                    const release = /release=(\S+)/.exec(body)?.[1] ?? "(none)";
                    if (res.statusCode !== 200) fail(String(res.statusCode));
                    else out.byRelease[release] = (out.byRelease[release] ?? 0) + 1;
                    for (const c of res.headers["set-cookie"] ?? []) {
                        if (!out.setCookies.includes(c)) out.setCookies.push(c);
                        const [pair] = c.split(";");
                        const eq = pair.indexOf("=");
                        if (opts.sticky && eq > 0) jar.set(pair.slice(0, eq), pair.slice(eq + 1));
                    }
                    resolve();
                });
            });
            req.on("timeout", () => req.destroy(new Error("timeout")));
            req.on("error", (e: NodeJS.ErrnoException) => {
                // Only a reused connection closed before any answer, only once: a fresh connection's error, a
                // timeout or any answer other than 200 stays a failure.
                if (!retry && !answered && req.reusedSocket && (e.code === "ECONNRESET" || e.code === "EPIPE")) {
                    out.keepAliveRetries++;
                    resolve(once(true));
                    return;
                }
                out.total++;
                fail(e.code ?? e.message);
                resolve();
            });
        });
    let sent = 0;
    await Promise.all(
        Array.from({ length: concurrency }, async () => {
            while (sent < count && Date.now() < deadline) {
                sent++;
                await once();
            }
        }),
    );
    agent.destroy();
    return out;
}

test("p1. weighted routes: a 90/10 split through the VIP within ±2 pp over 5,000 requests, sticky cookie, a pin, and a weight change under load with 0 failed requests", { timeout: 600_000 }, async (t) => {
    if (!need(t)) return;
    const gwTasks = await taskIds("gateway");
    try {
        const r = await up({ apps: weightedApps({ "2.0": 90, "1.9": 10 }) }, "weighted 90/10");
        assert.equal(r.ok, true, r.errors.join("\n"));
        assert.ok(r.changes.every((c) => /gateway-routes-gw-\d$/.test(c.urn)), `only the routes may change: ${JSON.stringify(r.changes.map((c) => c.urn))}`);
        assert.ok(await answersFrom(WEIGHTED_HOST, "2.0", 30), `${WEIGHTED_HOST} does not answer`);

        const t0 = now();
        const split = await splitCount(WEIGHTED_HOST, SPLIT_REQUESTS, { concurrency: 16 });
        const canary = (100 * (split.byRelease["1.9"] ?? 0)) / split.total;
        figure("weighted_split_requests", split.total);
        figure("weighted_split_seconds", now() - t0);
        figure("weighted_split_2_0", split.byRelease["2.0"] ?? 0);
        figure("weighted_split_1_9", split.byRelease["1.9"] ?? 0);
        figure("weighted_split_percent_1_9", canary.toFixed(2));
        figure("weighted_split_failed", split.failed);
        figure("weighted_split_keepalive_retries", split.keepAliveRetries);
        assert.equal(split.total, SPLIT_REQUESTS, "the split load ran out of time");
        assert.equal(split.failed, 0, `failed requests in the split: ${split.failed} (${JSON.stringify(split.failures)}, at ${split.failedAt.join(", ")} s of ${(now() - t0).toFixed(1)} s)`);
        assert.ok(Math.abs(canary - 10) <= 2, `${canary.toFixed(2)}% reached 1.9, planned 10% (±2 pp): ${JSON.stringify(split.byRelease)}`);

        const sticky = await splitCount(WEIGHTED_HOST, 100, { sticky: true });
        figure("weighted_sticky_releases", Object.keys(sticky.byRelease).length);
        assert.equal(sticky.failed, 0, JSON.stringify(sticky.failures));
        assert.equal(Object.keys(sticky.byRelease).length, 1, `one client with its cookie reached ${JSON.stringify(sticky.byRelease)}`);
        assert.equal(sticky.setCookies.length, 1, `the cookie is set once: ${sticky.setCookies.join(" | ")}`);
        assert.match(sticky.setCookies[0], /^gw-release-shop=(1\.9|2\.0); Path=\/; Max-Age=86400; HttpOnly; SameSite=Lax$/);

        const pinned = await splitCount(WEIGHTED_HOST, 50, { headers: { "X-Release": "1.9" } });
        const pinnedPlain = await splitCount("nowy.sklep.localhost", 50, { headers: { "X-Release": "1.9" } });
        const notPinnable = await splitCount("stary.sklep.localhost", 50, { headers: { "X-Release": "2.0" } });
        figure("weighted_pinned_1_9", (pinned.byRelease["1.9"] ?? 0) + (pinnedPlain.byRelease["1.9"] ?? 0));
        assert.deepEqual(
            { pinned: pinned.byRelease, pinnedPlain: pinnedPlain.byRelease, notPinnable: notPinnable.byRelease },
            { pinned: { "1.9": 50 }, pinnedPlain: { "1.9": 50 }, notPinnable: { "1.9": 50 } },
            "a pin reaches its pinnable release on a weighted and a plain hostname; a pin to 2.0 (not pinnable) is ignored",
        );

        // Weight changes under the steady load (the weighted hostname too): each a routes reload in place, no task replaced.
        const steady = steadyLoad([...ROUTED, WEIGHTED_HOST]);
        let answers: Answer[] = [];
        try {
            await sleep(1000);
            for (const weights of [{ "2.0": 50, "1.9": 50 }, { "2.0": 100, "1.9": 0 }]) {
                const change = await up({ apps: weightedApps(weights) }, `weights ${JSON.stringify(weights)}`);
                assert.equal(change.ok, true, change.errors.join("\n"));
                assert.ok(change.changes.every((c) => /gateway-routes-gw-\d$/.test(c.urn)), `only the routes may change: ${JSON.stringify(change.changes.map((c) => c.urn))}`);
            }
            await sleep(3000);
        } finally {
            answers = await steady.stop();
        }
        assertZeroFailures("weight_change", answers);
        const after = await splitCount(WEIGHTED_HOST, 200, { headers: { Cookie: "gw-release-shop=1.9" } });
        figure("weighted_after_rollback_1_9", after.byRelease["1.9"] ?? 0);
        assert.deepEqual(after.byRelease, { "2.0": 200 }, "at weight 0, 1.9's sticky users are moved back to 2.0");
        assert.deepEqual(await taskIds("gateway"), gwTasks, "gateway tasks changed");
    } finally {
        await backToDev("p1");
    }
});

// ---- p3–p4. the automated canary: `npm run promote -- dev --canary …` as a process, its `up` the lab engine's --------
// Each deploys a third shop release 2.1 first (unrouted, 2 replicas), then runs the CLI on a temporary git repository
// holding a copy of the project's stack files (dev with the same 2.1), under a bounded load on sklep.localhost, and
// ends on the dev config. SWARM_PLATFORM_ENGINE=lab makes the CLI's `up` the lab engine on the file it wrote.
const CANARY_HOST = "sklep.localhost";

/** dev's apps with shop 2.1 deployed and serving no hostname (env over RELEASE). */
function appsWith21(env: Record<string, string>): LabApp[] {
    const apps = devApps();
    apps[0].releases.push({ name: "2.1", replicas: 2, env: { RELEASE: "2.1", ...env } });
    return apps;
}

/** A git repository with the project's stack files, dev holding the same shop 2.1 as appsWith21(env). */
function canaryRepo(env: Record<string, string>): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lab-canary-"));
    for (const f of ["Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.prod.yaml"]) fs.copyFileSync(path.join(PROJECT_DIR, f), path.join(dir, f));
    const dev = fs.readFileSync(path.join(dir, "Pulumi.dev.yaml"), "utf8");
    const envText = Object.entries({ RELEASE: "2.1", ...env }).map(([k, v]) => `${k}: "${v}"`).join(", ");
    const with21 = dev.replace(`env: { RELEASE: "2.0" } }\n`, `env: { RELEASE: "2.0" } }\n        - { name: "2.1", replicas: 2, env: { ${envText} } }\n`);
    assert.notEqual(with21, dev, "the dev stack file's 2.0 entry is where the lab expects it");
    fs.writeFileSync(path.join(dir, "Pulumi.dev.yaml"), with21);
    for (const args of [["init", "-q", "-b", "main"], ["config", "user.email", "lab@example.invalid"], ["config", "user.name", "lab"], ["add", "."], ["commit", "-q", "-m", "dev with shop 2.1"]]) {
        const r = spawnSync("git", ["-C", dir, ...args], { encoding: "utf8" });
        assert.equal(r.status, 0, `git ${args.join(" ")}: ${r.stderr}`);
    }
    return dir;
}

const gitSubjects = (dir: string) => spawnSync("git", ["-C", dir, "log", "--format=%s"], { encoding: "utf8" }).stdout.trim().split("\n");

/** The CLI as a process (bounded), with its output kept in .lab/canary-<label>.log. */
async function promoteCanary(label: string, dir: string, steps: string): Promise<Sh> {
    const log = path.join(LAB_DIR, `canary-${label}.log`);
    const r = await sh(
        `cd ${PROJECT_DIR} && SWARM_PLATFORM_ENGINE=lab npm run --silent promote -- dev --canary shop:2.1 --hostname ${CANARY_HOST} ` +
            `--steps ${steps} --interval 10s --max-error-rate 1% --max-p99 500ms --dir ${dir}`,
        600_000,
    );
    fs.writeFileSync(log, `${r.stdout}\n---- stderr\n${r.stderr}\n`);
    console.log(`# canary ${label} (exit ${r.code}):\n${r.stdout}\n${r.stderr.split("\n").filter((l) => !/^\d\d:\d\d:\d\d\.\d+ /.test(l)).join("\n")}`);
    return r;
}

/** The release header of `n` answers for the hostname (fresh connections, no cookie). */
async function servedBy(host: string, n: number): Promise<string[]> {
    const one = () =>
        new Promise<string>((resolve) => {
            const req = http.request({ host: VIP, port: 80, path: "/", headers: { Host: host }, agent: false, timeout: 2000 }, (res) => {
                res.resume();
                res.on("end", () => resolve(`${res.statusCode} ${String(res.headers["x-served-by-release"] ?? "-")}`));
            });
            req.on("timeout", () => req.destroy(new Error("timeout")));
            req.on("error", (e) => resolve(`0 ${(e as NodeJS.ErrnoException).code ?? e.message}`));
            req.end();
        });
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push(await one());
    return out;
}

/** The canary's load: ≥ 100 requests/s on the hostname (enough for ≥ 50 canary answers at 10% in 10 s), bounded. */
const canaryLoad = () => load([CANARY_HOST], { workers: 12, pauseMs: 20, timeoutMs: 2000, maxRequests: 100_000, maxSeconds: 400 });

test("p3. canary rollback: a release answering 500 to 30% of requests stops at the first step, the weights return to 100/0, and the stable release's requests have 0 failures throughout", { timeout: 900_000 }, async (t) => {
    if (!need(t)) return;
    await backToDev("p3");
    const env = { FAIL_RATE: "0.3" };
    const dir = canaryRepo(env);
    const started = fs.readFileSync(path.join(dir, "Pulumi.dev.yaml"), "utf8");
    try {
        const deployed = await up({ apps: appsWith21(env) }, "p3: shop 2.1 failing 30%, unrouted");
        assert.equal(deployed.ok, true, deployed.errors.join("\n"));
        assert.ok(await converged(120, { "shop-2-1": 2 }), `2.1 did not converge: ${JSON.stringify(await serviceReplicas())}`);
        const l = canaryLoad();
        await sleep(1000);
        const t0 = now();
        const r = await promoteCanary("p3", dir, "10,50,100");
        figure("canary_rollback_seconds", now() - t0);
        await sleep(3000);
        const answers = await l.stop();
        keep("canary-rollback", answers);

        assert.equal(r.code, 1, "the canary fails");
        assert.match(r.stderr, /canary shop 2\.1 on sklep\.localhost rolled back to 2\.0: step 1 \(10%\): error rate (\d+(\.\d+)?)% > 1% \(\d[\d,]* of \d[\d,]* requests[,)]/);
        const rate = Number(/error rate (\d+(?:\.\d+)?)% > 1%/.exec(r.stderr)?.[1]);
        figure("canary_rollback_step1_error_rate_percent", rate);
        assert.doesNotMatch(r.stdout, /step 2\/3/, "no step after the first");
        assert.equal(fs.readFileSync(path.join(dir, "Pulumi.dev.yaml"), "utf8"), started, "the stack file is back to its start");
        assert.deepEqual(gitSubjects(dir), ["canary shop 2.1 on sklep.localhost: rolled back to 2.0 (step 1 (10%))", "canary shop 2.1 on sklep.localhost: 10%", "dev with shop 2.1"]);

        const after = await servedBy(CANARY_HOST, 200);
        const notStable = after.filter((a) => a !== "200 shop/2.0");
        assert.equal(notStable.length, 0, `after the rollback only 2.0 serves ${CANARY_HOST}: ${[...new Set(notStable)].join(", ")}`);

        // Every failed answer is the canary's own 500 (its body names 2.1): the stable release lost nothing.
        const canaryAnswers = answers.filter((a) => a.release === "2.1");
        const stableFailed = answers.filter((a) => failed(a) && a.release !== "2.1");
        figure("canary_rollback_requests", answers.length);
        figure("canary_rollback_canary_answers", canaryAnswers.length);
        figure("canary_rollback_canary_failed", canaryAnswers.filter(failed).length);
        figure("canary_rollback_stable_failed", stableFailed.length);
        assert.ok(canaryAnswers.length > 0, "the canary got traffic");
        assert.equal(stableFailed.length, 0, `stable (or unattributed) failures: ${summary(stableFailed)}`);
    } finally {
        await backToDev("p3: restored");
        fs.rmSync(dir, { recursive: true, force: true });
    }
    assert.ok(await answersFrom(CANARY_HOST, "2.0"));
});

test("p4. a clean canary: every step passes and the hostname ends on the new release", { timeout: 900_000 }, async (t) => {
    if (!need(t)) return;
    await backToDev("p4");
    const dir = canaryRepo({});
    try {
        const deployed = await up({ apps: appsWith21({}) }, "p4: shop 2.1 healthy, unrouted");
        assert.equal(deployed.ok, true, deployed.errors.join("\n"));
        assert.ok(await converged(120, { "shop-2-1": 2 }), `2.1 did not converge: ${JSON.stringify(await serviceReplicas())}`);
        const l = canaryLoad();
        await sleep(1000);
        const t0 = now();
        const r = await promoteCanary("p4", dir, "10,50,100");
        figure("canary_clean_seconds", now() - t0);
        await sleep(2000);
        const answers = await l.stop();
        keep("canary-clean", answers);

        assert.equal(r.code, 0, `the canary must pass: ${r.stderr.slice(-3000)}`);
        for (const [i, p] of [[1, 10], [2, 50], [3, 100]]) assert.match(r.stdout, new RegExp(`^step ${i}/3 \\(${p}%\\): 2\\.1 error rate .*: ok$`, "m"));
        assert.match(r.stdout, /every step passed; 2\.1 serves sklep\.localhost/);
        const file = fs.readFileSync(path.join(dir, "Pulumi.dev.yaml"), "utf8");
        assert.match(file, /\{ name: "2\.1", replicas: 2, env: \{ RELEASE: "2\.1" \}, hostnames: \[sklep\.localhost\] \}/);
        assert.doesNotMatch(file, /routes:/);
        assert.deepEqual(gitSubjects(dir), [
            "canary shop 2.1 on sklep.localhost: 100%",
            "canary shop 2.1 on sklep.localhost: 50%",
            "canary shop 2.1 on sklep.localhost: 10%",
            "dev with shop 2.1",
        ]);
        const after = await servedBy(CANARY_HOST, 200);
        const notCanary = after.filter((a) => a !== "200 shop/2.1");
        assert.equal(notCanary.length, 0, `at the end only 2.1 serves ${CANARY_HOST}: ${[...new Set(notCanary)].join(", ")}`);
        figure("canary_clean_requests", answers.length);
        figure("canary_clean_canary_answers", answers.filter((a) => a.release === "2.1").length);
        const bad = answers.filter(failed);
        figure("canary_clean_failed", bad.length);
        assert.equal(bad.length, 0, `failed requests during the canary: ${summary(bad)}`);
    } finally {
        await backToDev("p4: restored");
        fs.rmSync(dir, { recursive: true, force: true });
    }
    assert.ok(await answersFrom(CANARY_HOST, "2.0"));
});

// ---- v–y. node lifecycle: add, remove, replace, restart — each under steady load through the VIP ----------------
type LabNode = { name: string; [key: string]: unknown };
const SHOP_HOSTS = ["nowy.sklep.localhost", "stary.sklep.localhost", "sklep.localhost"];
const WORKER_2: LabNode = { name: "worker-2", role: "worker", zone: "dmz", address: "172.28.40.15" };
/** The stack file's nodes, as the lab runs them. */
const devNodes = (): LabNode[] => structuredClone(labConfig()["swarm-platform:nodes"] as LabNode[]);
const withWorker2 = () => [...devNodes(), WORKER_2];

/** Runs `change` under the steady load; the load runs on for 2 s after it, and stops also when it throws. */
async function underLoad<T>(change: () => Promise<T>): Promise<{ run: T; answers: Answer[] }> {
    const l = steadyLoad(SHOP_HOSTS, 900);
    await sleep(1000);
    try {
        const run = await change();
        await sleep(2000);
        return { run, answers: await l.stop() };
    } finally {
        await l.stop();
    }
}

/** The engine log lines of the last run (the lab appends every run to .lab/engine.log after a marker). */
function lastRunLog(): string[] {
    const text = fs.readFileSync(`${LAB_DIR}/engine.log`, "utf8");
    return text.slice(text.lastIndexOf("\n===== run ")).split("\n");
}
const logIndex = (lines: string[], pattern: RegExp) => lines.findIndex((l) => pattern.test(l));

/** name → "state availability role zone-label" of every swarm node. */
async function swarmNodes(): Promise<Record<string, string>> {
    const ids = (await onManager("node ls -q")).split("\n").filter(Boolean);
    const out = await onManager(`node inspect --format '{{.Description.Hostname}} {{.Status.State}} {{.Spec.Availability}} {{.Spec.Role}} {{index .Spec.Labels "zone"}}' ${ids.join(" ")}`);
    const nodes: Record<string, string> = {};
    for (const line of out.split("\n").filter(Boolean)) {
        const [name, ...rest] = line.split(" ");
        assert.ok(!(name in nodes), `two swarm nodes named ${name}: ${out}`);
        nodes[name] = rest.join(" ");
    }
    return nodes;
}

/**
 * v leaves worker-2 running a shop-2-0 task: w's starting point (w removes it, which is v's way back). While this
 * holds (w failed or did not run), y and x, the scenarios after w, go back to the dev config first.
 */
let worker2Left = false;
async function dropWorker2IfLeft(label: string): Promise<void> {
    if (!worker2Left) return;
    await backToDev(`${label}: without v's worker-2`);
    worker2Left = false;
}

test("v. zero failures: adding a node (worker-2, zone dmz) in one up: it joins with its labels and its zone's images, and receives its zone's tasks", { timeout: 900_000 }, async (t) => {
    if (!need(t)) return;
    let done = false;
    try {
        const { run, answers } = await underLoad(() => up({ extra: { nodes: withWorker2() } }, "add worker-2"));
        assert.equal(run.ok, true, run.errors.join("\n"));
        figure("add_node_up_seconds", run.seconds);
        assertZeroFailures("add_node", answers);
        assert.equal((await swarmNodes())["worker-2"], "ready active worker dmz");
        const images = (await onNode("worker-2", "docker images --format '{{.Repository}}:{{.Tag}}' swarm-lab/demo-app")).stdout.split("\n").sort();
        assert.deepEqual(images, ["swarm-lab/demo-app:1.9", "swarm-lab/demo-app:2.0"], "the dmz releases' images, not intra's");
        assert.equal((await onNode("worker-2", "iptables -S INPUT | sed -n 2p")).stdout, "-A INPUT -j SWARM-PLATFORM-INPUT", "its firewall");
        // The swarm does not move running tasks onto a new node; the next task of its zone goes there (spread).
        const apps = withRelease(devApps(), "shop", "2.0", (r) => (r.replicas = 3));
        const scaled = await up({ apps, extra: { nodes: withWorker2() } }, "2.0 x3 with worker-2");
        assert.equal(scaled.ok, true, scaled.errors.join("\n"));
        assert.ok(await converged(90, { "shop-2-0": 3 }), JSON.stringify(await serviceReplicas()));
        const where = (await onManager("service ps shop-2-0 --filter desired-state=running --format '{{.Node}}'")).split("\n");
        figure("add_node_shop_2_0_tasks_on", where.sort().join(","));
        assert.ok(where.includes("worker-2"), `no shop-2-0 task on worker-2: ${where.join(", ")}`);
        done = true;
    } finally {
        // On success the platform stays so for w; a failed v goes back here.
        if (done) worker2Left = true;
        else await backToDev("v");
    }
});

test("w. zero failures: removing a node that runs release tasks in one up: drained first (its tasks healthy elsewhere), then removed from the swarm, its container gone", { timeout: 900_000 }, async (t) => {
    if (!need(t)) return;
    const apps = withRelease(devApps(), "shop", "2.0", (r) => (r.replicas = 3));
    try {
        // After v this changes nothing (v's end state); run alone, it adds worker-2.
        const setup = await up({ apps, extra: { nodes: withWorker2() } }, "w: worker-2 with a shop-2-0 task");
        assert.equal(setup.ok, true, setup.errors.join("\n"));
        assert.ok(await converged(120, { "shop-2-0": 3 }), JSON.stringify(await serviceReplicas()));
        const tasks = (await onManager("node ps worker-2 --filter desired-state=running --format '{{.Name}}'")).split("\n").filter(Boolean);
        figure("remove_node_tasks_before", tasks.join(","));
        assert.ok(tasks.some((n) => n.startsWith("shop-")), `worker-2 runs no release task: ${tasks.join(", ")}`);

        const { run, answers } = await underLoad(() => up({ apps }, "remove worker-2"));
        assert.equal(run.ok, true, run.errors.join("\n"));
        figure("remove_node_up_seconds", run.seconds);
        assertZeroFailures("remove_node", answers);
        // the order: departed node drained before any firewall changed; its drain step's delete (node rm) before its
        // join's (swarm leave), before its container went
        const log = lastRunLog();
        const at = (p: RegExp) => {
            const i = logIndex(log, p);
            assert.ok(i >= 0, `not in the engine log: ${p}`);
            return i;
        };
        assert.ok(at(/update command:local:Command platform-departures/) < at(/update command:local:Command platform-firewall-gw-1/), "drained before the firewalls narrowed");
        assert.ok(at(/- delete command:local:Command platform-swarm-drain-worker-2/) < at(/- delete command:local:Command platform-swarm-join-worker-2/));
        assert.ok(at(/- delete command:local:Command platform-swarm-join-worker-2/) < at(/- delete docker:index\/container:Container platform-nodes-worker-2/));
        assert.equal((await swarmNodes())["worker-2"], undefined, "worker-2 is no swarm member");
        assert.equal((await sh(`docker ps -aq --filter name=${containerOf("worker-2")}; docker volume ls -q --filter name=${PREFIX}-worker-2`)).stdout, "", "container and volume gone");
        assert.ok(await converged(60, { "shop-2-0": 3 }), JSON.stringify(await serviceReplicas()));
    } finally {
        await backToDev("w");
        worker2Left = false;
    }
});

test("y. restarts: docker restart of the VIP holder with zero failures, and docker kill + start of a node running release tasks: each comes back by itself", { timeout: 900_000 }, async (t) => {
    if (!need(t)) return;
    await dropWorker2IfLeft("y");
    const back = async (node: string, since: number, label: string) => {
        const ready = await until(120, async () => (await swarmNodes())[node] === "ready active worker dmz", 1000);
        const keepalived = await until(60, async () => (await onNode(node, "pgrep -x keepalived >/dev/null && echo running")).stdout === "running", 1000);
        const gateway = await until(120, async () => / Running/.test(await onManager(`service ps gateway --filter node=${node} --filter desired-state=running --format '{{.Node}} {{.CurrentState}}'`)), 1000);
        const all = await converged(120);
        figure(`${label}_back_seconds`, now() - since);
        assert.ok(ready, `${node} did not come back Ready with its role and labels: ${JSON.stringify(await swarmNodes())}`);
        assert.ok(keepalived, `keepalived does not run on ${node}`);
        assert.ok(gateway, `the gateway task does not run on ${node}`);
        assert.ok(all, `services: ${JSON.stringify(await serviceReplicas())}`);
        assert.equal((await onNode(node, "iptables -S INPUT | sed -n 2p")).stdout, "-A INPUT -j SWARM-PLATFORM-INPUT", `${node}: firewall`);
        const labels = JSON.parse(await onManager(`node inspect ${node} --format '{{json .Spec.Labels}}'`)) as Record<string, string>;
        assert.equal(labels.gateway, "true");
    };
    // 1. the VIP holder: its stop hands the VIP over first (keepalived SIGTERM), then the engine stops
    const h1 = await holder();
    assert.ok(h1, "no VIP holder");
    const h1Tasks = (await onManager(`node ps ${h1} --filter desired-state=running --format '{{.Name}}'`)).split("\n").filter((n) => n.startsWith("shop-"));
    figure("restart_vip_holder_release_tasks", h1Tasks.length);
    let t0 = now();
    const failures: unknown[] = [];
    const restarted = await underLoad(async () => {
        t0 = now();
        const restart = must(`docker restart ${containerOf(h1)}`, 120_000);
        const moved = await until(15, async () => ((await vipHolders(GATEWAYS)).join() === GATEWAYS.filter((g) => g !== h1).join() ? true : undefined), 100);
        figure("restart_vip_holder_vip_moved_seconds", moved ? now() - t0 : -1);
        await restart;
        figure("restart_vip_holder_docker_restart_seconds", now() - t0);
        await back(h1, t0, "restart_vip_holder");
    });
    // Zero failures (docs/operations.md, "Restarting a node container"): keepalived stops first (the VIP moves), then
    // the node's tasks stop while its engine and overlay still run (gateways elsewhere retry on closed or refused
    // connections), and only then the engine. Before the tasks' stop, 0–7 of ~1,800 timed out here.
    try {
        figure("restart_vip_holder_lost", restarted.answers.filter(failed).length);
        assertZeroFailures("restart_vip_holder", restarted.answers);
    } catch (e) {
        failures.push(e);
    }
    assert.deepEqual(await vipHolders(GATEWAYS), GATEWAYS.filter((g) => g !== h1), "the VIP moved and stayed (nopreempt)");

    // 2. docker kill + start of a gateway node running release tasks (the one just restarted, if the swarm gave it
    // release tasks again; else the other, which then also holds the VIP)
    const h2 = GATEWAYS.find((g) => g !== h1) as string;
    const victim = (await onManager(`node ps ${h1} --filter desired-state=running --format '{{.Name}}'`)).includes("shop-") ? h1 : h2;
    const tasks = (await onManager(`node ps ${victim} --filter desired-state=running --format '{{.Name}}'`)).split("\n").filter((n) => n.startsWith("shop-"));
    const netnsBefore = (await onNode(victim, "ls /run/docker/netns 2>/dev/null")).stdout.split("\n").filter(Boolean);
    figure("kill_node", victim);
    figure("kill_node_release_tasks", tasks.length);
    const killed = await underLoad(async () => {
        t0 = now();
        await must(`docker kill ${containerOf(victim)}`);
        // The kill leaves keepalived's VRRP child pid file behind; make it name a process sure to live in the next run
        // (PID 1): keepalived must start anyway (it refuses when that file names a live process; seen in CI).
        await must(`f=$(mktemp) && echo 1 >"$f" && docker cp "$f" ${containerOf(victim)}:/run/vrrp.pid; rc=$?; rm -f "$f"; exit $rc`);
        await sleep(1000);
        await must(`docker start ${containerOf(victim)}`);
        await back(victim, t0, "kill_node");
    });
    const bad = killed.answers.filter(failed);
    figure("kill_node_requests", killed.answers.length);
    figure("kill_node_failed", bad.length);
    figure("kill_node_outage_seconds", outage(killed.answers, t0));
    keep("kill_node", killed.answers);
    if (bad.length) console.log(`# kill + start of ${victim}: ${summary(bad)}`);
    // No netns entry of the killed run survived into the new one (the entrypoint clears /run's previous-run state):
    // every entry left without its mount is younger than the new start. The new dockerd itself recreates plain files
    // for the old run's sandboxes while it cleans them up (from its store on the data volume): counted, not stale.
    const started = Date.parse(await must(`docker inspect --format '{{.State.StartedAt}}' ${containerOf(victim)}`)) / 1000;
    const unmounted = await onNode(victim, 'cd /run/docker/netns 2>/dev/null || exit 0; for f in *; do [ -e "$f" ] || continue; grep -q " /run/docker/netns/$f " /proc/mounts || echo "$f $(stat -c %Y "$f")"; done');
    assert.equal(unmounted.code, 0, unmounted.stderr);
    const entries = unmounted.stdout.split("\n").filter(Boolean).map((l) => ({ name: l.split(" ")[0], mtime: Number(l.split(" ")[1]) }));
    figure("kill_node_netns_unmounted_recreated", entries.filter((e) => netnsBefore.includes(e.name)).length);
    const stale = entries.filter((e) => e.mtime < Math.floor(started));
    assert.deepEqual(stale.map((e) => e.name), [], `netns entries older than the new start (${new Date(started * 1000).toISOString()}) left on ${victim}`);

    // 3. dockerd's leaked port allocation (docs/operations.md, "Restarting a node container"): the lab image's watcher
    // restarts dockerd after 3 "port is already allocated" failures for a port no running container publishes. The
    // race that leaks it cannot be called up on demand: its log lines are written into the watcher's pipe instead,
    // on worker-1 (a worker: nothing routed depends on its restart), and the node comes back by itself.
    const w = "worker-1";
    const pidOf = async () => (await onNode(w, "cat /run/dockerd.supervised.pid")).stdout.trim();
    const pidBefore = await pidOf();
    const leak = 'time=\\"x\\" level=error msg=\\"fatal task error\\" error=\\"starting container failed: Bind for 0.0.0.0:1199 failed: port is already allocated\\"';
    for (let i = 0; i < 3; i++) assert.equal((await onNode(w, `test -p /run/dockerd.log.fifo && echo "${leak}" >/run/dockerd.log.fifo`)).code, 0, `${w}: no engine log watcher pipe`);
    const engineRestarted = await until(60, async () => {
        const pid = await pidOf();
        return /^\d+$/.test(pid) && pid !== pidBefore && (await onNode(w, "docker info --format '{{.Swarm.LocalNodeState}}'")).stdout.trim() === "active" ? true : undefined;
    }, 1000);
    assert.ok(engineRestarted, `${w}: dockerd was not restarted by the watcher (pid ${pidBefore} → ${await pidOf()})`);
    assert.ok(await until(90, async () => ((await swarmNodes())[w]?.startsWith("ready active") ? true : undefined), 1000), `${w} did not come back Ready: ${JSON.stringify(await swarmNodes())}`);
    assert.ok(await converged(120), `not converged after ${w}'s engine restart: ${JSON.stringify(await serviceReplicas())}`);
    if (failures.length) throw failures[0];
});

// Last before k: it leaves the nodes on another image tag.
test("x. every node rebuilt in one up with zero failures: a new node image rolled out one node at a time, each drained first, gw-2 also to a new generation (a new container, volume and swarm node)", { timeout: 1_800_000 }, async (t) => {
    if (!need(t)) return;
    const drivers = (image: string) => {
        const d = structuredClone(labConfig()["swarm-platform:drivers"]) as { docker: { image: string } };
        d.docker.image = image;
        return d;
    };
    await dropWorker2IfLeft("x");
    const swarmIds = async () => Object.fromEntries(await Promise.all(NODES.map(async (n) => [n, await onManager(`node inspect ${n} --format '{{.ID}}'`)] as const)));
    try {
        // One up for both kinds of rebuild (each alone was a scenario of its own, minutes apart): the image change
        // keeps a node's volumes, the generation change gives gw-2 new ones (and a new swarm node).
        const idsBefore = await swarmIds();
        await must("docker tag swarm-lab/node:latest swarm-lab/node:lab-x");
        const nodes = devNodes().map((n) => (n.name === "gw-2" ? { ...n, generation: 2 } : n));
        const rollout = await underLoad(() => up({ extra: { drivers: drivers("swarm-lab/node:lab-x"), nodes } }, "node image lab-x, gw-2 generation 2"));
        assert.equal(rollout.run.ok, true, rollout.run.errors.join("\n"));
        figure("image_rollout_up_seconds", rollout.run.seconds);
        // Zero failures: a rebuilt gateway node keeps its routes (their volume; gw-2's new generation gets them
        // written before its gateway task starts), so its gateway serves again before the next gateway node goes (its
        // settle step waits for that task).
        figure("image_rollout_outage_seconds", outage(rollout.answers, Math.min(...rollout.answers.map((a) => a.t))));
        assertZeroFailures("image_rollout", rollout.answers);
        const log = lastRunLog();
        const order = ["manager-1", "gw-1", "gw-2", "worker-1"];
        for (const n of order) assert.equal(await must(`docker inspect --format '{{.Config.Image}}' ${containerOf(n)}`), "swarm-lab/node:lab-x", `${n} runs the new image`);
        for (let i = 1; i < order.length; i++) {
            const settled = logIndex(log, new RegExp(`\\+ create command:local:Command platform-settle-${order[i - 1]}\\b`));
            const next = logIndex(log, new RegExp(`- delete docker:index/container:Container platform-nodes-${order[i]} \\((depends on [^)]*, )?replaced delete-first\\)`));
            assert.ok(settled >= 0 && next > settled, `${order[i]} was taken down (log line ${next}) only after ${order[i - 1]} was back (line ${settled})`);
        }
        // The manager keeps its swarm identity (its data volume); the workers rejoin as new swarm nodes under their
        // names, gw-2 on its new volume.
        const idsAfter = await swarmIds();
        assert.equal(idsAfter["manager-1"], idsBefore["manager-1"], "manager-1 keeps its swarm identity");
        assert.notEqual(idsAfter["gw-2"], idsBefore["gw-2"], "gw-2 is a new swarm node (the old one removed: swarmNodes checks one per name)");
        assert.deepEqual(Object.keys(await swarmNodes()).sort(), [...NODES].sort(), "every node back, once");
        assert.equal((await swarmNodes())["gw-2"], "ready active worker dmz");
        assert.ok((await sh(`docker volume inspect ${PREFIX}-gw-2-docker-g2`)).code === 0, "gw-2's new data volume");
        assert.ok((await sh(`docker volume inspect ${PREFIX}-gw-2-gateway-routes-g2`)).code === 0, "gw-2's new routes volume");
        for (const old of [`${PREFIX}-gw-2-docker`, `${PREFIX}-gw-2-gateway-routes`]) assert.notEqual((await sh(`docker volume inspect ${old}`)).code, 0, `gw-2's first-generation volume ${old} is gone`);
        assert.equal((await sh(`docker volume inspect ${PREFIX}-gw-1-docker`)).code, 0, "gw-1 keeps its data volume (a new image only)");
        assert.equal((await onNode("gw-2", "pgrep -x keepalived >/dev/null && echo running")).stdout, "running", "keepalived on the rebuilt gateway node");
        // gw-2's new generation has no routes until its routes step, which comes after its settle step (node-settle
        // does not wait for an unrouted gateway): its gateway task exits 78 and swarm starts it again 2 s later, so
        // `up` can end while that task is still starting (seen once in CI: "gw-2 Starting less than a second ago").
        const gatewayTasks = () => onManager("service ps gateway --filter desired-state=running --format '{{.Node}} {{.CurrentState}}'");
        const gw2Running = await until(20, async () => (/gw-2 Running/.test(await gatewayTasks()) ? true : undefined), 500);
        assert.ok(gw2Running, `the gateway on gw-2 is not running 20 s after the rollout: ${await gatewayTasks()}`);
        const spread = await onManager("service ps shop-2-0 --filter desired-state=running --format '{{.Node}}'");
        figure("image_rollout_shop_2_0_tasks_on", spread.split("\n").sort().join(","));
        assert.equal(new Set(spread.split("\n")).size, 2, `after the rollout shop-2-0 runs on both dmz nodes (rebalanced): ${spread}`);
    } finally {
        // The last scenario before k: no way back to the dev image (that would be a second full rollout); k destroys
        // this platform. The tag goes now (the containers keep the image by its id).
        await sh("docker rmi swarm-lab/node:lab-x");
    }
});

// ---- k. destroy -----------------------------------------------------------------------------------------
test("k. destroy leaves no lab container, network or volume; built gateway images stay by design and are swept", { timeout: 600_000 }, async (t) => {
    if (process.env.LAB_KEEP === "1") return t.skip("LAB_KEEP=1");
    const built = (await sh(`docker images --format '{{.Repository}}:{{.Tag}}' swarm-platform/gateway`)).stdout;
    const t0 = now();
    const r = await engine("destroy", {}, 500_000);
    figure("destroy_seconds", r.seconds);
    figure("destroy_engine_seconds", r.seconds);
    figure("destroy_wall_seconds", now() - t0);
    // deletedWith (docs/provider-rules.md rule 10): every node's leave and keepalived stop, and the drains run on the
    // bootstrap manager, go with the node data volumes; none of them runs a delete script in a destroy.
    const skipped = lastRunLog().filter((l) => /deleted command:local:Command \S+ \(no provider delete: deleted with \S+-data\)/.test(l));
    figure("destroy_deletes_skipped_deleted_with", skipped.length);
    for (const step of ["swarm-init", "swarm-join-gw-1", "virtualIp-keepalived-gw-1", "swarm-drain-gw-1"]) {
        assert.ok(skipped.some((l) => l.includes(`platform-${step} `)), `${step}'s delete script ran in the destroy (deletedWith its node's data volume)`);
    }
    const left = await sh(`docker ps -aq --filter name=swarm-platform-dev; docker volume ls -q --filter name=swarm-platform-dev; docker network ls -q --filter name=swarm-platform-dev`);
    assert.equal(left.stdout, "", `left behind: ${left.stdout}`);
    // pulumi-docker's Image does nothing on delete: the tags it built are still there (docs/provider-rules.md)
    assert.equal((await sh(`docker images --format '{{.Repository}}:{{.Tag}}' swarm-platform/gateway`)).stdout, built, "destroy removed a built image (the provider never does)");
    // the built gateway tags and the release tags are the lab's own: sweep them (as cleanup.sh does), then nothing is left
    await sh(`docker images --format '{{.Repository}}:{{.Tag}}' swarm-platform/gateway | xargs -r docker rmi`);
    await sh(`docker images --format '{{.Repository}}:{{.Tag}}' swarm-lab/demo-app | grep -v ':latest$' | xargs -r docker rmi`);
    assert.equal((await sh(`docker images -q swarm-platform/gateway`)).stdout, "");
    assert.equal((await sh(`docker images --format '{{.Tag}}' swarm-lab/demo-app`)).stdout, "latest");
    assert.equal(r.ok, true, `destroy reported errors (resources were still removed):\n${r.errors.join("\n")}`);
    const state = JSON.parse(fs.readFileSync(STATE, "utf8")) as { resources: object };
    assert.deepEqual(Object.keys(state.resources), []);
    platformUp = false;
});
