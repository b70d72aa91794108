/**
 * `guard`: a client object made safe for shadow runs (API.md §3). A deep Proxy hands out, for every
 * method reached from the root (`stripe.checkout.sessions.create`), a wrapper that calls the method on
 * the real object and, for methods listed in `effects`, makes the `sideEffect` decision at the call.
 */
import { currentFrame, ioAllowed, runInFrame } from "../context/frame";
import { callEffect, checkOnShadow, generatorKind, type EffectPolicy, type ShadowAnswer } from "./effect-call";
import {
  OBJECT_METHODS, callbackFor, enlist, familyCallback, forwardingTraps, guardedConstructor, inFamily, isBuiltIn, isClass, isClientLike,
  standInFor, withArity, type Family,
} from "./proxy-values";
import { isAsyncFunction } from "../util/thenable";

/* eslint-disable @typescript-eslint/no-explicit-any -- the contract's signature: sinks of any shape */
/**
 * Which methods of a guarded object are side effects, and how a shadow run is answered.
 *
 * Method paths are the property names from the guarded root joined by dots (`sendMail`,
 * `charges.create`). In globs, `*` stands for any characters inside one segment (`refunds.*` matches
 * `refunds.create`, not `refunds.a.b`) and `**` for any number of segments (`refunds.**`). A path
 * names only the method itself: `charges` does not cover `charges.create`.
 *
 * @example
 * ```ts
 * const options: GuardOptions = {
 *   effects: ["charges.create", "refunds.*"],
 *   sink: { "charges.create": async (p: { amount: number }) => ({ id: `ch_shadow_${p.amount}` }) },
 * };
 * ```
 */
export interface GuardOptions {
  /**
   * The side-effecting methods, as method-path globs, or `"all"` for every method. Methods not
   * listed are reads: they pass through in every run and are not recorded. The methods inherited
   * from `Object.prototype` (`toString`, `valueOf`, `hasOwnProperty`, …) and `toJSON` are always reads.
   * @default "all"
   */
  effects?: "all" | string[];
  /** Fake answers for shadow runs, by exact method path; each must be a listed effect. @default {} */
  sink?: Record<string, (...args: any[]) => unknown>;
  /**
   * The answer to a blocked call: the path's sink (`"sink"`; paths without one answer `undefined`),
   * `undefined` (`"noop"`), or a `ShadowBlockedError` (`"throw"`). When given it applies to every
   * path. Methods declared `async` get these answers as promises; generators and async generators
   * without a sink get an iterator of their kind, empty or failing at its first step.
   * @default "sink" for paths that have a sink, else "noop"
   */
  onShadow?: "sink" | "noop" | "throw";
}
/* eslint-enable @typescript-eslint/no-explicit-any */

interface GuardPolicy {
  readonly name: string;
  readonly isEffect: (path: string) => boolean;
  readonly sink: Readonly<Record<string, (...args: unknown[]) => unknown>>;
  readonly onShadow: ShadowAnswer | undefined;
  /** The guarding wrapper made for each callback passed to a guarded method, so `off(fn)` finds `on(fn)`'s. */
  readonly callbacks: WeakMap<object, (...args: unknown[]) => unknown>;
}

/**
 * Wraps a client object so that its listed methods, at any depth, behave like `sideEffect` with the
 * name `${name}.${path}`, and everything else passes through. Methods run with the real object as
 * `this` (clients with `#private` fields work); repeated reads give the same wrappers and nested
 * proxies; `instanceof` works; property writes go to the real object.
 *
 * Returned as they are, not wrapped: symbol-keyed properties (functions bound to the real object),
 * arrays, promises and other built-in values (`Date`, `Map`, `Set`, `RegExp`, errors, buffers and
 * typed arrays), and classes (so `instanceof client.errors.ApiError` works). A method wrapper carries
 * none of the method's own properties but its `length`.
 *
 * No unguarded route is handed out: what a method returns that is itself a client (an instance of a
 * class with methods: a connection, a transaction, a statement) is guarded with the same options,
 * its method paths counted from the root again (`pool.connect().query` is `query`), an array of
 * clients comes back as an array of guarded ones, a promise of one (a returned promise or a
 * promise-valued property such as `client.ready`) resolves to the guarded one, and so do the arguments (and `this`) a callback passed to a
 * guarded method is called with; the real object, returned by a fluent method, comes back as its
 * proxy; `.constructor` is guarded (its `prototype`'s methods applied to a guarded object take the
 * guarded path, and `new` builds a guarded instance); `Object.getOwnPropertyDescriptor` describes
 * the guarded values. `Object.getPrototypeOf(guarded)` is the real prototype (so `instanceof`
 * works): a raw method taken from it and applied to the proxy runs for real, which no proxy can
 * prevent; the tripwire stops the network variants.
 *
 * @throws TypeError at construction when `name`, `target`, `effects`, `sink` or `onShadow` is invalid.
 *
 * @example
 * ```ts
 * const payments = guard("payments", stripe, {
 *   effects: ["charges.create", "refunds.*"],
 *   sink: { "charges.create": async (p) => ({ id: `ch_shadow_${p.amount}`, amount: p.amount }) },
 * });
 * await payments.charges.create({ amount: 4990 }); // a candidate's call never reaches Stripe
 * ```
 */
