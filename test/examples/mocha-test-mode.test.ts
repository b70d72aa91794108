/** examples/mocha-test-mode: Scientist's test mode in a mocha spec, one agreement and one caught regression. */
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

const root = path.resolve(__dirname, "../..");

/** What the failing test's MismatchError must say: both values and the field-by-field summary. */
function assertMismatchReport(output: string): void {
  assert.match(output, /1 passing/);
  assert.match(output, /1 failing/);
  assert.equal(output.match(/^\s+\d+\) /gm)?.length, 2, "one numbered failure, listed once in the run and once in the report");
  assert.match(output, /MismatchError: experiment 'total-per-line-tax' observations mismatched:/);
  assert.match(output, /control:\n\s+\{ subtotal: 25\.45, tax: 3\.28, total: 28\.73 \}/);
  assert.match(output, /candidate:\n\s+\{ subtotal: 25\.45, tax: 3\.29, total: 28\.74 \}/);
  assert.match(output, /difference \(candidate, value\): tax=3\.28 vs 3\.29, total=28\.73 vs 28\.74/);
  assert.doesNotMatch(output, /total-refactor' observations mismatched/, "the refactor agrees and must pass");
}

describe("examples/mocha-test-mode", function () {
  // Child processes with ts-node: seconds, more than mocha's default 2 s when run with --no-config.
  this.timeout(90_000);

  before(function () {
    if (!fs.existsSync(path.join(root, "dist", "index.js"))) this.skip();
  });

  it("main.ts runs the spec: one test passes, one fails with a MismatchError listing both values and the diff", () => {
    const run = spawnSync(process.execPath, ["-r", "ts-node/register", "examples/mocha-test-mode/main.ts"], {
      cwd: root,
      encoding: "utf8",
      timeout: 60_000,
    });
    assert.equal(run.status, 0, `exit ${String(run.status)} ${String(run.signal)}\n${run.stdout}\n${run.stderr}`);
    assertMismatchReport(run.stdout);
    assert.match(run.stdout, /mocha-test-mode: 1 passing, 1 failing/);
    assert.match(run.stdout, /failed: order totals \(penumbra test mode\) the per-line tax rewrite agrees with the old total \(MismatchError\)/);
  });

  it("the documented mocha CLI command reports the same single failure (exit code 1)", () => {
    // mocha's own bin rather than npx: the same command, without npx's lookup, and no .mocharc.json.
    const mochaBin = path.join(root, "node_modules", "mocha", "bin", "mocha.js");
    const run = spawnSync(process.execPath, [mochaBin, "--no-config", "-r", "ts-node/register", "examples/mocha-test-mode/totals.spec.ts"], {
      cwd: root,
      encoding: "utf8",
      timeout: 60_000,
    });
    assert.equal(run.status, 1, `mocha exits with the number of failures\n${run.stdout}\n${run.stderr}`);
    assertMismatchReport(run.stdout);
  });
});
