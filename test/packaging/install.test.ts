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
import { installApp, packTarball, root } from "./fresh-app";

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

describe("the installed package", function () {
  this.timeout(120_000);
  let app: string;
  let files: string[];

  before(function () {
    app = fs.mkdtempSync(path.join(os.tmpdir(), "penumbra-install-"));
    const packed = packTarball(app);
    files = packed.files;
    installApp(app, packed.tarball, { dependencies: ["ts-pattern", "uplot"] });
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
