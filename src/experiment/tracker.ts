/**
 * Keeps count of the work still running for each experiment (candidates, comparison, publisher
 * promises, skip notices), so `settled()` and `flush()` can wait for it, and keeps the errors strict
 * mode owes to the next `settled()` / `flush()`.
 *
 * Work is counted with numbered tickets rather than promises: starting a run on the caller's path
 * must cost next to nothing, and a waiter only needs to know when every ticket issued before it
 * was handed back.
 */
import type { ExperimentError } from "../errors";

/** One ledger of tickets: which are still out, and who waits for the ones issued before them. */
class Ledger {
  private next = 1;
  private readonly out = new Set<number>();
  private waiters: Array<{ upTo: number; resolve: () => void }> = [];

  issue(): number {
    const ticket = this.next++;
    this.out.add(ticket);
    return ticket;
  }

  settle(ticket: number): void {
    if (!this.out.delete(ticket) || this.waiters.length === 0) return;
    const oldest = this.oldestOut();
    const still: typeof this.waiters = [];
    for (const waiter of this.waiters) {
      if (oldest === undefined || oldest > waiter.upTo) waiter.resolve();
      else still.push(waiter);
    }
    this.waiters = still;
  }

  /** Resolves once every ticket issued so far has been settled. */
  drained(): Promise<void> {
    const upTo = this.next - 1;
    const oldest = this.oldestOut();
    if (oldest === undefined || oldest > upTo) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ upTo, resolve }));
  }

  private oldestOut(): number | undefined {
    // Insertion order is ticket order, so the first one still out is the oldest.
    for (const ticket of this.out) return ticket;
    return undefined;
  }
}

const everyExperiment = new Ledger();
const strictErrors: Array<{ tracker: RunTracker; error: ExperimentError }> = [];

/**
 * A unit of in-flight work, handed back with `done()` exactly once (later calls do nothing).
 *
 * @internal
 * @example
 * ```ts
 * const ticket = core.tracker.begin();
 * work().then(ticket.done, ticket.done);
 * ```
 */
export interface Ticket {
  done(): void;
}

/**
 * Per-experiment bookkeeping of in-flight work, and of the errors strict mode owes to `settled()`.
 *
 * @internal
 * @example
 * ```ts
 * core.tracker.track(publish(run, result, reporter.report));
 * await core.tracker.settled();
 * ```
 */
export class RunTracker {
  private readonly ledger = new Ledger();

  /** Counts a unit of work as in flight until `done()` is called. */
  begin(): Ticket {
    const own = this.ledger.issue();
    const global = everyExperiment.issue();
    let open = true;
    return {
      done: () => {
        if (!open) return;
        open = false;
        this.ledger.settle(own);
        everyExperiment.settle(global);
      },
    };
  }

  /** Follows `work` until it settles. `work` must never reject (the engine catches everything). */
  track(work: Promise<unknown>): void {
    const ticket = this.begin();
    work.then(ticket.done, ticket.done);
  }

  /** Remembers an error for strict mode: the next `settled()` / `flush()` rejects with the first one. */
  recordStrictError(error: ExperimentError): void {
    // Only the first error per experiment is ever delivered, so one entry each keeps the list bounded
    // by the number of experiments, and one noisy experiment cannot crowd out another's error.
    if (strictErrors.some((entry) => entry.tracker === this)) return;
    strictErrors.push({ tracker: this, error });
  }

  /** Waits for the work in flight now; rejects with this experiment's first strict error, if any. */
  async settled(): Promise<void> {
    await keepingAlive(this.ledger.drained());
    const first = strictErrors.find((entry) => entry.tracker === this);
    for (let i = strictErrors.length - 1; i >= 0; i--) {
      if (strictErrors[i]?.tracker === this) strictErrors.splice(i, 1);
    }
    if (first !== undefined) throw first.error;
  }
}

/**
 * Waits for the work in flight in every experiment; rejects with the process's first strict error.
 *
 * @internal
 * @example
 * ```ts
 * export function flush(): Promise<void> { return flushAll(); }
 * ```
 */
export async function flushAll(): Promise<void> {
  await keepingAlive(everyExperiment.drained());
  const first = strictErrors[0];
  strictErrors.length = 0;
  if (first !== undefined) throw first.error;
}

async function keepingAlive(wait: Promise<void>): Promise<void> {
  // The caller is waiting on this: keep the process alive even if every timer inside is unref'd.
  const keepAlive = setInterval(() => undefined, 1 << 30);
  try {
    await wait;
  } finally {
    clearInterval(keepAlive);
  }
}
