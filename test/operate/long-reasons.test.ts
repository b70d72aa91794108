/**
 * A scorecard reason is a name to count by, cut to 200 characters. Cut at its end, two long paths
 * that differ only there (Map keys, deep chains) would merge into one reason and one count; cut in
 * the middle, each keeps the end that tells them apart.
 */
import { strict as assert } from "node:assert";
import { Scorecard, flush, shadow } from "../../src/index";

describe("scorecard reasons built from long paths", () => {
  it("keeps two long paths that differ only at their end as two reasons", async () => {
    const scorecard = new Scorecard();
    const prefix = "k".repeat(300);
    const run = shadow(
      (key: string) => new Map([[key, 1]]),
      (key: string) => new Map([[key, 2]]),
      { name: "long-reasons", publish: scorecard },
    );
    run(`${prefix}A`);
    run(`${prefix}B`);
    await flush();
    const reasons = scorecard.summary("long-reasons", "candidate")?.reasons ?? [];
    assert.equal(reasons.length, 2, reasons.map((r) => r.reason).join(" | "));
    assert.ok(reasons.every((r) => r.reason.length <= 200 && r.count === 1));
  });
});
