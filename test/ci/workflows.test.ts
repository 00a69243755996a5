// CI that cannot leak: the GitHub Actions workflows, read as data. Code from a pull request never runs with a
// secret, in an environment or with a token that can write (the PR comment is posted by a workflow_run workflow
// that runs no code); every action is pinned by commit SHA; the prod jobs stay behind their environments.
// The real guard is the environments (prod secrets only there, deployment branches = main; docs/ci.md): this test
// keeps the workflow files from drifting away from that.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { parse } from "yaml";

type Job = Record<string, unknown>;
type Workflow = Record<string, unknown> & { jobs?: Record<string, Job> };

const DIR = path.join(__dirname, "..", "..", ".github", "workflows");
const PR_EVENTS = new Set(["pull_request", "pull_request_target"]);
const SHA_PIN = /^[^@\s]+@[0-9a-f]{40}$/;
// `secrets.X`, `secrets['X']`, `toJSON(secrets)`; and the job token under its two names.
const SECRET_REF = /\bsecrets\b/;
const TOKEN_REF = /\bgithub\.token\b|\bGITHUB_TOKEN\b/;

/** The events a workflow runs on, whichever of the three `on:` forms it uses. */
export function eventsOf(wf: Workflow): string[] {
    // YAML 1.1 readers turn a bare `on` into `true`: accept both keys.
    const on = wf.on ?? wf["true"];
    if (typeof on === "string") return [on];
    if (Array.isArray(on)) return on.map(String);
    if (on && typeof on === "object") return Object.keys(on);
    return [];
}

/** Every string (keys included) anywhere in a value. */
function stringsIn(value: unknown): string[] {
    if (typeof value === "string") return [value];
    if (Array.isArray(value)) return value.flatMap(stringsIn);
    if (value && typeof value === "object") return Object.entries(value).flatMap(([k, v]) => [k, ...stringsIn(v)]);
    return [];
}

const refsSecret = (value: unknown) => stringsIn(value).some((s) => SECRET_REF.test(s));
const refsToken = (value: unknown) => stringsIn(value).some((s) => TOKEN_REF.test(s));
/** A `permissions:` block that grants any write (`write-all` or a scope set to `write`). */
const grantsWrite = (permissions: unknown) =>
    permissions === "write-all" || (typeof permissions === "object" && permissions !== null && Object.values(permissions).includes("write"));

function usesOf(job: Job): string[] {
    const steps = Array.isArray(job.steps) ? (job.steps as Record<string, unknown>[]) : [];
    const uses = steps.map((s) => s.uses).filter((u): u is string => typeof u === "string");
    return typeof job.uses === "string" ? [job.uses, ...uses] : uses;
}

