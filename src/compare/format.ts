/**
 * The one-line `summary` of a mismatch (what a person reads in a log line or an alert) and the value
 * rendering it uses, re-exported from `render.ts`.
 */
import type { FieldDiff } from "../types/results";
import { errorLabel, formatValue, truncate } from "./render";
import { displayPath } from "./path";
import { isErrorLike } from "./safe-read";

export { errorLabel, formatValue, truncate } from "./render";

/** The path the engine uses for a difference in outcome (one side threw). @internal @example `{ path: ERROR_PATH, kind: "changed", control: "returned 1", candidate: "threw Error: x" }` */
export const ERROR_PATH = "(error)";
/** The path the engine uses for a difference in `statusOf`. @internal @example `{ path: STATUS_PATH, kind: "changed", control: 200, candidate: 500 }` */
export const STATUS_PATH = "(status)";

const MISSING = "(missing)";
const DEFAULT_MAX_DIFFS = 10;
// A path is built from the user's keys: a 200 000-character Map key must not make a 200 kB summary.
const MAX_PATH_LENGTH = 80;

/**
 * Options of `summarize`.
 *
 * @example
 * ```ts
 * const options: SummaryOptions = { maxDiffs: 3 };
 * ```
 */
export interface SummaryOptions {
  /** How many diffs to list before ending with `, +N more`; default 10. */
  maxDiffs?: number;
}

/**
 * Lists the non-noise diffs as `path=<control> vs <candidate>` joined by `, `: values through
 * `formatValue` (JSON, cut with `…`), an absent side as `(missing)`, the root as `(root)`, and beyond
 * `maxDiffs` (default 10) ended with `, +N more`. A diff at `(status)` reads `status=200 vs 500`; a
 * diff at `(error)` holds two outcome descriptions (see `describeOutcome`) and reads
 * `threw TypeError: boom vs returned {"total":1}`. Returns `""` when every diff is noise.
 *
 * @example
 * ```ts
 * summarize([
 *   { path: "total", kind: "changed", control: 49.9, candidate: 51.4 },
 *   { path: "taxRate", kind: "changed", control: 0.08, candidate: 0.11 },
 * ]); // "total=49.9 vs 51.4, taxRate=0.08 vs 0.11"
 * ```
 */
export function summarize(diffs: readonly FieldDiff[], options?: SummaryOptions): string {
  const requested = options?.maxDiffs ?? DEFAULT_MAX_DIFFS;
  const maxDiffs = Number.isFinite(requested) ? Math.max(0, Math.floor(requested)) : DEFAULT_MAX_DIFFS;
  const parts: string[] = [];
  // A line already said adds nothing: with `statusOf: (r) => r.status`, the `(status)` difference and
  // the value's own `status` field read the same (`status=200 vs 500`) and are listed once.
  const said = new Set<string>();
  let hidden = 0;
  for (const diff of diffs) {
    if (diff.noise === true) continue;
    if (parts.length >= maxDiffs) {
      hidden++;
      continue;
    }
    const line = describeDiff(diff);
    if (said.has(line)) continue;
    said.add(line);
    parts.push(line);
  }
  if (hidden > 0) parts.push(`+${hidden} more`);
  return parts.join(", ");
}

function describeDiff(diff: FieldDiff): string {
  const hasControl = diff.kind !== "added" && "control" in diff;
  const hasCandidate = diff.kind !== "removed" && "candidate" in diff;
  if (diff.path === ERROR_PATH) {
    return `${hasControl ? asDescription(diff.control) : MISSING} vs ${hasCandidate ? asDescription(diff.candidate) : MISSING}`;
  }
  const control = hasControl ? formatValue(diff.control) : MISSING;
  const candidate = hasCandidate ? formatValue(diff.candidate) : MISSING;
  const label = diff.path === STATUS_PATH ? "status" : truncate(displayPath(diff.path), MAX_PATH_LENGTH);
  return `${label}=${control} vs ${candidate}`;
}

function asDescription(value: unknown): string {
  // The engine stores ready descriptions here; anything else is rendered rather than trusted.
  return typeof value === "string" ? value : formatValue(value);
}

/**
 * Describes how a behaviour ended, for an `(error)` diff: `threw TypeError: boom` for an Error
 * (`Name: message`, cut at 60 characters), `threw <value>` for anything else thrown
 * (`threw undefined`, `threw "text"`), `returned <value>` for a value.
 *
 * @example
 * ```ts
 * describeOutcome(true, new TypeError("boom")); // "threw TypeError: boom"
 * describeOutcome(false, { total: 1 }); // 'returned {"total":1}'
 * ```
 */
export function describeOutcome(threw: boolean, valueOrError: unknown): string {
  if (!threw) return `returned ${formatValue(valueOrError)}`;
  if (isErrorLike(valueOrError)) return `threw ${truncate(errorLabel(valueOrError), 60)}`;
  return `threw ${formatValue(valueOrError)}`;
}
