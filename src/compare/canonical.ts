/**
 * A canonical form of a value under penumbra's equality rules, so that values which must be matched
 * by structure rather than identity (`Map` keys, `Set` members, the elements of arrays compared as
 * multisets) can be matched through a hash map instead of pairing every candidate with every other:
 * linear-ish (a sort per Set or Map) instead of quadratic. Two values have the same canonical form
 * exactly when `deepEqual` says they are equal, with one documented difference: a cycle is described
 * by where it points back to (its shape), so two cyclic values that unroll to the same infinite tree
 * but loop at different heights are different here.
 *
 * The walk is iterative (an explicit stack), so a value thousands of levels deep costs memory, not
 * call stack. Each object's form is interned to a small number, so a parent's form holds its
 * children's numbers, not their text: the work is linear in the nodes visited.
 */
import { createHash } from "node:crypto";
import { types } from "node:util";
import { UNREADABLE, errorMessageOf } from "./safe-read";
import { SET_MEMBER, appendIndex, appendKey, appendMapKey, appendSetMember, mapKey, type PathSegment } from "./path";
import {
  TAG_BOXED,
  TAG_BUFFER,
  TAG_DATE,
  TAG_ERROR,
  TAG_MAP,
  TAG_REGEXP,
  TAG_SET,
  TAG_VIEW,
  classify,
  unbox,
} from "./walk-helpers";

/**
 * A path as a linked list (each step points at its parent), so that going one level down costs one
 * small object and no copy of the path.
 *
 * @internal
 * @example
 * ```ts
 * const node: PathNode = { parent: undefined, segment: "lines" };
 * pathText({ parent: node, segment: 2 }); // "lines[2]"
 * ```
 */
export interface PathNode {
  readonly parent: PathNode | undefined;
  readonly segment: PathSegment;
  /** The path as text, once asked for (see `pathText`). */
  text?: string;
}

/**
 * The path as text (`formatPath` of its segments), remembered on each node on the way: a walk that
 * reports many differences deep in one value formats each level once, not once per difference (each
 * text shares its parent's, so the memory is per level too).
 *
 * @internal
 * @example
 * ```ts
 * pathText({ parent: { parent: undefined, segment: "lines" }, segment: 2 }); // "lines[2]"
 * ```
 */
export function pathText(node: PathNode | undefined): string {
  if (node === undefined) return "";
  if (node.text !== undefined) return node.text;
  const pending: PathNode[] = [];
  let n: PathNode | undefined = node;
  while (n !== undefined && n.text === undefined) {
    pending.push(n);
    n = n.parent;
  }
  let text = n === undefined ? "" : (n.text as string);
  for (let i = pending.length - 1; i >= 0; i--) {
    const step = pending[i] as PathNode;
    const segment = step.segment;
    if (typeof segment === "string") text = appendKey(text, segment);
    else if (typeof segment === "number") text = appendIndex(text, segment);
    else if ("mapKey" in segment) text = appendMapKey(text, segment.mapKey);
    else text = appendSetMember(text);
    step.text = text;
  }
  return text;
}

const SEQ = 0; // array elements, in order
const SORTED = 1; // Set members, or an unordered array: order does not matter
const ENTRIES = 2; // Map entries: [key, value] pairs, ordered by key form (ties keep insertion order)
type Layout = typeof SEQ | typeof SORTED | typeof ENTRIES;

interface Frame {
  readonly value: object;
  readonly head: string;
  /** Content children first (elements, members, entries), then field values. */
  readonly items: unknown[];
  /** How many of `items` are content; the rest are fields named by `labels`. */
  readonly split: number;
  readonly layout: Layout;
  readonly labels: readonly string[];
  readonly path: PathNode | undefined;
  readonly results: string[];
  next: number;
}

// Binary data longer than this is represented by a digest instead of its bytes.
const INLINE_BYTES = 64;

/**
 * One comparison's canonical forms. The numbers it hands out for identities (functions, symbols,
 * prototypes) and for interned forms are only meaningful within one `Canon`: use one per comparison.
 *
 * @internal
 * @example
 * ```ts
 * const canon = new Canon();
 * canon.key({ sku: "A" }) === canon.key({ sku: "A" }); // true
 * canon.key(new Set([1, 2])) === canon.key(new Set([2, 1])); // true
 * ```
 */
