/**
 * The tripwire against a pg Pool shared by overlapping control and candidate queries, on a real
 * PostgreSQL server (Debian's `postgresql`, started here as a plain process on a loopback port). A
 * pool hands a freed client to the oldest waiter from the context of whoever released it; judged by
 * the rows in the database: none from a candidate, each control's exactly once.
 */
import { strict as assert } from "node:assert";
import fc from "fast-check";
import pg from "pg";
import { installTripwire, isShadow, shadow, type Result } from "../../src/index";
import { postgresForSuite } from "../support/servers";

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** How a behaviour reaches the database through the pool. */
type Form = "text" | "callback" | "checkout" | "checkout-callback";

const FORMS: readonly Form[] = ["text", "callback", "checkout", "checkout-callback"];

/** Inserts one row for `who` through `pool` in the given form; settles with "written" or the error's code. */
async function insert(pool: pg.Pool, form: Form, who: string): Promise<string> {
  const text = `INSERT INTO orders (who) VALUES ('${who}')`;
  const failed = (error: unknown): string => `error ${(error as NodeJS.ErrnoException).code ?? String(error)}`;
  try {
    if (form === "text") {
      await pool.query(text);
    } else if (form === "callback") {
      await new Promise<void>((resolve, reject) => {
        pool.query(text, (error: Error | undefined) => (error ? reject(error) : resolve()));
      });
    } else if (form === "checkout-callback") {
      await new Promise<void>((resolve, reject) => {
        pool.connect((connectError: Error | undefined, client: pg.PoolClient | undefined, done: (release?: Error) => void) => {
          if (connectError || client === undefined) return reject(connectError ?? new Error("no client"));
          client.query(text, (queryError: Error | undefined) => {
            done(queryError);
            if (queryError) reject(queryError);
            else resolve();
          });
        });
      });
    } else {
      const client = await pool.connect();
      let problem: Error | undefined;
      try {
        await client.query(text);
      } catch (error) {
        problem = error as Error;
        throw error;
      } finally {
        client.release(problem);
      }
    }
    return "written";
  } catch (error) {
    return failed(error);
  }
}

interface Scenario {
  max: number;
  calls: Array<{ control: Form; candidate: Form; controlDelay: number; candidateDelay: number }>;
}

