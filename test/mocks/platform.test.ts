// Mock tests of index.ts: the resources the program declares for the dev and prod stacks and for changed configs.
import assert from "node:assert/strict";
import * as path from "node:path";
import { describe, it } from "node:test";
import { type StackConfigInput } from "../../model";
import { byName, MOCK_JOIN_TOKENS, MOCK_UNLOCK_KEY, ofType, Registered, RunResult, runProgram, stackConfig } from "./harness";

const SERVICE = "docker:index/service:Service";
const COMMAND = "command:local:Command";
const REMOTE = "command:remote:Command";
const PROD_SECRETS = { sshPrivateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nfake\n", tlsSklepCert: "CERT", tlsSklepKey: "KEY" };

type ServiceInputs = {
    name: string;
    mode: { global?: boolean; replicated?: { replicas: number } };
    taskSpec: {
        containerSpec: { image: string; env?: Record<string, string>; mounts?: { type: string; source: string; target: string }[] };
        placement: { constraints: string[] };
        networksAdvanceds: { id: string }[];
    };
    endpointSpec: { mode: string; ports?: { publishMode: string; publishedPort: number; targetPort: number }[] };
    updateConfig: { order: string; failureAction: string; parallelism: number; monitor: string };
    rollbackConfig: { order: string };
};

function services(r: RunResult): Map<string, ServiceInputs> {
    return new Map(ofType(r, SERVICE).map((s) => [String(s.inputs.name), s.inputs as unknown as ServiceInputs]));
}

function count(r: RunResult, type: string): number {
    return ofType(r, type).length;
}

function stdinOf(res: Registered): string {
    return String(res.inputs.stdin ?? "");
}

type DevConfig = StackConfigInput & { apps: NonNullable<StackConfigInput["apps"]> };

function mutateDev(change: (c: DevConfig) => void): Record<string, unknown> {
    const config = stackConfig("dev") as unknown as DevConfig;
    change(config);
    return config as unknown as Record<string, unknown>;
}

describe("dev stack (docker driver)", () => {
    let dev: RunResult;
    it("declares four node containers with a data volume each, gateway nodes routes and state volumes too, on one bridge network", async () => {
        dev = await runProgram({ stack: "dev", config: stackConfig("dev") });
        assert.equal(count(dev, "docker:index/container:Container"), 4);
        assert.deepEqual(ofType(dev, "docker:index/volume:Volume").map((v) => v.inputs.name).sort(), [
            "swarm-platform-dev-gw-1-docker", "swarm-platform-dev-gw-1-gateway-routes", "swarm-platform-dev-gw-1-gateway-state",
            "swarm-platform-dev-gw-2-docker", "swarm-platform-dev-gw-2-gateway-routes", "swarm-platform-dev-gw-2-gateway-state",
            "swarm-platform-dev-manager-1-docker", "swarm-platform-dev-worker-1-docker",
        ]);
        // a rebuilt gateway node keeps its routes: the routes dir is its own volume
        const mounts = (n: string) => (byName(dev, `platform-nodes-${n}`).inputs.volumes as { volumeName?: string; containerPath: string }[]).map((v) => `${v.volumeName ?? "host"}:${v.containerPath}`);
        assert.ok(mounts("gw-1").includes("swarm-platform-dev-gw-1-gateway-routes:/etc/swarm-gateway"), mounts("gw-1").join(" "));
        assert.ok(mounts("gw-1").includes("swarm-platform-dev-gw-1-gateway-state:/var/lib/swarm-gateway"), "the state dir too: a bind mount needs its source");
        assert.ok(!mounts("worker-1").some((m) => m.includes("routes")), "only gateway nodes");
        const bridges = ofType(dev, "docker:index/network:Network").filter((n) => n.inputs.driver === "bridge");
        assert.deepEqual(bridges.map((b) => b.inputs.ipamConfigs), [[{ subnet: "172.28.40.0/24" }]]);
        const gw1 = byName(dev, "platform-nodes-gw-1").inputs as { hostname: string; networksAdvanced: { ipv4Address: string }[] };
        assert.equal(gw1.hostname, "gw-1");
        assert.equal(gw1.networksAdvanced[0].ipv4Address, "172.28.40.12");
    });

    it("publishes only the bootstrap manager's engine API (TLS port 2376), and only on loopback", () => {
        const published = ofType(dev, "docker:index/container:Container").filter((c) => (c.inputs.ports as unknown[] | undefined)?.length);
        assert.deepEqual(published.map((c) => c.name), ["platform-nodes-manager-1"]);
        assert.deepEqual(published[0].inputs.ports, [{ internal: 2376, external: 23750, ip: "127.0.0.1" }]);
    });

    it("uploads the engine API's server certificate and key (0600) into the bootstrap manager only, before it starts", () => {
        const uploads = (name: string) => byName(dev, name).inputs.uploads as { file: string; content: string; permissions: string }[] | undefined;
        assert.deepEqual(uploads("platform-nodes-manager-1")?.map((u) => `${u.file} ${u.permissions}`), [
            "/etc/swarm-platform/engine-tls/ca.pem 0644",
            "/etc/swarm-platform/engine-tls/server-cert.pem 0644",
            "/etc/swarm-platform/engine-tls/server-key.pem 0600",
        ]);
        assert.match(uploads("platform-nodes-manager-1")![2].content, /FAKE SERVER KEY/, "the server key engine-tls made");
        for (const n of ["gw-1", "gw-2", "worker-1"]) assert.equal(uploads(`platform-nodes-${n}`), undefined, `${n} has no TCP API`);
        assert.ok(dev.declared.get("platform-nodes-manager-1")!.secretInputs.includes("uploads"), "the key travels as a secret");
    });

    it("gives the swarm provider the engine API's client certificate, key and CA as secrets; the generator's output is never logged", () => {
        const provider = ofType(dev, "pulumi:providers:docker").find((p) => p.name === "platform-swarm-manager")!;
        assert.equal(provider.inputs.host, "tcp://127.0.0.1:23750");
        assert.match(String(provider.inputs.caMaterial), /FAKE CA/);
        assert.match(String(provider.inputs.certMaterial), /FAKE CLIENT CERT/);
        assert.match(String(provider.inputs.keyMaterial), /FAKE CLIENT KEY/);
        assert.ok(dev.declared.get("platform-swarm-manager")!.secretInputs.includes("keyMaterial"));
        const tls = byName(dev, "platform-nodes-engine-tls");
        assert.equal(tls.inputs.logging, "none");
        assert.equal(tls.inputs.create, "bash -s", "names and days travel on stdin, nothing on the command line");
        assert.deepEqual(envOf(tls), { NODE_NAME: "manager-1", GENERATION: "1", SERVER_NAMES: "127.0.0.1 172.28.40.11 manager-1", VALIDITY_DAYS: "365" });
        assert.equal(dev.outputs.dockerCli, "docker exec swarm-platform-dev-manager-1 docker node ls");
    });

    it("applies a firewall on every node before any other script runs there (image loads need only the engine)", () => {
        const fw = ofType(dev, COMMAND).filter((c) => c.name.startsWith("platform-firewall-")).map((c) => c.name).sort();
        assert.deepEqual(fw, ["platform-firewall-gw-1", "platform-firewall-gw-2", "platform-firewall-manager-1", "platform-firewall-worker-1"]);
        const rules = (node: string) => envOf(byName(dev, `platform-firewall-${node}`)).RULES;
        assert.match(rules("manager-1"), /^-A SWARM-PLATFORM-INPUT -p tcp -s 172\.28\.40\.12\/32 --dport 2377 -j ACCEPT$/m);
        assert.match(rules("manager-1"), /^-A SWARM-PLATFORM-INPUT -p tcp -s 172\.28\.40\.1\/32 --dport 2376 -j ACCEPT$/m, "the API from the host's published port only");
        assert.doesNotMatch(rules("gw-1"), /--dport 2377|--dport 2376/, "no manager or API port on a worker");
        assert.match(rules("gw-1"), /^-A SWARM-PLATFORM-INPUT -p 112 -s 172\.28\.40\.13\/32 -j ACCEPT$/m);
        assert.doesNotMatch(rules("worker-1"), /-p 112|--dport 80 /, "no VRRP or gateway port off the gateway nodes");
        const deps = (name: string) => dev.declared.get(name)?.dependsOn ?? assert.fail(`${name} not declared`);
        for (const [step, node] of [["platform-swarm-init", "manager-1"], ["platform-swarm-join-gw-1", "gw-1"], ["platform-virtualIp-keepalived-gw-2", "gw-2"], ["platform-gateway-routes-gw-1", "gw-1"]]) {
            assert.ok(deps(step).includes(`platform-firewall-${node}`), `${step} waits for ${node}'s firewall (has ${deps(step).join(", ")})`);
        }
        // an image load opens nothing on the node: it waits for the node's engine, not its firewall
        for (const load of ["platform-shop-1-9-image-load-gw-1", "platform-gateway-image-load-gw-1", "platform-stock-1-0-image-load-worker-1"]) {
            assert.ok(!deps(load).some((d) => d.startsWith("platform-firewall-")), `${load} does not wait for a firewall (has ${deps(load).join(", ")})`);
        }
    });

    it("gives the gateway limits, a read-only root with tmpfs for the engine, and only the capabilities its master needs", () => {
        const gw = services(dev).get("gateway")! as unknown as {
            taskSpec: { resources: unknown; containerSpec: { readOnly: boolean; capDrops: string[]; capAdds: string[]; mounts: { type: string; target: string }[] } };
        };
        assert.deepEqual(gw.taskSpec.resources, { limits: { nanoCpus: 1e9, memoryBytes: 256 * 1024 ** 2 } });
        assert.equal(gw.taskSpec.containerSpec.readOnly, true);
        assert.deepEqual(gw.taskSpec.containerSpec.mounts.filter((m) => m.type === "tmpfs").map((m) => m.target), ["/run", "/tmp", "/var/cache/nginx", "/var/lib/nginx"]);
        assert.deepEqual(gw.taskSpec.containerSpec.capDrops, ["ALL"]);
        assert.deepEqual(gw.taskSpec.containerSpec.capAdds, ["CHOWN", "KILL", "NET_BIND_SERVICE", "SETGID", "SETUID"]);
    });

    it("gives every release the app's limits and read-only root filesystem setting", async () => {
        const shop = services(dev).get("shop-1-9")! as unknown as { taskSpec: { resources: unknown; containerSpec: { readOnly: boolean } } };
        assert.deepEqual(shop.taskSpec.resources, { limits: { nanoCpus: 1e9, memoryBytes: 512 * 1024 ** 2 } }, "the defaults");
        assert.equal(shop.taskSpec.containerSpec.readOnly, true, "Pulumi.dev.yaml runs the demo app read-only");
        const r = await runProgram({
            stack: "dev",
            config: mutateDev((c) => {
                c.apps[0].resources = { cpus: 0.25, memory: "64m" };
                c.apps[0].readOnlyRootFilesystem = false;
                c.gateway = { ...c.gateway, engine: "haproxy", resources: { cpus: 2, memory: "1g" }, readOnlyRootFilesystem: false };
            }),
        });
        const changed = services(r).get("shop-2-0")! as unknown as { taskSpec: { resources: unknown; containerSpec: { readOnly: boolean } } };
        assert.deepEqual(changed.taskSpec.resources, { limits: { nanoCpus: 2.5e8, memoryBytes: 64 * 1024 ** 2 } });
        assert.equal(changed.taskSpec.containerSpec.readOnly, false);
        const gw = services(r).get("gateway")! as unknown as { taskSpec: { resources: unknown; containerSpec: { readOnly: boolean; mounts: { type: string }[] } } };
        assert.deepEqual(gw.taskSpec.resources, { limits: { nanoCpus: 2e9, memoryBytes: 1024 ** 3 } });
        assert.equal(gw.taskSpec.containerSpec.readOnly, false);
        assert.deepEqual(gw.taskSpec.containerSpec.mounts.filter((m) => m.type === "tmpfs"), [], "no tmpfs with a writable root");
    });

    it("runs the node containers, when not privileged, with Docker's default capabilities plus SYS_ADMIN and NET_ADMIN only", async () => {
        const r = await runProgram({ stack: "dev", config: mutateDev((c) => (c.drivers = { docker: { ...c.drivers?.docker, privileged: false } })) });
        for (const c of ofType(r, "docker:index/container:Container")) {
            assert.equal(c.inputs.privileged, false);
            assert.deepEqual(c.inputs.capabilities, { adds: ["SYS_ADMIN", "NET_ADMIN"], drops: [] }, c.name);
        }
    });

    it("declares overlays per zone and for the gateway on the swarm provider", () => {
        const overlays = ofType(dev, "docker:index/network:Network").filter((n) => n.inputs.driver === "overlay");
        assert.deepEqual(overlays.map((n) => n.inputs.name).sort(), ["gateway", "zone-dmz", "zone-intra"]);
        // The gateway docker assigns, sent as the provider reads it back: with [{ subnet }] alone every run would replace the network.
        assert.deepEqual(overlays.map((n) => n.inputs.ipamConfigs).sort(), [[{ subnet: "10.209.0.0/24", gateway: "10.209.0.1" }], [{ subnet: "10.209.1.0/24", gateway: "10.209.1.1" }], [{ subnet: "10.209.2.0/24", gateway: "10.209.2.1" }]]);
        for (const o of overlays) assert.match(String(o.provider), /platform-swarm-manager/);
    });

    it("ignores an overlay's late-read fields (driver, IPAM) only where the live swarm has it as planned", async () => {
        const fields = (r: RunResult, name: string) => r.declared.get(`platform-networks-${name}`)!.ignoreChanges;
        // no live read of the networks (a first up, or the read failed): only the options, as always
        for (const n of ["gateway", "zone-dmz", "zone-intra"]) assert.deepEqual(fields(dev, n), ["options"], n);
        const overlay = (name: string, subnet: string, gateway: string) => ({ name, driver: "overlay", ingress: false, ipamDriver: "default", ipam: [{ subnet, gateway }] });
        const live = await runProgram({
            stack: "dev",
            config: stackConfig("dev"),
            liveManagers: [{ name: "manager-1", reachable: true }],
            liveNetworks: [
                overlay("gateway", "10.209.0.0/24", "10.209.0.1"),
                // zone-dmz was created with another subnet: the plan's change still replaces it
                overlay("zone-dmz", "10.209.7.0/24", "10.209.7.1"),
                overlay("zone-intra", "10.209.2.0/24", "10.209.2.1"),
            ],
        });
        assert.deepEqual(fields(live, "gateway"), ["options", "driver", "ipamDriver", "ipamConfigs"]);
        assert.deepEqual(fields(live, "zone-intra"), ["options", "driver", "ipamDriver", "ipamConfigs"]);
        assert.deepEqual(fields(live, "zone-dmz"), ["options"]);
        // the inputs do not change: the fields are still sent as planned when a network is created
        for (const n of ["gateway", "zone-dmz", "zone-intra"]) assert.deepEqual(byName(live, `platform-networks-${n}`).inputs, byName(dev, `platform-networks-${n}`).inputs, n);
    });

    it("saves each loaded image once before its loads; routed releases, then the gateway, then images no route reaches", () => {
        const deps = (name: string) => dev.declared.get(name)?.dependsOn ?? assert.fail(`${name} not declared`);
        const loads = ofType(dev, COMMAND).map((c) => c.name).filter((n) => /-image-load-/.test(n)).sort();
        assert.deepEqual(loads, [
            "platform-gateway-image-load-gw-1", "platform-gateway-image-load-gw-2",
            "platform-shop-1-9-image-load-gw-1", "platform-shop-1-9-image-load-gw-2",
            "platform-shop-2-0-image-load-gw-1", "platform-shop-2-0-image-load-gw-2",
            "platform-stock-1-0-image-load-manager-1", "platform-stock-1-0-image-load-worker-1",
        ]);
        for (const load of loads) {
            const image = load.replace(/-load-.*$/, "");
            assert.ok(deps(load).includes(`${image}-save`), `${load} waits for ${image}-save`);
        }
        const save = ofType(dev, COMMAND).find((c) => c.name === "platform-gateway-image-save")!;
        assert.match(String(save.inputs.stdin), /SAVE_ONLY/);
        assert.deepEqual(deps("platform-gateway-image-save"), [], "a save waits for nothing but its image");
        const firstAnswer = loads.filter((n) => !n.includes("stock"));
        for (const stock of ["platform-stock-1-0-image-load-manager-1", "platform-stock-1-0-image-load-worker-1"]) {
            for (const first of firstAnswer) assert.ok(deps(stock).includes(first), `${stock} waits for ${first}`);
        }
        for (const first of firstAnswer) assert.ok(!deps(first).some((d) => d.includes("stock")), `${first} waits for no stock load`);
        // On a gateway node, the routed releases' images before the gateway's (a release is served one healthcheck
        // interval after it starts, the gateway at once); never the other way round, and only that node's.
        for (const node of ["gw-1", "gw-2"]) {
            const other = node === "gw-1" ? "gw-2" : "gw-1";
            const gatewayLoad = `platform-gateway-image-load-${node}`;
            for (const shop of ["platform-shop-1-9", "platform-shop-2-0"]) {
                assert.ok(deps(gatewayLoad).includes(`${shop}-image-load-${node}`), `${gatewayLoad} waits for ${shop}-image-load-${node}`);
                assert.ok(!deps(gatewayLoad).includes(`${shop}-image-load-${other}`), `${gatewayLoad} waits for no load on ${other}`);
                assert.ok(!deps(`${shop}-image-load-${node}`).some((d) => d.includes("gateway")), `${shop}-image-load-${node} waits for no gateway load`);
            }
        }
    });

    it("runs one swarm init, three joins and a membership step per node", () => {
        const commands = ofType(dev, COMMAND);
        const named = (prefix: string) => commands.filter((c) => c.name.startsWith(prefix)).map((c) => c.name).sort();
        assert.deepEqual(named("platform-swarm-init"), ["platform-swarm-init"]);
        assert.deepEqual(named("platform-swarm-join-").filter((n) => !n.includes("join-token")), ["platform-swarm-join-gw-1", "platform-swarm-join-gw-2", "platform-swarm-join-worker-1"]);
        assert.deepEqual(named("platform-swarm-member-"), ["platform-swarm-member-gw-1", "platform-swarm-member-gw-2", "platform-swarm-member-manager-1", "platform-swarm-member-worker-1"]);
        for (const c of commands.filter((x) => x.name.startsWith("swarm-"))) assert.match(String(c.inputs.create), /^docker exec -i swarm-platform-dev-\S+ bash -s$/);
    });

    it("gives every release one replicated service placed by its zone, on its zone overlay and the gateway network", () => {
        const svc = services(dev);
        assert.deepEqual([...svc.keys()].sort(), ["gateway", "shop-1-9", "shop-2-0", "stock-1-0"]);
        const overlayId = (name: string) => `platform-networks-${name}-id`;
        for (const [name, zone, routed] of [["shop-1-9", "dmz", true], ["shop-2-0", "dmz", true], ["stock-1-0", "intra", false]] as const) {
            const s = svc.get(name)!;
            assert.deepEqual(s.taskSpec.placement.constraints, [`node.labels.zone==${zone}`], name);
            assert.deepEqual(s.taskSpec.networksAdvanceds, [{ id: overlayId(`zone-${zone}`) }, ...(routed ? [{ id: overlayId("gateway") }] : [])], name);
            assert.ok(s.mode.replicated, `${name} is replicated`);
            assert.equal(s.updateConfig.order, "start-first");
            assert.equal(s.updateConfig.failureAction, "rollback");
            assert.equal(s.updateConfig.parallelism, 1);
            assert.equal(s.updateConfig.monitor, "30s", "startPeriod 10 + interval 5 × retries 3 + 5");
            assert.equal(s.rollbackConfig.order, "stop-first");
            assert.equal((s.rollbackConfig as { failureAction?: string }).failureAction, "pause", "a rollback can only pause or continue");
            assert.equal((s.updateConfig as { maxFailureRatio?: string }).maxFailureRatio, "0.0", "as the provider reads it back");
            assert.equal(s.endpointSpec.mode, "dnsrr");
        }
        assert.equal(svc.get("shop-2-0")!.taskSpec.containerSpec.env?.RELEASE, "2.0");
    });

    it("runs the gateway globally on gateway nodes with host-mode ports only, stop-first", () => {
        const gw = services(dev).get("gateway")!;
        assert.deepEqual(gw.mode, { global: true });
        assert.deepEqual(gw.taskSpec.placement.constraints, ["node.labels.gateway==true"]);
        assert.ok(gw.endpointSpec.ports!.length > 0);
        for (const p of gw.endpointSpec.ports!) assert.equal(p.publishMode, "host");
        assert.equal(gw.updateConfig.order, "stop-first");
        assert.equal(gw.updateConfig.parallelism, 1);
        assert.ok(gw.taskSpec.containerSpec.mounts!.some((m) => m.type === "bind" && m.target === "/etc/swarm-gateway"), "routes are bind-mounted, not baked in");
    });

    it("publishes no ingress port from any service", () => {
        for (const [name, s] of services(dev)) {
            for (const p of s.endpointSpec.ports ?? []) assert.notEqual(p.publishMode, "ingress", name);
        }
    });

    it("waits: joins on init, memberships on joins, services on memberships, networks and image loads", async () => {
        const deps = (name: string) => dev.declared.get(name)?.dependsOn ?? assert.fail(`${name} not declared`);
        assert.ok(deps("platform-swarm-join-gw-1").includes("platform-swarm-init"));
        // With a swarm, each membership after its own join and the previous membership (role changes one node at a
        // time); on a first up (no swarm answered, these runs' default) after its own join only: no role to change.
        const live = await runProgram({ stack: "dev", config: stackConfig("dev"), liveManagers: [{ name: "manager-1", reachable: true }] });
        const liveDeps = (name: string) => live.declared.get(name)?.dependsOn ?? assert.fail(`${name} not declared`);
        for (const d of [deps, liveDeps]) assert.deepEqual(d("platform-swarm-member-manager-1").filter((x) => x.startsWith("platform-swarm-")), ["platform-swarm-init"]);
        for (const [member, previous] of [["gw-1", "manager-1"], ["gw-2", "gw-1"], ["worker-1", "gw-2"]]) {
            assert.ok(liveDeps(`platform-swarm-member-${member}`).includes(`platform-swarm-join-${member}`), `${member}'s membership after its join`);
            assert.ok(liveDeps(`platform-swarm-member-${member}`).includes(`platform-swarm-member-${previous}`), `with a swarm, ${member}'s membership after ${previous}'s`);
            assert.deepEqual(deps(`platform-swarm-member-${member}`).filter((x) => x.startsWith("platform-swarm-")), [`platform-swarm-join-${member}`], `on a first up, ${member}'s membership after its join only`);
        }
        const shop = deps("platform-shop-1-9-service");
        for (const d of ["platform-swarm-drain-gw-1", "platform-swarm-drain-gw-2", "platform-networks-zone-dmz", "platform-networks-gateway", "platform-shop-1-9-image-load-gw-1", "platform-shop-1-9-image-load-gw-2"]) {
            assert.ok(shop.includes(d), `shop-1-9 waits for ${d} (has ${shop.join(", ")})`);
        }
        const gateway = deps("platform-gateway-service");
        for (const d of ["platform-gateway-routes-gw-1", "platform-gateway-routes-gw-2", "platform-gateway-image-load-gw-1", "platform-swarm-drain-gw-2"]) {
            assert.ok(gateway.includes(d), `gateway waits for ${d}`);
        }
        assert.ok(deps("platform-virtualIp-keepalived-gw-1").includes("platform-swarm-drain-gw-1"));
        // The networks need the swarm, not the chain of membership steps (which would hold the first services back),
        // nor, with the docker driver (the engine API over TLS, no sshd to spare), the join-token reads.
        for (const n of ["platform-networks-zone-dmz", "platform-networks-gateway"]) {
            assert.deepEqual(deps(n), ["platform-swarm-init"], `${n} waits for the swarm init only`);
        }
    });

    it("driver docker, first up: the nodes the first answer needs are built at once, the others after the loads that answer waits for", async () => {
        const deps = (r: RunResult, name: string) => r.declared.get(name)?.dependsOn ?? assert.fail(`${name} not declared`);
        const firstAnswerLoads = [...dev.declared.keys()].filter((n) => /^platform-(shop-1-9|shop-2-0|gateway)-image-load-/.test(n)).sort();
        assert.equal(firstAnswerLoads.length, 6, firstAnswerLoads.join(", ")); // shop 1.9, 2.0 and the gateway on gw-1 and gw-2
        // worker-1 is in zone intra, where only stock runs (no hostname): built once the first answer's images are in
        for (const d of firstAnswerLoads) assert.ok(deps(dev, "platform-nodes-worker-1").includes(d), `worker-1 after ${d} (has ${deps(dev, "platform-nodes-worker-1").join(", ")})`);
        assert.ok(deps(dev, "platform-nodes-worker-1-data").includes(firstAnswerLoads[0]), "its data volume too");
        for (const n of ["manager-1", "gw-1", "gw-2"]) {
            assert.ok(!deps(dev, `platform-nodes-${n}`).some((d) => d.includes("-image-load-")), `${n} waits for no load (has ${deps(dev, `platform-nodes-${n}`).join(", ")})`);
        }
        // nothing of it once a swarm exists: each node waits for the previous node of the rollout, as before
        const live = await runProgram({ stack: "dev", config: stackConfig("dev"), liveManagers: [{ name: "manager-1", reachable: true }] });
        assert.ok(!deps(live, "platform-nodes-worker-1").some((d) => d.includes("-image-load-")), deps(live, "platform-nodes-worker-1").join(", "));
        assert.ok(deps(live, "platform-nodes-worker-1").includes("platform-settle-gw-2"), deps(live, "platform-nodes-worker-1").join(", "));
        // the stock image still loads last (after the gateway runs), so worker-1's load after its node: no cycle
        assert.ok(deps(dev, "platform-stock-1-0-image-load-worker-1").includes("platform-nodes-worker-1-engine-ready"));
    });

    it("driver docker with 3 managers: managers built later hold neither the workers' token reads nor the overlays", async () => {
        const config = stackConfig("dev");
        config.nodes = [
            { name: "manager-1", role: "manager", zone: "intra", address: "172.28.40.11", bootstrap: true },
            { name: "manager-2", role: "manager", zone: "intra", address: "172.28.40.15" },
            { name: "manager-3", role: "manager", zone: "intra", address: "172.28.40.16" },
            { name: "gw-1", role: "worker", zone: "dmz", address: "172.28.40.12", gateway: true, priority: 2 },
            { name: "gw-2", role: "worker", zone: "dmz", address: "172.28.40.13", gateway: true, priority: 1 },
            { name: "worker-1", role: "worker", zone: "intra", address: "172.28.40.14" },
        ];
        const r = await runProgram({ stack: "dev", config });
        const deps = (name: string) => r.declared.get(name)?.dependsOn ?? assert.fail(`${name} not declared`);
        const swarmDeps = (name: string) => deps(name).filter((d) => d.startsWith("platform-swarm-"));
        for (const n of ["manager-2", "manager-3", "worker-1"]) assert.ok(deps(`platform-nodes-${n}`).includes("platform-gateway-image-load-gw-1"), `${n} is built after the first answer's loads`);
        assert.deepEqual(swarmDeps("platform-swarm-join-token-manager-3"), ["platform-swarm-init", "platform-swarm-join-token-manager-2"], "managers' reads one at a time");
        for (const w of ["gw-1", "gw-2", "worker-1"]) assert.deepEqual(swarmDeps(`platform-swarm-join-token-${w}`), ["platform-swarm-init"], `${w}'s token read waits for no manager's`);
        for (const n of ["platform-networks-zone-dmz", "platform-networks-gateway"]) assert.deepEqual(deps(n), ["platform-swarm-init"], n);
    });

    it("node lifecycle: what is placed on a node depends on its drain step, which depends on its membership; so Pulumi deletes the VIP and routes first, then drains, then the node leaves", () => {
        const deps = (name: string) => dev.declared.get(name)?.dependsOn ?? assert.fail(`${name} not declared`);
        for (const n of ["gw-1", "gw-2"]) {
            assert.ok(deps(`platform-swarm-drain-${n}`).includes(`platform-swarm-member-${n}`), `${n}: drain after membership`);
            assert.ok(deps(`platform-virtualIp-keepalived-${n}`).includes(`platform-swarm-drain-${n}`), `${n}: keepalived after the drain step (deleted before it)`);
            assert.ok(deps(`platform-gateway-routes-${n}`).includes(`platform-swarm-drain-${n}`), `${n}: routes after the drain step`);
            // an image delivery needs the node's engine only: not its firewall, membership nor keepalived
            const load = deps(`platform-gateway-image-load-${n}`);
            assert.ok(load.includes(`platform-nodes-${n}-engine-ready`), `${n}: gateway image after its engine (${load.join(", ")})`);
            for (const d of [`platform-firewall-${n}`, `platform-swarm-drain-${n}`, `platform-swarm-member-${n}`, `platform-virtualIp-keepalived-${n}`]) assert.ok(!load.includes(d), `${n}: gateway image does not wait for ${d}`);
        }
        // the drain step's delete: node-remove on the bootstrap manager with the node's id and address
        const drain = byName(dev, "platform-swarm-drain-gw-1").inputs as { create: string; delete: string; triggers: string[] };
        const removal = Buffer.from(/printf %s '([^']+)'/.exec(drain.delete)![1], "base64").toString();
        assert.match(removal, /node script "node-remove" for node manager-1/);
        for (const [k, v] of [["NODE_ID", "id-swarm-platform-dev-gw-1"], ["MEMBER_NAME", "gw-1"], ["MEMBER_ADDR", "172.28.40.12"]]) {
            assert.ok(removal.includes(`sp_env ${k} '${Buffer.from(v).toString("base64")}'`), `delete carries ${k}=${v}`);
        }
        assert.doesNotMatch(removal, /sp_env KEEP_IN_SWARM/);
        assert.match(drain.delete, /docker exec -i swarm-platform-dev-manager-1 bash -s$/);
        // it follows a replaced gw-1 (its ready steps' ids), never a replaced bootstrap manager (whose container id is absent)
        assert.deepEqual(drain.triggers, ["platform-nodes-gw-1-engine-ready-id", "platform-firewall-gw-1-id"]);
        const own = byName(dev, "platform-swarm-drain-manager-1").inputs as { delete: string; triggers: string[] };
        assert.ok(own.triggers.includes("platform-nodes-manager-1-id"), "the bootstrap manager's own drain step follows its container");
        assert.ok(Buffer.from(/printf %s '([^']+)'/.exec(own.delete)![1], "base64").toString().includes(`sp_env KEEP_IN_SWARM '${Buffer.from("true").toString("base64")}'`), "the bootstrap manager is drained, never removed");
        // memberships no longer remove nodes: a replaced bootstrap manager replaces them, and nothing may run then
        for (const n of ["gw-1", "gw-2", "worker-1"]) assert.equal(byName(dev, `platform-swarm-member-${n}`).inputs.delete, undefined, `${n}'s membership has no delete`);
        // the bootstrap manager leaves its swarm only once it is alone
        const init = byName(dev, "platform-swarm-init").inputs as { delete: string };
        assert.ok(Buffer.from(/printf %s '([^']+)'/.exec(init.delete)![1], "base64").toString().includes(`sp_env BOOTSTRAP '${Buffer.from("true").toString("base64")}'`));
    });

    it("node lifecycle: with a swarm, node containers are (re)built one at a time, each after the previous node settled; on a first up all at once", async () => {
        const live = await runProgram({ stack: "dev", config: stackConfig("dev"), liveManagers: [{ name: "manager-1", reachable: true }] });
        const liveDeps = (name: string) => live.declared.get(name)?.dependsOn ?? assert.fail(`${name} not declared`);
        assert.deepEqual(liveDeps("platform-nodes-manager-1"), []);
        for (const [node, previous] of [["gw-1", "manager-1"], ["gw-2", "gw-1"], ["worker-1", "gw-2"]]) {
            assert.deepEqual(liveDeps(`platform-nodes-${node}`), [`platform-settle-${previous}`], `${node}'s container waits for ${previous}`);
            assert.deepEqual(liveDeps(`platform-nodes-${node}-data`), [`platform-settle-${previous}`], `${node}'s volume (a rebuild) waits for ${previous}`);
        }
        // no swarm answered (the default of these runs): nothing runs on any node yet, so no node waits for another
        // (worker-1, which the first answer does not need, waits for that answer's image loads: the next test)
        const deps = (name: string) => dev.declared.get(name)?.dependsOn ?? assert.fail(`${name} not declared`);
        for (const node of ["manager-1", "gw-1", "gw-2"]) {
            assert.deepEqual(deps(`platform-nodes-${node}`), [], `${node}'s container waits for no other node on a first up`);
            assert.deepEqual(deps(`platform-nodes-${node}-data`), [], `${node}'s volume waits for no other node on a first up`);
        }
    });

    it("node lifecycle: a node settles after its drain step and keepalived; with a swarm, firewalls wait for departed nodes to be drained", async () => {
        const deps = (name: string) => dev.declared.get(name)?.dependsOn ?? assert.fail(`${name} not declared`);
        const settle = deps("platform-settle-gw-1");
        for (const d of ["platform-swarm-drain-gw-1", "platform-virtualIp-keepalived-gw-1"]) assert.ok(settle.includes(d), `settle-gw-1 waits for ${d}`);
        // Not for the node's routes step: routes wait for the release gates, the releases for their zone's nodes, and the
        // next node's container for this settle step (a cycle that never resolves). Its gateway task at run time, once
        // the node has routes (node-settle's GATEWAY_SERVICE).
        assert.ok(!settle.includes("platform-gateway-routes-gw-1"), "settle-gw-1 does not wait for the routes step (a cycle)");
        assert.ok((byName(dev, "platform-settle-gw-1").inputs as { stdin: string }).stdin.includes(`sp_env GATEWAY_SERVICE '${Buffer.from("gateway").toString("base64")}'`));
        const settleInputs = byName(dev, "platform-settle-gw-1").inputs as { stdin: string; triggers: string[] };
        assert.deepEqual(settleInputs.triggers, ["platform-nodes-gw-1-engine-ready-id", "platform-firewall-gw-1-id"]);
        // dev's fast profile: rise 1 × interval 1 s + one 0.2 s advert, rounded up
        assert.ok(settleInputs.stdin.includes(`sp_env SETTLE_SECONDS '${Buffer.from("2").toString("base64")}'`), "a gateway node waits rise × interval + one advert");
        const live = await runProgram({ stack: "dev", config: stackConfig("dev"), liveManagers: [{ name: "manager-1", reachable: true }] });
        for (const n of ["manager-1", "gw-1", "gw-2", "worker-1"]) {
            assert.ok(live.declared.get(`platform-firewall-${n}`)?.dependsOn.includes("platform-departures"), `with a swarm, ${n}'s firewall after the departures`);
            // a first up: no planned manager is in a swarm, nothing departs; the swarm init (after the firewalls) does not wait
            assert.ok(!deps(`platform-firewall-${n}`).includes("platform-departures"), `first up: ${n}'s firewall does not wait for the departures`);
        }
        assert.ok(byName(dev, "platform-departures"), "the departures step is declared on a first up too (a later up keeps it unchanged)");
        const departures = byName(dev, "platform-departures").inputs as { stdin: string };
        assert.ok(departures.stdin.includes(Buffer.from("172.28.40.11\n172.28.40.12\n172.28.40.13\n172.28.40.14").toString("base64")), "the planned members' addresses");
    });

    it("keeps join tokens and the VRRP password secret, and out of the logs", async () => {
        assert.ok(dev.declared.get("platform-swarm-join-gw-1")!.secretInputs.includes("stdin"), "join token travels in a secret stdin");
        for (const step of ["platform-swarm-init", "platform-swarm-join-token-gw-1", "platform-swarm-join-token-worker-1"]) assert.equal(byName(dev, step).inputs.logging, "none", step);
        // dev's fast profile is VRRPv3: no password exists, none is rendered
        assert.equal(count(dev, "random:index/randomPassword:RandomPassword"), 0, "no VRRP password with VRRPv3");
        assert.doesNotMatch(envOf(byName(dev, "platform-virtualIp-keepalived-gw-1")).KEEPALIVED_CONF, /auth_pass/);
        // the default profile (VRRPv2, PASS): a generated 8-character password, only in a secret stdin
        const v2 = await runProgram({ stack: "dev", config: mutateDev((c) => ((c.virtualIp as Record<string, unknown>).profile = "default")) });
        assert.ok(v2.declared.get("platform-virtualIp-keepalived-gw-1")!.secretInputs.includes("stdin"), "keepalived.conf holds the password");
        const password = byName(v2, "platform-virtualIp-password");
        assert.equal(password.inputs.length, 8);
        assert.match(envOf(byName(v2, "platform-virtualIp-keepalived-gw-1")).KEEPALIVED_CONF, /auth_pass Pa55w0rd/);
        for (const c of ofType(dev, COMMAND)) {
            assert.ok(!String(c.inputs.create).includes("SWMTKN"), `${c.name}: no token on a command line`);
            assert.ok(!String(c.inputs.delete ?? "").includes("SWMTKN"), `${c.name}: no token in the delete command`);
        }
    });

    it("reads each join token from the bootstrap manager right before the join, and rotates both tokens after all joins", () => {
        const deps = (name: string) => dev.declared.get(name)?.dependsOn ?? assert.fail(`${name} not declared`);
        for (const node of ["gw-1", "gw-2", "worker-1"]) {
            const read = byName(dev, `platform-swarm-join-token-${node}`);
            assert.match(String(read.inputs.create), /^docker exec -i swarm-platform-dev-manager-1 bash -s$/, "runs on the bootstrap manager");
            assert.deepEqual({ ROLE: envOf(read).ROLE, MEMBER_NAME: envOf(read).MEMBER_NAME }, { ROLE: "worker", MEMBER_NAME: node });
            assert.ok(deps(read.name).includes("platform-swarm-init"));
            assert.ok(deps(`platform-swarm-join-${node}`).includes(read.name), `the join of ${node} waits for its token`);
            assert.equal(envOf(byName(dev, `platform-swarm-join-${node}`)).JOIN_TOKEN, MOCK_JOIN_TOKENS.worker);
            // Read again when the joining node's container is replaced (its engine-ready step gets a new id).
            assert.ok((read.inputs.triggers as string[]).includes(`platform-nodes-${node}-engine-ready-id`), `${node}: ${JSON.stringify(read.inputs.triggers)}`);
        }
        const rotate = byName(dev, "platform-swarm-rotate-tokens");
        assert.match(String(rotate.inputs.create), /swarm-platform-dev-manager-1 /);
        assert.equal(envOf(rotate).JOINED, ["id-swarm-platform-dev-gw-1", "id-swarm-platform-dev-gw-2", "id-swarm-platform-dev-worker-1"].join("\n"));
        for (const join of ["platform-swarm-join-gw-1", "platform-swarm-join-gw-2", "platform-swarm-join-worker-1"]) assert.ok(deps(rotate.name).includes(join), `rotation after ${join}`);
        assert.ok(!stdinOf(byName(dev, "platform-swarm-init")).includes("workerToken"));
    });

    it("exports no secret: no join token, no unlock key, no password, plain outputs only", () => {
        assert.deepEqual(Object.keys(dev.outputs).sort(), ["dnsRecords", "dockerCli", "gatewayImage", "managerHost", "nodes", "routes", "virtualIp", "virtualIps", "zoneFile"]);
        assert.deepEqual([...dev.secretOutputs], []);
        const text = JSON.stringify(dev.outputs);
        for (const secret of [MOCK_JOIN_TOKENS.worker, MOCK_JOIN_TOKENS.manager, MOCK_UNLOCK_KEY, "SWMTKN", "SWMKEY", "Pa55w0rd"]) assert.ok(!text.includes(secret), secret);
    });

    it("renders each gateway node's keepalived.conf with the shared VRID and its own priority", () => {
        const decoded = (node: string) => envOf(byName(dev, `platform-virtualIp-keepalived-${node}`)).KEEPALIVED_CONF;
        const gw1 = decoded("gw-1");
        const gw2 = decoded("gw-2");
        assert.match(gw1, /virtual_router_id 51/);
        assert.match(gw2, /virtual_router_id 51/);
        assert.match(gw1, /priority 200/);
        assert.match(gw2, /priority 190/);
        assert.match(gw1, /vrrp_version 3/);
        assert.match(gw1, /advert_int 0\.2/);
    });

    it("exports DNS records, a zone file and the routes for DNS", () => {
        const records = dev.outputs.dnsRecords as { name: string; value: string }[];
        assert.deepEqual(records.map((r) => `${r.name}=${r.value}`), [
            "nowy.sklep.localhost=172.28.40.100",
            "sklep.localhost=172.28.40.100",
            "stary.sklep.localhost=172.28.40.100",
        ]);
        assert.match(String(dev.outputs.zoneFile), /stary\.sklep\.localhost\.?\s+\d*\s*IN\s+A\s+172\.28\.40\.100/);
        assert.equal(dev.outputs.virtualIp, "172.28.40.100");
        assert.equal(dev.outputs.managerHost, "tcp://127.0.0.1:23750");
    });
});

