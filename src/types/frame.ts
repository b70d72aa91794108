/**
 * The run frame's shape, apart from the code that reads and writes frames (`context/frame.ts`), so
 * that what a frame holds can be named by the fault containment and the tripwire without a cycle.
 */
import type { Operation } from "../errors";
import type { RunInfo } from "./context";
import type { Effect, Leak } from "./results";

/**
 * What penumbra keeps in the async context while one behaviour (the control or a candidate) runs.
 *
 * @internal
 * @example
 * ```ts
 * const frame: RunFrame | undefined = currentFrame();
 * ```
 */
export interface RunFrame {
  readonly penumbraFrame: 1;
  readonly info: RunInfo;
  /** True while the behaviour must not touch the outside world. */
  readonly shadow: boolean;
  /** Effects recorded while the behaviour runs; closed once its observation is taken. */
  readonly effects: Effect[];
  readonly leaks: Leak[];
  /** False once the behaviour has settled or timed out: later effects are not on its observation. */
  open: boolean;
  /** Told of leaks that arrive after the frame closed (the leak guardrail still hears of them). */
  readonly onLateLeak: ((leak: Leak) => void) | undefined;
  /** The frame this one was started inside, if any. */
  readonly parent: RunFrame | undefined;
  /** True inside a declared read of a guarded client: the tripwire lets that read's own I/O out. */
  readonly allowIo?: true;
  /**
   * The run's reporter (the experiment's `onError`, else the configured one, strict mode, the
   * warning): a guard, a sink or the tripwire reports into the run it belongs to through it.
   */
  readonly report?: (operation: Operation, cause: unknown, detail?: string) => void;
  /**
   * Candidate frames only: told of an uncaught exception or unhandled rejection raised in this
   * run's async context. It becomes the candidate's error while its observation is open, and is
   * reported as operation `candidateFault`.
   */
  readonly onFault?: (error: unknown) => void;
}
