import { strict as assert } from "node:assert";
import { diff, equalWithPaths, multisetEqual } from "../../src/compare/diff";
import type { FieldDiff } from "../../src/types/results";

class Money {
  constructor(public amount: number) {}
}

const d1 = new Date(1);
const d2 = new Date(2);
const bufA = Buffer.from([1, 2, 3]);
const bufB = Buffer.from([1, 9, 3]);
const fnA = (): number => 1;
const fnB = (): number => 1;
const money = new Money(1);

type Case = [name: string, control: unknown, candidate: unknown, expected: FieldDiff[]];

const cases: Case[] = [
  ["reports nothing for equal values", { a: [1, { b: 2 }] }, { a: [1, { b: 2 }] }, []],
  ["reports a changed root primitive at the root path", 1, 2, [{ path: "", kind: "changed", control: 1, candidate: 2 }]],
  ["reports a changed field by its identifier path", { total: 49.9 }, { total: 51.4 }, [{ path: "total", kind: "changed", control: 49.9, candidate: 51.4 }]],
  ["reports nested identifier keys with dots", { meta: { traceId: "a" } }, { meta: { traceId: "b" } }, [{ path: "meta.traceId", kind: "changed", control: "a", candidate: "b" }]],
  ["reports array indices in brackets", { lines: [{ tax: 1 }, { tax: 2 }, { tax: 3 }] }, { lines: [{ tax: 1 }, { tax: 2 }, { tax: 4 }] }, [{ path: "lines[2].tax", kind: "changed", control: 3, candidate: 4 }]],
  ["quotes keys that are not identifiers as JSON", { "a.b": 1 }, { "a.b": 2 }, [{ path: '["a.b"]', kind: "changed", control: 1, candidate: 2 }]],
  ["quotes keys that start with a digit", { x: { "1abc": 1 } }, { x: { "1abc": 2 } }, [{ path: 'x["1abc"]', kind: "changed", control: 1, candidate: 2 }]],
  ["escapes quotes in keys", { 'say "hi"': 1 }, { 'say "hi"': 2 }, [{ path: '["say \\"hi\\""]', kind: "changed", control: 1, candidate: 2 }]],
  ["reports a key only the candidate has as added", { a: 1 }, { a: 1, b: 2 }, [{ path: "b", kind: "added", candidate: 2 }]],
  ["reports a key only the control has as removed", { a: 1, b: 2 }, { a: 1 }, [{ path: "b", kind: "removed", control: 2 }]],
  ["treats a key holding undefined as equal to a missing key", { a: 1, b: undefined }, { a: 1 }, []],
  ["reports a defined value against undefined as added", { a: undefined }, { a: 1 }, [{ path: "a", kind: "added", candidate: 1 }]],
  ["reports undefined against a defined value as removed", { a: 1 }, { a: undefined }, [{ path: "a", kind: "removed", control: 1 }]],
  ["reports different typeof as a type diff", { a: 1 }, { a: "1" }, [{ path: "a", kind: "type", control: 1, candidate: "1" }]],
  ["reports null against an object as a type diff", { a: null }, { a: {} }, [{ path: "a", kind: "type", control: null, candidate: {} }]],
  ["reports an array against an object as a type diff", { a: [] }, { a: {} }, [{ path: "a", kind: "type", control: [], candidate: {} }]],
  ["reports a Date against its ISO string as a type diff", { at: d1 }, { at: d1.toISOString() }, [{ path: "at", kind: "type", control: d1, candidate: d1.toISOString() }]],
  ["reports a plain object against a class instance as a type diff", { m: { amount: 1 } }, { m: money }, [{ path: "m", kind: "type", control: { amount: 1 }, candidate: money }]],
  ["reports a Uint8Array against a Buffer as a type diff", new Uint8Array([1]), bufA, [{ path: "", kind: "type", control: new Uint8Array([1]), candidate: bufA }]],
  ["treats NaN as equal to NaN", { a: NaN }, { a: NaN }, []],
  ["treats +0 as equal to -0", { a: 0 }, { a: -0 }, []],
  ["reports a longer candidate array's tail as added", [1, 2], [1, 2, 3, 4], [{ path: "[2]", kind: "added", candidate: 3 }, { path: "[3]", kind: "added", candidate: 4 }]],
  ["reports a shorter candidate array's tail as removed", { xs: [1, 2, 3] }, { xs: [1] }, [{ path: "xs[1]", kind: "removed", control: 2 }, { path: "xs[2]", kind: "removed", control: 3 }]],
  ["compares arrays index by index", [1, 2], [2, 1], [{ path: "[0]", kind: "changed", control: 1, candidate: 2 }, { path: "[1]", kind: "changed", control: 2, candidate: 1 }]],
  ["reports differing Dates once, with both Dates", { at: d1 }, { at: d2 }, [{ path: "at", kind: "changed", control: d1, candidate: d2 }]],
  ["treats two invalid Dates as equal", new Date(NaN), new Date(NaN), []],
  ["reports differing Buffers once, not per byte", { body: bufA }, { body: bufB }, [{ path: "body", kind: "changed", control: bufA, candidate: bufB }]],
  ["reports differing typed arrays once", new Float64Array([1, 2]), new Float64Array([1, 3]), [{ path: "", kind: "changed", control: new Float64Array([1, 2]), candidate: new Float64Array([1, 3]) }]],
  ["reports differing RegExps as changed", { re: /a/g }, { re: /a/i }, [{ path: "re", kind: "changed", control: /a/g, candidate: /a/i }]],
  ["reports differing boxed primitives as changed", new Number(1), new Number(2), [{ path: "", kind: "changed", control: new Number(1), candidate: new Number(2) }]],
  ["reports different functions as changed", { f: fnA }, { f: fnB }, [{ path: "f", kind: "changed", control: fnA, candidate: fnB }]],
  ["reports a changed Map value with .get and a JSON key", { prices: new Map([["EUR", 1]]) }, { prices: new Map([["EUR", 2]]) }, [{ path: 'prices.get("EUR")', kind: "changed", control: 1, candidate: 2 }]],
  ["reports a numeric Map key as JSON", new Map([[1, "a"]]), new Map([[1, "b"]]), [{ path: ".get(1)", kind: "changed", control: "a", candidate: "b" }]],
  ["reports Map entries only the control has as removed", new Map([["a", 1], ["b", 2]]), new Map([["a", 1]]), [{ path: '.get("b")', kind: "removed", control: 2 }]],
  ["reports Map entries only the candidate has as added", new Map([["a", 1]]), new Map([["a", 1], ["b", 2]]), [{ path: '.get("b")', kind: "added", candidate: 2 }]],
  ["descends into Map values", new Map([["a", { x: [1] }]]), new Map([["a", { x: [2] }]]), [{ path: '.get("a").x[0]', kind: "changed", control: 1, candidate: 2 }]],
  ["renders non-JSON Map keys readably", new Map([[10n, 1]]), new Map([[10n, 2]]), [{ path: ".get(10n)", kind: "changed", control: 1, candidate: 2 }]],
  ["reports a Set member only the control has as removed", { tags: new Set(["a", "b"]) }, { tags: new Set(["a"]) }, [{ path: "tags{}", kind: "removed", control: "b" }]],
  ["reports a Set member only the candidate has as added", { tags: new Set(["a"]) }, { tags: new Set(["a", "c"]) }, [{ path: "tags{}", kind: "added", candidate: "c" }]],
  ["reports a swapped Set member as one removed and one added", new Set([1, 2]), new Set([1, 3]), [{ path: "{}", kind: "removed", control: 2 }, { path: "{}", kind: "added", candidate: 3 }]],
  ["matches Set object members deeply", new Set([{ a: 1 }, { a: 2 }]), new Set([{ a: 2 }, { a: 1 }]), []],
  ["reports unmatched Set object members", new Set([{ a: 1 }]), new Set([{ a: 2 }]), [{ path: "{}", kind: "removed", control: { a: 1 } }, { path: "{}", kind: "added", candidate: { a: 2 } }]],
  ["reports differing error messages as changed", new Error("a"), new Error("b"), [{ path: "", kind: "changed", control: new Error("a"), candidate: new Error("b") }]],
  ["reports class instance fields by path", { m: new Money(1) }, { m: new Money(2) }, [{ path: "m.amount", kind: "changed", control: 1, candidate: 2 }]],
  ["lists control keys first, then keys only the candidate has", { b: 1, a: 1 }, { c: 1, a: 2, b: 2 }, [{ path: "b", kind: "changed", control: 1, candidate: 2 }, { path: "a", kind: "changed", control: 1, candidate: 2 }, { path: "c", kind: "added", candidate: 1 }]],
];

