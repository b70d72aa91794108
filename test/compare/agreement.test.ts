import { strict as assert } from "node:assert";
import fc from "fast-check";
import { diff } from "../../src/compare/diff";
import { deepEqual } from "../../src/compare/equal";

class Point {
  constructor(
    public x: unknown,
    public y: unknown,
  ) {}
}

// Small domains on purpose: independently generated values then collide often enough to exercise
// the equal branch of every rule, not just the "obviously different" one.
const primitive = fc.constantFrom<unknown>(0, -0, 1, NaN, Infinity, 1n, "", "a", "1", true, false, null, undefined);
const key = fc.constantFrom("a", "b", "a.b", "1abc", "constructor");

const { value } = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    primitive,
    fc.array(tie("value"), { maxLength: 3 }),
    fc.dictionary(key, tie("value"), { maxKeys: 3 }),
    fc.constantFrom(0, 1, NaN).map((t) => new Date(t)),
    fc.array(fc.tuple(fc.oneof(fc.constantFrom<unknown>("a", 1, NaN), tie("value")), tie("value")), { maxLength: 2 }).map((e) => new Map(e)),
    fc.array(fc.oneof(primitive, tie("value")), { maxLength: 3 }).map((m) => new Set(m)),
    fc.array(fc.integer({ min: 0, max: 2 }), { maxLength: 2 }).map((b) => Uint8Array.from(b)),
    fc.array(fc.integer({ min: 0, max: 2 }), { maxLength: 2 }).map((b) => Buffer.from(b)),
    fc.constantFrom(/a/, /a/g, /b/),
    fc.tuple(tie("value"), tie("value")).map(([x, y]) => new Point(x, y)),
    fc.constantFrom(0, 1).map((n) => new Number(n)),
  ),
}));

/** A structural copy, so equal pairs are separate objects (not `===`). */
function copy(v: unknown): unknown {
  if (typeof v !== "object" || v === null) return v;
  if (Array.isArray(v)) return v.map(copy);
  if (v instanceof Date) return new Date(v.getTime());
  if (v instanceof Map) return new Map([...v].map(([k, x]) => [k, copy(x)]));
  if (v instanceof Set) return new Set([...v].map(copy));
  if (Buffer.isBuffer(v)) return Buffer.from(v);
  if (v instanceof Uint8Array) return Uint8Array.from(v);
  if (v instanceof RegExp) return new RegExp(v.source, v.flags);
  if (v instanceof Point) return new Point(copy(v.x), copy(v.y));
  if (v instanceof Number) return new Number(v.valueOf());
  const out = Object.create(Object.getPrototypeOf(v) as object | null) as Record<string, unknown>;
  for (const [k, x] of Object.entries(v)) out[k] = copy(x);
  return out;
}

describe("agreement between deepEqual and diff", () => {
  it("returns an empty diff exactly when deepEqual is true, for independent values", () => {
    fc.assert(
      fc.property(value, value, (a, b) => {
        assert.equal(diff(a, b).length === 0, deepEqual(a, b));
        assert.equal(deepEqual(a, b), deepEqual(b, a), "deepEqual is symmetric");
      }),
      { numRuns: 3000 },
    );
  });

  it("returns an empty diff and true for a value and its structural copy", () => {
    fc.assert(
      fc.property(value, (a) => {
        const b = copy(a);
        assert.equal(deepEqual(a, b), true);
        assert.deepStrictEqual(diff(a, b), []);
      }),
      { numRuns: 1000 },
    );
  });

  it("finds a difference after a change wrapped in the same structure", () => {
    fc.assert(
      fc.property(value, value, (a, b) => {
        fc.pre(!deepEqual(a, b));
        const wrappedA = { order: [a] };
        const wrappedB = { order: [b] };
        assert.equal(deepEqual(wrappedA, wrappedB), false);
        const diffs = diff(wrappedA, wrappedB);
        assert.ok(diffs.length > 0);
        for (const d of diffs) assert.ok(d.path.startsWith("order[0]"), d.path);
      }),
      { numRuns: 500 },
    );
  });

  it("agrees with the diff's own stop-at-first mode on whether anything differs", () => {
    fc.assert(
      fc.property(value, value, (a, b) => {
        const hook = { unordered: (): boolean => false };
        assert.equal(deepEqual(a, b, hook), deepEqual(a, b));
      }),
      { numRuns: 1000 },
    );
  });
});
