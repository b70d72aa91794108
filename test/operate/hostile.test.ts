/**
 * The Scorecard and the guardrail monitor fed what a hostile application would feed them: contexts
 * that are Proxies, null-prototype or cyclic objects; names like "__proto__"; durations that are NaN,
 * infinite or negative; reasons megabytes long; a clock that answers nonsense. `publish` and
 * `summary()` never throw, stay bounded, and never claim a rate they did not measure.
 */
import { strict as assert } from "node:assert";
import fc from "fast-check";
import { Scorecard, shadow, type Result } from "../../src/index";
import { GuardrailMonitor } from "../../src/operate/guardrails";
import { fakeClock, run, valueMismatch } from "./fixtures";

const hostileValue = fc.oneof(
  fc.anything({ withNullPrototype: true, withBigInt: true, withBoxedValues: true, withMap: true, withSet: true }),
  fc.constant(Symbol("s")),
  fc.constant(() => 1),
  fc.constant(new Proxy({}, { get: () => { throw new Error("trap"); }, ownKeys: () => { throw new Error("trap"); } })),
  fc.string({ minLength: 200, maxLength: 400 }),
);

/** A context object whose every read may throw, built from generated parts. */
const hostileContext = fc.oneof(
  fc.dictionary(fc.constantFrom("region", "__proto__", "constructor", "tier", "toString"), hostileValue),
  fc.constant(
    new Proxy({}, {
      getOwnPropertyDescriptor: () => {
        throw new Error("descriptor trap");
      },
      get: () => {
        throw new Error("get trap");
      },
    }),
  ),
  fc.constant(Object.defineProperty(Object.create(null) as object, "region", { get: () => { throw new Error("getter"); }, enumerable: true })),
  fc.constant((() => {
    const cyclic: Record<string, unknown> = { region: "NY" };
    cyclic["self"] = cyclic;
    return cyclic;
  })()),
);

const duration = fc.oneof(fc.double(), fc.constantFrom(Number.NaN, Infinity, -Infinity, -1, 0, 1e300));

function withHostile(result: Result<unknown>, context: unknown, controlMs: number, candidateMs: number): Result<unknown> {
  return {
    ...result,
    context: context as Record<string, unknown>,
    control: { ...result.control, durationMs: controlMs },
    candidates: result.candidates.map((c) => ({ ...c, durationMs: candidateMs })),
  };
}

function finiteNumbersIn(value: unknown, path = "summary"): void {
  if (typeof value === "number") assert.ok(Number.isFinite(value), `${path} is ${value}`);
  else if (Array.isArray(value)) value.forEach((v, i) => finiteNumbersIn(v, `${path}[${i}]`));
  else if (typeof value === "object" && value !== null) for (const [k, v] of Object.entries(value)) finiteNumbersIn(v, `${path}.${k}`);
}

