/**
 * The segment breakdown of `penumbra report --segments region,endpoint`: a terminal table and, for
 * the HTML page, a bar chart per key of the mismatch rate of each value against the overall rate.
 * The chart is inline SVG drawn here, not by script: it needs no canvas, reads the same with
 * scripts off, and its bars can be checked by their geometry.
 */
import type { ScorecardSummary } from "../operate/scorecard";
import { escapeHtml } from "./escape";

type SegmentRow = ScorecardSummary["segments"][number];

/** A value with fewer runs is listed last and drawn faded: its rate is an anecdote (see the Scorecard). */
const FEW_RUNS = 10;
/** Rows the terminal table lists per candidate; the rest are counted on one line. */
const TABLE_ROWS = 20;
/** Reasons named per row in the terminal. */
const ROW_REASONS = 3;

/**
 * A value's reasons for display: the named ones (buckets, paths, errors) before `effects:*`, which
 * mostly repeat a value difference as the charge or the email that carries it; counts unchanged.
 */
function causesFirst(reasons: SegmentRow["reasons"]): SegmentRow["reasons"] {
  const effect = (r: { reason: string }): number => Number(r.reason.startsWith("effects:"));
  return [...reasons].sort((a, b) => effect(a) - effect(b));
}

/**
 * The candidate's overall mismatch rate, the rate `lift` is measured against.
 *
 * @example
 * ```ts
 * overallMismatchRate(summary); // 0.072
 * ```
 */
export function overallMismatchRate(s: ScorecardSummary): number {
  return s.runs === 0 ? 0 : 1 - s.fieldMatchRate;
}

/**
 * The terminal lines of one candidate's segments: a heading with the overall rate, then one row per
 * value (as the Scorecard sorts them: highest lift first, fewer than 10 runs last).
 *
 * @example
 * ```ts
 * console.log(renderSegments(scorecard.summary("checkout-total")!, ["region"]).join("\n"));
 * ```
 */
export function renderSegments(s: ScorecardSummary, keys: readonly string[]): string[] {
  if (keys.length === 0) return [];
  const overall = overallMismatchRate(s);
  const lines = [`  where the mismatches cluster (by ${keys.join(", ")}; overall mismatch rate ${pct(overall)} of ${s.runs} runs)`];
  if (s.segments.length === 0) {
    lines.push("  no runs to break down");
    return lines;
  }
  const rows: string[][] = [["key", "value", "runs", "mismatch", "lift", "top reasons"]];
  for (const r of s.segments.slice(0, TABLE_ROWS)) {
    rows.push([
      r.key,
      cut(r.value, 30),
      String(r.runs),
      pct(r.mismatchRate),
      r.runs < FEW_RUNS ? `${lift(r.lift)}*` : lift(r.lift),
      causesFirst(r.reasons)
        .slice(0, ROW_REASONS)
        .map((x) => `${x.reason} (${x.count})`)
        .join(", ") || "-",
    ]);
  }
  for (const row of alignColumns(rows, [false, false, true, true, true, false])) lines.push(`  ${row}`);
  const rest = s.segments.length - Math.min(TABLE_ROWS, s.segments.length);
  if (rest > 0) lines.push(`  … ${rest} more value${rest === 1 ? "" : "s"}`);
  if (s.segments.some((r) => r.runs < FEW_RUNS)) lines.push(`  * fewer than ${FEW_RUNS} runs: listed last, the rate is an anecdote`);
  if (overall === 0) lines.push("  no run mismatched: every lift is 0");
  return lines;
}

/**
 * The HTML of one candidate's segments: per key an SVG bar chart (one bar per value, its mismatch
 * rate; a dashed line at the overall rate) and a table with runs, rate, lift and top reasons.
 *
 * @example
 * ```ts
 * const html = segmentsHtml(summary, ["region", "endpoint"]);
 * ```
 */
export function segmentsHtml(s: ScorecardSummary, keys: readonly string[]): string {
  if (keys.length === 0) return "";
  const overall = overallMismatchRate(s);
  const charts = keys
    .map((key) => {
      const rows = s.segments.filter((r) => r.key === key);
      return `<figure class="segment-chart" data-key="${escapeHtml(key)}" data-overall="${overall}">
<figcaption>Mismatch rate by <code>${escapeHtml(key)}</code> (dashed: overall ${pct(overall)})</figcaption>
${rows.length === 0 ? '<p class="empty">No runs.</p>' : barChart(rows, overall)}
</figure>`;
    })
    .join("\n");
  const table = `<table class="segments"><thead><tr><th>key</th><th>value</th><th class="num">runs</th><th class="num">mismatch rate</th><th class="num">lift</th><th>top reasons</th></tr></thead><tbody>
${s.segments
  .map(
    (r) =>
      `<tr${r.runs < FEW_RUNS ? ' class="few"' : ""}><td><code>${escapeHtml(r.key)}</code></td><td>${escapeHtml(r.value)}</td><td class="num">${r.runs}</td><td class="num">${pct(
        r.mismatchRate,
      )}</td><td class="num">${lift(r.lift)}</td><td>${causesFirst(r.reasons).map((x) => `<code>${escapeHtml(x.reason)}</code> ${x.count}`).join(", ") || "-"}</td></tr>`,
  )
  .join("\n")}
</tbody></table>`;
  const note =
    overall === 0
      ? '<p class="empty">No run mismatched: every lift is 0.</p>'
      : `<p class="meta">Lift = the value's mismatch rate ÷ the overall ${pct(overall)}; values with fewer than ${FEW_RUNS} runs are listed last and drawn faded.</p>`;
  return `<h3>Where the mismatches cluster</h3>
${note}
${charts}
${table}`;
}

