// The config as a whole: the base config, stack files, all errors at once, the error words, the generated JSON
// Schema, and the plan's independence from the order of every list in the config.
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import { describe, test } from "node:test";
import fc from "fast-check";
import { ConfigValidationError, formatErrors, parseConfig, planStack, renderAll, type StackConfigInput, validateConfig } from "../../model";
import { parseStackFile } from "../../model/config";
import { NODE_SCRIPTS, nodeScriptBody, nodeScriptFile, nodeScriptLibFiles, nodeScriptLibs, renderEnvelope, renderNodeScript, type NodeScript } from "../../model/scripts";
import { readTemplate, renderTemplate, shellSafe, TEMPLATES_DIR } from "../../model/templates";
import { intToIp, ipToInt, isCidr, isIpv4, parseCidr, reservedAddresses } from "../../model/net";
import { compare, sortedBy, sortedRecord } from "../../model/order";
import { buildJsonSchema, JSON_SCHEMA_FILE, README_FILE, referenceRows, REFERENCE_FILE, renderMarkdown, withReadmeReference, type JsonSchema } from "../../scripts/json-schema";
import { BASE, type Draft, errorsOf, invalidConfigs, json, mutate, partial, planOf, showErrors, stackConfig, unset, useGroups, validConfigs, validOrThrow } from "./fixtures";

const DEV = stackConfig("dev");
const PROD = stackConfig("prod");

describe("the base config", () => {
    test("is valid", () => {
        validOrThrow(BASE);
    });

    test("both committed stack files are valid", () => {
        validOrThrow(DEV);
        validOrThrow(PROD);
    });
});

invalidConfigs(
    "config",
    [
        {
            name: "an unknown top-level key",
            change: (d) => Object.assign(d, { gatway: {} }),
            path: "(root)",
            words: ['unknown key "gatway"'],
        },
        {
            name: "two unknown keys in one map",
            change: (d) => Object.assign(d.gateway, { engin: "nginx", port: 80 }),
            path: "gateway",
            words: ['unknown keys "engin", "port"'],
        },
        {
            name: "a stack driver that does not exist",
            change: (d) => Object.assign(d, { driver: "kubernetes" }),
            path: "driver",
            words: ['must be one of "docker", "ssh"'],
        },
        {
            name: "a map where a list is expected",
            change: (d) => Object.assign(d.swarm, { defaultAddrPool: { a: "10.0.0.0/8" } }),
            path: "swarm.defaultAddrPool",
            words: ["must be an array (got a map)"],
        },
        {
            name: "a list where a map is expected",
            change: (d) => Object.assign(d, { dns: [] }),
            path: "dns",
            words: ["must be an object (got a list)"],
        },
        {
            name: "null where a number is expected",
            change: (d) => Object.assign(d.dns, { ttl: null }),
            path: "dns.ttl",
            words: ["must be a number (got null)"],
        },
        {
            name: "a number where a string is expected",
            change: (d) => Object.assign(d.nodes[0], { name: 1 }),
            path: "nodes[0].name",
            words: ["must be a string (got 1)"],
        },
        {
            name: "a string where a boolean is expected",
            change: (d) => Object.assign(d.swarm, { autolock: "yes" }),
            path: "swarm.autolock",
            words: ["must be a boolean (got a string)"],
        },
        {
            name: "no zones at all: every node and app names the empty zone list",
            change: (d) => (d.networks.zones = {}),
            path: "nodes[0].zone",
            words: ['unknown zone "intra" (zones: none; declare zones under networks.zones)'],
            count: 8,
        },
    ],
    9,
);

// The shared field types (model/fields.ts, model/net.ts): each pattern is what the consuming tool accepts.
const LABEL63 = "a".repeat(63);
const HOST253 = [LABEL63, LABEL63, LABEL63, "b".repeat(61)].join(".");

