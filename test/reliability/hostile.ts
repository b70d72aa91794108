/**
 * Generators of hostile values for property tests: errors whose `name` / `message` / `stack` getters
 * throw, Proxies whose every trap throws, revoked Proxies, null-prototype objects, cycles, thenables,
 * values whose `toString` / `Symbol.toPrimitive` / `util.inspect.custom` throw, and huge and deep
 * structures. Each value is built fresh per case (a factory), so a case that mutates one cannot leak
 * into the next.
 */
import { inspect } from "node:util";
import fc from "fast-check";

/** What the hostile getters and traps throw: itself an error that is hostile to read. */
export function nastyError(): Error {
  const e = new Error("nasty");
  // "stack" first: redefining it makes V8 format the pending stack, which reads name and message.
  for (const key of ["stack", "name", "message"]) {
    Object.defineProperty(e, key, {
      get(): never {
        throw nastyThrowable();
      },
    });
  }
  return e;
}

/** A thrown value with no prototype and a throwing `toString` on top. */
function nastyThrowable(): object {
  const o = Object.create(null) as Record<string, unknown>;
  o["toString"] = (): never => {
    throw new Error("toString");
  };
  return o;
}

const ALL_TRAPS = [
  "get", "set", "has", "ownKeys", "getOwnPropertyDescriptor", "getPrototypeOf", "setPrototypeOf",
  "defineProperty", "deleteProperty", "isExtensible", "preventExtensions", "apply", "construct",
] as const;

/** A Proxy (over `target`) whose every trap throws. */
export function throwingProxy<T extends object>(target: T): T {
  const handler: ProxyHandler<T> = {};
  for (const trap of ALL_TRAPS) {
    (handler as Record<string, unknown>)[trap] = (): never => {
      throw nastyError();
    };
  }
  return new Proxy(target, handler);
}

/** A Proxy that has been revoked: every operation on it throws a TypeError. */
export function revokedProxy(): object {
  const { proxy, revoke } = Proxy.revocable({ a: 1 }, {});
  revoke();
  return proxy;
}

class GetterError extends Error {
  override get message(): string {
    throw nastyError();
  }
}

class NameError extends Error {
  override get name(): string {
    throw new Error("name");
  }
}

/** An Error subclass instance whose prototype getters throw. */
export function hostileErrorInstance(kind: number): unknown {
  switch (kind % 6) {
    case 0:
      return new GetterError();
    case 1:
      return new NameError("named");
    case 2:
      return nastyError();
    case 3:
      return throwingProxy(new Error("behind a proxy"));
    case 4: {
      const e = new TypeError("x");
      // A message that is an object whose every conversion throws.
      Object.defineProperty(e, "message", { value: { [Symbol.toPrimitive]: (): never => { throw new Error("prim"); } } });
      return e;
    }
    default: {
      const e = new RangeError("esc \u001b[2J bell \u0007");
      Object.defineProperty(e, "stack", { get(): never { throw new Error("stack"); } });
      return e;
    }
  }
}

/** Builds a chain `{ next: { next: … } }` `depth` levels deep, iteratively. */
export function deepChain(depth: number, leaf: unknown = 1): unknown {
  let value: unknown = leaf;
  for (let i = 0; i < depth; i++) value = { next: value };
  return value;
}

