/**
 * penumbra/express settles each side when its response has ended, not when its handler returns, and
 * compares a handler that passes the request on with `next` as that same outcome on both sides. A real
 * Express 5 app on 127.0.0.1.
 */
import { strict as assert } from "node:assert";
import { EventEmitter } from "node:events";
import express, { type NextFunction, type Request, type Response } from "express";
import { flush } from "../../src/index";
import { shadowExpress } from "../../src/integrations/express";
import type { ComparableResponse } from "../../src/integrations/http";
import { collector, errorSink, sleep } from "../support/capture";
import { listen, listenWithErrorHandler, within, type RunningApp } from "./express-support";

/** A promise the test opens when it is done: "something slow" the handlers await after answering. */
function slowThing(): { wait: Promise<void>; release(): void } {
  let release!: () => void;
  const wait = new Promise<void>((resolve) => (release = resolve));
  return { wait, release };
}

describe("penumbra/express: a side settles when its response ends", () => {
  let running: RunningApp | undefined;
  let slow = slowThing();
  afterEach(async () => {
    slow.release();
    slow = slowThing();
    await running?.close();
    running = undefined;
  });

  it("compares 5 answered requests while the handlers still await something slow, and flush() resolves", async () => {
    const sink = collector();
    let newFinished = 0;
    const route = shadowExpress(
      async (req: Request, res: Response) => {
        res.json({ id: req.params.id, total: 10 });
        await slow.wait;
      },
      async (req: Request, res: Response) => {
        res.json({ id: req.params.id, total: 10 });
        await slow.wait;
        newFinished++;
      },
      { name: "express-answer-then-wait", publish: sink, maxConcurrent: 1 },
    );
    const app = express();
    app.get("/orders/:id", route);
    running = await listen(app);
    for (let i = 1; i <= 5; i++) {
      const res = await fetch(`${running.url}/orders/${i}`);
      assert.deepEqual(await res.json(), { id: String(i), total: 10 });
      await within(route.experiment.settled(), 8000, `settled() after request ${i}`);
    }
    await within(flush(), 8000, "flush()");
    assert.equal(sink.results.length, 5);
    assert.deepEqual(sink.skips, [], "no request was skipped: each run gave its slot back when the responses ended");
    assert.ok(sink.results.every((r) => r.matched));
    assert.equal(newFinished, 0, "the handlers were still waiting when their runs were compared");
  });

  it("settles a handler that answers later from a callback, after it returned", async () => {
    const sink = collector();
    const later = (total: number) => (_req: Request, res: Response) => {
      setTimeout(() => res.json({ total }), 5);
    };
    const route = shadowExpress(later(1), later(2), { name: "express-answer-later", publish: sink });
    const app = express();
    app.get("/", route);
    running = await listen(app);
    assert.deepEqual(await (await fetch(running.url)).json(), { total: 1 });
    await route.experiment.settled();
    assert.match(sink.results[0]?.mismatches[0]?.summary ?? "", /body\.total=1 vs 2/);
  });

  it("gives Express the old handler's own rejection when it rejects before answering, and compares it as an error", async () => {
    const sink = collector();
    const boom = new Error("lookup failed");
    const route = shadowExpress(
      async () => {
        await sleep(1);
        throw boom;
      },
      async () => {
        await sleep(1);
        throw new Error("lookup failed");
      },
      { name: "express-reject-first", publish: sink },
    );
    const served = await listenWithErrorHandler(route);
    running = served;
    const res = await fetch(running.url);
    assert.equal(res.status, 500);
    assert.equal(await res.text(), "handled");
    await route.experiment.settled();
    assert.equal(served.handled(), boom);
    assert.equal(sink.results[0]?.control.error, boom);
    assert.equal(sink.results[0]?.matched, true);
  });

  it("keeps the answer as the outcome when a handler rejects after answering", async () => {
    const sink = collector();
    const answerThenFail = async (_req: Request, res: Response) => {
      res.json({ ok: true });
      await sleep(1);
      throw new Error("audit log failed");
    };
    const route = shadowExpress(answerThenFail, answerThenFail, { name: "express-reject-after", publish: sink });
    const app = express();
    app.get("/", route);
    app.use((_error: unknown, _req: Request, _res: Response, next: NextFunction) => next());
    running = await listen(app);
    assert.deepEqual(await (await fetch(running.url)).json(), { ok: true });
    await route.experiment.settled();
    assert.equal(sink.results[0]?.control.threw, false);
    assert.deepEqual((sink.results[0]?.control.value as ComparableResponse).body, { ok: true });
    assert.equal(sink.results[0]?.matched, true);
  });
});

