/** What `withinDeadline` resolves to when the promise did not settle in time. */
export const LATE: unique symbol = Symbol("penumbra.late");

/**
 * Waits for `promise` at most `ms` milliseconds (an `unref`'d timer: waiting never keeps a process
 * alive by itself). Never rejects when `promise` never rejects.
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
