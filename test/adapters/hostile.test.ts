import { strict as assert } from "node:assert";
import Stripe from "stripe";
import { guardStripe } from "../../src/adapters/stripe";
import { classifyPgQuery } from "../../src/adapters/pg";
import { resetConfiguration } from "../support/capture";
import { runOnce as run } from "../support/one-run";

describe("ready adapters over what every object has", () => {
  afterEach(resetConfiguration);

  it("treats a Stripe resource's toString, valueOf and hasOwnProperty as what they are, not as API calls to sink", async () => {
    const stripe = guardStripe(new Stripe("sk_test_penumbra", { maxNetworkRetries: 0 }));
    const look = (): unknown[] => [
      String(stripe.customers),
      `${stripe.paymentIntents as unknown as string}`,
      stripe.customers.hasOwnProperty("create"),
      stripe.customers.valueOf() === stripe.customers,
      stripe.refunds.propertyIsEnumerable("create"),
    ];
    const outside = look();
    let seen: unknown[] = [];
    const result = await run(
      () => look(),
      () => {
        seen = look();
        return outside;
      },
    );
    assert.equal(result.candidates[0]?.error, undefined);
    assert.deepEqual(seen, outside);
    assert.deepEqual(result.control.effects, []);
    assert.deepEqual(result.candidates[0]?.effects, []);
  });

  it("classifies a state-changing function called by its quoted name (\"setval\"(…), \"pg_catalog\".\"pg_notify\"(…)) as a write", () => {
    for (const sql of [
      `SELECT "setval"('orders_id_seq', 1)`,
      `SELECT "nextval" ('orders_id_seq')`,
      `SELECT "pg_catalog"."pg_notify"('orders', 'x')`,
      `SELECT pg_catalog."set_config"('a.b', 'c', false)`,
      `SELECT "pg_advisory_lock"(1)`,
    ]) {
      assert.equal(classifyPgQuery(sql).kind, "write", sql);
    }
    // A quoted column that merely looks like a keyword stays a read.
    assert.equal(classifyPgQuery(`SELECT "into", "for" FROM "update"`).kind, "read");
    assert.equal(classifyPgQuery(`SELECT "nextval" FROM t`).kind, "read");
  });
});
