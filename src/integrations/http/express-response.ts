/**
 * The two ends of `penumbra/express`'s comparison: an observer on the live `res` (it records what the
 * old handler sends and forwards every call unchanged) and a stand-in `res` for the new handler (it
 * records and sends nothing).
 *
 * The stand-in inherits from the live response's prototype (the app's `res`, Express's methods, then
 * `http.ServerResponse`) and overrides the primitives those methods are built on: `statusCode`,
 * `setHeader` & co., `writeHead`, `write`, `end`. So `json()`, `send()`, `status()`, `set()`,
 * `type()`, `cookie()`, `redirect()`, `sendStatus()` behave as Express's own (charset, Content-Length,
 * ETag, 304 freshness), while no byte can reach a socket: the stand-in has none.
 */
import type { OutgoingHttpHeader, OutgoingHttpHeaders } from "node:http";
import type { NextFunction, Request, Response } from "express";
import { EventEmitter } from "node:events";
import { IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import { describeThrown } from "../../errors";
import { snapshot } from "../../isolation/snapshot";
import { BoundedBody, nodeHeaders, type BodyCut, type ComparableResponse } from "./represent";

/**
 * What one side of an Express comparison saw: the head, the body bytes and a `next` call, if any.
 *
 * @internal
 * @example
 * ```ts
 * await recorder.done;
 * const seen = recorder.represent();
 * ```
 */
export class ResponseRecorder {
  status = 200;
  headers: Record<string, string | string[]> = {};
  nextCall: string | undefined;
  readonly body: BoundedBody;
  readonly done: Promise<void>;
  /** Set when the side ended before its response did: its client left (live), or it was read as far as the live side (stand-in). */
  cut: BodyCut | undefined;
  /** Called once when the recorder is cut: the stand-in closes, as a response whose client left. */
  onCut: (() => void) | undefined;
  private finish!: () => void;
  private finished = false;
  private limit: number | undefined;

  /** Whether the side has answered (ended, closed, or called `next`): nothing more is recorded. */
  get ended(): boolean {
    return this.finished;
  }

  constructor(cap: number) {
    this.body = new BoundedBody(cap);
    this.done = new Promise<void>((resolve) => (this.finish = resolve));
  }

  /** Records a written chunk as bytes; what Node would accept and nothing else. */
  chunk(chunk: unknown, encoding: unknown): void {
    if (this.finished) return;
    let bytes: Uint8Array;
    if (typeof chunk === "string") {
      const enc = typeof encoding === "string" && Buffer.isEncoding(encoding) ? encoding : "utf8";
      bytes = Buffer.from(chunk, enc);
    } else if (chunk instanceof Uint8Array) {
      bytes = chunk;
    } else {
      return;
    }
    if (this.limit === undefined) {
      this.body.push(bytes);
      return;
    }
    this.body.push(bytes.subarray(0, Math.max(0, this.limit - this.body.length)));
    if (this.body.length >= this.limit) this.cutHere();
  }

  /**
   * Records no further than `bytes`: the live side's client left after that many, so this side is
   * compared on the same prefix and then closed, as the live response was.
   */
  stopAt(bytes: number): void {
    this.limit = bytes;
  }

  /** Ends the side here, short of its response's end. */
  cutHere(): void {
    if (this.finished) return;
    this.cut = { bytes: this.body.length, reason: "cancelled" };
    this.end();
    this.onCut?.();
  }

  /**
   * `next(...)` described the way the comparison shows it: `next()`, `next("route")`,
   * `next(TypeError: boom)`; with the status and headers set so far, read the same way on both sides
   * (`X-Powered-By` and middleware headers included), so a handler that passes the request on the
   * same way as the other compares equal to it.
   */
  passed(arg: unknown, status: number, headers: OutgoingHttpHeaders): void {
    if (this.finished) return;
    this.nextCall = describeNext(arg);
    this.status = status;
    this.headers = nodeHeaders(headers);
  }

  end(): void {
    if (this.finished) return;
    this.finished = true;
    this.finish();
  }

  represent(): ComparableResponse {
    const type = this.headers["content-type"];
    const seen: ComparableResponse = {
      status: this.status,
      headers: this.headers,
      body: this.body.represent(typeof type === "string" ? type : undefined),
    };
    if (this.nextCall !== undefined) seen.next = this.nextCall;
    if (this.cut !== undefined) seen.bodyCut = this.cut;
    return seen;
  }
}

type Method = (this: unknown, ...args: unknown[]) => unknown;

/** What was passed to `next`, as text, without trusting it: a hostile error's getters must not throw here. */
function describeNext(arg: unknown): string {
  if (arg === undefined) return "next()";
  if (arg === "route" || arg === "router") return `next(${JSON.stringify(arg)})`;
  try {
    const text = arg instanceof Error ? `${String(arg.name)}: ${String(arg.message)}` : typeof arg === "string" ? JSON.stringify(arg) : describeThrown(arg);
    return `next(${text.length > 500 ? `${text.slice(0, 500)}…` : text})`;
  } catch {
    return "next(<an argument that cannot be described>)";
  }
}

/**
 * Observes the live response: `writeHead`, `write` and `end` are wrapped on the instance, record, and
 * call the method they replaced with the same `this` and arguments, returning its result: what goes
 * to the socket does not change by a byte. Recording never throws into the live path. The wrappers
 * are removed when the response ends, closes, or the handler passes it on with `next`.
 *
 * @internal
 * @example
 * ```ts
 * const live = observeLive(res, recorder);
 * ```
 */
export function observeLive(res: Response, recorder: ResponseRecorder): { restore(): void; next(arg: unknown): void } {
  const target = res as unknown as Record<string, unknown>;
  const names = ["writeHead", "write", "end"] as const;
  const saved = names.map((name) => ({ name, own: Object.prototype.hasOwnProperty.call(target, name), original: target[name] as Method }));
  const original = (name: (typeof names)[number]): Method => (saved.find((s) => s.name === name) as { original: Method }).original;
  let headArgs: OutgoingHttpHeaders = {};
  let headRecorded = false;
  const safely = (record: () => void): void => {
    try {
      record();
    } catch {
      // The observer must never change what the live response does; a failed record is only lost.
    }
  };
  const recordHead = (force: boolean): void => {
    if (headRecorded || (!force && !res.headersSent)) return;
    headRecorded = true;
    recorder.status = res.statusCode;
    recorder.headers = nodeHeaders({ ...(typeof res.getHeaders === "function" ? res.getHeaders() : {}), ...headArgs });
  };
  const wrappers: Record<string, Method> = {
    writeHead(this: unknown, ...args: unknown[]) {
      safely(() => (headArgs = { ...headArgs, ...headersArgument(args) }));
      const returned = Reflect.apply(original("writeHead"), this, args);
      safely(() => recordHead(false));
      return returned;
    },
    write(this: unknown, ...args: unknown[]) {
      safely(() => recorder.chunk(args[0], args[1]));
      const returned = Reflect.apply(original("write"), this, args);
      safely(() => recordHead(false));
      return returned;
    },
    end(this: unknown, ...args: unknown[]) {
      safely(() => {
        if (typeof args[0] !== "function") recorder.chunk(args[0], args[1]);
      });
      const returned = Reflect.apply(original("end"), this, args);
      safely(() => recordHead(true));
      // The side settles on 'finish' (everything handed to the OS) or 'close', not here.
      restore();
      return returned;
    },
  };
  let restored = false;
  const restore = (): void => {
    if (restored) return;
    restored = true;
    for (const { name, own, original: method } of saved) {
      // Only our own wrapper is undone: a method someone installed after us stays theirs.
      if (target[name] !== wrappers[name]) continue;
      if (own) target[name] = method;
      else delete target[name];
    }
  };
  for (const name of names) target[name] = wrappers[name];
  // The response has ended when it finished; a client that goes away ends it as well (close), short
  // of its end: the bytes written so far are what the other side is compared on.
  const ended = (): void => {
    safely(() => recordHead(true));
    if (res.writableFinished) recorder.end();
    else recorder.cutHere();
    restore();
  };
  res.once("finish", ended);
  res.once("close", ended);
  return {
    restore,
    next(arg: unknown): void {
      safely(() => {
        headRecorded = true;
        recorder.passed(arg, res.statusCode, { ...(typeof res.getHeaders === "function" ? res.getHeaders() : {}), ...headArgs });
      });
      recorder.end();
      restore();
    },
  };
}

/** The headers given to `writeHead(status, [message], headers)`, as an object (arrays are name/value pairs). */
function headersArgument(args: unknown[]): OutgoingHttpHeaders {
  const given = typeof args[1] === "string" ? args[2] : args[1];
  if (Array.isArray(given)) {
    const out: OutgoingHttpHeaders = {};
    const flat = Array.isArray(given[0]) ? (given as unknown[][]).flat() : given;
    for (let i = 0; i + 1 < flat.length; i += 2) out[String(flat[i]).toLowerCase()] = flat[i + 1] as OutgoingHttpHeader;
    return out;
  }
  if (given !== null && typeof given === "object") {
    const out: OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(given)) out[name.toLowerCase()] = value as OutgoingHttpHeader;
    return out;
  }
  return {};
}