/** Decodes the env the envelope carries (base64 values) from a command's stdin. */
export function envOf(res: Registered): Record<string, string> {
    const env: Record<string, string> = {};
    for (const m of stdinOf(res).matchAll(/^sp_env ([A-Z_][A-Z0-9_]*) '([A-Za-z0-9+/=]*)'$/gm)) {
        env[m[1]] = Buffer.from(m[2], "base64").toString("utf8");
    }
    return env;
}

describe("prod stack (ssh driver)", () => {
    let prod: RunResult;
    it("bootstraps every machine over SSH and runs the swarm steps there", async () => {
        prod = await runProgram({ stack: "prod", config: stackConfig("prod"), secrets: PROD_SECRETS });
        assert.equal(count(prod, "docker:index/container:Container"), 0);
        const remote = ofType(prod, REMOTE);
        assert.equal(remote.filter((c) => c.name.endsWith("-bootstrap")).length, 8);
        const join = byName(prod, "platform-swarm-join-manager-2").inputs as { connection: { host: string; user: string; port: number }; create: string };
        assert.deepEqual({ host: join.connection.host, user: join.connection.user, port: join.connection.port }, { host: "10.0.10.12", user: "deploy", port: 22 });
        assert.equal(join.create, "sudo -n bash -s");
    });

    it("over ssh reads the managers' join tokens one at a time, the workers' after them, and creates the overlays only then (bursts of sessions at the bootstrap manager's sshd)", () => {
        // besides the bootstrap manager's own ready steps
        const deps = (n: string) => prod.declared.get(n)!.dependsOn.filter((d) => d.startsWith("platform-swarm-"));
        const reads = [...prod.declared.keys()].filter((n) => n.startsWith("platform-swarm-join-token-"));
        const workers = reads.filter((n) => !n.includes("-manager-"));
        assert.deepEqual(deps("platform-swarm-join-token-manager-2"), ["platform-swarm-init"]);
        assert.deepEqual(deps("platform-swarm-join-token-manager-3"), ["platform-swarm-init", "platform-swarm-join-token-manager-2"]);
        assert.ok(workers.length >= 3, workers.join());
        for (const w of workers) assert.deepEqual(deps(w), ["platform-swarm-init", "platform-swarm-join-token-manager-3"], w);
        for (const net of ofType(prod, "docker:index/network:Network").map((n) => n.name)) {
            for (const read of reads) assert.ok(prod.declared.get(net)!.dependsOn.includes(read) || prod.declared.get(net)!.dependsOn.includes("platform-networks-default-ingress-removed"), `${net} waits for ${read}`);
        }
        for (const read of reads) assert.ok(prod.declared.get("platform-networks-default-ingress-removed")!.dependsOn.includes(read), read);
    });

    it("over ssh builds every node at once on a first up: each is a machine of its own", () => {
        const nodeSteps = [...prod.declared.keys()].filter((n) => n.startsWith("platform-nodes-"));
        assert.equal(nodeSteps.length, 8, nodeSteps.join(", ")); // one bootstrap step per machine
        for (const n of nodeSteps) assert.ok(!prod.declared.get(n)!.dependsOn.some((d) => d.includes("-image-load-")), `${n}: ${prod.declared.get(n)!.dependsOn.join(", ")}`);
    });

    it("joins the managers one at a time and the workers as soon as the swarm exists, beside the managers' joins", () => {
        const deps = (n: string) => prod.declared.get(n)!.dependsOn.filter((d) => d.startsWith("platform-swarm-"));
        assert.deepEqual(deps("platform-swarm-join-manager-2").sort(), ["platform-swarm-init", "platform-swarm-join-token-manager-2"]);
        assert.deepEqual(deps("platform-swarm-join-manager-3").sort(), ["platform-swarm-join-manager-2", "platform-swarm-join-token-manager-3"]);
        const workerJoins = [...prod.declared.keys()].filter((n) => n.startsWith("platform-swarm-join-") && !n.includes("join-token") && !n.includes("-manager-"));
        assert.ok(workerJoins.length >= 3, workerJoins.join());
        for (const join of workerJoins) {
            assert.deepEqual(deps(join).sort(), ["platform-swarm-init", join.replace("platform-swarm-join-", "platform-swarm-join-token-")], join);
        }
        assert.ok(!prod.declared.get("platform-swarm-join-gw-1")!.dependsOn.includes("platform-swarm-join-gw-2"), "workers join in parallel");
    });

    it("keeps the SSH key secret and drains the managers", () => {
        assert.ok(prod.declared.get("platform-nodes-manager-1-bootstrap")!.secretInputs.includes("connection"));
        for (const m of ["manager-1", "manager-2", "manager-3"]) assert.equal(envOf(byName(prod, `platform-swarm-member-${m}`)).AVAILABILITY, "drain");
    });

    it("replaces the ingress with an encrypted custom one and mounts TLS material as swarm secrets", () => {
        const ingress = ofType(prod, "docker:index/network:Network").find((n) => n.inputs.ingress === true);
        assert.ok(ingress, "custom ingress declared");
        assert.deepEqual(ingress!.inputs.ipamConfigs, [{ subnet: "10.127.0.0/24", gateway: "10.127.0.1" }], "the gateway docker assigns, as the provider reads it back");
        assert.ok(prod.declared.get("platform-networks-ingress")!.dependsOn.includes("platform-networks-default-ingress-removed"));
        assert.equal(count(prod, "docker:index/secret:Secret"), 2);
        const gw = services(prod).get("gateway")!;
        assert.deepEqual(gw.endpointSpec.ports!.map((p) => `${p.publishedPort}/${p.publishMode}`), ["80/host", "443/host"]);
        assert.match(String(prod.outputs.managerHost), /^ssh:\/\/deploy@10\.0\.10\.11:22$/);
        const secretFiles = (gw.taskSpec.containerSpec as { secrets?: { fileName: string; fileMode: number }[] }).secrets ?? [];
        assert.deepEqual(secretFiles.map((f) => `${f.fileName.split(".").pop()} ${f.fileMode.toString(8)}`).sort(), ["crt 444", "key 400"], "the key readable by root only");
    });

    it("applies the node firewall on ssh hosts too, with the SSH port open to firewall.sshSources", () => {
        const fw = ofType(prod, REMOTE).filter((c) => c.name.startsWith("platform-firewall-"));
        assert.equal(fw.length, 8, "one per node");
        const env = envOf(fw.find((c) => c.name === "platform-firewall-manager-1")!);
        assert.match(env.RULES, /^-A SWARM-PLATFORM-INPUT -p tcp --dport 22 -j ACCEPT$/m);
        assert.doesNotMatch(env.RULES, /--dport 2376/, "no TCP engine API with the ssh driver");
        assert.match(env.UNIT, /ExecStart=\/usr\/local\/sbin\/swarm-platform-firewall apply/);
    });

    it("pins every remote command to its node's host key from the stack file, with that node's host, port and user", () => {
        const keys = new Map((stackConfig("prod").nodes as { name: string; address: string; hostKey: string }[]).map((n) => [n.address, n.hostKey]));
        const remote = ofType(prod, REMOTE);
        assert.ok(remote.length >= 8 * 3, `${remote.length} remote commands`);
        for (const c of remote) {
            const connection = c.inputs.connection as { host: string; port: number; user: string; hostKey?: string };
            assert.ok(keys.has(connection.host), `${c.name}: connects to a node (${connection.host})`);
            assert.equal(connection.hostKey, keys.get(connection.host), `${c.name}: the key of ${connection.host}`);
            assert.deepEqual([connection.port, connection.user], [22, "deploy"], c.name);
        }
        // Every node is reached, each with its own key.
        assert.equal(new Set(remote.map((c) => (c.inputs.connection as { hostKey: string }).hostKey)).size, 8);
    });

    it("the join-token steps run on the bootstrap manager; a manager joins with the manager token, a worker with the worker token", () => {
        const read = byName(prod, "platform-swarm-join-token-manager-2");
        assert.equal((read.inputs.connection as { host: string }).host, "10.0.10.11");
        assert.equal(envOf(read).MEMBER_AT, "deploy@10.0.10.12:22");
        assert.equal(envOf(byName(prod, "platform-swarm-join-manager-2")).JOIN_TOKEN, MOCK_JOIN_TOKENS.manager);
        assert.equal(envOf(byName(prod, "platform-swarm-join-gw-1")).JOIN_TOKEN, MOCK_JOIN_TOKENS.worker);
        assert.equal((byName(prod, "platform-swarm-rotate-tokens").inputs.connection as { host: string }).host, "10.0.10.11");
        assert.deepEqual([...prod.secretOutputs], []);
        const text = JSON.stringify(prod.outputs);
        for (const secret of [MOCK_JOIN_TOKENS.manager, MOCK_UNLOCK_KEY, "SWMTKN", "SWMKEY", "PRIVATE KEY", "Pa55w0rd"]) assert.ok(!text.includes(secret), secret);
    });

    it("the docker provider's ssh:// connection and every image load over ssh trust only the pinned key", () => {
        // Provider inputs reach the mocks as JSON text, as the engine passes provider config.
        const sshOpts = JSON.parse(String(byName(prod, "platform-swarm-manager").inputs.sshOpts)) as string[];
        const key = (stackConfig("prod").nodes as { name: string; hostKey: string }[]).find((n) => n.name === "manager-1")!.hostKey;
        assert.deepEqual(sshOpts.slice(0, 12), [
            "-o", "StrictHostKeyChecking=yes",
            "-o", "UserKnownHostsFile=/dev/null",
            "-o", "GlobalKnownHostsFile=/dev/null",
            "-o", "UpdateHostKeys=no",
            "-o", `KnownHostsCommand=/bin/echo 10.0.10.11 ${key}`,
            "-o", "BatchMode=yes",
        ]);
        const loads = ofType(prod, COMMAND).filter((c) => c.name.includes("image-load"));
        assert.ok(loads.length > 0, "prod loads the gateway image over ssh");
        for (const load of loads) {
            assert.equal(load.inputs.create, "bash -s", `${load.name}: a fixed command line, no stack value in it`);
            assert.equal(load.inputs.environment, undefined, `${load.name}: values only in the payload`);
            const env = envOf(load);
            assert.match(stdinOf(load), /node script "image-deliver"/);
            assert.equal(env.REMOTE_DOCKER, "sudo -n docker", load.name);
            assert.ok(env.CACHE_DIR.endsWith(path.join("prod", "images")), `${load.name}: the stack's build dir caches the saved images (${env.CACHE_DIR})`);
            const args = env.SSH_ARGS.split("\n");
            const node = load.name.replace(/^.*-image-load-/, "");
            const address = (stackConfig("prod").nodes as { name: string; address: string }[]).find((n) => n.name === node)!.address;
            assert.deepEqual(args.slice(0, 4), ["-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile=/dev/null"], load.name);
            assert.ok(args.some((a) => a.startsWith(`KnownHostsCommand=/bin/echo ${address} ssh-ed25519 `)), load.name);
            assert.deepEqual(args.slice(-2), ["--", address], load.name);
        }
    });

    it("refuses to start without the SSH key, naming the key path, before any resource", async () => {
        await assert.rejects(
            runProgram({ stack: "prod", config: stackConfig("prod"), secrets: { tlsSklepCert: "C", tlsSklepKey: "K" } }),
            /drivers\.ssh\.privateKeySecret: secret "sshPrivateKey" is not set/,
        );
    });
});

