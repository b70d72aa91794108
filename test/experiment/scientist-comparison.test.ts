/**
 * github/scientist's test suite, ported as black-box behaviours of penumbra's public API: comparison,
 * error comparison, cleaning and ignore rules. Item numbers (S17 … S43) refer to research/scientist.md §2.
 *
 * Items that do not apply to penumbra:
 * - S31 (the `cleaner` accessor returns nil until a cleaner is set, then the block): penumbra takes
 *   `clean` as an option and exposes no accessor; the observable part (no cleaner means the raw
 *   value, a cleaner transforms it) is S30 / S32 below.
 * - "An error comparator may receive nil for the side that did not throw" (from the list of
 *   behaviours the Scientist tests miss): in penumbra `compareErrors` is consulted only when both
 *   sides threw (contract §1 Comparison 1); the analogue below checks that one side throwing is an
 *   "error" mismatch without calling it.
 */
import { strict as assert } from "node:assert";
import { Experiment, type ExperimentOptions, type Result } from "../../src/index";
import { collector, errorSink } from "../support/capture";

/** Runs a one-candidate experiment once in sequential mode and returns what was published. */
function runOnce<R>(
  control: () => R,
  candidates: Record<string, () => R>,
  options: ExperimentOptions<[], R> = {},
): { result: Result<unknown>; errors: ReturnType<typeof errorSink>["errors"]; returned: unknown } {
  const sink = collector();
  const errors = errorSink();
  const experiment = new Experiment<[], R>("comparison", { onError: errors.onError, ...options, mode: "sequential", publish: sink }).use(control);
  for (const [name, fn] of Object.entries(candidates)) experiment.try(name, fn);
  let returned: unknown;
  try {
    returned = experiment.run();
  } catch (error) {
    returned = error;
  }
  const result = sink.results[0];
  assert.ok(result, "a result was published");
  assert.equal(sink.results.length, 1);
  return { result, errors: errors.errors, returned };
}

function thrower(error: unknown): () => never {
  return () => {
    throw error;
  };
}

