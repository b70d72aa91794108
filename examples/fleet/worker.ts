/**
 * One process of the fleet demo (forked by main.ts): serves order totals over loopback HTTP with the
 * experiment on, exports penumbra's metrics on /metrics, and reads the fleet's flag file through
 * OpenFeature. It reports to the parent over IPC when it sees the flag go off, and counts candidate
 * runs the gate admitted after that moment (the goal is 0) and runs that merely started after it
 * (admitted just before: the propagation window).
 */
import { createServer } from "node:http";
import { OpenFeature, ProviderEvents } from "@openfeature/server-sdk";
import { Registry } from "prom-client";
import { shadow } from "penumbra";
import { flagdFile } from "penumbra/fleet";
import { openFeatureGate } from "penumbra/openfeature";
import { prometheusPublisher } from "penumbra/prometheus";
import { badTotal, cartFromQuery, newTotal, oldTotal, type Cart } from "./totals";

/** What main.ts asks a worker over IPC: ship the bad release, or report its counts. */
export type ToWorker = { type: "bad" } | { type: "stats" };
/** What a worker tells main.ts: its port, the moment it shipped the bad release or saw the flag off, its counts. */
export type FromWorker =
  | { type: "ready"; id: number; port: number }
  | { type: "bad"; id: number; at: number }
  | { type: "off"; id: number; at: number }
  | { type: "stats"; id: number; served: number; candidateRuns: number; admittedAfterOff: number; startedAfterOff: number; offAt?: number };

const id = Number(process.env["FLEET_WORKER_ID"] ?? 0);
const flagFile = process.env["FLEET_FLAG_FILE"] ?? "";
const flagKey = process.env["FLEET_FLAG_KEY"] ?? "order-total.shadow";
const send = (message: FromWorker): void => {
  process.send?.(message);
};

// A worker never outlives the demo: the parent stops it by pid, and this is the backstop.
setTimeout(() => process.exit(3), 120_000).unref();
process.on("disconnect", () => process.exit(0));

async function main(): Promise<void> {
  const flags = flagdFile(flagFile);
  await OpenFeature.setProviderAndWait(flags.provider);
  const client = OpenFeature.getClient();
  const gate = openFeatureGate(client, { flagKey, contextOf: (cart: Cart) => ({ targetingKey: cart.customerId }) });

  let version: "good" | "bad" = "good";
  let served = 0;
  let candidateRuns = 0;
  let admittedAfterOff = 0;
  let startedAfterOff = 0;
  let offAt: number | undefined;

  // The provider has loaded the new file before it emits the change: from here on, this process reads "off".
  client.addHandler(ProviderEvents.ConfigurationChanged, () => {
    void client.getBooleanDetails(flagKey, true).then((details) => {
      if (details.value !== false || offAt !== undefined) return;
      offAt = Date.now();
      send({ type: "off", id, at: offAt });
    });
  });

  const registry = new Registry();
  const total = shadow(oldTotal, (cart: Cart) => {
    candidateRuns++;
    if (offAt !== undefined) startedAfterOff++;
    return version === "good" ? newTotal(cart) : badTotal(cart);
  }, {
    name: "order-total",
    context: (cart: Cart) => ({ region: cart.region, coupon: cart.coupon }),
    // Opt-in segments: PromQL can then say where the mismatches cluster (5 regions × 2 coupon values).
    publish: prometheusPublisher({ registry, segments: ["region", "coupon"] }),
    // The flag decides; this wrapper only counts admissions that began after the process saw "off".
    enabled: async (cart: Cart) => {
      const afterOff = offAt !== undefined;
      const admitted = await gate(cart);
      if (admitted && afterOff) admittedAfterOff++;
      return admitted;
    },
  });

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    if (url.pathname === "/metrics") {
      registry.metrics().then(
        (text) => res.writeHead(200, { "content-type": registry.contentType }).end(text),
        (error: unknown) => res.writeHead(500).end(String(error)),
      );
      return;
    }
    if (url.pathname !== "/total") {
      res.writeHead(404).end();
      return;
    }
    served++;
    const totals = total(cartFromQuery(url.searchParams));
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(totals));
  });
  server.keepAliveTimeout = 30_000;
  server.listen(Number(process.env["FLEET_PORT"] ?? 0), "127.0.0.1", () => {
    const address = server.address();
    send({ type: "ready", id, port: typeof address === "object" && address !== null ? address.port : 0 });
  });

  process.on("message", (message: ToWorker) => {
    if (message.type === "bad") {
      version = "bad";
      send({ type: "bad", id, at: Date.now() });
    } else if (message.type === "stats") {
      send({ type: "stats", id, served, candidateRuns, admittedAfterOff, startedAfterOff, ...(offAt === undefined ? {} : { offAt }) });
    }
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`fleet worker ${id}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
