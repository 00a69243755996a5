// Least privilege for the swarm services the platform runs (gateway, releases): resource limits, and the units
// they are written in. Shared by the gateway and releases concepts, as fields.ts is by all.
import { z } from "zod";

// At most 6 digits: the bytes stay an exact integer for the service spec (999999g).
const MEMORY = /^([1-9][0-9]{0,5})([kmg])$/;
const UNIT = { k: 1024, m: 1024 ** 2, g: 1024 ** 3 } as const;
/** Docker refuses a memory limit below 6 MiB. */
const MIN_MEMORY = 6 * 1024 ** 2;

/** Bytes of a size like `256m`. */
export function memoryBytes(text: string): number {
    const m = MEMORY.exec(text);
    if (!m) throw new Error(`not a memory size: ${text}`);
    return Number(m[1]) * UNIT[m[2] as keyof typeof UNIT];
}

/** `resources` of a service: limits the engine enforces on every task (cgroups). */
export const resourcesSchema = (defaults: { readonly cpus: number; readonly memory: string }) =>
    z
        .strictObject({
            cpus: z.number().min(0.01, "at least 0.01 CPU").max(1024).default(defaults.cpus).describe("CPU limit per task, in CPUs (0.5 = half a CPU)."),
            memory: z
                .string()
                .regex(MEMORY, "a size like 256m or 1g (at most 6 digits)")
                .refine((m) => !MEMORY.test(m) || memoryBytes(m) >= MIN_MEMORY, "at least 6m (Docker's minimum)")
                .default(defaults.memory)
                .describe("Memory limit per task, like `256m`; a task above it is killed (OOM) and restarted."),
        })
        .prefault({})
        .describe("Resource limits per task (the engine's cgroups).");

/** Limits as the docker provider's Service takes them. */
export interface PlanResources {
    /** CPUs × 1e9. */
    readonly nanoCpus: number;
    readonly memoryBytes: number;
}

export function planResources(r: { readonly cpus: number; readonly memory: string }): PlanResources {
    return { nanoCpus: Math.round(r.cpus * 1e9), memoryBytes: memoryBytes(r.memory) };
}
