// docker:index/volume:Volume — every argument forces a new volume; an explicit name means delete first.
import { dockerApi, dockerHostArgs } from "../docker-api";
import { apiExists, Ctx, diffAllReplace, docker, explicitName, Handler, labelsFrom, labelsOf, Props, retry, run } from "./common";

async function read(id: string, ctx: Ctx): Promise<Props> {
    const v = (await dockerApi(ctx.engine, "GET", `/volumes/${id}`)) as { Name: string; Driver: string; Labels: Record<string, string> | null; Options: Record<string, string> | null; Mountpoint: string };
    return { name: v.Name, driver: v.Driver, labels: labelsFrom(v.Labels), driverOpts: v.Options ?? {}, mountpoint: v.Mountpoint };
}

export const volume: Handler = {
    exists: (id, ctx) => apiExists(ctx, `/volumes/${id}`),
    async create(_name, i, ctx) {
        const args = ["volume", "create", ...Object.entries(labelsOf(i.labels)).flatMap(([k, v]) => ["--label", `${k}=${v}`]), String(i.name)];
        const name = await docker(ctx.engine, args);
        return { id: name, outputs: await read(name, ctx) };
    },
    diff: diffAllReplace,
    deleteBeforeReplace: explicitName,
    async delete(_name, id, _i, _s, ctx) {
        await retry(30, async () => {
            const r = await run(["docker", ...dockerHostArgs(ctx.engine), "volume", "rm", "-f", id]);
            if (r.code !== 0 && !/no such volume/i.test(r.stderr)) throw new Error(`docker volume rm ${id}: ${r.stderr.trim()}`);
        });
    },
};
