/**
 * penumbra/express against hostile new handlers, on a real app on 127.0.0.1: nothing they do reaches
 * the client, stalls the process or changes what the old handler sends.
 */
import { strict as assert } from "node:assert";
import * as net from "node:net";
import { Readable } from "node:stream";
import fc from "fast-check";
import express, { type NextFunction, type Request, type Response } from "express";
import { configure } from "../../src/index";
import { shadowExpress, type ComparableResponse } from "../../src/integrations/express";
import { collector, errorSink, resetConfiguration } from "../support/capture";
import { listen, listenWithErrorHandler, type RunningApp } from "./express-support";

let experiments = 0;
const named = (what: string): string => `express-hostile-${what}-${++experiments}`;

/** 512 MiB in one reused 64 KiB chunk, produced synchronously: as fast as a writer that never says "wait" takes it. */
function* hugeSyncBody(): Generator<Buffer> {
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  for (let i = 0; i < 8192; i++) yield chunk;
}

/** The longest pause between ticks of a 10 ms interval while `work` runs. */
async function longestStall(work: () => Promise<void>): Promise<number> {
  let last = Date.now();
  let longest = 0;
  const ticker = setInterval(() => {
    const now = Date.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 10);
  try {
    await work();
  } finally {
    clearInterval(ticker);
  }
  return Math.max(longest, Date.now() - last);
}

describe("penumbra/express: the stand-in response pushes back like a real one", () => {
  let running: RunningApp | undefined;
  afterEach(async () => {
    await running?.close();
    running = undefined;
    resetConfiguration();
  });

  const writers: Array<[string, (res: Response) => void]> = [
    ["pipes a synchronous stream into it", (res) => void Readable.from(hugeSyncBody()).pipe(res)],
    [
      "pipes a stream whose read() pushes at once",
      (res) => {
        let left = 8192;
        const chunk = Buffer.alloc(64 * 1024, 0x62);
        void new Readable({
          read() {
            this.push(left-- > 0 ? chunk : null);
          },
        }).pipe(res);
      },
    ],
  ];

  for (const [what, write] of writers) {
    it(`keeps the event loop turning and times out a new handler that ${what}`, async function () {
      this.timeout(15_000);
      const errors = errorSink();
      configure({ onError: errors.onError });
      const sink = collector();
      const route = shadowExpress(
        (_req: Request, res: Response) => {
          res.send("old");
        },
        (_req: Request, res: Response) => write(res),
        { name: named("pipe"), publish: sink, timeoutMs: 100 },
      );
      const app = express();
      app.get("/", route);
      running = await listen(app);
      const stall = await longestStall(async () => {
        const res = await fetch(running?.url ?? "");
        assert.equal(await res.text(), "old");
        await route.experiment.settled();
      });
      assert.ok(stall < 250, `the event loop stalled for ${stall} ms`);
      assert.equal(sink.results[0]?.candidates[0]?.timedOut, true);
    });
  }

  it("lets a new handler that waits for drain write a large body, in full, compared with the old one", async () => {
    const body = "z".repeat(300 * 1024);
    const sink = collector();
    const route = shadowExpress(
      (_req: Request, res: Response) => {
        res.type("text").send(body);
      },
      async (_req: Request, res: Response) => {
        res.type("text");
        for (let i = 0; i < body.length; i += 1000) {
          if (!res.write(body.slice(i, i + 1000))) await new Promise((resolve) => res.once("drain", resolve));
        }
        res.end();
      },
      { name: named("drain"), publish: sink },
    );
    const app = express();
    app.get("/", route);
    running = await listen(app);
    assert.equal(await (await fetch(running.url)).text(), body);
    await route.experiment.settled();
    const candidate = sink.results[0]?.candidates[0];
    assert.equal(candidate?.threw, false);
    const control = sink.results[0]?.control.value as ComparableResponse;
    assert.equal(typeof control.body, "string");
    assert.ok((candidate?.value as ComparableResponse).body === control.body, "the new handler's body differs from the old one's");
  });
});

describe("penumbra/express: promote", () => {
  let running: RunningApp | undefined;
  afterEach(async () => {
    await running?.close();
    running = undefined;
    resetConfiguration();
  });

  for (const how of ["throws", "rejects"] as const) {
    it(`hands Express a promoted new handler's own error when it ${how}, and the old handler's answer never reaches the client`, async () => {
      const broke = new Error("new route broke");
      const sink = collector();
      const route = shadowExpress(
        (_req: Request, res: Response) => {
          res.send("old");
        },
        how === "throws"
          ? () => {
              throw broke;
            }
          : async () => {
              await new Promise((resolve) => setTimeout(resolve, 1));
              throw broke;
            },
        { name: named(`promoted-${how}`), publish: sink, promote: 1 },
      );
      const served = await listenWithErrorHandler(route);
      running = served;
      const res = await fetch(running.url);
      assert.equal(res.status, 500);
      assert.equal(await res.text(), "handled");
      await route.experiment.settled();
      assert.equal(served.handled(), broke);
      assert.equal(sink.results[0]?.servedBy, "candidate");
      assert.equal((sink.results[0]?.control.value as ComparableResponse).body, "old");
      assert.equal(sink.results[0]?.mismatches[0]?.kind, "error");
    });
  }

  it("sends the old handler's answer for a hostile promote predicate, reported as a promote error", async () => {
    const errors = errorSink();
    configure({ onError: errors.onError });
    const predicates: Array<() => unknown> = [() => "yes", () => 1, () => null, () => { throw new Error("flag service down"); }];
    let i = 0;
    const route = shadowExpress(
      (_req: Request, res: Response) => {
        res.send("old");
      },
      (_req: Request, res: Response) => {
        res.send("new");
      },
      { name: named("predicate"), publish: collector(), promote: () => (predicates[i++ % predicates.length] as () => boolean)() },
    );
    const app = express();
    app.get("/", route);
    running = await listen(app);
    for (let n = 0; n < predicates.length; n++) assert.equal(await (await fetch(running.url)).text(), "old");
    await route.experiment.settled();
    assert.deepEqual(errors.errors.map((e) => e.operation), ["promote", "promote", "promote", "promote"]);
  });
});

/** Sends a chunked POST that stalls after `chunks` chunks (or finishes), then leaves after `leaveAfterMs`. */
function abortingClient(port: number, plan: { chunks: number; finish: boolean; leaveAfterMs: number }): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1", () => {
      socket.write("POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n");
      for (let i = 0; i < plan.chunks; i++) socket.write("5\r\nchunk\r\n");
      if (plan.finish) socket.write("0\r\n\r\n");
      setTimeout(() => socket.destroy(), plan.leaveAfterMs);
    });
    socket.on("error", () => undefined);
    socket.on("close", () => resolve());
  });
}

