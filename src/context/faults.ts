/**
 * Candidate fault containment: an uncaught exception or unhandled rejection raised in a shadow run's
 * async context (a timer that throws after the candidate returned, a floating rejected promise) is
 * attributed to that run, and the process goes on.
 *
 * Why `process.emit` and not listeners: Node decides whether an uncaught exception is fatal by
 * whether `process.emit("uncaughtException")` found a listener, and whether an unhandled rejection
 * crashes (`--unhandled-rejections=throw`, the default), warns or sets the exit code by whether
 * `process.emit("unhandledRejection")` found one. A permanent listener would therefore change what
 * happens to the application's own faults (no crash, no warning, exit code 0), and no listener can
 * re-create the crash byte for byte: the source line and caret Node prints come from V8's message
 * for the original throw, which JavaScript cannot reach. So penumbra wraps `process.emit` instead:
 * for those events, raised in a shadow run's context, it answers "handled" itself and calls no
 * listener; for everything else Node's own `emit` runs, and Node's code decides exactly as it would
 * without penumbra. `process.emit` becomes an accessor that hands out the wrapper only inside shadow
 * runs, so outside them not even a stack frame differs. (Verified on Node 20: the
 * `AsyncLocalStorage` store of the throwing callback is current in the `uncaughtException` emit, and
 * the store of the rejected promise — the one current when it was created — in the
 * `unhandledRejection` emit.)
 *
 * The state lives in a process-wide slot (`Symbol.for`), like the context store, so two copies of
 * penumbra install one accessor and either copy's `configure({ containFaults })` governs it.
 */
import { describeThrown } from "../describe";
import type { Operation } from "../errors";
import type { RunFrame } from "../types/frame";
import { contextBackend } from "./slot";

type Emit = (this: unknown, event: string | symbol, ...args: unknown[]) => boolean;

interface FaultSlot {
  /** `configure({ containFaults })`; containment installs lazily only while this is true. */
  enabled: boolean;
  /** True while the accessor is on `process.emit` and acting. */
  active: boolean;
  /** The accessor's getter, to recognise it on `process` (made once per process). */
  getter: (() => Emit) | undefined;
  /** The wrapper handed out in shadow contexts (made once per process). */
  wrapper: Emit | undefined;
  /** The `emit` below penumbra: Node's, or whatever another library assigned to `process.emit` since. */
  below: Emit;
  /** What was below when the accessor went in; what a re-entrant call forwards to (see the wrapper). */
  installedBelow: Emit;
  /** `process.emit`'s own descriptor before the accessor went in (undefined: inherited, the usual case). */
  ownBefore: PropertyDescriptor | undefined;
  /** True while the wrapper is calling `below`, to break a loop through a library that captured the wrapper. */
  forwarding: boolean;
  /** Strict mode reports a rejection twice (as an exception, then as a rejection): the first is held. */
  heldStrict: { frame: RunFrame; error: unknown } | undefined;
  /** Rejections penumbra contained, so Node's later "handled after all" notices stay silent too. */
  containedPromises: WeakSet<object>;
  containedRejectionIds: Set<string>;
}

const SLOT_KEY = Symbol.for("penumbra.faults.v1");
type GlobalWithSlot = typeof globalThis & { [SLOT_KEY]?: FaultSlot };

const CONTAINED_EVENTS: ReadonlySet<string | symbol> = new Set([
  "uncaughtExceptionMonitor",
  "uncaughtException",
  "unhandledRejection",
  "rejectionHandled",
  "warning",
]);

/** Deep parent chains cannot happen (a shadow run refuses nested experiments); the bound is a guard. */
const MAX_FRAME_DEPTH = 64;
/** Remembered ids of contained rejections (warn mode only): bounded so a noisy candidate cannot grow it. */
const MAX_REMEMBERED_IDS = 1024;
const REJECTION_ID = /\(rejection id: (\d+)\)/;

function slot(): FaultSlot {
  const holder = globalThis as GlobalWithSlot;
  let current = holder[SLOT_KEY];
  if (current === undefined) {
    const nodeEmit = (process as unknown as { emit: Emit }).emit;
    current = {
      enabled: true,
      active: false,
      getter: undefined,
      wrapper: undefined,
      below: nodeEmit,
      installedBelow: nodeEmit,
      ownBefore: undefined,
      forwarding: false,
      heldStrict: undefined,
      containedPromises: new WeakSet(),
      containedRejectionIds: new Set(),
    };
    Object.defineProperty(holder, SLOT_KEY, { value: current, enumerable: false, configurable: false });
  }
  return current;
}

/**
 * Called for every shadow frame that starts: installs containment the first time one exists.
 *
 * A process that never runs a candidate keeps Node's `process.emit` untouched.
 *
 * @internal
 * @example
 * ```ts
 * if (frame.shadow) shadowFrameStarting();
 * ```
 */
export function shadowFrameStarting(): void {
  const state = slot();
  if (state.active || !state.enabled) return;
  install(state);
}

