// The lab's prod-like profile: Pulumi.prod.yaml's shape (driver ssh, 3 managers, 2 gateway nodes, workers in two
// zones) on 7 "existing machines" the lab starts itself from swarm-lab/node (sshd with a host key of its own, the
// deploy key in root's authorized_keys), on a bridge of their own. The program reaches them only over ssh: node
// scripts through command:remote, the swarm's docker provider through ssh://, image loads through `ssh … docker load`.
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { DEMO_IMAGE, labConfig, LabOverrides, LAB_DIR, PROJECT, PROJECT_DIR } from "./lab-config";

export const PROD_STACK = "prod";
/** Names of everything the profile starts on the host engine (test/lab/cleanup.sh sweeps this prefix). */
export const PRODLAB_PREFIX = "swarm-platform-prodlab-";
export const PRODLAB_NETWORK = `${PRODLAB_PREFIX}lan`;
/** Away from the dev lab's 172.28.40.0/24 and the reachability scenario's 172.28.41.0/24. */
export const PRODLAB_SUBNET = "172.28.60.0/24";
export const PRODLAB_BRIDGE_GATEWAY = "172.28.60.1";
export const PRODLAB_VIP = "172.28.60.100";
export const PRODLAB_DIR = path.join(LAB_DIR, "prod");
/** Host keys and the deploy key the lab generated for its machines. */
export const MACHINES_FILE = path.join(PRODLAB_DIR, "machines.json");
/** The profile's stack config as the lab hands it to the engine (host keys included; the deploy key is not in it). */
export const STACK_FILE = path.join(PRODLAB_DIR, "Pulumi.prod-lab.yaml");

export interface ProdLabNode {
    readonly name: string;
    readonly role: "manager" | "worker";
    readonly zone: "dmz" | "intra";
    readonly address: string;
    readonly gateway?: boolean;
    readonly priority?: number;
    readonly bootstrap?: boolean;
}

/** 3 managers (intra), 2 gateway nodes and a worker in dmz, a worker in intra. */
export const PRODLAB_NODES: readonly ProdLabNode[] = [
    { name: "manager-1", role: "manager", zone: "intra", address: "172.28.60.11", bootstrap: true },
    { name: "manager-2", role: "manager", zone: "intra", address: "172.28.60.12" },
    { name: "manager-3", role: "manager", zone: "intra", address: "172.28.60.13" },
    { name: "gw-1", role: "worker", zone: "dmz", address: "172.28.60.21", gateway: true, priority: 2 },
    { name: "gw-2", role: "worker", zone: "dmz", address: "172.28.60.22", gateway: true, priority: 1 },
    { name: "web-1", role: "worker", zone: "dmz", address: "172.28.60.31" },
    { name: "app-1", role: "worker", zone: "intra", address: "172.28.60.41" },
];
export const machineName = (node: string) => `${PRODLAB_PREFIX}${node}`;

export interface Machines {
    /** node name → `ssh-ed25519 <base64>` (the public half of the host key the lab installed). */
    readonly hostKeys: Record<string, string>;
    /** The deploy user's (root's) private key, OpenSSH format. */
    readonly privateKey: string;
}

export function readMachines(): Machines {
    return JSON.parse(fs.readFileSync(MACHINES_FILE, "utf8")) as Machines;
}

export interface ProdLabOverrides extends LabOverrides {
    /** The node list instead of PRODLAB_NODES (role changes, removals). */
    readonly nodeList?: readonly ProdLabNode[];
}

/**
 * Full runtime config of the profile: Pulumi.prod.yaml, with the lab's machines (addresses, pinned host keys, root
 * over ssh without sudo), the lab's images and apps, and what this host cannot do: no encrypted overlays (the
 * kernel has no rfc4106(gcm(aes)) for ESP), no TLS certificates, no autolock (the scenarios restart managers; a
 * locked manager would need the unlock key by hand). The deploy key is added as a secret (`sshPrivateKey`).
 */
export function prodLabConfig(o: ProdLabOverrides = {}, machines: Machines = readMachines()): { config: Record<string, unknown>; secretKeys: string[] } {
    const doc = parse(fs.readFileSync(path.join(PROJECT_DIR, `Pulumi.${PROD_STACK}.yaml`), "utf8")) as { config: Record<string, unknown> };
    const cfg: Record<string, unknown> = { ...doc.config };
    const set = (key: string, value: unknown) => (cfg[`${PROJECT}:${key}`] = value);
    // The dev lab's apps and gateway base image, as labConfig makes them (prebuilt demo image, loaded, dnsrr).
    const dev = labConfig({ apps: o.apps });
    set("drivers", { ssh: { user: "root", port: 22, sudo: false, privateKeySecret: "sshPrivateKey", sshOpts: ["-o", "ConnectTimeout=5"] } });
    set("nodes", (o.nodeList ?? PRODLAB_NODES).map((n) => ({ ...n, hostKey: machines.hostKeys[n.name] })));
    set("swarm", { managerAvailability: "drain", defaultAddrPool: ["10.228.0.0/16"], autolock: false });
    set("networks", {
        zones: { dmz: { subnet: "10.229.1.0/24" }, intra: { subnet: "10.229.2.0/24" } },
        gateway: { name: "gateway", subnet: "10.229.0.0/24" },
        ingress: { subnet: "10.229.255.0/24" },
    });
    set("virtualIp", { address: PRODLAB_VIP, prefix: 24, interface: "eth0", virtualRouterId: 61, advertInt: 1 });
    set("gateway", { engine: "nginx", baseImage: "swarm-lab/nginx:latest" });
    set("firewall", { sshSources: [`${PRODLAB_BRIDGE_GATEWAY}/32`] });
    set("apps", dev[`${PROJECT}:apps`]);
    for (const [k, v] of Object.entries(o.extra ?? {})) set(k, v);
    cfg[`${PROJECT}:sshPrivateKey`] = machines.privateKey;
    return { config: cfg, secretKeys: [`${PROJECT}:sshPrivateKey`] };
}

export { DEMO_IMAGE };
