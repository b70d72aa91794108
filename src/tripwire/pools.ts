/**
 * Pooled work, attributed to the run that queued it. A connection pool keeps a queue and hands its
 * head to a free connection from whatever async context happens to run the dispatcher next: a
 * candidate's mail can be written from a control's socket callback (the tripwire sees no shadow run
 * and lets it out), and a control's from a candidate's timer (the tripwire blocks the control). The
 * write hooks judge in the caller's async context, so for the pools below the caller's context is
 * remembered per queued item, when it is queued, and the item is dispatched inside it:
 *
 * - nodemailer's `SMTPPool` (`pool: true`): `send(mail)` remembers the sender per mail (and calls
 *   the sender's callback in the sender's context); `PoolResource#send(mail)`, which connects if
 *   needed and writes the envelope, runs in that sender's context. Both builds of nodemailer 10 (its
 *   CommonJS and ES module files are separate classes) and the one-build layout of older versions.
 * - pg-pool (`pg.Pool`): `connect()` (which `pool.query` calls) remembers the caller per pending
 *   item; `newClient(item)` and `_acquireClient(client, item)`, which connect a client for it or hand
 *   it a freed one and call its callback, run in that caller's context.
 * - pg's `Client`: `query()` remembers the caller of a query that has to wait behind another (and
 *   calls a callback-style caller back in its context); `_pulseQueryQueue()`, which sends the head of
 *   the queue once the connection is ready, runs in that caller's context.
 * - ioredis's `Redis`: every command remembers its caller when it is issued or queued in a pipeline,
 *   and is judged and sent in that caller's context wherever ioredis sends it from (at once, the
 *   offline queue, an auto-pipeline batch, a resend after a reconnect); a blocked shadow run's
 *   command is rejected before it is queued or written, so the connection stays up.
 * - node-redis's `RedisClient`: a blocked shadow run's commands (`sendCommand`, `_executeMulti`,
 *   `_executePipeline`) are refused where they are issued, so a candidate never starts or joins the
 *   `setImmediate` write that carries a turn's commands.
 *
 * Only the dispatch of an item runs in its queuer's context (pg-pool's `connect` and `acquire`
 * events, emitted while a client is handed over, with it); the pools' other events (nodemailer's
 * `idle`, pg-pool's `release`, `remove`, `error`) are emitted as before. docs/side-effects.md,
 * "Pools shared by overlapping runs", lists what is attributed and what is not.
 *
 * The libraries are found where the application would find them (from the working directory, the
 * main module and penumbra's own location) and among the CommonJS modules already loaded; a
 * library that is missing, or whose shape differs (another major version), is left alone. Nothing
 * here throws: a pool that cannot be attributed behaves as it did before.
 */
import * as fs from "node:fs";
import type * as net from "node:net";
import * as path from "node:path";
import { currentFrame } from "../context/frame";
import { contextBackend } from "../context/slot";
import { authority, socketProbe } from "./network";
import { inspect, watchedFrame, type Probe } from "./verdict";

type Method = (this: unknown, ...args: unknown[]) => unknown;

/** Runs a task in the async context captured when the runner was made. */
type Runner = (task: () => unknown) => unknown;

/** The context each queued mail or pending pool item was queued from. */
const queuedFrom = new WeakMap<object, Runner>();

/** The context each pg-pool client was opened in: the pool's own housekeeping on it runs there. */
const openedIn = new WeakMap<object, Runner>();

/** Captures the current async context (the whole store: penumbra's frame and the application's). */
function captureContext(): Runner | undefined {
  try {
    return contextBackend().bind((task: () => unknown) => task());
  } catch {
    return undefined;
  }
}

function isObject(value: unknown): value is object {
  return (typeof value === "object" || typeof value === "function") && value !== null;
}

/** Runs `task` in the context `key` was queued from, or as it is when nobody remembered one. */
function inQueuedContext(key: unknown, task: () => unknown): unknown {
  const run = isObject(key) ? queuedFrom.get(key) : undefined;
  return run === undefined ? task() : run(task);
}

