/**
 * Compares one candidate's outcome with the control's, in the contract's order: errors, then the
 * status (`statusOf`), then values (a custom `compare` or deep structural equality, diffed field by
 * field when unequal). Every difference is then bucketed; a candidate whose differences are all in
 * noise buckets counts as matched. Last, the `ignore` rules run for a candidate that mismatched.
 */
import { assignBuckets, bucketsOf } from "../buckets/assign";
import { deepEqual } from "../compare/equal";
import { diff } from "../compare/diff";
import { ERROR_PATH, STATUS_PATH, describeOutcome, explainAlike, summarize } from "../compare/format";
import type { CompareOptions } from "../compare/options";
import { effectDiffs, isEffectDiff, isEffectsForced, summarizeEffects } from "./effects";
import { describeThrown } from "../describe";
import { escapeLine } from "../compare/render";
import { UNREADABLE, constructorOf, errorMessageOf, isErrorLike } from "../compare/safe-read";
import type { Operation } from "../errors";
import { booleanAnswer, forcedBy, synchronous } from "./synchronous";
import type { BucketRule, ExperimentOptions } from "../types/options";
import type { FieldDiff, Mismatch, MismatchKind, Outcome as Verdict, RawObservation as Outcome } from "../types/results";

/**
 * What evaluation needs from the experiment: the comparison options, bucket rules (the user's and
 * the learned ones), the timeout and the reporter.
 *
 * @internal
 * @example
 * ```ts
 * const context: EvaluationContext = { options: core.options, rules, compareOptions, timeoutMs: 5000, report };
 * ```
 */
export interface EvaluationContext {
  readonly options: Pick<ExperimentOptions<never[], unknown>, "compare" | "compareErrors" | "ignore" | "statusOf" | "compareEffects">;
  /** The experiment's bucket rules, then the rules calibration learned. */
  readonly rules: readonly BucketRule[];
  /** Passed to the diff (the `noise.arrayOrder` paths). */
  readonly compareOptions: CompareOptions | undefined;
  readonly timeoutMs: number;
  report(operation: Operation, cause: unknown): void;
}

/**
 * The verdict on one candidate.
 *
 * @internal
 * @example
 * ```ts
 * const evaluation: Evaluation = evaluate(context, control, candidate);
 * if (evaluation.verdict === "mismatched") mismatches.push(evaluation.mismatch!);
 * ```
 */
export interface Evaluation {
  verdict: Verdict;
  /** Present when the candidate differed (also when the difference was then ignored). */
  mismatch?: Mismatch;
  /** Differences that fell into noise buckets. */
  noise: FieldDiff[];
}

/** The differences found before bucketing, and whether a callback forced a mismatch without one. */
interface Findings {
  diffs: FieldDiff[];
  /** A summary for a mismatch no diff explains (`compare() returned false`, a callback that threw). */
  forced: string | undefined;
}

// Shared and frozen: a matching run (the common case) allocates no findings and no verdict object.
const NO_DIFFS: FieldDiff[] = Object.freeze([]) as unknown as FieldDiff[];
const NO_FINDINGS: Findings = Object.freeze({ diffs: NO_DIFFS, forced: undefined });
const MATCHED: Evaluation = Object.freeze({ verdict: "matched", noise: NO_DIFFS });
const NO_STATUS: { diff?: FieldDiff; forced?: string } = Object.freeze({});

/**
 * Compares `candidate` with `control`. Never throws: callback failures are reported and counted as the contract says.
 *
 * @internal
 * @example
 * ```ts
 * const evaluation = evaluate(context, control, outcome);
 * ```
 */
export function evaluate(context: EvaluationContext, control: Outcome, candidate: Outcome): Evaluation {
  try {
    return evaluateUnguarded(context, control, candidate);
  } catch (error) {
    // Every step guards its own callbacks; this is the last line for anything a user value still
    // managed to throw through (the contract: every admitted run is published).
    context.report("compare", error);
    const summary = `comparison threw ${escapeLine(describeThrown(error))}`;
    return { verdict: "mismatched", mismatch: { candidate: candidate.name, kind: "value", diffs: [], summary, buckets: [] }, noise: [] };
  }
}

