import { strict as assert } from "node:assert";
import { shadow } from "../../src/index";
import { parseResultLine, resultToJSON, toJSONValue } from "../../src/store/serialize";
import type { Result } from "../../src/types/results";
import { matchedResult, mismatchedResult } from "../publishers/fixtures";

function roundTrip(result: Result<unknown>): Result<unknown> {
  return parseResultLine(resultToJSON(result));
}

function withControlValue(value: unknown): Result<unknown> {
  const result = mismatchedResult();
  return { ...result, control: { ...result.control, value } };
}

describe("serialize", () => {
  describe("resultToJSON / parseResultLine", () => {
    it("round-trips a full mismatched result to an equal object", () => {
      const result = mismatchedResult();
      assert.deepStrictEqual(roundTrip(result), result);
    });

    it("round-trips a frozen matched result", () => {
      const result = Object.freeze(matchedResult());
      assert.deepStrictEqual(roundTrip(result), { ...result });
    });

    it("keeps a key named __proto__ as a key, written and read back", () => {
      const value = JSON.parse('{"__proto__": {"region": "us-ny"}, "total": 1}') as Record<string, unknown>;
      const back = roundTrip(withControlValue(value)).control.value as Record<string, unknown>;
      assert.ok(Object.hasOwn(back, "__proto__"));
      assert.deepEqual(Object.getOwnPropertyDescriptor(back, "__proto__")?.value, { region: "us-ny" });
      assert.equal(Object.getPrototypeOf(back), Object.prototype);
    });

    it("writes exactly one line with no newline inside, even when values contain line breaks", () => {
      const line = resultToJSON(withControlValue({ text: "a\nb\r\nc\u2028d\u2029e" }));
      assert.equal(line.includes("\n"), false);
      assert.equal(line.includes("\r"), false);
      assert.equal(line.includes("\u2028"), false);
      assert.equal(line.includes("\u2029"), false);
      assert.deepStrictEqual(parseResultLine(line).control.value, { text: "a\nb\r\nc\u2028d\u2029e" });
    });

    it("turns an observation error into {name, message, stack} plus its own enumerable properties", () => {
      const error = Object.assign(new TypeError("boom"), { code: "E_BOOM", status: 500 });
      const base = mismatchedResult();
      const candidate = { ...base.candidates[0]!, value: undefined, threw: true, error };
      delete candidate.value;
      const back = roundTrip({ ...base, candidates: [candidate] });
      assert.deepStrictEqual(back.candidates[0]?.error, {
        name: "TypeError",
        message: "boom",
        stack: error.stack,
        code: "E_BOOM",
        status: 500,
      });
      assert.equal("value" in back.candidates[0]!, false);
    });

    it("keeps an error's cause, which is not enumerable", () => {
      const error = new Error("outer", { cause: new RangeError("inner") });
      const base = mismatchedResult();
      const back = roundTrip({ ...base, control: { ...base.control, threw: true, error } });
      const cause = (back.control.error as Record<string, unknown>)["cause"] as Record<string, unknown>;
      assert.equal(cause["name"], "RangeError");
      assert.equal(cause["message"], "inner");
    });

    it("serialises odd values inside a result instead of throwing: cycles, BigInt, Map, Set", () => {
      const value: Record<string, unknown> = { id: 7n, prices: new Map([["EUR", 1]]), tags: new Set(["a"]), gone: undefined };
      value["self"] = value;
      const back = roundTrip(withControlValue(value));
      assert.deepStrictEqual(back.control.value, { id: "7n", prices: { $map: [["EUR", 1]] }, tags: ["a"], self: "[Circular]" });
    });

    it("keeps thrown non-Errors as they are when they are JSON data", () => {
      const base = mismatchedResult();
      for (const thrown of ["plain string", 42, { reason: "nope", retry: false }, null, false]) {
        const back = roundTrip({ ...base, control: { ...base.control, threw: true, error: thrown } });
        assert.deepStrictEqual(back.control.error, thrown);
      }
    });

    it("renders thrown functions and symbols as strings instead of dropping them", () => {
      const base = mismatchedResult();
      const fn = roundTrip({ ...base, control: { ...base.control, threw: true, error: function failer() {} } });
      assert.equal(fn.control.error, "[Function: failer]");
      const sym = roundTrip({ ...base, control: { ...base.control, threw: true, error: Symbol("bad") } });
      assert.equal(sym.control.error, "Symbol(bad)");
    });

    it("leaves a thrown undefined absent, as every undefined", () => {
      const base = mismatchedResult();
      const back = roundTrip({ ...base, control: { ...base.control, threw: true, error: undefined } });
      assert.equal("error" in back.control, false);
      assert.equal(back.control.threw, true);
    });

    it("never throws on a value with a throwing toJSON, a throwing getter, or a revoked proxy", () => {
      const evilToJSON = { toJSON(): never { throw new Error("no json for you"); } };
      const evilGetter = Object.defineProperty({ ok: 1 }, "bad", {
        enumerable: true,
        get(): never { throw new TypeError("getter says no"); },
      });
      const { proxy, revoke } = Proxy.revocable({}, {});
      revoke();
      const line = resultToJSON(withControlValue({ evilToJSON, evilGetter, proxy }));
      const value = parseResultLine(line).control.value as Record<string, unknown>;
      assert.equal(value["evilToJSON"], "[toJSON threw: Error: no json for you]");
      assert.deepStrictEqual(value["evilGetter"], { ok: 1, bad: "[getter threw: TypeError: getter says no]" });
      assert.match(String(value["proxy"]), /^\[unserializable: TypeError: .*revoked/);
    });

    it("throws a SyntaxError naming the problem for a malformed line", () => {
      assert.throws(() => parseResultLine('{"experiment": "x", '), (e: unknown) => {
        assert.ok(e instanceof SyntaxError);
        assert.match(e.message, /malformed result line/);
        assert.match(e.message, /\{"experiment": "x", /);
        return true;
      });
    });

    it("throws a SyntaxError for valid JSON that is not a result, and for an empty line", () => {
      assert.throws(() => parseResultLine('{"experiment": "x"}'), /not a result line \(runId is not a string\)/);
      assert.throws(() => parseResultLine("[1,2]"), SyntaxError);
      assert.throws(() => parseResultLine("   "), /empty result line/);
    });
  });

  describe("toJSONValue", () => {
    it("drops undefined properties and turns undefined array slots into null", () => {
      assert.deepStrictEqual(toJSONValue({ a: undefined, b: [1, undefined, () => 1], c: 1 }), { b: [1, null, null], c: 1 });
    });

    it("writes a BigInt as a string with the n suffix", () => {
      assert.deepStrictEqual(toJSONValue({ id: 123n, ids: [-1n] }), { id: "123n", ids: ["-1n"] });
    });

    it("writes a Map as {$map: entries}, keeping non-string keys and order", () => {
      const map = new Map<unknown, unknown>([["EUR", 10], [1, new Set(["x"])], [{ k: 1 }, null]]);
      assert.deepStrictEqual(toJSONValue(map), { $map: [["EUR", 10], [1, ["x"]], [{ k: 1 }, null]] });
    });

    it("writes a Set as an array, a Date as its ISO string, a RegExp as its source, a typed array as numbers", () => {
      assert.deepStrictEqual(
        toJSONValue({
          s: new Set([1, "a"]),
          d: new Date(Date.UTC(2024, 0, 2, 3, 4, 5)),
          bad: new Date(Number.NaN),
          r: /a+b/gi,
          t: new Uint16Array([1, 2, 65535]),
        }),
        { s: [1, "a"], d: "2024-01-02T03:04:05.000Z", bad: null, r: "/a+b/gi", t: [1, 2, 65535] },
      );
    });

    it("marks cycles as [Circular] but renders a shared, non-cyclic object twice", () => {
      const shared = { id: 1 };
      const node: Record<string, unknown> = { name: "root", left: shared, right: shared };
      node["self"] = node;
      node["list"] = [node, { up: node }];
      assert.deepStrictEqual(toJSONValue(node), {
        name: "root",
        left: { id: 1 },
        right: { id: 1 },
        self: "[Circular]",
        list: ["[Circular]", { up: "[Circular]" }],
      });
    });

    it("renders a cycle through a Map and through an error property", () => {
      const map = new Map<string, unknown>();
      map.set("me", map);
      assert.deepStrictEqual(toJSONValue(map), { $map: [["me", "[Circular]"]] });
      const error = Object.assign(new Error("loop"), { self: undefined as unknown });
      error.self = error;
      assert.equal((toJSONValue(error) as Record<string, unknown>)["self"], "[Circular]");
    });

    it("calls toJSON with the property key and serialises what it returns", () => {
      const keys: string[] = [];
      const money = { toJSON: (key: string) => (keys.push(key), { amount: 5, currency: "EUR" }) };
      assert.deepStrictEqual(toJSONValue({ price: money }), { price: { amount: 5, currency: "EUR" } });
      assert.deepStrictEqual(keys, ["price"]);
    });

    it("stops at a depth limit instead of overflowing the stack", () => {
      let deep: Record<string, unknown> = {};
      const root = deep;
      for (let i = 0; i < 10_000; i += 1) {
        const next = {};
        deep["next"] = next;
        deep = next;
      }
      assert.match(JSON.stringify(toJSONValue(root)), /"\[Too deep\]"/);
    });
  });
});

describe("serialize: cleaned values", () => {
  it("writes a cleaned value that is the value itself only once and restores it when read back", async () => {
    const results: Result<unknown>[] = [];
    const wrapped = shadow(() => ({ total: 49.9, lines: [1, 2, 3] }), () => ({ total: 51.4, lines: [1, 2, 3] }), {
      publish: (r) => {
        results.push(r);
      },
    });
    wrapped();
    await wrapped.experiment.settled();
    const [result] = results;
    assert.ok(result);
    const line = resultToJSON(result);
    assert.equal(line.split('"total":49.9').length - 1, 1, "the control's value is written once");
    const back = parseResultLine(line);
    assert.deepEqual(back.control.cleanedValue, { total: 49.9, lines: [1, 2, 3] });
    assert.deepEqual(back.candidates[0]?.cleanedValue, { total: 51.4, lines: [1, 2, 3] });
    assert.equal("cleanedIsValue" in back.control, false);
  });
});
