/**
 * The server `bench/end-to-end.ts` drives: node:http on 127.0.0.1 (port chosen by the OS, printed
 * as the first stdout line), whose handler builds a 20-line cart and answers with its order total
 * through a wrapped function. VARIANT picks the wrapping: `direct` (no penumbra), `off`
 * (`enabled: false`), `1%` or `100%` sampled, background mode, the candidate the same order total
 * (a matching refactor). One variant per process, so an earlier sampled variant cannot leave the
 * AsyncLocalStorage hook switched on for a later one.
 */
import * as http from "node:http";
import { shadow } from "../src/index";
import { makeCart, orderTotal, type BenchCart, type BenchTotal } from "./fixtures";

const variant = process.env.VARIANT ?? "direct";
const noPublish = (): void => undefined;

function handlerTotal(): (cart: BenchCart) => BenchTotal {
  switch (variant) {
    case "direct":
      return orderTotal;
    case "off":
      return shadow(orderTotal, orderTotal, { name: "e2e", enabled: false, publish: noPublish });
    case "1%":
      return shadow(orderTotal, orderTotal, { name: "e2e", sample: 0.01, publish: noPublish });
    case "100%":
      return shadow(orderTotal, orderTotal, { name: "e2e", sample: 1, publish: noPublish });
    default:
      throw new Error(`e2e-server: unknown VARIANT ${variant}`);
  }
}

const total = handlerTotal();
const server = http.createServer((_req, res) => {
  const result = total(makeCart(20));
  res.writeHead(200, { "content-type": "application/json" });
  res.end(JSON.stringify({ total: result.total, display: result.display }));
});

server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("e2e-server: no TCP address");
  console.log(String(address.port));
});

// Bounded: the parent sends SIGTERM when done; if it never does, the server stops by itself.
process.on("SIGTERM", () => server.close(() => process.exit(0)));
setTimeout(() => process.exit(0), 120_000).unref();
