import type { RunInfo } from "../types/context";
import { currentFrame } from "./frame";
import { contextBackend } from "./slot";

/**
 * True inside a shadow run (a candidate, across awaits and timers), false everywhere else,
 * including the control. Side-effect adapters ask this synchronously, at the call.
 *
 * @example
 * ```ts
 * async function sendReceipt(order: Order) {
 *   if (isShadow()) return; // a candidate never emails a customer
 *   await mailer.sendMail(receiptFor(order));
 * }
 * ```
 */
export function isShadow(): boolean {
  return currentFrame()?.shadow === true;
}

/**
 * The run the current code belongs to, or undefined outside experiments.
 *
 * @example
 * ```ts
 * const run = currentRun();
 * await fetchRates({ signal: run?.signal }); // a candidate's slow call is cancelled at its timeout
 * ```
 */
export function currentRun(): RunInfo | undefined {
  return currentFrame()?.info;
}

/* eslint-disable @typescript-eslint/no-explicit-any -- the contract's signature: any callback shape */
/**
 * Carries the current run into a callback that something created outside the run will call later
 * (a long-lived emitter, a connection pool's queue). Outside a run it returns `fn` bound to "no run",
 * which is what that caller would see anyway.
 *
 * @example
 * ```ts
 * pool.query("select 1", bindShadow((err, rows) => { chargeIfNeeded(rows); })); // still a shadow run inside
 * ```
 */
export function bindShadow<F extends (...a: any[]) => any>(fn: F): F {
  return contextBackend().bind(fn);
}
