/**
 * `guardPg`: a node-postgres client or pool made safe for shadow runs. A warm pool writes a shadow
 * query on a socket the control opened, where the tripwire can only stop it by closing the
 * connection, so queries are classified at the call, by their SQL, and reads are declared.
 */
import { callEffect, type EffectPolicy } from "../guard/effect-call";
import { bindShadow } from "../context/run-info";
import { adapterName, declaredRead, inShadowRun, proxyClient, type Method } from "./client-proxy";

/**
 * Options of {@link guardPg}.
 *
 * @example
 * ```ts
 * const options: GuardPgOptions = { name: "replica", readOnly: true };
 * ```
 */
export interface GuardPgOptions {
  /** The prefix of recorded effect names. @default "pg" */
  name?: string;
  /**
   * The client's sessions are read-only on the server (`options: "-c default_transaction_read_only=on"`
   * or a role with SELECT grants only). A shadow read the server then refuses as a write (SQLSTATE
   * 25006, such as `select nextval(…)` or a function that inserts) is recorded as a blocked effect
   * and answered like a sunk write instead of failing the candidate.
   * @default false
   */
  readOnly?: boolean;
}

/**
 * How {@link classifyPgQuery} sees one query.
 *
 * @example
 * ```ts
 * const c: PgQueryClass = classifyPgQuery("SELECT 1"); // { kind: "read", command: "SELECT" }
 * ```
 */
export interface PgQueryClass {
  kind: "read" | "write";
  /** The statement's verb in upper case, as pg reports it in `result.command` (`INSERT`, `SELECT`). */
  command: string;
}

/** What a sunk query answers: the shape of pg's `Result` with nothing in it. */
export interface PgShadowResult {
  command: string;
  rowCount: 0;
  rows: never[];
  fields: never[];
}

/** Functions that change state even inside a SELECT (sequences, notifications, session settings and the random seed, locks, server files, replication). */
const WRITE_FUNCTION =
  /\b(?:nextval|setval|pg_notify|set_config|pg_(?:try_)?advisory_\w+|lo_\w+|pg_terminate_backend|pg_cancel_backend|pg_reload_conf|pg_rotate_logfile|pg_switch_wal|pg_create_\w+|pg_drop_\w+|pg_stat_reset\w*|pg_logical_emit_message|dblink_exec|dblink|setseed|pg_file_(?:write|rename|unlink|sync)|pg_promote|pg_wal_replay_(?:pause|resume)|pg_replication_origin_\w+)\s*\(/;
const LOCKING_CLAUSE = /\bfor\s+(?:update|no\s+key\s+update|share|key\s+share)\b/;
const READ_VERBS: ReadonlySet<string> = new Set(["select", "values", "table", "show"]);

/**
 * Classifies a SQL text the way {@link guardPg} does: comments and literals are removed, leading
 * `WITH … AS (…)` clauses are looked into, then the verb decides. Reads are `SELECT`, `SHOW`,
 * `VALUES`, `TABLE` and `EXPLAIN` without `ANALYZE` (`EXPLAIN ANALYZE` runs its statement and is
 * classified as that statement). Everything else is a write, unknown verbs included, and so are
 * `SELECT … FOR UPDATE/SHARE`, `SELECT … INTO`, and reads calling `nextval`, `setval`, `pg_notify`,
 * `set_config`, advisory locks and similar functions. Several statements are a write when any is.
 *
 * A heuristic: it cannot see a user function that writes (`SELECT place_order(…)` is a read to it).
 *
 * @example
 * ```ts
 * classifyPgQuery("WITH moved AS (DELETE FROM a RETURNING *) SELECT * FROM moved"); // { kind: "write", command: "SELECT" }
 * ```
 */
export function classifyPgQuery(sql: string): PgQueryClass {
  const statements = stripSql(String(sql))
    .toLowerCase()
    .split(";")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  if (statements.length === 0) return { kind: "read", command: "" };
  const classes = statements.map(classifyStatement);
  const last = classes[classes.length - 1] as PgQueryClass;
  return { kind: classes.some((c) => c.kind === "write") ? "write" : "read", command: last.command };
}

function classifyStatement(input: string): PgQueryClass {
  const statement = input.replace(/^\(+\s*/, "");
  const verb = /^[a-z_]+/.exec(statement)?.[0] ?? "";
  const command = verb.toUpperCase();
  if (verb === "with") return classifyWith(statement);
  if (verb === "explain") {
    const options = /^explain\s*\(([^)]*)\)\s*/.exec(statement);
    const analyze = options !== null
      ? /\banaly[sz]e\b(?!\s+(?:false|off|0)\b)/.test(options[1] ?? "")
      : /^explain\s+(?:verbose\s+)?analy[sz]e\b/.test(statement);
    if (!analyze) return { kind: "read", command };
    const inner = options !== null ? statement.slice(options[0].length) : statement.replace(/^explain\s+(?:(?:analy[sz]e|verbose)\s+)+/, "");
    return { kind: classifyStatement(inner).kind, command };
  }
  if (!READ_VERBS.has(verb)) return { kind: "write", command };
  const writes = WRITE_FUNCTION.test(statement) || (verb === "select" && (LOCKING_CLAUSE.test(statement) || /\binto\b/.test(statement)));
  return { kind: writes ? "write" : "read", command };
}

/** `WITH [RECURSIVE] name [(cols)] AS [[NOT] MATERIALIZED] (body) [, …] main`: a write when any body or the main statement is. */
function classifyWith(statement: string): PgQueryClass {
  let rest = statement.replace(/^with\s+(?:recursive\s+)?/, "");
  let writes = false;
  for (;;) {
    const head = /^[^\s(,]+\s*(?:\([^)]*\)\s*)?as\s+(?:(?:not\s+)?materialized\s+)?\(/.exec(rest);
    // A form this parser does not know: fail closed.
    if (head === null) return { kind: "write", command: "WITH" };
    const end = matchingParen(rest, head[0].length - 1);
    if (end < 0) return { kind: "write", command: "WITH" };
    if (classifyStatement(rest.slice(head[0].length, end)).kind === "write") writes = true;
    rest = rest.slice(end + 1).trimStart();
    if (rest.startsWith(",")) {
      rest = rest.slice(1).trimStart();
      continue;
    }
    const main = classifyStatement(rest);
    return { kind: writes || main.kind === "write" ? "write" : "read", command: main.command };
  }
}

function matchingParen(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === "(") depth++;
    else if (text[i] === ")" && --depth === 0) return i;
  }
  return -1;
}

