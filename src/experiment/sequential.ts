/**
 * Sequential mode, Scientist's semantics for tests and scripts: `beforeRun`, then the behaviours one
 * after another in random order (each awaited when the control is async), then publish, then
 * `throwOnMismatch`, then the control's value or error.
 *
 * A synchronous control cannot wait for anything asynchronous without changing its signature: an
 * async `enabled`, `beforeRun` or candidate then completes as in background mode, is published when
 * it settles, and is reported as operation `sequential` (throwOnMismatch cannot apply to it).
 */
import { currentSettings } from "../config";
import { MismatchError } from "../errors";
import type { Result } from "../types/results";
import { isAsyncFunction, isThenable } from "../util/thenable";
import { shuffled } from "../util/shuffle";
import type { Outcome } from "./behaviour";
import { continueInBackground, runInBackground } from "./background";
import { callBeforeRun } from "./before-run";
import { finishCalibration, startCalibration } from "./calibrate";
import { startCandidate } from "./candidates";
import { concludeRun, publish } from "./conclude";
import { callControl, controlFrame, type ControlCall, type ControlSettled } from "./control";
import { asyncGateSaysYes } from "./gate";
import { internalFault } from "./internal-fault";
import { argsPerCandidate, type AdmittedRun } from "./prepare";
import { RunReporter } from "./run-reporter";

const CONTROL = -1;

/**
 * Runs an admitted call in sequential mode; a promise of the answer when the control is asynchronous.
 *
 * @internal
 * @example
 * ```ts
 * return (core.options.mode === "sequential" ? runSequentially(run) : runInBackground(run)) as R;
 * ```
 */
export function runSequentially(run: AdmittedRun): unknown {
  const { core } = run;
  const controlIsAsync = core.controlIsAsync ?? (isAsyncFunction(core.control.fn) ? true : undefined);
  if (controlIsAsync === true) return runSequentiallyAsync(run);
  const reporter = new RunReporter(core);
  if (run.asyncGate !== undefined) {
    reporter.report("sequential", new Error("enabled returned a promise"), fallbackDetail("enabled answered with a promise"));
    const returned = runInBackground(run);
    const strictError = reporter.release(currentSettings().strict);
    if (strictError !== undefined) throw strictError;
    return returned;
  }
  const beforeRun = callBeforeRun(core, reporter.report);
  if (beforeRun === false) return bare(run, reporter);
  if (beforeRun !== true) {
    reporter.report("sequential", new Error("beforeRun returned a promise"), fallbackDetail("beforeRun returned a promise"));
    const call = callControl(run, controlFrame(run), true, true);
    const settling = call.sync ? call : (call.settled as Promise<ControlSettled>);
    continueInBackground(run, settling, beforeRun);
    if (!call.sync) return answerLater(run, reporter, settling as Promise<ControlSettled>);
    return answer(run, reporter, call, undefined);
  }
  const argLists = candidateArgs(run, reporter);
  if (argLists === undefined) return bare(run, reporter);
  startCalibration(run);
  // Until the control is known to be synchronous, or when the candidates share part of the arguments, it goes first.
  const candidateOrder = shuffled(core.candidates.map((_, i) => i));
  const order = controlIsAsync === undefined || !run.argsIsolated ? [CONTROL, ...candidateOrder] : shuffled([CONTROL, ...candidateOrder]);
  const frame = controlFrame(run);
  let control: ControlSettled | undefined;
  const outcomes: Array<Outcome | Promise<Outcome>> = [];
  for (let step = 0; step < order.length; step++) {
    const index = order[step] as number;
    if (index === CONTROL) {
      const call = callControl(run, frame, true, true);
      if (!call.sync) return continueAsync(run, reporter, call.settled, order.slice(step + 1), argLists);
      control = call;
    } else {
      outcomes[index] = startCandidate(run, core.candidates[index]!, argLists[index]!);
    }
  }
  const settledControl = control as ControlSettled;
  // A synchronous control cannot wait for an asynchronous rerun: it then teaches later runs only.
  void finishCalibration(run, settledControl.outcome);
  if (outcomes.some(isThenable)) {
    reporter.report("sequential", new Error("a candidate returned a promise"), fallbackDetail("a candidate returned a promise"));
    core.tracker.track(publishWhenSettled(run, settledControl, outcomes));
    return answer(run, reporter, settledControl, undefined);
  }
  core.releaseSlot();
  const result = concludeRun(run, settledControl.outcome, outcomes as Outcome[], reporter.report);
  core.tracker.track(publish(run, result, reporter.report));
  return answer(run, reporter, settledControl, result);
}

