/**
 * Validation of experiment options. Every problem is a `TypeError` that names the option and the
 * value, raised when the experiment is built — never on the request path.
 */
import { inspect } from "node:util";
import { isPublisher } from "../config";
import { describeThrown } from "../describe";
import type { ExperimentOptions } from "../types/options";
import type { Publisher } from "../types/operate";
import { isAsyncFunction } from "../util/thenable";

/**
 * The contract's default `timeoutMs`: a candidate's budget for asynchronous work, in ms.
 *
 * @internal
 * @example
 * ```ts
 * const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
 * ```
 */
export const DEFAULT_TIMEOUT_MS = 5000;
/**
 * The contract's default `maxConcurrent`: runs of one experiment in flight at once.
 *
 * @internal
 * @example
 * ```ts
 * const maxConcurrent = options.maxConcurrent ?? DEFAULT_MAX_CONCURRENT;
 * ```
 */
export const DEFAULT_MAX_CONCURRENT = 256;
/**
 * Node's timer limit (2^31 - 1 ms, about 24.8 days): a larger `timeoutMs` is clamped to it.
 *
 * @internal
 * @example
 * ```ts
 * resolveOptions({ timeoutMs: Number.MAX_SAFE_INTEGER }).timeoutMs === MAX_TIMEOUT_MS; // true
 * ```
 */
export const MAX_TIMEOUT_MS = 2_147_483_647;

const KNOWN_OPTIONS: ReadonlySet<string> = new Set([
  "name", "mode", "enabled", "sample", "sampleBy", "runIf", "beforeRun", "context", "compare",
  "compareErrors", "ignore", "clean", "buckets", "statusOf", "compareEffects", "timeoutMs",
  "maxConcurrent", "isolate", "captureArgs", "publish", "onError", "throwOnMismatch", "guardrails",
  "calibrate", "promote",
]);

/** Comparison callbacks: called synchronously, their answer used at once. */
const SYNCHRONOUS_OPTIONS = ["compare", "compareErrors", "compareEffects", "statusOf"] as const;

const FUNCTION_OPTIONS = [
  "sampleBy", "runIf", "beforeRun", "compare", "compareErrors", "clean", "statusOf", "onError",
] as const;

/**
 * Options after validation, with the contract's defaults filled in.
 *
 * @internal
 * @example
 * ```ts
 * const resolved = resolveOptions({ timeoutMs: 200 }); // resolved.mode === "background", resolved.sample === 1
 * ```
 */
export interface ResolvedOptions<A extends unknown[], R> extends ExperimentOptions<A, R> {
  mode: "background" | "sequential";
  sample: number;
  timeoutMs: number;
  maxConcurrent: number;
  ignore: NonNullable<ExperimentOptions<A, R>["ignore"]>;
  /** The experiment's own publishers, or undefined to use the configured ones. */
  publishers: readonly Publisher[] | undefined;
}

/**
 * Checks every option and returns them with defaults. Throws a `TypeError` naming the bad option.
 *
 * @internal
 * @example
 * ```ts
 * const resolved = resolveOptions(options) as unknown as ResolvedOptions<unknown[], unknown>;
 * resolved.timeoutMs; // 5000 unless given
 * ```
 */