describe("diff", () => {
  for (const [name, control, candidate, expected] of cases) {
    it(name, () => {
      assert.deepStrictEqual(diff(control, candidate), expected);
    });
  }

  it("leaves the absent side out of added and removed diffs, not set to undefined", () => {
    const [added] = diff({}, { a: 1 });
    const [removed] = diff({ a: 1 }, {});
    assert.ok(added !== undefined && !("control" in added));
    assert.ok(removed !== undefined && !("candidate" in removed));
  });

  it("keeps the Dates themselves on a Date diff", () => {
    const [only] = diff({ at: d1 }, { at: d2 });
    assert.equal(only?.control, d1);
    assert.equal(only?.candidate, d2);
  });

  describe("cycles", () => {
    it("terminates on two self-cycles and reports the real difference once", () => {
      const a: Record<string, unknown> = { x: 1 };
      a["self"] = a;
      const b: Record<string, unknown> = { x: 2 };
      b["self"] = b;
      assert.deepStrictEqual(diff(a, b), [{ path: "x", kind: "changed", control: 1, candidate: 2 }]);
    });

    it("terminates on a mutual cycle", () => {
      const a1: Record<string, unknown> = { v: 1 };
      const a2: Record<string, unknown> = { v: 2, next: a1 };
      a1["next"] = a2;
      const b1: Record<string, unknown> = { v: 1 };
      const b2: Record<string, unknown> = { v: 2, next: b1 };
      b1["next"] = b2;
      assert.deepStrictEqual(diff(a1, b1), []);
    });

    it("terminates on a cycle on one side only", () => {
      const a: Record<string, unknown> = {};
      a["self"] = a;
      assert.deepStrictEqual(diff(a, { self: { self: {} } }), [{ path: "self.self.self", kind: "removed", control: a }]);
    });
  });

  describe("the unordered hook", () => {
    const unordered = (path: string): boolean => path === "tags";

    it("reports a mere reordering as one changed diff at the array's path", () => {
      assert.deepStrictEqual(diff({ tags: [1, 2] }, { tags: [2, 1] }, { unordered }), [
        { path: "tags", kind: "changed", control: [1, 2], candidate: [2, 1] },
      ]);
    });

    it("reports different multisets as one changed diff at the array's path", () => {
      assert.deepStrictEqual(diff({ tags: [1, 2] }, { tags: [1, 2, 3] }, { unordered }), [
        { path: "tags", kind: "changed", control: [1, 2], candidate: [1, 2, 3] },
      ]);
    });

    it("reports nothing for the same order", () => {
      assert.deepStrictEqual(diff({ tags: [1, { a: 1 }] }, { tags: [1, { a: 1 }] }, { unordered }), []);
    });

    it("still descends into arrays the hook does not name", () => {
      assert.deepStrictEqual(diff({ xs: [1, 2] }, { xs: [2, 1] }, { unordered }).map((d) => d.path), ["xs[0]", "xs[1]"]);
    });

    it("makes equalWithPaths accept a reordering", () => {
      assert.equal(equalWithPaths({ tags: [{ a: 1 }, 2] }, { tags: [2, { a: 1 }] }, { unordered }), true);
      assert.equal(equalWithPaths({ tags: [1, 2] }, { tags: [1, 3] }, { unordered }), false);
    });
  });

  describe("multisetEqual", () => {
    const table: Array<[string, unknown[], unknown[], boolean]> = [
      ["accepts the same primitives in another order", [1, 2, 3], [3, 1, 2], true],
      ["counts repeated primitives", [1, 1, 2], [1, 2, 2], false],
      ["pairs objects deeply", [{ a: 1 }, { a: 2 }], [{ a: 2 }, { a: 1 }], true],
      ["pairs objects one to one", [{ a: 1 }, { a: 1 }], [{ a: 1 }, { a: 2 }], false],
      ["rejects different lengths", [1], [1, 1], false],
      ["matches NaN with NaN", [NaN], [NaN], true],
    ];
    for (const [name, a, b, expected] of table) {
      it(name, () => assert.equal(multisetEqual(a, b), expected));
    }
  });
});

