/**
 * `guardSqlite`: a better-sqlite3 database made safe for shadow runs. SQLite is a file, not a socket,
 * so the tripwire never sees it: writes must be declared, statement by statement.
 */
import { callEffect, type EffectPolicy } from "../guard/effect-call";
import type { Family } from "../guard/proxy-values";
import { adapterName, inShadowRun, proxyClient, type Method } from "./client-proxy";

/**
 * Options of {@link guardSqlite}.
 *
 * @example
 * ```ts
 * const options: GuardSqliteOptions = { name: "orders" }; // effects are named "orders.run", …
 * ```
 */
export interface GuardSqliteOptions {
  /** The prefix of recorded effect names. @default "db" */
  name?: string;
}

/** What a shadow run's write statement answers, by method. */
const STATEMENT_SINKS: Readonly<Record<string, () => unknown>> = {
  run: () => ({ changes: 0, lastInsertRowid: 0 }),
  get: () => undefined,
  all: () => [],
  iterate: () => [][Symbol.iterator](),
};

/**
 * Database methods that change the connection or the files even though they run no write statement:
 * a candidate must not close, reconfigure or back up the database the control is using.
 */
const CONNECTION_EFFECTS: ReadonlySet<string> = new Set([
  "close",
  "backup",
  "function",
  "aggregate",
  "table",
  "loadExtension",
  "unsafeMode",
  "defaultSafeIntegers",
]);

/**
 * `sqlite3_stmt_readonly` is true for transaction control and ATTACH/DETACH, which change what the
 * control's next statements do on the shared connection: they count as writes.
 */
const CONNECTION_STATEMENT = /^(?:begin|commit|end|rollback|savepoint|release|attach|detach)\b/i;

/**
 * Wraps a better-sqlite3 `Database` so that each statement's writes are side effects.
 *
 * - A statement is a read when better-sqlite3 reports `statement.readonly` (SQLite's
 *   `sqlite3_stmt_readonly`), and passes through untouched. `statement.reader` is not used: it is true
 *   for `INSERT … RETURNING`. Transaction control (`BEGIN`, `COMMIT`, `SAVEPOINT`, …) and
 *   `ATTACH`/`DETACH` count as writes although SQLite calls them read-only.
 * - A write statement's `run()`, `get()`, `all()` and `iterate()` are effects named `db.run`,
 *   `db.get`, … with the arguments `[sql, ...params]` (parameters given to `bind()` are recorded
 *   when the call gives none). A `PRAGMA` is a read only in its getter form (`PRAGMA foreign_keys`)
 *   or as a schema read (`table_info(t)`, `index_list(t)`, `integrity_check`, …): SQLite calls nearly
 *   every pragma assignment read-only, but `query_only = 1` or `max_page_count = 1` on the shared
 *   connection makes the control's next write fail, and `optimize` writes statistics. In a shadow run they never execute and answer
 *   `{ changes: 0, lastInsertRowid: 0 }`, `undefined`, `[]` and an empty iterator.
 * - `db.exec(sql)` is the effect `db.exec` (shadow answer: the database); `db.pragma(source)` is an
 *   effect `db.pragma` when the pragma sets or writes anything (`user_version = 3`, `foreign_keys =
 *   OFF`, `optimize`), a read otherwise; `close`,
 *   `backup`, `function`, `aggregate`, `table`, `loadExtension`, `unsafeMode` and
 *   `defaultSafeIntegers` are effects too, since they change the connection the control shares.
 * - `db.prepare()` is a read that returns a guarded statement (read statements too, so that
 *   `statement.database` is the guarded database); `db.transaction(fn)` runs `fn`, whose statements
 *   are guarded one by one, and its `database` is the guarded one. `.constructor` builds guarded
 *   databases, and property descriptors show the guarded methods.
 *
 * Sunk writes mean no read-your-writes: a candidate that inserts and then counts sees the count
 * without its insert. Functions registered with `db.function()` can write from inside a read-only
 * statement, which `readonly` cannot see.
 *
 * @example
 * ```ts
 * import Database from "better-sqlite3";
 * import { shadow } from "penumbra";
 * import { guardSqlite } from "penumbra/better-sqlite3";
 *
 * const db = guardSqlite(new Database("shop.db"));
 * const placeOrder = shadow(
 *   (sku: string) => db.prepare("INSERT INTO orders (sku) VALUES (?)").run(sku).changes,
 *   (sku: string) => db.prepare("INSERT INTO orders (sku, v) VALUES (?, 2)").run(sku).changes, // never written
 * );
 * ```
 */
