/**
 * penumbra/http against hostile handlers and clients: whatever the old handler returns reaches the
 * caller as the bare handler would give it, and nothing the new handler does reaches the caller.
 */
import { strict as assert } from "node:assert";
import * as http from "node:http";
import * as net from "node:net";
import fc from "fast-check";
import { configure, MismatchError } from "../../src/index";
import { shadowExpress } from "../../src/integrations/express";
import { shadowHandler, type ComparableResponse } from "../../src/integrations/http";
import { collector, errorSink, resetConfiguration } from "../support/capture";
import { serveFetch, type RunningFetchServer } from "./http-server";

let experiments = 0;
/** A fresh experiment name per handler, so no two tests' results mix. */
const named = (what: string): string => `http-hostile-${what}-${++experiments}`;

/** What a caller ends up with: the value, or the error, and the body text or the body's error. */
async function outcome(call: () => Promise<unknown> | unknown): Promise<{ threw: boolean; value: unknown; text?: string; bodyError?: unknown }> {
  let value: unknown;
  try {
    value = await call();
  } catch (error) {
    return { threw: true, value: error };
  }
  if (!(value instanceof Response)) return { threw: false, value };
  try {
    return { threw: false, value, text: await value.text() };
  } catch (error) {
    return { threw: false, value, bodyError: error };
  }
}

