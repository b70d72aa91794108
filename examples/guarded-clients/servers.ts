/**
 * Local stand-ins for the outside world of the guarded-clients example: a real SMTP server
 * (smtp-server) and an HTTP server that answers Stripe's payment-intent API. Both listen on
 * 127.0.0.1 on a free port and record everything they receive, so the example can show that only
 * the control's email and charge arrived.
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { SMTPServer } from "smtp-server";

/** One message as the SMTP server received it. */
export interface ReceivedMail {
  to: string[];
  subject: string;
}

/** One request as the Stripe stand-in received it. */
export interface ReceivedCharge {
  method: string;
  path: string;
  amount: number;
  orderId: string;
}

export interface LocalServer<T> {
  port: number;
  /** What arrived, in order; the array is live. */
  received: T[];
  close(): Promise<void>;
}

/**
 * Starts a real SMTP server on 127.0.0.1 that accepts any message and keeps its recipients and
 * subject.
 *
 * @example
 * ```ts
 * const smtp = await startSmtpServer();
 * const transporter = nodemailer.createTransport({ host: "127.0.0.1", port: smtp.port, secure: false, ignoreTLS: true });
 * await transporter.sendMail({ from: "a@example.com", to: "b@example.com", subject: "hi", text: "hi" });
 * smtp.received; // [{ to: ["b@example.com"], subject: "hi" }]
 * await smtp.close();
 * ```
 */
export async function startSmtpServer(): Promise<LocalServer<ReceivedMail>> {
  const received: ReceivedMail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS"], // plain SMTP on loopback: no certificates to manage in an example
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("end", () => {
        const raw = Buffer.concat(chunks).toString("utf8");
        received.push({
          to: session.envelope.rcptTo.map((r) => r.address),
          subject: /^Subject: (.*)$/m.exec(raw)?.[1]?.trim() ?? "",
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.server.address() as AddressInfo;
  return { port, received, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/**
 * Starts an HTTP server that answers `POST /v1/payment_intents` like Stripe does (enough for the
 * Stripe SDK to parse it) and keeps each charge's amount and order id. Point the SDK at it with
 * `new Stripe(key, { host: "127.0.0.1", port, protocol: "http" })`.
 *
 * @example
 * ```ts
 * const stripeServer = await startStripeStandIn();
 * const stripe = new Stripe("sk_test_local", { host: "127.0.0.1", port: stripeServer.port, protocol: "http" });
 * await stripe.paymentIntents.create({ amount: 4990, currency: "eur" });
 * stripeServer.received; // [{ method: "POST", path: "/v1/payment_intents", amount: 4990, orderId: "" }]
 * await stripeServer.close();
 * ```
 */
export async function startStripeStandIn(): Promise<LocalServer<ReceivedCharge>> {
  const received: ReceivedCharge[] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")));
    req.on("end", () => {
      const path = (req.url ?? "").split("?")[0] ?? "";
      const answer = (status: number, json: unknown): void => {
        res.writeHead(status, { "content-type": "application/json", "request-id": `req_local_${received.length}` });
        res.end(JSON.stringify(json));
      };
      if (req.method !== "POST" || path !== "/v1/payment_intents") {
        answer(404, { error: { type: "invalid_request_error", message: `Unrecognized request URL (${String(req.method)}: ${path})` } });
        return;
      }
      // The SDK sends form-encoded parameters, metadata as metadata[orderId]=….
      const form = new URLSearchParams(body);
      const charge = { method: req.method, path, amount: Number(form.get("amount")), orderId: form.get("metadata[orderId]") ?? "" };
      received.push(charge);
      answer(200, {
        id: `pi_local_${received.length}`,
        object: "payment_intent",
        amount: charge.amount,
        currency: form.get("currency"),
        status: "requires_payment_method",
        livemode: false,
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        // The Stripe SDK keeps its sockets alive; closing them is what lets the process exit.
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
