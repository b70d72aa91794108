/**
 * What a wrapped call costs the caller: a direct call against penumbra not sampled and penumbra
 * 100% sampled in background mode, for a sync control (an order total over 20 lines) and an async
 * control (~1 ms awaited). Every call is timed on its own; between calls `flush()` lets the
 * background candidates run and be compared outside the measured window.
 * Variants are shuffled every round; "direct (again)" measures the noise floor.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { flush, shadow } from "../src/index";
import { makeCart, orderTotal, type BenchCart, type BenchTotal } from "./fixtures";
import { machineLine, percentile } from "./machine";
import { measure, type Variant } from "./measure";

type Call = () => unknown;

const noPublish = (): void => undefined;


function table(title: string, samples: Map<string, number[]>, baseline: string): string {
  const base = percentile(samples.get(baseline) ?? [], 50);
  const rows = [...samples].map(([name, values]) => {
    const p50 = percentile(values, 50);
    const p99 = percentile(values, 99);
    return `| ${name} | ${p50.toFixed(2)} | ${p99.toFixed(2)} | ${(p50 / base).toFixed(3)}× |`;
  });
  return [`#### ${title}`, "", "| variant | p50 µs | p99 µs | p50 ÷ direct |", "|---|---:|---:|---:|", ...rows, ""].join("\n");
}

/** Runs the caller-path benchmark and returns a Markdown section. */
export async function benchCallerPath(): Promise<string> {
  const cart = makeCart(20);

  const syncVariants: Variant[] = [
    { name: "direct", call: () => orderTotal(cart), drain: flush },
    { name: "direct (again)", call: () => orderTotal(cart), drain: flush },
    { name: "penumbra, not sampled", call: wrapSync(0), drain: flush },
    { name: "penumbra, 100% background", call: wrapSync(1), drain: flush },
    { name: "penumbra, 100% background, `isolate: false`", call: wrapSync(1, false), drain: flush },
  ];
  const sync = await measure(syncVariants, 11, 400, false);

  const asyncControl = async (c: BenchCart): Promise<BenchTotal> => {
    await sleep(1);
    return orderTotal(c);
  };
  const asyncWrapped = (sample: number): Call => {
    const w = shadow(asyncControl, asyncControl, { name: `async-${sample}`, sample, publish: noPublish });
    return () => w(cart);
  };
  const asyncVariants: Variant[] = [
    { name: "direct", call: () => asyncControl(cart), drain: flush },
    { name: "direct (again)", call: () => asyncControl(cart), drain: flush },
    { name: "penumbra, not sampled", call: asyncWrapped(0), drain: flush },
    { name: "penumbra, 100% background", call: asyncWrapped(1), drain: flush },
  ];
  const asyncSamples = await measure(asyncVariants, 6, 60, true);

  function wrapSync(sample: number, isolate?: false): Call {
    const wrapped = shadow(orderTotal, orderTotal, {
      name: `sync-${sample}${isolate === false ? "-shared" : ""}`,
      sample,
      publish: noPublish,
      ...(isolate === false ? { isolate } : {}),
    });
    return () => wrapped(cart);
  }

  return [
    "### Caller path: direct call vs wrapped call",
    "",
    `Machine: ${machineLine()}. Each call timed alone with process.hrtime.bigint(); first round discarded as warm-up; variants shuffled every round.`,
    "",
    table("Sync control: order total over a 20-line cart", sync, "direct"),
    table("Async control: ~1 ms awaited, then the order total", asyncSamples, "direct"),
  ].join("\n");
}

if (require.main === module) {
  benchCallerPath().then((text) => console.log(text));
}
