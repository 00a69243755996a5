// The config as a whole: the base config, stack files, all errors at once, the error words, the generated JSON
// Schema, and the plan's independence from the order of every list in the config.
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { describe, test } from "node:test";
import fc from "fast-check";
import { ConfigValidationError, formatErrors, parseConfig, planStack, renderAll, type StackConfigInput, validateConfig } from "../../model";
import { checkConfigKeys, checkStackConfig, checkStackFile, type ConfigEntry, FOREIGN_NAMESPACES, parseStackFile } from "../../model/config";
import { CONFIG_KEYS } from "../../model/schema";
import { closest, editDistance, formatPath, namedError, namePath } from "../../model/validation";
import { NODE_SCRIPTS, nodeScriptBody, nodeScriptFile, nodeScriptLibFiles, nodeScriptLibs, renderEnvelope, renderNodeScript, type NodeScript } from "../../model/scripts";
import { readTemplate, renderTemplate, shellSafe, TEMPLATES_DIR } from "../../model/templates";
import { intToIp, ipToInt, isCidr, isIpv4, parseCidr, reservedAddresses } from "../../model/net";
import { compare, sortedBy, sortedRecord } from "../../model/order";
import { buildConfigSchema, buildJsonSchema, JSON_SCHEMA_FILE, referenceRows, REFERENCE_FILE, renderMarkdown, type JsonSchema } from "../../scripts/json-schema";
import { BASE, type Draft, errorsOf, ROOT, invalidConfigs, json, mutate, partial, planOf, showErrors, stackConfig, unset, useGroups, validConfigs, validOrThrow } from "./fixtures";

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
            path: "gatway",
            words: ['unknown key: did you mean "gateway"? (keys: localEngine, driver, drivers, nodes, swarm, networks, virtualIp, gateway, metrics, apps, dns, firewall)'],
        },
        {
            name: "two unknown keys in one map: one error each",
            change: (d) => Object.assign(d.gateway, { engin: "nginx", port: 80 }),
            path: "gateway.engin",
            words: ['unknown key: did you mean "engine"? (gateway keys: engine, baseImage, image, '],
            count: 2,
        },
        {
            name: "an unknown key close to no allowed key: no guess, the allowed keys",
            change: (d) => Object.assign(d.dns, { zone: "example" }),
            path: "dns.zone",
            words: ["unknown key (dns keys: ttl)"],
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
            words: ['must be a string, got the number 1 — quote it as written, e.g. name: "1" (YAML reads an unquoted 1.0 as 1 too)'],
        },
        {
            name: "a release name YAML read as a number: the release is named by position",
            change: (d) => Object.assign(d.apps[0].releases[1], { name: 2 }),
            path: "apps[shop].releases[1].name",
            words: ["must be a string, got the number 2 — quote it"],
        },
        {
            name: "a fractional number where a string is expected",
            change: (d) => Object.assign(d.apps[0].releases[1], { tag: 2.5 }),
            path: "apps[shop].releases[2.0].tag",
            words: ['must be a string, got the number 2.5 — quote it as written, e.g. tag: "2.5"'],
        },
        {
            name: "a number as a list item where a string is expected",
            change: (d) => Object.assign(d.apps[1].releases[0], { hostnames: [2] }),
            path: "apps[stock].releases[1.0].hostnames[0]",
            words: ['e.g. - "2"'],
        },
        {
            name: "a string where a number is expected, deep in a named release",
            change: (d) => Object.assign(d.apps[0].releases[1], { replicas: "3" }),
            path: "apps[shop].releases[2.0].replicas",
            words: ["must be a number (got a string)"],
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
            path: "nodes[manager-1].zone",
            words: ['unknown zone "intra" (zones: none; declare zones under networks.zones)'],
            count: 8,
        },
    ],
    14,
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
            path: "apps[stock].releases[1.0].hostnames[0]",
            words: ["lower-case DNS name"],
        },
        {
            name: "a hostname label longer than 63 characters",
            change: (d) => (d.apps[1].releases[0].hostnames = [`${LABEL63}a.example`]),
            path: "apps[stock].releases[1.0].hostnames[0]",
            words: ["lower-case DNS name"],
        },
        {
            name: "a hostname label ending in a hyphen",
            change: (d) => (d.apps[1].releases[0].hostnames = ["stock-.example"]),
            path: "apps[stock].releases[1.0].hostnames[0]",
            words: ["lower-case DNS name"],
        },
        {
            name: "a hostname with an empty label",
            change: (d) => (d.apps[1].releases[0].hostnames = ["stock..example"]),
            path: "apps[stock].releases[1.0].hostnames[0]",
            words: ["lower-case DNS name"],
        },
        {
            name: "a node name longer than 63 characters",
            change: (d) => (d.nodes[5].name = `${LABEL63}a`),
            path: "nodes[aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa].name",
            words: ["node name must be at most 63 characters"],
        },
        {
            name: "a node name ending in a hyphen",
            change: (d) => (d.nodes[5].name = "worker-"),
            path: "nodes[worker-].name",
            words: ["node name must be lower-case letters, digits and '-' (DNS-safe)"],
        },
        {
            name: "a node name starting with a hyphen",
            change: (d) => (d.nodes[5].name = "-worker"),
            path: 'nodes["-worker"].name',
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
            path: "apps[shop].image",
            words: ["image name without tag"],
        },
        {
            name: "a label value with a carriage return",
            change: (d) => (d.nodes[5].labels = { rack: "a\rb" }),
            path: "nodes[worker-1].labels.rack",
            words: ["label values are one line"],
        },
        {
            name: "a label key starting with a dot",
            change: (d) => (d.nodes[5].labels = { ".rack": "a" }),
            path: "nodes[worker-1].labels..rack",
            words: ["label keys are letters, digits, '.', '_' and '-'"],
        },
        {
            name: "an app env name that is not a shell identifier",
            change: (d) => (d.apps[0].env = { "APP-MODE": "x" }),
            path: "apps[shop].env.APP-MODE",
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
            path: "nodes[worker-1].address",
            words: ["must be an IPv4 address like 10.0.0.1"],
        },
        {
            name: "an IPv4 octet with a leading zero",
            change: (d) => (d.nodes[5].address = "172.28.40.031"),
            path: "nodes[worker-1].address",
            words: ["must be an IPv4 address"],
        },
        {
            name: "a docker node just past the bridge subnet",
            change: (d) => (d.nodes[5].address = "172.28.41.0"),
            path: "nodes[worker-1].address",
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
    { name: "an app image with a registry port", change: (d) => (d.apps[0].image = "registry.example.com:5000/team/shop") },
    {
        name: "a release image with a registry port, a tag and a digest",
        change: (d) => (d.apps[0].releases[0].image = `registry.example.com:5000/team/shop:1.9@sha256:${"0a".repeat(32)}`),
    },
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
    // nodes[5] shares its name with nodes[4]: both are named by position; every other item by its name.
    const PATHS = ["nodes[gw-1].zone", "nodes[5].name", "virtualIp.advertInt", "apps[stock].zone", "gateway.ports.https"];

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
            ["apps[shop].port", "dns.tll", "nodes[manager-1].address", "nodes[manager-2].role", "virtualIp.virtualRouterId"],
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
        assert.deepEqual(errors.map((e) => e.path), ["apps[shop].port"]);
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
            ['nodes[manager-1].role: is required (one of "manager", "worker")', "apps: must be an array (got a string)"],
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
                [(d) => (d.nodes[5].labels = { "rack no": "a" }), "nodes[worker-1].labels.rack no", "label keys are letters"],
                [(d) => (d.apps[0].env = { "1BAD": "x" }), "apps[shop].env.1BAD", "shell identifiers"],
                [(d) => (d.networks.zones = { ...d.networks.zones, DMZ: partial({}) }), "networks.zones.DMZ", "zone must be lower-case"],
            ];
            for (const [change, path, words] of cases) {
                const errors = errorsOf(mutate(BASE, change));
                assert.ok(errors.some((e) => e.path === path && e.message.includes(words)), showErrors(errors));
            }
        },
    );
});

