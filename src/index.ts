/**
 * penumbra: shadow experiments for Node.js. The old code answers every call; the new code runs
 * silently on the same inputs; every difference is published, explained field by field.
 *
 * The root entry exports exactly the contract's 24 values; the guarded clients live on subpaths
 * (`penumbra/nodemailer`, `penumbra/stripe`, `penumbra/better-sqlite3`, `penumbra/pg`).
 */
export { Experiment, shadow } from "./experiment/index";
export type { Shadowed } from "./experiment/index";
export { flush } from "./flush";
export { configure } from "./config";
export type { ConfigureOptions } from "./config";
export { isShadow, currentRun, bindShadow } from "./context/run-info";
export { asyncLocalStorageContext } from "./context/als-backend";
export { noise } from "./buckets/noise";
export type { NumberNoiseOptions, TimestampNoiseOptions } from "./buckets/noise";
export { memoryPublisher } from "./publishers/memory";
export type { MemoryPublisher, MemoryPublisherOptions } from "./publishers/memory";
export { jsonlPublisher } from "./store/jsonl";
export type { JsonlPublisher, JsonlPublisherOptions } from "./store/jsonl";
export { consolePublisher } from "./publishers/console";
export type { ConsolePublisher, ConsolePublisherOptions } from "./publishers/console";
export {
  PenumbraError,
  MismatchError,
  ExperimentError,
  ShadowBlockedError,
  CandidateTimeoutError,
} from "./errors";
export type { Operation, PenumbraErrorCode } from "./errors";
export type {
  Effect,
  FieldDiff,
  Leak,
  Mismatch,
  MismatchKind,
  Observation,
  Outcome,
  Result,
  Role,
} from "./types/results";
export type { BucketRule, ExperimentOptions, Mode } from "./types/options";
export type { Guardrails, Publisher, TripEvent } from "./types/operate";
export type { ContextBackend, RunInfo } from "./types/context";
export { guard } from "./guard/guard";
export type { GuardOptions } from "./guard/guard";
export { sideEffect } from "./guard/side-effect";
export { installTripwire } from "./tripwire/index";
export type { TripwireError, TripwireMode, TripwireOptions, TripwireTarget } from "./tripwire/index";
export { Scorecard } from "./operate/scorecard";
export type { Percentiles, ScorecardOptions, ScorecardSummary } from "./operate/scorecard";
export { loggerPublisher } from "./publishers/logger";
export type { LoggerPublisher, LoggerPublisherOptions, LogMethod, StructuredLogger } from "./publishers/logger";
export { replay, readResults, type ReplayOptions, type ReplayReport, type MalformedLine, type ReadResultsOptions, type ProgressStream } from "./replay/index";
