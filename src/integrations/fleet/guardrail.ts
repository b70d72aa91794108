/**
 * The fleet guardrail: the local guardrails' thresholds, judged on the whole fleet's numbers in
 * Prometheus. A process sees only its share of the traffic (at 1% over 40 instances none reaches
 * `minRuns` for minutes); Prometheus sees all of it.
 *
 * Never a verdict not earned: an unreachable Prometheus, a query error, no series or a fleet below
 * `minRunsPerSecond` is "not judged" with the reason, never "healthy".
 */
import type { TripEvent } from "../../types/operate";
import { fleetQueries, type FleetQueries } from "./queries";

/**
 * What `onTrip` receives: the local `TripEvent`, plus the fleet's rate and the PromQL that measured
 * the value (paste it into a dashboard).
 *
 * @example
 * ```ts
 * const onTrip = (event: FleetTripEvent) => console.error(`${event.experiment}: ${event.reason} ${event.value} (${event.query})`);
 * ```
 */
export type FleetTripEvent = TripEvent & { scope: "fleet"; runsPerSecond: number; query: string };

/**
 * Options of {@link fleetGuardrail}.
 *
 * @example
 * ```ts
 * const options: FleetGuardrailOptions = {
 *   prometheus: "http://127.0.0.1:9090", experiment: "order-total", maxMismatchRate: 0.05,
 *   onTrip: () => flags.set("order-total.shadow", false),
 * };
 * ```
 */
export interface FleetGuardrailOptions {
  /** Base URL of the Prometheus HTTP API (`/api/v1/query` is appended). */
  prometheus: string;
  experiment: string;
  /** One candidate; @default every candidate of the experiment, each judged apart (any one trips). */
  candidate?: string;
  /** Share of comparisons that mismatched, 0..1. */
  maxMismatchRate?: number;
  /** Share of candidate runs that timed out, 0..1. */
  maxTimeoutRate?: number;
  /** Candidate p95 ÷ control p95, fleet-wide, > 0. */
  maxP95Ratio?: number;
  /** No verdict below this fleet-wide rate of comparisons per second (per candidate). @default 1 */
  minRunsPerSecond?: number;
  /** PromQL range of every rate. @default "1m" */
  window?: string;
  /** How often the guardrail checks on its own. @default 5000 */
  everyMs?: number;
  /** Called once, on the first trip; typically `flags.set(key, false)`. */
  onTrip: (event: FleetTripEvent) => void | Promise<void>;
}

/**
 * The answer of one check: whether the fleet was judged, why not, and the numbers read.
 *
 * @example
 * ```ts
 * const verdict: FleetVerdict = await guardrail.check();
 * if (!verdict.judged) console.log(`not judged: ${verdict.reason}`);
 * ```
 */
export interface FleetVerdict {
  judged: boolean;
  reason?: string;
  values: Record<string, number>;
}

/**
 * What {@link fleetGuardrail} returns.
 *
 * @example
 * ```ts
 * const guardrail: FleetGuardrail = fleetGuardrail(options);
 * guardrail.stop();
 * ```
 */
export interface FleetGuardrail {
  /** Runs one check now (the timer runs them every `everyMs` anyway). */
  check(): Promise<FleetVerdict>;
  /** Stops the timer. Idempotent. */
  stop(): void;
}

const DURATION = /^(\d+(ms|s|m|h|d|w|y))+$/;
/** One query may take this long before the check is "not judged: unreachable". */
const QUERY_TIMEOUT_MS = 5_000;

type Sample = { candidate: string; value: number };
type Rule = { reason: TripEvent["reason"]; metric: keyof FleetQueries; threshold: number };

