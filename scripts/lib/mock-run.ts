// Runs the real index.ts in-process under pulumi.runtime.setMocks and records what it declares: every resource
// (type, name, inputs, provider), its explicit dependsOn edges and which inputs are secret. Used by the mock tests
// (test/mocks/) and by `npm run diff` (one run per stack file, each in its own process: see resource-diff.ts).
import * as pulumi from "@pulumi/pulumi";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { LIVE_MANAGERS_ENV, LIVE_NETWORKS_ENV } from "../../components/manager-quorum";
import type { LiveNetwork } from "../../model";
import { PROJECT } from "../../model/config";


export { PROJECT };
export const ROOT = path.resolve(__dirname, "..", "..");
const INDEX = path.join(ROOT, "index.ts");

export interface Registered {
    readonly type: string;
    readonly name: string;
    readonly inputs: Record<string, unknown>;
    readonly provider?: string;
}

export interface Declared {
    readonly type: string;
    readonly name: string;
    /** Logical names of the explicit dependsOn resources. */
    readonly dependsOn: string[];
    /** Logical name of the parent resource. */
    readonly parent?: string;
    /** Input property names whose value is a secret Output. */
    readonly secretInputs: string[];
    /** The URN the Pulumi engine gives this resource: the parents' types (the root stack aside) joined by `$`. */
    readonly urn: string;
    /** Aliases given in the resource options, as the program passed them. */
    readonly aliases: readonly (string | pulumi.Alias)[];
    /** The resource's ignoreChanges option. */
    readonly ignoreChanges: readonly string[];
}

export interface RunResult {
    readonly resources: Registered[];
    readonly declared: Map<string, Declared>;
    readonly outputs: Record<string, unknown>;
    readonly secretOutputs: Set<string>;
    /** Where the program wrote its image build contexts (a path inside some inputs). */
    readonly buildDir: string;
}

export interface RunOptions {
    readonly stack: string;
    /** Platform config keys (without the project prefix). */
    readonly config: Record<string, unknown>;
    /** Secret config values by key. */
    readonly secrets?: Record<string, string>;
    readonly preview?: boolean;
    /** The program to run (default: the real index.ts). */
    readonly program?: string;
    /** Where the program writes image build contexts (default: a directory per process and stack under the OS temp dir). */
    readonly buildDir?: string;
    /** The live swarm's managers the program's quorum read sees (default: none, a first up); mock runs never touch a machine. */
    readonly liveManagers?: readonly { readonly name: string; readonly reachable: boolean }[];
    /** With liveManagers: the swarm's networks the read lists (default: not known). */
    readonly liveNetworks?: readonly LiveNetwork[];
    /** Record what each resource declares (`declared`: dependsOn, parent, secret inputs, URN) and each one's inputs
     *  (default true). bench/scale.ts turns it off: the tests' bookkeeping is not the program's cost. */
    readonly record?: boolean;
}

/**
 * What the fake manager answers swarm-join-token with, per role; and swarm-init's unlock key. Tests look for these.
 * The tokens are the ones swarm-init used to print here: a real swarm's token does not change until it is rotated.
 */
export const MOCK_JOIN_TOKENS = { worker: "SWMTKN-worker", manager: "SWMTKN-manager" } as const;
export const MOCK_UNLOCK_KEY = "SWMKEY-1-mock-unlock-key";

/** Which node script a command's stdin runs (the envelope's first comment line names it). */
function scriptOf(stdin: string): string | undefined {
    return /^# swarm-platform node script "([a-z-]+)"/m.exec(stdin)?.[1];
}

/**
 * What the fake nodes print: swarm-init, swarm-join-token, swarm-join and engine-tls are the scripts whose stdout the program
 * parses. A node id names the machine the command runs on (its container or ssh host), as a real swarm node id would.
 */
