/**
 * Resolves on a later turn of the event loop (after pending I/O callbacks), never in the current one.
 *
 * @internal
 * @example
 * ```ts
 * await nextTurn(); // compare and publish on a turn of their own, not in the last candidate's
 * ```
 */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