// ---- stack files and config keys -----------------------------------------------------------------

/** Every error of a stack file's text, checked as render checks it, as `path: message` lines. */
function stackFileErrors(text: string): string[] {
    const result = checkStackFile(parseStackFile(text));
    return result.ok ? [] : result.errors.map((e) => `${e.path}: ${e.message}`);
}

/** A valid stack file (the committed dev one) with `lines` added under `config:`. */
function devWith(...lines: string[]): string {
    const dev = fs.readFileSync(`${ROOT}/Pulumi.dev.yaml`, "utf8");
    return dev.replace(/^config:\n/m, `config:\n${lines.map((l) => `  ${l}\n`).join("")}`);
}

const entry = (key: string, value: unknown = "x", secret = false): ConfigEntry => ({ key, value, secret });

describe("config keys: namespaces and names (checkConfigKeys, shared by stack files and the runtime)", () => {
    const errorsFor = (...keys: string[]) => checkConfigKeys(keys.map((k) => entry(k))).errors.map((e) => `${e.path}: ${e.message}`);

    test("a misspelled project prefix is an error with the key it meant", () => {
        assert.deepEqual(errorsFor("swarm-platfrom:nodes"), ['swarm-platfrom:nodes: unknown namespace "swarm-platfrom": did you mean swarm-platform:nodes?']);
        assert.deepEqual(errorsFor("swarmplatform:gatway"), ['swarmplatform:gatway: unknown namespace "swarmplatform": did you mean swarm-platform:gateway?']);
    });

    test("a key with extra colons is an error; nested values go inside the value", () => {
        assert.deepEqual(errorsFor("swarm-platform:apps:junk"), [
            "swarm-platform:apps:junk: a config key has exactly one ':' (<namespace>:<name>): nested values go inside the value of swarm-platform:apps",
        ]);
        assert.deepEqual(errorsFor("docker:host:x"), ["docker:host:x: a config key has exactly one ':' (<namespace>:<name>)"]);
        assert.deepEqual(errorsFor("swarm-platform:config:nodes"), [
            "swarm-platform:config:nodes: a config key has exactly one ':' (<namespace>:<name>): write swarm-platform:nodes (the <namespace>:config:<name> form is legacy)",
        ]);
    });

    test("a namespace that is neither the project's nor pulumi's nor a provider's in use is an error", () => {
        assert.deepEqual(errorsFor("aws:region"), [
            'aws:region: unknown namespace "aws": keys are swarm-platform:<key>, or pulumi:, docker:, command:, random: for Pulumi and the providers in use',
        ]);
        assert.deepEqual(errorsFor("dockr:host"), ['dockr:host: unknown namespace "dockr": did you mean docker:host?']);
    });

    test("pulumi: and the providers' keys are left to their owners", () => {
        assert.deepEqual(errorsFor("pulumi:tags", "docker:host", "command:x", "random:y", "swarm-platform:nodes"), []);
    });

    test("the providers allowed are exactly the @pulumi/* packages the program depends on", () => {
        const pkg = JSON.parse(fs.readFileSync(`${ROOT}/package.json`, "utf8")) as { dependencies: Record<string, string> };
        const providers = Object.keys(pkg.dependencies).filter((d) => d.startsWith("@pulumi/") && d !== "@pulumi/pulumi").map((d) => d.slice("@pulumi/".length));
        assert.deepEqual([...FOREIGN_NAMESPACES].sort(), ["pulumi", ...providers].sort());
    });

    test("a key without a namespace is an error (Pulumi cannot parse it either)", () => {
        assert.deepEqual(errorsFor("driver"), ["driver: a config key needs its namespace: did you mean swarm-platform:driver?"]);
    });

    test("platform keys are config, secrets are collected by name, other plain keys wait for the secret check", () => {
        const keys = checkConfigKeys([entry("swarm-platform:driver", "ssh"), entry("swarm-platform:sshKey", "s3cr3t", true), entry("swarm-platform:node", [])]);
        assert.deepEqual(keys, { config: { driver: "ssh" }, secretKeys: ["sshKey"], otherKeys: ["node"], errors: [] });
    });

    test("a platform key set as a secret is an error (it would be missing from the config)", () => {
        assert.deepEqual(checkConfigKeys([entry("swarm-platform:dns", {}, true)]).errors, [
            { path: "swarm-platform:dns", message: "is platform config, not a secret: write it as plain YAML (pulumi config set, without --secret)" },
        ]);
    });
});

