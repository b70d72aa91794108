/**
 * A guarded object hands out no unguarded route to a declared effect: not through `.constructor`,
 * not through a property descriptor, not through what its methods return (a connection, a
 * transaction, the real object itself), and not through a context backend swapped mid-run.
 */
import { strict as assert } from "node:assert";
import { AsyncLocalStorage, AsyncResource } from "node:async_hooks";
import fc from "fast-check";
import { PenumbraError, configure, guard, installTripwire, shadow, type ContextBackend, type Result } from "../../src/index";
import { collector, resetConfiguration } from "../support/capture";
import { leaksOf } from "../support/one-run";
import { get, httpServer } from "../support/servers";
import { runOnce as run } from "../support/one-run";

/** A client whose `send` does an in-memory effect, counted. */
class Outbox {
  sent: string[] = [];
  send(message: string): string {
    this.sent.push(message);
    return `sent ${message}`;
  }
  connect(): Connection {
    return new Connection(this);
  }
  async connectAsync(): Promise<Connection> {
    return new Connection(this);
  }
  self(): this {
    return this;
  }
  config(): { retries: number } {
    return { retries: 3 };
  }
}

/** What `connect()` hands out: a route to the same effect. */
class Connection {
  constructor(private readonly box: Outbox) {}
  send(message: string): string {
    this.box.sent.push(`via connection: ${message}`);
    return "ok";
  }
}

const blockedNames = (result: Result<unknown>): string[] => (result.candidates[0]?.effects ?? []).filter((e) => e.blocked).map((e) => e.name);

describe("routes out of a guarded object", () => {
  afterEach(resetConfiguration);

  it("keeps guarded.constructor.prototype.send applied to the guarded object on the guarded path", async () => {
    const box = new Outbox();
    const guarded = guard("outbox", box, { effects: ["send"] });
    const result = await run(
      () => guarded.send("control"),
      () => (guarded.constructor as typeof Outbox).prototype.send.call(guarded, "candidate"),
    );
    assert.deepEqual(box.sent, ["control"]);
    assert.deepEqual(blockedNames(result), ["outbox.send"]);
  });

  it("builds guarded instances with new guarded.constructor()", async () => {
    const guarded = guard("outbox", new Outbox(), { effects: ["send"] });
    const Ctor = guarded.constructor as typeof Outbox;
    let made: Outbox | undefined;
    const result = await run(
      () => 1,
      () => {
        made = new Ctor();
        made.send("candidate");
        return 1;
      },
    );
    assert.ok(made instanceof Outbox);
    assert.deepEqual(made?.sent, []);
    assert.deepEqual(blockedNames(result), ["outbox.send"]);
  });

  it("describes the guarded method in Object.getOwnPropertyDescriptor, for own methods and accessors", async () => {
    const box = new Outbox();
    const own = Object.assign(box, { flush: (m: string) => box.send(`flush ${m}`) });
    Object.defineProperty(own, "later", { get: () => (m: string) => box.send(`later ${m}`), configurable: true, enumerable: false });
    const guarded = guard("outbox", own, { effects: ["flush", "later"] });
    const result = await run(
      () => 1,
      () => {
        (Object.getOwnPropertyDescriptor(guarded, "flush")?.value as (m: string) => string)("candidate");
        const later = Object.getOwnPropertyDescriptor(guarded, "later")?.get?.() as (m: string) => string;
        later("candidate");
        return 1;
      },
    );
    assert.deepEqual(box.sent, []);
    assert.deepEqual(blockedNames(result), ["outbox.flush", "outbox.later"]);
  });

  it("guards the connection a method returns, sync or as a promise, with paths counted from the root", async () => {
    const box = new Outbox();
    const guarded = guard("outbox", box, { effects: ["send"] });
    const result = await run(
      async () => guarded.connect().send("control"),
      async () => {
        guarded.connect().send("candidate-sync");
        (await guarded.connectAsync()).send("candidate-async");
        return "ok";
      },
    );
    assert.deepEqual(box.sent, ["via connection: control"]);
    assert.deepEqual(blockedNames(result), ["outbox.send", "outbox.send"]);
  });

  it("hands the proxy back where a method returns the real object, and plain data as it is", () => {
    const box = new Outbox();
    const guarded = guard("outbox", box, { effects: ["send"] });
    assert.equal(guarded.self(), guarded);
    assert.deepEqual(guarded.config(), { retries: 3 });
    assert.equal(Object.getPrototypeOf(guarded.config()), Object.prototype);
  });

  it("survives hostile values handed back by a method: throwing getters, throwing proxies, null prototypes, cycles", async () => {
    const hostile = fc.oneof(
      fc.anything(),
      fc.constant(Object.create(null) as object),
      fc.constant(new Proxy({}, { get: () => { throw new Error("trap"); }, getPrototypeOf: () => { throw new Error("trap"); } })),
      fc.constant(Object.defineProperty({}, "then", { get: () => { throw new Error("getter"); } })),
      fc.constant((() => { const a: Record<string, unknown> = {}; a.self = a; return a; })()),
    );
    await fc.assert(
      fc.asyncProperty(hostile, async (value) => {
        const client = { hand: () => value };
        const guarded = guard("client", client, { effects: [] });
        // Looking at what a read hands back never throws, and a value that is no client comes back as it is.
        assert.equal(guarded.hand(), value);
      }),
      { numRuns: 60 },
    );
  });

  it("leaves a raw prototype method taken from Object.getPrototypeOf beyond the proxy, and the tripwire catches its network variant", async () => {
    const server = await httpServer();
    const uninstall = installTripwire();
    class Notifier {
      constructor(private readonly port: number) {}
      notify(what: string): Promise<string> {
        return get(`http://127.0.0.1:${this.port}/${what}`);
      }
    }
    const guarded = guard("notifier", new Notifier(server.port), { effects: ["notify"] });
    try {
      const sink = collector();
      const wrapped = shadow(
        () => guarded.notify("control"),
        () => (Object.getPrototypeOf(guarded) as Notifier).notify.call(guarded, "candidate"),
        { publish: sink },
      );
      await wrapped();
      await wrapped.experiment.settled();
      const result = sink.results[0] as Result<unknown>;
      assert.deepEqual(server.requests, ["GET /control"]);
      assert.equal(result.candidates[0]?.value, "error ESHADOW");
      assert.deepEqual(leaksOf(result), [{ kind: "network", target: `GET http://127.0.0.1:${server.port}/candidate`, blocked: true }]);
    } finally {
      uninstall();
      await server.close();
    }
  });
});

