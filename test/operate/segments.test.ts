/**
 * Segments in the Scorecard: where the mismatches cluster, per value of a context key. Exact counts
 * against a model on generated traffic, lift and its order, the cap with `(other)` / `(none)`,
 * hostile contexts, the sliding window and memory at 10⁶ distinct values.
 */
import { strict as assert } from "node:assert";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import fc from "fast-check";
import { Scorecard, shadow, type Result, type ScorecardSummary } from "../../src/index";
import { SEGMENT_VALUES, SegmentTally, segmentValues } from "../../src/operate/segments";
import { fakeClock, run, valueMismatch } from "./fixtures";

/** A hand-built run with `context`, mismatched at `paths` (matched when none). */
function at(context: Record<string, unknown>, ...paths: string[]): Result<unknown> {
  return { ...run({ candidates: [paths.length === 0 ? {} : valueMismatch(...paths)] }), context };
}

function row(s: ScorecardSummary | undefined, key: string, value: string): ScorecardSummary["segments"][number] | undefined {
  return s?.segments.find((r) => r.key === key && r.value === value);
}

describe("Scorecard segments", () => {
  it("counts runs, mismatches, rate, lift and reasons per value by hand", () => {
    const scorecard = new Scorecard({ segments: ["region", "endpoint"] });
    for (let i = 0; i < 20; i++) scorecard.publish(at({ region: "NY", endpoint: "/checkout" }, ...(i < 10 ? ["total"] : [])));
    for (let i = 0; i < 80; i++) scorecard.publish(at({ region: "CA", endpoint: i < 40 ? "/checkout" : "/quote" }));
    const s = scorecard.summary("checkout");
    assert.equal(s?.runs, 100);
    assert.deepEqual(row(s, "region", "NY"), { key: "region", value: "NY", runs: 20, mismatchRate: 0.5, lift: 5, reasons: [{ reason: "total", count: 10 }] });
    assert.deepEqual(row(s, "region", "CA"), { key: "region", value: "CA", runs: 80, mismatchRate: 0, lift: 0, reasons: [] });
    assert.deepEqual(row(s, "endpoint", "/checkout"), {
      key: "endpoint",
      value: "/checkout",
      runs: 60,
      mismatchRate: 10 / 60,
      lift: 10 / 60 / 0.1,
      reasons: [{ reason: "total", count: 10 }],
    });
    assert.equal(row(s, "endpoint", "/quote")?.runs, 40);
    assert.deepEqual(
      s?.segments.map((r) => `${r.key}=${r.value}`),
      ["region=NY", "endpoint=/checkout", "region=CA", "endpoint=/quote"],
      "highest lift first; among equal lifts, more runs first",
    );
  });

  it("is an empty list without the segments option", () => {
    const scorecard = new Scorecard();
    scorecard.publish(at({ region: "NY" }, "total"));
    assert.deepEqual(scorecard.summary("checkout")?.segments, []);
  });

  it("matches a model of the traffic exactly on generated runs", () => {
    // "(none)" as a real value is its own test below: the model here keys rows by label.
    const regions = ["NY", "CA", "TX", "WA", "constructor", "__proto__"];
    const runArb = fc.record({
      region: fc.option(fc.constantFrom(...regions), { nil: undefined }),
      tier: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
      reasons: fc.uniqueArray(fc.constantFrom("total", "tax", "lines[0].price", "discount"), { maxLength: 3 }),
      ignored: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(runArb, { maxLength: 120 }), (runs) => {
        const scorecard = new Scorecard({ segments: ["region", "tier"] });
        const model = new Map<string, { runs: number; mismatches: number; reasons: Map<string, number> }>();
        let mismatched = 0;
        for (const r of runs) {
          const context: Record<string, unknown> = {};
          if (r.region !== undefined) context["region"] = r.region;
          if (r.tier !== undefined) context["tier"] = r.tier;
          const isMismatch = r.reasons.length > 0 && !r.ignored;
          const spec = r.reasons.length === 0 ? {} : { ...valueMismatch(...r.reasons), ...(r.ignored ? { outcome: "ignored" as const } : {}) };
          scorecard.publish({ ...run({ candidates: [spec] }), context });
          if (isMismatch) mismatched++;
          for (const [key, value] of [
            ["region", r.region === undefined ? "(none)" : r.region],
            ["tier", r.tier === undefined ? "(none)" : String(r.tier)],
          ] as const) {
            const id = `${key}\u0000${value}`;
            const m = model.get(id) ?? { runs: 0, mismatches: 0, reasons: new Map<string, number>() };
            m.runs++;
            if (isMismatch) {
              m.mismatches++;
              for (const reason of r.reasons) m.reasons.set(reason, (m.reasons.get(reason) ?? 0) + 1);
            }
            model.set(id, m);
          }
        }
        const s = scorecard.summary("checkout");
        if (runs.length === 0) return assert.equal(s, undefined);
        const overall = mismatched / runs.length;
        assert.equal(s?.segments.length, model.size);
        for (const r of s?.segments ?? []) {
          const m = model.get(`${r.key}\u0000${r.value}`);
          assert.ok(m !== undefined, `${r.key}=${r.value} is in the traffic`);
          assert.equal(r.runs, m.runs);
          assert.equal(r.mismatchRate, m.mismatches / m.runs);
          assert.equal(r.lift, m.mismatches === 0 ? 0 : m.mismatches / m.runs / overall);
          const expected = [...m.reasons].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 5);
          assert.deepEqual(
            r.reasons.map((x) => [x.reason, x.count]),
            expected,
          );
        }
        // Each key's rows add up to every run.
        for (const key of ["region", "tier"]) {
          assert.equal(
            s?.segments.filter((r) => r.key === key).reduce((n, r) => n + r.runs, 0),
            runs.length,
          );
        }
        return undefined;
      }),
      { numRuns: 150 },
    );
  });

  it("sorts by lift with values under 10 runs last, on generated traffic", () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ value: fc.integer({ min: 0, max: 30 }), mismatched: fc.boolean() }), { minLength: 1, maxLength: 400 }),
        (runs) => {
          const scorecard = new Scorecard({ segments: ["shard"] });
          for (const r of runs) scorecard.publish(at({ shard: `s${r.value}` }, ...(r.mismatched ? ["total"] : [])));
          const rows = scorecard.summary("checkout")?.segments ?? [];
          const firstSmall = rows.findIndex((r) => r.runs < 10);
          if (firstSmall >= 0) assert.ok(rows.slice(firstSmall).every((r) => r.runs < 10), "every value under 10 runs comes after the others");
          const big = firstSmall < 0 ? rows : rows.slice(0, firstSmall);
          const small = firstSmall < 0 ? [] : rows.slice(firstSmall);
          for (const part of [big, small]) {
            for (let i = 1; i < part.length; i++) assert.ok((part[i - 1]?.lift ?? 0) >= (part[i]?.lift ?? 0), "lift never rises down the list");
          }
          for (const r of rows) assert.ok(Number.isFinite(r.lift) && r.lift >= 0);
        },
      ),
      { numRuns: 100 },
    );
  });

  it("gives every value lift 0 when nothing mismatched (no division by zero)", () => {
    const scorecard = new Scorecard({ segments: ["region"] });
    for (const region of ["NY", "CA", "NY"]) scorecard.publish(at({ region }));
    const s = scorecard.summary("checkout");
    assert.deepEqual(
      s?.segments.map((r) => [r.value, r.runs, r.mismatchRate, r.lift]),
      [
        ["NY", 2, 0, 0],
        ["CA", 1, 0, 0],
      ],
    );
  });

  it("keeps 20 values per key, folds the rest into (other) and a missing key into (none)", () => {
    const scorecard = new Scorecard({ segments: ["store"] });
    // 25 stores, store k has k + 1 runs; store 24 (the busiest) arrives last, after the cap filled up.
    for (let k = 0; k < 25; k++) for (let i = 0; i <= k; i++) scorecard.publish(at({ store: `store-${k}` }, ...(k === 24 ? ["tax"] : [])));
    scorecard.publish(at({}, "total"));
    scorecard.publish(at({ store: undefined }, "total"));
    const s = scorecard.summary("checkout");
    const named = s?.segments.filter((r) => r.value.startsWith("store-")) ?? [];
    assert.equal(named.length, SEGMENT_VALUES);
    assert.deepEqual(named.map((r) => r.value).sort(), Array.from({ length: 20 }, (_, k) => `store-${k}`).sort(), "the first 20 values seen are kept");
    const other = row(s, "store", "(other)");
    assert.equal(other?.runs, 21 + 22 + 23 + 24 + 25);
    assert.equal(other?.reasons[0]?.reason, "tax", "the overflow keeps its reasons");
    assert.equal(other?.reasons[0]?.count, 25);
    assert.equal(row(s, "store", "(none)")?.runs, 2);
    assert.equal(s?.segments.reduce((n, r) => n + r.runs, 0), s?.runs, "every run is in exactly one row");
  });

  it("does not confuse a value spelled (none) with a missing key", () => {
    const scorecard = new Scorecard({ segments: ["region"] });
    for (let i = 0; i < 3; i++) scorecard.publish(at({ region: "(none)" }, "total"));
    scorecard.publish(at({}));
    const rows = scorecard.summary("checkout")?.segments.filter((r) => r.value === "(none)") ?? [];
    assert.deepEqual(
      rows.map((r) => [r.runs, r.mismatchRate]).sort(),
      [
        [1, 0],
        [3, 1],
      ],
    );
  });

  it("segments each candidate by its own outcome", () => {
    const scorecard = new Scorecard({ segments: ["region"] });
    for (const region of ["NY", "NY", "CA", "CA"]) {
      const result = run({ candidates: [region === "NY" ? valueMismatch("total") : {}, { name: "fixed" }] });
      scorecard.publish({ ...result, context: { region } });
    }
    assert.equal(row(scorecard.summary("checkout", "candidate"), "region", "NY")?.mismatchRate, 1);
    assert.equal(row(scorecard.summary("checkout", "fixed"), "region", "NY")?.mismatchRate, 0);
  });

  it("lets segments leave the window with their slice", () => {
    const clock = fakeClock(0);
    const scorecard = new Scorecard({ windowMs: 20_000, segments: ["region"], now: clock.now });
    scorecard.publish(at({ region: "NY" }, "total"));
    clock.set(15_000);
    scorecard.publish(at({ region: "CA" }));
    assert.deepEqual(scorecard.summary("checkout")?.segments.map((r) => r.value).sort(), ["CA", "NY"]);
    clock.set(25_000);
    assert.deepEqual(
      scorecard.summary("checkout")?.segments.map((r) => [r.value, r.runs]),
      [["CA", 1]],
    );
  });

  it("keeps the window's 20 busiest values when its slices named different ones, the rest in (other)", () => {
    const clock = fakeClock(0);
    const scorecard = new Scorecard({ windowMs: 20_000, segments: ["store"], now: clock.now });
    // Slice 0 names stores a0..a19 (1 run each); slice 1 names b0..b19 (2 runs each, one mismatched).
    for (let k = 0; k < 20; k++) scorecard.publish(at({ store: `a${k}` }));
    clock.set(1_000);
    for (let k = 0; k < 20; k++) {
      scorecard.publish(at({ store: `b${k}` }, "total"));
      scorecard.publish(at({ store: `b${k}` }));
    }
    const s = scorecard.summary("checkout");
    const named = s?.segments.filter((r) => r.value !== "(other)") ?? [];
    assert.deepEqual(named.map((r) => r.value).sort(), Array.from({ length: 20 }, (_, k) => `b${k}`).sort());
    assert.ok(named.every((r) => r.runs === 2 && r.mismatchRate === 0.5));
    assert.deepEqual(
      row(s, "store", "(other)"),
      { key: "store", value: "(other)", runs: 20, mismatchRate: 0, lift: 0, reasons: [] },
      "the quieter slice's values are folded, with their exact runs",
    );
    // When the older slice leaves the window, so does its (other).
    clock.set(20_500);
    const later = scorecard.summary("checkout");
    assert.equal(later?.runs, 40);
    assert.deepEqual(later?.segments.map((r) => r.value).sort(), Array.from({ length: 20 }, (_, k) => `b${k}`).sort());
  });

  it("labels hostile and odd context values without throwing", () => {
    const throwingGetter = Object.defineProperty({}, "region", {
      enumerable: true,
      get() {
        throw new Error("getter");
      },
    });
    const trap = new Proxy(
      {},
      {
        getOwnPropertyDescriptor() {
          throw new Error("trap");
        },
      },
    );
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, { region: "EU" });
    assert.deepEqual(segmentValues(throwingGetter, ["region"]), ["(unreadable)"]);
    assert.deepEqual(segmentValues(trap, ["region"]), ["(unreadable)"]);
    assert.deepEqual(segmentValues(bare, ["region"]), ["EU"]);
    assert.deepEqual(segmentValues({}, ["constructor", "toString"]), [undefined, undefined], "inherited properties are not context");
    assert.deepEqual(segmentValues(null, ["region"]), [undefined]);
    assert.deepEqual(
      segmentValues({ a: 1, b: true, c: null, d: { x: 1 }, e: () => 1, f: Symbol("s"), g: 10n, h: "x".repeat(500) }, ["a", "b", "c", "d", "e", "f", "g", "h"]),
      ["1", "true", "null", "(object)", "(function)", "(symbol)", "10", `${"x".repeat(99)}…`],
    );
    fc.assert(
      fc.property(fc.anything({ withNullPrototype: true, withBigInt: true, withMap: true, withSet: true }), (context) => {
        const scorecard = new Scorecard({ segments: ["region"] });
        scorecard.publish({ ...run({ candidates: [valueMismatch("total")] }), context: context as Record<string, unknown> });
        const rows = scorecard.summary("checkout")?.segments ?? [];
        assert.equal(rows.length, 1);
        assert.equal(rows[0]?.runs, 1);
      }),
    );
  });

  it("rejects a bad segments option with a TypeError naming it", () => {
    for (const bad of ["region", [""], [1], ["region", "region"], {}]) {
      assert.throws(() => new Scorecard({ segments: bad as string[] }), (e: unknown) => e instanceof TypeError && /'segments'/.test(e.message));
    }
  });

  it("segments real shadow() results by the experiment's context option", async () => {
    const scorecard = new Scorecard({ segments: ["region"] });
    const total = shadow(
      (cart: { region: string; amount: number }) => Math.round(cart.amount * 1.08 * 100) / 100,
      (cart: { region: string; amount: number }) => Math.round(cart.amount * (cart.region === "NY" ? 1.09 : 1.08) * 100) / 100,
      { name: "seg-real", publish: scorecard, context: (cart) => ({ region: cart.region }) },
    );
    for (const region of ["NY", "CA", "NY", "TX"]) {
      total({ region, amount: 100 });
      await total.experiment.settled();
    }
    const s = scorecard.summary("seg-real");
    assert.equal(s?.segments[0]?.value, "NY");
    assert.equal(s?.segments[0]?.mismatchRate, 1);
    assert.equal(s?.segments[0]?.lift, 2);
    assert.equal(s?.segments[0]?.reasons[0]?.reason, "(root)");
  });
});

