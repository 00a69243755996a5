// npm run status, without a machine: what the docker CLI and the gateway-node probe print (recorded in the lab) is
// parsed, judged against the dev stack's plan, and rendered as a table and as JSON. Each kind of trouble is one
// change to a healthy observation: it must be marked on its row, named in the problems, and make the exit non-zero.
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, test } from "node:test";
import { type Plan, planStack } from "../../model";
import {
    evaluateStatus,
    formatStatusTable,
    type ObservedGatewayNode,
    type ObservedNode,
    type ObservedPlatform,
    type ObservedProbe,
    type ObservedService,
    type ObservedTask,
    parseGatewayNodeProbe,
    parseNodeInspect,
    parseServiceLs,
    parseServicePs,
    probeAddresses,
    probedNodes,
    probeHostname,
    type StatusReport,
    statusExitCode,
} from "../../model/status";
import { main as statusMain } from "../../scripts/status";
import { BASE, json, mutate, planOf, stackConfig, unset } from "./fixtures";
import { parseConfig } from "../../model";

const RECORDED = path.join(__dirname, "fixtures", "status");
const recorded = (name: string) => fs.readFileSync(path.join(RECORDED, name), "utf8");

const DEV: Plan = planStack(parseConfig(stackConfig("dev")));
const VIP = "172.28.40.100";
const MANAGER = "tcp://127.0.0.1:23750";

/** The probe output of a healthy gateway node; `holds` puts the VIP on its interface as MASTER. */
function probeText(holds: boolean, address: string): string {
    return [
        "keepalived running",
        `vrrp vip1 ${holds ? "MASTER" : "BACKUP"}`,
        "address 127.0.0.1/8 lo",
        `address ${address}/24 eth0`,
        ...(holds ? [`address ${VIP}/24 eth0`] : []),
        "address 10.209.0.3/24 docker_gwbridge",
        "container gateway.abc123.xyz running healthy",
        "draining no",
        "health 200",
    ].join("\n");
}

const probe = (hostname: string, servedBy: string): ObservedProbe => ({ hostname, sent: hostname, via: VIP, scheme: "http", status: 200, servedBy, ms: 4 });

/** The dev stack as the lab sees it right after `up`: everything as planned, gw-1 holding the VIP. */
function healthy(): ObservedPlatform {
    return {
        manager: MANAGER,
        nodes: parseNodeInspect(recorded("node-inspect.json")),
        services: [
            { name: "gateway", image: "swarm-platform/gateway:0123abcd", running: 2, desired: 2 },
            { name: "shop-1-9", image: "swarm-platform/demo-app:1.9", running: 2, desired: 2 },
            { name: "shop-2-0", image: "swarm-platform/demo-app:2.0", running: 2, desired: 2 },
            { name: "stock-1-0", image: "swarm-platform/demo-app:1.0@sha256:0f3e2a", running: 1, desired: 1 },
        ],
        gatewayTasks: [
            { node: "gw-1", state: "running" },
            { node: "gw-2", state: "running" },
        ],
        gatewayNodes: [parseGatewayNodeProbe("gw-1", probeText(true, "172.28.40.12")), parseGatewayNodeProbe("gw-2", probeText(false, "172.28.40.13"))],
        probes: [probe("nowy.sklep.localhost", "shop/2.0"), probe("sklep.localhost", "shop/2.0"), probe("stary.sklep.localhost", "shop/1.9")],
    };
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] extends readonly (infer U)[] ? U[] : T[K] };
/** A healthy observation with one change. */
function observed(change: (o: Mutable<ObservedPlatform>) => void): ObservedPlatform {
    const o = structuredClone(healthy()) as Mutable<ObservedPlatform>;
    change(o);
    return o;
}
const swarmNodes = (o: Mutable<ObservedPlatform>) => o.nodes as unknown as Mutable<ObservedNode>[];
const services = (o: Mutable<ObservedPlatform>) => o.services as unknown as Mutable<ObservedService>[];
const swarmNode = (o: Mutable<ObservedPlatform>, name: string) => swarmNodes(o).find((n) => n.hostname === name) as Mutable<ObservedNode>;
const service = (o: Mutable<ObservedPlatform>, name: string) => services(o).find((s) => s.name === name) as Mutable<ObservedService>;
const gatewayNode = (o: Mutable<ObservedPlatform>, node: string) => o.gatewayNodes.find((g) => g.node === node) as Mutable<ObservedGatewayNode>;