describe("replacing the context backend", () => {
  afterEach(resetConfiguration);

  function alsBackend(): ContextBackend {
    const storage = new AsyncLocalStorage<unknown>();
    return { name: "test-als", run: (s, fn) => storage.run(s, fn), get: () => storage.getStore(), bind: (fn) => AsyncResource.bind(fn as never) };
  }

  it("is refused while a shadow run is in flight, naming how many, and the run's guard stays shut", async () => {
    const box = new Outbox();
    const guarded = guard("outbox", box, { effects: ["send"] });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    const sink = collector();
    const wrapped = shadow(
      async () => "control",
      async () => {
        started();
        await gate;
        return guarded.send("candidate");
      },
      { publish: sink },
    );
    await wrapped();
    await running;
    assert.throws(
      () => configure({ context: alsBackend() }),
      (e: unknown) => e instanceof PenumbraError && e.code === "PENUMBRA_RUNS_IN_FLIGHT" && /1 shadow run is in flight/.test(e.message),
    );
    release();
    await wrapped.experiment.settled();
    assert.deepEqual(box.sent, []);
    assert.deepEqual(blockedNames(sink.results[0] as Result<unknown>), ["outbox.send"]);
    configure({ context: alsBackend() }); // accepted once nothing is in flight
  });

  it("keeps a candidate that outlived its timeout a shadow run after the backend is replaced", async () => {
    const box = new Outbox();
    const guarded = guard("outbox", box, { effects: ["send"] });
    let later!: Promise<void>;
    const wrapped = shadow(
      async () => "control",
      () =>
        new Promise<string>(() => {
          later = new Promise<void>((resolve) =>
            setTimeout(() => {
              guarded.send("after the swap");
              resolve();
            }, 80),
          );
        }),
      { publish: () => undefined, timeoutMs: 20 },
    );
    await wrapped();
    await wrapped.experiment.settled();
    configure({ context: alsBackend() });
    await later;
    assert.deepEqual(box.sent, []);
  });
});
