/**
 * Turning a thrown value into one line of text without trusting it. (A minimal version: engineer
 * w12a owns this file and the integrator keeps theirs; the signature is the contract between us.)
 */
import { inspect } from "node:util";

const MAX_LENGTH = 2000;

/**
 * One bounded line that says what was thrown, whatever it was; never throws.
 *
 * @example
 * ```ts
 * describeThrown(new TypeError("boom")); // "TypeError: boom"
 * describeThrown(Object.create(null)); // "[Object: null prototype] {}"
 * ```
 */
export function describeThrown(value: unknown): string {
  let text: string;
  try {
    if (value instanceof Error) text = `${String(value.name)}: ${String(value.message)}`;
    else if (typeof value === "string") text = JSON.stringify(value);
    else text = inspect(value, { depth: 2, breakLength: Infinity, customInspect: false });
  } catch {
    text = fallback(value);
  }
  return text.length > MAX_LENGTH ? `${text.slice(0, MAX_LENGTH)}…` : text;
}

function fallback(value: unknown): string {
  try {
    return `[unprintable ${typeof value}]`;
  } catch {
    return "[unprintable value]";
  }
}
