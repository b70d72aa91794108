/**
 * penumbra/http keeps the caller's streaming behaviour: the comparison reads the old response no faster
 * than the caller does, and the caller's cancel reaches the old body's source. Measured with counting
 * sources (bytes pulled), on a real node:http server on 127.0.0.1 with slow clients and clients that leave.
 */
import { strict as assert } from "node:assert";
import fc from "fast-check";
import { createHash } from "node:crypto";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { shadowHandler, type ComparableResponse } from "../../src/integrations/http";
import { collector, sleep } from "../support/capture";
import { bodyOf, serveFetch, slowClient, whenSteady, type RunningFetchServer } from "./http-server";

const CHUNK = 64 * 1024;

/** A pull-based body of `total` bytes in 64 KiB chunks that counts what was pulled from it. */
function countingBody(total: number): { stream: ReadableStream<Uint8Array>; pulled(): number; cancelled(): unknown } {
  let pulled = 0;
  let cancelled: unknown;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (pulled >= total) {
        controller.close();
        return;
      }
      const size = Math.min(CHUNK, total - pulled);
      const chunk = new Uint8Array(size);
      for (let i = 0; i < size; i += 4096) chunk[i] = (pulled + i) & 0xff;
      pulled += size;
      controller.enqueue(chunk);
    },
    cancel(reason) {
      cancelled = reason ?? "cancelled";
    },
  });
  return { stream, pulled: () => pulled, cancelled: () => cancelled };
}

/** An endless server-sent-events body: one event per pull, a short pause between events. */
function endlessEvents(): { stream: ReadableStream<Uint8Array>; sent(): number; cancelled(): unknown } {
  let n = 0;
  let cancelled: unknown;
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      await sleep(2);
      controller.enqueue(new TextEncoder().encode(`data: ${n++}\n\n`));
    },
    cancel(reason) {
      cancelled = reason ?? "cancelled";
    },
  });
  return { stream, sent: () => n, cancelled: () => cancelled };
}

const sse = (stream: ReadableStream<Uint8Array>): Response => new Response(stream, { headers: { "content-type": "text/event-stream" } });

/** A full garbage collection, available without starting node with --expose-gc. */
function collectGarbage(): void {
  setFlagsFromString("--expose-gc");
  (runInNewContext("gc") as () => void)();
}

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await sleep(25);
  assert.ok(condition(), `timed out waiting until ${what}`);
}

