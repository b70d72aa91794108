/**
 * Admission: who serves the call (promotion), whether the candidates run (the synchronous gates
 * `enabled`, `sample` / `sampleBy`, `runIf`, and a free slot), and, for an admitted call, the run
 * record: the argument snapshot the candidates get, the run's identity and context. The record is
 * built here once, before the served behaviour runs, and never changed afterwards.
 */
import { currentFrame, type RunFrame } from "../context/frame";
import { snapshotArgs } from "../isolation/snapshot";
import type { CallerReport, Report } from "../report";
import type { Leak } from "../types/results";
import { isThenable } from "../util/thenable";
import type { Behaviour, RunScope } from "./observe";
import type { ExperimentState } from "./state";

const NO_CONTEXT: Record<string, unknown> = Object.freeze({});
/** Run ids: a process prefix (pid and a random tag) plus a counter; unique without a UUID per run. */
const ID_PREFIX = `${process.pid.toString(36)}${Math.floor(Math.random() * 0x1_0000_0000).toString(36)}-`;
let runCounter = 0;

/**
 * One admitted call, as every later step of the run sees it. Built once, never patched.
 *
 * @internal
 * @example
 * ```ts
 * const admitted = admit(state, thisArg, args, report, caller);
 * if (admitted instanceof Run) return schedule(admitted);
 * ```
 */
export class Run implements RunScope {
  readonly id = ID_PREFIX + (++runCounter).toString(36);
  readonly startedAt = Date.now();
  /** The frame the call was made in (a control run of an outer experiment), if any. */
  readonly parent: RunFrame | undefined;
  /** The guardrail window the run was admitted in. */
  readonly epoch: number;
  constructor(
    readonly state: ExperimentState,
    readonly thisArg: unknown,
    /** The caller's own arguments (the served behaviour gets these). */
    readonly args: unknown[],
    /** The shadows' copies taken at admission: one per shadow with `isolate(args)`, else one to copy from. */
    readonly copies: readonly unknown[][],
    readonly isolated: boolean,
    readonly context: Record<string, unknown>,
    /** The asynchronous `enabled` answer still to come; never rejects. */
    readonly asyncGate: Promise<boolean> | undefined,
    /** The behaviour whose outcome the caller gets: the control, or the first candidate when promoted. */
    readonly served: Behaviour,
    /** The run's reporter (held for a waiting sequential caller). */
    readonly report: Report,
    /** Present in sequential mode: what strict mode owes the waiting caller. */
    readonly caller: CallerReport | undefined,
    parent: RunFrame | undefined,
  ) {
    this.parent = parent;
    this.epoch = state.epoch;
  }

  get experiment(): string {
    return this.state.name;
  }

  /** True when the first candidate serves this call. */
  get promoted(): boolean {
    return this.served !== this.state.control;
  }

  lateLeak(_leak: Leak): void {
    this.state.lateLeak(this.epoch);
  }
}

const FAILED: unique symbol = Symbol("penumbra.gate-failed");

/**
 * Decides who serves the call and whether its shadows run: a `Run` when admitted (a slot taken),
 * else the behaviour that serves the call bare. A gate that throws is reported and means "no".
 *
 * Order: promotion (asking a synchronous `enabled` first), then sampling (the cheapest "no"), then
 * `enabled`, `runIf`, a slot, and last an `enabled` known to be asynchronous.
 *
 * @internal
 * @example
 * ```ts
 * const admitted = admit(state, thisArg, args, state.hook.report, undefined);
 * if (!(admitted instanceof Run)) return Reflect.apply(admitted.fn, thisArg, args);
 * ```
 */
