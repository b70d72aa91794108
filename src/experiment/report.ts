/**
 * The one way in for failures inside an experiment: every callback error, publisher rejection or
 * guard fault becomes an `ExperimentError` for `onError`, and never reaches the caller.
 */
import { currentSettings } from "../config";
import { ExperimentError, type Operation } from "../errors";

/**
 * Where an experiment's failures go: its own `onError`, or undefined for the configured one.
 *
 * @internal
 * @example
 * ```ts
 * const handler: ErrorHandler = options.onError;
 * ```
 */
export type ErrorHandler = ((error: ExperimentError) => void) | undefined;

/**
 * Builds the `ExperimentError` and hands it to the experiment's handler, else the configured one, else a warning.
 *
 * A handler that throws is turned into a `PenumbraWarning` too, so reporting never throws at the run.
 *
 * @internal
 * @example
 * ```ts
 * return reportError(this.name, this.options.onError, operation, cause, detail);
 * ```
 */
export function reportError(
  experiment: string,
  handler: ErrorHandler,
  operation: Operation,
  cause: unknown,
  detail?: string,
): ExperimentError {
  const error = new ExperimentError(experiment, operation, cause, detail);
  const target = handler ?? currentSettings().onError;
  if (target === undefined) {
    warn(error.message, error.code);
  } else {
    try {
      target(error);
    } catch (thrown) {
      warn(`onError threw while handling "${error.message}": ${String(thrown)}`, error.code);
    }
  }
  return error;
}

function warn(message: string, code: string): void {
  try {
    process.emitWarning(message, { type: "PenumbraWarning", code });
  } catch {
    // A process whose warning machinery throws (a --throw-deprecation style setup) still keeps its control path.
  }
}
