/**
 * Both sides threw, and the errors are not equivalent (another class of the same name, another
 * message past the cut): the `(error)` line must not read `threw E: a vs threw E: a`.
 */
import { strict as assert } from "node:assert";
import { evaluate, type EvaluationContext } from "../../src/result/evaluate";
import type { Observation } from "../../src/types/results";

type Outcome = Omit<Observation<unknown>, "cleanedValue">;

function threw(role: "control" | "candidate", error: unknown): Outcome {
  return { name: role, role, threw: true, error, durationMs: 1, timedOut: false, isolated: true, effects: [], leaks: [] };
}

const context: EvaluationContext = { options: {}, rules: [], compareOptions: undefined, timeoutMs: 5000, report: () => undefined };

function summaryOf(control: unknown, candidate: unknown): string {
  const evaluation = evaluate(context, threw("control", control), threw("candidate", candidate));
  assert.equal(evaluation.verdict, "mismatched");
  assert.equal(evaluation.mismatch?.kind, "error");
  return evaluation.mismatch?.summary ?? "";
}

describe("the summary of two errors that read alike", () => {
  it("says two error classes of the same name are different prototypes", () => {
    const Old = class PaymentError extends Error {};
    const New = class PaymentError extends Error {};
    const summary = summaryOf(new Old("declined"), new New("declined"));
    assert.match(summary, /^threw Error: declined vs threw Error: declined \(different prototypes, both PaymentError\)$/);
  });

  it("shows where two long messages cut alike first differ", () => {
    const long = "x".repeat(80);
    const summary = summaryOf(new Error(`${long} card 1234`), new Error(`${long} card 9876`));
    assert.match(summary, /\(message from character 86: …".*1234" vs …".*9876"\)$/, summary);
  });

  it("names compareErrors when it is what keeps two errors that read alike apart", () => {
    const own: EvaluationContext = { ...context, options: { compareErrors: () => false } };
    const evaluation = evaluate(own, threw("control", new Error("x")), threw("candidate", new Error("x")));
    assert.equal(evaluation.mismatch?.summary, "threw Error: x vs threw Error: x (not equivalent by compareErrors())");
  });

  it("keeps the plain form when the two descriptions already differ", () => {
    assert.equal(summaryOf(new TypeError("a"), new RangeError("a")), "threw TypeError: a vs threw RangeError: a");
  });
});
