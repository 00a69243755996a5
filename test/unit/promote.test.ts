// Promotion across stacks and the secrets a stack needs: pure functions, tested without Pulumi.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { promoteReleases } from "../../stacks/promote";
import { secretRefsOf } from "../../stacks/secrets";
import { parseConfig } from "../../stacks/validate";
import { readStackFile } from "../../stacks/config";
import * as path from "node:path";

const ROOT = path.resolve(__dirname, "../..");
const stack = (name: string) => readStackFile(path.join(ROOT, `Pulumi.${name}.yaml`)).config;
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

    it("names the missing app in either stack", () => {
        assert.throws(() => promoteReleases(dev(), prod(), { app: "cart" }), /source stack has no app "cart" \(apps: shop, stock\)/);
        assert.throws(() => promoteReleases(dev(), prod().filter((a) => a.name !== "shop"), { app: "shop" }), /target stack has no app "shop"/);
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
});
