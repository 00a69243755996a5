// The prod-like profile's "existing machines": 7 swarm-lab/node containers the LAB starts (not the program), run
// exactly as the docker driver runs its nodes in the lab (lab-config.ts: not privileged, Docker's default
// capabilities + SYS_ADMIN + NET_ADMIN, seccomp/apparmor/systempaths unconfined, host cgroup tree, overlay2 inside),
// each with a host key of its own (sshd starts when the image finds one) and the generated deploy key in root's
// authorized_keys. Names start with PRODLAB_PREFIX (test/lab/cleanup.sh sweeps them).
import * as fs from "node:fs";
import * as path from "node:path";
import { NODE_CAPABILITIES, parseSshHostKey, pinnedHostKeyOptions } from "../../model/nodes";
import { must, sh, shQuote, until } from "./helpers";
import { storageDriver } from "./lab-config";
import { machineName, Machines, MACHINES_FILE, PRODLAB_DIR, PRODLAB_NETWORK, PRODLAB_NODES, PRODLAB_PREFIX, PRODLAB_SUBNET, STACK_FILE } from "./prod-config";
import { stringify } from "yaml";

const IMAGE = "swarm-lab/node:latest";

/** ssh-keygen an ed25519 pair at `file` (no passphrase); returns the public line `ssh-ed25519 <base64>`. */
async function keygen(file: string, comment: string): Promise<string> {
    fs.rmSync(file, { force: true });
    fs.rmSync(`${file}.pub`, { force: true });
    await must(`ssh-keygen -q -t ed25519 -N '' -C ${shQuote(comment)} -f ${shQuote(file)}`);
    const [type, body] = fs.readFileSync(`${file}.pub`, "utf8").trim().split(" ");
    return `${type} ${body}`;
}

/** A tar stream (root-owned, given modes) of the node's host key and root's authorized_keys, for `docker cp -`. */
async function installKeys(container: string, hostKeyFile: string, authorizedKey: string): Promise<void> {
    const stage = fs.mkdtempSync(path.join(PRODLAB_DIR, "stage-"));
    try {
        fs.mkdirSync(path.join(stage, "etc/ssh"), { recursive: true });
        fs.mkdirSync(path.join(stage, "root/.ssh"), { recursive: true, mode: 0o700 });
        fs.copyFileSync(hostKeyFile, path.join(stage, "etc/ssh/ssh_host_ed25519_key"));
        fs.chmodSync(path.join(stage, "etc/ssh/ssh_host_ed25519_key"), 0o600);
        fs.copyFileSync(`${hostKeyFile}.pub`, path.join(stage, "etc/ssh/ssh_host_ed25519_key.pub"));
        fs.chmodSync(path.join(stage, "etc/ssh/ssh_host_ed25519_key.pub"), 0o644);
        fs.writeFileSync(path.join(stage, "root/.ssh/authorized_keys"), `${authorizedKey}\n`, { mode: 0o600 });
        fs.chmodSync(path.join(stage, "root/.ssh"), 0o700);
        await must(
            `tar --owner=0 --group=0 --numeric-owner -C ${shQuote(stage)} -cf - etc/ssh/ssh_host_ed25519_key etc/ssh/ssh_host_ed25519_key.pub root/.ssh | docker cp - ${container}:/`,
        );
    } finally {
        fs.rmSync(stage, { recursive: true, force: true });
    }
}

/** One machine: created, given its keys, started (sshd and dockerd come up from the image's entrypoint). */
async function startMachine(node: (typeof PRODLAB_NODES)[number], hostKeyFile: string, authorizedKey: string): Promise<void> {
    const name = machineName(node.name);
    await must(`docker volume create ${name}-docker >/dev/null`);
    const flags = [
        `--name ${name}`,
        `--hostname ${node.name}`,
        "--restart unless-stopped",
        ...NODE_CAPABILITIES.map((c) => `--cap-add ${c}`),
        "--security-opt seccomp=unconfined --security-opt apparmor=unconfined --security-opt systempaths=unconfined",
        "-v /sys/fs/cgroup:/sys/fs/cgroup",
        `-v ${name}-docker:/var/lib/docker`,
        `--network ${PRODLAB_NETWORK} --ip ${node.address}`,
        `-e DOCKERD_STORAGE_DRIVER=${storageDriver()}`,
        `--label swarm-platform.prodlab=${node.name}`,
    ];
    await must(`docker create ${flags.join(" ")} ${IMAGE} >/dev/null`);
    await installKeys(name, hostKeyFile, authorizedKey);
    await must(`docker start ${name} >/dev/null`);
}

/** ssh to a machine with the deploy key, trusting only its pinned host key; the command's result. */
export function sshTo(node: string, command: string, machines: Machines, timeoutMs = 30_000) {
    const n = PRODLAB_NODES.find((x) => x.name === node);
    if (!n) throw new Error(`no prod-lab node ${node}`);
    const opts = [...pinnedHostKeyOptions(n.address, 22, machines.hostKeys[node]), "-o", "BatchMode=yes", "-o", "ConnectTimeout=5", "-o", "IdentitiesOnly=yes", "-i", path.join(PRODLAB_DIR, "deploy_key")];
    return sh(`ssh ${opts.map(shQuote).join(" ")} -l root -- ${n.address} ${shQuote(command)}`, timeoutMs);
}

