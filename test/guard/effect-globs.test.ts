import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import fc from "fast-check";
import { guard } from "../../src/index";

/** Whether `guard` takes `path` for one of `globs`: a sink for a path that is no effect is refused. */
function listed(globs: string[], methodPath: string): boolean {
  try {
    guard("client", {}, { effects: globs, sink: { [methodPath]: () => undefined } });
    return true;
  } catch (error) {
    if (error instanceof TypeError && /is not a listed effect/.test(error.message)) return false;
    throw error;
  }
}

/** The documented glob semantics, written out as a regular expression: `*` inside one segment, `**` any number of segments. */
function reference(glob: string, methodPath: string): boolean {
  if (glob === "**") return true;
  const source = glob
    .split(".")
    .map((segment) => (segment === "**" ? "\u0000" : segment.split("*").map((part) => part.replace(/[\\^$.|?+()[\]{}]/g, "\\$&")).join("[^.]*")))
    .join("\\.")
    .replace(/\\\.\u0000/g, "(?:\\.[^.]+)*")
    .replace(/\u0000\\\./g, "(?:[^.]+\\.)*")
    .replace(/\u0000/g, ".*");
  return new RegExp(`^${source}$`).test(methodPath);
}

describe("guard effect globs", () => {
  it("matches method paths as documented: * inside one segment, ** any number of segments", () => {
    const segment = fc.stringMatching(/^[ab*]{1,4}$/);
    // Adjacent `**` segments are left out here: the expression above reads `**.**.b` as needing a dot
    // before `b`, which the documented meaning does not (they are checked one by one below).
    const glob = fc
      .array(fc.oneof(segment, fc.constant("**")), { minLength: 1, maxLength: 4 })
      .filter((s) => s.every((g, i) => g !== "**" || s[i + 1] !== "**"))
      .map((s) => s.join("."));
    const methodPath = fc.array(fc.stringMatching(/^[ab]{1,3}$/), { minLength: 1, maxLength: 5 }).map((s) => s.join("."));
    fc.assert(
      fc.property(glob, methodPath, (g, p) => {
        assert.equal(listed([g], p), reference(g, p), `${g} vs ${p}`);
      }),
      { numRuns: 2000 },
    );
  });

  it("reads adjacent ** segments as any number of segments too", () => {
    assert.equal(listed(["**.**.b"], "b"), true);
    assert.equal(listed(["**.**.a.*"], "a.b"), true);
    assert.equal(listed(["x.**.**.b"], "x.y.z.b"), true);
    assert.equal(listed(["**.**.b"], "b.c"), false);
  });

  it("decides a glob with many stars against a long method name at once, without backtracking for ever", function () {
    this.timeout(30_000);
    // In a child process, so a matcher that backtracks exponentially is killed instead of hanging the suite.
    const code = `
      const { guard } = require(${JSON.stringify(path.resolve(__dirname, "../../src/index"))});
      const name = "a".repeat(64);
      let refused = false;
      try { guard("client", {}, { effects: ["*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b"], sink: { [name]: () => undefined } }); }
      catch (error) { refused = /is not a listed effect/.test(error.message); }
      process.stdout.write(String(refused));
    `;
    const child = spawnSync(process.execPath, ["-r", "ts-node/register/transpile-only", "-e", code], {
      cwd: path.resolve(__dirname, "../.."),
      encoding: "utf8",
      timeout: 20_000,
    });
    assert.equal(child.signal, null, "the matcher did not finish");
    assert.equal(child.stdout, "true", child.stderr);
  });
});
