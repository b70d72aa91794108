/**
 * Deep structural equality, the hot path of a healthy rollout: most candidate answers equal the
 * control's, so this walk allocates nothing per node when they do (no closures, no path strings, no
 * visited set, no ancestor bookkeeping) beyond the `Object.keys` arrays, which measured faster than a
 * `for…in` walk that needs none.
 */
import { Canon } from "./canonical";
import { equalWithPaths, pairObjectKeys } from "./diff";
import { UNREADABLE, errorMessageOf } from "./safe-read";
import type { CompareOptions } from "./options";
import {
  TAG_BOXED,
  TAG_BUFFER,
  TAG_DATE,
  TAG_ERROR,
  TAG_MAP,
  TAG_REGEXP,
  TAG_SET,
  TAG_VIEW,
  binaryEqual,
  classify,
  datesEqual,
  isDeepMember,
  isOwnEnumerable,
  regExpsEqual,
  sameValueZero,
  unbox,
} from "./walk-helpers";

type Fields = Record<string, unknown>;

const getPrototypeOf = Object.getPrototypeOf;
const isArray = Array.isArray;
const objectKeys = Object.keys;
const OBJECT_PROTOTYPE = Object.prototype;

/**
 * Depth at which the walk gives up and starts again with cycle tracking. Tracking ancestor pairs
 * costs every object node, and cycles are rare in answers, so the first walk tracks nothing: a cycle
 * can only make it descend for ever, and the depth-first walk follows the first cycle it meets
 * straight down to this limit. Acyclic values deeper than this are compared twice, still correctly.
 */
const MAX_UNTRACKED_DEPTH = 100;

// Set when the untracked walk hit the depth limit; every caller then unwinds with `false`.
let tooDeep = false;
// The current comparison's canonical forms (structural Map keys and Set members), made on first use.
let canonical: Canon | undefined;

function canon(): Canon {
  return (canonical ??= new Canon());
}

/**
 * Deep structural equality with penumbra's rules: key order ignored; a key holding `undefined`
 * equals a missing key; `NaN` equals `NaN` and `+0` equals `-0`; Dates by time (invalid Dates are
 * equal); Maps by key (SameValueZero, and a key that is an object by structure) and deep value;
 * Sets by content (object members by structure); typed arrays, `Buffer`,
 * `ArrayBuffer` and `DataView` by content; RegExps by source and flags; boxed primitives by value;
 * errors by message (an unreadable message equals nothing but the same error) and fields; other objects by their own enumerable string-keyed fields, and only
 * when both sides have the same prototype (a plain object never equals a class instance, a
 * `Uint8Array` never equals a `Buffer`). Functions and symbols compare by identity. A pair of objects
 * met again below itself (a cycle) is taken as equal, so cyclic values terminate. A throwing getter
 * or Proxy trap propagates its error.
 *
 * @example
 * ```ts
 * deepEqual({ a: 1, b: undefined, when: new Date(0) }, { when: new Date(0), a: 1 }); // true
 * deepEqual([NaN, -0], [NaN, 0]); // true
 * deepEqual({ a: 1 }, new (class A { a = 1 })()); // false
 * ```
 */
export function deepEqual(a: unknown, b: unknown, options?: CompareOptions): boolean {
  if (a === b) return true;
  if (options !== undefined && options.unordered !== undefined) return equalWithPaths(a, b, options);
  // Saved and restored so that a comparison nested in a getter cannot clear an outer walk's flag.
  const outer = tooDeep;
  const outerCanonical = canonical;
  tooDeep = false;
  canonical = undefined;
  try {
    const result = eq(a, b, 0);
    // The diff walker in stop-at-first mode applies the same rules, tracks ancestor pairs and is
    // iterative: no depth overflows it.
    return tooDeep ? equalWithPaths(a, b) : result;
  } finally {
    tooDeep = outer;
    canonical = outerCanonical;
  }
}

function eq(a: unknown, b: unknown, depth: number): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) {
    // Only NaN differs from itself; for any other pair that is not `===` this is false.
    return a !== a && b !== b;
  }
  const proto: unknown = getPrototypeOf(a);
  if (proto !== getPrototypeOf(b)) return false;
  if (depth >= MAX_UNTRACKED_DEPTH) {
    tooDeep = true;
    return false;
  }
  const next = depth + 1;
  return proto === OBJECT_PROTOTYPE
    ? eqFields(a, b, next)
    : isArray(a)
      ? isArray(b) && eqArrays(a, b as unknown[], next)
      : !isArray(b) && eqObjects(a, b, next);
}

