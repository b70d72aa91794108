/**
 * node-redis (the `redis` package) shared by overlapping control and candidate runs, on a real
 * redis-server. Its commands are not attributed (docs/side-effects.md, "Pools shared by overlapping
 * runs"): every command of an event-loop turn is written by one `setImmediate` started by the first
 * command queued, in that command's run. The documented workaround is a guard that declares the
 * client's writes: the candidate's writes never reach the client, its reads are declared reads.
 * Judged by what the server holds: no candidate write, each control's exactly once.
 */
import { strict as assert } from "node:assert";
import fc from "fast-check";
import { createClient } from "redis";
import { guard, installTripwire, shadow, type Result } from "../../src/index";
import { startRedis } from "../support/servers";

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

type Client = ReturnType<typeof createClient>;

/** The node-redis methods that change the server, declared as the guard's effects. */
const WRITES = ["incr", "set", "lPush", "publish", "del", "multi", "eval", "evalSha"];

describe("node-redis shared by overlapping runs, behind the documented guard", function () {
  this.timeout(20_000);
  let stop: (() => Promise<void>) | undefined;
  let port = 0;
  let admin: Client;
  let uninstall: (() => void) | undefined;

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
    admin = createClient({ socket: { host: "127.0.0.1", port } });
    admin.on("error", () => undefined);
    await admin.connect();
  });

  after(async () => {
    if (admin?.isOpen) admin.destroy();
    await stop?.();
  });

  afterEach(() => {
    uninstall?.();
    uninstall = undefined;
  });

  it("writes no candidate key, every control key once, and lets the candidate read, for generated interleavings", async () => {
    uninstall = installTripwire();
    const raw = createClient({ socket: { host: "127.0.0.1", port } });
    raw.on("error", () => undefined);
    await raw.connect();
    await raw.set("stored", "value");
    const shared = guard("redis", raw, { effects: WRITES });
    let n = 0;
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.record({ controlDelay: fc.integer({ min: 0, max: 3 }), candidateDelay: fc.integer({ min: 0, max: 3 }) }), { minLength: 1, maxLength: 5 }),
          async (calls) => {
            const tag = `g${n++}`;
            const results: Result<unknown>[] = [];
            const reported: string[] = [];
            const run = shadow(
              async (i: number) => {
                await sleep(calls[i]?.controlDelay ?? 0);
                await shared.incr(`control-${tag}:count`);
                await shared.lPush(`control-${tag}:list`, `c${i}`);
                return `${i} ${String(await shared.get("stored"))}`;
              },
              async (i: number) => {
                await sleep(calls[i]?.candidateDelay ?? 0);
                await shared.incr(`candidate-${tag}:count`);
                await shared.set(`candidate-${tag}:c${i}`, "1");
                return `${i} ${String(await shared.get("stored"))}`;
              },
              { name: `node-redis ${tag}`, publish: (r: Result<unknown>) => void results.push(r), onError: (e) => void reported.push(e.operation), guardrails: { disableOnLeak: false } },
            );
            const ids = calls.map((_, i) => i);
            assert.deepEqual(await Promise.all(ids.map((i) => run(i))), ids.map((i) => `${i} value`));
            await run.experiment.settled();
            assert.deepEqual(await admin.keys(`candidate-${tag}:*`), [], "no candidate key is written");
            assert.equal(await admin.get(`control-${tag}:count`), String(ids.length), "every control INCR arrives once");
            assert.deepEqual((await admin.lRange(`control-${tag}:list`, 0, -1)).sort(), ids.map((i) => `c${i}`).sort());
            assert.deepEqual(reported, []);
            for (const result of results) {
              const candidate = result.candidates[0];
              assert.equal(candidate?.value, result.control.value, "the candidate read the server through the guard");
              assert.deepEqual(candidate?.leaks, [], "a declared read is no leak");
              assert.deepEqual(candidate?.effects.map((e) => `${e.name} ${String(e.blocked)}`), ["redis.incr true", "redis.set true"]);
            }
          },
        ),
        { numRuns: 20 },
      );
    } finally {
      raw.destroy();
    }
  });

  it("keeps a shared client usable after a raw candidate's write was blocked: the connection the tripwire closed reconnects outside the shadow run", async () => {
    uninstall = installTripwire();
    const raw = createClient({ socket: { host: "127.0.0.1", port, reconnectStrategy: () => 20 } });
    raw.on("error", () => undefined);
    await raw.connect();
    try {
      const results: Result<unknown>[] = [];
      const run = shadow(
        async () => "control",
        async () => {
          await raw.incr("reconnect:CANDIDATE");
          return "written";
        },
        { name: "node-redis reconnect", publish: (r: Result<unknown>) => void results.push(r), onError: () => undefined, guardrails: { disableOnLeak: false } },
      );
      assert.equal(await run(), "control");
      await run.experiment.settled();
      assert.equal((results[0]?.candidates[0]?.error as { code?: unknown } | undefined)?.code, "ESHADOW", "the candidate's write is blocked");
      for (let i = 0; i < 50 && !raw.isReady; i++) await sleep(20);
      assert.equal(raw.isReady, true, "the client reconnected");
      assert.equal(await raw.incr("reconnect:app"), 1, "the application's next command goes through");
      assert.equal(await admin.get("reconnect:CANDIDATE"), null);
    } finally {
      raw.destroy();
    }
  });
});
