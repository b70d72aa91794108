/**
 * The tripwire against pooled connections shared by overlapping runs: a pool hands queued work to
 * whichever connection is free, from whatever async context happens to run its dispatcher. Judged
 * against real servers on 127.0.0.1: nothing from a candidate arrives, every control effect arrives
 * exactly once, and each blocked attempt is a leak on the candidate that made it.
 */
import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import fc from "fast-check";
import nodemailer from "nodemailer";
import { installTripwire, isShadow, shadow, type Result } from "../../src/index";
import { get, httpServer, smtpServer, type Received } from "../support/servers";

/** What `createTransport` of either nodemailer build returns, as far as these tests use it. */
interface Transport {
  sendMail(message: object): Promise<unknown>;
  sendMail(message: object, callback: (error: Error | null) => void): void;
  on(event: "error", listener: () => void): unknown;
  close(): void;
  transporter: object;
}

type CreateTransport = (options: object) => Transport;

/** nodemailer's ES module build: separate classes from the CommonJS build `import nodemailer` gives here. */
async function esmCreateTransport(): Promise<CreateTransport> {
  const esm = (await import("nodemailer")) as unknown as { default: { createTransport: CreateTransport } };
  return (options) => esm.default.createTransport(options);
}

const cjsCreateTransport: CreateTransport = (options) => nodemailer.createTransport(options) as unknown as Transport;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const mail = (subject: string) => ({ from: "shop@example.com", to: "ada@example.com", subject, text: subject });

/** What one candidate's send came to: "sent" or the error's code. */
async function outcome(send: () => Promise<unknown>): Promise<string> {
  try {
    await send();
    return "sent";
  } catch (error) {
    return `error ${(error as NodeJS.ErrnoException).code ?? String(error)}`;
  }
}

interface Scenario {
  /** Overlapping calls, each a control mail and a candidate mail. */
  calls: number;
  maxConnections: number;
  /** Per call: how long the control and the candidate wait before sending. */
  delays: Array<{ control: number; candidate: number }>;
}

/**
 * Runs `scenario` against `smtp` through one pooled transport shared by control and candidate, and
 * checks what arrived and what each result says.
 */
async function checkPooledMail(smtp: Received<string>, scenario: Scenario, tag: string, createTransport = cjsCreateTransport): Promise<void> {
  smtp.received.length = 0;
  const transport = createTransport({
    pool: true,
    maxConnections: scenario.maxConnections,
    host: "127.0.0.1",
    port: smtp.port,
    secure: false,
    ignoreTLS: true,
  });
  transport.on("error", () => undefined);
  const results: Result<unknown>[] = [];
  const controlOutcomes = new Map<string, string>();
  const send = shadow(
    async (id: string) => {
      await sleep(scenario.delays[Number(id)]?.control ?? 0);
      controlOutcomes.set(id, await outcome(() => transport.sendMail(mail(`control ${tag} ${id}`))));
      return id;
    },
    async (id: string) => {
      await sleep(scenario.delays[Number(id)]?.candidate ?? 0);
      return outcome(() => transport.sendMail(mail(`CANDIDATE ${tag} ${id}`)));
    },
    { name: `smtp-pool ${tag}`, publish: (r: Result<unknown>) => void results.push(r), guardrails: { disableOnLeak: false }, timeoutMs: 4000 },
  );
  const ids = Array.from({ length: scenario.calls }, (_, i) => String(i));
  const answers = await Promise.all(ids.map((id) => send(id)));
  await send.experiment.settled();
  await sleep(30);
  transport.close();

  assert.deepEqual(answers, ids, "each caller gets its control's answer");
  const subjects = smtp.received.map((m) => /^Subject: (.*)$/m.exec(m)?.[1]?.trim() ?? "?");
  assert.deepEqual(subjects.filter((s) => s.startsWith("CANDIDATE")), [], "no candidate mail arrives");
  assert.deepEqual(
    subjects.filter((s) => s.startsWith("control")).sort(),
    ids.map((id) => `control ${tag} ${id}`).sort(),
    "every control mail arrives exactly once",
  );
  for (const id of ids) assert.equal(controlOutcomes.get(id), "sent", `control ${id}'s sendMail resolves`);
  assert.equal(results.length, scenario.calls, "one result per call");
  for (const result of results) {
    const id = String(result.control.value);
    const candidate = result.candidates[0];
    assert.ok(candidate !== undefined);
    assert.deepEqual(result.control.leaks, [], `control ${id} has no leak`);
    assert.equal(candidate.timedOut, false, `candidate ${id} settles`);
    assert.match(String(candidate.value), /^error /, `candidate ${id}'s mail fails`);
    assert.ok(candidate.leaks.length >= 1, `candidate ${id}'s attempt is a leak on its own observation`);
    for (const leak of candidate.leaks) assert.deepEqual({ ...leak }, { kind: "network", target: `127.0.0.1:${smtp.port}`, blocked: true });
  }
}

