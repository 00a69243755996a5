// Driver `docker`: every node a docker-in-docker container on one bridge network of the local engine.
import * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as fs from "node:fs";
import * as path from "node:path";
import type { PlanDriver, PlanEngineApi, PlanNode } from "../../model";
import { gatewayVolumeName, nodeVolumeName } from "../../model/nodes";
import { commandOptions, deleteCommandLine, logging, NodeRunner, RunScriptArgs, scriptPayload, ScriptRun, toScriptRun } from "./runner";

/** The nodes and the docker driver's settings. */
export interface DockerNodesArgs {
    /** The planned nodes: one container each. */
    readonly nodes: readonly PlanNode[];
    /** The docker driver's settings. */
    readonly docker: Extract<PlanDriver, { name: "docker" }>["docker"];
    /** The bootstrap manager's authenticated engine API. */
    readonly engineApi: PlanEngineApi;
    /** Prefix for container, volume and network names on the local engine (unique per stack). */
    readonly namePrefix: string;
    /** Folder holding templates/nodes/Dockerfile (the build context when drivers.docker.build is true). */
    readonly nodeImageContext: string;
    /** Where image deliveries keep their saved images and locks (on the machine running Pulumi). */
    readonly imageCacheDir: string;
    /** The gateway's routes and state dirs: each on a volume of its own on gateway nodes (a rebuilt container keeps them). */
    readonly gatewayDirs: { readonly routes: string; readonly state: string };
    /**
     * Per node, what its container waits for: the previous node of the rollout back at work, so a change that
     * replaces every container (a new node image) replaces them one at a time, each drained first; on a first up,
     * for a node the first answer does not need, the image loads that answer waits for.
     */
    readonly rolloutAfter?: Readonly<Record<string, pulumi.Input<pulumi.Input<pulumi.Resource>[]>>>;
}

/** What a client of an engine API with `--tlsverify` holds (PEM text; secret as a whole). */
export interface EngineClientTls {
    /** The CA the server certificate is checked against. */
    readonly ca: string;
    /** The client certificate the engine accepts. */
    readonly cert: string;
    /** Its key. */
    readonly key: string;
}

/**
 * Where each node container mounts its image inbox, read-only: a directory of its own under the image cache on the
 * machine running Pulumi, where image-deliver hard-links a saved image for the node's engine to load from the file
 * (cheaper than streaming it through `docker exec`; templates/images/image-deliver.sh).
 */
export const IMAGE_INBOX_MOUNT = "/var/lib/swarm-platform/image-inbox";

/** A node container's image inbox on the machine running Pulumi (absolute: it is a bind mount's source). */
export function imageInboxDir(imageCacheDir: string, containerName: string): string {
    return path.resolve(imageCacheDir, "inbox", containerName);
}

/** The one JSON line engine-tls prints (base64-encoded PEMs). */
interface EngineTlsOutput {
    readonly ca: string;
    readonly serverCert: string;
    readonly serverKey: string;
    readonly clientCert: string;
    readonly clientKey: string;
}

/** Driver `docker`: one docker-in-docker container per node on a bridge network of the local engine. */
export class DockerNodes extends pulumi.ComponentResource {
    /** A runner per node name. */
    public readonly runners: Record<string, NodeRunner> = {};
    /** The node containers by node name. */
    public readonly containers: Record<string, docker.Container> = {};
    /** The bridge network (the nodes' LAN). */
    public readonly network: docker.Network;
    /** tcp://127.0.0.1:<port>: the bootstrap manager's engine (TLS), for the swarm-level docker provider. */
    public readonly managerHost: string;
    /** The client side of that engine's TLS (a secret): the swarm-level docker provider's ca/cert/key material. */
    public readonly managerTls: pulumi.Output<EngineClientTls>;
    /** The swarm from the host without the TLS material: through the manager container's own unix socket. */
    public readonly managerCli: string;

