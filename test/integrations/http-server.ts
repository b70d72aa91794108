/**
 * Test support for penumbra/http: a node:http server on 127.0.0.1 that serves a fetch-style handler the
 * way a production adapter does (@hono/node-server's writeFromReadableStream): it writes the body only
 * as fast as the socket drains, and cancels the body when the client goes away.
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as net from "node:net";
import { Readable } from "node:stream";

/** A running server. */
export interface RunningFetchServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Serves `handler` on a free loopback port. */
export async function serveFetch(handler: (req: Request) => Promise<Response> | Response): Promise<RunningFetchServer> {
  let base = "";
  const server = http.createServer((nodeReq, nodeRes) => {
    const headers = new Headers();
    for (let i = 0; i < nodeReq.rawHeaders.length; i += 2) headers.append(nodeReq.rawHeaders[i] ?? "", nodeReq.rawHeaders[i + 1] ?? "");
    const init: RequestInit & { duplex?: "half" } = { method: nodeReq.method, headers };
    if (nodeReq.method !== "GET" && nodeReq.method !== "HEAD") {
      init.body = Readable.toWeb(nodeReq) as ReadableStream<Uint8Array>;
      init.duplex = "half";
    }
    void (async () => {
      let res: Response;
      try {
        res = await handler(new Request(`${base}${nodeReq.url ?? "/"}`, init));
      } catch (error) {
        nodeRes.writeHead(599).end(String(error));
        return;
      }
      const out: string[] = [];
      res.headers.forEach((value, name) => out.push(name, value));
      nodeRes.writeHead(res.status, out);
      if (res.body === null) {
        nodeRes.end();
        return;
      }
      const reader = res.body.getReader();
      const leave = (): void => {
        reader.cancel(new Error("the client went away")).catch(() => undefined);
      };
      nodeRes.once("close", () => {
        if (!nodeRes.writableFinished) leave();
      });
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          if (nodeRes.destroyed) return;
          if (!nodeRes.write(value)) {
            await new Promise<void>((resolve) => {
              const go = (): void => {
                nodeRes.off("drain", go);
                nodeRes.off("close", go);
                resolve();
              };
              nodeRes.on("drain", go);
              nodeRes.on("close", go);
            });
          }
        }
        nodeRes.end();
      } catch {
        nodeRes.destroy();
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  base = `http://127.0.0.1:${port}`;
  return {
    url: base,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * A client that sends one GET and then reads only when told: `pause()` stops reading (the kernel's
 * buffers fill, then the server's socket stops draining), `readAll()` reads the rest.
 */
export function slowClient(port: number, path: string): {
  firstBytes: Promise<void>;
  readAll(): Promise<Buffer>;
  destroy(): void;
} {
  const socket = net.connect(port, "127.0.0.1", () => {
    socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
  });
  const chunks: Buffer[] = [];
  let resolveFirst!: () => void;
  const firstBytes = new Promise<void>((resolve) => (resolveFirst = resolve));
  socket.on("data", (chunk: Buffer) => {
    chunks.push(chunk);
    socket.pause();
    resolveFirst();
  });
  const ended = new Promise<Buffer>((resolve, reject) => {
    socket.on("end", () => resolve(Buffer.concat(chunks)));
    socket.on("error", reject);
  });
  return {
    firstBytes,
    readAll: () => {
      socket.removeAllListeners("data");
      socket.on("data", (chunk: Buffer) => chunks.push(chunk));
      socket.resume();
      return ended;
    },
    destroy: () => socket.destroy(),
  };
}

/** Waits until `read()` has not changed for `quietPolls` polls in a row (or `maxPolls` passed). */
export async function whenSteady(read: () => number, quietPolls = 6, maxPolls = 150): Promise<number> {
  let last = read();
  let quiet = 0;
  for (let i = 0; i < maxPolls && quiet < quietPolls; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    const now = read();
    quiet = now === last ? quiet + 1 : 0;
    last = now;
  }
  return last;
}

/** The body of a raw HTTP/1.1 response (after the blank line), undoing chunked transfer encoding. */
export function bodyOf(raw: Buffer): Buffer {
  const split = raw.indexOf("\r\n\r\n");
  const head = raw.subarray(0, split).toString("latin1");
  let rest = raw.subarray(split + 4);
  if (!/transfer-encoding: chunked/i.test(head)) return rest;
  const parts: Buffer[] = [];
  for (;;) {
    const lineEnd = rest.indexOf("\r\n");
    const size = Number.parseInt(rest.subarray(0, lineEnd).toString("latin1"), 16);
    if (!(size > 0)) break;
    parts.push(rest.subarray(lineEnd + 2, lineEnd + 2 + size));
    rest = rest.subarray(lineEnd + 2 + size + 2);
  }
  return Buffer.concat(parts);
}
