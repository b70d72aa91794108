/**
 * `penumbra/openfeature`: turn an experiment's candidates on, off or up to a share of calls from an
 * OpenFeature flag, so a ramp (0 → 5% → 100%) is a flag change, not a deploy.
 *
 * The client is typed structurally (the two methods used), so this module imports nothing from
 * `@openfeature/server-sdk`, neither at runtime nor in its declarations: any 1.x server client fits,
 * and a second installed copy of the SDK cannot cause a type clash.
 *
 * Why two typed evaluations and not one `getObjectDetails`: providers check the resolved type against
 * the requested one (the in-memory provider, flagd and the vendors answer `TYPE_MISMATCH` to an object
 * request for a boolean flag), so one untyped evaluation cannot serve both kinds. The gate remembers
 * which kind the flag was last time and asks that one first: one round trip per call in steady state,
 * two only on the first call and when the flag's type changes.
 *
 * Why the gate also keeps the flag's last answer: promotion (`promote`, API §5) must decide who
 * answers the caller synchronously, before any await, and a flag turned off must send every call
 * back to the control at once. The gate's `now(...args)` answers from the value the flag had at its
 * last evaluation or provider change event, with no round trip.
 */
import { describeThrown } from "../describe";
import { stableFraction } from "../experiment/index";

/**
 * The evaluation context passed to the flag: OpenFeature's `EvaluationContext`, structurally.
 *
 * @example
 * ```ts
 * const context: OpenFeatureContext = { targetingKey: cart.customerId, plan: "pro" };
 * ```
 */
export interface OpenFeatureContext {
  /** Who the call is for. Providers bucket on it, and so does the gate for a number flag (sticky). */
  targetingKey?: string;
  [attribute: string]: unknown;
}

/**
 * What an OpenFeature evaluation answers: the part of `EvaluationDetails` the gate reads.
 *
 * @example
 * ```ts
 * const details: OpenFeatureDetails<number> = await client.getNumberDetails("checkout.v2.shadow", 0);
 * ```
 */
export interface OpenFeatureDetails<T> {
  value: T;
  /** Set when the evaluation failed (the SDK then answers the default value): `FLAG_NOT_FOUND`, `TYPE_MISMATCH`, … */
  errorCode?: string;
  errorMessage?: string;
}

/**
 * The part of an OpenFeature server `Client` the gate uses; `OpenFeature.getClient()` fits.
 *
 * @example
 * ```ts
 * import { OpenFeature } from "@openfeature/server-sdk";
 * const client: OpenFeatureClient = OpenFeature.getClient();
 * ```
 */
export interface OpenFeatureClient {
  getBooleanDetails(flagKey: string, defaultValue: boolean, context?: OpenFeatureContext): Promise<OpenFeatureDetails<boolean>>;
  getNumberDetails(flagKey: string, defaultValue: number, context?: OpenFeatureContext): Promise<OpenFeatureDetails<number>>;
  /**
   * Provider events (the SDK's `addHandler`): the gate refreshes its last answer on configuration
   * changes. Typed `never` because the SDK's event names are an enum, which no string-literal type
   * is assignable to; the gate passes {@link OpenFeatureEventType} values.
   */
  addHandler?(eventType: never, handler: never): void;
  removeHandler?(eventType: never, handler: never): void;
}

/**
 * The provider events the gate listens to, by their OpenFeature names (`ProviderEvents.Ready`,
 * `ProviderEvents.ConfigurationChanged`).
 *
 * @example
 * ```ts
 * const event: OpenFeatureEventType = "PROVIDER_CONFIGURATION_CHANGED";
 * ```
 */
export type OpenFeatureEventType = "PROVIDER_READY" | "PROVIDER_CONFIGURATION_CHANGED";

/**
 * The part of OpenFeature's `EventDetails` the gate reads.
 *
 * @example
 * ```ts
 * const details: OpenFeatureEventDetails = { flagsChanged: ["checkout.total-v2.shadow"] };
 * ```
 */
export interface OpenFeatureEventDetails {
  flagsChanged?: string[];
}

