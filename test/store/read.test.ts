import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import fc from "fast-check";
import { DEFAULT_MAX_LINE_BYTES, readResults, type MalformedLine, type ReadResultsOptions } from "../../src/store/read";
import { resultToJSON } from "../../src/store/serialize";
import type { Result } from "../../src/types/results";
import { run } from "../operate/fixtures";

async function readAll(file: string, options: ReadResultsOptions = {}): Promise<{ results: Result<unknown>[]; malformed: MalformedLine[] }> {
  const malformed: MalformedLine[] = [];
  const results: Result<unknown>[] = [];
  for await (const r of readResults(file, { ...options, onMalformed: (bad) => malformed.push(bad) })) results.push(r);
  return { results, malformed };
}

describe("readResults", () => {
  let dir: string;
  let file: string;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "penumbra-read-"));
    file = path.join(dir, "results.jsonl");
  });

  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("streams results in file order and names each malformed line with its number and reason", async () => {
    fs.writeFileSync(file, [resultToJSON(run({ experiment: "a" })), "", "{oops", '{"candidates":[null]}', resultToJSON(run({ experiment: "b" }))].join("\n"));
    const { results, malformed } = await readAll(file);
    assert.deepEqual(results.map((r) => r.experiment), ["a", "b"]);
    assert.deepEqual(malformed.map((m) => m.line), [3, 4]);
    assert.match(malformed[0]!.error, /^penumbra: malformed result line \(/);
    assert.match(malformed[1]!.error, /^penumbra: not a result line \(experiment is not a string\)/);
  });

  it("skips a line over maxLineBytes without holding it, names it, and reads the lines after it", async () => {
    const big = `{"experiment":"${"x".repeat(5000)}"}`;
    fs.writeFileSync(file, `${resultToJSON(run())}\n${big}\n${resultToJSON(run())}\n`);
    const { results, malformed } = await readAll(file, { maxLineBytes: 4096 });
    assert.equal(results.length, 2);
    assert.deepEqual(malformed, [{ line: 2, error: `penumbra: line of ${big.length} bytes is over maxLineBytes (4096); skipped unread` }]);
  });

  it("keeps its default line cap far below V8's longest string, so a huge line is skipped, never a RangeError", () => {
    // V8's limit is 2^29 - 24 UTF-16 units on 64-bit builds; a line decodes to at most as many units as it has bytes.
    assert.ok(DEFAULT_MAX_LINE_BYTES * 4 < 2 ** 29 - 24);
  });

  it("reads CRLF files and a last line without a newline; invalid UTF-8 is a malformed line, not a crash", async () => {
    fs.writeFileSync(file, Buffer.concat([Buffer.from(`${resultToJSON(run())}\r\n`), Buffer.from([0xff, 0xfe, 0x7b, 0x0a]), Buffer.from(resultToJSON(run()))]));
    const { results, malformed } = await readAll(file);
    assert.equal(results.length, 2);
    assert.deepEqual(malformed.map((m) => m.line), [2]);
  });

  it("rejects a bad path or maxLineBytes with a TypeError naming it, and a missing file with the fs error", async () => {
    await assert.rejects(readAll(""), /TypeError: penumbra: readResults: path must be a non-empty string/);
    await assert.rejects(readAll(file, { maxLineBytes: 0 }), /TypeError: penumbra: readResults: maxLineBytes must be a positive integer, got 0/);
    await assert.rejects(readAll(path.join(dir, "missing.jsonl")), { code: "ENOENT" });
  });

  it("accounts for every non-blank line of arbitrary bytes: yielded or named, and counts the bytes read", async function () {
    this.timeout(60_000);
    const good = resultToJSON(run());
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof(fc.constant(good), fc.string({ unit: "binary", maxLength: 60 }), fc.uint8Array({ maxLength: 60 }).map((b) => Buffer.from(b).toString("latin1"))), { maxLength: 12 }),
        fc.integer({ min: 16, max: 4096 }),
        async (lines, maxLineBytes) => {
          const bytes = Buffer.from(lines.join("\n"), "latin1");
          fs.writeFileSync(file, bytes);
          const text = bytes.toString("latin1").split("\n");
          const nonBlank = text.filter((l) => Buffer.byteLength(l, "latin1") > maxLineBytes || Buffer.from(l, "latin1").toString("utf8").replace(/\r$/, "").trim() !== "").length;
          let lastRead = 0;
          let size = -1;
          const { results, malformed } = await readAll(file, {
            maxLineBytes,
            onBytes: (read, total) => {
              assert.ok(read >= lastRead && read <= total);
              lastRead = read;
              size = total;
            },
          });
          assert.equal(results.length + malformed.length, nonBlank);
          for (const r of results) assert.equal(r.experiment, "checkout");
          if (bytes.length > 0) assert.equal(lastRead, size);
        },
      ),
      { numRuns: 200 },
    );
  });
});
