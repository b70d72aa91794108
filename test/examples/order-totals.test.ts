/**
 * The order-totals demo's pieces: seeded traffic, both services' arithmetic by hand, the ramp's
 * written-down thresholds, and what the terminal says about guardrails and segments.
 */
import { strict as assert } from "node:assert";
import { createDatabase, prepareRules, type Rules } from "../../examples/order-totals/db";
import type { ScorecardSummary } from "penumbra";
import { STAGES, guardrailsFor, stageSizes, thresholdTable } from "../../examples/order-totals/ramp";
import { bucketHomes, guardrailLines, segmentLines } from "../../examples/order-totals/report";
import { createFixedTotal } from "../../examples/order-totals/services/fixed-total";
import { createNewTotal } from "../../examples/order-totals/services/new-total";
import { createOldTotal } from "../../examples/order-totals/services/old-total";
import { generateTraffic } from "../../examples/order-totals/traffic";
import type { Cart, Totals } from "../../examples/order-totals/types";

const customer = { id: "cus-1", email: "a@example.test", name: "A", homeRegion: "us-ca" };
const at = "2024-11-29T08:00:00.000Z";

describe("examples/order-totals: traffic", () => {
  it("gives the same carts for the same seed and different carts for another seed", () => {
    const a = generateTraffic({ carts: 500, seed: 7 });
    const b = generateTraffic({ carts: 500, seed: 7 });
    const c = generateTraffic({ carts: 500, seed: 8 });
    assert.equal(a.length, 500);
    assert.deepEqual(a, b);
    assert.notDeepEqual(
      a.map((cart) => cart.lines),
      c.map((cart) => cart.lines),
    );
  });

  it("carries the mess the demo promises: retries, old accounts, exempt items, coupons, several regions", () => {
    const carts = generateTraffic({ carts: 3000, seed: 42 });
    const ids = carts.map((cart) => cart.requestId);
    assert.ok(new Set(ids).size < ids.length, "some requests are retried");
    assert.ok(carts.some((cart) => cart.customer.email === undefined), "old accounts without email");
    assert.ok(carts.some((cart) => cart.region === undefined), "carts without a shipping region");
    assert.ok(carts.some((cart) => cart.lines.some((line) => line.taxClass === undefined)), "old catalog items without a tax class");
    assert.ok(carts.some((cart) => cart.lines.some((line) => line.taxClass === "exempt")), "tax-exempt gift cards");
    assert.ok(carts.some((cart) => cart.couponCode === "FREESHIP") && carts.some((cart) => cart.couponCode === "SAVE5"));
    assert.equal(new Set(carts.map((cart) => cart.region).filter(Boolean)).size, 5);
    assert.ok(carts.every((cart) => cart.lines.length >= 1 && cart.lines.length <= 8), "at most 8 lines bound the rounding gap");
  });
});

