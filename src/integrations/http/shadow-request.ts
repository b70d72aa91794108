/**
 * The shadow request `penumbra/express` gives the new handler, and the inert socket behind it: a
 * request that reads like the live one and leads nowhere near the live connection.
 */
import { EventEmitter } from "node:events";
import { IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import type { Request } from "express";
import { snapshot } from "../../isolation/snapshot";

/**
 * Own request properties that are the live exchange itself: never copied, replaced by the shadow's own.
 *
 * @internal
 * @example
 * ```ts
 * if (LIVE_ONLY.has(key)) continue;
 * ```
 */
export const LIVE_ONLY = new Set(["socket", "connection", "client", "res", "next"]);

/**
 * What the shadow request and response have for a socket: the live socket's facts (addresses,
 * ports, `encrypted`) as data, and every method a handler may call on a socket as a no-op. A write
 * is accepted and dropped (its callback still runs), `end()` and `destroy()` only mark this object,
 * timers and keep-alive settings do nothing. It holds no reference to the live socket, its server
 * or its parser.
 *
 * @internal
 * @example
 * ```ts
 * const socket = new InertSocket(liveReq.socket);
 * socket.write("HTTP/1.1 418 I'm a teapot\r\n\r\n"); // true, and nothing is sent
 * ```
 */
export class InertSocket extends EventEmitter {
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  readonly remoteFamily: string | undefined;
  readonly localAddress: string | undefined;
  readonly localPort: number | undefined;
  readonly encrypted: boolean;
  readonly connecting = false;
  readonly pending = false;
  readonly readable = false;
  readonly bytesRead = 0;
  readonly bytesWritten = 0;
  readonly bufferSize = 0;
  readonly readyState = "open";
  destroyed = false;
  writable = true;

  constructor(live: (Socket & { encrypted?: boolean }) | undefined) {
    super();
    // Read once, defensively: the live socket may already be gone.
    const read = <T>(get: () => T): T | undefined => {
      try {
        return get();
      } catch {
        return undefined;
      }
    };
    this.remoteAddress = read(() => live?.remoteAddress);
    this.remotePort = read(() => live?.remotePort);
    this.remoteFamily = read(() => live?.remoteFamily);
    this.localAddress = read(() => live?.localAddress);
    this.localPort = read(() => live?.localPort);
    this.encrypted = read(() => live?.encrypted) === true;
    if (this.encrypted) {
      // TLS facts a handler may check (mutual TLS), as data taken now.
      const tls = live as unknown as { authorized?: unknown; getPeerCertificate?: () => unknown; alpnProtocol?: unknown; servername?: unknown };
      this.authorized = read(() => tls.authorized) === true;
      this.alpnProtocol = read(() => tls.alpnProtocol);
      this.servername = read(() => tls.servername);
      const certificate = read(() => snapshot(tls.getPeerCertificate?.()).value);
      this.peerCertificate = certificate;
    }
  }

  readonly authorized: boolean = false;
  readonly alpnProtocol: unknown;
  readonly servername: unknown;
  private readonly peerCertificate: unknown;

  getPeerCertificate(): unknown {
    return this.peerCertificate ?? {};
  }

  write(...args: unknown[]): boolean {
    const done = args.find((a) => typeof a === "function") as (() => void) | undefined;
    if (done !== undefined) setImmediate(done);
    return true;
  }

  end(...args: unknown[]): this {
    const done = args.find((a) => typeof a === "function") as (() => void) | undefined;
    this.writable = false;
    if (done !== undefined) setImmediate(done);
    return this;
  }

  destroy(): this {
    if (this.destroyed) return this;
    this.destroyed = true;
    this.writable = false;
    setImmediate(() => this.emit("close", false));
    return this;
  }

  destroySoon(): void {
    this.destroy();
  }

  resetAndDestroy(): this {
    return this.destroy();
  }

  address(): { address?: string; family?: string; port?: number } {
    return { address: this.localAddress, port: this.localPort };
  }

  setTimeout(): this {
    return this;
  }

  setNoDelay(): this {
    return this;
  }

  setKeepAlive(): this {
    return this;
  }

  setEncoding(): this {
    return this;
  }

  pause(): this {
    return this;
  }

  resume(): this {
    return this;
  }

  ref(): this {
    return this;
  }

  unref(): this {
    return this;
  }

  cork(): void {}

  uncork(): void {}

  pipe<T>(destination: T): T {
    return destination;
  }
}

/**
 * The shadow request: an `IncomingMessage` of its own over the inert socket, with the live request's
 * prototype (the app's `req`, Express's `get()`, `is()`, `query`, `hostname`, `ip` read the same
 * request) and copies of its data (`url`, `method`, `headers`, `body`, `params`, other own data such
 * as `req.user`). It shares no stream state with the live request: its body stream is already
 * ended (the live one was read by the old side; parse bodies with middleware before the route).
 *
 * @internal
 * @example
 * ```ts
 * const req = shadowRequest(liveReq, new InertSocket(liveReq.socket));
 * ```
 */
export function shadowRequest(live: Request, socket: InertSocket): Request {
  // Anything else (a test's mock request, HTTP/2's compatibility request) gets the shadow's handles
  // as own properties in front of the live object instead: nothing of a stream of its own to build.
  const node = live instanceof IncomingMessage;
  const req = (node ? new IncomingMessage(socket as unknown as Socket) : Object.create(live)) as Request;
  if (node) Object.setPrototypeOf(req, Object.getPrototypeOf(live) as object);
  const own: PropertyDescriptorMap = {};
  for (const key of Object.keys(live)) {
    if (key.startsWith("_") || LIVE_ONLY.has(key)) continue;
    const descriptor = Object.getOwnPropertyDescriptor(live, key);
    if (descriptor === undefined || !("value" in descriptor) || typeof descriptor.value === "function") continue;
    own[key] = { value: snapshot(descriptor.value).value, writable: true, enumerable: true, configurable: true };
  }
  if (!node) {
    for (const key of ["socket", "connection", "client"]) own[key] = { value: socket, writable: true, configurable: true };
    own.stream = { value: null, writable: true, configurable: true };
  }
  Object.defineProperties(req, own);
  // `headers` and `trailers` live behind IncomingMessage's own accessors.
  (req as { headers: unknown }).headers = snapshot({ ...live.headers }).value;
  if (node) req.push(null);
  return req;
}

/**
 * Replaces, in the shadow request's data and the stand-in's `locals`, every reference to the live
 * request, response or socket by its shadow counterpart. `owner` is the shadow's own object: its
 * properties `keys` (default: its own data keys) are reassigned. What lies below them may be the
 * live side's own (the snapshot shares a value over its size bound), so nothing below is changed:
 * each plain object or array that leads to a live handle (a cycle included) is copied, and the copies
 * refer to each other and to the counterparts. Iterative and bounded like the snapshot: a container
 * the walk does not reach is left as it is.
 *
 * @internal
 * @example
 * ```ts
 * const counterparts = new Map([[liveReq, shadowReq], [liveRes, standIn], [liveReq.socket, inert]]);
 * replaceLiveHandles(shadowReq, counterparts);
 * replaceLiveHandles(standIn, counterparts, ["locals"]);
 * ```
 */
export function replaceLiveHandles(owner: object | undefined, counterparts: Map<unknown, unknown>, keys?: readonly string[]): void {
  if (typeof owner !== "object" || owner === null) return;
  counterparts.delete(undefined);
  const target = owner as Record<string, unknown>;
  // Node's own state (`_events`, `_readableState`) and the shadow's own handles are not copied data.
  const names = keys ?? Object.keys(target).filter((key) => !key.startsWith("_") && !LIVE_ONLY.has(key));
  const roots: Array<[string, object]> = [];
  const stack: object[] = [];
  for (const key of names) {
    const value = target[key];
    if (counterparts.has(value)) target[key] = counterparts.get(value);
    else if (isPlainContainer(value)) {
      roots.push([key, value]);
      stack.push(value);
    }
  }
  // Which containers hold a live handle, and which containers each one refers to.
  const refersTo = new Map<object, object[]>();
  const holding = new Set<object>();
  let budget = 10_000;
  while (stack.length > 0 && budget-- > 0) {
    const container = stack.pop() as object;
    if (refersTo.has(container)) continue;
    const refs: object[] = [];
    refersTo.set(container, refs);
    for (const value of dataValues(container)) {
      if (counterparts.has(value)) holding.add(container);
      else if (isPlainContainer(value)) {
        refs.push(value);
        stack.push(value);
      }
    }
  }
  if (holding.size === 0) return;
  // A container is copied when it holds a handle or refers to a container that is copied.
  const referredBy = new Map<object, object[]>();
  for (const [container, refs] of refersTo) {
    for (const ref of refs) {
      const by = referredBy.get(ref);
      if (by === undefined) referredBy.set(ref, [container]);
      else by.push(container);
    }
  }
  const copied = new Map<object, object>();
  const work = [...holding];
  while (work.length > 0) {
    const container = work.pop() as object;
    if (copied.has(container)) continue;
    copied.set(container, Array.isArray(container) ? [] : (Object.create(Object.getPrototypeOf(container) as object | null) as object));
    work.push(...(referredBy.get(container) ?? []));
  }
  for (const [original, copy] of copied) {
    const descriptors = Object.getOwnPropertyDescriptors(original) as Record<PropertyKey, PropertyDescriptor>;
    for (const key of Reflect.ownKeys(descriptors)) {
      const descriptor = descriptors[key as string] as PropertyDescriptor;
      if (!("value" in descriptor)) continue;
      const value: unknown = descriptor.value;
      if (counterparts.has(value)) descriptor.value = counterparts.get(value);
      else if (typeof value === "object" && value !== null && copied.has(value)) descriptor.value = copied.get(value);
    }
    Object.defineProperties(copy, descriptors);
    if (Object.isFrozen(original)) Object.freeze(copy);
  }
  for (const [key, value] of roots) {
    const copy = copied.get(value);
    if (copy !== undefined) target[key] = copy;
  }
}

/** The values of a container's own enumerable data properties; none when they cannot be listed. */
function dataValues(container: object): unknown[] {
  const values: unknown[] = [];
  try {
    for (const key of Object.keys(container)) {
      const descriptor = Object.getOwnPropertyDescriptor(container, key);
      if (descriptor !== undefined && "value" in descriptor) values.push(descriptor.value);
    }
  } catch {
    // A container whose keys cannot be listed is left as it is.
  }
  return values;
}

function isPlainContainer(value: unknown): value is object {
  if (typeof value !== "object" || value === null) return false;
  if (Array.isArray(value)) return true;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}