export function admit(state: ExperimentState, thisArg: unknown, args: unknown[], report: Report, caller: CallerReport | undefined): Run | Behaviour {
  const control = state.control as Behaviour;
  const { enabled, sample, sampleBy, runIf, promote } = state.options;
  if (!state.enabled || enabled === false || state.candidates.length === 0) return control;
  let served = control;
  let enabledAsked = false;
  let asyncGate: Promise<boolean> | undefined;
  let key: string | typeof FAILED | undefined;
  if (promote !== undefined) {
    // A gate that keeps its last answer (openFeatureGate's `now`) is asked synchronously first: a flag
    // turned off sends every call back to the control at once, before anyone is chosen.
    const now = typeof enabled === "function" ? syncAnswerOf(enabled) : undefined;
    if (now !== undefined) {
      if (ask(report, "enabled", () => now(...(args as never[]))) !== true) return control;
    } else if (typeof enabled === "function" && !state.enabledIsAsync) {
      // A synchronous `enabled` that says no sends the call back to the control before anyone is chosen.
      enabledAsked = true;
      const answer = askEnabled(state, args, report);
      if (answer === false) return control;
      if (answer !== true) asyncGate = answer;
    }
    // An answer still to come cannot roll a promotion back in time: the control serves meanwhile.
    if (asyncGate === undefined) {
      const fraction = typeof promote === "number" && promote > 0 && promote < 1 && sampleBy !== undefined;
      if (fraction) key = sampleKey(state, args, report);
      if (key === FAILED) return control;
      if (promotes(state, args, key, report)) served = state.candidates[0] as Behaviour;
    }
  }
  if (sample < 1) {
    if (sample === 0) return served;
    let fraction: number;
    if (sampleBy === undefined) {
      fraction = Math.random();
    } else {
      key ??= sampleKey(state, args, report);
      if (key === FAILED) return served;
      fraction = stableFraction(key, state.name);
    }
    if (fraction >= sample) return served;
  }
  const deferEnabled = typeof enabled === "function" && state.enabledIsAsync;
  if (typeof enabled === "function" && !deferEnabled && !enabledAsked) {
    const answer = askEnabled(state, args, report);
    if (answer === false) return served;
    if (answer !== true) asyncGate = answer;
  }
  if (runIf !== undefined && ask(report, "runIf", () => runIf(...(args as never[]))) !== true) return served;
  // Inside a shadow run an inner experiment must not open a non-shadow frame: it runs bare. Asked
  // last among the synchronous gates, so calls that are not sampled never pay for it.
  const parent = currentFrame();
  if (parent?.shadow === true) return served;
  if (!state.acquireSlot()) {
    state.skipped();
    return served;
  }
  if (deferEnabled && typeof enabled === "function") {
    const answer = ask(report, "enabled", () => enabled(...(args as never[])));
    if (answer === FAILED || (!isThenable(answer) && answer !== true)) {
      state.releaseSlot();
      return served;
    }
    if (isThenable(answer)) asyncGate = follow(answer, caller?.report ?? state.hook.report);
  }
  return prepare(state, thisArg, args, asyncGate, served, report, caller, parent);
}

/**
 * The synchronous answer an asynchronous gate keeps beside itself (`openFeatureGate(...).now`), if
 * it has one; read once per promoted call, guarded, since `enabled` is the user's object.
 */
function syncAnswerOf(enabled: object): ((...args: never[]) => unknown) | undefined {
  try {
    const now: unknown = (enabled as { now?: unknown }).now;
    return typeof now === "function" ? (now.bind(enabled) as (...args: never[]) => unknown) : undefined;
  } catch {
    return undefined;
  }
}

/** Asks a synchronous-looking `enabled`: true, false, or (it answered with a promise) that answer, followed. */
function askEnabled(state: ExperimentState, args: unknown[], report: Report): boolean | Promise<boolean> {
  const enabled = state.options.enabled as (...a: never[]) => unknown;
  const answer = ask(report, "enabled", () => enabled(...(args as never[])));
  if (answer === FAILED) return false;
  if (!isThenable(answer)) return answer === true;
  // A plain function that answered with a promise: from now on it is asked after the other gates.
  state.enabledIsAsync = true;
  return follow(answer, report);
}

/** Follows an asynchronous `enabled` answer at once, so a rejection is never left unhandled. */
function follow(answer: PromiseLike<unknown>, report: Report): Promise<boolean> {
  return Promise.resolve(answer).then(
    (value) => value === true,
    (error: unknown) => {
      report("enabled", error);
      return false;
    },
  );
}

