/**
 * github/scientist's test suite, ported as black-box behaviours of penumbra's public API.
 * Item numbers (S1 … S71) refer to research/scientist.md §2. This file: construction, return values,
 * gating and beforeRun. Ordering, timing, observations, results and context are in
 * scientist-results.test.ts; comparison, cleaning and ignore rules in scientist-comparison.test.ts;
 * publishing, test mode (throwOnMismatch), error reporting and strict mode in
 * scientist-publishing.test.ts. The items that do not apply are all listed here.
 *
 * Items that do not apply to penumbra:
 * - S1 (the null `Scientist::Default` experiment): penumbra has no factory and no null experiment;
 *   `new Experiment(name)` is always a real experiment. Only "it carries the name passed in" is ported.
 * - S2 (registering a custom experiment class through module include): Ruby mixin mechanics; there
 *   is no experiment-class registry in penumbra.
 * - S29 (the Default experiment is disabled, publishes nothing, is an Experiment, re-raises in
 *   `raised`): no Default experiment. Its `raised` half has an analogue, penumbra's default error
 *   handler, which warns and never throws (scientist-publishing.test.ts).
 * - S15 (a throwing publisher reaches the caller by default): reversed on purpose; publisher errors
 *   never reach the caller in penumbra (tested as such in scientist-publishing.test.ts).
 * - S31 (the `cleaner` accessor): `clean` is an option, with no accessor (scientist-comparison.test.ts).
 * - S49 (MismatchError outside StandardError): Ruby hierarchy; the TS analogue, a distinct class, is
 *   tested in scientist-publishing.test.ts.
 * - S52 (`raise_with` a custom mismatch error class): no penumbra analogue; MismatchError is always thrown.
 * - S56 (Marshal of MismatchError and experiments holding procs): Ruby serialisation only.
 * - S58 (`after_run`): penumbra has no after-run hook; a publisher is the place to see the result.
 * - S60, S61, S62 (`fabricate_durations_for_testing_purposes`): penumbra has no fabricated timings.
 * - S64 second half (the `RESCUES` list, an uncaptured exception type escaping an observation): Ruby
 *   only; JavaScript has no exception hierarchy to narrow. Its first half (anything thrown is
 *   captured) is ported in scientist-results.test.ts with non-Error throws.
 * - S67 (a Result with only a control is matched): penumbra builds no result when only a control is
 *   registered; nothing is published (S14, scientist-publishing.test.ts).
 * - S69 second half (a helper that merges a default context with an inline one): penumbra has no
 *   `science` helper nor a process-wide default context; `options.context` (an object or a function
 *   of the call's arguments) is the whole mechanism, ported in scientist-results.test.ts.
 * - S70 (`run("name")` / `science(..., run: "name")` returns a named candidate): penumbra has no way
 *   to pick the answering behaviour per call (`promote` is a canary, not this).
 * - "Registering behaviours after the first run fails" (from the list of behaviours the Scientist
 *   tests miss): the contract does not say so and the engine allows it; see the final report.
 * - "The result's observations list is in execution order": penumbra has no `observations` list; the
 *   result keeps `control` apart and `candidates` in registration order (scientist-results.test.ts).
 */
import { strict as assert } from "node:assert";
import { Experiment, configure, shadow } from "../../src/index";
import { collector, errorSink, resetConfiguration, sleep } from "../support/capture";

