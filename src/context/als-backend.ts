import { AsyncLocalStorage, AsyncResource } from "node:async_hooks";
import type { ContextBackend } from "../types/context";

/**
 * The default context backend: Node's `AsyncLocalStorage`. It costs nothing until the first run,
 * and unlike cls-hooked it never slows async code outside penumbra's runs by more than Node's own
 * promise hooks (measurements: docs/architecture.md, "Context").
 *
 * @example
 * ```ts
 * configure({ context: asyncLocalStorageContext() }); // back to the default after trying another backend
 * ```
 */
export function asyncLocalStorageContext(): ContextBackend {
  const storage = new AsyncLocalStorage<unknown>();
  return {
    name: "AsyncLocalStorage",
    run: (store, fn) => storage.run(store, fn),
    get: () => storage.getStore(),
    bind: <F extends (...args: never[]) => unknown>(fn: F): F => AsyncResource.bind(fn as unknown as (...args: unknown[]) => unknown) as unknown as F,
  };
}