describe("the whole config of a stack (checkStackConfig: keys, platform config, secrets)", () => {
    const PROD_ENTRIES = (extra: ConfigEntry[]) => [
        ...Object.entries(stackConfig("prod")).map(([k, v]) => entry(`swarm-platform:${k}`, v)),
        ...extra,
    ];
    const SECRETS = ["sshPrivateKey", "tlsSklepCert", "tlsSklepKey"].map((k) => entry(`swarm-platform:${k}`, "v", true));
    const lines = (entries: ConfigEntry[], requireSecrets = false) => {
        const result = checkStackConfig(entries, { requireSecrets });
        return result.ok ? [] : result.errors.map((e) => `${e.path}: ${e.message}`);
    };

    test("prod with its three secrets set is valid, and lists where each secret is referenced", () => {
        const result = checkStackConfig(PROD_ENTRIES(SECRETS), { requireSecrets: true });
        assert.ok(result.ok, JSON.stringify(result));
        assert.deepEqual(result.secretRefs.map((r) => `${r.path} ${r.key}`), [
            "drivers.ssh.privateKeySecret sshPrivateKey",
            "gateway.tls[tls-0].certificateSecret tlsSklepCert",
            "gateway.tls[tls-0].keySecret tlsSklepKey",
        ]);
    });

    test("a secret in plain text is told even when the rest of the config is invalid (all errors at once)", () => {
        const entries = PROD_ENTRIES([entry("swarm-platform:tlsSklepKey", "plain")]).map((e) => (e.key === "swarm-platform:dns" ? entry(e.key, { ttl: 0 }) : e));
        assert.deepEqual(lines(entries), [
            "dns.ttl: Too small: expected number to be >=1",
            "swarm-platform:tlsSklepKey: is a secret (gateway.tls[tls-0].keySecret) but written in plain text: remove it and set it with pulumi config set --secret tlsSklepKey < <file>",
        ]);
    });

    test("a secret the config references, written in plain text, is rejected naming the key and the command", () => {
        const entries = PROD_ENTRIES([...SECRETS.filter((e) => !e.key.endsWith("tlsSklepKey")), entry("swarm-platform:tlsSklepKey", "-----BEGIN PRIVATE KEY-----")]);
        const errors = lines(entries, true);
        assert.deepEqual(errors, [
            "swarm-platform:tlsSklepKey: is a secret (gateway.tls[tls-0].keySecret) but written in plain text: remove it and set it with pulumi config set --secret tlsSklepKey < <file>",
        ]);
        assert.ok(!errors.join("\n").includes("BEGIN PRIVATE KEY"), "the value is never shown");
    });

    test("a missing secret is an error where it is referenced, only when secrets are required (the runtime)", () => {
        const entries = PROD_ENTRIES(SECRETS.filter((e) => !e.key.endsWith("sshPrivateKey")));
        assert.deepEqual(lines(entries, true), ['drivers.ssh.privateKeySecret: secret "sshPrivateKey" is not set (pulumi config set --secret sshPrivateKey < <file>)']);
        assert.deepEqual(lines(entries, false), []);
    });

    test("a secret nothing references is an error, with the referenced secret it is closest to", () => {
        assert.deepEqual(lines(PROD_ENTRIES([...SECRETS, entry("swarm-platform:tlsSklepKee", "v", true)])), [
            "swarm-platform:tlsSklepKee: secret not used by this config: did you mean swarm-platform:tlsSklepKey? (a …Secret key names each secret; remove a stale one with pulumi config rm tlsSklepKee)",
        ]);
    });

    test("an unknown plain project key gets the closest platform key, or the list of keys", () => {
        assert.deepEqual(lines(PROD_ENTRIES([...SECRETS, entry("swarm-platform:virtualIP", {}), entry("swarm-platform:zzz", 1)])), [
            "swarm-platform:virtualIP: unknown config key: did you mean swarm-platform:virtualIp?",
            "swarm-platform:zzz: unknown config key (keys: localEngine, driver, drivers, nodes, swarm, networks, virtualIp, gateway, metrics, apps, dns, firewall; secrets are set with pulumi config set --secret)",
        ]);
    });

    test("key errors and platform errors come together, all at once", () => {
        const entries = PROD_ENTRIES([entry("swarm-platfrom:dns", {}), entry("swarm-platform:nodez", [])]).map((e) =>
            e.key === "swarm-platform:dns" ? entry(e.key, { ttl: 0 }) : e,
        );
        assert.deepEqual(lines(entries), [
            'swarm-platfrom:dns: unknown namespace "swarm-platfrom": did you mean swarm-platform:dns?',
            "dns.ttl: Too small: expected number to be >=1",
            "swarm-platform:nodez: unknown config key: did you mean swarm-platform:nodes?",
        ]);
    });
});