/**
 * Starts the 7 machines (after sweeping any left over), generates a host key per machine and the deploy key, and
 * writes the host keys into the profile's stack file and machines.json. Waits until each answers over ssh with
 * its pinned key and its engine is up.
 */
export async function startMachines(): Promise<Machines> {
    await stopMachines();
    fs.mkdirSync(path.join(PRODLAB_DIR, "host-keys"), { recursive: true, mode: 0o700 });
    const deployKey = path.join(PRODLAB_DIR, "deploy_key");
    const deployPublic = await keygen(deployKey, "swarm-platform prod-lab deploy key");
    await must(`docker network create --driver bridge --subnet ${PRODLAB_SUBNET} ${PRODLAB_NETWORK} >/dev/null`);
    const hostKeys: Record<string, string> = {};
    await Promise.all(
        PRODLAB_NODES.map(async (node) => {
            const file = path.join(PRODLAB_DIR, "host-keys", node.name);
            hostKeys[node.name] = await keygen(file, `${node.name} host key`);
            const parsed = parseSshHostKey(hostKeys[node.name]);
            if ("error" in parsed) throw new Error(`generated host key of ${node.name}: ${parsed.error}`);
            await startMachine(node, file, deployPublic);
        }),
    );
    const machines: Machines = { hostKeys, privateKey: fs.readFileSync(deployKey, "utf8") };
    fs.writeFileSync(MACHINES_FILE, JSON.stringify(machines, null, 1), { mode: 0o600 });
    // The profile's stack config: the nodes with their pinned host keys (the deploy key stays a secret, out of it).
    const { prodLabConfig } = await import("./prod-config");
    const { config } = prodLabConfig({}, machines);
    delete config["swarm-platform:sshPrivateKey"];
    fs.writeFileSync(STACK_FILE, stringify({ config }));
    for (const node of PRODLAB_NODES) {
        const ok = await until(60, async () => (await sshTo(node.name, "docker info --format '{{.ServerVersion}}'", machines, 15_000)).code === 0, 1000);
        if (!ok) {
            const r = await sshTo(node.name, "docker info", machines);
            throw new Error(`machine ${node.name} does not answer over ssh with its engine up: ${r.stderr.slice(-500)}`);
        }
    }
    return machines;
}

/** Removes the machines, their volumes and their network (bounded; what cleanup.sh sweeps too). */
export async function stopMachines(): Promise<void> {
    await sh(`ids=$(docker ps -aq --filter name=^/${PRODLAB_PREFIX}); [ -z "$ids" ] || docker rm -f -v $ids`, 180_000);
    await sh(`vols=$(docker volume ls -q --filter name=^${PRODLAB_PREFIX}); [ -z "$vols" ] || docker volume rm -f $vols`, 120_000);
    await sh(`nets=$(docker network ls -q --filter name=^${PRODLAB_PREFIX}); [ -z "$nets" ] || docker network rm $nets`, 60_000);
}

/**
 * The most connections each machine's sshd held unauthenticated at once while sampling: its listener's process title
 * reads "N of 10-100 startups", and from 10 it drops new connections at random (MaxStartups 10:30:100, Debian's
 * default, which the machines keep). Read from the host's /proc every 25 ms; the listeners are found again every 2 s.
 */
export async function sampleSshStartups(): Promise<{ stop(): Record<string, number> }> {
    const ids = await must(`docker ps --no-trunc --filter label=swarm-platform.prodlab --format '{{.ID}} {{.Label "swarm-platform.prodlab"}}'`);
    const machineOfContainer = new Map(ids.trim().split("\n").filter(Boolean).map((l) => l.split(" ") as [string, string]));
    const read = (file: string) => {
        try {
            return fs.readFileSync(file, "utf8");
        } catch {
            return ""; // the process is gone
        }
    };
    let listeners: [string, string][] = []; // [pid, machine]
    const find = () => {
        listeners = [];
        for (const pid of fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
            if (!read(`/proc/${pid}/cmdline`).startsWith("sshd: /usr/sbin/sshd [listener]")) continue;
            const cgroup = read(`/proc/${pid}/cgroup`);
            const machine = [...machineOfContainer].find(([id]) => cgroup.includes(id))?.[1];
            if (machine) listeners.push([pid, machine]);
        }
    };
    const peak: Record<string, number> = {};
    let ticks = 0;
    const timer = setInterval(() => {
        if (ticks++ % 80 === 0) find();
        for (const [pid, machine] of listeners) {
            const n = Number(/\] (\d+) of \d+-\d+ startups/.exec(read(`/proc/${pid}/cmdline`))?.[1] ?? 0);
            peak[machine] = Math.max(peak[machine] ?? 0, n);
        }
    }, 25);
    return {
        stop() {
            clearInterval(timer);
            return peak;
        },
    };
}
