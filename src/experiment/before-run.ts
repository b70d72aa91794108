import type { Operation } from "../errors";
import { isThenable } from "../util/thenable";
import type { ExperimentCore } from "./core";

type Report = (operation: Operation, cause: unknown) => void;

/**
 * Calls `beforeRun`. Returns true (go on), false (it failed: the candidates do not run), or a
 * promise of that when `beforeRun` is asynchronous.
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
  return Promise.resolve(returned).then(
    () => true,
    (error: unknown) => {
      report("beforeRun", error);
      return false;
    },
  );
}
