/**
 * Engine behaviours API.md §1 and §2 fix and the old engine got wrong: a clamped `timeoutMs`, a
 * thenable control answered untouched in sequential mode, callback keys that cannot become strings,
 * promotion rolled back by a switched-off experiment, the three once-per-experiment warnings, a
 * truly fresh guardrail window after `enable()`, and nested experiments' effects.
 */
import { strict as assert } from "node:assert";
import { inspect } from "node:util";
import fc from "fast-check";
import { configure, Experiment, ExperimentError, guard, MismatchError, shadow, type Result, type TripEvent } from "../../src/index";
import { resolveOptions } from "../../src/experiment/index";
import { collector, errorSink, resetConfiguration } from "../support/capture";

/** Collects the PenumbraWarnings emitted while `fn` runs (and one turn after). */
async function warningsDuring(fn: () => unknown): Promise<Array<{ code: string | undefined; message: string }>> {
  const seen: Array<{ code: string | undefined; message: string }> = [];
  const listener = (w: Error & { code?: string }): void => {
    if (w.name === "PenumbraWarning") seen.push({ code: w.code, message: w.message });
  };
  process.on("warning", listener);
  try {
    await fn();
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off("warning", listener);
  }
  return seen;
}

/** A thenable that is not a native promise and counts how it is touched. */
function countingThenable(): { thenable: PromiseLike<number>; reads: () => number; calls: () => number } {
  let reads = 0;
  let calls = 0;
  const then = (): undefined => {
    calls++;
    return undefined;
  };
  const thenable = Object.create(null, {
    then: {
      get: () => {
        reads++;
        return then;
      },
    },
  }) as PromiseLike<number>;
  return { thenable, reads: () => reads, calls: () => calls };
}

