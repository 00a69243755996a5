// Driver `ssh`: existing machines reached over SSH; bootstrap installs the Docker engine and keepalived when missing.
// Every connection trusts only the node's pinned host key: @pulumi/command's `connection.hostKey` for the node
// scripts, the plan's ssh client options for the local ssh (docker provider, image loads).
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { PlanDriver, PlanNode } from "../../model";
import { type PlanNodeSsh, sshDeliveryArgs, sshRemoteDocker } from "../../model/nodes";
import { dependsOn } from "./docker";
import { commandOptions, deleteCommandLine, logging, NodeRunner, RunScriptArgs, scriptPayload, ScriptRun, toScriptRun } from "./runner";

type SshSettings = Extract<PlanDriver, { name: "ssh" }>["ssh"];

/** The nodes and the ssh driver's settings. */
export interface SshNodesArgs {
    /** The planned nodes: existing machines. */
    readonly nodes: readonly PlanNode[];
    /** The ssh driver's settings. */
    readonly ssh: SshSettings;
    /** The deploy user's private key (a Pulumi secret). */
    readonly privateKey: pulumi.Input<string>;
    /** Where image deliveries keep their saved images and locks (on the machine running Pulumi). */
    readonly imageCacheDir: string;
}

/** Driver `ssh`: existing machines; bootstrap installs the Docker engine and keepalived when missing. */
export class SshNodes extends pulumi.ComponentResource {
    /** A runner per node name. */
    public readonly runners: Record<string, NodeRunner> = {};
    /** ssh://user@host:port of the first manager, for the swarm-level docker provider (uses the local ssh client and agent). */
    public readonly managerHost: string;

    constructor(name: string, args: SshNodesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("swarm:nodes:SshNodes", name, {}, opts);
        for (const node of args.nodes) {
            const ssh = requireSsh(node);
            const connection: command.types.input.remote.ConnectionArgs = {
                host: ssh.host,
                port: ssh.port,
                user: ssh.user,
                // The provider dials with exactly this key as the only accepted host key (ssh.FixedHostKey).
                hostKey: ssh.hostKey,
                privateKey: pulumi.secret(args.privateKey),
                dialErrorLimit: 3,
            };
            const shell = args.ssh.sudo ? "sudo -n bash -s" : "bash -s";
            const bootstrap = new command.remote.Command(`${name}-${node.name}-bootstrap`, {
                connection,
                create: shell,
                stdin: scriptPayload(node.name, "node-bootstrap", {
                    GATEWAY_PORTS: node.gatewayPorts.join(" "),
                    // The docker provider's ssh:// connection runs `docker system dial-stdio` as this user.
                    DOCKER_USER: ssh.user,
                }),
                addPreviousOutputInEnv: false,
            }, { parent: this });
            this.runners[node.name] = new SshRunner(this, node, connection, shell, args.ssh, args.imageCacheDir, [bootstrap]);
        }
        const first = requireSsh(args.nodes.find((n) => n.bootstrap) as PlanNode);
        this.managerHost = `ssh://${first.user}@${first.host}:${first.port}`;
        this.registerOutputs({ managerHost: this.managerHost });
    }
}

function requireSsh(node: PlanNode): PlanNodeSsh {
    if (!node.ssh) throw new Error(`node ${node.name}: driver ssh needs an ssh host`);
    return node.ssh;
}

class SshRunner implements NodeRunner {
    constructor(
        private readonly parent: pulumi.Resource,
        public readonly node: PlanNode,
        private readonly connection: command.types.input.remote.ConnectionArgs,
        private readonly shell: string,
        private readonly settings: SshSettings,
        public readonly imageCacheDir: string,
        public readonly ready: pulumi.Input<pulumi.Resource>[],
    ) {}

    run(name: string, args: RunScriptArgs, opts: pulumi.CustomResourceOptions): ScriptRun {
        const onDelete = args.onDelete;
        return toScriptRun(new command.remote.Command(name, {
            connection: this.connection,
            create: this.shell,
            stdin: scriptPayload(this.node.name, args.script, args.env),
            ...(onDelete ? { delete: deleteCommandLine(this.node.name, onDelete, this.shell) } : {}),
            logging: logging(args),
            addPreviousOutputInEnv: false,
            ...(args.triggers ? { triggers: args.triggers } : {}),
        }, commandOptions(args, { parent: this.parent, ...opts, dependsOn: dependsOn(this.ready, opts) })));
    }

    /** image-deliver over ssh: the local ssh client authenticates with the agent and trusts only the pinned host key. */
    loadImage(name: string, image: pulumi.Input<string>, opts: pulumi.CustomResourceOptions): ScriptRun {
        const ssh = requireSsh(this.node);
        return toScriptRun(new command.local.Command(name, {
            create: "bash -s",
            // Values only in the payload's envelope (base64), never in a command line: bash never parses a stack value.
            stdin: scriptPayload(this.node.name, "image-deliver", {
                IMAGE: image,
                CACHE_DIR: this.imageCacheDir,
                NODE_KEY: this.node.name,
                SSH_ARGS: sshDeliveryArgs(ssh).join("\n"),
                REMOTE_DOCKER: sshRemoteDocker(this.settings.sudo),
            }),
            interpreter: ["/bin/bash", "-c"],
            triggers: [image],
            addPreviousOutputInEnv: false,
        }, { parent: this.parent, ...opts, dependsOn: dependsOn(this.ready, opts) }));
    }
}
