/**
 * `penumbra/http`: shadow a fetch-style handler, `(req: Request) => Response | Promise<Response>`.
 *
 * The experiment is built on `shadow()`, but its values are not the `Response`s: a body is a stream
 * that can be read once, and the engine's `compare` / `statusOf` are synchronous. Each behaviour is
 * wrapped so that it reads its response into a {@link ComparableResponse} (`{ status, headers, body }`,
 * plain data the engine diffs field by field), while the serving side hands its real `Response` to
 * the caller through a per-call channel (the `this` the engine forwards to every behaviour) as soon
 * as the old handler returns it: the caller never waits for the body to be read, and reads a body
 * that was never touched (the comparison reads a `clone()`, a tee of the stream).
 */
import { shadow, type Experiment } from "../experiment/index";
import { currentRun, isShadow } from "../context/run-info";
import { MismatchError } from "../errors";
import { reportError, type Report } from "../report";
import { currentFrame } from "../context/frame";
import type { ExperimentOptions } from "../types/options";
import {
  statusCompared,
  checkMaxBodyBytes,
  fetchHeaders,
  headerNoise,
  readBounded,
  defaultNoiseHeaders,
  type ComparableResponse,
  type HttpComparisonOptions,
} from "./http/represent";
import { watchServedBody } from "./http/paced-body";
import { withoutLiveConnection } from "./http/inert-args";

export { defaultNoiseHeaders, DEFAULT_MAX_BODY_BYTES } from "./http/represent";
export type { BodyCut, BodyDigest, ComparableResponse, HttpComparisonOptions } from "./http/represent";

/**
 * A fetch-style handler: a `Request` in, a `Response` out. Extra arguments (a router's params, a
 * platform's context) are allowed and passed through.
 *
 * @example
 * ```ts
 * const health: FetchHandler = () => Response.json({ ok: true });
 * ```
 */
export type FetchHandler = (req: Request, ...rest: never[]) => Response | Promise<Response>;

/**
 * The arguments of a shadowed handler: a `Request` first (even for a handler that ignores it), then
 * the handler's own extra arguments.
 *
 * @example
 * ```ts
 * type Args = HandlerArgs<(req: Request, ctx: { params: { id: string } }) => Response>; // [Request, { params: ... }]
 * ```
 */
export type HandlerArgs<H extends FetchHandler> = H extends (req: Request, ...rest: infer R) => unknown
  ? [req: Request, ...rest: R]
  : [req: Request];

/**
 * Options of `shadowHandler`: the experiment's options, whose value callbacks (`compare`, `statusOf`,
 * `clean`, `ignore`) see {@link ComparableResponse}s, plus the body cap and the noise headers.
 *
 * @example
 * ```ts
 * const options: ShadowHandlerOptions = { name: "orders-api", sample: 0.1, maxBodyBytes: 256 * 1024 };
 * ```
 */
export type ShadowHandlerOptions<A extends unknown[] = [Request]> = ExperimentOptions<A, Promise<ComparableResponse>> &
  HttpComparisonOptions;

/**
 * What `shadowHandler` returns: the old handler's parameters, always a promise of its `Response`,
 * plus the experiment (to disable it, await `settled()`).
 *
 * @example
 * ```ts
 * const handler: ShadowedHandler<typeof oldApi> = shadowHandler(oldApi, newApi);
 * await handler.experiment.settled();
 * ```
 */
export type ShadowedHandler<H extends FetchHandler> = ((...args: HandlerArgs<H>) => Promise<Response>) & {
  readonly experiment: Experiment<HandlerArgs<H>, Promise<ComparableResponse>>;
};

/**
 * Shadows a fetch-style handler: the old one answers every request with its own `Response`, body
 * untouched; the new one gets `req.clone()` and its response is compared: status first, then headers
 * (per-response headers such as `date` and `x-request-id` as noise), then the body (JSON field by
 * field, text, or length and hash for binary bodies and bodies over `maxBodyBytes`).
 *
 * @example
 * ```ts
 * import { shadowHandler } from "penumbra/http";
 *
 * const handler = shadowHandler(legacyOrders, rewrittenOrders, { name: "orders-api", sample: 0.05 });
 * export default { fetch: handler }; // or Bun.serve / Deno.serve / Hono's app.fetch
 * ```
 */
