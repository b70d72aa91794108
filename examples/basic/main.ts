/**
 * The smallest useful shadow experiment: an old and a new order-total function, a few hundred
 * calls, and what penumbra published about them.
 *
 *   npm run demo
 */
import { flush, memoryPublisher, shadow } from "penumbra";

interface Line {
  sku: string;
  qty: number;
  unitPrice: number;
  taxRate: number;
}
interface Cart {
  id: string;
  lines: Line[];
}
interface Total {
  subtotal: number;
  tax: number;
  total: number;
}

const round2 = (n: number): number => Math.round(n * 100) / 100;

/** The old code: tax rounded once, on the cart. */
function legacyTotal(cart: Cart): Total {
  const subtotal = round2(cart.lines.reduce((sum, l) => sum + l.qty * l.unitPrice, 0));
  const tax = round2(cart.lines.reduce((sum, l) => sum + l.qty * l.unitPrice * l.taxRate, 0));
  return { subtotal, tax, total: round2(subtotal + tax) };
}

/** The rewrite: tax rounded per line, which is not the same thing. */
function newTotal(cart: Cart): Total {
  const subtotal = round2(cart.lines.reduce((sum, l) => sum + l.qty * l.unitPrice, 0));
  const tax = round2(cart.lines.reduce((sum, l) => sum + round2(l.qty * l.unitPrice * l.taxRate), 0));
  return { subtotal, tax, total: round2(subtotal + tax) };
}

function randomCart(i: number, random: () => number): Cart {
  const lines = Array.from({ length: 1 + Math.floor(random() * 5) }, (_, n) => ({
    sku: `SKU-${i}-${n}`,
    qty: 1 + Math.floor(random() * 3),
    unitPrice: round2(0.5 + random() * 20),
    taxRate: [0, 0.07, 0.19][Math.floor(random() * 3)] ?? 0,
  }));
  return { id: `cart-${i}`, lines };
}

/** A small seeded generator, so every run of the demo prints the same story. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 0x1_0000_0000;
  };
}

async function main(): Promise<void> {
  const memory = memoryPublisher({ limit: 1000 });
  const orderTotal = shadow(legacyTotal, newTotal, {
    name: "order-total",
    publish: memory,
    context: (cart) => ({ cart: cart.id }),
  });

  const random = seeded(7);
  const calls = 300;
  let served = 0;
  for (let i = 0; i < calls; i++) {
    const cart = randomCart(i, random);
    const total = orderTotal(cart); // always legacyTotal's answer
    if (total.total === legacyTotal(cart).total) served++;
  }
  await flush();

  const mismatched = memory.results.filter((r) => r.mismatched);
  console.log(`penumbra demo: ${calls} calls, ${served} answered exactly as before by the old code`);
  const skipped = memory.skips["order-total"] ?? 0;
  console.log(`published ${memory.results.length} results: ${memory.results.length - mismatched.length} matched, ${mismatched.length} mismatched`);
  console.log(`skipped ${skipped} calls: a tight loop had more than 256 runs (maxConcurrent) in flight, and penumbra sheds load instead of queueing`);
  console.log("first mismatches:");
  for (const result of mismatched.slice(0, 5)) {
    console.log(`  ${String(result.context.cart)}  ${result.mismatches[0]?.summary}`);
  }
  if (served !== calls) process.exitCode = 1;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