invalidConfigs(
    "field",
    [
        {
            name: "a hostname longer than 253 characters",
            change: (d) => (d.apps[1].releases[0].hostnames = [`${HOST253}c`]),
            path: "apps[1].releases[0].hostnames[0]",
            words: ["lower-case DNS name"],
        },
        {
            name: "a hostname label longer than 63 characters",
            change: (d) => (d.apps[1].releases[0].hostnames = [`${LABEL63}a.example`]),
            path: "apps[1].releases[0].hostnames[0]",
            words: ["lower-case DNS name"],
        },
        {
            name: "a hostname label ending in a hyphen",
            change: (d) => (d.apps[1].releases[0].hostnames = ["stock-.example"]),
            path: "apps[1].releases[0].hostnames[0]",
            words: ["lower-case DNS name"],
        },
        {
            name: "a hostname with an empty label",
            change: (d) => (d.apps[1].releases[0].hostnames = ["stock..example"]),
            path: "apps[1].releases[0].hostnames[0]",
            words: ["lower-case DNS name"],
        },
        {
            name: "a node name longer than 63 characters",
            change: (d) => (d.nodes[5].name = `${LABEL63}a`),
            path: "nodes[5].name",
            words: ["node name must be at most 63 characters"],
        },
        {
            name: "a node name ending in a hyphen",
            change: (d) => (d.nodes[5].name = "worker-"),
            path: "nodes[5].name",
            words: ["node name must be lower-case letters, digits and '-' (DNS-safe)"],
        },
        {
            name: "a node name starting with a hyphen",
            change: (d) => (d.nodes[5].name = "-worker"),
            path: "nodes[5].name",
            words: ["DNS-safe"],
        },
        {
            name: "an upper-case ssh user",
            change: (d) => (d.drivers.ssh.user = "Deploy"),
            path: "drivers.ssh.user",
            words: ["a user name like deploy"],
        },
        {
            name: "an ssh user longer than 32 characters",
            change: (d) => (d.drivers.ssh.user = "d".repeat(33)),
            path: "drivers.ssh.user",
            words: ["a user name like deploy"],
        },
        {
            name: "an ssh option with a blank",
            change: (d) => (d.drivers.ssh.sshOpts = ["-o StrictHostKeyChecking=no"]),
            path: "drivers.ssh.sshOpts[0]",
            words: ["one ssh argument without spaces or quotes"],
        },
        {
            name: "a health path without its leading slash",
            change: (d) => (d.virtualIp.healthCheck.path = "healthz"),
            path: "virtualIp.healthCheck.path",
            words: ["a URL path like /healthz"],
        },
        {
            name: "a lower-case capability",
            change: (d) => (d.drivers.docker.capabilities = { add: ["net_admin"], drop: [] }),
            path: "drivers.docker.capabilities.add[0]",
            words: ["capability names are upper-case, like NET_ADMIN"],
        },
        {
            name: "a secret reference starting with a digit",
            change: (d) => (d.drivers.ssh.privateKeySecret = "1key"),
            path: "drivers.ssh.privateKeySecret",
            words: ["must name a secret config key"],
        },
        {
            name: "an image starting with a slash",
            change: (d) => (d.apps[0].image = "/shop"),
            path: "apps[0].image",
            words: ["lower-case image reference"],
        },
        {
            name: "a label value with a carriage return",
            change: (d) => (d.nodes[5].labels = { rack: "a\rb" }),
            path: "nodes[5].labels.rack",
            words: ["label values are one line"],
        },
        {
            name: "a label key starting with a dot",
            change: (d) => (d.nodes[5].labels = { ".rack": "a" }),
            path: "nodes[5].labels..rack",
            words: ["label keys are letters, digits, '.', '_' and '-'"],
        },
        {
            name: "an app env name that is not a shell identifier",
            change: (d) => (d.apps[0].env = { "APP-MODE": "x" }),
            path: "apps[0].env.APP-MODE",
            words: ["env names are shell identifiers"],
        },
        {
            name: "a zone key that is not DNS-safe",
            change: (d) => (d.networks.zones = partial({ dmz: { subnet: "10.209.1.0/24" }, intra: { subnet: "10.209.2.0/24" }, Extra: {} })),
            path: "networks.zones.Extra",
            words: ["zone must be lower-case letters, digits and '-' (DNS-safe)"],
        },
        {
            name: "an IPv4 octet above 255",
            change: (d) => (d.nodes[5].address = "172.28.40.256"),
            path: "nodes[5].address",
            words: ["must be an IPv4 address like 10.0.0.1"],
        },
        {
            name: "an IPv4 octet with a leading zero",
            change: (d) => (d.nodes[5].address = "172.28.40.031"),
            path: "nodes[5].address",
            words: ["must be an IPv4 address"],
        },
        {
            name: "a docker node just past the bridge subnet",
            change: (d) => (d.nodes[5].address = "172.28.41.0"),
            path: "nodes[5].address",
            words: ["172.28.41.0 is outside the docker driver network 172.28.40.0/24"],
        },
        {
            name: "a CIDR prefix above 32",
            change: (d) => (d.swarm.defaultAddrPool = ["10.208.0.0/33"]),
            path: "swarm.defaultAddrPool[0]",
            words: ["must be an IPv4 network like 10.0.0.0/24 (no host bits set)"],
        },
    ],
    22,
);

