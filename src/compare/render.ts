/**
 * Short, single-line renderings of arbitrary values for mismatch summaries and `Map`-key paths.
 * JSON where the value is JSON, a readable form where it is not; bounded in work and length, and
 * never throwing, because it runs on whatever a candidate happened to return.
 */
import { types } from "node:util";
import { UNREADABLE, constructorNameOf, errorMessageOf, errorNameOf, isErrorLike, safeGet } from "./safe-read";

const ELLIPSIS = "…";

/**
 * Cuts `text` to at most `maxLength` characters, the last of them `…`, without splitting a
 * surrogate pair.
 *
 * @example
 * ```ts
 * truncate("abcdef", 4); // "abc…"
 * ```
 */
export function truncate(text: string, maxLength: number): string {
  if (text.length <= maxLength) return text;
  if (maxLength < 1) return ELLIPSIS;
  let cut = maxLength - 1;
  const last = text.charCodeAt(cut - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut -= 1;
  return text.slice(0, cut) + ELLIPSIS;
}

/**
 * Cuts `text` to at most `maxLength` characters by dropping its middle for `…`: a path's start says
 * where it is, its end which field differs (`level.level.l…level.total`). Never splits a surrogate pair.
 *
 * @example
 * ```ts
 * truncateMiddle("abcdefgh", 5); // "ab…gh"
 * ```
 */
export function truncateMiddle(text: string, maxLength: number): string {
  if (text.length <= maxLength) return text;
  if (maxLength < 3) return truncate(text, maxLength);
  let head = Math.floor((maxLength - 1) / 2);
  let tail = text.length - (maxLength - 1 - head);
  if (isHighSurrogate(text.charCodeAt(head - 1))) head -= 1;
  if (isLowSurrogate(text.charCodeAt(tail))) tail += 1;
  return `${text.slice(0, head)}…${text.slice(tail)}`;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

/**
 * Renders a value in one line: JSON for JSON values (`49.9`, `"EUR"`, `{"total":1}`, `[1,2]`), a
 * readable form otherwise (`undefined`, `NaN`, `123n`, a Date as its quoted ISO string,
 * `Map(1) {"EUR" => 1}`, `Set(2) {1, 2}`, `[Function name]`, `[Circular]`), cut with `…` beyond
 * `maxLength` characters. Keys holding `undefined` are left out, as in JSON. Never throws: a throwing
 * `toJSON` falls back to the object's fields, a throwing getter renders as `[Getter threw]`.
 *
 * @example
 * ```ts
 * formatValue({ total: 1 }); // '{"total":1}'
 * formatValue(new Map([["EUR", 1]])); // 'Map(1) {"EUR" => 1}'
 * formatValue("x".repeat(100), 10); // '"xxxxxxxx…'
 * ```
 */
export function formatValue(value: unknown, maxLength = 60): string {
  let text: string;
  try {
    const writer = new Writer(maxLength);
    writer.write(value);
    text = writer.out;
  } catch {
    text = fallback(value);
  }
  return truncate(escapeLine(text), maxLength);
}

// C0 and C1 controls (newline and tab included), bidirectional marks and overrides, the line and
// paragraph separators, and lone surrogates. JSON.stringify escapes the C0 controls inside strings
// but not the rest, and a symbol's description, a function's or class's name and an error's message
// are written raw.
const UNPRINTABLE =
  /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * Escapes everything that would stop `text` from reading as one line, in the order it holds:
 * control characters (newline and tab included), bidirectional marks and overrides, the line and
 * paragraph separators and lone surrogates become `\uXXXX`. Text from a user's value (an error
 * message, a key, a symbol's description) can then neither break a summary nor drive the terminal
 * it is printed to.
 *
 * @example
 * ```ts
 * escapeLine("a\nb\u202ec"); // "a\\nb\\u202ec"
 * ```
 */
export function escapeLine(text: string): string {
  return text.replace(UNPRINTABLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

function fallback(value: unknown): string {
  try {
    return Object.prototype.toString.call(value);
  } catch {
    return "[unreadable value]";
  }
}

const constructorName = constructorNameOf;

/**
 * How many objects deep the renderer descends before writing `…`. Each level normally costs output,
 * so the length budget ends a deep walk first; this bounds the rest (a `toJSON` that returns a fresh
 * object with its own `toJSON`, for ever), so rendering never recurses past a fixed depth.
 */
const MAX_RENDER_DEPTH = 32;

/** Appends pieces to one string and stops descending once the length budget is spent. */
class Writer {
  out = "";
  private readonly stack: object[] = [];
  private readonly budget: number;

  constructor(maxLength: number) {
    // One character past the limit is enough to know the result will be cut.
    this.budget = maxLength + 1;
  }

  private get full(): boolean {
    return this.out.length > this.budget;
  }

  write(value: unknown): void {
    switch (typeof value) {
      case "string":
        this.out += JSON.stringify(value.length > this.budget ? value.slice(0, this.budget) : value);
        return;
      case "number":
        this.out += Number.isFinite(value) ? JSON.stringify(value) : String(value);
        return;
      case "bigint":
        this.out += `${value}n`;
        return;
      case "boolean":
        this.out += String(value);
        return;
      case "undefined":
        this.out += "undefined";
        return;
      case "symbol":
        // String() on a symbol never calls user code (a patched Symbol.prototype.toString would).
        this.out += String(value);
        return;
      case "function": {
        const name = safeGet(value, "name");
        this.out += `[Function ${typeof name === "string" && name !== "" ? name.slice(0, 200) : "(anonymous)"}]`;
        return;
      }
      default:
        if (value === null) {
          this.out += "null";
          return;
        }
        this.writeObject(value as object);
    }
  }

  private writeObject(value: object): void {
    if (this.stack.includes(value)) {
      this.out += "[Circular]";
      return;
    }
    if (this.stack.length >= MAX_RENDER_DEPTH) {
      this.out += ELLIPSIS;
      return;
    }
    this.stack.push(value);
    try {
      this.writeObjectBody(value);
    } finally {
      this.stack.pop();
    }
  }

  private writeObjectBody(value: object): void {
    if (Array.isArray(value)) return this.writeArray(value);
    if (types.isDate(value)) {
      const time = Date.prototype.getTime.call(value);
      this.out += Number.isNaN(time) ? "Invalid Date" : JSON.stringify(Date.prototype.toISOString.call(value));
      return;
    }
    if (types.isMap(value)) return this.writeMap(value as Map<unknown, unknown>);
    if (types.isSet(value)) return this.writeSet(value as Set<unknown>);
    if (types.isArrayBufferView(value)) return this.writeView(value);
    if (types.isAnyArrayBuffer(value)) {
      this.out += `${constructorName(value) ?? "ArrayBuffer"}(${value.byteLength})`;
      return;
    }
    if (types.isRegExp(value)) {
      this.out += RegExp.prototype.toString.call(value);
      return;
    }
    if (types.isBoxedPrimitive(value)) return this.writeBoxed(value);
    if (isErrorLike(value)) {
      this.out += `[${errorLabel(value)}]`;
      return;
    }
    if (this.writeToJSON(value)) return;
    this.writeFields(value);
  }

  /** Honours `toJSON` like `JSON.stringify` does; false when there is none or it threw. */
  private writeToJSON(value: object): boolean {
    let toJSON: unknown;
    try {
      toJSON = (value as { toJSON?: unknown }).toJSON;
    } catch {
      return false;
    }
    if (typeof toJSON !== "function") return false;
    let json: unknown;
    try {
      json = (toJSON as (this: object, key: string) => unknown).call(value, "");
    } catch {
      return false;
    }
    if (json === value) return false;
    this.write(json);
    return true;
  }

  private writeArray(value: readonly unknown[]): void {
    this.out += "[";
    for (let i = 0; i < value.length; i++) {
      if (i > 0) this.out += ",";
      if (this.full) return;
      this.writeField(this.read(value, String(i)));
    }
    this.out += "]";
  }

  private writeMap(value: Map<unknown, unknown>): void {
    this.out += `Map(${value.size}) {`;
    let first = true;
    for (const [key, entry] of value) {
      if (!first) this.out += ", ";
      first = false;
      if (this.full) return;
      this.write(key);
      this.out += " => ";
      this.write(entry);
    }
    this.out += "}";
  }

  private writeSet(value: Set<unknown>): void {
    this.out += `Set(${value.size}) {`;
    let first = true;
    for (const member of value) {
      if (!first) this.out += ", ";
      first = false;
      if (this.full) return;
      this.write(member);
    }
    this.out += "}";
  }

  private writeView(value: ArrayBufferView): void {
    const name = constructorName(value) ?? "TypedArray";
    if (types.isDataView(value)) {
      this.out += `${name}(${value.byteLength})`;
      return;
    }
    const items = value as unknown as ArrayLike<number | bigint>;
    this.out += `${name}(${items.length}) [`;
    for (let i = 0; i < items.length; i++) {
      if (i > 0) this.out += ",";
      if (this.full) return;
      this.write(items[i]);
    }
    this.out += "]";
  }

  private writeBoxed(value: object): void {
    const inner = types.isNumberObject(value)
      ? Number.prototype.valueOf.call(value)
      : types.isStringObject(value)
        ? String.prototype.valueOf.call(value)
        : types.isBooleanObject(value)
          ? Boolean.prototype.valueOf.call(value)
          : types.isBigIntObject(value)
            ? BigInt.prototype.valueOf.call(value)
            : Symbol.prototype.valueOf.call(value);
    const kind = typeof inner;
    this.out += `[${kind.charAt(0).toUpperCase()}${kind.slice(1)}: `;
    this.write(inner);
    this.out += "]";
  }

  private writeFields(value: object): void {
    const name = constructorName(value);
    if (name !== undefined) this.out += `${name} `;
    this.out += "{";
    const keys = Object.keys(value);
    let first = true;
    for (let i = 0; i < keys.length; i++) {
      if (this.full) return;
      const key = keys[i] as string;
      const field = this.read(value, key);
      if (field === undefined) continue;
      if (!first) this.out += ",";
      first = false;
      this.out += `${JSON.stringify(key)}:`;
      this.writeField(field);
    }
    this.out += "}";
  }

  private writeField(field: unknown): void {
    if (field === GETTER_THREW) this.out += "[Getter threw]";
    else this.write(field);
  }

  private read(value: object, key: string): unknown {
    try {
      return (value as Record<string, unknown>)[key];
    } catch {
      return GETTER_THREW;
    }
  }
}

/** What `read` returns when a getter threw, so the field renders as a marker instead of failing. */
const GETTER_THREW = Symbol("getter threw");

/**
 * `Name: message` for an error (just `Name` when the message is empty, `Name: (message unreadable)`
 * when reading it threw or gave something other than text), without throwing or calling user code
 * beyond the `name` and `message` reads.
 *
 * @example
 * ```ts
 * errorLabel(new TypeError("boom")); // "TypeError: boom"
 * ```
 */
export function errorLabel(error: object): string {
  // Cut before joining: a hostile error may carry a message of hundreds of megabytes.
  const name = errorNameOf(error).slice(0, MAX_LABEL_PART);
  const message = errorMessageOf(error);
  if (message === UNREADABLE) return `${name}: (message unreadable)`;
  return message === "" ? name : `${name}: ${message.slice(0, MAX_LABEL_PART)}`;
}

const MAX_LABEL_PART = 4096;
