/**
 * Promise 3, every mismatch is explained: a summary line must never read `path=X vs X`. Values that
 * render alike (a Date and its ISO string, two long strings or Buffers cut at the same place, two
 * classes of the same name, two distinct functions) still differ, and the line says how. A summary
 * is also one line: nothing taken from a user's value (an error message, a symbol's description, a
 * function or class name, a key) may break it or drive the terminal it is printed to.
 */
import { strict as assert } from "node:assert";
import * as vm from "node:vm";
import fc from "fast-check";
import { diff } from "../../src/compare/diff";
import { describeOutcome, formatValue, summarize } from "../../src/compare/format";
import { displayPath } from "../../src/compare/path";
import { effectDiffs, summarizeEffects } from "../../src/result/effects";
import type { Effect, FieldDiff } from "../../src/types/results";

/** The line a summary would print if it only rendered both sides: `path=X vs Y`. */
function bareLine(d: FieldDiff): string {
  const control = "control" in d && d.kind !== "added" ? formatValue(d.control) : "(missing)";
  const candidate = "candidate" in d && d.kind !== "removed" ? formatValue(d.candidate) : "(missing)";
  return `${displayPath(d.path)}=${control} vs ${candidate}`;
}

/** Asserts that every line of the summary of `diff(a, b)` shows two different sides. */
function assertExplained(a: unknown, b: unknown): string {
  const diffs = diff(a, b);
  assert.ok(diffs.length > 0, "the values differ");
  for (const d of diffs) {
    const line = summarize([d]);
    const [left, right] = splitSides(line);
    assert.notEqual(left, right, `the line shows the same text on both sides: ${line}`);
  }
  return summarize(diffs);
}

/** Everything after the first `=` split at the first ` vs `, plus any explanation after the sides. */
function splitSides(line: string): [string, string] {
  const body = line.slice(line.indexOf("=") + 1);
  const at = body.indexOf(" vs ");
  return [body.slice(0, at), body.slice(at + 4)];
}

