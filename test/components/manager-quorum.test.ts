// The manager quorum read (components/manager-quorum.ts) run for real against a stand-in `ssh` on PATH (the prod stack:
// three managers over ssh): the bootstrap manager is asked first; without a leader there (or without its answer within
// 2 s), the other managers are asked at once, so managers that do not answer cost one wait together, not one each.
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, afterEach, beforeEach, describe, test } from "node:test";
import { LIVE_MANAGERS_ENV, readLiveSwarm } from "../../components/manager-quorum";
import { needTools, removeDir, stackPlan, tempDir, writeFile } from "../render/helpers";

const plan = stackPlan("prod");
const managers = plan.nodes.filter((n) => n.role === "manager");

// The stand-in: finds the host after `--`, logs `start|end <node> <epoch ms>`, then answers as $WORK/answers/<node> says:
// `report <json>` (the read's last line, exit 0), `slow <seconds> <json>` (the same after a wait: `docker node ls` on a
// manager without quorum hangs until swarm's deadline) or `down` (waits $WORK/down-seconds, then fails as ssh does).
const FAKE_SSH = String.raw`#!/usr/bin/env bash
while [[ $# -gt 0 && $1 != -- ]]; do shift; done
host=$2
node=$(cat "$WORK/hosts/$host")
cat >/dev/null
echo "start $node $(date +%s%3N)" >>"$WORK/log"
read -r kind rest <"$WORK/answers/$node"
if [[ $kind == slow ]]; then
    read -r seconds rest <<<"$rest"
    sleep "$seconds"
    kind=report
fi
if [[ $kind == report ]]; then
    echo "$rest"
    echo "end $node $(date +%s%3N)" >>"$WORK/log"
    exit 0
fi
sleep "$(cat "$WORK/down-seconds")"
echo "end $node $(date +%s%3N)" >>"$WORK/log"
echo "ssh: connect to host $host port 22: Connection timed out" >&2
exit 255
`;