describe("node lifecycle on the prod stack: removed managers go one at a time", () => {
    it("each manager's drain step depends on the previous manager's, so their deletes (demote, remove) run one after the other", async () => {
        const prod = await runProgram({ stack: "prod", config: stackConfig("prod"), secrets: PROD_SECRETS });
        const deps = (name: string) => prod.declared.get(name)?.dependsOn ?? assert.fail(`${name} not declared`);
        assert.ok(deps("platform-swarm-drain-manager-2").includes("platform-swarm-drain-manager-1"));
        assert.ok(deps("platform-swarm-drain-manager-3").includes("platform-swarm-drain-manager-2"));
        assert.ok(!deps("platform-swarm-drain-gw-1").some((d) => d.startsWith("platform-swarm-drain-")), "workers are drained independently");
    });
});

describe("changes between two runs", () => {
    const signature = (r: RunResult) => new Map(r.resources.map((x) => [`${x.type}::${x.name}`, JSON.stringify(x.inputs)]));
    function diff(a: RunResult, b: RunResult) {
        const sa = signature(a);
        const sb = signature(b);
        return {
            added: [...sb.keys()].filter((k) => !sa.has(k)).map((k) => k.split("::")[1]).sort(),
            removed: [...sa.keys()].filter((k) => !sb.has(k)).map((k) => k.split("::")[1]).sort(),
            changed: [...sa.keys()].filter((k) => sb.has(k) && sa.get(k) !== sb.get(k)).map((k) => k.split("::")[1]).sort(),
        };
    }

    it("a bumped node generation rebuilds that node only: new data and routes volumes and a generation label on its container", async () => {
        const before = await runProgram({ stack: "dev", config: stackConfig("dev") });
        const after = await runProgram({
            stack: "dev",
            config: mutateDev((c) => {
                (c.nodes.find((n) => n.name === "gw-2") as { generation?: number }).generation = 2;
            }),
        });
        assert.deepEqual(diff(before, after), { added: [], removed: [], changed: ["platform-nodes-gw-2", "platform-nodes-gw-2-data", "platform-nodes-gw-2-gateway-routes", "platform-nodes-gw-2-gateway-state"] });
        assert.equal(byName(after, "platform-nodes-gw-2-data").inputs.name, "swarm-platform-dev-gw-2-docker-g2");
        assert.equal(byName(after, "platform-nodes-gw-2-gateway-routes").inputs.name, "swarm-platform-dev-gw-2-gateway-routes-g2", "a new generation starts without routes too");
        assert.deepEqual(byName(after, "platform-nodes-gw-2").inputs.labels, [
            { label: "swarm-platform.node", value: "gw-2" },
            { label: "swarm-platform.generation", value: "2" },
        ]);
    });

    it("a new worker only adds its own steps; every node's firewall and the departures step learn its address", async () => {
        const before = await runProgram({ stack: "dev", config: stackConfig("dev") });
        const after = await runProgram({
            stack: "dev",
            config: mutateDev((c) => {
                c.nodes.push({ name: "worker-2", role: "worker", zone: "dmz", address: "172.28.40.15" } as never);
            }),
        });
        const d = diff(before, after);
        assert.deepEqual(d.removed, []);
        assert.ok(d.added.includes("platform-nodes-worker-2") && d.added.includes("platform-swarm-join-worker-2") && d.added.includes("platform-swarm-drain-worker-2"), d.added.join(", "));
        assert.ok(d.added.includes("platform-shop-1-9-image-load-worker-2"), "its zone's release images are loaded on it");
        for (const c of d.changed) assert.match(c, /^platform-(firewall-|departures$|swarm-rotate-tokens$|shop-.*-service$)/, `unexpected change ${c}`);
    });

    it("a hostname moved to another release changes only the gateway routes on each gateway node", async () => {
        const before = await runProgram({ stack: "dev", config: stackConfig("dev") });
        const after = await runProgram({
            stack: "dev",
            config: mutateDev((c) => {
                c.apps[0].releases[1].hostnames = ["nowy.sklep.localhost"];
                c.apps[0].releases[0].hostnames = ["stary.sklep.localhost", "sklep.localhost"];
            }),
        });
        assert.deepEqual(diff(before, after), { added: [], removed: [], changed: ["platform-gateway-routes-gw-1", "platform-gateway-routes-gw-2"] });
    });

    it("moving a release's last hostname away changes only the routes, not its service (networks stay)", async () => {
        const before = await runProgram({ stack: "dev", config: stackConfig("dev") });
        const after = await runProgram({
            stack: "dev",
            config: mutateDev((c) => {
                c.apps[0].releases[1].hostnames = ["nowy.sklep.localhost", "sklep.localhost", "stary.sklep.localhost"];
                c.apps[0].releases[0].hostnames = [];
            }),
        });
        assert.deepEqual(diff(before, after), { added: [], removed: [], changed: ["platform-gateway-routes-gw-1", "platform-gateway-routes-gw-2"] });
    });

    it("adding a release adds one service with its image delivery, and changes the routes", async () => {
        const before = await runProgram({ stack: "dev", config: stackConfig("dev") });
        const after = await runProgram({
            stack: "dev",
            config: mutateDev((c) => c.apps[0].releases.push({ name: "2.1", hostnames: ["beta.sklep.localhost"], env: { RELEASE: "2.1" } })),
        });
        const d = diff(before, after);
        assert.deepEqual(d.removed, []);
        assert.deepEqual(d.added, ["platform-shop-2-1", "platform-shop-2-1-converge", "platform-shop-2-1-image", "platform-shop-2-1-image-build", "platform-shop-2-1-image-load-gw-1", "platform-shop-2-1-image-load-gw-2", "platform-shop-2-1-image-save", "platform-shop-2-1-service"]);
        assert.deepEqual(d.changed, ["platform-gateway-routes-gw-1", "platform-gateway-routes-gw-2"]);
    });

    it("removing a release removes exactly its resources and its routes", async () => {
        const before = await runProgram({ stack: "dev", config: stackConfig("dev") });
        const after = await runProgram({
            stack: "dev",
            config: mutateDev((c) => {
                c.apps[0].releases = c.apps[0].releases.slice(1);
            }),
        });
        const d = diff(before, after);
        assert.deepEqual(d.added, []);
        assert.deepEqual(d.removed, ["platform-shop-1-9", "platform-shop-1-9-converge", "platform-shop-1-9-image", "platform-shop-1-9-image-build", "platform-shop-1-9-image-load-gw-1", "platform-shop-1-9-image-load-gw-2", "platform-shop-1-9-image-save", "platform-shop-1-9-service"]);
        assert.deepEqual(d.changed, ["platform-gateway-routes-gw-1", "platform-gateway-routes-gw-2"]);
    });

    it("raising replicas changes only that release's service (and its gate: a new spec to wait for)", async () => {
        const before = await runProgram({ stack: "dev", config: stackConfig("dev") });
        const after = await runProgram({ stack: "dev", config: mutateDev((c) => (c.apps[0].releases[1].replicas = 4)) });
        assert.deepEqual(diff(before, after), { added: [], removed: [], changed: ["platform-shop-2-0-converge", "platform-shop-2-0-service"] });
    });
});

