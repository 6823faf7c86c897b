import type { NodeId } from '@raftkit/core';
import { EMPTY_DATA } from '@raftkit/core';
import type { Reader, Writer } from 'protobufjs/minimal.js';
import protobuf from 'protobufjs/minimal.js';
import { DecodeError, EncodeError } from './errors.js';

// Protobuf wire primitives shared by the message and envelope codecs: varints checked
// against JavaScript's safe-integer range, length-delimited fields as views, unknown
// fields skipped, and one reusable write buffer. Internal: not exported by the package.

const { Reader: ReaderClass, Writer: WriterClass } = protobuf;

/** MAX_CLUSTER_ID is the largest cluster id (cluster ids are uint64, like etcd's). */
export const MAX_CLUSTER_ID: bigint = (1n << 64n) - 1n;

/** VARINT is the wire type of varint fields. */
export const VARINT = 0;
/** LENGTH_DELIMITED is the wire type of bytes, strings, sub-messages and packed fields. */
export const LENGTH_DELIMITED = 2;
/** tag builds a field tag: (field number << 3) | wire type. */
export const tag = (field: number, wire: number): number => (field << 3) | wire;

/** invalidNumber builds the EncodeError for a number the wire cannot carry. */
export function invalidNumber(field: string, value: number): EncodeError {
  return new EncodeError(`${field} = ${value} is not a non-negative safe integer`);
}

/** writeVarint writes a non-negative safe integer as a varint, without a tag. */
export function writeVarint(writer: Writer, value: number): void {
  // uint32 and uint64 varints are the same bytes; uint32 avoids a LongBits allocation.
  if (value <= 0xffffffff) writer.uint32(value);
  else writer.uint64(value);
}

/** writeUint writes a uint64 field unless it is 0 (the proto3 default). */
export function writeUint(writer: Writer, fieldTag: number, value: number, field: string): void {
  if (value === 0) return; // proto3 omits defaults
  if (!(value > 0 && value <= Number.MAX_SAFE_INTEGER && Number.isInteger(value))) {
    throw invalidNumber(field, value);
  }
  writer.uint32(fieldTag);
  writeVarint(writer, value);
}

/** writeNodeId writes a required node id field; 0 is an EncodeError. */
export function writeNodeId(writer: Writer, fieldTag: number, value: NodeId, field: string): void {
  if (value === 0) throw new EncodeError(`${field} is 0; a peer message needs both ends named`);
  writeUint(writer, fieldTag, value, field);
}

/** writeBigUint writes a full 64-bit unsigned field from a bigint (cluster ids). */
export function writeBigUint(writer: Writer, fieldTag: number, value: bigint, field: string): void {
  if (value < 0n || value > MAX_CLUSTER_ID) {
    throw new EncodeError(`${field} = ${value} is not a uint64`);
  }
  if (value === 0n) return;
  writer.uint32(fieldTag);
  writer.uint64({
    low: Number(value & 0xffffffffn),
    high: Number(value >> 32n),
    unsigned: true,
  } as unknown as number);
}

/** writeBool writes a bool field when it is true. */
export function writeBool(writer: Writer, fieldTag: number, value: boolean): void {
  if (value) writer.uint32(fieldTag).uint32(1);
}

/** writeBytes writes a bytes field when it is not empty. */
export function writeBytes(writer: Writer, fieldTag: number, value: Uint8Array): void {
  if (value.byteLength > 0) writer.uint32(fieldTag).bytes(value);
}

// One writer is reused for every single-message encode: encoding is synchronous, so it
// can never be shared by two callers at once, and its grown buffer is kept.
/** sharedWriter is the reusable writer of the one-shot encoders. */
export const sharedWriter: Writer = WriterClass.create();

/** finishShared copies a writer's bytes out into an exact-size Buffer and empties it. */
export function finishShared(writer: Writer): Buffer {
  const out = Buffer.allocUnsafe(writer.pos);
  out.set(writer.buf.subarray(0, writer.pos));
  writer.pos = 0;
  return out;
}