/** Own request properties that are the live exchange itself: never copied, replaced by the shadow's own. */
const LIVE_ONLY = new Set(["socket", "connection", "client", "res", "next"]);

/**
 * The new handler's arguments: a shadow `req`, a stand-in `res` and a `next` that only records.
 * Built before the old handler runs, so the copies hold what the old handler received. Nothing
 * reachable from them leads to the live connection: their `socket`, `connection` and `client` are
 * one {@link InertSocket}, and any copied value that was the live socket, request or response is
 * replaced by its shadow counterpart.
 *
 * @internal
 * @example
 * ```ts
 * const [shadowReq, standIn, shadowNext, recorder] = shadowExchange(req, res, 1024);
 * ```
 */
export function shadowExchange(live: Request, liveRes: Response, cap: number): [Request, Response, NextFunction, ResponseRecorder] {
  const recorder = new ResponseRecorder(cap);
  const socket = new InertSocket(live.socket as (Socket & { encrypted?: boolean }) | undefined);
  const req = shadowRequest(live, socket);
  const res = standInResponse(liveRes, req, recorder, socket);
  const next: NextFunction = (arg?: unknown) => {
    recorder.passed(arg, res.statusCode, res.headersSent ? {} : res.getHeaders());
    recorder.end();
  };
  Object.defineProperty(req, "res", { value: res, writable: true, configurable: true, enumerable: false });
  Object.defineProperty(req, "next", { value: next, writable: true, configurable: true, enumerable: false });
  const counterparts = new Map<unknown, unknown>([[live, req], [liveRes, res], [live.socket, socket]]);
  replaceLiveHandles(req as unknown as Record<string, unknown>, counterparts);
  replaceLiveHandles(res.locals, counterparts);
  return [req, res, next, recorder];
}

