import { strict as assert } from "node:assert";
import { ERROR_PATH, STATUS_PATH, describeOutcome, summarize } from "../../src/compare/format";
import type { FieldDiff } from "../../src/types/results";

describe("summarize", () => {
  const table: Array<[string, FieldDiff[], string]> = [
    ["lists changed values as path=control vs candidate, joined by commas", [
      { path: "total", kind: "changed", control: 49.9, candidate: 51.4 },
      { path: "taxRate", kind: "changed", control: 0.08, candidate: 0.11 },
    ], "total=49.9 vs 51.4, taxRate=0.08 vs 0.11"],
    ["JSON-encodes strings and objects", [{ path: "meta", kind: "changed", control: { c: "EUR" }, candidate: "EUR" }], 'meta={"c":"EUR"} vs "EUR"'],
    ["shows (missing) for the control side of an added diff", [{ path: "note", kind: "added", candidate: "x" }], 'note=(missing) vs "x"'],
    ["shows (missing) for the candidate side of a removed diff", [{ path: "lines[3]", kind: "removed", control: 1 }], "lines[3]=1 vs (missing)"],
    ["shows undefined, not (missing), for a present undefined value", [{ path: "[0]", kind: "type", control: undefined, candidate: 1 }], "[0]=undefined vs 1"],
    ["shows root diffs as (root)", [{ path: "", kind: "changed", control: 1, candidate: 2 }], "(root)=1 vs 2"],
    ["shows Set members with their path", [{ path: "tags{}", kind: "removed", control: "a" }], 'tags{}="a" vs (missing)'],
    ["shows a status diff as status=", [{ path: STATUS_PATH, kind: "changed", control: 200, candidate: 500 }], "status=200 vs 500"],
    ["shows an error diff as two descriptions, control first", [
      { path: ERROR_PATH, kind: "changed", control: "threw TypeError: boom", candidate: 'returned {"total":1}' },
    ], 'threw TypeError: boom vs returned {"total":1}'],
    ["shows a missing side of an error diff as (missing)", [{ path: ERROR_PATH, kind: "added", candidate: "threw Error: x" }], "(missing) vs threw Error: x"],
    ["skips noise diffs", [
      { path: "meta.traceId", kind: "changed", control: "a", candidate: "b", bucket: "trace", noise: true },
      { path: "total", kind: "changed", control: 1, candidate: 2, bucket: "totals" },
    ], "total=1 vs 2"],
    ["returns an empty string when every diff is noise", [{ path: "a", kind: "changed", control: 1, candidate: 2, noise: true }], ""],
    ["returns an empty string for no diffs", [], ""],
  ];
  for (const [name, diffs, expected] of table) {
    it(name, () => assert.equal(summarize(diffs), expected));
  }

  it("lists a line only once when the status and a value field read the same (statusOf: r => r.status)", () => {
    const diffs: FieldDiff[] = [
      { path: STATUS_PATH, kind: "changed", control: 200, candidate: 500 },
      { path: "status", kind: "changed", control: 200, candidate: 500 },
      { path: "total", kind: "changed", control: 1, candidate: 2 },
    ];
    assert.equal(summarize(diffs), "status=200 vs 500, total=1 vs 2");
  });

  it("truncates long values with …", () => {
    const out = summarize([{ path: "body", kind: "changed", control: "a".repeat(200), candidate: "b" }]);
    assert.equal(out, `body="${"a".repeat(58)}… vs "b"`);
  });

  it("lists at most 10 diffs and ends with +N more", () => {
    const diffs: FieldDiff[] = Array.from({ length: 13 }, (_, i) => ({ path: `f${i}`, kind: "changed", control: i, candidate: i + 1 }));
    const out = summarize(diffs);
    assert.ok(out.startsWith("f0=0 vs 1, f1=1 vs 2"));
    assert.ok(out.includes("f9=9 vs 10"));
    assert.ok(!out.includes("f10="));
    assert.ok(out.endsWith(", +3 more"));
  });

  it("does not count noise diffs in +N more", () => {
    const diffs: FieldDiff[] = Array.from({ length: 12 }, (_, i) => ({ path: `f${i}`, kind: "changed", control: i, candidate: 0, noise: i >= 11 }));
    assert.ok(summarize(diffs).endsWith(", +1 more"));
  });

  it("honours maxDiffs", () => {
    const diffs: FieldDiff[] = [
      { path: "a", kind: "changed", control: 1, candidate: 2 },
      { path: "b", kind: "changed", control: 1, candidate: 2 },
      { path: "c", kind: "changed", control: 1, candidate: 2 },
    ];
    assert.equal(summarize(diffs, { maxDiffs: 1 }), "a=1 vs 2, +2 more");
    assert.equal(summarize(diffs, { maxDiffs: 3 }), "a=1 vs 2, b=1 vs 2, c=1 vs 2");
  });
});

describe("describeOutcome", () => {
  const table: Array<[string, boolean, unknown, string]> = [
    ["describes a thrown Error as Name: message", true, new TypeError("boom"), "threw TypeError: boom"],
    ["describes a thrown Error without a message by its name", true, new RangeError(), "threw RangeError"],
    ["describes a thrown undefined", true, undefined, "threw undefined"],
    ["describes a thrown string as JSON", true, "text", 'threw "text"'],
    ["describes a thrown plain object as JSON", true, { code: 1 }, 'threw {"code":1}'],
    ["describes a returned value as JSON", false, { total: 1 }, 'returned {"total":1}'],
    ["describes a returned undefined", false, undefined, "returned undefined"],
  ];
  for (const [name, threw, value, expected] of table) {
    it(name, () => assert.equal(describeOutcome(threw, value), expected));
  }

  it("cuts a long error message", () => {
    const out = describeOutcome(true, new Error("m".repeat(300)));
    assert.ok(out.startsWith("threw Error: mmm"));
    assert.ok(out.endsWith("…"));
    assert.equal(out.length, "threw ".length + 60);
  });

  it("says the message is unreadable, without throwing, when an error's message getter throws", () => {
    const e = new Error("x");
    Object.defineProperty(e, "message", {
      get(): never {
        throw new Error("getter");
      },
    });
    assert.equal(describeOutcome(true, e), "threw Error: (message unreadable)");
  });

  it("composes with summarize into the engine's error summary", () => {
    const diff: FieldDiff = {
      path: ERROR_PATH,
      kind: "changed",
      control: describeOutcome(true, new TypeError("boom")),
      candidate: describeOutcome(false, { total: 1 }),
    };
    assert.equal(summarize([diff]), 'threw TypeError: boom vs returned {"total":1}');
  });
});
