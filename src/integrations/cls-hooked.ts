/**
 * `penumbra/cls-hooked`: a context backend for applications that already keep request context in a
 * cls-hooked namespace. Penumbra's run frames then live in that namespace, so the app's own values
 * (a request id set by middleware) stay visible inside control and candidate runs.
 *
 * The default backend, AsyncLocalStorage, is the better choice for everyone else: once any
 * cls-hooked namespace exists, every promise in the process pays for its async hook (measured 11–16×
 * on await-heavy code), and that cannot be switched off (docs/architecture.md, "Context").
 */
import { executionAsyncId } from "node:async_hooks";
import type { ContextBackend } from "../types/context";

/** The part of a cls-hooked `Namespace` penumbra uses. */
export interface ClsNamespace {
  readonly name?: string;
  runAndReturn<T>(fn: (context: unknown) => T): T;
  set<T>(key: string, value: T): T;
  get(key: string): unknown;
  // cls-hooked's own signature: any function, bound to the active (or a new) context.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  bind<F extends (...args: any[]) => any>(fn: F, context?: unknown): F;
}

const FRAME_KEY = "penumbra.frame";
/** Stored for "no run" (`run(undefined, fn)`), so `get()` does not look further (see `ofCurrentResource`). */
const NO_RUN = Symbol("penumbra.no-run");

/**
 * A `ContextBackend` on a cls-hooked namespace, for `configure({ context })`. Uses `runAndReturn`
 * (never `runPromise`, which leaks its context into the caller).
 *
 * @example
 * ```ts
 * import { createNamespace } from "cls-hooked";
 * import { configure } from "penumbra";
 * import { clsHookedContext } from "penumbra/cls-hooked";
 *
 * const requests = createNamespace("requests");
 * configure({ context: clsHookedContext(requests) });
 * ```
 */
export function clsHookedContext(namespace: ClsNamespace): ContextBackend {
  if (typeof namespace !== "object" || namespace === null || typeof namespace.runAndReturn !== "function") {
    throw new TypeError("penumbra: clsHookedContext() takes a cls-hooked Namespace (createNamespace(name))");
  }
  return {
    name: `cls-hooked:${namespace.name ?? "namespace"}`,
    run: (store, fn) =>
      namespace.runAndReturn(() => {
        namespace.set(FRAME_KEY, store === undefined ? NO_RUN : store);
        return fn();
      }),
    get: () => {
      try {
        const store = namespace.get(FRAME_KEY);
        if (store === NO_RUN) return undefined;
        return store ?? ofCurrentResource(namespace);
      } catch {
        // Outside any active context some cls-hooked versions throw instead of answering undefined.
        return undefined;
      }
    },
    bind: <F extends (...args: never[]) => unknown>(fn: F): F => namespace.bind(fn as unknown as (...args: unknown[]) => unknown) as unknown as F,
  };
}

/**
 * The frame of the async resource now executing, read from cls-hooked's own map of contexts by
 * async id. Node makes a rejected promise the current resource while it emits `unhandledRejection`
 * but runs no async hook for it, so cls-hooked's active context is not the promise's there; without
 * this, a candidate's floating rejection would not be recognised as the candidate's (fault containment).
 */
function ofCurrentResource(namespace: ClsNamespace): unknown {
  const contexts = (namespace as { _contexts?: unknown })._contexts;
  if (!(contexts instanceof Map)) return undefined;
  const context: unknown = contexts.get(executionAsyncId());
  if (typeof context !== "object" || context === null) return undefined;
  const store = (context as Record<string, unknown>)[FRAME_KEY];
  return store === NO_RUN ? undefined : store;
}
