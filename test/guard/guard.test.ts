import { strict as assert } from "node:assert";
import { ShadowBlockedError, configure, guard, shadow, type ExperimentError, type Result } from "../../src/index";
import { collector, resetConfiguration } from "../support/capture";
import { Charges, Mailer, Payments } from "./fixtures";

/** Runs `control` and `candidate` as one experiment call and returns the published result. */
async function run<T>(control: () => T, candidate: () => T, timeoutMs?: number): Promise<Result<unknown>> {
  const sink = collector();
  const wrapped = shadow(control, candidate, { publish: sink, ...(timeoutMs === undefined ? {} : { timeoutMs }) });
  await wrapped();
  await wrapped.experiment.settled();
  assert.equal(sink.results.length, 1);
  return sink.results[0] as Result<unknown>;
}

describe("guard", () => {
  afterEach(resetConfiguration);

  it("passes calls through and records nothing outside any experiment", async () => {
    const mailer = new Mailer();
    const guarded = guard("mailer", mailer, { effects: ["sendMail"] });
    assert.deepEqual(await guarded.sendMail({ to: "a", subject: "hi" }), { messageId: "real-1" });
    assert.equal(mailer.calls, 1);
    assert.equal(await guarded.count(), 1);
  });

  it("lets the control's call through and records it with arguments snapshotted at the call", async () => {
    const mailer = new Mailer();
    const guarded = guard("mailer", mailer, { effects: ["sendMail"] });
    const message = { to: "a@example.com", subject: "receipt" };
    const result = await run(
      async () => {
        const sent = await guarded.sendMail(message);
        message.subject = "mutated";
        return sent.messageId.length;
      },
      async () => 6,
    );
    assert.equal(mailer.calls, 1);
    assert.deepEqual(result.control.effects, [
      { name: "mailer.sendMail", args: [{ to: "a@example.com", subject: "receipt" }], role: "control", blocked: false },
    ]);
  });

  it("never lets a candidate's call reach the target, records it as blocked and answers undefined", async () => {
    const mailer = new Mailer();
    const guarded = guard("mailer", mailer, { effects: ["sendMail"] });
    let answer: unknown = "unset";
    const result = await run(
      async () => 1,
      async () => {
        answer = await guarded.sendMail({ to: "b", subject: "s" });
        return 1;
      },
    );
    assert.equal(mailer.calls, 0);
    assert.equal(answer, undefined);
    assert.deepEqual(result.candidates[0]?.effects, [
      { name: "mailer.sendMail", args: [{ to: "b", subject: "s" }], role: "candidate", blocked: true },
    ]);
  });

  it("answers a candidate's call with the sink for its path", async () => {
    const payments = new Payments();
    const guarded = guard("payments", payments, {
      effects: ["charges.create"],
      sink: { "charges.create": async (p: { amount: number }) => ({ id: `ch_shadow_${p.amount}`, amount: p.amount }) },
    });
    let answer: unknown;
    await run(
      async () => 1,
      async () => {
        answer = await guarded.charges.create({ amount: 4990 });
        return 1;
      },
    );
    assert.deepEqual(payments.calls, []);
    assert.deepEqual(answer, { id: "ch_shadow_4990", amount: 4990 });
  });

  it("rejects a candidate's call with a ShadowBlockedError for onShadow throw", async () => {
    const guarded = guard("mailer", new Mailer(), { effects: ["sendMail"], onShadow: "throw" });
    const result = await run(
      async () => 1,
      async () => {
        await guarded.sendMail({ to: "c", subject: "s" });
        return 1;
      },
    );
    const error = result.candidates[0]?.error;
    assert.ok(error instanceof ShadowBlockedError);
    assert.equal(error.effect, "mailer.sendMail");
  });

  it("lets reads through in a shadow run without recording them", async () => {
    const payments = new Payments();
    const guarded = guard("payments", payments, { effects: ["charges.create"] });
    let read: unknown;
    const result = await run(
      async () => 1,
      async () => {
        read = await guarded.charges.retrieve("ch_1");
        return 1;
      },
    );
    assert.deepEqual(read, { id: "ch_1" });
    assert.equal(payments.reads, 1);
    assert.deepEqual(result.candidates[0]?.effects, []);
  });

  it("matches nested paths against globs: refunds.* covers every refunds method, not charges", async () => {
    const payments = new Payments();
    const guarded = guard("payments", payments, { effects: ["refunds.*"] });
    const result = await run(
      async () => 1,
      async () => {
        await guarded.refunds.create("a");
        await guarded.refunds.cancel("b");
        await guarded.charges.create({ amount: 1 });
        return 1;
      },
    );
    assert.deepEqual(payments.calls, ["charges.create:1"]);
    assert.deepEqual(
      result.candidates[0]?.effects.map((e) => e.name),
      ["payments.refunds.create", "payments.refunds.cancel"],
    );
  });

  it("treats every method as an effect by default", async () => {
    const payments = new Payments();
    const guarded = guard("payments", payments);
    await run(
      async () => 1,
      async () => {
        await guarded.charges.retrieve("x");
        return 1;
      },
    );
    assert.equal(payments.reads, 0);
  });

  it("calls methods with the real object as this, so #private fields work", async () => {
    const guarded = guard("mailer", new Mailer(), { effects: ["sendMail"] });
    await guarded.sendMail({ to: "a", subject: "s" });
    assert.equal(await guarded.count(), 1);
  });

  it("hands out the same wrapper and nested proxy on every access", () => {
    const guarded = guard("payments", new Payments(), { effects: ["charges.create"] });
    assert.equal(guarded.charges, guarded.charges);
    assert.equal(guarded.charges.create, guarded.charges.create);
    assert.equal(guarded.charges.retrieve, guarded.charges.retrieve);
  });

  it("keeps instanceof working at the root and below", () => {
    const guarded = guard("payments", new Payments());
    assert.ok(guarded instanceof Payments);
    assert.ok(guarded.charges instanceof Charges);
  });

  it("sends property writes to the target", () => {
    const payments = new Payments();
    const guarded = guard("payments", payments);
    guarded.region = "us";
    assert.equal(payments.region, "us");
    assert.equal(guarded.region, "us");
  });

  it("works over a frozen target", () => {
    const frozen = Object.freeze({ send: (n: number) => n + 1 });
    const guarded = guard("frozen", frozen, { effects: ["send"] });
    assert.equal(guarded.send(1), 2);
    assert.notEqual(guarded.send, frozen.send);
  });

  it("decides at the call after awaits and timers in the candidate", async () => {
    const mailer = new Mailer();
    const guarded = guard("mailer", mailer, { effects: ["sendSync"] });
    const result = await run(
      async () => 1,
      async () => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        await new Promise<void>((resolve) =>
          setTimeout(() => {
            guarded.sendSync("t");
            resolve();
          }, 1),
        );
        return 1;
      },
    );
    assert.equal(mailer.calls, 0);
    assert.equal(result.candidates[0]?.effects.length, 1);
  });

  it("blocks a candidate's call after its timeout but leaves it off the observation", async () => {
    const mailer = new Mailer();
    const guarded = guard("mailer", mailer, { effects: ["sendSync"] });
    let lateCallDone!: () => void;
    const late = new Promise<void>((resolve) => (lateCallDone = resolve));
    const result = await run(
      async () => 1,
      () =>
        new Promise<number>((resolve) =>
          setTimeout(() => {
            guarded.sendSync("late");
            lateCallDone();
            resolve(1);
          }, 60),
        ),
      20,
    );
    await late;
    assert.equal(result.candidates[0]?.timedOut, true);
    assert.equal(mailer.calls, 0);
    assert.deepEqual(result.candidates[0]?.effects, []);
  });

  it("records no reads of the control, only its listed effects", async () => {
    const payments = new Payments();
    const guarded = guard("payments", payments, { effects: ["charges.**"] });
    const result = await run(
      async () => {
        await guarded.refunds.create("r");
        await guarded.charges.create({ amount: 2 });
        return 1;
      },
      async () => 1,
    );
    assert.deepEqual(payments.calls, ["refunds.create:r", "charges.create:2"]);
    assert.deepEqual(
      result.control.effects.map((e) => e.name),
      ["payments.charges.create"],
    );
  });

  it("keeps the control's call going when its arguments cannot be snapshotted, and reports it as a guard fault", async () => {
    const errors: ExperimentError[] = [];
    configure({ onError: (e) => errors.push(e) });
    const mailer = new Mailer();
    const guarded = guard("mailer", mailer, { effects: ["sendMail"] });
    const hostile = new Proxy({ to: "a", subject: "s" }, {
      ownKeys: () => {
        throw new Error("no keys for you");
      },
    });
    const result = await run(
      async () => (await guarded.sendMail(hostile)).messageId,
      async () => "real-1",
    );
    assert.equal(mailer.calls, 1);
    assert.equal(result.control.value, "real-1");
    assert.equal(result.control.effects[0]?.args[0], hostile);
    assert.ok(errors.some((e) => e.operation === "guard"));
  });

  it("throws a TypeError naming the option for invalid name, target, effects, sink or onShadow", () => {
    const isTypeError = (pattern: RegExp) => (e: unknown) => e instanceof TypeError && pattern.test(e.message);
    assert.throws(() => guard("", new Mailer()), isTypeError(/name/));
    assert.throws(() => guard("m", null as unknown as object), isTypeError(/target/));
    assert.throws(() => guard("m", new Mailer(), { effects: "some" as "all" }), isTypeError(/effects/));
    assert.throws(() => guard("m", new Mailer(), { effects: ["a..b"] }), isTypeError(/effects/));
    assert.throws(() => guard("m", new Mailer(), { effects: ["sendMail"], sink: { count: () => 1 } }), isTypeError(/sink/));
    assert.throws(() => guard("m", new Mailer(), { onShadow: "skip" as "noop" }), isTypeError(/onShadow/));
  });
});