export function shadowHandler<H extends FetchHandler>(
  oldHandler: H,
  newHandler: H,
  options: ShadowHandlerOptions<HandlerArgs<H>> = {},
): ShadowedHandler<H> {
  if (typeof oldHandler !== "function") throw new TypeError(`penumbra: shadowHandler() needs the old handler as a function, got ${typeof oldHandler}`);
  if (typeof newHandler !== "function") throw new TypeError(`penumbra: shadowHandler() needs the new handler as a function, got ${typeof newHandler}`);
  const { maxBodyBytes, noiseHeaders, ...experimentOptions } = options;
  const cap = checkMaxBodyBytes(maxBodyBytes);
  const noiseRule = headerNoise(noiseHeaders ?? defaultNoiseHeaders);
  const name = experimentOptions.name ?? (oldHandler.name || "experiment");
  type A = HandlerArgs<H>;
  const shadowed = shadow<A, Promise<ComparableResponse>>(behaviour<A>(oldHandler, name, cap), behaviour<A>(newHandler, name, cap), {
    ...experimentOptions,
    name,
    statusOf: experimentOptions.statusOf ?? ((seen: ComparableResponse) => seen.status),
    // The user's rules first: the first matching rule names a diff, and theirs are the more specific.
    buckets: [...(experimentOptions.buckets ?? []), ...(experimentOptions.statusOf === undefined ? [statusCompared] : []), noiseRule],
    context: requestContext<A>(experimentOptions.context),
  });
  // Sequential mode throws a MismatchError after the run is published; by then the caller has its
  // response (it is served at once, see HandlerCall), so the error is reported instead of lost:
  // into the run it came from (strict mode then owes it to settled()), else the experiment's way.
  const late = (error: unknown, report: Report | undefined): void => {
    if (!(error instanceof MismatchError)) return;
    const detail = `the caller already had its response, so throwOnMismatch reports instead of throwing: ${error.message}`;
    try {
      if (report !== undefined) report("sequential", error, detail);
      else reportError(name, experimentOptions.onError, "sequential", error, detail);
    } catch {
      // Reporting never throws into the caller's promise chain.
    }
  };
  const handler = function (this: unknown, ...args: A): Promise<Response> {
    const call = new HandlerCall(this, late);
    let engine: Promise<ComparableResponse>;
    try {
      engine = Reflect.apply(shadowed, call, args) as Promise<ComparableResponse>;
    } catch (error) {
      return Promise.reject(error);
    }
    return call.answer(engine);
  };
  Object.defineProperty(handler, "name", { value: oldHandler.name, configurable: true });
  Object.defineProperty(handler, "experiment", { value: shadowed.experiment, enumerable: true });
  return handler as ShadowedHandler<H>;
}

/** The value a behaviour returns when the call was not admitted: nothing will compare it. */
const NOT_COMPARED: ComparableResponse = Object.freeze({ status: 0, headers: Object.freeze({}), body: null });

/**
 * One call's channel between the serving behaviour and the caller: the engine forwards the wrapper's
 * `this` to every behaviour by reference, so the behaviour that serves hands over its real
 * `Response` here, while the experiment's value is the comparable representation. The served
 * side also leaves here where its caller cancelled the body, so the shadow side reads as far.
 */
class HandlerCall {
  private served = false;
  private response: unknown;
  private pending: { resolve(response: Response): void; reject(error: unknown): void } | undefined;
  /** Bytes the caller read before cancelling the served body, once it has. */
  cancelledAt: number | undefined;

  /** The serving run's reporter, once the serving behaviour has started in it. */
  report: Report | undefined;

  constructor(
    readonly thisArg: unknown,
    /** Where an engine error that comes after the caller has its response goes. */
    private readonly late: (error: unknown, report: Report | undefined) => void,
  ) {}

  serve(response: unknown): void {
    if (this.served) return;
    this.served = true;
    const pending = this.pending;
    // Not kept once delivered: the run stays open while the body is read, and must not hold the
    // caller's response (a response its caller drops has to be collectable).
    this.pending = undefined;
    if (pending === undefined) this.response = response;
    else pending.resolve(response as Response);
  }

  /** The served response as soon as it exists; the engine's promise only carries the control's error. */
  answer(engine: Promise<ComparableResponse>): Promise<Response> {
    const answer = new Promise<Response>((resolve, reject) => {
      if (!this.served) {
        this.pending = { resolve, reject };
        return;
      }
      resolve(this.response as Response);
      this.response = undefined;
    });
    engine.then(
      () => this.pending?.reject(new Error("penumbra: the shadowed handler settled without serving a response")),
      (error: unknown) => {
        if (this.pending !== undefined) this.pending.reject(error);
        else this.late(error, this.report);
      },
    );
    return answer;
  }
}

/**
 * Wraps a handler as an experiment behaviour whose value is its response's comparable representation.
 * In a shadow run it reads its own response (nobody else will), as far as the served side's caller
 * read; when it serves, it hands the real response to the caller and observes the body as the caller
 * reads it (see `./http/paced-body`), settling when the caller has read it to its end or cancelled it.
 */