describe("examples/order-totals: the services, checked by hand", () => {
  let rules: Rules;
  let oldTotal: (cart: Cart) => Totals;
  let newTotal: (cart: Cart) => Totals;
  let fixedTotal: (cart: Cart) => Totals;
  before(() => {
    rules = prepareRules(createDatabase(":memory:"));
    oldTotal = createOldTotal(rules);
    newTotal = createNewTotal(rules);
    fixedTotal = createFixedTotal(rules);
  });

  it("rounds tax per class (old) vs per line (new): three cheap items in California", () => {
    // 29 + 45 + 99 = 173 cents at 7.25 %.
    // Old, per class: 173 × 0.0725 = 12.5425 → 13.  New, per line: 2.1025 → 2, 3.2625 → 3, 7.1775 → 7 = 12.
    // Shipping 5.99 (under the 50.00 free-shipping line).
    const cart: Cart = {
      requestId: "r1", customer, region: "us-ca", placedAt: at,
      lines: [
        { sku: "pencil", qty: 1, unitCents: 29, taxClass: "standard" },
        { sku: "eraser", qty: 1, unitCents: 45, taxClass: "standard" },
        { sku: "sticker", qty: 1, unitCents: 99, taxClass: "standard" },
      ],
    };
    assert.deepEqual(oldTotal(cart), { region: "us-ca", subtotal: 173, discount: 0, shipping: 599, taxBase: 173, tax: 13, total: 785 });
    assert.deepEqual(newTotal(cart), { region: "us-ca", subtotal: 173, discount: 0, shipping: 599, taxBase: 173, tax: 12, total: 784 });
    assert.deepEqual(fixedTotal(cart), oldTotal(cart));
  });

  it("takes New York's store coupon after tax (old) vs before tax (new)", () => {
    // 2 × 19.99 = 39.98, SAVE5 (5.00 off from 25.00), NY 8.875 %, shipping 5.99 (free from 75.00).
    // Old: tax on 39.98 = 354.8225 → 3.55; total 39.98 − 5.00 + 3.55 + 5.99 = 44.52.
    // New: tax on 34.98 = 310.4475 → 3.10; total 39.98 − 5.00 + 3.10 + 5.99 = 44.07.
    const cart: Cart = {
      requestId: "r2", customer, region: "us-ny", placedAt: at, couponCode: "SAVE5",
      lines: [{ sku: "t-shirt", qty: 2, unitCents: 1999, taxClass: "standard" }],
    };
    assert.deepEqual(oldTotal(cart), { region: "us-ny", subtotal: 3998, discount: 500, shipping: 599, taxBase: 3998, tax: 355, total: 4452 });
    assert.deepEqual(newTotal(cart), { region: "us-ny", subtotal: 3998, discount: 500, shipping: 599, taxBase: 3498, tax: 310, total: 4407 });
    assert.deepEqual(fixedTotal(cart), oldTotal(cart));
  });

  it("agrees where the after-tax rule is in the data (Texas), and ignores an expired coupon", () => {
    // 34.99 at 8.25 % = 288.6675 → 2.89; SAVE5 after tax; shipping 6.99: 34.99 − 5.00 + 2.89 + 6.99 = 39.87.
    const cart: Cart = {
      requestId: "r3", customer, region: "us-tx", placedAt: at, couponCode: "SAVE5",
      lines: [{ sku: "lamp", qty: 1, unitCents: 3499, taxClass: "standard" }],
    };
    const expected: Totals = { region: "us-tx", subtotal: 3499, discount: 500, shipping: 699, taxBase: 3499, tax: 289, total: 3987 };
    assert.deepEqual(oldTotal(cart), expected);
    assert.deepEqual(newTotal(cart), expected);
    const expired = { ...cart, couponCode: "SUMMER22" };
    assert.equal(oldTotal(expired).total, 3499 + 289 + 699);
    assert.equal(newTotal(expired).total, 3499 + 289 + 699);
  });

  it("leaves exempt gift cards untaxed and honours a shipping coupon (Germany, two rates)", () => {
    // Gift card 25.00 exempt; coffee 12.99 at 7 % = 90.93 → 0.91; mug 11.99 at 19 % = 227.81 → 2.28.
    // FREESHIP: no shipping. 49.98 + 3.19 = 53.17. Taxable base 24.98.
    const cart: Cart = {
      requestId: "r4", customer, region: "eu-de", placedAt: at, couponCode: "FREESHIP",
      lines: [
        { sku: "gift-card-25", qty: 1, unitCents: 2500, taxClass: "exempt" },
        { sku: "coffee-beans", qty: 1, unitCents: 1299, taxClass: "reduced" },
        { sku: "mug", qty: 1, unitCents: 1199, taxClass: "standard" },
      ],
    };
    const expected: Totals = { region: "eu-de", subtotal: 4998, discount: 0, shipping: 0, taxBase: 2498, tax: 319, total: 5317 };
    assert.deepEqual(oldTotal(cart), expected);
    assert.deepEqual(newTotal(cart), expected);
  });

  it("prices an old account's cart (no email, no region, no tax class, a mistyped coupon) the same in both", () => {
    // Store default region us-ca. 2 × 5.99 with no class → standard 7.25 %: 11.98 × 0.0725 = 86.855 → 0.87.
    // 3 × 0.69 apples, reduced at 0 % in California. "SAVE 5" is no coupon. 14.05 + 0.87 + 5.99 = 20.91.
    const cart: Cart = {
      requestId: "r5", customer: { id: "cus-old" }, placedAt: at, couponCode: "SAVE 5",
      lines: [
        { sku: "batteries-legacy", qty: 2, unitCents: 599 },
        { sku: "apple", qty: 3, unitCents: 69, taxClass: "reduced" },
      ],
    };
    const expected: Totals = { region: "us-ca", subtotal: 1405, discount: 0, shipping: 599, taxBase: 1198, tax: 87, total: 2091 };
    assert.deepEqual(oldTotal(cart), expected);
    assert.deepEqual(newTotal(cart), expected);
  });

  it("the fixed rewrite equals the old service on 5000 generated carts", () => {
    for (const cart of generateTraffic({ carts: 5000, seed: 3 })) assert.deepEqual(fixedTotal(cart), oldTotal(cart), cart.requestId);
  });
});

