// Promotion across stacks and the secrets a stack needs: pure functions, tested without Pulumi.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseConfig } from "../../model";
import { parseStackFile } from "../../model/config";
import { promoteReleases, writeAppReleases } from "../../model/promote";
import { secretRefsOf } from "../../model/secrets";
import { BASE, mutate, stackConfig, unset } from "./fixtures";

const stack = (name: "dev" | "prod") => stackConfig(name);
type Apps = Parameters<typeof promoteReleases>[0];

describe("promoteReleases", () => {
    const dev = () => structuredClone(stack("dev").apps) as Apps;
    const prod = () => structuredClone(stack("prod").apps) as Apps;

    it("a new release arrives in the target unrouted, keeping the target's hostnames for known releases", () => {
        const source = dev();
        source[0].releases.push({ name: "2.1", hostnames: ["beta.sklep.localhost"], env: { RELEASE: "2.1" } });
        const { apps, changes } = promoteReleases(source, prod(), { app: "shop" });
        const shop = apps.find((a) => a.name === "shop")!;
        assert.deepEqual(shop.releases.map((r) => [r.name, r.hostnames]), [
            ["1.9", ["stary.sklep.pl"]],
            ["2.0", ["nowy.sklep.pl", "sklep.pl"]],
            ["2.1", []],
        ]);
        assert.deepEqual(changes, ["+ release 2.1 (no hostname yet)"]);
        assert.deepEqual(apps.find((a) => a.name === "stock"), prod().find((a) => a.name === "stock"), "other apps untouched");
    });

    it("with a domain map, hostnames move too and are taken off the release that had them", () => {
        const source = dev();
        // In dev, sklep.localhost was rolled back to 1.9.
        source[0].releases[1].hostnames = ["nowy.sklep.localhost"];
        source[0].releases[0].hostnames = ["stary.sklep.localhost", "sklep.localhost"];
        const { apps } = promoteReleases(source, prod(), { app: "shop", domainMap: { "sklep.localhost": "sklep.pl" } });
        const shop = apps.find((a) => a.name === "shop")!;
        assert.deepEqual(shop.releases.map((r) => [r.name, r.hostnames]), [
            ["1.9", ["stary.sklep.pl", "sklep.pl"]],
            ["2.0", ["nowy.sklep.pl"]],
        ]);
        // The promoted target is still a valid prod config.
        parseConfig({ ...stack("prod"), apps });
    });

    it("keeps target-only releases unless pruned, so a rollback target stays deployed", () => {
        const source = dev();
        source[0].releases = source[0].releases.filter((r) => r.name === "2.0");
        const kept = promoteReleases(source, prod(), { app: "shop" }).apps.find((a) => a.name === "shop")!;
        assert.deepEqual(kept.releases.map((r) => r.name), ["2.0", "1.9"]);
        const pruned = promoteReleases(source, prod(), { app: "shop", prune: true });
        assert.deepEqual(pruned.apps.find((a) => a.name === "shop")!.releases.map((r) => r.name), ["2.0"]);
        assert.deepEqual(pruned.changes, ["- release 1.9"]);
    });

    it("an unchanged release is no change; a changed tag or env is one", () => {
        assert.deepEqual(promoteReleases(prod(), prod(), { app: "shop" }).changes, []);
        const source = prod();
        source[0].releases[0].tag = "1.9.1";
        source[0].releases[1].env = { RELEASE: "2.0", DEBUG: "1" };
        const { apps, changes } = promoteReleases(source, prod(), { app: "shop" });
        assert.deepEqual(changes, ["~ release 1.9", "~ release 2.0"]);
        const shop = apps.find((a) => a.name === "shop")!;
        assert.equal(shop.releases[0].tag, "1.9.1");
        assert.deepEqual(shop.releases[1].env, { RELEASE: "2.0", DEBUG: "1" });
        assert.deepEqual(shop.releases[1].hostnames, ["nowy.sklep.pl", "sklep.pl"], "the target keeps its hostnames");
    });

    it("the domain map rewrites a hostname equal to a key or ending in .<key>, and drops the others", () => {
        const source = dev();
        source[0].releases[0].hostnames = ["sklep.localhost", "a.sklep.localhost", "xsklep.localhost", "other.localhost"];
        const { apps, changes } = promoteReleases(source, prod(), { app: "shop", domainMap: { "sklep.localhost": "sklep.pl" } });
        assert.deepEqual(apps.find((a) => a.name === "shop")!.releases[0].hostnames, ["sklep.pl", "a.sklep.pl"]);
        assert.ok(changes.includes("~ release 1.9"));
        const added = dev();
        added[0].releases.push({ name: "2.1", hostnames: ["beta.sklep.localhost"] });
        const result = promoteReleases(added, prod(), { app: "shop", domainMap: { "sklep.localhost": "sklep.pl" } });
        assert.ok(result.changes.includes("+ release 2.1 on beta.sklep.pl"), result.changes.join("\n"));
    });

    it("a release of the target the source also has keeps the target's other fields", () => {
        const target = prod();
        target[0].releases[0].replicas = 5;
        const { apps } = promoteReleases(dev(), target, { app: "shop" });
        assert.equal(apps.find((a) => a.name === "shop")!.releases[0].replicas, 5);
    });

    it("a promoted release without tag or env gets none; a release without hostnames maps to none", () => {
        const source = dev();
        source[0].releases = [{ name: "3.0" }];
        const { apps, changes } = promoteReleases(source, prod(), { app: "shop", domainMap: { "sklep.localhost": "sklep.pl" } });
        const promoted = apps.find((a) => a.name === "shop")!.releases.find((r) => r.name === "3.0")!;
        assert.deepStrictEqual(promoted, { name: "3.0", hostnames: [] });
        assert.deepEqual(changes, ["+ release 3.0 (no hostname yet)"]);
    });

    it("a new release with several mapped hostnames lists them all", () => {
        const source = dev();
        source[0].releases.push({ name: "2.1", hostnames: ["a.sklep.localhost", "b.sklep.localhost"] });
        const { changes } = promoteReleases(source, prod(), { app: "shop", domainMap: { "sklep.localhost": "sklep.pl" } });
        assert.ok(changes.includes("+ release 2.1 on a.sklep.pl, b.sklep.pl"), changes.join("\n"));
    });

    it("a kept target release loses the hostnames promoted onto another release, and keeps a missing list empty", () => {
        const target = prod();
        target[0].releases.push({ name: "1.8", hostnames: ["sklep.pl", "old.sklep.pl"] }, { name: "1.7" });
        const { apps, changes } = promoteReleases(dev(), target, { app: "shop", domainMap: { "sklep.localhost": "sklep.pl" } });
        const shop = apps.find((a) => a.name === "shop")!;
        assert.deepEqual(shop.releases.map((r) => [r.name, r.hostnames]), [
            ["1.9", ["stary.sklep.pl"]],
            ["2.0", ["nowy.sklep.pl", "sklep.pl"]],
            ["1.8", ["old.sklep.pl"]],
            ["1.7", []],
        ]);
        assert.ok(changes.includes("~ release 1.8 (hands sklep.pl to the promoted releases)"), changes.join("\n"));
        assert.ok(!changes.some((c) => c.includes("1.7")), "a kept release that loses nothing is no change");
    });

    it("pruning removes only the releases the source lacks", () => {
        const { changes, apps } = promoteReleases(dev(), prod(), { app: "shop", prune: true });
        assert.deepEqual(changes, []);
        assert.deepEqual(apps.find((a) => a.name === "shop")!.releases.map((r) => r.name), ["1.9", "2.0"]);
    });

    it("names the missing app in either stack", () => {
        assert.throws(() => promoteReleases(dev(), prod(), { app: "cart" }), /source stack has no app "cart" \(apps: shop, stock\)/);
        assert.throws(() => promoteReleases(dev(), prod().filter((a) => a.name !== "shop"), { app: "shop" }), /target stack has no app "shop"/);
        assert.throws(() => promoteReleases([], prod(), { app: "shop" }), /\(apps: none\)/);
    });
});

