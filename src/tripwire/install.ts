/**
 * `installTripwire()`: adds an installation to the process-wide registry and patches Node's network
 * and process APIs while at least one is in force. The decision each patch asks for is `verdict.ts`.
 */
import { patchDatagrams } from "./dgram";
import { patchDns } from "./dns";
import { patchFetch } from "./fetch";
import { patchHttp } from "./http";
import { patchHttp2 } from "./http2";
import { patchNetwork } from "./network";
import { patchPools } from "./pools";
import { patchProcesses } from "./processes";
import { patchSocketWrites } from "./sockets";
import { STRICTNESS, registry, type Installation, type TripwireOptions } from "./verdict";

export type { TripwireError, TripwireMode, TripwireOptions, TripwireTarget } from "./verdict";

/**
 * Watches what leaves the process from a shadow run: new connections, data written on any socket
 * (connections the control opened included: keep-alive HTTP/1, HTTP/2 sessions, pooled SMTP and
 * database clients), HTTP/1 and HTTP/2 requests, `fetch`, UDP datagrams, DNS queries, processes,
 * workers and the handles of running ones. Inside a candidate each one is recorded as a leak on its
 * observation and, in `block` mode, fails with an `ESHADOW` error before it leaves the process;
 * `report` records and lets it through. A declared read of a guarded client, and the process's own
 * stdout, stderr and IPC channel, are let out. Outside shadow runs nothing changes. Work queued in
 * nodemailer's SMTP pool, a pg `Pool` or a pg `Client` is judged as the run's that queued it, not
 * as the run's whose turn happens to dispatch it (`pools.ts`).
 *
 * Returns a function that undoes this installation only (calling it twice is harmless). Installing
 * again never weakens the tripwire: per kind the strictest installation in force wins (`block` over
 * `report` over `off`; an installation's `allow` exempts a target from that installation only).
 * The patches go when the last installation is undone.
 *
 * @example
 * ```ts
 * const uninstall = installTripwire({ childProcess: "report", allow: (t) => t.host === "127.0.0.1" && t.port === 8125 });
 * // … run experiments …
 * uninstall();
 * ```
 */
export function installTripwire(options: TripwireOptions = {}): () => void {
  checkOptions(options);
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

/** Bad options are a programming error, told at installation, never in someone's socket code. */
function checkOptions(options: unknown): void {
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`penumbra: installTripwire() takes an options object, got ${options === null ? "null" : typeof options}`);
  }
  const { network, childProcess, allow } = options as Record<string, unknown>;
  for (const [name, value] of [["network", network], ["childProcess", childProcess]] as const) {
    if (value !== undefined && (typeof value !== "string" || !Object.hasOwn(STRICTNESS, value))) {
      throw new TypeError(`penumbra: installTripwire option '${name}' must be "block", "report" or "off", got ${JSON.stringify(value) ?? String(value)}`);
    }
  }
  if (allow !== undefined && typeof allow !== "function") {
    throw new TypeError(`penumbra: installTripwire option 'allow' must be a function, got ${typeof allow}`);
  }
}

function patchAll(): () => void {
  const undo: Array<() => void> = [];
  try {
    undo.push(patchNetwork(), patchSocketWrites(), patchHttp(), patchHttp2(), patchFetch(), patchDatagrams(), patchDns(), patchProcesses(), patchPools());
  } catch (error) {
    // Half a tripwire is worse than none: it would look installed. Undo what went in.
    for (const u of undo.reverse()) u();
    throw error;
  }
  return () => {
    for (const u of undo.reverse()) u();
  };
}
