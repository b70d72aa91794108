/**
 * `guardMailer`: a nodemailer transporter made safe for shadow runs. SMTP transports may pool their
 * sockets; the tripwire can only stop a shadow's bytes on a pooled socket by closing the connection,
 * so the transporter itself is guarded and the message is never handed to the transport.
 */
import { callEffect, type EffectPolicy } from "../guard/effect-call";
import { adapterName, proxyClient, stableHash, type Method } from "./client-proxy";

/**
 * Options of {@link guardMailer}.
 *
 * @example
 * ```ts
 * const options: GuardMailerOptions = { name: "receipts" }; // effects are named "receipts.sendMail"
 * ```
 */
export interface GuardMailerOptions {
  /** The prefix of recorded effect names. @default "mailer" */
  name?: string;
}

/**
 * The answer a shadow run's `sendMail` gets, shaped like nodemailer's `SentMessageInfo`.
 *
 * @example
 * ```ts
 * const info: ShadowMailInfo = await guarded.sendMail(message); // in a candidate
 * info.response; // "250 penumbra shadow: not sent"
 * ```
 */
export interface ShadowMailInfo {
  /** `<penumbra-shadow-<hash>@shadow>`: the same message gives the same id in every run. */
  messageId: string;
  accepted: string[];
  rejected: string[];
  envelope: { from: string | false; to: string[] };
  response: string;
}

type MailCallback = (error: Error | null, info: ShadowMailInfo) => void;

/**
 * Wraps a nodemailer transporter (anything with `sendMail(mail, callback?)`): `sendMail` is a side
 * effect, everything else (`verify`, `close`, `use`, `options`) passes through. The transport underneath
 * (`.transporter.send`) is the same effect, so the transporter's own `sendMail` applied to the guarded
 * object (`Object.getPrototypeOf(mailer).sendMail.call(mailer, msg)`) is sunk as well.
 *
 * - Outside experiments the transporter behaves as it always does.
 * - In a control run the message is sent and recorded as an effect `mailer.sendMail` with the mail
 *   options as its only argument.
 * - In a shadow run nothing is sent (not even a connection is opened); the call is recorded as blocked
 *   and answered with a {@link ShadowMailInfo} whose `accepted` lists every recipient (`to`, `cc`,
 *   `bcc`, or the explicit `envelope.to`), through the callback when one is given, else as a promise.
 *
 * The message is not built in a shadow run, so a broken template or a missing attachment file fails
 * only in the control. Compare effects, not answers, to see what a candidate would have sent.
 *
 * @example
 * ```ts
 * import nodemailer from "nodemailer";
 * import { shadow } from "penumbra";
 * import { guardMailer } from "penumbra/nodemailer";
 *
 * const mailer = guardMailer(nodemailer.createTransport({ host: "smtp.example.com", port: 587 }));
 * const sendReceipt = shadow(
 *   (order: Order) => mailer.sendMail(receiptV1(order)),
 *   (order: Order) => mailer.sendMail(receiptV2(order)), // recorded, never delivered
 * );
 * ```
 */
