/**
 * The outside world, on 127.0.0.1: a real SMTP server (smtp-server) and a stand-in for the payment
 * provider (answers `POST /v1/payment_intents` like Stripe). Each counts what actually arrived, so
 * the demo can prove that only the control's emails and charges left the process.
 *
 * The demo runs them in a child process (`startServerProcess`): they are somebody else's machines
 * in real life, and their CPU (SMTP parsing, HTTP) then uses the second core instead of the store's.
 */
import { fork } from "node:child_process";
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

/** Both servers' counters. */
export interface AllCounters {
  emails: Counters;
  charges: Counters;
  /** CPU the server process has used, in ms: the outside world's share of the demo's cost. */
  cpuMs: number;
}

/** The servers running in a child process. */
export interface ServerProcess {
  smtpPort: number;
  providerPort: number;
  counters(): Promise<AllCounters>;
  close(): Promise<void>;
}

type ChildMessage = { type: "ready"; smtpPort: number; providerPort: number } | { type: "counters"; counters: AllCounters };

/**
 * Starts both servers in a child process (this file, forked) and resolves once they listen.
 *
 * @example
 * ```ts
 * const servers = await startServerProcess();
 * const { emails, charges } = await servers.counters();
 * await servers.close();
 * ```
 */
export function startServerProcess(): Promise<ServerProcess> {
  // Forked under ts-node like its parent; the child's module loading overlaps the parent's start.
  const child = fork(__filename, [], { execArgv: ["-r", "ts-node/register"], stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const waiting: Array<(counters: AllCounters) => void> = [];
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`server process exited early (code ${String(code)})`)));
    child.on("message", (message: ChildMessage) => {
      if (message.type === "counters") waiting.shift()?.(message.counters);
      if (message.type !== "ready") return;
      child.removeAllListeners("exit");
      resolve({
        smtpPort: message.smtpPort,
        providerPort: message.providerPort,
        counters: () =>
          new Promise((answer) => {
            waiting.push(answer);
            child.send({ type: "counters" });
          }),
        close: () =>
          new Promise((done) => {
            child.once("exit", () => done());
            child.send({ type: "close" });
          }),
      });
    });
  });
}

function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

async function serveFromChild(): Promise<void> {
  const [smtp, provider] = await Promise.all([startSmtpServer(), startPaymentProvider()]);
  const send = (message: ChildMessage): void => void process.send?.(message);
  process.on("message", (message: { type: string }) => {
    if (message.type === "counters") send({ type: "counters", counters: { emails: smtp.counters(), charges: provider.counters(), cpuMs: cpuMs() } });
    if (message.type === "close") void Promise.all([smtp.close(), provider.close()]).then(() => process.exit(0));
  });
  process.on("disconnect", () => process.exit(0)); // the parent died: do not linger
  send({ type: "ready", smtpPort: smtp.port, providerPort: provider.port });
}

if (require.main === module) void serveFromChild();