describe("stack files (parseStackFile, checkStackFile: what render checks)", () => {
    test("the program's modules (index.ts's imports) leave yaml unloaded: its config comes from the engine", () => {
        // What index.ts imports, loaded in a fresh node the way the lab engine loads the program.
        const imports = [...fs.readFileSync(`${ROOT}/index.ts`, "utf8").matchAll(/^import .* from "([^"]+)";$/gm)].map((m) => m[1]);
        assert.ok(imports.includes("./components/platform") && imports.includes("./model/runtime-config"), imports.join(", "));
        const probe = `for (const m of ${JSON.stringify(imports)}) require(m); process.stdout.write(JSON.stringify(Object.keys(require.cache).filter((f) => f.includes("/node_modules/yaml/"))));`;
        const r = spawnSync(process.execPath, ["--require", "./test/lab/engine/ts-loader.cjs", "-e", probe], { cwd: ROOT, encoding: "utf8" });
        assert.equal(r.status, 0, r.stderr);
        assert.deepEqual(JSON.parse(r.stdout), [], "yaml's files loaded by the program's modules");
    });

    test("both committed stack files pass every check", () => {
        for (const stack of ["dev", "prod"]) {
            assert.deepEqual(stackFileErrors(fs.readFileSync(`${ROOT}/Pulumi.${stack}.yaml`, "utf8")), [], stack);
        }
    });

    test("every rule of the keys, in a file", () => {
        assert.deepEqual(stackFileErrors(devWith("swarm-platfrom:nodes: []", "swarm-platform:apps:junk: 1", "aws:region: eu-central-1", "driver: ssh", "docker:host: unix:///x", "pulumi:tags: { a: b }")), [
            'swarm-platfrom:nodes: unknown namespace "swarm-platfrom": did you mean swarm-platform:nodes?',
            "swarm-platform:apps:junk: a config key has exactly one ':' (<namespace>:<name>): nested values go inside the value of swarm-platform:apps",
            'aws:region: unknown namespace "aws": keys are swarm-platform:<key>, or pulumi:, docker:, command:, random: for Pulumi and the providers in use',
            "driver: a config key needs its namespace: did you mean swarm-platform:driver?",
        ]);
    });

    test("a misspelled top-level key of the file gets a guess; Pulumi's own keys are allowed", () => {
        const dev = fs.readFileSync(`${ROOT}/Pulumi.dev.yaml`, "utf8");
        assert.deepEqual(stackFileErrors(`encryptionsalt: v1:abc\nsecretsprovider: passphrase\nencryptedkey: x\nenvironment: [a]\n${dev}`), []);
        assert.deepEqual(stackFileErrors(`secretprovider: passphrase\n${dev}`), [
            "secretprovider: unknown stack file key: did you mean secretsprovider? (keys: config, secretsprovider, encryptedkey, encryptionsalt, environment)",
        ]);
    });

    test("an unknown key deep in the file gets a guess and its object's keys, named by entity", () => {
        const text = fs.readFileSync(`${ROOT}/Pulumi.dev.yaml`, "utf8").replace('{ name: "2.0", hostnames', '{ name: "2.0", replica: 3, hostnames');
        assert.deepEqual(stackFileErrors(text), [
            'apps[shop].releases[2.0].replica: unknown key: did you mean "replicas"? (apps[shop].releases[2.0] keys: name, tag, image, replicas, hostnames, env, service, pinnable)',
        ]);
    });

    test("a number where a string is expected quotes the value as the file wrote it", () => {
        const text = fs.readFileSync(`${ROOT}/Pulumi.dev.yaml`, "utf8").replace('{ name: "2.0", hostnames', "{ name: 2.0, hostnames");
        assert.deepEqual(stackFileErrors(text), ['apps[shop].releases[1].name: must be a string, got the number 2 — quote it: name: "2.0"']);
        const file = parseStackFile("config:\n  swarm-platform:apps: [{ releases: [{ name: 1.10 }, { tag: 010 }] }]\n");
        assert.equal(file.sourceText(["apps", 0, "releases", 0, "name"]), "1.10");
        assert.equal(file.sourceText(["apps", 0, "releases", 1, "tag"]), "010");
        assert.equal(file.sourceText(["apps", 0, "releases", 1]), undefined);
    });

    test("a secret written in plain text in the file is rejected (prod references three)", () => {
        const prod = fs.readFileSync(`${ROOT}/Pulumi.prod.yaml`, "utf8");
        const plain = prod.replace(/^config:\n/m, "config:\n  swarm-platform:sshPrivateKey: hunter2\n  swarm-platform:tlsSklepCert:\n    secure: AAABAGNlcnQ=\n");
        const errors = stackFileErrors(plain);
        assert.deepEqual(errors, [
            "swarm-platform:sshPrivateKey: is a secret (drivers.ssh.privateKeySecret) but written in plain text: remove it and set it with pulumi config set --secret sshPrivateKey < <file>",
        ]);
        assert.ok(!errors.join("\n").includes("hunter2"), "the value is never shown");
    });

    test("secure: keys are collected by name; their values stay unread", () => {
        const file = parseStackFile("config:\n  swarm-platform:driver: ssh\n  swarm-platform:sshPrivateKey:\n    secure: AAABAKx0c2VjcmV0\n  docker:host: unix:///var/run/docker.sock\n");
        assert.deepEqual(file.secretKeys, ["sshPrivateKey"]);
        assert.deepEqual(file.config, { driver: "ssh" });
        assert.deepEqual(file.errors, []);
        assert.deepEqual(file.entries.map((e) => `${e.key} ${e.secret}`), ["swarm-platform:driver false", "swarm-platform:sshPrivateKey true", "docker:host false"]);
    });

    test("another project's file reads its own keys", () => {
        const other = parseStackFile("config:\n  other:driver: ssh\n", "other");
        assert.deepEqual(other.config, { driver: "ssh" });
        assert.deepEqual(other.errors, []);
    });

    test("an empty value is kept as null (for the schema to reject), not mistaken for a secret", () => {
        assert.deepEqual(parseStackFile("config:\n  swarm-platform:virtualIp:\n").config, { virtualIp: null });
    });

    test("an empty file, or one without config, has no entries and no errors", () => {
        for (const text of ["", "encryptionsalt: v1:abc\n", "config:\n"]) {
            const file = parseStackFile(text);
            assert.deepEqual([file.entries, file.config, file.secretKeys, file.errors], [[], {}, [], []], JSON.stringify(text));
        }
    });

    test("a file that is not a map, or whose config is not a map, says so", () => {
        assert.deepEqual(parseStackFile("- a\n").errors.map((e) => e.path), ["(root)"]);
        assert.deepEqual(parseStackFile("config: [a]\n").errors, [{ path: "config", message: "must be a map of <namespace>:<key> entries" }]);
    });
});

