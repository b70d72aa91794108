/**
 * Scientist's test mode under mocha. Runs `totals.spec.ts` (next to this file) with mocha's
 * programmatic API: one test passes because the refactor agrees with the old code, one fails
 * because the rewrite does not, with a `MismatchError` listing both values and the difference.
 * The spec reporter prints both; this program then checks that exactly that happened and exits 0
 * (1 if the spec had any other outcome), so the example itself can be used as a check.
 *
 *   npm run build && node -r ts-node/register examples/mocha-test-mode/main.ts
 *
 * or run the spec with the mocha CLI (exits 1: one test fails on purpose):
 *
 *   npx mocha --no-config -r ts-node/register examples/mocha-test-mode/totals.spec.ts
 */
import * as path from "node:path";
import Mocha from "mocha";
import { MismatchError } from "penumbra";

async function main(): Promise<void> {
  // A fresh Mocha instance: nothing from the project's .mocharc.json (its spec glob, its timeout)
  // applies, only this one file. ts-node is already registered by `node -r ts-node/register`, so the
  // .ts spec loads through require like any other module.
  const mocha = new Mocha({ reporter: "spec", timeout: 10_000 });
  mocha.addFile(path.join(__dirname, "totals.spec.ts"));
  await mocha.loadFilesAsync();

  const caught: string[] = [];
  let passing = 0;
  const failures = await new Promise<number>((resolve) => {
    const runner = mocha.run(resolve);
    runner.on("pass", () => passing++);
    runner.on("fail", (test, error: unknown) => {
      // The MismatchError is the point: anything else failing means the example is broken.
      const kind = error instanceof MismatchError ? "MismatchError" : `unexpected ${String(error)}`;
      caught.push(`failed: ${test.fullTitle()} (${kind})`);
    });
  });

  console.log(`mocha-test-mode: ${passing} passing, ${failures} failing`);
  for (const line of caught) console.log(line);
  const asExpected = passing === 1 && failures === 1 && caught[0]?.endsWith("(MismatchError)") === true;
  console.log(asExpected ? "as intended: the refactor passed and the rewrite's regression was caught" : "UNEXPECTED outcome");
  process.exitCode = asExpected ? 0 : 1;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
