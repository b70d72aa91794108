/**
 * The fault matrix for "the control path is sacred": every mode × every kind of control × every
 * fault a candidate or a user callback can commit. Each case asserts that the caller got exactly the
 * bare control's outcome, that the caller's arguments are untouched, that the fault was reported
 * (on the published result or through onError), and that no unhandled rejection escaped.
 */
import { strict as assert } from "node:assert";
import {
  CandidateTimeoutError,
  ExperimentError,
  shadow,
  type ExperimentOptions,
  type Observation,
  type Operation,
  type Publisher,
  type Result,
} from "../../src/index";
import { collector, sleep } from "../support/capture";

type Mode = "background" | "sequential";

interface Line {
  sku: string;
  qty: number;
  price: number;
}
interface Cart {
  id: string;
  lines: Line[];
}
type Options = ExperimentOptions<[Cart], unknown>;

function newCart(): Cart {
  return { id: "c-1", lines: [{ sku: "apple", qty: 2, price: 5 }] };
}

function totalOf(cart: Cart): { total: number; currency: string } {
  return { total: cart.lines.reduce((sum, l) => sum + l.qty * l.price, 0), currency: "EUR" };
}

/** What the control is and what its bare call gives the caller. */
interface ControlKind {
  label: string;
  async: boolean;
  throws: boolean;
}

const CONTROLS: readonly ControlKind[] = [
  { label: "sync control returning a value", async: false, throws: false },
  { label: "sync control that throws", async: false, throws: true },
  { label: "async control that resolves", async: true, throws: false },
  { label: "async control that rejects", async: true, throws: true },
];

/** One concrete control for one test: its function, its value or error, the promises it returned. */
interface Control {
  kind: ControlKind;
  fn: (cart: Cart) => unknown;
  value: { total: number; currency: string };
  error: Error;
  returned: Promise<unknown>[];
}

function makeControl(kind: ControlKind, mode: Mode): Control {
  const value = { total: 10, currency: "EUR" };
  const error = new RangeError("control failed");
  const returned: Promise<unknown>[] = [];
  let fn: (cart: Cart) => unknown;
  if (!kind.async) {
    fn = kind.throws
      ? () => {
          throw error;
        }
      : () => value;
  } else if (mode === "background") {
    // A plain function returning a promise it keeps: the caller must get that very promise.
    fn = () => {
      const p = new Promise<unknown>((resolve, reject) => setTimeout(() => (kind.throws ? reject(error) : resolve(value)), 1));
      returned.push(p);
      return p;
    };
  } else {
    // Sequential mode knows an `async` control is asynchronous before calling it.
    fn = kind.throws
      ? async () => {
          await sleep(1);
          throw error;
        }
      : async () => {
          await sleep(1);
          return value;
        };
  }
  return { kind, fn, value, error, returned };
}

/** Calls the wrapper as a caller would and asserts the outcome is exactly the bare control's. */
async function callAndCheckOutcome(wrapped: (cart: Cart) => unknown, control: Control, cart: Cart, mode: Mode): Promise<void> {
  const bareValueCopy = structuredClone(control.value);
  if (!control.kind.async) {
    if (control.kind.throws) {
      assert.throws(() => wrapped(cart), (e: unknown) => e === control.error);
    } else {
      const out = wrapped(cart);
      assert.equal(out, control.value, "the very object the control returned");
      assert.deepEqual(out, bareValueCopy);
    }
    return;
  }
  const out = wrapped(cart);
  assert.ok(out instanceof Promise, "an async control's caller gets a promise");
  // Observe it at once, so an assertion failure below cannot leave it rejecting unobserved.
  const outcome = out.then(
    (value: unknown) => ({ threw: false as const, value }),
    (error: unknown) => ({ threw: true as const, error }),
  );
  if (mode === "background") assert.equal(out, control.returned[control.returned.length - 1], "the control's very promise");
  const settled = await outcome;
  if (control.kind.throws) {
    assert.equal(settled.threw, true, "the caller's promise rejects");
    assert.equal(settled.threw && settled.error, control.error, "with the control's own error object");
  } else {
    assert.equal(settled.threw, false, "the caller's promise resolves");
    assert.equal(!settled.threw && settled.value, control.value, "to the very object the control resolved with");
    assert.deepEqual(!settled.threw && settled.value, bareValueCopy);
  }
}

// ------------------------------------------------------------------------------------------------
// Candidate faults: visible on the published result.

