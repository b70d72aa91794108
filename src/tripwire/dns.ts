/**
 * The DNS hook. `dns.Resolver` queries go from native code (c-ares) straight to the resolver's
 * servers, so no socket hook sees them: the query methods of both `Resolver` classes are hooked on
 * their prototypes, and the module's own `resolve*` / `reverse` functions (bound to a default
 * resolver when the module loaded, so a prototype hook misses them) are replaced on the module.
 * `dns.lookup` is not a query to a chosen server (it asks the operating system) and is not watched.
 */
import dns from "node:dns";
import { syncBuiltinESMExports } from "node:module";
import { inspect, type Probe } from "./verdict";

const QUERIES = [
  "resolve",
  "resolve4",
  "resolve6",
  "resolveAny",
  "resolveCaa",
  "resolveCname",
  "resolveMx",
  "resolveNaptr",
  "resolveNs",
  "resolvePtr",
  "resolveSoa",
  "resolveSrv",
  "resolveTxt",
  "reverse",
] as const;

type Patchable = Record<string, unknown>;

/** `dns <server> <name>`, the server being the first the resolver would ask. */
function probe(servers: () => string[], name: unknown): Probe {
  let server = "system";
  try {
    server = servers()[0] ?? "system";
  } catch {
    // A resolver in an odd state still gets a leak, just without its server.
  }
  const target: Probe = { kind: "network", target: `dns ${server} ${describeName(name)}` };
  // "1.2.3.4", "1.2.3.4:53", "[::1]:53" → host and port for the allow callback.
  const match = /^\[([^\]]+)\](?::(\d+))?$|^([^:]+)(?::(\d+))?$/.exec(server);
  if (match !== null && server !== "system") {
    target.host = match[1] ?? match[3] ?? server;
    target.port = Number(match[2] ?? match[4] ?? 53);
  } else if (server.includes(":") && server !== "system") {
    target.host = server;
    target.port = 53;
  }
  return target;
}

/** The queried name as the leak shows it; a value that is not a name is described, never converted (its toString may throw). */
function describeName(name: unknown): string {
  return typeof name === "string" ? name : `<${name === null ? "null" : typeof name}>`;
}

function hook(
  original: (...args: unknown[]) => unknown,
  servers: (self: unknown) => () => string[],
  promises: boolean,
  live: () => boolean,
): (...args: unknown[]) => unknown {
  return function (this: unknown, ...args: unknown[]): unknown {
    if (live()) {
      const verdict = inspect(probe(servers(this), args[0]));
      if (verdict.action === "block") {
        if (promises) return Promise.reject(verdict.error);
        const callback = lastCallback(args);
        if (callback !== undefined) process.nextTick(callback, verdict.error);
        return undefined;
      }
    }
    return original.apply(this, args);
  };
}

/**
 * Installs the DNS hooks; returns the function that removes them.
 *
 * @internal
 * @example
 * ```ts
 * const unpatch = patchDns();
 * ```
 */
export function patchDns(): () => void {
  let on = true;
  const live = (): boolean => on;
  const undo: Array<() => void> = [];
  const replace = (holder: Patchable, name: string, make: (original: (...args: unknown[]) => unknown) => (...args: unknown[]) => unknown): void => {
    const original = holder[name];
    if (typeof original !== "function") return;
    const hooked = make(original as (...args: unknown[]) => unknown);
    holder[name] = hooked;
    undo.push(() => {
      if (holder[name] === hooked) holder[name] = original;
    });
  };
  const ownServers = (self: unknown) => () => (self as { getServers: () => string[] }).getServers();
  const moduleServers = () => () => dns.getServers();
  for (const name of QUERIES) {
    replace(dns.Resolver.prototype as unknown as Patchable, name, (o) => hook(o, ownServers, false, live));
    replace(dns.promises.Resolver.prototype as unknown as Patchable, name, (o) => hook(o, ownServers, true, live));
    replace(dns as unknown as Patchable, name, (o) => hook(o, moduleServers, false, live));
    replace(dns.promises as unknown as Patchable, name, (o) => hook(o, moduleServers, true, live));
  }
  syncBuiltinESMExports();
  return () => {
    on = false;
    for (const u of undo) u();
    syncBuiltinESMExports();
  };
}

/** The call's callback: Node takes it as the last function argument. */
function lastCallback(args: readonly unknown[]): ((error: Error) => void) | undefined {
  for (let i = args.length - 1; i >= 0; i--) if (typeof args[i] === "function") return args[i] as (error: Error) => void;
  return undefined;
}
