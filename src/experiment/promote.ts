/**
 * Canary promotion (`promote`): for a share of calls the first candidate answers the caller and
 * performs its effects for real, while the control runs in the shadow (its effects sunk, `timeoutMs`
 * applies) and is compared. Decided synchronously before the other gates; a disabled or tripped
 * experiment sends every call back to the control.
 */
import type { Behaviour } from "./behaviour";
import type { ExperimentCore } from "./core";
import { stableFraction } from "./sampling";

/**
 * The candidate that answers this call, or undefined when the control does.
 *
 * @internal
 * @example
 * ```ts
 * const served = promotedFor(core, args); // undefined unless `promote` chose this call
 * ```
 */
export function promotedFor(core: ExperimentCore, args: readonly unknown[]): Behaviour | undefined {
  const { promote, sampleBy } = core.options;
  if (promote === undefined || !core.enabledNow) return undefined;
  const served = core.candidates[0];
  if (served === undefined) return undefined;
  try {
    if (typeof promote === "function") return promote(...(args as never[])) === true ? served : undefined;
    if (promote <= 0) return undefined;
    if (promote >= 1) return served;
    // Salted apart from sampling, so the customers promoted are not simply the ones sampled.
    const fraction = sampleBy === undefined ? Math.random() : stableFraction(String(sampleBy(...(args as never[]))), `${core.name}\u0000promote`);
    return fraction < promote ? served : undefined;
  } catch (error) {
    core.report("promote", error);
    return undefined;
  }
}
