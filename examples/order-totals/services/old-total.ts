/**
 * The old order-total service, as it runs today after years of fixes. Its quirks are deliberate
 * and load-bearing: tax is rounded once per tax class (that is how the returns are filed), and in
 * some regions a store coupon comes off the taxed total.
 */
import { HOME_REGION, type Region, type Rules } from "../db";
import type { Cart, TaxClass, TotalService, Totals } from "../types";

/**
 * Regions where store coupons come off after tax although the `regions` table says otherwise: the
 * 2017 hotfix for New York, never moved into the data.
 */
const LEGACY_AFTER_TAX: ReadonlySet<string> = new Set(["us-ny"]);

/**
 * Builds the old service over the store's rules.
 *
 * @example
 * ```ts
 * const oldTotal = createOldTotal(prepareRules(db));
 * oldTotal(cart).total; // cents
 * ```
 */
export function createOldTotal(rules: Rules): TotalService {
  return (cart: Cart): Totals => {
    const region = resolveRegion(rules, cart);
    const amounts = new Map<TaxClass, number>();
    let subtotal = 0;
    for (const line of cart.lines) {
      const amount = line.qty * line.unitCents;
      subtotal += amount;
      const taxClass = line.taxClass ?? "standard"; // items from the old catalog carry no class
      amounts.set(taxClass, (amounts.get(taxClass) ?? 0) + amount);
    }
    const coupon = cart.couponCode === undefined ? undefined : rules.coupon(cart.couponCode);
    const applies = coupon !== undefined && subtotal >= coupon.minSubtotal;
    const freeShipping = subtotal >= region.freeShippingOver || (applies && coupon.kind === "shipping");
    const shipping = freeShipping ? 0 : region.shippingCents;
    const storeCoupon = applies && coupon.kind === "fixed" ? coupon.value : 0;
    const afterTax = region.couponAfterTax || LEGACY_AFTER_TAX.has(region.code);

    // Before tax, the coupon shrinks every class's taxable amount in proportion.
    const kept = afterTax ? subtotal : subtotal - Math.min(storeCoupon, subtotal);
    let tax = 0;
    let taxable = 0;
    for (const [taxClass, amount] of amounts) {
      const rate = rules.taxRate(region.code, taxClass);
      if (rate === 0) continue;
      taxable += amount;
      tax += subtotal === 0 ? 0 : Math.round((amount * kept * rate) / (subtotal * 100_000));
    }
    const taxBase = subtotal === 0 ? 0 : Math.round((taxable * kept) / subtotal);
    const discount = afterTax ? Math.min(storeCoupon, subtotal + tax) : Math.min(storeCoupon, subtotal);
    return { region: region.code, subtotal, discount, shipping, taxBase, tax, total: subtotal - discount + tax + shipping };
  };
}

function resolveRegion(rules: Rules, cart: Cart): Region {
  // Old accounts have no shipping region on the cart: their home region, else the store's.
  const wanted = cart.region ?? cart.customer.homeRegion ?? HOME_REGION;
  const region = rules.region(wanted) ?? rules.region(HOME_REGION);
  if (region === undefined) throw new Error(`no rules for region ${wanted} nor ${HOME_REGION}`);
  return region;
}
