/**
 * A new array with the items in random order (Fisher–Yates); the input is left as it is.
 *
 * @internal
 * @example
 * ```ts
 * const order = shuffled([CONTROL, ...candidateOrder]);
 * ```
 */
export function shuffled<T>(items: readonly T[]): T[] {
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    const a = out[i] as T;
    out[i] = out[j] as T;
    out[j] = a;
  }
  return out;
}
