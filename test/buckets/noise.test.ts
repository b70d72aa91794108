import { strict as assert } from "node:assert";
import { diff } from "../../src/compare/diff";
import { noise, parseIsoTimestamp, unorderedPaths } from "../../src/buckets/noise";
import type { BucketRule } from "../../src/types/options";
import type { FieldDiff } from "../../src/types/results";

/** Runs a ready-made rule's predicate (they are all predicates, never patterns). */
function run(rule: BucketRule, d: FieldDiff): boolean {
  assert.equal(typeof rule.match, "function", "ready-made rules are predicates");
  return (rule.match as (diff: FieldDiff) => boolean)(d);
}

function changed(path: string, control: unknown, candidate: unknown): FieldDiff {
  return { path, kind: "changed", control, candidate };
}

function throwsNaming(build: () => unknown, option: string): void {
  assert.throws(build, (error: unknown) => error instanceof TypeError && error.message.includes(`'${option}'`));
}

type RuleCase = [name: string, d: FieldDiff, expected: boolean];

describe("buckets/noise: every rule", () => {
  const rules: Array<[string, BucketRule]> = [
    ["paths", noise.paths("a")],
    ["timestamps", noise.timestamps({ toleranceMs: 1 })],
    ["numbers", noise.numbers({ tolerance: 1 })],
    ["whitespace", noise.whitespace()],
    ["array-order", noise.arrayOrder("a")],
  ];
  for (const [name, rule] of rules) {
    it(`builds a noise rule named ${name} as a plain object`, () => {
      assert.equal(rule.name, name);
      assert.equal(rule.noise, true);
      assert.equal(Object.getPrototypeOf(rule), Object.prototype);
    });
  }

  it("lets a spread rule be renamed and keep its matching", () => {
    const cents: BucketRule = { ...noise.numbers({ tolerance: 0.01 }), name: "cents" };
    assert.equal(cents.name, "cents");
    assert.equal(cents.noise, true);
    assert.equal(run(cents, changed("total", 1, 1.01)), true);
  });
});

describe("buckets/noise: paths", () => {
  const rule = noise.paths("meta", "lines[*].traceId");
  const cases: RuleCase[] = [
    ["matches a diff on a glob's own path", changed("meta", 1, 2), true],
    ["matches a diff below a glob's path", { path: "meta.tags[0]", kind: "added", candidate: "x" }, true],
    ["matches a diff through a wildcard index", changed("lines[7].traceId", "a", "b"), true],
    ["does not match a diff elsewhere", changed("total", 1, 2), false],
    ["does not match the engine's error path", changed("(error)", "a", "b"), false],
  ];
  for (const [name, d, expected] of cases) it(name, () => assert.equal(run(rule, d), expected));

  it("rejects no globs with a TypeError naming the option", () => throwsNaming(() => noise.paths(), "globs"));
  it("rejects a non-string glob with a TypeError naming its position", () => throwsNaming(() => noise.paths("a", 1 as unknown as string), "globs[1]"));
  it("rejects an invalid glob with a TypeError naming the glob", () => {
    assert.throws(() => noise.paths("a..b"), (error: unknown) => error instanceof TypeError && error.message.includes('"a..b"'));
  });
});