describe("Scientist parity: comparison", () => {
  it("lets a custom compare decide equivalence: '1' and 1 match when compare says so", () => {
    // S17
    const { result, returned } = runOnce<unknown>(() => "1", { candidate: () => 1 }, { compare: (a, b) => a === String(b) });
    assert.equal(returned, "1");
    assert.equal(result.matched, true);
    assert.deepEqual(result.outcomes, { candidate: "matched" });
  });

  it("reports a mismatch when a custom compare says unequal, even for structurally equal values", () => {
    // S17 (the verdict stands both ways)
    const { result } = runOnce(() => ({ a: 1 }), { candidate: () => ({ a: 1 }) }, { compare: () => false });
    assert.equal(result.mismatched, true);
    assert.equal(result.mismatches[0]?.kind, "value");
    assert.equal(result.mismatches[0]?.summary, "compare() returned false");
  });

  it("matches equal values and mismatches different ones without a compare", () => {
    // S18
    assert.equal(runOnce(() => 1, { candidate: () => 1 }).result.matched, true);
    const { result } = runOnce(() => 1, { candidate: () => 2 });
    assert.equal(result.matched, false);
    assert.equal(result.mismatched, true);
    assert.equal(result.mismatches[0]?.summary, "(root)=1 vs 2");
  });

  it("compares objects by structure, not identity, without a compare (Ruby's == on hashes)", () => {
    // S18
    const { result } = runOnce(() => ({ a: 1, b: [1, 2] }), { candidate: () => ({ b: [1, 2], a: 1 }) });
    assert.equal(result.matched, true);
  });

  it("reports a throwing compare as operation 'compare', counts a mismatch and still returns the control's value", () => {
    // S19
    const cause = new Error("compare boom");
    const { result, errors, returned } = runOnce(() => 1, { candidate: () => 1 }, { compare: thrower(cause) });
    assert.equal(returned, 1);
    assert.equal(result.mismatched, true);
    assert.deepEqual(
      errors.map((e) => [e.operation, e.cause, e.experiment]),
      [["compare", cause, "comparison"]],
    );
  });

  it("calls compare with the control's value first and the candidate's second", () => {
    // S20
    const calls: unknown[][] = [];
    runOnce(() => "control", { candidate: () => "candidate" }, { compare: (a, b) => (calls.push([a, b]), true) });
    assert.deepEqual(calls, [["control", "candidate"]]);
  });

  it("never calls compare when either side threw", () => {
    // from "the tests miss"
    let calls = 0;
    const compare = (): boolean => {
      calls++;
      return true;
    };
    const controlThrew = runOnce<number>(thrower(new Error("x")), { candidate: () => 1 }, { compare });
    const candidateThrew = runOnce<number>(() => 1, { candidate: thrower(new Error("x")) }, { compare });
    const bothThrew = runOnce<number>(thrower(new Error("x")), { candidate: thrower(new Error("x")) }, { compare });
    assert.equal(calls, 0);
    assert.equal(controlThrew.result.mismatches[0]?.kind, "error");
    assert.equal(candidateThrew.result.mismatches[0]?.kind, "error");
    assert.equal(bothThrew.result.matched, true);
  });

  it("treats two errors of the same class with the same message as equivalent", () => {
    // S21
    const { result, returned } = runOnce<number>(thrower(new TypeError("boom")), { candidate: thrower(new TypeError("boom")) });
    assert.equal(result.matched, true);
    assert.ok(returned instanceof TypeError);
  });

  it("treats two errors with different messages as not equivalent: a mismatch of kind 'error'", () => {
    // S22
    const { result } = runOnce<number>(thrower(new TypeError("boom")), { candidate: thrower(new TypeError("bang")) });
    assert.equal(result.mismatched, true);
    assert.equal(result.mismatches[0]?.kind, "error");
    assert.equal(result.mismatches[0]?.summary, "threw TypeError: boom vs threw TypeError: bang");
  });

  it("treats errors of different classes with the same message as not equivalent", () => {
    // S23
    const { result } = runOnce<number>(thrower(new TypeError("boom")), { candidate: thrower(new RangeError("boom")) });
    assert.equal(result.mismatched, true);
    assert.equal(result.mismatches[0]?.kind, "error");
  });

  it("treats a subclass error with the same message as not equivalent (same constructor is required)", () => {
    // S23
    class PaymentError extends Error {}
    const { result } = runOnce<number>(thrower(new Error("declined")), { candidate: thrower(new PaymentError("declined")) });
    assert.equal(result.mismatched, true);
  });

  it("lets compareErrors override the class-and-message rule: class only", () => {
    // S24
    const classOnly = { compareErrors: (a: unknown, b: unknown) => (a as Error).constructor === (b as Error).constructor };
    const same = runOnce<number>(thrower(new TypeError("boom")), { candidate: thrower(new TypeError("other")) }, classOnly);
    const other = runOnce<number>(thrower(new TypeError("boom")), { candidate: thrower(new RangeError("boom")) }, classOnly);
    assert.equal(same.result.matched, true);
    assert.equal(other.result.mismatched, true);
  });

  it("lets compareErrors override the class-and-message rule: message only", () => {
    // S24
    const messageOnly = { compareErrors: (a: unknown, b: unknown) => (a as Error).message === (b as Error).message };
    const same = runOnce<number>(thrower(new TypeError("boom")), { candidate: thrower(new RangeError("boom")) }, messageOnly);
    const other = runOnce<number>(thrower(new TypeError("boom")), { candidate: thrower(new TypeError("bang")) }, messageOnly);
    assert.equal(same.result.matched, true);
    assert.equal(other.result.mismatched, true);
  });

  it("calls compareErrors with the control's error first and the candidate's second", () => {
    // S24
    const controlError = new Error("control");
    const candidateError = new Error("candidate");
    const calls: unknown[][] = [];
    runOnce<number>(thrower(controlError), { candidate: thrower(candidateError) }, { compareErrors: (a, b) => (calls.push([a, b]), true) });
    assert.deepEqual(calls, [[controlError, candidateError]]);
    assert.equal(calls[0]?.[0], controlError);
  });

  it("does not call compareErrors when only one side threw: that is an 'error' mismatch", () => {
    // penumbra's answer to "an error comparator may receive nil"
    let calls = 0;
    const compareErrors = (): boolean => {
      calls++;
      return true;
    };
    const controlOnly = runOnce<unknown>(thrower(new Error("x")), { candidate: () => ({ total: 1 }) }, { compareErrors });
    const candidateOnly = runOnce<unknown>(() => 1, { candidate: thrower(new Error("x")) }, { compareErrors });
    assert.equal(calls, 0);
    assert.equal(controlOnly.result.mismatches[0]?.kind, "error");
    assert.equal(controlOnly.result.mismatches[0]?.summary, 'threw Error: x vs returned {"total":1}');
    assert.equal(candidateOnly.result.mismatches[0]?.kind, "error");
  });

  it("reports a throwing compareErrors as operation 'compareErrors' and counts a mismatch", () => {
    // S19 for errors
    const cause = new Error("compareErrors boom");
    const { result, errors } = runOnce<number>(thrower(new Error("x")), { candidate: thrower(new Error("x")) }, { compareErrors: thrower(cause) });
    assert.equal(result.mismatched, true);
    assert.deepEqual(
      errors.map((e) => [e.operation, e.cause]),
      [["compareErrors", cause]],
    );
  });
});

