/**
 * Ramping a shadow experiment with an OpenFeature flag, without a deploy. The experiment's
 * `enabled` gate is `openFeatureGate` from "penumbra/openfeature", reading a number flag (the
 * admitted fraction) from the SDK's `InMemoryProvider`. The flag is changed at runtime
 * 0 → 0.05 → 0.25 → 1 with `provider.putConfiguration`, as a flag service would push it, and the
 * example prints the share of customers whose calls ran the candidate at each stage. The decision is
 * sticky per customer (`contextOf` gives the customer id as `targetingKey`): a customer admitted at
 * 5% stays admitted at every later stage.
 *
 *   npm run build && node -r ts-node/register examples/openfeature-ramp/main.ts
 */
import { InMemoryProvider, OpenFeature } from "@openfeature/server-sdk";
import { flush, shadow, type Result } from "penumbra";
import { openFeatureGate } from "penumbra/openfeature";

interface Order {
  orderId: string;
  customerId: string;
  amountCents: number;
}

const FLAG = "checkout.loyalty-points-v2.shadow";
const STAGES = [0, 0.05, 0.25, 1] as const;
const CUSTOMERS = 2000;

/** The old loyalty rule: one point per whole euro. */
function legacyPoints(order: Order): number {
  return Math.floor(order.amountCents / 100);
}

/** The rewrite under test; it agrees, which is what a ramp hopes to confirm at scale. */
function newPoints(order: Order): number {
  return Math.trunc(order.amountCents / 100);
}

type FlagConfiguration = NonNullable<ConstructorParameters<typeof InMemoryProvider>[0]>;

/** One flag with a single variant: how a flag service would serve "the ramp is at x". */
function rampAt(fraction: number): FlagConfiguration {
  return { [FLAG]: { variants: { ramp: fraction }, defaultVariant: "ramp", disabled: false } };
}

async function main(): Promise<void> {
  const provider = new InMemoryProvider(rampAt(STAGES[0]));
  // A domain of its own keeps this provider away from whatever else registers on the global API.
  await OpenFeature.setProviderAndWait("checkout", provider);
  const client = OpenFeature.getClient("checkout");

  // Which customers ran the candidate in the current stage: every admitted call publishes a result
  // carrying the customer in its context; a call the flag says "no" to publishes nothing.
  let admitted = new Set<string>();
  const loyaltyPoints = shadow(legacyPoints, newPoints, {
    name: "loyalty-points",
    context: (order) => ({ customer: order.customerId }),
    publish: (result: Result<unknown>) => {
      admitted.add(String(result.context["customer"]));
    },
    enabled: openFeatureGate(client, {
      flagKey: FLAG,
      // The targeting key makes the decision a stable hash of the customer, not a coin toss per call.
      contextOf: (order: Order) => ({ targetingKey: order.customerId }),
    }),
    // The loop below issues a whole stage at once; each admitted call holds a slot until its
    // candidate settled, so the default 256 slots would shed most of them as overload.
    maxConcurrent: CUSTOMERS * 2,
  });

  const orders: Order[] = Array.from({ length: CUSTOMERS }, (_, i) => ({
    orderId: `o-${i}`,
    customerId: `customer-${i}`,
    amountCents: 1999 + i * 37,
  }));

  const admittedAt = new Map<number, Set<string>>();
  for (const fraction of STAGES) {
    provider.putConfiguration(rampAt(fraction)); // the ramp changes while the process keeps running
    admitted = new Set<string>();
    for (const order of orders) loyaltyPoints(order); // the control answers synchronously every time
    await flush(); // every admitted run of this stage compared and published
    admittedAt.set(fraction, admitted);
    const share = admitted.size / CUSTOMERS;
    console.log(`flag ${fraction}: candidate ran for ${admitted.size}/${CUSTOMERS} customers (${(share * 100).toFixed(1)}%)`);
  }

  const atFive = admittedAt.get(0.05) ?? new Set<string>();
  const later = [0.25, 1].map((fraction) => admittedAt.get(fraction) ?? new Set<string>());
  const stayed = [...atFive].filter((customer) => later.every((stage) => stage.has(customer)));
  const example = stayed[0];
  if (example !== undefined) {
    console.log(`sticky: ${example} was admitted at 5% and again at 25% and 100%`);
  }
  console.log(`sticky: ${stayed.length} of ${atFive.size} customers admitted at 5% stayed admitted at every later stage`);

  await OpenFeature.close(); // providers may hold timers or connections; closing lets the process exit
  if (atFive.size === 0 || stayed.length !== atFive.size) process.exitCode = 1;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
