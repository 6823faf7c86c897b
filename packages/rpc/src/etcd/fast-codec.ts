import type { Root, Type } from 'protobufjs';

// Hand-written codecs for the messages on the KV hot path: the requests a server decodes
// (PutRequest, RangeRequest, DeleteRangeRequest, CompactionRequest) and the responses it
// encodes (PutResponse, RangeResponse, DeleteRangeResponse, CompactionResponse, with
// ResponseHeader and mvccpb.KeyValue). protobufjs reflection turns every int64 into a
// Long object, builds a message instance per (sub)message and a linked list of writer
// operations per field; these codecs read and write the bytes directly.
//
// They are not a second implementation to keep in step with protobufjs: each handles
// only the common, well-formed shapes and gives up (returns undefined) on anything
// else, and the caller then uses reflection, so results are identical by construction:
//
// - decoding: only the message's own fields, each with its declared wire type, tags of
//   at most two bytes, canonical varints. An unknown field, a wrong wire type or a
//   malformed or truncated input goes to reflection (which decides whether to accept or
//   throw). The result is what `toObject(decode(bytes), ETCD_DECODE_OPTIONS)` gives:
//   every field present, int64 as bigint, enums as numbers, bytes as views onto the
//   input (Buffers when the input is a Buffer).
// - encoding: plain objects whose int64 fields are bigints or non-negative safe-integer
//   numbers and whose bytes fields are Uint8Arrays; anything else (Long objects, decimal
//   strings, base64 strings, message instances, ...) goes to reflection. The bytes are
//   those of `encode(fromObject(value))`: fields in number order, proto3 defaults (0,
//   false, empty) left out, a present sub-message written even when empty.

/** FastDecoder decodes bytes, or returns undefined to leave them to reflection. */
export type FastDecoder = (bytes: Uint8Array) => object | undefined;
/** FastEncoder encodes a value, or returns undefined to leave it to reflection. */
export type FastEncoder = (value: object) => Buffer | undefined;

const TWO_32 = 4294967296;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const EMPTY = Buffer.alloc(0);

// ---- int64 values -------------------------------------------------------------------

// splitInt64 leaves a value's low and high 32 bits (unsigned) here.
let lo = 0;
let hi = 0;

// Member and cluster ids exceed 2^53 and go through BigInt arithmetic; every response
// header carries the same two, so the last two such values are remembered.
let cachedA: bigint | undefined;
let cachedALo = 0;
let cachedAHi = 0;
let cachedB: bigint | undefined;
let cachedBLo = 0;
let cachedBHi = 0;

/**
 * splitInt64 reads an int64/uint64 field's value as protobufjs's fromObject would
 * (Long.fromValue: the low 64 bits of a bigint) into lo/hi; false when the value is of
 * a kind left to reflection.
 */
function splitInt64(value: unknown): boolean {
  if (typeof value === 'bigint') {
    if (value >= 0n && value <= MAX_SAFE) {
      const n = Number(value);
      lo = n >>> 0;
      hi = (n - lo) / TWO_32;
      return true;
    }
    if (value === cachedA) {
      lo = cachedALo;
      hi = cachedAHi;
      return true;
    }
    if (value === cachedB) {
      lo = cachedBLo;
      hi = cachedBHi;
      return true;
    }
    lo = Number(BigInt.asUintN(32, value));
    hi = Number(BigInt.asUintN(32, value >> 32n));
    cachedB = cachedA;
    cachedBLo = cachedALo;
    cachedBHi = cachedAHi;
    cachedA = value;
    cachedALo = lo;
    cachedAHi = hi;
    return true;
  }
  if (typeof value === 'number' && value >= 0 && Number.isSafeInteger(value)) {
    lo = value >>> 0;
    hi = (value - lo) / TWO_32;
    return true;
  }
  return false;
}

function varint32Size(value: number): number {
  return value < 0x80 ? 1 : value < 0x4000 ? 2 : value < 0x200000 ? 3 : value < 0x10000000 ? 4 : 5;
}

/** varint64Size is the length of the varint of lo/hi (both unsigned 32-bit). */
function varint64Size(low: number, high: number): number {
  if (high === 0) return varint32Size(low);
  // 32 bits from low plus the significant bits of high, 7 per byte.
  const bits = 64 - Math.clz32(high);
  return Math.ceil(bits / 7);
}

// ---- writing --------------------------------------------------------------------------

let out: Buffer = EMPTY;
let pos = 0;

function writeVarint32(value: number): void {
  while (value > 0x7f) {
    out[pos++] = (value & 0x7f) | 0x80;
    value >>>= 7;
  }
  out[pos++] = value;
}

