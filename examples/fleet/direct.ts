/**
 * "Direct mode" of the fleet demo, for machines without Prometheus: reads every process's /metrics
 * itself, every second, and computes the fleet's numbers with the same arithmetic as the PromQL in
 * docs/fleet.md: per series, the increase over the window divided by the window's span
 * (`rate()`), summed over processes; p95 by linear interpolation inside the bucket
 * (`histogram_quantile()`). Counter resets (a restarted process) count from zero, as in PromQL.
 */

/** One scrape of one process: series text (name + labels) → value. */
type Scrape = { at: number; series: Map<string, number> };

/** The fleet's numbers, or why there are none. */
export interface DirectVerdict {
  judged: boolean;
  reason?: string;
  values: Record<string, number>;
}

/** Parses Prometheus' text format into series → value (comments skipped). */
export function parseMetrics(text: string): Map<string, number> {
  const series = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const cut = line.lastIndexOf(" ");
    series.set(line.slice(0, cut), Number(line.slice(cut + 1)));
  }
  return series;
}

function labelsOf(series: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const m of series.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[m[1] as string] = m[2] as string;
  return labels;
}

/**
 * Scrapes the targets and answers the fleet's numbers for one experiment over a window.
 *
 * @example
 * ```ts
 * const fleet = directFleet(["127.0.0.1:41001"], "order-total", 10_000);
 * await fleet.scrape();
 * fleet.verdict(1);
 * ```
 */
export function directFleet(targets: string[], experiment: string, windowMs: number) {
  const history = new Map<string, Scrape[]>(targets.map((t) => [t, []]));

  /** Per-second increase of every series matching `keep`, summed by `groupKey`, over the fleet. */
  const rates = (keep: (name: string, labels: Record<string, string>) => boolean, groupKey: (labels: Record<string, string>) => string) => {
    const sums = new Map<string, number>();
    for (const scrapes of history.values()) {
      const first = scrapes[0];
      const last = scrapes.at(-1);
      if (first === undefined || last === undefined || last.at === first.at) continue;
      const span = (last.at - first.at) / 1000;
      for (const [series, value] of last.series) {
        const name = series.split("{")[0] ?? series;
        const labels = labelsOf(series);
        if (!keep(name, labels)) continue;
        const before = first.series.get(series) ?? 0;
        const increase = value >= before ? value - before : value; // a reset starts from zero
        const key = groupKey(labels);
        sums.set(key, (sums.get(key) ?? 0) + increase / span);
      }
    }
    return sums;
  };

  /** histogram_quantile(0.95, …) over per-le rates: linear inside the bucket, like Prometheus. */
  const p95 = (behavior: string): number | undefined => {
    const byLe = rates(
      (name, l) => name === "penumbra_behavior_duration_seconds_bucket" && l["experiment"] === experiment && l["behavior"] === behavior,
      (l) => l["le"] ?? "",
    );
    const buckets = [...byLe].map(([le, rate]) => ({ le: le === "+Inf" ? Infinity : Number(le), rate })).sort((a, b) => a.le - b.le);
    const count = buckets.at(-1)?.rate ?? 0;
    if (count <= 0) return undefined;
    const rank = 0.95 * count;
    let lower = 0;
    let below = 0;
    for (const bucket of buckets) {
      if (bucket.rate >= rank) {
        if (bucket.le === Infinity) return lower;
        return lower + ((bucket.le - lower) * (rank - below)) / Math.max(bucket.rate - below, Number.EPSILON);
      }
      lower = bucket.le;
      below = bucket.rate;
    }
    return lower;
  };

  return {
    /** Reads every target's /metrics once; an unreachable target keeps its history. */
    async scrape(): Promise<number> {
      const now = Date.now();
      let reached = 0;
      await Promise.all(
        targets.map(async (target) => {
          try {
            const response = await fetch(`http://${target}/metrics`, { signal: AbortSignal.timeout(1_000) });
            const series = parseMetrics(await response.text());
            const scrapes = history.get(target) ?? [];
            scrapes.push({ at: now, series });
            while (scrapes.length > 1 && (scrapes[0]?.at ?? now) < now - windowMs) scrapes.shift();
            history.set(target, scrapes);
            reached++;
          } catch {
            // counted as not reached
          }
        }),
      );
      return reached;
    },
    /** The fleet's numbers over the window, and whether they are enough to judge. */
    verdict(minRunsPerSecond: number): DirectVerdict {
      const comparisons = rates(
        (name, l) => name === "penumbra_comparisons_total" && l["experiment"] === experiment,
        (l) => l["outcome"] ?? "",
      );
      if (comparisons.size === 0) return { judged: false, reason: "no penumbra_comparisons_total series scraped over two scrapes yet", values: {} };
      const runs = [...comparisons.values()].reduce((a, b) => a + b, 0);
      const values: Record<string, number> = { runsPerSecond: runs };
      if (runs < minRunsPerSecond) {
        return { judged: false, reason: `the fleet runs ${runs.toFixed(2)} comparisons/s, below minRunsPerSecond ${minRunsPerSecond}`, values };
      }
      values["mismatchRate"] = (comparisons.get("mismatched") ?? 0) / runs;
      const candidate = p95("candidate");
      const control = p95("control");
      if (candidate !== undefined && control !== undefined && control > 0) values["p95Ratio"] = candidate / control;
      return { judged: true, values };
    },
  };
}