function behaviour<A extends unknown[]>(handler: FetchHandler, experiment: string, cap: number) {
  return async function (this: unknown, ...args: A): Promise<ComparableResponse> {
    const call = this instanceof HandlerCall ? this : undefined;
    const thisArg = call === undefined ? this : call.thisArg;
    // Read before the first await: the run frame is what tells a shadow run from a serving one.
    const shadowRun = isShadow();
    const run = currentRun();
    if (!shadowRun && call !== undefined && call.report === undefined) {
      const frame = currentFrame();
      const report = frame?.report;
      // A method of the frame: called on it.
      if (report !== undefined) call.report = (operation, cause, detail) => Reflect.apply(report, frame, [operation, cause, detail]) as void;
    }
    // A server adapter's live connection among the extra arguments is replaced in the shadow.
    const response = (await Reflect.apply(handler, thisArg, shadowRun ? withoutLiveConnection(args, cap) : args)) as unknown;
    if (shadowRun || call === undefined) {
      return represent(response, cap, { limit: call?.cancelledAt, signal: run?.signal });
    }
    // A call that was not admitted runs bare: no frame of this experiment, nothing to compare.
    const admitted = run !== undefined && run.experiment === experiment;
    if (!admitted || !isResponse(response)) {
      call.serve(response);
      return admitted ? represent(response, cap) : NOT_COMPARED;
    }
    return observeServed(call, response, cap);
  };
}

/**
 * The served side's value, once its caller has read the body to its end or cancelled it. Not an
 * async continuation of the behaviour: a suspended frame would hold the `Response` and keep a
 * response its caller dropped from ever being collected (see `./http/paced-body`).
 */
function observeServed(call: HandlerCall, response: Response, cap: number): Promise<ComparableResponse> | ComparableResponse {
  let status: number;
  let headers: Record<string, string | string[]>;
  let contentType: string | undefined;
  try {
    status = response.status;
    headers = fetchHeaders(response.headers);
    contentType = response.headers.get("content-type") ?? undefined;
  } catch (error) {
    // The caller gets the response as it is; the old side's value is that it could not be read.
    call.serve(response);
    throw error;
  }
  let watched: ReturnType<typeof watchServedBody>;
  try {
    watched = watchServedBody(response, cap);
  } catch {
    watched = undefined;
  }
  call.serve(response);
  if (watched === undefined) return { status, headers, body: { unreadable: "the body could not be observed without changing the response (used, locked, frozen, or its body methods overridden)" } };
  return watched.then(({ body, cut }) => {
    if (cut?.reason === "cancelled") call.cancelledAt = cut.bytes;
    const seen: ComparableResponse = { status, headers, body: body.represent(contentType) };
    if (cut !== undefined) seen.bodyCut = cut;
    return seen;
  });
}

/** Whether `value` is a `Response`; a Proxy whose `getPrototypeOf` trap throws is not one. */
function isResponse(value: unknown): value is Response {
  try {
    return value instanceof Response;
  } catch {
    return false;
  }
}

/** A response's comparable value; consumes its body, to `limit` bytes or until `signal` aborts. */
async function represent(response: unknown, cap: number, read: { limit?: number; signal?: AbortSignal } = {}): Promise<ComparableResponse> {
  if (!(response instanceof Response)) {
    throw new TypeError(`penumbra: a handler returned ${response === null ? "null" : typeof response}, not a Response`);
  }
  const headers = fetchHeaders(response.headers);
  const { body, cut } = await readBounded(response.body, cap, read);
  const seen: ComparableResponse = { status: response.status, headers, body: body.represent(response.headers.get("content-type") ?? undefined) };
  if (cut !== undefined) seen.bodyCut = cut;
  return seen;
}

/** The run's context: method, path and request id, then the user's context on top. */
function requestContext<A extends unknown[]>(
  user: ExperimentOptions<A, Promise<ComparableResponse>>["context"],
): (...args: A) => Record<string, unknown> {
  return (...args: A) => {
    const own: Record<string, unknown> = {};
    const req = args[0];
    if (req instanceof Request) {
      own.method = req.method;
      own.path = pathOf(req.url);
      const requestId = req.headers.get("x-request-id");
      if (requestId !== null) own.requestId = requestId;
    }
    const extra = typeof user === "function" ? user(...args) : user;
    return { ...own, ...extra };
  };
}

function pathOf(url: string): string {
  try {
    return new URL(url).pathname;
  } catch {
    return url;
  }
}
