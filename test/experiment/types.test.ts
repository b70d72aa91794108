/**
 * Type-level behaviour of the builder (API.md §1, "Types follow the control"): checked by the
 * compiler when this file is type-checked (`npm run typecheck`, and ts-node under mocha), with a
 * runtime assertion so each case also runs.
 */
import { strict as assert } from "node:assert";
import { Experiment } from "../../src/index";

interface Cart {
  lines: number[];
}
const oldTotal = (cart: Cart): number => cart.lines.reduce((a, b) => a + b, 0);
const newTotal = (cart: Cart): number => cart.lines.reduce((a, b) => b + a, 0);

describe("the builder's types follow the control", () => {
  it("narrows an experiment built without type arguments to the control's parameters and return type", () => {
    const experiment = new Experiment("types-narrow", { publish: () => undefined }).use(oldTotal).try(newTotal);
    const total: number = experiment.run({ lines: [1, 2] });
    assert.equal(total, 3);
  });

  it("makes a candidate of the wrong type a compile error after use() narrowed the experiment", () => {
    const experiment = new Experiment("types-wrong-candidate", { publish: () => undefined }).use(oldTotal);
    // @ts-expect-error a candidate taking a string cannot stand in for one taking a Cart
    assert.throws(() => experiment.try((s: string) => s.length).try(42 as never));
  });

  it("keeps explicit type arguments: a control of another type is a compile error", () => {
    const experiment = new Experiment<[Cart], number>("types-explicit", { publish: () => undefined });
    // @ts-expect-error the control must take a Cart and return a number
    assert.throws(() => experiment.use((s: string) => s).use(oldTotal));
  });
});