/**
 * Replaces `owner[name]` (a method) with `make(original)`, keeping the property's attributes;
 * returns the undo, or undefined when there is no such method or it cannot be replaced.
 */
function wrapMethod(owner: object, name: string, make: (original: Method) => Method): (() => void) | undefined {
  let descriptor: PropertyDescriptor | undefined;
  try {
    descriptor = Object.getOwnPropertyDescriptor(owner, name);
  } catch {
    return undefined;
  }
  const original = descriptor?.value as unknown;
  if (descriptor === undefined || typeof original !== "function") return undefined;
  let live = true;
  const inner = make(original as Method);
  const hooked = function (this: unknown, ...args: unknown[]): unknown {
    return live ? inner.apply(this, args) : (original as Method).apply(this, args);
  };
  try {
    Object.defineProperty(owner, name, { ...descriptor, value: hooked });
    if (Object.getOwnPropertyDescriptor(owner, name)?.value !== hooked) throw new Error("not replaced");
  } catch {
    live = false;
    return undefined;
  }
  return () => {
    // A hook someone else wrapped cannot be taken out; it goes inert instead.
    live = false;
    try {
      if (Object.getOwnPropertyDescriptor(owner, name)?.value === hooked) Object.defineProperty(owner, name, descriptor);
    } catch {
      // a prototype that became frozen keeps the inert hook
    }
  };
}

/** The class a module exports (CommonJS `module.exports` or an ES module's default), if it is one. */
function exportedClass(loaded: unknown): { prototype: Record<string, unknown> } | undefined {
  const candidate = typeof loaded === "function" ? loaded : isObject(loaded) ? (loaded as { default?: unknown }).default : undefined;
  if (typeof candidate !== "function") return undefined;
  const prototype = (candidate as { prototype?: unknown }).prototype;
  return isObject(prototype) ? { prototype: prototype as Record<string, unknown> } : undefined;
}

function hasMethods(prototype: Record<string, unknown>, names: readonly string[]): boolean {
  return names.every((name) => typeof prototype[name] === "function");
}

/** Runs one patching step; a library of an unexpected shape (a throwing getter, a Proxy) keeps its own behaviour. */
function attempt(step: () => void): void {
  try {
    step();
  } catch {
    // left alone
  }
}

/** Loads a module file, CommonJS or (where Node can require one) an ES module; undefined if it cannot. */
function load(file: string): unknown {
  try {
    return require(file) as unknown;
  } catch {
    return undefined;
  }
}

/** Where the application would look for its packages. */
function searchPaths(): string[] {
  const bases = [process.cwd(), __dirname];
  const main = require.main?.filename;
  if (typeof main === "string") bases.push(path.dirname(main));
  return [...new Set(bases)];
}

function resolveFrom(request: string, bases: readonly string[]): string[] {
  const found = new Set<string>();
  for (const base of bases) {
    try {
      found.add(require.resolve(request, { paths: [base] }));
    } catch {
      // not installed where this base looks
    }
  }
  return [...found];
}

/** Loaded CommonJS files whose path matches `pattern`. */
function loadedFiles(pattern: RegExp): string[] {
  return Object.keys(require.cache).filter((file) => pattern.test(file));
}

/** The files `package.json` "exports" maps `subpath` to under its "import" condition. */
function importTarget(packageRoot: string, subpath: string): string | undefined {
  try {
    const manifest = JSON.parse(fs.readFileSync(path.join(packageRoot, "package.json"), "utf8")) as { exports?: unknown };
    const entry = isObject(manifest.exports) ? (manifest.exports as Record<string, unknown>)[subpath] : undefined;
    const target = isObject(entry) ? (entry as Record<string, unknown>).import : undefined;
    const file = typeof target === "string" ? target : isObject(target) ? (target as Record<string, unknown>).default : undefined;
    return typeof file === "string" ? path.resolve(packageRoot, file) : undefined;
  } catch {
    return undefined;
  }
}