/** The table's lines marked unhealthy. */
const markedLines = (table: string) => table.split("\n").filter((l) => l.startsWith("✗"));

describe("status: parsing what the docker CLI and the probe script print (recorded in the lab)", () => {
    test("docker node inspect: names, roles, availability, state, labels and the leader", () => {
        const nodes = parseNodeInspect(recorded("node-inspect.json"));
        assert.deepEqual(
            nodes.map((n) => `${n.hostname} ${n.address} ${n.role} ${n.availability} ${n.state} ${n.manager ?? "-"}`),
            ["gw-1 172.28.40.12 worker active ready -", "gw-2 172.28.40.13 worker active ready -", "manager-1 172.28.40.11 manager active ready leader", "worker-1 172.28.40.14 worker active ready -"],
        );
        assert.deepEqual(nodes.find((n) => n.hostname === "gw-1")?.labels, { gateway: "true", "swarm-platform.managed-labels": "gateway,zone", zone: "dmz" });
    });

    test("docker service ls: running/desired and the image, digest kept for the judge to strip", () => {
        const services = parseServiceLs(recorded("service-ls.jsonl"));
        assert.ok(services.length >= 4, JSON.stringify(services));
        for (const s of services) assert.ok(s.desired > 0 && Number.isInteger(s.running), JSON.stringify(s));
        assert.deepEqual(services.find((s) => s.name === "shop-1-9"), { name: "shop-1-9", image: "swarm-lab/demo-app:1.9", running: 2, desired: 2 });
        assert.deepEqual(parseServiceLs('{"Name":"x","Image":"a:1","Replicas":"1/3 (max 1 per node)"}\n'), [{ name: "x", image: "a:1", running: 1, desired: 3 }]);
    });

    test("docker service ps of the gateway: one running task per gateway node", () => {
        const tasks = parseServicePs(recorded("service-ps-gateway.jsonl"));
        assert.deepEqual(tasks.map((t) => `${t.node} ${t.state}`).sort(), ["gw-1 running", "gw-2 running"]);
        assert.deepEqual(parseServicePs('{"Node":"gw-1","CurrentState":"Rejected 3 seconds ago","Error":"No such image"}'), [
            { node: "gw-1", state: "rejected", error: "No such image" },
        ]);
    });

    test("the gateway-node probe: keepalived, VRRP state per instance, addresses, container health, draining, health URL", () => {
        const holder = parseGatewayNodeProbe("gw-1", recorded("probe-holder.txt"));
        assert.equal(holder.keepalived, "running");
        assert.deepEqual(holder.vrrp, { vip1: "MASTER" });
        assert.ok(holder.addresses.includes(VIP), holder.addresses.join());
        assert.deepEqual(holder.containers.map((c) => `${c.status} ${c.health}`), ["running healthy"]);
        assert.equal(holder.draining, false);
        assert.equal(holder.health, 200);
        const backup = parseGatewayNodeProbe("gw-2", recorded("probe-backup.txt"));
        assert.deepEqual(backup.vrrp, { vip1: "BACKUP" });
        assert.ok(!backup.addresses.includes(VIP));
        assert.deepEqual(parseGatewayNodeProbe("gw-1", "keepalived stopped\nhealth 000\n"), {
            node: "gw-1",
            keepalived: "stopped",
            vrrp: {},
            addresses: [],
            containers: [],
            health: 0,
        });
    });
});

