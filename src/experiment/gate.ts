/**
 * Admission: the synchronous gates (`enabled`, `runIf`, `sample` / `sampleBy`) and a free slot.
 * A gate that throws or says no means the control runs bare and nothing is published.
 */
import { currentFrame } from "../context/frame";
import { isAsyncFunction, isThenable } from "../util/thenable";
import type { ExperimentCore } from "./core";
import { publishSkip } from "./publish";
import { stableFraction } from "./sampling";

/** Not admitted, or admitted with (maybe) an asynchronous `enabled` answer still to come. */
export type Admission = { admitted: false } | { admitted: true; asyncGate: PromiseLike<unknown> | undefined };

const REFUSED: Admission = Object.freeze({ admitted: false });

/**
 * Decides whether this call runs the candidates. Order: Scientist's (`enabled`, then `runIf`), then
 * sampling, then a slot. An `enabled` known to be asynchronous is asked last, only for admitted calls.
 */
export function admit(core: ExperimentCore, args: readonly unknown[], enabledNow: boolean): Admission {
  if (!enabledNow || core.candidates.length === 0) return REFUSED;
  // Inside a shadow run, an inner experiment must not open a non-shadow frame: it runs its control bare.
  if (currentFrame()?.shadow === true) return REFUSED;
  const { enabled, runIf, sample, sampleBy } = core.options;
  let asyncGate: PromiseLike<unknown> | undefined;
  const deferEnabled = typeof enabled === "function" && (core.enabledIsAsync || isAsyncFunction(enabled));
  if (enabled === false) return REFUSED;
  if (typeof enabled === "function" && !deferEnabled) {
    const answer = ask(core, "enabled", () => enabled(...(args as never[])));
    if (answer === FAILED) return REFUSED;
    if (isThenable(answer)) {
      // A plain function that answered with a promise: from now on it is asked after the other gates.
      core.enabledIsAsync = true;
      asyncGate = answer;
    } else if (answer !== true) {
      return REFUSED;
    }
  }
  // From here on, a refusal must not leave an early asynchronous answer rejecting unobserved.
  const refuse = (): Admission => {
    if (asyncGate !== undefined) Promise.resolve(asyncGate).catch(() => undefined);
    return REFUSED;
  };
  if (runIf !== undefined && ask(core, "runIf", () => runIf(...(args as never[]))) !== true) return refuse();
  if (sample < 1) {
    if (sample === 0) return refuse();
    let fraction: number;
    if (sampleBy === undefined) {
      fraction = Math.random();
    } else {
      const key = ask(core, "sampleBy", () => sampleBy(...(args as never[])));
      if (key === FAILED) return refuse();
      fraction = stableFraction(String(key), core.name);
    }
    if (fraction >= sample) return refuse();
  }
  if (!core.acquireSlot()) {
    skip(core);
    return refuse();
  }
  if (deferEnabled && typeof enabled === "function") {
    const answer = ask(core, "enabled", () => enabled(...(args as never[])));
    if (answer === FAILED || (!isThenable(answer) && answer !== true)) {
      core.releaseSlot();
      return refuse();
    }
    if (isThenable(answer)) asyncGate = answer;
  }
  return { admitted: true, asyncGate };
}

/** Waits for an asynchronous `enabled` answer; a rejection is reported and means "no". */
export async function asyncGateSaysYes(core: ExperimentCore, gate: PromiseLike<unknown>): Promise<boolean> {
  try {
    return (await gate) === true;
  } catch (error) {
    core.report("enabled", error);
    return false;
  }
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
