/**
 * Publishers that misbehave, through real experiments: loggers whose methods throw or are getters
 * that throw, streams whose write throws, publishers whose `skipped` / `trip` are throwing getters,
 * an `onTrip` that rejects. The caller always gets the control's answer, nothing throws at it, and
 * each failure is an ExperimentError (`publish`, `onTrip`) while the other publishers still hear.
 */
import { strict as assert } from "node:assert";
import fc from "fast-check";
import { Registry } from "prom-client";
import { prometheusPublisher } from "../../src/integrations/prometheus";
import { consolePublisher, Experiment, type ExperimentError, loggerPublisher, type Publisher, Scorecard, shadow } from "../../src/index";
import type { StructuredLogger } from "../../src/publishers/logger";
import { collector, sleep } from "../support/capture";

let names = 0;
const unique = (what: string): string => `hostile-publisher-${what}-${++names}`;

function throwingGetter<T extends object>(target: T, key: string): T {
  return Object.defineProperty(target, key, {
    get() {
      throw new Error(`getter ${key} exploded`);
    },
    enumerable: true,
  });
}

/** Runs `total` mismatching calls of a background experiment with `publishers`; returns the errors reported. */
async function mismatchThrough(publishers: Publisher[], calls = 3, extra: Record<string, unknown> = {}): Promise<{ errors: ExperimentError[]; answers: number[] }> {
  const errors: ExperimentError[] = [];
  const fn = shadow(
    (n: number) => n,
    (n: number) => n + 1,
    { name: unique("mismatch"), publish: publishers, onError: (e) => void errors.push(e), ...extra },
  );
  const answers: number[] = [];
  for (let i = 0; i < calls; i++) answers.push(fn(i));
  await fn.experiment.settled();
  return { errors, answers };
}

