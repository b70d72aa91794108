/**
 * penumbra/express in a real Express 5 app on 127.0.0.1, called with `fetch` and with a raw socket:
 * the client gets exactly what the old handler sends, the new handler's stand-in response never
 * reaches the wire, and differences are published by path.
 */
import { strict as assert } from "node:assert";
import * as net from "node:net";
import express, { type NextFunction, type Request, type Response } from "express";
import { shadowExpress, shadowHandler } from "../../src/integrations/express";
import type { ComparableResponse } from "../../src/integrations/http";
import { collector, sleep } from "../support/capture";
import { listen, listenWithErrorHandler, type RunningApp as Running } from "./express-support";

/** The raw bytes of one HTTP/1.1 exchange, read until the server closes the connection. */
function rawGet(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1", () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
    });
    const chunks: Buffer[] = [];
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("end", () => resolve(Buffer.concat(chunks).toString("latin1")));
    socket.on("error", reject);
  });
}

function headersWithoutDate(res: globalThis.Response): Record<string, string> {
  const out: Record<string, string> = {};
  res.headers.forEach((value, name) => {
    if (name !== "date" && name !== "keep-alive" && name !== "connection") out[name] = value;
  });
  return out;
}

function oldGetOrder(req: Request, res: Response): void {
  res.set("x-request-id", "live-id").json({ id: req.params.id, total: 49.9, currency: "EUR" });
}

async function newGetOrder(req: Request, res: Response): Promise<void> {
  await sleep(1);
  res.set("x-request-id", "shadow-id").json({ id: req.params.id, total: 51.4, currency: "EUR" });
}

