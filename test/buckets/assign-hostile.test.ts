/**
 * The rules array stays the user's after the experiment is built: an entry changed later (removed,
 * replaced by `undefined`, given a `match` getter that throws) is that rule's failure, reported as
 * `bucket` with the next rules still run, never a failure of the whole comparison.
 */
import { strict as assert } from "node:assert";
import { assignBuckets } from "../../src/buckets/assign";
import type { BucketRule } from "../../src/types/options";
import type { FieldDiff } from "../../src/types/results";

describe("assignBuckets with rules that went bad after validation", () => {
  const diffs: FieldDiff[] = [{ path: "total", kind: "changed", control: 1, candidate: 2 }];
  const good: BucketRule = { name: "totals", match: { path: "total" } };

  for (const [name, bad] of [
    ["undefined", undefined],
    ["null", null],
    ["a rule whose match getter throws", { name: "getter", get match(): never { throw new Error("match getter"); } }],
  ] as Array<[string, unknown]>) {
    it(`reports ${name} and goes on with the next rule`, () => {
      const reports: unknown[] = [];
      const out = assignBuckets(diffs, [bad as BucketRule, good], (error) => reports.push(error));
      assert.equal(out[0]?.bucket, "totals");
      assert.equal(reports.length, 1);
    });
  }
});
