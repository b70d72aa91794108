/**
 * What a person reads in the terminal: the progress line, the scorecard after each stage, the full
 * scorecard with its named reasons, the proof that only the control's side effects arrived, and the
 * replay after the fix. Pure formatting: every function returns lines, `main.ts` prints them.
 */
import type { Publisher, Result, ScorecardSummary, TripEvent } from "penumbra";
import type { Stage } from "./ramp";

/** A publisher that keeps what the terminal report needs and not every result: counts and one example per reason. */
export interface Evidence {
  publisher: Publisher;
  /** Results published. */
  results: number;
  /** Leaks caught by the tripwire on candidate observations. */
  leaks: number;
  /** Leak trips: include leaks after a candidate's timeout, which are on no observation. */
  leakTrips: number;
  /** What the leaks tried to reach, and whether the tripwire blocked them. */
  leakTargets: Set<string>;
  /** Results whose candidate was not fully isolated (shared handles in the arguments). */
  notIsolated: number;
  /** One exact diff per named bucket (`tax=0.1 vs 0.09`), or per effect reason. */
  examples: Map<string, string>;
  trips: TripEvent[];
}

/**
 * Collects the {@link Evidence} as results are published.
 *
 * @example
 * ```ts
 * const evidence = collectEvidence();
 * shadow(control, candidate, { publish: [scorecard, evidence.publisher] });
 * ```
 */
export function collectEvidence(): Evidence {
  const evidence: Evidence = {
    results: 0,
    leaks: 0,
    leakTrips: 0,
    leakTargets: new Set(),
    notIsolated: 0,
    examples: new Map(),
    trips: [],
    publisher: {
      publish(result: Result<unknown>) {
        evidence.results++;
        for (const candidate of result.candidates) {
          evidence.leaks += candidate.leaks.length;
          for (const leak of candidate.leaks) evidence.leakTargets.add(`${leak.target}${leak.blocked ? " (blocked)" : " (NOT blocked)"}`);
          if (!candidate.isolated) evidence.notIsolated++;
        }
        for (const mismatch of result.mismatches) {
          for (const diff of mismatch.diffs) {
            if (diff.noise === true) continue;
            const effect = /^effects\[(\d+)\]\.?(.*)$/.exec(diff.path);
            const name = effect === null ? diff.bucket : `effects:${result.control.effects[Number(effect[1])]?.name ?? "?"}`;
            if (name === undefined || evidence.examples.has(name)) continue;
            const where = effect === null ? diff.path : effect[2] === "" ? "(effect)" : (effect[2] as string);
            evidence.examples.set(name, `${where}=${show(diff, "control")} vs ${show(diff, "candidate")}`);
          }
        }
      },
      trip(event: TripEvent) {
        evidence.trips.push(event);
        if (event.reason === "leak") evidence.leakTrips++;
      },
    },
  };
  return evidence;
}

