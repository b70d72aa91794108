/**
 * Every walk over a user's value, fed generated hostile values: `deepEqual`, `diff`, `formatValue`,
 * `summarize` and the canonical forms never overflow the stack and never hang, whatever they are
 * given; rendering never throws and stays within its budget; and where neither walk throws (a Proxy
 * trap's own error may propagate from a comparison, which the engine reports as `compare`), `diff` is
 * empty exactly when `deepEqual` is true.
 */
import { strict as assert } from "node:assert";
import fc from "fast-check";
import { Canon } from "../../src/compare/canonical";
import { diff } from "../../src/compare/diff";
import { deepEqual } from "../../src/compare/equal";
import { summarize } from "../../src/compare/format";
import { formatValue } from "../../src/compare/render";
import { hostileValue } from "./hostile";

const SCALE = Number(process.env.RELIABILITY_SCALE ?? "1");

function isStackOverflow(error: unknown): boolean {
  return error instanceof RangeError && /call stack/i.test(error.message);
}

/** Runs `f`; a throw is allowed (the value's own), a stack overflow is not. */
function attempt<T>(f: () => T): { ok: true; value: T } | { ok: false } {
  try {
    return { ok: true, value: f() };
  } catch (error) {
    assert.ok(!isStackOverflow(error), "no walk may overflow the stack");
    return { ok: false };
  }
}

describe("hostile values through the comparison walks", function () {
  this.timeout(120_000);

  it("never overflow the stack, and diff agrees with deepEqual when both finish", () => {
    fc.assert(
      fc.property(hostileValue(), fc.boolean(), hostileValue(), (left, same, right) => {
        const a = left.build();
        // Half the cases compare a value with an independently built twin: the equal branches.
        const b = same ? left.build() : right.build();
        const equal = attempt(() => deepEqual(a, b));
        const found = attempt(() => diff(a, b));
        if (equal.ok && found.ok) assert.equal(found.value.length === 0, equal.value, "diff empty exactly when deepEqual");
        if (found.ok) assert.ok(summarize(found.value).length < 2_000);
        attempt(() => new Canon().key(a));
      }),
      { numRuns: Math.max(1, Math.round(300 * SCALE)) },
    );
  });

  it("render any value without throwing, within the length asked for", () => {
    fc.assert(
      fc.property(hostileValue(), fc.integer({ min: 1, max: 500 }), (recipe, maxLength) => {
        const text = formatValue(recipe.build(), maxLength);
        assert.equal(typeof text, "string");
        assert.ok(text.length <= maxLength);
      }),
      { numRuns: Math.max(1, Math.round(300 * SCALE)) },
    );
  });
});
