/**
 * Installing the tripwire: the strictest installation in force wins per kind, each uninstall
 * removes only its own installation, bad options are refused at installation, and the preload
 * reads its options from PENUMBRA_TRIPWIRE.
 */
import { strict as assert } from "node:assert";
import * as path from "node:path";
import fc from "fast-check";
import { installTripwire, type TripwireOptions } from "../../src/index";
import { tripwireOptionsFromEnv } from "../../src/tripwire/env";
import { leaksOf, runOnce } from "../support/one-run";
import { get, httpServer, type CountingServer } from "../support/servers";

describe("installing the tripwire", function () {
  this.timeout(10_000);
  let server: CountingServer;
  const undo: Array<() => void> = [];
  beforeEach(async () => {
    server = await httpServer();
  });
  afterEach(async () => {
    for (const u of undo.splice(0)) u();
    await server.close();
  });

  /** One shadow request to the server: what the candidate saw and what was recorded. */
  async function attempt(): Promise<{ saw: string; blocked: boolean[] }> {
    let saw = "";
    const result = await runOnce(
      async () => "control",
      async () => (saw = await get(`http://127.0.0.1:${server.port}/candidate`)),
    );
    return { saw, blocked: leaksOf(result).map((l) => l.blocked) };
  }

  it("keeps blocking when a later installation asks only to report", async () => {
    undo.push(installTripwire());
    undo.push(installTripwire({ network: "report" }));
    assert.deepEqual(await attempt(), { saw: "error ESHADOW", blocked: [true] });
    assert.deepEqual(server.requests, []);
  });

  it("keeps blocking when a later installation turns the kind off or allows everything", async () => {
    undo.push(installTripwire({ network: "block" }));
    undo.push(installTripwire({ network: "off" }));
    undo.push(installTripwire({ network: "report", allow: () => true }));
    assert.deepEqual(await attempt(), { saw: "error ESHADOW", blocked: [true] });
  });

  it("removes only its own installation: the report one stays after the block one goes", async () => {
    const block = installTripwire();
    undo.push(installTripwire({ network: "report" }));
    block();
    assert.deepEqual(await attempt(), { saw: "ok", blocked: [false] });
    assert.deepEqual(server.requests, ["GET /candidate"]);
  });

  it("lets a target out only when every installation in force allows it", async () => {
    const local = (t: { host?: string }): boolean => t.host === "127.0.0.1";
    undo.push(installTripwire({ allow: local }));
    assert.deepEqual(await attempt(), { saw: "ok", blocked: [] });
    undo.push(installTripwire({ network: "report" }));
    assert.deepEqual(await attempt(), { saw: "ok", blocked: [false] });
  });

  it("refuses bad options with a TypeError naming the option", () => {
    const bad: Array<[unknown, RegExp]> = [
      [{ network: "warn" }, /'network'.*"warn"/],
      [{ childProcess: 1 }, /'childProcess'/],
      [{ network: "toString" }, /'network'/],
      [{ allow: "yes" }, /'allow'/],
      [null, /options object/],
    ];
    for (const [options, message] of bad) {
      assert.throws(() => installTripwire(options as TripwireOptions), (e: unknown) => e instanceof TypeError && message.test(e.message));
    }
  });
});

describe("PENUMBRA_TRIPWIRE", () => {
  it("reads kind=mode pairs, case and spaces aside", () => {
    assert.deepEqual(tripwireOptionsFromEnv("network=report,childProcess=block"), { options: { network: "report", childProcess: "block" }, problems: [] });
    assert.deepEqual(tripwireOptionsFromEnv(" Network = OFF , child_process=report "), { options: { network: "off", childProcess: "report" }, problems: [] });
    assert.deepEqual(tripwireOptionsFromEnv(undefined), { options: {}, problems: [] });
    assert.deepEqual(tripwireOptionsFromEnv(""), { options: {}, problems: [] });
  });

  it("names every unreadable entry and leaves its kind at the default", () => {
    assert.deepEqual(tripwireOptionsFromEnv("network=loud,files=off,childProcess"), {
      options: {},
      problems: ['"network=loud"', '"files=off"', '"childProcess"'],
    });
  });

  it("never throws and only ever yields valid modes, whatever the text", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), (text) => {
        const { options, problems } = tripwireOptionsFromEnv(text);
        for (const [key, value] of Object.entries(options)) {
          assert.ok(key === "network" || key === "childProcess");
          assert.ok(value === "block" || value === "report" || value === "off");
        }
        assert.ok(Array.isArray(problems));
      }),
    );
  });

  it("is what the preload installs, with a PenumbraWarning naming the variable for unreadable text", async () => {
    const entry = path.resolve(__dirname, "../../src/tripwire/register.ts");
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => void warnings.push(w);
    process.on("warning", onWarning);
    const saved = process.env.PENUMBRA_TRIPWIRE;
    process.env.PENUMBRA_TRIPWIRE = "network=report,childProcess=sometimes";
    delete require.cache[entry];
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- a fresh load of the preload is the point
    const preload = require(entry) as { uninstallTripwire: () => void };
    try {
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(warnings.length, 1);
      assert.match(warnings[0]?.message ?? "", /PENUMBRA_TRIPWIRE.*"childProcess=sometimes"/);
      const server = await httpServer();
      const result = await runOnce(
        async () => "control",
        () => get(`http://127.0.0.1:${server.port}/candidate`),
      );
      await server.close();
      assert.deepEqual(server.requests, ["GET /candidate"], "network=report was read");
      assert.deepEqual(leaksOf(result).map((l) => l.blocked), [false]);
    } finally {
      preload.uninstallTripwire();
      process.off("warning", onWarning);
      if (saved === undefined) delete process.env.PENUMBRA_TRIPWIRE;
      else process.env.PENUMBRA_TRIPWIRE = saved;
      delete require.cache[entry];
    }
  });
});
