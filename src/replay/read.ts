/**
 * Streaming a JSONL results file, line by line, for `replay` and `penumbra report`. A bad line is
 * handed to the caller with its number and skipped: one corrupt line (a crash mid-write, a stray log
 * line) must never cost the whole file.
 */
import * as fs from "node:fs";
import * as readline from "node:readline";
import { parseResultLine } from "../publishers/serialize";
import type { Result } from "../types/results";

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
  /** Why it was rejected (the `SyntaxError` message of `parseResultLine`). */
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
}

/**
 * Streams the results of a JSONL file written by `jsonlPublisher`, in file order.
 *
 * Blank lines are skipped silently (a trailing newline, a hand-edited file); any other line that is
 * not a result goes to `onMalformed` with its line number. The file is opened before the first
 * result is yielded, so a missing or unreadable file rejects the first `next()` with the `fs` error
 * (`ENOENT`, `EACCES`, `EISDIR`).
 *
 * @example
 * ```ts
 * for await (const result of readResults("var/shadow-results.jsonl", { onMalformed: console.warn })) {
 *   scorecard.publish(result);
 * }
 * ```
 */
export async function* readResults(path: string, options: ReadResultsOptions = {}): AsyncGenerator<Result<unknown>, void, undefined> {
  // Opened (and stat'ed) first: an open error then names the file at once instead of surfacing
  // from inside readline as an 'error' event.
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
  const stream = handle.createReadStream({ encoding: "utf8" });
  const lines = readline.createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
  let number = 0;
  let bytes = 0;
  try {
    for await (const line of lines) {
      number++;
      bytes += Buffer.byteLength(line) + 1;
      options.onBytes?.(Math.min(bytes, size), size);
      if (line.trim() === "") continue;
      let result: Result<unknown>;
      try {
        result = parseResultLine(line);
      } catch (error) {
        options.onMalformed?.({ line: number, error: error instanceof Error ? error.message : String(error) });
        continue;
      }
      if (options.experiment !== undefined && result.experiment !== options.experiment) {
        options.onFiltered?.(result);
        continue;
      }
      yield result;
    }
  } finally {
    lines.close();
    stream.destroy();
  }
}
