/**
 * `guardStripe`: a Stripe client made safe for shadow runs. Stripe reuses keep-alive sockets, and a
 * payment is the side effect a candidate must least of all make, so the client itself is guarded.
 */
import { callEffect, type EffectPolicy } from "../guard/effect-call";
import { adapterName, declaredRead, inShadowRun, proxyClient, stableHash, type Method } from "./client-proxy";

/**
 * Options of {@link guardStripe}.
 *
 * @example
 * ```ts
 * const options: GuardStripeOptions = { name: "payments" }; // effects are named "payments.refunds.create", …
 * ```
 */
export interface GuardStripeOptions {
  /** The prefix of recorded effect names. @default "stripe" */
  name?: string;
}

/** Method names that only read: they pass through in every run. */
const READ = /^(?:retrieve|list|search|get)(?=$|[A-Z])/;
/** Methods that build something locally and send nothing. */
const LOCAL: ReadonlySet<string> = new Set(["authorizeUrl"]);
/** Top-level members that are helpers, not API calls (`webhooks.constructEvent` is pure). */
const HELPER_ROOTS: ReadonlySet<string> = new Set(["webhooks", "errors", "Decimal", "StripeResource"]);
/** The minted objects a guard remembers for later shadow reads; oldest forgotten first. */
const MINTED_LIMIT = 1000;

/** Stripe's id prefixes for the objects a shadow run most often creates; others use the object name. */
const ID_PREFIX: Readonly<Record<string, string>> = {
  payment_intent: "pi",
  setup_intent: "seti",
  payment_method: "pm",
  customer: "cus",
  charge: "ch",
  refund: "re",
  "checkout.session": "cs",
  "billing_portal.session": "bps",
  subscription: "sub",
  subscription_item: "si",
  invoice: "in",
  invoice_item: "ii",
  product: "prod",
  price: "price",
  payout: "po",
  transfer: "tr",
  source: "src",
  token: "tok",
  payment_link: "plink",
  promotion_code: "promo",
  tax_rate: "txr",
  tax_id: "txi",
  credit_note: "cn",
  account: "acct",
  file: "file",
};

/** The `status` a verb leaves an object in, where Stripe's answer always carries one. */
const STATUS_AFTER: Readonly<Record<string, string>> = {
  confirm: "succeeded",
  capture: "succeeded",
  cancel: "canceled",
  pay: "paid",
  voidInvoice: "void",
  void: "void",
  finalizeInvoice: "open",
  markUncollectible: "uncollectible",
};

type StripeObject = Record<string, unknown>;

/**
 * Wraps a Stripe client so that every API method that changes something, at any depth
 * (`paymentIntents.create`, `checkout.sessions.create`, `refunds.create`, `invoices.finalizeInvoice`,
 * `paymentMethods.attach`, `subscriptions.cancel`), is a side effect, and reads pass through.
 *
 * - Reads (declared, so their requests get past the tripwire): methods named `retrieve…`, `list…`,
 *   `search…`, `get…`; `rawRequest("GET", …)`. Top-level helpers (`on`, `webhooks.*`, `errors.*`,
 *   `_`-prefixed internals) pass through undeclared. Every other API method is an effect, unknown
 *   verbs included (fail closed), and so is `_requestSender._request` / `_rawRequest` reached through
 *   the guarded client unless its method is `GET`.
 * - In a control run an effect is sent and recorded as `stripe.<path>` with its arguments.
 * - In a shadow run it is not sent; it is recorded as blocked and answered with a promise of a
 *   plausible object: `create` mints `pi_shadow_<hash>` (the prefix from the resource, the hash from
 *   the path and parameters, so the same request mints the same id in every run), `object` named from
 *   the resource (`payment_intent`, `checkout.session`), `livemode: false`, the request fields echoed,
 *   `status` set by verbs that decide it (`confirm` → `succeeded`, `cancel` → `canceled`), `deleted:
 *   true` for `del`.
 * - A shadow run's later `retrieve` of an id the guard minted is answered from what it minted (with
 *   the changes later sunk calls echoed), since Stripe would answer 404.
 *
 * Two creates with the same parameters in one run mint the same id. A shadow update of a real object
 * is not visible to the candidate's later retrieve (that reaches Stripe): no read-your-writes.
 *
 * @example
 * ```ts
 * import Stripe from "stripe";
 * import { shadow } from "penumbra";
 * import { guardStripe } from "penumbra/stripe";
 *
 * const stripe = guardStripe(new Stripe(process.env.STRIPE_KEY!));
 * const checkout = shadow(
 *   (order: Order) => chargeV1(stripe, order),
 *   (order: Order) => chargeV2(stripe, order), // stripe.paymentIntents.create answers pi_shadow_…, charges nobody
 * );
 * ```
 */
