/**
 * End to end: a node:http server (bench/e2e-server.ts, its own child process per variant run)
 * whose handler calls a wrapped order total, driven by autocannon on 127.0.0.1 with a fixed number
 * of connections for a fixed duration. Variants: no penumbra, experiment off, 1% and 100% sampled.
 * Each variant runs twice, the order shuffled within each pass, so drift on the machine lands on
 * every variant alike. A short unmeasured warm-up precedes each measured run (JIT, sockets).
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as path from "node:path";
import { machineLine, shuffle } from "./machine";

interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number };
  errors: number;
  non2xx: number;
  timeouts: number;
}
type Autocannon = (options: { url: string; connections: number; duration: number }) => Promise<AutocannonResult>;

/** autocannon ships no type declarations; only the fields read here are declared. */
function loadAutocannon(): Autocannon {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require("autocannon") as Autocannon;
}

const VARIANTS = ["direct", "off", "1%", "100%"] as const;
type Variant = (typeof VARIANTS)[number];

interface Run {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

function startServer(variant: Variant): Promise<{ child: ChildProcess; port: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["-r", "ts-node/register", path.join(__dirname, "e2e-server.ts")], {
      cwd: path.resolve(__dirname, ".."),
      env: { ...process.env, VARIANT: variant },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split("\n")[0];
      if (out.includes("\n") && line !== undefined) resolve({ child, port: Number(line) });
    });
    child.on("error", reject);
    child.on("exit", (code) => reject(new Error(`e2e-server (${variant}) exited early with ${code}`)));
  });
}

function stopServer(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
  });
}

async function runVariant(autocannon: Autocannon, variant: Variant, duration: number, connections: number): Promise<Run> {
  const { child, port } = await startServer(variant);
  try {
    const url = `http://127.0.0.1:${port}/`;
    await autocannon({ url, connections, duration: 1 });
    const r = await autocannon({ url, connections, duration });
    return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors + r.non2xx + r.timeouts };
  } finally {
    await stopServer(child);
  }
}

/** Runs the end-to-end benchmark and returns a Markdown section. */
export async function benchEndToEnd(quick = false): Promise<string> {
  const autocannon = loadAutocannon();
  const duration = quick ? 2 : 5;
  const passes = 2;
  const connections = 10;
  const runs = new Map<Variant, Run[]>(VARIANTS.map((v) => [v, []]));
  for (let pass = 0; pass < passes; pass++) {
    for (const variant of shuffle(VARIANTS)) (runs.get(variant) as Run[]).push(await runVariant(autocannon, variant, duration, connections));
  }
  const mean = (values: number[]): number => values.reduce((a, b) => a + b, 0) / values.length;
  const offRps = mean((runs.get("off") ?? []).map((r) => r.rps));
  const rows = VARIANTS.map((v) => {
    const rs = runs.get(v) ?? [];
    const rps = mean(rs.map((r) => r.rps));
    return (
      `| ${v === "off" ? "experiment off (`enabled: false`)" : v === "direct" ? "no penumbra" : `${v} sampled`} ` +
      `| ${rs.map((r) => Math.round(r.rps)).join(" / ")} | ${Math.round(rps)} | ${(rps / offRps).toFixed(3)}× ` +
      `| ${rs.map((r) => r.p50).join(" / ")} | ${rs.map((r) => r.p99).join(" / ")} | ${rs.reduce((a, r) => a + r.errors, 0)} |`
    );
  });
  return [
    "### End to end: node:http + autocannon",
    "",
    `Machine: ${machineLine()}. ${new Date().toISOString().slice(0, 10)}. autocannon in the bench process, server in a child, ` +
      `127.0.0.1, ${connections} connections, ${duration} s per run after a 1 s warm-up, ${passes} passes shuffled.`,
    "",
    "| variant | req/s (pass 1 / 2) | mean req/s | ÷ off | p50 ms | p99 ms | errors |",
    "|---|---:|---:|---:|---:|---:|---:|",
    ...rows,
    "",
  ].join("\n");
}

if (require.main === module) {
  benchEndToEnd(process.argv.includes("--quick")).then((text) => console.log(text));
}
