/**
 * Acceptance, API.md §5 "HTTP handlers and promotion": penumbra/http, penumbra/express against a
 * real Express app on 127.0.0.1, and `promote`.
 */
import { strict as assert } from "node:assert";
import type { AddressInfo } from "node:net";
import express from "express";
import { flush, guard, isShadow, shadow, type Result } from "../../src/index";
import { shadowExpress } from "../../src/integrations/express";
import { shadowHandler } from "../../src/integrations/http";
import { KeepAliveClient } from "../integrations/express-support";
import { harness, resetHarness, uniqueName, type Harness } from "./support";

describe("acceptance §5: HTTP handlers and promotion", function () {
  this.timeout(20_000);
  let h: Harness;
  beforeEach(() => {
    h = harness();
  });
  afterEach(resetHarness);

  function resultOf(name: string): Result<unknown> {
    const r = h.memory.results.find((x) => x.experiment === name);
    assert.ok(r, "published");
    return r;
  }

  describe("penumbra/http", () => {
    it("gives the caller the old handler's Response untouched and readable, and the new handler a clone of the request", async () => {
      const name = uniqueName("http");
      let oldReq: Request | undefined;
      let newReq: Request | undefined;
      let newBody = "";
      const original = new Response(JSON.stringify({ total: 1 }), { status: 200, headers: { "content-type": "application/json" } });
      const handler = shadowHandler(
        async (req: Request) => {
          oldReq = req;
          await req.text();
          return original;
        },
        async (req: Request) => {
          newReq = req;
          newBody = await req.text();
          return Response.json({ total: 1 });
        },
        { name },
      );
      const req = new Request("http://127.0.0.1/orders?x=1", { method: "POST", body: "payload", headers: { "x-request-id": "rid-1" } });
      const res = await handler(req);
      assert.equal(res, original);
      assert.deepEqual(await res.json(), { total: 1 });
      await handler.experiment.settled();
      assert.equal(oldReq, req);
      assert.notEqual(newReq, req);
      assert.equal(newBody, "payload");
      const r = resultOf(name);
      assert.equal(r.matched, true);
      assert.equal(r.context.method, "POST");
      assert.equal(r.context.path, "/orders");
      assert.ok(Object.values(r.context).includes("rid-1"), `request id in ${JSON.stringify(r.context)}`);
    });

    it("compares status first (`status=200 vs 500`), treats per-response headers as noise, and diffs JSON bodies field by field", async () => {
      const statusName = uniqueName("http-status");
      const status = shadowHandler(() => new Response("ok", { status: 200 }), () => new Response("ok", { status: 500 }), { name: statusName });
      await (await status(new Request("http://127.0.0.1/"))).text();
      await status.experiment.settled();
      const m = resultOf(statusName).mismatches[0];
      assert.equal(m?.kind, "status");
      assert.match(m?.summary ?? "", /^status=200 vs 500/);

      const noiseName = uniqueName("http-noise");
      let n = 0;
      const headers = (): Record<string, string> => ({ date: new Date(Date.now() + 1000 * n).toUTCString(), "x-request-id": `r${(n += 1)}`, "set-cookie": `s=${n}` });
      const noisy = shadowHandler(() => new Response("same", { headers: headers() }), () => new Response("same", { headers: headers() }), { name: noiseName });
      await (await noisy(new Request("http://127.0.0.1/"))).text();
      await noisy.experiment.settled();
      assert.equal(resultOf(noiseName).matched, true);

      const bodyName = uniqueName("http-body");
      const body = shadowHandler(() => Response.json({ total: 49.9, id: 1 }), () => Response.json({ total: 51.4, id: 1 }), { name: bodyName });
      await (await body(new Request("http://127.0.0.1/"))).text();
      await body.experiment.settled();
      const diff = resultOf(bodyName).mismatches[0];
      assert.equal(diff?.kind, "value");
      assert.match(diff?.summary ?? "", /total=49\.9 vs 51\.4$/);
    });
  });

  describe("penumbra/express", () => {
    it("answers with the old handler, runs the new one on an inert shadow request with a captured response, and compares them", async () => {
      const name = uniqueName("express");
      const seen: Record<string, unknown> = {};
      const app = express();
      app.get(
        "/orders/:id",
        shadowExpress(
          (req, res) => {
            res.status(200).json({ id: req.params.id, total: 49.9 });
          },
          (req, res) => {
            seen.shadow = isShadow();
            // Garbage on the live keep-alive connection would break the next response on it.
            for (const socket of [req.socket, req.connection]) {
              try {
                (socket as unknown as { write?: (s: string) => void }).write?.("HTTP/1.1 500 garbage\r\n\r\n");
              } catch {
                // an inert stand-in may refuse
              }
            }
            res.status(200).json({ id: req.params.id, total: 51.4 });
          },
          { name },
        ),
      );
      const server = app.listen(0, "127.0.0.1");
      await new Promise((resolve) => server.once("listening", resolve));
      try {
        // A raw keep-alive client keeps every byte, so anything written outside a response shows.
        const client = new KeepAliveClient((server.address() as AddressInfo).port);
        await client.connected;
        for (const id of ["7", "8"]) {
          const res = await client.get(`/orders/${id}`);
          assert.match(res.statusLine, / 200 /);
          assert.deepEqual(JSON.parse(res.body), { id, total: 49.9 });
          await flush();
          await new Promise((resolve) => setTimeout(resolve, 10));
          assert.equal(client.pending, "", "nothing from the shadow request reached the live connection");
        }
        client.close();
      } finally {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      }
      await flush();
      assert.equal(seen.shadow, true);
      const r = resultOf(name);
      assert.equal(r.mismatched, true);
      assert.match(r.mismatches[0]?.summary ?? "", /total=49\.9 vs 51\.4/);
    });
  });

  describe("promote", () => {
    it("lets the first candidate answer for real (isShadow() false there) while the control runs in shadow with its effects sunk, and names it in servedBy", async () => {
      const name = uniqueName("promote");
      const sent: string[] = [];
      const mail = guard("mail", { send: (who: string) => { sent.push(who); return true; } }, { effects: ["send"] });
      let candidateShadow: boolean | undefined;
      let controlShadow: boolean | undefined;
      const wrapped = shadow(
        () => {
          controlShadow = isShadow();
          mail.send("old");
          return "old";
        },
        () => {
          candidateShadow = isShadow();
          mail.send("new");
          return "new";
        },
        { name, promote: 1 },
      );
      assert.equal(wrapped(), "new");
      await wrapped.experiment.settled();
      assert.equal(candidateShadow, false);
      assert.equal(controlShadow, true);
      assert.deepEqual(sent, ["new"]);
      const r = resultOf(name);
      assert.equal(r.servedBy, "candidate");
      assert.equal(r.control.role, "control");
      assert.equal(r.control.value, "old");
    });

    it("sends every call back to the control when the experiment is disabled or a synchronous enabled says no", async () => {
      const disabled = shadow(() => "old", () => "new", { name: uniqueName("promote-off"), promote: 1 });
      disabled.experiment.disable("rollback");
      assert.equal(disabled(), "old");
      let on = false;
      const gated = shadow(() => "old", () => "new", { name: uniqueName("promote-gate"), promote: 1, enabled: () => on });
      assert.equal(gated(), "old");
      on = true;
      assert.equal(gated(), "new");
      await gated.experiment.settled();
    });

    it("treats a promote predicate that returns a non-boolean as a promote error and serves with the control", async () => {
      const name = uniqueName("promote-bad");
      const wrapped = shadow(() => "old", () => "new", { name, promote: (() => "yes") as unknown as () => boolean });
      assert.equal(wrapped(), "old");
      await wrapped.experiment.settled();
      assert.ok(h.errors.some((e) => e.experiment === name && e.operation === "promote"));
    });

    it("decides a numeric share by a stable hash of the sampleBy key: the same key always gets the same side", () => {
      const wrapped = shadow((k: string) => `old:${k}`, (k: string) => `new:${k}`, { name: uniqueName("promote-sticky"), promote: 0.5, sampleBy: (k) => k });
      const first = Array.from({ length: 40 }, (_, i) => wrapped(`user-${i}`));
      const again = Array.from({ length: 40 }, (_, i) => wrapped(`user-${i}`));
      assert.deepEqual(again, first);
      assert.ok(first.some((v) => v.startsWith("new:")) && first.some((v) => v.startsWith("old:")));
    });
  });
});