interface CandidateFault {
  label: string;
  /** Returns a promise: in sequential mode with a sync control it completes in the background. */
  async: boolean;
  /** Mutates its arguments: the caller's must stay untouched. */
  mutates: boolean;
  timeoutMs?: number;
  make(): { candidate: (cart: Cart) => unknown; check(observation: Observation<unknown>, result: Result<unknown>): void };
}

function thrower(label: string, thrown: () => unknown, async: boolean): CandidateFault {
  return {
    label,
    async,
    mutates: false,
    make() {
      const value = thrown();
      return {
        candidate: async
          ? () => Promise.reject(value)
          : () => {
              throw value;
            },
        check(observation) {
          assert.equal(observation.threw, true, "the candidate's observation says it threw");
          assert.equal(observation.timedOut, false);
          assert.equal(observation.error, value, "the very value the candidate threw");
          assert.ok(!("value" in observation) || observation.value === undefined);
        },
      };
    },
  };
}

const CANDIDATE_FAULTS: readonly CandidateFault[] = [
  thrower("a candidate that throws an Error", () => new Error("candidate failed"), false),
  thrower("a candidate that rejects with an Error", () => new Error("candidate rejected"), true),
  thrower("a candidate that throws a string", () => "boom", false),
  thrower("a candidate that throws undefined", () => undefined, false),
  thrower("a candidate that throws 0", () => 0, false),
  thrower("a candidate that rejects with undefined", () => undefined, true),
  {
    label: "a candidate that hangs",
    async: true,
    mutates: false,
    timeoutMs: 50,
    make: () => ({
      candidate: () => new Promise<never>(() => undefined),
      check(observation, result) {
        assert.equal(observation.timedOut, true, "the candidate's observation says it timed out");
        assert.ok(observation.error instanceof CandidateTimeoutError, "its error is a CandidateTimeoutError");
        assert.equal(result.mismatches[0]?.kind, "error");
      },
    }),
  },
  {
    label: "a candidate that mutates its arguments deeply",
    async: false,
    mutates: true,
    make: () => ({
      candidate: (cart: Cart) => {
        cart.lines.push({ sku: "pear", qty: 1, price: 3 });
        (cart.lines[0] as Line).qty = 7;
        cart.id = "changed";
        return totalOf(cart);
      },
      check(observation) {
        assert.equal(observation.threw, false);
        assert.deepEqual(observation.value, { total: 38, currency: "EUR" }, "the candidate saw and changed its own copy");
      },
    }),
  },
  {
    label: "a candidate that mutates and returns its argument",
    async: false,
    mutates: true,
    make: () => ({
      candidate: (cart: Cart) => {
        cart.lines.push({ sku: "pear", qty: 1, price: 3 });
        (cart.lines[0] as Line).qty = 7;
        return cart;
      },
      check(observation) {
        assert.equal(observation.threw, false);
        const returned = observation.value as Cart;
        assert.equal(returned.lines.length, 2, "the candidate's own copy carries its mutation");
        assert.equal(returned.lines[0]?.qty, 7);
      },
    }),
  },
];

// ------------------------------------------------------------------------------------------------
// Hook faults: reported to onError as an ExperimentError naming the callback.

interface HookFault {
  label: string;
  operation: Operation;
  /** An asynchronous hook: in sequential mode with a sync control it is also reported as `sequential`. */
  async: boolean;
  /** Whether the run still publishes a result. */
  publishes: boolean;
  applies(control: ControlKind): boolean;
  make(
    thrown: Error,
    control: Control,
  ): { options: Options; candidate?: (cart: Cart) => unknown; check?(result: Result<unknown>, control: Control): void };
}

const always = (): boolean => true;
const rejecting = (thrown: unknown) => () => Promise.reject(thrown);
const throwing = (thrown: unknown) => () => {
  throw thrown;
};

/** A candidate whose outcome equals the control's: the value, or an equivalent error. */
function equivalentCandidate(control: Control): (cart: Cart) => unknown {
  if (control.kind.throws) {
    return () => {
      throw new RangeError("control failed");
    };
  }
  return () => ({ total: 10, currency: "EUR" });
}

