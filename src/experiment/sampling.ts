/**
 * A fraction in [0, 1) that depends only on the key and the salt (the experiment's name).
 *
 * Sticky sampling: every process (and every restart) admits the same customers, and a ramp from 1%
 * to 5% keeps the first 1% admitted. FNV-1a over UTF-16 code units, finished with a murmur-style mix
 * for an even spread.
 *
 * @internal
 * @example
 * ```ts
 * if (stableFraction(String(key), core.name) >= sample) return REFUSED;
 * ```
 */
export function stableFraction(key: string, salt: string): number {
  let hash = 0x811c9dc5;
  hash = fnv(hash, salt);
  hash = fnv(hash, "\u0000");
  hash = fnv(hash, key);
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return (hash >>> 0) / 0x1_0000_0000;
}

function fnv(seed: number, text: string): number {
  let hash = seed;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash;
}