const SMTP_POOL_FILE = /[\\/]nodemailer[\\/](?:dist[\\/](?:cjs|esm)[\\/]|lib[\\/])smtp-pool[\\/]index\.js$/;

/** Every nodemailer `smtp-pool/index.js` the application can reach: both builds of each copy. */
function smtpPoolFiles(): string[] {
  const files = new Set<string>(loadedFiles(SMTP_POOL_FILE));
  for (const cjs of resolveFrom("nodemailer/lib/smtp-pool", searchPaths())) {
    files.add(cjs);
    const marker = `${path.sep}nodemailer${path.sep}`;
    const root = cjs.slice(0, cjs.lastIndexOf(marker) + marker.length - 1);
    const esm = importTarget(root, "./lib/smtp-pool");
    if (esm !== undefined) files.add(esm);
  }
  return [...files].filter((file) => SMTP_POOL_FILE.test(file));
}

/** Attributes the queued mails of the `SMTPPool` class in `file`, when it has the expected shape. */
function patchSmtpPool(file: string, seen: Set<object>, undo: Array<() => void>): void {
  const pool = exportedClass(load(file));
  const resource = exportedClass(load(path.join(path.dirname(file), "pool-resource.js")));
  if (pool === undefined || resource === undefined || seen.has(pool.prototype)) return;
  if (!hasMethods(pool.prototype, ["send", "_processMessages", "_createConnection"]) || !hasMethods(resource.prototype, ["send", "connect"])) return;
  seen.add(pool.prototype);
  const queued = wrapMethod(pool.prototype, "send", (original) =>
    function (this: unknown, mail: unknown, callback: unknown, ...rest: unknown[]): unknown {
      const run = captureContext();
      if (run === undefined || !isObject(mail)) return original.call(this, mail, callback, ...rest);
      queuedFrom.set(mail, run);
      // The pool calls back from the connection's context; the sender's callback belongs to the sender.
      const own = typeof callback === "function" ? (...args: unknown[]) => run(() => (callback as Method).apply(undefined, args)) : callback;
      return original.call(this, mail, own, ...rest);
    },
  );
  const dispatched = wrapMethod(resource.prototype, "send", (original) =>
    function (this: unknown, mail: unknown, ...rest: unknown[]): unknown {
      return inQueuedContext(mail, () => original.call(this, mail, ...rest));
    },
  );
  // Both or neither: half an attribution would still dispatch mails from the wrong run.
  if (queued === undefined || dispatched === undefined) {
    queued?.();
    dispatched?.();
    return;
  }
  undo.push(queued, dispatched);
}

const PG_POOL_FILE = /[\\/]pg-pool[\\/]index\.js$/;

/** Every pg-pool the application can reach: its own, pg's, and any already loaded. */
function pgPoolFiles(): string[] {
  const bases = searchPaths();
  const files = new Set<string>([...loadedFiles(PG_POOL_FILE), ...resolveFrom("pg-pool", bases)]);
  for (const pg of resolveFrom("pg", bases)) for (const file of resolveFrom("pg-pool", [path.dirname(pg)])) files.add(file);
  return [...files].filter((file) => PG_POOL_FILE.test(file));
}