describe("convergence gates: `up` waits for the swarm", () => {
    const SPEC_LABEL = "swarm-platform.spec";
    const labelsOf = (svc: Registered) => new Map(((svc.inputs.labels as { label: string; value: string }[]) ?? []).map((l) => [l.label, l.value]));
    const specOf = (r: RunResult, service: string) => labelsOf(byName(r, `platform-${service === "gateway" ? "gateway" : service}-service`)).get(SPEC_LABEL);
    const gateEnv = (r: RunResult, service: string) => envOf(byName(r, `platform-${service}-converge`));
    const hashes = (r: RunResult) => Object.fromEntries(["gateway", "shop-1-9", "shop-2-0", "stock-1-0"].map((s) => [s, specOf(r, s)]));
    let dev: RunResult;

    it("every release and the gateway get a gate on the bootstrap manager, after their service, checking the spec label's hash within the planned timeout", async () => {
        dev = await runProgram({ stack: "dev", config: stackConfig("dev") });
        const gates = ofType(dev, COMMAND).filter((c) => c.name.endsWith("-converge")).map((c) => c.name).sort();
        assert.deepEqual(gates, ["platform-gateway-converge", "platform-shop-1-9-converge", "platform-shop-2-0-converge", "platform-stock-1-0-converge"]);
        // the gateway's follows its drain: 4 s on dev's fast VRRP profile (5 s on default gave 210)
        const timeouts: Record<string, string> = { gateway: "207", "shop-1-9": "140", "shop-2-0": "140", "stock-1-0": "115" };
        for (const service of Object.keys(timeouts)) {
            const env = gateEnv(dev, service);
            assert.equal(env.NODE_NAME, "manager-1", `${service}: runs on the bootstrap manager`);
            assert.match(stdinOf(byName(dev, `platform-${service}-converge`)), /release-converge/);
            assert.equal(env.SERVICE, service);
            assert.equal(env.SPEC_LABEL, SPEC_LABEL);
            assert.match(env.SPEC_HASH, /^[0-9a-f]{16}$/);
            assert.equal(env.SPEC_HASH, specOf(dev, service), `${service}: the gate checks the hash its service carries`);
            assert.equal(env.TIMEOUT, timeouts[service]);
            assert.ok(env.SERVICE_ID, `${service}: by id, so a replaced service is waited for again`);
            assert.ok(dev.declared.get(`platform-${service}-converge`)!.dependsOn.includes(`platform-${service}-service`), `${service}: the gate runs after its service`);
        }
        assert.equal(gateEnv(dev, "shop-2-0").SUBJECT, "release shop 2.0");
        assert.equal(gateEnv(dev, "gateway").SUBJECT, "the gateway");
        assert.equal(new Set(Object.values(hashes(dev))).size, 4, "each service its own hash");
    });

    it("the hash is a top-level service label (updated in place), never a container label (that would replace the service)", () => {
        for (const svc of ofType(dev, SERVICE)) {
            assert.ok(labelsOf(svc).has(SPEC_LABEL), `${String(svc.inputs.name)}: top-level label`);
            const containerLabels = ((svc.inputs.taskSpec as { containerSpec: { labels?: { label: string }[] } }).containerSpec.labels ?? []).map((l) => l.label);
            assert.ok(!containerLabels.includes(SPEC_LABEL), `${String(svc.inputs.name)}: not a container label`);
        }
    });

    it("on a first up, the loads no route needs and the settle steps wait for the gateway to run; with a swarm they do not", async () => {
        const live = await runProgram({ stack: "dev", config: stackConfig("dev"), liveManagers: [{ name: "manager-1", reachable: true }] });
        const gate = "platform-gateway-converge";
        const later = ["platform-stock-1-0-image-load-manager-1", "platform-stock-1-0-image-load-worker-1", ...["manager-1", "gw-1", "gw-2", "worker-1"].map((n) => `platform-settle-${n}`)];
        for (const name of later) {
            assert.ok(dev.declared.get(name)?.dependsOn.includes(gate), `first up: ${name} waits for ${gate}`);
            assert.ok(!live.declared.get(name)?.dependsOn.includes(gate), `with a swarm: ${name} does not wait for ${gate} (a rollout waits for the settle steps)`);
        }
        for (const first of ["platform-shop-2-0-image-load-gw-1", "platform-gateway-image-load-gw-1"]) {
            assert.ok(!dev.declared.get(first)?.dependsOn.includes(gate), `${first} is what the gateway needs: it does not wait for it`);
        }
    });

    it("with a swarm, each gateway node's routes wait for the gates of the releases they route to; on a first up they do not", async () => {
        const live = await runProgram({ stack: "dev", config: stackConfig("dev"), liveManagers: [{ name: "manager-1", reachable: true }] });
        for (const node of ["gw-1", "gw-2"]) {
            const deps = live.declared.get(`platform-gateway-routes-${node}`)!.dependsOn;
            assert.ok(deps.includes("platform-shop-1-9-converge") && deps.includes("platform-shop-2-0-converge"), `${node}: ${deps.join(", ")}`);
            assert.ok(!deps.includes("platform-stock-1-0-converge"), "stock has no hostname: the routes do not wait for it");
            // no swarm answered (the default of these runs): nothing is live, the routes go beside the releases
            const first = dev.declared.get(`platform-gateway-routes-${node}`)!.dependsOn;
            assert.ok(!first.some((d) => d.endsWith("-converge")), `${node} on a first up: ${first.join(", ")}`);
            assert.ok(first.includes(`platform-swarm-drain-${node}`), `${node} on a first up: still after its node's membership`);
        }
    });

    it("with a swarm, the gateway's routes and service wait for keepalived (its check first); on a first up keepalived starts beside them", async () => {
        const live = await runProgram({ stack: "dev", config: stackConfig("dev"), liveManagers: [{ name: "manager-1", reachable: true }] });
        for (const node of ["gw-1", "gw-2"]) {
            const keepalived = `platform-virtualIp-keepalived-${node}`;
            for (const step of [`platform-gateway-routes-${node}`, "platform-gateway-service"]) {
                assert.ok(live.declared.get(step)!.dependsOn.includes(keepalived), `with a swarm: ${step} waits for ${keepalived}`);
                assert.ok(!dev.declared.get(step)!.dependsOn.includes(keepalived), `on a first up: ${step} does not wait for ${keepalived}`);
            }
            // the delete order stays: keepalived and the routes go before the node's drain step, on a first up too
            for (const step of [keepalived, `platform-gateway-routes-${node}`]) assert.ok(dev.declared.get(step)!.dependsOn.includes(`platform-swarm-drain-${node}`), `${step} after the drain step`);
        }
    });

    it("on a first up the releases' gates poll the swarm only once the gateway runs; with a swarm the routes wait for them, not they for the gateway", async () => {
        const live = await runProgram({ stack: "dev", config: stackConfig("dev"), liveManagers: [{ name: "manager-1", reachable: true }] });
        for (const service of ["shop-1-9", "shop-2-0", "stock-1-0"]) {
            const gate = `platform-${service}-converge`;
            assert.ok(dev.declared.get(gate)!.dependsOn.includes("platform-gateway-converge"), `first up: ${gate} after the gateway's gate`);
            assert.ok(dev.declared.get(gate)!.dependsOn.includes(`platform-${service}-service`), `first up: ${gate} after its service`);
            assert.ok(!live.declared.get(gate)!.dependsOn.includes("platform-gateway-converge"), `with a swarm: ${gate} does not wait for the gateway`);
            assert.ok(live.declared.get(gate)!.dependsOn.includes(`platform-${service}-service`), `with a swarm: ${gate} after its service`);
        }
        assert.ok(live.declared.get("platform-gateway-routes-gw-1")!.dependsOn.includes("platform-shop-2-0-converge"), "with a swarm the routes wait for the gates");
    });

    it("the routes also wait for the gates of a release that only has weight on a route, or is only pinnable", async () => {
        const weighted = await runProgram({
            stack: "dev",
            config: mutateDev((c) => {
                c.apps[0].releases[1].hostnames = ["nowy.sklep.localhost"];
                c.apps[0].releases.push({ name: "2.1", env: { RELEASE: "2.1" } }, { name: "2.2", pinnable: true, env: { RELEASE: "2.2" } });
                c.apps[0].routes = [{ hostname: "sklep.localhost", releases: { "2.0": 90, "2.1": 10 } }];
            }),
            liveManagers: [{ name: "manager-1", reachable: true }],
        });
        for (const node of ["gw-1", "gw-2"]) {
            const deps = weighted.declared.get(`platform-gateway-routes-${node}`)!.dependsOn;
            for (const gate of ["platform-shop-2-1-converge", "platform-shop-2-2-converge"]) assert.ok(deps.includes(gate), `${node} ${gate}: ${deps.join(", ")}`);
        }
    });

    it("each gateway node's routes carry the served routes and probe settings", () => {
        for (const node of ["gw-1", "gw-2"]) {
            const env = envOf(byName(dev, `platform-gateway-routes-${node}`));
            assert.equal(env.SERVED_FILE, "routes.served");
            assert.equal(env.PROBE_SECONDS, "10");
            assert.deepEqual(env.SERVED.split("\n").filter(Boolean), [
                "nowy.sklep.localhost shop-2-0 8000 /healthz shop/2.0",
                "sklep.localhost shop-2-0 8000 /healthz shop/2.0",
                "stary.sklep.localhost shop-1-9 8000 /healthz shop/1.9",
            ]);
        }
        assert.ok(dev.declared.get("platform-gateway-service")!.dependsOn.includes("platform-gateway-routes-gw-1"));
    });

    it("the spec hash changes exactly when a service's spec changes: new env → that release's hash; a hostname move or a new timeout → no hash", async () => {
        const env = await runProgram({ stack: "dev", config: mutateDev((c) => (c.apps[0].releases[1].env = { RELEASE: "2.0", EXIT_AT_START: "3" })) });
        assert.deepEqual(
            Object.entries(hashes(env)).filter(([s, h]) => h !== hashes(dev)[s]).map(([s]) => s),
            ["shop-2-0"],
        );
        assert.equal(gateEnv(env, "shop-2-0").SPEC_HASH, specOf(env, "shop-2-0"));
        const moved = await runProgram({
            stack: "dev",
            config: mutateDev((c) => {
                c.apps[0].releases[1].hostnames = ["nowy.sklep.localhost"];
                c.apps[0].releases[0].hostnames = ["stary.sklep.localhost", "sklep.localhost"];
            }),
        });
        assert.deepEqual(hashes(moved), hashes(dev), "moving a hostname changes no service spec");
        const slower = await runProgram({ stack: "dev", config: mutateDev((c) => (c.apps[0].update = { convergeTimeout: 300 })) });
        assert.deepEqual(hashes(slower), hashes(dev), "the timeout is the gate's, not the service's");
        assert.equal(gateEnv(slower, "shop-2-0").TIMEOUT, "300");
        assert.equal(JSON.stringify(byName(slower, "platform-shop-2-0-service").inputs), JSON.stringify(byName(dev, "platform-shop-2-0-service").inputs));
        const gateway = await runProgram({ stack: "dev", config: mutateDev((c) => ((c.gateway ??= {}).stopGracePeriod = 90)) });
        assert.notEqual(specOf(gateway, "gateway"), specOf(dev, "gateway"), "a longer grace period is a new gateway spec");
        assert.deepEqual(
            ["shop-1-9", "shop-2-0", "stock-1-0"].map((s) => specOf(gateway, s)),
            ["shop-1-9", "shop-2-0", "stock-1-0"].map((s) => specOf(dev, s)),
        );
    });

    it("on ssh nodes the gate is a remote command on the bootstrap manager", async () => {
        const prod = await runProgram({ stack: "prod", config: stackConfig("prod"), secrets: PROD_SECRETS });
        const gates = ofType(prod, REMOTE).filter((c) => c.name.endsWith("-converge"));
        assert.equal(gates.length, 1 + (stackConfig("prod").apps as { releases: unknown[] }[]).reduce((n, a) => n + a.releases.length, 0));
        const bootstrap = envOf(byName(prod, "platform-swarm-init")).NODE_NAME;
        for (const g of gates) assert.equal(envOf(g).NODE_NAME, bootstrap, g.name);
    });
});

