// The manager quorum check, run by the program on every `up` and `preview` BEFORE any resource is declared: a READ
// of the live swarm's managers through the driver's own path, then the pure rule (model/swarm.ts
// checkManagerQuorum). Not a resource: a resource would only run on `up` and show a diff; an invoke's answer
// arrives as a promise, after the program has already declared resources. A synchronous read of a few hundred
// milliseconds here stops the program before the engine has seen a single resource, in preview and up alike.
import * as pulumi from "@pulumi/pulumi";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { LiveNetwork, Plan, PlanNode } from "../model";
import { renderNodeScript } from "../model/scripts";
import { checkManagerQuorum, type LiveManager, type LiveSwarm, liveSwarmOf, type ManagerAnswer, type SwarmManagersReport } from "../model/swarm";

/**
 * Set to a JSON list of {name, reachable} (`[]`: no swarm), the read is not made and that list is the live swarm:
 * for runs that must not touch any machine (the mock tests, `npm run diff`).
 */
export const LIVE_MANAGERS_ENV = "SWARM_PLATFORM_LIVE_MANAGERS";
/** With LIVE_MANAGERS_ENV naming managers: a JSON list of the swarm's networks (model's LiveNetwork); unset, none known. */
export const LIVE_NETWORKS_ENV = "SWARM_PLATFORM_LIVE_NETWORKS";

/** How long one manager may take to answer (connect included). */
const READ_TIMEOUT_MS = 30_000;
/** A swarm answering without a leader while a majority answers: an election; read again this many times. */
const ELECTION_RETRIES = 3;

/** The argv that runs `bash -s` on a node through the driver's path: `docker exec` into its container, or ssh. */
function shellOn(plan: Plan, node: PlanNode, namePrefix: string): string[] {
    const driver = plan.driver;
    if (driver.name === "docker") return ["docker", "-H", driver.localEngine, "exec", "-i", `${namePrefix}-${node.name}`, "bash", "-s"];
    const ssh = node.ssh;
    if (!ssh) throw new Error(`node ${node.name}: driver ssh needs an ssh host`);
    // The docker provider's path: the pinned host key, drivers.ssh.sshOpts, the agent's key. ConnectTimeout comes
    // after the stack's options: ssh keeps the first value, so a stack's own ConnectTimeout wins.
    return ["ssh", ...ssh.clientOptions, "-o", "ConnectTimeout=10", "-p", String(ssh.port), "-l", ssh.user, "--", ssh.host, driver.ssh.sudo ? "sudo -n bash -s" : "bash -s"];
}

/** What one run of the read on a node gave: its stdout when it exited 0, else why not. */
type ReadRun = { ok: true; stdout: string } | { ok: false; stderr: string; failure: string };

function answerOf(plan: Plan, node: PlanNode, run: ReadRun): ManagerAnswer {
    if (run.ok) {
        try {
            const line = run.stdout.trim().split("\n").pop() ?? "";
            return { node: node.name, reached: true, report: JSON.parse(line) as SwarmManagersReport };
        } catch (e) {
            return { node: node.name, reached: false, reason: String((e as Error).message).slice(0, 200) };
        }
    }
    const stderr = run.stderr.trim();
    // the docker driver before its first up: the node's container does not exist, so neither does a swarm
    if (plan.driver.name === "docker" && /No such container/i.test(stderr)) return { node: node.name, reached: true, report: { engine: "absent" } };
    return { node: node.name, reached: false, reason: (stderr.split("\n").pop() || run.failure).slice(0, 200) };
}

function ask(plan: Plan, node: PlanNode, namePrefix: string): ManagerAnswer {
    const [cmd, ...args] = shellOn(plan, node, namePrefix);
    try {
        const stdout = execFileSync(cmd, args, { input: renderNodeScript("swarm-managers", { node: node.name }), timeout: READ_TIMEOUT_MS, stdio: ["pipe", "pipe", "pipe"], encoding: "utf8" });
        return answerOf(plan, node, { ok: true, stdout });
    } catch (e) {
        const err = e as { stderr?: string; message?: string; code?: string };
        return answerOf(plan, node, { ok: false, stderr: String(err.stderr ?? ""), failure: err.code || err.message || "no answer" });
    }
}

