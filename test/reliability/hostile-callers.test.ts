/**
 * The control path under hostile values, through the public API only: fast-check generates hostile
 * values (errors whose getters throw, Proxies whose traps throw, revoked Proxies, null-prototype
 * objects, cycles, thenables, throwing `inspect.custom` / `toString`, huge and deep structures) and
 * puts them in every position a user's value reaches: arguments, the control's and the candidate's
 * return values and thrown errors, and what the callbacks (`runIf`, `enabled`, `sampleBy`, `context`,
 * `compare`, `clean`, `compareErrors`, `onError`, the publisher) throw or return. In both modes, with
 * sync and async controls, the caller must see exactly what the bare control gives: the same value
 * (by reference), or the same thrown / rejected value; and `flush()` must settle.
 */
import { strict as assert } from "node:assert";
import fc from "fast-check";
import { MismatchError, configure, flush, shadow, type ExperimentOptions, type Result } from "../../src/index";
import { resetConfiguration } from "../support/capture";
import { hostileErrorInstance, hostileValue, nastyError, type Hostile } from "./hostile";

/** Local debugging only: RELIABILITY_SCALE=0.1 runs a tenth of the cases. CI runs them all. */
const SCALE = Number(process.env.RELIABILITY_SCALE ?? "1");
/** 10 000 generated cases per run of the suite, half in each mode. */
const CASES_PER_MODE = 5_000;

type Side = { threw: boolean; async: boolean; value: Hostile };
type HookName = "runIf" | "enabled" | "sampleBy" | "context" | "compare" | "clean" | "compareErrors" | "onError" | "publish" | "statusOf" | "ignore";
type Hook = { name: HookName; throws: boolean; value: Hostile };

const side: fc.Arbitrary<Side> = fc.record({ threw: fc.boolean(), async: fc.boolean(), value: hostileValue() });
const HOOKS: readonly HookName[] = ["runIf", "enabled", "sampleBy", "context", "compare", "clean", "compareErrors", "onError", "publish", "statusOf", "ignore"];

/** Callbacks that throw or return hostile values; `onError` among them only when `withOnError`. */
function hooks(withOnError: boolean): fc.Arbitrary<Hook[]> {
  const names = withOnError ? HOOKS : HOOKS.filter((name) => name !== "onError");
  return fc.array(fc.record({ name: fc.constantFrom(...names), throws: fc.boolean(), value: hostileValue() }), { maxLength: 3 });
}

/** Builds a behaviour from its recipe: the value (or error) is built once, so identity can be checked. */
function behaviour(spec: Side): { fn: () => unknown; outcome: unknown } {
  const outcome = spec.value.build();
  if (spec.async) {
    return { outcome, fn: () => (spec.threw ? Promise.reject(outcome) : Promise.resolve(outcome)) };
  }
  return {
    outcome,
    fn: () => {
      if (spec.threw) throw outcome;
      return outcome;
    },
  };
}

function hookOptions(hooks: readonly Hook[]): ExperimentOptions<unknown[], unknown> {
  const options: Record<string, unknown> = {};
  for (const h of hooks) {
    const answer = (): unknown => {
      const value = h.value.build();
      if (h.throws) throw value;
      return value;
    };
    if (h.name === "publish") options["publish"] = answer;
    else if (h.name === "ignore") options["ignore"] = [answer];
    else if (h.name === "runIf" || h.name === "enabled") options[h.name] = h.throws ? answer : () => true;
    else options[h.name] = answer;
  }
  options["onError"] ??= () => {};
  options["publish"] ??= () => {};
  return options as ExperimentOptions<unknown[], unknown>;
}

async function callerSees(fn: (...args: unknown[]) => unknown, args: unknown[], async: boolean): Promise<{ threw: boolean; value: unknown }> {
  let returned: unknown;
  try {
    returned = fn(...args);
  } catch (error) {
    return { threw: true, value: error };
  }
  if (!async) return { threw: false, value: returned };
  try {
    return { threw: false, value: await (returned as Promise<unknown>) };
  } catch (error) {
    return { threw: true, value: error };
  }
}

