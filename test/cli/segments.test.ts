/**
 * `penumbra report --segments`: the terminal table and the page's bar chart markup, from a results
 * file whose context carries the region and the endpoint (the page itself is drawn in Chromium in
 * segments-browser.test.ts).
 */
import { strict as assert } from "node:assert";
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseCommand } from "../../src/cli/args";
import { collectReport } from "../../src/cli/report";
import { renderHtml } from "../../src/cli/html";
import { renderSegments } from "../../src/cli/segments";
import { renderTable } from "../../src/cli/table";
import { writeDemoFile } from "./fixtures";
import { writeSegmentFile } from "./segment-fixtures";

const repoRoot = path.resolve(__dirname, "..", "..");
const cli = path.join(repoRoot, "dist", "cli", "main.js");

function penumbra(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, ...args], { cwd: repoRoot }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : -1, stdout, stderr });
    });
  });
}

/** The segment table's rows as cells (split on the 3-space column gaps). */
function segmentRows(stdout: string): string[][] {
  const start = stdout.indexOf("  key ");
  const lines = stdout.slice(start).split("\n").slice(1);
  const rows: string[][] = [];
  for (const line of lines) {
    if (!/^ {2}\S/.test(line) || line.startsWith("  *") || line.startsWith("  reason")) break;
    rows.push(line.trim().split(/ {3,}/));
  }
  return rows;
}

