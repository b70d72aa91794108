/**
 * One experiment's state, in one class: its behaviours, options, slots, on/off switch (and the trip
 * that can flip it), failure hook, the in-flight tracker, the learned noise, and the once-only
 * warnings. The run loop reads it; only a guardrail trip writes back to it from downstream.
 */
import { unorderedPaths } from "../buckets/noise";
import type { CompareOptions } from "../compare/options";
import { currentSettings } from "../config";
import { GuardrailMonitor } from "../operate/guardrails";
import { publishSkip, publishTrip, wantsSkips } from "../publishers/dispatch";
import { FailureHook, penumbraWarning, type Report } from "../report";
import type { Publisher, TripEvent } from "../types/operate";
import type { BucketRule } from "../types/options";
import { isAsyncFunction, isThenable } from "../util/thenable";
import { Calibration } from "./calibrate";
import type { Behaviour } from "./observe";
import type { ResolvedOptions } from "./options";
import { RunTracker } from "./tracker";

/** Sequential runs measure CPU time for their first CPU_FIRST_RUNS runs, then one run in CPU_SAMPLE_EVERY. */
const CPU_FIRST_RUNS = 16;
const CPU_SAMPLE_EVERY = 64;

/** Names of the experiments alive in the process: a second one with the same name is warned about. */
const liveNames = new Map<string, WeakRef<ExperimentState>>();

/**
 * The state of one experiment, shared by all its runs.
 *
 * @internal
 * @example
 * ```ts
 * const state = new ExperimentState("checkout", resolveOptions({ sample: 0.1 }) as ResolvedOptions<unknown[], unknown>);
 * if (state.acquireSlot()) state.releaseSlot();
 * ```
 */
export class ExperimentState {
  readonly tracker = new RunTracker();
  readonly hook: FailureHook;
  control: Behaviour | undefined = undefined;
  readonly candidates: Behaviour[] = [];
  /** Learned on the first run: does the control return a promise? Undefined until known. */
  controlIsAsync: boolean | undefined = undefined;
  /** Learned: does `enabled` answer with a promise? Then it is asked only for admitted calls. */
  enabledIsAsync: boolean;
  enabled = true;
  disabledReason: string | undefined = undefined;
  /** Bumped by `enable()`: runs admitted before it do not count in the new guardrail window. */
  epoch = 0;
  readonly monitor: GuardrailMonitor;
  readonly calibration: Calibration | undefined;
  /** The bucket rules evaluation applies: the experiment's, then calibration's learned-noise rule. */
  readonly rules: readonly BucketRule[];
  readonly compareOptions: CompareOptions | undefined;
  private active = 0;
  private cpuRuns = 0;
  private warnedNoPublisher = false;
  private warnedSkipping = false;
  private warnedThenable = false;

  constructor(
    readonly name: string,
    readonly options: ResolvedOptions<unknown[], unknown>,
  ) {
    this.hook = new FailureHook(name, options.onError);
    this.enabledIsAsync = isAsyncFunction(options.enabled);
    this.monitor = new GuardrailMonitor(name, options.guardrails);
    const buckets = options.buckets ?? [];
    this.calibration = options.calibrate !== undefined && options.calibrate.runs > 0 ? new Calibration(options.calibrate.runs) : undefined;
    this.rules = this.calibration === undefined ? buckets : [...buckets, this.calibration.rule];
    const unordered = unorderedPaths(buckets);
    this.compareOptions = unordered === undefined ? undefined : { unordered };
    // A disabled experiment no longer holds its name: a ramp that replaces one experiment by the next
    // (disabling the old one) merges their scorecards on purpose.
    const previous = liveNames.get(name)?.deref() as ExperimentState | undefined;
    if (previous !== undefined && previous.enabled) {
      penumbraWarning(
        `experiment '${name}' was built while another experiment with that name is in use: their results would be merged ` +
          "by name in scorecards and metrics. Give each experiment its own name (option 'name').",
        "PENUMBRA_DUPLICATE_NAME",
      );
    }
    liveNames.set(name, new WeakRef(this));
  }

  /** Turns candidates back on, with a fresh guardrail window. */
  enable(): void {
    this.enabled = true;
    this.disabledReason = undefined;
    this.epoch++;
    this.monitor.reset();
  }

  /** Switches candidates off for new calls; runs already admitted finish. */
  disable(reason: string): void {
    this.enabled = false;
    this.disabledReason = reason;
  }

  acquireSlot(): boolean {
    if (this.active >= this.options.maxConcurrent) return false;
    this.active++;
    return true;
  }

