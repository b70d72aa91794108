/**
 * The one-line `summary` of a mismatch (what a person reads in a log line or an alert) and the value
 * rendering it uses, re-exported from `render.ts`.
 */
import type { FieldDiff } from "../types/results";
import { types } from "node:util";
import { diff as diffValues } from "./diff";
import { deepEqual } from "./equal";
import { errorLabel, escapeLine, formatValue, truncate, truncateMiddle } from "./render";
import { displayPath } from "./path";
import { errorMessageOf, isErrorLike, safePrototype, UNREADABLE } from "./safe-read";

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
  // With `statusOf: (r) => r.status`, the `(status)` difference and the value's own `status` field
  // read the same (`status=200 vs 500`) and are listed once. Other lines that read alike (paths cut
  // at the same place, Set members that render alike) are distinct differences and all listed.
  let statusLine: string | undefined;
  let hidden = 0;
  for (const diff of diffs) {
    if (diff.noise === true) continue;
    if (parts.length >= maxDiffs) {
      hidden++;
      continue;
    }
    const line = describeDiff(diff);
    if (diff.path === STATUS_PATH) statusLine = line;
    else if (diff.path === "status" && line === statusLine) continue;
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
  const label = diff.path === STATUS_PATH ? "status" : pathLabel(diff.path);
  return `${label}=${describeSides(diff)}`;
}

/**
 * A path as a summary prints it: `(root)` for `""`, cut to 80 characters, escaped to one line.
 *
 * @internal
 * @example
 * ```ts
 * pathLabel(""); // "(root)"
 * ```
 */
export function pathLabel(path: string): string {
  return escapeLine(truncateMiddle(displayPath(path), MAX_PATH_LENGTH));
}

/**
 * The `<control> vs <candidate>` half of a summary line: `(missing)` for an absent side, and why the
 * two differ in parentheses when they render alike (`"2024-05-01T00:00:00.000Z" vs
 * "2024-05-01T00:00:00.000Z" (Date vs string)`).
 *
 * @internal
 * @example
 * ```ts
 * describeSides({ path: "total", kind: "changed", control: 49.9, candidate: 51.4 }); // "49.9 vs 51.4"
 * ```
 */
export function describeSides(diff: FieldDiff): string {
  const hasControl = diff.kind !== "added" && "control" in diff;
  const hasCandidate = diff.kind !== "removed" && "candidate" in diff;
  return sides(hasControl, diff.control, hasCandidate, diff.candidate, 0);
}

/**
 * `<control> vs <candidate>`; when both render alike although they differ (a Date and its ISO
 * string, two long strings cut at the same place, two classes of the same name), followed by why
 * they differ in parentheses, so that a line never reads `X vs X`.
 */
function sides(hasControl: boolean, control: unknown, hasCandidate: boolean, candidate: unknown, depth: number): string {
  const left = hasControl ? formatValue(control) : MISSING;
  const right = hasCandidate ? formatValue(candidate) : MISSING;
  if (left !== right || !hasControl || !hasCandidate) return `${left} vs ${right}`;
  return `${left} vs ${right} (${whyDifferent(control, candidate, depth)})`;
}

/**
 * Why two values that differ although their renderings read alike differ, for a line that holds
 * ready-made descriptions (the engine's `(error)` line): `different prototypes, both PaymentError`,
 * `message from character 86: …"… card 1234" vs …"… card 9876"`. Never throws.
 *
 * @internal
 * @example
 * ```ts
 * explainAlike(new Date(0), new Date(0).toISOString()); // "Date vs string"
 * ```
 */
export function explainAlike(control: unknown, candidate: unknown): string {
  return whyDifferent(control, candidate, 0);
}

/** How many times an explanation may reach into the values for the first inner difference. */
const MAX_EXPLAIN_DEPTH = 3;
/** Characters of shared text kept before the first differing character of two strings. */
const STRING_CONTEXT = 10;

/** Why two values that render alike differ: their types, their first differing position, or identity. */
function whyDifferent(control: unknown, candidate: unknown, depth: number): string {
  try {
    // A diff made by hand or read back from a file (JSON has no Date, Set or function) may hold two
    // equal sides: say so rather than invent a difference.
    if (deepEqual(control, candidate)) return "equal values";
    const controlType = typeName(control);
    const candidateType = typeName(candidate);
    if (controlType !== candidateType) return `${controlType} vs ${candidateType}`;
    if (typeof control === "string" && typeof candidate === "string") return stringDifference(control, candidate);
    if (typeof control === "bigint" && typeof candidate === "bigint") return digitDifference(String(control), String(candidate));
    if (typeof control === "function") return "different functions";
    if (typeof control === "symbol") return "different symbols";
    if (typeof control !== "object" || control === null || candidate === null) return RENDERED_ALIKE;
    if (safePrototype(control) !== safePrototype(candidate as object)) return `different prototypes, both ${controlType}`;
    const binary = binaryDifference(control, candidate as object);
    if (binary !== undefined) return binary;
    const leaf = leafDifference(control, candidate as object, depth);
    if (leaf !== undefined) return leaf;
    if (depth >= MAX_EXPLAIN_DEPTH) return RENDERED_ALIKE;
    const first = diffValues(control, candidate)[0];
    // A difference at the value itself is one of the leaves above; walking back into it says nothing.
    if (first === undefined || first.path === "") return RENDERED_ALIKE;
    const hasControl = first.kind !== "added" && "control" in first;
    const hasCandidate = first.kind !== "removed" && "candidate" in first;
    const path = pathLabel(first.path);
    return `at ${path}: ${sides(hasControl, first.control, hasCandidate, first.candidate, depth + 1)}`;
  } catch {
    // A getter or trap that throws while looking closer: the values still differ.
    return RENDERED_ALIKE;
  }
}

