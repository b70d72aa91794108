/** The smallest example (examples/basic): it must keep working. */
import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

const root = path.resolve(__dirname, "../..");

describe("examples/basic", () => {
  before(function () {
    if (!fs.existsSync(path.join(root, "dist", "index.js"))) this.skip();
  });

  it("answers every call with the old code and prints the published mismatches with their field diffs", () => {
    const output = execFileSync(process.execPath, ["-r", "ts-node/register", "examples/basic/main.ts"], {
      cwd: root,
      encoding: "utf8",
      timeout: 60_000,
    });
    assert.match(output, /300 calls, 300 answered exactly as before by the old code/);
    const published = /published (\d+) results: (\d+) matched, (\d+) mismatched/.exec(output);
    assert.ok(published, output);
    assert.ok(Number(published[3]) > 0, "the rewrite rounds tax differently, so some carts mismatch");
    assert.match(output, /cart-\d+ {2}tax=\d+\.\d+ vs \d+\.\d+, total=/);
  });
});