describe("the tripwire against a pg Pool shared by overlapping control and candidate queries", function () {
  this.timeout(20_000);
  const postgres = postgresForSuite("CREATE TABLE orders (id serial PRIMARY KEY, who text NOT NULL)");
  let uninstall: (() => void) | undefined;

  afterEach(() => {
    uninstall?.();
    uninstall = undefined;
  });

  /** The rows whose `who` starts with `prefix`, as the database has them. */
  async function rowsOf(prefix: string): Promise<string[]> {
    const { rows } = await postgres.admin.query<{ who: string }>("SELECT who FROM orders WHERE starts_with(who, $1) ORDER BY who", [prefix]);
    return rows.map((r) => r.who);
  }

  async function check(scenario: Scenario, tag: string): Promise<void> {
    const pool = new pg.Pool({ ...postgres.config, max: scenario.max });
    pool.on("error", () => undefined);
    const results: Result<unknown>[] = [];
    const controlOutcomes = new Map<number, string>();
    const reported: string[] = [];
    const run = shadow(
      async (i: number) => {
        const call = scenario.calls[i];
        if (call === undefined) return "none";
        await sleep(call.controlDelay);
        controlOutcomes.set(i, await insert(pool, call.control, `control ${tag} ${i}`));
        return String(i);
      },
      async (i: number) => {
        const call = scenario.calls[i];
        if (call === undefined) return "none";
        await sleep(call.candidateDelay);
        return insert(pool, call.candidate, `CANDIDATE ${tag} ${i}`);
      },
      {
        name: `pg-pool ${tag}`,
        publish: (r: Result<unknown>) => void results.push(r),
        onError: (e) => void reported.push(e.operation),
        guardrails: { disableOnLeak: false },
        timeoutMs: 4000,
      },
    );
    const ids = scenario.calls.map((_, i) => i);
    const answers = await Promise.all(ids.map((i) => run(i)));
    await run.experiment.settled();
    await pool.end();

    assert.deepEqual(answers, ids.map(String), "each caller gets its control's answer");
    assert.deepEqual(await rowsOf(`CANDIDATE ${tag} `), [], "no candidate row is written");
    assert.deepEqual(await rowsOf(`control ${tag} `), ids.map((i) => `control ${tag} ${i}`).sort(), "every control row is written exactly once");
    for (const i of ids) assert.equal(controlOutcomes.get(i), "written", `control ${i}'s query succeeds`);
    assert.equal(results.length, ids.length, "one result per call");
    // A checked-out client whose connection the tripwire closed raises 'error' in the candidate: its fault, nothing else.
    assert.deepEqual(reported.filter((operation) => operation !== "candidateFault"), []);
    for (const result of results) {
      const i = Number(result.control.value);
      const candidate = result.candidates[0];
      assert.ok(candidate !== undefined);
      assert.deepEqual(result.control.leaks, [], `control ${i} has no leak`);
      assert.equal(candidate.timedOut, false, `candidate ${i} settles`);
      // A checked-out client whose connection was closed may also raise 'error' with no listener: a fault of the candidate.
      assert.ok(candidate.threw || /^error /.test(String(candidate.value)), `candidate ${i}'s query fails`);
      assert.ok(candidate.leaks.length >= 1, `candidate ${i}'s attempt is a leak on its own observation`);
      for (const leak of candidate.leaks) assert.deepEqual({ ...leak }, { kind: "network", target: `127.0.0.1:${String(postgres.config.port)}`, blocked: true });
    }
  }

  it("writes no candidate row through a pool of one client shared by a control and a candidate in each form", async () => {
    uninstall = installTripwire();
    let n = 0;
    for (const control of FORMS) {
      for (const candidate of FORMS) {
        await check({ max: 1, calls: [{ control, candidate, controlDelay: 0, candidateDelay: 0 }, { control, candidate, controlDelay: 0, candidateDelay: 0 }] }, `f${n++}`);
      }
    }
  });

  it("writes no candidate row and every control row, for generated interleavings, forms and pool sizes", async () => {
    uninstall = installTripwire();
    let n = 0;
    const form = fc.constantFrom(...FORMS);
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          max: fc.integer({ min: 1, max: 2 }),
          calls: fc.array(
            fc.record({ control: form, candidate: form, controlDelay: fc.integer({ min: 0, max: 10 }), candidateDelay: fc.integer({ min: 0, max: 10 }) }),
            { minLength: 1, maxLength: 4 },
          ),
        }),
        async (scenario) => check(scenario, `g${n++}`),
      ),
      { numRuns: 25 },
    );
  });

  it("writes no candidate row through a single shared pg.Client when the candidate's query waits behind the control's", async () => {
    uninstall = installTripwire();
    const client = new pg.Client(postgres.config);
    await client.connect();
    const faults: unknown[] = [];
    client.on("error", (error) => faults.push(error));
    const results: Result<unknown>[] = [];
    const run = shadow(
      async (tag: string) => {
        // Call "b" is still inside its slow INSERT when call "a"'s candidate queries (a background
        // candidate starts once its own control settled): that query waits in the client's queue.
        if (tag === "b") await sleep(5);
        await client.query(`INSERT INTO orders (who) SELECT 'control queue ${tag}' FROM pg_sleep(${tag === "b" ? 0.2 : 0})`);
        if (tag === "a") await sleep(40);
        return "written";
      },
      async (tag: string) => {
        await client.query(`INSERT INTO orders (who) VALUES ('CANDIDATE queue ${tag}')`);
        return "written";
      },
      { name: "pg-client queue", publish: (r: Result<unknown>) => void results.push(r), onError: () => undefined, guardrails: { disableOnLeak: false } },
    );
    assert.deepEqual(await Promise.all([run("a"), run("b")]), ["written", "written"]);
    await run.experiment.settled();
    await client.end().catch(() => undefined);
    assert.deepEqual(await rowsOf("CANDIDATE queue "), [], "no candidate row is written");
    assert.deepEqual(await rowsOf("control queue "), ["control queue a", "control queue b"], "each control's row is written once");
    const first = results.find((r) => r.control.value === "written" && r.candidates[0]?.leaks.length !== 0);
    const candidate = first?.candidates[0];
    assert.ok(candidate !== undefined, "a candidate's attempt is a leak");
    assert.equal(candidate.threw, true, "the candidate's query fails");
    assert.deepEqual(candidate.leaks.map((l) => ({ ...l })), [{ kind: "network", target: `127.0.0.1:${String(postgres.config.port)}`, blocked: true }]);
    for (const result of results) assert.deepEqual(result.control.leaks, []);
  });

  it("calls each pool.query callback in its caller's run, on a client another run opened (report mode, where the candidate's queries go out)", async () => {
    // Report mode lets the candidate's queries out, so their answers come back on the shared client's
    // socket, in whichever run opened it; the callback must still be its caller's.
    uninstall = installTripwire({ network: "report" });
    const pool = new pg.Pool({ ...postgres.config, max: 1 });
    const seen: string[] = [];
    const query = (role: string, who: string): Promise<string> =>
      new Promise((resolve) => {
        pool.query(`INSERT INTO orders (who) VALUES ('${who}')`, (error: Error | undefined) => {
          seen.push(`${role} shadow=${String(isShadow())}`);
          resolve(error ? "error" : "written");
        });
      });
    const run = shadow(
      (id: string) => query("control", `callback control ${id}`),
      (id: string) => query("candidate", `callback candidate ${id}`),
      { name: "pg-pool callbacks", publish: () => undefined, onError: () => undefined, guardrails: { disableOnLeak: false } },
    );
    assert.deepEqual(await Promise.all(["1", "2", "3"].map((id) => run(id))), ["written", "written", "written"]);
    await run.experiment.settled();
    await pool.end();
    assert.deepEqual([...seen].sort(), [
      "candidate shadow=true",
      "candidate shadow=true",
      "candidate shadow=true",
      "control shadow=false",
      "control shadow=false",
      "control shadow=false",
    ]);
  });

  it("closes an idle client a candidate only checked out and gave back without blaming the candidate: the idle timeout is the pool's", async () => {
    uninstall = installTripwire();
    const pool = new pg.Pool({ ...postgres.config, max: 1, idleTimeoutMillis: 100 });
    await pool.query("SELECT 1");
    const trips: string[] = [];
    const results: Result<unknown>[] = [];
    const run = shadow(
      async () => insert(pool, "text", "control idle"),
      async () => {
        const client = await pool.connect();
        client.release();
        return "written";
      },
      { name: "pg-pool idle", publish: (r: Result<unknown>) => void results.push(r), guardrails: { onTrip: (event) => void trips.push(event.reason) } },
    );
    assert.equal(await run(), "written");
    await run.experiment.settled();
    for (let i = 0; i < 50 && pool.totalCount > 0; i++) await sleep(20);
    await sleep(50);
    assert.equal(pool.totalCount, 0, "the pool closed its idle client");
    assert.deepEqual(trips, [], "no leak reached the leak guardrail");
    assert.deepEqual(results[0]?.candidates[0]?.leaks, []);
    assert.deepEqual(await rowsOf("control idle"), ["control idle"]);
    await pool.end();
  });
});