export function guard<T extends object>(name: string, target: T, options?: GuardOptions): T {
  if (typeof name !== "string" || name === "") {
    throw new TypeError(`penumbra: guard: name must be a non-empty string, got ${typeof name === "string" ? '""' : typeof name}`);
  }
  if (typeof target !== "object" || target === null) {
    const hint = typeof target === "function" ? " (wrap a function with sideEffect)" : "";
    throw new TypeError(`penumbra: guard '${name}': target must be an object, got ${target === null ? "null" : typeof target}${hint}`);
  }
  if (options !== undefined && (typeof options !== "object" || options === null)) {
    throw new TypeError(`penumbra: guard '${name}': options must be an object`);
  }
  const isEffect = effectMatcher(name, options?.effects);
  const onShadow = checkOnShadow(options?.onShadow, `guard '${name}': onShadow`);
  const sink = checkSink(name, options?.sink, isEffect);
  return deepProxy({ name, isEffect, sink, onShadow, callbacks: new WeakMap() }, target, "", new WeakMap());
}

/** A cached value, with the original it was made from: a replaced property gets a fresh one. */
interface CacheEntry {
  readonly original: unknown;
  readonly made: unknown;
}

function deepProxy<T extends object>(policy: GuardPolicy, target: T, path: string, family: Family): T {
  const known = inFamily(family, target);
  if (known !== undefined) return known as T;
  const cache = new Map<PropertyKey, CacheEntry>();
  let proxy: T;
  // A stand-in, not the target, is what the Proxy wraps: the Proxy invariants forbid answering a
  // wrapper for a non-configurable, non-writable property of the Proxy's own target (frozen SDK
  // objects). The stand-in keeps the prototype, so instanceof still works; its one own property (a
  // configurable inspect hook, so util.inspect shows the target) is configurable and it stays
  // extensible, so no other invariant constrains the traps.
  const standIn = standInFor(target);
  const handler: ProxyHandler<T> = {
    get(_, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      try {
        return guardedProperty(prop, value);
      } catch {
        // A value whose traps throw when looked at (a hostile Proxy) is handed out as the target has
        // it: reading a property must not throw where the real client's would not.
        return value;
      }
    },
    ...forwardingTraps(target, (prop) => Reflect.get(proxy, prop)),
  };
  /** What a property read hands out: a method wrapper, a nested proxy, or the value as it is. */
  function guardedProperty(prop: string | symbol, value: unknown): unknown {
    if (typeof value !== "function" && (typeof value !== "object" || value === null || (isBuiltIn(value) && !(value instanceof Promise)))) {
      return value;
    }
    const hit = cache.get(prop);
    if (hit !== undefined && hit.original === value) return hit.made;
    const sibling = inFamily(family, value);
    if (sibling !== undefined) return sibling;
    let made: unknown;
    if (typeof prop === "symbol") {
      // Symbol members (iterators, inspect hooks) are protocol plumbing, not named methods: bound, not guarded.
      made = typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    } else if (typeof value === "object" && value instanceof Promise) {
      // A promise-valued property (`await client.ready`, resolving to the client) resolves guarded.
      made = guardReturned(policy, family, value);
    } else if (prop === "constructor" && typeof value === "function") {
      made = guardedConstructor(value as (...args: unknown[]) => unknown, family, (instance) => deepProxy(policy, instance, "", family));
    } else if (typeof value === "function") {
      if (isClass(value)) return value;
      made = wrapMethod(policy, value as (...args: unknown[]) => unknown, target, join(path, prop), () => proxy, family);
    } else {
      made = deepProxy(policy, value as object, join(path, prop), family);
    }
    cache.set(prop, { original: value, made });
    return made;
  }
  proxy = new Proxy(standIn, handler);
  enlist(family, target, proxy);
  return proxy;
}

/**
 * What a guarded method hands back: a route out (a client, a connection, a statement, the real
 * object itself) comes back guarded, in the same family; anything else as it is.
 */
