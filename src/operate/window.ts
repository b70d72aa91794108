/**
 * The windowed counters behind the Scorecard and the guardrails. A window is a ring of a fixed
 * number of time slices, each holding counters, two latency histograms and a capped map of reasons;
 * a `live` tally always equals the sum of the slices still inside the window, so reading the window
 * costs no merge on the hot path. Memory per candidate is bounded whatever the traffic: the ring, the
 * histograms (fixed-size HDR arrays, made for a slice when it first records a duration) and at most
 * `REASON_CAP + 1` reasons per slice.
 */
import { createHistogram, type RecordableHistogram } from "node:perf_hooks";
import type { Observation, Result } from "../types/results";
import { sampleOf, type RunSample } from "./sample";
import { SEGMENT_VALUES, SegmentTally, segmentValues } from "./segments";

/**
 * How many slices a window is cut into: results leave the window one slice (windowMs / 20) at a time.
 *
 * @internal
 * @example
 * ```ts
 * const sliceMs = windowMs / SLICES; // 30 s for the default 10-minute window
 * ```
 */
export const SLICES = 20;
/**
 * Distinct reasons a slice keeps; the rest count as {@link OTHER}.
 *
 * @internal
 * @example
 * ```ts
 * const slice = new Tally(REASON_CAP);
 * ```
 */
export const REASON_CAP = 100;
/**
 * The reason that collects what a full slice could not keep.
 *
 * @internal
 * @example
 * ```ts
 * const overflow = summary.reasons.find((r) => r.reason === OTHER);
 * ```
 */
export const OTHER = "other";
/** The shortest slice: a window under 20 ms counts as 20 ms. */
const MIN_SLICE_MS = 1;
/** Histogram bounds in microseconds: 1 µs to 1 hour (longer durations are clamped to 1 hour). */
const LOWEST_US = 1;
const HIGHEST_US = 3_600_000_000;
/**
 * Two significant figures: percentiles are within 1 % of the exact value, and a histogram stays at
 * about 26 KB. Three figures would cost ~190 KB per histogram, times 42 per candidate.
 */
const FIGURES = 2;

/**
 * One reason's count and the first example seen for it.
 *
 * @internal
 * @example
 * ```ts
 * const entry: ReasonCount = { count: 3, example: "total=49.9 vs 51.4" };
 * ```
 */
export interface ReasonCount {
  count: number;
  example: string;
}

/**
 * Counters and histograms for a span of time.
 *
 * @internal
 * @example
 * ```ts
 * const tally = new Tally(REASON_CAP);
 * tally.add(sampleOf(result, result.candidates[0]!));
 * ```
 */
export class Tally {
  runs = 0;
  statusMatches = 0;
  fieldMatches = 0;
  errors = 0;
  timeouts = 0;
  leaks = 0;
  /**
   * Created with the first duration recorded or merged (about 26 KB each): a window holds 42 of them,
   * and a quiet experiment, or one of many names, would otherwise cost a megabyte before its first run.
   */
  control: RecordableHistogram | undefined;
  candidate: RecordableHistogram | undefined;
  reasons = new Map<string, ReasonCount>();

  /**
   * @param reasonCap distinct reasons kept before the rest count as "other" (Infinity for the live sum).
   * @param segments the per-value counters of the Scorecard's `segments` keys, when it has any.
   */
  constructor(
    private readonly reasonCap: number,
    readonly segments?: SegmentTally,
  ) {}

  /** Counts one run; returns the reason keys it was counted under (after capping), for the live sum. */
  add(sample: RunSample, keys: readonly string[] = this.admit(sample.reasons)): readonly string[] {
    this.runs++;
    if (sample.statusMatched) this.statusMatches++;
    if (sample.fieldMatched) this.fieldMatches++;
    if (sample.error) this.errors++;
    if (sample.timeout) this.timeouts++;
    if (sample.leak) this.leaks++;
    // A duration that is not a measurement (NaN, infinite, negative) is left out, not counted as 1 µs.
    if (measured(sample.controlMs)) (this.control ??= newHistogram()).record(micros(sample.controlMs));
    if (measured(sample.candidateMs)) (this.candidate ??= newHistogram()).record(micros(sample.candidateMs));
    for (const key of keys) {
      const entry = this.reasons.get(key);
      if (entry === undefined) this.reasons.set(key, { count: 1, example: sample.exampleOf(key) });
      else entry.count++;
    }
    return keys;
  }

