// The platform diagram (Mermaid): zones, roles, labels, VIP failover order, gateway, releases, hostname arrows,
// the `changed` marks a diff uses, escaping of names Mermaid would misread, and a stable text.
import * as assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { diagramOf, type Plan } from "../../model";
import { diagramArtifacts, mermaidText } from "../../model/diagram";
import { classesOf, decode, read, titled, zoneOf } from "./diagram-reader";
import { BASE, mutate, planOf, stackConfig, withGroups } from "./fixtures";

const base = planOf(BASE);
const dev = planOf(stackConfig("dev"));
const prod = planOf(stackConfig("prod"));

// ---- content -------------------------------------------------------------------------------------

describe("the platform diagram", () => {
    test("nodes and releases sit in one subgraph per zone; hostnames in their own", () => {
        const d = read(diagramOf(base));
        assert.deepEqual([...d.subgraphs.values()].sort(), ["Hostnames", "zone dmz", "zone intra"]);
        for (const n of base.nodes) assert.equal(zoneOf(d, titled(d, n.name)), `zone ${n.zone}`, n.name);
        for (const r of base.releases) assert.equal(zoneOf(d, titled(d, `${r.app} ${r.name}`)), `zone ${r.zone}`, r.service);
        for (const r of base.routes) assert.equal(zoneOf(d, titled(d, r.hostname)), "Hostnames");
    });

    test("a weighted hostname has an arrow to each release above weight 0 with its share; a pin-only release a dotted `pin` arrow", () => {
        const plan = planOf(
            mutate(BASE, (d) => {
                d.apps[0].releases[1].hostnames = ["nowy.sklep.example"];
                d.apps[0].releases.push({ ...d.apps[0].releases[1], name: "2.1", hostnames: [], pinnable: true });
                d.apps[0].routes = [{ hostname: "sklep.example", releases: { "2.0": 2, "2.1": 1, "1.9": 0 }, sticky: true }];
            }),
        );
        const d = read(diagramOf(plan));
        const from = (hostname: string) =>
            d.edges
                .filter((e) => e.from === titled(d, hostname).id)
                .map((e) => `${[...d.elements.values()].find((x) => x.id === e.to)?.lines[0]} ${e.arrow} ${e.label ?? ""}`.trim())
                .sort();
        assert.deepEqual(from("sklep.example"), ["shop 2.0 --> 66.7%", "shop 2.1 --> 33.3%"]);
        assert.deepEqual(from("nowy.sklep.example"), ["shop 2.0 -->", "shop 2.1 -.-> pin"]);
    });

    test("a node shows its role, bootstrap and gateway flags, address, availability and its own labels", () => {
        const plan = planOf(
            mutate(BASE, (d) => {
                d.nodes[3].labels = { rack: "a", "disk.type": "ssd" };
                d.swarm.managerAvailability = "drain";
            }),
        );
        const d = read(diagramOf(plan));
        assert.deepEqual(titled(d, "manager-1").lines, ["manager-1", "manager · bootstrap", "172.28.40.11 · drain"]);
        assert.deepEqual(titled(d, "manager-2").lines, ["manager-2", "manager", "172.28.40.12 · drain"]);
        assert.deepEqual(titled(d, "gw-1").lines, ["gw-1", "worker · gateway", "172.28.40.21", "disk.type=ssd, rack=a"], "zone and gateway labels are not repeated");
        assert.deepEqual(titled(d, "worker-1").lines, ["worker-1", "worker", "172.28.40.31"]);
        assert.deepEqual(classesOf(d, titled(d, "manager-1").id), ["manager"]);
        assert.deepEqual(classesOf(d, titled(d, "worker-1").id), ["worker"]);
        assert.deepEqual(classesOf(d, titled(d, "gw-2").id), ["gatewayNode"]);
    });

    test("the VIP shows its failover order with VRRP priorities; the master's edge is solid, backups dotted", () => {
        const d = read(diagramOf(dev));
        const vip = titled(d, "VIP 172.28.40.100");
        assert.deepEqual(vip.lines, ["VIP 172.28.40.100", "vip1 · VRID 51", "gw-1 (prio 200) → gw-2 (prio 190)"]);
        assert.equal(vip.parent, undefined, "the VIP belongs to no zone");
        const edges = d.edges.filter((e) => e.from === vip.id);
        assert.deepEqual(
            edges.map((e) => [e.arrow, e.label, d.elements.get(e.to)?.lines[0]]),
            [
                ["-->", "master · prio 200", "gw-1"],
                ["-.->", "backup 1 · prio 190", "gw-2"],
            ],
        );
    });

    test("several VRRP groups: one VIP each, each with its own order", () => {
        const plan = planOf(
            withGroups(BASE, [
                { name: "web", address: "172.28.40.100", virtualRouterId: 51 },
                { name: "api", address: "172.28.40.101", virtualRouterId: 52 },
            ]),
        );
        const d = read(diagramOf(plan));
        assert.deepEqual(titled(d, "VIP 172.28.40.101").lines.slice(1), ["api · VRID 52", "gw-1 (prio 200) → gw-2 (prio 190)"]);
        assert.deepEqual(titled(d, "VIP 172.28.40.100").lines.slice(1), ["web · VRID 51", "gw-2 (prio 200) → gw-1 (prio 190)"]);
        const masters = d.edges.filter((e) => e.label?.startsWith("master")).map((e) => `${d.elements.get(e.from)?.lines[0]} → ${d.elements.get(e.to)?.lines[0]}`);
        assert.deepEqual(masters.sort(), ["VIP 172.28.40.100 → gw-2", "VIP 172.28.40.101 → gw-1"]);
    });

    test("no virtual IP, no apps: no VIP, no hostnames, the gateway and the nodes remain", () => {
        const plan = planOf(
            mutate(BASE, (d) => {
                d.apps = [];
                delete (d as { virtualIp?: unknown }).virtualIp;
            }),
        );
        const d = read(diagramOf(plan));
        assert.ok(![...d.elements.values()].some((e) => e.lines[0].startsWith("VIP ")));
        assert.deepEqual([...d.subgraphs.values()].sort(), ["zone dmz", "zone intra"]);
        assert.equal(d.elements.size, plan.nodes.length + 1);
        titled(d, "gateway: nginx");
    });

    test("the gateway shows its engine and service and is linked to the nodes it runs on, in their zone", () => {
        for (const engine of ["nginx", "haproxy"] as const) {
            const plan = planOf(mutate(BASE, (d) => (d.gateway.engine = engine)));
            const d = read(diagramOf(plan));
            const gateway = titled(d, `gateway: ${engine}`);
            assert.deepEqual(gateway.lines, [`gateway: ${engine}`, "service gateway", ":80 :443"]);
            assert.equal(zoneOf(d, gateway), "zone dmz");
            const on = d.edges.filter((e) => e.from === gateway.id).map((e) => d.elements.get(e.to)?.lines[0]);
            assert.deepEqual(on, ["gw-1", "gw-2"]);
        }
    });

    test("gateway nodes in two zones: the gateway sits outside the zones", () => {
        const d = read(diagramOf(planOf(mutate(BASE, (d) => (d.nodes[4].zone = "intra")))));
        assert.equal(titled(d, "gateway: nginx").parent, undefined);
    });

    test("a release shows its replicas and image", () => {
        const d = read(diagramOf(prod));
        assert.deepEqual(titled(d, "shop 2.0").lines, ["shop 2.0", "3 replicas", "registry.example.com/sklep/shop:2.0"]);
        assert.deepEqual(titled(d, "stock 1.0").lines, ["stock 1.0", "2 replicas", "registry.example.com/sklep/stock:1.0"]);
        const one = read(diagramOf(base));
        assert.deepEqual(titled(one, "stock 1.0").lines.slice(0, 2), ["stock 1.0", "1 replica"]);
    });

    test("one hostname node per route, with one arrow to the release that serves it", () => {
        const d = read(diagramOf(dev));
        const arrows = d.edges
            .filter((e) => d.elements.get(e.from)?.parent === "hostnames")
            .map((e) => `${d.elements.get(e.from)?.lines[0]} → ${d.elements.get(e.to)?.lines[0]}`);
        assert.deepEqual(arrows, ["nowy.sklep.localhost → shop 2.0", "sklep.localhost → shop 2.0", "stary.sklep.localhost → shop 1.9"]);
        assert.deepEqual(classesOf(d, titled(d, "sklep.localhost").id), ["hostname"]);
    });

    test("TLS hostnames carry their certificate's name and a class of their own", () => {
        const d = read(diagramOf(prod));
        const tls = titled(d, "sklep.pl");
        assert.deepEqual(tls.lines, ["sklep.pl", "TLS tls-0"]);
        assert.deepEqual(classesOf(d, tls.id), ["tls"]);
    });

    test("changed keys mark their elements and edges; no key, no mark; unknown keys are ignored", () => {
        assert.ok(!diagramOf(dev).includes(" changed\n"), "nothing is marked by default");
        assert.equal(diagramOf(dev, { changed: new Set(["node:nope", "release:x:y"]) }), diagramOf(dev));
        const changed = new Set(["node:gw-2", "release:shop:1.9", "hostname:sklep.localhost", "virtualIp", "gateway"]);
        const d = read(diagramOf(dev, { changed }));
        const marked = (d.classes.get("changed") ?? []).map((id) => d.elements.get(id)?.lines[0]).sort();
        assert.deepEqual(marked, ["VIP 172.28.40.100", "gateway: nginx", "gw-2", "shop 1.9", "sklep.localhost"]);
        const styled = d.linkStyles.map((i) => `${d.elements.get(d.edges[i].from)?.lines[0]} → ${d.elements.get(d.edges[i].to)?.lines[0]}`);
        assert.deepEqual(styled, [
            "sklep.localhost → shop 2.0",
            "VIP 172.28.40.100 → gw-1",
            "VIP 172.28.40.100 → gw-2",
            "gateway: nginx → gw-1",
            "gateway: nginx → gw-2",
        ]);
        assert.match(diagramOf(dev), /^ {4}classDef changed stroke-width:/m, "the class is always defined");
    });

    test("one release changed: only it is marked", () => {
        const d = read(diagramOf(dev, { changed: new Set(["release:shop:2.0"]) }));
        assert.deepEqual(d.classes.get("changed"), [titled(d, "shop 2.0").id]);
        assert.deepEqual(d.linkStyles, []);
    });
});