describe("buckets/noise: timestamps", () => {
  const rule = noise.timestamps({ toleranceMs: 1000 });
  const epoch = noise.timestamps({ toleranceMs: 1000, paths: ["**.createdAtMs"] });
  const d0 = new Date("2024-05-01T10:00:00.000Z");
  const cases: RuleCase[] = [
    ["matches two date-times within the tolerance", changed("at", "2024-05-01T10:00:00Z", "2024-05-01T10:00:00.999Z"), true],
    ["matches two date-times exactly the tolerance apart (inclusive)", changed("at", "2024-05-01T10:00:00Z", "2024-05-01T10:00:01Z"), true],
    ["does not match two date-times one millisecond beyond the tolerance", changed("at", "2024-05-01T10:00:00Z", "2024-05-01T10:00:01.001Z"), false],
    ["reads zones: the same instant in two offsets matches", changed("at", "2024-05-01T12:00:00+02:00", "2024-05-01T10:00:00Z"), true],
    ["reads zones: the same wall time in two offsets is hours apart", changed("at", "2024-05-01T10:00:00+02:00", "2024-05-01T10:00:00Z"), false],
    ["reads a compact offset without a colon", changed("at", "2024-05-01T12:00:00+0200", "2024-05-01T10:00:00.5Z"), true],
    ["reads an hour-only offset", changed("at", "2024-05-01T05:00:00-05", "2024-05-01T10:00:00Z"), true],
    ["reads a date-time without a zone as UTC", changed("at", "2024-05-01T10:00:00", "2024-05-01T10:00:00.4Z"), true],
    ["reads fractions of any length", changed("at", "2024-05-01T10:00:00.1234567Z", "2024-05-01T10:00:01.1234567Z"), true],
    ["reads fractions below the millisecond against the tolerance", changed("at", "2024-05-01T10:00:00.0000Z", "2024-05-01T10:00:01.0001Z"), false],
    ["reads a date-time without seconds", changed("at", "2024-05-01T10:00", "2024-05-01T10:00:00.5Z"), true],
    ["accepts a space between date and time", changed("at", "2024-05-01 10:00:00Z", "2024-05-01T10:00:00.5Z"), true],
    ["does not match two dates a day apart with a one-second tolerance", changed("on", "2024-05-01", "2024-05-02"), false],
    ["matches a date against its midnight date-time", changed("on", "2024-05-01", "2024-05-01T00:00:00.300Z"), true],
    ["does not match a date that does not exist", changed("on", "2024-02-30", "2024-03-01"), false],
    ["does not match a month 13", changed("on", "2024-13-01", "2024-12-31T23:59:59.5Z"), false],
    ["does not match number-like strings", changed("v", "12", "13"), false],
    ["does not match year-only strings", changed("v", "2024", "2024"), false],
    ["does not match year-month strings", changed("v", "2024-05", "2024-05"), false],
    ["does not match other date formats", changed("v", "May 1, 2024", "May 1, 2024 00:00:00"), false],
    ["does not match a timestamp with trailing text", changed("v", "2024-05-01T10:00:00Z!", "2024-05-01T10:00:00Z"), false],
    ["does not match a string against a non-timestamp string", changed("v", "2024-05-01", "tomorrow"), false],
    ["matches two Dates within the tolerance", changed("at", d0, new Date(d0.getTime() + 1000)), true],
    ["does not match two Dates beyond the tolerance", changed("at", d0, new Date(d0.getTime() + 1001)), false],
    ["does not match an invalid Date", changed("at", d0, new Date(Number.NaN)), false],
    ["does not match a Date against its own ISO string", { path: "at", kind: "type", control: d0, candidate: d0.toISOString() }, false],
    ["does not match epoch numbers when no paths are given", changed("createdAtMs", 1000, 1500), false],
    ["does not match an added timestamp", { path: "at", kind: "added", candidate: "2024-05-01" }, false],
  ];
  for (const [name, d, expected] of cases) it(name, () => assert.equal(run(rule, d), expected));

  const epochCases: RuleCase[] = [
    ["matches epoch milliseconds on a path matching paths", changed("order.createdAtMs", 1_700_000_000_000, 1_700_000_001_000), true],
    ["does not match epoch milliseconds beyond the tolerance on those paths", changed("order.createdAtMs", 1_700_000_000_000, 1_700_000_001_001), false],
    ["does not match numbers on other paths", changed("order.total", 1_700_000_000_000, 1_700_000_000_001), false],
    ["still matches ISO strings on paths outside paths", changed("order.updatedAt", "2024-05-01T10:00:00Z", "2024-05-01T10:00:00.5Z"), true],
    ["does not match an epoch number against an ISO string on those paths", { path: "createdAtMs", kind: "type", control: 0, candidate: "1970-01-01T00:00:00Z" }, false],
  ];
  for (const [name, d, expected] of epochCases) it(name, () => assert.equal(run(epoch, d), expected));

  it("rejects a negative toleranceMs with a TypeError naming it", () => throwsNaming(() => noise.timestamps({ toleranceMs: -1 }), "toleranceMs"));
  it("rejects an infinite toleranceMs with a TypeError naming it", () => throwsNaming(() => noise.timestamps({ toleranceMs: Infinity }), "toleranceMs"));
  it("rejects a NaN toleranceMs with a TypeError naming it", () => throwsNaming(() => noise.timestamps({ toleranceMs: Number.NaN }), "toleranceMs"));
  it("rejects paths that are not an array with a TypeError naming it", () => throwsNaming(() => noise.timestamps({ toleranceMs: 1, paths: "a" as unknown as string[] }), "paths"));
  it("rejects an invalid epoch glob with a TypeError naming the option", () => throwsNaming(() => noise.timestamps({ toleranceMs: 1, paths: ["a["] }), "paths"));
  it("rejects missing options with a TypeError naming them", () => throwsNaming(() => noise.timestamps(undefined as unknown as { toleranceMs: number }), "options"));

  const parsed: Array<[string, number | undefined]> = [
    ["1970-01-01", 0],
    ["1970-01-01T00:00:01.5+00:00", 1500],
    ["1970-01-01T01:00:00+01:00", 0],
    ["0050-01-01", Date.parse("0050-01-01T00:00:00Z")], // not 1950: years below 100 stay as written
    ["2024-02-29", Date.UTC(2024, 1, 29)],
    ["2023-02-29", undefined],
    ["2024-05-01T24:00:00Z", undefined],
    ["2024-05-01T10:60Z", undefined],
  ];
  for (const [text, expected] of parsed) {
    it(`parses ${JSON.stringify(text)} as ${String(expected)}`, () => assert.equal(parseIsoTimestamp(text), expected));
  }
});

