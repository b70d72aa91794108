/**
 * penumbra/opentelemetry against the real metrics SDK, read back through a pull MetricReader.
 */
import { strict as assert } from "node:assert";
import type { Attributes, Meter } from "@opentelemetry/api";
import {
  DataPointType,
  MeterProvider,
  MetricReader,
  type MetricData,
} from "@opentelemetry/sdk-metrics";
import fc from "fast-check";
import { shadow } from "../../src/index";
import { openTelemetryPublisher } from "../../src/integrations/opentelemetry";
import { matchedResult, mismatchedResult } from "../publishers/fixtures";

/** A reader the test pulls from: collect() gives the cumulative state of every instrument. */
class PullReader extends MetricReader {
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

function setup(): { provider: MeterProvider; reader: PullReader } {
  const reader = new PullReader();
  return { provider: new MeterProvider({ readers: [reader] }), reader };
}

async function collect(reader: PullReader): Promise<Map<string, MetricData>> {
  const { resourceMetrics, errors } = await reader.collect();
  assert.deepEqual(errors, []);
  const byName = new Map<string, MetricData>();
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const metric of scope.metrics) byName.set(metric.descriptor.name, metric);
  }
  return byName;
}

/** The value of a counter's point with exactly these attributes. */
function sum(metric: MetricData | undefined, attributes: Attributes): number | undefined {
  assert.ok(metric, "metric exists");
  assert.equal(metric.dataPointType, DataPointType.SUM);
  const key = (a: Attributes): string => JSON.stringify(Object.entries(a).sort(([x], [y]) => (x < y ? -1 : 1)));
  const point = metric.dataPoints.find((p) => key(p.attributes) === key(attributes));
  return point?.value as number | undefined;
}

