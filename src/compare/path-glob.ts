/**
 * Reading diff paths back into segments, and matching them against globs written in the same syntax
 * (`lines[*].tax`, `meta`, `**.updatedAt`). This is what `noise.paths`, `noise.arrayOrder` and the
 * epoch-number paths of `noise.timestamps` are built on.
 *
 * Segments are strings in their canonical written form, so that every kind of segment stays
 * distinguishable from every other without a tagged structure:
 *
 * | segment | written | example path → segments |
 * |---|---|---|
 * | identifier key | bare | `meta.traceId` → `["meta", "traceId"]` |
 * | other key | JSON in brackets | `["a.b"].c` → `['["a.b"]', "c"]` |
 * | array index | `[i]` | `lines[2].tax` → `["lines", "[2]", "tax"]` |
 * | Map entry | `.get(<key>)` | `prices.get("EUR")` → `["prices", '.get("EUR")']` |
 * | Set members | `{}` | `tags{}` → `["tags", "{}"]` |
 *
 * A key named `[2]` is therefore `'["[2]"]'`, never the index `"[2]"`, and a quoted identifier such as
 * `["total"]` is read as `total`, the form the path builder writes.
 */
import { isIdentifierKey } from "./path";

/**
 * Splits a diff path into its segments, in canonical written form (see the module's table). The
 * inverse of the path builder in `src/compare/path.ts`: `""` is the root, `[]`.
 *
 * @throws TypeError when `path` is not in the path syntax (the engine's `(status)` and `(error)` are not).
 *
 * @example
 * ```ts
 * parsePath("lines[2].tax"); // ["lines", "[2]", "tax"]
 * parsePath('meta["a.b"]'); // ["meta", '["a.b"]']
 * parsePath('prices.get("EUR")'); // ["prices", '.get("EUR")']
 * parsePath("tags{}"); // ["tags", "{}"]
 * ```
 */
export function parsePath(path: string): string[] {
  if (typeof path !== "string") throw new TypeError(`penumbra: a path must be a string, got ${typeof path}`);
  const segments = parseSegments(path, 0, false);
  if (segments === undefined) throw new TypeError(`penumbra: invalid path ${JSON.stringify(path)}`);
  return segments.map((token) => (token as Literal).text);
}

/**
 * Compiles globs into one predicate over diff paths: true when any glob matches.
 *
 * Globs use the path syntax, plus wildcards that stand for whole segments: `*` (also written `[*]`)
 * matches exactly one segment of any kind (key, index, Map entry or Set members), `**` any number of
 * segments, none included. `[2]` is the literal index 2 and `["a.b"]` the literal key `a.b` (so
 * `["*"]` is a key named `*`). `""` is the root.
 *
 * By default a glob that matches a path also matches every path below it (`meta` covers
 * `meta.traceId` and `meta.tags[0]`); with `{ descendants: false }` it matches only the paths it
 * names (`orders.**` then names `orders` and everything below). Paths that are not in the path syntax,
 * such as the engine's `(status)` and `(error)`, match no glob.
 *
 * @throws TypeError naming the first glob that is not a string or not valid.
 *
 * @example
 * ```ts
 * const isNoise = pathMatcher(["meta", "lines[*].tax", "**.updatedAt"]);
 * isNoise("meta.tags[0]"); // true
 * isNoise("lines[3].tax"); // true
 * isNoise("order.customer.updatedAt"); // true
 * isNoise("total"); // false
 * ```
 */
export function pathMatcher(globs: readonly string[], options?: { descendants?: boolean }): (path: string) => boolean {
  if (!Array.isArray(globs)) throw new TypeError(`penumbra: globs must be an array of strings, got ${typeof globs}`);
  const descendants = options?.descendants ?? true;
  const compiled = globs.map((glob) => compileGlob(glob, descendants));
  return (path: string): boolean => {
    const segments = cachedSegments(path);
    if (segments === undefined) return false;
    for (let i = 0; i < compiled.length; i++) {
      if (matchTokens(compiled[i] as readonly Token[], segments)) return true;
    }
    return false;
  };
}

/**
 * Parses one glob, throwing a `TypeError` that names it when it is not valid. Rule factories call it
 * at construction so that a typo fails where it was written, not on the first mismatch.
 *
 * @example
 * ```ts
 * checkGlob("lines[*].tax"); // ok
 * checkGlob("lines[x]"); // TypeError: penumbra: invalid glob "lines[x]"
 * ```
 */
export function checkGlob(glob: unknown): void {
  compileGlob(glob, false);
}

// ---------------------------------------------------------------------------------------------------

interface Literal {
  readonly text: string;
}
/** A wildcard: `one` is `*` (exactly one segment), otherwise `**` (any number). */
interface Wildcard {
  readonly one: boolean;
}
type Token = Literal | Wildcard;