/** Chart geometry in SVG user units. */
const LABEL_W = 150;
const BAR_W = 520;
const TEXT_W = 190;
const ROW_H = 22;
const TOP = 8;
const AXIS_H = 26;

function barChart(rows: readonly SegmentRow[], overall: number): string {
  const max = Math.max(overall, ...rows.map((r) => r.mismatchRate));
  // A scale with headroom; 1 % when nothing mismatched, so an all-zero chart still has an axis.
  const scale = max === 0 ? 0.01 : Math.min(1, max * 1.1);
  const x = (rate: number): number => LABEL_W + (rate / scale) * BAR_W;
  const height = TOP + rows.length * ROW_H + AXIS_H;
  // Labels start past the dashed line too, so it never runs through their text.
  const overallWidth = (overall / scale) * BAR_W;
  const bars = rows
    .map((r, i) => {
      const y = TOP + i * ROW_H;
      const width = (r.mismatchRate / scale) * BAR_W;
      const over = r.mismatchRate > overall;
      const fill = over ? "#d62728" : "#1f77b4";
      return `<g class="segment" data-value="${escapeHtml(r.value)}" data-rate="${r.mismatchRate}" data-runs="${r.runs}"${r.runs < FEW_RUNS ? ' opacity="0.45"' : ""}>
<title>${escapeHtml(`${r.value}: ${pct(r.mismatchRate)} of ${r.runs} runs, lift ${lift(r.lift)}`)}</title>
<text x="${LABEL_W - 8}" y="${y + 15}" text-anchor="end">${escapeHtml(cut(r.value, 22))}</text>
<rect class="bar" x="${LABEL_W}" y="${y + 3}" width="${round(width)}" height="${ROW_H - 6}" fill="${fill}"></rect>
<text x="${round(LABEL_W + Math.max(width, overallWidth) + 6)}" y="${y + 15}">${pct(r.mismatchRate)} · ${r.runs} runs · lift ${lift(r.lift)}</text>
</g>`;
    })
    .join("\n");
  const ox = round(x(overall));
  const axisY = TOP + rows.length * ROW_H;
  return `<svg class="segment-bars" role="img" aria-label="mismatch rate by value" viewBox="0 0 ${LABEL_W + BAR_W + TEXT_W} ${height}" width="100%" preserveAspectRatio="xMinYMin meet" font-size="12" font-family="system-ui, sans-serif">
${bars}
<line class="axis" x1="${LABEL_W}" y1="${axisY}" x2="${LABEL_W + BAR_W}" y2="${axisY}" stroke="#98a0b3"></line>
<text x="${LABEL_W}" y="${axisY + 16}" fill="#5b6478">0%</text>
<text x="${LABEL_W + BAR_W}" y="${axisY + 16}" text-anchor="end" fill="#5b6478">${pct(scale)}</text>
<line class="overall" data-rate="${overall}" x1="${ox}" y1="${TOP - 4}" x2="${ox}" y2="${axisY}" stroke="#1d2330" stroke-width="1.5" stroke-dasharray="5 4"></line>
<text x="${ox}" y="${axisY + 16}" text-anchor="middle" fill="#1d2330">overall ${pct(overall)}</text>
</svg>`;
}

function pct(share: number): string {
  return `${(share * 100).toFixed(1)}%`;
}

function lift(value: number): string {
  return `${value.toFixed(2)}x`;
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

function cut(text: string, chars: number): string {
  const oneLine = text.replace(/\s+/g, " ");
  return oneLine.length > chars ? `${oneLine.slice(0, chars - 1)}…` : oneLine;
}

/** Pads cells into columns; numeric columns are right-aligned, the last column is not padded. */
function alignColumns(rows: string[][], right: boolean[]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) =>
    row
      .map((cell, i) => {
        if (i === row.length - 1) return cell;
        const width = widths[i] ?? 0;
        return right[i] === true ? cell.padStart(width) : cell.padEnd(width);
      })
      .join("   ")
      .trimEnd(),
  );
}
