import { strict as assert } from "node:assert";
import { runInNewContext } from "node:vm";
import {
  TAG_BOXED,
  TAG_BUFFER,
  TAG_DATE,
  TAG_ERROR,
  TAG_FIELDS,
  TAG_MAP,
  TAG_REGEXP,
  TAG_SET,
  TAG_VIEW,
  binaryEqual,
  classify,
  datesEqual,
  isDeepMember,
  isOwnEnumerable,
  regExpsEqual,
  sameValueZero,
  unbox,
} from "../../src/compare/walk-helpers";

describe("walk helpers", () => {
  const tags: Array<[string, object, number]> = [
    ["classifies Dates", new Date(), TAG_DATE],
    ["classifies RegExps", /a/, TAG_REGEXP],
    ["classifies Maps", new Map(), TAG_MAP],
    ["classifies Sets", new Set(), TAG_SET],
    ["classifies typed arrays as views", new Uint16Array(1), TAG_VIEW],
    ["classifies Buffers as views", Buffer.alloc(1), TAG_VIEW],
    ["classifies DataViews as views", new DataView(new ArrayBuffer(1)), TAG_VIEW],
    ["classifies ArrayBuffers", new ArrayBuffer(1), TAG_BUFFER],
    ["classifies boxed primitives", new String("x"), TAG_BOXED],
    ["classifies errors", new Error("x"), TAG_ERROR],
    ["classifies plain objects as fields", {}, TAG_FIELDS],
    ["classifies an object that only inherits from Date.prototype as fields", Object.create(Date.prototype) as object, TAG_FIELDS],
  ];
  for (const [name, value, tag] of tags) {
    it(name, () => assert.equal(classify(value), tag));
  }

  it("recognises a Date from another realm by its internal slot", () => {
    assert.equal(classify(runInNewContext("new Date(0)") as object), TAG_DATE);
  });

  it("checks own enumerable properties only", () => {
    const o = Object.defineProperty({ a: 1 }, "hidden", { value: 1, enumerable: false });
    assert.equal(isOwnEnumerable(o, "a"), true);
    assert.equal(isOwnEnumerable(o, "hidden"), false);
    assert.equal(isOwnEnumerable(o, "toString"), false);
  });

  it("implements SameValueZero", () => {
    assert.equal(sameValueZero(NaN, NaN), true);
    assert.equal(sameValueZero(0, -0), true);
    assert.equal(sameValueZero(1, "1"), false);
  });

  it("unboxes every kind of boxed primitive", () => {
    assert.equal(unbox(new Number(2)), 2);
    assert.equal(unbox(new String("s")), "s");
    assert.equal(unbox(new Boolean(true)), true);
    assert.equal(unbox(Object(3n) as object), 3n);
  });

  it("compares Dates by time, invalid Dates as equal", () => {
    assert.equal(datesEqual(new Date(1), new Date(1)), true);
    assert.equal(datesEqual(new Date(1), new Date(2)), false);
    assert.equal(datesEqual(new Date(NaN), new Date(NaN)), true);
  });

  it("compares RegExps by source and flags, not lastIndex", () => {
    const a = /a/g;
    a.lastIndex = 3;
    assert.equal(regExpsEqual(a, /a/g), true);
    assert.equal(regExpsEqual(/a/g, /a/), false);
  });

  it("compares binary data by content, respecting offsets", () => {
    const backing = new Uint8Array([9, 1, 2, 9]);
    assert.equal(binaryEqual(new Uint8Array(backing.buffer, 1, 2), new Uint8Array([1, 2])), true);
    assert.equal(binaryEqual(new Uint8Array([1, 2]), new Uint8Array([1, 3])), false);
    assert.equal(binaryEqual(new Uint8Array([1]).buffer, new Uint8Array([1]).buffer), true);
    assert.equal(binaryEqual(new Float32Array([NaN, -0]), new Float32Array([NaN, 0])), true);
    assert.equal(binaryEqual(new Float64Array([1]), new Float64Array([2])), false);
  });

  it("sends only non-null objects to deep member matching", () => {
    assert.equal(isDeepMember({}), true);
    assert.equal(isDeepMember(null), false);
    assert.equal(isDeepMember(() => 1), false);
    assert.equal(isDeepMember(1), false);
  });
});
