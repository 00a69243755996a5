// Firewall: each node's rules come from the nodes, the swarm's ports, the VRRP groups and the driver's engine API.
import * as assert from "node:assert/strict";
import { describe, test } from "node:test";
import { firewallArtifacts, renderFirewallRules } from "../../model/firewall";
import { BASE, invalidConfigs, mutate, planOf, stackConfig, useSsh, validConfigs } from "./fixtures";

const base = planOf(BASE);
const prod = planOf(stackConfig("prod"));
const rulesOf = (plan: ReturnType<typeof planOf>, node: string) => plan.firewall.nodes.find((n) => n.node === node)?.rules ?? assert.fail(`no rules for ${node}`);
const ports = (plan: ReturnType<typeof planOf>, node: string) => rulesOf(plan, node).map((r) => `${r.protocol}${r.port ? `/${r.port}` : ""}`);

invalidConfigs(
    "firewall",
    [
        {
            name: "ssh nodes with no network allowed to reach their SSH port",
            change: (d) => {
                useSsh(d);
                d.firewall = { enabled: true, sshSources: [], allow: [] };
            },
            path: "firewall.sshSources",
            words: ["lock the program out"],
        },
        {
            name: "an extra rule with a source that is not a network",
            change: (d) => (d.firewall = { enabled: true, sshSources: ["0.0.0.0/0"], allow: [{ name: "metrics", protocol: "tcp", port: 9100, sources: ["10.0.0.1/8"] }] }),
            path: "firewall.allow[metrics].sources[0]",
            words: ["no host bits set"],
        },
        {
            name: "a release memory limit without a unit",
            change: (d) => (d.apps[0].resources = { cpus: 1, memory: "512" }),
            path: "apps[shop].resources.memory",
            words: ["a size like 256m"],
        },
        {
            name: "a gateway memory limit under Docker's minimum",
            change: (d) => (d.gateway.resources = { cpus: 1, memory: "4m" }),
            path: "gateway.resources.memory",
            words: ["at least 6m"],
        },
    ],
    4,
);

validConfigs("firewall", [
    { name: "no firewall at all, and no ssh sources with the docker driver", change: (d) => (d.firewall = { enabled: false, sshSources: [], allow: [] }) },
    { name: "the smallest CPU limit", change: (d) => (d.apps[1].resources = { cpus: 0.01, memory: "6m" }) },
]);

describe("firewall plan", () => {
    test("swarm ports are open to the nodes' own addresses only, never to the whole subnet", () => {
        const gossip = rulesOf(base, "gw-1").find((r) => r.protocol === "tcp" && r.port === 7946);
        assert.deepEqual(gossip?.sources, ["172.28.40.11/32", "172.28.40.12/32", "172.28.40.13/32", "172.28.40.21/32", "172.28.40.22/32", "172.28.40.31/32"]);
        assert.ok(!JSON.stringify(base.firewall).includes("172.28.40.0/24"), "the subnet (bridge gateway, other containers) is outside");
    });

    test("2377 is open on managers only; gossip, the data path and ESP on every node", () => {
        for (const node of ["manager-1", "manager-2", "manager-3"]) assert.ok(ports(base, node).includes("tcp/2377"), node);
        for (const node of ["gw-1", "gw-2", "worker-1"]) assert.ok(!ports(base, node).includes("tcp/2377"), node);
        for (const n of base.firewall.nodes) for (const p of ["tcp/7946", "udp/7946", "udp/4789", "esp"]) assert.ok(ports(base, n.node).includes(p), `${n.node} ${p}`);
    });

    test("the data path port comes from swarm.dataPathPort", () => {
        const plan = planOf(mutate(BASE, (d) => (d.swarm.dataPathPort = 7789)));
        assert.ok(ports(plan, "worker-1").includes("udp/7789"));
        assert.ok(!ports(plan, "worker-1").includes("udp/4789"));
        assert.equal(plan.swarm.dataPathPort, 7789, "and the same port goes to swarm init");
    });

    test("VRRP is accepted from a gateway node's peers only, and nowhere else", () => {
        assert.deepEqual(rulesOf(base, "gw-1").filter((r) => r.protocol === "vrrp").map((r) => r.sources), [["172.28.40.22/32"]]);
        assert.deepEqual(rulesOf(base, "gw-2").filter((r) => r.protocol === "vrrp").map((r) => r.sources), [["172.28.40.21/32"]]);
        for (const node of ["manager-1", "worker-1"]) assert.ok(!ports(base, node).includes("vrrp"), node);
    });

    test("the gateway's ports are open from anywhere on gateway nodes only", () => {
        const http = rulesOf(base, "gw-1").filter((r) => r.protocol === "tcp" && (r.port === 80 || r.port === 443));
        assert.deepEqual(http.map((r) => [r.port, r.sources]), [[80, []], [443, []]]);
        assert.ok(!ports(base, "worker-1").includes("tcp/80"));
    });

    test("docker driver: the engine API on the bootstrap manager only, from the bridge gateway only; none with ssh", () => {
        const api = base.firewall.nodes.flatMap((n) => n.rules.filter((r) => r.port === 2376).map((r) => [n.node, r.sources]));
        assert.deepEqual(api, [["manager-1", ["172.28.40.1/32"]]]);
        assert.ok(!JSON.stringify(prod.firewall).includes('"port":2376'));
        assert.deepEqual(rulesOf(prod, "manager-1").filter((r) => r.port === 22).map((r) => r.sources), [[]], "ssh from anywhere by default");
    });

    test("ssh sources and extra rules reach every node's rules", () => {
        const plan = planOf(mutate(stackConfig("prod"), (d) => (d.firewall = { enabled: true, sshSources: ["10.0.0.0/8"], allow: [{ name: "metrics", protocol: "tcp", port: 9100, sources: ["10.0.20.0/24"] }] })));
        for (const n of plan.firewall.nodes) {
            assert.deepEqual(rulesOf(plan, n.node).filter((r) => r.port === 22).map((r) => r.sources), [["10.0.0.0/8"]]);
            assert.deepEqual(rulesOf(plan, n.node).filter((r) => r.port === 9100).map((r) => r.sources), [["10.0.20.0/24"]]);
        }
    });

    test("the rendered rules end in DROP, after loopback and established traffic", () => {
        const text = renderFirewallRules(base.firewall, "manager-1").split("\n").filter((l) => l.startsWith("-A "));
        assert.deepEqual(text.slice(0, 2), ["-A SWARM-PLATFORM-INPUT -i lo -j ACCEPT", "-A SWARM-PLATFORM-INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT"]);
        assert.equal(text.at(-1), "-A SWARM-PLATFORM-INPUT -j DROP");
    });

    test("disabled: no rules rendered (node-firewall removes them)", () => {
        const plan = planOf(mutate(BASE, (d) => (d.firewall = { enabled: false, sshSources: ["0.0.0.0/0"], allow: [] })));
        assert.equal(plan.firewall.enabled, false);
        assert.deepEqual(firewallArtifacts(plan.firewall), []);
    });
});

describe("node container privileges (docker driver; the engine API plan is checked in nodes.test.ts)", () => {
    test("the node containers' default capabilities are SYS_ADMIN and NET_ADMIN on top of Docker's, not ALL", () => {
        if (base.driver.name !== "docker") return assert.fail("docker driver expected");
        assert.deepEqual(base.driver.docker.capabilities.add, ["SYS_ADMIN", "NET_ADMIN"]);
    });
});