validConfigs("field", [
    { name: "a hostname of exactly 253 characters", change: (d) => (d.apps[1].releases[0].hostnames = [HOST253]) },
    { name: "a node name of exactly 63 characters", change: (d) => (d.nodes[5].name = LABEL63) },
    {
        name: "one-character names and hostname labels",
        change: (d) => {
            d.nodes[5].name = "w";
            d.apps[1].releases[0].hostnames = ["s.e"];
        },
    },
    { name: "an ssh user of 32 characters with digits, '_' and '-'", change: (d) => (d.drivers.ssh.user = `_${"d".repeat(29)}-1`) },
    { name: "label keys and values with dots, dashes and blanks", change: (d) => (d.nodes[5].labels = { "com.example.rack-id": "a b", R: "" }) },
    { name: "an image with a registry port and a digest", change: (d) => (d.apps[0].image = "registry.example.com:5000/team/shop@sha256") },
    { name: "a URL path with dots, tildes and slashes", change: (d) => (d.virtualIp.healthCheck.path = "/_health/v1.0/~ok") },
]);

describe("all errors at once", () => {
    const FIVE_MISTAKES = mutate(BASE, (d) => {
        d.nodes[3].zone = "dmx"; // unknown zone
        d.nodes[5].name = "gw-2"; // duplicate node name
        d.virtualIp.advertInt = 0.5; // VRRPv2 whole seconds
        d.apps[1].zone = "intr"; // unknown app zone
        d.gateway.ports.https = 80; // http == https
    });
    const PATHS = ["nodes[3].zone", "nodes[5].name", "virtualIp.advertInt", "apps[1].zone", "gateway.ports.https"];

    test("five independent mistakes yield five errors", () => {
        const errors = errorsOf(FIVE_MISTAKES);
        assert.deepEqual(errors.map((e) => e.path).sort(), [...PATHS].sort(), showErrors(errors));
    });

    test("five shape mistakes yield five errors", () => {
        const errors = errorsOf(
            mutate(BASE, (d) => {
                d.nodes[0].address = "10.0.0";
                Object.assign(d.nodes[1], { role: "leader" });
                d.virtualIp.virtualRouterId = 300;
                d.apps[0].port = 0;
                Object.assign(d.dns, { tll: 60 });
            }),
        );
        assert.deepEqual(
            errors.map((e) => e.path).sort(),
            ["apps[0].port", "dns", "nodes[0].address", "nodes[1].role", "virtualIp.virtualRouterId"],
            showErrors(errors),
        );
    });

    test("a shape mistake hides the cross-key rules (they need a well-formed config)", () => {
        const errors = errorsOf(
            mutate(BASE, (d) => {
                d.apps[0].port = 0;
                d.gateway.ports.https = 80;
            }),
        );
        assert.deepEqual(errors.map((e) => e.path), ["apps[0].port"]);
    });

    test("parseConfig throws a ConfigValidationError listing every path", () => {
        assert.throws(
            () => parseConfig(FIVE_MISTAKES, "Pulumi.test.yaml"),
            (err: unknown) => {
                assert.ok(err instanceof ConfigValidationError);
                assert.equal(err.name, "ConfigValidationError");
                assert.equal(err.errors.length, 5);
                assert.match(err.message, /^Pulumi\.test\.yaml is invalid \(5 errors\):\n/);
                for (const p of PATHS) assert.ok(err.message.includes(`  - ${p}: `), `message lists ${p}:\n${err.message}`);
                return true;
            },
        );
    });

    test("one error is told in the singular, from the default source", () => {
        const err = new ConfigValidationError([{ path: "dns.ttl", message: "too small" }]);
        assert.equal(err.message, "stack config is invalid (1 error):\n  - dns.ttl: too small");
        assert.equal(formatErrors([{ path: "a", message: "x" }, { path: "b[0]", message: "y" }]), "  - a: x\n  - b[0]: y");
    });

    test("parseConfig returns the config with its defaults filled", () => {
        const config = parseConfig(BASE);
        assert.equal(config.gateway.stopGracePeriod, 30);
        assert.equal(config.localEngine, "unix:///var/run/docker.sock");
    });

    test("a missing required key and a wrong type are told apart", () => {
        const errors = errorsOf(
            mutate(BASE, (d) => {
                unset(d.nodes[0], "role");
                Object.assign(d, { apps: "shop" });
            }),
        );
        assert.deepEqual(
            errors.map((e) => `${e.path}: ${e.message}`),
            ['nodes[0].role: is required (one of "manager", "worker")', "apps: must be an array (got a string)"],
        );
    });

    test("validateConfig of nothing asks for nodes", () => {
        for (const raw of [undefined, null, {}]) {
            const result = validateConfig(raw);
            assert.equal(result.ok, false);
            assert.deepEqual(result.ok ? [] : result.errors.map((e) => `${e.path}: ${e.message}`), ["nodes: is required (array)"]);
        }
    });

    test(
        "a bad record key keeps the key rule's own words (label keys, env names, zone names)",
        () => {
            const cases: [(d: Draft) => void, string, string][] = [
                [(d) => (d.nodes[5].labels = { "rack no": "a" }), "nodes[5].labels.rack no", "label keys are letters"],
                [(d) => (d.apps[0].env = { "1BAD": "x" }), "apps[0].env.1BAD", "shell identifiers"],
                [(d) => (d.networks.zones = { ...d.networks.zones, DMZ: partial({}) }), "networks.zones.DMZ", "zone must be lower-case"],
            ];
            for (const [change, path, words] of cases) {
                const errors = errorsOf(mutate(BASE, change));
                assert.ok(errors.some((e) => e.path === path && e.message.includes(words)), showErrors(errors));
            }
        },
    );
});

