/**
 * Comparison callbacks are synchronous (`compare`, `compareErrors`, `compareEffects`, `statusOf`,
 * `ignore`, bucket predicates). One that answers with a promise must not turn into a silent verdict
 * (a promise is not `true`, so every run would mismatch with nobody told why): an `async` function
 * is refused when the experiment is built, and a plain function that returns a promise is reported
 * under its operation and named in the summary. A status that is an object is compared by structure,
 * so two equal statuses never read `status={"code":200} vs {"code":200}`.
 */
import { strict as assert } from "node:assert";
import fc from "fast-check";
import type { Operation } from "../../src/errors";
import { Experiment, Scorecard, flush, shadow } from "../../src/index";
import { evaluate, type EvaluationContext } from "../../src/result/evaluate";
import type { Effect, Observation } from "../../src/types/results";

type Outcome = Omit<Observation<unknown>, "cleanedValue">;

function outcome(role: "control" | "candidate", threw: boolean, valueOrError: unknown, effects: Effect[] = []): Outcome {
  const base = { name: role, role, threw, durationMs: 1, timedOut: false, isolated: true, effects, leaks: [] };
  return threw ? { ...base, error: valueOrError } : { ...base, value: valueOrError };
}

function contextWith(options: EvaluationContext["options"]): EvaluationContext & { reports: Array<[Operation, unknown]> } {
  const reports: Array<[Operation, unknown]> = [];
  return { options, rules: [], compareOptions: undefined, timeoutMs: 5000, reports, report: (op, cause) => reports.push([op, cause]) };
}

/** A promise that settles like `value` and whose rejection, if any, is never left unhandled by the test. */
const promiseKinds = fc.constantFrom<() => PromiseLike<unknown>>(
  () => Promise.resolve(true),
  () => Promise.resolve(false),
  () => Promise.reject(new Error("async verdict")),
  () => ({ then: (resolve: (v: unknown) => void) => resolve(true) }) as unknown as PromiseLike<unknown>,
);

describe("comparison callbacks that return a promise", () => {
  let unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => {
    unhandled.push(reason);
  };
  beforeEach(() => {
    unhandled = [];
    process.on("unhandledRejection", onUnhandled);
  });
  afterEach(async () => {
    await new Promise((resolve) => setImmediate(resolve));
    process.off("unhandledRejection", onUnhandled);
    assert.deepEqual(unhandled, [], "no rejection of a returned promise is left unhandled");
  });

  it("reports a compare that returns a promise as operation 'compare' and says so in the summary", () => {
    fc.assert(
      fc.property(promiseKinds, (make) => {
        const context = contextWith({ compare: () => make() as never });
        const evaluation = evaluate(context, outcome("control", false, { total: 1 }), outcome("candidate", false, { total: 1 }));
        assert.equal(evaluation.verdict, "mismatched");
        assert.match(evaluation.mismatch?.summary ?? "", /^compare\(\) returned a promise/);
        assert.deepEqual(context.reports.map(([op]) => op), ["compare"]);
        assert.ok(context.reports[0]?.[1] instanceof TypeError);
      }),
      { numRuns: 20 },
    );
  });

  it("reports an ignore rule that returns a promise as operation 'ignore', does not ignore, and runs the next rule", () => {
    const context = contextWith({ ignore: [() => Promise.resolve(true) as never, () => true] });
    const evaluation = evaluate(context, outcome("control", false, 1), outcome("candidate", false, 2));
    assert.equal(evaluation.verdict, "ignored", "the second rule still ran");
    assert.deepEqual(context.reports.map(([op]) => op), ["ignore"]);
    const alone = contextWith({ ignore: [() => Promise.resolve(true) as never] });
    assert.equal(evaluate(alone, outcome("control", false, 1), outcome("candidate", false, 2)).verdict, "mismatched");
  });

  it("reports a statusOf that returns a promise as operation 'statusOf' and counts a mismatch that says so", () => {
    const context = contextWith({ statusOf: ((v: { status: number }) => Promise.resolve(v.status)) as never });
    const evaluation = evaluate(context, outcome("control", false, { status: 200 }), outcome("candidate", false, { status: 200 }));
    assert.equal(evaluation.verdict, "mismatched");
    assert.match(evaluation.mismatch?.summary ?? "", /^statusOf\(\) returned a promise/);
    assert.deepEqual(context.reports.map(([op]) => op), ["statusOf"]);
  });

  it("reports a compareErrors that returns a promise as operation 'compareErrors' and keeps the errors apart", () => {
    const context = contextWith({ compareErrors: () => Promise.resolve(true) as never });
    const evaluation = evaluate(context, outcome("control", true, new Error("a")), outcome("candidate", true, new Error("a")));
    assert.equal(evaluation.verdict, "mismatched");
    assert.deepEqual(context.reports.map(([op]) => op), ["compareErrors"]);
  });

  it("reports a compareEffects that returns a promise as operation 'compareEffects' and says so in the summary", () => {
    const effect: Effect = { name: "mail.send", args: [1], role: "control", blocked: false };
    const context = contextWith({ compareEffects: () => Promise.resolve(true) as never });
    const evaluation = evaluate(context, outcome("control", false, 1, [effect]), outcome("candidate", false, 1, [effect]));
    assert.equal(evaluation.verdict, "mismatched");
    assert.match(evaluation.mismatch?.summary ?? "", /^compareEffects\(\) returned a promise/);
    assert.deepEqual(context.reports.map(([op]) => op), ["compareEffects"]);
  });
});

