/**
 * Turning results into one-line JSON and back, for JSONL files, logs and the report CLI.
 *
 * A result is plain data except for what the user's code produced: observation `value`s and `error`s,
 * context, arguments and diff sides can hold anything. Serialisation therefore walks the value itself
 * instead of trusting `JSON.stringify`, so that no user value (a cycle, a BigInt, a throwing `toJSON`
 * or getter, a revoked proxy) can make publishing throw. The renderings, chosen to stay readable in a
 * file a person greps:
 *
 * | value                     | written as                                                         |
 * |---------------------------|--------------------------------------------------------------------|
 * | `Error` (anywhere)        | `{ "name", "message", "stack", ...own enumerable props, "cause"?, "errors"? }` |
 * | a thrown non-Error        | itself when it is JSON data, else a string (`"Symbol(x)"`, `"[Function: f]"`) |
 * | `undefined`, function, symbol (in data) | absent from objects, `null` in arrays (as `JSON.stringify`) |
 * | `BigInt`                  | the string `"123n"` (JSON has no big integers; the `n` says what it was) |
 * | `Map`                     | `{ "$map": [[key, value], …] }` (keys of any type survive, order kept) |
 * | `Set`                     | an array of its members                                            |
 * | `Date`                    | its ISO string (`null` when invalid, as `JSON.stringify`)          |
 * | typed array               | an array of numbers (`Buffer` keeps Node's `{ "type": "Buffer", "data" }`) |
 * | `RegExp`                  | its source string, `"/a+/g"`                                       |
 * | a cycle                   | `"[Circular]"` where the value refers back to one of its ancestors |
 * | a throwing `toJSON`/getter| `"[toJSON threw: Error: …]"` / `"[getter threw: Error: …]"`        |
 * | nesting over 200 levels   | `"[Too deep]"`                                                     |
 *
 * Reading back (`parseResultLine`) is plain `JSON.parse`: nothing is revived, so errors come back as
 * `{ name, message, stack }` objects, dates as strings, maps as `{ $map }`, sets as arrays. Everything
 * else in a result round-trips unchanged.
 */
import { inspect } from "node:util";
import type { Observation, Result } from "../types/results";
import { resultProblem } from "./schema";
import { setOwn } from "../util/own-key";

/** Deeper than this is almost certainly a linked structure, and would risk the stack. */
const MAX_DEPTH = 200;

/**
 * Converts any value into JSON-safe data by the rules of this module (see the table above); never throws.
 * Returns `undefined` for values JSON leaves out (`undefined`, functions, symbols).
 *
 * @example
 * ```ts
 * toJSONValue({ id: 1n, tags: new Set(["a"]), err: new TypeError("boom") });
 * // { id: "1n", tags: ["a"], err: { name: "TypeError", message: "boom", stack: "TypeError: boom\n    at …" } }
 * ```
 */
export function toJSONValue(value: unknown): unknown {
  return walk(value, "", []);
}

/**
 * Serialises a result as one line of JSON (no newline inside, none at the end); never throws.
 * Observation errors, thrown non-Errors included, are written so that they survive (see the module docs).
 *
 * @example
 * ```ts
 * fs.appendFileSync("results.jsonl", resultToJSON(result) + "\n");
 * ```
 */
export function resultToJSON(result: Result<unknown>): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(walk(withRenderedErrors(result), "", []));
  } catch (error) {
    // Only a broken `result` object itself (not user data, which the walk guards) can get here.
    json = JSON.stringify({ serializationError: safeString(error) });
  }
  // U+2028/U+2029 are legal inside JSON strings but some line readers treat them as line ends.
  return (json ?? "null").replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
}

/**
 * Reads one line written by {@link resultToJSON} back into a result. The data is plain JSON: errors
 * come back as `{ name, message, stack }` objects, `Date`s as ISO strings, `Map`s as `{ $map }`.
 * Throws a `SyntaxError` naming the problem for a line that is not JSON or not a result, so callers
 * reading a file can count and report bad lines and go on.
 *
 * @example
 * ```ts
 * const results = fs.readFileSync("results.jsonl", "utf8").split("\n").filter(Boolean).map(parseResultLine);
 * ```
 */
export function parseResultLine(line: string): Result<unknown> {
  if (typeof line !== "string") {
    throw new SyntaxError(`penumbra: a result line must be a string, got ${safeString(line)}`);
  }
  if (line.trim() === "") throw new SyntaxError("penumbra: empty result line");
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new SyntaxError(`penumbra: malformed result line (${reason}): ${preview(line)}`);
  }
  const problem = resultProblem(parsed);
  if (problem !== undefined) {
    throw new SyntaxError(`penumbra: not a result line (${problem}): ${preview(line)}`);
  }
  const result = parsed as Result<unknown>;
  restoreCleanedValue(result.control);
  if (Array.isArray(result.candidates)) result.candidates.forEach(restoreCleanedValue);
  return result;
}

function preview(line: string): string {
  return line.length > 80 ? `${line.slice(0, 80)}…` : line;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Replaces each observation's `error` with its rendering, which differs from a plain walk for non-Errors. */
function withRenderedErrors(result: Result<unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...result };
  out["control"] = observationWithRenderedError(result.control);
  if (Array.isArray(result.candidates)) out["candidates"] = result.candidates.map(observationWithRenderedError);
  return out;
}

