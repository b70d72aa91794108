/**
 * The field-by-field diff: every difference between a control value and a candidate value, with its
 * path. It applies exactly the equality rules of `deepEqual`, so `diff(a, b)` is empty exactly when
 * `deepEqual(a, b)` is true (without an `unordered` hook; see `CompareOptions`).
 *
 * The walk is iterative: pairs still to compare wait on an explicit stack, so a value 10 000 or
 * 1 000 000 levels deep costs heap, never call stack, and every pair is visited once. `Map` keys and
 * `Set` members that are objects are matched by structure through their canonical forms
 * (`canonical.ts`), grouped in a hash map: no pairing of every member with every other.
 */
import type { FieldDiff } from "../types/results";
import { Canon, groupByForm, pathText, type PathNode } from "./canonical";
import type { CompareOptions } from "./options";
import { SET_MEMBER, mapKey, type PathSegment } from "./path";
import { UNREADABLE, errorMessageOf } from "./safe-read";
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

/** A pair to compare. */
const COMPARE = 0;
/** A pair's children are done: it leaves the ancestor set. */
const EXIT = 1;
/** A difference found while listing a pair's children, recorded in its turn so the order is depth-first. */
const RECORD = 2;

/**
 * A pair to compare (or a difference to record) at `parent` + `segment`. A task is also the path
 * node of its own position, so its children point at it: one allocation per pair, path included.
 */
interface Task extends PathNode {
  readonly op: typeof COMPARE | typeof EXIT | typeof RECORD;
  readonly c: unknown;
  readonly d: unknown;
  readonly kind: Kind;
  readonly sides: Sides;
}

function compareTask(c: unknown, d: unknown, parent: PathNode | undefined, segment: PathSegment): Task {
  return { op: COMPARE, c, d, kind: "changed", sides: BOTH, parent, segment };
}

function recordTask(kind: Kind, c: unknown, d: unknown, sides: Sides, parent: PathNode | undefined, segment: PathSegment): Task {
  return { op: RECORD, c, d, kind, sides, parent, segment };
}

/** Pops the innermost ancestor pair; carries no data, so one instance serves every pair. */
const EXIT_TASK: Task = Object.freeze({ op: EXIT, c: undefined, d: undefined, kind: "changed", sides: BOTH, parent: undefined, segment: "" });

/** Ancestor pairs scanned linearly; deeper ones are also kept in a `Map`, so a deep value stays linear. */
const SCAN = 32;

function step(path: PathNode | undefined, segment: PathSegment): PathNode {
  return { parent: path, segment };
}

/**
 * One walk. In `report` mode every difference is recorded; otherwise the walk stops at the first one
 * (that is how `deepEqual` runs when it needs paths for the `unordered` hook, or when a value is too
 * deep for its fast recursive walk).
 */
class Walk {
  readonly out: FieldDiff[] = [];
  private found = false;
  private readonly stack: Task[] = [];
  /** Ancestor pairs, outermost first: a pair met again below itself is a cycle, taken as equal. */
  private readonly controls: object[] = [];
  private readonly candidates: object[] = [];
  /** Ancestor pairs past the first `SCAN`, control → candidates. */
  private deep: Map<object, object[]> | undefined;
  private canonical: Canon | undefined;

  constructor(
    private readonly report: boolean,
    private readonly unordered: ((path: string) => boolean) | undefined,
  ) {}

  /** Walks the pair; true when a difference was found. */
  run(c: unknown, d: unknown): boolean {
    const stack = this.stack;
    // The root's position is the empty path: it is compared here, its children point at `undefined`.
    this.compare(c, d, undefined);
    if (this.found && !this.report) return true;
    while (stack.length > 0) {
      const task = stack.pop() as Task;
      if (task.op === COMPARE) this.compare(task.c, task.d, task);
      else if (task.op === EXIT) this.exit();
      else this.record(task.kind, task.c, task.d, task.sides, task);
      if (this.found && !this.report) return true;
    }
    return this.found;
  }

  private isAncestor(c: object, d: object): boolean {
    const { controls, candidates } = this;
    const n = controls.length < SCAN ? controls.length : SCAN;
    for (let i = 0; i < n; i++) if (controls[i] === c && candidates[i] === d) return true;
    return this.deep !== undefined && this.deep.get(c)?.includes(d) === true;
  }

