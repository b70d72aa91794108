/**
 * `penumbra/express`: shadow an Express route handler. The old handler serves the live `res`,
 * unchanged; the new one runs in the shadow against a stand-in `res` that records instead of sending;
 * both are compared as `{ status, headers, body }` (see `penumbra/http`).
 *
 * How the live side is observed: `writeHead`, `write` and `end` are wrapped on that one `res`
 * instance for the length of the handler's response. Express's `json()` and `send()` end in
 * `res.end()`, and streams end in `write()` / `end()`, so these three see every byte; each wrapper
 * records and then calls the method it replaced with the same arguments. The experiment's control
 * settles when the old handler has ended the response (or called `next`, or the client went away),
 * so in background mode the new handler starts only after the live response is complete.
 *
 * Nothing here imports Express at runtime: its types only.
 */
import type { NextFunction, Request, Response } from "express";
import { bindShadow, currentRun } from "../context/run-info";
import { shadow, type Experiment } from "../experiment/index";
import type { ExperimentOptions } from "../types/options";
import { observeLive, recorderOf, ResponseRecorder, shadowExchange } from "./http/express-response";
import {
  checkMaxBodyBytes,
  defaultNoiseHeaders,
  headerNoise,
  statusCompared,
  type ComparableResponse,
  type HttpComparisonOptions,
} from "./http/represent";

export { defaultNoiseHeaders, DEFAULT_MAX_BODY_BYTES } from "./http/represent";
export type { BodyCut, BodyDigest, ComparableResponse, HttpComparisonOptions } from "./http/represent";

/**
 * An Express request handler, sync or async.
 *
 * @example
 * ```ts
 * const getOrder: ExpressHandler = async (req, res) => { res.json(await orders.find(req.params.id)); };
 * ```
 */
export type ExpressHandler = (req: Request, res: Response, next: NextFunction) => unknown;

/**
 * The experiment's arguments: what Express passes to a handler.
 *
 * @example
 * ```ts
 * const sampleBy = (...[req]: ExpressArgs) => String(req.headers["x-user-id"]);
 * ```
 */
export type ExpressArgs = [req: Request, res: Response, next: NextFunction];

/**
 * Options of `shadowExpress`: the experiment's options (value callbacks see {@link ComparableResponse}s,
 * gates see `(req, res, next)`), the body cap and the noise headers. `isolate` is not accepted: the
 * new handler's arguments are always the shadow request, the stand-in response and a recording `next`.
 *
 * @example
 * ```ts
 * const options: ShadowExpressOptions = { name: "get-order", sampleBy: (req) => String(req.params.id) };
 * ```
 */
export type ShadowExpressOptions = Omit<ExperimentOptions<ExpressArgs, Promise<ComparableResponse>>, "isolate"> &
  HttpComparisonOptions;

/**
 * What `shadowExpress` returns: an Express handler, plus its experiment. Like the old handler, it
 * throws synchronously what the old handler throws synchronously, and otherwise returns a promise.
 *
 * @example
 * ```ts
 * const route: ShadowedExpressHandler = shadowExpress(oldGetOrder, newGetOrder);
 * route.experiment.disable("investigating");
 * ```
 */
export type ShadowedExpressHandler = ((req: Request, res: Response, next: NextFunction) => Promise<void>) & {
  readonly experiment: Experiment<ExpressArgs, Promise<ComparableResponse>>;
};

/**
 * Shadows an Express handler: the old one answers on the live response; the new one answers a
 * stand-in response that never reaches the socket, and the two answers are compared (status, headers
 * with per-response headers as noise, body: JSON field by field).
 *
 * @example
 * ```ts
 * import express from "express";
 * import { shadowExpress } from "penumbra/express";
 *
 * const app = express();
 * app.get("/orders/:id", shadowExpress(getOrderV1, getOrderV2, { name: "get-order", sample: 0.1 }));
 * ```
 */
