/**
 * Deep, big and structurally keyed values through the public API: runs are judged by the contract's
 * rules (never `comparison threw RangeError`), binary data over the bound is shared, not copied.
 */
import { strict as assert } from "node:assert";
import { flush, shadow, type ExperimentError, type Result } from "../../src/index";
import { deepArrays, deepChain } from "./hostile";

function run<R>(control: () => R, candidate: () => R, mode: "background" | "sequential"): { results: Array<Result<unknown>>; errors: ExperimentError[]; call: () => R } {
  const results: Array<Result<unknown>> = [];
  const errors: ExperimentError[] = [];
  const wrapped = shadow(control, candidate, { mode, publish: (r) => void results.push(r), onError: (e) => void errors.push(e) });
  return { results, errors, call: () => wrapped() };
}

describe("deep and big values through shadow()", () => {
  for (const mode of ["background", "sequential"] as const) {
    it(`matches identical results 10 000 levels deep (${mode})`, async () => {
      for (const make of [() => deepChain(10_000), () => deepArrays(10_000)]) {
        const { results, errors, call } = run(make, make, mode);
        call();
        await flush();
        assert.equal(results.length, 1);
        assert.equal(results[0]?.matched, true, results[0]?.mismatches[0]?.summary);
        assert.deepEqual(errors, []);
      }
    });

    it(`explains a difference 5 000 levels down field by field (${mode})`, async () => {
      const { results, call } = run(() => deepChain(5_000, 1), () => deepChain(5_000, 2), mode);
      call();
      await flush();
      const mismatch = results[0]?.mismatches[0];
      assert.equal(mismatch?.kind, "value");
      assert.ok(mismatch?.summary.endsWith("=1 vs 2"), mismatch?.summary);
    });

    it(`matches equal Maps with object keys (${mode})`, async () => {
      const { results, call } = run(() => new Map([[{ sku: "A" }, 1]]), () => new Map([[{ sku: "A" }, 1]]), mode);
      call();
      await flush();
      assert.equal(results[0]?.matched, true, results[0]?.mismatches[0]?.summary);
    });
  }

  it("shares a 64 MiB Buffer argument and return value instead of copying them", async () => {
    const big = Buffer.alloc(64 * 1024 * 1024, 1);
    const results: Array<Result<unknown>> = [];
    let seenByCandidate: unknown;
    const wrapped = shadow(
      (b: Buffer) => b,
      (b: Buffer) => {
        seenByCandidate = b;
        return b;
      },
      { publish: (r) => void results.push(r), onError() {} },
    );
    assert.equal(wrapped(big), big);
    await flush();
    assert.equal(seenByCandidate, big, "the candidate got the very Buffer: shared, not copied");
    assert.equal(results[0]?.control.isolated, false);
    assert.equal(results[0]?.matched, true);
  });
});
