/**
 * What one published result says about one candidate, reduced to the few facts a scorecard counts:
 * outcome classes, latencies and the reasons for a mismatch. Everything else in the result (values,
 * diffs, context) is dropped here, which is what keeps the scorecard's memory bounded.
 */
import { types } from "node:util";
import { formatValue, summarize, truncate } from "../compare/format";
import { truncateMiddle } from "../compare/render";
import { summarizeEffects } from "../result/effects";
import { deepEqual } from "../compare/equal";
import type { FieldDiff, Mismatch, Observation, Result } from "../types/results";

/** The engine's paths for an outcome and a status difference (see `src/compare/format.ts`). */
const ERROR_PATH = "(error)";
const STATUS_PATH = "(status)";
const EFFECT_PATH = /^effects\[(\d+)\]/;
/** Diffs of one reason quoted in its example; the rest end with `+N more`. */
const EXAMPLE_DIFFS = 3;
/**
 * A longer reason (a path through megabyte-long keys, a status that is a whole page) is cut: a reason
 * is a name to count by, and the windows keep up to 2 000 of them per candidate.
 */
const REASON_CHARS = 200;
/** The example beside a reason is cut likewise. */
const EXAMPLE_CHARS = 500;
/**
 * A forced mismatch's summary starts with the callback that forced it, e.g. `compare() returned false`,
 * or with the step that could not compare (`comparison threw`, `effects could not be compared`: see
 * result/evaluate.ts and result/effects.ts).
 */
const FORCED = /^(\w+\(\) returned false|\w+\(\) returned a promise|\w+\(\) returned a non-boolean|\w+\(\) threw|comparison threw|effects could not be compared)/;

/**
 * The facts one result contributes to one candidate's window.
 *
 * @internal
 * @example
 * ```ts
 * const sample: RunSample = sampleOf(result, result.candidates[0]!);
 * if (!sample.fieldMatched) console.log(sample.reasons);
 * ```
 */
export interface RunSample {
  /** The candidate's outcome class (returned / threw / timed out, and the status) equals the control's. */
  statusMatched: boolean;
  /** Matched, noise only, or ignored: anything but "mismatched". */
  fieldMatched: boolean;
  /** The candidate threw (a timeout is not an error). */
  error: boolean;
  timeout: boolean;
  /** The candidate's observation carries at least one leak. */
  leak: boolean;
  controlMs: number;
  candidateMs: number;
  /** Distinct reasons, in the order their diffs appear. Empty unless the candidate mismatched. */
  reasons: string[];
  /**
   * The example shown beside `reason`: the reason's own diffs in summary form (`tax=0.1 vs 0.09`,
   * `effects[0] payments.charge args[0].amount=4990 vs 5140`), not the whole mismatch cut off at
   * another reason's diff; for an outcome or status reason, or a reason no diff explains, the
   * mismatch's summary (which starts with it). Computed only when asked (a new reason).
   */
  exampleOf(reason: string): string;
}

/**
 * Reduces `result` to what the scorecard counts for `candidate` (one of `result.candidates`).
 *
 * @internal
 * @example
 * ```ts
 * for (const candidate of result.candidates) window.add(sampleOf(result, candidate));
 * ```
 */
export function sampleOf(result: Result<unknown>, candidate: Observation<unknown>): RunSample {
  const outcome = result.outcomes[candidate.name];
  // Ignored mismatches are not on `result.mismatches` (Scientist's meaning): they give no reasons.
  const mismatch = outcome === "mismatched" ? result.mismatches.find((m) => m.candidate === candidate.name) : undefined;
  const controlClass = result.control.threw ? "threw" : "returned";
  const candidateClass = candidate.timedOut ? "timed out" : candidate.threw ? "threw" : "returned";
  return {
    statusMatched: mismatch?.kind !== "status" && controlClass === candidateClass,
    fieldMatched: outcome !== "mismatched",
    error: candidate.threw && !candidate.timedOut,
    timeout: candidate.timedOut,
    leak: candidate.leaks.length > 0,
    controlMs: result.control.durationMs,
    candidateMs: candidate.durationMs,
    reasons: mismatch === undefined ? [] : reasonsOf(result, candidate, mismatch),
    exampleOf: (reason) => (mismatch === undefined ? "" : truncate(exampleOf(reason, result, candidate, mismatch), EXAMPLE_CHARS)),
  };
}

/** See {@link RunSample.exampleOf}. */
function exampleOf(reason: string, result: Result<unknown>, candidate: Observation<unknown>, mismatch: Mismatch): string {
  try {
    return ownDiffsExample(reason, result, candidate, mismatch) ?? String(mismatch.summary);
  } catch {
    // Values nobody can print (a trap-Proxy a candidate threw) still leave the mismatch's summary.
    return String(mismatch.summary);
  }
}

