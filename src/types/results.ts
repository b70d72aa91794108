/**
 * The values an experiment produces: observations of each behaviour, the differences between them,
 * and the result that publishers receive. All of them are plain frozen data.
 */

/**
 * Which side of an experiment a behaviour is.
 *
 * @example
 * ```ts
 * const role: Role | undefined = currentRun()?.role; // "candidate" inside a shadow run
 * ```
 */
export type Role = "control" | "candidate";

/**
 * What a candidate's comparison with the control concluded.
 *
 * @example
 * ```ts
 * const verdict: Outcome | undefined = result.outcomes["candidate"];
 * if (verdict === "ignored") ignoredCount++;
 * ```
 */
export type Outcome = "matched" | "mismatched" | "ignored";

/**
 * The most severe cause of a mismatch, in order of severity.
 *
 * @example
 * ```ts
 * const kinds: MismatchKind[] = result.mismatches.map((m) => m.kind); // e.g. ["value"]
 * ```
 */
export type MismatchKind = "error" | "status" | "value" | "effects";

/**
 * One difference between the control's and a candidate's answer, at one path.
 *
 * @example
 * ```ts
 * const diff: FieldDiff = { path: "lines[2].tax", kind: "changed", control: 0.1, candidate: 0.09 };
 * ```
 */
export interface FieldDiff {
  /** Where the difference is: `total`, `lines[2].tax`, `["a.b"]`, `prices.get("EUR")`, `tags{}`; `""` is the root. */
  path: string;
  /** `changed` value, key `added` by the candidate, key `removed` by it, or a different `type`. */
  kind: "changed" | "added" | "removed" | "type";
  /** The control's value at the path (absent when the candidate added the key). */
  control?: unknown;
  /** The candidate's value at the path (absent when the candidate removed the key). */
  candidate?: unknown;
  /** The name of the first bucket rule that matched this diff. */
  bucket?: string;
  /** True when that bucket is a noise bucket: the difference is harmless. */
  noise?: boolean;
}

/**
 * A side effect a behaviour performed (control) or intended (candidate) through a guard.
 *
 * @example
 * ```ts
 * const effect: Effect = { name: "payments.charge", args: [{ amount: 4990 }], role: "candidate", blocked: true };
 * ```
 */
export interface Effect {
  /** The guard's name and the method path, e.g. `mailer.sendMail`. */
  name: string;
  /** The arguments, snapshotted when the call was made. */
  args: unknown[];
  /** The role of the run that made the call. */
  role: Role;
  /** True when the call never reached its target (a shadow run). */
  blocked: boolean;
}

/**
 * An outbound effect nobody declared, caught by the tripwire in a shadow run.
 *
 * @example
 * ```ts
 * const leak: Leak = { kind: "network", target: "POST http://127.0.0.1:8080/charge", blocked: true };
 * ```
 */
export interface Leak {
  kind: "network" | "child_process";
  /** `host:port`, `METHOD http://host:port/path`, or the command line. */
  target: string;
  /** True when the tripwire stopped it; false when it only reported it. */
  blocked: boolean;
}

/**
 * What one behaviour did in one run.
 *
 * @example
 * ```ts
 * publish: (result) => console.log(result.control.durationMs, result.candidates[0]?.threw);
 * ```
 */
export interface Observation<R = unknown> {
  /** `control`, or the candidate's name. */
  name: string;
  role: Role;
  /** The settled value (absent when the behaviour threw or timed out). */
  value?: Awaited<R>;
  /** What the behaviour threw or rejected with (present whenever `threw` or `timedOut` is true). */
  error?: unknown;
  /** True when the behaviour threw or rejected, whatever the reason (even `undefined`). */
  threw: boolean;
  /** The value after the experiment's `clean`, for reports; `null` and `undefined` are never cleaned. */
  cleanedValue?: unknown;
  /** Wall time from the call until the value settled, from a monotonic clock. */
  durationMs: number;
  /** CPU time, where it can be attributed to this behaviour (synchronous behaviours). */
  cpuMs?: number;
  /** True when a candidate did not settle within `timeoutMs`. */
  timedOut: boolean;
  /** False when some part of the arguments (or, for the control, of its value) had to be shared, not copied. */
  isolated: boolean;
  /** Guarded effects the behaviour performed (control) or intended (candidate). */
  effects: Effect[];
  /** Undeclared outbound effects the tripwire caught. */
  leaks: Leak[];
}

/**
 * What one behaviour did, as the engine observes it: an `Observation` before `clean` runs and the
 * result freezes it. The engine's only name for an observation in the making.
 *
 * @example
 * ```ts
 * const seen: RawObservation = { name: "control", role: "control", threw: false, value: 1, durationMs: 0.2,
 *   timedOut: false, isolated: true, effects: [], leaks: [] };
 * ```
 */
export type RawObservation = Omit<Observation<unknown>, "cleanedValue">;

/**
 * Why one candidate did not match the control.
 *
 * @example
 * ```ts
 * const m: Mismatch = { candidate: "candidate", kind: "value", buckets: [],
 *   diffs: [{ path: "total", kind: "changed", control: 49.9, candidate: 51.4 }],
 *   summary: "total=49.9 vs 51.4" };
 * ```
 */
export interface Mismatch {
  candidate: string;
  kind: MismatchKind;
  diffs: FieldDiff[];
  summary: string;
  buckets: string[];
}

/**
 * One published run of an experiment.
 *
 * @example
 * ```ts
 * configure({ publishers: [(result) => { if (result.mismatched) console.warn(result.mismatches[0]?.summary); }] });
 * ```
 */
export interface Result<R = unknown> {
  experiment: string;
  runId: string;
  /** Epoch milliseconds when the call was made. */
  startedAt: number;
  context: Record<string, unknown>;
  /** The argument snapshot, with `captureArgs`. */
  args?: unknown[];
  /** The behaviour whose outcome the caller got: `control` unless promoted. */
  servedBy: string;
  control: Observation<R>;
  candidates: Observation<R>[];
  /** No candidate mismatched and none was ignored (Scientist's meaning). */
  matched: boolean;
  mismatched: boolean;
  ignored: boolean;
  outcomes: Record<string, Outcome>;
  mismatches: Mismatch[];
  /** Differences that fell into noise buckets. */
  noise: FieldDiff[];
}
