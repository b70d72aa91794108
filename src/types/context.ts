/** Types of the shadow context: what a run knows about itself, and the pluggable store behind it. */
import type { Role } from "./results";

/**
 * What the code running inside an experiment can learn about its run.
 *
 * @example
 * ```ts
 * const run = currentRun();
 * if (run?.role === "candidate") run.signal.addEventListener("abort", () => cancelWork());
 * ```
 */
export interface RunInfo {
  experiment: string;
  runId: string;
  role: "control" | "candidate";
  /** The candidate's name, in a candidate run. */
  candidate?: string;
  context: Record<string, unknown>;
  /** Aborts when the candidate runs out of `timeoutMs`. */
  signal: AbortSignal;
}

/**
 * An async-context store penumbra keeps its run frames in. The default is `AsyncLocalStorage`;
 * `penumbra/cls-hooked` provides one for apps that already keep request context in cls-hooked.
 * The stored value is opaque to the backend.
 *
 * @example
 * ```ts
 * import { AsyncLocalStorage, AsyncResource } from "node:async_hooks";
 * const als = new AsyncLocalStorage<unknown>();
 * const backend: ContextBackend = { name: "als", run: (s, fn) => als.run(s, fn), get: () => als.getStore(),
 *   bind: (fn) => AsyncResource.bind(fn) };
 * configure({ context: backend });
 * ```
 */
export interface ContextBackend {
  readonly name: string;
  /** Runs `fn` with `store` as the current value, for `fn` and everything asynchronous it starts. */
  run<T>(store: unknown, fn: () => T): T;
  /** The current value, or undefined outside any run. */
  get(): unknown;
  /** Returns `fn` bound to the current value, so a later caller from another context still sees it. */
  bind<F extends (...args: never[]) => unknown>(fn: F): F;
}

export type { Role };
