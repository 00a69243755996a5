// pulumi:providers:docker — a provider resource: its configuration changes never replace it here (see "not modelled").
// A provider with caMaterial/certMaterial/keyMaterial reaches its host over TLS with that client certificate; one
// with an ssh:// host reaches it through the local ssh client with its sshOpts (docker system dial-stdio).
import * as crypto from "node:crypto";
import { useEngineSsh, useEngineTls } from "../docker-api";
import { changedKeys, Handler, Props } from "./common";

/** Registers how a provider's engine is reached: client TLS when it has any (all three or none), ssh:// with its sshOpts. */
export function registerProviderTls(inputs: Props): void {
    const { host, caMaterial, certMaterial, keyMaterial } = inputs;
    if (typeof host !== "string") return;
    // A provider's non-string configuration reaches it JSON-encoded (the SDK serialises provider inputs that way).
    const sshOpts = typeof inputs.sshOpts === "string" ? (JSON.parse(inputs.sshOpts) as unknown) : inputs.sshOpts;
    if (host.startsWith("ssh://")) {
        if (sshOpts !== undefined && !(Array.isArray(sshOpts) && sshOpts.every((o) => typeof o === "string"))) {
            throw new Error(`docker provider for ${host}: sshOpts must be a list of strings`);
        }
        useEngineSsh(host, (sshOpts as string[] | undefined) ?? []);
    }
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
