// Durations and ratios in the form the docker provider reads back, so a second run shows no diff.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ratio, seconds } from "../../components/durations";

describe("seconds", () => {
    it("writes Go durations shortened the way the provider reads them back", () => {
        const cases: [number, string][] = [[0, "0s"], [0.5, "500ms"], [1, "1s"], [1.5, "1.5s"], [30, "30s"], [60, "1m"], [90, "1m30s"], [3600, "1h"], [3660, "1h1m"], [3661, "1h1m1s"]];
        for (const [s, text] of cases) assert.equal(seconds(s), text, `${s}s`);
    });
});

describe("ratio", () => {
    it("has one decimal, like the provider's read-back of max_failure_ratio", () => {
        assert.equal(ratio(0), "0.0");
        assert.equal(ratio(0.2), "0.2");
        assert.equal(ratio(1), "1.0");
    });
});
