/**
 * The comparable representation of an HTTP response, shared by `penumbra/http` and `penumbra/express`.
 *
 * The engine's `compare` and `statusOf` are synchronous and see the behaviours' values, while a
 * response body is a stream that can be read once. So the integrations read bodies inside the
 * behaviours and make the experiment's values plain data: `{ status, headers, body }`. Plain data is
 * what the engine already diffs field by field, buckets, snapshots and publishes.
 */
import { createHash, type Hash } from "node:crypto";
import type { OutgoingHttpHeaders } from "node:http";
import { pathMatcher } from "../../compare/path-glob";
import { isIdentifierKey } from "../../compare/path";
import type { BucketRule } from "../../types/options";
import type { FieldDiff } from "../../types/results";
import { show } from "../../experiment/index";

/**
 * A response as the experiment compares it: status, lower-cased headers and a decoded body.
 *
 * `body` is the parsed JSON for a JSON content type, the text for a textual one, `null` for an empty
 * body, and a {@link BodyDigest} for a binary body or one over `maxBodyBytes`.
 *
 * @example
 * ```ts
 * const seen: ComparableResponse = { status: 200, headers: { "content-type": "application/json" }, body: { total: 1 } };
 * ```
 */
export interface ComparableResponse {
  status: number;
  /** Lower-cased names; `set-cookie` is always a list, every other header one string. */
  headers: Record<string, string | string[]>;
  body: unknown;
  /** `penumbra/express` only: how the handler called `next` instead of answering, e.g. `next()`. */
  next?: string;
  /**
   * The body was not read to its end. `"cancelled"`: the client left after `bytes` bytes (the caller
   * cancelled the served body; in Express, the live response closed before it finished), and the
   * other side was read to the same length, so both compare the same prefix. `"failed"`
   * (`penumbra/http`): the body stream errored there.
   */
  bodyCut?: BodyCut;
}

/**
 * Where and why a body was not read to its end (see {@link ComparableResponse.bodyCut}).
 *
 * @example
 * ```ts
 * const cut: BodyCut = { bytes: 4096, reason: "cancelled" };
 * ```
 */
export interface BodyCut {
  bytes: number;
  reason: "cancelled" | "failed";
}

/**
 * A body compared by size and content hash: binary bodies, and bodies over `maxBodyBytes`.
 *
 * @example
 * ```ts
 * const digest: BodyDigest = { length: 3, sha256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" };
 * ```
 */
export interface BodyDigest {
  length: number;
  sha256: string;
}

/**
 * Options shared by `shadowHandler` and `shadowExpress` on top of the experiment's own.
 *
 * @example
 * ```ts
 * const http: HttpComparisonOptions = { maxBodyBytes: 64 * 1024, noiseHeaders: [...defaultNoiseHeaders, "x-cache"] };
 * ```
 */
export interface HttpComparisonOptions {
  /** Bodies up to this many bytes are decoded and diffed; longer ones by length and hash. @default 1 MiB */
  maxBodyBytes?: number;
  /**
   * Headers whose values differ from call to call. Replaces the default list (spread
   * `defaultNoiseHeaders` to extend it). A header present on one side only is still a difference.
   * @default defaultNoiseHeaders
   */
  noiseHeaders?: readonly string[];
}

/**
 * Headers whose values are per-response by nature (clocks, ids, tracing, sessions): a different value
 * is noise, not a mismatch. Spread it into `noiseHeaders` to add your own.
 *
 * @example
 * ```ts
 * shadowHandler(oldApi, newApi, { noiseHeaders: [...defaultNoiseHeaders, "x-cache"] });
 * ```
 */
export const defaultNoiseHeaders: readonly string[] = Object.freeze([
  "date",
  "expires",
  "age",
  "x-request-id",
  "x-correlation-id",
  "request-id",
  "traceparent",
  "tracestate",
  "set-cookie",
  "server-timing",
  "x-response-time",
]);

/**
 * The default `maxBodyBytes`: 1 MiB.
 *
 * @example
 * ```ts
 * shadowHandler(oldApi, newApi, { maxBodyBytes: DEFAULT_MAX_BODY_BYTES / 16 });
 * ```
 */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

