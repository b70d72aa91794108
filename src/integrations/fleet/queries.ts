/**
 * The PromQL the fleet guardrail runs, in one place so docs/fleet.md, the alerting rules and the
 * code say the same thing. Every query is a ratio of rates over the same window, summed over every
 * process (instance) of the fleet and grouped by candidate, so one slow process cannot hide behind
 * the others and several candidates are judged apart.
 */
import { wellFormed } from "../metric-segments";

/**
 * The four numbers a fleet verdict reads, per candidate, as PromQL.
 *
 * @example
 * ```ts
 * const { mismatchRate }: FleetQueries = fleetQueries("order-total", "candidate", "1m");
 * ```
 */
export interface FleetQueries {
  runsPerSecond: string;
  mismatchRate: string;
  timeoutRate: string;
  p95Ratio: string;
}

/**
 * A PromQL string literal. JSON's escapes are a subset of PromQL's (Go's), so JSON.stringify is a
 * correct quoting for any experiment or candidate name, once its lone surrogates are U+FFFD: Go
 * refuses `\ud800` (not a code point), and `penumbra/prometheus` labels the series with U+FFFD there
 * (written `\ufffd`: the lexer refuses a literal one).
 *
 * @example
 * ```ts
 * promqlString('say "hi"'); // "say \"hi\""
 * ```
 */
export function promqlString(value: string): string {
  // U+FFFD itself is escaped: Prometheus's lexer takes a literal one for a decoding error ("invalid UTF-8 rune").
  return JSON.stringify(wellFormed(value)).replace(/\uFFFD/g, "\\ufffd");
}

/**
 * Builds the queries for one experiment (optionally one candidate) over a PromQL range.
 *
 * @example
 * ```ts
 * fleetQueries("order-total", undefined, "1m").mismatchRate;
 * // sum by (candidate) (rate(penumbra_comparisons_total{experiment="order-total",outcome="mismatched"}[1m])) / …
 * ```
 */
export function fleetQueries(experiment: string, candidate: string | undefined, window: string): FleetQueries {
  const scope = `experiment=${promqlString(experiment)}${candidate === undefined ? "" : `,candidate=${promqlString(candidate)}`}`;
  const behaviour = `experiment=${promqlString(experiment)}${candidate === undefined ? ',behavior!="control"' : `,behavior=${promqlString(candidate)}`}`;
  const runs = `sum by (candidate) (rate(penumbra_comparisons_total{${scope}}[${window}]))`;
  const p95 = (selector: string, by: string): string =>
    `histogram_quantile(0.95, sum by (${by}) (rate(penumbra_behavior_duration_seconds_bucket{${selector}}[${window}])))`;
  return {
    runsPerSecond: runs,
    mismatchRate: `sum by (candidate) (rate(penumbra_comparisons_total{${scope},outcome="mismatched"}[${window}])) / ${runs}`,
    timeoutRate: `sum by (candidate) (rate(penumbra_timeouts_total{${scope}}[${window}])) / ${runs}`,
    // The candidate's p95 over the control's, fleet-wide; `label_replace` names the behaviour's
    // series as its candidate so the division matches them, and `group_left` lets every candidate
    // share the one control.
    p95Ratio:
      `label_replace(${p95(behaviour, "le, behavior")}, "candidate", "$1", "behavior", "(.*)") / ignoring(behavior, candidate) group_left ` +
      p95(`experiment=${promqlString(experiment)},behavior="control"`, "le"),
  };
}
