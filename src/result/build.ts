/**
 * Turns outcomes and verdicts into the frozen `Result` publishers receive. Penumbra's own objects
 * are frozen; the user's values inside them are not.
 */
import type { Operation } from "../errors";
import type { FieldDiff, Mismatch, Observation, Outcome as Verdict, RawObservation as Outcome, Result } from "../types/results";
import type { Evaluation } from "./evaluate";
import { setOwn } from "../util/own-key";

/**
 * Everything a result is made of: the run's identity, the outcomes and each candidate's evaluation.
 *
 * @internal
 * @example
 * ```ts
 * const parts: ResultParts = { experiment: core.name, runId, startedAt, context, args: undefined, servedBy: "control",
 *   control, candidates: [{ outcome, evaluation }], clean: undefined, report };
 * ```
 */
export interface ResultParts {
  experiment: string;
  runId: string;
  startedAt: number;
  context: Record<string, unknown>;
  args: readonly unknown[] | undefined;
  servedBy: string;
  control: Outcome;
  candidates: Array<{ outcome: Outcome; evaluation: Evaluation }>;
  clean: ((value: never) => unknown) | undefined;
  report(operation: Operation, cause: unknown): void;
}

/**
 * Builds the result and freezes penumbra's own objects in it (the user's values stay as they are).
 *
 * A value whose `clean` throws is reported as `clean` and published uncleaned.
 *
 * @internal
 * @example
 * ```ts
 * const result = buildResult(parts); // Object.isFrozen(result.control) === true
 * ```
 */
export function buildResult(parts: ResultParts): Result<unknown> {
  const outcomes: Record<string, Verdict> = {};
  let mismatches: Mismatch[] = NONE;
  let noise: FieldDiff[] = NONE;
  let ignored = false;
  const candidates = parts.candidates;
  const observations: Array<Observation<unknown>> = new Array<Observation<unknown>>(candidates.length);
  for (let i = 0; i < candidates.length; i++) {
    const { outcome, evaluation } = candidates[i] as ResultParts["candidates"][number];
    setOwn(outcomes, outcome.name, evaluation.verdict);
    if (evaluation.verdict === "mismatched" && evaluation.mismatch) {
      if (mismatches === NONE) mismatches = [];
      mismatches.push(freezeMismatch(evaluation.mismatch));
    }
    if (evaluation.verdict === "ignored") ignored = true;
    for (const d of evaluation.noise) {
      if (noise === NONE) noise = [];
      noise.push(Object.freeze(d));
    }
    observations[i] = observe(outcome, parts);
  }
  const result: Result<unknown> = {
    experiment: parts.experiment,
    runId: parts.runId,
    startedAt: parts.startedAt,
    context: parts.context,
    servedBy: parts.servedBy,
    control: observe(parts.control, parts),
    candidates: Object.freeze(observations) as Observation<unknown>[],
    matched: mismatches.length === 0 && !ignored,
    mismatched: mismatches.length > 0,
    ignored,
    outcomes: Object.freeze(outcomes),
    mismatches: Object.freeze(mismatches) as Mismatch[],
    noise: Object.freeze(noise) as FieldDiff[],
  };
  if (parts.args !== undefined) result.args = Object.freeze([...parts.args]) as unknown[];
  return Object.freeze(result);
}

// The empty lists of a clean run are one shared frozen array: nothing to allocate or freeze per run.
const NONE: never[] = Object.freeze([]) as unknown as never[];

function observe(outcome: Outcome, parts: ResultParts): Observation<unknown> {
  const observation: Observation<unknown> = {
    name: outcome.name,
    role: outcome.role,
    threw: outcome.threw,
    durationMs: outcome.durationMs,
    timedOut: outcome.timedOut,
    isolated: outcome.isolated,
    effects: freezeInPlace(outcome.effects),
    leaks: freezeInPlace(outcome.leaks),
  };
  if (outcome.threw || outcome.timedOut) {
    observation.error = outcome.error;
  } else {
    observation.value = outcome.value;
    observation.cleanedValue = cleaned(outcome.value, parts);
  }
  if (outcome.cpuMs !== undefined) observation.cpuMs = outcome.cpuMs;
  return Object.freeze(observation);
}

/** Freezes a list penumbra built for this observation (its closed frame's own), without copying it. */
function freezeInPlace<T extends object>(items: T[]): T[] {
  // The frame is closed: nothing is added to its lists any more, and an empty one needs no freezing of its own.
  if (items.length === 0) return NONE;
  for (const item of items) Object.freeze(item);
  return Object.freeze(items) as T[];
}

function cleaned(value: unknown, parts: ResultParts): unknown {
  if (value === null || value === undefined || parts.clean === undefined) return value;
  try {
    return parts.clean(value as never);
  } catch (error) {
    parts.report("clean", error);
    return value;
  }
}

function freezeMismatch(m: Mismatch): Mismatch {
  return Object.freeze({
    ...m,
    diffs: Object.freeze(m.diffs.map((d) => Object.freeze(d))) as FieldDiff[],
    buckets: Object.freeze([...m.buckets]) as string[],
  });
}
