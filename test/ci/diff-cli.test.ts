// `npm run diff -- <stack> [--base <ref>]` on a scratch git repository: main holds the committed stack files, a
// branch edits them in the working tree. The domain section, the resource section (the program under mocks) and
// the exit codes, as a reviewer reads them in a pull request.
import * as assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { runDiff } from "../../scripts/diff";

const ROOT = path.resolve(__dirname, "..", "..");
let repo: string;

const git = (...args: string[]) => execFileSync("git", args, { cwd: repo, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
const stackFile = (stack: string) => path.join(repo, `Pulumi.${stack}.yaml`);
const committed = (stack: string) => fs.readFileSync(path.join(ROOT, `Pulumi.${stack}.yaml`), "utf8");

/** The working tree's stack file: the committed one with `edits` applied (each must match). */
function edit(stack: string, edits: readonly [string, string][]): void {
    let text = committed(stack);
    for (const [from, to] of edits) {
        assert.ok(text.includes(from), `Pulumi.${stack}.yaml has no ${JSON.stringify(from)}`);
        text = text.replace(from, to);
    }
    fs.writeFileSync(stackFile(stack), text);
}

/** The lines of one `#### <title>` section of the output. */
function section(out: string, title: string): string[] {
    const start = out.indexOf(`#### ${title}\n`);
    if (start < 0) return [];
    const rest = out.slice(start + title.length + 6);
    const end = rest.indexOf("\n#### ");
    return (end < 0 ? rest : rest.slice(0, end)).split("\n").filter((l) => l.startsWith("- "));
}

before(() => {
    repo = fs.mkdtempSync(path.join(os.tmpdir(), "swarm-platform-diff-"));
    git("init", "-q", "-b", "main");
    git("config", "user.email", "diff@example.invalid");
    git("config", "user.name", "diff test");
    for (const stack of ["dev", "prod"]) fs.writeFileSync(stackFile(stack), committed(stack));
    git("add", ".");
    git("commit", "-q", "-m", "stacks");
    git("checkout", "-q", "-b", "change");
});
after(() => fs.rmSync(repo, { recursive: true, force: true }));

describe("npm run diff", () => {
    test("no change: says so in both sections, names the stack and the base, and that it is predicted", async () => {
        fs.writeFileSync(stackFile("dev"), committed("dev"));
        const r = await runDiff(["dev"], repo);
        assert.equal(r.code, 0, r.stderr);
        const base = git("rev-parse", "main").slice(0, 12);
        const [title, , predicted] = r.stdout.split("\n");
        assert.equal(title, "### Platform change: stack `dev`");
        assert.match(predicted, /^> Predicted from the stack config, not read from the live platform: `Pulumi\.dev\.yaml` at the merge-base with `main` \(([0-9a-f]{12})\)/);
        assert.ok(predicted.includes(base), predicted);
        assert.match(r.stdout, /\nNo change to the platform\.\n/);
        assert.match(r.stdout, /#### Resources\n[\s\S]*\nNo resource changes\.\n$/);
        assert.ok(!r.stdout.includes("```mermaid"), "no diagram when nothing changes");
    });

    test("a promotion: the hostname moves 1.9 → 2.0; only the gateway routes files are rewritten", async () => {
        edit("dev", [
            ['{ name: "1.9", hostnames: [stary.sklep.localhost], env', '{ name: "1.9", env'],
            ["hostnames: [nowy.sklep.localhost, sklep.localhost]", "hostnames: [nowy.sklep.localhost, sklep.localhost, stary.sklep.localhost]"],
        ]);
        const r = await runDiff(["dev"], repo);
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(section(r.stdout, "Hostnames"), ["- `stary.sklep.localhost`: `1.9` → `2.0`"]);
        assert.deepEqual(section(r.stdout, "Releases"), []);
        assert.match(r.stdout, /0 to create, 2 to update, 0 to replace, 0 to delete\./);
        assert.deepEqual(section(r.stdout, "Resources"), [
            "- **update** `platform-gateway-routes-gw-1` (command local Command): `stdin`",
            "- **update** `platform-gateway-routes-gw-2` (command local Command): `stdin`",
        ]);
        // The diagram marks exactly the moved hostname (and its arrow), nothing else.
        const diagram = /```mermaid\n([\s\S]*?)\n```/.exec(r.stdout)?.[1] ?? "";
        const marked = /^\s*class (\S+) changed$/m.exec(diagram)?.[1] ?? "";
        const hostId = new RegExp(`^\\s*(\\S+)\\(\\["stary\\.sklep\\.localhost"\\]\\)$`, "m").exec(diagram)?.[1];
        assert.ok(hostId, diagram);
        assert.deepEqual(marked.split(","), [hostId], diagram);
    });

    test("an added release: its service is created and the routes are rewritten", async () => {
        edit("dev", [['        - { name: "2.0", hostnames', '        - { name: "2.1", hostnames: [beta.sklep.localhost], replicas: 1 }\n        - { name: "2.0", hostnames']]);
        const r = await runDiff(["dev"], repo);
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(section(r.stdout, "Hostnames"), ["- `beta.sklep.localhost`: added → `shop 2.1`"]);
        assert.match(section(r.stdout, "Releases").join("\n"), /^- `shop 2\.1`: \*\*added\*\* \(image `swarm-platform\/demo-app:2\.1`, replicas `1`, zone `dmz`/);
        const resources = section(r.stdout, "Resources");
        assert.ok(resources.includes("- **create** `platform-shop-2-1-service` (docker Service)"), resources.join("\n"));
        assert.ok(resources.some((l) => /^- \*\*update\*\* `platform-gateway-routes-gw-1` .*`stdin`/.test(l)), resources.join("\n"));
        assert.ok(!resources.some((l) => /\*\*(replace|delete)\*\*/.test(l)), "nothing replaced or deleted");
        assert.ok(!resources.some((l) => /platform-shop-(1-9|2-0)-/.test(l)), "the other releases are untouched");
    });

    test("an added node: its container and swarm join are created, the node is named in the domain section", async () => {
        edit("dev", [
            ["    - { name: worker-1, role: worker, zone: intra, address: 172.28.40.14 }", "    - { name: worker-1, role: worker, zone: intra, address: 172.28.40.14 }\n    - { name: worker-2, role: worker, zone: intra, address: 172.28.40.15 }"],
        ]);
        const r = await runDiff(["dev"], repo);
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(section(r.stdout, "Nodes"), ["- `worker-2`: **added** (role `worker`, zone `intra`, address `172.28.40.15`)"]);
        const resources = section(r.stdout, "Resources");
        assert.ok(resources.includes("- **create** `platform-nodes-worker-2` (docker Container)"), resources.join("\n"));
        assert.ok(resources.some((l) => /^- \*\*create\*\* `platform-swarm-join-worker-2`/.test(l)), resources.join("\n"));
        assert.ok(!resources.some((l) => /\*\*(replace|delete)\*\*/.test(l)), resources.join("\n"));
    });

    test("a replace-forcing change: a new zone subnet replaces the network and the services on it follow", async () => {
        edit("dev", [["dmz: { subnet: 10.209.1.0/24 }", "dmz: { subnet: 10.209.3.0/24 }"]]);
        const r = await runDiff(["dev"], repo);
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(section(r.stdout, "Networks"), ["- `zone-dmz` gateway: `10.209.1.1` → `10.209.3.1`", "- `zone-dmz` subnet: `10.209.1.0/24` → `10.209.3.0/24`"]);
        const resources = section(r.stdout, "Resources");
        assert.ok(resources.includes("- **replace** `platform-networks-zone-dmz` (docker Network): `ipamConfigs`"), resources.join("\n"));
        for (const service of ["platform-shop-1-9-service", "platform-shop-2-0-service"]) {
            const line = resources.find((l) => l.includes(`\`${service}\``));
            assert.match(line ?? "", /^- \*\*replace\*\* .*`taskSpec\.networksAdvanceds`.*\(follows `platform-networks-zone-dmz`, replaced\)$/, resources.join("\n"));
        }
        assert.ok(!resources.some((l) => l.includes("platform-stock-1-0-service")), "stock is in intra: untouched");
    });

    test("secrets: placeholders, `changed` only for a new ciphertext, never a value or a ciphertext in the output", async () => {
        const withSecrets = (key: string) =>
            committed("prod").replace(
                "  swarm-platform:dns:",
                `  swarm-platform:sshPrivateKey:\n    secure: v1:SSHKEYCIPHER\n  swarm-platform:tlsSklepCert:\n    secure: v1:CERTCIPHER\n  swarm-platform:tlsSklepKey:\n    secure: ${key}\n  swarm-platform:dns:`,
            );
        fs.writeFileSync(stackFile("prod"), withSecrets("v1:OLDKEYCIPHER"));
        git("commit", "-q", "-am", "prod secrets");
        try {
            fs.writeFileSync(stackFile("prod"), withSecrets("v1:OLDKEYCIPHER"));
            const same = await runDiff(["prod", "--base", "HEAD"], repo);
            assert.equal(same.code, 0, same.stderr);
            assert.match(same.stdout, /\nNo change to the platform\.\n/);

            fs.writeFileSync(stackFile("prod"), withSecrets("v1:NEWKEYCIPHER"));
            const r = await runDiff(["prod", "--base", "HEAD"], repo);
            assert.equal(r.code, 0, r.stderr);
            assert.match(r.stdout, /at `HEAD` \([0-9a-f]{12}\)/);
            assert.deepEqual(section(r.stdout, "Secrets"), ["- `tlsSklepKey ‹secret›`: changed (new ciphertext) (used by `gateway.tls[0].keySecret`)"]);
            assert.doesNotMatch(r.stdout, /CIPHER|secret-stand-in/, "no ciphertext and no stand-in value");
            const resources = section(r.stdout, "Resources");
            assert.ok(resources.includes("- **replace** `platform-gateway-tls-0-key` (docker Secret): `data`"), resources.join("\n"));
            assert.ok(!resources.some((l) => l.includes("platform-gateway-tls-0-crt")), "the certificate's ciphertext did not change");
        } finally {
            git("reset", "-q", "--hard", "HEAD~1");
        }
    });

    test("a stack file missing at the base: everything is added, and the header says so", async () => {
        fs.writeFileSync(stackFile("staging"), committed("dev"));
        try {
            const r = await runDiff(["staging"], repo);
            assert.equal(r.code, 0, r.stderr);
            assert.match(r.stdout, /where it does not exist \(everything is added\)/);
            assert.ok(section(r.stdout, "Nodes").every((l) => l.includes("**added**")));
            assert.ok(section(r.stdout, "Resources").every((l) => l.startsWith("- **create** ")));
            assert.match(r.stdout, /\d+ to create, 0 to update, 0 to replace, 0 to delete\./);
        } finally {
            fs.rmSync(stackFile("staging"));
        }
    });

    test("an invalid stack file in the working tree: every error with its key path, exit 1, nothing on stdout", async () => {
        edit("dev", [
            ["managerApiPort: 23750", "managerApiPort: 70000"],
            ["virtualRouterId: 51", "virtualRouterId: 300"],
        ]);
        const r = await runDiff(["dev"], repo);
        assert.equal(r.code, 1);
        assert.equal(r.stdout, "");
        assert.match(r.stderr, /^Pulumi\.dev\.yaml is invalid \(\d+ errors\):/);
        assert.match(r.stderr, /virtualIp\.virtualRouterId: /);
        assert.match(r.stderr, /drivers\.docker\.managerApiPort: must be a port/);
    });

    test("usage errors: exit 2 with the usage line", async () => {
        for (const argv of [[], ["dev", "prod"], ["dev", "--base"], ["dev", "--base", "no-such-ref"], ["dev", "--colour"], ["nope"]]) {
            const r = await runDiff(argv, repo);
            assert.equal(r.code, 2, `${argv.join(" ")}: ${r.stderr}`);
            assert.match(r.stderr, /usage: npm run diff -- <stack> \[--base <git ref>\]/, argv.join(" "));
            assert.equal(r.stdout, "");
        }
    });

    test("the npm script's entry point prints the report and exits 0 (a process, in this repository)", () => {
        const r = spawnSync(process.execPath, ["--import", "tsx", path.join(ROOT, "scripts", "diff.ts"), "dev", "--base", "HEAD"], { cwd: ROOT, encoding: "utf8" });
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stdout, /^### Platform change: stack `dev`\n\n> Predicted from the stack config, not read from the live platform/);
        assert.match(r.stdout, /#### Resources/);
    });
});
