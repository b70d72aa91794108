/**
 * penumbra/fleet: the flag file (flagd's format, read by flagd's own engine, atomic writes, watched
 * folder) and the fleet guardrail against a real Prometheus (Debian's package, started here as a
 * plain process) and against loopback stand-ins for the failures a real one cannot be made to show.
 */
import { strict as assert } from "node:assert";
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { FlagdCore, MemoryStorage } from "@openfeature/flagd-core";
import { OpenFeature } from "@openfeature/server-sdk";
import fc from "fast-check";
import { Registry } from "prom-client";
import { freePort, prometheusMissing, startPrometheus, type PrometheusServer } from "../../examples/fleet/prometheus-server";
import { flagdFile, fleetGuardrail, fleetQueries, type FleetTripEvent } from "../../src/integrations/fleet";
import { openFeatureGate } from "../../src/integrations/openfeature";
import { prometheusPublisher } from "../../src/integrations/prometheus";
import type { Observation, Result } from "../../src/types/results";
import { matchedResult, mismatchedResult } from "../publishers/fixtures";
import { metricsServer } from "./fleet-support";

const root = path.resolve(__dirname, "../..");
let domains = 0;

async function until(condition: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met in ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function tempFolder(): string {
  return mkdtempSync(path.join(tmpdir(), "penumbra-fleet-"));
}

describe("penumbra/fleet flagdFile", () => {
  const folders: string[] = [];
  const fresh = (): string => {
    const dir = tempFolder();
    folders.push(dir);
    return path.join(dir, "flags.json");
  };
  after(async () => {
    await OpenFeature.close();
    for (const dir of folders) rmSync(dir, { recursive: true, force: true });
  });

  it("writes flagd's JSON format, which flagd's own engine reads: a boolean and a fraction", async () => {
    const file = fresh();
    const flags = flagdFile(file);
    await flags.set("checkout.shadow", true);
    await flags.set("checkout.ramp", 0.25);
    const text = readFileSync(file, "utf8");
    const document = JSON.parse(text) as { $schema: string; flags: Record<string, unknown> };
    assert.equal(document.$schema, "https://flagd.dev/schema/v0/flags.json");
    const silent = { error: () => undefined, warn: () => undefined, info: () => undefined, debug: () => undefined };
    new MemoryStorage(silent).setConfigurations(text, true); // strict: throws unless flagd's schema accepts it
    const core = new FlagdCore(undefined, silent);
    core.setConfigurations(text);
    assert.equal(core.resolveBooleanEvaluation("checkout.shadow", false, {}).value, true);
    assert.equal(core.resolveNumberEvaluation("checkout.ramp", 0, {}).value, 0.25);
    await flags.set("checkout.shadow", false);
    core.setConfigurations(readFileSync(file, "utf8"));
    assert.equal(core.resolveBooleanEvaluation("checkout.shadow", true, {}).value, false);
    assert.deepEqual(readdirSync(path.dirname(file)), ["flags.json"], "no temporary file left behind");
    await flags.close();
  });

  it("keeps the other flags and fields of a hand-written file, and drops the flag's own targeting", async () => {
    const file = fresh();
    const handWritten = {
      $schema: "https://flagd.dev/schema/v0/flags.json",
      metadata: { owner: "checkout-team" },
      flags: {
        "other.flag": { state: "ENABLED", variants: { a: "x", b: "y" }, defaultVariant: "b" },
        "checkout.shadow": {
          state: "ENABLED",
          variants: { on: true, off: false },
          defaultVariant: "off",
          targeting: { fractional: [["on", 50], ["off", 50]] },
          metadata: { ticket: "SHOP-1" },
        },
      },
    };
    writeFileSync(file, JSON.stringify(handWritten));
    const flags = flagdFile(file);
    await flags.set("checkout.shadow", false);
    const after = JSON.parse(readFileSync(file, "utf8")) as typeof handWritten;
    assert.deepEqual(after.metadata, handWritten.metadata);
    assert.deepEqual(after.flags["other.flag"], handWritten.flags["other.flag"]);
    assert.equal(after.flags["checkout.shadow"].targeting, undefined);
    assert.deepEqual(after.flags["checkout.shadow"].metadata, { ticket: "SHOP-1" });
    await flags.close();
  });

  it("refuses bad values and never overwrites a file that is not flagd JSON", async () => {
    const file = fresh();
    const flags = flagdFile(file);
    await assert.rejects(flags.set("", true), TypeError);
    await assert.rejects(flags.set("k", 5), /fraction/);
    await assert.rejects(flags.set("k", Number.NaN), /fraction/);
    await assert.rejects(flags.set("k", "on" as never), TypeError);
    writeFileSync(file, "{ half an edit");
    await assert.rejects(flags.set("k", true), /not overwritten/);
    assert.equal(readFileSync(file, "utf8"), "{ half an edit");
    assert.throws(() => flagdFile(""), /path/);
    await flags.close();
  });

  it("readers never see half a file, whatever sequence of writes (generated)", async () => {
    const file = fresh();
    const flags = flagdFile(file);
    await flags.set("k", true);
    let reads = 0;
    let reading = true;
    const reader = (async () => {
      while (reading) {
        JSON.parse(readFileSync(file, "utf8")); // throws on a torn file
        reads++;
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(fc.boolean(), fc.double({ min: 0, max: 1, noNaN: true })), { minLength: 1, maxLength: 8 }), async (values) => {
        await Promise.all(values.map((value, i) => flags.set(`flag-${i % 3}`, value)));
        const document = JSON.parse(readFileSync(file, "utf8")) as { flags: Record<string, { defaultVariant: string; variants: Record<string, unknown> }> };
        // Writes from one process are serialised: the last value set for each key is the one on disk.
        for (let key = 0; key < 3; key++) {
          const last = values.filter((_, i) => i % 3 === key).at(-1);
          if (last === undefined) continue;
          const flag = document.flags[`flag-${key}`];
          assert.equal(flag?.variants[flag.defaultVariant], last);
        }
      }),
      { numRuns: 30 },
    );
    reading = false;
    await reader;
    assert.ok(reads > 0);
    await flags.close();
  });

  it("the provider follows the file: a write by another process reaches openFeatureGate, a missing file means off", async function () {
    this.timeout(30_000);
    const file = fresh();
    const flags = flagdFile(file);
    const domain = `fleet-${++domains}`;
    await OpenFeature.setProviderAndWait(domain, flags.provider);
    const gate = openFeatureGate(OpenFeature.getClient(domain), { flagKey: "checkout.shadow" });
    assert.equal(gate.lastValue, undefined, "no file yet: no flag, off");
    assert.equal(await gate().catch(() => false), false);

    // Another process writes through its own flagdFile: this provider sees it through the folder watch.
    const write = (value: string): Promise<void> =>
      new Promise((resolve, reject) =>
        execFile(
          process.execPath,
          ["-r", "ts-node/register", "-e", `require("./src/integrations/fleet").flagdFile(${JSON.stringify(file)}).set("checkout.shadow", ${value})`],
          { cwd: root, timeout: 20_000 },
          (error) => (error ? reject(error) : resolve()),
        ),
      );
    let written = Date.now();
    await write("0.5");
    written = Date.now();
    await until(() => gate.lastValue === 0.5);
    console.log(`      change seen ${Date.now() - written} ms after the other process exited`);
    await write("false");
    await until(() => gate.lastValue === false);
    assert.equal(await gate(), false);

    // A non-atomic editor (truncate and write) and a plain rename are seen too.
    writeFileSync(file, JSON.stringify({ flags: { "checkout.shadow": { state: "ENABLED", variants: { on: true }, defaultVariant: "on" } } }));
    await until(() => gate.lastValue === true);
    const other = `${file}.new`;
    writeFileSync(other, JSON.stringify({ flags: { "checkout.shadow": { state: "ENABLED", variants: { f: 0.1 }, defaultVariant: "f" } } }));
    renameSync(other, file);
    await until(() => gate.lastValue === 0.1);
    // A broken file keeps the last good configuration.
    writeFileSync(file, "{ not json");
    await new Promise((resolve) => setTimeout(resolve, 300));
    // (Without a targeting key a fraction is drawn at random per call, so only the value is compared.)
    await gate();
    assert.equal(gate.lastValue, 0.1);
    // Deleting the file removes the flag: off.
    rmSync(file);
    await until(() => gate.lastValue === undefined);
    gate.close();
    await flags.close();
  });
});

/** A result of experiment `name` whose candidate mismatches or not, with the given durations. */
function result(name: string, mismatched: boolean, candidateMs = 3.4, timedOut = false): Result<unknown> {
  const base = mismatched ? mismatchedResult() : matchedResult();
  return {
    ...base,
    experiment: name,
    candidates: base.candidates.map((c: Observation<unknown>) => ({ ...c, durationMs: candidateMs, timedOut })),
  };
}

describe("penumbra/fleet fleetGuardrail", () => {
  const noTrip = (): void => {
    throw new Error("must not trip");
  };

  it("validates its options when built, naming the option", () => {
    const base = { prometheus: "http://127.0.0.1:9", experiment: "x", maxMismatchRate: 0.05, onTrip: noTrip };
    const built = fleetGuardrail(base);
    built.stop();
    assert.throws(() => fleetGuardrail({ ...base, prometheus: "localhost:9090" }), /prometheus/);
    assert.throws(() => fleetGuardrail({ ...base, experiment: "" }), /experiment/);
    assert.throws(() => fleetGuardrail({ ...base, maxMismatchRate: 2 }), /maxMismatchRate/);
    assert.throws(() => fleetGuardrail({ ...base, maxMismatchRate: undefined }), /threshold/);
    assert.throws(() => fleetGuardrail({ ...base, maxP95Ratio: 0 }), /maxP95Ratio/);
    assert.throws(() => fleetGuardrail({ ...base, window: "1 minute" }), /window/);
    assert.throws(() => fleetGuardrail({ ...base, everyMs: -1 }), /everyMs/);
    assert.throws(() => fleetGuardrail({ ...base, minRunsPerSecond: Number.NaN }), /minRunsPerSecond/);
    assert.throws(() => fleetGuardrail({ ...base, onTrip: undefined as never }), /onTrip/);
  });

  it("is not judged, with the reason, when Prometheus is unreachable", async () => {
    const port = await freePort(); // nothing listens there
    const guardrail = fleetGuardrail({ prometheus: `http://127.0.0.1:${port}`, experiment: "x", maxMismatchRate: 0.05, onTrip: noTrip });
    const verdict = await guardrail.check();
    guardrail.stop();
    assert.equal(verdict.judged, false);
    assert.match(verdict.reason ?? "", /unreachable/);
    assert.deepEqual(verdict.values, {});
  });

  it("is not judged when the API answers an error, garbage or an empty vector", async () => {
    const answers = [
      { status: 400, body: JSON.stringify({ status: "error", errorType: "bad_data", error: "parse error" }), reason: /refused the query: 400 parse error/ },
      { status: 200, body: "<html>proxy login</html>", reason: /refused/ },
      { status: 200, body: JSON.stringify({ status: "success", data: { resultType: "vector", result: [] } }), reason: /no penumbra_comparisons_total series/ },
    ];
    for (const answer of answers) {
      const server: Server = createServer((_req, res) => res.writeHead(answer.status, { "content-type": "application/json" }).end(answer.body));
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      const port = (server.address() as { port: number }).port;
      const guardrail = fleetGuardrail({ prometheus: `http://127.0.0.1:${port}/`, experiment: "x", maxMismatchRate: 0.05, onTrip: noTrip });
      const verdict = await guardrail.check();
      guardrail.stop();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      assert.equal(verdict.judged, false);
      assert.match(verdict.reason ?? "", answer.reason);
    }
  });

  it("never rejects and never judges on a generated answer that is not a usable vector", async () => {
    let body = "";
    const server: Server = createServer((_req, res) => res.writeHead(200, { "content-type": "application/json" }).end(body));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as { port: number }).port;
    // The same generated body answers every query, so a valid vector may well trip: that is allowed, once.
    let trips = 0;
    const guardrail = fleetGuardrail({ prometheus: `http://127.0.0.1:${port}`, experiment: "x", maxMismatchRate: 0.05, onTrip: () => void trips++ });
    guardrail.stop();
    const sampleValue = fc.oneof(fc.constantFrom("NaN", "+Inf", "-Inf", "", "0", "1e309"), fc.double().map(String), fc.anything());
    const result = fc.record({ metric: fc.oneof(fc.dictionary(fc.string(), fc.string()), fc.anything()), value: fc.oneof(fc.tuple(fc.double(), sampleValue), fc.anything()) }, { requiredKeys: [] });
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            fc.json(),
            fc.record({ status: fc.constantFrom("success", "error"), data: fc.record({ resultType: fc.constantFrom("vector", "matrix", "scalar"), result: fc.array(result, { maxLength: 4 }) }) }).map((v) => JSON.stringify(v)),
          ),
          async (answer) => {
            body = answer;
            const verdict = await guardrail.check();
            for (const value of Object.values(verdict.values)) assert.ok(Number.isFinite(value), `value ${value} in ${answer}`);
            if (verdict.judged) {
              // Judged only on a successful vector with a finite rate of at least 1/s.
              const parsed = JSON.parse(answer) as { status?: string; data?: { resultType?: string } };
              assert.equal(parsed.status, "success");
              assert.equal(parsed.data?.resultType, "vector");
              assert.ok((verdict.values["runsPerSecond"] ?? 0) >= 1);
            } else {
              assert.ok(typeof verdict.reason === "string" && verdict.reason.length > 0);
            }
          },
        ),
        { numRuns: 150 },
      );
      assert.ok(trips <= 1, `tripped ${trips} times`);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it("quotes any experiment or candidate name safely in PromQL", () => {
    fc.assert(
      fc.property(fc.string(), fc.string({ minLength: 1 }), (experiment, candidate) => {
        const q = fleetQueries(experiment, candidate, "1m");
        assert.ok(q.runsPerSecond.includes(`experiment=${JSON.stringify(experiment)},candidate=${JSON.stringify(candidate)}`));
      }),
    );
  });

  describe("against a real Prometheus", function () {
    this.timeout(90_000);
    let prometheus: PrometheusServer | undefined;
    let served: { target: string; close(): Promise<void> } | undefined;
    const registry = new Registry();
    const publisher = prometheusPublisher({ registry });
    const timers: NodeJS.Timeout[] = [];

    /** Publishes `perSecond` results per second of experiment `name`; `bad()` says whether this one mismatches. */
    const traffic = (name: string, perSecond: number, bad: () => boolean, candidateMs = 3.4): void => {
      const every = Math.max(10, Math.round(1000 / perSecond));
      const batch = Math.max(1, Math.round((perSecond * every) / 1000));
      timers.push(setInterval(() => {
        for (let i = 0; i < batch; i++) publisher.publish(result(name, bad(), candidateMs));
      }, every));
    };

    before(async function () {
      const missing = prometheusMissing();
      if (missing !== undefined) {
        console.log(`      skipped: ${missing}`);
        this.skip();
      }
      served = await metricsServer(registry);
      prometheus = await startPrometheus([served.target]);
      await prometheus.targetsUp(30_000);
    });
    after(async () => {
      for (const timer of timers) clearInterval(timer);
      await prometheus?.stop();
      await served?.close();
    });

    const guard = (experiment: string, onTrip: (event: FleetTripEvent) => void, extra: Record<string, unknown> = {}) =>
      fleetGuardrail({
        prometheus: prometheus?.url ?? "",
        experiment,
        maxMismatchRate: 0.05,
        maxP95Ratio: 50,
        window: "5s",
        everyMs: 60_000,
        onTrip,
        ...extra,
      });

    /** Checks until the verdict satisfies `done` (scrapes take a few seconds to land). */
    const checkUntil = async (guardrail: ReturnType<typeof fleetGuardrail>, done: (v: Awaited<ReturnType<typeof guardrail.check>>) => boolean) => {
      const deadline = Date.now() + 30_000;
      for (;;) {
        const verdict = await guardrail.check();
        if (done(verdict) || Date.now() > deadline) return verdict;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    };

    it("is not judged before an experiment has series, and not judged below the minimum fleet rate", async () => {
      const empty = guard("never-ran", noTrip);
      const none = await empty.check();
      empty.stop();
      assert.equal(none.judged, false);
      assert.match(none.reason ?? "", /no penumbra_comparisons_total series/);

      traffic("trickle", 0.5, () => true); // every run mismatches, but half a run per second proves nothing
      const slow = guard("trickle", noTrip, { minRunsPerSecond: 2 });
      const verdict = await checkUntil(slow, (v) => v.reason?.includes("below minRunsPerSecond") === true);
      slow.stop();
      assert.equal(verdict.judged, false, JSON.stringify(verdict));
      assert.match(verdict.reason ?? "", /below minRunsPerSecond 2/);
      assert.ok((verdict.values["runsPerSecond"] ?? 99) < 2);
    });

    it("judges a healthy fleet healthy, with its numbers, and trips once on a bad candidate", async () => {
      let bad = false;
      traffic("checkout", 50, () => bad && Math.random() < 0.5);
      const trips: FleetTripEvent[] = [];
      const guardrail = guard("checkout", (event) => {
        trips.push(event);
      });
      const healthy = await checkUntil(guardrail, (v) => v.judged && (v.values["runsPerSecond"] ?? 0) > 20);
      assert.equal(healthy.judged, true, JSON.stringify(healthy));
      assert.equal(healthy.reason, undefined);
      assert.equal(healthy.values["mismatchRate"], 0);
      const p95 = healthy.values["p95Ratio"];
      assert.ok(p95 !== undefined && p95 > 1 && p95 < 10, `p95 ratio ${String(p95)} (candidate 3.4 ms vs control 1.2 ms)`);
      assert.equal(trips.length, 0);

      bad = true;
      const tripped = await checkUntil(guardrail, () => trips.length > 0);
      assert.match(tripped.reason ?? "", /tripped: mismatch-rate/);
      assert.equal(trips.length, 1);
      const [event] = trips;
      assert.equal(event?.scope, "fleet");
      assert.equal(event?.experiment, "checkout");
      assert.equal(event?.reason, "mismatch-rate");
      assert.equal(event?.threshold, 0.05);
      assert.ok((event?.value ?? 0) > 0.05);
      assert.ok((event?.runsPerSecond ?? 0) > 20);
      assert.match(event?.query ?? "", /penumbra_comparisons_total\{experiment="checkout",outcome="mismatched"\}\[5s\]/);
      // Pasting the query into Prometheus gives the same number.
      const pasted = await prometheus?.query(event?.query ?? "");
      assert.ok((pasted?.[0]?.value ?? 0) > 0.05);
      await guardrail.check();
      await guardrail.check();
      assert.equal(trips.length, 1, "trips once");
      guardrail.stop();
    });

    it("trips on latency from the fleet's p95 ratio", async () => {
      traffic("slow-candidate", 40, () => false, 400); // candidate 400 ms vs control 1.2 ms
      const trips: FleetTripEvent[] = [];
      const guardrail = guard("slow-candidate", (event) => {
        trips.push(event);
      }, { maxMismatchRate: undefined, maxP95Ratio: 3 });
      await checkUntil(guardrail, () => trips.length > 0);
      guardrail.stop();
      assert.equal(trips[0]?.reason, "latency");
      assert.ok((trips[0]?.value ?? 0) > 3);
    });
  });
});