describe("penumbra/express: clients that abort at every stage", () => {
  let running: RunningApp | undefined;
  afterEach(async () => {
    await running?.close();
    running = undefined;
    resetConfiguration();
  });

  it("settles every run, frees every slot and keeps serving whenever a client with a stalled or finished upload leaves", async function () {
    this.timeout(20_000);
    configure({ onError: () => undefined });
    const sink = collector();
    const respond = async (req: Request, res: Response): Promise<void> => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      res.type("text");
      for (let i = 0; i < 4; i++) {
        res.write(`${String(req.body).length};`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      res.end();
    };
    const route = shadowExpress(respond, respond, { name: named("aborts"), publish: sink, timeoutMs: 200, maxConcurrent: 4 });
    const app = express();
    app.set("env", "test");
    app.use(express.text());
    app.post("/{*rest}", route);
    running = await listen(app);
    const port = running.port;
    await fc.assert(
      fc.asyncProperty(fc.record({ chunks: fc.nat(3), finish: fc.boolean(), leaveAfterMs: fc.nat(40) }), (plan) => abortingClient(port, plan)),
      { numRuns: 25 },
    );
    await route.experiment.settled();
    const before = sink.results.length;
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`${running.url}/after`, { method: "POST", body: "abc", headers: { "content-type": "text/plain" } });
      assert.equal(await res.text(), "3;3;3;3;");
    }
    await route.experiment.settled();
    assert.equal(sink.results.length - before, 5);
    assert.ok(sink.results.slice(before).every((r) => r.matched), JSON.stringify(sink.results.slice(before).map((r) => r.mismatches[0]?.summary)));
  });
});

