/**
 * Property-based reliability of the control path. fast-check generates controls (values of every
 * JSON shape plus Dates, Maps and undefined; throws and rejections of any value, `undefined`
 * included), candidates (values, equal copies, throws, rejections, small delays, hangs, argument
 * mutation) and hook faults (compare / clean / ignore / publish / enabled / runIf / context /
 * beforeRun / sampleBy throwing or rejecting), in both modes, with sync and async controls, and a
 * caller that mutates the returned object right after the call. For every case:
 *
 * - the caller's outcome is the bare control's: the very value (same reference) and still deep-equal
 *   to it, or the very thrown / rejected value;
 * - every candidate that started is published (matched by runId), and nothing else is; calls skipped
 *   for lack of a slot are counted by `skipped`;
 * - every hook fault that was called reached `onError` once per call, with the thrown value as cause;
 * - nothing escaped as an unhandled rejection, an uncaught exception or an internal-fault warning.
 */
import { strict as assert } from "node:assert";
import { inspect } from "node:util";
import fc from "fast-check";
import {
  currentRun,
  flush,
  shadow,
  type ExperimentError,
  type ExperimentOptions,
  type Operation,
  type Publisher,
  type Result,
} from "../../src/index";
import { resetConfiguration } from "../support/capture";

/** Local debugging only: RELIABILITY_SCALE=0.1 runs a tenth of the cases. CI runs them all. */
const SCALE = Number(process.env.RELIABILITY_SCALE ?? "1");
/** Independent cases run at once in one generated group. */
const GROUP = 5;

type Mode = "background" | "sequential";
type ControlKind = "sync" | "promise" | "async-fn";

/** `null`: synchronous; 0: a resolved promise (microtask); n > 0: a real timer of n ms. */
type Delay = number | null;

type ControlSpec = { kind: ControlKind; delay: number } & ({ threw: false; value: unknown } | { threw: true; error: unknown });

type CandidateSpec =
  | { kind: "value"; value: unknown; delay: Delay }
  | { kind: "equal"; delay: Delay }
  | { kind: "throw"; error: unknown; delay: Delay }
  | { kind: "hang" }
  | { kind: "mutate"; value: unknown; delay: Delay };

type HookName = "compare" | "clean" | "ignore" | "publish" | "enabled" | "runIf" | "context" | "beforeRun" | "sampleBy";
const GATES: ReadonlySet<HookName> = new Set<HookName>(["enabled", "runIf", "context", "beforeRun", "sampleBy"]);
/** Hooks that may also fail asynchronously (the contract lets them return promises). */
const ASYNC_CAPABLE: ReadonlySet<HookName> = new Set<HookName>(["publish", "enabled", "beforeRun"]);

interface HookFault {
  name: HookName;
  async: boolean;
  thrown: unknown;
}

interface Case {
  control: ControlSpec;
  candidate: CandidateSpec;
  hooks: HookFault[];
  timeoutMs: number;
  callerMutates: boolean;
  arg: { payload: unknown; list: unknown[]; nested: { deep: unknown[] } };
}

// ------------------------------------------------------------------------------------------------
// Arbitraries

const json = fc.jsonValue({ maxDepth: 3 });
const date = fc.date();
const map = fc.array(fc.tuple(fc.string({ maxLength: 6 }), json), { maxLength: 4 }).map((entries) => new Map(entries));
const leaf = fc.oneof(json, date, map, fc.constant(undefined));
/** Values of every JSON shape, Dates, Maps and undefined, also nested inside objects and arrays. */
const valueArb: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: leaf },
  { weight: 1, arbitrary: fc.dictionary(fc.string({ maxLength: 6 }), leaf, { maxKeys: 5 }) },
  { weight: 1, arbitrary: fc.array(leaf, { maxLength: 5 }) },
);
const thrownArb: fc.Arbitrary<unknown> = fc.oneof(
  fc.anything(),
  fc.constant(undefined),
  fc.constant(null),
  fc.constant(0),
  fc.constant(""),
  fc.string().map((m) => new Error(m)),
  fc.string().map((m) => new TypeError(m)),
);
const delayArb: fc.Arbitrary<Delay> = fc.oneof(fc.constant(null), fc.constant(0), fc.integer({ min: 1, max: 3 }));

