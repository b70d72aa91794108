/**
 * The Scorecard as a user reads it: every field of the summary with hand-checked numbers, the
 * reasons, the sliding window and bounded memory.
 */
import { strict as assert } from "node:assert";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { Scorecard, guard, noise, shadow, type Effect, type Result, type ScorecardSummary } from "../../src/index";
import { fakeClock, near, run, valueMismatch } from "./fixtures";

const charge = (amount: number, role: Effect["role"]): Effect => ({
  name: "payments.charge",
  args: [{ amount }],
  role,
  blocked: role === "candidate",
});

/** Ten runs, one of each kind the summary distinguishes; candidate durations 10, 20, …, 100 ms. */
function tenRuns(): Result<unknown>[] {
  const ms = (i: number): number => (i + 1) * 10;
  const specs = [
    {}, // matched
    { noise: [{ path: "traceId", kind: "changed" as const, control: "a", candidate: "b", bucket: "paths", noise: true }] }, // noise only
    { outcome: "ignored" as const, mismatch: { kind: "value" as const, diffs: [{ path: "x", kind: "changed" as const }], summary: "x=1 vs 2" } },
    {
      mismatch: {
        kind: "value" as const,
        diffs: [
          { path: "total", kind: "changed" as const, control: 49.9, candidate: 51.4, bucket: "totals" },
          { path: "tax", kind: "changed" as const, control: 0.08, candidate: 0.11 },
          { path: "traceId", kind: "changed" as const, control: "a", candidate: "b", bucket: "paths", noise: true },
        ],
        summary: "total=49.9 vs 51.4, tax=0.08 vs 0.11",
      },
    },
    {
      mismatch: {
        kind: "value" as const,
        diffs: [
          { path: "total", kind: "changed" as const, control: 1, candidate: 2, bucket: "totals" },
          { path: "subtotal", kind: "changed" as const, control: 1, candidate: 2, bucket: "totals" },
          { path: "lines[0].tax", kind: "changed" as const, control: 1, candidate: 2 },
        ],
        summary: "total=1 vs 2, subtotal=1 vs 2, lines[0].tax=1 vs 2",
      },
    },
    {
      threw: true,
      error: new TypeError("boom"),
      mismatch: { kind: "error" as const, diffs: [{ path: "(error)", kind: "changed" as const }], summary: "returned 1 vs threw TypeError: boom" },
    },
    {
      timedOut: true,
      mismatch: { kind: "error" as const, diffs: [{ path: "(error)", kind: "changed" as const }], summary: "returned 1 vs timed out after 50 ms" },
    },
    {
      mismatch: {
        kind: "status" as const,
        diffs: [
          { path: "(status)", kind: "changed" as const, control: 200, candidate: 500 },
          { path: "body.total", kind: "changed" as const, control: 1, candidate: 2 },
        ],
        summary: "status=200 vs 500, body.total=1 vs 2",
      },
    },
    {
      leaks: 1,
      effects: [charge(5140, "candidate")],
      mismatch: {
        kind: "effects" as const,
        diffs: [{ path: "effects[0].args[0].amount", kind: "changed" as const, control: 4990, candidate: 5140 }],
        summary: "effects[0] payments.charge args[0].amount=4990 vs 5140",
      },
    },
    {}, // control threw below, candidate returned
  ];
  return specs.map((candidate, i) =>
    run({
      controlThrew: i === 9,
      controlEffects: i === 8 ? [charge(4990, "control")] : [],
      candidates: [
        i === 9
          ? { ms: ms(i), mismatch: { kind: "error", diffs: [{ path: "(error)", kind: "changed" }], summary: "threw Error: control broke vs returned 1" } }
          : { ...candidate, ms: ms(i) },
      ],
    }),
  );
}

function summaryOf(results: Result<unknown>[], candidate?: string): ScorecardSummary {
  const scorecard = new Scorecard();
  for (const r of results) scorecard.publish(r);
  const summary = scorecard.summary("checkout", candidate);
  assert.ok(summary, "a summary exists");
  return summary;
}

