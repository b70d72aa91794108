/**
 * Every TypeScript snippet of README.md and docs/*.md, compiled as a user's strict project would
 * compile it: in a fresh app outside the repository, against the packed tarball (`npm pack`)
 * installed in its node_modules, `--strict`, no `skipLibCheck`, under module resolution node16,
 * nodenext and bundler, as an ES module and (node16) as CommonJS. A snippet that stops compiling
 * fails here with the file, the line and TypeScript's message.
 *
 * Free identifiers in snippets (`legacyOrderTotal`, `cart`, `transporter`) come from one declared
 * prelude below: explicit and minimal, so a snippet's own mistakes still show.
 * A block whose info string is `ts signature` is a reference signature (declarations without
 * bodies) and is not compiled; every other ```ts block is.
 */
import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const root = path.resolve(__dirname, "..", "..");
const tsc = path.join(root, "node_modules", "typescript", "bin", "tsc");

/** Packages a snippet may import besides penumbra: the app gets the repository's installed copies. */
const APP_DEPENDENCIES = [
  "ts-pattern",
  "uplot",
  "@types/node",
  "@openfeature/server-sdk",
  "@openfeature/core",
  "@opentelemetry/api",
  "@opentelemetry/sdk-metrics",
  "@opentelemetry/resources",
  "@opentelemetry/core",
  "@opentelemetry/semantic-conventions",
  "prom-client",
  "express",
  "@types/express",
  "@types/express-serve-static-core",
  "@types/serve-static",
  "@types/send",
  "@types/qs",
  "@types/range-parser",
  "@types/body-parser",
  "@types/connect",
  "@types/mime",
  "@types/http-errors",
  "cls-hooked",
  "@types/cls-hooked",
  "nodemailer",
  "@types/nodemailer",
  "stripe",
  "better-sqlite3",
  "@types/better-sqlite3",
  "pg",
  "@types/pg",
  "pino",
  "mocha",
  "@types/mocha",
];

/**
 * What snippets take for granted, declared once. Types are the docs' running example: a cart and
 * its order total.
 */
const PRELUDE = `
import type { Transporter } from "nodemailer";
import type Stripe from "stripe";
import type { Request as ExpressRequest, Response as ExpressResponse } from "express";
declare global {
  interface CartLine { sku: string; price: number; qty: number; taxClass?: string }
  interface Cart { id: string; customerId: string; region: string; lines: CartLine[]; coupon?: string; createdAt?: string }
  interface OrderTotal { total: number; tax: number; currency: string; lines: Array<{ sku: string; tax: number; amount: number }>; meta: { traceId: string; computedAt: string } }
  interface Reply { status: number; body: OrderTotal }
  function legacyOrderTotal(cart: Cart): OrderTotal;
  function newOrderTotal(cart: Cart): OrderTotal;
  function fixedOrderTotal(cart: Cart): OrderTotal;
  function oldTotal(cart: Cart): OrderTotal;
  function newTotal(cart: Cart): OrderTotal;
  function legacyTotal(cart: Cart): OrderTotal;
  function fixedTotal(cart: Cart): OrderTotal;
  const cart: Cart;
  const transporter: Transporter;
  const stripe: Stripe;
  function oldHandler(req: Request): Promise<Response>;
  function newHandler(req: Request): Promise<Response>;
  function oldExpressHandler(req: ExpressRequest, res: ExpressResponse): void;
  function newExpressHandler(req: ExpressRequest, res: ExpressResponse): void;
}
export {};
`;

interface Snippet {
  /** `README.md:34` — the file and the line of the opening fence. */
  where: string;
  code: string;
}

