/**
 * The HTTP/2 hook. An HTTP/2 session hands its socket to native code, which writes the frames
 * itself: a request on a session the control opened never passes through a JS socket write. So the
 * session's own methods that send frames are hooked: `request`, `ping`, `settings` and `goaway`, on
 * `ClientHttp2Session.prototype`. Node does not export that class; its prototype is taken from a
 * session built over an in-memory stream that never connects, and destroyed at once.
 */
import * as http2 from "node:http2";
import { Duplex } from "node:stream";
import { inspect, type Probe } from "./install";
import { authority, claimConnection, socketProbe } from "./network";
import type * as net from "node:net";

type SessionMethod = "request" | "ping" | "settings" | "goaway";
const METHODS: readonly SessionMethod[] = ["request", "ping", "settings", "goaway"];

/** `ClientHttp2Session.prototype`, found once; undefined if this Node cannot build the probe session. */
function sessionPrototype(): Record<SessionMethod, (...args: unknown[]) => unknown> | undefined {
  const inert = new Duplex({ read() {}, write(_chunk, _encoding, done) { done(); } });
  let session: http2.ClientHttp2Session | undefined;
  try {
    session = http2.connect("http://penumbra.invalid", { createConnection: () => inert });
    session.on("error", () => undefined);
    return Object.getPrototypeOf(session) as Record<SessionMethod, (...args: unknown[]) => unknown>;
  } catch {
    return undefined;
  } finally {
    session?.destroy();
    inert.destroy();
  }
}

interface SessionLike {
  socket?: net.Socket;
  encrypted?: boolean;
}

/** The session's `scheme://host:port`, from its socket (the authority is a private field). */
function origin(session: SessionLike): { host?: string; port?: number; authority: string; scheme: string } {
  const scheme = session.encrypted === true ? "https:" : "http:";
  let probe: Probe | undefined;
  try {
    // A destroyed session's socket getter throws; it has nowhere to send anything anyway.
    probe = session.socket === undefined ? undefined : socketProbe(session.socket);
  } catch {
    probe = undefined;
  }
  if (probe?.host === undefined) return { authority: probe?.target ?? "unknown", scheme };
  return { host: probe.host, port: probe.port, authority: authority(probe.host, probe.port), scheme };
}

function requestProbe(session: SessionLike, headers: unknown): Probe {
  const where = origin(session);
  const h = (typeof headers === "object" && headers !== null ? headers : {}) as Record<string, unknown>;
  const method = typeof h[":method"] === "string" ? h[":method"] : "GET";
  const path = typeof h[":path"] === "string" && h[":path"] !== "" ? h[":path"] : "/";
  const probe: Probe = { kind: "network", target: `${method} ${where.scheme}//${where.authority}${path}` };
  if (where.host !== undefined) probe.host = where.host;
  if (where.port !== undefined) probe.port = where.port;
  return probe;
}

function frameProbe(session: SessionLike, name: string): Probe {
  const where = origin(session);
  const probe: Probe = { kind: "network", target: `${where.authority} http2 ${name}` };
  if (where.host !== undefined) probe.host = where.host;
  if (where.port !== undefined) probe.port = where.port;
  return probe;
}

/** What a blocked `request` hands back: a stream that fails with the tripwire's error, as a refused stream would. */
function refusedStream(error: Error): Duplex {
  const stream = new Duplex({ read() {}, write(_chunk, _encoding, done) { done(error); } });
  process.nextTick(() => stream.destroy(error));
  return stream;
}

/**
 * Installs the HTTP/2 session hooks; returns the function that removes them.
 *
 * @internal
 * @example
 * ```ts
 * const unpatch = patchHttp2();
 * ```
 */
export function patchHttp2(): () => void {
  const proto = sessionPrototype();
  if (proto === undefined) return () => undefined;
  let live = true;
  const undo: Array<() => void> = [];
  // `request` is ClientHttp2Session's own; the others live on Http2Session.prototype, one level up.
  for (const name of METHODS) {
    const owner = Object.hasOwn(proto, name) ? proto : (Object.getPrototypeOf(proto) as typeof proto);
    const original = owner[name];
    if (typeof original !== "function") continue;
    const hooked = function (this: SessionLike, ...args: unknown[]): unknown {
      if (live) {
        const probe = name === "request" ? requestProbe(this, args[0]) : frameProbe(this, name);
        const verdict = inspect(probe);
        if (verdict.action !== "pass" && name === "request" && probe.host !== undefined) {
          // A session the candidate opened was already refused (or reported) as a connection: one leak.
          claimConnection(verdict.frame, authority(probe.host, probe.port));
        }
        if (verdict.action === "block") {
          if (name === "request") return refusedStream(verdict.error);
          const callback = args.find((a): a is (error: Error) => void => typeof a === "function");
          if (callback !== undefined) process.nextTick(callback, verdict.error);
          return false;
        }
      }
      return original.apply(this, args);
    };
    owner[name] = hooked;
    undo.push(() => {
      if (owner[name] === hooked) owner[name] = original;
    });
  }
  return () => {
    live = false;
    for (const u of undo) u();
  };
}