describe("Scientist parity: construction and registration", () => {
  afterEach(resetConfiguration);

  it("keeps the name it was built with", () => {
    // S1 (the name part; the null Default experiment does not apply)
    assert.equal(new Experiment("widget-permissions").name, "widget-permissions");
  });

  it("names a shadow of an anonymous control 'experiment'", () => {
    // S3
    const anonymous = [(n: number) => n][0] as (n: number) => number;
    assert.equal(shadow(anonymous, (n: number) => n).experiment.name, "experiment");
  });

  it("runs its candidates and publishes to the configured publishers when no hook is given", async () => {
    // S4: in Scientist `enabled?` and `publish` must be implemented; in penumbra enabled defaults to
    // true and publishing defaults to the configured publishers.
    const sink = collector();
    configure({ publishers: [sink] });
    let candidateRan = false;
    const experiment = new Experiment<[], number>("defaults")
      .use(() => 1)
      .try(() => {
        candidateRan = true;
        return 1;
      });
    assert.equal(experiment.enabled, true);
    assert.equal(experiment.run(), 1);
    await experiment.settled();
    assert.equal(candidateRan, true);
    assert.equal(sink.results.length, 1);
    assert.equal(sink.results[0]?.experiment, "defaults");
  });

  it("throws a TypeError naming the experiment and the candidate on a second candidate with the same name", () => {
    // S5
    const experiment = new Experiment<[], number>("dupes").use(() => 1).try("fast", () => 1);
    assert.throws(
      () => experiment.try("fast", () => 2),
      (e: unknown) => e instanceof TypeError && e.message.includes("dupes") && e.message.includes("'fast'"),
    );
  });

  it("throws a TypeError on a second unnamed candidate, both being named 'candidate'", () => {
    // S5
    const experiment = new Experiment<[], number>("unnamed").use(() => 1).try(() => 1);
    assert.throws(
      () => experiment.try(() => 2),
      (e: unknown) => e instanceof TypeError && e.message.includes("unnamed") && e.message.includes("'candidate'"),
    );
  });

  it("throws a TypeError on a second use(), naming the experiment", () => {
    // S5 (Scientist: a second `use` is a duplicate "control" behaviour)
    const experiment = new Experiment<[], number>("two-controls").use(() => 1);
    assert.throws(
      () => experiment.use(() => 2),
      (e: unknown) => e instanceof TypeError && e.message.includes("two-controls") && /use\(\)/.test(e.message),
    );
  });

  it("refuses a candidate named 'control', the name the control already has", () => {
    // S5 (Scientist: `try("control")` after `use` is not unique)
    const experiment = new Experiment<[], number>("named-control").use(() => 1);
    assert.throws(() => experiment.try("control", () => 1), (e: unknown) => e instanceof TypeError && e.message.includes("'control'"));
  });

  it("keeps the experiment usable after a rejected registration", async () => {
    // S5: the failed try() registers nothing
    const sink = collector();
    const experiment = new Experiment<[], number>("after-dupe", { publish: sink }).use(() => 1).try("fast", () => 1);
    assert.throws(() => experiment.try("fast", () => 2));
    assert.equal(experiment.run(), 1);
    await experiment.settled();
    assert.deepEqual(sink.results[0]?.outcomes, { fast: "matched" });
  });

  it("throws a TypeError mentioning the control and use() when run without a control", () => {
    // S6
    const experiment = new Experiment<[], number>("headless").try(() => 1);
    assert.throws(
      () => experiment.run(),
      (e: unknown) => e instanceof TypeError && e.message.includes("headless") && /control/.test(e.message) && /use\(\)/.test(e.message),
    );
  });

  it("runs nothing when run without a control: the candidate is not called", () => {
    // S6
    let candidateRan = false;
    const experiment = new Experiment<[], number>("headless-2").try(() => {
      candidateRan = true;
      return 1;
    });
    assert.throws(() => experiment.run(), TypeError);
    assert.equal(candidateRan, false);
  });
});

