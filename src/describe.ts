/**
 * The one way penumbra turns a thrown value (or any user value) into text. It runs where a user's
 * error is being reported, often on the caller's path, so it must never throw, never hang on a
 * hostile value and never trust a getter: every read goes through `compare/safe-read`, and the text
 * is built by penumbra's own bounded renderer, never by the value's `toString`, `Symbol.toPrimitive`
 * or `util.inspect.custom`.
 */
import { errorLabel, formatValue, truncate } from "./compare/render";
import { isErrorLike } from "./compare/safe-read";

/**
 * The longest description `describeThrown` returns, in UTF-16 code units (a longer one ends in `…`).
 *
 * @example
 * ```ts
 * describeThrown("x".repeat(10_000)).length <= DESCRIPTION_MAX_LENGTH; // true
 * ```
 */
export const DESCRIPTION_MAX_LENGTH = 1000;

/**
 * What `describeThrown` says when nothing about the value could be read (a revoked Proxy, a Proxy
 * whose every trap throws).
 *
 * @example
 * ```ts
 * const { proxy, revoke } = Proxy.revocable({}, {});
 * revoke();
 * describeThrown(proxy); // "[unreadable value]"
 * ```
 */
export const UNREADABLE_PLACEHOLDER = "[unreadable value]";

/**
 * Describes any thrown value in one bounded line: `TypeError: boom` for an error (`Name: message`,
 * just `Name` when the message is empty, `Name: (message unreadable)` when reading it threw),
 * `"text"` for a string, `undefined`, `42`, `{"code":1}` (penumbra's JSON-like rendering) for
 * anything else. Never throws and never calls the value's `toString`, `Symbol.toPrimitive` or
 * `util.inspect.custom`; getters that throw and Proxy traps that throw fall back to placeholders
 * (`[Getter threw]`, `[unreadable value]`). Control characters other than tab and newline are
 * escaped (`\u001b`), so a description is safe to print to a terminal. At most
 * {@link DESCRIPTION_MAX_LENGTH} characters.
 *
 * @example
 * ```ts
 * describeThrown(new TypeError("boom")); // "TypeError: boom"
 * describeThrown("text"); // '"text"'
 * describeThrown(undefined); // "undefined"
 * describeThrown({ code: 1 }); // '{"code":1}'
 * ```
 */
export function describeThrown(value: unknown): string {
  try {
    const text = isErrorLike(value) ? errorLabel(value) : formatValue(value, DESCRIPTION_MAX_LENGTH);
    return truncate(escapeControls(text), DESCRIPTION_MAX_LENGTH);
  } catch {
    // Only a bug in penumbra's own code (or an exhausted stack) can land here.
    return UNREADABLE_PLACEHOLDER;
  }
}

// C0 controls except tab and newline, DEL and C1: a message could carry terminal escape sequences.
// Bidirectional marks and overrides: they could make a message read differently from what it holds.
const CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/**
 * Escapes control characters (other than tab and newline) and bidirectional overrides as `\uXXXX`,
 * so text taken from a user's value cannot drive the terminal it is printed to, nor reorder it.
 *
 * @example
 * ```ts
 * escapeControls("a\u001b[31mb"); // "a\\u001b[31mb"
 * ```
 */
export function escapeControls(text: string): string {
  return text.replace(CONTROLS, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}
