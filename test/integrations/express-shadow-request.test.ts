/**
 * The Express shadow request never exposes the live connection: everything on the new handler's
 * `req` and `res` that is a socket is an inert stand-in. Tried on a real keep-alive connection to an
 * Express 5 app on 127.0.0.1, with hand-written and generated (fast-check) hostile handlers; the
 * tripwire is not installed, so only the stand-ins stand between the new handler and the client.
 */
import { strict as assert } from "node:assert";
import { EventEmitter } from "node:events";
import fc from "fast-check";
import express, { type NextFunction, type Request, type Response } from "express";
import { shadowExpress } from "../../src/integrations/express";
import type { ComparableResponse } from "../../src/integrations/http";
import { InertSocket } from "../../src/integrations/http/shadow-request";
import { collector } from "../support/capture";
import { KeepAliveClient, listen, type RunningApp } from "./express-support";

type Handler = (req: Request, res: Response, next: NextFunction) => unknown;

/** A hostile action the new handler may take on what it was given: each tries to reach the client or the connection. */
const RAW_418 = "HTTP/1.1 418 I'm a teapot\r\nContent-Length: 6\r\n\r\nteapot";
const hostileActions: Record<string, (req: Request, res: Response) => unknown> = {
  "req.client.write": (req) => (req as unknown as { client: { write(s: string): void } }).client.write(RAW_418),
  "req.socket.write": (req) => req.socket.write(RAW_418),
  "req.connection.write": (req) => (req as unknown as { connection: { write(s: string): void } }).connection.write(RAW_418),
  "req.client.destroy": (req) => (req as unknown as { client: { destroy(): void } }).client.destroy(),
  "req.socket.end": (req) => req.socket.end(),
  "req.socket.destroy": (req) => req.socket.destroy(),
  "req.socket.setTimeout": (req) => req.socket.setTimeout(1, () => undefined),
  "req.socket.unref": (req) => req.socket.unref(),
  "req.res.socket.write": (req) => req.res?.socket?.write(RAW_418),
  "req.res.connection.destroy": (req) => req.res?.connection?.destroy(),
  "res.socket.end": (_req, res) => res.socket?.end(RAW_418),
  "res.connection.write": (_req, res) => res.connection?.write(RAW_418),
  "res.req.client.end": (_req, res) => (res.req as unknown as { client: { end(s: string): void } }).client.end(RAW_418),
  "req.destroy": (req) => req.destroy(),
  "res.destroy": (_req, res) => res.destroy(),
  "req.pipe(req.socket)": (req) => req.pipe(req.socket),
  "res.writeHead 418": (_req, res) => res.writeHead(418, { "x-teapot": "1" }),
  "res.write": (_req, res) => res.write("teapot"),
  "res.send": (_req, res) => res.status(418).send("teapot"),
  "res.end": (_req, res) => res.end("teapot"),
  "res.writeContinue": (_req, res) => res.writeContinue(),
  "res.writeEarlyHints": (_req, res) => res.writeEarlyHints({ link: "</x.css>; rel=preload" }),
  "res.flushHeaders": (_req, res) => res.flushHeaders(),
  "res.setTimeout": (_req, res) => res.setTimeout(1),
  "req.socket.emit error": (req) => req.socket.emit("close"),
};

function run(actions: string[]): Handler {
  return (req, res) => {
    for (const name of actions) {
      try {
        hostileActions[name]?.(req, res);
      } catch {
        // A stand-in may refuse an action; what matters is that nothing reaches the client.
      }
    }
    // Then answer, when still possible, so the run ends without waiting for its timeout.
    try {
      if (!res.headersSent) res.json({ id: req.params.id, total: 49.9 });
      else if (!res.writableEnded) res.end();
    } catch {
      // A destroyed stand-in may refuse; the run then ends at its timeout.
    }
  };
}

function oldOrder(req: Request, res: Response): void {
  res.json({ id: req.params.id, total: 49.9 });
}

