/**
 * loggerPublisher with a real pino logger writing JSON lines into a stream the test reads back.
 */
import { strict as assert } from "node:assert";
import { Writable } from "node:stream";
import pino from "pino";
import { loggerPublisher, shadow } from "../../src/index";
import type { StructuredLogger } from "../../src/publishers/logger";
import { matchedResult, mismatchedResult } from "./fixtures";

type Line = Record<string, unknown> & { level: number; msg: string };

/** A pino logger at `level` whose output lines are parsed into `lines`. */
function capture(level = "debug"): { logger: pino.Logger; lines: Line[] } {
  const lines: Line[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const text of chunk.toString("utf8").split("\n")) if (text !== "") lines.push(JSON.parse(text) as Line);
      done();
    },
  });
  return { logger: pino({ level }, stream), lines };
}

const WARN = 40;
const INFO = 30;
const DEBUG = 20;
const ERROR = 50;

describe("loggerPublisher", () => {
  it("logs a mismatch at warn with the summary as the message and the cleaned values as data", () => {
    const { logger, lines } = capture();
    loggerPublisher(logger).publish(mismatchedResult());
    assert.equal(lines.length, 1);
    const line = lines[0]!;
    assert.equal(line.level, WARN);
    assert.equal(line.msg, "total=49.9 vs 51.4, taxRate=(missing) vs 0.11");
    assert.equal(line["experiment"], "order-total");
    assert.equal(line["runId"], "1f3e9a2b-7c44-4d1e-9a0b-3c5d6e7f8a9b");
    assert.equal(line["outcome"], "mismatched");
    assert.equal(line["kind"], "value");
    assert.equal(line["summary"], line.msg);
    assert.deepEqual(line["buckets"], ["rounding"]);
    assert.deepEqual(line["diffs"], [
      { path: "total", kind: "changed", bucket: "rounding" },
      { path: "taxRate", kind: "added" },
    ]);
    assert.equal(line["diffCount"], 2);
    // The control had no `clean` in the fixture: its value; the candidate's cleaned value.
    assert.deepEqual(line["control"], { durationMs: 1.2, value: { total: 49.9, lines: [{ sku: "A-1", qty: 2 }], currency: "EUR" } });
    assert.deepEqual(line["candidate"], { name: "candidate", durationMs: 3.4, timedOut: false, value: { total: 51.4 } });
    assert.deepEqual(line["context"], { userId: "u-42", region: "eu" });
    assert.equal(line["err"], undefined);
  });

  it("puts a candidate's error under err, where pino serialises it", () => {
    const { logger, lines } = capture();
    const base = mismatchedResult();
    const boom = new TypeError("boom");
    loggerPublisher(logger).publish({
      ...base,
      candidates: [{ ...base.candidates[0]!, threw: true, error: boom, value: undefined, cleanedValue: undefined }],
      mismatches: [{ candidate: "candidate", kind: "error", diffs: [], summary: 'returned {"total":49.9} vs threw TypeError: boom', buckets: [] }],
    });
    const line = lines[0]!;
    assert.equal(line.level, WARN);
    assert.equal(line["kind"], "error");
    const err = line["err"] as { type: string; message: string; stack: string };
    assert.equal(err.type, "TypeError");
    assert.equal(err.message, "boom");
    assert.match(err.stack, /TypeError: boom/);
    assert.deepEqual(line["candidate"], { name: "candidate", durationMs: 3.4, timedOut: false });
  });

  it("renders values no JSON could hold, and never throws on them", () => {
    const { logger, lines } = capture();
    const cyclic: Record<string, unknown> = { id: 10n, tags: new Set(["a"]) };
    cyclic["self"] = cyclic;
    const base = mismatchedResult();
    loggerPublisher(logger).publish({ ...base, candidates: [{ ...base.candidates[0]!, cleanedValue: cyclic }] });
    assert.deepEqual((lines[0]!["candidate"] as { value: unknown }).value, { id: "10n", tags: ["a"], self: "[Circular]" });
  });

  it("logs matched and ignored results at debug, or info, or not at all", () => {
    const { logger, lines } = capture();
    loggerPublisher(logger).publish(matchedResult());
    loggerPublisher(logger, { matched: "info" }).publish(matchedResult({ matched: false, ignored: true, outcomes: { candidate: "ignored" } }));
    loggerPublisher(logger, { matched: "off" }).publish(matchedResult());
    assert.equal(lines.length, 2);
    assert.equal(lines[0]!.level, DEBUG);
    assert.equal(lines[0]!.msg, "penumbra matched");
    assert.deepEqual(lines[0]!["outcomes"], { candidate: "matched" });
    assert.deepEqual(lines[0]!["durationsMs"], { control: 1.2, candidate: 3.4 });
    assert.equal(lines[1]!.level, INFO);
    assert.equal(lines[1]!.msg, "penumbra ignored");
    assert.equal(lines[1]!["outcome"], "ignored");
  });

  it("at pino's default level (info) a matched run costs no line", () => {
    const { logger, lines } = capture("info");
    const publisher = loggerPublisher(logger);
    publisher.publish(matchedResult());
    publisher.skipped("order-total", "overload");
    assert.deepEqual(lines, []);
  });

  it("logs skips at debug and trips at error", () => {
    const { logger, lines } = capture();
    const publisher = loggerPublisher(logger);
    publisher.skipped("order-total", "overload");
    publisher.trip({ experiment: "order-total", reason: "mismatch-rate", value: 0.2, threshold: 0.05 });
    assert.equal(lines[0]!.level, DEBUG);
    assert.deepEqual([lines[0]!["experiment"], lines[0]!["reason"]], ["order-total", "overload"]);
    assert.equal(lines[1]!.level, ERROR);
    assert.deepEqual(
      [lines[1]!["experiment"], lines[1]!["reason"], lines[1]!["value"], lines[1]!["threshold"]],
      ["order-total", "mismatch-rate", 0.2, 0.05],
    );
  });

  it("one warn line per mismatched candidate, end to end through an experiment with clean", async () => {
    const { logger, lines } = capture();
    const price = shadow(
      (sku: string) => ({ sku, cents: 4990, secret: "s" }),
      (sku: string) => ({ sku, cents: sku === "B" ? 5140 : 4990, secret: "s" }),
      { name: "price", publish: loggerPublisher(logger.child({ component: "penumbra" })), clean: (v) => ({ cents: v.cents }) },
    );
    price("A");
    price("B");
    await price.experiment.settled();
    const warnings = lines.filter((l) => l.level === WARN);
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0]!["component"], "penumbra");
    assert.equal(warnings[0]!.msg, "cents=4990 vs 5140");
    assert.deepEqual((warnings[0]!["control"] as { value: unknown }).value, { cents: 4990 });
    assert.deepEqual((warnings[0]!["candidate"] as { value: unknown }).value, { cents: 5140 });
    assert.equal(lines.filter((l) => l.level === DEBUG).length, 1);
  });

  it("works with a minimal logger without debug or error", () => {
    const calls: Array<[string, string]> = [];
    const minimal: StructuredLogger = {
      info: (_fields, message) => calls.push(["info", message]),
      warn: (_fields, message) => calls.push(["warn", message]),
    };
    const publisher = loggerPublisher(minimal);
    publisher.publish(matchedResult());
    publisher.trip({ experiment: "order-total", reason: "leak", value: 1, threshold: 0 });
    assert.deepEqual(calls.map((c) => c[0]), ["warn"]);
  });

  it("validates its arguments when built", () => {
    assert.throws(() => loggerPublisher({} as never), TypeError);
    assert.throws(() => loggerPublisher(console, { matched: "trace" as never }), /matched/);
  });
});
