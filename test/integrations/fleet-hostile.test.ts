/**
 * fleetGuardrail against a loopback stand-in for Prometheus that answers each query as the test
 * says (the rate query apart from the rule queries): garbage, NaN, empty vectors, bodies that never
 * end. A verdict is earned by a number, never by the absence of one.
 */
import { strict as assert } from "node:assert";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import fc from "fast-check";
import { Registry } from "prom-client";
import { prometheusMissing, startPrometheus, type PrometheusServer } from "../../examples/fleet/prometheus-server";
import { fleetGuardrail, type FleetGuardrailOptions } from "../../src/integrations/fleet";
import { prometheusPublisher } from "../../src/integrations/prometheus";
import type { Observation, Result } from "../../src/types/results";
import { matchedResult } from "../publishers/fixtures";
import { metricsServer } from "./fleet-support";

type Answer = (res: ServerResponse, query: string) => void;

interface FakePrometheus {
  url: string;
  /** Answers the runs-per-second query (the first of a check). */
  runs: Answer;
  /** Answers every other query (the rules'). */
  rules: Answer;
  close(): Promise<void>;
}

async function fakePrometheus(): Promise<FakePrometheus> {
  const fake: FakePrometheus = {
    url: "",
    runs: (res) => res.end(),
    rules: (res) => res.end(),
    close: async () => undefined,
  };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const query = new URL(req.url ?? "/", "http://x").searchParams.get("query") ?? "";
    res.on("error", () => undefined);
    // The rate query is the only one that is not a ratio.
    (query.includes(" / ") ? fake.rules : fake.runs)(res, query);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  fake.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return fake;
}

const vector = (values: Array<[string, string]>): Answer => (res) =>
  res.writeHead(200, { "content-type": "application/json" }).end(
    JSON.stringify({ status: "success", data: { resultType: "vector", result: values.map(([candidate, v]) => ({ metric: { candidate }, value: [1, v] })) } }),
  );