describe("the tripwire against pooled connections shared by overlapping runs", function () {
  this.timeout(20_000);
  let uninstall: (() => void) | undefined;
  let smtp: Received<string> | undefined;
  afterEach(async () => {
    uninstall?.();
    uninstall = undefined;
    await smtp?.close();
    smtp = undefined;
  });

  it("keeps every candidate mail out of a nodemailer pool shared by four overlapping calls, as in the user's report", async () => {
    smtp = await smtpServer();
    uninstall = installTripwire();
    const zero = { control: 0, candidate: 0 };
    await checkPooledMail(smtp, { calls: 4, maxConnections: 5, delays: [zero, zero, zero, zero] }, "report");
  });

  it("keeps every candidate mail out and every control mail in, for generated interleavings, call counts and pool sizes", async () => {
    const server = (smtp = await smtpServer());
    uninstall = installTripwire();
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 3 }).chain((maxConnections) =>
          fc.integer({ min: 1, max: 5 }).chain((calls) =>
            fc.record({
              calls: fc.constant(calls),
              maxConnections: fc.constant(maxConnections),
              delays: fc.array(fc.record({ control: fc.integer({ min: 0, max: 15 }), candidate: fc.integer({ min: 0, max: 15 }) }), {
                minLength: calls,
                maxLength: calls,
              }),
            }),
          ),
        ),
        async (scenario) => checkPooledMail(server, scenario, `r${run++}`),
      ),
      { numRuns: 20 },
    );
  });

  it("keeps every candidate mail out of a pool built from nodemailer's ES module build", async () => {
    const server = (smtp = await smtpServer());
    uninstall = installTripwire();
    const createTransport = await esmCreateTransport();
    const [esmBuilt, cjsBuilt] = [createTransport({ pool: true }), cjsCreateTransport({ pool: true })];
    assert.notEqual(Object.getPrototypeOf(esmBuilt.transporter), Object.getPrototypeOf(cjsBuilt.transporter), "two builds, two SMTPPool classes");
    esmBuilt.close();
    cjsBuilt.close();
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 2 }),
        fc.array(fc.record({ control: fc.integer({ min: 0, max: 10 }), candidate: fc.integer({ min: 0, max: 10 }) }), { minLength: 2, maxLength: 4 }),
        async (maxConnections, delays) => checkPooledMail(server, { calls: delays.length, maxConnections, delays }, `e${run++}`, createTransport),
      ),
      { numRuns: 8 },
    );
  });

  it("calls each sendMail callback in its sender's run, over one connection shared by both (report mode, where the candidate's mails go out)", async () => {
    const server = (smtp = await smtpServer());
    // Report mode lets the candidate's mails out, so their completion comes back on the shared
    // connection's socket, in whichever run opened it; the callback must still be its sender's.
    uninstall = installTripwire({ network: "report" });
    const transport = cjsCreateTransport({ pool: true, maxConnections: 1, host: "127.0.0.1", port: server.port, secure: false, ignoreTLS: true });
    transport.on("error", () => undefined);
    const seen: string[] = [];
    const sendWithCallback = (subject: string, role: string): Promise<string> =>
      new Promise((resolve) => {
        transport.sendMail(mail(subject), (error) => {
          seen.push(`${role} callback shadow=${String(isShadow())}`);
          resolve(error ? "error" : "sent");
        });
      });
    const send = shadow(
      (id: string) => sendWithCallback(`control cb ${id}`, "control"),
      (id: string) => sendWithCallback(`CANDIDATE cb ${id}`, "candidate"),
      { name: "smtp-pool callbacks", publish: () => undefined, guardrails: { disableOnLeak: false } },
    );
    await Promise.all(["1", "2", "3"].map((id) => send(id)));
    await send.experiment.settled();
    transport.close();
    assert.deepEqual([...seen].sort(), [
      "candidate callback shadow=true",
      "candidate callback shadow=true",
      "candidate callback shadow=true",
      "control callback shadow=false",
      "control callback shadow=false",
      "control callback shadow=false",
    ]);
    assert.equal(server.received.length, 6);
  });

  /** The methods the pool attribution replaces, per class, as they are now. */
  async function poolMethods(): Promise<Map<string, unknown>> {
    const esmPool = (await import("nodemailer/lib/smtp-pool")) as unknown as { default: { prototype: Record<string, unknown> } };
    const owners: Array<[string, { prototype: Record<string, unknown> }, string[]]> = [
      ["cjs SMTPPool", require("nodemailer/lib/smtp-pool") as { prototype: Record<string, unknown> }, ["send"]],
      ["esm SMTPPool", esmPool.default, ["send"]],
      ["pg-pool", require("pg-pool") as { prototype: Record<string, unknown> }, ["connect", "newClient", "_acquireClient", "_remove"]],
      ["pg Client", require("pg/lib/client") as { prototype: Record<string, unknown> }, ["query", "_pulseQueryQueue"]],
    ];
    const methods = new Map<string, unknown>();
    for (const [label, owner, names] of owners) for (const name of names) methods.set(`${label} ${name}`, owner.prototype[name]);
    return methods;
  }

  it("attributes pools while any installation is in force and puts every original method back with the last uninstall", async () => {
    const before = await poolMethods();
    const first = installTripwire();
    const installed = await poolMethods();
    for (const [name, method] of installed) assert.notEqual(method, before.get(name), `${name} is hooked`);
    const second = installTripwire({ network: "report" });
    first();
    assert.deepEqual(await poolMethods(), installed, "still hooked while an installation is in force");
    second();
    assert.deepEqual(await poolMethods(), before, "every original is back");
    uninstall = installTripwire();
    for (const [name, method] of await poolMethods()) assert.notEqual(method, before.get(name), `${name} is hooked again`);
  });

  it("leaves lookalike pool modules of unexpected shapes alone, never throws, and still attributes the real pools", async () => {
    const hostileSources = [
      "module.exports = null;",
      "module.exports = 42;",
      "module.exports = { get default() { throw new Error('getter'); } };",
      "module.exports = new Proxy(function () {}, { get() { throw new Error('trap'); }, getOwnPropertyDescriptor() { throw new Error('trap'); } });",
      "function P() {} P.prototype = new Proxy({}, { get() { return function () {}; }, getOwnPropertyDescriptor() { throw new Error('trap'); } }); module.exports = P;",
      "function P() {} P.prototype = new Proxy({}, { get() { return function () {}; }, defineProperty() { return true; } }); module.exports = P;",
      "class P { send() {} connect() {} query() {} newClient() {} _acquireClient() {} _pulseQueue() {} _pulseQueryQueue() {} _processMessages() {} _createConnection() {} } Object.freeze(P.prototype); module.exports = P;",
      "class P {} for (const n of ['send', 'connect', 'query', 'newClient', '_acquireClient', '_pulseQueue', '_pulseQueryQueue', '_processMessages', '_createConnection']) Object.defineProperty(P.prototype, n, { get() { throw new Error('getter'); } }); module.exports = P;",
      "class P { send() { return 'mine'; } } module.exports = P;",
      "module.exports = { default: class { send() {} connect() {} } };",
    ];
    const source = fc.constantFrom(...hostileSources);
    const server = (smtp = await smtpServer());
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "penumbra-lookalike-"));
    const loaded: string[] = [];
    try {
      let run = 0;
      await fc.assert(
        fc.asyncProperty(source, source, source, async (poolSource, resourceSource, pgSource) => {
          const dir = path.join(root, String(run++), "node_modules");
          const files: Array<[string, string]> = [
            [path.join(dir, "nodemailer", "dist", "cjs", "smtp-pool", "index.js"), poolSource],
            [path.join(dir, "nodemailer", "dist", "cjs", "smtp-pool", "pool-resource.js"), resourceSource],
            [path.join(dir, "pg-pool", "index.js"), pgSource],
            [path.join(dir, "pg", "lib", "client.js"), pgSource],
          ];
          for (const [file, text] of files) {
            fs.mkdirSync(path.dirname(file), { recursive: true });
            fs.writeFileSync(file, text);
            require(file);
            loaded.push(file);
          }
          const before = await poolMethods();
          let undo: (() => void) | undefined;
          assert.doesNotThrow(() => (undo = installTripwire()));
          for (const [name, method] of await poolMethods()) assert.notEqual(method, before.get(name), `${name} is hooked`);
          assert.doesNotThrow(() => undo?.());
          assert.deepEqual(await poolMethods(), before);
          for (const [file] of files) Reflect.deleteProperty(require.cache, file);
        }),
        { numRuns: 30 },
      );
      // With the last lookalikes still loaded, the real pool stays shut to candidates.
      const last = path.join(root, "last", "node_modules", "nodemailer", "dist", "cjs", "smtp-pool");
      fs.mkdirSync(last, { recursive: true });
      for (const [name, text] of [["index.js", hostileSources[3]], ["pool-resource.js", hostileSources[6]]] as const) {
        fs.writeFileSync(path.join(last, name), text ?? "");
        require(path.join(last, name));
        loaded.push(path.join(last, name));
      }
      uninstall = installTripwire();
      const zero = { control: 0, candidate: 0 };
      await checkPooledMail(server, { calls: 3, maxConnections: 1, delays: [zero, zero, zero] }, "lookalikes");
    } finally {
      for (const file of loaded) Reflect.deleteProperty(require.cache, file);
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it("keeps candidate requests off a keep-alive http.Agent whose few sockets overlapping runs queue for (judged per request, where it is made)", async () => {
    const server = await httpServer();
    uninstall = installTripwire();
    try {
      for (const maxSockets of [1, 2]) {
        server.requests.length = 0;
        const agent = new http.Agent({ keepAlive: true, maxSockets });
        const results: Result<unknown>[] = [];
        const run = shadow(
          async (id: string) => get(`http://127.0.0.1:${server.port}/control/${id}`, agent),
          async (id: string) => get(`http://127.0.0.1:${server.port}/CANDIDATE/${id}`, agent),
          { name: `agent ${maxSockets}`, publish: (r: Result<unknown>) => void results.push(r), onError: () => undefined, guardrails: { disableOnLeak: false } },
        );
        const ids = ["1", "2", "3", "4", "5", "6"];
        assert.deepEqual(await Promise.all(ids.map((id) => run(id))), ids.map(() => "ok"));
        await run.experiment.settled();
        agent.destroy();
        assert.deepEqual([...server.requests].sort(), ids.map((id) => `GET /control/${id}`));
        assert.equal(results.length, ids.length);
        for (const result of results) {
          assert.equal(result.candidates[0]?.value, "error ESHADOW");
          assert.equal(result.candidates[0]?.leaks.length, 1);
        }
      }
    } finally {
      await server.close();
    }
  });

  it("blocks a candidate's mail the pool dispatches after the candidate timed out, and its leak still trips the leak guardrail", async () => {
    const server = (smtp = await smtpServer());
    uninstall = installTripwire();
    const transport = cjsCreateTransport({ pool: true, maxConnections: 1, host: "127.0.0.1", port: server.port, secure: false, ignoreTLS: true });
    transport.on("error", () => undefined);
    // Application mail, outside any experiment, queued first: the candidate's mail waits behind it.
    const backlog = Array.from({ length: 20 }, (_, i) => transport.sendMail(mail(`backlog ${i}`)));
    const trips: string[] = [];
    const results: Result<unknown>[] = [];
    const send = shadow(
      async () => "control",
      async () => outcome(() => transport.sendMail(mail("CANDIDATE late"))),
      { name: "smtp-pool late", timeoutMs: 1, publish: (r: Result<unknown>) => void results.push(r), guardrails: { onTrip: (event) => void trips.push(event.reason) } },
    );
    assert.equal(await send(), "control");
    await send.experiment.settled();
    assert.equal(results[0]?.candidates[0]?.timedOut, true, "the candidate timed out while its mail waited");
    await Promise.all(backlog);
    for (let i = 0; i < 100 && trips.length === 0; i++) await sleep(20);
    transport.close();
    assert.deepEqual(trips, ["leak"], "the late leak reaches the leak guardrail");
    assert.equal(server.received.filter((m) => m.includes("CANDIDATE")).length, 0, "no candidate mail arrives");
    assert.equal(server.received.filter((m) => /Subject: backlog/.test(m)).length, 20, "the application's mail all arrives");
  });

  it("attributes pooled mail with penumbra's frames in a cls-hooked namespace too (in a child process)", function () {
    this.timeout(30_000);
    const output = execFileSync(process.execPath, ["-r", "ts-node/register", "test/tripwire/fixtures/pooled-cls-child.ts"], {
      cwd: path.resolve(__dirname, "../.."),
      encoding: "utf8",
      timeout: 30_000,
    });
    assert.deepEqual(JSON.parse(output), {
      answers: ["1", "2", "3", "4"],
      received: ["control 1", "control 2", "control 3", "control 4"],
      candidates: ["1 refused leaks", "2 refused leaks", "3 refused leaks", "4 refused leaks"],
    });
  });
});
