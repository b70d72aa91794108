/**
 * prometheusPublisher fed hostile names: quotes, newlines, backslashes, any Unicode (lone surrogates
 * included) as experiment and candidate names. The exposition, as it goes over the wire (UTF-8), is
 * parsed back by a strict parser and by promtool: every line valid, no series twice, every label
 * value the name it came from, and no series per run.
 */
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import fc from "fast-check";
import { Registry } from "prom-client";
import { prometheusPublisher } from "../../src/integrations/prometheus";
import type { Observation, Result } from "../../src/types/results";
import { matchedResult, mismatchedResult } from "../publishers/fixtures";

/** What a receiver reads: the text encoded as UTF-8 and decoded again (lone surrogates become U+FFFD). */
const overTheWire = (text: string): string => Buffer.from(text, "utf8").toString("utf8");

/** The Prometheus text format's label value, unescaped; throws on anything the format does not allow. */
function parseLine(line: string): { name: string; labels: Record<string, string>; value: string } {
  const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)?.[0];
  if (name === undefined) throw new Error(`no metric name: ${JSON.stringify(line)}`);
  let i = name.length;
  const labels: Record<string, string> = {};
  if (line[i] === "{") {
    i++;
    while (line[i] !== "}") {
      const key = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(line.slice(i))?.[0];
      if (key === undefined || line[i + key.length] !== "=" || line[i + key.length + 1] !== '"') throw new Error(`bad label at ${i}: ${JSON.stringify(line)}`);
      i += key.length + 2;
      let value = "";
      for (;;) {
        const c = line[i];
        if (c === undefined) throw new Error(`unterminated label value: ${JSON.stringify(line)}`);
        if (c === '"') break;
        if (c === "\n") throw new Error("raw newline in a label value");
        if (c === "\\") {
          const next = line[i + 1];
          if (next === "n") value += "\n";
          else if (next === "\\" || next === '"') value += next;
          else throw new Error(`bad escape \\${String(next)}: ${JSON.stringify(line)}`);
          i += 2;
          continue;
        }
        value += c;
        i++;
      }
      if (key in labels) throw new Error(`label ${key} twice`);
      labels[key] = value;
      i++;
      if (line[i] === ",") i++;
    }
    i++;
  }
  if (line[i] !== " ") throw new Error(`no space before the value: ${JSON.stringify(line)}`);
  const value = line.slice(i + 1);
  if (!/^(?:[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|[+-]Inf|NaN)$/.test(value)) throw new Error(`bad value ${value}`);
  return { name, labels, value };
}

function parse(text: string): Array<ReturnType<typeof parseLine>> {
  const seen = new Set<string>();
  const out: Array<ReturnType<typeof parseLine>> = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const sample = parseLine(line);
    const series = line.slice(0, line.lastIndexOf(" "));
    if (seen.has(series)) throw new Error(`series twice: ${JSON.stringify(series)}`);
    seen.add(series);
    out.push(sample);
  }
  return out;
}

function named(experiment: string, candidate: string, mismatch: boolean): Result<unknown> {
  const base = mismatch ? mismatchedResult() : matchedResult();
  const observation = base.candidates[0] as Observation<unknown>;
  return {
    ...base,
    experiment,
    candidates: [{ ...observation, name: candidate }],
    outcomes: { [candidate]: mismatch ? "mismatched" : "matched" },
    mismatches: base.mismatches.map((m) => ({ ...m, candidate })),
  };
}

const hostileName = fc.oneof(
  fc.string({ unit: "binary", minLength: 1, maxLength: 12 }),
  fc.constantFrom('say "hi"', "a\nb", "back\\slash", "\\n", '\\"', "\u2028", "\uD800", "\uDC00", "a\uD83D", "a\uD83E", "é", "\u0000", "{}", "le", "=\"x\""),
);

