/**
 * The command line of `penumbra`, parsed with `node:util`'s `parseArgs`: no dependency, and the same
 * strictness (an unknown flag is an error, not silently ignored).
 */
import { parseArgs } from "node:util";

/**
 * What the command line asked for.
 *
 * @example
 * ```ts
 * const command: Command = { kind: "report", file: "results.jsonl", experiment: "checkout-total", html: "report.html" };
 * ```
 */
export type Command =
  | { kind: "help" }
  | { kind: "version" }
  | { kind: "report"; file: string; experiment: string | undefined; html: string | undefined; segments?: string[] }
  | { kind: "error"; message: string };

/**
 * The usage text `penumbra --help` prints.
 *
 * @example
 * ```ts
 * process.stdout.write(USAGE);
 * ```
 */
export const USAGE = `Usage: penumbra report <results.jsonl> [--experiment <name>] [--html <out.html>] [--segments <keys>]

Reads a JSONL results file (written by jsonlPublisher) and prints the scorecard of every
experiment and candidate in it: runs, match rates, error/timeout/leak rates, latency
percentiles of control and candidate, and the top mismatch reasons with an example.

Options:
  -e, --experiment <name>  only this experiment's results
      --html <out.html>    also write a self-contained HTML page with plots
                           (latency distributions, mismatch reasons over time)
      --segments <keys>    break the mismatches down by these context keys,
                           comma-separated (e.g. region,endpoint): per value its
                           runs, mismatch rate and lift; in the page, a bar chart
  -h, --help               show this help
  -v, --version            print penumbra's version

Exit codes: 0 every line reported; 3 report printed, but some lines were skipped (each
named on stderr); 1 nothing to report (no results, the file is empty, or every line was
skipped); 2 usage error or unreadable file.
`;

/**
 * Parses `argv` (without `node` and the script): a command, help, or a one-line usage error.
 *
 * @example
 * ```ts
 * const command = parseCommand(process.argv.slice(2));
 * if (command.kind === "error") console.error(`penumbra: ${command.message}`);
 * ```
 */
export function parseCommand(argv: readonly string[]): Command {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    // parseArgs' messages go on to explain '--' in a second sentence: the first says what is wrong.
    const message = error instanceof Error ? error.message : String(error);
    return { kind: "error", message: message.replace(/\. To specify a positional argument[\s\S]*$/, "") };
  }
  const { values, positionals } = parsed;
  if (values.help === true) return { kind: "help" };
  if (values.version === true) return { kind: "version" };
  const [command, ...rest] = positionals;
  if (command === undefined) return { kind: "error", message: "missing command (try: penumbra report <results.jsonl>)" };
  if (command !== "report") return { kind: "error", message: `unknown command '${command}' (the only command is 'report')` };
  const [file, ...extra] = rest;
  if (file === undefined || file === "") return { kind: "error", message: "report: missing <results.jsonl>" };
  if (extra.length > 0) return { kind: "error", message: `report: unexpected argument '${extra[0] as string}'` };
  if (values.experiment === "") return { kind: "error", message: "report: --experiment needs a name" };
  if (values.html === "") return { kind: "error", message: "report: --html needs a file name" };
  if (values.segments !== undefined) {
    const keys = values.segments.split(",").map((key) => key.trim());
    if (keys.some((key) => key === "")) return { kind: "error", message: "report: --segments needs context keys separated by commas (e.g. region,endpoint)" };
    if (new Set(keys).size !== keys.length) return { kind: "error", message: `report: --segments names a key twice (${values.segments})` };
    return { kind: "report", file, experiment: values.experiment, html: values.html, segments: keys };
  }
  return { kind: "report", file, experiment: values.experiment, html: values.html };
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      experiment: { type: "string", short: "e" },
      html: { type: "string" },
      segments: { type: "string" },
      help: { type: "boolean", short: "h" },
      version: { type: "boolean", short: "v" },
    },
  });
}
