/**
 * The two schedules of an admitted run.
 *
 * Background (the default): the served behaviour answers the caller; the async gate's answer,
 * `beforeRun`, the shadows, comparison and publishing follow on later turns.
 *
 * Sequential (Scientist's semantics, for tests and scripts): `beforeRun`, then the behaviours one
 * after another in random order (each awaited when the control is async), publish, `throwOnMismatch`,
 * then the control's value or error. A synchronous control cannot wait for anything asynchronous
 * without changing its signature: that part completes as in background mode, is published when it
 * settles, and is reported as operation `sequential`.
 *
 * Calibration hooks are called only when the experiment calibrates.
 */
import { currentSettings } from "../config";
import { MismatchError } from "../errors";
import { snapshot } from "../isolation/snapshot";
import { internalFault } from "../report";
import type { RawObservation, Result } from "../types/results";
import { LATE, withinDeadline } from "../util/deadline";
import { shuffled } from "../util/shuffle";
import { isAsyncFunction, isThenable } from "../util/thenable";
import type { Run } from "./admit";
import { concludeRun, publish } from "./conclude";
import { callServed, observeShadow, servingFrame, shadowFrame, type Behaviour, type Served } from "./observe";
import type { Ticket } from "./tracker";

type Pending = RawObservation | Promise<RawObservation>;

/** The shadows' argument lists and, with `captureArgs`, a pristine copy for the result. */
interface ShadowArgs {
  readonly lists: unknown[][];
  readonly captured: unknown[] | undefined;
}

// ————————————————————————————————— background —————————————————————————————————

/**
 * Runs an admitted call in background mode and returns exactly what the served behaviour returns.
 *
 * @internal
 * @example
 * ```ts
 * return run.state.options.mode === "sequential" && !run.promoted ? runSequentially(run) : runInBackground(run);
 * ```
 */
export function runInBackground(run: Run): unknown {
  const call = serve(run, false);
  if (call.kind === "sync") {
    schedule(run, call, undefined);
    if (call.threw) throw call.raw;
    return call.raw;
  }
  if (call.kind === "thenable") {
    run.state.releaseSlot();
    run.state.unobservable();
    return call.returned;
  }
  schedule(run, call.settled, undefined);
  return call.returned;
}

/** Calls the served behaviour in its frame, learning whether the control is async. */
function serve(run: Run, measureCpu: boolean): ReturnType<typeof callServed> {
  const { state } = run;
  const frame = servingFrame(run, run.promoted ? run.served.name : undefined);
  const call = callServed(run.served, run.thisArg, run.args, frame, state.options.isolate !== false, measureCpu, run.report);
  if (!run.promoted) state.controlIsAsync = call.kind !== "sync";
  return call;
}

/**
 * Schedules everything after the served behaviour on a later turn; counted for `settled()` from now.
 * `beforeRunDone` is given when `beforeRun` was already called (sequential mode falling back).
 */
function schedule(run: Run, served: Served | Promise<Served>, beforeRunDone: Promise<boolean> | undefined): void {
  const ticket = run.state.tracker.begin();
  if (served instanceof Promise) {
    served.then(
      (settled) => setImmediate(finishInBackground, run, settled, beforeRunDone, ticket),
      () => ticket.done(),
    );
  } else {
    setImmediate(finishInBackground, run, served, beforeRunDone, ticket);
  }
}

function finishInBackground(run: Run, served: Served, beforeRunDone: Promise<boolean> | undefined, ticket: Ticket): void {
  let pending: Promise<void> | undefined;
  try {
    pending = background(run, served, beforeRunDone);
  } catch (fault) {
    run.state.releaseSlot();
    internalFault(fault);
  }
  if (pending === undefined) ticket.done();
  else pending.then(() => ticket.done(), (fault: unknown) => {
    internalFault(fault);
    ticket.done();
  });
}

/**
 * Everything after the served behaviour, synchronously for as long as nothing is asynchronous (no
 * promise at all for a sync candidate and sync publishers); undefined when it is all done.
 */
