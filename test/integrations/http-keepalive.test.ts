/**
 * Many requests on one keep-alive connection, shadowing on, against hostile new handlers: the bytes a
 * client receives are the bytes the same old handler sends from a server without penumbra. Both
 * servers run on 127.0.0.1; requests are generated (methods, duplicate and large headers, bodies).
 */
import { strict as assert } from "node:assert";
import type { Server } from "node:http";
import * as net from "node:net";
import type { AddressInfo } from "node:net";
import express, { type NextFunction, type Request as ExpressRequest, type Response as ExpressResponse } from "express";
import fc from "fast-check";
import { configure } from "../../src/index";
import { shadowExpress } from "../../src/integrations/express";
import { shadowHandler } from "../../src/integrations/http";
import { collector, resetConfiguration } from "../support/capture";
import { serveFetch } from "./http-server";

interface WireRequest {
  method: string;
  path: string;
  headers: Array<[string, string]>;
  body: string;
}

/** Sends every request on one connection, the last with `Connection: close`, and returns every byte received. */
function exchange(port: number, requests: WireRequest[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("error", reject);
    socket.on("close", () => resolve(Buffer.concat(chunks)));
    const text = requests
      .map((r, i) => {
        const lines = [`${r.method} ${r.path} HTTP/1.1`, "Host: 127.0.0.1", `Connection: ${i === requests.length - 1 ? "close" : "keep-alive"}`];
        for (const [name, value] of r.headers) lines.push(`${name}: ${value}`);
        if (r.body.length > 0 || r.method === "POST") lines.push(`Content-Length: ${Buffer.byteLength(r.body)}`);
        return `${lines.join("\r\n")}\r\n\r\n${r.body}`;
      })
      .join("");
    socket.write(text);
  });
}

/** The bytes with every `Date:` header value blanked: the one thing two servers legitimately differ in. */
function comparable(raw: Buffer): string {
  return raw.toString("latin1").replace(/^date: .*$/gim, "date: <date>");
}