/** Attributes the pending checkouts of the pg-pool `Pool` class in `file`, when it has the expected shape. */
function patchPgPool(file: string, seen: Set<object>, undo: Array<() => void>): void {
  const pool = exportedClass(load(file));
  if (pool === undefined || seen.has(pool.prototype) || !hasMethods(pool.prototype, ["connect", "newClient", "_acquireClient", "_pulseQueue"])) return;
  seen.add(pool.prototype);
  const queued = wrapMethod(pool.prototype, "connect", (original) =>
    function (this: unknown, ...args: unknown[]): unknown {
      const pending = isObject(this) ? (this as { _pendingQueue?: unknown })._pendingQueue : undefined;
      const before = Array.isArray(pending) ? pending.length : -1;
      const result = original.apply(this, args);
      if (Array.isArray(pending) && pending.length > before) {
        const run = captureContext();
        if (run !== undefined) for (const item of pending.slice(before)) if (isObject(item)) queuedFrom.set(item, run);
      }
      return result;
    },
  );
  const connected = wrapMethod(pool.prototype, "newClient", (original) =>
    function (this: unknown, item: unknown, ...rest: unknown[]): unknown {
      return inQueuedContext(item, () => {
        const clients = isObject(this) ? (this as { _clients?: unknown })._clients : undefined;
        const before = Array.isArray(clients) ? clients.length : -1;
        const result = original.call(this, item, ...rest);
        if (Array.isArray(clients) && clients.length > before) {
          const run = captureContext();
          if (run !== undefined) for (const client of clients.slice(before)) if (isObject(client)) openedIn.set(client, run);
        }
        return result;
      });
    },
  );
  // Closing an idle client (its idle timeout, its maximum uses) is the pool's housekeeping, not the
  // run that last released it: the timer was armed in that run, and a candidate that only checked a
  // client out and gave it back would otherwise be blamed for the pool's goodbye to the server.
  const removed = wrapMethod(pool.prototype, "_remove", (original) =>
    function (this: unknown, client: unknown, ...rest: unknown[]): unknown {
      const run = isObject(client) ? openedIn.get(client) : undefined;
      return run === undefined ? original.call(this, client, ...rest) : run(() => original.call(this, client, ...rest));
    },
  );
  if (removed !== undefined) undo.push(removed);
  const acquired = wrapMethod(pool.prototype, "_acquireClient", (original) =>
    function (this: unknown, client: unknown, item: unknown, ...rest: unknown[]): unknown {
      return inQueuedContext(item, () => original.call(this, client, item, ...rest));
    },
  );
  if (queued === undefined || connected === undefined || acquired === undefined) {
    queued?.();
    connected?.();
    acquired?.();
    return;
  }
  undo.push(queued, connected, acquired);
}

const PG_CLIENT_FILE = /[\\/]pg[\\/]lib[\\/]client\.js$/;

/** Every pg `Client` module the application can reach, and any already loaded. */
function pgClientFiles(): string[] {
  const files = new Set<string>([...loadedFiles(PG_CLIENT_FILE), ...resolveFrom("pg/lib/client", searchPaths())]);
  return [...files].filter((file) => PG_CLIENT_FILE.test(file));
}

/**
 * The query queue of a pg `Client`: `_queryQueue` in pg 8.2x (where `queryQueue` is a deprecated
 * getter that warns), `queryQueue` before; never read through an accessor.
 */
function queryQueueOf(client: unknown): unknown[] | undefined {
  if (!isObject(client)) return undefined;
  for (const name of ["_queryQueue", "queryQueue"]) {
    const descriptor = Object.getOwnPropertyDescriptor(client, name);
    if (descriptor !== undefined && "value" in descriptor && Array.isArray(descriptor.value)) return descriptor.value as unknown[];
  }
  return undefined;
}

/**
 * Attributes the queued queries of the pg `Client` class in `file`: `query()` remembers its caller
 * for a query that has to wait (and calls a callback-style caller back in its own context), and
 * `_pulseQueryQueue()`, which sends the head of the queue when the connection is ready (one query at
 * a time, outside pipeline mode), runs in that caller's context.
 */