export function resolveOptions<A extends unknown[], R>(options: ExperimentOptions<A, R> | undefined): ResolvedOptions<A, R> {
  if (options === undefined) options = {};
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`penumbra: experiment options must be an object, got ${show(options)}`);
  }
  // Read once, into plain objects: a getter that throws is a TypeError naming its option, and what was
  // checked is what the experiment uses (a getter cannot answer differently later).
  const o = readOptions(options, "", KNOWN_OPTIONS) as ExperimentOptions<A, R>;
  if (isPlainRecord(o.guardrails)) (o as { guardrails?: unknown }).guardrails = readOptions(o.guardrails, "guardrails.", GUARDRAIL_OPTIONS);
  if (o.name !== undefined && (typeof o.name !== "string" || o.name === "")) fail("name", o.name, "a non-empty string");
  if (o.mode !== undefined && o.mode !== "background" && o.mode !== "sequential") {
    fail("mode", o.mode, `"background" or "sequential"`);
  }
  if (o.enabled !== undefined && typeof o.enabled !== "boolean" && typeof o.enabled !== "function") {
    fail("enabled", o.enabled, "a boolean or a function");
  }
  if (o.sample !== undefined && !(typeof o.sample === "number" && o.sample >= 0 && o.sample <= 1)) {
    fail("sample", o.sample, "a number from 0 to 1");
  }
  for (const key of FUNCTION_OPTIONS) {
    if (o[key] !== undefined && typeof o[key] !== "function") fail(key, o[key], "a function");
  }
  if (o.context !== undefined && typeof o.context !== "function" && !isPlainRecord(o.context)) {
    fail("context", o.context, "an object or a function");
  }
  // A plain loop, not `every`: `every` and `forEach` skip an array's holes.
  if (o.ignore !== undefined && !(Array.isArray(o.ignore) && allFunctions(o.ignore))) {
    fail("ignore", o.ignore, "an array of functions");
  }
  // Comparison is synchronous: an `async` callback's answer is a promise nothing waits for.
  for (const key of SYNCHRONOUS_OPTIONS) {
    if (isAsyncFunction(o[key])) fail(key, o[key], "a synchronous function (comparison never waits for a promise)");
  }
  o.ignore?.forEach((rule, i) => {
    if (isAsyncFunction(rule)) fail(`ignore[${i}]`, rule, "a synchronous function (comparison never waits for a promise)");
  });
  if (o.buckets !== undefined) checkBuckets(o.buckets);
  if (o.compareEffects !== undefined && typeof o.compareEffects !== "boolean" && typeof o.compareEffects !== "function") {
    fail("compareEffects", o.compareEffects, "a boolean or a function");
  }
  if (o.timeoutMs !== undefined && !(typeof o.timeoutMs === "number" && Number.isFinite(o.timeoutMs) && o.timeoutMs >= 0)) {
    fail("timeoutMs", o.timeoutMs, "a finite number of milliseconds, 0 or more");
  }
  if (o.maxConcurrent !== undefined && !(Number.isInteger(o.maxConcurrent) && (o.maxConcurrent as number) > 0)) {
    fail("maxConcurrent", o.maxConcurrent, "a positive integer");
  }
  if (o.isolate !== undefined && o.isolate !== false && typeof o.isolate !== "function") {
    fail("isolate", o.isolate, "false or a function");
  }
  if (o.captureArgs !== undefined && typeof o.captureArgs !== "boolean") fail("captureArgs", o.captureArgs, "a boolean");
  if (o.throwOnMismatch !== undefined && typeof o.throwOnMismatch !== "boolean") {
    fail("throwOnMismatch", o.throwOnMismatch, "a boolean");
  }
  const publishers = o.publish === undefined ? undefined : Array.isArray(o.publish) ? o.publish : [o.publish];
  if (publishers !== undefined && !publishers.every(isPublisher)) {
    fail("publish", o.publish, "a publisher (a function or { publish }) or an array of them");
  }
  if (o.guardrails !== undefined) checkGuardrails(o.guardrails);
  if (o.calibrate !== undefined) {
    const runs = isPlainRecord(o.calibrate) ? o.calibrate.runs : undefined;
    if (!(Number.isInteger(runs) && (runs as number) >= 0)) fail("calibrate", o.calibrate, "{ runs: a whole number, 0 or more }");
  }
  if (o.promote !== undefined && typeof o.promote !== "function" && !(typeof o.promote === "number" && o.promote >= 0 && o.promote <= 1)) {
    fail("promote", o.promote, "a number from 0 to 1 or a function");
  }
  return {
    ...o,
    mode: o.mode ?? "background",
    sample: o.sample ?? 1,
    // Node turns a longer timer into 1 ms (with a warning): clamp, so "a long budget" stays long.
    timeoutMs: Math.min(o.timeoutMs ?? DEFAULT_TIMEOUT_MS, MAX_TIMEOUT_MS),
    maxConcurrent: o.maxConcurrent ?? DEFAULT_MAX_CONCURRENT,
    ignore: o.ignore ?? [],
    publishers: publishers === undefined ? undefined : Object.freeze([...publishers]),
  };
}

