/** Canary promotion: the new code answers a share of calls for real, the old code runs in the shadow. */
import { strict as assert } from "node:assert";
import { guard, isShadow, shadow, type Result } from "../../src/index";
import { collector, errorSink } from "../support/capture";

class Ledger {
  writes: string[] = [];
  record(entry: string): string {
    this.writes.push(entry);
    return entry;
  }
}

describe("promote", () => {
  it("with promote: 1 the candidate answers and performs its effects for real; the control runs in the shadow and is compared", async () => {
    const ledger = new Ledger();
    const client = guard("ledger", ledger, { effects: ["record"] });
    const sink = collector();
    const seen: Record<string, boolean> = {};
    const wrapped = shadow(
      async (n: number) => {
        seen.control = isShadow();
        client.record(`old-${n}`);
        return { total: n };
      },
      async (n: number) => {
        seen.candidate = isShadow();
        client.record(`new-${n}`);
        return { total: n + 1 };
      },
      { publish: sink, promote: 1 },
    );
    assert.deepEqual(await wrapped(5), { total: 6 }, "the caller gets the candidate's answer");
    await wrapped.experiment.settled();
    assert.deepEqual(seen, { candidate: false, control: true });
    assert.deepEqual(ledger.writes, ["new-5"], "only the serving candidate's effect happened");
    const result = sink.results[0] as Result<unknown>;
    assert.equal(result.servedBy, "candidate");
    assert.equal(result.control.name, "control");
    assert.deepEqual(result.control.value, { total: 5 }, "result.control is still the old behaviour");
    // Each observation's effects carry its own role; `blocked` says which side was sunk.
    assert.deepEqual(result.control.effects.map((e) => [e.role, e.blocked]), [["control", true]]);
    assert.deepEqual(result.candidates[0]?.effects.map((e) => [e.role, e.blocked]), [["candidate", false]]);
    assert.equal(result.mismatches[0]?.summary, "total=5 vs 6, effects[0] ledger.record args[0]=\"old-5\" vs \"new-5\"");
  });

  it("promotes the share given by a number, sticky per sampleBy key and salted apart from sampling", async () => {
    const wrapped = shadow((id: string) => `old:${id}`, (id: string) => `new:${id}`, {
      publish: collector(),
      promote: 0.3,
      sampleBy: (id) => id,
    });
    const first = Array.from({ length: 2000 }, (_, i) => wrapped(`c${i}`));
    const share = first.filter((a) => a.startsWith("new:")).length / first.length;
    assert.ok(share > 0.22 && share < 0.38, `promoted share ${share}`);
    const again = Array.from({ length: 2000 }, (_, i) => wrapped(`c${i}`));
    assert.deepEqual(again, first, "the same customer gets the same side every time");
    await wrapped.experiment.settled();
  });

  it("accepts a predicate, and a predicate that throws is reported and the control serves", async () => {
    const errors = errorSink();
    const byTier = shadow((t: string) => `old:${t}`, (t: string) => `new:${t}`, { publish: collector(), promote: (t) => t === "beta" });
    assert.equal(byTier("beta"), "new:beta");
    assert.equal(byTier("gold"), "old:gold");
    const broken = shadow(() => "old", () => "new", {
      publish: collector(),
      onError: errors.onError,
      promote: () => {
        throw new Error("bad predicate");
      },
    });
    assert.equal(broken(), "old");
    assert.deepEqual(errors.errors.map((e) => e.operation), ["promote"]);
    await byTier.experiment.settled();
    await broken.experiment.settled();
  });

  it("sends every call back to the control once the experiment is disabled or tripped", async () => {
    const wrapped = shadow((n: number) => n, (n: number) => n + 100, {
      publish: collector(),
      promote: 1,
      guardrails: { maxMismatchRate: 0.5, minRuns: 3 },
    });
    assert.equal(wrapped(1), 101);
    await wrapped.experiment.settled();
    assert.equal(wrapped(2), 102);
    await wrapped.experiment.settled();
    assert.equal(wrapped(3), 103);
    await wrapped.experiment.settled();
    assert.equal(wrapped.experiment.enabled, false, "three mismatches out of three tripped it");
    assert.equal(wrapped(4), 4, "the control answers again");
  });

  it("serves the candidate bare when the other gates do not admit the call", async () => {
    const sink = collector();
    const wrapped = shadow(() => "old", () => "new", { publish: sink, promote: 1, sample: 0 });
    assert.equal(wrapped(), "new");
    await wrapped.experiment.settled();
    assert.equal(sink.results.length, 0, "nothing is compared or published");
  });
});
