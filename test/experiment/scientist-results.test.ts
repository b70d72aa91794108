/**
 * github/scientist's test suite, ported as black-box behaviours of penumbra's public API: ordering,
 * timing, observations, results and context. Item numbers (S12 … S71) refer to
 * research/scientist.md §2; the items that do not apply are listed in scientist.test.ts.
 */
import { strict as assert } from "node:assert";
import * as sinon from "sinon";
import { Experiment, type Result } from "../../src/index";
import { collector, errorSink, sleep } from "../support/capture";

/** Blocks the thread for `ms` milliseconds without using CPU. */
function blockWithoutCpu(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Burns at least `ms` milliseconds of this process's CPU time. */
function burnCpu(ms: number): void {
  const start = process.cpuUsage();
  for (;;) {
    const used = process.cpuUsage(start);
    if ((used.user + used.system) / 1000 >= ms) return;
  }
}

describe("Scientist parity: ordering (sequential mode)", () => {
  function recorder(name: string, mode: "sync" | "async" = "sync") {
    const order: string[] = [];
    const experiment = new Experiment<unknown[], unknown>(name, { mode: "sequential", publish: collector() });
    const behaviour = (label: string) =>
      mode === "sync"
        ? () => {
            order.push(label);
            return 1;
          }
        : async () => {
            order.push(label);
            return 1;
          };
    experiment.use(behaviour("control")).try("a", behaviour("a")).try("b", behaviour("b"));
    return { order, experiment };
  }

  it("runs the behaviours in random order: over many runs, the last behaviour executed varies", () => {
    // S12: the first call learns that the control is synchronous (and runs it first); later calls shuffle.
    const { order, experiment } = recorder("shuffled");
    experiment.run();
    const lasts = new Set<string>();
    for (let i = 0; i < 80; i++) {
      order.length = 0;
      experiment.run();
      assert.equal(order.length, 3, "every behaviour runs exactly once");
      lasts.add(order[order.length - 1] as string);
    }
    assert.deepEqual([...lasts].sort(), ["a", "b", "control"]);
  });

  it("runs the control first on an experiment's first call when its control is not declared async", () => {
    // S12: the learning call (whether the control returns a promise)
    for (let i = 0; i < 25; i++) {
      const { order, experiment } = recorder(`first-call-${i}`);
      experiment.run();
      assert.equal(order[0], "control");
      assert.deepEqual([...order].sort(), ["a", "b", "control"]);
    }
  });

  it("always runs the control first when the arguments cannot be fully isolated", () => {
    // S12: a function argument is shared by reference, so the candidates must not touch it before the control
    const { order, experiment } = recorder("shared-args");
    const handle = (): void => undefined;
    experiment.run(handle);
    for (let i = 0; i < 40; i++) {
      order.length = 0;
      experiment.run(handle);
      assert.equal(order[0], "control");
    }
  });

  it("shuffles an async control's behaviours from the first call on, awaiting each in turn", async () => {
    // S12 with a declared-async control: no learning call is needed
    const firsts = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const { order, experiment } = recorder(`async-order-${i}`, "async");
      assert.equal(await experiment.run(), 1);
      assert.equal(order.length, 3);
      firsts.add(order[0] as string);
    }
    assert.ok(firsts.has("control") && firsts.size > 1, `first behaviours seen: ${[...firsts].join(", ")}`);
  });

  it("runs one behaviour at a time: an async behaviour finishes before the next starts", async () => {
    // §1.2 step 5: sequential, no concurrency
    const events: string[] = [];
    const behaviour = (label: string) => async () => {
      events.push(`${label}:start`);
      await sleep(2);
      events.push(`${label}:end`);
      return 1;
    };
    const experiment = new Experiment<[], Promise<number>>("one-at-a-time", { mode: "sequential", publish: collector() })
      .use(behaviour("control"))
      .try("a", behaviour("a"))
      .try("b", behaviour("b"));
    await experiment.run();
    assert.equal(events.length, 6);
    for (let i = 0; i < 6; i += 2) {
      const label = (events[i] as string).split(":")[0];
      assert.deepEqual([events[i], events[i + 1]], [`${label}:start`, `${label}:end`]);
    }
  });
});

