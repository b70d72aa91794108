/**
 * The README's free names, made real: what an application following the README already has. Loaded
 * first by the walkthrough's main module; every README snippet then runs against these globals.
 *
 * - `legacyOrderTotal` / `newOrderTotal` / `fixedOrderTotal` (and `oldTotal` / `newTotal`): one
 *   order-total computation with the rewrite's two bugs switched on: it rounds tax per line, and it
 *   forgets the coupon in us-ny. The README's `cart` is built so the old code answers total 49.9,
 *   tax 0.1 and the new one total 51.4, tax 0.09: the README's own example.
 * - `legacyQuote` / `newQuote`: the same as a quote with a status, a random trace id, a timestamp and
 *   the answering node (which differs between two runs of the old code: what `calibrate` learns).
 * - `transporter`: nodemailer to a real SMTP server on 127.0.0.1; `stripe`: the Stripe SDK pointed at a
 *   loopback stand-in. The test process starts both and passes their ports in the environment.
 * - `db`: an audit log in a real SQLite file (better-sqlite3) in the app's directory.
 * - An OpenFeature `InMemoryProvider` on the default domain serving the flag `total-v2.shadow`.
 *
 * Every call of an order-total function is logged with whether it ran in a shadow run and for which
 * experiment, so the claims can count what really ran without trusting penumbra's own numbers.
 */
import { randomUUID } from "node:crypto";
import { InMemoryProvider, OpenFeature } from "@openfeature/server-sdk";
import Database from "better-sqlite3";
import nodemailer, { type Transporter } from "nodemailer";
import Stripe from "stripe";
import { currentRun, isShadow } from "penumbra";

declare global {
  var legacyOrderTotal: (cart: Cart) => OrderTotal;
  var newOrderTotal: (cart: Cart) => OrderTotal;
  var fixedOrderTotal: (cart: Cart) => OrderTotal;
  var oldTotal: (cart: Cart) => OrderTotal;
  var newTotal: (cart: Cart) => OrderTotal;
  var legacyQuote: (cart: Cart) => Reply;
  var newQuote: (cart: Cart) => Reply;
  var cart: Cart;
  var transporter: Transporter;
  var stripe: Stripe;
  var db: { insert(entry: AuditEntry): Promise<void> };
}

const TAX_RATES: Record<string, Record<string, number>> = {
  "us-ny": { standard: 0.08875, food: 0.01, exempt: 0 },
  "us-or": { standard: 0, food: 0, exempt: 0 },
  "eu-de": { standard: 0.19, food: 0.07, exempt: 0 },
};
const COUPONS: Record<string, number> = { "SAVE1.5": 1.5, SAVE5: 5 };

function cents(amount: number): number {
  return Math.round((amount + Math.sign(amount) * Number.EPSILON * 64) * 100) / 100;
}

interface Rules {
  /** The old code rounds the order's tax once; the rewrite sums the per-line rounded taxes. */
  taxOfOrder: "round-once" | "sum-of-lines";
  /** The rewrite forgets the coupon in us-ny (and totals with the unrounded tax). */
  couponInNewYork: boolean;
}

function computeTotal(cart: Cart, rules: Rules): OrderTotal {
  const rates = TAX_RATES[cart.region] ?? TAX_RATES["us-or"]!;
  const lines = cart.lines.map((line) => {
    const amount = cents(line.price * line.qty);
    const exactTax = amount * (rates[line.taxClass ?? "standard"] ?? 0);
    return { sku: line.sku, amount, exactTax, tax: cents(exactTax) };
  });
  const subtotal = lines.reduce((sum, line) => sum + line.amount, 0);
  const exactTax = lines.reduce((sum, line) => sum + line.exactTax, 0);
  const tax = rules.taxOfOrder === "round-once" ? cents(exactTax) : cents(lines.reduce((sum, line) => sum + line.tax, 0));
  const coupon = cart.coupon !== undefined && (rules.couponInNewYork || cart.region !== "us-ny") ? (COUPONS[cart.coupon] ?? 0) : 0;
  const total = rules.taxOfOrder === "round-once" ? cents(subtotal - coupon + tax) : cents(subtotal - coupon + exactTax);
  return { total, tax, lines: lines.map(({ sku, tax: lineTax, amount }) => ({ sku, tax: lineTax, amount })), meta: { traceId: `trace-${cart.id}` } };
}

