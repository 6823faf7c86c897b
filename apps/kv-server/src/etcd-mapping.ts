import type * as pb from '@raftkit/rpc/etcd';
import type * as mvcc from './mvcc/index.js';

// Conversions between the wire shapes (protobufjs objects: int64 as bigint, defaults
// filled) and the MVCC store's shapes (revisions as safe-integer numbers, leases as
// bigint). Revisions never approach 2^53 in practice; a client sending a larger one
// gets it clamped, which the store then answers as a future revision.

const EMPTY = new Uint8Array(0);

function toNumber(value: bigint | number | undefined): number {
  if (value === undefined) return 0;
  if (typeof value === 'number') return value;
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) return Number.MAX_SAFE_INTEGER;
  if (value < BigInt(Number.MIN_SAFE_INTEGER)) return Number.MIN_SAFE_INTEGER;
  return Number(value);
}

function optionalBytes(value: Uint8Array | undefined): Uint8Array | undefined {
  return value === undefined || value.length === 0 ? undefined : value;
}

/** toMvccRange maps a wire RangeRequest to the store's. */
export function toMvccRange(request: pb.RangeRequest): mvcc.RangeRequest {
  const rangeEnd = optionalBytes(request.rangeEnd);
  return {
    key: request.key ?? EMPTY,
    ...(rangeEnd !== undefined ? { rangeEnd } : {}),
    limit: toNumber(request.limit),
    revision: toNumber(request.revision),
    sortOrder: (request.sortOrder ?? 0) as mvcc.SortOrder,
    sortTarget: (request.sortTarget ?? 0) as mvcc.SortTarget,
    serializable: request.serializable ?? false,
    keysOnly: request.keysOnly ?? false,
    countOnly: request.countOnly ?? false,
    minModRevision: toNumber(request.minModRevision),
    maxModRevision: toNumber(request.maxModRevision),
    minCreateRevision: toNumber(request.minCreateRevision),
    maxCreateRevision: toNumber(request.maxCreateRevision),
  };
}

/**
 * toMvccPut maps a wire PutRequest to the store's. Its bytes are views onto a decoded
 * message — a received request or a committed log entry — that nothing writes to
 * again, so the store may keep them without a copy (`owned`).
 */
export function toMvccPut(request: pb.PutRequest): mvcc.PutRequest {
  return {
    key: request.key ?? EMPTY,
    value: request.value ?? EMPTY,
    lease: request.lease ?? 0n,
    prevKv: request.prevKv ?? false,
    ignoreValue: request.ignoreValue ?? false,
    ignoreLease: request.ignoreLease ?? false,
    owned: true,
  };
}

/** toMvccDelete maps a wire DeleteRangeRequest to the store's. */
export function toMvccDelete(request: pb.DeleteRangeRequest): mvcc.DeleteRangeRequest {
  const rangeEnd = optionalBytes(request.rangeEnd);
  return {
    key: request.key ?? EMPTY,
    ...(rangeEnd !== undefined ? { rangeEnd } : {}),
    prevKv: request.prevKv ?? false,
  };
}

function toMvccCompare(compare: pb.Compare): mvcc.Compare {
  const rangeEnd = optionalBytes(compare.rangeEnd);
  const base = {
    result: (compare.result ?? 0) as mvcc.CompareResult,
    target: (compare.target ?? 0) as mvcc.CompareTarget,
    key: compare.key ?? EMPTY,
    ...(rangeEnd !== undefined ? { rangeEnd } : {}),
  };
  const operand = compare as Partial<
    Record<'version' | 'createRevision' | 'modRevision' | 'lease', bigint>
  > & {
    value?: Uint8Array;
  };
  return {
    ...base,
    ...(operand.version !== undefined && operand.version !== null
      ? { version: toNumber(operand.version) }
      : {}),
    ...(operand.createRevision !== undefined && operand.createRevision !== null
      ? { createRevision: toNumber(operand.createRevision) }
      : {}),
    ...(operand.modRevision !== undefined && operand.modRevision !== null
      ? { modRevision: toNumber(operand.modRevision) }
      : {}),
    ...(operand.value !== undefined && operand.value !== null ? { value: operand.value } : {}),
    ...(operand.lease !== undefined && operand.lease !== null ? { lease: operand.lease } : {}),
  };
}

