// A node:test reporter for mutation testing: prints the first failing test and exits 1 right away (one failure
// kills a mutant; the rest of the suite would only cost time). Todo tests do not count, as in the normal run.
import { writeSync } from "node:fs";

export default async function* bail(source) {
    let passed = 0;
    for await (const event of source) {
        if (event.type === "test:pass" && !event.data.todo) passed++;
        if (event.type === "test:fail" && !event.data.todo && !event.data.skip) {
            writeSync(2, `✖ ${event.data.name} (after ${passed} passing)\n${event.data.details?.error?.message ?? ""}\n`);
            process.exit(1);
        }
    }
    yield `✔ ${passed} passing\n`;
}