/**
 * What {@link openFeatureGate} returns: the asynchronous `enabled` gate, plus the flag's last answer
 * for synchronous readers (promotion).
 *
 * @example
 * ```ts
 * const gate: OpenFeatureGate<[Cart]> = openFeatureGate(client, { flagKey: "checkout.total-v2" });
 * shadow(oldTotal, newTotal, { enabled: gate, promote: 0.05 });
 * gate.now(cart); // false at once after the flag is turned off
 * ```
 */
export interface OpenFeatureGate<A extends unknown[]> {
  (...args: A): Promise<boolean>;
  /**
   * The flag's last known value: a boolean, a fraction in 0..1, or `undefined` before the first
   * answer and after a failed evaluation (both mean off).
   */
  readonly lastValue: boolean | number | undefined;
  /**
   * This call's answer from {@link OpenFeatureGate.lastValue}, synchronously and without a round
   * trip: a boolean is itself, a fraction is decided like the gate decides it (sticky with a
   * `targetingKey`), anything unknown is `false`. Never throws (a throwing `contextOf` means false).
   */
  now(...args: A): boolean;
  /** Stops listening to the client's provider events. Idempotent. */
  close(): void;
}

/**
 * Options of {@link openFeatureGate}.
 *
 * @example
 * ```ts
 * const options: OpenFeatureGateOptions<[Cart]> = {
 *   flagKey: "checkout.total-v2.shadow",
 *   contextOf: (cart) => ({ targetingKey: cart.customerId }),
 * };
 * ```
 */
export interface OpenFeatureGateOptions<A extends unknown[]> {
  /** The flag: a boolean (candidates on / off) or a number in 0..1 (the admitted fraction of calls). */
  flagKey: string;
  /**
   * The evaluation context of a call, from its arguments. With a `targetingKey`, a number flag admits
   * the same keys on every call and in every process, and a ramp keeps those already admitted.
   * Without one, each call is drawn at random. @default no context
   */
  contextOf?: (...args: A) => OpenFeatureContext;
}

type FlagKind = "boolean" | "number";

/** An evaluation's answer, read once: a getter on the client's object runs once, and a code is a string. */
interface Details {
  value: unknown;
  errorCode: string | undefined;
  errorMessage: string | undefined;
}