describe("status: a healthy platform", () => {
    const report = evaluateStatus(DEV, "dev", healthy());
    const table = formatStatusTable(report);

    test("is healthy, exits 0, and nothing in the table is marked", () => {
        assert.deepEqual(report.problems, []);
        assert.equal(report.healthy, true);
        assert.equal(statusExitCode(report), 0);
        assert.deepEqual(markedLines(table), []);
        assert.match(table, /\nhealthy\n$/);
    });

    test("one section per topic, each row aligned under its column headers", () => {
        const sections = table.split("\n\n");
        assert.deepEqual(sections.map((s) => s.split("\n")[0]), ["stack dev, manager tcp://127.0.0.1:23750", "Nodes", "Virtual IP", "Gateway", "Releases", "Hostnames", "healthy"]);
        for (const section of sections.slice(1, -1)) {
            const [, header, ...rows] = section.split("\n");
            const columns = [...header.matchAll(/[A-Z][A-Z ]*?(?=\s{2,}|$)/g)].map((m) => m.index);
            for (const row of rows) {
                for (const at of columns.slice(1)) assert.match(row.slice(at - 2, at), /^ {2}$/, `column at ${at} in\n${header}\n${row}`);
            }
        }
        assert.match(table, /^ {2}gw-1 +worker +active +ready +- +gateway=true,zone=dmz$/m);
        assert.match(table, /^ {2}vip1 +172\.28\.40\.100 +gw-1 +gw-1 MASTER\+vip, gw-2 BACKUP$/m);
        assert.match(table, /^ {2}shop +2\.0 +shop-2-0 +2\/2 +swarm-platform\/demo-app:2\.0$/m);
        assert.match(table, /^ {2}stary\.sklep\.localhost +172\.28\.40\.100 +200 +shop\/1\.9 +4$/m);
    });

    test("the report says who holds the VIP, every keepalived state, gateway health, tasks and the serving release", () => {
        assert.deepEqual(report.virtualIp.map((v) => [v.group, v.holders, v.members.map((m) => `${m.node} ${m.keepalived} ${m.state} ${m.hasAddress}`)]), [
            ["vip1", ["gw-1"], ["gw-1 running MASTER true", "gw-2 running BACKUP false"]],
        ]);
        assert.deepEqual(report.gateway.map((g) => `${g.node} ${g.task} ${g.container} ${g.health} ${g.draining}`), ["gw-1 running healthy 200 false", "gw-2 running healthy 200 false"]);
        assert.deepEqual(report.releases.map((r) => `${r.app} ${r.release} ${r.running}/${r.desired} planned ${r.planned} ${r.image}`), [
            "shop 1.9 2/2 planned 2 swarm-platform/demo-app:1.9",
            "shop 2.0 2/2 planned 2 swarm-platform/demo-app:2.0",
            "stock 1.0 1/1 planned 1 swarm-platform/demo-app:1.0",
        ]);
        assert.deepEqual(report.hostnames.map((h) => `${h.hostname} ${h.status} ${h.servedBy} ${h.expected}`), [
            "nowy.sklep.localhost 200 shop/2.0 shop/2.0",
            "sklep.localhost 200 shop/2.0 shop/2.0",
            "stary.sklep.localhost 200 shop/1.9 shop/1.9",
        ]);
    });

    test("the same observation gives the same report and table", () => {
        assert.deepEqual(evaluateStatus(DEV, "dev", healthy()), report);
        assert.equal(formatStatusTable(evaluateStatus(DEV, "dev", healthy())), table);
    });
});

