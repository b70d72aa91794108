/** `shadow(control, candidate, options)`: the one-line way to run an experiment. */
import type { ExperimentOptions } from "../types/options";
import { Experiment } from "./experiment";
import { show } from "./options";

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
  const name = options?.name ?? (control.name || "experiment");
  const experiment = new Experiment<A, R>(name, options).use(control).try(candidate);
  const wrapped = function (this: unknown, ...args: A): R {
    return experiment.invoke(this, args);
  };
  Object.defineProperty(wrapped, "name", { value: control.name, configurable: true });
  Object.defineProperty(wrapped, "length", { value: control.length, configurable: true });
  Object.defineProperty(wrapped, "experiment", { value: experiment, enumerable: true });
  return wrapped as Shadowed<A, R>;
}
