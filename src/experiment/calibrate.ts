/**
 * Noise calibration (Diffy's primary / secondary idea, in process): for the first `calibrate.runs`
 * admitted calls, the control runs a second time in a shadow frame on a pristine copy of the
 * arguments. Every path where the two control runs differ (a random trace id, a timestamp) is
 * learned as noise for the experiment: later candidate differences there fall into the
 * `calibrated-noise` bucket. Array indices are generalised (`lines[3].traceId` → `lines[*].traceId`).
 *
 * Unsafe for controls with unguarded side effects: the second run really runs them (docs/buckets.md).
 */
import { parsePath, pathMatcher } from "../compare/path-glob";
import { isIdentifierKey } from "../compare/path";
import { diff } from "../compare/diff";
import type { BucketRule } from "../types/options";
import type { RawObservation } from "../types/results";
import { observeShadow, shadowFrame, type Behaviour, type RunScope } from "./observe";
/** The bucket learned noise falls into. @internal @example `diff.bucket === CALIBRATED_NOISE` */
export const CALIBRATED_NOISE = "calibrated-noise";

/**
 * One experiment's calibration state: runs left, learned paths, and the bucket rule they form.
 *
 * @internal
 * @example
 * ```ts
 * const calibration = new Calibration(20);
 * if (calibration.take()) rerun = calibration.rerun(run, control, run.thisArg, copy, 5000);
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
   * Runs the control again in a shadow frame (guarded effects are sunk) on its own copy of the
   * arguments. Call before any candidate starts.
   */
  rerun(scope: RunScope, control: Behaviour, thisArg: unknown, args: readonly unknown[], timeoutMs: number): RawObservation | Promise<RawObservation> {
    return observeShadow(control, shadowFrame(scope, "control", undefined), thisArg, args, true, timeoutMs, false);
  }

  /** Learns the paths where the two control runs differ. */
  learn(control: RawObservation, rerun: RawObservation): void {
    if (control.threw || rerun.threw || rerun.timedOut) return;
    let found: ReturnType<typeof diff>;
    try {
      found = diff(control.value, rerun.value);
    } catch {
      return;
    }
    const before = this.learned.size;
    for (const d of found) this.learned.add(generalise(d.path));
    if (this.learned.size !== before) this.matcher = safeMatcher([...this.learned]);
  }
}

function safeMatcher(globs: string[]): ((path: string) => boolean) | undefined {
  try {
    return pathMatcher(globs);
  } catch {
    // A learned path the glob syntax cannot express (an odd Map key): match those literally.
    const exact = new Set(globs);
    return (path) => exact.has(generalise(path));
  }
}

/**
 * The learned glob for a path: its index segments become `[*]` (`lines[3].id` → `lines[*].id`);
 * an index-like text inside a quoted key (`["items[0]"]`) is part of the key and stays. A path the
 * glob syntax cannot read (an odd Map key) stays as it is.
 */
function generalise(path: string): string {
  let segments: string[];
  try {
    segments = parsePath(path);
  } catch {
    return path;
  }
  let glob = "";
  for (const segment of segments) {
    const written = INDEX.test(segment) ? "[*]" : segment;
    glob += glob !== "" && isIdentifierKey(written) ? `.${written}` : written;
  }
  return glob;
}

const INDEX = /^\[\d+\]$/;
