/**
 * Escaping for what the CLI prints from a results file, terminal and page alike: one home, so the
 * table, the page and its segment charts share it without importing each other.
 */

const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/**
 * Text that came from a results file, made safe for a terminal: C0 and C1 control characters, DEL
 * and the bidirectional overrides are written as visible escapes (`\x1b`, `\u202e`), so an ESC in
 * an experiment name cannot recolour, move the cursor or retitle the terminal, a BEL cannot ring,
 * and a newline cannot forge a report line.
 *
 * @example
 * ```ts
 * printable("checkout\x1b[2J"); // "checkout\\x1b[2J"
 * ```
 */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}

/**
 * Escapes text for HTML element content and attribute values; control characters and bidirectional
 * overrides (which HTML forbids or which reorder what a reader sees) become visible escapes first.
 *
 * @example
 * ```ts
 * escapeHtml(`<b title="x">&</b>`); // "&#60;b title=&#34;x&#34;&#62;&#38;&#60;/b&#62;"
 * ```
 */
export function escapeHtml(text: string): string {
  return printable(String(text)).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * JSON that is safe inside a `<script>` element: nothing in it can end the element or open a comment.
 *
 * @example
 * ```ts
 * scriptJson({ reason: "</script><script>alert(1)</script>" }); // no "<" left in the output
 * ```
 */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, "\\u003c")
    .replace(/>/g, "\\u003e")
    .replace(/&/g, "\\u0026")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}
