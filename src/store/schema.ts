/**
 * The shape of a result line, checked in one place. Every reader of the JSONL store (`readResults`,
 * and through it `replay` and `penumbra report`) validates each record here before any of it is used,
 * so a corrupt, hand-edited or hostile line is skipped and named instead of crashing a report
 * (`"candidates":[null]`), rendering garbage (a numeric candidate name), or hanging one (`startedAt:
 * 1e999` parses to `Infinity`).
 *
 * The check is iterative over the result's own structure (observations, mismatches, diffs, effects,
 * leaks) and never walks the user's values (`value`, `error`, `args`, `context` values, diff sides),
 * which stay whatever JSON they were. Extra fields are allowed, so files written by a newer penumbra
 * still read.
 */
import type { Result } from "../types/results";

/** The largest time a `Date` can hold (ECMA-262 §21.4.1.1): a `startedAt` past it cannot be shown. */
const MAX_TIME_MS = 8.64e15;

type Check = (value: unknown) => string | undefined;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

const own = (object: Record<string, unknown>, key: string): unknown =>
  Object.prototype.hasOwnProperty.call(object, key) ? object[key] : undefined;

const string: Check = (v) => (typeof v === "string" ? undefined : "is not a string");
const boolean: Check = (v) => (typeof v === "boolean" ? undefined : "is not a boolean");
const record: Check = (v) => (isRecord(v) ? undefined : "is not an object");
const array: Check = (v) => (Array.isArray(v) ? undefined : "is not an array");
const oneOf =
  (...allowed: string[]): Check =>
  (v) =>
    typeof v === "string" && allowed.includes(v) ? undefined : `is not one of ${allowed.map((a) => JSON.stringify(a)).join(", ")}`;
const optional =
  (check: Check): Check =>
  (v) =>
    v === undefined ? undefined : check(v);
/** Durations are measured, never negative, never infinite (JSON's `1e999` parses to `Infinity`). */
const duration: Check = (v) => (typeof v === "number" && Number.isFinite(v) && v >= 0 ? undefined : "is not a finite number of ms >= 0");
/** A run's start: after 1970 and before the last day a `Date` can show, so every span fits a safe integer. */
const epochMs: Check = (v) =>
  typeof v === "number" && Number.isFinite(v) && v >= 0 && v <= MAX_TIME_MS ? undefined : "is not a time in epoch ms (a finite number from 0 to 8.64e15)";

/** Checks `fields` of `object`; the first problem, named by its path. */
function fields(object: unknown, at: string, spec: Record<string, Check>): string | undefined {
  if (!isRecord(object)) return `${at === "" ? "the record" : at} is not an object`;
  for (const [key, check] of Object.entries(spec)) {
    const problem = check(own(object, key));
    if (problem !== undefined) return `${at === "" ? "" : `${at}.`}${key} ${problem}`;
  }
  return undefined;
}