  /** Adds another tally's counts (used to rebuild the live sum when a slice leaves the window). */
  merge(other: Tally): void {
    this.runs += other.runs;
    this.statusMatches += other.statusMatches;
    this.fieldMatches += other.fieldMatches;
    this.errors += other.errors;
    this.timeouts += other.timeouts;
    this.leaks += other.leaks;
    if (other.control !== undefined && other.control.count > 0) (this.control ??= newHistogram()).add(other.control);
    if (other.candidate !== undefined && other.candidate.count > 0) (this.candidate ??= newHistogram()).add(other.candidate);
    for (const [key, { count, example }] of other.reasons) {
      const entry = this.reasons.get(key);
      if (entry === undefined) this.reasons.set(key, { count, example });
      else entry.count += count;
    }
    if (other.segments !== undefined) this.segments?.merge(other.segments);
  }

  clear(): void {
    this.runs = this.statusMatches = this.fieldMatches = this.errors = this.timeouts = this.leaks = 0;
    this.control?.reset();
    this.candidate?.reset();
    // A new map, not clear(): a Map keeps its grown hash table after clear().
    this.reasons = new Map();
    this.segments?.clear();
  }

  /** The keys a run's reasons are counted under here: known ones, new ones while there is room, else "other" once. */
  private admit(reasons: readonly string[]): string[] {
    const keys: string[] = [];
    let overflow = false;
    for (const reason of reasons) {
      if (this.reasons.has(reason) || this.reasons.size < this.reasonCap) keys.push(reason);
      else overflow = true;
    }
    // "other" counts runs, like every reason: once per run however many reasons overflowed.
    if (overflow && !keys.includes(OTHER)) keys.push(OTHER);
    return keys;
  }
}

/**
 * A count of events (skip notices) per slice.
 *
 * @internal
 * @example
 * ```ts
 * const skips = new SlidingWindow(600_000, () => new Count());
 * skips.record(Date.now(), (slice, live) => { slice.n++; live.n++; });
 * ```
 */
export class Count {
  n = 0;
  merge(other: Count): void {
    this.n += other.n;
  }
  clear(): void {
    this.n = 0;
  }
}

/**
 * A ring of {@link SLICES} time slices plus their live sum.
 *
 * @internal
 * @example
 * ```ts
 * const window = new SlidingWindow(600_000, () => new Tally(REASON_CAP), () => new Tally(Infinity));
 * window.record(now(), (slice, live) => live.add(sample, slice.add(sample)));
 * window.read(now()).runs;
 * ```
 */
export class SlidingWindow<T extends { merge(other: T): void; clear(): void }> {
  private readonly sliceMs: number;
  private readonly ring: Array<{ index: number; tally: T }> = [];
  private readonly live: T;
  /** The slice index `live` was last brought up to. */
  private liveIndex = Number.NEGATIVE_INFINITY;

  constructor(windowMs: number, create: () => T, createLive: () => T = create) {
    // At least 1 ms a slice: a smaller one makes epoch-ms ÷ slice lose integer precision, or overflow to
    // Infinity, and nothing would be counted at all.
    this.sliceMs = Math.max(MIN_SLICE_MS, windowMs / SLICES);
    for (let i = 0; i < SLICES; i++) this.ring.push({ index: Number.NEGATIVE_INFINITY, tally: create() });
    this.live = createLive();
  }

  /** Counts something that happened at `at` (epoch ms) in its slice and in the live sum; drops it when it is already outside the window. */
  record(at: number, apply: (slice: T, live: T) => void): void {
    const index = Math.floor(at / this.sliceMs);
    // A clock that answered NaN or ±Infinity: no slice to put the event in (and one must not end the window forever).
    if (!Number.isFinite(index)) return;
    if (index > this.liveIndex) this.advance(index);
    // A clock that stepped back by more than the window: the event is already out of it.
    if (index <= this.liveIndex - SLICES) return;
    const slot = this.ring[((index % SLICES) + SLICES) % SLICES] as { index: number; tally: T };
    if (slot.index !== index) {
      slot.tally.clear();
      slot.index = index;
    }
    apply(slot.tally, this.live);
  }

  /** The sum of the slices inside the window that ends at `at`. */
  read(at: number): T {
    const index = Math.floor(at / this.sliceMs);
    if (Number.isFinite(index) && index > this.liveIndex) this.advance(index);
    return this.live;
  }

