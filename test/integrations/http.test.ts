/**
 * penumbra/http behind a real `http.createServer` on 127.0.0.1, called with `fetch`: the caller's
 * response is the old handler's, byte for byte, and the new handler's response is compared by status,
 * headers and body.
 */
import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import { Scorecard } from "../../src/index";
import { shadowHandler, type ComparableResponse } from "../../src/integrations/http";
import { collector, sleep } from "../support/capture";
import { serveFetch as serve, type RunningFetchServer as Running } from "./http-server";

function mismatchPaths(sink: ReturnType<typeof collector>): string[] {
  return sink.results.flatMap((r) => r.mismatches.flatMap((m) => m.diffs.filter((d) => d.noise !== true).map((d) => d.path)));
}

describe("penumbra/http shadowHandler", () => {
  let running: Running | undefined;
  afterEach(async () => {
    await running?.close();
    running = undefined;
  });

  it("gives the caller the old handler's body intact and reports a JSON field difference by path", async () => {
    const sink = collector();
    const handler = shadowHandler(
      (_req: Request) => Response.json({ total: 1, currency: "EUR" }),
      (_req: Request) => Response.json({ total: 2, currency: "EUR" }),
      { name: "http-json", publish: sink },
    );
    running = await serve(handler);
    const res = await fetch(`${running.url}/orders/7`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { total: 1, currency: "EUR" });
    await handler.experiment.settled();
    assert.equal(sink.results.length, 1);
    const [mismatch] = sink.results[0]?.mismatches ?? [];
    assert.equal(mismatch?.kind, "value");
    assert.deepEqual(mismatchPaths(sink), ["body.total"]);
    assert.match(mismatch?.summary ?? "", /body\.total=1 vs 2/);
  });

  it("reports a status difference as kind status and ranks status:200->500 first on a Scorecard", async () => {
    const scorecard = new Scorecard();
    const sink = collector();
    let calls = 0;
    const handler = shadowHandler(
      (_req: Request) => Response.json({ ok: true }),
      // Every run differs by status; only one of three also differs in the body.
      (_req: Request) => Response.json({ ok: ++calls !== 2 }, { status: 500 }),
      { name: "http-status", publish: [scorecard, sink] },
    );
    running = await serve(handler);
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${running.url}/health`);
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { ok: true });
    }
    await handler.experiment.settled();
    assert.deepEqual(
      sink.results.map((r) => r.mismatches[0]?.kind),
      ["status", "status", "status"],
    );
    const summary = scorecard.summary("http-status");
    assert.equal(summary?.reasons[0]?.reason, "status:200->500");
    assert.equal(summary?.reasons[0]?.count, 3);
    assert.equal(summary?.statusMatchRate, 0);
  });

  it("treats different date and x-request-id values as noise, not as a mismatch", async () => {
    const sink = collector();
    const stamped = (id: string, date: string) => () =>
      new Response("same body", { headers: { date, "x-request-id": id, "content-type": "text/plain" } });
    const handler = shadowHandler(stamped("req-a", "Tue, 01 Jul 2025 10:00:00 GMT"), stamped("req-b", "Tue, 01 Jul 2025 10:00:01 GMT"), {
      name: "http-noise",
      publish: sink,
    });
    running = await serve(handler);
    const res = await fetch(`${running.url}/`);
    assert.equal(res.headers.get("x-request-id"), "req-a");
    assert.equal(await res.text(), "same body");
    await handler.experiment.settled();
    const result = sink.results[0];
    assert.equal(result?.matched, true);
    assert.deepEqual(result?.noise.map((d) => d.path).sort(), ["headers.date", 'headers["x-request-id"]']);
  });

  it("still reports a noise header that only one side sends", async () => {
    const sink = collector();
    const handler = shadowHandler(
      () => new Response("hi", { headers: { "set-cookie": "sid=1" } }),
      () => new Response("hi"),
      { name: "http-missing-cookie", publish: sink },
    );
    running = await serve(handler);
    await (await fetch(running.url)).text();
    await handler.experiment.settled();
    assert.equal(sink.results[0]?.mismatched, true);
    assert.deepEqual(mismatchPaths(sink), ['headers["set-cookie"]']);
  });

  it("compares a streamed body chunk by chunk while the caller streams the old one", async () => {
    const sink = collector();
    const chunks = ['{"items":[', "1,2,", "3]", "}"];
    const streamed = () =>
      new Response(
        new ReadableStream<Uint8Array>({
          async start(controller) {
            for (const chunk of chunks) {
              controller.enqueue(new TextEncoder().encode(chunk));
              await sleep(5);
            }
            controller.close();
          },
        }),
        { headers: { "content-type": "application/json" } },
      );
    const handler = shadowHandler(streamed, () => Response.json({ items: [1, 2, 4] }), { name: "http-stream", publish: sink });
    running = await serve(handler);
    const res = await fetch(`${running.url}/items`);
    assert.deepEqual(await res.json(), { items: [1, 2, 3] });
    await handler.experiment.settled();
    assert.deepEqual(mismatchPaths(sink), ["body.items[2]"]);
  });

  it("compares bodies over maxBodyBytes by length and hash and still serves the whole body", async () => {
    const sink = collector();
    const big = "a".repeat(64 * 1024);
    const changed = `${big.slice(0, -1)}b`;
    const handler = shadowHandler(
      () => new Response(big, { headers: { "content-type": "text/plain" } }),
      () => new Response(changed, { headers: { "content-type": "text/plain" } }),
      { name: "http-big", publish: sink, maxBodyBytes: 1024 },
    );
    running = await serve(handler);
    const body = await (await fetch(`${running.url}/big`)).text();
    assert.equal(body.length, big.length);
    assert.equal(body, big);
    await handler.experiment.settled();
    const control = sink.results[0]?.control.value as ComparableResponse;
    assert.deepEqual(control.body, { length: big.length, sha256: createHash("sha256").update(big).digest("hex") });
    assert.deepEqual(mismatchPaths(sink), ["body.sha256"]);
  });

  it("compares binary bodies by length and hash", async () => {
    const sink = collector();
    const bytes = (n: number) => () => new Response(new Uint8Array([0xff, 0xfe, n]), { headers: { "content-type": "image/png" } });
    const handler = shadowHandler(bytes(1), bytes(2), { name: "http-binary", publish: sink });
    running = await serve(handler);
    const got = new Uint8Array(await (await fetch(running.url)).arrayBuffer());
    assert.deepEqual([...got], [0xff, 0xfe, 1]);
    await handler.experiment.settled();
    const candidate = sink.results[0]?.candidates[0]?.value as ComparableResponse;
    assert.equal((candidate.body as { length: number }).length, 3);
    assert.deepEqual(mismatchPaths(sink), ["body.sha256"]);
  });

  it("lets both handlers read a POSTed JSON body", async () => {
    const sink = collector();
    const seenByNew: unknown[] = [];
    const handler = shadowHandler(
      async (req: Request) => {
        const order = (await req.json()) as { qty: number; price: number };
        return Response.json({ total: order.qty * order.price });
      },
      async (req: Request) => {
        const order = (await req.json()) as { qty: number; price: number };
        seenByNew.push(order);
        return Response.json({ total: order.qty * order.price });
      },
      { name: "http-post", publish: sink },
    );
    running = await serve(handler);
    const res = await fetch(`${running.url}/orders`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-request-id": "r-42" },
      body: JSON.stringify({ qty: 3, price: 5 }),
    });
    assert.deepEqual(await res.json(), { total: 15 });
    await handler.experiment.settled();
    assert.deepEqual(seenByNew, [{ qty: 3, price: 5 }]);
    assert.equal(sink.results[0]?.matched, true);
    assert.deepEqual(sink.results[0]?.context, { method: "POST", path: "/orders", requestId: "r-42" });
  });

  it("never lets the new handler's failure reach the caller", async () => {
    const sink = collector();
    const handler = shadowHandler(
      () => new Response("fine"),
      (): Response => {
        throw new Error("new code broke");
      },
      { name: "http-candidate-throws", publish: sink },
    );
    running = await serve(handler);
    const res = await fetch(running.url);
    assert.equal(await res.text(), "fine");
    await handler.experiment.settled();
    assert.equal(sink.results[0]?.mismatches[0]?.kind, "error");
  });

  it("passes the old handler's error to the caller unchanged", async () => {
    const boom = new Error("old code broke");
    const handler = shadowHandler(
      (): Response => {
        throw boom;
      },
      () => new Response("new"),
      { name: "http-control-throws", publish: collector() },
    );
    await assert.rejects(handler(new Request("http://local/")), (error) => error === boom);
    await handler.experiment.settled();
  });

  it("serves without reading anything when the experiment is disabled", async () => {
    const sink = collector();
    let newCalls = 0;
    const handler = shadowHandler(
      () => new Response("old"),
      () => {
        newCalls++;
        return new Response("new");
      },
      { name: "http-disabled", publish: sink, enabled: false },
    );
    running = await serve(handler);
    assert.equal(await (await fetch(running.url)).text(), "old");
    await handler.experiment.settled();
    assert.equal(newCalls, 0);
    assert.equal(sink.results.length, 0);
  });

  it("serves the new handler's own Response when promote sends the call to it", async () => {
    const sink = collector();
    const handler = shadowHandler(
      () => Response.json({ version: 1 }),
      () => Response.json({ version: 2 }),
      { name: "http-promote", publish: sink, promote: 1 },
    );
    running = await serve(handler);
    assert.deepEqual(await (await fetch(running.url)).json(), { version: 2 });
    await handler.experiment.settled();
    assert.equal(sink.results[0]?.servedBy, "candidate");
    assert.deepEqual((sink.results[0]?.control.value as ComparableResponse).body, { version: 1 });
  });

  it("rejects a maxBodyBytes that is not a non-negative integer when the handler is built", () => {
    assert.throws(
      () => shadowHandler(() => new Response(""), () => new Response(""), { maxBodyBytes: -1 }),
      (error: unknown) => error instanceof TypeError && /maxBodyBytes/.test(error.message),
    );
  });
});
