/**
 * Option validation: every invalid option is a TypeError at construction (never on the request
 * path) whose message names the option and shows the value; `configure()` validates the same way
 * and a rejected call changes nothing.
 */
import { strict as assert } from "node:assert";
import { inspect } from "node:util";
import { Experiment, configure, shadow, type ExperimentOptions } from "../../src/index";
import { collector, resetConfiguration } from "../support/capture";

interface InvalidCase {
  /** What the option is called in the message. */
  option: string;
  options: Record<string, unknown>;
  /** Text the message must contain to show the value; defaults to `inspect(value)`. */
  shows?: RegExp | string;
  label?: string;
}

function invalid(option: string, value: unknown, shows?: RegExp | string, label?: string): InvalidCase {
  return { option, options: { [option]: value }, shows: shows ?? inspect(value), label };
}

const FUNCTION_OPTIONS = ["sampleBy", "runIf", "beforeRun", "compare", "compareErrors", "clean", "statusOf", "onError"];

const INVALID: readonly InvalidCase[] = [
  invalid("sample", -0.1),
  invalid("sample", 1.5),
  invalid("sample", NaN, "NaN"),
  invalid("sample", "0.5", /['"]0\.5['"]/, 'the string "0.5"'),
  invalid("timeoutMs", -1),
  invalid("timeoutMs", Infinity, "Infinity"),
  invalid("timeoutMs", NaN, "NaN"),
  invalid("maxConcurrent", 0, /\b0\b/),
  invalid("maxConcurrent", 1.5),
  invalid("maxConcurrent", -2),
  invalid("mode", "parallel", "parallel"),
  invalid("enabled", "yes", "yes"),
  ...FUNCTION_OPTIONS.map((option) => invalid(option, "not-a-function", "not-a-function")),
  invalid("ignore", [() => true, 42], /\b42\b/, "an array holding a non-function"),
  invalid("ignore", () => true, /Function/, "a single function"),
  invalid("context", 7, /\b7\b/),
  invalid("isolate", true, "true"),
  invalid("captureArgs", "yes", "yes"),
  invalid("publish", 42, /\b42\b/),
  invalid("throwOnMismatch", 1, /\b1\b/),
  invalid("buckets", "timestamps", "timestamps"),
  { option: "buckets", options: { buckets: [{ match: () => true }] }, shows: /match/, label: "a rule without a name" },
  { option: "buckets", options: { buckets: [{ name: "ids", match: () => true, noise: "yes" }] }, shows: /yes/, label: "a rule whose noise is not a boolean" },
  { option: "buckets", options: { buckets: [{ name: "ids", match: 5 }] }, shows: /5/, label: "a rule whose match is neither a pattern nor a predicate" },
  { option: "guardrails.maxMismatchRate", options: { guardrails: { maxMismatchRate: 2 } }, shows: /\b2\b/, label: "a rate of 2" },
  { option: "guardrails.maxErrorRate", options: { guardrails: { maxErrorRate: 0.1 } }, shows: "maxErrorRate", label: "an unknown key" },
  { option: "calibrate", options: { calibrate: { runs: -1 } }, shows: "-1" },
  invalid("promote", 2, /\b2\b/),
  { option: "sampleRate", options: { sampleRate: 0.5 }, shows: "sampleRate", label: "an unknown option" },
];

function describeCase(c: InvalidCase): string {
  return c.label ?? inspect(Object.values(c.options)[0]);
}

function assertNamesOptionAndValue(c: InvalidCase): (e: unknown) => boolean {
  return (e: unknown) => {
    assert.ok(e instanceof TypeError, `a TypeError, got ${inspect(e)}`);
    assert.ok(e.message.includes(c.option), `the message names '${c.option}': ${e.message}`);
    if (c.shows !== undefined) {
      const shows = c.shows;
      assert.ok(typeof shows === "string" ? e.message.includes(shows) : shows.test(e.message), `the message shows the value (${String(shows)}): ${e.message}`);
    }
    return true;
  };
}

describe("options", () => {
  afterEach(resetConfiguration);

  describe("invalid options throw a TypeError at construction", () => {
    for (const c of INVALID) {
      it(`rejects ${c.option} given ${describeCase(c)} in new Experiment(), naming the option and the value`, () => {
        assert.throws(
          () => new Experiment("invalid", c.options as ExperimentOptions<unknown[], unknown>),
          assertNamesOptionAndValue(c),
        );
      });
      it(`rejects ${c.option} given ${describeCase(c)} in shadow(), naming the option and the value`, () => {
        assert.throws(
          () => shadow(() => 1, () => 1, c.options as ExperimentOptions<[], number>),
          assertNamesOptionAndValue(c),
        );
      });
    }

    it("rejects an empty experiment name", () => {
      assert.throws(() => new Experiment(""), assertNamesOptionAndValue({ option: "name", options: {}, shows: "''" }));
      assert.throws(() => shadow(() => 1, () => 1, { name: "" }), assertNamesOptionAndValue({ option: "name", options: {}, shows: "''" }));
    });

    it("rejects an experiment name that is not a string", () => {
      assert.throws(() => new Experiment(42 as unknown as string), assertNamesOptionAndValue({ option: "name", options: {}, shows: /\b42\b/ }));
      assert.throws(
        () => shadow(() => 1, () => 1, { name: 42 as unknown as string }),
        assertNamesOptionAndValue({ option: "name", options: {}, shows: /\b42\b/ }),
      );
    });

    it("never throws on the request path once an experiment was built", () => {
      const wrapped = shadow((n: number) => n, (n: number) => n, { sample: 0.5, timeoutMs: 10, maxConcurrent: 3, publish: collector() });
      for (let i = 0; i < 50; i++) assert.equal(wrapped(i), i);
    });
  });

  describe("building an experiment", () => {
    it("rejects a control that is not a function, naming the control and the value", () => {
      assert.throws(
        () => new Experiment("bad-control").use(42 as unknown as () => number),
        (e: unknown) => e instanceof TypeError && /control/.test(e.message) && /\b42\b/.test(e.message),
      );
    });

    it("rejects a second use()", () => {
      const experiment = new Experiment("two-controls").use(() => 1);
      assert.throws(() => experiment.use(() => 2), (e: unknown) => e instanceof TypeError && /control/.test(e.message) && /use\(\)/.test(e.message));
    });

    it("rejects a duplicate candidate name, naming it", () => {
      const experiment = new Experiment("duplicates").use(() => 1).try("fast", () => 1);
      assert.throws(() => experiment.try("fast", () => 2), (e: unknown) => e instanceof TypeError && /'fast'/.test(e.message));
      const unnamed = new Experiment("duplicates-unnamed").use(() => 1).try(() => 1);
      assert.throws(() => unnamed.try(() => 2), (e: unknown) => e instanceof TypeError && /'candidate'/.test(e.message));
    });

    it("rejects a candidate named control", () => {
      const experiment = new Experiment("named-control").use(() => 1);
      assert.throws(() => experiment.try("control", () => 1), (e: unknown) => e instanceof TypeError && /'control'/.test(e.message));
    });

    it("rejects a candidate that is not a function, naming it", () => {
      const experiment = new Experiment("bad-candidate").use(() => 1);
      assert.throws(
        () => experiment.try("fast", "nope" as unknown as () => number),
        (e: unknown) => e instanceof TypeError && /'fast'/.test(e.message) && /nope/.test(e.message),
      );
    });

    it("keeps the experiment usable after a rejected try()", async () => {
      const sink = collector();
      const experiment = new Experiment<[], number>("still-usable", { publish: sink }).use(() => 1).try("fast", () => 1);
      assert.throws(() => experiment.try("fast", () => 2));
      assert.equal(experiment.run(), 1);
      await experiment.settled();
      assert.deepEqual(sink.results[0]?.outcomes, { fast: "matched" });
    });
  });

  describe("valid edge values", () => {
    const cases: Array<[string, ExperimentOptions<[number], number>]> = [
      ["sample 0", { sample: 0 }],
      ["sample 1", { sample: 1 }],
      ["timeoutMs 0", { timeoutMs: 0 }],
      ["maxConcurrent 1", { maxConcurrent: 1 }],
    ];
    for (const [label, options] of cases) {
      it(`accepts ${label} and answers with the control`, async () => {
        const sink = collector();
        const wrapped = shadow((n: number) => n + 1, (n: number) => n + 1, { ...options, publish: sink });
        assert.equal(wrapped(1), 2);
        await wrapped.experiment.settled();
        assert.equal(sink.results.length, options.sample === 0 ? 0 : 1);
      });
    }

    it("accepts every option at once with valid values", () => {
      assert.doesNotThrow(
        () =>
          new Experiment<[number], number>("everything", {
            name: "everything",
            mode: "sequential",
            enabled: () => true,
            sample: 0.5,
            sampleBy: (n) => String(n),
            runIf: () => true,
            beforeRun: () => undefined,
            context: { region: "eu" },
            compare: (a, b) => a === b,
            compareErrors: () => true,
            ignore: [() => false],
            clean: (v) => v,
            buckets: [{ name: "ids", match: () => false, noise: true }],
            statusOf: () => 200,
            compareEffects: false,
            timeoutMs: 100,
            maxConcurrent: 10,
            isolate: (args) => args,
            captureArgs: true,
            publish: [collector(), () => undefined],
            onError: () => undefined,
            throwOnMismatch: false,
            guardrails: { maxMismatchRate: 0.1, minRuns: 10 },
            calibrate: { runs: 0 },
            promote: 0,
          }),
      );
    });
  });

  describe("configure()", () => {
    it("rejects an unknown key with a TypeError naming it, and changes nothing", async () => {
      const sink = collector();
      assert.throws(
        () => configure({ publishers: [sink], publisher: sink } as unknown as Parameters<typeof configure>[0]),
        (e: unknown) => e instanceof TypeError && /'publisher'/.test(e.message),
      );
      const wrapped = shadow(() => 1, () => 1);
      wrapped();
      await wrapped.experiment.settled();
      assert.equal(sink.results.length, 0, "the valid key given with it was not applied");
    });

    const badValues: Array<[string, Record<string, unknown>]> = [
      ["strict", { strict: "yes" }],
      ["throwOnMismatch", { throwOnMismatch: 1 }],
      ["onError", { onError: 5 }],
      ["publishers", { publishers: [42] }],
      ["publishers", { publishers: () => undefined }],
      ["context", { context: { name: "half a backend" } }],
    ];
    for (const [key, bad] of badValues) {
      it(`rejects ${key} given ${inspect(bad[key])} with a TypeError naming it, and changes nothing`, () => {
        const sink = collector();
        assert.throws(
          () => configure({ publishers: [sink], throwOnMismatch: true, ...bad } as Parameters<typeof configure>[0]),
          (e: unknown) => e instanceof TypeError && e.message.includes(key),
        );
        // Neither the bad key nor the good ones given with it took effect.
        const wrapped = shadow(() => 1, () => 2, { mode: "sequential" });
        assert.equal(wrapped(), 1, "throwOnMismatch was not switched on");
        assert.equal(sink.results.length, 0, "the publishers were not installed");
      });
    }

    it("applies valid settings (the control check for the tests above)", () => {
      const sink = collector();
      configure({ publishers: [sink], throwOnMismatch: true });
      const wrapped = shadow(() => 1, () => 2, { mode: "sequential" });
      assert.throws(() => wrapped());
      assert.equal(sink.results.length, 1);
    });
  });
});

describe("options nobody can read", () => {
  const throwing = (): never => {
    throw new Error("getter says no");
  };
  const cases: Array<[string, () => unknown]> = [
    ["sample", () => Object.defineProperty({}, "sample", { get: throwing, enumerable: true })],
    ["guardrails.minRuns", () => ({ guardrails: Object.defineProperty({}, "minRuns", { get: throwing, enumerable: true }) })],
    ["guardrails", () => ({ guardrails: new Proxy({}, { ownKeys: throwing }) })],
    ["experiment options", () => new Proxy({}, { ownKeys: throwing })],
    ["name", () => Object.defineProperty({}, "name", { get: throwing, enumerable: true })],
  ];
  for (const [option, make] of cases) {
    it(`turns an unreadable ${option} into a TypeError naming it, when the experiment is built`, () => {
      for (const build of [
        () => new Experiment("unreadable", make() as ExperimentOptions<[number], number>),
        () => shadow((n: number) => n, (n: number) => n, make() as ExperimentOptions<[number], number>),
      ]) {
        assert.throws(build, (error: unknown) => error instanceof TypeError && error.message.includes(option) && error.message.includes("getter says no"));
      }
    });
  }

  it("reads each option once: what was checked is what the experiment uses", async () => {
    let reads = 0;
    const options = Object.defineProperty({ publish: collector() }, "sample", {
      get: () => (++reads === 1 ? 1 : 5),
      enumerable: true,
    }) as ExperimentOptions<[number], number>;
    const total = shadow((n: number) => n, (n: number) => n, options);
    assert.equal(total(1), 1);
    await total.experiment.settled();
    assert.equal(reads, 1);
    total.experiment.disable();
  });
});
