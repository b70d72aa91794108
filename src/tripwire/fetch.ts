/**
 * The request hook for undici, the engine behind the global `fetch` (and npm `undici`, own
 * `Agent`s and `Pool`s included: diagnostics channel names are process-wide). A subscriber to
 * `undici:request:create` runs synchronously in the caller's async context, before the request is
 * queued on a connection, pooled or not. Setting the request's `error` makes undici abort it in
 * `onConnect()`, before a byte is written.
 *
 * `request.error` is an internal field of undici's `Request` (checked on the undici bundled with
 * Node 20, 6.x). If a later undici ignores it, the escape tests in `test/tripwire` fail: re-check
 * them on every Node major.
 */
import * as diagnostics from "node:diagnostics_channel";
import { inspect } from "./verdict";
import { authority, expectConnection } from "./network";

const CHANNEL = "undici:request:create";

/** The part of undici's `Request` the hook reads and writes. */
interface UndiciRequest {
  method?: unknown;
  origin?: unknown;
  path?: unknown;
  error?: unknown;
}

function onCreate(message: unknown): void {
  const request = (message as { request?: UndiciRequest } | null)?.request;
  if (typeof request !== "object" || request === null) return;
  let url: URL;
  try {
    url = new URL(String(request.origin));
  } catch {
    return; // not a URL we can name; the connection hook still sees a fresh connection
  }
  const defaultPort = url.protocol === "https:" ? 443 : 80;
  const port = url.port === "" ? defaultPort : Number(url.port);
  // URL keeps an IPv6 host in brackets; the allow callback gets it bare, like a socket's host.
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  const path = typeof request.path === "string" && request.path !== "" ? request.path : "/";
  const method = typeof request.method === "string" ? request.method : "GET";
  const verdict = inspect({ kind: "network", host, port, target: `${method} ${url.protocol}//${authority(host, port)}${path}` });
  if (verdict.action === "pass") return;
  // undici creates the request before it connects: the connection that follows is this request's
  // (announced here), and a connection recorded earlier in the run (a raw net.connect) stays its own leak.
  expectConnection(verdict.frame, authority(host, port));
  if (verdict.action === "block") request.error = verdict.error;
}

/**
 * Subscribes the undici hook; returns the function that unsubscribes it.
 *
 * @internal
 * @example
 * ```ts
 * const unpatch = patchFetch();
 * ```
 */
export function patchFetch(): () => void {
  diagnostics.subscribe(CHANNEL, onCreate);
  let done = false;
  return () => {
    if (done) return;
    done = true;
    diagnostics.unsubscribe(CHANNEL, onCreate);
  };
}