export function guardStripe<T extends object>(stripe: T, options?: GuardStripeOptions): T {
  const name = adapterName(options?.name, "stripe", "guardStripe");
  if (typeof stripe !== "object" || stripe === null) {
    throw new TypeError(`penumbra: guardStripe '${name}': stripe must be a Stripe client object`);
  }
  const minted = new Map<string, StripeObject>();
  const remember = (object: StripeObject): void => {
    const id = object.id;
    if (typeof id !== "string" || !id.includes("_shadow_")) return;
    minted.delete(id);
    minted.set(id, object);
    if (minted.size > MINTED_LIMIT) minted.delete(minted.keys().next().value as string);
  };
  return proxyClient(stripe, "", {
    descend: (path) => {
      if (path === "_requestSender") return true;
      const segments = path.split(".");
      return !HELPER_ROOTS.has(segments[0] ?? "") && !segments.some((segment) => segment.startsWith("_"));
    },
    methodFor(path, fn, self, proxyOf) {
      // The request sender every resource method ends in: reached directly, it is the same effect.
      if (path === "_requestSender._request") return senderRequest(name, fn, self, proxyOf);
      if (path === "_requestSender._rawRequest") return rawRequest(name, fn, self, proxyOf);
      const segments = path.split(".");
      const method = segments[segments.length - 1] ?? "";
      if (segments.some((segment) => segment.startsWith("_")) || HELPER_ROOTS.has(segments[0] ?? "")) return undefined;
      if (segments.length === 1) return path === "rawRequest" ? rawRequest(name, fn, self, proxyOf) : undefined;
      if (LOCAL.has(method)) return undefined;
      if (READ.test(method)) return method === "retrieve" ? retrieveMinted(fn, self, minted) : read(fn, self);
      const resource = segments.slice(0, -1);
      const policy: EffectPolicy = {
        name: `${name}.${path}`,
        answer: "sink",
        sink: (...args: unknown[]) => {
          const object = fakeObject(resource, method, args, minted);
          remember(object);
          return Promise.resolve(withLastResponse(clone(object), object));
        },
        async: false,
      };
      return function (this: unknown, ...args: unknown[]): unknown {
        return callEffect(policy, () => Reflect.apply(fn, self, args), self, args, proxyOf());
      };
    },
  });
}

/** A read API method: declared, so its request gets past the tripwire in a shadow run. */
function read(fn: Method, self: object): Method {
  return function (this: unknown, ...args: unknown[]): unknown {
    return declaredRead(() => Reflect.apply(fn, self, args));
  };
}

/** `retrieve(id)` of an id this guard minted, in a shadow run: served from the guard, never sent. */
function retrieveMinted(fn: Method, self: object, minted: Map<string, StripeObject>): Method {
  return function retrieve(this: unknown, ...args: unknown[]): unknown {
    const id = args[0];
    const object = typeof id === "string" ? minted.get(id) : undefined;
    if (object !== undefined && inShadowRun()) return Promise.resolve(withLastResponse(clone(object), object));
    return declaredRead(() => Reflect.apply(fn, self, args));
  };
}

/**
 * `_requestSender._request(method, host, path, data, authenticator, options, usage, callback)`:
 * a read for GET, else an effect answered through the callback with the posted fields echoed.
 */
