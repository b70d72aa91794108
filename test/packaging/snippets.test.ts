/**
 * Every TypeScript snippet of README.md and docs/*.md, compiled as a user's strict project would
 * compile it: in a fresh app outside the repository, against the packed tarball (`npm pack`)
 * installed in its node_modules, `--strict`, no `skipLibCheck`, under module resolution node16,
 * nodenext and bundler, as an ES module and (node16) as CommonJS. A snippet that stops compiling
 * fails here with the file, the line and TypeScript's message.
 *
 * Free identifiers in snippets (`legacyOrderTotal`, `cart`, `transporter`) come from one declared
 * prelude below: explicit and minimal, so a snippet's own mistakes still show.
 * A block whose info string is `ts signature` (a reference signature: declarations without bodies)
 * or `ts sketch` (behaviour shown with an internal helper) is not compiled; every other ```ts block is.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { installApp, markdownSnippets, packTarball, root, tscErrors, type Snippet } from "./fresh-app";

/** The docs' running example (a cart, its order total, a quote), shared with the README walkthrough. */
const EXAMPLE_TYPES = path.join(__dirname, "readme-app", "example-types.d.ts");

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
import type { Express, Request as ExpressRequest, Response as ExpressResponse } from "express";
import type { Transporter } from "nodemailer";
import type Stripe from "stripe";
declare global {
  // Cart, OrderTotal, Reply, AuditEntry: example-types.d.ts.
  class Money { constructor(amount: number, currency: string) }
  class Order { static fromJSON(json: unknown): Order; toJSON(): unknown }
  // The running example: an order total, old and new, and a quote that answers with a status.
  function legacyOrderTotal(cart: Cart): OrderTotal;
  function newOrderTotal(cart: Cart): OrderTotal;
  function fixedOrderTotal(cart: Cart): OrderTotal;
  function decimalOrderTotal(cart: Cart): OrderTotal;
  function oldTotal(cart: Cart): OrderTotal;
  function newTotal(cart: Cart): OrderTotal;
  function legacyTotal(cart: Cart): OrderTotal;
  function fixedTotal(cart: Cart): OrderTotal;
  function legacyQuote(cart: Cart): Reply;
  function oldQuote(cart: Cart): Reply;
  function newQuote(cart: Cart): Reply;
  function control(order: Order): number;
  function candidate(order: Order): number;
  const cart: Cart;
  // Structurally a BucketRule, without importing penumbra (so one prelude serves ES modules and CommonJS).
  const taxRounding: { name: string; match: (diff: { path: string }) => boolean };
  // Clients and handlers an application already has.
  const transporter: Transporter;
  const stripe: Stripe;
  const smtpConfig: { host: string; port: number };
  const key: string;
  const app: Express;
  function legacyOrders(req: Request): Promise<Response>;
  function rewrittenOrders(req: Request): Promise<Response>;
  function getOrderV1(req: ExpressRequest, res: ExpressResponse): void;
  function getOrderV2(req: ExpressRequest, res: ExpressResponse): void;
  const db: { insert(entry: AuditEntry): Promise<void> };
  const client: { once(event: string, listener: () => void): void };
  const mailer: { sendMail(message: object): Promise<unknown> };
  const receipt: object;
  const pool: { query(sql: string, callback: (error: Error | null, rows: unknown[]) => void): void };
  const sql: string;
  const redisClient: { get(key: string): Promise<string | null>; set(key: string, value: string): Promise<unknown> };
  function chargeIfNeeded(rows: unknown[]): void;
  class Pool { constructor(config?: object); query(text: string, values?: unknown[]): Promise<{ rows: unknown[] }> }
}
export {};
`;

/**
 * Snippets that fail for a reason outside the docs, each asserted to still fail (so a fix shows up
 * as a failing test until its entry is removed). Keep this empty; every entry is a bug report.
 */
const KNOWN_GAPS: Array<{ file: string; line: string; error: string }> = [
];

/** Whether a tsc error line (`README.md:130: error TS2345: …`) is the known gap `gap`. */
function isGap(error: string, gap: (typeof KNOWN_GAPS)[number]): boolean {
  const at = /^([^:]+):(\d+): error (TS\d+)/.exec(error);
  if (at === null || at[1] !== gap.file || at[3] !== gap.error) return false;
  const text = fs.readFileSync(path.join(root, gap.file), "utf8").split("\n")[Number(at[2]) - 1] ?? "";
  return text.includes(gap.line);
}

function snippets(): Snippet[] {
  const files = ["README.md", ...fs.readdirSync(path.join(root, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];
  return files.flatMap(markdownSnippets).filter((s) => !["signature", "sketch"].includes(s.label));
}

/** A module file for a snippet: the snippet, made a module so snippets do not share top-level names. */
function moduleText(snippet: Snippet): string {
  return `// ${snippet.where}\n${snippet.code}\nexport {};\n`;
}

interface Mode {
  name: string;
  module: string;
  resolution: string;
  /** One program per mode; node16 compiles every snippet twice, as an ES module and as CommonJS. */
  extensions: string[];
}

