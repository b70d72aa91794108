/**
 * The tripwire against one ioredis client shared by overlapping control and candidate runs, on a real
 * redis-server (Debian's `redis-server`, started here as a plain process on a loopback port). A
 * Redis client is a pipelined connection with queues of its own: the offline queue (commands issued
 * before the connection is ready, flushed from the connect callback), the auto-pipeline (commands of
 * one event-loop turn batched into one socket write, sent from the first caller's `setImmediate`)
 * and the replies it waits for. Judged by what the server holds: no candidate write, each control's
 * exactly once.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import fc from "fast-check";
import Redis, { type RedisOptions } from "ioredis";
import { guard, installTripwire, isShadow, shadow, type Result } from "../../src/index";
import { startRedis } from "../support/servers";

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** How a behaviour writes to Redis. */
type Form = "commands" | "pipeline" | "multi" | "callback";

const FORMS: readonly Form[] = ["commands", "pipeline", "multi", "callback"];

/**
 * Writes for `who` through `client` in the given form: INCR of `<prefix>:count`, LPUSH of `who` on
 * `<prefix>:list`, SET of `<prefix>:<who>`, then a GET of it. Settles with "written" or the error's
 * code (a blocked command rejects), never rejects.
 */
async function write(client: Redis, form: Form, prefix: string, who: string): Promise<string> {
  try {
    if (form === "commands") {
      await client.incr(`${prefix}:count`);
      await client.lpush(`${prefix}:list`, who);
      await client.set(`${prefix}:${who}`, "1");
    } else if (form === "pipeline") {
      const replies = await client.pipeline().incr(`${prefix}:count`).lpush(`${prefix}:list`, who).set(`${prefix}:${who}`, "1").exec();
      const failed = replies?.find(([error]) => error !== null);
      if (failed !== undefined) throw failed[0];
    } else if (form === "multi") {
      await client.multi().incr(`${prefix}:count`).lpush(`${prefix}:list`, who).set(`${prefix}:${who}`, "1").exec();
    } else {
      await new Promise<void>((resolve, reject) => {
        void client.incr(`${prefix}:count`, (error) => {
          if (error) return reject(error);
          void client.lpush(`${prefix}:list`, who, (error2) => {
            if (error2) return reject(error2);
            void client.set(`${prefix}:${who}`, "1", (error3) => (error3 ? reject(error3) : resolve()));
          });
        });
      });
    }
    return "written";
  } catch (error) {
    return `error ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`;
  }
}

interface Call {
  control: Form;
  candidate: Form;
  controlDelay: number;
  candidateDelay: number;
}

