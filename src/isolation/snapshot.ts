/**
 * The argument snapshot: a fast walk that copies data and shares handles (API.md, "Isolation: copy
 * data, share handles"). It runs on the caller's path for every sampled call, so the hot path (plain
 * objects, arrays, primitives) is written for V8: no closures, no per-node allocations besides the
 * copy itself and the one property descriptor per key that accessor detection needs.
 *
 * What is data (copied):
 * - primitives (symbols and bigints included), returned as they are;
 * - plain objects (prototype `Object.prototype` or `null`, prototype kept): own enumerable
 *   string-keyed properties. Symbol-keyed and non-enumerable properties of plain objects are **not
 *   copied** (they are rare in request data, JSON cannot carry them, and finding them costs a
 *   native call per object on the hot path);
 * - arrays: elements copied, holes kept as holes; extra non-index properties are **not copied**;
 *   an `Array` subclass keeps its prototype;
 * - `Date`, `Map` (keys and values walked), `Set` (members walked), `RegExp` (source, flags,
 *   `lastIndex`), typed arrays and `Buffer` (the viewed bytes copied into new memory, same prototype),
 *   `ArrayBuffer` (bytes copied, resizability kept), `DataView` (viewed bytes copied). Extra own
 *   properties of these are copied only on subclasses (by the class-instance rule below). Two views over
 *   one buffer become two independent copies;
 * - class instances whose own properties are all enumerable, string-keyed data properties that are
 *   themselves not handles: a new object with the same prototype, those properties copied. No
 *   getter and no constructor is ever invoked;
 * - `Request` / `Response` (fetch globals) through their own `clone()` (a tee of the body, so both sides
 *   can read it), `Headers`, `URL` and `URLSearchParams` through their constructors.
 *
 * What is a handle (shared by reference, the snapshot is then `isolated: false`):
 * - functions, promises and thenables (anything with a `then` method), `EventEmitter`s (streams,
 *   sockets, servers), `EventTarget`s (`AbortSignal`), `Error`s (they are thrown and compared by
 *   identity, and a walk cannot copy their stack or internal slot), `WeakMap` / `WeakSet` / `WeakRef` /
 *   `FinalizationRegistry`, boxed primitives, `SharedArrayBuffer`, iterators and generators, instances
 *   of other native (built-in) classes, a `Response` / `Request` whose body was already read;
 * - any object (plain or not) with an own accessor property: its getters are never invoked;
 * - class instances with a handle-valued own property (clients), or with own symbol-keyed or
 *   non-enumerable properties (their state could not be copied faithfully, so sharing them is the
 *   honest answer);
 * - any argument whose walk exceeds {@link SNAPSHOT_NODE_LIMIT} nodes, or nests objects more than
 *   {@link SNAPSHOT_DEPTH_LIMIT} levels deep (or, as a last resort, exhausts the call stack): the walk
 *   stops early and the whole argument is shared;
 * - binary data (`Buffer`, typed arrays, `ArrayBuffer`, `DataView`) that would take the bytes copied in
 *   one call past {@link SNAPSHOT_BINARY_LIMIT} (1 MiB): that value alone is shared.
 *
 * Data around a shared value is copied, data inside it is not: a plain object holding a function is
 * copied with the function shared; a class instance holding one is shared whole.
 *
 * Cost: linear in the nodes visited. The "is this object another argument?" check is a scan for a
 * few arguments and one `Map` look-up for many (20 000 spread arguments cost 20 000 look-ups).
 *
 * References: a cycle becomes the same cycle in the copy (a value met again while it is still being
 * copied further up maps to that copy), and in `snapshotArgs` an argument reached from another
 * argument (or passed twice) maps to that argument's one copy. Any other value referenced twice is
 * **copied twice**: `{ a: x, b: x }` becomes `{ a: x1, b: x2 }` with `x1 !== x2`. This is a deliberate
 * trade-off for speed — remembering every copied object in a `Map` was the walk's largest
 * bookkeeping cost — and it is what a candidate sees only if it compares identities or mutates one
 * reference and reads the other. Because repeated references are walked each time, they count
 * against {@link SNAPSHOT_NODE_LIMIT} each time.
 *
 * Limits: ES `#private` fields and internal slots cannot be seen or copied by any walk, so an instance
 * of a user class keeping its state there would be copied as an empty shell: such classes need the
 * experiment's `isolate` option. Proxies are walked through their traps (a throwing trap makes the
 * walk throw, which the engine reports as operation `isolate`).
 */
