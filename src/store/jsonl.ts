/**
 * A publisher that appends one JSON line per result to a file: penumbra's embedded default store,
 * read back by `replay` and `penumbra report`.
 *
 * Lines are buffered and written in batches, one write at a time, in publish order, so a busy service
 * pays one `write` per batch instead of one per result. Each `publish` returns a promise that settles
 * when its own line is on disk (or failed to get there), which is what the engine's `settled()` /
 * `flush()` wait for.
 *
 * At process exit, lines still buffered are written synchronously. A batch already handed to the
 * operating system when `process.exit()` is called is left to that write rather than written twice.
 */
import * as fs from "node:fs";
import { inspect } from "node:util";
import type { Result } from "../types/results";
import { resultToJSON } from "./serialize";

/**
 * Options of {@link jsonlPublisher}.
 *
 * @example
 * ```ts
 * const options: JsonlPublisherOptions = { flushIntervalMs: 500, maxBufferedLines: 5000 };
 * const results = jsonlPublisher("var/shadow-results.jsonl", options);
 * ```
 */
export interface JsonlPublisherOptions {
  /** How long a line may wait in the buffer before its batch is written, in ms. @default 100 */
  flushIntervalMs?: number;
  /**
   * A batch is written as soon as this many lines are waiting. It is not a cap: while a write is in
   * progress the buffer keeps growing, because dropping results is worse than holding them. @default 1000
   */
  maxBufferedLines?: number;
}

/**
 * What {@link jsonlPublisher} returns: a `Publisher` whose methods are bound (destructuring works).
 *
 * @example
 * ```ts
 * const results: JsonlPublisher = jsonlPublisher("var/shadow-results.jsonl");
 * configure({ publishers: [results] });
 * await flush();
 * await results.close();
 * ```
 */
export interface JsonlPublisher {
  /** The file the results go to. */
  readonly path: string;
  /**
   * Buffers the result's line; the promise resolves once that line is on disk and rejects if writing
   * it failed or the publisher is closed. The rejection is pre-handled, so ignoring the promise never
   * crashes the process with an unhandled rejection.
   */
  publish(result: Result<unknown>): Promise<void>;
  /** Writes everything buffered now, without waiting for the timer; resolves when it is on disk. */
  flush(): Promise<void>;
  /**
   * Writes what is buffered and closes the file; rejects with the first write error, if any (the file
   * is closed either way). Calling it again returns the same promise.
   */
  close(): Promise<void>;
}

interface Batch {
  lines: string[];
  promise: Promise<void>;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** Open publishers with lines to save at exit; one shared `exit` listener serves them all. */
const openPublishers = new Set<{ writeBufferedSync(): void }>();

function onProcessExit(): void {
  for (const publisher of openPublishers) publisher.writeBufferedSync();
}

function track(publisher: { writeBufferedSync(): void }): void {
  if (openPublishers.size === 0) process.on("exit", onProcessExit);
  openPublishers.add(publisher);
}

function untrack(publisher: { writeBufferedSync(): void }): void {
  openPublishers.delete(publisher);
  if (openPublishers.size === 0) process.removeListener("exit", onProcessExit);
}

function newBatch(): Batch {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Publishers are often fire-and-forget; a failed write must not become an unhandled rejection
  // that kills the process. Whoever awaits the promise still sees the error.
  promise.catch(() => undefined);
  return { lines: [], promise, resolve, reject };
}

function handledRejection(error: Error): Promise<void> {
  const promise = Promise.reject(error);
  promise.catch(() => undefined);
  return promise;
}

function writeAll(fd: number, data: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const step = (offset: number): void => {
      fs.write(fd, data, offset, data.length - offset, null, (error, written) => {
        if (error) reject(error);
        else if (offset + written < data.length) step(offset + written);
        else resolve();
      });
    };
    step(0);
  });
}

function writeAllSync(fd: number, data: Buffer): void {
  let offset = 0;
  while (offset < data.length) offset += fs.writeSync(fd, data, offset, data.length - offset, null);
}

