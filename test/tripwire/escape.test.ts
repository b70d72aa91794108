/**
 * The escape suite: every route out of a shadow run that does not open a connection of its own,
 * tried against real servers on 127.0.0.1. Judged by what arrives: nothing from a candidate, the
 * control's effects exactly once, and each blocked attempt recorded as a leak on the candidate.
 */
import { strict as assert } from "node:assert";
import * as childProcess from "node:child_process";
import * as dgram from "node:dgram";
import * as dns from "node:dns";
import * as http2 from "node:http2";
import * as net from "node:net";
import { Worker } from "node:worker_threads";
import fc from "fast-check";
import nodemailer from "nodemailer";
import { Experiment, installTripwire, type Result } from "../../src/index";
import { guardMailer } from "../../src/adapters/nodemailer";
import { leaksOf, runOnce } from "../support/one-run";
import { dnsServer, http2Server, smtpServer, tcpServer, udpServer } from "../support/servers";

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A write's outcome as text: "written" or the error's code. */
function writeOn(socket: { write(data: string, cb: (error?: Error | null) => void): boolean }, data: string): Promise<string> {
  return new Promise((resolve) => {
    socket.write(data, (error?: Error | null) => resolve(error ? `error ${(error as NodeJS.ErrnoException).code ?? error.message}` : "written"));
  });
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1", () => resolve(socket));
    socket.on("error", reject);
  });
}