function eqArrays(a: readonly unknown[], b: readonly unknown[], depth: number): boolean {
  const n = a.length;
  if (n !== b.length) return false;
  for (let i = 0; i < n; i++) {
    const x = a[i];
    const y = b[i];
    // Equal leaves are the bulk of the work: settle them without a call.
    if (x !== y && !eq(x, y, depth)) return false;
  }
  return true;
}

function eqFields(a: object, b: object, depth: number): boolean {
  const keysA = objectKeys(a);
  const keysB = objectKeys(b);
  const n = keysA.length;
  if (n === keysB.length) {
    // Same number of keys and every key of `a` an own enumerable key of `b`: the key sets are equal,
    // and the `undefined`-equals-missing rule has nothing to do. Objects built by the same code list
    // their keys in the same order, so the position check usually spares the property lookup.
    let i = 0;
    for (; i < n; i++) {
      const key = keysA[i] as string;
      if (key !== keysB[i] && !isOwnEnumerable(b, key)) break;
      const x = (a as Fields)[key];
      const y = (b as Fields)[key];
      if (x !== y && !eq(x, y, depth)) return false;
    }
    if (i === n) return true;
  }
  return eqFieldsLoose(a as Fields, b as Fields, keysA, keysB, depth);
}

/** The key sets differ: they may still be equal once keys holding `undefined` are set aside. */
function eqFieldsLoose(
  a: Fields,
  b: Fields,
  keysA: readonly string[],
  keysB: readonly string[],
  depth: number,
): boolean {
  for (let i = 0; i < keysA.length; i++) {
    const key = keysA[i] as string;
    const value = a[key];
    if (isOwnEnumerable(b, key)) {
      if (!eq(value, b[key], depth)) return false;
    } else if (value !== undefined) return false;
  }
  for (let i = 0; i < keysB.length; i++) {
    const key = keysB[i] as string;
    if (!isOwnEnumerable(a, key) && b[key] !== undefined) return false;
  }
  return true;
}

function eqObjects(a: object, b: object, depth: number): boolean {
  const tag = classify(a);
  if (tag !== classify(b)) return false;
  switch (tag) {
    case TAG_DATE:
      return datesEqual(a as Date, b as Date) && eqFields(a, b, depth);
    case TAG_REGEXP:
      return regExpsEqual(a as RegExp, b as RegExp) && eqFields(a, b, depth);
    case TAG_VIEW:
    case TAG_BUFFER:
      return binaryEqual(a as ArrayBufferView, b as ArrayBufferView);
    case TAG_BOXED:
      return sameValueZero(unbox(a), unbox(b));
    case TAG_ERROR:
      return messagesEqual(a, b) && eqFields(a, b, depth);
    case TAG_MAP:
      return eqMaps(a as Map<unknown, unknown>, b as Map<unknown, unknown>, depth) && eqFields(a, b, depth);
    case TAG_SET:
      return eqSets(a as Set<unknown>, b as Set<unknown>) && eqFields(a, b, depth);
    default:
      return eqFields(a, b, depth);
  }
}

/** Two errors' messages, read through guards: an unreadable message equals nothing. */
function messagesEqual(a: object, b: object): boolean {
  const message = errorMessageOf(a);
  return message !== UNREADABLE && message === errorMessageOf(b);
}

function eqMaps(a: Map<unknown, unknown>, b: Map<unknown, unknown>, depth: number): boolean {
  if (a.size !== b.size) return false;
  let pending: object[] | undefined;
  for (const [key, value] of a) {
    if (b.has(key)) {
      if (!eq(value, b.get(key), depth)) return false;
    } else if (isDeepMember(key)) (pending ??= []).push(key);
    else return false;
  }
  if (pending === undefined) return true;
  // Equal sizes and every other key of `a` in `b`: the object keys `b` has beyond `a` must pair up
  // with the pending ones by structure, one to one, as the diff walker pairs them.
  const partners = pairObjectKeys(canon(), pending, b.keys(), () => true, (key) => !a.has(key));
  if (partners.size !== pending.length) return false;
  for (const key of pending) {
    if (!eq(a.get(key), b.get(partners.get(key)), depth)) return false;
  }
  return true;
}

function eqSets(a: Set<unknown>, b: Set<unknown>): boolean {
  if (a.size !== b.size) return false;
  let pending: object[] | undefined;
  for (const member of a) {
    if (b.has(member)) continue;
    if (!isDeepMember(member)) return false;
    (pending ??= []).push(member);
  }
  if (pending === undefined) return true;
  // What `b` has beyond `a` must pair up with the pending objects one to one, by canonical form.
  const partners = pairObjectKeys(canon(), pending, b, () => true, (member) => !a.has(member));
  return partners.size === pending.length;
}