describe("hostile values through shadow(): the caller sees exactly the bare control", function () {
  this.timeout(180_000);
  afterEach(resetConfiguration);

  function check(mode: "background" | "sequential", withOnError: boolean): Promise<void> {
    return fc.assert(
        fc.asyncProperty(side, side, fc.array(hostileValue(), { maxLength: 3 }), hooks(withOnError), async (control, candidate, argRecipes, hooks) => {
          const bare = behaviour(control);
          const other = behaviour(candidate);
          const args = argRecipes.map((r) => r.build());
          const wrapped = shadow(bare.fn as (...args: unknown[]) => unknown, other.fn as (...args: unknown[]) => unknown, { ...hookOptions(hooks), mode, name: `hostile-${mode}` });
          // What the bare control gives: a promise resolved with a hostile value may reject on its
          // own (resolving reads `then`, and a Proxy trap can throw there).
          const expected = await callerSees(bare.fn, args, control.async);
          const seen = await callerSees(wrapped, args, control.async);
          assert.equal(seen.threw, expected.threw, "threw exactly when the bare control threw");
          if (expected.value === bare.outcome) assert.ok(seen.value === bare.outcome || (Number.isNaN(seen.value) && Number.isNaN(bare.outcome)), "the very value or error");
          await flush();
        }),
        { numRuns: Math.max(1, Math.round(CASES_PER_MODE * SCALE)) },
      );
  }

  for (const mode of ["background", "sequential"] as const) {
    it(`in ${mode} mode, for hostile arguments, outcomes and callbacks`, () => check(mode, false));
  }

  // A throwing onError becomes a warning described by describeThrown, so even a hostile value thrown
  // there never reaches the caller, gates included.
  for (const mode of ["background", "sequential"] as const) {
    it(`in ${mode} mode, also with an onError that throws hostile values`, () => check(mode, true));
  }

  it("returns a sync control's thenable untouched, never calling its then", async () => {
    for (const mode of ["background", "sequential"] as const) {
      let calls = 0;
      const thenable = {
        then(): void {
          calls++;
          throw nastyError();
        },
      };
      const wrapped = shadow(() => thenable, () => thenable, { mode, onError() {}, publish() {} });
      assert.equal(wrapped(), thenable);
      await flush();
      assert.equal(calls, 0, `${mode}: then() was never called`);
    }
  });

  it("keeps the caller's outcome when onError itself throws a null-prototype object", async () => {
    configure({
      onError() {
        throw Object.create(null);
      },
    });
    class E extends Error {
      override get message(): string {
        throw new Error("x");
      }
    }
    for (const mode of ["background", "sequential"] as const) {
      const wrapped = shadow(() => 1, () => 1, {
        mode,
        runIf: () => {
          throw new E();
        },
        publish() {},
      });
      const warned = new Promise<void>((resolve) => process.once("warning", () => resolve()));
      assert.equal(wrapped(), 1);
      await flush();
      await warned;
    }
  });

  describe("sequential mode with hostile errors", () => {
    it("throws a MismatchError (built without throwing) when the candidate throws a hostile error", () => {
      for (let kind = 0; kind < 6; kind++) {
        const published: Array<Result<unknown>> = [];
        const wrapped = shadow(
          () => 1,
          () => {
            throw hostileErrorInstance(kind);
          },
          { mode: "sequential", throwOnMismatch: true, onError() {}, publish: (r) => void published.push(r) },
        );
        assert.throws(() => wrapped(), (e: unknown) => e instanceof MismatchError && e.result === published[0]);
      }
    });

    it("rethrows the control's own hostile error, the same object, when throwOnMismatch is off", () => {
      for (let kind = 0; kind < 6; kind++) {
        const controlError = hostileErrorInstance(kind);
        const published: Array<Result<unknown>> = [];
        const wrapped = shadow(
          () => {
            throw controlError;
          },
          () => {
            throw hostileErrorInstance(kind);
          },
          { mode: "sequential", onError() {}, publish: (r) => void published.push(r) },
        );
        assert.throws(() => wrapped(), (e: unknown) => e === controlError);
        assert.equal(published.length, 1, "the run is published even when the errors cannot be compared");
      }
    });

    it("publishes a run where both sides throw errors whose message getter throws, as an error mismatch", () => {
      class E extends Error {
        override get message(): string {
          throw new Error("x");
        }
      }
      const published: Array<Result<unknown>> = [];
      const wrapped = shadow(
        () => {
          throw new E();
        },
        () => {
          throw new E();
        },
        { mode: "sequential", onError() {}, publish: (r) => void published.push(r) },
      );
      assert.throws(() => wrapped(), E);
      assert.equal(published.length, 1);
      assert.equal(published[0]?.mismatches[0]?.kind, "error");
    });
  });
});
