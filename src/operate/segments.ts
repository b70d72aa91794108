/**
 * Segments: where the mismatches cluster. For each configured key of `result.context` (a region, an
 * endpoint, a customer tier), bounded counters per value: runs, mismatched runs and the reasons
 * seen there. A slice keeps at most {@link SEGMENT_VALUES} values per key and counts the rest as
 * `(other)`, so memory stays fixed whatever the key's cardinality (a user id by mistake included).
 * See `docs/segments.md` for how to choose keys and read lift.
 */
/**
 * Values a key keeps (per slice, and in a summary); the rest are folded into `(other)`.
 *
 * @internal
 * @example
 * ```ts
 * const named = summary.segments.filter((s) => s.key === "region" && s.value !== OTHER_VALUE);
 * named.length <= SEGMENT_VALUES; // true
 * ```
 */
export const SEGMENT_VALUES = 20;
/**
 * A summary's label for the values past the cap.
 *
 * @internal
 * @example
 * ```ts
 * summary.segments.find((s) => s.value === OTHER_VALUE)?.runs;
 * ```
 */
export const OTHER_VALUE = "(other)";
/**
 * A summary's label for runs whose context lacks the key (or holds `undefined` there).
 *
 * @internal
 * @example
 * ```ts
 * summary.segments.find((s) => s.key === "region" && s.value === NONE_VALUE)?.runs;
 * ```
 */
export const NONE_VALUE = "(none)";
/**
 * A summary's label for a context that threw when the key was read (a getter, a Proxy trap).
 *
 * @internal
 * @example
 * ```ts
 * summary.segments.some((s) => s.value === UNREADABLE_VALUE); // a hostile context was seen
 * ```
 */
export const UNREADABLE_VALUE = "(unreadable)";
/** Runs under which a value is listed after every better-supported one: its rate is anecdote. */
export const MIN_SEGMENT_RUNS = 10;
/** Reasons listed per value in a summary. */
const LISTED_REASONS = 5;
/** Distinct reasons a value keeps per slice; the rest count as "other" (once per run). */
const REASON_CAP = 10;
/** The reason that collects what a full value could not keep (the same word the window uses). */
const OTHER = "other";
/** A longer value is cut: a segment label is a name, not a payload. */
const VALUE_CHARS = 100;

/*
 * Internal slot names: a real value is stored as "v:" + value, so no user value (not even the
 * string "(none)") can collide with the two reserved slots or escape the cap.
 */
const NONE_SLOT = "n";
const OTHER_SLOT = "o";

/** One value's counters. */
interface ValueCounts {
  runs: number;
  mismatches: number;
  reasons: Map<string, number>;
}

/**
 * Where one run was counted for one key: its slot and the reason keys (after capping). A slice
 * decides; the live sum applies the same decision, so live always equals the sum of its slices.
 *
 * @internal
 * @example
 * ```ts
 * const placed: Placement[] = slice.add(values, mismatched, reasons);
 * live.apply(placed, mismatched);
 * ```
 */
export interface Placement {
  slot: string;
  reasons: readonly string[];
}

/**
 * One row of `ScorecardSummary.segments`.
 *
 * @example
 * ```ts
 * const top: SegmentRow | undefined = scorecard.summary("checkout-total")?.segments[0];
 * if (top && top.lift > 2) console.log(`${top.key}=${top.value}: ${top.mismatchRate} (${top.lift}x)`);
 * ```
 */
export interface SegmentRow {
  key: string;
  value: string;
  runs: number;
  /** Mismatched runs ÷ runs for this value. */
  mismatchRate: number;
  /** `mismatchRate` ÷ the candidate's overall mismatch rate; 0 when this value has no mismatch (so also when the overall rate is 0). */
  lift: number;
  /** Most frequent first, at most 5; a run counts once per reason. */
  reasons: Array<{ reason: string; count: number }>;
}

/**
 * The segment counters of one span of time (a slice, or the live sum of a window).
 *
 * @internal
 * @example
 * ```ts
 * const slice = new SegmentTally(["region"], SEGMENT_VALUES);
 * const placed = slice.add(segmentValues(result.context, ["region"]), true, ["tax-rounding"]);
 * ```
 */
export class SegmentTally {
  private counts: Array<Map<string, ValueCounts>>;

