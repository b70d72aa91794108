/** Hand-built results for precise scorecard and guardrail cases, shaped like the engine's. */
import type { Effect, FieldDiff, Leak, Mismatch, Observation, Outcome, Result } from "../../src/index";

/** How one candidate did in a hand-built run. */
export interface CandidateSpec {
  name?: string;
  ms?: number;
  outcome?: Outcome;
  threw?: boolean;
  error?: unknown;
  timedOut?: boolean;
  leaks?: number;
  effects?: Effect[];
  mismatch?: { kind: Mismatch["kind"]; diffs: FieldDiff[]; summary: string };
  noise?: FieldDiff[];
}

/** A run's shape: the control and its candidates. */
export interface RunSpec {
  experiment?: string;
  controlMs?: number;
  controlThrew?: boolean;
  controlEffects?: Effect[];
  candidates?: CandidateSpec[];
}

let seq = 0;

/** A result as the engine would publish it for `spec` (defaults: one matched candidate, 10 ms each side). */
export function run(spec: RunSpec = {}): Result<unknown> {
  const specs = spec.candidates ?? [{}];
  const candidates: Observation<unknown>[] = specs.map((c) => observation(c));
  const outcomes: Record<string, Outcome> = {};
  const mismatches: Mismatch[] = [];
  const noise: FieldDiff[] = [];
  for (const c of specs) {
    const name = c.name ?? "candidate";
    const outcome = c.outcome ?? (c.mismatch === undefined ? "matched" : "mismatched");
    outcomes[name] = outcome;
    if (c.mismatch !== undefined && outcome === "mismatched") {
      const buckets = [...new Set(c.mismatch.diffs.filter((d) => d.noise !== true && d.bucket !== undefined).map((d) => d.bucket as string))];
      mismatches.push({ candidate: name, ...c.mismatch, buckets });
    }
    noise.push(...(c.noise ?? []));
  }
  const ignored = Object.values(outcomes).includes("ignored");
  return {
    experiment: spec.experiment ?? "checkout",
    runId: `run-${++seq}`,
    startedAt: 0,
    context: {},
    servedBy: "control",
    control: {
      name: "control",
      role: "control",
      threw: spec.controlThrew ?? false,
      ...(spec.controlThrew === true ? { error: new Error("control broke") } : { value: 1 }),
      durationMs: spec.controlMs ?? 10,
      timedOut: false,
      isolated: true,
      effects: spec.controlEffects ?? [],
      leaks: [],
    },
    candidates,
    matched: mismatches.length === 0 && !ignored,
    mismatched: mismatches.length > 0,
    ignored,
    outcomes,
    mismatches,
    noise,
  };
}

function observation(c: CandidateSpec): Observation<unknown> {
  const leaks: Leak[] = Array.from({ length: c.leaks ?? 0 }, (_, i) => ({ kind: "network", target: `10.0.0.${i}:443`, blocked: true }));
  const failed = c.threw === true || c.timedOut === true;
  return {
    name: c.name ?? "candidate",
    role: "candidate",
    threw: c.threw ?? false,
    ...(failed ? { error: c.error ?? new Error("candidate broke") } : { value: 1 }),
    durationMs: c.ms ?? 10,
    timedOut: c.timedOut ?? false,
    isolated: true,
    effects: c.effects ?? [],
    leaks,
  };
}

/** A candidate spec for a plain value mismatch at `paths`. */
export function valueMismatch(...paths: string[]): CandidateSpec {
  return {
    mismatch: {
      kind: "value",
      diffs: paths.map((path) => ({ path, kind: "changed", control: 1, candidate: 2 })),
      summary: paths.map((p) => `${p}=1 vs 2`).join(", "),
    },
  };
}

/** A clock the test moves by hand. */
export function fakeClock(start = 0): { now: () => number; set(t: number): void } {
  let t = start;
  return { now: () => t, set: (next: number) => void (t = next) };
}

/** Asserts `actual` is within 1 % of `expected` (the histograms keep two significant figures). */
export function near(actual: number | undefined, expected: number): boolean {
  return actual !== undefined && Math.abs(actual - expected) <= expected * 0.01;
}
