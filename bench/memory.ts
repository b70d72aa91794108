/**
 * Memory under sustained load: many calls at 100% sampling, with a candidate 10× slower than the
 * control, in a child process started with `--expose-gc`.
 *
 * Shape of the load: W workers each await the wrapped function in a loop. The control resolves
 * after one event-loop turn (one `setImmediate`), the candidate after ten. Every turn W new calls
 * start while each admitted candidate lives ten turns, so with W = 64 about 640 runs want a slot
 * against `maxConcurrent` 256: slots stay saturated and the rest are skipped, which is the overload
 * path this benchmark is about. The load is bounded (a fixed call count) and stops by itself.
 *
 * Heap: `heapUsed` is sampled every SAMPLE_EVERY calls (peak, with garbage), and at every tenth of
 * the run a `gc()` reads the retained heap — flat after warm-up means nothing accumulates per call.
 */
import { execFile } from "node:child_process";
import * as path from "node:path";
import { flush, shadow, type Publisher } from "../src/index";
import { machineLine } from "./machine";

const SAMPLE_EVERY = 1000;
const WORKERS = 64;

interface MemoryReport {
  calls: number;
  workers: number;
  wallMs: number;
  callsPerSec: number;
  published: number;
  mismatched: number;
  skipped: number;
  heapBeforeMb: number;
  heapPeakMb: number;
  heapEndNoGcMb: number;
  heapAfterFlushGcMb: number;
  /** Retained heap (after gc) at each tenth of the run. */
  decilesMb: number[];
  rssEndMb: number;
}

const mb = (bytes: number): number => Math.round((bytes / 2 ** 20) * 100) / 100;
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

interface Order {
  id: number;
  qty: number;
  unitPrice: number;
}

/** Runs inside the child: the load itself. */
async function child(calls: number): Promise<MemoryReport> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error("bench/memory: the child needs --expose-gc");

  let published = 0;
  let mismatched = 0;
  let skipped = 0;
  const publisher: Publisher = {
    publish: (result) => {
      published++;
      if (result.mismatched) mismatched++;
    },
    skipped: () => {
      skipped++;
    },
  };

  const control = async (order: Order): Promise<{ id: number; total: number }> => {
    await turn();
    return { id: order.id, total: order.qty * order.unitPrice };
  };
  const candidate = async (order: Order): Promise<{ id: number; total: number }> => {
    for (let i = 0; i < 10; i++) await turn();
    return { id: order.id, total: order.qty * order.unitPrice };
  };
  const wrapped = shadow(control, candidate, { name: "memory", sample: 1, publish: publisher });

  gc();
  const heapBefore = process.memoryUsage().heapUsed;
  let peak = heapBefore;
  const deciles: number[] = [];
  const tenth = Math.max(1, Math.floor(calls / 10));
  let issued = 0;

  const started = process.hrtime.bigint();
  const worker = async (): Promise<void> => {
    while (issued < calls) {
      const n = ++issued;
      await wrapped({ id: n, qty: 1 + (n % 3), unitPrice: 9.99 });
      if (n % SAMPLE_EVERY === 0) peak = Math.max(peak, process.memoryUsage().heapUsed);
      if (n % tenth === 0) {
        gc();
        deciles.push(process.memoryUsage().heapUsed);
      }
    }
  };
  await Promise.all(Array.from({ length: WORKERS }, worker));
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
  const heapEnd = process.memoryUsage().heapUsed;
  peak = Math.max(peak, heapEnd);
  await flush();
  gc();
  const heapAfter = process.memoryUsage().heapUsed;

  return {
    calls,
    workers: WORKERS,
    wallMs: Math.round(wallMs),
    callsPerSec: Math.round(calls / (wallMs / 1000)),
    published,
    mismatched,
    skipped,
    heapBeforeMb: mb(heapBefore),
    heapPeakMb: mb(peak),
    heapEndNoGcMb: mb(heapEnd),
    heapAfterFlushGcMb: mb(heapAfter),
    decilesMb: deciles.map(mb),
    rssEndMb: mb(process.memoryUsage().rss),
  };
}

/** Starts the child with --expose-gc and reads its one-line JSON report. */
function runChild(calls: number): Promise<MemoryReport> {
  const root = path.resolve(__dirname, "..");
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ["--expose-gc", "-r", "ts-node/register", path.join(__dirname, "memory.ts"), "--child", String(calls)],
      { cwd: root, timeout: 300_000, maxBuffer: 1 << 20 },
      (error, stdout, stderr) => {
        if (error) return reject(new Error(`bench/memory child failed: ${error.message}\n${stderr}`));
        const line = stdout.trim().split("\n").pop() ?? "";
        try {
          resolve(JSON.parse(line) as MemoryReport);
        } catch {
          reject(new Error(`bench/memory: unreadable child output: ${stdout}`));
        }
      },
    );
  });
}

/** Runs the memory benchmark (1 000 000 calls; 200 000 when quick) and returns a Markdown section. */
export async function benchMemory(quick = false): Promise<string> {
  const calls = quick ? 200_000 : 1_000_000;
  const r = await runChild(calls);
  const afterWarmup = r.decilesMb.slice(1);
  const spread = afterWarmup.length > 0 ? Math.max(...afterWarmup) - Math.min(...afterWarmup) : NaN;
  return [
    "### Memory under sustained load (100% sampled, candidate 10× the control)",
    "",
    `Machine: ${machineLine()}. ${new Date().toISOString().slice(0, 10)}. Child process with --expose-gc; ` +
      `${r.calls.toLocaleString("en-US")} calls from ${r.workers} concurrent callers; control resolves after 1 event-loop turn, ` +
      `candidate after 10; maxConcurrent 256 (default).`,
    "",
    "| measure | value |",
    "|---|---:|",
    `| wall time | ${r.wallMs} ms (${r.callsPerSec.toLocaleString("en-US")} calls/s) |`,
    `| published (compared) | ${r.published.toLocaleString("en-US")} |`,
    `| skipped for lack of a slot (publisher \`skipped\`) | ${r.skipped.toLocaleString("en-US")} |`,
    `| mismatched | ${r.mismatched} |`,
    `| heapUsed before (after gc) | ${r.heapBeforeMb} MB |`,
    `| heapUsed peak (sampled every ${SAMPLE_EVERY} calls, no gc) | ${r.heapPeakMb} MB |`,
    `| heapUsed at end, no gc | ${r.heapEndNoGcMb} MB |`,
    `| heapUsed after flush() + gc | ${r.heapAfterFlushGcMb} MB |`,
    `| RSS at end | ${r.rssEndMb} MB |`,
    "",
    `Retained heap (gc at each tenth of the run, MB): ${r.decilesMb.join(" → ")}. ` +
      `Spread after the first tenth: ${spread.toFixed(2)} MB.`,
    "",
  ].join("\n");
}

if (require.main === module) {
  const childIndex = process.argv.indexOf("--child");
  if (childIndex >= 0) {
    const calls = Number(process.argv[childIndex + 1] ?? "1000000");
    child(calls).then(
      (report) => console.log(JSON.stringify(report)),
      (error: unknown) => {
        console.error(error);
        process.exitCode = 1;
      },
    );
  } else {
    benchMemory(process.argv.includes("--quick")).then((text) => console.log(text));
  }
}
