import { strict as assert } from "node:assert";
import { shadow, ShadowBlockedError, type Result } from "../../src/index";
import { classifyPgQuery, guardPg } from "../../src/adapters/pg";
import { collector, resetConfiguration } from "../support/capture";

async function runOnce<T>(control: () => Promise<T>, candidate: () => Promise<T>): Promise<Result<unknown>> {
  const sink = collector();
  const wrapped = shadow(control, candidate, { publish: sink });
  await wrapped();
  await wrapped.experiment.settled();
  assert.equal(sink.results.length, 1);
  return sink.results[0] as Result<unknown>;
}

type Callback = (error: Error | null, result?: unknown) => void;

/** A pg-shaped client: every query that reaches it is counted; `refuse` makes it fail like a read-only session. */
class FakeClient {
  queries: string[] = [];
  refuse: RegExp | undefined;
  query(config: string | { text: string; values?: unknown[] }, values?: unknown[] | Callback, callback?: Callback): unknown {
    const text = typeof config === "string" ? config : config.text;
    this.queries.push(text);
    const cb = typeof values === "function" ? values : callback;
    const error =
      this.refuse?.test(text) === true ? Object.assign(new Error("cannot execute nextval() in a read-only transaction"), { code: "25006" }) : null;
    const result = { command: "SELECT", rowCount: 1, rows: [{ n: 1 }], fields: [] };
    if (cb !== undefined) return void setImmediate(() => (error === null ? cb(null, result) : cb(error)));
    return error === null ? Promise.resolve(result) : Promise.reject(error);
  }
  async connect(): Promise<FakeClient> {
    return this.pooled;
  }
  pooled!: FakeClient;
  end(): string {
    return "ended";
  }
}

