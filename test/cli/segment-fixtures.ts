/** A results file with regions in the context, for the `--segments` tests (terminal and page). */
import * as fs from "node:fs";
import { resultToJSON } from "../../src/store/serialize";
import type { Result } from "../../src/index";
import { run, type CandidateSpec } from "../operate/fixtures";
import { T0 } from "./fixtures";

const REGIONS = ["NY", "CA", "TX", "WA", "OR", "NJ"];

function mismatch(bucket: string, path: string): CandidateSpec {
  return {
    mismatch: { kind: "value", diffs: [{ path, kind: "changed", control: 49.9, candidate: 51.4, bucket }], summary: `${path}=49.9 vs 51.4` },
  };
}

/**
 * 250 runs of "checkout-total". Runs 0..239 cycle through six regions (40 each; even runs are
 * endpoint "/checkout", odd ones "/quote", so NY and TX are all "/checkout"): half of NY's runs
 * mismatch as "coupon-after-tax" (20), a quarter of TX's as "tax-rounding" (10); then 4 runs in
 * "AK", all "tax-rounding", and 6 matched runs with no region or endpoint.
 * So: 34 mismatches of 250 (13.6 %); NY 50 % (lift 0.5 / 0.136), TX 25 %, AK 100 % but 4 runs.
 */
export function segmentResults(): Result<unknown>[] {
  const results: Result<unknown>[] = [];
  const push = (context: Record<string, unknown>, candidate: CandidateSpec, i: number): void => {
    results.push({ ...run({ experiment: "checkout-total", candidates: [candidate] }), context, startedAt: T0 + i * 10_000 });
  };
  for (let i = 0; i < 240; i++) {
    const region = REGIONS[i % 6] as string;
    const cycle = Math.floor(i / 6);
    let candidate: CandidateSpec = {};
    if (region === "NY" && cycle % 2 === 0) candidate = mismatch("coupon-after-tax", "total");
    if (region === "TX" && cycle % 4 === 0) candidate = mismatch("tax-rounding", "lines[0].tax");
    push({ region, endpoint: i % 2 === 0 ? "/checkout" : "/quote" }, candidate, i);
  }
  for (let i = 0; i < 4; i++) push({ region: "AK", endpoint: "/checkout" }, mismatch("tax-rounding", "lines[0].tax"), 240 + i);
  for (let i = 0; i < 6; i++) push({}, {}, 244 + i);
  return results;
}

/** Writes {@link segmentResults} as a JSONL file. */
export function writeSegmentFile(file: string): void {
  fs.writeFileSync(file, `${segmentResults().map(resultToJSON).join("\n")}\n`);
}