describe("fleetGuardrail against a hostile Prometheus", function () {
  this.timeout(20_000);
  let fake: FakePrometheus;
  const trips: unknown[] = [];
  const guardrails: Array<{ stop(): void }> = [];
  const guard = (extra: Partial<FleetGuardrailOptions> = {}) => {
    const g = fleetGuardrail({ prometheus: fake.url, experiment: "x", maxMismatchRate: 0.05, everyMs: 60_000, onTrip: (e) => void trips.push(e), ...extra });
    guardrails.push(g);
    return g;
  };

  beforeEach(async () => {
    trips.length = 0;
    fake = await fakePrometheus();
  });
  afterEach(async () => {
    for (const g of guardrails.splice(0)) g.stop();
    await fake.close();
  });

  it("refuses, when built, options at their edges: a zero window, NaN or infinite everyMs, a threshold of NaN", () => {
    const base: FleetGuardrailOptions = { prometheus: "http://127.0.0.1:9", experiment: "x", maxMismatchRate: 0.05, onTrip: () => undefined };
    const bad: Array<[keyof FleetGuardrailOptions, unknown]> = [
      ["window", "0s"],
      ["window", "0m0s"],
      ["window", "00ms"],
      ["everyMs", Number.NaN],
      ["everyMs", Infinity],
      ["everyMs", 0],
      ["maxMismatchRate", Number.NaN],
      ["maxTimeoutRate", -0.5],
      ["maxP95Ratio", Number.NaN],
      ["minRunsPerSecond", -1],
      ["candidate", ""],
    ];
    for (const [option, value] of bad) {
      assert.throws(() => fleetGuardrail({ ...base, [option]: value }), (e: unknown) => e instanceof TypeError && e.message.includes(option), `${option}: ${String(value)}`);
    }
    const unreadable = Object.defineProperty({ ...base }, "window", { get: () => { throw new Error("getter"); }, enumerable: true });
    assert.throws(() => fleetGuardrail(unreadable), (e: unknown) => e instanceof TypeError && /options could not be read/.test(e.message));
    for (const [option, value] of [["window", "1m30s"], ["maxMismatchRate", 0], ["maxMismatchRate", 1], ["minRunsPerSecond", 0]] as const) {
      fleetGuardrail({ ...base, [option]: value }).stop();
    }
  });

  it("is not judged when the rates are there but no rule query answers a finite number", async () => {
    fake.runs = vector([["candidate", "50"]]);
    for (const rules of [vector([]), vector([["candidate", "NaN"]]), vector([["candidate", "+Inf"]]), vector([["other", "0.9"]])]) {
      fake.rules = rules;
      const verdict = await guard({ maxP95Ratio: 2 }).check();
      assert.equal(verdict.judged, false, JSON.stringify(verdict));
      assert.match(verdict.reason ?? "", /no finite/);
      assert.equal(trips.length, 0);
    }
  });

  it("is not judged when minRunsPerSecond is 0 and the fleet ran nothing (0 / 0 is no mismatch rate)", async () => {
    fake.runs = vector([["candidate", "0"]]);
    fake.rules = vector([["candidate", "NaN"]]);
    const verdict = await guard({ minRunsPerSecond: 0 }).check();
    assert.equal(verdict.judged, false, JSON.stringify(verdict));
    assert.equal(trips.length, 0);
  });

  it("still judges on the rules that were measured when another has no series yet", async () => {
    fake.runs = vector([["candidate", "50"]]);
    fake.rules = (res, query) => (query.includes("histogram_quantile") ? vector([])(res, query) : vector([["candidate", "0.01"]])(res, query));
    const verdict = await guard({ maxP95Ratio: 2 }).check();
    assert.equal(verdict.judged, true, JSON.stringify(verdict));
    assert.equal(verdict.values["mismatchRate"], 0.01);
    assert.equal(verdict.values["p95Ratio"], undefined);
  });

  it("gives up on a body that never ends without holding it in memory, and says why", async () => {
    const chunk = Buffer.alloc(1 << 16, 0x20);
    fake.runs = (res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.write('{"status":"success","data":{"resultType":"vector","result":[');
      const pump = (): void => {
        while (!res.destroyed && res.write(chunk));
      };
      res.on("drain", pump);
      pump();
    };
    const before = process.memoryUsage().rss;
    const started = Date.now();
    const verdict = await guard().check();
    const grew = process.memoryUsage().rss - before;
    assert.equal(verdict.judged, false);
    assert.match(verdict.reason ?? "", /more than/);
    assert.ok(Date.now() - started < 4_000, `took ${Date.now() - started} ms`);
    assert.ok(grew < 200e6, `rss grew ${Math.round(grew / 1e6)} MB`);
  });

  it("says the answer was not JSON, not that the query was refused, for an HTML page with status 200", async () => {
    fake.runs = (res) => res.writeHead(200, { "content-type": "text/html" }).end("<html><body>Sign in</body></html>");
    const verdict = await guard().check();
    assert.equal(verdict.judged, false);
    assert.match(verdict.reason ?? "", /not JSON/);
    assert.match(verdict.reason ?? "", /text\/html/);
  });

  it("never rejects, never judges without a finite rule value, and trips at most once, whatever each query answers", async () => {
    const sample = fc.oneof(
      fc.constantFrom("NaN", "+Inf", "-Inf", "", "0", "1", "50", "1e309", "1.7e308", "0.5", "-1"),
      fc.double().map(String),
    );
    const answer: fc.Arbitrary<Answer> = fc.oneof(
      fc.array(fc.tuple(fc.constantFrom("candidate", "other", '"\n'), sample), { maxLength: 3 }).map((v) => vector(v)),
      fc.constantFrom<Answer>(
        (res) => res.writeHead(500).end("internal"),
        (res) => res.writeHead(200).end("<html>"),
        (res) => res.writeHead(200).end('{"status":"success","data":{"resultType":"vector","result":{"0":1}}}'),
        (res) => res.writeHead(200).end('{"status":"success","data":{"resultType":"vector","result":[null]}}'),
        (res) => res.writeHead(200).end('{"status":"success","data":null}'),
        (res) => res.writeHead(200).end("null"),
        (res) => res.destroy(),
      ),
    );
    const g = guard({ maxP95Ratio: 2, maxTimeoutRate: 0.5, minRunsPerSecond: 0 });
    await fc.assert(
      fc.asyncProperty(answer, answer, async (runs, rules) => {
        fake.runs = runs;
        fake.rules = rules;
        const verdict = await g.check();
        for (const value of Object.values(verdict.values)) assert.ok(Number.isFinite(value), JSON.stringify(verdict));
        if (verdict.judged) {
          const measured = ["mismatchRate", "timeoutRate", "p95Ratio"].filter((k) => verdict.values[k] !== undefined);
          assert.ok(measured.length > 0, `judged with no rule measured: ${JSON.stringify(verdict)}`);
        } else {
          assert.ok(typeof verdict.reason === "string" && verdict.reason !== "");
        }
      }),
      { numRuns: 120 },
    );
    assert.ok(trips.length <= 1, `tripped ${trips.length} times`);
  });

  it("answers check() even when onTrip never settles, and says 'unreachable' when Prometheus never answers (both within ~5 s)", async () => {
    fake.runs = vector([["candidate", "50"]]);
    fake.rules = vector([["candidate", "0.9"]]);
    // A second stand-in that accepts the connection and never answers, checked at the same time.
    const silent = await fakePrometheus();
    silent.runs = () => undefined;
    const hung = fleetGuardrail({ prometheus: silent.url, experiment: "x", maxMismatchRate: 0.05, everyMs: 60_000, onTrip: () => undefined });
    guardrails.push(hung);
    const silentVerdict = hung.check();
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(w.message);
    process.on("warning", onWarning);
    try {
      let calls = 0;
      const g = guard({
        onTrip: () => {
          calls++;
          return new Promise<void>(() => undefined);
        },
      });
      const started = Date.now();
      const verdict = await g.check();
      assert.ok(Date.now() - started < 8_000, `check took ${Date.now() - started} ms`);
      assert.match(verdict.reason ?? "", /tripped: mismatch-rate/);
      assert.equal((await g.check()).judged, true);
      assert.equal(calls, 1);
      await new Promise((resolve) => setImmediate(resolve));
      assert.ok(warnings.some((w) => /onTrip .*still pending/.test(w)), JSON.stringify(warnings));
      const never = await silentVerdict;
      assert.equal(never.judged, false);
      assert.match(never.reason ?? "", /unreachable.*(timeout|aborted)/i);
    } finally {
      process.removeListener("warning", onWarning);
      await silent.close();
    }
  });
});

