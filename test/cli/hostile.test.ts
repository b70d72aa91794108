/**
 * `penumbra report` against files nobody here wrote: every bad record is skipped and named, the
 * report covers the rest, nothing from the file reaches the terminal raw, and the exit code never
 * claims more than was read. The fuzz cases are bounded (a few seconds) and stay in the suite.
 */
import { strict as assert } from "node:assert";
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import fc from "fast-check";
import { EXIT, main, type CliIo } from "../../src/cli/main";
import { collectReport } from "../../src/cli/report";
import { Scorecard } from "../../src/operate/scorecard";
import { resultToJSON } from "../../src/store/serialize";
import { run, valueMismatch } from "../operate/fixtures";

const repoRoot = path.resolve(__dirname, "..", "..");

interface Captured {
  code: number;
  out: string;
  err: string;
}

async function report(...argv: string[]): Promise<Captured> {
  let out = "";
  let err = "";
  const io: CliIo = { out: (text) => void (out += text), err: (text) => void (err += text) };
  const code = await main(argv, io);
  return { code, out, err };
}

/** A well-formed result line, parsed back to plain JSON data to be damaged field by field. */
function goodRecord(): Record<string, unknown> {
  return JSON.parse(resultToJSON(run({ experiment: "checkout", candidates: [valueMismatch("total")] }))) as Record<string, unknown>;
}

/** Control characters (other than the line breaks the CLI writes itself) and bidi overrides. */
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