describe("parseStackFile", () => {
    const FILE = [
        "config:",
        "  swarm-platform:driver: ssh",
        "  swarm-platform:node:",
        "    - { name: m1 }",
        "  swarm-platform:sshPrivateKey:",
        "    secure: AAABAKx0c2VjcmV0",
        "  swarm-platform:tlsSklepCert:",
        "    secure: AAABAGNlcnQ=",
        "  docker:host: unix:///var/run/docker.sock",
        "  aws:region: eu-central-1",
    ].join("\n");

    test("an unknown swarm-platform: key is an error at that key", () => {
        const file = parseStackFile(FILE);
        assert.deepEqual(file.errors.map((e) => e.path), ["node"]);
        assert.match(file.errors[0].message, /unknown config key "swarm-platform:node"/);
        assert.match(file.errors[0].message, /\(keys: localEngine, driver, drivers, nodes, swarm, networks, virtualIp, gateway, apps, dns, firewall; secrets are set with --secret\)$/);
    });

    test("secure: keys are collected as secretKeys, not config", () => {
        const file = parseStackFile(FILE);
        assert.deepEqual([...file.secretKeys], ["sshPrivateKey", "tlsSklepCert"]);
        assert.deepEqual(file.config, { driver: "ssh" });
    });

    test("other namespaces are ignored", () => {
        const file = parseStackFile(FILE);
        assert.ok(!("host" in file.config) && !("region" in file.config));
    });

    test("keys without a namespace belong to the project; another project's keys are ignored", () => {
        const file = parseStackFile("config:\n  driver: ssh\n  localEngine: tcp://build:2375\n  dns: { ttl: 5 }\n");
        assert.deepEqual(file.config, { driver: "ssh", localEngine: "tcp://build:2375", dns: { ttl: 5 } });
        const other = parseStackFile("config:\n  other:driver: ssh\n  swarm-platform:driver: docker\n", "other");
        assert.deepEqual(other.config, { driver: "ssh" });
        assert.deepEqual(other.errors.map((e) => e.path), []);
    });

    test("an empty value is kept as null (for the schema to reject), not mistaken for a secret", () => {
        assert.deepEqual(parseStackFile("config:\n  swarm-platform:virtualIp:\n").config, { virtualIp: null });
        assert.deepEqual(parseStackFile("config:\n  swarm-platform:dns: { secure: 1 }\n").secretKeys, ["dns"]);
    });

    test("an empty file, or one without config, is an empty config", () => {
        for (const text of ["", "encryptionsalt: v1:abc\n", "config:\n"]) {
            assert.deepEqual(parseStackFile(text), { config: {}, secretKeys: [], errors: [] });
        }
    });
});

