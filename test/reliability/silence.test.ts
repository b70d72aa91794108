/**
 * Shadow silence under load: hundreds of concurrent calls whose control and candidate talk to the
 * same loopback servers (http through one keep-alive agent they share, fetch, raw TCP), with the
 * tripwire on. Judged by what really arrives: not one shadow request or byte, and every control
 * request exactly once.
 */
import { strict as assert } from "node:assert";
import * as http from "node:http";
import * as net from "node:net";
import { installTripwire, shadow, flush, type Leak, type Result } from "../../src/index";
import { get, httpServer, type CountingServer, fetchText } from "../support/servers";
import { resetConfiguration } from "../support/capture";

const CALLS = 300;

/** A raw TCP server on loopback that records each connection's whole payload when it ends. */
async function tcpServer(): Promise<{ port: number; payloads: string[]; connections: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const state = { port: 0, payloads: [] as string[], connections: 0, close: async (): Promise<void> => undefined };
  const server = net.createServer((socket) => {
    state.connections++;
    sockets.add(socket);
    let payload = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => (payload += chunk));
    socket.on("end", () => {
      state.payloads.push(payload);
      socket.end();
    });
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  state.port = (server.address() as net.AddressInfo).port;
  state.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return state;
}


/** Opens a raw TCP connection, writes `payload`, and settles once the server closed it or it failed. */
function sendTcp(port: number, payload: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.on("error", (e: NodeJS.ErrnoException) => resolve(`error ${e.code ?? e.message}`));
    socket.on("connect", () => socket.end(payload));
    socket.on("close", () => resolve("sent"));
    socket.resume();
  });
}

/** A random short wait on one of the event loop's queues, so controls and candidates interleave. */
function hop(i: number): Promise<void> {
  switch (i % 3) {
    case 0:
      return new Promise((resolve) => setTimeout(resolve, i % 5));
    case 1:
      return new Promise((resolve) => setImmediate(resolve));
    default:
      return Promise.resolve();
  }
}

describe("shadow silence under load: the tripwire with concurrent control and candidate traffic", function () {
  this.timeout(60_000);
  let server: CountingServer;
  let tcp: Awaited<ReturnType<typeof tcpServer>>;
  let uninstall: (() => void) | undefined;
  let agent: http.Agent;

  before(async () => {
    resetConfiguration();
    server = await httpServer();
    tcp = await tcpServer();
  });

  after(async () => {
    await server.close();
    await tcp.close();
  });

  afterEach(() => {
    uninstall?.();
    uninstall = undefined;
    agent?.destroy();
    server.requests.length = 0;
    server.connections = 0;
    tcp.payloads.length = 0;
    tcp.connections = 0;
  });

  // Few sockets for many requests: requests queue in the agent, and pooled sockets pass from
  // control to candidate requests and back (with one socket, every request waits for it).
  for (const maxSockets of [6, 1]) {
    it(`lets no shadow request or byte out and every control request through exactly once, over ${CALLS} concurrent calls sharing a keep-alive agent (maxSockets ${maxSockets}), fetch and raw TCP`, async () => {
      uninstall = installTripwire();
      agent = new http.Agent({ keepAlive: true, maxSockets });
      const base = `http://127.0.0.1:${server.port}`;
      const results: Result<unknown>[] = [];
      const candidateSaw = new Map<string, string[]>();

      const behaviour = (role: "control" | "candidate") => async (i: number): Promise<string[]> => {
        const saw: string[] = [];
        await hop(i);
        saw.push(await get(`${base}/${role}/${i}`, agent));
        await hop(i + 1);
        saw.push(await fetchText(`${base}/${role}-fetch/${i}`));
        await hop(i + 2);
        saw.push(await sendTcp(tcp.port, `${role} ${i}`));
        if (role === "candidate") candidateSaw.set(`${i}`, saw);
        return saw;
      };
      const options = {
        timeoutMs: 20_000,
        maxConcurrent: CALLS,
        guardrails: { disableOnLeak: false },
        context: (i: number) => ({ i }),
        publish: (r: Result<unknown>) => void results.push(r),
        onError: (e: Error) => assert.fail(`unexpected experiment error: ${e.message}`),
      };
      // Background mode starts candidates after their control; sequential mode (isolated args) may run one first.
      const background = shadow<[number], Promise<string[]>>(behaviour("control"), behaviour("candidate"), { ...options, name: "silence-background" });
      const sequential = shadow<[number], Promise<string[]>>(behaviour("control"), behaviour("candidate"), {
        ...options,
        name: "silence-sequential",
        mode: "sequential",
      });

      const answers = await Promise.all(Array.from({ length: CALLS }, (_, i) => (i % 2 === 0 ? background(i) : sequential(i))));
      await flush();

      // Every control got through, and its caller got its answer.
      answers.forEach((saw, i) => assert.deepEqual(saw, ["ok", "ok", "sent"], `control ${i} reached all three servers`));
      await new Promise((resolve) => setTimeout(resolve, 50)); // let the last TCP payloads land

      // Zero shadow arrivals.
      const shadowHttp = server.requests.filter((r) => r.includes("/candidate"));
      assert.deepEqual(shadowHttp, [], "no candidate request reached the HTTP server");
      const shadowTcp = tcp.payloads.filter((p) => p.startsWith("candidate"));
      assert.deepEqual(shadowTcp, [], "no candidate byte reached the TCP server");

      // Every control arrival present, exactly once per path.
      const expectedHttp = Array.from({ length: CALLS }, (_, i) => [`GET /control/${i}`, `GET /control-fetch/${i}`]).flat().sort();
      assert.deepEqual([...server.requests].sort(), expectedHttp, "each control request arrived exactly once");
      const expectedTcp = Array.from({ length: CALLS }, (_, i) => `control ${i}`).sort();
      assert.deepEqual([...tcp.payloads].sort(), expectedTcp, "each control payload arrived exactly once");
      assert.equal(tcp.connections, CALLS, "one TCP connection per control, none from candidates");

      // Every candidate ran, was blocked three times, and its result says so.
      assert.equal(candidateSaw.size, CALLS, "every candidate ran to its end");
      for (const [i, saw] of candidateSaw) assert.deepEqual(saw, ["error ESHADOW", "error ESHADOW", "error ESHADOW"], `candidate ${i} was blocked at each step`);
      assert.equal(results.length, CALLS, "every call was published");
      for (const result of results) {
        const i = result.context.i as number;
        const leaks: Leak[] = (result.candidates[0]?.leaks ?? []).map((l) => ({ ...l }));
        assert.equal(result.candidates[0]?.timedOut, false, `the candidate finished ${i}`);
        assert.equal(leaks.length, 3, `three leaks on ${result.experiment} call ${i}: ${JSON.stringify(leaks)}`);
        assert.ok(leaks.every((l) => l.blocked && l.kind === "network"), "all blocked network leaks");
        assert.equal(leaks[0]?.target, `GET ${base}/candidate/${i}`, "the http leak names the candidate's own request");
        assert.equal(leaks[1]?.target, `GET ${base}/candidate-fetch/${i}`, "the fetch leak names the candidate's own request");
        assert.equal(leaks[2]?.target, `127.0.0.1:${tcp.port}`);
        assert.deepEqual(result.control.leaks, [], "the control is never charged with a leak");
      }
      assert.equal(background.experiment.enabled, true, "disableOnLeak: false kept the experiment on");
      assert.equal(sequential.experiment.enabled, true);
    });
  }
});
