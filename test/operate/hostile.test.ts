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

describe("guardrail options at their edges", () => {
  const build = (guardrails: unknown) =>
    shadow((n: number) => n, (n: number) => n + 1, { name: "edges", guardrails: guardrails as never, publish: () => undefined });

  it("refuses every out-of-range or non-number threshold with a TypeError naming the option, when built", () => {
    const bad: Array<[string, unknown[]]> = [
      ["maxMismatchRate", [Number.NaN, -0.01, 1.01, Infinity, -Infinity, "0.5", null, 10n]],
      ["maxTimeoutRate", [Number.NaN, -1, 2, "1"]],
      ["maxP95Ratio", [0, -1, Number.NaN, Infinity, "2"]],
      ["minRuns", [0, -1, 1.5, Number.NaN, Infinity, "10"]],
      ["windowMs", [0, -1, Number.NaN, Infinity, "60000"]],
      ["disableOnLeak", ["false", 0, null]],
      ["onTrip", ["log", {}, null]],
    ];
    for (const [option, values] of bad) {
      for (const value of values) {
        assert.throws(() => build({ [option]: value }), (e: unknown) => e instanceof TypeError && e.message.includes(`guardrails.${option}`), `${option}: ${String(value)}`);
      }
    }
    assert.throws(() => build({ maxMismatchRatio: 0.1 }), /guardrails\.maxMismatchRatio/);
    assert.throws(() => build([]), TypeError);
    assert.throws(() => build("strict"), TypeError);
  });

  it("takes 0 and 1 as thresholds: 0 trips on the first mismatch after minRuns, 1 never trips even when every run mismatches", async () => {
    for (const [threshold, expectTrip] of [[0, true], [1, false], [-0, true]] as const) {
      const trips: number[] = [];
      const fn = shadow((n: number) => n, (n: number) => n + 1, {
        name: `edge-${threshold}-${String(expectTrip)}`,
        publish: () => undefined,
        guardrails: { maxMismatchRate: threshold, minRuns: 3, onTrip: (e) => void trips.push(e.value) },
      });
      for (let i = 0; i < 10; i++) fn(i);
      await fn.experiment.settled();
      assert.equal(trips.length, expectTrip ? 1 : 0, `threshold ${threshold}`);
      assert.equal(fn.experiment.enabled, !expectTrip);
    }
  });

  it("a throwing onTrip is reported as onTrip and trips once; enable() starts a fresh window that needs minRuns again", async () => {
    const errors: string[] = [];
    let calls = 0;
    const fn = shadow((n: number) => n, (n: number) => n + 1, {
      name: "edge-enable",
      publish: () => undefined,
      onError: (e) => void errors.push(e.operation),
      guardrails: {
        maxMismatchRate: 0.5,
        minRuns: 4,
        onTrip: () => {
          calls++;
          throw new Error("pager down");
        },
      },
    });
    for (let i = 0; i < 20; i++) fn(i);
    await fn.experiment.settled();
    assert.equal(calls, 1);
    assert.deepEqual(errors, ["onTrip"]);
    assert.equal(fn.experiment.enabled, false);
    assert.match(fn.experiment.disabledReason ?? "", /mismatch-rate/);
    fn.experiment.enable();
    for (let i = 0; i < 3; i++) fn(i);
    await fn.experiment.settled();
    assert.equal(calls, 1, "three runs in the fresh window are under minRuns 4");
    assert.equal(fn.experiment.enabled, true);
    fn(3);
    await fn.experiment.settled();
    assert.equal(calls, 2);
    assert.deepEqual(errors, ["onTrip", "onTrip"]);
  });
});

