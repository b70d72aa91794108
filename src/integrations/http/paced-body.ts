/**
 * Observing the body the caller reads, at the caller's pace.
 *
 * A `clone()` (a tee) would let the comparison read its branch at full speed while the caller's
 * branch queues every chunk for a slow client: a 48 MiB stream ends up in memory, and a caller's
 * cancel never reaches the source (a tee cancels its source only when both branches cancel). So the
 * served response's body is not teed: it is replaced, on that same `Response` object, by a
 * pass-through stream with no queue of its own (`highWaterMark: 0`). Each chunk is pulled from the
 * old body only when the caller asks for one, recorded on its way through (bounded, hashed past the
 * cap), and the caller's cancel is the old body's cancel.
 */
import { BoundedBody, type BodyCut } from "./represent";

/**
 * How the served body ended: read to its end by the caller (`cut` undefined), cancelled by the
 * caller, or failed; with everything the caller was given.
 *
 * @internal
 * @example
 * ```ts
 * const { body, cut } = await watched.ended;
 * ```
 */
export interface ServedBody {
  readonly body: BoundedBody;
  readonly cut: BodyCut | undefined;
}

/**
 * A served response the caller drops without reading or cancelling its body would keep its run open
 * forever (and its slot). When the collector reclaims it, its body is cancelled where the caller left
 * it, as a bare handler's unread body would simply be collected.
 */
const dropped = new FinalizationRegistry<() => void>((release) => release());

/** What the pass-through's source needs of its controller, default or byte stream alike. */
interface PassController {
  enqueue(chunk: Uint8Array): void;
  close(): void;
  error(reason: unknown): void;
  readonly byobRequest?: { respond(bytesWritten: number): void } | null;
}

/** A response's `url`, `type` and `redirected`, which only `fetch()` sets. */
interface ResponseFacts {
  url: string;
  type: Response["type"];
  redirected: boolean;
}

/**
 * `copy` saying the served response's `url`, `type` and `redirected` (a `fetch()` response's),
 * and so do its own clones; left as it is when it already says them.
 */
function withFacts(copy: Response, facts: ResponseFacts): Response {
  if (copy.url === facts.url && copy.type === facts.type && copy.redirected === facts.redirected) return copy;
  const clone = Response.prototype.clone;
  Object.defineProperties(copy, {
    url: { value: facts.url, configurable: true },
    type: { value: facts.type, configurable: true },
    redirected: { value: facts.redirected, configurable: true },
    clone: { value: () => withFacts(Reflect.apply(clone, copy, []) as Response, facts), writable: true, configurable: true },
  });
  return copy;
}

/** Whether `stream` is a byte stream (it hands out a BYOB reader); it is left unlocked. */
function isByteStream(stream: ReadableStream<Uint8Array>): boolean {
  try {
    (stream as ReadableStream<Uint8Array> & { getReader(options: { mode: "byob" }): ReadableStreamBYOBReader }).getReader({ mode: "byob" }).releaseLock();
    return true;
  } catch {
    return false;
  }
}

/** The body-reading members a `Response` gets from `Body`; each is redirected to the pass-through. */
const READERS = ["arrayBuffer", "blob", "bytes", "formData", "json", "text"] as const;

/** The functions this module installs on a watched response: a nested shadowed handler may watch it again. */
const installed = new WeakSet<object>();

/**
 * Whether the body members can be redefined on this object without changing what they do: it is
 * not frozen, and each member is `Response.prototype`'s own or one a watch installed. A subclass
 * that overrides one (`json()` unwrapping an envelope) or a method patched onto the object would be
 * bypassed by the redirect, so such a response is left as it is.
 */
function redirectable(response: Response): boolean {
  if (!Object.isExtensible(response)) return false;
  return ["body", "bodyUsed", "clone", ...READERS].every((name) => {
    for (let owner: object | null = response; owner !== null; owner = Object.getPrototypeOf(owner) as object | null) {
      const descriptor = Object.getOwnPropertyDescriptor(owner, name);
      if (descriptor === undefined) continue;
      if (owner === Response.prototype) return true;
      if (owner !== response || descriptor.configurable !== true) return false;
      const member: unknown = "value" in descriptor ? descriptor.value : descriptor.get;
      return typeof member === "function" && installed.has(member);
    }
    return true;
  });
}