/**
 * Checks `maxBodyBytes` where the experiment is built, never on the request path.
 *
 * @internal
 * @example
 * ```ts
 * const cap = checkMaxBodyBytes(options.maxBodyBytes);
 * ```
 */
export function checkMaxBodyBytes(value: number | undefined): number {
  if (value === undefined) return DEFAULT_MAX_BODY_BYTES;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0) {
    throw new TypeError(`penumbra: options.maxBodyBytes must be a non-negative integer, got ${show(value)}`);
  }
  return value;
}

/**
 * Collects a body's bytes up to a cap; past the cap it stops buffering but keeps counting and hashing,
 * so a huge or endless body costs memory for the cap only.
 *
 * @internal
 * @example
 * ```ts
 * const body = new BoundedBody(1024);
 * body.push(chunk);
 * const value = body.represent("application/json");
 * ```
 */
export class BoundedBody {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private overCap = false;
  private readonly hash: Hash = createHash("sha256");
  /** Every byte seen, buffered or not. */
  length = 0;

  constructor(private readonly cap: number) {}

  /** Adds a chunk; copied, because a writer may reuse its buffer after the write returns. */
  push(chunk: Uint8Array): void {
    this.length += chunk.byteLength;
    this.hash.update(chunk);
    if (this.overCap) return;
    if (this.buffered + chunk.byteLength > this.cap) {
      this.overCap = true;
      this.chunks = [];
      return;
    }
    this.chunks.push(Buffer.from(chunk));
    this.buffered += chunk.byteLength;
  }

  /** The body's comparable value, decoded by its content type (see {@link ComparableResponse}). */
  represent(contentType: string | undefined): unknown {
    if (this.length === 0) return null;
    if (this.overCap) return this.digest();
    let bytes: Buffer = Buffer.concat(this.chunks);
    const kind = classify(contentType);
    const boundary = kind === "multipart" ? boundaryOf(contentType) : undefined;
    if (boundary !== undefined) {
      // The boundary is framing picked at random per response: compared as a placeholder.
      bytes = replaceAll(bytes, Buffer.from(boundary, "latin1"), Buffer.from(BOUNDARY_PLACEHOLDER, "latin1"));
      return decodeStrictly(bytes, undefined) ?? { length: bytes.length, sha256: createHash("sha256").update(bytes).digest("hex") };
    }
    if (kind === "binary" || kind === "multipart") return this.digest();
    // Decoded strictly: a lenient decoder turns every invalid sequence into U+FFFD, and two
    // different bodies would compare equal. Bytes that are not text in their charset are compared
    // by length and hash, like binary.
    const text = decodeStrictly(bytes, kind === "unknown" ? undefined : charsetOf(contentType));
    if (text === undefined) return this.digest();
    if (kind !== "json") return text;
    try {
      return JSON.parse(text) as unknown;
    } catch {
      // A JSON content type over a broken body: the text still says what differs.
      return text;
    }
  }

  private digest(): BodyDigest {
    return { length: this.length, sha256: this.hash.copy().digest("hex") };
  }
}

/** The `charset` parameter of a content type, if any. */
function charsetOf(contentType: string | undefined): string | undefined {
  const match = /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(contentType ?? "");
  return match?.[1];
}

/** The bytes as text in `charset` (UTF-8 when absent or unknown), or undefined when they are not valid text in it. */
function decodeStrictly(bytes: Buffer, charset: string | undefined): string | undefined {
  let encoding = "utf-8";
  try {
    if (charset !== undefined) encoding = new TextDecoder(charset).encoding;
  } catch {
    // A charset TextDecoder does not know: read as UTF-8.
  }
  try {
    // A byte order mark is a difference in bytes: kept, not swallowed.
    return new TextDecoder(encoding, { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return undefined;
  }
}

/** What a multipart body's boundary and a multipart content type's `boundary` parameter compare as. */
const BOUNDARY_PLACEHOLDER = "<boundary>";

/** The `boundary` parameter of a multipart content type, if any. */
function boundaryOf(contentType: string | undefined): string | undefined {
  const match = /;\s*boundary\s*=\s*(?:"([^"]+)"|([^";\s]+))/i.exec(contentType ?? "");
  const boundary = match?.[1] ?? match?.[2];
  return boundary === undefined || boundary === "" ? undefined : boundary;
}

