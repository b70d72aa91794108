/**
 * Calibration generalises array indices in the paths it learns (`lines[3].id` → `lines[*].id`). A
 * key that merely looks like an index inside its quotes (`["items[0]"]`, a form field echoed back)
 * is a key, not an index: generalising inside it made a glob that names another key, so the volatile
 * field was never learned and every later run mismatched on it.
 */
import { strict as assert } from "node:assert";
import { Experiment, type Result } from "../../src/index";

describe("calibration on keys that look like indices", () => {
  it("learns a volatile field under a key like \"items[0]\" as noise", async () => {
    const results: Array<Result<unknown>> = [];
    const make = (total: number): Record<string, unknown> => ({ total, "items[0]": Math.random(), lines: [{ ["x[1]"]: Math.random() }] });
    const experiment = new Experiment<[number], Record<string, unknown>>("calibrate-bracket-keys", {
      publish: (r) => void results.push(r),
      calibrate: { runs: 2 },
    })
      .use((n) => make(n))
      .try((n) => make(n === 99 ? 100 : n));
    for (const n of [1, 2, 3, 99]) {
      experiment.run(n);
      await experiment.settled();
    }
    assert.deepEqual(results.map((r) => r.matched), [true, true, true, false], results.map((r) => r.mismatches[0]?.summary).join(" | "));
    assert.equal(results[3]?.mismatches[0]?.summary, "total=99 vs 100");
  });
});
