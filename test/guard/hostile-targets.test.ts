import { strict as assert } from "node:assert";
import { inspect } from "node:util";
import { EventEmitter } from "node:events";
import type { AddressInfo } from "node:net";
import express from "express";
import nodemailer from "nodemailer";
import fc from "fast-check";
import { ShadowBlockedError, configure, guard, sideEffect } from "../../src/index";
import { guardMailer } from "../../src/adapters/nodemailer";
import { resetConfiguration } from "../support/capture";
import { runOnce as run } from "../support/one-run";

/** A function with `n` declared parameters, as a framework that reads `fn.length` sees it. */
function withArity(n: number, body: (...args: unknown[]) => unknown): (...args: unknown[]) => unknown {
  const fn = (...args: unknown[]): unknown => body(...args);
  Object.defineProperty(fn, "length", { value: n });
  return fn;
}

describe("guard and sideEffect over hostile targets", () => {
  afterEach(resetConfiguration);

  it("keeps a sideEffect's and a guarded method's arity, so an Express error handler (four parameters) stays one", () => {
    fc.assert(
      fc.property(fc.nat({ max: 12 }), (n) => {
        const fn = withArity(n, () => n);
        assert.equal(sideEffect("audit", fn).length, n);
        const client = { send: withArity(n, () => n), read: withArity(n, () => n) };
        const guarded = guard("client", client, { effects: ["send"] });
        assert.equal(guarded.send.length, n);
        assert.equal(guarded.read.length, n);
        assert.equal(guarded.send(), n);
      }),
    );
  });

  it("lets a real Express app use a sideEffect as its error handler outside any experiment", async () => {
    const app = express();
    app.get("/", () => {
      throw new Error("boom");
    });
    const seen: string[] = [];
    app.use(
      sideEffect("audit.error", (error: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
        seen.push(error.message);
        res.status(503).send("audited");
      }),
    );
    const server = app.listen(0, "127.0.0.1");
    await new Promise((resolve) => server.once("listening", resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const response = await fetch(`http://127.0.0.1:${port}/`);
      assert.equal(response.status, 503);
      assert.equal(await response.text(), "audited");
      assert.deepEqual(seen, ["boom"]);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it("treats the methods every object inherits from Object.prototype, and toJSON, as reads, not effects, under effects all", async () => {
    class Client {
      #sent = 0;
      host = "smtp.example";
      send(): number {
        return ++this.#sent;
      }
      /** The JSON protocol hook, like toString a way to look at the client, not an effect. */
      toJSON(): { host: string } {
        return { host: this.host };
      }
    }
    const client = new Client();
    const guarded = guard("client", client);
    const look = (): unknown[] => [
      JSON.stringify(guarded),
      String(guarded),
      `${guarded as unknown as string}`,
      guarded.toString(),
      guarded.toLocaleString(),
      guarded.hasOwnProperty("host"),
      guarded.propertyIsEnumerable("host"),
      Object.prototype.isPrototypeOf.call(Object.prototype, guarded),
      guarded.valueOf() === guarded,
    ];
    const outside = look();
    assert.deepEqual(outside, ['{"host":"smtp.example"}', "[object Object]", "[object Object]", "[object Object]", "[object Object]", true, true, true, true]);
    let seen: unknown[] = [];
    const result = await run(
      () => look(),
      () => {
        seen = look();
        guarded.send();
        return outside;
      },
    );
    assert.deepEqual(seen, outside);
    assert.deepEqual(result.control.effects, []);
    assert.deepEqual(result.candidates[0]?.effects, [{ name: "client.send", args: [], role: "candidate", blocked: true }]);
    assert.equal(guarded.send(), 1);
  });

  it("hands out ES5 and transpiled classes as they are, so new and instanceof work, and still guards plain and generator methods", async () => {
    // What TypeScript and Babel emit for `class ApiError extends Error` and `class Cursor { read() }` with an ES5 target.
    function ApiError(this: { message: string }, message: string): void {
      this.message = message;
    }
    ApiError.prototype = Object.create(Error.prototype, { constructor: { value: ApiError, writable: true, configurable: true } });
    function Cursor(this: { query: string }, query: string): void {
      this.query = query;
    }
    Cursor.prototype.read = function (this: { query: string }): string {
      return `rows of ${this.query}`;
    };
    const sent: string[] = [];
    function Mailer(): void {}
    Mailer.prototype.send = function send(to: string): string {
      sent.push(to);
      return `sent ${to}`;
    };
    const client = {
      errors: { ApiError },
      Cursor,
      mailer: new (Mailer as unknown as new () => { send(to: string): string })(),
      *drain(): Generator<string> {
        sent.push("drained");
        yield "x";
      },
    };
    const guarded = guard("client", client, { effects: ["mailer.send", "drain"] });
    const error: unknown = new (ApiError as unknown as new (m: string) => Error)("nope");
    assert.ok(error instanceof (guarded.errors.ApiError as unknown as new (m: string) => Error));
    assert.equal(guarded.errors.ApiError, ApiError);
    const cursor = new (guarded.Cursor as unknown as new (q: string) => { read(): string })("select 1");
    assert.ok(cursor instanceof (Cursor as unknown as new (q: string) => object));
    assert.equal(cursor.read(), "rows of select 1");
    const result = await run(
      () => 1,
      () => {
        guarded.mailer.send("b@example.com");
        guarded.drain();
        return 1;
      },
    );
    assert.deepEqual(sent, []);
    assert.deepEqual(
      result.candidates[0]?.effects.map((effect) => effect.name),
      ["client.mailer.send", "client.drain"],
    );
  });

  it("hands back an SDK's Promise subclass with its own methods (APIPromise.withResponse) and still guards what it resolves to", async () => {
    /** The shape of the OpenAI and Anthropic SDKs' APIPromise: `then` parses lazily, `withResponse` gives the raw response too. */
    class APIPromise<T> extends Promise<T> {
      readonly #response: Promise<{ status: number; body: T }>;
      #parsed: Promise<T> | undefined;
      constructor(response: Promise<{ status: number; body: T }>) {
        super((resolve) => resolve(null as T));
        this.#response = response;
      }
      async withResponse(): Promise<{ data: T; status: number }> {
        const response = await this.#response;
        return { data: response.body, status: response.status };
      }
      override then<A = T, B = never>(
        onFulfilled?: ((value: T) => A | PromiseLike<A>) | null,
        onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
      ): Promise<A | B> {
        this.#parsed ??= this.#response.then((response) => response.body);
        return this.#parsed.then(onFulfilled, onRejected);
      }
    }
    const written: string[] = [];
    class Connection {
      query(sql: string): string {
        written.push(sql);
        return `ran ${sql}`;
      }
    }
    class Client {
      readonly #status = 201;
      create(text: string): APIPromise<{ text: string }> {
        written.push(text);
        return new APIPromise(Promise.resolve({ status: this.#status, body: { text } }));
      }
      list(): APIPromise<string[]> {
        return new APIPromise(Promise.resolve({ status: 200, body: ["a"] }));
      }
      connect(): APIPromise<Connection> {
        return new APIPromise(Promise.resolve({ status: 200, body: new Connection() }));
      }
    }
    const guarded = guard("ai", new Client(), { effects: ["create", "query"] });
    assert.deepEqual(await guarded.create("hi").withResponse(), { data: { text: "hi" }, status: 201 });
    assert.deepEqual(await guarded.create("again"), { text: "again" });
    assert.deepEqual(await guarded.list().withResponse(), { data: ["a"], status: 200 });
    assert.ok(guarded.list() instanceof APIPromise);
    assert.deepEqual(await guarded.list().catch(() => []), ["a"]);
    written.length = 0;
    let controlSaw: unknown;
    const result = await run(
      async () => {
        controlSaw = await guarded.create("control").withResponse();
        return 1;
      },
      async () => {
        const connection = await guarded.connect();
        connection.query("INSERT 1");
        (await guarded.connect().catch(() => undefined))?.query("INSERT 2");
        await guarded.connect().then((later) => later.query("INSERT 3"));
        return 1;
      },
    );
    assert.equal(result.candidates[0]?.error, undefined);
    assert.deepEqual(controlSaw, { data: { text: "control" }, status: 201 });
    assert.deepEqual(written, ["control"]);
    assert.deepEqual(
      result.candidates[0]?.effects.map((effect) => [effect.name, effect.args]),
      [
        ["ai.query", ["INSERT 1"]],
        ["ai.query", ["INSERT 2"]],
        ["ai.query", ["INSERT 3"]],
      ],
    );
  });

  it("shows the real client in util.inspect and console.log, not the Proxy's empty stand-in, for guard() and the adapters", () => {
    class Client {
      readonly #secret = "s";
      host = "db.example";
      nested = { pool: { size: 4 } };
      send(): string {
        return this.#secret;
      }
    }
    const client = new Client();
    const guarded = guard("client", client, { effects: ["send"] });
    assert.equal(inspect(guarded), inspect(client));
    assert.equal(inspect(guarded.nested), inspect(client.nested));
    assert.equal(inspect({ client: guarded }, { depth: 0 }), inspect({ client }, { depth: 0 }));
    assert.equal(inspect([guarded], { colors: true }), inspect([client], { colors: true }));
    const transporter = nodemailer.createTransport({ jsonTransport: true });
    assert.equal(inspect(guardMailer(transporter)), inspect(transporter));
    // A cycle back through the holder ends, with the depth unbounded.
    const holder: { client?: unknown } = {};
    const cyclic = new Client() as Client & { holder?: unknown };
    cyclic.holder = holder;
    holder.client = guard("cyclic", cyclic);
    assert.match(inspect(holder, { depth: null }), /Client \{/);
  });

  it("guards the connection a callback-style method hands to its callback, and the emitter a listener gets as this", async () => {
    const written: string[] = [];
    class Connection {
      readonly #id: number;
      constructor(id: number) {
        this.#id = id;
      }
      query(sql: string, done: (error: Error | null, rows?: string[]) => void): void {
        written.push(`${this.#id}:${sql}`);
        setImmediate(() => done(null, [sql]));
      }
    }
    class Pool extends EventEmitter {
      #next = 0;
      getConnection(callback: (error: Error | null, connection?: Connection) => void): void {
        const connection = new Connection(++this.#next);
        setImmediate(() => callback(null, connection));
      }
      notify(to: string): void {
        written.push(`notify ${to}`);
      }
    }
    const pool = new Pool();
    const guarded = guard("db", pool, { effects: ["query", "notify"] });
    const checkOut = (): Promise<Connection> =>
      new Promise((resolve, reject) => guarded.getConnection((error, connection) => (error === null ? resolve(connection as Connection) : reject(error))));
    const query = (connection: Connection, sql: string): Promise<string[] | undefined> =>
      new Promise((resolve) => {
        connection.query(sql, (_error, rows) => resolve(rows));
        // A blocked callback-style call answers undefined and never calls back.
        setTimeout(() => resolve(undefined), 20);
      });
    function onOrder(this: Pool, to: string): void {
      this.notify(to);
    }
    guarded.on("order", onOrder);
    // Outside any experiment: everything as before, and the same listener can be removed.
    assert.deepEqual(await query(await checkOut(), "SELECT 1"), ["SELECT 1"]);
    guarded.emit("order", "outside");
    assert.deepEqual(written, ["1:SELECT 1", "notify outside"]);
    written.length = 0;
    const result = await run(
      async () => {
        await query(await checkOut(), "INSERT control");
        guarded.emit("order", "control");
        return 1;
      },
      async () => {
        await query(await checkOut(), "INSERT candidate");
        guarded.emit("order", "candidate");
        return 1;
      },
    );
    assert.deepEqual(written, ["2:INSERT control", "notify control"]);
    assert.deepEqual(
      result.candidates[0]?.effects.map((effect) => effect.name),
      ["db.query", "db.notify"],
    );
    // The functions you passed are what the client hands back, not the guarding wrappers.
    assert.deepEqual(guarded.listeners("order"), [onOrder]);
    assert.equal(guarded.listeners("order")[0], onOrder);
    guarded.off("order", onOrder);
    assert.equal(pool.listenerCount("order"), 0);
  });

  it("calls methods and callbacks and reads properties that are Proxies with throwing traps, outside any experiment and in the control", async () => {
    const hostile = <F extends object>(fn: F, traps: readonly (keyof ProxyHandler<F>)[]): F => {
      const handler: ProxyHandler<F> = {};
      for (const trap of traps) {
        (handler as Record<string, unknown>)[trap] = () => {
          throw new Error(`trap ${String(trap)}`);
        };
      }
      return new Proxy(fn, handler);
    };
    await fc.assert(
      fc.asyncProperty(
        fc.subarray(["get", "getOwnPropertyDescriptor", "has", "ownKeys", "getPrototypeOf"] as const, { minLength: 1 }),
        fc.boolean(),
        async (traps, asEffect) => {
          const calls: string[] = [];
          const client = {
            deliver: hostile((callback: (value: string) => void) => {
              calls.push("deliver");
              callback("delivered");
            }, traps),
            fetch(callback: (value: string) => void): void {
              calls.push("fetch");
              callback("fetched");
            },
            lazy: hostile({ region: "eu" }, traps),
          };
          const guarded = guard("client", client, { effects: asEffect ? ["deliver", "fetch"] : [] });
          const got: string[] = [];
          const use = (): void => {
            guarded.deliver((value) => got.push(value));
            guarded.fetch(hostile((value: string) => void got.push(value), traps));
            assert.doesNotThrow(() => guarded.lazy);
          };
          use();
          const result = await run(
            () => {
              use();
              return 1;
            },
            () => 1,
          );
          assert.equal(result.control.error, undefined);
          assert.deepEqual(calls, ["deliver", "fetch", "deliver", "fetch"]);
          assert.deepEqual(got, ["delivered", "fetched", "delivered", "fetched"]);
        },
      ),
      { numRuns: 40 },
    );
  });

  it("guards the clients in an array a method returns (a cluster's nodes) and what a promise-valued property resolves to", async () => {
    const written: string[] = [];
    class Node {
      constructor(readonly id: number) {}
      set(key: string): string {
        written.push(`${this.id}:${key}`);
        return "OK";
      }
    }
    class Cluster {
      readonly #nodes = [new Node(1), new Node(2)];
      /** Resolves to the client itself once connected, a common `await client.ready` shape. */
      readonly ready: Promise<this> = Promise.resolve().then(() => this);
      nodes(): Node[] {
        return [...this.#nodes];
      }
      keys(): string[] {
        return ["a", "b"];
      }
      set(key: string): string {
        return this.#nodes[0]?.set(key) ?? "";
      }
    }
    const guarded = guard("redis", new Cluster(), { effects: ["set"] });
    // Outside any experiment: the same answers, data arrays as they are.
    assert.deepEqual(
      guarded.nodes().map((node) => node.set("outside")),
      ["OK", "OK"],
    );
    assert.ok(guarded.nodes()[0] instanceof Node);
    assert.equal((await guarded.ready).set("ready"), "OK");
    assert.deepEqual(guarded.keys(), ["a", "b"]);
    written.length = 0;
    const result = await run(
      async () => 1,
      async () => {
        for (const node of guarded.nodes()) node.set("candidate");
        (await guarded.ready).set("candidate-ready");
        return 1;
      },
    );
    assert.deepEqual(written, []);
    assert.deepEqual(
      result.candidates[0]?.effects.map((effect) => effect.args[0]),
      ["candidate", "candidate", "candidate-ready"],
    );
  });

  it("answers a blocked generator or async generator method with an iterator of its kind: empty, or failing for onShadow throw", async () => {
    const done: string[] = [];
    class Exporter {
      *rows(): Generator<string> {
        done.push("rows");
        yield "real";
      }
      async *stream(): AsyncGenerator<string> {
        done.push("stream");
        yield "real";
      }
    }
    const drain = async (iterable: AsyncIterable<string> | Iterable<string>): Promise<string[]> => {
      const out: string[] = [];
      for await (const item of iterable) out.push(item);
      return out;
    };
    const noop = guard("export", new Exporter());
    const throwing = guard("export", new Exporter(), { onShadow: "throw" });
    const streamEffect = sideEffect("stream", async function* (): AsyncGenerator<string> {
      done.push("sideEffect");
      yield "real";
    });
    const seen: unknown[] = [];
    const result = await run(
      async () => [await drain(noop.rows()), await drain(noop.stream()), await drain(streamEffect())],
      async () => {
        seen.push([...noop.rows()], await drain(noop.stream()), await drain(streamEffect()));
        for (const make of [() => throwing.rows(), () => throwing.stream()]) {
          const iterator = make();
          seen.push(await drain(iterator).catch((error: unknown) => error instanceof ShadowBlockedError));
        }
        return [["real"], ["real"], ["real"]];
      },
    );
    assert.deepEqual(result.control.value, [["real"], ["real"], ["real"]]);
    assert.deepEqual(done, ["rows", "stream", "sideEffect"]);
    assert.deepEqual(seen, [[], [], [], true, true]);
    assert.equal(result.candidates[0]?.error, undefined);
  });

  it("keeps a blocked async method's answer a promise when its sink returns a value whose then getter throws", async () => {
    const hostileAnswer = new Proxy(
      {},
      {
        get: () => {
          throw new Error("then getter");
        },
      },
    );
    class Mailer {
      async send(): Promise<string> {
        return "sent";
      }
    }
    const guarded = guard("mailer", new Mailer(), { effects: ["send"], sink: { send: () => hostileAnswer } });
    const send = sideEffect("send", async (): Promise<string> => "sent", { sink: () => hostileAnswer as unknown as string });
    const shapes: string[] = [];
    await run(
      async () => 1,
      async () => {
        for (const call of [() => guarded.send(), () => send()]) {
          try {
            const answer = call();
            shapes.push(answer instanceof Promise ? "promise" : "value");
            await answer.catch(() => undefined);
          } catch {
            shapes.push("threw");
          }
        }
        return 1;
      },
    );
    assert.deepEqual(shapes, ["promise", "promise"]);
  });

  it("records and compares effects whose arguments are cyclic, huge, sparse or throw when read, and the control's call is untouched", async function () {
    this.timeout(20_000);
    // Snapshot and comparison faults are reported, not thrown: collected here instead of printed.
    const faults: string[] = [];
    configure({ onError: (error) => faults.push(error.operation) });
    const throwing = (): object =>
      new Proxy(
        { a: 1 },
        {
          get: () => {
            throw new Error("getter");
          },
          ownKeys: () => {
            throw new Error("ownKeys");
          },
        },
      );
    const cyclic = (): object => {
      const node: Record<string, unknown> = { name: "n" };
      node.self = node;
      node.list = [node, { back: node }];
      return node;
    };
    const huge = (): object => Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`k${i}`, i]));
    const withGetter = (): object =>
      Object.defineProperty({}, "boom", {
        enumerable: true,
        get() {
          throw new Error("getter");
        },
      });
    const hostileArg = fc.oneof(
      fc.anything({ withNullPrototype: true, withBigInt: true, withMap: true, withSet: true, withTypedArray: true, withSparseArray: true }),
      fc.constantFrom(throwing, cyclic, huge, withGetter).map((make) => make()),
    );
    await fc.assert(
      fc.asyncProperty(hostileArg, hostileArg, async (controlArg, candidateArg) => {
        let sent = 0;
        const client = {
          send(_arg: unknown): string {
            sent++;
            return "sent";
          },
        };
        const guarded = guard("client", client, { effects: ["send"] });
        const result = await run(
          () => guarded.send(controlArg),
          () => {
            guarded.send(candidateArg);
            return "sent";
          },
        );
        assert.equal(sent, 1);
        assert.equal(result.control.value, "sent");
        assert.equal(result.control.error, undefined);
        assert.equal(result.control.effects.length, 1);
        assert.equal(result.candidates[0]?.effects.length, 1);
        assert.ok(result.mismatches.every((mismatch) => typeof mismatch.summary === "string"));
      }),
      { numRuns: 60 },
    );
    // A snapshot the guard could not take, and effects the comparison then could not walk: nothing else.
    assert.ok(faults.every((operation) => operation === "guard" || operation === "compareEffects"), faults.join());
  });

  it("guards a thenable query builder a method returns (Drizzle's QueryPromise shape), and settles an await of it that is blocked", async () => {
    const rows: string[] = [];
    /** Runs when awaited, like Drizzle's inserts and Prisma's promises. */
    class InsertQuery {
      readonly #rows: string[];
      readonly #values: string;
      constructor(target: string[], values: string) {
        this.#rows = target;
        this.#values = values;
      }
      returning(): this {
        return this;
      }
      async execute(): Promise<{ rowCount: number }> {
        this.#rows.push(this.#values);
        return { rowCount: 1 };
      }
      then<A, B = never>(onFulfilled?: (value: { rowCount: number }) => A, onRejected?: (reason: unknown) => B): Promise<A | B> {
        return this.execute().then(onFulfilled, onRejected);
      }
    }
    class InsertBuilder {
      constructor(readonly target: string[]) {}
      values(values: string): InsertQuery {
        return new InsertQuery(this.target, values);
      }
    }
    class Database {
      readonly #rows = rows;
      insert(): InsertBuilder {
        return new InsertBuilder(this.#rows);
      }
    }
    const db = guard("db", new Database(), { effects: ["execute", "then"] });
    assert.deepEqual(await db.insert().values("outside"), { rowCount: 1 });
    assert.deepEqual(await db.insert().values("outside").returning().execute(), { rowCount: 1 });
    rows.length = 0;
    const throwing = guard("db", new Database(), { effects: ["execute", "then"], onShadow: "throw" });
    const answers: unknown[] = [];
    const result = await run(
      async () => {
        await db.insert().values("control");
        return 1;
      },
      async () => {
        answers.push(await db.insert().values("candidate"));
        answers.push(await db.insert().values("candidate").returning().execute());
        answers.push(await throwing.insert().values("candidate").then(undefined, (error: unknown) => error instanceof ShadowBlockedError));
        return 1;
      },
    );
    assert.deepEqual(rows, ["control"]);
    assert.deepEqual(answers, [undefined, undefined, true]);
    assert.equal(result.candidates[0]?.error, undefined);
    assert.deepEqual(
      result.candidates[0]?.effects.map((effect) => effect.name),
      ["db.then", "db.execute", "db.then"],
    );
  });

  it("answers a blocked method bound in the constructor (this.send = this.send.bind(this)) in the shape of the async method it binds", async () => {
    let sent = 0;
    class Mailer {
      constructor() {
        this.send = this.send.bind(this);
        this.rows = this.rows.bind(this);
      }
      async send(): Promise<string> {
        sent++;
        return "sent";
      }
      async *rows(): AsyncGenerator<string> {
        sent++;
        yield "row";
      }
    }
    const guarded = guard("mailer", new Mailer(), { effects: ["send", "rows"] });
    const seen: unknown[] = [];
    const result = await run(
      async () => 1,
      async () => {
        seen.push(await guarded.send().then((answer) => answer ?? "noop"));
        for await (const row of guarded.rows()) seen.push(row);
        return 1;
      },
    );
    assert.equal(result.candidates[0]?.error, undefined);
    assert.deepEqual(seen, ["noop"]);
    assert.equal(sent, 0);
  });

  it("is transparent outside any experiment: same values, same errors (sync and rejected), same this, same sync or async shape", async () => {
    /** What a generated method does with the value it is given. */
    const behaviour = fc.constantFrom("return", "throw", "resolve", "reject", "returnThis", "callback", "getter");
    const value = fc.oneof(
      fc.anything({ withNullPrototype: true, withBigInt: true, withDate: true, withMap: true, withSet: true, withTypedArray: true }),
      fc.constant(new Error("boom")),
      fc.constant(new Date(0)),
    );
    await fc.assert(
      fc.asyncProperty(behaviour, value, fc.boolean(), async (kind, given, asEffect) => {
        class Client {
          readonly #secret = given;
          run(callback?: (error: unknown, result?: unknown) => void): unknown {
            switch (kind) {
              case "throw":
                throw this.#secret;
              case "resolve":
                return Promise.resolve(this.#secret);
              case "reject":
                return Promise.reject(this.#secret);
              case "returnThis":
                return this;
              case "callback":
                callback?.(null, this.#secret);
                return undefined;
              default:
                return this.#secret;
            }
          }
          get secret(): unknown {
            return this.#secret;
          }
        }
        const client = new Client();
        const guarded = guard("client", client, { effects: asEffect ? ["run"] : [] });
        const settle = async (call: () => unknown): Promise<{ shape: string; outcome: string; value: unknown }> => {
          let returned: unknown;
          try {
            returned = call();
          } catch (error) {
            return { shape: "sync", outcome: "threw", value: error };
          }
          if (!(returned instanceof Promise)) return { shape: "sync", outcome: "returned", value: returned };
          try {
            return { shape: "async", outcome: "resolved", value: await returned };
          } catch (error) {
            return { shape: "async", outcome: "rejected", value: error };
          }
        };
        const delivered: unknown[] = [];
        const real = await settle(() => client.run((_, result) => delivered.push(result)));
        const seen = await settle(() => guarded.run((_, result) => delivered.push(result)));
        assert.equal(seen.shape, real.shape);
        assert.equal(seen.outcome, real.outcome);
        if (kind === "returnThis") assert.equal(seen.value, guarded);
        else assert.ok(Object.is(seen.value, real.value), `${kind}: ${inspect(seen.value)} is not ${inspect(real.value)}`);
        assert.ok(Object.is(guarded.secret, client.secret) || typeof client.secret === "object");
        if (kind === "callback") assert.ok(Object.is(delivered[1], delivered[0]));
      }),
      { numRuns: 300 },
    );
  });
});
