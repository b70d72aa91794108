/**
 * github/scientist's test suite, ported as black-box behaviours of penumbra's public API: publishing,
 * error reporting (Scientist's `raised`), test mode (`raise_on_mismatches` → `throwOnMismatch`) and
 * strict mode. Item numbers (S13 … S56) refer to research/scientist.md §2.
 *
 * Items that do not apply to penumbra, or apply in a changed form:
 * - S15 (a throwing `publish` reaches the caller when `raised` is not overridden): penumbra's default
 *   handler never throws; a publisher's error never reaches the caller. Tested as such below.
 * - S29 (the Default experiment's `raised` re-raises): no Default experiment; penumbra's default
 *   handler emits a PenumbraWarning instead (tested below).
 * - S49 (MismatchError subclasses Exception so a bare `rescue` misses it): Ruby's exception
 *   hierarchy; the TS analogue is a distinct class (a PenumbraError, not an ExperimentError), below.
 * - S52 (`raise_with(ErrorClass)` throws a custom mismatch error class): penumbra has no option to
 *   choose the error class; MismatchError is always thrown.
 * - S56 (Marshal of MismatchError and experiments holding procs): Ruby serialisation only.
 * - S58 (`after_run` receives the result before publish): no such hook.
 */
import { strict as assert } from "node:assert";
import * as sinon from "sinon";
import {
  Experiment,
  ExperimentError,
  MismatchError,
  PenumbraError,
  configure,
  flush,
  type Result,
} from "../../src/index";
import { collector, errorSink, resetConfiguration, sleep } from "../support/capture";

function cleanUp(): void {
  sinon.restore();
  resetConfiguration();
}

describe("Scientist parity: publishing", () => {
  afterEach(cleanUp);

  it("publishes a result when a candidate ran, after the caller has its answer (background)", async () => {
    // S13
    const sink = collector();
    const experiment = new Experiment<[], number>("publishes", { publish: sink }).use(() => 1).try(() => 1);
    assert.equal(experiment.run(), 1);
    assert.equal(sink.results.length, 0, "not on the caller's path");
    await experiment.settled();
    assert.equal(sink.results.length, 1);
  });

  it("publishes before run returns in sequential mode", () => {
    // S13 with Scientist's timing
    const sink = collector();
    const experiment = new Experiment<[], number>("publishes-now", { mode: "sequential", publish: sink }).use(() => 1).try(() => 1);
    assert.equal(experiment.run(), 1);
    assert.equal(sink.results.length, 1);
  });

  for (const mode of ["background", "sequential"] as const) {
    it(`publishes nothing when only a control is registered (${mode})`, async () => {
      // S14
      const sink = collector();
      configure({ publishers: [sink] });
      const experiment = new Experiment<[], number>("solo-publish", { mode, publish: sink }).use(() => 1);
      assert.equal(experiment.run(), 1);
      await experiment.settled();
      assert.equal(sink.results.length, 0);
    });

    it(`keeps a throwing publisher's error from the caller, who gets the control's value (${mode})`, async () => {
      // S15: Scientist's default `raised` lets the publish error reach the caller; penumbra never does
      const emit = sinon.stub(process, "emitWarning");
      const experiment = new Experiment<[], number>("publisher-throws", {
        mode,
        publish: () => {
          throw new Error("publisher down");
        },
      })
        .use(() => 42)
        .try(() => 42);
      assert.equal(experiment.run(), 42);
      await experiment.settled();
      assert.ok(
        emit.getCalls().some((call) => String(call.args[0]).includes("publisher down") && (call.args[1] as { type?: string } | undefined)?.type === "PenumbraWarning"),
        "the publisher's error became a warning",
      );
    });

    it(`gives onError a throwing publisher's error as operation 'publish' and returns the control's value (${mode})`, async () => {
      // S16
      const errors = errorSink();
      const cause = new Error("publisher down");
      const experiment = new Experiment<[], number>("publisher-raised", {
        mode,
        onError: errors.onError,
        publish: () => {
          throw cause;
        },
      })
        .use(() => 42)
        .try(() => 42);
      assert.equal(experiment.run(), 42);
      await experiment.settled();
      assert.equal(errors.errors.length, 1);
      const [error] = errors.errors;
      assert.ok(error instanceof ExperimentError);
      assert.equal(error.operation, "publish");
      assert.equal(error.cause, cause);
      assert.equal(error.experiment, "publisher-raised");
    });
  }

  it("reports a publisher's rejected promise as operation 'publish', and settled() waits for it", async () => {
    // S16 for async publishers
    const errors = errorSink();
    const cause = new Error("async publisher down");
    const experiment = new Experiment<[], number>("publisher-rejects", {
      onError: errors.onError,
      publish: async () => {
        await sleep(5);
        throw cause;
      },
    })
      .use(() => 1)
      .try(() => 1);
    experiment.run();
    await experiment.settled();
    assert.deepEqual(
      errors.errors.map((e) => [e.operation, e.cause]),
      [["publish", cause]],
    );
  });

  it("still calls the other publishers when one throws", async () => {
    // S16: one failing publisher does not stop the rest
    const sink = collector();
    const experiment = new Experiment<[], number>("publisher-siblings", {
      onError: () => undefined,
      publish: [
        () => {
          throw new Error("first down");
        },
        sink,
      ],
    })
      .use(() => 1)
      .try(() => 1);
    experiment.run();
    await experiment.settled();
    assert.equal(sink.results.length, 1);
  });

  it("publishes to a function, an object with publish, or each of an array of them", async () => {
    // penumbra's `publish` hook
    const seen: string[] = [];
    const experiment = new Experiment<[], number>("publish-shapes", {
      publish: [(r) => void seen.push(`fn:${r.experiment}`), { publish: (r: Result<unknown>) => void seen.push(`obj:${r.experiment}`) }],
    })
      .use(() => 1)
      .try(() => 1);
    experiment.run();
    await experiment.settled();
    assert.deepEqual(seen, ["fn:publish-shapes", "obj:publish-shapes"]);
  });

  it("publishes to the configured publishers unless the experiment names its own", async () => {
    // penumbra's analogue of a class-level `publish`
    const configured = collector();
    const own = collector();
    configure({ publishers: [configured] });
    const byDefault = new Experiment<[], number>("configured-publish").use(() => 1).try(() => 1);
    const overridden = new Experiment<[], number>("own-publish", { publish: own }).use(() => 1).try(() => 1);
    byDefault.run();
    overridden.run();
    await Promise.all([byDefault.settled(), overridden.settled()]);
    assert.deepEqual(
      configured.results.map((r) => r.experiment),
      ["configured-publish"],
    );
    assert.deepEqual(
      own.results.map((r) => r.experiment),
      ["own-publish"],
    );
  });
});