// ---- the generated JSON Schema --------------------------------------------------------------------

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
        assert.equal(row("localEngine")?.default, "`\"unix:///var/run/docker.sock\"`");
        assert.equal(row("virtualIp.groups[].name")?.default, "**required**");
        assert.equal(row("gateway.tls[].name")?.default, "**required**");
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

// ---- list order ------------------------------------------------------------------------------------

/** The same config with every list reversed: nodes, apps, releases, hostnames, pools, certificates, groups. */
function reversed(config: StackConfigInput): StackConfigInput {
    return mutate(config, (d) => {
        d.nodes.reverse();
        d.swarm?.defaultAddrPool?.reverse();
        d.apps.reverse();
        for (const app of d.apps) {
            app.releases.reverse();
            for (const r of app.releases) r.hostnames?.reverse();
        }
        d.gateway?.tls?.reverse();
        for (const t of d.gateway?.tls ?? []) t.hostnames.reverse();
        d.virtualIp?.groups?.reverse();
        if (d.networks?.zones) d.networks.zones = Object.fromEntries(Object.entries(d.networks.zones).reverse());
    });
}

/** BASE with every order-giving field set: a bootstrap manager, gateway priorities, two pools and certificates. */
const RANKED = mutate(BASE, (d) => {
    d.nodes[1].bootstrap = true;
    d.nodes[3].priority = 10;
    d.nodes[4].priority = 20;
    d.swarm.defaultAddrPool = ["10.208.0.0/16", "10.206.0.0/16"];
    d.gateway.tls = [
        { name: "shop", hostnames: ["sklep.example", "nowy.sklep.example", "stary.sklep.example"], certificateSecret: "shopCert", keySecret: "shopKey" },
        { name: "stock", hostnames: ["stock.example"], certificateSecret: "stockCert", keySecret: "stockKey" },
    ];
    d.apps[0].releases[1].hostnames = ["sklep.example", "nowy.sklep.example"];
});

