/** Starts candidates in shadow frames, each on its own copy of the arguments. */
import { makeFrame, runCandidate, type Behaviour, type Outcome } from "./behaviour";
import type { AdmittedRun } from "./prepare";

/**
 * Runs one candidate in a fresh shadow frame with its own abort signal and timeout.
 *
 * @internal
 * @example
 * ```ts
 * outcomes[index] = await startCandidate(run, core.candidates[index]!, argLists[index]!);
 * ```
 */
export function startCandidate(run: AdmittedRun, behaviour: Behaviour, args: unknown[]): Outcome | Promise<Outcome> {
  const controller = new AbortController();
  const frame = makeFrame(
    run.core.name,
    run.runId,
    run.context,
    "candidate",
    true,
    run.parentFrame,
    controller.signal,
    behaviour === run.core.control ? undefined : behaviour.name,
    () => run.core.lateLeak(),
    (operation, cause, detail) => void run.core.report(operation, cause, detail),
  );
  return runCandidate(behaviour, frame, controller, run.thisArg, args, run.argsIsolated, run.core.options.timeoutMs);
}

/**
 * Starts every candidate at once (background mode) and waits until each settled or timed out.
 *
 * @internal
 * @example
 * ```ts
 * const candidates = await runAllCandidates(run, argsPerCandidate(run));
 * ```
 */
export function runAllCandidates(run: AdmittedRun, argLists: unknown[][]): Promise<Outcome[]> {
  return Promise.all(run.core.candidates.map((behaviour, i) => startCandidate(run, behaviour, argLists[i] ?? run.args)));
}

/**
 * For a promoted call: the control, then the second and later candidates, each in a shadow frame,
 * on their own argument copies (the first copy goes to the control: the served candidate had the
 * caller's own arguments).
 *
 * @internal
 * @example
 * ```ts
 * const [control, ...others] = await runPromotedShadows(run, argsPerCandidate(run));
 * ```
 */
export function runPromotedShadows(run: AdmittedRun, argLists: unknown[][]): Promise<Outcome[]> {
  const { control, candidates } = run.core;
  const shadows = [control, ...candidates.slice(1)];
  return Promise.all(shadows.map((behaviour, i) => startCandidate(run, behaviour, argLists[i] ?? run.args)));
}
