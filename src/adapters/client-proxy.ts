/**
 * The Proxy the adapters share. `guard()` takes its sinks by exact method path, but an adapter
 * chooses a method's treatment from its name at any depth (Stripe's `*.create`) or from the call's
 * arguments (a SQL statement), so each adapter supplies a `methodFor` hook instead of a policy.
 */
import { currentFrame, ioAllowed, runInFrame } from "../context/frame";
import {
  OBJECT_METHODS, enlist, familyCallback, forwardingTraps, guardedConstructor, inFamily, isBuiltIn, isClass, standInFor, type Family,
} from "../guard/proxy-values";

/** A method as the Proxy sees it: called with the real object as `this`. */
export type Method = (this: unknown, ...args: unknown[]) => unknown;

/**
 * How one adapter treats the methods of its client.
 *
 * @internal
 * @example
 * ```ts
 * const hooks: ClientHooks = { methodFor: (path, fn, self) => (path === "send" ? wrapSend(fn, self) : undefined) };
 * ```
 */
export interface ClientHooks {
  /**
   * The replacement for the method at `path` (dot-joined from the root), or `undefined` to pass
   * calls through. `proxyOf` gives the Proxy the method was read from.
   */
  readonly methodFor: (path: string, fn: Method, self: object, proxyOf: () => object, family: Family) => Method | undefined;
  /** Whether a nested object at `path` is proxied too (Stripe's resources), or handed out as it is. */
  readonly descend?: (path: string, value: object) => boolean;
}

interface CacheEntry {
  readonly original: unknown;
  readonly made: unknown;
}

/**
 * Wraps `target` so that methods chosen by `hooks` are replaced and everything else reaches the real
 * object: methods run with the real object as `this` (clients with `#private` fields or native
 * internals, such as better-sqlite3's, need it). What a passed-through method returns, like any property, comes back as the family's
 * proxy when it is an object the family guards (`stmt.pluck()`, `statement.database`), so a chain
 * cannot step out. `.constructor` and property descriptors are guarded as in `guard()`.
 *
 * @internal
 * @example
 * ```ts
 * const guarded = proxyClient(db, "", { methodFor: (path) => undefined }); // a transparent proxy
 * ```
 */
export function proxyClient<T extends object>(target: T, path: string, hooks: ClientHooks, family: Family = new WeakMap()): T {
  const known = inFamily(family, target);
  if (known !== undefined) return known as T;
  const cache = new Map<PropertyKey, CacheEntry>();
  let proxy: T;
  const proxyOf = (): T => proxy;
  // A stand-in, not the target, is what the Proxy wraps, as in guard(): the Proxy invariants would
  // otherwise forbid answering a wrapper for a frozen or non-writable property.
  const standIn = standInFor(target);
  const handler: ProxyHandler<T> = {
    get(_, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== "function" && (typeof value !== "object" || value === null || isBuiltIn(value))) return value;
      const hit = cache.get(prop);
      if (hit !== undefined && hit.original === value) return hit.made;
      const sibling = inFamily(family, value);
      if (sibling !== undefined) return sibling;
      let made: unknown;
      if (typeof prop === "symbol") {
        made = typeof value === "function" ? (value as Method).bind(target) : value;
      } else if (prop === "constructor" && typeof value === "function" && path === "") {
        made = guardedConstructor(value as Method, family, (instance) => proxyClient(instance, "", hooks, family));
      } else if (typeof value === "function") {
        if (isClass(value)) return value;
        const childPath = path === "" ? prop : `${path}.${prop}`;
        const chosen = OBJECT_METHODS.has(value) ? undefined : hooks.methodFor(childPath, value as Method, target, proxyOf, family);
        made = chosen ?? passThrough(value as Method, target, family);
      } else {
        const childPath = path === "" ? prop : `${path}.${prop}`;
        made = hooks.descend?.(childPath, value as object) === true ? proxyClient(value as object, childPath, hooks, family) : value;
      }
      cache.set(prop, { original: value, made });
      return made;
    },
    ...forwardingTraps(target, (prop) => Reflect.get(proxy, prop)),
  };
  proxy = new Proxy(standIn, handler);
  enlist(family, target, proxy);
  return proxy;
}

