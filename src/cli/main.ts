#!/usr/bin/env node
/**
 * `penumbra`, the command line: `penumbra report <results.jsonl> [--experiment name] [--html out.html] [--segments keys]`.
 *
 * Bad lines never stop a report: each is named on stderr (the first 20, then a count) and the
 * report covers the good ones. A file that cannot be read is one line on stderr and exit code 2,
 * so scripts can tell "nothing to report" from "could not look".
 */
import * as fs from "node:fs";
import { parseCommand, USAGE } from "./args";
import { renderHtml } from "./html";
import { collectReport, type ReportData } from "./report";
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
 * 0 report printed, 1 no results, 2 usage error or unreadable file.
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
    return 0;
  }
  if (command.kind === "error") {
    io.err(`penumbra: ${command.message}\n${USAGE.split("\n")[0] as string}\n`);
    return 2;
  }
  let data: ReportData;
  try {
    data = await collectReport(command.file, { experiment: command.experiment, segments: command.segments });
  } catch (error) {
    io.err(`penumbra: cannot read ${command.file}: ${oneLine(error)}\n`);
    return 2;
  }
  reportMalformed(data, io);
  if (data.results === 0) {
    const which = command.experiment === undefined ? "" : ` for experiment '${command.experiment}'`;
    io.err(`penumbra: no results${which} in ${command.file}\n`);
    return 1;
  }
  io.out(renderTable(data));
  if (command.html !== undefined) {
    try {
      fs.writeFileSync(command.html, renderHtml(data));
    } catch (error) {
      io.err(`penumbra: cannot write ${command.html}: ${oneLine(error)}\n`);
      return 2;
    }
    io.out(`\nwrote ${command.html}\n`);
  }
  return 0;
}

function reportMalformed(data: ReportData, io: CliIo): void {
  for (const bad of data.malformed.slice(0, MALFORMED_LISTED)) {
    // The parser's messages start with "penumbra: " themselves; once per line is enough.
    io.err(`penumbra: ${data.file}:${bad.line}: skipped: ${bad.error.replace(/^penumbra: /, "")}\n`);
  }
  const more = data.malformedCount - Math.min(MALFORMED_LISTED, data.malformed.length);
  if (more > 0) io.err(`penumbra: ${data.file}: ${more} more malformed line${more === 1 ? "" : "s"} skipped\n`);
}

function oneLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split("\n")[0] ?? text;
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
      process.exitCode = 70;
    },
  );
}
