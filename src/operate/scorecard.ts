/**
 * The Scorecard: a publisher that keeps, per experiment and candidate, the rates, latency
 * percentiles and mismatch reasons of the last `windowMs`, in memory that does not grow with
 * traffic. See `docs/scorecard.md` for how to read it.
 */
import { describeThrown } from "../describe";
import type { Result } from "../types/results";
import { segmentKeys } from "./segments";
import { ExperimentBook, OTHER, percentileMs, type Tally } from "./window";

/** Reasons a summary lists; the rest are folded into "other". */
const SUMMARY_REASONS = 100;

/**
 * Latency percentiles in milliseconds (within 1 % of the exact value: an HDR histogram with two
 * significant figures).
 *
 * @example
 * ```ts
 * const p: Percentiles = scorecard.summary("checkout-total")!.latency.candidate;
 * console.log(`p50 ${p.p50} ms, p95 ${p.p95} ms, p99 ${p.p99} ms`);
 * ```
 */
export interface Percentiles {
  p50: number;
  p95: number;
  p99: number;
}

/**
 * How one candidate of one experiment did over the scorecard's window. Every rate is a share of
 * `runs` (0 when `runs` is 0).
 *
 * @example
 * ```ts
 * const s: ScorecardSummary | undefined = scorecard.summary("checkout-total");
 * if (s && s.runs >= 100 && s.fieldMatchRate < 0.99) console.warn(s.reasons[0]);
 * ```
 */
export interface ScorecardSummary {
  experiment: string;
  candidate: string;
  /** Results published in the window that include this candidate. */
  runs: number;
  /** Skip notices (`overload`) for the experiment in the window. */
  skipped: number;
  /** Share of runs whose candidate outcome class (returned / threw / timed out, and the status) equals the control's. */
  statusMatchRate: number;
  /** Share of runs that matched; noise-only and ignored outcomes count as matched. */
  fieldMatchRate: number;
  /** Share of runs where the candidate threw (timeouts are not errors). */
  errorRate: number;
  timeoutRate: number;
  /** Share of runs whose candidate observation has at least one leak. */
  leakRate: number;
  /** In milliseconds; `p95Ratio` is candidate p95 / control p95 (0 when there are no runs, or no measured duration on either side). */
  latency: { control: Percentiles; candidate: Percentiles; p95Ratio: number };
  /** Why runs mismatched, most frequent first; a run counts once per reason; `share = count / runs`. */
  reasons: Array<{ reason: string; count: number; share: number; example: string }>;
  /**
   * Where the mismatches cluster: for each of the Scorecard's `segments` keys, its values (at most 20
   * per key, the rest as `(other)`; a missing key as `(none)`), each with its runs, its mismatch
   * rate, `lift` = that rate ÷ the overall mismatch rate (0 when the value has no mismatch, hence
   * also when nothing mismatched at all), and its top 5 reasons. Sorted by lift, highest first;
   * values with fewer than 10 runs come last. Empty without `segments`.
   */
  segments: Array<{ key: string; value: string; runs: number; mismatchRate: number; lift: number; reasons: Array<{ reason: string; count: number }> }>;
}

/**
 * Options of {@link Scorecard}.
 *
 * @example
 * ```ts
 * const options: ScorecardOptions = { windowMs: 60_000, segments: ["region", "endpoint"] };
 * ```
 */
export interface ScorecardOptions {
  /** How far back the summary looks, in ms; results leave it one twentieth of it at a time. @default 600_000 */
  windowMs?: number;
  /**
   * Keys of `result.context` to break the counts down by (e.g. `["region", "endpoint"]`): per value,
   * runs, mismatch rate, lift and top reasons, in `summary().segments`. Bounded: 20 values per key,
   * the rest counted as `(other)`. See `docs/segments.md`. @default []
   */
  segments?: string[];
  /** The clock, epoch ms. For tests: inject a fake clock to slide the window. @default Date.now */
  now?: () => number;
}

/**
 * A publisher that keeps a sliding-window scorecard per experiment and candidate, in bounded memory.
 *
 * @example
 * ```ts
 * const scorecard = new Scorecard({ windowMs: 10 * 60_000, segments: ["region"] });
 * configure({ publishers: [scorecard] });
 * // later, e.g. on a debug endpoint:
 * const s = scorecard.summary("checkout-total");
 * console.log(s?.fieldMatchRate, s?.latency.p95Ratio, s?.reasons.slice(0, 5));
 * console.log(s?.segments[0]); // e.g. { key: "region", value: "NY", runs: 212, mismatchRate: 0.31, lift: 4.2, reasons: [...] }
 * ```
 */
export class Scorecard {
  private readonly windowMs: number;
  private readonly now: () => number;
  private readonly books = new Map<string, ExperimentBook>();
  private readonly segmentKeys: readonly string[];