describe("writeAppReleases: the target stack file, rewritten only where the releases change", () => {
    const TARGET = `# prod, with comments everywhere
config:
  swarm-platform:apps:
    - name: shop
      zone: dmz   # the public one
      releases:
        # the previous release, kept for rollback
        - { name: "1.9", hostnames: [stary.sklep.pl], env: { RELEASE: "1.9" } }
        - { name: "2.0", hostnames: [nowy.sklep.pl, sklep.pl], env: { RELEASE: "2.0" } }   # current
    - name: stock
      zone: intra
      releases:
        - { name: "1.0", env: { RELEASE: "stock-1.0" } }   # stock's only release
  swarm-platform:dns: { ttl: 60 }
`;
    type Releases = Parameters<typeof writeAppReleases>[2];
    const appsOf = (text: string) => parseStackFile(text).config.apps as { name: string; releases: Releases }[];
    const shopOf = (text: string) => appsOf(text).find((a) => a.name === "shop")!.releases;
    const lines = (text: string) => text.split("\n");

    it("the same releases give the same bytes", () => {
        assert.equal(writeAppReleases(TARGET, "shop", shopOf(TARGET)), TARGET);
    });

    it("a changed release is rewritten in the file's flow style, keeping the comment above it and the one after it", () => {
        const releases = structuredClone(shopOf(TARGET)) as { name: string; hostnames?: string[]; env?: Record<string, string> }[];
        releases[1].hostnames = ["nowy.sklep.pl"];
        releases[0].hostnames = ["stary.sklep.pl", "sklep.pl"];
        const out = writeAppReleases(TARGET, "shop", releases);
        const changed = lines(TARGET).map((l, i) => (l === lines(out)[i] ? undefined : i)).filter((i) => i !== undefined);
        assert.deepEqual(changed, [7, 8], "only the two release lines differ");
        assert.equal(lines(out)[7], `        - { name: "1.9", hostnames: [stary.sklep.pl, sklep.pl], env: { RELEASE: "1.9" } }`);
        assert.equal(lines(out)[8], `        - { name: "2.0", hostnames: [nowy.sklep.pl], env: { RELEASE: "2.0" } }   # current`);
        assert.deepEqual(shopOf(out), releases);
    });

    it("a new release gets its siblings' indentation and the key order of the source's entry; a quoted name stays a string", () => {
        const releases = [...shopOf(TARGET), { name: "2.1", env: { RELEASE: "2.1" }, hostnames: [] as string[] }];
        const source = [{ name: "2.1", hostnames: ["beta.sklep.localhost"], env: { RELEASE: "2.1" } }];
        const out = writeAppReleases(TARGET, "shop", releases, source);
        assert.equal(lines(out)[9], `        - { name: "2.1", hostnames: [], env: { RELEASE: "2.1" } }`);
        assert.equal(lines(out).length, lines(TARGET).length + 1);
        assert.equal(shopOf(out)[2].name, "2.1");
        assert.deepEqual(appsOf(out).find((a) => a.name === "stock"), appsOf(TARGET).find((a) => a.name === "stock"));
    });

    it("a pruned release goes with its comment lines; another order of releases moves whole entries", () => {
        const [old, current] = shopOf(TARGET);
        const pruned = writeAppReleases(TARGET, "shop", [current]);
        assert.doesNotMatch(pruned, /kept for rollback|"1\.9"/);
        assert.match(pruned, /^ {8}- \{ name: "2\.0".*# current$/m);
        const swapped = writeAppReleases(TARGET, "shop", [current, old]);
        assert.deepEqual(shopOf(swapped).map((r) => r.name), ["2.0", "1.9"]);
        assert.match(swapped, /# current\n {8}# the previous release, kept for rollback\n {8}- \{ name: "1\.9"/);
    });

    it("block-style entries are rewritten as blocks at their indentation; a flow list is written again as a flow list", () => {
        const block = `config:
  swarm-platform:apps:
    - name: shop
      releases:
        - name: "1.9"
          hostnames:
            - stary.sklep.pl
        # the current one
        - name: "2.0"
          hostnames: [sklep.pl]
`;
        const out = writeAppReleases(block, "shop", [{ name: "1.9", hostnames: ["stary.sklep.pl"] }, { name: "2.0", hostnames: ["sklep.pl", "nowy.sklep.pl"] }]);
        assert.equal(out, block.replace("          hostnames: [sklep.pl]\n", "          hostnames:\n            - sklep.pl\n            - nowy.sklep.pl\n"));
        const flow = `config:\n  swarm-platform:apps:\n    - { name: shop, releases: [{ name: "1.9" }] }  # one line\n`;
        const flowOut = writeAppReleases(flow, "shop", [{ name: "1.9" }, { name: "2.0", hostnames: ["sklep.pl"] }]);
        assert.equal(flowOut, `config:\n  swarm-platform:apps:\n    - { name: shop, releases: [{ name: "1.9" }, { name: "2.0", hostnames: [sklep.pl] }] }  # one line\n`);
    });

    it("a file ending without a newline keeps ending so; a value that needs quotes in flow style gets them", () => {
        const text = TARGET.replace(/\n {2}swarm-platform:dns.*\n$/, "").replace(/ {3}# stock's only release$/, "");
        assert.ok(!text.endsWith("\n"));
        const out = writeAppReleases(text, "stock", [{ name: "1.0", env: { RELEASE: "stock-1.0", NOTE: "a, b: c" } }]);
        assert.ok(out.endsWith(`- { name: "1.0", env: { RELEASE: "stock-1.0", NOTE: "a, b: c" } }`), out);
        assert.deepEqual(appsOf(out).find((a) => a.name === "stock")!.releases, [{ name: "1.0", env: { RELEASE: "stock-1.0", NOTE: "a, b: c" } }]);
    });

    it("names what it cannot find", () => {
        assert.throws(() => writeAppReleases(TARGET, "cart", []), /swarm-platform:apps has no app "cart"/);
        assert.throws(() => writeAppReleases("config:\n  swarm-platform:dns: {}\n", "shop", []), /no swarm-platform:apps list/);
        assert.throws(() => writeAppReleases("config: [", "shop", []), /not valid YAML/);
    });
});

describe("secretRefsOf", () => {
    it("lists the prod stack's secrets with the key path that names each", () => {
        const refs = secretRefsOf(parseConfig(stack("prod")));
        assert.deepEqual(refs, [
            { path: "drivers.ssh.privateKeySecret", key: "sshPrivateKey" },
            { path: "gateway.tls[0].certificateSecret", key: "tlsSklepCert" },
            { path: "gateway.tls[0].keySecret", key: "tlsSklepKey" },
        ]);
    });

    it("needs no secret config for dev: its only secrets are generated", () => {
        assert.deepEqual(secretRefsOf(parseConfig(stack("dev"))), []);
    });

    it("a stack without a virtual IP or ssh nodes needs only its certificates' secrets", () => {
        const config = mutate(BASE, (d) => {
            unset(d, "virtualIp");
            d.gateway.tls = [{ name: "shop", hostnames: ["sklep.example"], certificateSecret: "shopCert", keySecret: "shopKey" }];
        });
        assert.deepEqual(secretRefsOf(parseConfig(config)), [
            { path: "gateway.tls[0].certificateSecret", key: "shopCert" },
            { path: "gateway.tls[0].keySecret", key: "shopKey" },
        ]);
    });

    it("a VRRP password and a registry password are secrets too; a registry is only read with registry delivery", () => {
        const config = mutate(BASE, (d) => {
            d.virtualIp.passwordSecret = "vrrpPassword";
            d.gateway.delivery = "registry";
            d.gateway.registry = { server: "registry.example.com", username: "ci", passwordSecret: "registryPassword" };
        });
        assert.deepEqual(secretRefsOf(parseConfig(config)), [
            { path: "virtualIp.passwordSecret", key: "vrrpPassword" },
            { path: "gateway.registry.passwordSecret", key: "registryPassword" },
        ]);
    });
});
