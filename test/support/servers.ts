/** Servers on 127.0.0.1 that count what really arrives, for the escape tests. */
import * as childProcess from "node:child_process";
import * as dgram from "node:dgram";
import * as fs from "node:fs";
import * as http from "node:http";
import * as http2 from "node:http2";
import type * as net from "node:net";
import * as netModule from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import pg from "pg";
import { SMTPServer } from "smtp-server";

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

/** A server on loopback that keeps what it received, for the escape suites. */
export interface Received<T> {
  port: number;
  received: T[];
  close(): Promise<void>;
}

/** A raw TCP server on loopback that keeps every chunk it receives and answers nothing. */
export async function tcpServer(): Promise<Received<string> & { connections: number }> {
  const sockets = new Set<net.Socket>();
  const out: Received<string> & { connections: number } = { port: 0, received: [], connections: 0, close: async () => undefined };
  const server = netModule.createServer((socket) => {
    out.connections++;
    sockets.add(socket);
    socket.on("data", (chunk) => out.received.push(chunk.toString()));
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  out.port = (server.address() as net.AddressInfo).port;
  out.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return out;
}

/** A real SMTP server on loopback (smtp-server) that keeps every message it receives. */
export async function smtpServer(): Promise<Received<string>> {
  const out: Received<string> = { port: 0, received: [], close: async () => undefined };
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS"],
    logger: false,
    onData(stream, _session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("end", () => {
        out.received.push(Buffer.concat(chunks).toString("utf8"));
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  out.port = (server.server.address() as net.AddressInfo).port;
  out.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return out;
}

/** An HTTP/2 (h2c) server on loopback that keeps `METHOD path` of every stream it receives, and each request body. */
export async function http2Server(): Promise<Received<string> & { bodies: string[] }> {
  const out: Received<string> & { bodies: string[] } = { port: 0, received: [], bodies: [], close: async () => undefined };
  const sessions = new Set<http2.ServerHttp2Session>();
  const server = http2.createServer();
  server.on("session", (session) => {
    sessions.add(session);
    session.on("close", () => sessions.delete(session));
  });
  server.on("stream", (stream, headers) => {
    out.received.push(`${String(headers[":method"])} ${String(headers[":path"])}`);
    stream.on("error", () => undefined);
    let body = "";
    stream.setEncoding("utf8");
    stream.on("data", (chunk: string) => (body += chunk));
    stream.on("end", () => {
      out.bodies.push(body);
      stream.respond({ ":status": 200 });
      stream.end("ok");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  out.port = (server.address() as net.AddressInfo).port;
  out.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sessions) s.destroy();
      server.close(() => resolve());
    });
  return out;
}

/** A UDP listener on loopback that keeps every datagram it receives. */
export async function udpServer(): Promise<Received<string>> {
  const out: Received<string> = { port: 0, received: [], close: async () => undefined };
  const socket = dgram.createSocket("udp4");
  socket.on("message", (message) => out.received.push(message.toString()));
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  out.port = socket.address().port;
  out.close = () => new Promise<void>((resolve) => socket.close(() => resolve()));
  return out;
}

/**
 * A tiny DNS server on loopback (UDP): it keeps the name of every query and answers each A query
 * with 127.0.0.42, anything else with an empty answer.
 */
export async function dnsServer(): Promise<Received<string>> {
  const out: Received<string> = { port: 0, received: [], close: async () => undefined };
  const socket = dgram.createSocket("udp4");
  socket.on("message", (query, peer) => {
    if (query.length < 12) return;
    // Question: labels from byte 12, then QTYPE and QCLASS.
    const labels: string[] = [];
    let at = 12;
    while (at < query.length && query[at] !== 0) {
      const length = query[at] as number;
      labels.push(query.subarray(at + 1, at + 1 + length).toString("latin1"));
      at += length + 1;
    }
    const questionEnd = at + 5;
    const qtype = query.readUInt16BE(at + 1);
    out.received.push(labels.join("."));
    const header = Buffer.from(query.subarray(0, 12));
    header.writeUInt16BE(0x8180, 2); // response, recursion desired and available, no error
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(qtype === 1 ? 1 : 0, 6);
    header.writeUInt32BE(0, 8);
    const question = query.subarray(12, questionEnd);
    const answer = qtype === 1 ? Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 42]) : Buffer.alloc(0);
    socket.send(Buffer.concat([header, question, answer]), peer.port, peer.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  out.port = socket.address().port;
  out.close = () => new Promise<void>((resolve) => socket.close(() => resolve()));
  return out;
}

/** A PostgreSQL server started for a test, or the reason it could not be. */
export type Postgres = { port: number; host: string; stop(): Promise<void> } | { skip: string };

/** Debian's server binaries, newest major first (`/usr/lib/postgresql/<major>/bin`). */
function postgresBinDirs(): string[] {
  try {
    return fs
      .readdirSync("/usr/lib/postgresql")
      .filter((major) => /^\d+$/.test(major))
      .sort((a, b) => Number(b) - Number(a))
      .map((major) => path.join("/usr/lib/postgresql", major, "bin"));
  } catch {
    return [];
  }
}

/**
 * Starts Debian's PostgreSQL as a plain process: `initdb` into a temp directory and `postgres` on a
 * free loopback port with its unix socket in that directory, both as the `postgres` user when run
 * as root (the server refuses to run as root). Returns `{ skip }` with the reason when it cannot.
 */
export async function startPostgres(): Promise<Postgres> {
  const bin = postgresBinDirs().find((dir) => fs.existsSync(path.join(dir, "postgres")));
  if (bin === undefined) return { skip: "no PostgreSQL server binaries in /usr/lib/postgresql/<major>/bin (apt-get install postgresql)" };
  const asRoot = process.getuid?.() === 0;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "penumbra-pg-"));
  const as = (command: string, args: string[]): [string, string[]] => (asRoot ? ["runuser", ["-u", "postgres", "--", command, ...args]] : [command, args]);
  try {
    if (asRoot) fs.chownSync(dir, postgresUid(), postgresGid());
    const [initCmd, initArgs] = as(path.join(bin, "initdb"), ["-D", path.join(dir, "data"), "-A", "trust", "-U", "postgres", "-N"]);
    const init = childProcess.spawnSync(initCmd, initArgs, { encoding: "utf8" });
    if (init.status !== 0) {
      fs.rmSync(dir, { recursive: true, force: true });
      return { skip: `initdb failed: ${(init.stderr || init.error?.message || "").trim().split("\n").pop() ?? ""}` };
    }
  } catch (error) {
    fs.rmSync(dir, { recursive: true, force: true });
    return { skip: `could not prepare a PostgreSQL data directory: ${(error as Error).message}` };
  }
  const port = await freePort();
  const [cmd, args] = as(path.join(bin, "postgres"), ["-D", path.join(dir, "data"), "-p", String(port), "-k", dir, "-c", "listen_addresses=127.0.0.1", "-F"]);
  const server = childProcess.spawn(cmd, args, { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  server.stderr?.on("data", (chunk: Buffer) => (log += chunk.toString()));
  const exited = new Promise<void>((resolve) => server.on("exit", () => resolve()));
  const stop = async (): Promise<void> => {
    // SIGINT is PostgreSQL's fast shutdown: the children go with it.
    server.kill("SIGINT");
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  for (let i = 0; i < 200; i++) {
    if (server.exitCode !== null) break;
    if (await canConnect(port)) return { port, host: "127.0.0.1", stop };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await stop();
  return { skip: `postgres did not start: ${log.trim().split("\n").slice(-2).join(" ")}` };
}

/** Connects once the server accepts sessions (it listens a moment before it has finished starting). */
export async function connectWhenReady(config: pg.ClientConfig): Promise<pg.Client> {
  let last: unknown;
  for (let i = 0; i < 100; i++) {
    const client = new pg.Client(config);
    try {
      await client.connect();
      return client;
    } catch (error) {
      last = error;
      await client.end().catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw last;
}

/**
 * A PostgreSQL server for the enclosing mocha suite: started in its `before` (the suite skips, printing
 * why, where there is none), `schema` run over an admin connection, both closed in its `after`. Read
 * `config` and `admin` inside hooks and tests, once `before` has run.
 */
export function postgresForSuite(schema: string): { config: pg.ClientConfig; admin: pg.Client } {
  const suite = {} as { config: pg.ClientConfig; admin: pg.Client };
  let stop: (() => Promise<void>) | undefined;
  before(async function () {
    this.timeout(60_000);
    const server = await startPostgres();
    if ("skip" in server) {
      console.log(`      skipped: ${server.skip}`);
      this.skip();
      return;
    }
    stop = server.stop;
    suite.config = { host: server.host, port: server.port, user: "postgres", database: "postgres" };
    suite.admin = await connectWhenReady(suite.config);
    await suite.admin.query(schema);
  });
  after(async () => {
    await (suite.admin as pg.Client | undefined)?.end();
    await stop?.();
  });
  return suite;
}

/** A Redis server started for a test, or the reason it could not be. */
export type Redis = { port: number; host: string; stop(): Promise<void> } | { skip: string };

/**
 * Starts Debian's `redis-server` as a plain process on a free loopback port, in its own temp
 * directory, with persistence off (`--save "" --appendonly no`). Returns `{ skip }` with the reason
 * when there is no server or it does not start.
 */
export async function startRedis(): Promise<Redis> {
  const binary = (process.env.PATH ?? "")
    .split(path.delimiter)
    .concat(["/usr/bin", "/usr/local/bin"])
    .map((dir) => path.join(dir, "redis-server"))
    .find((file) => fs.existsSync(file));
  if (binary === undefined) return { skip: "no redis-server (apt-get install redis-server)" };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "penumbra-redis-"));
  const port = await freePort();
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", ""];
  const server = childProcess.spawn(binary, args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  server.stdout?.on("data", (chunk: Buffer) => (log += chunk.toString()));
  server.stderr?.on("data", (chunk: Buffer) => (log += chunk.toString()));
  const exited = new Promise<void>((resolve) => server.on("exit", () => resolve()));
  server.on("error", (error) => (log += error.message));
  const stop = async (): Promise<void> => {
    if (server.exitCode === null && server.signalCode === null) server.kill("SIGTERM");
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000))]);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  for (let i = 0; i < 100; i++) {
    if (server.exitCode !== null) break;
    if (await canConnect(port)) return { port, host: "127.0.0.1", stop };
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await stop();
  return { skip: `redis-server did not start: ${log.trim().split("\n").slice(-2).join(" ")}` };
}

function postgresUid(): number {
  return Number(childProcess.execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
}

function postgresGid(): number {
  return Number(childProcess.execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = netModule.createServer();
    probe.on("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/** The server accepts connections once it is ready; a refused connect means "not yet". */
function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = netModule.connect(port, "127.0.0.1");
    socket.on("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.on("error", () => resolve(false));
  });
}
