/**
 * Keeping the shadow silent with real clients. A checkout charges the customer through the Stripe
 * SDK, stores the order in a better-sqlite3 database and emails a confirmation through nodemailer;
 * the rewrite under test does the same. Both run on the same clients, wrapped once with
 * `guardStripe`, `guardSqlite` and `guardMailer`, with `installTripwire()` behind them as the net
 * for anything undeclared.
 *
 * Everything is local: a real SMTP server and a Stripe stand-in on 127.0.0.1, the database in a
 * temporary directory. The example prints what the servers and the database actually received (the
 * control's email, row and charge, never the candidate's), the candidate's effects as penumbra
 * recorded and blocked them, and the effect mismatch published when the rewrite would charge a
 * different amount.
 *
 *   npm run build && node -r ts-node/register examples/guarded-clients/main.ts
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import Database from "better-sqlite3";
import nodemailer, { type Transporter } from "nodemailer";
import Stripe from "stripe";
import { flush, installTripwire, memoryPublisher, shadow, type Effect } from "penumbra";
import { guardSqlite } from "penumbra/better-sqlite3";
import { guardMailer } from "penumbra/nodemailer";
import { guardStripe } from "penumbra/stripe";
import { startSmtpServer, startStripeStandIn } from "./servers";

interface Order {
  id: string;
  email: string;
  itemsCents: number;
  shippingCents: number;
  /** Percent off, from a coupon; 0 without one. */
  couponPercent: number;
}

/** What checkout answers. No ids from Stripe: the candidate's would be fake and always differ. */
interface Receipt {
  orderId: string;
  status: "confirmed";
}

interface Clients {
  stripe: Stripe;
  db: Database.Database;
  mailer: Transporter;
}

/** The old rule: the coupon applies to the whole bill, shipping included. */
const legacyAmount = (o: Order): number => Math.round((o.itemsCents + o.shippingCents) * (1 - o.couponPercent / 100));
/** The rewrite's rule: the coupon applies to the items only. Equal without a coupon. */
const newAmount = (o: Order): number => Math.round(o.itemsCents * (1 - o.couponPercent / 100)) + o.shippingCents;

/** One checkout: charge, store, confirm. The control and the candidate differ only in the amount rule. */
function checkoutWith(amountOf: (order: Order) => number, clients: Clients): (order: Order) => Promise<Receipt> {
  return async (order) => {
    const amount = amountOf(order);
    await clients.stripe.paymentIntents.create(
      { amount, currency: "eur", metadata: { orderId: order.id } },
      { idempotencyKey: `checkout-${order.id}` },
    );
    clients.db.prepare("INSERT INTO orders (id, email, amount_cents) VALUES (?, ?, ?)").run(order.id, order.email, amount);
    await clients.mailer.sendMail({
      from: "shop@example.com",
      to: order.email,
      subject: `Order ${order.id} confirmed`,
      text: `We charged ${(amount / 100).toFixed(2)} EUR.`,
    });
    return { orderId: order.id, status: "confirmed" };
  };
}

/** One line per effect: what would have been charged, written or sent. */
function describeEffect(effect: Effect): string {
  const [first, ...rest] = effect.args;
  const fields = typeof first === "object" && first !== null ? (first as Record<string, unknown>) : {};
  if (effect.name === "stripe.paymentIntents.create") return `${effect.name} amount=${String(fields["amount"])}`;
  if (effect.name === "mailer.sendMail") return `${effect.name} to=${String(fields["to"])} subject="${String(fields["subject"])}"`;
  return `${effect.name} ${JSON.stringify(first)} ${JSON.stringify(rest)}`;
}

async function main(): Promise<void> {
  // The tripwire first, so it is in place before any client captures a socket or a module.
  const uninstallTripwire = installTripwire();
  const smtp = await startSmtpServer();
  const stripeServer = await startStripeStandIn();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "penumbra-guarded-"));

  // Each client is wrapped once, when it is created, and only the wrapped one is used anywhere:
  // an unguarded copy would let a shadow run through.
  const clients: Clients = {
    stripe: guardStripe(
      new Stripe("sk_test_local", { host: "127.0.0.1", port: stripeServer.port, protocol: "http", maxNetworkRetries: 0, telemetry: false }),
    ),
    db: guardSqlite(new Database(path.join(dir, "shop.db"))),
    mailer: guardMailer(nodemailer.createTransport({ host: "127.0.0.1", port: smtp.port, secure: false, ignoreTLS: true })),
  };
  // Outside any experiment the guards are transparent: this creates the table for real.
  clients.db.exec("CREATE TABLE orders (id TEXT PRIMARY KEY, email TEXT NOT NULL, amount_cents INTEGER NOT NULL)");
  console.log(`guarded-clients: smtp 127.0.0.1:${smtp.port}, stripe stand-in 127.0.0.1:${stripeServer.port}, sqlite ${path.join(dir, "shop.db")}`);

  const published = memoryPublisher({ limit: 100 });
  const checkout = shadow(checkoutWith(legacyAmount, clients), checkoutWith(newAmount, clients), {
    name: "checkout",
    publish: published,
    context: (order) => ({ order: order.id }),
  });

  const orders: Order[] = [
    { id: "order-1", email: "ada@example.com", itemsCents: 4500, shippingCents: 490, couponPercent: 0 },
    { id: "order-2", email: "grace@example.com", itemsCents: 5000, shippingCents: 490, couponPercent: 10 },
  ];
  try {
    for (const order of orders) {
      console.log(`checkout ${order.id} -> ${JSON.stringify(await checkout(order))}`);
    }
    await flush(); // the candidates ran after each checkout answered; wait for their results

    console.log(`smtp server received ${smtp.received.length} message(s):`);
    for (const mail of smtp.received) console.log(`  to=${mail.to.join(",")} subject="${mail.subject}"`);
    const rows = clients.db.prepare("SELECT id, email, amount_cents FROM orders ORDER BY id").all() as Array<{ id: string; email: string; amount_cents: number }>;
    console.log(`sqlite orders table has ${rows.length} row(s):`);
    for (const row of rows) console.log(`  ${row.id} ${row.email} amount_cents=${row.amount_cents}`);
    console.log(`stripe stand-in received ${stripeServer.received.length} charge(s):`);
    for (const charge of stripeServer.received) console.log(`  ${charge.method} ${charge.path} amount=${charge.amount} order=${charge.orderId}`);

    for (const result of published.results) {
      const order = String(result.context["order"]);
      for (const candidate of result.candidates) {
        const blocked = candidate.effects.filter((e) => e.blocked);
        console.log(`candidate effects for ${order}: ${blocked.length} recorded and blocked, ${candidate.leaks.length} leak(s)`);
        for (const effect of blocked) console.log(`  blocked ${describeEffect(effect)}`);
      }
      if (result.matched) console.log(`${order}: matched (same answer, same effects)`);
      for (const mismatch of result.mismatches) console.log(`${order}: mismatch (${mismatch.kind}) ${mismatch.summary}`);
    }
  } finally {
    // Stop everything this example started, so the process exits by itself.
    clients.mailer.close();
    clients.db.close();
    await Promise.all([smtp.close(), stripeServer.close()]);
    uninstallTripwire();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
