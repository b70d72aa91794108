import Database from "better-sqlite3";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { shadow } from "../src/index";
import { guardSqlite } from "../src/adapters/better-sqlite3";
(async () => {
  for (const sql of ["REINDEX", "PRAGMA optimize", "PRAGMA optimize=0x10002", "PRAGMA auto_vacuum = 1", "PRAGMA locking_mode = EXCLUSIVE", "PRAGMA schema_version", "SELECT 1"]) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hg-"));
    const file = path.join(dir, "a.db");
    const raw = new Database(file);
    raw.exec("CREATE TABLE t (x, y); CREATE INDEX tx ON t(x); CREATE INDEX ty ON t(y);");
    const ins = raw.prepare("INSERT INTO t VALUES (?, ?)");
    raw.transaction(() => { for (let i = 0; i < 2000; i++) ins.run(i % 7, i); })();
    raw.prepare("SELECT * FROM t WHERE x = 3 AND y > 5").all();
    const other = new Database(file);
    const dv0 = other.pragma("data_version", { simple: true });
    const before = fs.readFileSync(file);
    const db = guardSqlite(raw);
    const results: any[] = [];
    const w = shadow(() => 1, () => { const s = db.prepare(sql); (s as any).reader ? s.all() : s.run(); return 1; }, { publish: (r) => { results.push(r); }, name: "p" + Math.random() });
    w(); await w.experiment.settled();
    const after = fs.readFileSync(file);
    let lockErr = "";
    try { other.exec("INSERT INTO t VALUES (1,1)"); } catch (e) { lockErr = (e as Error).message; }
    console.log(sql.padEnd(28), "blocked=", JSON.stringify(results[0].candidates[0].effects.map((e: any) => e.blocked)), "err=", results[0].candidates[0].error?.message, "data_version changed:", other.pragma("data_version", { simple: true }) !== dv0, "file changed:", !before.equals(after), "stat1:", raw.prepare("SELECT count(*) n FROM sqlite_master WHERE name='sqlite_stat1'").get(), "other insert:", lockErr || "ok");
    raw.close(); other.close();
  }
})();
