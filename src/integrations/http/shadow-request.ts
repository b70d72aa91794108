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
 * Replaces, inside the shadow request's copied data and the stand-in's `locals` (plain objects and
 * arrays, which are the shadow's own copies), every reference to the live request, response or socket by its shadow counterpart.
 * Iterative and bounded like the snapshot: a copy the walk does not reach is one the snapshot shared.
 *
 * @internal
 * @example
 * ```ts
 * replaceLiveHandles(shadowReq, new Map([[liveReq, shadowReq], [liveRes, standIn], [liveReq.socket, inert]]));
 * ```
 */
export function replaceLiveHandles(root: Record<string, unknown> | undefined, counterparts: Map<unknown, unknown>): void {
  if (typeof root !== "object" || root === null) return;
  counterparts.delete(undefined);
  const seen = new Set<object>();
  const stack: object[] = [];
  for (const key of Object.keys(root)) {
    // Node's own state (`_events`, `_readableState`) and the shadow's own handles are not copied data.
    if (key.startsWith("_") || LIVE_ONLY.has(key)) continue;
    const value = root[key];
    if (counterparts.has(value)) root[key] = counterparts.get(value);
    else if (isPlainContainer(value)) stack.push(value);
  }
  let budget = 10_000;
  while (stack.length > 0 && budget-- > 0) {
    const container = stack.pop() as Record<string, unknown>;
    if (seen.has(container)) continue;
    seen.add(container);
    for (const key of Object.keys(container)) {
      const descriptor = Object.getOwnPropertyDescriptor(container, key);
      if (descriptor === undefined || !("value" in descriptor)) continue;
      const value: unknown = descriptor.value;
      if (counterparts.has(value)) {
        if (descriptor.writable === true) container[key] = counterparts.get(value);
      } else if (isPlainContainer(value)) {
        stack.push(value);
      }
    }
  }
}

function isPlainContainer(value: unknown): value is object {
  if (typeof value !== "object" || value === null) return false;
  if (Array.isArray(value)) return true;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}