import { EventEmitter } from "node:events";
import { types } from "node:util";
import { UNREADABLE, errorMessageOf } from "../compare/safe-read";

/**
 * A copy of a value, and whether the copy is fully isolated from the original.
 *
 * @example
 * ```ts
 * const { value, isolated } = snapshot({ total: 1 });
 * // value is a new object; isolated === true
 * ```
 */
export interface Snapshot<T> {
  /** The copy: new objects for data, the original references for handles. */
  readonly value: T;
  /** False when anything had to be shared by reference (a handle, an accessor, the size bound). */
  readonly isolated: boolean;
}

/**
 * The most nodes one argument's walk may visit before the argument is shared whole. A node is every
 * value the walk meets: the argument itself, each property value, array slot (holes included),
 * `Map` key and value and `Set` member. A repeated (non-cyclic) reference is walked, and its whole
 * subtree counted, each time it is met; a typed array or buffer counts once, whatever its length.
 *
 * @example
 * ```ts
 * const big = Array.from({ length: SNAPSHOT_NODE_LIMIT }, (_, i) => i); // 10 001 nodes with the array
 * snapshot(big).isolated; // false: shared, not copied
 * ```
 */
export const SNAPSHOT_NODE_LIMIT = 10_000;
// A local binding: compiled CommonJS would read `exports.SNAPSHOT_NODE_LIMIT` on every node otherwise.
const LIMIT = SNAPSHOT_NODE_LIMIT;

/**
 * The most bytes of binary data (`Buffer`, typed arrays, `ArrayBuffer`, `DataView`) one `snapshot`
 * or `snapshotArgs` call copies: 1 MiB. A binary value that would take the call past it is shared by
 * reference (the snapshot is then `isolated: false`); smaller ones met before it are still copied,
 * and so is the data around it.
 *
 * @example
 * ```ts
 * const big = Buffer.alloc(2 * SNAPSHOT_BINARY_LIMIT);
 * const { value, isolated } = snapshot({ big });
 * value.big === big; // true: shared, not copied
 * isolated;          // false
 * ```
 */
export const SNAPSHOT_BINARY_LIMIT = 1024 * 1024;
const BINARY_LIMIT = SNAPSHOT_BINARY_LIMIT;

/**
 * The deepest an argument's walk goes: a value nested more than this many objects deep is shared
 * whole (`isolated: false`), like one over the node limit. The walk recurses once per level, and this
 * keeps it far from the call stack's end whatever the value, so that no value, however deep, can
 * overflow the stack of the caller's call.
 *
 * @example
 * ```ts
 * let deep: unknown = 1;
 * for (let i = 0; i < SNAPSHOT_DEPTH_LIMIT + 1; i++) deep = { next: deep };
 * snapshot(deep).isolated; // false: shared, not copied
 * ```
 */
export const SNAPSHOT_DEPTH_LIMIT = 500;
const DEPTH_LIMIT = SNAPSHOT_DEPTH_LIMIT;

/** Above this many arguments, the argument look-up is a `Map` rather than a scan (linear in all). */
const ARG_SCAN = 8;

// ---------------------------------------------------------------------------------------------
// Intrinsics, captured once so that user code patching prototypes cannot redirect the walk.

const getProto = Object.getPrototypeOf;
const setProto = Object.setPrototypeOf;
const getOwnDesc = Object.getOwnPropertyDescriptor;
const defineProp = Object.defineProperty;
const objectCreate = Object.create;
const ownKeys = Reflect.ownKeys;
const isArray = Array.isArray;
const lookupGetter = (Object.prototype as unknown as { __lookupGetter__: (this: unknown, key: PropertyKey) => unknown })
  .__lookupGetter__;

const ObjectProto = Object.prototype;
const ArrayProto = Array.prototype;
const DateProto = Date.prototype;
const MapProto = Map.prototype;
const SetProto = Set.prototype;
const RegExpProto = RegExp.prototype;
const ArrayBufferProto = ArrayBuffer.prototype;
const DataViewProto = DataView.prototype;
const TypedArrayProto: object = getProto(Uint8Array.prototype) as object;
const BufferProto = Buffer.prototype;

