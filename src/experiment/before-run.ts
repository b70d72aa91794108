import type { Operation } from "../errors";
import { LATE, withinDeadline } from "../util/deadline";
import { isThenable } from "../util/thenable";
import type { ExperimentCore } from "./core";

type Report = (operation: Operation, cause: unknown) => void;

/**
 * Calls `beforeRun` and says whether the candidates may run: true, false, or a promise of either.
 *
 * False means it threw or rejected (reported as `beforeRun`), or, when asynchronous, did not settle
 * within `timeoutMs`: a hung `beforeRun` must not hold a slot or a sequential caller forever.
 *
 * @internal
 * @example
 * ```ts
 * if (!(await callBeforeRun(core, reporter.report))) return bare(run, reporter);
 * ```
 */
export function callBeforeRun(core: ExperimentCore, report: Report): boolean | Promise<boolean> {
  const beforeRun = core.options.beforeRun;
  if (beforeRun === undefined) return true;
  let returned: unknown;
  try {
    returned = beforeRun();
  } catch (error) {
    report("beforeRun", error);
    return false;
  }
  if (!isThenable(returned)) return true;
  // Bounded by the candidates' budget: a hung beforeRun must not hold a slot (or a sequential caller) forever.
  const timeoutMs = core.options.timeoutMs;
  return withinDeadline(Promise.resolve(returned), timeoutMs).then(
    (outcome) => {
      if (outcome !== LATE) return true;
      report("beforeRun", new Error(`beforeRun did not settle within ${timeoutMs} ms`));
      return false;
    },
    (error: unknown) => {
      report("beforeRun", error);
      return false;
    },
  );
}
