/**
 * Comparison callbacks are synchronous: `compare`, `compareErrors`, `compareEffects`, `statusOf`,
 * `ignore`. One that answers with a promise is that callback's error, never a verdict.
 */
import { isThenable } from "../util/thenable";

/**
 * The error a comparison callback is reported with when it answered with a promise: nothing waits
 * for it (comparison is synchronous), and a promise is not `true`, so without this every run would
 * mismatch with nobody told why. `summary` is the mismatch's text, e.g. `compare() returned a promise`.
 *
 * @internal
 * @example
 * ```ts
 * try { synchronous("compare", compare(a, b)); } catch (e) { if (e instanceof AsyncCallbackError) forced = e.summary; }
 * ```
 */
export class AsyncCallbackError extends TypeError {
  readonly summary: string;
  constructor(operation: string) {
    super(`penumbra: ${operation}() returned a promise; ${operation} must be synchronous (nothing waits for its answer)`);
    this.name = "TypeError";
    this.summary = `${operation}() returned a promise; it must be synchronous`;
  }
}

/**
 * Returns `verdict`, or throws an {@link AsyncCallbackError} when it is a promise or thenable (its
 * rejection, if any, is handled so that it never surfaces as an unhandled rejection).
 *
 * @internal
 * @example
 * ```ts
 * if (synchronous("compare", compare(a, b)) === true) return NO_FINDINGS;
 * ```
 */
export function synchronous<T>(operation: string, verdict: T): T {
  if (!isThenable(verdict)) return verdict;
  // Never left unhandled, never awaited. Promise.resolve adopts a foreign thenable on a later job.
  Promise.resolve(verdict).then(undefined, () => undefined);
  throw new AsyncCallbackError(operation);
}

