/**
 * Cost of the argument snapshot against the control it protects: an order total over a 20-line
 * cart. Everything runs in ONE process (the VM is noisy between processes, see
 * docs/research toolchain notes), the order of the cases is shuffled every round, and each figure is
 * the median of the rounds' ns/op after a warm-up. Read the ratios, not the absolute ns.
 *
 * Also measures the accessor-detection strategies that were considered for the plain-object walk,
 * each as its own function so that they do not share inline-cache feedback.
 *
 * A second table measures what the engine actually pays on a sampled call, with the shared fixture
 * (`bench/fixtures.ts`): `snapshotArgs([cart])` before the control and `snapshot(orderTotal(cart))`
 * after it, in a tight loop and per call with an event-loop turn between calls (as in a server). Each
 * sample is a ratio to the control timed right next to it, which cancels the VM's clock drift; the
 * figures of the walk before this rewrite (a Map from original to copy, descriptors everywhere) are
 * printed beside them as recorded ratios.
 *
 * Run: `node -r ts-node/register bench/snapshot.ts`
 */
import { snapshot, snapshotArgs } from "../src/isolation/snapshot";
import { makeCart as makeFixtureCart, orderTotal as fixtureOrderTotal } from "./fixtures";

interface Discount { code: string; percent: number }
interface Line {
  sku: string; qty: number; unitPrice: number; taxClass: string; discounts: Discount[];
  product?: { id: number; name: string; weight: number };
}
interface Cart {
  id: string;
  customer: { id: string; email: string; tier: string; address: { country: string; zip: string } };
  region: string; couponCodes: string[]; createdAt: Date; lines: Line[];
}

function makeCart(): Cart {
  const classes = ["standard", "reduced", "zero"];
  const lines: Line[] = [];
  for (let i = 0; i < 20; i++) {
    const discounts: Discount[] = [];
    for (let d = 0; d < i % 3; d++) discounts.push({ code: `D${d}`, percent: 5 + d });
    const line: Line = { sku: `SKU-${1000 + i}`, qty: 1 + (i % 4), unitPrice: 9.99 + i * 1.25, taxClass: classes[i % 3] as string, discounts };
    if (i % 2 === 0) line.product = { id: i, name: `Product ${i}`, weight: 0.5 + i / 10 };
    lines.push(line);
  }
  return {
    id: "cart-42",
    customer: { id: "c-7", email: "a@example.com", tier: "gold", address: { country: "DE", zip: "10115" } },
    region: "eu-central",
    couponCodes: ["WELCOME", "SPRING"],
    createdAt: new Date(1_700_000_000_000),
    lines,
  };
}

const TAX_RATES: Record<string, number> = { standard: 0.19, reduced: 0.07, zero: 0 };
const round2 = (x: number): number => Math.round(x * 100) / 100;

/** The control: per-line gross, discounts, tax by class, rounding; cart totals. */
function orderTotal(cart: Cart): { subtotal: number; discount: number; tax: number; total: number; lines: number } {
  let subtotal = 0;
  let discount = 0;
  let tax = 0;
  for (const line of cart.lines) {
    const gross = round2(line.qty * line.unitPrice);
    let lineDiscount = 0;
    for (const d of line.discounts) lineDiscount += round2((gross * d.percent) / 100);
    const net = gross - lineDiscount;
    tax += round2(net * (TAX_RATES[line.taxClass] ?? 0));
    subtotal += gross;
    discount += lineDiscount;
  }
  const couponDiscount = cart.couponCodes.includes("WELCOME") ? round2(subtotal * 0.05) : 0;
  return {
    subtotal: round2(subtotal),
    discount: round2(discount + couponDiscount),
    tax: round2(tax),
    total: round2(subtotal - discount - couponDiscount + tax),
    lines: cart.lines.length,
  };
}

// ----- Accessor-detection strategies for plain objects (arrays and Dates handled the same way). -----
type Walk = (v: unknown) => unknown;
const gopd = Object.getOwnPropertyDescriptor;
const gopds = Object.getOwnPropertyDescriptors;
const protoOf = Object.getPrototypeOf;
const lookupGetter = (Object.prototype as unknown as { __lookupGetter__: (k: PropertyKey) => unknown }).__lookupGetter__;
const lookupSetter = (Object.prototype as unknown as { __lookupSetter__: (k: PropertyKey) => unknown }).__lookupSetter__;

