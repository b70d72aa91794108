/**
 * The rewrite: one pass over the lines, tax rounded per line, the coupon rule read from the
 * `regions` table only. Cleaner, and (as the shadow run shows) not the same thing.
 */
import { HOME_REGION, type Region, type Rules } from "../db";
import type { Cart, TotalService, Totals } from "../types";

/**
 * The two decisions in which a pricing implementation can differ from the old service. The rewrite
 * and its fix share the code and differ only here, so the fix reads as a diff of two policies.
 *
 * @example
 * ```ts
 * const policy: PricingPolicy = { roundTax: "per-line", couponAfterTax: (region) => region.couponAfterTax };
 * ```
 */
export interface PricingPolicy {
  /** Where tax is rounded to the cent: on every line, or once per tax class. */
  roundTax: "per-line" | "per-class";
  /** Whether a store coupon comes off the taxed total in this region. */
  couponAfterTax: (region: Region) => boolean;
}

/** The rewrite's policy. */
export const NEW_POLICY: PricingPolicy = {
  roundTax: "per-line",
  couponAfterTax: (region) => region.couponAfterTax,
};

/**
 * Builds a total service with the rewrite's code and the given policy.
 *
 * @example
 * ```ts
 * const newTotal = createPricing(prepareRules(db), NEW_POLICY);
 * newTotal(cart).tax; // cents, rounded per line
 * ```
 */
export function createPricing(rules: Rules, policy: PricingPolicy): TotalService {
  return (cart: Cart): Totals => {
    const region = resolveRegion(rules, cart);
    const subtotal = cart.lines.reduce((sum, line) => sum + line.qty * line.unitCents, 0);
    const coupon = cart.couponCode === undefined ? undefined : rules.coupon(cart.couponCode);
    const applies = coupon !== undefined && subtotal >= coupon.minSubtotal;
    const shipping = subtotal >= region.freeShippingOver || (applies && coupon.kind === "shipping") ? 0 : region.shippingCents;
    const storeCoupon = applies && coupon.kind === "fixed" ? coupon.value : 0;
    const afterTax = policy.couponAfterTax(region);
    const kept = afterTax ? subtotal : subtotal - Math.min(storeCoupon, subtotal);

    const classes = new Map<string, { amount: number; rate: number; lineTax: number }>();
    let taxable = 0;
    for (const line of cart.lines) {
      const taxClass = line.taxClass ?? "standard";
      const rate = rules.taxRate(region.code, taxClass);
      const amount = line.qty * line.unitCents;
      if (rate === 0 || amount === 0) continue;
      taxable += amount;
      const entry = classes.get(taxClass) ?? { amount: 0, rate, lineTax: 0 };
      entry.amount += amount;
      entry.lineTax += Math.round((amount * kept * rate) / (subtotal * 100_000));
      classes.set(taxClass, entry);
    }
    let tax = 0;
    for (const { amount, rate, lineTax } of classes.values()) {
      tax += policy.roundTax === "per-line" ? lineTax : Math.round((amount * kept * rate) / (subtotal * 100_000));
    }
    const taxBase = subtotal === 0 ? 0 : Math.round((taxable * kept) / subtotal);
    const discount = Math.min(storeCoupon, afterTax ? subtotal + tax : subtotal);
    return { region: region.code, subtotal, discount, shipping, taxBase, tax, total: subtotal - discount + tax + shipping };
  };
}

/**
 * The rewrite as it was shipped to the shadow.
 *
 * @example
 * ```ts
 * const candidate = createNewTotal(rules);
 * ```
 */
export function createNewTotal(rules: Rules): TotalService {
  return createPricing(rules, NEW_POLICY);
}

function resolveRegion(rules: Rules, cart: Cart): Region {
  const wanted = cart.region ?? cart.customer.homeRegion ?? HOME_REGION;
  const region = rules.region(wanted) ?? rules.region(HOME_REGION);
  if (region === undefined) throw new Error(`no rules for region ${wanted} nor ${HOME_REGION}`);
  return region;
}