/** Each kind of trouble: the change, the rows marked (their first cell), and a problem naming it. */
const UNHEALTHY: readonly { name: string; change: (o: Mutable<ObservedPlatform>) => void; marked: string[]; problem: RegExp }[] = [
    {
        name: "a node down",
        change: (o) => (swarmNode(o, "worker-1").state = "down"),
        marked: ["worker-1"],
        problem: /^node worker-1: is down$/,
    },
    {
        name: "a node missing from the swarm",
        change: (o) => (o.nodes = swarmNodes(o).filter((n) => n.hostname !== "worker-1")),
        marked: ["worker-1"],
        problem: /^node worker-1: not in the swarm$/,
    },
    {
        name: "a node with a label the plan does not want",
        change: (o) => (swarmNode(o, "gw-2").labels = { zone: "intra" }),
        marked: ["gw-2"],
        problem: /^node gw-2: label zone=intra, planned dmz$/,
    },
    {
        name: "a swarm node the plan does not know",
        change: (o) => void swarmNodes(o).push({ hostname: "old-1", address: "172.28.40.99", role: "worker", availability: "active", state: "down", labels: {} }),
        marked: ["old-1"],
        problem: /^node old-1: not in the plan$/,
    },
    {
        name: "a release with fewer running tasks than desired",
        change: (o) => (service(o, "shop-2-0").running = 1),
        marked: ["shop"],
        problem: /^release shop 2\.0: 1 of 2 tasks running$/,
    },
    {
        name: "a release whose service is gone",
        change: (o) => (o.services = services(o).filter((s) => s.name !== "shop-1-9")),
        marked: ["shop"],
        problem: /^release shop 1\.9: service missing$/,
    },
    {
        name: "a release running another image than planned",
        change: (o) => (service(o, "shop-1-9").image = "swarm-platform/demo-app:1.8"),
        marked: ["shop"],
        problem: /^release shop 1\.9: runs swarm-platform\/demo-app:1\.8, planned swarm-platform\/demo-app:1\.9$/,
    },
    {
        name: "no VIP holder",
        change: (o) => {
            const gw1 = gatewayNode(o, "gw-1");
            gw1.addresses = gw1.addresses.filter((a) => a !== VIP);
            gw1.vrrp = { vip1: "BACKUP" };
        },
        marked: ["vip1"],
        problem: /^virtual IP vip1 172\.28\.40\.100: no node holds the address$/,
    },
    {
        name: "two VIP holders (split brain)",
        change: (o) => {
            const gw2 = gatewayNode(o, "gw-2");
            gw2.addresses = [...gw2.addresses, VIP];
            gw2.vrrp = { vip1: "MASTER" };
        },
        marked: ["vip1"],
        problem: /^virtual IP vip1 172\.28\.40\.100: 2 nodes hold the address \(gw-1, gw-2\)$/,
    },
    {
        name: "keepalived in FAULT on a backup",
        change: (o) => (gatewayNode(o, "gw-2").vrrp = { vip1: "FAULT" }),
        marked: ["vip1"],
        problem: /^virtual IP vip1 172\.28\.40\.100: gw-2 is FAULT \(its gateway check fails\)$/,
    },
    {
        name: "keepalived stopped on a backup",
        change: (o) => (gatewayNode(o, "gw-2").keepalived = "stopped"),
        marked: ["vip1"],
        problem: /^virtual IP vip1 172\.28\.40\.100: keepalived stopped on gw-2$/,
    },
    {
        name: "a gateway node that cannot be probed",
        change: (o) => (o.gatewayNodes[1] = { node: "gw-2", error: "Error response from daemon: container is not running", vrrp: {}, addresses: [], containers: [] }),
        marked: ["vip1", "gw-2"],
        problem: /^probe on gw-2: Error response from daemon: container is not running$/,
    },
    {
        name: "a gateway task missing on a gateway node",
        change: (o) => (o.gatewayTasks = (o.gatewayTasks as readonly ObservedTask[]).filter((t) => t.node !== "gw-2")),
        marked: ["gw-2"],
        problem: /^gateway on gw-2: no gateway task$/,
    },
    {
        name: "a gateway container unhealthy",
        change: (o) => (gatewayNode(o, "gw-1").containers = [{ name: "gateway.abc", status: "running", health: "unhealthy" }]),
        marked: ["gw-1"],
        problem: /^gateway on gw-1: container unhealthy$/,
    },
    {
        name: "a gateway draining, its health URL failing",
        change: (o) => Object.assign(gatewayNode(o, "gw-1"), { draining: true, health: 503 }),
        marked: ["gw-1"],
        problem: /^gateway on gw-1: health URL answers 503$/,
    },
    {
        name: "a hostname answering a gateway error",
        change: (o) => (o.probes[2] = { ...o.probes[2], status: 502 }),
        marked: ["stary.sklep.localhost"],
        problem: /^hostname stary\.sklep\.localhost via 172\.28\.40\.100: answers 502$/,
    },
    {
        name: "a hostname served by the wrong release",
        change: (o) => (o.probes[1] = { ...o.probes[1], servedBy: "shop/1.9" }),
        marked: ["sklep.localhost"],
        problem: /^hostname sklep\.localhost via 172\.28\.40\.100: served by shop\/1\.9, planned shop\/2\.0$/,
    },
    {
        name: "a hostname with no answer within the bound",
        change: (o) => (o.probes[0] = { hostname: "nowy.sklep.localhost", sent: "nowy.sklep.localhost", via: VIP, scheme: "http", status: 0, error: "timeout 2000 ms", ms: 2000 }),
        marked: ["nowy.sklep.localhost"],
        problem: /^hostname nowy\.sklep\.localhost via 172\.28\.40\.100: no answer \(timeout 2000 ms\)$/,
    },
    {
        name: "a hostname answering without the release header",
        change: (o) => (o.probes[0] = { hostname: "nowy.sklep.localhost", sent: "nowy.sklep.localhost", via: VIP, scheme: "http", status: 200, ms: 3 }),
        marked: ["nowy.sklep.localhost"],
        problem: /^hostname nowy\.sklep\.localhost via 172\.28\.40\.100: no release header in the answer$/,
    },
];

