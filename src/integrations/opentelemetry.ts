/**
 * `penumbra/opentelemetry`: experiment metrics through the OpenTelemetry metrics API.
 *
 * Only `@opentelemetry/api` is used (OpenTelemetry's rule for libraries: the application picks the
 * SDK and the exporter). With no SDK registered the instruments are the API's no-ops, so the
 * publisher costs next to nothing until someone configures metrics.
 *
 * Attribute values are the experiment's name, the behaviour's name and the outcome: all bounded by
 * code. Run ids, context and values never become attributes (they would explode cardinality);
 * they belong in logs (`loggerPublisher`) or the JSONL store. The opt-in `segments` option is the
 * exception, capped like the Prometheus publisher's (20 values per key, the rest `(other)`).
 *
 * The instruments mirror `penumbra/prometheus` one for one (a collector's Prometheus exporter turns
 * `penumbra.comparisons` into `penumbra_comparisons_total`, see docs/fleet.md), and every data point
 * of an experiment is created at 0 with its first result for the same reason: a cumulative series
 * that appears at 1 hides its first increase.
 */
import { metrics, type Attributes, type Counter, type Histogram, type Meter, type MeterProvider } from "@opentelemetry/api";
import type { TripEvent } from "../types/operate";
import type { Result } from "../types/results";
import { cappedLabel, checkSegments, segmentLabeller } from "./metric-segments";

const OUTCOMES = ["matched", "mismatched", "ignored"] as const;
const KINDS = ["error", "status", "value", "effects"] as const;
/** Distinct reasons kept per experiment and candidate; the rest count as `(other)`. */
const REASON_CAP = 20;
const TRIP_REASONS: ReadonlyArray<TripEvent["reason"]> = ["mismatch-rate", "latency", "timeout-rate", "leak"];
/** Segment attributes are namespaced, so any context key is a valid attribute and none collides with ours. */
const SEGMENT_PREFIX = "penumbra.segment.";

/** The instrumentation scope name the default meter is obtained with. */
const SCOPE = "penumbra";

/**
 * Bucket boundaries in seconds, as OpenTelemetry's semantic conventions advise for request durations.
 * The SDK's default boundaries (0, 5, 10, … 10000) are meant for milliseconds and would put nearly
 * every call in the first bucket.
 */
const DURATION_BOUNDARIES = [
  0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5,
  7.5, 10,
];

/**
 * Options of {@link openTelemetryPublisher}.
 *
 * @example
 * ```ts
 * const options: OpenTelemetryPublisherOptions = { meterProvider };
 * ```
 */
export interface OpenTelemetryPublisherOptions {
  /** The meter to create the instruments on. Wins over `meterProvider`. */
  meter?: Meter;
  /** A meter provider to get the `penumbra` meter from. @default the global one, `metrics.getMeter("penumbra")` */
  meterProvider?: MeterProvider;
  /**
   * Context keys (of `result.context`) recorded as `penumbra.segment.<key>` attributes of
   * `penumbra.comparisons`: at most 20 values per key and experiment, the rest `(other)`, a
   * missing key `(none)`. @default [] (no context attribute)
   */
  segments?: string[];
}

/**
 * What {@link openTelemetryPublisher} returns: a `Publisher` whose methods are bound (destructuring works).
 *
 * @example
 * ```ts
 * const otel: OpenTelemetryPublisher = openTelemetryPublisher();
 * configure({ publishers: [otel] });
 * ```
 */
export interface OpenTelemetryPublisher {
  publish(result: Result<unknown>): void;
  skipped(experiment: string, reason: "overload"): void;
  trip(event: TripEvent): void;
}

/**
 * Creates a publisher that records experiment metrics on an OpenTelemetry meter.
 *
 * Instruments (created once, here; every data point of an experiment at 0 from its first result):
 * - `penumbra.comparisons` counter `{comparison}`: one per candidate per run, attributes
 *   `penumbra.experiment`, `penumbra.candidate` and `penumbra.outcome` (`matched` | `mismatched` |
 *   `ignored`), plus `penumbra.segment.<key>` per `segments` key;
 * - `penumbra.behavior.duration` histogram `s` (10 µs … 10 s): every behaviour's duration,
 *   attributes `penumbra.experiment` and `penumbra.behavior` (`control` or the candidate's name);
 * - `penumbra.skipped` counter `{call}`: calls skipped, `penumbra.experiment` and `penumbra.skip.reason`;
 * - `penumbra.leaks` counter `{leak}`: undeclared effects the tripwire caught, `penumbra.experiment`
 *   and `penumbra.candidate`;
 * - `penumbra.timeouts` counter `{run}`: candidate runs over `timeoutMs`, same attributes;
 * - `penumbra.mismatches` counter `{mismatch}`: mismatches by `penumbra.mismatch.kind`;
 * - `penumbra.mismatch.reasons` counter `{mismatch}`: per mismatch, each bucket (or `kind:<kind>`)
 *   as `penumbra.mismatch.reason`, 20 per candidate, the rest `(other)`;
 * - `penumbra.trips` counter `{trip}`: guardrail trips, `penumbra.experiment` and `penumbra.trip.reason`.
 *
 * @example
 * ```ts
 * import { configure } from "penumbra";
 * import { openTelemetryPublisher } from "penumbra/opentelemetry";
 *
 * configure({ publishers: [openTelemetryPublisher({ segments: ["region"] })] }); // the global MeterProvider
 * ```
 */
