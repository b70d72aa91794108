/**
 * Step 4 of a comparison: the candidate's intended effects against the control's performed ones,
 * in order, by name and arguments. Differences live under `effects[i]` and read like
 * `effects[0] payments.charge args[0].amount=4990 vs 5140`.
 */
import { diff } from "../compare/diff";
import { describeSides, pathLabel } from "../compare/format";
import { escapeLine, formatValue, truncate } from "../compare/render";
import { describeThrown } from "../describe";
import type { Operation } from "../errors";
import type { Effect, FieldDiff } from "../types/results";
import { booleanAnswer, forcedBy } from "./synchronous";

/** An effect's name is a guard's name and a method path: a few words, never a page. */
const MAX_NAME_LENGTH = 80;

/** Where effect differences live, and how to tell them from value differences. */
const EFFECT_PATH = /^effects\[(\d+)\](.*)$/;

/**
 * Differences between the control's and the candidate's effects. `compareEffects: false` compares
 * nothing; a function decides alone (its "unequal" gives a mismatch with no diff).
 *
 * @internal
 * @example
 * ```ts
 * const { diffs, forced } = effectDiffs(options.compareEffects, control.effects, candidate.effects, report);
 * ```
 */
// Shared and frozen: most runs have no effects on either side.
const NONE: { diffs: FieldDiff[]; forced: string | undefined } = Object.freeze({ diffs: Object.freeze([]) as unknown as FieldDiff[], forced: undefined });

export function effectDiffs(
  setting: boolean | ((control: Effect[], candidate: Effect[]) => boolean) | undefined,
  control: readonly Effect[],
  candidate: readonly Effect[],
  report: (operation: Operation, cause: unknown) => void,
): { diffs: FieldDiff[]; forced: string | undefined } {
  if (setting === false) return { diffs: [], forced: undefined };
  if (typeof setting === "function") {
    try {
      if (booleanAnswer("compareEffects", setting([...control], [...candidate]))) return { diffs: [], forced: undefined };
      return { diffs: [], forced: "compareEffects() returned false" };
    } catch (error) {
      report("compareEffects", error);
      return { diffs: [], forced: forcedBy("compareEffects", error) };
    }
  }
  if (control.length === 0 && candidate.length === 0) return NONE;
  try {
    const found = diff(control.map(intent), candidate.map(intent));
    return { diffs: found.map((d) => ({ ...d, path: `effects${d.path}` })), forced: undefined };
  } catch (error) {
    // Arguments no walk can read (kept by reference when their snapshot failed: a Proxy whose traps
    // throw, a revoked one): the effects are what could not be compared, so the mismatch is theirs.
    report("compareEffects", error);
    return { diffs: [], forced: `${UNCOMPARABLE} ${escapeLine(describeThrown(error))}` };
  }
}

/** How a forced summary from the effect step starts when the effects themselves could not be walked. */
const UNCOMPARABLE = "effects could not be compared:";

/**
 * True when a forced summary came from the effect step (a `compareEffects` callback's verdict or
 * failure, or effects no walk could read): the mismatch's kind is then `"effects"`.
 *
 * @internal
 * @example
 * ```ts
 * const kind = isEffectsForced(findings.forced) ? "effects" : "value";
 * ```
 */
export function isEffectsForced(forced: string): boolean {
  return forced.startsWith("compareEffects()") || forced.startsWith(UNCOMPARABLE);
}

/** True for a diff about effects. @internal @example `serious.filter(isEffectDiff)` */
export function isEffectDiff(d: FieldDiff): boolean {
  return EFFECT_PATH.test(d.path);
}

/**
 * The summary of effect differences, naming each effect: `effects[0] payments.charge args[0].amount=4990 vs 5140`.
 *
 * @internal
 * @example
 * ```ts
 * summarizeEffects(effectDiffs, control.effects, candidate.effects); // "effects[1] mailer.sendMail=(missing) vs [{…}]"
 * ```
 */
export function summarizeEffects(diffs: readonly FieldDiff[], control: readonly Effect[], candidate: readonly Effect[], maxDiffs = 10): string {
  const parts = diffs.slice(0, maxDiffs).map((d) => {
    const match = EFFECT_PATH.exec(d.path);
    const index = Number(match?.[1] ?? 0);
    const rest = match?.[2] ?? "";
    const name = escapeLine(truncate(control[index]?.name ?? candidate[index]?.name ?? "?", MAX_NAME_LENGTH));
    const side = (present: boolean, value: unknown): string => (present ? formatValue(value) : "(missing)");
    if (rest === "") {
      return `effects[${index}] ${name}=${side(d.kind !== "added", control[index]?.args)} vs ${side(d.kind !== "removed", candidate[index]?.args)}`;
    }
    const field = pathLabel(rest.startsWith(".") ? rest.slice(1) : rest);
    return `effects[${index}] ${name} ${field}=${describeSides(d)}`;
  });
  if (diffs.length > maxDiffs) parts.push(`+${diffs.length - maxDiffs} more`);
  return parts.join(", ");
}

/** What is compared of an effect: its name and arguments (not who performed it or whether it was blocked). */
function intent(effect: Effect): { name: string; args: unknown[] } {
  return { name: effect.name, args: effect.args };
}
