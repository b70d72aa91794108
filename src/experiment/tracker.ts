/**
 * The in-flight tracker: counts the work still running for each experiment (candidates,
 * comparison, publisher promises, skip notices), so `settled()` and `flush()` can wait for it.
 * The strict-mode errors they reject with are kept by the failure hook (`src/report.ts`).
 *
 * Work is counted with numbered tickets rather than promises: starting a run on the caller's path
 * must cost next to nothing, and a waiter only needs to know when every ticket issued before it
 * was handed back.
 */
import { takeAllOwed, type FailureHook } from "../report";

/** One ledger of tickets: which are still out, and who waits for the ones issued before them. */
class Ledger {
  private next = 1;
  private readonly out = new Set<number>();
  /** No ticket below this one is still out: the oldest-out search starts here (amortised O(1)). */
  private floor = 1;
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
    if (this.out.size === 0) {
      this.floor = this.next;
      return undefined;
    }
    // Iterating a Set from its start walks the holes deletions left: step a floor up instead.
    while (!this.out.has(this.floor)) this.floor++;
    return this.floor;
  }
}

const everyExperiment = new Ledger();

/**
 * A unit of in-flight work, handed back with `done()` exactly once (later calls do nothing). A class
 * with a prototype method, not a closure: one is issued per admitted run.
 *
 * @internal
 * @example
 * ```ts
 * const ticket = state.tracker.begin();
 * work().then(() => ticket.done(), () => ticket.done());
 * ```
 */
export class Ticket {
  private open = true;
  constructor(
    private readonly ledger: Ledger,
    private readonly own: number,
    private readonly global: number,
  ) {}

  done(): void {
    if (!this.open) return;
    this.open = false;
    this.ledger.settle(this.own);
    everyExperiment.settle(this.global);
  }
}

/**
 * Per-experiment bookkeeping of in-flight work.
 *
 * @internal
 * @example
 * ```ts
 * state.tracker.track(dispatchResult(result, publishers, run.report));
 * await state.tracker.settled(state.hook);
 * ```
 */
export class RunTracker {
  private readonly ledger = new Ledger();

  /** Counts a unit of work as in flight until `done()` is called. */
  begin(): Ticket {
    return new Ticket(this.ledger, this.ledger.issue(), everyExperiment.issue());
  }

  /** Follows `work` until it settles (nothing to follow: undefined). `work` must never reject. */
  track(work: Promise<unknown> | undefined): void {
    if (work === undefined) return;
    const ticket = this.begin();
    const done = (): void => ticket.done();
    work.then(done, done);
  }

  /** Waits for the work in flight now; rejects with the experiment's first strict-mode error, if any. */
  async settled(hook: FailureHook): Promise<void> {
    await keepingAlive(this.ledger.drained());
    const owed = hook.takeOwed();
    if (owed !== undefined) throw owed;
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
  const owed = takeAllOwed();
  if (owed !== undefined) throw owed;
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
