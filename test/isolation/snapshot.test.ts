import { strict as assert } from "node:assert";
import { EventEmitter } from "node:events";
import { Readable } from "node:stream";
import fc from "fast-check";
import { SNAPSHOT_BINARY_LIMIT, SNAPSHOT_DEPTH_LIMIT, SNAPSHOT_NODE_LIMIT, snapshot, snapshotArgs } from "../../src/isolation/snapshot";
import { hostileValue } from "../reliability/hostile";

class Money {
  constructor(public amount: number, public currency: string) {}
  plus(other: Money): Money {
    return new Money(this.amount + other.amount, this.currency);
  }
}

class Client {
  constructor(public url: string, public send: (body: string) => void) {}
}

class Tagged extends Map<string, number> {
  constructor(public label: string) {
    super();
  }
}

function assertCopied<T extends object>(original: T): T {
  const { value, isolated } = snapshot(original);
  assert.notEqual(value, original, "a copy, not the same reference");
  assert.deepStrictEqual(value, original);
  assert.equal(isolated, true);
  return value;
}

describe("snapshot: data is copied", () => {
  it("copies primitives as they are and reports them isolated", () => {
    const sym = Symbol("s");
    for (const v of [1, "a", true, null, undefined, 10n, sym, NaN]) {
      const s = snapshot(v);
      assert.ok(Object.is(s.value, v));
      assert.equal(s.isolated, true);
    }
  });

  it("copies a nested plain object so that mutating the copy does not reach the original", () => {
    const original = { a: 1, nested: { list: [1, 2, { deep: "x" }] } };
    const copy = assertCopied(original);
    copy.nested.list.push(4);
    (copy.nested.list[2] as { deep: string }).deep = "changed";
    copy.a = 2;
    assert.deepEqual(original, { a: 1, nested: { list: [1, 2, { deep: "x" }] } });
    assert.notEqual(copy.nested, original.nested);
  });

  it("keeps a null prototype on a plain object", () => {
    const original = Object.assign(Object.create(null) as Record<string, number>, { a: 1 });
    const copy = snapshot(original).value;
    assert.equal(Object.getPrototypeOf(copy), null);
    assert.equal(copy.a, 1);
    assert.notEqual(copy, original);
  });

  it("copies an own __proto__ key as data without changing the copy's prototype", () => {
    const original = JSON.parse('{"__proto__": {"polluted": true}, "a": 1}') as Record<string, unknown>;
    const copy = snapshot(original).value;
    assert.equal(Object.getPrototypeOf(copy), Object.prototype);
    assert.deepEqual(Object.getOwnPropertyDescriptor(copy, "__proto__")?.value, { polluted: true });
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it("keeps holes of a sparse array as holes", () => {
    const original = [1, , 3]; // eslint-disable-line no-sparse-arrays
    const copy = snapshot(original).value;
    assert.equal(copy.length, 3);
    assert.equal(1 in copy, false);
    assert.equal(copy[2], 3);
  });

  it("copies a Date that can be changed without moving the original", () => {
    const original = new Date(1_700_000_000_000);
    const copy = assertCopied(original);
    assert.ok(copy instanceof Date);
    copy.setFullYear(2000);
    assert.equal(original.getTime(), 1_700_000_000_000);
  });

  it("copies a Map, walking its keys and values", () => {
    const key = { id: 1 };
    const original = new Map<object, { n: number }>([[key, { n: 1 }]]);
    const copy = assertCopied(original);
    const [copiedKey, copiedValue] = [...copy.entries()][0] as [object, { n: number }];
    assert.notEqual(copiedKey, key);
    copiedValue.n = 2;
    copy.set({ id: 2 }, { n: 3 });
    assert.equal(original.get(key)?.n, 1);
    assert.equal(original.size, 1);
  });

  it("copies a Set, walking its members", () => {
    const member = { id: 1 };
    const original = new Set([member, "x"]);
    const copy = assertCopied(original);
    assert.ok(!copy.has(member));
    copy.add("y");
    assert.equal(original.size, 2);
  });

  it("copies a RegExp with its source, flags and lastIndex", () => {
    const original = /a(b)c/gi;
    original.lastIndex = 2;
    const copy = snapshot(original).value;
    assert.notEqual(copy, original);
    assert.equal(copy.source, "a(b)c");
    assert.equal(copy.flags, "gi");
    assert.equal(copy.lastIndex, 2);
    copy.lastIndex = 0;
    assert.equal(original.lastIndex, 2);
  });

  it("copies a Buffer's bytes into new memory, still a Buffer", () => {
    const original = Buffer.from("hello");
    const { value: copy, isolated } = snapshot(original);
    assert.equal(isolated, true);
    assert.ok(Buffer.isBuffer(copy));
    assert.equal(copy.toString(), "hello");
    copy[0] = 0x4a;
    assert.equal(original.toString(), "hello");
    assert.notEqual(copy.buffer, original.buffer);
  });

  it("copies only the viewed bytes of a Buffer slice, not its parent's memory", () => {
    const parent = Buffer.from("abcdef");
    const original = parent.subarray(2, 4);
    const copy = snapshot(original).value;
    assert.equal(copy.toString(), "cd");
    copy[0] = 0x7a;
    assert.equal(parent.toString(), "abcdef");
  });

  it("copies typed arrays with their constructor and their bytes", () => {
    const floats = new Float64Array([1.5, 2.5]);
    const copy = snapshot(floats).value;
    assert.ok(copy instanceof Float64Array);
    assert.deepEqual([...copy], [1.5, 2.5]);
    copy[0] = 9;
    assert.equal(floats[0], 1.5);
    const bigs = snapshot(new BigInt64Array([1n])).value;
    assert.ok(bigs instanceof BigInt64Array);
    assert.equal(bigs[0], 1n);
  });

  it("copies an ArrayBuffer's bytes", () => {
    const original = new Uint8Array([1, 2, 3]).buffer;
    const copy = snapshot(original).value;
    assert.ok(copy instanceof ArrayBuffer);
    assert.notEqual(copy, original);
    new Uint8Array(copy)[0] = 9;
    assert.deepEqual([...new Uint8Array(original)], [1, 2, 3]);
    assert.deepEqual([...new Uint8Array(copy)], [9, 2, 3]);
  });

  it("copies a DataView's viewed bytes", () => {
    const buffer = new Uint8Array([1, 2, 3, 4]).buffer;
    const original = new DataView(buffer, 1, 2);
    const copy = snapshot(original).value;
    assert.ok(copy instanceof DataView);
    assert.equal(copy.byteLength, 2);
    assert.equal(copy.getUint8(0), 2);
    copy.setUint8(0, 9);
    assert.equal(original.getUint8(0), 2);
  });

  it("copies a data-only class instance with its prototype, so methods and instanceof still work", () => {
    const original = new Money(5, "EUR");
    const copy = assertCopied(original);
    assert.ok(copy instanceof Money);
    assert.equal(Object.getPrototypeOf(copy), Money.prototype);
    assert.equal(copy.plus(new Money(1, "EUR")).amount, 6);
    copy.amount = 7;
    assert.equal(original.amount, 5);
  });

  it("copies a Map subclass with its prototype and own fields", () => {
    const original = new Tagged("t");
    original.set("a", 1);
    const { value: copy, isolated } = snapshot(original);
    assert.equal(isolated, true);
    assert.ok(copy instanceof Tagged);
    assert.equal(copy.label, "t");
    assert.equal(copy.get("a"), 1);
    copy.set("b", 2);
    assert.equal(original.has("b"), false);
  });

  it("clones a Request so that both the copy and the original can read the body", async () => {
    const original = new Request("https://example.com/orders", { method: "POST", body: "payload" });
    const { value: copy, isolated } = snapshot(original);
    assert.equal(isolated, true);
    assert.notEqual(copy, original);
    assert.ok(copy instanceof Request);
    assert.equal(copy.url, original.url);
    assert.equal(await copy.text(), "payload");
    assert.equal(await original.text(), "payload");
  });

  it("clones a Response so that both sides can read the body", async () => {
    const original = new Response("hello", { status: 201, headers: { "x-a": "1" } });
    const { value: copy, isolated } = snapshot(original);
    assert.equal(isolated, true);
    assert.notEqual(copy, original);
    assert.equal(copy.status, 201);
    assert.equal(await copy.text(), "hello");
    assert.equal(await original.text(), "hello");
  });

  it("shares a Response whose body was already read, instead of throwing", async () => {
    const original = new Response("hello");
    await original.text();
    const { value, isolated } = snapshot(original);
    assert.equal(value, original);
    assert.equal(isolated, false);
  });

  it("copies Headers, URL and URLSearchParams through their constructors", () => {
    const headers = new Headers({ "x-a": "1" });
    const url = new URL("https://example.com/a?b=1#c");
    const params = new URLSearchParams("a=1&b=2");
    const { value, isolated } = snapshotArgs([headers, url, params] as [Headers, URL, URLSearchParams]);
    assert.equal(isolated, true);
    const [h, u, p] = value;
    assert.ok(h instanceof Headers && u instanceof URL && p instanceof URLSearchParams);
    assert.notEqual(h, headers);
    h.set("x-a", "2");
    assert.equal(headers.get("x-a"), "1");
    assert.equal(u.href, url.href);
    u.pathname = "/z";
    assert.equal(url.pathname, "/a");
    p.append("c", "3");
    assert.equal(params.toString(), "a=1&b=2");
  });
});

describe("snapshot: handles are shared", () => {
  const handles: Array<[string, () => unknown]> = [
    ["a function", () => () => 1],
    ["a promise", () => Promise.resolve(1)],
    ["a thenable plain object", () => ({ then: () => undefined })],
    ["a thenable class instance", () => new (class { then(): void {} })()],
    ["a stream", () => Readable.from(["a"])],
    ["an EventEmitter", () => new EventEmitter()],
    ["an AbortSignal", () => new AbortController().signal],
    ["an Error", () => new Error("boom")],
    ["a WeakMap", () => new WeakMap()],
    ["a WeakSet", () => new WeakSet()],
    ["a WeakRef", () => new WeakRef({})],
    ["a boxed primitive", () => Object(1) as unknown],
    ["a SharedArrayBuffer", () => new SharedArrayBuffer(8)],
    ["a generator", () => (function* () {})()],
    ["an Intl object", () => new Intl.NumberFormat("en")],
    ["a class instance holding a function (a client)", () => new Client("http://x", () => undefined)],
    ["a class instance holding an emitter", () => Object.assign(new Money(1, "EUR"), { bus: new EventEmitter() })],
    ["a class instance with a symbol-keyed field", () => Object.assign(new Money(1, "EUR"), { [Symbol("state")]: 1 })],
    ["a class instance with a non-enumerable field", () => Object.defineProperty(new Money(1, "EUR"), "hidden", { value: 1 })],
    ["a plain object with a getter", () => ({ get total() { return 1; } })],
    ["a plain object with a setter only", () => ({ set total(_v: number) {} })],
    ["an array with an accessor element", () => Object.defineProperty([1, 2], 0, { get: () => 1 })],
  ];
  for (const [name, make] of handles) {
    it(`shares ${name} by reference and reports isolated: false`, () => {
      const original = make();
      const { value, isolated } = snapshot(original);
      assert.equal(value, original);
      assert.equal(isolated, false);
    });
  }

  it("never invokes a getter, on a plain object, a class instance or an array", () => {
    let calls = 0;
    const plain = { a: 1, get b() { calls++; return 2; } };
    const instance = Object.defineProperty(new Money(1, "EUR"), "c", { get: () => { calls++; return 3; }, enumerable: true });
    const array = Object.defineProperty([1, 2], 1, { get: () => { calls++; return 3; }, enumerable: true });
    const args: [{ plain: typeof plain }, { instance: Money }, { array: number[] }] = [{ plain }, { instance }, { array }];
    const { value, isolated } = snapshotArgs(args);
    assert.equal(calls, 0);
    assert.equal(isolated, false);
    assert.equal(value[0].plain, plain);
    assert.equal(value[1].instance, instance);
    assert.equal(value[2].array, array);
  });

  it("copies data around a shared value while the shared value keeps its identity", () => {
    const onDone = (): void => undefined;
    const emitter = new EventEmitter();
    const original = { order: { id: 1, lines: [{ qty: 1 }] }, onDone, emitter };
    const { value, isolated } = snapshot(original);
    assert.equal(isolated, false);
    assert.notEqual(value, original);
    assert.notEqual(value.order, original.order);
    assert.deepEqual(value.order, original.order);
    assert.equal(value.onDone, onDone);
    assert.equal(value.emitter, emitter);
    value.order.lines[0]!.qty = 5;
    assert.equal(original.order.lines[0]!.qty, 1);
  });

  it("shares a class instance holding a function whole, even inside copied data", () => {
    const client = new Client("http://x", () => undefined);
    const original = { client, note: { text: "a" } };
    const { value, isolated } = snapshot(original);
    assert.equal(isolated, false);
    assert.notEqual(value, original);
    assert.equal(value.client, client);
    assert.notEqual(value.note, original.note);
  });

  it("does not copy the data inside a shared class instance", () => {
    const inner = { n: 1 };
    const client = Object.assign(new Client("http://x", () => undefined), { inner });
    const { value } = snapshot({ client });
    assert.equal(value.client.inner, inner);
  });
});

describe("snapshot: identity and size", () => {
  // Deliberate trade-off (docs/isolation.md): cycles are tracked on the current path only, so a value
  // referenced twice without a cycle is copied twice. Identity between snapshotArgs arguments is kept.
  it("copies a value referenced twice (no cycle) into two independent copies", () => {
    const shared = { id: 1 };
    const original = { a: shared, b: shared, list: [shared] };
    const { value: copy, isolated } = snapshot(original);
    assert.equal(isolated, true);
    assert.notEqual(copy.a, shared);
    assert.notEqual(copy.b, shared);
    assert.notEqual(copy.list[0], shared);
    assert.notEqual(copy.a, copy.b);
    assert.deepEqual([copy.a, copy.b, copy.list[0]], [{ id: 1 }, { id: 1 }, { id: 1 }]);
    copy.a.id = 2;
    assert.equal(copy.b.id, 1);
    assert.equal(shared.id, 1);
  });

  it("shares whole an argument whose repeated references add up past the node limit", () => {
    // 2^14 paths through 14 levels of { l: x, r: x }: a few objects, but far more nodes once
    // repeated references are walked each time they are met.
    let node: Record<string, unknown> = { leaf: 1 };
    for (let i = 0; i < 14; i++) node = { l: node, r: node };
    const { value, isolated } = snapshot(node);
    assert.equal(value, node);
    assert.equal(isolated, false);
  });

  it("turns a cyclic input into a cyclic copy", () => {
    type Node = { name: string; self?: Node; children: Node[]; parent?: Node };
    const root: Node = { name: "root", children: [] };
    root.self = root;
    const child: Node = { name: "child", children: [], parent: root };
    root.children.push(child);
    const { value: copy, isolated } = snapshot(root);
    assert.equal(isolated, true);
    assert.notEqual(copy, root);
    assert.equal(copy.self, copy);
    assert.equal(copy.children[0]!.parent, copy);
    assert.notEqual(copy.children[0], child);
  });

  it("preserves references between arguments", () => {
    const line = { sku: "A" };
    const { value } = snapshotArgs([{ line }, line] as [{ line: { sku: string } }, { sku: string }]);
    assert.equal(value[0].line, value[1]);
    assert.notEqual(value[1], line);
  });

  it("preserves references between arguments whichever comes first, and one argument passed twice", () => {
    const line = { sku: "A" };
    const { value } = snapshotArgs([line, { line }, line] as [{ sku: string }, { line: { sku: string } }, { sku: string }]);
    assert.notEqual(value[0], line);
    assert.equal(value[1].line, value[0]);
    assert.equal(value[2], value[0]);
  });

  it("keeps a cycle that runs between arguments", () => {
    type A = { b?: B; name: string };
    type B = { a?: A; name: string };
    const a: A = { name: "a" };
    const b: B = { name: "b", a };
    a.b = b;
    const { value, isolated } = snapshotArgs([a, b] as [A, B]);
    assert.equal(isolated, true);
    assert.notEqual(value[0], a);
    assert.notEqual(value[1], b);
    assert.equal(value[0].b?.a, value[0]);
    // b's copy inside a's walk points back at a's copy (a cycle through an ancestor), so it is not
    // reused for argument b: b is copied again, and its `a` is argument a's copy.
    assert.equal(value[1].a, value[0]);
    assert.deepEqual(value[1].name, "b");
  });

  it("keeps a cycle back to an ancestor deeper than the linear scan", () => {
    type Link = { i: number; next?: Link; head?: Link };
    const head: Link = { i: 0 };
    let node = head;
    for (let i = 1; i < 100; i++) node = node.next = { i };
    node.head = head;
    const copy = snapshot(head).value;
    let last = copy;
    while (last.next !== undefined) last = last.next;
    assert.equal(last.i, 99);
    assert.equal(last.head, copy);
    assert.notEqual(copy, head);
  });

  it("keeps a cycle through an array and through a class instance", () => {
    const list: unknown[] = [1];
    list.push(list);
    const copy = snapshot(list).value;
    assert.notEqual(copy, list);
    assert.equal(copy[1], copy);
    const money = new Money(1, "EUR") as Money & { self?: unknown };
    money.self = { back: money };
    const m = snapshot(money).value;
    assert.notEqual(m, money);
    assert.equal((m.self as { back: unknown }).back, m);
  });

  it("keeps a cycle through a Map", () => {
    const original = new Map<string, unknown>();
    original.set("self", original);
    const copy = snapshot(original).value;
    assert.notEqual(copy, original);
    assert.equal(copy.get("self"), copy);
  });

  it(`shares an argument over ${SNAPSHOT_NODE_LIMIT} nodes whole while the other arguments are still copied`, () => {
    const big = Array.from({ length: SNAPSHOT_NODE_LIMIT }, (_, i) => ({ i })); // array + 10 000 objects + their fields
    const small = { a: 1 };
    const { value, isolated } = snapshotArgs([small, big, small] as [typeof small, typeof big, typeof small]);
    assert.equal(isolated, false);
    assert.equal(value[1], big);
    assert.notEqual(value[0], small);
    assert.deepEqual(value[0], small);
    assert.equal(value[2], value[0]);
  });

  it("shares an array of exactly 10 001 nodes and copies one of 10 000", () => {
    const over = new Array<number>(SNAPSHOT_NODE_LIMIT).fill(1); // 1 array + 10 000 numbers
    const at = new Array<number>(SNAPSHOT_NODE_LIMIT - 1).fill(1);
    assert.equal(snapshot(over).value, over);
    assert.equal(snapshot(over).isolated, false);
    assert.notEqual(snapshot(at).value, at);
    assert.equal(snapshot(at).isolated, true);
  });

  it("does not let a partial copy of an oversized argument leak into a later argument", () => {
    const inner = { x: 1 };
    const big = [inner, ...new Array<number>(SNAPSHOT_NODE_LIMIT).fill(0)];
    const { value } = snapshotArgs([big, inner] as [unknown[], { x: number }]);
    assert.equal(value[0], big);
    assert.notEqual(value[1], inner);
    assert.deepEqual(value[1], { x: 1 });
  });

  it("returns a new array from snapshotArgs and isolated: true for pure data", () => {
    const args: [{ a: number }, string, number[]] = [{ a: 1 }, "s", [1, 2]];
    const { value, isolated } = snapshotArgs(args);
    assert.notEqual(value, args);
    assert.ok(Array.isArray(value));
    assert.deepEqual(value, args);
    assert.equal(isolated, true);
  });

  it("reports a function argument of snapshotArgs as shared", () => {
    const fn = (): number => 1;
    const { value, isolated } = snapshotArgs([fn, 1]);
    assert.equal(value[0], fn);
    assert.equal(isolated, false);
  });

  it("rethrows what a Proxy's trap throws during the walk", () => {
    const trap = new Proxy({ a: 1 }, {
      getOwnPropertyDescriptor() {
        throw new Error("trap");
      },
    });
    assert.throws(() => snapshot({ trap }), /trap/);
  });

  it("does not let a re-entrant snapshot from a Proxy trap disturb the outer walk", () => {
    const proxied = new Proxy({ a: { b: 1 } }, {
      getOwnPropertyDescriptor(target, key) {
        snapshot({ unrelated: () => 1 });
        return Reflect.getOwnPropertyDescriptor(target, key);
      },
    });
    const { value, isolated } = snapshot({ proxied });
    assert.equal(isolated, true);
    assert.deepEqual(value.proxied, { a: { b: 1 } });
  });

  it("shares a chain too deep for the call stack instead of throwing", () => {
    type Link = { next?: Link };
    const head: Link = {};
    let node = head;
    for (let i = 0; i < SNAPSHOT_NODE_LIMIT - 10; i++) node = node.next = {};
    const { value } = snapshot(head);
    // Either copied (the stack sufficed) or shared whole; never a RangeError.
    assert.ok(value === head || value.next !== head.next);
  });
});

describe("snapshot: depth bound", () => {
  function chain(depth: number): { next?: unknown } {
    let value: { next?: unknown } = {};
    for (let i = 0; i < depth; i++) value = { next: value };
    return value;
  }

  it(`copies a value ${SNAPSHOT_DEPTH_LIMIT - 1} objects deep`, () => {
    const deep = chain(SNAPSHOT_DEPTH_LIMIT - 2);
    const { value, isolated } = snapshot(deep);
    assert.equal(isolated, true);
    assert.notEqual(value, deep);
    assert.deepEqual(value, deep);
  });

  it(`shares a value nested deeper than ${SNAPSHOT_DEPTH_LIMIT} levels whole`, () => {
    const deep = chain(SNAPSHOT_DEPTH_LIMIT + 1);
    const { value, isolated } = snapshot(deep);
    assert.equal(value, deep);
    assert.equal(isolated, false);
  });

  it("shares only the deep argument and still copies the others", () => {
    const deep = chain(SNAPSHOT_DEPTH_LIMIT * 3);
    const small = { a: 1 };
    const { value, isolated } = snapshotArgs([small, deep]);
    assert.equal(isolated, false);
    assert.equal(value[1], deep);
    assert.notEqual(value[0], small);
  });

  it("shares nests of Maps, Sets and arrays 100 000 levels deep without a stack overflow", () => {
    let value: unknown = 1;
    for (let i = 0; i < 100_000; i++) value = i % 3 === 0 ? new Map([["k", value]]) : i % 3 === 1 ? new Set([value]) : [value];
    const result = snapshot(value);
    assert.equal(result.value, value);
    assert.equal(result.isolated, false);
  });
});

describe("snapshot: binary bound", () => {
  it(`shares a Buffer over ${SNAPSHOT_BINARY_LIMIT} bytes and copies the data around it`, () => {
    const big = Buffer.alloc(SNAPSHOT_BINARY_LIMIT + 1, 7);
    const arg = { big, meta: { id: 1 } };
    const { value, isolated } = snapshot(arg);
    assert.equal(isolated, false);
    assert.equal(value.big, big);
    assert.notEqual(value.meta, arg.meta);
    assert.deepEqual(value.meta, arg.meta);
  });

  it("copies a Buffer of exactly the bound", () => {
    const buffer = Buffer.alloc(SNAPSHOT_BINARY_LIMIT, 1);
    const { value, isolated } = snapshot(buffer);
    assert.equal(isolated, true);
    assert.notEqual(value, buffer);
    assert.ok(value.equals(buffer));
  });

  it("counts binary data across all the arguments of one call", () => {
    const first = new Uint8Array(SNAPSHOT_BINARY_LIMIT / 2 + 1);
    const second = new Uint8Array(SNAPSHOT_BINARY_LIMIT / 2 + 1);
    const { value, isolated } = snapshotArgs([first, second]);
    assert.equal(isolated, false);
    assert.notEqual(value[0], first, "the first fits and is copied");
    assert.equal(value[1], second, "the second would pass the bound and is shared");
  });

  it("shares an ArrayBuffer, a DataView and a Float64Array over the bound", () => {
    const buffer = new ArrayBuffer(SNAPSHOT_BINARY_LIMIT + 8);
    for (const big of [buffer, new DataView(buffer), new Float64Array(buffer)]) {
      const { value, isolated } = snapshot({ big });
      assert.equal(value.big, big);
      assert.equal(isolated, false);
    }
  });

  it("starts every call with a fresh binary budget", () => {
    const buffer = Buffer.alloc(SNAPSHOT_BINARY_LIMIT, 1);
    assert.equal(snapshot(buffer).isolated, true);
    assert.equal(snapshot(buffer).isolated, true);
  });
});

describe("snapshot: cost linear in the arguments", () => {
  it("keeps references between 20 000 spread arguments", () => {
    const args: Array<{ i: number; ref?: unknown }> = Array.from({ length: 20_000 }, (_, i) => ({ i }));
    (args[19_999] as { ref?: unknown }).ref = args[0];
    const { value, isolated } = snapshotArgs(args);
    assert.equal(isolated, true);
    assert.notEqual(value[0], args[0]);
    assert.equal(value[19_999]?.ref, value[0]);
  });

  it("keeps one copy of an argument passed twice among many", () => {
    const shared = { s: 1 };
    const args: unknown[] = Array.from({ length: 50 }, (_, i) => ({ i }));
    args[10] = shared;
    args[40] = shared;
    const { value } = snapshotArgs(args);
    assert.equal(value[10], value[40]);
    assert.notEqual(value[10], shared);
  });
});

describe("snapshot: hostile values", () => {
  it("never overflows the stack: it copies, shares, or throws only what the value itself threw", () => {
    fc.assert(
      fc.property(hostileValue(), (recipe) => {
        const value = recipe.build();
        try {
          const result = snapshot(value);
          assert.equal(typeof result.isolated, "boolean");
        } catch (error) {
          // A throwing Proxy trap or getter's own error (the engine reports it as `isolate`).
          assert.ok(!(error instanceof RangeError && /call stack/i.test(error.message)), "no stack overflow");
        }
      }),
      { numRuns: 300 },
    );
  });
});