function show(diff: { control?: unknown; candidate?: unknown }, side: "control" | "candidate"): string {
  if (!(side in diff)) return "(missing)";
  let value = diff[side];
  const other = side === "control" ? diff.candidate : diff.control;
  if (typeof value === "string" && typeof other === "string") {
    // Two long texts (an email body) differ somewhere in the middle: show from just before that spot.
    let same = 0;
    while (same < value.length && value[same] === other[same]) same++;
    const from = Math.max(0, Math.min(same, value.lastIndexOf("\n", same - 1) + 1));
    if (from > 0) value = `…${value.slice(from)}`;
  }
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 59)}…` : text;
}

const pct = (x: number, digits = 1): string => `${(x * 100).toFixed(digits)}%`;
const ms = (x: number): string => `${x.toFixed(2)} ms`;

/**
 * The one-line scorecard printed after a stage.
 *
 * @example
 * ```ts
 * console.log(stageLine(2, 0.05, 3000, stageCard.summary("order-total")));
 * ```
 */
export function stageLine(index: number, sample: number, carts: number, s: ScorecardSummary | undefined): string {
  const head = `stage ${index} (${pct(sample, 0)} mirrored, ${carts} carts):`;
  if (s === undefined || s.runs === 0) return `${head} 0 shadow runs`;
  return (
    `${head} ${s.runs} shadow runs, status match ${pct(s.statusMatchRate)}, fields match ${pct(s.fieldMatchRate)}, ` +
    `timeouts ${pct(s.timeoutRate)}, p95 ${ms(s.latency.control.p95)} vs ${ms(s.latency.candidate.p95)} (ratio ${s.latency.p95Ratio.toFixed(2)}), leaks ${pct(s.leakRate)}`
  );
}

/**
 * Each of a stage's guardrails with its verdict: `tripped` (the trip that happened in this stage),
 * `not judged: 28 runs < 100` (too few runs for a rate), or `ok` with the value against the
 * threshold. The p95 rule gets its caveat: with the effects sunk, the candidate is timed without
 * its I/O, so its ratio is far under 1 and that rule cannot fire in this demo.
 *
 * @example
 * ```ts
 * guardrailLines(STAGES[0]!, stageCard.summary("order-total"), undefined).forEach((l) => console.log(l));
 * ```
 */
export function guardrailLines(stage: Stage, s: ScorecardSummary | undefined, trip: TripEvent | undefined): string[] {
  const runs = s?.runs ?? 0;
  const rate = (label: string, reason: TripEvent["reason"], value: number, threshold: number, show: (x: number) => string): string => {
    let verdict: string;
    if (trip?.reason === reason) verdict = `TRIPPED: ${show(trip.value)} > ${show(trip.threshold)}`;
    else if (runs < stage.minRuns) verdict = `not judged: ${runs} runs < ${stage.minRuns}`;
    else verdict = `ok: ${show(value)} <= ${show(threshold)} over ${runs} runs`;
    return `    ${label.padEnd(14)} ${verdict}`;
  };
  const ratio = (x: number): string => x.toFixed(2);
  const leaks = Math.round((s?.leakRate ?? 0) * runs);
  return [
    rate("mismatch rate", "mismatch-rate", s === undefined || runs === 0 ? 0 : 1 - s.fieldMatchRate, stage.maxMismatchRate, (x) => pct(x)),
    rate("timeout rate", "timeout-rate", s?.timeoutRate ?? 0, stage.maxTimeoutRate, (x) => pct(x)),
    `${rate("p95 ratio", "latency", s?.latency.p95Ratio ?? 0, stage.maxP95Ratio, ratio)}${runs >= stage.minRuns && trip?.reason !== "latency" ? " (cannot fire in this demo: see p95 ratio below)" : ""}`,
    `    ${"leak".padEnd(14)} ${trip?.reason === "leak" ? "TRIPPED: the tripwire caught a call no guard declares" : `ok: ${leaks} leaks in ${runs} runs (judged from the first run)`}`,
  ];
}

/**
 * Where the mismatches cluster, before the reasons: the Scorecard's segments for one key, one line
 * per value with its rate, lift and reasons, then per named bucket the values that carry it. A
 * segment says where to look; the bucket next to it says what to fix there.
 *
 * @example
 * ```ts
 * segmentLines(overall.summary("order-total")!, "region").forEach((l) => console.log(l));
 * ```
 */
export function segmentLines(s: ScorecardSummary, key: string): string[] {
  const rows = s.segments.filter((r) => r.key === key);
  if (rows.length === 0) return [`  by ${key}: no runs`];
  const overall = s.runs === 0 ? 0 : 1 - s.fieldMatchRate;
  const lines = [`  where the mismatches cluster, by ${key} (overall ${pct(overall)} of ${s.runs} runs; lift = a ${key}'s rate / the overall rate):`];
  for (const r of rows) {
    const reasons = r.reasons.filter((x) => !x.reason.startsWith("effects:"));
    const why = reasons.length === 0 ? "no mismatch" : reasons.map((x) => `${x.reason} ${x.count}`).join(", ");
    lines.push(
      `    ${r.value.padEnd(12)} ${pct(r.mismatchRate).padStart(6)} of ${String(r.runs).padStart(5)} runs  lift ${r.lift.toFixed(2).padStart(5)}x${r.runs < 10 ? "*" : " "}  ${why}`,
    );
  }
  if (rows.some((r) => r.runs < 10)) lines.push("    * fewer than 10 runs: an anecdote, not a rate");
  return lines;
}

/**
 * For each named bucket, the share of its runs in each value of `key` (from the segments' reasons):
 * "coupon-before-tax: 13 of 13 runs in us-ny".
 *
 * @example
 * ```ts
 * bucketHomes(summary, "region"); // [{ reason: "coupon-before-tax", count: 13, homes: [{ value: "us-ny", count: 13 }] }]
 * ```
 */
export function bucketHomes(s: ScorecardSummary, key: string): Array<{ reason: string; count: number; homes: Array<{ value: string; count: number }> }> {
  return s.reasons
    .filter((r) => !r.reason.startsWith("effects:"))
    .map((r) => ({
      reason: r.reason,
      count: r.count,
      homes: s.segments
        .filter((row) => row.key === key)
        .map((row) => ({ value: row.value, count: row.reasons.find((x) => x.reason === r.reason)?.count ?? 0 }))
        .filter((h) => h.count > 0)
        .sort((a, b) => b.count - a.count),
    }));
}

/**
 * The full scorecard of the ramp: rates, latency gap, where the mismatches cluster (per segment
 * key, and where each named bucket lives), then the reasons with counts and one exact example
 * each, named buckets first, then the side effects the candidate would have done differently.
 *
 * @example
 * ```ts
 * scorecardLines(overall.summary("order-total"), evidence, ["region", "coupon"]).forEach((l) => console.log(l));
 * ```
 */
