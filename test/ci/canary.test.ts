// The canary's steps with fakes for what they drive: a fake `up` (records the stack file it saw), scripted gateway
// metrics texts, no waiting, and real git in a temporary repository. Then the metrics read against a fake `docker`
// (the node reach of driver docker), the command line as a process (usage, refusals before anything changes), and
// the lab's LAB_STACK_DIR. The full CLI run on routes waits for the schema to know routes (another branch of issue 12).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { isDeepStrictEqual } from "node:util";
import { after, describe, it } from "node:test";
import { planStack, validateConfig } from "../../model";
import { parseStackFile } from "../../model/config";
import { parsePrometheusText, type SourceRead } from "../../model/metrics-read";
import { AppSchema } from "../../model/releases";
import { readGatewayMetrics } from "../../scripts/lib/canary-metrics";
import { CanaryFailure, type CanaryOptions, runCanary, type UpOutcome } from "../../scripts/lib/canary-run";

const ROOT = path.resolve(__dirname, "..", "..");
const dirs: string[] = [];
after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

const DEV21 = fs
    .readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8")
    .replace(`env: { RELEASE: "2.0" } }\n`, `env: { RELEASE: "2.0" } }\n        - { name: "2.1", env: { RELEASE: "2.1" } }\n`);

function tempDir(): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "swarm-canary-"));
    dirs.push(dir);
    return dir;
}

const git = (dir: string, ...args: string[]) => {
    const r = spawnSync("git", ["-C", dir, ...args], { encoding: "utf8" });
    assert.equal(r.status, 0, `git ${args.join(" ")}: ${r.stderr}`);
    return r.stdout.trim();
};

/** A git repository holding the dev stack file with a third shop release, committed. */
function repo(text = DEV21): string {
    const dir = tempDir();
    git(dir, "init", "-q", "-b", "main");
    git(dir, "config", "user.email", "canary@example.invalid");
    git(dir, "config", "user.name", "canary test");
    fs.writeFileSync(path.join(dir, "Pulumi.dev.yaml"), text);
    git(dir, "add", "Pulumi.dev.yaml");
    git(dir, "commit", "-q", "-m", "dev with shop 2.1");
    return dir;
}

const LES = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"];
/** One gateway's metrics: `ok`/`fail` answers of shop 2.1 on sklep.localhost (all under 10 ms), `stable` 2xx of 2.0. */
function metricsText(ok: number, fail: number, stable = 0): string {
    const l = `hostname="sklep.localhost",app="shop",release="2.1"`;
    return [
        `gateway_requests_total{${l},code="2xx"} ${ok}`,
        `gateway_requests_total{${l},code="5xx"} ${fail}`,
        `gateway_requests_total{hostname="sklep.localhost",app="shop",release="2.0",code="2xx"} ${stable}`,
        ...LES.map((le) => `gateway_request_duration_seconds_bucket{${l},le="${le}"} ${le === "0.005" ? 0 : ok + fail}`),
        "gateway_metrics_start_time_seconds 1700000000",
    ].join("\n");
}
const reads = (...perGateway: [number, number][]): SourceRead[] =>
    perGateway.map(([ok, fail], i) => ({ source: `gw-${i + 1}/gateway.1.x`, samples: parsePrometheusText(metricsText(ok, fail), `gw-${i + 1}`) }));

interface Run {
    readonly code?: number;
    readonly failure?: string;
    readonly upTexts: string[];
    readonly log: string[];
}