describe("penumbra report --segments", () => {
  let dir: string;
  let file: string;

  before(function () {
    if (!fs.existsSync(cli)) throw new Error(`${cli} is missing: run \`npm run build\` first`);
  });

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "penumbra-segments-"));
    file = path.join(dir, "results.jsonl");
    writeSegmentFile(file);
  });

  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("prints where the mismatches cluster, highest lift first, before the reasons", async () => {
    const { code, stdout, stderr } = await penumbra("report", file, "--segments", "region,endpoint");
    assert.equal(code, 0, stderr);
    assert.match(stdout, /\n {2}where the mismatches cluster \(by region, endpoint; overall mismatch rate 13\.6% of 250 runs\)\n/);
    assert.ok(stdout.indexOf("where the mismatches cluster") < stdout.indexOf("  reason "), "segments come before the reasons");
    const rows = segmentRows(stdout);
    const overall = 34 / 250;
    const checkout = 20 + 10 + 4; // every mismatch is on /checkout: NY and TX runs are even, AK is /checkout
    assert.deepEqual(rows.slice(0, 3), [
      ["region", "NY", "40", "50.0%", `${(0.5 / overall).toFixed(2)}x`, "coupon-after-tax (20)"],
      ["endpoint", "/checkout", "124", `${((checkout / 124) * 100).toFixed(1)}%`, `${(checkout / 124 / overall).toFixed(2)}x`, "coupon-after-tax (20), tax-rounding (14)"],
      ["region", "TX", "40", "25.0%", `${(0.25 / overall).toFixed(2)}x`, "tax-rounding (10)"],
    ]);
    const last = rows.slice(-2);
    assert.deepEqual(
      last.map((r) => r.slice(0, 5)),
      [
        ["region", "(none)", "6", "0.0%", "0.00x*"],
        ["endpoint", "(none)", "6", "0.0%", "0.00x*"],
      ],
    );
    assert.deepEqual(rows.at(-3)?.slice(0, 5), ["region", "AK", "4", "100.0%", `${(1 / overall).toFixed(2)}x*`], "AK has the highest lift but only 4 runs: last");
    assert.match(stdout, /\n {2}\* fewer than 10 runs: listed last, the rate is an anecdote\n/);
  });

  it("names a value's causes before the effects that carry them, counts unchanged", async () => {
    const data = await collectReport(file, { segments: ["region"] });
    const summary = data.candidates[0]!.summary;
    const ny = { ...summary.segments[0]!, reasons: [{ reason: "effects:payments.charge", count: 20 }, { reason: "effects:mailer.sendMail", count: 19 }, { reason: "coupon-after-tax", count: 20 }] };
    const lines = renderSegments({ ...summary, segments: [ny] }, ["region"]);
    assert.match(lines.join("\n"), /NY .* coupon-after-tax \(20\), effects:payments\.charge \(20\), effects:mailer\.sendMail \(19\)$/m);
    const html = renderHtml({ ...data, candidates: [{ ...data.candidates[0]!, summary: { ...summary, segments: [ny] } }] }, { js: "", css: "" });
    assert.match(html, /<td><code>coupon-after-tax<\/code> 20, <code>effects:payments\.charge<\/code> 20/);
  });

  it("leaves the report as it was without --segments", async () => {
    const { code, stdout } = await penumbra("report", file);
    assert.equal(code, 0);
    assert.doesNotMatch(stdout, /where the mismatches cluster/);
  });

  it("shows a key no result carries as (none) for every run, not as an empty breakdown", async () => {
    writeDemoFile(file);
    const { code, stdout } = await penumbra("report", file, "--segments", "region", "-e", "checkout-total");
    assert.equal(code, 0);
    assert.deepEqual(segmentRows(stdout)[0]?.slice(0, 4), ["region", "(none)", "200", "19.5%"]);
  });

  it("rejects an empty or repeated key list as a usage error", async () => {
    assert.deepEqual(parseCommand(["report", "a.jsonl", "--segments", "region, endpoint"]), {
      kind: "report",
      file: "a.jsonl",
      experiment: undefined,
      html: undefined,
      segments: ["region", "endpoint"],
    });
    for (const bad of ["", "region,,endpoint", "region,region"]) {
      const parsed = parseCommand(["report", "a.jsonl", "--segments", bad]);
      assert.equal(parsed.kind, "error", bad);
      assert.match(parsed.kind === "error" ? parsed.message : "", /--segments/);
    }
    const bad = await penumbra("report", file, "--segments", ",");
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^penumbra: report: --segments needs context keys/);
    const help = await penumbra("--help");
    assert.match(help.stdout, /--segments <keys>/);
  });

  it("draws one bar per value against a dashed overall line in the page, values escaped", async () => {
    const data = await collectReport(file, { segments: ["region", "endpoint"] });
    const html = renderHtml(data, { js: "", css: "" });
    const figures = html.match(/<figure class="segment-chart" data-key="[^"]+"/g) ?? [];
    assert.deepEqual(figures, ['<figure class="segment-chart" data-key="region"', '<figure class="segment-chart" data-key="endpoint"']);
    const region = html.slice(html.indexOf('data-key="region"'), html.indexOf('data-key="endpoint"'));
    assert.deepEqual(
      [...region.matchAll(/<g class="segment" data-value="([^"]*)" data-rate="([^"]*)" data-runs="(\d+)"/g)].map((m) => [m[1], Number(m[2]), Number(m[3])]),
      [
        ["NY", 0.5, 40],
        ["TX", 0.25, 40],
        ["CA", 0, 40],
        ["NJ", 0, 40],
        ["OR", 0, 40],
        ["WA", 0, 40],
        ["AK", 1, 4],
        ["(none)", 0, 6],
      ],
    );
    assert.match(region, new RegExp(`<line class="overall" data-rate="${34 / 250}"`));
    assert.match(html, /<table class="segments">/);
    // A hostile value is text, never markup.
    const hostile = { ...data, candidates: data.candidates.map((c) => ({ ...c, summary: { ...c.summary, segments: [{ ...c.summary.segments[0]!, value: `<img src=x onerror="a">` }] } })) };
    const page = renderHtml(hostile, { js: "", css: "" });
    assert.doesNotMatch(page, /<img src=x/);
    assert.match(page, /&#60;img src=x onerror=&#34;a&#34;&#62;/);
    assert.ok(renderTable(data).includes("where the mismatches cluster"));
  });
});
