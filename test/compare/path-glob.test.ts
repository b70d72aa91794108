import { strict as assert } from "node:assert";
import { diff } from "../../src/compare/diff";
import { checkGlob, parsePath, pathMatcher } from "../../src/compare/path-glob";

/** Writes canonical segments back as a path, the way the builder joins them. */
function join(segments: readonly string[]): string {
  let path = "";
  for (const segment of segments) {
    const bare = /^[A-Za-z_$]/.test(segment);
    path += bare && path !== "" ? `.${segment}` : segment;
  }
  return path;
}

/** The single diff path `diff()` reports for a pair of values. */
function onlyPath(control: unknown, candidate: unknown): string {
  const diffs = diff(control, candidate);
  assert.equal(diffs.length, 1, `expected one diff, got ${JSON.stringify(diffs.map((d) => d.path))}`);
  return (diffs[0] as { path: string }).path;
}

const symbolKey = Symbol("a)b");
const longKey = { id: "x".repeat(60) };

type RoundTrip = [name: string, control: unknown, candidate: unknown, path: string, segments: string[]];

const roundTrips: RoundTrip[] = [
  ["the root is no segment at all", 1, 2, "", []],
  ["an identifier key is one bare segment", { total: 1 }, { total: 2 }, "total", ["total"]],
  ["an index is its bracketed number", { lines: [{ tax: 1 }, { tax: 2 }, { tax: 3 }] }, { lines: [{ tax: 1 }, { tax: 2 }, { tax: 4 }] }, "lines[2].tax", ["lines", "[2]", "tax"]],
  ["nested indices at the root are consecutive segments", [[1]], [[2]], "[0][0]", ["[0]", "[0]"]],
  ["a key with a dot stays quoted so it cannot read as two keys", { "a.b": { c: 1 } }, { "a.b": { c: 2 } }, '["a.b"].c', ['["a.b"]', "c"]],
  ["a key with escaped quotes keeps its JSON form", { meta: { 'say "hi"': 1 } }, { meta: { 'say "hi"': 2 } }, 'meta["say \\"hi\\""]', ["meta", '["say \\"hi\\""]']],
  ["the empty key is quoted", { "": 1 }, { "": 2 }, '[""]', ['[""]']],
  ["a non-ASCII key is quoted", { café: 1 }, { café: 2 }, '["café"]', ['["café"]']],
  ["a key that looks like an index stays a quoted key", { "[2]": 1 }, { "[2]": 2 }, '["[2]"]', ['["[2]"]']],
  ["a key named get is a plain key", { get: { x: 1 } }, { get: { x: 2 } }, "get.x", ["get", "x"]],
  ["a Map entry is one segment with its key", { prices: new Map([["EUR", 1]]) }, { prices: new Map([["EUR", 2]]) }, 'prices.get("EUR")', ["prices", '.get("EUR")']],
  ["a root Map entry keeps its leading dot", new Map([["EUR", { a: 1 }]]), new Map([["EUR", { a: 2 }]]), '.get("EUR").a', ['.get("EUR")', "a"]],
  ["a Map key holding a parenthesis inside a JSON string ends at its quote", new Map([["a)b", 1]]), new Map([["a)b", 2]]), '.get("a)b")', ['.get("a)b")']],
  ["a bigint Map key is read as rendered", new Map([[10n, 1]]), new Map([[10n, 2]]), ".get(10n)", [".get(10n)"]],
  ["a symbol Map key with a parenthesis in its description is read whole", new Map([[symbolKey, { v: 1 }]]), new Map([[symbolKey, { v: 2 }]]), ".get(Symbol(a)b)).v", [".get(Symbol(a)b))", "v"]],
  ["a Map key whose rendering was cut mid-string is still read whole", new Map([[longKey, { total: 1 }]]), new Map([[longKey, { total: 2 }]]), `.get({"id":"${"x".repeat(32)}…).total`, [`.get({"id":"${"x".repeat(32)}…)`, "total"]],
  ["Set members are one braces segment", { tags: new Set(["a"]) }, { tags: new Set(["a", "b"]) }, "tags{}", ["tags", "{}"]],
  ["a root Set's members are just braces", new Set([1]), new Set([1, 2]), "{}", ["{}"]],
];

