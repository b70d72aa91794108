/**
 * The process-wide slot that holds the context backend. It lives on `globalThis` under a
 * `Symbol.for` key, so every loaded copy of penumbra (CommonJS, the ESM face, a second install in
 * another node_modules) reads and writes run frames in the same store. Without it, a guard from one
 * copy would not see a shadow run started by another and would let the side effect through.
 */
import type { ContextBackend } from "../types/context";
import { asyncLocalStorageContext } from "./als-backend";

const SLOT_KEY = Symbol.for("penumbra.context.v1");

interface Slot {
  backend: ContextBackend;
  /**
   * The default backend, made once per process (absent in a slot an older copy made): going back to
   * the default must not make a new AsyncLocalStorage each time, since every one ever entered stays
   * enabled and Node propagates each into every async resource created afterwards.
   */
  defaultBackend?: ContextBackend;
  /** Shadow frames entered and not yet closed, in every copy of penumbra (absent in a slot an older copy made). */
  inFlight?: number;
  /** Frames already counted, so a frame entered twice (or by two copies) counts once. */
  counted?: WeakSet<object>;
  /**
   * Backends replaced while a timed-out candidate may still be running in them, newest first: its
   * frame lives in the old store, and a guard must still find it there.
   */
  retired?: ContextBackend[];
}

type GlobalWithSlot = typeof globalThis & { [SLOT_KEY]?: Slot };

function slot(): Slot {
  const holder = globalThis as GlobalWithSlot;
  let current = holder[SLOT_KEY];
  if (current === undefined) {
    const backend = asyncLocalStorageContext();
    current = { backend, defaultBackend: backend };
    Object.defineProperty(holder, SLOT_KEY, { value: current, enumerable: false, configurable: false });
  }
  return current;
}

/**
 * The backend every copy of penumbra in this process uses.
 *
 * @internal
 * @example
 * ```ts
 * const store = contextBackend().get();
 * ```
 */
export function contextBackend(): ContextBackend {
  return slot().backend;
}

/**
 * The process's default backend (`AsyncLocalStorage`), the same object every time it is asked for.
 *
 * @internal
 * @example
 * ```ts
 * setContextBackend(context ?? defaultContextBackend());
 * ```
 */
export function defaultContextBackend(): ContextBackend {
  const current = slot();
  return (current.defaultBackend ??= asyncLocalStorageContext());
}

/**
 * Replaces the backend for every copy of penumbra in this process.
 *
 * @internal
 * @example
 * ```ts
 * if ("context" in options) setContextBackend(context ?? defaultContextBackend());
 * ```
 */
export function setContextBackend(backend: ContextBackend): void {
  const current = slot();
  if (current.backend === backend) return;
  const previous = current.backend;
  current.backend = backend;
  // A few are kept: each costs one extra lookup per guard check outside runs, and a candidate that
  // outlives several swaps of the backend is a test harness, not an application.
  current.retired = [previous, ...(current.retired ?? []).filter((b) => b !== backend)].slice(0, RETIRED_LIMIT);
}

const RETIRED_LIMIT = 4;

/**
 * The backends replaced earlier, newest first (usually none).
 *
 * @internal
 * @example
 * ```ts
 * for (const backend of retiredBackends()) if (backend.get() !== undefined) return backend.get();
 * ```
 */
export function retiredBackends(): readonly ContextBackend[] {
  return slot().retired ?? NONE;
}

const NONE: readonly ContextBackend[] = Object.freeze([]);

/**
 * How many shadow frames are open right now, in every copy of penumbra in the process.
 *
 * @internal
 * @example
 * ```ts
 * if (shadowRunsInFlight() > 0) throw new PenumbraError("…", "PENUMBRA_RUNS_IN_FLIGHT");
 * ```
 */
export function shadowRunsInFlight(): number {
  return slot().inFlight ?? 0;
}

/**
 * Counts a shadow frame as in flight until its `open` flag goes false (the engine closes a frame
 * when the behaviour settles or times out). The flag becomes an accessor on the frame, so the engine
 * needs no hook of its own and a frame from another copy of penumbra is counted the same way.
 *
 * @internal
 * @example
 * ```ts
 * countInFlight(frame); // before running a candidate in it
 * ```
 */
export function countInFlight(frame: { open: boolean }): void {
  // The engine's own frames count themselves: an accessor defined per frame cost every shadow run a
  // WeakSet entry, two closures and an object in dictionary mode (14% of an `isolate: false` run).
  const own = (frame as { enterInFlight?: unknown }).enterInFlight;
  if (typeof own === "function") {
    (own as () => void).call(frame);
    return;
  }
  const current = slot();
  const counted = (current.counted ??= new WeakSet());
  if (!frame.open || counted.has(frame)) return;
  counted.add(frame);
  current.inFlight = (current.inFlight ?? 0) + 1;
  let open = true;
  Object.defineProperty(frame, "open", {
    enumerable: true,
    configurable: true,
    get: () => open,
    set: (value: boolean) => {
      if (open && !value) current.inFlight = Math.max(0, (current.inFlight ?? 1) - 1);
      open = value;
    },
  });
}

/**
 * Moves the in-flight count by one, for a frame that counts itself (it calls this once when entered
 * while open, and once when it closes).
 *
 * @internal
 * @example
 * ```ts
 * enterInFlight(): void { if (this.isOpen && !this.counted) { this.counted = true; changeInFlight(1); } }
 * ```
 */
export function changeInFlight(delta: 1 | -1): void {
  const current = slot();
  current.inFlight = Math.max(0, (current.inFlight ?? 0) + delta);
}
