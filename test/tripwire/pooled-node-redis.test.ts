/**
 * The tripwire against one node-redis client (the `redis` package) shared by overlapping control and
 * candidate runs, on a real redis-server. node-redis writes every command of an event-loop turn from
 * one `setImmediate` started by the first command queued, in that command's run; with the tripwire
 * installed a blocked shadow run's commands are refused before they are queued. Judged by what the
 * server holds: no candidate write, each control's exactly once. A guard that declares the client's
 * writes lets a candidate read.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import fc from "fast-check";
import { createClient } from "redis";
import { guard, installTripwire, shadow, type Result } from "../../src/index";
import { startRedis } from "../support/servers";

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A client of the server on `port`, with the types node-redis gives one made that way. */
const connectTo = (port: number, reconnectStrategy?: () => number) => createClient({ socket: { host: "127.0.0.1", port, ...(reconnectStrategy ? { reconnectStrategy } : {}) } });
type Client = ReturnType<typeof connectTo>;

/** A client connected to `port`, with the error listener a shared client needs (a refused write closes its connection). */
async function connected(port: number, reconnectStrategy?: () => number): Promise<Client> {
  const client = connectTo(port, reconnectStrategy);
  client.on("error", () => undefined);
  await client.connect();
  return client;
}

/** The node-redis methods that change the server, declared as the guard's effects. */
const WRITES = ["incr", "set", "lPush", "publish", "del", "multi", "eval", "evalSha"];

/** How a behaviour writes through node-redis. */
type Form = "commands" | "multi" | "pipeline";

/** INCR, LPUSH and SET for `who` in the given form; settles with "written" or the error's code. */
async function write(client: Client, form: Form, prefix: string, who: string): Promise<string> {
  try {
    if (form === "commands") {
      await client.incr(`${prefix}:count`);
      await client.lPush(`${prefix}:list`, who);
      await client.set(`${prefix}:${who}`, "1");
    } else if (form === "multi") {
      await client.multi().incr(`${prefix}:count`).lPush(`${prefix}:list`, who).set(`${prefix}:${who}`, "1").exec();
    } else {
      await client.multi().incr(`${prefix}:count`).lPush(`${prefix}:list`, who).set(`${prefix}:${who}`, "1").execAsPipeline();
    }
    return "written";
  } catch (error) {
    return `error ${String((error as NodeJS.ErrnoException).code ?? (error as Error).message)}`;
  }
}

