// The replace rules used without a machine (scripts/lib/provider-rules.ts: `npm run diff`, the upgrade test) agree
// with the lab engine's handlers (test/lab/engine/resources/), which apply them to the state docker reads back.
// Each case changes one input and asks both whether that replaces the resource.
import * as assert from "node:assert/strict";
import { describe, test } from "node:test";
import { HANDLERS } from "../lab/engine/resources";
import { CONTAINER_UPDATABLE, comparedInputs, replacingChanges } from "../../scripts/lib/provider-rules";

type Props = Record<string, unknown>;

const SERVICE: Props = {
    name: "shop-2-0",
    labels: [{ label: "a", value: "1" }],
    mode: { replicated: { replicas: 2 } },
    taskSpec: {
        containerSpec: { image: "shop:2.0", env: { RELEASE: "2.0" }, labels: [{ label: "c", value: "1" }] },
        networksAdvanceds: [{ id: "net-1", aliases: [] }],
        placement: { constraints: ["node.labels.zone==dmz"] },
    },
    endpointSpec: { mode: "vip" },
    updateConfig: { parallelism: 1, order: "start-first" },
};

/** One input changed at a dotted path. */
function changed(inputs: Props, dotted: string, value: unknown): Props {
    const copy = structuredClone(inputs);
    const keys = dotted.split(".");
    let at = copy;
    for (const k of keys.slice(0, -1)) at = at[k] as Props;
    at[keys[keys.length - 1]] = value;
    return copy;
}

/** The shared table's answer for a change from `olds` to `news`. */
function tableReplaces(type: string, olds: Props, news: Props): boolean {
    const b = comparedInputs(type, olds);
    const a = comparedInputs(type, news);
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
    return replacingChanges(type, keys).length > 0;
}

/** The lab engine's answer, with the state read back equal to the old inputs. */
function labReplaces(type: string, olds: Props, news: Props): boolean {
    const handler = HANDLERS[type];
    assert.ok(handler, `the lab engine has no handler for ${type}`);
    return !handler.update || handler.diff(olds, olds, news).replaces.length > 0;
}

const CASES: readonly { type: string; olds: Props; path: string; value: unknown }[] = [
    ...["name", "taskSpec.networksAdvanceds", "taskSpec.containerSpec.labels", "taskSpec.containerSpec.image", "taskSpec.containerSpec.env", "mode.replicated.replicas", "labels", "endpointSpec.mode", "updateConfig.order"].map(
        (path) => ({ type: "docker:index/service:Service", olds: SERVICE, path, value: path.endsWith("s") ? [{ label: "x", value: "2", id: "net-2" }] : path === "taskSpec.containerSpec.env" ? { RELEASE: "2.1" } : "changed" }),
    ),
    ...["triggers", "stdin", "create", "environment"].map((path) => ({ type: "command:local:Command", olds: { create: "a", stdin: "b", triggers: ["t"], environment: { A: "1" } }, path, value: path === "triggers" ? ["u"] : path === "environment" ? { A: "2" } : "c" })),
    ...[...CONTAINER_UPDATABLE, "image", "envs", "privileged"].map((path) => ({
        type: "docker:index/container:Container",
        olds: { name: "n", image: "i", envs: ["A=1"], privileged: true, restart: "always", maxRetryCount: 1, cpuShares: 1, memory: 1, memoryReservation: 1, cpuSet: "0", memorySwap: 1 },
        path,
        value: path === "envs" ? ["A=2"] : path === "privileged" ? false : path === "restart" || path === "image" || path === "cpuSet" ? "other" : 2,
    })),
    { type: "docker:index/network:Network", olds: { name: "zone-dmz", driver: "overlay", attachable: false }, path: "attachable", value: true },
    { type: "docker:index/secret:Secret", olds: { name: "s", data: "ZGF0YQ==" }, path: "data", value: "b3RoZXI=" },
    { type: "random:index/randomPassword:RandomPassword", olds: { length: 8, special: false }, path: "length", value: 12 },
    { type: "docker:index/image:Image", olds: { imageName: "gateway:1", build: { context: "/nonexistent" } }, path: "imageName", value: "gateway:2" },
    { type: "pulumi:providers:docker", olds: { host: "unix:///var/run/docker.sock" }, path: "host", value: "tcp://127.0.0.1:2375" },
];

describe("the replace rules agree with the lab engine", () => {
    for (const c of CASES) {
        test(`${c.type}: ${c.path}`, () => {
            const news = changed(c.olds, c.path, c.value);
            assert.notDeepEqual(news, c.olds, "the case changes something");
            assert.equal(tableReplaces(c.type, c.olds, news), labReplaces(c.type, c.olds, news));
        });
    }

    test("both sides say replace for the ForceNew inputs and update for the rest (the table is not all one answer)", () => {
        const answers = CASES.map((c) => tableReplaces(c.type, c.olds, changed(c.olds, c.path, c.value)));
        assert.ok(answers.includes(true) && answers.includes(false));
    });
});

