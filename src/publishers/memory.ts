/**
 * A publisher that keeps the newest results in memory, for tests, REPL sessions and debug endpoints.
 */
import { inspect } from "node:util";
import type { Result } from "../types/results";
import { setOwn } from "../util/own-key";

/**
 * Options of {@link memoryPublisher}.
 *
 * @example
 * ```ts
 * const options: MemoryPublisherOptions = { limit: 50 };
 * const memory = memoryPublisher(options);
 * ```
 */
export interface MemoryPublisherOptions {
  /** How many results to keep; older ones are dropped first. A positive integer. @default 1000 */
  limit?: number;
}

/**
 * What {@link memoryPublisher} returns: a `Publisher` whose methods are bound, so they can be
 * destructured and passed around.
 *
 * @example
 * ```ts
 * const memory: MemoryPublisher = memoryPublisher();
 * configure({ publishers: [memory] });
 * afterEach(() => memory.clear());
 * ```
 */
export interface MemoryPublisher {
  /** Stores the result (the very object, not a copy), dropping the oldest beyond `limit`. */
  publish(result: Result<unknown>): void;
  /** Counts a call skipped for lack of a free slot. */
  skipped(experiment: string, reason: "overload"): void;
  /**
   * The newest `limit` results, oldest first. The same array for the publisher's lifetime, updated in
   * place, so `const { results } = memoryPublisher()` stays current.
   */
  readonly results: readonly Result<unknown>[];
  /** Overload skips per experiment name, updated in place; an experiment never skipped has no key. */
  readonly skips: Readonly<Record<string, number>>;
  /** Empties `results` and `skips` (the same objects stay in use). */
  clear(): void;
}

/**
 * Creates a publisher that keeps the newest `limit` results in a live array.
 *
 * @example
 * ```ts
 * const { publish, results } = memoryPublisher({ limit: 100 });
 * const total = shadow(oldTotal, newTotal, { publish });
 * total(cart);
 * await total.experiment.settled();
 * assert.equal(results.at(-1)?.matched, true);
 * ```
 */
export function memoryPublisher(options: MemoryPublisherOptions = {}): MemoryPublisher {
  const limit = options.limit ?? 1000;
  if (!Number.isInteger(limit) || limit <= 0) {
    throw new TypeError(`memoryPublisher: limit must be a positive integer, got ${inspect(limit)}`);
  }
  const results: Result<unknown>[] = [];
  // A plain object so `assert.deepEqual(skips, { orders: 2 })` works; keys are written with
  // setOwn, so an experiment named "__proto__" is counted rather than changing the prototype.
  const skips: Record<string, number> = {};

  return {
    results,
    skips,
    publish(result: Result<unknown>): void {
      results.push(result);
      if (results.length > limit) results.splice(0, results.length - limit);
    },
    skipped(experiment: string, _reason: "overload"): void {
      const count = Object.prototype.hasOwnProperty.call(skips, experiment) ? (skips[experiment] ?? 0) : 0;
      setOwn(skips, experiment, count + 1);
    },
    clear(): void {
      results.length = 0;
      for (const key of Object.keys(skips)) delete skips[key];
    },
  };
}
