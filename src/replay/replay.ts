/**
 * `replay`: rerun recorded arguments (results published with `captureArgs`) through a control and a
 * candidate, both in shadow context, and score the outcome. The loop it serves: a candidate mismatched
 * in production, you fix the rules, replay the mismatched calls, compare again.
 *
 * Why not `Experiment.run` per record: both sides must run in shadow frames (so guards sink the
 * control's effects too), and the engine deliberately runs an experiment nested in a shadow frame
 * bare (see `experiment/admit.ts`). So replay observes each side itself, in its own shadow frame, with
 * the engine's own pieces: `observeInShadow` (the engine entry) for the observation and its timeout, `evaluate` for the
 * comparison (errors, status, values, effects, buckets, ignore) and `buildResult` for the result.
 */
import { randomUUID } from "node:crypto";
import { currentFrame } from "../context/frame";
import { unorderedPaths } from "../buckets/noise";
import { observeInShadow, resolveOptions, show, type Behaviour, type ResolvedOptions } from "../experiment/index";
import { publishResult } from "../publishers/dispatch";
import { reportError } from "../report";
import { snapshotArgs } from "../isolation/snapshot";
import { Scorecard, type ScorecardSummary } from "../operate/scorecard";
import { buildResult } from "../result/build";
import { evaluate, type EvaluationContext } from "../result/evaluate";
import { PenumbraError, type Operation } from "../errors";
import { replayRecordProblem } from "../store/schema";
import type { Publisher } from "../types/operate";
import type { BucketRule, ExperimentOptions } from "../types/options";
import type { RawObservation as Outcome, Result } from "../types/results";
import { ProgressBar, type ProgressStream } from "./progress";
import { readResults, type MalformedLine } from "../store/read";

/**
 * Options of {@link replay}: the two behaviours, the experiment options that shape a comparison, and
 * what to read.
 *
 * Of the experiment options, those that decide how results are compared and reported apply (`name`,
 * `compare`, `compareErrors`, `ignore`, `clean`, `buckets`, `statusOf`, `compareEffects`,
 * `timeoutMs`, `isolate`, `onError`, `publish`); the admission and rollout options (`mode`,
 * `enabled`, `sample`, `sampleBy`, `runIf`, `beforeRun`, `context`, `maxConcurrent`, `captureArgs`,
 * `throwOnMismatch`, `guardrails`, `calibrate`, `promote`) are accepted, so one options object can
 * serve both, and ignored: every record is replayed, one at a time.
 *
 * @example
 * ```ts
 * const options: ReplayOptions<[Cart], Total> = {
 *   control: legacyTotal, candidate: newTotal, experiment: "checkout-total", buckets: [taxRounding],
 * };
 * ```
 */
export interface ReplayOptions<A extends unknown[] = unknown[], R = unknown> extends ExperimentOptions<A, R> {
  /** The old code: its outcome is what the candidate is compared with. Runs in shadow context too. */
  control: (...args: A) => R;
  /** The new code, under the name "candidate". */
  candidate: (...args: A) => R;
  /** Replay only this experiment's records; the others are counted in `filtered`. */
  experiment?: string;
  /**
   * A progress bar on a TTY: `true` or omitted draws on `process.stderr` (only when it is a TTY),
   * a stream draws there (only when its `isTTY` is true), `false` draws nothing.
   */
  progress?: boolean | ProgressStream;
  /**
   * Turns a record's `args` back into what the behaviours take. Arguments read from a JSONL file are
   * plain JSON (dates are ISO strings, maps `{ $map }`): revive them here. @default the args as they are
   */
  reviveArgs?: (args: unknown[], record: Result<unknown>) => A;
  /** Differing results kept in `differing` (the first ones); the rates still count them all. @default 1000 */
  maxDiffering?: number;
}

/**
 * What {@link replay} resolves to: the `ScorecardSummary` of the replayed runs (candidate "candidate"),
 * plus the results that still differ and what could not be replayed.
 *
 * `skipped` here counts records that could not be replayed because they carry no `args` (published
 * without `captureArgs`); a replay has no overload skips. `notReplayed` adds the unreadable ones,
 * and `notice` says it in a sentence: a partial replay is never reported as a clean one.
 *
 * @example
 * ```ts
 * const report: ReplayReport = await replay("var/shadow-results.jsonl", { control, candidate });
 * if (report.notice !== undefined) console.warn(report.notice);
 * console.log(report.runs, report.fieldMatchRate, report.differing.length);
 * ```
 */