describe("status: each kind of trouble is marked on its row and makes the exit non-zero", () => {
    for (const c of UNHEALTHY) {
        test(c.name, () => {
            const report = evaluateStatus(DEV, "dev", observed(c.change));
            assert.equal(report.healthy, false);
            assert.equal(statusExitCode(report), 1);
            assert.ok(report.problems.some((p) => c.problem.test(p)), `no problem matching ${c.problem} in:\n${report.problems.join("\n")}`);
            const table = formatStatusTable(report);
            assert.deepEqual(markedLines(table).map((l) => l.split(/\s+/)[1]), c.marked, table);
            assert.match(table, /\nUNHEALTHY \(\d+ problems?\):\n/);
            for (const p of report.problems) assert.ok(table.includes(`  - ${p}\n`), `the table lists "${p}"`);
        });
    }

    test("an unreachable manager is one error; every row it feeds says it was not read", () => {
        const error = { error: "Cannot connect to the Docker daemon at tcp://127.0.0.1:23750. Is the docker daemon running?" };
        const report = evaluateStatus(DEV, "dev", observed((o) => Object.assign(o, { nodes: error, services: error, gatewayTasks: error })));
        assert.deepEqual(report.errors, [`nodes, services, gateway tasks from ${MANAGER}: ${error.error}`]);
        assert.equal(report.problems.filter((p) => p.includes("Cannot connect")).length, 1, "the error is named once");
        assert.ok(report.nodes.every((n) => !n.ok && n.problems.join() === "not read (see errors)"));
        assert.ok(report.releases.every((r) => !r.ok && r.problems.join() === "not read (see errors)"));
        assert.ok(report.hostnames.every((h) => h.ok), "what could be read is still judged");
        assert.equal(statusExitCode(report), 1);
    });
});

describe("status: the --json shape (docs/status.md)", () => {
    const report: StatusReport = json(evaluateStatus(DEV, "dev", observed((o) => (o.probes[2] = { ...o.probes[2], status: 502 }))));

    test("top-level keys and each section's row keys", () => {
        assert.deepEqual(Object.keys(report), ["format", "stack", "manager", "healthy", "errors", "problems", "nodes", "virtualIp", "gateway", "releases", "hostnames"]);
        assert.equal(report.format, 1);
        const keys = (row: object) => Object.keys(row).sort();
        assert.deepEqual(keys(report.nodes.find((n) => n.name === "manager-1") as object), ["availability", "labels", "manager", "name", "ok", "planned", "problems", "role", "state"].sort());
        assert.deepEqual(keys(report.nodes[0]), ["availability", "labels", "name", "ok", "planned", "problems", "role", "state"].sort(), "manager only on managers");
        assert.deepEqual(keys(report.virtualIp[0]), ["address", "group", "holders", "members", "ok", "problems"]);
        assert.deepEqual(keys(report.virtualIp[0].members[0]), ["hasAddress", "keepalived", "node", "ok", "state"]);
        assert.deepEqual(keys(report.gateway[0]), ["container", "draining", "health", "node", "ok", "problems", "task"]);
        assert.deepEqual(keys(report.releases[0]), ["app", "desired", "image", "ok", "planned", "plannedImage", "problems", "release", "running", "service"]);
        assert.deepEqual(keys(report.hostnames[0]), ["expected", "hostname", "ms", "ok", "problems", "scheme", "servedBy", "status", "via"]);
    });

    test("the unhealthy row carries ok: false and its problem; the verdict is at the top", () => {
        assert.equal(report.healthy, false);
        assert.deepEqual(report.problems, ["hostname stary.sklep.localhost via 172.28.40.100: answers 502"]);
        assert.deepEqual(
            report.hostnames.map((h) => [h.hostname, h.ok, h.problems]),
            [
                ["nowy.sklep.localhost", true, []],
                ["sklep.localhost", true, []],
                ["stary.sklep.localhost", false, ["answers 502"]],
            ],
        );
    });
});

