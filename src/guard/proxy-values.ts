/**
 * What a guarding proxy hands out as it is instead of wrapping: shared by `guard()` and the ready
 * adapters, so both treat a client's built-in values and classes the same way.
 */

/**
 * Values whose methods need their internal slots or are awaited (arrays, promises, Dates, Maps …).
 *
 * @internal
 * @example
 * ```ts
 * if (isBuiltIn(value)) return value; // a Date from a client is not wrapped
 * ```
 */
export function isBuiltIn(value: object): boolean {
  return (
    Array.isArray(value) ||
    typeof (value as { then?: unknown }).then === "function" ||
    value instanceof Date ||
    value instanceof Map ||
    value instanceof Set ||
    value instanceof WeakMap ||
    value instanceof WeakSet ||
    value instanceof RegExp ||
    value instanceof Error ||
    value instanceof ArrayBuffer ||
    ArrayBuffer.isView(value)
  );
}

/**
 * The methods every object inherits from `Object.prototype` (`toString`, `valueOf`, `hasOwnProperty`,
 * …): no client's effects, whatever a guard's `effects` or an adapter's naming rule says. Treated as
 * effects, a candidate's template string of a guarded client read `"undefined"` (or threw, where the
 * answer was a promise) and `hasOwnProperty` answered `undefined`.
 *
 * @internal
 * @example
 * ```ts
 * if (OBJECT_METHODS.has(fn)) return passThrough(fn);
 * ```
 */
export const OBJECT_METHODS: ReadonlySet<unknown> = new Set(
  Object.getOwnPropertyNames(Object.prototype)
    .map((key) => Object.getOwnPropertyDescriptor(Object.prototype, key)?.value as unknown)
    .filter((value) => typeof value === "function" && value !== Object),
);

/**
 * True for a class (so `instanceof client.errors.X` and `new client.Cursor()` keep working: classes
 * are not wrapped), written as one or as an ES5 constructor (what TypeScript and Babel emit for an
 * ES5 target): a function whose `prototype` has members of its own or inherits from another
 * prototype. A plain `function` method's `prototype` has neither; a generator's is its generator prototype.
 *
 * @internal
 * @example
 * ```ts
 * isClass(class StripeError {}); // true
 * ```
 */