const token = fc.stringMatching(/^[a-z][a-z0-9-]{0,15}$/).filter((n) => !["host", "connection", "content-length", "transfer-encoding", "expect", "upgrade", "te", "trailer"].includes(n));
const headerValue = fc.oneof(fc.stringMatching(/^[ -~]{0,40}$/).map((v) => v.trim()), fc.nat(4000).map((n) => "v".repeat(n)));
const wireRequest: fc.Arbitrary<WireRequest> = fc.record({
  method: fc.constantFrom("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "PURGE", "HEAD"),
  path: fc.oneof(fc.constant("/"), fc.stringMatching(/^\/[a-z0-9._~-]{0,30}(\?[a-z0-9=&]{0,20})?$/)),
  headers: fc.array(
    fc.oneof(
      fc.tuple(token, headerValue),
      // The same header more than once, as proxies and cookies do.
      headerValue.map((v): [string, string] => ["x-dup", v]),
      fc.constantFrom<[string, string]>(["x-mode", "throw"], ["x-mode", "hang"], ["x-mode", "garbage"], ["x-mode", "endless"], ["x-mode", "socket"]),
      fc.constantFrom<[string, string]>(["x-old", "chunks"], ["x-old", "redirect"], ["x-old", "empty"], ["x-old", "next"], ["x-old", "throw"], ["x-old", "file"]),
    ),
    { maxLength: 8 },
  ),
  body: fc.oneof(fc.constant(""), fc.string({ maxLength: 200 }), fc.nat(20_000).map((n) => "b".repeat(n))),
});

/**
 * Sends generated request sequences, each on one keep-alive connection, to the bare server and the
 * shadowed one at once, and asserts the client reads the same bytes from both; closes both servers.
 */
async function assertSameBytes(bare: { port: number; close(): Promise<void> }, withPenumbra: { port: number; close(): Promise<void> }, numRuns: number): Promise<void> {
  try {
    await fc.assert(
      fc.asyncProperty(fc.array(wireRequest, { minLength: 1, maxLength: 6 }), async (requests) => {
        const [expected, actual] = await Promise.all([exchange(bare.port, requests), exchange(withPenumbra.port, requests)]);
        assert.equal(comparable(actual), comparable(expected));
      }),
      { numRuns },
    );
  } finally {
    await Promise.all([bare.close(), withPenumbra.close()]);
  }
}

/** The new handler really ran beside the old one: results were published, some of them failures. */
function assertShadowed(results: ReturnType<typeof collector>["results"]): void {
  assert.ok(results.length >= 40, `only ${results.length} results published`);
  assert.ok(results.some((r) => r.candidates[0]?.threw === true), "no candidate failure among the results");
  assert.ok(results.some((r) => r.mismatched), "no mismatch among the results");
}

describe("penumbra/http: a keep-alive client gets the bare handler's bytes", () => {
  afterEach(resetConfiguration);

  it("receives byte-identical responses from the shadowed and the bare old handler for generated request sequences", async function () {
    this.timeout(20_000);
    configure({ onError: () => undefined });
    const old = async (req: Request): Promise<Response> => {
      const body = req.method === "GET" || req.method === "HEAD" ? "" : await req.text();
      const dup = req.headers.get("x-dup");
      return Response.json({ method: req.method, url: new URL(req.url).pathname, dup, length: body.length }, { headers: { "x-old": "1" } });
    };
    const hostileNew = async (req: Request): Promise<Response> => {
      const mode = req.headers.get("x-mode");
      if (mode === "throw") throw new Error("new handler broke");
      if (mode === "hang") return new Promise<Response>(() => undefined);
      if (mode === "garbage") return { status: 200 } as unknown as Response;
      if (mode === "endless") return new Response(new ReadableStream<Uint8Array>({ pull: (c) => c.enqueue(new Uint8Array(4096)) }));
      await req.text();
      return Response.json({ other: true }, { status: 500, headers: { "set-cookie": "a=b" } });
    };
    const sink = collector();
    const bare = await serveFetch(old);
    const shadowed = shadowHandler(old, hostileNew, { name: "http-keepalive", publish: sink, timeoutMs: 100 });
    const withPenumbra = await serveFetch(shadowed);
    await assertSameBytes(bare, withPenumbra, 40);
    await shadowed.experiment.settled();
    assertShadowed(sink.results);
  });
});

describe("penumbra/express: a keep-alive client gets the bare handler's bytes", () => {
  afterEach(resetConfiguration);

  async function listen(route: (req: ExpressRequest, res: ExpressResponse, next: NextFunction) => unknown): Promise<{ port: number; close(): Promise<void> }> {
    const app = express();
    app.set("env", "test");
    app.use(express.text({ type: "*/*" }));
    app.all("/{*rest}", route);
    // The error itself, not its stack (which names penumbra's frames, the one legitimate difference).
    app.use((error: Error, _req: ExpressRequest, res: ExpressResponse, _next: NextFunction) => {
      res.status(500).send(`handled: ${error.message}`);
    });
    const server: Server = await new Promise((resolve) => {
      const s = app.listen(0, "127.0.0.1", () => resolve(s));
    });
    return {
      port: (server.address() as AddressInfo).port,
      close: () =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    };
  }

  it("receives byte-identical responses from the shadowed and the bare old handler for generated request sequences", async function () {
    this.timeout(20_000);
    configure({ onError: () => undefined });
    const old = async (req: ExpressRequest, res: ExpressResponse, next: NextFunction): Promise<void> => {
      res.set("x-old", "1");
      const how = req.get("x-old");
      if (how === "chunks") {
        res.type("text");
        for (let i = 0; i < 3; i++) {
          res.write(`part ${i};`);
          await new Promise((resolve) => setImmediate(resolve));
        }
        res.end();
      } else if (how === "redirect") res.redirect(302, "/elsewhere");
      else if (how === "empty") res.sendStatus(204);
      else if (how === "next") next();
      else if (how === "throw") throw new Error("old route broke");
      else if (how === "file") res.sendFile(__filename);
      else res.json({ method: req.method, url: req.path, dup: req.get("x-dup") ?? null, length: typeof req.body === "string" ? req.body.length : 0 });
    };
    const hostileNew = async (req: ExpressRequest, res: ExpressResponse): Promise<void> => {
      const mode = req.get("x-mode");
      if (mode === "throw") throw new Error("new handler broke");
      if (mode === "hang") return new Promise<void>(() => undefined);
      if (mode === "socket") {
        req.socket.write("HTTP/1.1 418 I'm a teapot\r\n\r\n");
        res.socket?.end();
        req.socket.destroy();
        return;
      }
      if (mode === "endless") {
        for (let i = 0; i < 1000; i++) res.write("x".repeat(1024));
        return;
      }
      res.status(500).set("set-cookie", "a=b").json({ other: true });
    };
    const sink = collector();
    const bare = await listen(old);
    const route = shadowExpress(old, hostileNew, { name: "express-keepalive", publish: sink, timeoutMs: 100 });
    const withPenumbra = await listen(route);
    await assertSameBytes(bare, withPenumbra, 40);
    await route.experiment.settled();
    assertShadowed(sink.results);
  });
  it("receives the bare new handler's bytes when every call is promoted, whatever the old handler does in the shadow", async function () {
    this.timeout(20_000);
    configure({ onError: () => undefined });
    const served = async (req: ExpressRequest, res: ExpressResponse): Promise<void> => {
      res.type("text");
      res.write(`${req.method} ${req.path};`);
      await new Promise((resolve) => setImmediate(resolve));
      res.end(`dup=${req.get("x-dup") ?? ""}`);
    };
    const hostileOld = async (req: ExpressRequest, res: ExpressResponse): Promise<void> => {
      const mode = req.get("x-mode");
      if (mode === "throw") throw new Error("old handler broke in the shadow");
      if (mode === "hang") return new Promise<void>(() => undefined);
      if (mode === "socket" || mode === "garbage") {
        req.socket.write("HTTP/1.1 418 I'm a teapot\r\n\r\n");
        res.socket?.write("EXTRA");
        req.socket.destroy();
        return;
      }
      if (mode === "endless") {
        for (let i = 0; i < 1000; i++) res.write("x".repeat(1024));
        return;
      }
      res.status(500).json({ old: true });
    };
    const sink = collector();
    const bare = await listen(served);
    const route = shadowExpress(hostileOld, served, { name: "express-keepalive-promoted", publish: sink, timeoutMs: 100, promote: 1 });
    const withPenumbra = await listen(route);
    await assertSameBytes(bare, withPenumbra, 30);
    await route.experiment.settled();
    assert.ok(sink.results.length >= 30 && sink.results.every((r) => r.servedBy === "candidate"));
    assert.ok(sink.results.some((r) => r.control.threw), "no old handler failed in the shadow");
  });
});
