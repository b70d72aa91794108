/** The README's first command runs this demo (`npm run demo`); here at 400 carts, as a child process. */
import { strict as assert } from "node:assert";
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const root = path.resolve(__dirname, "../..");

interface Facts {
  distinctRequests: number;
  shadowRuns: number;
  mismatched: number;
  reasons: Array<{ reason: string; count: number }>;
  segments: Array<{ key: string; value: string; runs: number; mismatchRate: number; lift: number; reasons: Array<{ reason: string; count: number }> }>;
  leaks: number;
  effects: Array<{ label: string; expected: number; received: number }>;
  answeredByOld: number;
  replay: { asShipped: { runs: number; differing: number }; fixed: { runs: number; differing: number } };
  exitCode: number;
}

describe("examples/order-totals (npm run demo)", function () {
  this.timeout(60_000);
  let out: string;
  let run: { code: number | null; stdout: string; stderr: string };

  before(async function () {
    if (!fs.existsSync(path.join(root, "dist", "index.js"))) this.skip(); // "penumbra" resolves to the build
    out = fs.mkdtempSync(path.join(os.tmpdir(), "order-totals-test-"));
    run = await new Promise((resolve) => {
      execFile(
        process.execPath,
        ["-r", "ts-node/register", "examples/order-totals/main.ts", "--carts", "400", "--out", out],
        { cwd: root, timeout: 55_000, maxBuffer: 8 * 1024 * 1024 },
        (error, stdout, stderr) => resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : -1, stdout, stderr }),
      );
    });
  });
  after(() => {
    if (out !== undefined) fs.rmSync(out, { recursive: true, force: true });
  });

  const facts = (): Facts => JSON.parse(fs.readFileSync(path.join(out, "summary.json"), "utf8")) as Facts;

  it("exits 0 with no leak, and says so", () => {
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    assert.equal(facts().leaks, 0);
    assert.match(run.stdout, /tripwire leaks\s+0/);
    assert.match(run.stdout, /no leaks/);
  });

  it("delivers exactly the control's emails and charges: expected from the traffic, received by the servers", () => {
    const { effects, distinctRequests, answeredByOld } = facts();
    assert.equal(effects.length, 3);
    for (const check of effects) assert.equal(check.received, check.expected, check.label);
    assert.equal(effects[1]?.expected, distinctRequests, "one charge per distinct request: retries are not charged again");
    assert.equal(answeredByOld, distinctRequests, "every customer got the old service's total");
    assert.match(run.stdout, /confirmation emails \(SMTP server\)\s+expected\s+\d+\s+received\s+\d+\s+ok/);
  });

  it("names exactly the planted differences, with an exact example each", () => {
    const { reasons, shadowRuns } = facts();
    assert.ok(shadowRuns > 100, `shadow runs: ${shadowRuns}`);
    const named = reasons.map((r) => r.reason).filter((reason) => !reason.startsWith("effects:"));
    assert.deepEqual(new Set(named), new Set(["tax-rounding-per-line", "coupon-before-tax"]));
    assert.match(run.stdout, /tax-rounding-per-line\s+\d+ runs .*e\.g\. (tax|total)=\d+(\.\d+)? vs \d+(\.\d+)?/);
    assert.match(run.stdout, /coupon-before-tax\s+\d+ runs .*e\.g\. taxBase=\d+(\.\d+)? vs \d+(\.\d+)?/);
  });

  it("prints where the mismatches cluster by region and coupon before the buckets, with the scorecard's numbers", () => {
    const { segments, shadowRuns, mismatched } = facts();
    const regions = segments.filter((s) => s.key === "region");
    assert.equal(
      regions.reduce((n, s) => n + s.runs, 0),
      shadowRuns,
      "every shadow run is in one region",
    );
    assert.ok(regions.every((s) => s.value !== "(none)"), "every cart is taxed in a region the context names");
    assert.ok(segments.some((s) => s.key === "coupon" && s.value === "no coupon"));
    const clustered = run.stdout.indexOf("where the mismatches cluster, by region");
    assert.ok(clustered > 0 && clustered < run.stdout.indexOf("reasons (a run counts once per reason)"), "segments come before the buckets");
    for (const s of regions) {
      // The line the terminal prints for the region carries the summary's own rate and lift.
      const line = new RegExp(`\n {4}${s.value.replace(/[-]/g, "\\-")} +${(s.mismatchRate * 100).toFixed(1)}% of +${s.runs} runs +lift +${s.lift.toFixed(2)}x`);
      assert.match(run.stdout, line);
    }
    // The planted bugs, by construction: Oregon has no sales tax (nothing to round, a coupon moves no
    // tax), and only New York's after-tax coupon rule is missing from the table the rewrite reads.
    assert.equal(regions.find((s) => s.value === "us-or")?.mismatchRate ?? 0, 0);
    const coupon = regions.filter((s) => s.reasons.some((r) => r.reason === "coupon-before-tax"));
    assert.ok(coupon.every((s) => s.value === "us-ny"), `coupon-before-tax only in us-ny: ${coupon.map((s) => s.value).join(", ")}`);
    const mismatchedInRegions = regions.reduce((n, s) => n + Math.round(s.mismatchRate * s.runs), 0);
    assert.equal(mismatchedInRegions, mismatched);
  });

  it("gives each stage's guardrails a verdict, explains its counts and ends with the next step", () => {
    assert.match(run.stdout, /stage 1 .*\n {2}guardrails:\n {4}mismatch rate +not judged: \d+ runs < 100\n/);
    const blocks = [...run.stdout.matchAll(/ {2}guardrails:\n((?: {4}.*\n){4})/g)];
    assert.equal(blocks.length, 4, "one verdict block per stage");
    for (const block of blocks) {
      for (const line of (block[1] ?? "").trimEnd().split("\n")) {
        assert.match(line, /^ {4}(mismatch rate|timeout rate|p95 ratio|leak) +(not judged: \d+ runs < \d+|ok: |TRIPPED: )/);
      }
    }
    assert.match(run.stdout, /\np95 ratio: the candidate's charge, insert and email are sunk/);
    const { effects, distinctRequests } = facts();
    const noEmail = distinctRequests - (effects[0]?.expected ?? 0);
    assert.match(run.stdout, new RegExp(`; ${noEmail} of them come from old accounts with no email address`));
    assert.match(run.stdout, /\nshadow runs: \d+ of the \d+ distinct checkouts were mirrored/);
    const tail = run.stdout.trimEnd().split("\n").slice(-5).join("\n");
    assert.match(tail, /^next step: /m, "the demo ends with what to do next");
  });

  it("writes the HTML report with the segment chart", () => {
    const html = fs.readFileSync(path.join(out, "report.html"), "utf8");
    assert.match(html, /<figure class="segment-chart" data-key="region"/);
    assert.match(html, /<figure class="segment-chart" data-key="coupon"/);
  });

  it("replays the recorded mismatches: all of them still differ with the rewrite, none with the fix", () => {
    const { replay, mismatched } = facts();
    assert.ok(mismatched > 0);
    assert.deepEqual(replay.asShipped, { runs: mismatched, differing: mismatched });
    assert.deepEqual(replay.fixed, { runs: mismatched, differing: 0 });
    assert.match(run.stdout, /fixed rewrite:\s+replayed \d+, still differing 0/);
  });

  it("writes results.jsonl with the captured carts", () => {
    const lines = fs.readFileSync(path.join(out, "results.jsonl"), "utf8").trim().split("\n");
    assert.equal(lines.length, facts().shadowRuns);
    const first = JSON.parse(lines[0] ?? "{}") as { experiment?: string; args?: unknown[] };
    assert.equal(first.experiment, "order-total");
    assert.equal(first.args?.length, 1);
  });

  it("with --leak (a rewrite that calls the provider behind the guards' back), rolls back at once and exits 1", async () => {
    const leakOut = fs.mkdtempSync(path.join(os.tmpdir(), "order-totals-leak-"));
    try {
      const leakRun = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
        execFile(
          process.execPath,
          ["-r", "ts-node/register", "examples/order-totals/main.ts", "--carts", "400", "--leak", "--out", leakOut],
          { cwd: root, timeout: 55_000, maxBuffer: 8 * 1024 * 1024 },
          (error, stdout) => resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : -1, stdout }),
        );
      });
      assert.equal(leakRun.code, 1, leakRun.stdout);
      const leaked = JSON.parse(fs.readFileSync(path.join(leakOut, "summary.json"), "utf8")) as Facts & { trips: Array<{ reason: string }> };
      assert.ok(leaked.leaks > 0);
      assert.equal(leaked.trips[0]?.reason, "leak");
      for (const check of leaked.effects) assert.equal(check.received, check.expected, `${check.label}: the blocked call reached nothing`);
      assert.match(leakRun.stdout, /ROLLED BACK: leak/);
      assert.match(leakRun.stdout, /POST http:\/\/127\.0\.0\.1:\d+\/v1\/fraud_checks \(blocked\)/);
    } finally {
      fs.rmSync(leakOut, { recursive: true, force: true });
    }
  });
});