/**
 * Watches one experiment's fleet-wide rates in Prometheus and calls `onTrip` once when a threshold
 * is crossed.
 *
 * Each check reads, per candidate over `window`: the comparisons per second, then the mismatch
 * rate, timeout rate and p95 ratio that have a threshold (the PromQL is in docs/fleet.md). A
 * candidate below `minRunsPerSecond` is not judged; the first candidate over a threshold trips.
 * After the trip the timer stops and `onTrip` is never called again; `check()` still answers.
 * `values` holds `runsPerSecond` (all judged candidates together) and each measured rate, the
 * worst candidate's, plus `<name>{candidate="x"}` per candidate when several are judged.
 *
 * @example
 * ```ts
 * import { flagdFile, fleetGuardrail } from "penumbra/fleet";
 *
 * const flags = flagdFile("/var/run/shop/flags.json");
 * const guardrail = fleetGuardrail({
 *   prometheus: "http://127.0.0.1:9090",
 *   experiment: "order-total",
 *   maxMismatchRate: 0.05,
 *   window: "30s",
 *   everyMs: 1000,
 *   onTrip: (event) => flags.set("order-total.shadow", false),
 * });
 * ```
 */
export function fleetGuardrail(options: FleetGuardrailOptions): FleetGuardrail {
  const o = validate(options);
  const queries = fleetQueries(o.experiment, o.candidate, o.window);
  const apiUrl = new URL("api/v1/query", o.prometheus.endsWith("/") ? o.prometheus : `${o.prometheus}/`);
  const rules: Rule[] = [];
  if (o.maxMismatchRate !== undefined) rules.push({ reason: "mismatch-rate", metric: "mismatchRate", threshold: o.maxMismatchRate });
  if (o.maxTimeoutRate !== undefined) rules.push({ reason: "timeout-rate", metric: "timeoutRate", threshold: o.maxTimeoutRate });
  if (o.maxP95Ratio !== undefined) rules.push({ reason: "latency", metric: "p95Ratio", threshold: o.maxP95Ratio });
  let tripped = false;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  const query = async (promql: string): Promise<Sample[]> => {
    const url = new URL(apiUrl);
    url.searchParams.set("query", promql);
    const response = await fetch(url, { signal: AbortSignal.timeout(QUERY_TIMEOUT_MS) });
    const text = await readCapped(response);
    let body:
      | { status?: string; error?: string; data?: { resultType?: string; result?: Array<{ metric?: Record<string, string>; value?: [number, string] }> } }
      | undefined;
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      const type = response.headers.get("content-type") ?? "no content-type";
      throw new QueryError(`answered ${response.status} with a body that is not JSON (${type.slice(0, 80)})`);
    }
    if (body?.status !== "success") throw new QueryError(`${response.status} ${body?.error ?? response.statusText}`);
    if (body.data?.resultType !== "vector") throw new QueryError(`answered a ${String(body.data?.resultType)}, not a vector`);
    return (body.data.result ?? []).map((r) => ({ candidate: r.metric?.["candidate"] ?? o.candidate ?? "candidate", value: Number(r.value?.[1]) }));
  };

  const check = async (): Promise<FleetVerdict> => {
    const values: Record<string, number> = {};
    let rates: Sample[];
    try {
      rates = await query(queries.runsPerSecond);
    } catch (error) {
      return { judged: false, reason: unreachable(o.prometheus, error), values };
    }
    const who = o.candidate === undefined ? `experiment "${o.experiment}"` : `experiment "${o.experiment}", candidate "${o.candidate}"`;
    if (rates.length === 0) {
      return { judged: false, reason: `Prometheus has no penumbra_comparisons_total series over ${o.window} for ${who}: not scraped yet, or no runs`, values };
    }
    const judged = rates.filter((r) => Number.isFinite(r.value) && r.value >= o.minRunsPerSecond);
    const total = rates.reduce((sum, r) => sum + (Number.isFinite(r.value) ? r.value : 0), 0);
    values["runsPerSecond"] = round(judged.length > 0 ? judged.reduce((sum, r) => sum + r.value, 0) : total);
    if (judged.length === 0) {
      return {
        judged: false,
        reason: `the fleet runs ${round(total)} comparisons/s for ${who} over ${o.window}, below minRunsPerSecond ${o.minRunsPerSecond}`,
        values,
      };
    }
    const names = new Set(judged.map((r) => r.candidate));
    const several = names.size > 1;
    if (several) for (const r of judged) values[`runsPerSecond{candidate="${r.candidate}"}`] = round(r.value);
    let trip: FleetTripEvent | undefined;
    let measured = 0;
    for (const rule of rules) {
      let samples: Sample[];
      try {
        samples = (await query(queries[rule.metric])).filter((s) => names.has(s.candidate) && Number.isFinite(s.value));
      } catch (error) {
        return { judged: false, reason: unreachable(o.prometheus, error), values };
      }
      let worst: Sample | undefined;
      for (const s of samples) {
        if (several) values[`${rule.metric}{candidate="${s.candidate}"}`] = round(s.value);
        if (worst === undefined || s.value > worst.value) worst = s;
      }
      if (worst === undefined) continue; // e.g. no duration buckets yet: this rule has nothing to judge
      measured++;
      values[rule.metric] = round(worst.value);
      if (trip === undefined && worst.value > rule.threshold) {
        const runs = judged.find((r) => r.candidate === worst?.candidate)?.value ?? values["runsPerSecond"] ?? 0;
        trip = {
          experiment: o.experiment,
          reason: rule.reason,
          value: worst.value,
          threshold: rule.threshold,
          scope: "fleet",
          runsPerSecond: runs,
          query: queries[rule.metric],
        };
      }
    }
    if (measured === 0) {
      // A rate without a single finite ratio (0 / 0 at minRunsPerSecond 0, NaN, no series) proves nothing.
      const metrics = rules.map((rule) => rule.metric).join(", ");
      return { judged: false, reason: `Prometheus answered no finite ${metrics} for ${who} over ${o.window}`, values };
    }
    if (trip !== undefined && !tripped) {
      tripped = true;
      stop();
      const warn = (what: string): void => {
        process.emitWarning(`fleetGuardrail: onTrip for "${o.experiment}" ${what}`, { type: "PenumbraWarning", code: "PENUMBRA_FLEET_ONTRIP" });
      };
      try {
        // Waited for at most QUERY_TIMEOUT_MS: an onTrip that never settles must not hang check() forever.
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<"late">((resolve) => {
          timer = setTimeout(() => resolve("late"), QUERY_TIMEOUT_MS);
        });
        const done = Promise.resolve(o.onTrip(trip));
        const outcome = await Promise.race([done, late]).finally(() => clearTimeout(timer));
        if (outcome === "late") {
          warn(`is still pending after ${QUERY_TIMEOUT_MS / 1000} s; no longer waited for`);
          done.catch((error: unknown) => warn(`failed: ${describe(error)}`));
        }
      } catch (error) {
        warn(`failed: ${describe(error)}`);
      }
    }
    return trip === undefined ? { judged: true, values } : { judged: true, reason: `tripped: ${trip.reason} ${round(trip.value)} > ${trip.threshold}`, values };
  };

  const schedule = (): void => {
    if (stopped || tripped) return;
    // unref'd: a watcher must not keep an otherwise finished process alive.
    timer = setTimeout(() => {
      void check().finally(schedule);
    }, o.everyMs);
    timer.unref();
  };
  const stop = (): void => {
    stopped = true;
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
  };
  schedule();
  return { check, stop };
}