describe("engine contract fixes", () => {
  afterEach(() => resetConfiguration());

  describe("timeoutMs", () => {
    it("clamps a timeoutMs over Node's timer limit to 2 147 483 647, and keeps smaller ones", () => {
      fc.assert(
        fc.property(fc.double({ min: 0, max: 1e300, noNaN: true }), (timeoutMs) => {
          const resolved = resolveOptions({ timeoutMs });
          assert.equal(resolved.timeoutMs, Math.min(timeoutMs, 2_147_483_647));
        }),
      );
    });

    it("runs a candidate under a huge timeoutMs without Node's 1 ms overflow timeout", async () => {
      const sink = collector();
      const wrapped = shadow(
        async (n: number) => n,
        async (n: number) => {
          await new Promise((resolve) => setTimeout(resolve, 20));
          return n;
        },
        { name: "huge-timeout", publish: sink, timeoutMs: Number.MAX_SAFE_INTEGER },
      );
      wrapped(1);
      await wrapped.experiment.settled();
      assert.equal(sink.results[0]?.candidates[0]?.timedOut, false);
      assert.equal(sink.results[0]?.matched, true);
    });
  });

  describe("a control that returns a thenable that is not a native promise", () => {
    it("gets exactly that object back in sequential mode, never calls its then, reads then at most once, and reports operation sequential", async () => {
      const sink = errorSink();
      const memory = collector();
      const { thenable, reads, calls } = countingThenable();
      const experiment = new Experiment<[], PromiseLike<number>>("thenable-sequential", { mode: "sequential", publish: memory, onError: sink.onError })
        .use(() => thenable)
        .try(() => thenable);
      assert.equal(experiment.run(), thenable, "the very object");
      await experiment.settled();
      assert.equal(calls(), 0, "then() was never called");
      assert.ok(reads() <= 1, `then was read ${reads()} times`);
      assert.deepEqual(sink.errors.map((e) => e.operation), ["sequential"]);
      assert.equal(memory.results.length, 0, "the run was abandoned: nothing published");
    });

    it("gets exactly that object back in background mode too, with one warning per experiment and nothing published", async () => {
      const memory = collector();
      const { thenable, reads, calls } = countingThenable();
      const wrapped = shadow(() => thenable, () => thenable, { name: "thenable-background", publish: memory });
      const warnings = await warningsDuring(async () => {
        assert.equal(wrapped(), thenable);
        assert.equal(wrapped(), thenable);
        await wrapped.experiment.settled();
      });
      assert.equal(calls(), 0);
      assert.ok(reads() <= 2, `then was read ${reads()} times over two calls`);
      assert.equal(warnings.filter((w) => w.code === "PENUMBRA_UNOBSERVABLE").length, 1);
      assert.equal(memory.results.length, 0);
    });
  });

  describe("keys that cannot become strings", () => {
    const unstringable = (): unknown[] => [
      Object.create(null),
      { toString: () => ({}), valueOf: () => ({}) },
      new Proxy({}, { get: () => { throw new Error("trap"); } }),
      {
        [Symbol.toPrimitive]: () => {
          throw new Error("no primitive");
        },
      },
    ];

    it("makes a sampleBy key that cannot become a string sampleBy's error, never a throw at the caller", () => {
      for (const key of unstringable()) {
        const sink = errorSink();
        const memory = collector();
        const wrapped = shadow((n: number) => n * 2, (n: number) => n * 2, {
          name: "unstringable-sample",
          sample: 0.5,
          sampleBy: () => key as string,
          publish: memory,
          onError: sink.onError,
        });
        assert.equal(wrapped(21), 42);
        assert.deepEqual(sink.errors.map((e) => e.operation), ["sampleBy"]);
      }
    });

    it("makes a promote key that cannot become a string the callback's error, and the control serves", () => {
      for (const key of unstringable()) {
        const sink = errorSink();
        const wrapped = shadow((n: number) => n, (n: number) => n + 1, {
          name: "unstringable-promote",
          promote: 0.5,
          sampleBy: () => key as string,
          publish: collector(),
          onError: sink.onError,
        });
        assert.equal(wrapped(1), 1, "the control serves");
        assert.ok(sink.errors.length >= 1 && sink.errors.every((e) => e instanceof ExperimentError && e.operation === "sampleBy"));
      }
    });

    it("never throws at the caller whatever sampleBy returns or throws (generated)", () => {
      fc.assert(
        fc.property(fc.anything({ withNullPrototype: true, withBoxedValues: true, withMap: true, withSet: true }), fc.boolean(), (value, throws) => {
          const wrapped = shadow((n: number) => n + 1, (n: number) => n + 1, {
            name: "generated-sample",
            sample: 0.5,
            sampleBy: () => {
              if (throws) throw value;
              return value as string;
            },
            publish: () => undefined,
            onError: () => undefined,
          });
          assert.equal(wrapped(1), 2);
        }),
        { numRuns: 200 },
      );
    });
  });

  describe("promote", () => {
    it("sends every call to the control when the experiment is disabled", async () => {
      const memory = collector();
      const wrapped = shadow((n: number) => `old ${n}`, (n: number) => `new ${n}`, { name: "promote-disabled", promote: 1, publish: memory });
      wrapped.experiment.disable("paused");
      assert.equal(wrapped(1), "old 1");
      wrapped.experiment.enable();
      assert.equal(wrapped(2), "new 2");
      await wrapped.experiment.settled();
      assert.deepEqual(memory.results.map((r) => r.servedBy), ["candidate"]);
    });

    it("sends every call to the control once a guardrail tripped", async () => {
      const wrapped = shadow((n: number) => `old ${n}`, (n: number) => `new ${n}`, {
        name: "promote-tripped",
        promote: 1,
        publish: collector(),
        guardrails: { maxMismatchRate: 0, minRuns: 1 },
      });
      assert.equal(wrapped(1), "new 1");
      await wrapped.experiment.settled();
      assert.equal(wrapped.experiment.enabled, false, "the mismatch tripped it");
      assert.equal(wrapped(2), "old 2");
    });

    it("sends the call to the control when a synchronous enabled says no, asking it once", () => {
      let asked = 0;
      const wrapped = shadow((n: number) => `old ${n}`, (n: number) => `new ${n}`, {
        name: "promote-enabled-no",
        promote: 1,
        enabled: () => {
          asked++;
          return false;
        },
        publish: collector(),
      });
      assert.equal(wrapped(1), "old 1");
      assert.equal(asked, 1);
    });

    it("makes a predicate that throws or answers anything but a boolean a promote error, and the control serves", () => {
      for (const answer of [() => { throw new Error("no"); }, () => "yes", () => 1, () => undefined, () => null]) {
        const sink = errorSink();
        const wrapped = shadow((n: number) => `old ${n}`, (n: number) => `new ${n}`, {
          name: "promote-bad-predicate",
          promote: answer as unknown as () => boolean,
          publish: collector(),
          onError: sink.onError,
        });
        assert.equal(wrapped(1), "old 1");
        assert.deepEqual(sink.errors.map((e) => e.operation), ["promote"]);
      }
    });

    it("publishes a promoted call with the old behaviour as result.control (role control) and servedBy the candidate", async () => {
      const memory = collector();
      const wrapped = shadow((n: number) => n, (n: number) => n + 1, { name: "promote-roles", promote: () => true, publish: memory });
      assert.equal(wrapped(1), 2);
      await wrapped.experiment.settled();
      const result = memory.results[0] as Result<unknown>;
      assert.equal(result.servedBy, "candidate");
      assert.equal(result.control.role, "control");
      assert.equal(result.control.name, "control");
      assert.equal(result.control.value, 1);
      assert.equal(result.candidates[0]?.role, "candidate");
      assert.equal(result.candidates[0]?.value, 2);
    });
  });

  describe("warnings, each once per experiment", () => {
    it("warns PENUMBRA_NO_PUBLISHER at the first result with no publisher, naming the fix", async () => {
      const warnings = await warningsDuring(async () => {
        const wrapped = shadow((n: number) => n, (n: number) => n, { name: "no-publisher-anywhere" });
        wrapped(1);
        wrapped(2);
        await wrapped.experiment.settled();
      });
      const mine = warnings.filter((w) => w.code === "PENUMBRA_NO_PUBLISHER");
      assert.equal(mine.length, 1);
      assert.match(mine[0]?.message ?? "", /no-publisher-anywhere/);
      assert.match(mine[0]?.message ?? "", /configure\(\{ publishers/);
    });

    it("does not warn PENUMBRA_NO_PUBLISHER when configure() gives publishers", async () => {
      configure({ publishers: [() => undefined] });
      const warnings = await warningsDuring(async () => {
        const wrapped = shadow((n: number) => n, (n: number) => n, { name: "configured-publisher" });
        wrapped(1);
        await wrapped.experiment.settled();
      });
      assert.deepEqual(warnings.filter((w) => w.code === "PENUMBRA_NO_PUBLISHER"), []);
    });

    it("warns PENUMBRA_DUPLICATE_NAME when a second experiment takes a name in use", async () => {
      const first = new Experiment("twice-named", { publish: collector() });
      const warnings = await warningsDuring(() => {
        new Experiment("twice-named", { publish: collector() });
      });
      const mine = warnings.filter((w) => w.code === "PENUMBRA_DUPLICATE_NAME");
      assert.equal(mine.length, 1);
      assert.match(mine[0]?.message ?? "", /twice-named/);
      assert.ok(first.enabled);
    });

    it("escapes terminal controls and bidi overrides of an experiment's name in its warnings", async () => {
      const name = "evil\u001b[2J\u202ename";
      const first = new Experiment(name, { publish: collector() });
      const warnings = await warningsDuring(() => {
        new Experiment(name, { publish: collector() });
      });
      const mine = warnings.filter((w) => w.code === "PENUMBRA_DUPLICATE_NAME");
      assert.equal(mine.length, 1);
      assert.ok(mine[0]!.message.includes("evil\\u001b[2J\\u202ename"), mine[0]!.message);
      assert.ok(!/[\u001b\u202e]/.test(mine[0]!.message));
      first.disable();
    });

    it("lets a disabled experiment hand its name on: a ramp that retires one stage for the next is not warned about", async () => {
      const first = new Experiment("ramped-name", { publish: collector() });
      first.disable("ramped to the next stage");
      const warnings = await warningsDuring(() => {
        new Experiment("ramped-name", { publish: collector() });
      });
      assert.deepEqual(warnings.filter((w) => w.code === "PENUMBRA_DUPLICATE_NAME"), []);
    });

    it("warns PENUMBRA_SKIPPING once when calls are skipped for capacity, naming maxConcurrent", async () => {
      const release: Array<() => void> = [];
      const memory = collector();
      const wrapped = shadow(
        (n: number) => n,
        (n: number) => new Promise<number>((resolve) => release.push(() => resolve(n))) as unknown as number,
        { name: "skipping-calls", maxConcurrent: 1, publish: memory },
      );
      const warnings = await warningsDuring(async () => {
        for (let i = 0; i < 5; i++) wrapped(i);
        await new Promise((resolve) => setTimeout(resolve, 10));
        for (const r of release) r();
        await wrapped.experiment.settled();
      });
      const mine = warnings.filter((w) => w.code === "PENUMBRA_SKIPPING");
      assert.equal(mine.length, 1);
      assert.match(mine[0]?.message ?? "", /maxConcurrent/);
      assert.equal(memory.skips.length, 4, "the publisher heard of every skip");
    });
  });

  describe("enable() after a trip", () => {
    it("opens a truly fresh window: runs admitted before enable() do not trip it again", async () => {
      const trips: TripEvent[] = [];
      const pending: Array<() => void> = [];
      const wrapped = shadow(
        (n: number) => n,
        (n: number) => new Promise<number>((resolve) => pending.push(() => resolve(n + 1))) as unknown as number,
        { name: "fresh-window", publish: collector(), guardrails: { maxMismatchRate: 0.5, minRuns: 2, onTrip: (e) => trips.push(e) } },
      );
      for (let i = 0; i < 4; i++) wrapped(i);
      await new Promise((resolve) => setTimeout(resolve, 10));
      assert.equal(pending.length, 4, "four runs admitted");
      pending[0]?.();
      pending[1]?.();
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(trips.length, 1, "two mismatches trip it");
      assert.equal(wrapped.experiment.enabled, false);
      wrapped.experiment.enable();
      pending[2]?.();
      pending[3]?.();
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(trips.length, 1, "the runs admitted before enable() are not judged in the new window");
      assert.equal(wrapped.experiment.enabled, true);
      wrapped(10);
      wrapped(11);
      await new Promise((resolve) => setTimeout(resolve, 10));
      pending[4]?.();
      pending[5]?.();
      await wrapped.experiment.settled();
      assert.equal(trips.length, 2, "new runs are judged in the fresh window");
    });
  });

  describe("CPU time", () => {
    it("is measured for a sequential experiment's first 16 runs, then for one run in 64, and never in background mode", async () => {
      const memory = collector();
      const sequential = new Experiment<[number], number>("cpu-sampled", { mode: "sequential", publish: memory })
        .use((n) => n)
        .try((n) => n);
      for (let i = 0; i < 65; i++) sequential.run(i);
      const measured = memory.results.map((r, i) => [i, typeof r.control.cpuMs === "number", typeof r.candidates[0]?.cpuMs === "number"]);
      const expected = memory.results.map((_, i) => {
        const sampled = i < 16 || i % 64 === 0;
        return [i, sampled, sampled];
      });
      assert.deepEqual(measured, expected);
      const background = collector();
      const wrapped = shadow((n: number) => n, (n: number) => n, { name: "cpu-background", publish: background });
      wrapped(1);
      await wrapped.experiment.settled();
      assert.equal(background.results[0]?.control.cpuMs, undefined);
      assert.equal(background.results[0]?.candidates[0]?.cpuMs, undefined);
    });
  });

  describe("throwOnMismatch with values that cannot be described", () => {
    it("still throws a MismatchError carrying the published result when the values' own inspect throws", async () => {
      class Total {
        constructor(readonly total: number) {}
        [inspect.custom](): string {
          throw new Error("no inspect");
        }
      }
      const memory = collector();
      const experiment = new Experiment<[], Total>("undescribable-mismatch", { mode: "sequential", throwOnMismatch: true, publish: memory })
        .use(() => new Total(1))
        .try(() => new Total(2));
      let thrown: unknown;
      const warnings = await warningsDuring(() => {
        try {
          experiment.run();
        } catch (error) {
          thrown = error;
        }
      });
      assert.ok(thrown instanceof MismatchError, `got ${String(thrown)}`);
      assert.equal(thrown.result, memory.results[0], "the very result that was published");
      assert.match(thrown.message, /undescribable-mismatch/);
      // The description never calls the value's own inspect.custom, so it needs no fallback.
      assert.match(thrown.message, /total=1 vs 2/);
      assert.ok(!warnings.some((w) => w.code === "PENUMBRA_INTERNAL"), "describing the values did not fail");
    });
  });

  describe("a nested experiment inside the control", () => {
    it("puts the inner run's control effects on the outer control too, so the outer comparison sees no false effects mismatch", async () => {
      const sent: string[] = [];
      const mailer = guard("mailer", { send: (to: string) => void sent.push(to) }, { effects: ["send"] });
      const outerMemory = collector();
      const innerMemory = collector();
      const notify = shadow(
        (to: string) => mailer.send(to),
        (to: string) => mailer.send(to),
        { name: "inner-notify", publish: innerMemory },
      );
      const checkout = shadow(
        (to: string) => {
          notify(to);
          return "ok";
        },
        (to: string) => {
          notify(to);
          return "ok";
        },
        { name: "outer-checkout", publish: outerMemory },
      );
      assert.equal(checkout("ada@example.com"), "ok");
      await checkout.experiment.settled();
      await notify.experiment.settled();
      assert.deepEqual(sent, ["ada@example.com"], "only the outer control's inner control really sent");
      const outer = outerMemory.results[0] as Result<unknown>;
      assert.deepEqual(outer.control.effects.map((e) => [e.name, e.args, e.blocked]), [["mailer.send", ["ada@example.com"], false]]);
      assert.equal(outer.mismatched, false, outer.mismatches[0]?.summary);
      assert.equal(innerMemory.results[0]?.matched, true);
    });
  });
});