function guardReturned(policy: GuardPolicy, family: Family, value: unknown): unknown {
  const known = inFamily(family, value);
  if (known !== undefined) return known;
  if (typeof value === "function") return callbackFor(value) ?? value;
  try {
    if (value instanceof Promise) return guardedPromise(value, (resolved) => guardReturned(policy, family, resolved));
    // An array of clients (a cluster's nodes) comes back as a new array of guarded ones; data arrays as they are.
    if (Array.isArray(value)) return value.some((item) => isRoute(family, item)) ? value.map((item) => guardReturned(policy, family, item)) : value;
    return isClientLike(value) ? deepProxy(policy, value, "", family) : value;
  } catch {
    // A value whose traps or getters throw when looked at is handed back untouched, as the real
    // method returned it: looking at it must not make the call throw.
    return value;
  }
}

/** True for a value a guarded method must not hand out as it is: a client, or the real object of a guarded one. */
function isRoute(family: Family, value: unknown): boolean {
  return inFamily(family, value) !== undefined || callbackFor(value) !== undefined || isClientLike(value);
}

/**
 * A promise a guarded method returns, resolving to the guarded value. A native promise is chained. A
 * subclass (the OpenAI and Anthropic SDKs' `APIPromise`, with its own `then` and `withResponse()`)
 * is handed back as itself behind a Proxy whose `then` guards the value: chained, it became a plain
 * promise and lost its methods.
 */
function guardedPromise(promise: Promise<unknown>, guardValue: (value: unknown) => unknown): Promise<unknown> {
  if (Object.getPrototypeOf(promise) === Promise.prototype) return promise.then(guardValue);
  const then = function (onFulfilled?: unknown, onRejected?: unknown): unknown {
    const fulfilled = (value: unknown): unknown => {
      const guarded = guardValue(value);
      return typeof onFulfilled === "function" ? Reflect.apply(onFulfilled, undefined, [guarded]) : guarded;
    };
    return Reflect.apply(promise.then, promise, [fulfilled, onRejected]);
  };
  // A stand-in with the promise's prototype (so `instanceof APIPromise` holds) is what the Proxy
  // wraps, so a frozen promise's own properties put no invariant on the answers.
  const standIn = standInFor(promise);
  return new Proxy(standIn, {
    get(_, prop) {
      if (prop === "then") return then;
      const value: unknown = Reflect.get(promise, prop, promise);
      // `catch` and `finally` call `this.then`: left unbound, they reach the guarding `then` above.
      if (typeof value !== "function" || prop === "catch" || prop === "finally" || prop === "constructor") return value;
      return (value as (...args: unknown[]) => unknown).bind(promise);
    },
  });
}

function wrapMethod(
  policy: GuardPolicy,
  method: (...args: unknown[]) => unknown,
  self: object,
  path: string,
  proxyOf: () => unknown,
  family: Family,
): (...args: unknown[]) => unknown {
  const fn = withGuardedCallbacks(policy, family, method);
  // `toJSON`, like the Object.prototype methods, is how JSON.stringify looks at an object, not an effect.
  if (!policy.isEffect(path) || OBJECT_METHODS.has(method) || path === "toJSON" || path.endsWith(".toJSON")) {
    // A read: the real object as `this` (so `#private` fields work). In a shadow run its own I/O is
    // declared, so the tripwire lets it out; effects it triggers through other guards stay blocked.
    return withArity(method, function (this: unknown, ...args: unknown[]): unknown {
      const frame = currentFrame();
      if (frame?.shadow !== true || frame.allowIo === true) return guardReturned(policy, family, Reflect.apply(fn, self, args));
      return guardReturned(policy, family, runInFrame(ioAllowed(frame), () => Reflect.apply(fn, self, args)));
    });
  }
  const sink = Object.hasOwn(policy.sink, path) ? policy.sink[path] : undefined;
  const effect: EffectPolicy = {
    name: `${policy.name}.${path}`,
    answer: policy.onShadow ?? (sink === undefined ? "noop" : "sink"),
    sink,
    async: isAsyncFunction(method),
    generator: generatorKind(method),
    then: path === "then" || path.endsWith(".then"),
  };
  // The sink's `this` is the guarded object, so a sink that calls another method of it stays guarded.
  return withArity(method, function (this: unknown, ...args: unknown[]): unknown {
    return guardReturned(policy, family, callEffect(effect, fn, self, args, proxyOf()));
  });
}

/**
 * `method`, with every function argument replaced by its guarding wrapper: a callback-style client
 * hands its connection to a callback (`pool.getConnection((error, connection) => …)`) and an emitter
 * calls a listener with itself as `this`, and both were the real objects, an unguarded route to the
 * effects. The wrapper calls the callback with `this` and the arguments as a guarded method would
 * return them (a client guarded, the real guarded object as its proxy).
 */