export class Canon {
  private readonly identities = new Map<unknown, number>();
  private readonly interned = new Map<string, number>();

  /**
   * @param unordered - the comparison's `unordered` hook: arrays at paths it accepts are multisets.
   */
  constructor(private readonly unordered?: (path: string) => boolean) {}

  /**
   * The canonical form of `value` (found at `path`, which only matters to the `unordered` hook).
   * Throws only what the value throws (a Proxy trap), like the comparison walks.
   */
  key(value: unknown, path?: PathNode): string {
    if (typeof value !== "object" || value === null) return this.primitive(value);
    const stack: Frame[] = [];
    // Objects on the current path, with their depth: a value met again below itself is a cycle.
    const active = new Map<object, number>();
    let result = "";
    const open = (value: object, at: PathNode | undefined): void => {
      active.set(value, stack.length);
      stack.push(this.frame(value, at));
    };
    open(value, path);
    while (stack.length > 0) {
      const frame = stack[stack.length - 1] as Frame;
      if (frame.next < frame.items.length) {
        const index = frame.next++;
        const child = frame.items[index];
        if (typeof child !== "object" || child === null) {
          frame.results.push(this.primitive(child));
          continue;
        }
        const depth = active.get(child);
        if (depth !== undefined) {
          frame.results.push(`^${stack.length - depth}`);
          continue;
        }
        open(child, this.unordered === undefined ? undefined : { parent: frame.path, segment: this.segmentOf(frame, index) });
        continue;
      }
      stack.pop();
      active.delete(frame.value);
      const form = `#${this.intern(assemble(frame))}`;
      const parent = stack[stack.length - 1];
      if (parent === undefined) result = form;
      else parent.results.push(form);
    }
    return result;
  }

  private segmentOf(frame: Frame, index: number): PathSegment {
    if (index >= frame.split) return frame.labels[index - frame.split] as string;
    if (frame.layout === ENTRIES) return mapKey(frame.items[index - (index % 2)]);
    return frame.head.startsWith("A") ? index : SET_MEMBER;
  }

  private identity(value: unknown): number {
    let id = this.identities.get(value);
    if (id === undefined) {
      id = this.identities.size + 1;
      this.identities.set(value, id);
    }
    return id;
  }

  private intern(form: string): number {
    let id = this.interned.get(form);
    if (id === undefined) {
      id = this.interned.size + 1;
      this.interned.set(form, id);
    }
    return id;
  }

  private primitive(value: unknown): string {
    switch (typeof value) {
      case "string":
        return JSON.stringify(value);
      case "number":
        // NaN equals NaN and +0 equals -0, as in deepEqual.
        return value !== value ? "nNaN" : value === 0 ? "n0" : `n${value}`;
      case "bigint":
        return `b${value}`;
      case "boolean":
        return value ? "t" : "f";
      case "undefined":
        return "u";
      default:
        // null, and functions and symbols, which compare by identity.
        return value === null ? "z" : `i${this.identity(value)}`;
    }
  }

  private frame(value: object, path: PathNode | undefined): Frame {
    const proto = `${this.identity(Object.getPrototypeOf(value))}`;
    if (Array.isArray(value)) {
      const items: unknown[] = new Array(value.length);
      for (let i = 0; i < value.length; i++) items[i] = value[i];
      const unordered = this.unordered !== undefined && this.unordered(pathText(path));
      return newFrame(value, `A${proto}:${items.length}`, items, items.length, unordered ? SORTED : SEQ, [], path);
    }
    if (Object.getPrototypeOf(value) === Object.prototype) return withFields(value, `O${proto}`, [], SEQ, path);
    switch (classify(value)) {
      case TAG_DATE: {
        const time = Date.prototype.getTime.call(value);
        return withFields(value, `D${proto}:${time !== time ? "NaN" : time}`, [], SEQ, path);
      }
      case TAG_REGEXP: {
        const r = value as RegExp;
        return withFields(value, `R${proto}:${JSON.stringify(r.source)}/${r.flags}`, [], SEQ, path);
      }
      case TAG_VIEW:
      case TAG_BUFFER:
        return newFrame(value, `B${proto}:${binaryForm(value as ArrayBufferView)}`, [], 0, SEQ, [], path);
      case TAG_BOXED:
        return newFrame(value, `X${proto}:${this.primitive(unbox(value))}`, [], 0, SEQ, [], path);
      case TAG_ERROR: {
        const message = errorMessageOf(value);
        // An unreadable message equals nothing but the same error.
        if (message === UNREADABLE) return newFrame(value, `E!${this.identity(value)}`, [], 0, SEQ, [], path);
        return withFields(value, `E${proto}:${JSON.stringify(message)}`, [], SEQ, path);
      }
      case TAG_MAP: {
        const entries: unknown[] = [];
        for (const [k, v] of value as Map<unknown, unknown>) entries.push(k, v);
        return withFields(value, `M${proto}`, entries, ENTRIES, path);
      }
      case TAG_SET: {
        const members: unknown[] = [];
        for (const member of value as Set<unknown>) members.push(member);
        return withFields(value, `S${proto}`, members, SORTED, path);
      }
      default:
        return withFields(value, `O${proto}`, [], SEQ, path);
    }
  }
}