export function guardSqlite<T extends object>(db: T, options?: GuardSqliteOptions): T {
  const name = adapterName(options?.name, "db", "guardSqlite");
  if (typeof db !== "object" || db === null || typeof (db as { prepare?: unknown }).prepare !== "function") {
    throw new TypeError(`penumbra: guardSqlite '${name}': db must be a better-sqlite3 Database (an object with prepare)`);
  }
  return proxyClient(db, "", {
    methodFor(path, fn, self, proxyOf, family) {
      if (path === "prepare") {
        return function prepare(this: unknown, ...args: unknown[]): unknown {
          const [source] = args;
          if (typeof source === "string" && inShadowRun() && settingPragma(source)) {
            // SQLite applies many pragma settings while it prepares them (`query_only`, `foreign_keys`):
            // a shadow run must not even prepare one. It gets a statement that reads nothing, whose
            // runs are the blocked effects of the pragma.
            return guardStatement(name, Reflect.apply(fn, self, [NOTHING]), family, source);
          }
          return guardStatement(name, Reflect.apply(fn, self, args), family);
        };
      }
      if (path === "transaction") {
        return function transaction(this: unknown, ...args: unknown[]): unknown {
          return guardTransaction(Reflect.apply(fn, self, args), proxyOf);
        };
      }
      if (path === "exec") {
        return connectionEffect(`${name}.exec`, fn, self, proxyOf, () => proxyOf());
      }
      if (path === "pragma") {
        return function pragma(this: unknown, ...args: unknown[]): unknown {
          const [source, pragmaOptions] = args;
          const sql = `PRAGMA ${String(source)}`;
          // Classified by its text first: preparing a setting already applies it.
          if (!settingPragma(sql) && pragmaIsRead(self, sql)) return Reflect.apply(fn, self, args);
          const simple = (pragmaOptions as { simple?: unknown } | undefined)?.simple === true;
          const policy: EffectPolicy = { name: `${name}.pragma`, answer: "sink", sink: () => (simple ? undefined : []), async: false };
          return callEffect(policy, () => Reflect.apply(fn, self, args), self, [sql], proxyOf());
        };
      }
      if (CONNECTION_EFFECTS.has(path)) {
        const answer = path === "backup" ? () => Promise.resolve({ totalPages: 0, remainingPages: 0 }) : () => proxyOf();
        return connectionEffect(`${name}.${path}`, fn, self, proxyOf, answer);
      }
      return undefined;
    },
  });
}

/** A database method that is an effect with its own arguments, answered by `answer` in shadow runs. */
function connectionEffect(effectName: string, fn: Method, self: object, proxyOf: () => object, answer: () => unknown): Method {
  const policy: EffectPolicy = { name: effectName, answer: "sink", sink: answer, async: false };
  return function (this: unknown, ...args: unknown[]): unknown {
    const value = callEffect(policy, () => Reflect.apply(fn, self, args), self, args, proxyOf());
    return value === self ? proxyOf() : value;
  };
}

/** A pragma that cannot be prepared is a write: fail closed (the real call then reports the error). */
function pragmaIsRead(db: object, sql: string): boolean {
  try {
    const statement = (db as { prepare: (sql: string) => unknown }).prepare(sql);
    return isReadStatement(statement);
  } catch {
    return false;
  }
}

/** A statement that reads nothing: what a shadow run prepares in place of a pragma setting. */
const NOTHING = "SELECT NULL WHERE 0";

/** True for a PRAGMA text that sets or writes anything (see `pragmaOnlyReads`). */
function settingPragma(source: string): boolean {
  const sql = stripLeadingComments(source);
  return /^pragma\b/i.test(sql) && !pragmaOnlyReads(sql);
}

function isReadStatement(statement: unknown): boolean {
  const { readonly, source } = statement as { readonly?: unknown; source?: unknown };
  const sql = stripLeadingComments(String(source));
  return readonly === true && !CONNECTION_STATEMENT.test(sql) && (!/^pragma\b/i.test(sql) || pragmaOnlyReads(sql));
}

