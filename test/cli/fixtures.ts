/** A results file with known numbers for the CLI tests (and the screenshot in docs/). */
import * as fs from "node:fs";
import { resultToJSON } from "../../src/store/serialize";
import type { Result } from "../../src/index";
import { run, type CandidateSpec } from "../operate/fixtures";

/** 2025-01-15T09:00:00Z: the demo file's first result. */
export const T0 = Date.UTC(2025, 0, 15, 9, 0, 0);

/**
 * 200 runs of "checkout-total" over an hour, then 50 matched runs of "search-ranking" (candidate "v2").
 * checkout-total: i % 25 === 3 → candidate threw TypeError (8 runs); i % 10 === 0 → "total" differs
 * (20 runs); i >= 150, i % 4 === 1 and not an error → "tax-rounding" bucket (11 runs).
 * So: field match 161/200 = 80.5 %, status match 192/200 = 96.0 %, errors 4.0 %.
 */
export function demoResults(): Result<unknown>[] {
  const results: Result<unknown>[] = [];
  for (let i = 0; i < 200; i++) {
    // Latencies with a shape: the control around 2-5 ms, the candidate slower and wider, slower still late on.
    const controlMs = 2 + (i % 7) * 0.5 + ((i * 37) % 13) / 10;
    const candidateMs = 3 + (i % 11) * 0.4 + ((i * 53) % 17) / 5 + (i >= 150 ? 4 : 0);
    let candidate: CandidateSpec = { ms: candidateMs };
    if (i % 25 === 3) {
      const error = new TypeError("Cannot read properties of undefined (reading 'rate')");
      candidate = {
        ms: candidateMs,
        threw: true,
        error,
        mismatch: {
          kind: "error",
          diffs: [{ path: "(error)", kind: "changed", control: "returned {…}", candidate: "threw TypeError" }],
          summary: "(error)=returned {…} vs threw TypeError: Cannot read properties of undefined (reading 'rate')",
        },
      };
    } else if (i % 10 === 0) {
      candidate = {
        ms: candidateMs,
        mismatch: { kind: "value", diffs: [{ path: "total", kind: "changed", control: 49.9 + i, candidate: 51.4 + i }], summary: `total=${49.9 + i} vs ${51.4 + i}` },
      };
    } else if (i >= 150 && i % 4 === 1) {
      candidate = {
        ms: candidateMs,
        mismatch: {
          kind: "value",
          diffs: [{ path: "lines[0].tax", kind: "changed", control: 0.1, candidate: 0.09, bucket: "tax-rounding" }],
          summary: "lines[0].tax=0.1 vs 0.09",
        },
      };
    }
    results.push({ ...run({ experiment: "checkout-total", controlMs, candidates: [candidate] }), startedAt: T0 + i * 18_000 });
  }
  for (let i = 0; i < 50; i++) {
    results.push({
      ...run({ experiment: "search-ranking", controlMs: 20 + (i % 5), candidates: [{ name: "v2", ms: 15 + (i % 3) }] }),
      startedAt: T0 + i * 60_000,
    });
  }
  return results;
}

/** Writes {@link demoResults} (plus `extraLines`, appended verbatim) as a JSONL file. */
export function writeDemoFile(file: string, extraLines: string[] = []): void {
  const lines = demoResults().map(resultToJSON);
  fs.writeFileSync(file, `${[...lines, ...extraLines].join("\n")}\n`);
}