describe("Scientist parity: timing", () => {
  it("records the wall time of a behaviour that waits without using CPU, and CPU time well below it", () => {
    // S59 (duration ≈ elapsed, cpu_time ≈ CPU used), sequential mode with synchronous behaviours
    const sink = collector();
    const experiment = new Experiment<[], number>("wall-time", { mode: "sequential", publish: sink })
      .use(() => {
        blockWithoutCpu(40);
        return 1;
      })
      .try(() => 1);
    assert.equal(experiment.run(), 1);
    const control = sink.results[0]?.control;
    assert.ok(control);
    assert.ok(control.durationMs >= 35, `durationMs ${control.durationMs}`);
    assert.ok(control.durationMs < 2000, `durationMs ${control.durationMs}`);
    assert.equal(typeof control.cpuMs, "number");
    assert.ok((control.cpuMs as number) < control.durationMs / 2, `cpuMs ${String(control.cpuMs)} vs durationMs ${control.durationMs}`);
  });

  it("records the CPU time a synchronous behaviour uses", () => {
    // S59 (cpu_time)
    const sink = collector();
    const experiment = new Experiment<[], number>("cpu-time", { mode: "sequential", publish: sink })
      .use(() => 1)
      .try(() => {
        burnCpu(25);
        return 1;
      });
    experiment.run();
    const candidate = sink.results[0]?.candidates[0];
    assert.ok(candidate);
    assert.ok((candidate.cpuMs ?? 0) >= 24, `cpuMs ${String(candidate.cpuMs)}`);
    assert.ok(candidate.durationMs >= 0);
  });

  it("records the wall time of an async behaviour, and its value", async () => {
    // S59 (value, raised? false, duration)
    const sink = collector();
    const experiment = new Experiment<[], Promise<string>>("async-time", { publish: sink })
      .use(async () => "ok")
      .try(async () => {
        await sleep(30);
        return "ok";
      });
    assert.equal(await experiment.run(), "ok");
    await experiment.settled();
    const candidate = sink.results[0]?.candidates[0];
    assert.ok(candidate);
    assert.equal(candidate.value, "ok");
    assert.equal(candidate.threw, false);
    assert.ok(candidate.durationMs >= 25, `durationMs ${candidate.durationMs}`);
    assert.ok(candidate.durationMs < 2000, `durationMs ${candidate.durationMs}`);
  });

  it("measures durations on a monotonic clock, unaffected by the wall clock going backwards", async () => {
    // from "the tests miss": durations use CLOCK_MONOTONIC
    const sink = collector();
    const experiment = new Experiment<[], number>("monotonic", { mode: "sequential", publish: sink })
      .use(() => {
        blockWithoutCpu(5);
        return 1;
      })
      .try(() => {
        blockWithoutCpu(5);
        return 1;
      });
    let wall = 2_000_000_000_000;
    const stub = sinon.stub(Date, "now").callsFake(() => (wall -= 3_600_000));
    try {
      experiment.run();
    } finally {
      stub.restore();
    }
    const result = sink.results[0];
    assert.ok(result);
    for (const observation of [result.control, ...result.candidates]) {
      assert.ok(observation.durationMs >= 4 && observation.durationMs < 2000, `${observation.name}: ${observation.durationMs}`);
    }
  });
});

