/**
 * The internal face of an experiment that the run flows work with. `Experiment` implements it; the
 * flows never see the public class, so the data flows one way: gate → snapshot → behaviours →
 * comparison → result → publishers.
 */
import type { ExperimentError, Operation } from "../errors";
import type { Publisher } from "../types/operate";
import type { CompareOptions } from "../compare/options";
import type { BucketRule } from "../types/options";
import type { Calibration } from "./calibrate";
import type { GuardrailMonitor } from "../operate/guardrails";
import type { Behaviour } from "./behaviour";
import type { ResolvedOptions } from "./options";
import type { RunTracker } from "./tracker";

/**
 * The internal face of an experiment that the run flows see; `Experiment`'s internal state implements it.
 *
 * @internal
 * @example
 * ```ts
 * if (!core.acquireSlot()) return REFUSED;
 * ```
 */
export interface ExperimentCore {
  readonly name: string;
  readonly options: ResolvedOptions<unknown[], unknown>;
  readonly control: Behaviour;
  readonly candidates: readonly Behaviour[];
  readonly tracker: RunTracker;
  /** Learned on the first run: does the control return a promise? Undefined until known. */
  controlIsAsync: boolean | undefined;
  /** Learned: does a plain-function `enabled` answer with a promise? */
  enabledIsAsync: boolean;
  acquireSlot(): boolean;
  releaseSlot(): void;
  /** Reports to onError; in strict mode the next settled()/flush() rejects with it. */
  report(operation: Operation, cause: unknown, detail?: string): ExperimentError;
  /** Reports to onError only (for errors thrown straight at a waiting caller). */
  reportOnly(operation: Operation, cause: unknown, detail?: string): ExperimentError;
  publishers(): readonly Publisher[];
  /** The bucket rules evaluation applies: the experiment's, then calibration's learned-noise rule. */
  readonly rules: readonly BucketRule[];
  /** Diff options derived from the rules (the `noise.arrayOrder` paths). */
  readonly compareOptions: CompareOptions | undefined;
  /** Present while the experiment calibrates noise (`calibrate` option). */
  readonly calibration: Calibration | undefined;
  /** Watches published results against the guardrails (the leak rule is always on by default). */
  readonly monitor: GuardrailMonitor;
  /** False after `disable()` or a guardrail trip. */
  readonly enabledNow: boolean;
  /** Switches candidates off for new calls (`disable()`, or a guardrail trip). */
  disable(reason: string): void;
  /** Told of a leak that arrived after its candidate's observation was taken. */
  lateLeak(): void;
}
