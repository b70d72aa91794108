/**
 * Two engine bugs reported against the rebuilt run loop (issue 11 item 4/5): an asynchronous
 * sequential run must be counted for `settled()` / `flush()` from its admission, and a candidate's
 * `durationMs` must measure only its own execution, not the engine's work before it is invoked.
 */
import { strict as assert } from "node:assert";
import { performance } from "node:perf_hooks";
import { AsyncLocalStorage } from "node:async_hooks";
import * as fc from "fast-check";
import * as sinon from "sinon";
import { Experiment, PenumbraError, configure, flush, shadow, type ContextBackend } from "../../src/index";
import { collector, resetConfiguration, sleep } from "../support/capture";

describe("engine fixes: counting sequential runs and candidate durations", () => {
  afterEach(async () => {
    sinon.restore();
    await flush().catch(() => undefined);
    resetConfiguration();
  });

  describe("an asynchronous sequential run the caller does not await", () => {
    it("is published before settled() resolves when the control is an async function", async () => {
      const sink = collector();
      const wrapped = shadow(
        async (n: number) => {
          await sleep(5);
          return n;
        },
        async (n: number) => {
          await sleep(5);
          return n + 1;
        },
        { name: "fix-1", mode: "sequential", publish: sink },
      );
      void wrapped(1);
      await wrapped.experiment.settled();
      assert.equal(sink.results.length, 1, "the run admitted before settled() was published");
      assert.equal(sink.results[0]?.mismatched, true);
    });

    it("is published before flush() resolves", async () => {
      const sink = collector();
      const wrapped = shadow(
        async () => {
          await sleep(5);
          return "a";
        },
        async () => "a",
        { name: "fix-2", mode: "sequential", publish: sink },
      );
      void wrapped();
      await flush();
      assert.equal(sink.results.length, 1);
    });

    it("is published before settled() resolves when the control is a plain function that returns a promise", async () => {
      const sink = collector();
      // Not an async function: the engine learns the control is asynchronous only inside the call.
      const control = (n: number): Promise<number> => sleep(5).then(() => n);
      const wrapped = shadow(control, (n: number) => sleep(5).then(() => n), { name: "fix-3", mode: "sequential", publish: sink });
      void wrapped(3);
      await wrapped.experiment.settled();
      assert.equal(sink.results.length, 1);
      assert.equal(sink.results[0]?.matched, true);
    });

    it("is published before settled() resolves when enabled answers with a promise", async () => {
      const sink = collector();
      const wrapped = shadow(
        async () => {
          await sleep(5);
          return 1;
        },
        async () => 1,
        { name: "fix-4", mode: "sequential", publish: sink, enabled: () => sleep(5).then(() => true) },
      );
      void wrapped();
      await wrapped.experiment.settled();
      assert.equal(sink.results.length, 1);
    });

    it("is counted even when the caller's promise rejects, and the rejection still reaches the caller", async () => {
      const sink = collector();
      const failure = new Error("control failed");
      const wrapped = shadow(
        async () => {
          await sleep(5);
          throw failure;
        },
        async () => {
          throw failure;
        },
        { name: "fix-5", mode: "sequential", publish: sink },
      );
      const call = wrapped();
      await wrapped.experiment.settled();
      assert.equal(sink.results.length, 1);
      await assert.rejects(call, (e: unknown) => e === failure);
    });

    let round = 0;
    it("settled() waits for every un-awaited call, whatever the delays and the number of calls", async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(fc.tuple(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 4 })), { minLength: 1, maxLength: 6 }), async (delays) => {
          const sink = collector();
          round++;
          const experiment = new Experiment<[number, number], Promise<number>>(`uncounted-sequential-${round}`, { mode: "sequential", publish: sink })
            .use(async (a: number) => {
              await sleep(a);
              return a;
            })
            .try(async (_a: number, b: number) => {
              await sleep(b);
              return b;
            });
          for (const [a, b] of delays) void experiment.run(a, b);
          await experiment.settled();
          assert.equal(sink.results.length, delays.length);
        }),
        { numRuns: 15 },
      );
    });
  });

  describe("a candidate's duration", () => {
    /** A context backend whose entry costs `entryMs` of a fake clock: the engine's work before the behaviour runs. */
    function slowEntryBackend(clock: { now: number }, entryMs: number): ContextBackend {
      const storage = new AsyncLocalStorage<unknown>();
      return {
        name: "slow-entry",
        run<T>(store: unknown, fn: () => T): T {
          clock.now += entryMs;
          return storage.run(store, fn);
        },
        get: () => storage.getStore(),
        bind: <F extends (...args: never[]) => unknown>(fn: F): F => AsyncLocalStorage.bind(fn),
      };
    }

    it("counts only the candidate's own execution, not the engine's work before it is invoked", async () => {
      const clock = { now: 0 };
      sinon.stub(performance, "now").callsFake(() => clock.now);
      configure({ context: slowEntryBackend(clock, 1000) });
      const sink = collector();
      const wrapped = shadow(
        (n: number) => {
          clock.now += 3;
          return n;
        },
        (n: number) => {
          clock.now += 5;
          return n;
        },
        { name: "fix-7", publish: sink },
      );
      assert.equal(wrapped(7), 7);
      await wrapped.experiment.settled();
      const result = sink.results[0];
      assert.ok(result !== undefined);
      assert.equal(result.control.durationMs, 3);
      assert.equal(result.candidates[0]?.durationMs, 5);
    });

    it("counts only the candidates' own execution in sequential mode, sync or async", async () => {
      const clock = { now: 0 };
      sinon.stub(performance, "now").callsFake(() => clock.now);
      configure({ context: slowEntryBackend(clock, 1000) });
      const sink = collector();
      const syncWrapped = shadow(
        () => {
          clock.now += 2;
          return 1;
        },
        () => {
          clock.now += 4;
          return 1;
        },
        { name: "fix-8", mode: "sequential", publish: sink },
      );
      syncWrapped();
      const asyncWrapped = shadow(
        async () => {
          clock.now += 6;
          return 1;
        },
        async () => {
          clock.now += 8;
          return 1;
        },
        { name: "fix-9", mode: "sequential", publish: sink },
      );
      await asyncWrapped();
      await flush();
      assert.deepEqual(
        sink.results.map((r) => [r.control.durationMs, r.candidates[0]?.durationMs]),
        [
          [2, 4],
          [6, 8],
        ],
      );
    });
  });

  describe("shadow runs in flight", () => {
    function inFlightCount(): number {
      const backend = new AsyncLocalStorage<unknown>();
      try {
        configure({ context: { name: "probe", run: (store, fn) => backend.run(store, fn), get: () => backend.getStore(), bind: (fn) => fn } });
        resetConfiguration();
        return 0;
      } catch (error) {
        assert.ok(error instanceof PenumbraError && error.code === "PENUMBRA_RUNS_IN_FLIGHT", String(error));
        return Number(/(\d+) shadow run/.exec(error.message)?.[1]);
      }
    }

    let round = 0;
    it("counts each pending candidate once, whatever the mix of sync, throwing and pending candidates, and none once they settled", async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(fc.constantFrom("pending", "sync", "throws", "rejects"), { minLength: 1, maxLength: 8 }), async (kinds) => {
          round++;
          let release!: () => void;
          const gate = new Promise<void>((resolve) => (release = resolve));
          const experiments = kinds.map((kind, i) =>
            shadow(
              () => 1,
              (): unknown => {
                if (kind === "sync") return 1;
                if (kind === "throws") throw new Error("candidate failed");
                if (kind === "rejects") return Promise.reject(new Error("candidate rejected"));
                return gate.then(() => 1);
              },
              { name: `in-flight-${round}-${i}`, publish: () => undefined },
            ),
          );
          for (const wrapped of experiments) wrapped();
          // The candidates start on a later turn.
          await new Promise((resolve) => setImmediate(resolve));
          await new Promise((resolve) => setImmediate(resolve));
          assert.equal(inFlightCount(), kinds.filter((k) => k === "pending").length);
          release();
          await flush();
          assert.equal(inFlightCount(), 0);
        }),
        { numRuns: 20 },
      );
    });
  });
});