describe("penumbra/http: the old handler's Response reaches the caller as the bare handler gives it", () => {
  afterEach(resetConfiguration);

  it("keeps a Response subclass's own json() override working, and compares it without its body", async () => {
    class Enveloped extends Response {}
    // A method on the subclass's prototype, as `override async json()` compiles to.
    Object.defineProperty(Enveloped.prototype, "json", {
      value: async function (this: Response): Promise<unknown> {
        return { data: (await Response.prototype.json.call(this)) as unknown };
      },
      writable: true,
      configurable: true,
    });
    const make = (): Response => new Enveloped('{"total":1}', { headers: { "content-type": "application/json" } });
    const bare = await make().json();
    const sink = collector();
    const handler = shadowHandler(make, () => Response.json({ total: 1 }), { name: named("subclass"), publish: sink });
    const res = await handler(new Request("http://local/"));
    assert.ok(res instanceof Enveloped);
    assert.deepEqual(await res.json(), bare);
    await handler.experiment.settled();
    const control = sink.results[0]?.control.value as ComparableResponse;
    assert.equal(control.status, 200);
    assert.match(String((control.body as { unreadable?: string }).unreadable), /body methods overridden/);
  });

  it("still compares the body of a Response subclass that only adds members", async () => {
    class WithCookies extends Response {
      get cookieNames(): string[] {
        return this.headers.getSetCookie().map((c) => c.split("=")[0] ?? "");
      }
    }
    const sink = collector();
    const handler = shadowHandler(
      () => new WithCookies('{"total":1}', { headers: { "content-type": "application/json", "set-cookie": "sid=1" } }),
      () => Response.json({ total: 2 }, { headers: { "set-cookie": "sid=2" } }),
      { name: named("adds-members"), publish: sink },
    );
    const res = (await handler(new Request("http://local/"))) as WithCookies;
    assert.deepEqual(res.cookieNames, ["sid"]);
    assert.deepEqual(await res.json(), { total: 1 });
    await handler.experiment.settled();
    assert.match(sink.results[0]?.mismatches[0]?.summary ?? "", /body\.total=1 vs 2/);
  });

  it("keeps a body method the old handler patched onto its Response", async () => {
    const make = (): Response => {
      const res = new Response("raw");
      Object.assign(res, { text: async () => "patched" });
      return res;
    };
    const handler = shadowHandler(make, () => new Response("raw"), { name: named("patched"), publish: collector() });
    const res = await handler(new Request("http://local/"));
    assert.equal(await res.text(), "patched");
    await handler.experiment.settled();
  });

  it("hands the caller the very value the old handler returned, however hostile, and never throws instead", async () => {
    const hostile: Array<[string, () => unknown]> = [
      ["a Proxy whose getPrototypeOf throws", () => new Proxy(new Response("x"), { getPrototypeOf: () => { throw new Error("trap"); } })],
      ["a Proxy whose every trap throws", () => new Proxy({}, { get: () => { throw new Error("get"); }, getPrototypeOf: () => { throw new Error("proto"); }, has: () => { throw new Error("has"); } })],
      [
        "a Response whose headers getter throws",
        () => {
          const res = new Response("x");
          Object.defineProperty(res, "headers", { get: () => { throw new Error("headers"); } });
          return res;
        },
      ],
      [
        "a Response whose status getter throws",
        () => {
          const res = new Response("x");
          Object.defineProperty(res, "status", { get: () => { throw new Error("status"); } });
          return res;
        },
      ],
      ["a revoked Proxy", () => { const p = Proxy.revocable({}, {}); p.revoke(); return p.proxy; }],
      ["null", () => null],
      ["a string", () => "not a response"],
      ["a plain object", () => ({ status: 200, body: "x" })],
    ];
    for (const [what, make] of hostile) {
      const value = make();
      const sink = collector();
      const handler = shadowHandler((() => value) as unknown as (req: Request) => Response, () => new Response("x"), { name: named("hostile-value"), publish: sink });
      // What a caller that awaits the bare handler gets (awaiting reads `then`: a trap may throw there).
      const bare = await outcome(async () => ({ v: (await (async () => make())()) as unknown }));
      const got = await outcome(async () => ({ v: (await handler(new Request("http://local/"))) as unknown }));
      assert.equal(got.threw, bare.threw, `${what}: ${got.threw ? "the caller got an error instead" : "the caller got no error"}`);
      if (got.threw) {
        assert.equal(String((got.value as Error).message), String((bare.value as Error).message), what);
        continue;
      }
      assert.equal((got.value as { v: unknown }).v, value, what);
      await handler.experiment.settled();
      assert.equal(sink.results.length, 1, what);
      assert.equal(sink.results[0]?.control.threw, true, what);
    }
  });

  it("gives the caller the same object, the same bytes or the same error as the bare old handler, for generated bodies", async () => {
    const shape = fc.record({
      chunks: fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 6 }),
      failAfter: fc.option(fc.nat(6), { nil: undefined }),
      status: fc.constantFrom(200, 201, 204, 304, 404, 500),
      spoil: fc.constantFrom("none", "locked", "read"),
      readWith: fc.constantFrom("text", "arrayBuffer", "bytes", "reader", "byob", "clone"),
      byteStream: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(shape, async ({ chunks, failAfter, status, spoil, readWith, byteStream }) => {
        const nullBody = status === 204 || status === 304;
        const failure = new Error("body broke");
        const make = async (): Promise<Response> => {
          let i = 0;
          const pull = (controller: { enqueue(chunk: Uint8Array): void; close(): void; error(e: unknown): void; byobRequest?: { respond(n: number): void } | null }): void => {
            if (failAfter !== undefined && i === failAfter) controller.error(failure);
            else if (i === chunks.length) {
              controller.close();
              controller.byobRequest?.respond(0);
            } else if (byteStream && (chunks[i] as Uint8Array).byteLength === 0) controller.enqueue(new Uint8Array([0x2d]));
            else controller.enqueue((chunks[i] as Uint8Array).slice());
            i++;
          };
          const stream: ReadableStream<Uint8Array> = byteStream ? new ReadableStream({ type: "bytes", pull }) : new ReadableStream<Uint8Array>({ pull });
          const res = new Response(nullBody ? null : stream, { status });
          if (spoil === "locked") res.body?.getReader();
          if (spoil === "read") await res.arrayBuffer().catch(() => undefined);
          return res;
        };
        const read = async (res: Response): Promise<unknown> => {
          try {
            if (readWith === "text") return await res.text();
            if (readWith === "arrayBuffer") return Buffer.from(await res.arrayBuffer()).toString("hex");
            if (readWith === "bytes") return Buffer.from(await (res as Response & { bytes(): Promise<Uint8Array> }).bytes()).toString("hex");
            if (readWith === "clone") return await res.clone().text();
            if (res.body === null) return null;
            if (readWith === "byob") {
              const byob = res.body.getReader({ mode: "byob" });
              const seen: string[] = [];
              for (;;) {
                const { done, value } = await byob.read(new Uint8Array(7));
                if (done) return seen;
                seen.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("hex"));
              }
            }
            const reader = res.body.getReader();
            const seen: string[] = [];
            for (;;) {
              const { done, value } = await reader.read();
              if (done) return seen;
              seen.push(Buffer.from(value).toString("hex"));
            }
          } catch (error) {
            // A caller that could not read the body lets it go, as it would drop a bare one.
            if (res.body !== null && !res.body.locked) await res.body.cancel().catch(() => undefined);
            return error === failure ? "the body's own error" : `${(error as Error).name}: ${(error as Error).message.split(". Received")[0] ?? ""}`;
          }
        };
        const bare = await read(await make());
        let served: Response | undefined;
        const wrapped = shadowHandler(
          async () => {
            served = await make();
            return served;
          },
          make,
          { name: named("bodies"), publish: collector() },
        );
        const res = await wrapped(new Request("http://local/"));
        assert.equal(res, served);
        assert.deepEqual(await read(res), bare);
        await wrapped.experiment.settled();
      }),
      { numRuns: 150 },
    );
  });

  it("keeps the served body a byte stream when the old one was, so a BYOB reader reads it as it reads the bare body", async () => {
    const sources: Array<[string, () => Response]> = [
      ["a string body", () => new Response("hello, byte reader")],
      ["a fetch-style byte stream", () => new Response(new ReadableStream({ type: "bytes", pull: (c) => { c.enqueue(new TextEncoder().encode("abc")); c.close(); } }))],
      ["a JSON body", () => Response.json({ total: 1, items: [1, 2, 3] })],
    ];
    const readByob = async (res: Response): Promise<string> => {
      const reader = (res.body as ReadableStream<Uint8Array>).getReader({ mode: "byob" });
      let text = "";
      for (;;) {
        const { done, value } = await reader.read(new Uint8Array(5));
        if (done) return text;
        text += Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("latin1");
      }
    };
    for (const [what, make] of sources) {
      const sink = collector();
      const handler = shadowHandler(make, make, { name: named("byob"), publish: sink });
      const res = await handler(new Request("http://local/"));
      assert.equal(await readByob(res), await readByob(make()), what);
      await handler.experiment.settled();
      assert.equal(sink.results[0]?.matched, true, what);
    }
  });

  it("adopts an old handler's thenable once, as a caller awaiting the bare handler does, and serves the Response it resolves to", async () => {
    for (const outcomeOf of ["resolves", "rejects"] as const) {
      const served = new Response("from a thenable");
      const broke = new Error("thenable broke");
      let thenCalls = 0;
      const thenable = {
        then(resolve: (value: unknown) => void, reject: (reason: unknown) => void): void {
          thenCalls++;
          if (outcomeOf === "resolves") resolve(served);
          else reject(broke);
        },
      };
      const sink = collector();
      const handler = shadowHandler((() => thenable) as unknown as (req: Request) => Promise<Response>, async () => new Response("from a thenable"), {
        name: named("thenable"),
        publish: sink,
      });
      const got = await outcome(() => handler(new Request("http://local/")));
      assert.equal(thenCalls, 1, outcomeOf);
      if (outcomeOf === "resolves") {
        assert.equal(got.value, served);
        assert.equal(got.text, "from a thenable");
      } else {
        assert.equal(got.threw, true);
        assert.equal(got.value, broke);
      }
      await handler.experiment.settled();
      assert.equal(sink.results[0]?.matched, outcomeOf === "resolves", outcomeOf);
    }
  });

  it("still watches a plain Response through two nested shadowed handlers, body intact", async () => {
    const sink = collector();
    const inner = shadowHandler(() => new Response("nested body"), () => new Response("nested body"), { name: named("inner"), publish: sink });
    const outer = shadowHandler((req: Request) => inner(req), async () => new Response("nested body"), { name: named("outer"), publish: sink });
    const res = await outer(new Request("http://local/"));
    assert.equal(await res.text(), "nested body");
    await Promise.all([inner.experiment.settled(), outer.experiment.settled()]);
    assert.equal(sink.results.length, 2);
    assert.ok(sink.results.every((r) => r.matched), JSON.stringify(sink.results.map((r) => r.mismatches)));
  });
});