describe("compare/path-glob: parsePath", () => {
  for (const [name, control, candidate, path, segments] of roundTrips) {
    it(`${name}: ${JSON.stringify(path)}`, () => {
      const built = onlyPath(control, candidate);
      assert.equal(built, path, "the builder wrote another path than the test expects");
      assert.deepEqual(parsePath(built), segments);
      assert.equal(join(parsePath(built)), built, "joining the segments gives the path back");
    });
  }

  it("reads a quoted identifier as the bare key the builder writes", () => {
    assert.deepEqual(parsePath('["total"].x'), ["total", "x"]);
  });

  const invalid = ["(status)", "(error)", ".a", "a.", "a..b", "a[x]", "[01]", "[-1]", "a.1b", ".get()", '["open]', "a{", "a b", "a.[0]", '[""'];
  for (const path of invalid) {
    it(`rejects ${JSON.stringify(path)} with a TypeError naming it`, () => {
      assert.throws(() => parsePath(path), (error: unknown) => error instanceof TypeError && error.message.includes(JSON.stringify(path)));
    });
  }
});

type GlobCase = [name: string, globs: string[], path: string, expected: boolean];

const globCases: GlobCase[] = [
  ["a literal glob matches its own path", ["total"], "total", true],
  ["a literal glob does not match a longer key that starts the same", ["meta"], "metadata", false],
  ["a glob covers the paths below it", ["meta"], "meta.traceId", true],
  ["a glob covers indices below it", ["meta"], "meta.tags[0]", true],
  ["a glob does not cover its parent", ["meta.traceId"], "meta", false],
  ["* matches one key", ["lines.*.tax"], "lines.x.tax", true],
  ["* matches one index", ["lines.*.tax"], "lines[3].tax", true],
  ["[*] matches one index", ["lines[*].tax"], "lines[3].tax", true],
  ["[*] matches a key in that position too", ["lines[*].tax"], "lines.x.tax", true],
  ["* does not match zero segments", ["lines[*].tax"], "lines.tax", false],
  ["* does not match two segments", ["lines[*].tax"], "lines[1][2].tax", false],
  ["* matches a Map entry", ["prices.*"], 'prices.get("EUR")', true],
  ["* matches Set members", ["tags.*"], "tags{}", true],
  ["a leading * matches any root key", ["*.id"], "order.id", true],
  ["a leading [*] matches a root index", ["[*].id"], "[4].id", true],
  ["** matches zero segments", ["**.updatedAt"], "updatedAt", true],
  ["** matches several segments", ["**.updatedAt"], "order.lines[2].updatedAt", true],
  ["** in the middle matches zero segments", ["a.**.z"], "a.z", true],
  ["** in the middle matches several segments", ["a.**.z"], "a.b[1].c.z", true],
  ["** still needs the segments after it", ["a.**.z"], "a.b.c", false],
  ["** alone matches the root", ["**"], "", true],
  ["** alone matches everything", ["**"], "x[1].y", true],
  ["a literal index matches only that index", ["lines[2].tax"], "lines[2].tax", true],
  ["a literal index does not match another index", ["lines[2].tax"], "lines[3].tax", false],
  ["a quoted key matches the quoted path", ['meta["a.b"]'], 'meta["a.b"].c', true],
  ["a quoted key does not match the dotted keys", ['meta["a.b"]'], "meta.a.b", false],
  ["a quoted identifier matches the bare key", ['["total"]'], "total", true],
  ["a quoted star is a literal key, not a wildcard", ['["*"]'], "x", false],
  ["a quoted star matches the key named star", ['["*"]'], '["*"]', true],
  ["a Map entry glob matches that entry", ['prices.get("EUR")'], 'prices.get("EUR").net', true],
  ["a Map entry glob does not match another entry", ['prices.get("EUR")'], 'prices.get("USD")', false],
  ["a Set glob matches the members", ["tags{}"], "tags{}", true],
  ["the root glob covers everything", [""], "a.b", true],
  ["any of several globs matching is enough", ["a", "b"], "b.c", true],
  ["no glob matching is no match", ["a", "b"], "c", false],
  ["an engine path outside the syntax matches nothing, not even **", ["**"], "(error)", false],
];

