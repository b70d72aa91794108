/**
 * The process hooks. `ChildProcess.prototype.spawn` is the funnel of every asynchronous API
 * (`spawn`, `exec`, `execFile`, `fork`), and as a prototype hook it also reaches callers that
 * captured those functions before the tripwire was installed. The synchronous APIs do not go
 * through it, so `spawnSync`, `execSync` and `execFileSync` are each patched on the module
 * (`execSync` calls the module-internal `spawnSync`, so patching `spawnSync` alone misses it).
 * `worker_threads.Worker` is replaced on the module by a Proxy: a worker has its own module
 * instances and no async context, so nothing inside it can be tripwired; it is stopped at birth.
 * Callers that captured `Worker` before installation (`const { Worker } = require(...)`) are
 * not reached: install the tripwire before the application loads.
 *
 * The handles of running children are hooked too, since a candidate may reach a process the control
 * started: `child.kill` and `worker.postMessage` on their prototypes, and for each child spawned
 * while the tripwire is installed its `send` (an own property Node adds at spawn) and its stdio
 * pipes, whose writes the socket hook then records under the child's command line.
 */
import childProcess from "node:child_process";
import { syncBuiltinESMExports } from "node:module";
import workerThreads from "node:worker_threads";
import * as net from "node:net";
import { inspect } from "./verdict";
import { nameChildPipe } from "./sockets";

/** Joins argv into one readable command line; only arguments that need it are quoted. */
function commandLine(argv: readonly unknown[]): string {
  return argv.map((a) => (typeof a === "string" && /^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(String(a)))).join(" ");
}

function check(command: string): void {
  const verdict = inspect({ kind: "child_process", command, target: command });
  if (verdict.action === "block") throw verdict.error;
}

/** The verdict's error when it blocks, else undefined. */
function blocked(command: string): Error | undefined {
  const verdict = inspect({ kind: "child_process", command, target: command });
  return verdict.action === "block" ? verdict.error : undefined;
}

interface ChildHandle {
  spawnargs?: unknown;
  stdio?: unknown;
  send?: unknown;
}

function childCommand(child: ChildHandle): string {
  return Array.isArray(child.spawnargs) ? commandLine(child.spawnargs as unknown[]) : "child process";
}

/** Names a new child's pipes and guards its `send`, which Node attaches to the instance at spawn. */
function watchHandles(child: ChildHandle, live: () => boolean): void {
  const command = childCommand(child);
  if (Array.isArray(child.stdio)) {
    for (const pipe of child.stdio as unknown[]) if (pipe instanceof net.Socket) nameChildPipe(pipe, command);
  }
  const send = child.send;
  if (typeof send !== "function") return;
  child.send = function (this: unknown, ...args: unknown[]): unknown {
    const error = live() ? blocked(`send ${command}`) : undefined;
    if (error === undefined) return (send as (...a: unknown[]) => unknown).apply(this, args);
    for (let i = args.length - 1; i >= 0; i--) {
      if (typeof args[i] === "function") {
        process.nextTick(args[i] as (e: Error) => void, error);
        break;
      }
    }
    return false;
  };
}

/** The fields of the options `ChildProcess.prototype.spawn` receives that name the command. */
interface SpawnOptions {
  file?: unknown;
  args?: unknown;
}

type Patchable = Record<string, unknown>;

/**
 * Installs the process and worker hooks; returns the function that removes them.
 *
 * @internal
 * @example
 * ```ts
 * const unpatch = patchProcesses();
 * ```
 */
