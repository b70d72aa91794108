import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { jsonlPublisher } from "../../src/store/jsonl";
import { parseResultLine, resultToJSON } from "../../src/store/serialize";
import type { Publisher } from "../../src/types/operate";
import { mismatchedResult, numberedResult } from "../publishers/fixtures";

const repoRoot = path.resolve(__dirname, "..", "..");

function readLines(file: string): string[] {
  const text = fs.readFileSync(file, "utf8");
  assert.ok(text === "" || text.endsWith("\n"), "the file ends with a complete line");
  return text.split("\n").filter((line) => line !== "");
}

describe("jsonlPublisher", () => {
  let dir: string;
  let file: string;
  const open: Array<{ close(): Promise<void> }> = [];

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "penumbra-jsonl-"));
    file = path.join(dir, "results.jsonl");
  });

  afterEach(async () => {
    await Promise.allSettled(open.splice(0).map((p) => p.close()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function create(options?: Parameters<typeof jsonlPublisher>[1]): ReturnType<typeof jsonlPublisher> {
    const publisher = jsonlPublisher(file, options);
    open.push(publisher);
    return publisher;
  }

  it("writes N published results as exactly N lines that parse back in order", async () => {
    const publisher = create();
    await Promise.all(Array.from({ length: 25 }, (_, n) => publisher.publish(numberedResult(n))));
    const lines = readLines(file);
    assert.equal(lines.length, 25);
    assert.deepStrictEqual(lines.map((line) => parseResultLine(line).runId), Array.from({ length: 25 }, (_, n) => `run-${n}`));
    assert.deepStrictEqual(parseResultLine(lines[3]!), numberedResult(3));
  });

  it("creates the file when the publisher is built, before anything is published", () => {
    create();
    assert.equal(fs.readFileSync(file, "utf8"), "");
  });

  it("buffers: nothing is on disk right after publish, and the line is on disk once its promise resolves", async () => {
    const publisher = create({ flushIntervalMs: 30 });
    const written = publisher.publish(mismatchedResult());
    assert.equal(fs.readFileSync(file, "utf8"), "");
    await written;
    assert.equal(fs.readFileSync(file, "utf8"), `${resultToJSON(mismatchedResult())}\n`);
  });

  it("writes a batch as soon as maxBufferedLines lines are waiting, without waiting for the timer", async () => {
    const publisher = create({ flushIntervalMs: 60_000, maxBufferedLines: 3 });
    const promises = [1, 2, 3].map((n) => publisher.publish(numberedResult(n)));
    await Promise.all(promises);
    assert.equal(readLines(file).length, 3);
  });

  it("flush() writes what is buffered now", async () => {
    const publisher = create({ flushIntervalMs: 60_000 });
    void publisher.publish(numberedResult(1));
    void publisher.publish(numberedResult(2));
    await publisher.flush();
    assert.equal(readLines(file).length, 2);
  });

  it("appends to an existing file, keeping what was there", async () => {
    fs.writeFileSync(file, "existing line\n");
    const publisher = create();
    await publisher.publish(numberedResult(1));
    const lines = readLines(file);
    assert.equal(lines[0], "existing line");
    assert.equal(parseResultLine(lines[1]!).runId, "run-1");
  });

  it("close() writes the remainder and closes the file", async () => {
    const publisher = create({ flushIntervalMs: 60_000 });
    for (let n = 0; n < 5; n += 1) void publisher.publish(numberedResult(n));
    assert.equal(fs.readFileSync(file, "utf8"), "");
    await publisher.close();
    assert.equal(readLines(file).length, 5);
    assert.equal(publisher.close(), publisher.close(), "close() is idempotent");
  });

  it("rejects a publish after close with a clear error and writes nothing", async () => {
    const publisher = create();
    await publisher.close();
    await assert.rejects(publisher.publish(numberedResult(1)), /publish after close\(\)/);
    assert.equal(fs.readFileSync(file, "utf8"), "");
  });

  it("loses nothing with 1000 concurrent publishes across several batches", async () => {
    const publisher = create({ maxBufferedLines: 64 });
    await Promise.all(Array.from({ length: 1000 }, (_, n) => publisher.publish(numberedResult(n))));
    const lines = readLines(file);
    assert.equal(lines.length, 1000);
    lines.forEach((line, n) => assert.equal(parseResultLine(line).runId, `run-${n}`));
  });

  it("rejects the affected lines' promises when the write fails, and keeps writing later lines", async function () {
    // /dev/full accepts open() and fails every write with ENOSPC: a disk-full error without filling a disk.
    if (!fs.existsSync("/dev/full")) this.skip();
    const publisher = jsonlPublisher("/dev/full", { flushIntervalMs: 60_000 });
    open.push(publisher);
    const first = publisher.publish(numberedResult(1));
    const second = publisher.publish(numberedResult(2));
    await assert.rejects(publisher.flush(), { code: "ENOSPC" });
    await assert.rejects(first, { code: "ENOSPC" });
    await assert.rejects(second, { code: "ENOSPC" });
    // A failed batch does not stop the publisher: the next batch is attempted (and fails here too).
    const third = publisher.publish(numberedResult(3));
    await assert.rejects(publisher.flush(), { code: "ENOSPC" });
    await assert.rejects(third, { code: "ENOSPC" });
    // close() rejects when the remainder it writes fails, and still closes the file.
    const fourth = publisher.publish(numberedResult(4));
    await assert.rejects(publisher.close(), { code: "ENOSPC" });
    await assert.rejects(fourth, { code: "ENOSPC" });
    await assert.rejects(publisher.publish(numberedResult(5)), /publish after close\(\)/);
  });

  it("does not crash the process when a failed publish promise is ignored", async function () {
    if (!fs.existsSync("/dev/full")) this.skip();
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      const publisher = jsonlPublisher("/dev/full", { flushIntervalMs: 1 });
      void publisher.publish(numberedResult(1));
      void publisher.close();
      await new Promise((resolve) => setTimeout(resolve, 50));
      void publisher.publish(numberedResult(2));
      await new Promise((resolve) => setTimeout(resolve, 10));
    } finally {
      process.removeListener("unhandledRejection", onUnhandled);
    }
    assert.deepStrictEqual(unhandled, []);
  });

  it("shares one exit listener between publishers and removes it when the last one closes", async () => {
    const baseline = process.listenerCount("exit");
    const publishers = Array.from({ length: 50 }, () => jsonlPublisher(file));
    assert.equal(process.listenerCount("exit"), baseline + 1);
    await Promise.all(publishers.map((p) => p.close()));
    assert.equal(process.listenerCount("exit"), baseline);
  });

  it("writes every buffered line when the process exits without close(), naturally or by process.exit()", function () {
    this.timeout(60_000);
    const script = path.join(dir, "child.js");
    fs.writeFileSync(
      script,
      `
      const { jsonlPublisher } = require(${JSON.stringify(path.join(repoRoot, "src/store/jsonl.ts"))});
      const { numberedResult } = require(${JSON.stringify(path.join(repoRoot, "test/publishers/fixtures.ts"))});
      const [file, how] = process.argv.slice(2);
      const publisher = jsonlPublisher(file, { flushIntervalMs: 60000 });
      for (let n = 0; n < 20; n += 1) publisher.publish(numberedResult(n));
      if (how === "exit") process.exit(0);
      `,
    );
    for (const how of ["natural", "exit"]) {
      const out = path.join(dir, `${how}.jsonl`);
      execFileSync(process.execPath, ["-r", "ts-node/register", script, out, how], {
        cwd: repoRoot,
        env: { ...process.env, TS_NODE_TRANSPILE_ONLY: "true", TS_NODE_PROJECT: path.join(repoRoot, "tsconfig.json") },
        stdio: "pipe",
      });
      const lines = readLines(out);
      assert.equal(lines.length, 20, how);
      assert.deepStrictEqual(lines.map((line) => parseResultLine(line).runId), Array.from({ length: 20 }, (_, n) => `run-${n}`));
    }
  });

  it("rejects an invalid path or option at construction with a TypeError naming it", () => {
    assert.throws(() => jsonlPublisher(""), (e: unknown) => e instanceof TypeError && /path/.test(e.message));
    assert.throws(() => jsonlPublisher(42 as unknown as string), (e: unknown) => e instanceof TypeError && /path.*42/.test(e.message));
    assert.throws(() => jsonlPublisher(file, { flushIntervalMs: -1 }), /flushIntervalMs.*-1/);
    assert.throws(() => jsonlPublisher(file, { maxBufferedLines: 0 }), /maxBufferedLines.*0/);
  });

  it("fails at construction, not on publish, when the directory does not exist", () => {
    assert.throws(() => jsonlPublisher(path.join(dir, "missing", "results.jsonl")), { code: "ENOENT" });
  });

  it("is a Publisher", () => {
    const publisher: Publisher = create();
    assert.equal(typeof publisher, "object");
  });
});
