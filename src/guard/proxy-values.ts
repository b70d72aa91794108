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

/**
 * The traps a guarding proxy forwards to its real target unchanged. The proxy stands over an empty
 * stand-in (so it may hand out wrappers for frozen properties), which is why descriptors are reported
 * configurable and `preventExtensions` is refused: a Proxy may not report a property its stand-in
 * lacks as non-configurable, and a non-extensible stand-in would tie `ownKeys` to its empty key list.
 *
 * @internal
 * @example
 * ```ts
 * const proxy = new Proxy(standIn, { ...forwardingTraps(target), get: (_, prop) => wrap(prop) });
 * ```
 */
export function forwardingTraps(target: object): Omit<ProxyHandler<object>, "get"> {
  return {
    set: (_, prop, value) => Reflect.set(target, prop, value, target),
    has: (_, prop) => Reflect.has(target, prop),
    deleteProperty: (_, prop) => Reflect.deleteProperty(target, prop),
    ownKeys: () => Reflect.ownKeys(target),
    getOwnPropertyDescriptor(_, prop) {
      const descriptor = Reflect.getOwnPropertyDescriptor(target, prop);
      return descriptor === undefined ? undefined : { ...descriptor, configurable: true };
    },
    defineProperty: (_, prop, descriptor) => Reflect.defineProperty(target, prop, { ...descriptor, configurable: true }),
    preventExtensions: () => false,
  };
}
