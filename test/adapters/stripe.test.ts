import { strict as assert } from "node:assert";
import http from "node:http";
import type { AddressInfo } from "node:net";
import Stripe from "stripe";
import { installTripwire, shadow, type Result } from "../../src/index";
import { guardStripe } from "../../src/adapters/stripe";
import { collector, resetConfiguration } from "../support/capture";

/** A local server that answers like Stripe for payment intents and keeps every request it receives. */
async function startFakeStripe(): Promise<{ port: number; requests: string[]; close: () => Promise<void> }> {
  const requests: string[] = [];
  const intents = new Map<string, Record<string, unknown>>();
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")));
    req.on("end", () => {
      const path = (req.url ?? "").split("?")[0] ?? "";
      requests.push(`${req.method} ${path}`);
      const answer = (status: number, json: unknown) => {
        res.writeHead(status, { "content-type": "application/json", "request-id": "req_fake" });
        res.end(JSON.stringify(json));
      };
      if (req.method === "POST" && path === "/v1/payment_intents") {
        const form = new URLSearchParams(body);
        const id = `pi_real_${intents.size + 1}`;
        const intent = { id, object: "payment_intent", amount: Number(form.get("amount")), currency: form.get("currency"), status: "requires_payment_method", livemode: false };
        intents.set(id, intent);
        return answer(200, intent);
      }
      const match = /^\/v1\/payment_intents\/([^/]+)$/.exec(path);
      if (req.method === "GET" && match !== null) {
        const intent = intents.get(decodeURIComponent(match[1] ?? ""));
        return intent === undefined
          ? answer(404, { error: { type: "invalid_request_error", message: "No such payment_intent" } })
          : answer(200, intent);
      }
      return answer(404, { error: { type: "invalid_request_error", message: `Unrecognized request URL (${req.method}: ${path})` } });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function runOnce<T>(control: () => Promise<T>, candidate: () => Promise<T>): Promise<Result<unknown>> {
  const sink = collector();
  const wrapped = shadow(control, candidate, { publish: sink });
  await wrapped();
  await wrapped.experiment.settled();
  assert.equal(sink.results.length, 1);
  return sink.results[0] as Result<unknown>;
}

describe("guardStripe", () => {
  let fake: Awaited<ReturnType<typeof startFakeStripe>>;
  let stripe: Stripe;
  beforeEach(async () => {
    fake = await startFakeStripe();
    stripe = guardStripe(new Stripe("sk_test_x", { host: "127.0.0.1", port: fake.port, protocol: "http", maxNetworkRetries: 0, telemetry: false }));
  });
  afterEach(async () => {
    resetConfiguration();
    await fake.close();
  });

  it("sends the control's create, never the candidate's, and records both", async () => {
    let candidateIntent: Stripe.PaymentIntent | undefined;
    const result = await runOnce(
      async () => (await stripe.paymentIntents.create({ amount: 1200, currency: "eur" }, { idempotencyKey: "order-42" })).amount,
      async () => {
        candidateIntent = await stripe.paymentIntents.create({ amount: 1200, currency: "eur" }, { idempotencyKey: "order-42" });
        return candidateIntent.amount;
      },
    );
    assert.deepEqual(fake.requests, ["POST /v1/payment_intents"]);
    assert.equal(result.control.value, 1200);
    assert.equal(result.candidates[0]?.value, 1200);
    assert.deepEqual(result.control.effects, [
      { name: "stripe.paymentIntents.create", args: [{ amount: 1200, currency: "eur" }, { idempotencyKey: "order-42" }], role: "control", blocked: false },
    ]);
    assert.deepEqual(result.candidates[0]?.effects, [
      { name: "stripe.paymentIntents.create", args: [{ amount: 1200, currency: "eur" }, { idempotencyKey: "order-42" }], role: "candidate", blocked: true },
    ]);
    assert.match(candidateIntent?.id ?? "", /^pi_shadow_[0-9a-f]{16}$/);
    assert.deepEqual({ ...candidateIntent }, { id: candidateIntent?.id, object: "payment_intent", livemode: false, amount: 1200, currency: "eur" });
  });

  it("lets a candidate's retrieve reach Stripe and records no read", async () => {
    const created = await stripe.paymentIntents.create({ amount: 500, currency: "usd" });
    let seen: unknown;
    const result = await runOnce(
      async () => 1,
      async () => {
        seen = (await stripe.paymentIntents.retrieve(created.id)).amount;
        return 1;
      },
    );
    assert.deepEqual(fake.requests, ["POST /v1/payment_intents", `GET /v1/payment_intents/${created.id}`]);
    assert.equal(seen, 500);
    assert.deepEqual(result.candidates[0]?.effects, []);
  });

  it("mints the same id for the same request, serves its retrieve from the guard and echoes later sunk calls", async () => {
    const ids: string[] = [];
    let confirmed: unknown;
    let retrieved: unknown;
    for (let i = 0; i < 2; i++) {
      await runOnce(
        async () => 1,
        async () => {
          const intent = await stripe.paymentIntents.create({ amount: 700, currency: "eur" });
          ids.push(intent.id);
          confirmed = (await stripe.paymentIntents.confirm(intent.id, { payment_method: "pm_card_visa" })).status;
          const again = await stripe.paymentIntents.retrieve(intent.id);
          retrieved = { status: again.status, amount: again.amount, payment_method: again.payment_method };
          return 1;
        },
      );
    }
    assert.equal(ids[0], ids[1]);
    assert.equal(confirmed, "succeeded");
    assert.deepEqual(retrieved, { status: "succeeded", amount: 700, payment_method: "pm_card_visa" });
    assert.deepEqual(fake.requests, []);
  });

  it("treats nested resources and other verbs as effects, with objects named from the resource", async () => {
    const answers: Record<string, unknown>[] = [];
    const result = await runOnce(
      async () => 1,
      async () => {
        answers.push(await stripe.checkout.sessions.create({ mode: "payment", success_url: "https://example.com/ok" }) as unknown as Record<string, unknown>);
        answers.push(await stripe.refunds.create({ payment_intent: "pi_real_1" }) as unknown as Record<string, unknown>);
        answers.push(await stripe.customers.del("cus_1") as unknown as Record<string, unknown>);
        answers.push(await stripe.invoices.finalizeInvoice("in_1") as unknown as Record<string, unknown>);
        return 1;
      },
    );
    assert.deepEqual(fake.requests, []);
    assert.deepEqual(
      answers.map((a) => [String(a.id).replace(/[0-9a-f]{16}$/, "…"), a.object, a.status ?? a.deleted]),
      [
        ["cs_shadow_…", "checkout.session", undefined],
        ["re_shadow_…", "refund", undefined],
        ["cus_1", "customer", true],
        ["in_1", "invoice", "open"],
      ],
    );
    assert.deepEqual(
      result.candidates[0]?.effects.map((e) => e.name),
      ["stripe.checkout.sessions.create", "stripe.refunds.create", "stripe.customers.del", "stripe.invoices.finalizeInvoice"],
    );
  });

  it("is transparent outside any experiment and leaves helpers alone", async () => {
    const intent = await stripe.paymentIntents.create({ amount: 300, currency: "eur" });
    assert.equal(intent.id, "pi_real_1");
    assert.equal(typeof stripe.webhooks.generateTestHeaderString, "function");
    assert.ok(new stripe.errors.StripeError({ message: "x" }) instanceof Error);
    assert.deepEqual(fake.requests, ["POST /v1/payment_intents"]);
  });

  it("keeps the request sender reached through the guarded client shut for writes, and open for GETs", async () => {
    type Sender = { _request: (...args: unknown[]) => unknown };
    const sender = (stripe as unknown as { _requestSender: Sender })._requestSender;
    const call = (method: string, path: string, data: Record<string, unknown>) =>
      new Promise<unknown>((resolve) =>
        sender._request(method, null, path, data, null, {}, [], (error: unknown, response: unknown) => resolve(error ?? response)),
      );
    let created: unknown;
    const result = await runOnce(
      async () => 1,
      async () => {
        created = await call("POST", "/v1/payment_intents", { amount: 99, currency: "eur" });
        await call("GET", "/v1/payment_intents/pi_missing", {});
        return 1;
      },
    );
    assert.deepEqual(fake.requests, ["GET /v1/payment_intents/pi_missing"]);
    assert.deepEqual({ ...(created as object) }, { amount: 99, currency: "eur", livemode: false });
    assert.deepEqual(
      (result.candidates[0]?.effects ?? []).map((e) => [e.name, e.blocked]),
      [["stripe._requestSender._request", true]],
    );
    assert.equal((sender as unknown as { _stripe: unknown })._stripe, stripe, "the sender's client is the guarded one");
  });

  it("lets the tripwire stop a raw prototype create applied to a guarded resource, as a leak, while reads stay declared", async () => {
    const uninstall = installTripwire();
    try {
      type Create = (params: { amount: number; currency: string }) => Promise<{ id: string }>;
      const result = await runOnce(
        async () => (await stripe.paymentIntents.create({ amount: 500, currency: "eur" })).id,
        async () => {
          const create = (Object.getPrototypeOf(stripe.paymentIntents) as { create: Create }).create;
          try {
            return (await create.call(stripe.paymentIntents, { amount: 500, currency: "eur" })).id;
          } catch (error) {
            return `error ${String((error as { code?: unknown; type?: unknown }).type ?? "")}`;
          } finally {
            await stripe.paymentIntents.retrieve("pi_real_1").catch(() => undefined);
          }
        },
      );
      assert.deepEqual(fake.requests, ["POST /v1/payment_intents", "GET /v1/payment_intents/pi_real_1"]);
      assert.notEqual(result.candidates[0]?.value, "pi_real_2");
      const leaks = (result.candidates[0]?.leaks ?? []).map((l) => ({ ...l }));
      assert.deepEqual(leaks, [{ kind: "network", target: `POST http://127.0.0.1:${fake.port}/v1/payment_intents`, blocked: true }]);
    } finally {
      uninstall();
    }
  });
});
