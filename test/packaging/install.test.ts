/**
 * What a user installs: the packed tarball (what `npm publish` would upload) and a git checkout
 * (`npm install git+https://…`, which runs `prepare`). Each is checked from outside the repository,
 * in a temporary app, so nothing here leans on files the package does not ship.
 */
import { strict as assert } from "node:assert";
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const root = path.resolve(__dirname, "..", "..");
const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as {
  name: string;
  repository?: { url?: string };
  homepage?: string;
  bugs?: { url?: string };
  scripts: Record<string, string>;
  exports: Record<string, unknown>;
  peerDependencies: Record<string, string>;
  peerDependenciesMeta: Record<string, { optional?: boolean }>;
};

/** Which optional peer each subpath needs (the subpaths that need none are not listed). */
const PEER_OF_SUBPATH: Record<string, string> = {
  "./prometheus": "prom-client",
  "./opentelemetry": "@opentelemetry/api",
  "./openfeature": "@openfeature/server-sdk",
  "./cls-hooked": "cls-hooked",
  "./express": "express",
};

/** Unpacks the tarball `npm pack` makes into `<dir>/node_modules/penumbra`; returns the file list. */
function installTarball(dir: string): string[] {
  const packed = execFileSync("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", dir], { cwd: root, encoding: "utf8" });
  const info = (JSON.parse(packed) as Array<{ filename: string; files: Array<{ path: string }> }>)[0]!;
  const target = path.join(dir, "node_modules", "penumbra");
  fs.mkdirSync(target, { recursive: true });
  execFileSync("tar", ["-xzf", path.join(dir, info.filename), "-C", target, "--strip-components=1"]);
  for (const dependency of ["ts-pattern", "uplot"]) fs.symlinkSync(path.join(root, "node_modules", dependency), path.join(dir, "node_modules", dependency), "dir");
  return info.files.map((f) => f.path);
}

