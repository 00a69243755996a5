// docker:index/secret:Secret — swarm secrets are immutable: every argument forces a new one; an explicit name
// means delete first (auto-named: the new secret is created before the old one is deleted).
import * as crypto from "node:crypto";
import { dockerApi } from "../docker-api";
import { apiDelete, diffAllReplace, explicitName, Handler, labelsFrom, labelsOf, retry } from "./common";

export const secret: Handler = {
    async create(name, i, ctx) {
        const secretName = i.name ?? `${name}-${crypto.randomBytes(4).toString("hex")}`;
        const res = (await dockerApi(ctx.engine, "POST", "/secrets/create", { Name: secretName, Data: i.data, Labels: labelsOf(i.labels) })) as { ID: string };
        const s = (await dockerApi(ctx.engine, "GET", `/secrets/${res.ID}`)) as { Spec: { Name: string; Labels: Record<string, string> | null } };
        // the engine never returns the data: the state keeps the input's
        return { id: res.ID, outputs: { data: i.data, name: s.Spec.Name, labels: labelsFrom(s.Spec.Labels) } };
    },
    diff: diffAllReplace,
    deleteBeforeReplace: explicitName,
    async delete(_name, id, _i, _s, ctx) {
        // still referenced by a service that is being updated away from it: retry
        await retry(30, () => apiDelete(ctx, `/secrets/${id}`));
    },
};