/**
 * The recorder behind a stand-in `res`, or undefined for any other object (the live response).
 *
 * @internal
 * @example
 * ```ts
 * const recorder = recorderOf(res); // undefined: this is the live response
 * ```
 */
export function recorderOf(res: unknown): ResponseRecorder | undefined {
  return typeof res === "object" && res !== null ? standIns.get(res) : undefined;
}

const standIns = new WeakMap<object, ResponseRecorder>();

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
 */
function shadowRequest(live: Request, socket: InertSocket): Request {
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
 */
function replaceLiveHandles(root: Record<string, unknown> | undefined, counterparts: Map<unknown, unknown>): void {
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

function headersSentError(): Error {
  return Object.assign(new Error("Cannot set headers after they are sent to the client"), { code: "ERR_HTTP_HEADERS_SENT" });
}

/** The stand-in `res`: Express's methods on top, recording primitives underneath (see the module note). */
function standInResponse(live: Response, req: Request, recorder: ResponseRecorder, socket: InertSocket): Response {
  const res = Object.create(Object.getPrototypeOf(live) as object) as Response;
  const headers = new Map<string, { name: string; value: OutgoingHttpHeader }>();
  // Headers set before the route (middleware, X-Powered-By) are part of what the new handler would answer too.
  const before = typeof live.getHeaders === "function" ? live.getHeaders() : {};
  for (const [name, value] of Object.entries(before)) if (value !== undefined) headers.set(name.toLowerCase(), { name, value });
  let headersSent = false;
  let ended = false;
  let gone = false;
  let destroyed = false;
  const sendHead = (): void => {
    if (headersSent) return;
    headersSent = true;
    const out: OutgoingHttpHeaders = {};
    for (const { name, value } of headers.values()) out[name] = value;
    recorder.status = res.statusCode;
    recorder.headers = nodeHeaders(out);
  };
  const emitLater = (...events: string[]): void => {
    setImmediate(() => {
      for (const event of events) res.emit(event);
    });
  };
  const methods: Record<string, Method> = {
    setHeader(name: unknown, value: unknown) {
      if (headersSent) throw headersSentError();
      headers.set(String(name).toLowerCase(), { name: String(name), value: value as OutgoingHttpHeader });
      return res;
    },
    appendHeader(name: unknown, value: unknown) {
      if (headersSent) throw headersSentError();
      const key = String(name).toLowerCase();
      const had = headers.get(key)?.value;
      const list = [...(had === undefined ? [] : Array.isArray(had) ? had : [String(had)]), ...(Array.isArray(value) ? value : [String(value)])];
      headers.set(key, { name: String(name), value: list.length === 1 ? (list[0] as string) : list });
      return res;
    },
    getHeader: (name: unknown) => headers.get(String(name).toLowerCase())?.value,
    getHeaders: () => {
      const out: OutgoingHttpHeaders = Object.create(null) as OutgoingHttpHeaders;
      for (const [key, { value }] of headers) out[key] = value;
      return out;
    },
    getHeaderNames: () => [...headers.keys()],
    getRawHeaderNames: () => [...headers.values()].map((h) => h.name),
    hasHeader: (name: unknown) => headers.has(String(name).toLowerCase()),
    removeHeader(name: unknown) {
      if (headersSent) throw headersSentError();
      headers.delete(String(name).toLowerCase());
    },
    writeHead(status: unknown, ...rest: unknown[]) {
      if (headersSent) throw headersSentError();
      res.statusCode = Number(status);
      if (typeof rest[0] === "string") res.statusMessage = rest[0];
      for (const [name, value] of Object.entries(headersArgument([status, ...rest]))) headers.set(name, { name, value: value as OutgoingHttpHeader });
      sendHead();
      return res;
    },
    flushHeaders: () => sendHead(),
    write(chunk: unknown, encoding?: unknown, callback?: unknown) {
      // Gone as a live response whose client left: writes are dropped, not refused.
      if (gone) return false;
      if (ended) throw Object.assign(new Error("write after end"), { code: "ERR_STREAM_WRITE_AFTER_END" });
      sendHead();
      recorder.chunk(chunk, encoding);
      const done = typeof encoding === "function" ? encoding : callback;
      if (typeof done === "function") setImmediate(() => (done as () => void)());
      return true;
    },
    end(chunk?: unknown, encoding?: unknown, callback?: unknown) {
      if (ended || gone) return res;
      const done = [chunk, encoding, callback].find((a) => typeof a === "function") as (() => void) | undefined;
      if (typeof chunk !== "function" && chunk !== undefined && chunk !== null) {
        sendHead();
        recorder.chunk(chunk, typeof encoding === "function" ? undefined : encoding);
      }
      sendHead();
      ended = true;
      recorder.end();
      if (done !== undefined) setImmediate(done);
      emitLater("prefinish", "finish", "close");
      return res;
    },
    // Nothing to time out, cork or assign: there is no socket.
    setTimeout: () => res,
    cork: () => undefined,
    uncork: () => undefined,
  };
  const own: PropertyDescriptorMap = {};
  for (const [name, fn] of Object.entries(methods)) own[name] = { value: fn, writable: true, configurable: true };
  const flag = (get: () => boolean): PropertyDescriptor => ({ get, configurable: true });
  Object.defineProperties(res, {
    ...own,
    statusCode: { value: live.statusCode, writable: true, enumerable: true, configurable: true },
    statusMessage: { value: "", writable: true, enumerable: true, configurable: true },
    req: { value: req, writable: true, enumerable: true, configurable: true },
    app: { value: live.app, writable: true, configurable: true },
    locals: { value: snapshot(live.locals).value, writable: true, enumerable: true, configurable: true },
    socket: { value: socket, writable: true, configurable: true },
    connection: { value: socket, writable: true, configurable: true },
    headersSent: flag(() => headersSent),
    writableEnded: flag(() => ended),
    writableFinished: flag(() => ended),
    finished: flag(() => ended),
    writable: flag(() => !ended && !gone),
    // Settable: Node's own destroy() assigns it.
    destroyed: {
      get: () => gone || destroyed,
      set: (value: unknown) => {
        destroyed = value === true;
      },
      configurable: true,
    },
  });
  recorder.onCut = () => {
    gone = true;
    emitLater("close");
  };
  standIns.set(res, recorder);
  return res;
}
