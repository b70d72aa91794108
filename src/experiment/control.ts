/**
 * Runs the control for an admitted call and observes it without touching what the caller gets:
 * a sync control's value or error goes back as it is; an async control's very promise is returned,
 * and penumbra's reaction to it, registered before the caller can register one, snapshots the value
 * before the caller's continuation can mutate it.
 */
import { performance } from "node:perf_hooks";
import { runInFrame, type RunFrame } from "../context/frame";
import { snapshot } from "../isolation/snapshot";
import { isThenable } from "../util/thenable";
import { elapsed, makeFrame, settle, type Outcome } from "./behaviour";
import type { ExperimentCore } from "./core";
import type { AdmittedRun } from "./prepare";

/**
 * How the control settled: its outcome (value snapshotted) and what the caller gets (the raw value or error).
 *
 * @internal
 * @example
 * ```ts
 * const settled: ControlSettled = await call.settled;
 * if (settled.threw) throw settled.raw;
 * ```
 */
export interface ControlSettled {
  readonly outcome: Outcome;
  readonly threw: boolean;
  /** The control's own value, or the error it threw: exactly what the caller gets. */
  readonly raw: unknown;
}

/**
 * The control's call: already settled (sync), a native promise with its observation, or an unobserved thenable.
 *
 * A thenable that is not a native promise is not observed (`settled` is undefined): see `callControl`.
 *
 * @internal
 * @example
 * ```ts
 * const call: ControlCall = callControl(run, controlFrame(run), false);
 * if (!call.sync && call.settled === undefined) abandonUnobservable(run);
 * ```
 */
export type ControlCall =
  | ({ readonly sync: true } & ControlSettled)
  | { readonly sync: false; readonly returned: Promise<unknown>; readonly settled: Promise<ControlSettled> }
  | { readonly sync: false; readonly returned: PromiseLike<unknown>; readonly settled: undefined };

/**
 * The frame the control runs in: not a shadow, recording effects for comparison.
 *
 * @internal
 * @example
 * ```ts
 * const call = callControl(run, controlFrame(run), false);
 * ```
 */
export function controlFrame(run: AdmittedRun): RunFrame {
  // A promoted candidate serves the caller: not a shadow either, and its effects are real.
  if (run.served !== run.core.control) {
    return makeFrame(run.core.name, run.runId, run.context, "candidate", false, run.parentFrame, undefined, run.served.name);
  }
  return makeFrame(run.core.name, run.runId, run.context, "control", false, run.parentFrame);
}

/**
 * Calls the control in its frame and observes it, leaving what the caller gets untouched.
 *
 * A returned thenable that is not a native promise (a query builder, say) is not observed: calling
 * its `then` a second time could run it twice, so the call goes back to the caller untouched and the
 * run is abandoned, unless `adoptThenables` (sequential mode, where the caller gets penumbra's own
 * promise and the thenable's `then` runs once).
 *
 * @internal
 * @example
 * ```ts
 * const call = callControl(run, frame, true, true); // sequential: measure CPU, adopt thenables
 * ```
 */
export function callControl(run: AdmittedRun, frame: RunFrame, measureCpu: boolean, adoptThenables = false): ControlCall {
  const { core } = run;
  const fn = run.served.fn;
  const name = run.served.name;
  const started = performance.now();
  const cpuBefore = measureCpu ? process.cpuUsage() : undefined;
  let returned: unknown;
  try {
    returned = runInFrame(frame, () => Reflect.apply(fn, run.thisArg, run.args));
  } catch (error) {
    if (run.served === core.control) core.controlIsAsync ??= false;
    const outcome = settle(frame, name, true, { threw: true, error }, elapsed(started), cpuMs(cpuBefore));
    return { sync: true, threw: true, raw: error, outcome };
  }
  if (!isThenable(returned)) {
    if (run.served === core.control) core.controlIsAsync = false;
    const copy = snapshotValue(core, returned);
    const outcome = settle(frame, name, copy.isolated, { threw: false, value: copy.value }, elapsed(started), cpuMs(cpuBefore));
    return { sync: true, threw: false, raw: returned, outcome };
  }
  if (run.served === core.control) core.controlIsAsync = true;
  if (!(returned instanceof Promise) && !adoptThenables) {
    frame.open = false;
    return { sync: false, returned, settled: undefined };
  }
  // Sequential mode hands the caller its own promise anyway, so it may adopt a thenable (one `then` call).
  const pending = returned instanceof Promise ? returned : Promise.resolve(returned);
  const settled = new Promise<ControlSettled>((resolve) => {
    // Registered before the caller can register anything: this reaction runs first.
    pending.then(
      (value: unknown) => {
        const copy = snapshotValue(core, value);
        const outcome = settle(frame, name, copy.isolated, { threw: false, value: copy.value }, elapsed(started));
        resolve({ outcome, threw: false, raw: value });
      },
      (error: unknown) => {
        resolve({ outcome: settle(frame, name, true, { threw: true, error }, elapsed(started)), threw: true, raw: error });
      },
    );
  });
  return { sync: false, returned: pending, settled };
}

/** Copies the control's value by the isolation rule, so later mutation by the caller cannot fake a mismatch. */
function snapshotValue(core: ExperimentCore, value: unknown): { value: unknown; isolated: boolean } {
  if (core.options.isolate === false) return { value, isolated: false };
  try {
    return snapshot(value);
  } catch (error) {
    core.report("isolate", error);
    return { value, isolated: false };
  }
}

function cpuMs(before: NodeJS.CpuUsage | undefined): number | undefined {
  if (before === undefined) return undefined;
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000;
}
