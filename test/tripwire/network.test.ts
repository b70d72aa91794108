/**
 * The network tripwire, judged by what really arrives at servers on 127.0.0.1: a candidate's
 * request or connection must never reach them in block mode, must reach them (and be recorded) in
 * report mode, and the control and code outside experiments must never be touched.
 */
import { strict as assert } from "node:assert";
import * as http from "node:http";
import * as net from "node:net";
import { installTripwire, shadow, type Result } from "../../src/index";
import { get, httpServer, type CountingServer, fetchText } from "../support/servers";
import { leaksOf, runOnce } from "../support/one-run";

/** A raw TCP server on loopback that records every chunk it receives. */
async function tcpServer(): Promise<CountingServer> {
  const counted: CountingServer = { port: 0, requests: [], connections: 0, close: async () => undefined };
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    counted.connections++;
    sockets.add(socket);
    socket.on("data", (chunk) => counted.requests.push(chunk.toString()));
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  counted.port = (server.address() as net.AddressInfo).port;
  counted.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return counted;
}


/** Opens a raw TCP connection, writes `payload`, and settles once it is written or failed. */
function sendTcp(port: number, payload: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.on("error", (e: NodeJS.ErrnoException) => resolve(`error ${e.code ?? e.message}`));
    socket.on("connect", () => socket.end(payload, () => resolve("sent")));
  });
}


