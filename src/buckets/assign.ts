/**
 * Putting diffs into buckets: the first rule that matches a diff names it, and a noise rule makes it
 * harmless. Pure functions; the engine decides what a mismatch with only noise diffs means.
 */
import { isMatching, type P } from "ts-pattern";
import type { BucketRule } from "../types/options";
import type { FieldDiff } from "../types/results";
import { describeThrown } from "../describe";

/**
 * Returns a new diff for each of `diffs`, in order, with `bucket` set to the name of the first rule
 * that matches it and `noise: true` when that rule is a noise rule; both are absent when no rule
 * matches (a `bucket` or `noise` already on an input diff is not carried over). The inputs are not
 * modified.
 *
 * A rule's `match` is a predicate (a truthy result matches) or a ts-pattern pattern
 * (`isMatching(pattern, diff)`). A predicate or pattern that throws, or a predicate that returns a
 * promise (rules are synchronous), is passed to `report` with the rule's name and counts as no match;
 * later rules still run.
 *
 * @example
 * ```ts
 * import { P } from "ts-pattern";
 * const diffs = assignBuckets(
 *   [{ path: "lines[2].tax", kind: "changed", control: 0.1, candidate: 0.09 }],
 *   [{ name: "tax-rounding-per-line", match: { path: P.string.regex(/^lines\[\d+\]\.tax$/) } }],
 *   (error, rule) => console.warn(rule, error),
 * );
 * // [{ path: "lines[2].tax", kind: "changed", control: 0.1, candidate: 0.09, bucket: "tax-rounding-per-line" }]
 * ```
 */
export function assignBuckets(
  diffs: readonly FieldDiff[],
  rules: readonly BucketRule[],
  report: (error: unknown, rule: string) => void,
): FieldDiff[] {
  const out: FieldDiff[] = new Array<FieldDiff>(diffs.length);
  for (let i = 0; i < diffs.length; i++) {
    const diff = fresh(diffs[i] as FieldDiff);
    for (let r = 0; r < rules.length; r++) {
      const hit = matches(rules[r] as BucketRule, diff, report);
      if (hit !== undefined) {
        diff.bucket = hit.name;
        if (hit.noise) diff.noise = true;
        break;
      }
    }
    out[i] = diff;
  }
  return out;
}

/**
 * The distinct bucket names of the diffs that are not noise, in first-seen order: a mismatch's
 * `buckets`.
 *
 * @example
 * ```ts
 * bucketsOf([
 *   { path: "a", kind: "changed", bucket: "tax" },
 *   { path: "b", kind: "changed", bucket: "ids", noise: true },
 *   { path: "c", kind: "changed", bucket: "tax" },
 * ]); // ["tax"]
 * ```
 */
export function bucketsOf(diffs: readonly FieldDiff[]): string[] {
  const seen = new Set<string>();
  for (const diff of diffs) {
    if (diff.noise !== true && typeof diff.bucket === "string") seen.add(diff.bucket);
  }
  return [...seen];
}

/**
 * A copy holding only the comparison's fields, with `control` and `candidate` present exactly when
 * they were (an `added` diff has no `control` key, which patterns such as `{ control: P.nullish }`
 * can tell apart from `control: undefined`). Rules see this copy, so none of them can touch the input.
 */
function fresh(diff: FieldDiff): FieldDiff {
  const copy: FieldDiff = { path: diff.path, kind: diff.kind };
  if ("control" in diff) copy.control = diff.control;
  if ("candidate" in diff) copy.candidate = diff.candidate;
  return copy;
}

/**
 * The rule's name and noise flag when it matches `diff`, else undefined. Every read of the rule is
 * guarded: the rules array stays the user's, and an entry changed after validation (now `undefined`,
 * a getter that throws) is that rule's failure, not the comparison's.
 */
function matches(rule: BucketRule, diff: FieldDiff, report: (error: unknown, rule: string) => void): { name: string; noise: boolean } | undefined {
  try {
    return isMatch(rule, diff) ? { name: rule.name, noise: rule.noise === true } : undefined;
  } catch (error) {
    // Described, not String()-ed: this runs in a catch, and a rule's name is the user's value.
    report(error, ruleName(rule));
    return undefined;
  }
}

function ruleName(rule: BucketRule): string {
  try {
    return typeof rule.name === "string" ? rule.name : describeThrown(rule.name);
  } catch {
    return describeThrown(rule);
  }
}

/** A predicate's truthy answer or a pattern's match; throws what the rule throws. */
function isMatch(rule: BucketRule, diff: FieldDiff): boolean {
  const { match } = rule;
  if (typeof match === "function") {
    const verdict: unknown = match(diff);
    if (isThenable(verdict)) {
      // Nothing will wait for it; reading a promise as truthy would put every diff in this bucket.
      Promise.resolve(verdict).catch(() => undefined);
      throw new TypeError(`penumbra: bucket rule '${ruleName(rule)}' returned a promise; rules must be synchronous`);
    }
    return Boolean(verdict);
  }
  // Typed against `unknown`: ts-pattern's value-typed overload cannot check a pattern that is only
  // known to be some `Pattern<FieldDiff>`, and the value is a plain object either way.
  return isMatching(match as P.Pattern<unknown>, diff as unknown);
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === "object" || typeof value === "function") &&
    value !== null &&
    typeof (value as { then?: unknown }).then === "function"
  );
}
