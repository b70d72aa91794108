/**
 * The README, followed top to bottom by a new user: a fresh application outside the repository with
 * penumbra installed from the packed tarball, every ```ts snippet of README.md compiled under the
 * user's strict TypeScript (node16, no skipLibCheck) as an ES module app and as a CommonJS app, then
 * run in README order in one process, against real servers (SMTP, a Stripe stand-in, an HTTP sink on
 * 127.0.0.1) and an OpenFeature provider.
 *
 * The app lives in ./readme-app: fixtures.ts gives the README's free names real code, claims.ts
 * checks what each section says against what happened, main.ts runs the steps this test generates
 * from the README. A snippet becomes `run()` of its own module: its imports on top, its statements
 * in the function, then its section's claims with the snippet's top-level constants. A line
 * `// later` (or `// …later`) is where the application serves traffic: the section's `later()` runs
 * there. A snippet with a `// throws` comment must throw; its section's `threw()` checks the error.
 * After the app, this test runs the README's shell commands on the files it wrote and checks what
 * the servers received.
 */
import { strict as assert } from "node:assert";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { startSmtpServer, startStripeStandIn, type LocalServer, type ReceivedCharge, type ReceivedMail } from "../../examples/guarded-clients/servers";
import { installApp, markdownSnippets, packTarball, tscErrors, type Snippet } from "./fresh-app";
import { httpServer, type CountingServer } from "../support/servers";

const APP_SOURCES = path.join(__dirname, "readme-app");

/** What the README's snippets and the walkthrough's fixtures import. */
const DEPENDENCIES = [
  "ts-pattern",
  "uplot",
  "@types/node",
  "@openfeature/server-sdk",
  "@openfeature/core",
  "nodemailer",
  "@types/nodemailer",
  "stripe",
  "better-sqlite3",
  "@types/better-sqlite3",
];

const LATER = /^\s*\/\/\s*(?:…|\.\.\.)?\s*later\b/i;
const THROWS = /\/\/\s*throws\b/;

/** The module that runs `snippet` and then its section's claims (see the header). */
export function stepSource(snippet: Snippet): string {
  const imports: string[] = [];
  const statements: string[] = [];
  for (const line of snippet.code.split("\n")) (/^import\s/.test(line) ? imports : statements).push(line);
  const key = JSON.stringify(snippet.heading);
  const declared: string[] = [];
  const body: string[] = [];
  for (const line of statements) {
    body.push(line);
    if (LATER.test(line)) body.push(`await claims[${key}].later({ ${declared.join(", ")} });`);
    const name = /^(?:const|let)\s+([A-Za-z_$][\w$]*)/.exec(line);
    if (name !== null) declared.push(name[1]!);
  }
  const locals = `{ ${declared.join(", ")} }`;
  const throws = statements.some((line) => THROWS.test(line));
  return [
    `// ${snippet.where} (${snippet.heading})`,
    ...imports,
    `import { claims, retire } from "./claims.js";`,
    `export async function run(): Promise<void> {`,
    throws ? "try {" : "{",
    ...body,
    throws ? "} catch (error) {" : "",
    throws ? `await claims[${key}].threw(error);\nreturn;\n}\nthrow new Error(${JSON.stringify(`${snippet.where}: the README says this snippet throws; it returned`)});` : `await claims[${key}].after(${locals});\nretire(${locals});\n}`,
    `}`,
    ``,
  ].join("\n");
}

/** `steps.ts`: the README's snippets in order, for main.ts. */
function stepsIndex(snippets: Snippet[]): string {
  const imports = snippets.map((_, i) => `import { run as step${i} } from "./step-${String(i).padStart(2, "0")}.js";`);
  const entries = snippets.map((s, i) => `  { where: ${JSON.stringify(s.where)}, heading: ${JSON.stringify(s.heading)}, run: step${i} },`);
  return [...imports, "export const steps = [", ...entries, "];", ""].join("\n");
}

