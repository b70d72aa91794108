/** The escape suite over TLS: a self-signed HTTPS server made for the test, on 127.0.0.1. */
import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as https from "node:https";
import type * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { installTripwire, shadow } from "../../src/index";
import { collector } from "../support/capture";

describe("the tripwire over https", () => {
  let server: https.Server;
  let port = 0;
  let cert = "";
  const arrivals: string[] = [];
  let uninstall: () => void = () => undefined;

  before(function () {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "penumbra-tls-"));
    try {
      execFileSync("openssl", [
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
        "-addext", "subjectAltName=IP:127.0.0.1",
        "-keyout", path.join(dir, "key.pem"), "-out", path.join(dir, "cert.pem"),
      ], { stdio: "ignore" });
    } catch {
      this.skip(); // no openssl on this machine: nothing to serve TLS with
    }
    cert = fs.readFileSync(path.join(dir, "cert.pem"), "utf8");
    server = https.createServer({ key: fs.readFileSync(path.join(dir, "key.pem")), cert }, (req, res) => {
      arrivals.push(`${req.method ?? "?"} ${req.url ?? "?"}`);
      res.end("secure");
    });
  });
  beforeEach(async () => {
    arrivals.length = 0;
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as net.AddressInfo).port;
    uninstall = installTripwire();
  });
  afterEach(async () => {
    uninstall();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  function call(pathname: string): Promise<string> {
    return new Promise((resolve) => {
      const req = https.get({ host: "127.0.0.1", port, path: pathname, ca: cert }, (res) => {
        let body = "";
        res.on("data", (c: Buffer) => (body += c.toString()));
        res.on("end", () => resolve(body));
      });
      req.on("error", (e: NodeJS.ErrnoException) => resolve(`error ${e.code ?? e.message}`));
    });
  }

  it("lets the control's https request arrive and blocks the candidate's, recording it as a leak", async () => {
    const sink = collector();
    const wrapped = shadow(() => call("/control"), () => call("/candidate"), { publish: sink });
    assert.equal(await wrapped(), "secure");
    await wrapped.experiment.settled();
    assert.deepEqual(arrivals, ["GET /control"]);
    const candidate = sink.results[0]?.candidates[0];
    assert.equal(candidate?.value, "error ESHADOW");
    assert.deepEqual(candidate?.leaks.map((l) => [l.kind, l.blocked]), [["network", true]]);
  });

  it("blocks a candidate's raw write on a TLS connection the control opened: the server decrypts only the control's bytes", async () => {
    const tls = await import("node:tls");
    const socket = await new Promise<import("node:tls").TLSSocket>((resolve, reject) => {
      const s = tls.connect({ host: "127.0.0.1", port, ca: cert }, () => resolve(s));
      s.on("error", reject);
    });
    socket.on("error", () => undefined);
    const writeOn = (data: string): Promise<string> =>
      new Promise((resolve) => socket.write(data, (e?: Error | null) => resolve(e ? `error ${(e as NodeJS.ErrnoException).code ?? ""}` : "written")));
    const sink = collector();
    const wrapped = shadow(
      async () => {
        const wrote = await writeOn("GET /control HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        // The blocked write closes this connection: the control waits until its request has arrived.
        while (arrivals.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
        return wrote;
      },
      () => writeOn("GET /candidate HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
      { publish: sink },
    );
    await wrapped();
    await wrapped.experiment.settled();
    await new Promise((resolve) => setTimeout(resolve, 100));
    socket.destroy();
    assert.deepEqual(arrivals, ["GET /control"]);
    const candidate = sink.results[0]?.candidates[0];
    assert.equal(candidate?.value, "error ESHADOW");
    assert.deepEqual(candidate?.leaks.map((l) => ({ ...l })), [{ kind: "network", target: `127.0.0.1:${port}`, blocked: true }]);
  });
});