/** The reason's own diffs in summary form, or undefined when none explains it. */
function ownDiffsExample(reason: string, result: Result<unknown>, candidate: Observation<unknown>, mismatch: Mismatch): string | undefined {
  const values: FieldDiff[] = [];
  const effects: FieldDiff[] = [];
  for (const diff of mismatch.diffs) {
    if (diff.noise === true) continue;
    // An outcome difference without its two descriptions (a hand-made record) is told by the summary.
    if (diff.path === ERROR_PATH && !("control" in diff && "candidate" in diff)) continue;
    if (reasonOf(diff, result, candidate) !== reason) continue;
    // A diff read back from a file may have lost what made it a difference (JSON has no Date, Set,
    // function or undefined): its line would read `X vs X` or `(missing)`; the summary still says it.
    if (!faithful(diff)) return undefined;
    (EFFECT_PATH.test(diff.path) ? effects : values).push(diff);
  }
  if (values.length > 0) return summarize(values, { maxDiffs: EXAMPLE_DIFFS });
  // Effect diffs read as the summary reads them: `effects[0] payments.charge args[0].amount=4990 vs 5140`.
  if (effects.length > 0) return summarizeEffects(effects, result.control.effects, candidate.effects, EXAMPLE_DIFFS);
  return undefined;
}

/**
 * True when a diff still shows a difference: its sides are there as its kind says (`added`: the
 * candidate, `removed`: the control, otherwise both) and, when both are, they are not equal.
 */
function faithful(diff: FieldDiff): boolean {
  const hasControl = "control" in diff;
  const hasCandidate = "candidate" in diff;
  if (diff.kind === "added") return hasCandidate;
  if (diff.kind === "removed") return hasControl;
  if (!hasControl || !hasCandidate) return false;
  try {
    return !deepEqual(diff.control, diff.candidate);
  } catch {
    return false;
  }
}

/**
 * The distinct reasons of one mismatch, from its non-noise diffs (see API.md §4).
 *
 * @internal
 * @example
 * ```ts
 * reasonsOf(result, candidate, mismatch); // ["status:200->500", "body.total"]
 * ```
 */
export function reasonsOf(result: Result<unknown>, candidate: Observation<unknown>, mismatch: Mismatch): string[] {
  const reasons = new Set<string>();
  for (const diff of mismatch.diffs) {
    if (diff.noise === true) continue;
    reasons.add(truncateMiddle(reasonOf(diff, result, candidate), REASON_CHARS));
  }
  if (reasons.size === 0) {
    // A mismatch no diff explains (a compare() that said "unequal" with no structural difference, a
    // callback that threw): named after the callback, so such runs still show up in the list.
    reasons.add(FORCED.exec(mismatch.summary)?.[1] ?? "unexplained");
  }
  return [...reasons];
}

/**
 * The reason one diff of a candidate's mismatch counts under (see API.md §4): its bucket, path,
 * `error:<Name>`, `timeout`, `status:<a>-><b>` or `effects:<name>`.
 *
 * @internal
 * @example
 * ```ts
 * reasonOf({ path: "total", kind: "changed", control: 1, candidate: 2 }, result, candidate); // "total"
 * ```
 */
export function reasonOf(diff: FieldDiff, result: Result<unknown>, candidate: Observation<unknown>): string {
  if (diff.path === ERROR_PATH) {
    if (candidate.timedOut) return "timeout";
    if (candidate.threw) return `error:${errorName(candidate.error)}`;
    return "error:control-threw";
  }
  if (diff.path === STATUS_PATH) return `status:${printable(diff.control)}->${printable(diff.candidate)}`;
  const effect = EFFECT_PATH.exec(diff.path);
  if (effect !== null) {
    const index = Number(effect[1]);
    const name = result.control.effects[index]?.name ?? candidate.effects[index]?.name ?? "(unknown)";
    return `effects:${name}`;
  }
  return diff.bucket ?? (diff.path === "" ? "(root)" : diff.path);
}

/** A status as text (an object status by its fields); one that cannot be printed (a throwing toString) by its typeof. */
function printable(value: unknown): string {
  try {
    if (typeof value === "object" && value !== null) return formatValue(value);
    return String(value);
  } catch {
    return `(${typeof value})`;
  }
}

/**
 * The constructor name of an Error (also one from another realm), else the thrown value's typeof.
 * Never throws: a thrown Proxy whose traps throw (even `instanceof` asks one) is named by its typeof.
 */
function errorName(error: unknown): string {
  try {
    if (error instanceof Error || types.isNativeError(error)) {
      const ctor: unknown = (error as { constructor?: unknown }).constructor;
      if (typeof ctor === "function" && typeof ctor.name === "string" && ctor.name !== "") return ctor.name;
      const name: unknown = (error as Error).name;
      return typeof name === "string" && name !== "" ? name : "Error";
    }
  } catch {
    // fall through: the value would not even say what it is
  }
  return typeof error;
}