describe("identity never by list position", () => {
    /** A deep copy with every list reversed, at every depth: nodes, pools, apps, releases, hostnames, TLS entries… */
    function reverseLists(value: unknown): unknown {
        if (Array.isArray(value)) return value.map(reverseLists).reverse();
        if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, reverseLists(v)]));
        return value;
    }
    const signature = (r: RunResult) => new Map(r.resources.map((x) => [`${x.type}::${x.name}`, JSON.stringify(x.inputs)]));

    for (const stack of ["dev", "prod"] as const) {
        it(`every list in Pulumi.${stack}.yaml reversed changes no resource, no input and no output`, async () => {
            const secrets = stack === "prod" ? { secrets: PROD_SECRETS } : {};
            const config = stackConfig(stack);
            const reversed = reverseLists(config) as Record<string, unknown>;
            assert.notDeepEqual(reversed, config, "the stack file has lists whose order could matter");
            const before = await runProgram({ stack, config, ...secrets });
            const after = await runProgram({ stack, config: reversed, ...secrets });
            assert.deepEqual([...signature(after).entries()].sort(), [...signature(before).entries()].sort());
            assert.deepEqual(after.outputs, before.outputs);
        });
    }
});

describe("two platforms in one program", () => {
    it("do not collide: every resource of each is named from its platform's name", async () => {
        const r = await runProgram({ stack: "dev", config: stackConfig("dev"), program: path.join(__dirname, "fixtures", "two-platforms.ts") });
        const urns = [...r.declared.values()].map((d) => d.urn);
        assert.equal(new Set(urns).size, urns.length, "URNs are unique");
        const children = [...r.declared.values()].filter((d) => d.parent === "blue" || d.parent === "green");
        assert.ok(children.length >= 2 * 6, `each platform has its concept components (${children.length})`);
        for (const d of r.declared.values()) {
            if (d.type === "pulumi:pulumi:Stack" || d.name === "local-engine") continue;
            assert.match(d.name, /^(blue|green)(-|$)/, `${d.type} ${d.name}`);
        }
        assert.equal(r.resources.filter((x) => x.name.startsWith("blue-")).length, r.resources.filter((x) => x.name.startsWith("green-")).length);
    });
});