function newFrame(
  value: object,
  head: string,
  items: unknown[],
  split: number,
  layout: Layout,
  labels: readonly string[],
  path: PathNode | undefined,
): Frame {
  return { value, head, items, split, layout, labels, path, results: [], next: 0 };
}

/** A frame whose own enumerable fields (those not holding `undefined`) follow its content, by key. */
function withFields(value: object, head: string, content: unknown[], layout: Layout, path: PathNode | undefined): Frame {
  const keys = Object.keys(value).sort();
  const labels: string[] = [];
  const split = content.length;
  for (const key of keys) {
    const field = (value as Record<string, unknown>)[key];
    // A key holding undefined equals a missing key.
    if (field === undefined) continue;
    labels.push(key);
    content.push(field);
  }
  return newFrame(value, head, content, split, layout, labels, path);
}

function assemble(frame: Frame): string {
  const { results, split, layout } = frame;
  let content: string;
  if (layout === SEQ) content = results.slice(0, split).join(",");
  else if (layout === SORTED) content = results.slice(0, split).sort().join(",");
  else {
    const pairs: Array<[string, string]> = [];
    for (let i = 0; i < split; i += 2) pairs.push([results[i] as string, results[i + 1] as string]);
    // Array.prototype.sort is stable: equal keys keep their insertion order, as the walkers pair them.
    pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    content = pairs.map(([k, v]) => `${k}=>${v}`).join(",");
  }
  let fields = "";
  for (let i = 0; i < frame.labels.length; i++) {
    if (i > 0) fields += ",";
    fields += `${JSON.stringify(frame.labels[i])}:${results[split + i] as string}`;
  }
  return `${frame.head}(${content}){${fields}}`;
}

/** Bytes as hex (short) or a digest (long); float arrays by their numbers (NaN = NaN, +0 = -0). */
function binaryForm(view: ArrayBufferView | ArrayBuffer): string {
  if (types.isFloat64Array(view) || types.isFloat32Array(view)) {
    const numbers = view as Float64Array;
    const parts: string[] = new Array(numbers.length);
    for (let i = 0; i < numbers.length; i++) {
      const x = numbers[i] as number;
      parts[i] = x !== x ? "NaN" : x === 0 ? "0" : String(x);
    }
    const text = parts.join(",");
    return text.length <= INLINE_BYTES * 2 ? text : `~${createHash("sha256").update(text).digest("hex")}`;
  }
  const bytes = types.isAnyArrayBuffer(view)
    ? Buffer.from(view as ArrayBuffer)
    : Buffer.from(view.buffer, view.byteOffset, view.byteLength);
  if (bytes.length <= INLINE_BYTES) return `${bytes.length}:${bytes.toString("hex")}`;
  return `${bytes.length}~${createHash("sha256").update(bytes).digest("hex")}`;
}

/**
 * Groups `values` by canonical form, each group in the order given: the queue a structural match
 * takes partners from.
 *
 * @internal
 * @example
 * ```ts
 * const groups = groupByForm(new Canon(), [{ a: 1 }, { a: 1 }]); // one group of two
 * ```
 */
export function groupByForm<T>(canon: Canon, values: readonly T[], formOf: (value: T) => unknown = (v) => v): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const value of values) {
    const form = canon.key(formOf(value));
    const group = groups.get(form);
    if (group === undefined) groups.set(form, [value]);
    else group.push(value);
  }
  return groups;
}
