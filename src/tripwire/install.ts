/**
 * `installTripwire()`: adds an installation to the process-wide registry and patches Node's network
 * and process APIs while at least one is in force. The decision each patch asks for is `verdict.ts`.
 */
import { patchFetch } from "./fetch";
import { patchHttp } from "./http";
import { patchNetwork } from "./network";
import { patchProcesses } from "./processes";
import { registry, type Installation, type TripwireOptions } from "./verdict";

export { forgetLeak, inspect, record } from "./verdict";
export type { Probe, TripwireError, TripwireMode, TripwireOptions, TripwireTarget, Verdict } from "./verdict";

/**
 * Watches a shadow run's outbound connections, HTTP requests (`fetch` and keep-alive sockets
 * included), child processes and workers. Inside a candidate each one is recorded as a leak on its
 * observation and, in `block` mode, fails with an `ESHADOW` error before it leaves the process;
 * `report` records and lets it through. Outside shadow runs nothing changes. Returns a function
 * that undoes this installation (calling it twice is harmless); installing again does not patch
 * twice, the newest installation's options are in force, and the patches go when the last
 * installation is undone.
 *
 * @example
 * ```ts
 * const uninstall = installTripwire({ childProcess: "report", allow: (t) => t.host === "127.0.0.1" && t.port === 8125 });
 * // … run experiments …
 * uninstall();
 * ```
 */
export function installTripwire(options: TripwireOptions = {}): () => void {
  const state = registry();
  const installation: Installation = { options: { ...options } };
  if (state.unpatch === undefined) state.unpatch = patchAll();
  state.installations.push(installation);
  let done = false;
  return () => {
    if (done) return;
    done = true;
    const index = state.installations.indexOf(installation);
    if (index !== -1) state.installations.splice(index, 1);
    if (state.installations.length === 0 && state.unpatch !== undefined) {
      const unpatch = state.unpatch;
      state.unpatch = undefined;
      unpatch();
    }
  };
}

function patchAll(): () => void {
  const undo: Array<() => void> = [];
  try {
    undo.push(patchNetwork(), patchHttp(), patchFetch(), patchProcesses());
  } catch (error) {
    // Half a tripwire is worse than none: it would look installed. Undo what went in.
    for (const u of undo.reverse()) u();
    throw error;
  }
  return () => {
    for (const u of undo.reverse()) u();
  };
}