  /** @param valueCap distinct real values kept per key (Infinity for the live sum, which only applies slices' decisions). */
  constructor(
    readonly keys: readonly string[],
    private readonly valueCap: number,
  ) {
    this.counts = keys.map(() => new Map());
  }

  /** Counts one run (values: one per key, undefined for a missing key) and returns where it went. */
  add(values: ReadonlyArray<string | undefined>, mismatched: boolean, reasons: readonly string[]): Placement[] {
    const placed: Placement[] = [];
    for (let i = 0; i < this.counts.length; i++) {
      const map = this.counts[i] as Map<string, ValueCounts>;
      const value = values[i];
      let slot: string;
      if (value === undefined) slot = NONE_SLOT;
      else {
        slot = `v:${value}`;
        // Real values are all the map holds besides the two reserved slots.
        if (!map.has(slot) && realValues(map) >= this.valueCap) slot = OTHER_SLOT;
      }
      const entry = map.get(slot);
      const kept = mismatched ? admitReasons(entry, reasons) : [];
      placed.push({ slot, reasons: kept });
    }
    this.apply(placed, mismatched);
    return placed;
  }

  /** Counts one run where a slice placed it. */
  apply(placed: readonly Placement[], mismatched: boolean): void {
    for (let i = 0; i < placed.length && i < this.counts.length; i++) {
      const { slot, reasons } = placed[i] as Placement;
      const map = this.counts[i] as Map<string, ValueCounts>;
      let entry = map.get(slot);
      if (entry === undefined) {
        entry = { runs: 0, mismatches: 0, reasons: new Map() };
        map.set(slot, entry);
      }
      entry.runs++;
      if (mismatched) entry.mismatches++;
      for (const reason of reasons) entry.reasons.set(reason, (entry.reasons.get(reason) ?? 0) + 1);
    }
  }

  merge(other: SegmentTally): void {
    other.counts.forEach((map, i) => {
      const into = this.counts[i];
      if (into === undefined) return;
      for (const [slot, counts] of map) {
        let entry = into.get(slot);
        if (entry === undefined) {
          entry = { runs: 0, mismatches: 0, reasons: new Map() };
          into.set(slot, entry);
        }
        entry.runs += counts.runs;
        entry.mismatches += counts.mismatches;
        for (const [reason, n] of counts.reasons) entry.reasons.set(reason, (entry.reasons.get(reason) ?? 0) + n);
      }
    });
  }

  clear(): void {
    // New maps, not clear(): a Map keeps its grown hash table after clear().
    this.counts = this.keys.map(() => new Map());
  }

  /** Values plus reasons held: what memory grows with (bounded by the caps). */
  entries(): number {
    let n = 0;
    for (const map of this.counts) for (const counts of map.values()) n += 1 + counts.reasons.size;
    return n;
  }

  /**
   * The summary rows: per key the {@link SEGMENT_VALUES} values with the most runs (the rest folded
   * into `(other)`), then `(other)` and `(none)` when they have runs; lift against `overallRate`.
   */
  rows(overallRate: number): SegmentRow[] {
    const rows: Array<SegmentRow & { order: number }> = [];
    this.counts.forEach((map, i) => {
      const key = this.keys[i] as string;
      const real = [...map].filter(([slot]) => slot.startsWith("v:"));
      real.sort(([a, x], [b, y]) => y.runs - x.runs || compare(a, b));
      const other = cloneCounts(map.get(OTHER_SLOT));
      for (const [, counts] of real.slice(SEGMENT_VALUES)) mergeCounts(other, counts);
      const listed: Array<[string, ValueCounts]> = real.slice(0, SEGMENT_VALUES).map(([slot, counts]) => [slot.slice(2), counts]);
      if (other.runs > 0) listed.push([OTHER_VALUE, other]);
      const none = map.get(NONE_SLOT);
      if (none !== undefined && none.runs > 0) listed.push([NONE_VALUE, none]);
      for (const [value, counts] of listed) {
        const mismatchRate = counts.runs === 0 ? 0 : counts.mismatches / counts.runs;
        rows.push({
          key,
          value,
          runs: counts.runs,
          mismatchRate,
          lift: mismatchRate === 0 || overallRate === 0 ? 0 : mismatchRate / overallRate,
          reasons: topReasons(counts.reasons),
          order: i,
        });
      }
    });
    rows.sort(
      (a, b) =>
        Number(a.runs < MIN_SEGMENT_RUNS) - Number(b.runs < MIN_SEGMENT_RUNS) ||
        b.lift - a.lift ||
        b.runs - a.runs ||
        a.order - b.order ||
        compare(a.value, b.value),
    );
    return rows.map(({ order, ...row }) => (void order, row));
  }
}