function evaluateUnguarded(context: EvaluationContext, control: Outcome, candidate: Outcome): Evaluation {
  const findings = find(context, control, candidate);
  if (findings.diffs.length === 0 && findings.forced === undefined) return MATCHED;
  const diffs =
    context.rules.length === 0
      ? findings.diffs
      : assignBuckets(findings.diffs, context.rules, (error) => context.report("bucket", error));
  const serious = diffs.filter((d) => d.noise !== true);
  const noise = diffs.filter((d) => d.noise === true);
  if (serious.length === 0 && findings.forced === undefined) return { verdict: "matched", noise };
  const mismatch: Mismatch = {
    candidate: candidate.name,
    kind: kindOf(serious, findings.forced),
    diffs,
    summary: summaryOf(serious, findings.forced, control, candidate),
    buckets: bucketsOf(diffs),
  };
  const ignored = isIgnored(context, control.value, candidate.value);
  return { verdict: ignored ? "ignored" : "mismatched", mismatch, noise };
}

function find(context: EvaluationContext, control: Outcome, candidate: Outcome): Findings {
  const outcome = outcomeFindings(context, control, candidate);
  // A candidate cut off by its timeout has not finished intending its effects: nothing to compare.
  if (candidate.timedOut) return outcome;
  const effects = effectDiffs(context.options.compareEffects, control.effects, candidate.effects, context.report);
  if (effects.diffs.length === 0 && effects.forced === undefined) return outcome;
  if (outcome.diffs.length === 0 && outcome.forced === undefined) return effects;
  return { diffs: [...outcome.diffs, ...effects.diffs], forced: outcome.forced ?? effects.forced };
}

function summaryOf(serious: readonly FieldDiff[], forced: string | undefined, control: Outcome, candidate: Outcome): string {
  if (serious.length === 0) return forced as string;
  const effects = serious.filter(isEffectDiff);
  const others = effects.length === 0 ? serious : serious.filter((d) => !isEffectDiff(d));
  const parts: string[] = [];
  if (others.length > 0) parts.push(summarize(others));
  if (effects.length > 0) parts.push(summarizeEffects(effects, control.effects, candidate.effects));
  return parts.join(", ");
}

function outcomeFindings(context: EvaluationContext, control: Outcome, candidate: Outcome): Findings {
  const controlFailed = control.threw;
  const candidateFailed = candidate.threw || candidate.timedOut;
  if (controlFailed || candidateFailed) {
    if (controlFailed && candidate.threw && errorsEquivalent(context, control.error, candidate.error)) {
      return { diffs: [], forced: undefined };
    }
    const controlText = describe(control, context);
    let candidateText = describe(candidate, context);
    // Two errors that are not equivalent but read alike (a class of the same name, messages cut
    // alike) say why, so the line never reads `threw E: a vs threw E: a`.
    if (controlText === candidateText && controlFailed && candidate.threw) {
      const why = context.options.compareErrors === undefined ? explainAlike(control.error, candidate.error) : "not equivalent by compareErrors()";
      candidateText = `${candidateText} (${why})`;
    }
    const diffs: FieldDiff[] = [{ path: ERROR_PATH, kind: "changed", control: controlText, candidate: candidateText }];
    return { diffs, forced: undefined };
  }
  // No status to compare: the values' findings are the whole answer.
  if (context.options.statusOf === undefined) return valueDiffs(context, control.value, candidate.value);
  const diffs: FieldDiff[] = [];
  let forced: string | undefined;
  const status = statusDiff(context, control.value, candidate.value);
  if (status.diff !== undefined) diffs.push(status.diff);
  forced = status.forced;
  const values = valueDiffs(context, control.value, candidate.value);
  diffs.push(...values.diffs);
  forced ??= values.forced;
  return { diffs, forced };
}

function statusDiff(context: EvaluationContext, controlValue: unknown, candidateValue: unknown): { diff?: FieldDiff; forced?: string } {
  const statusOf = context.options.statusOf;
  if (statusOf === undefined) return NO_STATUS;
  let controlStatus: unknown;
  let candidateStatus: unknown;
  try {
    controlStatus = synchronous("statusOf", statusOf(controlValue as never));
    candidateStatus = synchronous("statusOf", statusOf(candidateValue as never));
  } catch (error) {
    context.report("statusOf", error);
    return { forced: forcedBy("statusOf", error) };
  }
  // Statuses follow the value rules: +0 is -0, NaN is NaN, and a status that is an object
  // (`{ code, reason }`) is compared by structure, never by identity.
  if (Object.is(controlStatus, candidateStatus) || sameStructure(controlStatus, candidateStatus)) return NO_STATUS;
  return { diff: { path: STATUS_PATH, kind: "changed", control: controlStatus, candidate: candidateStatus } };
}