export interface ReplayReport extends ScorecardSummary {
  /** Replayed results whose candidate still mismatched (ignored ones are not), in replay order, at most `maxDiffering`. */
  differing: Result<unknown>[];
  /** File lines (or in-memory positions) that were not results, with their 1-based numbers and why. */
  malformed: MalformedLine[];
  /** Records without `args` (published without `captureArgs: true`): not replayed. */
  skipped: number;
  /** Records of other experiments, left out by the `experiment` option (not counted as not replayed). */
  filtered: number;
  /** Records that could not be replayed: `skipped` (no captured arguments) plus `malformed.length` (unreadable). */
  notReplayed: number;
  /**
   * Says how many records could not be replayed and why, e.g. `2 of 12 records could not be
   * replayed: 1 without captured arguments (publish with captureArgs: true), 1 unreadable (line 7)`;
   * undefined when every record was replayed.
   */
  notice: string | undefined;
}

/** What a replay may read: results in memory (sync or async), or the path of a JSONL file. */
type Records = Iterable<Result<unknown>> | AsyncIterable<Result<unknown>> | string;

const REPLAY_ONLY = new Set(["control", "candidate", "experiment", "progress", "reviveArgs", "maxDiffering"]);

/**
 * Reruns recorded arguments through `control` and `candidate`, both in shadow context (guarded
 * effects of both sides are sunk, none reaches the outside world), compares them as the experiment
 * would, and resolves to the scorecard of the replay plus the results that still differ.
 *
 * Each replayed result is a fresh run (new `runId`, `startedAt` now) whose `context` is the record's
 * plus `replayOf: <the record's runId>`; it goes to a private Scorecard and, if given, to `publish`
 * (never to `configure()`'s publishers: a replay must not pollute production results). Records are
 * replayed one at a time, in order; each side gets its own copy of the arguments. A control that does
 * not settle within `timeoutMs` counts as having thrown its timeout error (reason `error:control-threw`).
 * A replay that replayed nothing is never a clean verdict: it rejects with a `PenumbraError` (code
 * `PENUMBRA_NOTHING_REPLAYED`) naming the cause: the file or list is empty, every record was
 * published without `captureArgs: true`, every line was unreadable, or no record belongs to
 * `experiment`. A partial replay resolves, and its `notReplayed` / `notice` say what was left out.
 * Otherwise it rejects only for bad options (a `TypeError`) or an unreadable file (the `fs` error).
 *
 * @example
 * ```ts
 * const report = await replay("var/shadow-results.jsonl", {
 *   experiment: "checkout-total", control: legacyTotal, candidate: fixedTotal,
 * });
 * if (report.differing.length > 0) console.table(report.reasons);
 * ```
 */