describe("examples/fleet/penumbra-rules.yml (the alerting rules users load)", function () {
  this.timeout(60_000);
  const rules = path.join(root, "examples", "fleet", "penumbra-rules.yml");
  const promtool = (args: string[]): Promise<{ code: number; output: string }> =>
    new Promise((resolve) =>
      execFile("promtool", args, { timeout: 30_000 }, (error, stdout, stderr) =>
        resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : -1, output: `${stdout}${stderr}` }),
      ),
    );

  before(function () {
    const missing = prometheusMissing();
    if (missing !== undefined) {
      console.log(`      skipped: ${missing} (promtool comes with it)`);
      this.skip();
    }
  });

  it("passes promtool check rules", async () => {
    const { code, output } = await promtool(["check", "rules", rules]);
    assert.equal(code, 0, output);
  });

  it("records the fleet's rates and alerts on them, never below 1 comparison/s, and on the first trip (promtool test rules)", async () => {
    const dir = tempFolder();
    const series = (labels: string, values: string): string => `      - series: '${labels}'\n        values: '${values}'`;
    const cmp = (experiment: string, outcome: string, instance: string): string =>
      `penumbra_comparisons_total{experiment="${experiment}",candidate="candidate",outcome="${outcome}",instance="${instance}"}`;
    const test = [
      `rule_files: [${JSON.stringify(rules)}]`,
      "evaluation_interval: 15s",
      "tests:",
      "  - interval: 15s",
      "    input_series:",
      // checkout: two processes, 6/s and 14/s, 1/s mismatched on each: 2 of 20 comparisons/s fleet-wide, 10%
      series(cmp("checkout", "mismatched", "a"), "0+15x60"),
      series(cmp("checkout", "matched", "a"), "0+75x60"),
      series(cmp("checkout", "mismatched", "b"), "0+15x60"),
      series(cmp("checkout", "matched", "b"), "0+195x60"),
      // trickle: every comparison mismatches, but 0.2/s is no evidence: recorded, never alerted (exp_alerts is exact)
      series(cmp("trickle", "mismatched", "a"), "0+3x60"),
      // a trip series created at 0, then the trip
      series('penumbra_trips_total{experiment="checkout",reason="mismatch-rate",instance="a"}', "0x30 1x30"),
      "    promql_expr_test:",
      "      - expr: penumbra:mismatch_rate:5m",
      "        eval_time: 10m",
      "        exp_samples:",
      `          - labels: 'penumbra:mismatch_rate:5m{experiment="checkout",candidate="candidate"}'`,
      "            value: 0.1",
      `          - labels: 'penumbra:mismatch_rate:5m{experiment="trickle",candidate="candidate"}'`,
      "            value: 1",
      "    alert_rule_test:",
      "      - eval_time: 10m",
      "        alertname: PenumbraMismatchRateHigh",
      "        exp_alerts:",
      "          - exp_labels: { severity: warning, experiment: checkout, candidate: candidate }",
      "            exp_annotations:",
      '              summary: "checkout/candidate: 10% of comparisons mismatch fleet-wide"',
      `              description: "Turn the experiment's flag off (flagdFile.set(key, false)) and read the reasons: penumbra:mismatch_reasons:increase1h."`,
      "      - eval_time: 9m",
      "        alertname: PenumbraTripped",
      "        exp_alerts:",
      "          - exp_labels: { severity: warning, experiment: checkout, reason: mismatch-rate, instance: a }",
      "            exp_annotations:",
      '              summary: "checkout on a was switched off by its guardrail (mismatch-rate)"',
      "",
    ].join("\n");
    const file = path.join(dir, "penumbra-rules.test.yml");
    writeFileSync(file, test);
    try {
      const { code, output } = await promtool(["test", "rules", file]);
      assert.equal(code, 0, output);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
