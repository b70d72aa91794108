/**
 * guardSqlite and the PRAGMAs that change the connection the control shares. SQLite's
 * `sqlite3_stmt_readonly` is true for nearly every pragma assignment (`query_only = 1`,
 * `foreign_keys = OFF`, `max_page_count = 1`, `optimize` …), so "read-only statement" is no test
 * for them: a candidate's setting stays on the connection and changes what the control's next
 * statement does.
 */
import { strict as assert } from "node:assert";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import fc from "fast-check";
import { guardSqlite } from "../../src/adapters/better-sqlite3";
import { resetConfiguration } from "../support/capture";
import { runOnce } from "../support/one-run";

/** Pragma setters, with a value that differs from the default, and how to read the setting back. */
const SETTERS: readonly [name: string, value: string][] = [
  ["query_only", "1"],
  ["foreign_keys", "0"],
  ["synchronous", "0"],
  ["locking_mode", "EXCLUSIVE"],
  ["max_page_count", "1"],
  ["recursive_triggers", "1"],
  ["cache_size", "7"],
  ["busy_timeout", "1"],
  ["secure_delete", "1"],
  ["writable_schema", "1"],
  ["ignore_check_constraints", "1"],
  ["defer_foreign_keys", "1"],
  ["case_sensitive_like", "1"],
  ["automatic_index", "0"],
  ["trusted_schema", "0"],
  ["auto_vacuum", "1"],
];

describe("guardSqlite and connection pragmas", () => {
  let dir: string;
  let raw: Database.Database;
  let db: Database.Database;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "penumbra-pragmas-"));
    raw = new Database(path.join(dir, "shop.db"));
    raw.pragma("foreign_keys = ON");
    raw.exec("CREATE TABLE orders (id INTEGER PRIMARY KEY, sku TEXT NOT NULL, qty INTEGER NOT NULL CHECK (qty > 0)); CREATE INDEX orders_sku ON orders (sku)");
    const insert = raw.prepare("INSERT INTO orders (sku, qty) VALUES (?, ?)");
    for (let i = 0; i < 200; i++) insert.run(`sku${i % 9}`, 1 + (i % 5));
    raw.prepare("SELECT * FROM orders WHERE sku = 'sku3'").all();
    db = guardSqlite(raw);
  });

  afterEach(() => {
    resetConfiguration();
    raw.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const setting = (name: string): unknown => raw.pragma(name, { simple: true });

  it("never lets a candidate's pragma setting reach the shared connection, in pragma() or a prepared statement, = or () form", async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...SETTERS), fc.boolean(), fc.boolean(), async ([name, value], prepared, parens) => {
        const before = setting(name);
        const source = parens ? `${name}(${value})` : `${name} = ${value}`;
        const result = await runOnce(
          () => db.prepare("INSERT INTO orders (sku, qty) VALUES ('control', 1)").run().changes,
          () => {
            if (prepared) db.prepare(`PRAGMA ${source}`).run();
            else db.pragma(source);
            return 1;
          },
        );
        assert.equal(result.control.error, undefined);
        assert.equal(setting(name), before, `PRAGMA ${source} reached the connection`);
        assert.deepEqual(
          result.candidates[0]?.effects.map((effect) => effect.blocked),
          [true],
        );
      }),
      { numRuns: 40 },
    );
    // The control wrote once per run, and is still allowed to.
    assert.equal(raw.prepare("INSERT INTO orders (sku, qty) VALUES ('after', 1)").run().changes, 1);
  });

  it("keeps the control writing after a candidate's query_only, and never lets PRAGMA optimize write statistics from the shadow", async () => {
    const result = await runOnce(
      () => {
        return db.prepare("INSERT INTO orders (sku, qty) VALUES ('control', 1)").run().changes;
      },
      () => {
        db.pragma("query_only = ON");
        db.pragma("optimize");
        db.prepare("PRAGMA optimize").run();
        return 1;
      },
    );
    assert.equal(result.control.value, 1);
    assert.equal(db.prepare("INSERT INTO orders (sku, qty) VALUES ('next', 1)").run().changes, 1);
    assert.equal(raw.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'sqlite_stat1'").pluck().get(), 0);
  });

  it("still lets a candidate read settings and schema through pragmas, unrecorded", async () => {
    let seen: unknown[] = [];
    const result = await runOnce(
      () => 1,
      () => {
        seen = [
          db.pragma("user_version", { simple: true }),
          db.pragma("foreign_keys", { simple: true }),
          (db.pragma("table_info(orders)") as unknown[]).length,
          (db.pragma("index_list('orders')") as unknown[]).length,
          db.prepare("PRAGMA table_info(orders)").all().length,
          db.pragma("integrity_check", { simple: true }),
          (db.prepare("PRAGMA foreign_key_check").all() as unknown[]).length,
        ];
        return 1;
      },
    );
    assert.deepEqual(seen, [0, 1, 3, 1, 3, "ok", 0]);
    assert.deepEqual(result.candidates[0]?.effects, []);
  });
});
