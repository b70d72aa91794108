/**
 * The store's SQLite database: schema, seed data (regions, tax rates, coupons) and the prepared
 * reads both total services use. The demo creates it in a temporary directory on every run.
 */
import Database from "better-sqlite3";
import type { TaxClass } from "./types";

/** A shipping region's rules, as stored. */
export interface Region {
  code: string;
  shippingCents: number;
  /** Shipping is free from this subtotal on (cents). */
  freeShippingOver: number;
  /** The region requires store coupons to be taken off the taxed total (not the taxable amount). */
  couponAfterTax: boolean;
}

/** A coupon, as stored. `shipping` coupons waive shipping; `fixed` ones take cents off. */
export interface Coupon {
  code: string;
  kind: "fixed" | "shipping";
  /** Cents off for `fixed`; unused for `shipping`. */
  value: number;
  /** The coupon applies from this subtotal on (cents). */
  minSubtotal: number;
}

/**
 * The rules a total service reads. Rates are integers in 1/100 000 (8.875 % is 8875), so that
 * `cents × rate / 100000` is one exact integer product and one division: half-cents round the same
 * way on every machine.
 */
export interface Rules {
  region(code: string): Region | undefined;
  taxRate(region: string, taxClass: TaxClass): number;
  coupon(code: string): Coupon | undefined;
}

/** The region used when neither the cart nor the account names one: the store's home state. */
export const HOME_REGION = "us-ca";

const SCHEMA = `
  CREATE TABLE regions (
    code TEXT PRIMARY KEY, shipping_cents INTEGER NOT NULL, free_shipping_over INTEGER NOT NULL,
    coupon_after_tax INTEGER NOT NULL);
  CREATE TABLE tax_rates (
    region TEXT NOT NULL, tax_class TEXT NOT NULL, rate INTEGER NOT NULL, PRIMARY KEY (region, tax_class));
  CREATE TABLE coupons (
    code TEXT PRIMARY KEY, kind TEXT NOT NULL, value INTEGER NOT NULL, min_subtotal INTEGER NOT NULL,
    active INTEGER NOT NULL);
  CREATE TABLE orders (
    order_id TEXT PRIMARY KEY, request_id TEXT NOT NULL UNIQUE, customer_id TEXT NOT NULL,
    region TEXT NOT NULL, subtotal INTEGER NOT NULL, discount INTEGER NOT NULL, shipping INTEGER NOT NULL,
    tax_base INTEGER NOT NULL, tax INTEGER NOT NULL, total INTEGER NOT NULL, payment_id TEXT NOT NULL,
    email TEXT, placed_at TEXT NOT NULL);
`;

/**
 * [code, shipping, free shipping over, coupon after tax, standard, reduced, exempt].
 * us-ny's coupon rule is NOT in the table: the old service has it hard-coded (a 2017 hotfix), which
 * is exactly what the rewrite missed.
 */
const REGIONS: ReadonlyArray<readonly [string, number, number, 0 | 1, number, number, number]> = [
  ["us-ca", 599, 5000, 0, 7250, 0, 0],
  ["us-ny", 599, 7500, 0, 8875, 4000, 0],
  ["us-tx", 699, 5000, 1, 8250, 0, 0],
  ["us-or", 599, 5000, 0, 0, 0, 0],
  ["eu-de", 490, 6000, 0, 19000, 7000, 0],
];

/** [code, kind, value, min subtotal, active]. */
const COUPONS: ReadonlyArray<readonly [string, Coupon["kind"], number, number, 0 | 1]> = [
  ["SAVE5", "fixed", 500, 2500, 1],
  ["SAVE10", "fixed", 1000, 6000, 1],
  ["FREESHIP", "shipping", 0, 0, 1],
  ["SUMMER22", "fixed", 1000, 3000, 0],
];

/** Coupon codes carts may carry, an expired one and a typo included. */
export const COUPON_CODES: readonly string[] = [...COUPONS.map(([code]) => code), "SAVE 5"];

/**
 * Creates the database at `file` (":memory:" for tests), seeds it and tunes it for the demo: WAL
 * with `synchronous = NORMAL` commits without an fsync per order, as a store's database would.
 *
 * @example
 * ```ts
 * const db = createDatabase(path.join(dir, "shop.db"));
 * const rules = prepareRules(db);
 * rules.taxRate("us-ny", "standard"); // 8875
 * ```
 */
export function createDatabase(file: string): Database.Database {
  const db = new Database(file);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.exec(SCHEMA);
  const region = db.prepare("INSERT INTO regions VALUES (?, ?, ?, ?)");
  const rate = db.prepare("INSERT INTO tax_rates VALUES (?, ?, ?)");
  const coupon = db.prepare("INSERT INTO coupons VALUES (?, ?, ?, ?, ?)");
  db.transaction(() => {
    for (const [code, shipping, freeOver, afterTax, standard, reduced, exempt] of REGIONS) {
      region.run(code, shipping, freeOver, afterTax);
      rate.run(code, "standard", standard);
      rate.run(code, "reduced", reduced);
      rate.run(code, "exempt", exempt);
    }
    for (const row of COUPONS) coupon.run(...row);
  })();
  return db;
}

interface RegionRow {
  code: string;
  shipping_cents: number;
  free_shipping_over: number;
  coupon_after_tax: number;
}
interface CouponRow {
  code: string;
  kind: Coupon["kind"];
  value: number;
  min_subtotal: number;
}

/**
 * The reads the services make, prepared once: a checkout must not re-parse SQL per cart. Works on a
 * guarded database too (read statements come back unwrapped, so they cost nothing extra).
 *
 * @example
 * ```ts
 * const rules = prepareRules(guardSqlite(createDatabase(":memory:")));
 * rules.coupon("SAVE5"); // { code: "SAVE5", kind: "fixed", value: 500, minSubtotal: 2500 }
 * ```
 */
export function prepareRules(db: Database.Database): Rules {
  const region = db.prepare<[string], RegionRow>("SELECT * FROM regions WHERE code = ?");
  const rate = db.prepare<[string, string], { rate: number }>("SELECT rate FROM tax_rates WHERE region = ? AND tax_class = ?");
  const coupon = db.prepare<[string], CouponRow>("SELECT * FROM coupons WHERE code = ? AND active = 1");
  return {
    region(code) {
      const row = region.get(code);
      return row === undefined
        ? undefined
        : { code: row.code, shippingCents: row.shipping_cents, freeShippingOver: row.free_shipping_over, couponAfterTax: row.coupon_after_tax === 1 };
    },
    taxRate(regionCode, taxClass) {
      return rate.get(regionCode, taxClass)?.rate ?? 0;
    },
    coupon(code) {
      const row = coupon.get(code);
      return row === undefined ? undefined : { code: row.code, kind: row.kind, value: row.value, minSubtotal: row.min_subtotal };
    },
  };
}
