/**
 * A mocha spec in Scientist's test mode: `configure({ strict: true, throwOnMismatch: true })` and
 * `mode: "sequential"` experiments turn "the new code disagrees with the old" into a failing test,
 * with a `MismatchError` that lists both values and the field-by-field difference.
 *
 * The second test FAILS on purpose: it shows a regression being caught. Run it on its own with
 *
 *   npm run build && npx mocha --no-config -r ts-node/register examples/mocha-test-mode/totals.spec.ts
 *
 * (the file is named `.spec.ts` so the project's own `test/**\/*.test.ts` suite never picks it up).
 */
import { strict as assert } from "node:assert";
import { configure, Experiment } from "penumbra";
import { legacyTotal, perLineTaxTotal, refactoredTotal, type Line, type Total } from "./totals";

/** A cart where rounding tax per line and rounding it once differ by a cent. */
const cart: Line[] = [
  { sku: "TEA", qty: 2, unitPrice: 4.99, taxRate: 0.07 },
  { sku: "MUG", qty: 1, unitPrice: 12.5, taxRate: 0.19 },
  { sku: "BAG", qty: 3, unitPrice: 0.99, taxRate: 0.07 },
];

describe("order totals (penumbra test mode)", () => {
  before(() => {
    // strict: a failing comparator, cleaner or gate is an error in the test, not a warning.
    // throwOnMismatch: a sequential run whose candidate disagrees throws a MismatchError.
    configure({ strict: true, throwOnMismatch: true });
  });
  after(() => {
    // Back to the defaults, so specs loaded after this one are not in test mode by accident.
    configure({ strict: undefined, throwOnMismatch: undefined });
  });

  it("the reduce() refactor agrees with the old total", () => {
    const total = new Experiment<[readonly Line[]], Total>("total-refactor", { mode: "sequential" })
      .use(legacyTotal)
      .try(refactoredTotal);
    // Sequential mode runs both before returning; no throw means they agreed, and the value is
    // the old code's, so the assertion below also pins the old behaviour.
    assert.deepEqual(total.run(cart), { subtotal: 25.45, tax: 3.28, total: 28.73 });
  });

  it("the per-line tax rewrite agrees with the old total", () => {
    const total = new Experiment<[readonly Line[]], Total>("total-per-line-tax", { mode: "sequential" })
      .use(legacyTotal)
      .try(perLineTaxTotal);
    // Throws: MismatchError, experiment 'total-per-line-tax' observations mismatched …
    // difference (candidate, value): tax=3.28 vs 3.29, total=28.73 vs 28.74
    assert.deepEqual(total.run(cart), { subtotal: 25.45, tax: 3.28, total: 28.73 });
  });
});