function background(run: Run, served: Served, beforeRunDone: Promise<boolean> | undefined): Promise<void> | undefined {
  const { state } = run;
  if (run.asyncGate !== undefined || beforeRunDone !== undefined) return backgroundAsync(run, served, beforeRunDone);
  const before = callBeforeRun(run);
  if (before !== true) {
    if (before === false) {
      state.releaseSlot();
      return undefined;
    }
    return backgroundAsync(run, served, before);
  }
  const prepared = shadowArgs(run);
  if (prepared === undefined) {
    state.releaseSlot();
    return undefined;
  }
  const rerun = state.calibration === undefined ? undefined : startCalibration(run, prepared);
  const started = startShadows(run, prepared.lists);
  if (rerun instanceof Promise || started.some(isThenable)) return afterShadows(run, served, prepared, started, rerun);
  if (rerun !== undefined) void learn(run, served.observation, rerun);
  state.releaseSlot();
  return publish(run, conclude(run, served.observation, started as RawObservation[], prepared.captured));
}

/** The asynchronous `enabled` answer or `beforeRun` still to come: awaited, then the same steps. */
async function backgroundAsync(run: Run, served: Served, beforeRunDone: Promise<boolean> | undefined): Promise<void> {
  const { state } = run;
  let holdsSlot = true;
  try {
    if (run.asyncGate !== undefined && !(await gateSaysYes(run, run.asyncGate))) return;
    if (!(await (beforeRunDone ?? callBeforeRun(run)))) return;
    const prepared = shadowArgs(run);
    if (prepared === undefined) return;
    const rerun = state.calibration === undefined ? undefined : startCalibration(run, prepared);
    holdsSlot = false;
    await afterShadows(run, served, prepared, startShadows(run, prepared.lists), rerun);
  } finally {
    if (holdsSlot) state.releaseSlot();
  }
}

/** Waits for the shadows (and a calibration rerun), frees the slot, then compares and publishes on a turn of their own. */
async function afterShadows(run: Run, served: Served, prepared: ShadowArgs, started: Pending[], rerun: Pending | undefined): Promise<void> {
  let observations: RawObservation[];
  try {
    observations = await Promise.all(started);
    if (rerun !== undefined) await learn(run, served.observation, rerun);
  } finally {
    run.state.releaseSlot();
  }
  // Not in the last candidate's reaction: compare and publish on a turn of their own.
  await new Promise((resolve) => setImmediate(resolve));
  await publish(run, conclude(run, served.observation, observations, prepared.captured));
}

/** The behaviours that run in the shadow: the candidates, or (promoted) the control and the others. */
function shadowsOf(run: Run): readonly Behaviour[] {
  const { state } = run;
  return run.promoted ? [state.control as Behaviour, ...state.candidates.slice(1)] : state.candidates;
}

function startShadow(run: Run, behaviour: Behaviour, args: unknown[], measureCpu: boolean): Pending {
  const isControl = behaviour === run.state.control;
  const frame = shadowFrame(run, isControl ? "control" : "candidate", isControl ? undefined : behaviour.name);
  return observeShadow(behaviour, frame, run.thisArg, args, run.isolated, run.state.options.timeoutMs, measureCpu);
}

function startShadows(run: Run, lists: unknown[][]): Pending[] {
  const shadows = shadowsOf(run);
  const started: Pending[] = new Array<Pending>(shadows.length);
  for (let i = 0; i < shadows.length; i++) started[i] = startShadow(run, shadows[i] as Behaviour, lists[i] ?? run.args, false);
  return started;
}

/** The result: for a promoted call the served candidate is a candidate and the shadowed control the control. */
function conclude(run: Run, served: RawObservation, shadows: readonly RawObservation[], captured: unknown[] | undefined): Result<unknown> | undefined {
  if (!run.promoted) return concludeRun(run, served, shadows, captured);
  return concludeRun(run, shadows[0] as RawObservation, [served, ...shadows.slice(1)], captured);
}