  constructor(given: ScorecardOptions = {}) {
    let options: ScorecardOptions;
    try {
      // Each option read once (inherited ones too): a getter runs once, and one that throws is refused here.
      const { windowMs, segments, now } = given;
      options = { windowMs, segments, now };
    } catch (error) {
      throw new TypeError(`penumbra: Scorecard options could not be read: ${describeThrown(error)}`);
    }
    const windowMs = options.windowMs ?? 600_000;
    if (typeof windowMs !== "number" || !Number.isFinite(windowMs) || windowMs <= 0) {
      throw new TypeError(`penumbra: Scorecard option 'windowMs' must be a positive finite number of milliseconds, got ${String(windowMs)}`);
    }
    if (options.now !== undefined && typeof options.now !== "function") {
      throw new TypeError("penumbra: Scorecard option 'now' must be a function");
    }
    this.segmentKeys = segmentKeys(options.segments);
    this.windowMs = windowMs;
    this.now = options.now ?? Date.now;
    // Bound so the methods can be passed around on their own (`configure({ publishers: [scorecard] })` calls them as methods anyway).
    this.publish = this.publish.bind(this);
    this.skipped = this.skipped.bind(this);
  }

  /**
   * Counts a published result once for each of its candidates.
   *
   * @example
   * ```ts
   * scorecard.publish(result);
   * ```
   */
  publish(result: Result<unknown>): void {
    this.book(result.experiment).publish(result, this.now());
  }

  /**
   * Counts a call whose candidates were skipped for lack of a free slot.
   *
   * @example
   * ```ts
   * scorecard.skipped("checkout-total", "overload");
   * ```
   */
  skipped(experiment: string, reason: "overload"): void {
    void reason; // the only reason there is
    this.book(experiment).skipped(this.now());
  }

  /**
   * The window's summary for one candidate (default: the first candidate seen for the experiment);
   * undefined when no result for that experiment and candidate was ever published.
   *
   * @example
   * ```ts
   * const s = scorecard.summary("checkout-total", "candidate");
   * if (s) console.log(`${s.runs} runs, ${(1 - s.fieldMatchRate) * 100}% mismatched`);
   * ```
   */
  summary(experiment: string, candidate?: string): ScorecardSummary | undefined {
    const book = this.books.get(experiment);
    const name = candidate ?? book?.firstCandidate;
    if (book === undefined || name === undefined) return undefined;
    const at = this.now();
    const tally = book.tally(name, at);
    if (tally === undefined) return undefined;
    return summarize(experiment, name, tally, book.skippedCount(at));
  }

  /**
   * The experiments seen so far (by a result or a skip notice), in the order first seen.
   *
   * @example
   * ```ts
   * for (const name of scorecard.experiments()) console.table(scorecard.summary(name));
   * ```
   */
  experiments(): string[] {
    return [...this.books.keys()];
  }

  private book(experiment: string): ExperimentBook {
    let book = this.books.get(experiment);
    if (book === undefined) {
      book = new ExperimentBook(this.windowMs, this.segmentKeys);
      this.books.set(experiment, book);
    }
    return book;
  }
}

function summarize(experiment: string, candidate: string, tally: Tally, skipped: number): ScorecardSummary {
  const runs = tally.runs;
  const rate = (n: number): number => (runs === 0 ? 0 : n / runs);
  const control = percentiles(tally, "control");
  const candidateLatency = percentiles(tally, "candidate");
  return {
    experiment,
    candidate,
    runs,
    skipped,
    statusMatchRate: rate(tally.statusMatches),
    fieldMatchRate: rate(tally.fieldMatches),
    errorRate: rate(tally.errors),
    timeoutRate: rate(tally.timeouts),
    leakRate: rate(tally.leaks),
    latency: {
      control,
      candidate: candidateLatency,
      p95Ratio: control.p95 === 0 ? 0 : candidateLatency.p95 / control.p95,
    },
    reasons: reasons(tally, runs),
    segments: tally.segments?.rows(runs === 0 ? 0 : (runs - tally.fieldMatches) / runs) ?? [],
  };
}

function percentiles(tally: Tally, side: "control" | "candidate"): Percentiles {
  const histogram = tally[side];
  return { p50: percentileMs(histogram, 50), p95: percentileMs(histogram, 95), p99: percentileMs(histogram, 99) };
}

function reasons(tally: Tally, runs: number): ScorecardSummary["reasons"] {
  const entries = [...tally.reasons].map(([reason, { count, example }]) => ({ reason, count, example }));
  // Most frequent first; ties by name, so the order does not depend on which slice saw a reason first.
  entries.sort((a, b) => b.count - a.count || (a.reason < b.reason ? -1 : a.reason > b.reason ? 1 : 0));
  let listed = entries;
  if (entries.length > SUMMARY_REASONS) {
    // Fold the tail into "other". Its count is an upper bound (a run with two folded reasons is
    // counted twice), capped at `runs`.
    const keep = entries.slice(0, SUMMARY_REASONS - 1).filter((e) => e.reason !== OTHER);
    const folded = entries.filter((e) => !keep.includes(e));
    const first = folded.find((e) => e.reason === OTHER) ?? folded[0];
    const count = Math.min(runs, folded.reduce((sum, e) => sum + e.count, 0));
    listed = [...keep, { reason: OTHER, count, example: first?.example ?? "" }];
    listed.sort((a, b) => b.count - a.count);
  }
  return listed.map(({ reason, count, example }) => ({ reason, count, share: runs === 0 ? 0 : count / runs, example }));
}
