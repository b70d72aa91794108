/**
 * True for anything `await` would treat as a promise: an object or function with a callable `then`.
 *
 * @internal
 * @example
 * ```ts
 * if (isThenable(returned)) waits.push(follow(returned, report));
 * ```
 */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  if (value === null || (typeof value !== "object" && typeof value !== "function")) return false;
  try {
    return typeof (value as { then?: unknown }).then === "function";
  } catch {
    // A getter on `then` that throws: not something penumbra can wait on.
    return false;
  }
}

/**
 * True for a function declared `async`, which penumbra can know returns a promise without calling it.
 *
 * @internal
 * @example
 * ```ts
 * const controlIsAsync = core.controlIsAsync ?? (isAsyncFunction(core.control.fn) ? true : undefined);
 * ```
 */
export function isAsyncFunction(fn: unknown): boolean {
  return typeof fn === "function" && Object.prototype.toString.call(fn) === "[object AsyncFunction]";
}