const HOOK_FAULTS: readonly HookFault[] = [
  {
    label: "a compare that throws",
    operation: "compare",
    async: false,
    publishes: true,
    applies: (c) => !c.throws,
    make: (thrown, control) => ({
      options: { compare: throwing(thrown) },
      candidate: equivalentCandidate(control),
      check: (result) => assert.equal(result.mismatched, true, "a compare error counts as a mismatch"),
    }),
  },
  {
    label: "a compareErrors that throws",
    operation: "compareErrors",
    async: false,
    publishes: true,
    applies: (c) => c.throws,
    make: (thrown, control) => ({
      options: { compareErrors: throwing(thrown) },
      candidate: equivalentCandidate(control),
      check: (result) => assert.equal(result.mismatched, true, "a compareErrors error counts as a mismatch"),
    }),
  },
  {
    label: "a clean that throws",
    operation: "clean",
    async: false,
    publishes: true,
    applies: always,
    make: (thrown) => ({
      options: { clean: throwing(thrown) },
      candidate: () => ({ total: 10, currency: "EUR" }),
      check: (result) => {
        const observation = result.candidates[0];
        assert.deepEqual(observation?.cleanedValue, { total: 10, currency: "EUR" }, "the raw value is published");
      },
    }),
  },
  {
    label: "an ignore rule that throws",
    operation: "ignore",
    async: false,
    publishes: true,
    applies: always,
    make: (thrown) => ({
      options: { ignore: [throwing(thrown)] },
      candidate: () => ({ total: 11, currency: "EUR" }),
      check: (result) => {
        assert.equal(result.ignored, false, "an ignore error counts as not ignored");
        assert.equal(result.outcomes.candidate, "mismatched");
      },
    }),
  },
  {
    label: "a publisher function that throws",
    operation: "publish",
    async: false,
    publishes: true,
    applies: always,
    make: (thrown, control) => ({ options: { publish: [throwing(thrown) as Publisher] }, candidate: equivalentCandidate(control) }),
  },
  {
    label: "a publisher object whose publish rejects",
    operation: "publish",
    async: false,
    publishes: true,
    applies: always,
    make: (thrown, control) => ({ options: { publish: [{ publish: rejecting(thrown) }] }, candidate: equivalentCandidate(control) }),
  },
  {
    label: "an enabled that throws",
    operation: "enabled",
    async: false,
    publishes: false,
    applies: always,
    make: (thrown, control) => ({ options: { enabled: throwing(thrown) }, candidate: equivalentCandidate(control) }),
  },
  {
    label: "an async enabled that rejects",
    operation: "enabled",
    async: true,
    publishes: false,
    applies: always,
    make: (thrown, control) => ({
      options: {
        enabled: async () => {
          throw thrown;
        },
      },
      candidate: equivalentCandidate(control),
    }),
  },
  {
    label: "a runIf that throws",
    operation: "runIf",
    async: false,
    publishes: false,
    applies: always,
    make: (thrown, control) => ({ options: { runIf: throwing(thrown) }, candidate: equivalentCandidate(control) }),
  },
  {
    label: "a sampleBy that throws",
    operation: "sampleBy",
    async: false,
    publishes: false,
    applies: always,
    make: (thrown, control) => ({ options: { sample: 0.5, sampleBy: throwing(thrown) }, candidate: equivalentCandidate(control) }),
  },
  {
    label: "a beforeRun that throws",
    operation: "beforeRun",
    async: false,
    publishes: false,
    applies: always,
    make: (thrown, control) => ({ options: { beforeRun: throwing(thrown) }, candidate: equivalentCandidate(control) }),
  },
  {
    label: "an async beforeRun that rejects",
    operation: "beforeRun",
    async: true,
    publishes: false,
    applies: always,
    make: (thrown, control) => ({
      options: {
        beforeRun: async () => {
          throw thrown;
        },
      },
      candidate: equivalentCandidate(control),
    }),
  },
  {
    label: "a context function that throws",
    operation: "context",
    async: false,
    publishes: false,
    applies: always,
    make: (thrown, control) => ({ options: { context: throwing(thrown) }, candidate: equivalentCandidate(control) }),
  },
  {
    label: "an isolate function that throws",
    operation: "isolate",
    async: false,
    publishes: false,
    applies: always,
    make: (thrown, control) => ({ options: { isolate: throwing(thrown) }, candidate: equivalentCandidate(control) }),
  },
];

// ------------------------------------------------------------------------------------------------

