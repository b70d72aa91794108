/**
 * The one decision every guarded call makes, shared by `sideEffect` and `guard`: pass through (no
 * run, or a control run, recording the call) or block (a shadow run) and answer in the call's place.
 * The decision is taken synchronously at the call, from the frame the caller is in, never later in a
 * callback: a shared batcher or pool may run that callback in another run's context.
 */
import { ShadowBlockedError } from "../errors";
import { currentFrame, type RunFrame } from "../context/frame";
import { reportError } from "../report";
import { snapshotArgs } from "../isolation/snapshot";
import type { Effect } from "../types/results";

/**
 * How a blocked call is answered in a shadow run.
 *
 * @example
 * ```ts
 * const answer: ShadowAnswer = "throw"; // blocked calls throw (or reject with) a ShadowBlockedError
 * ```
 */
export type ShadowAnswer = "sink" | "noop" | "throw";

/**
 * What one guarded function needs at each call, resolved once at construction.
 *
 * @internal
 * @example
 * ```ts
 * const policy: EffectPolicy = { name: "mailer.sendMail", answer: "noop", sink: undefined, async: true };
 * ```
 */
export interface EffectPolicy {
  /** The effect's recorded name. */
  readonly name: string;
  /** The answer in a shadow run; `"sink"` only when `sink` is set. */
  readonly answer: ShadowAnswer;
  readonly sink: ((...args: unknown[]) => unknown) | undefined;
  /** The real function is declared `async`: blocked answers are then promises too. */
  readonly async: boolean;
  /**
   * The real function is a generator (`"sync"`) or an async generator (`"async"`): a blocked call
   * without a sink answers with an iterator of that kind, empty (`"noop"`) or failing at its first
   * step (`"throw"`), as a generator's own error would.
   */
  readonly generator?: "sync" | "async" | undefined;
  /**
   * The method is a thenable's `then` (a query builder that runs when awaited): a blocked call
   * settles through the callbacks it was given, with the answer (or the error), so `await` of a
   * blocked builder ends instead of waiting for ever.
   */
  readonly then?: boolean | undefined;
}

const ON_SHADOW: readonly string[] = ["sink", "noop", "throw"];

/**
 * Checks an `onShadow` option, throwing a `TypeError` that names it.
 *
 * @internal
 * @example
 * ```ts
 * checkOnShadow(options.onShadow, "guard 'mailer': onShadow");
 * ```
 */
export function checkOnShadow(value: unknown, label: string): ShadowAnswer | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || !ON_SHADOW.includes(value)) {
    throw new TypeError(`penumbra: ${label} must be "sink", "noop" or "throw", got ${JSON.stringify(value) ?? String(value)}`);
  }
  return value as ShadowAnswer;
}

/**
 * The kind of generator `fn` is declared as, if any (in any realm).
 *
 * @internal
 * @example
 * ```ts
 * generatorKind(async function* () {}); // "async"
 * ```
 */
export function generatorKind(fn: unknown): "sync" | "async" | undefined {
  let tag: string;
  try {
    tag = Object.prototype.toString.call(fn);
  } catch {
    return undefined;
  }
  return tag === "[object GeneratorFunction]" ? "sync" : tag === "[object AsyncGeneratorFunction]" ? "async" : undefined;
}

/**
 * Makes one guarded call: outside runs and in control runs `fn` really runs (a control run records
 * it while its frame is open); in a shadow run `fn` never runs and the policy's answer is returned.
 *
 * @internal
 * @example
 * ```ts
 * return callEffect(policy, fn, this, args, this);
 * ```
 */