function snippets(): Snippet[] {
  const files = ["README.md", ...fs.readdirSync(path.join(root, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];
  const found: Snippet[] = [];
  for (const file of files) {
    const lines = fs.readFileSync(path.join(root, file), "utf8").split("\n");
    for (let i = 0; i < lines.length; i++) {
      const open = /^```(ts|typescript)(\s+\S.*)?$/.exec(lines[i]!.trimEnd());
      if (open === null) continue;
      const start = i;
      const body: string[] = [];
      for (i++; i < lines.length && !lines[i]!.startsWith("```"); i++) body.push(lines[i]!);
      if ((open[2] ?? "").trim() === "signature") continue;
      found.push({ where: `${file}:${start + 1}`, code: body.join("\n") });
    }
  }
  return found;
}

/** A module file for a snippet: the snippet, made a module so snippets do not share top-level names. */
function moduleText(snippet: Snippet): string {
  return `// ${snippet.where}\n${snippet.code}\nexport {};\n`;
}

describe("the README's and docs' TypeScript snippets, in a user's strict project", function () {
  this.timeout(180_000);
  let app: string;
  let all: Snippet[];

  before(function () {
    if (!fs.existsSync(path.join(root, "dist", "index.js"))) throw new Error("dist/ is missing: run `npm run build` first");
    app = fs.mkdtempSync(path.join(os.tmpdir(), "penumbra-snippets-"));
    // The tarball npm would publish (prepare already ran: `npm test` builds first).
    const packed = execFileSync("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", app], { cwd: root, encoding: "utf8" });
    const { filename } = (JSON.parse(packed) as Array<{ filename: string }>)[0]!;
    const modules = path.join(app, "node_modules");
    fs.mkdirSync(path.join(modules, "penumbra"), { recursive: true });
    execFileSync("tar", ["-xzf", path.join(app, filename!), "-C", path.join(modules, "penumbra"), "--strip-components=1"]);
    for (const dependency of APP_DEPENDENCIES) {
      const from = path.join(root, "node_modules", dependency);
      if (!fs.existsSync(from)) continue;
      fs.mkdirSync(path.dirname(path.join(modules, dependency)), { recursive: true });
      fs.symlinkSync(from, path.join(modules, dependency), "dir");
    }
    fs.writeFileSync(path.join(app, "package.json"), JSON.stringify({ name: "snippet-app", private: true, version: "1.0.0" }));
    fs.writeFileSync(path.join(app, "prelude.d.ts"), PRELUDE);
    all = snippets();
  });

  after(() => {
    if (app !== undefined) fs.rmSync(app, { recursive: true, force: true });
  });

  it("finds the snippets (README and docs)", () => {
    assert.ok(all.length >= 20, `only ${all.length} snippets found`);
    assert.ok(all.some((s) => s.where.startsWith("README.md")));
  });

  const modes: Array<{ name: string; module: string; resolution: string; extension: string }> = [
    { name: "ES modules, node16", module: "node16", resolution: "node16", extension: ".mts" },
    { name: "ES modules, nodenext", module: "nodenext", resolution: "nodenext", extension: ".mts" },
    { name: "bundler", module: "esnext", resolution: "bundler", extension: ".ts" },
    { name: "CommonJS, node16", module: "node16", resolution: "node16", extension: ".cts" },
  ];

  for (const mode of modes) {
    it(`compiles under --strict, no skipLibCheck: ${mode.name}`, () => {
      const dir = path.join(app, mode.name.replace(/[^a-z0-9]+/gi, "-"));
      fs.mkdirSync(dir);
      const files: string[] = [];
      for (const [i, snippet] of all.entries()) {
        // Top-level await exists only in ES modules: as CommonJS the snippet runs inside an async function.
        const commonjs = mode.extension === ".cts";
        const text = commonjs ? asCommonJs(snippet) : moduleText(snippet);
        const file = path.join(dir, `snippet-${String(i).padStart(2, "0")}${mode.extension}`);
        fs.writeFileSync(file, text);
        files.push(file);
      }
      const tsconfig = {
        compilerOptions: {
          strict: true,
          skipLibCheck: false,
          noEmit: true,
          target: "es2022",
          lib: ["es2022", "dom"],
          module: mode.module,
          moduleResolution: mode.resolution,
          types: [],
          esModuleInterop: true,
        },
        files: [path.join(app, "prelude.d.ts"), ...files],
      };
      fs.writeFileSync(path.join(dir, "tsconfig.json"), JSON.stringify(tsconfig, null, 2));
      let output = "";
      try {
        execFileSync(process.execPath, [tsc, "-p", path.join(dir, "tsconfig.json")], { cwd: dir, encoding: "utf8" });
      } catch (error) {
        output = String((error as { stdout?: string }).stdout ?? error);
      }
      assert.equal(output === "" ? "" : explain(output, dir, all), "");
    });
  }
});

/** The snippet as CommonJS: imports become requires by TypeScript itself; top-level await is wrapped. */
function asCommonJs(snippet: Snippet): string {
  const imports: string[] = [];
  const rest: string[] = [];
  for (const line of snippet.code.split("\n")) (/^import\s/.test(line) ? imports : rest).push(line);
  const body = rest.join("\n");
  const wrapped = /\bawait\b/.test(body) ? `async function main(): Promise<void> {\n${body}\n}\nvoid main;` : body;
  return `// ${snippet.where}\n${imports.join("\n")}\n${wrapped}\nexport {};\n`;
}

/** tsc's output with each snippet file named by its place in the docs. */
function explain(output: string, dir: string, all: Snippet[]): string {
  return output.replace(/snippet-(\d+)\.[cm]?ts\((\d+),(\d+)\)/g, (_, i: string, line: string) => {
    const snippet = all[Number(i)];
    if (snippet === undefined) return `snippet ${i}`;
    const [file, fence] = snippet.where.split(":");
    return `${file}:${Number(fence) + Number(line) - 1}`;
  }).split(dir).join("");
}