/**
 * Argument lists for every shadow, taken before any shadow starts, so one shadow's mutations never
 * reach another: the pristine snapshot is copied again for the second and later ones. Undefined
 * (reported as `isolate`) when a copy cannot be made.
 */
function shadowArgs(run: Run): ShadowArgs | undefined {
  const { options, candidates } = run.state;
  try {
    const first = run.copies[0] ?? run.args;
    const captured = options.captureArgs === true ? (snapshot(first).value as unknown[]) : undefined;
    // One shadow (the common case): the admission's own list of copies serves as is.
    if (candidates.length === 1 && run.copies.length === 1) return { lists: run.copies as unknown[][], captured };
    const lists: unknown[][] = [first];
    for (let i = 1; i < candidates.length; i++) {
      lists.push(run.copies[i] ?? (options.isolate === false ? run.args : (snapshot(first).value as unknown[])));
    }
    return { lists, captured };
  } catch (error) {
    run.report("isolate", error);
    return undefined;
  }
}

/** Waits for the asynchronous `enabled` answer, at most `timeoutMs`; a late answer counts as "no". */
async function gateSaysYes(run: Run, gate: Promise<boolean>): Promise<boolean> {
  const timeoutMs = run.state.options.timeoutMs;
  const answer = await withinDeadline(gate, timeoutMs);
  if (answer !== LATE) return answer;
  run.report("enabled", new Error(`enabled did not answer within ${timeoutMs} ms`));
  return false;
}

/**
 * Calls `beforeRun`: true, false (it threw or rejected, or did not settle within `timeoutMs`), or a
 * promise of either. A hung `beforeRun` must not hold a slot (or a sequential caller) forever.
 */
function callBeforeRun(run: Run): boolean | Promise<boolean> {
  const beforeRun = run.state.options.beforeRun;
  if (beforeRun === undefined) return true;
  let returned: unknown;
  try {
    returned = beforeRun();
  } catch (error) {
    run.report("beforeRun", error);
    return false;
  }
  if (!isThenable(returned)) return true;
  const timeoutMs = run.state.options.timeoutMs;
  return withinDeadline(Promise.resolve(returned), timeoutMs).then(
    (answer) => {
      if (answer !== LATE) return true;
      run.report("beforeRun", new Error(`beforeRun did not settle within ${timeoutMs} ms`));
      return false;
    },
    (error: unknown) => {
      run.report("beforeRun", error);
      return false;
    },
  );
}

// ————————————————————————————————— calibration —————————————————————————————————

/** Starts the calibration rerun of the control (before any shadow starts), if this run still calibrates. */
function startCalibration(run: Run, prepared: ShadowArgs): Pending | undefined {
  const { state } = run;
  if (run.promoted || state.calibration === undefined || !state.calibration.take()) return undefined;
  try {
    const first = prepared.lists[0] ?? run.args;
    const args = state.options.isolate === false ? run.args : (snapshot(first).value as unknown[]);
    return state.calibration.rerun(run, state.control as Behaviour, run.thisArg, args, state.options.timeoutMs);
  } catch (error) {
    run.report("isolate", error);
    return undefined;
  }
}

/** Learns from the rerun once it settled; a promise only while the rerun is pending. */
function learn(run: Run, control: RawObservation, rerun: Pending): void | Promise<void> {
  const calibration = run.state.calibration;
  if (calibration === undefined) return;
  if (rerun instanceof Promise) return rerun.then((seen) => calibration.learn(control, seen));
  calibration.learn(control, rerun);
}

// ————————————————————————————————— sequential —————————————————————————————————

const CONTROL = -1;
// The one-candidate orders, shared: a sequential run allocates no order of its own in the common case.
const CONTROL_FIRST: readonly number[] = Object.freeze([CONTROL, 0]);
const CANDIDATE_FIRST: readonly number[] = Object.freeze([0, CONTROL]);

