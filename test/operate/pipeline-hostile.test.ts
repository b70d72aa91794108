/**
 * Every operating publisher at once (Scorecard with segments, loggerPublisher, consolePublisher,
 * prometheusPublisher with segments, memoryPublisher) behind real experiments whose behaviours
 * return or throw generated hostile values and whose contexts are hostile. The caller always gets
 * the control's answer, none of these publishers ever fails (no `publish` error), the summary stays
 * finite and the Prometheus exposition stays parseable.
 */
import { strict as assert } from "node:assert";
import fc from "fast-check";
import { Registry } from "prom-client";
import { consolePublisher, type ExperimentError, loggerPublisher, memoryPublisher, Scorecard, shadow } from "../../src/index";
import { prometheusPublisher } from "../../src/integrations/prometheus";

const trap = (): never => {
  throw new Error("trap");
};

/** The classics, picked by index: fast-check would trip over the Proxies when cloning or printing them. */
const CLASSICS: unknown[] = [
  Number.NaN,
  -0,
  Infinity,
  Symbol("s"),
  () => 1,
  new Proxy({}, { get: trap, ownKeys: trap, getOwnPropertyDescriptor: trap, getPrototypeOf: trap, has: trap }),
  new Proxy(function () {}, { get: trap, getPrototypeOf: trap }),
  Object.defineProperty({}, "x", { get: trap, enumerable: true }),
  (() => {
    const cyclic: Record<string, unknown> = {};
    cyclic["self"] = cyclic;
    return cyclic;
  })(),
  "\u001b[2J\u202e\uD800".repeat(100),
];

/** A value a behaviour may return or throw, as a thunk: everything fast-check makes, plus the classics. */
const hostile: fc.Arbitrary<{ value: () => unknown; label: string }> = fc.oneof(
  fc
    .anything({ withNullPrototype: true, withBigInt: true, withBoxedValues: true, withMap: true, withSet: true, withTypedArray: true, withSparseArray: true })
    .map((v) => ({ value: () => v, label: fc.stringify(v) })),
  fc.integer({ min: 0, max: CLASSICS.length - 1 }).map((i) => ({ value: () => CLASSICS[i], label: `CLASSICS[${i}]` })),
);

let names = 0;

describe("the operating publishers together, fed hostile behaviours and contexts", function () {
  this.timeout(20_000);

  it("never fail, never change the caller's answer, and keep every output well-formed", async () => {
    const registry = new Registry();
    const scorecard = new Scorecard({ segments: ["region", "__proto__"] });
    const memory = memoryPublisher({ limit: 50 });
    const logged: unknown[] = [];
    const printed: string[] = [];
    const publishers = [
      scorecard,
      memory,
      loggerPublisher({ info: (f) => void logged.push(f), warn: (f) => void logged.push(f), debug: (f) => void logged.push(f), error: (f) => void logged.push(f) }, { matched: "info" }),
      consolePublisher({ stream: { write: (chunk: string) => void printed.push(chunk) } }),
      prometheusPublisher({ registry, segments: ["region"] }),
    ];
    await fc.assert(
      fc.asyncProperty(hostile, hostile, fc.boolean(), fc.boolean(), hostile, async (control, candidate, controlThrows, candidateThrows, regionOf) => {
        const controlValue = control.value();
        const candidateValue = candidate.value();
        const region = regionOf.value();
        const errors: ExperimentError[] = [];
        const name = `pipeline-${++names}`;
        const fn = shadow(
          () => {
            if (controlThrows) throw controlValue;
            return controlValue;
          },
          () => {
            if (candidateThrows) throw candidateValue;
            return candidateValue;
          },
          {
            name,
            publish: publishers,
            context: () => ({ region, ["__proto__"]: region }),
            onError: (e) => void errors.push(e),
            guardrails: { maxMismatchRate: 0.99, minRuns: 1 },
          },
        );
        let answer: unknown;
        let thrown: unknown;
        let threw = false;
        try {
          answer = fn();
        } catch (error) {
          threw = true;
          thrown = error;
        }
        assert.equal(threw, controlThrows);
        if (controlThrows) assert.ok(Object.is(thrown, controlValue));
        else assert.ok(Object.is(answer, controlValue));
        await fn.experiment.settled();
        const failures = errors.filter((e) => e.operation === "publish");
        assert.deepEqual(failures.map((e) => e.message), []);
        const summary = scorecard.summary(name);
        if (summary !== undefined) {
          const walk = (v: unknown): void => {
            if (typeof v === "number") assert.ok(Number.isFinite(v), `non-finite number in ${JSON.stringify(summary)}`);
            else if (typeof v === "object" && v !== null) Object.values(v).forEach(walk);
          };
          walk(summary);
        }
      }),
      { numRuns: 150 },
    );
    const text = Buffer.from(await registry.metrics(), "utf8").toString("utf8");
    const seen = new Set<string>();
    for (const line of text.split("\n")) {
      if (line === "" || line.startsWith("#")) continue;
      const series = line.slice(0, line.lastIndexOf(" "));
      assert.ok(!seen.has(series), `series twice: ${series}`);
      seen.add(series);
    }
    for (const line of printed) assert.equal(line.indexOf("\n"), line.length - 1, JSON.stringify(line));
  });
});
