/**
 * Observing one behaviour, the control or a candidate, sync or async: it runs inside its run frame,
 * and what it did becomes one `RawObservation` (value or error, wall time, CPU time where it can be
 * attributed, effects, leaks, whether a candidate ran out of its budget). The control's own value
 * or promise goes back to the caller untouched.
 */
import { performance } from "node:perf_hooks";
import { CandidateTimeoutError, type Operation } from "../errors";
import { faultDetail } from "../context/faults";
import { runInFrame, type RunFrame } from "../context/frame";
import { changeInFlight } from "../context/slot";
import { snapshot } from "../isolation/snapshot";
import type { Report } from "../report";
import type { RunInfo } from "../types/context";
import type { Effect, Leak, RawObservation, Role } from "../types/results";
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
 * What a frame needs to know about the run it belongs to.
 *
 * @internal
 * @example
 * ```ts
 * const scope: RunScope = { experiment: "x", id: "p1-1", context: {}, parent: undefined, report, lateLeak: () => undefined };
 * ```
 */
export interface RunScope {
  readonly experiment: string;
  readonly id: string;
  readonly context: Record<string, unknown>;
  /** The frame the call was made in (a control run of an outer experiment), if any. */
  readonly parent: RunFrame | undefined;
  /** The run's reporter: guards, sinks and the tripwire report into the run through the frame. */
  readonly report: Report;
  /** A leak that arrived after its candidate's observation was taken (the leak guardrail still counts it). */
  lateLeak(leak: Leak): void;
}

const NEVER_ABORTS = new AbortController().signal;

/** RunInfo of a frame; its `signal` is made on first use, since most candidates never look at it. */
class Info implements RunInfo {
  private controller: AbortController | undefined = undefined;
  private reason: unknown = undefined;
  private aborted = false;
  constructor(
    readonly experiment: string,
    readonly runId: string,
    readonly role: Role,
    readonly context: Record<string, unknown>,
    readonly candidate: string | undefined,
    private readonly abortable: boolean,
  ) {}

  get signal(): AbortSignal {
    if (!this.abortable) return NEVER_ABORTS;
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  abort(reason: unknown): void {
    this.aborted = true;
    this.reason = reason;
    this.controller?.abort(reason);
  }
}

/** A run frame: plain fields every copy of penumbra reads, plus the run's reporter and fault hook. */
class Frame implements RunFrame {
  readonly penumbraFrame = 1 as const;
  readonly effects: Effect[] = [];
  readonly leaks: Leak[] = [];
  private isOpen = true;
  /** Counted as a shadow run in flight (see enterInFlight): uncounted when it closes. */
  private counted = false;
  /** While a candidate's asynchronous observation is pending: settles it with a fault. */
  pendingFault: ((error: unknown) => void) | undefined = undefined;
  constructor(
    protected readonly scope: RunScope,
    readonly info: Info,
    readonly shadow: boolean,
  ) {}

  /** Open while its behaviour's observation is: later effects and leaks are not the observation's. */
  get open(): boolean {
    return this.isOpen;
  }

  set open(value: boolean) {
    if (this.isOpen && !value && this.counted) changeInFlight(-1);
    this.isOpen = value;
  }

  /** Called by countInFlight when a shadow frame is entered: counted once, while open. */
  enterInFlight(): void {
    if (!this.isOpen || this.counted) return;
    this.counted = true;
    changeInFlight(1);
  }

  get parent(): RunFrame | undefined {
    return this.scope.parent;
  }

  onLateLeak(leak: Leak): void {
    this.scope.lateLeak(leak);
  }