describe("penumbra/express: what Express gets from an old handler that throws", () => {
  let running: RunningApp[] = [];
  afterEach(async () => {
    await Promise.all(running.map((r) => r.close()));
    running = [];
    resetConfiguration();
  });

  /** An app whose route is `route`, followed by a fallback route and an error handler that both say what they got. */
  async function appWith(route: (req: Request, res: Response, next: NextFunction) => unknown): Promise<RunningApp> {
    const app = express();
    app.set("env", "test");
    app.get("/", route);
    app.get("/", (_req: Request, res: Response) => {
      res.send("fell through");
    });
    app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
      res.status(500).send(`error handler got ${error instanceof Error ? error.message : String(error)}`);
    });
    const started = await listen(app);
    running.push(started);
    return started;
  }

  for (const thrown of [undefined, null, 0, "", false, "text", new Error("broke")]) {
    it(`gives Express exactly what a synchronous throw of ${thrown instanceof Error ? "an Error" : JSON.stringify(thrown) ?? "undefined"} gives it bare`, async () => {
      configure({ onError: () => undefined });
      const old = (): void => {
        throw thrown;
      };
      const route = shadowExpress(old, (_req: Request, res: Response) => void res.send("new"), { name: named("sync-throw"), publish: collector() });
      const bare = await appWith(old);
      const shadowed = await appWith(route);
      const answer = async (app: RunningApp): Promise<string> => {
        const res = await fetch(app.url);
        return `${res.status} ${await res.text()}`;
      };
      assert.equal(await answer(shadowed), await answer(bare));
      await route.experiment.settled();
    });
  }
});

describe("penumbra/express: request data too large to copy", () => {
  let running: RunningApp[] = [];
  afterEach(async () => {
    await Promise.all(running.map((r) => r.close()));
    running = [];
    resetConfiguration();
  });

  for (const size of [10, 20_000]) {
    it(`leaves the live req and res.locals untouched, and the live response the old handler's, when they hold ${size} values and the live req / res`, async () => {
      configure({ onError: () => undefined });
      const seenLive: boolean[] = [];
      const old = (req: Request, res: Response): void => {
        const ctx = (req as unknown as { ctx: { req: Request; res: Response } }).ctx;
        const locals = res.locals as { ctx: { res: Response }; other: { back: { ctx: { res: Response } } } };
        seenLive.push(ctx.req === req, ctx.res === res, locals.ctx.res === res, locals.other.back.ctx.res === res);
        locals.ctx.res.send("old via locals");
      };
      const hostileNew = (req: Request, res: Response): void => {
        const ctx = (req as unknown as { ctx: { req: Request; res: Response } }).ctx;
        const locals = res.locals as { ctx: { res: Response }; other: { back: { ctx: { res: Response } } } };
        for (const target of [ctx.res, locals.ctx.res, locals.other.back.ctx.res]) target.socket?.write("LEAK");
        locals.other.back.ctx.res.end("leaked");
        ctx.res.end("leaked");
      };
      const build = async (route: (req: Request, res: Response, next: NextFunction) => unknown): Promise<RunningApp> => {
        const app = express();
        app.use((req: Request, res: Response, next: NextFunction) => {
          res.locals.big = new Array(size).fill(1);
          res.locals.ctx = { res };
          res.locals.other = { back: res.locals };
          Object.assign(req, { ctx: { big: new Array(size).fill(2), req, res } });
          next();
        });
        app.get("/", route);
        const started = await listen(app);
        running.push(started);
        return started;
      };
      const route = shadowExpress(old, hostileNew, { name: named(`big-locals-${size}`), publish: collector(), timeoutMs: 200 });
      const bare = await build(old);
      const shadowed = await build(route);
      const wire = async (app: RunningApp): Promise<string> => {
        const res = await fetch(app.url, { signal: AbortSignal.timeout(3000) });
        return `${res.status} ${await res.text()}`;
      };
      assert.equal(await wire(shadowed), await wire(bare));
      await route.experiment.settled();
      assert.ok(seenLive.every((live) => live), JSON.stringify(seenLive));
    });
  }
});