/**
 * Puts a pass-through in front of `response`'s body, on the same object, and returns a promise of
 * what the caller read. Undefined when the body cannot be watched (already used or locked, a null
 * body status, a frozen response, a body member overridden by a subclass or patched onto the object):
 * the caller's response is then left exactly as it was and the comparison does without the body.
 *
 * @internal
 * @example
 * ```ts
 * const ended = watchServedBody(response, cap);
 * call.serve(response); // the caller reads through the pass-through
 * const { body, cut } = await ended;
 * ```
 */
export function watchServedBody(response: Response, cap: number): Promise<ServedBody> | undefined {
  const recorded = new BoundedBody(cap);
  const source = response.body;
  if (source === null) return Promise.resolve({ body: recorded, cut: undefined });
  if (response.bodyUsed || source.locked || !redirectable(response)) return undefined;
  // What a new Response cannot be built with: a clone of the served one must still say them.
  let facts: ResponseFacts;
  try {
    facts = { url: response.url, type: response.type, redirected: response.redirected };
  } catch {
    return undefined;
  }
  let view: Response;
  let finish!: (cut: BodyCut | undefined) => void;
  const ended = new Promise<ServedBody>((resolve) => {
    let done = false;
    finish = (cut) => {
      if (done) return;
      done = true;
      dropped.unregister(recorded);
      resolve({ body: recorded, cut });
    };
  });
  // A byte stream stays one (a BYOB reader works on the bare body); its chunks are the pass-through's
  // own to enqueue, since the source's enqueue already transferred their buffers.
  const bytes = isByteStream(source);
  const reader = source.getReader();
  let delivered = 0;
  const pull = async (controller: PassController): Promise<void> => {
    let step: Awaited<ReturnType<ReadableStreamDefaultReader<Uint8Array>["read"]>>;
    try {
      step = await reader.read();
    } catch (error) {
      finish({ bytes: delivered, reason: "failed" });
      controller.error(error);
      return;
    }
    if (step.done) {
      finish(undefined);
      controller.close();
      // A byte stream's pending BYOB read is only released by answering it with no bytes.
      controller.byobRequest?.respond(0);
      return;
    }
    const chunk: unknown = step.value;
    if (chunk instanceof Uint8Array) {
      recorded.push(chunk);
      delivered += chunk.byteLength;
    }
    // Passed on as it came, whatever it is: the caller's reader decides what to make of it.
    if (!bytes || !(chunk instanceof Uint8Array)) {
      controller.enqueue(chunk as Uint8Array);
      return;
    }
    try {
      controller.enqueue(chunk);
    } catch {
      // A byte stream transfers what it is given: a buffer that cannot be transferred goes as a copy.
      controller.enqueue(chunk.slice());
    }
  };
  const cancel = (reason: unknown): Promise<void> => {
    finish({ bytes: delivered, reason: "cancelled" });
    return reader.cancel(reason);
  };
  // No queue of its own: a chunk is pulled from the old body only when the caller reads one.
  const passThrough: ReadableStream<Uint8Array> = bytes
    ? new ReadableStream({ type: "bytes", pull, cancel }, { highWaterMark: 0 })
    : new ReadableStream<Uint8Array>({ pull, cancel }, { highWaterMark: 0 });
  try {
    view = new Response(passThrough, { status: response.status, statusText: response.statusText, headers: response.headers });
  } catch {
    // A status that cannot carry a body here: give the body back as it was, unwatched.
    reader.releaseLock();
    return undefined;
  }
  const members: PropertyDescriptorMap = {
    body: { get: () => view.body, configurable: true },
    bodyUsed: { get: () => view.bodyUsed, configurable: true },
    clone: { value: () => withFacts(view.clone(), facts), writable: true, configurable: true },
  };
  for (const name of READERS) {
    const method = (view as unknown as Record<string, unknown>)[name];
    if (typeof method !== "function") continue;
    members[name] = { value: (...args: unknown[]) => Reflect.apply(method, view, args) as unknown, writable: true, configurable: true };
  }
  for (const descriptor of Object.values(members)) {
    const member: unknown = descriptor.value ?? descriptor.get;
    if (typeof member === "function") installed.add(member);
  }
  Object.defineProperties(response, members);
  // Nothing registered here may refer to `response`, or it would never be collected.
  dropped.register(
    response,
    () => {
      finish({ bytes: delivered, reason: "cancelled" });
      reader.cancel(new Error("penumbra: the served response was dropped unread")).catch(() => undefined);
    },
    recorded,
  );
  return ended;
}