describe("Scientist parity: return values and exceptions", () => {
  afterEach(resetConfiguration);

  for (const mode of ["background", "sequential"] as const) {
    describe(`in ${mode} mode`, () => {
      it("returns the control's value when only a control is registered", () => {
        // S7
        const experiment = new Experiment<[number], number>("solo", { mode, publish: collector() }).use((n) => n + 1);
        assert.equal(experiment.run(41), 42);
      });

      it("returns the control's value, not the candidate's", async () => {
        // S8
        const sink = collector();
        const experiment = new Experiment<[], string>("control-wins", { mode, publish: sink })
          .use(() => "control")
          .try(() => "candidate");
        assert.equal(experiment.run(), "control");
        await experiment.settled();
        assert.equal(sink.results[0]?.candidates[0]?.value, "candidate");
      });

      it("swallows a candidate's error, returns the control's value and reports nothing", async () => {
        // S9 (and: a candidate's error never reaches `raised` / onError)
        const sink = collector();
        const errors = errorSink();
        const boom = new Error("candidate boom");
        const experiment = new Experiment<[], string>("candidate-throws", { mode, publish: sink, onError: errors.onError })
          .use(() => "control")
          .try((): string => {
            throw boom;
          });
        assert.equal(experiment.run(), "control");
        await experiment.settled();
        assert.equal(sink.results[0]?.candidates[0]?.error, boom);
        assert.deepEqual(errors.errors, []);
      });

      it("throws the control's own error object after the candidates ran and the result was published", async () => {
        // S10
        const sink = collector();
        const boom = new RangeError("control boom");
        let candidateRan = false;
        const experiment = new Experiment<[], number>("control-throws", { mode, publish: sink })
          .use((): number => {
            throw boom;
          })
          .try(() => {
            candidateRan = true;
            return 1;
          });
        assert.throws(() => experiment.run(), (e: unknown) => e === boom);
        await experiment.settled();
        assert.equal(candidateRan, true);
        assert.equal(sink.results.length, 1);
        assert.equal(sink.results[0]?.control.threw, true);
        assert.equal(sink.results[0]?.control.error, boom);
      });

      it("still throws the control's error when compareErrors says the errors match, and publishes a matched result", async () => {
        // S11
        const sink = collector();
        const controlError = new Error("control");
        const experiment = new Experiment<[], number>("compare-errors", {
          mode,
          publish: sink,
          compareErrors: (a, b) => a instanceof Error && b instanceof Error,
        })
          .use((): number => {
            throw controlError;
          })
          .try((): number => {
            throw new TypeError("candidate");
          });
        assert.throws(() => experiment.run(), (e: unknown) => e === controlError);
        await experiment.settled();
        assert.equal(sink.results[0]?.matched, true);
        assert.deepEqual(sink.results[0]?.outcomes, { candidate: "matched" });
      });
    });
  }

  it("rejects with the control's own error object when an async control rejects", async () => {
    // S10 for promises
    const boom = new Error("async control boom");
    const experiment = new Experiment<[], Promise<number>>("async-control-throws", { publish: collector() })
      .use(async () => {
        throw boom;
      })
      .try(async () => 1);
    await assert.rejects(experiment.run(), (e: unknown) => e === boom);
    await experiment.settled();
  });

  it("runs the control with no options at all, shadow() or Experiment", async () => {
    // S71
    const wrapped = shadow((n: number) => n * 2, (n: number) => n + n);
    assert.equal(wrapped(21), 42);
    const experiment = new Experiment<[number], number>("no-options").use((n) => n * 3).try((n) => n * 3);
    assert.equal(experiment.run(2), 6);
    await Promise.all([wrapped.experiment.settled(), experiment.settled()]);
  });
});

