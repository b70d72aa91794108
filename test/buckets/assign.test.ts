import { strict as assert } from "node:assert";
import { P } from "ts-pattern";
import { assignBuckets, bucketsOf } from "../../src/buckets/assign";
import { noise } from "../../src/buckets/noise";
import type { BucketRule } from "../../src/types/options";
import type { FieldDiff } from "../../src/types/results";

interface Reported {
  error: unknown;
  rule: string;
}

function assign(diffs: FieldDiff[], rules: BucketRule[]): { out: FieldDiff[]; reported: Reported[] } {
  const reported: Reported[] = [];
  const out = assignBuckets(diffs, rules, (error, rule) => reported.push({ error, rule }));
  return { out, reported };
}

const tax: FieldDiff = { path: "lines[2].tax", kind: "changed", control: 0.1, candidate: 0.09 };
const total: FieldDiff = { path: "total", kind: "changed", control: 49.9, candidate: 51.4 };
const note: FieldDiff = { path: "note", kind: "added", candidate: "x" };
const gone: FieldDiff = { path: "legacy", kind: "removed", control: 1 };

const taxRounding: BucketRule = { name: "tax-rounding-per-line", match: { path: P.string.regex(/\.tax$/) } };
const newFields: BucketRule = { name: "new-fields", match: { kind: "added" } };
const bigTotals: BucketRule = { name: "big-totals", match: (d) => d.path === "total" && Number(d.candidate) > 50 };
const anything: BucketRule = { name: "anything", match: () => true };

type Case = [name: string, diffs: FieldDiff[], rules: BucketRule[], expected: Array<{ bucket?: string; noise?: boolean }>];

const cases: Case[] = [
  ["leaves bucket and noise absent when no rule matches", [total], [taxRounding], [{}]],
  ["names a diff by a ts-pattern path pattern", [tax], [taxRounding], [{ bucket: "tax-rounding-per-line" }]],
  ["names a diff by a ts-pattern kind pattern", [note, total], [newFields], [{ bucket: "new-fields" }, {}]],
  ["names a diff by a predicate", [total], [bigTotals], [{ bucket: "big-totals" }]],
  ["lets the first matching rule win", [tax], [taxRounding, anything], [{ bucket: "tax-rounding-per-line" }]],
  ["lets a later rule name what earlier rules do not match", [total], [taxRounding, anything], [{ bucket: "anything" }]],
  ["sets noise when the matching rule is a noise rule", [tax], [noise.numbers({ tolerance: 0.01 })], [{ bucket: "numbers", noise: true }]],
  ["does not set noise for a non-noise rule even when a noise rule would match later", [tax], [taxRounding, noise.numbers({ tolerance: 0.01 })], [{ bucket: "tax-rounding-per-line" }]],
  ["does not set noise for a rule with noise: false", [tax], [{ ...taxRounding, noise: false }], [{ bucket: "tax-rounding-per-line" }]],
  ["keeps the diffs in their order, one output per input", [total, tax, note, gone], [taxRounding, newFields], [{}, { bucket: "tax-rounding-per-line" }, { bucket: "new-fields" }, {}]],
  ["drops a stale bucket on an input that no rule matches now", [{ ...total, bucket: "old", noise: true }], [taxRounding], [{}]],
  ["returns no diffs for no diffs", [], [anything], []],
  ["leaves every diff unnamed when there are no rules", [tax, total], [], [{}, {}]],
];

