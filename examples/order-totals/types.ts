/**
 * The shapes the order-total demo passes around. Money is integer cents everywhere inside the
 * services (floating-point dollars are how rounding bugs are born); receipts show dollars.
 */

/** How a line is taxed. Old catalog items carry no class and are taxed as `standard`. */
export type TaxClass = "standard" | "reduced" | "exempt";

/** One line of a cart. */
export interface CartLine {
  sku: string;
  qty: number;
  /** Price of one unit, in cents. */
  unitCents: number;
  /** Missing on items imported from the old catalog. */
  taxClass?: TaxClass;
}

/** The account placing the order. Accounts older than the 2019 migration lack some fields. */
export interface Customer {
  id: string;
  email?: string;
  name?: string;
  /** Where the account lives: the region used when a cart has no shipping region. */
  homeRegion?: string;
}

/**
 * A checkout request as the storefront sends it. Plain JSON data, so penumbra can snapshot it, put
 * it on results (`captureArgs`) and replay it from `results.jsonl` unchanged.
 */
export interface Cart {
  /** The storefront's idempotency key: a retried request carries the same id. */
  requestId: string;
  customer: Customer;
  /** Shipping region; missing on carts from old accounts with a stored default address. */
  region?: string;
  lines: CartLine[];
  couponCode?: string;
  /** ISO-8601 time the customer pressed "pay"; stored on the order. */
  placedAt: string;
}

/** What a total service computes, in cents. */
export interface Totals {
  region: string;
  subtotal: number;
  discount: number;
  shipping: number;
  /** The amount tax was computed on (taxable lines, after a before-tax coupon). */
  taxBase: number;
  tax: number;
  total: number;
}

/** A total service: the old one, the rewrite, the fixed rewrite. */
export type TotalService = (cart: Cart) => Totals;

/** What checkout answers the storefront, in dollars (what the customer sees). */
export interface Receipt {
  orderId: string;
  region: string;
  subtotal: number;
  discount: number;
  shipping: number;
  taxBase: number;
  tax: number;
  total: number;
  /** The payment provider's id for the charge. */
  paymentId: string;
  /** Whether a confirmation email was sent (old accounts may have no address). */
  emailed: boolean;
}
