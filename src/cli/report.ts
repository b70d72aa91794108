/**
 * The data of `penumbra report`: a results file read once, as a stream, into a Scorecard (the same
 * numbers a live service shows) plus what the HTML page plots and a Scorecard does not keep, in
 * memory that does not grow with the file: latency histograms on fixed log-spaced bins and mismatch
 * reasons per time bucket, the buckets widening as the file's span grows.
 */
import { sampleOf } from "../operate/sample";
import { Scorecard, type ScorecardSummary } from "../operate/scorecard";
import { readResults, type MalformedLine } from "../store/read";
import type { FieldDiff, Observation, Result } from "../types/results";

/** Latency bins: 10 per decade from 1 µs to 100 s; faster or slower durations land in the end bins. */
const BINS_PER_DECADE = 10;
const LOWEST_MS = 0.001;
const DECADES = 8;
const BIN_COUNT = BINS_PER_DECADE * DECADES;
/** Time buckets kept per candidate; past this the bucket width doubles and neighbours merge. */
const MAX_BUCKETS = 240;
/** Points a timeline is drawn with at most: finer than that, an hour of traffic reads as noise. */
const TIMELINE_POINTS = 48;
/** Distinct reasons a time bucket keeps; the rest count as "other" (a run counts once there). */
const BUCKET_REASONS = 50;
/** Malformed lines kept with their message; the rest are only counted. */
const MALFORMED_KEPT = 1000;

/**
 * Latency distributions of both sides: `counts[i]` runs took between `edges[i]` and `edges[i + 1]` ms.
 *
 * @example
 * ```ts
 * const share = latency.control.map((n) => n / runs);
 * ```
 */
export interface LatencyHistogram {
  /** `BIN_COUNT + 1` bin edges in ms, log-spaced. */
  edges: number[];
  control: number[];
  candidate: number[];
}

/**
 * Mismatch reasons over time: bucket `i` starts at `startMs + i * bucketMs` (epoch ms).
 *
 * @example
 * ```ts
 * const totalAt = (i: number) => timeline.runs[i];
 * ```
 */
export interface ReasonTimeline {
  startMs: number;
  bucketMs: number;
  /** Runs per bucket. */
  runs: number[];
  /** Mismatched runs per bucket. */
  mismatched: number[];
  /** Per reason (the summary's top reasons), its count per bucket. */
  reasons: Array<{ reason: string; counts: number[] }>;
}

/**
 * One candidate of one experiment in a report.
 *
 * @example
 * ```ts
 * for (const c of data.candidates) console.log(c.summary.experiment, c.summary.candidate, c.summary.runs);
 * ```
 */
export interface CandidateReport {
  summary: ScorecardSummary;
  latency: LatencyHistogram;
  timeline: ReasonTimeline;
}

/**
 * Everything `penumbra report` prints and plots.
 *
 * @example
 * ```ts
 * const data: ReportData = await collectReport("results.jsonl", { experiment: "checkout-total" });
 * ```
 */
export interface ReportData {
  file: string;
  /** The context keys the mismatches are broken down by (`--segments`); empty without. */
  segments: string[];
  experiment: string | undefined;
  /** Lines that were not blank: results, results of other experiments and malformed lines. */
  lines: number;
  /** Well-formed results read (of the chosen experiment). */
  results: number;
  /** Well-formed results of other experiments, left out. */
  filtered: number;
  /** The first malformed lines (up to 1000) with their numbers; `malformedCount` counts them all. */
  malformed: MalformedLine[];
  malformedCount: number;
  /** Earliest and latest `startedAt` (epoch ms), undefined without results. */
  firstStartedAt: number | undefined;
  lastStartedAt: number | undefined;
  candidates: CandidateReport[];
}

/** How many of the summary's top reasons get a line in the timeline. */
const TIMELINE_REASONS = 6;

interface Bucket {
  runs: number;
  mismatched: number;
  reasons: Map<string, number>;
}

/** Per candidate: histograms and the adaptive time buckets. */
class CandidateSeries {
  readonly control = new Array<number>(BIN_COUNT).fill(0);
  readonly candidate = new Array<number>(BIN_COUNT).fill(0);
  bucketMs = 1000;
  buckets = new Map<number, Bucket>();