describe("comparison callbacks that return something other than a boolean", () => {
  // The classic: a comparator with braces and no `return` answers undefined on every run.
  const answers: unknown[] = [undefined, 1, 0, "yes", null, {}];

  it("reports a compare that returns a non-boolean as operation 'compare' and names what it returned", () => {
    for (const answer of answers) {
      const context = contextWith({ compare: (() => answer) as never });
      const evaluation = evaluate(context, outcome("control", false, { total: 1 }), outcome("candidate", false, { total: 1 }));
      assert.equal(evaluation.verdict, "mismatched");
      assert.match(evaluation.mismatch?.summary ?? "", /^compare\(\) returned a non-boolean \(/, `for ${String(answer)}`);
      assert.doesNotMatch(evaluation.mismatch?.summary ?? "", /returned false/);
      assert.deepEqual(context.reports.map(([op]) => op), ["compare"]);
    }
  });

  it("reports a compareEffects that returns a non-boolean as operation 'compareEffects' and names it", () => {
    const effect: Effect = { name: "mail.send", args: [1], role: "control", blocked: false };
    const context = contextWith({ compareEffects: (() => undefined) as never });
    const evaluation = evaluate(context, outcome("control", false, 1, [effect]), outcome("candidate", false, 1, [effect]));
    assert.match(evaluation.mismatch?.summary ?? "", /^compareEffects\(\) returned a non-boolean \(undefined\)/);
    assert.deepEqual(context.reports.map(([op]) => op), ["compareEffects"]);
  });

  it("reports an ignore rule or compareErrors that returns a non-boolean, and reads it as no", () => {
    const ignoring = contextWith({ ignore: [(() => undefined) as never] });
    assert.equal(evaluate(ignoring, outcome("control", false, 1), outcome("candidate", false, 2)).verdict, "mismatched");
    assert.deepEqual(ignoring.reports.map(([op]) => op), ["ignore"]);
    const errors = contextWith({ compareErrors: (() => 1) as never });
    assert.equal(evaluate(errors, outcome("control", true, new Error("a")), outcome("candidate", true, new Error("a"))).verdict, "mismatched");
    assert.deepEqual(errors.reports.map(([op]) => op), ["compareErrors"]);
  });
});

describe("statuses that are not strings or numbers", () => {
  it("treats +0 and -0 as the same status, as the value rules do, instead of reading status=0 vs 0", () => {
    const context = contextWith({ statusOf: ((v: { status: number }) => v.status) as never });
    const evaluation = evaluate(context, outcome("control", false, { status: 0 }), outcome("candidate", false, { status: -0 }));
    assert.equal(evaluation.verdict, "matched", evaluation.mismatch?.summary);
  });

  it("compares object statuses by structure: equal ones match, different ones are explained", () => {
    const context = contextWith({ statusOf: ((v: { status: number }) => ({ code: v.status })) as never });
    const same = evaluate(context, outcome("control", false, { status: 200 }), outcome("candidate", false, { status: 200 }));
    assert.equal(same.verdict, "matched");
    const other = evaluate(context, outcome("control", false, { status: 200 }), outcome("candidate", false, { status: 500 }));
    assert.equal(other.mismatch?.kind, "status");
    assert.match(other.mismatch?.summary ?? "", /^status=\{"code":200\} vs \{"code":500\}/);
  });
});

describe("async comparison callbacks are refused when the experiment is built", () => {
  const asyncFn = async (): Promise<boolean> => true;
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ["compare", { compare: asyncFn }, /'compare'/],
    ["compareErrors", { compareErrors: asyncFn }, /'compareErrors'/],
    ["compareEffects", { compareEffects: asyncFn }, /'compareEffects'/],
    ["statusOf", { statusOf: asyncFn }, /'statusOf'/],
    ["an ignore rule", { ignore: [() => true, asyncFn] }, /'ignore\[1\]'/],
    ["a bucket predicate", { buckets: [{ name: "late", match: asyncFn }] }, /'buckets\[0\]'/],
  ];
  for (const [name, options, message] of cases) {
    it(`throws a TypeError naming ${name}`, () => {
      assert.throws(
        () => new Experiment(`async-${name}`, options as never),
        (error: unknown) => error instanceof TypeError && message.test(error.message) && /synchronous/.test(error.message),
      );
    });
  }

  it("throws a TypeError naming the rule when reading a bucket rule's name throws", () => {
    const rule = {
      get name(): string {
        throw new Error("name getter");
      },
      match: { path: "total" },
    };
    assert.throws(
      () => new Experiment("rule-name-getter", { buckets: [rule] } as never),
      (error: unknown) => error instanceof TypeError && /'buckets\[0\]'/.test(error.message),
    );
  });
});

