// The node scripts' logic, run with real bash against a fake `docker` (fixtures/fake-docker.sh): output
// contracts (one JSON line, nothing else on stdout), idempotence, secrets kept out of logs, label bookkeeping,
// and gateway-routes-apply's write / validate / restore / reload on a real file system.
import * as assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, describe, test } from "node:test";
import { NODE_SCRIPTS, NodeScript, renderNodeScript } from "../../model/scripts";
import { needTools, removeDir, run, RunResult, tempDir, writeFile } from "./helpers";

const FAKE_DOCKER = path.join(__dirname, "fixtures", "fake-docker.sh");
const FAKE_CURL = path.join(__dirname, "fixtures", "fake-curl.sh");
const dirs: string[] = [];
after(() => dirs.forEach(removeDir));

interface FakeNode {
    readonly state: string;
    readonly bin: string;
    run(script: NodeScript, env: Record<string, string>): RunResult;
    set(file: string, content: string): void;
    get(file: string): string;
    calls(): string[];
}

/** A scratch "node": a state dir for the fake docker, and PATH with the fake first. */
function fakeNode(files: Record<string, string> = {}): FakeNode {
    const root = tempDir("node");
    dirs.push(root);
    const state = path.join(root, "docker-state");
    const bin = path.join(root, "bin");
    fs.mkdirSync(state);
    fs.mkdirSync(bin);
    fs.symlinkSync(FAKE_DOCKER, path.join(bin, "docker"));
    fs.symlinkSync(FAKE_CURL, path.join(bin, "curl"));
    for (const [f, c] of Object.entries(files)) writeFile(path.join(state, f), c);
    return {
        state,
        bin,
        run: (script, env) =>
            run("bash", ["-s"], {
                input: renderNodeScript(script, { node: "n1", env }),
                env: { PATH: `${bin}:${process.env.PATH}`, FAKE_DOCKER_STATE: state, HOME: root },
            }),
        set: (f, c) => writeFile(path.join(state, f), c),
        get: (f) => (fs.existsSync(path.join(state, f)) ? fs.readFileSync(path.join(state, f), "utf8") : ""),
        calls: () => (fs.existsSync(path.join(state, "calls")) ? fs.readFileSync(path.join(state, "calls"), "utf8").trim().split("\n") : []),
    };
}

function oneJsonLine(r: RunResult): Record<string, unknown> {
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^\{.*\}\n$/, `stdout must be exactly one JSON line, got ${JSON.stringify(r.stdout)}`);
    return JSON.parse(r.stdout) as Record<string, unknown>;
}

const INIT_ENV = {
    ADVERTISE_ADDR: "10.0.10.11",
    DATA_PATH_PORT: "4789",
    DEFAULT_ADDR_POOL: "10.128.0.0/14 10.200.0.0/16",
    DEFAULT_ADDR_POOL_MASK_LENGTH: "24",
    AUTOLOCK: "true",
};

describe("swarm-init", () => {
    test("creates the swarm once and prints exactly one JSON line with the unlock key and no join token; the key appears nowhere else", (t) => {
        if (!needTools(t, "bash")) return;
        const n = fakeNode();
        const first = n.run("swarm-init", INIT_ENV);
        assert.deepEqual(oneJsonLine(first), {
            nodeId: "node0init",
            managerAddr: "10.0.10.11:2377",
            unlockKey: "SWMKEY-1-unlock-secret",
        });
        assert.doesNotMatch(first.stdout, /SWMTKN/, "join tokens are read per join, not printed by init");
        assert.doesNotMatch(first.stderr, /SWMTKN|SWMKEY/);
        const init = n.calls().filter((c) => c.startsWith("swarm init"));
        assert.deepEqual(init, [
            "swarm init --advertise-addr 10.0.10.11 --data-path-port 4789 --default-addr-pool-mask-length 24 --default-addr-pool 10.128.0.0/14 --default-addr-pool 10.200.0.0/16 --autolock",
        ]);

        const second = n.run("swarm-init", INIT_ENV);
        assert.deepEqual(oneJsonLine(second), oneJsonLine(first));
        assert.equal(n.calls().filter((c) => c.startsWith("swarm init")).length, 1, "an active manager is not re-initialised");
    });

    test("turning autolock off on an existing swarm updates it and reports an empty unlock key", (t) => {
        if (!needTools(t, "bash")) return;
        const n = fakeNode({ state: "active", control: "true", node_id: "node0init", autolock: "true" });
        const out = oneJsonLine(n.run("swarm-init", { ...INIT_ENV, AUTOLOCK: "false" }));
        assert.equal(out.unlockKey, "");
        assert.ok(n.calls().includes("swarm update --autolock=false"));
        assert.equal(n.get("autolock"), "false");
    });

    test("refuses to run on a worker of another swarm or on a locked swarm", (t) => {
        if (!needTools(t, "bash")) return;
        const worker = fakeNode({ state: "active", control: "false" }).run("swarm-init", INIT_ENV);
        assert.notEqual(worker.status, 0);
        assert.equal(worker.stdout, "");
        assert.match(worker.stderr, /worker of an existing swarm/);
        const locked = fakeNode({ state: "locked" }).run("swarm-init", INIT_ENV);
        assert.notEqual(locked.status, 0);
        assert.match(locked.stderr, /locked/);
    });
});

describe("swarm-join-token and swarm-rotate-tokens", () => {
    const READ_ENV = { ROLE: "worker", MEMBER_NAME: "gw-1", MEMBER_AT: "deploy@10.0.10.21:22" };

    test("prints the current token of the role as one JSON line, and nothing secret elsewhere", (t) => {
        if (!needTools(t, "bash")) return;
        const n = fakeNode({ state: "active", control: "true" });
        const worker = n.run("swarm-join-token", READ_ENV);
        assert.deepEqual(oneJsonLine(worker), { token: "SWMTKN-1-worker-secret" });
        assert.doesNotMatch(worker.stderr, /SWMTKN/);
        assert.deepEqual(oneJsonLine(n.run("swarm-join-token", { ...READ_ENV, ROLE: "manager" })), { token: "SWMTKN-1-manager-secret" });
    });

    test("after a rotation the next read gets the new token; the rotation prints no token", (t) => {
        if (!needTools(t, "bash")) return;
        const n = fakeNode({ state: "active", control: "true" });
        const rotated = n.run("swarm-rotate-tokens", { JOINED: "abc123\ndef456" });
        assert.equal(rotated.status, 0, rotated.stderr);
        assert.equal(rotated.stdout, "swarm-rotate-tokens: rotated\n");
        assert.doesNotMatch(rotated.stdout + rotated.stderr, /SWMTKN/);
        assert.match(rotated.stderr, /after joins of 2 node\(s\)/);
        assert.deepEqual(n.calls().filter((c) => c.includes("--rotate")), ["swarm join-token --rotate -q worker", "swarm join-token --rotate -q manager"]);
        assert.deepEqual(oneJsonLine(n.run("swarm-join-token", READ_ENV)), { token: "SWMTKN-1-worker-secret-r1" });
        assert.deepEqual(oneJsonLine(n.run("swarm-join-token", { ...READ_ENV, ROLE: "manager" })), { token: "SWMTKN-1-manager-secret-r1" });
    });

    test("a node joins with the token read just before it, also after earlier rotations", (t) => {
        if (!needTools(t, "bash")) return;
        const manager = fakeNode({ state: "active", control: "true" });
        manager.run("swarm-rotate-tokens", { JOINED: "abc123" });
        const token = String(oneJsonLine(manager.run("swarm-join-token", READ_ENV)).token);
        const joiner = fakeNode();
        oneJsonLine(joiner.run("swarm-join", { JOIN_TOKEN: token, MANAGER_ADDR: "10.0.10.11:2377", ADVERTISE_ADDR: "10.0.10.21" }));
        assert.equal(JSON.parse(joiner.get("join_body")).JoinToken, "SWMTKN-1-worker-secret-r1");
    });

    test("both refuse to run anywhere but on an active manager, and the read refuses an unknown role", (t) => {
        if (!needTools(t, "bash")) return;
        for (const [script, env] of [["swarm-join-token", READ_ENV], ["swarm-rotate-tokens", { JOINED: "abc123" }]] as const) {
            const r = fakeNode({ state: "active", control: "false" }).run(script, env);
            assert.notEqual(r.status, 0, script);
            assert.equal(r.stdout, "");
            assert.match(r.stderr, /not an active swarm manager/);
        }
        const r = fakeNode({ state: "active", control: "true" }).run("swarm-join-token", { ...READ_ENV, ROLE: "boss" });
        assert.notEqual(r.status, 0);
        assert.match(r.stderr, /ROLE must be manager or worker/);
    });
});