describe("the lab engine's service diff", () => {
    const service = HANDLERS["docker:index/service:Service"];
    const withEnv = (env: Record<string, string>): Props => ({ ...SERVICE, taskSpec: { ...(SERVICE.taskSpec as Props), containerSpec: { ...((SERVICE.taskSpec as Props).containerSpec as Props), env } } });
    test("a dropped env key is an in-place update (env is a set in the provider), an unchanged env is no change", () => {
        const olds = withEnv({ RELEASE: "2.0", EXIT_AT_START: "3" });
        const dropped = service.diff(olds, olds, withEnv({ RELEASE: "2.0" }));
        assert.deepEqual(dropped, { changed: ["taskSpec"], replaces: [] });
        assert.deepEqual(service.diff(olds, olds, olds).changed, []);
    });
});

describe("the lab engine's network diff", () => {
    const network = HANDLERS["docker:index/network:Network"];
    const planned: Props = { name: "gateway", driver: "overlay", attachable: false, ipamConfigs: [{ subnet: "10.209.0.0/24", gateway: "10.209.0.1" }], options: {}, labels: [{ label: "swarm-platform.network", value: "gateway" }] };
    const allocated: Props = { ...planned, internal: false, ingress: false, ipv6: false, ipamDriver: "default", ipamOptions: {}, ipamConfigs: [{ subnet: "10.209.0.0/24", ipRange: "", gateway: "10.209.0.1", auxAddress: {} }], options: { "com.docker.network.driver.overlay.vxlanid_list": "4097" }, scope: "swarm" };
    test("an overlay read back after swarm allocated it does not differ (ipam_driver's default is what docker reports)", () => {
        assert.deepEqual(network.diff(allocated, planned, planned).changed, []);
    });
    test("read back before allocation (driver, IPAM driver and IPAM config empty), every one of the three replaces it", () => {
        const early = { ...allocated, driver: "", ipamDriver: "", ipamConfigs: [], options: {} };
        assert.deepEqual(network.diff(early, planned, planned), { changed: ["driver", "ipamConfigs", "ipamDriver"], replaces: ["driver", "ipamConfigs", "ipamDriver"] });
    });
});

describe("lab engine: deletion schedule (the engine's ScheduleDeletes)", () => {
    const res = (urn: string, seq: number, dependencies: string[] = [], more: { propertyDependencies?: Record<string, string[]>; provider?: string; parent?: string } = {}) => ({ urn, seq, dependencies, ...more });
    const names = (layers: { urn: string }[][]) => layers.map((l) => l.map((r) => r.urn));
    test("antichains: a resource comes before everything it depends on, even a dependency re-created after it; independent ones together, newest first", async () => {
        const { deletionLayers } = await import("../lab/engine/schedule");
        // the drain step was replaced in a later run (seq 9): the service (seq 3) that depends on it still goes first
        const layers = deletionLayers([res("container", 1), res("drain", 9, ["container"]), res("service", 3, ["drain"]), res("load", 4, [], { propertyDependencies: { triggers: ["container"] } }), res("other", 2)]);
        assert.deepEqual(names(layers), [["service"], ["drain", "load"], ["other", "container"]]);
    });
    test("a provider goes after its resources; a component after its children, which shapes the antichains; components are left out", async () => {
        const { deletionLayers } = await import("../lab/engine/schedule");
        const items = [
            res("provider", 1),
            res("service", 5, [], { provider: "provider", parent: "releases" }),
            { urn: "releases", dependencies: [], parent: "platform" },
            { urn: "platform", dependencies: [] },
            res("network", 2, [], { parent: "platform" }),
            res("dependent", 6, ["network"], { parent: "platform" }),
        ];
        const layers = deletionLayers(items, (r) => "seq" in r);
        assert.deepEqual(names(layers), [["dependent", "service"], ["network"], ["provider"]]);
        // every pair with a dependency: the dependent's antichain comes first
        const at = (u: string) => layers.findIndex((l) => l.some((r) => r.urn === u));
        assert.ok(at("service") < at("provider") && at("dependent") < at("network"));
    });
    test("a cycle (never in a valid state) still deletes everything, newest first", async () => {
        const { deletionLayers } = await import("../lab/engine/schedule");
        assert.deepEqual(names(deletionLayers([res("a", 1, ["b"]), res("b", 2, ["a"])])), [["b"], ["a"]]);
    });
});
