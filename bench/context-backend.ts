/**
 * The process-wide price of the context backend, AsyncLocalStorage (penumbra's default) against
 * cls-hooked, on async-heavy code. Both backends tax every promise in the process once their hook
 * is on, whether or not the code runs inside a shadow run, so each variant gets its own child
 * process (the method of toolchain research §3) and the children are interleaved round-robin:
 *
 * - baseline: penumbra loaded, no shadow run ever made (the hook never switched on);
 * - ALS: one shadow run made, which enables penumbra's AsyncLocalStorage for the whole process;
 * - cls-hooked: `configure({ context: clsHookedContext(createNamespace("x")) })`, then one shadow run.
 *
 * Workloads, all outside any shadow run (what the rest of an application pays): one awaited async
 * call whose leaf awaits once; `Promise.all` over ten such calls; and, to show penumbra's own path
 * under each backend, an awaited 100%-sampled shadowed async call (the baseline process calls the
 * control directly instead, so that it never switches the hook on).
 */
import { execFile } from "node:child_process";
import * as path from "node:path";
import { createNamespace } from "cls-hooked";
import { configure, flush, shadow } from "../src/index";
import { clsHookedContext } from "../src/integrations/cls-hooked";
import { machineLine, shuffle } from "./machine";

type Mode = "baseline" | "als" | "cls-hooked";
const MODES: readonly Mode[] = ["baseline", "als", "cls-hooked"];
const WORKLOADS = ["awaited call", "Promise.all × 10", "shadowed call, 100%"] as const;
type Workload = (typeof WORKLOADS)[number];

type ChildReport = Record<Workload, number>;

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
};

async function leaf(n: number): Promise<number> {
  await null;
  return n + 1;
}

async function call(n: number): Promise<number> {
  return await leaf(n);
}

/** ns per awaited operation, median of `reps` timed loops of `n`. */
async function time(reps: number, n: number, op: (i: number) => Promise<unknown>, settle?: () => Promise<void>): Promise<number> {
  const perRep: number[] = [];
  for (let rep = 0; rep < reps + 1; rep++) {
    const started = process.hrtime.bigint();
    for (let i = 0; i < n; i++) await op(i);
    // Background comparisons are part of what the process pays for a shadowed call: settle them
    // inside the timed loop.
    if (settle) await settle();
    const ns = Number(process.hrtime.bigint() - started) / n;
    if (rep > 0) perRep.push(ns); // rep 0 is warm-up
  }
  return median(perRep);
}

/** Runs inside the child: switch the backend on as `mode` says, then time the workloads. */
async function child(mode: Mode, quick: boolean): Promise<ChildReport> {
  const noPublish = (): void => undefined;
  const control = async (n: number): Promise<number> => leaf(n);
  const wrapped = shadow(control, control, { name: "context-backend", sample: 1, publish: noPublish });
  if (mode === "cls-hooked") configure({ context: clsHookedContext(createNamespace("x")) });
  if (mode !== "baseline") {
    await wrapped(1);
    await flush();
  }
  // Sized so the slowest child (cls-hooked, ~6 µs per await here) stays near 15 s.
  const reps = quick ? 3 : 5;
  const shadowed = mode === "baseline" ? control : wrapped;
  return {
    "awaited call": await time(reps, quick ? 30_000 : 100_000, call),
    "Promise.all × 10": await time(reps, quick ? 3_000 : 6_000, (i) => Promise.all(Array.from({ length: 10 }, (_, k) => call(i + k)))),
    "shadowed call, 100%": await time(reps, quick ? 1_000 : 3_000, shadowed, mode === "baseline" ? undefined : flush),
  };
}

function runChild(mode: Mode, quick: boolean): Promise<ChildReport> {
  const args = ["-r", "ts-node/register", path.join(__dirname, "context-backend.ts"), "--child", mode];
  if (quick) args.push("--quick");
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { cwd: path.resolve(__dirname, ".."), timeout: 180_000 }, (error, stdout, stderr) => {
      if (error) return reject(new Error(`bench/context-backend child (${mode}) failed: ${error.message}\n${stderr}`));
      try {
        resolve(JSON.parse(stdout.trim().split("\n").pop() ?? "") as ChildReport);
      } catch {
        reject(new Error(`bench/context-backend: unreadable child output: ${stdout}`));
      }
    });
  });
}

/** Runs the context-backend benchmark and returns a Markdown section. */
export async function benchContextBackend(quick = false): Promise<string> {
  const processes = quick ? 1 : 3;
  const results = new Map<Mode, ChildReport[]>(MODES.map((m) => [m, []]));
  for (let p = 0; p < processes; p++) {
    for (const mode of shuffle(MODES)) (results.get(mode) as ChildReport[]).push(await runChild(mode, quick));
  }
  const summary = (mode: Mode, workload: Workload): number => median((results.get(mode) ?? []).map((r) => r[workload]));
  // The shadowed call has no like-for-like baseline (the baseline process must not switch the hook
  // on), so that column is read against ALS, and the baseline cell shows the bare control instead.
  const reference = (w: Workload): Mode => (w === "shadowed call, 100%" ? "als" : "baseline");
  const rows = MODES.map((mode) => {
    const cells = WORKLOADS.map((w) => {
      const ns = summary(mode, w);
      const perProcess = (results.get(mode) ?? []).map((r) => Math.round(r[w])).join(", ");
      if (mode === "baseline" && reference(w) !== "baseline") return `— (bare control: ${Math.round(ns)}) [${perProcess}]`;
      return `${Math.round(ns)} (${(ns / summary(reference(w), w)).toFixed(2)}×) [${perProcess}]`;
    });
    return `| ${mode} | ${cells.join(" | ")} |`;
  });
  const clsOverAls = WORKLOADS.map((w) => `${w} ${(summary("cls-hooked", w) / summary("als", w)).toFixed(2)}×`).join(", ");
  return [
    "### Context backend: AsyncLocalStorage vs cls-hooked, process-wide",
    "",
    `Machine: ${machineLine()}. ${new Date().toISOString().slice(0, 10)}. One child process per variant, ${processes} round(s) round-robin, ` +
      `shuffled; each cell is ns per awaited operation, the median of per-process medians (× the reference named in the header) [per-process medians]. ` +
      `The shadowed call includes its background candidate and comparison (flush() closes each timed loop).`,
    "",
    `| variant | ${WORKLOADS.map((w) => `${w} (× ${reference(w)})`).join(" | ")} |`,
    `|---|${WORKLOADS.map(() => "---:").join("|")}|`,
    ...rows,
    "",
    `cls-hooked ÷ ALS: ${clsOverAls}.`,
    "",
  ].join("\n");
}

if (require.main === module) {
  const childIndex = process.argv.indexOf("--child");
  const quick = process.argv.includes("--quick");
  if (childIndex >= 0) {
    child(process.argv[childIndex + 1] as Mode, quick).then(
      (report) => console.log(JSON.stringify(report)),
      (error: unknown) => {
        console.error(error);
        process.exitCode = 1;
      },
    );
  } else {
    benchContextBackend(quick).then((text) => console.log(text));
  }
}
