import { strict as assert } from "node:assert";
import { memoryPublisher } from "../../src/publishers/memory";
import type { Publisher } from "../../src/types/operate";
import { mismatchedResult, numberedResult } from "./fixtures";

describe("memoryPublisher", () => {
  it("stores published results, the very objects, oldest first", () => {
    const memory = memoryPublisher();
    const first = mismatchedResult();
    const second = numberedResult(2);
    memory.publish(first);
    memory.publish(second);
    assert.equal(memory.results.length, 2);
    assert.equal(memory.results[0], first);
    assert.equal(memory.results[1], second);
  });

  it("keeps only the newest limit results, oldest first, in the same live array object", () => {
    const { publish, results } = memoryPublisher({ limit: 3 });
    const seen = results;
    for (let n = 1; n <= 10; n += 1) publish(numberedResult(n));
    assert.equal(results, seen);
    assert.deepStrictEqual(results.map((r) => r.runId), ["run-8", "run-9", "run-10"]);
  });

  it("keeps 1000 results by default", () => {
    const memory = memoryPublisher();
    for (let n = 1; n <= 1005; n += 1) memory.publish(numberedResult(n));
    assert.equal(memory.results.length, 1000);
    assert.equal(memory.results[0]?.runId, "run-6");
  });

  it("works with destructured publish and skipped", () => {
    const { publish, skipped, results, skips } = memoryPublisher();
    publish(numberedResult(1));
    skipped("order-total", "overload");
    assert.equal(results.length, 1);
    assert.deepStrictEqual(skips, { "order-total": 1 });
  });

  it("counts overload skips per experiment in a live record", () => {
    const memory = memoryPublisher();
    const { skips } = memory;
    memory.skipped("a", "overload");
    memory.skipped("b", "overload");
    memory.skipped("a", "overload");
    assert.deepStrictEqual(skips, { a: 2, b: 1 });
    assert.equal(memory.skips, skips);
  });

  it("counts an experiment named __proto__ without touching the record's prototype", () => {
    const memory = memoryPublisher();
    memory.skipped("__proto__", "overload");
    memory.skipped("__proto__", "overload");
    assert.equal(Object.getPrototypeOf(memory.skips), Object.prototype);
    assert.equal(memory.skips["__proto__"], 2);
  });

  it("clear() empties results and skips while keeping the same objects", () => {
    const memory = memoryPublisher();
    const { results, skips } = memory;
    memory.publish(numberedResult(1));
    memory.skipped("a", "overload");
    memory.clear();
    assert.equal(memory.results, results);
    assert.equal(memory.skips, skips);
    assert.deepStrictEqual([...results], []);
    assert.deepStrictEqual(skips, {});
    memory.publish(numberedResult(2));
    assert.equal(results.length, 1);
  });

  it("rejects a limit that is not a positive integer with a TypeError naming limit and the value", () => {
    for (const limit of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, "10" as unknown as number]) {
      assert.throws(
        () => memoryPublisher({ limit }),
        (e: unknown) => e instanceof TypeError && /limit/.test(e.message) && e.message.includes(String(limit)),
        `limit ${String(limit)}`,
      );
    }
  });

  it("is a Publisher", () => {
    const publisher: Publisher = memoryPublisher();
    assert.equal(typeof publisher, "object");
  });
});
