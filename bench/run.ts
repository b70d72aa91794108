/**
 * `npm run bench`: every benchmark in one process run, printed as Markdown for docs/benchmarks.md.
 * Ratios matter, not absolute times: the machines here are slow and noisy.
 */
import { benchCallerPath } from "./caller-path";
import { benchCompare } from "./compare";
import { machineLine } from "./machine";
import { benchSnapshot } from "./snapshot";

async function main(): Promise<void> {
  console.log(`# penumbra benchmarks\n\n${machineLine()}\n`);
  for (const section of [benchCallerPath, benchSnapshot, benchCompare]) {
    console.log(await section());
    console.log("");
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
