/**
 * `guard()` (not a ready adapter) over real clients talking to real servers, with no tripwire: the
 * guard alone must keep the candidate's effects from arriving, and the control's must arrive once.
 */
import { strict as assert } from "node:assert";
import nodemailer from "nodemailer";
import pg from "pg";
import { guard } from "../../src/index";
import { guardMailer } from "../../src/adapters/nodemailer";
import { guardPg } from "../../src/adapters/pg";
import { runOnce } from "../support/one-run";
import { connectWhenReady, postgresForSuite, smtpServer } from "../support/servers";

describe("guard() over real clients and servers, without the tripwire", function () {
  this.timeout(60_000);

  describe("a pg Pool used callback-style", () => {
    const postgres = postgresForSuite("CREATE TABLE orders (id serial PRIMARY KEY, who text NOT NULL)");

    async function written(who: string): Promise<number> {
      const { rows } = await postgres.admin.query<{ n: string }>("SELECT count(*) AS n FROM orders WHERE who = $1", [who]);
      return Number(rows[0]?.n ?? -1);
    }

    it("never lets a candidate's INSERT through the client pool.connect hands its callback arrive, and the control's once", async () => {
      const pool = guard("pg", new pg.Pool({ ...postgres.config, max: 2 }), {
        effects: ["query"],
        sink: { query: async () => ({ rowCount: 0, rows: [] }) },
      });
      /** Checks a client out callback-style, inserts through it, gives it back. */
      const insert = (who: string): Promise<unknown> =>
        new Promise((resolve, reject) => {
          pool.connect((error, client, release) => {
            if (error !== undefined && error !== null) return reject(error);
            Promise.resolve((client as pg.PoolClient).query("INSERT INTO orders (who) VALUES ($1)", [who])).then(
              (inserted) => {
                release();
                resolve((inserted as { rowCount: number }).rowCount);
              },
              (failure: unknown) => {
                release();
                reject(failure as Error);
              },
            );
          });
        });
      try {
        const result = await runOnce(
          () => insert("control"),
          async () => {
            await insert("candidate");
            await insert("candidate");
            return 1;
          },
        );
        assert.equal(result.control.error, undefined);
        assert.equal(result.candidates[0]?.error, undefined);
        assert.equal(await written("control"), 1);
        assert.equal(await written("candidate"), 0);
        assert.deepEqual(
          result.candidates[0]?.effects.map((effect) => [effect.name, effect.args, effect.blocked]),
          [
            ["pg.query", ["INSERT INTO orders (who) VALUES ($1)", ["candidate"]], true],
            ["pg.query", ["INSERT INTO orders (who) VALUES ($1)", ["candidate"]], true],
          ],
        );
      } finally {
        await pool.end();
      }
    });

    it("never lets guardPg run a candidate's setval or pg_notify called by a quoted name, and runs the control's", async () => {
      const pool = guardPg(new pg.Pool({ ...postgres.config, max: 2 }));
      const listener = await connectWhenReady(postgres.config);
      const heard: string[] = [];
      listener.on("notification", (message) => heard.push(message.payload ?? ""));
      await listener.query("LISTEN orders");
      try {
        await runOnce(
          () => pool.query(`SELECT "pg_notify"('orders', 'control')`),
          async () => {
            await pool.query(`SELECT "setval"('orders_id_seq', 1000)`);
            await pool.query(`SELECT "pg_catalog"."pg_notify"('orders', 'candidate')`);
            return 1;
          },
        );
        await postgres.admin.query("SELECT pg_sleep(0.2)");
        assert.deepEqual(heard, ["control"]);
        const { rows } = await postgres.admin.query<{ id: number }>("INSERT INTO orders (who) VALUES ('after') RETURNING id");
        assert.ok((rows[0]?.id ?? 0) < 1000, `the sequence moved to ${rows[0]?.id}`);
      } finally {
        await listener.end();
        await pool.end();
      }
    });
  });

  it("keeps a nodemailer transporter working through a compile plugin and verify callback, and sends only the control's mail, once", async () => {
    const server = await smtpServer();
    const transporter = nodemailer.createTransport({ host: "127.0.0.1", port: server.port, secure: false, ignoreTLS: true });
    const mailer = guard("mailer", transporter, { effects: ["sendMail"] });
    try {
      // Outside any experiment: a plugin gets the message (a class instance, so guarded now) and changes it.
      mailer.use("compile", (mail, done) => {
        mail.data.subject = `[shop] ${String(mail.data.subject)}`;
        done();
      });
      await new Promise<void>((resolve, reject) => mailer.verify((error) => (error ? reject(error) : resolve())));
      const send = (who: string): Promise<unknown> =>
        mailer.sendMail({ from: "shop@example.com", to: `${who}@example.com`, subject: `receipt for ${who}`, text: "thanks" });
      await send("outside");
      const result = await runOnce(
        () => send("control"),
        async () => {
          await send("candidate");
          // A listener on the guarded transporter gets it as `this`: its sendMail stays guarded.
          let fromListener: unknown;
          mailer.once("shadow-test", function (this: typeof mailer) {
            fromListener = this.sendMail({ from: "shop@example.com", to: "listener@example.com", subject: "receipt for a listener", text: "x" });
          });
          mailer.emit("shadow-test");
          await fromListener;
          return 1;
        },
      );
      assert.equal(result.control.error, undefined);
      const recipients = server.received.map((message) => /^To: (.*)$/m.exec(message)?.[1]);
      assert.deepEqual(recipients, ["outside@example.com", "control@example.com"]);
      assert.ok(server.received.every((message) => /^Subject: \[shop\] receipt for/m.test(message)));
      assert.deepEqual(
        result.candidates[0]?.effects.map((effect) => [effect.name, effect.blocked]),
        [
          ["mailer.sendMail", true],
          ["mailer.sendMail", true],
        ],
      );
    } finally {
      transporter.close();
      await server.close();
    }
  });

  it("hands a listener on a guardMailer transporter the guarded transporter as this, so a candidate's mail from it never arrives", async () => {
    const server = await smtpServer();
    const transporter = nodemailer.createTransport({ host: "127.0.0.1", port: server.port, secure: false, ignoreTLS: true });
    const mailer = guardMailer(transporter);
    const onOrder = function (this: typeof mailer, who: string): Promise<unknown> {
      return this.sendMail({ from: "shop@example.com", to: `${who}@example.com`, subject: "order", text: "x" });
    };
    let pending: unknown[] = [];
    mailer.on("order", function (this: typeof mailer, who: string) {
      pending.push(onOrder.call(this, who));
    });
    try {
      const result = await runOnce(
        async () => {
          mailer.emit("order", "control");
          await Promise.all(pending);
          return 1;
        },
        async () => {
          mailer.emit("order", "candidate");
          return 1;
        },
      );
      await Promise.all(pending);
      pending = [];
      assert.equal(result.control.error, undefined);
      assert.deepEqual(
        server.received.map((message) => /^To: (.*)$/m.exec(message)?.[1]),
        ["control@example.com"],
      );
      assert.deepEqual(result.candidates[0]?.effects.map((effect) => [effect.name, effect.blocked]), [["mailer.sendMail", true]]);
    } finally {
      mailer.removeAllListeners("order");
      transporter.close();
      await server.close();
    }
  });
});
