/**
 * Acceptance, API.md §1 "Comparison", paths grammar, summary formats and buckets / noise rules,
 * observed only through published results.
 */
import { strict as assert } from "node:assert";
import fc from "fast-check";
import { guard, noise, shadow, type BucketRule, type ExperimentOptions, type FieldDiff, type Mismatch, type Result } from "../../src/index";
import { harness, resetHarness, uniqueName, type Harness } from "./support";

describe("acceptance §1: comparison", () => {
  let h: Harness;
  beforeEach(() => {
    h = harness();
  });
  afterEach(resetHarness);

  /** Runs one call of control vs candidate and returns its published result. */
  async function compare<R>(control: () => R, candidate: () => R, options: ExperimentOptions<[], R> = {}): Promise<Result<unknown>> {
    const name = uniqueName("cmp");
    const wrapped = shadow(control, candidate, { ...options, name });
    try {
      wrapped();
    } catch {
      // the control's own throw is the caller's business
    }
    await wrapped.experiment.settled();
    const result = h.memory.results.find((r) => r.experiment === name);
    assert.ok(result, "a result was published");
    return result;
  }

  function firstMismatch(r: Result<unknown>): Mismatch {
    const m = r.mismatches[0];
    assert.ok(m, "a mismatch");
    return m;
  }

  function paths(m: Mismatch): string[] {
    return m.diffs.map((d: FieldDiff) => d.path);
  }

  describe("summary formats", () => {
    it("lists value diffs as path=<control> vs <candidate>: `total=49.9 vs 51.4, taxRate=0.08 vs 0.11`", async () => {
      const r = await compare(() => ({ total: 49.9, taxRate: 0.08 }), () => ({ total: 51.4, taxRate: 0.11 }));
      const m = firstMismatch(r);
      assert.equal(m.kind, "value");
      assert.equal(m.summary, "total=49.9 vs 51.4, taxRate=0.08 vs 0.11");
    });

    it("summarises an error mismatch control side first: `threw TypeError: boom vs returned {\"total\":1}`", async () => {
      const r = await compare((): { total: number } => { throw new TypeError("boom"); }, () => ({ total: 1 }));
      const m = firstMismatch(r);
      assert.equal(m.kind, "error");
      assert.equal(m.summary, 'threw TypeError: boom vs returned {"total":1}');
      assert.deepEqual(paths(m), ["(error)"]);
    });

    it("summarises a status mismatch as `status=200 vs 500` with a diff at (status)", async () => {
      const r = await compare(() => ({ code: 200 }), () => ({ code: 500 }), { statusOf: (v) => v.code });
      const m = firstMismatch(r);
      assert.equal(m.kind, "status");
      assert.match(m.summary, /^status=200 vs 500/);
      assert.equal(paths(m)[0], "(status)");
    });

    it("shows a missing side as (missing) and the root as (root)", async () => {
      const added = firstMismatch(await compare((): Record<string, number> => ({ a: 1 }), () => ({ b: 1 })));
      assert.equal(added.summary, "a=1 vs (missing), b=(missing) vs 1");
      assert.deepEqual(added.diffs.map((d) => d.kind), ["removed", "added"]);
      const root = firstMismatch(await compare(() => 1, () => 2));
      assert.equal(root.summary, "(root)=1 vs 2");
      assert.deepEqual(paths(root), [""]);
    });

    it("ends a summary of more than 10 diffs with `+N more` and keeps every diff in diffs", async () => {
      const of = (v: number): Record<string, number> => Object.fromEntries(Array.from({ length: 13 }, (_, i) => [`k${i}`, v]));
      const m = firstMismatch(await compare(() => of(1), () => of(2)));
      assert.equal(m.diffs.length, 13);
      assert.match(m.summary, /, \+3 more$/);
      assert.equal(m.summary.split(", ").length, 11);
    });

    it("lists only non-noise diffs in the summary, so noise never pushes a real diff into `+N more`", async () => {
      const of = (v: number): Record<string, number> => Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`n${i}`, v]));
      const m = firstMismatch(await compare(() => of(1), () => of(2), { buckets: [noise.paths("n0", "n1")] }));
      assert.equal(m.summary.split(", ").length, 10);
      assert.doesNotMatch(m.summary, /more|n0=|n1=/);
      assert.deepEqual(m.buckets, []);
    });

    it("JSON-encodes values in the summary: strings quoted and escaped, null, arrays and objects", async () => {
      const m = firstMismatch(await compare((): unknown => ({ s: "a\nb", n: null, o: { x: 1 } }), (): unknown => ({ s: "b", n: 1, o: [1] })));
      assert.equal(m.summary, 's="a\\nb" vs "b", n=null vs 1, o={"x":1} vs [1]');
    });

    it("truncates long values with …", async () => {
      const m = firstMismatch(await compare(() => "a".repeat(1000), () => "b".repeat(1000)));
      assert.ok(m.summary.includes("…"));
      assert.ok(m.summary.length < 1000);
    });

    it("describes any thrown value without trusting it: throwing getters, Proxies with throwing traps, null-prototype objects, throwing toString / inspect.custom", async () => {
      const trap = (): never => {
        throw new Error("trap");
      };
      const thrownValues = fc.constantFrom<() => unknown>(
        () => Object.defineProperty(Object.defineProperty(new TypeError("x"), "message", { get: trap }), "name", { get: trap }),
        () => new Proxy({}, { get: trap, getPrototypeOf: trap, ownKeys: trap, has: trap, getOwnPropertyDescriptor: trap }),
        () => new Proxy(new Error("p"), { get: trap, getPrototypeOf: trap }),
        () => Object.create(null),
        () => ({ toString: trap, [Symbol.for("nodejs.util.inspect.custom")]: trap, [Symbol.toPrimitive]: trap }),
        () => undefined,
        () => 0,
        () => "",
        () => Symbol("s"),
        () => 10n,
        () => (() => { const c: Record<string, unknown> = {}; c.self = c; return c; })(),
      );
      await fc.assert(
        fc.asyncProperty(thrownValues, async (make) => {
          const r = await compare((): unknown => 1, (): unknown => { throw make(); });
          const m = firstMismatch(r);
          assert.equal(m.kind, "error");
          assert.equal(typeof m.summary, "string");
          assert.ok(m.summary.startsWith("returned 1 vs threw "), m.summary);
        }),
        { numRuns: 30 },
      );
      assert.deepEqual(h.errors, [], "describing a thrown value is never an error of its own");
    });

    it("keeps the summary bounded when a path is built from a huge user key", async () => {
      const key = "k".repeat(200_000);
      const m = firstMismatch(await compare((): unknown => new Map([[key, 1]]), (): unknown => new Map([[key, 2]])));
      assert.ok(m.summary.length < 500, `summary of ${m.summary.length} characters`);
      assert.ok(m.summary.includes("…"));
      assert.ok((m.diffs[0]?.path.length ?? 0) > key.length, "the diff itself keeps the full path");
    });

    it("says `compare() returned false` when compare says unequal and nothing differs structurally", async () => {
      const r = await compare(() => ({ a: 1 }), () => ({ a: 1 }), { compare: () => false });
      assert.equal(firstMismatch(r).summary, "compare() returned false");
    });

    it("reports nothing when compare says equal, however the values differ", async () => {
      const r = await compare(() => ({ a: 1 }), () => ({ a: 2 }), { compare: () => true });
      assert.equal(r.matched, true);
      assert.deepEqual(r.mismatches, []);
    });

    it("puts effect differences under effects[i] with kind 'effects'", async () => {
      const payments = guard("payments", { charge: (_o: { amount: number }) => "ok" }, { effects: ["charge"] });
      const r = await compare(
        () => { payments.charge({ amount: 4990 }); return 1; },
        () => { payments.charge({ amount: 5140 }); return 1; },
      );
      const m = firstMismatch(r);
      assert.equal(m.kind, "effects");
      assert.equal(m.summary, "effects[0] payments.charge args[0].amount=4990 vs 5140");
      assert.ok(paths(m).every((p) => p.startsWith("effects[0]")));
    });
  });

  describe("kinds and severity", () => {
    it("takes the most severe cause as kind (error > status > value > effects) and keeps every diff", async () => {
      const r = await compare(() => ({ code: 200, total: 1 }), () => ({ code: 500, total: 2 }), { statusOf: (v) => v.code });
      const m = firstMismatch(r);
      assert.equal(m.kind, "status");
      assert.ok(paths(m).includes("(status)"));
      assert.ok(paths(m).includes("total"));
    });

    it("compares two errors by constructor and message unless compareErrors is given", async () => {
      const same = await compare((): number => { throw new TypeError("x"); }, (): number => { throw new TypeError("x"); });
      assert.equal(same.matched, true);
      const other = await compare((): number => { throw new TypeError("x"); }, (): number => { throw new RangeError("x"); });
      assert.equal(firstMismatch(other).kind, "error");
      const custom = await compare((): number => { throw new TypeError("x"); }, (): number => { throw new RangeError("y"); }, { compareErrors: () => true });
      assert.equal(custom.matched, true);
    });
  });

  describe("structural equality", () => {
    it("ignores key order, treats an undefined key as missing, NaN as NaN, Dates by time, Maps and Sets by structure", async () => {
      const r = await compare(
        (): unknown => ({ a: 1, b: undefined, n: NaN, d: new Date(5), m: new Map([[{ k: 1 }, [1]]]), s: new Set([{ x: 1 }]), t: new Uint8Array([1, 2]) }),
        (): unknown => ({ t: new Uint8Array([1, 2]), s: new Set([{ x: 1 }]), m: new Map([[{ k: 1 }, [1]]]), d: new Date(5), n: NaN, a: 1 }),
      );
      assert.equal(r.matched, true);
    });

    it("says kind 'type' for different constructors, array vs object and different typeof", async () => {
      class A { x = 1; }
      class B { x = 1; }
      for (const [c, d] of [[new A(), new B()], [[], {}], [1, "1"], [new Date(0), "1970-01-01T00:00:00.000Z"]] as const) {
        const m = firstMismatch(await compare((): unknown => c, (): unknown => d));
        assert.equal(m.diffs[0]?.kind, "type", `${String(c)} vs ${String(d)}`);
      }
    });

    it("finds equal any two structurally equal JSON values, at any depth", async () => {
      await fc.assert(
        fc.asyncProperty(fc.jsonValue({ maxDepth: 6 }), async (v) => {
          const r = await compare((): unknown => JSON.parse(JSON.stringify(v)), (): unknown => JSON.parse(JSON.stringify(v)));
          assert.equal(r.matched, true);
        }),
        { numRuns: 40 },
      );
    });

    it("survives a deep chain on both sides without overflowing the stack", async () => {
      const chain = (leaf: number): unknown => {
        let v: unknown = leaf;
        for (let i = 0; i < 20_000; i++) v = { next: v };
        return v;
      };
      const r = await compare(() => chain(1), () => chain(2));
      assert.equal(r.mismatched, true);
    });
  });

  describe("paths grammar", () => {
    it("uses dots for identifiers, JSON-quoted brackets for other keys, [i] for indices, .get(<JSON key>) for Map entries and {} for Set members", async () => {
      const m = firstMismatch(
        await compare(
          (): unknown => ({ a: { b: 1 }, "a.b": 1, "": 1, list: [1], m: new Map<unknown, number>([["x", 1], [2, 1]]), tags: new Set(["p"]) }),
          (): unknown => ({ a: { b: 2 }, "a.b": 2, "": 2, list: [2], m: new Map<unknown, number>([["x", 2], [2, 2]]), tags: new Set(["q"]) }),
        ),
      );
      const got = paths(m);
      for (const expected of ["a.b", '["a.b"]', '[""]', "list[0]", 'm.get("x")', "m.get(2)", "tags{}"]) {
        assert.ok(got.includes(expected), `${expected} in ${JSON.stringify(got)}`);
      }
      const setDiffs = m.diffs.filter((d) => d.path === "tags{}");
      assert.deepEqual(setDiffs.map((d) => d.control ?? d.candidate).sort(), ["p", "q"]);
    });
  });

  describe("buckets and noise", () => {
    async function withRules(c: unknown, d: unknown, buckets: BucketRule[]): Promise<Result<unknown>> {
      return compare((): unknown => c, (): unknown => d, { buckets });
    }

    it("names a diff's bucket by the first matching rule (pattern or predicate) and lists non-noise buckets on the mismatch", async () => {
      const r = await withRules({ total: 1, tax: 1 }, { total: 2, tax: 2 }, [
        { name: "totals", match: { path: "total" } },
        { name: "also-totals", match: (d) => d.path === "total" },
        { name: "taxes", match: (d) => d.path === "tax" },
      ]);
      const m = firstMismatch(r);
      assert.deepEqual(m.diffs.map((d) => d.bucket), ["totals", "taxes"]);
      assert.deepEqual([...m.buckets].sort(), ["taxes", "totals"]);
    });

    it("counts a candidate whose only differences are noise as matched and publishes them under result.noise", async () => {
      const r = await withRules({ meta: { traceId: "a" }, x: 1 }, { meta: { traceId: "b" }, x: 1 }, [noise.paths("meta")]);
      assert.equal(r.matched, true);
      assert.deepEqual(r.noise.map((d) => [d.path, d.noise]), [["meta.traceId", true]]);
    });

    it("noise.paths: * is one segment, ** any number, [i] indices are segments", async () => {
      assert.equal((await withRules({ items: [{ id: 1 }] }, { items: [{ id: 2 }] }, [noise.paths("items.*.id")])).matched, true);
      assert.equal((await withRules({ a: { b: { c: 1 } } }, { a: { b: { c: 2 } } }, [noise.paths("**.c")])).matched, true);
      assert.equal((await withRules({ a: { b: { c: 1 } } }, { a: { b: { c: 2 } } }, [noise.paths("*.c")])).matched, false);
    });

    it("noise.timestamps: ISO strings or Dates within the tolerance; epoch numbers only on the given paths; a Date against a string stays a type difference", async () => {
      const rule = noise.timestamps({ toleranceMs: 1000 });
      assert.equal((await withRules({ at: "2024-01-01T00:00:00Z" }, { at: "2024-01-01T00:00:00.900Z" }, [rule])).matched, true);
      assert.equal((await withRules({ at: "2024-01-01T00:00:00Z" }, { at: "2024-01-01T00:00:02Z" }, [rule])).matched, false);
      assert.equal((await withRules({ at: new Date(0) }, { at: new Date(999) }, [rule])).matched, true);
      assert.equal((await withRules({ at: 1000 }, { at: 1500 }, [rule])).matched, false);
      assert.equal((await withRules({ at: 1000 }, { at: 1500 }, [noise.timestamps({ toleranceMs: 1000, paths: ["at"] })])).matched, true);
      const mixed = await withRules({ at: new Date(0) }, { at: "1970-01-01T00:00:00.000Z" }, [rule]);
      assert.equal(firstMismatch(mixed).diffs[0]?.kind, "type");
    });

    it("noise.numbers: absolute tolerance, or relative to |control|", async () => {
      assert.equal((await withRules({ n: 100 }, { n: 100.5 }, [noise.numbers({ tolerance: 1 })])).matched, true);
      assert.equal((await withRules({ n: 100 }, { n: 102 }, [noise.numbers({ tolerance: 1 })])).matched, false);
      assert.equal((await withRules({ n: -100 }, { n: -101 }, [noise.numbers({ tolerance: 0.02, relative: true })])).matched, true);
      assert.equal((await withRules({ n: 100 }, { n: 103 }, [noise.numbers({ tolerance: 0.02, relative: true })])).matched, false);
    });

    it("noise.whitespace: equal after collapsing runs of whitespace and trimming", async () => {
      assert.equal((await withRules({ s: "  a \n\t b " }, { s: "a b" }, [noise.whitespace()])).matched, true);
      assert.equal((await withRules({ s: "ab" }, { s: "a b" }, [noise.whitespace()])).matched, false);
    });

    it("noise.arrayOrder: the same elements in another order give one noise diff at the array's path", async () => {
      const r = await withRules({ tags: [{ k: 1 }, { k: 2 }, 3] }, { tags: [3, { k: 2 }, { k: 1 }] }, [noise.arrayOrder("tags")]);
      assert.equal(r.matched, true);
      assert.deepEqual(r.noise.map((d) => d.path), ["tags"]);
    });
  });
});