/** What is wrong with one parsed workflow; empty when nothing is. */
export function checkWorkflow(name: string, wf: Workflow): string[] {
    const problems: string[] = [];
    const events = eventsOf(wf);
    if (events.length === 0) problems.push(`${name}: no \`on:\` events`);
    if (events.includes("pull_request_target")) {
        problems.push(`${name}: runs on pull_request_target (the base repo's secrets with the PR's code in reach; docs/ci.md)`);
    }
    const fromPr = events.some((e) => PR_EVENTS.has(e));
    const { jobs = {}, ...top } = wf;
    if (fromPr) {
        if (refsSecret(top)) problems.push(`${name}: pull-request workflow references secrets outside its jobs`);
        if (refsToken(top)) problems.push(`${name}: pull-request workflow references the GitHub token outside its jobs`);
        if (top.permissions === undefined) problems.push(`${name}: pull-request workflow does not set \`permissions:\` (the default token may write)`);
        if (grantsWrite(top.permissions)) problems.push(`${name}: pull-request workflow grants a write permission`);
    }
    // workflow_run: runs main's copy of the file, often with a write token, after a PR's run. It may read that
    // run's artifacts as data; it must never check out or execute code (the PR's would run with the token).
    const afterRun = events.includes("workflow_run");
    if (afterRun && top.permissions === undefined) problems.push(`${name}: workflow_run workflow does not set \`permissions:\``);
    for (const [id, job] of Object.entries(jobs)) {
        const where = `${name} job ${id}`;
        if (afterRun) {
            if (usesOf(job).some((u) => u.startsWith("actions/checkout@"))) problems.push(`${where}: a workflow_run job checks out code`);
            if (usesOf(job).some((u) => u.startsWith("actions/setup-node@"))) problems.push(`${where}: a workflow_run job sets up a toolchain to run code`);
            if (((job.steps as Record<string, unknown>[] | undefined) ?? []).some((st) => st.run !== undefined)) {
                problems.push(`${where}: a workflow_run job runs shell steps (download and post only)`);
            }
            if (typeof job.uses === "string") problems.push(`${where}: a workflow_run job calls another workflow`);
        }
        for (const u of usesOf(job)) {
            if (!u.startsWith("./") && !SHA_PIN.test(u)) problems.push(`${where}: \`uses: ${u}\` is not pinned by a 40-hex commit SHA`);
        }
        if (fromPr) {
            if (refsSecret(job) || job.secrets !== undefined) problems.push(`${where}: runs on a pull request and references secrets`);
            if (refsToken(job)) problems.push(`${where}: runs on a pull request and references the GitHub token`);
            if (job.environment !== undefined) problems.push(`${where}: runs on a pull request and has an environment`);
            if (grantsWrite(job.permissions)) problems.push(`${where}: runs on a pull request and grants a write permission`);
            if (typeof job["runs-on"] !== "string" || !/^ubuntu-/.test(job["runs-on"])) {
                problems.push(`${where}: runs on a pull request on a runner that is not GitHub-hosted ubuntu-*`);
            }
        } else if (refsSecret(job) && job.environment === undefined) {
            problems.push(`${where}: references secrets but has no environment (prod secrets live only in environments)`);
        }
    }
    return problems;
}