/** The `sampleBy` key as a string; a key that cannot become one is `sampleBy`'s error. */
function sampleKey(state: ExperimentState, args: unknown[], report: Report): string | typeof FAILED {
  const sampleBy = state.options.sampleBy as (...a: never[]) => unknown;
  return ask(report, "sampleBy", () => {
    const key = sampleBy(...(args as never[]));
    return typeof key === "string" ? key : String(key);
  });
}

/** Whether `promote` chooses this call; a predicate that throws or says anything but a boolean is a `promote` error. */
function promotes(state: ExperimentState, args: unknown[], key: string | undefined, report: Report): boolean {
  const promote = state.options.promote as number | ((...a: never[]) => unknown);
  if (typeof promote === "function") {
    const answer = ask(report, "promote", () => promote(...(args as never[])));
    if (answer === FAILED) return false;
    if (typeof answer === "boolean") return answer;
    report("promote", new TypeError(`promote must return a boolean, got ${typeof answer}`));
    return false;
  }
  if (promote <= 0) return false;
  if (promote >= 1) return true;
  // Salted apart from sampling, so the customers promoted are not simply the ones sampled.
  const fraction = key === undefined ? Math.random() : stableFraction(key, `${state.name}\u0000promote`);
  return fraction < promote;
}

function ask<T>(report: Report, operation: "enabled" | "runIf" | "sampleBy" | "promote", question: () => T): T | typeof FAILED {
  try {
    return question();
  } catch (error) {
    report(operation, error);
    return FAILED;
  }
}

/**
 * Snapshots the arguments and computes the context for an admitted call; when either fails it is
 * reported (`isolate`, `context`), the slot is freed and the served behaviour runs bare.
 */
function prepare(
  state: ExperimentState,
  thisArg: unknown,
  args: unknown[],
  asyncGate: Promise<boolean> | undefined,
  served: Behaviour,
  report: Report,
  caller: CallerReport | undefined,
  parent: RunFrame | undefined,
): Run | Behaviour {
  const { isolate, context } = state.options;
  let copies: unknown[][];
  let isolated: boolean;
  try {
    if (isolate === false) {
      copies = [args];
      isolated = false;
    } else if (typeof isolate === "function") {
      // The user's copy must be taken from arguments the served behaviour has not touched: one per shadow, now.
      copies = state.candidates.map(() => {
        const copy = isolate(args);
        if (!Array.isArray(copy)) throw new TypeError(`isolate() must return an array of arguments, got ${typeof copy}`);
        return copy;
      });
      isolated = true;
    } else {
      const copy = snapshotArgs(args);
      copies = [copy.value];
      isolated = copy.isolated;
    }
  } catch (error) {
    report("isolate", error);
    state.releaseSlot();
    return served;
  }
  let runContext = NO_CONTEXT;
  if (context !== undefined) {
    try {
      const given: unknown = typeof context === "function" ? context(...(args as never[])) : context;
      if (given !== undefined && given !== null) {
        if (typeof given !== "object") throw new TypeError(`context must be an object, got ${typeof given}`);
        runContext = Object.freeze({ ...given });
      }
    } catch (error) {
      report("context", error);
      state.releaseSlot();
      return served;
    }
  }
  return new Run(state, thisArg, args, copies, isolated, runContext, asyncGate, served, report, caller, parent);
}

/**
 * A fraction in [0, 1) that depends only on the key and the salt (the experiment's name).
 *
 * Sticky sampling: every process (and every restart) admits the same customers, and a ramp from 1%
 * to 5% keeps the first 1% admitted. FNV-1a over UTF-16 code units, finished with a murmur-style mix.
 *
 * @internal
 * @example
 * ```ts
 * if (stableFraction(key, state.name) >= sample) return served;
 * ```
 */
export function stableFraction(key: string, salt: string): number {
  let hash = 0x811c9dc5;
  hash = fnv(hash, salt);
  hash = fnv(hash, "\u0000");
  hash = fnv(hash, key);
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return (hash >>> 0) / 0x1_0000_0000;
}

function fnv(seed: number, text: string): number {
  let hash = seed;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash;
}