describe("publishers that misbehave", () => {
  it("a logger whose warn throws is reported as publish, and the next publisher still gets the result", async () => {
    const logger: StructuredLogger = {
      info: () => undefined,
      warn: () => {
        throw new Error("log sink down");
      },
    };
    const sink = collector();
    const { errors, answers } = await mismatchThrough([loggerPublisher(logger), sink]);
    assert.deepEqual(answers, [0, 1, 2]);
    assert.equal(sink.results.length, 3);
    assert.deepEqual(errors.map((e) => e.operation), ["publish", "publish", "publish"]);
  });

  it("a logger whose methods are getters that throw (after construction) is reported as publish, not thrown", async () => {
    let armed = false;
    const logger = {
      get info() {
        if (armed) throw new Error("info getter");
        return () => undefined;
      },
      get warn() {
        if (armed) throw new Error("warn getter");
        return () => undefined;
      },
      get error() {
        throw new Error("error getter");
      },
    } as StructuredLogger;
    const published = loggerPublisher(logger, { matched: "info" });
    armed = true;
    const sink = collector();
    const { errors, answers } = await mismatchThrough([published, sink]);
    assert.deepEqual(answers, [0, 1, 2]);
    assert.equal(sink.results.length, 3);
    assert.equal(errors.length, 3);
    assert.ok(errors.every((e) => e.operation === "publish"));
    assert.throws(() => published.trip({ experiment: "x", reason: "leak", value: 1, threshold: 0 }), /error getter/);
  });

  it("a console stream whose write throws, or whose write becomes a throwing getter, is reported as publish", async () => {
    const throwing = { write: (): never => {
      throw new Error("EPIPE");
    } };
    // Readable when the publisher is built (it checks), throwing afterwards.
    let armed = false;
    const getter = {
      get write(): (chunk: string) => unknown {
        if (armed) throw new Error("write getter");
        return () => undefined;
      },
    };
    for (const stream of [throwing, getter]) {
      armed = false;
      const printer = consolePublisher({ stream });
      armed = true;
      const sink = collector();
      const { errors, answers } = await mismatchThrough([printer, sink]);
      assert.deepEqual(answers, [0, 1, 2]);
      assert.equal(sink.results.length, 3);
      assert.deepEqual(errors.map((e) => e.operation), ["publish", "publish", "publish"]);
    }
  });

  it("a publisher whose skipped is a throwing getter never throws at the caller under overload; the others hear of the skip", async () => {
    const hostile = throwingGetter({ publish: () => undefined } as Publisher & object, "skipped");
    const sink = collector();
    const errors: ExperimentError[] = [];
    const fn = shadow(
      async (n: number) => n,
      async (n: number) => {
        await sleep(30);
        return n;
      },
      { name: unique("skip"), publish: [hostile, sink], maxConcurrent: 1, onError: (e) => void errors.push(e) },
    );
    const answers: Array<Promise<number>> = [];
    for (let i = 0; i < 5; i++) answers.push(fn(i));
    assert.deepEqual(await Promise.all(answers), [0, 1, 2, 3, 4]);
    await fn.experiment.settled();
    assert.ok(sink.skips.length >= 1, "the well-behaved publisher heard of the skips");
    assert.ok(errors.length >= 1 && errors.every((e) => e.operation === "publish"), JSON.stringify(errors.map((e) => e.operation)));
  });

  it("a publisher whose trip is a throwing getter is reported as publish; onTrip and the other publishers still hear of the trip", async () => {
    const hostile = throwingGetter({ publish: () => undefined } as Publisher & object, "trip");
    const trips: string[] = [];
    const heard: string[] = [];
    const { errors, answers } = await mismatchThrough(
      [hostile, { publish: () => undefined, trip: (e) => void heard.push(e.reason) }],
      3,
      { guardrails: { maxMismatchRate: 0, minRuns: 1, onTrip: (e: { reason: string }) => void trips.push(e.reason) } },
    );
    assert.deepEqual(answers, [0, 1, 2]);
    assert.deepEqual(trips, ["mismatch-rate"]);
    assert.deepEqual(heard, ["mismatch-rate"]);
    assert.deepEqual(errors.map((e) => e.operation), ["publish"]);
  });

  it("an async onTrip that rejects is reported as operation onTrip, once, and is not an unhandled rejection", async () => {
    const unhandled: unknown[] = [];
    const listener = (reason: unknown): void => void unhandled.push(reason);
    const listeners = process.listeners("unhandledRejection");
    process.removeAllListeners("unhandledRejection");
    process.on("unhandledRejection", listener);
    try {
      let calls = 0;
      const { errors, answers } = await mismatchThrough([collector()], 5, {
        guardrails: {
          maxMismatchRate: 0,
          minRuns: 1,
          onTrip: async () => {
            calls++;
            await sleep(1);
            throw new Error("pager down");
          },
        },
      });
      await sleep(20);
      assert.deepEqual(answers, [0, 1, 2, 3, 4]);
      assert.equal(calls, 1);
      assert.deepEqual(unhandled, []);
      assert.deepEqual(errors.map((e) => e.operation), ["onTrip"]);
      assert.match(String(errors[0]?.message), /pager down/);
    } finally {
      process.removeListener("unhandledRejection", listener);
      for (const l of listeners) process.on("unhandledRejection", l);
    }
  });

  it("consolePublisher writes one line per result with no terminal controls or bidi overrides, whatever the names and values", async () => {
    const FORBIDDEN = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029\n\r]/;
    const nasty = fc.oneof(
      fc.string({ unit: "binary", maxLength: 12 }),
      fc.constantFrom("\u001b[2J", "\u009b31m", "\u202eevil", "a\r\nb", "\u2066x\u2069", "\u0085next"),
    );
    await fc.assert(
      fc.asyncProperty(nasty, nasty, nasty, async (experiment, candidate, value) => {
        const lines: string[] = [];
        const printer = consolePublisher({ stream: { write: (chunk: string) => void lines.push(chunk) } });
        const experimentName = `${experiment}#${++names}`; // unique: no duplicate-name warning per generated case
        const candidateName = candidate === "" || candidate === "control" ? "y" : candidate;
        const built = new Experiment<[string], string>(experimentName, { publish: printer, onError: () => undefined })
          .use((v: string) => `${v}!`)
          .try(candidateName, (v: string) => v);
        built.run(value);
        await built.settled();
        printer.skipped(experiment, "overload");
        printer.trip({ experiment, reason: "leak", value: 1, threshold: 0 });
        assert.ok(lines.length >= 2);
        for (const line of lines) {
          assert.ok(line.endsWith("\n"));
          const body = line.slice(0, -1);
          assert.doesNotMatch(body, FORBIDDEN, JSON.stringify(body));
        }
      }),
      { numRuns: 60 },
    );
  });

  it("a candidate that throws a Proxy whose every trap throws is still counted, logged and judged", async () => {
    const trap = (): never => {
      throw new Error("trap");
    };
    const hostile = new Proxy(function () {}, { getPrototypeOf: trap, get: trap, has: trap, ownKeys: trap, getOwnPropertyDescriptor: trap });
    const scorecard = new Scorecard();
    const warned: string[] = [];
    const logger: StructuredLogger = { info: () => undefined, warn: (_fields, message) => void warned.push(message), error: () => undefined };
    const errors: ExperimentError[] = [];
    const trips: string[] = [];
    const fn = shadow(
      (n: number) => n,
      (): number => {
        throw hostile;
      },
      {
        name: unique("proxy-thrown"),
        publish: [scorecard, loggerPublisher(logger)],
        onError: (e) => void errors.push(e),
        guardrails: { maxMismatchRate: 0.5, minRuns: 2, onTrip: (e) => void trips.push(e.reason) },
      },
    );
    for (let i = 0; i < 3; i++) assert.equal(fn(i), i);
    await fn.experiment.settled();
    assert.deepEqual(errors.map((e) => `${e.operation}: ${e.message}`), []);
    const summary = scorecard.summary(fn.experiment.name);
    assert.equal(summary?.runs, 3);
    assert.equal(summary?.errorRate, 1);
    assert.equal(summary?.reasons.length, 1);
    assert.match(summary?.reasons[0]?.reason ?? "", /^error:/);
    assert.equal(warned.length, 3, "one warn line per mismatched run");
    assert.deepEqual(trips, ["mismatch-rate"]);
  });

  it("refuses, when built, a stream without write and a logger it cannot read, with a TypeError naming the option", () => {
    for (const stream of [{}, { write: "yes" }, 42, "stderr"]) {
      assert.throws(() => consolePublisher({ stream: stream as never }), (e: unknown) => e instanceof TypeError && /stream/.test(e.message), JSON.stringify(stream));
    }
    const unreadable = throwingGetter({ warn: () => undefined } as unknown as StructuredLogger, "info");
    assert.throws(() => loggerPublisher(unreadable), (e: unknown) => e instanceof TypeError && /logger/.test(e.message));
    const proxy = new Proxy({}, { get: () => { throw new Error("trap"); } }) as StructuredLogger;
    assert.throws(() => loggerPublisher(proxy), (e: unknown) => e instanceof TypeError && /logger/.test(e.message));
    const options = throwingGetter({}, "stream");
    assert.throws(() => consolePublisher(options), (e: unknown) => e instanceof TypeError && /stream/.test(e.message));
  });
});

