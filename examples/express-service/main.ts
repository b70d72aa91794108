/**
 * A shadowed service function inside an Express 5 route. `POST /quote` answers with
 * `quoteShipping(order)`, which is `shadow(legacyQuote, newQuote)`: every response is the old
 * quote, and the rewrite runs beside it after the response is computed. The example starts a real
 * server on 127.0.0.1 (a free port), posts a few orders to it with `fetch`, prints each response and
 * then what penumbra published, and closes the server.
 *
 *   npm run build && node -r ts-node/register examples/express-service/main.ts
 */
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import express from "express";
import { flush, memoryPublisher, shadow } from "penumbra";
import { legacyQuote, newQuote, parseOrder, sampleOrders } from "./shipping";

async function main(): Promise<void> {
  const published = memoryPublisher({ limit: 100 });

  // Wrapped once, at module level in a real service: the experiment (and its counters) must outlive
  // a single request. `context` puts the order id on every result, so a mismatch can be traced.
  const quoteShipping = shadow(legacyQuote, newQuote, {
    name: "shipping-quote",
    publish: published,
    context: (order) => ({ order: order.orderId }),
  });

  const app = express();
  app.post("/quote", express.json(), (req, res) => {
    const order = parseOrder(req.body);
    if (order === undefined) {
      res.status(400).json({ error: "expected an order" });
      return;
    }
    // The route does not change: it calls the function it always called. The answer is
    // legacyQuote's, synchronously; newQuote runs on a later turn of the event loop.
    res.json(quoteShipping(order));
  });

  const server = await listen(app);
  const { port } = server.address() as AddressInfo;
  console.log(`express-service: listening on http://127.0.0.1:${port}`);

  try {
    for (const order of sampleOrders) {
      const response = await fetch(`http://127.0.0.1:${port}/quote`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(order),
      });
      console.log(`POST /quote ${order.orderId} -> ${response.status} ${await response.text()}`);
    }
  } finally {
    // fetch keeps its sockets alive; closing them here is what lets the process exit by itself.
    server.closeAllConnections();
    await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
  }

  // The candidates finish after the responses were sent: wait for every comparison to be published.
  await flush();

  const results = published.results;
  const mismatched = results.filter((r) => r.mismatched);
  console.log(`published ${results.length} results: ${results.length - mismatched.length} matched, ${mismatched.length} mismatched`);
  for (const result of mismatched) {
    console.log(`  mismatch ${String(result.context["order"])}: ${result.mismatches.map((m) => m.summary).join("; ")}`);
  }
  console.log("server closed");
}

/** Starts the app on a free loopback port; resolves once it accepts connections. */
function listen(app: express.Express): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = app.listen(0, "127.0.0.1", (error?: Error) => (error ? reject(error) : resolve(server)));
  });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