describe("Scientist parity: observations and results", () => {
  it("records a throwing candidate as threw, keeping the error and no value", async () => {
    // S63
    const sink = collector();
    const boom = new Error("candidate");
    const experiment = new Experiment<[], number>("observation-threw", { publish: sink, clean: (v) => v * 10 })
      .use(() => 1)
      .try((): number => {
        throw boom;
      });
    experiment.run();
    await experiment.settled();
    const candidate = sink.results[0]?.candidates[0];
    assert.ok(candidate);
    assert.equal(candidate.name, "candidate");
    assert.equal(candidate.role, "candidate");
    assert.equal(candidate.threw, true);
    assert.equal(candidate.error, boom);
    assert.equal(candidate.value, undefined);
    assert.equal(candidate.cleanedValue, undefined);
    assert.equal(candidate.timedOut, false);
  });

  for (const thrown of ["a string", undefined, null, 0, { code: 42 }]) {
    it(`captures a candidate that throws a non-Error (${JSON.stringify(thrown) ?? "undefined"}) like any other error`, async () => {
      // S64 (first half: every thrown value is captured)
      const sink = collector();
      const experiment = new Experiment<[], number>("non-error", { publish: sink })
        .use(() => 1)
        .try((): number => {
          throw thrown;
        });
      assert.equal(experiment.run(), 1);
      await experiment.settled();
      const candidate = sink.results[0]?.candidates[0];
      assert.equal(candidate?.threw, true);
      assert.equal(candidate?.error, thrown);
      assert.equal(sink.results[0]?.mismatches[0]?.kind, "error");
    });
  }

  it("rethrows a control's non-Error throw unchanged", async () => {
    // S64 / S10 for non-Errors
    const thrown = { reason: "not an Error" };
    const experiment = new Experiment<[], number>("control-non-error", { mode: "sequential", publish: collector() })
      .use((): number => {
        throw thrown;
      })
      .try(() => 1);
    assert.throws(() => experiment.run(), (e: unknown) => e === thrown);
  });

  it("publishes a frozen result whose observations, outcomes and mismatches are frozen too", async () => {
    // S65
    const sink = collector();
    const experiment = new Experiment<[], { n: number }>("frozen", { publish: sink })
      .use(() => ({ n: 1 }))
      .try(() => ({ n: 2 }));
    experiment.run();
    await experiment.settled();
    const result = sink.results[0];
    assert.ok(result);
    assert.ok(Object.isFrozen(result));
    assert.ok(Object.isFrozen(result.control));
    assert.ok(Object.isFrozen(result.candidates));
    assert.ok(Object.isFrozen(result.candidates[0]));
    assert.ok(Object.isFrozen(result.outcomes));
    assert.ok(Object.isFrozen(result.mismatches));
    assert.ok(Object.isFrozen(result.mismatches[0]));
    assert.throws(() => {
      (result as { matched: boolean }).matched = true;
    }, TypeError);
    assert.equal(result.matched, false);
    assert.equal(Object.isFrozen(result.control.value), false, "the user's values are not frozen");
  });

  it("publishes a matched result with no mismatches when every candidate agrees", async () => {
    // S66 (first half)
    const sink = collector();
    const experiment = new Experiment<[], number[]>("all-agree", { publish: sink })
      .use(() => [1, 2])
      .try("y", () => [1, 2])
      .try("z", () => [1, 2]);
    experiment.run();
    await experiment.settled();
    const result = sink.results[0];
    assert.equal(result?.matched, true);
    assert.equal(result?.mismatched, false);
    assert.equal(result?.ignored, false);
    assert.deepEqual(result?.mismatches, []);
    assert.deepEqual(result?.outcomes, { y: "matched", z: "matched" });
  });

  it("lists one mismatch per differing candidate in registration order, whatever order they ran in", () => {
    // S66 (second half) and "observations in execution order" (penumbra: registration order)
    const sink = collector();
    const experiment = new Experiment<[], string>("two-differ", { mode: "sequential", publish: sink })
      .use(() => "x")
      .try("y", () => "y")
      .try("same", () => "x")
      .try("z", () => "z");
    for (let i = 0; i < 12; i++) experiment.run();
    for (const result of sink.results) {
      assert.equal(result.mismatched, true);
      assert.equal(result.matched, false);
      assert.deepEqual(
        result.mismatches.map((m) => m.candidate),
        ["y", "z"],
      );
      assert.deepEqual(
        result.candidates.map((c) => c.name),
        ["y", "same", "z"],
      );
      assert.deepEqual(result.outcomes, { y: "mismatched", same: "matched", z: "mismatched" });
      assert.equal(result.control.name, "control");
      assert.equal(result.control.role, "control");
    }
  });

  it("exposes the experiment's name on the result", async () => {
    // S68 (name)
    const sink = collector();
    const experiment = new Experiment<[], number>("named-result", { publish: sink }).use(() => 1).try(() => 1);
    experiment.run();
    await experiment.settled();
    assert.equal(sink.results[0]?.experiment, "named-result");
  });

  it("exposes the context given as an object", async () => {
    // S68 (context)
    const sink = collector();
    const experiment = new Experiment<[], number>("object-context", { publish: sink, context: { user: "ada", region: "eu" } })
      .use(() => 1)
      .try(() => 1);
    experiment.run();
    await experiment.settled();
    assert.deepEqual(sink.results[0]?.context, { user: "ada", region: "eu" });
  });

  it("computes the context from the call's arguments when given as a function", async () => {
    // S68 / S69 (penumbra's inline context)
    const sink = collector();
    const experiment = new Experiment<[{ id: number }], number>("function-context", {
      publish: sink,
      context: (order) => ({ orderId: order.id }),
    })
      .use((o) => o.id)
      .try((o) => o.id);
    experiment.run({ id: 7 });
    experiment.run({ id: 8 });
    await experiment.settled();
    assert.deepEqual(
      sink.results.map((r) => r.context),
      [{ orderId: 7 }, { orderId: 8 }],
    );
  });

  it("has an empty context by default", async () => {
    // S69 (default context is {})
    const sink = collector();
    const experiment = new Experiment<[], number>("default-context", { publish: sink }).use(() => 1).try(() => 1);
    experiment.run();
    await experiment.settled();
    assert.deepEqual(sink.results[0]?.context, {});
  });

  it("reports a throwing context function as operation 'context', runs no candidate and answers with the control", async () => {
    // context failures (penumbra analogue of a failing callback)
    const sink = collector();
    const errors = errorSink();
    const cause = new Error("no context");
    let candidateRan = false;
    const experiment = new Experiment<[], number>("context-throws", {
      publish: sink,
      onError: errors.onError,
      context: () => {
        throw cause;
      },
    })
      .use(() => 3)
      .try(() => {
        candidateRan = true;
        return 3;
      });
    assert.equal(experiment.run(), 3);
    await experiment.settled();
    assert.equal(candidateRan, false);
    assert.equal(sink.results.length, 0);
    assert.deepEqual(
      errors.errors.map((e) => [e.operation, e.cause]),
      [["context", cause]],
    );
  });

  it("says isolated: true for observations of data-only arguments and values", async () => {
    // penumbra's observation fields beyond Scientist's
    const sink = collector();
    const experiment = new Experiment<[{ a: number[] }], { b: number }>("isolated", { publish: sink })
      .use((x) => ({ b: x.a.length }))
      .try((x) => ({ b: x.a.length }));
    experiment.run({ a: [1, 2] });
    await experiment.settled();
    const result = sink.results[0] as Result<unknown>;
    assert.equal(result.control.isolated, true);
    assert.equal(result.candidates[0]?.isolated, true);
    assert.equal(result.candidates[0]?.timedOut, false);
  });
});
