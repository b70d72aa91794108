// Writes the thin ESM face of every CommonJS entry named in package.json "exports".
// Each .mjs loads the CommonJS build and re-exports its names, so `import` and `require` share one
// module instance (one context store, one configuration). Why not a dual build: docs/architecture.md,
// "One instance".
//
// The CommonJS file is loaded with createRequire, not `import cjs from "./x.js"`: on Node 20, when a
// CommonJS module imported by an ES module throws while loading (an optional peer such as prom-client
// is not installed), the error rejects the import AND is raised again as an uncaught exception, so
// the process exits with code 1 even when the caller caught it. A require() inside the wrapper throws
// once, as an ordinary ES module evaluation error: `await import("penumbra/prometheus")` rejects and
// nothing else happens. The rejection names the package to install.
"use strict";
const fs = require("node:fs");
const path = require("node:path");

const root = path.resolve(__dirname, "..");
const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"));
const peers = Object.keys(pkg.peerDependencies ?? {});
const dist = path.join(root, "dist");
const esmTypes = path.join(dist, "esm");

writeEsmDeclarations();

for (const [subpath, target] of Object.entries(pkg.exports)) {
  if (typeof target !== "object" || !target.import || !target.require) continue;
  const cjsFile = path.join(root, target.require.default);
  const mjsFile = path.join(root, target.import.default);
  const dmtsFile = path.join(root, target.import.types);
  const names = Object.keys(require(cjsFile)).filter((n) => n !== "__esModule" && n !== "default");
  const fromMjs = relative(mjsFile, cjsFile);
  const name = subpath === "." ? pkg.name : `${pkg.name}/${subpath.slice(2)}`;
  fs.mkdirSync(path.dirname(mjsFile), { recursive: true });
  fs.writeFileSync(
    mjsFile,
    `// ESM face of ${name}: the CommonJS build, re-exported (one instance for import and require).\n` +
      `import { createRequire } from "node:module";\n` +
      `const require = createRequire(import.meta.url);\n` +
      `const peers = ${JSON.stringify(peers)};\n` +
      `let cjs;\n` +
      `try {\n` +
      `  cjs = require(${JSON.stringify(fromMjs)});\n` +
      `} catch (error) {\n` +
      `  const missing = error && error.code === "MODULE_NOT_FOUND" ? peers.find((p) => String(error.message).includes(\`'\${p}'\`)) : undefined;\n` +
      `  if (missing === undefined) throw error;\n` +
      `  throw Object.assign(new Error(\`${name} needs the optional peer dependency '\${missing}', which is not installed: npm install \${missing}\`, { cause: error }), { code: "MODULE_NOT_FOUND" });\n` +
      `}\n` +
      `export const { ${names.join(", ")} } = cjs;\n`,
  );
  const expected = path.join(esmTypes, path.relative(dist, path.join(root, target.require.types))).replace(/\.d\.ts$/, ".d.mts");
  if (path.resolve(expected) !== path.resolve(dmtsFile)) {
    throw new Error(`${subpath}: "import.types" must be ${path.relative(root, expected)}, the ESM twin of "require.types"`);
  }
}

/**
 * ESM declarations: every .d.ts under dist/ again as a .d.mts under dist/esm/, its relative imports
 * pointing at the .mjs twins. Why not one `export * from "../index.js"` per entry: TypeScript reads the imports
 * of a .d.ts in the mode of that file (CommonJS here), so a dependency with conditional types, like
 * ts-pattern, is seen through its "require" types (index.d.cts) by penumbra and through its
 * "import" types (index.d.ts) by the user's ES module: two unrelated `Pattern` types, and a
 * `P.string.regex(...)` bucket rule that does not type-check in an ES module. In the twins every
 * import is an ES import, so penumbra's ESM types see what the user's ES module sees.
 */
function writeEsmDeclarations() {
  for (const file of walk(dist)) {
    if (!file.endsWith(".d.ts") || file.startsWith(esmTypes + path.sep)) continue;
    const twin = path.join(esmTypes, path.relative(dist, file)).replace(/\.d\.ts$/, ".d.mts");
    const text = fs.readFileSync(file, "utf8").replace(/(\bfrom\s*|\bimport\s*\(\s*)"(\.{1,2}\/[^"]+)"/g, (_, lead, spec) => {
      return `${lead}"${esmSpecifier(path.dirname(file), spec)}"`;
    });
    fs.mkdirSync(path.dirname(twin), { recursive: true });
    fs.writeFileSync(twin, text);
  }
}

/** `./x` or `./x.js` → `./x.mjs` (a file), `./dir` → `./dir/index.mjs`: the specifiers an ES module needs. */
function esmSpecifier(fromDir, spec) {
  const bare = spec.replace(/\.js$/, "");
  if (fs.existsSync(path.join(fromDir, `${bare}.d.ts`))) return `${bare}.mjs`;
  if (fs.existsSync(path.join(fromDir, bare, "index.d.ts"))) return `${bare}/index.mjs`;
  // Nothing there: a specifier in a doc comment's example, not an import. Left as written.
  return spec;
}

function* walk(dir) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(full);
    else yield full;
  }
}

function relative(fromFile, toFile) {
  const rel = path.relative(path.dirname(fromFile), toFile).split(path.sep).join("/");
  return rel.startsWith(".") ? rel : `./${rel}`;
}
