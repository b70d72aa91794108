/** Servers on 127.0.0.1 that count what really arrives, for the escape tests. */
import * as http from "node:http";
import type * as net from "node:net";

/** An HTTP server on loopback that counts the requests and TCP connections it receives. */
export interface CountingServer {
  port: number;
  requests: string[];
  connections: number;
  close(): Promise<void>;
}

export async function httpServer(): Promise<CountingServer> {
  const counted: CountingServer = { port: 0, requests: [], connections: 0, close: async () => undefined };
  const server = http.createServer((req, res) => {
    counted.requests.push(`${req.method ?? "?"} ${req.url ?? "?"}`);
    req.resume();
    res.end("ok");
  });
  server.on("connection", () => counted.connections++);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  counted.port = (server.address() as net.AddressInfo).port;
  counted.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return counted;
}

/** `http.get` as a promise that settles with the body or the error's code, never rejects. */
export function get(url: string, agent?: http.Agent): Promise<string> {
  return new Promise((resolve) => {
    const req = http.get(url, agent === undefined ? {} : { agent }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve(body));
    });
    req.on("error", (e: NodeJS.ErrnoException) => resolve(`error ${e.code ?? e.message}`));
  });
}


/** `fetch` as a promise that settles with the body or the cause's code, never rejects. */
export async function fetchText(url: string): Promise<string> {
  try {
    return await (await fetch(url)).text();
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause;
    return `error ${cause?.code ?? String(e)}`;
  }
}
