/**
 * Runs one behaviour (the control or a candidate) inside its run frame and records what it did:
 * value or error, wall time on a monotonic clock, CPU time where it can be attributed, and whether
 * a candidate ran out of its budget.
 */
import { performance } from "node:perf_hooks";
import { CandidateTimeoutError, type Operation } from "../errors";
import { faultDetail } from "../context/faults";
import { runInFrame, type RunFrame } from "../context/frame";
import type { RunInfo } from "../types/context";
import type { Leak, Observation, Role } from "../types/results";
import { isThenable } from "../util/thenable";

/**
 * A registered behaviour: the control or one named candidate.
 *
 * @internal
 * @example
 * ```ts
 * const control: Behaviour = { name: "control", fn: legacyTotal as Behaviour["fn"] };
 * ```
 */
export interface Behaviour {
  readonly name: string;
  readonly fn: (...args: never[]) => unknown;
}

/**
 * What one behaviour did, before it is frozen (and cleaned) into an `Observation`.
 *
 * @internal
 * @example
 * ```ts
 * const outcome: Outcome = settle(frame, "control", true, { threw: true, error }, elapsed(started));
 * ```
 */
export type Outcome = Omit<Observation<unknown>, "cleanedValue">;

const NEVER_ABORTS = new AbortController().signal;

/**
 * Builds the open frame a behaviour runs in, with frozen run info and empty effect and leak lists.
 *
 * @internal
 * @example
 * ```ts
 * const frame = makeFrame(core.name, run.runId, run.context, "candidate", true, run.parentFrame, controller.signal, "fast");
 * ```
 */
export function makeFrame(
  experiment: string,
  runId: string,
  context: Record<string, unknown>,
  role: Role,
  shadow: boolean,
  parent: RunFrame | undefined,
  signal?: AbortSignal,
  candidate?: string,
  onLateLeak?: (leak: Leak) => void,
  report?: (operation: Operation, cause: unknown, detail?: string) => void,
): RunFrame {
  const info: RunInfo =
    candidate === undefined
      ? { experiment, runId, role, context, signal: signal ?? NEVER_ABORTS }
      : { experiment, runId, role, candidate, context, signal: signal ?? NEVER_ABORTS };
  const frame: { -readonly [K in keyof RunFrame]: RunFrame[K] } = {
    penumbraFrame: 1,
    info: Object.freeze(info),
    shadow,
    effects: [],
    leaks: [],
    open: true,
    onLateLeak,
    parent,
  };
  if (report !== undefined) {
    frame.report = report;
    if (shadow) frame.onFault = (error) => onFault(frame, report, error);
  }
  return frame;
}

/** Finishes a pending shadow behaviour with the error of a fault raised in its context (see `onFault`). */
const pendingFinish = new WeakMap<RunFrame, (error: unknown) => void>();

function onFault(frame: RunFrame, report: NonNullable<RunFrame["report"]>, error: unknown): void {
  // The fault is the behaviour's error only while its observation is open; later it is only reported.
  if (frame.open) pendingFinish.get(frame)?.(error);
  report("candidateFault", error, faultDetail(frame, error));
}

/**
 * Closes the frame and turns what was recorded into an outcome.
 *
 * Closing first means an effect or leak that arrives later is not attributed to this observation.
 *
 * @internal
 * @example
 * ```ts
 * const outcome = settle(frame, "control", copy.isolated, { threw: false, value: copy.value }, elapsed(started));
 * ```
 */
export function settle(
  frame: RunFrame,
  name: string,
  isolated: boolean,
  result: { threw: boolean; value?: unknown; error?: unknown; timedOut?: boolean },
  durationMs: number,
  cpuMs?: number,
): Outcome {
  frame.open = false;
  const outcome: Outcome = {
    name,
    role: frame.info.role,
    threw: result.threw,
    durationMs,
    timedOut: result.timedOut === true,
    isolated,
    effects: frame.effects.slice(),
    leaks: frame.leaks.slice(),
  };
  if (result.threw || result.timedOut) outcome.error = result.error;
  else outcome.value = result.value;
  if (cpuMs !== undefined) outcome.cpuMs = cpuMs;
  return outcome;
}

/**
 * Runs a candidate in its frame: its outcome at once when it returns no thenable, else a promise of it.
 *
 * The promise resolves at the latest `timeoutMs` later, with a timed-out outcome, and the
 * candidate's signal is aborted: the slot is freed then even if the candidate's code goes on running.
 * CPU time is measured only for a candidate that finishes synchronously.
 *
 * @internal
 * @example
 * ```ts
 * return runCandidate(behaviour, frame, controller, run.thisArg, args, run.argsIsolated, core.options.timeoutMs);
 * ```
 */
export function runCandidate(
  behaviour: Behaviour,
  frame: RunFrame,
  controller: AbortController,
  thisArg: unknown,
  args: readonly unknown[],
  isolated: boolean,
  timeoutMs: number,
): Outcome | Promise<Outcome> {
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  let returned: unknown;
  try {
    returned = runInFrame(frame, () => Reflect.apply(behaviour.fn, thisArg, args));
  } catch (error) {
    return settle(frame, behaviour.name, isolated, { threw: true, error }, elapsed(started), cpuSince(cpuBefore));
  }
  if (!isThenable(returned)) {
    return settle(frame, behaviour.name, isolated, { threw: false, value: returned }, elapsed(started), cpuSince(cpuBefore));
  }
  const pending = returned;
  return new Promise<Outcome>((resolve) => {
    let done = false;
    const finish = (result: { threw: boolean; value?: unknown; error?: unknown; timedOut?: boolean }): void => {
      if (done) return;
      done = true;
      pendingFinish.delete(frame);
      clearTimeout(timer);
      resolve(settle(frame, behaviour.name, isolated, result, elapsed(started)));
    };
    const timer = setTimeout(() => {
      const error = new CandidateTimeoutError(frame.info.experiment, behaviour.name, timeoutMs);
      finish({ threw: false, error, timedOut: true });
      controller.abort(error);
    }, timeoutMs);
    // The wait for a hung candidate must not keep a process alive on its own; settled() does that.
    timer.unref();
    pendingFinish.set(frame, (error) => finish({ threw: true, error }));
    try {
      pending.then(
        (value) => finish({ threw: false, value }),
        (error: unknown) => finish({ threw: true, error }),
      );
    } catch (error) {
      finish({ threw: true, error });
    }
  });
}

/**
 * Milliseconds since `started` on the monotonic clock.
 *
 * @internal
 * @example
 * ```ts
 * const started = performance.now();
 * // … the behaviour runs …
 * const durationMs = elapsed(started);
 * ```
 */
export function elapsed(started: number): number {
  return performance.now() - started;
}

function cpuSince(before: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000;
}
