// npm run preview|up|destroy [-- <stack> [pulumi flags…]]: the Pulumi CLI with this project's backend and passphrase
// rules, one place for every script that runs it (promote too). The stack defaults to dev.
//   CLI:        `pulumi` from PATH, otherwise the `pulumi` npm package's (it downloads the real CLI on first use).
//   backend:    PULUMI_BACKEND_URL when set, otherwise file://<project>/.pulumi-state; never `pulumi login`.
//   passphrase: empty by default for dev only; any other passphrase-encrypted stack needs one set.
// When the CLI or a provider plugin cannot be downloaded, it prints one message saying what to do instead.
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as YAML from "yaml";

export const PROJECT_DIR = path.resolve(__dirname, "..");

/**
 * Where the npm package's `pulumi` is; only the tests set SWARM_PLATFORM_TEST_PULUMI_PACKAGE_BIN, to stand in
 * for a package whose download fails.
 */
function packageBin(env: NodeJS.ProcessEnv): string {
    return env.SWARM_PLATFORM_TEST_PULUMI_PACKAGE_BIN || path.join(PROJECT_DIR, "node_modules", ".bin", "pulumi");
}

// ---- finding the CLI ---------------------------------------------------------------------------------

export type Cli = { readonly kind: "path" | "package"; readonly bin: string };
export type CliResult = { ok: true; cli: Cli; notes: string } | { ok: false; reason: string };

function isExecutableFile(file: string): boolean {
    try {
        fs.accessSync(file, fs.constants.X_OK);
        return fs.statSync(file).isFile();
    } catch {
        return false;
    }
}

/**
 * `pulumi` on PATH, skipping node_modules/.bin: npm puts the package's own launcher there, which is the fallback,
 * not a CLI the user installed.
 */
export function pulumiOnPath(env: NodeJS.ProcessEnv): string | undefined {
    for (const dir of (env.PATH ?? "").split(path.delimiter)) {
        if (!dir || (path.basename(dir) === ".bin" && path.basename(path.dirname(dir)) === "node_modules")) continue;
        const candidate = path.join(dir, "pulumi");
        if (isExecutableFile(candidate)) return candidate;
    }
    return undefined;
}

/** The CLI binary the npm package keeps after its first download (its own cache layout). */
function packageCachedCli(env: NodeJS.ProcessEnv): string | undefined {
    let version: string;
    try {
        version = env.PULUMI_VERSION || (JSON.parse(fs.readFileSync(path.join(PROJECT_DIR, "node_modules", "pulumi", "package.json"), "utf8")) as { version: string }).version;
    } catch {
        return undefined;
    }
    const home = env.PULUMI_HOME || path.join(os.homedir(), ".pulumi");
    const bin = path.join(home, "versions", version, "bin", "pulumi");
    return isExecutableFile(bin) ? bin : undefined;
}

/**
 * A CLI that runs: PATH's, or the npm package's. The package downloads the CLI on first use; that download is
 * tried here (`pulumi version`), so a failure is told apart from a failure of the command itself.
 */
export function findCli(env: NodeJS.ProcessEnv, projectDir = PROJECT_DIR): CliResult {
    const onPath = pulumiOnPath(env);
    if (onPath) return { ok: true, cli: { kind: "path", bin: onPath }, notes: "" };
    const bin = packageBin(env);
    if (!isExecutableFile(bin)) {
        return { ok: false, reason: "no `pulumi` on PATH, and the npm package `pulumi` is not installed (npm ci installs it)" };
    }
    const cli: Cli = { kind: "package", bin };
    if (packageCachedCli(env)) return { ok: true, cli, notes: "" };
    const probe = spawnSync(bin, ["version"], { cwd: projectDir, env, encoding: "utf8", timeout: 600_000 });
    const output = `${probe.stdout ?? ""}${probe.stderr ?? ""}`;
    if (probe.status === 0) return { ok: true, cli, notes: output.split("\n").filter((l) => l.startsWith("Downloading")).join("\n") };
    // The launcher prints `pulumi: <why>` as its last line (e.g. `pulumi: fetch failed`).
    const why = output.trim().split("\n").pop()?.replace(/^pulumi:\s*/, "") || `exit ${probe.status ?? probe.signal}`;
    return { ok: false, reason: `no \`pulumi\` on PATH, and the npm package \`pulumi\` could not download the CLI (${why})` };
}

// ---- the environment -----------------------------------------------------------------------------------

export type StackEnvironment = { ok: true; env: NodeJS.ProcessEnv; backendUrl: string } | { ok: false; message: string };

export const DEV_STACK = "dev";

/** Stack names as Pulumi takes them (`dev`, `org/project/dev`); the last part names the stack file. */
const STACK_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*(\/[A-Za-z0-9][A-Za-z0-9_.-]*){0,2}$/;