/** tsc's `step-03.ts(7,5)` named by the README line it came from. */
function readmeLines(snippets: Snippet[], app: string) {
  return (output: string): string =>
    output
      .replace(/step-(\d+)\.ts\((\d+),(\d+)\)/g, (_, i: string, line: string) => {
        const snippet = snippets[Number(i)]!;
        const source = stepSource(snippet).split("\n")[Number(line) - 1] ?? "";
        const at = snippet.code.split("\n").indexOf(source);
        return at < 0 ? `step-${i}.ts:${line} (generated: ${source.trim()})` : `README.md:${snippet.line + 1 + at}`;
      })
      .split(app)
      .join("");
}

interface Facts {
  intro: { comparedWithoutPublisher: number; published: number };
  sampledCustomers: string[];
  silent: { emails: string[]; charges: number[] };
  buckets: { runs: number; matchedWithNoise: number; statusChanges: number };
  segments: Array<{ value: string; runs: number; mismatchRate: number }>;
  reasons: Array<{ reason: string; count: number; example: string }>;
  ramp: Record<string, number>;
  replay: { runs: number; differing: number; notReplayed: number };
  warnings: string[];
}

interface Servers {
  smtp: LocalServer<ReceivedMail>;
  stripe: LocalServer<ReceivedCharge>;
  sink: CountingServer;
}

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd, env: { ...process.env, ...env } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 240_000);
    child.on("close", (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

describe("the README, followed top to bottom in a fresh app (packed tarball, strict TypeScript)", function () {
  this.timeout(300_000);
  let work: string;
  let tarball: string;
  let snippets: Snippet[];
  const facts: Record<string, Facts> = {};

  before(function () {
    work = fs.mkdtempSync(path.join(os.tmpdir(), "penumbra-readme-"));
    tarball = packTarball(work).tarball;
    snippets = markdownSnippets("README.md").filter((s) => !["signature", "sketch"].includes(s.label));
  });

  after(() => {
    if (work !== undefined) fs.rmSync(work, { recursive: true, force: true });
  });

  it("finds the README's snippets, each under a section the walkthrough has claims for", () => {
    assert.ok(snippets.length >= 8, `${snippets.length} snippets`);
    const claims = fs.readFileSync(path.join(APP_SOURCES, "claims.ts"), "utf8");
    for (const snippet of snippets) assert.ok(claims.includes(`${JSON.stringify(snippet.heading)}: {`) || claims.includes(`\n  ${snippet.heading}: {`), `${snippet.where}: no claims for "${snippet.heading}"`);
  });

  for (const type of ["module", "commonjs"] as const) {
    const label = type === "module" ? "an ES module app" : "a CommonJS app";
    it(`as ${label}: every snippet compiles under --strict, runs, and each claim holds (published results, named mismatches, real replay counts, silent shadows)`, async () => {
      const app = path.join(work, type);
      fs.mkdirSync(app);
      installApp(app, tarball, { dependencies: DEPENDENCIES, type });
      for (const file of ["fixtures.ts", "claims.ts", "main.ts", "example-types.d.ts"]) fs.copyFileSync(path.join(APP_SOURCES, file), path.join(app, file));
      snippets.forEach((snippet, i) => fs.writeFileSync(path.join(app, `step-${String(i).padStart(2, "0")}.ts`), stepSource(snippet)));
      fs.writeFileSync(path.join(app, "steps.ts"), stepsIndex(snippets));

      const errors = await tscErrors(
        app,
        { strict: true, skipLibCheck: false, target: "es2022", lib: ["es2022"], module: "node16", moduleResolution: "node16", types: ["node"], esModuleInterop: true, outDir: "out", rootDir: "." },
        fs.readdirSync(app).filter((f) => f.endsWith(".ts")),
        readmeLines(snippets, app),
      );
      assert.deepEqual(errors, []);

      const servers: Servers = { smtp: await startSmtpServer(), stripe: await startStripeStandIn(), sink: await httpServer() };
      try {
        const env = { README_SMTP_PORT: String(servers.smtp.port), README_STRIPE_PORT: String(servers.stripe.port), README_SINK_PORT: String(servers.sink.port) };
        const out = await run(process.execPath, [path.join(app, "out", "main.js")], app, env);
        assert.equal(out.status, 0, `the app failed:\n${out.stderr}\n${out.stdout}`);
        const ok = out.stdout.split("\n").filter((l) => l.startsWith("ok "));
        assert.deepEqual(ok, snippets.map((s) => `ok ${s.where} ${s.heading}`));
        const line = out.stdout.split("\n").find((l) => l.startsWith("facts "));
        const seen = JSON.parse(line!.slice("facts ".length)) as Facts;
        facts[type] = seen;

        // Promise 2, from outside the app: only the control's emails and charges arrived, and nothing reached the sink.
        assert.deepEqual(servers.smtp.received.map((m) => m.to).flat(), seen.silent.emails);
        assert.deepEqual(servers.stripe.received.map((c) => c.amount), seen.silent.charges);
        assert.equal(servers.stripe.received[0]!.amount, 4990, "the README cart is charged what the old code says");
        assert.deepEqual([servers.sink.connections, servers.sink.requests], [0, []]);

        // The only warnings a reader meets are the ones the README announces: no publisher yet (first
        // snippet), and a burst beyond maxConcurrent ("Wrap a function").
        const announced = ["PENUMBRA_NO_PUBLISHER", "PENUMBRA_SKIPPING"];
        assert.deepEqual(seen.warnings.map((w) => w.split(":")[0]), announced, seen.warnings.join("\n"));
        assert.deepEqual(out.stderr.split("\n").filter((l) => l.includes("Warning") && !announced.some((code) => l.includes(code))), []);

        // `npx penumbra report results.jsonl --segments region` prints the scorecard's breakdown.
        const bin = path.join(app, "node_modules", ".bin", "penumbra");
        const segments = spawnSync(bin, ["report", "results.jsonl", "--segments", "region"], { cwd: app, encoding: "utf8" });
        assert.equal(segments.status, 0, segments.stderr);
        const section = segments.stdout.slice(segments.stdout.indexOf("legacyOrderTotal / candidate"));
        assert.ok(section.length > 0, segments.stdout);
        for (const row of seen.segments) {
          const printed = new RegExp(`^  region +${row.value} +${row.runs} +${(row.mismatchRate * 100).toFixed(1)}% `, "m");
          assert.match(section, printed, `${row.value}: ${row.runs} runs at ${(row.mismatchRate * 100).toFixed(1)}%\n${section}`);
        }

        for (const row of seen.reasons) {
          const printed = new RegExp(`^  ${row.reason} +${row.count} +[\\d.]+% +${row.example.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`, "m");
          assert.match(section, printed, `the CLI's reason line for ${row.reason}, with the scorecard's example ${row.example}`);
        }

        // `npx penumbra report results.jsonl --html report.html`
        const report = spawnSync(bin, ["report", "results.jsonl", "--html", "report.html"], { cwd: app, encoding: "utf8" });
        assert.equal(report.status, 0, report.stderr);
        for (const experiment of ["order-total", "legacyQuote", "legacyOrderTotal"]) assert.match(report.stdout, new RegExp(`^${experiment} / candidate$`, "m"));
        const html = fs.readFileSync(path.join(app, "report.html"), "utf8");
        assert.match(html, /^<!doctype html>/i);
        assert.ok(html.includes("order-total") && html.includes("legacyQuote"));
      } finally {
        await Promise.all([servers.smtp.close(), servers.stripe.close(), servers.sink.close()]);
      }
    });
  }

  it("samples the same customers in both apps, and ramps and replays alike (sticky in every process)", () => {
    assert.ok(facts["module"] !== undefined && facts["commonjs"] !== undefined, "needs both app runs above to have passed");
    const { warnings: _esm, ...esm } = facts["module"]!;
    const { warnings: _cjs, ...cjs } = facts["commonjs"]!;
    assert.ok(esm.sampledCustomers.length > 0);
    assert.deepEqual(cjs.sampledCustomers, esm.sampledCustomers);
    assert.deepEqual(cjs.ramp, esm.ramp);
    assert.deepEqual(cjs.replay, esm.replay);
    // (Not the buckets' counts: whether two timestamps fall within the 1 s tolerance depends on the machine's load.)
  });
});
