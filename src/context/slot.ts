/**
 * The process-wide slot that holds the context backend. It lives on `globalThis` under a
 * `Symbol.for` key, so every loaded copy of penumbra (CommonJS, the ESM face, a second install in
 * another node_modules) reads and writes run frames in the same store. Without it, a guard from one
 * copy would not see a shadow run started by another and would let the side effect through.
 */
import type { ContextBackend } from "../types/context";
import { asyncLocalStorageContext } from "./als-backend";

const SLOT_KEY = Symbol.for("penumbra.context.v1");

interface Slot {
  backend: ContextBackend;
}

type GlobalWithSlot = typeof globalThis & { [SLOT_KEY]?: Slot };

function slot(): Slot {
  const holder = globalThis as GlobalWithSlot;
  let current = holder[SLOT_KEY];
  if (current === undefined) {
    current = { backend: asyncLocalStorageContext() };
    Object.defineProperty(holder, SLOT_KEY, { value: current, enumerable: false, configurable: false });
  }
  return current;
}

/**
 * The backend every copy of penumbra in this process uses.
 *
 * @internal
 * @example
 * ```ts
 * const store = contextBackend().get();
 * ```
 */
export function contextBackend(): ContextBackend {
  return slot().backend;
}

/**
 * Replaces the backend for every copy of penumbra in this process.
 *
 * @internal
 * @example
 * ```ts
 * if ("context" in options) setContextBackend(context ?? asyncLocalStorageContext());
 * ```
 */
export function setContextBackend(backend: ContextBackend): void {
  slot().backend = backend;
}
