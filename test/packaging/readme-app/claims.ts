/**
 * What each README section claims, checked against what really happened when its snippet ran.
 *
 * One entry per README heading that has a TypeScript snippet (the generated step of that snippet
 * calls it; a snippet without an entry does not compile). An entry gets the snippet's top-level
 * constants: `later(locals)` runs where the snippet says "later" (the application serves traffic),
 * `after(locals)` when the snippet has run; `threw(error)` when the README says the snippet throws.
 * Counts are taken from the fixtures' own call log and from the servers, never only from penumbra.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import { isDeepStrictEqual } from "node:util";
import {
  Experiment,
  MismatchError,
  PenumbraError,
  type ReplayReport,
  type Result,
  type Scorecard,
  flush,
  memoryPublisher,
  readResults,
  replay,
  shadow,
  configure,
} from "penumbra";
import { walkthrough, type Call } from "./fixtures.js";

/** What `shadow()` returns for a function of a cart. */
type Wrapped<R> = ((cart: Cart) => R) & { readonly experiment: Experiment<[Cart], R> };

const README_SUMMARY = "total=49.9 vs 51.4, tax=0.1 vs 0.09";

async function resultsOf(experiment: string, file = "results.jsonl"): Promise<Result<unknown>[]> {
  const found: Result<unknown>[] = [];
  for await (const result of readResults(file)) if (result.experiment === experiment) found.push(result);
  return found;
}

function callsSince(start: number, fn: string, experiment?: string): Call[] {
  return walkthrough.calls.slice(start).filter((c) => c.fn === fn && (experiment === undefined || c.experiment === experiment));
}

function warningsWith(code: string): string[] {
  return walkthrough.warnings.filter((w) => w.startsWith(`${code}:`));
}

/** Every diff of a result, serious and noise, with the candidate's mismatch kind. */
function diffsOf(result: Result<unknown>): Array<{ path: string; bucket?: string; noise?: boolean }> {
  return [...result.mismatches.flatMap((m) => m.diffs), ...result.noise];
}

