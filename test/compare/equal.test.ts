import { strict as assert } from "node:assert";
import { deepEqual } from "../../src/compare/equal";

class Money {
  constructor(
    public amount: number,
    public currency: string,
  ) {}
}
class OtherMoney {
  constructor(
    public amount: number,
    public currency: string,
  ) {}
}

const fn = (): number => 1;
const sym = Symbol("s");

type Case = [name: string, a: unknown, b: unknown, expected: boolean];

const cases: Case[] = [
  ["treats identical primitives as equal", 1, 1, true],
  ["treats different numbers as unequal", 1, 2, false],
  ["treats NaN as equal to NaN", NaN, NaN, true],
  ["treats +0 as equal to -0", 0, -0, true],
  ["treats a number and its string as unequal", 1, "1", false],
  ["treats different strings as unequal", "a", "b", false],
  ["treats bigints by value", 10n, 10n, true],
  ["treats different bigints as unequal", 10n, 11n, false],
  ["treats null and undefined as unequal", null, undefined, false],
  ["treats null and an empty object as unequal", null, {}, false],
  ["ignores key order", { a: 1, b: 2 }, { b: 2, a: 1 }, true],
  ["treats a key holding undefined as equal to a missing key", { a: 1, b: undefined }, { a: 1 }, true],
  ["treats a missing key as equal to a key holding undefined", { a: 1 }, { a: 1, b: undefined }, true],
  ["treats undefined keys on both sides with different names as equal", { a: undefined }, { b: undefined }, true],
  ["treats a key holding null as different from a missing key", { a: null }, {}, false],
  ["treats an extra defined key as a difference", { a: 1 }, { a: 1, b: 2 }, false],
  ["compares nested objects deeply", { a: { b: { c: [1, 2] } } }, { a: { b: { c: [1, 2] } } }, true],
  ["finds a nested difference", { a: { b: { c: [1, 2] } } }, { a: { b: { c: [1, 3] } } }, false],
  ["compares arrays index by index", [1, 2, 3], [1, 2, 3], true],
  ["treats arrays in another order as unequal", [1, 2], [2, 1], false],
  ["treats arrays of different length as unequal", [1, 2], [1, 2, 3], false],
  ["treats an array and an array-like object as unequal", [1], { 0: 1, length: 1 }, false],
  ["treats an empty array and an empty object as unequal", [], {}, false],
  ["treats a hole as equal to undefined", [, 1], [undefined, 1], true],
  ["compares Dates by time", new Date(5), new Date(5), true],
  ["treats Dates with different times as unequal", new Date(5), new Date(6), false],
  ["treats two invalid Dates as equal", new Date(NaN), new Date("nope"), true],
  ["treats a Date and its ISO string as unequal", new Date(0), new Date(0).toISOString(), false],
  ["compares RegExps by source and flags", /a+/g, /a+/g, true],
  ["treats RegExps with different flags as unequal", /a+/g, /a+/i, false],
  ["treats RegExps with different sources as unequal", /a+/, /b+/, false],
  ["compares Maps by content", new Map([["EUR", 1], ["USD", 2]]), new Map([["USD", 2], ["EUR", 1]]), true],
  ["treats Maps with a different value as unequal", new Map([["EUR", 1]]), new Map([["EUR", 2]]), false],
  ["treats Maps with a different key as unequal", new Map([["EUR", 1]]), new Map([["USD", 1]]), false],
  ["treats a Map entry holding undefined as different from no entry", new Map([["a", undefined]]), new Map(), false],
  ["matches Map keys by SameValueZero", new Map([[NaN, 1]]), new Map([[NaN, 1]]), true],
  ["matches object Map keys by structure", new Map([[{ sku: "A" }, 1]]), new Map([[{ sku: "A" }, 1]]), true],
  ["compares the values of structurally matched Map keys", new Map([[{ sku: "A" }, 1]]), new Map([[{ sku: "A" }, 2]]), false],
  ["treats Maps whose object keys differ as unequal", new Map([[{ sku: "A" }, 1]]), new Map([[{ sku: "B" }, 1]]), false],
  ["pairs structurally equal Map keys one to one, in insertion order", new Map([[{ k: 1 }, 1], [{ k: 1 }, 2]]), new Map([[{ k: 1 }, 1], [{ k: 1 }, 2]]), true],
  ["matches Map keys that are Maps, Sets and arrays by structure", new Map<unknown, number>([[new Map([[{ a: 1 }, [1]]]), 1], [new Set([{ b: 2 }]), 2], [[1, { c: 3 }], 3]]), new Map<unknown, number>([[[1, { c: 3 }], 3], [new Set([{ b: 2 }]), 2], [new Map([[{ a: 1 }, [1]]]), 1]]), true],
  ["treats errors whose message getters throw as unequal", unreadableError(), unreadableError(), false],
  ["compares Map values deeply", new Map([["a", { x: [1] }]]), new Map([["a", { x: [1] }]]), true],
  ["compares Sets of primitives by content", new Set([1, 2, 3]), new Set([3, 2, 1]), true],
  ["treats Sets with a different member as unequal", new Set([1, 2]), new Set([1, 3]), false],
  ["treats Sets of different sizes as unequal", new Set([1]), new Set([1, 2]), false],
  ["matches NaN members of Sets", new Set([NaN]), new Set([NaN]), true],
  ["matches object members of Sets deeply", new Set([{ a: 1 }, { a: 2 }]), new Set([{ a: 2 }, { a: 1 }]), true],
  ["treats Sets whose object members differ as unequal", new Set([{ a: 1 }, { a: 2 }]), new Set([{ a: 1 }, { a: 3 }]), false],
  ["pairs Set object members one to one", new Set([{ a: 1 }, { a: 1 }]), new Set([{ a: 1 }, { a: 2 }]), false],
  ["compares typed arrays by content", new Uint8Array([1, 2]), new Uint8Array([1, 2]), true],
  ["treats typed arrays with different content as unequal", new Uint8Array([1, 2]), new Uint8Array([1, 3]), false],
  ["treats typed arrays of different lengths as unequal", new Uint8Array([1]), new Uint8Array([1, 0]), false],
  ["treats a Uint8Array and a Buffer as unequal", new Uint8Array([1]), Buffer.from([1]), false],
  ["treats a Uint8Array and an Int8Array as unequal", new Uint8Array([1]), new Int8Array([1]), false],
  ["compares Buffers by content", Buffer.from("abc"), Buffer.from("abc"), true],
  ["treats Buffers with different content as unequal", Buffer.from("abc"), Buffer.from("abd"), false],
  ["compares Float64Arrays with NaN as equal", new Float64Array([NaN, 1]), new Float64Array([NaN, 1]), true],
  ["compares Float64Arrays with +0 and -0 as equal", new Float64Array([0]), new Float64Array([-0]), true],
  ["compares ArrayBuffers by bytes", new Uint8Array([1, 2]).buffer, new Uint8Array([1, 2]).buffer, true],
  ["treats ArrayBuffers with different bytes as unequal", new Uint8Array([1, 2]).buffer, new Uint8Array([2, 2]).buffer, false],
  ["compares DataViews by bytes", new DataView(new Uint8Array([1]).buffer), new DataView(new Uint8Array([1]).buffer), true],
  ["treats DataViews with different bytes as unequal", new DataView(new Uint8Array([1]).buffer), new DataView(new Uint8Array([2]).buffer), false],
  ["compares class instances by own fields", new Money(1, "EUR"), new Money(1, "EUR"), true],
  ["treats class instances with different fields as unequal", new Money(1, "EUR"), new Money(2, "EUR"), false],
  ["treats a plain object and a class instance as unequal", { amount: 1, currency: "EUR" }, new Money(1, "EUR"), false],
  ["treats instances of different classes as unequal", new Money(1, "EUR"), new OtherMoney(1, "EUR"), false],
  ["treats a null-prototype object and a plain object as unequal", Object.assign(Object.create(null), { a: 1 }), { a: 1 }, false],
  ["compares null-prototype objects by fields", Object.assign(Object.create(null), { a: 1 }), Object.assign(Object.create(null), { a: 1 }), true],
  ["compares functions by identity", fn, fn, true],
  ["treats two identical-looking functions as unequal", () => 1, () => 1, false],
  ["compares symbols by identity", sym, sym, true],
  ["treats two symbols with the same description as unequal", Symbol("s"), Symbol("s"), false],
  ["compares boxed numbers by value", new Number(1), new Number(1), true],
  ["treats boxed numbers with different values as unequal", new Number(1), new Number(2), false],
  ["compares boxed NaN as equal", new Number(NaN), new Number(NaN), true],
  ["compares boxed strings by value", new String("a"), new String("a"), true],
  ["treats boxed strings with different values as unequal", new String("a"), new String("b"), false],
  ["treats a boxed number and a primitive number as unequal", new Number(1), 1, false],
  ["compares boxed booleans by value", new Boolean(false), new Boolean(false), true],
  ["compares errors by message", new TypeError("boom"), new TypeError("boom"), true],
  ["treats errors with different messages as unequal", new TypeError("boom"), new TypeError("bang"), false],
  ["treats errors of different classes as unequal", new TypeError("boom"), new RangeError("boom"), false],
  ["ignores symbol-keyed properties", { [sym]: 1, a: 1 }, { a: 1 }, true],
];