describe("classifyPgQuery", () => {
  const cases: [string, "read" | "write", string][] = [
    ["SELECT * FROM orders", "read", "SELECT"],
    ["  select 1", "read", "SELECT"],
    ["SHOW search_path", "read", "SHOW"],
    ["VALUES (1), (2)", "read", "VALUES"],
    ["TABLE orders", "read", "TABLE"],
    ["(SELECT 1) UNION (SELECT 2)", "read", "SELECT"],
    ["EXPLAIN DELETE FROM orders", "read", "EXPLAIN"],
    ["EXPLAIN ANALYZE DELETE FROM orders", "write", "EXPLAIN"],
    ["EXPLAIN (ANALYZE, BUFFERS) UPDATE orders SET qty = 0", "write", "EXPLAIN"],
    ["EXPLAIN (ANALYZE false) UPDATE orders SET qty = 0", "read", "EXPLAIN"],
    ["EXPLAIN ANALYZE SELECT * FROM orders", "read", "EXPLAIN"],
    ["-- INSERT in a comment\nSELECT 1", "read", "SELECT"],
    ["/* DELETE /* nested */ here */ SELECT 'DROP TABLE x; INSERT'", "read", "SELECT"],
    ["SELECT $$ UPDATE orders $$, $tag$ ; DELETE $tag$", "read", "SELECT"],
    ['SELECT "update" FROM "for update"', "read", "SELECT"],
    ["SELECT E'it\\'s ; DELETE'", "read", "SELECT"],
    ["WITH recent AS (SELECT * FROM orders) SELECT count(*) FROM recent", "read", "SELECT"],
    ["WITH RECURSIVE t(n) AS (VALUES (1) UNION ALL SELECT n + 1 FROM t WHERE n < 5) SELECT * FROM t", "read", "SELECT"],
    ["WITH moved AS (DELETE FROM orders RETURNING *) SELECT * FROM moved", "write", "SELECT"],
    ["WITH a AS MATERIALIZED (SELECT 1), b AS (UPDATE orders SET qty = 1 RETURNING id) SELECT * FROM b", "write", "SELECT"],
    ["WITH a AS (SELECT 1) INSERT INTO orders SELECT * FROM a", "write", "INSERT"],
    ["INSERT INTO orders (sku) VALUES ($1)", "write", "INSERT"],
    ["update orders set qty = 0", "write", "UPDATE"],
    ["DELETE FROM orders", "write", "DELETE"],
    ["MERGE INTO orders USING src ON true WHEN MATCHED THEN DELETE", "write", "MERGE"],
    ["CREATE TABLE t (id int)", "write", "CREATE"],
    ["ALTER TABLE t ADD COLUMN x int", "write", "ALTER"],
    ["DROP TABLE t", "write", "DROP"],
    ["TRUNCATE orders", "write", "TRUNCATE"],
    ["GRANT SELECT ON orders TO bob", "write", "GRANT"],
    ["COPY orders FROM STDIN", "write", "COPY"],
    ["CALL archive_orders()", "write", "CALL"],
    ["DO $$ BEGIN PERFORM 1; END $$", "write", "DO"],
    ["BEGIN", "write", "BEGIN"],
    ["SET statement_timeout = 0", "write", "SET"],
    ["SELECT * FROM orders WHERE id = 1 FOR UPDATE", "write", "SELECT"],
    ["SELECT * FROM orders FOR NO KEY UPDATE SKIP LOCKED", "write", "SELECT"],
    ["SELECT * FROM orders FOR SHARE", "write", "SELECT"],
    ["SELECT nextval('orders_id_seq')", "write", "SELECT"],
    ["SELECT setval('orders_id_seq', 10)", "write", "SELECT"],
    ["SELECT pg_notify('orders', 'created')", "write", "SELECT"],
    ["SELECT set_config('app.user', '1', false)", "write", "SELECT"],
    ["SELECT pg_advisory_lock(42)", "write", "SELECT"],
    ["SELECT pg_try_advisory_xact_lock(42)", "write", "SELECT"],
    // Session state a pooled connection carries into the control's next query, and server files.
    ["SELECT setseed(0.5)", "write", "SELECT"],
    ["SELECT pg_file_write('/tmp/x', 'data', false)", "write", "SELECT"],
    ["SELECT pg_file_unlink('/tmp/x')", "write", "SELECT"],
    ["SELECT pg_promote()", "write", "SELECT"],
    ["SELECT pg_replication_origin_advance('o', '0/1')", "write", "SELECT"],
    ["SELECT pg_read_file('postgresql.conf')", "read", "SELECT"],
    ["SELECT * INTO backup FROM orders", "write", "SELECT"],
    ["SELECT 1; DELETE FROM orders", "write", "DELETE"],
    ["VACUUM", "write", "VACUUM"],
    ["SELECT place_order(1)", "read", "SELECT"],
  ];
  for (const [sql, kind, command] of cases) {
    it(`classifies ${JSON.stringify(sql)} as a ${kind} (${command})`, () => {
      assert.deepEqual(classifyPgQuery(sql), { kind, command });
    });
  }
});

