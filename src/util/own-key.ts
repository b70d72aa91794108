/**
 * Sets `record[key] = value` as an own, enumerable property whatever the key: a key taken from user
 * data (an experiment, a candidate or a context key named `"__proto__"`) would otherwise set the
 * object's prototype instead of adding the entry, and the entry would be lost.
 *
 * @internal
 * @example
 * ```ts
 * setOwn(outcomes, candidate.name, "matched"); // also for a candidate named "__proto__"
 * ```
 */
export function setOwn(record: Record<string, unknown>, key: string, value: unknown): void {
  // Plain assignment for every other key: it is the same on a plain object, and cheaper.
  if (key === "__proto__") Object.defineProperty(record, key, { value, enumerable: true, writable: true, configurable: true });
  else record[key] = value;
}