/** askManagers' bash exits so when `timeout` is missing. */
const NO_TIMEOUT_EXIT = 90;
/**
 * Seconds the bootstrap manager is asked alone. With a leader it answers well within this (one session per read);
 * without one its `docker node ls` can hang until swarm's own deadline (moby#29367), so the others are asked
 * meanwhile instead of after it.
 */
const BOOTSTRAP_ALONE_SECONDS = 2;

const quoted = (word: string) => `'${word.replace(/'/g, `'\\''`)}'`;

/**
 * The read on the planned managers, still synchronous (the program has declared nothing yet): one bash asks the
 * bootstrap manager (`nodes[0]`); when it has not answered with a leader within BOOTSTRAP_ALONE_SECONDS, every other
 * manager is asked at once while it still may, each read bounded by the read's timeout. Managers that do not answer
 * cost one timeout together, not one each. Returns the answers of the managers asked (the bootstrap manager's first).
 */
function askManagers(plan: Plan, nodes: readonly PlanNode[], namePrefix: string): ManagerAnswer[] {
    const [first, ...others] = nodes;
    const serial = () => {
        const answer = ask(plan, first, namePrefix);
        return answer.reached && answer.report.leader ? [answer] : [answer, ...others.map((node) => ask(plan, node, namePrefix))];
    };
    if (others.length === 0) return [ask(plan, first, namePrefix)];
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "swarm-platform-quorum-"));
    try {
        nodes.forEach((node, i) => {
            fs.writeFileSync(path.join(dir, `cmd.${i}`), `exec ${shellOn(plan, node, namePrefix).map(quoted).join(" ")}\n`, { mode: 0o600 });
            fs.writeFileSync(path.join(dir, `in.${i}`), renderNodeScript("swarm-managers", { node: node.name }), { mode: 0o600 });
        });
        const seconds = READ_TIMEOUT_MS / 1000;
        // Without coreutils' timeout (a Mac without coreutils) the reads run one after the other, as before. Each read
        // writes pid.<i> when it starts and rc.<i> whole (mv) when it ends. The leader test matches the read's own JSON
        // (swarm-managers.sh). A bootstrap manager that names a leader after the others were asked ends their reads.
        const driver = `command -v timeout >/dev/null || exit ${NO_TIMEOUT_EXIT}
read_on() {
    timeout -k 1 ${seconds} bash "$1/cmd.$2" <"$1/in.$2" >"$1/out.$2" 2>"$1/err.$2" &
    echo $! >"$1/pid.$2"
    wait $! && rc=0 || rc=$?
    echo "$rc" >"$1/rc.$2.new"
    mv "$1/rc.$2.new" "$1/rc.$2"
}
has_leader() { [[ $(<"$1/rc.0") == 0 ]] && grep -q '"leader":true' "$1/out.0"; }
read_on "$1" 0 &
for ((t = 0; t < ${BOOTSTRAP_ALONE_SECONDS * 20}; t++)); do
    [[ -e $1/rc.0 ]] && break
    sleep 0.05
done
if [[ -e $1/rc.0 ]] && has_leader "$1"; then exit 0; fi
for ((i = 1; i < $2; i++)); do read_on "$1" "$i" & done
until [[ -e $1/rc.0 ]]; do sleep 0.05; done
if has_leader "$1"; then
    for ((i = 1; i < $2; i++)); do
        until [[ -e $1/pid.$i ]]; do sleep 0.05; done
        [[ -e $1/rc.$i ]] || kill "$(<"$1/pid.$i")" 2>/dev/null || true
    done
