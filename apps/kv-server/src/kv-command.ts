/**
 * The payload of a KV write in the Raft log. The etcd request is kept as the exact
 * protobuf bytes the client sent — no decode/re-encode on the proposing side — behind
 * a two-field header:
 *
 *   byte 0     kind (1 Put, 2 DeleteRange, 3 Txn, 4 Compaction, 5 Publish, 6 MemberUpdate,
 *              7 LeaseGrant, 8 LeaseRevoke)
 *   varint     length of the request id (0: none), then its UTF-8 bytes
 *   rest       the etcd request message (PutRequest, DeleteRangeRequest, TxnRequest,
 *              CompactionRequest), protobuf-encoded; for Publish an etcd `Member`
 *              (a member announcing its name and client URLs, as etcd's publish does);
 *              for MemberUpdate an etcd `Member` with the id and the new peer URLs; for
 *              LeaseGrant a LeaseGrantRequest with the id and TTL the proposer chose (a
 *              non-zero id, the TTL raised to the minimum), for LeaseRevoke a
 *              LeaseRevokeRequest
 *
 * The request id is raftkit's exactly-once key (`raftkit-request-id` gRPC metadata):
 * a write retried with the same id is applied once and answered with the first result.
 */
export type KvCommandKind =
  | 'put'
  | 'deleteRange'
  | 'txn'
  | 'compaction'
  | 'publish'
  | 'memberUpdate'
  | 'leaseGrant'
  | 'leaseRevoke';

const KIND_CODES: Record<KvCommandKind, number> = {
  put: 1,
  deleteRange: 2,
  txn: 3,
  compaction: 4,
  publish: 5,
  memberUpdate: 6,
  leaseGrant: 7,
  leaseRevoke: 8,
};
const KIND_NAMES: Record<number, KvCommandKind> = Object.fromEntries(
  Object.entries(KIND_CODES).map(([name, code]) => [code, name as KvCommandKind]),
);

/** MAX_REQUEST_ID_BYTES bounds the request id a client may send. */
export const MAX_REQUEST_ID_BYTES = 128;

/** KvCommand is a decoded log payload; `request` is a view into the entry's bytes. */
export interface KvCommand {
  readonly kind: KvCommandKind;
  readonly requestId: string | undefined;
  readonly request: Uint8Array;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const NO_ID = new Uint8Array(0);

/**
 * encodeKvCommand builds the log payload for a write. The payload is meant to be handed
 * to `RaftNode.propose`, which copies it into the entry it appends, so it is a Buffer
 * from Node's pool (cheap to allocate, short-lived) rather than a buffer of its own.
 */
export function encodeKvCommand(
  kind: KvCommandKind,
  requestId: string | undefined,
  request: Uint8Array,
): Uint8Array {
  const id = requestId === undefined ? NO_ID : encoder.encode(requestId);
  if (id.length > MAX_REQUEST_ID_BYTES)
    throw new RangeError(`request id longer than ${MAX_REQUEST_ID_BYTES} bytes`);
  const header = id.length < 0x80 ? 2 : 3;
  // Every byte is written below, so the buffer needs no zeroing.
  const out = Buffer.allocUnsafe(header + id.length + request.length);
  out[0] = KIND_CODES[kind];
  if (id.length < 0x80) {
    out[1] = id.length;
  } else {
    out[1] = (id.length & 0x7f) | 0x80;
    out[2] = id.length >> 7;
  }
  out.set(id, header);
  out.set(request, header + id.length);
  return out;
}

/** decodeKvCommand parses a log payload; undefined when it is not a KV command. */
export function decodeKvCommand(data: Uint8Array): KvCommand | undefined {
  const kind = KIND_NAMES[data[0] ?? 0];
  if (kind === undefined || data.length < 2) return undefined;
  let length = data[1]!;
  let offset = 2;
  if (length & 0x80) {
    if (data.length < 3) return undefined;
    length = (length & 0x7f) | (data[2]! << 7);
    offset = 3;
  }
  if (length > MAX_REQUEST_ID_BYTES || offset + length > data.length) return undefined;
  const requestId =
    length === 0 ? undefined : decoder.decode(data.subarray(offset, offset + length));
  return { kind, requestId, request: data.subarray(offset + length) };
}