/**
 * Creates a publisher that appends each result as one JSON line to `path`.
 *
 * The file is opened (and created if missing) when the publisher is built, so a wrong path fails at
 * start-up rather than on the first result; its directory must already exist (penumbra does not
 * create directories). Existing content is kept.
 *
 * Until `close()`, the publisher holds its file descriptor and is registered with one `exit` listener
 * shared by all open JSONL publishers (added with the first, removed when the last closes, so many
 * publishers never trip `MaxListenersExceededWarning`). That listener writes still-buffered lines with
 * `fs.writeSync`. Close publishers you are done with, or they stay registered and keep their file open.
 *
 * The publish promise waits for an `unref`'d timer: in a script whose event loop is otherwise empty,
 * `await publish(r)` alone may let the process exit first (the exit listener still writes the line).
 * Await `flush()` or `close()` there: they start the write at once, and a pending write keeps Node alive.
 *
 * @example
 * ```ts
 * const results = jsonlPublisher("var/shadow-results.jsonl");
 * configure({ publishers: [results] });
 * process.on("SIGTERM", () => void results.close());
 * ```
 */
export function jsonlPublisher(path: string, options: JsonlPublisherOptions = {}): JsonlPublisher {
  if (typeof path !== "string" || path === "") {
    throw new TypeError(`jsonlPublisher: path must be a non-empty string, got ${inspect(path)}`);
  }
  const flushIntervalMs = options.flushIntervalMs ?? 100;
  if (typeof flushIntervalMs !== "number" || !Number.isFinite(flushIntervalMs) || flushIntervalMs < 0) {
    throw new TypeError(`jsonlPublisher: flushIntervalMs must be a finite number >= 0, got ${inspect(flushIntervalMs)}`);
  }
  const maxBufferedLines = options.maxBufferedLines ?? 1000;
  if (!Number.isInteger(maxBufferedLines) || maxBufferedLines <= 0) {
    throw new TypeError(`jsonlPublisher: maxBufferedLines must be a positive integer, got ${inspect(maxBufferedLines)}`);
  }

  // "a": O_APPEND, so every write lands at the current end even when other writers share the file.
  const fd = fs.openSync(path, "a");
  let pending = newBatch();
  let writing: Batch | undefined;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  let closing: Promise<void> | undefined;

  const exitHook = {
    writeBufferedSync(): void {
      if (pending.lines.length === 0) return;
      const batch = pending;
      pending = newBatch();
      try {
        writeAllSync(fd, Buffer.from(batch.lines.join("")));
        batch.resolve();
      } catch (error) {
        batch.reject(error);
      }
    },
  };
  track(exitHook);

  function schedule(): void {
    if (timer !== undefined || writing !== undefined) return;
    // unref'd: a quiet publisher must not keep the process alive; the exit hook saves the buffer.
    timer = setTimeout(writeNext, flushIntervalMs);
    timer.unref();
  }

  function writeNext(): void {
    if (timer !== undefined) {
      clearTimeout(timer);
      timer = undefined;
    }
    if (writing !== undefined || pending.lines.length === 0) return;
    const batch = pending;
    writing = batch;
    pending = newBatch();
    writeAll(fd, Buffer.from(batch.lines.join(""))).then(
      () => batch.resolve(),
      (error: unknown) => batch.reject(error),
    ).finally(() => {
      writing = undefined;
      // Lines that arrived during the write have waited at least that long: write them now.
      if (pending.lines.length > 0) writeNext();
    });
  }

  function publish(result: Result<unknown>): Promise<void> {
    if (closed) {
      return handledRejection(new Error(`jsonlPublisher(${path}): publish after close(); the result was not written`));
    }
    // Serialised now, so later mutation of the user's values cannot change what is written.
    pending.lines.push(`${resultToJSON(result)}\n`);
    const { promise } = pending;
    if (pending.lines.length >= maxBufferedLines) writeNext();
    else schedule();
    return promise;
  }

  /** Resolves when everything published so far is on disk (rejects if a write failed). */
  async function drain(): Promise<void> {
    let firstError: unknown;
    let failed = false;
    while (writing !== undefined || pending.lines.length > 0) {
      const batch = writing ?? pending;
      writeNext();
      try {
        await batch.promise;
      } catch (error) {
        if (!failed) firstError = error;
        failed = true;
      }
    }
    if (failed) throw firstError;
  }

  function flush(): Promise<void> {
    return closed && closing !== undefined ? closing : drain();
  }

  function close(): Promise<void> {
    if (closing !== undefined) return closing;
    closed = true;
    closing = (async () => {
      try {
        await drain();
      } finally {
        untrack(exitHook);
        await new Promise<void>((resolve) => fs.close(fd, () => resolve()));
      }
    })();
    // As with publish: a failed final write is reported to whoever awaits, never as an unhandled rejection.
    closing.catch(() => undefined);
    return closing;
  }

  return { path, publish, flush, close };
}
