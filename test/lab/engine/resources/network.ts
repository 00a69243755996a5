// docker:index/network:Network — every argument forces a new network; the name is required (delete first).
import { dockerApi } from "../docker-api";
import { apiDelete, apiExists, changedKeys, Ctx, Diff, Handler, labelSet, labelsFrom, labelsOf, matches, Props, retry, sleep, UNKNOWN } from "./common";

interface Inspect {
    Name: string;
    Driver: string;
    Scope: string;
    Internal: boolean;
    Attachable: boolean;
    Ingress: boolean;
    EnableIPv6: boolean;
    Options: Record<string, string> | null;
    Labels: Record<string, string> | null;
    IPAM: { Driver: string; Options: Record<string, string> | null; Config: { Subnet?: string; Gateway?: string; IPRange?: string; AuxiliaryAddresses?: Record<string, string> }[] | null };
}

/** The state as the provider reads it: once, 2 s after the create (its read's first delay). A swarm network not allocated by then reads back with driver "", IPAM driver "" and no IPAM config. */
async function read(id: string, ctx: Ctx, afterCreate: boolean): Promise<Props> {
    if (afterCreate) await sleep(2000);
    const n = (await dockerApi(ctx.engine, "GET", `/networks/${id}`)) as Inspect;
    return {
        name: n.Name,
        driver: n.Driver,
        internal: n.Internal,
        attachable: n.Attachable,
        ingress: n.Ingress,
        ipv6: n.EnableIPv6,
        options: n.Options ?? {},
        labels: labelsFrom(n.Labels),
        ipamDriver: n.IPAM.Driver,
        ipamOptions: n.IPAM.Options ?? {},
        ipamConfigs: ipamSet((n.IPAM.Config ?? []).map((c) => ({ subnet: c.Subnet, gateway: c.Gateway, ipRange: c.IPRange, auxAddress: c.AuxiliaryAddresses }))),
        scope: n.Scope,
    };
}

/** `ipam_config` is a set of blocks whose fields are plain optionals: a field the program leaves out is "" there. */
function ipamSet(v: unknown): unknown {
    if (!Array.isArray(v)) return v;
    return v
        .map((c: Props) => ({ subnet: c.subnet ?? "", ipRange: c.ipRange ?? "", gateway: c.gateway ?? "", auxAddress: c.auxAddress ?? {} }))
        .sort((a, b) => (a.subnet < b.subnet ? -1 : 1));
}

export const network: Handler = {
    exists: (id, ctx) => apiExists(ctx, `/networks/${id}`),
    async create(_name, i, ctx) {
        const ipam = ((i.ipamConfigs as Props[]) ?? []).map((c) => ({ Subnet: c.subnet, ...(c.gateway ? { Gateway: c.gateway } : {}), ...(c.ipRange ? { IPRange: c.ipRange } : {}) }));
        const res = (await dockerApi(ctx.engine, "POST", "/networks/create", {
            Name: i.name,
            Driver: i.driver ?? "bridge",
            CheckDuplicate: true,
            Attachable: Boolean(i.attachable),
            Ingress: Boolean(i.ingress),
            Internal: Boolean(i.internal),
            IPAM: { Driver: i.ipamDriver ?? "default", Config: ipam },
            Options: i.options ?? {},
            Labels: labelsOf(i.labels),
        })) as { Id: string };
        return { id: res.Id, outputs: await read(res.Id, ctx, true) };
    },
    diff(state, olds, news): Diff {
        // `ipam_driver` has the schema default "default": the bridge's check writes it into the inputs
        const withDefault = (p: Props): Props => ({ ...p, ipamDriver: p.ipamDriver ?? "default" });
        const changed = changedKeys(state, withDefault(olds), withDefault(news), (k, s, n) => {
            if (n === UNKNOWN) return false;
            if (k === "ipamConfigs") return JSON.stringify(ipamSet(s)) === JSON.stringify(ipamSet(n));
            if (k === "labels") return matches(labelSet(s), labelSet(n));
            // optional + computed map: left empty, the engine's value stands; set, it must be exactly that
            if (k === "options") return Object.keys((n as Props) ?? {}).length === 0 || JSON.stringify(Object.entries((s as Props) ?? {}).sort()) === JSON.stringify(Object.entries((n as Props) ?? {}).sort());
            return matches(s, n);
        });
        return { changed, replaces: changed };
    },
    deleteBeforeReplace: () => true, // `name` is required: never auto-named
    async delete(_name, id, _i, _s, ctx) {
        // The provider retries while the network "has active endpoints" (tasks still stopping).
        await retry(60, () => apiDelete(ctx, `/networks/${id}`));
    },
};
