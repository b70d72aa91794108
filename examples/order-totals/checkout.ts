/**
 * The order flow. `placeOrder` is what the experiment shadows: compute the total, charge it, write
 * the order row, send the confirmation. The control does all of it for real; in the candidate the
 * same calls go through the same guarded clients, so they are sunk and compared instead.
 *
 * `createCheckout` is the storefront's entry point and stays OUTSIDE the experiment: it answers a
 * retried request from the order it already placed. Inside a candidate that lookup would find the
 * row the control has just written and answer "already placed" for every cart.
 */
import http from "node:http";
import type Database from "better-sqlite3";
import type { Transporter } from "nodemailer";
import type Stripe from "stripe";
import type { Cart, Receipt, TotalService, Totals } from "./types";

/** The store's clients, each already wrapped by its penumbra guard. */
export interface Shop {
  db: Database.Database;
  mailer: Pick<Transporter, "sendMail">;
  stripe: Stripe;
}

/** One checkout: the function the experiment wraps. */
export type PlaceOrder = (cart: Cart) => Promise<Receipt>;

interface OrderRow {
  order_id: string;
  region: string;
  subtotal: number;
  discount: number;
  shipping: number;
  tax_base: number;
  tax: number;
  total: number;
  payment_id: string;
  email: string | null;
}

const dollars = (cents: number): number => cents / 100;
const money = (cents: number): string => `$${(cents / 100).toFixed(2)}`;

/**
 * The order flow over a total service. Order ids come from the request id, not from SQLite's rowid:
 * a candidate's sunk insert has no rowid, and the ids must agree for the effects to compare.
 *
 * @example
 * ```ts
 * const control = createPlaceOrder(shop, createOldTotal(rules));
 * const receipt = await control(cart); // charged, stored, emailed
 * ```
 */
export function createPlaceOrder(shop: Shop, total: TotalService): PlaceOrder {
  // Short SQL on purpose: its text is part of every recorded effect, in every line of results.jsonl.
  const insert = shop.db.prepare("INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  return async (cart: Cart): Promise<Receipt> => {
    const totals = total(cart);
    const orderId = `ord_${cart.requestId}`;
    const intent = await shop.stripe.paymentIntents.create(
      { amount: totals.total, currency: totals.region.startsWith("eu-") ? "eur" : "usd", metadata: { orderId } },
      { idempotencyKey: cart.requestId },
    );
    const email = cart.customer.email ?? null;
    insert.run(orderId, cart.requestId, cart.customer.id, totals.region, totals.subtotal, totals.discount, totals.shipping, totals.taxBase, totals.tax, totals.total, intent.id, email, cart.placedAt);
    if (email !== null) {
      await shop.mailer.sendMail({
        from: "orders@shop.example.test",
        to: email,
        subject: `Your order ${orderId}`,
        text: confirmation(cart.customer.name, orderId, totals),
      });
    }
    return receipt(orderId, totals, intent.id, email !== null);
  };
}

/**
 * The storefront's checkout: de-duplicates retried requests (one in flight, or already stored), and
 * hands new ones to the current `placeOrder` (the ramp swaps in a new experiment per stage).
 *
 * @example
 * ```ts
 * const desk = createCheckout(shop);
 * desk.use(shadow(control, candidate, options));
 * await desk.checkout(cart);
 * ```
 */
export function createCheckout(shop: Shop): { checkout: PlaceOrder; use(placeOrder: PlaceOrder): void } {
  const stored = shop.db.prepare<[string], OrderRow>("SELECT * FROM orders WHERE request_id = ?");
  const inFlight = new Map<string, Promise<Receipt>>();
  let current: PlaceOrder | undefined;
  return {
    use(placeOrder) {
      current = placeOrder;
    },
    checkout(cart) {
      const pending = inFlight.get(cart.requestId);
      if (pending !== undefined) return pending;
      const row = stored.get(cart.requestId);
      if (row !== undefined) return Promise.resolve(fromRow(row));
      if (current === undefined) return Promise.reject(new Error("checkout: no placeOrder in use"));
      const placing = current(cart).finally(() => inFlight.delete(cart.requestId));
      inFlight.set(cart.requestId, placing);
      return placing;
    },
  };
}

function receipt(orderId: string, t: Totals, paymentId: string, emailed: boolean): Receipt {
  return {
    orderId,
    region: t.region,
    subtotal: dollars(t.subtotal),
    discount: dollars(t.discount),
    shipping: dollars(t.shipping),
    taxBase: dollars(t.taxBase),
    tax: dollars(t.tax),
    total: dollars(t.total),
    paymentId,
    emailed,
  };
}

function fromRow(row: OrderRow): Receipt {
  const totals: Totals = { region: row.region, subtotal: row.subtotal, discount: row.discount, shipping: row.shipping, taxBase: row.tax_base, tax: row.tax, total: row.total };
  return receipt(row.order_id, totals, row.payment_id, row.email !== null);
}

function confirmation(name: string | undefined, orderId: string, t: Totals): string {
  return [
    `Hello ${name ?? "there"},`, // accounts from before 2019 have no name
    `thank you for order ${orderId}.`,
    `Subtotal ${money(t.subtotal)}`,
    `Discount -${money(t.discount)}`,
    `Shipping ${money(t.shipping)}`,
    `Tax ${money(t.tax)}`,
    `Total ${money(t.total)}`,
  ].join("\n");
}

/**
 * `--leak`: the rewrite as a careless team might ship it, calling the provider's fraud check over a
 * plain `http.request` that no guard declares. In a shadow run the tripwire blocks the request and
 * records a leak; the leak guardrail switches the experiment off at once, and the demo exits 1.
 * The call's failure is swallowed, as "best effort" calls are, so only the tripwire notices.
 *
 * @example
 * ```ts
 * const candidate = withUndeclaredFraudCheck(createPlaceOrder(shop, newTotal), providerPort);
 * ```
 */
export function withUndeclaredFraudCheck(placeOrder: PlaceOrder, port: number): PlaceOrder {
  return async (cart) => {
    await new Promise<void>((resolve) => {
      try {
        const request = http.request({ host: "127.0.0.1", port, method: "POST", path: "/v1/fraud_checks" }, (response) => {
          response.resume();
          response.on("end", resolve);
        });
        request.on("error", () => resolve());
        request.end(`request=${encodeURIComponent(cart.requestId)}`);
      } catch {
        resolve();
      }
    });
    return placeOrder(cart);
  };
}