describe("candidates named like Object.prototype's keys", () => {
  it("a candidate named __proto__ has its outcome in the result and is counted by the Scorecard, Prometheus and the logger", async () => {
    const registry = new Registry();
    const scorecard = new Scorecard();
    const logged: Array<Record<string, unknown>> = [];
    const logger: StructuredLogger = { info: (fields) => void logged.push(fields), warn: (fields) => void logged.push(fields) };
    const results: Array<{ outcomes: Record<string, string> }> = [];
    const experiment = new Experiment<[number], number>("proto-named-candidates", {
      publish: [scorecard, prometheusPublisher({ registry }), loggerPublisher(logger, { matched: "info" }), (r) => void results.push(r)],
    })
      .use((n) => n)
      .try("__proto__", (n) => n + 1)
      .try("constructor", (n) => n);
    experiment.run(1);
    await experiment.settled();
    const outcomes = results[0]?.outcomes ?? {};
    assert.deepEqual(Object.keys(outcomes).sort(), ["__proto__", "constructor"]);
    assert.equal(Object.getOwnPropertyDescriptor(outcomes, "__proto__")?.value, "mismatched");
    assert.equal(Object.getPrototypeOf(outcomes), Object.prototype);
    assert.equal(scorecard.summary("proto-named-candidates", "__proto__")?.fieldMatchRate, 0);
    assert.equal(scorecard.summary("proto-named-candidates", "constructor")?.fieldMatchRate, 1);
    const text = await registry.metrics();
    assert.match(text, /penumbra_comparisons_total\{experiment="proto-named-candidates",candidate="__proto__",outcome="mismatched"\} 1/);
    experiment.run(2); // a mismatch again; now check a matched-only run's durations through a fresh experiment
    await experiment.settled();
    const matched = new Experiment<[number], number>("proto-named-matched", { publish: loggerPublisher(logger, { matched: "info" }) })
      .use((n) => n)
      .try("__proto__", (n) => n);
    matched.run(1);
    await matched.settled();
    const line = logged.find((l) => l["experiment"] === "proto-named-matched");
    assert.ok(line !== undefined);
    assert.deepEqual(Object.keys(line["durationsMs"] as object).sort(), ["__proto__", "control"]);
  });
});
