/**
 * Options shared by `deepEqual` and `diff`.
 */

/**
 * Tuning for a comparison. Every field is optional; an empty object behaves like no options.
 *
 * @example
 * ```ts
 * const options: CompareOptions = { unordered: (path) => path === "tags" };
 * deepEqual({ tags: [1, 2] }, { tags: [2, 1] }, options); // true
 * ```
 */
export interface CompareOptions {
  /**
   * Called with the path of every array pair (only when given, so the common case builds no path
   * strings). When it returns true, the two arrays are compared as multisets: `deepEqual` accepts the
   * same elements in any order, and `diff` reports any difference, a mere reordering included, as one
   * `changed` diff at the array's path instead of descending into it.
   */
  unordered?: (path: string) => boolean;
}