describe("Scientist parity: error reporting (raised)", () => {
  afterEach(cleanUp);

  it("emits a PenumbraWarning and never throws when no onError is set", async () => {
    // S29 (`raised` half): the default handler
    const emit = sinon.stub(process, "emitWarning");
    const experiment = new Experiment<[], number>("default-handler", {
      mode: "sequential",
      publish: collector(),
      compare: () => {
        throw new Error("compare boom");
      },
    })
      .use(() => 1)
      .try(() => 1);
    assert.equal(experiment.run(), 1);
    await experiment.settled();
    const warnings = emit.getCalls().filter((call) => (call.args[1] as { type?: string } | undefined)?.type === "PenumbraWarning");
    assert.equal(warnings.length, 1);
    const [message, options] = warnings[0]?.args as [string, { type: string; code: string }];
    assert.match(message, /default-handler/);
    assert.match(message, /compare/);
    assert.match(message, /compare boom/);
    assert.equal(options.code, "PENUMBRA_EXPERIMENT_ERROR");
  });

  it("uses the configured onError when the experiment has none", async () => {
    // `raised` at class level
    const errors = errorSink();
    configure({ onError: errors.onError });
    const experiment = new Experiment<[], number>("configured-onerror", {
      publish: () => {
        throw new Error("down");
      },
    })
      .use(() => 1)
      .try(() => 1);
    experiment.run();
    await experiment.settled();
    assert.deepEqual(
      errors.errors.map((e) => e.operation),
      ["publish"],
    );
  });

  it("prefers the experiment's onError to the configured one", async () => {
    // `raised` overridden per experiment
    const configured = errorSink();
    const own = errorSink();
    configure({ onError: configured.onError });
    const experiment = new Experiment<[], number>("own-onerror", {
      onError: own.onError,
      publish: () => {
        throw new Error("down");
      },
    })
      .use(() => 1)
      .try(() => 1);
    experiment.run();
    await experiment.settled();
    assert.equal(own.errors.length, 1);
    assert.equal(configured.errors.length, 0);
  });

  it("swallows an onError that throws into a PenumbraWarning; the caller still gets the control's value", async () => {
    const emit = sinon.stub(process, "emitWarning");
    const experiment = new Experiment<[], number>("onerror-throws", {
      mode: "sequential",
      onError: () => {
        throw new Error("handler broke");
      },
      publish: () => {
        throw new Error("down");
      },
    })
      .use(() => 5)
      .try(() => 5);
    assert.equal(experiment.run(), 5);
    await experiment.settled();
    const warnings = emit.getCalls().filter((call) => (call.args[1] as { type?: string } | undefined)?.type === "PenumbraWarning");
    assert.equal(warnings.length, 1);
    assert.match(String(warnings[0]?.args[0]), /handler broke/);
  });
});