describe("key paths name list items", () => {
    const root = {
        nodes: [{ name: "gw-1" }, { name: "gw-2" }, { name: "gw-2" }, {}],
        apps: [{ name: "shop", releases: [{ name: "2.0" }, { name: "2" }, { name: "feature x" }] }],
    };

    test("by a name unique in its list; by position when the name is shared or missing", () => {
        assert.equal(formatPath(["nodes", 0, "address"], root), "nodes[gw-1].address");
        assert.equal(formatPath(["nodes", 2, "name"], root), "nodes[2].name");
        assert.equal(formatPath(["nodes", 3, "zone"], root), "nodes[3].zone");
        assert.equal(formatPath(["apps", 0, "releases", 0, "replicas"], root), "apps[shop].releases[2.0].replicas");
        assert.equal(formatPath(["nodes", 0, "address"]), "nodes[0].address", "without the config: positions");
        assert.equal(formatPath([]), "(root)");
    });

    test("a name that reads like a position, or has a blank, is quoted", () => {
        assert.equal(formatPath(["apps", 0, "releases", 1, "tag"], root), 'apps[shop].releases["2"].tag');
        assert.equal(formatPath(["apps", 0, "releases", 2], root), 'apps[shop].releases["feature x"]');
    });

    test("rule paths and the paths inside messages are rewritten the same way", () => {
        assert.equal(namePath("apps[0].releases[0].hostnames[1]", root), "apps[shop].releases[2.0].hostnames[1]");
        assert.equal(namePath("nodes[1].labels.a.b", root), "nodes[1].labels.a.b");
        const error = namedError({ path: "nodes[0].address", message: "also nodes[1] and apps[0].releases[0]; gateway nodes[" }, root, ["nodes", "apps"]);
        assert.deepEqual(error, { path: "nodes[gw-1].address", message: "also nodes[1] and apps[shop].releases[2.0]; gateway nodes[" });
    });

    test("in validation errors: gateway certificates and VRRP groups by name", () => {
        const errors = errorsOf(
            mutate(BASE, (d) => {
                useGroups(d, [
                    { name: "vip1", address: "172.28.40.100", virtualRouterId: 51 },
                    { name: "vip2", address: "172.28.40.100", virtualRouterId: 52 },
                ]);
                d.gateway.tls = [{ name: "tls-0", hostnames: ["nowhere.example"], certificateSecret: "c", keySecret: "k" }];
            }),
        );
        assert.deepEqual(errors.map((e) => `${e.path}: ${e.message}`).sort(), [
            'gateway.tls[tls-0].hostnames[0]: "nowhere.example" is not served by any release',
            "virtualIp.groups[vip2].address: address 172.28.40.100 is also virtualIp.groups[vip1]",
        ]);
    });
});

