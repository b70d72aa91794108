/**
 * `Experiment`: one control, any number of named candidates, and the run loop that answers every
 * call with the control while the candidates are observed, compared and published.
 */
import { currentSettings } from "../config";
import { reportError } from "./report";
import type { ExperimentError, Operation } from "../errors";
import type { ExperimentOptions } from "../types/options";
import type { Publisher } from "../types/operate";
import { runInBackground } from "./background";
import type { Behaviour } from "./behaviour";
import type { ExperimentCore } from "./core";
import { admit } from "./gate";
import { resolveOptions, show, type ResolvedOptions } from "./options";
import { prepareRun } from "./prepare";
import { promotedFor } from "./promote";
import { runSequentially } from "./sequential";
import { RunTracker } from "./tracker";
import { isAsyncFunction } from "../util/thenable";
import { GuardrailMonitor } from "../operate/guardrails";
import { trip } from "./trip";
import { Calibration } from "./calibrate";
import { unorderedPaths } from "../buckets/noise";
import type { CompareOptions } from "../compare/options";
import type { BucketRule } from "../types/options";

/**
 * A shadow experiment: `use` the old code, `try` the new, and `run` it like the old function.
 *
 * @example
 * ```ts
 * const experiment = new Experiment<[Cart], Total>("order-total", { timeoutMs: 200 })
 *   .use((cart) => legacyTotal(cart))
 *   .try((cart) => newTotal(cart));
 * const total = experiment.run(cart); // always legacyTotal's answer
 * ```
 */
export class Experiment<A extends unknown[] = unknown[], R = unknown> {
  readonly name: string;
  private readonly core: CoreState;
  private controlBehaviour: Behaviour | undefined;
  private readonly candidateList: Behaviour[] = [];

  constructor(name: string, options?: ExperimentOptions<A, R>) {
    if (typeof name !== "string" || name === "") {
      throw new TypeError(`penumbra: option 'name' must be a non-empty string, got ${show(name)}`);
    }
    this.name = name;
    const resolved = resolveOptions(options) as unknown as ResolvedOptions<unknown[], unknown>;
    this.core = new CoreState(name, resolved, this.candidateList);
  }

  /**
   * Registers the control: the behaviour whose outcome every caller gets. Exactly one.
   *
   * @example
   * ```ts
   * new Experiment<[number], number>("double").use((n) => n * 2);
   * ```
   */
  use(control: (...args: A) => R): this {
    if (typeof control !== "function") throw new TypeError(`penumbra: the control must be a function, got ${show(control)}`);
    if (this.controlBehaviour !== undefined) {
      throw new TypeError(`penumbra: experiment '${this.name}' already has a control; use() takes exactly one`);
    }
    this.controlBehaviour = { name: "control", fn: control as Behaviour["fn"] };
    this.core.control = this.controlBehaviour;
    return this;
  }

  /**
   * Registers a candidate: new code that runs in the shadow. Unnamed, it is called "candidate".
   *
   * @example
   * ```ts
   * experiment.try((n) => n + n).try("shift", (n) => n << 1);
   * ```
   */
  try(candidate: (...args: A) => R): this;
  try(name: string, candidate: (...args: A) => R): this;
  try(nameOrCandidate: string | ((...args: A) => R), maybeCandidate?: (...args: A) => R): this {
    const named = typeof nameOrCandidate === "string";
    const name = named ? nameOrCandidate : "candidate";
    const candidate = named ? maybeCandidate : nameOrCandidate;
    if (named && nameOrCandidate === "") throw new TypeError("penumbra: a candidate's name must be a non-empty string");
    if (typeof candidate !== "function") throw new TypeError(`penumbra: candidate '${name}' must be a function, got ${show(candidate)}`);
    if (name === "control") throw new TypeError(`penumbra: a candidate cannot be named 'control' in experiment '${this.name}'`);
    if (this.candidateList.some((c) => c.name === name)) {
      throw new TypeError(`penumbra: experiment '${this.name}' already has a candidate named '${name}'; candidate names must be unique`);
    }
    this.candidateList.push({ name, fn: candidate as Behaviour["fn"] });
    return this;
  }

  /**
   * Runs the experiment: returns exactly what the control returns (the same value, the same promise,
   * the same error), whatever the candidates do.
   *
   * @example
   * ```ts
   * const total = experiment.run(cart);
   * ```
   */
  run(...args: A): R {
    return this.invoke(undefined, args);
  }

