// The gateway's metrics (docs/metrics.md): the exporter's parsing and exposition on log lines of both engines, then
// both engines for real (gateway-harness: a private namespace, Docker's DNS stubbed, echoing backends) under the
// image's entrypoint, where the scraped families must equal the client's own counts, also across engine reloads
// in the middle of a load, after the exporter is killed, and with metrics off nothing listens.
import * as assert from "node:assert/strict";
import { ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { type Plan } from "../../model";
import { TEMPLATES_DIR } from "../../model/templates";
import { canRunLab, curl, eventually, type Lab, labPossible, startEntrypoint, startLab, stop, stopAll, stopLab } from "./gateway-harness";
import {
    assertRunOk, haproxyCheck, lowPortPrefix, needTools, NGINX_BINDS, nginxTest, planOf, rawConfig, removeDir, run, tempDir, writeFile, writeGateway,
} from "./helpers";
import { parseExposition, type Sample, total } from "./prometheus-text";

type Engine = "nginx" | "haproxy";
const ENGINES: readonly Engine[] = ["nginx", "haproxy"];
const EXPORTER = path.join(TEMPLATES_DIR, "metrics", "gateway-metrics.pl");
const LOAD_CLIENT = path.join(__dirname, "fixtures", "metrics-load-client.ts");

// ---- the exporter on log lines -----------------------------------------------------------------------------

const ROUTES_LINES = [
    "# gateway-metrics backend svc.shop-1-9 shop 1.9",
    "# gateway-metrics backend svc.shop-2-0 shop 2.0",
    "# gateway-metrics hostname sklep.localhost",
    "# gateway-metrics hostname *.sklep.localhost",
    "# gateway-metrics hostname *.a.sklep.localhost",
    "",
].join("\n");

/** The exporter's `--parse` mode: counts the lines, prints the exposition (start time 0). */
function exporterOn(engine: Engine, lines: readonly string[]): Sample[] {
    const dir = tempDir("metrics-parse");
    try {
        const routes = writeFile(path.join(dir, "routes"), ROUTES_LINES);
        const log = writeFile(path.join(dir, "log"), `${lines.join("\n")}\n`);
        const r = run("perl", [EXPORTER, "--engine", engine, "--routes", routes, "--parse", log]);
        assert.equal(r.status, 0, r.stderr);
        return parseExposition(r.stdout);
    } finally {
        removeDir(dir);
    }
}

const series = (hostname: string, app: string, release: string) => ({ hostname, app, release });

describe("the exporter counts every log line by route hostname, app and release", () => {
    test("nginx lines: status classes, a backend's own 5xx, connection errors and timeouts (last attempt), default and unknown hosts", () => {
        const s = exporterOn("nginx", [
            'sklep.localhost "svc.shop-2-0" 200 0.003 "200" "0.002"',
            'sklep.localhost "svc.shop-2-0" 500 0.012 "500" "0.011"',
            'sklep.localhost "svc.shop-2-0" 502 0.001 "502, 502, 502" "-, -, -"',
            'sklep.localhost "svc.shop-2-0" 504 1.001 "504" "-"',
            'sklep.localhost "svc.shop-2-0" 200 0.004 "502, 200" "-, 0.002"',
            '*.sklep.localhost "svc.shop-1-9" 404 0.025 "404" "0.020"',
            '_ "svc.shop-1-9" 200 0.100 "200" "0.1"',
            '_ "-" 444 0.000 "-" "-"',
            'sklep.localhost "-" 308 0.000 "-" "-"',
            'sklep.localhost "svc.gone" 200 0.001 "200" "0.001"',
            "not a log line",
        ]);
        const shop20 = series("sklep.localhost", "shop", "2.0");
        assert.equal(total(s, "gateway_requests_total", { ...shop20, code: "2xx" }), 2);
        assert.equal(total(s, "gateway_requests_total", { ...shop20, code: "5xx" }), 3);
        assert.equal(total(s, "gateway_upstream_errors_total", { ...shop20, kind: "error" }), 1);
        assert.equal(total(s, "gateway_upstream_errors_total", { ...shop20, kind: "timeout" }), 1);
        assert.equal(total(s, "gateway_requests_total", { ...series("*.sklep.localhost", "shop", "1.9"), code: "4xx" }), 1);
        assert.equal(total(s, "gateway_requests_total", { ...series("_default", "shop", "1.9"), code: "2xx" }), 1);
        assert.equal(total(s, "gateway_requests_total", { ...series("_unknown", "_none", "_none"), code: "4xx" }), 1);
        assert.equal(total(s, "gateway_requests_total", { ...series("sklep.localhost", "_none", "_none"), code: "3xx" }), 1);
        assert.equal(total(s, "gateway_requests_total", { ...series("sklep.localhost", "_unknown", "svc.gone"), code: "2xx" }), 1);
        // Histogram: 0.003, 0.012, 0.001, 1.001, 0.004 for shop 2.0.
        const bucket = (le: string) => total(s, "gateway_request_duration_seconds_bucket", { ...shop20, le });
        assert.deepEqual([bucket("0.005"), bucket("0.01"), bucket("0.025"), bucket("1"), bucket("2.5"), bucket("+Inf")], [3, 3, 4, 4, 5, 5]);
        assert.equal(total(s, "gateway_request_duration_seconds_sum", shop20), 1.021);
        assert.equal(total(s, "gateway_metrics_lines_dropped_total"), 1, "the unreadable line is counted as dropped");
        assert.equal(total(s, "gateway_metrics_start_time_seconds"), 0);
    });

    test("HAProxy lines (httplog + Host): the route found like the engine finds it, termination states S and s, NOSRV, no answer", () => {
        const line = (backend: string, ta: number, status: number, tsc: string, host: string) =>
            `127.0.0.1:40000 [30/Nov/2026:01:00:00.000] http ${backend}/${backend.replace("svc.", "")}1 0/0/0/1/${ta} ${status} 120 - - ${tsc} 1/1/0/0/0 0/0 "GET / HTTP/1.1" ${host}`;
        const s = exporterOn("haproxy", [
            line("svc.shop-2-0", 3, 200, "----", "sklep.localhost"),
            line("svc.shop-2-0", 12, 500, "----", "sklep.localhost"),
            line("svc.shop-2-0", 1, 503, "SC--", "sklep.localhost"),
            line("svc.shop-2-0", 1001, 504, "sH--", "sklep.localhost"),
            line("svc.shop-1-9", 2, 200, "----", "x.sklep.localhost"),
            line("svc.shop-1-9", 2, 200, "----", "y.a.sklep.localhost"),
            line("svc.shop-1-9", 2, 200, "----", "other.localhost"),
            line("reject", 0, -1, "PR--", "other.localhost"),
            line("https-redirect", 0, 308, "----", "sklep.localhost"),
            line("http", 0, 413, "PR--", "sklep.localhost"),
            line("svc.shop-2-0", 5, -1, "CD--", "sklep.localhost"),
            "Proxy http started.",
            "Server svc.shop-2-0/shop-2-01 is DOWN, reason: Layer4 connection problem.",
        ]);
        const shop20 = series("sklep.localhost", "shop", "2.0");
        assert.equal(total(s, "gateway_requests_total", { ...shop20, code: "2xx" }), 1);
        assert.equal(total(s, "gateway_requests_total", { ...shop20, code: "5xx" }), 3);
        assert.equal(total(s, "gateway_requests_total", { ...shop20, code: "4xx" }), 1, "a client gone before the answer (-1) is 4xx, like nginx's 499");
        assert.equal(total(s, "gateway_upstream_errors_total", { ...shop20, kind: "error" }), 1);
        assert.equal(total(s, "gateway_upstream_errors_total", { ...shop20, kind: "timeout" }), 1);
        assert.equal(total(s, "gateway_requests_total", series("*.sklep.localhost", "shop", "1.9")), 1);
        assert.equal(total(s, "gateway_requests_total", series("*.a.sklep.localhost", "shop", "1.9")), 1, "the longest wildcard wins");
        assert.equal(total(s, "gateway_requests_total", series("_default", "shop", "1.9")), 1);
        assert.equal(total(s, "gateway_requests_total", { ...series("_unknown", "_none", "_none"), code: "4xx" }), 1);
        assert.equal(total(s, "gateway_requests_total", { ...series("sklep.localhost", "_none", "_none"), code: "3xx" }), 1);
        assert.equal(total(s, "gateway_requests_total", { ...series("sklep.localhost", "_none", "_none"), code: "4xx" }), 1);
        assert.equal(total(s, "gateway_request_duration_seconds_sum", shop20), 1.022);
        assert.equal(total(s, "gateway_metrics_lines_dropped_total"), 0);
    });

    test("the exposition escapes label values and the strict reader refuses broken text", () => {
        const s = exporterOn("nginx", ['sklep.localhost "svc.we\\ird" 200 0.001 "200" "0.001"']);
        assert.equal(total(s, "gateway_requests_total", { release: "svc.we\\ird" }), 1, "a backslash is escaped, and read back");
        assert.throws(() => parseExposition("gateway_requests_total 1\n"), /no TYPE/);
        assert.throws(() => parseExposition('# TYPE x counter\nx{a="1"} 1\nx{a="1"} 2\n'), /series twice/);
        assert.throws(() => parseExposition('# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n'), /below/);
        assert.throws(() => parseExposition("# TYPE x counter\nx 1"), /line break/);
    });
});

// ---- the rendered configs, metrics on and off ----------------------------------------------------------------

describe("nginx -t and haproxy -c -dW accept the rendered configs with metrics on and off", () => {
    for (const enabled of [true, false]) {
        test(`nginx, metrics ${enabled ? "on" : "off"}`, (t) => {
            const prefix = needTools(t, "nginx", "openssl") ? lowPortPrefix(t, NGINX_BINDS) : undefined;
            if (!prefix) return;
            const dir = tempDir("metrics-nginx");
            try {
                const { main } = writeGateway(metricsPlan("nginx", enabled), dir);
                assert.equal(fs.readFileSync(main, "utf8").includes("access_log "), true);
                assert.equal(fs.readFileSync(main, "utf8").includes("gateway_metrics"), enabled);
                const r = nginxTest(main, prefix);
                assertRunOk(r, "nginx -t");
                assert.doesNotMatch(r.stderr, /\[(warn|emerg|crit|alert)\]/, r.stderr);
            } finally {
                removeDir(dir);
            }
        });
        test(`haproxy, metrics ${enabled ? "on" : "off"}`, (t) => {
            if (!needTools(t, "haproxy")) return;
            const dir = tempDir("metrics-haproxy");
            try {
                const { main, routes } = writeGateway(metricsPlan("haproxy", enabled), dir);
                assert.equal(fs.readFileSync(main, "utf8").includes("nbthread 1"), enabled);
                assertRunOk(haproxyCheck(main, routes), "haproxy -c -dW");
            } finally {
                removeDir(dir);
            }
        });
    }
});

// ---- both engines, for real --------------------------------------------------------------------------------

const SHOP_OLD = "stary.sklep.localhost"; // shop 1.9
const SHOP_NEW = "sklep.localhost"; // shop 2.0
const STOCK = "stock.localhost"; // stock 1.0: in DNS, but its address refuses connections
const PORT = 9145;

/** dev with a third routed release whose tasks refuse connections, and 1 s backend timeouts (a slow answer is a timeout). */
function metricsPlan(engine: Engine, enabled = true): Plan {
    const raw = rawConfig("dev");
    raw.gateway = { ...raw.gateway, engine, timeouts: { connect: 1, read: 1, send: 1 } };
    const apps = raw.apps as { name: string; releases: { name: string; hostnames?: string[] }[] }[];
    const stock = apps.find((a) => a.name === "stock");
    assert.ok(stock, "the dev stack has an app named stock");
    stock.releases[0].hostnames = [STOCK];
    raw.metrics = { enabled, port: PORT };
    return planOf(raw);
}

function scrape(lab: Lab): Sample[] {
    const r = curl(lab.netns, [`http://127.0.0.1:${PORT}/metrics`], { include: true });
    assert.equal(r.code, 200, `scrape: ${r.code} ${r.stderr}`);
    assert.match(r.headers, /content-type: text\/plain; version=0\.0\.4/i);
    return parseExposition(r.body);
}

type Counts = Record<string, Record<string, number>>;

interface LoadRequest {
    readonly key: string;
    readonly host: string;
    readonly headers?: Record<string, string>;
}

/** The load client in the namespace (bounded: `requests` only); resolves to its counts per key and status. */
function load(lab: Lab, requests: readonly LoadRequest[], concurrency: number): { child: ChildProcess; done: Promise<Counts> } {
    const planFile = writeFile(path.join(lab.dir, `load-${Date.now()}-${Math.random().toString(36).slice(2)}.json`), JSON.stringify({ port: 80, concurrency, requests }));
    const child = spawn("ip", ["netns", "exec", lab.netns, process.execPath, "--import", "tsx", LOAD_CLIENT, planFile], {
        stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const done = new Promise<Counts>((resolve, reject) => {
        const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
        child.on("exit", (code) => {
            clearTimeout(timer);
            if (code === 0) resolve(JSON.parse(out) as Counts);
            else reject(new Error(`load client exited ${code}: ${err}`));
        });
    });
    return { child, done };
}

function classOf(code: string): string {
    return `${code[0]}xx`;
}

/** What the scrape should show per release, from the client's counts: keys are `hostname app release`. */
function expected(counts: Counts): { requests: Map<string, number>; errors: Map<string, number>; timeouts: Map<string, number> } {
    const requests = new Map<string, number>();
    const errors = new Map<string, number>();
    const timeouts = new Map<string, number>();
    const add = (m: Map<string, number>, k: string, n: number) => m.set(k, (m.get(k) ?? 0) + n);
    for (const [key, byCode] of Object.entries(counts)) {
        for (const [code, n] of Object.entries(byCode)) {
            // No answer at all: a keep-alive connection the engine closed (a reload retires its workers) as the client
            // reused it; the engine never read that request, so neither logs nor counts it.
            if (code === "error") continue;
            add(requests, `${key} ${classOf(code)}`, n);
            // The backends never answer 502, 503 or 504 themselves (only 500): those are the gateway's own answers.
            if (code === "502" || code === "503") add(errors, key, n);
            if (code === "504") add(timeouts, key, n);
        }
    }
    return { requests, errors, timeouts };
}

/** The scraped families minus `before`, per `hostname app release [code]`. */
function scraped(now: readonly Sample[], before: readonly Sample[]): { requests: Map<string, number>; errors: Map<string, number>; timeouts: Map<string, number> } {
    const diff = (name: string, key: (s: Sample) => string, filter: (s: Sample) => boolean = () => true) => {
        const m = new Map<string, number>();
        for (const s of now.filter((x) => x.name === name && filter(x))) m.set(key(s), (m.get(key(s)) ?? 0) + s.value);
        for (const s of before.filter((x) => x.name === name && filter(x))) m.set(key(s), (m.get(key(s)) ?? 0) - s.value);
        for (const [k, v] of m) if (v === 0) m.delete(k);
        return m;
    };
    const release = (s: Sample) => `${s.labels.hostname} ${s.labels.app} ${s.labels.release}`;
    return {
        requests: diff("gateway_requests_total", (s) => `${release(s)} ${s.labels.code}`),
        errors: diff("gateway_upstream_errors_total", release, (s) => s.labels.kind === "error"),
        timeouts: diff("gateway_upstream_errors_total", release, (s) => s.labels.kind === "timeout"),
    };
}

const sorted = (m: Map<string, number>) => Object.fromEntries([...m.entries()].sort());

const OLD_KEY = `${SHOP_OLD} shop 1.9`;
const NEW_KEY = `${SHOP_NEW} shop 2.0`;
const STOCK_KEY = `${STOCK} stock 1.0`;

/** Mixed requests: both shop releases, a share answered 500 by the backend, and connection errors on stock. */
function mixedRequests(n: number): LoadRequest[] {
    return Array.from({ length: n }, (_, i) => {
        if (i % 10 === 9) return { key: STOCK_KEY, host: STOCK };
        const old = i % 3 === 0;
        return { key: old ? OLD_KEY : NEW_KEY, host: old ? SHOP_OLD : SHOP_NEW, ...(i % 7 === 0 ? { headers: { "x-echo-status": "500" } } : {}) };
    });
}

/** Requests that got an answer. */
function answered(counts: Counts): number {
    return Object.values(counts).reduce((sum, byCode) => sum + Object.entries(byCode).reduce((n, [code, k]) => n + (code === "error" ? 0 : k), 0), 0);
}

/** The engine's last lines reach the exporter within its flush interval (nginx: 1 s), then the counts settle. */
async function settled(lab: Lab, want: number, before: readonly Sample[]): Promise<Sample[]> {
    return eventually(
        "the exporter's request count",
        () => scrape(lab),
        (s) => total(s, "gateway_requests_total") - total(before, "gateway_requests_total") >= want,
        10_000,
    );
}

function exporterPids(lab: Lab): number[] {
    return fs
        .readdirSync("/proc")
        .filter((p) => /^\d+$/.test(p))
        .filter((p) => {
            try {
                const cmd = fs.readFileSync(`/proc/${p}/cmdline`, "utf8").split("\0");
                return cmd.includes(EXPORTER) && cmd.includes(lab.plan.gateway.metrics.fifo);
            } catch {
                return false;
            }
        })
        .map(Number);
}

describe("both engines: the scraped families equal the client's own counts", () => {
    const labs = new Map<Engine, Lab>();
    const entrypoints = new Map<Engine, ChildProcess>();
    before(async () => {
        for (const engine of ENGINES) {
            if (!labPossible(engine)) continue;
            const plan = metricsPlan(engine);
            const stock = plan.routes.find((r) => r.hostname === STOCK)?.backends[0].service as string;
            // Every service's address listens except stock's: its connections are refused.
            const services = [...new Set(plan.routes.flatMap((r) => r.backends.map((b) => b.service)))].sort();
            const addresses = services.map((_, i) => `127.0.0.${i + 2}`);
            const stockAddress = `127.0.0.${services.indexOf(stock) + 2}`;
            const lab = await startLab(plan, [], { listen: addresses.filter((a) => a !== stockAddress) });
            labs.set(engine, lab);
            entrypoints.set(engine, await startEntrypoint(lab, 0));
            await eventually(`${engine}: exporter up`, () => curl(lab.netns, [`http://127.0.0.1:${PORT}/metrics`]).code, (c) => c === 200);
        }
    });
    after(async () => {
        await stopAll();
        for (const lab of labs.values()) stopLab(lab);
    });

    for (const engine of ENGINES) {
        test(`${engine}: 2xx, a backend's 500s, connection errors and timeouts, per hostname and release; the exposition parses`, async (t) => {
            if (!canRunLab(t, engine)) return;
            const lab = labs.get(engine) as Lab;
            const before = scrape(lab);
            const requests = [...mixedRequests(600), ...Array.from({ length: 3 }, () => ({ key: NEW_KEY, host: SHOP_NEW, headers: { "x-echo-delay-ms": "1500" } }))];
            const counts = await load(lab, requests, 8).done;
            const now = await settled(lab, answered(counts), before);
            const want = expected(counts);
            const got = scraped(now, before);
            assert.equal(answered(counts), requests.length, `every request answered: ${JSON.stringify(counts)}`);
            assert.deepEqual(sorted(got.requests), sorted(want.requests));
            assert.deepEqual(sorted(got.errors), sorted(want.errors));
            assert.deepEqual(sorted(got.timeouts), sorted(want.timeouts));
            assert.ok((want.errors.get(STOCK_KEY) ?? 0) >= 60, `stock's refused connections are counted as errors: ${JSON.stringify(sorted(want.errors))}`);
            assert.equal(want.timeouts.get(NEW_KEY), 3, `the three slow answers are timeouts: ${JSON.stringify(counts[NEW_KEY])}`);
            assert.ok((counts[NEW_KEY]["500"] ?? 0) > 0 && (counts[OLD_KEY]["200"] ?? 0) > 0, JSON.stringify(counts));
            // The slow requests are in the histogram's buckets above 1 s.
            const newSeries = { hostname: SHOP_NEW, app: "shop", release: "2.0" };
            const slow = (s: readonly Sample[]) => total(s, "gateway_request_duration_seconds_bucket", { ...newSeries, le: "+Inf" }) - total(s, "gateway_request_duration_seconds_bucket", { ...newSeries, le: "0.5" });
            assert.equal(slow(now) - slow(before), 3);
            assert.equal(total(now, "gateway_metrics_lines_dropped_total"), 0);
        });

        test(`${engine}: counts survive engine reloads in the middle of a bounded load`, async (t) => {
            if (!canRunLab(t, engine)) return;
            const lab = labs.get(engine) as Lab;
            const entrypoint = entrypoints.get(engine) as ChildProcess;
            const before = scrape(lab);
            const requests = mixedRequests(3000);
            const { done } = load(lab, requests, 8);
            for (let i = 0; i < 3; i++) {
                await new Promise((r) => setTimeout(r, 500));
                entrypoint.kill(engine === "nginx" ? "SIGHUP" : "SIGUSR2");
            }
            const counts = await done;
            assert.ok(answered(counts) >= requests.length * 0.95, `most requests answered through the reloads: ${JSON.stringify(counts)}`);
            const now = await settled(lab, answered(counts), before);
            const want = expected(counts);
            const got = scraped(now, before);
            assert.deepEqual(sorted(got.requests), sorted(want.requests));
            assert.deepEqual(sorted(got.errors), sorted(want.errors));
            assert.equal(total(now, "gateway_metrics_start_time_seconds"), total(before, "gateway_metrics_start_time_seconds"), "no reset");
            assert.equal(total(now, "gateway_metrics_lines_dropped_total"), 0);
        });

        test(`${engine}: a killed exporter is restarted by the entrypoint, with a new start time`, async (t) => {
            if (!canRunLab(t, engine)) return;
            const lab = labs.get(engine) as Lab;
            const before = scrape(lab);
            const pids = exporterPids(lab);
            assert.equal(pids.length, 1, `one exporter runs: ${pids.join(" ")}`);
            await new Promise((r) => setTimeout(r, 1100)); // the start time has a 1 s resolution
            process.kill(pids[0], "SIGKILL");
            const now = await eventually(
                "a restarted exporter",
                () => curl(lab.netns, [`http://127.0.0.1:${PORT}/metrics`]),
                (r) => r.code === 200 && !r.body.includes(`gateway_metrics_start_time_seconds ${total(before, "gateway_metrics_start_time_seconds")}\n`),
            );
            const samples = parseExposition(now.body);
            assert.ok(total(samples, "gateway_metrics_start_time_seconds") > total(before, "gateway_metrics_start_time_seconds"));
            assert.notDeepEqual(exporterPids(lab), pids);
            // It counts again from 0 and sees new requests.
            const counts = await load(lab, mixedRequests(50), 4).done;
            const after = await settled(lab, answered(counts), samples);
            assert.deepEqual(sorted(scraped(after, samples).requests), sorted(expected(counts).requests));
        });
    }
});

describe("metrics off: no exporter runs and nothing listens on the metrics port", () => {
    // Each test's lab stub and entrypoint (startLab, startEntrypoint) end here too.
    after(stopAll);
    for (const engine of ENGINES) {
        test(engine, async (t) => {
            if (!canRunLab(t, engine)) return;
            const lab = await startLab(metricsPlan(engine, false));
            try {
                const entrypoint = await startEntrypoint(lab, 0);
                assert.equal(curl(lab.netns, ["-H", `Host: ${SHOP_NEW}`, "http://127.0.0.1:80/"]).code, 200);
                const r = curl(lab.netns, [`http://127.0.0.1:${PORT}/metrics`]);
                assert.equal(r.code, 0, `nothing answers on ${PORT}: ${r.code}`);
                assert.match(r.stderr, /refused|Failed to connect/i);
                assert.deepEqual(exporterPids(lab), []);
                await stop(entrypoint);
            } finally {
                stopLab(lab);
            }
        });
    }
});