function withGuardedCallbacks(policy: GuardPolicy, family: Family, method: (...args: unknown[]) => unknown): (...args: unknown[]) => unknown {
  const view = (value: unknown): unknown => guardReturned(policy, family, value);
  return function (this: unknown, ...args: unknown[]): unknown {
    for (let i = 0; i < args.length; i++) {
      const arg = args[i];
      if (typeof arg === "function") args[i] = familyCallback(family, arg as (...a: unknown[]) => unknown, policy.callbacks, view);
    }
    return Reflect.apply(method, this, args);
  };
}

function join(path: string, prop: string): string {
  return path === "" ? prop : `${path}.${prop}`;
}


function effectMatcher(name: string, effects: unknown): (path: string) => boolean {
  if (effects === undefined || effects === "all") return () => true;
  if (!Array.isArray(effects)) {
    throw new TypeError(`penumbra: guard '${name}': effects must be "all" or an array of method paths`);
  }
  const patterns = effects.map((glob: unknown): readonly string[] => {
    if (typeof glob !== "string" || glob === "" || glob.split(".").some((segment) => segment === "")) {
      throw new TypeError(`penumbra: guard '${name}': effects has an invalid method path ${JSON.stringify(glob) ?? String(glob)}`);
    }
    return glob.split(".");
  });
  const cache = new Map<string, boolean>();
  return (path) => {
    let hit = cache.get(path);
    if (hit === undefined) {
      const segments = path.split(".");
      hit = patterns.some((pattern) => matchesPath(pattern, segments));
      // Bounded: a client with dynamic property names (a cache keyed by user ids) must not grow it for ever.
      if (cache.size >= PATH_CACHE_SIZE) cache.clear();
      cache.set(path, hit);
    }
    return hit;
  };
}

const PATH_CACHE_SIZE = 4096;

/**
 * Whether a glob's segments match a method path's: `**` stands for any number of (non-empty)
 * segments, none included, and a glob that is only `**` for any path. Memoised over positions, so
 * the work is bounded by the product of the lengths (a regular expression backtracked exponentially
 * on a glob with many stars and a long name, on the request path).
 */
function matchesPath(pattern: readonly string[], path: readonly string[]): boolean {
  if (pattern.length === 1 && pattern[0] === "**") return true;
  const memo = new Map<number, boolean>();
  const from = (i: number, j: number): boolean => {
    if (i === pattern.length) return j === path.length;
    const key = i * (path.length + 1) + j;
    const known = memo.get(key);
    if (known !== undefined) return known;
    const glob = pattern[i] as string;
    const result =
      glob === "**"
        ? from(i + 1, j) || (j < path.length && path[j] !== "" && from(i, j + 1))
        : j < path.length && matchesSegment(glob, path[j] as string) && from(i + 1, j + 1);
    memo.set(key, result);
    return result;
  };
  return from(0, 0);
}

/** `*` in one segment stands for any characters: the greedy match with one backtrack point, O(glob × name). */
function matchesSegment(glob: string, name: string): boolean {
  let g = 0;
  let n = 0;
  let star = -1;
  let mark = 0;
  while (n < name.length) {
    if (g < glob.length && glob[g] !== "*" && glob[g] === name[n]) {
      g++;
      n++;
    } else if (g < glob.length && glob[g] === "*") {
      star = g++;
      mark = n;
    } else if (star !== -1) {
      g = star + 1;
      n = ++mark;
    } else {
      return false;
    }
  }
  while (g < glob.length && glob[g] === "*") g++;
  return g === glob.length;
}

function checkSink(
  name: string,
  sink: unknown,
  isEffect: (path: string) => boolean,
): Readonly<Record<string, (...args: unknown[]) => unknown>> {
  if (sink === undefined) return {};
  if (typeof sink !== "object" || sink === null || Array.isArray(sink)) {
    throw new TypeError(`penumbra: guard '${name}': sink must be an object of functions by method path`);
  }
  const out: Record<string, (...args: unknown[]) => unknown> = Object.create(null) as Record<string, (...args: unknown[]) => unknown>;
  for (const [path, fn] of Object.entries(sink)) {
    if (typeof fn !== "function") throw new TypeError(`penumbra: guard '${name}': sink["${path}"] must be a function, got ${typeof fn}`);
    // A sink for a path that is not an effect would never be called: almost certainly a typo.
    if (!isEffect(path)) throw new TypeError(`penumbra: guard '${name}': sink["${path}"] is not a listed effect`);
    out[path] = fn as (...args: unknown[]) => unknown;
  }
  return out;
}
