/** Step 4 of a comparison: intended effects against performed ones, on the published result. */
import { strict as assert } from "node:assert";
import { Scorecard, guard, shadow, type Result } from "../../src/index";
import { collector, errorSink } from "../support/capture";
import { revokedProxy, throwingProxy } from "../reliability/hostile";

function payments(): { charges: Array<{ amount: number; customer: string }>; charge(req: { amount: number; customer: string }): Promise<{ id: string }> } {
  const charges: Array<{ amount: number; customer: string }> = [];
  return {
    charges,
    async charge(req) {
      charges.push(req);
      return { id: `ch_${charges.length}` };
    },
  };
}

type CheckoutOptions = NonNullable<Parameters<typeof shadow<[string], Promise<{ ok: boolean }>>>[2]>;

async function run(controlAmount: number, candidateAmount: number, options: CheckoutOptions = {}): Promise<{ result: Result<unknown>; performed: number }> {
  const target = payments();
  const client = guard("payments", target, { effects: ["charge"], sink: { charge: () => ({ id: "ch_shadow" }) } });
  const sink = collector();
  const checkout = shadow(
    async (customer: string) => {
      await client.charge({ amount: controlAmount, customer });
      return { ok: true };
    },
    async (customer: string) => {
      await client.charge({ amount: candidateAmount, customer });
      return { ok: true };
    },
    { ...options, publish: sink },
  );
  assert.deepEqual(await checkout("cus_1"), { ok: true });
  await checkout.experiment.settled();
  const [result] = sink.results;
  assert.ok(result);
  return { result, performed: target.charges.length };
}

describe("effect comparison", () => {
  it("matches when the candidate intends the same effects the control performed", async () => {
    const { result, performed } = await run(4990, 4990);
    assert.equal(result.matched, true);
    assert.equal(performed, 1, "only the control's charge reached the client");
    assert.equal(result.candidates[0]?.effects[0]?.blocked, true);
  });

  it("reports a differing argument as kind 'effects' with the effect named in the summary", async () => {
    const { result, performed } = await run(4990, 5140);
    assert.equal(performed, 1);
    const mismatch = result.mismatches[0];
    assert.equal(mismatch?.kind, "effects");
    assert.equal(mismatch?.summary, "effects[0] payments.charge args[0].amount=4990 vs 5140");
    assert.deepEqual(mismatch?.diffs, [{ path: "effects[0].args[0].amount", kind: "changed", control: 4990, candidate: 5140 }]);
  });

  it("reports an effect the candidate intends but the control did not perform", async () => {
    const target = payments();
    const client = guard("payments", target, { effects: ["charge"] });
    const sink = collector();
    const wrapped = shadow(
      async () => 1,
      async () => {
        await client.charge({ amount: 1, customer: "c" });
        return 1;
      },
      { publish: sink },
    );
    await wrapped();
    await wrapped.experiment.settled();
    const mismatch = sink.results[0]?.mismatches[0];
    assert.equal(mismatch?.kind, "effects");
    assert.deepEqual(mismatch?.diffs.map((d) => [d.path, d.kind]), [["effects[0]", "added"]]);
    assert.match(mismatch?.summary ?? "", /^effects\[0\] payments\.charge=\(missing\) vs \[\{"amount":1,"customer":"c"\}\]$/);
    assert.equal(target.charges.length, 0);
  });

  it("ranks a value difference above an effects difference", async () => {
    const target = payments();
    const client = guard("payments", target, { effects: ["charge"] });
    const sink = collector();
    const wrapped = shadow(
      async () => {
        await client.charge({ amount: 1, customer: "c" });
        return { total: 1 };
      },
      async () => {
        await client.charge({ amount: 2, customer: "c" });
        return { total: 2 };
      },
      { publish: sink },
    );
    await wrapped();
    await wrapped.experiment.settled();
    const mismatch = sink.results[0]?.mismatches[0];
    assert.equal(mismatch?.kind, "value");
    assert.equal(mismatch?.summary, "total=1 vs 2, effects[0] payments.charge args[0].amount=1 vs 2");
  });

  it("compares nothing with compareEffects: false", async () => {
    const { result } = await run(4990, 5140, { compareEffects: false });
    assert.equal(result.matched, true);
  });

  it("lets a compareEffects function decide, and reports one that throws as operation 'compareEffects'", async () => {
    const lenient = await run(4990, 5140, { compareEffects: (control, candidate) => control.length === candidate.length });
    assert.equal(lenient.result.matched, true);
    const errors = errorSink();
    const broken = await run(4990, 4990, {
      onError: errors.onError,
      compareEffects: () => {
        throw new Error("cannot compare");
      },
    });
    assert.equal(broken.result.mismatches[0]?.kind, "effects");
    assert.match(broken.result.mismatches[0]?.summary ?? "", /compareEffects\(\) threw Error: cannot compare/);
    assert.deepEqual(errors.errors.map((e) => e.operation), ["compareEffects"]);
  });

  it("explains effects whose arguments cannot be walked as an effects mismatch, reported as 'compareEffects', whatever the values did", async () => {
    for (const [label, makeArg] of [["throwing traps", () => throwingProxy({ amount: 1 })], ["revoked", revokedProxy]] as const) {
      const sent: unknown[] = [];
      const client = guard("payments", { charge: (req: unknown) => void sent.push(req) }, { effects: ["charge"] });
      const sink = collector();
      const errors = errorSink();
      // Each side charges with its own unreadable argument: kept by reference, no walk can read either.
      const checkout = shadow(
        () => { client.charge(makeArg()); return { ok: true }; },
        () => { client.charge(makeArg()); return { ok: true }; },
        { name: `unwalkable-effects-${label}`, publish: sink, onError: errors.onError },
      );
      assert.deepEqual(checkout(), { ok: true });
      await checkout.experiment.settled();
      assert.equal(sent.length, 1, `${label}: only the control's charge ran`);
      const mismatch = sink.results[0]?.mismatches[0];
      assert.equal(mismatch?.kind, "effects", `${label}: the values matched; the effects could not be compared`);
      assert.match(mismatch?.summary ?? "", /^effects could not be compared: /, label);
      const card = new Scorecard();
      card.publish(sink.results[0] as Result<unknown>);
      assert.deepEqual(card.summary(`unwalkable-effects-${label}`)?.reasons.map((r) => r.reason), ["effects could not be compared"], `${label}: a named reason, not "unexplained"`);
      const operations = errors.errors.map((e) => e.operation);
      assert.equal(operations.filter((o) => o === "compareEffects").length, 1, label);
      // The guard says once per side that it could not snapshot the argument; nothing else fails.
      assert.deepEqual(operations.filter((o) => o !== "compareEffects"), ["guard", "guard"], label);
    }
  });
});
