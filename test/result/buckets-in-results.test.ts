/**
 * Buckets, noise, status and calibration as a user sees them: on the published result.
 */
import { strict as assert } from "node:assert";
import { P } from "ts-pattern";
import { Experiment, isShadow, noise, shadow, type FieldDiff, type Result } from "../../src/index";
import { collector, errorSink } from "../support/capture";

async function publishedOf<A extends unknown[], R>(
  control: (...args: A) => R,
  candidate: (...args: A) => R,
  options: Parameters<typeof shadow<A, R>>[2],
  ...args: A
): Promise<Result<unknown>> {
  const sink = collector();
  const wrapped = shadow(control, candidate, { ...options, publish: sink });
  wrapped(...args);
  await wrapped.experiment.settled();
  const [result] = sink.results;
  assert.ok(result, "a result was published");
  return result;
}

describe("buckets and noise on published results", () => {
  it("names each serious diff's bucket by the first matching rule, pattern or predicate, and lists the buckets on the mismatch", async () => {
    const result = await publishedOf(
      () => ({ total: 10.1, tax: 0.1, lines: [{ tax: 0.05 }] }),
      () => ({ total: 10.2, tax: 0.09, lines: [{ tax: 0.04 }] }),
      {
        buckets: [
          { name: "tax-rounding-per-line", match: { path: P.string.regex(/(^|\.)tax$/) } },
          { name: "never", match: () => false },
          { name: "totals", match: (d: FieldDiff) => d.path === "total" },
        ],
      },
    );
    const mismatch = result.mismatches[0];
    assert.equal(mismatch?.kind, "value");
    assert.deepEqual(
      mismatch?.diffs.map((d) => [d.path, d.bucket]),
      [
        ["total", "totals"],
        ["tax", "tax-rounding-per-line"],
        ["lines[0].tax", "tax-rounding-per-line"],
      ],
    );
    assert.deepEqual(mismatch?.buckets, ["totals", "tax-rounding-per-line"]);
  });

  it("counts a candidate whose only differences are noise as matched and publishes them under result.noise", async () => {
    const result = await publishedOf(
      () => ({ total: 1, traceId: "a", at: "2026-11-26T10:00:00.000Z", note: "a  b" }),
      () => ({ total: 1, traceId: "b", at: "2026-11-26T10:00:00.400Z", note: " a b " }),
      { buckets: [noise.paths("traceId"), noise.timestamps({ toleranceMs: 1000 }), noise.whitespace()] },
    );
    assert.equal(result.matched, true);
    assert.deepEqual(result.outcomes, { candidate: "matched" });
    assert.deepEqual(
      result.noise.map((d) => [d.path, d.bucket, d.noise]),
      [
        ["traceId", "paths", true],
        ["at", "timestamps", true],
        ["note", "whitespace", true],
      ],
    );
  });

  it("keeps noise diffs out of the summary but on the mismatch when a serious diff remains", async () => {
    const result = await publishedOf(
      () => ({ total: 49.9, traceId: "a" }),
      () => ({ total: 51.4, traceId: "b" }),
      { buckets: [noise.paths("traceId")] },
    );
    assert.equal(result.mismatches[0]?.summary, "total=49.9 vs 51.4");
    assert.equal(result.mismatches[0]?.diffs.length, 2);
    assert.deepEqual(result.mismatches[0]?.buckets, []);
  });

  it("treats numbers within tolerance as noise and beyond it as a mismatch", async () => {
    const close = await publishedOf(() => ({ total: 100 }), () => ({ total: 100.004 }), { buckets: [noise.numbers({ tolerance: 0.01 })] });
    const far = await publishedOf(() => ({ total: 100 }), () => ({ total: 100.02 }), { buckets: [noise.numbers({ tolerance: 0.01 })] });
    assert.equal(close.matched, true);
    assert.equal(far.mismatched, true);
  });

  it("gives a reordered array at an arrayOrder path one noise diff, while a changed element stays a mismatch", async () => {
    const reordered = await publishedOf(() => ({ tags: ["a", "b", "c"] }), () => ({ tags: ["c", "a", "b"] }), {
      buckets: [noise.arrayOrder("tags")],
    });
    assert.equal(reordered.matched, true);
    assert.deepEqual(reordered.noise.map((d) => [d.path, d.bucket]), [["tags", "array-order"]]);
    const changed = await publishedOf(() => ({ tags: ["a", "b"] }), () => ({ tags: ["b", "x"] }), { buckets: [noise.arrayOrder("tags")] });
    assert.equal(changed.mismatched, true);
  });

  it("reports a bucket predicate that throws as operation 'bucket' and goes on with the next rule", async () => {
    const errors = errorSink();
    const cause = new Error("rule broke");
    const result = await publishedOf(() => ({ total: 1 }), () => ({ total: 2 }), {
      onError: errors.onError,
      buckets: [
        {
          name: "broken",
          match: () => {
            throw cause;
          },
        },
        { name: "totals", match: { path: "total" } },
      ],
    });
    assert.deepEqual(result.mismatches[0]?.buckets, ["totals"]);
    assert.deepEqual(errors.errors.map((e) => [e.operation, e.cause]), [["bucket", cause]]);
  });
});

