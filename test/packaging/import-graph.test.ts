/**
 * The import rules of docs/architecture.md, checked on the source: no import cycle anywhere in
 * src/ (type-only imports included: a cycle of types is still two files that cannot be read apart),
 * the engine entered only through `experiment/index.ts`, and the leaves (result/, guard/, replay/,
 * context/, types/) importing nothing of the engine's internals.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";

const SRC = path.resolve(__dirname, "../../src");

/** Every .ts file under src/, as a path relative to src/ with forward slashes. */
function sourceFiles(dir = SRC): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(full));
    else if (entry.name.endsWith(".ts")) out.push(path.relative(SRC, full).split(path.sep).join("/"));
  }
  return out.sort();
}

/** The relative imports (and re-exports) of one file, resolved to files under src/. */
function importsOf(file: string, known: ReadonlySet<string>): string[] {
  const text = fs.readFileSync(path.join(SRC, file), "utf8");
  const found = new Set<string>();
  const pattern = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+"(\.{1,2}\/[^"]+)"/g;
  for (const match of text.matchAll(pattern)) {
    const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), match[1] as string));
    const candidates = [`${target}.ts`, `${target}/index.ts`];
    const resolved = candidates.find((c) => known.has(c));
    if (resolved === undefined) throw new Error(`${file}: cannot resolve import "${match[1]}"`);
    found.add(resolved);
  }
  return [...found];
}

/** One cycle of the graph, if any: a path that comes back to where it started. */
function findCycle(graph: ReadonlyMap<string, readonly string[]>): string[] | undefined {
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  // Iterative DFS: the graph is small, but a walk must not depend on the stack depth.
  for (const start of graph.keys()) {
    if (state.has(start)) continue;
    const frames: Array<{ file: string; next: number }> = [{ file: start, next: 0 }];
    state.set(start, "open");
    stack.push(start);
    while (frames.length > 0) {
      const frame = frames[frames.length - 1] as { file: string; next: number };
      const edges = graph.get(frame.file) ?? [];
      if (frame.next >= edges.length) {
        state.set(frame.file, "done");
        stack.pop();
        frames.pop();
        continue;
      }
      const to = edges[frame.next++] as string;
      const seen = state.get(to);
      if (seen === "open") return [...stack.slice(stack.indexOf(to)), to];
      if (seen === undefined) {
        state.set(to, "open");
        stack.push(to);
        frames.push({ file: to, next: 0 });
      }
    }
  }
  return undefined;
}

function graphOfSrc(): Map<string, string[]> {
  const files = sourceFiles();
  const known = new Set(files);
  return new Map(files.map((file) => [file, importsOf(file, known)]));
}

describe("the import graph of src/", () => {
  it("has no import cycle, type-only imports included", () => {
    const cycle = findCycle(graphOfSrc());
    assert.equal(cycle, undefined, `import cycle: ${cycle?.join(" → ") ?? ""}`);
  });

  it("finds a cycle when there is one (the checker itself is checked)", () => {
    const graph = new Map([
      ["a.ts", ["b.ts"]],
      ["b.ts", ["c.ts"]],
      ["c.ts", ["a.ts"]],
      ["d.ts", []],
    ]);
    assert.deepEqual(findCycle(graph), ["a.ts", "b.ts", "c.ts", "a.ts"]);
    assert.equal(findCycle(new Map([["a.ts", ["b.ts"]], ["b.ts", []]])), undefined);
  });

  it("enters the engine only through experiment/index.ts from outside experiment/", () => {
    const offenders: string[] = [];
    for (const [file, imports] of graphOfSrc()) {
      if (file.startsWith("experiment/")) continue;
      for (const target of imports) {
        if (target.startsWith("experiment/") && target !== "experiment/index.ts") offenders.push(`${file} → ${target}`);
      }
    }
    assert.deepEqual(offenders, []);
  });

  it("keeps result/, guard/, context/ and types/ free of any engine import", () => {
    const offenders: string[] = [];
    for (const [file, imports] of graphOfSrc()) {
      if (!/^(result|guard|context|types)\//.test(file)) continue;
      for (const target of imports) if (target.startsWith("experiment/")) offenders.push(`${file} → ${target}`);
    }
    assert.deepEqual(offenders, []);
  });

  it("keeps src/experiment/ to at most ten files that follow one run", () => {
    const engine = sourceFiles().filter((file) => file.startsWith("experiment/"));
    assert.ok(engine.length <= 10, `src/experiment/ has ${engine.length} files: ${engine.join(", ")}`);
  });
});
