/**
 * A run frame: what penumbra keeps in the async context while a behaviour runs. Guards and the
 * tripwire read it; every copy of penumbra in the process must agree on its shape, so it is plain
 * data with a version field and grows only by adding fields.
 */
import type { RunFrame } from "../types/frame";
import { shadowFrameStarting } from "./faults";
import { contextBackend, countInFlight, retiredBackends } from "./slot";

export type { RunFrame } from "../types/frame";


/**
 * The frame of the run the current code belongs to, or undefined outside any run.
 *
 * The `penumbraFrame` check, not `instanceof`, is what lets a frame written by another copy of
 * penumbra be recognised, and a foreign value in a shared backend be ignored.
 *
 * @internal
 * @example
 * ```ts
 * if (currentFrame()?.shadow === true) return REFUSED; // an inner experiment in a shadow run runs bare
 * ```
 */
export function currentFrame(): RunFrame | undefined {
  const frame = asFrame(contextBackend().get());
  if (frame !== undefined) return frame;
  // A run started before `configure({ context })` replaced the backend keeps its frame in the old
  // store: a candidate that outlived its timeout must stay a shadow run.
  for (const backend of retiredBackends()) {
    const old = asFrame(backend.get());
    if (old !== undefined) return old;
  }
  return undefined;
}

function asFrame(store: unknown): RunFrame | undefined {
  return typeof store === "object" && store !== null && (store as Partial<RunFrame>).penumbraFrame === 1 ? (store as RunFrame) : undefined;
}

/**
 * Runs `fn` inside `frame`, so `fn` and everything asynchronous it starts see that frame.
 *
 * @internal
 * @example
 * ```ts
 * const returned = runInFrame(frame, () => Reflect.apply(behaviour.fn, thisArg, args));
 * ```
 */
export function runInFrame<T>(frame: RunFrame, fn: () => T): T {
  // Counted here, where every behaviour is entered, so `configure({ context })` can refuse while one runs.
  if (frame.shadow && frame.allowIo !== true) countInFlight(frame);
  // Fault containment is installed by the first shadow run, so a process without one keeps Node's own.
  if (frame.shadow) shadowFrameStarting();
  return contextBackend().run(frame, fn);
}

const ioViews = new WeakMap<RunFrame, RunFrame>();

/**
 * The same frame, seen by a declared read: still a shadow run (guarded effects inside stay blocked),
 * but the tripwire lets the read's own I/O out. A prototype view, so `open`, `effects` and `leaks`
 * stay the frame's own, live.
 *
 * @internal
 * @example
 * ```ts
 * runInFrame(ioAllowed(frame), () => client.retrieve(id));
 * ```
 */
export function ioAllowed(frame: RunFrame): RunFrame {
  let view = ioViews.get(frame);
  if (view === undefined) {
    view = Object.create(frame, { allowIo: { value: true, enumerable: true } }) as RunFrame;
    ioViews.set(frame, view);
  }
  return view;
}
