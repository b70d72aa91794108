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
 * True for a function declared `async` (in any realm), which penumbra can know returns a promise
 * without calling it; a plain function returning a promise cannot be told apart from one that
 * returns a value.
 *
 * @internal
 * @example
 * ```ts
 * const controlIsAsync = core.controlIsAsync ?? (isAsyncFunction(core.control.fn) ? true : undefined);
 * isAsyncFunction(() => Promise.resolve(1)); // false
 * ```
 */
export function isAsyncFunction(fn: unknown): boolean {
  if (typeof fn !== "function") return false;
  try {
    return Object.prototype.toString.call(fn) === "[object AsyncFunction]";
  } catch {
    // A Proxy function whose `get` trap throws (toString reads its Symbol.toStringTag): not declared async.
    return false;
  }
}
