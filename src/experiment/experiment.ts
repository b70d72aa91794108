/**
 * The public face: `Experiment` (one control, named candidates, `run`) and `shadow()`, the one-line
 * way to build one. A call goes admit → run (background or sequential) → conclude.
 */
import { describeThrown } from "../describe";
import { CallerReport } from "../report";
import type { ExperimentOptions } from "../types/options";
import { admit, Run } from "./admit";
import type { Behaviour } from "./observe";
import { resolveOptions, show, type ResolvedOptions } from "./options";
import { runInBackground, runSequentially, serveBare } from "./run";
import { ExperimentState } from "./state";

/**
 * A shadow experiment: `use` the old code, `try` the new, and `run` it like the old function.
 *
 * @example
 * ```ts
 * const experiment = new Experiment<[Cart], Total>("order-total", { timeoutMs: 200 })
 *   .use((cart) => legacyTotal(cart))
 *   .try((cart) => newTotal(cart));
 * const total = experiment.run(cart); // always legacyTotal's answer
 * ```
 */
export class Experiment<A extends unknown[] = unknown[], R = unknown> {
  readonly name: string;
  private readonly state: ExperimentState;

  constructor(name: string, options?: ExperimentOptions<A, R>) {
    if (typeof name !== "string" || name === "") {
      throw new TypeError(`penumbra: option 'name' must be a non-empty string, got ${show(name)}`);
    }
    this.name = name;
    const resolved = resolveOptions(options) as unknown as ResolvedOptions<unknown[], unknown>;
    this.state = new ExperimentState(name, resolved);
  }

  /**
   * Registers the control: the behaviour whose outcome every caller gets. Exactly one. On an
   * experiment built without type arguments, `use` narrows it to the control's own parameters and
   * return type, so a strict TypeScript user writes none and a wrong candidate is a compile error.
   *
   * @example
   * ```ts
   * new Experiment<[number], number>("double").use((n) => n * 2);
   * const total = new Experiment("total").use((cart: { lines: number[] }) => cart.lines.length); // Experiment<[{ lines: number[] }], number>
   * ```
   */
  use<UA extends unknown[], UR>(
    this: Experiment<A, R> & (unknown extends R ? (unknown[] extends A ? unknown : never) : never),
    control: (...args: UA) => UR,
  ): Experiment<UA, UR>;
  use(control: (...args: A) => R): this;
  use(control: (...args: A) => R): this {
    if (typeof control !== "function") throw new TypeError(`penumbra: the control must be a function, got ${show(control)}`);
    if (this.state.control !== undefined) {
      throw new TypeError(`penumbra: experiment '${this.name}' already has a control; use() takes exactly one`);
    }
    this.state.control = { name: "control", fn: control as Behaviour["fn"] };
    return this;
  }

  /**
   * Registers a candidate: new code that runs in the shadow. Unnamed, it is called "candidate".
   *
   * @example
   * ```ts
   * experiment.try((n) => n + n).try("shift", (n) => n << 1);
   * ```
   */
  try(candidate: (...args: A) => R): this;
  try(name: string, candidate: (...args: A) => R): this;
  try(nameOrCandidate: string | ((...args: A) => R), maybeCandidate?: (...args: A) => R): this {
    const named = typeof nameOrCandidate === "string";
    const name = named ? nameOrCandidate : "candidate";
    const candidate = named ? maybeCandidate : nameOrCandidate;
    if (named && nameOrCandidate === "") throw new TypeError("penumbra: a candidate's name must be a non-empty string");
    if (typeof candidate !== "function") throw new TypeError(`penumbra: candidate '${name}' must be a function, got ${show(candidate)}`);
    if (name === "control") throw new TypeError(`penumbra: a candidate cannot be named 'control' in experiment '${this.name}'`);
    if (this.state.candidates.some((c) => c.name === name)) {
      throw new TypeError(`penumbra: experiment '${this.name}' already has a candidate named '${name}'; candidate names must be unique`);
    }
    this.state.candidates.push({ name, fn: candidate as Behaviour["fn"] });
    return this;
  }

  /**
   * Runs the experiment: returns exactly what the control returns (the same value, the same promise,
   * the same error), whatever the candidates do.
   *
   * @example
   * ```ts
   * const total = experiment.run(cart);
   * ```
   */
  run(...args: A): R {
    return this.invoke(undefined, args);
  }

