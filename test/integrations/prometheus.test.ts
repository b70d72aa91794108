/**
 * penumbra/prometheus against real prom-client registries, including cluster aggregation across
 * real node:cluster workers.
 */
import { strict as assert } from "node:assert";
import { execFile } from "node:child_process";
import * as path from "node:path";
import fc from "fast-check";
import { Counter, Registry, register as globalRegistry } from "prom-client";
import { startPrometheus, prometheusMissing } from "../../examples/fleet/prometheus-server";
import { shadow } from "../../src/index";
import { prometheusPublisher } from "../../src/integrations/prometheus";
import type { Observation, Result } from "../../src/types/results";
import { matchedResult, mismatchedResult } from "../publishers/fixtures";
import { metricsServer } from "./fleet-support";

const root = path.resolve(__dirname, "../..");

/** Every sample line of the text: the series (name and labels) and its value. */
function samples(text: string): Array<{ series: string; labels: Record<string, string>; value: number }> {
  return text
    .split("\n")
    .filter((line) => line !== "" && !line.startsWith("#"))
    .map((line) => {
      const cut = line.lastIndexOf(" ");
      const series = line.slice(0, cut);
      const labels: Record<string, string> = {};
      for (const m of series.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[m[1] as string] = m[2] as string;
      return { series, labels, value: Number(line.slice(cut + 1)) };
    });
}

/** A result with two candidates, "fast" and "slow", with the given outcomes. */
function twoCandidates(fast: "matched" | "mismatched", slow: "matched" | "mismatched", timedOut = false): Result<unknown> {
  const base = matchedResult();
  const candidate = base.candidates[0] as Observation<unknown>;
  return {
    ...base,
    candidates: [
      { ...candidate, name: "fast", durationMs: 0.02 },
      { ...candidate, name: "slow", durationMs: 40, timedOut },
    ],
    outcomes: { fast, slow },
    matched: fast === "matched" && slow === "matched",
    mismatched: fast === "mismatched" || slow === "mismatched",
  };
}

/** The value of the sample line `name{labels} value` in Prometheus text, or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe("penumbra/prometheus", () => {
  it("exposes comparisons by outcome, durations in seconds by behaviour, skips, leaks and trips", async () => {
    const registry = new Registry();
    const prometheus = prometheusPublisher({ registry });
    prometheus.publish(mismatchedResult());
    prometheus.publish(matchedResult());
    prometheus.publish(matchedResult());
    const leaky = mismatchedResult();
    prometheus.publish({
      ...leaky,
      candidates: leaky.candidates.map((c) => ({ ...c, leaks: [{ kind: "network", target: "api.example.com:443", blocked: true }] })),
    });
    prometheus.skipped("order-total", "overload");
    prometheus.trip({ experiment: "order-total", reason: "mismatch-rate", value: 0.5, threshold: 0.05 });

    const text = await registry.metrics();
    assert.equal(sample(text, 'penumbra_comparisons_total{experiment="order-total",candidate="candidate",outcome="matched"}'), 2);
    assert.equal(sample(text, 'penumbra_comparisons_total{experiment="order-total",candidate="candidate",outcome="mismatched"}'), 2);
    assert.equal(sample(text, 'penumbra_behavior_duration_seconds_count{experiment="order-total",behavior="control"}'), 4);
    assert.equal(sample(text, 'penumbra_behavior_duration_seconds_count{experiment="order-total",behavior="candidate"}'), 4);
    const candidateSum = sample(text, 'penumbra_behavior_duration_seconds_sum{experiment="order-total",behavior="candidate"}');
    assert.ok(candidateSum !== undefined && Math.abs(candidateSum - 4 * 0.0034) < 1e-9, `candidate sum ${candidateSum}`);
    assert.equal(sample(text, 'penumbra_behavior_duration_seconds_bucket{le="0.005",experiment="order-total",behavior="candidate"}'), 4);
    assert.equal(sample(text, 'penumbra_behavior_duration_seconds_bucket{le="0.0025",experiment="order-total",behavior="candidate"}'), 0);
    assert.equal(sample(text, 'penumbra_skipped_total{experiment="order-total",reason="overload"}'), 1);
    assert.equal(sample(text, 'penumbra_leaks_total{experiment="order-total",candidate="candidate"}'), 1);
    assert.equal(sample(text, 'penumbra_trips_total{experiment="order-total",reason="mismatch-rate"}'), 1);
    assert.match(text, /# TYPE penumbra_behavior_duration_seconds histogram/);
  });

  it("creates the metrics once per registry: two publishers share them, other registries get their own", async () => {
    const registry = new Registry();
    const first = prometheusPublisher({ registry });
    const second = prometheusPublisher({ registry });
    const other = new Registry();
    const third = prometheusPublisher({ registry: other });
    first.publish(matchedResult());
    second.publish(matchedResult());
    third.publish(matchedResult());
    assert.equal(sample(await registry.metrics(), 'penumbra_comparisons_total{experiment="order-total",candidate="candidate",outcome="matched"}'), 2);
    assert.equal(sample(await other.metrics(), 'penumbra_comparisons_total{experiment="order-total",candidate="candidate",outcome="matched"}'), 1);
  });

  it("registers the metrics again after registry.clear() (hot reload, per-test registries)", async () => {
    const registry = new Registry();
    prometheusPublisher({ registry }).publish(matchedResult());
    registry.clear();
    prometheusPublisher({ registry }).publish(matchedResult());
    assert.equal(sample(await registry.metrics(), 'penumbra_comparisons_total{experiment="order-total",candidate="candidate",outcome="matched"}'), 1);
  });

  it("registers nothing on the global registry when given one, and uses the global one by default", async () => {
    const before = globalRegistry.getSingleMetric("penumbra_comparisons_total");
    prometheusPublisher({ registry: new Registry() });
    assert.equal(globalRegistry.getSingleMetric("penumbra_comparisons_total"), before);
    try {
      prometheusPublisher().publish(matchedResult());
      prometheusPublisher().publish(matchedResult());
      assert.ok(globalRegistry.getSingleMetric("penumbra_comparisons_total"));
    } finally {
      for (const name of ["comparisons_total", "behavior_duration_seconds", "skipped_total", "leaks_total", "timeouts_total", "mismatches_total", "mismatch_reasons_total", "trips_total"]) {
        globalRegistry.removeSingleMetric(`penumbra_${name}`);
      }
    }
  });

  it("refuses, when built, a registry whose metric of the same name is something else", () => {
    const registry = new Registry();
    new Counter({ name: "penumbra_behavior_duration_seconds", help: "not ours", registers: [registry] });
    assert.throws(() => prometheusPublisher({ registry }), /penumbra_behavior_duration_seconds/);
    assert.throws(() => prometheusPublisher({ registry: {} as never }), TypeError);
    assert.throws(() => prometheusPublisher({ registry: new Registry(), buckets: [] }), /buckets/);
  });

  it("works as an experiment's publisher end to end", async () => {
    const registry = new Registry();
    const total = shadow((n: number) => n * 2, (n: number) => (n % 5 === 0 ? -1 : n * 2), {
      name: "double",
      publish: prometheusPublisher({ registry }),
    });
    for (let i = 1; i <= 20; i++) total(i);
    await total.experiment.settled();
    const text = await registry.metrics();
    assert.equal(sample(text, 'penumbra_comparisons_total{experiment="double",candidate="candidate",outcome="matched"}'), 16);
    assert.equal(sample(text, 'penumbra_comparisons_total{experiment="double",candidate="candidate",outcome="mismatched"}'), 4);
  });

  it("sums across node:cluster workers with AggregatorRegistry.clusterMetrics()", async function () {
    this.timeout(30_000);
    const text = await new Promise<string>((resolve, reject) => {
      execFile(
        process.execPath,
        ["-r", "ts-node/register", "test/integrations/fixtures/prometheus-cluster.ts"],
        { cwd: root, encoding: "utf8", timeout: 15_000 },
        (error, stdout, stderr) => (error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout)),
      );
    });
    // Worker one published 3 matched results, worker two 5; each published one mismatch and one skip.
    assert.equal(sample(text, 'penumbra_comparisons_total{experiment="order-total",candidate="candidate",outcome="matched"}'), 8);
    assert.equal(sample(text, 'penumbra_comparisons_total{experiment="order-total",candidate="candidate",outcome="mismatched"}'), 2);
    assert.equal(sample(text, 'penumbra_skipped_total{experiment="order-total",reason="overload"}'), 2);
    assert.equal(sample(text, 'penumbra_behavior_duration_seconds_count{experiment="order-total",behavior="control"}'), 10);
  });

  it("creates every series of an experiment at 0 with its first result, so rate() sees the first event", async () => {
    const registry = new Registry();
    prometheusPublisher({ registry }).publish(matchedResult());
    const text = await registry.metrics();
    const at = (series: string): number | undefined => sample(text, series);
    assert.equal(at('penumbra_comparisons_total{experiment="order-total",candidate="candidate",outcome="matched"}'), 1);
    assert.equal(at('penumbra_comparisons_total{experiment="order-total",candidate="candidate",outcome="mismatched"}'), 0);
    assert.equal(at('penumbra_comparisons_total{experiment="order-total",candidate="candidate",outcome="ignored"}'), 0);
    assert.equal(at('penumbra_skipped_total{experiment="order-total",reason="overload"}'), 0);
    assert.equal(at('penumbra_leaks_total{experiment="order-total",candidate="candidate"}'), 0);
    assert.equal(at('penumbra_timeouts_total{experiment="order-total",candidate="candidate"}'), 0);
    for (const kind of ["error", "status", "value", "effects"]) {
      assert.equal(at(`penumbra_mismatches_total{experiment="order-total",candidate="candidate",kind="${kind}"}`), 0, kind);
    }
    for (const reason of ["mismatch-rate", "latency", "timeout-rate", "leak"]) {
      assert.equal(at(`penumbra_trips_total{experiment="order-total",reason="${reason}"}`), 0, reason);
    }
  });

  it("creates the trip series at 0 before a trip that comes first, so the trip itself is an increase of 1", async () => {
    const registry = new Registry();
    const publisher = prometheusPublisher({ registry });
    publisher.trip({ experiment: "solo", reason: "leak", value: 1, threshold: 0 });
    const text = await registry.metrics();
    assert.equal(sample(text, 'penumbra_trips_total{experiment="solo",reason="leak"}'), 1);
    assert.equal(sample(text, 'penumbra_trips_total{experiment="solo",reason="latency"}'), 0);
    assert.equal(sample(text, 'penumbra_skipped_total{experiment="solo",reason="overload"}'), 0);
  });

  it("judges several candidates apart: comparisons, durations, timeouts and leaks carry the candidate", async () => {
    const registry = new Registry();
    const publisher = prometheusPublisher({ registry });
    publisher.publish(twoCandidates("matched", "mismatched", true));
    publisher.publish(twoCandidates("matched", "mismatched"));
    publisher.publish(twoCandidates("mismatched", "matched"));
    const text = await registry.metrics();
    assert.equal(sample(text, 'penumbra_comparisons_total{experiment="order-total",candidate="fast",outcome="matched"}'), 2);
    assert.equal(sample(text, 'penumbra_comparisons_total{experiment="order-total",candidate="fast",outcome="mismatched"}'), 1);
    assert.equal(sample(text, 'penumbra_comparisons_total{experiment="order-total",candidate="slow",outcome="mismatched"}'), 2);
    assert.equal(sample(text, 'penumbra_timeouts_total{experiment="order-total",candidate="slow"}'), 1);
    assert.equal(sample(text, 'penumbra_timeouts_total{experiment="order-total",candidate="fast"}'), 0);
    assert.equal(sample(text, 'penumbra_behavior_duration_seconds_count{experiment="order-total",behavior="slow"}'), 3);
  });

  it("counts mismatches by kind and by reason (bucket, else kind), 20 reasons per candidate then (other)", async () => {
    const registry = new Registry();
    const publisher = prometheusPublisher({ registry });
    const withMismatch = (kind: "error" | "status" | "value" | "effects", buckets: string[]): Result<unknown> => {
      const base = mismatchedResult();
      return { ...base, mismatches: base.mismatches.map((m) => ({ ...m, kind, buckets })) };
    };
    publisher.publish(withMismatch("value", ["rounding"]));
    publisher.publish(withMismatch("value", ["rounding", "coupon", "rounding"]));
    publisher.publish(withMismatch("error", []));
    for (let i = 0; i < 25; i++) publisher.publish(withMismatch("value", [`bucket-${i}`]));
    const text = await registry.metrics();
    const reason = (r: string): number | undefined => sample(text, `penumbra_mismatch_reasons_total{experiment="order-total",candidate="candidate",reason="${r}"}`);
    assert.equal(reason("rounding"), 2, "a reason counts once per mismatch");
    assert.equal(reason("coupon"), 1);
    assert.equal(reason("kind:error"), 1);
    const reasons = samples(text).filter((s) => s.series.startsWith("penumbra_mismatch_reasons_total{"));
    assert.equal(reasons.length, 21);
    assert.equal(reason("(other)"), 8); // 3 reasons + bucket-0..16 fill the 20; bucket-17..24 are (other)
    assert.equal(sample(text, 'penumbra_mismatches_total{experiment="order-total",candidate="candidate",kind="value"}'), 27);
    assert.equal(sample(text, 'penumbra_mismatches_total{experiment="order-total",candidate="candidate",kind="error"}'), 1);
  });

  it("buckets durations from 10 µs by default, so a microsecond function is not all in the first bucket", async () => {
    const registry = new Registry();
    prometheusPublisher({ registry }).publish(twoCandidates("matched", "matched"));
    const text = await registry.metrics();
    const le = (bound: string, behavior: string): number | undefined =>
      sample(text, `penumbra_behavior_duration_seconds_bucket{le="${bound}",experiment="order-total",behavior="${behavior}"}`);
    assert.equal(le("0.00001", "fast"), 0);
    assert.equal(le("0.000025", "fast"), 1); // 20 µs
    assert.equal(le("0.025", "slow"), 0);
    assert.equal(le("0.05", "slow"), 1); // 40 ms
    assert.equal(le("10", "slow"), 1);
  });

  it("never turns a run id, a context value or an argument into a label unless segments asks", async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ minLength: 1 }), fc.dictionary(fc.string(), fc.anything()), fc.anything(), async (runId, context, arg) => {
        const registry = new Registry();
        prometheusPublisher({ registry }).publish(mismatchedResult({ runId, context, args: [arg] }));
        const names = new Set(samples(await registry.metrics()).flatMap((s) => Object.keys(s.labels)));
        assert.deepEqual([...names].sort(), ["behavior", "candidate", "experiment", "kind", "le", "outcome", "reason"]);
      }),
      { numRuns: 50 },
    );
  });

  it("with segments, labels comparisons by context key: 20 values per key, the rest (other), a missing key (none)", async () => {
    const registry = new Registry();
    const publisher = prometheusPublisher({ registry, segments: ["region", "coupon"] });
    for (let i = 0; i < 30; i++) publisher.publish(mismatchedResult({ context: { region: `r${i}`, coupon: i % 2 === 0 } }));
    publisher.publish(matchedResult({ context: { region: "r0" } }));
    publisher.publish(matchedResult({ context: { region: "r25" } }));
    const all = samples(await registry.metrics()).filter((s) => s.series.startsWith("penumbra_comparisons_total{"));
    const regions = new Set(all.map((s) => s.labels["region"]));
    assert.equal(regions.size, 21);
    assert.ok(regions.has("(other)"));
    const value = (region: string, coupon: string, outcome: string): number | undefined =>
      all.find((s) => s.labels["region"] === region && s.labels["coupon"] === coupon && s.labels["outcome"] === outcome)?.value;
    assert.equal(value("r0", "true", "mismatched"), 1);
    assert.equal(value("r0", "(none)", "matched"), 1);
    assert.equal(value("r0", "(none)", "mismatched"), 0);
    // r20..r29 are past the cap: 10 mismatches, 5 with each coupon value, and r25's matched run.
    assert.equal(value("(other)", "true", "mismatched"), 5);
    assert.equal(value("(other)", "false", "mismatched"), 5);
    assert.equal(value("(other)", "(none)", "matched"), 1);
    const duration = samples(await registry.metrics()).filter((s) => s.series.startsWith("penumbra_behavior_duration"));
    assert.ok(duration.every((s) => !("region" in s.labels)), "only comparisons carry segments");
  });

  it("with segments, hostile contexts never throw and never add a label value beyond the cap", () => {
    const registry = new Registry();
    const publisher = prometheusPublisher({ registry, segments: ["region"] });
    const hostile: unknown[] = [
      new Proxy({}, { get: () => { throw new Error("trap"); }, getOwnPropertyDescriptor: () => { throw new Error("trap"); }, has: () => { throw new Error("trap"); } }),
      Object.defineProperty({}, "region", { enumerable: true, get: () => { throw new Error("getter"); } }),
      Object.assign(Object.create(null) as object, { region: "eu" }),
      { region: { toString: () => { throw new Error("toString"); } } },
      { region: Symbol("s") },
      { region: "x".repeat(10_000) },
      null,
    ];
    fc.assert(
      // An index, not the values: fast-check itself would trip over the Proxy when generating it.
      fc.property(fc.integer({ min: 0, max: hostile.length - 1 }), fc.anything(), fc.boolean(), (i, any, pickHostile) => {
        const context = pickHostile ? hostile[i] : any;
        publisher.publish(matchedResult({ context: context as Record<string, unknown> }));
      }),
      { numRuns: 300 },
    );
    return registry.metrics().then((text) => {
      const regions = new Set(samples(text).flatMap((s) => (s.labels["region"] === undefined ? [] : [s.labels["region"]])));
      assert.ok(regions.size <= 22, `${regions.size} region values`);
      assert.ok([...regions].every((r) => r.length <= 100));
    });
  });

  it("refuses bad segments when built, naming the option", () => {
    assert.throws(() => prometheusPublisher({ registry: new Registry(), segments: "region" as never }), /segments/);
    assert.throws(() => prometheusPublisher({ registry: new Registry(), segments: ["a-b"] }), /segments/);
    assert.throws(() => prometheusPublisher({ registry: new Registry(), segments: ["outcome"] }), /segments.*outcome/);
    assert.throws(() => prometheusPublisher({ registry: new Registry(), segments: ["a", "a"] }), /segments/);
    const registry = new Registry();
    prometheusPublisher({ registry, segments: ["region"] });
    assert.throws(() => prometheusPublisher({ registry }), /segments/);
    assert.doesNotThrow(() => prometheusPublisher({ registry, segments: ["region"] }));
  });

  it("a real Prometheus scrapes the series and answers the documented queries", async function () {
    this.timeout(60_000);
    const missing = prometheusMissing();
    if (missing !== undefined) {
      console.log(`      skipped: ${missing}`);
      this.skip();
    }
    const registry = new Registry();
    const publisher = prometheusPublisher({ registry });
    publisher.publish(matchedResult());
    const served = await metricsServer(registry);
    const prometheus = await startPrometheus([served.target]);
    try {
      await prometheus.targetsUp(20_000);
      // The first mismatch happens after the first scrape: increase() must see it because the series was at 0.
      for (let i = 0; i < 3; i++) publisher.publish(mismatchedResult());
      publisher.trip({ experiment: "order-total", reason: "mismatch-rate", value: 0.75, threshold: 0.05 });
      const deadline = Date.now() + 20_000;
      let mismatches: number | undefined;
      let trips: number | undefined;
      while (Date.now() < deadline) {
        mismatches = (await prometheus.query('sum(increase(penumbra_comparisons_total{experiment="order-total",outcome="mismatched"}[1m]))'))[0]?.value;
        trips = (await prometheus.query('sum(increase(penumbra_trips_total{experiment="order-total"}[1m]))'))[0]?.value;
        if (mismatches !== undefined && mismatches > 0 && trips !== undefined && trips > 0) break;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      assert.ok(mismatches !== undefined && mismatches > 0, `increase of mismatches: ${String(mismatches)}`);
      assert.ok(trips !== undefined && trips > 0, `increase of trips: ${String(trips)}`);
      const series = await prometheus.query('penumbra_comparisons_total{experiment="order-total"}');
      assert.deepEqual(series.map((s) => s.metric["outcome"]).sort(), ["ignored", "matched", "mismatched"]);
      assert.ok(series.every((s) => s.metric["candidate"] === "candidate"));
      const ratio = await prometheus.query(
        'sum(penumbra_comparisons_total{experiment="order-total",outcome="mismatched"}) / sum(penumbra_comparisons_total{experiment="order-total"})',
      );
      assert.equal(ratio[0]?.value, 0.75);
    } finally {
      await prometheus.stop();
      await served.close();
    }
  });
});