/**
 * Not a declared read: an adapter declares its reads itself (a SELECT, a Stripe retrieve). Internals
 * reached through the proxy (`_pulseQueryQueue` run by a raw prototype method applied to it) must
 * stay visible to the tripwire. Callbacks passed through see the family's proxies (`familyCallback`).
 */
function passThrough(fn: Method, self: object, family: Family): Method {
  const made = callbacksOf(family);
  const view = (value: unknown): unknown => inFamily(family, value) ?? value;
  return function (this: unknown, ...args: unknown[]): unknown {
    for (let i = 0; i < args.length; i++) {
      const arg = args[i];
      if (typeof arg === "function") args[i] = familyCallback(family, arg as Method, made, view);
    }
    const value = Reflect.apply(fn, self, args);
    return inFamily(family, value) ?? value;
  };
}

/** The callback wrappers of each family, one per callback, so `off(fn)` still finds `on(fn)`'s listener. */
const callbackStores = new WeakMap<Family, WeakMap<object, Method>>();

function callbacksOf(family: Family): WeakMap<object, Method> {
  let made = callbackStores.get(family);
  if (made === undefined) {
    made = new WeakMap();
    callbackStores.set(family, made);
  }
  return made;
}

/**
 * Runs a read of a guarded client: in a shadow run its own I/O is declared, so the tripwire lets it
 * out (a SELECT on a pooled connection the control opened); effects through other guards stay blocked.
 *
 * @internal
 * @example
 * ```ts
 * if (kind === "read") return declaredRead(() => Reflect.apply(fn, self, args));
 * ```
 */
export function declaredRead<T>(read: () => T): T {
  const frame = currentFrame();
  if (frame?.shadow !== true || frame.allowIo === true) return read();
  return runInFrame(ioAllowed(frame), read);
}

/**
 * True inside a shadow run, nested frames included (the same rule `callEffect` applies). Adapters
 * ask it only for decisions that are not effects: serving a read from what a sink minted.
 *
 * @internal
 * @example
 * ```ts
 * if (inShadowRun()) return minted.get(id);
 * ```
 */
export function inShadowRun(): boolean {
  for (let frame = currentFrame(); frame !== undefined; frame = frame.parent) {
    if (frame.shadow) return true;
  }
  return false;
}

/**
 * A short hex digest of a value's canonical JSON (keys sorted), so that a sink mints the same id for
 * the same request in every run and effect comparison sees equal answers.
 *
 * @internal
 * @example
 * ```ts
 * stableHash({ amount: 1, currency: "eur" }) === stableHash({ currency: "eur", amount: 1 }); // true
 * ```
 */
export function stableHash(value: unknown, length = 16): string {
  // FNV-1a, twice with different seeds: 64 bits without importing node:crypto into the core bundle.
  const text = canonical(value, new Set());
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x5bd1e995;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193) >>> 0;
    b = Math.imul(b ^ c, 0x5bd1e995) >>> 0;
  }
  return (a.toString(16).padStart(8, "0") + b.toString(16).padStart(8, "0")).slice(0, length);
}

function canonical(value: unknown, seen: Set<object>): string {
  if (value === undefined) return "u";
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "function" || typeof value === "symbol") return typeof value;
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? String(value);
  if (seen.has(value)) return "~";
  if (value instanceof Date) return `D${value.getTime()}`;
  if (ArrayBuffer.isView(value)) return `B${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("base64")}`;
  seen.add(value);
  const out = Array.isArray(value)
    ? `[${value.map((item) => canonical(item, seen)).join(",")}]`
    : `{${Object.keys(value)
        .sort()
        .map((key) => `${JSON.stringify(key)}:${canonical((value as Record<string, unknown>)[key], seen)}`)
        .join(",")}}`;
  seen.delete(value);
  return out;
}


/**
 * Checks an adapter's `name` option, throwing a `TypeError` that names the adapter.
 *
 * @internal
 * @example
 * ```ts
 * const name = adapterName(options?.name, "db", "guardSqlite");
 * ```
 */
export function adapterName(value: unknown, fallback: string, adapter: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== "string" || value === "") {
    throw new TypeError(`penumbra: ${adapter}: name must be a non-empty string, got ${typeof value === "string" ? '""' : typeof value}`);
  }
  return value;
}