  report(operation: Operation, cause: unknown, detail?: string): void {
    this.scope.report(operation, cause, detail);
  }

}

/** A shadow frame (a candidate's): its faults are contained and attributed to it. */
class ShadowFrame extends Frame {
  onFault(error: unknown): void {
    this.pendingFault?.(error);
    this.report("candidateFault", error, faultDetail(this, error));
  }
}

/**
 * The frame the served behaviour runs in: not a shadow, recording effects for comparison.
 *
 * @internal
 * @example
 * ```ts
 * const frame = servingFrame(run, run.served.name === "control" ? undefined : run.served.name);
 * ```
 */
export function servingFrame(scope: RunScope, candidate: string | undefined): RunFrame {
  const role: Role = candidate === undefined ? "control" : "candidate";
  return new Frame(scope, new Info(scope.experiment, scope.id, role, scope.context, candidate, false), false);
}

/**
 * A shadow frame for a candidate (or, promoted or calibrating, the control run in the shadow).
 *
 * @internal
 * @example
 * ```ts
 * const frame = shadowFrame(run, "candidate", "fast");
 * ```
 */
export function shadowFrame(scope: RunScope, role: Role, candidate: string | undefined): RunFrame {
  return new ShadowFrame(scope, new Info(scope.experiment, scope.id, role, scope.context, candidate, true), true);
}

/**
 * How the served behaviour settled: its observation (value snapshotted) and what the caller gets.
 *
 * @internal
 * @example
 * ```ts
 * const served: Served = observeServed(run, frame, false);
 * if (served.threw) throw served.raw;
 * ```
 */
export interface Served {
  readonly observation: RawObservation;
  readonly threw: boolean;
  /** The behaviour's own value, or the error it threw: exactly what the caller gets. */
  readonly raw: unknown;
}

/**
 * The served behaviour's call: settled (sync), a native promise with its observation to come, or a
 * thenable that is not a native promise (never observed: its `then` is never called).
 *
 * @internal
 * @example
 * ```ts
 * const call = callServed(run.served, run, frame, false);
 * if (call.kind === "thenable") return call.returned;
 * ```
 */
export type ServedCall =
  | ({ readonly kind: "sync" } & Served)
  | { readonly kind: "promise"; readonly returned: Promise<unknown>; readonly settled: Promise<Served> }
  | { readonly kind: "thenable"; readonly returned: unknown };

/**
 * Calls the served behaviour with the caller's own arguments and observes it without touching what
 * the caller gets. An async behaviour's very promise goes back; penumbra's reaction to it is
 * registered before the caller's, so the value is snapshotted before the caller can mutate it.
 *
 * @internal
 * @example
 * ```ts
 * const call = callServed(control, run, servingFrame(run, undefined), isolate !== false, true);
 * ```
 */
export function callServed(
  behaviour: Behaviour,
  thisArg: unknown,
  args: readonly unknown[],
  frame: RunFrame,
  copyValue: boolean,
  measureCpu: boolean,
  report: Report,
): ServedCall {
  const clock = new Clock(measureCpu);
  let returned: unknown;
  try {
    returned = runInFrame(frame, () => clock.start(behaviour.fn, thisArg, args));
  } catch (error) {
    const observation = close(frame, behaviour.name, true, true, undefined, error, false, clock);
    return { kind: "sync", threw: true, raw: error, observation };
  }
  if (!isThenable(returned)) {
    const copy = valueCopy(returned, copyValue, report);
    const observation = close(frame, behaviour.name, copy.isolated, false, copy.value, undefined, false, clock);
    return { kind: "sync", threw: false, raw: returned, observation };
  }
  clock.cpuBefore = undefined;
  if (!(returned instanceof Promise)) {
    // Calling a query builder's then() again could run it twice: it goes back untouched, unobserved.
    (frame as Frame).open = false;
    return { kind: "thenable", returned };
  }
  const settled = new Promise<Served>((resolve) => {
    returned.then(
      (value: unknown) => {
        const copy = valueCopy(value, copyValue, report);
        resolve({ observation: close(frame, behaviour.name, copy.isolated, false, copy.value, undefined, false, clock), threw: false, raw: value });
      },
      (error: unknown) => {
        resolve({ observation: close(frame, behaviour.name, true, true, undefined, error, false, clock), threw: true, raw: error });
      },
    );
  });
  return { kind: "promise", returned, settled };
}

/**
 * Runs a behaviour in a shadow frame on its own arguments: its observation at once when it returns
 * no thenable, else a promise of it that resolves at the latest `timeoutMs` later (timed out, the
 * frame's signal aborted: the slot is freed even if the code goes on running).
 *
 * @internal
 * @example
 * ```ts
 * const seen = observeShadow(candidate, shadowFrame(run, "candidate", candidate.name), run.thisArg, copy, true, 5000, false);
 * ```
 */
export function observeShadow(
  behaviour: Behaviour,
  frame: RunFrame,
  thisArg: unknown,
  args: readonly unknown[],
  isolated: boolean,
  timeoutMs: number,
  measureCpu: boolean,
): RawObservation | Promise<RawObservation> {
  const clock = new Clock(measureCpu);
  let returned: unknown;
  try {
    returned = runInFrame(frame, () => clock.start(behaviour.fn, thisArg, args));
  } catch (error) {
    return close(frame, behaviour.name, isolated, true, undefined, error, false, clock);
  }
  if (!isThenable(returned)) return close(frame, behaviour.name, isolated, false, returned, undefined, false, clock);
  clock.cpuBefore = undefined;
  const pending = returned;
  const own = frame as Frame;
  return new Promise<RawObservation>((resolve) => {
    let done = false;
    const finish = (threw: boolean, value: unknown, error: unknown, timedOut: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      own.pendingFault = undefined;
      resolve(close(frame, behaviour.name, isolated, threw, value, error, timedOut, clock));
    };
    const timer = setTimeout(() => {
      const error = new CandidateTimeoutError(frame.info.experiment, behaviour.name, timeoutMs);
      finish(false, undefined, error, true);
      own.info.abort(error);
    }, timeoutMs);
    // A hung candidate must not keep a process alive on its own; settled() does that.
    timer.unref();
    own.pendingFault = (error) => finish(true, undefined, error, false);
    try {
      // A candidate's thenable is the candidate's own business: penumbra may call its then.
      pending.then(
        (value) => finish(false, value, undefined, false),
        (error: unknown) => finish(true, undefined, error, false),
      );
    } catch (error) {
      finish(true, undefined, error, false);
    }
  });
}

/**
 * Starts a behaviour's clocks at the moment it is invoked, inside its frame: entering the frame (the
 * context backend, fault containment, in-flight counting) and any queueing before it are the
 * engine's time, not the behaviour's.
 */
class Clock {
  started = 0;
  /** Set for a synchronous behaviour only: an asynchronous one's later turns share the CPU with everything else. */
  cpuBefore: NodeJS.CpuUsage | undefined = undefined;
  constructor(private readonly measureCpu: boolean) {}