describe("Scorecard summary", () => {
  it("gives every rate as a hand-checked share of the runs", () => {
    const s = summaryOf(tenRuns());
    assert.equal(s.experiment, "checkout");
    assert.equal(s.candidate, "candidate");
    assert.equal(s.runs, 10);
    assert.equal(s.skipped, 0);
    // Same class as the control: runs 0-4 and 8; not 5 (threw), 6 (timed out), 7 (status), 9 (control threw).
    assert.equal(s.statusMatchRate, 0.6);
    // Matched, noise only and ignored.
    assert.equal(s.fieldMatchRate, 0.3);
    assert.equal(s.errorRate, 0.1, "a timeout is not an error");
    assert.equal(s.timeoutRate, 0.1);
    assert.equal(s.leakRate, 0.1);
  });

  it("gives latency percentiles in ms within 1 % and the candidate/control p95 ratio", () => {
    const { latency } = summaryOf(tenRuns());
    assert.ok(near(latency.control.p50, 10) && near(latency.control.p95, 10) && near(latency.control.p99, 10), JSON.stringify(latency.control));
    assert.ok(near(latency.candidate.p50, 50), `p50 ${latency.candidate.p50}`);
    assert.ok(near(latency.candidate.p95, 100), `p95 ${latency.candidate.p95}`);
    assert.ok(near(latency.candidate.p99, 100), `p99 ${latency.candidate.p99}`);
    assert.ok(Math.abs(latency.p95Ratio - 10) <= 0.2, `ratio ${latency.p95Ratio}`);
  });

  it("names each reason by bucket, path, error, timeout, status and effect, counting a run once per reason, most frequent first", () => {
    const s = summaryOf(tenRuns());
    assert.deepEqual(
      s.reasons.map((r) => [r.reason, r.count, r.share]),
      [
        ["totals", 2, 0.2], // run 4 has two diffs in "totals" and counts once
        ["body.total", 1, 0.1],
        ["effects:payments.charge", 1, 0.1],
        ["error:TypeError", 1, 0.1],
        ["error:control-threw", 1, 0.1],
        ["lines[0].tax", 1, 0.1],
        ["status:200->500", 1, 0.1],
        ["tax", 1, 0.1],
        ["timeout", 1, 0.1],
      ],
    );
    assert.equal(s.reasons.find((r) => r.reason === "timeout")?.example, "returned 1 vs timed out after 50 ms");
  });

  it("gives each reason its own diffs as its example, not the whole mismatch's summary", () => {
    const s = summaryOf(tenRuns());
    const example = (reason: string): string | undefined => s.reasons.find((r) => r.reason === reason)?.example;
    // Run 4's mismatch reads "total=49.9 vs 51.4, tax=0.08 vs 0.11": two reasons, each quoting its own diff.
    assert.equal(example("totals"), "total=49.9 vs 51.4");
    assert.equal(example("tax"), "tax=0.08 vs 0.11");
    assert.equal(example("lines[0].tax"), "lines[0].tax=1 vs 2");
    // Outcome, status and effects reasons quote the mismatch's summary, which starts with them.
    assert.equal(example("error:TypeError"), "returned 1 vs threw TypeError: boom");
    assert.match(example("status:200->500") ?? "", /^status=200 vs 500/);
  });

  it("quotes an effects reason's own effect difference even when values differ too", async () => {
    const payments = guard("payments", { charge: (cents: number) => cents }, { effects: ["charge"] });
    const scorecard = new Scorecard();
    const checkout = shadow(
      (total: number) => ({ total, charged: payments.charge(Math.round(total * 100)) }),
      (total: number) => ({ total: total + 1, charged: payments.charge(Math.round(total * 100) + 150) }),
      { name: "effects-example", publish: scorecard },
    );
    checkout(49.9);
    await checkout.experiment.settled();
    const example = (reason: string): string | undefined => scorecard.summary("effects-example")?.reasons.find((r) => r.reason === reason)?.example;
    assert.equal(example("total"), "total=49.9 vs 50.9");
    assert.equal(example("effects:payments.charge"), "effects[0] payments.charge args[0]=4990 vs 5140");
  });

  it("gives no reason for noise diffs or for an ignored outcome", () => {
    const s = summaryOf(tenRuns());
    const names = s.reasons.map((r) => r.reason);
    assert.ok(!names.includes("traceId") && !names.includes("paths"), "noise gives no reason");
    assert.ok(!names.includes("x"), "ignored gives no reason");
  });

  it("names a thrown non-Error by its typeof and a candidate error when both sides threw differently", () => {
    const thrownString = run({
      candidates: [{ threw: true, error: "nope", mismatch: { kind: "error", diffs: [{ path: "(error)", kind: "changed" }], summary: 'returned 1 vs threw "nope"' } }],
    });
    const bothThrew = run({
      controlThrew: true,
      candidates: [{ threw: true, error: new RangeError("r"), mismatch: { kind: "error", diffs: [{ path: "(error)", kind: "changed" }], summary: "threw Error vs threw RangeError" } }],
    });
    const s = summaryOf([thrownString, bothThrew]);
    assert.deepEqual(s.reasons.map((r) => r.reason), ["error:RangeError", "error:string"]);
    assert.equal(s.statusMatchRate, 0.5, "both threw: same class");
  });

  it("names a mismatch no diff explains after the callback that forced it", () => {
    const forced = run({ candidates: [{ mismatch: { kind: "value", diffs: [], summary: "compare() returned false" } }] });
    assert.deepEqual(summaryOf([forced]).reasons.map((r) => r.reason), ["compare() returned false"]);
  });

  it("counts a run with several candidates once for each, defaulting to the first candidate seen", () => {
    const scorecard = new Scorecard();
    scorecard.publish(run({ candidates: [{ name: "v2" }, { name: "v3", ...valueMismatch("total") }] }));
    scorecard.publish(run({ candidates: [{ name: "v2", ...valueMismatch("tax") }, { name: "v3" }] }));
    scorecard.publish(run({ candidates: [{ name: "v3" }] }));
    assert.equal(scorecard.summary("checkout")?.candidate, "v2");
    assert.equal(scorecard.summary("checkout")?.runs, 2);
    assert.deepEqual(scorecard.summary("checkout")?.reasons.map((r) => r.reason), ["tax"]);
    assert.equal(scorecard.summary("checkout", "v3")?.runs, 3);
    assert.equal(scorecard.summary("checkout", "v3")?.fieldMatchRate, 2 / 3);
    assert.equal(scorecard.summary("checkout", "v4"), undefined);
    assert.equal(scorecard.summary("elsewhere"), undefined);
  });

  it("lists experiments in the order first seen, skip notices included, and counts skips in the window", () => {
    const clock = fakeClock(0);
    const scorecard = new Scorecard({ windowMs: 1000, now: clock.now });
    scorecard.skipped("search", "overload");
    scorecard.publish(run({ experiment: "checkout" }));
    scorecard.publish(run({ experiment: "search" }));
    scorecard.skipped("search", "overload");
    scorecard.skipped("search", "overload");
    assert.deepEqual(scorecard.experiments(), ["search", "checkout"]);
    assert.equal(scorecard.summary("search")?.skipped, 3);
    assert.equal(scorecard.summary("search")?.runs, 1);
    assert.equal(scorecard.summary("checkout")?.skipped, 0);
    clock.set(1000);
    assert.equal(scorecard.summary("search")?.skipped, 0, "skips slide out of the window too");
  });

  it("is a publisher whose methods work detached", () => {
    const scorecard = new Scorecard();
    const { publish, skipped } = scorecard;
    publish(run());
    skipped("checkout", "overload");
    assert.equal(scorecard.summary("checkout")?.runs, 1);
    assert.equal(scorecard.summary("checkout")?.skipped, 1);
  });

  it("rejects a windowMs that is not a positive finite number, naming the option", () => {
    for (const windowMs of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, "600000" as unknown as number]) {
      assert.throws(() => new Scorecard({ windowMs }), (e: unknown) => e instanceof TypeError && /windowMs/.test(e.message), String(windowMs));
    }
  });
});

