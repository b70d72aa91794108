/**
 * Properties of diffs and summaries over generated pairs of values of every kind the walkers know
 * (JSON shapes, Dates, Maps with any keys, Sets, typed arrays, BigInt, -0, NaN, sparse arrays, symbol
 * keys, class instances, null-prototype objects):
 *
 * - every diff's path is in the path syntax (a glob can name it) and leads to a value on at least one
 *   side, and its sides are the values found there;
 * - the summary is deterministic: the same pair twice, or a structural copy of it, gives the same text;
 * - swapping control and candidate swaps the two sides of every line;
 * - the summary names every listed diff's path with both its sides.
 */
import { strict as assert } from "node:assert";
import fc from "fast-check";
import { diff } from "../../src/compare/diff";
import { deepEqual } from "../../src/compare/equal";
import { formatValue, pathLabel, summarize } from "../../src/compare/format";
import { renderMapKey } from "../../src/compare/path";
import { parsePath } from "../../src/compare/path-glob";
import type { FieldDiff } from "../../src/types/results";

class Point {
  constructor(
    public x: unknown,
    public y: unknown,
  ) {}
}

const primitive = fc.constantFrom<unknown>(0, -0, 1, NaN, Infinity, 1n, 2n ** 70n, "", "a", "a\nb", "\u202e", true, false, null, undefined);
const key = fc.constantFrom("a", "b", "a.b", "1abc", "constructor", "__proto__", "[0]", "get(1)", "{}", "é");

const { value } = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    primitive,
    fc.array(tie("value"), { maxLength: 3 }),
    // Sparse: holes after the elements.
    fc.array(tie("value"), { maxLength: 2 }).map((a) => {
      const sparse = [...a];
      sparse.length += 2;
      return sparse;
    }),
    fc.dictionary(key, tie("value"), { maxKeys: 3 }),
    fc.dictionary(key, tie("value"), { maxKeys: 2 }).map((d) => Object.assign(Object.create(null) as object, d)),
    fc.tuple(fc.dictionary(key, tie("value"), { maxKeys: 2 }), tie("value")).map(([d, hidden]) => ({ ...d, [Symbol.for("hidden")]: hidden })),
    fc.constantFrom(0, 1, NaN).map((t) => new Date(t)),
    fc.array(fc.tuple(fc.oneof(fc.constantFrom<unknown>("a", 1, NaN, 1n, undefined, null), tie("value")), tie("value")), { maxLength: 2 }).map((e) => new Map(e)),
    fc.array(fc.oneof(primitive, tie("value")), { maxLength: 3 }).map((m) => new Set(m)),
    fc.array(fc.integer({ min: 0, max: 2 }), { maxLength: 2 }).map((b) => Uint8Array.from(b)),
    fc.array(fc.constantFrom(0, -0, NaN, 0.1), { maxLength: 2 }).map((b) => Float64Array.from(b)),
    fc.tuple(tie("value"), tie("value")).map(([x, y]) => new Point(x, y)),
  ),
}));

