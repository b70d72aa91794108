/**
 * Compares one candidate's outcome with the control's, in the contract's order: errors first, then
 * values (a custom `compare` or deep structural equality, diffed field by field when unequal), then
 * the `ignore` rules for a candidate that mismatched.
 */
import { deepEqual } from "../compare/equal";
import { diff } from "../compare/diff";
import { describeOutcome, summarize } from "../compare/format";
import { describeThrown, type Operation } from "../errors";
import type { Outcome } from "../experiment/behaviour";
import type { ExperimentOptions } from "../types/options";
import type { FieldDiff, Mismatch, MismatchKind, Outcome as Verdict } from "../types/results";

/**
 * What evaluation needs from the experiment: the comparison options, the timeout and the reporter.
 *
 * @internal
 * @example
 * ```ts
 * const context: EvaluationContext = { options: core.options, timeoutMs: core.options.timeoutMs, report };
 * ```
 */
export interface EvaluationContext {
  readonly options: Pick<ExperimentOptions<never[], unknown>, "compare" | "compareErrors" | "ignore">;
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
  noise: FieldDiff[];
}

/**
 * Compares `candidate` with `control`. Never throws: callback failures are reported and counted as the contract says.
 *
 * @internal
 * @example
 * ```ts
 * const evaluation = evaluate({ options: core.options, timeoutMs: core.options.timeoutMs, report }, control, outcome);
 * ```
 */
export function evaluate(context: EvaluationContext, control: Outcome, candidate: Outcome): Evaluation {
  const mismatch = findMismatch(context, control, candidate);
  if (mismatch === undefined) return { verdict: "matched", noise: [] };
  const ignored = isIgnored(context, control.value, candidate.value);
  return { verdict: ignored ? "ignored" : "mismatched", mismatch, noise: [] };
}

function findMismatch(context: EvaluationContext, control: Outcome, candidate: Outcome): Mismatch | undefined {
  const controlFailed = control.threw;
  const candidateFailed = candidate.threw || candidate.timedOut;
  if (controlFailed || candidateFailed) {
    if (controlFailed && candidate.threw && errorsEquivalent(context, control.error, candidate.error)) return undefined;
    return errorMismatch(context, control, candidate);
  }
  return valueMismatch(context, candidate.name, control.value, candidate.value);
}

function errorMismatch(context: EvaluationContext, control: Outcome, candidate: Outcome): Mismatch {
  const diffs: FieldDiff[] = [
    { path: "(error)", kind: "changed", control: describe(control, context), candidate: describe(candidate, context) },
  ];
  return mismatch(candidate.name, "error", diffs, summarize(diffs));
}

function describe(outcome: Outcome, context: EvaluationContext): string {
  if (outcome.timedOut) return `timed out after ${context.timeoutMs} ms`;
  return describeOutcome(outcome.threw, outcome.threw ? outcome.error : outcome.value);
}

function errorsEquivalent(context: EvaluationContext, controlError: unknown, candidateError: unknown): boolean {
  const compareErrors = context.options.compareErrors;
  if (compareErrors !== undefined) {
    try {
      return compareErrors(controlError, candidateError) === true;
    } catch (error) {
      context.report("compareErrors", error);
      return false;
    }
  }
  if (controlError instanceof Error && candidateError instanceof Error) {
    return controlError.constructor === candidateError.constructor && controlError.message === candidateError.message;
  }
  return deepEqual(controlError, candidateError);
}

function valueMismatch(context: EvaluationContext, name: string, controlValue: unknown, candidateValue: unknown): Mismatch | undefined {
  try {
    return compareValues(context, name, controlValue, candidateValue);
  } catch (error) {
    // The values themselves failed the walk (a getter that throws, a revoked proxy): a mismatch
    // nobody can explain field by field, reported like a comparator that threw.
    context.report("compare", error);
    return mismatch(name, "value", [], `comparison threw ${describeThrown(error)}`);
  }
}

function compareValues(context: EvaluationContext, name: string, controlValue: unknown, candidateValue: unknown): Mismatch | undefined {
  const compare = context.options.compare;
  let fallbackSummary: string;
  if (compare !== undefined) {
    try {
      if (compare(controlValue as never, candidateValue as never) === true) return undefined;
      fallbackSummary = "compare() returned false";
    } catch (error) {
      context.report("compare", error);
      fallbackSummary = `compare() threw ${describeThrown(error)}`;
    }
  } else {
    if (deepEqual(controlValue, candidateValue)) return undefined;
    fallbackSummary = "values differ";
  }
  const diffs = diff(controlValue, candidateValue);
  return mismatch(name, "value", diffs, diffs.length > 0 ? summarize(diffs) : fallbackSummary);
}

function isIgnored(context: EvaluationContext, controlValue: unknown, candidateValue: unknown): boolean {
  for (const rule of context.options.ignore ?? []) {
    try {
      if (rule(controlValue as never, candidateValue as never) === true) return true;
    } catch (error) {
      context.report("ignore", error);
    }
  }
  return false;
}

function mismatch(candidate: string, kind: MismatchKind, diffs: FieldDiff[], summary: string): Mismatch {
  return { candidate, kind, diffs, summary, buckets: [] };
}
