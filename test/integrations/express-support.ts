/** Test support for penumbra/express: an app on 127.0.0.1 and a raw keep-alive HTTP/1.1 client. */
import type { Server } from "node:http";
import * as net from "node:net";
import type { AddressInfo } from "node:net";
import express, { type Express, type NextFunction, type Request, type RequestHandler, type Response } from "express";

/** A running app. */
export interface RunningApp {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Listens on a free loopback port. */
export async function listen(app: Express): Promise<RunningApp> {
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** An app that serves `route` at GET / and hands every error to a handler that keeps it and answers 500 "handled". */
export async function listenWithErrorHandler(route: RequestHandler): Promise<RunningApp & { handled(): unknown }> {
  let handled: unknown;
  const app = express();
  app.get("/", route);
  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    handled = error;
    res.status(500).send("handled");
  });
  return { ...(await listen(app)), handled: () => handled };
}

/** One response as it came off the wire. */
export interface WireResponse {
  statusLine: string;
  headers: Record<string, string>;
  body: string;
}

/**
 * One keep-alive connection, requests sent one at a time, responses framed by Content-Length. Every
 * byte the server sends is kept, so a test can tell whether anything arrived outside a response.
 */
export class KeepAliveClient {
  private buffer = Buffer.alloc(0);
  private waiting: (() => void) | undefined;
  closed = false;
  private readonly socket: net.Socket;
  readonly connected: Promise<void>;

  constructor(port: number) {
    this.socket = net.connect(port, "127.0.0.1");
    this.connected = new Promise((resolve, reject) => {
      this.socket.once("connect", () => resolve());
      this.socket.once("error", reject);
    });
    this.socket.on("data", (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.waiting?.();
    });
    this.socket.on("close", () => {
      this.closed = true;
      this.waiting?.();
    });
    this.socket.on("error", () => undefined);
  }

  /** Bytes received and not yet taken as part of a response. */
  get pending(): string {
    return this.buffer.toString("latin1");
  }

  async get(path: string): Promise<WireResponse> {
    await this.connected;
    if (this.closed) throw new Error("the connection was closed before the request");
    this.socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n`);
    for (;;) {
      const parsed = this.take();
      if (parsed !== undefined) return parsed;
      if (this.closed) throw new Error(`the connection closed mid-response; received: ${JSON.stringify(this.pending)}`);
      await new Promise<void>((resolve) => (this.waiting = resolve));
      this.waiting = undefined;
    }
  }

  close(): void {
    this.socket.destroy();
  }

  private take(): WireResponse | undefined {
    const split = this.buffer.indexOf("\r\n\r\n");
    if (split < 0) return undefined;
    const [statusLine = "", ...lines] = this.buffer.subarray(0, split).toString("latin1").split("\r\n");
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(":");
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const length = Number(headers["content-length"] ?? 0);
    if (this.buffer.length < split + 4 + length) return undefined;
    const body = this.buffer.subarray(split + 4, split + 4 + length).toString("utf8");
    this.buffer = this.buffer.subarray(split + 4 + length);
    return { statusLine, headers, body };
  }
}

/** Resolves with `promise`, or rejects naming `what` when it has not settled within `ms`. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}