  private enter(c: object, d: object): void {
    if (this.controls.length >= SCAN) {
      const deep = (this.deep ??= new Map());
      const seen = deep.get(c);
      if (seen === undefined) deep.set(c, [d]);
      else seen.push(d);
    }
    this.controls.push(c);
    this.candidates.push(d);
  }

  private exit(): void {
    const c = this.controls.pop() as object;
    this.candidates.pop();
    if (this.controls.length >= SCAN) (this.deep as Map<object, object[]>).get(c)?.pop();
  }

  private canon(): Canon {
    return (this.canonical ??= new Canon(this.unordered));
  }

  private record(kind: Kind, control: unknown, candidate: unknown, sides: Sides, path: PathNode | undefined): void {
    this.found = true;
    if (!this.report) return;
    const at = pathText(path);
    this.out.push(
      sides === CONTROL_ONLY
        ? { path: at, kind, control }
        : sides === CANDIDATE_ONLY
          ? { path: at, kind, candidate }
          : { path: at, kind, control, candidate },
    );
  }

  /** Compares one pair: records a difference at this path, or queues the pair's children. */
  private compare(c: unknown, d: unknown, path: PathNode | undefined): void {
    if (c === d) return;
    const type = typeof c;
    if (type !== typeof d) return this.record("type", c, d, BOTH, path);
    if (type !== "object") {
      if (type === "number" && c !== c && d !== d) return;
      return this.record("changed", c, d, BOTH, path);
    }
    if (c === null || d === null) return this.record("type", c, d, BOTH, path);
    const co = c as object;
    const dobj = d as object;
    const proto: unknown = Object.getPrototypeOf(co);
    if (proto !== Object.getPrototypeOf(dobj)) return this.record("type", c, d, BOTH, path);
    const isArray = Array.isArray(co);
    if (isArray !== Array.isArray(dobj)) return this.record("type", c, d, BOTH, path);

    if (this.isAncestor(co, dobj)) return;

    // The children go straight onto the stack above an exit marker, in order, and are then reversed
    // in place so that they pop in order: no array per pair.
    const stack = this.stack;
    const base = stack.length;
    stack.push(EXIT_TASK);
    this.enter(co, dobj);
    // Plain objects skip classification, exactly as `deepEqual`'s fast path does.
    if (isArray) this.arrays(co as unknown[], dobj as unknown[], path, stack);
    else if (proto === Object.prototype) fields(co, dobj, path, stack);
    else this.objects(co, dobj, path, stack);
    if (stack.length === base + 1) {
      stack.pop();
      this.exit();
      return;
    }
    for (let i = base + 1, j = stack.length - 1; i < j; i++, j--) {
      const t = stack[i] as Task;
      stack[i] = stack[j] as Task;
      stack[j] = t;
    }
  }

  private objects(c: object, d: object, path: PathNode | undefined, children: Task[]): void {
    const tag = classify(c);
    if (tag !== classify(d)) return this.record("type", c, d, BOTH, path);
    switch (tag) {
      case TAG_DATE:
        if (!datesEqual(c as Date, d as Date)) return this.record("changed", c, d, BOTH, path);
        break;
      case TAG_REGEXP:
        if (!regExpsEqual(c as RegExp, d as RegExp)) return this.record("changed", c, d, BOTH, path);
        break;
      case TAG_VIEW:
      case TAG_BUFFER:
        // Typed arrays are one value each: no per-element diff, no walk over their index keys.
        if (!binaryEqual(c as ArrayBufferView, d as ArrayBufferView)) this.record("changed", c, d, BOTH, path);
        return;
      case TAG_BOXED:
        if (!sameValueZero(unbox(c), unbox(d))) this.record("changed", c, d, BOTH, path);
        return;
      case TAG_ERROR:
        if (!messagesEqual(c, d)) return this.record("changed", c, d, BOTH, path);
        break;
      case TAG_MAP:
        // Content first, then own fields (a subclass may add some); both are reported.
        this.maps(c as Map<unknown, unknown>, d as Map<unknown, unknown>, path, children);
        break;
      case TAG_SET:
        this.sets(c as Set<unknown>, d as Set<unknown>, path, children);
        break;
    }
    fields(c, d, path, children);
  }

