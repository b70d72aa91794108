/**
 * penumbra/prometheus against real prom-client registries, including cluster aggregation across
 * real node:cluster workers.
 */
import { strict as assert } from "node:assert";
import { execFile } from "node:child_process";
import * as path from "node:path";
import { Counter, Registry, register as globalRegistry } from "prom-client";
import { shadow } from "../../src/index";
import { prometheusPublisher } from "../../src/integrations/prometheus";
import { matchedResult, mismatchedResult } from "../publishers/fixtures";

const root = path.resolve(__dirname, "../..");

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
    assert.equal(sample(text, 'penumbra_comparisons_total{experiment="order-total",outcome="matched"}'), 2);
    assert.equal(sample(text, 'penumbra_comparisons_total{experiment="order-total",outcome="mismatched"}'), 2);
    assert.equal(sample(text, 'penumbra_behavior_duration_seconds_count{experiment="order-total",behavior="control"}'), 4);
    assert.equal(sample(text, 'penumbra_behavior_duration_seconds_count{experiment="order-total",behavior="candidate"}'), 4);
    const candidateSum = sample(text, 'penumbra_behavior_duration_seconds_sum{experiment="order-total",behavior="candidate"}');
    assert.ok(candidateSum !== undefined && Math.abs(candidateSum - 4 * 0.0034) < 1e-9, `candidate sum ${candidateSum}`);
    assert.equal(sample(text, 'penumbra_behavior_duration_seconds_bucket{le="0.005",experiment="order-total",behavior="candidate"}'), 4);
    assert.equal(sample(text, 'penumbra_behavior_duration_seconds_bucket{le="0.001",experiment="order-total",behavior="candidate"}'), 0);
    assert.equal(sample(text, 'penumbra_skipped_total{experiment="order-total"}'), 1);
    assert.equal(sample(text, 'penumbra_leaks_total{experiment="order-total"}'), 1);
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
    assert.equal(sample(await registry.metrics(), 'penumbra_comparisons_total{experiment="order-total",outcome="matched"}'), 2);
    assert.equal(sample(await other.metrics(), 'penumbra_comparisons_total{experiment="order-total",outcome="matched"}'), 1);
  });

  it("registers the metrics again after registry.clear() (hot reload, per-test registries)", async () => {
    const registry = new Registry();
    prometheusPublisher({ registry }).publish(matchedResult());
    registry.clear();
    prometheusPublisher({ registry }).publish(matchedResult());
    assert.equal(sample(await registry.metrics(), 'penumbra_comparisons_total{experiment="order-total",outcome="matched"}'), 1);
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
      for (const name of ["comparisons_total", "behavior_duration_seconds", "skipped_total", "leaks_total", "trips_total"]) {
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
    assert.equal(sample(text, 'penumbra_comparisons_total{experiment="double",outcome="matched"}'), 16);
    assert.equal(sample(text, 'penumbra_comparisons_total{experiment="double",outcome="mismatched"}'), 4);
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
    assert.equal(sample(text, 'penumbra_comparisons_total{experiment="order-total",outcome="matched"}'), 8);
    assert.equal(sample(text, 'penumbra_comparisons_total{experiment="order-total",outcome="mismatched"}'), 2);
    assert.equal(sample(text, 'penumbra_skipped_total{experiment="order-total"}'), 2);
    assert.equal(sample(text, 'penumbra_behavior_duration_seconds_count{experiment="order-total",behavior="control"}'), 10);
  });
});