/** A structural copy: equal to the original and sharing no object with it. */
function copy(v: unknown): unknown {
  if (typeof v !== "object" || v === null) return v;
  if (Array.isArray(v)) {
    const out: unknown[] = new Array<unknown>(v.length);
    v.forEach((x, i) => (out[i] = copy(x)));
    return out;
  }
  if (v instanceof Date) return new Date(v.getTime());
  if (v instanceof Map) return new Map([...v].map(([k, x]) => [copy(k), copy(x)]));
  if (v instanceof Set) return new Set([...v].map(copy));
  if (v instanceof Uint8Array) return Uint8Array.from(v);
  if (v instanceof Float64Array) return Float64Array.from(v);
  const out = Object.create(Object.getPrototypeOf(v) as object | null) as Record<PropertyKey, unknown>;
  for (const k of Reflect.ownKeys(v)) {
    // defineProperty: an own key named __proto__ is data, not the prototype.
    Object.defineProperty(out, k, { value: copy((v as Record<PropertyKey, unknown>)[k]), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

const ABSENT = Symbol("absent");
const UNRESOLVED = Symbol("unresolved");

/** The value a path leads to in `root`: ABSENT when a step is missing, UNRESOLVED below a Set's members. */
function resolve(root: unknown, path: string): unknown {
  let at: unknown = root;
  for (const segment of parsePath(path)) {
    if (at === ABSENT) return ABSENT;
    if (segment === "{}") return UNRESOLVED; // a Set's members have no position to follow
    if (segment.startsWith(".get(")) {
      if (!(at instanceof Map)) return ABSENT;
      const rendered = segment.slice(".get(".length, -1);
      const entries = [...at].filter(([k]) => renderMapKey(k) === rendered);
      // Keys matched by structure, or two keys that render alike (two Invalid Dates): the path is for reading.
      if (entries.length !== 1) return UNRESOLVED;
      at = (entries[0] as [unknown, unknown])[1];
      continue;
    }
    const index = /^\[(\d+)\]$/.exec(segment);
    const name = index !== null ? Number(index[1]) : segment.startsWith('["') ? (JSON.parse(segment.slice(1, -1)) as string) : segment;
    if (typeof at !== "object" || at === null) return ABSENT;
    // An array's hole is a position that holds undefined.
    const present = Array.isArray(at) && typeof name === "number" ? name < at.length : Object.prototype.hasOwnProperty.call(at, name);
    if (!present) return ABSENT;
    at = (at as Record<string | number, unknown>)[name];
  }
  return at;
}

function swapped(d: FieldDiff): FieldDiff {
  const out: FieldDiff = { path: d.path, kind: d.kind === "added" ? "removed" : d.kind === "removed" ? "added" : d.kind };
  if ("candidate" in d) out.control = d.candidate;
  if ("control" in d) out.candidate = d.control;
  return out;
}

describe("diff and summary properties over generated values", () => {
  it("writes every path in the path syntax, leading to its sides' values on at least one side", () => {
    fc.assert(
      fc.property(value, value, (a, b) => {
        for (const d of diff(a, b)) {
          assert.doesNotThrow(() => parsePath(d.path), `a glob can name ${d.path}`);
          const left = resolve(a, d.path);
          const right = resolve(b, d.path);
          assert.ok(left !== ABSENT || right !== ABSENT, `${JSON.stringify(d.path)} exists on one side`);
          if ("control" in d && d.kind !== "added" && left !== UNRESOLVED && left !== ABSENT) {
            assert.ok(deepEqual(left, d.control), `the control side of ${d.path} is the control's value there`);
          }
          if ("candidate" in d && d.kind !== "removed" && right !== UNRESOLVED && right !== ABSENT) {
            assert.ok(deepEqual(right, d.candidate), `the candidate side of ${d.path} is the candidate's value there`);
          }
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("gives the same summary for the same pair twice and for a structural copy of it", () => {
    fc.assert(
      fc.property(value, value, (a, b) => {
        const first = summarize(diff(a, b));
        assert.equal(summarize(diff(a, b)), first);
        assert.equal(summarize(diff(copy(a), copy(b))), first);
        assert.equal(first === "", deepEqual(a, b), "a summary is empty exactly when the values are equal");
      }),
      { numRuns: 2000 },
    );
  });

  it("swaps the sides of every line when control and candidate are swapped", () => {
    fc.assert(
      fc.property(value, value, (a, b) => {
        const forward = diff(a, b).map((d) => summarize([d])).sort();
        const backward = diff(b, a).map((d) => summarize([swapped(d)])).sort();
        assert.deepEqual(backward, forward);
      }),
      { numRuns: 2000 },
    );
  });

  it("names each listed diff's path with both its sides", () => {
    fc.assert(
      fc.property(value, value, (a, b) => {
        const diffs = diff(a, b).slice(0, 10);
        const summary = summarize(diffs);
        for (const d of diffs) {
          const control = d.kind === "added" ? "(missing)" : formatValue(d.control);
          const candidate = d.kind === "removed" ? "(missing)" : formatValue(d.candidate);
          // The path as a summary shows it: cut in the middle when long, escaped to one line (a bidi override in a key).
          assert.ok(summary.includes(`${pathLabel(d.path)}=${control} vs ${candidate}`), `${summary} names ${d.path}`);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