const dateGetTime = DateProto.getTime;
const mapForEach = MapProto.forEach;
const mapSet = MapProto.set;
const setForEach = SetProto.forEach;
const setAdd = SetProto.add;

function intrinsicGetter(proto: object, key: string): (this: unknown) => unknown {
  const d = getOwnDesc(proto, key);
  if (d === undefined || d.get === undefined) throw new Error(`penumbra: missing intrinsic ${key}`);
  return d.get as (this: unknown) => unknown;
}
const regExpSource = intrinsicGetter(RegExpProto, "source");
const regExpFlags = intrinsicGetter(RegExpProto, "flags");
const typedArrayLength = intrinsicGetter(TypedArrayProto, "length");
const typedArrayByteLength = intrinsicGetter(TypedArrayProto, "byteLength");
const typedArraySet = (TypedArrayProto as { set: (this: unknown, src: unknown) => void }).set;
const arrayBufferByteLength = intrinsicGetter(ArrayBufferProto, "byteLength");
const dataViewBuffer = intrinsicGetter(DataViewProto, "buffer");
const dataViewByteOffset = intrinsicGetter(DataViewProto, "byteOffset");
const dataViewByteLength = intrinsicGetter(DataViewProto, "byteLength");

type TypedArrayCtor = new (length: number) => ArrayBufferView;
const TYPED_ARRAY_CTORS = new Map<object, TypedArrayCtor>();
for (const ctor of [
  Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
  Float32Array, Float64Array, BigInt64Array, BigUint64Array,
]) {
  TYPED_ARRAY_CTORS.set(ctor.prototype, ctor as unknown as TypedArrayCtor);
}

// ---------------------------------------------------------------------------------------------
// Classification of non-plain objects, cached per prototype (one WeakMap lookup per instance).

const K_CLASS = 0; // a class instance: copied if all its own properties are data
const K_HANDLE = 1;
const K_ARRAY = 2; // an Array subclass
const K_DATE = 3;
const K_MAP = 4;
const K_SET = 5;
const K_REGEXP = 6;
const K_TYPED = 7;
const K_ARRAYBUFFER = 8;
const K_DATAVIEW = 9;
const K_REQUEST = 10;
const K_RESPONSE = 11;
const K_HEADERS = 12;
const K_URL = 13;
const K_SEARCHPARAMS = 14;
type Kind = number;

/** Prototypes whose instances (and subclass instances) are handles. */
const HANDLE_PROTOS = new Set<object>();
function addHandleProto(p: unknown): void {
  if ((typeof p === "object" && p !== null) || typeof p === "function") HANDLE_PROTOS.add(p);
}
addHandleProto(Function.prototype);
addHandleProto(Promise.prototype);
addHandleProto(Error.prototype);
addHandleProto(WeakMap.prototype);
addHandleProto(WeakSet.prototype);
addHandleProto(globalThis.WeakRef?.prototype);
addHandleProto(globalThis.FinalizationRegistry?.prototype);
addHandleProto(Number.prototype);
addHandleProto(String.prototype);
addHandleProto(Boolean.prototype);
addHandleProto(Symbol.prototype);
addHandleProto(BigInt.prototype);
addHandleProto(SharedArrayBuffer.prototype);
addHandleProto(EventEmitter.prototype);
addHandleProto(globalThis.EventTarget?.prototype);
// %IteratorPrototype% and %AsyncIteratorPrototype%: generators and built-in iterators live in slots.
addHandleProto(getProto(getProto([][Symbol.iterator]())));
addHandleProto(getProto(getProto(getProto((async function* () {})()))));

const KNOWN_PROTOS = new Map<object, Kind>([
  [ArrayProto, K_ARRAY],
  [DateProto, K_DATE],
  [MapProto, K_MAP],
  [SetProto, K_SET],
  [RegExpProto, K_REGEXP],
  [TypedArrayProto, K_TYPED],
  [ArrayBufferProto, K_ARRAYBUFFER],
  [DataViewProto, K_DATAVIEW],
  [URL.prototype, K_URL],
  [URLSearchParams.prototype, K_SEARCHPARAMS],
]);

/** Fetch classes are resolved lazily: touching `globalThis.Request` loads undici. */
const FETCH_CLASSES: Record<string, Kind> = { Request: K_REQUEST, Response: K_RESPONSE, Headers: K_HEADERS };