/** Builds nested arrays `[[[…]]]` `depth` levels deep, iteratively. */
export function deepArrays(depth: number, leaf: unknown = 1): unknown {
  let value: unknown = leaf;
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

const LEAF_FACTORIES: ReadonlyArray<() => unknown> = [
  () => nastyError(),
  () => nastyThrowable(),
  () => throwingProxy({ a: 1 }),
  () => throwingProxy([1, 2]),
  () => throwingProxy(function f() {}),
  () => revokedProxy(),
  () => ({ get boom(): never { throw nastyError(); } }),
  () => {
    const o = Object.create(null) as Record<string, unknown>;
    o["a"] = 1;
    return o;
  },
  () => {
    const o: Record<string, unknown> = { a: 1 };
    o["self"] = o;
    return o;
  },
  () => ({ then(): never { throw new Error("then must never be called"); } }),
  () => ({ [inspect.custom]: (): never => { throw new Error("inspect.custom"); } }),
  () => ({ toString: (): never => { throw new Error("toString"); }, valueOf: (): never => { throw new Error("valueOf"); } }),
  () => ({ [Symbol.toPrimitive]: (): never => { throw new Error("toPrimitive"); } }),
  () => ({ toJSON: (): never => { throw new Error("toJSON"); } }),
  () => {
    // A toJSON that answers with a fresh object that has its own toJSON, for ever.
    const make = (): object => ({ toJSON: make });
    return make();
  },
  () => ({ get [Symbol.toStringTag](): never { throw new Error("tag"); } }),
  () => new Map<unknown, unknown>([[{ sku: "A" }, 1], [throwingProxy({}), 2]]),
  () => new Set<unknown>([{ a: 1 }, nastyError()]),
  () => new Date(Number.NaN),
  () => Symbol("s"),
  () => 10n ** 30n,
  () => Number.NaN,
  () => undefined,
  () => null,
];

/**
 * A recipe for a hostile value. fast-check inspects what it generates (`cloneMethod in value`,
 * which a throwing Proxy trap would turn against the test runner), so the generators hand out
 * recipes and the property builds the value it tests.
 */
export interface Hostile {
  build(): unknown;
  readonly label: string;
}

function recipe(label: string, build: () => unknown): Hostile {
  return { build, label, toString: () => label } as Hostile;
}

/** Huge and deep values: costly to build and walk, so drawn less often than the other leaves. */
const HEAVY_FACTORIES: ReadonlyArray<() => unknown> = [
  () => deepChain(6_000),
  () => deepArrays(6_000),
  () => Array.from({ length: 30_000 }, (_, i) => i),
  () => "x".repeat(200_000),
  () => Buffer.alloc(1_100_000, 1),
];

/** One hostile leaf. */
export function hostileLeaf(): fc.Arbitrary<Hostile> {
  return fc.oneof(
    { arbitrary: fc.nat({ max: LEAF_FACTORIES.length - 1 }).map((i) => recipe(`leaf#${i}`, LEAF_FACTORIES[i] as () => unknown)), weight: 6 },
    { arbitrary: fc.nat({ max: HEAVY_FACTORIES.length - 1 }).map((i) => recipe(`heavy#${i}`, HEAVY_FACTORIES[i] as () => unknown)), weight: 1 },
    { arbitrary: fc.nat({ max: 5 }).map((k) => recipe(`error#${k}`, () => hostileErrorInstance(k))), weight: 3 },
    { arbitrary: fc.oneof(fc.string(), fc.integer(), fc.double(), fc.boolean()).map((v) => recipe(JSON.stringify(v) ?? String(v), () => v)), weight: 2 },
  );
}

/**
 * A hostile value: a hostile leaf, or a small structure (object, null-prototype object, array,
 * Map with object keys, Set) holding hostile values.
 */
export function hostileValue(): fc.Arbitrary<Hostile> {
  const { value } = fc.letrec<{ value: Hostile }>((tie) => ({
    value: fc.oneof(
      { depthSize: "small", withCrossShrink: true },
      hostileLeaf(),
      fc.array(fc.tuple(fc.string({ maxLength: 4 }), tie("value")), { maxLength: 4 }).map((fields) =>
        recipe(`{${fields.map(([k, v]) => `${k}:${v.label}`).join(",")}}`, () => Object.fromEntries(fields.map(([k, v]) => [k, v.build()]))),
      ),
      fc.array(fc.tuple(fc.string({ maxLength: 4 }), tie("value")), { maxLength: 3 }).map((fields) =>
        recipe(`null-proto{${fields.map(([k, v]) => `${k}:${v.label}`).join(",")}}`, () => {
          const o = Object.create(null) as Record<string, unknown>;
          for (const [k, v] of fields) o[k] = v.build();
          return o;
        }),
      ),
      fc.array(tie("value"), { maxLength: 4 }).map((items) => recipe(`[${items.map((v) => v.label).join(",")}]`, () => items.map((v) => v.build()))),
      fc.array(fc.tuple(tie("value"), tie("value")), { maxLength: 3 }).map((entries) =>
        recipe(`Map(${entries.map(([k, v]) => `${k.label}=>${v.label}`).join(",")})`, () => new Map(entries.map(([k, v]) => [k.build(), v.build()]))),
      ),
      fc.array(tie("value"), { maxLength: 3 }).map((members) => recipe(`Set(${members.map((v) => v.label).join(",")})`, () => new Set(members.map((v) => v.build())))),
    ),
  }));
  return value;
}