export async function replay<A extends unknown[], R>(records: Records, options: ReplayOptions<A, R>): Promise<ReplayReport> {
  const setup = prepare(options);
  const scorecard = new Scorecard({ windowMs: Number.MAX_SAFE_INTEGER });
  const malformed: MalformedLine[] = [];
  const differing: Result<unknown>[] = [];
  let skipped = 0;
  let filtered = 0;
  let replayed = 0;
  let name = setup.name;
  const bar = progressBar(options.progress);
  let fraction: number | undefined;
  const total = typeof records !== "string" && Array.isArray(records) ? records.length : undefined;

  const source: AsyncIterable<{ item: unknown }> =
    typeof records === "string"
      ? boxed(readResults(records, {
          experiment: options.experiment,
          onMalformed: (bad) => malformed.push(bad),
          onFiltered: () => filtered++,
          onBytes: (read, size) => {
            fraction = size === 0 ? 1 : read / size;
          },
        }))
      : checkedIterable(records);
  let position = 0;
  for await (const { item } of source) {
    position++;
    let record: Result<unknown>;
    if (typeof records === "string") {
      // A file's lines were checked by readResults against the full schema.
      record = item as Result<unknown>;
    } else {
      // A hand-built record needs only what replay reads; those fields are read once, here, so a
      // record whose getters or Proxy traps throw (or change their answer) is named, never followed.
      const plain = plainRecord(item);
      if (typeof plain === "string") {
        malformed.push({ line: position, error: `penumbra: not a replay record (${plain}): ${safeShow(item)}` });
        continue;
      }
      record = plain;
      if (options.experiment !== undefined && record.experiment !== options.experiment) {
        filtered++;
        continue;
      }
    }
    if (!Array.isArray(record.args)) {
      skipped++;
      continue;
    }
    name ??= typeof record.experiment === "string" ? record.experiment : "replay";
    const result = await replayOne(setup, name, record);
    replayed++;
    scorecard.publish(result);
    if (result.mismatched && differing.length < setup.maxDiffering) differing.push(result);
    if (setup.publishers.length > 0) await publishResult(result, setup.publishers, setup.report(name));
    bar?.update(replayed, total, fraction);
  }
  bar?.done(replayed, total, fraction);
  const counts = { replayed, skipped, malformed, filtered, source: typeof records === "string" ? records : undefined, experiment: options.experiment };
  const summary = name === undefined ? undefined : scorecard.summary(name, "candidate");
  if (replayed === 0 || summary === undefined) {
    throw new PenumbraError(`penumbra: replay: nothing replayed: ${nothingBecause(counts)}`, "PENUMBRA_NOTHING_REPLAYED");
  }
  return { ...summary, skipped, differing, malformed, filtered, notReplayed: skipped + malformed.length, notice: partialNotice(counts) };
}

interface Counts {
  replayed: number;
  skipped: number;
  malformed: readonly MalformedLine[];
  filtered: number;
  /** The file read, when records came from one. */
  source: string | undefined;
  experiment: string | undefined;
}

const CAPTURE_HINT = "publish them with captureArgs: true to replay them";

/** The cause of an empty replay, in words that name the fix. */
function nothingBecause(c: Counts): string {
  const where = c.source === undefined ? "the records given" : c.source;
  const read = c.skipped + c.malformed.length;
  if (read === 0 && c.filtered === 0) return `${where} ${c.source === undefined ? "are" : "is"} empty`;
  if (read === 0) return `no record of experiment '${c.experiment ?? ""}' in ${where} (${plural(c.filtered, "record")} of other experiments)`;
  if (c.malformed.length === 0) {
    return `none of the ${plural(c.skipped, "record")} in ${where} carries captured arguments (they were published without captureArgs: true; ${CAPTURE_HINT})`;
  }
  if (c.skipped === 0) return `none of the ${plural(c.malformed.length, "record")} in ${where} is readable (${firstLines(c.malformed)})`;
  return `of ${plural(read, "record")} in ${where}, ${c.skipped} carry no captured arguments (${CAPTURE_HINT}) and ${c.malformed.length} are unreadable (${firstLines(c.malformed)})`;
}

/** What a partial replay left out, or undefined when it left out nothing. */
function partialNotice(c: Counts): string | undefined {
  const left = c.skipped + c.malformed.length;
  if (left === 0) return undefined;
  const why: string[] = [];
  if (c.skipped > 0) why.push(`${c.skipped} without captured arguments (${CAPTURE_HINT})`);
  if (c.malformed.length > 0) why.push(`${c.malformed.length} unreadable (${firstLines(c.malformed)})`);
  return `${left} of ${plural(left + c.replayed, "record")} could not be replayed: ${why.join(", ")}`;
}

