/** Hand-built results for the publisher tests: no engine involved, so a publisher bug cannot hide behind one. */
import type { Observation, Result } from "../../src/types/results";

function observation(overrides: Partial<Observation<unknown>> = {}): Observation<unknown> {
  return {
    name: "control",
    role: "control",
    value: { total: 49.9, lines: [{ sku: "A-1", qty: 2 }], currency: "EUR" },
    threw: false,
    durationMs: 1.2,
    timedOut: false,
    isolated: true,
    effects: [{ name: "payments.charge", args: [{ amount: 4990 }], role: "control", blocked: false }],
    leaks: [],
    ...overrides,
  };
}

/** A mismatched result: control and one candidate, a value mismatch with diffs, a summary and a noise diff. */
export function mismatchedResult(overrides: Partial<Result<unknown>> = {}): Result<unknown> {
  return {
    experiment: "order-total",
    runId: "1f3e9a2b-7c44-4d1e-9a0b-3c5d6e7f8a9b",
    startedAt: 1_700_000_000_000,
    context: { userId: "u-42", region: "eu" },
    args: [{ cartId: "c-1" }],
    servedBy: "control",
    control: observation(),
    candidates: [
      observation({
        name: "candidate",
        role: "candidate",
        value: { total: 51.4, lines: [{ sku: "A-1", qty: 2 }], currency: "EUR" },
        cleanedValue: { total: 51.4 },
        durationMs: 3.4,
        cpuMs: 2.9,
        effects: [{ name: "payments.charge", args: [{ amount: 5140 }], role: "candidate", blocked: true }],
      }),
    ],
    matched: false,
    mismatched: true,
    ignored: false,
    outcomes: { candidate: "mismatched" },
    mismatches: [
      {
        candidate: "candidate",
        kind: "value",
        diffs: [
          { path: "total", kind: "changed", control: 49.9, candidate: 51.4, bucket: "rounding" },
          { path: "taxRate", kind: "added", candidate: 0.11 },
        ],
        summary: "total=49.9 vs 51.4, taxRate=(missing) vs 0.11",
        buckets: ["rounding"],
      },
    ],
    noise: [{ path: "meta.traceId", kind: "changed", control: "a", candidate: "b", bucket: "ids", noise: true }],
    ...overrides,
  };
}

/** A matched result with the same shape. */
export function matchedResult(overrides: Partial<Result<unknown>> = {}): Result<unknown> {
  return mismatchedResult({
    candidates: [observation({ name: "candidate", role: "candidate", durationMs: 3.4 })],
    matched: true,
    mismatched: false,
    outcomes: { candidate: "matched" },
    mismatches: [],
    noise: [],
    ...overrides,
  });
}

/** A result numbered by `runId`, for order checks. */
export function numberedResult(n: number): Result<unknown> {
  return matchedResult({ runId: `run-${n}`, context: { n } });
}
