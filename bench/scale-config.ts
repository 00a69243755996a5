// The generated large stack the program's own scale is measured on (bench/scale.ts, npm run bench:plan): 100 nodes
// (3 managers, 4 gateway nodes, 4 zones), 50 apps × 3 releases with hostnames, one VIP, driver ssh with a pinned
// host key per node (made up, well-formed), so that the real program accepts it as it would a production stack.
import * as crypto from "node:crypto";
import type { StackConfigInput } from "../model";

export const NODES = 100;
export const MANAGERS = 3;
export const GATEWAYS = 4;
export const ZONES = ["dmz", "intra", "batch", "data"];
export const APPS = 50;
export const RELEASES = 3;

/** The secret config values the stack names (made-up PEM text: nothing connects anywhere under mocks). */
export const BENCH_SECRETS: Readonly<Record<string, string>> = {
    sshPrivateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nbench\n-----END OPENSSH PRIVATE KEY-----\n",
    tlsCert: "-----BEGIN CERTIFICATE-----\nbench\n-----END CERTIFICATE-----\n",
    tlsKey: "-----BEGIN PRIVATE KEY-----\nbench\n-----END PRIVATE KEY-----\n",
};

/** A well-formed ssh-ed25519 public key (`<type> <base64>`), derived from the address: deterministic, matches no machine. */
function hostKeyOf(address: string): string {
    const field = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
    const blob = Buffer.concat([field(Buffer.from("ssh-ed25519")), field(crypto.createHash("sha256").update(address).digest())]);
    return `ssh-ed25519 ${blob.toString("base64")}`;
}

/** 10.0.1.10 … 10.0.1.109 on one LAN; the VIP is 10.0.1.250. */
export function benchConfig(): StackConfigInput {
    const nodes = Array.from({ length: NODES }, (_, i) => {
        const role = i < MANAGERS ? ("manager" as const) : ("worker" as const);
        const gateway = i >= MANAGERS && i < MANAGERS + GATEWAYS;
        return {
            name: role === "manager" ? `manager-${i + 1}` : gateway ? `gw-${i - MANAGERS + 1}` : `node-${i + 1}`,
            role,
            zone: gateway ? "dmz" : ZONES[i % ZONES.length],
            address: `10.0.1.${10 + i}`,
            ...(gateway ? { gateway: true } : {}),
            labels: { rack: `r${i % 8}` },
            hostKey: hostKeyOf(`10.0.1.${10 + i}`),
        };
    });
    const apps = Array.from({ length: APPS }, (_, a) => ({
        name: `app${a}`,
        zone: ZONES[a % ZONES.length],
        image: `registry.example.com/team/app${a}`,
        replicas: 2 + (a % 3),
        env: { APP: `app${a}` },
        releases: Array.from({ length: RELEASES }, (_, r) => ({
            name: `1.${r}`,
            // Every release has its own hostname; the newest also serves the app's main hostname.
            hostnames: [`v1-${r}.app${a}.example.com`, ...(r === RELEASES - 1 ? [`app${a}.example.com`] : [])],
            env: { RELEASE: `1.${r}` },
        })),
    }));
    return {
        driver: "ssh",
        drivers: { ssh: { user: "deploy", sudo: true, privateKeySecret: "sshPrivateKey" } },
        nodes,
        swarm: { managerAvailability: "drain", defaultAddrPool: ["10.128.0.0/14"] },
        networks: {
            zones: Object.fromEntries(ZONES.map((z) => [z, { encrypted: true }])),
            gateway: { name: "gateway", encrypted: true },
        },
        virtualIp: { address: "10.0.1.250", virtualRouterId: 51 },
        gateway: {
            engine: "nginx",
            tls: [{ name: "apps", hostnames: Array.from({ length: APPS }, (_, a) => `app${a}.example.com`), certificateSecret: "tlsCert", keySecret: "tlsKey" }],
        },
        apps,
    };
}