describe("examples/order-totals: the ramp", () => {
  it("mirrors 1 % → 5 % → 25 % → 100 % over all the traffic, with thresholds that only tighten", () => {
    assert.deepEqual(STAGES.map((s) => s.sample), [0.01, 0.05, 0.25, 1]);
    assert.equal(STAGES.reduce((sum, s) => sum + s.traffic, 0), 1);
    for (const [i, stage] of STAGES.entries()) {
      assert.ok(stage.minRuns >= 100, "fewer runs than this trip on noise");
      const previous = STAGES[i - 1];
      if (previous === undefined) continue;
      assert.ok(stage.minRuns >= previous.minRuns);
      assert.ok(stage.maxMismatchRate <= previous.maxMismatchRate);
      assert.ok(stage.maxP95Ratio <= previous.maxP95Ratio);
      assert.ok(stage.maxTimeoutRate <= previous.maxTimeoutRate);
    }
  });

  it("turns a stage into guardrails, leaks always tripping", () => {
    const onTrip = (): void => undefined;
    const stage = STAGES[2];
    assert.ok(stage);
    assert.deepEqual(guardrailsFor(stage, onTrip), {
      minRuns: 200, maxMismatchRate: 0.35, maxP95Ratio: 2, maxTimeoutRate: 0.005, disableOnLeak: true, onTrip,
    });
  });

  it("splits the traffic into stages that add up, and prints the table before the ramp", () => {
    assert.deepEqual(stageSizes(20_000), [2000, 3000, 5000, 10_000]);
    assert.equal(stageSizes(401).reduce((a, b) => a + b, 0), 401);
    const table = thresholdTable(stageSizes(20_000));
    assert.match(table[0] ?? "", /stage\s+mirrored\s+carts\s+min runs\s+mismatch\s+p95 ratio\s+timeouts\s+leak/);
    assert.match(table[4] ?? "", /4\s+100%\s+10000\s+500\s+> 35%\s+> 1.5\s+> 0.5%\s+any/);
  });
});

describe("examples/order-totals: what the terminal says about guardrails and segments", () => {
  const stage = STAGES[3]!;
  const summary = (runs: number, fieldMatchRate: number): ScorecardSummary => ({
    experiment: "order-total",
    candidate: "candidate",
    runs,
    skipped: 0,
    statusMatchRate: 1,
    fieldMatchRate,
    errorRate: 0,
    timeoutRate: 0,
    leakRate: 0,
    latency: { control: { p50: 30, p95: 80, p99: 120 }, candidate: { p50: 0.1, p95: 0.2, p99: 0.3 }, p95Ratio: 0.0025 },
    reasons: [
      { reason: "tax-rounding-per-line", count: 40, share: 40 / runs, example: "tax=1 vs 1.01" },
      { reason: "coupon-before-tax", count: 5, share: 5 / runs, example: "taxBase=1 vs 2" },
      { reason: "effects:db.run", count: 45, share: 45 / runs, example: "args[9]=1 vs 2" },
    ],
    segments: [
      { key: "region", value: "us-ny", runs: 100, mismatchRate: 0.3, lift: 2, reasons: [{ reason: "tax-rounding-per-line", count: 25 }, { reason: "coupon-before-tax", count: 5 }] },
      { key: "region", value: "us-ca", runs: 150, mismatchRate: 0.1, lift: 2 / 3, reasons: [{ reason: "tax-rounding-per-line", count: 15 }] },
      { key: "region", value: "us-or", runs: 50, mismatchRate: 0, lift: 0, reasons: [] },
    ],
  });

  it("does not judge a rate under the stage's minimum runs, and says how many runs it had", () => {
    const lines = guardrailLines(stage, summary(28, 0.5), undefined);
    assert.deepEqual(lines.slice(0, 3).map((l) => l.trim()), [
      `mismatch rate  not judged: 28 runs < ${stage.minRuns}`,
      `timeout rate   not judged: 28 runs < ${stage.minRuns}`,
      `p95 ratio      not judged: 28 runs < ${stage.minRuns}`,
    ]);
    assert.match(lines[3] ?? "", /leak +ok: 0 leaks in 28 runs/);
  });

  it("says ok with the value against the threshold, and tripped for the rule that tripped", () => {
    const ok = guardrailLines(stage, summary(1000, 0.8), undefined);
    assert.match(ok[0] ?? "", /mismatch rate +ok: 20\.0% <= 35\.0% over 1000 runs/);
    assert.match(ok[2] ?? "", /p95 ratio +ok: 0\.00 <= 1\.50 over 1000 runs \(cannot fire in this demo/);
    const tripped = guardrailLines(stage, summary(1000, 0.5), { experiment: "order-total", reason: "mismatch-rate", value: 0.36, threshold: 0.35 });
    assert.match(tripped[0] ?? "", /mismatch rate +TRIPPED: 36\.0% > 35\.0%/);
    const leak = guardrailLines(stage, summary(3, 1), { experiment: "order-total", reason: "leak", value: 1, threshold: 0 });
    assert.match(leak[3] ?? "", /leak +TRIPPED/);
  });

  it("lists each region with its rate and lift, and where each named bucket lives", () => {
    const s = summary(300, 0.85);
    const lines = segmentLines(s, "region");
    assert.match(lines[0] ?? "", /by region \(overall 15\.0% of 300 runs/);
    assert.match(lines[1] ?? "", /us-ny +30\.0% of +100 runs +lift +2\.00x +tax-rounding-per-line 25, coupon-before-tax 5/);
    assert.match(lines[3] ?? "", /us-or +0\.0% of +50 runs +lift +0\.00x +no mismatch/);
    assert.deepEqual(bucketHomes(s, "region"), [
      { reason: "tax-rounding-per-line", count: 40, homes: [{ value: "us-ny", count: 25 }, { value: "us-ca", count: 15 }] },
      { reason: "coupon-before-tax", count: 5, homes: [{ value: "us-ny", count: 5 }] },
    ]);
  });
});
