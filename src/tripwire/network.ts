/**
 * The connection hook: `net.Socket.prototype.connect`. Every new client socket goes through it
 * (http, https and tls sockets extend `net.Socket`; fetch, database and mail drivers open theirs
 * with it), and it runs in the caller's async context for a fresh connection. A prototype hook,
 * unlike a patch of `net.connect`, also reaches callers that captured the function before the
 * tripwire was installed (`http.Agent` captures `net.createConnection` when it loads).
 *
 * It is blind to a pooled socket, which never connects again: the write hook (`sockets.ts`) and
 * the request hooks cover that.
 */
import * as net from "node:net";
import type { RunFrame } from "../context/frame";
import type { Leak } from "../types/results";
import { forgetLeak, inspect, type Probe } from "./verdict";

/**
 * Connection leaks, per frame and `host:port`, that no request has yet claimed: when a shadow
 * `http.request` opens a fresh socket, the connection is seen first (in the constructor) and the
 * request a moment later; the request's leak replaces the connection's.
 */
const unclaimed = new WeakMap<RunFrame, Map<string, Leak[]>>();

/**
 * Formats `host:port` the way the leak targets do, bracketing an IPv6 literal.
 *
 * @internal
 * @example
 * ```ts
 * authority("::1", 8080); // "[::1]:8080"
 * ```
 */
export function authority(host: string, port: number | undefined): string {
  const shown = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
  return port === undefined ? shown : `${shown}:${port}`;
}

/**
 * Called by a request hook that recorded a leak on `host:port`: drops the connection leak the same
 * request caused, if there is one, so the request is recorded once.
 *
 * @internal
 * @example
 * ```ts
 * claimConnection(verdict.frame, authority(host, port));
 * ```
 */
export function claimConnection(frame: RunFrame, target: string): void {
  const pending = unclaimed.get(frame)?.get(target);
  const leak = pending?.shift();
  if (leak !== undefined) forgetLeak(frame, leak);
}

/** Where each client socket was told to connect: a socket still connecting has no remote address yet. */
const connectedTo = new WeakMap<net.Socket, Probe>();

/** Sockets whose connection the tripwire refused: writes on them are that leak, not new ones. */
const refused = new WeakSet<net.Socket>();

/** Sockets a shadow frame already has a leak for (a reported connection or request): its writes are that leak. */
const covered = new WeakMap<net.Socket, WeakSet<RunFrame>>();

/**
 * Where a socket goes, as a probe: its remote address when connected, else where it was told to
 * connect; undefined for a socket the connection hook never saw (a pipe, a server's socket).
 *
 * @internal
 * @example
 * ```ts
 * const probe = socketProbe(socket) ?? { kind: "network", target: "socket" };
 * ```
 */
export function socketProbe(socket: net.Socket): Probe | undefined {
  const host = socket.remoteAddress;
  const port = socket.remotePort;
  if (typeof host === "string" && typeof port === "number") return { kind: "network", host, port, target: authority(host, port) };
  return connectedTo.get(socket);
}

/**
 * True when the tripwire refused this socket's connection: its writes are dropped without a new leak.
 *
 * @internal
 * @example
 * ```ts
 * if (isRefused(socket)) return true;
 * ```
 */
export function isRefused(socket: net.Socket): boolean {
  return refused.has(socket);
}

/**
 * Marks `socket` as already recorded for `frame` (a reported connection or request), or asks
 * whether it is: a run's later writes on it are the same leak.
 *
 * @internal
 * @example
 * ```ts
 * cover(socket, verdict.frame);
 * ```
 */
export function cover(socket: net.Socket, frame: RunFrame): void {
  let frames = covered.get(socket);
  if (frames === undefined) covered.set(socket, (frames = new WeakSet()));
  frames.add(frame);
}

/**
 * True when `frame` already has a leak for `socket` (see {@link cover}).
 *
 * @internal
 * @example
 * ```ts
 * if (isCovered(socket, frame)) return "pass";
 * ```
 */
export function isCovered(socket: net.Socket, frame: RunFrame): boolean {
  return covered.get(socket)?.has(frame) === true;
}

/**
 * Requests undici has just recorded, per frame and `host:port`, whose connection (if undici opens
 * one) is about to be seen: undici names the request first and connects after, in the same turn.
 */
const announced = new WeakMap<RunFrame, Map<string, number>>();

