// Upgrade: a stack deployed with the program as it was before the reshape by concept (commit b0fca06) updates
// with this program with no replacement and no delete. test/mocks/fixtures/before-reshape-<stack>.json holds what
// that program registered with its own stack files (URN, type, a hash per input): made by running b0fca06's
// index.ts under this harness's mocks (node ids named by machine, as here) through upgrade-fingerprint.ts.
// Mocks apply no aliases, so this test resolves them as the engine does: a resource's own alias specs, and the
// aliases it inherits from a parent that was found under an old URN (the parent's name prefix swapped for the
// old one). Then it compares the inputs that decide between update and replace.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { type Declared, PROJECT, ROOT, runProgram, stackConfig } from "./harness";
import { type Fingerprint, fingerprints, hash } from "./upgrade-fingerprint";
import { firstHost } from "../../model/networks";
import { replacingChanges as replaces } from "../../scripts/lib/provider-rules";

const PROD_SECRETS = { sshPrivateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nfake\n", tlsSklepCert: "CERT", tlsSklepKey: "KEY" };
const DOCKER_VERSION = (JSON.parse(fs.readFileSync(require.resolve("@pulumi/docker/package.json"), "utf8")) as { version: string }).version;

function urnOf(stack: string, qualifiedType: string, name: string): string {
    return `urn:pulumi:${stack}::${PROJECT}::${qualifiedType}::${name}`;
}

/** `urn:pulumi:<stack>::<project>::<qualified type>::<name>` */
function partsOf(urn: string): { qualifiedType: string; name: string } {
    const [, , qualifiedType, name] = urn.split("::");
    return { qualifiedType, name };
}

interface Resolved {
    readonly resource: Declared;
    /** The old URN this resource is found under: its own URN, or one of its aliases. */
    readonly oldUrn?: string;
    readonly aliases: readonly string[];
}

/** Every declared resource with its alias URNs and the old URN it matches, parents first. */
function resolveAliases(stack: string, declared: readonly Declared[], old: ReadonlySet<string>): Resolved[] {
    const resolved = new Map<string, Resolved>();
    const resolve = (d: Declared): Resolved => {
        const done = resolved.get(d.urn);
        if (done) return done;
        const parent = d.parent ? declared.find((p) => p.name === d.parent && partsOf(d.urn).qualifiedType.startsWith(`${partsOf(p.urn).qualifiedType}$`)) : undefined;
        const parentType = parent ? partsOf(parent.urn).qualifiedType : undefined;
        const aliases = new Set<string>();
        for (const a of d.aliases) {
            if (typeof a === "string") aliases.add(a);
            else {
                const spec = a as pulumi.Alias;
                const type = (spec.type as string | undefined) ?? d.type;
                const name = (spec.name as string | undefined) ?? d.name;
                aliases.add(urnOf(stack, parentType ? `${parentType}$${type}` : type, name));
            }
        }
        const parentMatch = parent ? resolve(parent).oldUrn : undefined;
        if (parent && parentMatch && parentMatch !== parent.urn) {
            const old = partsOf(parentMatch);
            const name = d.name.startsWith(parent.name) ? old.name + d.name.slice(parent.name.length) : d.name;
            aliases.add(urnOf(stack, `${old.qualifiedType}$${d.type}`, name));
        }
        const matches = [d.urn, ...aliases].filter((u) => old.has(u));
        assert.ok(matches.length <= 1, `${d.urn} matches several old resources: ${matches.join(", ")}`);
        const r = { resource: d, aliases: [...aliases], ...(matches[0] ? { oldUrn: matches[0] } : {}) };
        resolved.set(d.urn, r);
        return r;
    };
    return declared.map(resolve);
}

/**
 * The provider diffs the state it reads back, not the inputs it stored: a network created with `[{ subnet }]` reads
 * back with the gateway docker assigned (the subnet's first host). The program now sends that gateway, which equals
 * the deployed state (and ends the replacement the old inputs caused on every run).
 */
function matchesReadBack(type: string, key: string, inputs: Record<string, unknown> | undefined, oldHash: string | undefined): boolean {
    if (type !== "docker:index/network:Network" || key !== "ipamConfigs" || !inputs) return false;
    const entries = inputs.ipamConfigs as { subnet: string; gateway?: string }[];
    const withoutAssigned = entries.map(({ gateway, ...rest }) => (gateway === firstHost(rest.subnet) ? rest : { ...rest, gateway }));
    return hash(withoutAssigned) === oldHash;
}

for (const stack of ["dev", "prod"] as const) {
    describe(`upgrading the ${stack} stack from the program before the reshape`, () => {
        const before = JSON.parse(fs.readFileSync(path.join(__dirname, "fixtures", `before-reshape-${stack}.json`), "utf8")) as Record<string, Fingerprint>;
        const defaultProvider = `urn:pulumi:${stack}::${PROJECT}::pulumi:providers:docker::default_${DOCKER_VERSION.replace(/\./g, "_")}`;
        let resolved: Resolved[];
        let after: Record<string, Fingerprint>;
        let inputsOf: Map<string, Record<string, unknown>>;

        it("every old resource is found under exactly one new resource (nothing deleted)", async () => {
            // The stack's config as it was when the fixture was recorded: dev moved to the fast VRRP profile since (a config
            // change, not the program's: it drops the VRRP password and shortens the gateway's drain).
            const config = stackConfig(stack);
            if (stack === "dev") (config.virtualIp as Record<string, unknown>).profile = "default";
            const run = await runProgram({ stack, config, ...(stack === "prod" ? { secrets: PROD_SECRETS } : {}) });
            resolved = resolveAliases(stack, [...run.declared.values()], new Set(Object.keys(before)));
            const oldNames = new Map(resolved.flatMap((r) => (r.oldUrn ? [[r.resource.name, partsOf(r.oldUrn).name] as const] : [])));
            after = fingerprints(run, ROOT, oldNames);
            inputsOf = new Map(run.resources.map((x) => [x.name, x.inputs]));
            const found = resolved.flatMap((r) => (r.oldUrn ? [r.oldUrn] : []));
            assert.equal(new Set(found).size, found.length, "no old resource is claimed twice");
            assert.deepEqual(Object.keys(before).filter((u) => !found.includes(u)), [], "old resources no new resource claims");
        });

        it("the only new resources are the DNS component, the local engine's provider (adopting the default provider), the join-token steps, the node firewall, the engine API's certificates, the node lifecycle steps, the image save steps and the gateway nodes' routes and state volumes", () => {
            const fresh = resolved.filter((r) => !r.oldUrn).map((r) => r.resource);
            // Join tokens are read from the bootstrap manager before each join and rotated after the joins: a read per
            // joining node and one rotation are new commands (they read and rotate; nothing is removed).
            const joining = resolved.map((r) => r.resource.name).filter((n) => /^platform-swarm-join-(?!token-)/.test(n));
            assert.ok(joining.length > 0);
            const tokenSteps = [...joining.map((n) => n.replace("platform-swarm-join-", "platform-swarm-join-token-")), "platform-swarm-rotate-tokens"];
            const nodes = (stackConfig(stack).nodes as { name: string }[]).map((n) => n.name);
            assert.deepEqual(fresh.map((d) => d.name).sort(), [
                "local-engine",
                "platform-dns",
                ...tokenSteps,
                "platform-firewall",
                ...nodes.map((n) => `platform-firewall-${n}`),
                ...(stack === "dev" ? ["platform-nodes-engine-tls"] : []),
                // `up` waits for every service with its own convergence gate (a command on the bootstrap manager).
                "platform-gateway-converge",
                ...["shop-1-9", "shop-2-0", "stock-1-0"].map((s) => `platform-${s}-converge`),
                // Node lifecycle: departed nodes drained before the firewalls change; per node a drain step (its delete
                // takes the node out before its container or host goes) and a settle step (the next node of a
                // rollout waits for it). All new: no old delete runs.
                "platform-departures",
                ...nodes.map((n) => `platform-swarm-drain-${n}`),
                ...nodes.map((n) => `platform-settle-${n}`),
                // Each loaded image is saved once as soon as it is built, before its loads (prod's releases are pulled).
                "platform-gateway-image-save",
                ...(stack === "dev" ? ["shop-1-9", "shop-2-0", "stock-1-0"].map((s) => `platform-${s}-image-save`) : []),
                // dev: a gateway node keeps its routes and the gateway's state dir on volumes (a rebuilt container keeps them).
                ...(stack === "dev" ? ["gw-1", "gw-2"].flatMap((n) => [`platform-nodes-${n}-gateway-routes`, `platform-nodes-${n}-gateway-state`]) : []),
            ].sort());
            assert.deepEqual(fresh.find((d) => d.name === "local-engine")?.aliases, [defaultProvider]);
            assert.equal(fresh.find((d) => d.name === "platform-dns")?.type, "swarm:dns:Dns", "a component: no state, nothing to create");
        });

        it("no resource is replaced; the updated ones are exactly the listed ones", () => {
            const replaced: string[] = [];
            const updated: string[] = [];
            for (const r of resolved) {
                if (!r.oldUrn) continue;
                const was = before[r.oldUrn];
                const now = after[r.resource.urn];
                // Components (swarm:…) may change type under an alias; a resource of another type would be a new resource.
                if (!now.type.startsWith("swarm:")) assert.equal(now.type, was.type, `${r.resource.name} keeps its type`);
                const keys = [...new Set([...Object.keys(was.inputs), ...Object.keys(now.inputs)])];
                const changed = keys.filter((k) => was.inputs[k] !== now.inputs[k] && !matchesReadBack(now.type, k, inputsOf.get(r.resource.name), was.inputs[k])).sort();
                if (replaces(now.type, changed).length) replaced.push(`${r.resource.name} (${replaces(now.type, changed).join(", ")})`);
                else if (changed.length) updated.push(`${r.resource.name} (${changed.join(", ")})`);
            }
            // The gateway image is new (its entrypoint now exits with the engine's own status after a drain): loading a
            // new image is a new load command on each gateway node (no delete action: nothing is removed).
            // dev: the bootstrap manager's container is replaced once to close its plain-TCP engine API (TLS port 2376,
            // its certificates uploaded before start); its /var/lib/docker volume keeps the swarm, and the scripts with
            // its id in their triggers run again on the new container.
            // dev builds its release images from templates/demo-app: the demo app's server changed (drain on SIGTERM,
            // failure knobs), so each is a new content tag, loaded into the zone's nodes by new load commands.
            const demoAppBuilds = ["shop-1-9", "shop-2-0", "stock-1-0"].map((r) => `platform-${r}-image-build`);
            const demoAppLoads = ["shop-1-9-image-load-gw-1", "shop-1-9-image-load-gw-2", "shop-2-0-image-load-gw-1", "shop-2-0-image-load-gw-2", "stock-1-0-image-load-manager-1", "stock-1-0-image-load-worker-1"];
            assert.deepEqual(replaced.sort(), [
                "platform-gateway-image-load-gw-1 (triggers)",
                "platform-gateway-image-load-gw-2 (triggers)",
                ...(stack === "dev" ? ["platform-nodes-manager-1 (ports, uploads, volumes)", ...demoAppLoads.map((n) => `platform-${n} (triggers)`)] : []),
                // dev: the gateway nodes mount their routes volume, and every node its image inbox (one at a time, each
                // drained first)
                ...(stack === "dev" ? ["platform-nodes-gw-1 (volumes)", "platform-nodes-gw-2 (volumes)", "platform-nodes-worker-1 (volumes)"] : []),
            ].sort());
            // gateway-routes-apply now receives the engine's main config path and reload signal from the plan (it re-runs,
            // finds the routes file unchanged and reloads nothing); dev's node image is built from templates/nodes/ (its
            // new folder: a rebuild of the same files, same tag, so no container changes).
            // The new gateway image is built under its new content tag and the service rolls to it (stop-first, one
            // node at a time, the VIP moving away first).
            // swarm-init no longer prints the join tokens; keepalived-apply writes with umask 077 and starts keepalived
            // with an empty environment, and keepalived.conf gains check_unicast_src (VRRP only from the listed peers);
            // keepalived's check script now asks the gateway's health socket. Its delete (keepalived-stop) changed with the
            // envelope of scripts that have libraries (a failure in one is named by the library's file and line).
            // Every release gains resource limits (and, on dev, a read-only root): a rolling start-first update.
            // Every service gains its spec label (`swarm-platform.spec`, top-level: updated in place), and the routes
            // their served-routes sidecar and probe settings.
            // On ssh nodes every remote command's connection now pins the host key (an update: the idempotent script
            // runs once more), and the swarm's provider gets the pinning ssh options; on dev it dials the manager's
            // TLS API with the client certificate.
            const changes = new Map<string, string[]>([
                ["platform-shop-1-9-service", ["labels", "taskSpec"]],
                ["platform-shop-2-0-service", ["labels", "taskSpec"]],
                ["platform-stock-1-0-service", ["labels", "taskSpec"]],
                ["platform-gateway-routes-gw-1", ["stdin"]],
                ["platform-gateway-routes-gw-2", ["stdin"]],
                ["platform-gateway-image-build", ["imageName"]],
                ["platform-gateway-service", ["labels", "taskSpec"]],
                ["platform-swarm-init", ["stdin"]],
                ["platform-virtualIp-keepalived-gw-1", ["delete", "stdin"]],
                ["platform-virtualIp-keepalived-gw-2", ["delete", "stdin"]],
                ...(stack === "dev"
                    ? ([
                          ["platform-nodes-image", ["build"]],
                          // node-ready asks every 0.2 s (was 1 s): an update that runs it once more (the engine answers at once)
                          ...["manager-1", "gw-1", "gw-2", "worker-1"].map((n) => [`platform-nodes-${n}-engine-ready`, ["stdin"]] as [string, string[]]),
                          ...demoAppBuilds.map((n) => [n, ["imageName"]] as [string, string[]]),
                          ["platform-swarm-manager", ["caMaterial", "certMaterial", "keyMaterial"]],
                      ] as [string, string[]][])
                    : []),
                // prod's custom ingress: removing the default one now answers docker's confirmation (it read the script's
                // own stdin and kept the network): the step runs once more and finds the custom ingress in place.
                ...(stack === "prod"
                    ? ([
                          ["platform-swarm-manager", ["sshOpts"]],
                          ["platform-networks-default-ingress-removed", ["stdin"]],
                          // node-bootstrap reads ufw's status and the docker group to the end (no grep -q under
                          // pipefail): the update runs the idempotent bootstrap once more on every machine.
                          ...(stackConfig(stack).nodes as { name: string }[]).map((n) => [`platform-nodes-${n.name}-bootstrap`, ["stdin"]] as [string, string[]]),
                      ] as [string, string[]][])
                    : []),
            ]);
            if (stack === "prod") {
                for (const r of resolved) {
                    if (r.oldUrn && r.resource.type === "command:remote:Command") changes.set(r.resource.name, ["connection", ...(changes.get(r.resource.name) ?? [])]);
                }
            }
            // Node lifecycle: memberships lose their delete (the drain step removes a node now: a replaced bootstrap
            // manager must not remove every node), the joins' delete runs the new swarm-leave, and the bootstrap
            // manager's leaves only once it is alone. An update runs the idempotent script once more; no delete runs.
            const nodeList = stackConfig(stack).nodes as { name: string; role: string; bootstrap?: boolean }[];
            const bootstrap = (nodeList.find((n) => n.bootstrap) ?? nodeList.find((n) => n.role === "manager"))?.name;
            for (const r of resolved) {
                if (r.resource.name === `platform-swarm-member-${bootstrap}`) continue; // it never had a delete
                if (r.oldUrn && /^platform-swarm-(member|join)-(?!token-)|^platform-swarm-init$/.test(r.resource.name)) {
                    changes.set(r.resource.name, [...(changes.get(r.resource.name) ?? []), "delete"]);
                }
            }
            // Memberships carry the drain library now (`availability: drain` surges a release whose every task is on
            // the node): their script changed; the update runs it once more, converging what already is. The joins
            // now wait out swarm's join deadline (503) and name the engine's refusal: the update finds the node in
            // the swarm and does not join again.
            for (const r of resolved) {
                if (r.oldUrn && /^platform-swarm-(member|join)-(?!token-)/.test(r.resource.name)) changes.set(r.resource.name, [...(changes.get(r.resource.name) ?? []), "stdin"]);
            }
            const expected = [...changes].map(([name, keys]) => `${name} (${[...keys].sort().join(", ")})`);
            assert.deepEqual(updated.sort(), expected.sort());
        });
    });
}
