/**
 * The two modes: background (the default; candidates after the caller has its answer, on snapshots)
 * and sequential (Scientist's: behaviours one after another, published before `run` returns), plus
 * the shadow context the behaviours run in (`isShadow()`, `currentRun()`) and argument isolation.
 */
import { strict as assert } from "node:assert";
import { EventEmitter } from "node:events";
import {
  CandidateTimeoutError,
  Experiment,
  MismatchError,
  currentRun,
  isShadow,
  shadow,
  type ExperimentError,
  type Result,
  type RunInfo,
} from "../../src/index";
import { collector, sleep } from "../support/capture";

interface Cart {
  id: string;
  lines: Array<{ sku: string; qty: number }>;
}

function newCart(): Cart {
  return { id: "c-1", lines: [{ sku: "apple", qty: 2 }] };
}

function only<T>(items: readonly T[]): T {
  assert.equal(items.length, 1, `expected exactly one item, got ${items.length}`);
  return items[0] as T;
}

describe("modes", () => {
  describe("background (the default)", () => {
    it("starts the candidates on a later turn, not in the caller's microtasks", async () => {
      const events: string[] = [];
      const wrapped = shadow(
        () => {
          events.push("control");
          return 1;
        },
        () => {
          events.push("candidate");
          return 1;
        },
        { publish: collector() },
      );
      wrapped();
      events.push("returned");
      for (let i = 0; i < 20; i++) await Promise.resolve();
      events.push("microtasks drained");
      await wrapped.experiment.settled();
      assert.deepEqual(events, ["control", "returned", "microtasks drained", "candidate"]);
    });

    it("starts the candidates of an async control only after the caller's continuation ran", async () => {
      const events: string[] = [];
      const wrapped = shadow(
        async () => {
          events.push("control");
          return 1;
        },
        async () => {
          events.push("candidate");
          return 1;
        },
        { publish: collector() },
      );
      await wrapped();
      events.push("caller continued");
      await wrapped.experiment.settled();
      assert.deepEqual(events, ["control", "caller continued", "candidate"]);
    });

    it("runs the candidate on the argument snapshot, whatever the control does to the caller's arguments", async () => {
      const sink = collector();
      const seen: Cart[] = [];
      const wrapped = shadow(
        (cart: Cart) => {
          cart.lines.push({ sku: "pear", qty: 9 });
          (cart.lines[0] as { qty: number }).qty = 100;
          return cart.lines.length;
        },
        (cart: Cart) => {
          seen.push(structuredClone(cart));
          return cart.lines.length;
        },
        { publish: sink },
      );
      const cart = newCart();
      assert.equal(wrapped(cart), 2);
      assert.equal(cart.lines.length, 2, "the control changed the caller's own cart");
      await wrapped.experiment.settled();
      assert.deepEqual(seen, [newCart()], "the candidate saw the cart as it was before the control ran");
      assert.equal(only(sink.results).mismatched, true);
    });

    it("snapshots a sync control's value, so a caller mutating it right after the call causes no false mismatch", async () => {
      const sink = collector();
      const wrapped = shadow<[], unknown>(
        () => ({ total: 10, lines: [1, 2] }),
        async () => {
          await sleep(5);
          return { total: 10, lines: [1, 2] };
        },
        { publish: sink },
      );
      const value = wrapped() as { total: number; lines: number[] };
      value.total = 999;
      value.lines.push(3);
      await wrapped.experiment.settled();
      const result = only(sink.results);
      assert.equal(result.matched, true, "no false mismatch");
      assert.deepEqual(result.control.value, { total: 10, lines: [1, 2] });
      assert.equal(result.control.isolated, true);
    });

    it("snapshots an async control's value, so a caller mutating it right after await causes no false mismatch", async () => {
      const sink = collector();
      const wrapped = shadow(
        async () => ({ total: 10, lines: [1, 2] }),
        async () => {
          await sleep(5);
          return { total: 10, lines: [1, 2] };
        },
        { publish: sink },
      );
      const value = await wrapped();
      value.total = 999;
      value.lines.push(3);
      await wrapped.experiment.settled();
      const result = only(sink.results);
      assert.equal(result.matched, true, "no false mismatch");
      assert.deepEqual(result.control.value, { total: 10, lines: [1, 2] });
    });

    it("runs beforeRun after the control was invoked and before the candidate", async () => {
      const events: string[] = [];
      const wrapped = shadow(
        () => {
          events.push("control");
          return 1;
        },
        () => {
          events.push("candidate");
          return 1;
        },
        {
          beforeRun: async () => {
            events.push("beforeRun started");
            await sleep(5);
            events.push("beforeRun finished");
          },
          publish: collector(),
        },
      );
      wrapped();
      events.push("returned");
      await wrapped.experiment.settled();
      assert.deepEqual(events, ["control", "returned", "beforeRun started", "beforeRun finished", "candidate"]);
    });

    it("gives every candidate its own copy of the arguments: one mutating does not affect another", async () => {
      const seen: Record<string, Cart> = {};
      const experiment = new Experiment<[Cart], number>("own-copies", { publish: collector() })
        .use((cart) => cart.lines.length)
        .try("mutator", (cart) => {
          cart.lines.push({ sku: "pear", qty: 1 });
          cart.id = "mutated";
          seen.mutator = cart;
          return cart.lines.length;
        })
        .try("reader", (cart) => {
          seen.reader = structuredClone(cart);
          return cart.lines.length;
        })
        .try("second-mutator", (cart) => {
          seen.secondMutator = structuredClone(cart);
          cart.lines.length = 0;
          return 0;
        });
      const cart = newCart();
      experiment.run(cart);
      await experiment.settled();
      assert.deepEqual(seen.reader, newCart());
      assert.deepEqual(seen.secondMutator, newCart());
      assert.equal(seen.mutator?.lines.length, 2, "the mutator kept its own change");
      assert.deepEqual(cart, newCart(), "the caller's cart is untouched");
    });

    it("marks a hanging candidate timed out with a CandidateTimeoutError and aborts its signal with that error", async () => {
      const sink = collector();
      let signal: AbortSignal | undefined;
      const wrapped = shadow<[], unknown>(
        () => ({ total: 1 }),
        () => {
          signal = currentRun()?.signal;
          return new Promise(() => undefined);
        },
        { timeoutMs: 50, publish: sink },
      );
      wrapped();
      await wrapped.experiment.settled();
      const result = only(sink.results);
      const observation = only(result.candidates);
      assert.equal(observation.timedOut, true);
      assert.ok(observation.error instanceof CandidateTimeoutError);
      assert.equal((observation.error as CandidateTimeoutError).timeoutMs, 50);
      assert.equal(result.outcomes.candidate, "mismatched");
      assert.equal(only(result.mismatches).kind, "error");
      assert.ok(signal !== undefined, "the candidate had a signal");
      assert.equal(signal.aborted, true);
      assert.equal(signal.reason, observation.error, "the signal's reason is the very timeout error");
    });

    it("does not abort the signal of a candidate that finishes in time", async () => {
      let signal: AbortSignal | undefined;
      const wrapped = shadow<[], unknown>(
        () => 1,
        async () => {
          signal = currentRun()?.signal;
          return 1;
        },
        { timeoutMs: 50, publish: collector() },
      );
      wrapped();
      await wrapped.experiment.settled();
      await sleep(80);
      assert.equal(signal?.aborted, false);
    });
  });

  describe("the shadow context", () => {
    it("says isShadow() false in the control and outside, true in the candidate across await, setTimeout and setImmediate", async () => {
      const seen: Record<string, boolean> = {};
      const wrapped = shadow(
        async () => {
          seen.control = isShadow();
          await sleep(1);
          seen.controlAfterAwait = isShadow();
          return 1;
        },
        async () => {
          seen.candidate = isShadow();
          await Promise.resolve();
          seen.afterAwait = isShadow();
          await new Promise<void>((resolve) =>
            setTimeout(() => {
              seen.inTimeout = isShadow();
              resolve();
            }, 1),
          );
          await new Promise<void>((resolve) =>
            setImmediate(() => {
              seen.inImmediate = isShadow();
              resolve();
            }),
          );
          return 1;
        },
        { publish: collector() },
      );
      seen.outsideBefore = isShadow();
      await wrapped();
      seen.callerAfter = isShadow();
      await wrapped.experiment.settled();
      assert.deepEqual(seen, {
        outsideBefore: false,
        control: false,
        controlAfterAwait: false,
        callerAfter: false,
        candidate: true,
        afterAwait: true,
        inTimeout: true,
        inImmediate: true,
      });
      assert.equal(currentRun(), undefined, "outside any run");
    });

    it("gives currentRun() the experiment, run id, role, candidate name, context and signal", async () => {
      const sink = collector();
      let control: RunInfo | undefined;
      let candidate: RunInfo | undefined;
      const wrapped = shadow<[string], unknown>(
        (id: string) => {
          control = currentRun();
          return id;
        },
        async (id: string) => {
          await sleep(1);
          candidate = currentRun();
          return id;
        },
        { name: "run-info", context: (id: string) => ({ requestId: id }), publish: sink },
      );
      wrapped("req-7");
      await wrapped.experiment.settled();
      const result = only(sink.results);
      assert.ok(control !== undefined && candidate !== undefined);
      assert.equal(control.experiment, "run-info");
      assert.equal(control.role, "control");
      assert.equal(control.candidate, undefined);
      assert.deepEqual(control.context, { requestId: "req-7" });
      assert.ok(control.signal instanceof AbortSignal);
      assert.equal(candidate.experiment, "run-info");
      assert.equal(candidate.role, "candidate");
      assert.equal(candidate.candidate, "candidate");
      assert.deepEqual(candidate.context, { requestId: "req-7" });
      assert.ok(candidate.signal instanceof AbortSignal);
      assert.equal(typeof candidate.runId, "string");
      assert.notEqual(candidate.runId, "");
      assert.equal(control.runId, candidate.runId, "the control and its candidates share the run id");
      assert.equal(result.runId, candidate.runId, "the published result carries it too");
      assert.deepEqual(result.context, { requestId: "req-7" });
    });

    it("gives each of 1000 interleaved concurrent runs only its own currentRun()", async () => {
      const sink = collector();
      const confusions: string[] = [];
      const runIds = new Map<number, Set<string>>();
      const check = (id: number, where: string): void => {
        const run = currentRun();
        if (run?.context.id !== id) confusions.push(`${where} of ${id} saw ${String(run?.context.id)}`);
        if (run !== undefined) {
          const ids = runIds.get(id) ?? new Set<string>();
          ids.add(run.runId);
          runIds.set(id, ids);
        }
      };
      const jitter = (): Promise<void> => sleep(Math.floor(Math.random() * 4));
      const wrapped = shadow(
        async (id: number) => {
          check(id, "control");
          await jitter();
          check(id, "control after a delay");
          return id;
        },
        async (id: number) => {
          check(id, "candidate");
          await jitter();
          check(id, "candidate after a delay");
          await new Promise((resolve) => setImmediate(resolve));
          check(id, "candidate after setImmediate");
          return id;
        },
        { context: (id) => ({ id }), maxConcurrent: 1000, publish: sink },
      );
      const answers = await Promise.all(Array.from({ length: 1000 }, (_, id) => wrapped(id)));
      await wrapped.experiment.settled();
      assert.deepEqual(answers, Array.from({ length: 1000 }, (_, id) => id));
      assert.deepEqual(confusions, []);
      assert.equal(sink.results.length, 1000);
      assert.ok([...runIds.values()].every((ids) => ids.size === 1), "each call kept one run id throughout");
      assert.equal(new Set(sink.results.map((r) => r.runId)).size, 1000, "every run has its own id");
      assert.ok(sink.results.every((r) => r.matched));
    });
  });

  describe("isolation", () => {
    it("shares a function argument by reference and says the candidate was not isolated", async () => {
      const sink = collector();
      const callback = (): number => 1;
      let received: unknown;
      const wrapped = shadow(
        (cb: () => number, n: number) => cb() + n,
        (cb: () => number, n: number) => {
          received = cb;
          return cb() + n;
        },
        { publish: sink },
      );
      assert.equal(wrapped(callback, 1), 2);
      await wrapped.experiment.settled();
      assert.equal(received, callback, "the very same function");
      assert.equal(only(only(sink.results).candidates).isolated, false);
    });

    it("shares an EventEmitter inside a data argument and copies the data around it", async () => {
      const sink = collector();
      const emitter = new EventEmitter();
      const request = { id: "r-1", events: emitter, tags: ["a"] };
      let received: typeof request | undefined;
      const wrapped = shadow(
        (req: typeof request) => req.id,
        (req: typeof request) => {
          received = req;
          return req.id;
        },
        { publish: sink },
      );
      wrapped(request);
      await wrapped.experiment.settled();
      assert.ok(received !== undefined);
      assert.notEqual(received, request, "the data around the handle is copied");
      assert.notEqual(received.tags, request.tags);
      assert.equal(received.events, emitter, "the handle is the very same emitter");
      assert.equal(only(only(sink.results).candidates).isolated, false);
    });

    it("says a candidate given only data was isolated", async () => {
      const sink = collector();
      const wrapped = shadow((cart: Cart) => cart.id, (cart: Cart) => cart.id, { publish: sink });
      wrapped(newCart());
      await wrapped.experiment.settled();
      assert.equal(only(only(sink.results).candidates).isolated, true);
    });

    it("passes the very same argument objects with isolate: false", async () => {
      const cart = newCart();
      let received: Cart | undefined;
      const sink = collector();
      const wrapped = shadow(
        (c: Cart) => c.id,
        (c: Cart) => {
          received = c;
          return c.id;
        },
        { isolate: false, publish: sink },
      );
      wrapped(cart);
      await wrapped.experiment.settled();
      assert.equal(received, cart);
      assert.equal(only(only(sink.results).candidates).isolated, false);
    });

    it("uses an isolate function's copy for the candidate", async () => {
      let received: Cart | undefined;
      let isolateCalls = 0;
      const wrapped = shadow(
        (c: Cart) => c.lines.length,
        (c: Cart) => {
          received = c;
          return c.lines.length;
        },
        {
          isolate: ([c]) => {
            isolateCalls++;
            return [{ ...c, id: "copied-by-isolate", lines: c.lines.map((l) => ({ ...l })) }] as [Cart];
          },
          publish: collector(),
        },
      );
      const cart = newCart();
      wrapped(cart);
      await wrapped.experiment.settled();
      assert.equal(isolateCalls, 1);
      assert.equal(received?.id, "copied-by-isolate");
      assert.notEqual(received, cart);
    });

    it("puts the pristine argument snapshot on result.args with captureArgs, even if the candidate mutates its copy", async () => {
      const sink = collector();
      const wrapped = shadow(
        (c: Cart, n: number) => c.lines.length + n,
        (c: Cart, n: number) => {
          c.lines.push({ sku: "pear", qty: 1 });
          (c.lines[0] as { qty: number }).qty = 50;
          return c.lines.length + n;
        },
        { captureArgs: true, publish: sink },
      );
      wrapped(newCart(), 3);
      await wrapped.experiment.settled();
      assert.deepEqual(only(sink.results).args, [newCart(), 3]);
    });

    it("leaves result.args absent without captureArgs", async () => {
      const sink = collector();
      const wrapped = shadow((n: number) => n, (n: number) => n, { publish: sink });
      wrapped(1);
      await wrapped.experiment.settled();
      assert.equal(only(sink.results).args, undefined);
    });
  });

  describe("sequential", () => {
    it("makes run fully synchronous with a sync control: published before run returns", () => {
      const sink = collector();
      const events: string[] = [];
      const wrapped = shadow(
        () => {
          events.push("control");
          return 1;
        },
        () => {
          events.push("candidate");
          return 2;
        },
        { mode: "sequential", publish: sink, beforeRun: () => void events.push("beforeRun") },
      );
      assert.equal(wrapped(), 1);
      assert.equal(sink.results.length, 1, "published before run returned");
      assert.equal(only(sink.results).mismatched, true);
      assert.equal(events[0], "beforeRun");
      assert.deepEqual([...events].sort(), ["beforeRun", "candidate", "control"]);
    });

    it("awaits an async control's behaviours one after another and publishes before the promise resolves", async () => {
      const sink = collector();
      const spans: Array<{ name: string; start: number; end: number }> = [];
      const behaviour = (name: string) => async (n: number) => {
        const start = performance.now();
        await sleep(15);
        spans.push({ name, start, end: performance.now() });
        return n;
      };
      const experiment = new Experiment<[number], Promise<number>>("one-by-one", { mode: "sequential", publish: sink })
        .use(behaviour("control"))
        .try("a", behaviour("a"))
        .try("b", behaviour("b"));
      const promise = experiment.run(1);
      assert.equal(sink.results.length, 0);
      assert.equal(await promise, 1);
      assert.equal(sink.results.length, 1, "published before the caller's promise resolved");
      assert.deepEqual(spans.map((s) => s.name).sort(), ["a", "b", "control"]);
      const ordered = [...spans].sort((x, y) => x.start - y.start);
      for (let i = 1; i < ordered.length; i++) {
        assert.ok(
          (ordered[i] as { start: number }).start >= (ordered[i - 1] as { end: number }).end,
          `${ordered[i]?.name} started before ${ordered[i - 1]?.name} ended`,
        );
      }
      await experiment.settled();
    });

    it("runs the behaviours in a random order once the control is known to be synchronous", () => {
      const orders = new Set<string>();
      let current: string[] = [];
      const experiment = new Experiment<[], number>("random-order", { mode: "sequential", publish: collector() })
        .use(() => {
          current.push("control");
          return 1;
        })
        .try("a", () => {
          current.push("a");
          return 1;
        })
        .try("b", () => {
          current.push("b");
          return 1;
        });
      for (let i = 0; i < 120; i++) {
        current = [];
        experiment.run();
        orders.add(current.join(","));
      }
      assert.ok(orders.size >= 4, `several orders seen: ${[...orders].join(" | ")}`);
      assert.ok([...orders].some((o) => !o.startsWith("control")), "the control is not always first");
    });

    it("runs the behaviours in a random order with an async control", async () => {
      const orders = new Set<string>();
      let current: string[] = [];
      const step = (name: string) => async () => {
        current.push(name);
        return 1;
      };
      const experiment = new Experiment<[], Promise<number>>("random-order-async", { mode: "sequential", publish: collector() })
        .use(step("control"))
        .try("a", step("a"))
        .try("b", step("b"));
      for (let i = 0; i < 120; i++) {
        current = [];
        await experiment.run();
        orders.add(current.join(","));
      }
      assert.ok(orders.size >= 4, `several orders seen: ${[...orders].join(" | ")}`);
      assert.ok([...orders].some((o) => !o.startsWith("control")), "the control is not always first");
    });

    it("throws a MismatchError carrying the published result with throwOnMismatch", () => {
      const sink = collector();
      const wrapped = shadow(() => ({ total: 49.9 }), () => ({ total: 51.4 }), {
        mode: "sequential",
        throwOnMismatch: true,
        publish: sink,
      });
      let caught: unknown;
      try {
        wrapped();
      } catch (e) {
        caught = e;
      }
      assert.ok(caught instanceof MismatchError, "a MismatchError replaces the control's value");
      assert.equal(caught.result, only(sink.results), "the very result that was published");
      assert.equal(caught.experiment, wrapped.experiment.name);
      assert.match(caught.message, /total=49\.9 vs 51\.4/);
    });

    it("rejects with a MismatchError for an async control with throwOnMismatch", async () => {
      const sink = collector();
      const wrapped = shadow(async () => 1, async () => 2, { mode: "sequential", throwOnMismatch: true, publish: sink });
      await assert.rejects(wrapped(), (e: unknown) => e instanceof MismatchError && e.result === sink.results[0]);
    });

    it("returns the control's value with throwOnMismatch when the candidate matches", () => {
      const wrapped = shadow(() => 1, () => 1, { mode: "sequential", throwOnMismatch: true, publish: collector() });
      assert.equal(wrapped(), 1);
    });

    it("completes an async candidate of a sync control in the background, publishes it when it settles and reports operation sequential", async () => {
      const sink = collector();
      const errors: ExperimentError[] = [];
      let release!: () => void;
      const wrapped = shadow<[], unknown>(
        () => 1,
        async () => {
          await new Promise<void>((resolve) => (release = resolve));
          return 2;
        },
        { mode: "sequential", throwOnMismatch: true, publish: sink, onError: (e) => errors.push(e) },
      );
      assert.equal(wrapped(), 1, "the control's value, synchronously: throwOnMismatch cannot apply");
      assert.equal(sink.results.length, 0, "not published before the candidate settled");
      assert.deepEqual(
        errors.map((e) => e.operation),
        ["sequential"],
      );
      release();
      await wrapped.experiment.settled();
      const result: Result<unknown> = only(sink.results);
      assert.equal(result.mismatched, true);
      assert.equal(only(result.candidates).value, 2);
      assert.equal(errors.length, 1);
    });
  });
});

describe("comparison of values that cannot be walked", () => {
  it("reports a value whose getter throws during comparison as a compare error and a mismatch, never to the caller", async () => {
    const errors: string[] = [];
    const boom = new Error("getter exploded");
    const hostile = (): object =>
      Object.defineProperty({}, "total", {
        enumerable: true,
        get() {
          throw boom;
        },
      });
    for (const mode of ["background", "sequential"] as const) {
      const results: Result<unknown>[] = [];
      const wrapped = shadow(() => ({ total: 1 }), hostile, {
        mode,
        publish: (r) => {
          results.push(r);
        },
        onError: (e) => errors.push(`${mode}:${e.operation}`),
      });
      assert.deepEqual(wrapped(), { total: 1 });
      await wrapped.experiment.settled();
      assert.equal(results[0]?.mismatched, true, mode);
      assert.match(results[0]?.mismatches[0]?.summary ?? "", /comparison threw Error: getter exploded/);
    }
    assert.deepEqual(errors, ["background:compare", "sequential:compare"]);
  });
});
