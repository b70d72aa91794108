/**
 * Acceptance, API.md §3 "Shadow context and guarded side effects": isShadow / currentRun /
 * bindShadow, guard and sideEffect, and the tripwire's targets, modes and installation rules,
 * against real servers on 127.0.0.1.
 */
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as dgram from "node:dgram";
import * as http from "node:http";
import * as net from "node:net";
import * as path from "node:path";
import fc from "fast-check";
import {
  ShadowBlockedError,
  bindShadow,
  currentRun,
  guard,
  installTripwire,
  isShadow,
  shadow,
  sideEffect,
  type Effect,
  type Result,
  type RunInfo,
} from "../../src/index";
import { harness, resetHarness, uniqueName, type Harness } from "./support";

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe("acceptance §3: shadow context and guarded side effects", function () {
  this.timeout(20_000);
  let h: Harness;
  beforeEach(() => {
    h = harness();
  });
  afterEach(resetHarness);

  /** One call, awaited, then the published result. */
  async function runOnce<R>(control: () => R, candidate: () => R, extra: Record<string, unknown> = {}): Promise<Result<unknown>> {
    const name = uniqueName("ctx");
    const wrapped = shadow(control, candidate, { name, ...extra });
    await wrapped();
    await wrapped.experiment.settled();
    const r = h.memory.results.find((x) => x.experiment === name);
    assert.ok(r, "published");
    return r;
  }

  describe("isShadow, currentRun, bindShadow", () => {
    it("isShadow() is true inside a candidate run across awaits and timers, false in the control and outside", async () => {
      const seen: Record<string, boolean> = {};
      await runOnce(
        async () => {
          seen.control = isShadow();
          return 1;
        },
        async () => {
          seen.start = isShadow();
          await sleep(1);
          seen.afterAwait = isShadow();
          await new Promise<void>((resolve) => setTimeout(() => { seen.timer = isShadow(); resolve(); }, 1));
          return 1;
        },
      );
      assert.deepEqual(seen, { control: false, start: true, afterAwait: true, timer: true });
      assert.equal(isShadow(), false);
      assert.equal(currentRun(), undefined);
    });

    it("currentRun() gives { experiment, runId, role, candidate, context, signal } and signal aborts when the candidate times out", async () => {
      let info: RunInfo | undefined;
      let control: RunInfo | undefined;
      const r = await runOnce(
        () => {
          control = currentRun();
          return 1;
        },
        () => {
          info = currentRun();
          return new Promise<number>(() => undefined) as unknown as number;
        },
        { context: { region: "eu" }, timeoutMs: 15 },
      );
      assert.ok(info);
      assert.equal(info.experiment, r.experiment);
      assert.equal(info.runId, r.runId);
      assert.equal(info.role, "candidate");
      assert.equal(info.candidate, "candidate");
      assert.deepEqual(info.context, { region: "eu" });
      assert.equal(info.signal.aborted, true);
      assert.equal(control?.role, "control");
    });

    it("bindShadow carries the current run into a callback invoked from outside it", async () => {
      let later: (() => boolean) | undefined;
      await runOnce(() => 1, () => {
        later = bindShadow(() => isShadow());
        return 1;
      });
      assert.equal(later?.(), true);
    });
  });

  describe("guard", () => {
    function mailer(log: string[]) {
      return {
        sendMail: (to: string, body: { text: string }) => {
          log.push(`${to}:${body.text}`);
          return { messageId: "real" };
        },
        verify: () => {
          log.push("verify");
          return true;
        },
      };
    }

    it("is transparent outside an experiment", () => {
      const log: string[] = [];
      const g = guard("mail", mailer(log), { effects: ["sendMail"] });
      assert.deepEqual(g.sendMail("a", { text: "hi" }), { messageId: "real" });
      assert.deepEqual(log, ["a:hi"]);
    });

    it("passes the control's effects through and records them (not reads); in shadow records blocked effects answered by the sink and lets reads through", async () => {
      const log: string[] = [];
      const g = guard("mail", mailer(log), { effects: ["sendMail"], sink: { sendMail: () => ({ messageId: "sunk" }) } });
      let candidateGot: unknown;
      const r = await runOnce(
        () => {
          g.verify();
          return g.sendMail("a", { text: "hi" });
        },
        () => {
          g.verify();
          candidateGot = g.sendMail("a", { text: "hi" });
          return { messageId: "real" };
        },
      );
      assert.deepEqual(log, ["verify", "a:hi", "verify"]);
      assert.deepEqual(candidateGot, { messageId: "sunk" });
      const strip = (e: Effect) => ({ ...e });
      assert.deepEqual(r.control.effects.map(strip), [{ name: "mail.sendMail", args: ["a", { text: "hi" }], role: "control", blocked: false }]);
      assert.deepEqual(r.candidates[0]?.effects.map(strip), [{ name: "mail.sendMail", args: ["a", { text: "hi" }], role: "candidate", blocked: true }]);
      assert.equal(r.matched, true);
    });

    it("answers a blocked effect with undefined by default and a ShadowBlockedError with onShadow 'throw'", async () => {
      const log: string[] = [];
      const quiet = guard("mail", mailer(log), { effects: ["sendMail"] });
      const loud = guard("mail", mailer(log), { effects: ["sendMail"], onShadow: "throw" });
      const got: unknown[] = [];
      await runOnce(() => 1, () => {
        got.push(quiet.sendMail("a", { text: "x" }));
        try {
          loud.sendMail("a", { text: "x" });
        } catch (e) {
          got.push(e);
        }
        return 1;
      });
      assert.equal(got[0], undefined);
      assert.ok(got[1] instanceof ShadowBlockedError);
      assert.deepEqual(log, []);
    });

    it("records arguments as snapshots taken at call time", async () => {
      const g = guard("mail", mailer([]), { effects: ["sendMail"] });
      const r = await runOnce(() => 1, () => {
        const body = { text: "before" };
        g.sendMail("a", body);
        body.text = "after";
        return 1;
      });
      assert.deepEqual(r.candidates[0]?.effects[0]?.args, ["a", { text: "before" }]);
    });

    it("matches effect paths with * globs and guards the clients it hands out", async () => {
      const charges: string[] = [];
      const stripe = {
        charges: { create: (amount: number) => { charges.push(`charge ${amount}`); return { id: "ch" }; }, list: () => charges.slice() },
        refunds: { create: (id: string) => { charges.push(`refund ${id}`); return { id: "re" }; } },
      };
      const g = guard("stripe", stripe, { effects: ["charges.create", "refunds.*"] });
      let listed: unknown;
      const r = await runOnce(() => 1, () => {
        g.charges.create(5);
        g.refunds.create("x");
        listed = g.charges.list();
        const ctor = (g.charges as { constructor: unknown }).constructor;
        void ctor;
        return 1;
      });
      assert.deepEqual(charges, []);
      assert.deepEqual(listed, []);
      assert.deepEqual(r.candidates[0]?.effects.map((e) => e.name), ["stripe.charges.create", "stripe.refunds.create"]);
      const descriptor = Object.getOwnPropertyDescriptor(g.charges, "create");
      assert.ok(descriptor && typeof descriptor.value === "function");
      assert.notEqual(descriptor.value, stripe.charges.create, "the descriptor describes the guarded method");
    });

    it("never hands out an unguarded route: clients it returns and its .constructor are guarded too", async () => {
      const sent: string[] = [];
      class Client {
        constructor(public tag = "root") {}
        send(m: string): string {
          sent.push(`${this.tag}:${m}`);
          return "real";
        }
        child(): Client {
          return new Client("child");
        }
      }
      const g = guard("client", new Client(), { effects: ["send"] });
      const r = await runOnce(() => 1, () => {
        const Made = (g as unknown as { constructor: new (tag: string) => Client }).constructor;
        new Made("made").send("a");
        g.child().send("b");
        return 1;
      });
      assert.deepEqual(sent, []);
      assert.equal(r.candidates[0]?.effects.length, 2);
      assert.ok(r.candidates[0]?.effects.every((e) => e.blocked));
    });

    it("sideEffect wraps one function: sink, noop or throw in shadow, the real call elsewhere", async () => {
      const sent: string[] = [];
      const send = sideEffect("sms.send", (to: string) => { sent.push(to); return "real"; }, { sink: () => "sunk" });
      assert.equal(send("outside"), "real");
      let got: unknown;
      await runOnce(() => send("control"), () => (got = send("candidate")));
      assert.deepEqual(sent, ["outside", "control"]);
      assert.equal(got, "sunk");
    });

    it("never lets a hostile argument make a guarded call throw or reach the target in shadow", async () => {
      const hostile = fc.constantFrom<unknown>(
        new Proxy({}, { get: () => { throw new Error("trap"); }, ownKeys: () => { throw new Error("trap"); }, getPrototypeOf: () => { throw new Error("trap"); } }),
        Object.create(null),
        { get boom() { throw new Error("getter"); } },
        (() => { const a: Record<string, unknown> = {}; a.self = a; return a; })(),
      );
      const reached: unknown[] = [];
      const g = guard("q", { publish: (m: unknown) => reached.push(m) }, { effects: ["publish"] });
      await fc.assert(
        fc.asyncProperty(hostile, async (arg) => {
          const r = await runOnce(() => 1, () => {
            g.publish(arg);
            return 1;
          });
          assert.equal(r.candidates[0]?.effects.length, 1);
        }),
        { numRuns: 12 },
      );
      assert.deepEqual(reached, []);
    });
  });

  describe("the tripwire", () => {
    let uninstall: Array<() => void> = [];
    afterEach(() => {
      for (const u of uninstall.reverse()) u();
      uninstall = [];
    });

    async function httpServer(): Promise<{ port: number; hits: string[]; close: () => Promise<void> }> {
      const hits: string[] = [];
      const server = http.createServer((req, res) => {
        hits.push(`${req.method} ${req.url}`);
        res.end("ok");
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      return {
        port: (server.address() as net.AddressInfo).port,
        hits,
        close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
      };
    }

    it("blocks a candidate's HTTP request and fetch, records `METHOD http://host:port/path`, and trips the leak guardrail by default", async () => {
      const server = await httpServer();
      uninstall.push(installTripwire());
      const name = uniqueName("leak");
      const wrapped = shadow(
        async () => 1,
        async () => {
          await new Promise<void>((resolve) => {
            const req = http.request({ host: "127.0.0.1", port: server.port, path: "/charge", method: "POST" }, (res) => { res.resume(); res.on("end", resolve); });
            req.on("error", () => resolve());
            req.end("x");
          });
          await fetch(`http://127.0.0.1:${server.port}/fetched`).then((r) => r.text(), () => "blocked");
          return 1;
        },
        { name },
      );
      await wrapped();
      await wrapped.experiment.settled();
      await server.close();
      assert.deepEqual(server.hits, []);
      const r = h.memory.results.find((x) => x.experiment === name);
      const targets = (r?.candidates[0]?.leaks ?? []).map((l) => ({ ...l }));
      assert.ok(targets.some((l) => l.kind === "network" && l.blocked && l.target === `POST http://127.0.0.1:${server.port}/charge`), JSON.stringify(targets));
      assert.ok(targets.some((l) => l.kind === "network" && l.blocked && l.target === `GET http://127.0.0.1:${server.port}/fetched`), JSON.stringify(targets));
      assert.equal(wrapped.experiment.enabled, false);
      assert.match(wrapped.experiment.disabledReason ?? "", /leak/);
    });

    it("records a new connection as host:port and a UDP datagram as `udp host:port`", async () => {
      const tcp = net.createServer((s) => s.resume());
      await new Promise<void>((resolve) => tcp.listen(0, "127.0.0.1", resolve));
      const tcpPort = (tcp.address() as net.AddressInfo).port;
      const udp = dgram.createSocket("udp4");
      const datagrams: string[] = [];
      udp.on("message", (m) => datagrams.push(m.toString()));
      await new Promise<void>((resolve) => udp.bind(0, "127.0.0.1", resolve));
      const udpPort = udp.address().port;
      uninstall.push(installTripwire());
      const r = await runOnce(async () => 1, async () => {
        await new Promise<void>((resolve) => {
          const s = net.connect(tcpPort, "127.0.0.1");
          s.on("error", () => resolve());
          s.on("connect", () => { s.destroy(); resolve(); });
          s.on("close", () => resolve());
        });
        await new Promise<void>((resolve) => {
          const client = dgram.createSocket("udp4");
          client.send("hello", udpPort, "127.0.0.1", () => { client.close(); resolve(); });
        });
        return 1;
      }, { guardrails: { disableOnLeak: false } });
      await sleep(30);
      tcp.close();
      udp.close();
      assert.deepEqual(datagrams, []);
      const targets = (r.candidates[0]?.leaks ?? []).map((l) => l.target);
      assert.ok(targets.includes(`127.0.0.1:${tcpPort}`), JSON.stringify(targets));
      assert.ok(targets.includes(`udp 127.0.0.1:${udpPort}`), JSON.stringify(targets));
    });

    it("lets the call through in report mode, records it with blocked: false, and the strictest installation in force wins", async () => {
      const server = await httpServer();
      const removeReport = installTripwire({ network: "report", childProcess: "off" });
      uninstall.push(removeReport);
      const request = async (): Promise<number> => {
        await fetch(`http://127.0.0.1:${server.port}/x`).then((res) => res.text(), () => "blocked");
        return 1;
      };
      const reported = await runOnce(async () => 1, request, { guardrails: { disableOnLeak: false } });
      assert.deepEqual(server.hits, ["GET /x"]);
      assert.deepEqual((reported.candidates[0]?.leaks ?? []).map((l) => l.blocked), [false]);
      const removeBlock = installTripwire({ network: "block" });
      const blocked = await runOnce(async () => 1, request, { guardrails: { disableOnLeak: false } });
      assert.deepEqual(server.hits, ["GET /x"], "block wins over report");
      assert.deepEqual((blocked.candidates[0]?.leaks ?? []).map((l) => l.blocked), [true]);
      removeBlock();
      await runOnce(async () => 1, request, { guardrails: { disableOnLeak: false } });
      assert.deepEqual(server.hits, ["GET /x", "GET /x"], "removing the block installation leaves the report one");
      await server.close();
    });

    it("keeps a leak made after the candidate's timeout off its observation, but still trips the leak guardrail", async () => {
      const server = await httpServer();
      uninstall.push(installTripwire());
      const name = uniqueName("late-leak");
      let late: Promise<unknown> = Promise.resolve();
      const wrapped = shadow(async () => 1, async () => {
        await sleep(40);
        late = fetch(`http://127.0.0.1:${server.port}/late`).then((r) => r.text(), () => "blocked");
        return 1;
      }, { name, timeoutMs: 10 });
      await wrapped();
      await wrapped.experiment.settled();
      await sleep(60);
      await late;
      await server.close();
      assert.deepEqual(server.hits, []);
      const r = h.memory.results.find((x) => x.experiment === name);
      assert.equal(r?.candidates[0]?.timedOut, true);
      assert.deepEqual(r?.candidates[0]?.leaks, []);
      assert.equal(wrapped.experiment.enabled, false, "the leak guardrail still saw it");
    });

    it("sends an error met inside a run (a guard's argument snapshot) to that run's own onError first, operation 'guard'", async () => {
      const own: string[] = [];
      const reached: unknown[] = [];
      const queue = guard("queue", { push: (m: unknown) => reached.push(m) }, { effects: ["push"] });
      const trap = (): never => {
        throw new Error("trap");
      };
      const hostile = new Proxy({}, { get: trap, ownKeys: trap, getPrototypeOf: trap, getOwnPropertyDescriptor: trap, has: trap });
      const name = uniqueName("guard-error");
      const wrapped = shadow(() => 1, () => {
        queue.push(hostile);
        return 1;
      }, { name, onError: (e) => own.push(e.operation) });
      assert.equal(wrapped(), 1);
      await wrapped.experiment.settled();
      assert.deepEqual(reached, []);
      assert.ok(own.includes("guard"), JSON.stringify(own));
      assert.equal(h.errors.filter((e) => e.experiment === name).length, 0, "the experiment's own onError, not the configured one");
    });

    it("changes nothing outside shadow runs", async () => {
      const server = await httpServer();
      uninstall.push(installTripwire());
      const body = await fetch(`http://127.0.0.1:${server.port}/plain`).then((res) => res.text());
      assert.equal(body, "ok");
      await server.close();
    });

    it("penumbra/tripwire installs itself from PENUMBRA_TRIPWIRE when required with node --require", () => {
      const root = path.resolve(__dirname, "../..");
      const script = `
        const { shadow, configure } = require("./src/index");
        const cp = require("node:child_process");
        const results = [];
        configure({ publishers: [(r) => results.push(r)] });
        const f = shadow(() => 1, () => { try { cp.execFileSync("true"); } catch (e) {} return 1; }, { name: "env", guardrails: { disableOnLeak: false } });
        f();
        f.experiment.settled().then(() => console.log(JSON.stringify(results[0].candidates[0].leaks)));
      `;
      const run = (env: string) =>
        spawnSync(process.execPath, ["-r", "ts-node/register/transpile-only", "-r", "./src/tripwire/register.ts", "-e", script], {
          cwd: root,
          encoding: "utf8",
          timeout: 20_000,
          env: { ...process.env, PENUMBRA_TRIPWIRE: env },
        });
      const blocked = run("network=report,childProcess=block");
      assert.equal(blocked.status, 0, blocked.stderr);
      const leaks = JSON.parse(blocked.stdout.trim().split("\n").pop() ?? "[]") as Array<{ kind: string; target: string; blocked: boolean }>;
      assert.deepEqual(leaks.map((l) => [l.kind, l.blocked]), [["child_process", true]]);
      assert.match(leaks[0]?.target ?? "", /true/);
      const off = run("childProcess=off");
      assert.equal(off.status, 0, off.stderr);
      assert.equal(off.stdout.trim().split("\n").pop(), "[]");
    });
  });
});