/** A body whose every read resolves at once: read in a loop, it never lets a timer run. */
const eagerBodies: Array<[string, () => Response]> = [
  ["an endless body of 64 KiB chunks", () => new Response(new ReadableStream<Uint8Array>({ pull: (c) => c.enqueue(new Uint8Array(64 * 1024)) }))],
  ["an endless body of empty chunks", () => new Response(new ReadableStream<Uint8Array>({ pull: (c) => c.enqueue(new Uint8Array(0)) }))],
  [
    "a body getter whose reader yields strings forever",
    () => {
      const res = new Response("x");
      const reader = { read: async () => ({ done: false, value: "not bytes" }), cancel: async () => undefined, releaseLock: () => undefined };
      Object.defineProperty(res, "body", { get: () => ({ getReader: () => reader }) });
      return res;
    },
  ],
];

describe("penumbra/http: an old handler that proxies fetch()", () => {
  let upstream: http.Server | undefined;
  afterEach(async () => {
    upstream?.closeAllConnections();
    await new Promise<void>((resolve) => (upstream === undefined ? resolve() : upstream.close(() => resolve())));
    upstream = undefined;
  });

  it("hands the caller a fetched, redirected Response whose url, type and redirected survive clone(), as on the bare one", async () => {
    upstream = http.createServer((req, res) => {
      if (req.url === "/moved") res.writeHead(302, { location: "/final" }).end();
      else res.writeHead(200, { "content-type": "text/plain", "set-cookie": ["a=1", "b=2"] }).end(`upstream ${req.url ?? ""}`);
    });
    await new Promise<void>((resolve) => upstream?.listen(0, "127.0.0.1", resolve));
    const base = `http://127.0.0.1:${(upstream.address() as net.AddressInfo).port}`;
    const proxy = (): Promise<Response> => fetch(`${base}/moved`);
    const describeResponse = async (res: Response): Promise<unknown> => {
      const copy = res.clone();
      const copyOfCopy = copy.clone();
      return {
        own: [res.url, res.type, res.redirected, res.status, res.headers.getSetCookie()],
        copy: [copy.url, copy.type, copy.redirected, copy.status],
        copyOfCopy: [copyOfCopy.url, copyOfCopy.type, copyOfCopy.redirected],
        bodies: [await res.text(), await copy.text(), await copyOfCopy.text()],
      };
    };
    const sink = collector();
    const handler = shadowHandler(proxy, proxy, { name: named("proxy"), publish: sink });
    assert.deepEqual(await describeResponse(await handler(new Request("http://local/"))), await describeResponse(await proxy()));
    await handler.experiment.settled();
    assert.equal(sink.results[0]?.matched, true);
  });
});