/**
 * `configure({ containFaults })`: false removes containment at once (faults of runs still in flight
 * then behave as in bare Node); true lets the next shadow run install it again.
 *
 * @internal
 * @example
 * ```ts
 * if ("containFaults" in options) setContainFaults(containFaults ?? true);
 * ```
 */
export function setContainFaults(enabled: boolean): void {
  const state = slot();
  state.enabled = enabled;
  if (!enabled) uninstall(state);
}

/**
 * Whether containment is in force right now (it is installed lazily, by the first shadow run).
 *
 * @internal
 * @example
 * ```ts
 * assert.equal(faultContainmentActive(), false); // before any candidate ran
 * ```
 */
export function faultContainmentActive(): boolean {
  return slot().active;
}

/**
 * Puts an accessor on `process.emit`. Node's code reads `process.emit` at each emit, in the context
 * of the fault: outside shadow runs the getter answers the plain `emit` below, so the application's
 * listeners run with exactly the stack they have without penumbra; inside a shadow run it answers the
 * wrapper, which contains fault events and forwards everything else. A library that assigns
 * `process.emit` later (signal-exit does) replaces what is below; the accessor stays on top.
 */
function install(state: FaultSlot): void {
  const own = Object.getOwnPropertyDescriptor(process, "emit");
  if (own !== undefined && state.getter !== undefined && own.get === state.getter) {
    state.active = true;
    return;
  }
  // An emit someone made non-configurable cannot be wrapped; the faults stay Node's then.
  if (own !== undefined && own.configurable !== true) return;
  const wrapper = state.wrapper ?? makeWrapper(state);
  const getter = state.getter ?? (() => (state.active && (shadowFrame() !== undefined || state.containedRejectionIds.size > 0) ? wrapper : state.below));
  state.wrapper = wrapper;
  state.getter = getter;
  state.ownBefore = own;
  state.below = (process as unknown as { emit: Emit }).emit;
  state.installedBelow = state.below;
  Object.defineProperty(process, "emit", {
    configurable: true,
    enumerable: own?.enumerable ?? false,
    get: getter,
    set(value: unknown) {
      // Assigning what the getter handed out would make the wrapper call itself.
      if (typeof value === "function" && value !== wrapper) state.below = value as Emit;
    },
  });
  state.active = true;
}

function makeWrapper(state: FaultSlot): Emit {
  return function penumbraContainFaults(this: unknown, event: string | symbol, ...args: unknown[]): boolean {
    if (state.active && CONTAINED_EVENTS.has(event)) {
      const contained = containFault(state, event, args);
      if (contained !== undefined) return contained;
    }
    // Re-entered while forwarding: a library below captured this wrapper as its "original"
    // (it read process.emit inside a shadow run), so going below again would loop.
    const target = state.forwarding ? state.installedBelow : state.below;
    const wasForwarding = state.forwarding;
    state.forwarding = true;
    try {
      // No catch: a listener's throw must reach Node from its own throw site.
      return Reflect.apply(target, this, [event, ...args]) as boolean;
    } finally {
      state.forwarding = wasForwarding;
    }
  };
}

function uninstall(state: FaultSlot): void {
  state.active = false;
  state.heldStrict = undefined;
  state.containedRejectionIds.clear();
  const own = Object.getOwnPropertyDescriptor(process, "emit");
  // Someone redefined process.emit over the accessor: theirs stays, and the wrapper inside it (if any) is inert.
  if (own === undefined || own.get !== state.getter) return;
  const before = state.ownBefore;
  if (before !== undefined) {
    // Another library's accessor goes back as it was; a data property gets what is below now.
    Object.defineProperty(process, "emit", "value" in before ? { ...before, value: state.below } : before);
    return;
  }
  delete (process as { emit?: unknown }).emit;
  // A library assigned process.emit while the accessor was in place: its function becomes the own value.
  if ((process as unknown as { emit: Emit }).emit !== state.below) {
    Object.defineProperty(process, "emit", { value: state.below, writable: true, configurable: true, enumerable: false });
  }
}

/**
 * What the emit of a fault event should return when penumbra handles it, or undefined to let Node
 * and the application's listeners have it. Never throws: a throw here would be a fatal error (exit 7).
 */
function containFault(state: FaultSlot, event: string | symbol, args: unknown[]): boolean | undefined {
  try {
    if (event === "rejectionHandled") {
      const promise = args[0];
      return typeof promise === "object" && promise !== null && state.containedPromises.has(promise) ? false : undefined;
    }
    if (event === "warning") return containedWarning(state, args[0]) ? false : undefined;
    const frame = shadowFrame();
    if (frame === undefined) return undefined;
    switch (event) {
      case "uncaughtExceptionMonitor":
        // The process is not about to die: the application's monitors are not told.
        return false;
      case "uncaughtException":
        if (args[1] === "unhandledRejection") {
          // --unhandled-rejections=strict: Node emits the "unhandledRejection" for the same promise
          // next, with the original reason (this one may be Node's wrapper for a non-Error reason).
          holdStrict(state, frame, args[0]);
          return true;
        }
        attribute(frame, args[0]);
        return true;
      case "unhandledRejection": {
        state.heldStrict = undefined;
        const promise = args[1];
        if (typeof promise === "object" && promise !== null) state.containedPromises.add(promise);
        attribute(frame, args[0]);
        return true;
      }
      default:
        return undefined;
    }
  } catch (fault) {
    warnInternal(fault);
    return undefined;
  }
}