  /**
   * Runs the experiment with `thisArg` as the behaviours' `this` (what `shadow()`'s wrapper uses).
   * @internal
   */
  invoke(thisArg: unknown, args: A): R {
    const control = this.controlBehaviour;
    if (control === undefined) {
      throw new TypeError(`penumbra: experiment '${this.name}' has no control; call use() before running it`);
    }
    const core = this.core as ExperimentCore;
    // Promotion is decided first; the behaviour that serves then runs bare when the gates say no.
    const served = core.options.promote === undefined ? control : (promotedFor(core, args) ?? control);
    const admission = admit(core, args, this.core.enabledNow);
    if (!admission.admitted) return Reflect.apply(served.fn, thisArg, args) as R;
    const run = prepareRun(core, thisArg, args, admission.asyncGate, served);
    if (run === undefined) return Reflect.apply(served.fn, thisArg, args) as R;
    // A promoted call always runs the old code in the background: the caller must not wait for it.
    return (this.core.options.mode === "sequential" && served === control ? runSequentially(run) : runInBackground(run)) as R;
  }

  /**
   * Turns the candidates back on (after `disable()` or a guardrail trip).
   *
   * @example
   * ```ts
   * experiment.enable();
   * ```
   */
  enable(): void {
    this.core.enable();
  }

  /**
   * Stops running candidates for new calls; runs already admitted finish. The control is unaffected.
   *
   * @example
   * ```ts
   * experiment.disable("rolled back after INC-1234");
   * ```
   */
  disable(reason?: string): void {
    this.core.disable(reason ?? "disabled");
  }

  /** False after `disable()` or a guardrail trip. @example `if (!experiment.enabled) alert(experiment.disabledReason)` */
  get enabled(): boolean {
    return this.core.enabledNow;
  }

  /** Why the experiment is disabled, or undefined while it is enabled. @example `console.log(experiment.disabledReason)` */
  get disabledReason(): string | undefined {
    return this.core.disabledWhy;
  }

  /**
   * Resolves when every run admitted so far has been compared and published (publisher promises
   * included). In strict mode it rejects with the first error reported since the last `settled()`.
   *
   * @example
   * ```ts
   * wrapped(cart);
   * await wrapped.experiment.settled();
   * assert.equal(memory.results.length, 1);
   * ```
   */
  settled(): Promise<void> {
    return this.core.tracker.settled();
  }
}

/** The experiment's internal state, as the run flows see it. */
class CoreState implements ExperimentCore {
  readonly tracker = new RunTracker();
  controlIsAsync: boolean | undefined = undefined;
  enabledIsAsync: boolean;
  control!: Behaviour;
  readonly rules: readonly BucketRule[];
  readonly compareOptions: CompareOptions | undefined;
  readonly calibration: Calibration | undefined;
  readonly monitor: GuardrailMonitor;
  enabledNow = true;
  disabledWhy: string | undefined = undefined;
  private active = 0;

  constructor(
    readonly name: string,
    readonly options: ResolvedOptions<unknown[], unknown>,
    readonly candidates: readonly Behaviour[],
  ) {
    this.enabledIsAsync = isAsyncFunction(options.enabled);
    this.monitor = new GuardrailMonitor(name, options.guardrails);
    const buckets = options.buckets ?? [];
    this.calibration = options.calibrate !== undefined && options.calibrate.runs > 0 ? new Calibration(options.calibrate.runs) : undefined;
    this.rules = this.calibration === undefined ? buckets : [...buckets, this.calibration.rule];
    const unordered = unorderedPaths(buckets);
    this.compareOptions = unordered === undefined ? undefined : { unordered };
  }

  enable(): void {
    this.enabledNow = true;
    this.disabledWhy = undefined;
    // A fresh window: the evidence that tripped it must not trip it again at once.
    this.monitor.reset();
  }

  disable(reason: string): void {
    this.enabledNow = false;
    this.disabledWhy = reason;
  }

  lateLeak(): void {
    const event = this.monitor.observeLateLeak();
    if (event !== undefined) trip(this, event);
  }

  acquireSlot(): boolean {
    if (this.active >= this.options.maxConcurrent) return false;
    this.active++;
    return true;
  }

  releaseSlot(): void {
    if (this.active > 0) this.active--;
  }

  report(operation: Operation, cause: unknown, detail?: string): ExperimentError {
    const error = this.reportOnly(operation, cause, detail);
    if (currentSettings().strict) this.tracker.recordStrictError(error);
    return error;
  }

  reportOnly(operation: Operation, cause: unknown, detail?: string): ExperimentError {
    return reportError(this.name, this.options.onError, operation, cause, detail);
  }

  publishers(): readonly Publisher[] {
    return this.options.publishers ?? currentSettings().publishers;
  }
}