export function shadowExpress(
  oldHandler: ExpressHandler,
  newHandler: ExpressHandler,
  options: ShadowExpressOptions = {},
): ShadowedExpressHandler {
  if (typeof oldHandler !== "function") throw new TypeError(`penumbra: shadowExpress() needs the old handler as a function, got ${typeof oldHandler}`);
  if (typeof newHandler !== "function") throw new TypeError(`penumbra: shadowExpress() needs the new handler as a function, got ${typeof newHandler}`);
  const { maxBodyBytes, noiseHeaders, ...experimentOptions } = options;
  if ((experimentOptions as { isolate?: unknown }).isolate !== undefined) {
    throw new TypeError("penumbra: shadowExpress() does not take options.isolate; the new handler always gets a shadow request and a stand-in response");
  }
  const cap = checkMaxBodyBytes(maxBodyBytes);
  const noiseRule = headerNoise(noiseHeaders ?? defaultNoiseHeaders);
  const name = experimentOptions.name ?? (oldHandler.name || "experiment");
  const shadowed = shadow<ExpressArgs, Promise<ComparableResponse>>(behaviour(oldHandler, name, cap), behaviour(newHandler, name, cap), {
    ...experimentOptions,
    name,
    statusOf: experimentOptions.statusOf ?? ((seen: ComparableResponse) => (seen.next === undefined ? seen.status : "next")),
    buckets: [...(experimentOptions.buckets ?? []), ...(experimentOptions.statusOf === undefined ? [statusCompared] : []), noiseRule],
    context: requestContext(experimentOptions.context),
    // Taken before the old handler runs: the new handler sees the request as the old one received it.
    isolate: ([req, res]: ExpressArgs): ExpressArgs => {
      const [shadowReq, standIn, next] = shadowExchange(req, res, cap);
      return [shadowReq, standIn, next];
    },
  });
  const sequential = experimentOptions.mode === "sequential";
  const handler = function (this: unknown, req: Request, res: Response, next: NextFunction): Promise<void> {
    // The real `next` runs the rest of the app: outside this run's frame, or every later middleware
    // would count as the old handler's work (its effects recorded as the control's).
    const outside = outsideRun(next);
    const call = new ExpressCall(this);
    const engine = Reflect.apply(shadowed, call, [req, res, outside]) as Promise<ComparableResponse>;
    // Sequential mode is Scientist's test mode: the promise settles once the run is published (and
    // rejects with a MismatchError under throwOnMismatch), like any sequential run.
    if (call.ran && !sequential) {
      // Express sees the old handler's own outcome, as without penumbra: it settles when the handler's
      // own promise does (a throw or rejection Express passes to next(err)), not when the comparison
      // does. The engine's copy of that outcome is already the control's.
      engine.then(undefined, () => undefined);
      // A synchronous throw stays synchronous: Express passes it to next() as it is, while a rejection
      // with a falsy reason (`throw undefined`) would become Express's "Rejected promise" error.
      if (call.threw) throw call.error;
      return Promise.resolve(call.returned).then(() => undefined);
    }
    return engine.then(() => undefined);
  };
  Object.defineProperty(handler, "name", { value: oldHandler.name, configurable: true });
  Object.defineProperty(handler, "experiment", { value: shadowed.experiment, enumerable: true });
  return handler as ShadowedExpressHandler;
}

/** `next` bound to the caller's context, when it can be: a missing or odd `next` is passed on as it is. */
function outsideRun(next: NextFunction): NextFunction {
  if (typeof next !== "function") return next;
  try {
    return bindShadow(next);
  } catch {
    return next;
  }
}

/** The value of a call that was not admitted: nothing will compare it. */
const NOT_COMPARED: ComparableResponse = Object.freeze({ status: 0, headers: Object.freeze({}), body: null });

/**
 * One call's channel from the behaviour that runs on the live `res` back to Express: the engine
 * forwards the wrapper's `this` to every behaviour by reference. Express must get what the old
 * handler itself returned or threw, while the experiment's value settles later, when the response ends.
 */
class ExpressCall {
  ran = false;
  threw = false;
  error: unknown;
  returned: unknown;
  /** Bytes the live side had written when its client left, once it has: the shadow side records as far. */
  closedAt: number | undefined;
  constructor(readonly thisArg: unknown) {}
}