function commandStdout(inputs: Record<string, unknown>): string {
    const stdin = String(inputs.stdin ?? "");
    const connection = inputs.connection as { host?: string } | undefined;
    const machine = connection?.host ?? String(inputs.create ?? "").replace(/^docker exec -i (\S+) .*$/, "$1");
    switch (scriptOf(stdin)) {
        case "swarm-init":
            return JSON.stringify({ nodeId: `id-${machine}`, managerAddr: "x:2377", unlockKey: MOCK_UNLOCK_KEY });
        case "swarm-join-token": {
            const role = /^sp_env ROLE '([A-Za-z0-9+/=]*)'$/m.exec(stdin)?.[1];
            return JSON.stringify({ token: Buffer.from(role ?? "", "base64").toString() === "manager" ? MOCK_JOIN_TOKENS.manager : MOCK_JOIN_TOKENS.worker });
        }
        case "swarm-join":
            return JSON.stringify({ nodeId: `id-${machine}` });
        case "engine-tls": {
            const pem = (what: string) => Buffer.from(`-----BEGIN FAKE ${what}-----\n`).toString("base64");
            return JSON.stringify({ ca: pem("CA"), serverCert: pem("SERVER CERT"), serverKey: pem("SERVER KEY"), clientCert: pem("CLIENT CERT"), clientKey: pem("CLIENT KEY") });
        }
        default:
            return "ok";
    }
}

function fakeState(type: string, inputs: Record<string, unknown>): Record<string, unknown> {
    switch (type) {
        case "command:local:Command":
        case "command:remote:Command":
            return { ...inputs, stdout: commandStdout(inputs), stderr: "" };
        case "random:index/randomPassword:RandomPassword":
            return { ...inputs, result: "Pa55w0rd" };
        case "docker:index/image:Image":
            return { ...inputs, repoDigest: `${String(inputs.imageName)}@sha256:0` };
        default:
            return inputs;
    }
}


process.on("exit", () => fs.rmSync(path.join(os.tmpdir(), `swarm-platform-mocks-${process.pid}`), { recursive: true, force: true }));

export async function runProgram(opts: RunOptions): Promise<RunResult> {
    const record = opts.record ?? true;
    const resources: Registered[] = [];
    const pending: Promise<Declared>[] = [];
    await pulumi.runtime.setMocks(
        {
            newResource(args: pulumi.runtime.MockResourceArgs) {
                const inputs = unwrapSecrets(args.inputs) as Record<string, unknown>;
                resources.push({ type: args.type, name: args.name, inputs: record ? inputs : {}, ...(args.provider ? { provider: args.provider } : {}) });
                return { id: `${args.name}-id`, state: fakeState(args.type, inputs) };
            },
            call(args: pulumi.runtime.MockCallArgs) {
                return args.inputs;
            },
        },
        PROJECT,
        opts.stack,
        opts.preview ?? false,
    );
    const config: Record<string, string> = {};
    // As the CLI passes config: structured values as JSON, plain strings bare (`swarm-platform:driver: docker`).
    for (const [k, v] of Object.entries(opts.config)) config[`${PROJECT}:${k}`] = typeof v === "string" ? v : JSON.stringify(v);
    for (const [k, v] of Object.entries(opts.secrets ?? {})) config[`${PROJECT}:${k}`] = v;
    pulumi.runtime.setAllConfig(config, Object.keys(opts.secrets ?? {}).map((k) => `${PROJECT}:${k}`));
    // One build dir per stack, as in real use (.build/<stack>): the image build context path is an input.
    const buildDir = opts.buildDir ?? path.join(os.tmpdir(), `swarm-platform-mocks-${process.pid}`, opts.stack);
    process.env.SWARM_PLATFORM_BUILD_DIR = buildDir;
    process.env[LIVE_MANAGERS_ENV] = JSON.stringify(opts.liveManagers ?? []);
    if (opts.liveNetworks) process.env[LIVE_NETWORKS_ENV] = JSON.stringify(opts.liveNetworks);
    try {
        let program: Record<string, unknown> = {};
        let loadError: unknown;
        // Inside a root stack resource, as under the CLI: stack transformations need one.
        await pulumi.runtime.runInPulumiStack(async () => {
            const qualifiedTypes = new Map<pulumi.Resource, string>();
            if (record) pulumi.runtime.registerStackTransformation((args) => {
                const parentType = args.opts.parent ? qualifiedTypes.get(args.opts.parent) : undefined;
                const qualifiedType = parentType ? `${parentType}$${args.type}` : args.type;
                qualifiedTypes.set(args.resource, qualifiedType);
                const urn = `urn:pulumi:${opts.stack}::${PROJECT}::${qualifiedType}::${args.name}`;
                pending.push(describe(args, urn));
                return undefined;
            });
            const entry = opts.program ?? INDEX;
            delete require.cache[require.resolve(entry)];
            try {
                // eslint-disable-next-line @typescript-eslint/no-require-imports
                program = require(entry) as Record<string, unknown>;
            } catch (err) {
                // Rethrown below, after the stack resource settles, so no promise is left rejected behind.
                loadError = err;
            }
            return undefined;
        });
        if (loadError !== undefined) {
            await pulumi.runtime.disconnect();
            // What was registered before the failure (the root stack aside): tests assert it is nothing.
            throw Object.assign(loadError as Error, { registered: resources.filter((r) => r.type !== "pulumi:pulumi:Stack").map((r) => r.name) });
        }
        const outputs: Record<string, unknown> = {};
        const secretOutputs = new Set<string>();
        for (const [key, value] of Object.entries(program)) {
            if (pulumi.Output.isInstance(value)) {
                outputs[key] = await settle(value);
                if (await pulumi.isSecret(value)) secretOutputs.add(key);
            } else outputs[key] = value;
        }
        // The program has ended: every registration is answered before the monitor closes.
        await pulumi.runtime.disconnect();
        const declared = new Map((await Promise.all(pending)).map((d) => [d.name, d]));
        return { resources, declared, outputs, secretOutputs, buildDir };
    } finally {
        delete process.env.SWARM_PLATFORM_BUILD_DIR;
        delete process.env[LIVE_MANAGERS_ENV];
        delete process.env[LIVE_NETWORKS_ENV];
    }
}