export function callEffect(
  policy: EffectPolicy,
  fn: (...args: unknown[]) => unknown,
  thisArg: unknown,
  args: unknown[],
  sinkThis: unknown,
): unknown {
  const frame = currentFrame();
  if (frame === undefined) return Reflect.apply(fn, thisArg, args);
  if (!inShadow(frame)) {
    // Recorded before the call, so the record holds the arguments as the caller passed them even if
    // the callee mutates them; a call that then throws was still attempted, and stays recorded.
    // The role is the behaviour's whose observation holds the record: a promoted candidate's real
    // effects are the candidate's (performed), the control's run in the shadow intends its own.
    if (frame.open) record(frame, policy.name, args, frame.info.role, false);
    return Reflect.apply(fn, thisArg, args);
  }
  // A closed frame (the candidate timed out) is still a shadow run: blocked, just not on the observation.
  if (frame.open) record(frame, policy.name, args, frame.info.role, true);
  return answer(policy, sinkThis, args);
}

/** A frame nested in a shadow run is a shadow run too, whatever its own flag says. */
function inShadow(frame: RunFrame): boolean {
  for (let f: RunFrame | undefined = frame; f !== undefined; f = f.parent) {
    if (f.shadow) return true;
  }
  return false;
}

function answer(policy: EffectPolicy, thisArg: unknown, args: unknown[]): unknown {
  if (policy.then === true) {
    let settled: Promise<unknown>;
    try {
      settled = Promise.resolve(answer({ ...policy, then: false, async: false }, thisArg, args));
    } catch (error) {
      settled = Promise.reject(error);
    }
    const [onFulfilled, onRejected] = args;
    return settled.then(
      typeof onFulfilled === "function" ? (onFulfilled as (value: unknown) => unknown) : undefined,
      typeof onRejected === "function" ? (onRejected as (reason: unknown) => unknown) : undefined,
    );
  }
  if (policy.generator !== undefined && (policy.answer !== "sink" || policy.sink === undefined)) {
    // A generator runs nothing until its first step, so that is where it answers (`for … of` and
    // `for await` keep working): empty, or failing there with the ShadowBlockedError.
    const error = policy.answer === "throw" ? new ShadowBlockedError(policy.name) : undefined;
    if (policy.generator === "async") {
      return (async function* blocked(): AsyncGenerator<never> {
        if (error !== undefined) throw error;
      })();
    }
    return (function* blocked(): Generator<never> {
      if (error !== undefined) throw error;
    })();
  }
  if (policy.answer === "throw") {
    const error = new ShadowBlockedError(policy.name);
    if (policy.async) return Promise.reject(error);
    throw error;
  }
  if (policy.answer === "noop" || policy.sink === undefined) return policy.async ? Promise.resolve(undefined) : undefined;
  // A sink that throws throws at the candidate's call, as the real function would have: it is the
  // candidate's call, and the candidate's observation is where the error belongs.
  let value: unknown;
  try {
    value = Reflect.apply(policy.sink, thisArg, args);
  } catch (error) {
    if (policy.async) return Promise.reject(error);
    throw error;
  }
  return policy.async ? Promise.resolve(value) : value;
}

function record(frame: RunFrame, name: string, args: unknown[], role: Effect["role"], blocked: boolean): void {
  let copy: unknown[];
  try {
    copy = snapshotArgs(args).value;
  } catch (error) {
    // A throwing Proxy trap in the arguments must not fail the call (least of all the control's): the
    // record keeps the arguments by reference and the fault goes to the run's own reporter.
    copy = args.slice();
    const detail = `snapshot of the arguments of '${name}' failed`;
    if (frame.report !== undefined) frame.report("guard", error, detail);
    else reportError(frame.info.experiment, undefined, "guard", error, detail);
  }
  const effect: Effect = Object.freeze({ name, args: copy, role, blocked });
  frame.effects.push(effect);
  if (blocked) return;
  // An experiment run inside another's control: its control's effects are the outer control's too,
  // or the outer comparison would see effects its control never performed.
  for (let outer = frame.parent; outer !== undefined && !outer.shadow; outer = outer.parent) {
    if (outer.open) outer.effects.push(effect);
  }
}