/** True unless the stack file names a secrets provider other than the passphrase one. */
function usesPassphrase(projectDir: string, stack: string): boolean {
    const file = path.join(projectDir, `Pulumi.${stack.split("/").pop()}.yaml`);
    if (!fs.existsSync(file)) return true;
    try {
        const provider = (YAML.parse(fs.readFileSync(file, "utf8")) as { secretsprovider?: unknown } | null)?.secretsprovider;
        return provider === undefined || String(provider).startsWith("passphrase");
    } catch {
        return true; // an unreadable file: Pulumi will say why; ask for the passphrase as for any stack
    }
}

/**
 * The environment every Pulumi command of this project runs with: the project's backend (created when it is the
 * default file backend) and the passphrase rule. Nothing is changed outside the child's environment.
 */
export function stackEnvironment(stack: string, base: NodeJS.ProcessEnv = process.env, projectDir = PROJECT_DIR): StackEnvironment {
    if (!STACK_NAME.test(stack)) return { ok: false, message: `"${stack}" is not a stack name (letters, digits, _ . -; e.g. dev, prod)` };
    const env: NodeJS.ProcessEnv = { ...base };
    if (!env.PULUMI_BACKEND_URL) {
        const stateDir = path.join(projectDir, ".pulumi-state");
        fs.mkdirSync(stateDir, { recursive: true });
        env.PULUMI_BACKEND_URL = `file://${stateDir}`;
    }
    const hasPassphrase = env.PULUMI_CONFIG_PASSPHRASE !== undefined || !!env.PULUMI_CONFIG_PASSPHRASE_FILE;
    if (!hasPassphrase && usesPassphrase(projectDir, stack)) {
        // dev's only secrets are generated by the program (VRRP password, join tokens): an empty passphrase is enough.
        if (stack === DEV_STACK) env.PULUMI_CONFIG_PASSPHRASE = "";
        else {
            return {
                ok: false,
                message:
                    `stack ${stack}: set PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE, a file holding it) to the ` +
                    `passphrase that encrypts its secrets; the empty default is for the ${DEV_STACK} stack only.`,
            };
        }
    }
    return { ok: true, env, backendUrl: env.PULUMI_BACKEND_URL };
}

// ---- what to say when something cannot be downloaded ----------------------------------------------------

const OFFLINE_TOOLS = "Offline, these work without Pulumi: npm run render, npm run diff, npm test.";

export function cliUnavailableMessage(reason: string): string {
    return [
        `Pulumi CLI not available: ${reason}.`,
        "What to do: install the Pulumi CLI (the vendor's release archive or a Debian package of it) and put `pulumi` on",
        "PATH, which is used before the npm package; or copy a PULUMI_HOME whose versions/ already holds the CLI",
        "(filled by `npx pulumi version` on a machine with network access) and set PULUMI_HOME to it.",
        OFFLINE_TOOLS,
    ].join("\n");
}

