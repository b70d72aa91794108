/**
 * CPU per sampled run: process CPU time (`process.cpuUsage()`, user + system) over many calls, the
 * caller's path and the background work together, divided by the number of calls. The work is the
 * issue's: an order total over `{ region, lines: 20 × { sku, price, qty, taxClass } }`, looped 20
 * times (about 1 µs), for the control and the same for the candidate; "bare work" runs both
 * directly, so every other row's ratio is what penumbra (or tzientist) adds around that work.
 * Calls are made in batches; each batch is drained (`flush()`) inside the measured window, since
 * the background comparison is part of what a run costs.
 */
import { experiment as tzExperiment } from "tzientist";
import { flush, shadow } from "../src/index";
import { machineLine, shuffle } from "./machine";

interface Line {
  sku: string;
  price: number;
  qty: number;
  taxClass: "standard" | "reduced";
}
interface Cart {
  region: string;
  lines: Line[];
}
interface Total {
  subtotal: number;
  tax: number;
  total: number;
}

export function makeCart(): Cart {
  const lines: Line[] = [];
  for (let i = 0; i < 20; i++) lines.push({ sku: `SKU-${i}`, price: 3.99 + i, qty: 1 + (i % 3), taxClass: i % 3 === 0 ? "reduced" : "standard" });
  return { region: "DE", lines };
}

export function orderTotal(cart: Cart): Total {
  let subtotal = 0;
  let tax = 0;
  for (let round = 0; round < 20; round++) {
    subtotal = 0;
    tax = 0;
    for (const line of cart.lines) {
      const net = line.price * line.qty;
      subtotal += net;
      tax += net * (line.taxClass === "reduced" ? 0.07 : 0.19);
    }
  }
  return { subtotal: Math.round(subtotal * 100) / 100, tax: Math.round(tax * 100) / 100, total: Math.round((subtotal + tax) * 100) / 100 };
}

const BATCH = 200;

interface Row {
  name: string;
  /** Runs one batch of `BATCH` calls and waits for what they left running. */
  batch: () => Promise<void> | void;
}

function penumbra(cart: Cart, name: string, options: { mode?: "background" | "sequential"; isolate?: false }): Row {
  const wrapped = shadow(orderTotal, orderTotal, { name: `cpu-${name}`, publish: () => undefined, maxConcurrent: BATCH * 2, ...options });
  return {
    name,
    batch: async () => {
      for (let i = 0; i < BATCH; i++) wrapped(cart);
      await flush();
    },
  };
}

function cpuMicros(): number {
  const used = process.cpuUsage();
  return used.user + used.system;
}

/** Runs the CPU-per-run benchmark; returns a Markdown section. */
export async function benchCpuPerRun(quick = false): Promise<string> {
  const cart = makeCart();
  const tz = tzExperiment({ name: "tz-cpu", control: orderTotal, candidate: orderTotal, options: { publish: () => undefined } });
  const rows: Row[] = [
    {
      name: "bare work (control + candidate)",
      batch: () => {
        for (let i = 0; i < BATCH; i++) {
          orderTotal(cart);
          orderTotal(cart);
        }
      },
    },
    penumbra(cart, "penumbra, background", {}),
    penumbra(cart, "penumbra, `isolate: false`", { isolate: false }),
    penumbra(cart, "penumbra, sequential", { mode: "sequential" }),
    {
      name: "tzientist `experiment`",
      batch: () => {
        for (let i = 0; i < BATCH; i++) tz(cart);
      },
    },
  ];
  const batches = quick ? 40 : 250;
  const rounds = 5;
  const spent = new Map<string, number>(rows.map((r) => [r.name, 0]));
  const calls = new Map<string, number>(rows.map((r) => [r.name, 0]));
  for (let round = 0; round <= rounds; round++) {
    for (const row of shuffle(rows)) {
      const before = cpuMicros();
      for (let b = 0; b < batches; b++) await row.batch();
      const after = cpuMicros();
      // Round 0 warms the JIT and AsyncLocalStorage up.
      if (round === 0) continue;
      spent.set(row.name, (spent.get(row.name) ?? 0) + (after - before));
      calls.set(row.name, (calls.get(row.name) ?? 0) + batches * BATCH);
    }
  }
  const perCall = (name: string): number => (spent.get(name) ?? 0) / (calls.get(name) ?? 1);
  const bare = perCall("bare work (control + candidate)");
  const lines = rows.map((r) => `| ${r.name} | ${perCall(r.name).toFixed(2)} | ${(perCall(r.name) / bare).toFixed(2)}× |`);
  return [
    "### CPU per sampled run",
    "",
    `Machine: ${machineLine()}. process.cpuUsage() over ${rounds} rounds × ${batches * BATCH} calls per variant (after a warm-up round), ` +
      "variants shuffled each round, each batch of " +
      `${BATCH} calls drained with flush() inside the window.`,
    "",
    "| variant | CPU µs per call | ÷ bare work |",
    "|---|---:|---:|",
    ...lines,
    "",
  ].join("\n");
}

if (require.main === module) {
  benchCpuPerRun(process.argv.includes("--quick")).then((text) => console.log(text));
}
