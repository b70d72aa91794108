/**
 * The one thing downstream may do upstream: a guardrail trip switches the experiment off. The
 * control is never affected; runs already admitted finish; `onTrip` and every publisher's `trip`
 * hear of it once.
 */
import type { TripEvent } from "../types/operate";
import type { ExperimentCore } from "./core";

/**
 * Disables the experiment for a trip and tells `onTrip` and the publishers.
 *
 * @internal
 * @example
 * ```ts
 * const event = core.monitor.observe(result);
 * if (event !== undefined) trip(core, event);
 * ```
 */
export function trip(core: ExperimentCore, event: TripEvent): void {
  core.disable(describeTrip(event));
  const onTrip = core.options.guardrails?.onTrip;
  if (onTrip !== undefined) {
    try {
      onTrip(event);
    } catch (error) {
      core.report("onTrip", error);
    }
  }
  for (const publisher of core.publishers()) {
    if (typeof publisher !== "object" || typeof publisher.trip !== "function") continue;
    try {
      publisher.trip(event);
    } catch (error) {
      core.report("publish", error);
    }
  }
}

/**
 * The `disabledReason` a trip leaves: `guardrail mismatch-rate: 0.12 > 0.05`.
 *
 * @internal
 * @example
 * ```ts
 * describeTrip({ experiment: "x", reason: "leak", value: 1, threshold: 0 }); // "guardrail leak: 1 leak(s) > 0"
 * ```
 */
export function describeTrip(event: TripEvent): string {
  const value = Number.isInteger(event.value) ? String(event.value) : event.value.toFixed(3);
  const suffix = event.reason === "leak" ? " leak(s)" : "";
  return `guardrail ${event.reason}: ${value}${suffix} > ${event.threshold}`;
}
