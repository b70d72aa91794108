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
 * new time series); they belong in logs (`loggerPublisher`) or the JSONL store. The one exception is
 * opt-in: `segments` names context keys that become labels of `penumbra_comparisons_total`, capped
 * at 20 values per key.
 *
 * Every series of an experiment is created at 0 when its first result arrives: a counter that
 * appears already at 1 is invisible to `rate()` / `increase()` for its first interval, and a ratio
 * whose numerator does not exist yet is empty instead of 0 (measured in issue 15's fleet prototype).
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
import { describeThrown } from "../describe";
import type { TripEvent } from "../types/operate";
import type { Result } from "../types/results";
import { cappedLabel, checkSegments, segmentLabeller, wellFormed, type SegmentLabeller } from "./metric-segments";

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
 * const options: PrometheusPublisherOptions = { registry: new Registry(), segments: ["region"] };
 * ```
 */
export interface PrometheusPublisherOptions {
  /** Where the metrics are registered. @default prom-client's global `register` */
  registry?: PrometheusRegistry;
  /**
   * Histogram buckets of `penumbra_behavior_duration_seconds`, in seconds, strictly increasing. Only the first publisher
   * created on a registry decides them (the metric exists once per registry).
   * @default 10 µs to 10 s: [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
   */
  buckets?: number[];
  /**
   * Context keys (of `result.context`) that become labels of `penumbra_comparisons_total`, so PromQL
   * can say where mismatches cluster. At most 20 values per key and experiment, the rest `(other)`,
   * a missing key `(none)`. Each key multiplies that metric's series by up to 22: see docs/fleet.md.
   * Every publisher on one registry must list the same keys (the metric exists once per registry).
   * @default [] (no context label)
   */
  segments?: string[];
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

/** 10 µs … 10 s: microsecond functions need the low buckets or every p95 lands in the first one. */
const DEFAULT_BUCKETS = [
  0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];
const OUTCOMES = ["matched", "mismatched", "ignored"] as const;
const TRIP_REASONS: ReadonlyArray<TripEvent["reason"]> = ["mismatch-rate", "latency", "timeout-rate", "leak"];
const SKIP_REASONS = ["overload"] as const;
const BASE_LABELS = ["experiment", "candidate", "outcome"] as const;
const RESERVED = ["experiment", "candidate", "outcome", "behavior", "reason", "le", "quantile"];
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

interface Instruments {
  comparisons: Counter<string>;
  duration: Histogram<"experiment" | "behavior">;
  skipped: Counter<"experiment" | "reason">;
  leaks: Counter<"experiment" | "candidate">;
  timeouts: Counter<"experiment" | "candidate">;
  kinds: Counter<"experiment" | "candidate" | "kind">;
  reasons: Counter<"experiment" | "candidate" | "reason">;
  trips: Counter<"experiment" | "reason">;
}

interface RegistryState {
  instruments: Instruments;
  segments: SegmentLabeller;
  /** Mismatch reasons per experiment and candidate, capped like segment values, shared by the registry's publishers. */
  reasons: (scope: string, reason: string) => string;
  /** Label sets already created at 0, so the zeroing costs one Set lookup per result afterwards. */
  zeroed: Set<string>;
}

const NAMES: Record<keyof Instruments, string> = {
  comparisons: "penumbra_comparisons_total",
  duration: "penumbra_behavior_duration_seconds",
  skipped: "penumbra_skipped_total",
  leaks: "penumbra_leaks_total",
  timeouts: "penumbra_timeouts_total",
  kinds: "penumbra_mismatches_total",
  reasons: "penumbra_mismatch_reasons_total",
  trips: "penumbra_trips_total",
};
const KINDS = ["error", "status", "value", "effects"] as const;
/** Distinct reasons kept per experiment and candidate; the rest count as `(other)`. */
const REASON_CAP = 20;

const byRegistry = new WeakMap<PrometheusRegistry, RegistryState>();

/**
 * Creates a publisher that counts experiment outcomes on a prom-client registry.
 *
 * Metrics (created once per registry; every series of an experiment at 0 from its first result):
 * - `penumbra_comparisons_total{experiment,candidate,outcome}`: one per candidate per run; outcome
 *   is `matched` | `mismatched` | `ignored` (plus one label per `segments` key);
 * - `penumbra_behavior_duration_seconds{experiment,behavior}` histogram: every behaviour's duration,
 *   behavior is `control` or the candidate's name; buckets from 10 µs to 10 s;
 * - `penumbra_skipped_total{experiment,reason}`: calls skipped for lack of a slot (`overload`);
 * - `penumbra_leaks_total{experiment,candidate}`: undeclared effects the tripwire caught;
 * - `penumbra_timeouts_total{experiment,candidate}`: candidate runs that hit `timeoutMs`;
 * - `penumbra_mismatches_total{experiment,candidate,kind}`: mismatches by kind (error, status, value,
 *   effects), every kind at 0 from the first result;
 * - `penumbra_mismatch_reasons_total{experiment,candidate,reason}`: per mismatch, each of its buckets
 *   (or `kind:<kind>` when none named it), 20 reasons per candidate, the rest `(other)`;
 * - `penumbra_trips_total{experiment,reason}`: guardrail trips, every reason at 0 from the start.
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
  try {
    return build(options);
  } catch (error) {
    // A registry (or options object) that throws when read is refused here, as a TypeError, like a wrong one.
    if (error instanceof TypeError && error.message.startsWith("prometheusPublisher:")) throw error;
    throw new TypeError(`prometheusPublisher: the registry or the options could not be used: ${describeThrown(error)}`);
  }
}

function build(options: PrometheusPublisherOptions): PrometheusPublisher {
  const registry = options.registry ?? globalRegistry;
  if (typeof registry !== "object" || registry === null || typeof registry.getSingleMetric !== "function") {
    throw new TypeError("prometheusPublisher: registry must be a prom-client Registry");
  }
  const buckets = options.buckets ?? DEFAULT_BUCKETS;
  if (
    !Array.isArray(buckets) ||
    buckets.length === 0 ||
    !buckets.every((b, i) => typeof b === "number" && Number.isFinite(b) && (i === 0 || b > (buckets[i - 1] as number)))
  ) {
    // Increasing: prom-client neither sorts nor dedupes, so [1, 1] exposes le="1" twice and [5, 1] miscounts.
    throw new TypeError(`prometheusPublisher: buckets must be a non-empty array of strictly increasing finite numbers, got ${String(buckets)}`);
  }
  const keys = checkSegments("prometheusPublisher", options.segments, RESERVED, LABEL_NAME);
  let state = byRegistry.get(registry);
  // `registry.clear()` (common between tests and on hot reload) detaches the memoised metrics.
  if (state === undefined || !stillRegistered(registry, state.instruments)) {
    state = { instruments: create(registry, buckets, keys), segments: segmentLabeller(keys), reasons: cappedLabel(REASON_CAP), zeroed: new Set() };
    byRegistry.set(registry, state);
  } else if (!sameKeys(state.segments.keys, keys)) {
    throw new TypeError(
      `prometheusPublisher: segments ${JSON.stringify(keys)} differ from ${JSON.stringify(state.segments.keys)}, ` +
        "already used on this registry (penumbra_comparisons_total has one set of labels per registry)",
    );
  }
  const { instruments, segments, zeroed } = state;
  const { comparisons, duration, skipped, leaks, timeouts, kinds, reasons, trips } = instruments;

  /** A mismatch reason as a bounded label value: its bucket names, else `kind:<kind>`. */
  const capped = state.reasons;
  const reasonLabel = (experiment: string, candidate: string, reason: string): string => capped(`${experiment}\u0000${candidate}`, reason);

  // Counters have no zero(): inc(labels, 0) creates the series at 0.
  /** Creates the experiment-wide series at 0 the first time the experiment is seen. */
  const zeroExperiment = (experiment: string): void => {
    const id = `e\u0000${experiment}`;
    if (zeroed.has(id)) return;
    zeroed.add(id);
    for (const reason of SKIP_REASONS) skipped.inc({ experiment, reason }, 0);
    for (const reason of TRIP_REASONS) trips.inc({ experiment, reason }, 0);
    duration.zero({ experiment, behavior: "control" });
  };
  const zeroCandidate = (experiment: string, candidate: string): void => {
    const id = `c\u0000${experiment}\u0000${candidate}`;
    if (zeroed.has(id)) return;
    zeroed.add(id);
    leaks.inc({ experiment, candidate }, 0);
    timeouts.inc({ experiment, candidate }, 0);
    for (const kind of KINDS) kinds.inc({ experiment, candidate, kind }, 0);
    duration.zero({ experiment, behavior: candidate });
  };
  const zeroComparisons = (labels: Record<string, string>): void => {
    const id = `o\u0000${JSON.stringify(labels)}`;
    if (zeroed.has(id)) return;
    zeroed.add(id);
    for (const outcome of OUTCOMES) comparisons.inc({ ...labels, outcome }, 0);
  };

  return {
    publish(result: Result<unknown>): void {
      // Names as the scrape will carry them (UTF-8): two names that differ only by a lone surrogate are one series.
      const experiment = wellFormed(result.experiment);
      zeroExperiment(experiment);
      const segment = segments.labels(experiment, result.context);
      for (const observation of result.candidates) zeroCandidate(experiment, wellFormed(observation.name));
      for (const [name, outcome] of Object.entries(result.outcomes)) {
        const labels = { experiment, candidate: wellFormed(name), ...segment };
        zeroComparisons(labels);
        comparisons.inc({ ...labels, outcome });
      }
      for (const observation of [result.control, ...result.candidates]) {
        const seconds = observation.durationMs / 1000;
        const name = wellFormed(observation.name);
        if (Number.isFinite(seconds) && seconds >= 0) duration.observe({ experiment, behavior: name }, seconds);
        if (observation.role !== "candidate") continue;
        if (observation.leaks.length > 0) leaks.inc({ experiment, candidate: name }, observation.leaks.length);
        if (observation.timedOut) timeouts.inc({ experiment, candidate: name });
      }
      for (const mismatch of result.mismatches) {
        const candidate = wellFormed(mismatch.candidate);
        kinds.inc({ experiment, candidate, kind: mismatch.kind });
        const named = mismatch.buckets.length > 0 ? mismatch.buckets : [`kind:${mismatch.kind}`];
        for (const reason of new Set(named)) reasons.inc({ experiment, candidate, reason: reasonLabel(experiment, candidate, wellFormed(String(reason))) });
      }
    },
    skipped(experiment: string, reason: "overload" = "overload"): void {
      const name = wellFormed(experiment);
      zeroExperiment(name);
      skipped.inc({ experiment: name, reason });
    },
    trip(event: TripEvent): void {
      const experiment = wellFormed(event.experiment);
      zeroExperiment(experiment);
      trips.inc({ experiment, reason: event.reason });
    },
  };
}

function sameKeys(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((key, i) => key === b[i]);
}

function stillRegistered(registry: PrometheusRegistry, instruments: Instruments): boolean {
  return (Object.keys(NAMES) as Array<keyof Instruments>).every(
    (key) => (registry.getSingleMetric(NAMES[key]) as unknown) === instruments[key],
  );
}

function create(registry: PrometheusRegistry, buckets: number[], segments: readonly string[]): Instruments {
  const registers = [registry];
  return {
    comparisons: counter(registry, {
      name: NAMES.comparisons,
      help: "Candidate comparisons with the control, by candidate and outcome (matched, mismatched, ignored).",
      labelNames: [...BASE_LABELS, ...segments],
      registers,
    }),
    duration:
      (existing(registry, NAMES.duration, Histogram, ["experiment", "behavior"]) as Histogram<"experiment" | "behavior"> | undefined) ??
      new Histogram({
        name: NAMES.duration,
        help: "Duration of the control and of each candidate in experiment runs, in seconds.",
        labelNames: ["experiment", "behavior"] as const,
        buckets,
        registers,
      }),
    skipped: counter(registry, {
      name: NAMES.skipped,
      help: "Calls whose candidates did not run, by reason (overload: every slot was taken).",
      labelNames: ["experiment", "reason"] as const,
      registers,
    }),
    leaks: counter(registry, {
      name: NAMES.leaks,
      help: "Undeclared outbound effects caught in shadow runs, by candidate.",
      labelNames: ["experiment", "candidate"] as const,
      registers,
    }),
    timeouts: counter(registry, {
      name: NAMES.timeouts,
      help: "Candidate runs that exceeded timeoutMs, by candidate.",
      labelNames: ["experiment", "candidate"] as const,
      registers,
    }),
    kinds: counter(registry, {
      name: NAMES.kinds,
      help: "Mismatches by candidate and kind (error, status, value, effects: the most severe cause).",
      labelNames: ["experiment", "candidate", "kind"] as const,
      registers,
    }),
    reasons: counter(registry, {
      name: NAMES.reasons,
      help: "Mismatches by reason: each bucket of the mismatch, or kind:<kind> when no bucket named it (20 per candidate, then (other)).",
      labelNames: ["experiment", "candidate", "reason"] as const,
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
  const labels = [...(configuration.labelNames ?? [])];
  return (existing(registry, configuration.name, Counter, labels) as Counter<T> | undefined) ?? new Counter(configuration);
}

/**
 * A metric of this name already on the registry: ours from another copy of this module (a second
 * installed penumbra, a module cache cleared by a hot reload), reused when its labels are the same;
 * anything else is a conflict, reported when the publisher is built rather than on the request path.
 */
function existing<M extends object>(
  registry: PrometheusRegistry,
  name: string,
  kind: abstract new (...args: never[]) => M,
  labels: readonly string[],
): M | undefined {
  const metric: unknown = registry.getSingleMetric(name);
  if (metric === undefined) return undefined;
  if (!(metric instanceof kind)) {
    throw new TypeError(`prometheusPublisher: the registry already has a metric "${name}" that is not a penumbra ${kind.name}`);
  }
  const found = (metric as { labelNames?: unknown }).labelNames;
  if (Array.isArray(found) && !sameKeys(found as string[], labels)) {
    throw new TypeError(
      `prometheusPublisher: the registry already has "${name}" with labels ${JSON.stringify(found)}, not ${JSON.stringify(labels)} ` +
        "(another penumbra version, or other segments)",
    );
  }
  return metric;
}
