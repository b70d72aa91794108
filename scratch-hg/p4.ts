import Database from "better-sqlite3";
import { shadow } from "../src/index";
import { guardSqlite } from "../src/adapters/better-sqlite3";
(async () => {
  const raw = new Database(":memory:");
  const db = guardSqlite(raw);
  const results: any[] = [];
  const w = shadow(() => 1, () => { db.pragma("query_only = 1"); return 1; }, { publish: (r) => { results.push(r); }, name: "x" });
  w(); await w.experiment.settled();
  console.log(JSON.stringify(results[0].candidates[0].effects), raw.pragma("query_only", { simple: true }));
})();