describe("Scorecard window", () => {
  it("drops results older than windowMs, one slice (windowMs / 20) at a time", () => {
    const clock = fakeClock(0);
    const scorecard = new Scorecard({ windowMs: 1000, now: clock.now });
    for (let i = 0; i < 3; i++) scorecard.publish(run({ candidates: [valueMismatch("total")] }));
    clock.set(500);
    for (let i = 0; i < 2; i++) scorecard.publish(run());
    clock.set(999);
    assert.equal(scorecard.summary("checkout")?.runs, 5);
    assert.equal(scorecard.summary("checkout")?.fieldMatchRate, 0.4);
    clock.set(1000);
    const later = scorecard.summary("checkout");
    assert.equal(later?.runs, 2, "the three runs at t=0 are out");
    assert.equal(later?.fieldMatchRate, 1);
    assert.deepEqual(later?.reasons, []);
    clock.set(1500);
    const empty = scorecard.summary("checkout");
    assert.equal(empty?.runs, 0);
    assert.equal(empty?.fieldMatchRate, 0, "rates are 0 when there are no runs");
    assert.deepEqual(empty?.latency, { control: { p50: 0, p95: 0, p99: 0 }, candidate: { p50: 0, p95: 0, p99: 0 }, p95Ratio: 0 });
  });

  it("keeps counting after the ring wraps around", () => {
    const clock = fakeClock(0);
    const scorecard = new Scorecard({ windowMs: 1000, now: clock.now });
    for (let t = 0; t < 5000; t += 10) {
      clock.set(t);
      scorecard.publish(run());
    }
    // The last 1000 ms hold t = 4000..4990 (slice 80 to 99): 100 runs.
    assert.equal(scorecard.summary("checkout")?.runs, 100);
  });
});