const controlArb: fc.Arbitrary<ControlSpec> = fc
  .record({
    kind: fc.constantFrom<ControlKind>("sync", "promise", "async-fn"),
    delay: fc.integer({ min: 0, max: 2 }),
    threw: fc.boolean(),
    value: valueArb,
    error: thrownArb,
  })
  .map(({ kind, delay, threw, value, error }): ControlSpec => (threw ? { kind, delay, threw, error } : { kind, delay, threw, value }));

const candidateArb: fc.Arbitrary<CandidateSpec> = fc.oneof(
  fc.record({ kind: fc.constant("value" as const), value: valueArb, delay: delayArb }),
  fc.record({ kind: fc.constant("equal" as const), delay: delayArb }),
  fc.record({ kind: fc.constant("throw" as const), error: thrownArb, delay: delayArb }),
  fc.record({ kind: fc.constant("hang" as const) }),
  fc.record({ kind: fc.constant("mutate" as const), value: valueArb, delay: delayArb }),
);

const hookArb: fc.Arbitrary<HookFault[]> = fc
  .subarray<HookName>(["compare", "clean", "ignore", "publish", "enabled", "runIf", "context", "beforeRun", "sampleBy"], { maxLength: 3 })
  .chain((names) =>
    fc.tuple(...names.map((name) => fc.record({ name: fc.constant(name), async: ASYNC_CAPABLE.has(name) ? fc.boolean() : fc.constant(false), thrown: thrownArb }))),
  )
  .map((hooks) => [...hooks]);

/** Mostly no hook fault, so the candidate paths are exercised as often as the hook paths. */
const hooksArb: fc.Arbitrary<HookFault[]> = fc.oneof({ weight: 1, arbitrary: fc.constant<HookFault[]>([]) }, { weight: 2, arbitrary: hookArb });

/** A hanging candidate gets a small budget; the others a generous one, so timer jitter cannot time them out. */
const RELAXED_TIMEOUT_MS = 2_000;

const caseArb: fc.Arbitrary<Case> = fc.record({
  control: controlArb,
  candidate: candidateArb,
  hooks: hooksArb,
  timeoutMs: fc.integer({ min: 2, max: 8 }),
  callerMutates: fc.boolean(),
  arg: fc.record({ payload: valueArb, list: fc.array(json, { maxLength: 3 }), nested: fc.record({ deep: fc.array(json, { maxLength: 3 }) }) }),
});

// ------------------------------------------------------------------------------------------------
// Escapes: unhandled rejections, uncaught exceptions, internal faults

const escapes: string[] = [];
const onUnhandled = (reason: unknown): void => void escapes.push(`unhandledRejection: ${show(reason)}`);
const onUncaught = (error: unknown): void => void escapes.push(`uncaughtException: ${show(error)}`);
// Every experiment here has its own onError, so the only PenumbraWarning that can come from these
// cases is an internal fault (a defect met off the caller's path).
const onWarning = (warning: Error & { code?: string }): void => {
  if (warning.name === "PenumbraWarning" && warning.code === "PENUMBRA_INTERNAL") escapes.push(`PenumbraWarning ${warning.code ?? ""}: ${warning.message}`);
};