/** `bytes` with every occurrence of `find` replaced by `by`. */
function replaceAll(bytes: Buffer, find: Buffer, by: Buffer): Buffer {
  const parts: Buffer[] = [];
  let from = 0;
  for (let at = bytes.indexOf(find, from); at >= 0; at = bytes.indexOf(find, from)) {
    parts.push(bytes.subarray(from, at), by);
    from = at + find.length;
  }
  parts.push(bytes.subarray(from));
  return Buffer.concat(parts);
}

/**
 * A multipart content type with its boundary as a placeholder, anything else as it is: two
 * responses carrying the same parts under different random boundaries compare equal.
 *
 * @internal
 * @example
 * ```ts
 * comparableContentType("multipart/form-data; boundary=----x1"); // "multipart/form-data; boundary=<boundary>"
 * ```
 */
export function comparableContentType(contentType: string): string {
  if (classify(contentType) !== "multipart") return contentType;
  const boundary = boundaryOf(contentType);
  return boundary === undefined ? contentType : contentType.split(boundary).join(BOUNDARY_PLACEHOLDER);
}

function classify(contentType: string | undefined): "json" | "text" | "binary" | "multipart" | "unknown" {
  if (contentType === undefined || contentType.trim() === "") return "unknown";
  const type = (contentType.split(";")[0] ?? "").trim().toLowerCase();
  if (type.startsWith("multipart/")) return "multipart";
  if (type === "application/json" || type.endsWith("+json") || type === "application/x-ndjson") {
    return type === "application/x-ndjson" ? "text" : "json";
  }
  if (
    type.startsWith("text/") ||
    type.endsWith("+xml") ||
    type === "application/xml" ||
    type === "application/javascript" ||
    type === "application/x-www-form-urlencoded" ||
    type === "application/graphql"
  ) {
    return "text";
  }
  return "binary";
}

/** How long `readBounded` reads before it gives the event loop a turn (timers, I/O, other requests). */
const READ_TURN_MS = 8;

/**
 * Reads a fetch body through a {@link BoundedBody}: to its end (hashing past the cap, so the length
 * and hash cover every byte), or to `limit` bytes when the served side's caller cancelled there, or
 * until `signal` aborts (the candidate timed out: an endless body must not be read forever). A body
 * whose reads resolve at once is still read a few milliseconds at a time, so the process's timers
 * (the abort among them) and other requests go on. Stopping early cancels the stream, which reaches
 * the body's source. A stream that errors is a body cut with reason `"failed"`, as on the served side.
 *
 * @internal
 * @example
 * ```ts
 * const { body, cut } = await readBounded(response.body, 1024, { limit: 4096, signal: run.signal });
 * ```
 */
export async function readBounded(
  stream: ReadableStream<Uint8Array> | null,
  cap: number,
  options: { limit?: number; signal?: AbortSignal } = {},
): Promise<{ body: BoundedBody; cut: BodyCut | undefined }> {
  const body = new BoundedBody(cap);
  if (stream === null) return { body, cut: undefined };
  const reader = stream.getReader();
  const { limit, signal } = options;
  const stop = (): void => {
    reader.cancel(signal?.reason).catch(() => undefined);
  };
  // A function, not a narrowed expression: the signal can abort while a read is pending.
  const aborted = (): boolean => signal?.aborted === true;
  if (aborted()) {
    stop();
    return { body, cut: { bytes: 0, reason: "cancelled" } };
  }
  signal?.addEventListener("abort", stop, { once: true });
  let turnStarted = performance.now();
  try {
    for (;;) {
      if (performance.now() - turnStarted > READ_TURN_MS) {
        // Reads that resolve at once (an endless body produced synchronously) are a microtask loop:
        // without a turn of the event loop no timer runs, the candidate's timeout included.
        await new Promise<void>((resolve) => setImmediate(resolve));
        turnStarted = performance.now();
        if (aborted()) return { body, cut: { bytes: body.length, reason: "cancelled" } };
      }
      if (limit !== undefined && body.length >= limit) {
        stop();
        return { body, cut: { bytes: body.length, reason: "cancelled" } };
      }
      let step: Awaited<ReturnType<ReadableStreamDefaultReader<Uint8Array>["read"]>>;
      try {
        step = await reader.read();
      } catch {
        // Read the same way as the served side: a body that breaks is a cut body, not a thrown handler.
        return { body, cut: { bytes: body.length, reason: aborted() ? "cancelled" : "failed" } };
      }
      const { done, value } = step;
      if (done) return { body, cut: aborted() ? { bytes: body.length, reason: "cancelled" } : undefined };
      if (!(value instanceof Uint8Array)) continue;
      body.push(limit === undefined || body.length + value.byteLength <= limit ? value : value.subarray(0, limit - body.length));
    }
  } finally {
    signal?.removeEventListener("abort", stop);
  }
}

