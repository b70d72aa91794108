/**
 * Penumbra's error classes. Every error penumbra raises is a `PenumbraError` with a stable `code`.
 */
import { inspect } from "node:util";
import type { Observation, Result } from "./types/results";

/**
 * The user callbacks (and internal steps) whose failures reach `onError`.
 *
 * @example
 * ```ts
 * configure({ onError: (e) => { if (e.operation === "publish") metrics.increment("penumbra.publish_failed"); } });
 * ```
 */
export type Operation =
  | "enabled"
  | "runIf"
  | "sampleBy"
  | "promote"
  | "beforeRun"
  | "context"
  | "isolate"
  | "compare"
  | "compareErrors"
  | "compareEffects"
  | "ignore"
  | "clean"
  | "statusOf"
  | "bucket"
  | "publish"
  | "guard"
  | "onTrip"
  | "sequential"
  | "candidateFault";

/**
 * Stable codes of penumbra's errors.
 *
 * @example
 * ```ts
 * if (e instanceof PenumbraError && e.code === "PENUMBRA_MISMATCH") process.exitCode = 1;
 * ```
 */
export type PenumbraErrorCode =
  | "PENUMBRA_MISMATCH"
  | "PENUMBRA_EXPERIMENT_ERROR"
  | "PENUMBRA_SHADOW_BLOCKED"
  | "PENUMBRA_CANDIDATE_TIMEOUT";

/**
 * Base class of every error penumbra raises.
 *
 * @example
 * ```ts
 * try { await experiment.settled(); } catch (e) { if (e instanceof PenumbraError) console.error(e.code); }
 * ```
 */
export class PenumbraError extends Error {
  readonly code: PenumbraErrorCode;
  constructor(message: string, code: PenumbraErrorCode, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
  override get name(): string {
    return this.constructor.name;
  }
}

/**
 * A user callback (or a publisher, a guard …) failed inside an experiment. The control was not affected.
 *
 * @example
 * ```ts
 * configure({ onError: (e: ExperimentError) => log.warn({ op: e.operation, err: e.cause }, e.message) });
 * ```
 */
export class ExperimentError extends PenumbraError {
  readonly experiment: string;
  readonly operation: Operation;
  override readonly cause: unknown;
  constructor(experiment: string, operation: Operation, cause: unknown, detail?: string) {
    super(
      `experiment '${experiment}': ${operation} failed: ${detail ?? describeThrown(cause)}`,
      "PENUMBRA_EXPERIMENT_ERROR",
      { cause },
    );
    this.experiment = experiment;
    this.operation = operation;
    this.cause = cause;
  }
}

/**
 * Thrown (in test mode) when a candidate did not match the control. Its message lists every
 * observation's cleaned value or error and the difference summary, so a failing test explains itself.
 *
 * @example
 * ```ts
 * configure({ throwOnMismatch: true });
 * try { checkTotal(cart); } catch (e) { if (e instanceof MismatchError) console.log(e.result.mismatches); }
 * ```
 */
export class MismatchError extends PenumbraError {
  readonly experiment: string;
  /** The very result object that was published. */
  readonly result: Result<unknown>;
  constructor(result: Result<unknown>) {
    super(mismatchMessage(result), "PENUMBRA_MISMATCH");
    this.experiment = result.experiment;
    this.result = result;
  }
}

/**
 * The answer a guard gives a shadow run for a blocked side effect when `onShadow` is `"throw"`.
 *
 * @example
 * ```ts
 * const mailer = guard("mailer", transport, { effects: ["sendMail"], onShadow: "throw" });
 * ```
 */
export class ShadowBlockedError extends PenumbraError {
  readonly effect: string;
  constructor(effect: string) {
    super(`penumbra: side effect '${effect}' blocked in a shadow run`, "PENUMBRA_SHADOW_BLOCKED");
    this.effect = effect;
  }
}

/**
 * What a candidate's observation holds as `error` when it ran out of `timeoutMs`, and the reason
 * its `currentRun().signal` aborts with.
 *
 * @example
 * ```ts
 * if (result.candidates[0]?.error instanceof CandidateTimeoutError) console.log("too slow");
 * ```
 */
export class CandidateTimeoutError extends PenumbraError {
  readonly candidate: string;
  readonly timeoutMs: number;
  constructor(experiment: string, candidate: string, timeoutMs: number) {
    super(
      `experiment '${experiment}': candidate '${candidate}' timed out after ${timeoutMs} ms`,
      "PENUMBRA_CANDIDATE_TIMEOUT",
    );
    this.candidate = candidate;
    this.timeoutMs = timeoutMs;
  }
}

/**
 * One line that says what was thrown, whatever it was: `TypeError: boom`, `undefined`, `"text"`.
 *
 * @internal
 * @example
 * ```ts
 * describeThrown(new TypeError("boom")); // "TypeError: boom"
 * describeThrown("text"); // '"text"'
 * ```
 */
export function describeThrown(thrown: unknown): string {
  if (thrown instanceof Error) return `${thrown.name}: ${thrown.message}`;
  if (typeof thrown === "string") return JSON.stringify(thrown);
  return inspect(thrown, { depth: 2, breakLength: Infinity });
}

function mismatchMessage(result: Result<unknown>): string {
  const lines = [`experiment '${result.experiment}' observations mismatched:`];
  for (const observation of [result.control, ...result.candidates]) {
    lines.push(`${observation.name}:`, indent(describeObservation(observation)));
  }
  for (const mismatch of result.mismatches) {
    lines.push(`difference (${mismatch.candidate}, ${mismatch.kind}): ${mismatch.summary}`);
  }
  return lines.join("\n") + "\n";
}

function describeObservation(observation: Observation<unknown>): string {
  if (observation.timedOut) return `timed out after ${observation.durationMs.toFixed(1)} ms`;
  if (observation.threw) {
    const thrown = observation.error;
    if (thrown instanceof Error && thrown.stack) return thrown.stack;
    return `threw ${describeThrown(thrown)}`;
  }
  return inspect(observation.cleanedValue, { depth: 6, breakLength: 100 });
}

function indent(text: string): string {
  return text
    .split("\n")
    .map((line) => `  ${line}`)
    .join("\n");
}