    constructor(name: string, args: DockerNodesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("swarm:nodes:DockerNodes", name, {}, opts);
        const { namePrefix } = args;
        const cfg = args.docker;

        this.network = new docker.Network(`${name}-lan`, {
            name: `${namePrefix}-${cfg.network.name}`,
            driver: "bridge",
            ipamConfigs: [{ subnet: cfg.network.subnet, ...(cfg.network.gateway ? { gateway: cfg.network.gateway } : {}) }],
        }, { parent: this });

        const image: pulumi.Input<string> = cfg.build
            ? new docker.Image(`${name}-image`, {
                  imageName: cfg.image,
                  build: { context: path.join(args.nodeImageContext), dockerfile: path.join(args.nodeImageContext, "Dockerfile") },
                  skipPush: true,
              }, { parent: this }).imageName
            : cfg.image;

        // The engine API's certificates, made on the machine running Pulumi (openssl) and kept as secrets: the server
        // side is uploaded into the API node's container before it starts, the client side goes to the provider.
        const api = args.engineApi;
        const tlsRun = new command.local.Command(`${name}-engine-tls`, {
            create: "bash -s",
            stdin: scriptPayload(api.node, "engine-tls", {
                SERVER_NAMES: api.serverNames.join(" "),
                VALIDITY_DAYS: String(api.days),
                GENERATION: String(api.generation),
            }),
            interpreter: ["/bin/bash", "-c"],
            logging: "none",
            addPreviousOutputInEnv: false,
        }, { parent: this, additionalSecretOutputs: ["stdout", "stderr"] });
        const material = pulumi.secret(tlsRun.stdout.apply((out): EngineTlsOutput => {
            const parsed = JSON.parse(out.trim().split("\n").pop() ?? "") as EngineTlsOutput;
            const pem = (b64: string) => Buffer.from(b64, "base64").toString("utf8");
            return { ca: pem(parsed.ca), serverCert: pem(parsed.serverCert), serverKey: pem(parsed.serverKey), clientCert: pem(parsed.clientCert), clientKey: pem(parsed.clientKey) };
        }));
        this.managerTls = pulumi.secret(material.apply((m): EngineClientTls => ({ ca: m.ca, cert: m.clientCert, key: m.clientKey })));
        const serverFiles = pulumi.secret(material.apply((m) => [
            { file: `${api.tlsDir}/ca.pem`, content: m.ca, permissions: "0644" },
            { file: `${api.tlsDir}/server-cert.pem`, content: m.serverCert, permissions: "0644" },
            { file: `${api.tlsDir}/server-key.pem`, content: m.serverKey, permissions: "0600" },
        ]));

        for (const node of args.nodes) {
            const isApiNode = node.name === api.node;
            // A bumped generation is a new volume (so a new container): the node is rebuilt empty, under its name.
            const rollout = args.rolloutAfter?.[node.name] ?? [];
            const volume = new docker.Volume(`${name}-${node.name}-data`, { name: nodeVolumeName(namePrefix, node) }, { parent: this, dependsOn: rollout });
            const gatewayMounts = node.gateway
                ? (["routes", "state"] as const).map((dir) => ({
                      volumeName: new docker.Volume(`${name}-${node.name}-gateway-${dir}`, { name: gatewayVolumeName(namePrefix, node, dir) }, { parent: this, dependsOn: rollout }).name,
                      containerPath: args.gatewayDirs[dir],
                  }))
                : [];
            const containerName = `${namePrefix}-${node.name}`;
            // The bind mount's source exists before the container (else the engine makes it, owned by root).
            const inbox = imageInboxDir(args.imageCacheDir, containerName);
            fs.mkdirSync(inbox, { recursive: true });
            const container = new docker.Container(`${name}-${node.name}`, {
                name: containerName,
                hostname: node.name,
                image,
                restart: "unless-stopped",
                privileged: cfg.privileged,
                ...(cfg.privileged ? {} : { capabilities: { adds: cfg.capabilities.add, drops: cfg.capabilities.drop } }),
                securityOpts: cfg.securityOpts,
                networksAdvanced: [{ name: this.network.name, ipv4Address: node.address }],
                volumes: [
                    { volumeName: volume.name, containerPath: "/var/lib/docker" },
                    ...gatewayMounts,
                    ...(cfg.mountCgroup ? [{ hostPath: "/sys/fs/cgroup", containerPath: "/sys/fs/cgroup" }] : []),
                    { hostPath: inbox, containerPath: IMAGE_INBOX_MOUNT, readOnly: true },
                ],
                // Read by the node image's entrypoint (templates/nodes/entrypoint.sh, and the lab's node image).
                envs: [`DOCKERD_STORAGE_DRIVER=${cfg.storageDriver}`],
                // Only the bootstrap manager has a TCP API (TLS, client certificate required), published on loopback
                // only; every other engine listens on its unix socket alone (the node images' entrypoints).
                ports: isApiNode ? [{ internal: api.port, external: api.hostPort, ip: "127.0.0.1" }] : [],
                ...(isApiNode ? { uploads: serverFiles } : {}),
                labels: [
                    { label: "swarm-platform.node", value: node.name },
                    // Only from the first rebuild on: a first-generation container keeps the inputs it always had.
                    ...(node.generation > 1 ? [{ label: "swarm-platform.generation", value: String(node.generation) }] : []),
                ],
            }, { parent: this, deleteBeforeReplace: true, dependsOn: rollout });
            this.containers[node.name] = container;
            this.runners[node.name] = new DockerRunner(this, `${name}-${node.name}`, node, container, volume, args.imageCacheDir);
        }
        this.managerHost = `tcp://127.0.0.1:${api.hostPort}`;
        this.managerCli = `docker exec ${namePrefix}-${api.node} docker node ls`;
        this.registerOutputs({ network: this.network.name, managerHost: this.managerHost });
    }
}