describe("bad input", () => {
    it("reaches the user as validation errors with key paths before any resource is registered", async () => {
        await assert.rejects(runProgram({ stack: "dev", config: mutateDev((c) => (c.nodes[3].zone = "dmx")) }), (err: Error & { registered?: string[] }) => {
            assert.match(err.message, /nodes\[worker-1\]\.zone: unknown zone "dmx" \(zones: dmz, intra/);
            assert.deepEqual(err.registered, []);
            return true;
        });
    });

    it("names an unknown config key (a typo) instead of ignoring it", async () => {
        await assert.rejects(
            runProgram({ stack: "dev", config: { ...stackConfig("dev"), virtualIP: { address: "172.28.40.100" } } }),
            /swarm-platform:virtualIP: unknown config key: did you mean swarm-platform:virtualIp\?/,
        );
    });

    it("allows an ingress-published port only where the app opts in", async () => {
        await assert.rejects(
            runProgram({ stack: "dev", config: mutateDev((c) => (c.apps[1].publish = [{ target: 8000, published: 8080, mode: "ingress" }])) }),
            /apps\[stock\]\.publish\[0\]: published ports bypass the gateway/,
        );
        const allowed = await runProgram({
            stack: "dev",
            config: mutateDev((c) => {
                c.apps[1].publish = [{ target: 8000, published: 8080, mode: "ingress" }];
                c.apps[1].allowPublishedPorts = true;
                c.apps[1].endpointMode = "vip";
            }),
        });
        const stock = services(allowed).get("stock-1-0")!;
        assert.deepEqual(stock.endpointSpec.ports!.map((p) => `${p.publishedPort}/${p.publishMode}`), ["8080/ingress"]);
    });
});

describe("manager quorum (the read before any resource)", () => {
    const prodManagers = (down: string[]) => ["manager-1", "manager-2", "manager-3"].map((name) => ({ name, reachable: !down.includes(name) }));

    it("one of three managers unreachable: the program declares the platform as usual", async () => {
        const r = await runProgram({ stack: "prod", config: stackConfig("prod"), secrets: PROD_SECRETS, liveManagers: prodManagers(["manager-3"]) });
        assert.ok(ofType(r, REMOTE).length > 0);
    });

    it("quorum lost: stops before any resource is registered, naming the unreachable managers", async () => {
        await assert.rejects(
            runProgram({ stack: "prod", config: stackConfig("prod"), secrets: PROD_SECRETS, liveManagers: prodManagers(["manager-2", "manager-3"]) }),
            (err: Error & { registered?: string[] }) => {
                assert.match(err.message, /^manager quorum is lost: 1 of 3 managers reachable, a majority needs 2 \(unreachable: manager-2, manager-3\)/);
                assert.deepEqual(err.registered, []);
                return true;
            },
        );
    });

    it("demoting managers so that a step would lack a majority: refused before any resource, naming them", async () => {
        const config = stackConfig("prod") as { nodes: { name: string; role: string }[] };
        for (const n of config.nodes) if (n.name === "manager-2" || n.name === "manager-3") n.role = "worker";
        await assert.rejects(runProgram({ stack: "prod", config, secrets: PROD_SECRETS, liveManagers: prodManagers(["manager-3"]) }), (err: Error & { registered?: string[] }) => {
            assert.match(err.message, /^refusing a change that demotes or removes managers manager-2, manager-3 while manager-3 is unreachable/);
            assert.deepEqual(err.registered, []);
            return true;
        });
        // the same change with every manager reachable is declared
        const ok = await runProgram({ stack: "prod", config, secrets: PROD_SECRETS, liveManagers: prodManagers([]) });
        assert.ok(ofType(ok, REMOTE).length > 0);
    });
});

describe("large generated config", () => {
    it("declares one container, join and membership per node and one service per release for 60 nodes and 20 apps", async () => {
        const config = mutateDev((c) => {
            c.nodes = [
                { name: "m-1", role: "manager", zone: "intra", address: "172.28.40.11" },
                { name: "m-2", role: "manager", zone: "intra", address: "172.28.40.12" },
                { name: "m-3", role: "manager", zone: "intra", address: "172.28.40.13" },
                ...Array.from({ length: 57 }, (_, i) => ({
                    name: `w-${i}`,
                    role: "worker" as const,
                    zone: i % 2 ? "intra" : "dmz",
                    address: `172.28.40.${20 + i}`,
                    gateway: i < 3,
                })),
            ];
            c.apps = Array.from({ length: 20 }, (_, a) => ({
                name: `app${a}`,
                zone: a % 2 ? "intra" : "dmz",
                image: "registry.example.com/app",
                releases: [1, 2].map((v) => ({ name: `${v}.0`, hostnames: [`v${v}.app${a}.example.com`] })),
            }));
        });
        const r = await runProgram({ stack: "dev", config });
        assert.equal(count(r, "docker:index/container:Container"), 60);
        assert.equal(ofType(r, COMMAND).filter((c) => c.name.startsWith("platform-swarm-join-") && !c.name.includes("join-token")).length, 59);
        assert.equal(ofType(r, COMMAND).filter((c) => c.name.startsWith("platform-swarm-join-token-")).length, 59);
        assert.equal(ofType(r, COMMAND).filter((c) => c.name.startsWith("platform-swarm-member-")).length, 60);
        assert.equal(count(r, SERVICE), 41);
        assert.equal(ofType(r, COMMAND).filter((c) => c.name.startsWith("platform-virtualIp-keepalived-")).length, 3);
        assert.equal((r.outputs.dnsRecords as unknown[]).length, 40);
        // Registry images (no build, no load): nothing copied into nodes.
        assert.equal(ofType(r, COMMAND).filter((c) => c.name.includes("app0-1-0-image-load")).length, 0);
    });
});