/**
 * A fetch `Headers` as a plain record (see {@link ComparableResponse.headers}).
 *
 * @internal
 * @example
 * ```ts
 * fetchHeaders(new Headers({ "Content-Type": "text/plain" })); // { "content-type": "text/plain" }
 * ```
 */
export function fetchHeaders(headers: Headers): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of headers) {
    // Iteration lists each set-cookie on its own; getSetCookie() gives them all at once.
    if (name !== "set-cookie") out[name] = name === "content-type" ? comparableContentType(value) : value;
  }
  const cookies = headers.getSetCookie();
  if (cookies.length > 0) out["set-cookie"] = cookies;
  return out;
}

/**
 * Node's outgoing headers (`res.getHeaders()`) in the same shape as {@link fetchHeaders}, so both
 * integrations compare alike: lists joined with ", " the way fetch combines them, numbers as text.
 *
 * @internal
 * @example
 * ```ts
 * nodeHeaders({ "content-length": 2 }); // { "content-length": "2" }
 * ```
 */
export function nodeHeaders(headers: OutgoingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [rawName, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const name = rawName.toLowerCase();
    if (name === "set-cookie") out[name] = Array.isArray(value) ? value.map(String) : [String(value)];
    else out[name] = Array.isArray(value) ? value.map(String).join(", ") : String(value);
    if (name === "content-type") out[name] = comparableContentType(out[name] as string);
  }
  return out;
}

/**
 * The bucket that makes a different value of a noise header harmless. Only values: a noise header
 * present on one side and missing on the other (a cookie the new code forgot to set) stays a difference.
 *
 * @internal
 * @example
 * ```ts
 * const rules = [...userBuckets, headerNoise(defaultNoiseHeaders)];
 * ```
 */
export function headerNoise(names: readonly string[]): BucketRule {
  let copied: string[] | undefined;
  try {
    // Copied once: a Proxy or an array changed later cannot change (or break) the rule.
    if (Array.isArray(names)) copied = Array.from(names as unknown[], (n) => (typeof n === "string" ? n : undefined)).filter((n) => n !== undefined);
    if (copied?.length !== names.length) copied = undefined;
  } catch {
    copied = undefined;
  }
  if (copied === undefined) {
    throw new TypeError(`penumbra: options.noiseHeaders must be an array of header names, got ${show(names)}`);
  }
  const paths = copied.map((name) => headerPath(name.toLowerCase()));
  const exact = new Set(paths);
  const below = pathMatcher(paths);
  return {
    name: "noise-headers",
    noise: true,
    match: (diff: FieldDiff) => below(diff.path) && !(exact.has(diff.path) && (diff.kind === "added" || diff.kind === "removed")),
  };
}

/** A header's diff path, in the engine's syntax: `headers.date`, `headers["x-request-id"]`. */
function headerPath(name: string): string {
  return isIdentifierKey(name) ? `headers.${name}` : `headers[${JSON.stringify(name)}]`;
}

/**
 * With the default `statusOf`, the `status` field's value diff repeats the engine's `(status)` diff;
 * marking it noise keeps one status reason per run (`status:200->500`) instead of two.
 *
 * @internal
 * @example
 * ```ts
 * const buckets = options.statusOf === undefined ? [statusCompared] : [];
 * ```
 */
export const statusCompared: BucketRule = Object.freeze({
  name: "status-compared-first",
  noise: true,
  match: (diff: FieldDiff) => diff.path === "status",
});
