/**
 * The terminal rendering of a report: one block per experiment and candidate, aligned columns,
 * plain ASCII (it ends up pasted into tickets and chat, where box-drawing characters break).
 */
import type { ScorecardSummary } from "../operate/scorecard";
import type { ReportData } from "./report";
import { printable } from "./escape";
import { renderSegments } from "./segments";


/** Reasons listed per candidate; the rest are summed on one line. */
const TABLE_REASONS = 10;
/** An example longer than this is cut: the table must stay one line per reason. */
const EXAMPLE_CHARS = 70;
/** A reason (a diff's path) longer than this is cut, for the same reason. */
const REASON_CHARS = 60;

/**
 * Formats a share as a percentage with one decimal: `0.9523` → `95.2%`.
 *
 * @example
 * ```ts
 * percent(0.25); // "25.0%"
 * ```
 */
export function percent(share: number): string {
  return `${(share * 100).toFixed(1)}%`;
}

/**
 * Formats milliseconds with three significant figures: `0.0123 ms`, `12.3 ms`, `1234 ms`.
 *
 * @example
 * ```ts
 * ms(12.345); // "12.3"
 * ```
 */
export function ms(value: number): string {
  if (value === 0) return "0";
  if (value >= 100) return value.toFixed(0);
  return value.toPrecision(3);
}

/**
 * The whole report as text: a header line, then one block per experiment and candidate.
 *
 * @example
 * ```ts
 * process.stdout.write(renderTable(await collectReport("results.jsonl", {})));
 * ```
 */
export function renderTable(data: ReportData): string {
  const lines: string[] = [];
  const span =
    data.firstStartedAt === undefined || data.lastStartedAt === undefined
      ? ""
      : `, ${new Date(data.firstStartedAt).toISOString()} .. ${new Date(data.lastStartedAt).toISOString()}`;
  const malformed = data.malformedCount === 0 ? "" : `, ${data.malformedCount} malformed line${data.malformedCount === 1 ? "" : "s"}`;
  const filter = data.experiment === undefined ? "" : ` (experiment ${printable(data.experiment)}; ${data.filtered} other results left out)`;
  lines.push(`penumbra report: ${printable(data.file)}: ${data.results} result${data.results === 1 ? "" : "s"}${malformed}${span}${filter}`);
  for (const { summary } of data.candidates) {
    lines.push("", ...renderSummary(summary, data.segments));
  }
  return `${lines.join("\n")}\n`;
}

/**
 * One candidate's block.
 *
 * @example
 * ```ts
 * console.log(renderSummary(scorecard.summary("checkout-total")!).join("\n"));
 * ```
 */
export function renderSummary(s: ScorecardSummary, segments: readonly string[] = []): string[] {
  const lines: string[] = [];
  lines.push(`${printable(s.experiment)} / ${printable(s.candidate)}`);
  lines.push(`  runs ${s.runs}   skipped ${s.skipped}`);
  lines.push(
    `  status match ${percent(s.statusMatchRate)}   field match ${percent(s.fieldMatchRate)}   ` +
      `errors ${percent(s.errorRate)}   timeouts ${percent(s.timeoutRate)}   leaks ${percent(s.leakRate)}`,
  );
  const rows: string[][] = [
    ["latency (ms)", "p50", "p95", "p99"],
    ["control", ms(s.latency.control.p50), ms(s.latency.control.p95), ms(s.latency.control.p99)],
    ["candidate", ms(s.latency.candidate.p50), ms(s.latency.candidate.p95), ms(s.latency.candidate.p99)],
  ];
  for (const row of align(rows, [false, true, true, true])) lines.push(`  ${row}`);
  lines.push(`  p95 ratio (candidate / control) ${s.latency.p95Ratio.toFixed(2)}x`);
  // Where before why: the segment a team owns, then the reasons (buckets) to fix there.
  // Context values and keys come from the file: escaped like every other text from it.
  lines.push(...renderSegments(s, segments).map(printable));
  if (s.reasons.length === 0) {
    lines.push("  no mismatches");
    return lines;
  }
  const listed = s.reasons.slice(0, TABLE_REASONS);
  const reasonRows: string[][] = [["reason", "count", "share", "example"]];
  for (const r of listed) reasonRows.push([cut(r.reason, REASON_CHARS), String(r.count), percent(r.share), cut(r.example, EXAMPLE_CHARS)]);
  for (const row of align(reasonRows, [false, true, true, false])) lines.push(`  ${row}`);
  const rest = s.reasons.slice(TABLE_REASONS);
  if (rest.length > 0) lines.push(`  … ${rest.length} more reason${rest.length === 1 ? "" : "s"} (${rest.reduce((n, r) => n + r.count, 0)} counts)`);
  return lines;
}

/** One line of at most `max` characters, escaped for the terminal (cut before escaping, so an escape is never split). */
function cut(text: string, max: number): string {
  const oneLine = text.replace(/[ \t\n\r]+/g, " ");
  return printable(oneLine.length > max ? `${oneLine.slice(0, max - 1)}…` : oneLine);
}

/** Pads cells into columns; numeric columns are right-aligned, the last column is not padded. */
function align(rows: string[][], right: boolean[]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) =>
    row
      .map((cell, i) => {
        if (i === row.length - 1 && right[i] !== true) return cell;
        const width = widths[i] ?? 0;
        return right[i] === true ? cell.padStart(width) : cell.padEnd(width);
      })
      .join("   ")
      .trimEnd(),
  );
}
