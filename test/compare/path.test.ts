import { strict as assert } from "node:assert";
import {
  SET_MEMBER,
  appendIndex,
  appendKey,
  appendMapKey,
  appendSetMember,
  displayPath,
  formatPath,
  isIdentifierKey,
  mapKey,
  renderMapKey,
  type PathSegment,
} from "../../src/compare/path";

describe("paths", () => {
  const table: Array<[string, PathSegment[], string]> = [
    ["renders the root as an empty string", [], ""],
    ["renders a top-level identifier key without a dot", ["total"], "total"],
    ["joins identifier keys with dots", ["meta", "traceId"], "meta.traceId"],
    ["renders array indices in brackets", ["lines", 2, "tax"], "lines[2].tax"],
    ["renders a root index in brackets", [0], "[0]"],
    ["renders a key with a dot as a JSON string in brackets", ["a.b"], '["a.b"]'],
    ["renders a key starting with a digit in brackets", ["x", "1abc"], 'x["1abc"]'],
    ["renders an empty key in brackets", [""], '[""]'],
    ["renders a non-ASCII key in brackets", ["café"], '["café"]'],
    ["accepts $ and _ in identifiers", ["$id", "_x1"], "$id._x1"],
    ["renders a Map entry with .get and a JSON key", ["prices", mapKey("EUR")], 'prices.get("EUR")'],
    ["renders a root Map entry with a leading dot", [mapKey(1)], ".get(1)"],
    ["renders Set members as {}", ["tags", SET_MEMBER], "tags{}"],
    ["renders root Set members as {}", [SET_MEMBER], "{}"],
    ["chains every kind of segment", ["a", 0, mapKey("k"), SET_MEMBER, "b.c"], 'a[0].get("k"){}["b.c"]'],
  ];
  for (const [name, segments, expected] of table) {
    it(name, () => assert.equal(formatPath(segments), expected));
  }

  it("builds the same strings step by step as formatPath does at once", () => {
    let path = appendKey("", "lines");
    path = appendIndex(path, 3);
    path = appendMapKey(path, "EUR");
    path = appendSetMember(path);
    path = appendKey(path, "a.b");
    assert.equal(path, formatPath(["lines", 3, mapKey("EUR"), SET_MEMBER, "a.b"]));
    assert.equal(path, 'lines[3].get("EUR"){}["a.b"]');
  });

  const keys: Array<[string, unknown, string]> = [
    ["renders string Map keys as JSON", 'a"b', '"a\\"b"'],
    ["renders number Map keys as JSON", 1.5, "1.5"],
    ["renders boolean and null Map keys as JSON", null, "null"],
    ["renders undefined Map keys readably", undefined, "undefined"],
    ["renders NaN Map keys readably", NaN, "NaN"],
    ["renders bigint Map keys readably", 5n, "5n"],
    ["renders symbol Map keys readably", Symbol("k"), "Symbol(k)"],
    ["renders object Map keys as JSON", { id: 1 }, '{"id":1}'],
    ["cuts long object Map keys", { id: "x".repeat(100) }, `{"id":"${"x".repeat(32)}…`],
  ];
  for (const [name, key, expected] of keys) {
    it(name, () => assert.equal(renderMapKey(key), expected));
  }

  it("tells identifier keys from the others", () => {
    assert.equal(isIdentifierKey("traceId"), true);
    assert.equal(isIdentifierKey("a.b"), false);
    assert.equal(isIdentifierKey("1abc"), false);
    assert.equal(isIdentifierKey("a-b"), false);
  });

  it("shows the root as (root) and other paths as they are", () => {
    assert.equal(displayPath(""), "(root)");
    assert.equal(displayPath("lines[2].tax"), "lines[2].tax");
  });
});