  private arrays(c: unknown[], d: unknown[], path: PathNode | undefined, children: Task[]): void {
    if (this.unordered !== undefined && this.unordered(pathText(path))) {
      const equal = this.report ? this.orderedEqual(c, d, path) : this.multisetEqual(c, d, path);
      if (!equal) this.record("changed", c, d, BOTH, path);
      return;
    }
    const shared = Math.min(c.length, d.length);
    for (let i = 0; i < shared; i++) {
      const x = c[i];
      const y = d[i];
      // Equal leaves are the bulk of the work: settle them without a task.
      if (x !== y) children.push(compareTask(x, y, path, i));
    }
    for (let i = shared; i < c.length; i++) children.push(recordTask("removed", c[i], undefined, CONTROL_ONLY, path, i));
    for (let i = shared; i < d.length; i++) children.push(recordTask("added", undefined, d[i], CANDIDATE_ONLY, path, i));
  }

  /** Report mode on an unordered array: any difference, a reordering included, is one diff at the array. */
  private orderedEqual(c: readonly unknown[], d: readonly unknown[], path: PathNode | undefined): boolean {
    if (c.length !== d.length) return false;
    const canon = this.canon();
    for (let i = 0; i < c.length; i++) {
      const at = step(path, i);
      if (c[i] !== d[i] && canon.key(c[i], at) !== canon.key(d[i], at)) return false;
    }
    return true;
  }

  /** Same elements, any order, multiplicities counted. */
  multisetEqual(c: readonly unknown[], d: readonly unknown[], path: PathNode | undefined): boolean {
    if (c.length !== d.length) return false;
    const canon = this.canon();
    const counts = new Map<string, number>();
    for (let i = 0; i < c.length; i++) {
      const form = canon.key(c[i], step(path, i));
      counts.set(form, (counts.get(form) ?? 0) + 1);
    }
    for (let i = 0; i < d.length; i++) {
      const form = canon.key(d[i], step(path, i));
      const count = counts.get(form);
      if (count === undefined || count === 0) return false;
      counts.set(form, count - 1);
    }
    return true;
  }

  /**
   * Map entries are matched by key: SameValueZero first; then keys that are objects, present on one
   * side only by identity, are paired by structure (equal canonical forms, in insertion order).
   */
  private maps(c: Map<unknown, unknown>, d: Map<unknown, unknown>, path: PathNode | undefined, children: Task[]): void {
    const partners = pairObjectKeys(this.canon(), c.keys(), d.keys(), (k) => !d.has(k), (k) => !c.has(k));
    for (const [key, cv] of c) {
      const at = mapKey(key);
      if (d.has(key)) children.push(compareTask(cv, d.get(key), path, at));
      else if (partners.has(key)) children.push(compareTask(cv, d.get(partners.get(key)), path, at));
      else children.push(recordTask("removed", cv, undefined, CONTROL_ONLY, path, at));
    }
    const taken = new Set(partners.values());
    for (const [key, dv] of d) {
      if (c.has(key) || taken.has(key)) continue;
      children.push(recordTask("added", undefined, dv, CANDIDATE_ONLY, path, mapKey(key)));
    }
  }

  /** Members by SameValueZero; the rest, when objects, paired by structure (one to one). */
  private sets(c: Set<unknown>, d: Set<unknown>, path: PathNode | undefined, children: Task[]): void {
    const controlOnly: unknown[] = [];
    for (const member of c) if (!d.has(member)) controlOnly.push(member);
    const candidateOnly: unknown[] = [];
    for (const member of d) if (!c.has(member)) candidateOnly.push(member);
    if (controlOnly.length === 0 && candidateOnly.length === 0) return;
    const partners = pairObjectKeys(this.canon(), controlOnly, candidateOnly, () => true, () => true);
    const taken = new Set(partners.values());
    for (const member of controlOnly) {
      if (!partners.has(member)) children.push(recordTask("removed", member, undefined, CONTROL_ONLY, path, SET_MEMBER));
    }
    for (const member of candidateOnly) {
      if (!taken.has(member)) children.push(recordTask("added", undefined, member, CANDIDATE_ONLY, path, SET_MEMBER));
    }
  }
}