describe("the manager quorum read", () => {
    let work = "";
    const dirs: string[] = [];
    let savedPath: string | undefined;
    const log = () => fs.readFileSync(path.join(work, "log"), "utf8").trim().split("\n").map((l) => l.split(" "));
    const answer = (node: string, text: string) => writeFile(path.join(work, "answers", node), `${text}\n`);
    const noLeader = JSON.stringify({ engine: "up", state: "active", controlAvailable: true, leader: false, remoteManagers: managers.slice(1).map((m) => `${m.address}:2377`) });

    beforeEach(() => {
        work = tempDir("manager-quorum");
        dirs.push(work);
        writeFile(path.join(work, "bin", "ssh"), FAKE_SSH, 0o755);
        writeFile(path.join(work, "down-seconds"), "1.5\n");
        for (const m of managers) writeFile(path.join(work, "hosts", m.ssh?.host ?? "none"), `${m.name}\n`);
        savedPath = process.env.PATH;
        process.env.PATH = `${path.join(work, "bin")}:${savedPath}`;
        process.env.WORK = work;
        delete process.env[LIVE_MANAGERS_ENV];
    });
    afterEach(() => {
        process.env.PATH = savedPath;
        delete process.env.WORK;
    });
    after(() => dirs.forEach(removeDir));

    test("quorum lost: the bootstrap manager answers without a leader, the two others are asked at once and both named", (t) => {
        if (!needTools(t, "bash", "timeout", "seq")) return;
        assert.equal(managers.length, 3);
        const [first, second, third] = managers;
        assert.equal(first.name, plan.swarm.bootstrap.firstManager);
        answer(first.name, `report ${noLeader}`);
        answer(second.name, "down");
        answer(third.name, "down");
        const live = readLiveSwarm(plan, "prod");
        assert.deepEqual(live, {
            kind: "no-leader",
            managers: managers.map((m) => ({ name: m.name, reachable: m.name === first.name })),
        });
        const lines = log();
        const at = (what: string, node: string) => Number(lines.find(([w, n]) => w === what && n === node)?.[2]);
        assert.ok(at("end", first.name) <= at("start", second.name) && at("end", first.name) <= at("start", third.name), "the bootstrap manager first");
        // asked at once: each of the two started before the other one's answer ended
        assert.ok(at("start", second.name) < at("end", third.name) && at("start", third.name) < at("end", second.name), lines.join("\n"));
    });

    test("without coreutils' timeout on the machine, the other managers are asked one after the other, with the same answers", (t) => {
        if (!needTools(t, "bash", "timeout", "seq")) return;
        // A PATH with the stand-in ssh and only what it and the read need: no timeout.
        const bin = path.join(work, "min-bin");
        fs.mkdirSync(bin);
        for (const tool of ["bash", "cat", "date", "sleep"]) fs.symlinkSync(execFileSync("bash", ["-c", `command -v ${tool}`], { encoding: "utf8" }).trim(), path.join(bin, tool));
        process.env.PATH = `${path.join(work, "bin")}:${bin}`;
        const [first, second, third] = managers;
        answer(first.name, `report ${noLeader}`);
        answer(second.name, "down");
        answer(third.name, "down");
        assert.deepEqual(readLiveSwarm(plan, "prod"), { kind: "no-leader", managers: managers.map((m) => ({ name: m.name, reachable: m === first })) });
        assert.deepEqual(log().map(([w, n]) => `${w} ${n}`), [`start ${first.name}`, `end ${first.name}`, `start ${second.name}`, `end ${second.name}`, `start ${third.name}`, `end ${third.name}`]);
    });

    test("a bootstrap manager with a leader is the only one asked; its list of the swarm's networks comes with the managers", (t) => {
        if (!needTools(t, "bash", "timeout", "seq")) return;
        const [first, ...others] = managers;
        const listed = managers.map((m, i) => ({ hostname: m.name, addr: `${m.address}:2377`, reachability: "reachable", leader: i === 0 }));
        const networks = [{ name: "zone-web", driver: "overlay", ingress: false, ipamDriver: "default", ipam: [{ Subnet: "10.229.1.0/24", Gateway: "10.229.1.1" }] }];
        answer(first.name, `report ${JSON.stringify({ engine: "up", state: "active", controlAvailable: true, leader: true, managers: listed, networks })}`);
        for (const m of others) answer(m.name, "down");
        const live = readLiveSwarm(plan, "prod");
        assert.deepEqual(live, {
            kind: "managers",
            managers: managers.map((m) => ({ name: m.name, reachable: true })),
            networks: [{ name: "zone-web", driver: "overlay", ingress: false, ipamDriver: "default", ipam: [{ subnet: "10.229.1.0/24", gateway: "10.229.1.1" }] }],
        });
        assert.deepEqual(log().map(([w, n]) => `${w} ${n}`), [`start ${first.name}`, `end ${first.name}`]);
    });

    test("quorum lost and the bootstrap manager's read hangs (swarm's deadline): the others are asked after 2 s, while it still waits", (t) => {
        if (!needTools(t, "bash", "timeout", "seq")) return;
        const [first, second, third] = managers;
        answer(first.name, `slow 4 ${noLeader}`);
        answer(second.name, "down");
        answer(third.name, "down");
        const live = readLiveSwarm(plan, "prod");
        assert.deepEqual(live, { kind: "no-leader", managers: managers.map((m) => ({ name: m.name, reachable: m === first })) });
        const lines = log();
        const at = (what: string, node: string) => Number(lines.find(([w, n]) => w === what && n === node)?.[2]);
        for (const other of [second, third]) {
            assert.ok(at("start", other.name) - at("start", first.name) >= 1_900, `the bootstrap manager alone for 2 s: ${lines.join("\n")}`);
            assert.ok(at("start", other.name) < at("end", first.name), `${other.name} asked while the bootstrap manager's read still waited: ${lines.join("\n")}`);
        }
    });

    test("a bootstrap manager that names a leader after the others were asked decides, and their reads are ended", (t) => {
        if (!needTools(t, "bash", "timeout", "seq")) return;
        const [first, ...others] = managers;
        const listed = managers.map((m, i) => ({ hostname: m.name, addr: `${m.address}:2377`, reachability: "reachable", leader: i === 0 }));
        answer(first.name, `slow 3 ${JSON.stringify({ engine: "up", state: "active", controlAvailable: true, leader: true, managers: listed })}`);
        for (const m of others) answer(m.name, "down");
        writeFile(path.join(work, "down-seconds"), "8\n");
        const started = Date.now();
        const live = readLiveSwarm(plan, "prod");
        const seconds = (Date.now() - started) / 1000;
        assert.deepEqual(live, { kind: "managers", managers: managers.map((m) => ({ name: m.name, reachable: true })) });
        assert.deepEqual(new Set(log().filter(([w]) => w === "start").map(([, n]) => n)), new Set(managers.map((m) => m.name)), "the others were asked");
        assert.ok(seconds < 7, `the read ended ${seconds} s after its start: the others' 8 s reads were not waited for`);
    });

    test("a bootstrap manager that does not answer: the others are asked at once, and one with a leader decides", (t) => {
        if (!needTools(t, "bash", "timeout", "seq")) return;
        const [first, second, third] = managers;
        answer(first.name, "down");
        const listed = managers.map((m) => ({ hostname: m.name, addr: `${m.address}:2377`, reachability: m === first ? "unreachable" : "reachable", leader: m === second }));
        answer(second.name, `report ${JSON.stringify({ engine: "up", state: "active", controlAvailable: true, leader: true, managers: listed })}`);
        answer(third.name, `report ${noLeader}`);
        const live = readLiveSwarm(plan, "prod");
        assert.deepEqual(live, { kind: "managers", managers: managers.map((m) => ({ name: m.name, reachable: m !== first })) });
        assert.deepEqual(new Set(log().filter(([w]) => w === "start").map(([, n]) => n)), new Set(managers.map((m) => m.name)));
    });
});
