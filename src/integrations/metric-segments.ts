/**
 * Metric segments (opt-in `segments` of the Prometheus and OpenTelemetry publishers): context keys
 * that become labels, so a fleet can ask where mismatches cluster. One place for the rules the
 * `Scorecard` also follows: at most 20 values per key per experiment, the rest `(other)`, a missing
 * key `(none)`. Every distinct label value is a new time series, so the cap is what keeps a key like
 * `customerId` from exploding a Prometheus server.
 */

/** Distinct values kept per key and experiment before the rest become `(other)`. */
export const SEGMENT_VALUE_CAP = 20;
/** The label value of a key missing from the context (or holding `undefined`). */
export const NONE = "(none)";
/** The label value of every value past the cap, and of values that are not primitives. */
export const OTHER = "(other)";
/** Label values are cut here: a label is a name, not a payload. */
const MAX_VALUE_LENGTH = 100;

/**
 * Checks the `segments` option of a metrics publisher: a list of distinct, non-empty keys that are
 * valid label names and do not collide with penumbra's own labels.
 *
 * @example
 * ```ts
 * const keys = checkSegments("prometheusPublisher", ["region"], ["experiment", "candidate", "outcome"], /^[a-zA-Z_][a-zA-Z0-9_]*$/);
 * ```
 */
export function checkSegments(owner: string, segments: unknown, reserved: readonly string[], pattern: RegExp): readonly string[] {
  if (segments === undefined) return [];
  if (!Array.isArray(segments)) {
    throw new TypeError(`${owner}: segments must be an array of context keys, got ${typeof segments}`);
  }
  const seen = new Set<string>();
  for (const key of segments as unknown[]) {
    if (typeof key !== "string" || !pattern.test(key)) {
      throw new TypeError(`${owner}: segments must hold label names matching ${String(pattern)}, got ${describe(key)}`);
    }
    if (reserved.includes(key) || key.startsWith("__")) {
      throw new TypeError(`${owner}: segments cannot use the reserved label name "${key}"`);
    }
    if (seen.has(key)) throw new TypeError(`${owner}: segments lists "${key}" twice`);
    seen.add(key);
  }
  return Object.freeze([...seen]);
}

/**
 * Turns a result's context into bounded label values, remembering the values seen per experiment.
 *
 * @example
 * ```ts
 * const labeller = segmentLabeller(["region"]);
 * labeller.labels("checkout", { region: "us-ny" }); // { region: "us-ny" }
 * ```
 */
export interface SegmentLabeller {
  readonly keys: readonly string[];
  labels(experiment: string, context: unknown): Record<string, string>;
}

/**
 * Creates a {@link SegmentLabeller} for the given keys.
 *
 * @example
 * ```ts
 * const labeller = segmentLabeller(["region", "coupon"]);
 * ```
 */
export function segmentLabeller(keys: readonly string[]): SegmentLabeller {
  // experiment → key → values admitted so far (bounded by the cap).
  const admitted = new Map<string, Map<string, Set<string>>>();
  return {
    keys,
    labels(experiment: string, context: unknown): Record<string, string> {
      const labels: Record<string, string> = {};
      if (keys.length === 0) return labels;
      let perKey = admitted.get(experiment);
      if (perKey === undefined) {
        perKey = new Map();
        admitted.set(experiment, perKey);
      }
      for (const key of keys) {
        const value = labelValue(read(context, key));
        let values = perKey.get(key);
        if (values === undefined) {
          values = new Set();
          perKey.set(key, values);
        }
        if (value === NONE || value === OTHER || values.has(value)) {
          labels[key] = value;
        } else if (values.size < SEGMENT_VALUE_CAP) {
          values.add(value);
          labels[key] = value;
        } else {
          labels[key] = OTHER;
        }
      }
      return labels;
    },
  };
}

/** A context is a user's object: a throwing getter or Proxy trap reads as a missing key, never a throw. */
function read(context: unknown, key: string): unknown {
  if (typeof context !== "object" || context === null) return undefined;
  try {
    return Object.prototype.hasOwnProperty.call(context, key) ? (context as Record<string, unknown>)[key] : undefined;
  } catch {
    return undefined;
  }
}

/** Primitives by their text; objects, functions and symbols cannot be a stable label and count as `(other)`. */
function labelValue(value: unknown): string {
  if (value === undefined) return NONE;
  let text: string;
  switch (typeof value) {
    case "string":
      text = value;
      break;
    case "number":
    case "boolean":
    case "bigint":
      text = String(value);
      break;
    default:
      if (value === null) return "null";
      return OTHER;
  }
  if (text === NONE || text === OTHER) return text;
  return wellFormed(text.length > MAX_VALUE_LENGTH ? `${text.slice(0, MAX_VALUE_LENGTH - 1)}…` : text);
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * `text` with each lone surrogate replaced by U+FFFD, as UTF-8 will carry it anyway. A label value
 * must be the same string the receiver reads: "a\uD800" and "a\uDC00" are two series in the
 * registry but one on the wire, and a scrape with the same series twice is invalid.
 *
 * @internal
 * @example
 * ```ts
 * wellFormed("a\uD800"); // "a\uFFFD"
 * ```
 */
export function wellFormed(text: string): string {
  return text.replace(LONE_SURROGATE, "\uFFFD");
}

function describe(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value) : typeof value;
}

/**
 * A bounded label: the first `cap` distinct values per scope keep their name, later ones are
 * `(other)`. Used for mismatch reasons, whose bucket names are bounded by code but unbounded in a
 * misconfigured rule set.
 *
 * @example
 * ```ts
 * const reasonOf = cappedLabel(20);
 * reasonOf("checkout\u0000candidate", "rounding"); // "rounding"
 * ```
 */
export function cappedLabel(cap: number): (scope: string, value: string) => string {
  const seen = new Map<string, Set<string>>();
  return (scope, value) => {
    let values = seen.get(scope);
    if (values === undefined) {
      values = new Set();
      seen.set(scope, values);
    }
    if (values.has(value)) return value;
    if (values.size >= cap) return OTHER;
    values.add(value);
    return value;
  };
}
