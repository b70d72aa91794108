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
export type { BodyDigest, ComparableResponse, HttpComparisonOptions } from "./http/represent";

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
 * What `shadowExpress` returns: an Express handler, plus its experiment.
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
  const handler = function (this: unknown, req: Request, res: Response, next: NextFunction): Promise<void> {
    // The real `next` runs the rest of the app: outside this run's frame, or every later middleware
    // would count as the old handler's work (its effects recorded as the control's).
    const outside = bindShadow(next);
    return (Reflect.apply(shadowed, this, [req, res, outside]) as Promise<ComparableResponse>).then(() => undefined);
  };
  Object.defineProperty(handler, "name", { value: oldHandler.name, configurable: true });
  Object.defineProperty(handler, "experiment", { value: shadowed.experiment, enumerable: true });
  return handler as ShadowedExpressHandler;
}

/** The value of a call that was not admitted: nothing will compare it. */
const NOT_COMPARED: ComparableResponse = Object.freeze({ status: 0, headers: Object.freeze({}), body: null });

/**
 * Wraps a handler as a behaviour whose value is what it answered. On a stand-in `res` (the shadow
 * side, whichever handler that is) it reads the recorder; on the live `res` it observes the response
 * without changing it, and only when the call was admitted.
 */
function behaviour(handler: ExpressHandler, experiment: string, cap: number) {
  return async function (this: unknown, req: Request, res: Response, next: NextFunction): Promise<ComparableResponse> {
    const standIn = recorderOf(res);
    if (standIn !== undefined) {
      await Reflect.apply(handler, this, [req, res, next]);
      await standIn.done;
      return standIn.represent();
    }
    const run = currentRun();
    if (run === undefined || run.experiment !== experiment) {
      await Reflect.apply(handler, this, [req, res, next]);
      return NOT_COMPARED;
    }
    const recorder = new ResponseRecorder(cap);
    const live = observeLive(res, recorder);
    const observedNext: NextFunction = (arg?: unknown) => {
      live.next(arg);
      next(arg);
    };
    try {
      await Reflect.apply(handler, this, [req, res, observedNext]);
    } catch (error) {
      live.restore();
      throw error;
    }
    await recorder.done;
    return recorder.represent();
  };
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