describe("penumbra/http: a new handler's body that never ends cannot stall the process", () => {
  afterEach(resetConfiguration);

  for (const [what, make] of eagerBodies) {
    it(`keeps timers running and times the candidate out on ${what}`, async function () {
      this.timeout(10_000);
      const errors = errorSink();
      configure({ onError: errors.onError });
      const sink = collector();
      const handler = shadowHandler(() => new Response("old body"), make, { name: named("eager"), publish: sink, timeoutMs: 150 });
      const res = await handler(new Request("http://local/"));
      assert.equal(await res.text(), "old body");
      let ticks = 0;
      const ticker = setInterval(() => ticks++, 20);
      const started = Date.now();
      try {
        await handler.experiment.settled();
      } finally {
        clearInterval(ticker);
      }
      assert.ok(Date.now() - started < 3000, `settled after ${Date.now() - started} ms`);
      assert.ok(ticks >= 3, `a 20 ms interval ran ${ticks} times while the body was read`);
      assert.equal(sink.results.length, 1);
      assert.equal(sink.results[0]?.candidates[0]?.timedOut, true);
    });
  }
});

describe("penumbra/http: promote", () => {
  afterEach(resetConfiguration);

  it("lets the old handler serve, reported as a promote error, whatever a hostile predicate does", async () => {
    const hostile = fc.oneof(
      fc.anything().filter((v) => typeof v !== "boolean").map((v) => () => v),
      fc.anything().map((v) => () => {
        throw v;
      }),
      fc.constant(() => Promise.resolve(true)),
      fc.constant(() => new Proxy({}, { get: () => { throw new Error("trap"); } })),
    );
    await fc.assert(
      fc.asyncProperty(hostile, async (predicate) => {
        const errors = errorSink();
        configure({ onError: errors.onError });
        const handler = shadowHandler(() => new Response("old"), () => new Response("new"), {
          name: named("predicate"),
          publish: collector(),
          promote: predicate as (req: Request) => boolean,
        });
        const res = await handler(new Request("http://local/"));
        assert.equal(await res.text(), "old");
        await handler.experiment.settled();
        assert.deepEqual(errors.errors.map((e) => e.operation), ["promote"]);
      }),
      { numRuns: 60 },
    );
  });

  it("gives the caller a promoted new handler's own error, the same object, and publishes it against the old handler's answer", async () => {
    for (const thrown of [new Error("new handler broke"), undefined, 0, "text"]) {
      const sink = collector();
      const handler = shadowHandler(
        async () => Response.json({ total: 1 }),
        async () => {
          throw thrown;
        },
        { name: named("promoted-throws"), publish: sink, promote: 1 },
      );
      const got = await outcome(() => handler(new Request("http://local/")));
      assert.equal(got.threw, true);
      assert.equal(got.value, thrown);
      await handler.experiment.settled();
      const result = sink.results[0];
      assert.equal(result?.servedBy, "candidate");
      assert.equal(result?.candidates[0]?.threw, true);
      assert.deepEqual((result?.control.value as ComparableResponse).body, { total: 1 });
      assert.equal(result?.mismatches[0]?.kind, "error");
    }
  });

  it("rolls a failing promotion back once the mismatch-rate guardrail trips: the callers get the new handler's errors, then the old answers", async () => {
    configure({ onError: () => undefined });
    const handler = shadowHandler(
      async () => new Response("old"),
      async () => {
        throw new Error("new handler broke");
      },
      { name: named("promoted-trips"), publish: collector(), promote: 1, guardrails: { maxMismatchRate: 0.1, minRuns: 5 } },
    );
    const answers: string[] = [];
    for (let i = 0; i < 8; i++) {
      const got = await outcome(() => handler(new Request("http://local/")));
      answers.push(got.threw ? String((got.value as Error).message) : (got.text ?? ""));
      await handler.experiment.settled();
    }
    assert.deepEqual(answers, [...Array<string>(5).fill("new handler broke"), "old", "old", "old"]);
    assert.equal(handler.experiment.enabled, false);
  });

  it("serves a call already promoted to its end when the flag turns off mid-request, and the next call from the old handler", async () => {
    let flag = true;
    const sink = collector();
    const handler = shadowHandler(
      async () => new Response("old"),
      async () => {
        flag = false;
        await new Promise((resolve) => setTimeout(resolve, 10));
        return new Response("new");
      },
      { name: named("flag-off"), publish: sink, promote: 1, enabled: () => flag },
    );
    assert.equal(await (await handler(new Request("http://local/"))).text(), "new");
    assert.equal(await (await handler(new Request("http://local/"))).text(), "old");
    await handler.experiment.settled();
    assert.deepEqual(
      sink.results.map((r) => r.servedBy),
      ["candidate"],
    );
  });
});

/** Sends a chunked POST that stalls after `sent` chunks, waits `leaveAfterMs`, then destroys the socket; the bytes received. */
function abortingClient(port: number, plan: { chunks: number; finish: boolean; leaveAfterMs: number }): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1", () => {
      socket.write("POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n");
      for (let i = 0; i < plan.chunks; i++) socket.write(`5\r\nchunk\r\n`);
      if (plan.finish) socket.write("0\r\n\r\n");
      setTimeout(() => socket.destroy(), plan.leaveAfterMs);
    });
    let received = "";
    socket.on("data", (chunk: Buffer) => (received += chunk.toString("latin1")));
    socket.on("error", () => undefined);
    socket.on("close", () => resolve(received));
  });
}

