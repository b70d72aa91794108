/**
 * penumbra/openfeature against the real SDK and its in-memory provider: on / off, a ramp changed at
 * runtime, stickiness per targeting key, failures that mean "off", and a control that never waits.
 */
import { strict as assert } from "node:assert";
import fc from "fast-check";
import { InMemoryProvider, OpenFeature, type Provider } from "@openfeature/server-sdk";
import { type ExperimentError, shadow } from "../../src/index";
import { stableFraction } from "../../src/experiment/index";
import { openFeatureGate, type OpenFeatureClient, type OpenFeatureDetails } from "../../src/integrations/openfeature";
import { collector } from "../support/capture";

interface Cart {
  customerId: string;
  total: number;
}

const FLAG = "checkout.total-v2.shadow";
let domainCounter = 0;

/** Each test gets its own OpenFeature domain, so providers never leak between tests. */
async function clientWith(provider: Provider): Promise<OpenFeatureClient> {
  const domain = `penumbra-test-${++domainCounter}`;
  await OpenFeature.setProviderAndWait(domain, provider);
  return OpenFeature.getClient(domain);
}

/** Waits on real timers until the condition holds (2 s at most). */
async function until(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 2_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in 2 s");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

type Flags = NonNullable<ConstructorParameters<typeof InMemoryProvider>[0]>;

function flag(value: boolean | number | string): Flags {
  return { [FLAG]: { variants: { only: value }, defaultVariant: "only", disabled: false } };
}

function carts(count: number, prefix = "c"): Cart[] {
  return Array.from({ length: count }, (_, i) => ({ customerId: `${prefix}-${i}`, total: i }));
}

/** A shadowed sync `total(cart)` gated by the flag; results carry the customer in their context. */
function experiment(client: OpenFeatureClient, onError?: (e: ExperimentError) => void) {
  const sink = collector();
  const total = shadow(
    (cart: Cart) => cart.total,
    (cart: Cart) => cart.total,
    {
      name: "order-total",
      publish: sink,
      maxConcurrent: 100_000,
      context: (cart: Cart) => ({ customer: cart.customerId }),
      enabled: openFeatureGate(client, { flagKey: FLAG, contextOf: (cart: Cart) => ({ targetingKey: cart.customerId }) }),
      ...(onError ? { onError } : {}),
    },
  );
  const admitted = (): string[] => sink.results.map((r) => String(r.context["customer"]));
  return { total, sink, admitted };
}

async function runAll(run: ReturnType<typeof experiment>, list: Cart[]): Promise<Set<string>> {
  const before = run.sink.results.length;
  for (const cart of list) run.total(cart);
  await run.total.experiment.settled();
  return new Set(run.admitted().slice(before));
}

describe("penumbra/openfeature", () => {
  after(async () => {
    await OpenFeature.close();
  });

  it("a boolean flag turns the candidates on and off", async () => {
    const provider = new InMemoryProvider(flag(true));
    const run = experiment(await clientWith(provider));
    assert.equal((await runAll(run, carts(20))).size, 20);
    provider.putConfiguration(flag(false));
    assert.equal((await runAll(run, carts(20))).size, 0);
  });

  it("a number flag ramps 0 → 0.05 → 1 at runtime, sticky per targeting key", async function () {
    // 10 000 gated calls in all: on a loaded 2-core machine, late in the full suite, this takes a while.
    this.timeout(60_000);
    const provider = new InMemoryProvider(flag(0));
    const run = experiment(await clientWith(provider));
    const customers = carts(2000);

    assert.equal((await runAll(run, customers)).size, 0);

    provider.putConfiguration(flag(0.05));
    const atFive = await runAll(run, customers);
    const share = atFive.size / customers.length;
    assert.ok(share > 0.03 && share < 0.07, `admitted share at 5%: ${share}`);
    // The decision is the documented hash, not luck: exactly the customers whose fraction is below 5%.
    const expected = customers.filter((c) => stableFraction(c.customerId, FLAG) < 0.05).map((c) => c.customerId);
    assert.deepEqual([...atFive].sort(), expected.sort());
    // Same customers, same fraction: the same decision.
    assert.deepEqual([...(await runAll(run, customers))].sort(), [...atFive].sort());

    provider.putConfiguration(flag(1));
    const atAll = await runAll(run, customers);
    assert.equal(atAll.size, customers.length);
    for (const id of atFive) assert.ok(atAll.has(id), `${id} was admitted at 5% and must stay admitted`);
  });

  it("without a targeting key a number flag draws at random", async () => {
    const client = await clientWith(new InMemoryProvider(flag(0.5)));
    const sink = collector();
    const total = shadow((n: number) => n, (n: number) => n, {
      publish: sink,
      maxConcurrent: 100_000,
      enabled: openFeatureGate(client, { flagKey: FLAG }),
    });
    for (let i = 0; i < 2000; i++) total(i);
    await total.experiment.settled();
    const share = sink.results.length / 2000;
    assert.ok(share > 0.4 && share < 0.6, `admitted share at 50%: ${share}`);
  });

  it("a missing flag, a provider error, a string flag and a number outside 0..1 mean off, each reported once", async () => {
    const throwing: Flags = {
      [FLAG]: {
        variants: { on: true },
        defaultVariant: "on",
        disabled: false,
        contextEvaluator: () => {
          throw new Error("rules engine down");
        },
      },
    };
    const cases: Array<[string, Flags, string]> = [
      ["missing", {}, "FLAG_NOT_FOUND"],
      ["provider error", throwing, "GENERAL"],
      ["string", flag("yes"), "neither a boolean nor a number"],
      ["percent", flag(5), "not a fraction"],
    ];
    for (const [label, config, message] of cases) {
      const errors: ExperimentError[] = [];
      const run = experiment(await clientWith(new InMemoryProvider(config)), (e) => errors.push(e));
      assert.equal((await runAll(run, carts(30))).size, 0, label);
      assert.equal(errors.length, 1, `${label}: ${errors.map((e) => e.message).join(" | ")}`);
      assert.equal(errors[0]?.operation, "enabled");
      assert.match(String((errors[0]?.cause as Error).message), new RegExp(message), label);
    }
  });

  it("a flag that comes back after failing is obeyed again, and a new failure is reported again", async () => {
    const provider = new InMemoryProvider({});
    const errors: ExperimentError[] = [];
    const run = experiment(await clientWith(provider), (e) => errors.push(e));
    assert.equal((await runAll(run, carts(5))).size, 0);
    provider.putConfiguration(flag(true));
    assert.equal((await runAll(run, carts(5))).size, 5);
    provider.putConfiguration({});
    assert.equal((await runAll(run, carts(5))).size, 0);
    assert.equal(errors.length, 2);
  });

  it("remembers the flag's type: one evaluation per call in steady state", async () => {
    const provider = new InMemoryProvider(flag(1));
    const client = await clientWith(provider);
    const calls: string[] = [];
    const counting: OpenFeatureClient = {
      getBooleanDetails: (...a) => (calls.push("boolean"), client.getBooleanDetails(...a)),
      getNumberDetails: (...a) => (calls.push("number"), client.getNumberDetails(...a)),
    };
    const gate = openFeatureGate(counting, { flagKey: FLAG });
    // The gate reads the flag once when built (boolean first, then number); then one evaluation per call.
    await until(() => gate.lastValue !== undefined);
    assert.deepEqual(calls, ["boolean", "number"]);
    calls.length = 0;
    assert.equal(await gate(), true);
    assert.equal(await gate(), true);
    assert.equal(await gate(), true);
    assert.deepEqual(calls, ["number", "number", "number"]);
    provider.putConfiguration(flag(false));
    calls.length = 0;
    assert.equal(await gate(), false);
    assert.equal(await gate(), false);
    assert.deepEqual(calls, ["number", "boolean", "boolean"]);
  });

  it("overlapping evaluations while the flag's type is being learned all get the flag's value, none a type error", async () => {
    const provider = new InMemoryProvider(flag(1));
    const client = await clientWith(provider);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat(3), { minLength: 2, maxLength: 12 }), async (delays) => {
        let call = 0;
        // Each evaluation answers after its own delay, so evaluations overlap in generated orders.
        const later = <T>(value: Promise<T>): Promise<T> => new Promise((resolve) => setTimeout(() => resolve(value), delays[call++ % delays.length]));
        const slow: OpenFeatureClient = {
          getBooleanDetails: (...a) => later(client.getBooleanDetails(...a)),
          getNumberDetails: (...a) => later(client.getNumberDetails(...a)),
        };
        const errors: ExperimentError[] = [];
        const total = shadow((cart: Cart) => cart.total, (cart: Cart) => cart.total, {
          name: "overlapping-evaluations",
          publish: () => undefined,
          onError: (e) => errors.push(e),
          enabled: openFeatureGate(slow, { flagKey: FLAG, contextOf: (cart: Cart) => ({ targetingKey: cart.customerId }) }),
        });
        const gate = openFeatureGate(slow, { flagKey: FLAG });
        const answers = await Promise.all(delays.map(() => gate()));
        for (const cart of carts(delays.length)) total(cart);
        await total.experiment.settled();
        total.experiment.disable();
        assert.deepEqual(answers, delays.map(() => true));
        assert.deepEqual(errors.map((e) => e.message), []);
      }),
      { numRuns: 40 },
    );
  });

  it("never delays the control: a sync control still returns synchronously, even with a slow provider", async () => {
    const slow: OpenFeatureClient = {
      getBooleanDetails: () => new Promise((resolve) => setTimeout(() => resolve({ value: true }), 50)),
      getNumberDetails: () => Promise.resolve({ value: 0 }),
    };
    const sink = collector();
    const total = shadow((cart: Cart) => cart.total, (cart: Cart) => cart.total + 1, {
      publish: sink,
      enabled: openFeatureGate(slow, { flagKey: FLAG, contextOf: (cart: Cart) => ({ targetingKey: cart.customerId }) }),
    });
    const started = Date.now();
    const answer = total({ customerId: "c-1", total: 42 });
    assert.equal(answer, 42);
    assert.ok(Date.now() - started < 40, "the control did not wait for the flag");
    await total.experiment.settled();
    assert.equal(sink.results.length, 1);
    assert.equal(sink.results[0]?.mismatched, true);
  });

  it("keeps the flag's last answer from the provider's change events, readable synchronously with now()", async () => {
    const provider = new InMemoryProvider(flag(true));
    const client = await clientWith(provider);
    const gate = openFeatureGate(client, { flagKey: FLAG, contextOf: (cart: Cart) => ({ targetingKey: cart.customerId }) });
    await until(() => gate.lastValue === true);
    assert.equal(gate.now({ customerId: "c-1", total: 1 }), true);
    // No call evaluates the flag here: the configuration-changed event alone turns now() off.
    provider.putConfiguration(flag(false));
    await until(() => gate.lastValue === false);
    assert.equal(gate.now({ customerId: "c-1", total: 1 }), false);
    provider.putConfiguration(flag(0.3));
    await until(() => gate.lastValue === 0.3);
    for (const cart of carts(500)) {
      assert.equal(gate.now(cart), stableFraction(cart.customerId, FLAG) < 0.3, cart.customerId);
    }
    gate.close();
    provider.putConfiguration(flag(true));
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(gate.lastValue, 0.3, "after close() change events are not followed");
    assert.equal(await gate({ customerId: "c-1", total: 1 }), true);
    assert.equal(gate.lastValue, true, "each evaluation refreshes the last answer");
  });

  it("now() is false before the flag is known, after a failed evaluation and when contextOf throws", async () => {
    let answer: OpenFeatureDetails<number> = { value: 0, errorCode: "PROVIDER_NOT_READY" };
    const client: OpenFeatureClient = {
      getBooleanDetails: () => Promise.resolve({ value: false, errorCode: "TYPE_MISMATCH" }),
      getNumberDetails: () => Promise.resolve(answer),
    };
    let throwing = false;
    const gate = openFeatureGate(client, {
      flagKey: FLAG,
      contextOf: (key: string) => {
        if (throwing) throw new Error("contextOf");
        return { targetingKey: key };
      },
    });
    assert.equal(gate.lastValue, undefined);
    assert.equal(gate.now("k"), false);
    await assert.rejects(gate("k"), /PROVIDER_NOT_READY/);
    assert.equal(gate.now("k"), false);
    answer = { value: 1 };
    assert.equal(await gate("k"), true);
    assert.equal(gate.now("k"), true);
    throwing = true;
    assert.equal(gate.now("k"), false);
    answer = { value: 7 };
    throwing = false;
    await assert.rejects(gate("k"), /not a fraction/);
    assert.equal(gate.lastValue, undefined, "a failed evaluation forgets the last value: off");
    assert.equal(gate.now("k"), false);
  });

  it("a slow answer never overwrites a newer one", async () => {
    const pending: Array<(details: OpenFeatureDetails<boolean>) => void> = [];
    const client: OpenFeatureClient = {
      getBooleanDetails: () => new Promise((resolve) => pending.push(resolve)),
      getNumberDetails: () => Promise.resolve({ value: 0, errorCode: "TYPE_MISMATCH" }),
    };
    const gate = openFeatureGate(client, { flagKey: FLAG });
    const first = gate();
    const second = gate();
    await until(() => pending.length === 3); // the initial read and the two calls
    pending[2]?.({ value: false });
    assert.equal(await second, false);
    pending[1]?.({ value: true });
    assert.equal(await first, true);
    pending[0]?.({ value: true });
    await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(gate.lastValue, false, "the newest evaluation (turned off) stands");
  });

  it("validates its arguments when the gate is built", () => {
    assert.throws(() => openFeatureGate({} as never, { flagKey: FLAG }), TypeError);
    assert.throws(() => openFeatureGate(OpenFeature.getClient(), { flagKey: "" }), /flagKey/);
  });
});