function writeVarint64(low: number, high: number): void {
  while (high !== 0) {
    out[pos++] = (low & 0x7f) | 0x80;
    low = ((low >>> 7) | (high << 25)) >>> 0;
    high >>>= 7;
  }
  writeVarint32(low);
}

function writeBytesField(tag: number, bytes: Uint8Array): void {
  out[pos++] = tag;
  writeVarint32(bytes.length);
  out.set(bytes, pos);
  pos += bytes.length;
}

// ---- field checks for the size pass -----------------------------------------------
//
// Each size function returns -1 when the value holds something left to reflection.

/** int64FieldSize: bytes of a one-byte-tag int64 field (0 when left out), or -1. */
function int64FieldSize(value: unknown): number {
  if (value === undefined || value === null) return 0;
  if (!splitInt64(value)) return -1;
  if (lo === 0 && hi === 0) return 0;
  return 1 + varint64Size(lo, hi);
}

function bytesFieldSize(value: unknown): number {
  if (value === undefined || value === null) return 0;
  if (!(value instanceof Uint8Array)) return -1;
  const n = value.length;
  return n === 0 ? 0 : 1 + varint32Size(n) + n;
}

/** boolFieldSize: 2 when the value is truthy (fromObject's `Boolean(d)`), else 0. */
function boolFieldSize(value: unknown): number {
  return value ? 2 : 0;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function writeInt64Field(tag: number, value: unknown): void {
  if (value === undefined || value === null) return;
  splitInt64(value);
  if (lo === 0 && hi === 0) return;
  out[pos++] = tag;
  writeVarint64(lo, hi);
}

function writeBytesIfAny(tag: number, value: unknown): void {
  if (value === undefined || value === null) return;
  const bytes = value as Uint8Array;
  if (bytes.length !== 0) writeBytesField(tag, bytes);
}

function writeBoolField(tag: number, value: unknown): void {
  if (value) {
    out[pos++] = tag;
    out[pos++] = 1;
  }
}

/** subMessageSize: a length-delimited sub-message field of a body of `size` bytes. */
function subMessageSize(size: number): number {
  return size < 0 ? -1 : 1 + varint32Size(size) + size;
}

// ---- ResponseHeader (cluster_id 1, member_id 2, revision 3, raft_term 4) -------------

function headerBodySize(h: Record<string, unknown>): number {
  const a = int64FieldSize(h.clusterId);
  const b = int64FieldSize(h.memberId);
  const c = int64FieldSize(h.revision);
  const d = int64FieldSize(h.raftTerm);
  if (a < 0 || b < 0 || c < 0 || d < 0) return -1;
  return a + b + c + d;
}

function writeHeaderBody(h: Record<string, unknown>): void {
  writeInt64Field(0x08, h.clusterId);
  writeInt64Field(0x10, h.memberId);
  writeInt64Field(0x18, h.revision);
  writeInt64Field(0x20, h.raftTerm);
}

/** headerFieldSize: the header sub-message at field 1, 0 when null, -1 to give up. */
function headerFieldSize(value: unknown): number {
  if (value === undefined || value === null) return 0;
  if (!isPlainObject(value)) return -1;
  return subMessageSize(headerBodySize(value));
}

// ---- mvccpb.KeyValue (key 1, create_revision 2, mod_revision 3, version 4, value 5,
//      lease 6) ---------------------------------------------------------------------

function kvBodySize(kv: Record<string, unknown>): number {
  const a = bytesFieldSize(kv.key);
  const b = int64FieldSize(kv.createRevision);
  const c = int64FieldSize(kv.modRevision);
  const d = int64FieldSize(kv.version);
  const e = bytesFieldSize(kv.value);
  const f = int64FieldSize(kv.lease);
  if (a < 0 || b < 0 || c < 0 || d < 0 || e < 0 || f < 0) return -1;
  return a + b + c + d + e + f;
}

function writeKvBody(kv: Record<string, unknown>): void {
  writeBytesIfAny(0x0a, kv.key);
  writeInt64Field(0x10, kv.createRevision);
  writeInt64Field(0x18, kv.modRevision);
  writeInt64Field(0x20, kv.version);
  writeBytesIfAny(0x2a, kv.value);
  writeInt64Field(0x30, kv.lease);
}

/** kvListSize: a repeated KeyValue field (one-byte tag), or -1 to give up. */
function kvListSize(value: unknown): number {
  if (value === undefined || value === null) return 0;
  if (!Array.isArray(value)) return -1;
  let size = 0;
  for (let i = 0; i < value.length; i++) {
    const kv = value[i];
    if (!isPlainObject(kv)) return -1;
    const body = kvBodySize(kv);
    if (body < 0) return -1;
    size += 1 + varint32Size(body) + body;
  }
  return size;
}

function writeKvList(tag: number, value: unknown): void {
  if (value === undefined || value === null) return;
  const list = value as Record<string, unknown>[];
  for (let i = 0; i < list.length; i++) {
    const kv = list[i]!;
    out[pos++] = tag;
    writeVarint32(kvBodySize(kv));
    writeKvBody(kv);
  }
}

// ---- responses ----------------------------------------------------------------------

/** finish hands out the written buffer; a size mismatch (a bug) leaves it to reflection. */
function finish(size: number): Buffer | undefined {
  const result = out;
  out = EMPTY;
  return pos === size ? result : undefined;
}

function start(size: number): void {
  out = Buffer.allocUnsafe(size);
  pos = 0;
}

function writeHeader(value: unknown): void {
  if (value === undefined || value === null) return;
  const h = value as Record<string, unknown>;
  out[pos++] = 0x0a;
  writeVarint32(headerBodySize(h));
  writeHeaderBody(h);
}

/** encodePutResponse: header 1, prev_kv 2. */
function encodePutResponse(value: object): Buffer | undefined {
  if (!isPlainObject(value)) return undefined;
  const header = headerFieldSize(value.header);
  if (header < 0) return undefined;
  let prev = 0;
  const prevKv = value.prevKv;
  if (prevKv !== undefined && prevKv !== null) {
    if (!isPlainObject(prevKv)) return undefined;
    prev = subMessageSize(kvBodySize(prevKv));
    if (prev < 0) return undefined;
  }
  const size = header + prev;
  start(size);
  writeHeader(value.header);
  if (prev !== 0) {
    const kv = prevKv as Record<string, unknown>;
    out[pos++] = 0x12;
    writeVarint32(kvBodySize(kv));
    writeKvBody(kv);
  }
  return finish(size);
}

/** encodeRangeResponse: header 1, kvs 2 (repeated), more 3, count 4. */
function encodeRangeResponse(value: object): Buffer | undefined {
  if (!isPlainObject(value)) return undefined;
  const header = headerFieldSize(value.header);
  const kvs = kvListSize(value.kvs);
  const count = int64FieldSize(value.count);
  if (header < 0 || kvs < 0 || count < 0) return undefined;
  const size = header + kvs + boolFieldSize(value.more) + count;
  start(size);
  writeHeader(value.header);
  writeKvList(0x12, value.kvs);
  writeBoolField(0x18, value.more);
  writeInt64Field(0x20, value.count);
  return finish(size);
}

/** encodeDeleteRangeResponse: header 1, deleted 2, prev_kvs 3 (repeated). */
function encodeDeleteRangeResponse(value: object): Buffer | undefined {
  if (!isPlainObject(value)) return undefined;
  const header = headerFieldSize(value.header);
  const deleted = int64FieldSize(value.deleted);
  const kvs = kvListSize(value.prevKvs);
  if (header < 0 || deleted < 0 || kvs < 0) return undefined;
  const size = header + deleted + kvs;
  start(size);
  writeHeader(value.header);
  writeInt64Field(0x10, value.deleted);
  writeKvList(0x1a, value.prevKvs);
  return finish(size);
}

/** encodeCompactionResponse: header 1. */
function encodeCompactionResponse(value: object): Buffer | undefined {
  if (!isPlainObject(value)) return undefined;
  const header = headerFieldSize(value.header);
  if (header < 0) return undefined;
  start(header);
  writeHeader(value.header);
  return finish(header);
}

// ---- reading --------------------------------------------------------------------------

let buf: Uint8Array = EMPTY;
let at = 0;
let end = 0;
// readVarint leaves the value's low and high 32 bits here.
let vlo = 0;
let vhi = 0;

/**
 * readVarint reads a canonical varint of at most 10 bytes into vlo/vhi; false when it
 * is truncated, longer, or carries bits past 64 (left to reflection).
 */
function readVarint(): boolean {
  let low = 0;
  let shift = 0;
  let byte = 0;
  // Bytes 1-4: 28 bits of low.
  for (; shift < 28; shift += 7) {
    if (at >= end) return false;
    byte = buf[at++]!;
    low |= (byte & 0x7f) << shift;
    if (byte < 0x80) {
      vlo = low >>> 0;
      vhi = 0;
      return true;
    }
  }
  // Byte 5: 4 more bits of low, 3 of high.
  if (at >= end) return false;
  byte = buf[at++]!;
  low |= (byte & 0x0f) << 28;
  let high = (byte & 0x7f) >> 4;
  if (byte < 0x80) {
    vlo = low >>> 0;
    vhi = high;
    return true;
  }
  // Bytes 6-10: 7 bits of high each (the tenth may hold only bit 63).
  for (let shiftHigh = 3; shiftHigh < 32; shiftHigh += 7) {
    if (at >= end) return false;
    byte = buf[at++]!;
    if (shiftHigh === 31 && byte > 1) return false;
    high |= (byte & 0x7f) << shiftHigh;
    if (byte < 0x80) {
      vlo = low >>> 0;
      vhi = high >>> 0;
      return true;
    }
  }
  return false;
}

/** int64Value is vlo/vhi as protobufjs's toObject gives a signed int64: a bigint. */
function int64Value(): bigint {
  if (vhi < 0x200000) return BigInt(vhi * TWO_32 + vlo);
  return (BigInt(vhi | 0) << 32n) | BigInt(vlo);
}

/** readBytes reads a length-delimited value as a view onto the input, or undefined. */
function readBytes(): Uint8Array | undefined {
  if (!readVarint() || vhi !== 0) return undefined;
  const length = vlo;
  if (length > end - at) return undefined;
  const view = buf.subarray(at, at + length);
  at += length;
  return view;
}

/**
 * readTag reads a field key of one or two bytes and returns it, or -1 (a longer key, or
 * the end of input reached unexpectedly).
 */
function readTag(): number {
  if (at >= end) return -1;
  const first = buf[at++]!;
  if (first < 0x80) return first;
  if (at >= end) return -1;
  const second = buf[at++]!;
  if (second >= 0x80) return -1;
  return (first & 0x7f) | (second << 7);
}

function begin(bytes: Uint8Array): void {
  buf = bytes;
  at = 0;
  end = bytes.length;
}

function done(): undefined {
  buf = EMPTY;
  return undefined;
}

/**
 * emptyBytes is the default of a bytes field: an empty Buffer, as protobufjs gives
 * (protobufjs makes a new one each time; an empty Buffer holds nothing to share).
 */
function emptyBytes(): Buffer {
  return EMPTY;
}

/** bytesOrDefault: protobufjs keeps a field only if non-empty; else the default. */
function bytesOrDefault(value: Uint8Array): Uint8Array {
  return value.length === 0 ? emptyBytes() : value;
}

/** decodePutRequest: key 1, value 2, lease 3, prev_kv 4, ignore_value 5, ignore_lease 6. */
function decodePutRequest(bytes: Uint8Array): object | undefined {
  begin(bytes);
  let key: Uint8Array | undefined;
  let value: Uint8Array | undefined;
  let lease = 0n;
  let prevKv = false;
  let ignoreValue = false;
  let ignoreLease = false;
  while (at < end) {
    const tag = readTag();
    let bytesValue: Uint8Array | undefined;
    switch (tag) {
      case 0x0a:
        bytesValue = readBytes();
        if (bytesValue === undefined) return done();
        key = bytesValue;
        break;
      case 0x12:
        bytesValue = readBytes();
        if (bytesValue === undefined) return done();
        value = bytesValue;
        break;
      case 0x18:
        if (!readVarint()) return done();
        lease = int64Value();
        break;
      case 0x20:
        if (!readVarint()) return done();
        prevKv = (vlo | vhi) !== 0;
        break;
      case 0x28:
        if (!readVarint()) return done();
        ignoreValue = (vlo | vhi) !== 0;
        break;
      case 0x30:
        if (!readVarint()) return done();
        ignoreLease = (vlo | vhi) !== 0;
        break;
      default:
        return done();
    }
  }
  done();
  return {
    key: key === undefined ? emptyBytes() : bytesOrDefault(key),
    value: value === undefined ? emptyBytes() : bytesOrDefault(value),
    lease,
    prevKv,
    ignoreValue,
    ignoreLease,
  };
}

/**
 * decodeRangeRequest: key 1, range_end 2, limit 3, revision 4, sort_order 5,
 * sort_target 6, serializable 7, keys_only 8, count_only 9, min/max_mod_revision 10/11,
 * min/max_create_revision 12/13.
 */
function decodeRangeRequest(bytes: Uint8Array): object | undefined {
  begin(bytes);
  let key: Uint8Array | undefined;
  let rangeEnd: Uint8Array | undefined;
  let limit = 0n;
  let revision = 0n;
  let sortOrder = 0;
  let sortTarget = 0;
  let serializable = false;
  let keysOnly = false;
  let countOnly = false;
  let minModRevision = 0n;
  let maxModRevision = 0n;
  let minCreateRevision = 0n;
  let maxCreateRevision = 0n;
  while (at < end) {
    const tag = readTag();
    let bytesValue: Uint8Array | undefined;
    if (tag === 0x0a || tag === 0x12) {
      bytesValue = readBytes();
      if (bytesValue === undefined) return done();
      if (tag === 0x0a) key = bytesValue;
      else rangeEnd = bytesValue;
      continue;
    }
    // Every other field is a varint at field numbers 3..13.
    if ((tag & 7) !== 0 || tag < 0x18 || tag > 0x68 || !readVarint()) return done();
    switch (tag >>> 3) {
      case 3:
        limit = int64Value();
        break;
      case 4:
        revision = int64Value();
        break;
      case 5:
      case 6: {
        // An enum is read as int32; values outside it are left to reflection.
        if (vhi !== 0 || vlo > 0x7fffffff) return done();
        if (tag >>> 3 === 5) sortOrder = vlo;
        else sortTarget = vlo;
        break;
      }
      case 7:
        serializable = (vlo | vhi) !== 0;
        break;
      case 8:
        keysOnly = (vlo | vhi) !== 0;
        break;
      case 9:
        countOnly = (vlo | vhi) !== 0;
        break;
      case 10:
        minModRevision = int64Value();
        break;
      case 11:
        maxModRevision = int64Value();
        break;
      case 12:
        minCreateRevision = int64Value();
        break;
      case 13:
        maxCreateRevision = int64Value();
        break;
      default:
        return done();
    }
  }
  done();
  return {
    key: key === undefined ? emptyBytes() : bytesOrDefault(key),
    rangeEnd: rangeEnd === undefined ? emptyBytes() : bytesOrDefault(rangeEnd),
    limit,
    revision,
    sortOrder,
    sortTarget,
    serializable,
    keysOnly,
    countOnly,
    minModRevision,
    maxModRevision,
    minCreateRevision,
    maxCreateRevision,
  };
}

/** decodeDeleteRangeRequest: key 1, range_end 2, prev_kv 3. */
function decodeDeleteRangeRequest(bytes: Uint8Array): object | undefined {
  begin(bytes);
  let key: Uint8Array | undefined;
  let rangeEnd: Uint8Array | undefined;
  let prevKv = false;
  while (at < end) {
    const tag = readTag();
    let bytesValue: Uint8Array | undefined;
    switch (tag) {
      case 0x0a:
      case 0x12:
        bytesValue = readBytes();
        if (bytesValue === undefined) return done();
        if (tag === 0x0a) key = bytesValue;
        else rangeEnd = bytesValue;
        break;
      case 0x18:
        if (!readVarint()) return done();
        prevKv = (vlo | vhi) !== 0;
        break;
      default:
        return done();
    }
  }
  done();
  return {
    key: key === undefined ? emptyBytes() : bytesOrDefault(key),
    rangeEnd: rangeEnd === undefined ? emptyBytes() : bytesOrDefault(rangeEnd),
    prevKv,
  };
}

/** decodeCompactionRequest: revision 1, physical 2. */
function decodeCompactionRequest(bytes: Uint8Array): object | undefined {
  begin(bytes);
  let revision = 0n;
  let physical = false;
  while (at < end) {
    const tag = readTag();
    if (tag !== 0x08 && tag !== 0x10) return done();
    if (!readVarint()) return done();
    if (tag === 0x08) revision = int64Value();
    else physical = (vlo | vhi) !== 0;
  }
  done();
  return { revision, physical };
}

/**
 * fastCodecsFor returns the hand-written codecs keyed by the types of `root` (the etcd
 * protos as loaded by loadEtcdProto), so only those exact reflected types use them.
 */
export function fastCodecsFor(root: Root): {
  decoders: Map<Type, FastDecoder>;
  encoders: Map<Type, FastEncoder>;
} {
  const type = (name: string) => root.lookupType(name);
  return {
    decoders: new Map<Type, FastDecoder>([
      [type('etcdserverpb.PutRequest'), decodePutRequest],
      [type('etcdserverpb.RangeRequest'), decodeRangeRequest],
      [type('etcdserverpb.DeleteRangeRequest'), decodeDeleteRangeRequest],
      [type('etcdserverpb.CompactionRequest'), decodeCompactionRequest],
    ]),
    encoders: new Map<Type, FastEncoder>([
      [type('etcdserverpb.PutResponse'), encodePutResponse],
      [type('etcdserverpb.RangeResponse'), encodeRangeResponse],
      [type('etcdserverpb.DeleteRangeResponse'), encodeDeleteRangeResponse],
      [type('etcdserverpb.CompactionResponse'), encodeCompactionResponse],
    ]),
  };
}