describe("Scientist parity: gating", () => {
  afterEach(resetConfiguration);

  it("reports a throwing enabled as operation 'enabled', runs no candidate and returns the control's value", async () => {
    // S25
    const errors = errorSink();
    const sink = collector();
    const cause = new Error("flag service down");
    let candidateRan = false;
    const experiment = new Experiment<[], number>("enabled-throws", {
      publish: sink,
      onError: errors.onError,
      enabled: () => {
        throw cause;
      },
    })
      .use(() => 1)
      .try(() => {
        candidateRan = true;
        return 2;
      });
    assert.equal(experiment.run(), 1);
    await experiment.settled();
    assert.equal(candidateRan, false);
    assert.equal(sink.results.length, 0);
    assert.equal(errors.errors.length, 1);
    assert.equal(errors.errors[0]?.operation, "enabled");
    assert.equal(errors.errors[0]?.cause, cause);
  });

  it("reports a throwing runIf as operation 'runIf', runs no candidate and returns the control's value", async () => {
    // S26
    const errors = errorSink();
    const sink = collector();
    const cause = new Error("runIf boom");
    let candidateRan = false;
    const experiment = new Experiment<[], number>("runif-throws", {
      publish: sink,
      onError: errors.onError,
      runIf: () => {
        throw cause;
      },
    })
      .use(() => 1)
      .try(() => {
        candidateRan = true;
        return 2;
      });
    assert.equal(experiment.run(), 1);
    await experiment.settled();
    assert.equal(candidateRan, false);
    assert.equal(sink.results.length, 0);
    assert.deepEqual(
      errors.errors.map((e) => [e.operation, e.cause]),
      [["runIf", cause]],
    );
  });

  for (const mode of ["background", "sequential"] as const) {
    it(`calls runIf and, when it says no, runs no candidate and publishes nothing (${mode})`, async () => {
      // S27
      const sink = collector();
      let runIfCalls = 0;
      let candidateRan = false;
      const experiment = new Experiment<[], number>("runif-false", {
        mode,
        publish: sink,
        runIf: () => {
          runIfCalls++;
          return false;
        },
      })
        .use(() => 1)
        .try(() => {
          candidateRan = true;
          return 1;
        });
      assert.equal(experiment.run(), 1);
      await experiment.settled();
      assert.equal(runIfCalls, 1);
      assert.equal(candidateRan, false);
      assert.equal(sink.results.length, 0);
    });

    it(`runs the candidate when runIf says yes (${mode})`, async () => {
      // S28
      const sink = collector();
      let candidateRan = false;
      const experiment = new Experiment<[], number>("runif-true", { mode, publish: sink, runIf: () => true })
        .use(() => 1)
        .try(() => {
          candidateRan = true;
          return 1;
        });
      assert.equal(experiment.run(), 1);
      await experiment.settled();
      assert.equal(candidateRan, true);
      assert.equal(sink.results.length, 1);
    });
  }

  it("calls enabled and runIf with the call's arguments", async () => {
    // penumbra's analogue of Scientist's argument-less `enabled?` / `run_if`
    const seen: unknown[][] = [];
    const experiment = new Experiment<[string, number], string>("gate-args", {
      publish: collector(),
      enabled: (...args) => {
        seen.push(["enabled", ...args]);
        return true;
      },
      runIf: (...args) => {
        seen.push(["runIf", ...args]);
        return true;
      },
    })
      .use((s, n) => s.repeat(n))
      .try((s, n) => s.repeat(n));
    assert.equal(experiment.run("ab", 2), "abab");
    await experiment.settled();
    assert.deepEqual(seen, [
      ["enabled", "ab", 2],
      ["runIf", "ab", 2],
    ]);
  });

  it("does not call enabled when only a control is registered", () => {
    // from "the tests miss": behaviors.size > 1 is checked first
    let enabledCalls = 0;
    const experiment = new Experiment<[], number>("solo-gate", {
      enabled: () => {
        enabledCalls++;
        return true;
      },
    }).use(() => 1);
    assert.equal(experiment.run(), 1);
    assert.equal(enabledCalls, 0);
  });

  it("does not call runIf when enabled says no", async () => {
    // from "the tests miss": run_if only after enabled? is true
    let runIfCalls = 0;
    const runIf = (): boolean => {
      runIfCalls++;
      return true;
    };
    const sink = collector();
    const byFunction = new Experiment<[], number>("enabled-fn-false", { publish: sink, enabled: () => false, runIf })
      .use(() => 1)
      .try(() => 1);
    const byBoolean = new Experiment<[], number>("enabled-false", { publish: sink, enabled: false, runIf })
      .use(() => 1)
      .try(() => 1);
    assert.equal(byFunction.run(), 1);
    assert.equal(byBoolean.run(), 1);
    await Promise.all([byFunction.settled(), byBoolean.settled()]);
    assert.equal(runIfCalls, 0);
    assert.equal(sink.results.length, 0);
  });

  it("runs the control bare when disabled: no candidate, nothing published, the control's error unchanged", async () => {
    // §1.2 step 3: a skipped experiment runs the behaviour bare and its exception propagates as is
    const sink = collector();
    const boom = new Error("bare");
    let candidateRan = false;
    const experiment = new Experiment<[], number>("disabled", { mode: "sequential", publish: sink, enabled: false })
      .use((): number => {
        throw boom;
      })
      .try(() => {
        candidateRan = true;
        return 1;
      });
    assert.throws(() => experiment.run(), (e: unknown) => e === boom);
    await experiment.settled();
    assert.equal(candidateRan, false);
    assert.equal(sink.results.length, 0);
  });
});