describe("buckets/assign: assignBuckets", () => {
  for (const [name, diffs, rules, expected] of cases) {
    it(name, () => {
      const { out, reported } = assign(diffs, rules);
      assert.deepEqual(reported, []);
      assert.equal(out.length, expected.length);
      out.forEach((d, i) => {
        const input = diffs[i] as FieldDiff;
        const want = expected[i] as { bucket?: string; noise?: boolean };
        assert.equal(d.path, input.path);
        assert.equal(d.kind, input.kind);
        assert.equal("bucket" in d, want.bucket !== undefined, `bucket present on ${d.path}`);
        assert.equal("noise" in d, want.noise !== undefined, `noise present on ${d.path}`);
        assert.equal(d.bucket, want.bucket);
        assert.equal(d.noise, want.noise);
      });
    });
  }

  it("keeps control and candidate present exactly when they were", () => {
    const { out } = assign([note, gone, total], [anything]);
    assert.deepEqual(out, [
      { path: "note", kind: "added", candidate: "x", bucket: "anything" },
      { path: "legacy", kind: "removed", control: 1, bucket: "anything" },
      { path: "total", kind: "changed", control: 49.9, candidate: 51.4, bucket: "anything" },
    ]);
    assert.equal("control" in (out[0] as FieldDiff), false);
    assert.equal("candidate" in (out[1] as FieldDiff), false);
  });

  it("lets a pattern tell an absent side from an undefined one", () => {
    const rule: BucketRule = { name: "no-control", match: { control: P.optional(P.nullish) } };
    const { out } = assign([note], [rule]);
    assert.equal(out[0]?.bucket, "no-control");
  });

  it("does not mutate the input diffs and returns new objects", () => {
    const input: FieldDiff = { path: "lines[2].tax", kind: "changed", control: 0.1, candidate: 0.09 };
    const frozen = Object.freeze({ ...input });
    const { out } = assign([frozen], [noise.numbers({ tolerance: 0.01 })]);
    assert.deepEqual(frozen, input);
    assert.notEqual(out[0], frozen);
    assert.equal(out[0]?.noise, true);
  });

  it("reports a throwing predicate with its rule's name, treats it as no match and runs later rules", () => {
    const boom = new Error("boom");
    const throwing: BucketRule = { name: "throws", match: () => { throw boom; } };
    const { out, reported } = assign([total, tax], [throwing, taxRounding]);
    assert.deepEqual(reported, [{ error: boom, rule: "throws" }, { error: boom, rule: "throws" }]);
    assert.equal("bucket" in (out[0] as FieldDiff), false);
    assert.equal(out[1]?.bucket, "tax-rounding-per-line");
  });

  it("reports a pattern whose guard throws, and runs later rules", () => {
    const boom = new Error("guard");
    const throwing: BucketRule = { name: "guard", match: { path: P.when(() => { throw boom; }) } };
    const { out, reported } = assign([tax], [throwing, anything]);
    assert.deepEqual(reported, [{ error: boom, rule: "guard" }]);
    assert.equal(out[0]?.bucket, "anything");
  });

  it("reports a predicate that returns a promise instead of reading it as a match", () => {
    const asyncRule = { name: "async", match: async () => true } as unknown as BucketRule;
    const { out, reported } = assign([total], [asyncRule]);
    assert.equal(reported.length, 1);
    assert.equal(reported[0]?.rule, "async");
    assert.ok(reported[0]?.error instanceof TypeError);
    assert.equal("bucket" in (out[0] as FieldDiff), false);
  });

  it("reads a truthy non-boolean predicate result as a match", () => {
    const loose = { name: "loose", match: (d: FieldDiff) => d.candidate } as unknown as BucketRule;
    const { out } = assign([total, gone], [loose]);
    assert.equal(out[0]?.bucket, "loose");
    assert.equal("bucket" in (out[1] as FieldDiff), false);
  });

  it("does not let a predicate's mutation reach the input", () => {
    const input: FieldDiff = { path: "total", kind: "changed", control: 1, candidate: 2 };
    const meddling: BucketRule = { name: "meddling", match: (d) => { d.path = "x"; return false; } };
    assign([input], [meddling]);
    assert.equal(input.path, "total");
  });
});

describe("buckets/assign: bucketsOf", () => {
  const cases: Array<[string, FieldDiff[], string[]]> = [
    ["lists nothing for no diffs", [], []],
    ["lists nothing for diffs without buckets", [total, tax], []],
    ["lists a bucket once however many diffs it holds", [{ ...tax, bucket: "tax" }, { ...tax, path: "lines[3].tax", bucket: "tax" }], ["tax"]],
    ["lists buckets in first-seen order", [{ ...total, bucket: "b" }, { ...tax, bucket: "a" }, { ...note, bucket: "b" }], ["b", "a"]],
    ["leaves out noise buckets", [{ ...total, bucket: "ids", noise: true }, { ...tax, bucket: "tax" }], ["tax"]],
    ["lists a bucket that holds both noise and non-noise diffs through its non-noise diff", [{ ...total, bucket: "x", noise: true }, { ...tax, bucket: "x" }], ["x"]],
  ];
  for (const [name, diffs, expected] of cases) it(name, () => assert.deepEqual(bucketsOf(diffs), expected));

  it("lists the buckets assignBuckets gave", () => {
    const { out } = assign([total, tax, note], [noise.paths("note"), taxRounding, anything]);
    assert.deepEqual(bucketsOf(out), ["anything", "tax-rounding-per-line"]);
  });
});
