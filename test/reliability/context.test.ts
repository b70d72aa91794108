/**
 * Context isolation under load: 10 000 concurrent runs, each control and candidate hopping across
 * timers, setImmediate, nextTick, queueMicrotask and awaited promises with random delays. At every
 * hop each behaviour must see its own run (runId, context id, role, experiment) and `isShadow()`
 * must be true exactly in candidates; the callers must see no run at all.
 */
import { strict as assert } from "node:assert";
import { currentRun, flush, isShadow, shadow, type Result } from "../../src/index";
import { resetConfiguration } from "../support/capture";

const RUNS = 10_000;
const HOPS = 6;

/** mulberry32: a small seeded PRNG, so a failure can be replayed with its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Hop = "timer" | "immediate" | "nextTick" | "microtask" | "promise";
const HOP_KINDS: readonly Hop[] = ["timer", "immediate", "nextTick", "microtask", "promise"];

function hop(kind: Hop, delayMs: number): Promise<void> {
  switch (kind) {
    case "timer":
      return new Promise((resolve) => setTimeout(resolve, delayMs));
    case "immediate":
      return new Promise((resolve) => setImmediate(resolve));
    case "nextTick":
      return new Promise((resolve) => process.nextTick(resolve));
    case "microtask":
      return new Promise((resolve) => queueMicrotask(resolve));
    case "promise":
      return (async () => {
        await null;
        await Promise.resolve();
      })();
  }
}

interface Arg {
  id: number;
  /** The hops this call's behaviours take (the same plan for both, delays differ per role). */
  plan: Array<{ kind: Hop; controlDelay: number; candidateDelay: number }>;
}

describe("context isolation: 10 000 concurrent runs never see each other's run", function () {
  this.timeout(60_000);

  before(() => resetConfiguration());

  it("gives every control and candidate only its own currentRun() at every hop, with isShadow() true exactly in candidates, and the callers none", async () => {
    const seed = (Date.now() ^ (process.pid << 8)) >>> 0;
    const random = prng(seed);
    const why = `(seed ${seed})`;
    const violations: string[] = [];
    /** The runId each call's first behaviour saw; the other must see the same one. */
    const runIdOf = new Map<number, string>();
    const hopsSeen = { control: 0, candidate: 0 };

    const behaviour =
      (role: "control" | "candidate", experiment: string) =>
      async (arg: Arg): Promise<{ id: number; runId: string; hops: number }> => {
        const check = (where: string): string | undefined => {
          const run = currentRun();
          const fail = (what: string): undefined => void violations.push(`${experiment} ${role} ${arg.id} at ${where}: ${what}`);
          if (run === undefined) return fail("no current run");
          if (run.role !== role) return fail(`role ${run.role}`);
          if (run.experiment !== experiment) return fail(`experiment ${run.experiment}`);
          if (run.context.id !== arg.id) return fail(`context id ${String(run.context.id)}`);
          if (role === "candidate" && run.candidate !== "candidate") return fail(`candidate name ${String(run.candidate)}`);
          if (isShadow() !== (role === "candidate")) return fail(`isShadow() ${String(isShadow())}`);
          const known = runIdOf.get(arg.id);
          if (known === undefined) runIdOf.set(arg.id, run.runId);
          else if (known !== run.runId) return fail(`runId ${run.runId}, the other side saw ${known}`);
          hopsSeen[role]++;
          return run.runId;
        };
        const runId = check("start") ?? "(none)";
        for (const [n, step] of arg.plan.entries()) {
          await hop(step.kind, role === "control" ? step.controlDelay : step.candidateDelay);
          check(`hop ${n} (${step.kind})`);
        }
        // A callback scheduled from inside the run, fired from a timer queue shared with every other run.
        await new Promise<void>((resolve) =>
          setTimeout(() => {
            check("timer callback");
            resolve();
          }, 0),
        );
        return { id: arg.id, runId, hops: arg.plan.length };
      };

    const background = shadow<[Arg], Promise<{ id: number; runId: string; hops: number }>>(
      behaviour("control", "context-background"),
      behaviour("candidate", "context-background"),
      { name: "context-background", maxConcurrent: RUNS, timeoutMs: 30_000, context: (arg) => ({ id: arg.id }), publish: (r) => void results.push(r) },
    );
    const sequential = shadow<[Arg], Promise<{ id: number; runId: string; hops: number }>>(
      behaviour("control", "context-sequential"),
      behaviour("candidate", "context-sequential"),
      {
        name: "context-sequential",
        mode: "sequential",
        maxConcurrent: RUNS,
        timeoutMs: 30_000,
        context: (arg) => ({ id: arg.id }),
        publish: (r) => void results.push(r),
      },
    );
    const results: Result<unknown>[] = [];

    const callerViolations: string[] = [];
    const callerCheck = (where: string): void => {
      if (currentRun() !== undefined || isShadow()) callerViolations.push(`caller ${where}: sees run ${currentRun()?.runId ?? ""} shadow=${String(isShadow())}`);
    };

    const calls: Array<Promise<unknown>> = [];
    for (let id = 0; id < RUNS; id++) {
      const plan = Array.from({ length: HOPS }, () => ({
        kind: HOP_KINDS[Math.floor(random() * HOP_KINDS.length)] as Hop,
        controlDelay: Math.floor(random() * 4),
        candidateDelay: Math.floor(random() * 4),
      }));
      const wrapped = id % 2 === 0 ? background : sequential;
      const answer = wrapped({ id, plan });
      callerCheck(`after calling ${id}`);
      calls.push(
        answer.then((value) => {
          callerCheck(`continuation of ${id}`);
          if (value.id !== id) callerViolations.push(`caller ${id} got the answer of ${value.id}`);
        }),
      );
    }
    await Promise.all(calls);
    callerCheck("after every answer");
    await flush();

    assert.deepEqual(violations.slice(0, 10), [], `no behaviour saw another run (${violations.length} violations) ${why}`);
    assert.deepEqual(callerViolations.slice(0, 10), [], `no caller saw a run ${why}`);
    const perBehaviour = RUNS * (HOPS + 2);
    assert.equal(hopsSeen.control, perBehaviour, "every control checked its run at every hop");
    assert.equal(hopsSeen.candidate, perBehaviour, "every candidate checked its run at every hop");

    assert.equal(results.length, RUNS, "every run was published");
    assert.equal(new Set(results.map((r) => r.runId)).size, RUNS, "every run has its own runId");
    for (const result of results) {
      const id = result.context.id as number;
      assert.equal(result.runId, runIdOf.get(id), `result ${id} carries the runId its behaviours saw`);
      assert.equal(result.matched, true, `control and candidate of ${id} saw the same run: ${result.mismatches[0]?.summary ?? ""}`);
      assert.equal((result.control.value as { id: number }).id, id);
    }
  });
});
