/**
 * The order-totals demo: a store shadows its rewritten order-total service before a holiday sale.
 *
 *   npm run demo                      # 6 000 carts, seed 42
 *   npm run demo -- --carts 20000 --seed 7 --out /tmp/demo
 *
 * Real SQLite, a real SMTP server and a payment-provider stand-in on 127.0.0.1; every side effect
 * goes through a penumbra guard and the tripwire is on. Exits 1 if anything leaked.
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import nodemailer from "nodemailer";
import Stripe from "stripe";
import {
  Scorecard,
  flush,
  installTripwire,
  jsonlPublisher,
  replay,
  shadow,
  type Result,
  type ScorecardSummary,
  type TripEvent,
} from "penumbra";
import { guardSqlite } from "penumbra/better-sqlite3";
import { guardMailer } from "penumbra/nodemailer";
import { guardStripe } from "penumbra/stripe";
import { ORDER_BUCKETS } from "./buckets";
import { createCheckout, createPlaceOrder, withUndeclaredFraudCheck, type PlaceOrder, type Shop } from "./checkout";
import { createDatabase, prepareRules } from "./db";
import { CANDIDATE_TIMEOUT_MS, PROMOTION_GATE, STAGES, guardrailsFor, stageSizes, thresholdTable } from "./ramp";
import { HOME_REGION } from "./db";
import { collectEvidence, effectLines, guardrailLines, progress, replayLine, scorecardLines, stageLine } from "./report";
import { startServerProcess } from "./servers";
import { createFixedTotal } from "./services/fixed-total";
import { createNewTotal } from "./services/new-total";
import { createOldTotal } from "./services/old-total";
import { generateTraffic } from "./traffic";
import type { Cart, Receipt } from "./types";

const EXPERIMENT = "order-total";
/** The context keys the scorecard breaks mismatches down by: where the cart is taxed, and its coupon. */
const SEGMENTS = ["region", "coupon"];

interface Options {
  carts: number;
  seed: number;
  out: string;
  concurrency: number;
  leak: boolean;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      // 6 000: every part of the story (both buckets, where each clusters, the replay) in well under
      // a minute on a 2-core machine; more carts change the counts, not the story (docs/demo.md).
      carts: { type: "string", default: "6000" },
      seed: { type: "string", default: "42" },
      out: { type: "string", default: path.join(__dirname, "out") },
      concurrency: { type: "string", default: "32" },
      leak: { type: "boolean", default: false },
    },
  });
  const whole = (name: string, text: string, min: number): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min) throw new TypeError(`--${name} must be a whole number >= ${min}, got ${text}`);
    return n;
  };
  return {
    carts: whole("carts", values.carts, 1),
    seed: whole("seed", values.seed, 0),
    out: path.resolve(values.out),
    concurrency: whole("concurrency", values.concurrency, 1),
    leak: values.leak,
  };
}

/** Runs `carts` through `checkout` with at most `concurrency` in flight: a storefront, not a loop. */
async function drive(carts: readonly Cart[], concurrency: number, checkout: (cart: Cart) => Promise<Receipt>, onDone: (cart: Cart, receipt: Receipt) => void): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < carts.length) {
      const cart = carts[next++] as Cart;
      onDone(cart, await checkout(cart));
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, carts.length) }, lane));
}

/** The recorded mismatches of the ramp, read back from the results file as a real team would. */
function recordedMismatches(file: string): Result<unknown>[] {
  return fs
    .readFileSync(file, "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as Result<unknown>)
    .filter((result) => result.experiment === EXPERIMENT && result.mismatched);
}

/** A path relative to where the demo was started, unless that climbs out of it. */
function shortPath(file: string): string {
  const relative = path.relative(process.cwd(), file);
  return relative.startsWith("..") ? file : relative;
}

/** The HTML report, by the penumbra CLI as a user would run it. */
function writeHtmlReport(results: string, html: string): Promise<string> {
  const cli = path.join(__dirname, "..", "..", "dist", "cli", "main.js");
  if (!fs.existsSync(cli)) return Promise.resolve(`HTML report: skipped (${path.relative(process.cwd(), cli)} not built; run npm run build)`);
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, "report", results, "--segments", SEGMENTS.join(","), "--html", html], { maxBuffer: 16 * 1024 * 1024 }, (error, _stdout, stderr) => {
      resolve(error === null ? `HTML report: ${html}` : `HTML report: failed (${stderr.split("\n")[0] ?? error.message})`);
    });
  });
}

