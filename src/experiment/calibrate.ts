/**
 * Noise calibration (Diffy's primary / secondary idea, in process): for the first `calibrate.runs`
 * admitted calls, the control runs a second time in a shadow frame on a pristine copy of the
 * arguments. Every path where the two control runs differ (a random trace id, a timestamp) is
 * learned as noise for the experiment: later candidate differences there fall into the
 * `calibrated-noise` bucket. Array indices are generalised (`lines[3].traceId` → `lines[*].traceId`).
 *
 * Unsafe for controls with unguarded side effects: the second run really runs them (docs/buckets.md).
 */
import { pathMatcher } from "../buckets/path-glob";
import { diff } from "../compare/diff";
import { snapshot } from "../isolation/snapshot";
import type { BucketRule } from "../types/options";
import type { Outcome } from "./behaviour";
import { makeFrame, runCandidate } from "./behaviour";
import type { AdmittedRun } from "./prepare";

/** The bucket learned noise falls into. @internal @example `diff.bucket === CALIBRATED_NOISE` */
export const CALIBRATED_NOISE = "calibrated-noise";

/**
 * One experiment's calibration state: runs left, learned paths, and the bucket rule they form.
 *
 * @internal
 * @example
 * ```ts
 * const calibration = new Calibration(20);
 * if (calibration.take()) rerun = calibration.rerun(run);
 * ```
 */
export class Calibration {
  private remaining: number;
  private readonly learned = new Set<string>();
  private matcher: ((path: string) => boolean) | undefined;
  /** Matches diffs on learned paths; always last among the experiment's rules. */
  readonly rule: BucketRule = {
    name: CALIBRATED_NOISE,
    noise: true,
    match: (d) => this.matcher !== undefined && this.matcher(d.path),
  };

  constructor(runs: number) {
    this.remaining = runs;
  }

  /** True (and one run fewer left) when this call should calibrate. */
  take(): boolean {
    if (this.remaining <= 0) return false;
    this.remaining--;
    return true;
  }

  /** The paths learned so far, generalised. */
  paths(): string[] {
    return [...this.learned];
  }

  /**
   * Runs the control again in a shadow frame (guarded effects are sunk) on a copy of the
   * pristine argument snapshot. Call before any candidate starts.
   */
  rerun(run: AdmittedRun): Outcome | Promise<Outcome> {
    const pristine = run.argLists[0] ?? run.args;
    const args = run.core.options.isolate === false ? run.args : snapshot(pristine).value;
    const controller = new AbortController();
    const frame = makeFrame(run.core.name, run.runId, run.context, "control", true, run.parentFrame, controller.signal);
    return runCandidate(run.core.control, frame, controller, run.thisArg, args, true, run.core.options.timeoutMs);
  }

  /** Learns the paths where the two control runs differ. */
  learn(control: Outcome, rerun: Outcome): void {
    if (control.threw || rerun.threw || rerun.timedOut) return;
    let found: ReturnType<typeof diff>;
    try {
      found = diff(control.value, rerun.value);
    } catch {
      return;
    }
    const before = this.learned.size;
    for (const d of found) this.learned.add(d.path.replace(/\[\d+\]/g, "[*]"));
    if (this.learned.size !== before) this.matcher = safeMatcher([...this.learned]);
  }
}

function safeMatcher(globs: string[]): ((path: string) => boolean) | undefined {
  try {
    return pathMatcher(globs);
  } catch {
    // A learned path the glob syntax cannot express (an odd Map key): match those literally.
    const exact = new Set(globs);
    return (path) => exact.has(path.replace(/\[\d+\]/g, "[*]"));
  }
}

/**
 * Starts this run's calibration rerun, if the experiment still calibrates. Call once the argument
 * lists exist and before any candidate starts.
 *
 * @internal
 * @example
 * ```ts
 * startCalibration(run);
 * const candidates = await runAllCandidates(run, argLists);
 * await finishCalibration(run, control.outcome);
 * ```
 */
export function startCalibration(run: AdmittedRun): void {
  const calibration = run.core.calibration;
  if (calibration === undefined || !calibration.take()) return;
  try {
    run.rerun = calibration.rerun(run);
  } catch (error) {
    run.core.report("isolate", error);
  }
}

/**
 * Learns from the rerun once it settled; returns a promise only when the rerun is still pending.
 *
 * @internal
 * @example
 * ```ts
 * await finishCalibration(run, control.outcome);
 * ```
 */
export function finishCalibration(run: AdmittedRun, control: Outcome): void | Promise<void> {
  const calibration = run.core.calibration;
  const rerun = run.rerun;
  if (calibration === undefined || rerun === undefined) return;
  if (rerun instanceof Promise) return rerun.then((outcome) => calibration.learn(control, outcome));
  calibration.learn(control, rerun);
}