describe("the tripwire against one ioredis client shared by overlapping control and candidate runs", function () {
  this.timeout(20_000);
  let stop: (() => Promise<void>) | undefined;
  let port = 0;
  let admin: Redis;
  let uninstall: (() => void) | undefined;
  const clients: Redis[] = [];

  before(async function () {
    this.timeout(30_000);
    const server = await startRedis();
    if ("skip" in server) {
      console.log(`      skipped: ${server.skip}`);
      this.skip();
      return;
    }
    stop = server.stop;
    port = server.port;
    admin = new Redis({ port, host: "127.0.0.1", lazyConnect: true });
    await admin.connect();
  });

  after(async () => {
    admin?.disconnect();
    await stop?.();
  });

  afterEach(() => {
    uninstall?.();
    uninstall = undefined;
    for (const client of clients.splice(0)) client.disconnect();
  });

  function client(options: RedisOptions = {}): Redis {
    const made = new Redis({ port, host: "127.0.0.1", ...options });
    made.on("error", () => undefined);
    clients.push(made);
    return made;
  }

  /** Every key under `prefix`, as the server has them. */
  async function keysOf(prefix: string): Promise<string[]> {
    return (await admin.keys(`${prefix}:*`)).sort();
  }

  async function check(shared: Redis, calls: readonly Call[], tag: string, timeoutMs = 4000): Promise<void> {
    const results: Result<unknown>[] = [];
    const reported: string[] = [];
    const controlOutcomes = new Map<number, string>();
    const run = shadow(
      async (i: number) => {
        const call = calls[i];
        if (call === undefined) return "none";
        await sleep(call.controlDelay);
        controlOutcomes.set(i, await write(shared, call.control, `control-${tag}`, `c${i}`));
        return String(i);
      },
      async (i: number) => {
        const call = calls[i];
        if (call === undefined) return "none";
        await sleep(call.candidateDelay);
        return write(shared, call.candidate, `candidate-${tag}`, `c${i}`);
      },
      {
        name: `ioredis ${tag}`,
        publish: (r: Result<unknown>) => void results.push(r),
        onError: (e) => void reported.push(e.operation),
        guardrails: { disableOnLeak: false },
        timeoutMs,
      },
    );
    const ids = calls.map((_, i) => i);
    const answers = await Promise.all(ids.map((i) => run(i)));
    await run.experiment.settled();
    await sleep(50);

    assert.deepEqual(answers, ids.map(String), "each caller gets its control's answer");
    for (const i of ids) assert.equal(controlOutcomes.get(i), "written", `control ${i}'s commands succeed`);
    assert.deepEqual(await keysOf(`candidate-${tag}`), [], "no candidate key is written");
    assert.equal(await admin.get(`control-${tag}:count`), String(ids.length), "every control INCR arrives exactly once");
    assert.deepEqual((await admin.lrange(`control-${tag}:list`, 0, -1)).sort(), ids.map((i) => `c${i}`).sort(), "every control LPUSH arrives exactly once");
    assert.deepEqual(reported.filter((operation) => operation !== "candidateFault"), []);
    assert.equal(results.length, ids.length, "one result per call");
    for (const result of results) {
      const i = Number(result.control.value);
      const candidate = result.candidates[0];
      assert.ok(candidate !== undefined);
      assert.deepEqual(result.control.leaks, [], `control ${i} has no leak`);
      assert.ok(candidate.threw || /^error /.test(String(candidate.value)), `candidate ${i}'s write fails`);
      assert.ok(candidate.leaks.length >= 1, `candidate ${i}'s attempt is a leak on its own observation`);
      for (const leak of candidate.leaks) assert.equal(leak.blocked, true);
    }
  }

  it("writes no candidate key through a shared ready client, in each form", async () => {
    uninstall = installTripwire();
    const shared = client();
    await shared.ping();
    let n = 0;
    for (const control of FORMS) {
      for (const candidate of FORMS) {
        await check(shared, [{ control, candidate, controlDelay: 0, candidateDelay: 0 }, { control, candidate, controlDelay: 0, candidateDelay: 0 }], `f${n++}`);
      }
    }
  });

  it("writes no candidate key and every control key once, for generated interleavings and forms", async () => {
    uninstall = installTripwire();
    const shared = client();
    await shared.ping();
    let n = 0;
    const form = fc.constantFrom(...FORMS);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ control: form, candidate: form, controlDelay: fc.integer({ min: 0, max: 5 }), candidateDelay: fc.integer({ min: 0, max: 5 }) }), { minLength: 1, maxLength: 4 }),
        async (calls) => check(shared, calls, `g${n++}`),
      ),
      { numRuns: 25 },
    );
  });

  it("writes no candidate key from the offline queue: commands issued before the connection is ready", async () => {
    uninstall = installTripwire();
    const shared = client({ lazyConnect: true });
    await check(shared, FORMS.map((f) => ({ control: f, candidate: f, controlDelay: 0, candidateDelay: 0 })), "offline");
  });

  it("writes no candidate key through enableAutoPipelining, whose batches carry several runs' commands", async () => {
    uninstall = installTripwire();
    const shared = client({ enableAutoPipelining: true });
    await shared.ping();
    let n = 0;
    const form = fc.constantFrom(...FORMS);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ control: form, candidate: form, controlDelay: fc.integer({ min: 0, max: 2 }), candidateDelay: fc.integer({ min: 0, max: 2 }) }), { minLength: 1, maxLength: 4 }),
        async (calls) => check(shared, calls, `a${n++}`),
      ),
      { numRuns: 20 },
    );
  });

  it("publishes nothing from a candidate: a subscriber on another connection hears the control only", async () => {
    uninstall = installTripwire();
    const shared = client();
    const subscriber = client();
    const heard: string[] = [];
    subscriber.on("message", (_channel: string, message: string) => heard.push(message));
    await subscriber.subscribe("orders");
    const run = shadow(
      async (id: string) => {
        await shared.publish("orders", `control ${id}`);
        return id;
      },
      async (id: string) => {
        await shared.publish("orders", `CANDIDATE ${id}`);
        return id;
      },
      { name: "ioredis publish", publish: () => undefined, onError: () => undefined, guardrails: { disableOnLeak: false } },
    );
    assert.deepEqual(await Promise.all(["1", "2", "3"].map((id) => run(id))), ["1", "2", "3"]);
    await run.experiment.settled();
    await sleep(100);
    assert.deepEqual([...heard].sort(), ["control 1", "control 2", "control 3"]);
  });

  it("writes no candidate key when a candidate times out with its commands still in the offline queue", async () => {
    uninstall = installTripwire();
    const shared = client({ lazyConnect: true });
    const results: Result<unknown>[] = [];
    const run = shadow(
      async () => "control",
      async () => {
        const written = write(shared, "commands", "late", "c0");
        await sleep(10_000);
        return written;
      },
      { name: "ioredis timeout", publish: (r: Result<unknown>) => void results.push(r), onError: () => undefined, guardrails: { disableOnLeak: false }, timeoutMs: 50 },
    );
    assert.equal(await run(), "control");
    await run.experiment.settled();
    assert.equal(results[0]?.candidates[0]?.timedOut, true);
    // The connection comes up after the candidate's run is over; its queued commands must not go out.
    await shared.connect().catch(() => undefined);
    await shared.ping().catch(() => undefined);
    await sleep(100);
    assert.deepEqual(await keysOf("late"), []);
  });

  /** The commands redis-server executes from now on, as MONITOR lines, until `stop()`. */
  async function monitor(): Promise<{ lines: string[]; stop(): Promise<void> }> {
    const watcher = client();
    const lines: string[] = [];
    const feed = await watcher.monitor();
    feed.on("monitor", (_time: string, args: string[]) => lines.push(args.join(" ")));
    return { lines, stop: async () => void feed.disconnect() };
  }

  for (const first of ["candidate", "control"] as const) {
    it(`sends a control's auto-pipelined command once and a candidate's never when both share one batch, the ${first}'s queued first`, async () => {
      uninstall = installTripwire();
      const shared = client({ enableAutoPipelining: true });
      await shared.ping();
      const feed = await monitor();
      // Auto-pipelining makes one pipeline per batch: counting them shows both commands shared one.
      let batches = 0;
      const makePipeline = shared.pipeline.bind(shared);
      shared.pipeline = ((...args: Parameters<typeof shared.pipeline>) => {
        batches++;
        return makePipeline(...args);
      }) as typeof shared.pipeline;
      let open!: () => void;
      const gate = new Promise<void>((resolve) => (open = resolve));
      const outcomes: string[] = [];
      const results: Result<unknown>[] = [];
      const run = shadow(
        async (id: string) => {
          if (id === "b") {
            // Queued in the same event-loop turn as call a's candidate: one auto-pipeline batch.
            if (first === "candidate") await gate;
            else await Promise.resolve();
            await shared.incr(`batch-${first}:control`);
          }
          return id;
        },
        async (id: string) => {
          if (id !== "a") return "idle";
          await gate;
          try {
            await shared.incr(`batch-${first}:CANDIDATE`);
            return "written";
          } catch (error) {
            return `error ${(error as NodeJS.ErrnoException).code ?? String(error)}`;
          }
        },
        { name: `ioredis batch ${first}`, publish: (r: Result<unknown>) => void results.push(r), onError: (e) => void outcomes.push(e.operation), guardrails: { disableOnLeak: false } },
      );
      assert.equal(await run("a"), "a");
      await sleep(20); // call a's candidate is now waiting at the gate
      const b = run("b");
      if (first === "candidate") {
        await sleep(20);
        open();
      } else {
        // The control queues its command first, then the gate lets the candidate queue in the same turn.
        setImmediate(() => undefined);
        queueMicrotask(open);
      }
      assert.equal(await b, "b");
      await run.experiment.settled();
      await sleep(50);
      await feed.stop();
      assert.equal(batches, 1, "the candidate's and the control's INCR were queued in one batch");
      assert.equal(await admin.get(`batch-${first}:control`), "1", "the control's INCR arrives once");
      assert.equal(await admin.get(`batch-${first}:CANDIDATE`), null, "the candidate's INCR never arrives");
      assert.deepEqual(feed.lines.filter((line) => line.startsWith(`incr batch-${first}`)), [`incr batch-${first}:control`], "the server executes the control's INCR only");
      const a = results.find((r) => r.control.value === "a");
      assert.equal(a?.candidates[0]?.value, "error ESHADOW");
      assert.deepEqual(a?.candidates[0]?.leaks, [{ kind: "network", target: `127.0.0.1:${String(port)}`, blocked: true }]);
      assert.deepEqual(outcomes, []);
    });
  }

  it("sends an application command issued outside any run once when it shares an auto-pipeline batch a candidate started", async () => {
    uninstall = installTripwire();
    const shared = client({ enableAutoPipelining: true });
    await shared.ping();
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const results: Result<unknown>[] = [];
    const run = shadow(
      async () => "control",
      async () => {
        await gate;
        return shared.incr("outside:CANDIDATE").then(String, (error: NodeJS.ErrnoException) => `error ${String(error.code)}`);
      },
      { name: "ioredis outside", publish: (r: Result<unknown>) => void results.push(r), onError: () => undefined, guardrails: { disableOnLeak: false } },
    );
    assert.equal(await run(), "control");
    await sleep(20);
    open();
    // Outside any run, after the gate's continuation queued the candidate's INCR in this turn's batch.
    await Promise.resolve();
    const app = await shared.incr("outside:app");
    await run.experiment.settled();
    assert.equal(app, 1);
    assert.equal(results[0]?.candidates[0]?.value, "error ESHADOW");
    assert.equal(await admin.get("outside:app"), "1");
    assert.equal(await admin.get("outside:CANDIDATE"), null);
  });

  it("survives a batch of nothing but refused candidate commands on a client that has not connected yet (pipeline, multi, auto-pipeline)", async () => {
    uninstall = installTripwire();
    for (const options of [{ lazyConnect: true }, { lazyConnect: true, enableAutoPipelining: true }] satisfies RedisOptions[]) {
      const shared = client(options);
      const results: Result<unknown>[] = [];
      const run = shadow(
        async () => "control",
        async () => (await Promise.all(FORMS.map((form) => write(shared, form, "unconnected", form)))).join(", "),
        { name: `ioredis unconnected ${String(options.enableAutoPipelining === true)}`, publish: (r: Result<unknown>) => void results.push(r), onError: () => undefined, guardrails: { disableOnLeak: false } },
      );
      assert.equal(await run(), "control");
      await run.experiment.settled();
      await sleep(20);
      assert.equal(results[0]?.candidates[0]?.value, FORMS.map(() => "error ESHADOW").join(", "));
      assert.equal(await shared.incr("unconnected:app"), 1, "the client connects and serves the application afterwards");
      await shared.del("unconnected:app");
    }
    assert.deepEqual(await keysOf("unconnected"), []);
  });

  it("flushes the offline queue with the control's commands only, when a candidate issued commands while the client was still connecting", async () => {
    uninstall = installTripwire();
    for (const options of [{}, { enableAutoPipelining: true }] satisfies RedisOptions[]) {
      const tag = options.enableAutoPipelining === true ? "auto" : "plain";
      const shared = client(options); // connecting now: commands wait in the offline queue
      const results: Result<unknown>[] = [];
      const run = shadow(
        async (id: string) => {
          if (id === "b") await shared.incr(`connecting-${tag}:control`);
          return id;
        },
        async (id: string) => (id === "a" ? write(shared, "commands", `connecting-${tag}-CANDIDATE`, id) : "idle"),
        { name: `ioredis connecting ${tag}`, publish: (r: Result<unknown>) => void results.push(r), onError: () => undefined, guardrails: { disableOnLeak: false } },
      );
      assert.equal(shared.status === "ready", false, "the client is still connecting");
      const [a, b] = await Promise.all([run("a"), run("b")]);
      assert.deepEqual([a, b], ["a", "b"]);
      await run.experiment.settled();
      assert.equal(await admin.get(`connecting-${tag}:control`), "1");
      assert.deepEqual(await keysOf(`connecting-${tag}-CANDIDATE`), []);
      assert.equal(results.find((r) => r.control.value === "a")?.candidates[0]?.value, "error ESHADOW");
    }
  });

  it("refuses a candidate's reads on a raw client too, without closing the connection the control keeps using", async () => {
    uninstall = installTripwire();
    const shared = client();
    await shared.set("read:key", "stored");
    const socket = shared.stream;
    const results: Result<unknown>[] = [];
    const run = shadow(
      async () => shared.get("read:key"),
      async () => {
        try {
          return await shared.get("read:key");
        } catch (error) {
          return `error ${(error as NodeJS.ErrnoException).code ?? String(error)}`;
        }
      },
      { name: "ioredis read", publish: (r: Result<unknown>) => void results.push(r), onError: () => undefined, guardrails: { disableOnLeak: false } },
    );
    assert.equal(await run(), "stored");
    await run.experiment.settled();
    assert.equal(results[0]?.candidates[0]?.value, "error ESHADOW", "the candidate's GET is refused");
    assert.deepEqual(results[0]?.candidates[0]?.leaks, [{ kind: "network", target: `127.0.0.1:${String(port)}`, blocked: true }]);
    assert.equal(shared.stream, socket, "the shared connection was not closed");
    assert.equal(shared.status, "ready");
    assert.equal(await shared.get("read:key"), "stored");
  });

  it("lets a candidate read through a guard that declares the client's writes, and still writes nothing", async () => {
    uninstall = installTripwire();
    const raw = client();
    await raw.set("guarded:key", "stored");
    const shared = guard("redis", raw, { effects: ["set", "incr", "lpush", "publish"] });
    const results: Result<unknown>[] = [];
    const run = shadow(
      async () => {
        await shared.incr("guarded:count");
        return shared.get("guarded:key");
      },
      async () => {
        await shared.incr("guarded:count");
        await shared.set("guarded:CANDIDATE", "1");
        return shared.get("guarded:key");
      },
      { name: "ioredis guarded", publish: (r: Result<unknown>) => void results.push(r), onError: () => undefined, guardrails: { disableOnLeak: false } },
    );
    assert.equal(await run(), "stored");
    await run.experiment.settled();
    const candidate = results[0]?.candidates[0];
    assert.equal(candidate?.value, "stored", "the candidate's GET read the server");
    assert.deepEqual(candidate?.leaks, [], "a declared read is no leak");
    assert.deepEqual(candidate?.effects.map((e) => `${e.name} ${String(e.blocked)}`), ["redis.incr true", "redis.set true"]);
    assert.equal(await admin.get("guarded:count"), "1", "only the control's INCR arrives");
    assert.equal(await admin.get("guarded:CANDIDATE"), null);
  });

  it("calls a callback-style caller back in its own run, control and candidate alike (report mode: the candidate's commands go out)", async () => {
    uninstall = installTripwire({ network: "report" });
    const shared = client({ enableAutoPipelining: true });
    await shared.ping();
    const seen: string[] = [];
    const incr = (role: string, key: string): Promise<string> =>
      new Promise((resolve) => {
        void shared.incr(key, (error) => {
          seen.push(`${role} shadow=${String(isShadow())}`);
          resolve(error ? "error" : "written");
        });
      });
    const run = shadow(
      (id: string) => incr("control", `callback:control:${id}`),
      (id: string) => incr("candidate", `callback:candidate:${id}`),
      { name: "ioredis callbacks", publish: () => undefined, onError: () => undefined, guardrails: { disableOnLeak: false } },
    );
    assert.deepEqual(await Promise.all(["1", "2", "3"].map((id) => run(id))), ["written", "written", "written"]);
    await run.experiment.settled();
    assert.deepEqual([...seen].sort(), [
      "candidate shadow=true",
      "candidate shadow=true",
      "candidate shadow=true",
      "control shadow=false",
      "control shadow=false",
      "control shadow=false",
    ]);
    assert.deepEqual(await keysOf("callback:candidate"), ["callback:candidate:1", "callback:candidate:2", "callback:candidate:3"], "report mode lets them out");
  });

  it("records one reported leak per candidate run in report mode, however many commands it sends", async () => {
    uninstall = installTripwire({ network: "report" });
    const shared = client();
    await shared.ping();
    const results: Result<unknown>[] = [];
    const run = shadow(
      async () => "control",
      async () => {
        await shared.incr("report:count");
        await shared.pipeline().incr("report:count").incr("report:count").exec();
        await shared.incr("report:count");
        return "written";
      },
      { name: "ioredis report", publish: (r: Result<unknown>) => void results.push(r), onError: () => undefined, guardrails: { disableOnLeak: false } },
    );
    assert.equal(await run(), "control");
    await run.experiment.settled();
    assert.equal(results[0]?.candidates[0]?.value, "written");
    assert.deepEqual(results[0]?.candidates[0]?.leaks, [{ kind: "network", target: `127.0.0.1:${String(port)}`, blocked: false }]);
    assert.equal(await admin.get("report:count"), "4", "report mode lets every command out");
  });

  it("puts ioredis's own methods back with the last uninstall, and leaves lookalike ioredis modules alone", async () => {
    type WithSendCommand = { prototype: { sendCommand: unknown } };
    const RedisClass = Redis as unknown as WithSendCommand;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const PipelineClass = (require("ioredis/built/Pipeline") as { default: WithSendCommand }).default;
    const before = [RedisClass.prototype.sendCommand, PipelineClass.prototype.sendCommand];
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "penumbra-ioredis-lookalike-"));
    const loaded: string[] = [];
    const hostile = [
      "module.exports = 42;",
      "module.exports = class { get sendCommand() { throw new Error('getter'); } connect() {} };",
      "module.exports = new Proxy(function () {}, { get() { throw new Error('proxy'); } });",
      "module.exports = class { sendCommand() {} connect() {} };", // no Pipeline.js beside it
      "throw new Error('broken module');",
    ];
    try {
      hostile.forEach((text, i) => {
        const dir = path.join(root, String(i), "node_modules", "ioredis", "built");
        fs.mkdirSync(dir, { recursive: true });
        fs.writeFileSync(path.join(dir, "Redis.js"), text);
        try {
          require(path.join(dir, "Redis.js"));
        } catch {
          // a module that throws is never in the cache
        }
        if (require.cache[path.join(dir, "Redis.js")] !== undefined) loaded.push(path.join(dir, "Redis.js"));
      });
      const first = installTripwire();
      const second = installTripwire();
      assert.notEqual(RedisClass.prototype.sendCommand, before[0]);
      first();
      assert.notEqual(RedisClass.prototype.sendCommand, before[0], "still attributed while one installation is in force");
      uninstall = second;
      await check(client(), [{ control: "commands", candidate: "commands", controlDelay: 0, candidateDelay: 0 }], "lookalike");
      second();
      uninstall = undefined;
      assert.equal(RedisClass.prototype.sendCommand, before[0]);
      assert.equal(PipelineClass.prototype.sendCommand, before[1]);
    } finally {
      for (const file of loaded) Reflect.deleteProperty(require.cache, file);
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