/** runCanary with fakes: `metrics` is the sequence of reads (baseline, end, baseline, end, …); `ups` the outcomes. */
async function canary(dir: string, o: { metrics?: (SourceRead[] | Error)[]; ups?: UpOutcome[]; options?: Partial<CanaryOptions> } = {}): Promise<Run> {
    const opts: CanaryOptions = {
        stack: "dev",
        dir,
        app: "shop",
        release: "2.1",
        hostname: "sklep.localhost",
        steps: [10, 50, 100],
        intervalSeconds: 8,
        bounds: { maxErrorRate: 0.01, maxP99Seconds: 0.5, minRequests: 50 },
        commit: true,
        ...o.options,
    };
    const upTexts: string[] = [];
    const log: string[] = [];
    const metrics = [...(o.metrics ?? [])];
    const ups = [...(o.ups ?? [])];
    const slept: number[] = [];
    try {
        const code = await runCanary(opts, {
            check: () => [],
            up: async () => {
                upTexts.push(fs.readFileSync(path.join(dir, "Pulumi.dev.yaml"), "utf8"));
                return ups.shift() ?? { ok: true };
            },
            readMetrics: async () => {
                const next = metrics.shift();
                if (next === undefined) throw new Error("the test gave no more metrics reads");
                if (next instanceof Error) throw next;
                return next;
            },
            sleep: async (ms) => void slept.push(ms),
            log: (line) => log.push(line),
        });
        assert.ok(slept.every((ms) => ms === 8000), "each step waits the interval");
        return { code, upTexts, log };
    } catch (err) {
        if (!(err instanceof CanaryFailure)) throw err;
        return { failure: err.message, upTexts, log };
    }
}

const subjects = (dir: string) => git(dir, "log", "--format=%s").split("\n");

