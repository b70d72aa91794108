/** The options of an experiment, as the API contract fixes them. */
import type { P } from "ts-pattern";
import type { ExperimentError } from "../errors";
import type { Effect, FieldDiff } from "./results";
import type { Guardrails, Publisher } from "./operate";

/**
 * A rule that names the reason for a difference. The first matching rule names a diff's bucket;
 * `noise: true` makes the difference harmless.
 *
 * @example
 * ```ts
 * const rule: BucketRule = { name: "tax-rounding", match: { path: P.string.regex(/\.tax$/) } };
 * ```
 */
export interface BucketRule {
  name: string;
  noise?: boolean;
  match: P.Pattern<FieldDiff> | ((diff: FieldDiff) => boolean);
}

/**
 * How candidates run: after the caller has its answer, or Scientist-style before it.
 *
 * @example
 * ```ts
 * const mode: Mode = process.env.NODE_ENV === "test" ? "sequential" : "background";
 * const total = shadow(oldTotal, newTotal, { mode });
 * ```
 */
export type Mode = "background" | "sequential";

/**
 * Everything an experiment can be told. Every option is optional.
 *
 * @example
 * ```ts
 * const total = shadow(oldTotal, newTotal, {
 *   name: "order-total",
 *   sample: 0.05,
 *   sampleBy: (cart) => cart.customerId,
 *   timeoutMs: 200,
 *   publish: jsonlPublisher("results.jsonl"),
 * });
 * ```
 */
export interface ExperimentOptions<A extends unknown[] = unknown[], R = unknown> {
  /** @default the control's function name, else "experiment" */
  name?: string;
  /** @default "background" */
  mode?: Mode;
  /** A flag, or a sync or async gate; an async gate never delays the control. @default true */
  enabled?: boolean | ((...args: A) => boolean | Promise<boolean>);
  /** Fraction of calls admitted, 0..1. @default 1 */
  sample?: number;
  /** Sticky sampling: the same key gets the same decision in every process. */
  sampleBy?: (...args: A) => string;
  runIf?: (...args: A) => boolean;
  /** Runs only for admitted calls, before the candidates. */
  beforeRun?: () => void | Promise<void>;
  context?: Record<string, unknown> | ((...args: A) => Record<string, unknown>);
  compare?: (control: Awaited<R>, candidate: Awaited<R>) => boolean;
  compareErrors?: (control: unknown, candidate: unknown) => boolean;
  ignore?: Array<(control: Awaited<R> | undefined, candidate: Awaited<R> | undefined) => boolean>;
  /** For publishing only, never for comparison. */
  clean?: (value: Awaited<R>) => unknown;
  buckets?: BucketRule[];
  /** Compared first, e.g. `(v) => v.status`. */
  statusOf?: (value: Awaited<R>) => string | number;
  /** @default true */
  compareEffects?: boolean | ((control: Effect[], candidate: Effect[]) => boolean);
  /** A candidate's budget for asynchronous work. @default 5000 */
  timeoutMs?: number;
  /** Runs in flight at once; a call that finds no free slot is skipped. @default 256 */
  maxConcurrent?: number;
  /** `false` shares the arguments; a function makes the copy the candidates get. */
  isolate?: false | ((args: A) => A);
  /** Put the argument snapshot on the result, for `replay`. @default false */
  captureArgs?: boolean;
  /** @default the publishers given to `configure()` */
  publish?: Publisher | Publisher[];
  /** @default the handler given to `configure()`, else a `PenumbraWarning` */
  onError?: (error: ExperimentError) => void;
  /** Sequential mode: throw a `MismatchError` on a mismatch. @default configure()'s, else false */
  throwOnMismatch?: boolean;
  guardrails?: Guardrails;
  /** Learn noise: rerun the control in shadow on the same arguments and diff the two. */
  calibrate?: { runs: number };
  /** Canary: the share of calls (or a predicate choosing them) the first candidate answers. */
  promote?: number | ((...args: A) => boolean);
}