describe("penumbra/express: next() is the same outcome on both sides", () => {
  let running: RunningApp | undefined;
  afterEach(async () => {
    await running?.close();
    running = undefined;
  });

  const passOn = {
    "next()": (_req: Request, _res: Response, next: NextFunction) => next(),
    'next("route")': (_req: Request, _res: Response, next: NextFunction) => next("route"),
    "next(err)": (_req: Request, _res: Response, next: NextFunction) => next(new TypeError("not here")),
    "a header, then next()": (_req: Request, res: Response, next: NextFunction) => {
      res.set("x-checked", "yes");
      next();
    },
  };

  for (const [how, handler] of Object.entries(passOn)) {
    it(`does not mismatch a handler that calls ${how} against itself`, async () => {
      const sink = collector();
      const route = shadowExpress(handler, handler, { name: `express-self-${how}`, publish: sink });
      const app = express();
      app.use((_req: Request, res: Response, next: NextFunction) => {
        res.set("x-middleware", "before");
        next();
      });
      app.get("/item", route, (_req: Request, res: Response) => {
        res.send("rest of the route");
      });
      app.get("/item", (_req: Request, res: Response) => {
        res.send("next route");
      });
      app.use((error: Error, _req: Request, res: Response, _next: NextFunction) => {
        res.status(500).send(`error handler: ${error.message}`);
      });
      running = await listen(app);
      const res = await fetch(`${running.url}/item`);
      const expected = how === 'next("route")' ? "next route" : how === "next(err)" ? "error handler: not here" : "rest of the route";
      assert.equal(await res.text(), expected);
      await route.experiment.settled();
      const result = sink.results[0];
      assert.equal(result?.matched, true, result?.mismatches.map((m) => m.summary).join("; "));
      const control = result?.control.value as ComparableResponse;
      assert.ok(control.next?.startsWith("next("), `control.next = ${String(control.next)}`);
      assert.equal(control.headers["x-powered-by"], "Express");
      assert.equal(control.headers["x-middleware"], "before");
    });
  }

  it("explains next(err) with a different error as a difference in next", async () => {
    const sink = collector();
    const route = shadowExpress(
      (_req: Request, _res: Response, next: NextFunction) => next(new Error("out of stock")),
      (_req: Request, _res: Response, next: NextFunction) => next(new Error("no such item")),
      { name: "express-next-differs", publish: sink },
    );
    const app = express();
    app.get("/", route);
    app.use((error: Error, _req: Request, res: Response, _next: NextFunction) => {
      res.status(409).send(error.message);
    });
    running = await listen(app);
    assert.equal(await (await fetch(running.url)).text(), "out of stock");
    await route.experiment.settled();
    assert.match(sink.results[0]?.mismatches[0]?.summary ?? "", /next="next\(Error: out of stock\)" vs "next\(Error: no such item\)"/);
  });

  it("passes a hostile next(err) on unchanged and describes it without trusting it", async () => {
    const sink = collector();
    class Hostile extends Error {
      override get message(): string {
        throw new Error("message getter");
      }
      override get name(): string {
        throw new Error("name getter");
      }
    }
    const hostile = new Hostile();
    const route = shadowExpress(
      (_req: Request, _res: Response, next: NextFunction) => next(hostile),
      (_req: Request, _res: Response, next: NextFunction) => next(new Hostile()),
      { name: "express-next-hostile", publish: sink },
    );
    const served = await listenWithErrorHandler(route);
    running = served;
    assert.equal(await (await fetch(running.url)).text(), "handled");
    await route.experiment.settled();
    assert.equal(served.handled(), hostile);
    assert.equal((sink.results[0]?.control.value as ComparableResponse).next, "next(<an argument that cannot be described>)");
    assert.equal(sink.results[0]?.matched, true);
  });
});