function leaf(v: unknown, self: Walk): unknown {
  if (Array.isArray(v)) { const out = new Array<unknown>(v.length); for (let i = 0; i < v.length; i++) out[i] = self(v[i]); return out; }
  if (protoOf(v) === Date.prototype) return new Date((v as Date).getTime());
  return undefined;
}
/** Lower bound, NOT correct: reads through getters. */
function noCheck(v: unknown): unknown {
  if (typeof v !== "object" || v === null) return v;
  const l = leaf(v, noCheck); if (l !== undefined) return l;
  const src = v as Record<string, unknown>; const out: Record<string, unknown> = {};
  for (const k in src) out[k] = noCheck(src[k]);
  return out;
}
function forInDescriptor(v: unknown): unknown {
  if (typeof v !== "object" || v === null) return v;
  const l = leaf(v, forInDescriptor); if (l !== undefined) return l;
  const src = v as Record<string, unknown>; const out: Record<string, unknown> = {};
  for (const k in src) { const d = gopd(src, k); if (d === undefined) continue; if (d.writable === undefined) return v; out[k] = forInDescriptor(d.value); }
  return out;
}
function keysDescriptor(v: unknown): unknown {
  if (typeof v !== "object" || v === null) return v;
  const l = leaf(v, keysDescriptor); if (l !== undefined) return l;
  const src = v as Record<string, unknown>; const out: Record<string, unknown> = {}; const keys = Object.keys(src);
  for (let i = 0; i < keys.length; i++) { const k = keys[i] as string; const d = gopd(src, k); if (d === undefined) continue; if (d.writable === undefined) return v; out[k] = keysDescriptor(d.value); }
  return out;
}
function allDescriptors(v: unknown): unknown {
  if (typeof v !== "object" || v === null) return v;
  const l = leaf(v, allDescriptors); if (l !== undefined) return l;
  const ds = gopds(v); const out: Record<string, unknown> = {};
  for (const k in ds) { const d = ds[k] as PropertyDescriptor; if (d.enumerable !== true) continue; if (d.writable === undefined) return v; out[k] = allDescriptors(d.value); }
  return out;
}
function lookupAccessors(v: unknown): unknown {
  if (typeof v !== "object" || v === null) return v;
  const l = leaf(v, lookupAccessors); if (l !== undefined) return l;
  const src = v as Record<string, unknown>; const out: Record<string, unknown> = {};
  for (const k in src) {
    if (!Object.prototype.hasOwnProperty.call(src, k)) continue;
    if (lookupGetter.call(src, k) !== undefined || lookupSetter.call(src, k) !== undefined) return v;
    out[k] = lookupAccessors(src[k]);
  }
  return out;
}

// ----- Harness -----
let sink: unknown;
function timeOne(fn: () => unknown, iterations: number): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) sink = fn();
  return Number(process.hrtime.bigint() - start) / iterations;
}
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}
function shuffled<T>(xs: readonly T[]): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) { const j = Math.floor(Math.random() * (i + 1)); [out[i], out[j]] = [out[j] as T, out[i] as T]; }
  return out;
}

// ----- Engine-path costs with the shared fixture -----

/**
 * Ratios to the control of the walk at commit 59868f4 (Map from original to copy, no lazy path),
 * measured by this harness on the machine of docs/isolation.md (31 rounds, medians).
 */
const BEFORE = {
  args: { tight: 4.7, perCall: 4.07 },
  value: { tight: 2.25, perCall: 2.06 },
};

async function perCallPair(control: () => unknown, fn: () => unknown, calls: number): Promise<number> {
  const c: number[] = [];
  const f: number[] = [];
  for (let i = 0; i < calls; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    let start = process.hrtime.bigint();
    sink = control();
    c.push(Number(process.hrtime.bigint() - start));
    await new Promise((resolve) => setImmediate(resolve));
    start = process.hrtime.bigint();
    sink = fn();
    f.push(Number(process.hrtime.bigint() - start));
  }
  return median(f) / median(c);
}

