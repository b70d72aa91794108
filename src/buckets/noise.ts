/**
 * Ready-made noise rules: differences a team has decided are harmless (volatile fields, clock skew,
 * float rounding, formatting, order). Each factory returns a plain `BucketRule` with `noise: true` and
 * a default name, validated when it is built so that a typo fails where it is written.
 */
import { types } from "node:util";
import { multisetEqual } from "../compare/diff";
import type { BucketRule } from "../types/options";
import type { FieldDiff } from "../types/results";
import { pathMatcher } from "../compare/path-glob";

/**
 * Options of `noise.timestamps`.
 *
 * @example
 * ```ts
 * const options: TimestampNoiseOptions = { toleranceMs: 1000, paths: ["**.createdAtMs"] };
 * ```
 */
export interface TimestampNoiseOptions {
  /** The largest harmless difference, in milliseconds (inclusive). */
  toleranceMs: number;
  /** Globs of the paths where numbers are epoch milliseconds; elsewhere numbers are not timestamps. */
  paths?: readonly string[];
}

/**
 * Options of `noise.numbers`.
 *
 * @example
 * ```ts
 * const options: NumberNoiseOptions = { tolerance: 0.001, relative: true }; // 0.1% of the control
 * ```
 */
export interface NumberNoiseOptions {
  /** The largest harmless difference (inclusive): absolute, or a fraction of `|control|` when `relative`. */
  tolerance: number;
  /** Read `tolerance` as a fraction of the control's magnitude. @default false */
  relative?: boolean;
}

/**
 * The ready-made noise rules. Every rule is a plain object: spread it to rename it or to make it a
 * named non-noise bucket, e.g. `{ ...noise.numbers({ tolerance: 0.01 }), name: "cents" }`.
 *
 * @example
 * ```ts
 * shadow(oldQuote, newQuote, {
 *   buckets: [
 *     noise.paths("meta", "**.requestId"),
 *     noise.timestamps({ toleranceMs: 1000, paths: ["**.expiresAt"] }),
 *     { ...noise.numbers({ tolerance: 0.01 }), name: "cents" },
 *     noise.whitespace(),
 *     noise.arrayOrder("tags", "lines[*].discounts"),
 *   ],
 * });
 * ```
 */
