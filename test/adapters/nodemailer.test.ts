import { strict as assert } from "node:assert";
import type { AddressInfo } from "node:net";
import nodemailer from "nodemailer";
import { SMTPServer } from "smtp-server";
import { shadow, type Result } from "../../src/index";
import { guardMailer } from "../../src/adapters/nodemailer";
import { collector, resetConfiguration } from "../support/capture";

/** A real SMTP server on 127.0.0.1 that keeps every message it receives. */
async function startSmtp(): Promise<{ port: number; messages: string[]; close: () => Promise<void> }> {
  const messages: string[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS"],
    logger: false,
    onData(stream, _session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("end", () => {
        messages.push(Buffer.concat(chunks).toString("utf8"));
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.server.address() as AddressInfo;
  return { port, messages, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

async function runOnce<T>(control: () => Promise<T>, candidate: () => Promise<T>): Promise<Result<unknown>> {
  const sink = collector();
  const wrapped = shadow(control, candidate, { publish: sink });
  await wrapped();
  await wrapped.experiment.settled();
  assert.equal(sink.results.length, 1);
  return sink.results[0] as Result<unknown>;
}

describe("guardMailer", () => {
  let smtp: Awaited<ReturnType<typeof startSmtp>>;
  beforeEach(async () => {
    smtp = await startSmtp();
  });
  afterEach(async () => {
    resetConfiguration();
    await smtp.close();
  });

  const transport = () => nodemailer.createTransport({ host: "127.0.0.1", port: smtp.port, secure: false, ignoreTLS: true });

  it("delivers the control's message, never the candidate's, and records both", async () => {
    const mailer = guardMailer(transport());
    let candidateInfo: unknown;
    const result = await runOnce(
      async () => {
        const info = await mailer.sendMail({ from: "shop@example.com", to: "alice@example.com", subject: "Welcome v1", text: "hi" });
        return info.accepted;
      },
      async () => {
        const info = await mailer.sendMail({ from: "shop@example.com", to: "alice@example.com", subject: "Welcome v2", text: "hi" });
        candidateInfo = info;
        return info.accepted;
      },
    );
    assert.equal(smtp.messages.length, 1);
    assert.match(smtp.messages[0] ?? "", /Subject: Welcome v1/);
    assert.deepEqual(result.control.effects[0], {
      name: "mailer.sendMail",
      args: [{ from: "shop@example.com", to: "alice@example.com", subject: "Welcome v1", text: "hi" }],
      role: "control",
      blocked: false,
    });
    const effect = result.candidates[0]?.effects[0];
    assert.equal(effect?.blocked, true);
    assert.equal(effect?.role, "candidate");
    assert.deepEqual(effect?.args, [{ from: "shop@example.com", to: "alice@example.com", subject: "Welcome v2", text: "hi" }]);
    assert.deepEqual(candidateInfo, {
      messageId: (candidateInfo as { messageId: string }).messageId,
      accepted: ["alice@example.com"],
      rejected: [],
      envelope: { from: "shop@example.com", to: ["alice@example.com"] },
      response: "250 penumbra shadow: not sent",
    });
    assert.match((candidateInfo as { messageId: string }).messageId, /^<penumbra-shadow-[0-9a-f]{16}@shadow>$/);
    assert.deepEqual(result.control.value, ["alice@example.com"]);
  });

  it("answers a candidate's callback-style call through the callback, asynchronously, and sends nothing", async () => {
    const mailer = guardMailer(transport());
    const seen: { error: unknown; accepted: unknown; syncCall: boolean }[] = [];
    await runOnce(
      async () => 1,
      () =>
        new Promise<number>((resolve) => {
          let returned = false;
          const answer: unknown = mailer.sendMail(
            { from: "Shop <shop@example.com>", to: '"Smith, Bob" <bob@example.com>, carol@example.com', bcc: [{ name: "D", address: "dan@example.com" }], subject: "s" },
            (error: Error | null, info: { accepted: string[] }) => {
              seen.push({ error, accepted: info.accepted, syncCall: !returned });
              resolve(1);
            },
          );
          returned = true;
          assert.equal(answer, undefined);
        }),
    );
    assert.deepEqual(seen, [{ error: null, accepted: ["bob@example.com", "carol@example.com", "dan@example.com"], syncCall: false }]);
    assert.equal(smtp.messages.length, 0);
  });

  it("mints the same messageId for the same message and a different one for a different message", async () => {
    const mailer = guardMailer(transport());
    const ids: string[] = [];
    for (const subject of ["a", "a", "b"]) {
      await runOnce(
        async () => 1,
        async () => {
          ids.push((await mailer.sendMail({ to: "x@example.com", subject })).messageId);
          return 1;
        },
      );
    }
    assert.equal(ids[0], ids[1]);
    assert.notEqual(ids[0], ids[2]);
    assert.equal(smtp.messages.length, 0);
  });

  it("sends for real and records nothing outside any experiment, and lets other methods through", async () => {
    const mailer = guardMailer(transport(), { name: "receipts" });
    assert.equal(await mailer.verify(), true);
    const info = await mailer.sendMail({ from: "shop@example.com", to: "zoe@example.com", subject: "plain", text: "t" });
    assert.deepEqual(info.accepted, ["zoe@example.com"]);
    assert.match(String(info.response), /^250 /);
    assert.equal(smtp.messages.length, 1);
    mailer.close();
  });

  it("names effects after the name option", async () => {
    const mailer = guardMailer(transport(), { name: "receipts" });
    const result = await runOnce(
      async () => 1,
      async () => {
        await mailer.sendMail({ to: "x@example.com", subject: "s" });
        return 1;
      },
    );
    assert.equal(result.candidates[0]?.effects[0]?.name, "receipts.sendMail");
  });

  it("rejects a transporter without sendMail and an empty name", () => {
    assert.throws(() => guardMailer({} as { sendMail: () => void }), TypeError);
    assert.throws(() => guardMailer(transport(), { name: "" }), /name must be a non-empty string/);
  });
});