  add(result: Result<unknown>, observation: Observation<unknown>): void {
    const control = this.control;
    const candidate = this.candidate;
    control[binOf(result.control.durationMs)]! += 1;
    candidate[binOf(observation.durationMs)]! += 1;
    const sample = sampleOf(result, observation);
    const bucket = this.bucketAt(result.startedAt);
    bucket.runs++;
    if (!sample.fieldMatched) bucket.mismatched++;
    let overflow = false;
    for (const reason of sample.reasons) {
      if (bucket.reasons.has(reason) || bucket.reasons.size < BUCKET_REASONS) bucket.reasons.set(reason, (bucket.reasons.get(reason) ?? 0) + 1);
      else overflow = true;
    }
    if (overflow) bucket.reasons.set("other", (bucket.reasons.get("other") ?? 0) + 1);
  }

  private bucketAt(at: number): Bucket {
    const index = Math.floor(at / this.bucketMs);
    let bucket = this.buckets.get(index);
    if (bucket === undefined) {
      bucket = { runs: 0, mismatched: 0, reasons: new Map() };
      this.buckets.set(index, bucket);
      if (this.span() > MAX_BUCKETS) {
        this.widen();
        return this.bucketAt(at);
      }
    }
    return bucket;
  }

  /** Buckets from the first to the last index, gaps included: what a plot's x axis needs. */
  private span(): number {
    let min = Number.POSITIVE_INFINITY;
    let max = Number.NEGATIVE_INFINITY;
    for (const index of this.buckets.keys()) {
      if (index < min) min = index;
      if (index > max) max = index;
    }
    return max - min + 1;
  }

  private widen(): void {
    while (this.span() > MAX_BUCKETS) {
      this.bucketMs *= 2;
      const merged = new Map<number, Bucket>();
      for (const [index, bucket] of this.buckets) {
        const into = Math.floor(index / 2);
        const target = merged.get(into);
        if (target === undefined) {
          merged.set(into, bucket);
          continue;
        }
        target.runs += bucket.runs;
        target.mismatched += bucket.mismatched;
        for (const [reason, count] of bucket.reasons) target.reasons.set(reason, (target.reasons.get(reason) ?? 0) + count);
      }
      this.buckets = merged;
    }
  }

  timeline(top: readonly string[]): ReasonTimeline {
    const indices = [...this.buckets.keys()];
    if (indices.length === 0) return { startMs: 0, bucketMs: this.bucketMs, runs: [], mismatched: [], reasons: [] };
    const min = Math.min(...indices);
    const span = Math.max(...indices) - min + 1;
    // Kept buckets are merged `factor` at a time for drawing, so a plot has at most TIMELINE_POINTS points.
    const factor = Math.ceil(span / TIMELINE_POINTS);
    const first = Math.floor(min / factor);
    const length = Math.floor((min + span - 1) / factor) - first + 1;
    const runs = new Array<number>(length).fill(0);
    const mismatched = new Array<number>(length).fill(0);
    const reasons = top.map((reason) => ({ reason, counts: new Array<number>(length).fill(0) }));
    for (const [index, bucket] of this.buckets) {
      const i = Math.floor(index / factor) - first;
      runs[i]! += bucket.runs;
      mismatched[i]! += bucket.mismatched;
      for (const series of reasons) series.counts[i]! += bucket.reasons.get(series.reason) ?? 0;
    }
    const bucketMs = this.bucketMs * factor;
    return { startMs: first * bucketMs, bucketMs, runs, mismatched, reasons };
  }
}

function binOf(ms: number): number {
  if (!(ms > LOWEST_MS)) return 0;
  const bin = Math.floor(Math.log10(ms / LOWEST_MS) * BINS_PER_DECADE);
  return Math.min(BIN_COUNT - 1, Math.max(0, bin));
}

function binEdges(): number[] {
  return Array.from({ length: BIN_COUNT + 1 }, (_, i) => LOWEST_MS * 10 ** (i / BINS_PER_DECADE));
}

/**
 * Reads a results file and builds the report; rejects with the `fs` error when the file cannot be
 * read, never for a bad line (those are counted in `malformed`).
 *
 * @example
 * ```ts
 * const data = await collectReport("var/shadow-results.jsonl", {});
 * console.log(renderTable(data));
 * ```
 */
