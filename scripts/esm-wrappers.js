// Writes the thin ESM face of every CommonJS entry named in package.json "exports".
// Each .mjs imports the CommonJS build and re-exports its names, so `import` and `require`
// share one module instance (one context store, one configuration). Why not a dual build:
// docs/architecture.md, "One instance".
"use strict";
const fs = require("node:fs");
const path = require("node:path");

const root = path.resolve(__dirname, "..");
const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"));

for (const [subpath, target] of Object.entries(pkg.exports)) {
  if (typeof target !== "object" || !target.import || !target.require) continue;
  const cjsFile = path.join(root, target.require.default);
  const mjsFile = path.join(root, target.import.default);
  const dmtsFile = path.join(root, target.import.types);
  const names = Object.keys(require(cjsFile)).filter((n) => n !== "__esModule" && n !== "default");
  const fromMjs = relative(mjsFile, cjsFile);
  const fromDmts = relative(dmtsFile, cjsFile.replace(/\.js$/, ".js"));
  fs.mkdirSync(path.dirname(mjsFile), { recursive: true });
  fs.writeFileSync(
    mjsFile,
    `// ESM face of ${subpath}: the CommonJS build, re-exported.\n` +
      `import cjs from ${JSON.stringify(fromMjs)};\n` +
      `export const { ${names.join(", ")} } = cjs;\n`,
  );
  fs.writeFileSync(dmtsFile, `export * from ${JSON.stringify(fromDmts)};\n`);
}

function relative(fromFile, toFile) {
  const rel = path.relative(path.dirname(fromFile), toFile).split(path.sep).join("/");
  return rel.startsWith(".") ? rel : `./${rel}`;
}