describe("penumbra/express: the shadow request exposes no live connection", () => {
  let running: RunningApp | undefined;
  let client: KeepAliveClient | undefined;
  afterEach(async () => {
    client?.close();
    client = undefined;
    await running?.close();
    running = undefined;
  });

  async function keepAliveApp(newHandler: Handler): Promise<ReturnType<typeof shadowExpress>> {
    const route = shadowExpress(oldOrder, newHandler, { name: `express-inert-${Math.random()}`, publish: collector(), timeoutMs: 500 });
    const app = express();
    app.get("/orders/:id", route);
    running = await listen(app);
    client = new KeepAliveClient(running.port);
    return route;
  }

  it("keeps req.client.write('HTTP/1.1 418 …'), req.client.destroy() and req.socket.end() off a keep-alive connection", async () => {
    const route = await keepAliveApp(run(["req.client.write", "req.client.destroy", "req.socket.end"]));
    const live = client as KeepAliveClient;
    const first = await live.get("/orders/1");
    await route.experiment.settled();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(live.pending, "", "nothing arrived after the first response");
    assert.equal(live.closed, false, "the connection is still open");
    const second = await live.get("/orders/2");
    assert.equal(first.statusLine, "HTTP/1.1 200 OK");
    assert.deepEqual(JSON.parse(first.body), { id: "1", total: 49.9 });
    assert.equal(second.statusLine, "HTTP/1.1 200 OK");
    assert.deepEqual(JSON.parse(second.body), { id: "2", total: 49.9 });
    await route.experiment.settled();
  });

  it("survives any generated sequence of hostile actions: every response intact, nothing else on the wire", async function () {
    this.timeout(60_000);
    const names = Object.keys(hostileActions);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.constantFrom(...names), { minLength: 1, maxLength: 8 }), fc.integer({ min: 1, max: 3 }), async (actions, requests) => {
        const route = await keepAliveApp(run(actions));
        const live = client as KeepAliveClient;
        try {
          for (let i = 1; i <= requests; i++) {
            const answer = await live.get(`/orders/${i}`);
            assert.equal(answer.statusLine, "HTTP/1.1 200 OK");
            assert.deepEqual(JSON.parse(answer.body), { id: String(i), total: 49.9 });
            assert.equal(answer.headers["x-teapot"], undefined);
            await route.experiment.settled();
            await new Promise((resolve) => setImmediate(resolve));
            assert.equal(live.pending, "", `nothing arrives outside a response (actions: ${actions.join(", ")})`);
            assert.equal(live.closed, false, `the connection stays open (actions: ${actions.join(", ")})`);
          }
        } finally {
          live.close();
          await running?.close();
          running = undefined;
          client = undefined;
        }
      }),
      { numRuns: 40 },
    );
  });

  it("gives the new handler stand-ins that still answer what handlers ask of a socket", async () => {
    const seen: Record<string, unknown> = {};
    let liveReq: Request | undefined;
    const sink = collector();
    const route = shadowExpress(
      (req: Request, res: Response) => {
        liveReq = req;
        res.json({ ip: req.ip, host: req.get("host"), q: req.query.q, protocol: req.protocol });
      },
      (req: Request, res: Response) => {
        const client = (req as unknown as { client: unknown }).client;
        seen.socketIsLive = req.socket === liveReq?.socket;
        seen.clientIsSocket = client === req.socket;
        seen.connectionIsSocket = (req as unknown as { connection: unknown }).connection === req.socket;
        seen.resSocketIsSocket = res.socket === req.socket && res.connection === req.socket;
        seen.reqResIsRes = req.res === res && res.req === req;
        seen.remoteAddress = req.socket.remoteAddress;
        seen.writeAccepted = req.socket.write("x");
        const stash = req as unknown as { rawSocket: unknown; ctx: { socket: unknown; res: unknown; req: unknown } };
        seen.stashedSocketIsLive = stash.rawSocket === liveReq?.socket || stash.ctx.socket === liveReq?.socket;
        seen.stashedExchangeIsShadow = stash.ctx.res === res && stash.ctx.req === req;
        res.json({ ip: req.ip, host: req.get("host"), q: req.query.q, protocol: req.protocol });
      },
      { name: "express-inert-facts", publish: sink },
    );
    const app = express();
    app.use((req: Request, res: Response, next: NextFunction) => {
      // Middleware that keeps handles to the live exchange on the request.
      Object.assign(req, { rawSocket: req.socket, ctx: { socket: req.socket, res, req } });
      next();
    });
    app.get("/", route);
    running = await listen(app);
    const answer = (await (await fetch(`${running.url}/?q=7`)).json()) as Record<string, unknown>;
    await route.experiment.settled();
    assert.deepEqual(answer, { ip: "127.0.0.1", host: running.url.slice("http://".length), q: "7", protocol: "http" });
    assert.equal(sink.results[0]?.matched, true, sink.results[0]?.mismatches.map((m) => m.summary).join("; "));
    assert.deepEqual(seen, {
      socketIsLive: false,
      clientIsSocket: true,
      connectionIsSocket: true,
      resSocketIsSocket: true,
      reqResIsRes: true,
      remoteAddress: "127.0.0.1",
      writeAccepted: true,
      stashedSocketIsLive: false,
      stashedExchangeIsShadow: true,
    });
    const candidate = sink.results[0]?.candidates[0]?.value as ComparableResponse;
    assert.deepEqual(candidate.body, answer);
  });

  it("gives the new handler a request stream of its own, already ended, that shares no state with the live one", async () => {
    let chunks = -1;
    let liveReq: Request | undefined;
    let sharesState = true;
    const route = shadowExpress(
      (req: Request, res: Response) => {
        liveReq = req;
        res.send("ok");
      },
      async (req: Request, res: Response) => {
        const state = (r: unknown) => (r as { _readableState: unknown })._readableState;
        sharesState = Object.getPrototypeOf(req) === liveReq || state(req) === state(liveReq);
        chunks = 0;
        for await (const _chunk of req) chunks++;
        res.send("ok");
      },
      { name: "express-inert-stream", publish: collector() },
    );
    const app = express();
    app.post("/", route);
    running = await listen(app);
    const res = await fetch(running.url, { method: "POST", body: "a body the old handler never read" });
    assert.equal(await res.text(), "ok");
    await route.experiment.settled();
    assert.equal(chunks, 0);
    assert.equal(sharesState, false);
  });
});

