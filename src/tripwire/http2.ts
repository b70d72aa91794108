/**
 * The HTTP/2 hook. An HTTP/2 session hands its socket to native code, which writes the frames
 * itself: a request on a session the control opened never passes through a JS socket write. So the
 * session's own methods that send frames are hooked: `request`, `ping`, `settings` and `goaway`, on
 * `ClientHttp2Session.prototype`, and `write` / `end` of `Http2Stream.prototype`. Node exports
 * neither class; their prototypes are taken from a session (and a pending stream) built over an
 * in-memory stream that never connects, and destroyed at once.
 */
import * as http2 from "node:http2";
import { Duplex } from "node:stream";
import type { RunFrame } from "../context/frame";
import { inspect, watchedFrame, type Probe } from "./verdict";
import { authority, claimConnection, socketProbe } from "./network";
import type * as net from "node:net";

type SessionMethod = "request" | "ping" | "settings" | "goaway";
const METHODS: readonly SessionMethod[] = ["request", "ping", "settings", "goaway"];

type Patchable = Record<string, (...args: unknown[]) => unknown>;

/**
 * `ClientHttp2Session.prototype` and `Http2Stream.prototype`, found once from a session (and a
 * pending stream on it) over an in-memory stream that never connects; undefined where this Node
 * cannot build them.
 */
function prototypes(): { session: Patchable | undefined; stream: Patchable | undefined } {
  const inert = new Duplex({ read() {}, write(_chunk, _encoding, done) { done(); } });
  let session: http2.ClientHttp2Session | undefined;
  let found: { session: Patchable | undefined; stream: Patchable | undefined } = { session: undefined, stream: undefined };
  try {
    session = http2.connect("http://penumbra.invalid", { createConnection: () => inert });
    session.on("error", () => undefined);
    found = { session: Object.getPrototypeOf(session) as Patchable, stream: undefined };
    const pending = session.request({ ":path": "/" });
    pending.on("error", () => undefined);
    // ClientHttp2Stream.prototype → Http2Stream.prototype, where the stream's own methods live.
    found.stream = Object.getPrototypeOf(Object.getPrototypeOf(pending)) as Patchable;
    pending.destroy();
  } catch {
    // Whatever was found stays usable; the rest is not hooked.
  } finally {
    session?.destroy();
    inert.destroy();
  }
  return found;
}

/** Streams a run already has a reported leak for (its own request, an earlier write): let through as that leak. */
const coveredStreams = new WeakMap<object, WeakSet<RunFrame>>();
/** Streams a run already had a write blocked on: later writes are dropped as that leak. */
const blockedStreams = new WeakMap<object, WeakSet<RunFrame>>();

function mark(on: WeakMap<object, WeakSet<RunFrame>>, stream: unknown, frame: RunFrame): void {
  if (typeof stream !== "object" || stream === null) return;
  let frames = on.get(stream);
  if (frames === undefined) on.set(stream, (frames = new WeakSet()));
  frames.add(frame);
}

function coverStream(stream: unknown, frame: RunFrame): void {
  mark(coveredStreams, stream, frame);
}

/**
 * Hooks `write` and `end` of HTTP/2 streams: a candidate writing on a stream the control opened
 * (a request body, an `end()` that finishes it) sends DATA frames from native code. Blocked bytes
 * are dropped and the stream left alone, since the control is using it.
 */
function patchStreamWrites(proto: Patchable, live: () => boolean): () => void {
  const hadWrite = Object.hasOwn(proto, "write");
  const hadEnd = Object.hasOwn(proto, "end");
  const originalWrite = proto.write as (...args: unknown[]) => unknown;
  const originalEnd = proto.end as (...args: unknown[]) => unknown;
  const judge = (stream: { session?: SessionLike }, args: unknown[]): boolean => {
    if (!live()) return false;
    const frame = watchedFrame();
    if (frame === undefined || coveredStreams.get(stream)?.has(frame) === true) return false;
    const callback = args.find((a): a is (error: Error) => void => typeof a === "function");
    if (blockedStreams.get(stream)?.has(frame) === true) {
      if (callback !== undefined) process.nextTick(callback, Object.assign(new Error("penumbra: write blocked by the tripwire in a shadow run"), { code: "ESHADOW" }));
      return true;
    }
    const session = stream.session ?? {};
    const verdict = inspect(frameProbe(session, "stream write"));
    if (verdict.action === "pass") return false;
    if (verdict.action === "report") {
      coverStream(stream, verdict.frame);
      return false;
    }
    mark(blockedStreams, stream, verdict.frame);
    if (callback !== undefined) process.nextTick(callback, verdict.error);
    return true;
  };
  proto.write = function (this: { session?: SessionLike }, ...args: unknown[]): unknown {
    return judge(this, args) ? true : originalWrite.apply(this, args);
  };
  proto.end = function (this: { session?: SessionLike }, ...args: unknown[]): unknown {
    return judge(this, args) ? this : originalEnd.apply(this, args);
  };
  const write = proto.write;
  const end = proto.end;
  return () => {
    if (proto.write === write) {
      if (hadWrite) proto.write = originalWrite;
      else delete (proto as Partial<Patchable>).write;
    }
    if (proto.end === end) {
      if (hadEnd) proto.end = originalEnd;
      else delete (proto as Partial<Patchable>).end;
    }
  };
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
  const found = prototypes();
  const proto = found.session as Record<SessionMethod, (...args: unknown[]) => unknown> | undefined;
  let live = true;
  const undo: Array<() => void> = [];
  if (found.stream !== undefined) undo.push(patchStreamWrites(found.stream, () => live));
  if (proto === undefined) {
    return () => {
      live = false;
      for (const u of undo) u();
    };
  }
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
        if (verdict.action === "report" && name === "request") {
          const stream = original.apply(this, args);
          coverStream(stream, verdict.frame);
          return stream;
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
