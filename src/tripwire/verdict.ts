/**
 * The tripwire's one decision, asked by every hook: is this target in a shadow run, allowed,
 * reported or blocked? With the process-wide registry of installations it is decided from.
 *
 * The registry lives on `globalThis` under a `Symbol.for` key so that two loaded copies of
 * penumbra share one set of patches: otherwise each copy would patch on top of the other and
 * every leak would be recorded twice.
 */
import { currentFrame, type RunFrame } from "../context/frame";
import type { Leak } from "../types/results";

/**
 * What the tripwire does with one kind of outbound effect in a shadow run.
 *
 * @example
 * ```ts
 * const mode: TripwireMode = process.env.CI ? "block" : "report";
 * ```
 */
export type TripwireMode = "block" | "report" | "off";

/**
 * What an `allow` callback is shown: the kind of effect and where it goes.
 *
 * @example
 * ```ts
 * const allow = (t: TripwireTarget): boolean => t.kind === "network" && t.host === "metrics.internal";
 * ```
 */
export interface TripwireTarget {
  kind: "network" | "child_process";
  /** The host of a connection or request (absent for a unix socket path or a process). */
  host?: string;
  /** The port of a connection or request. */
  port?: number;
  /** The command line of a process or worker. */
  command?: string;
}

/**
 * Options of `installTripwire()`.
 *
 * @example
 * ```ts
 * const options: TripwireOptions = { childProcess: "report", allow: (t) => t.port === 8125 };
 * ```
 */
export interface TripwireOptions {
  /**
   * Outbound connections, data written on any socket (connections the control opened included),
   * HTTP/1 and HTTP/2 requests, `fetch`, UDP datagrams and DNS queries. Default `"block"`.
   */
  network?: TripwireMode;
  /**
   * Child processes (every `child_process` API), `new Worker`, and the handles of running ones: a
   * child's stdin, `child.send`, `child.kill`, `worker.postMessage`. Default `"block"`.
   */
  childProcess?: TripwireMode;
  /** Returns true for a target that may leave a shadow run unrecorded. */
  allow?: (target: TripwireTarget) => boolean;
}

/**
 * One effect a hook is about to let out: what the allow callback sees, plus the leak's label.
 *
 * @internal
 * @example
 * ```ts
 * const probe: Probe = { kind: "network", host: "127.0.0.1", port: 80, target: "127.0.0.1:80" };
 * ```
 */
export interface Probe extends TripwireTarget {
  /**
   * The leak's `target`: `host:port`, `METHOD http://host:port/path`, `udp host:port`,
   * `dns <server> <name>` or the command line.
   */
  target: string;
}

/**
 * A hook's answer: nothing to do, a leak recorded and let through, or a leak to fail with `error`.
 *
 * @internal
 * @example
 * ```ts
 * const verdict: Verdict = inspect(probe);
 * if (verdict.action === "block") this.destroy(verdict.error);
 * ```
 */
export type Verdict =
  | { action: "pass" }
  | { action: "report"; leak: Leak; frame: RunFrame }
  | { action: "block"; leak: Leak; frame: RunFrame; error: TripwireError };

/**
 * The error a blocked effect fails with inside the candidate. `code` is `ESHADOW`, like an errno
 * code, because it reaches code that was written to handle socket and spawn errors.
 *
 * @example
 * ```ts
 * try { execFileSync("curl", [url]); } catch (e) { if ((e as TripwireError).code === "ESHADOW") skipped++; }
 * ```
 */
export interface TripwireError extends Error {
  code: "ESHADOW";
  /** The leak this error stands for. */
  leak: Leak;
}

export interface Installation {
  readonly options: TripwireOptions;
}

export interface Registry {
  /** Active installations, oldest first; per kind the strictest one is in force. */
  installations: Installation[];
  /** Undoes every patch; present while at least one installation is active. */
  unpatch: (() => void) | undefined;
}

const REGISTRY_KEY = Symbol.for("penumbra.tripwire.v1");
type GlobalWithRegistry = typeof globalThis & { [REGISTRY_KEY]?: Registry };

/** The installations in force, shared by every copy of penumbra in the process. @internal */
export function registry(): Registry {
  const holder = globalThis as GlobalWithRegistry;
  let current = holder[REGISTRY_KEY];
  if (current === undefined) {
    current = { installations: [], unpatch: undefined };
    Object.defineProperty(holder, REGISTRY_KEY, { value: current, enumerable: false, configurable: false });
  }
  return current;
}