  /** Moves the window's end to slice `index`: slices that fell out are cleared and the live sum rebuilt from the rest. */
  private advance(index: number): void {
    this.liveIndex = index;
    this.live.clear();
    for (const slot of this.ring) {
      if (slot.index > index - SLICES && slot.index <= index) {
        this.live.merge(slot.tally);
      } else if (slot.index !== Number.NEGATIVE_INFINITY) {
        slot.tally.clear();
        slot.index = Number.NEGATIVE_INFINITY;
      }
    }
  }
}

/**
 * One experiment's windows: one per candidate, and one for skip notices.
 *
 * @internal
 * @example
 * ```ts
 * const book = new ExperimentBook(600_000);
 * book.publish(result, Date.now());
 * book.tally(book.firstCandidate!, Date.now())?.runs;
 * ```
 */
export class ExperimentBook {
  /** The first candidate name seen: the Scorecard's default. */
  firstCandidate: string | undefined;
  private readonly candidates = new Map<string, SlidingWindow<Tally>>();
  private readonly skips: SlidingWindow<Count>;

  /** @param segmentKeys the context keys counted per value (the Scorecard's `segments`). */
  constructor(
    private readonly windowMs: number,
    private readonly segmentKeys: readonly string[] = [],
  ) {
    this.skips = new SlidingWindow(windowMs, () => new Count());
  }

  /** Counts `result` once for each of its candidates. */
  publish(result: Result<unknown>, at: number): void {
    // Read once per result: a context getter runs once, and every candidate sees the same values.
    const values = this.segmentKeys.length === 0 ? [] : segmentValues(result.context, this.segmentKeys);
    for (const candidate of result.candidates) this.publishFor(result, candidate, at, values);
  }

  /** Counts `result` for one candidate; `values` are its segment values, one per segment key. */
  publishFor(result: Result<unknown>, candidate: Observation<unknown>, at: number, values: ReadonlyArray<string | undefined> = []): void {
    let window = this.candidates.get(candidate.name);
    if (window === undefined) {
      const keys = this.segmentKeys;
      const segments = (cap: number): SegmentTally | undefined => (keys.length === 0 ? undefined : new SegmentTally(keys, cap));
      window = new SlidingWindow(
        this.windowMs,
        () => new Tally(REASON_CAP, segments(SEGMENT_VALUES)),
        // The live sum is the union of the slices' keys, so it is bounded by SLICES × (REASON_CAP + 1)
        // reasons and SLICES × (SEGMENT_VALUES + 2) values per segment key.
        () => new Tally(Number.POSITIVE_INFINITY, segments(Number.POSITIVE_INFINITY)),
      );
      this.candidates.set(candidate.name, window);
      this.firstCandidate ??= candidate.name;
    }
    const sample = sampleOf(result, candidate);
    window.record(at, (slice, live) => {
      live.add(sample, slice.add(sample));
      if (slice.segments !== undefined) {
        const mismatched = !sample.fieldMatched;
        live.segments?.apply(slice.segments.add(values, mismatched, sample.reasons), mismatched);
      }
    });
  }

  skipped(at: number): void {
    this.skips.record(at, (slice, live) => {
      slice.n++;
      live.n++;
    });
  }

  /** The candidate's counts over the window ending at `at`; undefined for a candidate never seen. */
  tally(candidate: string, at: number): Tally | undefined {
    return this.candidates.get(candidate)?.read(at);
  }

  skippedCount(at: number): number {
    return this.skips.read(at).n;
  }
}

/**
 * A percentile of a histogram in milliseconds; 0 when it is empty or was never needed.
 *
 * @internal
 * @example
 * ```ts
 * const p95 = percentileMs(tally.candidate, 95);
 * ```
 */
export function percentileMs(histogram: RecordableHistogram | undefined, p: number): number {
  return histogram === undefined || histogram.count === 0 ? 0 : histogram.percentile(p) / 1000;
}

function newHistogram(): RecordableHistogram {
  return createHistogram({ lowest: LOWEST_US, highest: HIGHEST_US, figures: FIGURES });
}

/** A duration a behaviour can have taken: a finite number of ms, 0 included. */
function measured(ms: number): boolean {
  return typeof ms === "number" && Number.isFinite(ms) && ms >= 0;
}

/** Integer microseconds, at least 1 (the histogram's lowest value) and at most its highest. */
function micros(ms: number): number {
  return Math.min(HIGHEST_US, Math.max(LOWEST_US, Math.round(ms * 1000)));
}
