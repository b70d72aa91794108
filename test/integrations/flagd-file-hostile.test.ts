/**
 * flagdFile fed what an operator (or a broken deploy) leaves on disk: malformed, truncated, huge,
 * non-JSON and wrong-schema files, the file replaced by a folder, the folder deleted and recreated,
 * concurrent writes. Real files in a temp folder, the real OpenFeature SDK and openFeatureGate: the
 * provider keeps its last good configuration, never throws, and the gate fails closed on a flag it
 * cannot read.
 */
import { strict as assert } from "node:assert";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { OpenFeature } from "@openfeature/server-sdk";
import fc from "fast-check";
import sinon from "sinon";
import { flagdFile, type FlagdFile } from "../../src/integrations/fleet";
import { openFeatureGate, type OpenFeatureClient } from "../../src/integrations/openfeature";

let domains = 0;

async function until(condition: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met in ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe("flagdFile with hostile files", function () {
  this.timeout(20_000);
  const folders: string[] = [];
  const opened: FlagdFile[] = [];

  async function open(): Promise<{ file: string; flags: FlagdFile; client: OpenFeatureClient; folder: string }> {
    const folder = mkdtempSync(path.join(tmpdir(), "penumbra-flagd-hostile-"));
    folders.push(folder);
    const file = path.join(folder, "flags.json");
    const flags = flagdFile(file);
    opened.push(flags);
    const domain = `flagd-hostile-${++domains}`;
    await OpenFeature.setProviderAndWait(domain, flags.provider);
    return { file, flags, client: OpenFeature.getClient(domain), folder };
  }

  after(async () => {
    for (const flags of opened) await flags.close();
    await OpenFeature.close();
    for (const folder of folders) rmSync(folder, { recursive: true, force: true });
  });

  it("keeps the last good configuration over any generated bad file, and evaluations never throw", async () => {
    const { file, flags, client } = await open();
    await flags.set("k", true);
    const gate = openFeatureGate(client, { flagKey: "k" });
    await until(() => gate.lastValue === true);
    const good = readFileSync(file, "utf8");
    const bad = fc.oneof(
      fc.string(),
      fc.constantFrom("", "null", "[]", "42", '"flags"', '{"flags": 5}', '{"flags": []}', "{ half", good.slice(0, good.length / 2), "\u0000\u0001", "<html>"),
      fc.json(),
    );
    await fc.assert(
      fc.asyncProperty(bad, async (text) => {
        // From the good file each time, so "the last good configuration" is the one with k on.
        writeFileSync(file, good);
        await flags.provider.initialize?.({});
        assert.equal((await client.getBooleanDetails("k", false)).value, true);
        writeFileSync(file, text);
        await flags.provider.initialize?.({}); // reads the file now, whatever the watch says
        const details = await client.getBooleanDetails("k", false);
        const document: unknown = (() => {
          try {
            return JSON.parse(text);
          } catch {
            return undefined;
          }
        })();
        const flagFile = typeof document === "object" && document !== null && !Array.isArray(document) &&
          (() => {
            const f = (document as { flags?: unknown }).flags;
            return f === undefined || (typeof f === "object" && f !== null && !Array.isArray(f));
          })();
        // Not a flag file: ignored, the last good answer stays. A flag file without k: k is off.
        if (!flagFile) assert.equal(details.value, true, `after ${JSON.stringify(text)}`);
        else assert.ok(details.value === true || details.errorCode !== undefined, `after ${JSON.stringify(text)}`);
        try {
          assert.equal(typeof (await gate()), "boolean");
        } catch (error) {
          assert.match(String(error), /candidates are off/); // a failure is reported once, as a rejection
        }
      }),
      { numRuns: 40 },
    );
    writeFileSync(file, good);
    await flags.provider.initialize?.({});
    assert.equal(await gate(), true);
    gate.close();
  });

  it("fails closed on a flag of the wrong schema: a default variant that is not one, a fraction that is a string", async () => {
    const { file, client } = await open();
    const gate = openFeatureGate(client, { flagKey: "k" });
    const wrong = [
      { state: "ENABLED", variants: { on: true }, defaultVariant: "missing" },
      { state: "ENABLED", variants: { admitted: "0.5" }, defaultVariant: "admitted" },
      { state: "ENABLED", variants: { admitted: 5 }, defaultVariant: "admitted" },
      { state: "DISABLED", variants: { on: true }, defaultVariant: "on" },
      { state: "ENABLED", variants: { on: { nested: true } }, defaultVariant: "on" },
    ];
    for (const definition of wrong) {
      writeFileSync(file, JSON.stringify({ flags: { k: definition } }));
      await sleep(30);
      let answer: boolean;
      try {
        answer = await gate();
      } catch {
        answer = false; // reported once: off
      }
      assert.equal(answer, false, JSON.stringify(definition));
      assert.equal(gate.now(), false, JSON.stringify(definition));
    }
    gate.close();
  });

  it("reads a 20 000-flag file, and a file replaced by a folder keeps the last good flags until it is a file again", async () => {
    const { file, flags, client } = await open();
    const many: Record<string, unknown> = {};
    for (let i = 0; i < 20_000; i++) many[`flag-${i}`] = { state: "ENABLED", variants: { on: true, off: false }, defaultVariant: "on" };
    writeFileSync(file, JSON.stringify({ flags: many }));
    await flags.set("k", true);
    assert.equal((await client.getBooleanDetails("flag-19999", false)).value, true);
    assert.equal((await client.getBooleanDetails("k", false)).value, true);

    rmSync(file);
    mkdirSync(file);
    await sleep(50);
    assert.equal((await client.getBooleanDetails("k", false)).value, true, "the last good configuration stays");
    await assert.rejects(flags.set("k", false), /not readable flagd JSON|EISDIR/);
    rmSync(file, { recursive: true });
    await flags.set("k", false);
    await until(() => readFileSync(file, "utf8").includes('"defaultVariant": "off"'));
    assert.equal((await client.getBooleanDetails("k", true)).value, false);
  });

  it("follows the file after its folder is deleted and recreated (the watch dies, the poll must not)", async () => {
    const { file, folder, client } = await open();
    writeFileSync(file, JSON.stringify({ flags: { k: { state: "ENABLED", variants: { on: true, off: false }, defaultVariant: "on" } } }));
    await sleep(50);
    assert.equal((await client.getBooleanDetails("k", false)).value, true);
    rmSync(folder, { recursive: true, force: true });
    await sleep(100);
    mkdirSync(folder);
    writeFileSync(file, JSON.stringify({ flags: { k: { state: "ENABLED", variants: { on: true, off: false }, defaultVariant: "off" } } }));
    let value = true;
    const deadline = Date.now() + 4_000;
    while (Date.now() < deadline && value) {
      value = (await client.getBooleanDetails("k", true)).value;
      await sleep(50);
    }
    assert.equal(value, false, "the provider saw the recreated file");
  });

  it("serialises concurrent set() calls from one process: every key ends with its last value, the file always parses", async () => {
    const { file, flags, client } = await open();
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.constantFrom("a", "b", "__proto__", "constructor", "x\ny"), fc.boolean()), { minLength: 1, maxLength: 12 }), async (writes) => {
        await Promise.all(writes.map(([key, value]) => flags.set(key, value)));
        const last = new Map(writes);
        const document = JSON.parse(readFileSync(file, "utf8")) as { flags: Record<string, { defaultVariant: string }> };
        for (const [key, value] of last) {
          assert.equal(Object.getOwnPropertyDescriptor(document.flags, key)?.value?.defaultVariant, value ? "on" : "off", key);
          assert.equal((await client.getBooleanDetails(key, !value)).value, value, key);
        }
        assert.equal(Object.getPrototypeOf(document.flags), Object.prototype);
      }),
      { numRuns: 20 },
    );
  });

  describe("when the operating system's watch fails (inotify exhausted, a network mount)", () => {
    // The module object itself (a namespace import is frozen): flagd-file reads `watch` from it at call time.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const fs = require("node:fs") as typeof import("node:fs");
    afterEach(() => sinon.restore());

    const followsByPoll = async (): Promise<void> => {
      const { file, client } = await open();
      await sleep(100); // after the watch died
      writeFileSync(file, JSON.stringify({ flags: { k: { state: "ENABLED", variants: { on: true, off: false }, defaultVariant: "on" } } }));
      const deadline = Date.now() + 4_000;
      let value = false;
      while (Date.now() < deadline && !value) {
        value = (await client.getBooleanDetails("k", false)).value;
        await sleep(50);
      }
      assert.equal(value, true, "the 1 s poll saw the change");
    };

    it("keeps following the file by the poll after the watch emits an error", async () => {
      const real = fs.watch;
      sinon.stub(fs, "watch").callsFake(((...args: Parameters<typeof fs.watch>) => {
        const watcher = real(...args);
        setTimeout(() => watcher.emit("error", Object.assign(new Error("watch died"), { code: "EPERM" })), 20);
        return watcher;
      }) as typeof fs.watch);
      await followsByPoll();
    });

    it("initialises and follows the file by the poll when the watch cannot even start", async () => {
      sinon.stub(fs, "watch").callsFake((() => {
        throw Object.assign(new Error("ENOSPC: System limit for number of file watchers reached"), { code: "ENOSPC" });
      }) as typeof fs.watch);
      await followsByPoll();
    });
  });
});
