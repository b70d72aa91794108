/**
 * What an admitted call carries through its run: the argument snapshot the candidates get, the
 * run's identity and context. Built before the control runs, so neither the control nor the caller
 * can change what the candidates see.
 */
import { randomUUID } from "node:crypto";
import { currentFrame, type RunFrame } from "../context/frame";
import { snapshot, snapshotArgs } from "../isolation/snapshot";
import type { Behaviour, Outcome } from "./behaviour";
import type { ExperimentCore } from "./core";

const NO_CONTEXT: Record<string, unknown> = Object.freeze({});

/**
 * Everything an admitted call carries through its run: arguments, their snapshot, identity and context.
 *
 * @internal
 * @example
 * ```ts
 * const run: AdmittedRun | undefined = prepareRun(core, thisArg, args, admission.asyncGate);
 * ```
 */
export interface AdmittedRun {
  readonly core: ExperimentCore;
  readonly thisArg: unknown;
  /** The caller's own arguments (the control gets these). */
  readonly args: unknown[];
  /** The candidates' copies: one per candidate, or only the first (the others are copied from it later). */
  readonly argLists: unknown[][];
  readonly argsIsolated: boolean;
  readonly runId: string;
  readonly startedAt: number;
  readonly context: Record<string, unknown>;
  readonly asyncGate: Promise<boolean> | undefined;
  /** The frame the call was made in (a control run of an outer experiment), if any. */
  readonly parentFrame: RunFrame | undefined;
  /** With `captureArgs`: a pristine copy for the result, taken before any candidate could mutate its own. */
  capturedArgs: unknown[] | undefined;
  /** The behaviour whose outcome the caller gets: the control, or the first candidate when promoted. */
  readonly served: Behaviour;
  /** The calibration rerun of the control, when this run calibrates noise. */
  rerun: Outcome | Promise<Outcome> | undefined;
}

/**
 * Snapshots the arguments and computes the context; undefined (slot freed) when either fails.
 *
 * A failing `isolate` or `context` is reported, and then the candidates do not run.
 *
 * @internal
 * @example
 * ```ts
 * const run = prepareRun(core, thisArg, args, admission.asyncGate);
 * if (run === undefined) return Reflect.apply(control.fn, thisArg, args) as R;
 * ```
 */
export function prepareRun(
  core: ExperimentCore,
  thisArg: unknown,
  args: unknown[],
  asyncGate: Promise<boolean> | undefined,
  served: Behaviour = core.control,
): AdmittedRun | undefined {
  const { isolate, context } = core.options;
  let argLists: unknown[][];
  let argsIsolated: boolean;
  try {
    if (isolate === false) {
      argLists = [args];
      argsIsolated = false;
    } else if (typeof isolate === "function") {
      // The user's copy must be taken from arguments the control has not touched yet: one per candidate, now.
      argLists = core.candidates.map(() => {
        const copy = isolate(args);
        if (!Array.isArray(copy)) throw new TypeError("isolate() must return an array of arguments");
        return copy;
      });
      argsIsolated = true;
    } else {
      const copy = snapshotArgs(args);
      argLists = [copy.value];
      argsIsolated = copy.isolated;
    }
  } catch (error) {
    return abandon(core, "isolate", error);
  }
  let runContext: Record<string, unknown> = NO_CONTEXT;
  try {
    const given = typeof context === "function" ? context(...(args as never[])) : context;
    if (given !== undefined && given !== null) runContext = Object.freeze({ ...given });
  } catch (error) {
    return abandon(core, "context", error);
  }
  return {
    core,
    thisArg,
    args,
    argLists,
    argsIsolated,
    runId: randomUUID(),
    startedAt: Date.now(),
    context: runContext,
    asyncGate,
    parentFrame: currentFrame(),
    capturedArgs: undefined,
    rerun: undefined,
    served,
  };
}

/**
 * Argument lists for every candidate, taken before any candidate starts.
 *
 * Taking them all up front means one candidate's mutations never reach another: the pristine
 * snapshot is copied again for the second and later candidates. With `captureArgs`, it also stores
 * the copy the result carries. Throws when a copy cannot be made.
 *
 * @internal
 * @example
 * ```ts
 * const candidates = await runAllCandidates(run, argsPerCandidate(run));
 * ```
 */
export function argsPerCandidate(run: AdmittedRun): unknown[][] {
  const first = run.argLists[0] ?? run.args;
  if (run.core.options.captureArgs === true) run.capturedArgs = snapshot(first).value;
  return run.core.candidates.map((_, i) => {
    if (i === 0) return first;
    const own = run.argLists[i];
    if (own !== undefined) return own;
    return run.core.options.isolate === false ? run.args : snapshot(first).value;
  });
}

function abandon(
  core: ExperimentCore,
  operation: "isolate" | "context",
  error: unknown,
): undefined {
  core.report(operation, error);
  core.releaseSlot();
  return undefined;
}