export function patchProcesses(): () => void {
  let live = true;
  const undo: Array<() => void> = [];

  const proto = childProcess.ChildProcess.prototype as unknown as Patchable & { _handle?: unknown };
  const originalSpawn = proto["spawn"] as (this: unknown, options: SpawnOptions) => unknown;
  const hookedSpawn = function (this: { _handle?: { close?: () => void } | null }, options: SpawnOptions): unknown {
    if (live) {
      // options.args is the full argv, argv[0] included (`/bin/sh -c …` for exec).
      const argv = Array.isArray(options?.args) ? (options.args as unknown[]) : [options?.file];
      try {
        check(commandLine(argv));
      } catch (error) {
        // Node's own path for a spawn that fails synchronously: close the unspawned handle so it
        // cannot hold the event loop open, then throw.
        this._handle?.close?.();
        this._handle = null;
        throw error;
      }
    }
    const spawned = originalSpawn.call(this, options);
    // Only a child that really started has handles; the error path above threw already.
    if (live) watchHandles(this as ChildHandle, () => live);
    return spawned;
  };
  proto["spawn"] = hookedSpawn;
  undo.push(() => {
    if (proto["spawn"] === hookedSpawn) proto["spawn"] = originalSpawn;
  });

  const originalKill = proto["kill"] as (this: unknown, ...args: unknown[]) => unknown;
  const hookedKill = function (this: ChildHandle, ...args: unknown[]): unknown {
    // A signal is an effect on another process, whoever started it.
    if (live && blocked(`kill ${childCommand(this)}`) !== undefined) return false;
    return originalKill.apply(this, args);
  };
  proto["kill"] = hookedKill;
  undo.push(() => {
    if (proto["kill"] === hookedKill) proto["kill"] = originalKill;
  });

  const cp = childProcess as unknown as Patchable;
  const syncCommand: Record<string, (args: unknown[]) => string> = {
    spawnSync: (args) => commandLine([args[0], ...(Array.isArray(args[1]) ? (args[1] as unknown[]) : [])]),
    execFileSync: (args) => commandLine([args[0], ...(Array.isArray(args[1]) ? (args[1] as unknown[]) : [])]),
    // execSync runs one shell command line; it is recorded as written.
    execSync: (args) => String(args[0]),
  };
  for (const [name, describe] of Object.entries(syncCommand)) {
    const original = cp[name] as (...args: unknown[]) => unknown;
    const hooked = function (this: unknown, ...args: unknown[]): unknown {
      if (live) check(describe(args));
      return original.apply(this, args);
    };
    cp[name] = hooked;
    undo.push(() => {
      if (cp[name] === hooked) cp[name] = original;
    });
  }

  const wt = workerThreads as unknown as Patchable;
  const OriginalWorker = workerThreads.Worker;
  // A Proxy, not a subclass: `instanceof Worker` and `Worker.prototype` stay the original's.
  const HookedWorker = new Proxy(OriginalWorker, {
    construct(target, args: unknown[], newTarget) {
      if (live) {
        const source = args[1] !== null && typeof args[1] === "object" && (args[1] as { eval?: unknown }).eval === true ? "[eval]" : String(args[0]);
        check(`new Worker ${source}`);
      }
      return Reflect.construct(target, args, newTarget) as object;
    },
  });
  wt["Worker"] = HookedWorker;
  const workerProto = OriginalWorker.prototype as unknown as Patchable;
  const originalPost = workerProto["postMessage"] as (this: unknown, ...args: unknown[]) => unknown;
  const hookedPost = function (this: { threadId?: unknown }, ...args: unknown[]): unknown {
    // A message to a worker is input to another thread the candidate cannot be traced into.
    if (live && blocked(`postMessage worker ${String(this.threadId)}`) !== undefined) return undefined;
    return originalPost.apply(this, args);
  };
  workerProto["postMessage"] = hookedPost;
  undo.push(() => {
    if (workerProto["postMessage"] === hookedPost) workerProto["postMessage"] = originalPost;
  });
  undo.push(() => {
    if (wt["Worker"] === HookedWorker) wt["Worker"] = OriginalWorker;
  });

  // ESM named imports of builtins (`import { execSync } from "node:child_process"`) only see
  // module patches after this call.
  syncBuiltinESMExports();
  return () => {
    live = false;
    for (const u of undo) u();
    syncBuiltinESMExports();
  };
}
