/**
 * The request hook for `node:http` and `node:https`: `http.ClientRequest.prototype.{write, end,
 * flushHeaders}`. A shadow request on a keep-alive socket the control opened never connects, so
 * the connection hook cannot see it; these three methods are what sends a request's bytes, and the
 * caller always invokes them in its own async context (even when the request is queued behind
 * another, its body is buffered at `end()`). Hooking the prototype catches `http.request`,
 * `http.get`, `new ClientRequest` and every client built on them (axios, got, Stripe's client).
 */
import * as http from "node:http";
import { inspect } from "./verdict";
import { authority, claimConnection } from "./network";

/** Requests already judged, so `write()` then `end()` is one leak, and a reported request is let through for good. */
const judged = new WeakMap<http.ClientRequest, "pass" | "blocked">();

const DEFAULT_PORTS: Record<string, number> = { "http:": 80, "https:": 443 };

/** Where the request goes, from what `ClientRequest` keeps: its host, protocol and Host header. */
function requestTarget(req: http.ClientRequest): { host: string; port: number | undefined; url: string } {
  const protocol = typeof req.protocol === "string" && req.protocol !== "" ? req.protocol : "http:";
  const host = typeof req.host === "string" && req.host !== "" ? req.host : "localhost";
  // ClientRequest does not keep its port; the Host header it built carries it unless it is the default.
  let port: number | undefined = DEFAULT_PORTS[protocol];
  const header = req.getHeader("host");
  const match = typeof header === "string" ? /:(\d+)$/.exec(header) : null;
  if (match?.[1] !== undefined) port = Number(match[1]);
  else if (typeof req.socket?.remotePort === "number") port = req.socket.remotePort;
  const path = typeof req.path === "string" && req.path !== "" ? req.path : "/";
  return { host, port, url: `${protocol}//${authority(host, port)}${path}` };
}

type Method = "write" | "end" | "flushHeaders";
const METHODS: readonly Method[] = ["write", "end", "flushHeaders"];

/**
 * Installs the request hooks; returns the function that removes them.
 *
 * @internal
 * @example
 * ```ts
 * const unpatch = patchHttp();
 * ```
 */
export function patchHttp(): () => void {
  const proto = http.ClientRequest.prototype as unknown as Record<Method, (...args: unknown[]) => unknown>;
  let live = true;
  const undo: Array<() => void> = [];
  for (const name of METHODS) {
    const original = proto[name];
    const hooked = function (this: http.ClientRequest, ...args: unknown[]): unknown {
      if (live) {
        const state = judged.get(this) ?? judge(this);
        if (state === "blocked") return name === "write" ? false : this;
      }
      return original.apply(this, args);
    };
    proto[name] = hooked;
    undo.push(() => {
      if (proto[name] === hooked) proto[name] = original;
    });
  }
  return () => {
    live = false;
    for (const u of undo) u();
  };
}

function judge(req: http.ClientRequest): "pass" | "blocked" {
  const where = requestTarget(req);
  const verdict = inspect({ kind: "network", host: where.host, port: where.port, target: `${req.method} ${where.url}` });
  if (verdict.action !== "pass") claimConnection(verdict.frame, authority(where.host, where.port));
  if (verdict.action === "block") {
    judged.set(req, "blocked");
    // destroy() emits the error on the request (after the caller's listeners are attached, on a
    // later tick) and frees a pooled socket without sending a byte on it.
    req.destroy(verdict.error);
    return "blocked";
  }
  // Outside shadow runs the request is judged again on each call: the same request object is not
  // reused across runs, and remembering "pass" for it would be a WeakMap entry per request for nothing.
  if (verdict.action === "report") judged.set(req, "pass");
  return "pass";
}

/**
 * True for a shadow request the hook reported and let through: the socket writes that carry it are
 * that one leak, not new ones.
 *
 * @internal
 * @example
 * ```ts
 * if (isReportedRequest(socket._httpMessage)) return "pass";
 * ```
 */
export function isReportedRequest(value: unknown): boolean {
  return value instanceof http.ClientRequest && judged.get(value) === "pass";
}
