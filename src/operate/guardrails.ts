/**
 * Guardrail verdicts: after every published result, is any candidate over a threshold? Pure logic
 * over the Scorecard's windowed counters; disabling the experiment and calling `onTrip` / the
 * publishers' `trip` is the engine's part.
 */
import type { Guardrails, TripEvent } from "../types/operate";
import type { Result } from "../types/results";
import { ExperimentBook, percentileMs } from "./window";

const DEFAULT_MIN_RUNS = 100;
const DEFAULT_WINDOW_MS = 600_000;

/**
 * Watches one experiment's results against its guardrails and says when to trip.
 * After a trip it stays quiet until {@link GuardrailMonitor.reset}, so one trip gives one event
 * even while runs admitted before it are still publishing.
 *
 * @internal
 * @example
 * ```ts
 * const monitor = new GuardrailMonitor("checkout-total", { maxMismatchRate: 0.05 });
 * const trip = monitor.observe(result);
 * if (trip) experiment.disable(trip);
 * ```
 */
export class GuardrailMonitor {
  private readonly minRuns: number;
  private readonly windowMs: number;
  private readonly disableOnLeak: boolean;
  private book: ExperimentBook;
  private tripped = false;

  /**
   * @param guardrails undefined means only the leak rule is on.
   * @param now the clock, epoch ms (for tests).
   */
  constructor(
    private readonly experiment: string,
    private readonly guardrails: Guardrails | undefined,
    private readonly now: () => number = Date.now,
  ) {
    this.minRuns = guardrails?.minRuns ?? DEFAULT_MIN_RUNS;
    this.windowMs = guardrails?.windowMs ?? DEFAULT_WINDOW_MS;
    if (!Number.isFinite(this.windowMs) || this.windowMs <= 0) {
      throw new TypeError(`penumbra: guardrails option 'windowMs' must be a positive finite number, got ${String(this.windowMs)}`);
    }
    this.disableOnLeak = guardrails?.disableOnLeak ?? true;
    this.book = new ExperimentBook(this.windowMs);
  }

  /**
   * Counts `result` and returns the trip it causes, if any: a leak at once, else the first rate over
   * its threshold (mismatch rate, p95 ratio, timeout rate) of the first candidate over one.
   *
   * @example
   * ```ts
   * publishers.forEach((p) => p(result));
   * const trip = monitor.observe(result);
   * ```
   */
  observe(result: Result<unknown>): TripEvent | undefined {
    if (this.tripped) return undefined;
    if (this.disableOnLeak) {
      const leaks = result.candidates.reduce((sum, c) => sum + c.leaks.length, 0);
      if (leaks > 0) return this.trip("leak", leaks, 0);
    }
    const g = this.guardrails;
    // Only the leak rule: no window to keep (its histograms cost ~1 ms to create per experiment).
    if (g === undefined || (g.maxMismatchRate === undefined && g.maxP95Ratio === undefined && g.maxTimeoutRate === undefined)) {
      return undefined;
    }
    const at = this.now();
    this.book.publish(result, at);
    for (const candidate of result.candidates) {
      const tally = this.book.tally(candidate.name, at);
      if (tally === undefined || tally.runs < this.minRuns) continue;
      if (g.maxMismatchRate !== undefined) {
        const rate = 1 - tally.fieldMatches / tally.runs;
        if (rate > g.maxMismatchRate) return this.trip("mismatch-rate", rate, g.maxMismatchRate);
      }
      if (g.maxP95Ratio !== undefined) {
        const control = percentileMs(tally.control, 95);
        const ratio = control === 0 ? 0 : percentileMs(tally.candidate, 95) / control;
        if (ratio > g.maxP95Ratio) return this.trip("latency", ratio, g.maxP95Ratio);
      }
      if (g.maxTimeoutRate !== undefined) {
        const rate = tally.timeouts / tally.runs;
        if (rate > g.maxTimeoutRate) return this.trip("timeout-rate", rate, g.maxTimeoutRate);
      }
    }
    return undefined;
  }

  /**
   * A leak reported after a candidate's timeout (so on no observation): trips at once unless
   * `disableOnLeak` is false.
   *
   * @example
   * ```ts
   * onLateLeak(() => { const trip = monitor.observeLateLeak(); if (trip) disable(trip); });
   * ```
   */
  observeLateLeak(): TripEvent | undefined {
    if (this.tripped || !this.disableOnLeak) return undefined;
    return this.trip("leak", 1, 0);
  }

  /**
   * Starts over with an empty window, ready to trip again (what `experiment.enable()` needs).
   *
   * @example
   * ```ts
   * experiment.enable(); // calls monitor.reset()
   * ```
   */
  reset(): void {
    this.book = new ExperimentBook(this.windowMs);
    this.tripped = false;
  }

  private trip(reason: TripEvent["reason"], value: number, threshold: number): TripEvent {
    this.tripped = true;
    return { experiment: this.experiment, reason, value, threshold };
  }
}