/** readNumber reads a varint as a number, refusing values above 2^53 − 1. */
export function readNumber(reader: Reader, field: string): number {
  // A varint read straight into a double: exact up to 2^53, and anything larger is
  // still detected as larger, which is all the range check needs.
  const buf = reader.buf;
  const limit = reader.len;
  let pos = reader.pos;
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (pos >= limit) throw new DecodeError(`truncated varint in ${field}`);
    const byte = buf[pos++]!;
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) {
      reader.pos = pos;
      if (value > Number.MAX_SAFE_INTEGER) {
        throw new DecodeError(`${field} is above 2^53 - 1, the largest value raftkit accepts`);
      }
      return value;
    }
    scale *= 128;
  }
  throw new DecodeError(`varint in ${field} is longer than 10 bytes`);
}

/** readBigUint reads a varint as a 64-bit bigint (cluster ids). */
export function readBigUint(reader: Reader, field: string): bigint {
  const buf = reader.buf;
  let value = 0n;
  let shift = 0n;
  for (let i = 0; i < 10; i++) {
    if (reader.pos >= reader.len) throw new DecodeError(`truncated varint in ${field}`);
    const byte = buf[reader.pos++]!;
    value |= BigInt(byte & 0x7f) << shift;
    if (byte < 0x80) return value & MAX_CLUSTER_ID;
    shift += 7n;
  }
  throw new DecodeError(`varint in ${field} is longer than 10 bytes`);
}

/** readNodeId reads a varint that must name a node (not 0). */
export function readNodeId(reader: Reader, field: string): NodeId {
  const id = readNumber(reader, field);
  if (id === 0) throw new DecodeError(`${field} is 0, which names no node`);
  return id;
}

/** readBool reads a bool varint. */
export function readBool(reader: Reader, field: string): boolean {
  return readNumber(reader, field) !== 0;
}

/** readEnd reads a length prefix and returns where the field ends, checking it fits. */
export function readEnd(reader: Reader, field: string): number {
  const length = readNumber(reader, `${field} length`);
  const end = reader.pos + length;
  if (end > reader.len) {
    throw new DecodeError(
      `${field} claims ${length} bytes but only ${reader.len - reader.pos} remain`,
    );
  }
  return end;
}

/** readBytes reads a bytes field as a view (no copy), or the shared empty array. */
export function readBytes(reader: Reader, field: string): Uint8Array {
  const end = readEnd(reader, field);
  const start = reader.pos;
  reader.pos = end;
  if (end === start) return EMPTY_DATA;
  // A plain Uint8Array view onto the received buffer: no copy. Whoever keeps it keeps
  // the whole received buffer alive; storage copies what it persists anyway.
  const buf = reader.buf;
  return new Uint8Array(buf.buffer, buf.byteOffset + start, end - start);
}

/** expectEnd checks that a sub-message ended exactly at its declared length. */
export function expectEnd(reader: Reader, end: number, what: string): void {
  if (reader.pos !== end) throw new DecodeError(`${what} overruns its length`);
}

/** skipField skips an unknown field, and refuses a known one with the wrong wire type. */
export function skipField(
  reader: Reader,
  fieldTag: number,
  knownFields: number,
  what: string,
): void {
  const field = fieldTag >>> 3;
  if (field === 0) throw new DecodeError(`${what} has an illegal field number 0`);
  if (field <= knownFields) {
    throw new DecodeError(`${what} field ${field} has the wrong wire type ${fieldTag & 7}`);
  }
  // Unknown fields come from newer peers; skipping them keeps old readers compatible.
  reader.skipType(fieldTag & 7);
}

/** newReader wraps bytes in a protobufjs Reader. */
export function newReader(bytes: Uint8Array): Reader {
  // A plain Reader also for Buffers: readBytes builds its own views either way.
  return new ReaderClass(bytes);
}

/** decoding runs a decoder and turns every failure into a DecodeError. */
export function decoding<T>(what: string, decode: () => T): T {
  try {
    return decode();
  } catch (error) {
    if (error instanceof DecodeError) throw error;
    // protobufjs throws plain Errors for truncated input and illegal wire types.
    throw new DecodeError(`${what}: ${error instanceof Error ? error.message : String(error)}`);
  }
}