function patchPgClient(file: string, seen: Set<object>, undo: Array<() => void>): void {
  const client = exportedClass(load(file));
  if (client === undefined || seen.has(client.prototype) || !hasMethods(client.prototype, ["query", "_pulseQueryQueue", "connect"])) return;
  seen.add(client.prototype);
  const queued = wrapMethod(client.prototype, "query", (original) =>
    function (this: unknown, ...args: unknown[]): unknown {
      const queue = queryQueueOf(this);
      const before = queue === undefined ? -1 : queue.length;
      let run: Runner | undefined;
      const last = args.length - 1;
      const callback = args[last];
      if (typeof callback === "function") {
        // The answer comes back on the socket, in whichever run opened the connection; the caller's
        // callback belongs to the caller.
        run = captureContext();
        const own = run;
        if (own !== undefined) args[last] = (...answer: unknown[]) => own(() => (callback as Method).apply(undefined, answer));
      }
      const result = original.apply(this, args);
      if (queue !== undefined && queue.length > before) {
        run ??= captureContext();
        if (run !== undefined) for (const query of queue.slice(before)) if (isObject(query)) queuedFrom.set(query, run);
      }
      return result;
    },
  );
  const pulsed = wrapMethod(client.prototype, "_pulseQueryQueue", (original) =>
    function (this: unknown, ...args: unknown[]): unknown {
      const self = this as { pipeline?: unknown; readyForQuery?: unknown };
      // Pipeline mode sends every queued query at once: there is no one sender to run as.
      const head = isObject(this) && self.pipeline !== true && self.readyForQuery === true ? queryQueueOf(this)?.[0] : undefined;
      return inQueuedContext(head, () => original.apply(this, args));
    },
  );
  if (queued === undefined || pulsed === undefined) {
    queued?.();
    pulsed?.();
    return;
  }
  undo.push(queued, pulsed);
}

const IOREDIS_FILE = /[\\/]ioredis[\\/]built[\\/]Redis\.js$/;

/** Every ioredis `Redis` module the application can reach, and any already loaded. */
function ioredisFiles(): string[] {
  const files = new Set<string>(loadedFiles(IOREDIS_FILE));
  for (const main of resolveFrom("ioredis", searchPaths())) files.add(path.join(path.dirname(main), "Redis.js"));
  return [...files].filter((file) => IOREDIS_FILE.test(file) && fs.existsSync(file));
}

/** Runs a task outside any run: for work issued outside experiments and dispatched from inside one. */
const outsideRuns: Runner = (task) => contextBackend().run(undefined, task);

/** The server an ioredis client talks to: its socket's peer, else its options, else Redis's default. */
function redisProbe(client: unknown): Probe {
  try {
    const self = (isObject(client) ? client : {}) as { stream?: unknown; options?: { host?: unknown; port?: unknown; path?: unknown } };
    const stream = self.stream;
    const fromSocket = isObject(stream) && typeof (stream as { remotePort?: unknown }).remotePort === "number" ? socketProbe(stream as net.Socket) : undefined;
    if (fromSocket !== undefined) return fromSocket;
    const options = isObject(self.options) ? self.options : {};
    if (typeof options.path === "string") return { kind: "network", target: options.path };
    const host = typeof options.host === "string" ? options.host : "localhost";
    const port = typeof options.port === "number" ? options.port : 6379;
    return { kind: "network", host, port, target: authority(host, port) };
  } catch {
    // a client whose getters throw: judged as the default server
    return { kind: "network", host: "localhost", port: 6379, target: authority("localhost", 6379) };
  }
}

/**
 * Whether a Redis command to `probe` may be sent from the current run: undefined to send it, or the
 * `ESHADOW` error to refuse it with (a blocked shadow run). Several commands of one run to one server
 * are one leak, as several writes on one socket are: a run's first command is judged and recorded,
 * its later ones go the same way unrecorded.
 */
function redisRefusal(probe: () => Probe): Error | undefined {
  const frame = watchedFrame();
  if (frame === undefined) return undefined;
  const target = probe();
  const earlier = frame.leaks.find((leak) => leak.target === target.target);
  if (earlier !== undefined) {
    return earlier.blocked ? Object.assign(new Error(`penumbra: network '${target.target}' blocked by the tripwire in a shadow run`), { code: "ESHADOW" }) : undefined;
  }
  const verdict = inspect(target);
  return verdict.action === "block" ? verdict.error : undefined;
}

/** Whether an ioredis command may be sent, judged in the run it belongs to (see `redisRefusal`). */
function refusedRedisCommand(client: unknown): Error | undefined {
  return redisRefusal(() => redisProbe(client));
}

