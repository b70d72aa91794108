/**
 * The built package, loaded the ways users load it: `import` and `require` share one instance, and
 * even two installed copies agree on whether code runs in a shadow run (the Symbol.for slot).
 * `npm test` builds first, so dist/ is current.
 */
import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const root = path.resolve(__dirname, "../..");
/** An app outside the repository (the tests leave nothing in it), where `penumbra` is installed by a link. */
let app: string;

function runNode(file: string): string {
  return execFileSync(process.execPath, [file], { cwd: app, encoding: "utf8", timeout: 20_000 }).trim();
}

function scratch(name: string, text: string): string {
  const file = path.join(app, name);
  fs.writeFileSync(file, text);
  return file;
}

describe("the built package", () => {
  before(function () {
    if (!fs.existsSync(path.join(root, "dist", "index.js"))) {
      console.log("    skipped: dist/ is missing (run `npm run build`; `npm test` builds first)");
      this.skip();
    }
    app = fs.mkdtempSync(path.join(os.tmpdir(), "penumbra-one-instance-"));
    fs.mkdirSync(path.join(app, "node_modules"));
    fs.symlinkSync(root, path.join(app, "node_modules", "penumbra"), "dir");
    for (const dependency of ["ts-pattern", "uplot"]) {
      fs.symlinkSync(path.join(root, "node_modules", dependency), path.join(app, "node_modules", dependency), "dir");
    }
  });

  after(() => {
    if (app !== undefined) fs.rmSync(app, { recursive: true, force: true });
  });

  it("gives import and require the same instance", () => {
    const file = scratch(
      "same-instance.mjs",
      `import * as esm from "penumbra";
import { createRequire } from "node:module";
const cjs = createRequire(import.meta.url)("penumbra");
console.log(JSON.stringify({ shadow: esm.shadow === cjs.shadow, experiment: esm.Experiment === cjs.Experiment }));`,
    );
    assert.deepEqual(JSON.parse(runNode(file)), { shadow: true, experiment: true });
  });

  it("lets code loaded through require see a shadow run started through import", () => {
    const file = scratch(
      "cross-format.mjs",
      `import { shadow, flush } from "penumbra";
import { createRequire } from "node:module";
const cjs = createRequire(import.meta.url)("penumbra");
const seen = {};
const wrapped = shadow(() => { seen.control = cjs.isShadow(); return 1; }, async () => { await null; seen.candidate = cjs.isShadow(); return 1; }, { publish: () => {} });
wrapped();
await flush();
console.log(JSON.stringify(seen));`,
    );
    assert.deepEqual(JSON.parse(runNode(file)), { control: false, candidate: true });
  });

  it("lets a second installed copy see a shadow run started by the first", () => {
    const copies = path.join(app, "node_modules", ".penumbra-copies");
    for (const name of ["a", "b"]) {
      const target = path.join(copies, name);
      fs.rmSync(target, { recursive: true, force: true });
      fs.mkdirSync(target, { recursive: true });
      fs.cpSync(path.join(root, "dist"), path.join(target, "dist"), { recursive: true });
      fs.copyFileSync(path.join(root, "package.json"), path.join(target, "package.json"));
    }
    const file = scratch(
      "two-copies.cjs",
      `const a = require(${JSON.stringify(path.join(copies, "a"))});
const b = require(${JSON.stringify(path.join(copies, "b"))});
const seen = { distinct: a.shadow !== b.shadow };
const wrapped = a.shadow(() => { seen.control = b.isShadow(); return 1; }, () => { seen.candidate = b.isShadow(); seen.run = b.currentRun()?.role; return 1; }, { publish: () => {} });
wrapped();
a.flush().then(() => console.log(JSON.stringify(seen)));`,
    );
    assert.deepEqual(JSON.parse(runNode(file)), { distinct: true, control: false, candidate: true, run: "candidate" });
  });
});