describe("Scorecard segments memory", () => {
  it("stays bounded at 10⁶ distinct values of a key (entries counted, heap measured)", function () {
    this.timeout(120_000);
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const clock = fakeClock(0);
    const scorecard = new Scorecard({ windowMs: 200_000, segments: ["userId", "region"], now: clock.now });
    const base = run({ candidates: [valueMismatch("total")] });
    const warm = (i: number): void => scorecard.publish({ ...base, context: { userId: `u${i}`, region: `r${i % 3}` } });
    for (let i = 0; i < 1000; i++) warm(i);
    gc();
    const before = process.memoryUsage().heapUsed;
    const N = 1_000_000;
    for (let i = 0; i < N; i++) {
      // The clock walks across the whole window, so every slice holds its own 20 values.
      clock.set(Math.floor((i / N) * 200_000));
      warm(i);
    }
    gc();
    const growth = process.memoryUsage().heapUsed - before;
    assert.ok(growth < 8 * 1024 * 1024, `heap grew by ${(growth / 1024 / 1024).toFixed(1)} MB`);
    const s = scorecard.summary("checkout");
    const users = s?.segments.filter((r) => r.key === "userId") ?? [];
    assert.equal(users.filter((r) => r.value !== "(other)").length, 20);
    assert.equal(
      users.reduce((n, r) => n + r.runs, 0),
      s?.runs,
      "the (other) row holds every run the named values do not",
    );
    assert.deepEqual(s?.segments.filter((r) => r.key === "region").map((r) => r.value).sort(), ["r0", "r1", "r2"]);
  });

  it("holds at most 22 values per key in a slice, whatever the traffic", () => {
    const slice = new SegmentTally(["userId"], SEGMENT_VALUES);
    const live = new SegmentTally(["userId"], Number.POSITIVE_INFINITY);
    const reasons = Array.from({ length: 30 }, (_, i) => `r${i}`);
    for (let i = 0; i < 100_000; i++) {
      const value = i % 7 === 0 ? undefined : `u${i}`;
      live.apply(slice.add([value], true, reasons), true);
    }
    // 20 values + (other) + (none), each with at most 10 reasons + "other".
    assert.ok(slice.entries() <= 22 * 12, `${slice.entries()} entries`);
    assert.equal(live.entries(), slice.entries(), "the live sum holds what the slice decided, no more");
  });
});