/**
 * The segment value of each key in a result's context, as a label: strings as they are (cut at 100
 * characters), numbers, booleans and bigints as `String()` gives them, `null` as "null", other types
 * as `(object)`, `(function)`, `(symbol)`; undefined when the key is missing or holds undefined.
 * Only own properties count (a key named `constructor` must not find `Object`), and a context that
 * throws when read gives `(unreadable)`, never an exception.
 *
 * @internal
 * @example
 * ```ts
 * segmentValues({ region: "NY", coupon: true }, ["region", "coupon", "tier"]); // ["NY", "true", undefined]
 * ```
 */
export function segmentValues(context: unknown, keys: readonly string[]): Array<string | undefined> {
  return keys.map((key) => {
    try {
      if (typeof context !== "object" || context === null) return undefined;
      const descriptor = Object.getOwnPropertyDescriptor(context, key);
      if (descriptor === undefined) return undefined;
      const value: unknown = "value" in descriptor ? descriptor.value : descriptor.get?.call(context);
      return label(value);
    } catch {
      return UNREADABLE_VALUE;
    }
  });
}

/**
 * Checks the `segments` option: an array of distinct non-empty strings.
 *
 * @internal
 * @example
 * ```ts
 * const keys = segmentKeys(options.segments); // [] when not given
 * ```
 */
export function segmentKeys(option: unknown): string[] {
  if (option === undefined) return [];
  if (!Array.isArray(option)) {
    throw new TypeError(`penumbra: Scorecard option 'segments' must be an array of context keys, got ${describe(option)}`);
  }
  const keys: string[] = [];
  for (const key of option as unknown[]) {
    if (typeof key !== "string" || key === "") {
      throw new TypeError(`penumbra: Scorecard option 'segments' must hold non-empty strings (context keys), got ${describe(key)}`);
    }
    if (keys.includes(key)) throw new TypeError(`penumbra: Scorecard option 'segments' names '${key}' twice`);
    keys.push(key);
  }
  return keys;
}

function label(value: unknown): string | undefined {
  switch (typeof value) {
    case "undefined":
      return undefined;
    case "string":
      return value.length > VALUE_CHARS ? `${value.slice(0, VALUE_CHARS - 1)}…` : value;
    case "number":
    case "boolean":
    case "bigint":
      return String(value);
    case "object":
      return value === null ? "null" : "(object)";
    default:
      return `(${typeof value})`;
  }
}

function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (Array.isArray(value)) return "an array";
  return value === null ? "null" : typeof value;
}

function realValues(map: Map<string, ValueCounts>): number {
  return map.size - (map.has(NONE_SLOT) ? 1 : 0) - (map.has(OTHER_SLOT) ? 1 : 0);
}

/** The reason keys a run is counted under for one value: known ones, new ones while there is room, else "other" once. */
function admitReasons(entry: ValueCounts | undefined, reasons: readonly string[]): string[] {
  const kept: string[] = [];
  let fresh = 0;
  let overflow = false;
  for (const reason of reasons) {
    if (entry?.reasons.has(reason) === true) kept.push(reason);
    else if ((entry?.reasons.size ?? 0) + fresh < REASON_CAP) {
      kept.push(reason);
      fresh++;
    } else overflow = true;
  }
  if (overflow && !kept.includes(OTHER)) kept.push(OTHER);
  return kept;
}

function topReasons(reasons: Map<string, number>): Array<{ reason: string; count: number }> {
  return [...reasons]
    .map(([reason, count]) => ({ reason, count }))
    .sort((a, b) => b.count - a.count || compare(a.reason, b.reason))
    .slice(0, LISTED_REASONS);
}

function cloneCounts(counts: ValueCounts | undefined): ValueCounts {
  return { runs: counts?.runs ?? 0, mismatches: counts?.mismatches ?? 0, reasons: new Map(counts?.reasons ?? []) };
}

function mergeCounts(into: ValueCounts, from: ValueCounts): void {
  into.runs += from.runs;
  into.mismatches += from.mismatches;
  for (const [reason, n] of from.reasons) into.reasons.set(reason, (into.reasons.get(reason) ?? 0) + n);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