const kindCache = new WeakMap<object, Kind>();

function kindOf(proto: object): Kind {
  let kind = kindCache.get(proto);
  if (kind === undefined) {
    kind = classify(proto);
    kindCache.set(proto, kind);
  }
  return kind;
}

/** Walks the prototype chain (descriptors only, no getter runs) to name what instances of `proto` are. */
function classify(proto: object): Kind {
  let native = false;
  for (let p: object | null = proto; p !== null && p !== ObjectProto; p = getProto(p) as object | null) {
    if (HANDLE_PROTOS.has(p)) return K_HANDLE;
    const known = KNOWN_PROTOS.get(p);
    if (known !== undefined) return known;
    // A `then` anywhere on the chain makes a thenable, which the engine would adopt like a promise.
    if (getOwnDesc(p, "then") !== undefined) return K_HANDLE;
    const ctorDesc = getOwnDesc(p, "constructor");
    const ctor: unknown = ctorDesc?.value;
    if (typeof ctor === "function") {
      const nameDesc = getOwnDesc(ctor, "name");
      const name: unknown = nameDesc?.value;
      if (typeof name === "string" && Object.prototype.hasOwnProperty.call(FETCH_CLASSES, name)) {
        const global = (globalThis as unknown as Record<string, unknown>)[name];
        if (typeof global === "function" && global.prototype === p) return FETCH_CLASSES[name] as Kind;
      }
      // Instances of other built-in (native) classes keep their state in internal slots. Decided
      // after the whole chain: an intermediate native prototype (Uint8Array under Buffer) may still
      // lead to a known one.
      if (!native && isNativeFunction(ctor)) native = true;
    }
  }
  return native ? K_HANDLE : K_CLASS;
}