/**
 * What the segments say, in the team's words: which region holds each named bucket and which
 * regions have none. Computed from the summary, so a different seed or size tells its own numbers.
 */
function storyLines(s: ScorecardSummary | undefined): string[] {
  if (s === undefined || s.runs === 0) return [];
  const regions = s.segments.filter((r) => r.key === "region");
  const clean = regions.filter((r) => r.mismatchRate === 0 && r.runs >= 10).map((r) => r.value);
  const lines = ["  so:"];
  for (const r of s.reasons.filter((x) => !x.reason.startsWith("effects:"))) {
    const homes = regions.map((row) => ({ value: row.value, count: row.reasons.find((x) => x.reason === r.reason)?.count ?? 0 })).filter((h) => h.count > 0);
    if (homes.length === 1 && homes[0]?.count === r.count) {
      lines.push(`    ${r.reason}: only in ${homes[0].value} (${r.count} of ${r.count} runs) - a rule of that one region, not of the code path`);
    } else {
      const worst = regions.filter((row) => row.runs >= 10 && row.lift > 1 && row.reasons.some((x) => x.reason === r.reason)).map((row) => `${row.value} (lift ${row.lift.toFixed(2)}x)`);
      lines.push(`    ${r.reason}: in ${homes.length} regions, worst in ${worst.join(", ") || "none above the overall rate"}`);
    }
  }
  if (clean.length > 0) lines.push(`    no mismatch at all in ${clean.join(", ")}`);
  lines.push("    a segment says where to look, the bucket next to it what to fix there (docs/segments.md)");
  return lines;
}