function toMvccOp(op: pb.RequestOp): mvcc.RequestOp {
  const any = op as Partial<{
    requestRange: pb.RangeRequest | null;
    requestPut: pb.PutRequest | null;
    requestDeleteRange: pb.DeleteRangeRequest | null;
    requestTxn: pb.TxnRequest | null;
  }>;
  if (any.requestRange) return { requestRange: toMvccRange(any.requestRange) };
  if (any.requestPut) return { requestPut: toMvccPut(any.requestPut) };
  if (any.requestDeleteRange) return { requestDeleteRange: toMvccDelete(any.requestDeleteRange) };
  if (any.requestTxn) return { requestTxn: toMvccTxn(any.requestTxn) };
  // An empty RequestOp: etcd treats it as an empty range of the empty key.
  return { requestRange: { key: EMPTY } };
}

/** toMvccTxn maps a wire TxnRequest (recursively) to the store's. */
export function toMvccTxn(request: pb.TxnRequest): mvcc.TxnRequest {
  return {
    compare: (request.compare ?? []).map(toMvccCompare),
    success: (request.success ?? []).map(toMvccOp),
    failure: (request.failure ?? []).map(toMvccOp),
  };
}

/** isReadOnlyTxn reports whether a txn (and every nested txn) only reads. */
export function isReadOnlyTxn(request: mvcc.TxnRequest): boolean {
  const readOnly = (ops: readonly mvcc.RequestOp[] | undefined) =>
    (ops ?? []).every(
      (op) => 'requestRange' in op || ('requestTxn' in op && isReadOnlyTxn(op.requestTxn)),
    );
  return readOnly(request.success) && readOnly(request.failure);
}

/** fromMvccKv maps a stored key-value to the wire's. */
export function fromMvccKv(kv: mvcc.KeyValue): pb.KeyValue {
  return {
    key: kv.key,
    createRevision: BigInt(kv.createRevision),
    modRevision: BigInt(kv.modRevision),
    version: BigInt(kv.version),
    value: kv.value,
    lease: kv.lease,
  };
}

/** HeaderSource fills the response header (cluster id, member id, raft term). */
export type HeaderSource = (revision: number) => pb.ResponseHeader;

/** fromMvccRange builds the wire RangeResponse. */
export function fromMvccRange(
  response: mvcc.RangeResponse,
  header: HeaderSource | null,
): pb.RangeResponse {
  return {
    header: header === null ? null : header(response.revision),
    kvs: response.kvs.map(fromMvccKv),
    more: response.more,
    count: BigInt(response.count),
  };
}

/** fromMvccPut builds the wire PutResponse. */
export function fromMvccPut(
  response: mvcc.PutResponse,
  header: HeaderSource | null,
): pb.PutResponse {
  return {
    header: header === null ? null : header(response.revision),
    prevKv: response.prevKv === undefined ? null : fromMvccKv(response.prevKv),
  };
}

/** fromMvccDelete builds the wire DeleteRangeResponse. */
export function fromMvccDelete(
  response: mvcc.DeleteRangeResponse,
  header: HeaderSource | null,
): pb.DeleteRangeResponse {
  return {
    header: header === null ? null : header(response.revision),
    deleted: BigInt(response.deleted),
    prevKvs: response.prevKvs.map(fromMvccKv),
  };
}

function fromMvccOp(op: mvcc.ResponseOp, header: HeaderSource): pb.ResponseOp {
  // etcd fills the header of responses inside a txn with the revision only (other fields
  // zero); nested txn responses carry an empty header.
  const inner: HeaderSource = (revision) => ({
    clusterId: 0n,
    memberId: 0n,
    revision: BigInt(revision),
    raftTerm: 0n,
  });
  if ('responseRange' in op) return { responseRange: fromMvccRange(op.responseRange, inner) };
  if ('responsePut' in op) return { responsePut: fromMvccPut(op.responsePut, inner) };
  if ('responseDeleteRange' in op)
    return { responseDeleteRange: fromMvccDelete(op.responseDeleteRange, inner) };
  return { responseTxn: fromMvccTxn(op.responseTxn, header, true) };
}

/** fromMvccTxn builds the wire TxnResponse. */
export function fromMvccTxn(
  response: mvcc.TxnResponse,
  header: HeaderSource,
  nested = false,
): pb.TxnResponse {
  return {
    // etcd's newTxnResp gives a nested txn `&pb.ResponseHeader{}`: present, all zero.
    header: nested
      ? { clusterId: 0n, memberId: 0n, revision: 0n, raftTerm: 0n }
      : header(response.revision),
    succeeded: response.succeeded,
    responses: response.responses.map((op) => fromMvccOp(op, header)),
  };
}