describe("diff of Maps with object keys", () => {
  it("reports nothing for equal Maps whose keys are distinct but equal objects", () => {
    assert.deepStrictEqual(diff(new Map([[{ sku: "A" }, 1]]), new Map([[{ sku: "A" }, 1]])), []);
  });

  it("reports a changed value under a structurally matched key at .get(<key>)", () => {
    assert.deepStrictEqual(diff(new Map([[{ sku: "A" }, 1]]), new Map([[{ sku: "A" }, 2]])), [
      { path: '.get({"sku":"A"})', kind: "changed", control: 1, candidate: 2 },
    ]);
  });

  it("reports keys that match no key of the other side as removed and added", () => {
    assert.deepStrictEqual(diff(new Map([[{ sku: "A" }, 1]]), new Map([[{ sku: "B" }, 1]])), [
      { path: '.get({"sku":"A"})', kind: "removed", control: 1 },
      { path: '.get({"sku":"B"})', kind: "added", candidate: 1 },
    ]);
  });

  it("matches 20 000 object keys given in another order", () => {
    const keys = Array.from({ length: 20_000 }, (_, i) => ({ id: i }));
    const a = new Map(keys.map((k) => [k, k.id]));
    const b = new Map([...keys].reverse().map((k) => [{ id: k.id }, k.id]));
    assert.deepStrictEqual(diff(a, b), []);
    assert.equal(equalWithPaths(a, b), true);
  });

  it("matches 20 000 object Set members given in another order", () => {
    const a = new Set(Array.from({ length: 20_000 }, (_, i) => ({ id: i })));
    const b = new Set(Array.from({ length: 20_000 }, (_, i) => ({ id: 19_999 - i })));
    assert.deepStrictEqual(diff(a, b), []);
  });
});