async function describe(args: pulumi.ResourceTransformationArgs, urn: string): Promise<Declared> {
    const dependsOn = await Promise.all((await gatherDependsOn(args.opts.dependsOn)).map(async (res) => nameOfUrn(await settle(res.urn))));
    const parent = args.opts.parent ? nameOfUrn(await settle(args.opts.parent.urn)) : undefined;
    const secretInputs: string[] = [];
    for (const [key, value] of Object.entries(args.props ?? {})) {
        if (pulumi.Output.isInstance(value) && (await pulumi.isSecret(value))) secretInputs.push(key);
    }
    const aliases = (args.opts.aliases ?? []) as (string | pulumi.Alias)[];
    return { type: args.type, name: args.name, dependsOn, ...(parent ? { parent } : {}), secretInputs, urn, aliases, ignoreChanges: args.opts.ignoreChanges ?? [] };
}

const SECRET_SIG = "4dabf18193072939515e22adb298388d";

/** Mocks receive secret inputs wrapped in the wire format's secret envelope; tests want the plain values. */
function unwrapSecrets(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(unwrapSecrets);
    if (value && typeof value === "object") {
        const obj = value as Record<string, unknown>;
        if (SECRET_SIG in obj && "value" in obj) return unwrapSecrets(obj.value);
        return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, unwrapSecrets(v)]));
    }
    return value;
}

/** `dependsOn` as the SDK reads it: a resource, an array, or a promise or output of either, nested. */
async function gatherDependsOn(deps: unknown): Promise<pulumi.Resource[]> {
    if (deps === undefined || deps === null) return [];
    if (Array.isArray(deps)) return (await Promise.all(deps.map(gatherDependsOn))).flat();
    if (pulumi.Output.isInstance(deps)) return gatherDependsOn(await settle(deps as pulumi.Output<unknown>));
    if (deps instanceof Promise) return gatherDependsOn(await deps);
    return [deps as pulumi.Resource];
}

function settle<T>(o: pulumi.Output<T>): Promise<T> {
    return new Promise((resolve) => o.apply((v) => resolve(v)));
}

function nameOfUrn(urn: string): string {
    return urn.split("::").pop() ?? urn;
}
