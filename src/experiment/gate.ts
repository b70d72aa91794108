/**
 * Admission: the synchronous gates (`enabled`, `runIf`, `sample` / `sampleBy`) and a free slot.
 * A gate that throws or says no means the control runs bare and nothing is published.
 */
import { currentFrame } from "../context/frame";
import { isThenable } from "../util/thenable";
import type { ExperimentCore } from "./core";
import { publishSkip } from "./publish";
import { stableFraction } from "./sampling";
import { LATE, withinDeadline } from "../util/deadline";

/**
 * Whether a call was admitted and, if so, the asynchronous `enabled` answer still to come (if any).
 *
 * The answer is observed from the moment it is asked: it resolves to true or false and never
 * rejects (a rejection is reported as operation `enabled` and means "no").
 *
 * @internal
 * @example
 * ```ts
 * const admission: Admission = admit(core, args, enabledState);
 * if (!admission.admitted) return Reflect.apply(control.fn, thisArg, args);
 * ```
 */
export type Admission = { admitted: false } | { admitted: true; asyncGate: Promise<boolean> | undefined };

const REFUSED: Admission = Object.freeze({ admitted: false });

/**
 * Decides whether this call runs the candidates, taking a slot when it does.
 *
 * Order: sampling (the cheapest "no"), then Scientist's `enabled` and `runIf`, then a slot. An
 * `enabled` known to be asynchronous (declared `async`, or seen returning a promise) is asked last,
 * only for admitted calls.
 *
 * @internal
 * @example
 * ```ts
 * const admission = admit(core, args, this.enabledState);
 * if (!admission.admitted) return Reflect.apply(control.fn, thisArg, args) as R;
 * ```
 */
export function admit(core: ExperimentCore, args: readonly unknown[], enabledNow: boolean): Admission {
  const { enabled, runIf, sample, sampleBy } = core.options;
  if (!enabledNow || enabled === false || core.candidates.length === 0) return REFUSED;
  // Sampling first: a call that is not sampled costs one Math.random() and calls none of the user's gates.
  if (sample < 1) {
    if (sample === 0) return REFUSED;
    let fraction: number;
    if (sampleBy === undefined) {
      fraction = Math.random();
    } else {
      const key = ask(core, "sampleBy", () => sampleBy(...(args as never[])));
      if (key === FAILED) return REFUSED;
      fraction = stableFraction(String(key), core.name);
    }
    if (fraction >= sample) return REFUSED;
  }
  let asyncGate: Promise<boolean> | undefined;
  const deferEnabled = typeof enabled === "function" && core.enabledIsAsync;
  if (typeof enabled === "function" && !deferEnabled) {
    const answer = ask(core, "enabled", () => enabled(...(args as never[])));
    if (answer === FAILED) return REFUSED;
    if (isThenable(answer)) {
      // A plain function that answered with a promise: from now on it is asked after the other gates.
      core.enabledIsAsync = true;
      asyncGate = observe(core, answer);
    } else if (answer !== true) {
      return REFUSED;
    }
  }
  if (runIf !== undefined && ask(core, "runIf", () => runIf(...(args as never[]))) !== true) return REFUSED;
  // Inside a shadow run, an inner experiment must not open a non-shadow frame: it runs its control
  // bare. Asked last among the synchronous gates, so calls that are not sampled never pay for it.
  if (currentFrame()?.shadow === true) return REFUSED;
  if (!core.acquireSlot()) {
    skip(core);
    return REFUSED;
  }
  if (deferEnabled && typeof enabled === "function") {
    const answer = ask(core, "enabled", () => enabled(...(args as never[])));
    if (answer === FAILED || (!isThenable(answer) && answer !== true)) {
      core.releaseSlot();
      return REFUSED;
    }
    if (isThenable(answer)) asyncGate = observe(core, answer);
  }
  return { admitted: true, asyncGate };
}

/** Follows an asynchronous `enabled` answer at once, so a rejection is never left unhandled. */
function observe(core: ExperimentCore, answer: PromiseLike<unknown>): Promise<boolean> {
  return Promise.resolve(answer).then(
    (value) => value === true,
    (error: unknown) => {
      core.report("enabled", error);
      return false;
    },
  );
}

/**
 * Waits for the asynchronous `enabled` answer, at most `timeoutMs`; a late answer counts as "no".
 *
 * The bound is the candidates' budget: a flag source that never answers must not hold a slot, or a
 * sequential caller, forever.
 *
 * @internal
 * @example
 * ```ts
 * if (run.asyncGate !== undefined && !(await asyncGateSaysYes(core, run.asyncGate))) return;
 * ```
 */
export async function asyncGateSaysYes(core: ExperimentCore, gate: Promise<boolean>): Promise<boolean> {
  const answer = await withinDeadline(gate, core.options.timeoutMs);
  if (answer !== LATE) return answer;
  core.report("enabled", new Error(`enabled did not answer within ${core.options.timeoutMs} ms`));
  return false;
}

const FAILED: unique symbol = Symbol("gate failed");

function ask<T>(core: ExperimentCore, operation: "enabled" | "runIf" | "sampleBy", question: () => T): T | typeof FAILED {
  try {
    return question();
  } catch (error) {
    core.report(operation, error);
    return FAILED;
  }
}

function skip(core: ExperimentCore): void {
  const publishers = core.publishers();
  if (!publishers.some((p) => typeof p === "object" && typeof p.skipped === "function")) return;
  // Off the caller's path, but before settled() / flush() resolve.
  core.tracker.track(
    new Promise<void>((resolve) =>
      setImmediate(() => {
        publishSkip(core.name, publishers, (op, cause) => core.report(op, cause));
        resolve();
      }),
    ),
  );
}
