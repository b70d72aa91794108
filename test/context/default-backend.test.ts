/**
 * Going back to the default context backend (`configure({ context: undefined })`, what a test
 * harness does after every test) reuses the process's one AsyncLocalStorage: each new one, once
 * entered, would stay enabled and cost every async resource made afterwards a little more.
 */
import { strict as assert } from "node:assert";
import { configure, shadow } from "../../src/index";
import { contextBackend } from "../../src/context/slot";
import { collector, resetConfiguration } from "../support/capture";

describe("the default context backend", () => {
  afterEach(resetConfiguration);

  it("is the same backend every time configuration goes back to it", async () => {
    configure({ context: undefined });
    const first = contextBackend();
    for (let i = 0; i < 3; i++) {
      // Enter a run on it each time, as a test between two resets does.
      const total = shadow((n: number) => n, (n: number) => n + 1, { name: `default-backend-${i}`, publish: collector() });
      total(1);
      await total.experiment.settled();
      total.experiment.disable();
      configure({ context: undefined });
      assert.equal(contextBackend(), first);
    }
  });

  it("is the one back in place after another backend was tried", () => {
    configure({ context: undefined });
    const first = contextBackend();
    const other = { name: "other", run: <T>(_store: unknown, fn: () => T): T => fn(), get: (): unknown => undefined, bind: <F>(fn: F): F => fn };
    configure({ context: other });
    assert.equal(contextBackend(), other);
    configure({ context: undefined });
    assert.equal(contextBackend(), first);
  });
});