describe("status: what is probed, from the plan", () => {
    test("every VIP; without a VIP every gateway node's address", () => {
        assert.deepEqual(probeAddresses(DEV), [VIP]);
        const noVip = planOf(mutate(BASE, (d) => unset(d, "virtualIp")));
        assert.deepEqual(probeAddresses(noVip), ["172.28.40.21", "172.28.40.22"]);
        assert.deepEqual(probedNodes(DEV), ["gw-1", "gw-2"]);
    });

    test("a wildcard hostname is probed with a name below it; TLS hostnames over https", () => {
        assert.equal(probeHostname("*.sklep.pl"), "status-probe.sklep.pl");
        assert.equal(probeHostname("sklep.pl"), "sklep.pl");
        const prod = planStack(parseConfig(stackConfig("prod")));
        const report = evaluateStatus(prod, "prod", { manager: "ssh://deploy@10.0.10.11:22", nodes: [], services: [], gatewayTasks: [], gatewayNodes: [], probes: [] });
        assert.ok(report.hostnames.length > 0 && report.hostnames.every((h) => h.scheme === "https" && h.problems.join() === "not probed"), JSON.stringify(report.hostnames));
    });
});

describe("status: the command line", () => {
    const quiet = async (argv: string[]) => {
        const error = console.error;
        const lines: string[] = [];
        console.error = (...args: unknown[]) => void lines.push(args.join(" "));
        try {
            return { code: await statusMain(argv), stderr: lines.join("\n") };
        } finally {
            console.error = error;
        }
    };

    test("a bad option or two stacks is a usage error (exit 2), before anything is probed", async () => {
        const bad = await quiet(["--bogus"]);
        assert.equal(bad.code, 2);
        assert.match(bad.stderr, /usage: npm run status -- \[<stack>\]/);
        assert.equal((await quiet(["dev", "prod"])).code, 2);
    });

    test("an invalid or missing stack file is exit 2 with every error, before anything is probed", async (t) => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "status-"));
        t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
        const file = path.join(dir, "Pulumi.bad.yaml");
        fs.writeFileSync(file, "config:\n  swarm-platform:nodes: []\n");
        const r = await quiet(["bad", "--stack-file", file]);
        assert.equal(r.code, 2);
        assert.match(r.stderr, /Pulumi\.bad\.yaml is invalid/);
        assert.match(r.stderr, /nodes/);
        const missing = await quiet(["nope", "--stack-file", path.join(dir, "none.yaml")]);
        assert.equal(missing.code, 2);
        assert.match(missing.stderr, /does not exist/);
    });
});

describe("status: weighted hostnames and the release header", () => {
    /** dev with sklep.localhost split 90/10 between 2.0 and 1.9. */
    const weightedPlan = (releaseHeader: boolean) =>
        planOf(
            mutate(stackConfig("dev"), (d) => {
                d.apps[0].releases[1].hostnames = ["nowy.sklep.localhost"];
                d.apps[0].routes = [{ hostname: "sklep.localhost", releases: { "2.0": 90, "1.9": 10 }, sticky: true }];
                d.gateway.releaseHeader = releaseHeader;
            }),
        );
    const sklep = (report: ReturnType<typeof evaluateStatus>) => report.hostnames.find((h) => h.hostname === "sklep.localhost");

    test("a weighted hostname may answer from any release with a weight above 0; another release is a problem", () => {
        const plan = weightedPlan(true);
        for (const servedBy of ["shop/2.0", "shop/1.9"]) {
            const row = sklep(evaluateStatus(plan, "dev", observed((o) => (o.probes[1] = probe("sklep.localhost", servedBy)))));
            assert.deepEqual({ ok: row?.ok, expected: row?.expected }, { ok: true, expected: "shop/1.9, shop/2.0" }, servedBy);
        }
        const wrong = sklep(evaluateStatus(plan, "dev", observed((o) => (o.probes[1] = probe("sklep.localhost", "stock/1.0")))));
        assert.deepEqual(wrong?.problems, ["served by stock/1.0, planned shop/1.9, shop/2.0"]);
    });

    test("with gateway.releaseHeader false an answer without the header is healthy; without an answer it is not", () => {
        const plan = weightedPlan(false);
        const quiet = evaluateStatus(plan, "dev", observed((o) => (o.probes = o.probes.map((p) => ({ ...p, servedBy: undefined })))));
        assert.equal(quiet.healthy, true, quiet.problems.join("; "));
        const down = evaluateStatus(plan, "dev", observed((o) => (o.probes[1] = { ...o.probes[1], servedBy: undefined, status: 0 })));
        assert.deepEqual(sklep(down)?.problems, ["no answer"]);
        // With the header on, the same quiet answers are problems.
        assert.equal(evaluateStatus(weightedPlan(true), "dev", observed((o) => (o.probes = o.probes.map((p) => ({ ...p, servedBy: undefined }))))).healthy, false);
    });
});
