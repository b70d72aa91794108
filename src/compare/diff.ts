/**
 * The field-by-field diff: every difference between a control value and a candidate value, with its
 * path. It applies exactly the equality rules of `deepEqual`, so `diff(a, b)` is empty exactly when
 * `deepEqual(a, b)` is true (without an `unordered` hook; see `CompareOptions`).
 */
import type { FieldDiff } from "../types/results";
import type { CompareOptions } from "./options";
import { SET_MEMBER, formatPath, mapKey, type PathSegment } from "./path";
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

type Kind = FieldDiff["kind"];
type Fields = Record<string, unknown>;

/** Whether a side is present: an `added` diff has no control, a `removed` diff no candidate. */
const BOTH = 0;
const CONTROL_ONLY = 1;
const CANDIDATE_ONLY = 2;
type Sides = typeof BOTH | typeof CONTROL_ONLY | typeof CANDIDATE_ONLY;

/**
 * One walk's state. In `report` mode every difference is recorded; otherwise the walk stops at the
 * first one (that is how `deepEqual` runs when it needs paths for the `unordered` hook).
 */
interface Walk {
  report: boolean;
  readonly out: FieldDiff[];
  readonly segments: PathSegment[];
  /** Ancestor pairs: a pair met again below itself is a cycle and is taken as equal. */
  readonly controls: object[];
  readonly candidates: object[];
  readonly unordered: ((path: string) => boolean) | undefined;
}

/**
 * Lists every difference between `control` and `candidate`, each with its path and kind; `[]` when
 * they are deeply equal.
 *
 * Kinds: `changed` (same type, other value), `added` (only the candidate has the key, index or
 * member), `removed` (only the control has it), `type` (different `typeof`, array vs object, `null`
 * vs object, different constructors). A key holding `undefined` and a missing key are the same.
 * Dates, typed arrays, Buffers, RegExps and boxed primitives that differ give one `changed` diff at
 * their own path. A longer candidate array gives `added` diffs for its tail, a shorter one `removed`.
 * Set members present on one side only are reported at `path{}` with the member as the value.
 * A cycle met again is taken as equal, so cyclic values terminate.
 *
 * @example
 * ```ts
 * diff({ total: 49.9, lines: [{ tax: 1 }] }, { total: 51.4, lines: [{ tax: 2 }], note: "x" });
 * // [ { path: "total", kind: "changed", control: 49.9, candidate: 51.4 },
 * //   { path: "lines[0].tax", kind: "changed", control: 1, candidate: 2 },
 * //   { path: "note", kind: "added", candidate: "x" } ]
 * ```
 */
export function diff(control: unknown, candidate: unknown, options?: CompareOptions): FieldDiff[] {
  const walk = newWalk(true, options);
  walkValues(walk, control, candidate);
  return walk.out;
}

/**
 * `deepEqual` with an `unordered` hook: the same walk as `diff`, stopping at the first difference,
 * with the path tracked so the hook can be asked about each array.
 *
 * @example
 * ```ts
 * equalWithPaths([[1, 2]], [[2, 1]], { unordered: (p) => p === "[0]" }); // true
 * ```
 */
export function equalWithPaths(a: unknown, b: unknown, options?: CompareOptions): boolean {
  return !walkValues(newWalk(false, options), a, b);
}

/**
 * True when two arrays hold the same elements in any order (deep equality, multiplicities counted).
 * Primitives are counted in a `Map`; only object elements fall back to the O(n²) pairing.
 *
 * @example
 * ```ts
 * multisetEqual([1, { a: 1 }, 1], [{ a: 1 }, 1, 1]); // true
 * multisetEqual([1, 1, 2], [1, 2, 2]); // false
 * ```
 */
export function multisetEqual(a: readonly unknown[], b: readonly unknown[], options?: CompareOptions): boolean {
  const walk = newWalk(false, options);
  return multisetWalk(walk, a, b);
}

function newWalk(report: boolean, options: CompareOptions | undefined): Walk {
  return { report, out: [], segments: [], controls: [], candidates: [], unordered: options?.unordered };
}

function record(walk: Walk, kind: Kind, control: unknown, candidate: unknown, sides: Sides): true {
  if (walk.report) {
    const path = formatPath(walk.segments);
    walk.out.push(
      sides === CONTROL_ONLY
        ? { path, kind, control }
        : sides === CANDIDATE_ONLY
          ? { path, kind, candidate }
          : { path, kind, control, candidate },
    );
  }
  return true;
}