class QueryError extends Error {}

/** A query's answer is a few series; a body past this is not Prometheus (and must not fill memory). */
const MAX_BODY_BYTES = 4 * 1024 * 1024;

/** The body as text, read up to {@link MAX_BODY_BYTES}: a body that goes on is cancelled and refused. */
async function readCapped(response: Response): Promise<string> {
  if (response.body === null) return "";
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_BODY_BYTES) {
      await reader.cancel().catch(() => undefined);
      throw new QueryError(`answered ${response.status} with more than ${MAX_BODY_BYTES / 1024 / 1024} MB; not read further`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function unreachable(base: string, error: unknown): string {
  if (error instanceof QueryError) return `Prometheus at ${base} refused the query: ${error.message}`;
  return `Prometheus unreachable at ${base}: ${describe(error)}`;
}

function describe(error: unknown): string {
  try {
    if (error instanceof Error) {
      const cause = (error as Error & { cause?: unknown }).cause;
      return cause instanceof Error ? `${error.message} (${cause.message})` : error.message;
    }
    return String(error);
  } catch {
    return "(unprintable error)";
  }
}

/** Four decimals, and always finite: a huge rate (or a sum of them) is kept as the largest number, not Infinity. */
function round(value: number): number {
  const rounded = Math.round(value * 10_000) / 10_000;
  if (Number.isFinite(rounded)) return rounded;
  return Number.isFinite(value) ? value : Math.sign(value) * Number.MAX_VALUE;
}

type Checked = Required<Pick<FleetGuardrailOptions, "prometheus" | "experiment" | "minRunsPerSecond" | "window" | "everyMs" | "onTrip">> &
  Pick<FleetGuardrailOptions, "candidate" | "maxMismatchRate" | "maxTimeoutRate" | "maxP95Ratio">;

/** Every option checked when the guardrail is built, so nothing fails later on a timer. */
function validate(options: FleetGuardrailOptions): Checked {
  const fail = (name: string, value: unknown, expected: string): never => {
    throw new TypeError(`fleetGuardrail: ${name} must be ${expected}, got ${typeof value === "string" ? JSON.stringify(value) : String(value)}`);
  };
  if (typeof options !== "object" || options === null) fail("options", options, "an object");
  let read: FleetGuardrailOptions;
  try {
    // Each option read once (inherited ones too): a getter runs once, and one that throws is refused here.
    const { prometheus, experiment, candidate, maxMismatchRate, maxTimeoutRate, maxP95Ratio, minRunsPerSecond, window, everyMs, onTrip } = options;
    read = { prometheus, experiment, candidate, maxMismatchRate, maxTimeoutRate, maxP95Ratio, minRunsPerSecond, window, everyMs, onTrip };
  } catch (error) {
    throw new TypeError(`fleetGuardrail: options could not be read: ${describe(error)}`);
  }
  const { prometheus, experiment, candidate, maxMismatchRate, maxTimeoutRate, maxP95Ratio, onTrip } = read;
  const minRunsPerSecond = read.minRunsPerSecond ?? 1;
  const window = read.window ?? "1m";
  const everyMs = read.everyMs ?? 5_000;
  if (typeof prometheus !== "string" || !/^https?:\/\//.test(prometheus) || !URL.canParse(prometheus)) {
    fail("prometheus", prometheus, "an http(s) URL of the Prometheus HTTP API");
  }
  if (typeof experiment !== "string" || experiment === "") fail("experiment", experiment, "a non-empty string");
  if (candidate !== undefined && (typeof candidate !== "string" || candidate === "")) fail("candidate", candidate, "a non-empty string");
  const rate = (name: string, value: unknown): void => {
    if (value !== undefined && !(typeof value === "number" && value >= 0 && value <= 1)) fail(name, value, "a number from 0 to 1");
  };
  rate("maxMismatchRate", maxMismatchRate);
  rate("maxTimeoutRate", maxTimeoutRate);
  if (maxP95Ratio !== undefined && !(typeof maxP95Ratio === "number" && maxP95Ratio > 0 && Number.isFinite(maxP95Ratio))) {
    fail("maxP95Ratio", maxP95Ratio, "a positive finite number");
  }
  if (maxMismatchRate === undefined && maxTimeoutRate === undefined && maxP95Ratio === undefined) {
    fail("maxMismatchRate", undefined, "set (or maxTimeoutRate, or maxP95Ratio): a guardrail needs a threshold");
  }
  if (!(typeof minRunsPerSecond === "number" && minRunsPerSecond >= 0 && Number.isFinite(minRunsPerSecond))) {
    fail("minRunsPerSecond", minRunsPerSecond, "a finite number >= 0");
  }
  // Not zero: rate() over [0s] is a query Prometheus refuses, so the guardrail could never judge.
  if (typeof window !== "string" || !DURATION.test(window) || !/[1-9]/.test(window)) fail("window", window, 'a positive PromQL duration such as "30s" or "1m"');
  if (!(typeof everyMs === "number" && everyMs > 0 && everyMs <= 2_147_483_647)) fail("everyMs", everyMs, "a positive number of milliseconds");
  if (typeof onTrip !== "function") fail("onTrip", onTrip, "a function");
  return { prometheus, experiment, candidate, maxMismatchRate, maxTimeoutRate, maxP95Ratio, minRunsPerSecond, window, everyMs, onTrip };
}