/**
 * Called by the undici hook after it recorded a request: a connection the same frame opens to
 * `host:port` before the next turn of the event loop is that request's, and is not a leak of its own.
 *
 * @internal
 * @example
 * ```ts
 * expectConnection(verdict.frame, authority(host, port));
 * ```
 */
export function expectConnection(frame: RunFrame, target: string): void {
  let byTarget = announced.get(frame);
  if (byTarget === undefined) announced.set(frame, (byTarget = new Map()));
  byTarget.set(target, (byTarget.get(target) ?? 0) + 1);
  const map = byTarget;
  // A pooled request never connects; without the expiry its entry would hide a later, real connection.
  setImmediate(() => {
    const left = (map.get(target) ?? 0) - 1;
    if (left > 0) map.set(target, left);
    else map.delete(target);
  }).unref();
}

/** Takes one announced request for `target` off the list; true when there was one. */
function takeAnnounced(frame: RunFrame, target: string): boolean {
  const byTarget = announced.get(frame);
  const count = byTarget?.get(target) ?? 0;
  if (byTarget === undefined || count === 0) return false;
  if (count > 1) byTarget.set(target, count - 1);
  else byTarget.delete(target);
  return true;
}

interface ConnectTarget {
  host?: string;
  port?: number;
  path?: string;
}

/** Reads where a `connect(...)` call goes, from any of its overloads. */
function connectTarget(args: readonly unknown[]): ConnectTarget {
  let first = args[0];
  // net.connect() passes its already-normalised [options, callback] pair as a single array.
  if (Array.isArray(first)) first = first[0];
  if (typeof first === "object" && first !== null) {
    const options = first as { host?: unknown; port?: unknown; path?: unknown };
    if (typeof options.path === "string") return { path: options.path };
    return { host: typeof options.host === "string" && options.host !== "" ? options.host : "localhost", port: toPort(options.port) };
  }
  if (typeof first === "string" && !/^\d+$/.test(first)) return { path: first };
  const host = typeof args[1] === "string" && args[1] !== "" ? args[1] : "localhost";
  return { host, port: toPort(first) };
}

function toPort(value: unknown): number | undefined {
  const port = typeof value === "string" ? Number(value) : value;
  return typeof port === "number" && Number.isInteger(port) ? port : undefined;
}

/**
 * Installs the connection hook; returns the function that removes it.
 *
 * @internal
 * @example
 * ```ts
 * const unpatch = patchNetwork();
 * ```
 */
export function patchNetwork(): () => void {
  const proto = net.Socket.prototype;
  const original = proto.connect;
  let live = true;
  const hooked = function connect(this: net.Socket, ...args: unknown[]): net.Socket {
    if (!live) return (original as (...a: unknown[]) => net.Socket).apply(this, args);
    const where = connectTarget(args);
    const probe: Probe =
      where.path !== undefined
        ? { kind: "network", target: where.path }
        : { kind: "network", host: where.host, port: where.port, target: authority(where.host ?? "localhost", where.port) };
    connectedTo.set(this, probe);
    const verdict = inspect(probe);
    if (verdict.action !== "pass") cover(this, verdict.frame);
    if (verdict.action !== "pass" && takeAnnounced(verdict.frame, probe.target)) {
      forgetLeak(verdict.frame, verdict.leak);
    } else if (verdict.action !== "pass") {
      let byTarget = unclaimed.get(verdict.frame);
      if (byTarget === undefined) unclaimed.set(verdict.frame, (byTarget = new Map()));
      const list = byTarget.get(probe.target) ?? [];
      list.push(verdict.leak);
      byTarget.set(probe.target, list);
    }
    if (verdict.action === "block") {
      // Destroying on the next tick, not now, lets the caller attach its 'error' listener first,
      // as it would for a real ECONNREFUSED; an 'error' with no listener would crash the process.
      refused.add(this);
      process.nextTick(() => this.destroy(verdict.error));
      return this;
    }
    return (original as (...a: unknown[]) => net.Socket).apply(this, args);
  };
  proto.connect = hooked as typeof proto.connect;
  return () => {
    // A hook someone else wrapped cannot be taken out; it goes inert instead.
    live = false;
    // Only put the original back if nobody patched over us since; otherwise their patch would go too.
    if (proto.connect === (hooked as typeof proto.connect)) proto.connect = original;
  };
}