/** The behaviours' order: the candidates shuffled, and the control among them when `mixControl`, else first. */
function orderOf(candidates: number, mixControl: boolean): readonly number[] {
  if (candidates === 1) return mixControl && Math.random() < 0.5 ? CANDIDATE_FIRST : CONTROL_FIRST;
  const candidateOrder = shuffled(Array.from({ length: candidates }, (_, i) => i));
  return mixControl ? shuffled([CONTROL, ...candidateOrder]) : [CONTROL, ...candidateOrder];
}

/**
 * Runs an admitted (not promoted) call in sequential mode; a promise of the answer when the control
 * is asynchronous. A thenable that is not a native promise goes back untouched, the run abandoned.
 *
 * @internal
 * @example
 * ```ts
 * return run.state.options.mode === "sequential" && !run.promoted ? runSequentially(run) : runInBackground(run);
 * ```
 */
export function runSequentially(run: Run): unknown {
  const { state } = run;
  const knownAsync = state.controlIsAsync ?? (isAsyncFunction((state.control as Behaviour).fn) ? true : undefined);
  if (run.asyncGate !== undefined) {
    if (knownAsync === true) return afterAsyncGate(run, run.asyncGate, run.state.tracker.begin());
    run.report("sequential", new Error("enabled returned a promise"), fallback("enabled answered with a promise"));
    const returned = runInBackground(run);
    const strictError = release(run);
    if (strictError !== undefined) throw strictError;
    return returned;
  }
  // Counted for settled() from admission: a caller that does not await the run must still be waited for.
  if (knownAsync === true) return sequentialAsync(run, run.state.tracker.begin());
  const before = callBeforeRun(run);
  if (before === false) return bare(run);
  if (before !== true) {
    run.report("sequential", new Error("beforeRun returned a promise"), fallback("beforeRun returned a promise"));
    const call = serve(run, true);
    if (call.kind === "thenable") return abandonThenable(run, call.returned);
    schedule(run, call.kind === "sync" ? call : call.settled, before);
    return call.kind === "sync" ? answer(run, call, undefined) : call.settled.then((settled) => answer(run, settled, undefined));
  }
  return steps(run, false);
}

/**
 * An async control: the caller gets a promise anyway, so the whole run starts on the next microtask,
 * not inside the caller's synchronous call (as every other asynchronous step of the caller would).
 */
async function sequentialAsync(run: Run, ticket: Ticket): Promise<unknown> {
  try {
    const before = await callBeforeRun(run);
    if (!before) return await bare(run);
    return await steps(run, true);
  } finally {
    ticket.done();
  }
}

/** The behaviours one after another; synchronous for as long as everything is. */
function steps(run: Run, controlIsAsync: boolean): unknown {
  const { state } = run;
  const prepared = shadowArgs(run);
  if (prepared === undefined) return bare(run);
  const rerun = state.calibration === undefined ? undefined : startCalibration(run, prepared);
  // CPU time is a syscall per behaviour, twice: measured for a sample of runs only (see state.measuresCpu).
  const measureCpu = !controlIsAsync && state.measuresCpu();
  // Until the control is known to be synchronous, or when the shadows share part of the arguments, it goes first.
  const known = controlIsAsync || state.controlIsAsync !== undefined;
  const order = orderOf(state.candidates.length, known && run.isolated);
  const observations: Pending[] = [];
  let served: Served | undefined;
  for (let step = 0; step < order.length; step++) {
    const index = order[step] as number;
    if (index === CONTROL) {
      const call = serve(run, measureCpu);
      if (call.kind === "thenable") return abandonThenable(run, call.returned);
      if (call.kind === "promise") {
        // The control turned out asynchronous inside the call: counted for settled() from here, still inside the call.
        const ticket = controlIsAsync ? undefined : state.tracker.begin();
        return stepsAsync(run, prepared, order.slice(step + 1), observations, call.settled, rerun, ticket);
      }
      served = call;
    } else {
      const seen = startShadow(run, state.candidates[index] as Behaviour, prepared.lists[index] as unknown[], measureCpu);
      observations[index] = seen;
      if (controlIsAsync) return stepsAsync(run, prepared, order.slice(step + 1), observations, undefined, rerun, undefined);
    }
  }
  const control = served as Served;
  // A synchronous control cannot wait for an asynchronous rerun: it then teaches later runs only.
  if (rerun !== undefined) void learn(run, control.observation, rerun);
  if (observations.some(isThenable)) {
    run.report("sequential", new Error("a candidate returned a promise"), fallback("a candidate returned a promise"));
    state.tracker.track(publishWhenSettled(run, control, observations, prepared.captured));
    return answer(run, control, undefined);
  }
  state.releaseSlot();
  const result = concludeRun(run, control.observation, observations as RawObservation[], prepared.captured);
  state.tracker.track(publish(run, result));
  return answer(run, control, result);
}