describe("the scorecard's reasons for these mismatches", () => {
  it("names a reason after the callback that returned a promise, and an object status by its fields", async () => {
    const scorecard = new Scorecard();
    const late = shadow(() => 1, () => 1, { name: "late-compare", compare: (() => Promise.resolve(true)) as never, publish: scorecard, onError: () => undefined });
    late();
    const status = shadow(() => ({ code: 200 }), () => ({ code: 500 }), { name: "object-status", statusOf: ((v: { code: number }) => ({ code: v.code })) as never, publish: scorecard });
    status();
    await flush();
    assert.deepEqual(scorecard.summary("late-compare", "candidate")?.reasons.map((r) => r.reason), ["compare() returned a promise"]);
    const reasons = scorecard.summary("object-status", "candidate")?.reasons.map((r) => r.reason) ?? [];
    assert.ok(reasons.includes('status:{"code":200}->{"code":500}'), reasons.join(" | "));
  });
});

describe("a callback's error in the summary", () => {
  const multiline = new Error("first line\nsecond line\u2028third\u202e");
  const oneLine = (summary: string | undefined): void => {
    assert.ok(summary !== undefined && summary !== "");
    assert.doesNotMatch(summary, /[\n\r\u2028\u2029\u202e]/, JSON.stringify(summary));
    assert.match(summary, /first line\\u000asecond line/, "the message is kept, escaped");
  };

  it("keeps a summary forced by a throwing compare, statusOf or compareEffects on one line", () => {
    const effect: Effect = { name: "mail.send", args: [1], role: "control", blocked: false };
    const thrower = (): never => {
      throw multiline;
    };
    for (const options of [{ compare: thrower }, { statusOf: thrower }, { compareEffects: thrower }] as Array<EvaluationContext["options"]>) {
      const context = contextWith(options);
      const evaluation = evaluate(context, outcome("control", false, 1, [effect]), outcome("candidate", false, 1, [effect]));
      oneLine(evaluation.mismatch?.summary);
    }
  });

  it("keeps a summary forced by a value whose getter throws on one line", () => {
    const hostile = {
      get total(): number {
        throw multiline;
      },
    };
    const evaluation = evaluate(contextWith({}), outcome("control", false, { total: 1 }), outcome("candidate", false, hostile));
    oneLine(evaluation.mismatch?.summary);
  });
});

describe("sparse callback lists are refused when the experiment is built", () => {
  it("throws a TypeError naming a hole in buckets or ignore", () => {
    // eslint-disable-next-line no-sparse-arrays
    const buckets = [, { name: "x", match: { path: "total" } }];
    assert.throws(() => new Experiment("sparse-buckets", { buckets } as never), (e: unknown) => e instanceof TypeError && /'buckets\[0\]'/.test(e.message));
    // eslint-disable-next-line no-sparse-arrays
    const ignore = [() => false, , () => false];
    assert.throws(() => new Experiment("sparse-ignore", { ignore } as never), (e: unknown) => e instanceof TypeError && /'ignore'/.test(e.message));
  });
});
