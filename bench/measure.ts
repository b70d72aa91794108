/**
 * The caller-path measurement loop shared by the benchmarks: every call timed alone with
 * `process.hrtime.bigint()`, variants shuffled every round, round 0 discarded as warm-up, and —
 * outside the measured window — the variant's own background work drained, then one macrotask turn,
 * so deferred work (comparison, publishing) never lands inside the next call's window.
 */
import { shuffle } from "./machine";

/** One way of making the call being measured. */
export interface Variant {
  name: string;
  call: () => unknown;
  /** Waits, outside the window, for whatever the call left running. */
  drain: () => Promise<void>;
}

/** Per-call times in µs for each variant, warm-up round excluded. */
export async function measure(variants: Variant[], rounds: number, callsPerRound: number, awaitEach: boolean): Promise<Map<string, number[]>> {
  const samples = new Map<string, number[]>(variants.map((v) => [v.name, []]));
  for (let round = 0; round < rounds; round++) {
    for (const variant of shuffle(variants)) {
      const bucket = samples.get(variant.name) as number[];
      for (let i = 0; i < callsPerRound; i++) {
        const started = process.hrtime.bigint();
        const returned = variant.call();
        if (awaitEach) await returned;
        const ended = process.hrtime.bigint();
        // Round 0 is warm-up: JIT, first-run enabling of AsyncLocalStorage, lazy requires.
        if (round > 0) bucket.push(Number(ended - started) / 1000);
        await variant.drain();
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    }
  }
  return samples;
}
