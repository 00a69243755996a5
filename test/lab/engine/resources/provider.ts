// pulumi:providers:docker — a provider resource: its configuration changes never replace it here (see "not modelled").
import * as crypto from "node:crypto";
import { changedKeys, Handler } from "./common";

export const provider: Handler = {
    async create(_name, inputs) {
        return { id: `provider-${crypto.createHash("sha256").update(String(inputs.host ?? "")).digest("hex").slice(0, 12)}`, outputs: inputs };
    },
    async update(_n, _id, _s, news) {
        return news;
    },
    diff: (state, olds, news) => ({ changed: changedKeys(state, olds, news), replaces: [] }),
    async delete() {},
};
