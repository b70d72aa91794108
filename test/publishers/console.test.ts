import { strict as assert } from "node:assert";
import { PassThrough } from "node:stream";
import { consolePublisher } from "../../src/publishers/console";
import type { Publisher } from "../../src/types/operate";
import { memoryPublisher, shadow } from "../../src/index";
import { matchedResult, mismatchedResult } from "./fixtures";

function collector(): { stream: PassThrough; lines: () => string[] } {
  const stream = new PassThrough();
  const chunks: string[] = [];
  stream.on("data", (chunk: Buffer) => chunks.push(chunk.toString("utf8")));
  return { stream, lines: () => chunks.join("").split("\n").filter((line) => line !== "") };
}

describe("consolePublisher", () => {
  it("prints one line per mismatched result with the experiment, run id, summary and timings", async () => {
    const { stream, lines } = collector();
    consolePublisher({ stream }).publish(mismatchedResult());
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepStrictEqual(lines(), [
      "penumbra order-total 1f3e9a2b-7c44-4d1e-9a0b-3c5d6e7f8a9b mismatched candidate: total=49.9 vs 51.4, taxRate=(missing) vs 0.11 " +
        "[1 noise diff] (control 1.2 ms, candidate 3.4 ms)",
    ]);
  });

  it("prints each run's whole id, so two runs of one process read apart and match their JSONL records", async () => {
    const { stream, lines } = collector();
    const published = memoryPublisher();
    const total = shadow((n: number) => n, (n: number) => n + 1, { name: "console-run-ids", publish: [consolePublisher({ stream }), published] });
    total(1);
    total(2);
    await total.experiment.settled();
    await new Promise((resolve) => setImmediate(resolve));
    const ids = published.results.map((r) => r.runId);
    assert.equal(new Set(ids).size, 2);
    assert.deepEqual(lines().map((line) => line.split(" ")[2]), ids);
  });

  it("prints matched and ignored results", async () => {
    const { stream, lines } = collector();
    const { publish } = consolePublisher({ stream });
    publish(matchedResult());
    publish(matchedResult({ matched: false, ignored: true, outcomes: { candidate: "ignored" } }));
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepStrictEqual(lines(), [
      "penumbra order-total 1f3e9a2b-7c44-4d1e-9a0b-3c5d6e7f8a9b matched (control 1.2 ms, candidate 3.4 ms)",
      "penumbra order-total 1f3e9a2b-7c44-4d1e-9a0b-3c5d6e7f8a9b ignored candidate (control 1.2 ms, candidate 3.4 ms)",
    ]);
  });

  it("with only: mismatches, prints mismatches and nothing for matched results or skips", async () => {
    const { stream, lines } = collector();
    const publisher = consolePublisher({ stream, only: "mismatches" });
    publisher.publish(matchedResult());
    publisher.skipped("order-total", "overload");
    publisher.publish(mismatchedResult());
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(lines().length, 1);
    assert.match(lines()[0] ?? "", /mismatched candidate: total=49\.9 vs 51\.4/);
  });

  it("prints a line for an overload skip and for a guardrail trip", async () => {
    const { stream, lines } = collector();
    const publisher = consolePublisher({ stream });
    publisher.skipped("order-total", "overload");
    publisher.trip({ experiment: "order-total", reason: "mismatch-rate", value: 0.12, threshold: 0.05 });
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepStrictEqual(lines(), [
      "penumbra order-total skipped: overload (no free slot, candidates not run)",
      "penumbra order-total tripped: mismatch-rate 0.12 > 0.05, candidates disabled",
    ]);
  });

  it("keeps a result on one line even when names and summaries contain newlines", () => {
    const writes: string[] = [];
    const stream = { write: (chunk: string) => (writes.push(chunk), true) } as unknown as NodeJS.WritableStream;
    const base = mismatchedResult();
    consolePublisher({ stream }).publish({
      ...base,
      experiment: "evil\nINJECTED",
      mismatches: base.mismatches.map((m) => ({ ...m, summary: "a=1\nvs 2" })),
    });
    assert.equal(writes.length, 1);
    assert.equal(writes[0]?.split("\n").length, 2);
    assert.match(writes[0] ?? "", /^penumbra evil INJECTED /);
  });

  it("marks a timed-out candidate and a promoted run", () => {
    const writes: string[] = [];
    const stream = { write: (chunk: string) => (writes.push(chunk), true) } as unknown as NodeJS.WritableStream;
    const base = mismatchedResult();
    consolePublisher({ stream }).publish({
      ...base,
      servedBy: "candidate",
      noise: [],
      candidates: [{ ...base.candidates[0]!, timedOut: true, durationMs: 5000 }],
    });
    assert.match(writes[0] ?? "", /\[served by candidate\] \(control 1\.2 ms, candidate 5000\.0 ms timed out\)\n$/);
  });

  it("writes to process.stderr by default", () => {
    const original = process.stderr.write;
    const writes: string[] = [];
    process.stderr.write = ((chunk: string) => (writes.push(chunk), true)) as typeof process.stderr.write;
    try {
      consolePublisher().publish(matchedResult());
    } finally {
      process.stderr.write = original;
    }
    assert.equal(writes.length, 1);
    assert.match(writes[0] ?? "", /^penumbra order-total .* matched/);
  });

  it("rejects an unknown only option with a TypeError naming it", () => {
    assert.throws(() => consolePublisher({ only: "some" as "all" }), /only must be "all" or "mismatches", got 'some'/);
  });

  it("is a Publisher", () => {
    const publisher: Publisher = consolePublisher({ stream: new PassThrough() });
    assert.equal(typeof publisher, "object");
  });
});
