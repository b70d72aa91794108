/** Test helpers: a collecting publisher, an error sink, and a clean configuration around each test. */
import { configure, type ExperimentError, type Publisher, type Result } from "../../src/index";

/** Collects every published result and every skip notice. */
export function collector(): Publisher & { results: Result<unknown>[]; skips: string[] } {
  const results: Result<unknown>[] = [];
  const skips: string[] = [];
  return {
    results,
    skips,
    publish: (result: Result<unknown>) => {
      results.push(result);
    },
    skipped: (experiment: string) => {
      skips.push(experiment);
    },
  };
}

/** Collects every ExperimentError reported while it is installed with configure(). */
export function errorSink(): { errors: ExperimentError[]; onError: (e: ExperimentError) => void } {
  const errors: ExperimentError[] = [];
  return { errors, onError: (e) => errors.push(e) };
}

/** Restores every process-wide setting to its default. */
export function resetConfiguration(): void {
  configure({ publishers: undefined, onError: undefined, strict: undefined, throwOnMismatch: undefined, context: undefined });
}

/** A promise that resolves after `ms` milliseconds on a real timer. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
