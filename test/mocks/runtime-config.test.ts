// readRuntimeConfig: what the program sees under the Pulumi CLI (pulumi.runtime.allConfig, secrets marked as the CLI
// marks them) goes through the same checks as a stack file, before any resource is declared.
import * as assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { readRuntimeConfig, runtimeEntries } from "../../model/runtime-config";
import { ConfigValidationError } from "../../model/validation";
import { PROJECT, stackConfig } from "./harness";

const SECRETS = { sshPrivateKey: "KEY", tlsSklepCert: "CERT", tlsSklepKey: "TLSKEY" };

/** The prod stack's config as the CLI hands it over: plain values as JSON or bare strings, secrets listed as secret. */
async function setRuntimeConfig(opts: { extra?: Record<string, string>; secrets?: Record<string, string>; plain?: Record<string, string> }): Promise<void> {
    await pulumi.runtime.setMocks({ newResource: (a) => ({ id: a.name, state: a.inputs }), call: (a) => a.inputs }, PROJECT, "prod", false);
    const config: Record<string, string> = {};
    for (const [k, v] of Object.entries(stackConfig("prod"))) config[`${PROJECT}:${k}`] = typeof v === "string" ? v : JSON.stringify(v);
    for (const [k, v] of Object.entries({ ...(opts.secrets ?? SECRETS), ...opts.plain })) config[`${PROJECT}:${k}`] = v;
    Object.assign(config, opts.extra);
    pulumi.runtime.setAllConfig(config, Object.keys(opts.secrets ?? SECRETS).map((k) => `${PROJECT}:${k}`));
}

function errorsOf(fn: () => unknown): string[] {
    try {
        fn();
    } catch (err) {
        assert.ok(err instanceof ConfigValidationError, String(err));
        assert.match(err.message, /^stack prod config is invalid/);
        return err.errors.map((e) => `${e.path}: ${e.message}`);
    }
    return [];
}

describe("readRuntimeConfig", () => {
    it("reads prod with its secrets, all keys of every namespace seen", async () => {
        await setRuntimeConfig({ extra: { "docker:host": "unix:///x", "pulumi:tags": "{}" } });
        const { config, secrets } = readRuntimeConfig(PROJECT);
        assert.equal(config.driver, "ssh");
        assert.deepEqual(Object.keys(secrets).sort(), ["sshPrivateKey", "tlsSklepCert", "tlsSklepKey"]);
        const entries = runtimeEntries(PROJECT);
        assert.deepEqual(entries.filter((e) => e.secret).map((e) => e.key).sort(), ["swarm-platform:sshPrivateKey", "swarm-platform:tlsSklepCert", "swarm-platform:tlsSklepKey"]);
        assert.ok(entries.some((e) => e.key === "docker:host" && !e.secret));
    });

    it("rejects a misspelled prefix, extra colons and a foreign namespace, with guesses", async () => {
        await setRuntimeConfig({ extra: { "swarm-platfrom:nodes": "[]", "swarm-platform:apps:junk": "1", "aws:region": "eu-central-1" } });
        assert.deepEqual(errorsOf(() => readRuntimeConfig(PROJECT)), [
            'swarm-platfrom:nodes: unknown namespace "swarm-platfrom": did you mean swarm-platform:nodes?',
            "swarm-platform:apps:junk: a config key has exactly one ':' (<namespace>:<name>): nested values go inside the value of swarm-platform:apps",
            'aws:region: unknown namespace "aws": keys are swarm-platform:<key>, or pulumi:, docker:, command:, random: for Pulumi and the providers in use',
        ]);
    });

    it("rejects a referenced secret set in plain text, naming the key and the command, never the value", async () => {
        await setRuntimeConfig({ secrets: { sshPrivateKey: "KEY", tlsSklepCert: "CERT" }, plain: { tlsSklepKey: "PLAIN-TLS-KEY" } });
        const errors = errorsOf(() => readRuntimeConfig(PROJECT));
        assert.deepEqual(errors, [
            "swarm-platform:tlsSklepKey: is a secret (gateway.tls[tls-0].keySecret) but written in plain text: remove it and set it with pulumi config set --secret tlsSklepKey < <file>",
        ]);
        assert.ok(!errors.join("\n").includes("PLAIN-TLS-KEY"));
    });

    it("names a missing secret where the config references it, by entity", async () => {
        await setRuntimeConfig({ secrets: { sshPrivateKey: "KEY", tlsSklepKey: "K" } });
        assert.deepEqual(errorsOf(() => readRuntimeConfig(PROJECT)), [
            'gateway.tls[tls-0].certificateSecret: secret "tlsSklepCert" is not set (pulumi config set --secret tlsSklepCert < <file>)',
        ]);
    });

    it("guesses a misspelled platform key and rejects an unused secret", async () => {
        await setRuntimeConfig({ extra: { "swarm-platform:gatway": "{}" }, secrets: { ...SECRETS, oldKey: "x" } });
        assert.deepEqual(errorsOf(() => readRuntimeConfig(PROJECT)), [
            "swarm-platform:gatway: unknown config key: did you mean swarm-platform:gateway?",
            "swarm-platform:oldKey: secret not used by this config (a …Secret key names each secret; remove a stale one with pulumi config rm oldKey)",
        ]);
    });
});