fi
wait`;
        try {
            execFileSync("bash", ["-c", driver, "askManagers", dir, String(nodes.length)], { stdio: ["ignore", "ignore", "pipe"], timeout: READ_TIMEOUT_MS + 5_000 });
        } catch (e) {
            if ((e as { status?: number }).status === NO_TIMEOUT_EXIT) return serial();
            throw e;
        }
        return nodes.flatMap((node, i) => {
            const read = (f: string) => (fs.existsSync(path.join(dir, `${f}.${i}`)) ? fs.readFileSync(path.join(dir, `${f}.${i}`), "utf8") : "");
            const rc = read("rc").trim();
            if (i > 0 && rc === "") return []; // not asked: the bootstrap manager answered with a leader
            if (rc === "0") return [answerOf(plan, node, { ok: true, stdout: read("out") })];
            return [answerOf(plan, node, { ok: false, stderr: read("err"), failure: rc === "124" ? `no answer within ${seconds} s` : `exit ${rc || "?"}` })];
        });
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

/** The planned managers, the bootstrap manager first. */
function managersToAsk(plan: Plan): PlanNode[] {
    const order = [plan.swarm.bootstrap.firstManager, ...plan.swarm.bootstrap.managers];
    return order.map((name) => plan.nodes.find((n) => n.name === name)).filter((n): n is PlanNode => n !== undefined);
}

/** Reads the live swarm: the bootstrap manager; when it lists no managers, every other planned manager at once. */
export function readLiveSwarm(plan: Plan, namePrefix: string): LiveSwarm {
    const fixed = process.env[LIVE_MANAGERS_ENV];
    if (fixed !== undefined) {
        const managers = JSON.parse(fixed) as LiveManager[];
        const networks = process.env[LIVE_NETWORKS_ENV];
        return managers.length ? { kind: "managers", managers, ...(networks ? { networks: JSON.parse(networks) as LiveNetwork[] } : {}) } : { kind: "none" };
    }
    // The bootstrap manager first: it usually has a leader and names every manager. Otherwise the others, at once.
    const nodes = managersToAsk(plan);
    if (nodes.length === 0) return liveSwarmOf([], plan.nodes);
    const answers = askManagers(plan, nodes, namePrefix);
    const [answer] = answers;
    if (answer.reached && answer.report.leader) return liveSwarmOf([answer], plan.nodes);
    return liveSwarmOf(answers, plan.nodes);
}

/** What the read before `up` found, for the components. */
export interface SwarmRead {
    /** false: no planned manager has a swarm (a first `up`). */
    readonly swarmExists: boolean;
    /** The swarm's networks as its leader's manager lists them; absent when that list could not be read. */
    readonly liveNetworks?: readonly LiveNetwork[];
}

/**
 * Throws (a plain message, no stack) when the change must not be made: quorum lost, or a step without a majority.
 * Returns whether a swarm exists, and its networks.
 */
export function assertManagerQuorum(plan: Plan, namePrefix: string): SwarmRead {
    const planned = plan.nodes.filter((n) => n.role === "manager").map((n) => n.name);
    for (let attempt = 0; ; attempt++) {
        const live = readLiveSwarm(plan, namePrefix);
        if (live.kind === "none") return { swarmExists: false };
        if (live.kind === "unknown") throw new pulumi.RunError(live.message);
        const verdict = checkManagerQuorum(live.managers, planned);
        if (!verdict.ok) throw new pulumi.RunError(verdict.message);
        if (live.kind === "managers") return { swarmExists: true, ...(live.networks ? { liveNetworks: live.networks } : {}) };
        // no leader although a majority answers: an election under way; read again, then give up plainly
        if (attempt >= ELECTION_RETRIES) {
            throw new pulumi.RunError(`the swarm has no leader although ${live.managers.filter((m) => m.reachable).map((m) => m.name).join(", ")} answer: nothing was changed; check \`docker node ls\` on a manager and run up again.`);
        }
        execFileSync("sleep", ["3"]);
    }
}