describe("fleetGuardrail and a real Prometheus, with hostile names", function () {
  this.timeout(60_000);
  let prometheus: PrometheusServer | undefined;
  let served: { target: string; close(): Promise<void> } | undefined;
  const registry = new Registry();
  const publisher = prometheusPublisher({ registry });
  const names = ["lone \uD800 surrogate", 'quote " and \\ backslash', "new\nline", "ünïcødé 🚀"];

  before(async function () {
    const missing = prometheusMissing();
    if (missing !== undefined) {
      console.log(`      skipped: ${missing}`);
      this.skip();
    }
    for (const experiment of names) {
      const base = matchedResult();
      const candidate = { ...(base.candidates[0] as Observation<unknown>), name: `${experiment} candidate` };
      const result: Result<unknown> = { ...base, experiment, candidates: [candidate], outcomes: { [candidate.name]: "matched" } };
      for (let i = 0; i < 5; i++) publisher.publish(result);
    }
    served = await metricsServer(registry);
    prometheus = await startPrometheus([served.target], { scrapeInterval: "1s" });
    await prometheus.targetsUp(30_000);
    // rate() needs two scrapes in its window.
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && ((await prometheus.query("count_over_time(up[1m])"))[0]?.value ?? 0) < 2) {
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  });
  after(async () => {
    await prometheus?.stop();
    await served?.close();
  });

  it("finds each experiment's series by its name: the query parses and the labels match, lone surrogates included", async () => {
    for (const experiment of names) {
      for (const candidate of [undefined, `${experiment} candidate`]) {
        const guardrail = fleetGuardrail({
          prometheus: prometheus?.url ?? "",
          experiment,
          ...(candidate === undefined ? {} : { candidate }),
          maxMismatchRate: 0.5,
          minRunsPerSecond: 1e9,
          window: "1m",
          everyMs: 60_000,
          onTrip: () => undefined,
        });
        const verdict = await guardrail.check();
        guardrail.stop();
        // Counters that exist but do not move: a rate of 0, below the minimum, so the query found them.
        assert.match(verdict.reason ?? "", /below minRunsPerSecond/, `${JSON.stringify(experiment)} / ${JSON.stringify(candidate)}: ${verdict.reason ?? ""}`);
      }
    }
  });
});