describe("penumbra/http: clients that abort at every stage", () => {
  let running: RunningFetchServer | undefined;
  afterEach(async () => {
    await running?.close();
    running = undefined;
    resetConfiguration();
  });

  it("settles every run, frees every slot and keeps serving whenever a client with a stalled or finished upload leaves", async function () {
    this.timeout(20_000);
    configure({ onError: () => undefined });
    const sink = collector();
    const respond = async (req: Request): Promise<Response> => {
      const body = await req.text();
      let sent = 0;
      return new Response(
        new ReadableStream<Uint8Array>({
          async pull(controller) {
            await new Promise((resolve) => setTimeout(resolve, 5));
            if (sent++ === 4) controller.close();
            else controller.enqueue(new TextEncoder().encode(`${body.length};`));
          },
        }),
        { headers: { "content-type": "text/plain" } },
      );
    };
    const handler = shadowHandler(respond, respond, { name: named("aborts"), publish: sink, timeoutMs: 200, maxConcurrent: 4 });
    running = await serveFetch(handler);
    const port = running.port;
    await fc.assert(
      fc.asyncProperty(fc.record({ chunks: fc.nat(3), finish: fc.boolean(), leaveAfterMs: fc.nat(40) }), async (plan) => {
        await abortingClient(port, plan);
      }),
      { numRuns: 25 },
    );
    await handler.experiment.settled();
    // Every slot is free again: the next requests are all compared, and answered as the bare handler answers.
    const before = sink.results.length;
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`${running.url}/after`, { method: "POST", body: "abc" });
      assert.equal(await res.text(), "3;3;3;3;");
    }
    await handler.experiment.settled();
    assert.equal(sink.results.length - before, 5);
    assert.ok(sink.results.slice(before).every((r) => r.matched));
  });
});

describe("penumbra/http: bodies that are not what their content type says", () => {
  afterEach(resetConfiguration);

  /** Publishes the comparison of two responses and returns the result. */
  async function compared(oldResponse: () => Response, newResponse: () => Response, options: { maxBodyBytes?: number } = {}) {
    const sink = collector();
    const handler = shadowHandler(oldResponse, newResponse, { name: named("body"), publish: sink, ...options });
    await (await handler(new Request("http://local/"))).arrayBuffer();
    await handler.experiment.settled();
    assert.equal(sink.results.length, 1);
    return sink.results[0] as NonNullable<(typeof sink.results)[0]>;
  }

  it("never calls two different byte sequences equal, whatever the content types claim", async () => {
    const contentType = fc.constantFrom("text/plain", "application/json", "text/html; charset=utf-8", "application/problem+json", "image/png", undefined);
    await fc.assert(
      fc.asyncProperty(contentType, fc.uint8Array({ maxLength: 24 }), fc.uint8Array({ maxLength: 24 }), async (type, a, b) => {
        fc.pre(Buffer.compare(Buffer.from(a), Buffer.from(b)) !== 0);
        const headers: Record<string, string> = type === undefined ? {} : { "content-type": type };
        const result = await compared(() => new Response(a, { headers }), () => new Response(b, { headers }));
        assert.equal(result.matched, false, `${JSON.stringify([...a])} and ${JSON.stringify([...b])} as ${String(type)} compared equal`);
        assert.match(result.mismatches[0]?.summary ?? "", /^body/);
      }),
      { numRuns: 200 },
    );
  });

  it("compares multipart bodies without their random boundaries: the same form matches, a changed field is shown", async () => {
    const form = (fields: Record<string, string>) => (): Response => {
      const data = new FormData();
      for (const [name, value] of Object.entries(fields)) data.append(name, value);
      return new Response(data);
    };
    const same = await compared(form({ a: "1", b: "two" }), form({ a: "1", b: "two" }));
    assert.equal(same.matched, true, same.mismatches[0]?.summary);
    const changed = await compared(form({ a: "1", b: "two" }), form({ a: "1", b: "three" }));
    assert.equal(changed.mismatched, true);
    assert.deepEqual(changed.mismatches[0]?.diffs.filter((d) => d.noise !== true).map((d) => d.path), ["body"]);
    const diff = changed.mismatches[0]?.diffs.find((d) => d.path === "body");
    assert.match(String(diff?.control), /name="b"\r\n\r\ntwo\r\n--<boundary>--/);
    assert.match(String(diff?.candidate), /name="b"\r\n\r\nthree\r\n--<boundary>--/);
  });

  it("decodes a text body in its declared charset", async () => {
    const headers = { "content-type": "text/plain; charset=iso-8859-1" };
    const result = await compared(() => new Response(new Uint8Array([0x63, 0x61, 0x66, 0xe9]), { headers }), () => new Response("cafe", { headers }));
    assert.equal(result.mismatches[0]?.summary, 'body="café" vs "cafe"');
  });

  it("explains invalid UTF-8 in a text or JSON body by length and hash instead of comparing replacement characters", async () => {
    for (const type of ["text/plain", "application/json"]) {
      const headers = { "content-type": type };
      const result = await compared(() => new Response(new Uint8Array([0x22, 0xff, 0x22]), { headers }), () => new Response(new Uint8Array([0x22, 0xfe, 0x22]), { headers }));
      assert.equal(result.mismatched, true, type);
      assert.match(result.mismatches[0]?.summary ?? "", /^body\.sha256=/, type);
    }
  });
});