describe("the installed package", function () {
  this.timeout(120_000);
  let app: string;
  let files: string[];

  before(function () {
    if (!fs.existsSync(path.join(root, "dist", "index.js"))) throw new Error("dist/ is missing: run `npm run build` first");
    app = fs.mkdtempSync(path.join(os.tmpdir(), "penumbra-install-"));
    files = installTarball(app);
    fs.writeFileSync(path.join(app, "package.json"), JSON.stringify({ name: "app", private: true, version: "1.0.0" }));
  });

  after(() => {
    if (app !== undefined) fs.rmSync(app, { recursive: true, force: true });
  });

  it("ships the build, and the sources its source maps point at", () => {
    assert.ok(files.includes("dist/index.js") && files.includes("dist/esm/index.mjs") && files.includes("dist/esm/index.d.mts"));
    const maps = files.filter((f) => f.endsWith(".js.map"));
    assert.ok(maps.length > 20, `only ${maps.length} source maps`);
    const missing: string[] = [];
    for (const map of maps) {
      const { sources } = JSON.parse(fs.readFileSync(path.join(app, "node_modules", "penumbra", map), "utf8")) as { sources: string[] };
      for (const source of sources) {
        const resolved = path.posix.normalize(path.posix.join(path.posix.dirname(map), source));
        if (!files.includes(resolved)) missing.push(`${map} -> ${source}`);
      }
    }
    assert.deepEqual(missing, []);
  });

  it("names its repository, homepage and issue tracker, and builds itself when installed from git (prepare)", () => {
    assert.match(pkg.repository?.url ?? "", /^git\+https:\/\/github\.com\/[^/]+\/[^/]+\.git$/);
    assert.match(pkg.homepage ?? "", /^https:\/\//);
    assert.match(pkg.bugs?.url ?? "", /^https:\/\//);
    assert.match(pkg.scripts["prepare"] ?? "", /npm run build/);
  });

  it("links the README to absolute URLs in the repository, so links work on the registry's page", () => {
    const readme = fs.readFileSync(path.join(root, "README.md"), "utf8");
    const base = (pkg.repository?.url ?? "").replace(/^git\+/, "").replace(/\.git$/, "");
    const links = [...readme.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!);
    assert.ok(links.length > 5);
    const relative = links.filter((l) => !/^(https?:|mailto:|#)/.test(l));
    assert.deepEqual(relative, [], "relative links break outside the repository");
    for (const link of links.filter((l) => l.startsWith(base))) {
      const file = link.slice(base.length).replace(/^\/blob\/main\//, "").replace(/#.*$/, "");
      assert.ok(fs.existsSync(path.join(root, file)), `${link}: ${file} does not exist`);
    }
  });

  it("prints its version from the installed bin", () => {
    const out = execFileSync(process.execPath, [path.join(app, "node_modules", "penumbra", "dist", "cli", "main.js"), "--version"], { encoding: "utf8" });
    assert.equal(out, `${JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")).version as string}\n`);
  });

  /** Loads `specifier` both ways in a fresh process of the app, which has no optional peer installed. */
  function probe(specifier: string): { status: number | null; stderr: string; seen: { esm: string; code?: string; cjs: string } | undefined } {
    const script = path.join(app, `probe-${specifier.replace(/\W/g, "-")}.mjs`);
    fs.writeFileSync(
      script,
      `import { createRequire } from "node:module";
const seen = {};
try { await import(${JSON.stringify(specifier)}); seen.esm = "loaded"; } catch (error) { seen.esm = error.message; seen.code = error.code; }
try { createRequire(import.meta.url)(${JSON.stringify(specifier)}); seen.cjs = "loaded"; } catch (error) { seen.cjs = error.message.split("\\n")[0]; }
setTimeout(() => console.log(JSON.stringify(seen)), 20);
`,
    );
    const run = spawnSync(process.execPath, [script], { cwd: app, encoding: "utf8", timeout: 20_000, env: { ...process.env, PENUMBRA_TRIPWIRE: "network=off,childProcess=off" } });
    return { status: run.status, stderr: run.stderr, seen: run.status === 0 ? (JSON.parse(run.stdout) as { esm: string; code?: string; cjs: string }) : undefined };
  }

  for (const [subpath, peer] of Object.entries(PEER_OF_SUBPATH)) {
    const specifier = `${pkg.name}/${subpath.slice(2)}`;
    it(`without ${peer} installed, import('${specifier}') and require('${specifier}') either load or fail once, catchably, naming ${peer}`, () => {
      assert.ok(subpath in pkg.exports, `${subpath} is not exported`);
      assert.equal(pkg.peerDependenciesMeta[peer]?.optional, true, `${peer} is an optional peer`);
      const { status, stderr, seen } = probe(specifier);
      assert.equal(status, 0, `the process died although the error was caught: ${stderr}`);
      assert.equal(stderr, "");
      // Some subpaths use their peer's types only and load without it; the others must say what to install.
      const needsPeer = subpath === "./prometheus" || subpath === "./opentelemetry";
      if (needsPeer || seen!.esm !== "loaded") {
        assert.equal(seen!.esm, `${specifier} needs the optional peer dependency '${peer}', which is not installed: npm install ${peer}`);
        assert.equal(seen!.code, "MODULE_NOT_FOUND");
        assert.match(seen!.cjs, new RegExp(`Cannot find module '${peer.replace(/[/]/g, "\\/")}'`));
      } else {
        assert.equal(seen!.cjs, "loaded");
      }
    });
  }

  it("never lets loading any exported subpath kill the process, whatever peers are missing", () => {
    for (const subpath of Object.keys(pkg.exports)) {
      if (subpath === "./package.json") continue;
      const specifier = subpath === "." ? pkg.name : `${pkg.name}/${subpath.slice(2)}`;
      const { status, stderr, seen } = probe(specifier);
      assert.equal(status, 0, `${specifier}: the process died: ${stderr}`);
      const peers = Object.keys(pkg.peerDependencies).map((p) => `'${p}'`);
      assert.ok(seen!.esm === "loaded" || peers.some((p) => seen!.esm.includes(p)), `${specifier}: ${seen!.esm}`);
    }
  });

  it("follows the README's record-then-replay loop from the installed package, ESM and CommonJS: counts are real, an empty verdict is refused", () => {
    const body = (load: string): string => `${load}
const { configure, flush, jsonlPublisher, replay, shadow } = penumbra;
const legacyOrderTotal = (cart) => ({ total: cart.lines.reduce((s, l) => s + l.price * l.qty, 0) });
const newOrderTotal = (cart) => ({ total: cart.lines.reduce((s, l) => s + l.price * l.qty, 0) + (cart.coupon ? 1 : 0) });
const run = async (file, captureArgs) => {
  const results = jsonlPublisher(file);
  configure({ publishers: [results] });
  const orderTotal = shadow(legacyOrderTotal, newOrderTotal, { name: "order-total-" + captureArgs, captureArgs });
  for (let i = 0; i < 6; i++) orderTotal({ lines: [{ price: 10 + i, qty: 1 }], coupon: i % 3 === 0 ? "X" : undefined });
  await flush();
  await results.close();
};
(async () => {
  const out = {};
  await run(process.argv[2], true);
  const buggy = await replay(process.argv[2], { control: legacyOrderTotal, candidate: newOrderTotal, progress: false });
  const fixed = await replay(process.argv[2], { control: legacyOrderTotal, candidate: legacyOrderTotal, progress: false });
  out.replayed = [buggy.runs, buggy.differing.length, fixed.runs, fixed.differing.length, fixed.notice === undefined];
  await run(process.argv[3], false);
  try { await replay(process.argv[3], { control: legacyOrderTotal, candidate: newOrderTotal, progress: false }); out.refused = "resolved"; }
  catch (error) { out.refused = error.code + ": " + /captureArgs: true/.test(error.message); }
  console.log(JSON.stringify(out));
})();
`;
    fs.writeFileSync(path.join(app, "readme-loop.mjs"), body('import * as penumbra from "penumbra";'));
    fs.writeFileSync(path.join(app, "readme-loop.cjs"), body('const penumbra = require("penumbra");'));
    for (const script of ["readme-loop.mjs", "readme-loop.cjs"]) {
      const withArgs = path.join(app, `${script}.jsonl`);
      const without = path.join(app, `${script}.noargs.jsonl`);
      const out = execFileSync(process.execPath, [path.join(app, script), withArgs, without], { cwd: app, encoding: "utf8", timeout: 30_000 });
      assert.deepEqual(JSON.parse(out), { replayed: [6, 2, 6, 0, true], refused: "PENUMBRA_NOTHING_REPLAYED: true" }, script);
      const bin = path.join(app, "node_modules", "penumbra", "dist", "cli", "main.js");
      const report = spawnSync(process.execPath, [bin, "report", withArgs], { encoding: "utf8" });
      assert.equal(report.status, 0, report.stderr);
      assert.match(report.stdout, /order-total-true \/ candidate\n {2}runs 6 /);
      assert.match(report.stdout, /total +2 +33\.3% +total=10 vs 11/);
      fs.writeFileSync(path.join(app, "empty.jsonl"), "");
      const empty = spawnSync(process.execPath, [bin, "report", path.join(app, "empty.jsonl")], { encoding: "utf8" });
      assert.equal(empty.status, 1);
      assert.match(empty.stderr, /nothing to report: .*empty\.jsonl is empty/);
    }
  });

  it("installs from a git checkout: prepare builds dist/ in a fresh clone of HEAD", function () {
    const clone = path.join(app, "clone");
    execFileSync("git", ["clone", "--quiet", "--depth", "1", `file://${root}`, clone]);
    // A clone has no node_modules: the repository's installed dev dependencies stand in for `npm install`.
    fs.symlinkSync(path.join(root, "node_modules"), path.join(clone, "node_modules"), "dir");
    assert.ok(!fs.existsSync(path.join(clone, "dist")), "dist/ is not committed");
    const packed = execFileSync("npm", ["pack", "--dry-run", "--json"], { cwd: clone, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    const listed = (JSON.parse(packed) as Array<{ files: Array<{ path: string }> }>)[0]!.files.map((f) => f.path);
    assert.ok(listed.includes("dist/index.js"), "prepare built dist/ before packing");
    assert.ok(listed.includes("dist/cli/main.js"));
  });
});