function unreadableError(): Error {
  class Unreadable extends Error {
    override get message(): string {
      throw new Error("no");
    }
  }
  return new Unreadable();
}

describe("deepEqual", () => {
  for (const [name, a, b, expected] of cases) {
    it(name, () => {
      assert.equal(deepEqual(a, b), expected);
      assert.equal(deepEqual(b, a), expected, "symmetric");
    });
  }

  it("does not let a non-enumerable own property stand in for a missing key", () => {
    const b = { x: 1, z: 2 };
    Object.defineProperty(b, "y", { value: 2, enumerable: false });
    assert.equal(deepEqual({ x: 1, y: 2 }, b), false);
  });

  it("does not let an inherited property stand in for a missing key", () => {
    const proto = { shared: 1 };
    const a = Object.create(proto) as Record<string, unknown>;
    const b = Object.create(proto) as Record<string, unknown>;
    a["shared"] = 1;
    b["other"] = 1;
    assert.equal(deepEqual(a, b), false);
  });

  it("compares extra own fields of a Map subclass", () => {
    class Tagged extends Map<string, number> {
      label = "a";
    }
    const a = new Tagged([["x", 1]]);
    const b = new Tagged([["x", 1]]);
    assert.equal(deepEqual(a, b), true);
    b.label = "b";
    assert.equal(deepEqual(a, b), false);
  });

  describe("cycles", () => {
    it("terminates on two self-cycles and treats them as equal", () => {
      const a: Record<string, unknown> = { x: 1 };
      a["self"] = a;
      const b: Record<string, unknown> = { x: 1 };
      b["self"] = b;
      assert.equal(deepEqual(a, b), true);
    });

    it("finds a difference next to a self-cycle", () => {
      const a: Record<string, unknown> = { x: 1 };
      a["self"] = a;
      const b: Record<string, unknown> = { x: 2 };
      b["self"] = b;
      assert.equal(deepEqual(a, b), false);
    });

    it("terminates on mutual cycles of different lengths", () => {
      const a: Record<string, unknown> = { v: 1 };
      a["next"] = a;
      const b1: Record<string, unknown> = { v: 1 };
      const b2: Record<string, unknown> = { v: 1, next: b1 };
      b1["next"] = b2;
      assert.equal(deepEqual(a, b1), true);
    });

    it("terminates on a cycle on one side only", () => {
      const a: Record<string, unknown> = {};
      a["self"] = a;
      assert.equal(deepEqual(a, { self: { self: { self: {} } } }), false);
    });

    it("terminates on cycles through arrays, Maps and Sets", () => {
      const a: unknown[] = [];
      a.push(a, new Map([["m", a]]), new Set([a]));
      const b: unknown[] = [];
      b.push(b, new Map([["m", b]]), new Set([b]));
      assert.equal(deepEqual(a, b), true);
    });

    it("terminates quickly on a tree whose children point back to their parents", () => {
      const tree = (): Record<string, unknown> => {
        const root: Record<string, unknown> = { children: [] };
        for (let i = 0; i < 6; i++) {
          const child: Record<string, unknown> = { parent: root, children: [] };
          (root["children"] as unknown[]).push(child);
          for (let j = 0; j < 6; j++) (child["children"] as unknown[]).push({ parent: child, up: root, j });
        }
        return root;
      };
      const started = Date.now();
      assert.equal(deepEqual(tree(), tree()), true);
      assert.ok(Date.now() - started < 1000, "no exponential re-walk of back-edges");
    });

    it("handles cycles deeper than the untracked levels", () => {
      const build = (leaf: number): Record<string, unknown> => {
        const root: Record<string, unknown> = {};
        let node = root;
        for (let i = 0; i < 150; i++) {
          const next: Record<string, unknown> = {};
          node["n"] = next;
          node = next;
        }
        node["leaf"] = leaf;
        node["back"] = root;
        return root;
      };
      assert.equal(deepEqual(build(1), build(1)), true);
      assert.equal(deepEqual(build(1), build(2)), false);
    });
  });

  it("compares acyclic values deeper than the untracked levels", () => {
    const chain = (leaf: number): unknown => {
      let node: unknown = { leaf };
      for (let i = 0; i < 300; i++) node = { next: node };
      return node;
    };
    assert.equal(deepEqual(chain(1), chain(1)), true);
    assert.equal(deepEqual(chain(1), chain(2)), false);
  });

  it("keeps working after a getter throws half-way through a walk", () => {
    const deep = (throwing: boolean): unknown => {
      let node: Record<string, unknown> = {};
      const root = node;
      for (let i = 0; i < 40; i++) {
        const next: Record<string, unknown> = {};
        node["n"] = next;
        node = next;
      }
      Object.defineProperty(node, "bad", {
        enumerable: true,
        get: () => {
          if (throwing) throw new Error("getter");
          return 1;
        },
      });
      return root;
    };
    assert.throws(() => deepEqual(deep(true), deep(false)), /getter/);
    const a: Record<string, unknown> = {};
    a["self"] = a;
    const b: Record<string, unknown> = {};
    b["self"] = b;
    assert.equal(deepEqual(a, b), true);
    assert.equal(deepEqual({ x: [1, { y: 2 }] }, { x: [1, { y: 3 }] }), false);
  });

  describe("the unordered hook", () => {
    const unordered = (path: string): boolean => path === "tags";

    it("accepts the same elements in another order at a path the hook names", () => {
      assert.equal(deepEqual({ tags: [1, { a: 1 }, 2] }, { tags: [{ a: 1 }, 2, 1] }, { unordered }), true);
    });

    it("counts multiplicities", () => {
      assert.equal(deepEqual({ tags: [1, 1, 2] }, { tags: [1, 2, 2] }, { unordered }), false);
    });

    it("keeps order at paths the hook does not name", () => {
      assert.equal(deepEqual({ other: [1, 2] }, { other: [2, 1] }, { unordered }), false);
    });

    it("passes the array's path to the hook", () => {
      const seen: string[] = [];
      deepEqual({ a: [[1]], "b.c": [] }, { a: [[1]], "b.c": [] }, { unordered: (p) => (seen.push(p), false) });
      assert.deepEqual(seen, ["a", "a[0]", '["b.c"]']);
    });
  });
});