/**
 * Judges the commands of the ioredis `Redis` class in `file` in the run that issued them. ioredis
 * writes a command at once when the connection is ready, but also later, outside the caller's run:
 * from the offline queue (flushed by the connect callback), from an auto-pipeline (one socket write
 * for every command of an event-loop turn, sent from the first caller's `setImmediate`), and again
 * after a reconnect (its unanswered commands are resent). And a command the socket hook blocks
 * closes the connection under the client, which then resends every unanswered command, the
 * candidate's and the control's. So `Pipeline#sendCommand` and `Redis#sendCommand` remember the run
 * of each command when it is first given to them, and `Redis#sendCommand` runs in that run: a
 * blocked shadow run's command is rejected with the `ESHADOW` error before it is queued or written
 * (nothing reaches the socket, the connection stays up); a control's command is sent as the
 * control's wherever ioredis flushes it from.
 */
function patchIoredis(file: string, seen: Set<object>, undo: Array<() => void>): void {
  const redis = exportedClass(load(file));
  const pipeline = exportedClass(load(path.join(path.dirname(file), "Pipeline.js")));
  if (redis === undefined || pipeline === undefined || seen.has(redis.prototype)) return;
  if (!hasMethods(redis.prototype, ["sendCommand", "connect"]) || !hasMethods(pipeline.prototype, ["sendCommand", "exec"])) return;
  seen.add(redis.prototype);
  const remember = (command: unknown): Runner | undefined => {
    if (!isObject(command)) return undefined;
    let run = queuedFrom.get(command);
    if (run === undefined) {
      // Most commands are issued outside any run: one shared runner that leaves runs, instead of a
      // captured context per command (binding one costs more than the command itself).
      run = currentFrame() === undefined ? outsideRuns : captureContext();
      if (run !== undefined) queuedFrom.set(command, run);
    }
    return run;
  };
  const queued = wrapMethod(pipeline.prototype, "sendCommand", (original) =>
    function (this: unknown, command: unknown, ...rest: unknown[]): unknown {
      remember(command);
      return original.call(this, command, ...rest);
    },
  );
  const sent = wrapMethod(redis.prototype, "sendCommand", (original) =>
    function (this: unknown, command: unknown, stream: unknown, ...rest: unknown[]): unknown {
      const send = (): unknown => {
        const refused = refusedRedisCommand(this);
        if (refused === undefined) return original.call(this, command, stream, ...rest);
        const self = command as { reject?: unknown; promise?: unknown };
        if (typeof self.reject !== "function") return original.call(this, command, stream, ...rest);
        (self.reject as Method).call(command, refused);
        // A pipeline writes its batch once each of its commands has written: this one writes nothing,
        // outside any run, so the batch (the other runs' commands) goes out as theirs.
        const batch = isObject(stream) ? (stream as { isPipeline?: unknown; write?: unknown }) : undefined;
        if (batch?.isPipeline === true && typeof batch.write === "function") {
          const write = batch.write as Method;
          try {
            outsideRuns(() => write.call(batch, ""));
          } catch {
            // A batch whose commands were all refused, before the client has a socket: nothing to write.
          }
        }
        return self.promise;
      };
      const run = remember(command);
      return run === undefined ? send() : run(send);
    },
  );
  if (queued === undefined || sent === undefined) {
    queued?.();
    sent?.();
    return;
  }
  undo.push(queued, sent);
}

const NODE_REDIS_FILE = /[\\/]@redis[\\/]client[\\/]dist[\\/]lib[\\/]client[\\/]index\.js$/;

/** Every node-redis `RedisClient` module (`@redis/client`, also through `redis`) the application can reach. */
function nodeRedisFiles(): string[] {
  const bases = searchPaths();
  const mains = new Set<string>(resolveFrom("@redis/client", bases));
  for (const redis of resolveFrom("redis", bases)) for (const main of resolveFrom("@redis/client", [path.dirname(redis)])) mains.add(main);
  const files = new Set<string>(loadedFiles(NODE_REDIS_FILE));
  for (const main of mains) files.add(path.join(path.dirname(main), "lib", "client", "index.js"));
  return [...files].filter((file) => NODE_REDIS_FILE.test(file) && fs.existsSync(file));
}