describe("openFeatureGate and promotion (API.md §5)", () => {
  it("rolls a promotion back at once when the flag is turned off, and promotes again when it comes back", async () => {
    const provider = new InMemoryProvider(flag(true));
    const client = await clientWith(provider);
    const gate = openFeatureGate(client, { flagKey: FLAG });
    await until(() => gate.lastValue === true);
    const sink = collector();
    const total = shadow((cart: Cart) => `old ${cart.total}`, (cart: Cart) => `new ${cart.total}`, {
      name: "promoted-total-flag",
      publish: sink,
      promote: 1,
      enabled: gate,
    });
    assert.equal(total({ customerId: "c-1", total: 1 }), "new 1", "flag on: the promoted candidate answers");
    provider.putConfiguration(flag(false));
    await until(() => gate.lastValue === false);
    assert.equal(total({ customerId: "c-2", total: 2 }), "old 2", "flag off: the control answers on the very next call");
    provider.putConfiguration(flag(true));
    await until(() => gate.lastValue === true);
    assert.equal(total({ customerId: "c-3", total: 3 }), "new 3", "flag back on: promoted again");
    await total.experiment.settled();
    const servedBy = sink.results.map((r) => r.servedBy);
    assert.ok(servedBy.includes("candidate"), `a promoted run was compared: ${JSON.stringify(servedBy)}`);
  });

  it("sends every call to the control when the gate's synchronous answer throws, reported as enabled", async () => {
    const errors: ExperimentError[] = [];
    const hostileGate = Object.assign(async () => true, {
      now(): boolean {
        throw new Error("flag store unreachable");
      },
    });
    const total = shadow((n: number) => `old ${n}`, (n: number) => `new ${n}`, {
      name: "promoted-total-throwing-now",
      publish: () => undefined,
      promote: 1,
      enabled: hostileGate,
      onError: (e) => errors.push(e),
    });
    assert.equal(total(1), "old 1");
    await total.experiment.settled();
    assert.ok(errors.some((e) => e.operation === "enabled"), "the throwing now() is an enabled error");
  });
});