describe("penumbra/express: a request that is not an IncomingMessage", () => {
  it("still gives the new handler inert socket, connection and client in front of a mock request", async () => {
    const liveSocket = { remoteAddress: "127.0.0.9", write: () => assert.fail("the live socket was written to") };
    const mockReq = { method: "GET", url: "/x", headers: { host: "h" }, socket: liveSocket, connection: liveSocket, client: liveSocket, stream: liveSocket };
    const mockRes = Object.assign(new EventEmitter(), { statusCode: 200, getHeaders: () => ({}), locals: {} });
    let seen: unknown[] = [];
    const route = shadowExpress(
      () => undefined,
      (req: Request) => {
        const r = req as unknown as Record<string, { write?: (s: string) => unknown; remoteAddress?: string } | null>;
        seen = [r.socket === liveSocket, r.connection === liveSocket, r.client === liveSocket, r.stream, r.socket?.remoteAddress];
        r.socket?.write?.("x");
        r.client?.write?.("x");
      },
      { name: "express-mock-request", publish: collector(), timeoutMs: 50 },
    );
    await route(mockReq as never, mockRes as never, (() => undefined) as never);
    mockRes.emit("close");
    await route.experiment.settled();
    assert.deepEqual(seen, [false, false, false, null, "127.0.0.9"]);
  });
});

describe("InertSocket, the socket of the shadow exchange", () => {
  it("keeps the live socket's facts as data, TLS ones included, and holds no reference to it", () => {
    const live = {
      remoteAddress: "10.0.0.7",
      remotePort: 51234,
      remoteFamily: "IPv4",
      localAddress: "10.0.0.1",
      localPort: 443,
      encrypted: true,
      authorized: true,
      alpnProtocol: "http/1.1",
      servername: "shop.example",
      getPeerCertificate: () => ({ subject: { CN: "billing-service" } }),
      write: () => {
        throw new Error("the live socket was written to");
      },
    };
    const socket = new InertSocket(live as never);
    assert.deepEqual(
      [socket.remoteAddress, socket.remotePort, socket.remoteFamily, socket.localAddress, socket.localPort, socket.encrypted],
      ["10.0.0.7", 51234, "IPv4", "10.0.0.1", 443, true],
    );
    assert.equal(socket.authorized, true);
    assert.equal(socket.servername, "shop.example");
    assert.deepEqual(socket.getPeerCertificate(), { subject: { CN: "billing-service" } });
    assert.ok(!Object.values(socket).includes(live), "no own property refers to the live socket");
  });

  it("reads facts from a live socket whose getters throw without throwing itself", () => {
    const hostile = new Proxy(
      {},
      {
        get() {
          throw new Error("trap");
        },
      },
    );
    const socket = new InertSocket(hostile as never);
    assert.equal(socket.remoteAddress, undefined);
    assert.equal(socket.encrypted, false);
  });

  it("accepts and drops writes, runs their callbacks, and marks only itself on end and destroy", async () => {
    const socket = new InertSocket(undefined);
    let called = 0;
    assert.equal(socket.write("HTTP/1.1 418 I'm a teapot\r\n\r\n", () => called++), true);
    assert.equal(socket.write(Buffer.from("x"), "utf8", () => called++), true);
    socket.setTimeout();
    socket.setNoDelay();
    socket.setKeepAlive();
    socket.pause();
    socket.resume();
    socket.ref();
    socket.unref();
    const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
    socket.end(() => called++);
    assert.equal(socket.writable, false);
    socket.destroy();
    assert.equal(socket.destroyed, true);
    await closed;
    assert.equal(called, 3);
  });
});
