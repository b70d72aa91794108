/**
 * Admission and backpressure: sampling (random and sticky), the enabled switches, `runIf`,
 * `maxConcurrent` slots and what happens to calls that find none free.
 */
import { strict as assert } from "node:assert";
import { Experiment, shadow, type ExperimentError, type Result, type Shadowed } from "../../src/index";
import { collector, sleep } from "../support/capture";

/** A promise with its resolve function outside, for candidates that wait on the test. */
function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

describe("admission", () => {
  describe("sampling", () => {
    it("runs no candidate and publishes nothing with sample 0", async () => {
      const sink = collector();
      let candidateRuns = 0;
      const wrapped = shadow(
        (n: number) => n + 1,
        (n: number) => {
          candidateRuns++;
          return n + 1;
        },
        { sample: 0, publish: sink },
      );
      for (let i = 0; i < 100; i++) assert.equal(wrapped(i), i + 1);
      await wrapped.experiment.settled();
      await sleep(5);
      assert.equal(candidateRuns, 0);
      assert.equal(sink.results.length, 0);
      assert.deepEqual(sink.skips, []);
    });

    it("runs the candidate for every call with sample 1", async () => {
      const sink = collector();
      let candidateRuns = 0;
      const wrapped = shadow(
        (n: number) => n,
        (n: number) => {
          candidateRuns++;
          return n;
        },
        { sample: 1, publish: sink },
      );
      for (let i = 0; i < 100; i++) wrapped(i);
      await wrapped.experiment.settled();
      assert.equal(candidateRuns, 100);
      assert.equal(sink.results.length, 100);
    });

    it("admits roughly 30% of 2000 calls with sample 0.3", async () => {
      const sink = collector();
      const wrapped = shadow((n: number) => n, (n: number) => n, { sample: 0.3, maxConcurrent: 2000, publish: sink });
      for (let i = 0; i < 2000; i++) wrapped(i);
      await wrapped.experiment.settled();
      const share = sink.results.length / 2000;
      assert.ok(share > 0.2 && share < 0.4, `admitted share ${share} should be near 0.3`);
    });

    it("decides a sampleBy key the same way every time, across two experiments built with the same name", async () => {
      const admittedBy = (): { wrapped: Shadowed<[string], string>; admitted: Map<string, number> } => {
        const admitted = new Map<string, number>();
        const wrapped = shadow(
          (key: string) => key,
          (key: string) => {
            admitted.set(key, (admitted.get(key) ?? 0) + 1);
            return key;
          },
          { name: "sticky-sampling", sample: 0.5, sampleBy: (key) => key, maxConcurrent: 1000, publish: collector() },
        );
        return { wrapped, admitted };
      };
      const first = admittedBy();
      const second = admittedBy(); // what another process would decide
      const keys = Array.from({ length: 200 }, (_, i) => `customer-${i}`);
      for (let round = 0; round < 3; round++) {
        for (const key of keys) {
          first.wrapped(key);
          second.wrapped(key);
        }
      }
      await first.wrapped.experiment.settled();
      await second.wrapped.experiment.settled();
      for (const [key, count] of first.admitted) assert.equal(count, 3, `key ${key} admitted every time or never`);
      for (const [key, count] of second.admitted) assert.equal(count, 3, `key ${key} admitted every time or never`);
      assert.deepEqual([...first.admitted.keys()].sort(), [...second.admitted.keys()].sort(), "both experiments admit the same keys");
      assert.ok(first.admitted.size > 40 && first.admitted.size < 160, `about half the keys admitted, got ${first.admitted.size}`);
    });

    it("keeps every key admitted at 1% admitted when the sample grows to 5%", async () => {
      const admittedAt = async (sample: number): Promise<Set<string>> => {
        const admitted = new Set<string>();
        const wrapped = shadow(
          (key: string) => key,
          (key: string) => {
            admitted.add(key);
            return key;
          },
          { name: "ramp", sample, sampleBy: (key) => key, maxConcurrent: 5000, publish: collector() },
        );
        for (let i = 0; i < 5000; i++) wrapped(`user-${i}`);
        await wrapped.experiment.settled();
        return admitted;
      };
      const onePercent = await admittedAt(0.01);
      const fivePercent = await admittedAt(0.05);
      assert.ok(onePercent.size > 10, `some keys admitted at 1%, got ${onePercent.size}`);
      assert.ok(fivePercent.size > onePercent.size * 2, `more keys admitted at 5% (${fivePercent.size}) than at 1% (${onePercent.size})`);
      for (const key of onePercent) assert.ok(fivePercent.has(key), `${key} admitted at 1% but not at 5%`);
    });

    it("passes the call's arguments to sampleBy", async () => {
      const seen: unknown[][] = [];
      const wrapped = shadow((a: number, b: string) => b.repeat(a), (a: number, b: string) => b.repeat(a), {
        sample: 0.5,
        sampleBy: (...args) => {
          seen.push(args);
          return String(args[0]);
        },
        publish: collector(),
      });
      wrapped(2, "x");
      await wrapped.experiment.settled();
      assert.deepEqual(seen, [[2, "x"]]);
    });
  });

  describe("enabled, disable() and enable()", () => {
    it("runs nothing and publishes nothing with enabled: false", async () => {
      const sink = collector();
      let candidateRuns = 0;
      const wrapped = shadow(
        () => "old",
        () => {
          candidateRuns++;
          return "new";
        },
        { enabled: false, publish: sink },
      );
      assert.equal(wrapped(), "old");
      await wrapped.experiment.settled();
      assert.equal(candidateRuns, 0);
      assert.equal(sink.results.length, 0);
    });

    it("stops the candidates after disable(), says why, and runs them again after enable()", async () => {
      const sink = collector();
      let candidateRuns = 0;
      const wrapped = shadow(
        () => "old",
        () => {
          candidateRuns++;
          return "old";
        },
        { publish: sink },
      );
      const experiment = wrapped.experiment;
      assert.equal(experiment.enabled, true);
      assert.equal(experiment.disabledReason, undefined);

      experiment.disable("rolled back after INC-1234");
      assert.equal(experiment.enabled, false);
      assert.equal(experiment.disabledReason, "rolled back after INC-1234");
      assert.equal(wrapped(), "old", "the control is unaffected");
      await experiment.settled();
      assert.equal(candidateRuns, 0);
      assert.equal(sink.results.length, 0);

      experiment.enable();
      assert.equal(experiment.enabled, true);
      assert.equal(experiment.disabledReason, undefined);
      assert.equal(wrapped(), "old");
      await experiment.settled();
      assert.equal(candidateRuns, 1);
      assert.equal(sink.results.length, 1);
    });

    it("gives a reason even when disable() is called without one", () => {
      const experiment = new Experiment("no-reason").use(() => 1).try(() => 1);
      experiment.disable();
      assert.equal(experiment.enabled, false);
      assert.equal(typeof experiment.disabledReason, "string");
      assert.notEqual(experiment.disabledReason, "");
    });

    it("lets runs admitted before disable() finish and publish", async () => {
      const sink = collector();
      const gate = deferred();
      const wrapped = shadow<[], unknown>(
        () => 1,
        async () => {
          await gate.promise;
          return 1;
        },
        { publish: sink },
      );
      wrapped();
      wrapped.experiment.disable("enough");
      gate.resolve();
      await wrapped.experiment.settled();
      assert.equal(sink.results.length, 1);
    });
  });

  describe("an asynchronous enabled", () => {
    it("never delays a synchronous control: its value comes back synchronously", async () => {
      const sink = collector();
      const answer = deferred<boolean>();
      const wrapped = shadow(() => ({ total: 1 }), () => ({ total: 1 }), {
        enabled: async () => answer.promise,
        publish: sink,
      });
      const value = wrapped();
      assert.deepEqual(value, { total: 1 });
      assert.ok(!(value instanceof Promise));
      answer.resolve(true);
      await wrapped.experiment.settled();
      assert.equal(sink.results.length, 1, "its yes runs and publishes the candidate");
    });

    it("publishes nothing when it answers false", async () => {
      const sink = collector();
      let candidateRuns = 0;
      const wrapped = shadow(
        () => 1,
        () => {
          candidateRuns++;
          return 1;
        },
        { enabled: async () => false, publish: sink },
      );
      assert.equal(wrapped(), 1);
      await wrapped.experiment.settled();
      assert.equal(candidateRuns, 0);
      assert.equal(sink.results.length, 0);
    });

    it("is never asked when sampling refuses the call", async () => {
      let asked = 0;
      const wrapped = shadow(() => 1, () => 1, {
        sample: 0,
        enabled: async () => {
          asked++;
          return true;
        },
        publish: collector(),
      });
      for (let i = 0; i < 20; i++) wrapped();
      await wrapped.experiment.settled();
      assert.equal(asked, 0);
    });

    it("is never asked when runIf refuses the call", async () => {
      let asked = 0;
      const wrapped = shadow(() => 1, () => 1, {
        runIf: () => false,
        enabled: async () => {
          asked++;
          return true;
        },
        publish: collector(),
      });
      wrapped();
      await wrapped.experiment.settled();
      assert.equal(asked, 0);
    });

    it("is not asked for a call that finds every slot taken", async () => {
      let asked = 0;
      const hold = deferred();
      const sink = collector();
      const wrapped = shadow<[], unknown>(
        () => 1,
        async () => {
          await hold.promise;
          return 1;
        },
        {
          maxConcurrent: 1,
          enabled: async () => {
            asked++;
            return true;
          },
          publish: sink,
        },
      );
      wrapped();
      assert.equal(asked, 1, "asked for the admitted call");
      wrapped();
      wrapped();
      assert.equal(asked, 1, "not asked for calls skipped for lack of a slot");
      hold.resolve();
      await wrapped.experiment.settled();
      assert.equal(sink.results.length, 1);
      assert.equal(sink.skips.length, 2);
    });

    it("frees the slot when it answers false", async () => {
      const sink = collector();
      let answer = false;
      const wrapped = shadow(() => 1, () => 1, {
        maxConcurrent: 1,
        enabled: async () => answer,
        publish: sink,
      });
      wrapped();
      await wrapped.experiment.settled();
      answer = true;
      wrapped();
      await wrapped.experiment.settled();
      assert.equal(sink.results.length, 1, "the refused call's slot was released");
      assert.deepEqual(sink.skips, []);
    });
  });

  describe("maxConcurrent", () => {
    it("skips the third concurrent call with two slots, tells the publishers before settled() resolves, and frees the slots when candidates settle", async () => {
      const sink = collector();
      const events: string[] = [];
      const hold = deferred();
      let candidateRuns = 0;
      const publisher = {
        publish: (result: Result<unknown>) => {
          sink.results.push(result);
        },
        skipped: (experiment: string, reason: "overload") => {
          events.push(`skipped ${experiment} ${reason}`);
        },
      };
      const wrapped = shadow<[number], unknown>(
        (n: number) => n * 10,
        async (n: number) => {
          candidateRuns++;
          await hold.promise;
          return n * 10;
        },
        { name: "busy", maxConcurrent: 2, publish: publisher },
      );
      assert.equal(wrapped(1), 10);
      assert.equal(wrapped(2), 20);
      assert.equal(wrapped(3), 30, "the control still answers a skipped call");
      assert.equal(events.length, 0, "the skip notice is off the caller's path");
      await sleep(5);
      assert.equal(candidateRuns, 2, "only the two admitted calls run the candidate");
      assert.equal(wrapped(4), 40);
      hold.resolve();
      await wrapped.experiment.settled();
      events.push("settled");
      assert.deepEqual(events, ["skipped busy overload", "skipped busy overload", "settled"]);
      assert.equal(sink.results.length, 2, "skipped calls publish no result");

      // The slots are free again.
      wrapped(5);
      wrapped(6);
      await wrapped.experiment.settled();
      assert.equal(candidateRuns, 4);
      assert.equal(sink.results.length, 4);
      assert.equal(events.length, 3, "no further skips");
    });

    it("frees a timed-out candidate's slot at the timeout even though its code is still pending", async () => {
      const sink = collector();
      let candidateRuns = 0;
      const wrapped = shadow<[], unknown>(
        () => 1,
        () => {
          candidateRuns++;
          return candidateRuns === 1 ? new Promise<number>(() => undefined) : Promise.resolve(1);
        },
        { maxConcurrent: 1, timeoutMs: 50, publish: sink },
      );
      wrapped();
      await sleep(10);
      wrapped();
      assert.equal(candidateRuns, 1, "the hung candidate holds the only slot");
      await sleep(100);
      wrapped();
      await wrapped.experiment.settled();
      assert.equal(candidateRuns, 2, "the slot was freed at the timeout");
      assert.equal(sink.results.length, 2);
      assert.equal(sink.results[0]?.candidates[0]?.timedOut, true);
      assert.equal(sink.results[1]?.candidates[0]?.timedOut, false);
      assert.equal(sink.skips.length, 1);
    });
  });

  describe("calls that run bare", () => {
    it("runs only the control and publishes nothing when no candidate is registered", async () => {
      const sink = collector();
      const errors: ExperimentError[] = [];
      const value = { total: 3 };
      const experiment = new Experiment<[number], { total: number }>("control-only", {
        publish: sink,
        onError: (e) => errors.push(e),
      }).use(() => value);
      assert.equal(experiment.run(1), value);
      const promise = Promise.resolve(7);
      const asyncExperiment = new Experiment<[], Promise<number>>("control-only-async", { publish: sink }).use(() => promise);
      assert.equal(asyncExperiment.run(), promise);
      await experiment.settled();
      await asyncExperiment.settled();
      assert.equal(sink.results.length, 0);
      assert.deepEqual(errors, []);
    });

    it("runs nothing when runIf says false, and the candidate when it says true", async () => {
      const sink = collector();
      const seen: unknown[][] = [];
      let candidateRuns = 0;
      const wrapped = shadow(
        (n: number) => n,
        (n: number) => {
          candidateRuns++;
          return n;
        },
        {
          runIf: (...args) => {
            seen.push(args);
            return args[0] > 5;
          },
          publish: sink,
        },
      );
      assert.equal(wrapped(1), 1);
      await wrapped.experiment.settled();
      assert.equal(candidateRuns, 0);
      assert.equal(sink.results.length, 0);
      wrapped(10);
      await wrapped.experiment.settled();
      assert.equal(candidateRuns, 1);
      assert.equal(sink.results.length, 1);
      assert.deepEqual(seen, [[1], [10]], "runIf gets the call's arguments");
    });

    it("treats a runIf that returns a truthy non-boolean as no", async () => {
      const sink = collector();
      const wrapped = shadow(() => 1, () => 1, { runIf: (() => "yes") as unknown as () => boolean, publish: sink });
      wrapped();
      await wrapped.experiment.settled();
      assert.equal(sink.results.length, 0);
    });
  });
});
