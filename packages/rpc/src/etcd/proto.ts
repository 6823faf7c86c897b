import { fileURLToPath } from 'node:url';
import type { IConversionOptions, Root, Type } from 'protobufjs';
import protobuf from 'protobufjs';
import { type FastDecoder, type FastEncoder, fastCodecsFor } from './fast-codec.js';

/**
 * ETCD_PROTO_URL locates the shipped `proto/etcd/rpc.proto` (package `etcdserverpb`,
 * which imports `kv.proto`, package `mvccpb`). It is resolved relative to this module:
 * `src/etcd/` under vitest and `dist/etcd/` after a build are both two levels below the
 * package root, so the same relative path works from either.
 */
export const ETCD_PROTO_URL: URL = new URL('../../proto/etcd/rpc.proto', import.meta.url);

/** ETCD_RPC_PACKAGE is the protobuf package of the etcd v3 client API. */
export const ETCD_RPC_PACKAGE = 'etcdserverpb';

/** ETCD_MVCC_PACKAGE is the protobuf package of etcd's key-value record types. */
export const ETCD_MVCC_PACKAGE = 'mvccpb';

/**
 * ETCD_DECODE_OPTIONS are the protobufjs `toObject` options every decoded etcd message
 * goes through. 64-bit integers (revisions, ids, terms, indexes, sizes) become `bigint`
 * so that no value loses precision — member and cluster ids are random uint64s and
 * routinely exceed 2^53. Bytes stay `Buffer`s (views onto the received buffer), enums
 * stay numbers, scalar defaults and empty repeated fields are filled in (proto3 does
 * not send them), unset sub-messages are `null`, and each oneof gets a virtual
 * property naming its set member (e.g. `RequestOp.request === 'requestPut'`).
 */
export const ETCD_DECODE_OPTIONS: IConversionOptions = {
  longs: BigInt,
  defaults: true,
  arrays: true,
  oneofs: true,
};

let cached: Root | undefined;
let fastDecoders = new Map<Type, FastDecoder>();
let fastEncoders = new Map<Type, FastEncoder>();

/**
 * loadEtcdProto parses the etcd protos with protobufjs reflection (once, then cached)
 * and returns their Root. Field names are camelCased as protobufjs does by default
 * (`range_end` → `rangeEnd`; `peerURLs`, `ID`, `TTL` stay as they are).
 */
export function loadEtcdProto(): Root {
  if (cached === undefined) {
    const root = protobuf.loadSync(fileURLToPath(ETCD_PROTO_URL));
    root.resolveAll();
    ({ decoders: fastDecoders, encoders: fastEncoders } = fastCodecsFor(root));
    cached = root;
  }
  return cached;
}

/**
 * etcdType looks up one message type by name, e.g. `etcdType('PutRequest')` or
 * `etcdType('mvccpb.KeyValue')`; an unqualified name is taken from `etcdserverpb`.
 */
export function etcdType(name: string): Type {
  const fullName = name.includes('.') ? name : `${ETCD_RPC_PACKAGE}.${name}`;
  return loadEtcdProto().lookupType(fullName);
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
}

/**
 * encodeWith serializes a plain object with a reflected type. It goes through
 * `fromObject`, which accepts `bigint` (and number, decimal string or Long) for 64-bit
 * fields — `Type.encode` alone would silently write a bigint as 0. The KV responses
 * (Put, Range, DeleteRange, Compaction) take a hand-written path when the value is of
 * the usual shape (see fast-codec.ts); the bytes are the same.
 */
export function encodeWith(type: Type, value: object): Buffer {
  const fast = fastEncoders.get(type);
  if (fast !== undefined) {
    const encoded = fast(value);
    if (encoded !== undefined) return encoded;
  }
  return toBuffer(type.encode(type.fromObject(value as Record<string, unknown>)).finish());
}

/**
 * decodeWith parses bytes with a reflected type into a plain object per
 * ETCD_DECODE_OPTIONS. The KV requests (Put, Range, DeleteRange, Compaction) take a
 * hand-written path when the bytes are well-formed and hold only known fields (see
 * fast-codec.ts); the result is the same.
 */
export function decodeWith<T>(type: Type, bytes: Uint8Array): T {
  const fast = fastDecoders.get(type);
  if (fast !== undefined) {
    const decoded = fast(bytes);
    if (decoded !== undefined) return decoded as T;
  }
  return type.toObject(type.decode(bytes), ETCD_DECODE_OPTIONS) as T;
}

/**
 * reflectEncodeWith and reflectDecodeWith always use protobufjs reflection (the
 * reference the hand-written paths are tested against).
 */
export function reflectEncodeWith(type: Type, value: object): Buffer {
  return toBuffer(type.encode(type.fromObject(value as Record<string, unknown>)).finish());
}

/** reflectDecodeWith: see {@link reflectEncodeWith}. */
export function reflectDecodeWith<T>(type: Type, bytes: Uint8Array): T {
  return type.toObject(type.decode(bytes), ETCD_DECODE_OPTIONS) as T;
}

/** encodeEtcdMessage serializes a plain object as the named etcd message type. */
export function encodeEtcdMessage(typeName: string, value: object): Buffer {
  return encodeWith(etcdType(typeName), value);
}

/** decodeEtcdMessage parses bytes as the named etcd message type (see ETCD_DECODE_OPTIONS). */
export function decodeEtcdMessage<T = Record<string, unknown>>(
  typeName: string,
  bytes: Uint8Array,
): T {
  return decodeWith<T>(etcdType(typeName), bytes);
}