describe("diff of deep values", () => {
  function chain(depth: number, leaf: unknown): unknown {
    let value: unknown = leaf;
    for (let i = 0; i < depth; i++) value = { next: value };
    return value;
  }

  it("reports nothing for equal values 100 000 levels deep", () => {
    assert.deepStrictEqual(diff(chain(100_000, 1), chain(100_000, 1)), []);
  });

  it("finds the one difference 10 000 levels down, with its full path", () => {
    const found = diff(chain(10_000, 1), chain(10_000, 2));
    assert.equal(found.length, 1);
    assert.equal(found[0]?.path, Array.from({ length: 10_000 }, () => "next").join("."));
  });

  it("takes a deep cycle met again as equal", () => {
    const a = chain(5_000, 0) as Record<string, unknown>;
    const b = chain(5_000, 0) as Record<string, unknown>;
    a["loop"] = a;
    b["loop"] = b;
    assert.deepStrictEqual(diff(a, b), []);
  });

  it("compares deep arrays nested in Sets and Maps", () => {
    let a: unknown = 1;
    let b: unknown = 1;
    for (let i = 0; i < 5_000; i++) {
      a = i % 2 === 0 ? new Set([a]) : [a];
      b = i % 2 === 0 ? new Set([b]) : [b];
    }
    assert.deepStrictEqual(diff(a, b), []);
  });
});

describe("diff of many deep differences", () => {
  it("reports 20 000 differences along a 20 000-level chain, each at its full path", () => {
    const make = (offset: number): unknown => {
      let value: unknown = {};
      for (let i = 0; i < 20_000; i++) value = { v: i + offset, next: value };
      return value;
    };
    const found = diff(make(0), make(1));
    assert.equal(found.length, 20_000);
    assert.equal(found[0]?.path, "v");
    assert.equal(found[2]?.path, "next.next.v");
    assert.equal(found[19_999]?.path, `${"next.".repeat(19_999)}v`);
  });
});