/** The server a node-redis client talks to, from its options (`socket.host`/`port`/`path`, or `url`). */
function nodeRedisProbe(client: unknown): Probe {
  let options: unknown;
  try {
    options = isObject(client) ? (client as { options?: unknown }).options : undefined;
  } catch {
    options = undefined;
  }
  const own = (isObject(options) ? options : {}) as { socket?: unknown; url?: unknown };
  const socket = (isObject(own.socket) ? own.socket : {}) as { host?: unknown; port?: unknown; path?: unknown };
  if (typeof socket.path === "string") return { kind: "network", target: socket.path };
  let host = typeof socket.host === "string" ? socket.host : undefined;
  let port = typeof socket.port === "number" ? socket.port : undefined;
  if (typeof own.url === "string") {
    try {
      const url = new URL(own.url);
      host ??= url.hostname;
      port ??= url.port === "" ? undefined : Number(url.port);
    } catch {
      // an unparsable url: the defaults below
    }
  }
  host ??= "localhost";
  port ??= 6379;
  return { kind: "network", host, port, target: authority(host, port) };
}

/**
 * Judges the commands of the node-redis `RedisClient` class in `file` where they are issued. node-redis
 * writes every command of an event-loop turn from one `setImmediate`, started by the first command
 * queued, in that command's run: a candidate's command queued first had the control's written from
 * the candidate's run (blocked, the shared connection closed under everyone), and one queued after a
 * control's went out in the control's write. So `sendCommand` (every command method goes through it),
 * `_executeMulti` and `_executePipeline` refuse a blocked shadow run's commands before they reach the
 * queue, with the `ESHADOW` error: a candidate never starts a write and never rides in one.
 */
function patchNodeRedis(file: string, seen: Set<object>, undo: Array<() => void>): void {
  const client = exportedClass(load(file));
  if (client === undefined || seen.has(client.prototype) || !hasMethods(client.prototype, ["sendCommand", "_executeMulti", "_executePipeline"])) return;
  seen.add(client.prototype);
  const judged = ["sendCommand", "_executeMulti", "_executePipeline"].map((name) =>
    wrapMethod(client.prototype, name, (original) =>
      function (this: unknown, ...args: unknown[]): unknown {
        const refused = redisRefusal(() => nodeRedisProbe(this));
        return refused === undefined ? original.apply(this, args) : Promise.reject(refused);
      },
    ),
  );
  if (judged.some((u) => u === undefined)) {
    for (const u of judged) u?.();
    return;
  }
  for (const u of judged) if (u !== undefined) undo.push(u);
}

/** Runs `patchOne` on every file `files()` finds, each class patched once; a failure skips that file only. */
function patchClasses(
  files: () => string[],
  patchOne: (file: string, seen: Set<object>, undo: Array<() => void>) => void,
  undo: Array<() => void>,
): void {
  attempt(() => {
    const seen = new Set<object>();
    for (const file of files()) attempt(() => patchOne(file, seen, undo));
  });
}

/**
 * Installs the pool attribution for every supported pool library the application can reach;
 * returns the function that removes it. Never throws.
 *
 * @internal
 * @example
 * ```ts
 * const unpatch = patchPools();
 * ```
 */
export function patchPools(): () => void {
  const undo: Array<() => void> = [];
  // Each library's copies (CommonJS and ESM builds, nested installs) share a class only once.
  patchClasses(smtpPoolFiles, patchSmtpPool, undo); // nodemailer's queued mails
  patchClasses(pgPoolFiles, patchPgPool, undo); // pg-pool's pending checkouts
  patchClasses(pgClientFiles, patchPgClient, undo); // a pg Client's waiting queries
  patchClasses(ioredisFiles, patchIoredis, undo); // ioredis commands, wherever the client flushes them from
  patchClasses(nodeRedisFiles, patchNodeRedis, undo); // node-redis commands, refused where a blocked run issues them
  return () => {
    for (const u of undo.reverse()) u();
  };
}
