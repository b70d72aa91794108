/**
 * guardPg against a real PostgreSQL server (Debian's `postgresql`, started here as a plain process
 * on a loopback port), with the tripwire installed: every write form a candidate can make is sunk
 * and counted in the database (always 0 rows), the control's writes land exactly once, and a read
 * through the pool in a candidate still works on the connection the control opened.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import pg from "pg";
import { installTripwire } from "../../src/index";
import { guardPg } from "../../src/adapters/pg";
import { leaksOf, runOnce } from "../support/one-run";
import { postgresForSuite } from "../support/servers";

describe("guardPg against a real PostgreSQL server", function () {
  this.timeout(60_000);
  const postgres = postgresForSuite("CREATE TABLE orders (id serial PRIMARY KEY, sku text NOT NULL, who text NOT NULL)");
  let uninstall: (() => void) | undefined;

  beforeEach(async () => {
    await postgres.admin.query("TRUNCATE orders RESTART IDENTITY");
    uninstall = installTripwire();
  });

  afterEach(() => {
    uninstall?.();
    uninstall = undefined;
  });

  /** Rows written by whom, as the database has them. */
  async function written(who: string): Promise<number> {
    const { rows } = await postgres.admin.query<{ n: string }>("SELECT count(*) AS n FROM orders WHERE who = $1", [who]);
    return Number(rows[0]?.n ?? -1);
  }

  it("sinks a candidate's INSERT through a Pool in text, values and config forms, and a CTE with INSERT … RETURNING", async () => {
    const pool = guardPg(new pg.Pool({ ...postgres.config, max: 2 }));
    const result = await runOnce(
      () => pool.query("INSERT INTO orders (sku, who) VALUES ('apple', 'control')"),
      async () => {
        await pool.query("INSERT INTO orders (sku, who) VALUES ('apple', 'candidate')");
        await pool.query("INSERT INTO orders (sku, who) VALUES ($1, $2)", ["pear", "candidate"]);
        await pool.query({ text: "INSERT INTO orders (sku, who) VALUES ($1, $2)", values: ["fig", "candidate"] });
        const cte = await pool.query("WITH ins AS (INSERT INTO orders (sku, who) VALUES ('kiwi', 'candidate') RETURNING id) SELECT id FROM ins");
        return cte.rowCount;
      },
    );
    await pool.end();
    assert.equal(await written("control"), 1);
    assert.equal(await written("candidate"), 0);
    assert.equal(result.candidates[0]?.value, 0);
    assert.deepEqual((result.candidates[0]?.effects ?? []).map((e) => e.blocked), [true, true, true, true]);
    assert.deepEqual(leaksOf(result), []);
  });

  it("sinks a candidate's prepared statement and transaction on a Client, and runs the control's", async () => {
    const client = guardPg(new pg.Client(postgres.config));
    await client.connect();
    const insert = (who: string) => ({ name: "insert-order", text: "INSERT INTO orders (sku, who) VALUES ($1, $2)", values: ["plum", who] });
    const result = await runOnce(
      async () => {
        await client.query("BEGIN");
        await client.query(insert("control"));
        await client.query("COMMIT");
      },
      async () => {
        await client.query("BEGIN");
        await client.query(insert("candidate"));
        await client.query("COMMIT");
      },
    );
    const open = await client.query<{ s: string }>("SELECT current_setting('transaction_isolation') AS s");
    await client.end();
    assert.equal(open.rowCount, 1, "the shared session is usable after the candidate's sunk transaction");
    assert.equal(await written("control"), 1);
    assert.equal(await written("candidate"), 0);
    assert.deepEqual((result.candidates[0]?.effects ?? []).map((e) => [e.args[0], e.blocked]), [
      ["BEGIN", true],
      ["INSERT INTO orders (sku, who) VALUES ($1, $2)", true],
      ["COMMIT", true],
    ]);
  });

  it("sinks a candidate's transaction on a client checked out with pool.connect(), and the client goes back to the pool", async () => {
    const pool = guardPg(new pg.Pool({ ...postgres.config, max: 1 }));
    const result = await runOnce(
      async () => (await pool.query("SELECT 1 AS one")).rows[0],
      async () => {
        const client = await pool.connect();
        try {
          await client.query("BEGIN");
          await client.query("INSERT INTO orders (sku, who) VALUES ('lime', 'candidate')");
          await client.query("COMMIT");
        } finally {
          client.release();
        }
        return { one: 1 };
      },
    );
    const after = await pool.query("SELECT count(*)::int AS n FROM orders");
    await pool.end();
    assert.deepEqual(after.rows, [{ n: 0 }]);
    assert.equal(await written("candidate"), 0);
    assert.equal(result.candidates[0]?.threw, false);
    assert.equal((result.candidates[0]?.effects ?? []).length, 3);
  });

  it("sinks a candidate's COPY to a server-side file: the file never appears", async () => {
    const pool = guardPg(new pg.Pool(postgres.config));
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "penumbra-copy-"));
    fs.chmodSync(dir, 0o777);
    const file = path.join(dir, "orders.csv");
    const result = await runOnce(
      async () => "control",
      async () => (await pool.query(`COPY orders TO '${file}' WITH (FORMAT csv)`)).command,
    );
    await pool.end();
    assert.equal(fs.existsSync(file), false);
    assert.equal(result.candidates[0]?.value, "COPY");
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("delivers the control's NOTIFY once and none of the candidate's, whether NOTIFY, pg_notify or a LISTEN", async () => {
    const listener = new pg.Client(postgres.config);
    await listener.connect();
    const heard: string[] = [];
    listener.on("notification", (n) => heard.push(n.payload ?? ""));
    await listener.query("LISTEN orders_changed");
    const pool = guardPg(new pg.Pool(postgres.config));
    const result = await runOnce(
      () => pool.query("NOTIFY orders_changed, 'control'"),
      async () => {
        await pool.query("NOTIFY orders_changed, 'candidate'");
        await pool.query("SELECT pg_notify('orders_changed', 'candidate-2')");
        await pool.query("LISTEN orders_changed");
      },
    );
    await pool.query("SELECT pg_sleep(0.1)");
    await pool.end();
    await listener.end();
    assert.deepEqual(heard, ["control"]);
    assert.equal((result.candidates[0]?.effects ?? []).filter((e) => e.blocked).length, 3);
  });

  it("lets a candidate's read through the pool work on the connection the control opened, measured", async () => {
    await postgres.admin.query("INSERT INTO orders (sku, who) VALUES ('apple', 'seed'), ('pear', 'seed')");
    const raw = new pg.Pool({ ...postgres.config, max: 1 });
    const pool = guardPg(raw);
    const count = async () => (await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM orders")).rows[0]?.n;
    const result = await runOnce(count, count);
    assert.equal(raw.totalCount, 1, "one connection, opened by the control, served both");
    await pool.end();
    assert.equal(result.control.value, 2);
    assert.equal(result.candidates[0]?.value, 2);
    assert.deepEqual(leaksOf(result), []);
  });

  it("stops a raw prototype query applied to a pooled client as a socket write: a leak, 0 rows, and the pool recovers", async () => {
    const raw = new pg.Pool({ ...postgres.config, max: 1 });
    raw.on("error", () => undefined);
    const pool = guardPg(raw);
    await pool.query("SELECT 1");
    const result = await runOnce(
      async () => "control",
      async () => {
        const client = await pool.connect();
        client.on("error", () => undefined);
        // The callback form: the promise form stops before any I/O (the guarded client hands out its
        // `_Promise` as a guarded method, which cannot be constructed), so only this one reaches the socket.
        const query = (Object.getPrototypeOf(client) as pg.Client).query as (text: string, callback: (error: Error | undefined) => void) => void;
        try {
          await new Promise<void>((resolve, reject) => {
            query.call(client, "INSERT INTO orders (sku, who) VALUES ('raw', 'candidate')", (error) => (error ? reject(error) : resolve()));
          });
          client.release();
          return "inserted";
        } catch (error) {
          client.release(error as Error);
          return `refused ${(error as NodeJS.ErrnoException).code ?? ""}`;
        }
      },
    );
    const again = await pool.query("INSERT INTO orders (sku, who) VALUES ('after', 'control') RETURNING id");
    await pool.end();
    assert.equal(result.candidates[0]?.value, "refused ESHADOW");
    // The INSERT's write is the one leak; the pool then closing the broken client is the pool's, not the candidate's.
    assert.deepEqual(leaksOf(result), [{ kind: "network", target: `127.0.0.1:${postgres.config.port ?? 0}`, blocked: true }]);
    assert.equal(again.rowCount, 1);
    assert.equal(await written("candidate"), 0);
  });
});
