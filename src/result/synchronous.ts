/**
 * Comparison callbacks are synchronous and answer with what their type says: `compare`,
 * `compareErrors`, `compareEffects` and the `ignore` rules a boolean, `statusOf` anything but a
 * promise. Any other answer is that callback's error, never a silent verdict.
 */
import { escapeLine, formatValue } from "../compare/render";
import { describeThrown } from "../describe";
import { isThenable } from "../util/thenable";

/**
 * The error a comparison callback is reported with when its answer is not of the kind it must be:
 * a promise (nothing waits for it, and a promise is not `true`, so every run would mismatch with
 * nobody told why), or a non-boolean from a yes/no callback (often `undefined`, a missing `return`).
 * `summary` is the mismatch's text, e.g. `compare() returned a promise; it must be synchronous`.
 *
 * @internal
 * @example
 * ```ts
 * try { booleanAnswer("compare", compare(a, b)); } catch (e) { forced = forcedBy("compare", e); }
 * ```
 */
export class CallbackAnswerError extends TypeError {
  readonly summary: string;
  constructor(message: string, summary: string) {
    super(message);
    this.name = "TypeError";
    this.summary = summary;
  }
}

/**
 * Returns `verdict`, or throws a {@link CallbackAnswerError} when it is a promise or thenable (its
 * rejection, if any, is handled so that it never surfaces as an unhandled rejection).
 *
 * @internal
 * @example
 * ```ts
 * const status = synchronous("statusOf", statusOf(value));
 * ```
 */
export function synchronous<T>(operation: string, verdict: T): T {
  if (!isThenable(verdict)) return verdict;
  // Never left unhandled, never awaited. Promise.resolve adopts a foreign thenable on a later job.
  Promise.resolve(verdict).then(undefined, () => undefined);
  throw new CallbackAnswerError(
    `penumbra: ${operation}() returned a promise; ${operation} must be synchronous (nothing waits for its answer)`,
    `${operation}() returned a promise; it must be synchronous`,
  );
}

/**
 * Returns a yes/no callback's answer, or throws a {@link CallbackAnswerError} when it is a promise
 * (see {@link synchronous}) or not a boolean: `compare() returned a non-boolean (undefined)`.
 *
 * @internal
 * @example
 * ```ts
 * if (booleanAnswer("compare", compare(a, b))) return NO_FINDINGS;
 * ```
 */
export function booleanAnswer(operation: string, verdict: unknown): boolean {
  const answer = synchronous(operation, verdict);
  if (typeof answer === "boolean") return answer;
  const shown = escapeLine(formatValue(answer, 40));
  throw new CallbackAnswerError(
    `penumbra: ${operation}() returned ${shown}; it must return a boolean`,
    `${operation}() returned a non-boolean (${shown})`,
  );
}

/**
 * The summary of a mismatch a comparison callback forced by failing: what its answer was
 * (`compare() returned a promise; it must be synchronous`), or what it threw (`statusOf() threw
 * TypeError: …`, escaped to one line).
 *
 * @internal
 * @example
 * ```ts
 * catch (error) { report("compare", error); forced = forcedBy("compare", error); }
 * ```
 */
export function forcedBy(operation: string, error: unknown): string {
  return error instanceof CallbackAnswerError ? error.summary : `${operation}() threw ${escapeLine(describeThrown(error))}`;
}
