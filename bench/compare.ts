/**
 * Benchmark of the comparison core against the libraries penumbra could have used instead.
 * Run: `node -r ts-node/register bench/compare.ts`.
 */
import deepDiff from "deep-diff";
import { deepEqual as fastDeepEqual } from "fast-equals";
import microdiff from "microdiff";
import { cpus } from "node:os";
import { deepEqual } from "../src/compare/equal";
import { diff } from "../src/compare/diff";

interface Order {
  orderId: string;
  customer: { id: string; email: string; tier: string };
  lines: Array<{
    sku: string;
    qty: number;
    unitPrice: number;
    tax: number;
    discounts: Array<{ code: string; amount: number }>;
  }>;
  totals: { subtotal: number; tax: number; discount: number; total: number; currency: string };
  shipping: { method: string; cost: number; address: { city: string; country: string; zip: string } };
  createdAt: string;
  updatedAt: string;
}

/** Builds a fresh ~2 KB order: every call returns a separate, structurally equal object. */
function buildOrder(): Order {
  const lines: Order["lines"] = [];
  for (let i = 0; i < 20; i++) {
    lines.push({
      sku: `SKU-${1000 + i}`,
      qty: (i % 3) + 1,
      unitPrice: 9.99 + i,
      tax: Math.round((9.99 + i) * 8) / 100,
      discounts: i % 4 === 0 ? [{ code: "SPRING", amount: 1.5 }] : [],
    });
  }
  return {
    orderId: "ord_8f14e45fceea167a",
    customer: { id: "cus_42", email: "ada@example.com", tier: "gold" },
    lines,
    totals: { subtotal: 389.8, tax: 31.18, discount: 7.5, total: 413.48, currency: "EUR" },
    shipping: { method: "express", cost: 9.9, address: { city: "Lyon", country: "FR", zip: "69001" } },
    createdAt: "2024-05-01T10:00:00.000Z",
    updatedAt: "2024-05-01T10:05:00.000Z",
  };
}

interface Contender {
  name: string;
  run: () => unknown;
}

// Results land here so the optimiser cannot drop the calls.
let sink: unknown;

function timeBatch(fn: () => unknown, iterations: number): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) sink = fn();
  return Number(process.hrtime.bigint() - start) / iterations;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}

/** Interleaves the contenders every round, in a fresh random order, and keeps each one's median. */
function measure(contenders: Contender[], rounds: number, iterations: number): Map<string, number[]> {
  const samples = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
  for (const c of contenders) timeBatch(c.run, 20_000);
  for (let round = 0; round < rounds; round++) {
    for (const c of shuffle([...contenders])) samples.get(c.name)?.push(timeBatch(c.run, iterations));
  }
  return samples;
}

function row(name: string, values: readonly number[], reference: number): string {
  const med = median(values);
  const min = Math.min(...values);
  const max = Math.max(...values);
  return `| ${name} | ${med.toFixed(0)} | ${min.toFixed(0)}–${max.toFixed(0)} | ${(med / reference).toFixed(2)}× |`;
}

/**
 * Measures the comparison core against fast-equals, microdiff and deep-diff on a ~2 KB order and
 * returns a Markdown section.
 *
 * @example
 * ```ts
 * console.log(await benchCompare());
 * ```
 */
export async function benchCompare(): Promise<string> {
  const control = buildOrder();
  const same = buildOrder();
  const changed = buildOrder();
  const line = changed.lines[13];
  if (line !== undefined) line.tax = 3.31;
  const bytes = JSON.stringify(control).length;

  // Sanity: every contender must agree on what it is measuring.
  if (!deepEqual(control, same) || !fastDeepEqual(control, same) || microdiff(control, same).length !== 0) {
    throw new Error("equal fixtures compare unequal");
  }
  if (deepEqual(control, changed) || diff(control, changed).length !== 1 || deepDiff.diff(control, changed)?.length !== 1) {
    throw new Error("changed fixture should differ in exactly one field");
  }

  const rounds = 15;
  const iterations = 4_000;
  const equalCase = measure(
    [
      { name: "penumbra deepEqual", run: () => deepEqual(control, same) },
      { name: "fast-equals deepEqual", run: () => fastDeepEqual(control, same) },
      { name: "microdiff", run: () => microdiff(control, same) },
      { name: "deep-diff diff", run: () => deepDiff.diff(control, same) },
    ],
    rounds,
    iterations,
  );
  const unequalCase = measure(
    [
      { name: "penumbra deepEqual + diff", run: () => (deepEqual(control, changed) ? [] : diff(control, changed)) },
      { name: "microdiff", run: () => microdiff(control, changed) },
      { name: "deep-diff diff", run: () => deepDiff.diff(control, changed) },
    ],
    rounds,
    iterations,
  );
  void sink;

  const eqOurs = median(equalCase.get("penumbra deepEqual") ?? []);
  const eqFast = median(equalCase.get("fast-equals deepEqual") ?? []);
  const neOurs = median(unequalCase.get("penumbra deepEqual + diff") ?? []);
  const neDeep = median(unequalCase.get("deep-diff diff") ?? []);
  const cpu = cpus()[0]?.model ?? "unknown CPU";
  const lines = [
    "## Comparison core: penumbra vs fast-equals, microdiff, deep-diff",
    "",
    `Fixture: an order of ${bytes} bytes of JSON (20 line items with discounts, totals, shipping, ISO timestamps),`,
    "compared with a separately built equal copy, and with a copy whose line 13 tax differs.",
    `One process, ${rounds} rounds of ${iterations} calls per contender, contenders shuffled every round, after a`,
    `20 000-call warm-up each. ${cpu}, ${cpus().length} CPUs, Node ${process.version}.`,
    "",
    "### Equal values (the healthy-rollout hot path)",
    "",
    "| implementation | ns/op (median) | range | vs penumbra |",
    "|---|---:|---:|---:|",
    ...[...equalCase].map(([name, values]) => row(name, values, eqOurs)),
    "",
    "### One field differs (penumbra: deepEqual, then diff, as the engine does)",
    "",
    "| implementation | ns/op (median) | range | vs penumbra |",
    "|---|---:|---:|---:|",
    ...[...unequalCase].map(([name, values]) => row(name, values, neOurs)),
    "",
    "Machine-independent ratios:",
    "",
    `- equal: fast-equals / penumbra = ${(eqFast / eqOurs).toFixed(2)} (target ≥ 1: ${eqFast >= eqOurs ? "met" : "MISSED"})`,
    `- one diff: deep-diff / penumbra = ${(neDeep / neOurs).toFixed(2)} (target ≥ 1: ${neDeep >= neOurs ? "met" : "MISSED"})`,
    "",
  ];
  return lines.join("\n");
}

if (require.main === module) {
  benchCompare().then(
    (markdown) => console.log(markdown),
    (error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    },
  );
}