/** How strict each mode is: per kind, the strictest installation in force wins. @internal */
export const STRICTNESS: Readonly<Record<TripwireMode, number>> = { off: 0, report: 1, block: 2 };

/**
 * The mode in force for `probe`: the strictest over every installation, where an installation whose
 * kind is `off` or whose own `allow` lets the probe out counts as `off`. So a later, laxer
 * installation (or one with a generous `allow`) never weakens an earlier one.
 */
function modeFor(probe: Probe): TripwireMode {
  let mode: TripwireMode = "off";
  for (const { options } of registry().installations) {
    const own = (probe.kind === "network" ? options.network : options.childProcess) ?? "block";
    if (STRICTNESS[own] <= STRICTNESS[mode]) continue;
    if (options.allow !== undefined && isAllowed(options.allow, probe)) continue;
    mode = own;
  }
  return mode;
}

/**
 * The shadow frame a hook must judge in, or undefined when the hook has nothing to do (no
 * installation, not a shadow run, or a declared read). Cheap, so hooks on hot paths (every socket
 * write in the process) ask it before working out a target.
 *
 * @internal
 * @example
 * ```ts
 * if (watchedFrame() === undefined) return original.apply(this, args);
 * ```
 */
export function watchedFrame(): RunFrame | undefined {
  const frame = currentFrame();
  if (frame?.shadow !== true || frame.allowIo === true) return undefined;
  return registry().installations.length === 0 ? undefined : frame;
}

/**
 * Decides what happens to `probe` and records the leak on the current run frame when there is one.
 * Outside a shadow frame, with the kind `off`, or when `allow` says so, the answer is `pass` and
 * nothing is recorded.
 *
 * @internal
 * @example
 * ```ts
 * const verdict = inspect({ kind: "child_process", command: "curl x", target: "curl x" });
 * if (verdict.action === "block") throw verdict.error;
 * ```
 */
export function inspect(probe: Probe): Verdict {
  // A declared read of a guarded client may do its own I/O: that is what declaring it means.
  const frame = watchedFrame();
  if (frame === undefined) return { action: "pass" };
  const mode = modeFor(probe);
  if (mode === "off") return { action: "pass" };
  const leak: Leak = { kind: probe.kind, target: probe.target, blocked: mode === "block" };
  record(frame, leak);
  if (mode === "report") return { action: "report", leak, frame };
  const error = new Error(`penumbra: ${probe.kind} '${probe.target}' blocked by the tripwire in a shadow run`) as TripwireError;
  error.code = "ESHADOW";
  error.leak = leak;
  return { action: "block", leak, frame, error };
}

function isAllowed(allow: (target: TripwireTarget) => boolean, probe: Probe): boolean {
  const target: TripwireTarget = { kind: probe.kind };
  if (probe.host !== undefined) target.host = probe.host;
  if (probe.port !== undefined) target.port = probe.port;
  if (probe.command !== undefined) target.command = probe.command;
  try {
    return allow(target) === true;
  } catch {
    // A throwing allow callback must not turn into an error inside someone's socket code; failing
    // closed (not allowed) keeps the tripwire's promise.
    return false;
  }
}

/**
 * Puts a leak on the frame's observation while the frame is open, else tells the late-leak
 * listener (the behaviour already settled or timed out, but the leak guardrail still counts it).
 *
 * @internal
 * @example
 * ```ts
 * record(frame, { kind: "network", target: "10.0.0.5:5432", blocked: true });
 * ```
 */
export function record(frame: RunFrame, leak: Leak): void {
  if (frame.open) frame.leaks.push(leak);
  else frame.onLateLeak?.(leak);
}

/**
 * Takes a leak off the frame's observation again: a connection leak that a request on the same
 * connection then stood for, so one request is one leak.
 *
 * @internal
 * @example
 * ```ts
 * forgetLeak(frame, connectionLeak); // the request's own leak says more
 * ```
 */
export function forgetLeak(frame: RunFrame, leak: Leak): void {
  if (!frame.open) return;
  const index = frame.leaks.indexOf(leak);
  if (index !== -1) frame.leaks.splice(index, 1);
}

