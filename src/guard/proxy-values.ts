/**
 * What a guarding proxy hands out as it is instead of wrapping: shared by `guard()` and the ready
 * adapters, so both treat a client's built-in values and classes the same way.
 */

/**
 * Values whose methods need their internal slots or are awaited (arrays, promises, Dates, Maps …).
 *
 * @internal
 * @example
 * ```ts
 * if (isBuiltIn(value)) return value; // a Date from a client is not wrapped
 * ```
 */
export function isBuiltIn(value: object): boolean {
  return (
    Array.isArray(value) ||
    typeof (value as { then?: unknown }).then === "function" ||
    value instanceof Date ||
    value instanceof Map ||
    value instanceof Set ||
    value instanceof WeakMap ||
    value instanceof WeakSet ||
    value instanceof RegExp ||
    value instanceof Error ||
    value instanceof ArrayBuffer ||
    ArrayBuffer.isView(value)
  );
}

/**
 * True for a class (so `instanceof client.errors.X` keeps working: classes are not wrapped).
 *
 * @internal
 * @example
 * ```ts
 * isClass(class StripeError {}); // true
 * ```
 */
export function isClass(fn: unknown): boolean {
  return /^class[\s{]/.test(Function.prototype.toString.call(fn));
}