  start(fn: Behaviour["fn"], thisArg: unknown, args: readonly unknown[]): unknown {
    if (this.measureCpu) this.cpuBefore = process.cpuUsage();
    this.started = performance.now();
    return Reflect.apply(fn, thisArg, args);
  }
}

/** Closes the frame first (later effects and leaks are not this observation's), then records. */
function close(
  frame: RunFrame,
  name: string,
  isolated: boolean,
  threw: boolean,
  value: unknown,
  error: unknown,
  timedOut: boolean,
  clock: Clock,
): RawObservation {
  // Never invoked (entering its frame failed): it took no time of its own.
  const durationMs = clock.started === 0 ? 0 : performance.now() - clock.started;
  const cpuMs = clock.cpuBefore === undefined ? undefined : cpuSince(clock.cpuBefore);
  (frame as Frame).open = false;
  const observation: RawObservation = {
    name,
    role: frame.info.role,
    threw,
    durationMs,
    timedOut,
    isolated,
    effects: frame.effects,
    leaks: frame.leaks,
  };
  if (threw || timedOut) observation.error = error;
  else observation.value = value;
  if (cpuMs !== undefined) observation.cpuMs = cpuMs;
  return observation;
}

/** Copies a served value by the isolation rule, so the caller mutating it cannot fake a mismatch. */
function valueCopy(value: unknown, copy: boolean, report: Report): { value: unknown; isolated: boolean } {
  if (!copy) return { value, isolated: false };
  // Primitives need no walk (the equality of the common case: a number, a string).
  if (value === null || (typeof value !== "object" && typeof value !== "function")) return { value, isolated: true };
  try {
    return snapshot(value);
  } catch (error) {
    report("isolate", error);
    return { value, isolated: false };
  }
}

function cpuSince(before: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000;
}

/**
 * Observes one behaviour in its own shadow frame outside any experiment's run loop (replay's entry).
 *
 * @internal
 * @example
 * ```ts
 * const seen = await observeInShadow({ experiment: "x", id: runId, context, parent: currentFrame(), report,
 *   lateLeak: () => undefined }, control, "control", copy, true, 5000);
 * ```
 */
export function observeInShadow(
  scope: RunScope,
  behaviour: Behaviour,
  role: Role,
  args: readonly unknown[],
  isolated: boolean,
  timeoutMs: number,
): RawObservation | Promise<RawObservation> {
  const frame = shadowFrame(scope, role, role === "candidate" ? behaviour.name : undefined);
  return observeShadow(behaviour, frame, undefined, args, isolated, timeoutMs, false);
}
