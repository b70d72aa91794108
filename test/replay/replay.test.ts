import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import fc from "fast-check";
import { Experiment, PenumbraError, guard, jsonlPublisher, memoryPublisher, type Result } from "../../src/index";
import { replay, type ProgressStream } from "../../src/replay/index";
import { resultToJSON } from "../../src/store/serialize";
import { run } from "../operate/fixtures";

interface Line {
  sku: string;
  price: number;
  qty: number;
}
interface Cart {
  id: string;
  lines: Line[];
  coupon?: string;
}
interface Total {
  total: number;
  items: number;
}

/** The old code: coupons take 10 % off. */
function legacyTotal(cart: Cart): Total {
  const sum = cart.lines.reduce((s, l) => s + l.price * l.qty, 0);
  return { total: Math.round((cart.coupon === undefined ? sum : sum * 0.9) * 100) / 100, items: cart.lines.length };
}

/** The planted bug: the coupon is applied to the first line only. */
function buggyTotal(cart: Cart): Total {
  const sum = cart.lines.reduce((s, l, i) => s + (i === 0 && cart.coupon !== undefined ? l.price * l.qty * 0.9 : l.price * l.qty), 0);
  return { total: Math.round(sum * 100) / 100, items: cart.lines.length };
}

/** The fix. */
function fixedTotal(cart: Cart): Total {
  const sum = cart.lines.reduce((s, l) => s + l.price * l.qty, 0);
  const discounted = cart.coupon === undefined ? sum : sum - sum / 10;
  return { total: Math.round(discounted * 100) / 100, items: cart.lines.length };
}

function carts(n: number): Cart[] {
  return Array.from({ length: n }, (_, i) => {
    const cart: Cart = {
      id: `cart-${i}`,
      lines: [
        { sku: "a", price: 10 + i, qty: 1 },
        { sku: "b", price: 5, qty: 2 },
      ],
    };
    if (i % 4 === 0) cart.coupon = "SAVE10";
    return cart;
  });
}

/** One result line with captured arguments `[n]`, as jsonlPublisher writes it. */
function resultToJSONLine(n: number): string {
  const line = JSON.parse(resultToJSON(run({ experiment: "numbers" }))) as Record<string, unknown>;
  line["args"] = [n];
  return JSON.stringify(line);
}

