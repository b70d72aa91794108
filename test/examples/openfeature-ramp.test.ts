/** examples/openfeature-ramp: an OpenFeature number flag ramped at runtime, sticky per customer. */
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

const root = path.resolve(__dirname, "../..");

describe("examples/openfeature-ramp", function () {
  // A child process with ts-node: seconds, more than mocha's default 2 s when run with --no-config.
  this.timeout(90_000);

  before(function () {
    if (!fs.existsSync(path.join(root, "dist", "index.js"))) this.skip();
  });

  it("admits about the flag's share at each stage and keeps the 5% customers in as the ramp grows", () => {
    const run = spawnSync(process.execPath, ["-r", "ts-node/register", "examples/openfeature-ramp/main.ts"], {
      cwd: root,
      encoding: "utf8",
      timeout: 60_000,
    });
    assert.equal(run.status, 0, `exit ${String(run.status)} ${String(run.signal)}\n${run.stdout}\n${run.stderr}`);
    const output = run.stdout;

    const shares = new Map<string, number>();
    for (const [, flag, count, total] of output.matchAll(/^flag ([\d.]+): candidate ran for (\d+)\/(\d+) customers/gm)) {
      shares.set(flag ?? "", Number(count) / Number(total));
    }
    assert.deepEqual([...shares.keys()], ["0", "0.05", "0.25", "1"], output);
    // Wide bounds: the hash is uniform but 2000 customers is a sample, and the test must not be brittle.
    assert.equal(shares.get("0"), 0);
    const five = shares.get("0.05") ?? -1;
    assert.ok(five > 0.02 && five < 0.09, `share at 5%: ${five}`);
    const quarter = shares.get("0.25") ?? -1;
    assert.ok(quarter > 0.19 && quarter < 0.31, `share at 25%: ${quarter}`);
    assert.equal(shares.get("1"), 1);

    assert.match(output, /sticky: customer-\d+ was admitted at 5% and again at 25% and 100%/);
    const sticky = /sticky: (\d+) of (\d+) customers admitted at 5% stayed admitted/.exec(output);
    assert.ok(sticky, output);
    assert.equal(sticky[1], sticky[2], "every customer admitted at 5% stays admitted");
  });
});
