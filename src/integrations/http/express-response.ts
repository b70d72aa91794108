/**
 * The two ends of `penumbra/express`'s comparison: an observer on the live `res` (it records what the
 * old handler sends and forwards every call unchanged) and a stand-in `res` for the new handler (it
 * records and sends nothing).
 *
 * The stand-in inherits from the live response's prototype (the app's `res`, Express's methods, then
 * `http.ServerResponse`) and overrides the primitives those methods are built on: `statusCode`,
 * `setHeader` & co., `writeHead`, `write`, `end`. So `json()`, `send()`, `status()`, `set()`,
 * `type()`, `cookie()`, `redirect()`, `sendStatus()` behave as Express's own (charset, Content-Length,
 * ETag, 304 freshness), while no byte can reach a socket: its socket is an inert stand-in
 * (`./shadow-request`).
 */
import type { OutgoingHttpHeader, OutgoingHttpHeaders } from "node:http";
import type { NextFunction, Request, Response } from "express";
import type { Socket } from "node:net";
import { describeThrown } from "../../errors";
import { snapshot } from "../../isolation/snapshot";
import { BoundedBody, nodeHeaders, type BodyCut, type ComparableResponse } from "./represent";
import { InertSocket, replaceLiveHandles, shadowRequest } from "./shadow-request";

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
  replaceLiveHandles(res, counterparts, ["locals"]);
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

function headersSentError(): Error {
  return Object.assign(new Error("Cannot set headers after they are sent to the client"), { code: "ERR_HTTP_HEADERS_SENT" });
}

/** Bytes the stand-in takes before `write()` answers `false` until the next `drain`: a socket's default. */
const STAND_IN_HIGH_WATER_MARK = 16 * 1024;

/** The bytes a `write(chunk, encoding)` would send; 0 for what Node would refuse. */
function byteLength(chunk: unknown, encoding: unknown): number {
  if (typeof chunk === "string") return Buffer.byteLength(chunk, typeof encoding === "string" && Buffer.isEncoding(encoding) ? encoding : "utf8");
  return chunk instanceof Uint8Array ? chunk.byteLength : 0;
}

/** The stand-in `res`: Express's methods on top, recording primitives underneath (see the module note). */
function standInResponse(live: Response, req: Request, recorder: ResponseRecorder, socket: InertSocket): Response {
  const res = Object.create(Object.getPrototypeOf(live) as object) as Response;
  const headers = new Map<string, { name: string; value: OutgoingHttpHeader }>();
  // Headers set before the route (middleware, X-Powered-By) are part of what the new handler would answer too.
  const before = typeof live.getHeaders === "function" ? live.getHeaders() : {};
  for (const [name, value] of Object.entries(before)) if (value !== undefined) headers.set(name.toLowerCase(), { name, value });
  let headersSent = false;
  let unflushed = 0;
  let needDrain = false;
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
      unflushed += byteLength(chunk, encoding);
      if (unflushed < STAND_IN_HIGH_WATER_MARK) return true;
      // Push back as a socket would: a writer that waits for `drain` (a pipe) waits a turn of the
      // event loop, so a stream produced synchronously cannot starve the process's timers.
      if (!needDrain) {
        needDrain = true;
        setImmediate(() => {
          unflushed = 0;
          needDrain = false;
          if (!gone && !ended) res.emit("drain");
        });
      }
      return false;
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
    writableHighWaterMark: { value: STAND_IN_HIGH_WATER_MARK, writable: true, configurable: true },
    writableLength: { get: () => unflushed, configurable: true },
    writableNeedDrain: flag(() => needDrain && !ended && !gone),
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
