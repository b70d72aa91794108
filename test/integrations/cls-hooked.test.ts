import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import * as path from "node:path";
import { clsHookedContext } from "../../src/integrations/cls-hooked";

const root = path.resolve(__dirname, "../..");

describe("penumbra/cls-hooked", () => {
  it("keeps shadow runs apart from the caller and the app's own namespace values visible inside them", function () {
    this.timeout(60_000);
    const output = execFileSync(process.execPath, ["-r", "ts-node/register", "test/integrations/fixtures/cls-hooked-child.ts"], {
      cwd: root,
      encoding: "utf8",
      timeout: 60_000,
    });
    assert.deepEqual(JSON.parse(output), {
      controlShadow: false,
      controlRequest: "req-7",
      answer: 1,
      callerShadow: false,
      candidateShadow: true,
      candidateRole: "candidate",
      candidateRequest: "req-7",
      outsideShadow: false,
      crossTalk: 0,
      distinctRuns: 200,
    });
  });

  it("rejects something that is not a namespace with a TypeError", () => {
    assert.throws(() => clsHookedContext({} as never), TypeError);
  });
});
