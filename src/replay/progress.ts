/**
 * A one-line progress bar for long replays, drawn with `\r` on a TTY. No dependency: a bar is twenty
 * characters of string, and a library would bring its own idea of when a stream is interactive.
 */

/**
 * Where a progress bar may be drawn: anything with `write` (`process.stderr`, a test double).
 * Nothing is drawn unless `isTTY` is true: carriage returns in a log file are noise.
 *
 * @example
 * ```ts
 * const out: ProgressStream = { isTTY: true, write: (chunk) => chunks.push(String(chunk)) };
 * ```
 */
export interface ProgressStream {
  isTTY?: boolean;
  /** The terminal's width; the bar is shortened to fit. */
  columns?: number;
  write(chunk: string): unknown;
}

const WIDTH = 30;
/** Redraws are throttled: a bar redrawn per record would cost more than the records on a fast replay. */
const THROTTLE_MS = 100;

/**
 * A throttled `\r`-redrawn progress line: `replay [#########.....................] 120/400`.
 *
 * @internal
 * @example
 * ```ts
 * const bar = new ProgressBar(process.stderr, "replay");
 * bar.update(120, 400);
 * bar.done(400, 400);
 * ```
 */
export class ProgressBar {
  private lastDraw = Number.NEGATIVE_INFINITY;
  private drawn = false;

  constructor(
    private readonly stream: ProgressStream,
    private readonly label: string,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Redraws if the last draw is older than the throttle. `total` undefined: a count without a bar;
   * a `fraction` (of a file read, say) fills the bar instead of `done / total`.
   */
  update(done: number, total: number | undefined, fraction?: number): void {
    const at = this.now();
    if (at - this.lastDraw < THROTTLE_MS) return;
    this.lastDraw = at;
    this.draw(done, total, fraction);
  }

  /** Draws the final state, unthrottled, and ends the line. */
  done(done: number, total: number | undefined, fraction?: number): void {
    if (this.stream.isTTY !== true) return;
    this.draw(done, total, fraction);
    this.stream.write("\n");
  }

  private draw(done: number, total: number | undefined, fraction?: number): void {
    if (this.stream.isTTY !== true) return;
    const share = fraction ?? (total === undefined || total === 0 ? undefined : done / total);
    let line: string;
    if (share === undefined) {
      line = `${this.label} ${done} records`;
    } else {
      const clamped = Math.max(0, Math.min(1, share));
      const columns = this.stream.columns;
      const width = columns !== undefined && columns < WIDTH + 40 ? Math.max(10, columns - 40) : WIDTH;
      const filled = Math.round(clamped * width);
      const bar = `[${"#".repeat(filled)}${".".repeat(width - filled)}]`;
      const count = fraction !== undefined ? `${Math.floor(clamped * 100)}% (${done} records)` : `${done}/${total}`;
      line = `${this.label} ${bar} ${count}`;
    }
    // \x1b[K clears what a longer previous line left behind.
    this.stream.write(`\r${line}\x1b[K`);
    this.drawn = true;
  }

  /** True once something was drawn. */
  get started(): boolean {
    return this.drawn;
  }
}