/** Compares one pair at the current path; returns true when it found a difference. */
function walkValues(walk: Walk, c: unknown, d: unknown): boolean {
  if (c === d) return false;
  const type = typeof c;
  if (type !== typeof d) return record(walk, "type", c, d, BOTH);
  if (type !== "object") {
    if (type === "number" && c !== c && d !== d) return false;
    return record(walk, "changed", c, d, BOTH);
  }
  if (c === null || d === null) return record(walk, "type", c, d, BOTH);
  const co = c as object;
  const dobj = d as object;
  if (Object.getPrototypeOf(co) !== Object.getPrototypeOf(dobj)) return record(walk, "type", c, d, BOTH);
  const isArray = Array.isArray(co);
  if (isArray !== Array.isArray(dobj)) return record(walk, "type", c, d, BOTH);

  const { controls, candidates } = walk;
  for (let i = controls.length - 1; i >= 0; i--) {
    if (controls[i] === co && candidates[i] === dobj) return false;
  }
  controls.push(co);
  candidates.push(dobj);
  try {
    // Plain objects skip classification, exactly as `deepEqual`'s fast path does.
    if (isArray) return walkArrays(walk, co as unknown[], dobj as unknown[]);
    return Object.getPrototypeOf(co) === Object.prototype ? walkFields(walk, co, dobj) : walkObjects(walk, co, dobj);
  } finally {
    controls.pop();
    candidates.pop();
  }
}

function walkObjects(walk: Walk, c: object, d: object): boolean {
  const tag = classify(c);
  if (tag !== classify(d)) return record(walk, "type", c, d, BOTH);
  switch (tag) {
    case TAG_DATE:
      if (!datesEqual(c as Date, d as Date)) return record(walk, "changed", c, d, BOTH);
      break;
    case TAG_REGEXP:
      if (!regExpsEqual(c as RegExp, d as RegExp)) return record(walk, "changed", c, d, BOTH);
      break;
    case TAG_VIEW:
    case TAG_BUFFER:
      // Typed arrays are one value each: no per-element diff, no walk over their index keys.
      return binaryEqual(c as ArrayBufferView, d as ArrayBufferView) ? false : record(walk, "changed", c, d, BOTH);
    case TAG_BOXED:
      return sameValueZero(unbox(c), unbox(d)) ? false : record(walk, "changed", c, d, BOTH);
    case TAG_ERROR:
      if ((c as Error).message !== (d as Error).message) return record(walk, "changed", c, d, BOTH);
      break;
    case TAG_MAP: {
      // Content first, then own fields (a subclass may add some); both are reported.
      const found = walkMaps(walk, c as Map<unknown, unknown>, d as Map<unknown, unknown>);
      if (found && !walk.report) return true;
      return walkFields(walk, c, d) || found;
    }
    case TAG_SET: {
      const found = walkSets(walk, c as Set<unknown>, d as Set<unknown>);
      if (found && !walk.report) return true;
      return walkFields(walk, c, d) || found;
    }
  }
  return walkFields(walk, c, d);
}

function walkArrays(walk: Walk, c: unknown[], d: unknown[]): boolean {
  const { segments } = walk;
  if (walk.unordered !== undefined && walk.unordered(formatPath(segments))) {
    if (walk.report) {
      return orderedEqual(walk, c, d) ? false : record(walk, "changed", c, d, BOTH);
    }
    return !multisetWalk(walk, c, d);
  }
  const shared = Math.min(c.length, d.length);
  let found = false;
  for (let i = 0; i < shared; i++) {
    segments.push(i);
    const differs = walkValues(walk, c[i], d[i]);
    segments.pop();
    if (differs) {
      if (!walk.report) return true;
      found = true;
    }
  }
  for (let i = shared; i < c.length; i++) {
    segments.push(i);
    record(walk, "removed", c[i], undefined, CONTROL_ONLY);
    segments.pop();
    found = true;
    if (!walk.report) return true;
  }
  for (let i = shared; i < d.length; i++) {
    segments.push(i);
    record(walk, "added", undefined, d[i], CANDIDATE_ONLY);
    segments.pop();
    found = true;
    if (!walk.report) return true;
  }
  return found;
}

/** Runs a nested check in stop-at-first mode, whatever the current mode is. */
function quietly(walk: Walk, c: unknown, d: unknown): boolean {
  const report = walk.report;
  walk.report = false;
  try {
    return !walkValues(walk, c, d);
  } finally {
    walk.report = report;
  }
}

function orderedEqual(walk: Walk, c: readonly unknown[], d: readonly unknown[]): boolean {
  if (c.length !== d.length) return false;
  for (let i = 0; i < c.length; i++) {
    walk.segments.push(i);
    const equal = quietly(walk, c[i], d[i]);
    walk.segments.pop();
    if (!equal) return false;
  }
  return true;
}