function checkBuckets(buckets: unknown): void {
  if (!Array.isArray(buckets)) fail("buckets", buckets, "an array of { name, match, noise? }");
  const expected = "{ name: string, match: a pattern or a synchronous predicate, noise?: boolean }";
  for (let i = 0; i < buckets.length; i++) {
    let rule: unknown;
    let ok: boolean;
    try {
      rule = buckets[i];
      const r = rule as { name?: unknown; match?: unknown; noise?: unknown } | null;
      const matchOk = (typeof r?.match === "function" && !isAsyncFunction(r.match)) || (typeof r?.match === "object" && r.match !== null);
      ok = isPlainRecord(r) && typeof r.name === "string" && r.name !== "" && matchOk &&
        (r.noise === undefined || typeof r.noise === "boolean");
    } catch {
      // A getter or Proxy trap that throws: the rule cannot be read, so it is not a rule.
      ok = false;
    }
    if (!ok) fail(`buckets[${i}]`, rule, expected);
  }
}

function allFunctions(list: readonly unknown[]): boolean {
  for (let i = 0; i < list.length; i++) if (typeof list[i] !== "function") return false;
  return true;
}

const GUARDRAIL_RATES = ["maxMismatchRate", "maxTimeoutRate"];
const GUARDRAIL_OPTIONS: ReadonlySet<string> = new Set([...GUARDRAIL_RATES, "maxP95Ratio", "minRuns", "windowMs", "disableOnLeak", "onTrip"]);

/** A plain copy of an options object's own keys, each read once; unknown keys and unreadable ones are TypeErrors. */
function readOptions(options: object, prefix: string, known: ReadonlySet<string>): Record<string, unknown> {
  let keys: string[];
  try {
    keys = Object.keys(options);
  } catch (error) {
    throw new TypeError(`penumbra: ${prefix === "" ? "experiment options" : `option '${prefix.slice(0, -1)}'`} could not be read: ${describeThrown(error)}`);
  }
  const copy: Record<string, unknown> = {};
  for (const key of keys) {
    if (!known.has(key)) throw new TypeError(`penumbra: unknown option '${prefix}${key}'`);
    try {
      copy[key] = (options as Record<string, unknown>)[key];
    } catch (error) {
      throw new TypeError(`penumbra: option '${prefix}${key}' could not be read: ${describeThrown(error)}`);
    }
  }
  return copy;
}

function checkGuardrails(guardrails: unknown): void {
  if (!isPlainRecord(guardrails)) fail("guardrails", guardrails, "an object");
  // Unknown keys were refused when the guardrails were read (readOptions).
  const g = guardrails as Record<string, unknown>;
  for (const key of GUARDRAIL_RATES) {
    const v = g[key];
    if (v !== undefined && !(typeof v === "number" && v >= 0 && v <= 1)) fail(`guardrails.${key}`, v, "a number from 0 to 1");
  }
  const ratio = g.maxP95Ratio;
  if (ratio !== undefined && !(typeof ratio === "number" && Number.isFinite(ratio) && ratio > 0)) {
    fail("guardrails.maxP95Ratio", ratio, "a positive number");
  }
  if (g.minRuns !== undefined && !(Number.isInteger(g.minRuns) && (g.minRuns as number) >= 1)) {
    fail("guardrails.minRuns", g.minRuns, "a positive integer");
  }
  if (g.windowMs !== undefined && !(typeof g.windowMs === "number" && Number.isFinite(g.windowMs) && g.windowMs > 0)) {
    fail("guardrails.windowMs", g.windowMs, "a positive number of milliseconds");
  }
  if (g.disableOnLeak !== undefined && typeof g.disableOnLeak !== "boolean") fail("guardrails.disableOnLeak", g.disableOnLeak, "a boolean");
  if (g.onTrip !== undefined && typeof g.onTrip !== "function") fail("guardrails.onTrip", g.onTrip, "a function");
}

function isPlainRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function fail(option: string, value: unknown, expected: string): never {
  throw new TypeError(`penumbra: option '${option}' must be ${expected}, got ${show(value)}`);
}

/**
 * A short rendering of a bad value for an error message.
 *
 * @internal
 * @example
 * ```ts
 * throw new TypeError(`penumbra: the control must be a function, got ${show(control)}`);
 * ```
 */
export function show(value: unknown): string {
  try {
    return inspect(value, { depth: 1, breakLength: Infinity, maxArrayLength: 5, maxStringLength: 80 });
  } catch {
    // A Proxy whose traps throw must still get its TypeError, not the trap's error.
    return describeThrown(value);
  }
}