/**
 * The innermost shadow frame the current code belongs to, if any. (The store is read here rather
 * than through frame.ts's `currentFrame`, which would make the two modules import each other.)
 */
function shadowFrame(): RunFrame | undefined {
  let frame: RunFrame | undefined;
  try {
    const store = contextBackend().get();
    if (typeof store !== "object" || store === null || (store as Partial<RunFrame>).penumbraFrame !== 1) return undefined;
    frame = store as RunFrame;
  } catch {
    // A backend that throws cannot say whether this is a shadow run: treat the fault as the application's.
    return undefined;
  }
  for (let depth = 0; frame !== undefined && depth < MAX_FRAME_DEPTH; depth++) {
    if (frame.shadow === true) return frame;
    frame = frame.parent;
  }
  return undefined;
}

function holdStrict(state: FaultSlot, frame: RunFrame, error: unknown): void {
  const held = { frame, error };
  state.heldStrict = held;
  // Should the rejection's own emit never come, the exception is still attributed, on the next turn.
  setImmediate(() => {
    if (state.heldStrict !== held) return;
    state.heldStrict = undefined;
    attribute(frame, error);
  }).unref();
}

/**
 * Node's own warnings about a rejection penumbra contained (`--unhandled-rejections=warn`): the first
 * is emitted in the promise's context, the "handled after all" one is recognised by its rejection id.
 */
function containedWarning(state: FaultSlot, warning: unknown): boolean {
  if (!(warning instanceof Error)) return false;
  const name = warning.name;
  if (name === "UnhandledPromiseRejectionWarning") {
    if (shadowFrame() === undefined) return false;
    const id = REJECTION_ID.exec(String(warning.message))?.[1];
    if (id !== undefined) {
      if (state.containedRejectionIds.size >= MAX_REMEMBERED_IDS) state.containedRejectionIds.clear();
      state.containedRejectionIds.add(id);
    }
    return true;
  }
  if (name === "PromiseRejectionHandledWarning") {
    const id = REJECTION_ID.exec(String(warning.message))?.[1];
    return id !== undefined && state.containedRejectionIds.delete(id);
  }
  return false;
}

/** Hands the fault to the run: the candidate's own `onFault`, else the run's reporter, else a warning. */
function attribute(frame: RunFrame, error: unknown): void {
  try {
    // Out of the shadow run first: `onError` is the application's code (a log shipper, an alert), and
    // inside the run the tripwire would block its I/O and its own faults would be contained again.
    contextBackend().run(undefined, () => report(frame, error));
  } catch (fault) {
    warnInternal(fault);
  }
}

function report(frame: RunFrame, error: unknown): void {
  if (typeof frame.onFault === "function") {
    frame.onFault(error);
    return;
  }
  if (typeof frame.report === "function") {
    frame.report("candidateFault" satisfies Operation, error, faultDetail(frame, error));
    return;
  }
  warn(`experiment '${safeText(frame.info.experiment)}': candidateFault failed: ${faultDetail(frame, error)}`);
}

/**
 * One line for a contained fault: which behaviour raised what, outside its own call.
 *
 * @internal
 * @example
 * ```ts
 * report("candidateFault", error, faultDetail(frame, error));
 * // "candidate 'fast' raised an uncaught fault in its async context: Error: boom"
 * ```
 */
export function faultDetail(frame: RunFrame, error: unknown): string {
  const who = frame.info.candidate !== undefined ? `candidate '${safeText(frame.info.candidate)}'` : `the shadow ${frame.info.role}`;
  return `${who} raised an uncaught fault in its async context: ${describeThrown(error)}`;
}

function safeText(text: unknown): string {
  return typeof text === "string" ? truncate(text) : "(unnamed)";
}

function truncate(text: string): string {
  return text.length > 500 ? `${text.slice(0, 500)}…` : text;
}

function warn(message: string): void {
  try {
    process.emitWarning(message, { type: "PenumbraWarning", code: "PENUMBRA_EXPERIMENT_ERROR" });
  } catch {
    // Containment must never turn into a fault of its own.
  }
}

function warnInternal(fault: unknown): void {
  try {
    const detail = fault instanceof Error ? String(fault.stack ?? fault.message) : "a non-Error value";
    process.emitWarning(`penumbra internal fault while containing a candidate fault (please report it): ${detail}`, {
      type: "PenumbraWarning",
      code: "PENUMBRA_INTERNAL",
    });
  } catch {
    // Nothing else can be done without risking the process.
  }
}