function multisetWalk(walk: Walk, c: readonly unknown[], d: readonly unknown[]): boolean {
  if (c.length !== d.length) return false;
  const counts = new Map<unknown, number>();
  const pending: Array<{ index: number; value: object }> = [];
  for (let i = 0; i < c.length; i++) {
    const value = c[i];
    if (isDeepMember(value)) pending.push({ index: i, value });
    else counts.set(value, (counts.get(value) ?? 0) + 1);
  }
  const others: Array<object | undefined> = [];
  for (let i = 0; i < d.length; i++) {
    const value = d[i];
    if (isDeepMember(value)) {
      others.push(value);
      continue;
    }
    const count = counts.get(value);
    if (count === undefined || count === 0) return false;
    counts.set(value, count - 1);
  }
  if (others.length !== pending.length) return false;
  for (const { index, value } of pending) {
    walk.segments.push(index);
    const match = others.findIndex((other) => other !== undefined && quietly(walk, value, other));
    walk.segments.pop();
    if (match < 0) return false;
    others[match] = undefined;
  }
  return true;
}

function walkFields(walk: Walk, c: object, d: object): boolean {
  const cf = c as Fields;
  const df = d as Fields;
  const { segments } = walk;
  let found = false;
  const controlKeys = Object.keys(c);
  for (let i = 0; i < controlKeys.length; i++) {
    const key = controlKeys[i] as string;
    const cv = cf[key];
    const dv = isOwnEnumerable(d, key) ? df[key] : undefined;
    if (cv === undefined && dv === undefined) continue;
    segments.push(key);
    const differs =
      cv === undefined
        ? record(walk, "added", undefined, dv, CANDIDATE_ONLY)
        : dv === undefined
          ? record(walk, "removed", cv, undefined, CONTROL_ONLY)
          : walkValues(walk, cv, dv);
    segments.pop();
    if (differs) {
      if (!walk.report) return true;
      found = true;
    }
  }
  const candidateKeys = Object.keys(d);
  for (let i = 0; i < candidateKeys.length; i++) {
    const key = candidateKeys[i] as string;
    if (isOwnEnumerable(c, key)) continue;
    const dv = df[key];
    if (dv === undefined) continue;
    segments.push(key);
    record(walk, "added", undefined, dv, CANDIDATE_ONLY);
    segments.pop();
    if (!walk.report) return true;
    found = true;
  }
  return found;
}

function walkMaps(walk: Walk, c: Map<unknown, unknown>, d: Map<unknown, unknown>): boolean {
  const { segments } = walk;
  let found = false;
  for (const [key, cv] of c) {
    segments.push(mapKey(key));
    const differs = d.has(key) ? walkValues(walk, cv, d.get(key)) : record(walk, "removed", cv, undefined, CONTROL_ONLY);
    segments.pop();
    if (differs) {
      if (!walk.report) return true;
      found = true;
    }
  }
  for (const [key, dv] of d) {
    if (c.has(key)) continue;
    segments.push(mapKey(key));
    record(walk, "added", undefined, dv, CANDIDATE_ONLY);
    segments.pop();
    if (!walk.report) return true;
    found = true;
  }
  return found;
}

function walkSets(walk: Walk, c: Set<unknown>, d: Set<unknown>): boolean {
  const { segments } = walk;
  // Members present on both sides by SameValueZero need no work; the rest is paired deeply when
  // they are objects (functions and symbols compare by identity, so they never pair).
  const controlOnly: unknown[] = [];
  for (const member of c) if (!d.has(member)) controlOnly.push(member);
  const candidateOnly: Array<unknown> = [];
  for (const member of d) if (!c.has(member)) candidateOnly.push(member);
  if (controlOnly.length === 0 && candidateOnly.length === 0) return false;
  const matched = new Array<boolean>(candidateOnly.length).fill(false);
  const removed: unknown[] = [];
  segments.push(SET_MEMBER);
  try {
    for (const member of controlOnly) {
      let match = -1;
      if (isDeepMember(member)) {
        for (let j = 0; j < candidateOnly.length; j++) {
          const other = candidateOnly[j];
          if (!matched[j] && isDeepMember(other) && quietly(walk, member, other)) {
            match = j;
            break;
          }
        }
      }
      if (match >= 0) matched[match] = true;
      else {
        if (!walk.report) return true;
        removed.push(member);
      }
    }
    let found = false;
    for (const member of removed) found = record(walk, "removed", member, undefined, CONTROL_ONLY);
    for (let j = 0; j < candidateOnly.length; j++) {
      if (matched[j]) continue;
      if (!walk.report) return true;
      found = record(walk, "added", undefined, candidateOnly[j], CANDIDATE_ONLY);
    }
    return found;
  } finally {
    segments.pop();
  }
}