describe("the control path is sacred", () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => {
    unhandled.push(reason);
  };

  before(() => {
    process.on("unhandledRejection", onUnhandled);
  });

  after(() => {
    process.off("unhandledRejection", onUnhandled);
    assert.deepEqual(unhandled, [], "no unhandled rejection escaped during the whole matrix");
  });

  /** Lets any unhandled rejection surface (they are reported after the microtask queue drains). */
  async function assertNoUnhandledRejection(before: number): Promise<void> {
    await sleep(5);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(unhandled.slice(before), [], "no unhandled rejection escaped");
  }

  for (const mode of ["background", "sequential"] as const) {
    for (const kind of CONTROLS) {
      describe(`${mode} mode, ${kind.label}`, () => {
        for (const fault of CANDIDATE_FAULTS) {
          it(`${mode}, ${kind.label}: ${fault.label} leaves the caller's outcome equal to the bare control's and is reported`, async () => {
            const unhandledBefore = unhandled.length;
            const control = makeControl(kind, mode);
            const { candidate, check } = fault.make();
            const sink = collector();
            const errors: ExperimentError[] = [];
            const wrapped = shadow<[Cart], unknown>(control.fn, candidate, {
              name: "control-path",
              mode,
              publish: sink,
              onError: (e) => errors.push(e),
              ...(fault.timeoutMs === undefined ? {} : { timeoutMs: fault.timeoutMs }),
            });
            const cart = newCart();
            const before = structuredClone(cart);
            const lineBefore = cart.lines[0];

            await callAndCheckOutcome(wrapped, control, cart, mode);
            await wrapped.experiment.settled();

            // (b) the caller's arguments are untouched
            assert.deepEqual(cart, before, "the caller's arguments are untouched");
            assert.equal(cart.lines[0], lineBefore, "the caller's nested objects are its own");
            // (c) the fault is on the published result
            assert.equal(sink.results.length, 1, "the run was published");
            const result = sink.results[0] as Result<unknown>;
            const observation = result.candidates[0] as Observation<unknown>;
            assert.equal(result.outcomes.candidate, "mismatched");
            assert.equal(result.mismatched, true);
            check(observation, result);
            if (fault.mutates && !observation.threw) assert.notEqual(observation.value, cart, "the candidate never held the caller's cart");
            // Only the sync-control fallback of sequential mode has anything to say to onError.
            const expectedOps = mode === "sequential" && !kind.async && fault.async ? ["sequential"] : [];
            assert.deepEqual(
              errors.map((e) => e.operation),
              expectedOps,
            );
            await assertNoUnhandledRejection(unhandledBefore);
          });
        }

        for (const fault of HOOK_FAULTS) {
          if (!fault.applies(kind)) continue;
          it(`${mode}, ${kind.label}: ${fault.label} leaves the caller's outcome equal to the bare control's and is reported`, async () => {
            const unhandledBefore = unhandled.length;
            const control = makeControl(kind, mode);
            const thrown = new Error(`${fault.operation} failed`);
            const { options, candidate, check } = fault.make(thrown, control);
            const sink = collector();
            const errors: ExperimentError[] = [];
            const ownPublishers = options.publish === undefined ? [] : Array.isArray(options.publish) ? options.publish : [options.publish];
            const wrapped = shadow<[Cart], unknown>(control.fn, candidate ?? equivalentCandidate(control), {
              name: "control-path",
              mode,
              onError: (e) => errors.push(e),
              ...options,
              publish: [...ownPublishers, sink],
            });
            const cart = newCart();
            const before = structuredClone(cart);

            await callAndCheckOutcome(wrapped, control, cart, mode);
            await wrapped.experiment.settled();

            assert.deepEqual(cart, before, "the caller's arguments are untouched");
            assert.equal(sink.results.length, fault.publishes ? 1 : 0, fault.publishes ? "the run is still published" : "nothing is published");
            if (check !== undefined) check(sink.results[0] as Result<unknown>, control);
            // (c) the fault reached onError as an ExperimentError naming the callback, with the thrown value as cause
            for (const e of errors) assert.ok(e instanceof ExperimentError, "onError receives ExperimentErrors");
            const expectedOps = new Set<Operation>([fault.operation]);
            if (mode === "sequential" && !kind.async && fault.async) expectedOps.add("sequential");
            assert.deepEqual(new Set(errors.map((e) => e.operation)), expectedOps);
            const reported = errors.filter((e) => e.operation === fault.operation);
            assert.ok(reported.length >= 1);
            for (const e of reported) {
              assert.equal(e.cause, thrown, "the cause is the very value the callback threw");
              assert.equal(e.experiment, "control-path");
            }
            await assertNoUnhandledRejection(unhandledBefore);
          });
        }
      });
    }
  }
});