describe("prometheusPublisher with hostile names", () => {
  it("keeps the exposition valid on the wire: every line parses, no series twice, label values are the names", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(hostileName, hostileName, fc.boolean()), { minLength: 1, maxLength: 8 }), async (runs) => {
        const registry = new Registry();
        const publisher = prometheusPublisher({ registry });
        for (const [experiment, candidate, bad] of runs) {
          publisher.publish(named(experiment, candidate, bad));
          publisher.skipped(experiment, "overload");
          publisher.trip({ experiment, reason: "leak", value: 1, threshold: 0 });
        }
        const samples = parse(overTheWire(await registry.metrics()));
        const experiments = new Set(samples.flatMap((s) => (s.labels["experiment"] === undefined ? [] : [s.labels["experiment"]])));
        assert.deepEqual(experiments, new Set(runs.map(([e]) => overTheWire(e))));
        const comparisons = samples.filter((s) => s.name === "penumbra_comparisons_total");
        assert.equal(
          comparisons.reduce((sum, s) => sum + Number(s.value), 0),
          runs.length,
          "every comparison counted once",
        );
      }),
      { numRuns: 150 },
    );
  });

  it("promtool accepts the exposition of the nastiest names", async function () {
    const promtool = spawnSync("promtool", ["--version"]);
    if (promtool.error !== undefined) {
      console.log("      skipped: promtool is not installed");
      this.skip();
    }
    const registry = new Registry();
    const publisher = prometheusPublisher({ registry });
    for (const name of ['say "hi"', "a\nb", "back\\slash", "\uD800", "\uDC00", "a\uD83D", "a\uD83E", "\u0000", "\u2028"]) {
      publisher.publish(named(name, `${name}-candidate`, true));
    }
    const text = await registry.metrics();
    const checked = spawnSync("promtool", ["check", "metrics"], { input: Buffer.from(text, "utf8"), encoding: "utf8" });
    // promtool exits 1 on lint warnings (e.g. naming); 3 is a parse error. Either way it must not fail to parse.
    assert.doesNotMatch(`${checked.stdout}${checked.stderr}`, /error while linting|text format parsing error|duplicate/i, checked.stderr);
    assert.doesNotThrow(() => parse(overTheWire(text)));
  });

  it("never makes a series per run id, however many runs", async () => {
    const registry = new Registry();
    const publisher = prometheusPublisher({ registry });
    for (let i = 0; i < 500; i++) publisher.publish({ ...named("x", "candidate", i % 2 === 0), runId: `run-${i}` });
    const text = await registry.metrics();
    assert.doesNotMatch(text, /run-\d+/);
    assert.ok(parse(text).length < 100, `${parse(text).length} series`);
  });

  it("a registry that throws when asked for its metrics is a TypeError when built, and one that breaks later never throws from publish", () => {
    const real = new Registry();
    const throwing = new Proxy(real, {
      get(target, key, receiver) {
        if (key === "getSingleMetric") {
          return () => {
            throw new Error("registry down");
          };
        }
        return Reflect.get(target, key, receiver) as unknown;
      },
    });
    assert.throws(() => prometheusPublisher({ registry: throwing }), (e: unknown) => e instanceof TypeError && /registry/.test(e.message) && /registry down/.test(e.message));
    const unreadable = new Proxy({}, { get: () => { throw new Error("options trap"); } });
    assert.throws(() => prometheusPublisher(unreadable), (e: unknown) => e instanceof TypeError && /prometheusPublisher/.test(e.message));
    // A registry that breaks after the publisher is built: publish only touches the metrics themselves.
    let broken = false;
    const later = new Proxy(new Registry(), {
      get(target, key, receiver) {
        if (broken) throw new Error("registry down");
        const value = Reflect.get(target, key, receiver) as unknown;
        return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const publisher = prometheusPublisher({ registry: later });
    broken = true;
    assert.doesNotThrow(() => publisher.publish(named("x", "candidate", true)));
    assert.doesNotThrow(() => publisher.trip({ experiment: "x", reason: "leak", value: 1, threshold: 0 }));
  });

  it("refuses, when built, histogram buckets that are not strictly increasing (a repeated le is the same series twice)", async () => {
    for (const buckets of [[1, 1], [5, 1], [0.1, 0.5, 0.5, 1], [2, 1, 3]]) {
      assert.throws(() => prometheusPublisher({ registry: new Registry(), buckets }), (e: unknown) => e instanceof TypeError && /buckets/.test(e.message), JSON.stringify(buckets));
    }
    const registry = new Registry();
    prometheusPublisher({ registry, buckets: [0.001, 0.01, 1] }).publish(named("x", "candidate", false));
    const text = await registry.metrics();
    assert.doesNotThrow(() => parse(overTheWire(text)));
  });
});
