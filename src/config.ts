/**
 * Process-wide settings: default publishers, the error handler, test-mode switches and the context
 * backend. Experiments read them at each run, so `configure()` may be called before or after they
 * are built.
 */
import { setContainFaults } from "./context/faults";
import { defaultContextBackend, setContextBackend, shadowRunsInFlight } from "./context/slot";
import { PenumbraError, type ExperimentError } from "./errors";
import type { ContextBackend } from "./types/context";
import type { Publisher } from "./types/operate";

/**
 * What `configure()` accepts; every key is optional and only the given keys change.
 *
 * @example
 * ```ts
 * const options: ConfigureOptions = { publishers: [memoryPublisher()], strict: true };
 * configure(options);
 * ```
 */
export interface ConfigureOptions {
  /** Publishers for experiments that do not set `publish`. @default [] */
  publishers?: Publisher[];
  /** Handler for failures inside experiments. @default a `PenumbraWarning` through `process.emitWarning` */
  onError?: (error: ExperimentError) => void;
  /** Test mode: sequential `run` throws reported errors, `settled()` / `flush()` reject with them. @default false */
  strict?: boolean;
  /** Default for experiments that do not set `throwOnMismatch`. @default false */
  throwOnMismatch?: boolean;
  /** The async-context backend, shared by every copy of penumbra in the process. @default AsyncLocalStorage */
  context?: ContextBackend;
  /**
   * Contain candidate faults: an uncaught exception or unhandled rejection raised in a shadow run's
   * async context is reported (operation `candidateFault`) instead of crashing the process. `false`
   * removes the hook at once; Node then treats every fault as it would without penumbra.
   * @default true
   */
  containFaults?: boolean;
}

interface Settings {
  publishers: readonly Publisher[];
  onError: ((error: ExperimentError) => void) | undefined;
  strict: boolean;
  throwOnMismatch: boolean;
}

const DEFAULTS: Settings = Object.freeze({ publishers: [], onError: undefined, strict: false, throwOnMismatch: false });
const CONFIG_KEYS: readonly string[] = ["publishers", "onError", "strict", "throwOnMismatch", "context", "containFaults"];
const settings: Settings = { ...DEFAULTS };

/**
 * Sets process-wide defaults. Safe to call more than once; only the keys given change, and a key
 * given as `undefined` goes back to its default.
 *
 * @throws TypeError when an option is invalid, naming it.
 * @throws PenumbraError (code `PENUMBRA_RUNS_IN_FLIGHT`) when `context` is given while shadow runs are
 * in flight: their guards read the current backend, and a swap would open them.
 *
 * @example
 * ```ts
 * configure({ publishers: [jsonlPublisher("results.jsonl")], onError: (e) => log.warn(e) });
 * // in a test suite:
 * configure({ strict: true, throwOnMismatch: true });
 * ```
 */
export function configure(options: ConfigureOptions): void {
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`penumbra: configure() takes an options object, got ${String(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!CONFIG_KEYS.includes(key)) throw new TypeError(`penumbra: configure() has no option '${key}'`);
  }
  // Validate everything first, so a bad call changes nothing.
  const { publishers, onError, strict, throwOnMismatch, context, containFaults } = options;
  if (publishers !== undefined && (!Array.isArray(publishers) || !publishers.every(isPublisher))) {
    throw new TypeError("penumbra: option 'publishers' must be an array of publishers (functions or { publish })");
  }
  if (onError !== undefined && typeof onError !== "function") {
    throw new TypeError(`penumbra: option 'onError' must be a function, got ${typeof onError}`);
  }
  if (strict !== undefined) requireBoolean("strict", strict);
  if (throwOnMismatch !== undefined) requireBoolean("throwOnMismatch", throwOnMismatch);
  if (containFaults !== undefined) requireBoolean("containFaults", containFaults);
  if (context !== undefined && !isContextBackend(context)) {
    throw new TypeError("penumbra: option 'context' must be a ContextBackend with run, get and bind");
  }
  // A run in flight keeps its frame in the current backend: swapping it would make that run's guards
  // see no run and let its effects through.
  const inFlight = "context" in options ? shadowRunsInFlight() : 0;
  if (inFlight > 0) {
    throw new PenumbraError(
      `penumbra: configure({ context }) refused: ${inFlight} shadow run${inFlight === 1 ? " is" : "s are"} in flight; change the context backend before experiments run, or after flush()`,
      "PENUMBRA_RUNS_IN_FLIGHT",
    );
  }
  // A key given as undefined goes back to its default.
  if ("publishers" in options) settings.publishers = publishers ? [...publishers] : DEFAULTS.publishers;
  if ("onError" in options) settings.onError = onError;
  if ("strict" in options) settings.strict = strict ?? DEFAULTS.strict;
  if ("throwOnMismatch" in options) settings.throwOnMismatch = throwOnMismatch ?? DEFAULTS.throwOnMismatch;
  if ("context" in options) setContextBackend(context ?? defaultContextBackend());
  if ("containFaults" in options) setContainFaults(containFaults ?? true);
}

/**
 * The live process-wide settings, typed read-only: a caller that keeps it sees later `configure()` calls.
 *
 * Experiments read it at each run rather than copying it when they are built, which is why
 * `configure()` may come before or after them.
 *
 * @internal
 * @example
 * ```ts
 * const throwOnMismatch = run.core.options.throwOnMismatch ?? currentSettings().throwOnMismatch;
 * ```
 */
export function currentSettings(): Readonly<Settings> {
  return settings;
}

/**
 * True for a function or an object with a `publish` method.
 *
 * @internal
 * @example
 * ```ts
 * if (!publishers.every(isPublisher)) throw new TypeError("penumbra: option 'publishers' must be an array of publishers");
 * ```
 */
export function isPublisher(value: unknown): value is Publisher {
  if (typeof value === "function") return true;
  return typeof value === "object" && value !== null && typeof (value as { publish?: unknown }).publish === "function";
}

function requireBoolean(name: string, value: unknown): void {
  if (typeof value !== "boolean") throw new TypeError(`penumbra: option '${name}' must be a boolean, got ${String(value)}`);
}

function isContextBackend(value: unknown): value is ContextBackend {
  if (typeof value !== "object" || value === null) return false;
  const c = value as Partial<ContextBackend>;
  return typeof c.run === "function" && typeof c.get === "function" && typeof c.bind === "function";
}
