/** Acceptance helpers: a fresh configuration with a memory publisher and an error sink, per test. */
import { configure, flush, memoryPublisher, type ExperimentError, type MemoryPublisher } from "../../src/index";

/** What a test sees after configuring penumbra the way a user would. */
export interface Harness {
  memory: MemoryPublisher;
  errors: ExperimentError[];
}

let counter = 0;

/** A process-unique experiment name, so the duplicate-name warning never fires by accident. */
export function uniqueName(prefix: string): string {
  counter += 1;
  return `acc-${prefix}-${counter}`;
}

/** Configures a memory publisher and an error sink; call in beforeEach. */
export function harness(): Harness {
  const memory = memoryPublisher({ limit: 1000 });
  const errors: ExperimentError[] = [];
  configure({ publishers: [memory], onError: (e) => errors.push(e), strict: false, throwOnMismatch: false });
  return { memory, errors };
}

/** Waits for every experiment, then restores the defaults; call in afterEach. */
export async function resetHarness(): Promise<void> {
  await flush().catch(() => undefined);
  configure({ publishers: [], onError: undefined, strict: false, throwOnMismatch: false, containFaults: true });
}

/** Captures the PenumbraWarnings emitted while `body` runs and one macrotask after. */
export async function warningsDuring(body: () => Promise<void> | void): Promise<Array<{ code: string | undefined; message: string }>> {
  const seen: Array<{ code: string | undefined; message: string }> = [];
  const listener = (w: Error & { code?: string }): void => {
    if (w.name === "PenumbraWarning") seen.push({ code: w.code, message: w.message });
  };
  process.on("warning", listener);
  try {
    await body();
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setTimeout(resolve, 1));
  } finally {
    process.off("warning", listener);
  }
  return seen;
}
