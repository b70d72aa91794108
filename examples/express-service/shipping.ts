/**
 * The domain code of the express-service example: the shipping quote the service has always used,
 * the rewrite that is meant to replace it, and the orders the example sends. Nothing here knows
 * about penumbra or Express, which is the point: the experiment is wired in at the route.
 */

export interface Order {
  orderId: string;
  customerId: string;
  /** ISO country code of the delivery address; the shop ships from DE. */
  country: string;
  weightKg: number;
  subtotalEur: number;
}

export interface Quote {
  orderId: string;
  carrier: string;
  costEur: number;
  freeShipping: boolean;
}

const round2 = (n: number): number => Math.round(n * 100) / 100;

/**
 * The old quote: 4.90 for the first kilo, 1.50 per started extra kilo, double abroad, free at home
 * from 50 EUR. This is what every caller gets while the experiment runs.
 *
 * @example
 * legacyQuote({ orderId: "o-1", customerId: "c-1", country: "DE", weightKg: 0.8, subtotalEur: 20 });
 * // → { orderId: "o-1", carrier: "dhl", costEur: 4.9, freeShipping: false }
 */
export function legacyQuote(order: Order): Quote {
  const domestic = order.country === "DE";
  if (domestic && order.subtotalEur >= 50) {
    return { orderId: order.orderId, carrier: "dhl", costEur: 0, freeShipping: true };
  }
  const extraKilos = Math.max(0, Math.ceil(order.weightKg - 1));
  const base = 4.9 + extraKilos * 1.5;
  return { orderId: order.orderId, carrier: domestic ? "dhl" : "ups", costEur: round2(domestic ? base : base * 2), freeShipping: false };
}

/**
 * The rewrite: half-kilo steps at 0.75 (cheaper for parcels just over a kilo) and a new carrier
 * abroad. Equal to {@link legacyQuote} for light parcels and free shipping, different otherwise —
 * which is what the shadow experiment is there to show before anyone is charged the new price.
 *
 * @example
 * newQuote({ orderId: "o-2", customerId: "c-2", country: "DE", weightKg: 1.3, subtotalEur: 20 });
 * // → { orderId: "o-2", carrier: "dhl", costEur: 5.65, freeShipping: false }
 */
export function newQuote(order: Order): Quote {
  const domestic = order.country === "DE";
  if (domestic && order.subtotalEur >= 50) {
    return { orderId: order.orderId, carrier: "dhl", costEur: 0, freeShipping: true };
  }
  const extraHalfKilos = Math.max(0, Math.ceil((order.weightKg - 1) * 2));
  const base = 4.9 + extraHalfKilos * 0.75;
  return { orderId: order.orderId, carrier: domestic ? "dhl" : "gls", costEur: round2(domestic ? base : base * 2), freeShipping: false };
}

/** The orders the example posts, in order; the test recomputes the expected answers from them. */
export const sampleOrders: readonly Order[] = [
  { orderId: "o-1", customerId: "c-1", country: "DE", weightKg: 0.8, subtotalEur: 20 },
  { orderId: "o-2", customerId: "c-2", country: "DE", weightKg: 1.3, subtotalEur: 35 },
  { orderId: "o-3", customerId: "c-3", country: "DE", weightKg: 4.2, subtotalEur: 80 },
  { orderId: "o-4", customerId: "c-4", country: "FR", weightKg: 2, subtotalEur: 45 },
];

/**
 * Reads an order from a parsed JSON body. Express hands the body over untyped; checking it here
 * keeps the route honest and gives a 400 instead of a quote computed from `undefined`.
 *
 * @example
 * parseOrder(JSON.parse('{"orderId":"o-1","customerId":"c-1","country":"DE","weightKg":1,"subtotalEur":5}'));
 */
export function parseOrder(body: unknown): Order | undefined {
  if (typeof body !== "object" || body === null) return undefined;
  const o = body as Record<string, unknown>;
  const { orderId, customerId, country, weightKg, subtotalEur } = o;
  if (typeof orderId !== "string" || typeof customerId !== "string" || typeof country !== "string") return undefined;
  if (typeof weightKg !== "number" || typeof subtotalEur !== "number") return undefined;
  return { orderId, customerId, country, weightKg, subtotalEur };
}
