/**
 * The order totals the fleet demo serves: the old service, its rewrite, and a bad release of the
 * rewrite (coupons taken off after tax) that the demo ships at a known moment. Money in cents.
 */

/** A checkout as the storefront sends it (query string of GET /total). */
export interface Cart {
  customerId: string;
  region: string;
  coupon: boolean;
  lines: number[];
}

/** What the service answers. */
export interface Totals {
  subtotal: number;
  discount: number;
  tax: number;
  total: number;
}

/** Tax rates in basis points per region. */
const RATES: Record<string, number> = { "us-ny": 888, "us-ca": 725, "us-tx": 625, eu: 2000, uk: 2000 };
export const REGIONS = Object.keys(RATES);
const COUPON_CENTS = 500;

/**
 * The old service: the coupon comes off before tax, tax rounded once.
 *
 * @example
 * ```ts
 * oldTotal({ customerId: "c-1", region: "eu", coupon: false, lines: [1999] }).total; // 2399
 * ```
 */
export function oldTotal(cart: Cart): Totals {
  let subtotal = 0;
  for (const line of cart.lines) subtotal += line;
  const discount = cart.coupon ? Math.min(COUPON_CENTS, subtotal) : 0;
  const tax = Math.round(((subtotal - discount) * (RATES[cart.region] ?? 0)) / 10_000);
  return { subtotal, discount, tax, total: subtotal - discount + tax };
}

/**
 * The rewrite, as reviewed: the same arithmetic, written as a reduction.
 *
 * @example
 * ```ts
 * newTotal(cart); // equal to oldTotal(cart)
 * ```
 */
export function newTotal(cart: Cart): Totals {
  const subtotal = cart.lines.reduce((sum, line) => sum + line, 0);
  const discount = cart.coupon ? Math.min(COUPON_CENTS, subtotal) : 0;
  const taxable = subtotal - discount;
  const tax = Math.round((taxable * (RATES[cart.region] ?? 0)) / 10_000);
  return { subtotal, discount, tax, total: taxable + tax };
}

/**
 * The bad release of the rewrite: taxes the full subtotal, then takes the coupon off. Every cart
 * with a coupon (about 30% of traffic) now totals more than the old service says.
 *
 * @example
 * ```ts
 * badTotal({ customerId: "c-1", region: "eu", coupon: true, lines: [1999] }).total; // 1899 instead of 1799
 * ```
 */
export function badTotal(cart: Cart): Totals {
  const subtotal = cart.lines.reduce((sum, line) => sum + line, 0);
  const discount = cart.coupon ? Math.min(COUPON_CENTS, subtotal) : 0;
  const tax = Math.round((subtotal * (RATES[cart.region] ?? 0)) / 10_000);
  return { subtotal, discount, tax, total: subtotal - discount + tax };
}

/**
 * A cart from the query string of `GET /total?customer=c-1&region=eu&coupon=1&lines=1999,500`.
 *
 * @example
 * ```ts
 * cartFromQuery(new URL("http://x/total?customer=c-1&region=eu&coupon=0&lines=1999").searchParams);
 * ```
 */
export function cartFromQuery(query: URLSearchParams): Cart {
  return {
    customerId: query.get("customer") ?? "anonymous",
    region: query.get("region") ?? "eu",
    coupon: query.get("coupon") === "1",
    lines: (query.get("lines") ?? "").split(",").filter((s) => s !== "").map(Number),
  };
}

/**
 * The query string of a random cart: 5 000 customers, 30% with a coupon.
 *
 * @example
 * ```ts
 * http.get(`http://127.0.0.1:${port}/total?${randomCartQuery()}`);
 * ```
 */
export function randomCartQuery(): string {
  const customer = `c-${Math.floor(Math.random() * 5000)}`;
  const region = REGIONS[Math.floor(Math.random() * REGIONS.length)] ?? "eu";
  const coupon = Math.random() < 0.3 ? "1" : "0";
  const lines = Array.from({ length: 1 + Math.floor(Math.random() * 4) }, () => 100 + Math.floor(Math.random() * 5000));
  return `customer=${customer}&region=${region}&coupon=${coupon}&lines=${lines.join(",")}`;
}
