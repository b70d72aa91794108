/**
 * A seeded traffic generator: the same seed gives the same carts, on every machine, so every run of
 * the demo tells the same story. The mess is the mess a store's checkout sees before a sale.
 */
import { COUPON_CODES } from "./db";
import type { Cart, CartLine, Customer, TaxClass } from "./types";

/** Options of {@link generateTraffic}. */
export interface TrafficOptions {
  /** How many checkout requests, retries included. */
  carts: number;
  /** @default 42 */
  seed?: number;
}

/** [sku, cents, class or undefined for old catalog items]. Cheap items make low-priced multi-item carts. */
const CATALOG: ReadonlyArray<readonly [string, number, TaxClass | undefined]> = [
  ["pencil", 29, "standard"],
  ["eraser", 45, "standard"],
  ["sticker", 99, "standard"],
  ["gum", 129, "reduced"],
  ["apple", 69, "reduced"],
  ["bread", 349, "reduced"],
  ["coffee-beans", 1299, "reduced"],
  ["notebook", 349, "standard"],
  ["mug", 1199, "standard"],
  ["t-shirt", 1999, "standard"],
  ["headphones", 5999, "standard"],
  ["lamp", 3499, "standard"],
  ["gift-card-25", 2500, "exempt"],
  ["gift-card-10", 1000, "exempt"],
  ["batteries-legacy", 599, undefined],
  ["cable-legacy", 899, undefined],
];

/**
 * A small, fast PRNG (mulberry32): deterministic across platforms, unlike `Math.random`.
 *
 * @example
 * ```ts
 * const random = seededRandom(42);
 * random(); // the same number on every machine
 * ```
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Generates `carts` checkout requests: several regions with their own tax rules, tax-exempt gift
 * cards, cheap multi-item carts, shipping coupons and store coupons (an expired one, a typo), old
 * accounts without email, name or region, and about 2 % retries that repeat an earlier request
 * (same `requestId`, same cart) a few requests later, sometimes while the first is still in flight.
 *
 * @example
 * ```ts
 * const carts = generateTraffic({ carts: 20_000, seed: 42 });
 * new Set(carts.map((c) => c.requestId)).size; // about 19 600: the rest are retries
 * ```
 */
export function generateTraffic(options: TrafficOptions): Cart[] {
  const random = seededRandom(options.seed ?? 42);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const customers = Array.from({ length: Math.max(50, Math.ceil(options.carts / 6)) }, (_, i) => makeCustomer(i, random));
  const carts: Cart[] = [];
  const start = Date.parse("2024-11-29T08:00:00Z"); // the sale opens
  for (let i = 0; carts.length < options.carts; i++) {
    const earlier = carts.length > 10 ? carts[carts.length - 1 - Math.floor(random() * 10)] : undefined;
    if (earlier !== undefined && random() < 0.02) {
      carts.push(earlier); // a retry: the storefront timed out and sent the same request again
      continue;
    }
    const customer = pick(customers);
    const lines = makeLines(random, pick);
    const roll = random();
    // The holiday sale: a quarter of the carts carry a code, some expired or mistyped.
    const couponCode = roll < 0.25 ? pick(COUPON_CODES) : roll < 0.3 ? "FREESHIP" : undefined;
    const cart: Cart = {
      requestId: `req-${options.seed ?? 42}-${i}`,
      customer,
      lines,
      placedAt: new Date(start + i * 37).toISOString(),
    };
    // Old accounts check out with their stored default address: no region on the cart.
    if (customer.email !== undefined || random() < 0.5) cart.region = customer.homeRegion ?? pickRegion(random);
    if (couponCode !== undefined) cart.couponCode = couponCode;
    carts.push(cart);
  }
  return carts;
}

/** Where the customers are: [region, cumulative share]. New York is the biggest market. */
const REGION_SHARES: ReadonlyArray<readonly [string, number]> = [
  ["us-ny", 0.3],
  ["us-ca", 0.55],
  ["us-tx", 0.75],
  ["eu-de", 0.9],
  ["us-or", 1],
];

function pickRegion(random: () => number): string {
  const roll = random();
  return (REGION_SHARES.find(([, upTo]) => roll < upTo) ?? REGION_SHARES[0])?.[0] ?? "us-ca";
}

function makeCustomer(i: number, random: () => number): Customer {
  const old = random() < 0.08; // accounts from before the 2019 migration
  const customer: Customer = { id: `cus-${i}` };
  if (!old || random() < 0.5) customer.email = `customer${i}@example.test`;
  if (!old) customer.name = `Customer ${i}`;
  if (!old || random() < 0.3) customer.homeRegion = pickRegion(random);
  return customer;
}

function makeLines(random: () => number, pick: <T>(items: readonly T[]) => T): CartLine[] {
  // Many small carts of cheap items (where per-line rounding bites), some big ones. At most 8 lines.
  const cheap = random() < 0.35;
  const count = cheap ? 2 + Math.floor(random() * 7) : 1 + Math.floor(random() * 4);
  const lines: CartLine[] = [];
  for (let n = 0; n < count; n++) {
    const [sku, unitCents, taxClass] = cheap ? pick(CATALOG.slice(0, 6)) : pick(CATALOG);
    const line: CartLine = { sku, qty: 1 + Math.floor(random() * (cheap ? 5 : 2)), unitCents };
    if (taxClass !== undefined) line.taxClass = taxClass;
    lines.push(line);
  }
  return lines;
}
