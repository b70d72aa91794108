#!/usr/bin/env node
/**
 * `penumbra`, the command line: `penumbra report <results.jsonl> [--experiment name] [--html out.html] [--segments keys]`.
 *
 * Bad lines never stop a report: each is named on stderr (the first 20, then a count) and the
 * report covers the good ones. The exit code never claims more than was read: 0 every line was
 * reported, 3 some were skipped, 1 nothing was (an empty file, every line skipped, no results of
 * the chosen experiment), 2 the file could not be read or the command line is wrong, so scripts
 * can tell "nothing to report" from "could not look". Everything taken from the file is escaped
 * before it reaches the terminal.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parseCommand, USAGE } from "./args";
import { renderHtml } from "./html";
import { collectReport, type ReportData } from "./report";
import { printable } from "./escape";
import { renderTable } from "./table";

/** Malformed lines named one by one on stderr; past this, only their count. */
const MALFORMED_LISTED = 20;

/**
 * Where the CLI writes: the process's streams, or test doubles.
 *
 * @example
 * ```ts
 * const io: CliIo = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) };
 * ```
 */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
}

/**
 * Runs the CLI on `argv` (without `node` and the script) and resolves to the exit code:
 * 0 every line reported, 3 report printed but some lines skipped, 1 nothing to report,
 * 2 usage error or unreadable file (see {@link EXIT}).
 *
 * @example
 * ```ts
 * process.exitCode = await main(["report", "results.jsonl", "--html", "report.html"]);
 * ```
 */
export async function main(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  const command = parseCommand(argv);
  if (command.kind === "help") {
    io.out(USAGE);
    return EXIT.ok;
  }
  if (command.kind === "version") {
    io.out(`${version()}\n`);
    return EXIT.ok;
  }
  if (command.kind === "error") {
    io.err(`penumbra: ${printable(command.message)}\n${USAGE.split("\n")[0] as string}\n`);
    return EXIT.usage;
  }
  const file = printable(command.file);
  let data: ReportData;
  try {
    data = await collectReport(command.file, { experiment: command.experiment, segments: command.segments });
  } catch (error) {
    io.err(`penumbra: cannot read ${file}: ${oneLine(error)}\n`);
    return EXIT.unreadable;
  }
  reportMalformed(data, file, io);
  if (data.results === 0) {
    io.err(`penumbra: nothing to report: ${nothingBecause(data, command.experiment)}\n`);
    return EXIT.nothing;
  }
  io.out(renderTable(data));
  if (command.html !== undefined) {
    try {
      fs.writeFileSync(command.html, renderHtml(data));
    } catch (error) {
      io.err(`penumbra: cannot write ${printable(command.html)}: ${oneLine(error)}\n`);
      return EXIT.unreadable;
    }
    io.out(`\nwrote ${printable(command.html)}\n`);
  }
  if (data.malformedCount > 0) {
    io.err(`penumbra: partial report: ${data.malformedCount} of ${data.lines} lines skipped (named above); the report covers the other ${data.results + data.filtered}\n`);
    return EXIT.partial;
  }
  return EXIT.ok;
}

/**
 * The CLI's exit codes: a script can tell a full report from a partial one, and both from nothing
 * to report and from a command that could not look.
 *
 * @example
 * ```ts
 * if ((await main(["report", file])) === EXIT.partial) console.warn("some lines were skipped");
 * ```
 */
export const EXIT = Object.freeze({ ok: 0, nothing: 1, usage: 2, unreadable: 2, partial: 3, internal: 70 });

/** Why a report has no results, in words a user can act on. */
function nothingBecause(data: ReportData, experiment: string | undefined): string {
  if (data.lines === 0) return `${printable(data.file)} is empty`;
  if (data.malformedCount === data.lines) {
    return `none of the ${data.lines} line${data.lines === 1 ? "" : "s"} of ${printable(data.file)} is a result (each is named above)`;
  }
  if (experiment !== undefined) {
    return `no results for experiment '${printable(experiment)}' in ${printable(data.file)} (${data.filtered} result${data.filtered === 1 ? "" : "s"} of other experiments)`;
  }
  return `no results in ${printable(data.file)}`;
}

function reportMalformed(data: ReportData, file: string, io: CliIo): void {
  for (const bad of data.malformed.slice(0, MALFORMED_LISTED)) {
    // The parser's messages start with "penumbra: " themselves; once per line is enough.
    io.err(`penumbra: ${file}:${bad.line}: skipped: ${printable(bad.error.replace(/^penumbra: /, ""))}\n`);
  }
  const more = data.malformedCount - Math.min(MALFORMED_LISTED, data.malformed.length);
  if (more > 0) io.err(`penumbra: ${file}: ${more} more malformed line${more === 1 ? "" : "s"} skipped\n`);
}

function oneLine(error: unknown): string {
  let text: string;
  try {
    text = error instanceof Error ? String(error.message) : String(error);
  } catch {
    text = "unknown error";
  }
  return printable(text.split("\n")[0] ?? text);
}

/** The version in the package.json two levels up: from dist/cli/ when installed, src/cli/ in the repository. */
function version(): string {
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "..", "package.json"), "utf8")) as { version?: unknown };
    return typeof pkg.version === "string" ? pkg.version : "unknown";
  } catch {
    return "unknown";
  }
}

function processIo(): CliIo {
  return { out: (text) => void process.stdout.write(text), err: (text) => void process.stderr.write(text) };
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      // Only a bug in the CLI itself gets here: still one line, and a distinct exit code.
      process.stderr.write(`penumbra: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exitCode = EXIT.internal;
    },
  );
}