describe("replay", () => {
  let dir: string;
  let file: string;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "penumbra-replay-"));
    file = path.join(dir, "results.jsonl");
  });

  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Records real runs of the buggy candidate with captureArgs, into the JSONL file. */
  async function record(n: number, extra?: (e: Experiment<[Cart], Total>) => void): Promise<void> {
    const results = jsonlPublisher(file);
    const experiment = new Experiment<[Cart], Total>("checkout-total", { mode: "sequential", captureArgs: true, publish: results })
      .use(legacyTotal)
      .try(buggyTotal);
    extra?.(experiment);
    for (const cart of carts(n)) experiment.run(cart);
    await experiment.settled();
    await results.close();
  }

  it("replays a planted bug from a JSONL file: the coupon carts differ, with the expected summary", async () => {
    await record(20);
    const report = await replay<[Cart], Total>(file, { control: legacyTotal, candidate: buggyTotal, progress: false });
    assert.equal(report.experiment, "checkout-total");
    assert.equal(report.candidate, "candidate");
    assert.equal(report.runs, 20);
    assert.equal(report.skipped, 0);
    assert.deepEqual(report.malformed, []);
    // Carts 0, 4, 8, 12, 16 have a coupon: 5 of 20.
    assert.equal(report.fieldMatchRate, 15 / 20);
    assert.equal(report.statusMatchRate, 1);
    assert.equal(report.errorRate, 0);
    assert.equal(report.differing.length, 5);
    assert.deepEqual(
      report.differing.map((r) => (r.args?.[0] as Cart).id),
      ["cart-0", "cart-4", "cart-8", "cart-12", "cart-16"],
    );
    assert.deepEqual(report.reasons.map((r) => [r.reason, r.count]), [["total", 5]]);
    assert.match(report.reasons[0]!.example, /^total=/);
    // Each replayed result is a new run that points back at the record it replays.
    const original = fs.readFileSync(file, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as Result<unknown>);
    assert.ok(original.some((r) => r.runId === report.differing[0]!.context["replayOf"]));
    assert.notEqual(report.differing[0]!.runId, report.differing[0]!.context["replayOf"]);
    assert.ok(report.latency.control.p50 >= 0 && report.latency.candidate.p99 >= 0);
  });

  it("a fixed candidate gives zero differing results", async () => {
    await record(20);
    const report = await replay<[Cart], Total>(file, { control: legacyTotal, candidate: fixedTotal, progress: false });
    assert.equal(report.runs, 20);
    assert.equal(report.fieldMatchRate, 1);
    assert.deepEqual(report.differing, []);
    assert.deepEqual(report.reasons, []);
  });

  it("replays in-memory records, applies the experiment options (buckets) and filters other experiments", async () => {
    const memory = memoryPublisher();
    const experiment = new Experiment<[Cart], Total>("checkout-total", { mode: "sequential", captureArgs: true, publish: memory })
      .use(legacyTotal)
      .try(buggyTotal);
    for (const cart of carts(8)) experiment.run(cart);
    await experiment.settled();
    const other = { ...memory.results[0]!, experiment: "other-experiment" } as Result<unknown>;
    const report = await replay<[Cart], Total>([...memory.results, other], {
      control: legacyTotal,
      candidate: buggyTotal,
      experiment: "checkout-total",
      buckets: [{ name: "coupon-rounding", match: (d) => d.path === "total" }],
      progress: false,
    });
    assert.equal(report.runs, 8);
    assert.equal(report.filtered, 1);
    assert.deepEqual(report.reasons.map((r) => r.reason), ["coupon-rounding"]);
    assert.equal(report.differing.length, 2);
  });

  it("sinks the guarded effects of BOTH sides: the real client receives nothing", async () => {
    const counter = { increments: 0, async increment(by: number): Promise<number> { this.increments += by; return this.increments; } };
    const client = guard("counter", counter, { effects: ["increment"] });
    const memory = memoryPublisher();
    // Recorded outside any experiment's shadow: the control's increments are real here.
    const experiment = new Experiment<[number], Promise<number>>("count", { mode: "sequential", captureArgs: true, publish: memory })
      .use(async (n) => {
        await client.increment(n);
        return n * 2;
      })
      .try(async (n) => {
        await client.increment(n + 1);
        return n + n;
      });
    for (const n of [1, 2, 3]) await experiment.run(n);
    await experiment.settled();
    const before = counter.increments;
    assert.equal(before, 6, "recording ran the control's real effects");

    const report = await replay<[number], Promise<number>>(memory.results, {
      control: async (n) => {
        await client.increment(n);
        return n * 2;
      },
      candidate: async (n) => {
        await client.increment(n + 1);
        return n + n;
      },
      progress: false,
    });
    assert.equal(counter.increments, before, "no increment reached the client during the replay");
    assert.equal(report.runs, 3);
    // Both sides' intents were recorded and compared: the candidate increments by one more.
    assert.equal(report.differing.length, 3);
    const first = report.differing[0]!;
    assert.deepEqual(first.control.effects.map((e) => [e.name, e.args, e.role, e.blocked]), [["counter.increment", [1], "control", true]]);
    assert.deepEqual(first.candidates[0]!.effects.map((e) => [e.name, e.args, e.blocked]), [["counter.increment", [2], true]]);
    assert.deepEqual(report.reasons.map((r) => r.reason), ["effects:counter.increment"]);
  });

  it("counts malformed lines with their line numbers, and skips records without args", async () => {
    await record(3);
    const good = fs.readFileSync(file, "utf8").split("\n").filter(Boolean);
    const noArgs = JSON.parse(good[0]!) as Record<string, unknown>;
    delete noArgs["args"];
    const lines = [good[0], "{not json", good[1], "", JSON.stringify({ hello: "world" }), JSON.stringify(noArgs), good[2], '{"experiment":"checkout-total",'];
    fs.writeFileSync(file, `${lines.join("\n")}\n`);
    const report = await replay<[Cart], Total>(file, { control: legacyTotal, candidate: fixedTotal, progress: false });
    assert.equal(report.runs, 3);
    assert.equal(report.skipped, 1);
    assert.deepEqual(report.malformed.map((m) => m.line), [2, 5, 8]);
    assert.match(report.malformed[0]!.error, /malformed result line/);
    assert.match(report.malformed[1]!.error, /not a result line/);
    assert.equal(report.notReplayed, 4);
    assert.match(
      report.notice!,
      /^4 of 7 records could not be replayed: 1 without captured arguments \(publish them with captureArgs: true to replay them\), 3 unreadable \(lines 2, 5, 8; first: /,
    );
  });

  it("says nothing was left out when every record was replayed", async () => {
    await record(4);
    const report = await replay<[Cart], Total>(file, { control: legacyTotal, candidate: fixedTotal, progress: false });
    assert.equal(report.notReplayed, 0);
    assert.equal(report.notice, undefined);
  });

  it("counts in-memory records that are not replay records as malformed by position, with the reason", async () => {
    const report = await replay([null, 42, { args: "1" }, { args: [1], experiment: "one" }] as unknown as Result<unknown>[], {
      control: () => 1,
      candidate: () => 1,
      progress: false,
    });
    assert.deepEqual(report.malformed.map((m) => m.line), [1, 2, 3]);
    assert.match(report.malformed[0]!.error, /not a replay record \(the record is not an object\): null/);
    assert.match(report.malformed[2]!.error, /not a replay record \(args is not an array\)/);
    assert.equal(report.runs, 1);
    assert.equal(report.experiment, "one");
  });

  it("names hostile in-memory records (throwing Proxy traps, throwing or changing getters) as malformed and replays the rest", async () => {
    const throwingProxy = new Proxy({}, { get() { throw new Error("trap"); }, ownKeys() { throw new Error("trap"); } });
    let reads = 0;
    const changing = { experiment: "x", get args(): unknown { reads++; return reads === 1 ? [1] : "not an array any more"; } };
    const throwingGetter = { get args(): unknown { throw new Error("getter"); } };
    const nullPrototype = Object.assign(Object.create(null) as object, { experiment: "x", args: [2] });
    const revocable = Proxy.revocable({ args: [3] }, {});
    revocable.revoke();
    const thenable = { experiment: "x", args: [4], then: () => assert.fail("a record's then is never called") };
    const report = await replay([throwingProxy, changing, throwingGetter, nullPrototype, revocable.proxy, thenable] as unknown as Result<unknown>[], {
      control: (n: number) => n,
      candidate: (n: number) => n,
      progress: false,
    });
    assert.equal(report.runs, 3, "the changing record is read once and replayed with what it said then; the null-prototype one and the thenable too");
    assert.deepEqual(report.malformed.map((m) => m.line), [1, 3, 5]);
    assert.match(report.malformed[0]!.error, /could not be read \(a property access threw\)/);
  });

  describe("never a clean verdict over nothing", () => {
    async function rejection(promise: Promise<unknown>): Promise<PenumbraError> {
      const error = await promise.then(
        () => assert.fail("replay resolved, but it replayed nothing"),
        (e: unknown) => e,
      );
      assert.ok(error instanceof PenumbraError, String(error));
      assert.equal(error.code, "PENUMBRA_NOTHING_REPLAYED");
      return error;
    }

    it("rejects a file recorded without captureArgs, naming captureArgs: true (the README's first replay)", async () => {
      const results = jsonlPublisher(file);
      const experiment = new Experiment<[Cart], Total>("checkout-total", { mode: "sequential", publish: results }).use(legacyTotal).try(buggyTotal);
      for (const cart of carts(5)) experiment.run(cart);
      await experiment.settled();
      await results.close();
      const error = await rejection(replay<[Cart], Total>(file, { control: legacyTotal, candidate: fixedTotal, progress: false }));
      assert.match(error.message, /nothing replayed: none of the 5 records in .* carries captured arguments \(they were published without captureArgs: true;/);
    });

    it("rejects an empty file, a file of blank lines, and an empty list", async () => {
      fs.writeFileSync(file, "");
      assert.match((await rejection(replay(file, { control: () => 1, candidate: () => 1, progress: false }))).message, /nothing replayed: .*results\.jsonl is empty$/);
      fs.writeFileSync(file, "\n \n");
      assert.match((await rejection(replay(file, { control: () => 1, candidate: () => 1, progress: false }))).message, /is empty$/);
      assert.match((await rejection(replay([], { control: () => 1, candidate: () => 1 }))).message, /the records given are empty$/);
    });

    it("rejects a file whose every line is unreadable, naming the lines", async () => {
      fs.writeFileSync(file, '{oops\n{"candidates":[null]}\n');
      const error = await rejection(replay(file, { control: () => 1, candidate: () => 1, progress: false }));
      assert.match(error.message, /none of the 2 records in .* is readable \(lines 1, 2; first: penumbra: malformed result line/);
    });

    it("rejects when no record belongs to the chosen experiment", async () => {
      await record(3);
      const error = await rejection(replay<[Cart], Total>(file, { control: legacyTotal, candidate: fixedTotal, experiment: "other", progress: false }));
      assert.match(error.message, /no record of experiment 'other' in .* \(3 records of other experiments\)/);
    });

    it("rejects a mix of records without args and unreadable ones, counting each", async () => {
      const error = await rejection(replay([{ experiment: "x" }, 7] as unknown as Result<unknown>[], { control: () => 1, candidate: () => 1 }));
      assert.match(error.message, /of 2 records in the records given, 1 carry no captured arguments .* and 1 are unreadable \(line 2;/);
    });

    it("for any file of arbitrary lines, either replays at least one record or rejects with the cause; never a 0-run report", async function () {
      this.timeout(60_000);
      const good = resultToJSONLine(1);
      await fc.assert(
        fc.asyncProperty(fc.array(fc.oneof(fc.constant(good), fc.json(), fc.string({ maxLength: 40 })), { maxLength: 8 }), async (lines) => {
          fs.writeFileSync(file, lines.join("\n"));
          const expected = lines.filter((l) => l === good).length;
          try {
            const report = await replay<[number], number>(file, { control: (n) => n, candidate: (n) => n, progress: false });
            assert.equal(report.runs, expected);
            assert.ok(report.runs > 0);
          } catch (error) {
            assert.equal(expected, 0, String(error));
            assert.ok(error instanceof PenumbraError && error.code === "PENUMBRA_NOTHING_REPLAYED", String(error));
          }
        }),
        { numRuns: 100 },
      );
    });
  });

  it("rejects with the fs error for a missing file, and with a TypeError for bad options", async () => {
    await assert.rejects(replay(path.join(dir, "missing.jsonl"), { control: () => 1, candidate: () => 1 }), /ENOENT/);
    await assert.rejects(
      replay([], { control: () => 1, candidate: "nope" as unknown as () => number }),
      /replay option 'candidate' must be a function/,
    );
    await assert.rejects(replay([], { control: () => 1, candidate: () => 1, smaple: 1 } as never), /unknown option 'smaple'/);
  });

  it("treats a control that outlives timeoutMs as having thrown", async () => {
    const records = [{ experiment: "slow", runId: "r1", args: [1], context: {} } as unknown as Result<unknown>];
    const report = await replay<[number], Promise<number>>(records, {
      control: () => new Promise<number>(() => undefined),
      candidate: async (n) => n,
      timeoutMs: 20,
      progress: false,
    });
    assert.deepEqual(report.reasons.map((r) => r.reason), ["error:control-threw"]);
  });

  it("draws a throttled progress bar on a TTY stream and nothing on a non-TTY one", async () => {
    await record(12);
    const chunks: string[] = [];
    const tty: ProgressStream = { isTTY: true, columns: 120, write: (chunk) => chunks.push(chunk) };
    await replay<[Cart], Total>(file, { control: legacyTotal, candidate: fixedTotal, progress: tty });
    const out = chunks.join("");
    assert.match(out, /^\rreplay \[[#.]+\] \d+% \(\d+ records\)/);
    assert.match(out, /\rreplay \[#{30}\] 100% \(12 records\)\x1b\[K\n$/);

    const arrayChunks: string[] = [];
    const memory = memoryPublisher();
    const experiment = new Experiment<[Cart], Total>("checkout-total", { mode: "sequential", captureArgs: true, publish: memory })
      .use(legacyTotal)
      .try(fixedTotal);
    for (const cart of carts(5)) experiment.run(cart);
    await experiment.settled();
    await replay<[Cart], Total>(memory.results, {
      control: legacyTotal,
      candidate: fixedTotal,
      progress: { isTTY: true, write: (chunk) => arrayChunks.push(chunk) },
    });
    assert.match(arrayChunks.join(""), /\rreplay \[#{30}\] 5\/5\x1b\[K\n$/);

    const quiet: string[] = [];
    await replay<[Cart], Total>(file, { control: legacyTotal, candidate: fixedTotal, progress: { isTTY: false, write: (c) => quiet.push(c) } });
    assert.deepEqual(quiet, []);
  });
});