class DockerRunner implements NodeRunner {
    public readonly ready: pulumi.Input<pulumi.Resource>[];
    private readonly container: pulumi.Output<string>;
    private readonly containerId: pulumi.Output<string>;
    private readonly shell: pulumi.Output<string>;

    constructor(
        private readonly parent: pulumi.Resource,
        prefix: string,
        public readonly node: PlanNode,
        container: docker.Container,
        private readonly volume: docker.Volume,
        public readonly imageCacheDir: string,
    ) {
        this.container = container.name;
        this.containerId = container.id;
        this.shell = pulumi.interpolate`docker exec -i ${container.name} bash -s`;
        // The inner engine needs a few seconds after the container starts: wait for it once, in one place.
        const ready = new command.local.Command(`${prefix}-engine-ready`, {
            create: this.shell,
            stdin: scriptPayload(node.name, "node-ready"),
            addPreviousOutputInEnv: false,
            triggers: [container.id],
        }, { parent, dependsOn: [container] });
        this.ready = [ready];
    }

    run(name: string, args: RunScriptArgs, opts: pulumi.CustomResourceOptions): ScriptRun {
        const onDelete = args.onDelete;
        return toScriptRun(new command.local.Command(name, {
            create: this.shell,
            stdin: scriptPayload(this.node.name, args.script, args.env),
            ...(onDelete ? { delete: deleteCommandLine(this.node.name, onDelete, this.shell) } : {}),
            logging: logging(args),
            addPreviousOutputInEnv: false,
            interpreter: ["/bin/bash", "-c"],
            // A replaced node container has none of the scripts' effects: its id in the triggers runs them again.
            triggers: args.keepWhenNodeReplaced
                ? pulumi.output(args.triggers ?? [])
                : pulumi.all([this.containerId, args.triggers ?? []]).apply(([id, extra]) => [id, ...extra]),
        }, commandOptions(args, {
            parent: this.parent,
            ...opts,
            dependsOn: dependsOn(this.ready, opts),
            // A delete script (swarm leave, keepalived stop, a drain run on this node) undoes state kept in this node's
            // data volume: when the volume goes too (the node removed, a destroy) there is nothing left to undo, and a
            // removed node was drained and taken out of the swarm by the bootstrap manager first. Not when only the
            // container is replaced (a new node image keeps the volume): then the scripts still run.
            ...(onDelete ? { deletedWith: this.volume } : {}),
        })));
    }

    loadImage(name: string, image: pulumi.Input<string>, opts: pulumi.CustomResourceOptions): ScriptRun {
        return toScriptRun(new command.local.Command(name, {
            create: "bash -s",
            stdin: scriptPayload(this.node.name, "image-deliver", {
                IMAGE: image,
                CACHE_DIR: this.imageCacheDir,
                NODE_KEY: this.container,
                CONTAINER: this.container,
                INBOX: this.container.apply((c) => imageInboxDir(this.imageCacheDir, c)),
                INBOX_MOUNT: IMAGE_INBOX_MOUNT,
            }),
            interpreter: ["/bin/bash", "-c"],
            // A replaced node container is an empty engine: its id in the triggers delivers again.
            triggers: [image, this.containerId],
            addPreviousOutputInEnv: false,
        }, { parent: this.parent, ...opts, dependsOn: dependsOn(this.ready, opts) }));
    }
}

export function dependsOn(ready: pulumi.Input<pulumi.Resource>[], opts: pulumi.CustomResourceOptions): pulumi.Input<pulumi.Resource>[] {
    const extra = opts.dependsOn;
    const list = extra === undefined ? [] : Array.isArray(extra) ? extra : [extra as pulumi.Input<pulumi.Resource>];
    return [...ready, ...list];
}