/** Every `uses:` line carries the version it pins as a trailing comment: `uses: owner/repo@<sha> # v1.2.3`. */
export function checkPinComments(name: string, text: string): string[] {
    return text
        .split("\n")
        .map((line, i) => ({ line, n: i + 1 }))
        .filter(({ line }) => /^\s*(-\s+)?uses:/.test(line))
        .filter(({ line }) => !/^\s*(-\s+)?uses:\s*\S+@[0-9a-f]{40}\s+#\s*v\d+(\.\d+)*\s*$/.test(line))
        .map(({ line, n }) => `${name}:${n}: \`${line.trim()}\` lacks a SHA pin with a \`# vX.Y.Z\` comment`);
}

const environmentName = (job: Job | undefined) => {
    const env = job?.environment;
    return typeof env === "object" && env !== null ? (env as { name?: unknown }).name : env;
};

const files = readdirSync(DIR).filter((f) => /\.ya?ml$/.test(f)).sort();
const text = (f: string) => readFileSync(path.join(DIR, f), "utf8");
const workflow = (f: string) => parse(text(f)) as Workflow;

describe("workflows in .github/workflows", () => {
    it("are the five this test knows about", () => {
        assert.deepEqual(files, ["canary-prod.yml", "preview-comment.yml", "preview-prod.yml", "preview.yml", "up.yml"]);
    });

    for (const f of files) {
        it(`${f}: no secret, token, environment or write permission for pull requests; every action SHA-pinned`, () => {
            assert.deepEqual(checkWorkflow(f, workflow(f)), []);
        });
        it(`${f}: every \`uses:\` carries its version as a comment`, () => {
            assert.deepEqual(checkPinComments(f, text(f)), []);
        });
    }

    it("preview.yml runs on pull requests and runs npm test there with the validators installed", () => {
        const wf = workflow("preview.yml");
        assert.deepEqual(eventsOf(wf), ["pull_request"]);
        const runs = Object.values(wf.jobs ?? {}).map((job) =>
            ((job.steps as { run?: string }[]) ?? []).map((s) => s.run ?? "").join("\n"),
        );
        const tested = runs.find((r) => /\bnpm test\b/.test(r));
        assert.ok(tested, "a pull-request job runs npm test");
        for (const pkg of ["nginx-light", "haproxy", "keepalived", "shellcheck", "iproute2", "openssl"]) {
            assert.match(tested, new RegExp(`apt-get install[^\\n]*\\b${pkg}\\b`), `the npm test job installs ${pkg}`);
        }
    });

    it("preview.yml's diff job: both stacks' `npm run diff` with the full history, uploaded with the dev preview for the comment", () => {
        const wf = workflow("preview.yml");
        const job = wf.jobs?.diff;
        assert.ok(job, "a diff job");
        const steps = (job.steps as { uses?: string; run?: string; with?: Record<string, unknown>; if?: string }[]) ?? [];
        const checkout = steps.find((st) => st.uses?.startsWith("actions/checkout@"));
        assert.equal(checkout?.with?.["fetch-depth"], 0, "fetch-depth 0: the merge-base with origin/main needs the history");
        assert.equal(checkout?.with?.["persist-credentials"], false);
        const run = steps.map((st) => st.run ?? "").join("\n");
        assert.match(run, /for stack in dev prod; do\n\s+npm run --silent diff -- "\$stack" > "comment\/diff-\$stack\.md"/);
        const uploads = (j: Job | undefined) =>
            ((j?.steps as { uses?: string; with?: { name?: string }; if?: string }[]) ?? []).filter((st) => st.uses?.startsWith("actions/upload-artifact@"));
        assert.deepEqual(uploads(job).map((u) => [u.with?.name, u.if]), [["pr-comment-diff", "always()"]]);
        assert.deepEqual(uploads(wf.jobs?.["preview-dev"]).map((u) => [u.with?.name, u.if]), [["pr-comment-preview", "always()"]]);
    });

    it("preview-comment.yml: after a preview run, with only `pull-requests: write` and `actions: read`, posts the artifacts", () => {
        const wf = workflow("preview-comment.yml");
        assert.deepEqual(wf.on, { workflow_run: { workflows: ["preview"], types: ["completed"] } });
        assert.deepEqual(wf.permissions, {});
        const jobs = Object.values(wf.jobs ?? {});
        assert.equal(jobs.length, 1);
        const [job] = jobs;
        assert.deepEqual(job.permissions, { actions: "read", "pull-requests": "write" });
        assert.equal(job.if, "github.event.workflow_run.event == 'pull_request'");
        const steps = (job.steps as { uses?: string; with?: Record<string, unknown> }[]) ?? [];
        assert.deepEqual(steps.map((st) => st.uses?.split("@")[0]), ["actions/download-artifact", "actions/github-script"]);
        assert.equal(steps[0].with?.pattern, "pr-comment-*");
        assert.equal(steps[0].with?.["run-id"], "${{ github.event.workflow_run.id }}", "the artifacts of the run that triggered this one");
        const script = String(steps[1].with?.script);
        assert.match(script, /p\.head\.sha === run\.head_sha/, "the PR is found by the run's head commit, not named by the artifact");
        assert.doesNotMatch(script, /child_process|exec|eval|require\((?!"node:(fs|path)")/, "the script runs nothing from the artifacts");
    });

    it("prod runs only from main, behind its environments: up.yml's prod in `production`, preview-prod in `production-preview`", () => {
        const up = workflow("up.yml");
        assert.deepEqual(up.on, { push: { branches: ["main"] } });
        assert.equal(environmentName(up.jobs?.prod), "production");
        assert.deepEqual(up.jobs?.prod.needs, "dev", "prod still follows dev");

        const preview = workflow("preview-prod.yml");
        assert.deepEqual(eventsOf(preview), ["workflow_dispatch"]);
        assert.equal(environmentName(preview.jobs?.prod), "production-preview");
        for (const job of [up.jobs?.prod, preview.jobs?.prod]) {
            assert.equal(job?.if, "github.ref == 'refs/heads/main'");
        }
    });
});

describe("canary-prod.yml", () => {
    const wf = workflow("canary-prod.yml");
    const job = wf.jobs?.prod as Job & { steps: { name?: string; run?: string; uses?: string; with?: Record<string, unknown> }[]; permissions?: unknown; concurrency?: unknown };
    it("runs by hand on main only, in `production`, one prod change at a time with up.yml", () => {
        assert.deepEqual(eventsOf(wf), ["workflow_dispatch"]);
        assert.equal(job.if, "github.ref == 'refs/heads/main'");
        assert.equal(environmentName(job), "production");
        assert.deepEqual(wf.concurrency, workflow("up.yml").concurrency, "the same concurrency group as prod's up");
        assert.deepEqual(wf.permissions, { contents: "read" });
        assert.deepEqual(job.permissions, { contents: "write", "pull-requests": "write" });
    });
    it("runs the canary CLI on prod with the inputs as variables (never spliced into a script), then a pull request", () => {
        const runs = job.steps.map((st) => st.run ?? "").join("\n");
        assert.match(runs, /npm run promote -- prod "\$\{args\[@\]\}"/);
        assert.doesNotMatch(runs, /\$\{\{\s*(inputs|github\.event)\./, "an input interpolated into a shell script");
        for (const input of ["release", "hostname", "steps", "interval", "max-error-rate", "max-p99"]) {
            assert.ok(Object.values(job.env ?? {}).includes(`\${{ inputs.${input} }}`), `input ${input} is passed as a variable`);
        }
        assert.match(runs, /git push origin "HEAD:refs\/heads\/\$branch"/, "pushed to a branch of its own");
        assert.doesNotMatch(runs, /refs\/heads\/main|push origin main/, "never pushed to main");
        assert.match(runs, /gh pr create --base/);
    });
});

describe("the checks fail on a bad workflow", () => {
    const checkout = "actions/checkout@11d5960a326750d5838078e36cf38b85af677262";
    const good = (): Workflow => ({
        on: { pull_request: { branches: ["main"] } },
        permissions: { contents: "read" },
        jobs: { test: { "runs-on": "ubuntu-latest", steps: [{ uses: checkout }, { run: "npm test" }] } },
    });
    const problemsOf = (edit: (wf: Workflow) => void) => {
        const wf = good();
        edit(wf);
        return checkWorkflow("bad.yml", wf);
    };
    const testJob = (wf: Workflow) => wf.jobs!.test;

    it("a good pull-request workflow passes", () => {
        assert.deepEqual(checkWorkflow("good.yml", good()), []);
    });

    it("a pull-request job that references a secret (step env, with:, job env, secrets: inherit)", () => {
        const cases: ((wf: Workflow) => void)[] = [
            (wf) => ((testJob(wf).steps as object[])[1] = { run: "x", env: { K: "${{ secrets.PROD_SSH_PRIVATE_KEY }}" } }),
            (wf) => ((testJob(wf).steps as object[])[0] = { uses: checkout, with: { token: "${{ secrets['PAT'] }}" } }),
            (wf) => (testJob(wf).env = { P: "${{ toJSON(secrets) }}" }),
            (wf) => (wf.jobs = { call: { uses: "./.github/workflows/up.yml", secrets: "inherit" } }),
        ];
        for (const edit of cases) assert.match(problemsOf(edit).join("\n"), /references secrets/);
    });

    it("a pull-request workflow with a secret at the top, or no permissions, or a write permission", () => {
        assert.match(problemsOf((wf) => (wf.env = { B: "${{ secrets.PULUMI_BACKEND_URL }}" })).join("\n"), /references secrets outside its jobs/);
        assert.match(problemsOf((wf) => delete wf.permissions).join("\n"), /does not set `permissions:`/);
        assert.match(problemsOf((wf) => (wf.permissions = "write-all")).join("\n"), /grants a write permission/);
        assert.match(problemsOf((wf) => (testJob(wf).permissions = { "pull-requests": "write" })).join("\n"), /grants a write permission/);
    });

    it("a pull-request job with the GitHub token, an environment, or a self-hosted runner", () => {
        assert.match(
            problemsOf((wf) => ((testJob(wf).steps as object[])[1] = { run: "x", env: { T: "${{ github.token }}" } })).join("\n"),
            /references the GitHub token/,
        );
        assert.match(problemsOf((wf) => (testJob(wf).environment = "production")).join("\n"), /has an environment/);
        assert.match(problemsOf((wf) => (testJob(wf).environment = { name: "production-preview" })).join("\n"), /has an environment/);
        assert.match(problemsOf((wf) => (testJob(wf)["runs-on"] = ["self-hosted", "prod"])).join("\n"), /not GitHub-hosted/);
    });

    it("pull_request_target, in any `on:` form", () => {
        for (const on of ["pull_request_target", ["push", "pull_request_target"], { pull_request_target: { types: ["opened"] } }]) {
            const problems = problemsOf((wf) => (wf.on = on));
            assert.match(problems.join("\n"), /runs on pull_request_target/);
        }
        // …and its jobs count as pull-request jobs.
        const withSecret = problemsOf((wf) => {
            wf.on = "pull_request_target";
            testJob(wf).env = { K: "${{ secrets.X }}" };
        });
        assert.match(withSecret.join("\n"), /runs on a pull request and references secrets/);
    });

    it("an action pinned by tag, branch or short SHA", () => {
        for (const ref of ["actions/checkout@v4", "actions/checkout@main", "actions/checkout@11d5960", "actions/checkout@11D5960A326750D5838078E36CF38B85AF677262"]) {
            assert.match(problemsOf((wf) => ((testJob(wf).steps as object[])[0] = { uses: ref })).join("\n"), /not pinned by a 40-hex commit SHA/);
        }
        assert.match(problemsOf((wf) => (wf.jobs = { call: { uses: "org/repo/.github/workflows/x.yml@v1" } })).join("\n"), /not pinned/);
    });

    it("a job outside pull requests that references secrets without an environment", () => {
        const problems = problemsOf((wf) => {
            wf.on = { push: { branches: ["main"] } };
            testJob(wf).env = { P: "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}" };
        });
        assert.match(problems.join("\n"), /references secrets but has no environment/);
        assert.deepEqual(
            problemsOf((wf) => {
                wf.on = { push: { branches: ["main"] } };
                testJob(wf).env = { P: "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}" };
                testJob(wf).environment = "production";
            }),
            [],
        );
    });

    it("a workflow_run workflow that checks out, sets up node, runs a shell step, calls a workflow, or sets no permissions", () => {
        const afterRun = (job: Job, withPermissions = true): string[] =>
            checkWorkflow("after.yml", { on: { workflow_run: { workflows: ["preview"], types: ["completed"] } }, ...(withPermissions ? { permissions: {} } : {}), jobs: { post: job } });
        const post = { "runs-on": "ubuntu-latest", permissions: { "pull-requests": "write" } };
        assert.deepEqual(afterRun({ ...post, steps: [{ uses: "actions/github-script@60a0d83039c74a4aee543508d2ffcb1c3799cdea" }] }), []);
        assert.match(afterRun({ ...post, steps: [{ uses: checkout }] }).join("\n"), /checks out code/);
        assert.match(afterRun({ ...post, steps: [{ uses: "actions/setup-node@49933ea5288caeca8642d1e84afbd3f7d6820020" }] }).join("\n"), /sets up a toolchain/);
        assert.match(afterRun({ ...post, steps: [{ run: "npm ci" }] }).join("\n"), /runs shell steps/);
        assert.match(afterRun({ uses: "./.github/workflows/up.yml" }).join("\n"), /calls another workflow/);
        assert.match(afterRun({ ...post, steps: [] }, false).join("\n"), /does not set `permissions:`/);
    });

    it("a `uses:` line without its version comment, or pinned by tag", () => {
        const yml = [
            "    steps:",
            `      - uses: ${checkout} # v4.4.0`,
            `      - uses: ${checkout}`,
            "      - uses: actions/setup-node@v4 # v4",
            `        uses: ${checkout} # pinned`,
        ].join("\n");
        assert.deepEqual(
            checkPinComments("bad.yml", yml).map((p) => p.split(":")[1]),
            ["3", "4", "5"],
        );
    });
});