const MODES: Mode[] = [
  { name: "node16, as ES modules and as CommonJS", module: "node16", resolution: "node16", extensions: [".mts", ".cts"] },
  { name: "nodenext, as ES modules", module: "nodenext", resolution: "nodenext", extensions: [".mts"] },
  { name: "bundler", module: "esnext", resolution: "bundler", extensions: [".ts"] },
];

const compiled = new Map<string, Promise<string[]>>();

describe("the README's and docs' TypeScript snippets, in a user's strict project", function () {
  this.timeout(180_000);
  let app: string;
  let all: Snippet[];

  before(function () {
    app = fs.mkdtempSync(path.join(os.tmpdir(), "penumbra-snippets-"));
    installApp(app, packTarball(app).tarball, { dependencies: APP_DEPENDENCIES });
    fs.writeFileSync(path.join(app, "prelude.d.ts"), PRELUDE);
    all = snippets();
    // The three programs compile at once (each is mostly tsc reading the same libraries).
    for (const mode of MODES) compiled.set(mode.name, compile(app, mode, all));
  });

  after(() => {
    if (app !== undefined) fs.rmSync(app, { recursive: true, force: true });
  });

  it("finds the snippets (README and docs)", () => {
    assert.ok(all.length >= 20, `only ${all.length} snippets found`);
    assert.ok(all.some((s) => s.where.startsWith("README.md")));
  });

  it("the root entry's declarations need no @types globals: `import \"penumbra\"` alone compiles with types: []", async () => {
    // The snippets' prelude imports nodemailer and express types, which load @types/node for the
    // whole program; a user importing only penumbra may have nothing that does (a NodeJS.* type in
    // a public declaration then fails as TS2503 "Cannot find namespace 'NodeJS'").
    const dir = path.join(app, "root-entry-alone");
    fs.mkdirSync(dir);
    const entry = `import * as penumbra from "penumbra";\nexport type Everything = { [K in keyof typeof penumbra]: (typeof penumbra)[K] };\nexport type Options = penumbra.ConsolePublisherOptions | penumbra.ReplayOptions | penumbra.ExperimentOptions<[number], number>;\n`;
    fs.writeFileSync(path.join(dir, "esm.mts"), entry);
    fs.writeFileSync(path.join(dir, "cjs.cts"), entry);
    const errors = await runTsc(dir, { module: "node16", moduleResolution: "node16", lib: ["es2022"] }, ["esm.mts", "cjs.cts"]);
    assert.deepEqual(errors, []);
  });

  for (const mode of MODES) {
    it(`compiles under --strict, no skipLibCheck: ${mode.name}`, async () => {
      const errors = await compiled.get(mode.name)!;
      // A known gap that no longer shows is fixed: its entry must go, so the list never outlives its reason.
      const fixed = KNOWN_GAPS.filter((gap) => !errors.some((e) => isGap(e, gap)));
      assert.deepEqual(fixed, [], "a known gap no longer fails: remove it from KNOWN_GAPS");
      assert.deepEqual(errors.filter((e) => !KNOWN_GAPS.some((gap) => isGap(e, gap))), []);
    });
  }
});


/** Writes the snippets and a strict tsconfig for `mode`, runs tsc, and resolves to its error lines, named by doc line. */
function compile(app: string, mode: Mode, all: Snippet[]): Promise<string[]> {
  const dir = path.join(app, mode.name.replace(/[^a-z0-9]+/gi, "-"));
  fs.mkdirSync(dir);
  const files: string[] = [];
  for (const extension of mode.extensions) {
    for (const [i, snippet] of all.entries()) {
      const file = path.join(dir, `snippet-${String(i).padStart(2, "0")}${extension}`);
      // Top-level await exists only in ES modules: as CommonJS the snippet runs inside an async function.
      fs.writeFileSync(file, extension === ".cts" ? asCommonJs(snippet) : moduleText(snippet));
      files.push(file);
    }
  }
  return runTsc(dir, { module: mode.module, moduleResolution: mode.resolution, lib: ["es2022", "dom"] }, [EXAMPLE_TYPES, path.join(app, "prelude.d.ts"), ...files], all);
}

/** tsc on `files` with the user's strict settings plus `options`; resolves to the error lines (named by doc line when `all` is given). */
function runTsc(dir: string, options: Record<string, unknown>, files: string[], all: Snippet[] = []): Promise<string[]> {
  const compilerOptions = {
    strict: true,
    skipLibCheck: false,
    noEmit: true,
    target: "es2022",
    // TypeScript 6 loads no @types globals unless listed: penumbra's declarations must not need them.
    types: [],
    esModuleInterop: true,
    ...options,
  };
  return tscErrors(dir, compilerOptions, files, (output) => explain(output, dir, all));
}

/** The snippet as CommonJS: imports become requires by TypeScript itself; top-level await is wrapped. */
function asCommonJs(snippet: Snippet): string {
  const imports: string[] = [];
  const rest: string[] = [];
  // Imports and one-line declarations stay at the top level; the statements go in the function.
  for (const line of snippet.code.split("\n")) (/^(import|declare|interface|type)\s/.test(line) ? imports : rest).push(line);
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
