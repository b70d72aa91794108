/**
 * `settled()` and `flush()`: what they wait for, how long they wait for a publisher, strict mode's
 * rejections, and that they keep a process alive until its results are published.
 */
import { strict as assert } from "node:assert";
import { execFile } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { ExperimentError, configure, flush, shadow, type Result } from "../../src/index";
import { collector, errorSink, resetConfiguration, sleep } from "../support/capture";

const ROOT = resolve(__dirname, "../..");

describe("settled() and flush()", () => {
  afterEach(async () => {
    // Drain whatever strict errors a test left behind, so no later flush() rejects with them.
    await flush().catch(() => undefined);
    resetConfiguration();
  });

  describe("what they wait for", () => {
    it("settled() waits for a slow candidate, its comparison and the publishers' returned promises", async () => {
      const events: string[] = [];
      const wrapped = shadow<[], unknown>(
        () => ({ total: 1 }),
        async () => {
          await sleep(30);
          events.push("candidate finished");
          return { total: 2 };
        },
        {
          publish: async (result: Result<unknown>) => {
            events.push(`publish started (mismatched: ${String(result.mismatched)})`);
            await sleep(30);
            events.push("publish finished");
          },
        },
      );
      wrapped();
      await wrapped.experiment.settled();
      events.push("settled");
      assert.deepEqual(events, ["candidate finished", "publish started (mismatched: true)", "publish finished", "settled"]);
    });

    it("settled() resolves at once when nothing is in flight", async () => {
      const wrapped = shadow(() => 1, () => 1, { publish: collector() });
      const started = Date.now();
      await wrapped.experiment.settled();
      assert.ok(Date.now() - started < 50);
    });

    it("settled() waits only for its own experiment", async () => {
      const slow = shadow<[], unknown>(() => 1, () => sleep(300).then(() => 1), { publish: collector() });
      const fast = shadow(() => 1, () => 1, { publish: collector() });
      slow();
      fast();
      const started = Date.now();
      await fast.experiment.settled();
      assert.ok(Date.now() - started < 200, "did not wait for the other experiment's candidate");
      await slow.experiment.settled();
    });

    it("flush() waits for every experiment's candidates and publishers", async () => {
      const done: string[] = [];
      const make = (name: string, delay: number) =>
        shadow<[], unknown>(
          () => 1,
          async () => {
            await sleep(delay);
            return 1;
          },
          {
            name,
            publish: async () => {
              await sleep(delay);
              done.push(name);
            },
          },
        );
      const a = make("flush-a", 20);
      const b = make("flush-b", 40);
      a();
      b();
      a();
      await flush();
      assert.deepEqual([...done].sort(), ["flush-a", "flush-a", "flush-b"]);
    });

    it("a publisher promise still pending after 10 s is reported as publish and no longer awaited", async function () {
      this.timeout(15000);
      const errors = errorSink();
      const sink = collector();
      const wrapped = shadow(() => 1, () => 1, {
        publish: [{ publish: () => new Promise<void>(() => undefined) }, sink],
        onError: errors.onError,
      });
      wrapped();
      const started = Date.now();
      await wrapped.experiment.settled();
      const waited = Date.now() - started;
      assert.ok(waited >= 9900 && waited < 12000, `settled() gave up after about 10 s, waited ${waited} ms`);
      assert.equal(sink.results.length, 1, "the other publisher got the result");
      assert.equal(errors.errors.length, 1);
      const [error] = errors.errors;
      assert.ok(error instanceof ExperimentError);
      assert.equal(error.operation, "publish");
      // No longer awaited: the next settled() does not wait for it again.
      const again = Date.now();
      await wrapped.experiment.settled();
      assert.ok(Date.now() - again < 50);
    });
  });

  describe("strict mode", () => {
    beforeEach(() => configure({ strict: true }));

    /** An experiment whose compare throws the given errors, one per run, in order. */
    function failingCompare(name: string, thrown: Error[], onError?: (e: ExperimentError) => void) {
      const queue = [...thrown];
      return shadow(() => 1, () => 1, {
        name,
        compare: () => {
          throw queue.shift() ?? new Error("unexpected extra compare");
        },
        publish: collector(),
        ...(onError === undefined ? {} : { onError }),
      });
    }

    it("settled() rejects with the first error reported for the experiment since the last settled(), and the next one resolves", async () => {
      const errors = errorSink();
      const first = new Error("first compare failure");
      const second = new Error("second compare failure");
      const wrapped = failingCompare("strict-settled", [first, second], errors.onError);
      wrapped();
      wrapped();
      await assert.rejects(wrapped.experiment.settled(), (e: unknown) => {
        assert.ok(e instanceof ExperimentError);
        assert.equal(e.operation, "compare");
        assert.equal(e.cause, first, "the first error, not a later one");
        assert.equal(e.experiment, "strict-settled");
        return true;
      });
      await wrapped.experiment.settled();
      await flush();
      assert.deepEqual(
        errors.errors.map((e) => e.cause),
        [first, second],
        "onError still fires for every error in strict mode",
      );
    });

    it("settled() rejects only with errors of its own experiment", async () => {
      const healthy = shadow(() => 1, () => 1, { name: "strict-healthy", publish: collector() });
      const broken = failingCompare("strict-broken", [new Error("broken compare")], () => undefined);
      healthy();
      broken();
      await healthy.experiment.settled();
      await assert.rejects(broken.experiment.settled(), (e: unknown) => e instanceof ExperimentError && e.experiment === "strict-broken");
      await broken.experiment.settled();
    });

    it("settled() rejects with a publisher's rejection reported as publish", async () => {
      const reason = new Error("exporter down");
      const wrapped = shadow(() => 1, () => 1, {
        name: "strict-publisher",
        publish: { publish: () => Promise.reject(reason) },
        onError: () => undefined,
      });
      wrapped();
      await assert.rejects(wrapped.experiment.settled(), (e: unknown) => e instanceof ExperimentError && e.operation === "publish" && e.cause === reason);
      await wrapped.experiment.settled();
    });

    it("flush() rejects with the first error reported in the process since the last flush(), and the next one resolves", async () => {
      const errors = errorSink();
      configure({ onError: errors.onError });
      const a = failingCompare("strict-flush-a", [new Error("a failed")]);
      const b = failingCompare("strict-flush-b", [new Error("b failed")]);
      a();
      await sleep(5); // a's comparison is reported first
      b();
      await assert.rejects(flush(), (e: unknown) => {
        assert.ok(e instanceof ExperimentError);
        assert.equal(e.experiment, "strict-flush-a");
        assert.equal((e.cause as Error).message, "a failed");
        return true;
      });
      await flush();
      await b.experiment.settled();
      assert.deepEqual(
        errors.errors.map((e) => e.experiment),
        ["strict-flush-a", "strict-flush-b"],
        "onError still fires in strict mode",
      );
    });

    it("does not reject settled() again for an error flush() already rejected with", async () => {
      const wrapped = failingCompare("strict-consumed", [new Error("once")], () => undefined);
      wrapped();
      await assert.rejects(flush());
      await wrapped.experiment.settled();
    });

    it("does not reject flush() again for an error settled() already rejected with", async () => {
      const wrapped = failingCompare("strict-consumed-by-settled", [new Error("once")], () => undefined);
      wrapped();
      await assert.rejects(wrapped.experiment.settled());
      await flush();
    });

    it("resolves settled() and flush() when nothing failed", async () => {
      const wrapped = shadow(() => 1, () => 2, { publish: collector(), onError: () => undefined });
      wrapped();
      await wrapped.experiment.settled();
      await flush();
    });

    it("makes a sequential run throw the error where the caller is waiting, and settled() then resolves", async () => {
      const errors = errorSink();
      const thrown = new Error("compare failed");
      const wrapped = shadow(() => 1, () => 1, {
        mode: "sequential",
        compare: () => {
          throw thrown;
        },
        publish: collector(),
        onError: errors.onError,
      });
      assert.throws(() => wrapped(), (e: unknown) => e instanceof ExperimentError && e.operation === "compare" && e.cause === thrown);
      assert.equal(errors.errors.length, 1, "onError still fires");
      await wrapped.experiment.settled();
    });
  });

  describe("keeping the process alive", () => {
    // Outside the repository: tests leave nothing behind in it.
    const dir = join(tmpdir(), `penumbra-settled-test-${process.pid}`);
    after(() => rmSync(dir, { recursive: true, force: true }));

    function runScript(name: string, body: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
      mkdirSync(dir, { recursive: true });
      const file = join(dir, `${name}.ts`);
      const index = JSON.stringify(join(ROOT, "src", "index"));
      writeFileSync(file, `import { flush, shadow } from ${index};\n${body}\n`);
      return new Promise((done) => {
        execFile(process.execPath, ["-r", "ts-node/register", file], { cwd: ROOT, timeout: 60000 }, (error, stdout, stderr) => {
          const code = error === null ? 0 : typeof error.code === "number" ? error.code : null;
          done({ code, stdout, stderr });
        });
      });
    }

    const hungCandidate = `
const wrapped = shadow<[number], unknown>(
  (n: number) => n * 2,
  () => new Promise(() => undefined),
  {
    timeoutMs: 200,
    publish: (result) => { console.log("published timedOut=" + String(result.candidates[0]?.timedOut)); },
  },
);
`;

    // Both children start together (ts-node's start-up dominates their run time); each test awaits its own.
    let withFlush: ReturnType<typeof runScript>;
    let withoutFlush: ReturnType<typeof runScript>;
    before(() => {
      withFlush = runScript(
        "flush-keeps-alive",
        `${hungCandidate}
async function main(): Promise<void> {
  console.log("answer=" + String(wrapped(21)));
  await flush();
  console.log("flushed");
}
void main();`,
      );
      withoutFlush = runScript("no-flush", `${hungCandidate}\nconsole.log("answer=" + String(wrapped(21)));`);
    });

    it("exits only after publishing when it calls the wrapper and then awaits flush(), even with a hung candidate", async function () {
      this.timeout(70000);
      const { code, stdout, stderr } = await withFlush;
      assert.equal(code, 0, stderr);
      assert.deepEqual(stdout.trim().split("\n"), ["answer=42", "published timedOut=true", "flushed"]);
    });

    it("does not keep a process alive for a hung candidate when nobody awaits flush()", async function () {
      this.timeout(70000);
      const { code, stdout, stderr } = await withoutFlush;
      assert.equal(code, 0, stderr);
      assert.deepEqual(stdout.trim().split("\n"), ["answer=42"], "the hung candidate's timer is unref'd; flush() is what waits");
    });
  });
});