async function runSequentiallyAsync(run: AdmittedRun): Promise<unknown> {
  const { core } = run;
  const reporter = new RunReporter(core);
  let early: ControlCall | undefined;
  if (run.asyncGate !== undefined) {
    // An asynchronous gate is asked in parallel with the control, never ahead of it: the control
    // starts now (and so runs first), and a gate that never answers cannot hold the caller.
    early = callControl(run, controlFrame(run), false, true);
    if (!(await asyncGateSaysYes(core, run.asyncGate))) {
      core.releaseSlot();
      const settled = await settledOf(early);
      if (settled.threw) throw settled.raw;
      return settled.raw;
    }
  }
  if (!(await callBeforeRun(core, reporter.report))) {
    if (early !== undefined) return answerBare(run, reporter, await settledOf(early));
    return bare(run, reporter);
  }
  const argLists = candidateArgs(run, reporter);
  if (argLists === undefined) {
    if (early !== undefined) return answerBare(run, reporter, await settledOf(early));
    return bare(run, reporter);
  }
  startCalibration(run);
  const candidateOrder = shuffled(core.candidates.map((_, i) => i));
  const order = run.argsIsolated && early === undefined ? shuffled([CONTROL, ...candidateOrder]) : [CONTROL, ...candidateOrder];
  const controlAt = order.indexOf(CONTROL);
  const outcomes: Outcome[] = [];
  for (const index of order.slice(0, controlAt)) {
    outcomes[index] = await startCandidate(run, core.candidates[index]!, argLists[index]!);
  }
  const settled = await settledOf(early ?? callControl(run, controlFrame(run), false, true));
  return finishAsync(run, reporter, settled, order.slice(controlAt + 1), argLists, outcomes);
}

function settledOf(call: ControlCall): Promise<ControlSettled> | ControlSettled {
  // Sequential calls adopt thenables, so an asynchronous call always carries its settled promise.
  return call.sync ? call : (call.settled as Promise<ControlSettled>);
}

/** The control ran observed, but the candidates will not: its outcome, unpublished, and strict mode's error. */
function answerBare(run: AdmittedRun, reporter: RunReporter, control: ControlSettled): unknown {
  run.core.releaseSlot();
  return answer(run, reporter, control, undefined);
}

async function continueAsync(
  run: AdmittedRun,
  reporter: RunReporter,
  settling: Promise<ControlSettled> | undefined,
  rest: number[],
  argLists: unknown[][],
): Promise<unknown> {
  const settled = await (settling as Promise<ControlSettled>);
  return finishAsync(run, reporter, settled, rest, argLists, []);
}

async function finishAsync(
  run: AdmittedRun,
  reporter: RunReporter,
  control: ControlSettled,
  rest: number[],
  argLists: unknown[][],
  outcomes: Outcome[],
): Promise<unknown> {
  const { core } = run;
  for (const index of rest) {
    outcomes[index] = await startCandidate(run, core.candidates[index]!, argLists[index]!);
  }
  await finishCalibration(run, control.outcome);
  core.releaseSlot();
  const result = concludeRun(run, control.outcome, outcomes, reporter.report);
  core.tracker.track(publish(run, result, reporter.report));
  return answer(run, reporter, control, result);
}

/** The caller's answer: a strict-mode error, else a MismatchError in test mode, else the control's own outcome. */
function answer(run: AdmittedRun, reporter: RunReporter, control: ControlSettled, result: Result<unknown> | undefined): unknown {
  const strictError = reporter.release(currentSettings().strict);
  if (strictError !== undefined) throw strictError;
  const throwOnMismatch = run.core.options.throwOnMismatch ?? currentSettings().throwOnMismatch;
  if (result !== undefined && result.mismatched && throwOnMismatch) throw new MismatchError(result);
  if (control.threw) throw control.raw;
  return control.raw;
}

async function answerLater(run: AdmittedRun, reporter: RunReporter, settling: Promise<ControlSettled>): Promise<unknown> {
  return answer(run, reporter, await settling, undefined);
}

/** The candidates will not run: the control runs bare, and strict mode still owes the caller the error. */
function bare(run: AdmittedRun, reporter: RunReporter): unknown {
  run.core.releaseSlot();
  const strictError = reporter.release(currentSettings().strict);
  if (strictError === undefined) return Reflect.apply(run.core.control.fn, run.thisArg, run.args);
  // Test mode: the harness's own failure is what the test must see, even if the control throws too.
  try {
    const returned = Reflect.apply(run.core.control.fn, run.thisArg, run.args);
    if (isThenable(returned)) Promise.resolve(returned).catch(() => undefined);
  } catch {
    // The strict-mode error below takes precedence.
  }
  throw strictError;
}

function candidateArgs(run: AdmittedRun, reporter: RunReporter): unknown[][] | undefined {
  try {
    return argsPerCandidate(run);
  } catch (error) {
    reporter.report("isolate", error);
    return undefined;
  }
}

async function publishWhenSettled(run: AdmittedRun, control: ControlSettled, pending: Array<Outcome | Promise<Outcome>>): Promise<void> {
  try {
    const outcomes = await Promise.all(pending);
    run.core.releaseSlot();
    await publish(run, concludeRun(run, control.outcome, outcomes, (o, c) => run.core.report(o, c)));
  } catch (fault) {
    internalFault(fault);
  }
}

function fallbackDetail(what: string): string {
  return `${what} while the control is synchronous: that part completes in the background, its result is published when it settles, and throwOnMismatch cannot apply to it`;
}