describe("a summary line never shows the same text on both sides", () => {
  it("says a Date and its ISO string are of different types", () => {
    const at = new Date(Date.UTC(2024, 4, 1));
    const summary = assertExplained({ at }, { at: at.toISOString() });
    assert.match(summary, /Date vs string/);
  });

  it("shows where two long strings first differ when both are cut at the same place", () => {
    const summary = assertExplained({ body: `${"x".repeat(100)}<b>old</b>` }, { body: `${"x".repeat(100)}<b>new</b>` });
    assert.match(summary, /old/);
    assert.match(summary, /new/);
    assert.match(summary, /from character 103\b/, "the position of the first difference (after the shared \"<b>\")");
  });

  it("shows the first differing byte of two Buffers that render alike", () => {
    const a = Buffer.alloc(100);
    const b = Buffer.alloc(100);
    b[97] = 7;
    const summary = assertExplained({ data: a }, { data: b });
    assert.match(summary, /97/);
    assert.match(summary, /0 vs 7/);
  });

  it("shows the first differing byte of two ArrayBuffers and DataViews of the same length", () => {
    const a = new ArrayBuffer(4);
    const b = new ArrayBuffer(4);
    new Uint8Array(b)[2] = 9;
    assert.match(assertExplained({ a }, { a: b }), /2.*0 vs 9/);
    assert.match(assertExplained({ v: new DataView(a) }, { v: new DataView(b) }), /2.*0 vs 9/);
  });

  it("says two classes with the same name are different prototypes", () => {
    const Old = class Money {
      constructor(readonly amount: number) {}
    };
    const New = class Money {
      constructor(readonly amount: number) {}
    };
    assert.match(assertExplained({ m: new Old(1) }, { m: new New(1) }), /prototype/);
  });

  it("says a plain object differs from a null-prototype object and from another realm's object", () => {
    const bare = Object.assign(Object.create(null) as object, { a: 1 });
    assert.match(assertExplained({ o: bare }, { o: { a: 1 } }), /null-prototype/);
    assertExplained({ o: vm.runInNewContext("({ a: 1 })") as unknown }, { o: { a: 1 } });
  });

  it("says two distinct functions or symbols with the same name differ by identity", () => {
    assert.match(assertExplained({ f: function f() {} }, { f: function f() {} }), /different functions/);
    assert.match(assertExplained({ s: Symbol("a") }, { s: Symbol("a") }), /different symbols/);
  });

  it("reaches into two arrays compared as a whole (noise.arrayOrder) that render alike", () => {
    const a = Array.from({ length: 40 }, (_, i) => i);
    const b = [...a];
    b[35] = -1;
    const d = diff({ tags: a }, { tags: b }, { unordered: (path) => path === "tags" });
    assert.equal(d.length, 1);
    const line = summarize(d);
    const [left, right] = splitSides(line);
    assert.notEqual(left, right, line);
    assert.match(line, /\[35\].*35 vs -1/);
  });

  it("explains a generated pair whose renderings collide, whatever the shape", () => {
    // Leaves that render alike in pairs (cut at the same place, a Date and its ISO string, same
    // names), wrapped in the same generated containers on both sides.
    const prefix = "p".repeat(70);
    const at = new Date(Date.UTC(2024, 4, 1));
    const Twin = class Money {};
    const leaf = fc.oneof(
      fc.constantFrom("a", "b", "c").map((s) => prefix + s),
      fc.constantFrom(at, at.toISOString(), new Date(at.getTime() + 1)),
      fc.constantFrom(Buffer.alloc(80), Buffer.alloc(80, 1).fill(0, 0, 79)),
      fc.constant(0).map(() => function f() {}),
      fc.constantFrom(new Twin(), new (class Money {})()),
      fc.array(fc.constantFrom(1, 2), { minLength: 40, maxLength: 40 }),
    );
    type Wrap = "array" | "object" | "map" | "deep";
    const wrap = (value: unknown, wrappers: readonly Wrap[]): unknown =>
      wrappers.reduce<unknown>((inner, w) => {
        if (w === "array") return [0, inner];
        if (w === "object") return { id: 1, x: inner };
        if (w === "map") return new Map([["k", inner]]);
        return { a: { b: [inner] } };
      }, value);
    fc.assert(
      fc.property(fc.array(fc.constantFrom<Wrap>("array", "object", "map", "deep"), { maxLength: 4 }), leaf, leaf, (wrappers, x, y) => {
        for (const d of diff(wrap(x, wrappers), wrap(y, wrappers))) {
          const [left, right] = splitSides(summarize([d]));
          if (left === right) return false;
        }
        return true;
      }),
      { numRuns: 300 },
    );
  });

  it("says the sides are equal instead of inventing a difference for a hand-made or read-back diff", () => {
    const iso = "2024-05-01T00:00:00.000Z";
    assert.equal(summarize([{ path: "at", kind: "type", control: iso, candidate: iso }]), `at="${iso}" vs "${iso}" (equal values)`);
    assert.equal(summarize([{ path: "tags", kind: "type", control: ["a"], candidate: ["a"] }]), 'tags=["a"] vs ["a"] (equal values)');
  });

  it("lists every diff even when two lines read alike (paths cut at the same place, Set members that render alike)", () => {
    const k = "k".repeat(100);
    const cut = diff(new Map([[`${k}1`, 1], [`${k}2`, 1]]), new Map([[`${k}1`, 2], [`${k}2`, 2]]));
    assert.equal(cut.length, 2);
    assert.equal(summarize(cut).split(" vs ").length - 1, 2, summarize(cut));
    const members = diff(new Set([Symbol("a"), Symbol("a")]), new Set());
    assert.equal(summarize(members).split(" vs ").length - 1, 2, summarize(members));
  });

  it("keeps both ends of a long path: where it starts and the field that differs", () => {
    let control: unknown = { total: 1 };
    let candidate: unknown = { total: 2 };
    for (let i = 0; i < 100; i++) {
      control = { level: control };
      candidate = { level: candidate };
    }
    const summary = summarize(diff(control, candidate));
    assert.match(summary, /^level\.level\..*….*\.level\.total=1 vs 2$/, summary);
    const k = "k".repeat(100);
    const cut = summarize(diff(new Map([[`${k}1`, 1], [`${k}2`, 1]]), new Map([[`${k}1`, 2], [`${k}2`, 2]])));
    assert.match(cut, /kkk1"\)=1 vs 2, .*kkk2"\)=1 vs 2$/, cut);
  });

  it("shows where the messages of two errors, the sources of two RegExps or two boxed strings first differ", () => {
    const long = "x".repeat(80);
    for (const [a, b] of [
      [new TypeError(`${long}old`), new TypeError(`${long}new`)],
      [new RegExp(`${long}old`), new RegExp(`${long}new`)],
      [new String(`${long}old`), new String(`${long}new`)],
    ] as Array<[unknown, unknown]>) {
      const summary = assertExplained({ v: a }, { v: b });
      assert.match(summary, /from character \d+: …".*old.*" vs …".*new.*"/, summary);
      assert.doesNotMatch(summary, /\(root\)/, "no walk back to the same value");
    }
  });

  it("shows where two huge BigInts first differ, or that their lengths differ", () => {
    const big = 7n ** 500n;
    assert.match(assertExplained({ n: big }, { n: big + 10n }), /from digit 422: …\d*\dn vs …\d*\dn\)$/);
    assert.match(assertExplained({ n: 10n ** 100n }, { n: 10n ** 101n }), /\(101 digits vs 102 digits\)$/);
  });

  it("keeps the bare form when the renderings already differ", () => {
    const d: FieldDiff = { path: "total", kind: "changed", control: 49.9, candidate: 51.4 };
    assert.equal(summarize([d]), bareLine(d));
  });
});

