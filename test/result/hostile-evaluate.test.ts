/**
 * Promise 3 under attack: generated hostile values on both sides (throwing getters and traps,
 * revoked Proxies, cycles, throwing toJSON / toString / inspect.custom, huge and deep values) meet
 * generated hostile callbacks (`compare`, `statusOf`, `ignore` that throw, return non-booleans or
 * promises) and hostile bucket rules (patterns that match everything or nothing, guards and
 * predicates that throw or return promises). Whatever they do, evaluation never throws, and a
 * mismatch always carries an explanation: a non-empty summary on one line, bounded, and the same
 * for the same two values built twice.
 */
import { strict as assert } from "node:assert";
import fc from "fast-check";
import { P } from "ts-pattern";
import type { Operation } from "../../src/errors";
import { evaluate, type EvaluationContext } from "../../src/result/evaluate";
import type { BucketRule } from "../../src/types/options";
import type { Observation } from "../../src/types/results";
import { hostileValue } from "../reliability/hostile";

const SCALE = Number(process.env.RELIABILITY_SCALE ?? "1");

type Outcome = Omit<Observation<unknown>, "cleanedValue">;

function outcome(role: "control" | "candidate", threw: boolean, valueOrError: unknown): Outcome {
  const base = { name: role, role, threw, durationMs: 1, timedOut: false, isolated: true, effects: [], leaks: [] };
  return threw ? { ...base, error: valueOrError } : { ...base, value: valueOrError };
}

/** Callbacks by kind; `undefined` leaves the option out. */
const answers: ReadonlyArray<(() => unknown) | undefined> = [
  undefined,
  () => true,
  () => false,
  () => 1,
  () => "yes",
  () => {
    throw new Error("callback\nthrew\u001b[2J");
  },
  () => Promise.resolve(true),
  () => Promise.reject(new Error("late")),
  () => ({ then: (): never => { throw new Error("then"); } }),
];

const rules: readonly BucketRule[] = [
  { name: "everything", match: P._ },
  { name: "nothing", match: { path: "\u0000never" } },
  { name: "guard-throws", match: { control: P.when(() => { throw new Error("guard"); }) } },
  { name: "predicate-throws", match: () => { throw new Error("predicate"); } },
  { name: "predicate-promise", match: (() => Promise.resolve(true)) as unknown as (d: unknown) => boolean },
  { name: "__proto__", noise: true, match: { kind: "added" } },
  { name: "x".repeat(10_000), match: { kind: "type" } },
];

// C0/C1 controls (newline included), bidi marks, line separators, lone surrogates.
const UNREADABLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

describe("evaluate on hostile values with hostile callbacks and rules", function () {
  this.timeout(120_000);
  let unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => {
    unhandled.push(reason);
  };
  before(() => process.on("unhandledRejection", onUnhandled));
  after(async () => {
    await new Promise((resolve) => setImmediate(resolve));
    process.off("unhandledRejection", onUnhandled);
    assert.deepEqual(unhandled, [], "no promise a callback returned is left unhandled");
  });

  it("never throws, and explains every mismatch in one bounded, deterministic line", () => {
    fc.assert(
      fc.property(
        hostileValue(),
        hostileValue(),
        fc.boolean(),
        fc.boolean(),
        fc.record({
          compare: fc.nat({ max: answers.length - 1 }),
          statusOf: fc.nat({ max: answers.length - 1 }),
          ignore: fc.nat({ max: answers.length - 1 }),
        }),
        fc.subarray([...rules]),
        (left, right, controlThrew, candidateThrew, picks, chosen) => {
          const options: Record<string, unknown> = {};
          const compare = answers[picks.compare];
          const statusOf = answers[picks.statusOf];
          const ignore = answers[picks.ignore];
          if (compare !== undefined) options["compare"] = compare;
          if (statusOf !== undefined) options["statusOf"] = statusOf;
          if (ignore !== undefined) options["ignore"] = [ignore];
          const run = (): { verdict: string; summary: string | undefined } => {
            const reports: Array<[Operation, unknown]> = [];
            const context: EvaluationContext = {
              options: options as EvaluationContext["options"],
              rules: chosen,
              compareOptions: undefined,
              timeoutMs: 5000,
              report: (op, cause) => reports.push([op, cause]),
            };
            const evaluation = evaluate(context, outcome("control", controlThrew, left.build()), outcome("candidate", candidateThrew, right.build()));
            return { verdict: evaluation.verdict, summary: evaluation.mismatch?.summary };
          };
          const first = run();
          if (first.verdict !== "matched") {
            const summary = first.summary;
            assert.equal(typeof summary, "string");
            assert.notEqual(summary, "", "a mismatch is never unexplained");
            assert.doesNotMatch(summary as string, UNREADABLE, JSON.stringify(summary));
            assert.ok((summary as string).length < 12_000, `bounded: ${(summary as string).length}`);
          }
          assert.deepEqual(run(), first, "the same two values built again give the same verdict and summary");
        },
      ),
      { numRuns: Math.max(1, Math.round(300 * SCALE)) },
    );
  });
});
