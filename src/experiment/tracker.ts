/**
 * Keeps count of the work still running for each experiment (candidates, comparison, publisher
 * promises, skip notices), so `settled()` and `flush()` can wait for it, and keeps the errors strict
 * mode owes to the next `settled()` / `flush()`.
 */
import type { ExperimentError } from "../errors";

const everyPending = new Set<Promise<void>>();
const strictErrors: Array<{ tracker: RunTracker; error: ExperimentError }> = [];
const STRICT_ERRORS_KEPT = 1000;

/** Per-experiment bookkeeping of in-flight work. */
export class RunTracker {
  private readonly pending = new Set<Promise<void>>();

  /** Follows `work` until it settles. `work` must never reject (the engine catches everything). */
  track(work: Promise<unknown>): void {
    const done: Promise<void> = work.then(
      () => this.forget(done),
      () => this.forget(done),
    );
    this.pending.add(done);
    everyPending.add(done);
  }

  /** Remembers an error for strict mode: the next `settled()` / `flush()` rejects with the first one. */
  recordStrictError(error: ExperimentError): void {
    if (strictErrors.length < STRICT_ERRORS_KEPT) strictErrors.push({ tracker: this, error });
  }

  /** Waits for the work in flight now; rejects with this experiment's first strict error, if any. */
  async settled(): Promise<void> {
    await waitFor([...this.pending]);
    const first = strictErrors.find((entry) => entry.tracker === this);
    removeWhere((entry) => entry.tracker === this);
    if (first !== undefined) throw first.error;
  }

  private forget(done: Promise<void>): void {
    this.pending.delete(done);
    everyPending.delete(done);
  }
}

/** Waits for the work in flight in every experiment; rejects with the process's first strict error. */
export async function flushAll(): Promise<void> {
  await waitFor([...everyPending]);
  const first = strictErrors[0];
  strictErrors.length = 0;
  if (first !== undefined) throw first.error;
}

async function waitFor(work: Array<Promise<void>>): Promise<void> {
  if (work.length === 0) return;
  // The caller is waiting on this: keep the process alive even if every timer inside is unref'd.
  const keepAlive = setInterval(() => undefined, 1 << 30);
  try {
    await Promise.all(work);
  } finally {
    clearInterval(keepAlive);
  }
}

function removeWhere(predicate: (entry: { tracker: RunTracker; error: ExperimentError }) => boolean): void {
  for (let i = strictErrors.length - 1; i >= 0; i--) {
    const entry = strictErrors[i];
    if (entry !== undefined && predicate(entry)) strictErrors.splice(i, 1);
  }
}