/**
 * Comments removed; string, dollar-quoted and quoted-identifier contents blanked, so no keyword hides
 * in them (a quoted name followed by `(` is kept: it is a function call).
 */
function stripSql(sql: string): string {
  let out = "";
  let i = 0;
  while (i < sql.length) {
    const c = sql[i] as string;
    const next = sql[i + 1];
    if (c === "-" && next === "-") {
      const end = sql.indexOf("\n", i);
      i = end < 0 ? sql.length : end;
      out += " ";
    } else if (c === "/" && next === "*") {
      let depth = 0;
      while (i < sql.length) {
        if (sql[i] === "/" && sql[i + 1] === "*") (depth++, (i += 2));
        else if (sql[i] === "*" && sql[i + 1] === "/") {
          i += 2;
          if (--depth === 0) break;
        } else i++;
      }
      out += " ";
    } else if (c === "'") {
      const escapes = /[eE]$/.test(out) && !/[\w$][eE]$/.test(out);
      i++;
      while (i < sql.length) {
        if (escapes && sql[i] === "\\") i += 2;
        else if (sql[i] === "'" && sql[i + 1] === "'") i += 2;
        else if (sql[i] === "'") break;
        else i++;
      }
      i++;
      out += "''";
    } else if (c === '"') {
      const start = ++i;
      while (i < sql.length && !(sql[i] === '"' && sql[i + 1] !== '"')) i += sql[i] === '"' ? 2 : 1;
      const name = sql.slice(start, i);
      i++;
      // A quoted function name is still the function (`"setval"(…)` calls setval): kept when a call
      // follows, so WRITE_FUNCTION sees it; any other quoted identifier is blanked.
      out += /^[A-Za-z_][\w$]*$/.test(name) && /^\s*\(/.test(sql.slice(i)) ? ` ${name}` : '"q"';
    } else if (c === "$" && !/[\w$]$/.test(out)) {
      const tag = /^\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i))?.[0];
      if (tag === undefined) {
        out += c;
        i++;
        continue;
      }
      const end = sql.indexOf(tag, i + tag.length);
      i = end < 0 ? sql.length : end + tag.length;
      out += "''";
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/**
 * Wraps a node-postgres `Client` or `Pool` (anything with pg's `query(text | { text, values },
 * values?, callback?)`) so that writes are side effects and reads pass through.
 *
 * - Each query is classified by {@link classifyPgQuery}. Reads pass through in every run and are not
 *   recorded.
 * - A write in a control run is sent and recorded as `pg.query` with `[text]` or `[text, values]`.
 * - A write in a shadow run is not sent; it is recorded as blocked and answered with
 *   `{ command, rowCount: 0, rows: [], fields: [] }`, through the callback (asynchronously) when one
 *   is given, else as a promise. `BEGIN`, `COMMIT` and `SET` are writes too, so a candidate cannot
 *   leave a pooled session in a transaction or with changed settings. A submittable (a cursor or
 *   stream) carrying a write is refused with a `ShadowBlockedError`.
 * - `pool.connect()` hands out guarded clients, promise or callback style.
 *
 * The classification is a heuristic: it cannot see functions with side effects (`SELECT
 * place_order(1)`). Give shadow reads their own pool opened read-only, guarded with
 * `readOnly: true`, so that the server refuses what the parser misses (it still allows
 * `pg_notify`, advisory locks and `set_config`, which the parser catches by name).
 *
 * @example
 * ```ts
 * import { Pool } from "pg";
 * import { shadow } from "penumbra";
 * import { guardPg } from "penumbra/pg";
 *
 * const pool = guardPg(new Pool());
 * const shadowReads = guardPg(new Pool({ options: "-c default_transaction_read_only=on" }), { readOnly: true });
 * const reserve = shadow(
 *   (sku: string) => reserveV1(pool, sku),
 *   (sku: string) => reserveV2(shadowReads, sku), // its UPDATE answers { rowCount: 0 }, the stock is untouched
 * );
 * ```
 */
/* eslint-disable-next-line @typescript-eslint/no-explicit-any -- the structural client constraint */
export function guardPg<T extends { query: (...a: any[]) => any }>(client: T, options?: GuardPgOptions): T {
  const name = adapterName(options?.name, "pg", "guardPg");
  if (typeof client !== "object" || client === null || typeof client.query !== "function") {
    throw new TypeError(`penumbra: guardPg '${name}': client must be a pg Client or Pool (an object with query)`);
  }
  const readOnly = options?.readOnly === true;
  return proxyClient(client, "", {
    methodFor(path, fn, self, proxyOf) {
      if (path === "query") return guardQuery(name, readOnly, fn, self, proxyOf);
      if (path === "connect") {
        return function connect(this: unknown, ...args: unknown[]): unknown {
          const guardClient = (c: unknown): unknown =>
            typeof c === "object" && c !== null && typeof (c as { query?: unknown }).query === "function"
              ? guardPg(c as { query: Method }, { name, readOnly })
              : c;
          const last = args[args.length - 1];
          if (typeof last === "function") {
            const callback = last as (...a: unknown[]) => unknown;
            const wrapped = (error: unknown, c: unknown, ...rest: unknown[]): unknown => callback(error, guardClient(c), ...rest);
            return declaredRead(() => Reflect.apply(fn, self, [...args.slice(0, -1), wrapped]));
          }
          // Checking out (or opening) a connection is a read's I/O: the queries on it are judged one by one.
          const value = declaredRead(() => Reflect.apply(fn, self, args));
          return isThenable(value) ? value.then(guardClient) : value;
        };
      }
      return undefined;
    },
  });
}

function guardQuery(name: string, readOnly: boolean, fn: Method, self: object, proxyOf: () => object): Method {
  return function query(this: unknown, ...args: unknown[]): unknown {
    const [first, second] = args;
    const config = typeof first === "object" && first !== null ? (first as { text?: unknown; values?: unknown; submit?: unknown }) : undefined;
    const text = typeof first === "string" ? first : String(config?.text ?? "");
    const values = Array.isArray(second) ? second : Array.isArray(config?.values) ? config?.values : undefined;
    const last = args[args.length - 1];
    const callback = typeof last === "function" ? (last as (error: unknown, result?: unknown) => void) : undefined;
    const { kind, command } = classifyPgQuery(text);
    const recorded = values === undefined ? [text] : [text, values];
    const submittable = typeof config?.submit === "function";
    const policy: EffectPolicy = {
      name: `${name}.query`,
      answer: submittable ? "throw" : "sink",
      sink: () => {
        const result: PgShadowResult = { command, rowCount: 0, rows: [], fields: [] };
        if (callback !== undefined) return void process.nextTick(callback, null, result);
        return Promise.resolve(result);
      },
      async: false,
    };
    if (kind === "write") return callEffect(policy, () => Reflect.apply(fn, self, args), self, recorded, proxyOf());
    // A read is declared: on a pooled connection the control opened, its bytes get past the tripwire.
    if (!readOnly || submittable || !inShadowRun()) return declaredRead(() => Reflect.apply(fn, self, args));
    // A read-only session refused a write the parser missed: the candidate gets what a sunk write
    // gets, and the effect is recorded from the candidate's own context (the continuation or the
    // callback bound to it), not from the pool's.
    const refused = (error: unknown): boolean => (error as { code?: unknown } | null)?.code === "25006";
    if (callback !== undefined) {
      const wrapped = bindShadow((error: unknown, result?: unknown): void => {
        if (refused(error)) callEffect(policy, () => callback(error), self, recorded, proxyOf());
        else callback(error, result);
      });
      return declaredRead(() => Reflect.apply(fn, self, [...args.slice(0, -1), wrapped]));
    }
    const value = declaredRead(() => Reflect.apply(fn, self, args));
    if (!isThenable(value)) return value;
    return value.then(undefined, (error: unknown) => {
      if (!refused(error)) throw error;
      return callEffect(policy, () => Promise.reject(error), self, recorded, proxyOf());
    });
  };
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === "object" && value !== null && typeof (value as { then?: unknown }).then === "function";
}
