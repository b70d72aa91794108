/**
 * Acceptance, API.md §1 "Experiments": the root entry, the builder, the control path, modes,
 * admission, isolation, option validation and the failure hook, through the public entry only.
 */
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import fc from "fast-check";
import * as penumbra from "../../src/index";
import { Experiment, ExperimentError, MismatchError, configure, flush, shadow, type Result } from "../../src/index";
import { harness, resetHarness, uniqueName, warningsDuring, type Harness } from "./support";

const ROOT_EXPORTS = [
  "CandidateTimeoutError", "Experiment", "ExperimentError", "MismatchError", "PenumbraError", "Scorecard",
  "ShadowBlockedError", "asyncLocalStorageContext", "bindShadow", "configure", "consolePublisher", "currentRun",
  "flush", "guard", "installTripwire", "isShadow", "jsonlPublisher", "loggerPublisher", "memoryPublisher", "noise",
  "readResults", "replay", "shadow", "sideEffect",
];

const boom = (): never => {
  throw new Error("callback failed");
};

function only(h: Harness, experiment: string): Result<unknown>[] {
  return h.memory.results.filter((r) => r.experiment === experiment);
}

describe("acceptance §1: experiments", () => {
  let h: Harness;
  beforeEach(() => {
    h = harness();
  });
  afterEach(resetHarness);

  describe("the root entry", () => {
    it("exports exactly the names the contract gives the root entry 'penumbra'", () => {
      assert.deepEqual(Object.keys(penumbra).sort(), [...ROOT_EXPORTS].sort());
    });
  });

  describe("shadow(control, candidate, options)", () => {
    it("is named by options.name, else by control.name, else 'experiment'", () => {
      const named = shadow(() => 1, () => 1, { name: uniqueName("named") });
      assert.match(named.experiment.name, /^acc-named-/);
      function priceOf(): number {
        return 1;
      }
      assert.equal(shadow(priceOf, () => 1).experiment.name, "priceOf");
      assert.equal(shadow((() => () => 1)(), () => 1).experiment.name, "experiment");
    });

    it("forwards its `this` to the control and to every candidate by reference, so methods can be wrapped", async () => {
      const seen: unknown[] = [];
      const service = {
        rate: 2,
        price: shadow(
          function (this: { rate: number }, n: number) {
            seen.push(this);
            return n * this.rate;
          },
          function (this: { rate: number }, n: number) {
            seen.push(this);
            return n * this.rate;
          },
          { name: uniqueName("this") },
        ),
      };
      assert.equal(service.price(3), 6);
      await flush();
      assert.equal(seen.length, 2);
      assert.ok(seen.every((t) => t === service));
    });
  });

  describe("the builder", () => {
    it("names a candidate added with try(fn) 'candidate' and keeps the names given to try(name, fn)", async () => {
      const name = uniqueName("names");
      const e = new Experiment(name).use((n: number) => n).try((n) => n).try("fast", (n) => n);
      e.run(1);
      await e.settled();
      const [r] = only(h, name);
      assert.deepEqual(r?.candidates.map((c) => c.name), ["candidate", "fast"]);
      assert.deepEqual(r?.outcomes, { candidate: "matched", fast: "matched" });
    });

    it("disable(reason) stops candidates, leaves the control, and enable() turns them back on", async () => {
      const name = uniqueName("toggle");
      let candidateRuns = 0;
      const e = new Experiment(name).use(() => "old").try(() => {
        candidateRuns += 1;
        return "old";
      });
      e.disable("maintenance");
      assert.equal(e.enabled, false);
      assert.equal(e.disabledReason, "maintenance");
      assert.equal(e.run(), "old");
      await e.settled();
      assert.equal(candidateRuns, 0);
      assert.equal(only(h, name).length, 0);
      e.enable();
      assert.equal(e.enabled, true);
      assert.equal(e.disabledReason, undefined);
      e.run();
      await e.settled();
      assert.equal(candidateRuns, 1);
    });
  });

  describe("the control path is sacred", () => {
    it("returns the very value and rethrows the very error of the control, whatever every callback does", async () => {
      const hostile = fc.constantFrom<() => unknown>(
        () => {
          throw new Error("x");
        },
        () => {
          // eslint-disable-next-line no-throw-literal
          throw undefined;
        },
        () => Promise.reject(0),
        () => new Proxy({}, { get: () => { throw new Error("trap"); }, ownKeys: () => { throw new Error("trap"); } }),
      );
      // A hang is the candidate's privilege (timeoutMs bounds it); a hanging publisher would hold settled() for 10 s.
      const candidates = fc.oneof(hostile, fc.constant(() => new Promise(() => undefined)));
      await fc.assert(
        fc.asyncProperty(candidates, hostile, fc.boolean(), fc.constantFrom("background", "sequential") as fc.Arbitrary<"background" | "sequential">, async (cand, cb, controlThrows, mode) => {
          const value = { total: 1 };
          const error = new RangeError("control");
          const wrapped = shadow(
            (args: { n: number }) => {
              if (controlThrows) throw error;
              return value;
            },
            (args: { n: number }) => {
              (args as { n: unknown }).n = "mutated";
              return cand() as { total: number };
            },
            {
              name: uniqueName("sacred"),
              mode,
              timeoutMs: 20,
              compare: cb as () => boolean,
              clean: cb,
              ignore: [cb as () => boolean],
              statusOf: cb as () => string,
              context: cb as () => Record<string, unknown>,
              publish: cb as () => void,
              onError: cb as () => void,
            },
          );
          const args = { n: 1 };
          if (controlThrows) assert.throws(() => wrapped(args), (e: unknown) => e === error);
          else assert.equal(wrapped(args), value);
          assert.equal(args.n, 1);
          await wrapped.experiment.settled();
        }),
        { numRuns: 25 },
      );
    });

    it("hands an async control's rejection to the caller as the same error object", async () => {
      const error = new Error("db down");
      const wrapped = shadow(async () => { throw error; }, async () => 1 as never, { name: uniqueName("reject") });
      await assert.rejects(wrapped(), (e: unknown) => e === error);
    });

    it("returns a non-native thenable untouched, never calls its then, reads then at most once, and publishes nothing", async () => {
      for (const mode of ["background", "sequential"] as const) {
        const name = uniqueName(`thenable-${mode}`);
        let reads = 0;
        let calls = 0;
        const lazy = {
          get then() {
            reads += 1;
            return () => {
              calls += 1;
            };
          },
        };
        const wrapped = shadow((): unknown => lazy, (): unknown => 1, { name, mode });
        assert.equal(wrapped(), lazy);
        await flush();
        assert.ok(reads <= 1, `then read ${reads} times (${mode})`);
        assert.equal(calls, 0);
        assert.equal(only(h, name).length, 0);
        if (mode === "sequential") assert.ok(h.errors.some((e) => e.experiment === name && e.operation === "sequential"));
      }
    });

    it("runs no candidate and publishes nothing when runIf says false or only a control is registered", async () => {
      const a = uniqueName("runif");
      let ran = 0;
      const gated = shadow(() => 1, () => { ran += 1; return 1; }, { name: a, runIf: () => false });
      assert.equal(gated(), 1);
      const b = uniqueName("alone");
      assert.equal(new Experiment(b).use(() => 2).run(), 2);
      await flush();
      assert.equal(ran, 0);
      assert.equal(only(h, a).length + only(h, b).length, 0);
    });
  });

  describe("candidate faults are contained", () => {
    it("attributes a late timer throw and a floating rejection in a shadow run to that run (operation 'candidateFault') and the process goes on", async () => {
      const name = uniqueName("faults");
      const wrapped = shadow(() => 1, () => {
        setTimeout(() => {
          throw new Error("late timer");
        }, 1);
        void Promise.reject(new Error("floating"));
        return 1;
      }, { name });
      assert.equal(wrapped(), 1);
      await new Promise((resolve) => setTimeout(resolve, 20));
      await wrapped.experiment.settled();
      const causes = h.errors.filter((e) => e.experiment === name && e.operation === "candidateFault").map((e) => (e.cause as Error).message).sort();
      assert.deepEqual(causes, ["floating", "late timer"]);
    });

    it("leaves the application's own uncaught exception alone: same output and exit code as without penumbra", () => {
      const root = path.resolve(__dirname, "../..");
      const crash = `setTimeout(() => { throw new Error("app crash"); }, 5);`;
      const run = (prelude: string) => spawnSync(process.execPath, ["-r", "ts-node/register/transpile-only", "-e", prelude + crash], { cwd: root, encoding: "utf8", timeout: 20_000 });
      const bare = run("");
      const withPenumbra = run(`const { shadow, configure } = require("./src/index"); configure({ publishers: [() => undefined] }); shadow(() => 1, () => 1, { name: "x" })();`);
      assert.equal(withPenumbra.status, bare.status);
      assert.notEqual(bare.status, 0);
      assert.match(withPenumbra.stderr, /app crash/);
    });
  });

  describe("modes", () => {
    it("background: starts candidates on a later turn, never inside the caller's synchronous call", async () => {
      const name = uniqueName("bg");
      let candidateRan = false;
      const wrapped = shadow(() => 1, () => { candidateRan = true; return 1; }, { name });
      wrapped();
      assert.equal(candidateRan, false);
      await wrapped.experiment.settled();
      assert.equal(candidateRan, true);
    });

    it("sequential: the result is published before run returns, then throwOnMismatch replaces the control's value with a MismatchError carrying the published result", () => {
      const name = uniqueName("seq");
      const wrapped = shadow(() => ({ total: 49.9 }), () => ({ total: 51.4 }), { name, mode: "sequential", throwOnMismatch: true });
      let caught: unknown;
      try {
        wrapped();
      } catch (e) {
        caught = e;
      }
      const published = only(h, name);
      assert.equal(published.length, 1);
      assert.ok(caught instanceof MismatchError);
      assert.equal(caught.experiment, name);
      assert.equal(caught.result, published[0]);
      assert.match(caught.message, /total=49\.9 vs 51\.4/);
    });
  });

  describe("sequential mode with a sync control and an async part", () => {
    it("completes an async enabled gate as in background mode, publishes when it settles, and reports operation 'sequential' instead of throwing", async () => {
      const name = uniqueName("seq-async-gate");
      const wrapped = shadow(() => 1, () => 2, { name, mode: "sequential", enabled: async () => true, throwOnMismatch: true });
      assert.equal(wrapped(), 1);
      await wrapped.experiment.settled();
      assert.equal(only(h, name).length, 1);
      assert.ok(h.errors.some((e) => e.experiment === name && e.operation === "sequential"));
    });

    it("does the same for a candidate that returns a promise", async () => {
      const name = uniqueName("seq-async-candidate");
      const wrapped = shadow((): number => 1, (() => Promise.resolve(2)) as unknown as () => number, { name, mode: "sequential", throwOnMismatch: true });
      assert.equal(wrapped(), 1);
      await wrapped.experiment.settled();
      assert.equal(only(h, name)[0]?.mismatched, true);
      assert.ok(h.errors.some((e) => e.experiment === name && e.operation === "sequential"));
    });
  });

  describe("an asynchronous enabled gate", () => {
    it("is asked only for admitted calls, in parallel with the control; its 'no' publishes nothing", async () => {
      const name = uniqueName("async-gate");
      let asked = 0;
      const wrapped = shadow((_n: number) => 1, (_n: number) => 2, { name, runIf: (n) => n !== 0, enabled: async () => { asked += 1; return false; } });
      wrapped(0);
      assert.equal(wrapped(1), 1);
      await wrapped.experiment.settled();
      assert.equal(asked, 1);
      assert.equal(only(h, name).length, 0);
    });
  });

  describe("admission and backpressure", () => {
    it("skips a call that finds no free slot and tells publishers that implement skipped(experiment, 'overload') before settled() resolves", async () => {
      const name = uniqueName("overload");
      const skips: Array<[string, string]> = [];
      const wrapped = shadow(
        async () => 1,
        () => new Promise<number>((resolve) => setTimeout(() => resolve(1), 20)),
        { name, maxConcurrent: 1, publish: { publish: () => undefined, skipped: (e: string, r: "overload") => skips.push([e, r]) } },
      );
      const warnings = await warningsDuring(async () => {
        wrapped();
        wrapped();
        wrapped();
        await wrapped.experiment.settled();
      });
      assert.deepEqual(skips, [[name, "overload"], [name, "overload"]]);
      const skipping = warnings.filter((w) => w.code === "PENUMBRA_SKIPPING");
      assert.equal(skipping.length, 1);
      assert.match(skipping[0]?.message ?? "", /maxConcurrent/);
    });
  });

  describe("gates across processes and lifetimes", () => {
    const root = path.resolve(__dirname, "../..");
    function node(script: string): { status: number | null; stdout: string; stderr: string } {
      return spawnSync(process.execPath, ["-r", "ts-node/register/transpile-only", "-e", script], { cwd: root, encoding: "utf8", timeout: 20_000 });
    }

    it("sampleBy is sticky: the same key gets the same decision in every process", async () => {
      // The decision may be salted by the experiment's name, so every process uses the same one.
      const name = uniqueName("sticky");
      const script = `
        const { shadow, configure, flush } = require("./src/index");
        const admitted = [];
        configure({ publishers: [(r) => admitted.push(r.args[0])] });
        const f = shadow((k) => k, (k) => k, { name: ${JSON.stringify(name)}, sample: 0.5, sampleBy: (k) => k, captureArgs: true });
        for (let i = 0; i < 60; i++) f("user-" + i);
        flush().then(() => console.log(JSON.stringify(admitted.sort())));
      `;
      const a = node(script);
      const b = node(script);
      assert.equal(a.status, 0, a.stderr);
      const first = JSON.parse(a.stdout.trim()) as string[];
      assert.deepEqual(JSON.parse(b.stdout.trim()), first);
      assert.ok(first.length > 10 && first.length < 50, `about half admitted, got ${first.length}`);
      const here = shadow((k: string) => k, (k: string) => k, { name, sample: 0.5, sampleBy: (k) => k, captureArgs: true });
      for (let i = 0; i < 60; i++) here(`user-${i}`);
      await here.experiment.settled();
      assert.deepEqual(only(h, name).map((r) => r.args?.[0]).sort(), first);
    });

    it("settled() keeps the process alive while a candidate that will never settle waits for its timeout", () => {
      const run = node(`
        const { shadow, configure } = require("./src/index");
        configure({ publishers: [() => undefined] });
        const f = shadow(() => 1, () => new Promise(() => undefined), { name: "alive", timeoutMs: 50 });
        f();
        f.experiment.settled().then(() => console.log("settled"));
      `);
      assert.equal(run.status, 0, run.stderr);
      assert.equal(run.stdout.trim(), "settled");
    });
  });

  describe("isolation", () => {
    it("gives candidates a snapshot of plain data, so a mutation by the candidate never reaches the caller's argument", async () => {
      const name = uniqueName("iso");
      const order = { items: [{ qty: 1 }], at: new Date(0), tags: new Set(["a"]), meta: new Map([["k", 1]]) };
      const wrapped = shadow(
        (o: typeof order) => o.items.length,
        (o: typeof order) => {
          o.items.push({ qty: 2 });
          o.at.setTime(5);
          o.tags.add("b");
          o.meta.set("k", 2);
          return 1;
        },
        { name },
      );
      wrapped(order);
      await wrapped.experiment.settled();
      assert.equal(order.items.length, 1);
      assert.equal(order.at.getTime(), 0);
      assert.deepEqual([...order.tags], ["a"]);
      assert.equal(order.meta.get("k"), 1);
      assert.equal(only(h, name)[0]?.candidates[0]?.isolated, true);
    });

    it("copies class instances with their prototype, Request with its own clone(), Headers / URL / URLSearchParams through their constructors, and binary data", async () => {
      class Money {
        constructor(public amount: number) {}
        double(): number {
          return this.amount * 2;
        }
      }
      const name = uniqueName("iso-kinds");
      const arg = { money: new Money(5), req: new Request("http://127.0.0.1/", { method: "POST", body: "b" }), headers: new Headers({ a: "1" }), url: new URL("http://127.0.0.1/?q=1"), params: new URLSearchParams("a=1"), buf: Buffer.from("ab"), re: /x/g };
      let seen: typeof arg | undefined;
      let body = "";
      const wrapped = shadow(async (a: typeof arg) => a.money.amount, async (a: typeof arg) => {
        seen = a;
        body = await a.req.text();
        return a.money.amount;
      }, { name });
      wrapped(arg);
      await wrapped.experiment.settled();
      assert.ok(seen);
      assert.ok(seen.money !== arg.money && seen.money instanceof Money && seen.money.double() === 10);
      assert.ok(seen.req !== arg.req && seen.req instanceof Request);
      assert.equal(body, "b");
      assert.equal(arg.req.bodyUsed, false, "the caller's request body is still readable");
      assert.ok(seen.headers !== arg.headers && seen.headers.get("a") === "1");
      assert.ok(seen.url !== arg.url && seen.url.searchParams.get("q") === "1");
      assert.ok(seen.params !== arg.params && seen.params.get("a") === "1");
      assert.ok(seen.buf !== arg.buf && Buffer.isBuffer(seen.buf));
      assert.ok(seen.re !== arg.re && seen.re.flags === "g");
      assert.equal(only(h, name)[0]?.candidates[0]?.isolated, true);
    });

    it("shares a value over the size bound (10 000 nodes, or binary data over 1 MiB) and says isolated: false", async () => {
      const big = Array.from({ length: 20_000 }, (_, i) => ({ i }));
      const bin = Buffer.alloc(2 * 1024 * 1024);
      const seen: unknown[] = [];
      const name = uniqueName("iso-bound");
      const wrapped = shadow((_x: unknown) => 1, (x: unknown) => { seen.push(x); return 1; }, { name });
      wrapped(big);
      wrapped({ bin });
      await wrapped.experiment.settled();
      assert.equal(seen[0], big);
      assert.equal((seen[1] as { bin: Buffer }).bin, bin);
      assert.deepEqual(only(h, name).map((r) => r.candidates[0]?.isolated), [false, false]);
    });

    it("in sequential mode runs the control first when the run is not fully isolated", () => {
      for (let i = 0; i < 8; i++) {
        const order: string[] = [];
        const wrapped = shadow((_x: { f: () => number }) => { order.push("control"); return 1; }, (_x: { f: () => number }) => { order.push("candidate"); return 1; }, { name: uniqueName("seq-shared"), mode: "sequential" });
        wrapped({ f: () => 1 });
        assert.deepEqual(order, ["control", "candidate"]);
      }
    });

    it("lets options.isolate take over: a function gives the candidates its copy, false shares the arguments", async () => {
      const arg = { n: 1 };
      const seen: unknown[] = [];
      const copied = shadow((x: { n: number }) => x.n, (x: { n: number }) => { seen.push(x); return x.n; }, { name: uniqueName("isolate-fn"), isolate: ([x]): [{ n: number }] => [{ n: x.n * 10 }] });
      copied(arg);
      await copied.experiment.settled();
      const shared = shadow((x: { n: number }) => x.n, (x: { n: number }) => { seen.push(x); return x.n; }, { name: uniqueName("isolate-off"), isolate: false });
      shared(arg);
      await shared.experiment.settled();
      assert.deepEqual(seen[0], { n: 10 });
      assert.equal(seen[1], arg);
    });

    it("shares functions and objects with accessors by reference and says isolated: false", async () => {
      const name = uniqueName("shared");
      const handle = { get live() { return 1; } };
      let seen: unknown;
      const wrapped = shadow((x: { live: number }) => x.live, (x: { live: number }) => { seen = x; return x.live; }, { name });
      wrapped(handle);
      await wrapped.experiment.settled();
      assert.equal(seen, handle);
      assert.equal(only(h, name)[0]?.candidates[0]?.isolated, false);
    });

    it("snapshots the control's value before the caller's continuation mutates it, so no false mismatch", async () => {
      const name = uniqueName("retsnap");
      const wrapped = shadow(
        async () => ({ total: 1 }),
        async () => {
          await new Promise((resolve) => setTimeout(resolve, 5));
          return { total: 1 };
        },
        { name },
      );
      const value = await wrapped();
      value.total = 99;
      await wrapped.experiment.settled();
      assert.equal(only(h, name)[0]?.matched, true);
    });
  });

  describe("option validation", () => {
    const cases: Array<[string, string, () => unknown, RegExp]> = [
      ["sample", "1.5", () => new Experiment("v", { sample: 1.5 }), /1\.5/],
      ["sample", "-0.1", () => new Experiment("v", { sample: -0.1 }), /-0\.1/],
      ["timeoutMs", "-1", () => new Experiment("v", { timeoutMs: -1 }), /-1/],
      ["timeoutMs", "Infinity", () => new Experiment("v", { timeoutMs: Infinity }), /Infinity/],
      ["maxConcurrent", "0", () => new Experiment("v", { maxConcurrent: 0 }), /\b0\b/],
      ["maxConcurrent", "2.5", () => new Experiment("v", { maxConcurrent: 2.5 }), /2\.5/],
    ];
    for (const [option, shown, build, value] of cases) {
      it(`throws a TypeError naming '${option}' and the value ${shown} when the experiment is built`, () => {
        assert.throws(build, (e: unknown) => e instanceof TypeError && e.message.includes(option) && value.test(e.message));
      });
    }

    it("throws a TypeError naming the control and the value when the control is not a function, and on a second use", () => {
      assert.throws(() => new Experiment("v").use(42 as unknown as () => number), (e: unknown) => e instanceof TypeError && /control/.test(e.message) && /42/.test(e.message));
      assert.throws(() => new Experiment("v").use(() => 1).use(() => 2), (e: unknown) => e instanceof TypeError && /control|use/.test(e.message));
    });

    it("throws a TypeError naming the duplicate candidate name", () => {
      assert.throws(() => new Experiment("v").use(() => 1).try("fast", () => 1).try("fast", () => 2), (e: unknown) => e instanceof TypeError && /fast/.test(e.message));
      assert.throws(() => new Experiment("v").use(() => 1).try(() => 1).try(() => 2), (e: unknown) => e instanceof TypeError && /candidate/.test(e.message));
    });

    it("clamps a timeoutMs over Node's timer limit instead of rejecting it", () => {
      assert.doesNotThrow(() => new Experiment(uniqueName("clamp"), { timeoutMs: 3_000_000_000 }));
    });
  });

  describe("errors inside the user's callbacks", () => {
    const callbacks: Array<[string, Record<string, unknown>, "none" | "mismatch" | "raw"]> = [
      ["enabled", { enabled: boom }, "none"],
      ["runIf", { runIf: boom }, "none"],
      ["sampleBy", { sample: 0.999999, sampleBy: boom }, "none"],
      ["beforeRun", { beforeRun: boom }, "none"],
      ["context", { context: boom }, "none"],
      ["isolate", { isolate: boom }, "none"],
      ["compare", { compare: boom }, "mismatch"],
      ["statusOf", { statusOf: boom }, "mismatch"],
      ["clean", { clean: boom }, "raw"],
    ];
    for (const [operation, options, consequence] of callbacks) {
      it(`reports a throwing ${operation} as an ExperimentError with operation '${operation}' and the original error as cause`, async () => {
        const name = uniqueName(`op-${operation}`);
        const wrapped = shadow((n: number) => ({ n }), (n: number) => ({ n }), { name, ...options });
        assert.deepEqual(wrapped(1), { n: 1 });
        await wrapped.experiment.settled();
        const reported = h.errors.filter((e) => e.experiment === name);
        assert.ok(reported.length >= 1, `no error reported for ${operation}`);
        assert.ok(reported.every((e) => e instanceof ExperimentError && e.operation === operation));
        assert.equal((reported[0]?.cause as Error).message, "callback failed");
        const published = only(h, name);
        if (consequence === "none") assert.equal(published.length, 0, "the candidates must not run");
        if (consequence === "mismatch") assert.equal(published[0]?.mismatched, true, "counts as a mismatch");
        if (consequence === "raw") assert.deepEqual(published[0]?.control.cleanedValue, { n: 1 }, "publishes the raw value");
      });
    }

    it("counts a throwing ignore rule as 'not ignored' and still runs the remaining rules", async () => {
      const name = uniqueName("ignore");
      let second = 0;
      const wrapped = shadow(() => 1, () => 2, { name, ignore: [boom, () => { second += 1; return true; }] });
      wrapped();
      await wrapped.experiment.settled();
      assert.equal(second, 1);
      assert.equal(only(h, name)[0]?.outcomes.candidate, "ignored");
      assert.ok(h.errors.some((e) => e.experiment === name && e.operation === "ignore"));
    });

    it("runs ignore rules only for a candidate that mismatched, with (controlValue, candidateValue)", async () => {
      const name = uniqueName("ignore-args");
      const calls: unknown[][] = [];
      const wrapped = shadow((n: number) => n, (n: number) => (n > 1 ? n + 1 : n), { name, ignore: [(c, d) => { calls.push([c, d]); return false; }] });
      wrapped(1);
      wrapped(2);
      await wrapped.experiment.settled();
      assert.deepEqual(calls, [[2, 3]]);
    });

    it("serves with the control when a promote predicate throws, reporting operation 'promote'", async () => {
      const name = uniqueName("promote");
      const wrapped = shadow(() => "old", () => "new", { name, promote: boom });
      assert.equal(wrapped(), "old");
      await wrapped.experiment.settled();
      assert.ok(h.errors.some((e) => e.experiment === name && e.operation === "promote"));
    });

    it("swallows an onError that throws and emits a PenumbraWarning instead", async () => {
      const name = uniqueName("onerror");
      const warnings = await warningsDuring(async () => {
        const wrapped = shadow(() => 1, () => 2, { name, compare: boom, onError: boom });
        assert.equal(wrapped(), 1);
        await wrapped.experiment.settled();
      });
      assert.ok(warnings.length >= 1);
    });

    it("with configure({ strict: true }) makes settled() reject with the first ExperimentError, and the next settled() resolve", async () => {
      configure({ strict: true });
      const name = uniqueName("strict");
      const wrapped = shadow(() => 1, () => 2, { name, compare: boom });
      wrapped();
      await assert.rejects(wrapped.experiment.settled(), (e: unknown) => e instanceof ExperimentError && e.operation === "compare");
      assert.ok(h.errors.some((e) => e.experiment === name), "onError still fires");
      await wrapped.experiment.settled();
    });

    it("with configure({ strict: true }) makes a sequential run throw a gate's error where the caller waits", () => {
      configure({ strict: true });
      const wrapped = shadow(() => 1, () => 1, { name: uniqueName("strict-seq"), mode: "sequential", runIf: boom });
      assert.throws(() => wrapped(), (e: unknown) => e instanceof ExperimentError && e.operation === "runIf");
    });
  });
});