describe("the tripwire against every route out of a shadow run", function () {
  this.timeout(20_000);
  let uninstall: (() => void) | undefined;
  afterEach(() => {
    uninstall?.();
    uninstall = undefined;
  });

  it("blocks a candidate's write on a TCP connection the control opened, and records it on the candidate", async () => {
    const server = await tcpServer();
    uninstall = installTripwire();
    const socket = await connect(server.port);
    socket.on("error", () => undefined);
    let candidateSaw = "";
    const result = await runOnce(
      () => writeOn(socket, "control;"),
      async () => (candidateSaw = await writeOn(socket, "candidate;")),
    );
    await sleep(50);
    assert.equal(server.received.join(""), "control;");
    assert.equal(candidateSaw, "error ESHADOW");
    assert.deepEqual(leaksOf(result), [{ kind: "network", target: `127.0.0.1:${server.port}`, blocked: true }]);
    assert.deepEqual(result.control.leaks, []);
    socket.destroy();
    await server.close();
  });

  it("lets the same write through in report mode, recorded once for several writes", async () => {
    const server = await tcpServer();
    uninstall = installTripwire({ network: "report" });
    const socket = await connect(server.port);
    const result = await runOnce(
      () => writeOn(socket, "control;"),
      async () => {
        await writeOn(socket, "candidate-1;");
        return writeOn(socket, "candidate-2;");
      },
    );
    await sleep(50);
    assert.equal(server.received.join(""), "control;candidate-1;candidate-2;");
    assert.deepEqual(leaksOf(result), [{ kind: "network", target: `127.0.0.1:${server.port}`, blocked: false }]);
    socket.destroy();
    await server.close();
  });

  it("stops a candidate's mail on a pooled SMTP connection the control opened; the pool then serves the control again", async () => {
    const smtp = await smtpServer();
    uninstall = installTripwire();
    const transport = nodemailer.createTransport({ pool: true, maxConnections: 1, host: "127.0.0.1", port: smtp.port, secure: false, ignoreTLS: true });
    transport.on("error", () => undefined);
    const mail = (subject: string) => ({ from: "shop@example.com", to: "ada@example.com", subject, text: subject });
    let candidateSaw = "";
    const result = await runOnce(
      () => transport.sendMail(mail("control")),
      async () => {
        try {
          await transport.sendMail(mail("candidate"));
          candidateSaw = "sent";
        } catch (error) {
          candidateSaw = `error ${(error as NodeJS.ErrnoException).code ?? ""}`;
        }
      },
    );
    await transport.sendMail(mail("control again"));
    transport.close();
    assert.equal(smtp.received.length, 2);
    assert.match(smtp.received[0] ?? "", /Subject: control/);
    assert.match(smtp.received[1] ?? "", /Subject: control again/);
    assert.notEqual(candidateSaw, "sent");
    // The blocked write closes the pooled connection; the pool may retry the candidate's message on a
    // fresh one, which is blocked too: every attempt is a blocked leak to the SMTP server.
    const leaks = leaksOf(result);
    assert.ok(leaks.length >= 1, "the candidate's attempt is recorded");
    for (const leak of leaks) assert.deepEqual(leak, { kind: "network", target: `127.0.0.1:${smtp.port}`, blocked: true });
    await smtp.close();
  });

  it("keeps a guarded pooled mailer shut when the candidate calls the prototype's sendMail on it", async () => {
    const smtp = await smtpServer();
    uninstall = installTripwire();
    const mailer = guardMailer(nodemailer.createTransport({ pool: true, host: "127.0.0.1", port: smtp.port, secure: false, ignoreTLS: true }));
    const message = (subject: string) => ({ from: "shop@example.com", to: "ada@example.com", subject, text: subject });
    const result = await runOnce(
      () => mailer.sendMail(message("control")),
      async () => {
        const sendMail = (Object.getPrototypeOf(mailer) as { sendMail: (m: unknown) => Promise<unknown> }).sendMail;
        return sendMail.call(mailer, message("candidate"));
      },
    );
    mailer.close();
    assert.equal(smtp.received.length, 1);
    assert.match(smtp.received[0] ?? "", /Subject: control/);
    const effects = (result.candidates[0]?.effects ?? []).map((e) => `${e.name} ${String(e.blocked)}`);
    assert.deepEqual(effects, ["mailer.sendMail true"]);
    assert.deepEqual(leaksOf(result), []);
    await smtp.close();
  });

  it("blocks a candidate's request on an HTTP/2 session the control opened, with the request as the leak", async () => {
    const server = await http2Server();
    uninstall = installTripwire();
    const session = http2.connect(`http://127.0.0.1:${server.port}`);
    session.on("error", () => undefined);
    const request = (p: string): Promise<string> =>
      new Promise((resolve) => {
        const stream = session.request({ ":path": p });
        let body = "";
        stream.setEncoding("utf8");
        stream.on("data", (c: string) => (body += c));
        stream.on("end", () => resolve(body));
        stream.on("error", (e: NodeJS.ErrnoException) => resolve(`error ${e.code ?? e.message}`));
        stream.end();
      });
    let candidateSaw = "";
    const result = await runOnce(
      () => request("/control"),
      async () => (candidateSaw = await request("/candidate")),
    );
    assert.equal(await request("/after"), "ok", "the control's session still works");
    session.close();
    assert.deepEqual(server.received, ["GET /control", "GET /after"]);
    assert.equal(candidateSaw, "error ESHADOW");
    assert.deepEqual(leaksOf(result), [{ kind: "network", target: `GET http://127.0.0.1:${server.port}/candidate`, blocked: true }]);
    await server.close();
  });

  it("drops a candidate's write on an HTTP/2 stream the control opened; the control's body arrives whole", async () => {
    const server = await http2Server();
    uninstall = installTripwire();
    const session = http2.connect(`http://127.0.0.1:${server.port}`);
    session.on("error", () => undefined);
    const upload = session.request({ ":method": "POST", ":path": "/upload" });
    upload.on("error", () => undefined);
    const answered = new Promise<void>((resolve) => upload.on("response", () => resolve()));
    upload.resume();
    let candidateSaw = "";
    const result = await runOnce(
      () => writeOn(upload, "control;"),
      async () => {
        candidateSaw = await writeOn(upload, "candidate;");
        upload.end("candidate-end;");
      },
    );
    upload.end("control-end;");
    await answered;
    session.close();
    assert.deepEqual(server.bodies, ["control;control-end;"]);
    assert.equal(candidateSaw, "error ESHADOW");
    assert.deepEqual(leaksOf(result), [{ kind: "network", target: `127.0.0.1:${server.port} http2 stream write`, blocked: true }]);
    await server.close();
  });

  it("blocks a candidate's own HTTP/2 session and its request: nothing arrives", async () => {
    const server = await http2Server();
    uninstall = installTripwire();
    const result = await runOnce(
      async () => "control",
      () =>
        new Promise((resolve) => {
          const session = http2.connect(`http://127.0.0.1:${server.port}`);
          session.on("error", () => resolve("session error"));
          const stream = session.request({ ":path": "/candidate" });
          stream.on("error", () => {
            session.destroy();
            resolve("stream error");
          });
        }),
    );
    await sleep(50);
    assert.deepEqual(server.received, []);
    const leaks = leaksOf(result);
    assert.ok(leaks.length >= 1 && leaks.every((l) => l.blocked), JSON.stringify(leaks));
    assert.ok(leaks.some((l) => l.target.includes(`127.0.0.1:${server.port}`)));
    await server.close();
  });

  it("blocks a candidate's UDP datagram and lets the control's arrive", async () => {
    const server = await udpServer();
    uninstall = installTripwire();
    const socket = dgram.createSocket("udp4");
    const send = (text: string): Promise<string> =>
      new Promise((resolve) => socket.send(text, server.port, "127.0.0.1", (e) => resolve(e ? `error ${(e as NodeJS.ErrnoException).code ?? ""}` : "sent")));
    let candidateSaw = "";
    const result = await runOnce(
      () => send("control"),
      async () => (candidateSaw = await send("candidate")),
    );
    await sleep(100);
    socket.close();
    assert.deepEqual(server.received, ["control"]);
    assert.equal(candidateSaw, "error ESHADOW");
    assert.deepEqual(leaksOf(result), [{ kind: "network", target: `udp 127.0.0.1:${server.port}`, blocked: true }]);
    await server.close();
  });

  it("blocks a candidate's datagram on a connected UDP socket without a callback, silently for the socket", async () => {
    const server = await udpServer();
    uninstall = installTripwire();
    const socket = dgram.createSocket("udp4");
    await new Promise<void>((resolve) => socket.connect(server.port, "127.0.0.1", resolve));
    const result = await runOnce(
      async () => socket.send("control"),
      async () => socket.send("candidate"),
    );
    await sleep(100);
    socket.close();
    assert.deepEqual(server.received, ["control"]);
    assert.deepEqual(leaksOf(result), [{ kind: "network", target: `udp 127.0.0.1:${server.port}`, blocked: true }]);
    await server.close();
  });

  it("blocks a candidate's DNS queries to a chosen server, callback and promise resolvers alike", async () => {
    const server = await dnsServer();
    uninstall = installTripwire();
    const resolver = new dns.Resolver();
    resolver.setServers([`127.0.0.1:${server.port}`]);
    const promises = new dns.promises.Resolver();
    promises.setServers([`127.0.0.1:${server.port}`]);
    const viaCallback = (name: string): Promise<string> =>
      new Promise((resolve) => resolver.resolve4(name, (e, addresses) => resolve(e ? `error ${e.code ?? ""}` : addresses.join(","))));
    const saw: string[] = [];
    const result = await runOnce(
      () => viaCallback("control.test"),
      async () => {
        saw.push(await viaCallback("candidate.test"));
        saw.push(await promises.resolve4("candidate2.test").then((a) => a.join(","), (e: NodeJS.ErrnoException) => `error ${e.code ?? ""}`));
      },
    );
    assert.deepEqual(server.received, ["control.test"]);
    assert.deepEqual(saw, ["error ESHADOW", "error ESHADOW"]);
    assert.deepEqual(leaksOf(result), [
      { kind: "network", target: `dns 127.0.0.1:${server.port} candidate.test`, blocked: true },
      { kind: "network", target: `dns 127.0.0.1:${server.port} candidate2.test`, blocked: true },
    ]);
    await server.close();
  });

  it("blocks a candidate's write to the stdin of a process the control started, and its kill", async () => {
    uninstall = installTripwire();
    const child = childProcess.spawn(process.execPath, ["-e", "process.stdin.pipe(process.stdout)"], { stdio: ["pipe", "pipe", "ignore"] });
    let output = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => (output += c));
    const command = `${process.execPath} -e "process.stdin.pipe(process.stdout)"`;
    const result = await runOnce(
      () => writeOn(child.stdin, "control\n"),
      async () => {
        const wrote = await writeOn(child.stdin, "candidate\n");
        return [wrote, child.kill()];
      },
    );
    assert.deepEqual(result.candidates[0]?.value, ["error ESHADOW", false]);
    const exited = new Promise((resolve) => child.on("exit", resolve));
    child.stdin.end();
    await exited;
    assert.equal(output, "control\n");
    assert.deepEqual(leaksOf(result), [
      { kind: "child_process", target: command, blocked: true },
      { kind: "child_process", target: `kill ${command}`, blocked: true },
    ]);
  });

  it("blocks a candidate's message to a worker the control started", async () => {
    uninstall = installTripwire();
    const worker = new Worker("const { parentPort } = require('node:worker_threads'); parentPort.on('message', (m) => parentPort.postMessage('got ' + m));", { eval: true });
    const got: string[] = [];
    worker.on("message", (m: string) => got.push(m));
    const threadId = worker.threadId;
    const result = await runOnce(
      async () => worker.postMessage("control"),
      async () => worker.postMessage("candidate"),
    );
    await sleep(200);
    await worker.terminate();
    assert.deepEqual(got, ["got control"]);
    assert.deepEqual(leaksOf(result), [{ kind: "child_process", target: `postMessage worker ${threadId}`, blocked: true }]);
  });

  it("records a blocked write on the candidate that made it, not on its sibling or the control", async () => {
    const server = await tcpServer();
    uninstall = installTripwire();
    const socket = await connect(server.port);
    socket.on("error", () => undefined);
    const results: Result<unknown>[] = [];
    const experiment = new Experiment<[], Promise<string>>("two-candidates", { publish: (r) => void results.push(r) })
      .use(() => writeOn(socket, "control;"))
      .try("quiet", async () => "written")
      .try("leaky", () => writeOn(socket, "leaky;"));
    await experiment.run();
    await experiment.settled();
    await sleep(50);
    socket.destroy();
    const byName = Object.fromEntries((results[0]?.candidates ?? []).map((c) => [c.name, c.leaks.map((l) => ({ ...l }))]));
    assert.deepEqual(byName, { quiet: [], leaky: [{ kind: "network", target: `127.0.0.1:${server.port}`, blocked: true }] });
    assert.deepEqual(results[0]?.control.leaks, []);
    assert.equal(server.received.join(""), "control;");
    await server.close();
  });

  it("leaves the process's own stderr usable from a candidate, unrecorded", async () => {
    uninstall = installTripwire();
    const result = await runOnce(
      async () => "control",
      async () => process.stderr.write(""),
    );
    assert.deepEqual(leaksOf(result), []);
    assert.equal(result.candidates[0]?.threw, false);
  });
});

