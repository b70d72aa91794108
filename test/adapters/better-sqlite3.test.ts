import { strict as assert } from "node:assert";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { guardSqlite } from "../../src/adapters/better-sqlite3";
import { resetConfiguration } from "../support/capture";
import { runOnce } from "../support/one-run";

describe("guardSqlite", () => {
  let dir: string;
  let raw: Database.Database;
  let db: Database.Database;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "penumbra-sqlite-"));
    raw = new Database(path.join(dir, "shop.db"));
    raw.exec("CREATE TABLE orders (id INTEGER PRIMARY KEY, sku TEXT NOT NULL, qty INTEGER NOT NULL)");
    raw.prepare("INSERT INTO orders (sku, qty) VALUES (?, ?)").run("apple", 1);
    raw.prepare("INSERT INTO orders (sku, qty) VALUES (?, ?)").run("pear", 2);
    db = guardSqlite(raw);
  });

  afterEach(() => {
    resetConfiguration();
    raw.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const rows = () => raw.prepare("SELECT id, sku, qty FROM orders ORDER BY id").all();

  it("sinks a candidate's INSERT, UPDATE, DELETE, INSERT … RETURNING and exec, and records each", async () => {
    const before = rows();
    const answers: unknown[] = [];
    const result = await runOnce(
      () => 0,
      () => {
        answers.push(db.prepare("INSERT INTO orders (sku, qty) VALUES (?, ?)").run("plum", 3));
        answers.push(db.prepare("UPDATE orders SET qty = qty + 10").run());
        answers.push(db.prepare("DELETE FROM orders WHERE sku = ?").run("apple"));
        answers.push(db.prepare("INSERT INTO orders (sku, qty) VALUES (?, ?) RETURNING id").get("kiwi", 4));
        answers.push(db.prepare("INSERT INTO orders (sku, qty) VALUES ('fig', 5) RETURNING *").all());
        answers.push([...db.prepare("DELETE FROM orders RETURNING id").iterate()]);
        answers.push(db.exec("DROP TABLE orders") === db);
        return 0;
      },
    );
    assert.deepEqual(rows(), before);
    assert.deepEqual(answers, [
      { changes: 0, lastInsertRowid: 0 },
      { changes: 0, lastInsertRowid: 0 },
      { changes: 0, lastInsertRowid: 0 },
      undefined,
      [],
      [],
      true,
    ]);
    const effects = result.candidates[0]?.effects ?? [];
    assert.deepEqual(
      effects.map((e) => [e.name, e.args, e.blocked]),
      [
        ["db.run", ["INSERT INTO orders (sku, qty) VALUES (?, ?)", "plum", 3], true],
        ["db.run", ["UPDATE orders SET qty = qty + 10"], true],
        ["db.run", ["DELETE FROM orders WHERE sku = ?", "apple"], true],
        ["db.get", ["INSERT INTO orders (sku, qty) VALUES (?, ?) RETURNING id", "kiwi", 4], true],
        ["db.all", ["INSERT INTO orders (sku, qty) VALUES ('fig', 5) RETURNING *"], true],
        ["db.iterate", ["DELETE FROM orders RETURNING id"], true],
        ["db.exec", ["DROP TABLE orders"], true],
      ],
    );
  });

  it("lets a candidate's SELECTs read real rows and records no reads", async () => {
    let seen: unknown;
    const result = await runOnce(
      () => 0,
      () => {
        const count = db.prepare("SELECT count(*) AS n FROM orders").get() as { n: number };
        const skus = db.prepare("SELECT sku FROM orders ORDER BY id").pluck().all();
        seen = { n: count.n, skus, iterated: [...db.prepare("SELECT qty FROM orders ORDER BY id").iterate()] };
        return 0;
      },
    );
    assert.deepEqual(seen, { n: 2, skus: ["apple", "pear"], iterated: [{ qty: 1 }, { qty: 2 }] });
    assert.deepEqual(result.candidates[0]?.effects, []);
  });

  it("writes the control's statements for real and records them, while the candidate's same write is sunk", async () => {
    const insert = db.prepare("INSERT INTO orders (sku, qty) VALUES (?, ?) RETURNING id");
    const result = await runOnce(
      () => (insert.get("plum", 3) as { id: number } | undefined)?.id ?? -1,
      () => (insert.get("plum", 3) as { id: number } | undefined)?.id ?? -1,
    );
    assert.deepEqual(rows(), [
      { id: 1, sku: "apple", qty: 1 },
      { id: 2, sku: "pear", qty: 2 },
      { id: 3, sku: "plum", qty: 3 },
    ]);
    assert.equal(result.control.value, 3);
    assert.equal(result.candidates[0]?.value, -1);
    assert.deepEqual(result.control.effects, [
      { name: "db.get", args: ["INSERT INTO orders (sku, qty) VALUES (?, ?) RETURNING id", "plum", 3], role: "control", blocked: false },
    ]);
    assert.equal(result.candidates[0]?.effects[0]?.blocked, true);
  });

  it("runs a candidate's transaction with its writes sunk one by one", async () => {
    const move = db.transaction((from: string, to: string) => {
      db.prepare("UPDATE orders SET qty = qty - 1 WHERE sku = ?").run(from);
      db.prepare("UPDATE orders SET qty = qty + 1 WHERE sku = ?").run(to);
      return (db.prepare("SELECT sum(qty) AS total FROM orders").get() as { total: number }).total;
    });
    const before = rows();
    const result = await runOnce(
      () => 0,
      () => move("apple", "pear"),
    );
    assert.deepEqual(rows(), before);
    assert.equal(result.candidates[0]?.value, 3);
    assert.deepEqual(result.candidates[0]?.effects.map((e) => e.name), ["db.run", "db.run"]);
  });

  it("treats transaction control, writing pragmas and connection changes as effects in a shadow run", async () => {
    let pragmaRead: unknown;
    await runOnce(
      () => 0,
      () => {
        db.prepare("BEGIN").run();
        db.pragma("user_version = 7");
        pragmaRead = db.pragma("user_version", { simple: true });
        db.close();
        return 0;
      },
    );
    assert.equal(raw.inTransaction, false);
    assert.equal(raw.open, true);
    assert.equal(raw.pragma("user_version", { simple: true }), 0);
    assert.equal(pragmaRead, 0);
  });

  it("records parameters given to bind() and keeps a chained statement guarded", async () => {
    const result = await runOnce(
      () => 0,
      () => {
        db.prepare("DELETE FROM orders WHERE sku = ?").bind("pear").run();
        db.prepare("INSERT INTO orders (sku, qty) VALUES ('x', 1) RETURNING id").pluck().get();
        return 0;
      },
    );
    assert.equal(rows().length, 2);
    assert.deepEqual(
      result.candidates[0]?.effects.map((e) => e.args),
      [["DELETE FROM orders WHERE sku = ?", "pear"], ["INSERT INTO orders (sku, qty) VALUES ('x', 1) RETURNING id"]],
    );
  });

  it("is transparent outside any experiment", () => {
    const info = db.prepare("INSERT INTO orders (sku, qty) VALUES (?, ?)").run("plum", 3);
    assert.equal(info.changes, 1);
    assert.equal(db.exec("UPDATE orders SET qty = 0"), db);
    assert.deepEqual(
      rows().map((r) => (r as { qty: number }).qty),
      [0, 0, 0],
    );
  });

  it("hands out no raw database: statement.database, transaction(fn).database and .constructor lead back to guarded ones", async () => {
    const result = await runOnce(
      () => 1,
      () => {
        db.prepare("SELECT 1").database.prepare("INSERT INTO orders (sku, qty) VALUES ('via statement', 1)").run();
        (db.transaction(() => undefined) as unknown as { database: Database.Database }).database.prepare("INSERT INTO orders (sku, qty) VALUES ('via transaction', 1)").run();
        (db.transaction(() => undefined).immediate as unknown as { database: Database.Database }).database.exec("DELETE FROM orders");
        const Ctor = db.constructor as typeof Database;
        const other = new Ctor(path.join(dir, "shop.db"));
        other.prepare("INSERT INTO orders (sku, qty) VALUES ('via constructor', 1)").run();
        other.close();
        (Object.getOwnPropertyDescriptor(db, "prepare")?.value as typeof db.prepare | undefined)?.("SELECT 1");
        return 1;
      },
    );
    assert.deepEqual(rows().map((r) => (r as { sku: string }).sku), ["apple", "pear"]);
    assert.equal(db.prepare("SELECT 1").database, db);
    const blocked = (result.candidates[0]?.effects ?? []).filter((e) => e.blocked).map((e) => e.name);
    assert.deepEqual(blocked, ["db.run", "db.run", "db.exec", "db.run", "db.close"]);
  });
});
