// The generated JSON Schema and reference table: up to date, documented, and in step with the zod checks.
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import { describe, test } from "node:test";
import fc from "fast-check";
import { isCidr, isIpv4 } from "../../stacks/net";
import { buildJsonSchema, JSON_SCHEMA_FILE, README_FILE, referenceRows, REFERENCE_FILE, renderMarkdown, withReadmeReference, type JsonSchema } from "../../scripts/json-schema";

const schema = buildJsonSchema();
const rows = referenceRows(schema);

describe("generated schema files", () => {
    test("schema/stack-config.schema.json is up to date (npm run schema)", () => {
        assert.equal(fs.readFileSync(JSON_SCHEMA_FILE, "utf8"), JSON.stringify(schema, null, 2) + "\n");
    });

    test("schema/config-reference.md is up to date (npm run schema -- --markdown)", () => {
        assert.equal(fs.readFileSync(REFERENCE_FILE, "utf8"), renderMarkdown(rows));
    });

    test("the README's config reference is the generated table (npm run schema -- --markdown)", () => {
        const readme = fs.readFileSync(README_FILE, "utf8");
        assert.equal(readme, withReadmeReference(readme, renderMarkdown(rows)));
    });

    test("every key has a description", () => {
        assert.deepEqual(rows.filter((r) => !r.description).map((r) => r.key), []);
    });

    test("the reference lists nested keys with their defaults", () => {
        const row = (key: string) => rows.find((r) => r.key === key);
        assert.equal(row("virtualIp.vrrpVersion")?.default, "`2`");
        assert.equal(row("nodes[].zone")?.default, "**required**");
        assert.equal(row("networks.zones.<zone>.subnet")?.type, "IPv4 network (CIDR)");
        assert.equal(row("apps[].releases[].hostnames")?.default, "`[]`");
    });
});

describe("schema hints agree with the checks", () => {
    const props = schema.properties as Record<string, JsonSchema>;
    const cidrPattern = new RegExp(String(props.swarm.properties?.defaultAddrPool.items?.pattern));
    const octet = fc.integer({ min: 0, max: 300 });
    const dotted = fc.tuple(octet, octet, octet, octet).map((o) => o.join("."));

    test("every CIDR the validator accepts matches the JSON Schema pattern", () => {
        fc.assert(
            fc.property(dotted, fc.integer({ min: 0, max: 40 }), (ip, prefix) => {
                const text = `${ip}/${prefix}`;
                if (isCidr(text)) assert.ok(cidrPattern.test(text), text);
                if (!cidrPattern.test(text)) assert.ok(!isCidr(text), text);
            }),
            { numRuns: 300 },
        );
    });

    test("IPv4 fields are marked format: ipv4", () => {
        assert.equal(props.nodes.items?.properties?.address.format, "ipv4");
        fc.assert(fc.property(dotted, (ip) => assert.equal(isIpv4(ip), ip.split(".").every((o) => Number(o) <= 255))));
    });
});
