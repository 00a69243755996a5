// `npm run promote` end to end on stack files in a temporary directory: what it shows, what it writes (only the
// promoted releases; comments and layout stay), that render accepts the result, the preview it runs through the
// Pulumi wrapper (a fake `pulumi` records it), and that a dry run or an invalid promotion writes nothing.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import * as YAML from "yaml";
import { renderStackFile } from "../../scripts/render";

const ROOT = path.resolve(__dirname, "..", "..");
const dirs: string[] = [];
after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

const RECORDER = `{ printf 'pulumi:'; for a in "$@"; do printf ' [%s]' "$a"; done; printf ' passphrase=%s cwd=%s\\n' "\${PULUMI_CONFIG_PASSPHRASE-<unset>}" "$PWD"; } >> "$FAKE_PULUMI_LOG"`;

/** dev as it stands after a rollback in dev (sklep.localhost back on 1.9) and a new release 2.1 on beta. */
function devLike(): string {
    const text = fs.readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8");
    const rolledBack = text
        .replace(`{ name: "1.9", hostnames: [stary.sklep.localhost]`, `{ name: "1.9", hostnames: [stary.sklep.localhost, sklep.localhost]`)
        .replace(`{ name: "2.0", hostnames: [nowy.sklep.localhost, sklep.localhost], env: { RELEASE: "2.0" } }`, `{ name: "2.0", hostnames: [nowy.sklep.localhost], env: { RELEASE: "2.0" } }\n        - { name: "2.1", hostnames: [beta.sklep.localhost], env: { RELEASE: "2.1" } }`);
    assert.notEqual(rolledBack, text);
    return rolledBack;
}

/** prod with a comment on a release that the promotion leaves alone and one on a release it changes. */
function prodLike(): string {
    const text = fs.readFileSync(path.join(ROOT, "Pulumi.prod.yaml"), "utf8");
    const commented = text
        .replace(`        - { name: "1.0", env: { RELEASE: "stock-1.0" } }`, `        # stock stays where it is\n        - { name: "1.0", env: { RELEASE: "stock-1.0" } }   # untouched`)
        .replace(`env: { RELEASE: "2.0" } }`, `env: { RELEASE: "2.0" } }   # live since March`);
    assert.notEqual(commented, text);
    return commented;
}

interface Project {
    readonly dir: string;
    readonly target: string;
    readonly log: string;
    readonly env: NodeJS.ProcessEnv;
}

/** A project directory with both stack files, a fake `pulumi` on PATH, and the prod passphrase set. */
function project(opts: { cli?: boolean } = {}): Project {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "swarm-promote-"));
    dirs.push(dir);
    fs.writeFileSync(path.join(dir, "Pulumi.dev.yaml"), devLike());
    fs.writeFileSync(path.join(dir, "Pulumi.prod.yaml"), prodLike());
    const bin = path.join(dir, "bin");
    fs.mkdirSync(bin);
    if (opts.cli ?? true) fs.writeFileSync(path.join(bin, "pulumi"), `#!/bin/sh\n${RECORDER}\n`, { mode: 0o755 });
    const log = path.join(dir, "pulumi.log");
    const env: NodeJS.ProcessEnv = {
        PATH: bin,
        HOME: dir,
        PULUMI_HOME: path.join(dir, "pulumi-home"),
        PULUMI_CONFIG_PASSPHRASE: "prod-passphrase",
        FAKE_PULUMI_LOG: log,
        // No npm package either: its launcher would try to download the CLI.
        SWARM_PLATFORM_TEST_PULUMI_PACKAGE_BIN: path.join(dir, "no-package", "pulumi"),
    };
    return { dir, target: path.join(dir, "Pulumi.prod.yaml"), log, env };
}