describe("statusOf and severity", () => {
  interface Reply {
    status: number;
    body: { total: number };
  }

  it("compares the status first: a status change is kind 'status' with a (status) diff, value diffs kept beside it", async () => {
    const result = await publishedOf(
      (): Reply => ({ status: 200, body: { total: 1 } }),
      (): Reply => ({ status: 500, body: { total: 2 } }),
      { statusOf: (r: Reply) => r.status },
    );
    const mismatch = result.mismatches[0];
    assert.equal(mismatch?.kind, "status");
    assert.deepEqual(mismatch?.diffs[0], { path: "(status)", kind: "changed", control: 200, candidate: 500 });
    assert.match(mismatch?.summary ?? "", /^status=200 vs 500, /);
    assert.ok(mismatch?.diffs.some((d) => d.path === "body.total"));
  });

  it("ranks an error above everything: one side throwing is kind 'error' with the control side first in the summary", async () => {
    const result = await publishedOf(
      () => ({ total: 1 }),
      (): { total: number } => {
        throw new TypeError("boom");
      },
      {},
    );
    assert.equal(result.mismatches[0]?.kind, "error");
    assert.equal(result.mismatches[0]?.summary, 'returned {"total":1} vs threw TypeError: boom');
  });

  it("reports a statusOf that throws as operation 'statusOf' and counts the candidate as mismatched", async () => {
    const errors = errorSink();
    const result = await publishedOf(() => 1, () => 1, {
      onError: errors.onError,
      statusOf: () => {
        throw new Error("no status");
      },
    });
    assert.equal(result.mismatched, true);
    assert.match(result.mismatches[0]?.summary ?? "", /statusOf\(\) threw Error: no status/);
    assert.deepEqual(errors.errors.map((e) => e.operation), ["statusOf"]);
  });

  it("keeps compare()'s unequal verdict even when every structural diff is noise", async () => {
    const result = await publishedOf(() => ({ traceId: "a" }), () => ({ traceId: "b" }), {
      compare: () => false,
      buckets: [noise.paths("traceId")],
    });
    assert.equal(result.mismatched, true);
    assert.equal(result.mismatches[0]?.summary, "compare() returned false");
  });
});

describe("noise calibration", () => {
  it("learns the paths where two control runs differ, so later candidate diffs there are noise while a real total change still mismatches", async () => {
    let seq = 0;
    const makeOrder = (total: number): { total: number; traceId: string; at: string; lines: Array<{ sku: string; id: string }> } => ({
      total,
      traceId: `t-${++seq}-${Math.random()}`,
      at: new Date(Date.now() + seq).toISOString(),
      lines: [
        { sku: "a", id: `l-${Math.random()}` },
        { sku: "b", id: `l-${Math.random()}` },
      ],
    });
    const sink = collector();
    const experiment = new Experiment<[number], ReturnType<typeof makeOrder>>("calibrated", { publish: sink, calibrate: { runs: 3 } })
      .use((n) => makeOrder(n))
      .try((n) => makeOrder(n === 99 ? n + 1 : n));
    for (const n of [1, 2, 3, 4, 99]) {
      experiment.run(n);
      await experiment.settled();
    }
    assert.equal(sink.results.length, 5);
    const last4 = sink.results.slice(1);
    assert.deepEqual(
      last4.map((r) => r.matched),
      [true, true, true, false],
      "after calibration only the real total change mismatches",
    );
    const final = sink.results[4];
    assert.equal(final?.mismatches[0]?.summary, "total=99 vs 100");
    assert.ok(final?.mismatches[0]?.diffs.some((d) => d.path === "traceId" && d.bucket === "calibrated-noise" && d.noise === true));
    assert.ok(sink.results[2]?.noise.some((d) => d.path === "lines[1].id" && d.bucket === "calibrated-noise"));
  });

  it("runs the calibration rerun in a shadow frame, only for the first runs", async () => {
    const shadowFlags: boolean[] = [];
    const wrapped = shadow(
      () => {
        shadowFlags.push(isShadow());
        return 1;
      },
      () => 1,
      { publish: collector(), calibrate: { runs: 2 } },
    );
    for (let i = 0; i < 4; i++) {
      wrapped();
      await wrapped.experiment.settled();
    }
    assert.deepEqual(shadowFlags, [false, true, false, true, false, false]);
  });
});
