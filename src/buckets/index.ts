/**
 * Buckets and noise rules: naming the reasons for differences, pure functions the engine calls.
 *
 * @example
 * ```ts
 * import { assignBuckets, bucketsOf, noise, unorderedPaths } from "./buckets";
 * ```
 */
export { assignBuckets, bucketsOf } from "./assign";
export { noise, parseIsoTimestamp, unorderedPaths } from "./noise";
export type { NumberNoiseOptions, TimestampNoiseOptions } from "./noise";
export { checkGlob, parsePath, pathMatcher } from "./path-glob";
