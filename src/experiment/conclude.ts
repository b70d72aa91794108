/** From outcomes to a published result: evaluate every candidate, build the frozen result, publish. */
import { buildResult } from "../result/build";
import { evaluate } from "../result/evaluate";
import type { Operation } from "../errors";
import type { Result } from "../types/results";
import type { Outcome } from "./behaviour";
import type { AdmittedRun } from "./prepare";
import { publishResult } from "./publish";
import { trip } from "./trip";

type Report = (operation: Operation, cause: unknown) => void;

/**
 * Compares every candidate with the control and builds the result. Never throws.
 *
 * @internal
 * @example
 * ```ts
 * const result = concludeRun(run, control.outcome, outcomes, reporter.report);
 * ```
 */
export function concludeRun(run: AdmittedRun, control: Outcome, candidates: Outcome[], report: Report): Result<unknown> {
  const { core } = run;
  const context = { options: core.options, rules: core.rules, compareOptions: core.compareOptions, timeoutMs: core.options.timeoutMs, report };
  return buildResult({
    experiment: core.name,
    runId: run.runId,
    startedAt: run.startedAt,
    context: run.context,
    args: run.capturedArgs,
    servedBy: run.served.name,
    control,
    candidates: candidates.map((outcome) => ({ outcome, evaluation: evaluate(context, control, outcome) })),
    clean: core.options.clean as ((value: never) => unknown) | undefined,
    report,
  });
}

/**
 * Publishes the result to the experiment's publishers; resolves when their promises settled.
 *
 * @internal
 * @example
 * ```ts
 * core.tracker.track(publish(run, result, reporter.report));
 * ```
 */
export function publish(
  run: AdmittedRun,
  result: Result<unknown>,
  report: (operation: Operation, cause: unknown, detail?: string) => void = (o, c, d) => run.core.report(o, c, d),
): Promise<void> {
  const published = publishResult(result, run.core.publishers(), report);
  // Guardrails judge every published result; a trip switches off new calls only.
  const event = run.core.monitor.observe(result);
  if (event !== undefined) trip(run.core, event);
  return published;
}
