/**
 * `sideEffect`: one function made safe for shadow runs (API.md §3).
 */
import { callEffect, checkOnShadow, generatorKind, type EffectPolicy } from "./effect-call";
import { isAsyncFunction } from "../util/thenable";

/* eslint-disable @typescript-eslint/no-explicit-any -- the contract's signature: any function shape */
/**
 * Wraps a side-effecting function: outside experiments it is the function itself; in a control run
 * the call goes through and is recorded on the control's observation; in a shadow run the function
 * never runs, the call is recorded as `blocked`, and it is answered by `sink`, `undefined` or a
 * `ShadowBlockedError`.
 *
 * - `onShadow` defaults to `"sink"` when a `sink` is given, else `"noop"`.
 * - When `fn` is declared `async`, every blocked answer is a promise: `"noop"` resolves to
 *   `undefined`, a sink's value (or throw) becomes a resolved (or rejected) promise and `"throw"`
 *   rejects, so `await` and `.then` keep working. A plain function that returns a promise gets exactly
 *   what its sink returns (give it a sink that returns a promise). A generator or async generator
 *   without a sink gets an iterator of its kind: empty, or (`"throw"`) failing at its first step.
 * - A sink that throws throws at the candidate's call: it is the candidate's call.
 * - Arguments are recorded as snapshots taken at the call. A control call is recorded on the current
 *   run's observation only (not on an enclosing run's), and only until that observation is taken.
 * - `this` is forwarded to `fn` and to `sink`; the wrapper keeps `fn`'s `name` and `length`.
 *
 * @throws TypeError at construction when `name`, `fn`, `sink` or `onShadow` is invalid.
 *
 * @example
 * ```ts
 * const sendReceipt = sideEffect("sendReceipt", async (to: string, body: string) => mailer.send(to, body), {
 *   sink: async (to) => ({ messageId: `shadow-${to}` }),
 * });
 * ```
 */
export function sideEffect<F extends (...a: any[]) => any>(
  name: string,
  fn: F,
  options?: { sink?: (...args: Parameters<F>) => ReturnType<F> | Awaited<ReturnType<F>>; onShadow?: "sink" | "noop" | "throw" },
): F {
  if (typeof name !== "string" || name === "") {
    throw new TypeError(`penumbra: sideEffect: name must be a non-empty string, got ${typeof name === "string" ? '""' : typeof name}`);
  }
  if (typeof fn !== "function") throw new TypeError(`penumbra: sideEffect '${name}': fn must be a function, got ${typeof fn}`);
  if (options !== undefined && (typeof options !== "object" || options === null)) {
    throw new TypeError(`penumbra: sideEffect '${name}': options must be an object`);
  }
  const sink = options?.sink;
  if (sink !== undefined && typeof sink !== "function") {
    throw new TypeError(`penumbra: sideEffect '${name}': sink must be a function, got ${typeof sink}`);
  }
  const onShadow = checkOnShadow(options?.onShadow, `sideEffect '${name}': onShadow`);
  if (onShadow === "sink" && sink === undefined) {
    throw new TypeError(`penumbra: sideEffect '${name}': onShadow is "sink" but no sink was given`);
  }
  const policy: EffectPolicy = {
    name,
    answer: onShadow ?? (sink === undefined ? "noop" : "sink"),
    sink: sink as ((...args: unknown[]) => unknown) | undefined,
    async: isAsyncFunction(fn),
    generator: generatorKind(fn),
  };
  const real = fn as (...args: unknown[]) => unknown;
  const wrapped = function (this: unknown, ...args: unknown[]): unknown {
    return callEffect(policy, real, this, args, this);
  };
  // The wrapper reads as the function it stands for in stack traces and logs, and keeps its arity:
  // frameworks read `length` (Express takes a four-parameter middleware for an error handler).
  Object.defineProperty(wrapped, "name", { value: fn.name, configurable: true });
  Object.defineProperty(wrapped, "length", { value: fn.length, configurable: true });
  return wrapped as unknown as F;
}
/* eslint-enable @typescript-eslint/no-explicit-any */
