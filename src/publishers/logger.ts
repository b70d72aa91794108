/**
 * A publisher that writes experiment events to a structured logger (pino, or anything shaped like
 * it): one object-first call per event, so mismatches are searchable by experiment, candidate, kind
 * and bucket.
 *
 * The logger is typed structurally: penumbra does not depend on pino. Values are logged as the
 * experiment's `clean` left them, rendered by `toJSONValue` so that no user value (a cycle, a BigInt,
 * a throwing getter) can make logging throw. Diffs are logged by path, kind and bucket only: their
 * values are raw (comparison never sees cleaned values), and `clean` exists to keep raw values out
 * of reports. The summary, the message of a mismatch line, is the comparison's own text and does
 * quote values.
 */
import type { TripEvent } from "../types/operate";
import type { Observation, Result } from "../types/results";
import { toJSONValue } from "../store/serialize";
import { setOwn } from "../util/own-key";

/**
 * One pino-style log method: the fields first, then the message.
 *
 * @example
 * ```ts
 * const warn: LogMethod = (fields, message) => console.warn(message, fields);
 * ```
 */
export type LogMethod = (fields: Record<string, unknown>, message: string) => void;

/**
 * Any logger with pino's calling convention: `info` and `warn` required, `debug` and `error` used
 * when present. A pino logger, a child logger, bunyan and `console` all fit.
 *
 * @example
 * ```ts
 * import pino from "pino";
 * const logger: StructuredLogger = pino().child({ component: "penumbra" });
 * ```
 */
export interface StructuredLogger {
  info: LogMethod;
  warn: LogMethod;
  debug?: LogMethod;
  error?: LogMethod;
}

/**
 * Options of {@link loggerPublisher}.
 *
 * @example
 * ```ts
 * const options: LoggerPublisherOptions = { matched: "info", context: false };
 * ```
 */
export interface LoggerPublisherOptions {
  /**
   * Level of matched (and ignored) results. `"debug"` writes nothing on a logger without a `debug`
   * method: a matched run is routine, and promoting every one of them to `info` would flood the log.
   * @default "debug"
   */
  matched?: "debug" | "info" | "off";
  /** Level of overload skips (one per call while every slot is taken, so keep it quiet). @default "debug" */
  skipped?: "debug" | "info" | "off";
  /** Log each result's context under `context`. @default true */
  context?: boolean;
}

/**
 * What {@link loggerPublisher} returns: a `Publisher` whose methods are bound (destructuring works).
 *
 * @example
 * ```ts
 * const logged: LoggerPublisher = loggerPublisher(logger);
 * configure({ publishers: [logged] });
 * ```
 */
export interface LoggerPublisher {
  publish(result: Result<unknown>): void;
  skipped(experiment: string, reason: "overload"): void;
  trip(event: TripEvent): void;
}

/** Enough paths to search by; a result with more is summarised by `diffCount`. */
const MAX_DIFFS = 50;

/**
 * Creates a publisher that logs experiment events on a pino-shaped logger.
 *
 * - A mismatched candidate: `warn`, one line per mismatched candidate, the summary as the message,
 *   fields `{ experiment, runId, outcome: "mismatched", kind, summary, buckets, diffs: [{ path,
 *   kind, bucket? }], diffCount, control: { value | error, durationMs }, candidate: { name, value?,
 *   durationMs, timedOut }, context, err? }`. The candidate's thrown error is under the top-level
 *   `err`, where pino's error serializer finds it.
 * - A matched or ignored result: `debug` (see `matched`), `{ experiment, runId, outcome, outcomes,
 *   durationsMs, noise, context }`, message `penumbra matched` / `penumbra ignored`.
 * - An overload skip: `debug` (see `skipped`), `{ experiment, reason }`.
 * - A guardrail trip: `error` (or `warn` without one), `{ experiment, reason, value, threshold }`.
 *
 * @example
 * ```ts
 * import pino from "pino";
 * import { configure, loggerPublisher } from "penumbra";
 *
 * configure({ publishers: [loggerPublisher(pino().child({ component: "penumbra" }))] });
 * // {"level":40,"experiment":"order-total","kind":"value","candidate":{"name":"candidate",…},"msg":"total=49.9 vs 51.4"}
 * ```
 */