export function scorecardLines(s: ScorecardSummary | undefined, evidence: Evidence, segmentKeys: readonly string[] = []): string[] {
  if (s === undefined) return ["scorecard: no shadow runs"];
  const mismatched = Math.round(s.runs * (1 - s.fieldMatchRate));
  const lines = [
    `scorecard  ${s.experiment} / ${s.candidate}: ${s.runs} shadow runs, ${mismatched} mismatched`,
    `  status match rate     ${pct(s.statusMatchRate, 2)}${s.statusMatchRate === 1 ? "   (the rewrite never threw nor timed out where the old code answered)" : ""}`,
    `  business-field match  ${pct(s.fieldMatchRate, 2)}`,
    `  error rate            ${pct(s.errorRate, 2)}`,
    `  timeout rate          ${pct(s.timeoutRate, 2)}`,
    `  leak rate             ${pct(s.leakRate, 2)}`,
    `  isolation             ${evidence.notIsolated === 0 ? "every candidate ran on its own copy of the cart" : `${evidence.notIsolated} runs shared a handle with the control`}`,
    `  latency gap           control p50 ${ms(s.latency.control.p50)} p95 ${ms(s.latency.control.p95)}; ` +
      `candidate p50 ${ms(s.latency.candidate.p50)} p95 ${ms(s.latency.candidate.p95)}; p95 ratio ${s.latency.p95Ratio.toFixed(2)}`,
    "  (the candidate's effects are sunk, so it skips the provider, the SMTP round trips and the insert: its latency is not a production estimate)",
  ];
  // Where before why: the segment a team owns, then the named buckets to fix there.
  for (const key of segmentKeys) lines.push(...segmentLines(s, key));
  if (segmentKeys.length > 0) {
    lines.push(`  where each named bucket lives, by ${segmentKeys[0] as string}:`);
    for (const home of bucketHomes(s, segmentKeys[0] as string)) {
      const where = home.homes.map((h) => `${h.value} ${h.count}`).join(", ");
      lines.push(`    ${home.reason.padEnd(24)} ${String(home.count).padStart(6)} runs: ${where}`);
    }
  }
  lines.push("  reasons (a run counts once per reason):");
  const named = s.reasons.filter((r) => !r.reason.startsWith("effects:"));
  const effects = s.reasons.filter((r) => r.reason.startsWith("effects:"));
  for (const r of named) lines.push(reasonLine(r, evidence));
  if (effects.length > 0) lines.push("  side effects the candidate would have performed differently:");
  for (const r of effects) lines.push(reasonLine(r, evidence));
  return lines;
}

function reasonLine(r: ScorecardSummary["reasons"][number], evidence: Evidence): string {
  const example = evidence.examples.get(r.reason) ?? r.example;
  return `    ${r.reason.padEnd(40)} ${String(r.count).padStart(6)} runs (${pct(r.share)})  e.g. ${example}`;
}

/** Expected and received side effects, for {@link effectLines}. */
export interface EffectCheck {
  label: string;
  expected: number;
  received: number;
}

/**
 * The proof that only the control's side effects arrived: expected (from the traffic) vs received
 * (counted by the servers).
 *
 * @example
 * ```ts
 * effectLines([{ label: "emails (SMTP server)", expected: 18_100, received: 18_100 }]);
 * ```
 */
export function effectLines(checks: readonly EffectCheck[]): string[] {
  return checks.map(
    (c) => `  ${c.label.padEnd(44)} expected ${String(c.expected).padStart(7)}   received ${String(c.received).padStart(7)}   ${c.expected === c.received ? "ok" : "MISMATCH"}`,
  );
}

/**
 * A replay's outcome in one line.
 *
 * @example
 * ```ts
 * replayLine("rewrite as shipped", report.runs, report.differing.length, report.reasons);
 * ```
 */
export function replayLine(label: string, runs: number, differing: number, reasons: ScorecardSummary["reasons"]): string {
  const why = reasons.length === 0 ? "" : ` (${reasons.filter((r) => !r.reason.startsWith("effects:")).map((r) => `${r.reason} ${r.count}`).join(", ")})`;
  return `  ${label.padEnd(30)} replayed ${runs}, still differing ${differing}${why}`;
}

/**
 * A `\r`-updated progress bar on a TTY, nothing otherwise (stage lines are printed either way).
 *
 * @example
 * ```ts
 * const bar = progress(process.stdout, 20_000);
 * bar.tick("stage 2 (5% mirrored)"); bar.clear();
 * ```
 */
export function progress(stream: NodeJS.WriteStream, total: number): { tick(label: string): void; clear(): void } {
  let done = 0;
  let last = 0;
  const started = Date.now();
  const tty = stream.isTTY === true;
  return {
    tick(label) {
      done++;
      const now = Date.now();
      // Redrawing per cart would cost more than the checkout: ten frames a second is enough to read.
      if (!tty || (now - last < 100 && done !== total)) return;
      last = now;
      const width = 30;
      const filled = Math.round((done / total) * width);
      const rate = Math.round(done / Math.max(0.001, (now - started) / 1000));
      stream.write(`\r  [${"#".repeat(filled)}${".".repeat(width - filled)}] ${done}/${total} carts  ${rate}/s  ${label}   `);
    },
    clear() {
      if (tty) stream.write("\r\x1b[K");
    },
  };
}