describe("the order of lists in the config does not matter", () => {
    for (const [name, config] of [
        ["BASE with bootstrap, priorities, pools and certificates", RANKED],
        ["Pulumi.dev.yaml", DEV],
        ["Pulumi.prod.yaml", PROD],
    ] as const) {
        test(`${name}: every list reversed gives the same plan`, () => {
            const before = json(planOf(config));
            const after = json(planOf(reversed(config)));
            assert.deepEqual(after, before);
            assert.equal(JSON.stringify(planOf(reversed(config))), JSON.stringify(planOf(config)));
        });
    }

    test("the reversal really reorders every list (else the test above proves nothing)", () => {
        const r = reversed(RANKED);
        assert.deepEqual(r.nodes?.map((n) => n.name)[0], "worker-1");
        assert.deepEqual(r.apps?.map((a) => a.name), ["stock", "shop"]);
        assert.deepEqual(r.swarm?.defaultAddrPool, ["10.206.0.0/16", "10.208.0.0/16"]);
        assert.deepEqual(r.gateway?.tls?.map((t) => t.name), ["stock", "shop"]);
        assert.deepEqual(r.gateway?.tls?.[1].hostnames[0], "stary.sklep.example");
    });

    test(
        "VRRP groups in another order give the same plan",
        () => {
            const grouped = mutate(RANKED, (d) => {
                useGroups(d, [
                    { name: "vip1", address: "172.28.40.100", virtualRouterId: 51 },
                    { name: "vip2", address: "172.28.40.101", virtualRouterId: 52 },
                ]);
            });
            assert.deepEqual(json(planOf(reversed(grouped))), json(planOf(grouped)));
        },
    );

    test("planning a stack twice gives JSON-identical plans", () => {
        for (const config of [DEV, PROD]) assert.equal(JSON.stringify(planOf(config)), JSON.stringify(planOf(config)));
    });

    test("node label keys in another order give the same plan", () => {
        const reordered = mutate(PROD, (d) => {
            d.nodes[3].labels = { rack: "a", "z.extra": "1", "a.extra": "2" };
        });
        const backwards = mutate(reordered, (d) => {
            d.nodes[3].labels = Object.fromEntries(Object.entries(d.nodes[3].labels).reverse());
        });
        assert.equal(JSON.stringify(planOf(reordered)), JSON.stringify(planOf(backwards)));
    });

    test("zones, env and app labels in another order give the same plan", () => {
        const a = mutate(DEV, (d) => {
            d.apps[0].env = { B: "2", A: "1" };
            d.apps[0].labels = { "team.b": "x", "team.a": "y" };
        });
        const b = mutate(DEV, (d) => {
            d.networks.zones = Object.fromEntries(Object.entries(d.networks.zones).reverse());
            d.apps[0].env = { A: "1", B: "2" };
            d.apps[0].labels = { "team.a": "y", "team.b": "x" };
        });
        assert.equal(JSON.stringify(planOf(a)), JSON.stringify(planOf(b)));
    });
});

describe("render", () => {
    test("every artifact once, sorted by path, the plan itself first", () => {
        const plan = planStack(parseConfig(PROD));
        const artifacts = renderAll(plan);
        const paths = artifacts.map((a) => a.path);
        assert.deepEqual(paths, [...paths].sort());
        assert.equal(new Set(paths).size, paths.length);
        assert.deepEqual(artifacts.find((a) => a.path === "plan.json"), { path: "plan.json", content: `${JSON.stringify(plan, null, 2)}\n`, mode: 0o644 });
        for (const p of ["dns/records.json", "dns/zone.db", "gateway/Dockerfile", "gateway/nginx.conf", "gateway/routes.conf", "keepalived/check_gateway.sh", "nodes/gw-1/keepalived.conf", "nodes/gw-2/keepalived.conf", "scripts/swarm-init.sh", "scripts/keepalived-lib.sh", "firewall/gw-1.rules", "firewall/swarm-platform-firewall"]) {
            assert.ok(paths.includes(p), `renders ${p}`);
        }
        assert.equal(artifacts.find((a) => a.path === "scripts/swarm-init.sh")?.mode, 0o755);
        assert.equal(artifacts.find((a) => a.path === "scripts/keepalived-lib.sh")?.mode, 0o644);
        assert.equal(paths.filter((p) => p === "scripts/keepalived-lib.sh").length, 1, "a library shared by two scripts is written once");
        const many = renderAll(
            planOf(
                mutate(BASE, (d) => {
                    for (let i = 0; i < 14; i++) d.nodes.push(partial({ name: `gw-${String.fromCharCode(122 - i)}`, role: "worker", zone: "dmz", address: `172.28.40.${150 + i}`, gateway: true }));
                }),
            ),
        ).map((a) => a.path);
        assert.ok(many.length > 32, "enough artifacts for a merge sort");
        assert.deepEqual(many, [...many].sort());
        const withoutVip = renderAll(planOf(mutate(PROD, (d) => unset(d, "virtualIp")))).map((a) => a.path);
        assert.deepEqual(withoutVip.filter((p) => p.startsWith("keepalived/") || p.startsWith("nodes/")), [], "no keepalived files without a VIP");
    });
});