/** How the demo ends: what a team does next with what it just learned. */
function nextSteps(fixedAll: boolean, stillDiffering: number): string[] {
  if (!fixedAll) {
    return [
      `next step: the fix leaves ${stillDiffering} recorded mismatch${stillDiffering === 1 ? "" : "es"} differing: read them (still differs: ... above, or`,
      "  penumbra report results.jsonl --segments region,coupon) and fix the rewrite before any customer sees it.",
    ];
  }
  return [
    "next step: the replay clears every recorded mismatch, which is evidence, not a promotion:",
    "  1. shadow the fixed rewrite (services/fixed-total.ts) through the same ramp; the gate above needs its 100% stage",
    "     with no mismatch reason left, over at least the stage's minimum runs",
    "  2. move New York's after-tax coupon rule into the regions table (a data change: shadow it too)",
    "  3. then let the rewrite answer a few customers with `promote` (docs/promote.md), the guardrails still on",
  ];
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  const started = performance.now();
  fs.mkdirSync(options.out, { recursive: true });
  const resultsFile = path.join(options.out, "results.jsonl");
  fs.rmSync(resultsFile, { force: true });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "penumbra-order-totals-"));

  // The outside world, and the store's clients, each wrapped by its guard where it is created.
  const servers = await startServerProcess();
  const uninstallTripwire = installTripwire(); // anything undeclared a candidate opens is blocked and counted
  const transport = nodemailer.createTransport({ host: "127.0.0.1", port: servers.smtpPort, secure: false, ignoreTLS: true, pool: true, maxConnections: 8, maxMessages: Infinity });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const shop: Shop = {
    db: guardSqlite(createDatabase(path.join(dir, "shop.db"))),
    mailer: guardMailer(transport),
    stripe: guardStripe(new Stripe("sk_test_demo", { host: "127.0.0.1", port: servers.providerPort, protocol: "http", httpAgent: agent, maxNetworkRetries: 0, telemetry: false })),
  };
  const rules = prepareRules(shop.db);
  const oldTotal = createOldTotal(rules);
  const control = createPlaceOrder(shop, oldTotal);
  const rewrite = createPlaceOrder(shop, createNewTotal(rules));
  const candidate = options.leak ? withUndeclaredFraudCheck(rewrite, servers.providerPort) : rewrite;
  const fixed = createPlaceOrder(shop, createFixedTotal(rules));

  const carts = generateTraffic({ carts: options.carts, seed: options.seed });
  const sizes = stageSizes(carts.length);
  const unique = new Map(carts.map((cart) => [cart.requestId, cart]));

  console.log(`penumbra demo: shadowing the order-total rewrite on ${carts.length} checkouts (seed ${options.seed}, ${unique.size} distinct requests, ${carts.length - unique.size} retries)`);
  console.log(`  SQLite ${path.join(dir, "shop.db")}, SMTP 127.0.0.1:${servers.smtpPort}, payment provider 127.0.0.1:${servers.providerPort} (a child process), tripwire on`);
  console.log("");
  console.log("rollback triggers, written down before the ramp (guardrails switch the shadow off when one is exceeded):");
  for (const line of thresholdTable(sizes)) console.log(line);
  console.log("promotion gate (people decide, after the 100% stage):");
  for (const rule of PROMOTION_GATE) console.log(`  - ${rule}`);
  console.log("");

  const overall = new Scorecard({ windowMs: Number.MAX_SAFE_INTEGER, segments: SEGMENTS });
  const evidence = collectEvidence();
  const jsonl = jsonlPublisher(resultsFile);
  const desk = createCheckout(shop);
  const bar = progress(process.stdout, carts.length);
  const served = new Map<string, Receipt>();
  let answeredByOld = 0;
  let rolledBack: TripEvent | undefined;
  let offset = 0;
  let previousStage: { disable(reason?: string): void } | undefined;

  for (const [i, stage] of STAGES.entries()) {
    const stageCarts = carts.slice(offset, offset + (sizes[i] ?? 0));
    offset += stageCarts.length;
    const stageCard = new Scorecard({ windowMs: Number.MAX_SAFE_INTEGER });
    // The next stage replaces this experiment: retiring it hands its name on (no duplicate-name warning;
    // the overall scorecard merges the stages by name on purpose).
    previousStage?.disable(`ramped to stage ${i + 1}`);
    const shadowed =
      rolledBack === undefined
        ? shadow(control, candidate, {
            name: EXPERIMENT,
            sample: stage.sample,
            sampleBy: (cart) => cart.customer.id, // sticky: a customer mirrored at 1% stays mirrored at 5%
            captureArgs: true, // the recorded carts are what the fix is replayed on
            buckets: ORDER_BUCKETS,
            timeoutMs: CANDIDATE_TIMEOUT_MS,
            // The region the cart is taxed in (the services' own fallback) and its coupon: the
            // scorecard's segments, so it can say where the mismatches cluster.
            context: (cart) => ({ requestId: cart.requestId, region: cart.region ?? cart.customer.homeRegion ?? HOME_REGION, coupon: cart.couponCode ?? "no coupon" }),
            guardrails: guardrailsFor(stage, (event) => {
              rolledBack ??= event;
            }),
            publish: [overall, stageCard, evidence.publisher, jsonl],
          })
        : undefined; // after a trip the ramp stops: the old code serves alone
    const placeOrder: PlaceOrder = shadowed ?? control;
    desk.use(placeOrder);
    previousStage = shadowed?.experiment;
    const tripBefore = rolledBack;
    const label = `stage ${i + 1} (${stage.sample * 100}% mirrored)`;
    await drive(stageCarts, options.concurrency, desk.checkout, (cart, receipt) => {
      served.set(cart.requestId, receipt);
      bar.tick(label);
    });
    await flush();
    bar.clear();
    console.log(stageLine(i + 1, stage.sample, stageCarts.length, stageCard.summary(EXPERIMENT)));
    if (placeOrder !== control) {
      console.log("  guardrails:");
      for (const line of guardrailLines(stage, stageCard.summary(EXPERIMENT), tripBefore === undefined ? rolledBack : undefined)) console.log(line);
    }
    if (rolledBack !== undefined && placeOrder !== control) {
      console.log(`  ROLLED BACK: ${rolledBack.reason} ${rolledBack.value} > ${rolledBack.threshold}; the remaining traffic is served by the old code alone`);
    }
  }
  await jsonl.close();
  for (const [requestId, receipt] of served) {
    const cart = unique.get(requestId);
    if (cart !== undefined && Math.round(receipt.total * 100) === oldTotal(cart).total) answeredByOld++;
  }
  const trafficSeconds = (performance.now() - started) / 1000;

  console.log("");
  console.log(
    `shadow runs: ${evidence.results} of the ${unique.size} distinct checkouts were mirrored: each stage mirrors its share of customers ` +
      `(sticky per customer), and the ${carts.length - unique.size} retries are answered from the first attempt, never placed again, so never shadowed` +
      (rolledBack === undefined ? "" : `; after the rollback (${rolledBack.reason}) no call was mirrored`),
  );
  console.log(
    "p95 ratio: the candidate's charge, insert and email are sunk (answered in-process by the guards), so it is timed without its I/O " +
      "and its ratio stays near 0; the latency trigger cannot fire in this demo and says nothing about the rewrite's production latency. " +
      "In a service whose candidate does its own slow work (a new query, a remote call it reads), it would.",
  );
  console.log("");
  const summaryNow = overall.summary(EXPERIMENT);
  for (const line of scorecardLines(summaryNow, evidence, SEGMENTS)) console.log(line);
  const effectCount = (name: string): number => summaryNow?.reasons.find((r) => r.reason === `effects:${name}`)?.count ?? 0;
  if (effectCount("mailer.sendMail") < effectCount("stripe.paymentIntents.create")) {
    const fewer = effectCount("stripe.paymentIntents.create") - effectCount("mailer.sendMail");
    console.log(
      `  (effects:mailer.sendMail counts ${fewer} run${fewer === 1 ? "" : "s"} fewer than the charge: ` +
        "old accounts without an email address get no email that could differ)",
    );
  }
  for (const line of storyLines(summaryNow)) console.log(line);
  console.log("");

  // Expected effects come from the traffic itself (one charge per distinct request, one email per
  // distinct request whose account has an address), received ones from the servers' own counters.
  const expectedEmails = [...unique.values()].filter((cart) => cart.customer.email !== undefined).length;
  const chargedByControl = [...served.values()].reduce((sum, receipt) => sum + Math.round(receipt.total * 100), 0);
  const { emails: mail, charges: pay, cpuMs: serversCpuMs } = await servers.counters();
  const checks = [
    { label: "confirmation emails (SMTP server)", expected: expectedEmails, received: mail.received },
    { label: "charges (payment provider)", expected: unique.size, received: pay.received },
    { label: "charged amount, cents (provider vs receipts)", expected: chargedByControl, received: pay.amountCents },
  ];
  console.log(`side effects: only the control's may arrive (${evidence.results} shadow runs, each would have charged and emailed):`);
  for (const line of effectLines(checks)) console.log(line);
  console.log(
    `  (one charge per distinct checkout: ${unique.size}; ${unique.size - expectedEmails} of them come from old accounts with no email address: ` +
      `charged and answered, not emailed, hence ${expectedEmails} emails. The amount is the sum of the receipts' totals the customers saw.)`,
  );
  console.log(`  tripwire leaks                               ${evidence.leaks} (leak trips: ${evidence.leakTrips})`);
  for (const target of evidence.leakTargets) console.log(`    ${target}`);
  console.log(`  customers answered with the old service's total: ${answeredByOld}/${unique.size}`);
  console.log("");

  // The fix: replay every recorded mismatch, first against the rewrite as shipped (the mismatches
  // must come back, or the replay proves nothing), then against the fixed rewrite.
  const mismatches = recordedMismatches(resultsFile);
  console.log(`the fix: round tax per class again, keep New York's coupons after tax (services/fixed-total.ts)`);
  console.log(`  replaying the ${mismatches.length} recorded mismatches from ${shortPath(resultsFile)} (both sides in shadow: nothing is charged or sent)`);
  const all = mismatches.length; // keep every still-differing result, not the first 1000
  const before = await replay(mismatches, { control, candidate: rewrite, experiment: EXPERIMENT, buckets: ORDER_BUCKETS, progress: false, maxDiffering: all });
  console.log(replayLine("rewrite as shipped:", before.runs, before.differing.length, before.reasons));
  const after = await replay(mismatches, { control, candidate: fixed, experiment: EXPERIMENT, buckets: ORDER_BUCKETS, progress: false, maxDiffering: all });
  console.log(replayLine("fixed rewrite:", after.runs, after.differing.length, after.reasons));
  for (const result of after.differing.slice(0, 3)) console.log(`    still differs: ${result.mismatches[0]?.summary ?? ""}`);
  console.log("");

  console.log(await writeHtmlReport(resultsFile, path.join(options.out, "report.html")));
  console.log(`results: ${resultsFile}`);

  uninstallTripwire();
  transport.close();
  agent.destroy();
  await servers.close();
  fs.rmSync(dir, { recursive: true, force: true });

  const leaked = evidence.leaks > 0 || evidence.leakTrips > 0 || mail.received > expectedEmails || pay.received > unique.size;
  const lost = mail.received < expectedEmails || pay.received < unique.size || answeredByOld !== unique.size;
  const fixedAll = after.differing.length === 0 && after.runs === mismatches.length;
  const summary = overall.summary(EXPERIMENT);
  const { user, system } = process.cpuUsage();
  const storeCpu = (user + system) / 1e6; // since this process started, ts-node's compile included
  // The same facts for machines (CI, the demo's own test) as the terminal shows people.
  const facts = {
    carts: carts.length,
    distinctRequests: unique.size,
    shadowRuns: evidence.results,
    mismatched: mismatches.length,
    reasons: summary?.reasons.map(({ reason, count }) => ({ reason, count })) ?? [],
    segments: summary?.segments ?? [],
    leaks: evidence.leaks + evidence.leakTrips,
    trips: evidence.trips,
    effects: checks,
    answeredByOld,
    replay: { asShipped: { runs: before.runs, differing: before.differing.length }, fixed: { runs: after.runs, differing: after.differing.length } },
    seconds: { traffic: trafficSeconds, total: (performance.now() - started) / 1000, storeCpu: storeCpu, serversCpu: serversCpuMs / 1000 },
    exitCode: leaked || lost ? 1 : 0,
  };
  fs.writeFileSync(path.join(options.out, "summary.json"), `${JSON.stringify(facts, null, 2)}\n`);

  console.log(
    `done in ${((performance.now() - started) / 1000).toFixed(1)} s (traffic ${trafficSeconds.toFixed(1)} s; CPU: store process ${storeCpu.toFixed(1)} s, servers process ${(serversCpuMs / 1000).toFixed(1)} s): ` +
      (evidence.leaks > 0 || evidence.leakTrips > 0
        ? "LEAK: the candidate made undeclared calls (the tripwire caught them; see above)"
        : leaked
          ? "LEAK: the servers received more than the control sent"
          : lost
            ? "FAILED: the control's own effects or answers went missing"
            : "no leaks") +
      (fixedAll ? "; the fix clears every recorded mismatch" : "; the fix does NOT clear every recorded mismatch"),
  );
  console.log("");
  for (const line of nextSteps(fixedAll, after.differing.length)) console.log(line);
  return leaked || lost ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  },
);