function observationWithRenderedError(observation: Observation<unknown>): unknown {
  if (!isRecord(observation)) return observation;
  let out: Record<string, unknown> = observation as unknown as Record<string, unknown>;
  // Without a `clean` option the cleaned value IS the value: writing it twice doubles every line.
  // parseResultLine puts it back.
  if ("cleanedValue" in observation && observation.cleanedValue === observation.value) {
    const { cleanedValue: _same, ...rest } = observation;
    out = { ...rest, [CLEANED_IS_VALUE]: true };
  }
  if ("error" in observation) out = { ...out, error: renderThrown(observation.error) };
  return out;
}

/** Restores the `cleanedValue` that `resultToJSON` left out because it was the value itself. */
function restoreCleanedValue(observation: unknown): void {
  if (!isRecord(observation) || observation[CLEANED_IS_VALUE] !== true) return;
  delete observation[CLEANED_IS_VALUE];
  if ("value" in observation) observation["cleanedValue"] = observation["value"];
}

/** Marks an observation whose `cleanedValue` was left out because it was the value itself. */
const CLEANED_IS_VALUE = "cleanedIsValue";

/** A thrown value is evidence: keep it even when JSON would drop it (a thrown function or symbol). */
function renderThrown(thrown: unknown): unknown {
  const rendered = walk(thrown, "error", []);
  return rendered === undefined && thrown !== undefined ? safeString(thrown) : rendered;
}

function safeString(value: unknown): string {
  try {
    if (value instanceof Error) return `${String(value.name)}: ${String(value.message)}`;
  } catch {
    // fall through to inspect
  }
  try {
    return inspect(value, { depth: 1, breakLength: Infinity, maxStringLength: 200 });
  } catch {
    return "[unprintable]";
  }
}

function isError(value: object): boolean {
  return value instanceof Error || Object.prototype.toString.call(value) === "[object Error]";
}

function walk(value: unknown, key: string, ancestors: object[]): unknown {
  switch (typeof value) {
    case "string":
    case "number":
    case "boolean":
      return value;
    case "bigint":
      return `${value}n`;
    case "undefined":
    case "function":
    case "symbol":
      return undefined;
  }
  if (value === null) return null;
  const object = value as object;
  if (ancestors.includes(object)) return "[Circular]";
  if (ancestors.length >= MAX_DEPTH) return "[Too deep]";
  ancestors.push(object);
  try {
    return walkObject(object, key, ancestors);
  } catch (error) {
    // A revoked proxy, a throwing `ownKeys` trap, an exotic host object: render, don't fail.
    return `[unserializable: ${safeString(error)}]`;
  } finally {
    ancestors.pop();
  }
}

function walkObject(object: object, key: string, ancestors: object[]): unknown {
  if (isError(object)) return walkError(object as Error & Record<string, unknown>, ancestors);
  if (object instanceof Date) return Number.isNaN(object.getTime()) ? null : object.toISOString();
  if (object instanceof Map) {
    return { $map: Array.from(object, ([k, v]) => [walkItem(k, "", ancestors), walkItem(v, "", ancestors)]) };
  }
  if (object instanceof Set) return Array.from(object, (member) => walkItem(member, "", ancestors));
  if (object instanceof RegExp) return String(object);
  const toJSON = readProperty(object, "toJSON");
  if (typeof toJSON.value === "function") {
    let replaced: unknown;
    try {
      replaced = (toJSON.value as (key: string) => unknown).call(object, key);
    } catch (error) {
      return `[toJSON threw: ${safeString(error)}]`;
    }
    return walk(replaced, key, ancestors);
  }
  if (ArrayBuffer.isView(object) && !(object instanceof DataView)) {
    return Array.from(object as unknown as ArrayLike<number | bigint>, (n) => walkItem(n, "", ancestors));
  }
  if (Array.isArray(object)) return object.map((item, index) => walkItem(item, String(index), ancestors));
  return walkProperties(object, Object.keys(object), {}, ancestors);
}

/** Array slots JSON cannot hold become `null`, as with `JSON.stringify`, so indices keep their meaning. */
function walkItem(item: unknown, key: string, ancestors: object[]): unknown {
  const rendered = walk(item, key, ancestors);
  return rendered === undefined ? null : rendered;
}

function walkProperties(
  object: object,
  keys: readonly string[],
  into: Record<string, unknown>,
  ancestors: object[],
): Record<string, unknown> {
  for (const key of keys) {
    const read = readProperty(object, key);
    const rendered = read.threw ? `[getter threw: ${safeString(read.value)}]` : walk(read.value, key, ancestors);
    if (rendered !== undefined) setOwn(into, key, rendered);
  }
  return into;
}

function readProperty(object: object, key: string): { value: unknown; threw: boolean } {
  try {
    return { value: (object as Record<string, unknown>)[key], threw: false };
  } catch (error) {
    return { value: error, threw: true };
  }
}

function walkError(error: Error & Record<string, unknown>, ancestors: object[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of ["name", "message", "stack"] as const) {
    const read = readProperty(error, key);
    if (read.threw) out[key] = `[getter threw: ${safeString(read.value)}]`;
    else if (read.value !== undefined) out[key] = typeof read.value === "string" ? read.value : safeString(read.value);
  }
  walkProperties(error, Object.keys(error), out, ancestors);
  // `cause` and AggregateError's `errors` are own but not enumerable; they are often the real story.
  for (const key of ["cause", "errors"] as const) {
    if (key in out || !Object.prototype.hasOwnProperty.call(error, key)) continue;
    walkProperties(error, [key], out, ancestors);
  }
  return out;
}
