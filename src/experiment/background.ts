/**
 * Background mode, the default: the caller gets the control's outcome as soon as it settles; the
 * candidates start on a later turn of the event loop, on the argument snapshot, and are compared
 * and published after the caller has its answer.
 */
import { nextTurn } from "../util/turn";
import type { Outcome } from "./behaviour";
import { callBeforeRun } from "./before-run";
import { finishCalibration, startCalibration } from "./calibrate";
import { runAllCandidates, runPromotedShadows } from "./candidates";
import { concludeRun, publish } from "./conclude";
import { callControl, controlFrame, type ControlSettled } from "./control";
import { asyncGateSaysYes } from "./gate";
import { internalFault } from "./internal-fault";
import { argsPerCandidate, type AdmittedRun } from "./prepare";

/**
 * Runs an admitted call in background mode and returns exactly what the control returns.
 *
 * @internal
 * @example
 * ```ts
 * return (core.options.mode === "sequential" ? runSequentially(run) : runInBackground(run)) as R;
 * ```
 */
export function runInBackground(run: AdmittedRun): unknown {
  const call = callControl(run, controlFrame(run), false);
  if (call.sync) {
    continueInBackground(run, call);
    if (call.threw) throw call.raw;
    return call.raw;
  }
  if (call.settled === undefined) abandonUnobservable(run);
  else continueInBackground(run, call.settled);
  return call.returned;
}

/**
 * Schedules everything after the control (gate, `beforeRun`, candidates, publishing) on a later turn.
 *
 * It never runs inside the caller's call, yet it is counted for `settled()` from the moment it is
 * scheduled. `beforeRunDone` is given when `beforeRun` was already called (sequential mode falling
 * back to background).
 *
 * @internal
 * @example
 * ```ts
 * continueInBackground(run, call.sync ? call : call.settled, beforeRun);
 * ```
 */
export function continueInBackground(
  run: AdmittedRun,
  control: ControlSettled | Promise<ControlSettled>,
  beforeRunDone?: Promise<boolean>,
): void {
  const ticket = run.core.tracker.begin();
  const later = (settled: ControlSettled): void => {
    setImmediate(() => {
      finishInBackground(run, settled, beforeRunDone).then(ticket.done, ticket.done);
    });
  };
  if (control instanceof Promise) control.then(later, ticket.done);
  else later(control);
}

/** The async gate's answer, `beforeRun`, the candidates, comparison and publishing, off the caller's path. */
async function finishInBackground(run: AdmittedRun, control: ControlSettled, beforeRunDone?: Promise<boolean>): Promise<void> {
  const { core } = run;
  const report = (operation: Parameters<typeof core.report>[0], cause: unknown): void => {
    core.report(operation, cause);
  };
  let holdsSlot = true;
  const release = (): void => {
    if (holdsSlot) core.releaseSlot();
    holdsSlot = false;
  };
  try {
    if (run.asyncGate !== undefined && !(await asyncGateSaysYes(core, run.asyncGate))) return;
    if (!(await (beforeRunDone ?? callBeforeRun(core, report)))) return;
    let argLists: unknown[][];
    try {
      argLists = argsPerCandidate(run);
    } catch (error) {
      report("isolate", error);
      return;
    }
    let controlOutcome = control.outcome;
    let candidates: Outcome[];
    if (run.served === core.control) {
      startCalibration(run);
      candidates = await runAllCandidates(run, argLists);
      await finishCalibration(run, control.outcome);
    } else {
      // Promoted: the first candidate already served; the old code runs now, in the shadow.
      const [shadowed, ...others] = await runPromotedShadows(run, argLists);
      controlOutcome = shadowed as Outcome;
      candidates = [control.outcome, ...others];
    }
    release();
    // Compare and publish on a turn of their own, not in the last candidate's.
    await nextTurn();
    await publish(run, concludeRun(run, controlOutcome, candidates, report));
  } catch (fault) {
    internalFault(fault);
  } finally {
    release();
  }
}

const warnedUnobservable = new WeakSet<object>();

function abandonUnobservable(run: AdmittedRun): void {
  const { core } = run;
  core.releaseSlot();
  if (warnedUnobservable.has(core)) return;
  warnedUnobservable.add(core);
  core.report(
    "isolate",
    new TypeError("the control returned a thenable that is not a native Promise"),
    "the control returned a thenable that is not a native Promise; observing it would call its then() a second time " +
      "(a query builder would run twice), so this experiment's background runs are skipped. Return a native promise " +
      "(e.g. wrap the control in an async function) to shadow it.",
  );
}