async function benchEnginePath(rounds: number): Promise<string[]> {
  const cart = makeFixtureCart(20);
  const value = fixtureOrderTotal(cart);
  const control = (): unknown => fixtureOrderTotal(cart);
  const cases: Array<{ name: string; key: keyof typeof BEFORE; fn: () => unknown }> = [
    { name: "snapshotArgs([cart])", key: "args", fn: () => snapshotArgs([cart]) },
    { name: "snapshot(orderTotal(cart))", key: "value", fn: () => snapshot(value) },
  ];
  timeOne(control, 20_000);
  for (const c of cases) timeOne(c.fn, 20_000);
  const controlNs: number[] = [];
  const tight = new Map<string, number[]>(cases.map((c) => [c.name, []]));
  const perCall = new Map<string, number[]>(cases.map((c) => [c.name, []]));
  for (let r = 0; r < rounds; r++) {
    for (const c of shuffled(cases)) {
      const before = timeOne(control, 500);
      const ns = timeOne(c.fn, 1_000);
      const after = timeOne(control, 500);
      controlNs.push((before + after) / 2);
      (tight.get(c.name) as number[]).push((2 * ns) / (before + after));
      (perCall.get(c.name) as number[]).push(await perCallPair(control, c.fn, 100));
    }
  }
  const ctl = median(controlNs);
  const rows = cases.map((c) => {
    const t = median(tight.get(c.name) as number[]);
    const p = median(perCall.get(c.name) as number[]);
    const b = BEFORE[c.key];
    return `| ${c.name} | ${(t * ctl).toFixed(0)} | ${t.toFixed(2)}× (before ${b.tight.toFixed(2)}×) | ${p.toFixed(2)}× (before ${b.perCall.toFixed(2)}×) |`;
  });
  return [
    "### On the engine's path (bench/fixtures.ts cart, 20 lines)",
    "",
    `Ratios to the control \`orderTotal(cart)\` timed next to each sample (control ≈ ${ctl.toFixed(0)} ns in a tight loop here); ${rounds} rounds, medians.`,
    "",
    "| walk | ns/op (tight) | × control, tight loop | × control, per call (setImmediate between calls) |",
    "|---|---:|---:|---:|",
    ...rows,
    "",
  ];
}

/** Runs the snapshot benchmark and returns it as a Markdown section. */
export async function benchSnapshot(): Promise<string> {
  const cart = makeCart();
  const cases: Array<{ name: string; fn: () => unknown; note: string }> = [
    { name: "control: orderTotal(cart)", fn: () => orderTotal(cart), note: "the control itself" },
    { name: "snapshotArgs([cart])", fn: () => snapshotArgs([cart]), note: "penumbra's walk (for…in + one descriptor per key, cycles tracked on the path, node budget)" },
    { name: "structuredClone(cart)", fn: () => structuredClone(cart), note: "what the walk replaces" },
    { name: "alt: for…in, no accessor check", fn: () => noCheck(cart), note: "lower bound, incorrect (invokes getters)" },
    { name: "alt: for…in + getOwnPropertyDescriptor", fn: () => forInDescriptor(cart), note: "bare version of the chosen strategy" },
    { name: "alt: Object.keys + getOwnPropertyDescriptor", fn: () => keysDescriptor(cart), note: "" },
    { name: "alt: getOwnPropertyDescriptors per object", fn: () => allDescriptors(cart), note: "" },
    { name: "alt: for…in + hasOwn + __lookupGetter__/__lookupSetter__", fn: () => lookupAccessors(cart), note: "" },
  ];
  const iterations = 2_000;
  const rounds = 15;
  for (const c of cases) timeOne(c.fn, 20_000); // warm-up: let every case reach optimized code
  const samples = new Map<string, number[]>(cases.map((c) => [c.name, []]));
  for (let r = 0; r < rounds; r++) {
    for (const c of shuffled(cases)) (samples.get(c.name) as number[]).push(timeOne(c.fn, iterations));
    await new Promise((resolve) => setImmediate(resolve));
  }
  const control = median(samples.get(cases[0]!.name) as number[]);
  const clone = median(samples.get("structuredClone(cart)") as number[]);
  const rows = cases.map((c) => {
    const ns = median(samples.get(c.name) as number[]);
    return `| ${c.name} | ${ns.toFixed(0)} | ${(ns / control).toFixed(2)}× | ${(ns / clone).toFixed(2)}× | ${c.note} |`;
  });
  void sink;
  return [
    "## Argument snapshot",
    "",
    `Cart: 20 lines (sku, qty, unitPrice, taxClass, 0–2 discounts, a product on every other line), customer with address, region, coupon codes, createdAt Date. One process, ${rounds} rounds × ${iterations} calls, order shuffled each round, medians; Node ${process.version}.`,
    "",
    "| case | ns/op | × control | × structuredClone | note |",
    "|---|---:|---:|---:|---|",
    ...rows,
    "",
    ...(await benchEnginePath(rounds)),
  ].join("\n");
}

if (require.main === module) {
  benchSnapshot().then((markdown) => process.stdout.write(`${markdown}\n`), (error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
