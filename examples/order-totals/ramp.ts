/**
 * The ramp and its rollback triggers, written down before any traffic is mirrored (and printed
 * first, so nobody can tune them after seeing the numbers).
 *
 * The stages mirror traffic; the customer is always answered by the old service. So the guardrails
 * protect production and the experiment's worth, not the customer from a wrong total: a leak, a slow
 * or hanging candidate, or a candidate so broken that its results say nothing. Whether the rewrite
 * may ever answer customers is the promotion gate, decided by people after the 100 % stage.
 */
import type { Guardrails } from "penumbra";

/** One step of the ramp. */
export interface Stage {
  /** Share of customers whose checkouts are mirrored (sticky per customer). */
  sample: number;
  /** Share of the demo's traffic that flows during this stage. */
  traffic: number;
  /** Guardrail thresholds for this stage (each trips when strictly exceeded). */
  minRuns: number;
  maxMismatchRate: number;
  maxP95Ratio: number;
  maxTimeoutRate: number;
}

/**
 * 1 % → 5 % → 25 % → 100 % mirrored. Thresholds tighten as the sample grows and noise shrinks.
 *
 * `minRuns` is never below 100: guardrails judge after every result, so a small window trips on
 * noise (a first try with `minRuns: 10` rolled stage 1 back on 4 mismatches out of 10 runs, for a
 * candidate whose real mismatch rate is about 21 %). At the 1 % stage that means only a leak can
 * trip it: the 1 % stage exists to catch leaks and crashes cheaply, not to measure rates.
 */
export const STAGES: readonly Stage[] = [
  { sample: 0.01, traffic: 0.1, minRuns: 100, maxMismatchRate: 0.4, maxP95Ratio: 3, maxTimeoutRate: 0.01 },
  { sample: 0.05, traffic: 0.15, minRuns: 100, maxMismatchRate: 0.4, maxP95Ratio: 2, maxTimeoutRate: 0.01 },
  { sample: 0.25, traffic: 0.25, minRuns: 200, maxMismatchRate: 0.35, maxP95Ratio: 2, maxTimeoutRate: 0.005 },
  { sample: 1, traffic: 0.5, minRuns: 500, maxMismatchRate: 0.35, maxP95Ratio: 1.5, maxTimeoutRate: 0.005 },
];

/** What must hold after the 100 % stage before the rewrite may answer a single customer. */
export const PROMOTION_GATE = [
  "every mismatch reason is a named bucket (no bare paths, no error:*, no timeout)",
  "every named bucket has a decision: fix the candidate, or accept the difference in writing",
  "after the fix, replaying every recorded mismatch leaves 0 differing",
] as const;

/** The candidate's async budget: a checkout's charge + email take a few ms here. */
export const CANDIDATE_TIMEOUT_MS = 1000;

/**
 * The `guardrails` option for a stage: the written-down thresholds, with `onTrip` to report a trip.
 * A leak trips at once at every stage (`disableOnLeak`).
 *
 * @example
 * ```ts
 * shadow(control, candidate, { sample: stage.sample, guardrails: guardrailsFor(stage, (e) => trips.push(e)) });
 * ```
 */
export function guardrailsFor(stage: Stage, onTrip: NonNullable<Guardrails["onTrip"]>): Guardrails {
  return {
    minRuns: stage.minRuns,
    maxMismatchRate: stage.maxMismatchRate,
    maxP95Ratio: stage.maxP95Ratio,
    maxTimeoutRate: stage.maxTimeoutRate,
    disableOnLeak: true,
    onTrip,
  };
}

/**
 * How many carts each stage gets out of `total`: the shares rounded, the last stage takes the rest.
 *
 * @example
 * ```ts
 * stageSizes(20_000); // [2000, 3000, 5000, 10000]
 * ```
 */
export function stageSizes(total: number): number[] {
  const sizes = STAGES.map((stage) => Math.floor(total * stage.traffic));
  sizes[sizes.length - 1] = total - sizes.slice(0, -1).reduce((a, b) => a + b, 0);
  return sizes;
}

/**
 * The thresholds as the table printed before the ramp starts.
 *
 * @example
 * ```ts
 * console.log(thresholdTable(stageSizes(20_000)).join("\n"));
 * ```
 */
export function thresholdTable(sizes: readonly number[]): string[] {
  const pct = (x: number): string => `${+(x * 100).toFixed(2)}%`;
  const rows = STAGES.map((s, i) => [
    `${i + 1}`,
    pct(s.sample),
    String(sizes[i] ?? 0),
    String(s.minRuns),
    `> ${pct(s.maxMismatchRate)}`,
    `> ${s.maxP95Ratio}`,
    `> ${pct(s.maxTimeoutRate)}`,
    "any",
  ]);
  const header = ["stage", "mirrored", "carts", "min runs", "mismatch", "p95 ratio", "timeouts", "leak"];
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? "").length)));
  const line = (cells: string[]): string => "  " + cells.map((cell, c) => cell.padEnd(widths[c] ?? 0)).join("  ");
  return [line(header), ...rows.map(line)];
}
