/**
 * Turns a fault in penumbra itself (not in a user callback), met off the caller's path, into a warning.
 *
 * It must never become an unhandled rejection in the user's process, so it is emitted as a
 * `PenumbraWarning` with code `PENUMBRA_INTERNAL`, and this function itself never throws.
 *
 * @internal
 * @example
 * ```ts
 * try { await finish(run); } catch (fault) { internalFault(fault); }
 * ```
 */
export function internalFault(fault: unknown): void {
  try {
    const detail = fault instanceof Error ? (fault.stack ?? fault.message) : String(fault);
    process.emitWarning(`penumbra internal fault (please report it): ${detail}`, { type: "PenumbraWarning", code: "PENUMBRA_INTERNAL" });
  } catch {
    // Nothing else can be done without risking the caller's process.
  }
}