describe("penumbra/express: an endless response whose client leaves", () => {
  let running: RunningApp | undefined;
  afterEach(async () => {
    await running?.close();
    running = undefined;
  });

  it("settles when the client leaves, compares the same prefix on both sides, closes the stand-in and frees the slot", async () => {
    const sink = collector();
    let stopped = 0;
    const events = (_req: Request, res: Response) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      let n = 0;
      const timer = setInterval(() => res.write(`data: ${n++}\n\n`), 3);
      res.on("close", () => {
        clearInterval(timer);
        stopped++;
      });
    };
    const route = shadowExpress(events, events, { name: "express-endless", publish: sink, maxConcurrent: 1 });
    const app = express();
    app.get("/events", route);
    running = await listen(app);
    for (let round = 1; round <= 2; round++) {
      const leave = new AbortController();
      const res = await fetch(`${running.url}/events`, { signal: leave.signal });
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      let text = "";
      while (!text.includes("data: 2\n\n")) text += new TextDecoder().decode((await reader.read()).value);
      leave.abort();
      await within(route.experiment.settled(), 8000, `settled() after client ${round} left`);
      assert.equal(sink.results.length, round);
    }
    assert.deepEqual(sink.skips, []);
    assert.equal(stopped, 4, "both handlers saw their response close, twice");
    for (const result of sink.results) {
      const control = result.control.value as ComparableResponse;
      const candidate = result.candidates[0]?.value as ComparableResponse;
      assert.equal(control.bodyCut?.reason, "cancelled");
      assert.deepEqual(candidate.bodyCut, control.bodyCut);
      assert.match(String(control.body), /^data: 0\n\ndata: 1\n\n/);
      assert.equal(result.matched, true, result.mismatches.map((m) => m.summary).join("; "));
    }
  });

  it("closes the stand-in of a new handler that streams forever when the candidate times out", async () => {
    const sink = collector();
    let newStopped = false;
    const route = shadowExpress(
      (_req: Request, res: Response) => {
        res.type("text").send("done");
      },
      (_req: Request, res: Response) => {
        const timer = setInterval(() => res.write("more "), 3);
        res.on("close", () => {
          clearInterval(timer);
          newStopped = true;
        });
      },
      { name: "express-endless-candidate", publish: sink, timeoutMs: 100 },
    );
    const app = express();
    app.get("/", route);
    running = await listen(app);
    assert.equal(await (await fetch(running.url)).text(), "done");
    await route.experiment.settled();
    assert.equal(sink.results[0]?.candidates[0]?.timedOut, true);
    for (let i = 0; i < 100 && !newStopped; i++) await sleep(10);
    assert.equal(newStopped, true);
  });
});

describe("penumbra/express: promotion and sequential mode", () => {
  let running: RunningApp | undefined;
  afterEach(async () => {
    await running?.close();
    running = undefined;
  });

  const answer = (version: number) => async (_req: Request, res: Response) => {
    await sleep(1);
    res.json({ version });
  };

  it("lets a promoted new handler answer on the live response while the old one answers its stand-in", async () => {
    const sink = collector();
    const route = shadowExpress(answer(1), answer(2), { name: "express-promote", publish: sink, promote: 1 });
    const app = express();
    app.get("/", route);
    running = await listen(app);
    assert.deepEqual(await (await fetch(running.url)).json(), { version: 2 });
    await route.experiment.settled();
    assert.equal(sink.results[0]?.servedBy, "candidate");
    assert.deepEqual((sink.results[0]?.control.value as ComparableResponse).body, { version: 1 });
    assert.match(sink.results[0]?.mismatches[0]?.summary ?? "", /body\.version=1 vs 2/);
  });

  it("answers and compares in sequential mode, whichever side runs first", async () => {
    const sink = collector();
    const route = shadowExpress(answer(1), answer(1), { name: "express-sequential", publish: sink, mode: "sequential" });
    const runs: Array<Promise<void>> = [];
    const app = express();
    // In sequential mode the handler's promise settles once the run is published.
    app.get("/", (req: Request, res: Response, next: NextFunction) => void runs.push(route(req, res, next)));
    running = await listen(app);
    for (let i = 0; i < 6; i++) assert.deepEqual(await (await fetch(running.url)).json(), { version: 1 });
    await Promise.all(runs);
    assert.equal(sink.results.length, 6);
    assert.ok(sink.results.every((r) => r.matched));
  });
});

describe("penumbra/express: calls that are not compared", () => {
  it("runs the old handler bare when the experiment is disabled, and never the new one", async () => {
    const sink = collector();
    let newCalls = 0;
    const route = shadowExpress(
      (_req: Request, res: Response) => {
        res.json({ old: true });
      },
      () => {
        newCalls++;
      },
      { name: "express-disabled", publish: sink, enabled: false },
    );
    const app = express();
    app.get("/", route);
    const running = await listen(app);
    try {
      assert.deepEqual(await (await fetch(running.url)).json(), { old: true });
    } finally {
      await running.close();
    }
    await route.experiment.settled();
    assert.equal(newCalls, 0);
    assert.equal(sink.results.length, 0);
  });

  it("does not throw at a caller that calls the handler without next, on plain mock objects", async () => {
    const sink = collector();
    const errors = errorSink();
    const route = shadowExpress(
      async (req: Request) => `old ${req.method}`,
      async (req: Request) => `new ${req.method}`,
      { name: "express-no-next", publish: sink, onError: errors.onError, timeoutMs: 50 },
    );
    const fakeRes = Object.assign(new EventEmitter(), { statusCode: 200, getHeaders: () => ({}) });
    const returned = route({ method: "GET", url: "/", headers: {} } as never, fakeRes as never, undefined as never);
    assert.ok(returned instanceof Promise);
    await returned;
    fakeRes.emit("close");
    await route.experiment.settled();
    assert.deepEqual(errors.errors.map((e) => `${e.operation}: ${String(e.cause)}`), []);
    assert.equal(sink.results.length, 1);
  });
});
