/**
 * Acceptance, API.md §4 "Operating an experiment": Scorecard fields and reasons, segments,
 * guardrails and TripEvent, replay / readResults, penumbra/prometheus and penumbra/fleet.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import { spawnSync } from "node:child_process";
import * as http from "node:http";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { InMemoryProvider, OpenFeature, type Provider } from "@openfeature/server-sdk";
import { Registry } from "prom-client";
import {
  Experiment,
  PenumbraError,
  Scorecard,
  guard,
  isShadow,
  jsonlPublisher,
  readResults,
  replay,
  shadow,
  type Result,
  type TripEvent,
} from "../../src/index";
import { fleetGuardrail, flagdFile } from "../../src/integrations/fleet";
import { openFeatureGate, type OpenFeatureClient } from "../../src/integrations/openfeature";
import { prometheusPublisher } from "../../src/integrations/prometheus";
import { harness, resetHarness, uniqueName, type Harness } from "./support";

describe("acceptance §4: operating an experiment", function () {
  this.timeout(20_000);
  let h: Harness;
  let dir: string;
  beforeEach(() => {
    h = harness();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "penumbra-acc-"));
  });
  afterEach(async () => {
    await resetHarness();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  describe("Scorecard", () => {
    it("summarises the first candidate by default and another one on request", async () => {
      const card = new Scorecard();
      const name = uniqueName("two");
      const e = new Experiment(name, { publish: card }).use((n: number) => n).try("same", (n) => n).try("off", (n) => n + 1);
      e.run(1);
      await e.settled();
      assert.equal(card.summary(name)?.candidate, "same");
      assert.equal(card.summary(name)?.fieldMatchRate, 1);
      assert.equal(card.summary(name, "off")?.fieldMatchRate, 0);
    });

    it("says undefined, not a clean summary, for an experiment it has never seen", () => {
      const card = new Scorecard();
      assert.equal(card.summary("never"), undefined);
      assert.deepEqual(card.experiments(), []);
    });

    it("has every ScorecardSummary field, with rates over runs and the candidate side's error and timeout rates", async () => {
      const card = new Scorecard();
      const name = uniqueName("card");
      const wrapped = shadow(
        (n: number) => ({ total: n }),
        (n: number): { total: number } => {
          if (n === 0) throw new TypeError("boom");
          if (n === 1) return new Promise<{ total: number }>(() => undefined) as unknown as { total: number };
          return { total: n === 2 ? 99 : n };
        },
        { name, publish: card, timeoutMs: 15 },
      );
      for (let n = 0; n < 10; n++) wrapped(n);
      await wrapped.experiment.settled();
      const s = card.summary(name);
      assert.ok(s);
      assert.deepEqual(Object.keys(s).filter((k) => !["experiment", "candidate", "runs", "skipped", "statusMatchRate", "fieldMatchRate", "errorRate", "timeoutRate", "leakRate", "latency", "reasons", "segments"].includes(k)), []);
      assert.equal(s.experiment, name);
      assert.equal(s.candidate, "candidate");
      assert.equal(s.runs, 10);
      assert.equal(s.skipped, 0);
      assert.equal(s.errorRate, 0.1);
      assert.equal(s.timeoutRate, 0.1, "a timeout is not an error");
      assert.equal(s.statusMatchRate, 0.8, "returned / threw / timed out are the outcome classes");
      assert.equal(s.fieldMatchRate, 0.7);
      assert.equal(s.leakRate, 0);
      for (const side of [s.latency.control, s.latency.candidate]) for (const k of ["p50", "p95", "p99"] as const) assert.equal(typeof side[k], "number");
      assert.equal(typeof s.latency.p95Ratio, "number");
      const reasons = Object.fromEntries(s.reasons.map((r) => [r.reason, r]));
      assert.deepEqual(Object.keys(reasons).sort(), ["error:TypeError", "timeout", "total"]);
      assert.equal(reasons.total?.share, 0.1);
      assert.equal(reasons.total?.example, "total=2 vs 99");
      assert.deepEqual(card.experiments(), [name]);
    });

    it("names reasons error:control-threw, error:<typeof> for non-Errors, status:<a>-><b>, effects:<name> and bucket names, most frequent first", async () => {
      const card = new Scorecard();
      const name = uniqueName("reasons");
      const mail = guard("mail", { send: (_to: string) => true }, { effects: ["send"] });
      const wrapped = shadow(
        (n: number) => {
          if (n === 0) throw new Error("control");
          if (n === 3) mail.send("a");
          return { code: 200, total: 1 };
        },
        (n: number) => {
          // eslint-disable-next-line no-throw-literal
          if (n === 1) throw "text";
          if (n === 3) mail.send("b");
          return { code: n === 2 ? 500 : 200, total: n >= 4 ? 2 : 1 };
        },
        { name, publish: card, statusOf: (v) => v.code, buckets: [{ name: "totals", match: { path: "total" } }] },
      );
      for (let n = 0; n < 8; n++) {
        try {
          wrapped(n);
        } catch {
          // the control's own throw
        }
      }
      await wrapped.experiment.settled();
      const reasons = card.summary(name)?.reasons.map((r) => [r.reason, r.count]);
      assert.deepEqual(reasons?.[0], ["totals", 4]);
      const rest = new Map(reasons?.slice(1) as Array<[string, number]>);
      // The status run also differs in value at `code` (diffs hold every difference found).
      assert.deepEqual(Object.fromEntries(rest), { code: 1, "error:control-threw": 1, "error:string": 1, "status:200->500": 1, "effects:mail.send": 1 });
    });

    it("counts skipped calls", async () => {
      const card = new Scorecard();
      const name = uniqueName("skips");
      const wrapped = shadow(() => 1, () => new Promise<number>((r) => setTimeout(() => r(1), 10)) as unknown as number, { name, publish: card, maxConcurrent: 1 });
      wrapped();
      wrapped();
      await wrapped.experiment.settled();
      assert.equal(card.summary(name)?.skipped, 1);
      assert.equal(card.summary(name)?.runs, 1);
    });

    it("segments by context keys: (none) for a missing key, at most 20 values then (other), lift = rate ÷ overall rate, values with fewer than 10 runs last", async () => {
      const card = new Scorecard({ segments: ["region", "user"] });
      const name = uniqueName("seg");
      const wrapped = shadow(
        (c: { region?: string; user: number }) => c.user,
        (c: { region?: string; user: number }) => (c.region === "eu" ? -1 : c.user),
        { name, publish: card, context: (c) => (c.region === undefined ? { user: c.user } : { region: c.region, user: c.user }) },
      );
      for (let i = 0; i < 20; i++) wrapped({ region: "eu", user: i });
      for (let i = 0; i < 20; i++) wrapped({ region: "us", user: i });
      for (let i = 0; i < 3; i++) wrapped({ user: 100 + i });
      await wrapped.experiment.settled();
      const s = card.summary(name);
      assert.ok(s);
      const region = s.segments.filter((g) => g.key === "region");
      const eu = region.find((g) => g.value === "eu");
      assert.equal(eu?.runs, 20);
      assert.equal(eu?.mismatchRate, 1);
      assert.ok(Math.abs((eu?.lift ?? 0) - 1 / (20 / 43)) < 1e-9);
      assert.deepEqual(eu?.reasons, [{ reason: "(root)", count: 20 }]);
      assert.equal(region.find((g) => g.value === "(none)")?.runs, 3);
      assert.equal(region[0]?.value, "eu", "sorted by lift");
      const users = s.segments.filter((g) => g.key === "user");
      assert.ok(users.length <= 21);
      assert.ok(users.some((g) => g.value === "(other)"));
      const firstSmall = s.segments.findIndex((g) => g.runs < 10);
      assert.ok(s.segments.slice(firstSmall).every((g) => g.runs < 10), "values with fewer than 10 runs last");
    });
  });

  describe("guardrails", () => {
    it("trips once over a threshold after minRuns: disables the experiment, says why, calls onTrip and publishers' trip with a TripEvent", async () => {
      const trips: TripEvent[] = [];
      const published: TripEvent[] = [];
      let candidateRuns = 0;
      const name = uniqueName("trip");
      const wrapped = shadow(() => 1, () => { candidateRuns += 1; return 2; }, {
        name,
        guardrails: { maxMismatchRate: 0.5, minRuns: 5, onTrip: (e) => trips.push(e) },
        publish: { publish: () => undefined, trip: (e: TripEvent) => published.push(e) },
      });
      for (let i = 0; i < 4; i++) wrapped();
      await wrapped.experiment.settled();
      assert.equal(wrapped.experiment.enabled, true, "no verdict before minRuns");
      for (let i = 0; i < 6; i++) wrapped();
      await wrapped.experiment.settled();
      assert.equal(wrapped.experiment.enabled, false);
      assert.equal(typeof wrapped.experiment.disabledReason, "string");
      assert.deepEqual(trips, [{ experiment: name, reason: "mismatch-rate", value: 1, threshold: 0.5 }]);
      assert.deepEqual(published.map((e) => ({ ...e })), trips.map((e) => ({ ...e })));
      const before = candidateRuns;
      assert.equal(wrapped(), 1, "the control is never affected");
      await wrapped.experiment.settled();
      assert.equal(candidateRuns, before);
      wrapped.experiment.enable();
      wrapped();
      await wrapped.experiment.settled();
      assert.equal(wrapped.experiment.enabled, true, "a fresh window after enable()");
    });

    it("without a guardrails option only the leak rule is on: a mismatch rate of 1 never disables", async () => {
      const wrapped = shadow(() => 1, () => 2, { name: uniqueName("no-guardrails") });
      for (let i = 0; i < 150; i++) wrapped();
      await wrapped.experiment.settled();
      assert.equal(wrapped.experiment.enabled, true);
    });

    it("evaluates per candidate: one candidate over the threshold trips the experiment", async () => {
      const trips: TripEvent[] = [];
      const e = new Experiment(uniqueName("per-candidate"), { guardrails: { maxMismatchRate: 0.5, minRuns: 3, onTrip: (t) => trips.push(t) } })
        .use(() => 1)
        .try("good", () => 1)
        .try("bad", () => 2);
      for (let i = 0; i < 5; i++) e.run();
      await e.settled();
      assert.equal(e.enabled, false);
      assert.deepEqual(trips.map((t) => t.reason), ["mismatch-rate"]);
    });

    it("trips on maxTimeoutRate with reason 'timeout-rate' and on maxP95Ratio with reason 'latency'", async () => {
      const trips: TripEvent[] = [];
      const slow = shadow(() => 1, () => new Promise<number>(() => undefined) as unknown as number, { name: uniqueName("timeouts"), timeoutMs: 5, guardrails: { maxTimeoutRate: 0.5, minRuns: 3, onTrip: (t) => trips.push(t) } });
      for (let i = 0; i < 4; i++) slow();
      await slow.experiment.settled();
      const lagging = shadow(async () => 1, async () => { await new Promise((r) => setTimeout(r, 15)); return 1; }, { name: uniqueName("latency"), guardrails: { maxP95Ratio: 2, minRuns: 3, onTrip: (t) => trips.push(t) } });
      for (let i = 0; i < 4; i++) await lagging();
      await lagging.experiment.settled();
      assert.deepEqual(trips.map((t) => [t.reason, t.threshold]), [["timeout-rate", 0.5], ["latency", 2]]);
      assert.ok((trips[1]?.value ?? 0) > 2);
    });

    it("calibrate learns the control's own noise, so fields that differ run to run are not mismatches", async () => {
      const name = uniqueName("calibrate");
      const wrapped = shadow(() => ({ id: Math.random(), total: 1 }), () => ({ id: Math.random(), total: 1 }), { name, calibrate: { runs: 5 } });
      for (let i = 0; i < 10; i++) wrapped();
      await wrapped.experiment.settled();
      const results = h.memory.results.filter((r) => r.experiment === name);
      assert.ok(results.length > 0);
      assert.ok(results.every((r) => r.matched));
      assert.ok(results.every((r) => r.noise.some((d) => d.path === "id")));
    });

    it("reports an onTrip that throws as operation 'onTrip' and still disables", async () => {
      const name = uniqueName("ontrip");
      const wrapped = shadow(() => 1, () => 2, { name, guardrails: { maxMismatchRate: 0.1, minRuns: 1, onTrip: () => { throw new Error("x"); } } });
      assert.equal(wrapped(), 1);
      await wrapped.experiment.settled();
      assert.equal(wrapped.experiment.enabled, false);
      assert.ok(h.errors.some((e) => e.experiment === name && e.operation === "onTrip"));
    });
  });

  describe("replay and readResults", () => {
    async function record(file: string, captureArgs: boolean): Promise<void> {
      const jsonl = jsonlPublisher(file);
      const wrapped = shadow((o: { n: number }) => o.n * 2, (o: { n: number }) => o.n * 2, { name: uniqueName("rec"), publish: jsonl, captureArgs });
      for (let n = 0; n < 4; n++) wrapped({ n });
      await wrapped.experiment.settled();
      await jsonl.close();
    }

    it("reruns recorded arguments in shadow context and resolves to a ScorecardSummary plus the results that still differ", async () => {
      const file = path.join(dir, "r.jsonl");
      await record(file, true);
      fs.appendFileSync(file, "{broken\n");
      const report = await replay(file, { control: (o: { n: number }) => o.n * 2, candidate: (o: { n: number }) => (o.n === 3 ? 0 : o.n * 2) });
      assert.equal(report.runs, 4);
      assert.equal(report.fieldMatchRate, 0.75);
      assert.equal(report.differing.length, 1);
      assert.equal(report.malformed.length, 1, "says how many records it could not replay and why");
    });

    it("runs both sides in shadow context, so the replayed control's effects are sunk too", async () => {
      const file = path.join(dir, "r.jsonl");
      await record(file, true);
      const sent: string[] = [];
      const mail = guard("mail", { send: (who: string) => { sent.push(who); return true; } }, { effects: ["send"] });
      const sides: Array<[string, boolean]> = [];
      const report = await replay(file, {
        control: (o: { n: number }) => { sides.push(["control", isShadow()]); mail.send("control"); return o.n * 2; },
        candidate: (o: { n: number }) => { sides.push(["candidate", isShadow()]); mail.send("candidate"); return o.n * 2; },
      });
      assert.equal(report.runs, 4);
      assert.deepEqual(sent, []);
      assert.ok(sides.length === 8 && sides.every(([, inShadow]) => inShadow));
    });

    it("rejects with a PenumbraError naming the cause when nothing was replayed: captureArgs was off, the file is empty", async () => {
      const nocap = path.join(dir, "nocap.jsonl");
      await record(nocap, false);
      await assert.rejects(replay(nocap, { control: () => 1, candidate: () => 1 }), (e: unknown) => e instanceof PenumbraError && /captureArgs/.test(e.message));
      const empty = path.join(dir, "empty.jsonl");
      fs.writeFileSync(empty, "");
      await assert.rejects(replay(empty, { control: () => 1, candidate: () => 1 }), (e: unknown) => e instanceof PenumbraError && /empty/.test(e.message));
      await assert.rejects(replay([], { control: () => 1, candidate: () => 1 }), PenumbraError);
    });

    it("readResults streams the results of a JSONL file and names malformed lines", async () => {
      const file = path.join(dir, "r.jsonl");
      await record(file, true);
      fs.appendFileSync(file, "not json\n{\"experiment\":1}\n");
      const bad: Array<{ line: number; error: string }> = [];
      const got: Result<unknown>[] = [];
      for await (const r of readResults(file, { onMalformed: (m) => bad.push(m) })) got.push(r);
      assert.equal(got.length, 4);
      assert.deepEqual(bad.map((b) => b.line), [5, 6]);
      assert.ok(bad.every((b) => b.error.length > 0));
    });
  });

  describe("penumbra/openfeature", () => {
    let domains = 0;
    async function clientWith(flags: ConstructorParameters<typeof InMemoryProvider>[0]): Promise<OpenFeatureClient> {
      const domain = `penumbra-acceptance-${++domains}`;
      await OpenFeature.setProviderAndWait(domain, new InMemoryProvider(flags) as Provider);
      return OpenFeature.getClient(domain);
    }
    const only = (value: boolean | number) => ({ ramp: { variants: { v: value }, defaultVariant: "v", disabled: false } });

    async function admittedUsers(client: OpenFeatureClient, users: string[]): Promise<string[]> {
      const name = uniqueName("of");
      const wrapped = shadow((u: string) => u, (u: string) => u, {
        name,
        captureArgs: true,
        enabled: openFeatureGate(client, { flagKey: "ramp", contextOf: (u: string) => ({ targetingKey: u }) }),
      });
      for (const u of users) wrapped(u);
      await wrapped.experiment.settled();
      return h.memory.results.filter((r) => r.experiment === name).map((r) => String(r.args?.[0])).sort();
    }

    const users = Array.from({ length: 60 }, (_, i) => `user-${i}`);

    it("a boolean flag turns candidates on or off; a missing flag means off", async () => {
      assert.equal((await admittedUsers(await clientWith(only(true)), users)).length, 60);
      assert.equal((await admittedUsers(await clientWith(only(false)), users)).length, 0);
      assert.equal((await admittedUsers(await clientWith({}), users)).length, 0);
    });

    it("a number flag is the admitted fraction, sticky by the targetingKey", async () => {
      const client = await clientWith(only(0.5));
      const first = await admittedUsers(client, users);
      assert.ok(first.length > 10 && first.length < 50, `about half, got ${first.length}`);
      assert.deepEqual(await admittedUsers(client, users), first);
    });
  });

  describe("CLI penumbra report", () => {
    const root = path.resolve(__dirname, "../..");
    function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
      return spawnSync(process.execPath, ["-r", "ts-node/register/transpile-only", "src/cli/main.ts", ...args], { cwd: root, encoding: "utf8", timeout: 20_000 });
    }

    it("prints the scorecard as a table, writes an HTML page with --html, and never prints a verdict for an empty file", async () => {
      const file = path.join(dir, "results.jsonl");
      const jsonl = jsonlPublisher(file);
      const name = uniqueName("cli");
      const wrapped = shadow((n: number) => ({ total: n }), (n: number) => ({ total: n % 2 ? n : n + 1 }), { name, publish: jsonl });
      for (let n = 0; n < 6; n++) wrapped(n);
      await wrapped.experiment.settled();
      await jsonl.close();
      const html = path.join(dir, "report.html");
      const full = cli("report", file, "--html", html);
      assert.equal(full.status, 0, full.stderr);
      assert.ok(full.stdout.includes(name));
      assert.ok(fs.readFileSync(html, "utf8").includes("<html"), "an HTML page");
      const empty = path.join(dir, "empty.jsonl");
      fs.writeFileSync(empty, "");
      const none = cli("report", empty);
      assert.notEqual(none.status, 0, "nothing to report is not success");
      assert.doesNotMatch(none.stdout, /\b0 (differing|mismatch)|healthy/i);
    });
  });

  describe("penumbra/prometheus", () => {
    it("exports every series of an experiment at 0 from its first result, with only the contract's labels", async () => {
      const registry = new Registry();
      const name = uniqueName("prom");
      const wrapped = shadow((u: string) => u.length, (u: string) => u.length, { name, publish: prometheusPublisher({ registry }), context: (u) => ({ user: u }) });
      wrapped("secret-user");
      await wrapped.experiment.settled();
      const text = await registry.metrics();
      const series = text.split("\n").filter((l) => l !== "" && !l.startsWith("#"));
      const value = (s: string): number | undefined => {
        const line = series.find((l) => l.startsWith(`${s} `));
        return line === undefined ? undefined : Number(line.slice(s.length + 1));
      };
      const e = `experiment="${name}"`;
      assert.equal(value(`penumbra_comparisons_total{${e},candidate="candidate",outcome="matched"}`), 1);
      assert.equal(value(`penumbra_comparisons_total{${e},candidate="candidate",outcome="mismatched"}`), 0);
      assert.equal(value(`penumbra_comparisons_total{${e},candidate="candidate",outcome="ignored"}`), 0);
      assert.equal(value(`penumbra_behavior_duration_seconds_count{${e},behavior="control"}`), 1);
      assert.equal(value(`penumbra_behavior_duration_seconds_count{${e},behavior="candidate"}`), 1);
      assert.equal(value(`penumbra_skipped_total{${e},reason="overload"}`), 0);
      assert.equal(value(`penumbra_leaks_total{${e},candidate="candidate"}`), 0);
      for (const reason of ["mismatch-rate", "latency", "timeout-rate", "leak"]) assert.equal(value(`penumbra_trips_total{${e},reason="${reason}"}`), 0);
      assert.ok(series.some((l) => l.startsWith(`penumbra_behavior_duration_seconds_bucket{le="0.00001",${e}`) || l.includes('le="0.00001"')), "buckets start at 10 µs");
      assert.ok(series.some((l) => l.includes('le="10"')), "buckets reach 10 s");
      assert.ok(!text.includes("secret-user"), "no label carries a context value or an argument");
    });
  });

  describe("penumbra/fleet", () => {
    /** A loopback stand-in for Prometheus' HTTP API: answers /api/v1/query from `answer(query)`. */
    async function fakePrometheus(answer: (query: string) => number | undefined): Promise<{ url: string; queries: string[]; close(): Promise<void> }> {
      const queries: string[] = [];
      const server = http.createServer((req, res) => {
        const url = new URL(req.url ?? "/", "http://127.0.0.1");
        let body = "";
        req.on("data", (c: Buffer) => (body += c.toString()));
        req.on("end", () => {
          const query = url.searchParams.get("query") ?? new URLSearchParams(body).get("query") ?? "";
          queries.push(query);
          const v = answer(query);
          const result = v === undefined ? [] : [{ metric: { candidate: "candidate" }, value: [Date.now() / 1000, String(v)] }];
          res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ status: "success", data: { resultType: "vector", result } }));
        });
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      return {
        url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
        queries,
        close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
      };
    }

    it("an unreachable Prometheus or an empty answer is 'not judged', never healthy", async () => {
      const closed = net.createServer();
      await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
      const port = (closed.address() as net.AddressInfo).port;
      await new Promise<void>((resolve) => closed.close(() => resolve()));
      const trips: unknown[] = [];
      const down = fleetGuardrail({ prometheus: `http://127.0.0.1:${port}`, experiment: "x", maxMismatchRate: 0.1, everyMs: 60_000, onTrip: (e) => { trips.push(e); } });
      const a = await down.check();
      down.stop();
      assert.equal(a.judged, false);
      assert.equal(typeof a.reason, "string");
      const prom = await fakePrometheus(() => undefined);
      const empty = fleetGuardrail({ prometheus: prom.url, experiment: "x", maxMismatchRate: 0.1, everyMs: 60_000, onTrip: (e) => { trips.push(e); } });
      const b = await empty.check();
      empty.stop();
      await prom.close();
      assert.equal(b.judged, false);
      assert.deepEqual(trips, []);
    });

    it("trips once with a fleet-scoped TripEvent carrying runsPerSecond and the query, and leaves the switch to onTrip", async () => {
      const prom = await fakePrometheus((q) => (q.includes('outcome="mismatched"') ? 0.5 : q.includes("histogram_quantile") ? 1 : q.includes("timeouts") ? 0 : 20));
      const trips: Array<TripEvent & { scope: "fleet"; runsPerSecond: number; query: string }> = [];
      const g = fleetGuardrail({ prometheus: prom.url, experiment: "checkout", maxMismatchRate: 0.1, everyMs: 60_000, onTrip: (e) => { trips.push(e); } });
      const first = await g.check();
      await g.check();
      g.stop();
      await prom.close();
      assert.equal(first.judged, true);
      assert.equal(trips.length, 1);
      assert.equal(trips[0]?.scope, "fleet");
      assert.equal(trips[0]?.experiment, "checkout");
      assert.equal(trips[0]?.reason, "mismatch-rate");
      assert.equal(trips[0]?.value, 0.5);
      assert.equal(trips[0]?.threshold, 0.1);
      assert.equal(trips[0]?.runsPerSecond, 20);
      assert.ok(trips[0]?.query.includes("penumbra_comparisons_total"));
    });

    it("gives no verdict below minRunsPerSecond", async () => {
      const prom = await fakePrometheus((q) => (q.includes('outcome="mismatched"') ? 0.9 : 0.5));
      const trips: unknown[] = [];
      const g = fleetGuardrail({ prometheus: prom.url, experiment: "quiet", maxMismatchRate: 0.1, everyMs: 60_000, onTrip: (e) => { trips.push(e); } });
      const r = await g.check();
      g.stop();
      await prom.close();
      assert.equal(r.judged, false);
      assert.deepEqual(trips, []);
    });

    it("flagdFile writes a flag in flagd's JSON format that set() changes atomically", async () => {
      const file = path.join(dir, "flags.json");
      const flags = flagdFile(file);
      try {
        await flags.set("new-checkout", true);
        await flags.set("ramp", 0.25);
        const doc = JSON.parse(fs.readFileSync(file, "utf8")) as { flags: Record<string, { state: string; defaultVariant: string; variants: Record<string, unknown> }> };
        const on = doc.flags["new-checkout"];
        assert.equal(on?.state, "ENABLED");
        assert.equal(on?.variants[on.defaultVariant], true);
        const ramp = doc.flags.ramp;
        assert.equal(ramp?.variants[ramp.defaultVariant], 0.25);
        assert.equal(typeof flags.provider, "object");
      } finally {
        await flags.close();
      }
    });
  });
});
