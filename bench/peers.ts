/**
 * What a caller waits for, penumbra against its peers, with a candidate 3× slower than the control:
 * a direct call, penumbra not sampled, penumbra 100% background, penumbra sequential, tzientist and
 * trello's `scientist`, for a sync control (an order total over 20 lines, a few µs) and an async
 * control (~1 ms awaited, then the order total).
 *
 * Every call is timed alone. Between calls, outside the measured window, each variant drains what it
 * left running (`flush()` for penumbra, the `result` event for trello scientist), so a row is the
 * caller's path and not contention with the previous call's candidate. Whatever a library runs
 * before it returns IS its caller path: tzientist runs both sides (sync: one after the other; async:
 * `Promise.all`), trello scientist runs every behaviour synchronously and, in async mode, hands back
 * the control's promise while the candidate settles later.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { experiment as tzExperiment, experimentAsync as tzExperimentAsync } from "tzientist";
import { flush, shadow } from "../src/index";
import { makeCart, orderTotal, type BenchCart, type BenchTotal } from "./fixtures";
import { machineLine, percentile } from "./machine";
import { measure, type Variant } from "./measure";
import { loadTrelloScientist, type TrelloScientist } from "./trello-scientist";


const noPublish = (): void => undefined;
const drainPenumbra = (): Promise<void> => flush();

/** The sync candidate: the same answer at three times the work. */
function slowOrderTotal(cart: BenchCart): BenchTotal {
  orderTotal(cart);
  orderTotal(cart);
  return orderTotal(cart);
}

async function asyncControl(cart: BenchCart): Promise<BenchTotal> {
  await sleep(1);
  return orderTotal(cart);
}

/** The async candidate: ~3 ms awaited, then the same answer — three times the control. */
async function asyncCandidate(cart: BenchCart): Promise<BenchTotal> {
  await sleep(3);
  return orderTotal(cart);
}

/**
 * trello scientist emits `result` after every behaviour settled; waiting for it is the drain. A
 * call that was skipped emits `skip` instead, so both resolve the waiter.
 */
function trelloVariant(name: string, scientist: TrelloScientist, call: () => unknown): Variant {
  let pending: Promise<void> = Promise.resolve();
  return {
    name,
    call: () => {
      pending = new Promise<void>((resolve) => {
        scientist.once("result", () => resolve());
      });
      return call();
    },
    drain: () => pending,
  };
}


function table(title: string, samples: Map<string, number[]>, order: readonly string[]): string {
  const base = percentile(samples.get("direct") ?? [], 50);
  const baseP99 = percentile(samples.get("direct") ?? [], 99);
  const rows = order.map((name) => {
    const values = samples.get(name) ?? [];
    const p50 = percentile(values, 50);
    const p99 = percentile(values, 99);
    return `| ${name} | ${p50.toFixed(2)} | ${p99.toFixed(2)} | ${(p50 / base).toFixed(3)}× | ${(p99 / baseP99).toFixed(2)}× |`;
  });
  return [`#### ${title}`, "", "| variant | p50 µs | p99 µs | p50 ÷ direct | p99 ÷ direct |", "|---|---:|---:|---:|---:|", ...rows, ""].join("\n");
}

/** Runs the peer caller-path benchmark and returns a Markdown section. */
export async function benchPeers(quick = false): Promise<string> {
  const cart = makeCart(20);
  const Scientist = loadTrelloScientist();

  // trello scientist builds a new experiment per call through `science()`: that is its API, and its
  // cost is part of what a caller pays.
  const trelloSync = new Scientist();
  trelloSync.on("error", noPublish);
  const trelloAsync = new Scientist();
  trelloAsync.on("error", noPublish);

  const tzSync = tzExperiment({ name: "tz-sync", control: orderTotal, candidate: slowOrderTotal, options: { publish: noPublish } });
  const tzAsync = tzExperimentAsync({ name: "tz-async", control: asyncControl, candidate: asyncCandidate, options: { publish: noPublish } });

  const penumbraSync = (sample: number, mode: "background" | "sequential"): (() => unknown) => {
    const wrapped = shadow(orderTotal, slowOrderTotal, { name: `peers-sync-${mode}-${sample}`, sample, mode, publish: noPublish });
    return () => wrapped(cart);
  };
  const penumbraAsync = (sample: number, mode: "background" | "sequential"): (() => unknown) => {
    const wrapped = shadow(asyncControl, asyncCandidate, { name: `peers-async-${mode}-${sample}`, sample, mode, publish: noPublish });
    return () => wrapped(cart);
  };

  const none = (): Promise<void> => Promise.resolve();
  const syncVariants: Variant[] = [
    { name: "direct", call: () => orderTotal(cart), drain: none },
    { name: "direct (again)", call: () => orderTotal(cart), drain: none },
    { name: "penumbra, not sampled", call: penumbraSync(0, "background"), drain: drainPenumbra },
    { name: "penumbra, 100% background", call: penumbraSync(1, "background"), drain: drainPenumbra },
    { name: "penumbra, 100% sequential", call: penumbraSync(1, "sequential"), drain: drainPenumbra },
    { name: "tzientist `experiment`", call: () => tzSync(cart), drain: none },
    trelloVariant("trello scientist (sync)", trelloSync, () =>
      trelloSync.science("trello-sync", (e) => {
        e.use(() => orderTotal(cart));
        e.try(() => slowOrderTotal(cart));
      }),
    ),
  ];
  const asyncVariants: Variant[] = [
    { name: "direct", call: () => asyncControl(cart), drain: none },
    { name: "direct (again)", call: () => asyncControl(cart), drain: none },
    { name: "penumbra, not sampled", call: penumbraAsync(0, "background"), drain: drainPenumbra },
    { name: "penumbra, 100% background", call: penumbraAsync(1, "background"), drain: drainPenumbra },
    { name: "penumbra, 100% sequential", call: penumbraAsync(1, "sequential"), drain: drainPenumbra },
    { name: "tzientist `experimentAsync`", call: () => tzAsync(cart), drain: none },
    trelloVariant("trello scientist, `async(true)`", trelloAsync, () =>
      trelloAsync.science("trello-async", (e) => {
        e.async(true);
        e.use(() => asyncControl(cart));
        e.try(() => asyncCandidate(cart));
      }),
    ),
  ];

  const syncRounds = quick ? 4 : 11;
  const asyncRounds = quick ? 3 : 6;
  const asyncCalls = quick ? 30 : 50;
  const sync = await measure(syncVariants, syncRounds, 400, false);
  const asyncSamples = await measure(asyncVariants, asyncRounds, asyncCalls, true);

  return [
    "### Caller path against peers (candidate 3× the control)",
    "",
    `Machine: ${machineLine()}. ${new Date().toISOString().slice(0, 10)}. Each call timed alone with process.hrtime.bigint(); ` +
      `first round discarded; variants shuffled every round; background work drained between calls outside the window. ` +
      `Sync: ${syncRounds - 1} × 400 calls per variant; async: ${asyncRounds - 1} × ${asyncCalls}.`,
    "",
    table("Sync control: order total over 20 lines; candidate runs it 3×", sync, syncVariants.map((v) => v.name)),
    table("Async control: 1 ms timer then the order total; candidate 3 ms", asyncSamples, asyncVariants.map((v) => v.name)),
  ].join("\n");
}

if (require.main === module) {
  benchPeers(process.argv.includes("--quick")).then((text) => console.log(text));
}