/** One call of an example function, as the claims count it. */
export interface Call {
  fn: string;
  customerId: string;
  shadow: boolean;
  experiment: string | undefined;
}

/** Numbers the quotes: the answering node differs between two runs of the old code (what `calibrate` learns). */
let node = 0;

function logged<R>(fn: string, compute: (cart: Cart) => R): (cart: Cart) => R {
  // A named function, so `shadow()` names the experiment after it, as it would the user's own.
  const wrapped = {
    [fn](cart: Cart): R {
      const value = compute(cart);
      walkthrough.calls.push({ fn, customerId: cart.customerId, shadow: isShadow(), experiment: currentRun()?.experiment });
      walkthrough.lastReturned.set(fn, value);
      return value;
    },
  }[fn]!;
  return wrapped;
}

function quote(total: OrderTotal, exactLineTax: boolean, cart: Cart, status: number): Reply {
  // Old and new quotes come from different nodes, and no two quotes from the same one.
  const answeredBy = `${exactLineTax ? "old" : "new"}-${node++}`;
  const rates = TAX_RATES[cart.region] ?? TAX_RATES["us-or"]!;
  const lines = exactLineTax
    ? total.lines.map((line, i) => ({ ...line, tax: Math.round(line.amount * (rates[cart.lines[i]?.taxClass ?? "standard"] ?? 0) * 1000) / 1000 }))
    : total.lines;
  return { status, ...total, lines, meta: { traceId: randomUUID(), quotedAt: new Date().toISOString(), node: answeredBy } };
}

globalThis.legacyOrderTotal = logged("legacyOrderTotal", (c) => computeTotal(c, { taxOfOrder: "round-once", couponInNewYork: true }));
globalThis.newOrderTotal = logged("newOrderTotal", (c) => computeTotal(c, { taxOfOrder: "sum-of-lines", couponInNewYork: false }));
// The fix: the rewrite, corrected. It agrees with the old code on every cart.
globalThis.fixedOrderTotal = logged("fixedOrderTotal", (c) => computeTotal(c, { taxOfOrder: "round-once", couponInNewYork: true }));
globalThis.oldTotal = logged("oldTotal", (c) => computeTotal(c, { taxOfOrder: "round-once", couponInNewYork: true }));
globalThis.newTotal = logged("newTotal", (c) => computeTotal(c, { taxOfOrder: "sum-of-lines", couponInNewYork: false }));
// The old quote shows each line's tax to a tenth of a cent; the new one rounds it, and refuses an expired coupon.
globalThis.legacyQuote = logged("legacyQuote", (c) => quote(computeTotal(c, { taxOfOrder: "round-once", couponInNewYork: true }), true, c, 200));
globalThis.newQuote = logged("newQuote", (c) =>
  quote(computeTotal(c, { taxOfOrder: "round-once", couponInNewYork: true }), false, c, c.coupon === "EXPIRED" ? 409 : 200),
);

/** The README's example cart: the old code says 49.9 with tax 0.1, the rewrite 51.4 with tax 0.09. */
globalThis.cart = {
  id: "cart-readme",
  customerId: "c-readme",
  region: "us-ny",
  coupon: "SAVE1.5",
  lines: [
    { sku: "green-tea", price: 4.4, qty: 1, taxClass: "food" },
    { sku: "honey", price: 5.4, qty: 1, taxClass: "food" },
    { sku: "teapot", price: 41.5, qty: 1, taxClass: "exempt" },
  ],
};

const port = (name: string): number => {
  const value = Number(process.env[name]);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} is not set: the walkthrough's test starts the servers and passes their ports`);
  return value;
};

globalThis.transporter = nodemailer.createTransport({ host: "127.0.0.1", port: port("README_SMTP_PORT"), secure: false, ignoreTLS: true });
globalThis.stripe = new Stripe("sk_test_readme", { host: "127.0.0.1", port: port("README_STRIPE_PORT"), protocol: "http", maxNetworkRetries: 0, telemetry: false });

