/**
 * The root entry exports exactly the contract's values (API.md names them: 24), and the guarded
 * clients load from their own subpaths, through `require` and `import` alike, as one instance.
 */
import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import * as root from "../../src/index";

const ROOT = path.resolve(__dirname, "../..");

/** The values API.md gives the root entry `penumbra`. */
const CONTRACT_VALUES = [
  "shadow", "Experiment", "flush", "configure",
  "isShadow", "currentRun", "bindShadow", "asyncLocalStorageContext",
  "guard", "sideEffect", "installTripwire",
  "noise", "memoryPublisher", "jsonlPublisher", "consolePublisher", "loggerPublisher",
  "Scorecard", "replay", "readResults",
  "PenumbraError", "MismatchError", "ExperimentError", "ShadowBlockedError", "CandidateTimeoutError",
].sort();

const ADAPTERS: Record<string, string[]> = {
  nodemailer: ["guardMailer"],
  stripe: ["guardStripe"],
  "better-sqlite3": ["guardSqlite"],
  pg: ["classifyPgQuery", "guardPg"],
};

describe("the entry points", () => {
  it("exports exactly the contract's 24 values from the root entry", () => {
    const names = Object.keys(root).filter((name) => name !== "__esModule").sort();
    assert.equal(CONTRACT_VALUES.length, 24);
    assert.deepEqual(names, CONTRACT_VALUES);
  });

  it("declares a CommonJS and an ESM face for each adapter subpath in package.json", () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as {
      exports: Record<string, { import?: { default?: string }; require?: { default?: string } }>;
    };
    for (const name of Object.keys(ADAPTERS)) {
      const entry = pkg.exports[`./${name}`];
      assert.equal(entry?.require?.default, `./dist/adapters/${name}.js`, name);
      assert.equal(entry?.import?.default, `./dist/esm/adapters/${name}.mjs`, name);
    }
  });

  describe("built", () => {
    before(function () {
      if (!fs.existsSync(path.join(ROOT, "dist", "adapters", "pg.js"))) {
        console.log("      (skipped: dist/ is not built; `npm test` builds it first)");
        this.skip();
      }
    });

    it("loads each adapter through require and import as the same functions, and not from the root", () => {
      // Inside the package (a self-reference resolves "penumbra" there), in the ignored scratch folder.
      fs.mkdirSync(path.join(ROOT, ".scratch"), { recursive: true });
      const dir = fs.mkdtempSync(path.join(ROOT, ".scratch", "entries-"));
      try {
        const file = path.join(dir, "entries.mjs");
        fs.writeFileSync(
          file,
          `import { createRequire } from "node:module";
import * as rootEsm from "penumbra";
const require = createRequire(import.meta.url);
const out = { root: Object.keys(rootEsm).filter((n) => n.startsWith("guard") && n !== "guard") };
for (const [name, exported] of Object.entries(${JSON.stringify(ADAPTERS)})) {
  const esm = await import("penumbra/" + name);
  const cjs = require("penumbra/" + name);
  out[name] = exported.map((e) => typeof esm[e] === "function" && esm[e] === cjs[e]);
}
console.log(JSON.stringify(out));`,
        );
        const printed = execFileSync(process.execPath, [file], { cwd: ROOT, encoding: "utf8", timeout: 20_000 });
        assert.deepEqual(JSON.parse(printed), {
          root: [],
          nodemailer: [true],
          stripe: [true],
          "better-sqlite3": [true],
          pg: [true, true],
        });
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