describe("Scientist parity: throwOnMismatch (raise on mismatches)", () => {
  afterEach(cleanUp);

  function mismatching(name: string, options: { throwOnMismatch?: boolean; publish?: ReturnType<typeof collector> } = {}) {
    return new Experiment<[], string>(name, { mode: "sequential", publish: options.publish ?? collector(), ...(options.throwOnMismatch === undefined ? {} : { throwOnMismatch: options.throwOnMismatch }) })
      .use(() => "foo")
      .try(() => "bar");
  }

  it("throws a MismatchError on a mismatch when configured to", () => {
    // S44
    configure({ throwOnMismatch: true });
    assert.throws(() => mismatching("raise-configured").run(), MismatchError);
  });

  it("uses cleaned values in the MismatchError's message", () => {
    // S45
    configure({ throwOnMismatch: true });
    const experiment = new Experiment<[], string>("cleaned-message", { mode: "sequential", publish: collector(), clean: (v) => v.toUpperCase() })
      .use(() => "foo")
      .try(() => "bar");
    assert.throws(
      () => experiment.run(),
      (e: unknown) => e instanceof MismatchError && e.message.includes("'FOO'") && e.message.includes("'BAR'") && !e.message.includes("'foo'"),
    );
  });

  it("returns the control's value on a mismatch when throwOnMismatch is off (the default)", () => {
    // S46
    const sink = collector();
    assert.equal(mismatching("raise-off", { publish: sink }).run(), "foo");
    assert.equal(sink.results[0]?.mismatched, true);
    configure({ throwOnMismatch: false });
    assert.equal(mismatching("raise-off-2").run(), "foo");
  });

  it("throws a MismatchError, not the control's error, when the control throws and the candidate returns", () => {
    // S47
    configure({ throwOnMismatch: true });
    const experiment = new Experiment<[], number>("control-raised", { mode: "sequential", publish: collector() })
      .use((): number => {
        throw new Error("control boom");
      })
      .try(() => 1);
    assert.throws(() => experiment.run(), MismatchError);
  });

  it("throws a MismatchError when the candidate throws and the control returns", () => {
    // S48
    configure({ throwOnMismatch: true });
    const experiment = new Experiment<[], number>("candidate-raised", { mode: "sequential", publish: collector() })
      .use(() => 1)
      .try((): number => {
        throw new Error("candidate boom");
      });
    assert.throws(() => experiment.run(), MismatchError);
  });

  it("throws a distinct class: a PenumbraError with code PENUMBRA_MISMATCH, not an ExperimentError", () => {
    // S49 analogue
    configure({ throwOnMismatch: true });
    try {
      mismatching("distinct-class").run();
      assert.fail("expected a MismatchError");
    } catch (error) {
      assert.ok(error instanceof MismatchError);
      assert.ok(error instanceof PenumbraError);
      assert.ok(error instanceof Error);
      assert.ok(!(error instanceof ExperimentError));
      assert.equal(error.code, "PENUMBRA_MISMATCH");
      assert.equal(error.name, "MismatchError");
    }
  });

  it("lets the experiment's option override the configured default in both directions", () => {
    // S50
    configure({ throwOnMismatch: false });
    assert.throws(() => mismatching("instance-on", { throwOnMismatch: true }).run(), MismatchError);
    configure({ throwOnMismatch: true });
    assert.equal(mismatching("instance-off", { throwOnMismatch: false }).run(), "foo");
  });

  it("reads the configured default when run is called, not when the experiment is built", () => {
    // S51
    const experiment = mismatching("read-at-run");
    assert.equal(experiment.run(), "foo");
    configure({ throwOnMismatch: true });
    assert.throws(() => experiment.run(), MismatchError);
    configure({ throwOnMismatch: false });
    assert.equal(experiment.run(), "foo");
  });

  it("carries the experiment's name and the very result object that was published", () => {
    // S53
    const sink = collector();
    const experiment = mismatching("carries-result", { throwOnMismatch: true, publish: sink });
    try {
      experiment.run();
      assert.fail("expected a MismatchError");
    } catch (error) {
      assert.ok(error instanceof MismatchError);
      assert.equal(error.experiment, "carries-result");
      assert.equal(sink.results.length, 1);
      assert.equal(error.result, sink.results[0]);
    }
  });

  it("publishes before it throws", () => {
    // from "the tests miss": publish happens before raise-on-mismatch
    let publishedBeforeThrow = false;
    const sink = collector();
    const experiment = new Experiment<[], string>("publish-then-raise", {
      mode: "sequential",
      throwOnMismatch: true,
      publish: (r) => {
        sink.results.push(r);
      },
    })
      .use(() => "foo")
      .try(() => "bar");
    try {
      experiment.run();
    } catch (error) {
      publishedBeforeThrow = error instanceof MismatchError && sink.results.length === 1;
    }
    assert.equal(publishedBeforeThrow, true);
  });

  it("formats its message as the experiment, each observation's cleaned value, then the difference", () => {
    // S54 (with penumbra's extra difference line)
    const experiment = new Experiment<[], string>("experiment", { mode: "sequential", throwOnMismatch: true, publish: collector() })
      .use(() => "foo")
      .try(() => "bar");
    assert.throws(
      () => experiment.run(),
      (e: unknown) => {
        assert.ok(e instanceof MismatchError);
        assert.equal(
          e.message,
          "experiment 'experiment' observations mismatched:\n" +
            "control:\n" +
            "  'foo'\n" +
            "candidate:\n" +
            "  'bar'\n" +
            'difference (candidate, value): (root)="foo" vs "bar"\n',
        );
        return true;
      },
    );
  });

  it("lists every observation, named, and one difference line per mismatched candidate", () => {
    // S54 with several candidates
    const experiment = new Experiment<[], { n: number }>("several", { mode: "sequential", throwOnMismatch: true, publish: collector() })
      .use(() => ({ n: 1 }))
      .try("same", () => ({ n: 1 }))
      .try("off", () => ({ n: 2 }));
    assert.throws(
      () => experiment.run(),
      (e: unknown) => {
        assert.ok(e instanceof MismatchError);
        assert.equal(
          e.message,
          "experiment 'several' observations mismatched:\n" +
            "control:\n  { n: 1 }\n" +
            "same:\n  { n: 1 }\n" +
            "off:\n  { n: 2 }\n" +
            "difference (off, value): n=1 vs 2\n",
        );
        return true;
      },
    );
  });

  it("shows a thrown error's stack, indented, in place of a value", () => {
    // S55
    const boom = new TypeError("boom");
    const experiment = new Experiment<[], unknown>("raised-in-message", { mode: "sequential", throwOnMismatch: true, publish: collector() })
      .use(() => {
        throw boom;
      })
      .try(() => ({ total: 1 }));
    assert.throws(
      () => experiment.run(),
      (e: unknown) => {
        assert.ok(e instanceof MismatchError);
        const stack = (boom.stack as string).split("\n");
        assert.ok(stack.length > 1, "the error has a backtrace");
        const expectedControl = ["control:", ...stack.map((line) => `  ${line}`)].join("\n");
        assert.ok(e.message.startsWith(`experiment 'raised-in-message' observations mismatched:\n${expectedControl}\ncandidate:\n  { total: 1 }\n`), e.message);
        assert.ok(e.message.endsWith('difference (candidate, error): threw TypeError: boom vs returned {"total":1}\n'), e.message);
        return true;
      },
    );
  });

  it("does not throw for an ignored mismatch", () => {
    // S42 with S44: ignored is not mismatched
    const experiment = new Experiment<[], string>("ignored-no-raise", { mode: "sequential", throwOnMismatch: true, publish: collector(), ignore: [() => true] })
      .use(() => "foo")
      .try(() => "bar");
    assert.equal(experiment.run(), "foo");
  });

  it("rethrows the control's own error when the candidate's error matches it", () => {
    // S10 with S44: no mismatch, so the control's error
    const boom = new Error("same");
    const experiment = new Experiment<[], number>("matched-errors-raise", { mode: "sequential", throwOnMismatch: true, publish: collector() })
      .use((): number => {
        throw boom;
      })
      .try((): number => {
        throw new Error("same");
      });
    assert.throws(() => experiment.run(), (e: unknown) => e === boom);
  });

  it("rejects with a MismatchError for an async control in sequential mode", async () => {
    // S44 with promises
    const sink = collector();
    const experiment = new Experiment<[], Promise<string>>("async-raise", { mode: "sequential", throwOnMismatch: true, publish: sink })
      .use(async () => "foo")
      .try(async () => "bar");
    await assert.rejects(experiment.run(), (e: unknown) => e instanceof MismatchError && e.result === sink.results[0]);
  });

  it("never throws a MismatchError in background mode: the caller's answer is already given", async () => {
    // throwOnMismatch is a sequential-mode option
    const sink = collector();
    const experiment = new Experiment<[], string>("background-no-raise", { throwOnMismatch: true, publish: sink })
      .use(() => "foo")
      .try(() => "bar");
    assert.equal(experiment.run(), "foo");
    await experiment.settled();
    assert.equal(sink.results[0]?.mismatched, true);
  });
});