describe("Scientist parity: beforeRun", () => {
  afterEach(resetConfiguration);

  it("runs beforeRun before every behaviour in sequential mode", () => {
    // S57 (enabled part)
    const order: string[] = [];
    const experiment = new Experiment<[], number>("before-seq", { mode: "sequential", publish: collector(), beforeRun: () => void order.push("beforeRun") })
      .use(() => {
        order.push("control");
        return 1;
      })
      .try(() => {
        order.push("candidate");
        return 1;
      });
    for (let i = 0; i < 10; i++) {
      order.length = 0;
      assert.equal(experiment.run(), 1);
      assert.equal(order[0], "beforeRun");
      assert.deepEqual(order.slice(1).sort(), ["candidate", "control"]);
    }
  });

  it("runs beforeRun before every behaviour in sequential mode with an async control, awaiting it", async () => {
    // S57 with promises: with a declared-async control, candidates may run before the control
    const order: string[] = [];
    const experiment = new Experiment<[], Promise<number>>("before-seq-async", {
      mode: "sequential",
      publish: collector(),
      beforeRun: async () => {
        await sleep(1);
        order.push("beforeRun");
      },
    })
      .use(async () => {
        order.push("control");
        return 1;
      })
      .try(async () => {
        order.push("candidate");
        return 1;
      });
    for (let i = 0; i < 10; i++) {
      order.length = 0;
      assert.equal(await experiment.run(), 1);
      assert.equal(order[0], "beforeRun");
      assert.deepEqual(order.slice(1).sort(), ["candidate", "control"]);
    }
  });

  it("runs beforeRun after the control and before the candidates in background mode", async () => {
    // S57, background analogue
    const order: string[] = [];
    const experiment = new Experiment<[], number>("before-bg", { publish: collector(), beforeRun: () => void order.push("beforeRun") })
      .use(() => {
        order.push("control");
        return 1;
      })
      .try(() => {
        order.push("candidate");
        return 1;
      });
    assert.equal(experiment.run(), 1);
    await experiment.settled();
    assert.deepEqual(order, ["control", "beforeRun", "candidate"]);
  });

  it("awaits an async beforeRun before the candidates start in background mode", async () => {
    // S57, async hook
    const order: string[] = [];
    const experiment = new Experiment<[], number>("before-async", {
      publish: collector(),
      beforeRun: async () => {
        await sleep(5);
        order.push("beforeRun done");
      },
    })
      .use(() => 1)
      .try(() => {
        order.push("candidate");
        return 1;
      });
    experiment.run();
    await experiment.settled();
    assert.deepEqual(order, ["beforeRun done", "candidate"]);
  });

  for (const mode of ["background", "sequential"] as const) {
    it(`does not run beforeRun when the experiment is disabled, runIf says no, or only a control exists (${mode})`, async () => {
      // S57 (disabled part)
      let calls = 0;
      const beforeRun = (): void => {
        calls++;
      };
      const disabled = new Experiment<[], number>("before-disabled", { mode, beforeRun, enabled: false, publish: collector() }).use(() => 1).try(() => 1);
      const refused = new Experiment<[], number>("before-refused", { mode, beforeRun, runIf: () => false, publish: collector() }).use(() => 1).try(() => 1);
      const solo = new Experiment<[], number>("before-solo", { mode, beforeRun, publish: collector() }).use(() => 1);
      const off = new Experiment<[], number>("before-off", { mode, beforeRun, publish: collector() }).use(() => 1).try(() => 1);
      off.disable("test");
      const experiments = [disabled, refused, solo, off];
      assert.deepEqual(
        experiments.map((e) => e.run()),
        [1, 1, 1, 1],
      );
      await Promise.all(experiments.map((e) => e.settled()));
      assert.equal(calls, 0);
    });

    it(`reports a throwing beforeRun as operation 'beforeRun', runs no candidate and still answers with the control (${mode})`, async () => {
      // from "the tests miss": Scientist lets before_run's exception propagate; penumbra protects the caller
      const errors = errorSink();
      const sink = collector();
      const cause = new Error("setup failed");
      let candidateRan = false;
      const experiment = new Experiment<[], number>("before-throws", {
        mode,
        publish: sink,
        onError: errors.onError,
        beforeRun: () => {
          throw cause;
        },
      })
        .use(() => 7)
        .try(() => {
          candidateRan = true;
          return 7;
        });
      assert.equal(experiment.run(), 7);
      await experiment.settled();
      assert.equal(candidateRan, false);
      assert.equal(sink.results.length, 0);
      assert.deepEqual(
        errors.errors.map((e) => [e.operation, e.cause]),
        [["beforeRun", cause]],
      );
    });
  }
});