describe("penumbra/http: hostile requests", () => {
  afterEach(resetConfiguration);

  it("hands the old handler the caller's own Request when its body was already read or locked, bare-identical", async () => {
    const errors = errorSink();
    configure({ onError: errors.onError });
    const spoil: Array<[string, (req: Request) => Promise<unknown> | unknown]> = [
      ["read", (req) => req.text()],
      ["locked", (req) => req.body?.getReader()],
    ];
    const newSaw: Array<[string, boolean]> = [];
    for (const [how, prepare] of spoil) {
      let seen: Request | undefined;
      const sink = collector();
      const handler = shadowHandler(
        async (req: Request) => {
          seen = req;
          return new Response(`used=${String(req.bodyUsed)}`);
        },
        async (req: Request) => {
          newSaw.push([how, req === seen]);
          return new Response(`used=${String(req.bodyUsed)}`);
        },
        { name: named(`spoiled-${how}`), publish: sink },
      );
      const req = new Request("http://local/", { method: "POST", body: "payload" });
      await prepare(req);
      const bare = `used=${String(req.bodyUsed)}`;
      assert.equal(await (await handler(req)).text(), bare);
      await handler.experiment.settled();
      assert.equal(seen, req);
      if (how === "read") assert.equal(sink.results[0]?.candidates[0]?.isolated, false);
    }
    // A read body has nothing left to copy: the Request is shared (isolated: false). A locked one
    // cannot be cloned: an isolate error, and the new handler does not run.
    assert.deepEqual(newSaw, [["read", true]]);
    assert.deepEqual(errors.errors.map((e) => e.operation), ["isolate"]);
  });

  it("lets both handlers see an upload that fails midway fail with its own error, and answers with the old handler's Response", async () => {
    const broke = new Error("upload broke");
    const upload = (): Request =>
      new Request("http://local/", {
        method: "POST",
        body: new ReadableStream<Uint8Array>({
          pull(controller) {
            controller.enqueue(new TextEncoder().encode("part"));
            controller.error(broke);
          },
        }),
        duplex: "half",
      } as RequestInit);
    const saw: string[] = [];
    const read = (who: string) => async (req: Request): Promise<Response> => {
      try {
        await req.text();
        saw.push(`${who} read it all`);
      } catch (error) {
        saw.push(`${who} got ${error === broke ? "the upload's own error" : String(error)}`);
      }
      return new Response(`${who} answered`);
    };
    const handler = shadowHandler(read("old"), read("new"), { name: named("failed-upload"), publish: collector() });
    assert.equal(await (await handler(upload())).text(), "old answered");
    await handler.experiment.settled();
    assert.deepEqual(saw, ["old got the upload's own error", "new got the upload's own error"]);
  });

  it("gives both handlers the same method, headers and body for generated requests, and the caller the old answer", async () => {
    const name = fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/);
    const value = fc.oneof(fc.stringMatching(/^[!-~]{0,30}$/), fc.nat(8000).map((n) => "v".repeat(n)));
    const request = fc.record({
      method: fc.constantFrom("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "PURGE", "propfind", "X-CUSTOM"),
      headers: fc.array(fc.tuple(name, value), { maxLength: 60 }),
      body: fc.oneof(fc.constant(undefined), fc.string({ maxLength: 100 }), fc.uint8Array({ maxLength: 3000 })),
    });
    await fc.assert(
      fc.asyncProperty(request, async ({ method, headers, body }) => {
        const init: RequestInit = { method, headers: new Headers(headers) };
        const withBody = body !== undefined && method !== "GET";
        if (withBody) init.body = body;
        const echo = async (req: Request): Promise<Response> =>
          Response.json({ method: req.method, headers: [...req.headers], body: withBody ? Buffer.from(await req.arrayBuffer()).toString("base64") : null });
        const sink = collector();
        const handler = shadowHandler(echo, echo, { name: named("echo"), publish: sink });
        const bare = await (await echo(new Request("http://local/", init))).text();
        assert.equal(await (await handler(new Request("http://local/", init))).text(), bare);
        await handler.experiment.settled();
        assert.equal(sink.results[0]?.matched, true, sink.results[0]?.mismatches[0]?.summary);
      }),
      { numRuns: 60 },
    );
  });
});

