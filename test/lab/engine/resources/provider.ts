// pulumi:providers:docker — a provider resource: its configuration changes never replace it here (see "not modelled").
// A provider with caMaterial/certMaterial/keyMaterial reaches its host over TLS with that client certificate.
import * as crypto from "node:crypto";
import { useEngineTls } from "../docker-api";
import { changedKeys, Handler, Props } from "./common";

/** Registers the client TLS of a provider's engine, when it has any (the provider's own rule: all three or none). */
export function registerProviderTls(inputs: Props): void {
    const { host, caMaterial, certMaterial, keyMaterial } = inputs;
    if (typeof host !== "string") return;
    if (caMaterial === undefined && certMaterial === undefined && keyMaterial === undefined) return;
    if (typeof caMaterial !== "string" || typeof certMaterial !== "string" || typeof keyMaterial !== "string") {
        throw new Error(`docker provider for ${host}: caMaterial, certMaterial and keyMaterial go together`);
    }
    useEngineTls(host, { ca: caMaterial, cert: certMaterial, key: keyMaterial });
}

export const provider: Handler = {
    async create(_name, inputs) {
        registerProviderTls(inputs);
        return { id: `provider-${crypto.createHash("sha256").update(String(inputs.host ?? "")).digest("hex").slice(0, 12)}`, outputs: inputs };
    },
    async update(_n, _id, _s, news) {
        registerProviderTls(news);
        return news;
    },
    diff: (state, olds, news) => ({ changed: changedKeys(state, olds, news), replaces: [] }),
    async delete() {},
};