/** The rest of a sequential run once something returned a promise: every step awaited. */
async function stepsAsync(
  run: Run,
  prepared: ShadowArgs,
  rest: readonly number[],
  observations: Pending[],
  control: Promise<Served> | undefined,
  rerun: Pending | undefined,
  ticket: Ticket | undefined,
): Promise<unknown> {
  try {
    return await stepsAsyncCounted(run, prepared, rest, observations, control, rerun);
  } finally {
    ticket?.done();
  }
}

async function stepsAsyncCounted(
  run: Run,
  prepared: ShadowArgs,
  rest: readonly number[],
  observations: Pending[],
  control: Promise<Served> | undefined,
  rerun: Pending | undefined,
): Promise<unknown> {
  const { state } = run;
  let served = control === undefined ? undefined : await control;
  for (let i = 0; i < observations.length; i++) if (observations[i] !== undefined) observations[i] = await observations[i] as RawObservation;
  for (const index of rest) {
    if (index === CONTROL) {
      const call = serve(run, false);
      // Already awaiting: a thenable's then() is called once, here, since the caller gets penumbra's promise.
      served = call.kind === "sync" ? call : call.kind === "promise" ? await call.settled : await adopt(run, call.returned);
    } else {
      observations[index] = await startShadow(run, state.candidates[index] as Behaviour, prepared.lists[index] as unknown[], false);
    }
  }
  const settled = served as Served;
  if (rerun !== undefined) await learn(run, settled.observation, rerun);
  state.releaseSlot();
  const result = concludeRun(run, settled.observation, observations as RawObservation[], prepared.captured);
  state.tracker.track(publish(run, result));
  return answer(run, settled, result);
}

/** An async control with an async `enabled`: the gate is asked in parallel with the control, never ahead of it. */
function afterAsyncGate(run: Run, gate: Promise<boolean>, ticket: Ticket): unknown {
  let call: ReturnType<typeof serve>;
  try {
    call = serve(run, false);
  } catch (error) {
    ticket.done();
    throw error;
  }
  if (call.kind === "thenable") {
    ticket.done();
    return abandonThenable(run, call.returned);
  }
  const settled: Promise<Served> = call.kind === "sync" ? Promise.resolve(call) : call.settled;
  return counted(ticket, async () => {
    if (!(await gateSaysYes(run, gate))) {
      run.state.releaseSlot();
      return answer(run, await settled, undefined);
    }
    const before = await callBeforeRun(run);
    const prepared = before ? shadowArgs(run) : undefined;
    if (prepared === undefined) {
      run.state.releaseSlot();
      return answer(run, await settled, undefined);
    }
    const rerun = run.state.calibration === undefined ? undefined : startCalibration(run, prepared);
    return stepsAsync(run, prepared, shuffled(run.state.candidates.map((_, i) => i)), [], settled, rerun, undefined);
  });
}

/** Runs `work`, handing `ticket` back once it settled, before the caller's promise settles. */
async function counted(ticket: Ticket, work: () => Promise<unknown>): Promise<unknown> {
  try {
    return await work();
  } finally {
    ticket.done();
  }
}

