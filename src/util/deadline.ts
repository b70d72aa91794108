/**
 * What `withinDeadline` resolves to when the promise did not settle in time.
 *
 * @internal
 * @example
 * ```ts
 * if ((await withinDeadline(gate, timeoutMs)) === LATE) report("enabled", new Error("no answer in time"));
 * ```
 */
export const LATE: unique symbol = Symbol("penumbra.late");

/**
 * Waits for `promise` at most `ms` milliseconds, then resolves to `LATE`.
 *
 * The timer is `unref`'d, so waiting never keeps a process alive by itself. It rejects only when
 * `promise` rejects in time.
 *
 * @internal
 * @example
 * ```ts
 * const answer = await withinDeadline(gate, core.options.timeoutMs);
 * if (answer === LATE) return false;
 * ```
 */
export function withinDeadline<T>(promise: Promise<T>, ms: number): Promise<T | typeof LATE> {
  return new Promise<T | typeof LATE>((resolve, reject) => {
    const timer = setTimeout(() => resolve(LATE), ms);
    timer.unref();
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