describe("Scorecard memory", () => {
  it("stays bounded over 200 000 results with distinct reasons, and caps the reasons list", function () {
    this.timeout(60_000);
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const scorecard = new Scorecard();
    scorecard.publish(run({ candidates: [valueMismatch("warm-up")] }));
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 200_000; i++) scorecard.publish(run({ candidates: [valueMismatch(`items[${i}].price`, `note${i}`)] }));
    gc();
    const growth = process.memoryUsage().heapUsed - before;
    assert.ok(growth < 20 * 1024 * 1024, `heap grew by ${(growth / 1024 / 1024).toFixed(1)} MB`);
    const s = scorecard.summary("checkout");
    assert.equal(s?.runs, 200_001);
    assert.ok((s?.reasons.length ?? 0) <= 100, `${s?.reasons.length} reasons`);
    const other = s?.reasons.find((r) => r.reason === "other");
    assert.ok(other !== undefined && other.count > 190_000, "the overflow is counted as other");
    assert.ok((other?.count ?? 0) <= 200_001, "other never exceeds runs");
  });
});

describe("Scorecard with real experiments", () => {
  it("summarises results published by shadow(), with bucket and path reasons", async () => {
    const scorecard = new Scorecard();
    const wrapped = shadow(
      (n: number) => ({ total: n, tax: n / 10, traceId: `a${n}` }),
      (n: number) => ({ total: n === 3 ? n + 1 : n, tax: n === 4 ? 0 : n / 10, traceId: `b${n}` }),
      {
        name: "real-checkout",
        publish: scorecard,
        buckets: [noise.paths("traceId"), { name: "tax-rounding", match: { path: "tax" } }],
      },
    );
    for (const n of [1, 2, 3, 4]) {
      wrapped(n);
      await wrapped.experiment.settled();
    }
    const s = scorecard.summary("real-checkout");
    assert.equal(s?.candidate, "candidate");
    assert.equal(s?.runs, 4);
    assert.equal(s?.fieldMatchRate, 0.5);
    assert.equal(s?.statusMatchRate, 1);
    assert.deepEqual(
      s?.reasons.map((r) => [r.reason, r.count, r.example]),
      [
        ["tax-rounding", 1, "tax=0.4 vs 0"],
        ["total", 1, "total=3 vs 4"],
      ],
    );
  });

  it("counts a real candidate error, timeout and status change", async () => {
    const scorecard = new Scorecard();
    const wrapped = shadow(
      async (n: number) => ({ status: 200, n }),
      async (n: number) => {
        if (n === 1) throw new TypeError("bad");
        if (n === 2) await new Promise((resolve) => setTimeout(resolve, 200));
        return { status: n === 3 ? 500 : 200, n };
      },
      { name: "real-http", publish: scorecard, timeoutMs: 30, statusOf: (r: { status: number }) => r.status },
    );
    for (const n of [1, 2, 3, 4]) {
      await wrapped(n);
      await wrapped.experiment.settled();
    }
    const s = scorecard.summary("real-http");
    assert.equal(s?.runs, 4);
    assert.equal(s?.errorRate, 0.25);
    assert.equal(s?.timeoutRate, 0.25);
    assert.equal(s?.statusMatchRate, 0.25);
    assert.deepEqual(s?.reasons.map((r) => r.reason).sort(), ["error:TypeError", "status", "status:200->500", "timeout"], "the status field differs as a value too");
    assert.match(s?.reasons.find((r) => r.reason === "status:200->500")?.example ?? "", /^status=200 vs 500/);
  });
});