/**
 * Pairs the object keys (or members) of one side that the other side lacks by identity with the
 * other side's by canonical form, first come first served: control key → candidate key.
 *
 * @internal
 * @example
 * ```ts
 * pairObjectKeys(new Canon(), [{ sku: "A" }], [{ sku: "A" }], () => true, () => true).size; // 1
 * ```
 */
export function pairObjectKeys(
  canon: Canon,
  controlKeys: Iterable<unknown>,
  candidateKeys: Iterable<unknown>,
  controlLacks: (key: unknown) => boolean,
  candidateLacks: (key: unknown) => boolean,
): Map<unknown, unknown> {
  const partners = new Map<unknown, unknown>();
  const candidates: object[] = [];
  for (const key of candidateKeys) if (isDeepMember(key) && candidateLacks(key)) candidates.push(key);
  if (candidates.length === 0) return partners;
  let groups: Map<string, object[]> | undefined;
  for (const key of controlKeys) {
    if (!isDeepMember(key) || !controlLacks(key)) continue;
    groups ??= groupByForm(canon, candidates);
    const group = groups.get(canon.key(key));
    const partner = group?.shift();
    if (partner !== undefined) partners.set(key, partner);
  }
  return partners;
}

/** Two errors' messages, read through guards: an unreadable message equals nothing. */
function messagesEqual(c: object, d: object): boolean {
  const message = errorMessageOf(c);
  return message !== UNREADABLE && message === errorMessageOf(d);
}

function fields(c: object, d: object, path: PathNode | undefined, children: Task[]): void {
  const cf = c as Fields;
  const df = d as Fields;
  const controlKeys = Object.keys(c);
  for (let i = 0; i < controlKeys.length; i++) {
    const key = controlKeys[i] as string;
    const cv = cf[key];
    const dv = isOwnEnumerable(d, key) ? df[key] : undefined;
    if (cv === dv) continue;
    if (cv === undefined) children.push(recordTask("added", undefined, dv, CANDIDATE_ONLY, path, key));
    else if (dv === undefined) children.push(recordTask("removed", cv, undefined, CONTROL_ONLY, path, key));
    else children.push(compareTask(cv, dv, path, key));
  }
  const candidateKeys = Object.keys(d);
  for (let i = 0; i < candidateKeys.length; i++) {
    const key = candidateKeys[i] as string;
    if (isOwnEnumerable(c, key)) continue;
    const dv = df[key];
    if (dv === undefined) continue;
    children.push(recordTask("added", undefined, dv, CANDIDATE_ONLY, path, key));
  }
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
 * `Map` entries are matched by key, an object key by structure; Set members present on one side
 * only (by identity, then by structure) are reported at `path{}` with the member as the value.
 * A cycle met again is taken as equal, so cyclic values terminate. Any depth is walked.
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
  const walk = new Walk(true, options?.unordered);
  walk.run(control, candidate);
  return walk.out;
}

/**
 * `deepEqual` with an `unordered` hook: the same walk as `diff`, stopping at the first difference,
 * with the path tracked so the hook can be asked about each array. Iterative, so it also serves
 * `deepEqual` for values too deep for its recursive fast path.
 *
 * @example
 * ```ts
 * equalWithPaths([[1, 2]], [[2, 1]], { unordered: (p) => p === "[0]" }); // true
 * ```
 */
export function equalWithPaths(a: unknown, b: unknown, options?: CompareOptions): boolean {
  return !new Walk(false, options?.unordered).run(a, b);
}

/**
 * True when two arrays hold the same elements in any order (deep equality, multiplicities counted).
 * Elements are counted by canonical form in a `Map`: linear in the elements' size, plus hashing.
 *
 * @example
 * ```ts
 * multisetEqual([1, { a: 1 }, 1], [{ a: 1 }, 1, 1]); // true
 * multisetEqual([1, 1, 2], [1, 2, 2]); // false
 * ```
 */
export function multisetEqual(a: readonly unknown[], b: readonly unknown[], options?: CompareOptions): boolean {
  return new Walk(false, options?.unordered).multisetEqual(a, b, undefined);
}