/* eslint-disable-next-line @typescript-eslint/no-explicit-any -- the structural client constraint */
export function guardMailer<T extends { sendMail: (...a: any[]) => any }>(transporter: T, options?: GuardMailerOptions): T {
  const name = adapterName(options?.name, "mailer", "guardMailer");
  if (typeof transporter !== "object" || transporter === null || typeof transporter.sendMail !== "function") {
    throw new TypeError(`penumbra: guardMailer '${name}': transporter must be an object with a sendMail method`);
  }
  return proxyClient(transporter, "", {
    // The transport under the transporter (SMTP, a pool) is reachable as `.transporter`: its `send`
    // is the same effect, so `Mail.prototype.sendMail` applied to the guarded object stays guarded too.
    descend: (path) => path === "transporter",
    methodFor(path, fn, self, proxyOf) {
      if (path === "transporter.send") return transportSend(name, fn, self, proxyOf);
      if (path !== "sendMail") return undefined;
      return function sendMail(this: unknown, ...args: unknown[]): unknown {
        const [mail, callback] = args;
        const cb = typeof callback === "function" ? (callback as MailCallback) : undefined;
        const policy: EffectPolicy = {
          name: `${name}.sendMail`,
          answer: "sink",
          sink: () => {
            const info = shadowInfo(mail);
            // nodemailer answers callbacks asynchronously; a fake that called back synchronously
            // could send the candidate down a path the real transporter never takes.
            if (cb !== undefined) return void process.nextTick(cb, null, info);
            return Promise.resolve(info);
          },
          async: false,
        };
        // Recorded without the callback: a function says nothing about the message sent.
        return callEffect(policy, () => Reflect.apply(fn, self, args), self, [mail], proxyOf());
      };
    },
  });
}

/** `transporter.send(mail, callback)`: nodemailer's transport call, with a `MailMessage` whose options are `mail.data`. */
function transportSend(name: string, fn: Method, self: object, proxyOf: () => object): Method {
  return function send(this: unknown, ...args: unknown[]): unknown {
    const [mail, callback] = args;
    const data = typeof mail === "object" && mail !== null && "data" in mail ? (mail as { data: unknown }).data : mail;
    const policy: EffectPolicy = {
      name: `${name}.sendMail`,
      answer: "sink",
      sink: () => {
        if (typeof callback === "function") process.nextTick(callback as MailCallback, null, shadowInfo(data));
      },
      async: false,
    };
    return callEffect(policy, () => Reflect.apply(fn, self, args), self, [data], proxyOf());
  };
}

/**
 * The fake `info` for a message: recipients from the envelope when the message gives one, else from
 * `to`, `cc` and `bcc`, as nodemailer does.
 */
function shadowInfo(mail: unknown): ShadowMailInfo {
  const message = (typeof mail === "object" && mail !== null ? mail : {}) as Record<string, unknown>;
  const explicit = (typeof message.envelope === "object" && message.envelope !== null ? message.envelope : undefined) as
    | { from?: unknown; to?: unknown; cc?: unknown; bcc?: unknown }
    | undefined;
  const to = explicit !== undefined
    ? [...addresses(explicit.to), ...addresses(explicit.cc), ...addresses(explicit.bcc)]
    : [...addresses(message.to), ...addresses(message.cc), ...addresses(message.bcc)];
  const from = addresses(explicit?.from ?? message.sender ?? message.from)[0] ?? false;
  const id = stableHash({
    from: message.from,
    to: message.to,
    cc: message.cc,
    bcc: message.bcc,
    subject: message.subject,
    text: typeof message.text === "string" ? message.text : undefined,
    html: typeof message.html === "string" ? message.html : undefined,
    envelope: explicit,
  });
  return {
    messageId: `<penumbra-shadow-${id}@shadow>`,
    accepted: [...new Set(to)],
    rejected: [],
    envelope: { from, to: [...new Set(to)] },
    response: "250 penumbra shadow: not sent",
  };
}

/** Bare addresses from nodemailer's address forms: `"A <a@x>, b@y"`, `{ name, address }`, or arrays of them. */
function addresses(value: unknown): string[] {
  if (value === undefined || value === null || value === false) return [];
  if (Array.isArray(value)) return value.flatMap(addresses);
  if (typeof value === "object") {
    const address = (value as { address?: unknown }).address;
    return typeof address === "string" && address !== "" ? [address] : [];
  }
  if (typeof value !== "string") return [];
  // Commas inside quoted display names are not separators.
  return value
    .split(/,(?=(?:[^"]*"[^"]*")*[^"]*$)/)
    .map((part) => {
      const angle = /<([^>]*)>/.exec(part);
      return (angle?.[1] ?? part).trim();
    })
    .filter((address) => address !== "");
}