describe("the tripwire's hooks given hostile arguments in a shadow run", function () {
  this.timeout(30_000);
  it("never throw from penumbra: DNS and UDP calls with any arguments are blocked and answered through the callback", async () => {
    const uninstall = installTripwire();
    const resolver = new dns.Resolver();
    const socket = dgram.createSocket("udp4");
    const hostile = fc.oneof(
      fc.anything(),
      fc.constant({ toString: () => { throw new Error("toString"); } }),
      fc.constant(new Proxy({}, { get: () => { throw new Error("trap"); } })),
      fc.constant(Object.create(null) as object),
    );
    try {
      await fc.assert(
        fc.asyncProperty(hostile, hostile, async (a, b) => {
          const result = await runOnce(
            async () => "control",
            () =>
              Promise.all([
                new Promise<string>((resolve) => resolver.resolve4(a as string, (e) => resolve(e?.code ?? "none"))),
                new Promise<string>((resolve) => socket.send(Buffer.from("x"), b as number, "127.0.0.1", (e) => resolve((e as NodeJS.ErrnoException | null)?.code ?? "none"))),
              ]),
          );
          assert.deepEqual(result.candidates[0]?.value, ["ESHADOW", "ESHADOW"]);
          assert.equal(leaksOf(result).length, 2);
        }),
        { numRuns: 40 },
      );
    } finally {
      socket.close();
      uninstall();
    }
  });
});