/**
 * PRAGMAs that take an argument and only read (the schema and its checks). Any other pragma given an
 * argument (`= value` or `(value)`) sets something, although SQLite calls nearly all of them
 * read-only: `query_only`, `foreign_keys`, `max_page_count`, `locking_mode`, `synchronous` … stay on
 * the connection the control shares and change what its next statement does.
 */
const READING_PRAGMAS: ReadonlySet<string> = new Set([
  "table_info",
  "table_xinfo",
  "table_list",
  "index_info",
  "index_xinfo",
  "index_list",
  "foreign_key_list",
  "foreign_key_check",
  "integrity_check",
  "quick_check",
]);

/** PRAGMAs that write without an argument: `optimize` runs ANALYZE (it writes `sqlite_stat1`). */
const WRITING_PRAGMAS: ReadonlySet<string> = new Set(["optimize"]);

/** A PRAGMA statement only reads: the getter form (no argument) or a schema read; anything unclear writes. */
function pragmaOnlyReads(sql: string): boolean {
  const match = /^pragma\s+(?:[^\s.=(]+\s*\.\s*)?([A-Za-z_]\w*)\s*([\s\S]*)$/i.exec(sql);
  if (match === null) return false;
  const pragma = (match[1] ?? "").toLowerCase();
  const argument = (match[2] ?? "").replace(/[\s;]+$/, "");
  if (WRITING_PRAGMAS.has(pragma)) return false;
  return argument === "" || (READING_PRAGMAS.has(pragma) && argument.startsWith("("));
}

function stripLeadingComments(sql: string): string {
  return sql.replace(/^(?:\s+|--[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/)*/, "");
}

/**
 * A transaction function from `db.transaction(fn)`: its `database` (and that of its `deferred`,
 * `immediate` and `exclusive` variants) is the guarded database, not the raw one. Its statements are
 * the ones `fn` runs, guarded one by one when `fn` uses the guarded database.
 */
function guardTransaction(txn: unknown, proxyOf: () => object): unknown {
  if (typeof txn !== "function") return txn;
  const variants = new Map<PropertyKey, unknown>();
  // A stand-in is what the Proxy wraps: `database` is a non-writable, non-configurable property of
  // the real function, which a Proxy of it would have to report unchanged.
  return new Proxy(function () {} as unknown as (...args: unknown[]) => unknown, {
    apply: (_, thisArg, args) => Reflect.apply(txn as (...a: unknown[]) => unknown, thisArg, args),
    get(_, prop) {
      if (prop === "database") return proxyOf();
      const value: unknown = Reflect.get(txn, prop, txn);
      if (typeof value !== "function" || typeof prop === "symbol" || prop === "constructor") return value;
      let made = variants.get(prop);
      if (made === undefined) variants.set(prop, (made = guardTransaction(value, proxyOf)));
      return made;
    },
    has: (_, prop) => Reflect.has(txn, prop),
  });
}

/**
 * Every statement is handed out behind a Proxy, so none leads back to the raw database
 * (`statement.database` is the guarded one); a write statement's runs are effects.
 */
function guardStatement(name: string, statement: unknown, family: Family, standsFor?: string): unknown {
  if (typeof statement !== "object" || statement === null) return statement;
  const write = standsFor !== undefined || !isReadStatement(statement);
  const sql = standsFor ?? String((statement as { source?: unknown }).source);
  let bound: unknown[] = [];
  return proxyClient(statement, "", {
    methodFor(path, fn, self, proxyOf) {
      if (path === "bind") {
        return function bind(this: unknown, ...params: unknown[]): unknown {
          const value = Reflect.apply(fn, self, params);
          bound = params;
          return value === self ? proxyOf() : value;
        };
      }
      const sink = write && Object.hasOwn(STATEMENT_SINKS, path) ? STATEMENT_SINKS[path] : undefined;
      if (sink === undefined) return undefined;
      const policy: EffectPolicy = { name: `${name}.${path}`, answer: "sink", sink, async: false };
      return function (this: unknown, ...params: unknown[]): unknown {
        const recorded = [sql, ...(params.length === 0 ? bound : params)];
        return callEffect(policy, () => Reflect.apply(fn, self, params), self, recorded, proxyOf());
      };
    },
  }, family);
}