describe("penumbra/http and penumbra/express: invalid comparison options", () => {
  const builds = (option: string, value: unknown, express: boolean) => (): unknown =>
    express
      ? shadowExpress(() => undefined, () => undefined, { [option]: value })
      : shadowHandler(() => new Response(), () => new Response(), { [option]: value });
  const namesOption = (option: string) => (error: unknown) => error instanceof TypeError && error.message.includes(option);

  it("throw a TypeError naming the option when the handler is built, for any generated value", () => {
    const notNames = fc.anything().filter((v) => !(Array.isArray(v) && v.every((n) => typeof n === "string")) && v !== undefined && v !== null);
    fc.assert(
      fc.property(notNames, fc.constantFrom("noiseHeaders", "maxBodyBytes"), fc.boolean(), (value, option, express) => {
        fc.pre(option === "noiseHeaders" || !(typeof value === "number" && Number.isInteger(value) && value >= 0));
        assert.throws(builds(option, value, express), namesOption(option));
      }),
      { numRuns: 200 },
    );
  });

  it("throw a TypeError naming the option, not the trap's error, for Proxies whose traps throw", () => {
    const proxies = [
      new Proxy([], { get: () => { throw new Error("trap"); } }),
      new Proxy(["date"], { get: (t, k) => (k === "length" ? (() => { throw new Error("length"); })() : Reflect.get(t, k)) }),
      new Proxy({}, { getPrototypeOf: () => { throw new Error("proto"); }, get: () => { throw new Error("get"); } }),
    ];
    for (const value of proxies) {
      for (const option of ["noiseHeaders", "maxBodyBytes"]) {
        for (const express of [false, true]) assert.throws(builds(option, value, express), namesOption(option));
      }
    }
  });

  it("shows a string given for maxBodyBytes as a string", () => {
    assert.throws(
      () => shadowHandler(() => new Response(), () => new Response(), { maxBodyBytes: "5" as unknown as number }),
      (error: unknown) => error instanceof TypeError && error.message.includes(`'5'`),
    );
  });
});