describe("Scientist parity: cleaning", () => {
  it("publishes the raw value as the cleaned value when there is no cleaner", () => {
    // S30
    const value = { id: 1 };
    const { result } = runOnce(() => value, { candidate: () => ({ id: 1 }) });
    assert.equal(result.control.cleanedValue, result.control.value);
    assert.deepEqual(result.control.cleanedValue, { id: 1 });
    assert.deepEqual(result.candidates[0]?.cleanedValue, { id: 1 });
  });

  it("publishes the cleaner's output as the cleaned value of every observation, keeping the raw value", () => {
    // S32
    const { result } = runOnce(() => "foo", { candidate: () => "bar" }, { clean: (v) => v.toUpperCase() });
    assert.equal(result.control.value, "foo");
    assert.equal(result.control.cleanedValue, "FOO");
    assert.equal(result.candidates[0]?.value, "bar");
    assert.equal(result.candidates[0]?.cleanedValue, "BAR");
  });

  it("reports a throwing cleaner as operation 'clean' and publishes the raw value", () => {
    // S33
    const cause = new Error("clean boom");
    const { result, errors } = runOnce(() => "foo", { candidate: () => "foo" }, { clean: thrower(cause) });
    assert.equal(result.control.cleanedValue, "foo");
    assert.equal(result.candidates[0]?.cleanedValue, "foo");
    assert.ok(errors.length >= 1);
    assert.ok(errors.every((e) => e.operation === "clean" && e.cause === cause));
  });

  it("never passes null or undefined to the cleaner", () => {
    // S34
    const seen: unknown[] = [];
    const clean = (v: unknown): unknown => {
      seen.push(v);
      return "cleaned";
    };
    const nulls = runOnce<unknown>(() => null, { candidate: () => undefined }, { clean, compare: () => true });
    assert.deepEqual(seen, []);
    assert.equal(nulls.result.control.cleanedValue, null);
    assert.equal(nulls.result.candidates[0]?.cleanedValue, undefined);
  });

  it("keeps false as false without a cleaner, and passes false to a cleaner", () => {
    // S35
    assert.equal(runOnce(() => false, { candidate: () => false }).result.control.cleanedValue, false);
    const seen: unknown[] = [];
    const { result } = runOnce(() => false, { candidate: () => false }, { clean: (v) => (seen.push(v), "was false") });
    assert.deepEqual(seen, [false, false]);
    assert.equal(result.control.cleanedValue, "was false");
  });

  it("never uses the cleaner for comparison: different values that clean alike still mismatch", () => {
    // README "Keeping it clean"
    const { result } = runOnce(() => ({ id: 1 }), { candidate: () => ({ id: 2 }) }, { clean: () => "same" });
    assert.equal(result.mismatched, true);
    assert.equal(result.mismatches[0]?.summary, "id=1 vs 2");
  });

  it("never uses the cleaner for comparison: equal values that clean differently still match", () => {
    let n = 0;
    const { result } = runOnce(() => ({ id: 1 }), { candidate: () => ({ id: 1 }) }, { clean: () => n++ });
    assert.equal(result.matched, true);
    assert.notEqual(result.control.cleanedValue, result.candidates[0]?.cleanedValue);
  });
});

