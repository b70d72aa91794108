/**
 * Where async context is lost, a guard fails OPEN: the side effect really happens. These tests pin
 * down each known case, and that `bindShadow(fn)` closes it. Real timers, except where the point is
 * sinon's fake timers.
 */
import { strict as assert } from "node:assert";
import { EventEmitter } from "node:events";
import sinon from "sinon";
import { bindShadow, guard, isShadow, shadow } from "../../src/index";
import { collector } from "../support/capture";
import { Mailer } from "./fixtures";

/** A long-lived client created outside any run: it emits "ready" every few ms, from its own context. */
class LongLivedClient extends EventEmitter {
  private readonly timer = setInterval(() => this.emit("ready"), 2);
  close(): void {
    clearInterval(this.timer);
  }
}

/** A pg/redis-style pool: callbacks are queued and run later by a loop started outside any run. */
class CallbackPool {
  private readonly queue: Array<() => void> = [];
  private readonly timer = setInterval(() => this.queue.splice(0).forEach((cb) => cb()), 2);
  query(cb: () => void): void {
    this.queue.push(cb);
  }
  close(): void {
    clearInterval(this.timer);
  }
}

describe("guards where async context is lost", () => {
  let client: LongLivedClient;
  let pool: CallbackPool;
  beforeEach(() => {
    client = new LongLivedClient();
    pool = new CallbackPool();
  });
  afterEach(() => {
    pool.close();
    client.close();
  });

  async function runCandidate(candidate: (mailer: Mailer) => Promise<void>): Promise<{ mailer: Mailer }> {
    const target = new Mailer();
    const mailer = guard("mailer", target, { effects: ["sendMail"] });
    const wrapped = shadow(async () => 1, async () => {
      await candidate(mailer);
      return 1;
    }, { publish: collector(), timeoutMs: 1000 });
    await wrapped();
    await wrapped.experiment.settled();
    return { mailer: target };
  }

  it("fails open in a listener a candidate registers on an emitter created outside the run", async () => {
    let sawShadow: boolean | undefined;
    const { mailer } = await runCandidate(
      (guarded) =>
        new Promise<void>((resolve) => {
          client.once("ready", () => {
            sawShadow = isShadow();
            void guarded.sendMail({ to: "customer@example.com", subject: "receipt" }).then(() => resolve());
          });
        }),
    );
    assert.equal(sawShadow, false, "the listener runs in the emitter's context, not the candidate's");
    assert.equal(mailer.calls, 1, "HAZARD: the shadow's email was really sent");
  });

  it("stays shut when the listener is wrapped in bindShadow", async () => {
    let sawShadow: boolean | undefined;
    const { mailer } = await runCandidate(
      (guarded) =>
        new Promise<void>((resolve) => {
          client.once(
            "ready",
            bindShadow(() => {
              sawShadow = isShadow();
              void guarded.sendMail({ to: "customer@example.com", subject: "receipt" }).then(() => resolve());
            }),
          );
        }),
    );
    assert.equal(sawShadow, true);
    assert.equal(mailer.calls, 0, "the bound listener still runs as the shadow: nothing is sent");
  });

  it("fails open in a callback queued in a pool whose loop was started outside the run, and bindShadow closes it", async () => {
    const open = await runCandidate(
      (guarded) =>
        new Promise<void>((resolve) => pool.query(() => void guarded.sendMail({ to: "a@example.com", subject: "s" }).then(() => resolve()))),
    );
    assert.equal(open.mailer.calls, 1, "HAZARD: the pool ran the callback outside the shadow run");
    const shut = await runCandidate(
      (guarded) =>
        new Promise<void>((resolve) =>
          pool.query(bindShadow(() => void guarded.sendMail({ to: "a@example.com", subject: "s" }).then(() => resolve()))),
        ),
    );
    assert.equal(shut.mailer.calls, 0);
  });

  it("fails open under sinon's fake timers: the faked callback runs in the test's context, not the candidate's", async () => {
    const target = new Mailer();
    const mailer = guard("mailer", target, { effects: ["sendMail"] });
    const clock = sinon.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"], shouldAdvanceTime: false });
    try {
      let scheduled = false;
      const wrapped = shadow(
        () => 1,
        () => {
          setTimeout(() => void mailer.sendMail({ to: "late@example.com", subject: "s" }), 10);
          scheduled = true;
          return 1;
        },
        { publish: collector() },
      );
      wrapped();
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(scheduled, true);
      await clock.tickAsync(20);
      assert.equal(target.calls, 1, "HAZARD: with fake timers the guard cannot see the shadow run");
    } finally {
      clock.restore();
    }
  });

  it("stays shut with real timers in the same scenario", async () => {
    const target = new Mailer();
    const mailer = guard("mailer", target, { effects: ["sendMail"] });
    const wrapped = shadow(
      async () => 1,
      async () => {
        await new Promise<void>((resolve) =>
          setTimeout(() => void mailer.sendMail({ to: "late@example.com", subject: "s" }).then(() => resolve()), 10),
        );
        return 1;
      },
      { publish: collector() },
    );
    wrapped();
    await wrapped.experiment.settled();
    assert.equal(target.calls, 0);
  });
});
