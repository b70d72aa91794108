/**
 * Acceptance, API.md §3 guarded clients on their subpaths: `penumbra/better-sqlite3` against a real
 * SQLite file and `penumbra/nodemailer` against a real SMTP server on 127.0.0.1. The shadow is
 * silent: no row, no email leaves a candidate; the control's effects happen exactly once.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import Database from "better-sqlite3";
import nodemailer from "nodemailer";
import { installTripwire, shadow } from "../../src/index";
import { guardSqlite } from "../../src/adapters/better-sqlite3";
import { guardMailer } from "../../src/adapters/nodemailer";
import { smtpServer } from "../support/servers";
import { harness, resetHarness, uniqueName, type Harness } from "./support";

describe("acceptance §3: guarded clients", function () {
  this.timeout(20_000);
  let h: Harness;
  let dir: string;
  beforeEach(() => {
    h = harness();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "penumbra-acc-"));
  });
  afterEach(async () => {
    await resetHarness();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("penumbra/better-sqlite3: the control's insert is written once, the candidate's never, and reads still answer in shadow", async () => {
    const raw = new Database(path.join(dir, "shop.db"));
    raw.exec("CREATE TABLE orders (sku TEXT, v INTEGER)");
    const db = guardSqlite(raw, { name: "orders" });
    const name = uniqueName("sqlite");
    let candidateCount: unknown;
    const place = shadow(
      (sku: string) => db.prepare("INSERT INTO orders (sku, v) VALUES (?, 1)").run(sku).changes,
      (sku: string) => {
        const changes = db.prepare("INSERT INTO orders (sku, v) VALUES (?, 2)").run(sku).changes;
        db.transaction(() => db.prepare("DELETE FROM orders").run())();
        db.exec("DROP TABLE orders");
        candidateCount = (db.prepare("SELECT count(*) AS n FROM orders").get() as { n: number }).n;
        return changes;
      },
      { name },
    );
    assert.equal(place("sku-1"), 1);
    await place.experiment.settled();
    const rows = new Database(path.join(dir, "shop.db"), { readonly: true }).prepare("SELECT sku, v FROM orders").all();
    raw.close();
    assert.deepEqual(rows, [{ sku: "sku-1", v: 1 }]);
    assert.equal(candidateCount, 1, "a read in shadow passes through");
    const r = h.memory.results.find((x) => x.experiment === name);
    assert.ok(r?.candidates[0]?.effects.length && r.candidates[0].effects.every((e) => e.blocked));
    // The sunk insert answers { changes: 0 }, so the value differs too; the effects are diffed as well.
    assert.ok(r?.mismatches[0]?.diffs.some((d) => d.path.startsWith("effects[")));
  });

  it("penumbra/nodemailer: with the tripwire on, the control's mail arrives once and the candidate's never leaves", async () => {
    const smtp = await smtpServer();
    const uninstall = installTripwire();
    try {
      const transporter = nodemailer.createTransport({ host: "127.0.0.1", port: smtp.port, secure: false, ignoreTLS: true });
      const mailer = guardMailer(transporter);
      const name = uniqueName("mail");
      const send = shadow(
        async (to: string) => (await mailer.sendMail({ from: "shop@example.test", to, subject: "receipt v1", text: "v1" })).accepted,
        async (to: string) => (await mailer.sendMail({ from: "shop@example.test", to, subject: "receipt v2", text: "v2" })).accepted,
        { name },
      );
      assert.deepEqual(await send("ana@example.test"), ["ana@example.test"]);
      await send.experiment.settled();
      transporter.close();
      assert.equal(smtp.received.length, 1);
      assert.match(smtp.received[0] ?? "", /receipt v1/);
      const r = h.memory.results.find((x) => x.experiment === name);
      assert.deepEqual(r?.candidates[0]?.leaks, []);
      assert.equal(r?.candidates[0]?.effects[0]?.blocked, true);
    } finally {
      uninstall();
      await smtp.close();
    }
  });
});