/** Evaluation problems that leave the gate closed and are worth one report, not one per call. */
class FlagProblem extends Error {
  override readonly name = "OpenFeatureGateError";
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

/**
 * Creates an `enabled` gate that asks an OpenFeature flag whether this call runs the candidates.
 *
 * A boolean flag turns candidates on or off. A number flag is the admitted fraction: with a
 * `targetingKey` from `contextOf` the decision is `stableFraction(targetingKey, flagKey) < fraction`
 * (sticky per key, across processes), else `Math.random() < fraction`. An evaluation error, a missing
 * flag, a provider that is not ready, a number outside 0..1 or a flag of another type means "off".
 * The gate is `async`, so penumbra asks it only for calls that passed the synchronous gates and took
 * a slot, in parallel with the control: it never delays the control, sync or async.
 *
 * The gate keeps the flag's last answer (`lastValue`, read synchronously by `now(...args)`),
 * refreshed by every evaluation and, when the client has `addHandler`, by the provider's
 * `PROVIDER_READY` and `PROVIDER_CONFIGURATION_CHANGED` events, so promotion can roll back the moment
 * the flag is turned off.
 *
 * The first failure of each kind is reported (the gate's promise rejects once, which penumbra
 * reports as an `ExperimentError` with operation `enabled` and treats as "no"); repeats stay silent
 * until an evaluation succeeds again, so a missing flag costs one warning, not one per call.
 *
 * @example
 * ```ts
 * import { OpenFeature } from "@openfeature/server-sdk";
 * import { shadow } from "penumbra";
 * import { openFeatureGate } from "penumbra/openfeature";
 *
 * const total = shadow(oldTotal, newTotal, {
 *   enabled: openFeatureGate(OpenFeature.getClient(), {
 *     flagKey: "checkout.total-v2.shadow", // true / false, or 0.05 for 5% of customers
 *     contextOf: (cart: Cart) => ({ targetingKey: cart.customerId }),
 *   }),
 * });
 * ```
 */
export function openFeatureGate<A extends unknown[]>(client: OpenFeatureClient, options: OpenFeatureGateOptions<A>): OpenFeatureGate<A> {
  let isClient: boolean;
  try {
    isClient = typeof client === "object" && client !== null && typeof client.getBooleanDetails === "function" && typeof client.getNumberDetails === "function";
  } catch {
    isClient = false; // a Proxy or a getter that throws when its methods are read
  }
  if (!isClient) throw new TypeError("openFeatureGate: client must be an OpenFeature server client (OpenFeature.getClient())");
  let flagKey: unknown;
  let contextOf: OpenFeatureGateOptions<A>["contextOf"];
  try {
    ({ flagKey, contextOf } = options ?? ({} as OpenFeatureGateOptions<A>));
  } catch (error) {
    throw new TypeError(`openFeatureGate: options (flagKey, contextOf) could not be read: ${describeThrown(error)}`);
  }
  if (typeof flagKey !== "string" || flagKey === "") {
    throw new TypeError(`openFeatureGate: flagKey must be a non-empty string, got ${String(flagKey)}`);
  }
  if (contextOf !== undefined && typeof contextOf !== "function") {
    throw new TypeError(`openFeatureGate: contextOf must be a function, got ${typeof contextOf}`);
  }

  // Most flags never change type; guessing "boolean" first costs one extra round trip, once.
  let kind: FlagKind = "boolean";
  // Codes reported since the last good evaluation: one report per kind of failure, not per call.
  const reported = new Set<string>();
  let lastValue: boolean | number | undefined;
  // The context of the latest call: a change event re-evaluates with it (targeting rules may read it).
  let lastContext: OpenFeatureContext | undefined;
  // Evaluations are numbered so a slow answer never overwrites a newer one.
  let issued = 0;
  let applied = 0;

  /** One typed evaluation, read once into plain fields; throws when the client fails or answers no details. */
  const evaluate = async (as: FlagKind, context: OpenFeatureContext | undefined): Promise<Details> => {
    // Defaults are the "off" answers, and what the SDK returns when evaluation fails.
    const answer: unknown = await (as === "boolean" ? client.getBooleanDetails(flagKey, false, context) : client.getNumberDetails(flagKey, 0, context));
    if (typeof answer !== "object" || answer === null) throw new TypeError(`the client answered ${answer === null ? "null" : typeof answer}, not evaluation details`);
    const { value, errorCode, errorMessage } = answer as OpenFeatureDetails<unknown>;
    return {
      value,
      errorCode: errorCode === undefined || errorCode === null ? undefined : String(errorCode),
      errorMessage: typeof errorMessage === "string" ? errorMessage : undefined,
    };
  };

  /** One evaluation, the type dance included: the flag's value, or the problem that means "off". */
  const resolveFlag = async (context: OpenFeatureContext | undefined): Promise<boolean | number | FlagProblem> => {
    const ticket = ++issued;
    const settle = (answer: boolean | number | FlagProblem): boolean | number | FlagProblem => {
      if (ticket > applied) {
        applied = ticket;
        lastValue = answer instanceof FlagProblem ? undefined : answer;
      }
      return answer;
    };
    let details: Details;
    try {
      // The kind asked is this evaluation's own: overlapping evaluations may learn the flag's kind
      // (and change `kind`) while this one waits, and its retry must ask the kind it did not ask yet.
      const asked = kind;
      details = await evaluate(asked, context);
      if (details.errorCode === "TYPE_MISMATCH" || (details.errorCode === undefined && typeof details.value !== asked)) {
        // The flag is of the other kind (or changed kind): ask that one, and remember it.
        const other: FlagKind = asked === "boolean" ? "number" : "boolean";
        const retry = await evaluate(other, context);
        if (retry.errorCode === undefined && typeof retry.value === other) kind = other;
        if (retry.errorCode !== "TYPE_MISMATCH") details = retry;
      }
    } catch (error) {
      // A client that throws, rejects or answers something that is not details: off, like any failure,
      // so the last value is forgotten (promotion must not go on serving from a broken provider).
      return settle(new FlagProblem(`openFeatureGate: flag "${flagKey}" could not be evaluated (the client failed: ${describeThrown(error)}); candidates are off`, "CLIENT_FAILED"));
    }
    if (details.errorCode !== undefined) {
      const code = details.errorCode;
      const why = code === "TYPE_MISMATCH" ? "is neither a boolean nor a number" : `could not be evaluated (${code})`;
      const detail = details.errorMessage ? `: ${details.errorMessage}` : "";
      return settle(new FlagProblem(`openFeatureGate: flag "${flagKey}" ${why}${detail}; candidates are off`, code));
    }
    const { value } = details;
    if (typeof value === "boolean") return settle(value);
    if (typeof value !== "number") {
      return settle(new FlagProblem(`openFeatureGate: flag "${flagKey}" answered a ${typeof value}; candidates are off`, "TYPE_MISMATCH"));
    }
    if (!(value >= 0 && value <= 1)) {
      // Fail closed: a 5 meant as "5%" must not become 100%.
      return settle(new FlagProblem(`openFeatureGate: number flag "${flagKey}" is ${value}, not a fraction in 0..1; candidates are off`, "RANGE"));
    }
    return settle(value);
  };

  const decide = (value: boolean | number, context: OpenFeatureContext | undefined): boolean => {
    if (typeof value === "boolean") return value;
    const key = context?.targetingKey;
    const draw = typeof key === "string" && key !== "" ? stableFraction(key, flagKey) : Math.random();
    return draw < value;
  };

  // Change events refresh the last answer; their failures stay silent (the next call reports them).
  const refresh = (details?: OpenFeatureEventDetails): void => {
    // Skipped only when the event surely names other flags; details it cannot read refresh anyway.
    try {
      const changed = details?.flagsChanged;
      if (Array.isArray(changed) && changed.length > 0 && !changed.includes(flagKey)) return;
    } catch {
      // a getter or a Proxy in the event's details: not a reason to miss a change
    }
    // resolveFlag settles every failure itself (newest evaluation wins), so nothing is left to catch.
    resolveFlag(lastContext).catch(() => undefined);
  };
  const events: OpenFeatureEventType[] = ["PROVIDER_READY", "PROVIDER_CONFIGURATION_CHANGED"];
  type Subscribe = (eventType: OpenFeatureEventType, handler: (details?: OpenFeatureEventDetails) => void) => void;
  let listening = false;
  if (typeof client.addHandler === "function") {
    try {
      for (const event of events) (client.addHandler as Subscribe).call(client, event, refresh);
      listening = true;
    } catch {
      // A client whose addHandler throws still works through per-call evaluations.
    }
  }
  // Known before the first call where possible, so promotion does not wait for traffic to learn the flag.
  refresh();

  // `async` on purpose: penumbra recognises a declared async `enabled` and asks it last, admitted calls only.
  const gate = async function openFeatureEnabled(...args: A): Promise<boolean> {
    const context = contextOf === undefined ? undefined : contextOf(...args);
    lastContext = context;
    const answer = await resolveFlag(context);
    if (answer instanceof FlagProblem) {
      if (reported.has(answer.code)) return false;
      reported.add(answer.code);
      throw answer;
    }
    reported.clear();
    return decide(answer, context);
  };
  return Object.defineProperties(gate, {
    lastValue: { get: () => lastValue, enumerable: true },
    now: {
      value: (...args: A): boolean => {
        const value = lastValue;
        if (value === undefined || value === false || value === 0) return false;
        try {
          return decide(value, contextOf === undefined ? undefined : contextOf(...args));
        } catch {
          return false;
        }
      },
    },
    close: {
      value: (): void => {
        if (!listening) return;
        listening = false;
        try {
          const unsubscribe = client.removeHandler as Subscribe | undefined;
          for (const event of events) unsubscribe?.call(client, event, refresh);
        } catch {
          // Nothing to undo: the handler simply keeps refreshing a value nobody reads.
        }
      },
    },
  }) as OpenFeatureGate<A>;
}
