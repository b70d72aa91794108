/**
 * Soak: 100 000 calls through two experiments (a sync control and an async one) under
 * `maxConcurrent: 64`, with random candidate faults (throws, rejections, delays, hangs that time
 * out) and hook faults (compare, clean). Checks that every caller got the control's own answer,
 * that the heap stays bounded, that every call is accounted for (published + skipped = attempts,
 * per experiment), and that the JSONL file holds exactly the published results after `flush()`.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as v8 from "node:v8";
import * as vm from "node:vm";
import { flush, jsonlPublisher, shadow, type ExperimentError, type JsonlPublisher, type Publisher } from "../../src/index";
import { resetConfiguration } from "../support/capture";

const CALLS = 100_000;
/**
 * Calls issued per turn of the event loop, drawn between these bounds: small bursts leave slots
 * free, large ones (up to ~100 per experiment) run into the 64-slot limit.
 */
const MIN_CHUNK = 10;
const MAX_CHUNK = 200;
const MAX_CONCURRENT = 64;
const TIMEOUT_MS = 15;
const CHECKPOINT_EVERY = 10_000;
/** Heap growth allowed between the warm-up baseline and any checkpoint (after a full GC). */
const HEAP_GROWTH_LIMIT = 16 * 1024 * 1024;
/** Without a real GC to call, garbage is counted too: a much more generous bound. */
const HEAP_GROWTH_LIMIT_WITHOUT_GC = 256 * 1024 * 1024;

/** A real `gc()`: the one `--expose-gc` gives, else one obtained by turning the flag on at run time. */
function findGc(): (() => void) | undefined {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (typeof exposed === "function") return exposed;
  try {
    v8.setFlagsFromString("--expose-gc");
    const gc: unknown = vm.runInNewContext("gc");
    return typeof gc === "function" ? (gc as () => void) : undefined;
  } catch {
    return undefined;
  }
}

/** mulberry32: a small seeded PRNG, so a failure can be replayed with its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Order {
  i: number;
  /** What the candidate does on this call (drawn by the test). */
  fault: "equal" | "different" | "throw" | "reject" | "delay" | "hang";
  delayMs: number;
  lines: Array<{ sku: string; qty: number }>;
}
interface Total {
  i: number;
  total: number;
  lines: number;
}

function totalOf(order: Order): Total {
  return { i: order.i, total: order.lines.reduce((sum, l) => sum + l.qty, 0), lines: order.lines.length };
}

function candidate(order: Order): Total | Promise<Total> {
  switch (order.fault) {
    case "equal":
      return totalOf(order);
    case "different":
      return { ...totalOf(order), total: -1 };
    case "throw":
      throw new RangeError(`candidate ${order.i} failed`);
    case "reject":
      return Promise.reject(order.i % 2 === 0 ? undefined : new Error(`candidate ${order.i} rejected`));
    case "delay":
      return new Promise((resolve) => setTimeout(() => resolve(totalOf(order)), order.delayMs));
    case "hang":
      return new Promise<never>(() => undefined);
  }
}

const FAULTS: ReadonlyArray<[Order["fault"], number]> = [
  ["equal", 0.45],
  ["different", 0.15],
  ["throw", 0.1],
  ["reject", 0.1],
  ["delay", 0.15],
  ["hang", 0.05],
];

function drawFault(random: () => number): Order["fault"] {
  let x = random();
  for (const [fault, p] of FAULTS) {
    if (x < p) return fault;
    x -= p;
  }
  return "equal";
}

