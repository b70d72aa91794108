/**
 * GuardrailMonitor: each threshold trips only after minRuns and only when exceeded; the leak rule
 * trips at once; reset gives a fresh window.
 */
import { strict as assert } from "node:assert";
import { GuardrailMonitor } from "../../src/operate/guardrails";
import type { Guardrails, Result, TripEvent } from "../../src/index";
import { fakeClock, run, valueMismatch } from "./fixtures";

const timedOut = { timedOut: true, mismatch: { kind: "error" as const, diffs: [{ path: "(error)", kind: "changed" as const }], summary: "returned 1 vs timed out" } };

interface Case {
  rule: string;
  guardrails: Guardrails;
  /** A run that pushes the rate over the threshold. */
  bad: () => Result<unknown>;
  /** Runs whose rate sits exactly at, or under, the threshold. */
  within: (i: number) => Result<unknown>;
  reason: TripEvent["reason"];
  value: (v: number) => boolean;
  threshold: number;
}

const cases: Case[] = [
  {
    rule: "maxMismatchRate",
    guardrails: { maxMismatchRate: 0.5, minRuns: 10 },
    bad: () => run({ candidates: [valueMismatch("total")] }),
    within: (i) => run({ candidates: [i % 2 === 1 ? valueMismatch("total") : {}] }), // never over 0.5, exactly 0.5 after every even run
    reason: "mismatch-rate",
    value: (v) => v === 1,
    threshold: 0.5,
  },
  {
    rule: "maxP95Ratio",
    guardrails: { maxP95Ratio: 2, minRuns: 10 },
    bad: () => run({ controlMs: 10, candidates: [{ ms: 30 }] }),
    within: () => run({ controlMs: 10, candidates: [{ ms: 15 }] }),
    reason: "latency",
    value: (v) => Math.abs(v - 3) < 0.06,
    threshold: 2,
  },
  {
    rule: "maxTimeoutRate",
    guardrails: { maxTimeoutRate: 0.2, minRuns: 10 },
    bad: () => run({ candidates: [timedOut] }),
    within: (i) => run({ candidates: [i % 5 === 4 ? timedOut : {}] }), // never over 0.2, exactly 0.2 after every 5th run
    reason: "timeout-rate",
    value: (v) => v === 1,
    threshold: 0.2,
  },
];

describe("GuardrailMonitor rate rules", () => {
  for (const c of cases) {
    it(`trips ${c.rule} as "${c.reason}" at the minRuns-th run over the threshold, not before`, () => {
      const monitor = new GuardrailMonitor("checkout", c.guardrails);
      for (let i = 1; i < 10; i++) assert.equal(monitor.observe(c.bad()), undefined, `run ${i} is under minRuns`);
      const trip = monitor.observe(c.bad());
      assert.ok(trip, "the 10th run trips");
      assert.equal(trip.experiment, "checkout");
      assert.equal(trip.reason, c.reason);
      assert.ok(c.value(trip.value), `value ${trip.value}`);
      assert.equal(trip.threshold, c.threshold);
    });

    it(`does not trip ${c.rule} while the rate is at or under the threshold`, () => {
      const monitor = new GuardrailMonitor("checkout", c.guardrails);
      for (let i = 0; i < 40; i++) assert.equal(monitor.observe(c.within(i)), undefined, `run ${i}`);
    });
  }

  it("waits for 100 runs when minRuns is not given", () => {
    const monitor = new GuardrailMonitor("checkout", { maxMismatchRate: 0 });
    const bad = (): Result<unknown> => run({ candidates: [valueMismatch("total")] });
    for (let i = 1; i < 100; i++) assert.equal(monitor.observe(bad()), undefined);
    assert.equal(monitor.observe(bad())?.reason, "mismatch-rate");
  });

  it("trips when any candidate is over a threshold, naming the experiment", () => {
    const monitor = new GuardrailMonitor("pricing", { maxMismatchRate: 0.1, minRuns: 5 });
    let trip: TripEvent | undefined;
    for (let i = 0; i < 5; i++) trip = monitor.observe(run({ candidates: [{ name: "good" }, { name: "bad", ...valueMismatch("total") }] }));
    assert.deepEqual(trip, { experiment: "pricing", reason: "mismatch-rate", value: 1, threshold: 0.1 });
  });

  it("forgets runs older than windowMs", () => {
    const clock = fakeClock(0);
    const monitor = new GuardrailMonitor("checkout", { maxMismatchRate: 0.5, minRuns: 10, windowMs: 1000 }, clock.now);
    const bad = (): Result<unknown> => run({ candidates: [valueMismatch("total")] });
    for (let i = 0; i < 9; i++) monitor.observe(bad());
    clock.set(1000);
    assert.equal(monitor.observe(bad()), undefined, "only 1 run is in the window");
    for (let i = 0; i < 8; i++) monitor.observe(bad());
    assert.equal(monitor.observe(bad())?.reason, "mismatch-rate", "10 runs in the new window");
  });
});

describe("GuardrailMonitor leak rule", () => {
  const leaky = (): Result<unknown> => run({ candidates: [{ leaks: 2 }] });

  it("trips at once on a leak even without a guardrails option", () => {
    const monitor = new GuardrailMonitor("checkout", undefined);
    assert.equal(monitor.observe(run()), undefined);
    assert.deepEqual(monitor.observe(leaky()), { experiment: "checkout", reason: "leak", value: 2, threshold: 0 });
  });

  it("has no rate rules without a guardrails option", () => {
    const monitor = new GuardrailMonitor("checkout", undefined);
    for (let i = 0; i < 200; i++) assert.equal(monitor.observe(run({ candidates: [timedOut] })), undefined);
  });

  it("does not trip on leaks when disableOnLeak is false", () => {
    const monitor = new GuardrailMonitor("checkout", { disableOnLeak: false });
    assert.equal(monitor.observe(leaky()), undefined);
    assert.equal(monitor.observeLateLeak(), undefined);
  });

  it("trips on a leak reported after a candidate's timeout", () => {
    const monitor = new GuardrailMonitor("checkout", { maxMismatchRate: 0.5 });
    assert.deepEqual(monitor.observeLateLeak(), { experiment: "checkout", reason: "leak", value: 1, threshold: 0 });
  });
});

describe("GuardrailMonitor after a trip", () => {
  it("stays quiet until reset, then judges a fresh window", () => {
    const monitor = new GuardrailMonitor("checkout", { maxMismatchRate: 0.5, minRuns: 10 });
    const bad = (): Result<unknown> => run({ candidates: [valueMismatch("total")] });
    for (let i = 0; i < 9; i++) monitor.observe(bad());
    assert.equal(monitor.observe(bad())?.reason, "mismatch-rate");
    assert.equal(monitor.observe(bad()), undefined, "one trip, one event");
    assert.equal(monitor.observe(run({ candidates: [{ leaks: 1 }] })), undefined);
    monitor.reset();
    for (let i = 1; i < 10; i++) assert.equal(monitor.observe(bad()), undefined, `run ${i} after reset is under minRuns`);
    assert.equal(monitor.observe(bad())?.reason, "mismatch-rate");
  });
});
