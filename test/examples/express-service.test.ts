/** examples/express-service: a shadowed function inside an Express 5 route, exercised over real HTTP. */
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { legacyQuote, sampleOrders } from "../../examples/express-service/shipping";

const root = path.resolve(__dirname, "../..");

describe("examples/express-service", function () {
  // A child process with ts-node: seconds, more than mocha's default 2 s when run with --no-config.
  this.timeout(90_000);

  before(function () {
    if (!fs.existsSync(path.join(root, "dist", "index.js"))) this.skip();
  });

  it("answers every request with the old quote, publishes the rewrite's differences and exits by itself", () => {
    // spawnSync with a timeout: a server or socket left open would hang the example, and the
    // timeout turns that into a failure instead of a stuck suite.
    const run = spawnSync(process.execPath, ["-r", "ts-node/register", "examples/express-service/main.ts"], {
      cwd: root,
      encoding: "utf8",
      timeout: 60_000,
    });
    assert.equal(run.status, 0, `exit ${String(run.status)} ${String(run.signal)}\n${run.stdout}\n${run.stderr}`);
    const output = run.stdout;

    assert.match(output, /listening on http:\/\/127\.0\.0\.1:\d+/);
    const responses = [...output.matchAll(/^POST \/quote (\S+) -> (\d+) (.*)$/gm)];
    assert.equal(responses.length, sampleOrders.length, output);
    sampleOrders.forEach((order, i) => {
      const [, orderId, status, body] = responses[i] ?? [];
      assert.equal(orderId, order.orderId);
      assert.equal(status, "200");
      assert.deepEqual(JSON.parse(body ?? "null"), legacyQuote(order), `response for ${order.orderId} must be the old quote`);
    });

    assert.match(output, /published 4 results: 2 matched, 2 mismatched/);
    assert.match(output, /mismatch o-2: costEur=6\.4 vs 5\.65/);
    assert.match(output, /mismatch o-4: carrier="ups" vs "gls"/);
    assert.match(output, /server closed/);
  });
});
