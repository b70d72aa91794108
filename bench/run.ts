/**
 * `npm run bench`: every benchmark in one process run, printed as Markdown for docs/benchmarks.md.
 * Ratios matter, not absolute times: the machines here are slow and noisy.
 * `--quick` (`npm run bench -- --quick`) shortens the sections that accept it, for a smoke run.
 */
import { benchCallerPath } from "./caller-path";
import { benchCompare } from "./compare";
import { benchContextBackend } from "./context-backend";
import { benchCpuPerRun } from "./cpu-per-run";
import { benchEndToEnd } from "./end-to-end";
import { machineLine } from "./machine";
import { benchMemory } from "./memory";
import { benchPeers } from "./peers";
import { benchSnapshot } from "./snapshot";

async function main(): Promise<void> {
  console.log(`# penumbra benchmarks\n\n${machineLine()}\n`);
  const quick = process.argv.includes("--quick");
  const sections: Array<(quick: boolean) => Promise<string>> = [
    benchCallerPath,
    benchCpuPerRun,
    benchSnapshot,
    benchCompare,
    benchPeers,
    benchMemory,
    benchContextBackend,
    benchEndToEnd,
  ];
  for (const section of sections) {
    console.log(await section(quick));
    console.log("");
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