// C0 and C1 controls (newline and tab included: a summary is one line), bidirectional marks, the
// line and paragraph separators, and lone surrogates.
const UNREADABLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

describe("a summary is one readable line", () => {
  const hostile = "a\nb\r\u001b[2J\u0007\u202eevil\u2028\u2029\ud800z\t";

  it("escapes what an error's message and name hold", () => {
    const error = new Error(hostile);
    error.name = `Bad${hostile}`;
    const summary = summarize(diff({ e: error }, { e: new TypeError("x") }));
    assert.doesNotMatch(summary, UNREADABLE, summary);
    assert.match(summary, /a\\u000ab/, "the newline is shown escaped");
    assert.doesNotMatch(describeOutcome(true, error), UNREADABLE);
  });

  it("escapes a symbol's description, a function's name and a class's name", () => {
    const fn = function () {};
    Object.defineProperty(fn, "name", { value: hostile });
    class Weird {}
    Object.defineProperty(Weird, "name", { value: hostile });
    for (const value of [Symbol(hostile), fn, new Weird()]) {
      const summary = summarize(diff({ v: value }, { v: 1 }));
      assert.doesNotMatch(summary, UNREADABLE, summary);
    }
  });

  it("escapes bidirectional overrides and line separators in strings, keys and Map keys", () => {
    const summaries = [
      summarize(diff({ s: hostile }, { s: "x" })),
      summarize(diff({ [hostile]: 1 }, {})),
      summarize(diff(new Map([[Symbol(hostile), 1]]), new Map([[Symbol(hostile), 2]]))),
    ];
    for (const summary of summaries) assert.doesNotMatch(summary, UNREADABLE, summary);
  });

  it("never splits a surrogate pair where a long path is cut", () => {
    for (let n = 40; n < 50; n++) {
      const key = "😀".repeat(n);
      const summary = summarize(diff({ [key]: { [key]: 1 } }, { [key]: { [key]: 2 } }));
      assert.doesNotMatch(summary, UNREADABLE, summary);
    }
  });

  it("stays one readable line for any generated text in keys, values and error messages", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 20 }), fc.string({ unit: "binary", maxLength: 20 }), (key, text) => {
        const error = new Error(text);
        const summary = summarize(diff({ [key]: text, e: error, s: Symbol(text) }, { [key]: `${text}!`, e: new RangeError(text), s: 1 }));
        return !UNREADABLE.test(summary);
      }),
      { numRuns: 300 },
    );
  });
});

describe("an effects summary follows the same rules", () => {
  const at = new Date(Date.UTC(2024, 4, 1));
  const effect = (args: unknown[], name = "mail.send"): Effect => ({ name, args, role: "control", blocked: false });

  it("explains arguments that render alike and stays one line", () => {
    const control = [effect([{ at, ["k\u202e"]: "a\nb" }], "mail\u001b[2J.send")];
    const candidate = [effect([{ at: at.toISOString(), ["k\u202e"]: "a\nc" }], "mail\u001b[2J.send")];
    const { diffs } = effectDiffs(true, control, candidate, () => undefined);
    const summary = summarizeEffects(diffs, control, candidate);
    assert.match(summary, /args\[0\]\.at=.* \(Date vs string\)/);
    assert.doesNotMatch(summary, UNREADABLE, summary);
  });

  it("cuts a path built from a huge key, as the value summary does", () => {
    const key = "k".repeat(10_000);
    const control = [effect([{ [key]: 1 }])];
    const candidate = [effect([{ [key]: 2 }])];
    const { diffs } = effectDiffs(true, control, candidate, () => undefined);
    assert.ok(summarizeEffects(diffs, control, candidate).length < 300);
  });
});