describe("guardPg", () => {
  afterEach(resetConfiguration);

  it("sinks a candidate's write with an empty result, promise style, and records it with its values", async () => {
    const raw = new FakeClient();
    const pg = guardPg(raw);
    let answer: unknown;
    const result = await runOnce(
      async () => 1,
      async () => {
        answer = await pg.query("UPDATE stock SET qty = qty - $1 WHERE sku = $2", [1, "apple"]);
        return 1;
      },
    );
    assert.deepEqual(raw.queries, []);
    assert.deepEqual(answer, { command: "UPDATE", rowCount: 0, rows: [], fields: [] });
    assert.deepEqual(result.candidates[0]?.effects, [
      { name: "pg.query", args: ["UPDATE stock SET qty = qty - $1 WHERE sku = $2", [1, "apple"]], role: "candidate", blocked: true },
    ]);
  });

  it("answers a candidate's callback-style write through the callback, asynchronously", async () => {
    const raw = new FakeClient();
    const pg = guardPg(raw);
    const seen: unknown[] = [];
    await runOnce(
      async () => 1,
      () =>
        new Promise<number>((resolve) => {
          let returned = false;
          pg.query({ text: "INSERT INTO orders (sku) VALUES ($1) RETURNING id", values: ["pear"] }, (error: Error | null, res?: unknown) => {
            seen.push(error, res, returned);
            resolve(1);
          });
          returned = true;
        }),
    );
    assert.deepEqual(raw.queries, []);
    assert.deepEqual(seen, [null, { command: "INSERT", rowCount: 0, rows: [], fields: [] }, true]);
  });

  it("lets a candidate's reads through unrecorded and the control's writes through recorded", async () => {
    const raw = new FakeClient();
    const pg = guardPg(raw, { name: "orders" });
    const result = await runOnce(
      async () => {
        await pg.query("INSERT INTO orders (sku) VALUES ('fig')");
        return ((await pg.query("SELECT 1 AS n")) as { rows: unknown[] }).rows;
      },
      async () => {
        await pg.query("INSERT INTO orders (sku) VALUES ('fig')");
        return ((await pg.query("SELECT 1 AS n")) as { rows: unknown[] }).rows;
      },
    );
    assert.deepEqual(raw.queries, ["INSERT INTO orders (sku) VALUES ('fig')", "SELECT 1 AS n", "SELECT 1 AS n"]);
    assert.deepEqual(result.control.effects, [
      { name: "orders.query", args: ["INSERT INTO orders (sku) VALUES ('fig')"], role: "control", blocked: false },
    ]);
    assert.deepEqual(result.candidates[0]?.value, [{ n: 1 }]);
    assert.deepEqual(result.candidates[0]?.effects.map((e) => e.blocked), [true]);
  });

  it("guards the clients a pool hands out and passes other methods through", async () => {
    const pool = new FakeClient();
    pool.pooled = new FakeClient();
    const pg = guardPg(pool);
    await runOnce(
      async () => 1,
      async () => {
        const client = await pg.connect();
        await client.query("DELETE FROM orders");
        await client.query("SELECT 1");
        return 1;
      },
    );
    assert.deepEqual(pool.pooled.queries, ["SELECT 1"]);
    assert.equal(pg.end(), "ended");
  });

  it("with readOnly, turns a shadow read the server refuses as a write into a recorded blocked effect", async () => {
    const raw = new FakeClient();
    raw.refuse = /sneaky/;
    const pg = guardPg(raw, { readOnly: true });
    const answers: unknown[] = [];
    const result = await runOnce(
      async () => 1,
      async () => {
        answers.push(await pg.query("SELECT sneaky()"));
        answers.push(await new Promise((resolve) => pg.query("SELECT sneaky($1)", [2], (_e: Error | null, r?: unknown) => resolve(r))));
        return 1;
      },
    );
    assert.deepEqual(answers, [
      { command: "SELECT", rowCount: 0, rows: [], fields: [] },
      { command: "SELECT", rowCount: 0, rows: [], fields: [] },
    ]);
    assert.deepEqual(
      result.candidates[0]?.effects.map((e) => [e.args, e.blocked]),
      [
        [["SELECT sneaky()"], true],
        [["SELECT sneaky($1)", [2]], true],
      ],
    );
  });

  it("without readOnly, lets the server's refusal reach the candidate", async () => {
    const raw = new FakeClient();
    raw.refuse = /sneaky/;
    const pg = guardPg(raw);
    const result = await runOnce(
      async () => 1,
      async () => {
        await pg.query("SELECT sneaky()");
        return 1;
      },
    );
    assert.equal((result.candidates[0]?.error as { code?: string } | undefined)?.code, "25006");
  });

  it("refuses a candidate's submittable that carries a write", async () => {
    const raw = new FakeClient();
    const pg = guardPg(raw);
    let caught: unknown;
    await runOnce(
      async () => 1,
      async () => {
        try {
          pg.query({ text: "DELETE FROM orders", submit: () => undefined } as unknown as string);
        } catch (error) {
          caught = error;
        }
        return 1;
      },
    );
    assert.ok(caught instanceof ShadowBlockedError);
    assert.deepEqual(raw.queries, []);
  });

  it("is transparent outside any experiment", async () => {
    const raw = new FakeClient();
    const pg = guardPg(raw);
    assert.deepEqual(((await pg.query("DELETE FROM orders")) as { rowCount: number }).rowCount, 1);
    assert.deepEqual(raw.queries, ["DELETE FROM orders"]);
  });
});