describe("Scientist parity: strict mode", () => {
  afterEach(cleanUp);

  it("throws the first reported ExperimentError at a sequential caller, and onError still fires", async () => {
    const errors = errorSink();
    configure({ strict: true });
    const cause = new Error("compare boom");
    const experiment = new Experiment<[], number>("strict-sequential", {
      mode: "sequential",
      onError: errors.onError,
      publish: collector(),
      compare: () => {
        throw cause;
      },
    })
      .use(() => 1)
      .try(() => 1);
    assert.throws(() => experiment.run(), (e: unknown) => e instanceof ExperimentError && e.operation === "compare" && e.cause === cause);
    assert.equal(errors.errors.length, 1);
    await experiment.settled();
  });

  it("makes settled() reject with the first error reported since the previous settled(), then resolve", async () => {
    const errors = errorSink();
    configure({ strict: true });
    const first = new Error("first");
    const second = new Error("second");
    const causes = [first, second];
    const experiment = new Experiment<[], number>("strict-settled", {
      onError: errors.onError,
      publish: () => {
        throw causes.shift();
      },
    })
      .use(() => 1)
      .try(() => 1);
    assert.equal(experiment.run(), 1);
    assert.equal(experiment.run(), 1);
    await assert.rejects(experiment.settled(), (e: unknown) => e instanceof ExperimentError && e.operation === "publish" && e.cause === first);
    assert.equal(errors.errors.length, 2, "onError still fires for each");
    await experiment.settled();
  });

  it("makes flush() reject with the first error reported in the process since the previous flush()", async () => {
    await flush().catch(() => undefined);
    configure({ strict: true });
    const cause = new Error("clean boom");
    const experiment = new Experiment<[], number>("strict-flush", {
      onError: () => undefined,
      publish: collector(),
      clean: () => {
        throw cause;
      },
    })
      .use(() => 1)
      .try(() => 1);
    experiment.run();
    await assert.rejects(flush(), (e: unknown) => e instanceof ExperimentError && e.operation === "clean" && e.cause === cause);
    await flush();
  });

  it("does not reject settled() when strict mode is off", async () => {
    const errors = errorSink();
    const experiment = new Experiment<[], number>("not-strict", {
      onError: errors.onError,
      publish: () => {
        throw new Error("down");
      },
    })
      .use(() => 1)
      .try(() => 1);
    experiment.run();
    await assert.doesNotReject(experiment.settled());
    assert.equal(errors.errors.length, 1);
  });
});