export function loggerPublisher(logger: StructuredLogger, options: LoggerPublisherOptions = {}): LoggerPublisher {
  let shaped: boolean;
  try {
    shaped = typeof logger === "object" && logger !== null && typeof logger.info === "function" && typeof logger.warn === "function";
  } catch {
    shaped = false; // a getter or a Proxy that throws when its methods are read
  }
  if (!shaped) {
    throw new TypeError("loggerPublisher: logger must have info(fields, message) and warn(fields, message) methods, like pino");
  }
  const matchedLevel = level("matched", options.matched);
  const skippedLevel = level("skipped", options.skipped);
  const withContext = options.context ?? true;

  // Method calls, not detached references: pino's methods read `this`.
  const at = (which: "debug" | "info" | "off", fields: Record<string, unknown>, message: string): void => {
    if (which === "info") logger.info(fields, message);
    else if (which === "debug" && typeof logger.debug === "function") logger.debug(fields, message);
  };

  const contextOf = (result: Result<unknown>): Record<string, unknown> =>
    withContext && Object.keys(result.context).length > 0 ? { context: toJSONValue(result.context) } : {};

  return {
    publish(result: Result<unknown>): void {
      if (result.mismatches.length === 0) {
        if (matchedLevel === "off") return;
        const outcome = result.ignored ? "ignored" : "matched";
        const durationsMs: Record<string, number> = {};
        for (const observation of [result.control, ...result.candidates]) {
          setOwn(durationsMs, observation.name, observation.durationMs);
        }
        at(
          matchedLevel,
          {
            experiment: result.experiment,
            runId: result.runId,
            outcome,
            outcomes: { ...result.outcomes },
            durationsMs,
            noise: result.noise.length,
            ...contextOf(result),
          },
          `penumbra ${outcome}`,
        );
        return;
      }
      for (const mismatch of result.mismatches) {
        const candidate = result.candidates.find((c) => c.name === mismatch.candidate);
        const fields: Record<string, unknown> = {
          experiment: result.experiment,
          runId: result.runId,
          outcome: "mismatched",
          kind: mismatch.kind,
          summary: mismatch.summary,
          buckets: [...mismatch.buckets],
          diffs: mismatch.diffs.slice(0, MAX_DIFFS).map((d) => ({ path: d.path, kind: d.kind, ...(d.bucket ? { bucket: d.bucket } : {}) })),
          diffCount: mismatch.diffs.length,
          control: side(result.control),
          candidate: { name: mismatch.candidate, ...(candidate ? side(candidate, true) : {}) },
          ...contextOf(result),
        };
        if (candidate !== undefined && (candidate.threw || candidate.timedOut)) {
          // pino serialises a top-level `err` (type, message, stack, cause); a non-Error is rendered as data.
          fields["err"] = isError(candidate.error) ? candidate.error : toJSONValue(candidate.error);
        }
        logger.warn(fields, mismatch.summary);
      }
    },
    skipped(experiment: string, reason: "overload"): void {
      at(skippedLevel, { experiment, reason }, "penumbra skipped: no free slot, candidates not run");
    },
    trip(event: TripEvent): void {
      const fields = { experiment: event.experiment, reason: event.reason, value: event.value, threshold: event.threshold };
      const message = `penumbra experiment disabled by guardrail: ${event.reason} ${event.value} > ${event.threshold}`;
      if (typeof logger.error === "function") logger.error(fields, message);
      else logger.warn(fields, message);
    },
  };
}

/** `instanceof Error` that never throws (a thrown Proxy's getPrototypeOf trap may). */
function isError(value: unknown): value is Error {
  try {
    return value instanceof Error;
  } catch {
    return false;
  }
}

function level(option: string, value: unknown): "debug" | "info" | "off" {
  if (value === undefined) return "debug";
  if (value === "debug" || value === "info" || value === "off") return value;
  throw new TypeError(`loggerPublisher: ${option} must be "debug", "info" or "off", got ${String(value)}`);
}

/** One side of a mismatch as data: its cleaned value or (for the control) its error, and its timing. */
function side(observation: Observation<unknown>, candidate = false): Record<string, unknown> {
  const out: Record<string, unknown> = { durationMs: observation.durationMs };
  if (observation.threw || observation.timedOut) {
    // The candidate's error goes to the top-level `err`; the control's stays here, rendered.
    if (!candidate) out["error"] = toJSONValue(observation.error);
  } else {
    const value = "cleanedValue" in observation ? observation.cleanedValue : observation.value;
    const rendered = toJSONValue(value);
    // Absent, not null, when JSON has no rendering (undefined, a function): null would be a lie.
    if (rendered !== undefined) out["value"] = rendered;
  }
  if (candidate) out["timedOut"] = observation.timedOut;
  return out;
}