function promote(p: Project, args: string[], env: NodeJS.ProcessEnv = {}) {
    const r = spawnSync(process.execPath, ["--import", "tsx", path.join(ROOT, "scripts", "promote.ts"), "--dir", p.dir, ...args], {
        cwd: ROOT,
        env: { ...p.env, ...env },
        encoding: "utf8",
        timeout: 60_000,
    });
    const calls = fs.existsSync(p.log) ? fs.readFileSync(p.log, "utf8").trim().split("\n") : [];
    return { status: r.status, stdout: r.stdout, stderr: r.stderr, calls };
}

const SHOP = ["--from", "dev", "--to", "prod", "--app", "shop", "--domain", "sklep.localhost=sklep.pl"];

describe("npm run promote, end to end on stack files", () => {
    it("promotes shop to prod: shows the change first, writes only shop's releases as structured YAML with every comment kept, render accepts it, then previews prod", () => {
        const p = project();
        const before = fs.readFileSync(p.target, "utf8");
        const r = promote(p, SHOP);
        assert.equal(r.status, 0, r.stderr);
        assert.equal(r.stderr, "");
        const shown = r.stdout.indexOf("~ release 2.0");
        assert.ok(shown >= 0 && shown < r.stdout.indexOf(`wrote ${p.target}`), `the change is shown before the write:\n${r.stdout}`);
        assert.match(r.stdout, /promote shop: dev → prod \(.*Pulumi\.prod\.yaml\)\n {2}~ release 1\.9\n {2}~ release 2\.0\n {2}\+ release 2\.1 on beta\.sklep\.pl\n/);
        // Then the platform-level change of prod, in the diff's words, still before the write.
        const platform = r.stdout.indexOf("- `beta.sklep.pl`: added → `shop 2.1`");
        assert.ok(platform > shown && platform < r.stdout.indexOf(`wrote ${p.target}`), r.stdout);

        const after = fs.readFileSync(p.target, "utf8");
        const [a, b] = [before.split("\n"), after.split("\n")];
        const firstDiff = a.findIndex((l, i) => l !== b[i]);
        assert.equal(a.slice(0, firstDiff).join("\n"), b.slice(0, firstDiff).join("\n"));
        assert.deepEqual(b.slice(firstDiff, firstDiff + 3), [
            `        - { name: "1.9", hostnames: [stary.sklep.pl, sklep.pl], env: { RELEASE: "1.9" } }`,
            `        - { name: "2.0", hostnames: [nowy.sklep.pl], env: { RELEASE: "2.0" } }   # live since March`,
            `        - { name: "2.1", hostnames: [beta.sklep.pl], env: { RELEASE: "2.1" } }`,
        ]);
        assert.deepEqual(b.slice(firstDiff + 3), a.slice(firstDiff + 2), "everything after shop's releases is as it was");
        assert.match(after, /# stock stays where it is\n {8}- \{ name: "1\.0", env: \{ RELEASE: "stock-1\.0" \} \} {3}# untouched\n/);
        assert.match(after, /^# yaml-language-server: \$schema=\S+\n# prod: existing machines over SSH/, "the header comments stay");

        const apps = (YAML.parse(after) as { config: Record<string, unknown> }).config["swarm-platform:apps"];
        assert.ok(Array.isArray(apps), "apps is a YAML list, not a JSON string");
        const rendered = renderStackFile(p.target);
        assert.ok(rendered.ok, rendered.ok ? "" : rendered.errors);

        assert.deepEqual(r.calls, [`pulumi: [preview] [--stack] [prod] passphrase=prod-passphrase cwd=${p.dir}`], "the preview of the target, through the wrapper");
    });

    it("--dry-run shows the same change and leaves the file byte-identical, with no preview", () => {
        const p = project();
        const before = fs.readFileSync(p.target);
        const r = promote(p, [...SHOP, "--dry-run"]);
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stdout, /~ release 2\.0\n {2}\+ release 2\.1 on beta\.sklep\.pl\n[\s\S]*- `beta\.sklep\.pl`: added → `shop 2\.1`[\s\S]*\ndry run: Pulumi\.prod\.yaml not written\.\n$/);
        assert.ok(fs.readFileSync(p.target).equals(before));
        assert.deepEqual(r.calls, []);
    });

    it("an invalid promotion prints every error with its key path and writes nothing", () => {
        const p = project();
        const before = fs.readFileSync(p.target);
        const r = promote(p, ["--from", "dev", "--to", "prod", "--app", "shop", "--domain", "sklep.localhost=Sklep_PL"]);
        assert.equal(r.status, 1);
        assert.equal(r.stdout, "", "nothing shown as if it were done");
        assert.match(r.stderr, /^promoting shop would make .*Pulumi\.prod\.yaml invalid \(4 errors\); nothing written:\n/);
        for (const key of ["apps[shop].releases[1.9].hostnames[0]", "apps[shop].releases[1.9].hostnames[1]", "apps[shop].releases[2.0].hostnames[0]", "apps[shop].releases[2.1].hostnames[0]"]) {
            assert.ok(r.stderr.includes(`  - ${key}: `), `${key} missing:\n${r.stderr}`);
        }
        assert.ok(fs.readFileSync(p.target).equals(before));
        assert.deepEqual(r.calls, []);
    });

    it("without a Pulumi CLI it writes the file, says in one line that the preview was skipped, and exits 0", () => {
        const p = project({ cli: false });
        const r = promote(p, SHOP);
        assert.equal(r.status, 0, r.stderr);
        const last = r.stdout.trim().split("\n").pop();
        assert.match(last ?? "", /^preview skipped: Pulumi CLI not available: no `pulumi` on PATH, and the npm package `pulumi` is not installed .*; `npm run preview -- prod` shows it where Pulumi can run\.$/);
        assert.match(fs.readFileSync(p.target, "utf8"), /name: "2\.1"/);
    });

    it("without a passphrase for prod it writes the file and skips the preview naming the variable", () => {
        const p = project();
        const r = promote(p, SHOP, { PULUMI_CONFIG_PASSPHRASE: undefined });
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stdout, /preview skipped: stack prod: set PULUMI_CONFIG_PASSPHRASE/);
        assert.deepEqual(r.calls, []);
    });

    it("promoting again changes nothing and writes nothing", () => {
        const p = project();
        assert.equal(promote(p, SHOP).status, 0);
        const written = fs.readFileSync(p.target);
        const again = promote(p, SHOP);
        assert.equal(again.status, 0, again.stderr);
        assert.match(again.stdout, /no release changes\nNo change to the platform\.\nPulumi\.prod\.yaml already holds these releases; nothing written\.\n$/);
        assert.ok(fs.readFileSync(p.target).equals(written));
    });

    it("an unknown stack, an unknown app and a bad --domain are one clear line each, no stack trace", () => {
        const p = project();
        const stack = promote(p, ["--from", "dev", "--to", "staging", "--app", "shop"]);
        assert.equal(stack.status, 1);
        assert.equal(stack.stderr, `no stack file for stack "staging": ${path.join(p.dir, "Pulumi.staging.yaml")} does not exist (stacks in ${p.dir}: dev, prod)\n`);
        const app = promote(p, ["--from", "dev", "--to", "prod", "--app", "cart"]);
        assert.equal(app.status, 1);
        assert.equal(app.stderr, `cannot promote cart from dev to prod: apps: the source stack has no app "cart" (apps: shop, stock)\n`);
        const domain = promote(p, ["--from", "dev", "--to", "prod", "--app", "shop", "--domain", "sklep.localhost"]);
        assert.equal(domain.status, 2);
        assert.match(domain.stderr, /^--domain sklep\.localhost: expected <from>=<to>, e.g\. sklep\.localhost=sklep\.pl\n$/);
        const usage = promote(p, ["--from", "dev"]);
        assert.equal(usage.status, 2);
        assert.match(usage.stderr, /^missing --to, --app\nusage: npm run promote -- --from <stack> --to <stack> --app <app>/);
        assert.ok(!fs.existsSync(p.log), "pulumi never ran");
    });
});