describe("swarm-join and swarm-leave", () => {
    const JOIN_ENV = { JOIN_TOKEN: "SWMTKN-1-worker-secret", MANAGER_ADDR: "10.0.10.11:2377", ADVERTISE_ADDR: "10.0.10.21" };

    test("joins once and prints {nodeId}; a second run skips the join; the token is never printed", (t) => {
        if (!needTools(t, "bash")) return;
        const n = fakeNode();
        const first = n.run("swarm-join", JOIN_ENV);
        assert.deepEqual(oneJsonLine(first), { nodeId: "node1join" });
        assert.doesNotMatch(first.stderr, /SWMTKN/);
        const joins = n.calls().filter((c) => c.includes("/swarm/join"));
        assert.equal(joins.length, 1);
        assert.doesNotMatch(n.calls().join("\n"), /SWMTKN/, "the token is on no command line");
        assert.deepEqual(JSON.parse(n.get("join_body")), {
            ListenAddr: "0.0.0.0:2377",
            AdvertiseAddr: "10.0.10.21",
            RemoteAddrs: ["10.0.10.11:2377"],
            JoinToken: "SWMTKN-1-worker-secret",
        });
        assert.deepEqual(oneJsonLine(n.run("swarm-join", JOIN_ENV)), { nodeId: "node1join" });
        assert.equal(n.calls().filter((c) => c.includes("/swarm/join")).length, 1);
    });

    test("swarm's join deadline (503, the join goes on in the background) is waited out; a refusal fails with the engine's message, never the token", (t) => {
        if (!needTools(t, "bash")) return;
        const late = fakeNode({ join_answer: "deadline" });
        const r = late.run("swarm-join", JOIN_ENV);
        assert.deepEqual(oneJsonLine(r), { nodeId: "node1join" });
        assert.match(r.stderr, /the join goes on in the background after swarm's join deadline: waiting for it/);
        const refused = fakeNode({ join_answer: "refused" }).run("swarm-join", JOIN_ENV);
        assert.notEqual(refused.status, 0);
        assert.equal(refused.stdout, "");
        assert.match(refused.stderr, /ERROR: the engine refused to join the swarm at 10\.0\.10\.11:2377: \{"message":"rpc error: code = InvalidArgument desc = A valid join token is necessary to join this cluster \(<token>\)"\} curl: \(22\) The requested URL returned error: 400/);
        assert.doesNotMatch(refused.stderr, /SWMTKN/);
    });

    test("a node already in another swarm is not joined", (t) => {
        if (!needTools(t, "bash")) return;
        const r = fakeNode({ state: "active", node_id: "x1", managers: "192.0.2.1:2377 " }).run("swarm-join", JOIN_ENV);
        assert.notEqual(r.status, 0);
        assert.equal(r.stdout, "");
        assert.match(r.stderr, /in another swarm \(managers: 192\.0\.2\.1:2377 \); run swarm-leave first/);
    });

    test("swarm-leave leaves an active swarm and is fine outside one", (t) => {
        if (!needTools(t, "bash")) return;
        const n = fakeNode({ state: "active" });
        assert.equal(n.run("swarm-leave", {}).stdout, "swarm-leave: left\n");
        assert.ok(n.calls().includes("swarm leave --force"));
        assert.equal(n.run("swarm-leave", {}).stdout, "swarm-leave: not-in-swarm\n");
    });

    test("swarm-leave stops the task containers still running (services being deleted) before it leaves", (t) => {
        if (!needTools(t, "bash")) return;
        const n = fakeNode({ state: "active", containers: "c0ffee1\nbeef002" });
        assert.equal(n.run("swarm-leave", {}).stdout, "swarm-leave: left\n");
        const calls = n.calls().filter((c) => /^(ps|kill|swarm leave)/.test(c));
        assert.deepEqual(calls, ["ps -q --filter label=com.docker.swarm.task.id", "kill c0ffee1 beef002", "swarm leave --force"]);
        const none = fakeNode({ state: "active" });
        none.run("swarm-leave", {});
        assert.ok(!none.calls().some((c) => c.startsWith("kill")), "nothing to stop: no kill");
    });
});

describe("node-membership", () => {
    const ENV = { NODE_ID: "abc123", MEMBER_NAME: "gw-1", ROLE: "manager", AVAILABILITY: "active", LABELS: "zone=dmz\ngateway=true\nrack=a b" };

    test("adds desired labels, removes labels it set before that are no longer desired, keeps labels set by hand", (t) => {
        if (!needTools(t, "bash")) return;
        const n = fakeNode({
            node_exists: "",
            labels: "zone=intra\nold=x\nmanual=keep\nswarm-platform.managed-labels=old,zone\n",
        });
        const out = oneJsonLine(n.run("node-membership", ENV));
        assert.deepEqual(out, {
            nodeId: "abc123",
            labels: { gateway: "true", manual: "keep", rack: "a b", "swarm-platform.managed-labels": "gateway,rack,zone", zone: "dmz" },
        });
    });

    test("promotes to the desired role and sets the availability", (t) => {
        if (!needTools(t, "bash")) return;
        const n = fakeNode({ node_exists: "", role: "worker" });
        oneJsonLine(n.run("node-membership", { ...ENV, AVAILABILITY: "drain" }));
        assert.equal(n.get("role"), "manager");
        assert.equal(n.get("availability"), "drain");
        assert.ok(n.calls().includes("node promote abc123"));
        oneJsonLine(n.run("node-membership", { ...ENV, AVAILABILITY: "drain" }));
        assert.equal(n.calls().filter((c) => c.startsWith("node promote")).length, 1, "no second promotion");
    });

    test("availability drain on an active node surges a release whose every task is there, drains, waits, and scales it back; once", (t) => {
        if (!needTools(t, "bash")) return;
        // shop-1-9's two replicas both landed on gw-1 (lab t in CI): a plain drain would stop both at once.
        const n = fakeNode({
            node_exists: "", role: "manager", node_id: "self0", node_hostname: "gw-1", node_tasks: "Shutdown 1 second ago",
            node_task_names: "shop-1-9.1\nshop-1-9.2\nshop-2-0.1\ngateway.abc123",
            service_mode_gateway: "", "service_mode_shop-1-9": "2", "service_mode_shop-2-0": "2",
            "service_tasks_shop-1-9": "gw-1 Running 1 minute ago\ngw-1 Running 1 minute ago", "surge_tasks_shop-1-9": "gw-1 Running 1 minute ago\ngw-2 Running 1 second ago",
            "service_tasks_shop-2-0": "gw-1 Running 1 minute ago\ngw-2 Running 1 minute ago",
            service_replicas: "shop-1-9 3/3\nshop-2-0 2/2\ngateway 1/1\n",
        });
        oneJsonLine(n.run("node-membership", { ...ENV, AVAILABILITY: "drain" }));
        assert.equal(n.get("availability"), "drain");
        const order = n.calls().filter((c) => /^(node update|service scale)/.test(c));
        assert.deepEqual(order.slice(0, 3), ["service scale --detach shop-1-9=3", "node update --availability drain abc123", "service scale --detach shop-1-9=2"], "surged before the drain, back after");
        assert.match(order[3] ?? "", /^node update .*--availability drain abc123$/, "then the labels");
        const before = n.calls().length;
        oneJsonLine(n.run("node-membership", { ...ENV, AVAILABILITY: "drain" }));
        assert.ok(!n.calls().slice(before).some((c) => c.startsWith("service scale")), "an already drained node is not drained again");
    });

    test("a node update refused as out of sequence (the swarm changed the node meanwhile) is tried again, then fails plainly", (t) => {
        if (!needTools(t, "bash")) return;
        const n = fakeNode({ node_exists: "", node_update_conflicts: "2" });
        oneJsonLine(n.run("node-membership", { ...ENV, ROLE: "worker", AVAILABILITY: "drain" }));
        assert.equal(n.get("availability"), "drain");
        assert.equal(n.calls().filter((c) => c.startsWith("node update")).length, 3, "two refused, the third applied");
        const promoted = fakeNode({ node_exists: "", node_update_conflicts: "1" });
        oneJsonLine(promoted.run("node-membership", ENV));
        assert.equal(promoted.get("role"), "manager");
        assert.deepEqual(promoted.calls().filter((c) => /^node (promote|update)/.test(c)).map((c) => c.split(" ")[1]), ["promote", "promote", "update"], "the promotion tried again");
        const stuck = fakeNode({ node_exists: "", node_update_conflicts: "9" });
        const r = stuck.run("node-membership", { ...ENV, ROLE: "worker" });
        assert.notEqual(r.status, 0);
        assert.equal(r.stdout, "");
        assert.match(r.stderr, /docker node update failed: .*update out of sequence/);
    });

    test("an empty LABELS removes every label it manages", (t) => {
        if (!needTools(t, "bash")) return;
        const n = fakeNode({ node_exists: "", labels: "zone=dmz\nswarm-platform.managed-labels=zone\n" });
        assert.deepEqual(oneJsonLine(n.run("node-membership", { ...ENV, LABELS: "" })).labels, { "swarm-platform.managed-labels": "" });
    });

    test("refuses bad input with a clear message and no output", (t) => {
        if (!needTools(t, "bash")) return;
        const n = fakeNode({ node_exists: "" });
        for (const [env, message] of [
            [{ ROLE: "boss" }, /ROLE must be manager or worker/],
            [{ AVAILABILITY: "maybe" }, /AVAILABILITY must be active, pause or drain/],
            [{ LABELS: "no-equals-sign" }, /is not key=value/],
        ] as const) {
            const r = n.run("node-membership", { ...ENV, ...env });
            assert.notEqual(r.status, 0);
            assert.equal(r.stdout, "");
            assert.match(r.stderr, message);
        }
    });

    test("waits (bounded) for the node to be Ready", (t) => {
        if (!needTools(t, "bash")) return;
        // A separate process turns the node ready 1 s after the script first asked for its state.
        const n = fakeNode({ node_exists: "", node_state: "down" });
        const flip = spawn(
            "bash",
            ["-c", 'until grep -qF "{{.Status.State}}" "$1/calls" 2>/dev/null; do sleep 0.05; done; sleep 1; printf ready >"$1/node_state"', "_", n.state],
            { stdio: "ignore" },
        );
        try {
            oneJsonLine(n.run("node-membership", ENV));
            assert.ok(n.calls().filter((c) => c.startsWith("node inspect --format {{.Status.State}}")).length >= 2, "it did not wait");
        } finally {
            flip.kill();
        }
    });
});

describe("swarm-managers", () => {
    // The read's own docker stand-in: `docker info` as a manager of an active swarm, `node ls` and `node inspect`
    // answering or failing as told (a swarm losing its leader between the two: node ls answered, inspect did not);
    // NETWORKS=hang: network ls waits (as for a leader), and node ls answers only once it has started.
    const MANAGERS_DOCKER = `#!/usr/bin/env bash
case "$1 $2" in
    "info --format") echo '"active" true [{"NodeID":"b","Addr":"10.0.10.12:2377"},{"NodeID":"c","Addr":"10.0.10.13:2377"}]' ;;
    "node ls") if [[ $NETWORKS == hang ]]; then for ((i = 0; i < 250; i++)); do [[ -s $HANG_PID ]] && break; sleep 0.02; done; fi
        [[ $LS_OK == 1 ]] || { echo "Error response from daemon: rpc error: code = Unknown desc = The swarm does not have a leader." >&2; exit 1; }; echo a; echo b ;;
    "node inspect") [[ $INSPECT_OK == 1 ]] || { echo "Error response from daemon: rpc error: code = DeadlineExceeded desc = context deadline exceeded" >&2; exit 1; }
        echo '{"hostname":"manager-1","addr":"10.0.10.11:2377","reachability":"reachable","leader":true}'
        echo '{"hostname":"manager-2","addr":"10.0.10.12:2377","reachability":"unreachable","leader":false}' ;;
    "network ls") [[ $* == "network ls -q --filter scope=swarm" ]] || { echo "unexpected: $*" >&2; exit 2; }
        [[ $NETWORKS != hang ]] || { echo $$ >"$HANG_PID"; sleep 30; }
        [[ $NETWORKS == none ]] || { echo n1; echo n2; } ;;
    "network inspect") [[ $NETWORKS == ok && $* == *" n1 n2" ]] || { echo "Error: No such network: n2" >&2; exit 1; }
        echo '{"name":"gateway","driver":"overlay","ingress":false,"ipamDriver":"default","ipam":[{"Subnet":"10.209.0.0/24","Gateway":"10.209.0.1"}]}'
        echo '{"name":"zone-dmz","driver":"","ingress":false,"ipamDriver":"","ipam":null}' ;;
    *) echo "unexpected: $*" >&2; exit 2 ;;
esac
`;
    const read = (lsOk: boolean, inspectOk: boolean, env: Record<string, string> = {}, docker = MANAGERS_DOCKER) => {
        const root = tempDir("managers");
        dirs.push(root);
        writeFile(path.join(root, "bin", "docker"), docker, 0o755);
        return run("bash", ["-s"], {
            input: renderNodeScript("swarm-managers", { node: "n1", env: {} }),
            env: { PATH: `${path.join(root, "bin")}:${process.env.PATH}`, LS_OK: lsOk ? "1" : "0", INSPECT_OK: inspectOk ? "1" : "0", NETWORKS: "ok", ...env },
        });
    };
    // A manager whose swarm lost its leader: info waits for one (swarm's 20 s deadline), version answers at once.
    const LEADERLESS_DOCKER = `#!/usr/bin/env bash
case "$1" in
    info) sleep 30 ;;
    version) [[ $VERSION_OK == 1 ]] || exit 1; echo 28.2.2 ;;
    node) [[ -z \${NODE_PIDS:-} ]] || echo $$ >>"$NODE_PIDS"; sleep 30 ;; # waits for a leader, as swarm's node ls does
    *) echo "unexpected: $*" >&2; exit 2 ;;
esac
`;
    const remote = ["10.0.10.12:2377", "10.0.10.13:2377"];

    test("with a leader: one JSON line listing the managers and the swarm's networks (null when that read fails)", (t) => {
        if (!needTools(t, "bash")) return;
        const withLeader = {
            engine: "up",
            state: "active",
            controlAvailable: true,
            leader: true,
            remoteManagers: remote,
            managers: [
                { hostname: "manager-1", addr: "10.0.10.11:2377", reachability: "reachable", leader: true },
                { hostname: "manager-2", addr: "10.0.10.12:2377", reachability: "unreachable", leader: false },
            ],
        };
        assert.deepEqual(oneJsonLine(read(true, true)), {
            ...withLeader,
            networks: [
                { name: "gateway", driver: "overlay", ingress: false, ipamDriver: "default", ipam: [{ Subnet: "10.209.0.0/24", Gateway: "10.209.0.1" }] },
                { name: "zone-dmz", driver: "", ingress: false, ipamDriver: "", ipam: null },
            ],
        });
        assert.deepEqual(oneJsonLine(read(true, true, { NETWORKS: "none" })), { ...withLeader, networks: [] });
        // a network gone between ls and inspect: not known, so the program assumes nothing
        const failed = read(true, true, { NETWORKS: "gone" });
        assert.deepEqual(oneJsonLine(failed), { ...withLeader, networks: null });
        assert.doesNotMatch(failed.stderr, /unexpected/);
    });

    test("without a leader, whether node ls or only the node inspect after it fails: no leader, no managers, exit 0", (t) => {
        if (!needTools(t, "bash")) return;
        const noLeader = { engine: "up", state: "active", controlAvailable: true, leader: false, remoteManagers: remote, managers: [], networks: null };
        assert.deepEqual(oneJsonLine(read(false, false)), noLeader);
        // seen in the prod-like lab: quorum lost while the read ran; the read failed, so up could not say "quorum is lost"
        assert.deepEqual(oneJsonLine(read(true, false)), noLeader);
    });

    test("the networks are read beside the managers: without a leader a networks read still waiting is ended", (t) => {
        if (!needTools(t, "bash", "pgrep")) return;
        const hang = path.join(tempDir("hang"), "pid");
        dirs.push(path.dirname(hang));
        const started = Date.now();
        const r = read(false, false, { NETWORKS: "hang", HANG_PID: hang });
        assert.ok(Date.now() - started < 5000, `the read took ${Date.now() - started} ms`);
        assert.deepEqual(oneJsonLine(r), { engine: "up", state: "active", controlAvailable: true, leader: false, remoteManagers: remote, managers: [], networks: null });
        // it had started (the stand-in wrote its pid), and it was ended, not left behind
        const pid = Number(fs.readFileSync(hang, "utf8"));
        assert.throws(() => process.kill(pid, 0), /ESRCH/);
    });

    test("a docker info that waits for a leader is cut short: no leader, the managers swarm keeps on disk, the node ls beside it ended", (t) => {
        if (!needTools(t, "bash", "timeout")) return;
        const dataRoot = tempDir("data-root");
        dirs.push(dataRoot);
        // swarmkit's persisted remotes (api.Peer as JSON), as in <data root>/swarm/state.json
        writeFile(path.join(dataRoot, "swarm", "state.json"), '[{"node_id":"a1","addr":"10.0.10.11:2377"},{"node_id":"b2","addr":"10.0.10.12:2377"}]');
        const started = Date.now();
        const nodePids = path.join(dataRoot, "node-pids");
        const r = read(false, false, { INFO_TIMEOUT_SECONDS: "1", DOCKER_DATA_ROOT: dataRoot, VERSION_OK: "1", NODE_PIDS: nodePids }, LEADERLESS_DOCKER);
        assert.ok(Date.now() - started < 5000, `the read took ${Date.now() - started} ms`);
        // the managers' read started beside docker info and was ended with it, not left waiting for a leader
        const asked = fs.readFileSync(nodePids, "utf8").trim().split("\n").map(Number);
        assert.equal(asked.length, 1, "one node ls, no node inspect");
        assert.throws(() => process.kill(asked[0], 0), /ESRCH/);
        assert.deepEqual(oneJsonLine(r), {
            engine: "up",
            state: "active",
            controlAvailable: true,
            leader: false,
            remoteManagers: ["10.0.10.11:2377", "10.0.10.12:2377"],
            managers: [],
            networks: null,
        });
        assert.match(r.stderr, /docker info did not answer within 1 s: a manager without a leader/);
        // Nothing kept on disk: still a leaderless manager, knowing no other manager.
        const bare = read(false, false, { INFO_TIMEOUT_SECONDS: "1", DOCKER_DATA_ROOT: path.join(dataRoot, "none"), VERSION_OK: "1" }, LEADERLESS_DOCKER);
        assert.deepEqual(oneJsonLine(bare), { engine: "up", state: "active", controlAvailable: true, leader: false, remoteManagers: [], managers: [], networks: null });
        // An engine that answers nothing at all (info hangs, version too) is down, not a leaderless manager.
        assert.deepEqual(oneJsonLine(read(false, false, { INFO_TIMEOUT_SECONDS: "1", DOCKER_DATA_ROOT: dataRoot, VERSION_OK: "0" }, LEADERLESS_DOCKER)), { engine: "down" });
    });
});

describe("node-ready", () => {
    test("answers with the engine's version once it answers, asking again; fails naming the wait when it never does", (t) => {
        if (!needTools(t, "bash")) return;
        const starting = fakeNode({ engine_down_calls: "3" });
        const r = starting.run("node-ready", {});
        assert.equal(r.status, 0, r.stderr);
        assert.equal(r.stdout, "docker: ready 27.5.1\n");
        assert.equal(starting.calls().filter((c) => c.startsWith("version")).length, 4, "three refused, the fourth answered");

        const down = fakeNode({ engine_down_calls: "999" });
        const failed = down.run("node-ready", { DOCKER_WAIT_SECONDS: "1" });
        assert.notEqual(failed.status, 0);
        assert.equal(failed.stdout, "");
        assert.match(failed.stderr, /docker engine did not answer within 1s/);
        assert.ok(down.calls().filter((c) => c.startsWith("version")).length >= 2, "asked again before giving up");
    });
});

describe("node-remove", () => {
    test("drains, demotes a manager and removes the node", (t) => {
        if (!needTools(t, "bash")) return;
        const n = fakeNode({ state: "active", node_exists: "", role: "manager", node_id: "self0", node_tasks: "Shutdown 1 second ago" });
        const r = n.run("node-remove", { NODE_ID: "abc123", MEMBER_NAME: "gw-9" });
        assert.equal(r.status, 0, r.stderr);
        assert.equal(r.stdout, "node-remove: removed\n");
        const order = n.calls().filter((c) => /^node (update|demote|rm)/.test(c));
        assert.deepEqual(order, ["node update --availability drain abc123", "node demote abc123", "node rm --force abc123"]);
    });

    test("refuses to run without a node id or address", (t) => {
        if (!needTools(t, "bash")) return;
        const none = fakeNode().run("node-remove", { MEMBER_NAME: "gw-9" });
        assert.notEqual(none.status, 0);
        assert.match(none.stderr, /NODE_ID or MEMBER_ADDR is required/);
    });

    test("without an id, the node is found by its address (a manager's by its manager address)", (t) => {
        if (!needTools(t, "bash")) return;
        const addrs = "self0 0.0.0.0 10.0.10.11:2377\nabc123 10.0.10.21 \nmgr222 0.0.0.0 10.0.10.12:2377\n";
        const worker = fakeNode({ state: "active", node_exists: "", node_id: "self0", node_addrs: addrs });
        assert.equal(worker.run("node-remove", { MEMBER_NAME: "gw-1", MEMBER_ADDR: "10.0.10.21" }).stdout, "node-remove: removed\n");
        assert.ok(worker.calls().includes("node rm --force abc123"));
        const manager = fakeNode({ state: "active", node_exists: "", node_id: "self0", role: "manager", node_addrs: addrs });
        assert.equal(manager.run("node-remove", { MEMBER_NAME: "manager-2", MEMBER_ADDR: "10.0.10.12" }).stdout, "node-remove: removed\n");
        assert.ok(manager.calls().includes("node rm --force mgr222"));
        const gone = fakeNode({ state: "active", node_exists: "", node_id: "self0", node_addrs: addrs });
        assert.equal(gone.run("node-remove", { MEMBER_NAME: "x", MEMBER_ADDR: "10.0.10.99" }).stdout, "node-remove: absent\n");
        assert.ok(!gone.calls().some((c) => c.startsWith("node rm")));
    });

    test("a node that is already gone is fine", (t) => {
        if (!needTools(t, "bash")) return;
        const r = fakeNode().run("node-remove", { NODE_ID: "abc123", MEMBER_NAME: "gw-9" });
        assert.equal(r.status, 0, r.stderr);
        assert.equal(r.stdout, "node-remove: absent\n");
    });

    test("refuses to remove the node it runs on", (t) => {
        if (!needTools(t, "bash")) return;
        const r = fakeNode({ state: "active", node_exists: "", node_id: "abc123" }).run("node-remove", { NODE_ID: "abc123", MEMBER_NAME: "manager-1" });
        assert.notEqual(r.status, 0);
        assert.match(r.stderr, /refusing to remove the node this script runs on/);
    });
});

describe("node lifecycle: drain before removal, departures, settle, the bootstrap manager's leave", () => {
    const onNode = "shop-2-0.2\ngateway.abc123";

    test("node-remove waits until every service that ran on the node runs all its tasks again before it removes the node", (t) => {
        if (!needTools(t, "bash")) return;
        const converged = fakeNode({ state: "active", node_exists: "", node_id: "self0", node_tasks: "Shutdown 1 second ago", node_task_names: onNode, service_replicas: "shop-2-0 2/2\ngateway 1/1\n" });
        const ok = converged.run("node-remove", { NODE_ID: "abc123", MEMBER_NAME: "gw-9" });
        assert.equal(ok.stdout, "node-remove: removed\n", ok.stderr);
        assert.match(ok.stderr, /services there: gateway shop-2-0/);
        assert.ok(converged.calls().some((c) => c.startsWith("service ls --filter name=shop-2-0")), "it did not check the moved service");

        const stuck = fakeNode({ state: "active", node_exists: "", node_id: "self0", node_tasks: "Shutdown 1 second ago", node_task_names: onNode, service_replicas: "shop-2-0 1/2\ngateway 1/1\n" });
        const r = stuck.run("node-remove", { NODE_ID: "abc123", MEMBER_NAME: "gw-9", DRAIN_TIMEOUT: "2" });
        assert.notEqual(r.status, 0);
        assert.match(r.stderr, /shop-2-0 did not run all its tasks elsewhere within 2 s of draining gw-9/);
        assert.ok(!stuck.calls().some((c) => c.startsWith("node rm")), "a node whose work has not moved must not be removed");
    });

    test("the drain waits for the node's running tasks of services that exist, not for those of services already removed (a destroy removes them first)", (t) => {
        if (!needTools(t, "bash")) return;
        // a removed service's task shows its service id where the name was
        const removed = fakeNode({ state: "active", node_exists: "", node_id: "self0", node_task_states: "q8w2e4r6t8y0u2i4o6p8a0s2d.1 Running 3 seconds ago\nk1l3z5x7c9v1b3n5m7q9w1e3r.abc123 Running 3 seconds ago", service_replicas: "" });
        const gone = removed.run("node-remove", { NODE_ID: "abc123", MEMBER_NAME: "gw-9", DRAIN_TIMEOUT: "1" });
        assert.equal(gone.stdout, "node-remove: removed\n", gone.stderr);
        assert.ok(removed.calls().includes("node rm --force abc123"));

        const live = fakeNode({ state: "active", node_exists: "", node_id: "self0", node_task_states: "shop-2-0.2 Running 3 seconds ago\ngateway.abc123 Shutdown 1 second ago", node_task_names: onNode, service_replicas: "shop-2-0 2/2\ngateway 1/1\n" });
        const r = live.run("node-remove", { NODE_ID: "abc123", MEMBER_NAME: "gw-9", DRAIN_TIMEOUT: "1" });
        assert.notEqual(r.status, 0);
        assert.match(r.stderr, /tasks still run on gw-9 1 s after the drain/);
        assert.ok(!live.calls().some((c) => c.startsWith("node rm")), "a node whose tasks still run must not be removed");
    });

    test("a replicated service running only on the drained node gets one more replica elsewhere first, and its count back after", (t) => {
        if (!needTools(t, "bash")) return;
        const n = fakeNode({
            state: "active", node_exists: "", node_id: "self0", node_tasks: "Shutdown 1 second ago", node_hostname: "gw-2",
            node_task_names: "shop-2-0.1\nshop-2-0.2\nshop-1-9.1\ngateway.abc123",
            service_mode_gateway: "", "service_mode_shop-2-0": "2", "service_mode_shop-1-9": "2",
            "service_tasks_shop-2-0": "gw-2 Running 1 minute ago\ngw-2 Running 1 minute ago", "surge_tasks_shop-2-0": "gw-2 Running 1 minute ago\ngw-1 Running 1 second ago",
            "service_tasks_shop-1-9": "gw-2 Running 1 minute ago\ngw-1 Running 1 minute ago",
            service_replicas: "shop-2-0 3/3\nshop-1-9 2/2\ngateway 1/1\n",
        });
        const r = n.run("node-remove", { NODE_ID: "abc123", MEMBER_NAME: "gw-2" });
        assert.equal(r.stdout, "node-remove: removed\n", r.stderr);
        assert.deepEqual(n.get("scales").trim().split("\n"), ["shop-2-0=3", "shop-2-0=2"], "surged before the drain, back after; shop-1-9 also runs on gw-1, the gateway is global");
        const order = n.calls().filter((c) => /^(node update|service scale)/.test(c));
        assert.deepEqual(order, ["service scale --detach shop-2-0=3", "node update --availability drain abc123", "service scale --detach shop-2-0=2"]);
    });

    test("node-remove with KEEP_IN_SWARM only drains (the bootstrap manager, replaced keeping its data)", (t) => {
        if (!needTools(t, "bash")) return;
        const n = fakeNode({ state: "active", node_exists: "", role: "manager", node_id: "abc123", node_tasks: "Shutdown 1 second ago", node_task_names: "stock-1-0.1", service_replicas: "stock-1-0 1/1\n" });
        const r = n.run("node-remove", { NODE_ID: "abc123", MEMBER_NAME: "manager-1", KEEP_IN_SWARM: "true" });
        assert.equal(r.stdout, "node-remove: drained\n", r.stderr);
        assert.deepEqual(n.calls().filter((c) => /^node (update|demote|rm)/.test(c)), ["node update --availability drain abc123"]);
    });

    test("node writes refused as out of sequence (the swarm changed the node meanwhile) are tried again: drain, demote; then they fail naming the library's line", (t) => {
        if (!needTools(t, "bash")) return;
        // CI, a prod-like destroy: `docker node update --availability drain web-1` refused once as out of sequence
        const n = fakeNode({ state: "active", node_exists: "", role: "manager", node_id: "self0", node_tasks: "Shutdown 1 second ago", node_update_conflicts: "2" });
        const r = n.run("node-remove", { NODE_ID: "abc123", MEMBER_NAME: "web-1" });
        assert.equal(r.stdout, "node-remove: removed\n", r.stderr);
        assert.equal(n.calls().filter((c) => c === "node update --availability drain abc123").length, 3, "two refused, the third applied");
        assert.match(r.stderr, /the node changed while docker node update was writing it: trying again/);

        const drained = "self0 10.0.10.11 ready active manager manager-1\nm2 10.0.10.12 ready drain manager manager-2\n";
        const departures = fakeNode({ state: "active", control: "true", node_exists: "", node_details: drained, node_update_conflicts: "1" });
        assert.equal(departures.run("swarm-departures", { MEMBER_ADDRS: "10.0.10.11" }).stdout, "swarm-departures: drained manager-2\n");
        assert.deepEqual(departures.calls().filter((c) => /^node (update|demote)/.test(c)), ["node demote m2", "node demote m2"], "the demotion tried again");

        const stuck = fakeNode({ state: "active", node_exists: "", node_id: "self0", node_tasks: "Shutdown 1 second ago", node_update_conflicts: "9" });
        const failed = stuck.run("node-remove", { NODE_ID: "abc123", MEMBER_NAME: "web-1" });
        assert.notEqual(failed.status, 0);
        assert.equal(failed.stdout, "");
        assert.match(failed.stderr, /docker node update failed: .*update out of sequence/);
        assert.match(failed.stderr, /^node n1: node-remove failed \(templates\/swarm\/node-drain-lib\.sh line \d+\)$/m, "the line is the library's, not a negative body line");
        assert.ok(!stuck.calls().some((c) => c.startsWith("node rm")), "a node that was not drained is not removed");
    });

    test("node-remove does not wait for a drain of a node that is down (its tasks were rescheduled)", (t) => {
        if (!needTools(t, "bash")) return;
        const n = fakeNode({ state: "active", node_exists: "", node_id: "self0", node_state: "down", node_tasks: "Running 5 minutes ago", service_replicas: "shop-2-0 1/2\n" });
        const r = n.run("node-remove", { NODE_ID: "abc123", MEMBER_NAME: "gw-9", DRAIN_TIMEOUT: "2" });
        assert.equal(r.stdout, "node-remove: removed\n", r.stderr);
    });

    test("swarm-departures drains the nodes the stack no longer has and demotes a departed manager; planned and down nodes are left alone", (t) => {
        if (!needTools(t, "bash")) return;
        const details = [
            "self0 10.0.10.11 ready active manager manager-1",
            "w1 10.0.10.21 ready active worker worker-1",
            "w2 10.0.10.22 ready active worker worker-2",
            "m2 10.0.10.12 ready active manager manager-2",
            "w3 10.0.10.23 down active worker worker-3",
        ].join("\n");
        const n = fakeNode({ state: "active", control: "true", node_exists: "", node_details: details, node_tasks: "Shutdown 1 second ago" });
        const r = n.run("swarm-departures", { MEMBER_ADDRS: "10.0.10.11\n10.0.10.21" });
        assert.equal(r.stdout, "swarm-departures: drained worker-2 manager-2\n", r.stderr);
        assert.deepEqual(n.calls().filter((c) => /^node (update|demote|rm)/.test(c)), ["node update --availability drain w2", "node update --availability drain m2", "node demote m2"]);

        const first = fakeNode();
        assert.equal(first.run("swarm-departures", { MEMBER_ADDRS: "10.0.10.11" }).stdout, "swarm-departures: none\n", "no swarm yet: nothing to do");
    });

    test("node-settle waits for the node's tasks to run and fails naming them when they do not", (t) => {
        if (!needTools(t, "bash")) return;
        const ok = fakeNode({ node_exists: "", node_task_states: "gateway.abc123 Running", node_task_names: "gateway.abc123" });
        assert.equal(ok.run("node-settle", { NODE_ID: "abc123", MEMBER_NAME: "gw-1" }).stdout, "node-settle: ready\n");
        const pending = fakeNode({ node_exists: "", node_task_states: "gateway.abc123 Preparing" });
        const r = pending.run("node-settle", { NODE_ID: "abc123", MEMBER_NAME: "gw-1", DRAIN_TIMEOUT: "2" });
        assert.notEqual(r.status, 0);
        assert.match(r.stderr, /tasks not running after 2 s: gateway.abc123 Preparing/);
        assert.equal(pending.run("node-settle", { NODE_ID: "abc123", MEMBER_NAME: "gw-1", WAIT_TASKS: "false" }).stdout, "node-settle: ready\n", "the drain step waits for Ready only");
    });

    test("node-settle on a gateway node waits for its gateway's task too, unless that task has no routes yet (exit 78)", (t) => {
        if (!needTools(t, "bash")) return;
        const settle = { NODE_ID: "abc123", MEMBER_NAME: "gw-1", GATEWAY_SERVICE: "gateway", DRAIN_TIMEOUT: "2", REBALANCE: "false" };
        // a rebuilt gateway node: its routes are kept, its gateway starts; the task before the rebuild ended otherwise
        const rebuilt = fakeNode({
            node_exists: "", node_task_states: "gateway.abc123 Starting",
            service_history_gateway: "Running|Starting 1 second ago|\nShutdown|Shutdown 20 seconds ago|task: non-zero exit (137)\nShutdown|Failed 2 hours ago|task: non-zero exit (78)\n",
        });
        const r = rebuilt.run("node-settle", settle);
        assert.notEqual(r.status, 0, "a gateway still starting is waited for (an old exit 78 further back does not count)");
        assert.match(r.stderr, /tasks not running after 2 s: gateway.abc123 Starting/);
        rebuilt.set("node_task_states", "gateway.abc123 Running");
        assert.equal(rebuilt.run("node-settle", settle).stdout, "node-settle: ready\n");
        // a new gateway node: no routes until its routes step ran
        const fresh = fakeNode({
            node_exists: "", node_task_states: "gateway.abc123 Ready",
            service_history_gateway: "Running|Ready 1 second ago|\nShutdown|Failed 3 seconds ago|task: non-zero exit (78)\n",
        });
        const f = fresh.run("node-settle", settle);
        assert.equal(f.stdout, "node-settle: ready\n", f.stderr);
        assert.match(f.stderr, /the gateway here has no routes yet/);
        // a release task still starting is waited for either way
        const releaseStarting = fakeNode({
            node_exists: "", node_task_states: "gateway.abc123 Ready\nshop-2-0.1.xyz Starting",
            service_history_gateway: "Running|Ready 1 second ago|\nShutdown|Failed 3 seconds ago|task: non-zero exit (78)\n",
        });
        const rs = releaseStarting.run("node-settle", settle);
        assert.notEqual(rs.status, 0);
        assert.match(rs.stderr, /tasks not running after 2 s: shop-2-0.1.xyz Starting/);
        assert.doesNotMatch(rs.stderr, /not running after 2 s: .*gateway/);
    });

    test("node-settle rebalances: a release of the node's zone with no task here and two on another node gets one replica more, then its count back", (t) => {
        if (!needTools(t, "bash")) return;
        const n = fakeNode({
            node_exists: "", node_hostname: "gw-1", labels: "zone=dmz\ngateway=true\n", node_task_states: "gateway.abc123 Running",
            replicated_services: "shop-2-0\nshop-1-9\nstock-1-0\nsingle",
            "service_mode_shop-2-0": "2", "service_constraints_shop-2-0": "node.labels.zone==dmz", "service_nodes_shop-2-0": "gw-2\ngw-2",
            "service_mode_shop-1-9": "2", "service_constraints_shop-1-9": "node.labels.zone==dmz", "service_nodes_shop-1-9": "gw-2\ngw-1",
            "service_mode_stock-1-0": "2", "service_constraints_stock-1-0": "node.labels.zone==intra", "service_nodes_stock-1-0": "worker-1\nworker-1",
            service_mode_single: "1", service_constraints_single: "", service_nodes_single: "gw-2",
            service_replicas: "shop-2-0 2/2\nshop-1-9 2/2\nstock-1-0 2/2\nsingle 1/1\n",
        });
        const r = n.run("node-settle", { NODE_ID: "abc123", MEMBER_NAME: "gw-1" });
        assert.equal(r.stdout, "node-settle: ready\n", r.stderr);
        assert.deepEqual(n.get("scales").trim().split("\n"), ["shop-2-0=3", "shop-2-0=2"], "only shop-2-0: shop-1-9 has a task here, stock is another zone's, single has one replica");
        assert.match(r.stderr, /rebalanced shop-2-0/);
        const drainStep = fakeNode({ node_exists: "", node_hostname: "gw-1", labels: "zone=dmz\n", replicated_services: "shop-2-0", "service_mode_shop-2-0": "2", "service_constraints_shop-2-0": "node.labels.zone==dmz", "service_nodes_shop-2-0": "gw-2\ngw-2" });
        assert.equal(drainStep.run("node-settle", { NODE_ID: "abc123", MEMBER_NAME: "gw-1", WAIT_TASKS: "false" }).stdout, "node-settle: ready\n");
        assert.equal(drainStep.get("scales"), "", "the drain step never rebalances");
    });

    test("swarm-leave on the bootstrap manager stays while other nodes are members, leaves once it is alone", (t) => {
        if (!needTools(t, "bash")) return;
        const n = fakeNode({ state: "active", node_self: "true\nfalse\nfalse" });
        assert.equal(n.run("swarm-leave", { BOOTSTRAP: "true" }).stdout, "swarm-leave: stayed\n");
        assert.equal(n.get("state"), "active");
        n.set("node_self", "true");
        assert.equal(n.run("swarm-leave", { BOOTSTRAP: "true" }).stdout, "swarm-leave: left\n");
        assert.equal(fakeNode({ state: "active", node_self: "true\nfalse" }).run("swarm-leave", {}).stdout, "swarm-leave: left\n", "any other node leaves");
    });
});

describe("gateway-routes-apply", () => {
    const AGENT = fs.readFileSync(path.join(__dirname, "..", "..", "templates", "gateway", "gateway-agent.sh"), "utf8");
    function routesEnv(dir: string, routes: string, engine = "nginx") {
        const facts = engine === "nginx" ? { MAIN_CONFIG: "/etc/nginx/nginx.conf", RELOAD_SIGNAL: "HUP" } : { MAIN_CONFIG: "/usr/local/etc/haproxy/haproxy.cfg", RELOAD_SIGNAL: "USR2" };
        return {
            ROUTES_DIR: path.join(dir, "routes"),
            ROUTES_FILE: engine === "nginx" ? "routes.conf" : "routes.cfg",
            ROUTES: routes,
            ENGINE: engine,
            ...facts,
            SERVICE: "gateway",
            STATE_DIR: path.join(dir, "state"),
            SERVED: "",
            SERVED_FILE: "routes.served",
            PROBE_SECONDS: "1",
            GATEWAY_AGENT: AGENT,
            AGENT_FIFO: path.join(dir, "routes", "agent"),
        };
    }
    const file = (env: ReturnType<typeof routesEnv>) => path.join(env.ROUTES_DIR, env.ROUTES_FILE);

    test("without a running gateway: writes the file (and the state dir), then reports unchanged", (t) => {
        if (!needTools(t, "bash")) return;
        const n = fakeNode();
        const env = routesEnv(n.state, "server { a }\n");
        const r = n.run("gateway-routes-apply", env);
        assert.equal(r.status, 0, r.stderr);
        assert.equal(r.stdout, "routes: written\n");
        assert.equal(fs.readFileSync(file(env), "utf8"), "server { a }\n");
        assert.ok(fs.statSync(env.STATE_DIR).isDirectory());
        assert.equal(n.run("gateway-routes-apply", env).stdout, "routes: unchanged\n");
    });

    test("with a running gateway: validates inside it, then reloads it in place (HUP for nginx, USR2 for HAProxy)", (t) => {
        if (!needTools(t, "bash")) return;
        for (const [engine, signal, check] of [["nginx", "HUP", "nginx -t -q"], ["haproxy", "USR2", "haproxy -c -f /usr/local/etc/haproxy/haproxy.cfg -f "]] as const) {
            const n = fakeNode({ containers: "c0ffee" });
            const env = routesEnv(n.state, "v1\n", engine);
            const r = n.run("gateway-routes-apply", env);
            assert.equal(r.status, 0, r.stderr);
            assert.equal(r.stdout, "routes: reloaded\n");
            assert.ok(n.calls().some((c) => c.startsWith(check)), `${engine}: ${n.calls().join("; ")}`);
            assert.equal(n.get("kills"), `${signal} c0ffee\n`);
        }
    });

    test("routes the gateway rejects are rolled back to the previous file, with the validator's output, and not reloaded", (t) => {
        if (!needTools(t, "bash")) return;
        const n = fakeNode({ containers: "c0ffee" });
        assert.equal(n.run("gateway-routes-apply", routesEnv(n.state, "good\n")).stdout, "routes: reloaded\n");
        n.set("kills", "");
        n.set("validate_rc", "1");
        n.set("validate_out", 'nginx: [emerg] unexpected "}" in routes.conf:3');
        const env = routesEnv(n.state, "bad\n");
        const r = n.run("gateway-routes-apply", env);
        assert.equal(r.status, 1);
        assert.equal(r.stdout, "");
        assert.match(r.stderr, /\[emerg\] unexpected/);
        assert.match(r.stderr, /previous routes are restored/);
        assert.equal(fs.readFileSync(file(env), "utf8"), "good\n");
        assert.equal(n.get("kills"), "", "nothing reloaded");
    });

    test("a reload that failed after the file was written is retried by the next run, not reported unchanged", (t) => {
        if (!needTools(t, "bash")) return;
        const n = fakeNode({ containers: "c0ffee", kill_rc: "1" });
        const env = routesEnv(n.state, "v2\n");
        assert.notEqual(n.run("gateway-routes-apply", env).status, 0, "the reload failed");
        assert.equal(fs.readFileSync(file(env), "utf8"), "v2\n");
        n.set("kill_rc", "0");
        const again = n.run("gateway-routes-apply", env);
        assert.equal(again.stdout, "routes: reloaded\n", again.stderr);
        assert.equal(n.get("kills"), "HUP c0ffee\n");
        assert.equal(n.run("gateway-routes-apply", env).stdout, "routes: unchanged\n");
    });

    test("after the reload signal it waits for a new worker and for the old ones to retire; no new worker fails naming the container", (t) => {
        if (!needTools(t, "bash")) return;
        const n = fakeNode({ containers: "c0ffee", workers: "101 102" });
        const ok = n.run("gateway-routes-apply", { ...routesEnv(n.state, "v1\n"), RETIRE_WAIT_SECONDS: "3" });
        assert.equal(ok.stdout, "routes: reloaded\n", ok.stderr);
        assert.equal(n.get("workers"), "103", "the old workers retired, the new one serves");
        // The entrypoint's watcher subshell (a parent of its own name) is no worker: counted as one it never retires.
        assert.doesNotMatch(ok.stderr, /still finishing requests/);
        // One docker exec into the container for the whole step (its agent checks, signals and watches /proc there).
        assert.equal(n.calls().filter((c) => c.startsWith("exec -i c0ffee sh -c ")).length, 1, n.calls().join("; "));
        assert.ok(!n.calls().some((c) => /^(top|kill) /.test(c)), "no docker top, no docker kill");

        n.set("old_workers_linger", "1");
        const lingering = n.run("gateway-routes-apply", { ...routesEnv(n.state, "v2\n"), RETIRE_WAIT_SECONDS: "1" });
        assert.equal(lingering.stdout, "routes: reloaded\n", lingering.stderr);
        assert.match(lingering.stderr, /1 old worker\(s\) still finishing requests after 1s/);

        n.set("reload_starts_no_worker", "1");
        const stuck = n.run("gateway-routes-apply", { ...routesEnv(n.state, "v3\n"), RELOAD_WAIT_SECONDS: "1" });
        assert.equal(stuck.status, 1);
        assert.equal(stuck.stdout, "");
        assert.match(stuck.stderr, /nginx in c0ffee started no new worker within 1s of the reload signal/);
        const again = n.run("gateway-routes-apply", { ...routesEnv(n.state, "v3\n"), RELOAD_WAIT_SECONDS: "1" });
        assert.notEqual(again.stdout, "routes: unchanged\n", "a reload that never took effect is not recorded as applied");
    });

    test("a first write the gateway rejects leaves no routes file behind", (t) => {
        if (!needTools(t, "bash")) return;
        const n = fakeNode({ containers: "c0ffee", validate_rc: "1", validate_out: "[emerg] bad" });
        const env = routesEnv(n.state, "bad\n");
        assert.equal(n.run("gateway-routes-apply", env).status, 1);
        assert.ok(!fs.existsSync(file(env)));
    });

    const SERVED_A = "a.example shop-1-0 8000 /healthz shop/1.0\n";
    const SERVED_AB = `${SERVED_A}b.example shop-2-0 8000 /ready shop/2.0\n`;
    const probes = (n: FakeNode) => n.get("probes").split("\n").filter(Boolean);

    test("a release gaining a hostname is probed through the running gateway first; once served it is not probed again", (t) => {
        if (!needTools(t, "bash")) return;
        const n = fakeNode({ containers: "c0ffee" });
        const first = n.run("gateway-routes-apply", { ...routesEnv(n.state, "v1\n"), SERVED: SERVED_A });
        assert.equal(first.stdout, "routes: reloaded\n", first.stderr);
        assert.deepEqual(probes(n), ["http://shop-1-0:8000/healthz Host: a.example"]);
        const env = { ...routesEnv(n.state, "v2\n"), SERVED: SERVED_AB };
        assert.equal(fs.readFileSync(path.join(env.ROUTES_DIR, "routes.served"), "utf8"), SERVED_A, "the sidecar records what the node serves");
        n.set("probes", "");
        assert.equal(n.run("gateway-routes-apply", env).stdout, "routes: reloaded\n");
        assert.deepEqual(probes(n), ["http://shop-2-0:8000/ready Host: b.example"], "only the release gaining a hostname");
        assert.equal(fs.readFileSync(path.join(env.ROUTES_DIR, "routes.served"), "utf8"), SERVED_AB);
    });

    test("a hostname moved to another release probes that release; a failing probe leaves routes and sidecar untouched and names the release", (t) => {
        if (!needTools(t, "bash")) return;
        const n = fakeNode({ containers: "c0ffee" });
        const before = { ...routesEnv(n.state, "v1\n"), SERVED: SERVED_AB };
        assert.equal(n.run("gateway-routes-apply", before).status, 0);
        n.set("kills", "");
        n.set("probes", "");
        n.set("probe_out", "curl: (6) Could not resolve host: shop-2-1");
        n.set("probe_rc", "6");
        const moved = { ...routesEnv(n.state, "v2\n"), SERVED: "a.example shop-2-1 8000 /healthz shop/2.1\nb.example shop-2-0 8000 /ready shop/2.0\n" };
        const r = n.run("gateway-routes-apply", moved);
        assert.equal(r.status, 1);
        assert.equal(r.stdout, "");
        assert.match(r.stderr, /release shop\/2\.1 \(service shop-2-1\) does not answer http:\/\/shop-2-1:8000\/healthz from the gateway in container c0ffee: curl: \(6\) Could not resolve host: shop-2-1; it was to gain a\.example\. The routes are unchanged/);
        assert.ok(probes(n).length >= 1 && probes(n).every((p) => p === "http://shop-2-1:8000/healthz Host: a.example"), probes(n).join("; "));
        assert.equal(fs.readFileSync(file(moved), "utf8"), "v1\n", "routes untouched");
        assert.equal(fs.readFileSync(path.join(moved.ROUTES_DIR, "routes.served"), "utf8"), SERVED_AB, "sidecar untouched");
        assert.equal(n.get("kills"), "", "nothing reloaded");
        // an answer other than 2xx/3xx fails too
        n.set("probe_out", "503");
        n.set("probe_rc", "0");
        assert.match(n.run("gateway-routes-apply", moved).stderr, /container c0ffee: 503; it was to gain a\.example/);
        n.set("probe_out", "204");
        assert.equal(n.run("gateway-routes-apply", moved).stdout, "routes: reloaded\n");
    });

    test("a gateway container that stopped since docker ps is skipped, not a failed probe", (t) => {
        if (!needTools(t, "bash")) return;
        const n = fakeNode({ containers: "c0ffee", probe_out: "Error response from daemon: Container c0ffee is not running", probe_rc: "1", container_running: "false" });
        const r = n.run("gateway-routes-apply", { ...routesEnv(n.state, "v1\n"), SERVED: SERVED_A });
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stderr, /gateway container c0ffee stopped while probing release shop\/1\.0: skipped/);
        assert.deepEqual(probes(n), [], "its session never started, so nothing probed through it, and nothing retried");
        // still running: the failed probe fails the step as before
        n.set("container_running", "true");
        const moved = { ...routesEnv(n.state, "v2\n"), SERVED: SERVED_AB };
        assert.equal(n.run("gateway-routes-apply", moved).status, 1);
    });

    test("the agent's FIFO pair is made (and remade) root's only in the routes dir; a link in its place is replaced, its target untouched", (t) => {
        if (!needTools(t, "bash", "mkfifo")) return;
        const n = fakeNode();
        const env = routesEnv(n.state, "v1\n");
        fs.mkdirSync(env.ROUTES_DIR, { recursive: true });
        const target = path.join(n.state, "not-a-fifo");
        fs.writeFileSync(target, "precious\n");
        fs.symlinkSync(target, `${env.AGENT_FIFO}.out`);
        assert.equal(n.run("gateway-routes-apply", env).stdout, "routes: written\n");
        for (const end of ["in", "out"]) {
            const st = fs.lstatSync(`${env.AGENT_FIFO}.${end}`);
            assert.ok(st.isFIFO(), `${end} is a FIFO`);
            assert.equal(st.mode & 0o777, 0o600, `${end} is root's only`);
        }
        assert.equal(fs.readFileSync(target, "utf8"), "precious\n");
        assert.equal(n.run("gateway-routes-apply", { ...env, AGENT_FIFO: "/elsewhere/agent" }).status, 1, "a pair outside the routes dir is refused");
    });

    test("nothing is written through a link in the state dir (writable in the gateway container): the applied stamp is in the routes dir", (t) => {
        if (!needTools(t, "bash")) return;
        const n = fakeNode({ containers: "c0ffee" });
        const env = routesEnv(n.state, "v1\n");
        fs.mkdirSync(env.STATE_DIR, { recursive: true });
        const target = path.join(n.state, "precious");
        fs.writeFileSync(target, "precious\n");
        // what a compromised gateway could leave where older steps kept their stamp
        fs.symlinkSync(target, path.join(env.STATE_DIR, "routes.applied"));
        assert.equal(n.run("gateway-routes-apply", env).stdout, "routes: reloaded\n");
        assert.equal(fs.readFileSync(target, "utf8"), "precious\n", "the link's target is untouched");
        assert.ok(!fs.existsSync(path.join(env.STATE_DIR, "routes.applied")), "the old stamp's place is cleared");
        assert.equal(n.run("gateway-routes-apply", env).stdout, "routes: unchanged\n", "the stamp in the routes dir counts");
    });

    test("a gateway that serves its agent is asked on the FIFO pair, without a docker exec; one that does not answer there gets one", (t) => {
        if (!needTools(t, "bash", "mkfifo")) return;
        const n = fakeNode({ containers: "c0ffee", workers: "101 102" });
        const env = { ...routesEnv(n.state, "v1\n"), SERVED: SERVED_A };
        assert.equal(n.run("gateway-routes-apply", env).stdout, "routes: reloaded\n", "the first step makes the pair");
        const execs = () => n.calls().filter((c) => c.startsWith("exec -i c0ffee sh -c ")).length;
        assert.equal(execs(), 1);
        // The image's entrypoint: the agent served on the pair, session after session, and the hint in the state dir.
        const server = spawn("bash", ["-c", 'for ((i = 0; i < 100; i++)); do docker __agent c0ffee "$AGENT" nginx HUP /etc/nginx/nginx.conf "$ROUTES" <"$FIFO.in" >"$FIFO.out" || sleep 0.1; done'], {
            stdio: "ignore",
            detached: true,
            env: { ...process.env, PATH: `${n.bin}:${process.env.PATH}`, FAKE_DOCKER_STATE: n.state, AGENT, FIFO: env.AGENT_FIFO, ROUTES: file(env) },
        });
        try {
            fs.writeFileSync(path.join(env.STATE_DIR, "agent.c0ffee"), "");
            n.set("probes", "");
            n.set("kills", "");
            const served = n.run("gateway-routes-apply", { ...env, ROUTES: "v2\n", SERVED: SERVED_AB });
            assert.equal(served.stdout, "routes: reloaded\n", served.stderr);
            assert.equal(execs(), 1, `no docker exec: ${n.calls().join("; ")}`);
            assert.deepEqual(probes(n), ["http://shop-2-0:8000/ready Host: b.example"], "the probe went through the served agent");
            assert.ok(n.calls().some((c) => c.startsWith("nginx -t")), "so did the check");
            assert.equal(n.get("kills"), "HUP c0ffee\n", "and the reload");
            assert.equal(n.get("workers"), "104", "a new worker serves, the old ones retired");
            // again: each step is a session of its own on the same pair
            assert.equal(n.run("gateway-routes-apply", { ...env, ROUTES: "v3\n", SERVED: SERVED_AB }).stdout, "routes: reloaded\n");
            assert.equal(execs(), 1);
        } finally {
            process.kill(-(server.pid as number), "SIGKILL");
        }
        // The hint without a server behind the pair (an agent that died): after 2 s without an answer, a docker exec.
        const fallback = n.run("gateway-routes-apply", { ...env, ROUTES: "v4\n", SERVED: SERVED_AB });
        assert.equal(fallback.stdout, "routes: reloaded\n", fallback.stderr);
        assert.match(fallback.stderr, /gateway container c0ffee did not answer on its agent's FIFOs \(no answer\): docker exec instead/);
        assert.equal(execs(), 2);
    });

    test("without a running gateway nothing is probed (no live traffic to protect)", (t) => {
        if (!needTools(t, "bash")) return;
        const n = fakeNode({ probe_out: "502" });
        const r = n.run("gateway-routes-apply", { ...routesEnv(n.state, "v1\n"), SERVED: SERVED_AB });
        assert.equal(r.stdout, "routes: written\n", r.stderr);
        assert.deepEqual(probes(n), []);
    });
});

describe("release-converge", () => {
    const HASH = "0123456789abcdef";
    const env = (over: Record<string, string> = {}) => ({
        SERVICE: "shop-2-0",
        SERVICE_ID: "svc2id",
        SUBJECT: "release shop 2.0",
        SPEC_LABEL: "swarm-platform.spec",
        SPEC_HASH: HASH,
        TIMEOUT: "30",
        ...over,
    });
    const CREATED = "2026-01-01 10:00:00 +0000 UTC";
    const UPDATED = "2026-01-01 10:05:00 +0000 UTC";
    const step = (state: string, hash: string, mode: string, tasks: string[], updated = UPDATED) => `${state}|${hash}|${mode}|${CREATED}|${updated}|${tasks.join(",")}`;
    const gate = (steps: string[], files: Record<string, string> = {}, over: Record<string, string> = {}) => {
        const n = fakeNode({ steps: `${steps.join("\n")}\n`, ...files });
        return { n, r: n.run("release-converge", env(over)) };
    };

    test("waits while the update runs, converges when swarm reports it completed with every task running", (t) => {
        if (!needTools(t, "bash")) return;
        const { n, r } = gate([step("updating", HASH, "2", ["Running", "Starting"]), step("completed", HASH, "2", ["Running", "Running"])]);
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stdout, /^converged: shop-2-0 2\/2 tasks after \d+s\n$/);
        assert.equal(n.get("step"), "2");
        assert.ok(n.calls().every((c) => !c.startsWith("service") || c.endsWith("svc2id")), "every call names the service by id");
    });

    test("a new service converges once its tasks run (healthy); a global one counts one task per eligible node", (t) => {
        if (!needTools(t, "bash")) return;
        const fresh = gate([step("", HASH, "2", ["Starting", "Starting"], CREATED), step("", HASH, "2", ["Running", "Running"], CREATED)]);
        assert.equal(fresh.r.status, 0, fresh.r.stderr);
        assert.equal(fresh.n.get("step"), "2");
        const global = gate([step("completed", HASH, "global", ["Running", "Running", "Running"])]);
        assert.match(global.r.stdout, /converged: shop-2-0 3\/3 tasks/);
        const short = gate([step("completed", HASH, "3", ["Running", "Running"])], {}, { TIMEOUT: "1" });
        assert.equal(short.r.status, 1, "2 of 3 replicas is not converged");
    });

    test("an updated spec without an update status must hold a few seconds (swarm starts its updater just after the change)", (t) => {
        if (!needTools(t, "bash")) return;
        const { n, r } = gate([step("", HASH, "2", ["Running", "Running"]), step("", HASH, "2", ["Running", "Running"]), step("", HASH, "2", ["Running", "Running"])]);
        assert.equal(r.status, 0, r.stderr);
        assert.ok(Number(n.get("step")) >= 2, `read ${n.get("step")} times`);
    });

    test("a rolled-back update fails at once, naming the service, swarm's message, the task error and its last log lines, summary last", (t) => {
        if (!needTools(t, "bash")) return;
        const failing = "rcg9oumfq0xpbzpnkrv8frdys";
        const { n, r } = gate([step("updating", HASH, "2", ["Running", "Running"]), step("rollback_started", "fedcba9876543210", "2", ["Running", "Running"])], {
            update_message: `update rolled back due to failure or early termination of task ${failing}`,
            tasks_report: [
                `y9wb1qbrgjl2cuqkrb0equgec shop-2-0.1 on gw-1: Running 2 minutes ago (desired Running)`,
                `zfxptfjfv3c4s5u99loa50yzk shop-2-0.1 on gw-1: Shutdown 2 minutes ago (desired Shutdown)`,
                `${failing} shop-2-0.2 on gw-2: Failed 5 seconds ago (desired Shutdown) error: "task: non-zero exit (3)"`,
            ].join("\n"),
            task_logs: "demo-app: EXIT_AT_START=3: exiting at once\n",
        });
        assert.equal(r.status, 1);
        assert.ok(n.calls().includes(`service logs --raw --tail 5 ${failing}`), n.calls().join("; "));
        assert.doesNotMatch(r.stderr, /zfxptfjfv3c4s5u99loa50yzk|Shutdown 2 minutes/, "a normal replacement is not shown");
        const tail = r.stderr.trim().split("\n").slice(-3);
        assert.deepEqual(tail, [
            "release-converge: ERROR: release shop 2.0 (service shop-2-0): swarm rolled the update back: the new spec did not converge; the previous spec runs",
            `release-converge: swarm says: rollback_started: update rolled back due to failure or early termination of task ${failing}`,
            'release-converge: newest task error: shop-2-0.2 on gw-2: Failed 5 seconds ago (desired Shutdown) error: "task: non-zero exit (3)"',
        ]);
        assert.match(r.stderr, /EXIT_AT_START=3: exiting at once/);
    });

    test("after a rollback the next run fails again (the swarm still runs the previous spec); a rollback onto this spec converges", (t) => {
        if (!needTools(t, "bash")) return;
        const again = gate([step("rollback_completed", "fedcba9876543210", "2", ["Running", "Running"])], { update_message: "rollback completed" });
        assert.equal(again.r.status, 1);
        assert.match(again.r.stderr, /swarm rolled the update back/);
        const onto = gate([step("rollback_completed", HASH, "2", ["Running", "Running"])]);
        assert.equal(onto.r.status, 0, onto.r.stderr);
    });

    test("a paused update fails at once; another spec without a rollback fails and says so", (t) => {
        if (!needTools(t, "bash")) return;
        const paused = gate([step("paused", HASH, "2", ["Running", "Starting"])], { update_message: "update paused due to failure or early termination of task x" });
        assert.equal(paused.r.status, 1);
        assert.match(paused.r.stderr, /release shop 2\.0 \(service shop-2-0\): swarm paused the update/);
        const other = gate([step("", "fedcba9876543210", "2", ["Running", "Running"])]);
        assert.equal(other.r.status, 1);
        assert.match(other.r.stderr, /the swarm runs another spec \(swarm-platform\.spec=fedcba9876543210, this run applied 0123456789abcdef\)/);
    });

    test("tasks that never become healthy fail at the timeout with the counts and the tasks", (t) => {
        if (!needTools(t, "bash")) return;
        const { r } = gate([step("", HASH, "2", ["Starting", "Starting"], CREATED)], {
            tasks_report: "k1 shop-2-1.1 on gw-1: Starting 3 seconds ago (desired Running)\nk2 shop-2-1.1 on gw-1: Complete 9 seconds ago (desired Shutdown)",
        }, { TIMEOUT: "1" });
        assert.equal(r.status, 1);
        assert.match(r.stderr, /shop-2-1\.1 on gw-1: Starting 3 seconds ago \(desired Running\)/);
        assert.match(r.stderr.trim().split("\n").pop() ?? "", /ERROR: release shop 2\.0 \(service shop-2-0\): did not converge within 1s: 0\/2 tasks running and healthy/);
    });
});

describe("every node script (they run under pipefail)", () => {
    // A reader that stops at its first match (grep -q) can end the writer with SIGPIPE, and under pipefail the
    // match then reads as a failure: keepalived-apply missed a keepalived holding its variables 22 times in 40.
    test("no pipe ends in a reader that stops early (grep -q): it reads to the end and its output goes to /dev/null", () => {
        const offenders = NODE_SCRIPTS.flatMap((name) =>
            renderNodeScript(name, { node: "n" })
                .split("\n")
                .filter((line) => !/^\s*#/.test(line) && /\|\s*grep\s+(-[a-zA-Z]*q|--quiet)/.test(line))
                .map((line) => `${name}: ${line.trim()}`),
        );
        assert.deepEqual(offenders, []);
    });
});
