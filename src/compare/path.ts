/**
 * The path syntax of `FieldDiff.path`: `lines[2].tax`, `meta["a.b"]`, `prices.get("EUR")`, `tags{}`,
 * `""` for the root. Paths are built from segments only when a difference is reported, so the
 * comparison walkers carry cheap segments and never concatenate strings on the equal path.
 */
import { formatValue } from "./render";

/** A `Map` entry, addressed by its key. @internal @example `formatPath(["prices", mapKey("EUR")]) // prices.get("EUR")` */
export interface MapKeySegment {
  readonly mapKey: unknown;
}

/** The members of a `Set` as a whole (a Set has no addressable positions). @internal @example `formatPath(["tags", SET_MEMBER]) // tags{}` */
export interface SetMemberSegment {
  readonly setMember: true;
}

/**
 * One step of a path: a string is an object key, a number an array index, then Map entries and Set
 * members.
 *
 * @example
 * ```ts
 * const segments: PathSegment[] = ["lines", 2, "tax"]; // lines[2].tax
 * ```
 */
export type PathSegment = string | number | MapKeySegment | SetMemberSegment;

/**
 * The single Set-member segment; shared, since it carries no data.
 *
 * @example
 * ```ts
 * formatPath(["tags", SET_MEMBER]); // "tags{}"
 * ```
 */
export const SET_MEMBER: SetMemberSegment = Object.freeze({ setMember: true });

/**
 * A Map-entry segment for `key`.
 *
 * @example
 * ```ts
 * formatPath(["prices", mapKey("EUR")]); // 'prices.get("EUR")'
 * ```
 */
export function mapKey(key: unknown): MapKeySegment {
  return { mapKey: key };
}

// ASCII only: a reader (or a noise glob) should never have to wonder whether `é` needed quoting.
const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/**
 * True when `key` can be written after a dot (`meta.traceId`) rather than in brackets (`["a.b"]`).
 *
 * @example
 * ```ts
 * isIdentifierKey("traceId"); // true
 * isIdentifierKey("1abc"); // false
 * ```
 */
export function isIdentifierKey(key: string): boolean {
  return IDENTIFIER.test(key);
}

/**
 * Appends an object key: `.key` for identifiers (no dot at the root), `["key"]` (JSON) otherwise.
 *
 * @example
 * ```ts
 * appendKey("meta", "traceId"); // "meta.traceId"
 * appendKey("", "a.b"); // '["a.b"]'
 * ```
 */
export function appendKey(path: string, key: string): string {
  if (IDENTIFIER.test(key)) return path === "" ? key : `${path}.${key}`;
  return `${path}[${JSON.stringify(key)}]`;
}

/**
 * Appends an array index: `[i]`.
 *
 * @example
 * ```ts
 * appendIndex("lines", 2); // "lines[2]"
 * ```
 */
export function appendIndex(path: string, index: number): string {
  return `${path}[${index}]`;
}

/**
 * Renders a Map key for `.get(…)`: JSON for strings, finite numbers, booleans and `null`; for other
 * keys the same readable form as the summary's values (`undefined`, `NaN`, `1n`, `Symbol(x)`,
 * `{"id":1}`, `[Function f]`), cut at 40 characters. Such renderings can collide (two distinct object
 * keys with the same fields); the path is for reading, the diff's values carry the exact entries.
 *
 * @example
 * ```ts
 * renderMapKey("EUR"); // '"EUR"'
 * renderMapKey(10n); // "10n"
 * ```
 */
export function renderMapKey(key: unknown): string {
  if (typeof key === "string") return JSON.stringify(key);
  return formatValue(key, 40);
}

/**
 * Appends a Map entry: `.get(<key>)`, with a dot even at the root so it never reads as a key named
 * `get(…)`.
 *
 * @example
 * ```ts
 * appendMapKey("prices", "EUR"); // 'prices.get("EUR")'
 * ```
 */
export function appendMapKey(path: string, key: unknown): string {
  return `${path}.get(${renderMapKey(key)})`;
}

/**
 * Appends the Set-members marker: `{}`.
 *
 * @example
 * ```ts
 * appendSetMember("tags"); // "tags{}"
 * ```
 */
export function appendSetMember(path: string): string {
  return `${path}{}`;
}

/**
 * Joins segments into a path string; `[]` is the root, `""`.
 *
 * @example
 * ```ts
 * formatPath(["lines", 2, "tax"]); // "lines[2].tax"
 * formatPath(["meta", "a.b"]); // 'meta["a.b"]'
 * ```
 */
export function formatPath(segments: readonly PathSegment[]): string {
  let path = "";
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i] as PathSegment;
    if (typeof segment === "string") path = appendKey(path, segment);
    else if (typeof segment === "number") path = appendIndex(path, segment);
    else if ("mapKey" in segment) path = appendMapKey(path, segment.mapKey);
    else path = appendSetMember(path);
  }
  return path;
}

/**
 * The path as shown to people: `(root)` for `""`, the path itself otherwise.
 *
 * @example
 * ```ts
 * displayPath(""); // "(root)"
 * displayPath("total"); // "total"
 * ```
 */
export function displayPath(path: string): string {
  return path === "" ? "(root)" : path;
}
