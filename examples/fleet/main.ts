/**
 * The fleet demo: one experiment over N processes, aggregated by a real Prometheus, judged by the
 * fleet guardrail, switched by one flag file every process reads.
 *
 *   npm run demo:fleet                         # 4 processes, Prometheus if installed
 *   npm run demo:fleet -- --processes 6 --mode direct
 *
 * Stages: the flag file is ramped 1% → 5% → 25% → 100% fleet-wide, each stage printed with the
 * fleet's numbers from PromQL; then a bad release of the candidate ships to every process at a known
 * moment; the fleet guardrail trips and writes the flag off; every process stops. It prints the time
 * from "candidate goes bad" to "every process stopped" and how many candidate runs were admitted
 * after the flag went off (goal: 0). Without `prometheus` on the PATH it says so and reads each
 * process's /metrics itself with the same arithmetic ("direct mode").
 *
 * Everything it starts (the processes, Prometheus) it stops by pid, with a hard time limit. The last
 * line is `FLEET_RESULT {json}` for the test. Exit code 0 when the trip happened, every process
 * stopped within 10 s and no candidate run was admitted after the flag went off; 1 otherwise.
 */
import { fork, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { Agent, get } from "node:http";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { flagdFile, fleetGuardrail, fleetQueries, type FleetTripEvent } from "penumbra/fleet";
import { directFleet } from "./direct";
import { freePort, prometheusMissing, startPrometheus, type PrometheusServer } from "./prometheus-server";
import { randomCartQuery } from "./totals";
import type { FromWorker, ToWorker } from "./worker";

const { values: args } = parseArgs({
  options: {
    processes: { type: "string", default: "4" },
    mode: { type: "string", default: "auto" }, // auto | prometheus | direct
    rps: { type: "string", default: "100" }, // requests per second per process
    "stage-ms": { type: "string", default: "4000" },
  },
});
const PROCESSES = Math.max(1, Number(args.processes));
const RPS = Math.max(10, Number(args.rps)) * PROCESSES;
const STAGE_MS = Math.max(1000, Number(args["stage-ms"]));
const EXPERIMENT = "order-total";
const FLAG = "order-total.shadow";
const RAMP = [0.01, 0.05, 0.25, 1];
const WINDOW = "10s";
const MAX_MISMATCH_RATE = 0.05;
const STOP_BOUND_MS = 10_000;
const HARD_LIMIT_MS = 90_000;

const started = Date.now();
const clock = (): string => `${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s`;
const say = (line: string): void => console.log(`${clock()}  ${line}`);
const pct = (x: number | undefined): string => (x === undefined || !Number.isFinite(x) ? "n/a" : `${(x * 100).toFixed(2)}%`);
const num = (x: number | undefined, digits = 1): string => (x === undefined || !Number.isFinite(x) ? "n/a" : x.toFixed(digits));
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Worker {
  id: number;
  child: ChildProcess;
  port: number;
  offAt?: number;
}

async function main(): Promise<number> {
  const dir = mkdtempSync(path.join(tmpdir(), "penumbra-fleet-demo-"));
  const flagFile = path.join(dir, "flags.json");
  const flags = flagdFile(flagFile);
  const workers: Worker[] = [];
  let prometheus: PrometheusServer | undefined;
  let stopTraffic = (): void => undefined;
  let stopGuard = (): void => undefined;

  const cleanup = async (): Promise<void> => {
    stopTraffic();
    stopGuard();
    await Promise.all(workers.map((w) => stopChild(w.child)));
    await prometheus?.stop();
    await flags.close();
    rmSync(dir, { recursive: true, force: true });
  };
  // The hard limit: whatever hangs, everything started here is stopped and the demo exits.
  const limit = setTimeout(() => {
    say(`hard limit of ${HARD_LIMIT_MS / 1000} s reached: stopping everything`);
    void cleanup().finally(() => process.exit(2));
  }, HARD_LIMIT_MS);
  limit.unref();

  try {
    const missing = args.mode === "direct" ? "direct mode asked for" : prometheusMissing();
    if (args.mode === "prometheus" && missing !== undefined) throw new Error(`--mode prometheus: ${missing}`);
    const mode = missing === undefined ? "prometheus" : "direct";
    say(mode === "prometheus" ? "mode: prometheus (Debian's prometheus, a plain process, scraping every 1 s)" : `mode: direct (${missing}); reading each process's /metrics every 1 s with the same arithmetic`);

    await flags.set(FLAG, RAMP[0] ?? 0.01);
    say(`flag file ${flagFile}: ${FLAG} = ${RAMP[0]} (flagd JSON, read by every process through OpenFeature)`);

    // The fleet: N processes, each serving GET /total on loopback with the experiment on. Ports are
    // chosen first so Prometheus can start (its first scrape takes ~5 s) while the processes boot.
    const ports = await Promise.all(Array.from({ length: PROCESSES }, () => freePort()));
    const targets = ports.map((port) => `127.0.0.1:${port}`);
    const starting = mode === "prometheus" ? startPrometheus(targets) : undefined;
    workers.push(...(await Promise.all(ports.map((port, i) => startWorker(i + 1, flagFile, port)))));
    say(`${PROCESSES} processes up: ${workers.map((w) => `pid ${w.child.pid} :${w.port}`).join(", ")}`);
    for (const w of workers) {
      w.child.on("message", (m: FromWorker) => {
        if (m.type === "off" && w.offAt === undefined) w.offAt = m.at;
      });
    }

    stopTraffic = traffic(workers.map((w) => w.port));
    say(`traffic: ${RPS} checkouts/s over loopback HTTP, round-robin`);

    const queries = fleetQueries(EXPERIMENT, "candidate", WINDOW);
    let trip: (FleetTripEvent & { at: number }) | undefined;
    const onTrip = async (event: FleetTripEvent): Promise<void> => {
      trip = { ...event, at: Date.now() };
      await flags.set(FLAG, false);
    };
    let numbers: () => Promise<{ judged: boolean; reason?: string; values: Record<string, number> }>;
    let where = (): Promise<string> => Promise.resolve("");
    if (mode === "prometheus") {
      prometheus = await (starting as Promise<PrometheusServer>);
      say(`prometheus pid ${prometheus.pid} at ${prometheus.url}, waiting for the first scrapes`);
      await prometheus.targetsUp(20_000);
      const guardrail = fleetGuardrail({
        prometheus: prometheus.url,
        experiment: EXPERIMENT,
        maxMismatchRate: MAX_MISMATCH_RATE,
        minRunsPerSecond: 1,
        window: WINDOW,
        everyMs: 500,
        onTrip,
      });
      stopGuard = guardrail.stop;
      const server = prometheus;
      const one = async (promql: string): Promise<number | undefined> => (await server.query(promql).catch(() => []))[0]?.value;
      // The stage numbers: the guardrail's verdict, plus the p95 ratio it does not judge here.
      numbers = async () => {
        const verdict = await guardrail.check();
        const p95 = await one(queries.p95Ratio);
        return p95 === undefined || !verdict.judged ? verdict : { ...verdict, values: { ...verdict.values, p95Ratio: p95 } };
      };
      where = async () => {
        const byCoupon = await server.query(
          `sum by (coupon) (rate(penumbra_comparisons_total{experiment="${EXPERIMENT}",outcome="mismatched"}[${WINDOW}])) / sum by (coupon) (rate(penumbra_comparisons_total{experiment="${EXPERIMENT}"}[${WINDOW}]))`,
        );
        return byCoupon.map((s) => `coupon=${s.metric["coupon"] ?? "?"} ${pct(s.value)}`).join(", ");
      };
      say(`fleet guardrail: ${queries.mismatchRate} > ${MAX_MISMATCH_RATE}, checked every 0.5 s`);
    } else {
      const direct = directFleet(targets, EXPERIMENT, 10_000);
      let tripped = false;
      const timer = setInterval(() => {
        void direct.scrape().then(async () => {
          const verdict = direct.verdict(1);
          const rate = verdict.values["mismatchRate"];
          if (!tripped && verdict.judged && rate !== undefined && rate > MAX_MISMATCH_RATE) {
            tripped = true;
            await onTrip({
              experiment: EXPERIMENT, reason: "mismatch-rate", value: rate, threshold: MAX_MISMATCH_RATE,
              scope: "fleet", runsPerSecond: verdict.values["runsPerSecond"] ?? 0, query: "direct: Σ mismatched/s ÷ Σ comparisons/s over 10 s",
            });
          }
        });
      }, 1_000);
      stopGuard = () => clearInterval(timer);
      await direct.scrape();
      numbers = () => Promise.resolve(direct.verdict(1));
      say(`fleet guardrail (direct): mismatched/s ÷ comparisons/s over 10 s > ${MAX_MISMATCH_RATE}, checked every 1 s`);
    }

    // The ramp: one file, every process.
    for (const [i, fraction] of RAMP.entries()) {
      if (i > 0) await flags.set(FLAG, fraction);
      await sleep(STAGE_MS);
      const verdict = await numbers();
      const v = verdict.values;
      say(
        `stage ${String(fraction * 100).padStart(3)}%: ` +
          (verdict.judged
            ? `fleet ${num(v["runsPerSecond"])} comparisons/s, mismatch rate ${pct(v["mismatchRate"])}, p95 ratio ${num(v["p95Ratio"], 2)}`
            : `not judged: ${verdict.reason ?? "?"} (${num(v["runsPerSecond"])} comparisons/s)`),
      );
      if (trip !== undefined) throw new Error(`the guardrail tripped during the ramp: ${trip.reason} ${trip.value}`);
    }

    // The bad release, at a known moment, to every process.
    const badAt = Date.now();
    for (const w of workers) w.child.send({ type: "bad" } satisfies ToWorker);
    say("candidate goes bad: every process now runs a release that taxes before the coupon (~30% of carts differ)");

    const deadline = badAt + 30_000;
    while (Date.now() < deadline && (trip === undefined || workers.some((w) => w.offAt === undefined))) await sleep(20);
    const tripAt = trip?.at;
    if (trip !== undefined) {
      say(`TRIP after ${((trip.at - badAt) / 1000).toFixed(2)} s: ${trip.reason} ${pct(trip.value)} > ${pct(trip.threshold)} at ${num(trip.runsPerSecond)} comparisons/s fleet-wide`);
      say(`  query: ${trip.query}`);
      say(`  onTrip wrote ${FLAG} = false`);
      const clusters = await where();
      if (clusters !== "") say(`  where the mismatches cluster (segments, PromQL over ${WINDOW}): ${clusters}`);
    } else {
      say("no trip within 30 s of the bad release");
    }
    for (const w of workers) {
      say(`  process ${w.id} (pid ${w.child.pid}) ${w.offAt === undefined ? "never saw the flag off" : `saw the flag off ${((w.offAt - badAt) / 1000).toFixed(2)} s after the bad release`}`);
    }
    const offTimes = workers.map((w) => w.offAt);
    const allStopped = offTimes.every((t) => t !== undefined);
    const stopMs = allStopped ? Math.max(...(offTimes as number[])) - badAt : undefined;

    // Let in-flight runs finish, then collect each process's counts.
    await sleep(500);
    // What the fleet costs to watch: series per process, bytes per scrape, Prometheus' own scrape time.
    const firstPort = workers[0]?.port;
    const exposition = firstPort === undefined ? "" : await fetch(`http://127.0.0.1:${firstPort}/metrics`).then((r) => r.text()).catch(() => "");
    const seriesPerProcess = exposition.split("\n").filter((l) => l.startsWith("penumbra_")).length;
    let scrapeCost = "";
    if (prometheus !== undefined) {
      const samples = (await prometheus.query('avg(scrape_samples_scraped{job="penumbra"})').catch(() => []))[0]?.value;
      const seconds = (await prometheus.query('avg(avg_over_time(scrape_duration_seconds{job="penumbra"}[30s]))').catch(() => []))[0]?.value;
      scrapeCost = `; Prometheus scraped ${num(samples, 0)} samples per process in ${num(seconds === undefined ? undefined : seconds * 1000, 2)} ms on average`;
    }
    say(`cost: ${seriesPerProcess} penumbra series per process (segments region × coupon on), ${exposition.length} bytes per /metrics${scrapeCost}`);
    stopTraffic();
    const stats = await Promise.all(workers.map((w) => ask(w.child)));
    const admittedAfterOff = stats.reduce((sum, s) => sum + s.admittedAfterOff, 0);
    const startedAfterOff = stats.reduce((sum, s) => sum + s.startedAfterOff, 0);
    const served = stats.reduce((sum, s) => sum + s.served, 0);
    const candidateRuns = stats.reduce((sum, s) => sum + s.candidateRuns, 0);
    const propagation = tripAt === undefined ? [] : workers.flatMap((w) => (w.offAt === undefined ? [] : [w.offAt - tripAt]));

    console.log("");
    say(`time from "candidate goes bad" to "every process stopped": ${stopMs === undefined ? "not every process stopped" : `${(stopMs / 1000).toFixed(2)} s`} (bound ${STOP_BOUND_MS / 1000} s)`);
    if (propagation.length > 0) say(`  of which flag file → every process: ${Math.max(...propagation)} ms after the trip`);
    say(`candidate runs admitted after a process saw the flag off: ${admittedAfterOff} (goal 0)`);
    say(`candidate runs that started after their process saw the flag off (admitted just before): ${startedAfterOff}`);
    say(`served ${served} checkouts, ${candidateRuns} candidate runs, ${PROCESSES} processes, mode ${mode}`);
    const ok = trip !== undefined && stopMs !== undefined && stopMs < STOP_BOUND_MS && admittedAfterOff === 0;
    console.log(
      `FLEET_RESULT ${JSON.stringify({ mode, processes: PROCESSES, tripped: trip !== undefined, reason: trip?.reason, tripMs: tripAt === undefined ? null : tripAt - badAt, stopMs: stopMs ?? null, admittedAfterOff, startedAfterOff, served, candidateRuns, ok })}`,
    );
    return ok ? 0 : 1;
  } finally {
    await cleanup();
    clearTimeout(limit);
  }
}

/** Forks one worker process and waits for its port (15 s at most). */
function startWorker(id: number, flagFile: string, port: number): Promise<Worker> {
  const child = fork(path.join(__dirname, "worker.ts"), [], {
    execArgv: ["-r", "ts-node/register"],
    env: { ...process.env, FLEET_WORKER_ID: String(id), FLEET_FLAG_FILE: flagFile, FLEET_FLAG_KEY: FLAG, FLEET_PORT: String(port) },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stopChild(child);
      reject(new Error(`worker ${id} did not start in 15 s`));
    }, 15_000);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`worker ${id} exited with ${String(code)} before it was ready`));
    });
    child.on("message", (m: FromWorker) => {
      if (m.type !== "ready") return;
      clearTimeout(timer);
      resolve({ id, child, port: m.port });
    });
  });
}