const auditLog = new Database("audit.db");
auditLog.exec("CREATE TABLE IF NOT EXISTS audit (actor TEXT NOT NULL, action TEXT NOT NULL)");
const insertAudit = auditLog.prepare("INSERT INTO audit (actor, action) VALUES (?, ?)");
globalThis.db = {
  async insert(entry: AuditEntry): Promise<void> {
    insertAudit.run(entry.actor, entry.action);
  },
};

type FlagConfiguration = NonNullable<ConstructorParameters<typeof InMemoryProvider>[0]>;
const flagAt = (share: number): FlagConfiguration => ({ "total-v2.shadow": { variants: { ramp: share }, defaultVariant: "ramp", disabled: false } });
const provider = new InMemoryProvider(flagAt(0));

const SKUS: Array<[string, number, string]> = [
  ["green-tea", 4.4, "food"],
  ["honey", 5.4, "food"],
  ["teapot", 41.5, "exempt"],
  ["kettle", 29.99, "standard"],
  ["mug", 7.25, "standard"],
  ["biscuits", 3.35, "food"],
];
const REGIONS = ["us-ny", "us-or", "eu-de"];

/** What the walkthrough's claims share: the traffic, the call log, what penumbra printed, the facts for the test. */
export const walkthrough = {
  calls: [] as Call[],
  lastReturned: new Map<string, unknown>(),
  /** PenumbraWarnings as `code: message`, in the order they were emitted. */
  warnings: [] as string[],
  /** Printed as the last line for the test process to compare across ESM and CommonJS and with its servers. */
  facts: {} as Record<string, unknown>,
  /** Where the test's sink server listens: an undeclared HTTP call goes there. */
  sinkPort: port("README_SINK_PORT"),

  /**
   * `count` carts of `customers` customers (deterministic: the same in every process), spread over
   * three regions, a third with a coupon and a few with an expired one.
   */
  carts(count: number, customers = count): Cart[] {
    const carts: Cart[] = [];
    for (let i = 0; i < count; i++) {
      const customer = i % customers;
      const lines: CartLine[] = [];
      for (let j = 0; j <= (i * 7 + customer) % 3; j++) {
        const [sku, price, taxClass] = SKUS[(i * 5 + j * 3 + customer) % SKUS.length]!;
        lines.push({ sku, price, qty: 1 + ((i + j) % 2), taxClass });
      }
      const coupon = customer % 3 === 0 ? "SAVE1.5" : customer % 23 === 1 ? "EXPIRED" : undefined;
      carts.push({ id: `cart-${i}`, customerId: `c-${String(customer).padStart(5, "0")}`, region: REGIONS[customer % REGIONS.length]!, lines, ...(coupon === undefined ? {} : { coupon }) });
    }
    return carts;
  },

  /** Serves `fn` to every cart, yielding to the event loop every `batch` calls as a server would between requests. */
  async serve<R>(carts: Cart[], fn: (cart: Cart) => R, batch = 50): Promise<R[]> {
    const answers: R[] = [];
    for (let i = 0; i < carts.length; i++) {
      answers.push(fn(carts[i]!));
      if (i % batch === batch - 1) await new Promise((resolve) => setImmediate(resolve));
    }
    return answers;
  },

  /** Rows in the audit log's table, read straight from the SQLite file. */
  auditRows(): Array<{ actor: string; action: string }> {
    return auditLog.prepare("SELECT actor, action FROM audit ORDER BY rowid").all() as Array<{ actor: string; action: string }>;
  },

  /** The flag service pushes a new value of `total-v2.shadow` (the admitted share). */
  async setRamp(share: number): Promise<void> {
    provider.putConfiguration(flagAt(share));
    await new Promise((resolve) => setTimeout(resolve, 20));
  },

  async ready(): Promise<void> {
    await OpenFeature.setProviderAndWait(provider);
  },

  async close(): Promise<void> {
    transporter.close();
    auditLog.close();
    await OpenFeature.close();
  },
};

process.on("warning", (warning: Error & { code?: string }) => {
  if (warning.name === "PenumbraWarning") walkthrough.warnings.push(`${warning.code ?? "?"}: ${warning.message}`);
});