describe("penumbra/express shadowExpress", () => {
  let running: Running | undefined;
  afterEach(async () => {
    await running?.close();
    running = undefined;
  });

  it("sends the client exactly what the old handler sends on its own and publishes a JSON field difference by path", async () => {
    const sink = collector();
    const route = shadowExpress(oldGetOrder, newGetOrder, { name: "express-order", publish: sink });
    const app = express();
    app.get("/plain/orders/:id", oldGetOrder);
    app.get("/shadow/orders/:id", route);
    running = await listen(app);

    const plain = await fetch(`${running.url}/plain/orders/7`);
    const shadowed = await fetch(`${running.url}/shadow/orders/7`);
    assert.equal(shadowed.status, plain.status);
    assert.deepEqual(headersWithoutDate(shadowed), headersWithoutDate(plain));
    assert.equal(await shadowed.text(), await plain.text());

    await route.experiment.settled();
    assert.equal(sink.results.length, 1);
    const result = sink.results[0];
    const diffs = result?.mismatches[0]?.diffs.filter((d) => d.noise !== true).map((d) => d.path) ?? [];
    assert.ok(diffs.includes("body.total"), `diffs: ${diffs.join(", ")}`);
    assert.match(result?.mismatches[0]?.summary ?? "", /body\.total=49\.9 vs 51\.4/);
    assert.ok(
      result?.noise.some((d) => d.path === 'headers["x-request-id"]'),
      "the differing x-request-id is published as noise",
    );
    assert.deepEqual(result?.context, { method: "GET", path: "/shadow/orders/7" });
  });

  it("never lets the new handler's response reach the socket", async () => {
    const sink = collector();
    const route = shadowExpress(
      (_req: Request, res: Response) => {
        res.type("text").send("from old");
      },
      (_req: Request, res: Response) => {
        res.status(418).set("x-from-new", "yes");
        res.write("from new, ");
        res.end("still new");
      },
      { name: "express-no-leak", publish: sink },
    );
    const app = express();
    app.get("/", route);
    running = await listen(app);

    const wire = await rawGet(running.port, "/");
    await route.experiment.settled();
    assert.match(wire, /^HTTP\/1\.1 200 OK\r\n/);
    assert.ok(wire.endsWith("\r\n\r\nfrom old"), wire);
    assert.doesNotMatch(wire, /418|x-from-new|from new|still new/i);

    // The new handler did run and answered its stand-in.
    const candidate = sink.results[0]?.candidates[0]?.value as ComparableResponse;
    assert.equal(candidate.status, 418);
    assert.equal(candidate.headers["x-from-new"], "yes");
    assert.equal(candidate.body, "from new, still new");
    assert.equal(sink.results[0]?.mismatches[0]?.kind, "status");
  });

  it("counts a response that only differs in noise headers as matched", async () => {
    const sink = collector();
    const answer = (id: string) => (_req: Request, res: Response) => {
      res.set("x-request-id", id).json({ ok: true });
    };
    const route = shadowExpress(answer("a-1"), answer("b-2"), { name: "express-noise", publish: sink });
    const app = express();
    app.get("/", route);
    running = await listen(app);
    assert.deepEqual(await (await fetch(running.url)).json(), { ok: true });
    await route.experiment.settled();
    assert.equal(sink.results[0]?.matched, true);
  });

  it("compares responses written in chunks and delivers every chunk to the client", async () => {
    const sink = collector();
    const streamed = (parts: string[]) => async (_req: Request, res: Response) => {
      res.type("text/plain");
      for (const part of parts) {
        res.write(part);
        await sleep(2);
      }
      res.end();
    };
    const route = shadowExpress(streamed(["alpha ", "beta ", "gamma"]), streamed(["alpha beta ", "delta"]), {
      name: "express-stream",
      publish: sink,
    });
    const app = express();
    app.get("/", route);
    running = await listen(app);
    assert.equal(await (await fetch(running.url)).text(), "alpha beta gamma");
    await route.experiment.settled();
    const control = sink.results[0]?.control.value as ComparableResponse;
    assert.equal(control.body, "alpha beta gamma");
    assert.match(sink.results[0]?.mismatches[0]?.summary ?? "", /^body="alpha beta gamma" vs "alpha beta delta"$/);
  });

  it("gives the new handler its own copy of a parsed JSON body", async () => {
    const sink = collector();
    let liveReq: Request | undefined;
    const route = shadowExpress(
      (req: Request, res: Response) => {
        liveReq = req;
        const order = req.body as { qty: number; price: number };
        res.json({ total: order.qty * order.price });
      },
      (req: Request, res: Response) => {
        const order = req.body as { qty: number; price: number };
        order.qty += 1; // a mutation that must stay in the shadow
        res.json({ total: order.qty * order.price });
      },
      { name: "express-post", publish: sink },
    );
    const app = express();
    app.post("/orders", express.json(), route);
    running = await listen(app);
    const res = await fetch(`${running.url}/orders`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ qty: 3, price: 5 }),
    });
    assert.deepEqual(await res.json(), { total: 15 });
    await route.experiment.settled();
    // The new handler read the body and changed its copy; the live request's body is as parsed.
    assert.deepEqual(liveReq?.body, { qty: 3, price: 5 });
    const diffs = sink.results[0]?.mismatches[0]?.diffs.filter((d) => d.noise !== true) ?? [];
    assert.deepEqual(
      diffs.filter((d) => d.path.startsWith("body")).map((d) => [d.path, d.control, d.candidate]),
      [["body.total", 15, 20]],
    );
  });

  it("reports an old handler that passes the request on with next() against a new one that answers", async () => {
    const sink = collector();
    const route = shadowExpress(
      (_req: Request, _res: Response, next: NextFunction) => next(),
      (_req: Request, res: Response) => {
        res.status(200).json({ found: true });
      },
      { name: "express-next", publish: sink },
    );
    const app = express();
    app.get("/items/:id", route);
    app.use((_req: Request, res: Response) => {
      res.status(404).send("fallback");
    });
    running = await listen(app);
    const res = await fetch(`${running.url}/items/1`);
    assert.equal(res.status, 404);
    assert.equal(await res.text(), "fallback");
    await route.experiment.settled();
    const mismatch = sink.results[0]?.mismatches[0];
    assert.equal(mismatch?.kind, "status");
    assert.equal((sink.results[0]?.control.value as ComparableResponse).next, "next()");
    assert.match(mismatch?.summary ?? "", /status="next" vs 200/);
  });

  it("hands the old handler's error to Express's error handler unchanged", async () => {
    const boom = new Error("old route broke");
    const route = shadowExpress(
      () => {
        throw boom;
      },
      (_req: Request, res: Response) => {
        res.send("new");
      },
      { name: "express-error", publish: collector() },
    );
    const served = await listenWithErrorHandler(route);
    running = served;
    const res = await fetch(running.url);
    assert.equal(res.status, 500);
    assert.equal(await res.text(), "handled");
    await route.experiment.settled();
    assert.equal(served.handled(), boom);
  });

  it("rejects options.isolate when the handler is built", () => {
    assert.throws(
      () => shadowExpress(oldGetOrder, newGetOrder, { isolate: false } as never),
      (error: unknown) => error instanceof TypeError && /isolate/.test(error.message),
    );
  });
});

describe("penumbra/express shadowHandler", () => {
  it("is the same function as shadowExpress, under the name penumbra/http uses", () => {
    assert.equal(shadowHandler, shadowExpress);
  });
});
