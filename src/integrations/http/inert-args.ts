/**
 * The extra arguments of a fetch-style handler, as a shadow run gets them: a Node server adapter may
 * pass the live connection beside the `Request` (`@hono/node-server` calls `fetch(req, { incoming,
 * outgoing })`). The snapshot shares such handles by reference, so the new handler could write to
 * the client. Here every live socket, `IncomingMessage` and `ServerResponse` reachable through plain
 * objects and arrays is replaced by its shadow counterpart (the same stand-ins `penumbra/express`
 * gives its new handler), copying the containers on the way instead of changing them.
 */
import { IncomingMessage, ServerResponse } from "node:http";
import { Socket } from "node:net";
import type { Request as ExpressRequest, Response as ExpressResponse } from "express";
import { shadowExchange } from "./express-response";
import { InertSocket, shadowRequest } from "./shadow-request";

/** How deep into plain objects and arrays the live connection is looked for. */
const MAX_DEPTH = 4;
/** How many values one call's walk visits at most. */
const MAX_NODES = 2_000;

type Live = Socket | IncomingMessage | ServerResponse;

function liveKind(value: object): "socket" | "request" | "response" | undefined {
  try {
    if (value instanceof ServerResponse) return "response";
    if (value instanceof IncomingMessage) return "request";
    if (value instanceof Socket) return "socket";
  } catch {
    // A Proxy whose getPrototypeOf trap throws is none of them.
  }
  return undefined;
}

function isPlainContainer(value: object): boolean {
  try {
    if (Array.isArray(value)) return true;
    const proto = Object.getPrototypeOf(value) as unknown;
    return proto === Object.prototype || proto === null;
  } catch {
    return false;
  }
}

/**
 * `args` with the live connection replaced after the first (the `Request`, copied by its own
 * `clone()`); the same array when there is nothing to replace. Never changes a value it was given.
 *
 * @internal
 * @example
 * ```ts
 * const shadowArgs = withoutLiveConnection([req, { incoming, outgoing }], cap);
 * // shadowArgs[1].outgoing.end("x") records nothing anyone sends
 * ```
 */
export function withoutLiveConnection(args: unknown[], cap: number): unknown[] {
  const counterparts = new Map<Live, unknown>();
  let budget = MAX_NODES;

  const standIn = (live: Live, kind: "socket" | "request" | "response"): unknown => {
    const known = counterparts.get(live);
    if (known !== undefined) return known;
    if (kind === "socket") {
      const socket = new InertSocket(live as Socket);
      counterparts.set(live, socket);
      return socket;
    }
    if (kind === "request") {
      const request = live as IncomingMessage;
      const socket = new InertSocket(request.socket ?? undefined);
      const shadow = shadowRequest(request as ExpressRequest, socket);
      counterparts.set(request, shadow);
      if (request.socket) counterparts.set(request.socket, socket);
      return shadow;
    }
    const response = live as ServerResponse;
    const request = (response.req as IncomingMessage | undefined) ?? undefined;
    const [shadowReq, shadowRes] = shadowExchange((request ?? ({ headers: {} } as IncomingMessage)) as ExpressRequest, response as unknown as ExpressResponse, cap);
    counterparts.set(response, shadowRes);
    if (request !== undefined && !counterparts.has(request)) counterparts.set(request, shadowReq);
    if (request?.socket && !counterparts.has(request.socket)) counterparts.set(request.socket, shadowReq.socket);
    return shadowRes;
  };

  const visit = (value: unknown, depth: number): unknown => {
    if (typeof value !== "object" || value === null || budget-- <= 0) return value;
    const kind = liveKind(value);
    if (kind !== undefined) return standIn(value as Live, kind);
    if (depth >= MAX_DEPTH || !isPlainContainer(value)) return value;
    // A container larger than what is left to visit is left as it is, without listing its keys.
    if (Array.isArray(value) && value.length > budget) return value;
    let copy: Record<string, unknown> | unknown[] | undefined;
    let keys: string[];
    try {
      keys = Object.keys(value);
    } catch {
      return value;
    }
    if (keys.length > budget) return value;
    for (const key of keys) {
      let descriptor: PropertyDescriptor | undefined;
      try {
        descriptor = Object.getOwnPropertyDescriptor(value, key);
      } catch {
        continue;
      }
      if (descriptor === undefined || !("value" in descriptor)) continue;
      const replaced = visit(descriptor.value, depth + 1);
      if (replaced === descriptor.value) continue;
      copy ??= copyContainer(value);
      Object.defineProperty(copy, key, { ...descriptor, value: replaced });
    }
    return copy ?? value;
  };

  let changed = false;
  const out = args.map((arg, i) => {
    if (i === 0) return arg;
    const replaced = visit(arg, 0);
    if (replaced !== arg) changed = true;
    return replaced;
  });
  return changed ? out : args;
}

/** A shallow copy with the same prototype and property descriptors: no getter is invoked. */
function copyContainer(value: object): Record<string, unknown> | unknown[] {
  if (Array.isArray(value)) return Array.from({ length: value.length }, (_, i) => (Object.getOwnPropertyDescriptor(value, i) as { value?: unknown } | undefined)?.value);
  return Object.create(Object.getPrototypeOf(value) as object | null, Object.getOwnPropertyDescriptors(value)) as Record<string, unknown>;
}
