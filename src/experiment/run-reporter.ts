/**
 * Error reporting for a run whose caller is still waiting (sequential mode): the errors are kept
 * so strict mode can throw the first at the caller; once the caller has its answer, later errors
 * go the usual way (onError, and the next settled() / flush() in strict mode).
 */
import type { ExperimentError, Operation } from "../errors";
import type { ExperimentCore } from "./core";

/**
 * Error reporting for one sequential run: keeps errors while the caller waits, for strict mode to throw.
 *
 * Once `release()` says the caller has its answer, later errors go the usual way (onError, and the
 * next `settled()` / `flush()` in strict mode).
 *
 * @internal
 * @example
 * ```ts
 * const reporter = new RunReporter(core);
 * const strictError = reporter.release(currentSettings().strict);
 * if (strictError !== undefined) throw strictError;
 * ```
 */
export class RunReporter {
  readonly errors: ExperimentError[] = [];
  private callerWaiting = true;
  constructor(private readonly core: ExperimentCore) {}

  readonly report = (operation: Operation, cause: unknown, detail?: string): void => {
    if (this.callerWaiting) this.errors.push(this.core.reportOnly(operation, cause, detail));
    else this.core.report(operation, cause, detail);
  };

  /** The caller is about to get its answer: hand over the errors that strict mode owes it, if any. */
  release(strict: boolean): ExperimentError | undefined {
    this.callerWaiting = false;
    return strict ? this.errors[0] : undefined;
  }
}