describe("canary steps (fake up, scripted metrics, real git)", () => {
    it("a clean canary: 10%, 50%, 100% each up, committed and judged; the hostname ends on 2.1", async () => {
        const dir = repo();
        const r = await canary(dir, { metrics: [reads([0, 0], [0, 0]), reads([40, 0], [30, 0]), reads([40, 0], [30, 0]), reads([300, 1], [290, 0]), reads([0, 0], [0, 0]), reads([500, 2], [480, 1])] });
        assert.equal(r.code, 0, r.failure);
        assert.equal(r.upTexts.length, 3);
        assert.match(r.upTexts[0], /releases: \{ "2\.0": 90, "2\.1": 10 \}/);
        assert.match(r.upTexts[1], /releases: \{ "2\.0": 50, "2\.1": 50 \}/);
        assert.doesNotMatch(r.upTexts[2], /routes:/);
        assert.match(r.upTexts[2], /\{ name: "2\.1", env: \{ RELEASE: "2\.1" \}, hostnames: \[sklep\.localhost\] \}/);
        assert.equal(fs.readFileSync(path.join(dir, "Pulumi.dev.yaml"), "utf8"), r.upTexts[2], "the file ends as the last up saw it");
        assert.deepEqual(subjects(dir), [
            "canary shop 2.1 on sklep.localhost: 100%",
            "canary shop 2.1 on sklep.localhost: 50%",
            "canary shop 2.1 on sklep.localhost: 10%",
            "dev with shop 2.1",
        ]);
        assert.equal(git(dir, "status", "--porcelain"), "", "git matches what is deployed");
        assert.deepEqual(r.log.filter((l) => l.startsWith("step ")), [
            "step 1/3 (10%): 2.1 error rate 0% (70 requests), p99 10 ms: ok",
            "step 2/3 (50%): 2.1 error rate 0.19% (1 of 521 requests), p99 10 ms: ok",
            "step 3/3 (100%): 2.1 error rate 0.31% (3 of 983 requests), p99 10 ms: ok",
        ]);
        assert.match(r.log[r.log.length - 1], /every step passed; 2\.1 serves sklep\.localhost$/);
    });

    it("rollback: 31.2% errors at step 1 stop the canary, write back the file as it was, up, commit, and name the step and the figures", async () => {
        const dir = repo();
        const r = await canary(dir, { metrics: [reads([0, 0], [0, 0]), reads([400, 200], [288, 112])] });
        assert.equal(r.code, undefined);
        assert.equal(r.failure, "canary shop 2.1 on sklep.localhost rolled back to 2.0: step 1 (10%): error rate 31.2% > 1% (312 of 1,000 requests), p99 10 ms");
        assert.equal(r.upTexts.length, 2, "the step's up, then the rollback's");
        assert.equal(r.upTexts[1], DEV21, "the rollback's up ran on the file as it was");
        assert.equal(fs.readFileSync(path.join(dir, "Pulumi.dev.yaml"), "utf8"), DEV21);
        assert.deepEqual(subjects(dir), ["canary shop 2.1 on sklep.localhost: rolled back to 2.0 (step 1 (10%))", "canary shop 2.1 on sklep.localhost: 10%", "dev with shop 2.1"]);
        assert.equal(git(dir, "status", "--porcelain"), "");
        assert.ok(r.log.includes("step 1/3 (10%): 2.1 error rate 31.2% (312 of 1,000 requests), p99 10 ms: stop"), r.log.join("\n"));
    });

    it("too few canary requests to judge is a failed step too (rolled back)", async () => {
        const dir = repo();
        const r = await canary(dir, { metrics: [reads([0, 0], [0, 0]), reads([10, 0], [5, 0])] });
        assert.match(r.failure ?? "", /rolled back to 2\.0: step 1 \(10%\): not enough traffic: 15 requests reached the release \(at least 50 needed to judge\)$/);
        assert.equal(fs.readFileSync(path.join(dir, "Pulumi.dev.yaml"), "utf8"), DEV21);
    });

    it("a failed up at step 2 rolls back; a gateway that does not answer the read is named", async () => {
        const dir = repo();
        const failedUp = await canary(dir, { metrics: [reads([0, 0]), reads([100, 0])], ups: [{ ok: true }, { ok: false, message: "pulumi up of dev exited 255" }] });
        assert.match(failedUp.failure ?? "", /rolled back to 2\.0: step 2 \(50%\): up failed: pulumi up of dev exited 255$/);
        assert.equal(failedUp.upTexts.length, 3);
        assert.equal(fs.readFileSync(path.join(dir, "Pulumi.dev.yaml"), "utf8"), DEV21);
        assert.equal(subjects(dir)[0], "canary shop 2.1 on sklep.localhost: rolled back to 2.0 (step 2 (50%))");

        const dir2 = repo();
        const silent = await canary(dir2, { metrics: [reads([0, 0]), new Error("gateway node gw-2 did not answer the metrics read: exit 4")] });
        assert.match(silent.failure ?? "", /step 1 \(10%\): no metrics: gateway node gw-2 did not answer the metrics read: exit 4$/);
        assert.equal(fs.readFileSync(path.join(dir2, "Pulumi.dev.yaml"), "utf8"), DEV21);
    });

    it("a failed rollback says so and what to run; the file holds the config from before the canary", async () => {
        const dir = repo();
        const r = await canary(dir, { metrics: [reads([0, 0]), reads([50, 50])], ups: [{ ok: true }, { ok: false, message: "engine gone" }] });
        assert.match(r.failure ?? "", /stopped at step 1 \(10%\): error rate 50% > 1%.*\nthe rollback's up failed too: engine gone\nPulumi\.dev\.yaml holds the config from before the canary; run `npm run up -- dev`/);
        assert.equal(fs.readFileSync(path.join(dir, "Pulumi.dev.yaml"), "utf8"), DEV21);
    });

    it("refuses before anything with uncommitted changes, or outside git; --no-commit runs without git", async () => {
        const dir = repo();
        fs.appendFileSync(path.join(dir, "Pulumi.dev.yaml"), "# local edit\n");
        const dirty = await canary(dir);
        assert.match(dirty.failure ?? "", /Pulumi\.dev\.yaml has uncommitted changes \(M Pulumi\.dev\.yaml\); commit or discard them first/);
        assert.deepEqual(dirty.upTexts, []);

        const plain = tempDir();
        fs.writeFileSync(path.join(plain, "Pulumi.dev.yaml"), DEV21);
        const outside = await canary(plain);
        assert.match(outside.failure ?? "", /not in a git repository .*pass --no-commit/);
        assert.deepEqual(outside.upTexts, []);
        const noCommit = await canary(plain, { options: { commit: false, steps: [100] }, metrics: [reads([0, 0]), reads([60, 0])] });
        assert.equal(noCommit.code, 0, noCommit.failure);
        assert.ok(!fs.existsSync(path.join(plain, ".git")));
    });

    it("a bad request changes nothing: the error names the key", async () => {
        const dir = repo();
        const r = await canary(dir, { options: { release: "2.2" } });
        assert.match(r.failure ?? "", /apps\[shop\]\.releases: no release "2\.2" in app shop \(releases: 1\.9, 2\.0, 2\.1\)/);
        assert.deepEqual(r.upTexts, []);
        assert.deepEqual(subjects(dir), ["dev with shop 2.1"]);
    });
});

describe("canary metrics read on every gateway node (fake docker)", () => {
    const FAKE_DOCKER = `#!/bin/sh
node=""
for a in "$@"; do case "$a" in swarm-platform-dev-*) node=\${a#swarm-platform-dev-};; esac; done
cat > "$FAKE_DIR/stdin-$node"
if [ -f "$FAKE_DIR/$node.fail" ]; then echo "Error response from daemon: container swarm-platform-dev-$node is not running" >&2; exit 1; fi
cat "$FAKE_DIR/$node.out"
`;
    const plan = () => {
        const file = parseStackFile(DEV21);
        const r = validateConfig(file.config);
        assert.ok(r.ok);
        return planStack(r.config);
    };

    async function withFakeDocker<T>(setup: (dir: string) => void, fn: () => Promise<T>): Promise<{ value?: T; error?: Error; dir: string }> {
        const dir = tempDir();
        fs.writeFileSync(path.join(dir, "docker"), FAKE_DOCKER, { mode: 0o755 });
        setup(dir);
        const saved = { PATH: process.env.PATH, FAKE_DIR: process.env.FAKE_DIR };
        process.env.PATH = `${dir}:${process.env.PATH}`;
        process.env.FAKE_DIR = dir;
        try {
            return { value: await fn(), dir };
        } catch (error) {
            return { error: error as Error, dir };
        } finally {
            process.env.PATH = saved.PATH;
            process.env.FAKE_DIR = saved.FAKE_DIR;
        }
    }

    it("reads both gateway nodes through docker exec, one source per gateway container, with the read script on stdin", async () => {
        const r = await withFakeDocker(
            (dir) => {
                fs.writeFileSync(path.join(dir, "gw-1.out"), `### container gateway.gw1.a\n${metricsText(5, 1)}\n`);
                fs.writeFileSync(path.join(dir, "gw-2.out"), `### container gateway.gw2.a\n${metricsText(3, 0)}\n### container gateway.gw2.b\n${metricsText(2, 0)}\n`);
            },
            () => readGatewayMetrics(plan(), { namePrefix: "swarm-platform-dev", port: 9145 }),
        );
        assert.equal(r.error, undefined, r.error?.message);
        assert.deepEqual(r.value?.map((s) => s.source), ["gw-1/gateway.gw1.a", "gw-2/gateway.gw2.a", "gw-2/gateway.gw2.b"]);
        assert.ok(r.value?.every((s) => s.samples.some((x) => x.name === "gateway_requests_total")));
        const stdin = fs.readFileSync(path.join(r.dir, "stdin-gw-1"), "utf8");
        assert.match(stdin, /gateway-metrics-read/);
        assert.match(stdin, /curl -sf --max-time 5 "http:\/\/127\.0\.0\.1:\$METRICS_PORT\/metrics"/);
        assert.ok(stdin.includes(Buffer.from("9145").toString("base64")), "the port travels in the envelope");
    });

    it("a gateway node that does not answer fails the whole read, named", async () => {
        const r = await withFakeDocker(
            (dir) => {
                fs.writeFileSync(path.join(dir, "gw-1.out"), `### container gateway.gw1.a\n${metricsText(5, 1)}\n`);
                fs.writeFileSync(path.join(dir, "gw-2.fail"), "");
            },
            () => readGatewayMetrics(plan(), { namePrefix: "swarm-platform-dev", port: 9145 }),
        );
        assert.equal(r.error?.message, "gateway node gw-2 did not answer the metrics read: Error response from daemon: container swarm-platform-dev-gw-2 is not running");
    });
});

describe("npm run promote -- <stack> --canary, as a process", () => {
    const promote = (args: string[], env: NodeJS.ProcessEnv = {}) =>
        spawnSync(process.execPath, ["--import", "tsx", path.join(ROOT, "scripts", "promote.ts"), ...args], { cwd: ROOT, env: { ...process.env, ...env }, encoding: "utf8", timeout: 60_000 });
    const FULL = ["--canary", "shop:2.1", "--hostname", "sklep.localhost", "--steps", "10,50,100", "--interval", "1s", "--max-error-rate", "1%", "--max-p99", "500ms"];

    it("usage errors exit 2 with the usage line", () => {
        const missing = promote(["dev", "--canary", "shop:2.1"]);
        assert.equal(missing.status, 2);
        assert.match(missing.stderr, /^missing --steps, --interval, --max-error-rate, --max-p99\nusage: npm run promote -- <stack> --canary <app>:<release>/);
        const bad = promote(["dev", ...FULL.map((a) => (a === "shop:2.1" ? "shop" : a))]);
        assert.equal(bad.status, 2);
        assert.match(bad.stderr, /^--canary shop: expected <app>:<release>, e.g\. shop:2\.1\n/);
        const steps = promote(["dev", ...FULL.map((a) => (a === "10,50,100" ? "10,50" : a))]);
        assert.equal(steps.status, 2);
        assert.equal(steps.stderr, "--steps 10,50: the last step must be 100 (the canary ends owning the hostname)\n");
        const engine = promote(["dev", ...FULL], { SWARM_PLATFORM_ENGINE: "kubernetes" });
        assert.equal(engine.status, 2);
        assert.match(engine.stderr, /SWARM_PLATFORM_ENGINE=kubernetes: only "lab" is known/);
    });

    it("an uncommitted stack file and an unknown release exit 1 before any up or write", () => {
        const dir = repo();
        fs.appendFileSync(path.join(dir, "Pulumi.dev.yaml"), "# local edit\n");
        const before = fs.readFileSync(path.join(dir, "Pulumi.dev.yaml"));
        const dirty = promote(["dev", ...FULL, "--dir", dir], { PATH: "/usr/bin:/bin" });
        assert.equal(dirty.status, 1);
        assert.match(dirty.stderr, /has uncommitted changes/);
        assert.ok(fs.readFileSync(path.join(dir, "Pulumi.dev.yaml")).equals(before));

        const unknown = promote(["dev", ...FULL.map((a) => (a === "shop:2.1" ? "shop:3.0" : a)), "--no-commit", "--dir", dir]);
        assert.equal(unknown.status, 1);
        assert.match(unknown.stderr, /apps\[shop\]\.releases: no release "3\.0" in app shop \(releases: 1\.9, 2\.0, 2\.1\); add it first/);
        assert.ok(fs.readFileSync(path.join(dir, "Pulumi.dev.yaml")).equals(before));
    });

    // The steps' stack files carry apps[].routes: this runs once the schema knows them (the weighted-routes branch).
    const routesInSchema = "routes" in AppSchema.shape;
    it("a clean canary end to end: `up` through the Pulumi wrapper (fake pulumi), metrics through docker exec (fake docker), three commits", { skip: !routesInSchema && "apps[].routes is not in the schema on this branch yet" }, () => {
        const dir = repo();
        const bin = path.join(dir, "bin");
        fs.mkdirSync(bin);
        fs.writeFileSync(path.join(bin, "pulumi"), `#!/bin/sh\necho "pulumi $*" >> "$FAKE_DIR/pulumi.log"\n`, { mode: 0o755 });
        fs.writeFileSync(
            path.join(bin, "docker"),
            `#!/bin/sh
node=""
for a in "$@"; do case "$a" in swarm-platform-dev-*) node=\${a#swarm-platform-dev-};; esac; done
cat > /dev/null
n=$(cat "$FAKE_DIR/$node.count" 2>/dev/null || echo 0); n=$((n + 1)); echo "$n" > "$FAKE_DIR/$node.count"
printf '### container gateway.%s\\n' "$node"; cat "$FAKE_DIR/metrics-$n.prom"
`,
            { mode: 0o755 },
        );
        // Read n of every gateway: 100 more answers of 2.1 each time, none failed.
        for (let n = 1; n <= 6; n++) fs.writeFileSync(path.join(dir, `metrics-${n}.prom`), metricsText(100 * n, 0));
        const r = promote(["dev", ...FULL, "--dir", dir], { PATH: `${bin}:/usr/bin:/bin`, FAKE_DIR: dir, PULUMI_CONFIG_PASSPHRASE: "" });
        assert.equal(r.status, 0, r.stderr);
        assert.deepEqual(r.stdout.split("\n").filter((l) => l.startsWith("step ")), [
            "step 1/3 (10%): 2.1 error rate 0% (200 requests), p99 10 ms: ok",
            "step 2/3 (50%): 2.1 error rate 0% (200 requests), p99 10 ms: ok",
            "step 3/3 (100%): 2.1 error rate 0% (200 requests), p99 10 ms: ok",
        ]);
        assert.deepEqual(fs.readFileSync(path.join(dir, "pulumi.log"), "utf8").trim().split("\n"), Array(3).fill(["pulumi stack select --create dev", "pulumi up --yes --stack dev"]).flat());
        assert.deepEqual(subjects(dir).slice(0, 3), ["100%", "50%", "10%"].map((p) => `canary shop 2.1 on sklep.localhost: ${p}`));
    });

    it("the existing --from/--to mode is untouched by the canary's dispatch (its help names both)", () => {
        const help = promote(["--help"]);
        assert.equal(help.status, 2);
        assert.match(help.stderr, /^usage: npm run promote -- --from <stack> --to <stack> --app <app>.*\n {3}or: npm run promote -- <stack> --canary <app>:<release>/);
    });
});

describe("the lab's LAB_STACK_DIR", () => {
    it("runs the stack file in that directory, its apps included; the unchanged dev file gives the lab's own config", async () => {
        const { labConfig } = await import("../lab/lab-config");
        const saved = process.env.LAB_STACK_DIR;
        try {
            delete process.env.LAB_STACK_DIR;
            const lab = labConfig({});
            const dir = tempDir();
            fs.copyFileSync(path.join(ROOT, "Pulumi.dev.yaml"), path.join(dir, "Pulumi.dev.yaml"));
            process.env.LAB_STACK_DIR = dir;
            assert.ok(isDeepStrictEqual(labConfig({}), lab), "the same config from a copy of the dev file");
            fs.writeFileSync(path.join(dir, "Pulumi.dev.yaml"), DEV21);
            const apps = labConfig({})["swarm-platform:apps"] as { name: string; image: string; releases: { name: string; env: Record<string, string> }[] }[];
            const shop = apps.find((a) => a.name === "shop")!;
            assert.deepEqual(shop.releases.map((r) => r.name), ["1.9", "2.0", "2.1"]);
            assert.equal(shop.image, "swarm-lab/demo-app", "the lab's image over the file's");
        } finally {
            if (saved === undefined) delete process.env.LAB_STACK_DIR;
            else process.env.LAB_STACK_DIR = saved;
        }
    });
});