function adopt(run: Run, thenable: unknown): Promise<Served> {
  run.report("sequential", new Error("the control returned a thenable that is not a native Promise"), "the control returned a thenable that is not a native Promise after an asynchronous step; penumbra adopted it (its then() was called once)");
  return Promise.resolve(thenable).then(
    (value: unknown) => ({ threw: false, raw: value, observation: fakeObservation(run, false, value) }),
    (error: unknown) => ({ threw: true, raw: error, observation: fakeObservation(run, true, error) }),
  );
}

function fakeObservation(run: Run, threw: boolean, value: unknown): RawObservation {
  const observation: RawObservation = { name: run.served.name, role: "control", threw, durationMs: 0, timedOut: false, isolated: false, effects: [], leaks: [] };
  if (threw) observation.error = value;
  else observation.value = value;
  return observation;
}

/** A thenable that is not a native promise: back to the caller untouched, the run abandoned and said why. */
function abandonThenable(run: Run, returned: unknown): unknown {
  run.state.releaseSlot();
  const strictError = release(run);
  if (strictError !== undefined) throw strictError;
  run.state.hook.report(
    "sequential",
    new TypeError("the control returned a thenable that is not a native Promise"),
    "the control returned a thenable that is not a native Promise; penumbra never calls its then() (that could start the work " +
      "twice), so it went back to the caller untouched and this run was abandoned. Return a native promise to shadow it.",
  );
  return returned;
}

/** The caller's answer: a strict-mode error, else a MismatchError in test mode, else the control's own outcome. */
function answer(run: Run, control: Served, result: Result<unknown> | undefined): unknown {
  const strictError = release(run);
  if (strictError !== undefined) throw strictError;
  const throwOnMismatch = run.state.options.throwOnMismatch ?? currentSettings().throwOnMismatch;
  if (result !== undefined && result.mismatched && throwOnMismatch) throw mismatchError(result);
  if (control.threw) throw control.raw;
  return control.raw;
}

/** The MismatchError for the caller; its message describes user values, so building it must not fail the caller. */
function mismatchError(result: Result<unknown>): Error {
  try {
    return new MismatchError(result);
  } catch (fault) {
    internalFault(fault);
    const fallback = Object.create(MismatchError.prototype) as MismatchError;
    Object.defineProperties(fallback, {
      message: { value: `experiment '${result.experiment}' observations mismatched (the values could not be described)` },
      code: { value: "PENUMBRA_MISMATCH" },
      experiment: { value: result.experiment },
      result: { value: result },
      stack: { value: `MismatchError: experiment '${result.experiment}' observations mismatched` },
    });
    return fallback;
  }
}

function release(run: Run): Error | undefined {
  return run.caller?.release();
}

/** The shadows will not run: the control runs bare, and strict mode still owes the caller the error. */
function bare(run: Run): unknown {
  run.state.releaseSlot();
  return serveBare(run.served, run.thisArg, run.args, release(run));
}

/**
 * Runs `served` bare for a call that was not admitted; with a strict-mode error owed to the caller,
 * that error is what the caller gets (test mode: the harness's own failure must show).
 *
 * @internal
 * @example
 * ```ts
 * return serveBare(served, thisArg, args, caller?.release());
 * ```
 */
export function serveBare(served: Behaviour, thisArg: unknown, args: unknown[], strictError: Error | undefined): unknown {
  if (strictError === undefined) return Reflect.apply(served.fn, thisArg, args);
  try {
    const returned = Reflect.apply(served.fn, thisArg, args);
    if (returned instanceof Promise) returned.catch(() => undefined);
  } catch {
    // The strict-mode error below takes precedence.
  }
  throw strictError;
}

async function publishWhenSettled(run: Run, control: Served, pending: Pending[], captured: unknown[] | undefined): Promise<void> {
  try {
    const observations = await Promise.all(pending);
    run.state.releaseSlot();
    await publish(run, concludeRun(run, control.observation, observations, captured));
  } catch (fault) {
    internalFault(fault);
  }
}

function fallback(what: string): string {
  return `${what} while the control is synchronous: that part completes in the background, its result is published when it settles, and throwOnMismatch cannot apply to it`;
}