/** Asks a worker for its counts (2 s at most). */
function ask(child: ChildProcess): Promise<Extract<FromWorker, { type: "stats" }>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`pid ${child.pid}: no stats in 2 s`)), 2_000);
    const listener = (m: FromWorker): void => {
      if (m.type !== "stats") return;
      clearTimeout(timer);
      child.off("message", listener);
      resolve(m);
    };
    child.on("message", listener);
    child.send({ type: "stats" } satisfies ToWorker);
  });
}

/** SIGTERM by pid, SIGKILL after 3 s. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 3_000);
  await exited;
  clearTimeout(timer);
}

/** Sends RPS checkouts per second, round-robin over the ports, at most 64 in flight; returns stop(). */
function traffic(ports: number[]): () => void {
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  const tick = 20;
  const perTick = RPS / (1000 / tick);
  let carry = 0;
  let next = 0;
  let inFlight = 0;
  const timer = setInterval(() => {
    carry += perTick;
    for (; carry >= 1; carry--) {
      if (inFlight >= 64) continue;
      const port = ports[next++ % ports.length];
      inFlight++;
      const req = get({ host: "127.0.0.1", port, path: `/total?${randomCartQuery()}`, agent }, (res) => {
        res.resume();
        res.on("end", () => inFlight--);
      });
      req.on("error", () => inFlight--);
    }
  }, tick);
  return () => {
    clearInterval(timer);
    agent.destroy();
  };
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`fleet demo failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