describe("penumbra/http streaming at the caller's pace", () => {
  let running: RunningFetchServer | undefined;
  afterEach(async () => {
    await running?.close();
    running = undefined;
  });

  it("hands the caller the old handler's very Response object, body unread", async () => {
    let original: Response | undefined;
    const handler = shadowHandler(
      () => (original = new Response("old body", { headers: { "content-type": "text/plain" } })),
      () => new Response("old body", { headers: { "content-type": "text/plain" } }),
      { name: "http-same-object", publish: collector() },
    );
    const res = await handler(new Request("http://local/"));
    assert.equal(res, original);
    assert.equal(res.bodyUsed, false);
    assert.equal(await res.text(), "old body");
    assert.equal(res.bodyUsed, true);
    await handler.experiment.settled();
  });

  it("pulls from the old body only as the caller reads, chunk by chunk", async () => {
    const source = countingBody(10 * CHUNK);
    const sink = collector();
    const handler = shadowHandler(
      () => new Response(source.stream),
      () => new Response(countingBody(10 * CHUNK).stream),
      { name: "http-pull-pace", publish: sink },
    );
    const res = await handler(new Request("http://local/"));
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    for (let read = 1; read <= 3; read++) {
      await reader.read();
      // Give a full-speed reader every chance to run ahead.
      for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
      // The caller read `read` chunks; the source's own queue may hold one more.
      assert.ok(source.pulled() <= (read + 1) * CHUNK, `pulled ${source.pulled() / CHUNK} chunks after the caller read ${read}`);
    }
    while (!(await reader.read()).done);
    await handler.experiment.settled();
    assert.equal(source.pulled(), 10 * CHUNK);
    assert.equal(sink.results[0]?.matched, true);
    assert.deepEqual((sink.results[0]?.control.value as ComparableResponse).body, (sink.results[0]?.candidates[0]?.value as ComparableResponse).body);
  });

  it("keeps a slow client's 48 MiB stream out of memory: bytes pulled stay what the bare handler pulls", async function () {
    this.timeout(60_000);
    const total = 48 * 1024 * 1024;
    const expected = createHash("sha256");
    const reference = countingBody(total).stream.getReader();
    for (;;) {
      const { done, value } = await reference.read();
      if (done) break;
      expected.update(value);
    }
    const digest = expected.digest("hex");

    // The bare handler behind the same server and the same slow client: what the socket buffers hold.
    let bare = countingBody(total);
    running = await serveFetch(() => new Response((bare = countingBody(total)).stream, { headers: { "content-type": "application/octet-stream" } }));
    const bareClient = slowClient(running.port, "/bare");
    await bareClient.firstBytes;
    const barePulled = await whenSteady(() => bare.pulled());
    bareClient.destroy();
    await running.close();

    let old = countingBody(total);
    const sink = collector();
    const handler = shadowHandler(
      () => new Response((old = countingBody(total)).stream, { headers: { "content-type": "application/octet-stream" } }),
      () => new Response(countingBody(total).stream, { headers: { "content-type": "application/octet-stream" } }),
      { name: "http-slow-client", publish: sink },
    );
    running = await serveFetch(handler);
    const client = slowClient(running.port, "/shadowed");
    await client.firstBytes;
    const pulled = await whenSteady(() => old.pulled());
    assert.ok(pulled < total / 4, `penumbra pulled ${(pulled / 2 ** 20).toFixed(1)} MiB of 48 for a client that stopped reading`);
    assert.ok(
      // The kernel's socket buffers decide what the bare handler pulls; a margin of 1 MiB for their autotuning.
      pulled <= barePulled + 16 * CHUNK,
      `penumbra pulled ${(pulled / 2 ** 20).toFixed(2)} MiB, the bare handler ${(barePulled / 2 ** 20).toFixed(2)} MiB`,
    );
    assert.equal(sink.results.length, 0, "nothing is compared before the caller has read the body");

    const body = bodyOf(await client.readAll());
    assert.equal(body.length, total);
    assert.equal(createHash("sha256").update(body).digest("hex"), digest);
    await handler.experiment.settled();
    const control = sink.results[0]?.control.value as ComparableResponse;
    assert.deepEqual(control.body, { length: total, sha256: digest });
    assert.equal(sink.results[0]?.matched, true);
  });

  it("passes the caller's cancel to the old body's source and publishes the compared prefix", async () => {
    const old = endlessEvents();
    const fresh = endlessEvents();
    const sink = collector();
    const handler = shadowHandler(
      () => sse(old.stream),
      () => sse(fresh.stream),
      { name: "http-cancel", publish: sink },
    );
    const res = await handler(new Request("http://local/events"));
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let read = 0;
    for (let i = 0; i < 3; i++) read += ((await reader.read()).value as Uint8Array).byteLength;
    await reader.cancel("the caller is done");
    assert.equal(old.cancelled(), "the caller is done");
    await handler.experiment.settled();
    const result = sink.results[0];
    assert.deepEqual((result?.control.value as ComparableResponse).bodyCut, { bytes: read, reason: "cancelled" });
    assert.deepEqual((result?.candidates[0]?.value as ComparableResponse).bodyCut, { bytes: read, reason: "cancelled" });
    assert.equal((result?.control.value as ComparableResponse).body, "data: 0\n\ndata: 1\n\ndata: 2\n\n");
    assert.equal(result?.matched, true);
    assert.ok(fresh.cancelled() !== undefined, "the new handler's endless body is cancelled once read as far");
  });

  it("stops the old endless stream when a real client leaves, and frees the slot for the next request", async () => {
    const sources: Array<ReturnType<typeof endlessEvents>> = [];
    const sink = collector();
    const handler = shadowHandler(
      () => {
        const events = endlessEvents();
        sources.push(events);
        return sse(events.stream);
      },
      () => sse(endlessEvents().stream),
      { name: "http-client-leaves", publish: sink, maxConcurrent: 1 },
    );
    running = await serveFetch(handler);
    for (let round = 1; round <= 2; round++) {
      const leave = new AbortController();
      const res = await fetch(`${running.url}/events`, { signal: leave.signal });
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      let text = "";
      while (!text.includes("data: 2\n\n")) text += new TextDecoder().decode((await reader.read()).value);
      leave.abort();
      const source = sources[round - 1];
      await until(() => source?.cancelled() !== undefined, "the old body's source is cancelled");
      const sent = source?.sent() ?? 0;
      await sleep(50);
      assert.ok((source?.sent() ?? 0) <= sent + 1, "the source is no longer pulled once the client left");
      await handler.experiment.settled();
      assert.equal(sink.results.length, round, `request ${round} compared`);
    }
    assert.deepEqual(sink.skips, [], "no request was skipped for want of a slot");
    for (const result of sink.results) assert.equal((result.control.value as ComparableResponse).bodyCut?.reason, "cancelled");
  });

  it("cancels a new handler's endless body when the candidate times out", async () => {
    const fresh = endlessEvents();
    const sink = collector();
    const handler = shadowHandler(
      () => new Response("done", { headers: { "content-type": "text/plain" } }),
      () => sse(fresh.stream),
      { name: "http-endless-candidate", publish: sink, timeoutMs: 100 },
    );
    const res = await handler(new Request("http://local/"));
    assert.equal(await res.text(), "done");
    await handler.experiment.settled();
    assert.equal(sink.results[0]?.candidates[0]?.timedOut, true);
    await until(() => fresh.cancelled() !== undefined, "the new handler's body is cancelled");
  });

  it("reports a body that fails midway as cut, not as the handler's error", async () => {
    let pulls = 0;
    const failing = (): Response => {
      pulls = 0;
      return new Response(
        new ReadableStream<Uint8Array>({
          pull(controller) {
            if (++pulls === 1) controller.enqueue(new TextEncoder().encode("partial"));
            else controller.error(new Error("upstream reset"));
          },
        }),
        { headers: { "content-type": "text/plain" } },
      );
    };
    const sink = collector();
    const handler = shadowHandler(failing, failing, { name: "http-body-fails", publish: sink });
    const res = await handler(new Request("http://local/"));
    await assert.rejects(res.text(), /upstream reset/);
    await handler.experiment.settled();
    const control = sink.results[0]?.control.value as ComparableResponse;
    assert.deepEqual(control.bodyCut, { bytes: 7, reason: "failed" });
    assert.equal(control.body, "partial");
    assert.equal(sink.results[0]?.matched, true);
  });

  it("cancels a served body its caller dropped unread once it is collected, and frees the run's slot", async () => {
    const old = endlessEvents();
    const sink = collector();
    const handler = shadowHandler(
      () => sse(old.stream),
      () => sse(endlessEvents().stream),
      { name: "http-dropped", publish: sink, maxConcurrent: 1 },
    );
    // The caller takes the response and never reads or cancels it.
    await (async () => {
      const res = await handler(new Request("http://local/events"));
      assert.equal(res.status, 200);
    })();
    for (let i = 0; i < 100 && old.cancelled() === undefined; i++) {
      collectGarbage();
      await sleep(20);
    }
    assert.ok(old.cancelled() !== undefined, "the dropped body's source was cancelled");
    await handler.experiment.settled();
    assert.equal(sink.results.length, 1);
    assert.deepEqual((sink.results[0]?.control.value as ComparableResponse).bodyCut, { bytes: 0, reason: "cancelled" });
    assert.equal(sink.results[0]?.matched, true);
  });

  it("keeps pace and honours cancel for any generated pattern of reads and cancels", async () => {
    const SMALL = 1024;
    const smallBody = (chunks: number) => {
      let pulled = 0;
      let cancelled = false;
      const stream = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (pulled >= chunks) return controller.close();
          controller.enqueue(new Uint8Array(SMALL).fill(pulled++));
        },
        cancel() {
          cancelled = true;
        },
      });
      return { stream, pulled: () => pulled, cancelled: () => cancelled };
    };
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 12 }), fc.integer({ min: 0, max: 14 }), fc.boolean(), async (total, reads, cancel) => {
        const old = smallBody(total);
        const sink = collector();
        const handler = shadowHandler(
          () => new Response(old.stream),
          () => new Response(smallBody(total).stream),
          { name: "http-generated-reads", publish: sink },
        );
        const res = await handler(new Request("http://local/"));
        const reader = (res.body as ReadableStream<Uint8Array>).getReader();
        let got = 0;
        let done = false;
        for (let i = 0; i < reads && !done; i++) {
          const step = await reader.read();
          done = step.done;
          got += step.value?.byteLength ?? 0;
          for (let j = 0; j < 5; j++) await new Promise((resolve) => setImmediate(resolve));
          assert.ok(old.pulled() * SMALL <= got + 2 * SMALL, `pulled ${old.pulled()} chunks, the caller has ${got / SMALL}`);
        }
        if (cancel && !done) {
          await reader.cancel("enough");
          // A source that already closed has nothing to cancel, with or without penumbra.
          assert.ok(old.cancelled() || old.pulled() === total, "the caller's cancel reached the source");
        } else {
          while (!done) {
            const step = await reader.read();
            done = step.done;
            got += step.value?.byteLength ?? 0;
          }
        }
        await handler.experiment.settled();
        const control = sink.results[0]?.control.value as ComparableResponse;
        const candidate = sink.results[0]?.candidates[0]?.value as ComparableResponse;
        if (cancel && !done) assert.deepEqual(control.bodyCut, { bytes: got, reason: "cancelled" });
        else assert.equal(control.bodyCut, undefined);
        assert.deepEqual(candidate.bodyCut, control.bodyCut);
        assert.equal(sink.results[0]?.matched, true);
      }),
      { numRuns: 60 },
    );
  });

  it("leaves a frozen response exactly as it was and compares it without its body", async () => {
    const sink = collector();
    const handler = shadowHandler(
      () => Object.freeze(new Response("frozen", { headers: { "content-type": "text/plain" } })),
      () => new Response("frozen", { headers: { "content-type": "text/plain" } }),
      { name: "http-frozen", publish: sink },
    );
    const res = await handler(new Request("http://local/"));
    assert.equal(await res.text(), "frozen");
    await handler.experiment.settled();
    assert.deepEqual((sink.results[0]?.control.value as ComparableResponse).body, { unreadable: "the body could not be observed without changing the response (used, locked, frozen, or its body methods overridden)" });
  });

});

describe("penumbra/http streaming in sequential mode", () => {
  it("serves the body before the comparison in sequential mode, so a caller that reads it is not deadlocked", async () => {
    const sink = collector();
    const handler = shadowHandler(
      () => new Response(countingBody(4 * CHUNK).stream),
      () => new Response(countingBody(4 * CHUNK).stream),
      { name: "http-sequential-stream", publish: sink, mode: "sequential" },
    );
    for (let i = 0; i < 4; i++) {
      const res = await handler(new Request("http://local/"));
      assert.equal((await res.arrayBuffer()).byteLength, 4 * CHUNK);
    }
    // settled() does not yet count a sequential run whose caller already has its answer (an engine
    // gap, reported): wait for the results themselves.
    await until(() => sink.results.length === 4, "every sequential run is published");
    await handler.experiment.settled();
    assert.equal(sink.results.length, 4);
    assert.ok(sink.results.every((r) => r.matched));
  });

});