const STAR: Wildcard = Object.freeze({ one: true });
const GLOBSTAR: Wildcard = Object.freeze({ one: false });

function compileGlob(glob: unknown, descendants: boolean): readonly Token[] {
  if (typeof glob !== "string") {
    throw new TypeError(`penumbra: a glob must be a string, got ${glob === null ? "null" : typeof glob}`);
  }
  const tokens = parseSegments(glob, 0, true);
  if (tokens === undefined) throw new TypeError(`penumbra: invalid glob ${JSON.stringify(glob)}`);
  // "matches a path and every path below it" is exactly "the glob followed by `**` matches it whole",
  // so one exact matcher serves both semantics.
  if (descendants && tokens[tokens.length - 1] !== GLOBSTAR) tokens.push(GLOBSTAR);
  return tokens;
}

/**
 * Exact match of tokens against segments, `*` consuming one and `**` any number. The classic
 * wildcard backtracking: on a failure, resume after the last `**` with one more segment consumed,
 * which is O(tokens × segments) at worst and linear for the usual globs.
 */
function matchTokens(tokens: readonly Token[], segments: readonly string[]): boolean {
  let t = 0;
  let s = 0;
  let starToken = -1;
  let starSegment = 0;
  while (s < segments.length) {
    const token = tokens[t];
    if (token === GLOBSTAR) {
      starToken = t++;
      starSegment = s;
    } else if (token !== undefined && (token === STAR || (token as Literal).text === segments[s])) {
      t++;
      s++;
    } else if (starToken >= 0) {
      t = starToken + 1;
      s = ++starSegment;
    } else {
      return false;
    }
  }
  while (tokens[t] === GLOBSTAR) t++;
  return t === tokens.length;
}

// The engine asks about the same few paths over and over (one shape of answer per experiment), so
// parsed paths are kept; bounded, oldest first out, so that unusual paths (Map keys, long arrays)
// cannot grow it without limit.
const CACHE_LIMIT = 512;
const cache = new Map<string, readonly string[] | null>();

function cachedSegments(path: string): readonly string[] | undefined {
  const hit = cache.get(path);
  if (hit !== undefined) return hit ?? undefined;
  const tokens = typeof path === "string" ? parseSegments(path, 0, false) : undefined;
  const segments = tokens === undefined ? undefined : tokens.map((token) => (token as Literal).text);
  if (cache.size >= CACHE_LIMIT) {
    const oldest = cache.keys().next();
    if (oldest.done !== true) cache.delete(oldest.value);
  }
  if (typeof path === "string") cache.set(path, segments === undefined ? null : Object.freeze(segments));
  return segments;
}

// ---------------------------------------------------------------------------------------------------
// The parser: one function for paths and globs (globs add `*`, `[*]` and `**`), returning undefined
// instead of throwing so the Map-key reader below can try alternatives cheaply.

const IDENTIFIER_AT = /[A-Za-z_$][A-Za-z0-9_$]*/y;
const INDEX_AT = /\[(0|[1-9][0-9]*)\]/y;

/**
 * Bounds on the Map-key reader's backtracking: how many non-JSON `.get(…)` keys may nest in one path
 * and how many ends it may try in all. Past them the text is not a path (it matches no glob), so a
 * hostile or enormous path costs bounded work and no deep recursion; JSON keys need no backtracking
 * and are read inline, at any depth.
 */
const MAX_RENDERED_KEYS = 256;
const MAX_ATTEMPTS = 4096;
/** A rendered key is at most 40 characters: its end is among the next few `)`. */
const MAX_ENDS = 64;

interface ParseBudget {
  nested: number;
  attempts: number;
}

