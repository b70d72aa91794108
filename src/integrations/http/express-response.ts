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
import { snapshot } from "../../isolation/snapshot";
import { BoundedBody, nodeHeaders, type ComparableResponse } from "./represent";

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
  private finish!: () => void;
  private finished = false;

  constructor(cap: number) {
    this.body = new BoundedBody(cap);
    this.done = new Promise<void>((resolve) => (this.finish = resolve));
  }

  /** Records a written chunk as bytes; what Node would accept and nothing else. */
  chunk(chunk: unknown, encoding: unknown): void {
    if (this.finished) return;
    if (typeof chunk === "string") {
      const enc = typeof encoding === "string" && Buffer.isEncoding(encoding) ? encoding : "utf8";
      this.body.push(Buffer.from(chunk, enc));
    } else if (chunk instanceof Uint8Array) {
      this.body.push(chunk);
    }
  }

  /** `next(...)` described the way the comparison shows it: `next()`, `next("route")`, `next(TypeError: boom)`. */
  passed(arg: unknown): void {
    if (this.finished) return;
    if (arg === undefined) this.nextCall = "next()";
    else if (arg === "route" || arg === "router") this.nextCall = `next(${JSON.stringify(arg)})`;
    else if (arg instanceof Error) this.nextCall = `next(${arg.name}: ${arg.message})`;
    else this.nextCall = `next(${String(arg)})`;
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
    return seen;
  }
}

type Method = (this: unknown, ...args: unknown[]) => unknown;

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
      safely(() => {
        recordHead(true);
        recorder.end();
      });
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
  // A client that goes away ends the observation as well: nothing more will be sent.
  res.once("close", () => {
    safely(() => recordHead(true));
    recorder.end();
    restore();
  });
  return {
    restore,
    next(arg: unknown): void {
      safely(() => {
        recorder.passed(arg);
        recordHead(true);
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

/** Own request properties that are handles to the live exchange, never copied onto the shadow request. */
const LIVE_ONLY = new Set(["socket", "connection", "client", "res", "next", "route"]);

/**
 * The new handler's arguments: a shadow `req`, a stand-in `res` and a `next` that only records.
 * Built before the old handler runs, so the copies hold what the old handler received.
 *
 * @internal
 * @example
 * ```ts
 * const [shadowReq, standIn, shadowNext, recorder] = shadowExchange(req, res, 1024);
 * ```
 */
export function shadowExchange(live: Request, liveRes: Response, cap: number): [Request, Response, NextFunction, ResponseRecorder] {
  const recorder = new ResponseRecorder(cap);
  const req = shadowRequest(live);
  const res = standInResponse(liveRes, req, recorder);
  const next: NextFunction = (arg?: unknown) => {
    recorder.passed(arg);
    recorder.end();
  };
  Object.defineProperty(req, "res", { value: res, writable: true, configurable: true, enumerable: false });
  Object.defineProperty(req, "next", { value: next, writable: true, configurable: true, enumerable: false });
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
 * The shadow request inherits from the live one (so `get()`, `is()`, `query`, `hostname` read the same
 * request), with its own copies of the data the handler may mutate (`body`, `params`, `headers`, and
 * other own data properties such as `req.user`) and a data-only `socket` instead of the live one.
 */
function shadowRequest(live: Request): Request {
  const req = Object.create(live) as Request;
  const own: PropertyDescriptorMap = {};
  for (const key of Object.keys(live)) {
    if (key.startsWith("_") || LIVE_ONLY.has(key)) continue;
    const descriptor = Object.getOwnPropertyDescriptor(live, key);
    if (descriptor === undefined || !("value" in descriptor) || typeof descriptor.value === "function") continue;
    own[key] = { value: snapshot(descriptor.value).value, writable: true, enumerable: true, configurable: true };
  }
  own.headers = { value: snapshot({ ...live.headers }).value, writable: true, enumerable: true, configurable: true };
  const socket = live.socket as (typeof live.socket & { encrypted?: boolean }) | undefined;
  const facts = Object.freeze({
    remoteAddress: socket?.remoteAddress,
    remotePort: socket?.remotePort,
    remoteFamily: socket?.remoteFamily,
    localAddress: socket?.localAddress,
    localPort: socket?.localPort,
    encrypted: socket?.encrypted === true,
  });
  own.socket = { value: facts, writable: true, configurable: true };
  own.connection = { value: facts, writable: true, configurable: true };
  Object.defineProperties(req, own);
  return req;
}

function headersSentError(): Error {
  return Object.assign(new Error("Cannot set headers after they are sent to the client"), { code: "ERR_HTTP_HEADERS_SENT" });
}

/** The stand-in `res`: Express's methods on top, recording primitives underneath (see the module note). */
function standInResponse(live: Response, req: Request, recorder: ResponseRecorder): Response {
  const res = Object.create(Object.getPrototypeOf(live) as object) as Response;
  const headers = new Map<string, { name: string; value: OutgoingHttpHeader }>();
  // Headers set before the route (middleware, X-Powered-By) are part of what the new handler would answer too.
  const before = typeof live.getHeaders === "function" ? live.getHeaders() : {};
  for (const [name, value] of Object.entries(before)) if (value !== undefined) headers.set(name.toLowerCase(), { name, value });
  let headersSent = false;
  let ended = false;
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
      if (ended) throw Object.assign(new Error("write after end"), { code: "ERR_STREAM_WRITE_AFTER_END" });
      sendHead();
      recorder.chunk(chunk, encoding);
      const done = typeof encoding === "function" ? encoding : callback;
      if (typeof done === "function") setImmediate(() => (done as () => void)());
      return true;
    },
    end(chunk?: unknown, encoding?: unknown, callback?: unknown) {
      if (ended) return res;
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
    socket: { value: null, writable: true, configurable: true },
    connection: { value: null, writable: true, configurable: true },
    headersSent: flag(() => headersSent),
    writableEnded: flag(() => ended),
    writableFinished: flag(() => ended),
    finished: flag(() => ended),
    writable: flag(() => !ended),
  });
  standIns.set(res, recorder);
  return res;
}
