/**
 * openFeatureGate with clients that misbehave: evaluations that throw synchronously, reject, answer
 * the wrong shape or type, or settle out of order while runs are in flight. The gate fails closed
 * (its last value forgotten, `now()` false), reports a failure once, and never throws at the caller.
 */
import { strict as assert } from "node:assert";
import fc from "fast-check";
import { type ExperimentError, shadow } from "../../src/index";
import { openFeatureGate, type OpenFeatureClient, type OpenFeatureDetails } from "../../src/integrations/openfeature";
import { collector } from "../support/capture";

const FLAG = "checkout.v2.shadow";

/** A client whose both evaluations answer whatever `answer()` says (a value, a throw, a promise). */
function clientOf(answer: () => unknown): OpenFeatureClient {
  const evaluate = (): Promise<OpenFeatureDetails<never>> => answer() as Promise<OpenFeatureDetails<never>>;
  return { getBooleanDetails: evaluate, getNumberDetails: evaluate };
}

async function turns(n = 5): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe("openFeatureGate with a hostile client", () => {
  const failures: Array<{ name: string; answer: () => unknown }> = [
    {
      name: "throws synchronously",
      answer: () => {
        throw new Error("provider exploded");
      },
    },
    { name: "rejects", answer: () => Promise.reject(new Error("provider rejected")) },
    { name: "answers null", answer: () => Promise.resolve(null) },
    { name: "answers a string", answer: () => "true" },
    {
      name: "answers details whose getters throw",
      answer: () =>
        Promise.resolve(
          Object.defineProperty({}, "value", {
            get() {
              throw new Error("getter");
            },
          }),
        ),
    },
  ];

  for (const { name, answer } of failures) {
    it(`forgets a flag that was on when the client ${name}: now() is false, calls answer false, one report`, async () => {
      let healthy = true;
      const gate = openFeatureGate(
        clientOf(() => (healthy ? Promise.resolve({ value: true }) : answer())),
        { flagKey: FLAG },
      );
      assert.equal(await gate(), true);
      assert.equal(gate.now(), true);
      healthy = false;
      const errors: unknown[] = [];
      for (let i = 0; i < 5; i++) {
        try {
          assert.equal(await gate(), false);
        } catch (error) {
          errors.push(error);
        }
      }
      assert.equal(gate.lastValue, undefined);
      assert.equal(gate.now(), false);
      assert.equal(errors.length, 1, `reported ${errors.length} times`);
      assert.match(String((errors[0] as Error).message), /candidates are off/);
      gate.close();
    });
  }

  it("through an experiment: a throwing client is one ExperimentError (enabled), the control always answers, no candidate runs", async () => {
    const errors: ExperimentError[] = [];
    const sink = collector();
    let candidateRuns = 0;
    const gate = openFeatureGate(
      clientOf(() => {
        throw new Error("provider exploded");
      }),
      { flagKey: FLAG },
    );
    const total = shadow(
      (n: number) => n,
      (n: number) => {
        candidateRuns++;
        return n;
      },
      { name: "hostile-of-client", publish: sink, enabled: gate, onError: (e) => void errors.push(e) },
    );
    for (let i = 0; i < 20; i++) assert.equal(total(i), i);
    await total.experiment.settled();
    assert.equal(candidateRuns, 0);
    assert.equal(sink.results.length, 0);
    assert.deepEqual(errors.map((e) => e.operation), ["enabled"]);
    gate.close();
  });

  it("fails closed on any generated answer that is not a boolean or a fraction in 0..1, and never throws from now()", async () => {
    await fc.assert(
      fc.asyncProperty(fc.anything({ withNullPrototype: true, withBigInt: true, withBoxedValues: true }), fc.boolean(), async (value, asDetails) => {
        const gate = openFeatureGate(clientOf(() => Promise.resolve(asDetails ? { value } : value)), { flagKey: FLAG });
        let answer: boolean | undefined;
        try {
          answer = await gate();
        } catch {
          answer = undefined; // a reported failure means off
        }
        const legit = asDetails && (typeof value === "boolean" || (typeof value === "number" && value >= 0 && value <= 1));
        if (!legit) {
          assert.notEqual(answer, true);
          assert.equal(gate.now(), false);
          assert.equal(gate.lastValue, undefined);
        }
        gate.close();
      }),
      { numRuns: 200 },
    );
  });

  it("keeps the newest answer when evaluations settle out of order while runs are in flight", async () => {
    const pending: Array<(details: OpenFeatureDetails<boolean>) => void> = [];
    const gate = openFeatureGate(
      { getBooleanDetails: () => new Promise((resolve) => pending.push(resolve)), getNumberDetails: () => Promise.resolve({ value: 0 }) },
      { flagKey: FLAG },
    );
    // pending[0] is the construction-time refresh; two calls in flight after it.
    const first = gate();
    const second = gate();
    await turns();
    assert.equal(pending.length, 3);
    pending[2]?.({ value: false }); // the newest evaluation: the flag was turned off
    assert.equal(await second, false);
    pending[1]?.({ value: true }); // an older one, late
    pending[0]?.({ value: true });
    assert.equal(await first, true); // its own call keeps its own answer
    await turns();
    assert.equal(gate.lastValue, false);
    assert.equal(gate.now(), false);
    gate.close();
  });

  it("a refresh that fails after a newer evaluation succeeded does not forget the newer value", async () => {
    const pending: Array<{ resolve: (d: OpenFeatureDetails<boolean>) => void; reject: (e: unknown) => void }> = [];
    const gate = openFeatureGate(
      {
        getBooleanDetails: () => new Promise((resolve, reject) => pending.push({ resolve, reject })),
        getNumberDetails: () => Promise.resolve({ value: 0 }),
      },
      { flagKey: FLAG },
    );
    const call = gate();
    await turns();
    pending[1]?.resolve({ value: true });
    assert.equal(await call, true);
    pending[0]?.reject(new Error("stale refresh failed"));
    await turns();
    assert.equal(gate.lastValue, true);
    gate.close();
  });

  it("a client that never answers: the control answers at once, settled() resolves within timeoutMs, no candidate runs", async () => {
    const errors: ExperimentError[] = [];
    let candidateRuns = 0;
    const gate = openFeatureGate(clientOf(() => new Promise(() => undefined)), { flagKey: FLAG });
    const total = shadow(
      (n: number) => n,
      (n: number) => {
        candidateRuns++;
        return n;
      },
      { name: "hung-client", publish: collector(), enabled: gate, timeoutMs: 50, onError: (e) => void errors.push(e) },
    );
    const started = Date.now();
    for (let i = 0; i < 3; i++) assert.equal(total(i), i);
    await total.experiment.settled();
    assert.ok(Date.now() - started < 1_000, `settled after ${Date.now() - started} ms`);
    assert.equal(candidateRuns, 0);
    assert.ok(errors.length >= 1 && errors.every((e) => e.operation === "enabled"));
    assert.equal(gate.now(), false);
    gate.close();
  });

  it("a provider event with hostile details never throws into the client's emitter, and still refreshes the value", async () => {
    const handlers: Array<(details?: unknown) => void> = [];
    let value = true;
    const client = {
      ...clientOf(() => Promise.resolve({ value })),
      addHandler: (_event: never, handler: never) => void handlers.push(handler),
      removeHandler: () => undefined,
    };
    const gate = openFeatureGate(client, { flagKey: FLAG });
    await turns();
    assert.equal(gate.lastValue, true);
    value = false;
    const hostileDetails = [
      Object.defineProperty({}, "flagsChanged", { get: () => { throw new Error("getter"); } }),
      { flagsChanged: new Proxy([], { get: () => { throw new Error("trap"); } }) },
      { flagsChanged: "not-an-array" },
      null,
      42,
    ];
    for (const details of hostileDetails) {
      for (const handler of handlers) assert.doesNotThrow(() => handler(details));
    }
    await turns();
    assert.equal(gate.lastValue, false, "an event it could not read still refreshed the flag");
    gate.close();
  });

  it("refuses, when built, a client or options it cannot read, with a TypeError naming them", () => {
    const trap = (): never => {
      throw new Error("trap");
    };
    const unreadableClient = new Proxy({}, { get: trap }) as OpenFeatureClient;
    assert.throws(() => openFeatureGate(unreadableClient, { flagKey: FLAG }), (e: unknown) => e instanceof TypeError && /client/.test(e.message));
    const client = clientOf(() => Promise.resolve({ value: true }));
    const unreadableOptions = new Proxy({}, { get: trap }) as { flagKey: string };
    assert.throws(() => openFeatureGate(client, unreadableOptions), (e: unknown) => e instanceof TypeError && /flagKey/.test(e.message));
    assert.throws(() => openFeatureGate(client, undefined as never), (e: unknown) => e instanceof TypeError && /flagKey/.test(e.message));
  });
});
