/** Guardrails switch a bad candidate off by themselves; the control never notices. */
import { strict as assert } from "node:assert";
import * as net from "node:net";
import { installTripwire, shadow, type TripEvent } from "../../src/index";
import { collector, errorSink } from "../support/capture";

describe("guardrails in the engine", () => {
  it("trips on the mismatch rate once minRuns results are in, disables the experiment, and tells onTrip and publishers once", async () => {
    const trips: TripEvent[] = [];
    const publisherTrips: TripEvent[] = [];
    const sink = collector();
    let candidateRuns = 0;
    const wrapped = shadow(
      (n: number) => n,
      (n: number) => {
        candidateRuns++;
        return n + 1;
      },
      {
        name: "bad-candidate",
        publish: [sink, { publish: () => undefined, trip: (e: TripEvent) => publisherTrips.push(e) }],
        guardrails: { maxMismatchRate: 0.5, minRuns: 10, onTrip: (e) => trips.push(e) },
      },
    );
    for (let i = 0; i < 10; i++) {
      assert.equal(wrapped(i), i);
      await wrapped.experiment.settled();
    }
    assert.equal(wrapped.experiment.enabled, false);
    assert.match(wrapped.experiment.disabledReason ?? "", /^guardrail mismatch-rate: 1 > 0.5$/);
    assert.deepEqual(trips, [{ experiment: "bad-candidate", reason: "mismatch-rate", value: 1, threshold: 0.5 }]);
    assert.deepEqual(publisherTrips, trips);
    for (let i = 0; i < 5; i++) assert.equal(wrapped(i), i, "the control still answers");
    await wrapped.experiment.settled();
    assert.equal(candidateRuns, 10, "no candidate runs after the trip");
    wrapped.experiment.enable();
    assert.equal(wrapped.experiment.enabled, true);
    assert.equal(wrapped.experiment.disabledReason, undefined);
    wrapped(1);
    await wrapped.experiment.settled();
    assert.equal(candidateRuns, 11, "enable() turns it back on with a fresh window");
    assert.equal(trips.length, 1, "a fresh window does not trip again at once");
  });

  it("does not trip below the threshold or before minRuns", async () => {
    const trips: TripEvent[] = [];
    const wrapped = shadow((n: number) => n, (n: number) => (n % 10 === 0 ? -1 : n), {
      publish: collector(),
      guardrails: { maxMismatchRate: 0.2, minRuns: 20, onTrip: (e) => trips.push(e) },
    });
    for (let i = 0; i < 40; i++) {
      wrapped(i);
      await wrapped.experiment.settled();
    }
    assert.equal(wrapped.experiment.enabled, true);
    assert.deepEqual(trips, []);
  });

  it("switches the experiment off at the first leak even without a guardrails option", async () => {
    const uninstall = installTripwire({ network: "report" });
    const server = net.createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as net.AddressInfo).port;
    try {
      const sink = collector();
      const wrapped = shadow(
        async () => "ok",
        () =>
          new Promise<string>((resolve) => {
            const socket = net.connect(port, "127.0.0.1", () => socket.end());
            socket.on("close", () => resolve("ok"));
            socket.on("error", () => resolve("ok"));
          }),
        { publish: sink },
      );
      assert.equal(await wrapped(), "ok");
      await wrapped.experiment.settled();
      assert.equal(sink.results[0]?.candidates[0]?.leaks.length, 1);
      assert.equal(wrapped.experiment.enabled, false);
      assert.match(wrapped.experiment.disabledReason ?? "", /^guardrail leak/);
    } finally {
      uninstall();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it("reports an onTrip that throws as operation 'onTrip' and still disables the experiment", async () => {
    const errors = errorSink();
    const wrapped = shadow((n: number) => n, (n: number) => n + 1, {
      publish: collector(),
      onError: errors.onError,
      guardrails: {
        maxMismatchRate: 0.5,
        minRuns: 1,
        onTrip: () => {
          throw new Error("pager down");
        },
      },
    });
    wrapped(1);
    await wrapped.experiment.settled();
    assert.equal(wrapped.experiment.enabled, false);
    assert.deepEqual(errors.errors.map((e) => e.operation), ["onTrip"]);
  });
});
