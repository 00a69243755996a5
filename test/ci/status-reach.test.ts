// How `npm run status` reaches a platform: the docker driver through the node containers' own sockets (the manager's
// TCP API needs the client certificate in the state), the ssh driver with each node's pinned host key first.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { reachOf } from "../../scripts/lib/status-gather";
import { stackPlan } from "../render/helpers";

describe("status: how the platform is reached", () => {
    test("docker driver: the bootstrap manager's engine through docker exec on the local engine, no TCP API", () => {
        const plan = stackPlan("dev");
        const reach = reachOf(plan, "swarm-platform-dev");
        assert.deepEqual(reach.managerDocker, { program: "docker", args: ["-H", plan.driver.localEngine, "exec", "swarm-platform-dev-manager-1", "docker"] });
        assert.ok(!JSON.stringify(reach.managerDocker).includes("tcp://"));
        const gw1 = plan.nodes.find((n) => n.name === "gw-1")!;
        assert.deepEqual(reach.nodeShell(gw1).args.slice(-4), ["-i", "swarm-platform-dev-gw-1", "bash", "-s"]);
    });

    test("ssh driver: every ssh starts with the node's pinned host key options, then the user, host and sudo", () => {
        const plan = stackPlan("prod");
        const reach = reachOf(plan, "swarm-platform-prod");
        const manager = plan.nodes.find((n) => n.bootstrap)!;
        const gw2 = plan.nodes.find((n) => n.name === "gw-2")!;
        for (const [node, call, tail] of [
            [manager, reach.managerDocker, ["docker"]],
            [gw2, reach.nodeShell(gw2), ["bash", "-s"]],
        ] as const) {
            assert.equal(call.program, "ssh");
            assert.deepEqual(call.args.slice(0, node.ssh!.clientOptions.length), [...node.ssh!.clientOptions], `${node.name}: pinned options first`);
            assert.ok(call.args.includes(`KnownHostsCommand=/bin/echo ${node.ssh!.host} ${node.ssh!.hostKey}`), call.args.join(" "));
            assert.deepEqual(call.args.slice(-(tail.length + 4)), ["--", node.ssh!.host, "sudo", "-n", ...tail]);
        }
    });
});
