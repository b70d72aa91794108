/**
 * A real Prometheus (Debian's `prometheus` package) started as a plain process in a temporary
 * directory, scraping the given loopback targets every second, stopped by its pid. Used by the fleet
 * demo and by the tests; no service manager, no network beyond 127.0.0.1.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";

/** A running Prometheus: its API base URL, a way to wait for scrapes, and `stop()`. */
export interface PrometheusServer {
  url: string;
  pid: number;
  /** Resolves when every target has been scraped successfully at least once (or rejects after `timeoutMs`). */
  targetsUp(timeoutMs: number): Promise<void>;
  /** Runs an instant PromQL query and returns the vector's samples. */
  query(promql: string): Promise<Array<{ metric: Record<string, string>; value: number }>>;
  stop(): Promise<void>;
}

/** Why Prometheus cannot run here, or undefined when the binary is on the PATH. */
export function prometheusMissing(): string | undefined {
  const found = spawnSync("prometheus", ["--version"], { stdio: "ignore", timeout: 10_000 });
  if (found.error !== undefined) return `prometheus is not on the PATH (${found.error.message}); install Debian's package: apt-get install -y prometheus`;
  if (found.status !== 0) return `prometheus --version exited with ${String(found.status)}`;
  return undefined;
}

/** A free loopback port, chosen by the kernel. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts Prometheus scraping `targets` (`host:port`, loopback) every `scrapeInterval`.
 *
 * @example
 * ```ts
 * const prometheus = await startPrometheus(["127.0.0.1:9464"]);
 * await prometheus.targetsUp(15_000);
 * console.log(await prometheus.query("sum(penumbra_comparisons_total)"));
 * await prometheus.stop();
 * ```
 */
export async function startPrometheus(targets: string[], options: { scrapeInterval?: string } = {}): Promise<PrometheusServer> {
  const dir = mkdtempSync(path.join(tmpdir(), "penumbra-prometheus-"));
  const port = await freePort();
  const interval = options.scrapeInterval ?? "1s";
  const config = [
    "global:",
    `  scrape_interval: ${interval}`,
    `  evaluation_interval: ${interval}`,
    "scrape_configs:",
    "  - job_name: penumbra",
    `    scrape_interval: ${interval}`,
    `    scrape_timeout: ${interval}`,
    "    static_configs:",
    `      - targets: [${targets.map((t) => JSON.stringify(t)).join(", ")}]`,
    "",
  ].join("\n");
  const configFile = path.join(dir, "prometheus.yml");
  writeFileSync(configFile, config);
  const child: ChildProcess = spawn(
    "prometheus",
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${path.join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--log.level=warn",
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString("utf8")).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      // Hard limit: a Prometheus that does not stop in 5 s is killed.
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  const query = async (promql: string): Promise<Array<{ metric: Record<string, string>; value: number }>> => {
    const response = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`, { signal: AbortSignal.timeout(5_000) });
    const body = (await response.json()) as { status: string; error?: string; data?: { result?: Array<{ metric: Record<string, string>; value: [number, string] }> } };
    if (body.status !== "success") throw new Error(`PromQL ${promql}: ${body.error ?? response.status}`);
    return (body.data?.result ?? []).map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
  };

  // Ready: the HTTP API answers. Prometheus starts in well under a second here; 15 s is the hard limit.
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`prometheus exited with ${child.exitCode}: ${stderr}`);
    }
    try {
      const response = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1_000) });
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`prometheus did not become ready in 15 s: ${stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }

  return {
    url,
    pid: child.pid ?? -1,
    query,
    stop,
    async targetsUp(timeoutMs: number): Promise<void> {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const up = await query('up{job="penumbra"}').catch(() => []);
        if (up.length === targets.length && up.every((s) => s.value === 1)) return;
        if (Date.now() > until) throw new Error(`prometheus targets not all up after ${timeoutMs} ms: ${JSON.stringify(up)}`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    },
  };
}
