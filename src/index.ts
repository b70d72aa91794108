/**
 * penumbra: shadow experiments for Node.js. The old code answers every call; the new code runs
 * silently on the same inputs; every difference is published, explained field by field.
 */
export { shadow } from "./experiment/shadow";
export type { Shadowed } from "./experiment/shadow";
export { Experiment } from "./experiment/experiment";
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
export { guardMailer } from "./adapters/nodemailer";
export type { GuardMailerOptions, ShadowMailInfo } from "./adapters/nodemailer";
export { guardSqlite } from "./adapters/better-sqlite3";
export type { GuardSqliteOptions } from "./adapters/better-sqlite3";
export { guardStripe } from "./adapters/stripe";
export type { GuardStripeOptions } from "./adapters/stripe";
export { classifyPgQuery, guardPg } from "./adapters/pg";
export type { GuardPgOptions, PgQueryClass, PgShadowResult } from "./adapters/pg";
export { Scorecard } from "./operate/scorecard";
export type { Percentiles, ScorecardOptions, ScorecardSummary } from "./operate/scorecard";
export { loggerPublisher } from "./publishers/logger";
export type { LoggerPublisher, LoggerPublisherOptions, LogMethod, StructuredLogger } from "./publishers/logger";
export { replay, readResults, type ReplayOptions, type ReplayReport, type MalformedLine, type ReadResultsOptions, type ProgressStream } from "./replay/index";