export function openTelemetryPublisher(options: OpenTelemetryPublisherOptions = {}): OpenTelemetryPublisher {
  const meter = options.meter ?? (options.meterProvider ?? metrics).getMeter(SCOPE);
  if (typeof meter?.createCounter !== "function" || typeof meter.createHistogram !== "function") {
    throw new TypeError("openTelemetryPublisher: meter must be an OpenTelemetry Meter (metrics.getMeter(name))");
  }
  // Any non-empty string is a valid attribute key once prefixed; the prefix keeps ours apart.
  const segments = segmentLabeller(checkSegments("openTelemetryPublisher", options.segments, [], /^.+$/));
  const comparisons: Counter = meter.createCounter("penumbra.comparisons", {
    unit: "{comparison}",
    description: "Candidate comparisons with the control, by candidate and outcome.",
  });
  const duration: Histogram = meter.createHistogram("penumbra.behavior.duration", {
    unit: "s",
    description: "Duration of the control and of each candidate in experiment runs.",
    advice: { explicitBucketBoundaries: DURATION_BOUNDARIES },
  });
  const skipped: Counter = meter.createCounter("penumbra.skipped", {
    unit: "{call}",
    description: "Calls whose candidates did not run because every slot was taken.",
  });
  const leaks: Counter = meter.createCounter("penumbra.leaks", {
    unit: "{leak}",
    description: "Undeclared outbound effects caught in shadow runs.",
  });
  const timeouts: Counter = meter.createCounter("penumbra.timeouts", {
    unit: "{run}",
    description: "Candidate runs that exceeded timeoutMs.",
  });
  const kinds: Counter = meter.createCounter("penumbra.mismatches", {
    unit: "{mismatch}",
    description: "Mismatches by candidate and kind (the most severe cause).",
  });
  const reasons: Counter = meter.createCounter("penumbra.mismatch.reasons", {
    unit: "{mismatch}",
    description: "Mismatches by reason: each bucket, or kind:<kind> when no bucket named it.",
  });
  const capped = cappedLabel(REASON_CAP);
  const reasonLabel = (experiment: string, candidate: string, reason: string): string => capped(`${experiment}\u0000${candidate}`, reason);
  const trips: Counter = meter.createCounter("penumbra.trips", {
    unit: "{trip}",
    description: "Guardrail trips that disabled an experiment.",
  });

  // Data points already created at 0; bounded by experiments × candidates × capped segment values.
  const zeroed = new Set<string>();
  const once = (id: string, create: () => void): void => {
    if (zeroed.has(id)) return;
    zeroed.add(id);
    create();
  };
  const zeroExperiment = (experiment: string): void =>
    once(`e\u0000${experiment}`, () => {
      skipped.add(0, { "penumbra.experiment": experiment, "penumbra.skip.reason": "overload" });
      for (const reason of TRIP_REASONS) trips.add(0, { "penumbra.experiment": experiment, "penumbra.trip.reason": reason });
    });

  return {
    publish(result: Result<unknown>): void {
      const experiment = result.experiment;
      zeroExperiment(experiment);
      const segment: Attributes = {};
      for (const [key, value] of Object.entries(segments.labels(experiment, result.context))) segment[SEGMENT_PREFIX + key] = value;
      for (const [candidate, outcome] of Object.entries(result.outcomes)) {
        const attributes: Attributes = { "penumbra.experiment": experiment, "penumbra.candidate": candidate, ...segment };
        once(`o\u0000${JSON.stringify(attributes)}`, () => {
          for (const each of OUTCOMES) comparisons.add(0, { ...attributes, "penumbra.outcome": each });
        });
        comparisons.add(1, { ...attributes, "penumbra.outcome": outcome });
      }
      for (const observation of [result.control, ...result.candidates]) {
        const seconds = observation.durationMs / 1000;
        if (Number.isFinite(seconds) && seconds >= 0) {
          duration.record(seconds, { "penumbra.experiment": experiment, "penumbra.behavior": observation.name });
        }
        if (observation.role !== "candidate") continue;
        const attributes: Attributes = { "penumbra.experiment": experiment, "penumbra.candidate": observation.name };
        once(`c\u0000${experiment}\u0000${observation.name}`, () => {
          leaks.add(0, attributes);
          timeouts.add(0, attributes);
          for (const kind of KINDS) kinds.add(0, { ...attributes, "penumbra.mismatch.kind": kind });
        });
        if (observation.leaks.length > 0) leaks.add(observation.leaks.length, attributes);
        if (observation.timedOut) timeouts.add(1, attributes);
      }
      for (const mismatch of result.mismatches) {
        const attributes: Attributes = { "penumbra.experiment": experiment, "penumbra.candidate": mismatch.candidate };
        kinds.add(1, { ...attributes, "penumbra.mismatch.kind": mismatch.kind });
        const named = mismatch.buckets.length > 0 ? mismatch.buckets : [`kind:${mismatch.kind}`];
        for (const reason of new Set(named)) {
          reasons.add(1, { ...attributes, "penumbra.mismatch.reason": reasonLabel(experiment, mismatch.candidate, String(reason)) });
        }
      }
    },
    skipped(experiment: string, reason: "overload" = "overload"): void {
      zeroExperiment(experiment);
      skipped.add(1, { "penumbra.experiment": experiment, "penumbra.skip.reason": reason });
    },
    trip(event: TripEvent): void {
      zeroExperiment(event.experiment);
      trips.add(1, { "penumbra.experiment": event.experiment, "penumbra.trip.reason": event.reason });
    },
  };
}
