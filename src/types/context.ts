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
/**
 * The platform's `AbortSignal` where the program has one (Node's types, or the DOM library), so
 * `fetch(url, { signal })` type-checks; a structural stand-in otherwise, so these declarations
 * compile in a strict project that loads neither (TypeScript 6 loads no `@types` globals unless listed).
 *
 * @example
 * ```ts
 * const signal: RunSignal | undefined = currentRun()?.signal;
 * ```
 */
export type RunSignal = typeof globalThis extends { AbortSignal: { prototype: infer Signal } }
  ? Signal
  : { readonly aborted: boolean; readonly reason: unknown; addEventListener(type: "abort", listener: () => void): void; removeEventListener(type: "abort", listener: () => void): void };

export interface RunInfo {
  experiment: string;
  runId: string;
  role: "control" | "candidate";
  /** The candidate's name, in a candidate run. */
  candidate?: string;
  context: Record<string, unknown>;
  /** Aborts when the candidate runs out of `timeoutMs`. */
  signal: RunSignal;
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