  /**
   * Runs the experiment with `thisArg` as the behaviours' `this` (what `shadow()`'s wrapper uses).
   * @internal
   */
  invoke(thisArg: unknown, args: A): R {
    const state = this.state;
    if (state.control === undefined) {
      throw new TypeError(`penumbra: experiment '${this.name}' has no control; call use() before running it`);
    }
    // A sequential caller waits for the run: strict mode throws what is reported meanwhile at it.
    const caller = state.options.mode === "sequential" ? new CallerReport(state.hook) : undefined;
    const admitted = admit(state, thisArg, args, caller === undefined ? state.hook.report : caller.report, caller);
    if (!(admitted instanceof Run)) return serveBare(admitted, thisArg, args, caller?.release()) as R;
    if (caller === undefined) return runInBackground(admitted) as R;
    if (!admitted.promoted) return runSequentially(admitted) as R;
    // A promoted call always runs the old code in the background: the caller must not wait for it.
    let returned: unknown;
    try {
      returned = runInBackground(admitted);
    } catch (error) {
      caller.release();
      throw error;
    }
    const strictError = caller.release();
    if (strictError !== undefined) throw strictError;
    return returned as R;
  }

  /**
   * Turns the candidates back on (after `disable()` or a guardrail trip).
   *
   * @example
   * ```ts
   * experiment.enable();
   * ```
   */
  enable(): void {
    this.state.enable();
  }

  /**
   * Stops running candidates for new calls; runs already admitted finish. The control is unaffected.
   *
   * @example
   * ```ts
   * experiment.disable("rolled back after INC-1234");
   * ```
   */
  disable(reason?: string): void {
    this.state.disable(reason ?? "disabled");
  }

  /** False after `disable()` or a guardrail trip. @example `if (!experiment.enabled) alert(experiment.disabledReason)` */
  get enabled(): boolean {
    return this.state.enabled;
  }

  /** Why the experiment is disabled, or undefined while it is enabled. @example `console.log(experiment.disabledReason)` */
  get disabledReason(): string | undefined {
    return this.state.disabledReason;
  }

  /**
   * Resolves when every run admitted so far has been compared and published (publisher promises
   * included). In strict mode it rejects with the first error reported since the last `settled()`.
   *
   * @example
   * ```ts
   * wrapped(cart);
   * await wrapped.experiment.settled();
   * assert.equal(memory.results.length, 1);
   * ```
   */
  settled(): Promise<void> {
    return this.state.tracker.settled(this.state.hook);
  }
}

/**
 * The function `shadow()` returns: the control's signature, plus its experiment.
 *
 * @example
 * ```ts
 * const orderTotal: Shadowed<[Cart], number> = shadow(legacyOrderTotal, newOrderTotal);
 * orderTotal.experiment.disable("candidate under investigation");
 * ```
 */
export type Shadowed<A extends unknown[], R> = ((...args: A) => R) & { readonly experiment: Experiment<A, R> };

/**
 * Wraps the old and the new implementation in one function with the old one's signature. Every
 * call is answered by `control`; `candidate` runs in the shadow on a copy of the arguments, and
 * the difference is published.
 *
 * @example
 * ```ts
 * const orderTotal = shadow(legacyOrderTotal, newOrderTotal, { name: "order-total", sample: 0.01 });
 * const total = orderTotal(cart); // legacyOrderTotal's answer, always
 * ```
 */
export function shadow<A extends unknown[], R>(
  control: (...args: A) => R,
  candidate: (...args: A) => R,
  options?: ExperimentOptions<A, R>,
): Shadowed<A, R> {
  if (typeof control !== "function") throw new TypeError(`penumbra: the control must be a function, got ${show(control)}`);
  let name: string;
  try {
    name = options?.name ?? (control.name || "experiment");
  } catch (error) {
    throw new TypeError(`penumbra: option 'name' (or the control's name) could not be read: ${describeThrown(error)}`);
  }
  const experiment = new Experiment<A, R>(name, options).use(control).try(candidate);
  const wrapped = function (this: unknown, ...args: A): R {
    return experiment.invoke(this, args);
  };
  Object.defineProperty(wrapped, "name", { value: control.name, configurable: true });
  Object.defineProperty(wrapped, "length", { value: control.length, configurable: true });
  Object.defineProperty(wrapped, "experiment", { value: experiment, enumerable: true });
  return wrapped as Shadowed<A, R>;
}