export async function collectReport(file: string, options: { experiment?: string | undefined; segments?: string[] | undefined }): Promise<ReportData> {
  let latest = Number.NEGATIVE_INFINITY;
  const segments = options.segments ?? [];
  // A report of past results: the window covers the whole file, and "now" is the last result's time.
  const scorecard = new Scorecard({ windowMs: Number.MAX_SAFE_INTEGER, segments, now: () => (Number.isFinite(latest) ? latest : 0) });
  const series = new Map<string, Map<string, CandidateSeries>>();
  const malformed: MalformedLine[] = [];
  let malformedCount = 0;
  let filtered = 0;
  let results = 0;
  let first = Number.POSITIVE_INFINITY;
  const reader = readResults(file, {
    experiment: options.experiment,
    onMalformed: (bad) => {
      malformedCount++;
      if (malformed.length < MALFORMED_KEPT) malformed.push(bad);
    },
    onFiltered: () => filtered++,
  });
  for await (const read of reader) {
    const result = reviveErrors(read);
    results++;
    if (Number.isFinite(result.startedAt)) {
      if (result.startedAt > latest) latest = result.startedAt;
      if (result.startedAt < first) first = result.startedAt;
    }
    scorecard.publish(result);
    let byCandidate = series.get(result.experiment);
    if (byCandidate === undefined) {
      byCandidate = new Map();
      series.set(result.experiment, byCandidate);
    }
    for (const observation of result.candidates) {
      let s = byCandidate.get(observation.name);
      if (s === undefined) {
        s = new CandidateSeries();
        byCandidate.set(observation.name, s);
      }
      s.add(result, observation);
    }
  }
  const candidates: CandidateReport[] = [];
  for (const [experiment, byCandidate] of series) {
    for (const [candidate, s] of byCandidate) {
      // The Scorecard's own reasons, order and examples: what a live service shows.
      const summary = scorecard.summary(experiment, candidate);
      if (summary === undefined) continue;
      const top = summary.reasons.slice(0, TIMELINE_REASONS).map((r) => r.reason);
      candidates.push({
        summary,
        latency: { edges: binEdges(), control: [...s.control], candidate: [...s.candidate] },
        timeline: s.timeline(top),
      });
    }
  }
  return {
    file,
    segments,
    experiment: options.experiment,
    lines: results + filtered + malformedCount,
    results,
    filtered,
    malformed,
    malformedCount,
    firstStartedAt: Number.isFinite(first) ? first : undefined,
    lastStartedAt: Number.isFinite(latest) ? latest : undefined,
    candidates,
  };
}

/** Named stand-ins for error classes, one per name seen (a file has few distinct error names). */
const errorTypes = new Map<string, () => void>();

/**
 * Serialised errors come back as `{ name, message, stack }`; the Scorecard names a candidate's error
 * reason after its constructor (`error:TypeError`), so give each such object back an Error whose
 * constructor carries the recorded name, or every error would read `error:object`.
 */
function reviveErrors(result: Result<unknown>): Result<unknown> {
  if (!result.candidates.some((c) => looksLikeError(c.error))) return result;
  return { ...result, candidates: result.candidates.map((c) => (looksLikeError(c.error) ? { ...c, error: revive(c.error) } : c)) };
}

function looksLikeError(value: unknown): value is { name: string; message: string; stack?: unknown } {
  if (typeof value !== "object" || value === null || value instanceof Error) return false;
  const v = value as Record<string, unknown>;
  return typeof v["name"] === "string" && v["name"] !== "" && typeof v["message"] === "string";
}

function revive(error: { name: string; message: string; stack?: unknown }): Error {
  let type = errorTypes.get(error.name);
  if (type === undefined) {
    type = function revivedError(): void {
      // Never called: it only carries the name.
    };
    Object.defineProperty(type, "name", { value: error.name });
    if (errorTypes.size < 1000) errorTypes.set(error.name, type);
  }
  const revived = new Error(error.message);
  revived.name = error.name;
  if (typeof error.stack === "string") revived.stack = error.stack;
  Object.defineProperty(revived, "constructor", { value: type, enumerable: false });
  return revived;
}
