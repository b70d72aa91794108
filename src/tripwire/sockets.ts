/**
 * The write hook: `net.Socket.prototype.write` and `end`. A shadow run that writes on a socket it
 * did not open (a keep-alive HTTP/1 socket, a pooled SMTP or database connection, a child's stdin)
 * never connects, so the connection hook cannot see it; the bytes can only be stopped where they are
 * handed to the socket. `tls.TLSSocket` extends `net.Socket`, so TLS writes are the same hook.
 *
 * Only the public methods are hooked, because they run in the caller's async context: a buffered
 * chunk that stream internals flush later (`_write`, `_writev`) runs in whatever context the flush
 * happens in, which would blame the wrong run.
 */
import * as net from "node:net";
import type { RunFrame } from "../context/frame";
import { isReportedRequest } from "./http";
import { inspect, watchedFrame, type Probe } from "./verdict";
import { cover, isCovered, isRefused, socketProbe } from "./network";

/** The command line of the child each stdio pipe belongs to, set by the process hook at spawn. */
const childPipes = new WeakMap<net.Socket, string>();

/** A shadow frame's blocked sockets: its later writes on them are dropped as the same leak. */
const blockedFor = new WeakMap<net.Socket, WeakSet<RunFrame>>();

/**
 * Names `socket` as a stdio pipe of the child started with `command`, so a write on it is recorded
 * as that child's (`kind: "child_process"`), not as a network write.
 *
 * @internal
 * @example
 * ```ts
 * for (const pipe of child.stdio) if (pipe instanceof net.Socket) nameChildPipe(pipe, command);
 * ```
 */
export function nameChildPipe(socket: net.Socket, command: string): void {
  childPipes.set(socket, command);
}

/** What a blocked write does instead: pass means "write for real". */
type Decision = "pass" | "drop";

interface SocketInternals {
  /** Set by Node on `process.stdout` and `process.stderr`: the process's own logging. */
  _isStdio?: unknown;
  /** The HTTP message currently using the socket (a `ClientRequest` or a `ServerResponse`). */
  _httpMessage?: unknown;
  /** Set by `net.Server` on the sockets it accepted. */
  server?: unknown;
}

function probeFor(socket: net.Socket): Probe {
  const command = childPipes.get(socket);
  if (command !== undefined) return { kind: "child_process", command, target: command };
  return socketProbe(socket) ?? { kind: "network", target: "socket" };
}

/** True when the run already has a reported (let through) leak for this target: the write is part of it. */
function alreadyReported(frame: RunFrame, target: string): boolean {
  return frame.leaks.some((leak) => !leak.blocked && (leak.target === target || leak.target.includes(`//${target}/`)));
}

function decide(socket: net.Socket, args: unknown[]): Decision {
  const frame = watchedFrame();
  if (frame === undefined) return "pass";
  const internals = socket as unknown as SocketInternals;
  if (internals._isStdio === true || isRefused(socket) || isCovered(socket, frame)) return "pass";
  if (blockedFor.get(socket)?.has(frame) === true) return drop(socket, args, undefined);
  // A shadow request the http hook reported was judged whole; its own bytes are that leak.
  if (isReportedRequest(internals._httpMessage)) return "pass";
  const probe = probeFor(socket);
  if (alreadyReported(frame, probe.target)) {
    cover(socket, frame);
    return "pass";
  }
  const verdict = inspect(probe);
  if (verdict.action === "pass") return "pass";
  if (verdict.action === "report") {
    cover(socket, frame);
    return "pass";
  }
  let frames = blockedFor.get(socket);
  if (frames === undefined) blockedFor.set(socket, (frames = new WeakSet()));
  frames.add(frame);
  // A protocol client (SMTP, PostgreSQL, Redis) whose command was swallowed would wait for an answer
  // forever and keep its pooled connection stuck; closing the connection turns that into the error
  // every pool already handles (it opens a fresh one). A socket another party is using right now
  // (an HTTP message in flight, a server's client, a child's pipe) is left open: the bytes are dropped.
  const busy =
    internals._httpMessage !== undefined && internals._httpMessage !== null ||
    (internals.server !== undefined && internals.server !== null) ||
    childPipes.has(socket);
  return drop(socket, args, busy ? undefined : verdict.error);
}

/** Drops the bytes: the write's callback hears the error later, as it would hear a real failure. */
function drop(socket: net.Socket, args: unknown[], closeWith: Error | undefined): Decision {
  const callback = args.find((a): a is (error?: Error | null) => void => typeof a === "function");
  const error = closeWith ?? Object.assign(new Error("penumbra: write blocked by the tripwire in a shadow run"), { code: "ESHADOW" });
  if (callback !== undefined) process.nextTick(callback, error);
  if (closeWith !== undefined) process.nextTick(() => socket.destroy(closeWith));
  return "drop";
}

/**
 * Installs the write hooks; returns the function that removes them.
 *
 * @internal
 * @example
 * ```ts
 * const unpatch = patchSocketWrites();
 * ```
 */
export function patchSocketWrites(): () => void {
  const proto = net.Socket.prototype as unknown as Record<"write" | "end", (...args: unknown[]) => unknown>;
  let live = true;
  // `write` is inherited from stream.Writable: the hook is an own property of net.Socket.prototype,
  // so other streams are untouched and removing it brings the inherited one back.
  const hadOwnWrite = Object.hasOwn(proto, "write");
  const originalWrite = proto.write;
  const originalEnd = proto.end;
  const write = function (this: net.Socket, ...args: unknown[]): unknown {
    if (live && decide(this, args) === "drop") return true;
    return originalWrite.apply(this, args);
  };
  const end = function (this: net.Socket, ...args: unknown[]): unknown {
    // A bare end() sends FIN, which closes the other side's connection too: judged like a write.
    if (live && decide(this, args) === "drop") return this;
    return originalEnd.apply(this, args);
  };
  proto.write = write;
  proto.end = end;
  return () => {
    live = false;
    if (proto.write === write) {
      if (hadOwnWrite) proto.write = originalWrite;
      else delete (proto as Partial<typeof proto>).write;
    }
    if (proto.end === end) proto.end = originalEnd;
  };
}