function parseSegments(text: string, from: number, glob: boolean, budget: ParseBudget = { nested: 0, attempts: 0 }): Token[] | undefined {
  const tokens: Token[] = [];
  let pos = from;
  // At the start a key has no leading dot; everywhere else it must follow one.
  let keyAllowed = from === 0;
  while (pos < text.length) {
    const ch = text[pos];
    if (ch === ".") {
      if (text.startsWith(".get(", pos)) {
        if (text[pos + 5] === '"') {
          // A JSON string key ends at its closing quote: no alternatives to try.
          const end = jsonStringEnd(text, pos + 5);
          if (end === undefined || text[end] !== ")") return undefined;
          try {
            JSON.parse(text.slice(pos + 5, end));
          } catch {
            return undefined;
          }
          tokens.push({ text: text.slice(pos, end + 1) });
          pos = end + 1;
          keyAllowed = false;
          continue;
        }
        if (budget.nested >= MAX_RENDERED_KEYS) return undefined;
        budget.nested++;
        const entry = readMapEntry(text, pos, glob, budget);
        budget.nested--;
        if (entry === undefined) return undefined;
        for (const token of entry.tokens) tokens.push(token);
        return tokens;
      }
      // A root key is written without a dot: only a Map entry keeps its leading dot at the root.
      if (pos === 0) return undefined;
      pos++;
      keyAllowed = true;
      if (pos >= text.length) return undefined;
      if (text[pos] === "[" || text[pos] === "{" || text[pos] === ".") return undefined;
      continue;
    }
    if (keyAllowed) {
      keyAllowed = false;
      if (glob && text[pos] === "*") {
        const double = text[pos + 1] === "*";
        pos += double ? 2 : 1;
        if (!atBoundary(text, pos)) return undefined;
        tokens.push(double ? GLOBSTAR : STAR);
        continue;
      }
      IDENTIFIER_AT.lastIndex = pos;
      const key = IDENTIFIER_AT.exec(text);
      if (key !== null) {
        pos += key[0].length;
        if (!atBoundary(text, pos)) return undefined;
        tokens.push({ text: key[0] });
        continue;
      }
      // A dot must be followed by a key; at the start, brackets and braces are fine.
      if (tokens.length > 0 || from !== pos) return undefined;
    }
    if (ch === "[") {
      if (glob && text.startsWith("[*]", pos)) {
        tokens.push(STAR);
        pos += 3;
        continue;
      }
      if (text[pos + 1] === '"') {
        const end = jsonStringEnd(text, pos + 1);
        if (end === undefined || text[end] !== "]") return undefined;
        let key: unknown;
        try {
          key = JSON.parse(text.slice(pos + 1, end));
        } catch {
          return undefined;
        }
        tokens.push({ text: keySegment(key as string) });
        pos = end + 1;
        continue;
      }
      INDEX_AT.lastIndex = pos;
      const index = INDEX_AT.exec(text);
      if (index === null) return undefined;
      tokens.push({ text: index[0] });
      pos += index[0].length;
      continue;
    }
    if (ch === "{") {
      if (text[pos + 1] !== "}") return undefined;
      tokens.push({ text: "{}" });
      pos += 2;
      continue;
    }
    return undefined;
  }
  return tokens;
}

/** The canonical form of a key: bare when the builder would write it after a dot, JSON otherwise. */
function keySegment(key: string): string {
  return isIdentifierKey(key) ? key : `[${JSON.stringify(key)}]`;
}

function atBoundary(text: string, pos: number): boolean {
  const next = text[pos];
  return next === undefined || next === "." || next === "[" || next === "{";
}

/** The index just past the closing quote of the JSON string opening at `open`, if it closes. */
function jsonStringEnd(text: string, open: number): number | undefined {
  for (let i = open + 1; i < text.length; i++) {
    const ch = text[i];
    if (ch === "\\") i++;
    else if (ch === '"') return i + 1;
  }
  return undefined;
}

/**
 * Reads `.get(<key>)` and everything after it, for a key that is not a JSON string: such a key is the builder's readable rendering (`10n`, `Symbol(a)`, `{"id":1}`, or a 40-character cut
 * ending in `…` that may leave brackets unbalanced), so its end is not syntactic: the reader tries the
 * bracket-balanced `)` first, then every `)` from the left, and keeps the first after which the rest
 * of the text is a valid path.
 */
function readMapEntry(text: string, dot: number, glob: boolean, budget: ParseBudget): { tokens: Token[] } | undefined {
  const open = dot + 4; // the "("
  const keyStart = open + 1;
  // JSON string keys are read inline by parseSegments; this is the rendered (non-JSON) kind.
  const candidates: number[] = [];
  const balanced = balancedClose(text, keyStart);
  if (balanced !== undefined) candidates.push(balanced);
  for (let i = text.indexOf(")", keyStart); i >= 0 && candidates.length < MAX_ENDS; i = text.indexOf(")", i + 1)) {
    if (i !== balanced) candidates.push(i);
  }
  for (const close of candidates) {
    if (close === keyStart) continue; // `.get()` names no key
    if (++budget.attempts > MAX_ATTEMPTS) return undefined;
    const rest = parseSegments(text, close + 1, glob, budget);
    if (rest !== undefined) return { tokens: [{ text: text.slice(dot, close + 1) }, ...rest] };
  }
  return undefined;
}

/** The `)` closing `.get(` when brackets balance and strings close, else undefined. */
function balancedClose(text: string, from: number): number | undefined {
  let depth = 0;
  for (let i = from; i < text.length; i++) {
    const ch = text[i];
    if (ch === '"') {
      const end = jsonStringEnd(text, i);
      if (end === undefined) return undefined;
      i = end - 1;
    } else if (ch === "(" || ch === "[" || ch === "{") {
      depth++;
    } else if (ch === ")" || ch === "]" || ch === "}") {
      if (depth === 0) return ch === ")" ? i : undefined;
      depth--;
    }
  }
  return undefined;
}