/** The provider plugins this program needs: the @pulumi/* dependencies that are resource providers. */
export function requiredPlugins(projectDir = PROJECT_DIR): { name: string; version: string }[] {
    const pkg = JSON.parse(fs.readFileSync(path.join(projectDir, "package.json"), "utf8")) as { dependencies?: Record<string, string> };
    const plugins: { name: string; version: string }[] = [];
    for (const dep of Object.keys(pkg.dependencies ?? {})) {
        try {
            const meta = JSON.parse(fs.readFileSync(path.join(projectDir, "node_modules", dep, "package.json"), "utf8")) as {
                version: string;
                pulumi?: { resource?: boolean; name?: string; version?: string };
            };
            if (meta.pulumi?.resource) plugins.push({ name: meta.pulumi.name ?? dep.replace(/^@pulumi\//, ""), version: meta.pulumi.version ?? meta.version });
        } catch {
            // not installed: nothing to name
        }
    }
    return plugins;
}

const PLUGIN_FAILURE = /failed to download plugin|could not find plugin|no resource plugin|could not automatically download and install|error installing plugin|failed to install plugin/i;

/** The plugin failure in a Pulumi output, if there is one: the plugins it names (`pulumi plugin install resource X vY`). */
export function pluginFailure(output: string): { named: string[] } | undefined {
    if (!PLUGIN_FAILURE.test(output)) return undefined;
    const named = [...new Set([...output.matchAll(/pulumi plugin install (resource|language) ([\w-]+) (v?[\d][\w.+-]*)/g)].map((m) => `${m[1]} ${m[2]} ${m[3].replace(/^v/, "")}`))];
    return { named };
}

export function pluginUnavailableMessage(failure: { named: string[] }, projectDir = PROJECT_DIR): string {
    const installs = failure.named.length
        ? failure.named
        : requiredPlugins(projectDir).map((p) => `resource ${p.name} ${p.version}`);
    return [
        `Pulumi provider plugin not available: the CLI could not download ${failure.named.length ? failure.named.map((n) => n.split(" ")[1]).join(", ") : "a provider plugin"}.`,
        "What to do: on a machine with network access run",
        ...installs.map((i) => `  pulumi plugin install ${i}`),
        "then copy its PULUMI_HOME (~/.pulumi; the plugins are under plugins/) here and set PULUMI_HOME to it.",
        OFFLINE_TOOLS,
    ].join("\n");
}

// ---- running it --------------------------------------------------------------------------------------------

/** The output kept for recognising failures: the end of it, where Pulumi prints its errors. */
const KEPT_OUTPUT = 1 << 20;

/** Runs the CLI with the output streamed through (and kept), Ctrl-C left to the child, which gets it from the terminal. */
export function runCli(cli: Cli, args: readonly string[], env: NodeJS.ProcessEnv, projectDir = PROJECT_DIR): Promise<{ status: number; output: string }> {
    return new Promise((resolve) => {
        let output = "";
        const keep = (chunk: Buffer, to: NodeJS.WriteStream) => {
            to.write(chunk);
            output = (output + chunk.toString("utf8")).slice(-KEPT_OUTPUT);
        };
        const child = spawn(cli.bin, [...args], { cwd: projectDir, env, stdio: ["inherit", "pipe", "pipe"] });
        const ignoreInterrupt = () => undefined;
        const forwardTerm = () => child.kill("SIGTERM");
        process.on("SIGINT", ignoreInterrupt);
        process.on("SIGTERM", forwardTerm);
        child.stdout.on("data", (c: Buffer) => keep(c, process.stdout));
        child.stderr.on("data", (c: Buffer) => keep(c, process.stderr));
        const done = (status: number) => {
            process.off("SIGINT", ignoreInterrupt);
            process.off("SIGTERM", forwardTerm);
            resolve({ status, output });
        };
        child.on("error", (err) => {
            output += `\n${err.message}`;
            done(127);
        });
        child.on("close", (code, signal) => done(code ?? (signal ? 128 + (os.constants.signals[signal] ?? 0) : 1)));
    });
}

export type PulumiOutcome =
    | { kind: "ok" }
    | { kind: "failed"; status: number } // the command ran and failed; its output says why
    | { kind: "unavailable"; message: string; oneLine: string }; // no CLI, or no plugin: nothing ran

/** Runs `commands` in order with the stack's environment, stopping at the first that fails. */
export async function runPulumi(stack: string, commands: readonly (readonly string[])[], opts: { env?: NodeJS.ProcessEnv; projectDir?: string } = {}): Promise<PulumiOutcome | { kind: "refused"; message: string }> {
    const projectDir = opts.projectDir ?? PROJECT_DIR;
    const environment = stackEnvironment(stack, opts.env ?? process.env, projectDir);
    if (!environment.ok) return { kind: "refused", message: environment.message };
    const found = findCli(environment.env, projectDir);
    if (!found.ok) return { kind: "unavailable", message: cliUnavailableMessage(found.reason), oneLine: `Pulumi CLI not available: ${found.reason}` };
    if (found.notes) console.error(found.notes);
    for (const args of commands) {
        const { status, output } = await runCli(found.cli, args, environment.env, projectDir);
        if (status === 0) continue;
        const plugin = pluginFailure(output);
        if (plugin) {
            return { kind: "unavailable", message: pluginUnavailableMessage(plugin, projectDir), oneLine: "Pulumi provider plugin not available (download failed)" };
        }
        return { kind: "failed", status };
    }
    return { kind: "ok" };
}

// ---- npm run preview | up | destroy ---------------------------------------------------------------------------

const USAGE = "usage: npm run preview|up|destroy [-- <stack> [pulumi flags…]]   (stack: dev when left out)";

export function commandsFor(action: string, stack: string, extra: readonly string[]): string[][] | undefined {
    switch (action) {
        case "preview":
            return [["preview", "--stack", stack, ...extra]];
        case "up":
            return [["stack", "select", "--create", stack], ["up", "--yes", "--stack", stack, ...extra]];
        case "destroy":
            return [["destroy", "--yes", "--stack", stack, ...extra]];
        default:
            return undefined;
    }
}

export async function main(argv: readonly string[]): Promise<number> {
    const [action = "", ...rest] = argv;
    const stackGiven = rest.length > 0 && !rest[0].startsWith("-");
    const stack = stackGiven ? rest[0] : DEV_STACK;
    const commands = commandsFor(action, stack, stackGiven ? rest.slice(1) : rest);
    if (!commands) {
        console.error(USAGE);
        return 2;
    }
    const outcome = await runPulumi(stack, commands);
    switch (outcome.kind) {
        case "ok":
            return 0;
        case "failed":
            return outcome.status;
        case "refused":
        case "unavailable":
            console.error(outcome.message);
            return 1;
    }
}

if (require.main === module) {
    main(process.argv.slice(2)).then(
        (code) => (process.exitCode = code),
        (err: Error) => {
            console.error(`pulumi wrapper: ${err.message}`);
            process.exitCode = 1;
        },
    );
}