describe("compare/path-glob: pathMatcher", () => {
  for (const [name, globs, path, expected] of globCases) {
    it(`${name}: ${JSON.stringify(globs)} on ${JSON.stringify(path)} is ${expected}`, () => {
      assert.equal(pathMatcher(globs)(path), expected);
    });
  }

  const exactCases: GlobCase[] = [
    ["without descendants a glob matches its own path", ["orders"], "orders", true],
    ["without descendants a glob does not cover the paths below it", ["orders"], "orders[0].lines", false],
    ["without descendants a trailing ** covers the path and everything below", ["orders.**"], "orders[0].lines", true],
    ["without descendants a trailing ** matches the path itself", ["orders.**"], "orders", true],
  ];
  for (const [name, globs, path, expected] of exactCases) {
    it(`${name}: ${JSON.stringify(globs)} on ${JSON.stringify(path)} is ${expected}`, () => {
      assert.equal(pathMatcher(globs, { descendants: false })(path), expected);
    });
  }

  const invalidGlobs: unknown[] = ["a.*b", "***", "a[**]", "[x]", "a..b", "lines[*", "a.", 5, null];
  for (const glob of invalidGlobs) {
    it(`rejects the glob ${String(JSON.stringify(glob))} with a TypeError naming it`, () => {
      const named = typeof glob === "string" ? JSON.stringify(glob) : String(glob === null ? "null" : typeof glob);
      assert.throws(() => pathMatcher([glob as string]), (error: unknown) => error instanceof TypeError && error.message.includes(named));
      assert.throws(() => checkGlob(glob), TypeError);
    });
  }

  it("keeps answering correctly once more distinct paths were seen than it caches", () => {
    const matches = pathMatcher(["items[*].price"]);
    for (let i = 0; i < 2000; i++) {
      assert.equal(matches(`items[${i}].price`), true);
      assert.equal(matches(`items[${i}].qty`), false);
    }
    assert.equal(matches("items[0].price"), true);
  });

  it("answers the same for a path that failed to parse when asked again", () => {
    const matches = pathMatcher(["**"]);
    assert.equal(matches("(status)"), false);
    assert.equal(matches("(status)"), false);
  });
});

describe("path matching on deep and hostile paths", () => {
  it("parses a path of 20 000 nested JSON Map keys without deep recursion", () => {
    const path = Array.from({ length: 20_000 }, () => '.get("k")').join("") + ".total";
    assert.equal(parsePath(path).length, 20_001);
    assert.equal(pathMatcher(["**.total"])(path), true);
  });

  it("parses a path of 50 000 keys and indices", () => {
    const path = Array.from({ length: 25_000 }, (_, i) => `a${i}[${i}]`).join(".");
    assert.equal(pathMatcher(["a0"])(path), true);
  });

  it("reads up to 200 nested rendered Map keys, and answers for 100 000 without deep recursion", () => {
    const within = Array.from({ length: 200 }, () => ".get(1n)").join("") + ".x";
    assert.equal(pathMatcher(["**.x"])(within), true);
    const beyond = Array.from({ length: 100_000 }, () => ".get(1n)").join("") + ".x";
    assert.equal(typeof pathMatcher(["**.x"])(beyond), "boolean");
  });
});
