// Which input changes replace a resource instead of updating it, per resource type: the provider rules of
// docs/provider-rules.md as one table, for everything that predicts a `pulumi up` from inputs alone (the upgrade
// test, `npm run diff`). The lab engine (test/lab/engine/resources/) applies the same rules to the state it reads
// back from docker; test/mocks/provider-rules.test.ts checks the two agree.

/**
 * Service inputs below the top level whose change replaces the service (the docker provider's ForceNew fields
 * this program uses). A changed-input list names them `@<path>`, next to the top-level input they live in.
 */
export const SERVICE_REPLACING_PATHS = ["name", "auth", "taskSpec.networksAdvanceds", "taskSpec.containerSpec.labels"] as const;

/** Container inputs the docker provider changes in place (`ContainerUpdate`); any other change is a new container. */
export const CONTAINER_UPDATABLE = ["restart", "maxRetryCount", "cpuShares", "memory", "memoryReservation", "cpuSet", "memorySwap"] as const;

/** Component and stack types: no state of their own, so nothing to create, update or replace. */
export function isComponent(type: string): boolean {
    return type.startsWith("swarm:") || type === "pulumi:pulumi:Stack";
}

/**
 * The changed inputs that force a replacement. `changed` holds top-level input names and, for services, the
 * `@<path>` entries of SERVICE_REPLACING_PATHS; empty result with a non-empty `changed`: an update in place.
 */
export function replacingChanges(type: string, changed: readonly string[]): string[] {
    switch (type) {
        case "command:local:Command":
        case "command:remote:Command":
            return changed.filter((k) => k === "triggers");
        case "docker:index/container:Container":
            return changed.filter((k) => !(CONTAINER_UPDATABLE as readonly string[]).includes(k));
        case "docker:index/network:Network":
        case "docker:index/volume:Volume":
        case "docker:index/secret:Secret":
        case "random:index/randomPassword:RandomPassword":
            return [...changed];
        case "docker:index/service:Service":
            return changed.filter((k) => k.startsWith("@"));
        default:
            return []; // providers, and docker Image (never replaced: a changed build rebuilds in place)
    }
}

/** The value at a dotted path, or undefined. */
export function valueAt(value: unknown, path: string): unknown {
    return path.split(".").reduce<unknown>((v, k) => (v && typeof v === "object" ? (v as Record<string, unknown>)[k] : undefined), value);
}

/** The input names a changed-input list compares for a resource: its top-level inputs, plus a service's replacing paths. */
export function comparedInputs(type: string, inputs: Record<string, unknown>): Record<string, unknown> {
    if (type !== "docker:index/service:Service") return inputs;
    return { ...inputs, ...Object.fromEntries(SERVICE_REPLACING_PATHS.map((p) => [`@${p}`, valueAt(inputs, p)])) };
}
