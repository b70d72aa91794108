/**
 * A mismatch written by `jsonlPublisher` and read back by `readResults` keeps its summary text, and
 * the report built from the file (a Scorecard fed the read-back results, as `penumbra report` does)
 * explains each reason as the live one does. JSON cannot hold every value a diff holds (a Date
 * becomes its ISO string, a Set an array, a function or `undefined` disappears), so an example
 * rebuilt from read-back diffs could read `at="2024…" vs "2024…"` or claim `f=(missing) vs (missing)`
 * for a value that was there. Such diffs are told by the mismatch's own summary instead.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import fc from "fast-check";
import { Scorecard, flush, jsonlPublisher, readResults, shadow, type Result } from "../../src/index";
import { parseResultLine, resultToJSON } from "../../src/store/serialize";
import { hostileValue } from "../reliability/hostile";

describe("mismatches read back from a JSONL file", () => {
  let dir: string;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "penumbra-summary-roundtrip-"));
  });

  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const at = new Date(Date.UTC(2024, 4, 1));
  const cases: Array<[string, unknown, unknown]> = [
    ["a Date against its ISO string", { at }, { at: at.toISOString() }],
    ["a Set against an array", { tags: new Set(["a"]) }, { tags: ["a"] }],
    ["a BigInt against its text", { n: 1n }, { n: "1n" }],
    ["two distinct functions of the same name", { f: function f() {} }, { f: function f() {} }],
    ["a Map against an object of the store's Map shape", { m: new Map([["a", 1]]) }, { m: { $map: [["a", 1]] } }],
    ["undefined against null in an array", { u: [undefined] }, { u: [null] }],
    ["a long string cut alike", { body: `${"x".repeat(90)}old` }, { body: `${"x".repeat(90)}new` }],
    ["a plain value change", { total: 49.9 }, { total: 51.4 }],
  ];

  it("keeps each summary, and gives each reason of the report the live example or the mismatch's summary", async () => {
    const file = path.join(dir, "results.jsonl");
    const jsonl = jsonlPublisher(file);
    const live = new Scorecard({ windowMs: Number.MAX_SAFE_INTEGER });
    const published: Array<Result<unknown>> = [];
    for (const [name, control, candidate] of cases) {
      const run = shadow(() => control, () => candidate, { name, publish: [jsonl, live, (r) => void published.push(r)] });
      run();
    }
    await flush();
    await jsonl.close();
    const fromFile = new Scorecard({ windowMs: Number.MAX_SAFE_INTEGER });
    const read: Array<Result<unknown>> = [];
    for await (const result of readResults(file)) {
      read.push(result);
      fromFile.publish(result);
    }
    assert.equal(read.length, cases.length);
    for (const [i, [name]] of cases.entries()) {
      const original = published[i]?.mismatches[0]?.summary;
      assert.ok(original !== undefined && original !== "", `${name}: a live summary`);
      assert.equal(read[i]?.mismatches[0]?.summary, original, `${name}: the summary survives the file`);
      const liveReasons = live.summary(name, "candidate")?.reasons ?? [];
      const fileReasons = fromFile.summary(name, "candidate")?.reasons ?? [];
      assert.deepEqual(fileReasons.map((r) => r.reason), liveReasons.map((r) => r.reason), `${name}: the same reasons`);
      for (const [j, reason] of fileReasons.entries()) {
        const liveExample = liveReasons[j]?.example ?? "";
        assert.ok(
          reason.example === liveExample || reason.example === original,
          `${name}: the file's example '${reason.example}' is neither the live one '${liveExample}' nor the summary '${original}'`,
        );
      }
    }
  });
});

describe("mismatches of hostile values through the JSONL line format", function () {
  this.timeout(60_000);

  it("read back with the same summary, whatever the two sides hold", async () => {
    await fc.assert(
      fc.asyncProperty(hostileValue(), hostileValue(), async (left, right) => {
        let published: Result<unknown> | undefined;
        const run = shadow(() => left.build(), () => right.build(), {
          name: "hostile-roundtrip",
          publish: (r) => void (published = r),
          onError: () => undefined,
        });
        run();
        await flush();
        if (published === undefined) return; // a value the snapshot could not take is not published
        const line = resultToJSON(published);
        assert.ok(!line.includes("\n"), "one line");
        const back = parseResultLine(line);
        assert.deepEqual(back.mismatches.map((m) => m.summary), published.mismatches.map((m) => m.summary));
      }),
      { numRuns: 60 },
    );
  });
});
