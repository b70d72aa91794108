import Database from "better-sqlite3";
const db = new Database(":memory:");
db.exec("CREATE TABLE t (x)");
for (const p of ["query_only = 1", "locking_mode = EXCLUSIVE", "foreign_keys = OFF", "synchronous = OFF", "recursive_triggers = 1", "optimize", "cache_size = 10", "busy_timeout = 1", "temp_store = MEMORY", "secure_delete = 1", "writable_schema = 1", "ignore_check_constraints = 1", "defer_foreign_keys = 1", "case_sensitive_like = 1", "mmap_size = 0", "soft_heap_limit = 1", "hard_heap_limit = 1", "threads = 2", "reverse_unordered_selects = 1", "trusted_schema = 0", "cell_size_check = 1", "automatic_index = 0", "journal_size_limit = 1", "wal_autocheckpoint = 1", "analysis_limit = 1", "encoding = 'UTF-16'", "page_size = 1024", "max_page_count = 1", "shrink_memory", "user_version", "schema.user_version = 1", "legacy_alter_table = 1", "count_changes = 1", "full_column_names = 1", "short_column_names = 1", "empty_result_callbacks = 1"]) {
  let ro: unknown;
  try { ro = (db.prepare(`PRAGMA ${p}`) as any).readonly; } catch (e) { ro = "prepare error: " + (e as Error).message; }
  console.log(p.padEnd(30), ro);
}