describe("penumbra/opentelemetry", () => {
  it("counts comparisons per outcome and records durations in seconds per behaviour", async () => {
    const { provider, reader } = setup();
    const otel = openTelemetryPublisher({ meterProvider: provider });
    otel.publish(mismatchedResult());
    otel.publish(matchedResult());
    otel.publish(matchedResult());
    otel.publish(matchedResult({ outcomes: { candidate: "ignored" }, matched: false, ignored: true }));

    const metrics = await collect(reader);
    const comparisons = metrics.get("penumbra.comparisons");
    assert.equal(comparisons?.descriptor.unit, "{comparison}");
    assert.equal(sum(comparisons, { "penumbra.experiment": "order-total", "penumbra.candidate": "candidate", "penumbra.outcome": "matched" }), 2);
    assert.equal(sum(comparisons, { "penumbra.experiment": "order-total", "penumbra.candidate": "candidate", "penumbra.outcome": "mismatched" }), 1);
    assert.equal(sum(comparisons, { "penumbra.experiment": "order-total", "penumbra.candidate": "candidate", "penumbra.outcome": "ignored" }), 1);

    const duration = metrics.get("penumbra.behavior.duration");
    assert.ok(duration);
    assert.equal(duration.descriptor.unit, "s");
    assert.equal(duration.dataPointType, DataPointType.HISTOGRAM);
    const byBehavior = new Map(duration.dataPoints.map((p) => [p.attributes["penumbra.behavior"], p.value]));
    const control = byBehavior.get("control") as { count: number; sum: number; buckets: { boundaries: number[] } };
    const candidate = byBehavior.get("candidate") as { count: number; sum: number };
    assert.equal(control.count, 4);
    assert.ok(Math.abs(control.sum - 4 * 0.0012) < 1e-9, `control sum ${control.sum}`);
    assert.ok(Math.abs(candidate.sum - 4 * 0.0034) < 1e-9, `candidate sum ${candidate.sum}`);
    // Second-scale boundaries (the SDK default is millisecond-scale).
    assert.ok(control.buckets.boundaries.includes(0.005));
    assert.ok(duration.dataPoints.every((p) => p.attributes["penumbra.experiment"] === "order-total"));
  });

  it("counts skips, leaks and trips", async () => {
    const { provider, reader } = setup();
    const otel = openTelemetryPublisher({ meter: provider.getMeter("app") });
    const leaky = mismatchedResult();
    otel.publish({
      ...leaky,
      candidates: leaky.candidates.map((c) => ({
        ...c,
        leaks: [
          { kind: "network", target: "api.example.com:443", blocked: true },
          { kind: "child_process", target: "curl", blocked: true },
        ],
      })),
    });
    otel.skipped("order-total", "overload");
    otel.skipped("order-total", "overload");
    otel.trip({ experiment: "order-total", reason: "leak", value: 1, threshold: 0 });

    const metrics = await collect(reader);
    assert.equal(sum(metrics.get("penumbra.leaks"), { "penumbra.experiment": "order-total", "penumbra.candidate": "candidate" }), 2);
    assert.equal(sum(metrics.get("penumbra.skipped"), { "penumbra.experiment": "order-total", "penumbra.skip.reason": "overload" }), 2);
    assert.equal(
      sum(metrics.get("penumbra.trips"), { "penumbra.experiment": "order-total", "penumbra.trip.reason": "leak" }),
      1,
    );
  });

  it("creates its instruments once, and works as an experiment's publisher end to end", async () => {
    const { provider, reader } = setup();
    const meter = provider.getMeter("penumbra");
    let created = 0;
    const counting: Meter = new Proxy(meter, {
      get(target, key, receiver) {
        const value: unknown = Reflect.get(target, key, receiver);
        if (typeof value !== "function") return value;
        return (...args: unknown[]) => {
          if (String(key).startsWith("create")) created++;
          return Reflect.apply(value as (...a: unknown[]) => unknown, target, args);
        };
      },
    });
    const otel = openTelemetryPublisher({ meter: counting });
    const total = shadow((n: number) => n * 2, (n: number) => (n === 3 ? 0 : n * 2), { name: "double", publish: otel });
    for (let i = 0; i < 10; i++) total(i);
    await total.experiment.settled();
    assert.equal(created, 8);

    const metrics = await collect(reader);
    const comparisons = metrics.get("penumbra.comparisons");
    assert.equal(sum(comparisons, { "penumbra.experiment": "double", "penumbra.candidate": "candidate", "penumbra.outcome": "matched" }), 9);
    assert.equal(sum(comparisons, { "penumbra.experiment": "double", "penumbra.candidate": "candidate", "penumbra.outcome": "mismatched" }), 1);
  });

  it("does nothing, and throws nothing, without an SDK (the global no-op meter)", () => {
    const otel = openTelemetryPublisher();
    otel.publish(mismatchedResult());
    otel.skipped("order-total", "overload");
    otel.trip({ experiment: "order-total", reason: "latency", value: 3, threshold: 1.5 });
  });

  it("rejects something that is not a meter with a TypeError", () => {
    assert.throws(() => openTelemetryPublisher({ meter: {} as never }), TypeError);
  });

  it("creates every data point of an experiment at 0 with its first result", async () => {
    const { provider, reader } = setup();
    openTelemetryPublisher({ meterProvider: provider }).publish(matchedResult());
    const metrics = await collect(reader);
    const comparisons = metrics.get("penumbra.comparisons");
    const base = { "penumbra.experiment": "order-total", "penumbra.candidate": "candidate" };
    assert.equal(sum(comparisons, { ...base, "penumbra.outcome": "matched" }), 1);
    assert.equal(sum(comparisons, { ...base, "penumbra.outcome": "mismatched" }), 0);
    assert.equal(sum(comparisons, { ...base, "penumbra.outcome": "ignored" }), 0);
    assert.equal(sum(metrics.get("penumbra.leaks"), base), 0);
    assert.equal(sum(metrics.get("penumbra.timeouts"), base), 0);
    for (const kind of ["error", "status", "value", "effects"]) {
      assert.equal(sum(metrics.get("penumbra.mismatches"), { ...base, "penumbra.mismatch.kind": kind }), 0);
    }
    for (const reason of ["mismatch-rate", "latency", "timeout-rate", "leak"]) {
      assert.equal(sum(metrics.get("penumbra.trips"), { "penumbra.experiment": "order-total", "penumbra.trip.reason": reason }), 0);
    }
  });

  it("counts mismatches by kind and by reason, a bucket or kind:<kind>", async () => {
    const { provider, reader } = setup();
    const otel = openTelemetryPublisher({ meterProvider: provider });
    otel.publish(mismatchedResult()); // value, bucket "rounding"
    const base = mismatchedResult();
    otel.publish({ ...base, mismatches: base.mismatches.map((m) => ({ ...m, kind: "error" as const, buckets: [] })) });
    const metrics = await collect(reader);
    const who = { "penumbra.experiment": "order-total", "penumbra.candidate": "candidate" };
    assert.equal(sum(metrics.get("penumbra.mismatches"), { ...who, "penumbra.mismatch.kind": "value" }), 1);
    assert.equal(sum(metrics.get("penumbra.mismatches"), { ...who, "penumbra.mismatch.kind": "error" }), 1);
    assert.equal(sum(metrics.get("penumbra.mismatch.reasons"), { ...who, "penumbra.mismatch.reason": "rounding" }), 1);
    assert.equal(sum(metrics.get("penumbra.mismatch.reasons"), { ...who, "penumbra.mismatch.reason": "kind:error" }), 1);
  });

  it("adds segment attributes only when asked, capped at 20 values per key with (other) and (none)", async () => {
    const plain = setup();
    openTelemetryPublisher({ meterProvider: plain.provider }).publish(matchedResult({ context: { region: "eu" } }));
    const plainPoints = (await collect(plain.reader)).get("penumbra.comparisons")?.dataPoints ?? [];
    assert.ok(plainPoints.every((p) => Object.keys(p.attributes).every((k) => !k.startsWith("penumbra.segment."))));

    const { provider, reader } = setup();
    const otel = openTelemetryPublisher({ meterProvider: provider, segments: ["region"] });
    for (let i = 0; i < 25; i++) otel.publish(mismatchedResult({ context: { region: `r${i}` } }));
    otel.publish(matchedResult({ context: {} }));
    const points = (await collect(reader)).get("penumbra.comparisons")?.dataPoints ?? [];
    const regions = new Set(points.map((p) => p.attributes["penumbra.segment.region"]));
    assert.equal(regions.size, 22); // r0..r19, (other), (none)
    const other = points.find((p) => p.attributes["penumbra.segment.region"] === "(other)" && p.attributes["penumbra.outcome"] === "mismatched");
    assert.equal(other?.value, 5);
    const none = points.find((p) => p.attributes["penumbra.segment.region"] === "(none)" && p.attributes["penumbra.outcome"] === "matched");
    assert.equal(none?.value, 1);
    assert.throws(() => openTelemetryPublisher({ meterProvider: provider, segments: [""] }), /segments/);
  });

  it("never throws on hostile contexts or generated results with segments on", () => {
    const { provider } = setup();
    const otel = openTelemetryPublisher({ meterProvider: provider, segments: ["region", "plan"] });
    const trap = (): never => {
      throw new Error("trap");
    };
    const hostile = [
      new Proxy({}, { get: trap, has: trap, getOwnPropertyDescriptor: trap, ownKeys: trap }),
      Object.defineProperty({}, "region", { enumerable: true, get: trap }),
    ];
    fc.assert(
      fc.property(fc.integer({ min: 0, max: hostile.length - 1 }), fc.boolean(), fc.anything(), (i, pickHostile, any) => {
        otel.publish(mismatchedResult({ context: (pickHostile ? hostile[i] : any) as Record<string, unknown> }));
      }),
      { numRuns: 200 },
    );
  });
});