describe("buckets/noise: numbers", () => {
  const absolute = noise.numbers({ tolerance: 0.01 });
  const relative = noise.numbers({ tolerance: 0.001, relative: true });
  const half = noise.numbers({ tolerance: 0.5, relative: true });
  const cases: Array<[string, BucketRule, FieldDiff, boolean]> = [
    ["matches numbers within an absolute tolerance", absolute, changed("total", 49.9, 49.905), true],
    ["matches numbers exactly the tolerance apart despite binary rounding", absolute, changed("total", 1, 1.01), true],
    ["matches in either direction", absolute, changed("total", 1.01, 1), true],
    ["does not match numbers beyond the tolerance", absolute, changed("total", 1, 1.0101), false],
    ["matches within a relative tolerance of the control", relative, changed("total", 1000, 1001), true],
    ["does not match beyond a relative tolerance", relative, changed("total", 1000, 1001.01), false],
    ["scales the relative tolerance by the control: 200 vs 100 is within half of 200", half, changed("total", 200, 100), true],
    ["does not scale the relative tolerance by the candidate: 100 vs 200 is beyond half of 100", half, changed("total", 100, 200), false],
    ["does not match anything against a zero control when relative", relative, changed("total", 0, 1e-9), false],
    ["does not match NaN", absolute, changed("total", Number.NaN, 1), false],
    ["does not match Infinity against Infinity's neighbour", absolute, changed("total", Infinity, Number.MAX_VALUE), false],
    ["does not match numeric strings", absolute, changed("total", "1", "1.001"), false],
    ["does not match bigints", absolute, changed("total", 1n, 2n), false],
    ["does not match a number against a string", absolute, { path: "total", kind: "type", control: 1, candidate: "1" }, false],
    ["does not match a removed number", absolute, { path: "total", kind: "removed", control: 1 }, false],
  ];
  for (const [name, rule, d, expected] of cases) it(name, () => assert.equal(run(rule, d), expected));

  it("rejects a negative tolerance with a TypeError naming it", () => throwsNaming(() => noise.numbers({ tolerance: -0.1 }), "tolerance"));
  it("rejects a non-numeric tolerance with a TypeError naming it", () => throwsNaming(() => noise.numbers({ tolerance: "1" as unknown as number }), "tolerance"));
  it("rejects a non-boolean relative with a TypeError naming it", () => throwsNaming(() => noise.numbers({ tolerance: 1, relative: 1 as unknown as boolean }), "relative"));
  it("accepts a zero tolerance, which only forgives rounding", () => {
    const exact = noise.numbers({ tolerance: 0 });
    assert.equal(run(exact, changed("x", 0.1 + 0.2, 0.3)), true);
    assert.equal(run(exact, changed("x", 1, 1.000001)), false);
  });
});

