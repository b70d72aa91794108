/**
 * A user's fresh application outside the repository, with penumbra installed from the packed
 * tarball (what `npm publish` would upload), and the docs' TypeScript snippets as data. Shared by
 * the packaging tests, so each reads the package the way a user receives it, not the repository.
 */
import { execFile, execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

export const root = path.resolve(__dirname, "..", "..");
const tsc = path.join(root, "node_modules", "typescript", "bin", "tsc");

/** Packs the package into `dir` (prepare already ran: `npm test` builds first); returns the tarball's path and its file list. */
export function packTarball(dir: string): { tarball: string; files: string[] } {
  if (!fs.existsSync(path.join(root, "dist", "index.js"))) throw new Error("dist/ is missing: run `npm run build` first");
  const packed = execFileSync("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", dir], { cwd: root, encoding: "utf8" });
  const info = (JSON.parse(packed) as Array<{ filename: string; files: Array<{ path: string }> }>)[0]!;
  return { tarball: path.join(dir, info.filename), files: info.files.map((f) => f.path) };
}

/**
 * Makes `app` an application with the tarball unpacked as `node_modules/penumbra`, its bin linked
 * as npm links it, and `dependencies` linked from the repository's installed copies (no registry).
 */
export function installApp(app: string, tarball: string, options: { dependencies?: string[]; type?: "module" | "commonjs" } = {}): void {
  const modules = path.join(app, "node_modules");
  fs.mkdirSync(path.join(modules, "penumbra"), { recursive: true });
  execFileSync("tar", ["-xzf", tarball, "-C", path.join(modules, "penumbra"), "--strip-components=1"]);
  fs.mkdirSync(path.join(modules, ".bin"), { recursive: true });
  fs.symlinkSync(path.join("..", "penumbra", "dist", "cli", "main.js"), path.join(modules, ".bin", "penumbra"));
  for (const dependency of options.dependencies ?? []) {
    const from = path.join(root, "node_modules", dependency);
    if (!fs.existsSync(from)) continue;
    fs.mkdirSync(path.dirname(path.join(modules, dependency)), { recursive: true });
    fs.symlinkSync(from, path.join(modules, dependency), "dir");
  }
  const manifest = { name: "app", private: true, version: "1.0.0", ...(options.type === undefined ? {} : { type: options.type }) };
  fs.writeFileSync(path.join(app, "package.json"), JSON.stringify(manifest, null, 2));
}

/** One ```ts block of a Markdown file. */
export interface Snippet {
  /** `README.md:34`: the file and the line of the opening fence. */
  where: string;
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  /** The nearest heading above the block, without its #s. */
  heading: string;
  /** The fence's label after `ts` (`signature`, `sketch`), or "". */
  label: string;
  code: string;
}

/** The ```ts / ```typescript blocks of `file` (relative to the repository), in order. */
export function markdownSnippets(file: string): Snippet[] {
  const lines = fs.readFileSync(path.join(root, file), "utf8").split("\n");
  const found: Snippet[] = [];
  let heading = "";
  for (let i = 0; i < lines.length; i++) {
    const title = /^#{1,6}\s+(.*)$/.exec(lines[i]!);
    if (title !== null) heading = title[1]!.trim();
    const open = /^```(ts|typescript)(\s+\S.*)?$/.exec(lines[i]!.trimEnd());
    if (open === null) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !lines[i]!.startsWith("```"); i++) body.push(lines[i]!);
    found.push({ where: `${file}:${start + 1}`, file, line: start + 1, heading, label: (open[2] ?? "").trim(), code: body.join("\n") });
  }
  return found;
}

/**
 * Runs the repository's TypeScript on `dir/tsconfig.json` (written from `compilerOptions` and
 * `files`); resolves to tsc's error lines, with `rename` applied to each (e.g. to name doc lines).
 */
export function tscErrors(dir: string, compilerOptions: Record<string, unknown>, files: string[], rename: (output: string) => string = (o) => o): Promise<string[]> {
  fs.writeFileSync(path.join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions, files }, null, 2));
  return new Promise((resolve) => {
    execFile(process.execPath, [tsc, "-p", path.join(dir, "tsconfig.json")], { cwd: dir, encoding: "utf8", maxBuffer: 16 * 1024 * 1024 }, (error, stdout) => {
      const output = error === null ? "" : stdout || String(error);
      resolve(rename(output).trim().split("\n").filter((l) => / error TS\d+/.test(l)));
    });
  });
}