describe("deepEqual on deep values", () => {
  function nested(depth: number, leaf: unknown, wrap: (inner: unknown, level: number) => unknown): unknown {
    let value: unknown = leaf;
    for (let i = 0; i < depth; i++) value = wrap(value, i);
    return value;
  }
  const shapes: Array<[string, (inner: unknown, level: number) => unknown]> = [
    ["objects", (inner) => ({ next: inner })],
    ["arrays", (inner) => [inner]],
    ["Maps", (inner) => new Map([["k", inner]])],
    ["mixed objects, arrays, Maps and Sets", (inner, level) => [() => ({ a: inner }), () => [inner], () => new Map([[level, inner]]), () => new Set([inner])][level % 4]?.()],
  ];
  for (const [name, wrap] of shapes) {
    it(`finds equal ${name} 10 000 levels deep equal`, () => {
      assert.equal(deepEqual(nested(10_000, 1, wrap), nested(10_000, 1, wrap)), true);
    });
    it(`finds ${name} that differ 10 000 levels down unequal`, () => {
      assert.equal(deepEqual(nested(10_000, 1, wrap), nested(10_000, 2, wrap)), false);
    });
  }

  it("finds equal chains a million levels deep equal", () => {
    const wrap = (inner: unknown): unknown => ({ next: inner });
    assert.equal(deepEqual(nested(1_000_000, 1, wrap), nested(1_000_000, 1, wrap)), true);
  });
});
