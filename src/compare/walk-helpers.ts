/**
 * Building blocks shared by the equality walker (`equal.ts`) and the diff walker (`diff.ts`), so the
 * two agree on what "same type" and "same content" mean for every built-in kind of value.
 */
import { types } from "node:util";

/** How a non-array object is compared. Numeric tags keep the dispatch a cheap `switch`. @internal @example `const tag: ObjectTag = classify(value);` */
export type ObjectTag = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8;

/** Own enumerable string keys, compared key by key (plain objects, class instances, everything else). @internal @example `if (classify(value) === TAG_FIELDS) return …;` */
export const TAG_FIELDS = 0;
/** `Date`: compared by time value. @internal @example `if (classify(value) === TAG_DATE) return …;` */
export const TAG_DATE = 1;
/** `RegExp`: compared by source and flags. @internal @example `if (classify(value) === TAG_REGEXP) return …;` */
export const TAG_REGEXP = 2;
/** `Map`: keys by SameValueZero, values deeply. @internal @example `if (classify(value) === TAG_MAP) return …;` */
export const TAG_MAP = 3;
/** `Set`: members by content. @internal @example `if (classify(value) === TAG_SET) return …;` */
export const TAG_SET = 4;
/** Typed arrays, `Buffer`, `DataView`: compared by content, as a whole. @internal @example `if (classify(value) === TAG_VIEW) return …;` */
export const TAG_VIEW = 5;
/** `ArrayBuffer` / `SharedArrayBuffer`: compared by bytes. @internal @example `if (classify(value) === TAG_BUFFER) return …;` */
export const TAG_BUFFER = 6;
/** `new Number(1)`, `new String("x")`…: compared by their primitive value. @internal @example `if (classify(value) === TAG_BOXED) return …;` */
export const TAG_BOXED = 7;
/** Native errors: compared by message, then by own enumerable fields. @internal @example `if (classify(value) === TAG_ERROR) return …;` */
export const TAG_ERROR = 8;

/**
 * Classifies a non-array object. `util.types` is used rather than `instanceof` so that values from
 * another realm (a `vm` context, a worker's structured clone) are still recognised by their internal
 * slots; the prototype check that precedes this keeps cross-realm values apart anyway.
 *
 * @example
 * ```ts
 * classify(new Date()) === TAG_DATE; // true
 * ```
 */
export function classify(value: object): ObjectTag {
  if (types.isDate(value)) return TAG_DATE;
  if (types.isMap(value)) return TAG_MAP;
  if (types.isSet(value)) return TAG_SET;
  if (types.isArrayBufferView(value)) return TAG_VIEW;
  if (types.isRegExp(value)) return TAG_REGEXP;
  if (types.isAnyArrayBuffer(value)) return TAG_BUFFER;
  if (types.isBoxedPrimitive(value)) return TAG_BOXED;
  if (types.isNativeError(value)) return TAG_ERROR;
  return TAG_FIELDS;
}

const hasOwnEnum = Object.prototype.propertyIsEnumerable;

/**
 * True when `key` is an own enumerable property of `obj`: the same set `Object.keys` lists, so a
 * non-enumerable or inherited property never stands in for a missing key.
 *
 * @example
 * ```ts
 * isOwnEnumerable({ a: 1 }, "a"); // true
 * isOwnEnumerable({}, "toString"); // false
 * ```
 */
export function isOwnEnumerable(obj: object, key: string): boolean {
  return hasOwnEnum.call(obj, key);
}

/**
 * SameValueZero: `===`, except that `NaN` equals `NaN`.
 *
 * @example
 * ```ts
 * sameValueZero(NaN, NaN); // true
 * sameValueZero(0, -0); // true
 * ```
 */
export function sameValueZero(a: unknown, b: unknown): boolean {
  return a === b || (a !== a && b !== b);
}

/**
 * The primitive inside a boxed primitive (`new Number(1)` → `1`).
 *
 * @example
 * ```ts
 * unbox(new String("x")); // "x"
 * ```
 */
export function unbox(value: object): unknown {
  // Each prototype's own valueOf throws on a foreign receiver, so pick by internal slot.
  if (types.isNumberObject(value)) return Number.prototype.valueOf.call(value);
  if (types.isStringObject(value)) return String.prototype.valueOf.call(value);
  if (types.isBooleanObject(value)) return Boolean.prototype.valueOf.call(value);
  if (types.isBigIntObject(value)) return BigInt.prototype.valueOf.call(value);
  if (types.isSymbolObject(value)) return Symbol.prototype.valueOf.call(value);
  return value;
}

/**
 * Compares two `Date`s by time value; two invalid dates are equal.
 *
 * @example
 * ```ts
 * datesEqual(new Date(0), new Date(0)); // true
 * ```
 */
export function datesEqual(a: Date, b: Date): boolean {
  return sameValueZero(Date.prototype.getTime.call(a), Date.prototype.getTime.call(b));
}

/**
 * Compares two regular expressions by source and flags (`lastIndex` is state, not value).
 *
 * @example
 * ```ts
 * regExpsEqual(/a/g, /a/g); // true
 * ```
 */
export function regExpsEqual(a: RegExp, b: RegExp): boolean {
  return a.source === b.source && a.flags === b.flags;
}

function bytesOf(view: ArrayBufferView | ArrayBufferLike): Buffer {
  return types.isAnyArrayBuffer(view)
    ? Buffer.from(view as ArrayBuffer)
    : Buffer.from(view.buffer, view.byteOffset, view.byteLength);
}

/**
 * Compares two typed arrays, `Buffer`s, `DataView`s or `ArrayBuffer`s by content. Float arrays are
 * compared element by element with the number rules (`NaN` equals `NaN`, `+0` equals `-0`); the
 * others by bytes, with a `memcmp`.
 *
 * @example
 * ```ts
 * binaryEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2])); // true
 * binaryEqual(new Float64Array([NaN]), new Float64Array([NaN])); // true
 * ```
 */
export function binaryEqual(a: ArrayBufferView | ArrayBufferLike, b: ArrayBufferView | ArrayBufferLike): boolean {
  if (a.byteLength !== b.byteLength) return false;
  if (
    (types.isFloat64Array(a) && types.isFloat64Array(b)) ||
    (types.isFloat32Array(a) && types.isFloat32Array(b))
  ) {
    const n = a.length;
    for (let i = 0; i < n; i++) {
      const x = a[i];
      const y = b[i];
      if (x !== y && (x === x || y === y)) return false;
    }
    return true;
  }
  return bytesOf(a).equals(bytesOf(b));
}

/**
 * True for values that a `Set` or multiset match must pair deeply rather than by SameValueZero:
 * non-null objects (functions compare by identity, so they are not in this group).
 *
 * @example
 * ```ts
 * isDeepMember({ a: 1 }); // true
 * isDeepMember(() => 1); // false
 * ```
 */
export function isDeepMember(value: unknown): value is object {
  return typeof value === "object" && value !== null;
}
