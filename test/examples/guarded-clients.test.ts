/** examples/guarded-clients: nodemailer, better-sqlite3 and Stripe guarded, against real local servers. */
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

const root = path.resolve(__dirname, "../..");

describe("examples/guarded-clients", function () {
  // A child process with ts-node and three local servers: seconds, more than mocha's default 2 s.
  this.timeout(90_000);

  before(function () {
    if (!fs.existsSync(path.join(root, "dist", "index.js"))) this.skip();
  });

  it("only the control's email, row and charge arrive; the candidate's are recorded as blocked and compared", () => {
    const run = spawnSync(process.execPath, ["-r", "ts-node/register", "examples/guarded-clients/main.ts"], {
      cwd: root,
      encoding: "utf8",
      timeout: 60_000,
    });
    assert.equal(run.status, 0, `exit ${String(run.status)} ${String(run.signal)}\n${run.stdout}\n${run.stderr}`);
    const output = run.stdout;

    assert.match(output, /checkout order-1 -> \{"orderId":"order-1","status":"confirmed"\}/);
    assert.match(output, /checkout order-2 -> \{"orderId":"order-2","status":"confirmed"\}/);

    // What the outside world received: two checkouts, so two of each, with the control's amounts.
    assert.match(output, /smtp server received 2 message\(s\):\n {2}to=ada@example\.com subject="Order order-1 confirmed"\n {2}to=grace@example\.com subject="Order order-2 confirmed"\n/);
    assert.match(output, /sqlite orders table has 2 row\(s\):\n {2}order-1 ada@example\.com amount_cents=4990\n {2}order-2 grace@example\.com amount_cents=4941\n/);
    assert.match(output, /stripe stand-in received 2 charge\(s\):\n {2}POST \/v1\/payment_intents amount=4990 order=order-1\n {2}POST \/v1\/payment_intents amount=4941 order=order-2\n/);

    // What the candidate tried: recorded, blocked, no leaks past the tripwire.
    assert.equal(output.match(/candidate effects for order-\d: 3 recorded and blocked, 0 leak\(s\)/g)?.length, 2, output);
    assert.equal(output.match(/ {2}blocked stripe\.paymentIntents\.create amount=4990/g)?.length, 2);
    assert.match(output, / {2}blocked db\.run "INSERT INTO orders .*" \["order-2","grace@example\.com",4990\]/);
    assert.match(output, / {2}blocked mailer\.sendMail to=grace@example\.com subject="Order order-2 confirmed"/);

    assert.match(output, /order-1: matched \(same answer, same effects\)/);
    assert.match(output, /order-2: mismatch \(effects\) effects\[0\] stripe\.paymentIntents\.create args\[0\]\.amount=4941 vs 4990/);
    assert.match(output, /effects\[1\] db\.run args\[3\]=4941 vs 4990/);
  });
});