export const noise = Object.freeze({
  /**
   * Differences at paths matching any glob (a glob also covers every path below it).
   *
   * @example
   * ```ts
   * noise.paths("meta", "lines[*].traceId"); // meta.tags[0] and lines[4].traceId are noise
   * ```
   */
  paths(...globs: string[]): BucketRule {
    const matches = compileGlobs("noise.paths", "globs", globs);
    return { name: "paths", noise: true, match: (diff: FieldDiff) => matches(diff.path) };
  },

  /**
   * Two ISO-8601 strings (dates or date-times), or two `Date`s, at most `toleranceMs` apart; two
   * numbers too, read as epoch milliseconds, but only on paths matching `paths`. Strings and Dates
   * match on any path. A `Date` against a string is a `type` difference and never matches.
   *
   * @example
   * ```ts
   * noise.timestamps({ toleranceMs: 1000, paths: ["**.createdAtMs"] });
   * // "2024-05-01T10:00:00.200Z" vs "2024-05-01T10:00:01Z": noise
   * ```
   */
  timestamps(options: TimestampNoiseOptions): BucketRule {
    const where = "noise.timestamps";
    if (!isRecord(options)) fail(where, "options", options, "an object { toleranceMs, paths? }");
    const { toleranceMs, paths } = options;
    if (!isFiniteNumber(toleranceMs) || toleranceMs < 0) fail(where, "toleranceMs", toleranceMs, "a finite number ≥ 0");
    let epochPath: ((path: string) => boolean) | undefined;
    if (paths !== undefined) {
      if (!Array.isArray(paths)) fail(where, "paths", paths, "an array of globs");
      epochPath = compileGlobs(where, "paths", paths, { allowNone: true });
    }
    const match = (diff: FieldDiff): boolean => {
      const { control, candidate } = diff;
      let a: number | undefined;
      let b: number | undefined;
      if (typeof control === "string" && typeof candidate === "string") {
        a = parseIsoTimestamp(control);
        b = parseIsoTimestamp(candidate);
      } else if (types.isDate(control) && types.isDate(candidate)) {
        a = control.getTime();
        b = candidate.getTime();
      } else if (typeof control === "number" && typeof candidate === "number" && epochPath?.(diff.path) === true) {
        a = control;
        b = candidate;
      }
      return a !== undefined && b !== undefined && within(a, b, toleranceMs);
    };
    return { name: "timestamps", noise: true, match };
  },

  /**
   * Two finite numbers at most `tolerance` apart, or at most `tolerance × |control|` apart when
   * `relative`. The boundary is inclusive and forgives the binary rounding of the subtraction, so
   * `1` vs `1.01` is within `0.01`.
   *
   * @example
   * ```ts
   * noise.numbers({ tolerance: 0.01 }); // 49.90 vs 49.91: noise
   * noise.numbers({ tolerance: 0.001, relative: true }); // 1000 vs 1001: noise
   * ```
   */
  numbers(options: NumberNoiseOptions): BucketRule {
    const where = "noise.numbers";
    if (!isRecord(options)) fail(where, "options", options, "an object { tolerance, relative? }");
    const { tolerance, relative = false } = options;
    if (!isFiniteNumber(tolerance) || tolerance < 0) fail(where, "tolerance", tolerance, "a finite number ≥ 0");
    if (typeof relative !== "boolean") fail(where, "relative", relative, "a boolean");
    const match = (diff: FieldDiff): boolean => {
      const { control, candidate } = diff;
      if (!isFiniteNumber(control) || !isFiniteNumber(candidate)) return false;
      return within(control, candidate, relative ? tolerance * Math.abs(control) : tolerance);
    };
    return { name: "numbers", noise: true, match };
  },

  /**
   * Two strings equal once every run of whitespace (spaces, tabs, newlines, Unicode spaces) is one
   * space and both ends are trimmed.
   *
   * @example
   * ```ts
   * noise.whitespace(); // "Hello,\n  world " vs "Hello, world": noise
   * ```
   */
  whitespace(): BucketRule {
    const match = (diff: FieldDiff): boolean => {
      const { control, candidate } = diff;
      return typeof control === "string" && typeof candidate === "string" && squash(control) === squash(candidate);
    };
    return { name: "whitespace", noise: true, match };
  },

  /**
   * Arrays at paths matching the globs are compared as multisets: the same elements in another order
   * are one noise diff at the array's path. Unlike `paths`, a glob names only the arrays it matches
   * (write `orders.**` to include the arrays below `orders`). The engine learns the globs through
   * `unorderedPaths(rules)`.
   *
   * @example
   * ```ts
   * noise.arrayOrder("tags", "lines[*].discounts"); // tags ["a","b"] vs ["b","a"]: one noise diff at `tags`
   * ```
   */
  arrayOrder(...globs: string[]): BucketRule {
    const unordered = compileGlobs("noise.arrayOrder", "globs", globs, { descendants: false });
    const match = (diff: FieldDiff): boolean => {
      const { control, candidate } = diff;
      if (diff.kind !== "changed" || !Array.isArray(control) || !Array.isArray(candidate)) return false;
      if (!unordered(diff.path)) return false;
      // Arrays nested in the elements are compared with the same globs, as the engine's hook did:
      // inside `multisetEqual` paths start at the element (`[0].lines`), so they are re-rooted here.
      const base = diff.path;
      return multisetEqual(control, candidate, { unordered: (inner) => unordered(base + inner) });
    };
    UNORDERED.set(match, unordered);
    return { name: "array-order", noise: true, match };
  },
});

/**
 * Combines the `noise.arrayOrder` rules among `rules` into the hook the diff engine takes as
 * `CompareOptions.unordered`; `undefined` when there are none, so the engine builds no path strings.
 *
 * The globs are found through the rule's `match` function (a module-private `WeakMap` keyed by it), so
 * a spread and renamed rule (`{ ...noise.arrayOrder("tags"), name: "tag-order" }`) still counts, and a
 * rule whose `match` was replaced does not.
 *
 * @example
 * ```ts
 * const rules = [noise.arrayOrder("tags")];
 * diff(control, candidate, { unordered: unorderedPaths(rules) }); // tags reordered: one diff at "tags"
 * ```
 */
