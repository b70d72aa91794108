/** Types for operating an experiment: publishers, guardrails and trips. */
import type { Result } from "./results";

/**
 * Why guardrails switched an experiment off.
 *
 * @example
 * ```ts
 * const onTrip = (event: TripEvent) => console.error(`${event.experiment} off: ${event.reason} ${event.value} > ${event.threshold}`);
 * ```
 */
export interface TripEvent {
  experiment: string;
  reason: "mismatch-rate" | "latency" | "timeout-rate" | "leak";
  value: number;
  threshold: number;
}

/**
 * Where results go. A function, or an object with `publish` and optionally `skipped` and `trip`.
 * A publisher never delays the caller; its returned promise is awaited only by `settled()` / `flush()`.
 *
 * @example
 * ```ts
 * const logMismatches: Publisher = (result) => { if (result.mismatched) console.warn(result.mismatches); };
 * ```
 */
export type Publisher =
  | ((result: Result<unknown>) => void | Promise<void>)
  | {
      publish(result: Result<unknown>): void | Promise<void>;
      skipped?(experiment: string, reason: "overload"): void;
      trip?(event: TripEvent): void;
    };

/**
 * Thresholds that switch a bad candidate off by themselves.
 *
 * @example
 * ```ts
 * shadow(oldTotal, newTotal, { guardrails: { maxMismatchRate: 0.05, maxP95Ratio: 1.5, minRuns: 200 } });
 * ```
 */
export interface Guardrails {
  maxMismatchRate?: number;
  maxP95Ratio?: number;
  maxTimeoutRate?: number;
  /** No rate verdict before this many runs in the window. @default 100 */
  minRuns?: number;
  /** @default 600_000 */
  windowMs?: number;
  /** @default true */
  disableOnLeak?: boolean;
  onTrip?: (event: TripEvent) => void;
}