describe("penumbra/express: the live recorder and the stand-in see the same answer", () => {
  let running: RunningApp | undefined;
  afterEach(async () => {
    await running?.close();
    running = undefined;
    resetConfiguration();
  });

  type Step = (res: Response) => void;
  const step: fc.Arbitrary<[string, Step]> = fc.oneof(
    fc.constantFrom(200, 201, 202, 400, 404, 418, 500).map((code): [string, Step] => [`status(${code})`, (res) => void res.status(code)]),
    fc.tuple(fc.stringMatching(/^x-[a-z]{1,8}$/), fc.stringMatching(/^[a-z0-9 ]{0,12}$/)).map(([n, v]): [string, Step] => [`set(${n})`, (res) => void res.set(n, v)]),
    fc.tuple(fc.stringMatching(/^x-[a-z]{1,8}$/), fc.stringMatching(/^[a-z0-9]{0,12}$/)).map(([n, v]): [string, Step] => [`append(${n})`, (res) => void res.append(n, v)]),
    fc.tuple(fc.stringMatching(/^[a-z]{1,6}$/), fc.stringMatching(/^[a-z0-9]{0,8}$/)).map(([n, v]): [string, Step] => [`cookie(${n})`, (res) => void res.cookie(n, v)]),
    fc.constantFrom("text", "json", "html", "application/octet-stream").map((t): [string, Step] => [`type(${t})`, (res) => void res.type(t)]),
    fc.constant<[string, Step]>(["vary(accept)", (res) => void res.vary("Accept")]),
    fc.constant<[string, Step]>(["location(/x)", (res) => void res.location("/x")]),
  );
  const ending: fc.Arbitrary<[string, Step]> = fc.oneof(
    fc.jsonValue().map((v): [string, Step] => ["json", (res) => void res.json(v)]),
    fc.string({ maxLength: 40 }).map((v): [string, Step] => ["send(text)", (res) => void res.send(v)]),
    fc.uint8Array({ maxLength: 40 }).map((v): [string, Step] => ["send(buffer)", (res) => void res.send(Buffer.from(v))]),
    fc.constantFrom(200, 204, 404, 500).map((code): [string, Step] => [`sendStatus(${code})`, (res) => void res.sendStatus(code)]),
    fc.constant<[string, Step]>(["redirect", (res) => res.redirect(302, "/elsewhere")]),
    fc.array(fc.string({ maxLength: 10 }), { maxLength: 4 }).map((parts): [string, Step] => [
      "write+end",
      (res) => {
        for (const part of parts) res.write(part);
        res.end();
      },
    ]),
    fc.constant<[string, Step]>(["end()", (res) => void res.end()]),
  );

  it("compares the same generated sequence of response calls on both sides as matched", async function () {
    this.timeout(20_000);
    const sink = collector();
    let steps: Array<[string, Step]> = [];
    const answer = (_req: Request, res: Response): void => {
      for (const [, apply] of steps) apply(res);
    };
    const route = shadowExpress(answer, answer, { name: named("same-calls"), publish: sink });
    const app = express();
    app.set("env", "test");
    app.get("/", route);
    running = await listen(app);
    const url = running.url;
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 6 }), ending, async (before, end) => {
        steps = [...before, end];
        const done = sink.results.length;
        await (await fetch(url, { redirect: "manual" })).arrayBuffer();
        await route.experiment.settled();
        const result = sink.results[done];
        assert.equal(result?.matched, true, `${steps.map(([what]) => what).join(" → ")}: ${result?.mismatches[0]?.summary ?? "not published"}`);
      }),
      { numRuns: 150 },
    );
  });
});
