/**
 * The tripwire and the guards together: a declared read's own I/O gets out of a shadow run, an
 * undeclared call does not, and where a callback had lost its context, `bindShadow` puts the
 * tripwire back on duty as the second line.
 */
import { strict as assert } from "node:assert";
import { execFile } from "node:child_process";
import { EventEmitter } from "node:events";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { bindShadow, guard, installTripwire, shadow, type Result } from "../../src/index";
import { collector } from "../support/capture";
import { get, httpServer, type CountingServer } from "../support/servers";

/** A client whose read and write both do real HTTP. */
class RatesClient {
  constructor(private readonly base: string) {}
  fetchRate(): Promise<string> {
    return get(`${this.base}/rate`);
  }
  publishRate(): Promise<string> {
    return get(`${this.base}/publish`);
  }
}

describe("the tripwire with declared reads", () => {
  let server: CountingServer;
  let uninstall: () => void;
  beforeEach(async () => {
    server = await httpServer();
    uninstall = installTripwire();
  });
  afterEach(async () => {
    uninstall();
    await server.close();
  });

  async function once(candidate: () => Promise<unknown>): Promise<Result<unknown>> {
    const sink = collector();
    const wrapped = shadow(async () => "control", async () => {
      await candidate();
      return "control";
    }, { publish: sink });
    await wrapped();
    await wrapped.experiment.settled();
    const [result] = sink.results;
    assert.ok(result);
    return result;
  }

  it("lets a guarded client's declared read do its own I/O in a shadow run, unrecorded", async () => {
    const rates = guard("rates", new RatesClient(`http://127.0.0.1:${server.port}`), { effects: ["publishRate"] });
    let body = "";
    const result = await once(async () => {
      body = await rates.fetchRate();
    });
    assert.equal(body, "ok");
    assert.deepEqual(server.requests, ["GET /rate"]);
    assert.deepEqual(result.candidates[0]?.leaks, []);
  });

  it("still blocks the same request when nothing declared it", async () => {
    const raw = new RatesClient(`http://127.0.0.1:${server.port}`);
    const result = await once(() => raw.fetchRate());
    assert.deepEqual(server.requests, []);
    assert.equal(result.candidates[0]?.leaks[0]?.target, `GET http://127.0.0.1:${server.port}/rate`);
  });

  it("catches an undeclared call in a callback that bindShadow carried back into the run", async () => {
    const emitter = new EventEmitter();
    const timer = setInterval(() => emitter.emit("tick"), 2);
    try {
      const raw = new RatesClient(`http://127.0.0.1:${server.port}`);
      const result = await once(
        () => new Promise<void>((resolve) => emitter.once("tick", bindShadow(() => void raw.publishRate().then(() => resolve())))),
      );
      assert.deepEqual(server.requests, [], "nothing left the shadow run");
      assert.equal(result.candidates[0]?.leaks.length, 1);
    } finally {
      clearInterval(timer);
    }
  });
});

describe("node --require penumbra/tripwire", () => {
  const root = path.resolve(__dirname, "../..");
  before(function () {
    if (!fs.existsSync(path.join(root, "dist", "tripwire", "register.js"))) this.skip();
  });

  it("installs the tripwire before the application starts", async () => {
    const server = await httpServer();
    try {
      // Outside the repository (tests leave nothing behind); penumbra is required by its path.
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "penumbra-tripwire-"));
      const script = path.join(dir, "require-tripwire.js");
      fs.writeFileSync(
        script,
        `const http = require("node:http");
const { shadow, flush } = require(${JSON.stringify(root)});
const call = () => new Promise((resolve) => { const req = http.get("http://127.0.0.1:${server.port}/x", (res) => { res.resume(); res.on("end", () => resolve("sent")); }); req.on("error", (e) => resolve(e.code)); });
const results = [];
const wrapped = shadow(async () => "ok", async () => call(), { publish: (r) => results.push(r) });
wrapped().then(async () => { await flush(); console.log(JSON.stringify(results[0].candidates[0].value ?? null) + " " + results[0].candidates[0].leaks.length); });`,
      );
      const output = await new Promise<string>((resolve, reject) => {
        // Asynchronous: the server answering on this process's event loop must not be blocked.
        execFile(process.execPath, ["--require", "penumbra/tripwire", script], { cwd: root, timeout: 20_000 }, (error, stdout) =>
          error ? reject(error) : resolve(stdout.trim()),
        );
      });
      assert.equal(output, '"ESHADOW" 1');
      assert.deepEqual(server.requests, []);
      fs.rmSync(dir, { recursive: true, force: true });
    } finally {
      await server.close();
    }
  });
});
