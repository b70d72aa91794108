/**
 * Conclude a run: evaluate every candidate against the control, build the frozen result once, hand
 * it to the publishers, and let the guardrails judge it (the one step that may switch the
 * experiment off).
 */
import { dispatchResult } from "../publishers/dispatch";
import { buildResult } from "../result/build";
import { evaluate, type EvaluationContext } from "../result/evaluate";
import type { RawObservation, Result } from "../types/results";
import { internalFault } from "../report";
import type { Run } from "./admit";

/**
 * Compares every candidate with the control and builds the result. Never throws: a fault in the
 * comparison itself (not in a user callback, which evaluation reports) is a `PENUMBRA_INTERNAL`
 * warning and the run is not published, since a sequential caller is still waiting.
 *
 * @internal
 * @example
 * ```ts
 * const result = concludeRun(run, control, candidates, capturedArgs);
 * ```
 */
export function concludeRun(run: Run, control: RawObservation, candidates: readonly RawObservation[], args: unknown[] | undefined): Result<unknown> | undefined {
  try {
    return build(run, control, candidates, args);
  } catch (fault) {
    internalFault(fault);
    return undefined;
  }
}

function build(run: Run, control: RawObservation, candidates: readonly RawObservation[], args: unknown[] | undefined): Result<unknown> {
  const { state } = run;
  const context: EvaluationContext = {
    options: state.options,
    rules: state.rules,
    compareOptions: state.compareOptions,
    timeoutMs: state.options.timeoutMs,
    report: run.report,
  };
  return buildResult({
    experiment: state.name,
    runId: run.id,
    startedAt: run.startedAt,
    context: run.context,
    args,
    servedBy: run.served.name,
    control,
    candidates: candidates.map((observation) => ({ outcome: observation, evaluation: evaluate(context, control, observation) })),
    clean: state.options.clean as ((value: never) => unknown) | undefined,
    report: run.report,
  });
}

/**
 * Publishes the result and lets the guardrails judge it; a promise only when a publisher returned one.
 *
 * @internal
 * @example
 * ```ts
 * state.tracker.track(publish(run, result));
 * ```
 */
export function publish(run: Run, result: Result<unknown> | undefined): Promise<void> | undefined {
  if (result === undefined) return undefined;
  const published = dispatchResult(result, run.state.publishersForResult(), run.report);
  run.state.judge(result, run.epoch, run.report);
  return published;
}
