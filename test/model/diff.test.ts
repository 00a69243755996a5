// The domain diff: a stack-config change in the platform's words (hostname moves, releases, replicas, nodes, VIP,
// gateway, secrets by ciphertext), its Markdown, and the diagram's change keys.
import * as assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { StackConfigInput } from "../../model";
import { changedKeys, type DomainChange, domainDiff, fieldChanges, formatDomainDiff, NO_CHANGE, SECRET_PLACEHOLDER, subjectName } from "../../model/diff";
import { BASE, mutate, partial, stackConfig, validOrThrow, withGroups } from "./fixtures";

const diff = (before: StackConfigInput | undefined, after: StackConfigInput, secrets?: Parameters<typeof domainDiff>[2]) =>
    domainDiff(before === undefined ? undefined : validOrThrow(before), validOrThrow(after), secrets);

/** One line per change, `<name>|<change>|<field>:<before>→<after>` — what the assertions read. */
const lines = (changes: readonly DomainChange[]) =>
    changes.flatMap((c) => (c.fields.length ? c.fields : [{ field: "" }]).map((f) => `${subjectName(c.subject)}|${c.change}|${f.field}:${f.before ?? "-"}→${f.after ?? "-"}`));

describe("domainDiff", () => {
    test("no change: an empty list, and the Markdown says so", () => {
        assert.deepEqual(diff(BASE, BASE), []);
        assert.equal(formatDomainDiff(diff(BASE, BASE)), `${NO_CHANGE}\n`);
        for (const stack of ["dev", "prod"] as const) assert.deepEqual(diff(stackConfig(stack), stackConfig(stack)), [], stack);
    });

    test("reordering nodes and releases in a stack file with explicit bootstrap and priorities is no change", () => {
        const dev = stackConfig("dev");
        const reordered = mutate(dev, (d) => {
            d.nodes.reverse();
            d.apps[0].releases.reverse();
        });
        assert.deepEqual(diff(dev, reordered), []);
    });

    test("a promotion: the hostname moves 1.9 → 2.0 and nothing else changes", () => {
        const after = mutate(BASE, (d) => {
            d.apps[0].releases[0].hostnames = [];
            d.apps[0].releases[1].hostnames.push("stary.sklep.example");
        });
        const changes = diff(BASE, after);
        assert.deepEqual(lines(changes), ["stary.sklep.example|changed|release:1.9→2.0"]);
        assert.match(formatDomainDiff(changes), /^- `stary\.sklep\.example`: `1\.9` → `2\.0`$/m);
    });

    test("a weight change shows each release's share as percentages on one line: sklep.example: shop 2.0 90% → 50%, 2.1 10% → 50%", () => {
        const split = (weights: Record<string, number>) =>
            mutate(BASE, (d) => {
                d.apps[0].releases[1].hostnames = ["nowy.sklep.example"];
                d.apps[0].releases.push(partial({ name: "2.1" }));
                d.apps[0].routes = partial([{ hostname: "sklep.example", releases: weights }]);
            });
        const changes = diff(split({ "2.0": 90, "2.1": 10 }), split({ "2.0": 50, "2.1": 50 }));
        assert.deepEqual(lines(changes), ["sklep.example|changed|weights:shop 2.0 90%, 2.1 10%→shop 2.0 50%, 2.1 50%"]);
        assert.match(formatDomainDiff(changes), /^- `sklep\.example`: `shop 2\.0 90% → 50%, 2\.1 10% → 50%`$/m);
        // From a plain hostname to a 90/10 split, and the promotion that ends it (2.1 alone on a plain hostname again).
        assert.match(formatDomainDiff(diff(BASE, split({ "2.0": 90, "2.1": 10 }))), /^- `sklep\.example`: `shop 2\.0 100% → 90%, 2\.1 0% → 10%`$/m);
        const promoted = mutate(split({ "2.0": 90, "2.1": 10 }), (d) => {
            d.apps[0].routes = [];
            d.apps[0].releases[2].hostnames = ["sklep.example"];
        });
        assert.match(formatDomainDiff(diff(split({ "2.0": 90, "2.1": 10 }), promoted)), /^- `sklep\.example`: `shop 2\.0 90% → 0%, 2\.1 10% → 100%`$/m);
        // A route that appears: its releases with their shares.
        assert.match(formatDomainDiff(diff(BASE, mutate(split({ "2.0": 2, "2.1": 1 }), () => undefined))), /`shop 2\.0 100% → 66\.7%, 2\.1 0% → 33\.3%`/);
    });

    test("a hostname moved to another app names both apps; the release left with no hostname leaves the gateway network", () => {
        const after = mutate(BASE, (d) => {
            d.apps[1].releases[0].hostnames = [];
            d.apps[0].releases[1].hostnames.push("stock.example");
        });
        assert.deepEqual(lines(diff(BASE, after)), ["stock.example|changed|release:stock 1.0→shop 2.0", "stock 1.0|changed|networks:[zone-intra, gateway]→[zone-intra]"]);
    });

    test("an added release: the release with its image, replicas and zone, and its hostname as added", () => {
        const after = mutate(BASE, (d) => d.apps[0].releases.push(partial({ name: "2.1", hostnames: ["beta.sklep.example"], replicas: 1 })));
        const changes = diff(BASE, after);
        assert.deepEqual(lines(changes), [
            "beta.sklep.example|added|release:-→shop 2.1",
            "shop 2.1|added|image:-→registry.example.com/shop:2.1",
            "shop 2.1|added|replicas:-→1",
            "shop 2.1|added|zone:-→dmz",
            "shop 2.1|added|hostnames:-→[beta.sklep.example]",
            "beta.sklep.example A 172.28.40.100|added|ttl:-→300",
        ]);
        const md = formatDomainDiff(changes);
        assert.match(md, /#### Hostnames\n\n- `beta\.sklep\.example`: added → `shop 2\.1`/);
        assert.match(md, /#### Releases\n\n- `shop 2\.1`: \*\*added\*\* \(image `registry\.example\.com\/shop:2\.1`, replicas `1`, zone `dmz`/);
        assert.match(md, /#### DNS records\n\n- `beta\.sklep\.example A 172\.28\.40\.100`: \*\*added\*\*/);
    });

    test("a removed release and its hostnames", () => {
        const after = mutate(BASE, (d) => {
            d.apps[0].releases.splice(0, 1);
        });
        const got = lines(diff(BASE, after));
        assert.ok(got.includes("stary.sklep.example|removed|release:shop 1.9→-"), got.join("\n"));
        assert.ok(got.includes("shop 1.9|removed|image:registry.example.com/shop:1.9→-"), got.join("\n"));
        assert.match(formatDomainDiff(diff(BASE, after)), /- `stary\.sklep\.example`: removed \(was `shop 1\.9`\)/);
    });

    test("replicas, image and env of a release, each as its own line in the platform's words", () => {
        const after = mutate(BASE, (d) => {
            d.apps[0].releases[1].replicas = 4;
            d.apps[0].releases[1].image = "registry.example.com/shop:2.0-hotfix";
            d.apps[0].releases[1].env = { FEATURE: "on" };
        });
        assert.deepEqual(lines(diff(BASE, after)), [
            "shop 2.0|changed|env.FEATURE:-→on",
            "shop 2.0|changed|image:registry.example.com/shop:2.0→registry.example.com/shop:2.0-hotfix",
            "shop 2.0|changed|replicas:2→4",
        ]);
        assert.match(formatDomainDiff(diff(BASE, after)), /^- `shop 2\.0` replicas: `2` → `4`$/m);
    });

    test("an app-wide default reaches every release that does not override it (planned, not raw, config)", () => {
        const after = mutate(BASE, (d) => (d.apps[0].replicas = 3));
        assert.deepEqual(lines(diff(BASE, after)), ["shop 1.9|changed|replicas:2→3", "shop 2.0|changed|replicas:2→3"]);
    });

    test("an added node, and a node's labels, availability and gateway role", () => {
        const added = mutate(BASE, (d) => d.nodes.push(partial({ name: "worker-2", role: "worker", zone: "intra", address: "172.28.40.32" })));
        assert.deepEqual(lines(diff(BASE, added)), [
            "worker-2|added|role:-→worker",
            "worker-2|added|zone:-→intra",
            "worker-2|added|address:-→172.28.40.32",
        ]);
        assert.match(formatDomainDiff(diff(BASE, added)), /#### Nodes\n\n- `worker-2`: \*\*added\*\* \(role `worker`, zone `intra`, address `172\.28\.40\.32`\)/);

        const changed = mutate(BASE, (d) => {
            d.nodes[5].labels = { disk: "ssd" };
            d.nodes[5].availability = "drain";
        });
        assert.deepEqual(lines(diff(BASE, changed)), ["worker-1|changed|availability:active→drain", "worker-1|changed|labels.disk:-→ssd"]);

        const removed = mutate(BASE, (d) => d.nodes.splice(5, 1));
        assert.deepEqual(lines(diff(BASE, removed)).filter((l) => l.startsWith("worker-1")), [
            "worker-1|removed|role:worker→-",
            "worker-1|removed|zone:intra→-",
            "worker-1|removed|address:172.28.40.31→-",
        ]);
    });

    test("virtual IP: a new address and the failover order when priorities swap", () => {
        const after = mutate(BASE, (d) => {
            d.virtualIp.address = "172.28.40.101";
            d.nodes[3].priority = 1;
            d.nodes[4].priority = 2;
        });
        const got = lines(diff(BASE, after));
        assert.ok(got.includes("vip1|changed|address:172.28.40.100→172.28.40.101"), got.join("\n"));
        assert.ok(got.some((l) => /^vip1\|changed\|failover order:gw-1 \(\d+\), gw-2 \(\d+\)→gw-2 \(\d+\), gw-1 \(\d+\)$/.test(l)), got.join("\n"));
        assert.ok(got.some((l) => l.startsWith("stary.sklep.example A 172.28.40.101|added")), "the DNS records follow the VIP");
    });

    test("virtual IP groups: an added group", () => {
        const one = withGroups(BASE, [{ name: "vip1", address: "172.28.40.100", virtualRouterId: 51 }]);
        const two = withGroups(BASE, [
            { name: "vip1", address: "172.28.40.100", virtualRouterId: 51 },
            { name: "vip2", address: "172.28.40.101", virtualRouterId: 52 },
        ]);
        const got = lines(diff(one, two));
        assert.ok(got.includes("vip2|added|address:-→172.28.40.101"), got.join("\n"));
        assert.ok(got.includes("vip2|added|virtualRouterId:-→52"), got.join("\n"));
    });

    test("gateway: engine and TLS entries by name, naming the secret keys, never their content", () => {
        const tls = mutate(BASE, (d) => {
            d.gateway.engine = "haproxy";
            d.gateway.tls = partial([{ name: "shop", hostnames: ["sklep.example"], certificateSecret: "shopCert", keySecret: "shopKey" }]);
        });
        const got = lines(diff(BASE, tls));
        assert.ok(got.includes("gateway|changed|engine:nginx→haproxy"), got.join("\n"));
        assert.ok(got.includes("TLS shop|added|hostnames:-→[sklep.example]"), got.join("\n"));
        assert.ok(got.includes("sklep.example|changed|tls:-→shop"), "the hostname now served over TLS");
    });

    test("secrets: a placeholder, and `changed` only when the ciphertext changed", () => {
        const tls = mutate(BASE, (d) => {
            d.gateway.tls = partial([{ name: "shop", hostnames: ["sklep.example"], certificateSecret: "shopCert", keySecret: "shopKey" }]);
        });
        const same = diff(tls, tls, { secrets: { before: { shopCert: "v1:AAA", shopKey: "v1:BBB" }, after: { shopCert: "v1:AAA", shopKey: "v1:BBB" } } });
        assert.deepEqual(same, []);
        const rotated = diff(tls, tls, { secrets: { before: { shopCert: "v1:AAA", shopKey: "v1:BBB" }, after: { shopCert: "v1:AAA", shopKey: "v1:CCC" } } });
        assert.deepEqual(lines(rotated), [`shopKey ${SECRET_PLACEHOLDER}|changed|value:${SECRET_PLACEHOLDER}→${SECRET_PLACEHOLDER}`]);
        const md = formatDomainDiff(rotated);
        assert.match(md, /#### Secrets\n\n- `shopKey ‹secret›`: changed \(new ciphertext\) \(used by `gateway\.tls\[0\]\.keySecret`\)/);
        assert.doesNotMatch(md, /v1:|BBB|CCC/, "no ciphertext in the output");
        const added = diff(tls, tls, { secrets: { before: {}, after: { shopKey: "v1:CCC" } } });
        assert.deepEqual(lines(added), [`shopKey ${SECRET_PLACEHOLDER}|added|value:-→${SECRET_PLACEHOLDER}`]);
    });

    test("nothing deployed yet: every node, release, hostname and network is added", () => {
        const changes = diff(undefined, BASE);
        assert.ok(changes.length > 0);
        assert.ok(changes.every((c) => c.change === "added"), "only additions");
        const added = new Set(changes.map((c) => `${c.subject.concept}:${subjectName(c.subject)}`));
        for (const n of ["manager-1", "gw-1", "worker-1"]) assert.ok(added.has(`node:${n}`), n);
        for (const r of ["shop 1.9", "shop 2.0", "stock 1.0"]) assert.ok(added.has(`release:${r}`), r);
        assert.ok(added.has("hostname:sklep.example"));
        assert.ok(added.has("virtualIp:virtual IP"));
        assert.ok(added.has("gateway:gateway"));
        assert.ok(added.has("network:zone-dmz"));
    });

    test("prod's stack file: a release promoted and replicas raised, in the platform's words", () => {
        const prod = stackConfig("prod");
        const after = mutate(prod, (d) => {
            d.apps[0].releases[0].hostnames = [];
            d.apps[0].releases[1].hostnames.push("stary.sklep.pl");
            d.apps[0].releases[1].replicas = 4;
        });
        assert.deepEqual(lines(diff(prod, after)), ["stary.sklep.pl|changed|release:1.9→2.0", "shop 2.0|changed|replicas:3→4"]);
    });
});

describe("fieldChanges", () => {
    test("leaf paths, lists as one value, skipped subtrees left out", () => {
        const before = { a: 1, b: { c: "x", d: [1, 2] }, e: { f: 1 } };
        const after = { a: 2, b: { c: "x", d: [2, 1] }, g: true, e: { f: 2 } };
        assert.deepEqual(fieldChanges(before, after, ["e"]), [
            { field: "a", before: "1", after: "2" },
            { field: "b.d", before: "[1, 2]", after: "[2, 1]" },
            { field: "g", after: "true" },
        ]);
    });
});

describe("changedKeys", () => {
    test("the diagram's keys: node, release, hostname, virtualIp, gateway", () => {
        const after = mutate(BASE, (d) => {
            d.apps[0].releases[0].hostnames = [];
            d.apps[0].releases[1].hostnames.push("stary.sklep.example");
            d.apps[1].releases[0].replicas = 3;
            d.nodes.push(partial({ name: "worker-2", role: "worker", zone: "intra", address: "172.28.40.32" }));
            d.nodes[3].priority = 1;
            d.nodes[4].priority = 2;
            d.gateway.engine = "haproxy";
        });
        assert.deepEqual(
            [...changedKeys(diff(BASE, after))].sort(),
            ["gateway", "hostname:stary.sklep.example", "node:worker-2", "release:stock:1.0", "virtualIp"].sort(),
        );
    });

    test("a secret counts for the part that uses it; networks and DNS records have no key", () => {
        const tls = mutate(BASE, (d) => {
            d.gateway.tls = partial([{ name: "shop", hostnames: ["sklep.example"], certificateSecret: "shopCert", keySecret: "shopKey" }]);
            d.virtualIp.passwordSecret = "vrrpPass";
        });
        const rotated = diff(tls, tls, { secrets: { before: { shopKey: "1", vrrpPass: "1" }, after: { shopKey: "2", vrrpPass: "2" } } });
        assert.deepEqual([...changedKeys(rotated)].sort(), ["gateway", "virtualIp"]);
        const subnet = mutate(BASE, (d) => (d.networks.zones.dmz = partial({ subnet: "10.209.3.0/24" })));
        const changes = diff(BASE, subnet);
        assert.ok(changes.some((c) => c.subject.concept === "network"), "the network changed");
        assert.deepEqual([...changedKeys(changes)], []);
    });

    test("no change, no key", () => {
        assert.deepEqual(changedKeys([]), new Set());
    });
});
