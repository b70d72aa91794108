/**
 * `penumbra/prometheus`: experiment metrics as prom-client counters and a histogram.
 *
 * Metrics are registered only on the registry given (never implicitly on another), once per
 * registry: prom-client throws "already registered" on a second registration of a name, and a
 * library must survive being set up twice (two publishers, a hot reload, a test that builds its app
 * per case).
 *
 * Labels are the experiment's name, the behaviour's name, the outcome and the trip reason: all
 * bounded by code. Run ids, context and values never become labels (every distinct label set is a
 * new time series); they belong in logs (`loggerPublisher`) or the JSONL store.
 */
import {
  Counter,
  Histogram,
  register as globalRegistry,
  type CounterConfiguration,
  type OpenMetricsContentType,
  type PrometheusContentType,
  type Registry,
} from "prom-client";
import type { TripEvent } from "../types/operate";
import type { Result } from "../types/results";

/**
 * A prom-client registry of either content type.
 *
 * @example
 * ```ts
 * const registry: PrometheusRegistry = new Registry();
 * ```
 */
export type PrometheusRegistry = Registry<PrometheusContentType> | Registry<OpenMetricsContentType>;

/**
 * Options of {@link prometheusPublisher}.
 *
 * @example
 * ```ts
 * const options: PrometheusPublisherOptions = { registry: new Registry(), buckets: [0.001, 0.01, 0.1, 1] };
 * ```
 */
export interface PrometheusPublisherOptions {
  /** Where the metrics are registered. @default prom-client's global `register` */
  registry?: PrometheusRegistry;
  /**
   * Histogram buckets of `penumbra_behavior_duration_seconds`, in seconds. Only the first publisher
   * created on a registry decides them (the metric exists once per registry).
   * @default [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
   */
  buckets?: number[];
}

/**
 * What {@link prometheusPublisher} returns: a `Publisher` whose methods are bound (destructuring works).
 *
 * @example
 * ```ts
 * const prometheus: PrometheusPublisher = prometheusPublisher({ registry });
 * configure({ publishers: [prometheus] });
 * ```
 */
export interface PrometheusPublisher {
  publish(result: Result<unknown>): void;
  skipped(experiment: string, reason: "overload"): void;
  trip(event: TripEvent): void;
}

const DEFAULT_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

interface Instruments {
  comparisons: Counter<"experiment" | "outcome">;
  duration: Histogram<"experiment" | "behavior">;
  skipped: Counter<"experiment">;
  leaks: Counter<"experiment">;
  trips: Counter<"experiment" | "reason">;
}

const NAMES: Record<keyof Instruments, string> = {
  comparisons: "penumbra_comparisons_total",
  duration: "penumbra_behavior_duration_seconds",
  skipped: "penumbra_skipped_total",
  leaks: "penumbra_leaks_total",
  trips: "penumbra_trips_total",
};

const byRegistry = new WeakMap<PrometheusRegistry, Instruments>();

/**
 * Creates a publisher that counts experiment outcomes on a prom-client registry.
 *
 * Metrics (created once per registry):
 * - `penumbra_comparisons_total{experiment,outcome}`: one per candidate per run; outcome is
 *   `matched` | `mismatched` | `ignored`;
 * - `penumbra_behavior_duration_seconds{experiment,behavior}` histogram: every behaviour's duration,
 *   behavior is `control` or the candidate's name;
 * - `penumbra_skipped_total{experiment}`: calls skipped for lack of a slot;
 * - `penumbra_leaks_total{experiment}`: undeclared effects the tripwire caught;
 * - `penumbra_trips_total{experiment,reason}`: guardrail trips.
 *
 * @example
 * ```ts
 * import { Registry } from "prom-client";
 * import { configure } from "penumbra";
 * import { prometheusPublisher } from "penumbra/prometheus";
 *
 * const registry = new Registry();
 * configure({ publishers: [prometheusPublisher({ registry })] });
 * app.get("/metrics", async (_req, res) => res.type(registry.contentType).send(await registry.metrics()));
 * ```
 */