describe("penumbra report on hostile files", () => {
  let dir: string;
  let file: string;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "penumbra-hostile-"));
    file = path.join(dir, "results.jsonl");
  });

  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const damaged: Array<[string, (r: Record<string, unknown>) => void, RegExp]> = [
    ['"candidates":[null]', (r) => void (r["candidates"] = [null]), /candidates\[0\] is not an object/],
    ["a candidate without leaks", (r) => void delete (r["candidates"] as Array<Record<string, unknown>>)[0]!["leaks"], /candidates\[0\]\.leaks is not an array/],
    ['"mismatches":[null]', (r) => void (r["mismatches"] = [null]), /mismatches\[0\] is not an object/],
    ["a numeric candidate name", (r) => void ((r["candidates"] as Array<Record<string, unknown>>)[0]!["name"] = 7), /candidates\[0\]\.name is not a string/],
    ["startedAt 1e300", (r) => void (r["startedAt"] = 1e300), /startedAt is not a time in epoch ms/],
    ["a negative duration", (r) => void ((r["control"] as Record<string, unknown>)["durationMs"] = -1), /control\.durationMs is not a finite number/],
    ["an outcome missing for a candidate", (r) => void (r["outcomes"] = {}), /outcomes\["candidate"\] is not one of/],
    ["an inherited outcome (constructor)", (r) => {
      (r["candidates"] as Array<Record<string, unknown>>)[0]!["name"] = "constructor";
      r["outcomes"] = {};
    }, /outcomes\["constructor"\] is not one of/],
    ["a mismatch for a candidate that did not mismatch", (r) => void ((r["mismatches"] as Array<Record<string, unknown>>)[0]!["candidate"] = "ghost"), /mismatches\[0\]\.candidate "ghost" names no candidate whose outcome is "mismatched"/],
    ["a mismatched outcome without its mismatch", (r) => void (r["mismatches"] = []), /outcomes\["candidate"\] is "mismatched" but no mismatch names it/],
    ["a startedAt before 1970", (r) => void (r["startedAt"] = -8.64e15), /startedAt is not a time in epoch ms/],
    ["a diff without a path", (r) => void delete ((r["mismatches"] as Array<{ diffs: Array<Record<string, unknown>> }>)[0]!.diffs[0]!["path"]), /mismatches\[0\]\.diffs\[0\]\.path is not a string/],
  ];

  for (const [name, damage, problem] of damaged) {
    it(`skips and names a record with ${name}, and reports the rest (exit 3)`, async () => {
      const bad = goodRecord();
      damage(bad);
      fs.writeFileSync(file, `${resultToJSON(run({ experiment: "checkout" }))}\n${JSON.stringify(bad)}\n${resultToJSON(run({ experiment: "checkout" }))}\n`);
      const { code, out, err } = await report("report", file, "--html", path.join(dir, "out.html"));
      assert.equal(code, EXIT.partial, err);
      assert.match(err, new RegExp(`:2: skipped: not a result line \\(${problem.source}`));
      assert.match(out, /2 results, 1 malformed line/);
      assert.match(out, /checkout \/ candidate\n {2}runs 2 /);
      assert.ok(fs.statSync(path.join(dir, "out.html")).size > 0, "the page is written too");
    });
  }

  it("skips startedAt 1e999 (Infinity once parsed) instead of hanging", async () => {
    fs.writeFileSync(file, `${resultToJSON(run())}\n${resultToJSON(run()).replace(/"startedAt":0/, '"startedAt":1e999')}\n`);
    const { code, err } = await report("report", file);
    assert.equal(code, EXIT.partial);
    assert.match(err, /:2: skipped: not a result line \(startedAt is not a time/);
  });

  it("escapes ESC, BEL and bidi overrides from names, reasons and messages in the terminal and in the page", async () => {
    const hostile = run({ experiment: "pay\u001b]0;pwned\u0007\u001b[2J", candidates: [{ name: "v\u202e2", ...valueMismatch("to\u0007tal") }] });
    fs.writeFileSync(file, `${resultToJSON(hostile)}\n{"experiment":"\u001b[31mred"}\n`);
    const html = path.join(dir, "out.html");
    const { code, out, err } = await report("report", file, "--html", html);
    assert.equal(code, EXIT.partial);
    assert.doesNotMatch(out, RAW_CONTROL);
    assert.doesNotMatch(err, RAW_CONTROL);
    assert.match(out, /pay\\x1b\]0;pwned\\x07\\x1b\[2J \/ v\\u202e2/);
    assert.match(out, /to\\x07tal/);
    assert.match(err, /\\x1b\[31mred/);
    const page = fs.readFileSync(html, "utf8");
    const markup = page.replace(/<script[\s\S]*?<\/script>/g, "");
    assert.doesNotMatch(markup, RAW_CONTROL);
    assert.match(markup, /pay\\x1b\]0;pwned\\x07/);
  });

  it("escapes control characters in segment values (context from the file) in the terminal", async () => {
    const hostile = { ...run({ candidates: [valueMismatch("total")] }), context: { region: "eu\u001b[2J\u0007" } };
    fs.writeFileSync(file, `${resultToJSON(hostile)}\n`);
    const { code, out } = await report("report", file, "--segments", "region");
    assert.equal(code, EXIT.ok);
    assert.doesNotMatch(out, RAW_CONTROL);
    assert.match(out, /eu\\x1b\[2J\\x07/);
  });

  it("exits 1 and says why when there is nothing to report: an empty file, only blank lines, every line skipped", async () => {
    fs.writeFileSync(file, "");
    assert.deepEqual(await report("report", file), { code: EXIT.nothing, out: "", err: `penumbra: nothing to report: ${file} is empty\n` });
    fs.writeFileSync(file, "\n\n  \n");
    assert.equal((await report("report", file)).err, `penumbra: nothing to report: ${file} is empty\n`);
    fs.writeFileSync(file, `{"candidates":[null]}\nnot json\n`);
    const bad = await report("report", file);
    assert.equal(bad.code, EXIT.nothing);
    assert.equal(bad.out, "");
    assert.match(bad.err, /:1: skipped: .*\n.*:2: skipped: .*\npenumbra: nothing to report: none of the 2 lines of .* is a result \(each is named above\)\n$/);
  });

  it("prints the version of the package with --version and -v", async () => {
    const { version } = JSON.parse(fs.readFileSync(path.join(repoRoot, "package.json"), "utf8")) as { version: string };
    assert.deepEqual(await report("--version"), { code: 0, out: `${version}\n`, err: "" });
    assert.deepEqual(await report("-v"), { code: 0, out: `${version}\n`, err: "" });
  });

  it("gives a one-sentence usage error for an unknown flag, without parseArgs' second sentence", async () => {
    const { code, err } = await report("--colour");
    assert.equal(code, EXIT.usage);
    assert.equal(err.split("\n")[0], "penumbra: Unknown option '--colour'");
  });

  it("lists reasons in the live Scorecard's order, each with its own diff as the example", async () => {
    const results = [
      ...Array.from({ length: 3 }, () => run({ candidates: [{ mismatch: { kind: "value", diffs: [{ path: "args[9]", kind: "changed", control: 210, candidate: 209 }, { path: "total", kind: "changed", control: 1, candidate: 2 }], summary: "args[9]=210 vs 209, total=1 vs 2" } }] })),
      ...Array.from({ length: 2 }, () => run({ candidates: [valueMismatch("total")] })),
      run({ candidates: [{ effects: [], mismatch: { kind: "effects", diffs: [{ path: "effects[0].args[0].amount", kind: "changed", control: 4990, candidate: 5140 }], summary: "effects[0].args[0].amount=4990 vs 5140" } }], controlEffects: [{ name: "payments.charge", args: [{ amount: 4990 }], role: "control", blocked: false }] }),
    ];
    fs.writeFileSync(file, `${results.map(resultToJSON).join("\n")}\n`);
    const live = new Scorecard();
    for (const r of results) live.publish(r);
    const data = await collectReport(file, {});
    const reported = data.candidates[0]!.summary.reasons;
    assert.deepEqual(reported.map((r) => [r.reason, r.count]), live.summary("checkout")!.reasons.map((r) => [r.reason, r.count]));
    const example = Object.fromEntries(reported.map((r) => [r.reason, r.example]));
    assert.equal(example["args[9]"], "args[9]=210 vs 209");
    assert.equal(example["total"], "total=1 vs 2");
    assert.equal(example["effects:payments.charge"], "effects[0] payments.charge args[0].amount=4990 vs 5140");
  });

  it("survives arbitrary JSON in any field of a record: each line is reported or skipped and named, never a crash", async function () {
    this.timeout(60_000);
    const base = goodRecord();
    const paths = leafPaths(base);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.constantFrom(...paths), fc.oneof(fc.jsonValue(), fc.constant(undefined))), { minLength: 1, maxLength: 3 }),
        async (edits) => {
          const record = structuredClone(base);
          for (const [at, value] of edits) setPath(record, at, value);
          const line = JSON.stringify(record) ?? "null";
          fs.writeFileSync(file, `${line}\n${resultToJSON(run())}\n`);
          const { code, out, err } = await report("report", file, "--html", path.join(dir, "out.html"));
          assert.ok(code === EXIT.ok || code === EXIT.partial, `exit ${code}: ${err}`);
          assert.equal(code === EXIT.partial, /:1: skipped: /.test(err));
          assert.doesNotMatch(out, RAW_CONTROL);
          assert.doesNotMatch(err, RAW_CONTROL);
        },
      ),
      { numRuns: 150 },
    );
  });

  it("survives arbitrary bytes before a good line: it reports that line and exits 0 or 3", async function () {
    this.timeout(60_000);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(fc.uint8Array({ maxLength: 200 }), fc.string({ unit: "binary", maxLength: 80 }).map((s) => Buffer.from(s))), { maxLength: 6 }), async (chunks) => {
        fs.writeFileSync(file, Buffer.concat([...chunks.map((c) => Buffer.from(c)), Buffer.from(`\n${resultToJSON(run())}\n`)]));
        const { code, out, err } = await report("report", file);
        assert.ok(code === EXIT.ok || code === EXIT.partial, `exit ${code}: ${err}`);
        assert.match(out, /checkout \/ candidate/);
        assert.doesNotMatch(out, RAW_CONTROL);
        assert.doesNotMatch(err, RAW_CONTROL);
      }),
      { numRuns: 150 },
    );
  });

  it("a separate process on a hostile file ends with a verdict, never an internal error", async () => {
    const cli = path.join(repoRoot, "dist", "cli", "main.js");
    if (!fs.existsSync(cli)) throw new Error(`${cli} is missing: run \`npm run build\` first`);
    fs.writeFileSync(file, `${resultToJSON(run()).replace(/"startedAt":0/, '"startedAt":1e999')}\n{"candidates":[null]}\n\u001b[2J\u0007\n`);
    const { code, stderr } = await new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(process.execPath, [cli, "report", file], { timeout: 20_000 }, (error, _stdout, stderr) => {
        resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : -1, stderr });
      });
    });
    assert.equal(code, EXIT.nothing, stderr);
    assert.doesNotMatch(stderr, /internal error/);
    assert.doesNotMatch(stderr, RAW_CONTROL);
  });
});

/** Every path (as keys) to a value in `value`, objects and arrays included, so any field can be replaced. */
function leafPaths(value: unknown, at: Array<string | number> = [], out: Array<Array<string | number>> = []): Array<Array<string | number>> {
  out.push(at);
  if (Array.isArray(value)) value.forEach((v, i) => leafPaths(v, [...at, i], out));
  else if (typeof value === "object" && value !== null) for (const [k, v] of Object.entries(value)) leafPaths(v, [...at, k], out);
  return out;
}

function setPath(root: Record<string, unknown>, at: Array<string | number>, value: unknown): void {
  if (at.length === 0) return;
  let node: unknown = root;
  for (const key of at.slice(0, -1)) {
    if (typeof node !== "object" || node === null) return;
    node = (node as Record<string | number, unknown>)[key];
  }
  if (typeof node !== "object" || node === null) return;
  const last = at[at.length - 1]!;
  if (value === undefined) delete (node as Record<string | number, unknown>)[last];
  else (node as Record<string | number, unknown>)[last] = value;
}
