/**
 * The process tripwire, judged by marker files the started processes and workers write: a
 * candidate's process must never run in block mode, must run (and be recorded) in report mode,
 * and the control and code outside experiments must never be touched.
 */
import { strict as assert } from "node:assert";
import { exec, execFile, execFileSync, fork, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { installTripwire } from "../../src/index";
import { leaksOf, runOnce } from "../support/one-run";

/** Node code that writes the file named by its first argument. */
const WRITE_MARKER = "require('fs').writeFileSync(process.argv[1], 'x')";

/** Runs `node -e WRITE_MARKER marker` with execFile; settles with "ran" or the error's code. */
function execFileMarker(marker: string): Promise<string> {
  return new Promise((resolve) => {
    try {
      execFile(process.execPath, ["-e", WRITE_MARKER, marker], (error) => resolve(error === null ? "ran" : `error ${String((error as NodeJS.ErrnoException).code)}`));
    } catch (e) {
      resolve(`error ${String((e as NodeJS.ErrnoException).code)}`);
    }
  });
}

/** Runs a worker that writes `marker`; settles with "ran" or the error's code. */
function workerMarker(marker: string): Promise<string> {
  return new Promise((resolve) => {
    try {
      const worker = new Worker("require('fs').writeFileSync(require('worker_threads').workerData, 'x')", { eval: true, workerData: marker });
      worker.on("error", (e) => resolve(`error ${e.message}`));
      worker.on("exit", () => resolve("ran"));
    } catch (e) {
      resolve(`error ${String((e as NodeJS.ErrnoException).code)}`);
    }
  });
}


describe("the process tripwire", function () {
  this.timeout(10_000);
  let dir: string;
  let uninstall: (() => void) | undefined;
  const marker = (name: string): string => join(dir, name);

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "penumbra-tripwire-"));
  });

  afterEach(() => {
    uninstall?.();
    uninstall = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it("blocks a candidate's execFile with ESHADOW: the process never runs, the control's does", async () => {
    uninstall = installTripwire();
    let candidateSaw = "";
    const result = await runOnce(
      () => execFileMarker(marker("control")),
      async () => (candidateSaw = await execFileMarker(marker("candidate"))),
    );
    assert.ok(existsSync(marker("control")), "the control's process ran");
    assert.ok(!existsSync(marker("candidate")), "the candidate's process did not run");
    assert.equal(candidateSaw, "error ESHADOW");
    const leaks = leaksOf(result);
    assert.equal(leaks.length, 1);
    assert.equal(leaks[0]?.kind, "child_process");
    assert.equal(leaks[0]?.blocked, true);
    assert.ok(leaks[0]?.target.startsWith(`${process.execPath} -e `), leaks[0]?.target);
    assert.ok(leaks[0]?.target.endsWith(marker("candidate")), leaks[0]?.target);
  });

  it("blocks spawn, exec, fork and execFileSync from a candidate, one leak each", async () => {
    uninstall = installTripwire();
    const script = join(dir, "child.js");
    writeFileSync(script, `${WRITE_MARKER.replace("process.argv[1]", "process.argv[2]")}\n`);
    const outcomes: string[] = [];
    const attempt = (name: string, start: () => unknown): void => {
      try {
        start();
        outcomes.push(`${name} started`);
      } catch (e) {
        outcomes.push(`${name} ${String((e as NodeJS.ErrnoException).code)}`);
      }
    };
    const result = await runOnce(
      async () => "",
      async () => {
        attempt("spawn", () => spawn(process.execPath, ["-e", WRITE_MARKER, marker("spawn")]));
        attempt("exec", () => exec(`touch ${marker("exec")}`));
        attempt("fork", () => fork(script, [marker("fork")]));
        attempt("execFileSync", () => execFileSync(process.execPath, ["-e", WRITE_MARKER, marker("sync")]));
        return "";
      },
    );
    assert.deepEqual(outcomes, ["spawn ESHADOW", "exec ESHADOW", "fork ESHADOW", "execFileSync ESHADOW"]);
    await new Promise((resolve) => setTimeout(resolve, 200)); // time for any process that did start to write
    for (const name of ["spawn", "exec", "fork", "sync"]) assert.ok(!existsSync(marker(name)), `${name} did not run`);
    const leaks = leaksOf(result);
    assert.deepEqual(
      leaks.map((l) => [l.kind, l.blocked]),
      [["child_process", true], ["child_process", true], ["child_process", true], ["child_process", true]],
    );
    assert.ok(leaks[1]?.target.includes(`touch ${marker("exec")}`), leaks[1]?.target);
    assert.ok(leaks[2]?.target.includes(script), leaks[2]?.target);
  });

  it("blocks a candidate's new Worker and records it; the control's worker runs", async () => {
    uninstall = installTripwire();
    let candidateSaw = "";
    const result = await runOnce(
      () => workerMarker(marker("control")),
      async () => (candidateSaw = await workerMarker(marker("candidate"))),
    );
    assert.ok(existsSync(marker("control")));
    assert.ok(!existsSync(marker("candidate")));
    assert.equal(candidateSaw, "error ESHADOW");
    assert.deepEqual(leaksOf(result), [{ kind: "child_process", target: "new Worker [eval]", blocked: true }]);
  });

  it("reports in report mode: the process and the worker run, and both are recorded as not blocked", async () => {
    uninstall = installTripwire({ childProcess: "report" });
    const result = await runOnce(
      async () => "",
      async () => [await execFileMarker(marker("process")), await workerMarker(marker("worker"))],
    );
    assert.ok(existsSync(marker("process")));
    assert.ok(existsSync(marker("worker")));
    const leaks = leaksOf(result);
    assert.deepEqual(leaks.map((l) => [l.kind, l.blocked]), [["child_process", false], ["child_process", false]]);
    assert.equal(leaks[1]?.target, "new Worker [eval]");
  });

  it("lets a command the allow callback accepts run unrecorded", async () => {
    uninstall = installTripwire({ allow: (t) => t.kind === "child_process" && (t.command ?? "").includes("allowed") });
    const result = await runOnce(
      async () => "",
      async () => [await execFileMarker(marker("allowed")), await execFileMarker(marker("denied"))],
    );
    assert.ok(existsSync(marker("allowed")));
    assert.ok(!existsSync(marker("denied")));
    assert.equal(leaksOf(result).length, 1);
    assert.ok(leaksOf(result)[0]?.target.endsWith(marker("denied")));
  });

  it("leaves processes alone when childProcess is off", async () => {
    uninstall = installTripwire({ childProcess: "off" });
    const result = await runOnce(async () => "", () => execFileMarker(marker("off")));
    assert.ok(existsSync(marker("off")));
    assert.deepEqual(leaksOf(result), []);
  });

  it("blocks nothing after uninstall, and nothing outside experiments while installed", async () => {
    const off = installTripwire();
    off();
    const after = await runOnce(async () => "", async () => [await execFileMarker(marker("after")), await workerMarker(marker("after-worker"))]);
    assert.ok(existsSync(marker("after")) && existsSync(marker("after-worker")));
    assert.deepEqual(leaksOf(after), []);

    uninstall = installTripwire();
    assert.equal(await execFileMarker(marker("outside")), "ran");
    assert.equal(await workerMarker(marker("outside-worker")), "ran");
    execFileSync(process.execPath, ["-e", WRITE_MARKER, marker("outside-sync")]);
    for (const name of ["outside", "outside-worker", "outside-sync"]) assert.ok(existsSync(marker(name)), name);
  });
});