function senderRequest(name: string, fn: Method, self: object, proxyOf: () => object): Method {
  return function _request(this: unknown, ...args: unknown[]): unknown {
    const [method, , path, data] = args;
    if (typeof method === "string" && method.toUpperCase() === "GET") return declaredRead(() => Reflect.apply(fn, self, args));
    const callback = args.find((a, i) => i >= 7 && typeof a === "function") as ((error: unknown, response: unknown) => void) | undefined;
    const policy: EffectPolicy = {
      name: `${name}._requestSender._request`,
      answer: "sink",
      sink: () => {
        const object: StripeObject = { ...asObject(data), livemode: false };
        if (callback !== undefined) process.nextTick(callback, null, withLastResponse(object, { id: stableHash([method, path, data]) }));
      },
      async: false,
    };
    return callEffect(policy, () => Reflect.apply(fn, self, args), self, [method, path, data], proxyOf());
  };
}

/** `stripe.rawRequest(method, path, params, options)`: a read for GET, an effect otherwise. */
function rawRequest(name: string, fn: Method, self: object, proxyOf: () => object): Method {
  const policy: EffectPolicy = {
    name: `${name}.rawRequest`,
    answer: "sink",
    sink: (_method: unknown, path: unknown, params: unknown) => {
      const object: StripeObject = { ...asObject(params), livemode: false };
      return Promise.resolve(withLastResponse(object, { id: stableHash([path, params]) }));
    },
    async: false,
  };
  return function (this: unknown, ...args: unknown[]): unknown {
    if (typeof args[0] === "string" && args[0].toUpperCase() === "GET") return declaredRead(() => Reflect.apply(fn, self, args));
    return callEffect(policy, () => Reflect.apply(fn, self, args), self, args, proxyOf());
  };
}

function fakeObject(resource: string[], method: string, args: unknown[], minted: Map<string, StripeObject>): StripeObject {
  const firstIsId = typeof args[0] === "string";
  const params = asObject(firstIsId ? args[1] : args[0]);
  // `createSource(customerId, …)`, `createLoginLink(accountId)`: the object is named by the suffix.
  const suffix = /^create([A-Z]\w*)$/.exec(method)?.[1];
  if (method === "create" || suffix !== undefined) {
    const objectName = suffix !== undefined ? snake(singular(suffix)) : objectNameOf(resource);
    const prefix = ID_PREFIX[objectName] ?? objectName.replace(/\./g, "_");
    const id = `${prefix}_shadow_${stableHash([resource.join("."), method, args[0], params])}`;
    return { id, object: objectName, livemode: false, ...params };
  }
  const objectName = objectNameOf(resource);
  const id = firstIsId ? (args[0] as string) : `${ID_PREFIX[objectName] ?? objectName.replace(/\./g, "_")}_shadow_${stableHash([resource.join("."), method, params])}`;
  const before = minted.get(id) ?? { id, object: objectName };
  if (method === "del" || method.startsWith("delete")) return { id, object: objectName, deleted: true };
  const status = STATUS_AFTER[method];
  return { ...before, ...params, id, livemode: false, ...(status === undefined ? {} : { status }) };
}

/** `checkout.sessions` → `checkout.session`, `paymentIntents` → `payment_intent`. */
function objectNameOf(resource: string[]): string {
  const last = resource[resource.length - 1] ?? "object";
  return [...resource.slice(0, -1).map(snake), snake(singular(last))].join(".");
}

function singular(word: string): string {
  if (/ies$/.test(word)) return `${word.slice(0, -3)}y`;
  if (/(?:ss|us)$/.test(word)) return word;
  return word.endsWith("s") ? word.slice(0, -1) : word;
}

function snake(word: string): string {
  return word.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`).replace(/^_/, "");
}

function asObject(value: unknown): StripeObject {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as StripeObject) : {};
}

/** A copy per answer: a candidate that mutates what it got must not change what a later retrieve sees. */
function clone(object: StripeObject): StripeObject {
  try {
    return structuredClone(object);
  } catch {
    return { ...object };
  }
}

/** Stripe answers carry `lastResponse`, not enumerable, so it stays out of comparisons as in the SDK. */
function withLastResponse(object: StripeObject, source: StripeObject): StripeObject {
  Object.defineProperty(object, "lastResponse", {
    value: { headers: {}, requestId: `req_shadow_${stableHash(source.id)}`, statusCode: 200 },
    enumerable: false,
    configurable: true,
    writable: true,
  });
  return object;
}
