import Database from "better-sqlite3";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { shadow } from "../src/index";
import { guardSqlite } from "../src/adapters/better-sqlite3";
(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hg-"));
  const file = path.join(dir, "a.db");
  const raw = new Database(file);
  raw.exec("CREATE TABLE t (x)");
  const db = guardSqlite(raw);
  const stmts = ["PRAGMA user_version = 7", "PRAGMA journal_mode = WAL", `VACUUM INTO '${path.join(dir, "copy.db")}'`, "PRAGMA application_id = 9", "PRAGMA auto_vacuum = 1", "PRAGMA wal_checkpoint(TRUNCATE)", "PRAGMA optimize", "ANALYZE", "REINDEX", "PRAGMA incremental_vacuum"];
  for (const sql of stmts) {
    const results: any[] = [];
    const w = shadow(() => 1, () => { const s = db.prepare(sql); const ro = (s as any).readonly; try { (s as any).reader ? s.all() : s.run(); } catch (e) { return "err " + (e as Error).message; } return "ro=" + ro; }, { publish: (r) => { results.push(r); }, name: "p" + sql.length + Math.random() });
    w(); await w.experiment.settled();
    const r = results[0];
    console.log(sql.slice(0, 40).padEnd(40), r.candidates[0].value, JSON.stringify(r.candidates[0].effects.map((e: any) => e.blocked)), "uv=", raw.pragma("user_version", { simple: true }), "jm=", raw.pragma("journal_mode", { simple: true }), "copy=", fs.existsSync(path.join(dir, "copy.db")), "appid=", raw.pragma("application_id", { simple: true }), "av=", raw.pragma("auto_vacuum", { simple: true }));
  }
  const results: any[] = [];
  const w = shadow(() => 1, () => { db.pragma("user_version = 8"); (db as any).pragma("journal_mode = WAL"); return 1; }, { publish: (r) => { results.push(r); }, name: "pragma-m" });
  w(); await w.experiment.settled();
  console.log("pragma()", JSON.stringify(results[0].candidates[0].effects.map((e: any) => [e.name, e.args, e.blocked])), raw.pragma("user_version", { simple: true }), raw.pragma("journal_mode", { simple: true }));
})();
