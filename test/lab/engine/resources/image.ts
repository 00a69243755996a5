// docker:index/image:Image — pulumi-docker's NATIVE resource (not bridged): never replaced, every change is an
// update that builds again (a changed build context shows as a changed `build.contextDigest`), and delete does
// nothing: the tags it built stay on the engine.
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { changedKeys, docker, Handler, Props } from "./common";

/** What the provider's Check adds to `build`: a digest of the context's files (so edited files are a diff). */
function contextDigest(context: string): string {
    const h = crypto.createHash("sha256");
    const walk = (rel: string): void => {
        for (const e of fs.readdirSync(path.join(context, rel), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
            const child = path.join(rel, e.name);
            if (e.isDirectory()) walk(child);
            else if (e.isFile()) h.update(child).update("\0").update(fs.readFileSync(path.join(context, child))).update("\0");
        }
    };
    if (fs.existsSync(context)) walk(".");
    return h.digest("hex");
}

/** The inputs as the provider checks them: `build` gains the context digest. */
function checked(i: Props): Props {
    const b = (i.build ?? {}) as Props;
    return { ...i, build: { ...b, contextDigest: contextDigest(String(b.context ?? ".")) } };
}

async function build(i: Props, engine: string): Promise<Props> {
    const b = (i.build ?? {}) as Props;
    const args = ["build", "-q", "-t", String(i.imageName)];
    if (b.dockerfile) args.push("-f", String(b.dockerfile));
    for (const [k, v] of Object.entries((b.args as Props) ?? {})) args.push("--build-arg", `${k}=${String(v)}`);
    args.push(String(b.context ?? "."));
    const id = await docker(engine, args, 600_000);
    return { ...checked(i), id, repoDigest: "", baseImageName: i.imageName };
}

export const image: Handler = {
    async create(_name, i, ctx) {
        const outputs = await build(i, ctx.engine);
        return { id: String(outputs.id), outputs };
    },
    async update(_name, _id, _state, news, ctx) {
        return build(news, ctx.engine);
    },
    // old inputs (kept in the state) against the checked new inputs; nothing ever forces a replacement
    diff(state, olds, news) {
        const n = checked(news);
        const oldInputs = Object.fromEntries(Object.keys({ ...olds, ...n }).map((k) => [k, state[k]]));
        return { changed: changedKeys(oldInputs, olds, n), replaces: [] };
    },
    async delete() {
        // by design: the built tags stay (test/lab/cleanup.sh sweeps the lab's)
    },
};
