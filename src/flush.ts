import { flushAll } from "./experiment/index";

/**
 * `settled()` for every experiment in the process: resolves when every admitted run has been
 * compared and published. Call it before a script or a test exits. In strict mode it rejects with
 * the first error reported in the process since the last `flush()`.
 *
 * @example
 * ```ts
 * process.on("SIGTERM", async () => { await flush(); process.exit(0); });
 * ```
 */
export function flush(): Promise<void> {
  return flushAll();
}
