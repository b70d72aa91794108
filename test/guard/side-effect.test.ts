import { strict as assert } from "node:assert";
import { ShadowBlockedError, shadow, sideEffect, type Result } from "../../src/index";
import { collector, resetConfiguration } from "../support/capture";

/** Runs `control` and `candidate` as one experiment call and returns the published result. */
async function run<T>(control: () => T, candidate: () => T, timeoutMs?: number): Promise<Result<unknown>> {
  const sink = collector();
  const wrapped = shadow(control, candidate, { publish: sink, ...(timeoutMs === undefined ? {} : { timeoutMs }) });
  await wrapped();
  await wrapped.experiment.settled();
  assert.equal(sink.results.length, 1);
  return sink.results[0] as Result<unknown>;
}

describe("sideEffect", () => {
  afterEach(resetConfiguration);

  it("calls the function and records nothing outside any experiment", () => {
    let calls = 0;
    const send = sideEffect("send", (to: string) => {
      calls++;
      return `sent ${to}`;
    });
    assert.equal(send("a"), "sent a");
    assert.equal(calls, 1);
  });

  it("calls the function in the control and records the call with snapshotted arguments", async () => {
    let calls = 0;
    const send = sideEffect("send", async (message: { to: string }) => {
      calls++;
      return message.to;
    });
    const message = { to: "a@example.com" };
    const result = await run(
      async () => {
        const answer = await send(message);
        message.to = "changed@example.com"; // after the call: the record must not change
        return answer;
      },
      async () => "a@example.com",
    );
    assert.equal(calls, 1);
    assert.deepEqual(result.control.effects, [{ name: "send", args: [{ to: "a@example.com" }], role: "control", blocked: false }]);
  });

  it("never calls the function in a candidate, records it as blocked and answers with the sink", async () => {
    let calls = 0;
    const charge = sideEffect(
      "charge",
      async (amount: number) => {
        calls++;
        return { id: "real", amount };
      },
      { sink: async (amount) => ({ id: `shadow-${amount}`, amount }) },
    );
    let candidateSaw: unknown;
    const result = await run(
      async () => ({ id: "x", amount: 5 }),
      async () => {
        candidateSaw = await charge(5);
        return candidateSaw;
      },
    );
    assert.equal(calls, 0);
    assert.deepEqual(candidateSaw, { id: "shadow-5", amount: 5 });
    assert.deepEqual(result.candidates[0]?.effects, [{ name: "charge", args: [5], role: "candidate", blocked: true }]);
  });

  it("answers a blocked async function with a promise of undefined when there is no sink", async () => {
    const send = sideEffect("send", async () => "real");
    let answer: unknown = "unset";
    let wasPromise = false;
    await run(
      async () => 1,
      async () => {
        const returned = send();
        wasPromise = returned instanceof Promise;
        answer = await returned;
        return 1;
      },
    );
    assert.equal(wasPromise, true);
    assert.equal(answer, undefined);
  });

  it("answers a blocked synchronous function with undefined when there is no sink", async () => {
    const send = sideEffect("send", () => "real");
    let answer: unknown = "unset";
    await run(
      () => 1,
      () => {
        answer = send();
        return 1;
      },
    );
    assert.equal(answer, undefined);
  });

  it("rejects with a ShadowBlockedError naming the effect for onShadow throw", async () => {
    const send = sideEffect("mail.send", async () => "real", { onShadow: "throw" });
    const result = await run(
      async () => 1,
      async () => {
        await send();
        return 1;
      },
    );
    const error = result.candidates[0]?.error;
    assert.ok(error instanceof ShadowBlockedError);
    assert.equal(error.effect, "mail.send");
    assert.equal(result.candidates[0]?.effects.length, 1);
  });

  it("gives a sink's throw to the candidate, not to the caller", async () => {
    const boom = new Error("sink failed");
    const send = sideEffect("send", (n: number) => n, {
      sink: () => {
        throw boom;
      },
    });
    const result = await run(
      () => 1,
      () => send(1),
    );
    assert.equal(result.control.value, 1);
    assert.equal(result.candidates[0]?.error, boom);
  });

  it("forwards this to the real function", () => {
    const self = { base: 10, add: sideEffect("add", function (this: { base: number }, n: number) { return this.base + n; }) };
    assert.equal(self.add(1), 11);
  });

  it("decides at the call even after awaits and timers in the candidate", async () => {
    let calls = 0;
    const send = sideEffect("send", () => {
      calls++;
    });
    const result = await run(
      async () => 1,
      async () => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        await new Promise<void>((resolve) =>
          setTimeout(() => {
            send();
            resolve();
          }, 1),
        );
        return 1;
      },
    );
    assert.equal(calls, 0);
    assert.equal(result.candidates[0]?.effects.length, 1);
  });

  it("blocks a candidate's call after its timeout but leaves it off the observation", async () => {
    let calls = 0;
    const send = sideEffect("send", () => {
      calls++;
    });
    let lateCallDone!: () => void;
    const late = new Promise<void>((resolve) => (lateCallDone = resolve));
    const result = await run(
      async () => 1,
      () =>
        new Promise<number>((resolve) =>
          setTimeout(() => {
            send();
            lateCallDone();
            resolve(1);
          }, 60),
        ),
      20,
    );
    await late;
    assert.equal(result.candidates[0]?.timedOut, true);
    assert.equal(calls, 0);
    assert.deepEqual(result.candidates[0]?.effects, []);
  });

  it("throws a TypeError naming the option for an invalid name, fn, sink or onShadow", () => {
    assert.throws(() => sideEffect("", () => 1), (e) => e instanceof TypeError && /name/.test(e.message));
    assert.throws(() => sideEffect("x", 1 as unknown as () => number), (e) => e instanceof TypeError && /fn/.test(e.message));
    assert.throws(() => sideEffect("x", () => 1, { sink: 2 as unknown as () => number }), (e) => e instanceof TypeError && /sink/.test(e.message));
    assert.throws(
      () => sideEffect("x", () => 1, { onShadow: "drop" as "noop" }),
      (e) => e instanceof TypeError && /onShadow/.test(e.message),
    );
    assert.throws(() => sideEffect("x", () => 1, { onShadow: "sink" }), (e) => e instanceof TypeError && /sink/.test(e.message));
  });
});