describe("buckets/noise: whitespace", () => {
  const rule = noise.whitespace();
  const cases: RuleCase[] = [
    ["matches strings differing in runs of spaces", changed("s", "a  b", "a b"), true],
    ["matches tabs and newlines against a space", changed("s", "a\t\nb", "a b"), true],
    ["matches strings differing in leading and trailing whitespace", changed("s", "  a b\n", "a b"), true],
    ["matches non-breaking spaces against a space", changed("s", "a\u00a0b", "a b"), true],
    ["does not match when a space is missing entirely", changed("s", "ab", "a b"), false],
    ["does not match different words", changed("s", "a b", "a c"), false],
    ["does not match a case difference", changed("s", "A b", "a b"), false],
    ["does not match a string against a number", { path: "s", kind: "type", control: "1", candidate: 1 }, false],
  ];
  for (const [name, d, expected] of cases) it(name, () => assert.equal(run(rule, d), expected));
});

describe("buckets/noise: arrayOrder", () => {
  const rule = noise.arrayOrder("tags", "orders", "orders[*].lines");
  const cases: RuleCase[] = [
    ["matches the same elements in another order", changed("tags", ["a", "b", "a"], ["a", "a", "b"]), true],
    ["matches reordered objects", changed("tags", [{ id: 1 }, { id: 2 }], [{ id: 2 }, { id: 1 }]), true],
    ["does not match different multiplicities", changed("tags", ["a", "a", "b"], ["a", "b", "b"]), false],
    ["does not match a different length", changed("tags", ["a"], ["a", "a"]), false],
    ["does not match arrays on other paths", changed("other", ["a", "b"], ["b", "a"]), false],
    ["does not match arrays below a glob's path (arrayOrder globs name arrays exactly)", changed("tags[0]", ["a", "b"], ["b", "a"]), false],
    ["does not match a non-array change", changed("tags", "a,b", "b,a"), false],
    ["does not match a type diff", { path: "tags", kind: "type", control: ["a"], candidate: { 0: "a" } }, false],
    ["matches nested arrays reordered too when their path is also named", changed("orders", [{ lines: [1, 2] }, { lines: [3] }], [{ lines: [3] }, { lines: [2, 1] }]), true],
  ];
  for (const [name, d, expected] of cases) it(name, () => assert.equal(run(rule, d), expected));

  it("does not forgive nested reordering on a path no glob names", () => {
    const outer = noise.arrayOrder("orders");
    assert.equal(run(outer, changed("orders", [{ lines: [1, 2] }], [{ lines: [2, 1] }])), false);
  });

  it("gives one diff at the array's path through the unordered hook, and the rule matches it", () => {
    const control = { tags: ["a", "b", "c"], total: 1 };
    const candidate = { tags: ["c", "a", "b"], total: 1 };
    const diffs = diff(control, candidate, { unordered: unorderedPaths([rule]) });
    assert.deepEqual(diffs, [changed("tags", control.tags, candidate.tags)]);
    assert.equal(run(rule, diffs[0] as FieldDiff), true);
    assert.equal(diff(control, candidate).length, 3, "without the hook the reordering is three index diffs");
  });

  it("gives one diff for a real change through the hook, and the rule does not match it", () => {
    const diffs = diff({ tags: ["a", "b"] }, { tags: ["b", "x"] }, { unordered: unorderedPaths([rule]) });
    assert.equal(diffs.length, 1);
    assert.equal(run(rule, diffs[0] as FieldDiff), false);
  });

  it("rejects no globs with a TypeError naming the option", () => throwsNaming(() => noise.arrayOrder(), "globs"));
  it("rejects a non-string glob with a TypeError naming its position", () => throwsNaming(() => noise.arrayOrder(null as unknown as string), "globs[0]"));
});

describe("buckets/noise: unorderedPaths", () => {
  it("is undefined when no rule is an arrayOrder rule, so the engine builds no paths", () => {
    assert.equal(unorderedPaths([noise.paths("tags"), { name: "x", match: { path: "tags" } }]), undefined);
  });

  it("combines several arrayOrder rules", () => {
    const hook = unorderedPaths([noise.arrayOrder("a"), noise.whitespace(), noise.arrayOrder("b[*].c")]);
    assert.ok(hook !== undefined);
    assert.deepEqual(["a", "b[1].c", "b", "c"].map(hook), [true, true, false, false]);
  });

  it("finds a spread and renamed arrayOrder rule", () => {
    const hook = unorderedPaths([{ ...noise.arrayOrder("tags"), name: "tag-order", noise: false }]);
    assert.equal(hook?.("tags"), true);
  });

  it("ignores an arrayOrder rule whose match was replaced", () => {
    assert.equal(unorderedPaths([{ ...noise.arrayOrder("tags"), match: () => true }]), undefined);
  });
});