describe("Scientist parity: ignore rules", () => {
  it("does not ignore a mismatch when there are no ignore rules", () => {
    // S36
    const { result } = runOnce(() => 1, { candidate: () => 2 });
    assert.equal(result.ignored, false);
    assert.equal(result.mismatched, true);
    assert.deepEqual(result.outcomes, { candidate: "mismatched" });
  });

  it("passes the control's and the candidate's values to an ignore rule, and ignores the mismatch when it returns true", () => {
    // S37
    const calls: unknown[][] = [];
    const { result } = runOnce(() => "control", { candidate: () => "candidate" }, { ignore: [(a, b) => (calls.push([a, b]), true)] });
    assert.deepEqual(calls, [["control", "candidate"]]);
    assert.equal(result.ignored, true);
    assert.deepEqual(result.outcomes, { candidate: "ignored" });
  });

  it("consults every ignore rule when none returns true", () => {
    // S38
    const called: string[] = [];
    const { result } = runOnce(() => 1, { candidate: () => 2 }, {
      ignore: [() => (called.push("first"), false), () => (called.push("second"), false), () => (called.push("third"), false)],
    });
    assert.deepEqual(called, ["first", "second", "third"]);
    assert.equal(result.mismatched, true);
    assert.equal(result.ignored, false);
  });

  it("stops at the first ignore rule that returns true", () => {
    // S39
    const called: string[] = [];
    const { result } = runOnce(() => 1, { candidate: () => 2 }, {
      ignore: [() => (called.push("first"), false), () => (called.push("second"), true), () => (called.push("third"), true)],
    });
    assert.deepEqual(called, ["first", "second"]);
    assert.equal(result.ignored, true);
  });

  it("reports a throwing ignore rule as operation 'ignore' and counts it as not ignored", () => {
    // S40
    const cause = new Error("ignore boom");
    const { result, errors, returned } = runOnce(() => 1, { candidate: () => 2 }, { ignore: [thrower(cause)] });
    assert.equal(returned, 1);
    assert.equal(result.mismatched, true);
    assert.equal(result.ignored, false);
    assert.deepEqual(
      errors.map((e) => [e.operation, e.cause]),
      [["ignore", cause]],
    );
  });

  it("still consults the rules after a throwing one, reporting exactly one error", () => {
    // S41
    const cause = new Error("ignore boom");
    const called: string[] = [];
    const { result, errors } = runOnce(() => 1, { candidate: () => 2 }, {
      ignore: [() => (called.push("first"), false), thrower(cause), () => (called.push("third"), true)],
    });
    assert.deepEqual(called, ["first", "third"]);
    assert.equal(result.ignored, true);
    assert.equal(errors.length, 1);
    assert.equal(errors[0]?.operation, "ignore");
    assert.equal(errors[0]?.cause, cause);
  });

  it("marks an ignored mismatch as neither mismatched nor matched, but ignored", () => {
    // S42
    const { result } = runOnce(() => 1, { candidate: () => 2 }, { ignore: [() => true] });
    assert.equal(result.mismatched, false);
    assert.equal(result.matched, false);
    assert.equal(result.ignored, true);
    assert.deepEqual(result.outcomes, { candidate: "ignored" });
    assert.deepEqual(result.mismatches, [], "mismatches lists mismatched candidates only");
  });

  it("classifies each candidate's mismatch separately as ignored or mismatched", () => {
    // S43
    const { result } = runOnce(() => 1, { same: () => 1, minor: () => 2, major: () => 10 }, { ignore: [(a, b) => Math.abs((b as number) - (a as number)) <= 1] });
    assert.deepEqual(result.outcomes, { same: "matched", minor: "ignored", major: "mismatched" });
    assert.deepEqual(
      result.mismatches.map((m) => m.candidate),
      ["major"],
    );
    assert.equal(result.mismatched, true);
    assert.equal(result.ignored, true);
    assert.equal(result.matched, false);
  });

  it("never calls ignore rules for a candidate that matched", () => {
    // from "the tests miss"
    let calls = 0;
    const { result } = runOnce(() => ({ a: 1 }), { candidate: () => ({ a: 1 }) }, { ignore: [() => (calls++, true)] });
    assert.equal(calls, 0);
    assert.equal(result.matched, true);
    assert.equal(result.ignored, false);
  });

  it("passes undefined for the side that threw, so a rule can ignore a candidate's error", () => {
    // S37 with a raising candidate (Scientist passes its nil value)
    const calls: unknown[][] = [];
    const { result } = runOnce<number>(() => 5, { candidate: thrower(new Error("not yet")) }, { ignore: [(a, b) => (calls.push([a, b]), b === undefined)] });
    assert.deepEqual(calls, [[5, undefined]]);
    assert.deepEqual(result.outcomes, { candidate: "ignored" });
  });

  it("records timing only with an ignore rule that always says true", () => {
    // README: `ignore { true }` to record timings only
    const { result } = runOnce(() => "old", { candidate: () => "new" }, { ignore: [() => true] });
    assert.equal(result.mismatched, false);
    assert.ok(result.candidates[0] !== undefined && result.candidates[0].durationMs >= 0);
  });
});