// ---- escaping and ids ----------------------------------------------------------------------------

/** A plan whose names hold what Mermaid's syntax uses: quotes, brackets, pipes, arrows, '#', '%%', '<br>', `end`. */
function trickyPlan(): Plan {
    const nasty = 'say "hi" ]) }} |x| --> #35; %% <br/> `md` end\\';
    const plan = planOf(
        mutate(BASE, (d) => {
            d.nodes[3].labels = { note: nasty };
            d.apps[1].name = "end";
            d.apps[0].releases[1].name = "2.0_RC";
        }),
    );
    // Names the config rejects, set on the plan directly: the diagram must not rely on validation.
    return {
        ...plan,
        nodes: plan.nodes.map((n) => (n.name === "worker-1" ? { ...n, name: 'w"1]', zone: "z\"o\nne" } : n)),
        releases: plan.releases.map((r) => (r.app === "end" ? { ...r, name: '1.0"]' } : r)),
        routes: plan.routes.map((r) => (r.app === "end" ? { ...r, backends: r.backends.map((b) => ({ ...b, release: '1.0"]' })) } : r)),
    };
}

describe("escaping", () => {
    test("a label keeps only characters that stand for themselves; the rest are entity codes that decode back", () => {
        fc.assert(
            fc.property(fc.string({ unit: "binary" }), (text) => {
                const escaped = mermaidText(text);
                assert.match(escaped, /^([A-Za-z0-9 .,_:/=+@*()-]|#\d+;)*$/);
                assert.equal(decode(escaped), text.replace(/\p{Cc}/gu, " "));
            }),
        );
        assert.equal(mermaidText('2.0 "x" #1'), "2.0 #34;x#34; #35;1");
        assert.equal(mermaidText("a\nb\tc"), "a b c", "control characters become spaces");
    });

    test("quotes, brackets, arrows, '#', line breaks and `end` in names keep every line well-formed and every label intact", () => {
        const plan = trickyPlan();
        const d = read(diagramOf(plan, { changed: new Set(['node:w"1]', 'release:end:1.0"]']) }));
        assert.deepEqual(titled(d, "gw-1").lines.at(-1), 'note=say "hi" ]) }} |x| --> #35; %% <br/> `md` end\\');
        assert.equal(zoneOf(d, titled(d, 'w"1]')), 'zone z"o ne', "a line break becomes a space");
        const release = titled(d, 'end 1.0"]');
        assert.deepEqual(classesOf(d, release.id), ["release", "changed"]);
        assert.deepEqual(classesOf(d, titled(d, 'w"1]').id), ["worker", "changed"]);
        assert.ok(d.edges.some((e) => e.to === release.id && d.elements.get(e.from)?.lines[0] === "stock.example"));
    });

    test("ids are unique when names differ only in characters an id cannot hold", () => {
        const plan = planOf(
            mutate(BASE, (d) => {
                d.apps[0].releases[0].hostnames = ["a-b.example"];
                d.apps[0].releases[1].hostnames = ["a.b-example"];
            }),
        );
        const d = read(diagramOf(plan));
        const a = titled(d, "a-b.example");
        const b = titled(d, "a.b-example");
        assert.notEqual(a.id, b.id);
        assert.deepEqual(
            d.edges.filter((e) => e.from === a.id || e.from === b.id).map((e) => d.elements.get(e.to)?.lines[0]),
            ["shop 1.9", "shop 2.0"],
        );
    });
});

describe("stable text", () => {
    test("the same plan gives the same text; the order of lists in the stack file changes nothing", () => {
        assert.equal(diagramOf(dev), diagramOf(planOf(stackConfig("dev"))));
        // Bootstrap and priorities set, so the node list's order only decides the order of the list.
        const ranked = mutate(BASE, (d) => {
            d.nodes[0].bootstrap = true;
            d.nodes[3].priority = 2;
            d.nodes[4].priority = 1;
        });
        const reordered = mutate(ranked, (d) => {
            d.nodes.reverse();
            d.apps.reverse();
            d.apps[1].releases.reverse();
            d.apps[1].releases[0].hostnames.reverse();
        });
        assert.equal(diagramOf(planOf(reordered)), diagramOf(planOf(ranked)));
    });

    test("render writes diagram.mmd and diagram.md, the same chart in a ```mermaid fence", () => {
        const [md, mmd] = diagramArtifacts(dev);
        assert.deepEqual([md.path, mmd.path], ["diagram.md", "diagram.mmd"]);
        assert.equal(mmd.content, diagramOf(dev));
        assert.ok(md.content.includes(`\n\`\`\`mermaid\n${mmd.content}\`\`\`\n`), md.content);
        assert.ok(mmd.content.endsWith("\n") && !mmd.content.includes("```"));
    });
});