/** Checks every element of an array field with `item`; the first problem, named by its index. */
function each(list: unknown, at: string, item: (element: unknown, at: string) => string | undefined): string | undefined {
  if (!Array.isArray(list)) return `${at} is not an array`;
  for (let i = 0; i < list.length; i++) {
    const problem = item(list[i], `${at}[${i}]`);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

function effect(value: unknown, at: string): string | undefined {
  return fields(value, at, { name: string, args: array, role: oneOf("control", "candidate"), blocked: boolean });
}

function leak(value: unknown, at: string): string | undefined {
  return fields(value, at, { kind: oneOf("network", "child_process"), target: string, blocked: boolean });
}

function diff(value: unknown, at: string): string | undefined {
  return fields(value, at, {
    path: string,
    kind: oneOf("changed", "added", "removed", "type"),
    bucket: optional(string),
    noise: optional(boolean),
  });
}

function observation(value: unknown, at: string, role: "control" | "candidate"): string | undefined {
  return (
    fields(value, at, {
      name: string,
      role: oneOf(role),
      threw: boolean,
      durationMs: duration,
      cpuMs: optional(duration),
      timedOut: boolean,
      isolated: boolean,
    }) ??
    each((value as Record<string, unknown>)["effects"], `${at}.effects`, effect) ??
    each((value as Record<string, unknown>)["leaks"], `${at}.leaks`, leak)
  );
}

function mismatch(value: unknown, at: string): string | undefined {
  return (
    fields(value, at, {
      candidate: string,
      kind: oneOf("error", "status", "value", "effects"),
      summary: string,
    }) ??
    each((value as Record<string, unknown>)["diffs"], `${at}.diffs`, diff) ??
    each((value as Record<string, unknown>)["buckets"], `${at}.buckets`, (b, where) => (typeof b === "string" ? undefined : `${where} is not a string`))
  );
}

/**
 * The first way `value` differs from a result line, or `undefined` when it is one. The problem names
 * the field by its path (`candidates[0].leaks is not an array`), for the message of a skipped line.
 *
 * What is checked: every field a reader relies on, with its type and, where it matters, its range
 * (`startedAt` from 0 to the last time a `Date` can show, durations finite and not negative,
 * `role` / `kind` / outcome values from their unions); candidate names unique, each with its outcome
 * in `outcomes`; exactly one mismatch per candidate whose outcome is "mismatched", and none for others.
 * What is not: the user's values (`value`, `error`, `cleanedValue`, `args` items, `context` values,
 * a diff's `control` / `candidate`), which are any JSON.
 *
 * @example
 * ```ts
 * resultProblem(JSON.parse('{"experiment":"x"}')); // "runId is not a string"
 * ```
 */
export function resultProblem(value: unknown): string | undefined {
  try {
    return problemOf(value);
  } catch {
    // Only an in-memory record can get here (a Proxy whose traps throw, a throwing getter): JSON cannot.
    return "could not be read (a property access threw)";
  }
}

function problemOf(value: unknown): string | undefined {
  const top = fields(value, "", {
    experiment: string,
    runId: string,
    startedAt: epochMs,
    servedBy: string,
    context: record,
    args: optional(array),
    matched: boolean,
    mismatched: boolean,
    ignored: boolean,
    outcomes: record,
  });
  if (top !== undefined) return top;
  const result = value as Record<string, unknown>;
  const problem =
    observation(result["control"], "control", "control") ??
    each(result["candidates"], "candidates", (c, at) => observation(c, at, "candidate")) ??
    each(result["mismatches"], "mismatches", mismatch) ??
    each(result["noise"], "noise", diff);
  if (problem !== undefined) return problem;
  const outcomes = result["outcomes"] as Record<string, unknown>;
  const mismatched = new Set<string>();
  const seen = new Set<string>();
  for (const [i, candidate] of (result["candidates"] as Array<{ name: string }>).entries()) {
    if (seen.has(candidate.name)) return `candidates[${i}].name ${JSON.stringify(candidate.name)} is not unique`;
    seen.add(candidate.name);
    const outcome = oneOf("matched", "mismatched", "ignored")(own(outcomes, candidate.name));
    if (outcome !== undefined) return `outcomes[${JSON.stringify(candidate.name)}] ${outcome}`;
    if (own(outcomes, candidate.name) === "mismatched") mismatched.add(candidate.name);
  }
  // A mismatch belongs to a candidate that mismatched, and one that did has its mismatch: a reader
  // counting reasons must not find a "mismatched" run with no reason, nor a reason for no run.
  const explained = new Set<string>();
  for (const [i, m] of (result["mismatches"] as Array<{ candidate: string }>).entries()) {
    if (!mismatched.has(m.candidate)) return `mismatches[${i}].candidate ${JSON.stringify(m.candidate)} names no candidate whose outcome is "mismatched"`;
    if (explained.has(m.candidate)) return `mismatches[${i}] is a second mismatch for ${JSON.stringify(m.candidate)}`;
    explained.add(m.candidate);
  }
  for (const name of mismatched) if (!explained.has(name)) return `outcomes[${JSON.stringify(name)}] is "mismatched" but no mismatch names it`;
  return undefined;
}

/**
 * Narrows `value` to a result when {@link resultProblem} finds nothing wrong.
 *
 * @example
 * ```ts
 * const records = lines.map((l) => JSON.parse(l)).filter(isResult);
 * ```
 */
export function isResult(value: unknown): value is Result<unknown> {
  return resultProblem(value) === undefined;
}

/**
 * What `replay` needs of an in-memory record, which may be a full result or one built by hand from
 * other logs: an object whose `args` (when present) is an array, and whose `experiment`, `runId` and
 * `context` have their result types when present. A record without `args` is not malformed: it is
 * a result published without `captureArgs`, and replay counts it apart. Records read from a file
 * get the full {@link resultProblem} check.
 *
 * @example
 * ```ts
 * replayRecordProblem({ args: [cart], experiment: "checkout-total" }); // undefined
 * replayRecordProblem({ args: "cart" }); // "args is not an array"
 * ```
 */
export function replayRecordProblem(value: unknown): string | undefined {
  try {
    return fields(value, "", { args: optional(array), experiment: optional(string), runId: optional(string), context: optional(record) });
  } catch {
    return "could not be read (a property access threw)";
  }
}