const functionToString = Function.prototype.toString;
function isNativeFunction(fn: unknown): boolean {
  try {
    return /\{\s*\[native code\]\s*\}\s*$/.test(functionToString.call(fn));
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Walk state. Module-level (not a per-call object) to keep the hot path free of allocations; saved
// and restored around every public call because a Proxy trap could re-enter `snapshot`.
//
// Cycles are found on the current path, not in a map of everything copied: `path[2i]` is the i-th
// object from the argument down to the object being copied and `path[2i + 1]` its copy. A value met
// again while it is still on the path is a cycle and maps to that copy; a value met again elsewhere
// (a repeated, non-cyclic reference) is copied again. A `Map` from original to copy hashes every
// object (measured: the largest bookkeeping cost of the old walk); the path is a few entries deep
// and a linear scan of it costs nanoseconds.
//
// The path array is allocated per public call rather than kept at module level: the copies are
// young objects, and storing them into a long-lived (old-generation) array takes V8's write-barrier
// slow path on every store (measured ~10% of the walk); a fresh array is young too.

/** The current path, originals and copies interleaved; entries at `2 * depth` and above are stale. */
let path: unknown[] = [];
/** Length of the current path, in objects. */
let depth = 0;
/**
 * Path entries scanned linearly. Deeper ancestors (a long linked list) also go into `deepPath`, so
 * that a chain of 10 000 links costs 10 000 map look-ups rather than 50 million comparisons.
 */
const SCAN = 32;
/** Original → path index, for path entries past `SCAN`; created on first use. */
let deepPath: Map<object, number> | undefined;
/**
 * The lowest path index a cycle referred to since it was last reset: a nested argument's copy is
 * remembered for the other arguments only if no cycle inside it pointed above it (that copy would
 * otherwise reference a parent copy that may yet be discarded).
 */
let minHit = 0;
/** `snapshotArgs` with two or more arguments: the originals, whose copies other arguments reuse. */
let argIn: readonly unknown[] = [];
/** The result array: `argOut[j]` is argument j's copy once known (undefined before). */
let argOut: unknown[] = [];
/** `argIn.length`, or 0 when arguments are not tracked (one argument, or `snapshot`). */
let argN = 0;
/** With more than `ARG_SCAN` arguments: object argument → its index (first occurrence). */
let argIndex: Map<object, number> | undefined;
/** Binary bytes copied so far in the current public call. */
let binaryBytes = 0;
/** Nodes met in the current argument. */
let count = 0;
/** Whether anything was shared in the current call. */
let shared = false;

/** Thrown to unwind an argument's walk once it passes the node limit; never escapes. */
const ABORT: object = Object.freeze({ reason: "penumbra snapshot node limit" });

function shareWhole(v: object): object {
  shared = true;
  return v;
}

/** Puts `v` and its (still empty) copy on the path before its children are walked; returns the slot. */
function enter(v: object, out: unknown): number {
  const d = depth;
  if (d >= DEPTH_LIMIT) throw ABORT;
  path[2 * d] = v;
  path[2 * d + 1] = out;
  depth = d + 1;
  if (d >= SCAN) (deepPath ??= new Map()).set(v, d);
  return d;
}

/** Takes slot `d` (and everything above it) off the path. */
function leave(d: number): void {
  if (d >= SCAN) (deepPath as Map<object, number>).delete(path[2 * d] as object);
  depth = d;
}

/** An object (never null, never a function) met by the walk; the caller counted it. */
function walk(v: object): unknown {
  // A cycle: `v` is being copied further up the path, so its copy is the answer.
  const top = depth;
  const scanEnd = top > SCAN ? SCAN : top;
  for (let i = 0; i < scanEnd; i++) {
    if (path[2 * i] === v) {
      if (i < minHit) minHit = i;
      return path[2 * i + 1];
    }
  }
  if (scanEnd !== top) {
    const i = (deepPath as Map<object, number>).get(v);
    if (i !== undefined) {
      if (i < minHit) minHit = i;
      return path[2 * i + 1];
    }
  }
  if (argN !== 0) {
    if (argIndex !== undefined) {
      const j = argIndex.get(v);
      if (j !== undefined) return copyArgument(v, j);
    } else {
      for (let j = 0; j < argN; j++) if (argIn[j] === v) return copyArgument(v, j);
    }
  }
  const proto = getProto(v) as object | null;
  if (proto === ObjectProto || proto === null) return copyPlain(v as Record<string, unknown>, proto);
  if (proto === ArrayProto) return copyArray(v as unknown[], proto);
  if (proto === DateProto) return copyDate(v as Date, proto);
  return copyOther(v, proto);
}

function copyObject(v: object): unknown {
  const proto = getProto(v) as object | null;
  if (proto === ObjectProto || proto === null) return copyPlain(v as Record<string, unknown>, proto);
  if (proto === ArrayProto) return copyArray(v as unknown[], proto);
  if (proto === DateProto) return copyDate(v as Date, proto);
  return copyOther(v, proto);
}

/**
 * An object that is also argument `j` of `snapshotArgs`: one copy serves every reference to it from
 * any argument, so `snapshotArgs([{ line }, line])` keeps `a.line === b`.
 */
function copyArgument(v: object, j: number): unknown {
  const known = argOut[j];
  if (known !== undefined) return known;
  const savedMinHit = minHit;
  minHit = 0x7fffffff;
  const d = depth;
  const copy = copyObject(v);
  if (minHit >= d) argOut[j] = copy;
  if (savedMinHit < minHit) minHit = savedMinHit;
  return copy;
}

/** A child value met through a Map, a Set or a class instance: counted, objects walked. */
function child(x: unknown): unknown {
  if (++count > LIMIT) throw ABORT;
  if (typeof x === "object" && x !== null) return walk(x);
  if (typeof x === "function") shared = true;
  return x;
}

function copyPlain(v: Record<string, unknown>, proto: object | null): unknown {
  const out: Record<string, unknown> = proto === null ? (objectCreate(null) as Record<string, unknown>) : {};
  // Put on the path lazily, at the first object-valued child: only a value with children can be
  // part of a cycle, and most objects in request data are leaves (a product, a discount).
  let d = -1;
  // The node count lives in a local for the loop (a register rather than a module slot) and is
  // synchronised around the recursive walk only.
  let n = count;
  // for…in + one descriptor per key measured fastest of the sound options (bench/snapshot.ts); the
  // descriptor both proves the key is an own data property and carries its value, so no getter
  // ever runs. Inherited enumerable keys (a polluted prototype) have no own descriptor.
  for (const k in v) {
    const desc = getOwnDesc(v, k);
    if (desc === undefined) continue;
    if (desc.writable === undefined) {
      // An accessor: never read through it.
      count = n;
      if (d >= 0) leave(d);
      return shareWhole(v);
    }
    if (++n > LIMIT) throw ABORT;
    const x: unknown = desc.value;
    let c = x;
    if (typeof x === "object" && x !== null) {
      if (d < 0) d = enter(v, out);
      count = n;
      c = walk(x);
      n = count;
    } else if (typeof x === "function") {
      if (k === "then") {
        // A thenable is a promise in disguise.
        count = n;
        if (d >= 0) leave(d);
        return shareWhole(v);
      }
      shared = true;
    }
    if (k === "__proto__") defineProp(out, k, { value: c, writable: true, enumerable: true, configurable: true });
    else out[k] = c;
  }
  count = n;
  if (d >= 0) leave(d);
  return out;
}

function copyArray(v: unknown[], proto: object): unknown {
  const len = v.length;
  // Every slot counts, holes included, in one step: a sparse `new Array(1e6)` is shared at once
  // instead of being scanned slot by slot.
  if ((count += len) > LIMIT) throw ABORT;
  const out: unknown[] = new Array(len);
  let d = -1; // on the path from the first object element, as in copyPlain
  for (let i = 0; i < len; i++) {
    // getOwnPropertyDescriptor on an index takes V8's slow path (~3× a named key); __lookupGetter__
    // is cheaper and proves no getter runs on the read (it also sees a getter inherited into a hole).
    // A setter-only accessor reads as undefined without running code, so only an undefined needs
    // the full descriptor: hole, undefined element, or setter.
    if (lookupGetter.call(v, i) !== undefined) {
      if (d >= 0) leave(d);
      return shareWhole(v);
    }
    const x: unknown = v[i];
    if (typeof x === "object") {
      if (x !== null) {
        if (d < 0) d = enter(v, out);
        out[i] = walk(x);
      } else out[i] = x;
    } else if (x === undefined) {
      const desc = getOwnDesc(v, i);
      if (desc === undefined) continue; // a hole stays a hole
      if (desc.writable === undefined) {
        if (d >= 0) leave(d);
        return shareWhole(v);
      }
      out[i] = x;
    } else {
      if (typeof x === "function") shared = true;
      out[i] = x;
    }
  }
  if (d >= 0) leave(d);
  if (proto !== ArrayProto) setProto(out, proto);
  return out;
}

function copyDate(v: Date, proto: object): unknown {
  const out = new Date(dateGetTime.call(v));
  if (proto !== DateProto) return finishSubclass(v, out, proto, false);
  return out;
}

function copyOther(v: object, proto: object): unknown {
  switch (kindOf(proto)) {
    case K_CLASS:
      return copyInstance(v, proto);
    case K_ARRAY:
      return isArray(v) ? copyArray(v, proto) : copyInstance(v, proto);
    case K_DATE:
      return copyDate(v as Date, proto);
    case K_MAP: {
      const out = new Map<unknown, unknown>();
      const d = enter(v, out);
      mapForEach.call(v as Map<unknown, unknown>, addMapEntry, out);
      leave(d);
      return proto === MapProto ? out : finishSubclass(v, out, proto, false);
    }
    case K_SET: {
      const out = new Set<unknown>();
      const d = enter(v, out);
      setForEach.call(v as Set<unknown>, addSetMember, out);
      leave(d);
      return proto === SetProto ? out : finishSubclass(v, out, proto, false);
    }
    case K_REGEXP: {
      const out = new RegExp(regExpSource.call(v) as string, regExpFlags.call(v) as string);
      out.lastIndex = (v as RegExp).lastIndex;
      return proto === RegExpProto ? out : finishSubclass(v, out, proto, true);
    }
    case K_TYPED:
      return copyTyped(v, proto);
    case K_ARRAYBUFFER:
      return copyArrayBuffer(v as ArrayBuffer, proto);
    case K_DATAVIEW: {
      if (!takeBinary(dataViewByteLength.call(v) as number)) return shareWhole(v);
      const bytes = viewBytes(dataViewBuffer.call(v), dataViewByteOffset.call(v) as number, dataViewByteLength.call(v) as number);
      const out = new DataView(bytes.buffer);
      if (proto !== DataViewProto) setProto(out, proto);
      return out;
    }
    case K_REQUEST:
    case K_RESPONSE: {
      const body = v as Request | Response;
      if (body.bodyUsed) return shareWhole(v); // clone() would throw: the body is gone
      return body.clone();
    }
    case K_HEADERS:
      return new Headers(v as Headers);
    case K_URL:
      return new URL((v as URL).href);
    case K_SEARCHPARAMS:
      return new URLSearchParams(v as URLSearchParams);
    default:
      return shareWhole(v);
  }
}

// `this` is the copy being filled: passed as forEach's thisArg, so no closure per Map/Set.
function addMapEntry(this: Map<unknown, unknown>, value: unknown, key: unknown): void {
  const k = child(key);
  mapSet.call(this, k, child(value));
}
function addSetMember(this: Set<unknown>, value: unknown): void {
  setAdd.call(this, child(value));
}

function viewBytes(buffer: unknown, offset: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  typedArraySet.call(out, new Uint8Array(buffer as ArrayBuffer, offset, length));
  return out;
}

/** Counts `bytes` against the call's binary budget; false (nothing counted) when they do not fit. */
function takeBinary(bytes: number): boolean {
  if (binaryBytes + bytes > BINARY_LIMIT) return false;
  binaryBytes += bytes;
  return true;
}

function copyTyped(v: object, proto: object): unknown {
  const length = typedArrayLength.call(v) as number;
  if (!takeBinary(typedArrayByteLength.call(v) as number)) return shareWhole(v);
  let out: ArrayBufferView;
  if (proto === BufferProto) {
    // Not Buffer.from / slice / subarray: the first may land in the shared pool slab, the others
    // share the original's memory. A slow (unpooled) buffer owns its bytes.
    out = Buffer.allocUnsafeSlow(length);
  } else {
    let root: object | null = proto;
    let ctor: TypedArrayCtor | undefined;
    while (root !== null && (ctor = TYPED_ARRAY_CTORS.get(root)) === undefined) root = getProto(root) as object | null;
    if (ctor === undefined) return shareWhole(v);
    out = new ctor(length);
    if (root !== proto) setProto(out, proto);
  }
  typedArraySet.call(out, v);
  return out;
}

function copyArrayBuffer(v: ArrayBuffer, proto: object): unknown {
  const length = arrayBufferByteLength.call(v) as number;
  if (!takeBinary(length)) return shareWhole(v);
  const source = v as ArrayBuffer & { resizable?: boolean; maxByteLength?: number };
  const Ctor = ArrayBuffer as unknown as new (length: number, options?: { maxByteLength: number }) => ArrayBuffer;
  const out = source.resizable === true ? new Ctor(length, { maxByteLength: source.maxByteLength as number }) : new Ctor(length);
  typedArraySet.call(new Uint8Array(out), new Uint8Array(v));
  if (proto !== ArrayBufferProto) setProto(out, proto);
  return out;
}

/** A subclassed Map/Set/Date/RegExp: keep the prototype, copy own properties by the class rule. */
function finishSubclass(v: object, out: object, proto: object, regexp: boolean): unknown {
  setProto(out, proto);
  const d = enter(v, out);
  const ok = copyOwnInto(v, out, regexp);
  leave(d);
  return ok ? out : shareWhole(v);
}

function copyInstance(v: object, proto: object): unknown {
  const out = objectCreate(proto) as object;
  const d = enter(v, out);
  const ok = copyOwnInto(v, out, false);
  leave(d);
  return ok ? out : shareWhole(v);
}

/**
 * Copies a class instance's own properties into `out`; false when the instance must be shared whole:
 * an accessor, a symbol-keyed or non-enumerable property (state a copy would lose), or a property
 * whose value is itself shared (a client holding a socket, a callback, …).
 */
function copyOwnInto(v: object, out: object, regexp: boolean): boolean {
  const keys = ownKeys(v);
  const target = out as Record<string, unknown>;
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as string | symbol;
    if (typeof k === "symbol") return false;
    if (regexp && k === "lastIndex") continue;
    const d = getOwnDesc(v, k);
    if (d === undefined) continue;
    if (d.writable === undefined || d.enumerable !== true) return false;
    const x: unknown = d.value;
    const c = child(x);
    if (c === x && ((typeof x === "object" && x !== null) || typeof x === "function")) return false;
    if (k === "__proto__") defineProp(out, k, { value: c, writable: true, enumerable: true, configurable: true });
    else target[k] = c;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Entry points.

/** Walks one argument with its own node budget; shares it whole if the budget or the stack runs out. */
function walkArgument(value: unknown): unknown {
  if (typeof value !== "object" || value === null) {
    if (typeof value === "function") shared = true;
    return value;
  }
  count = 1;
  try {
    return walk(value);
  } catch (error) {
    if (error !== ABORT && !isStackOverflow(error)) throw error;
    // The partial copies hang off the path only: dropping the path drops them.
    unwind();
    shared = true;
    return value;
  }
}

/** Object arguments → their first index, so each node's "is this another argument?" is one look-up. */
function indexArguments(args: readonly unknown[]): Map<object, number> {
  const index = new Map<object, number>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (typeof arg === "object" && arg !== null && !index.has(arg)) index.set(arg, i);
  }
  return index;
}

/** Empties the path after a walk was thrown out of (limit, stack, or a throwing Proxy trap). */
function unwind(): void {
  depth = 0;
  deepPath = undefined;
}

/** The module-level walk state, as one value: saved and restored around every public call. */
interface WalkState {
  path: unknown[];
  depth: number;
  deepPath: Map<object, number> | undefined;
  minHit: number;
  argIn: readonly unknown[];
  argOut: unknown[];
  argN: number;
  argIndex: Map<object, number> | undefined;
  binaryBytes: number;
  count: number;
  shared: boolean;
}

function saveWalkState(): WalkState {
  return { path, depth, deepPath, minHit, argIn, argOut, argN, argIndex, binaryBytes, count, shared };
}

function restoreWalkState(state: WalkState): void {
  ({ path, depth, deepPath, minHit, argIn, argOut, argN, argIndex, binaryBytes, count, shared } = state);
}

function isStackOverflow(error: unknown): boolean {
  // Read without trusting the thrown value: a Proxy trap may have thrown something hostile.
  if (!types.isNativeError(error)) return false;
  const message = errorMessageOf(error);
  return message !== UNREADABLE && /call stack/i.test(message);
}

/**
 * Copies data and shares handles: a snapshot of `value` that later mutations of the original do
 * not reach. `isolated` is false when anything had to be shared by reference.
 *
 * Throws only when the value itself throws during the walk (a Proxy with throwing traps).
 *
 * @example
 * ```ts
 * const cart = { lines: [{ sku: "A", qty: 2 }], at: new Date(), notify: () => {} };
 * const { value, isolated } = snapshot(cart);
 * value.lines[0].qty = 3;        // cart.lines[0].qty is still 2
 * value.notify === cart.notify;  // true: functions are handles
 * isolated;                      // false, because of `notify`
 * ```
 */
export function snapshot<T>(value: T): Snapshot<T> {
  // Saved and restored: a Proxy trap met by an outer walk may call snapshot again.
  const saved = saveWalkState();
  path = [];
  depth = 0;
  deepPath = undefined;
  argN = 0;
  argIndex = undefined;
  binaryBytes = 0;
  shared = false;
  try {
    const copy = walkArgument(value) as T;
    return { value: copy, isolated: !shared };
  } finally {
    restoreWalkState(saved);
  }
}

/**
 * Snapshot of an argument list: a new array, each argument walked on its own (the node limit
 * applies per argument), references between arguments preserved: an argument reached from another
 * argument, or passed twice, has one copy. Other repeated references are copied once per reference
 * (see the module comment).
 *
 * @example
 * ```ts
 * const line = { sku: "A", qty: 1 };
 * const { value: [a, b], isolated } = snapshotArgs([{ line }, line]);
 * a.line === b;  // true: one copy for one original
 * isolated;      // true
 * ```
 */
export function snapshotArgs<A extends unknown[]>(args: A): Snapshot<A> {
  const saved = saveWalkState();
  const n = args.length;
  const out = new Array<unknown>(n);
  path = [];
  depth = 0;
  deepPath = undefined;
  // With one argument there is nothing to share a copy with (the argument itself is on the path).
  argN = n > 1 ? n : 0;
  argIn = args;
  argOut = out;
  argIndex = n > ARG_SCAN ? indexArguments(args) : undefined;
  binaryBytes = 0;
  shared = false;
  try {
    for (let i = 0; i < n; i++) {
      // Already copied while walking an earlier argument that references it: `walk` finds it.
      out[i] = walkArgument(args[i]);
    }
    return { value: out as A, isolated: !shared };
  } finally {
    restoreWalkState(saved);
  }
}