describe("windows at the edge of arithmetic", () => {
  it("a tiny windowMs still counts runs (the slice index must stay a finite integer), and a guardrail on it still trips", () => {
    // One frozen epoch-ms instant: with a real clock, a pause of a few ms between publish and summary
    // (GC, a busy CI machine) moves such a window past the run, and the test would measure the machine.
    const clock = fakeClock(Date.now());
    for (const windowMs of [1e-300, Number.MIN_VALUE, 1e-9, 0.5]) {
      const scorecard = new Scorecard({ windowMs, now: clock.now });
      scorecard.publish(run({ candidates: [valueMismatch("total")] }));
      assert.equal(scorecard.summary("checkout")?.runs, 1, `windowMs ${windowMs}`);
      const monitor = new GuardrailMonitor("checkout", { maxMismatchRate: 0.5, minRuns: 1, windowMs }, clock.now);
      assert.ok(monitor.observe(run({ candidates: [valueMismatch("total")] })) !== undefined, `guardrail windowMs ${windowMs}`);
    }
  });

  it("a huge windowMs keeps every run (Number.MAX_VALUE ms is forever, not a division by zero)", () => {
    const clock = fakeClock(Date.now());
    const scorecard = new Scorecard({ windowMs: Number.MAX_VALUE, now: clock.now });
    scorecard.publish(run());
    clock.set(Date.now() + 1e12);
    scorecard.publish(run());
    assert.equal(scorecard.summary("checkout")?.runs, 2);
  });
});

describe("many experiment names", () => {
  it("2 000 distinct experiment names with one run each cost neither seconds nor gigabytes (histograms made when needed)", function () {
    this.timeout(20_000);
    const scorecard = new Scorecard();
    global.gc?.();
    const before = process.memoryUsage.rss();
    const started = Date.now();
    for (let i = 0; i < 2_000; i++) scorecard.publish(run({ experiment: `exp-${i}` }));
    const ms = Date.now() - started;
    const grew = process.memoryUsage.rss() - before;
    assert.equal(scorecard.experiments().length, 2_000);
    assert.equal(scorecard.summary("exp-1999")?.runs, 1);
    assert.ok(ms < 3_000, `took ${ms} ms`);
    assert.ok(grew < 600e6, `rss grew ${Math.round(grew / 1e6)} MB`);
  });
});

describe("options that cannot be read", () => {
  it("a Scorecard given options whose getters throw is a TypeError when built", () => {
    const options = Object.defineProperty({}, "windowMs", { get: () => { throw new Error("getter"); }, enumerable: true });
    assert.throws(() => new Scorecard(options), (e: unknown) => e instanceof TypeError && /Scorecard options/.test(e.message));
    assert.throws(() => new Scorecard(new Proxy({}, { get: () => { throw new Error("trap"); } })), TypeError);
  });
});

describe("status values that cannot be printed", () => {
  it("a statusOf answering a null-prototype object, a throwing toString or a symbol still counts every run and trips the guardrail", async () => {
    const scorecard = new Scorecard();
    const statuses: unknown[] = [Object.create(null), { toString: () => { throw new Error("toString"); } }, Symbol("s")];
    const errors: string[] = [];
    const trips: string[] = [];
    let i = 0;
    const fn = shadow((n: number) => ({ s: 1, n }), (n: number) => ({ s: 2, n }), {
      name: "unprintable-status",
      publish: scorecard,
      statusOf: (r: { s: number }) => (r.s === 1 ? 200 : (statuses[i++ % statuses.length] as number)),
      onError: (e) => void errors.push(`${e.operation}: ${e.message}`),
      guardrails: { maxMismatchRate: 0.5, minRuns: 3, onTrip: (e) => void trips.push(e.reason) },
    });
    for (let k = 0; k < 3; k++) fn(k);
    await fn.experiment.settled();
    const summary = scorecard.summary("unprintable-status");
    assert.equal(summary?.runs, 3);
    assert.equal(summary?.statusMatchRate, 0);
    assert.ok(summary?.reasons.some((r) => r.reason.startsWith("status:200->")));
    assert.deepEqual(trips, ["mismatch-rate"]);
    assert.deepEqual(errors.filter((e) => !e.startsWith("statusOf")), []);
  });
});