describe("the network tripwire", function () {
  this.timeout(10_000);
  let server: CountingServer;
  let uninstall: (() => void) | undefined;

  beforeEach(async () => {
    server = await httpServer();
  });

  afterEach(async () => {
    uninstall?.();
    uninstall = undefined;
    await server.close();
  });

  it("blocks a candidate's http.request before it reaches the server and records it as a blocked leak", async () => {
    uninstall = installTripwire();
    const base = `http://127.0.0.1:${server.port}`;
    let candidateSaw = "";
    const result = await runOnce(
      () => get(`${base}/control`),
      async () => (candidateSaw = await get(`${base}/candidate`)),
    );
    assert.deepEqual(server.requests, ["GET /control"]);
    assert.equal(candidateSaw, "error ESHADOW");
    assert.deepEqual(leaksOf(result), [{ kind: "network", target: `GET ${base}/candidate`, blocked: true }]);
    assert.deepEqual(result.control.leaks, []);
  });

  it("blocks a candidate's request on a keep-alive socket the control warmed, without a byte reaching the server", async () => {
    uninstall = installTripwire();
    const base = `http://127.0.0.1:${server.port}`;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    let controlDone!: () => void;
    const warmed = new Promise<void>((resolve) => (controlDone = resolve));
    const result = await runOnce(
      async () => {
        const body = await get(`${base}/control`, agent);
        controlDone();
        return body;
      },
      async () => {
        await warmed; // the shadow request has a warm pooled socket waiting for it
        return get(`${base}/candidate`, agent);
      },
    );
    agent.destroy();
    assert.deepEqual(server.requests, ["GET /control"]);
    assert.deepEqual(leaksOf(result), [{ kind: "network", target: `GET ${base}/candidate`, blocked: true }]);
  });

  it("reports a keep-alive request in report mode: recorded, and it arrives on the control's socket", async () => {
    uninstall = installTripwire({ network: "report" });
    const base = `http://127.0.0.1:${server.port}`;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    let controlDone!: () => void;
    const warmed = new Promise<void>((resolve) => (controlDone = resolve));
    const result = await runOnce(
      async () => {
        const body = await get(`${base}/control`, agent);
        controlDone();
        return body;
      },
      async () => {
        await warmed;
        return get(`${base}/candidate`, agent);
      },
    );
    agent.destroy();
    assert.deepEqual([...server.requests].sort(), ["GET /candidate", "GET /control"]);
    assert.equal(server.connections, 1, "the candidate rode the control's socket");
    assert.deepEqual(leaksOf(result), [{ kind: "network", target: `GET ${base}/candidate`, blocked: false }]);
  });

  it("blocks a candidate's fetch, records one leak for it, and lets the control's fetch through", async () => {
    uninstall = installTripwire();
    const base = `http://127.0.0.1:${server.port}`;
    let candidateSaw = "";
    const result = await runOnce(
      () => fetchText(`${base}/control`),
      async () => (candidateSaw = await fetchText(`${base}/candidate?q=1`)),
    );
    assert.deepEqual(server.requests, ["GET /control"]);
    assert.equal(candidateSaw, "error ESHADOW");
    assert.deepEqual(leaksOf(result), [{ kind: "network", target: `GET ${base}/candidate?q=1`, blocked: true }]);
  });

  it("reports a candidate's fetch in report mode: one leak recorded, and the request arrives", async () => {
    uninstall = installTripwire({ network: "report" });
    const base = `http://127.0.0.1:${server.port}`;
    const result = await runOnce(
      () => fetchText(`${base}/control`),
      () => fetchText(`${base}/candidate`),
    );
    assert.deepEqual([...server.requests].sort(), ["GET /candidate", "GET /control"]);
    assert.deepEqual(leaksOf(result), [{ kind: "network", target: `GET ${base}/candidate`, blocked: false }]);
  });

  it("keeps a raw connection's leak when a fetch to the same host and port follows in the same run: two attempts, two leaks", async () => {
    for (const network of ["block", "report"] as const) {
      uninstall = installTripwire({ network });
      const base = `http://127.0.0.1:${server.port}`;
      const result = await runOnce(
        () => fetchText(`${base}/control`),
        async () => {
          await new Promise<void>((resolve) => {
            const socket = net.connect(server.port, "127.0.0.1");
            socket.on("error", () => resolve());
            socket.on("connect", () => socket.destroy());
            socket.on("close", () => resolve());
          });
          await fetchText(`${base}/after-raw`);
        },
      );
      assert.deepEqual(
        leaksOf(result).map((l) => l.target),
        [`127.0.0.1:${server.port}`, `GET ${base}/after-raw`],
        network,
      );
      uninstall();
      uninstall = undefined;
    }
  });

  it("blocks a candidate's raw TCP connection: the server accepts nothing from it", async () => {
    const tcp = await tcpServer();
    try {
      uninstall = installTripwire();
      let candidateSaw = "";
      const result = await runOnce(
        () => sendTcp(tcp.port, "control"),
        async () => (candidateSaw = await sendTcp(tcp.port, "candidate")),
      );
      await new Promise((resolve) => setTimeout(resolve, 50)); // let the control's bytes land
      assert.deepEqual(tcp.requests, ["control"]);
      assert.equal(tcp.connections, 1);
      assert.equal(candidateSaw, "error ESHADOW");
      assert.deepEqual(leaksOf(result), [{ kind: "network", target: `127.0.0.1:${tcp.port}`, blocked: true }]);
    } finally {
      await tcp.close();
    }
  });

  it("lets a target the allow callback accepts through, unrecorded, and still blocks the others", async () => {
    const other = await httpServer();
    try {
      const seen: Array<{ kind: string; host?: string; port?: number }> = [];
      uninstall = installTripwire({
        allow: (t) => {
          seen.push(t);
          return t.port === server.port;
        },
      });
      const result = await runOnce(
        async () => "",
        async () => (await get(`http://127.0.0.1:${server.port}/allowed`)) + (await get(`http://127.0.0.1:${other.port}/denied`)),
      );
      assert.deepEqual(server.requests, ["GET /allowed"]);
      assert.deepEqual(other.requests, []);
      assert.deepEqual(leaksOf(result), [
        { kind: "network", target: `GET http://127.0.0.1:${other.port}/denied`, blocked: true },
      ]);
      assert.ok(seen.some((t) => t.kind === "network" && t.host === "127.0.0.1" && t.port === server.port));
    } finally {
      await other.close();
    }
  });

  it("blocks nothing after uninstall, and uninstalling twice is harmless", async () => {
    const off = installTripwire();
    off();
    off();
    const base = `http://127.0.0.1:${server.port}`;
    const result = await runOnce(
      () => get(`${base}/control`),
      async () => (await get(`${base}/candidate`)) + (await fetchText(`${base}/candidate-fetch`)),
    );
    assert.deepEqual([...server.requests].sort(), ["GET /candidate", "GET /candidate-fetch", "GET /control"]);
    assert.deepEqual(leaksOf(result), []);
  });

  it("records one leak per request when installed twice, and stays on until the last uninstall", async () => {
    const first = installTripwire();
    const second = installTripwire();
    uninstall = second;
    const base = `http://127.0.0.1:${server.port}`;
    const twice = await runOnce(async () => "", () => get(`${base}/one`));
    assert.deepEqual(leaksOf(twice), [{ kind: "network", target: `GET ${base}/one`, blocked: true }]);
    first();
    const once = await runOnce(async () => "", () => get(`${base}/two`));
    assert.deepEqual(leaksOf(once), [{ kind: "network", target: `GET ${base}/two`, blocked: true }]);
    second();
    const none = await runOnce(async () => "", () => get(`${base}/three`));
    assert.deepEqual(leaksOf(none), []);
    assert.deepEqual(server.requests, ["GET /three"]);
  });

  it("still blocks a request a candidate makes after its timeout, and keeps it off the observation", async () => {
    uninstall = installTripwire();
    const base = `http://127.0.0.1:${server.port}`;
    const results: Result<unknown>[] = [];
    let late!: (body: string) => void;
    const lateSaw = new Promise<string>((resolve) => (late = resolve));
    const wrapped = shadow<[], Promise<string>>(
      async () => "",
      async () => {
        await new Promise((resolve) => setTimeout(resolve, 150));
        const body = await get(`${base}/late`);
        late(body);
        return body;
      },
      { timeoutMs: 50, publish: (r: Result<unknown>) => void results.push(r) },
    );
    await wrapped();
    await wrapped.experiment.settled();
    assert.equal(await lateSaw, "error ESHADOW");
    assert.deepEqual(server.requests, []);
    assert.equal(results[0]?.candidates[0]?.timedOut, true);
    assert.deepEqual(leaksOf(results[0] as Result<unknown>), []);
  });

  it("changes nothing outside experiments: http, fetch and raw TCP all arrive", async () => {
    const tcp = await tcpServer();
    try {
      uninstall = installTripwire();
      const base = `http://127.0.0.1:${server.port}`;
      assert.equal(await get(`${base}/plain`), "ok");
      assert.equal(await fetchText(`${base}/fetched`), "ok");
      assert.equal(await sendTcp(tcp.port, "raw"), "sent");
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.deepEqual(server.requests, ["GET /plain", "GET /fetched"]);
      assert.deepEqual(tcp.requests, ["raw"]);
    } finally {
      await tcp.close();
    }
  });
});
