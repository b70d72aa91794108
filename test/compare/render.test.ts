import { strict as assert } from "node:assert";
import { errorLabel, formatValue, truncate } from "../../src/compare/render";

class Money {
  constructor(public amount: number) {}
}

function circular(): unknown {
  const a: Record<string, unknown> = { x: 1 };
  a["self"] = a;
  return a;
}

describe("formatValue", () => {
  const table: Array<[string, unknown, string]> = [
    ["renders numbers as JSON", 49.9, "49.9"],
    ["renders -0 as 0, as JSON does", -0, "0"],
    ["renders strings as JSON", "EUR", '"EUR"'],
    ["escapes quotes in strings", 'a"b', '"a\\"b"'],
    ["renders plain objects as JSON", { total: 1 }, '{"total":1}'],
    ["renders arrays as JSON", [1, 2], "[1,2]"],
    ["renders null", null, "null"],
    ["renders booleans", true, "true"],
    ["renders undefined readably", undefined, "undefined"],
    ["renders NaN readably", NaN, "NaN"],
    ["renders Infinity readably", -Infinity, "-Infinity"],
    ["renders bigints with an n", 123n, "123n"],
    ["renders symbols by description", Symbol("s"), "Symbol(s)"],
    ["renders named functions", function price() {}, "[Function price]"],
    ["renders anonymous functions", (() => () => 1)(), "[Function (anonymous)]"],
    ["renders Dates as their quoted ISO string", new Date(0), '"1970-01-01T00:00:00.000Z"'],
    ["renders invalid Dates readably", new Date(NaN), "Invalid Date"],
    ["renders Maps in a short form", new Map([["EUR", 1], ["USD", 2]]), 'Map(2) {"EUR" => 1, "USD" => 2}'],
    ["renders Sets in a short form", new Set([1, "a"]), 'Set(2) {1, "a"}'],
    ["renders typed arrays with their class and length", new Uint8Array([1, 2]), "Uint8Array(2) [1,2]"],
    ["renders Buffers with their class", Buffer.from([7]), "Buffer(1) [7]"],
    ["renders ArrayBuffers by size", new ArrayBuffer(8), "ArrayBuffer(8)"],
    ["renders RegExps as literals", /a+/gi, "/a+/gi"],
    ["renders errors by name and message", new TypeError("boom"), "[TypeError: boom]"],
    ["renders boxed primitives", new Number(3), "[Number: 3]"],
    ["prefixes class instances with the class name", new Money(1), 'Money {"amount":1}'],
    ["leaves out keys holding undefined", { a: 1, b: undefined }, '{"a":1}'],
    ["renders undefined array elements readably", [undefined], "[undefined]"],
    ["renders cycles as [Circular]", circular(), '{"x":1,"self":[Circular]}'],
    ["honours toJSON", { toJSON: () => ({ v: 1 }) }, '{"v":1}'],
    ["renders null-prototype objects as JSON", Object.assign(Object.create(null), { a: 1 }), '{"a":1}'],
  ];
  for (const [name, value, expected] of table) {
    it(name, () => assert.equal(formatValue(value), expected));
  }

  it("cuts long values to maxLength characters ending with …", () => {
    const out = formatValue("x".repeat(100));
    assert.equal(out.length, 60);
    assert.ok(out.endsWith("…"));
    assert.equal(formatValue([1, 2, 3, 4, 5], 6), "[1,2,…");
  });

  it("leaves values of exactly maxLength characters whole", () => {
    assert.equal(formatValue("abcd", 6), '"abcd"');
  });

  it("stops rendering huge values early instead of serialising them whole", () => {
    const huge = Array.from({ length: 200_000 }, (_, i) => ({ i, name: `item ${i}` }));
    const started = Date.now();
    assert.equal(formatValue(huge).length, 60);
    assert.ok(Date.now() - started < 200);
  });

  it("falls back to the fields when toJSON throws", () => {
    const value = {
      a: 1,
      toJSON(): never {
        throw new Error("nope");
      },
    };
    assert.equal(formatValue(value), '{"a":1,"toJSON":[Function toJSON]}');
  });

  it("renders a throwing getter as a marker", () => {
    const value = Object.defineProperty({ a: 1 }, "bad", {
      enumerable: true,
      get(): never {
        throw new Error("getter");
      },
    });
    assert.equal(formatValue(value), '{"a":1,"bad":[Getter threw]}');
  });

  it("never throws, even for a Proxy whose traps throw", () => {
    const hostile = new Proxy(
      {},
      {
        ownKeys() {
          throw new Error("trap");
        },
        getPrototypeOf() {
          throw new Error("trap");
        },
      },
    );
    assert.equal(typeof formatValue(hostile), "string");
  });
});

describe("truncate", () => {
  it("keeps short text", () => assert.equal(truncate("abc", 3), "abc"));
  it("cuts long text to maxLength including the ellipsis", () => assert.equal(truncate("abcdef", 4), "abc…"));
  it("does not split a surrogate pair", () => assert.equal(truncate("ab😀cd", 4), "ab…"));
});

describe("errorLabel", () => {
  it("renders Name: message", () => assert.equal(errorLabel(new RangeError("out")), "RangeError: out"));
  it("renders just the name for an empty message", () => assert.equal(errorLabel(new TypeError()), "TypeError"));
  it("uses a custom name", () => {
    const e = new Error("x");
    e.name = "PaymentError";
    assert.equal(errorLabel(e), "PaymentError: x");
  });
});