function valueDiffs(context: EvaluationContext, controlValue: unknown, candidateValue: unknown): Findings {
  try {
    const compare = context.options.compare;
    let forced: string | undefined;
    if (compare !== undefined) {
      try {
        if (booleanAnswer("compare", compare(controlValue as never, candidateValue as never))) return NO_FINDINGS;
        forced = "compare() returned false";
      } catch (error) {
        context.report("compare", error);
        forced = forcedBy("compare", error);
      }
    } else if (deepEqual(controlValue, candidateValue)) {
      // The fast path of a healthy rollout: equal values never pay for a diff.
      return NO_FINDINGS;
    }
    // Unordered array paths only shape the report: a reordering becomes one diff that a
    // noise.arrayOrder rule can call harmless.
    const diffs = diff(controlValue, candidateValue, context.compareOptions);
    return { diffs, forced };
  } catch (error) {
    // The values themselves failed the walk (a getter that throws, a revoked proxy): a mismatch
    // nobody can explain field by field, reported like a comparator that threw.
    context.report("compare", error);
    return { diffs: [], forced: `comparison threw ${escapeLine(describeThrown(error))}` };
  }
}

function kindOf(serious: readonly FieldDiff[], forced: string | undefined): MismatchKind {
  if (serious.some((d) => d.path === ERROR_PATH)) return "error";
  if (serious.some((d) => d.path === STATUS_PATH)) return "status";
  if (serious.some((d) => !isEffectDiff(d))) return "value";
  if (serious.length > 0) return "effects";
  return forced !== undefined && isEffectsForced(forced) ? "effects" : "value";
}

function describe(outcome: Outcome, context: EvaluationContext): string {
  if (outcome.timedOut) return `timed out after ${context.timeoutMs} ms`;
  return describeOutcome(outcome.threw, outcome.threw ? outcome.error : outcome.value);
}

function errorsEquivalent(context: EvaluationContext, controlError: unknown, candidateError: unknown): boolean {
  const compareErrors = context.options.compareErrors;
  if (compareErrors !== undefined) {
    try {
      return booleanAnswer("compareErrors", compareErrors(controlError, candidateError));
    } catch (error) {
      context.report("compareErrors", error);
      return false;
    }
  }
  return defaultErrorsEquivalent(controlError, candidateError);
}

/**
 * The contract's default: two errors are equivalent when they were built by the same constructor
 * and carry the same message. Everything is read through guards; a message that cannot be read (a
 * getter or Proxy trap that throws, a non-text message) or a constructor that cannot be read makes
 * the two unequal, unless both sides threw the very same object. Two non-errors are compared by
 * deep equality (a walk that fails means unequal).
 *
 * @internal
 * @example
 * ```ts
 * defaultErrorsEquivalent(new TypeError("x"), new TypeError("x")); // true
 * defaultErrorsEquivalent(new TypeError("x"), new RangeError("x")); // false
 * ```
 */
export function defaultErrorsEquivalent(controlError: unknown, candidateError: unknown): boolean {
  if (controlError === candidateError) return true;
  const controlIsError = isErrorLike(controlError);
  if (controlIsError !== isErrorLike(candidateError)) return false;
  if (controlIsError) {
    const controlCtor = constructorOf(controlError as object);
    if (controlCtor === UNREADABLE || controlCtor !== constructorOf(candidateError as object)) return false;
    const message = errorMessageOf(controlError as object);
    return message !== UNREADABLE && message === errorMessageOf(candidateError as object);
  }
  try {
    return deepEqual(controlError, candidateError);
  } catch {
    return false;
  }
}

function isIgnored(context: EvaluationContext, controlValue: unknown, candidateValue: unknown): boolean {
  for (const rule of context.options.ignore ?? []) {
    try {
      if (booleanAnswer("ignore", rule(controlValue as never, candidateValue as never))) return true;
    } catch (error) {
      context.report("ignore", error);
    }
  }
  return false;
}

function sameStructure(a: unknown, b: unknown): boolean {
  try {
    return deepEqual(a, b);
  } catch {
    return false;
  }
}
