/**
 * A publisher that prints one human-readable line per result, for development and small services.
 */
import { inspect } from "node:util";
import { truncate } from "../compare/format";
import { describeThrown, escapeControls } from "../describe";
import type { TripEvent } from "../types/operate";
import type { Observation, Result } from "../types/results";

/**
 * Options of {@link consolePublisher}.
 *
 * @example
 * ```ts
 * const options: ConsolePublisherOptions = { stream: process.stdout, only: "mismatches" };
 * configure({ publishers: [consolePublisher(options)] });
 * ```
 */
export interface ConsolePublisherOptions {
  /** Where the lines go. @default process.stderr */
  // Structural, not NodeJS.WritableStream: a public type must not need the NodeJS namespace (a strict
  // TS 6 project loads no @types globals unless it lists them).
  stream?: { write(chunk: string): unknown };
  /**
   * `"all"` prints every result and every overload skip; `"mismatches"` prints only mismatched
   * results (a skip happens once per call under overload, so printing it would add to the load).
   * Guardrail trips are printed either way. @default "all"
   */
  only?: "all" | "mismatches";
}

/**
 * What {@link consolePublisher} returns: a `Publisher` whose methods are bound (destructuring works).
 *
 * @example
 * ```ts
 * const printer: ConsolePublisher = consolePublisher();
 * const total = shadow(oldTotal, newTotal, { publish: printer });
 * ```
 */
export interface ConsolePublisher {
  publish(result: Result<unknown>): void;
  skipped(experiment: string, reason: "overload"): void;
  trip(event: TripEvent): void;
}

/**
 * Creates a publisher that writes one line per result, e.g.
 * `penumbra order-total 1f3e9a2b mismatched candidate: total=49.9 vs 51.4 (control 1.2 ms, candidate 3.4 ms)`.
 *
 * @example
 * ```ts
 * configure({ publishers: [consolePublisher({ only: "mismatches" })] });
 * ```
 */
export function consolePublisher(options: ConsolePublisherOptions = {}): ConsolePublisher {
  let stream: ConsolePublisherOptions["stream"];
  let only: ConsolePublisherOptions["only"];
  try {
    stream = options.stream ?? process.stderr;
    only = options.only ?? "all";
    if (typeof stream !== "object" || stream === null || typeof stream.write !== "function") throw new Error("no write(chunk) method");
  } catch (error) {
    throw new TypeError(`consolePublisher: stream must be a writable stream (an object with write(chunk)): ${describeThrown(error)}`);
  }
  const out = stream;
  if (only !== "all" && only !== "mismatches") {
    throw new TypeError(`consolePublisher: only must be "all" or "mismatches", got ${inspect(only)}`);
  }
  const print = (line: string): void => {
    out.write(`penumbra ${line}\n`);
  };
  return {
    publish(result: Result<unknown>): void {
      if (only === "mismatches" && !result.mismatched) return;
      print(formatResult(result));
    },
    skipped(experiment: string, reason: "overload"): void {
      if (only === "all") print(`${oneLine(experiment)} skipped: ${reason} (no free slot, candidates not run)`);
    },
    trip(event: TripEvent): void {
      print(
        `${oneLine(event.experiment)} tripped: ${event.reason} ${event.value} > ${event.threshold}, candidates disabled`,
      );
    },
  };
}

/**
 * Names and summaries come from user data: a line break in one would forge a second log line, and a
 * control character or bidirectional override would drive (or reorder) the terminal it is printed to.
 */
function oneLine(text: string): string {
  return escapeControls(String(text).replace(/[\r\n\u2028\u2029]+/g, " "));
}

function ms(observation: Observation<unknown>): string {
  const { durationMs } = observation;
  const time = typeof durationMs === "number" && Number.isFinite(durationMs) ? `${durationMs.toFixed(1)} ms` : "? ms";
  return `${oneLine(observation.name)} ${time}${observation.timedOut ? " timed out" : ""}`;
}

/** A run id longer than a UUID (a hostile or foreign one) is cut. */
const RUN_ID_CHARS = 40;

function formatResult(result: Result<unknown>): string {
  const verdict = result.mismatched
    ? `mismatched ${result.mismatches.map((m) => `${oneLine(m.candidate)}: ${oneLine(m.summary)}`).join("; ")}`
    : result.ignored
      ? `ignored ${Object.keys(result.outcomes).filter((name) => result.outcomes[name] === "ignored").map(oneLine).join(", ")}`
      : "matched";
  const extras: string[] = [];
  if (result.noise.length > 0) extras.push(`${result.noise.length} noise diff${result.noise.length === 1 ? "" : "s"}`);
  if (result.servedBy !== "control") extras.push(`served by ${oneLine(result.servedBy)}`);
  const timings = [result.control, ...result.candidates].map(ms).join(", ");
  // Whole, so a line can be matched to its record in a JSONL file (an engine id is a short process
  // prefix plus a counter: its first characters are the same on every line of a process).
  const runId = truncate(oneLine(result.runId), RUN_ID_CHARS);
  const extra = extras.length > 0 ? ` [${extras.join(", ")}]` : "";
  return `${oneLine(result.experiment)} ${runId} ${verdict}${extra} (${timings})`;
}
