/**
 * `penumbra/opentelemetry`: experiment metrics through the OpenTelemetry metrics API.
 *
 * Only `@opentelemetry/api` is used (OpenTelemetry's rule for libraries: the application picks the
 * SDK and the exporter). With no SDK registered the instruments are the API's no-ops, so the
 * publisher costs next to nothing until someone configures metrics.
 *
 * Attribute values are the experiment's name, the behaviour's name and the outcome: all bounded by
 * code. Run ids, context and values never become attributes (they would explode cardinality);
 * they belong in logs (`loggerPublisher`) or the JSONL store.
 */
import { metrics, type Counter, type Histogram, type Meter, type MeterProvider } from "@opentelemetry/api";
import type { TripEvent } from "../types/operate";
import type { Result } from "../types/results";

/** The instrumentation scope name the default meter is obtained with. */
const SCOPE = "penumbra";

/**
 * Bucket boundaries in seconds, as OpenTelemetry's semantic conventions advise for request durations.
 * The SDK's default boundaries (0, 5, 10, … 10000) are meant for milliseconds and would put nearly
 * every call in the first bucket.
 */
const DURATION_BOUNDARIES = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

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
 * Instruments (created once, here):
 * - `penumbra.comparisons` counter `{comparison}`: one per candidate per run, attributes
 *   `penumbra.experiment` and `penumbra.outcome` (`matched` | `mismatched` | `ignored`);
 * - `penumbra.behavior.duration` histogram `s`: every behaviour's duration, attributes
 *   `penumbra.experiment` and `penumbra.behavior` (`control` or the candidate's name);
 * - `penumbra.skipped` counter `{call}`: calls skipped for lack of a slot, `penumbra.experiment`;
 * - `penumbra.leaks` counter `{leak}`: undeclared effects the tripwire caught, `penumbra.experiment`;
 * - `penumbra.trips` counter `{trip}`: guardrail trips, `penumbra.experiment` and `penumbra.trip.reason`.
 *
 * @example
 * ```ts
 * import { configure } from "penumbra";
 * import { openTelemetryPublisher } from "penumbra/opentelemetry";
 *
 * configure({ publishers: [openTelemetryPublisher()] }); // the global MeterProvider, when the SDK registers one
 * ```
 */
export function openTelemetryPublisher(options: OpenTelemetryPublisherOptions = {}): OpenTelemetryPublisher {
  const meter = options.meter ?? (options.meterProvider ?? metrics).getMeter(SCOPE);
  if (typeof meter?.createCounter !== "function" || typeof meter.createHistogram !== "function") {
    throw new TypeError("openTelemetryPublisher: meter must be an OpenTelemetry Meter (metrics.getMeter(name))");
  }
  const comparisons: Counter = meter.createCounter("penumbra.comparisons", {
    unit: "{comparison}",
    description: "Candidate comparisons with the control, by outcome.",
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
  const trips: Counter = meter.createCounter("penumbra.trips", {
    unit: "{trip}",
    description: "Guardrail trips that disabled an experiment.",
  });

  return {
    publish(result: Result<unknown>): void {
      const experiment = result.experiment;
      for (const outcome of Object.values(result.outcomes)) {
        comparisons.add(1, { "penumbra.experiment": experiment, "penumbra.outcome": outcome });
      }
      let leaked = 0;
      for (const observation of [result.control, ...result.candidates]) {
        const seconds = observation.durationMs / 1000;
        if (Number.isFinite(seconds) && seconds >= 0) {
          duration.record(seconds, { "penumbra.experiment": experiment, "penumbra.behavior": observation.name });
        }
        leaked += observation.leaks.length;
      }
      if (leaked > 0) leaks.add(leaked, { "penumbra.experiment": experiment });
    },
    skipped(experiment: string): void {
      skipped.add(1, { "penumbra.experiment": experiment });
    },
    trip(event: TripEvent): void {
      trips.add(1, { "penumbra.experiment": event.experiment, "penumbra.trip.reason": event.reason });
    },
  };
}