export function isClass(fn: unknown): boolean {
  const source = Function.prototype.toString.call(fn);
  if (/^class[\s{]/.test(source)) return true;
  try {
    if (Object.prototype.toString.call(fn) !== "[object Function]") return false;
    const prototype = Reflect.getOwnPropertyDescriptor(fn as object, "prototype")?.value as unknown;
    if (typeof prototype !== "object" || prototype === null) return false;
    return Object.getPrototypeOf(prototype) !== Object.prototype || Reflect.ownKeys(prototype).some((key) => key !== "constructor");
  } catch {
    // A function whose traps throw when looked at is not taken for a class: it stays guarded.
    return false;
  }
}

/**
 * The traps a guarding proxy forwards to its real target unchanged. The proxy stands over an empty
 * stand-in (so it may hand out wrappers for frozen properties), which is why descriptors are reported
 * configurable and `preventExtensions` is refused: a Proxy may not report a property its stand-in
 * lacks as non-configurable, and a non-extensible stand-in would tie `ownKeys` to its empty key list.
 *
 * @internal
 * @example
 * ```ts
 * const proxy = new Proxy(standIn, { ...forwardingTraps(target), get: (_, prop) => wrap(prop) });
 * ```
 */
export function forwardingTraps(target: object, read?: (prop: PropertyKey) => unknown): Omit<ProxyHandler<object>, "get"> {
  return {
    set: (_, prop, value) => Reflect.set(target, prop, value, target),
    has: (_, prop) => Reflect.has(target, prop),
    deleteProperty: (_, prop) => Reflect.deleteProperty(target, prop),
    ownKeys: () => Reflect.ownKeys(target),
    getOwnPropertyDescriptor(_, prop) {
      const descriptor = Reflect.getOwnPropertyDescriptor(target, prop);
      if (descriptor === undefined) return undefined;
      if (read === undefined) return { ...descriptor, configurable: true };
      // A descriptor describes what the proxy hands out (the guarded method, the nested proxy), so
      // `Object.getOwnPropertyDescriptor(guarded, "send").value` is no way around the guard.
      if ("value" in descriptor) {
        const value: unknown = descriptor.value;
        const shown = typeof value === "function" || (typeof value === "object" && value !== null) ? read(prop) : value;
        return { ...descriptor, value: shown, configurable: true };
      }
      const shown: PropertyDescriptor = { ...descriptor, configurable: true };
      if (descriptor.get !== undefined) shown.get = () => read(prop);
      return shown;
    },
    defineProperty: (_, prop, descriptor) => Reflect.defineProperty(target, prop, { ...descriptor, configurable: true }),
    preventExtensions: () => false,
  };
}

const INSPECT = Symbol.for("nodejs.util.inspect.custom");

/**
 * The empty object a guarding Proxy wraps instead of `target` (see `forwardingTraps`), with its
 * prototype, so `instanceof` holds. `util.inspect` (and so `console.log`) reads a Proxy's own target,
 * traps bypassed, and showed that empty stand-in (`Mail {}`): the stand-in shows `target` instead.
 *
 * @internal
 * @example
 * ```ts
 * proxy = new Proxy(standInFor(target), handler);
 * ```
 */
export function standInFor<T extends object>(target: T): T {
  const standIn = Object.create(Object.getPrototypeOf(target) as object | null) as T;
  showAs(standIn, target);
  return standIn;
}

/**
 * Makes `util.inspect` of a Proxy over `standIn` show `target`. A cycle back to the same proxy (only
 * reachable with an unbounded depth) shows as `[Circular]`.
 *
 * @internal
 * @example
 * ```ts
 * showAs(functionStandIn, cls);
 * ```
 */
export function showAs(standIn: object, target: object): void {
  let inside = false;
  type Options = { depth?: number | null; stylize?: (text: string, style: string) => string };
  Object.defineProperty(standIn, INSPECT, {
    configurable: true,
    writable: true,
    enumerable: false,
    value(depth: number, options: Options, show: unknown): string {
      if (inside || typeof show !== "function") return options?.stylize?.("[Circular]", "special") ?? "[Circular]";
      inside = true;
      try {
        return String(Reflect.apply(show, undefined, [target, { ...options, depth: options?.depth === null ? null : depth }]));
      } finally {
        inside = false;
      }
    },
  });
}

/** Every guarding proxy, with the real object it stands for. */
const rawOf = new WeakMap<object, object>();

/**
 * The proxies of one guarded root and of everything reached from it, by the real object each stands
 * for: a value a client hands back that is already guarded in the family comes back as its proxy
 * (`statement.database`, a fluent `return this`).
 *
 * @internal
 * @example
 * ```ts
 * const family: Family = new WeakMap();
 * ```
 */
export type Family = WeakMap<object, object>;

/**
 * Records that `proxy` stands for `target` in `family`.
 *
 * @internal
 * @example
 * ```ts
 * proxy = new Proxy(standIn, handler);
 * enlist(family, target, proxy);
 * ```
 */
export function enlist(family: Family, target: object, proxy: object): void {
  rawOf.set(proxy, target);
  if (!family.has(target)) family.set(target, proxy);
}

/**
 * The proxy a family already has for `value`, when `value` is (or is the proxy of) a real object it guards.
 *
 * @internal
 * @example
 * ```ts
 * return inFamily(family, value) ?? value;
 * ```
 */
export function inFamily(family: Family, value: unknown): object | undefined {
  if ((typeof value !== "object" && typeof value !== "function") || value === null) return undefined;
  return family.get(value) ?? (rawOf.has(value) && family.get(rawOf.get(value) as object) === value ? value : undefined);
}

/**
 * True for an object a client hands out that is itself a route to the outside (a client, a
 * statement, a transaction, a pooled connection): an instance of a class with methods of its own.
 * Plain data, built-ins, iterators and streams are not: wrapping them would change what a read returns.
 *
 * @internal
 * @example
 * ```ts
 * if (isClientLike(returned)) return guardLike(returned);
 * ```
 */
export function isClientLike(value: unknown): value is object {
  if (typeof value !== "object" || value === null || value instanceof Promise) return false;
  // A thenable class instance is a client too: a query builder that runs when awaited (Drizzle's
  // QueryPromise, Prisma's promises) is a route to the effect its `then` starts.
  if (isBuiltIn(value) && typeof (value as { then?: unknown }).then !== "function") return false;
  if (Array.isArray(value)) return false;
  if (typeof (value as { next?: unknown }).next === "function" || typeof (value as { pipe?: unknown }).pipe === "function") return false;
  let proto = Object.getPrototypeOf(value) as object | null;
  if (proto === null || proto === Object.prototype) return false;
  for (; proto !== null && proto !== Object.prototype; proto = Object.getPrototypeOf(proto) as object | null) {
    for (const key of Object.getOwnPropertyNames(proto)) {
      if (key === "constructor") continue;
      const d = Object.getOwnPropertyDescriptor(proto, key);
      if (d !== undefined && typeof d.value === "function") return true;
    }
  }
  return false;
}

/**
 * The guarded face of a guarded object's `.constructor`: `prototype` is a view whose methods, applied
 * to a guarded object of the family (`guarded.constructor.prototype.send.call(guarded)`), take the
 * guarded path; `new` guards the instance it builds. A stand-in function is what the Proxy wraps,
 * because a class's own `prototype` is non-writable and a Proxy of it must report it unchanged.
 *
 * @internal
 * @example
 * ```ts
 * if (prop === "constructor") return guardedConstructor(value, family, (instance) => guard(name, instance, options));
 * ```
 */
export function guardedConstructor(cls: (...args: unknown[]) => unknown, family: Family, guardInstance: (instance: object) => object): unknown {
  const proto = (cls as { prototype?: unknown }).prototype;
  if (typeof proto !== "object" || proto === null || proto === Object.prototype) return cls;
  const methods = new Map<PropertyKey, unknown>();
  let ctor: unknown;
  const protoView: object = new Proxy(Object.create(Object.getPrototypeOf(proto) as object | null) as object, {
    get(_, prop) {
      if (prop === "constructor") return ctor;
      const value: unknown = Reflect.get(proto, prop, proto);
      if (typeof value !== "function" || typeof prop === "symbol" || isClass(value)) return value;
      let made = methods.get(prop);
      if (made === undefined) {
        const raw = value as (...args: unknown[]) => unknown;
        made = function (this: unknown, ...args: unknown[]): unknown {
          // Applied to a guarded object of this family (or the real one behind it): its guarded method.
          const guarded = inFamily(family, this);
          if (guarded !== undefined) return Reflect.apply(Reflect.get(guarded, prop) as (...a: unknown[]) => unknown, guarded, args);
          return Reflect.apply(raw, this, args);
        };
        methods.set(prop, made);
      }
      return made;
    },
    has: (_, prop) => Reflect.has(proto, prop),
    ownKeys: () => Reflect.ownKeys(proto),
    getOwnPropertyDescriptor(_, prop) {
      const d = Reflect.getOwnPropertyDescriptor(proto, prop);
      if (d === undefined) return undefined;
      return "value" in d ? { ...d, value: (protoView as Record<PropertyKey, unknown>)[prop], configurable: true } : { ...d, configurable: true };
    },
    set: () => false,
    defineProperty: () => false,
    deleteProperty: () => false,
    preventExtensions: () => false,
  });
  const standIn = function () {} as unknown as object;
  Object.setPrototypeOf(standIn, Object.getPrototypeOf(cls) as object | null);
  showAs(standIn, cls);
  ctor = new Proxy(standIn as (...args: unknown[]) => unknown, {
    get: (_, prop) => (prop === "prototype" ? protoView : Reflect.get(cls, prop, cls)),
    has: (_, prop) => Reflect.has(cls, prop),
    apply: (_, thisArg, args) => Reflect.apply(cls, thisArg, args),
    construct(_, args, newTarget) {
      const instance = Reflect.construct(cls, args, newTarget === ctor ? cls : newTarget) as object;
      return guardInstance(instance);
    },
  });
  return ctor;
}

/** A function as a guard calls it: any `this`, any arguments. */
type Callable = (...args: unknown[]) => unknown;

/**
 * The callback wrappers made by any guard or adapter, with the function each stands for: passed on to
 * another guarded method, a wrapper is not wrapped again; handed back by the client (`listeners()`),
 * it is the caller's own function again.
 */
const callbackOf = new WeakMap<object, Callable>();

/**
 * The caller's own function when `value` is a callback wrapper made by {@link familyCallback}, else undefined.
 *
 * @internal
 * @example
 * ```ts
 * return callbackFor(returned) ?? returned; // emitter.listeners() hands back the caller's functions
 * ```
 */
export function callbackFor(value: unknown): Callable | undefined {
  return typeof value === "function" ? callbackOf.get(value) : undefined;
}

/**
 * A callback passed to a guarded client, wrapped so that the client calls it with `this` and its
 * arguments as the guard hands them out (`view`): a callback-style client hands its connection to a
 * callback (`pool.getConnection((error, connection) => …)`) and an emitter calls a listener with
 * itself as `this`, and both were the real objects, an unguarded route to the effects. One wrapper
 * per callback in `made`, so `off(fn)` still removes `on(fn)`'s listener; it keeps the callback's
 * `length` and `name`. Classes, the family's own values and wrappers are handed on as they are.
 *
 * @internal
 * @example
 * ```ts
 * args[i] = familyCallback(family, arg, made, (value) => inFamily(family, value) ?? value);
 * ```
 */
export function familyCallback(family: Family, callback: Callable, made: WeakMap<object, Callable>, view: (value: unknown) => unknown): Callable {
  if (callbackOf.has(callback) || inFamily(family, callback) !== undefined || isClass(callback)) return callback;
  let wrapper = made.get(callback);
  if (wrapper === undefined) {
    wrapper = withArity(callback, function (this: unknown, ...args: unknown[]): unknown {
      return Reflect.apply(callback, inFamily(family, this) ?? this, args.map(view));
    });
    try {
      Object.defineProperty(wrapper, "name", { value: callback.name, configurable: true });
    } catch {
      // A Proxy callback whose `get` trap throws keeps the wrapper's own name: the call must not fail.
    }
    callbackOf.set(wrapper, callback);
    made.set(callback, wrapper);
  }
  return wrapper;
}

/**
 * `wrapper`, with `fn`'s `length`: frameworks read arity (Express's four-parameter error handlers).
 *
 * @internal
 * @example
 * ```ts
 * return withArity(method, function (this: unknown, ...args: unknown[]) { return method.apply(this, args); });
 * ```
 */
export function withArity<F extends Callable>(fn: Callable, wrapper: F): F {
  try {
    Object.defineProperty(wrapper, "length", { value: fn.length, configurable: true });
  } catch {
    // A Proxy function whose `get` trap throws: reading its arity must not make the call (or the read) throw.
  }
  return wrapper;
}