export function prometheusPublisher(options: PrometheusPublisherOptions = {}): PrometheusPublisher {
  const registry = options.registry ?? globalRegistry;
  if (typeof registry !== "object" || registry === null || typeof registry.getSingleMetric !== "function") {
    throw new TypeError("prometheusPublisher: registry must be a prom-client Registry");
  }
  const buckets = options.buckets ?? DEFAULT_BUCKETS;
  if (!Array.isArray(buckets) || buckets.length === 0 || !buckets.every((b) => typeof b === "number" && Number.isFinite(b))) {
    throw new TypeError(`prometheusPublisher: buckets must be a non-empty array of finite numbers, got ${String(buckets)}`);
  }
  let instruments = byRegistry.get(registry);
  // `registry.clear()` (common between tests and on hot reload) detaches the memoised metrics.
  if (instruments === undefined || !stillRegistered(registry, instruments)) {
    instruments = create(registry, buckets);
    byRegistry.set(registry, instruments);
  }
  const { comparisons, duration, skipped, leaks, trips } = instruments;

  return {
    publish(result: Result<unknown>): void {
      const experiment = result.experiment;
      for (const outcome of Object.values(result.outcomes)) comparisons.inc({ experiment, outcome });
      let leaked = 0;
      for (const observation of [result.control, ...result.candidates]) {
        const seconds = observation.durationMs / 1000;
        if (Number.isFinite(seconds) && seconds >= 0) duration.observe({ experiment, behavior: observation.name }, seconds);
        leaked += observation.leaks.length;
      }
      if (leaked > 0) leaks.inc({ experiment }, leaked);
    },
    skipped(experiment: string): void {
      skipped.inc({ experiment });
    },
    trip(event: TripEvent): void {
      trips.inc({ experiment: event.experiment, reason: event.reason });
    },
  };
}


function stillRegistered(registry: PrometheusRegistry, instruments: Instruments): boolean {
  return (Object.keys(NAMES) as Array<keyof Instruments>).every(
    (key) => (registry.getSingleMetric(NAMES[key]) as unknown) === instruments[key],
  );
}

function create(registry: PrometheusRegistry, buckets: number[]): Instruments {
  const registers = [registry];
  return {
    comparisons: counter(registry, {
      name: NAMES.comparisons,
      help: "Candidate comparisons with the control, by outcome (matched, mismatched, ignored).",
      labelNames: ["experiment", "outcome"] as const,
      registers,
    }),
    duration:
      (existing(registry, NAMES.duration, Histogram) as Histogram<"experiment" | "behavior"> | undefined) ??
      new Histogram({
        name: NAMES.duration,
        help: "Duration of the control and of each candidate in experiment runs, in seconds.",
        labelNames: ["experiment", "behavior"] as const,
        buckets,
        registers,
      }),
    skipped: counter(registry, {
      name: NAMES.skipped,
      help: "Calls whose candidates did not run because every slot was taken.",
      labelNames: ["experiment"] as const,
      registers,
    }),
    leaks: counter(registry, {
      name: NAMES.leaks,
      help: "Undeclared outbound effects caught in shadow runs.",
      labelNames: ["experiment"] as const,
      registers,
    }),
    trips: counter(registry, {
      name: NAMES.trips,
      help: "Guardrail trips that disabled an experiment, by reason.",
      labelNames: ["experiment", "reason"] as const,
      registers,
    }),
  };
}

function counter<T extends string>(registry: PrometheusRegistry, configuration: CounterConfiguration<T>): Counter<T> {
  return (existing(registry, configuration.name, Counter) as Counter<T> | undefined) ?? new Counter(configuration);
}

/**
 * A metric of this name already on the registry: ours from another copy of this module (a second
 * installed penumbra, a module cache cleared by a hot reload), reused; anything else is a conflict,
 * reported when the publisher is built rather than on the request path.
 */
function existing<M extends object>(
  registry: PrometheusRegistry,
  name: string,
  kind: abstract new (...args: never[]) => M,
): M | undefined {
  const metric: unknown = registry.getSingleMetric(name);
  if (metric === undefined) return undefined;
  if (metric instanceof kind) return metric;
  throw new TypeError(`prometheusPublisher: the registry already has a metric "${name}" that is not a penumbra ${kind.name}`);
}