const RENDERED_ALIKE = "different values that render alike";

/** `string`, `Date`, `Money`, `null-prototype object`: what a value is, for `Date vs string`. */
function typeName(value: unknown): string {
  if (value === null) return "null";
  if (typeof value !== "object") return typeof value;
  const proto = safePrototype(value);
  if (proto === UNREADABLE) return "object";
  if (proto === null) return "null-prototype object";
  try {
    const ctor: unknown = Object.getOwnPropertyDescriptor(proto, "constructor")?.value;
    const name: unknown = typeof ctor === "function" ? Object.getOwnPropertyDescriptor(ctor, "name")?.value : undefined;
    return typeof name === "string" && name !== "" ? escapeLine(truncate(name, 40)) : "object";
  } catch {
    return "object";
  }
}

/** `from character 103: …"xxxxxxx<b>old</b>" vs …"xxxxxxx<b>new</b>"`: ten shared characters, then the rest, cut. */
function stringDifference(control: string, candidate: string): string {
  const at = sharedPrefixLength(control, candidate);
  const from = Math.max(0, at - STRING_CONTEXT);
  const lead = from > 0 ? "…" : "";
  return `from character ${at}: ${lead}${formatValue(control.slice(from), 40)} vs ${lead}${formatValue(candidate.slice(from), 40)}`;
}

/** How many leading UTF-16 units two strings share. */
function sharedPrefixLength(a: string, b: string): number {
  let at = 0;
  while (at < a.length && at < b.length && a.charCodeAt(at) === b.charCodeAt(at)) at++;
  return at;
}

/** `101 digits vs 102 digits`, or `from digit 422: …1234n vs …1244n` for two BigInts of one length. */
function digitDifference(control: string, candidate: string): string {
  if (control.length !== candidate.length) return `${control.length} digits vs ${candidate.length} digits`;
  const at = sharedPrefixLength(control, candidate);
  const from = Math.max(0, at - STRING_CONTEXT);
  const lead = from > 0 ? "…" : "";
  const show = (digits: string): string => `${lead}${truncate(digits.slice(from), 30)}n`;
  return `from digit ${at + 1}: ${show(control)} vs ${show(candidate)}`;
}

/** Where two errors' messages, two RegExps' sources or two boxed primitives differ; undefined for other values. */
function leafDifference(control: object, candidate: object, depth: number): string | undefined {
  if (isErrorLike(control) && isErrorLike(candidate)) {
    const a = errorMessageOf(control);
    const b = errorMessageOf(candidate);
    if (typeof a === "string" && typeof b === "string" && a !== b) return `message ${stringDifference(a, b)}`;
    if (a === UNREADABLE || b === UNREADABLE) return "unreadable messages are never equal";
    return undefined;
  }
  if (types.isRegExp(control) && types.isRegExp(candidate)) {
    return stringDifference(RegExp.prototype.toString.call(control), RegExp.prototype.toString.call(candidate));
  }
  if (types.isBoxedPrimitive(control) && types.isBoxedPrimitive(candidate)) {
    return whyDifferent(unboxed(control), unboxed(candidate), depth + 1);
  }
  return undefined;
}

function unboxed(value: object): unknown {
  if (types.isNumberObject(value)) return Number.prototype.valueOf.call(value);
  if (types.isStringObject(value)) return String.prototype.valueOf.call(value);
  if (types.isBooleanObject(value)) return Boolean.prototype.valueOf.call(value);
  if (types.isBigIntObject(value)) return BigInt.prototype.valueOf.call(value);
  return Symbol.prototype.valueOf.call(value);
}

/** The first differing element of two typed arrays, or byte of two ArrayBuffers / DataViews; undefined for other values. */
function binaryDifference(control: object, candidate: object): string | undefined {
  if (types.isTypedArray(control) && types.isTypedArray(candidate)) {
    const a = control as unknown as ArrayLike<number | bigint>;
    const b = candidate as unknown as ArrayLike<number | bigint>;
    const n = Math.min(a.length, b.length);
    for (let i = 0; i < n; i++) {
      const x = a[i];
      const y = b[i];
      if (x !== y && (x === x || y === y)) return `from index ${i}: ${formatValue(x)} vs ${formatValue(y)}`;
    }
    return undefined;
  }
  const a = bytesOf(control);
  const b = bytesOf(candidate);
  if (a === undefined || b === undefined) return undefined;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return `from byte ${i}: ${a[i]} vs ${b[i]}`;
  }
  return undefined;
}

function bytesOf(value: object): Uint8Array | undefined {
  if (types.isAnyArrayBuffer(value)) return new Uint8Array(value);
  if (types.isDataView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  return undefined;
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
  if (isErrorLike(valueOrError)) return `threw ${truncate(escapeLine(errorLabel(valueOrError)), 60)}`;
  return `threw ${formatValue(valueOrError)}`;
}
