/**
 * The one way in for failures inside an experiment: every callback error, publisher rejection or
 * guard fault becomes an `ExperimentError` for `onError`, and never reaches the caller.
 */
import { currentSettings } from "../config";
import { ExperimentError, type Operation } from "../errors";

/** Where an experiment's failures go. */
export type ErrorHandler = ((error: ExperimentError) => void) | undefined;

/**
 * Builds the `ExperimentError` and hands it to the experiment's handler, else the configured one,
 * else a `PenumbraWarning`. A handler that throws is swallowed into a warning.
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
