import { strict as assert } from "node:assert";
import { Experiment, shadow } from "../../src/index";
import { collector, errorSink, resetConfiguration } from "../support/capture";

describe("shadow()", () => {
  afterEach(resetConfiguration);

  it("returns the control's value for a synchronous control, whatever the candidate returns", async () => {
    const sink = collector();
    const double = shadow((n: number) => n * 2, (n: number) => n * 3, { publish: sink });
    assert.equal(double(4), 8);
    await double.experiment.settled();
    assert.equal(sink.results.length, 1);
  });

  it("returns the very promise an asynchronous control returns", async () => {
    const promise = Promise.resolve(42);
    const wrapped = shadow(() => promise, async () => 41, { publish: collector() });
    assert.equal(wrapped(), promise);
    assert.equal(await wrapped(), 42);
    await wrapped.experiment.settled();
  });

  it("rethrows the control's own error object", async () => {
    const boom = new TypeError("boom");
    const wrapped = shadow(
      (): number => {
        throw boom;
      },
      () => 1,
      { publish: collector() },
    );
    assert.throws(() => wrapped(), (e) => e === boom);
    await wrapped.experiment.settled();
  });

  it("names the experiment after the control function unless a name is given", () => {
    function legacyTotal(): number {
      return 1;
    }
    assert.equal(shadow(legacyTotal, () => 1).experiment.name, "legacyTotal");
    assert.equal(shadow(() => 1, () => 1, { name: "totals" }).experiment.name, "totals");
    const anonymous = [() => 1][0] as () => number;
    assert.equal(shadow(anonymous, () => 1).experiment.name, "experiment");
  });

  it("returns a function whose experiment is an Experiment with the control and one candidate", () => {
    const wrapped = shadow((a: number) => a, (a: number) => a);
    assert.ok(wrapped.experiment instanceof Experiment);
  });

  it("forwards its this to the control and to the candidate by reference", async () => {
    const seen: unknown[] = [];
    const service = {
      rate: 2,
      total: shadow(
        function (this: { rate: number }, n: number) {
          seen.push(this);
          return n * this.rate;
        },
        function (this: { rate: number }, n: number) {
          seen.push(this);
          return n * this.rate;
        },
        { publish: collector() },
      ),
    };
    assert.equal(service.total(3), 6);
    await service.total.experiment.settled();
    assert.deepEqual(seen, [service, service]);
    assert.equal(seen[1], service);
  });

  it("starts the candidate on a later turn of the event loop, never inside the caller's call", async () => {
    let candidateRan = false;
    const wrapped = shadow(
      () => 1,
      () => {
        candidateRan = true;
        return 1;
      },
      { publish: collector() },
    );
    wrapped();
    assert.equal(candidateRan, false);
    await Promise.resolve();
    assert.equal(candidateRan, false, "not even in the caller's microtasks");
    await wrapped.experiment.settled();
    assert.equal(candidateRan, true);
  });

  it("publishes a matched result when both sides agree", async () => {
    const sink = collector();
    const wrapped = shadow((a: number) => ({ total: a }), (a: number) => ({ total: a }), { publish: sink });
    wrapped(5);
    await wrapped.experiment.settled();
    const [result] = sink.results;
    assert.ok(result);
    assert.equal(result.matched, true);
    assert.equal(result.mismatched, false);
    assert.deepEqual(result.outcomes, { candidate: "matched" });
    assert.equal(result.servedBy, "control");
    assert.deepEqual(result.control.value, { total: 5 });
    assert.deepEqual(result.candidates[0]?.value, { total: 5 });
  });

  it("publishes a mismatch that names the differing field and both values", async () => {
    const sink = collector();
    const wrapped = shadow(() => ({ total: 49.9, currency: "EUR" }), () => ({ total: 51.4, currency: "EUR" }), { publish: sink });
    wrapped();
    await wrapped.experiment.settled();
    const [result] = sink.results;
    assert.equal(result?.mismatched, true);
    assert.equal(result?.mismatches[0]?.summary, "total=49.9 vs 51.4");
    assert.equal(result?.mismatches[0]?.kind, "value");
    assert.deepEqual(result?.mismatches[0]?.diffs, [{ path: "total", kind: "changed", control: 49.9, candidate: 51.4 }]);
  });

  it("throws a TypeError naming the control when it is not a function", () => {
    assert.throws(() => shadow(42 as unknown as () => number, () => 1), (e: unknown) => e instanceof TypeError && /control/.test(e.message));
  });

  it("reports nothing when all goes well", async () => {
    const sink = errorSink();
    const wrapped = shadow(() => 1, () => 1, { publish: collector(), onError: sink.onError });
    wrapped();
    await wrapped.experiment.settled();
    assert.deepEqual(sink.errors, []);
  });
});
