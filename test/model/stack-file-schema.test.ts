// The committed JSON Schema checked by a standard validator (ajv, JSON Schema 2020-12, with formats) against both
// stack files as they are, and against broken copies: what an editor with the yaml-language-server line shows.
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, test } from "node:test";
import Ajv2020 from "ajv/dist/2020";
import addFormats from "ajv-formats";
import * as YAML from "yaml";
import { JSON_SCHEMA_FILE } from "../../scripts/json-schema";
import { ROOT } from "./fixtures";

const SCHEMA = JSON.parse(fs.readFileSync(JSON_SCHEMA_FILE, "utf8")) as { $schema: string };
const ajv = new Ajv2020({ allErrors: true, strict: true });
addFormats(ajv);
const validate = ajv.compile(SCHEMA);

const STACKS = ["dev", "prod"] as const;
const stackText = (stack: string) => fs.readFileSync(path.join(ROOT, `Pulumi.${stack}.yaml`), "utf8");

/** ajv's errors as `instancePath keyword (detail)` lines, or [] when the document is valid. */
function schemaErrors(text: string): string[] {
    if (validate(YAML.parse(text))) return [];
    return (validate.errors ?? []).map((e) => `${e.instancePath} ${e.keyword}${e.params && "additionalProperty" in e.params ? ` (${String(e.params.additionalProperty)})` : ""}`);
}

describe("the stack file JSON Schema, checked by ajv", () => {
    test("is a JSON Schema 2020-12 document that ajv compiles in strict mode", () => {
        assert.equal(SCHEMA.$schema, "https://json-schema.org/draft/2020-12/schema");
        assert.equal(typeof validate, "function");
    });

    for (const stack of STACKS) {
        test(`Pulumi.${stack}.yaml points at it on its first line and is valid`, () => {
            const text = stackText(stack);
            assert.equal(text.split("\n")[0], `# yaml-language-server: $schema=./${path.relative(ROOT, JSON_SCHEMA_FILE)}`);
            assert.ok(fs.existsSync(path.join(ROOT, path.relative(ROOT, JSON_SCHEMA_FILE))));
            assert.deepEqual(schemaErrors(text), []);
        });
    }

    test("Pulumi's own top-level keys, provider keys and secure: secrets are valid", () => {
        const text = `encryptionsalt: v1:abc\nsecretsprovider: passphrase\nenvironment: [shared]\n${stackText("prod")}`.replace(
            /^config:\n/m,
            "config:\n  swarm-platform:sshPrivateKey:\n    secure: AAABAKx0c2VjcmV0\n  docker:host: unix:///var/run/docker.sock\n  pulumi:tags: { team: web }\n  random:x: 1\n  command:y: z\n",
        );
        assert.deepEqual(schemaErrors(text), []);
    });

    const broken: [string, (text: string) => string, string][] = [
        // Any other swarm-platform: key can only be a secret: a plain map there lacks `secure`.
        ["a misspelled platform key", (t) => t.replace("swarm-platform:virtualIp:", "swarm-platform:virtualIP:"), "/config/swarm-platform:virtualIP required"],
        ["a misspelled project prefix", (t) => t.replace("swarm-platform:dns:", "swarm-platfrom:dns:"), "/config additionalProperties (swarm-platfrom:dns)"],
        ["a key with extra colons", (t) => t.replace("swarm-platform:dns:", "swarm-platform:dns:ttl:"), "/config additionalProperties (swarm-platform:dns:ttl)"],
        ["a foreign namespace", (t) => t.replace(/^config:\n/m, "config:\n  aws:region: eu-central-1\n"), "/config additionalProperties (aws:region)"],
        ["a key without a namespace", (t) => t.replace(/^config:\n/m, "config:\n  driver: ssh\n"), "/config additionalProperties (driver)"],
        ["a misspelled key deep inside", (t) => t.replace("ttl: 60", "tll: 60"), "/config/swarm-platform:dns additionalProperties (tll)"],
        ["a number where a string is expected (an unquoted release name)", (t) => t.replace('name: "2.0"', "name: 2.0"), "/config/swarm-platform:apps/0/releases/1/name type"],
        ["a secret in plain text", (t) => t.replace(/^config:\n/m, "config:\n  swarm-platform:sshPrivateKey: hunter2\n"), "/config/swarm-platform:sshPrivateKey type"],
        ["a platform key written as a secret", (t) => t.replace("  swarm-platform:dns:\n    ttl: 60\n", "  swarm-platform:dns:\n    secure: AAAB\n"), "/config/swarm-platform:dns additionalProperties (secure)"],
        ["a misspelled top-level key", (t) => `secretprovider: passphrase\n${t}`, " additionalProperties (secretprovider)"],
    ];
    for (const [name, breakIt, error] of broken) {
        test(`rejects ${name}`, () => {
            const text = breakIt(stackText("prod"));
            assert.notEqual(text, stackText("prod"), "the change applies");
            const errors = schemaErrors(text);
            assert.ok(errors.includes(error), `expected ${error}; got:\n${errors.join("\n")}`);
        });
    }
});
