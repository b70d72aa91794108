/** Runs one experiment call and hands back the single result it published, once everything settled. */
import { strict as assert } from "node:assert";
import { shadow, type Leak, type Result } from "../../src/index";

let runs = 0;

export async function runOnce(control: () => unknown, candidate: () => unknown): Promise<Result<unknown>> {
  const results: Result<unknown>[] = [];
  // A name of its own per call: experiments built by earlier calls may still be in use.
  const wrapped = shadow<[], unknown>(control, candidate, {
    name: `one-run-${++runs}`,
    publish: (r: Result<unknown>) => {
      results.push(r);
    },
  });
  await wrapped();
  await wrapped.experiment.settled();
  assert.equal(results.length, 1, "exactly one result was published");
  return results[0] as Result<unknown>;
}

/** The first candidate's leaks, as plain copies (published ones are frozen). */
export function leaksOf(result: Result<unknown>): Leak[] {
  return (result.candidates[0]?.leaks ?? []).map((l) => ({ ...l }));
}
