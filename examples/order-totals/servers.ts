/**
 * The outside world, on 127.0.0.1: a real SMTP server (smtp-server) and a stand-in for the payment
 * provider (answers `POST /v1/payment_intents` like Stripe). Each counts what actually arrived, so
 * the demo can prove that only the control's emails and charges left the process.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { SMTPServer } from "smtp-server";

/** What a server received. */
export interface Counters {
  /** Emails: messages accepted. Provider: `POST /v1/payment_intents` requests. */
  received: number;
  /** Provider only: the sum of the charged amounts, in cents. */
  amountCents: number;
  /** Provider only: distinct idempotency keys (a retried charge reuses its key). */
  distinctKeys: number;
}

/** A running server. */
export interface RunningServer {
  port: number;
  counters(): Counters;
  close(): Promise<void>;
}

/**
 * Starts an SMTP server that accepts every message and counts it.
 *
 * @example
 * ```ts
 * const smtp = await startSmtpServer();
 * nodemailer.createTransport({ host: "127.0.0.1", port: smtp.port, pool: true, ignoreTLS: true });
 * smtp.counters().received;
 * ```
 */
export async function startSmtpServer(): Promise<RunningServer> {
  let received = 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS", "AUTH"],
    logger: false,
    maxClients: 64,
    onData(stream, _session, callback) {
      stream.on("data", () => undefined); // drain: the count is what matters, not the bytes
      stream.on("end", () => {
        received++;
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.server.address() as AddressInfo;
  return {
    port,
    counters: () => ({ received, amountCents: 0, distinctKeys: 0 }),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * Starts the payment provider's stand-in: `POST /v1/payment_intents` creates an intent (a retry with
 * the same `Idempotency-Key` gets the same intent back, as from Stripe) and is counted; anything
 * else is a 404 in Stripe's error shape.
 *
 * @example
 * ```ts
 * const provider = await startPaymentProvider();
 * new Stripe("sk_test_demo", { host: "127.0.0.1", port: provider.port, protocol: "http" });
 * ```
 */
export async function startPaymentProvider(): Promise<RunningServer> {
  let received = 0;
  let amountCents = 0;
  const byKey = new Map<string, string>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const path = (req.url ?? "").split("?")[0];
      const answer = (status: number, body: unknown): void => {
        const json = JSON.stringify(body);
        res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(json), "request-id": `req_${received}` });
        res.end(json);
      };
      if (req.method !== "POST" || path !== "/v1/payment_intents") {
        answer(404, { error: { type: "invalid_request_error", message: `Unrecognized request URL (${req.method ?? "?"}: ${path ?? ""})` } });
        return;
      }
      received++;
      const form = new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
      const amount = Number(form.get("amount"));
      const key = String(req.headers["idempotency-key"] ?? `none-${received}`);
      let id = byKey.get(key);
      if (id === undefined) {
        id = `pi_${(byKey.size + 1).toString(36).padStart(8, "0")}`;
        byKey.set(key, id);
        amountCents += amount;
      }
      answer(200, { id, object: "payment_intent", amount, currency: form.get("currency"), status: "requires_capture", livemode: false });
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    counters: () => ({ received, amountCents, distinctKeys: byKey.size }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
