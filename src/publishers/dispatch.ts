/**
 * Publish dispatch: hands a result (or a skip notice) to the publishers. A publisher never delays the
 * caller: its promise is only followed (for `settled()` / `flush()`), for at most 10 s, and its
 * failures go to the reporter as operation `publish`.
 */
import type { Report } from "../report";
import type { Publisher, TripEvent } from "../types/operate";
import type { Result } from "../types/results";
import { isThenable } from "../util/thenable";

/**
 * How long `settled()` waits for a publisher's promise before reporting it and moving on.
 *
 * @internal
 * @example
 * ```ts
 * setTimeout(giveUp, PUBLISH_WAIT_MS).unref();
 * ```
 */
export const PUBLISH_WAIT_MS = 10_000;

/**
 * Calls every publisher with `result`; resolves when their promises settled (or were given up on).
 *
 * @internal
 * @example
 * ```ts
 * await publishResult(result, publishers, report);
 * ```
 */
export function publishResult(result: Result<unknown>, publishers: readonly Publisher[], report: Report): Promise<void> {
  return dispatchResult(result, publishers, report) ?? Promise.resolve();
}

/**
 * Calls every publisher with `result`: undefined when none returned a promise (the common case costs
 * no promise), else a promise that resolves when theirs settled (or were given up on).
 *
 * @internal
 * @example
 * ```ts
 * const pending = dispatchResult(result, state.publishers(), run.report);
 * if (pending !== undefined) state.tracker.track(pending);
 * ```
 */
export function dispatchResult(result: Result<unknown>, publishers: readonly Publisher[], report: Report): Promise<void> | undefined {
  let waits: Array<Promise<void>> | undefined;
  for (const publisher of publishers) {
    try {
      const returned = typeof publisher === "function" ? publisher(result) : publisher.publish(result);
      if (isThenable(returned)) (waits ??= []).push(follow(returned, report));
    } catch (error) {
      report("publish", error);
    }
  }
  return waits === undefined ? undefined : Promise.all(waits).then(() => undefined);
}

/**
 * Tells the publishers that implement `skipped` about a call skipped for lack of a free slot.
 *
 * @internal
 * @example
 * ```ts
 * publishSkip(state.name, state.publishers(), state.hook.report);
 * ```
 */
export function publishSkip(experiment: string, publishers: readonly Publisher[], report: Report): void {
  for (const publisher of publishers) {
    // The method is read inside the try: a getter (or a Proxy trap) that throws is the publisher's failure.
    try {
      const skipped = typeof publisher === "object" ? publisher.skipped : undefined;
      if (typeof skipped === "function") skipped.call(publisher, experiment, "overload");
    } catch (error) {
      report("publish", error);
    }
  }
}

/**
 * True when some publisher may want skip notices: one with a `skipped` method, or one whose
 * `skipped` cannot be read (a throwing getter), so that {@link publishSkip} reports it. Never throws:
 * it is asked on the caller's path.
 *
 * @internal
 * @example
 * ```ts
 * if (wantsSkips(publishers)) setImmediate(() => publishSkip(name, publishers, report));
 * ```
 */
export function wantsSkips(publishers: readonly Publisher[]): boolean {
  return publishers.some((publisher) => {
    if (typeof publisher !== "object") return false;
    try {
      return typeof publisher.skipped === "function";
    } catch {
      return true;
    }
  });
}

/**
 * Tells the publishers that implement `trip` that guardrails switched an experiment off.
 *
 * @internal
 * @example
 * ```ts
 * publishTrip(event, state.publishers(), state.hook.report);
 * ```
 */
export function publishTrip(event: TripEvent, publishers: readonly Publisher[], report: Report): void {
  for (const publisher of publishers) {
    try {
      const trip = typeof publisher === "object" ? publisher.trip : undefined;
      if (typeof trip === "function") trip.call(publisher, event);
    } catch (error) {
      report("publish", error);
    }
  }
}

function follow(pending: PromiseLike<unknown>, report: Report): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      report("publish", new Error(`publisher still pending after ${PUBLISH_WAIT_MS / 1000} s`), `a publisher's promise was still pending after ${PUBLISH_WAIT_MS / 1000} s and is no longer awaited`);
      resolve();
    }, PUBLISH_WAIT_MS);
    timer.unref();
    Promise.resolve(pending).then(
      () => {
        clearTimeout(timer);
        resolve();
      },
      (error: unknown) => {
        clearTimeout(timer);
        report("publish", error);
        resolve();
      },
    );
  });
}
