/**
 * The reasons the team can name, written before the ramp: every difference the shadow finds is
 * sorted into one of these, and a difference nobody named shows up under its bare path.
 */
import { P } from "ts-pattern";
import type { BucketRule, FieldDiff } from "penumbra";

/**
 * Per-line rounding moves a total by at most half a cent per line; carts have at most 8 lines and two
 * taxed classes, so 5 cents bounds it (the rewrite's worst case in 20 000 carts was 3).
 */
const MAX_ROUNDING_CENTS = 5;

const cents = (d: FieldDiff): number | undefined =>
  typeof d.control === "number" && typeof d.candidate === "number" ? Math.round(Math.abs(d.control - d.candidate) * 100) : undefined;

/** Provider-minted ids: real (`pi_000001`) in the control, minted by the Stripe guard (`pi_shadow_…`) in the candidate. */
const isProviderId = (d: FieldDiff): boolean =>
  typeof d.control === "string" && typeof d.candidate === "string" && d.control.startsWith("pi_") && d.candidate.startsWith("pi_shadow_");

/**
 * The bucket rules of the order-total experiment, first match wins:
 *
 * 1. `provider-ids` (noise): payment ids, in the receipt and in the order row's insert. The shadow's
 *    charge never reaches the provider, so its id is a fake one by construction.
 * 2. `coupon-before-tax`: the amount tax was computed on (`taxBase`) differs; only the coupon's stage
 *    moves it.
 * 3. `tax-rounding-per-line`: a tax, discount or total off by at most 5 cents.
 * 4. `coupon-before-tax` again: a tax, discount or total off by more than rounding can explain.
 *
 * A NY coupon cart made of gift cards and one cheap taxed item moves its tax by a cent or two: that
 * diff lands in rule 3, and the run counts under both reasons. Per-diff rules cannot see the rest of
 * the mismatch; the `taxBase` rule is what names the coupon there.
 *
 * @example
 * ```ts
 * shadow(control, candidate, { buckets: ORDER_BUCKETS });
 * ```
 */
export const ORDER_BUCKETS: BucketRule[] = [
  { name: "provider-ids", noise: true, match: isProviderId },
  { name: "coupon-before-tax", match: { path: "taxBase" } },
  { name: "tax-rounding-per-line", match: (d) => isMoney(d) && (cents(d) ?? Infinity) <= MAX_ROUNDING_CENTS },
  { name: "coupon-before-tax", match: { path: P.union("tax", "total", "discount"), control: P.number, candidate: P.number } },
];

function isMoney(d: FieldDiff): boolean {
  return d.path === "tax" || d.path === "total" || d.path === "discount";
}