function show(value: unknown): string {
  try {
    return value instanceof Error ? (value.stack ?? value.message) : String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function later(delay: number): Promise<void> {
  return delay === 0 ? Promise.resolve() : new Promise((resolve) => setTimeout(resolve, delay));
}

/** Lets a pending rejection be reported (Node reports them after the microtask queue drains). */
async function assertNothingEscaped(label: string): Promise<void> {
  await turn();
  await turn();
  // Taken out, so a failure does not leak into the cases fast-check runs while shrinking.
  assert.deepEqual(escapes.splice(0), [], `nothing escaped (${label})`);
}

// ------------------------------------------------------------------------------------------------
// One experiment, one or more calls

interface Tally {
  /** runIds seen by the candidate at its start. */
  started: string[];
  results: Result<unknown>[];
  skips: number;
  errors: ExperimentError[];
  hookCalls: Map<HookName, number>;
  /** Problems seen from inside behaviours (a control that saw mutated arguments). */
  violations: string[];
}

function newTally(): Tally {
  return { started: [], results: [], skips: 0, errors: [], hookCalls: new Map(), violations: [] };
}

function fail(thrown: unknown, async: boolean): unknown {
  if (async) return Promise.reject(thrown);
  throw thrown;
}

/** The options that make the generated hooks fail, each counting its own calls. */
function hookOptions(hooks: readonly HookFault[], tally: Tally): ExperimentOptions<[Case["arg"]], unknown> {
  const options: ExperimentOptions<[Case["arg"]], unknown> = {};
  const called = (name: HookName): void => void tally.hookCalls.set(name, (tally.hookCalls.get(name) ?? 0) + 1);
  for (const hook of hooks) {
    const faulty = (): never => {
      called(hook.name);
      return fail(hook.thrown, hook.async) as never;
    };
    switch (hook.name) {
      case "compare":
        options.compare = faulty;
        break;
      case "clean":
        options.clean = faulty;
        break;
      case "ignore":
        options.ignore = [faulty];
        break;
      case "enabled":
        options.enabled = faulty;
        break;
      case "runIf":
        options.runIf = faulty;
        break;
      case "context":
        options.context = faulty;
        break;
      case "beforeRun":
        options.beforeRun = faulty;
        break;
      case "sampleBy":
        options.sample = 0.5;
        options.sampleBy = faulty;
        break;
      case "publish":
        break; // added to the publisher list by the caller
    }
  }
  return options;
}

function publishers(hooks: readonly HookFault[], tally: Tally): Publisher[] {
  const counting: Publisher = {
    publish: (result) => void tally.results.push(result),
    skipped: () => void tally.skips++,
  };
  const faulty = hooks.find((h) => h.name === "publish");
  if (faulty === undefined) return [counting];
  const broken: Publisher = {
    publish: () => {
      tally.hookCalls.set("publish", (tally.hookCalls.get("publish") ?? 0) + 1);
      return fail(faulty.thrown, faulty.async) as void;
    },
  };
  // The broken publisher goes first: the one after it must still get the result.
  return [broken, counting];
}

function settleLater<T>(delay: Delay, make: () => T, threw: boolean): T | Promise<T> {
  if (delay === null) {
    const value = make();
    if (threw) throw value;
    return value;
  }
  return later(delay).then(() => {
    const value = make();
    if (threw) throw value;
    return value;
  });
}

function makeControl(spec: ControlSpec, argClone: Case["arg"], tally: Tally): { fn: (arg: Case["arg"]) => unknown; returned: unknown[] } {
  const returned: unknown[] = [];
  const check = (arg: Case["arg"]): void => {
    if (!sameData(arg, argClone)) tally.violations.push("the control saw arguments a candidate had mutated");
    if (currentRun() !== undefined && currentRun()?.role !== "control") tally.violations.push("the control ran outside a control frame");
  };
  const outcome = (): unknown => (spec.threw ? spec.error : spec.value);
  if (spec.kind === "sync") {
    return {
      returned,
      fn: (arg) => {
        check(arg);
        if (spec.threw) throw spec.error;
        return spec.value;
      },
    };
  }
  if (spec.kind === "promise") {
    return {
      returned,
      fn: (arg) => {
        check(arg);
        const p = later(spec.delay).then(() => (spec.threw ? Promise.reject(spec.error) : spec.value));
        returned.push(p);
        return p;
      },
    };
  }
  return {
    returned,
    fn: async (arg) => {
      check(arg);
      await later(spec.delay);
      if (spec.threw) throw outcome();
      return outcome();
    },
  };
}

function mutateDeeply(arg: Case["arg"]): void {
  arg.payload = "mutated by the candidate";
  arg.list.push("pushed", { x: 1 });
  arg.list.reverse();
  arg.nested.deep.length = 0;
  arg.nested.deep.push(42);
  (arg.nested as Record<string, unknown>).extra = new Map([["k", 1]]);
}

function makeCandidate(spec: CandidateSpec, control: ControlSpec, tally: Tally): (arg: Case["arg"]) => unknown {
  // Taken now: the caller may mutate the control's very value before the candidate runs.
  const equal = cloneOf(control.threw ? control.error : control.value);
  return (arg) => {
    const run = currentRun();
    tally.started.push(run?.runId ?? "(no run)");
    switch (spec.kind) {
      case "value":
        return settleLater(spec.delay, () => spec.value, false);
      case "equal":
        return settleLater(spec.delay, () => cloneOf(equal), control.threw);
      case "throw":
        return settleLater(spec.delay, () => spec.error, true);
      case "hang":
        return new Promise<never>(() => undefined);
      case "mutate":
        mutateDeeply(arg);
        return settleLater(spec.delay, () => spec.value, false);
    }
  };
}

function mutateReturned(value: unknown): void {
  if (value instanceof Map) value.set("__caller", 1);
  else if (value instanceof Date) value.setTime(value.getTime() === 7 ? 8 : 7);
  else if (Array.isArray(value)) value.push("__caller");
  else if (typeof value === "object" && value !== null) (value as Record<string, unknown>).__caller = true;
}

/**
 * A deep copy of generated data that keeps what `structuredClone` loses: null prototypes and own
 * `__proto__` keys. Anything that is not generated data keeps its identity.
 */
function cloneOf(value: unknown, seen = new Map<object, unknown>()): unknown {
  if (typeof value !== "object" || value === null) return value;
  const known = seen.get(value);
  if (known !== undefined) return known;
  if (value instanceof Date) return new Date(value.getTime());
  if (value instanceof Map) {
    const copy = new Map<unknown, unknown>();
    seen.set(value, copy);
    for (const [k, v] of value) copy.set(k, cloneOf(v, seen));
    return copy;
  }
  if (Array.isArray(value)) {
    const copy: unknown[] = [];
    seen.set(value, copy);
    value.forEach((v, i) => (copy[i] = cloneOf(v, seen)));
    return copy;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  const copy = Object.create(proto as object | null) as Record<string, unknown>;
  seen.set(value, copy);
  for (const key of Object.keys(value)) {
    const v = cloneOf((value as Record<string, unknown>)[key], seen);
    Object.defineProperty(copy, key, { value: v, enumerable: true, writable: true, configurable: true });
  }
  return copy;
}

/**
 * Deep equality of generated data, strict about prototypes, with `Object.is` on leaves and on Date
 * times (`assert.deepStrictEqual` calls two invalid Dates unequal).
 */
function sameData(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  if (a instanceof Date) return Object.is(a.getTime(), (b as Date).getTime());
  if (a instanceof Map) {
    const other = b as Map<unknown, unknown>;
    if (a.size !== other.size) return false;
    for (const [k, v] of a) if (!other.has(k) || !sameData(v, other.get(k))) return false;
    return true;
  }
  const keysA = Object.keys(a);
  const keysB = Object.keys(b);
  if (keysA.length !== keysB.length) return false;
  for (const key of keysA) {
    if (!Object.prototype.hasOwnProperty.call(b, key)) return false;
    if (!sameData((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key])) return false;
  }
  return true;
}

function assertSame(actual: unknown, expected: unknown, message: string): void {
  if (!sameData(actual, expected)) assert.fail(`${message}\n  actual:   ${inspect(actual, { depth: 6 })}\n  expected: ${inspect(expected, { depth: 6 })}`);
}

type Settled = { threw: false; value: unknown } | { threw: true; error: unknown };

function checkOutcome(label: string, got: Settled, control: ControlSpec, valueClone: unknown): void {
  if (control.threw) {
    assert.equal(got.threw, true, `${label}: the caller got a throw / rejection like the bare control`);
    assert.ok(got.threw && Object.is(got.error, control.error), `${label}: the very value the control threw`);
  } else {
    assert.equal(got.threw, false, `${label}: the caller got a value like the bare control`);
    assert.ok(!got.threw && Object.is(got.value, control.value), `${label}: the very value (same reference) the control returned`);
    assertSame(got.value, valueClone, `${label}: the value is still deep-equal to the bare control's`);
  }
}

/** Runs one generated case end to end and checks every invariant. */
async function runCase(generated: Case, mode: Mode, index: number): Promise<void> {
  // The caller mutates the control's answer: work on a copy, so fast-check's values stay intact for shrinking.
  const c = cloneOf(generated) as Case;
  const label = `${mode} case ${index}`;
  const tally = newTally();
  const argClone = cloneOf(c.arg) as Case["arg"];
  const valueClone = c.control.threw ? undefined : cloneOf(c.control.value);
  const control = makeControl(c.control, argClone, tally);
  const wrapped = shadow<[Case["arg"]], unknown>(control.fn, makeCandidate(c.candidate, c.control, tally), {
    name: `reliability-${mode}`,
    mode,
    timeoutMs: c.candidate.kind === "hang" ? c.timeoutMs : RELAXED_TIMEOUT_MS,
    ...hookOptions(c.hooks, tally),
    publish: publishers(c.hooks, tally),
    onError: (e) => void tally.errors.push(e),
  });

  const gated = c.hooks.some((h) => GATES.has(h.name));
  const allSync =
    c.control.kind === "sync" &&
    !c.hooks.some((h) => h.async) &&
    (c.candidate.kind === "value" || c.candidate.kind === "equal" || c.candidate.kind === "throw" || c.candidate.kind === "mutate") &&
    c.candidate.delay === null;

  let got: Settled;
  let returned: unknown;
  try {
    returned = wrapped(c.arg);
    got = { threw: false, value: returned };
  } catch (error) {
    got = { threw: true, error };
  }
  if (mode === "background") {
    assert.deepEqual(tally.started, [], `${label}: no candidate starts inside the caller's synchronous call`);
  } else if (allSync && !gated) {
    assert.equal(tally.results.length, 1, `${label}: sequential mode publishes before run returns`);
  }
  if (c.control.kind === "sync") {
    checkOutcome(label, got, c.control, valueClone);
    if (!got.threw && c.callerMutates) mutateReturned(got.value);
  } else {
    assert.equal(got.threw, false, `${label}: an async control's caller gets a promise, not a throw`);
    assert.ok(returned instanceof Promise, `${label}: an async control's caller gets a promise`);
    if (mode === "background" && c.control.kind === "promise") {
      assert.equal(returned, control.returned[0], `${label}: the control's very promise`);
    }
    const settled = await (returned as Promise<unknown>).then(
      (value): Settled => {
        // The caller's continuation: mutate the answer before the candidate has finished.
        if (c.callerMutates) {
          const before = cloneOf(value);
          mutateReturned(value);
          return { threw: false, value: { mutatedFrom: before, value } };
        }
        return { threw: false, value };
      },
      (error: unknown): Settled => ({ threw: true, error }),
    );
    if (!settled.threw && c.callerMutates) {
      const { mutatedFrom, value } = settled.value as { mutatedFrom: unknown; value: unknown };
      checkOutcome(label, { threw: false, value }, c.control, value);
      assertSame(mutatedFrom, valueClone, `${label}: the resolved value is deep-equal to the bare control's`);
    } else {
      checkOutcome(label, settled, c.control, valueClone);
    }
    if (mode === "sequential" && !gated && !c.hooks.some((h) => h.async)) {
      assert.equal(tally.results.length, 1, `${label}: sequential mode publishes before the caller's promise settles`);
    }
  }

  await flush();

  assert.deepEqual(tally.violations, [], `${label}: the control saw pristine arguments in a control frame`);
  assertSame(c.arg, argClone, `${label}: the caller's arguments are untouched`);
  // Accounting: every candidate that started was published, under its own runId, and nothing else was.
  assert.equal(tally.started.length, gated ? 0 : 1, `${label}: the candidate starts exactly when no gate failed`);
  assert.deepEqual(
    tally.results.map((r) => r.runId),
    tally.started,
    `${label}: every started candidate is published under its runId, and only those`,
  );
  assert.equal(tally.skips, 0, `${label}: nothing was skipped`);
  const result = tally.results[0];
  if (result !== undefined) {
    const observation = result.candidates[0];
    assert.ok(observation !== undefined, `${label}: the result carries the candidate's observation`);
    assert.equal(observation.timedOut, c.candidate.kind === "hang", `${label}: only a hanging candidate times out`);
    if (!c.control.threw) assertSame(result.control.value, valueClone, `${label}: the control observation holds the value before the caller mutated it`);
    if (c.candidate.kind === "equal" && !c.control.threw && !c.hooks.some((h) => h.name === "compare")) {
      assert.equal(result.matched, true, `${label}: an equal candidate matches even when the caller mutated the answer (${result.mismatches[0]?.summary ?? ""})`);
    }
    if (c.candidate.kind === "throw" && !c.control.threw) assert.equal(result.mismatched, true, `${label}: a throwing candidate mismatches a returning control`);
  }
  // Hook faults: every faulty hook that was called reached onError once per call, with its very value.
  for (const error of tally.errors) {
    const op: Operation = error.operation;
    if (op === "sequential" && mode === "sequential") continue;
    const hook = c.hooks.find((h) => h.name === op);
    assert.ok(hook !== undefined, `${label}: onError only hears of injected faults, got '${op}': ${error.message}`);
    assert.ok(Object.is(error.cause, hook.thrown), `${label}: the cause of '${op}' is the very value the hook threw`);
  }
  for (const hook of c.hooks) {
    const reported = tally.errors.filter((e) => e.operation === hook.name).length;
    assert.equal(reported, tally.hookCalls.get(hook.name) ?? 0, `${label}: each call of the faulty ${hook.name} is reported once`);
  }
  await assertNothingEscaped(label);
}

// ------------------------------------------------------------------------------------------------
// Concurrent calls on one experiment, with a small maxConcurrent

interface BatchCase {
  mode: Mode;
  maxConcurrent: number;
  timeoutMs: number;
  hooks: HookFault[];
  calls: Array<{ control: ControlSpec; candidate: CandidateSpec }>;
}

const batchArb: fc.Arbitrary<BatchCase> = fc.record({
  mode: fc.constantFrom<Mode>("background", "sequential"),
  maxConcurrent: fc.integer({ min: 1, max: 4 }),
  timeoutMs: fc.integer({ min: 2, max: 6 }),
  hooks: fc.oneof({ weight: 2, arbitrary: fc.constant<HookFault[]>([]) }, { weight: 1, arbitrary: hookArb }),
  calls: fc.array(fc.record({ control: controlArb, candidate: candidateArb }), { minLength: 2, maxLength: 8 }),
});

async function runBatch(generated: BatchCase, index: number): Promise<void> {
  const b = cloneOf(generated) as BatchCase;
  const label = `batch ${index} (${b.mode})`;
  const tally = newTally();
  const controlKind = b.calls[0]?.control.kind ?? "sync"; // one experiment: one kind of control
  type Arg = Case["arg"] & { i: number };
  const wrapped = shadow<[Arg], unknown>(
    (arg) => {
      const spec = { ...(b.calls[arg.i] as BatchCase["calls"][number]).control, kind: controlKind };
      return makeControl(spec, cloneOf(arg) as Case["arg"], tally).fn(arg);
    },
    (arg) => {
      const call = b.calls[arg.i] as BatchCase["calls"][number];
      return makeCandidate(call.candidate, call.control, tally)(arg);
    },
    {
      name: "reliability-batch",
      mode: b.mode,
      timeoutMs: b.calls.some((call) => call.candidate.kind === "hang") ? b.timeoutMs : RELAXED_TIMEOUT_MS,
      maxConcurrent: b.maxConcurrent,
      ...(hookOptions(b.hooks, tally) as ExperimentOptions<[Arg], unknown>),
      publish: publishers(b.hooks, tally),
      onError: (e) => void tally.errors.push(e),
    },
  );
  const outcomes = b.calls.map((call, i): Promise<void> => {
    const spec: ControlSpec = { ...call.control, kind: controlKind };
    const valueClone = spec.threw ? undefined : cloneOf(spec.value);
    let out: unknown;
    try {
      out = wrapped({ i, payload: null, list: [], nested: { deep: [] } });
    } catch (error) {
      checkOutcome(`${label} call ${i}`, { threw: true, error }, spec, valueClone);
      return Promise.resolve();
    }
    if (controlKind === "sync") {
      checkOutcome(`${label} call ${i}`, { threw: false, value: out }, spec, valueClone);
      return Promise.resolve();
    }
    return (out as Promise<unknown>).then(
      (value) => checkOutcome(`${label} call ${i}`, { threw: false, value }, spec, valueClone),
      (error: unknown) => checkOutcome(`${label} call ${i}`, { threw: true, error }, spec, valueClone),
    );
  });
  await Promise.all(outcomes);
  await flush();
  const gated = b.hooks.some((h) => GATES.has(h.name));
  assert.deepEqual(
    [...tally.results.map((r) => r.runId)].sort(),
    [...tally.started].sort(),
    `${label}: every started candidate is published under its runId, and only those`,
  );
  assert.equal(new Set(tally.started).size, tally.started.length, `${label}: every run has its own runId`);
  if (gated) {
    assert.equal(tally.started.length, 0, `${label}: a failing gate runs no candidate`);
  } else {
    assert.equal(tally.results.length + tally.skips, b.calls.length, `${label}: published + skipped = admitted attempts`);
  }
  if (b.mode === "background" && controlKind === "sync" && b.maxConcurrent < b.calls.length && !gated) {
    // Every call was made in one synchronous burst, so exactly maxConcurrent found a slot.
    assert.equal(tally.results.length, b.maxConcurrent, `${label}: a burst admits exactly maxConcurrent calls`);
  }
  for (const hook of b.hooks) {
    const reported = tally.errors.filter((e) => e.operation === hook.name);
    assert.equal(reported.length, tally.hookCalls.get(hook.name) ?? 0, `${label}: each call of the faulty ${hook.name} is reported once`);
    for (const e of reported) assert.ok(Object.is(e.cause, hook.thrown), `${label}: the very value ${hook.name} threw`);
  }
  assert.ok(
    tally.errors.every((e) => (e.operation === "sequential" && b.mode === "sequential") || b.hooks.some((h) => h.name === e.operation)),
    `${label}: onError only hears of injected faults: ${tally.errors.map((e) => e.operation).join(", ")}`,
  );
  await assertNothingEscaped(label);
}

// ------------------------------------------------------------------------------------------------

describe("reliability properties: the control path under generated faults", function () {
  this.timeout(120_000);

  before(async () => {
    resetConfiguration();
    await flush(); // earlier test files' runs settle before the escape listeners go on
    process.on("unhandledRejection", onUnhandled);
    process.on("uncaughtException", onUncaught);
    process.on("warning", onWarning);
  });

  after(() => {
    process.off("unhandledRejection", onUnhandled);
    process.off("uncaughtException", onUncaught);
    process.off("warning", onWarning);
  });

  beforeEach(() => {
    escapes.length = 0;
  });

  // Cases run in groups of GROUP at once (each on its own experiment), so their timers overlap: the
  // per-case cost is then mostly CPU, and 10 000+ cases fit the time budget.
  for (const mode of ["background", "sequential"] as const) {
    it(`answers every ${mode}-mode call with the bare control's outcome, publishes every started candidate and lets no fault escape (4 000 generated cases)`, async () => {
      let cases = 0;
      await fc.assert(
        fc.asyncProperty(fc.array(caseArb, { minLength: GROUP, maxLength: GROUP }), async (group) => {
          await Promise.all(group.map((c) => runCase(c, mode, cases++)));
        }),
        { numRuns: Math.ceil((4_000 * SCALE) / GROUP), timeout: 10_000 },
      );
      assert.ok(cases >= 4_000 * SCALE, `every generated case ran (${cases})`);
    });
  }

  it("accounts for every call of concurrent bursts on one experiment under a small maxConcurrent: published + skipped = attempts (2 000 generated bursts)", async () => {
    let bursts = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(batchArb, { minLength: GROUP, maxLength: GROUP }), async (group) => {
        await Promise.all(group.map((b) => runBatch(b, bursts++)));
      }),
      { numRuns: Math.ceil((2_000 * SCALE) / GROUP), timeout: 10_000 },
    );
    assert.ok(bursts >= 2_000 * SCALE, `every generated burst ran (${bursts})`);
  });
});
