/**
 * Streaming a JSONL results file, line by line, for `replay` and `penumbra report`. A bad line is
 * handed to the caller with its number and skipped: one corrupt line (a crash mid-write, a stray log
 * line) must never cost the whole file.
 */
import * as fs from "node:fs";
import { StringDecoder } from "node:string_decoder";
import type { Result } from "../types/results";
import { parseResultLine } from "./serialize";

/**
 * The longest line read, in bytes, by default. A line is held whole before it is parsed, and V8
 * cannot hold a string over ~512 MiB (`RangeError: Invalid string length`); a result line is rarely
 * over a few KiB, so 64 MiB leaves room for large captured arguments and stays far from that limit.
 */
export const DEFAULT_MAX_LINE_BYTES = 64 * 1024 * 1024;

/**
 * A line of a results file that could not be read as a result.
 *
 * @example
 * ```ts
 * const bad: MalformedLine = { line: 17, error: "penumbra: malformed result line (Unexpected end of JSON input): {\"exp" };
 * ```
 */
export interface MalformedLine {
  /** 1-based line number in the file (for in-memory records: 1-based position). */
  line: number;
  /** Why it was rejected: not JSON, not a result (naming the field), or over `maxLineBytes`. */
  error: string;
}

/**
 * Options of {@link readResults}.
 *
 * @example
 * ```ts
 * const options: ReadResultsOptions = { experiment: "checkout-total", onMalformed: (bad) => warnings.push(bad) };
 * ```
 */
export interface ReadResultsOptions {
  /** Yield only this experiment's results; the others are counted by `onFiltered`. */
  experiment?: string;
  /** Called for every line that is not a result; reading goes on. */
  onMalformed?: (bad: MalformedLine) => void;
  /** Called for every well-formed result of another experiment. */
  onFiltered?: (result: Result<unknown>) => void;
  /** Called after each line with the bytes read so far and the file's size (for a progress bar). */
  onBytes?: (read: number, total: number) => void;
  /**
   * A longer line is skipped (and named by `onMalformed`) without being held in memory.
   * @default 67108864 (64 MiB)
   */
  maxLineBytes?: number;
}

/**
 * Streams the results of a JSONL file written by `jsonlPublisher`, in file order.
 *
 * Every line is validated against the result-line schema (`src/store/schema.ts`) before it is
 * yielded. Blank lines are skipped silently (a trailing newline, a hand-edited file); any other line
 * that is not a result goes to `onMalformed` with its line number and the reason, and reading goes
 * on. Lines are split from the raw bytes, so a line over `maxLineBytes` is skipped and named without
 * ever being held whole. The file is opened before the first result is yielded, so a missing or
 * unreadable file rejects the first `next()` with the `fs` error (`ENOENT`, `EACCES`, `EISDIR`).
 *
 * @example
 * ```ts
 * import { readResults, Scorecard } from "penumbra";
 *
 * const scorecard = new Scorecard();
 * for await (const result of readResults("var/shadow-results.jsonl", { onMalformed: (bad) => console.warn(bad) })) {
 *   scorecard.publish(result);
 * }
 * ```
 */
export async function* readResults(path: string, options: ReadResultsOptions = {}): AsyncGenerator<Result<unknown>, void, undefined> {
  if (typeof path !== "string" || path === "") {
    throw new TypeError(`penumbra: readResults: path must be a non-empty string, got ${typeof path === "string" ? '""' : typeof path}`);
  }
  const maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  if (!Number.isInteger(maxLineBytes) || maxLineBytes <= 0) {
    throw new TypeError(`penumbra: readResults: maxLineBytes must be a positive integer, got ${String(maxLineBytes)}`);
  }
  // Opened (and stat'ed) first: an open error then names the file at once.
  const handle = await fs.promises.open(path, "r");
  let size = 0;
  try {
    const stat = await handle.stat();
    if (stat.isDirectory()) {
      throw Object.assign(new Error(`EISDIR: illegal operation on a directory, read '${path}'`), { code: "EISDIR" });
    }
    size = stat.size;
  } catch (error) {
    await handle.close();
    throw error;
  }
  const stream = handle.createReadStream();
  let number = 0;
  let bytes = 0;
  /** The current line's bytes so far; dropped once it is known to be over the cap. */
  let pieces: Buffer[] = [];
  let pending = 0;
  let overlong = false;

  const finish = function* (): Generator<Result<unknown>> {
    number++;
    bytes += pending + 1;
    options.onBytes?.(Math.min(bytes, size), size);
    if (overlong) {
      options.onMalformed?.({ line: number, error: `penumbra: line of ${pending} bytes is over maxLineBytes (${maxLineBytes}); skipped unread` });
    } else {
      const result = parse(Buffer.concat(pieces, pending), number, options);
      if (result !== undefined) yield result;
    }
    pieces = [];
    pending = 0;
    overlong = false;
  };

  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let start = 0;
      for (;;) {
        const end = chunk.indexOf(0x0a, start);
        const piece = end === -1 ? chunk.subarray(start) : chunk.subarray(start, end);
        pending += piece.length;
        if (!overlong) {
          if (pending > maxLineBytes) {
            overlong = true;
            pieces = [];
          } else if (piece.length > 0) {
            pieces.push(piece);
          }
        }
        if (end === -1) break;
        yield* finish();
        start = end + 1;
      }
    }
    if (pending > 0 || overlong) yield* finish();
  } finally {
    stream.destroy();
  }
}

/** One line's bytes to a result, or `undefined` (blank, or reported as malformed). */
function parse(raw: Buffer, number: number, options: ReadResultsOptions): Result<unknown> | undefined {
  // A CRLF file (edited on Windows) reads the same; a lone decoder keeps invalid UTF-8 as U+FFFD.
  const line = new StringDecoder("utf8").end(raw).replace(/\r$/, "");
  if (line.trim() === "") return undefined;
  let result: Result<unknown>;
  try {
    result = parseResultLine(line);
  } catch (error) {
    options.onMalformed?.({ line: number, error: error instanceof Error ? error.message : String(error) });
    return undefined;
  }
  if (options.experiment !== undefined && result.experiment !== options.experiment) {
    options.onFiltered?.(result);
    return undefined;
  }
  return result;
}