export const claims = {
  penumbra: {
    // "still legacyOrderTotal's answer, unchanged"; "with none, penumbra warns once (PENUMBRA_NO_PUBLISHER)";
    // "with a publisher configured, 1% of calls are compared and each mismatch is published as total=49.9 vs 51.4, tax=0.1 vs 0.09".
    async after({ orderTotal, total }: { orderTotal: Wrapped<OrderTotal>; total: OrderTotal }): Promise<void> {
      assert.equal(total, walkthrough.lastReturned.get("legacyOrderTotal"), "the caller holds the very object the old code returned");
      assert.deepEqual([total.total, total.tax], [49.9, 0.1]);
      const start = walkthrough.calls.length;
      await walkthrough.serve(Array.from({ length: 3000 }, () => cart), orderTotal);
      await flush();
      const compared = callsSince(start, "newOrderTotal", "legacyOrderTotal").length;
      assert.ok(compared >= 10 && compared <= 60, `1% of 3000 calls ran the new code: ${compared}`);
      assert.deepEqual(warningsWith("PENUMBRA_NO_PUBLISHER").length, 1, walkthrough.warnings.join("\n"));
      assert.match(warningsWith("PENUMBRA_NO_PUBLISHER")[0]!, /legacyOrderTotal/);

      const published = memoryPublisher({ limit: 10_000 });
      configure({ publishers: [published] });
      await walkthrough.serve(Array.from({ length: 3000 }, () => cart), orderTotal);
      await flush();
      assert.ok(published.results.length >= 10 && published.results.length <= 60, `published ${published.results.length} of 3000 calls`);
      for (const result of published.results) {
        assert.ok(Object.isFrozen(result) && Object.isFrozen(result.control));
        assert.equal(result.experiment, "legacyOrderTotal");
        assert.deepEqual(result.mismatches.map((m) => m.summary), [README_SUMMARY]);
      }
      assert.equal(warningsWith("PENUMBRA_NO_PUBLISHER").length, 1, "warned once, not again");
      walkthrough.facts["intro"] = { comparedWithoutPublisher: compared, published: published.results.length };
    },
  },

  "Wrap a function": {
    // "5% of calls", "sticky per customer, in every process" (the test compares the customers of the
    // ESM and the CommonJS run), results in results.jsonl; "Read the results": each run publishes both
    // observations, matched/mismatched/ignored, and for each mismatch its kind, diffs and summary.
    async after({ orderTotal }: { orderTotal: Wrapped<OrderTotal> }): Promise<void> {
      const carts = walkthrough.carts(3000, 1000); // three carts per customer
      const start = walkthrough.calls.length;
      const answers = await walkthrough.serve(carts, orderTotal);
      await flush();
      answers.forEach((answer, i) => assert.deepEqual(answer, legacyOrderTotal(carts[i]!)));
      const ran = callsSince(start, "newOrderTotal", "order-total");
      const customers = new Map<string, number>();
      for (const call of ran) customers.set(call.customerId, (customers.get(call.customerId) ?? 0) + 1);
      assert.ok(customers.size >= 25 && customers.size <= 75, `5% of 1000 customers: ${customers.size}`);
      for (const [customer, runs] of customers) assert.equal(runs, 3, `${customer}: every cart of a sampled customer is compared`);

      const results = await resultsOf("order-total");
      assert.equal(results.length, ran.length, "one line in results.jsonl per compared call");
      let mismatched = 0;
      for (const result of results) {
        assert.equal(result.control.role, "control");
        assert.equal(result.candidates.length, 1);
        const [candidate] = result.candidates;
        assert.ok(typeof result.control.durationMs === "number" && typeof candidate!.durationMs === "number");
        assert.equal(result.control.isolated, true);
        assert.equal(result.matched, !result.mismatched && !result.ignored);
        if (!result.mismatched) continue;
        mismatched++;
        const [mismatch] = result.mismatches;
        assert.equal(mismatch!.kind, "value");
        assert.ok(mismatch!.diffs.length > 0);
        assert.match(mismatch!.summary, /^(total|tax)=[\d.]+ vs [\d.]+/);
      }
      assert.ok(mismatched > 0 && mismatched < results.length, `${mismatched} of ${results.length} mismatched`);
      walkthrough.facts["sampledCustomers"] = [...customers.keys()].sort();

      // "at most maxConcurrent runs at a time (default 256) … a script that fires thousands of calls
      // without yielding to the event loop does [notice]": 300 calls of sampled customers in one go.
      const sampled = carts.filter((c) => customers.has(c.customerId));
      const burst = Array.from({ length: 300 }, (_, i) => sampled[i % sampled.length]!);
      const before = walkthrough.calls.length;
      for (const c of burst) orderTotal(c);
      await flush();
      assert.equal(callsSince(before, "newOrderTotal", "order-total").length, 256, "256 admitted, the other 44 answered by the old code alone");
      assert.equal((await resultsOf("order-total")).length, results.length + 256);
      assert.equal(warningsWith("PENUMBRA_SKIPPING").length, 1);
      assert.match(warningsWith("PENUMBRA_SKIPPING")[0]!, /maxConcurrent/);
    },
  },

  "Keep the shadow silent": {
    // "shadow runs never send"; "compared with the effects the control really performed
    // (effects[0] stripe.paymentIntents.create args[0].amount=4990 vs 5140)"; the tripwire "blocks
    // undeclared network calls". The test process counts what its SMTP, Stripe and sink servers received.
    async after({ mailer, stripeClient, audit }: { mailer: typeof transporter; stripeClient: typeof stripe; audit: typeof db }): Promise<void> {
      const checkoutWith = (totalOf: (cart: Cart) => OrderTotal) => async (c: Cart): Promise<{ ok: boolean; mailed: boolean }> => {
        const amount = Math.round(totalOf(c).total * 100);
        await stripeClient.paymentIntents.create({ amount, currency: "usd", metadata: { cart: c.id } });
        const info = await mailer.sendMail({ from: "shop@example.com", to: `${c.customerId}@example.com`, subject: `Your order ${c.id}`, text: "Thank you." });
        await audit.insert({ actor: c.customerId, action: `checkout ${c.id}` });
        // The candidate reads the mail's answer as the old code does: the sink's answer has nodemailer's shape.
        return { ok: true, mailed: typeof info.messageId === "string" };
      };
      const published = memoryPublisher();
      const checkout = shadow(checkoutWith(legacyOrderTotal), checkoutWith(newOrderTotal), { name: "checkout", publish: published });
      const carts = [cart, ...walkthrough.carts(9)];
      for (const c of carts) assert.deepEqual(await checkout(c), { ok: true, mailed: true });
      await flush();
      assert.equal(published.results.length, carts.length);
      const effects = ["stripe.paymentIntents.create", "mailer.sendMail", "audit.insert"];
      for (const result of published.results) {
        assert.deepEqual(result.control.effects.map((e) => [e.name, e.blocked]), effects.map((name) => [name, false]));
        assert.deepEqual(result.candidates[0]!.effects.map((e) => [e.name, e.blocked]), effects.map((name) => [name, true]));
        assert.deepEqual(result.candidates[0]!.value, { ok: true, mailed: true }, "the candidate got nodemailer-shaped answers");
      }
      assert.deepEqual(walkthrough.auditRows(), carts.map((c) => ({ actor: c.customerId, action: `checkout ${c.id}` })), "only the control's rows are in the database");
      assert.deepEqual(published.results[0]!.mismatches.map((m) => [m.kind, m.summary]), [["effects", "effects[0] stripe.paymentIntents.create args[0].amount=4990 vs 5140"]]);

      const audited = memoryPublisher();
      const withAudit = shadow(
        async (c: Cart) => legacyOrderTotal(c).total,
        async (c: Cart) => {
          // Nobody declared this call: the tripwire stops it before it connects.
          await fetch(`http://127.0.0.1:${walkthrough.sinkPort}/audit?cart=${c.id}`).catch(() => undefined);
          return legacyOrderTotal(c).total;
        },
        { name: "audited-total", publish: audited },
      );
      assert.equal(await withAudit(cart), 49.9);
      await flush();
      const leaks = audited.results[0]!.candidates[0]!.leaks;
      assert.deepEqual(leaks.map((l) => [l.kind, l.blocked]), [["network", true]]);
      assert.match(leaks[0]!.target, new RegExp(`^GET http://127\\.0\\.0\\.1:${walkthrough.sinkPort}/audit`));
      assert.equal(withAudit.experiment.enabled, false, "one leak switches the candidate off");
      assert.match(withAudit.experiment.disabledReason ?? "", /leak/);
      walkthrough.facts["silent"] = {
        emails: carts.map((c) => `${c.customerId}@example.com`),
        charges: carts.map((c) => Math.round(legacyOrderTotal(c).total * 100)),
      };
    },
  },

  "Name the reasons, silence the noise": {
    // Each difference gets the name of the first rule it matches; noise buckets do not count; a status
    // change outranks field differences; calibration learns what differs between two runs of the old code.
    async after({ quote }: { quote: Wrapped<Reply> }): Promise<void> {
      const carts = walkthrough.carts(400);
      const answers = await walkthrough.serve(carts, quote);
      await flush();
      answers.forEach((answer) => assert.equal(answer.status, 200, "the old quote answers"));
      const results = await resultsOf("legacyQuote");
      assert.equal(results.length, carts.length, "published to results.jsonl: the JSONL publisher is still configured");
      let matchedWithNoise = 0;
      let statusChanges = 0;
      let calibrated = 0;
      for (const [i, result] of results.entries()) {
        const diffs = diffsOf(result);
        for (const diff of diffs) {
          if (/^lines\[\d+\]\.tax$/.test(diff.path)) assert.deepEqual([diff.bucket, diff.noise ?? false], ["tax-rounding-per-line", false], diff.path);
          if (diff.path === "meta.traceId") assert.deepEqual([diff.bucket, diff.noise], ["paths", true]);
          if (diff.path === "meta.quotedAt") assert.deepEqual([diff.bucket, diff.noise], ["timestamps", true]);
        }
        const node = diffs.find((d) => d.path === "meta.node");
        if (i >= 50 && node?.bucket === "calibrated-noise" && node.noise === true) calibrated++;
        assert.ok(diffs.some((d) => d.path === "meta.traceId"), "every quote has a fresh trace id");
        if (result.mismatches[0]?.kind === "status") {
          statusChanges++;
          assert.match(result.mismatches[0].summary, /^status=200 vs 409/);
        }
        const serious = result.mismatches.flatMap((m) => m.diffs).filter((d) => d.noise !== true);
        if (serious.length === 0) {
          assert.equal(result.matched, true, "noise alone is a match");
          matchedWithNoise++;
        } else {
          assert.equal(result.mismatched, true);
        }
      }
      const expired = carts.filter((c) => c.coupon === "EXPIRED").length;
      assert.ok(expired > 0);
      assert.equal(statusChanges, expired, "every expired coupon is a status change, named as one");
      assert.ok(matchedWithNoise > 0, "runs that differ only in noise count as matched");
      assert.equal(calibrated, results.length - 50, "after 50 calibration runs, the answering node is learned noise");
      walkthrough.facts["buckets"] = { runs: results.length, matchedWithNoise, statusChanges };
    },
  },

  "Read the scorecard, let guardrails roll back": {
    async later({ orderTotal }: { orderTotal: Wrapped<OrderTotal>; scorecard: Scorecard }): Promise<void> {
      await walkthrough.serve(walkthrough.carts(1500, 600), orderTotal);
      await flush();
    },
    // The summary's shape; segments by lift, us-or clean; the guardrail (mismatch rate 2% over 500 runs)
    // switches the candidate off by itself and the control never notices; the CLI prints the same
    // breakdown (the test process compares it with `facts.segments`).
    async after({ orderTotal, scorecard }: { orderTotal: Wrapped<OrderTotal>; scorecard: Scorecard }): Promise<void> {
      const summary = scorecard.summary("legacyOrderTotal");
      assert.ok(summary !== undefined);
      assert.equal(orderTotal.experiment.enabled, false, "the mismatch-rate guardrail tripped");
      assert.match(orderTotal.experiment.disabledReason ?? "", /mismatch-rate/);
      assert.ok(summary.runs >= 500 && summary.runs < 700, `judged from the 500th run on: ${summary.runs}`);
      assert.ok(1 - summary.fieldMatchRate > 0.02);
      for (const key of ["statusMatchRate", "fieldMatchRate", "timeoutRate", "errorRate"] as const) assert.equal(typeof summary[key], "number");
      assert.equal(typeof summary.latency.control.p95, "number");
      assert.equal(typeof summary.latency.p95Ratio, "number");
      const regions = summary.segments.filter((s) => s.key === "region");
      assert.deepEqual(regions.map((s) => s.value).sort(), ["eu-de", "us-ny", "us-or"]);
      const lifts = regions.filter((s) => s.runs >= 10).map((s) => s.lift);
      assert.deepEqual(lifts, [...lifts].sort((a, b) => b - a), "highest lift first");
      const byRegion = Object.fromEntries(regions.map((s) => [s.value, s]));
      assert.deepEqual([byRegion["us-or"]!.mismatchRate, byRegion["us-or"]!.lift], [0, 0], "no tax and coupons applied: us-or matches");
      assert.ok(byRegion["us-ny"]!.reasons.some((r) => r.reason === "total"), "the forgotten coupon shows in us-ny");
      // Each reason's example quotes that reason's own diff (README: `example: "tax=0.1 vs 0.09"`).
      for (const reason of summary.reasons) assert.match(reason.example, new RegExp(`^${reason.reason}=[\\d.]+ vs [\\d.]+$`));

      // Tripped: the candidate no longer runs, and the caller still gets the old answers.
      const start = walkthrough.calls.length;
      const carts = walkthrough.carts(200);
      const answers = await walkthrough.serve(carts, orderTotal);
      await flush();
      assert.equal(callsSince(start, "newOrderTotal").length, 0);
      answers.forEach((answer, i) => assert.deepEqual(answer, legacyOrderTotal(carts[i]!)));
      walkthrough.facts["segments"] = regions.map((s) => ({ value: s.value, runs: s.runs, mismatchRate: s.mismatchRate }));
      walkthrough.facts["reasons"] = summary.reasons.map(({ reason, count, example }) => ({ reason, count, example }));
    },
  },

  "Ramp with a feature flag": {
    // "a number flag is the share of customers mirrored: 0.01 → 0.05 → 0.25 → 1", sticky per customer.
    async after({ total }: { total: Wrapped<OrderTotal> }): Promise<void> {
      const carts = walkthrough.carts(2000); // one cart per customer
      let previous = new Set<string>();
      const shares: Record<string, number> = {};
      for (const share of [0.01, 0.05, 0.25, 1]) {
        await walkthrough.setRamp(share);
        const start = walkthrough.calls.length;
        await walkthrough.serve(carts, total);
        await flush();
        const mirrored = new Set(callsSince(start, "newTotal", "oldTotal").map((c) => c.customerId));
        const observed = mirrored.size / carts.length;
        assert.ok(Math.abs(observed - share) <= Math.max(0.01, share * 0.25), `flag ${share}: ${observed} of customers mirrored`);
        for (const customer of previous) assert.ok(mirrored.has(customer), `${customer} stays mirrored as the ramp goes up`);
        previous = mirrored;
        shares[String(share)] = mirrored.size;
      }
      assert.equal(previous.size, carts.length);
      walkthrough.facts["ramp"] = shares;
    },
  },

  "Test mode": {
    // "throws a MismatchError that lists both values and the difference".
    async threw(error: unknown): Promise<void> {
      assert.ok(error instanceof MismatchError, `a MismatchError, got ${String(error)}`);
      assert.equal(error.experiment, "total");
      assert.deepEqual(error.result.mismatches.map((m) => m.summary), [README_SUMMARY]);
      assert.match(error.message, /^control:\n[^]*total: 49\.9,[^]*^candidate:\n[^]*total: 51\.4,/m, "both values, control first");
      assert.ok(error.message.includes(README_SUMMARY), error.message);
    },
  },

  "Replay mismatches, read the report": {
    async later({ orderTotal }: { orderTotal: Wrapped<OrderTotal> }): Promise<void> {
      await walkthrough.serve(walkthrough.carts(400), orderTotal);
      await flush();
      replayStart = walkthrough.calls.length;
    },
    // "0 once the fix is right; both sides ran in the shadow"; "notice: how many records could not be
    // replayed and why"; a file written without captureArgs "is refused with a PenumbraError that says so".
    async after({ report }: { report: ReplayReport; orderTotal: Wrapped<OrderTotal> }): Promise<void> {
      const lines = fs.readFileSync("results.jsonl", "utf8").split("\n").filter((l) => l !== "");
      const records = lines.map((l) => JSON.parse(l) as { experiment: string; args?: unknown[] });
      const captured = records.filter((r) => r.args !== undefined);
      assert.equal(captured.length, 400);
      assert.ok(captured.every((r) => r.experiment === "order-total"));
      assert.equal(report.runs, captured.length);
      assert.equal(report.differing.length, 0);
      const replayed = walkthrough.calls.slice(replayStart).filter((c) => c.fn === "legacyOrderTotal" || c.fn === "fixedOrderTotal");
      assert.equal(replayed.length, 2 * captured.length);
      assert.ok(replayed.every((c) => c.shadow), "both sides ran in the shadow");
      const uncaptured = records.length - captured.length;
      assert.ok(uncaptured > 0);
      assert.match(report.notice ?? "", new RegExp(`\\b${uncaptured}\\b`));
      assert.match(report.notice ?? "", /captureArgs/);

      // Before the fix: the replay's count of differing records is the real one.
      const buggy = await replay("results.jsonl", { control: legacyOrderTotal, candidate: newOrderTotal, progress: false });
      const differ = captured.filter((r) => !isDeepStrictEqual(legacyOrderTotal(r.args![0] as Cart), newOrderTotal(r.args![0] as Cart))).length;
      assert.ok(differ > 0);
      assert.equal(buggy.differing.length, differ);

      // Nothing captured: refused, never "0 differing".
      fs.writeFileSync("uncaptured.jsonl", lines.filter((_, i) => records[i]!.args === undefined).join("\n") + "\n");
      await assert.rejects(
        replay("uncaptured.jsonl", { control: legacyOrderTotal, candidate: fixedOrderTotal, progress: false }),
        (error: unknown) => error instanceof PenumbraError && error.code === "PENUMBRA_NOTHING_REPLAYED" && /captureArgs: true/.test(error.message),
      );
      walkthrough.facts["replay"] = { runs: report.runs, differing: buggy.differing.length, notReplayed: uncaptured };
    },
  },
};

let replayStart = 0;

/**
 * An application has one `shadow()` per function: each README section's wrapper stands in for the
 * previous section's. The walkthrough switches a section's experiments off when the section is done,
 * as replacing the code would, so the next section's experiment of the same name starts on its own.
 */
export function retire(locals: Record<string, unknown>): void {
  for (const value of Object.values(locals)) {
    const experiment = value instanceof Experiment ? value : (value as { experiment?: unknown } | null)?.experiment;
    if (experiment instanceof Experiment) experiment.disable("replaced by the next README section");
  }
}
