import { strict as assert } from "node:assert";
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseCommand } from "../../src/cli/args";
import { escapeHtml, scriptJson } from "../../src/cli/escape";
import { writeDemoFile } from "./fixtures";

const repoRoot = path.resolve(__dirname, "..", "..");
const cli = path.join(repoRoot, "dist", "cli", "main.js");

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI as a user would: a separate node process. */
function penumbra(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, ...args], { cwd: repoRoot }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

describe("penumbra CLI", () => {
  let dir: string;
  let file: string;

  before(function () {
    if (!fs.existsSync(cli)) throw new Error(`${cli} is missing: run \`npm run build\` first`);
  });

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "penumbra-cli-"));
    file = path.join(dir, "results.jsonl");
  });

  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("is built as an executable script with a node shebang", () => {
    assert.equal(fs.readFileSync(cli, "utf8").split("\n")[0], "#!/usr/bin/env node");
    if (process.platform !== "win32") assert.ok((fs.statSync(cli).mode & 0o111) !== 0, "dist/cli/main.js is executable");
  });

  it("prints the scorecard of every experiment and candidate as a table", async () => {
    writeDemoFile(file);
    const { code, stdout, stderr } = await penumbra("report", file);
    assert.equal(code, 0, stderr);
    assert.equal(stderr, "");
    assert.match(stdout, /^penumbra report: .*results\.jsonl: 250 results, 2025-01-15T09:00:00\.000Z \.\. 2025-01-15T09:59:42\.000Z\n/);
    assert.match(stdout, /\ncheckout-total \/ candidate\n  runs 200   skipped 0\n/);
    assert.match(stdout, /status match 96\.0%   field match 80\.5%   errors 4\.0%   timeouts 0\.0%   leaks 0\.0%/);
    assert.match(stdout, /\n  control +[\d.]+ +[\d.]+ +[\d.]+\n  candidate +[\d.]+ +[\d.]+ +[\d.]+\n  p95 ratio \(candidate \/ control\) \d+\.\d\dx\n/);
    // Reasons: most frequent first, with count, share and an example.
    const reasons = stdout.slice(stdout.indexOf("  reason "), stdout.indexOf("search-ranking"));
    const rows = reasons.trim().split("\n").slice(1).map((l) => l.trim().split(/ {3,}/));
    assert.deepEqual(rows.map((r) => r.slice(0, 3)), [
      ["total", "20", "10.0%"],
      ["tax-rounding", "11", "5.5%"],
      ["error:TypeError", "8", "4.0%"],
    ]);
    assert.equal(rows[0]![3], "total=49.9 vs 51.4");
    // Each reason's example is that reason's own diff, not the run's whole summary.
    assert.equal(rows[1]![3], "lines[0].tax=0.1 vs 0.09");
    assert.equal(rows[2]![3], "returned {…} vs threw TypeError");
    assert.match(stdout, /\nsearch-ranking \/ v2\n  runs 50 .*\n  status match 100\.0%   field match 100\.0%[\s\S]*  no mismatches\n$/);
  });

  it("--experiment keeps one experiment's results", async () => {
    writeDemoFile(file);
    const { code, stdout } = await penumbra("report", file, "--experiment", "search-ranking");
    assert.equal(code, 0);
    assert.match(stdout, /50 results, .*\(experiment search-ranking; 200 other results left out\)/);
    assert.doesNotMatch(stdout, /checkout-total \//);
    assert.match(stdout, /search-ranking \/ v2\n  runs 50/);
    const none = await penumbra("report", file, "-e", "no-such-experiment");
    assert.equal(none.code, 1);
    assert.equal(none.stderr, `penumbra: nothing to report: no results for experiment 'no-such-experiment' in ${file} (250 results of other experiments)\n`);
  });

  it("names malformed lines with their numbers on stderr, reports the good ones and exits 3 (partial)", async () => {
    writeDemoFile(file, ["{not json", JSON.stringify({ experiment: "x" }), ...Array.from({ length: 22 }, () => "garbage")]);
    const { code, stdout, stderr } = await penumbra("report", file);
    assert.equal(code, 3);
    assert.match(stdout, /250 results, 24 malformed lines/);
    const lines = stderr.trimEnd().split("\n");
    assert.equal(lines.length, 22, "the first 20, then a count, then the partial verdict");
    assert.equal(lines[21], "penumbra: partial report: 24 of 274 lines skipped (named above); the report covers the other 250");
    assert.match(lines[0]!, new RegExp(`^penumbra: ${escapeRegExp(file)}:251: skipped: malformed result line \\(`));
    assert.match(lines[1]!, /:252: skipped: not a result line \(runId is not a string\)/);
    assert.match(lines[19]!, /:270: skipped: /);
    assert.equal(lines[20], `penumbra: ${file}: 4 more malformed lines skipped`);
  });

  it("a missing file is one line on stderr and exit code 2", async () => {
    const missing = path.join(dir, "missing.jsonl");
    const { code, stdout, stderr } = await penumbra("report", missing);
    assert.equal(code, 2);
    assert.equal(stdout, "");
    assert.equal(stderr, `penumbra: cannot read ${missing}: ENOENT: no such file or directory, open '${missing}'\n`);
    const directory = await penumbra("report", dir);
    assert.equal(directory.code, 2);
    assert.match(directory.stderr, /^penumbra: cannot read .*: EISDIR[^\n]*\n$/);
  });

  it("usage errors exit 2; --help prints the usage", async () => {
    const help = await penumbra("--help");
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Usage: penumbra report <results\.jsonl> \[--experiment <name>\] \[--html <out\.html>\]/);
    const bad = await penumbra("report", file, "--colour");
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^penumbra: Unknown option '--colour'/);
    assert.deepEqual(parseCommand([]), { kind: "error", message: "missing command (try: penumbra report <results.jsonl>)" });
    assert.deepEqual(parseCommand(["report", "a.jsonl", "b.jsonl"]), { kind: "error", message: "report: unexpected argument 'b.jsonl'" });
    assert.deepEqual(parseCommand(["report", "a.jsonl", "--html", "out.html"]), { kind: "report", file: "a.jsonl", experiment: undefined, html: "out.html" });
  });

  it("--html writes a self-contained page: uPlot inlined, no network URLs, data escaped", async () => {
    writeDemoFile(file);
    const out = path.join(dir, "report.html");
    const { code, stdout } = await penumbra("report", file, "--html", out);
    assert.equal(code, 0);
    assert.match(stdout, new RegExp(`wrote ${escapeRegExp(out)}\\n$`));
    const html = fs.readFileSync(out, "utf8");
    const uplot = fs.readFileSync(require.resolve("uplot/dist/uPlot.iife.min.js"), "utf8");
    assert.ok(html.includes(uplot.slice(0, 200)), "uPlot's script is inlined");
    assert.ok(html.includes(".uplot"), "uPlot's stylesheet is inlined");
    assert.doesNotMatch(html, /<script[^>]*\bsrc=/i);
    assert.doesNotMatch(html, /<link[^>]*\bhref=/i);
    assert.doesNotMatch(html, /(src|href)\s*=\s*["']?https?:/i);
    assert.match(html, /<script type="application\/json" id="penumbra-data">/);
    assert.match(html, /id="latency-0"[\s\S]*id="timeline-0"[\s\S]*id="latency-1"/);
    // Hostile data stays data.
    assert.equal(escapeHtml(`<img src=x onerror="a">&`), "&#60;img src=x onerror=&#34;a&#34;&#62;&#38;");
    assert.doesNotMatch(scriptJson({ reason: "</script><script>alert(1)</script>" }), /</);
    assert.deepEqual(JSON.parse(scriptJson({ reason: "</script>&\u2028" })), { reason: "</script>&\u2028" });
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
