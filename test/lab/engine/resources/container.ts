// docker:index/container:Container — delete-before-replace always (pulumi-docker marks it so); restart policy,
// memory and cpu settings update in place (`ContainerUpdate`), every other field forces a new container.
// `uploads` are copied into the created container before it starts (the provider's create: create, copy, start).
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { dockerHostArgs } from "../docker-api";
import { apiExists, changedKeys, docker, Handler, labelsOf, matches, Props, run, UNKNOWN, labelSet } from "./common";

/** The inputs the provider changes in place. */
const UPDATABLE = ["restart", "maxRetryCount", "cpuShares", "memory", "memoryReservation", "cpuSet", "memorySwap"];

export const container: Handler = {
    exists: (id, ctx) => apiExists(ctx, `/containers/${id}/json`),
    async create(_name, i, ctx) {
        const uploads = (i.uploads as Props[] | undefined) ?? [];
        const args = [uploads.length ? "create" : "run", ...(uploads.length ? [] : ["-d"]), "--name", String(i.name)];
        if (i.hostname) args.push("--hostname", String(i.hostname));
        if (i.restart) args.push("--restart", String(i.restart));
        if (i.privileged) args.push("--privileged");
        const caps = (i.capabilities ?? {}) as { adds?: string[]; drops?: string[] };
        for (const c of caps.adds ?? []) args.push("--cap-add", c);
        for (const c of caps.drops ?? []) args.push("--cap-drop", c);
        for (const s of (i.securityOpts as string[]) ?? []) args.push("--security-opt", s);
        const nets = (i.networksAdvanced as Props[]) ?? [];
        if (nets[0]) {
            args.push("--network", String(nets[0].name));
            if (nets[0].ipv4Address) args.push("--ip", String(nets[0].ipv4Address));
            for (const a of (nets[0].aliases as string[]) ?? []) args.push("--network-alias", a);
        }
        for (const v of (i.volumes as Props[]) ?? []) {
            const src = v.volumeName ?? v.hostPath;
            args.push("-v", `${String(src)}:${String(v.containerPath)}${v.readOnly ? ":ro" : ""}`);
        }
        for (const e of (i.envs as string[]) ?? []) args.push("-e", e);
        for (const p of (i.ports as Props[]) ?? []) {
            args.push("-p", `${p.ip ? `${String(p.ip)}:` : ""}${p.external ?? ""}:${String(p.internal)}${p.protocol && p.protocol !== "tcp" ? `/${String(p.protocol)}` : ""}`);
        }
        for (const [k, v] of Object.entries(labelsOf(i.labels))) args.push("--label", `${k}=${v}`);
        args.push(String(i.image), ...((i.commands as string[]) ?? []));
        const id = await docker(ctx.engine, args, 120_000);
        if (uploads.length) {
            await upload(ctx.engine, id, uploads);
            await docker(ctx.engine, ["start", id], 120_000);
        }
        for (const n of nets.slice(1)) {
            await docker(ctx.engine, ["network", "connect", ...(n.ipv4Address ? ["--ip", String(n.ipv4Address)] : []), String(n.name), id]);
        }
        // Not read back (see docs/provider-rules.md, "not modelled"): the state is the inputs.
        return { id, outputs: { ...i } };
    },
    async update(_name, id, _state, news, ctx) {
        if (news.restart) await docker(ctx.engine, ["update", "--restart", String(news.restart), id]);
        return { ...news };
    },
    diff(state, olds, news) {
        const changed = changedKeys(state, olds, news, (k, s, n) => (n !== UNKNOWN && k === "labels" ? matches(labelSet(s), labelSet(n)) : matches(s, n)));
        return { changed, replaces: changed.filter((k) => !UPDATABLE.includes(k)) };
    },
    deleteBeforeReplace: () => true,
    async delete(_name, id, _i, _s, ctx) {
        const r = await run(["docker", ...dockerHostArgs(ctx.engine), "rm", "-f", "-v", id], { timeoutMs: 120_000 });
        if (r.code !== 0 && !/no such container/i.test(r.stderr)) throw new Error(`docker rm ${id}: ${r.stderr.trim()}`);
    },
};

/** The provider's uploads: each file with its content and mode (root-owned), in one tar through `docker cp -`. */
async function upload(engine: string, id: string, uploads: Props[]): Promise<void> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lab-upload-"));
    try {
        fs.chmodSync(dir, 0o700);
        for (const u of uploads) {
            const file = path.join(dir, String(u.file));
            fs.mkdirSync(path.dirname(file), { recursive: true });
            const content = u.contentBase64 !== undefined ? Buffer.from(String(u.contentBase64), "base64") : Buffer.from(String(u.content ?? ""), "utf8");
            fs.writeFileSync(file, content);
            fs.chmodSync(file, u.permissions !== undefined ? parseInt(String(u.permissions), 8) : u.executable ? 0o744 : 0o644);
        }
        // file entries only, like the provider's tar (a "." entry would set the mode of the container's /)
        const files = uploads.map((u) => JSON.stringify(String(u.file).replace(/^\/+/, ""))).join(" ");
        const tar = `tar --owner=0 --group=0 --numeric-owner --no-recursion -C ${JSON.stringify(dir)} -cf - ${files} | docker ${dockerHostArgs(engine).map((a) => JSON.stringify(a)).join(" ")} cp - ${id}:/`;
        const r = await run(["bash", "-c", `set -o pipefail; ${tar}`], { timeoutMs: 60_000 });
        if (r.code !== 0) throw new Error(`upload into ${id}: ${r.stderr.trim()}`);
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}
