/**
 * The one failure hook. Every error raised by a user's callback (a gate, `beforeRun`, a comparator,
 * a publisher, a guard's snapshot, a candidate's uncaught fault …) becomes an `ExperimentError` here
 * and nowhere else, and goes to the experiment's own `onError`, else the configured one, else a
 * `PenumbraWarning`; in strict mode it is also kept for the caller (sequential mode) or for the next
 * `settled()` / `flush()`. Nothing here ever throws at the caller.
 */
import { currentSettings } from "./config";
import { describeThrown, escapeControls } from "./describe";
import { ExperimentError, type Operation } from "./errors";

/**
 * A run's (or an experiment's) reporter: what guards, sinks, the tripwire and replay call.
 *
 * @example
 * ```ts
 * const report: Report = (operation, cause) => console.warn(operation, cause);
 * report("publish", new Error("disk full"));
 * ```
 */
export type Report = (operation: Operation, cause: unknown, detail?: string) => void;

/**
 * Where one experiment's failures go: its own `onError`, or undefined for the configured one.
 *
 * @example
 * ```ts
 * const handler: ErrorHandler = (error) => log.warn({ op: error.operation }, error.message);
 * ```
 */
export type ErrorHandler = ((error: ExperimentError) => void) | undefined;

/** The first strict-mode error of each experiment, owed to its next settled() and to flush(). */
const owed: Array<{ owner: object; error: ExperimentError }> = [];

/**
 * Builds the `ExperimentError` and hands it to `handler`, else the configured handler, else a warning.
 * Does not touch strict mode: see {@link FailureHook} for that.
 *
 * @example
 * ```ts
 * reportError("checkout", undefined, "publish", new Error("disk full"));
 * ```
 */
export function reportError(experiment: string, handler: ErrorHandler, operation: Operation, cause: unknown, detail?: string): ExperimentError {
  // The message is built from a description that never trusts the thrown value.
  const error = new ExperimentError(experiment, operation, cause, detail ?? describeThrown(cause));
  let target: ErrorHandler;
  try {
    target = handler ?? currentSettings().onError;
  } catch {
    target = undefined;
  }
  if (target === undefined) {
    penumbraWarning(error.message, error.code);
    return error;
  }
  try {
    target(error);
  } catch (thrown) {
    penumbraWarning(`onError threw while handling "${error.message}": ${describeThrown(thrown)}`, error.code);
  }
  return error;
}

/**
 * An experiment's failure hook: reports, and in strict mode owes the error to `settled()` / `flush()`.
 *
 * @example
 * ```ts
 * const hook = new FailureHook("checkout", options.onError);
 * hook.report("compare", error); // onError now; the next settled() rejects in strict mode
 * ```
 */
export class FailureHook {
  constructor(
    readonly experiment: string,
    readonly handler: ErrorHandler,
  ) {}

  /** The experiment's reporter, safe to pass around detached. */
  readonly report: Report = (operation, cause, detail) => {
    const error = reportError(this.experiment, this.handler, operation, cause, detail);
    if (currentSettings().strict) owe(this, error);
  };

  /** Takes the strict-mode error owed to this experiment's `settled()`, if any. */
  takeOwed(): ExperimentError | undefined {
    let first: ExperimentError | undefined;
    for (let i = owed.length - 1; i >= 0; i--) {
      const entry = owed[i];
      if (entry?.owner !== this) continue;
      first = entry.error;
      owed.splice(i, 1);
    }
    return first;
  }
}

/**
 * The reporter of one sequential run while its caller waits: errors still reach `onError` at once,
 * and strict mode throws the first at the caller instead of owing it to `settled()`. Once the caller
 * has its answer, later errors go the experiment's usual way.
 *
 * @example
 * ```ts
 * const caller = new CallerReport(hook);
 * caller.report("runIf", error);
 * const strictError = caller.release(); // thrown at the caller in strict mode
 * ```
 */
export class CallerReport {
  private waiting = true;
  private first: ExperimentError | undefined;
  constructor(private readonly hook: FailureHook) {}

  readonly report: Report = (operation, cause, detail) => {
    if (!this.waiting) {
      this.hook.report(operation, cause, detail);
      return;
    }
    const error = reportError(this.hook.experiment, this.hook.handler, operation, cause, detail);
    this.first ??= error;
  };

  /** The caller is about to get its answer: the error strict mode throws at it, if any. */
  release(): ExperimentError | undefined {
    this.waiting = false;
    return currentSettings().strict ? this.first : undefined;
  }
}

/**
 * Takes the first strict-mode error owed in the process (for `flush()`), clearing every debt.
 *
 * @example
 * ```ts
 * const owedError = takeAllOwed();
 * if (owedError !== undefined) throw owedError;
 * ```
 */
export function takeAllOwed(): ExperimentError | undefined {
  const first = owed[0]?.error;
  owed.length = 0;
  return first;
}

function owe(owner: object, error: ExperimentError): void {
  // One entry per experiment keeps the list bounded and stops one noisy experiment hiding another's.
  for (const entry of owed) if (entry.owner === owner) return;
  owed.push({ owner, error });
}

/**
 * Emits a `PenumbraWarning` with `code`; never throws (a `--throw-deprecation` style setup included).
 *
 * @example
 * ```ts
 * penumbraWarning("experiment 'x' has no publisher", "PENUMBRA_NO_PUBLISHER");
 * ```
 */
export function penumbraWarning(message: string, code: string): void {
  try {
    // Names in a message are the user's (an experiment called "\u001b[2J…"): escaped like any description.
    process.emitWarning(escapeControls(message), { type: "PenumbraWarning", code });
  } catch {
    // The control path matters more than the warning.
  }
}

/**
 * A fault in penumbra itself (not in a user callback) met off the caller's path: a warning with code
 * `PENUMBRA_INTERNAL`, never an unhandled rejection in the user's process.
 *
 * @example
 * ```ts
 * finish(run).catch(internalFault);
 * ```
 */
export function internalFault(fault: unknown): void {
  let detail: string;
  try {
    detail = fault instanceof Error ? String(fault.stack ?? fault.message) : describeThrown(fault);
  } catch {
    detail = describeThrown(fault);
  }
  penumbraWarning(`penumbra internal fault (please report it): ${detail}`, "PENUMBRA_INTERNAL");
}