describe("soak: 100 000 calls with random faults under maxConcurrent", function () {
  this.timeout(120_000);
  let dir: string;
  let jsonl: JsonlPublisher | undefined;

  before(() => {
    resetConfiguration();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "penumbra-soak-"));
  });

  after(async () => {
    await jsonl?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("answers all 100 000 callers with the control, keeps the heap bounded, and accounts for every call: published + skipped = attempts, and the JSONL file holds exactly the published results", async () => {
    const seed = (Date.now() ^ (process.pid << 8)) >>> 0;
    const random = prng(seed);
    const why = `(seed ${seed})`;
    const gc = findGc();
    const started = Date.now();

    jsonl = jsonlPublisher(path.join(dir, "soak.jsonl"));
    const names = ["soak-sync", "soak-async"] as const;
    const attempts = new Map<string, number>(names.map((n) => [n, 0]));
    const published = new Map<string, number>(names.map((n) => [n, 0]));
    const skipped = new Map<string, number>(names.map((n) => [n, 0]));
    const bump = (m: Map<string, number>, k: string): void => void m.set(k, (m.get(k) ?? 0) + 1);
    const counting: Publisher = {
      publish: (r) => bump(published, r.experiment),
      skipped: (experiment) => bump(skipped, experiment),
    };
    const errors = new Map<string, number>();
    const hookFaults = { compare: 0, clean: 0 };
    const onError = (e: ExperimentError): void => bump(errors, e.operation);
    const escapes: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void escapes.push(reason);
    process.on("unhandledRejection", onUnhandled);

    // Hook faults: every 97th compare and every 89th clean throw (both still publish).
    let compareCalls = 0;
    let cleanCalls = 0;
    const hooks = {
      compare: (a: Total, b: Total): boolean => {
        if (++compareCalls % 97 === 0) {
          hookFaults.compare++;
          throw new Error("compare fault");
        }
        return a.total === b.total && a.i === b.i && a.lines === b.lines;
      },
      clean: (v: Total): unknown => {
        if (++cleanCalls % 89 === 0) {
          hookFaults.clean++;
          throw new Error("clean fault");
        }
        return { total: v.total };
      },
    };
    const common = { maxConcurrent: MAX_CONCURRENT, timeoutMs: TIMEOUT_MS, publish: [counting, jsonl], onError, ...hooks };
    const syncWrapped = shadow<[Order], Total>((order) => totalOf(order), candidate as (o: Order) => Total, { name: names[0], ...common });
    const asyncWrapped = shadow<[Order], Promise<Total>>(
      async (order) => {
        if (order.i % 7 === 0) throw new TypeError(`control ${order.i} failed`);
        return totalOf(order);
      },
      candidate as (o: Order) => Promise<Total>,
      { name: names[1], ...common },
    );

    const heap: number[] = [];
    const sampleHeap = async (): Promise<number> => {
      await new Promise((resolve) => setImmediate(resolve));
      gc?.();
      const used = process.memoryUsage().heapUsed;
      heap.push(used);
      return used;
    };

    let wrongAnswers = 0;
    let pendingAnswers: Array<Promise<void>> = [];
    let baseline = 0;
    let chunkEnd = 0;
    for (let i = 0; i < CALLS; i++) {
      const order: Order = {
        i,
        fault: drawFault(random),
        delayMs: Math.floor(random() * 5),
        lines: [
          { sku: "a", qty: 1 + (i % 3) },
          { sku: "b", qty: 2 },
        ],
      };
      if (random() < 0.5) {
        bump(attempts, names[0]);
        const out = syncWrapped(order);
        if (out.total !== order.lines[0]!.qty + 2 || out.i !== i) wrongAnswers++;
      } else {
        bump(attempts, names[1]);
        pendingAnswers.push(
          asyncWrapped(order).then(
            (out) => {
              if (i % 7 === 0 || out.i !== i) wrongAnswers++;
            },
            (error: unknown) => {
              if (!(error instanceof TypeError) || i % 7 !== 0) wrongAnswers++;
            },
          ),
        );
      }
      if (i >= chunkEnd) {
        chunkEnd = i + MIN_CHUNK + Math.floor(random() * (MAX_CHUNK - MIN_CHUNK));
        await Promise.all(pendingAnswers);
        pendingAnswers = [];
        await new Promise((resolve) => setImmediate(resolve));
      }
      if ((i + 1) % CHECKPOINT_EVERY === 0) {
        const used = await sampleHeap();
        if (i + 1 === CHECKPOINT_EVERY) baseline = used;
      }
    }
    await Promise.all(pendingAnswers);
    const callsDone = Date.now();

    await flush();
    const flushed = Date.now();
    process.off("unhandledRejection", onUnhandled);
    const afterFlush = await sampleHeap();

    // Every caller got the control's own answer.
    assert.equal(wrongAnswers, 0, `every caller got the control's outcome ${why}`);
    assert.deepEqual(escapes, [], `no unhandled rejection ${why}`);

    // Heap bounded: no checkpoint (nor the state after flush) grew past the limit over the warm-up baseline.
    const limit = gc === undefined ? HEAP_GROWTH_LIMIT_WITHOUT_GC : HEAP_GROWTH_LIMIT;
    const mb = (n: number): string => `${(n / 1024 / 1024).toFixed(1)} MB`;
    const growth = Math.max(...heap) - baseline;
    assert.ok(growth < limit, `heap grew ${mb(growth)} over the ${mb(baseline)} baseline (limit ${mb(limit)}): ${heap.map(mb).join(", ")} ${why}`);
    assert.ok(afterFlush - baseline < limit, `heap after flush ${mb(afterFlush)} vs baseline ${mb(baseline)} ${why}`);

    // Accounting per experiment: published + skipped = admitted attempts (there are no gates).
    let totalPublished = 0;
    for (const name of names) {
      const p = published.get(name) ?? 0;
      const s = skipped.get(name) ?? 0;
      totalPublished += p;
      assert.equal(p + s, attempts.get(name), `${name}: published ${p} + skipped ${s} = attempts ${attempts.get(name) ?? 0} ${why}`);
      assert.ok(s > 0, `${name}: maxConcurrent turned some calls away ${why}`);
      assert.ok(p > (attempts.get(name) ?? 0) / 4, `${name}: most calls were admitted (${p}) ${why}`);
    }
    assert.equal((attempts.get(names[0]) ?? 0) + (attempts.get(names[1]) ?? 0), CALLS);

    // Hook faults reached onError once each, and nothing else did.
    assert.deepEqual(Object.fromEntries(errors), Object.fromEntries(Object.entries(hookFaults).filter(([, n]) => n > 0)), `only the injected hook faults were reported ${why}`);
    assert.ok(hookFaults.compare > 0 && hookFaults.clean > 0, "both hook faults were exercised");

    // The JSONL file holds exactly the published results: one line each, unique runIds.
    const file = jsonl.path;
    await jsonl.close();
    jsonl = undefined;
    const text = fs.readFileSync(file, "utf8");
    const lines = text.split("\n");
    assert.equal(lines.pop(), "", "the file ends with a newline");
    assert.equal(lines.length, totalPublished, `one line per published result ${why}`);
    const runIds = new Set<string>();
    const perExperiment = new Map<string, number>();
    for (const line of lines) {
      const parsed = JSON.parse(line) as { experiment: string; runId: string };
      runIds.add(parsed.runId);
      bump(perExperiment, parsed.experiment);
    }
    assert.equal(runIds.size, totalPublished, "every line is a different run");
    for (const name of names) assert.equal(perExperiment.get(name), published.get(name), `${name}: lines = published`);

    const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
    console.log(
      `      soak: ${CALLS} calls in ${seconds(callsDone - started)}, flush ${seconds(flushed - callsDone)}; ` +
        `published ${totalPublished}, skipped ${CALLS - totalPublished}; heap ${heap.map(mb).join(" → ")} (gc ${gc === undefined ? "unavailable" : "forced"})`,
    );
  });
});
