/**
 * The UDP hook: `dgram.Socket.prototype.send`, the one method every datagram goes through. A
 * datagram needs no connection, so the connection hook never sees it.
 */
import * as dgram from "node:dgram";
import { inspect } from "./verdict";
import { authority } from "./network";

/** Where one `send(...)` call goes, read the way Node reads its overloads. */
function destination(socket: dgram.Socket, args: unknown[]): { host: string; port: number | undefined } {
  let connected: { address: string; port: number } | undefined;
  try {
    connected = socket.remoteAddress();
  } catch {
    connected = undefined; // not connected: the call names its destination
  }
  if (connected !== undefined) return { host: connected.address, port: connected.port };
  const [, offset, length, port, address] = args;
  // send(msg, offset, length, port, address?, cb?) when the fourth or fifth argument names it, else send(msg, port, address?, cb?).
  const long = (typeof address === "string" && address !== "") || (port !== undefined && port !== null && typeof port !== "function");
  const p = long ? port : offset;
  const a = long ? address : length;
  const host = typeof a === "string" && a !== "" ? a : (socket as unknown as { type?: unknown }).type === "udp6" ? "::1" : "127.0.0.1";
  const n = typeof p === "string" ? Number(p) : p;
  return { host, port: typeof n === "number" && Number.isInteger(n) ? n : undefined };
}

/**
 * Installs the UDP hook; returns the function that removes it.
 *
 * @internal
 * @example
 * ```ts
 * const unpatch = patchDatagrams();
 * ```
 */
export function patchDatagrams(): () => void {
  const proto = dgram.Socket.prototype as unknown as { send: (...args: unknown[]) => unknown };
  const original = proto.send;
  let live = true;
  const hooked = function (this: dgram.Socket, ...args: unknown[]): unknown {
    if (live) {
      const to = destination(this, args);
      const verdict = inspect({ kind: "network", host: to.host, port: to.port, target: `udp ${authority(to.host, to.port)}` });
      if (verdict.action === "block") {
        // A failed send reports to its callback; without one it is dropped silently rather than
        // emitted as 'error' on a socket the control may own, where no listener could mean a crash.
        const callback = lastCallback(args);
        if (callback !== undefined) process.nextTick(callback, verdict.error);
        return undefined;
      }
    }
    return original.apply(this, args);
  };
  proto.send = hooked;
  return () => {
    live = false;
    if (proto.send === hooked) proto.send = original;
  };
}

/** The call's callback: Node takes it as the last function argument. */
function lastCallback(args: readonly unknown[]): ((error: Error) => void) | undefined {
  for (let i = args.length - 1; i >= 0; i--) if (typeof args[i] === "function") return args[i] as (error: Error) => void;
  return undefined;
}