describe("the tripwire against one node-redis client shared by overlapping control and candidate runs", function () {
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
    admin = connectTo(port);
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
    const raw = await connected(port);
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

  it("writes no candidate key and every control key once through a raw client, for generated interleavings and forms", async () => {
    uninstall = installTripwire();
    const raw = await connected(port);
    let n = 0;
    const form = fc.constantFrom<Form>("commands", "multi", "pipeline");
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.record({ control: form, candidate: form, controlDelay: fc.integer({ min: 0, max: 3 }), candidateDelay: fc.integer({ min: 0, max: 3 }) }), { minLength: 1, maxLength: 4 }),
          async (calls) => {
            const tag = `r${n++}`;
            const results: Result<unknown>[] = [];
            const controls = new Map<number, string>();
            const run = shadow(
              async (i: number) => {
                const call = calls[i];
                await sleep(call?.controlDelay ?? 0);
                controls.set(i, await write(raw, call?.control ?? "commands", `control-${tag}`, `c${i}`));
                return String(i);
              },
              async (i: number) => {
                const call = calls[i];
                await sleep(call?.candidateDelay ?? 0);
                return write(raw, call?.candidate ?? "commands", `candidate-${tag}`, `c${i}`);
              },
              { name: `node-redis raw ${tag}`, publish: (r: Result<unknown>) => void results.push(r), onError: () => undefined, guardrails: { disableOnLeak: false } },
            );
            const ids = calls.map((_, i) => i);
            assert.deepEqual(await Promise.all(ids.map((i) => run(i))), ids.map(String));
            await run.experiment.settled();
            for (const i of ids) assert.equal(controls.get(i), "written", `control ${i}'s commands succeed`);
            assert.deepEqual(await admin.keys(`candidate-${tag}:*`), [], "no candidate key is written");
            assert.equal(await admin.get(`control-${tag}:count`), String(ids.length), "every control INCR arrives once");
            assert.deepEqual((await admin.lRange(`control-${tag}:list`, 0, -1)).sort(), ids.map((i) => `c${i}`).sort());
            for (const result of results) {
              assert.equal(result.candidates[0]?.value, "error ESHADOW");
              assert.deepEqual(result.candidates[0]?.leaks, [{ kind: "network", target: `127.0.0.1:${String(port)}`, blocked: true }]);
              assert.deepEqual(result.control.leaks, []);
            }
          },
        ),
        { numRuns: 20 },
      );
    } finally {
      raw.destroy();
    }
  });

  for (const first of ["candidate", "control"] as const) {
    it(`sends a control's command once and a candidate's never when both are queued in one turn, the ${first}'s first`, async () => {
      uninstall = installTripwire();
      const raw = await connected(port);
      try {
        let open!: () => void;
        const gate = new Promise<void>((resolve) => (open = resolve));
        const results: Result<unknown>[] = [];
        const run = shadow(
          async (id: string) => {
            if (id !== "b") return id;
            if (first === "candidate") await gate;
            return String(await raw.incr(`turn-${first}:control`));
          },
          async (id: string) => {
            if (id !== "a") return "idle";
            await gate;
            return raw.incr(`turn-${first}:CANDIDATE`).then(String, (error: NodeJS.ErrnoException) => `error ${String(error.code)}`);
          },
          { name: `node-redis turn ${first}`, publish: (r: Result<unknown>) => void results.push(r), onError: () => undefined, guardrails: { disableOnLeak: false } },
        );
        assert.equal(await run("a"), "a");
        await sleep(20); // call a's candidate waits at the gate
        const b = run("b");
        if (first === "candidate") {
          await sleep(20);
          open();
        } else {
          queueMicrotask(open);
        }
        assert.equal(await b, "1", "the control's INCR succeeds");
        await run.experiment.settled();
        assert.equal(await admin.get(`turn-${first}:control`), "1");
        assert.equal(await admin.get(`turn-${first}:CANDIDATE`), null);
        assert.equal(results.find((r) => r.control.value === "a")?.candidates[0]?.value, "error ESHADOW");
      } finally {
        raw.destroy();
      }
    });
  }

  it("publishes nothing from a candidate: a subscriber on another connection hears the control only", async () => {
    uninstall = installTripwire();
    const raw = connectTo(port);
    raw.on("error", () => undefined);
    const subscriber = raw.duplicate();
    subscriber.on("error", () => undefined);
    await raw.connect();
    await subscriber.connect();
    const heard: string[] = [];
    await subscriber.subscribe("orders", (message) => void heard.push(message));
    try {
      const run = shadow(
        async (id: string) => {
          await raw.publish("orders", `control ${id}`);
          return id;
        },
        async (id: string) => {
          await raw.publish("orders", `CANDIDATE ${id}`);
          return id;
        },
        { name: "node-redis publish", publish: () => undefined, onError: () => undefined, guardrails: { disableOnLeak: false } },
      );
      assert.deepEqual(await Promise.all(["1", "2", "3"].map((id) => run(id))), ["1", "2", "3"]);
      await run.experiment.settled();
      await sleep(100);
      assert.deepEqual([...heard].sort(), ["control 1", "control 2", "control 3"]);
    } finally {
      raw.destroy();
      subscriber.destroy();
    }
  });

  it("records one reported leak per candidate run in report mode, however many commands it sends", async () => {
    uninstall = installTripwire({ network: "report" });
    const raw = await connected(port);
    try {
      const results: Result<unknown>[] = [];
      const run = shadow(
        async () => "control",
        async () => {
          await raw.incr("report:count");
          await raw.multi().incr("report:count").incr("report:count").execAsPipeline();
          await raw.incr("report:count");
          return "written";
        },
        { name: "node-redis report", publish: (r: Result<unknown>) => void results.push(r), onError: () => undefined, guardrails: { disableOnLeak: false } },
      );
      assert.equal(await run(), "control");
      await run.experiment.settled();
      assert.equal(results[0]?.candidates[0]?.value, "written");
      assert.deepEqual(results[0]?.candidates[0]?.leaks, [{ kind: "network", target: `127.0.0.1:${String(port)}`, blocked: false }]);
      assert.equal(await admin.get("report:count"), "4", "report mode lets every command out");
    } finally {
      raw.destroy();
    }
  });

  it("keeps a shared client connected and usable after a raw candidate's write was refused", async () => {
    uninstall = installTripwire();
    const raw = await connected(port, () => 20);
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

  it("puts node-redis's own methods back with the last uninstall, and leaves lookalike @redis/client modules alone", async () => {
    type Judged = { prototype: Record<string, unknown> };
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const RedisClient = (require("@redis/client/dist/lib/client/index.js") as { default: Judged }).default;
    const names = ["sendCommand", "_executeMulti", "_executePipeline"];
    const before = names.map((name) => RedisClient.prototype[name]);
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "penumbra-node-redis-lookalike-"));
    const loaded: string[] = [];
    const hostile = [
      "module.exports = { default: 42 };",
      "exports.default = class { get sendCommand() { throw new Error('getter'); } _executeMulti() {} _executePipeline() {} };",
      "exports.default = new Proxy(function () {}, { get() { throw new Error('proxy'); } });",
      "exports.default = class { sendCommand() {} };",
    ];
    try {
      hostile.forEach((text, i) => {
        const dir = path.join(root, String(i), "node_modules", "@redis", "client", "dist", "lib", "client");
        fs.mkdirSync(dir, { recursive: true });
        fs.writeFileSync(path.join(dir, "index.js"), text);
        require(path.join(dir, "index.js"));
        loaded.push(path.join(dir, "index.js"));
      });
      const first = installTripwire();
      const second = installTripwire();
      assert.ok(names.every((name, i) => RedisClient.prototype[name] !== before[i]), "judged while installed");
      first();
      assert.ok(names.every((name, i) => RedisClient.prototype[name] !== before[i]), "still judged while one installation is in force");
      uninstall = second;
      const raw = await connected(port);
      try {
        const run = shadow(
          async () => write(raw, "commands", "lookalike-control", "c0"),
          async () => write(raw, "commands", "lookalike-candidate", "c0"),
          { name: "node-redis lookalikes", publish: () => undefined, onError: () => undefined, guardrails: { disableOnLeak: false } },
        );
        assert.equal(await run(), "written");
        await run.experiment.settled();
        assert.deepEqual(await admin.keys("lookalike-candidate:*"), []);
      } finally {
        raw.destroy();
      }
      second();
      uninstall = undefined;
      assert.deepEqual(names.map((name) => RedisClient.prototype[name]), before);
    } finally {
      for (const file of loaded) Reflect.deleteProperty(require.cache, file);
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
