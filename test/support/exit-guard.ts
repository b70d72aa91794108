/**
 * Mocha root hooks: a run that ends before its last test (a test awaiting a promise that nothing
 * keeps alive lets Node exit, with code 0 and no summary) fails instead of passing in silence.
 */
let finished = false;

process.on("exit", (code) => {
  if (!finished && code === 0) {
    process.stderr.write("\nmocha exited before the run finished: a test awaited something nothing keeps alive (no summary was printed)\n");
    process.exitCode = 1;
  }
});

export const mochaHooks = {
  afterAll(): void {
    finished = true;
  },
};