function firstLines(malformed: readonly MalformedLine[]): string {
  const shown = malformed.slice(0, 5).map((m) => m.line);
  return `${malformed.length === 1 ? "line" : "lines"} ${shown.join(", ")}${malformed.length > shown.length ? ", …" : ""}; first: ${malformed[0]?.error ?? ""}`;
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

/**
 * An in-memory record as a plain object, its fields read once (what replay and `reviveArgs` see from
 * then on), or the schema's problem with it.
 */
function plainRecord(item: unknown): Result<unknown> | string {
  try {
    // Array.isArray throws on a revoked Proxy: inside the try too.
    if (typeof item !== "object" || item === null || Array.isArray(item)) return replayRecordProblem(item) ?? "the record is not an object";
    // Own fields through one spread (each getter runs once); inherited ones (a class's getters) once each.
    const plain: Record<string, unknown> = { ...item };
    for (const key of ["experiment", "runId", "context", "args"]) {
      if (!Object.prototype.hasOwnProperty.call(plain, key) && key in item) plain[key] = (item as Record<string, unknown>)[key];
    }
    if (Array.isArray(plain["args"])) plain["args"] = [...(plain["args"] as unknown[])];
    return replayRecordProblem(plain) ?? (plain as unknown as Result<unknown>);
  } catch {
    return "could not be read (a property access threw)";
  }
}

/** A hand-built record may be anything, a throwing Proxy included: describing it must not throw. */
function safeShow(value: unknown): string {
  try {
    return show(value);
  } catch {
    return "[unprintable]";
  }
}

interface Setup {
  /** Fixed by `name` or `experiment`; else the first replayed record's experiment. */
  readonly name: string | undefined;
  readonly options: ResolvedOptions<unknown[], unknown>;
  readonly control: Behaviour;
  readonly candidate: Behaviour;
  readonly revive: ((args: unknown[], record: Result<unknown>) => unknown[]) | undefined;
  readonly maxDiffering: number;
  readonly publishers: readonly Publisher[];
  readonly rules: readonly BucketRule[];
  readonly compareOptions: EvaluationContext["compareOptions"];
  report(experiment: string): (operation: Operation, cause: unknown, detail?: string) => void;
}

function prepare<A extends unknown[], R>(options: ReplayOptions<A, R>): Setup {
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`penumbra: replay options must be an object with control and candidate, got ${show(options)}`);
  }
  if (typeof options.control !== "function") throw new TypeError(`penumbra: replay option 'control' must be a function, got ${show(options.control)}`);
  if (typeof options.candidate !== "function") {
    throw new TypeError(`penumbra: replay option 'candidate' must be a function, got ${show(options.candidate)}`);
  }
  if (options.experiment !== undefined && (typeof options.experiment !== "string" || options.experiment === "")) {
    throw new TypeError(`penumbra: replay option 'experiment' must be a non-empty string, got ${show(options.experiment)}`);
  }
  if (options.reviveArgs !== undefined && typeof options.reviveArgs !== "function") {
    throw new TypeError(`penumbra: replay option 'reviveArgs' must be a function, got ${show(options.reviveArgs)}`);
  }
  const maxDiffering = options.maxDiffering ?? 1000;
  if (!(Number.isInteger(maxDiffering) && maxDiffering >= 0)) {
    throw new TypeError(`penumbra: replay option 'maxDiffering' must be a whole number, 0 or more, got ${show(maxDiffering)}`);
  }
  const progress: unknown = options.progress;
  if (progress !== undefined && typeof progress !== "boolean" && !(typeof progress === "object" && progress !== null && typeof (progress as ProgressStream).write === "function")) {
    throw new TypeError(`penumbra: replay option 'progress' must be a boolean or a stream with write(), got ${show(progress)}`);
  }
  // The experiment options go through the engine's own validation, so a typo fails the same way.
  const experimentOptions: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) if (!REPLAY_ONLY.has(key)) experimentOptions[key] = value;
  const resolved = resolveOptions(experimentOptions as ExperimentOptions) as ResolvedOptions<unknown[], unknown>;
  const onError = resolved.onError;
  const rules = resolved.buckets ?? [];
  const unordered = unorderedPaths(rules);
  return {
    name: resolved.name ?? options.experiment,
    options: resolved,
    control: { name: "control", fn: options.control as Behaviour["fn"] },
    candidate: { name: "candidate", fn: options.candidate as Behaviour["fn"] },
    revive: options.reviveArgs as Setup["revive"],
    maxDiffering,
    publishers: resolved.publishers ?? [],
    rules,
    compareOptions: unordered === undefined ? undefined : { unordered },
    report: (experiment) => (operation, cause, detail) => void reportError(experiment, onError, operation, cause, detail),
  };
}

