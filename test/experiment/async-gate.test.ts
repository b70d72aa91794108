/**
 * Asynchronous `enabled` answers: observed from the moment they are asked (a rejection is reported,
 * never unhandled), asked in parallel with the control, and bounded by `timeoutMs`.
 */
import { strict as assert } from "node:assert";
import { ExperimentError, shadow } from "../../src/index";
import { collector, sleep } from "../support/capture";

describe("asynchronous gates and shadow() messages", () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => {
    unhandled.push(reason);
  };
  beforeEach(() => {
    unhandled.length = 0;
    process.on("unhandledRejection", onUnhandled);
  });
  afterEach(() => {
    process.off("unhandledRejection", onUnhandled);
  });

  it("background: a plain (non-async) enabled returning a rejected promise is reported without an unhandled rejection", async () => {
    const thrown = new Error("flag service down");
    const errors: ExperimentError[] = [];
    const wrapped = shadow(() => 1, () => 1, {
      publish: collector(),
      onError: (e) => errors.push(e),
      enabled: () => Promise.reject(thrown),
    });
    assert.equal(wrapped(), 1);
    await wrapped.experiment.settled();
    await sleep(5);
    assert.ok(errors.some((e) => e.operation === "enabled" && e.cause === thrown));
    assert.deepEqual(unhandled, []);
  });

  it("sequential, async control: an async enabled that never answers holds the caller no longer than timeoutMs", async () => {
    const errors: ExperimentError[] = [];
    const sink = collector();
    const wrapped = shadow(async () => 1, async () => 1, {
      mode: "sequential",
      publish: sink,
      timeoutMs: 100,
      onError: (e) => errors.push(e),
      enabled: () => new Promise<boolean>(() => undefined),
    });
    const outcome = await Promise.race([wrapped(), sleep(1000).then(() => "still waiting after 1000 ms")]);
    assert.equal(outcome, 1, "the flag source must not be able to hang the control path");
    assert.ok(errors.some((e) => e.operation === "enabled" && /did not answer within 100 ms/.test(e.message)));
    await wrapped.experiment.settled();
    assert.equal(sink.results.length, 0, "a gate that never said yes publishes nothing");
  });

  it("sequential, async control: a slow async enabled does not delay the control's start", async () => {
    const started = Date.now();
    let controlStartedAfter = -1;
    const wrapped = shadow(
      async () => {
        controlStartedAfter = Date.now() - started;
        return 1;
      },
      async () => 1,
      {
        mode: "sequential",
        publish: collector(),
        enabled: async () => {
          await sleep(150);
          return false;
        },
      },
    );
    assert.equal(await wrapped(), 1);
    assert.ok(controlStartedAfter < 50, `the control started after ${controlStartedAfter} ms, i.e. after the gate answered`);
  });

  it("shadow() with a control that is not a function shows the value in its message", () => {
    assert.throws(
      () => shadow(42 as unknown as () => number, () => 1),
      (e: unknown) => e instanceof TypeError && /control/.test(e.message) && /\b42\b/.test(e.message),
    );
  });

  for (const mode of ["background", "sequential"] as const) {
    for (const control of [
      { label: "sync control", fn: (n: number): unknown => n * 2 },
      { label: "async control", fn: (n: number): unknown => sleep(1).then(() => n * 2) },
    ]) {
      if (mode === "sequential" && control.label === "async control") continue; // awaited at once there: fine
      it(`${mode}, ${control.label}: an async enabled that rejects is reported without an unhandled rejection`, async () => {
        const thrown = new Error("flag service down");
        const errors: ExperimentError[] = [];
        const sink = collector();
        const wrapped = shadow(control.fn, (n: number) => n * 2, {
          mode,
          publish: sink,
          onError: (e) => errors.push(e),
          enabled: async () => {
            throw thrown;
          },
        });
        assert.equal(await wrapped(2), 4);
        await wrapped.experiment.settled();
        await sleep(5);
        assert.equal(sink.results.length, 0);
        assert.ok(errors.some((e) => e.operation === "enabled" && e.cause === thrown));
        assert.deepEqual(unhandled, [], "the gate's rejection must be observed at once, not after the control and a turn");
      });
    }
  }
});