describe("node scripts", () => {
    test("each script is a file under its concept's template folder; the keepalived scripts carry their library", () => {
        assert.equal(nodeScriptFile("swarm-init"), "swarm/swarm-init.sh");
        assert.equal(nodeScriptFile("ingress-remove"), "networks/ingress-remove.sh");
        for (const name of NODE_SCRIPTS) {
            assert.equal(nodeScriptBody(name), fs.readFileSync(`${TEMPLATES_DIR}/${nodeScriptFile(name)}`, "utf8"), name);
        }
        assert.deepEqual(nodeScriptLibFiles("keepalived-apply"), ["virtual-ip/keepalived-lib.sh"]);
        assert.deepEqual(nodeScriptLibFiles("swarm-init"), []);
        assert.deepEqual(nodeScriptLibs("keepalived-stop"), [readTemplate("virtual-ip/keepalived-lib.sh")]);
        assert.throws(() => nodeScriptFile("nope" as NodeScript), /unknown node script "nope" \(known: node-bootstrap, /);
    });

    test("the envelope exports the node name and every env value base64-encoded, sorted, then runs the body", () => {
        const text = renderEnvelope("demo", "echo hi\n", { node: "gw-1", env: { ZED: "last", ALPHA: "it's\n" } }, ["lib() { :; }\n"]);
        const lines = text.split("\n");
        assert.ok(lines[1].includes('node script "demo" for node gw-1'), lines[1]);
        assert.ok(lines.includes(`sp_env NODE_NAME '${Buffer.from("gw-1").toString("base64")}'`));
        const env = lines.filter((l) => /^sp_env [A-Z]/.test(l) && !l.startsWith("sp_env NODE_NAME"));
        assert.deepEqual(env, [`sp_env ALPHA '${Buffer.from("it's\n").toString("base64")}'`, `sp_env ZED '${Buffer.from("last").toString("base64")}'`]);
        assert.ok(text.includes("\nlib() { :; }\nSP_BODY_OFFSET=$((LINENO + 2))\n"), "libraries before the body offset, without their last newline");
        assert.ok(text.includes("{\necho hi\n} </dev/null"), "the body without its last newline, in braces");
        assert.ok(text.includes('demo failed (line $(($1 - SP_BODY_OFFSET)))'));
        const bare = renderEnvelope("demo", "true", { node: "m-1" });
        assert.ok(bare.includes("\n}\nSP_BODY_OFFSET=$((LINENO + 2))\n"), "no libraries: nothing between sp_failed and the body offset");
        assert.ok(renderEnvelope("demo", "a\nb\n", { node: "m-1" }).includes("\n{\na\nb\n} </dev/null"), "only the body's last newline is dropped");
        assert.ok(!bare.split("\n").some((l) => /^sp_env [A-Z]/.test(l) && !l.startsWith("sp_env NODE_NAME")), "no env, no exports");
    });

    test("the envelope refuses env names that are not shell identifiers, reserved names and non-strings", () => {
        assert.throws(() => renderEnvelope("demo", "true", { node: "n", env: { "1X": "v" } }), /env name "1X" is not a shell identifier/);
        assert.throws(() => renderEnvelope("demo", "true", { node: "n", env: { "A-B": "v" } }), /not a shell identifier/);
        assert.throws(() => renderEnvelope("demo", "true", { node: "n", env: { NODE_NAME: "v" } }), /env name "NODE_NAME" is set by the envelope itself/);
        assert.throws(() => renderEnvelope("demo", "true", { node: "n", env: { SP_BODY_OFFSET: "1" } }), /set by the envelope itself/);
        assert.throws(() => renderEnvelope("demo", "true", { node: "n", env: { N: 1 as unknown as string } }), /env N must be a string \(got number\)/);
        assert.ok(renderEnvelope("demo", "true", { node: "n", env: { _ok9: "v" } }).includes("sp_env _ok9 "));
    });

    test("renderNodeScript wraps the script's body and its libraries", () => {
        const text = renderNodeScript("keepalived-apply", { node: "gw-1", env: { A: "1" } });
        assert.equal(text, renderEnvelope("keepalived-apply", nodeScriptBody("keepalived-apply"), { node: "gw-1", env: { A: "1" } }, nodeScriptLibs("keepalived-apply")));
        assert.ok(text.includes(readTemplate("virtual-ip/keepalived-lib.sh").replace(/\n$/, "")));
    });
});

describe("templates", () => {
    test("values are inserted as they are (no HTML escaping) but never with a line break or NUL", () => {
        const dir = fs.mkdtempSync(`${TEMPLATES_DIR}/.test-`);
        const rel = `${dir.slice(TEMPLATES_DIR.length + 1)}/t.mustache`;
        try {
            fs.writeFileSync(`${dir}/t.mustache`, "v={{v}}\n");
            assert.equal(renderTemplate(rel, { v: `a<b>&"c'` }), `v=a<b>&"c'\n`);
            for (const bad of ["a\nb", "a\rb", "a\0b"]) assert.throws(() => renderTemplate(rel, { v: bad }), /contains a line break or NUL/);
            fs.writeFileSync(`${dir}/t.mustache`, "changed {{v}}\n");
            assert.equal(renderTemplate(rel, { v: 1 }), "v=1\n", "templates are read once and cached");
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    test("shellSafe lets URL-ish values through and refuses quotes, blanks and expansions", () => {
        assert.equal(shellSafe("url", "http://127.0.0.1:80/healthz?x=1&y=%20+@,~-_."), "http://127.0.0.1:80/healthz?x=1&y=%20+@,~-_.");
        assert.equal(shellSafe("empty", ""), "");
        for (const bad of ["it's", "a b", "$HOME", "`id`", 'a"b', "a;b", "a\nb"]) {
            assert.throws(() => shellSafe("the value", bad), /the value .* has characters that are not safe in a generated script/, bad);
        }
    });
});

describe("IPv4 helpers and ordering", () => {
    test("CIDRs: the whole text is one network with a prefix 0-32 and no host bits", () => {
        for (const ok of ["10.0.0.1/32", "0.0.0.0/0", "10.0.0.0/8", "192.168.1.128/25"]) assert.ok(isCidr(ok), ok);
        for (const bad of ["a/10.0.0.0/8", "10.0.0.0/8x", "10.0.0.0/33", "10.0.0.1/31", "10.0.0.0", "10.0.0.0/", "/8"]) assert.ok(!isCidr(bad), bad);
        assert.deepEqual(parseCidr("10.1.2.0/24"), { network: ipToInt("10.1.2.0"), prefix: 24 });
    });

    test("addresses convert to numbers and back; a non-address is refused", () => {
        assert.equal(ipToInt("10.0.0.1"), 167772161);
        assert.equal(intToIp(4294967295), "255.255.255.255");
        assert.throws(() => ipToInt("10.0.0"), /not an IPv4 address: "10.0.0"/);
    });

    test("a /31 or /32 has no network or broadcast address to avoid", () => {
        assert.deepEqual(reservedAddresses({ network: ipToInt("10.0.0.0"), prefix: 31 }), []);
        assert.deepEqual(reservedAddresses({ network: ipToInt("10.0.0.1"), prefix: 32 }), []);
        assert.deepEqual(reservedAddresses({ network: ipToInt("10.0.0.0"), prefix: 30 }), ["10.0.0.0", "10.0.0.3"]);
    });

    test("compare is code-unit order; sortedBy and sortedRecord sort copies", () => {
        assert.deepEqual([compare("a", "b"), compare("b", "a"), compare("a", "a"), compare("B", "a")], [-1, 1, 0, -1]);
        const items = ["b", "c", "a"];
        assert.deepEqual(sortedBy(items, (x) => x), ["a", "b", "c"]);
        assert.deepEqual(items, ["b", "c", "a"], "the input is untouched");
        assert.deepEqual(Object.keys(sortedRecord({ z: "1", a: "2", m: "3" })), ["a", "m", "z"]);
    });
});