export function unorderedPaths(rules: readonly BucketRule[]): ((path: string) => boolean) | undefined {
  const matchers: Array<(path: string) => boolean> = [];
  for (const rule of rules) {
    const match: unknown = rule?.match;
    if (typeof match !== "function") continue;
    const matcher = UNORDERED.get(match);
    if (matcher !== undefined && !matchers.includes(matcher)) matchers.push(matcher);
  }
  if (matchers.length === 0) return undefined;
  if (matchers.length === 1) return matchers[0];
  return (path: string) => matchers.some((matcher) => matcher(path));
}

/**
 * Reads an ISO-8601 date (`2024-05-01`) or date-time (`2024-05-01T10:00`, seconds, a fraction and a
 * zone optional: `Z`, `+02:00`, `+0200`, `+02`; `T` or one space between date and time) as epoch
 * milliseconds, fractions below the millisecond kept. A date-time without a zone is read as UTC, so a
 * verdict never depends on the server's time zone. Anything else (`"12"`, `"2024"`, `"2024-13-01"`,
 * `"2024-02-30"`, `"May 1, 2024"`) is `undefined`.
 *
 * @example
 * ```ts
 * parseIsoTimestamp("1970-01-01T00:00:01.5+00:00"); // 1500
 * parseIsoTimestamp("2024"); // undefined
 * ```
 */
export function parseIsoTimestamp(text: string): number | undefined {
  const m = ISO.exec(text);
  if (m === null) return undefined;
  const [, y, mo, d, h, mi, s, frac, zone, sign, oh, om] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  // setUTCFullYear, not Date.UTC: Date.UTC maps years 0–99 to 1900–1999.
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  // The regex allows day 31 in every month; a rolled-over date (Feb 30 → Mar 1) is not a date.
  if (date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) return undefined;
  let ms = date.getTime();
  if (h !== undefined) ms += (Number(h) * 60 + Number(mi)) * 60_000 + Number(s ?? 0) * 1000;
  if (frac !== undefined) ms += Number(`0.${frac}`) * 1000;
  if (zone !== undefined && zone !== "Z" && zone !== "z") {
    const offset = (Number(oh) * 60 + Number(om ?? 0)) * 60_000;
    ms -= sign === "-" ? -offset : offset;
  }
  return ms;
}

// ---------------------------------------------------------------------------------------------------

const ISO = new RegExp(
  "^(\\d{4})-(0[1-9]|1[0-2])-(0[1-9]|[12]\\d|3[01])" +
    "(?:[T ]([01]\\d|2[0-3]):([0-5]\\d)(?::([0-5]\\d)(?:\\.(\\d{1,9}))?)?" +
    "(Z|z|([+-])([01]\\d|2[0-3])(?::?([0-5]\\d))?)?)?$",
);

/** `match` functions of arrayOrder rules → their path matcher: read by `unorderedPaths`. */
const UNORDERED = new WeakMap<object, (path: string) => boolean>();

/**
 * `|a − b| ≤ tolerance`, forgiving a few units in the last place of the operands: a subtraction of
 * decimals written in binary is off by that much (`1.01 − 1` is `0.010000000000000009`).
 */
function within(a: number, b: number, tolerance: number): boolean {
  const gap = Math.abs(a - b);
  return gap <= tolerance || gap - tolerance <= 4 * Number.EPSILON * Math.max(Math.abs(a), Math.abs(b));
}

function squash(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Validates a rule's globs (naming the rule and the option in the error) and compiles them. */
function compileGlobs(
  where: string,
  option: string,
  globs: readonly unknown[],
  settings: { allowNone?: boolean; descendants?: boolean } = {},
): (path: string) => boolean {
  if (globs.length === 0 && settings.allowNone !== true) fail(where, option, globs, "at least one glob");
  globs.forEach((glob, i) => {
    if (typeof glob !== "string") fail(where, `${option}[${i}]`, glob, "a glob string");
  });
  try {
    return pathMatcher(globs as string[], { descendants: settings.descendants ?? true });
  } catch (error) {
    throw new TypeError(`penumbra: ${where} option '${option}': ${(error as Error).message.replace(/^penumbra: /, "")}`);
  }
}

function fail(where: string, option: string, value: unknown, expected: string): never {
  throw new TypeError(`penumbra: ${where} option '${option}' must be ${expected}, got ${show(value)}`);
}

function show(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean" || value == null) return String(value);
  if (Array.isArray(value)) return `an array of ${value.length}`;
  return typeof value;
}
