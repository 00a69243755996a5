// docker:index/container:Container — delete-before-replace always (pulumi-docker marks it so); restart policy,
// memory and cpu settings update in place (`ContainerUpdate`), every other field forces a new container.
import { apiExists, changedKeys, docker, Handler, labelsOf, matches, Props, run, UNKNOWN, labelSet } from "./common";

/** The inputs the provider changes in place. */
const UPDATABLE = ["restart", "maxRetryCount", "cpuShares", "memory", "memoryReservation", "cpuSet", "memorySwap"];

export const container: Handler = {
    exists: (id, ctx) => apiExists(ctx, `/containers/${id}/json`),
    async create(_name, i, ctx) {
        const args = ["run", "-d", "--name", String(i.name)];
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
        const r = await run(["docker", "-H", ctx.engine, "rm", "-f", "-v", id], { timeoutMs: 120_000 });
        if (r.code !== 0 && !/no such container/i.test(r.stderr)) throw new Error(`docker rm ${id}: ${r.stderr.trim()}`);
    },
};