describe("did you mean", () => {
    test("the closest candidate within one edit per three characters; a swap of neighbours is one edit", () => {
        assert.equal(editDistance("platfrom", "platform"), 1);
        assert.equal(editDistance("kitten", "sitting"), 3);
        assert.equal(closest("gatway", CONFIG_KEYS), "gateway");
        assert.equal(closest("virtualIP", CONFIG_KEYS), "virtualIp");
        assert.equal(closest("tll", ["ttl"]), "ttl");
        assert.equal(closest("ndoes", CONFIG_KEYS), "nodes");
        assert.equal(closest("zone", ["ttl"]), undefined);
        assert.equal(closest("apps", CONFIG_KEYS), "apps");
        assert.equal(closest("xyz", []), undefined);
    });
});

// ---- the generated JSON Schema --------------------------------------------------------------------

/** The platform config's schema: the config reference's source and each `swarm-platform:<key>`'s schema in the file's. */
const schema = buildConfigSchema();
const rows = referenceRows(schema);

describe("generated schema files", () => {
    test("schema/stack-config.schema.json is up to date (npm run schema)", () => {
        assert.equal(fs.readFileSync(JSON_SCHEMA_FILE, "utf8"), JSON.stringify(buildJsonSchema(), null, 2) + "\n");
    });

    test("docs/config-reference.md is up to date (npm run schema -- --markdown)", () => {
        assert.equal(fs.readFileSync(REFERENCE_FILE, "utf8"), renderMarkdown(rows));
    });

    test("each swarm-platform:<key> of the stack file schema is the platform config's schema of <key>", () => {
        const config = buildJsonSchema().properties?.config as JsonSchema;
        assert.deepEqual(Object.keys(config.properties ?? {}), CONFIG_KEYS.map((k) => `swarm-platform:${k}`));
        assert.deepEqual(config.properties?.["swarm-platform:nodes"], schema.properties?.nodes);
        assert.deepEqual(config.required, ["swarm-platform:nodes"]);
    });

    test("every key has a description", () => {
        assert.deepEqual(rows.filter((r) => !r.description).map((r) => r.key), []);
    });

    test("the reference lists nested keys with their defaults", () => {
        const row = (key: string) => rows.find((r) => r.key === key);
        assert.equal(row("virtualIp.profile")?.default, "`\"default\"`");
        // Timing keys take their default from the profile: none of their own, the profile's values in the description.
        assert.equal(row("virtualIp.vrrpVersion")?.default, "");
        assert.match(row("virtualIp.vrrpVersion")?.description ?? "", /from `profile` \(default: 2, fast: 3\)/);
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
        for (const p of ["diagram.md", "diagram.mmd", "dns/records.json", "dns/zone.db", "gateway/Dockerfile", "gateway/nginx.conf", "gateway/routes.conf", "keepalived/check_gateway.sh", "nodes/gw-1/keepalived.conf", "nodes/gw-2/keepalived.conf", "scripts/swarm-init.sh", "scripts/keepalived-lib.sh", "firewall/gw-1.rules", "firewall/swarm-platform-firewall"]) {
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
        assert.deepEqual(nodeScriptLibs("keepalived-stop"), [{ file: "virtual-ip/keepalived-lib.sh", text: readTemplate("virtual-ip/keepalived-lib.sh") }]);
        assert.throws(() => nodeScriptFile("nope" as NodeScript), /unknown node script "nope" \(known: node-bootstrap, /);
    });

    test("the envelope exports the node name and every env value base64-encoded, sorted, then runs the body", () => {
        const text = renderEnvelope("demo", "echo hi\n", { node: "gw-1", env: { ZED: "last", ALPHA: "it's\n" } }, [{ file: "demo/lib.sh", text: "lib() { :; }\n" }]);
        const lines = text.split("\n");
        assert.ok(lines[1].includes('node script "demo" for node gw-1'), lines[1]);
        assert.ok(lines.includes(`sp_env NODE_NAME '${Buffer.from("gw-1").toString("base64")}'`));
        const env = lines.filter((l) => /^sp_env [A-Z]/.test(l) && !l.startsWith("sp_env NODE_NAME"));
        assert.deepEqual(env, [`sp_env ALPHA '${Buffer.from("it's\n").toString("base64")}'`, `sp_env ZED '${Buffer.from("last").toString("base64")}'`]);
        assert.ok(text.includes('\nSP_LIBS+=("$((LINENO + 1)) demo/lib.sh")\nlib() { :; }\nSP_BODY_OFFSET=$((LINENO + 2))\n'), "libraries (each after its first line's record) before the body offset, without their last newline");
        assert.ok(text.includes("{\necho hi\n} </dev/null"), "the body without its last newline, in braces");
        assert.ok(text.includes('local where="line $(($1 - SP_BODY_OFFSET))"'), "with libraries, a failure is placed in the body or a library");
        assert.throws(() => renderEnvelope("demo", "true", { node: "n" }, [{ file: "a b\"", text: "" }]), /library file "a b"" is not a plain relative path/);
        const bare = renderEnvelope("demo", "true", { node: "m-1" });
        assert.ok(bare.includes('\n    echo "node ${NODE_NAME}: demo failed (line $(($1 - SP_BODY_OFFSET)))" >&2\n}\nSP_BODY_OFFSET=$((LINENO + 2))\n'), "no libraries: the envelope's text as before, nothing between sp_failed and the body offset");
        assert.ok(!bare.includes("SP_LIBS"), "no libraries, no library list");
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