async function replayOne(setup: Setup, name: string, record: Result<unknown>): Promise<Result<unknown>> {
  const report = setup.report(name);
  const recorded = record.args as unknown[];
  const runId = randomUUID();
  const startedAt = Date.now();
  const context: Record<string, unknown> = Object.freeze({ ...(isRecord(record.context) ? record.context : {}), replayOf: record.runId });
  let args: unknown[] = recorded;
  if (setup.revive !== undefined) {
    try {
      args = setup.revive([...recorded], record);
      if (!Array.isArray(args)) throw new TypeError(`reviveArgs must return an array of arguments, got ${show(args)}`);
    } catch (error) {
      // Not one of the engine's operations, but the closest: the arguments could not be prepared.
      report("isolate", error, `reviveArgs failed for record ${String(record.runId)}; replayed with the recorded args`);
      args = recorded;
    }
  }
  const controlOutcome = asControl(await observe(setup, name, runId, context, setup.control, "control", args, report));
  const candidateOutcome = await observe(setup, name, runId, context, setup.candidate, "candidate", args, report);
  const evaluation: EvaluationContext = {
    options: setup.options,
    rules: setup.rules,
    compareOptions: setup.compareOptions,
    timeoutMs: setup.options.timeoutMs,
    report,
  };
  return buildResult({
    experiment: name,
    runId,
    startedAt,
    context,
    args: recorded,
    servedBy: "control",
    control: controlOutcome,
    candidates: [{ outcome: candidateOutcome, evaluation: evaluate(evaluation, controlOutcome, candidateOutcome) }],
    clean: setup.options.clean as ((value: never) => unknown) | undefined,
    report,
  });
}

/** Runs one side in its own shadow frame, on its own copy of the arguments, within `timeoutMs`. */
async function observe(
  setup: Setup,
  name: string,
  runId: string,
  context: Record<string, unknown>,
  behaviour: Behaviour,
  role: "control" | "candidate",
  args: unknown[],
  report: (operation: Operation, cause: unknown) => void,
): Promise<Outcome> {
  let copy: unknown[] = args;
  let isolated = false;
  try {
    if (setup.options.isolate === false) {
      copy = args;
    } else if (typeof setup.options.isolate === "function") {
      copy = setup.options.isolate(args);
      isolated = true;
    } else {
      const snapshot = snapshotArgs(args);
      copy = snapshot.value;
      isolated = snapshot.isolated;
    }
  } catch (error) {
    report("isolate", error);
    copy = args;
    isolated = false;
  }
  // A shadow frame for BOTH sides: the point of a replay is that nothing reaches the outside world.
  const scope = { experiment: name, id: runId, context, parent: currentFrame(), report, lateLeak: () => undefined };
  return observeInShadow(scope, behaviour, role, copy, isolated, setup.options.timeoutMs);
}

/**
 * The control's outcome as a comparison expects it: guards record every blocked call as a candidate's
 * (they only know "shadow"), and a timed-out control is an error, since there is no answer to compare.
 */
function asControl(outcome: Outcome): Outcome {
  const effects = outcome.effects.map((e) => Object.freeze({ ...e, role: "control" as const }));
  if (!outcome.timedOut) return { ...outcome, effects };
  return { ...outcome, effects, threw: true, timedOut: false };
}

/**
 * The records, each in a box: `for await` over a sync iterable and `yield` in an async generator
 * both await the value itself, which would call a record's `then` (a thenable record, a Proxy whose
 * `get` trap throws). Boxed, a record is only ever looked at by the schema check.
 */
async function* checkedIterable(records: Iterable<Result<unknown>> | AsyncIterable<Result<unknown>>): AsyncGenerator<{ item: unknown }> {
  if (records === null || typeof records !== "object" || (!(Symbol.iterator in records) && !(Symbol.asyncIterator in records))) {
    throw new TypeError(`penumbra: replay records must be an iterable of results or the path of a JSONL file, got ${show(records)}`);
  }
  if (Symbol.asyncIterator in records) {
    // An async iterator's own results are awaited by the protocol; that is the caller's choice of source.
    for await (const item of records as AsyncIterable<unknown>) yield { item };
  } else {
    for (const item of records as Iterable<unknown>) yield { item };
  }
}

async function* boxed(results: AsyncIterable<Result<unknown>>): AsyncGenerator<{ item: unknown }> {
  for await (const item of results) yield { item };
}

function progressBar(option: ReplayOptions["progress"]): ProgressBar | undefined {
  if (option === false) return undefined;
  const stream: ProgressStream = option === undefined || option === true ? process.stderr : option;
  return stream.isTTY === true ? new ProgressBar(stream, "replay") : undefined;
}

function isRecord(value: unknown): value is Result<unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
