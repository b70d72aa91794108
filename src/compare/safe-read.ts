/**
 * Reads of a user's value that never throw: a getter, a Proxy trap or a revoked Proxy falls back to
 * "unreadable" instead of escaping. Every place penumbra turns a user's error into text or compares
 * two errors reads through these, so a hostile error can never replace the control's outcome.
 */
import { types } from "node:util";

/**
 * What a safe read returns when the read itself threw (a getter, a Proxy trap, a revoked Proxy).
 *
 * @example
 * ```ts
 * if (safeGet(error, "message") === UNREADABLE) return "(message unreadable)";
 * ```
 */
export const UNREADABLE: unique symbol = Symbol("penumbra.unreadable");

/**
 * `value[key]`, or {@link UNREADABLE} when reading it threw.
 *
 * @example
 * ```ts
 * safeGet({ get x() { throw new Error("no"); } }, "x") === UNREADABLE; // true
 * ```
 */
export function safeGet(value: object, key: PropertyKey): unknown {
  try {
    return (value as Record<PropertyKey, unknown>)[key];
  } catch {
    return UNREADABLE;
  }
}

/**
 * `Object.getPrototypeOf(value)`, or {@link UNREADABLE} when a Proxy trap threw.
 *
 * @example
 * ```ts
 * safePrototype({}) === Object.prototype; // true
 * ```
 */
export function safePrototype(value: object): object | null | typeof UNREADABLE {
  try {
    return Object.getPrototypeOf(value) as object | null;
  } catch {
    return UNREADABLE;
  }
}

// A prototype chain longer than this is hostile (or a Proxy that invents prototypes for ever).
const MAX_CHAIN = 64;

/**
 * True for an `Error` from any realm, or an object whose prototype chain reaches `Error.prototype`;
 * never runs more than a bounded number of `getPrototypeOf` traps and never throws.
 *
 * @example
 * ```ts
 * isErrorLike(new TypeError("x")); // true
 * isErrorLike({ message: "x" }); // false
 * ```
 */
export function isErrorLike(value: unknown): value is object {
  if (typeof value !== "object" || value === null) return false;
  if (types.isNativeError(value)) return true;
  let proto = safePrototype(value);
  for (let i = 0; i < MAX_CHAIN && proto !== null && proto !== UNREADABLE; i++) {
    if (proto === Error.prototype) return true;
    proto = safePrototype(proto);
  }
  return false;
}

/**
 * The name of the function that built `value` (from its prototype's own `constructor` data
 * property, no getter run), or `undefined` for plain objects and when it cannot be read.
 *
 * @example
 * ```ts
 * constructorNameOf(new (class Order {})()); // "Order"
 * constructorNameOf({}); // undefined
 * ```
 */
export function constructorNameOf(value: object): string | undefined {
  try {
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto === null || proto === Object.prototype || typeof proto !== "object") return undefined;
    const ctor: unknown = Object.getOwnPropertyDescriptor(proto, "constructor")?.value;
    if (typeof ctor !== "function") return undefined;
    const name: unknown = Object.getOwnPropertyDescriptor(ctor, "name")?.value;
    return typeof name === "string" && name !== "" && name !== "Object" ? name : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The constructor an error was built by (its prototype's own `constructor` data property), or
 * {@link UNREADABLE}. Two errors "have the same constructor" when these are the same function.
 *
 * @example
 * ```ts
 * constructorOf(new TypeError("x")) === TypeError; // true
 * ```
 */
export function constructorOf(value: object): unknown {
  try {
    let proto: unknown = Object.getPrototypeOf(value);
    for (let i = 0; i < MAX_CHAIN; i++) {
      if (proto === null || typeof proto !== "object") return proto;
      const desc = Object.getOwnPropertyDescriptor(proto, "constructor");
      if (desc !== undefined) return "value" in desc ? desc.value : UNREADABLE;
      proto = Object.getPrototypeOf(proto);
    }
    return UNREADABLE;
  } catch {
    return UNREADABLE;
  }
}

/**
 * An error's `name` when it is a non-empty string, else its constructor's name, else `"Error"`.
 *
 * @example
 * ```ts
 * errorNameOf(new RangeError("x")); // "RangeError"
 * ```
 */
export function errorNameOf(error: object): string {
  const raw = safeGet(error, "name");
  if (typeof raw === "string" && raw !== "") return raw;
  return constructorNameOf(error) ?? "Error";
}

/**
 * An error's `message` when it is a string (`""` when it has none), or {@link UNREADABLE} when the
 * read threw or gave something that is not text (text is never made by calling the user's
 * `toString`).
 *
 * @example
 * ```ts
 * errorMessageOf(new Error("boom")); // "boom"
 * ```
 */
export function errorMessageOf(error: object): string | typeof UNREADABLE {
  const raw = safeGet(error, "message");
  if (typeof raw === "string") return raw;
  if (raw === undefined) return "";
  if (typeof raw === "number" || typeof raw === "boolean" || typeof raw === "bigint") return String(raw);
  return UNREADABLE;
}

/**
 * An error's `stack` when it is a string, else `undefined`.
 *
 * @example
 * ```ts
 * errorStackOf(new Error("x"))?.startsWith("Error: x"); // true
 * ```
 */
export function errorStackOf(error: object): string | undefined {
  const raw = safeGet(error, "stack");
  return typeof raw === "string" ? raw : undefined;
}
