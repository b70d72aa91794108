/**
 * The rewrite, corrected after the shadow run: the same code as `new-total.ts`, with the two
 * decisions the scorecard named put back the way the old service (and the tax returns) need them.
 */
import type { Rules } from "../db";
import type { TotalService } from "../types";
import { createPricing, type PricingPolicy } from "./new-total";

/**
 * New York's after-tax coupon rule lived only in the old code; the fix names it here until the
 * `regions` row is corrected (a data change that needs its own shadow run).
 */
const AFTER_TAX_BY_LAW: ReadonlySet<string> = new Set(["us-ny"]);

/** The fixed policy: round per tax class (bucket `tax-rounding-per-line`), NY coupons after tax (`coupon-before-tax`). */
export const FIXED_POLICY: PricingPolicy = {
  roundTax: "per-class",
  couponAfterTax: (region) => region.couponAfterTax || AFTER_TAX_BY_LAW.has(region.code),
};

/**
 * Builds the fixed rewrite.
 *
 * @example
 * ```ts
 * const fixedTotal = createFixedTotal(rules);
 * fixedTotal(cart); // equal to the old service's totals
 * ```
 */
export function createFixedTotal(rules: Rules): TotalService {
  return createPricing(rules, FIXED_POLICY);
}