describe("Scorecard and guardrails fed hostile results", () => {
  it("never throws, keeps every number finite and rates within 0..1, whatever the context and durations", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(hostileContext, duration, duration, fc.boolean()), { minLength: 1, maxLength: 30 }),
        fc.constantFrom("__proto__", "constructor", "hasOwnProperty", "a\nb\u2028", "\u0000", ""),
        (runs, experiment) => {
          const scorecard = new Scorecard({ segments: ["region", "__proto__", "constructor", "toString"] });
          for (const [context, controlMs, candidateMs, bad] of runs) {
            const base = run({ experiment, candidates: [bad ? valueMismatch("total") : {}] });
            scorecard.publish(withHostile(base, context, controlMs, candidateMs));
          }
          const summary = scorecard.summary(experiment);
          assert.ok(summary !== undefined);
          assert.equal(summary.runs, runs.length);
          finiteNumbersIn(summary);
          for (const rate of [summary.statusMatchRate, summary.fieldMatchRate, summary.errorRate, summary.timeoutRate, summary.leakRate]) {
            assert.ok(rate >= 0 && rate <= 1);
          }
          for (const row of summary.segments) {
            assert.equal(typeof row.value, "string");
            assert.ok(row.value.length <= 100, `segment value ${row.value.length} chars`);
          }
          assert.deepEqual(scorecard.experiments(), [experiment]);
        },
      ),
      { numRuns: 150 },
    );
  });

  it("claims no rate once every run has left the window: runs 0, every share 0, no reasons", () => {
    const clock = fakeClock(0);
    const scorecard = new Scorecard({ windowMs: 1_000, now: clock.now, segments: ["region"] });
    scorecard.publish(run({ candidates: [valueMismatch("total")] }));
    clock.set(10_000);
    const summary = scorecard.summary("checkout");
    assert.ok(summary !== undefined);
    assert.equal(summary.runs, 0);
    assert.equal(summary.fieldMatchRate, 0);
    assert.equal(summary.statusMatchRate, 0);
    assert.equal(summary.latency.p95Ratio, 0);
    assert.deepEqual(summary.reasons, []);
    assert.deepEqual(summary.segments, []);
  });

  it("survives a clock that answers NaN or ±Infinity: publish and summary never throw, and the window keeps counting after it", () => {
    for (const bad of [Number.NaN, Infinity, -Infinity]) {
      let t = 0;
      const scorecard = new Scorecard({ now: () => t });
      scorecard.publish(run());
      t = bad;
      scorecard.publish(run({ candidates: [valueMismatch("total")] }));
      scorecard.skipped("checkout", "overload");
      const summary = scorecard.summary("checkout");
      assert.ok(summary !== undefined);
      finiteNumbersIn(summary);
      t = 0;
      assert.doesNotThrow(() => scorecard.publish(run()));
      assert.ok((scorecard.summary("checkout")?.runs ?? 0) >= 1);
    }
  });

  it("keeps a summary bounded when every run mismatches at a different megabyte-long path", async () => {
    const scorecard = new Scorecard();
    const big = (i: number): string => `${String(i).padStart(6, "0")}${"k".repeat(1_000_000)}`;
    const fn = shadow(
      (i: number): Record<string, number> => ({ [big(i)]: 1 }),
      (i: number): Record<string, number> => ({ [big(i)]: 2 }),
      { name: "huge-paths", publish: scorecard },
    );
    for (let i = 0; i < 20; i++) fn(i);
    await fn.experiment.settled();
    const summary = scorecard.summary("huge-paths");
    assert.equal(summary?.runs, 20);
    const size = JSON.stringify(summary).length;
    assert.ok(size < 200_000, `summary is ${size} characters`);
  });

  it("a guardrail monitor never trips on latency from durations that are not measurements (NaN, infinite, negative)", () => {
    const unmeasured = fc.constantFrom(Number.NaN, Infinity, -Infinity, -1, -1e-9);
    fc.assert(
      fc.property(
        fc.array(fc.tuple(duration, duration), { maxLength: 20 }),
        fc.array(unmeasured, { minLength: 5, maxLength: 20 }),
        (measuredRuns, badControls) => {
          const monitor = new GuardrailMonitor("checkout", { maxP95Ratio: 2, minRuns: 5 }, fakeClock(0).now);
          // Control durations that are not measurements beside a slow candidate: the control's p95 is unknown.
          for (const controlMs of badControls) assert.equal(monitor.observe(withHostile(run(), {}, controlMs, 3_000)), undefined);
          for (const [controlMs, candidateMs] of measuredRuns) {
            const trip = monitor.observe(withHostile(run(), {}, controlMs, candidateMs));
            if (trip !== undefined) {
              assert.equal(trip.reason, "latency");
              assert.ok(Number.isFinite(trip.value) && trip.value > 2, `tripped on ${trip.value}`);
              return;
            }
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  it("trips once on results published at the same instant, and again only after reset()", () => {
    const monitor = new GuardrailMonitor("checkout", { maxMismatchRate: 0, minRuns: 3 }, () => 42);
    const trips = [];
    for (let i = 0; i < 50; i++) {
      const trip = monitor.observe(run({ candidates: [valueMismatch("total")] }));
      if (trip) trips.push(trip);
    }
    assert.equal(trips.length, 1);
    assert.equal(trips[0]?.value, 1);
    monitor.reset();
    assert.equal(monitor.observe(run({ candidates: [valueMismatch("total")] })), undefined, "a fresh window needs minRuns again");
    assert.equal(monitor.observe(run({ candidates: [valueMismatch("total")] })), undefined);
    assert.ok(monitor.observe(run({ candidates: [valueMismatch("total")] })) !== undefined);
  });
});
