/**
 * A fault in penumbra itself (not in a user callback) while finishing a run off the caller's path.
 * It must never become an unhandled rejection in the user's process; it becomes a warning.
 */
export function internalFault(fault: unknown): void {
  try {
    const detail = fault instanceof Error ? (fault.stack ?? fault.message) : String(fault);
    process.emitWarning(`penumbra internal fault (please report it): ${detail}`, { type: "PenumbraWarning", code: "PENUMBRA_INTERNAL" });
  } catch {
    // Nothing else can be done without risking the caller's process.
  }
}
