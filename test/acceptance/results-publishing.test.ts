/**
 * Acceptance, API.md §2 "Results and publishing": Observation / Result shapes and frozenness,
 * configure semantics, the warnings, the ready publishers and the error classes.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  CandidateTimeoutError,
  ExperimentError,
  MismatchError,
  PenumbraError,
  ShadowBlockedError,
  asyncLocalStorageContext,
  configure,
  flush,
  jsonlPublisher,
  memoryPublisher,
  readResults,
  shadow,
  Experiment,
  type Result,
} from "../../src/index";
import { harness, resetHarness, uniqueName, warningsDuring, type Harness } from "./support";

describe("acceptance §2: results and publishing", () => {
  let h: Harness;
  let dir: string;
  beforeEach(() => {
    h = harness();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "penumbra-acc-"));
  });
  afterEach(async () => {
    await resetHarness();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function one<R>(control: () => R, candidate: () => R, extra: Record<string, unknown> = {}): Promise<Result<unknown>> {
    const name = uniqueName("res");
    const wrapped = shadow(control, candidate, { name, ...extra });
    try {
      wrapped();
    } catch {
      // the control's own error
    }
    await wrapped.experiment.settled();
    const r = h.memory.results.find((x) => x.experiment === name);
    assert.ok(r);
    return r;
  }

  describe("Result and Observation", () => {
    it("has exactly the contract's fields with the contract's types", async () => {
      const r = await one(() => ({ total: 1 }), () => ({ total: 2 }), { context: { region: "eu" } });
      assert.equal(typeof r.runId, "string");
      assert.equal(typeof r.startedAt, "number");
      assert.deepEqual(r.context, { region: "eu" });
      assert.equal(r.servedBy, "control");
      assert.equal(r.args, undefined, "args only with captureArgs");
      assert.deepEqual([r.matched, r.mismatched, r.ignored], [false, true, false]);
      assert.deepEqual(r.outcomes, { candidate: "mismatched" });
      for (const o of [r.control, ...r.candidates]) {
        assert.equal(typeof o.durationMs, "number");
        assert.equal(o.threw, false);
        assert.equal(o.timedOut, false);
        assert.equal(typeof o.isolated, "boolean");
        assert.ok(Array.isArray(o.effects));
        assert.ok(Array.isArray(o.leaks));
      }
      assert.deepEqual([r.control.name, r.control.role], ["control", "control"]);
      assert.deepEqual([r.candidates[0]?.name, r.candidates[0]?.role], ["candidate", "candidate"]);
      assert.deepEqual(r.noise, []);
    });

    it("puts the argument snapshot on the result with captureArgs", async () => {
      const name = uniqueName("args");
      const wrapped = shadow((o: { n: number }) => o.n, (o: { n: number }) => o.n, { name, captureArgs: true });
      wrapped({ n: 3 });
      await wrapped.experiment.settled();
      assert.deepEqual(h.memory.results.find((r) => r.experiment === name)?.args, [{ n: 3 }]);
    });

    it("freezes penumbra's own result and observation objects but not the user's values inside them", async () => {
      const r = await one(() => ({ total: 1 }), () => ({ total: 2 }));
      for (const o of [r, r.control, r.candidates, r.candidates[0], r.outcomes, r.mismatches, r.mismatches[0], r.mismatches[0]?.diffs, r.mismatches[0]?.diffs[0], r.noise, r.control.effects, r.control.leaks]) {
        assert.ok(Object.isFrozen(o));
      }
      assert.equal(Object.isFrozen(r.control.value), false);
    });

    it("never cleans null or undefined, and publishes cleaned values for publishing only", async () => {
      const cleaned: unknown[] = [];
      const r = await one((): { secret: string } | null => null, () => ({ secret: "x" }), { clean: (v: unknown) => { cleaned.push(v); return "cleaned"; } });
      assert.deepEqual(cleaned, [{ secret: "x" }]);
      assert.equal(r.control.cleanedValue, null);
      assert.equal(r.candidates[0]?.cleanedValue, "cleaned");
      assert.equal(r.mismatched, true);
    });

    it("records a timed-out candidate as timedOut with a CandidateTimeoutError, not as thrown by its code", async () => {
      const r = await one(() => 1, () => new Promise<number>(() => undefined) as unknown as number, { timeoutMs: 10 });
      const c = r.candidates[0];
      assert.equal(c?.timedOut, true);
      assert.ok(c?.error instanceof CandidateTimeoutError);
    });

    it("says matched only when no candidate mismatched and none was ignored", async () => {
      const r = await one(() => 1, () => 2, { ignore: [() => true] });
      assert.deepEqual([r.matched, r.mismatched, r.ignored], [false, false, true]);
      assert.deepEqual(r.outcomes, { candidate: "ignored" });
    });
  });

  describe("configure", () => {
    it("sets only the keys it is given; publishers replaces the list", async () => {
      const second = memoryPublisher();
      configure({ strict: false });
      configure({ publishers: [second] });
      const name = uniqueName("cfg");
      const wrapped = shadow(() => 1, () => 2, { name, compare: () => { throw new Error("x"); } });
      wrapped();
      await wrapped.experiment.settled();
      assert.equal(second.results.length, 1);
      assert.equal(h.memory.results.filter((r) => r.experiment === name).length, 0, "the old list is replaced");
      assert.ok(h.errors.some((e) => e.experiment === name), "onError kept: configure set only publishers");
    });

    it("refuses to change context while shadow runs are in flight, with a PenumbraError naming how many", async () => {
      const wrapped = shadow(() => 1, () => new Promise<number>((resolve) => setTimeout(() => resolve(1), 30)) as unknown as number, { name: uniqueName("inflight") });
      wrapped();
      wrapped();
      await new Promise((resolve) => setTimeout(resolve, 5));
      assert.throws(() => configure({ context: asyncLocalStorageContext() }), (e: unknown) => e instanceof PenumbraError && /\b2\b/.test(e.message));
      await wrapped.experiment.settled();
      assert.doesNotThrow(() => configure({ context: asyncLocalStorageContext() }));
    });
  });

  describe("warnings", () => {
    it("warns PENUMBRA_NO_PUBLISHER once when an experiment has a result to publish and no publisher", async () => {
      configure({ publishers: [] });
      const warnings = await warningsDuring(async () => {
        const wrapped = shadow(() => 1, () => 1, { name: uniqueName("nopub") });
        wrapped();
        wrapped();
        await wrapped.experiment.settled();
      });
      assert.equal(warnings.filter((w) => w.code === "PENUMBRA_NO_PUBLISHER").length, 1);
    });

    it("warns PENUMBRA_DUPLICATE_NAME when a second experiment is built with a name in use", async () => {
      const name = uniqueName("dup");
      const warnings = await warningsDuring(() => {
        new Experiment(name);
        new Experiment(name);
      });
      const dup = warnings.filter((w) => w.code === "PENUMBRA_DUPLICATE_NAME");
      assert.equal(dup.length, 1);
      assert.ok(dup[0]?.message.includes(name));
    });
  });

  describe("ready publishers", () => {
    it("memoryPublisher({ limit }) keeps the newest limit results, oldest first", async () => {
      const memory = memoryPublisher({ limit: 2 });
      const wrapped = shadow((n: number) => n, (n: number) => n, { name: uniqueName("mem"), publish: memory });
      wrapped(1);
      wrapped(2);
      wrapped(3);
      await wrapped.experiment.settled();
      assert.deepEqual(memory.results.map((r) => r.control.value), [2, 3]);
      assert.equal(typeof memory.publish, "function");
    });

    it("jsonlPublisher(path) appends one line per result and a result read back with readResults is the same result", async () => {
      const file = path.join(dir, "results.jsonl");
      const jsonl = jsonlPublisher(file);
      assert.equal(typeof jsonl.publish, "function");
      assert.equal(typeof jsonl.close, "function");
      const memory = memoryPublisher();
      const wrapped = shadow(
        (o: { n: number }) => ({ total: o.n, at: "2024-01-01" }),
        (o: { n: number }) => ({ total: o.n + 1, at: "2024-01-01" }),
        { name: uniqueName("jsonl"), publish: [jsonl, memory], captureArgs: true, context: { region: "eu" } },
      );
      wrapped({ n: 1 });
      wrapped({ n: 2 });
      await wrapped.experiment.settled();
      await jsonl.close();
      assert.equal(fs.readFileSync(file, "utf8").trim().split("\n").length, 2);
      const back: Result<unknown>[] = [];
      for await (const r of readResults(file)) back.push(r);
      assert.deepEqual(JSON.parse(JSON.stringify(back)), JSON.parse(JSON.stringify(memory.results)));
      assert.deepEqual(back.map((r) => r.control.value), [{ total: 1, at: "2024-01-01" }, { total: 2, at: "2024-01-01" }]);
    });

    it("never lets a slow publisher delay the caller", async () => {
      let release: () => void = () => undefined;
      const pending = new Promise<void>((resolve) => {
        release = resolve;
      });
      const wrapped = shadow(() => 1, () => 1, { name: uniqueName("slowpub"), mode: "sequential", publish: () => pending });
      assert.equal(wrapped(), 1);
      let settled = false;
      const done = wrapped.experiment.settled().then(() => {
        settled = true;
      });
      await new Promise((resolve) => setTimeout(resolve, 5));
      assert.equal(settled, false, "settled() waits for the publisher's promise");
      release();
      await done;
    });
  });

  describe("errors", () => {
    it("derives every error class from PenumbraError, which carries a code", () => {
      for (const E of [MismatchError, ExperimentError, ShadowBlockedError, CandidateTimeoutError]) {
        assert.ok(E.prototype instanceof PenumbraError, E.name);
      }
    });

    it("gives MismatchError a readable message listing each observation's cleaned value or error and the diff summary", () => {
      configure({ throwOnMismatch: true });
      const wrapped = shadow((): { total: number; card: string } => ({ total: 49.9, card: "4111" }), (): { total: number; card: string } => { throw new TypeError("boom"); }, {
        name: uniqueName("mmerr"),
        mode: "sequential",
        clean: (v) => ({ total: v.total }),
      });
      let caught: unknown;
      try {
        wrapped();
      } catch (e) {
        caught = e;
      }
      assert.ok(caught instanceof MismatchError);
      assert.equal(typeof caught.code, "string");
      assert.ok(caught.message.includes(caught.experiment));
      // The observation listing shows the cleaned value (the diff summary is computed on raw values).
      const listing = caught.message.slice(0, caught.message.indexOf(caught.result.mismatches[0]?.summary ?? "\u0000"));
      assert.ok(listing.includes("49.9"));
      assert.ok(!listing.includes("4111"), "the cleaned value, not the raw one");
      assert.ok(caught.message.includes("boom"));
      assert.ok(caught.message.includes(caught.result.mismatches[0]?.summary ?? "\u0000"));
    });

    it("flush() settles every experiment in the process", async () => {
      const names = [uniqueName("f1"), uniqueName("f2")];
      for (const name of names) shadow(() => 1, () => new Promise<number>((r) => setTimeout(() => r(1), 10)) as unknown as number, { name })();
      await flush();
      assert.deepEqual(names.map((n) => h.memory.results.filter((r) => r.experiment === n).length), [1, 1]);
    });
  });
});