/**
 * Wraps a handler as a behaviour whose value is what it answered. On a stand-in `res` (the shadow
 * side, whichever handler that is) it reads the recorder; on the live `res` it observes the response
 * without changing it, and only when the call was admitted. Either way the value settles when the
 * response has ended (finish or close) or `next` was called, not when the handler returns: a handler
 * that answers and then awaits something slow does not hold the comparison.
 */
function behaviour(handler: ExpressHandler, experiment: string, cap: number) {
  return function (this: unknown, req: Request, res: Response, next: NextFunction): Promise<ComparableResponse> {
    const call = this instanceof ExpressCall ? this : undefined;
    const thisArg = call === undefined ? this : call.thisArg;
    const standIn = recorderOf(res);
    if (standIn !== undefined) {
      if (call?.closedAt !== undefined) standIn.stopAt(call.closedAt);
      // A candidate that timed out is a client gone: its stand-in closes, so an endless writer can stop.
      currentRun()?.signal.addEventListener("abort", () => standIn.cutHere(), { once: true });
      let returned: unknown;
      try {
        returned = Reflect.apply(handler, thisArg, [req, res, next]);
      } catch (error) {
        return Promise.reject(error);
      }
      return answered(standIn, returned);
    }
    const run = currentRun();
    const admitted = run !== undefined && run.experiment === experiment;
    const recorder = admitted ? new ResponseRecorder(cap) : undefined;
    const live = recorder === undefined ? undefined : observeLive(res, recorder);
    const observedNext: NextFunction =
      live === undefined
        ? next
        : (arg?: unknown) => {
            live.next(arg);
            next(arg);
          };
    let returned: unknown;
    try {
      returned = Reflect.apply(handler, thisArg, [req, res, observedNext]);
    } catch (error) {
      live?.restore();
      if (call !== undefined) Object.assign(call, { ran: true, threw: true, error });
      return Promise.reject(error);
    }
    if (call !== undefined) Object.assign(call, { ran: true, returned });
    if (recorder === undefined || live === undefined) return Promise.resolve(NOT_COMPARED);
    return answered(recorder, returned, () => live.restore()).then((seen) => {
      if (call !== undefined && recorder.cut !== undefined) call.closedAt = recorder.cut.bytes;
      return seen;
    });
  };
}

/**
 * The side's value once its response has ended or `next` was called; the handler's rejection when it
 * rejects before that (Express would pass it to `next(err)`). A rejection after the answer is the
 * handler's own business (Express sees it on the live side) and no longer changes what was answered.
 * Only a native promise is observed: calling a foreign thenable's `then` could run it twice.
 */
function answered(recorder: ResponseRecorder, returned: unknown, onRejected?: () => void): Promise<ComparableResponse> {
  return new Promise<ComparableResponse>((resolve, reject) => {
    recorder.done.then(() => resolve(recorder.represent()), reject);
    if (returned instanceof Promise) {
      returned.then(undefined, (error: unknown) => {
        if (recorder.ended) return;
        onRejected?.();
        reject(error);
      });
    }
  });
}

/** The run's context: method, path (the route's URL path) and request id, then the user's context. */
function requestContext(user: ShadowExpressOptions["context"]): (...args: ExpressArgs) => Record<string, unknown> {
  return (...args: ExpressArgs) => {
    const [req] = args;
    const own: Record<string, unknown> = { method: req.method, path: (req.originalUrl ?? req.url ?? "").split("?")[0] };
    const requestId = req.headers["x-request-id"];
    if (typeof requestId === "string") own.requestId = requestId;
    const extra = typeof user === "function" ? user(...args) : user;
    return { ...own, ...extra };
  };
}

/**
 * The same function under the name `penumbra/http` uses: API.md describes `penumbra/express` as
 * "the same for Express handlers", so code written against either name works.
 *
 * @example
 * ```ts
 * import { shadowHandler } from "penumbra/express";
 * app.post("/quote", shadowHandler(oldQuoteRoute, newQuoteRoute));
 * ```
 */
export const shadowHandler: typeof shadowExpress = shadowExpress;