describe("penumbra/http: sequential mode with throwOnMismatch", () => {
  afterEach(resetConfiguration);

  it("reports the MismatchError it cannot throw at a caller that already has its response, as a sequential error", async () => {
    const errors = errorSink();
    configure({ onError: errors.onError });
    const sink = collector();
    const handler = shadowHandler(async () => Response.json({ total: 1 }), async () => Response.json({ total: 2 }), {
      name: named("sequential-mismatch"),
      publish: sink,
      mode: "sequential",
      throwOnMismatch: true,
    });
    assert.deepEqual(await (await handler(new Request("http://local/"))).json(), { total: 1 });
    for (let i = 0; i < 100 && sink.results.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    await new Promise((resolve) => setTimeout(resolve, 10));
    await handler.experiment.settled();
    assert.equal(sink.results[0]?.mismatched, true);
    assert.deepEqual(errors.errors.map((e) => e.operation), ["sequential"]);
    assert.ok(errors.errors[0]?.cause instanceof MismatchError);
    assert.match(errors.errors[0]?.message ?? "", /body\.total=1 vs 2/);
  });

  it("owes that error to settled() in strict mode", async () => {
    const errors = errorSink();
    configure({ onError: errors.onError, strict: true });
    const sink = collector();
    const handler = shadowHandler(async () => Response.json({ total: 1 }), async () => Response.json({ total: 2 }), {
      name: named("sequential-strict"),
      publish: sink,
      mode: "sequential",
      throwOnMismatch: true,
    });
    assert.deepEqual(await (await handler(new Request("http://local/"))).json(), { total: 1 });
    for (let i = 0; i < 100 && errors.errors.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    await assert.rejects(handler.experiment.settled(), (error: unknown) => (error as { operation?: string }).operation === "sequential");
  });

  it("reports nothing for a sequential run that matched", async () => {
    const errors = errorSink();
    configure({ onError: errors.onError });
    const sink = collector();
    const handler = shadowHandler(async () => Response.json({ total: 1 }), async () => Response.json({ total: 1 }), {
      name: named("sequential-match"),
      publish: sink,
      mode: "sequential",
      throwOnMismatch: true,
    });
    await (await handler(new Request("http://local/"))).json();
    for (let i = 0; i < 100 && sink.results.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    await handler.experiment.settled();
    assert.equal(sink.results[0]?.matched, true);
    assert.deepEqual(errors.errors, []);
  });
});

/** A node:http server that calls a fetch handler with `{ incoming, outgoing }`, as @hono/node-server does. */
async function serveWithBindings(handler: (req: Request, env: Bindings) => Promise<Response>): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((incoming, outgoing) => {
    void (async () => {
      const res = await handler(new Request(`http://127.0.0.1${incoming.url ?? "/"}`, { method: incoming.method }), { incoming, outgoing, socket: incoming.socket });
      const text = await res.text();
      outgoing.writeHead(res.status, { "content-type": "text/plain", "content-length": Buffer.byteLength(text) }).end(text);
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

interface Bindings {
  incoming: http.IncomingMessage;
  outgoing: http.ServerResponse;
  socket: net.Socket;
}

describe("penumbra/http: extra arguments that carry the live connection", () => {
  afterEach(resetConfiguration);

  it("gives the new handler inert stand-ins for the server's incoming, outgoing and socket: nothing it writes reaches the client", async function () {
    this.timeout(10_000);
    configure({ onError: () => undefined });
    const seen: string[] = [];
    const old = async (req: Request, env: Bindings): Promise<Response> => new Response(`old ${req.method} ${env.incoming.url ?? ""}`);
    const hostile = async (req: Request, env: Bindings): Promise<Response> => {
      seen.push(`${env.incoming.method ?? ""} ${env.incoming.url ?? ""} ${env.incoming.headers.host ?? ""} ${env.socket.remoteAddress ?? ""}`);
      env.socket.write("HTTP/1.1 418 I'm a teapot\r\n\r\n");
      env.incoming.socket.write("INJECTED");
      env.outgoing.writeHead(500, { "x-shadow": "1" });
      env.outgoing.end("shadow body");
      env.outgoing.socket?.write("MORE");
      env.incoming.destroy();
      env.socket.destroy();
      return new Response(`new ${req.method}`);
    };
    const bare = await serveWithBindings(old);
    const shadowed = shadowHandler(old, hostile, { name: named("bindings"), publish: collector() });
    const withPenumbra = await serveWithBindings(shadowed);
    const requests = ["/a", "/b", "/c"].map((path, i, all) => `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: ${i === all.length - 1 ? "close" : "keep-alive"}\r\n\r\n`);
    const exchange = (port: number): Promise<string> =>
      new Promise((resolve, reject) => {
        const socket = net.connect(port, "127.0.0.1");
        let received = "";
        let sent = 0;
        socket.on("data", (chunk: Buffer) => {
          received += chunk.toString("latin1");
          // One request at a time, after the previous response (its head is complete) and its shadow run.
          if (received.split("\r\n\r\n").length - 1 === sent && sent < requests.length) {
            const next = requests[sent++] ?? "";
            setTimeout(() => socket.write(next), 30);
          }
        });
        socket.on("error", reject);
        socket.on("close", () => resolve(received.replace(/^date: .*$/gim, "date: <date>")));
        socket.write(requests[sent++] ?? "");
      });
    try {
      assert.equal(await exchange(withPenumbra.port), await exchange(bare.port));
      await shadowed.experiment.settled();
      assert.deepEqual(seen, ["GET /a 127.0.0.1 127.0.0.1", "GET /b 127.0.0.1 127.0.0.1", "GET /c 127.0.0.1 127.0.0.1"]);
    } finally {
      await Promise.all([bare.close(), withPenumbra.close()]);
    }
  });

  it("leaves the caller's own argument objects untouched", async () => {
    const socket = new net.Socket();
    const env = { nested: { socket }, list: [socket], plain: 1 };
    let got: typeof env | undefined;
    const handler = shadowHandler(
      async (_req: Request, _env: typeof env) => new Response("old"),
      async (_req: Request, e: typeof env) => {
        got = e;
        return new Response("new");
      },
      { name: named("untouched"), publish: collector(), isolate: false },
    );
    await (await handler(new Request("http://local/"), env)).text();
    await handler.experiment.settled();
    assert.equal(env.nested.socket, socket);
    assert.equal(env.list[0], socket);
    assert.notEqual(got?.nested.socket, socket);
    assert.notEqual(got?.list[0], socket);
    assert.equal(got?.plain, 1);
    socket.destroy();
  });
});

/** What `new Response()` takes as a body (the DOM's `BodyInit`, not in Node's lib types). */
type ResponseBody = ConstructorParameters<typeof Response>[0];

describe("penumbra/http: the same answer on both sides", () => {
  it("compares the same generated Response from both handlers as matched", async () => {
    const body = fc.oneof(
      fc.constant<[string, () => ResponseBody]>(["null", () => null]),
      fc.string({ maxLength: 60 }).map((v): [string, () => ResponseBody] => ["text", () => v]),
      fc.uint8Array({ maxLength: 60 }).map((v): [string, () => ResponseBody] => ["bytes", () => v.slice()]),
      fc.jsonValue().map((v): [string, () => ResponseBody] => ["json", () => JSON.stringify(v)]),
      fc.array(fc.uint8Array({ minLength: 1, maxLength: 20 }), { maxLength: 5 }).map((chunks): [string, () => ResponseBody] => [
        "stream",
        () => {
          let i = 0;
          return new ReadableStream<Uint8Array>({
            pull(controller) {
              if (i === chunks.length) controller.close();
              else controller.enqueue((chunks[i++] as Uint8Array).slice());
            },
          });
        },
      ]),
      fc.dictionary(fc.stringMatching(/^[a-z]{1,5}$/), fc.string({ maxLength: 8 })).map((d): [string, () => ResponseBody] => ["form", () => new URLSearchParams(d)]),
      fc.string({ maxLength: 20 }).map((v): [string, () => ResponseBody] => ["blob", () => new Blob([v], { type: "text/plain" })]),
    );
    const headers = fc.array(
      fc.oneof(
        fc.tuple(fc.stringMatching(/^x-[a-z]{1,6}$/), fc.stringMatching(/^[a-z0-9]{0,8}$/)),
        fc.tuple(fc.constantFrom("content-type", "set-cookie", "cache-control", "etag"), fc.stringMatching(/^[a-z0-9=/;]{1,12}$/)),
      ),
      { maxLength: 6 },
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(200, 201, 204, 404, 500), body, headers, async (status, [kind, make], pairs) => {
        const nullBody = status === 204;
        const answer = (): Response => new Response(nullBody ? null : make(), { status, headers: pairs });
        const sink = collector();
        const handler = shadowHandler(answer, answer, { name: named("same-answer"), publish: sink });
        await (await handler(new Request("http://local/"))).arrayBuffer();
        await handler.experiment.settled();
        assert.equal(sink.results[0]?.matched, true, `${kind} ${status}: ${sink.results[0]?.mismatches[0]?.summary ?? "not published"}`);
      }),
      { numRuns: 150 },
    );
  });
});
