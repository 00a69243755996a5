// The mock tests' view of scripts/lib/mock-run.ts (the real index.ts under pulumi.runtime.setMocks), plus lookups.
import * as path from "node:path";
import { readStackFile } from "../../model/config";
import { ROOT, type Registered, type RunResult } from "../../scripts/lib/mock-run";

export { type Declared, MOCK_JOIN_TOKENS, MOCK_UNLOCK_KEY, PROJECT, type Registered, ROOT, type RunOptions, type RunResult, runProgram } from "../../scripts/lib/mock-run";

/** The platform keys and secret names of a committed stack file. */
export function stackConfig(stack: string): Record<string, unknown> {
    return structuredClone(readStackFile(path.join(ROOT, `Pulumi.${stack}.yaml`)).config);
}

export function ofType(r: RunResult, type: string): Registered[] {
    return r.resources.filter((x) => x.type === type);
}

export function byName(r: RunResult, name: string): Registered {
    const found = r.resources.find((x) => x.name === name);
    if (!found) throw new Error(`no resource named ${name}; have: ${r.resources.map((x) => x.name).join(", ")}`);
    return found;
}