  releaseSlot(): void {
    if (this.active > 0) this.active--;
  }

  /**
   * Whether this sequential run measures CPU time: the first 16 runs, then one in 64. Reading the
   * CPU clock is a syscall per behaviour, twice, and cost more than everything else a run does.
   */
  measuresCpu(): boolean {
    const n = this.cpuRuns++;
    return n < CPU_FIRST_RUNS || n % CPU_SAMPLE_EVERY === 0;
  }

  /** The experiment's own publishers, else the configured ones. */
  publishers(): readonly Publisher[] {
    return this.options.publishers ?? currentSettings().publishers;
  }

  /** The publishers for a result, warning once when there are none. */
  publishersForResult(): readonly Publisher[] {
    const publishers = this.publishers();
    if (publishers.length === 0 && !this.warnedNoPublisher) {
      this.warnedNoPublisher = true;
      penumbraWarning(
        `experiment '${this.name}' has a result to publish but no publisher: results go nowhere. ` +
          "Pass option 'publish' or call configure({ publishers: [...] }).",
        "PENUMBRA_NO_PUBLISHER",
      );
    }
    return publishers;
  }

  /** A call passed the gates but found no free slot: tell the publishers (off the caller's path). */
  skipped(): void {
    if (!this.warnedSkipping) {
      this.warnedSkipping = true;
      penumbraWarning(
        `experiment '${this.name}' is skipping calls: all ${this.options.maxConcurrent} slots (maxConcurrent) are busy. ` +
          "Raise maxConcurrent, lower sample, or make the candidate faster.",
        "PENUMBRA_SKIPPING",
      );
    }
    const publishers = this.publishers();
    if (!wantsSkips(publishers)) return;
    // Off the caller's path, but before settled() / flush() resolve.
    const ticket = this.tracker.begin();
    setImmediate(() => {
      publishSkip(this.name, publishers, this.hook.report);
      ticket.done();
    });
  }

  /** The control returned a thenable that is not a native promise: said once, in background mode. */
  unobservable(): void {
    if (this.warnedThenable) return;
    this.warnedThenable = true;
    penumbraWarning(
      `experiment '${this.name}': the control returned a thenable that is not a native Promise; observing it would call ` +
        "its then() a second time (a query builder would run twice), so such runs are abandoned. Return a native " +
        "promise (e.g. wrap the control in an async function) to shadow it.",
      "PENUMBRA_UNOBSERVABLE",
    );
  }

  /**
   * A guardrail verdict for a result of a run admitted in `epoch` (older epochs do not count: after
   * `enable()` the window is fresh). `report` is the run's, so a sequential caller hears of `onTrip`.
   */
  judge(result: Parameters<GuardrailMonitor["observe"]>[0], epoch: number, report: Report): void {
    if (epoch !== this.epoch) return;
    const event = this.monitor.observe(result);
    if (event !== undefined) this.trip(event, report);
  }

  /** A leak told after its candidate's observation was taken. */
  lateLeak(epoch: number): void {
    if (epoch !== this.epoch) return;
    const event = this.monitor.observeLateLeak();
    if (event !== undefined) this.trip(event, this.hook.report);
  }

  /** The one thing downstream does upstream: switch the experiment off, tell onTrip and the publishers once. */
  private trip(event: TripEvent, report: Report): void {
    this.disable(describeTrip(event));
    const onTrip = this.options.guardrails?.onTrip;
    if (onTrip !== undefined) {
      try {
        const returned: unknown = onTrip(event);
        // An async onTrip's rejection is reported like a throw, not left unhandled (nor waited for: it may never settle).
        if (isThenable(returned)) Promise.resolve(returned).then(undefined, (error: unknown) => report("onTrip", error));
      } catch (error) {
        report("onTrip", error);
      }
    }
    publishTrip(event, this.publishers(), report);
  }
}

/**
 * The `disabledReason` a trip leaves: `guardrail mismatch-rate: 0.12 > 0.05`.
 *
 * @internal
 * @example
 * ```ts
 * describeTrip({ experiment: "x", reason: "leak", value: 1, threshold: 0 }); // "guardrail leak: 1 leak(s) > 0"
 * ```
 */
export function describeTrip(event: TripEvent): string {
  const value = Number.isInteger(event.value) ? String(event.value) : event.value.toFixed(3);
  const suffix = event.reason === "leak" ? " leak(s)" : "";
  return `guardrail ${event.reason}: ${value}${suffix} > ${event.threshold}`;
}
