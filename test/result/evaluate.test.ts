/** Evaluation of one candidate against the control, fed hostile outcomes directly. */
import { strict as assert } from "node:assert";
import fc from "fast-check";
import type { Operation } from "../../src/errors";
import { defaultErrorsEquivalent, evaluate, type EvaluationContext } from "../../src/result/evaluate";
import type { Observation } from "../../src/types/results";
import { deepArrays, deepChain, hostileValue, throwingProxy } from "../reliability/hostile";

type Outcome = Omit<Observation<unknown>, "cleanedValue">;

function outcome(role: "control" | "candidate", threw: boolean, valueOrError: unknown): Outcome {
  const base = { name: role, role, threw, durationMs: 1, timedOut: false, isolated: true, effects: [], leaks: [] };
  return threw ? { ...base, error: valueOrError } : { ...base, value: valueOrError };
}

function contextWith(options: EvaluationContext["options"] = {}): EvaluationContext & { reports: Array<[Operation, unknown]> } {
  const reports: Array<[Operation, unknown]> = [];
  return { options, rules: [], compareOptions: undefined, timeoutMs: 5000, reports, report: (op, cause) => reports.push([op, cause]) };
}

class MessageThrows extends Error {
  override get message(): string {
    throw new Error("message getter");
  }
}

describe("evaluate", () => {
  it("produces a verdict when both sides throw errors whose message getter throws", () => {
    const context = contextWith();
    const evaluation = evaluate(context, outcome("control", true, new MessageThrows()), outcome("candidate", true, new MessageThrows()));
    assert.equal(evaluation.verdict, "mismatched");
    assert.equal(evaluation.mismatch?.kind, "error");
    assert.equal(evaluation.mismatch?.summary, "threw Error: (message unreadable) vs threw Error: (message unreadable) (unreadable messages are never equal)");
  });

  it("matches when both sides threw the very same unreadable error", () => {
    const error = new MessageThrows();
    const evaluation = evaluate(contextWith(), outcome("control", true, error), outcome("candidate", true, error));
    assert.equal(evaluation.verdict, "matched");
  });

  it("describes a hostile candidate error without letting it escape", () => {
    const evaluation = evaluate(contextWith(), outcome("control", false, 1), outcome("candidate", true, throwingProxy(new Error("x"))));
    assert.equal(evaluation.verdict, "mismatched");
    assert.match(evaluation.mismatch?.summary ?? "", /^returned 1 vs threw /);
  });

  it("matches identical results 10 000 levels deep instead of reporting a comparison crash", () => {
    for (const make of [() => deepChain(10_000), () => deepArrays(10_000)]) {
      const context = contextWith();
      const evaluation = evaluate(context, outcome("control", false, make()), outcome("candidate", false, make()));
      assert.equal(evaluation.verdict, "matched");
      assert.deepEqual(context.reports, []);
    }
  });

  it("explains a difference 10 000 levels deep field by field", () => {
    const evaluation = evaluate(contextWith(), outcome("control", false, deepChain(10_000, 1)), outcome("candidate", false, deepChain(10_000, 2)));
    assert.equal(evaluation.verdict, "mismatched");
    assert.equal(evaluation.mismatch?.kind, "value");
    assert.match(evaluation.mismatch?.summary ?? "", /^next\.next.*=1 vs 2$/s);
  });

  it("matches equal Maps with object keys", () => {
    const evaluation = evaluate(
      contextWith(),
      outcome("control", false, new Map([[{ sku: "A" }, 1]])),
      outcome("candidate", false, new Map([[{ sku: "A" }, 1]])),
    );
    assert.equal(evaluation.verdict, "matched");
  });

  it("never throws, whatever the two sides returned or threw", () => {
    fc.assert(
      fc.property(fc.boolean(), hostileValue(), fc.boolean(), hostileValue(), (controlThrew, control, candidateThrew, candidate) => {
        const context = contextWith();
        const evaluation = evaluate(context, outcome("control", controlThrew, control.build()), outcome("candidate", candidateThrew, candidate.build()));
        assert.ok(["matched", "mismatched", "ignored"].includes(evaluation.verdict));
        if (evaluation.mismatch !== undefined) assert.ok(evaluation.mismatch.summary.length < 5_000);
      }),
      { numRuns: 300 },
    );
  });
});

describe("defaultErrorsEquivalent", () => {
  it("accepts two errors of the same class with the same message", () => {
    assert.equal(defaultErrorsEquivalent(new TypeError("x"), new TypeError("x")), true);
  });

  it("rejects errors of different classes or messages", () => {
    assert.equal(defaultErrorsEquivalent(new TypeError("x"), new RangeError("x")), false);
    assert.equal(defaultErrorsEquivalent(new TypeError("x"), new TypeError("y")), false);
  });

  it("rejects two distinct errors whose messages cannot be read", () => {
    assert.equal(defaultErrorsEquivalent(new MessageThrows(), new MessageThrows()), false);
  });

  it("rejects errors whose prototype cannot be read", () => {
    assert.equal(defaultErrorsEquivalent(throwingProxy(new Error("x")), throwingProxy(new Error("x"))), false);
  });

  it("compares thrown non-errors deeply", () => {
    assert.equal(defaultErrorsEquivalent({ code: 1 }, { code: 1 }), true);
    assert.equal(defaultErrorsEquivalent("a", "b"), false);
    assert.equal(defaultErrorsEquivalent(new Error("x"), { message: "x" }), false);
  });
});
